/* Differentiable operations on ig_tensor (see tensor.h for the tape and the
 * sticky-error convention: every operation returns a new reference, or NULL
 * after a failure recorded in the graph).
 *
 * Layouts: feature maps N,H,W,C (channels-last); token sequences N,T,C;
 * weights in PyTorch order. Each operation matches the PyTorch function
 * named beside it, forward and backward (tests/python/test_ops.py).
 */
#ifndef IG_NN_OPS_H
#define IG_NN_OPS_H

#include "nn/tensor.h"

/* ---- layers -------------------------------------------------------------- */

/* F.conv2d; x N,H,W,Ci; w Co,Ci,KH,KW; b Co or NULL. */
ig_tensor *ig_conv2d(ig_graph *g, ig_tensor *x, ig_tensor *w, ig_tensor *b, int stride, int pad);
/* res + conv2d(x, w, b): takes over the caller's reference to res. Without
 * a tape and with res held by nobody else, the convolution accumulates into
 * res's buffer (no separate add pass); otherwise conv2d then add. */
ig_tensor *ig_conv2d_residual(ig_graph *g, ig_tensor *x, ig_tensor *w, ig_tensor *b, int stride,
                              int pad, ig_tensor *res);
/* True when an operation on these tensors would record a node. */
bool ig_needs_tape(const ig_graph *g, int n, ig_tensor *const *ts);
/* nn.Conv1d(padding=K/2, padding_mode='circular') on x N,T,Ci; w Co,Ci,K (odd K). */
ig_tensor *ig_conv1d_circular(ig_graph *g, ig_tensor *x, ig_tensor *w, ig_tensor *b);
/* F.linear; x ...,K; w N,K; b N or NULL. */
ig_tensor *ig_linear(ig_graph *g, ig_tensor *x, ig_tensor *w, ig_tensor *b);
/* ig_linear of the channel concatenation [a | b] (equal leading
 * dimensions) without forming it, for inference (fails if a gradient would
 * be taped): a wa^T + b wb^T + bias, wa and wb being the column blocks of
 * the layer's weight as dense matrices (oneDNN's products on a strided
 * weight cost ~6 MB more resident memory in the paper generator). */
ig_tensor *ig_linear_cat(ig_graph *g, ig_tensor *a, ig_tensor *b, ig_tensor *wa, ig_tensor *wb,
                         ig_tensor *bias);
/* Batched product of the last two dimensions: a ...,M,K times b ...,K,N
 * (b ...,N,K when trans_b), times alpha. Equal leading dimensions. */
ig_tensor *ig_bmm(ig_graph *g, ig_tensor *a, ig_tensor *b, int trans_b, float alpha);
/* nn.Embedding: rows ids[0..n) of table V,D -> n,D. */
ig_tensor *ig_embedding(ig_graph *g, ig_tensor *table, const int *ids, int n);

/* F.layer_norm over the last dimension. */
ig_tensor *ig_layernorm(ig_graph *g, ig_tensor *x, ig_tensor *gamma, ig_tensor *beta, float eps);
/* F.group_norm on channels-last x N,...,C (then SiLU when silu). */
ig_tensor *ig_groupnorm(ig_graph *g, ig_tensor *x, ig_tensor *gamma, ig_tensor *beta, int groups,
                        float eps, int silu);
/* ig_groupnorm of the channel concatenation [a | b] without forming it
 * when no gradient is taped (same bits). */
ig_tensor *ig_groupnorm_cat(ig_graph *g, ig_tensor *a, ig_tensor *b, ig_tensor *gamma,
                            ig_tensor *beta, int groups, float eps, int silu);
/* StyleGAN-T BatchNormLocal with one sample per virtual batch: x N,T,C
 * normalised per sample and channel over T. */
ig_tensor *ig_bnlocal(ig_graph *g, ig_tensor *x, ig_tensor *gamma, ig_tensor *beta, float eps);

/* GELU (erf), SiLU, LeakyReLU(alpha), sigmoid. */
ig_tensor *ig_activation(ig_graph *g, ig_tensor *x, ig_act act, float alpha);
/* GEGLU: x ...,2D -> x[..., :D] * gelu(x[..., D:]). */
ig_tensor *ig_geglu(ig_graph *g, ig_tensor *x);
/* Softmax over the last dimension. */
ig_tensor *ig_softmax(ig_graph *g, ig_tensor *x);
/* Multi-head attention core: softmax(q k^T * scale) v per head; q N,T,H*d;
 * k, v N,S,H*d; heads split the last dimension (head-major, as
 * rearrange('b n (h d) -> b h n d')). Result N,T,H*d.
 * key_bias (N x S floats, may be NULL) is added to every score row before
 * the softmax: BERT's padding mask (0 = keep, a large negative = drop). */
ig_tensor *ig_attention(ig_graph *g, ig_tensor *q, ig_tensor *k, ig_tensor *v, int heads,
                        float scale, const float *key_bias);

/* ---- resampling (x N,H,W,C) ------------------------------------------------ */

ig_tensor *ig_avgpool2(ig_graph *g, ig_tensor *x);  /* F.avg_pool2d(x, 2) */
ig_tensor *ig_upsample2(ig_graph *g, ig_tensor *x); /* F.interpolate(x, 2, 'nearest') */

typedef enum ig_resize_mode {
    /* F.interpolate(mode='bicubic', align_corners=False): a = -0.75 */
    IG_RESIZE_BICUBIC = 1,
    /* same with antialias=True (PIL-style, a = -0.5, support scaled when
     * shrinking): what torchvision's Resize does to tensors by default */
    IG_RESIZE_BICUBIC_AA = 2
} ig_resize_mode;
ig_tensor *ig_resize(ig_graph *g, ig_tensor *x, int oh, int ow, ig_resize_mode mode);
/* The oh x h interpolation matrix behind ig_resize (for tests). */
i2ig_status ig_resize_matrix(int in, int out, ig_resize_mode mode, float *m);

/* ---- shape ------------------------------------------------------------------ */

/* torch.cat([a, b], dim=-1) */
ig_tensor *ig_concat_last(ig_graph *g, ig_tensor *a, ig_tensor *b);
/* x[..., start:start+len] */
ig_tensor *ig_slice_last(ig_graph *g, ig_tensor *x, int64_t start, int64_t len);
/* x.permute(perm) made contiguous */
ig_tensor *ig_permute(ig_graph *g, ig_tensor *x, const int *perm);
/* A contiguous piece of x viewed without copying: numel(shape) elements
 * starting at element offset (e.g. one sample or one tap of a batch). */
ig_tensor *ig_view_range(ig_graph *g, ig_tensor *x, size_t offset, int ndim, const int64_t *shape);
/* torch.stack(xs, 0): n tensors of equal shape -> n, shape. */
ig_tensor *ig_stack(ig_graph *g, ig_tensor *const *xs, int n);
/* Circular padding of p on both sides of dimension 1 of x N,T,C. */
ig_tensor *ig_pad_circular(ig_graph *g, ig_tensor *x, int p);
/* x ...,1 -> ...,c with y[..., j] = x * scale[j] + shift[j] (grey image to
 * normalised RGB). */
ig_tensor *ig_channel_expand(ig_graph *g, ig_tensor *x, int c, const float *scale,
                             const float *shift);

/* ---- arithmetic -------------------------------------------------------------- */

/* a + b, a * b; b broadcast to a's shape (each of b's dimensions 1 or
 * a's; b may have fewer dimensions, aligned to the right). */
ig_tensor *ig_add(ig_graph *g, ig_tensor *a, ig_tensor *b);
ig_tensor *ig_mul(ig_graph *g, ig_tensor *a, ig_tensor *b);
/* alpha * a + beta * b, same shapes */
ig_tensor *ig_axpby(ig_graph *g, float alpha, ig_tensor *a, float beta, ig_tensor *b);
/* alpha * x + beta */
ig_tensor *ig_scale(ig_graph *g, ig_tensor *x, float alpha, float beta);
/* Spectral normalisation (torch.nn.utils.spectral_norm, dim 0): w / sigma
 * with sigma = u^T W v, W = w as rows x rest. When power_iters > 0 the
 * vectors u (rows) and v (rest) are first updated in place by that many
 * power iterations (no gradient flows through them), exactly as PyTorch
 * does in training mode. */
ig_tensor *ig_spectral_weight(ig_graph *g, ig_tensor *w, float *u, float *v, int power_iters,
                              float eps);
/* The two halves of it, for layers that apply 1 / sigma to their (smaller)
 * input instead of to the weight: sigma after power_iters iterations
 * (u, v updated in place; no gradient), and a view of w whose backward
 * turns the gradient G of a product with x / sigma into w's gradient,
 * G - (<G, w> / sigma) u v^T. ig_spectral_weight = view * (1 / sigma). */
double ig_spectral_sigma(ig_graph *g, const ig_tensor *w, float *u, float *v, int power_iters,
                         float eps);
ig_tensor *ig_spectral_view(ig_graph *g, ig_tensor *w, double sigma, const float *u,
                            const float *v);

/* ---- reductions and losses (results of shape 1, or R for ig_cos_rows) ---- */

ig_tensor *ig_sum(ig_graph *g, ig_tensor *x);
ig_tensor *ig_mean(ig_graph *g, ig_tensor *x);
ig_tensor *ig_l1_loss(ig_graph *g, ig_tensor *a, ig_tensor *b);  /* F.l1_loss */
ig_tensor *ig_mse_loss(ig_graph *g, ig_tensor *a, ig_tensor *b); /* F.mse_loss */
/* F.mse_loss(a, full_like(a, target)) */
ig_tensor *ig_mse_const(ig_graph *g, ig_tensor *a, float target);
/* Cosine similarity of the rows of a and b (R,D each) -> R, with
 * CosineEmbeddingLoss's guard: a.b / sqrt((|a|^2 + 1e-12)(|b|^2 + 1e-12)). */
ig_tensor *ig_cos_rows(ig_graph *g, ig_tensor *a, ig_tensor *b);

/* ---- helpers for operation implementations ----------------------------------- */

/* Where a backward function writes an input's gradient: straight into a
 * fresh gradient, or into a temporary added to an existing one by _end. */
typedef struct ig_gradw {
    ig_tensor *t;
    float *buf;
    bool temp;
} ig_gradw;
float *ig_gradw_begin(ig_graph *g, ig_tensor *t, ig_gradw *w);
void ig_gradw_end(ig_graph *g, ig_gradw *w);

/* Records a backend failure in the graph and returns NULL (for forwards). */
ig_tensor *ig_op_fail(ig_graph *g, i2ig_status st, ig_tensor *drop);
/* Shape mismatch helper: records I2IG_ERR_SHAPE naming the operation. */
ig_tensor *ig_shape_fail(ig_graph *g, const char *op, const ig_tensor *a, const ig_tensor *b);

#endif
