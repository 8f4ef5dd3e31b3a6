/* Plumbing shared by the operations. */
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"

float *ig_gradw_begin(ig_graph *g, ig_tensor *t, ig_gradw *w)
{
    memset(w, 0, sizeof *w);
    if (!t || !t->requires_grad || g->status != I2IG_OK) return NULL;
    w->t = t;
    if (!t->grad) {
        t->grad = ig_t_new(g, t->ndim, t->shape);
        w->buf = t->grad ? t->grad->data : NULL;
        return w->buf;
    }
    w->temp = true;
    w->buf = ig_engine_alloc(g->e, t->numel);
    if (!w->buf) ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "gradient buffer"));
    return w->buf;
}

void ig_gradw_end(ig_graph *g, ig_gradw *w)
{
    if (!w->temp || !w->buf) return;
    if (g->status == I2IG_OK) {
        ig_k_add_into(g->e, w->t->numel, w->t->grad->data, w->buf);
    }
    ig_engine_release(g->e, w->buf, w->t->numel);
    w->buf = NULL;
}

ig_tensor *ig_op_fail(ig_graph *g, i2ig_status st, ig_tensor *drop)
{
    ig_t_release(drop);
    ig_graph_fail(g, st);
    return NULL;
}

ig_tensor *ig_shape_fail(ig_graph *g, const char *op, const ig_tensor *a, const ig_tensor *b)
{
    char sa[96], sb[96];
    ig_shape_str(sa, sizeof sa, a->ndim, a->shape);
    if (b) ig_shape_str(sb, sizeof sb, b->ndim, b->shape);
    ig_graph_fail(g, ig_fail(I2IG_ERR_SHAPE, "%s: shapes %s and %s do not fit", op, sa,
                             b ? sb : "-"));
    return NULL;
}
