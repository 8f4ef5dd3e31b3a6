/* The compute kernels of the library: one interface, free of oneDNN types.
 *
 * Every oneDNN call of the library lives in lib/kernels/onednn_*.c behind
 * this header, so that a port to oneDNN v3 (or another backend) touches only
 * this folder. Plain-C loops for what oneDNN 2.6 lacks (GroupNorm, losses,
 * optimisers, ...) live in lib/kernels/cpu_*.c.
 *
 * Layout conventions (all f32, dense, row-major in the order listed):
 *  - images / feature maps are channels-last: N, H, W, C ("NHWC"). oneDNN's
 *    AVX-512 convolutions run as fast on it as on their blocked layouts
 *    (measured: tools/bench), and attention, GroupNorm and the ViT tokens
 *    all want the channel as the innermost dimension.
 *  - token sequences: N, T, C.
 *  - weights keep PyTorch's order (conv O, I, KH, KW; linear OUT, IN) so the
 *    files map one-to-one onto the reference models; kernels repack them
 *    into oneDNN's preferred layout once per weight version.
 *
 * Every function returns I2IG_OK or a failure status with the detail set
 * (I2IG_ERR_BACKEND for oneDNN errors, I2IG_ERR_OUT_OF_MEMORY).
 */
#ifndef IG_KERNELS_H
#define IG_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "i2igalip.h"

typedef struct ig_engine ig_engine;

/* ---- engine: oneDNN engine + stream, primitive cache, buffer pool ------- */

i2ig_status ig_engine_create(int threads, ig_engine **out);
void ig_engine_free(ig_engine *e);
/* Threads used by every kernel (>= 1). Results are bit-reproducible for a
 * given thread count. */
void ig_engine_set_threads(ig_engine *e, int threads);
int ig_engine_threads(const ig_engine *e);
/* Number of oneDNN primitives created so far (a second identical pass must
 * add none). */
uint64_t ig_engine_primitives_created(const ig_engine *e);
/* Fresh identifier for a tensor whose packed copies the engine may cache. */
uint64_t ig_engine_new_uid(ig_engine *e);
/* Drops cached packed copies of the weight with this uid. */
void ig_engine_forget_uid(ig_engine *e, uint64_t uid);

/* Brackets a public call: applies the engine's thread count to the calling
 * thread's OpenMP setting, and restores the caller's afterwards. */
typedef struct ig_thread_scope {
    int saved;
} ig_thread_scope;
ig_thread_scope ig_engine_enter(const ig_engine *e);
void ig_engine_leave(ig_thread_scope s);

/* Pooled, 64-byte aligned float buffers: freed buffers are kept per size
 * and handed out again, so that a second pass allocates nothing. */
float *ig_engine_alloc(ig_engine *e, size_t nfloats);
void ig_engine_release(ig_engine *e, float *p, size_t nfloats);
/* Returns every pooled buffer to the system. */
void ig_engine_trim(ig_engine *e);
/* Brackets one pass of a computation that repeats with the same shapes
 * (one slice of a translation): large buffers requested in between are
 * planned into one arena sized by the pass's live peak (buffer_plan.h). */
void ig_engine_plan_begin(ig_engine *e);
void ig_engine_plan_end(ig_engine *e);
/* Bytes currently handed out / kept in the pool. */
size_t ig_engine_bytes_in_use(const ig_engine *e);
size_t ig_engine_bytes_pooled(const ig_engine *e);

/* A weight as kernels see it: data in PyTorch order plus a cache identity:
 * (owner, uid), owner being the engine that issued the uid (a frozen encoder
 * may lend its weights to another engine's graph). uid 0 = do not cache
 * packed copies. version changes whenever data does. */
typedef struct ig_wref {
    const float *data;
    uint64_t uid;
    uint64_t version;
    const ig_engine *owner;
} ig_wref;

/* Whether the engine holds a packed copy of w at its current version. */
int ig_engine_has_packed(const ig_engine *e, ig_wref w);
/* dst (PyTorch order, w's dense shape) = w rebuilt from a packed copy at
 * its current version: lets an inference handle drop the plain copy of a
 * weight it only ever reads packed. */
i2ig_status ig_engine_unpack(ig_engine *e, ig_wref w, float *dst);

/* ---- convolution (2-D; 1-D is H = 1) ------------------------------------- */

typedef struct ig_conv_shape {
    int n, h, w, ci, co;
    int kh, kw, sh, sw, ph, pw;
} ig_conv_shape;

static inline int ig_conv_out_h(const ig_conv_shape *s) { return (s->h + 2 * s->ph - s->kh) / s->sh + 1; }
static inline int ig_conv_out_w(const ig_conv_shape *s) { return (s->w + 2 * s->pw - s->kw) / s->sw + 1; }

/* y[N,OH,OW,Co] = conv(x[N,H,W,Ci], w[Co,Ci,KH,KW]) + b[Co] (b may be NULL) */
i2ig_status ig_k_conv_fwd(ig_engine *e, const ig_conv_shape *s, const float *x,
                          ig_wref w, const float *b, float *y);
/* y += conv(x, w) + b: the sum post-op lets a residual connection land in
 * the convolution's own write instead of a separate pass. */
i2ig_status ig_k_conv_fwd_acc(ig_engine *e, const ig_conv_shape *s, const float *x,
                              ig_wref w, const float *b, float *y);
/* dx = conv_transpose(dy, w) */
i2ig_status ig_k_conv_bwd_data(ig_engine *e, const ig_conv_shape *s, const float *dy,
                               ig_wref w, float *dx);
/* dw[Co,Ci,KH,KW] (+)= ..., db[Co] (+)= sum(dy) (db may be NULL).
 * accumulate = 0 overwrites, 1 adds to what dw/db hold. */
i2ig_status ig_k_conv_bwd_weights(ig_engine *e, const ig_conv_shape *s, const float *x,
                                  const float *dy, float *dw, float *db, int accumulate);

/* Weight gradients in the layout the backward-weights primitive writes
 * (oneDNN's blocked, padded layout; not PyTorch order). Un-blocking into
 * PyTorch order took a third of an 8x8 convolution's weight-gradient pass,
 * so training sums every use's gradient in this layout and un-blocks it once
 * per weight and backward pass (lib/nn/graph.c). */
/* Floats such a gradient takes (padding included). */
i2ig_status ig_k_conv_wgrad_size(ig_engine *e, const ig_conv_shape *s, int has_bias,
                                 size_t *nfloats);
/* *same = 1 when convolutions a and b write weight gradients in one layout
 * (one can be summed onto the other). */
i2ig_status ig_k_conv_wgrad_same_layout(ig_engine *e, const ig_conv_shape *a, int bias_a,
                                        const ig_conv_shape *b, int bias_b, int *same);
/* dw_blocked (+)= dL/dw in that layout (acc_w), db (+)= sum(dy) (acc_b;
 * db may be NULL). */
i2ig_status ig_k_conv_bwd_weights_blocked(ig_engine *e, const ig_conv_shape *s, const float *x,
                                          const float *dy, float *dw_blocked, int acc_w,
                                          float *db, int acc_b);
/* dw[Co,Ci,KH,KW] (+)= dw_blocked in PyTorch order. */
i2ig_status ig_k_conv_wgrad_unblock(ig_engine *e, const ig_conv_shape *s, int has_bias,
                                    const float *dw_blocked, float *dw, int accumulate);

/* ---- matrix products ----------------------------------------------------- */

/* C[b] = alpha * op(A[b]) op(B[b]) (+ bias) (+ C[b] if accumulate), for b over
 * up to two batch dimensions. op(A) is M x K: A is stored M x K with row
 * stride lda, or K x M (trans_a) with row stride lda; same for B (K x N, or
 * N x K when trans_b). Batch strides of 0 broadcast an operand. bias has N
 * entries, broadcast over rows. All strides in elements. */
typedef struct ig_mm_shape {
    int64_t batch[2];        /* set unused dimensions to 1 */
    int64_t m, n, k;
    int trans_a, trans_b;
    int64_t lda, ldb, ldc;
    int64_t sa[2], sb[2], sc[2];
    float alpha;
    int accumulate;
} ig_mm_shape;

/* Fills a shape for the plain batched case (contiguous operands). */
ig_mm_shape ig_mm_plain(int64_t batch, int64_t m, int64_t n, int64_t k, int trans_a,
                        int trans_b);
i2ig_status ig_k_matmul(ig_engine *e, const ig_mm_shape *s, const float *a, const float *b,
                        const float *bias, float *c);
/* C (+= when accumulate) = A B for one m x k row-major A and a weight B
 * stored k x n row-major, B repacked into oneDNN's layout once per weight
 * version (the engine's packed-weight cache, as for convolutions): a linear
 * layer's input gradient dX = dY W. With W plain, oneDNN 2.6's matmul ran
 * 197x768 . 768x3072 at 105 GFLOP/s; packed, at 250. */
i2ig_status ig_k_matmul_packed_b(ig_engine *e, int64_t m, int64_t n, int64_t k, const float *a,
                                 ig_wref b, int accumulate, float *c);
/* C[m, n] (+= when accumulate) = A^T B with A stored k x m and B k x n, row
 * major: a weight gradient dW = dY^T X. On dnnl_sgemm, not the matmul
 * primitive: for these shapes oneDNN 2.6's primitive copies the transposed
 * operand first (197x768 . 197x3072: 3.9 ms against sgemm's 2.8 ms; on the
 * other weight-gradient shapes of the three networks at most 3 % faster,
 * mostly slower). */
i2ig_status ig_k_matmul_at_b(ig_engine *e, int64_t m, int64_t n, int64_t k, const float *a,
                             const float *b, int accumulate, float *c);

/* ---- element-wise activations ------------------------------------------- */

typedef enum ig_act {
    IG_ACT_GELU = 1,   /* GELU with erf, as torch.nn.GELU() */
    IG_ACT_SILU = 2,   /* x * sigmoid(x) */
    IG_ACT_LRELU = 3,  /* leaky ReLU, slope alpha for x < 0 */
    IG_ACT_SIGMOID = 4
} ig_act;

i2ig_status ig_k_act_fwd(ig_engine *e, ig_act act, float alpha, size_t n, const float *x,
                         float *y);
/* dx = dy * act'(x) (dx may alias dy) */
i2ig_status ig_k_act_bwd(ig_engine *e, ig_act act, float alpha, size_t n, const float *x,
                         const float *dy, float *dx);

/* ---- normalisation -------------------------------------------------------- */

/* LayerNorm over the last dimension (cols) of rows x cols; mean/var (rows
 * each) receive the statistics for the backward pass. */
i2ig_status ig_k_layernorm_fwd(ig_engine *e, int64_t rows, int64_t cols, float eps,
                               const float *x, const float *gamma, const float *beta,
                               float *y, float *mean, float *var);
/* dgamma/dbeta are accumulated into (+=) when not NULL. */
i2ig_status ig_k_layernorm_bwd(ig_engine *e, int64_t rows, int64_t cols, float eps,
                               const float *x, const float *dy, const float *gamma,
                               const float *beta, const float *mean, const float *var, float *dx,
                               float *dgamma, float *dbeta);

/* BatchNormLocal with one sample per virtual batch: for every sample n and
 * channel c, normalise x[n,:,c] over its T tokens (biased variance). x is
 * N x T x C. mean/var are N x C. */
i2ig_status ig_k_bnlocal_fwd(ig_engine *e, int64_t n, int64_t t, int64_t c, float eps,
                             const float *x, const float *gamma, const float *beta,
                             float *y, float *mean, float *var);
/* dgamma/dbeta accumulated (+=) when not NULL. */
i2ig_status ig_k_bnlocal_bwd(ig_engine *e, int64_t n, int64_t t, int64_t c, float eps,
                             const float *x, const float *dy, const float *gamma,
                             const float *beta, const float *mean, const float *var, float *dx,
                             float *dgamma, float *dbeta);

/* GroupNorm over channels-last x (N, HW, C), groups of C/G consecutive
 * channels; mean/rstd are N x G. Optional fused SiLU on the output
 * (silu = 1). */
i2ig_status ig_k_groupnorm_fwd(ig_engine *e, int64_t n, int64_t hw, int64_t c, int64_t groups,
                               float eps, const float *x, const float *gamma,
                               const float *beta, float *y, float *mean, float *rstd,
                               int silu);
/* GroupNorm of the channel concatenation [x1 | x2] (c1 + c2 channels,
 * N x HW x c1 and N x HW x c2) without forming it; y is N x HW x (c1 + c2).
 * Same bits as ig_k_groupnorm_fwd on the concatenation. */
i2ig_status ig_k_groupnorm_fwd_cat(ig_engine *e, int64_t n, int64_t hw, int64_t c1, int64_t c2,
                                   int64_t groups, float eps, const float *x1, const float *x2,
                                   const float *gamma, const float *beta, float *y, float *mean,
                                   float *rstd, int silu);
/* dgamma/dbeta accumulated (+=) when not NULL. With silu = 1, dy is the
 * gradient of SiLU(GroupNorm(x)) (the forward's fused output) and is
 * overwritten with the gradient of the normalised values, recomputed from
 * x, the statistics, gamma and beta; with silu = 0 dy is only read. */
i2ig_status ig_k_groupnorm_bwd(ig_engine *e, int64_t n, int64_t hw, int64_t c,
                               int64_t groups, const float *x, float *dy,
                               const float *gamma, const float *beta, const float *mean,
                               const float *rstd, int silu, float *dx, float *dgamma,
                               float *dbeta);

/* ---- softmax over the last dimension ------------------------------------ */

i2ig_status ig_k_softmax_fwd(ig_engine *e, int64_t rows, int64_t cols, const float *x,
                             float *y);
/* dx = y * (dy - sum(dy * y)) */
i2ig_status ig_k_softmax_bwd(ig_engine *e, int64_t rows, int64_t cols, const float *y,
                             const float *dy, float *dx);

/* ---- resampling (channels-last) ----------------------------------------- */

/* 2x2 average pooling, stride 2: x N,H,W,C -> N,H/2,W/2,C (H, W even). */
i2ig_status ig_k_avgpool2_fwd(ig_engine *e, int n, int h, int w, int c, const float *x,
                              float *y);
i2ig_status ig_k_avgpool2_bwd(ig_engine *e, int n, int h, int w, int c, const float *dy,
                              float *dx);
/* Nearest-neighbour x2 upsampling: x N,H,W,C -> N,2H,2W,C. */
i2ig_status ig_k_upsample2_fwd(ig_engine *e, int n, int h, int w, int c, const float *x,
                               float *y);
i2ig_status ig_k_upsample2_bwd(ig_engine *e, int n, int h, int w, int c, const float *dy,
                               float *dx);

/* ---- element-wise binary ops with broadcasting --------------------------- */

typedef enum ig_binop { IG_BIN_ADD = 1, IG_BIN_MUL = 2 } ig_binop;
/* c = a op b; a and c have dims[0..ndim), b has bdims (each 1 or equal to
 * dims: broadcast). ndim <= 6. c may alias a. */
i2ig_status ig_k_binary(ig_engine *e, ig_binop op, int ndim, const int64_t *dims,
                        const int64_t *bdims, const float *a, const float *b, float *c);
/* dst[0..n) += src[0..n) (threaded above a few hundred KB; the same bits
 * for any thread count). */
void ig_k_add_into(ig_engine *e, size_t n, float *dst, const float *src);
/* dst[0..n) = src[0..n), threaded the same way. */
void ig_k_copy(ig_engine *e, size_t n, float *dst, const float *src);
/* The two column blocks of src (rows x (ca + cb)) into a (rows x ca) and b
 * (rows x cb), each copied or added (acc_a, acc_b); a or b may be NULL. */
void ig_k_split_last(ig_engine *e, int64_t rows, int64_t ca, int64_t cb, const float *src,
                     float *a, int acc_a, float *b, int acc_b);
/* dst[ddims] (+)= sum of src[dims] over the axes where ddims is 1. */
i2ig_status ig_k_reduce_sum(ig_engine *e, int ndim, const int64_t *dims, const int64_t *ddims,
                            const float *src, float *dst, int accumulate);

/* ---- layout -------------------------------------------------------------- */

/* out[r, 0:ca+cb] = [a[r, 0:ca], b[r, 0:cb]] */
i2ig_status ig_k_concat_last(ig_engine *e, int64_t rows, int64_t ca, int64_t cb,
                             const float *a, const float *b, float *out);
/* Generic strided copy: dst (dense, dims) = src viewed with strides sstrides. */
i2ig_status ig_k_copy_strided(ig_engine *e, int ndim, const int64_t *dims,
                              const int64_t *sstrides, const float *src, float *dst);

/* ---- the machine's matrix-multiply roof --------------------------------- */

/* C = A B with dnnl_sgemm, M=N=K=n; for benchmarks. */
i2ig_status ig_k_sgemm(ig_engine *e, int64_t n, const float *a, const float *b, float *c);

#endif
