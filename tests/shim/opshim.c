/* Test-only shared library: runs one differentiable operation of lib/nn on
 * caller buffers, forward and backward, so that tests/python can compare
 * it with PyTorch. Not installed, not part of the library's ABI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "config.h"
#include "discriminator/discriminator_internal.h"
#include "generator/generator_internal.h"
#include "nn/ops.h"
#if IG_WITH_TRAINING
#include "train/optim.h"
#include "train/trainer_internal.h"
#endif

#define EXPORT __attribute__((visibility("default")))

typedef struct igt_io {
    int nin;
    float *in[6];
    int ndim[6];
    int64_t shape[6][6];
    int requires_grad[6];
    float *in_grad[6];   /* where input gradients go (NULL: not wanted) */
    float fp[8];         /* float parameters of the op */
    int ip[8];           /* integer parameters of the op */
    float *out;          /* output buffer */
    size_t out_cap;      /* its capacity in floats */
    int out_ndim;
    int64_t out_shape[6];
    const float *grad_out; /* NULL: forward only */
    float *state[2];     /* in/out state (spectral norm u, v) */
    int threads;
    uint64_t prims_first, prims_second; /* primitive creations per run */
    char err[512];
} igt_io;

EXPORT int igt_run(const char *op, igt_io *io);
EXPORT int igt_resize_matrix(int in, int out, int mode, float *m);
EXPORT int igt_disc_grad(const char *path, int threads, const float *feats, int n, int tokens,
                         const int *labels, const float *text, const float *grad_out, float *out,
                         float *grad_feats, float *grad_params, float *state_after, char *names,
                         size_t names_cap, char *err, size_t errlen);
EXPORT int igt_generator_grad(const char *path, int threads, const float *x, int n, int h, int w,
                              const int *labels, const float *ctx, int s, const float *grad_out,
                              float *out, float *grad_x, float *grad_params, char *names,
                              size_t names_cap, char *err, size_t errlen);
EXPORT void igt_adam(double lr, double b1, double b2, double eps, int64_t step, size_t n,
                     float *p, const float *g, float *m, float *v, int threads);
EXPORT void igt_ema(float decay, size_t n, float *shadow, const float *p, int threads);

/* One weight and bias used by two convolutions (inputs x[0] and x[3]; the
 * first with stride ip[0] and padding ip[1], the second ip[2], ip[3]): both
 * outputs flattened and joined, so that the weight gradient sums two uses. */
static ig_tensor *conv2d_shared(ig_graph *g, ig_tensor **x, igt_io *io)
{
    ig_tensor *y[2], *flat[2];
    for (int i = 0; i < 2; i++) {
        y[i] = ig_conv2d(g, x[i ? 3 : 0], x[1], x[2], io->ip[2 * i], io->ip[2 * i + 1]);
        int64_t shape[2] = {1, y[i] ? (int64_t)y[i]->numel : 1};
        flat[i] = ig_reshape(g, y[i], 2, shape);
        ig_t_release(y[i]);
    }
    ig_tensor *out = ig_concat_last(g, flat[0], flat[1]);
    ig_t_release(flat[0]);
    ig_t_release(flat[1]);
    return out;
}

/* conv(x[0], weight x[1], bias x[2]) + residual x[3] through
 * ig_conv2d_residual. A residual without gradient is copied into a tensor of
 * its own: the forward-only path adds the convolution into that buffer. */
static ig_tensor *conv2d_residual(ig_graph *g, ig_tensor **x, igt_io *io)
{
    ig_tensor *res = x[3]->requires_grad ? ig_t_retain(x[3]) : ig_t_new(g, x[3]->ndim, x[3]->shape);
    if (res && !x[3]->requires_grad) memcpy(res->data, x[3]->data, x[3]->numel * sizeof(float));
    return ig_conv2d_residual(g, x[0], x[1], x[2], io->ip[0], io->ip[1], res);
}

static ig_tensor *run(ig_graph *g, const char *op, ig_tensor **x, igt_io *io)
{
    if (!strcmp(op, "conv2d_residual")) return conv2d_residual(g, x, io);
    if (!strcmp(op, "conv2d_shared")) return conv2d_shared(g, x, io);
    if (!strcmp(op, "conv2d")) return ig_conv2d(g, x[0], x[1], io->nin > 2 ? x[2] : NULL, io->ip[0], io->ip[1]);
    if (!strcmp(op, "conv1d_circular")) return ig_conv1d_circular(g, x[0], x[1], io->nin > 2 ? x[2] : NULL);
    if (!strcmp(op, "linear")) return ig_linear(g, x[0], x[1], io->nin > 2 ? x[2] : NULL);
    if (!strcmp(op, "bmm")) return ig_bmm(g, x[0], x[1], io->ip[0], io->fp[0]);
    if (!strcmp(op, "embedding")) return ig_embedding(g, x[0], io->ip + 1, io->ip[0]);
    if (!strcmp(op, "layernorm")) return ig_layernorm(g, x[0], x[1], x[2], io->fp[0]);
    if (!strcmp(op, "groupnorm")) return ig_groupnorm(g, x[0], x[1], x[2], io->ip[0], io->fp[0], io->ip[1]);
    if (!strcmp(op, "bnlocal")) return ig_bnlocal(g, x[0], x[1], x[2], io->fp[0]);
    if (!strcmp(op, "act")) return ig_activation(g, x[0], (ig_act)io->ip[0], io->fp[0]);
    if (!strcmp(op, "geglu")) return ig_geglu(g, x[0]);
    if (!strcmp(op, "softmax")) return ig_softmax(g, x[0]);
    if (!strcmp(op, "attention")) return ig_attention(g, x[0], x[1], x[2], io->ip[0], io->fp[0], NULL);
    if (!strcmp(op, "attention_masked")) return ig_attention(g, x[0], x[1], x[2], io->ip[0], io->fp[0], x[3]->data);
    if (!strcmp(op, "avgpool2")) return ig_avgpool2(g, x[0]);
    if (!strcmp(op, "upsample2")) return ig_upsample2(g, x[0]);
    if (!strcmp(op, "resize")) return ig_resize(g, x[0], io->ip[0], io->ip[1], (ig_resize_mode)io->ip[2]);
    if (!strcmp(op, "concat")) return ig_concat_last(g, x[0], x[1]);
    if (!strcmp(op, "slice")) return ig_slice_last(g, x[0], io->ip[0], io->ip[1]);
    if (!strcmp(op, "permute")) return ig_permute(g, x[0], io->ip);
    if (!strcmp(op, "pad_circular")) return ig_pad_circular(g, x[0], io->ip[0]);
    if (!strcmp(op, "channel_expand")) return ig_channel_expand(g, x[0], io->ip[0], io->fp, io->fp + 4);
    if (!strcmp(op, "add")) return ig_add(g, x[0], x[1]);
    if (!strcmp(op, "mul")) return ig_mul(g, x[0], x[1]);
    if (!strcmp(op, "axpby")) return ig_axpby(g, io->fp[0], x[0], io->fp[1], x[1]);
    if (!strcmp(op, "scale")) return ig_scale(g, x[0], io->fp[0], io->fp[1]);
    if (!strcmp(op, "sum")) return ig_sum(g, x[0]);
    if (!strcmp(op, "mean")) return ig_mean(g, x[0]);
    if (!strcmp(op, "l1")) return ig_l1_loss(g, x[0], x[1]);
    if (!strcmp(op, "mse")) return ig_mse_loss(g, x[0], x[1]);
    if (!strcmp(op, "mse_const")) return ig_mse_const(g, x[0], io->fp[0]);
    if (!strcmp(op, "cos_rows")) return ig_cos_rows(g, x[0], x[1]);
    if (!strcmp(op, "spectral")) return ig_spectral_weight(g, x[0], io->state[0], io->state[1], io->ip[0], io->fp[0]);
    ig_graph_fail(g, ig_fail(I2IG_ERR_INVALID_ARGUMENT, "unknown op '%s'", op));
    return NULL;
}

static int run_once(ig_engine *e, const char *op, igt_io *io)
{
    ig_graph g;
    ig_graph_init(&g, e, io->grad_out != NULL);
    ig_tensor *x[6] = {0};
    int rc = 0;
    for (int i = 0; i < io->nin; i++) {
        x[i] = ig_t_wrap(io->in[i], io->ndim[i], io->shape[i]);
        if (!x[i]) {
            snprintf(io->err, sizeof io->err, "out of memory");
            rc = 1;
            goto done;
        }
        x[i]->requires_grad = io->requires_grad[i] != 0;
    }
    ig_tensor *y = run(&g, op, x, io);
    if (!y) {
        snprintf(io->err, sizeof io->err, "%s: %s", i2ig_status_string(g.status), i2ig_last_error());
        rc = 1;
        goto done;
    }
    io->out_ndim = y->ndim;
    memcpy(io->out_shape, y->shape, sizeof io->out_shape);
    if (y->numel > io->out_cap) {
        snprintf(io->err, sizeof io->err, "output of %zu floats exceeds buffer", y->numel);
        rc = 1;
    } else {
        memcpy(io->out, y->data, y->numel * sizeof(float));
    }
    if (rc == 0 && io->grad_out) {
        if (ig_backward_from(&g, y, io->grad_out) != I2IG_OK) {
            snprintf(io->err, sizeof io->err, "backward: %s", i2ig_last_error());
            rc = 1;
        }
        for (int i = 0; i < io->nin && rc == 0; i++)
            if (io->in_grad[i]) {
                if (x[i]->grad) memcpy(io->in_grad[i], x[i]->grad->data, x[i]->numel * sizeof(float));
                else memset(io->in_grad[i], 0, x[i]->numel * sizeof(float));
            }
    }
    ig_t_release(y);
done:
    ig_graph_clear(&g);
    for (int i = 0; i < io->nin; i++) ig_t_release(x[i]);
    return rc;
}

/* Runs the op twice on one engine (the second run must create no
 * primitive); outputs and gradients are those of the second run. */
EXPORT int igt_run(const char *op, igt_io *io)
{
    ig_engine *e;
    if (ig_engine_create(io->threads > 0 ? io->threads : 1, &e) != I2IG_OK) {
        snprintf(io->err, sizeof io->err, "%s", i2ig_last_error());
        return 1;
    }
    ig_thread_scope ts = ig_engine_enter(e);
    float *saved_state[2] = {0};
    int rc = 0;
    /* Stateful ops (spectral norm) must see the same state both times. */
    size_t ns[2] = {(size_t)io->ip[6], (size_t)io->ip[7]};
    for (int k = 0; k < 2; k++)
        if (io->state[k]) {
            saved_state[k] = malloc(ns[k] * sizeof(float));
            memcpy(saved_state[k], io->state[k], ns[k] * sizeof(float));
        }
    rc = run_once(e, op, io);
    io->prims_first = ig_engine_primitives_created(e);
    for (int k = 0; k < 2; k++)
        if (saved_state[k]) memcpy(io->state[k], saved_state[k], ns[k] * sizeof(float));
    if (rc == 0) rc = run_once(e, op, io);
    io->prims_second = ig_engine_primitives_created(e) - io->prims_first;
    for (int k = 0; k < 2; k++) free(saved_state[k]);
    ig_engine_leave(ts);
    ig_engine_free(e);
    return rc;
}

EXPORT int igt_resize_matrix(int in, int out, int mode, float *m)
{
    return ig_resize_matrix(in, out, (ig_resize_mode)mode, m) != I2IG_OK;
}

#if IG_WITH_TRAINING
/* The slices (pool indices, in batch order) the last batch of a training
 * domain used: the first n entries of its current pass. */
EXPORT int igt_trainer_pool_order(const i2ig_trainer *t, size_t domain, int *out, size_t n);
EXPORT int igt_trainer_pool_order(const i2ig_trainer *t, size_t domain, int *out, size_t n)
{
    if (domain >= t->n_domains || n > t->domains[domain].pool.n) return 1;
    for (size_t i = 0; i < n; i++) out[i] = (int)t->domains[domain].pool.order[i];
    return 0;
}

EXPORT void igt_adam(double lr, double b1, double b2, double eps, int64_t step, size_t n,
                     float *p, const float *g, float *m, float *v, int threads)
{
    ig_adam_cfg c = {lr, b1, b2, eps};
    ig_adam_update(&c, step, n, p, g, m, v, threads);
}

EXPORT void igt_ema(float decay, size_t n, float *shadow, const float *p, int threads)
{
    ig_ema_update(decay, n, shadow, p, threads);
}
#endif

/* Forward and backward of a saved generator on given inputs: output, input
 * gradient and every parameter gradient (flat, in parameter order; the
 * newline-separated names go to names). */
EXPORT int igt_generator_grad(const char *path, int threads, const float *x, int n, int h, int w,
                              const int *labels, const float *ctx, int s, const float *grad_out,
                              float *out, float *grad_x, float *grad_params, char *names,
                              size_t names_cap, char *err, size_t errlen)
{
    i2ig_generator *gen;
    if (i2ig_generator_load(path, &gen) != I2IG_OK) {
        snprintf(err, errlen, "%s", i2ig_last_error());
        return 1;
    }
    i2ig_generator_set_threads(gen, threads);
    ig_thread_scope ts = ig_engine_enter(gen->e);
    ig_params *p = ig_unet_params(gen->unet);
    ig_params_set_requires_grad(p, true);
    const ig_unet_cfg *c = ig_unet_cfg_of(gen->unet);
    ig_graph g;
    ig_graph_init(&g, gen->e, true);
    int64_t xs[4] = {n, h, w, c->in_channels}, cs[3] = {n, s, c->context_dim};
    ig_tensor *xt = ig_t_wrap((float *)x, 4, xs), *ct = ig_t_wrap((float *)ctx, 3, cs);
    xt->requires_grad = true;
    ig_tensor *y = ig_unet_forward(&g, gen->unet, xt, labels, ct);
    int rc = 0;
    if (!y) rc = 1;
    if (rc == 0) {
        memcpy(out, y->data, y->numel * sizeof(float));
        if (ig_backward_from(&g, y, grad_out) != I2IG_OK) rc = 1;
    }
    if (rc == 0) {
        memcpy(grad_x, xt->grad->data, xt->numel * sizeof(float));
        size_t off = 0, noff = 0;
        for (size_t i = 0; i < p->n; i++) {
            ig_tensor *t = p->items[i].t;
            if (t->grad) memcpy(grad_params + off, t->grad->data, t->numel * sizeof(float));
            else memset(grad_params + off, 0, t->numel * sizeof(float));
            off += t->numel;
            noff += (size_t)snprintf(names + noff, noff < names_cap ? names_cap - noff : 0, "%s\n",
                                     p->items[i].name);
        }
    } else {
        snprintf(err, errlen, "%s", i2ig_last_error());
    }
    ig_t_release(y);
    ig_graph_clear(&g);
    ig_t_release(xt);
    ig_t_release(ct);
    ig_engine_leave(ts);
    i2ig_generator_free(gen);
    return rc;
}

/* Discriminator forward (one power iteration per head call, as in
 * training) and backward: logits, feature gradient, every parameter
 * gradient and the spectral-norm state after the call (flat, in order). */
EXPORT int igt_disc_grad(const char *path, int threads, const float *feats, int n, int tokens,
                         const int *labels, const float *text, const float *grad_out, float *out,
                         float *grad_feats, float *grad_params, float *state_after, char *names,
                         size_t names_cap, char *err, size_t errlen)
{
    i2ig_discriminator *d;
    if (i2ig_discriminator_load(path, &d) != I2IG_OK) {
        snprintf(err, errlen, "%s", i2ig_last_error());
        return 1;
    }
    i2ig_discriminator_set_threads(d, threads);
    ig_thread_scope ts = ig_engine_enter(d->e);
    ig_params *p = ig_disc_params(d->disc), *sp = ig_disc_state(d->disc);
    ig_params_set_requires_grad(p, true);
    const ig_disc_cfg *c = ig_disc_cfg_of(d->disc);
    ig_graph g;
    ig_graph_init(&g, d->e, true);
    int64_t fs[4] = {n, c->n_taps, tokens, c->width};
    ig_tensor *x = ig_t_wrap((float *)feats, 4, fs);
    x->requires_grad = true;
    ig_tensor *y = ig_disc_forward(&g, d->disc, x, labels, text, 1);
    int rc = y ? 0 : 1;
    if (rc == 0) {
        memcpy(out, y->data, y->numel * sizeof(float));
        if (ig_backward_from(&g, y, grad_out) != I2IG_OK) rc = 1;
    }
    if (rc == 0) {
        memcpy(grad_feats, x->grad->data, x->numel * sizeof(float));
        size_t off = 0, noff = 0;
        for (size_t i = 0; i < p->n; i++) {
            ig_tensor *t = p->items[i].t;
            if (t->grad) memcpy(grad_params + off, t->grad->data, t->numel * sizeof(float));
            else memset(grad_params + off, 0, t->numel * sizeof(float));
            off += t->numel;
            noff += (size_t)snprintf(names + noff, noff < names_cap ? names_cap - noff : 0, "%s\n",
                                     p->items[i].name);
        }
        off = 0;
        for (size_t i = 0; i < sp->n; i++) {
            memcpy(state_after + off, sp->items[i].t->data, sp->items[i].t->numel * sizeof(float));
            off += sp->items[i].t->numel;
        }
    } else {
        snprintf(err, errlen, "%s", i2ig_last_error());
    }
    ig_t_release(y);
    ig_graph_clear(&g);
    ig_t_release(x);
    ig_engine_leave(ts);
    i2ig_discriminator_free(d);
    return rc;
}
