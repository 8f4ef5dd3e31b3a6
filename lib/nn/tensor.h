/* Tensors and the autograd tape.
 *
 * A tensor is a dense f32 array (row-major over its shape) with a reference
 * count. Operations run eagerly on an ig_graph; when the graph records and
 * an input requires a gradient, the operation appends a node to the tape
 * with what its backward pass needs. ig_backward() walks the tape in
 * reverse and accumulates gradients into every tensor that requires one.
 * The same machinery serves the generator (weights and input), the
 * discriminator heads and the frozen ViT (input only: its weights never
 * require a gradient, so no weight gradient is ever computed or stored).
 *
 * Errors are sticky: the first failing operation records its status in the
 * graph and returns NULL; every later operation given a NULL input or a
 * failed graph returns NULL at once. Model code chains operations and
 * checks ig_graph_status() once.
 */
#ifndef IG_NN_TENSOR_H
#define IG_NN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "i2igalip.h"
#include "kernels/kernels.h"

#define IG_MAXDIM 6
#define IG_NODE_MAXIN 16
#define IG_NODE_MAXSAVED 4

typedef enum ig_storage_mode {
    IG_STORAGE_POOL = 0,   /* from the engine's pool, returned to it */
    IG_STORAGE_HEAP = 1,   /* long-lived (weights): own aligned allocation */
    IG_STORAGE_BORROW = 2  /* caller memory, never freed here */
} ig_storage_mode;

typedef struct ig_storage {
    float *data;
    size_t nfloats;
    int refs;
    ig_storage_mode mode;
    ig_engine *e;
} ig_storage;

typedef struct ig_node ig_node;

typedef struct ig_tensor {
    float *data;
    int ndim;
    int64_t shape[IG_MAXDIM];
    size_t numel;
    int refs;
    ig_storage *storage;
    struct ig_tensor *grad;
    ig_node *node;      /* the operation that made it (NULL for leaves) */
    bool requires_grad;
    uint64_t uid;       /* identity for cached packed copies (weights) */
    uint64_t version;   /* bumped when the data of a weight changes */
    bool pack_only;     /* weight of an inference handle: its plain copy may go once packed */
} ig_tensor;

typedef struct ig_graph ig_graph;
typedef void (*ig_backward_fn)(ig_graph *g, ig_node *n);

/* Operation parameters small enough to live in the node. */
typedef union ig_node_params {
    double d[12];
    int64_t l[12];
    float f[24];
    int i[24];
} ig_node_params;

struct ig_node {
    ig_backward_fn backward;
    ig_tensor *out; /* the output (a reference) */
    ig_tensor *in[IG_NODE_MAXIN];
    int nin;
    ig_tensor *saved[IG_NODE_MAXSAVED];
    int nsaved;
    ig_node_params p;
    void *extra; /* freed with the node (malloc'd) */
};

/* A leaf's convolution weight gradient still in oneDNN's blocked layout
 * (ig_grad_blocked); ig_backward adds it to the leaf's grad when its walk
 * ends. */
typedef struct ig_blocked_grad {
    struct ig_tensor *t; /* a reference */
    float *data;
    size_t nfloats;
    ig_conv_shape shape;
    int has_bias;
} ig_blocked_grad;

struct ig_graph {
    ig_engine *e;
    i2ig_status status;
    bool recording;
    ig_node **nodes;
    size_t nnodes, cap;
    ig_blocked_grad *blocked;
    size_t nblocked, blocked_cap;
};

/* ---- graph ---------------------------------------------------------------- */

void ig_graph_init(ig_graph *g, ig_engine *e, bool recording);
/* Drops the tape (and with it every saved activation). */
void ig_graph_clear(ig_graph *g);
static inline i2ig_status ig_graph_status(const ig_graph *g) { return g->status; }
/* Records st (the first failure wins); returns st. */
i2ig_status ig_graph_fail(ig_graph *g, i2ig_status st);
/* Fails the graph if any listed tensor is NULL; true when all is well. */
bool ig_graph_ok(ig_graph *g, int n, ...);

/* Reverse pass from a scalar: d(loss)/d(t) accumulated into t->grad for
 * every tensor that requires a gradient. seed scales the start gradient
 * (normally 1). The tape is cleared afterwards. */
i2ig_status ig_backward(ig_graph *g, ig_tensor *loss, float seed);
/* Same from any tensor, with its output gradient given (out->numel floats). */
i2ig_status ig_backward_from(ig_graph *g, ig_tensor *out, const float *grad_out);

/* ---- tensors ---------------------------------------------------------------- */

/* New tensor with uninitialised data from the engine's pool. */
ig_tensor *ig_t_new(ig_graph *g, int ndim, const int64_t *shape);
ig_tensor *ig_t_zeros(ig_graph *g, int ndim, const int64_t *shape);
/* A leaf owned by a model (weights): plain allocation, a fresh uid. */
ig_tensor *ig_t_param(ig_engine *e, int ndim, const int64_t *shape);
/* Wraps caller memory without copying (not freed with the tensor). */
ig_tensor *ig_t_wrap(float *data, int ndim, const int64_t *shape);
ig_tensor *ig_t_retain(ig_tensor *t);
void ig_t_release(ig_tensor *t);
/* Same data, no history, no gradient. */
ig_tensor *ig_t_detach(ig_graph *g, ig_tensor *t);
/* Reshaped view sharing the data (numel must match); keeps the history. */
ig_tensor *ig_reshape(ig_graph *g, ig_tensor *x, int ndim, const int64_t *shape);
/* A weight as kernels see it, with its packed-copy cache identity: owner is
 * the engine that issued the uid (weights lent across engines stay apart). */
static inline ig_wref ig_t_wref(const ig_tensor *w)
{
    ig_wref r = {w->data, w->uid, w->version, w->storage ? w->storage->e : NULL};
    return r;
}

/* For a pack_only weight the engine holds a packed copy of: frees the
 * plain copy (data becomes NULL; kernels repack from the packed copy). An
 * inference handle keeps each convolution weight once instead of twice. */
void ig_t_drop_plain_if_packed(ig_tensor *w);
/* Rebuilds a dropped plain copy (before anything reads the weight in
 * PyTorch order, e.g. to save it). No-op when the data is there. */
i2ig_status ig_t_restore_plain(ig_tensor *w);

/* Releases *slot and stores t there: x = ig_swap(&x, op(g, x)). */
static inline ig_tensor *ig_swap(ig_tensor **slot, ig_tensor *t)
{
    ig_t_release(*slot);
    *slot = t;
    return t;
}

/* True when nothing but t holds t's memory: a backward function may then
 * reuse it (an output gradient the reverse walk frees after the node). */
static inline bool ig_t_exclusive(const ig_tensor *t)
{
    return t->refs == 1 && t->storage && t->storage->refs == 1;
}

/* Gradient accumulation used by backward functions: t->grad += src (or a
 * copy of src when t has no gradient yet). No-op unless t requires one. */
void ig_grad_add(ig_graph *g, ig_tensor *t, const float *src);
/* t->grad += the gradient of n's output, unchanged (add, reshape). When t
 * has no gradient yet and nothing else holds the output's gradient, that
 * buffer becomes t's instead of being copied: the reverse walk would free it
 * right after n. n's output gradient may be NULL afterwards; call last. */
void ig_grad_pass(ig_graph *g, ig_node *n, ig_tensor *t);
/* Returns t->grad, creating it zero-filled, or NULL when t needs none. */
float *ig_grad_buf(ig_graph *g, ig_tensor *t);
/* t's gradient buffer for a kernel to write into, created uninitialised when
 * absent (*accumulate = 0: overwrite it; 1: add to it) rather than zeroed
 * as ig_grad_buf does; NULL when t takes no gradient or the graph failed. */
float *ig_grad_dest(ig_graph *g, ig_tensor *t, int *accumulate);
/* The blocked-layout buffer (ig_k_conv_bwd_weights_blocked) that collects
 * the weight gradient of leaf w from convolutions of shape s, created on
 * first use of that layout (*accumulate = 0) and un-blocked into w->grad
 * once, at the end of the backward walk: an 8x8 convolution's
 * weight-gradient pass spent a third of its time un-blocking when every use
 * did it. NULL when w takes no gradient or the graph failed. */
float *ig_grad_blocked(ig_graph *g, ig_tensor *w, const ig_conv_shape *s, int has_bias,
                       int *accumulate);
/* Records a node for out when recording and some input requires a grad.
 * Takes references to inputs and saved tensors. Returns the node or NULL. */
ig_node *ig_record(ig_graph *g, ig_tensor *out, ig_backward_fn fn, int nin, ig_tensor *const *in,
                   int nsaved, ig_tensor *const *saved);

/* Shape helpers. */
size_t ig_shape_numel(int ndim, const int64_t *shape);
bool ig_same_shape(const ig_tensor *a, const ig_tensor *b);
/* Same number of dimensions and the same sizes in all but the last: a and
 * b can be joined along their last dimension. */
bool ig_same_rows(const ig_tensor *a, const ig_tensor *b);
/* "2x32x3x3" into buf. */
const char *ig_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

#endif
