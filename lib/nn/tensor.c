/* Tensor lifetime: reference counts on tensors and on the storage that
 * views share. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "nn/tensor.h"

size_t ig_shape_numel(int ndim, const int64_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || !ig_mul_size(n, (size_t)shape[i], &n)) return 0;
    }
    return n;
}

bool ig_same_shape(const ig_tensor *a, const ig_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

bool ig_same_rows(const ig_tensor *a, const ig_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim - 1; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *ig_shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? "x%lld" : "%lld", (long long)shape[i]);
    return buf;
}

static ig_tensor *tensor_alloc(int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > IG_MAXDIM) return NULL;
    ig_tensor *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = ig_shape_numel(ndim, shape);
    t->refs = 1;
    return t;
}

static ig_tensor *tensor_with_storage(ig_engine *e, int ndim, const int64_t *shape,
                                      ig_storage_mode mode, float *borrowed)
{
    ig_tensor *t = tensor_alloc(ndim, shape);
    if (!t) return NULL;
    ig_storage *s = calloc(1, sizeof *s);
    if (!s) {
        free(t);
        return NULL;
    }
    s->refs = 1;
    s->mode = mode;
    s->e = e;
    s->nfloats = t->numel;
    size_t bytes;
    if (mode == IG_STORAGE_BORROW) s->data = borrowed;
    else if (mode == IG_STORAGE_POOL) s->data = ig_engine_alloc(e, t->numel);
    else if (ig_mul_size(t->numel ? t->numel : 1, sizeof(float), &bytes)) s->data = ig_alloc_aligned(bytes);
    if (!s->data) {
        free(s);
        free(t);
        return NULL;
    }
    t->storage = s;
    t->data = s->data;
    return t;
}

static void storage_release(ig_storage *s)
{
    if (!s || --s->refs > 0) return;
    if (s->mode == IG_STORAGE_POOL) ig_engine_release(s->e, s->data, s->nfloats);
    else if (s->mode == IG_STORAGE_HEAP) ig_free_aligned(s->data);
    free(s);
}

ig_tensor *ig_t_new(ig_graph *g, int ndim, const int64_t *shape)
{
    if (g->status != I2IG_OK) return NULL;
    if (ndim < 0 || ndim > IG_MAXDIM || (ndim > 0 && ig_shape_numel(ndim, shape) == 0)) {
        char b[96];
        ig_graph_fail(g, ig_fail(I2IG_ERR_DIMENSIONS, "tensor of shape %s",
                                 ig_shape_str(b, sizeof b, ndim, shape)));
        return NULL;
    }
    ig_tensor *t = tensor_with_storage(g->e, ndim, shape, IG_STORAGE_POOL, NULL);
    if (!t) {
        char b[96];
        ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "tensor of shape %s",
                                 ig_shape_str(b, sizeof b, ndim, shape)));
    }
    return t;
}

ig_tensor *ig_t_zeros(ig_graph *g, int ndim, const int64_t *shape)
{
    ig_tensor *t = ig_t_new(g, ndim, shape);
    if (t) memset(t->data, 0, t->numel * sizeof(float));
    return t;
}

ig_tensor *ig_t_param(ig_engine *e, int ndim, const int64_t *shape)
{
    if (ndim < 1 || ndim > IG_MAXDIM || ig_shape_numel(ndim, shape) == 0) return NULL;
    ig_tensor *t = tensor_with_storage(e, ndim, shape, IG_STORAGE_HEAP, NULL);
    if (t) {
        memset(t->data, 0, t->numel * sizeof(float));
        t->uid = ig_engine_new_uid(e);
        t->version = 1;
    }
    return t;
}

void ig_t_drop_plain_if_packed(ig_tensor *w)
{
    /* A view shares the storage and has copied its data pointer: only a
     * weight nothing else refers to may lose its plain copy. */
    if (!w || !w->pack_only || !w->data || !w->storage || w->storage->refs != 1 ||
        w->storage->mode != IG_STORAGE_HEAP || w->data != w->storage->data ||
        !ig_engine_has_packed(w->storage->e, ig_t_wref(w)))
        return;
    ig_free_aligned(w->storage->data);
    w->storage->data = NULL;
    w->data = NULL;
}

i2ig_status ig_t_restore_plain(ig_tensor *w)
{
    if (!w || w->data || !w->storage || w->storage->mode != IG_STORAGE_HEAP) return I2IG_OK;
    size_t bytes;
    float *d = ig_mul_size(w->numel, sizeof(float), &bytes) ? ig_alloc_aligned(bytes) : NULL;
    if (!d) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "restoring a weight of %zu values", w->numel);
    i2ig_status st = ig_engine_unpack(w->storage->e, ig_t_wref(w), d);
    if (st != I2IG_OK) {
        ig_free_aligned(d);
        return st;
    }
    w->storage->data = d;
    w->data = d;
    return I2IG_OK;
}

ig_tensor *ig_t_wrap(float *data, int ndim, const int64_t *shape)
{
    return tensor_with_storage(NULL, ndim, shape, IG_STORAGE_BORROW, data);
}

ig_tensor *ig_t_retain(ig_tensor *t)
{
    if (t) t->refs++;
    return t;
}

void ig_t_release(ig_tensor *t)
{
    if (!t || --t->refs > 0) return;
    if (t->uid && t->storage && t->storage->e && t->storage->refs == 1 &&
        t->storage->mode == IG_STORAGE_HEAP)
        ig_engine_forget_uid(t->storage->e, t->uid);
    ig_t_release(t->grad);
    storage_release(t->storage);
    free(t);
}

static ig_tensor *view_of(ig_graph *g, ig_tensor *x, int ndim, const int64_t *shape)
{
    ig_tensor *t = tensor_alloc(ndim, shape);
    if (!t) {
        ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "tensor view"));
        return NULL;
    }
    t->storage = x->storage;
    t->storage->refs++;
    t->data = x->data;
    /* A view of a weight may use the weight's packed copies (they are keyed
     * by layout too, so a different shape gets its own). */
    t->uid = x->uid;
    t->version = x->version;
    return t;
}

ig_tensor *ig_t_detach(ig_graph *g, ig_tensor *x)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    return view_of(g, x, x->ndim, x->shape);
}

static void reshape_backward(ig_graph *g, ig_node *n)
{
    ig_grad_pass(g, n, n->in[0]);
}

ig_tensor *ig_reshape(ig_graph *g, ig_tensor *x, int ndim, const int64_t *shape)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    if (ndim < 1 || ndim > IG_MAXDIM || ig_shape_numel(ndim, shape) != x->numel) {
        char a[96], b[96];
        ig_graph_fail(g, ig_fail(I2IG_ERR_SHAPE, "reshape %s to %s",
                                 ig_shape_str(a, sizeof a, x->ndim, x->shape),
                                 ig_shape_str(b, sizeof b, ndim, shape)));
        return NULL;
    }
    ig_tensor *t = view_of(g, x, ndim, shape);
    if (t) ig_record(g, t, reshape_backward, 1, &x, 0, NULL);
    return t;
}
