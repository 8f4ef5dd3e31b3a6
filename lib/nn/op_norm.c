/* Normalisations: LayerNorm, GroupNorm, BatchNormLocal. Each saves its
 * statistics for the backward pass. */
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"

static bool needs_tape(ig_graph *g, ig_tensor *a, ig_tensor *b, ig_tensor *c)
{
    return g->recording && ((a && a->requires_grad) || (b && b->requires_grad) ||
                            (c && c->requires_grad));
}

static bool vec_of(const ig_tensor *t, int64_t n) { return !t || t->numel == (size_t)n; }

/* ---- LayerNorm ---------------------------------------------------------------- */

static void layernorm_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0], *gm = n->in[1], *bt = n->in[2];
    int64_t cols = x->shape[x->ndim - 1], rows = (int64_t)(x->numel / (size_t)cols);
    ig_gradw gw;
    float *dx = ig_gradw_begin(g, x, &gw);
    float *tmp = NULL;
    if (!dx && g->status == I2IG_OK) {
        /* The kernel always produces dx; give it somewhere to go. */
        tmp = ig_engine_alloc(g->e, x->numel);
        dx = tmp;
    }
    float *dg = ig_grad_buf(g, gm), *db = ig_grad_buf(g, bt);
    if (dx && g->status == I2IG_OK) {
        i2ig_status st = ig_k_layernorm_bwd(g->e, rows, cols, n->p.f[0], x->data,
                                            n->out->grad->data, gm->data, bt->data,
                                            n->saved[0]->data, n->saved[1]->data, dx, dg, db);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_gradw_end(g, &gw);
    if (tmp) ig_engine_release(g->e, tmp, x->numel);
}

ig_tensor *ig_layernorm(ig_graph *g, ig_tensor *x, ig_tensor *gamma, ig_tensor *beta, float eps)
{
    if (!ig_graph_ok(g, 3, x, gamma, beta)) return NULL;
    int64_t cols = x->shape[x->ndim - 1], rows = (int64_t)(x->numel / (size_t)cols);
    if (!vec_of(gamma, cols) || !vec_of(beta, cols)) return ig_shape_fail(g, "layernorm", x, gamma);
    ig_tensor *y = ig_t_new(g, x->ndim, x->shape);
    int64_t sshape[1] = {rows};
    ig_tensor *mean = ig_t_new(g, 1, sshape), *var = ig_t_new(g, 1, sshape);
    i2ig_status st = g->status;
    if (st == I2IG_OK)
        st = ig_k_layernorm_fwd(g->e, rows, cols, eps, x->data, gamma->data, beta->data, y->data,
                                mean->data, var->data);
    if (st == I2IG_OK) {
        ig_tensor *in[3] = {x, gamma, beta}, *sv[2] = {mean, var};
        ig_node *nd = ig_record(g, y, layernorm_backward, 3, in, 2, sv);
        if (nd) nd->p.f[0] = eps;
    }
    ig_t_release(mean);
    ig_t_release(var);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    return y;
}

/* ---- GroupNorm ------------------------------------------------------------------ */

static void groupnorm_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0], *gm = n->in[1], *bt = n->in[2], *dy = n->out->grad;
    int64_t c = x->shape[x->ndim - 1], nb = x->shape[0];
    int64_t hw = (int64_t)(x->numel / (size_t)(c * nb));
    int silu = n->p.i[1];
    /* With SiLU fused the kernel turns dy into the gradient before the SiLU,
     * in place: in dy itself when nothing else holds it (the walk frees it
     * after this node), else in a copy. */
    float *dyz = dy->data, *dy_copy = NULL;
    if (silu && !ig_t_exclusive(dy)) {
        dyz = dy_copy = ig_engine_alloc(g->e, dy->numel);
        if (!dy_copy) {
            ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "GroupNorm backward"));
            return;
        }
        memcpy(dy_copy, dy->data, dy->numel * sizeof(float));
    }
    ig_gradw gw;
    float *dx = ig_gradw_begin(g, x, &gw);
    float *tmp = NULL;
    if (!dx && g->status == I2IG_OK) dx = tmp = ig_engine_alloc(g->e, x->numel);
    float *dg = ig_grad_buf(g, gm), *db = ig_grad_buf(g, bt);
    if (dx && g->status == I2IG_OK) {
        i2ig_status st = ig_k_groupnorm_bwd(g->e, nb, hw, c, n->p.i[0], x->data, dyz, gm->data,
                                            bt->data, n->saved[0]->data, n->saved[1]->data, silu,
                                            dx, dg, db);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_gradw_end(g, &gw);
    if (tmp) ig_engine_release(g->e, tmp, x->numel);
    if (dy_copy) ig_engine_release(g->e, dy_copy, dy->numel);
}

ig_tensor *ig_groupnorm(ig_graph *g, ig_tensor *x, ig_tensor *gamma, ig_tensor *beta, int groups,
                        float eps, int silu)
{
    if (!ig_graph_ok(g, 3, x, gamma, beta)) return NULL;
    int64_t c = x->shape[x->ndim - 1], nb = x->shape[0];
    if (x->ndim < 2 || groups < 1 || c % groups || !vec_of(gamma, c) || !vec_of(beta, c))
        return ig_shape_fail(g, "groupnorm", x, gamma);
    int64_t hw = (int64_t)(x->numel / (size_t)(c * nb));
    bool tape = needs_tape(g, x, gamma, beta);
    ig_tensor *y = ig_t_new(g, x->ndim, x->shape);
    int64_t sshape[2] = {nb, groups};
    ig_tensor *mean = ig_t_new(g, 2, sshape), *rstd = ig_t_new(g, 2, sshape);
    i2ig_status st = g->status;
    if (st == I2IG_OK)
        st = ig_k_groupnorm_fwd(g->e, nb, hw, c, groups, eps, x->data, gamma->data, beta->data,
                                y->data, mean->data, rstd->data, silu);
    if (st == I2IG_OK && tape) {
        /* With SiLU fused, the backward recomputes the normalised values
         * from x and the statistics instead of keeping them. */
        ig_tensor *in[3] = {x, gamma, beta}, *sv[2] = {mean, rstd};
        ig_node *nd = ig_record(g, y, groupnorm_backward, 3, in, 2, sv);
        if (nd) {
            nd->p.i[0] = groups;
            nd->p.i[1] = silu;
        }
    }
    ig_t_release(mean);
    ig_t_release(rstd);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    return y;
}

ig_tensor *ig_groupnorm_cat(ig_graph *g, ig_tensor *a, ig_tensor *b, ig_tensor *gamma,
                            ig_tensor *beta, int groups, float eps, int silu)
{
    if (!ig_graph_ok(g, 4, a, b, gamma, beta)) return NULL;
    ig_tensor *all[4] = {a, b, gamma, beta};
    if (ig_needs_tape(g, 4, all)) {
        ig_tensor *cat = ig_concat_last(g, a, b);
        ig_tensor *y = ig_groupnorm(g, cat, gamma, beta, groups, eps, silu);
        ig_t_release(cat);
        return y;
    }
    int64_t c1 = a->shape[a->ndim - 1], c2 = b->shape[b->ndim - 1], c = c1 + c2, nb = a->shape[0];
    if (a->ndim < 2 || !ig_same_rows(a, b) || groups < 1 || c % groups || !vec_of(gamma, c) || !vec_of(beta, c))
        return ig_shape_fail(g, "groupnorm of a concatenation", a, b);
    int64_t hw = (int64_t)(a->numel / (size_t)(c1 * nb));
    int64_t shape[IG_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = c;
    ig_tensor *y = ig_t_new(g, a->ndim, shape);
    if (!y) return NULL;
    i2ig_status st = ig_k_groupnorm_fwd_cat(g->e, nb, hw, c1, c2, groups, eps, a->data, b->data,
                                            gamma->data, beta->data, y->data, NULL, NULL, silu);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    return y;
}

/* ---- BatchNormLocal --------------------------------------------------------------- */

static void bnlocal_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0], *gm = n->in[1], *bt = n->in[2];
    ig_gradw gw;
    float *dx = ig_gradw_begin(g, x, &gw);
    float *tmp = NULL;
    if (!dx && g->status == I2IG_OK) dx = tmp = ig_engine_alloc(g->e, x->numel);
    float *dg = ig_grad_buf(g, gm), *db = ig_grad_buf(g, bt);
    if (dx && g->status == I2IG_OK) {
        i2ig_status st = ig_k_bnlocal_bwd(g->e, x->shape[0], x->shape[1], x->shape[2], n->p.f[0],
                                          x->data, n->out->grad->data, gm->data, bt->data,
                                          n->saved[0]->data, n->saved[1]->data, dx, dg, db);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_gradw_end(g, &gw);
    if (tmp) ig_engine_release(g->e, tmp, x->numel);
}

ig_tensor *ig_bnlocal(ig_graph *g, ig_tensor *x, ig_tensor *gamma, ig_tensor *beta, float eps)
{
    if (!ig_graph_ok(g, 3, x, gamma, beta)) return NULL;
    if (x->ndim != 3 || !vec_of(gamma, x->shape[2]) || !vec_of(beta, x->shape[2]))
        return ig_shape_fail(g, "bnlocal", x, gamma);
    ig_tensor *y = ig_t_new(g, 3, x->shape);
    int64_t sshape[2] = {x->shape[0], x->shape[2]};
    ig_tensor *mean = ig_t_new(g, 2, sshape), *var = ig_t_new(g, 2, sshape);
    i2ig_status st = g->status;
    if (st == I2IG_OK)
        st = ig_k_bnlocal_fwd(g->e, x->shape[0], x->shape[1], x->shape[2], eps, x->data,
                              gamma->data, beta->data, y->data, mean->data, var->data);
    if (st == I2IG_OK) {
        ig_tensor *in[3] = {x, gamma, beta}, *sv[2] = {mean, var};
        ig_node *nd = ig_record(g, y, bnlocal_backward, 3, in, 2, sv);
        if (nd) nd->p.f[0] = eps;
    }
    ig_t_release(mean);
    ig_t_release(var);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    return y;
}
