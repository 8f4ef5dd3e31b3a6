/* The tape: recording operations and running them backwards. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/tensor.h"

void ig_graph_init(ig_graph *g, ig_engine *e, bool recording)
{
    memset(g, 0, sizeof *g);
    g->e = e;
    g->recording = recording;
}

static void node_free(ig_node *n)
{
    if (n->out) {
        n->out->node = NULL;
        ig_t_release(n->out);
    }
    for (int i = 0; i < n->nin; i++) ig_t_release(n->in[i]);
    for (int i = 0; i < n->nsaved; i++) ig_t_release(n->saved[i]);
    free(n->extra);
    free(n);
}

/* Adds every blocked weight gradient to its leaf's grad (settle), or only
 * frees them (a failed walk). */
static void blocked_flush(ig_graph *g, bool settle)
{
    for (size_t i = 0; i < g->nblocked; i++) {
        ig_blocked_grad *b = &g->blocked[i];
        if (settle && g->status == I2IG_OK) {
            ig_tensor *t = b->t;
            int accumulate = t->grad != NULL;
            if (!t->grad) t->grad = ig_t_new(g, t->ndim, t->shape);
            if (t->grad) {
                i2ig_status st = ig_k_conv_wgrad_unblock(g->e, &b->shape, b->has_bias, b->data,
                                                         t->grad->data, accumulate);
                if (st != I2IG_OK) ig_graph_fail(g, st);
            }
        }
        ig_engine_release(g->e, b->data, b->nfloats);
        ig_t_release(b->t);
    }
    free(g->blocked);
    g->blocked = NULL;
    g->nblocked = g->blocked_cap = 0;
}

float *ig_grad_blocked(ig_graph *g, ig_tensor *w, const ig_conv_shape *s, int has_bias,
                       int *accumulate)
{
    if (!w || !w->requires_grad || g->status != I2IG_OK) return NULL;
    for (size_t i = 0; i < g->nblocked; i++) {
        ig_blocked_grad *b = &g->blocked[i];
        if (b->t != w) continue;
        int same = 0;
        i2ig_status st = ig_k_conv_wgrad_same_layout(g->e, &b->shape, b->has_bias, s, has_bias, &same);
        if (st != I2IG_OK) {
            ig_graph_fail(g, st);
            return NULL;
        }
        if (same) {
            *accumulate = 1;
            return b->data;
        }
        /* Another layout (a use of another shape): a buffer of its own,
         * un-blocked into the same grad. */
    }
    if (g->nblocked == g->blocked_cap) {
        size_t cap = g->blocked_cap ? 2 * g->blocked_cap : 64;
        ig_blocked_grad *nb = realloc(g->blocked, cap * sizeof *nb);
        if (!nb) {
            ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "autograd tape"));
            return NULL;
        }
        g->blocked = nb;
        g->blocked_cap = cap;
    }
    size_t nf = 0;
    i2ig_status st = ig_k_conv_wgrad_size(g->e, s, has_bias, &nf);
    if (st != I2IG_OK) {
        ig_graph_fail(g, st);
        return NULL;
    }
    float *data = ig_engine_alloc(g->e, nf);
    if (!data) {
        ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "convolution weight gradient"));
        return NULL;
    }
    ig_blocked_grad *b = &g->blocked[g->nblocked++];
    b->t = ig_t_retain(w);
    b->data = data;
    b->nfloats = nf;
    b->shape = *s;
    b->has_bias = has_bias;
    *accumulate = 0;
    return data;
}

void ig_graph_clear(ig_graph *g)
{
    blocked_flush(g, false);
    for (size_t i = g->nnodes; i-- > 0;) node_free(g->nodes[i]);
    free(g->nodes);
    g->nodes = NULL;
    g->nnodes = g->cap = 0;
}

i2ig_status ig_graph_fail(ig_graph *g, i2ig_status st)
{
    if (g->status == I2IG_OK) g->status = st;
    return st;
}

bool ig_graph_ok(ig_graph *g, int n, ...)
{
    if (g->status != I2IG_OK) return false;
    va_list ap;
    va_start(ap, n);
    bool ok = true;
    for (int i = 0; i < n; i++)
        if (!va_arg(ap, ig_tensor *)) ok = false;
    va_end(ap);
    if (!ok) ig_graph_fail(g, ig_fail(I2IG_ERR_INTERNAL, "operation given a missing tensor"));
    return ok;
}

ig_node *ig_record(ig_graph *g, ig_tensor *out, ig_backward_fn fn, int nin, ig_tensor *const *in,
                   int nsaved, ig_tensor *const *saved)
{
    if (!g->recording || !out || g->status != I2IG_OK) return NULL;
    bool need = false;
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->requires_grad) need = true;
    if (!need) return NULL;
    if (g->nnodes == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        ig_node **nn = realloc(g->nodes, cap * sizeof *nn);
        if (!nn) {
            ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "autograd tape"));
            return NULL;
        }
        g->nodes = nn;
        g->cap = cap;
    }
    ig_node *n = calloc(1, sizeof *n);
    if (!n) {
        ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "autograd tape"));
        return NULL;
    }
    n->backward = fn;
    /* The node keeps its output alive: the output's gradient must survive
     * until the reverse walk reaches this node, even after every consumer
     * (which held it as an input) has run and been freed. */
    n->out = ig_t_retain(out);
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = ig_t_retain(in[i]);
    n->nsaved = nsaved;
    for (int i = 0; i < nsaved; i++) n->saved[i] = ig_t_retain(saved[i]);
    out->node = n;
    out->requires_grad = true;
    g->nodes[g->nnodes++] = n;
    return n;
}

float *ig_grad_buf(ig_graph *g, ig_tensor *t)
{
    if (!t || !t->requires_grad || g->status != I2IG_OK) return NULL;
    if (!t->grad) {
        t->grad = ig_t_zeros(g, t->ndim, t->shape);
        if (!t->grad) return NULL;
    }
    return t->grad->data;
}

float *ig_grad_dest(ig_graph *g, ig_tensor *t, int *accumulate)
{
    if (!t || !t->requires_grad || g->status != I2IG_OK) return NULL;
    *accumulate = t->grad != NULL;
    if (!t->grad && !(t->grad = ig_t_new(g, t->ndim, t->shape))) return NULL;
    return t->grad->data;
}

void ig_grad_add(ig_graph *g, ig_tensor *t, const float *src)
{
    if (!t || !t->requires_grad || g->status != I2IG_OK) return;
    if (!t->grad) {
        t->grad = ig_t_new(g, t->ndim, t->shape);
        if (t->grad) ig_k_copy(g->e, t->numel, t->grad->data, src);
        return;
    }
    ig_k_add_into(g->e, t->numel, t->grad->data, src);
}

void ig_grad_pass(ig_graph *g, ig_node *n, ig_tensor *t)
{
    ig_tensor *dy = n->out->grad;
    if (!t || !t->requires_grad || g->status != I2IG_OK) return;
    if (!t->grad && ig_t_exclusive(dy) && dy->numel == t->numel) {
        dy->ndim = t->ndim;
        memcpy(dy->shape, t->shape, sizeof dy->shape);
        t->grad = dy;
        n->out->grad = NULL;
        return;
    }
    ig_grad_add(g, t, dy->data);
}

i2ig_status ig_backward(ig_graph *g, ig_tensor *loss, float seed)
{
    if (g->status != I2IG_OK) return g->status;
    if (!loss || loss->numel != 1)
        return ig_graph_fail(g, ig_fail(I2IG_ERR_INTERNAL, "backward from a non-scalar"));
    return ig_backward_from(g, loss, &seed);
}

i2ig_status ig_backward_from(ig_graph *g, ig_tensor *out, const float *grad_out)
{
    if (g->status != I2IG_OK) return g->status;
    if (!out) return ig_graph_fail(g, ig_fail(I2IG_ERR_INTERNAL, "backward from nothing"));
    if (!out->requires_grad) {
        ig_graph_clear(g);
        return I2IG_OK;
    }
    ig_grad_add(g, out, grad_out);
    if (g->status != I2IG_OK) return g->status;
    /* Every consumer of a node's output was recorded after it, so when the
     * walk reaches a node its output gradient is complete; a node whose
     * output got no gradient never will, and is dropped unrun. */
    for (size_t i = g->nnodes; i-- > 0;) {
        ig_node *n = g->nodes[i];
        if (g->status == I2IG_OK && n->out && n->out->grad) {
            n->backward(g, n);
            ig_t_release(n->out->grad);
            n->out->grad = NULL;
        }
        node_free(n);
    }
    free(g->nodes);
    g->nodes = NULL;
    g->nnodes = g->cap = 0;
    blocked_flush(g, true);
    return g->status;
}
