/* Layer benchmark of the compute core: times each layer of the paper's
 * models at its real shape (batch 1, f32) through lib/kernels and lib/nn,
 * next to the machine's matrix-multiply roof (dnnl_sgemm 1024^3) measured
 * in the same process. tools/bench/run_layers.sh runs this, then the
 * PyTorch twin (bench_layers_torch.py, which reads the layer list from our
 * output so both time the same shapes), and prints one table.
 *
 * Output: tab-separated rows, one per measurement:
 *   row <kind> <params> <pass> <flop> <median_ms> <min_ms> <reps> <foreign> <tries>
 * foreign = share of the CPUs other processes used during the kept
 * measurement; a measurement with more than 5 % is repeated (--tries).
 * plus "threads", "prims" and "concat" lines; '#' lines are comments.
 *
 * Usage: bench_layers [threads] [--min-reps N] [--min-time SECONDS] [--quick]
 *                     [--only KIND] [--repack] [--tries N]
 * --repack bumps the weight's version before every convolution and linear
 * backward-data call, as a training step does (the packed copy is rebuilt);
 * by default it is packed once and cached, as in inference.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "kernels/kernels.h"
#include "nn/ops.h"

typedef enum layer_kind { L_CONV, L_LINEAR, L_ATTN, L_GNSILU, L_LN } layer_kind;

/* conv: a = H (= W), b = Ci, c = Co (3x3, pad 1, stride 1)
 * linear: a = rows, b = in, c = out
 * attn: a = query tokens, b = key tokens, c = heads, d = head width
 * gnsilu: a = H (= W), b = C, c = groups
 * ln: a = rows, b = cols */
typedef struct layer {
    layer_kind kind;
    int a, b, c, d;
    int count;
    const char *note;
} layer;

/* The 3x3 convolutions of the generator for a 256x256 input, derived from
 * DESIGN.md section 2 (model_channels 32, channel_mult (1,1,2,2,4,4), two
 * ResBlocks per level, resampling inside ResBlocks before their first
 * conv, decoder ResBlock input = cat([h, skip]) with three ResBlocks per
 * level) as LDM's openaimodel.py builds it. Levels L0..L5 run at 256..8;
 * "down Lk" is the resampling ResBlock after level k (its convs run at the
 * next lower size), "up Lk" the one closing decoder level k (its convs run
 * at the next higher size). count = how often the shape occurs in one
 * generator forward pass (weights the totals). */
static const layer LAYERS[] = {
    {L_CONV, 256, 1, 32, 0, 1, "input conv (info: 1 channel in)"},
    {L_CONV, 256, 32, 32, 0, 9, "enc L0 x4, dec L0 second x3, up L1 x2"},
    {L_CONV, 256, 64, 32, 0, 3, "dec L0 first: cat(32,32) x3"},
    {L_CONV, 256, 32, 1, 0, 1, "output conv (info: 1 channel out)"},
    {L_CONV, 128, 32, 32, 0, 9, "down L0 x2, enc L1 x4, dec L1 second x3"},
    {L_CONV, 128, 64, 32, 0, 2, "dec L1 i1,i2 first: cat(32,32)"},
    {L_CONV, 128, 96, 32, 0, 1, "dec L1 i0 first: cat(64,32)"},
    {L_CONV, 128, 64, 64, 0, 2, "up L2"},
    {L_CONV, 64, 32, 32, 0, 2, "down L1"},
    {L_CONV, 64, 32, 64, 0, 1, "enc L2 ResBlock 0 first"},
    {L_CONV, 64, 64, 64, 0, 8, "enc L2 x3, dec L2 second x3, up L3 x2"},
    {L_CONV, 64, 128, 64, 0, 2, "dec L2 i0,i1 first: cat(64,64)"},
    {L_CONV, 64, 96, 64, 0, 1, "dec L2 i2 first: cat(64,32)"},
    {L_CONV, 32, 64, 64, 0, 9, "down L2 x2, enc L3 x4, dec L3 second x3"},
    {L_CONV, 32, 128, 64, 0, 2, "dec L3 i1,i2 first: cat(64,64)"},
    {L_CONV, 32, 192, 64, 0, 1, "dec L3 i0 first: cat(128,64)"},
    {L_CONV, 32, 128, 128, 0, 2, "up L4"},
    {L_CONV, 16, 64, 64, 0, 2, "down L3"},
    {L_CONV, 16, 64, 128, 0, 1, "enc L4 ResBlock 0 first"},
    {L_CONV, 16, 128, 128, 0, 8, "enc L4 x3, dec L4 second x3, up L5 x2"},
    {L_CONV, 16, 256, 128, 0, 2, "dec L4 i0,i1 first: cat(128,128)"},
    {L_CONV, 16, 192, 128, 0, 1, "dec L4 i2 first: cat(128,64)"},
    {L_CONV, 8, 128, 128, 0, 13, "down L4 x2, enc L5 x4, middle x4, dec L5 second x3"},
    {L_CONV, 8, 256, 128, 0, 3, "dec L5 first: cat(128,128) x3"},
    {L_LINEAR, 197, 768, 2304, 0, 12, "ViT qkv"},
    {L_LINEAR, 197, 768, 3072, 0, 12, "ViT fc1"},
    {L_LINEAR, 197, 3072, 768, 0, 12, "ViT fc2"},
    {L_ATTN, 1024, 1024, 2, 32, 5, "U-Net 32^2 self-attention (enc L3 x2, dec L3 x3)"},
    {L_ATTN, 1024, 256, 2, 32, 5, "U-Net 32^2 cross-attention, 256 context tokens (x5)"},
    {L_ATTN, 197, 197, 12, 64, 12, "ViT self-attention"},
    {L_GNSILU, 256, 32, 32, 0, 1, "GroupNorm(32)+SiLU 256^2x32"},
    {L_LN, 197, 768, 0, 0, 1, "LayerNorm 197x768"},
};
#define NLAYERS (sizeof LAYERS / sizeof LAYERS[0])

static const char *kind_name(layer_kind k)
{
    switch (k) {
    case L_CONV: return "conv";
    case L_LINEAR: return "linear";
    case L_ATTN: return "attn";
    case L_GNSILU: return "gnsilu";
    default: return "ln";
    }
}

/* The parameter string that names a layer in every output line (the
 * PyTorch twin parses it). */
static void layer_params(const layer *l, char *buf, size_t n)
{
    switch (l->kind) {
    case L_CONV: snprintf(buf, n, "h=%d,w=%d,ci=%d,co=%d", l->a, l->a, l->b, l->c); break;
    case L_LINEAR: snprintf(buf, n, "m=%d,k=%d,n=%d", l->a, l->b, l->c); break;
    case L_ATTN: snprintf(buf, n, "t=%d,s=%d,heads=%d,d=%d", l->a, l->b, l->c, l->d); break;
    case L_GNSILU: snprintf(buf, n, "h=%d,w=%d,c=%d,groups=%d", l->a, l->a, l->b, l->c); break;
    default: snprintf(buf, n, "rows=%d,cols=%d", l->a, l->b); break;
    }
}

typedef struct bench_cfg {
    int threads;
    int min_reps;
    double min_time;
    int quick; /* one timed repetition, for the second pass */
    const char *only; /* run only layers of this kind (profiling) */
    int repack; /* weights change before every call that packs them (training) */
    int tries;  /* measurements per layer when other processes disturb them */
} bench_cfg;

typedef struct stats {
    double median_ms, min_ms;
    int reps;
    double foreign; /* share of the CPUs other processes used meanwhile */
    int tries;      /* measurements made (the least disturbed is kept) */
} stats;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One timed body with an optional untimed preparation before each call. */
typedef i2ig_status (*bench_fn)(void *ctx);

static int fail_status(i2ig_status st, const char *what)
{
    fprintf(stderr, "bench_layers: %s: %s: %s\n", what, i2ig_status_string(st), i2ig_last_error());
    return 1;
}

#define SLOW_CALL_S 2.0

/* ---- other processes' share of the CPUs ---------------------------------------- */

/* The machine is shared: every measurement also records how much of the
 * CPUs other processes took meanwhile (from /proc/stat minus our own
 * /proc/self/stat times, in clock ticks), and a disturbed one is repeated. */
typedef struct cpu_sample {
    unsigned long long busy, total, own;
} cpu_sample;

static void cpu_read(cpu_sample *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        unsigned long long v[8] = {0};
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) == 8) {
            c->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
            c->total = c->busy + v[3] + v[4];
        }
        fclose(f);
    }
    f = fopen("/proc/self/stat", "r");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        /* fields after the command name: state(3) ... utime(14) stime(15) */
        const char *p = strrchr(buf, ')');
        unsigned long long ut = 0, stt = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                        &stt) == 2)
            c->own = ut + stt;
        fclose(f);
    }
}

/* Share of all CPUs used by other processes between a and b (0..1). */
static double cpu_foreign(const cpu_sample *a, const cpu_sample *b)
{
    double total = (double)(b->total - a->total);
    if (total <= 0) return 0;
    double f = ((double)(b->busy - a->busy) - (double)(b->own - a->own)) / total;
    return f < 0 ? 0 : f;
}

/* ---- timing -------------------------------------------------------------------- */

/* A measurement in which other processes took more than this share of the
 * CPUs is repeated (up to cfg->tries times; the least disturbed one is kept). */
#define QUIET_SHARE 0.05

/* reps timed calls; median and minimum into out. */
static int timed_reps(const char *what, bench_fn prep, bench_fn run, void *ctx, int reps,
                      stats *out)
{
    i2ig_status st;
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t) return fail_status(I2IG_ERR_OUT_OF_MEMORY, what);
    for (int i = 0; i < reps; i++) {
        if (prep && (st = prep(ctx)) != I2IG_OK) {
            free(t);
            return fail_status(st, what);
        }
        double t0 = now_s();
        st = run(ctx);
        t[i] = now_s() - t0;
        if (st != I2IG_OK) {
            free(t);
            return fail_status(st, what);
        }
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    out->median_ms = 1e3 * (reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]));
    out->min_ms = 1e3 * t[0];
    out->reps = reps;
    free(t);
    return 0;
}

/* Warm-up (the first call creates primitives and packs weights), then at
 * least min_reps timed calls and at least min_time seconds of them. */
static int measure(const bench_cfg *cfg, const char *what, bench_fn prep, bench_fn run, void *ctx,
                   stats *out)
{
    i2ig_status st;
    double last = 0;
    int warm = cfg->quick ? 1 : 3;
    for (int i = 0; i < warm; i++) {
        if (prep && (st = prep(ctx)) != I2IG_OK) return fail_status(st, what);
        double t0 = now_s();
        if ((st = run(ctx)) != I2IG_OK) return fail_status(st, what);
        last = now_s() - t0;
        if (last > SLOW_CALL_S) break;
    }
    out->foreign = 0;
    out->tries = 0;
    if (cfg->quick) {
        out->median_ms = out->min_ms = 1e3 * last;
        out->reps = 1;
        return 0;
    }
    int reps = cfg->min_reps;
    /* A call of seconds (oneDNN's reference implementation) is a finding,
     * not a timing question: one timed call keeps the run short. */
    if (last > SLOW_CALL_S) reps = 1;
    else if (last > 0 && cfg->min_time / last > reps) reps = (int)ceil(cfg->min_time / last);
    if (reps > 2000) reps = 2000;
    for (int k = 0; k < cfg->tries; k++) {
        stats s;
        cpu_sample a, b;
        cpu_read(&a);
        if (timed_reps(what, prep, run, ctx, reps, &s)) return 1;
        cpu_read(&b);
        s.foreign = cpu_foreign(&a, &b);
        s.tries = k + 1;
        if (k == 0 || s.foreign < out->foreign) *out = s;
        out->tries = k + 1;
        if (s.foreign <= QUIET_SHARE || reps == 1) break;
    }
    return 0;
}

static void print_row(const char *kind, const char *params, const char *pass, double flop,
                      const stats *s)
{
    printf("row\t%s\t%s\t%s\t%.0f\t%.4f\t%.4f\t%d\t%.3f\t%d\n", kind, params, pass, flop,
           s->median_ms, s->min_ms, s->reps, s->foreign, s->tries);
    fflush(stdout);
}

/* ---- buffers ---------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* Random values in [-scale, scale]: all normal floats (no denormal slow
 * paths), as in a real network. */
static float *buf_rand(size_t n, float scale)
{
    float *p = ig_alloc_aligned(n * sizeof(float));
    if (p)
        for (size_t i = 0; i < n; i++) p[i] = scale * rnd();
    return p;
}

/* ---- sgemm roof ------------------------------------------------------------- */

typedef struct sgemm_ctx {
    ig_engine *e;
    float *a, *b, *c;
} sgemm_ctx;

static i2ig_status run_sgemm(void *p)
{
    sgemm_ctx *c = p;
    return ig_k_sgemm(c->e, 1024, c->a, c->b, c->c);
}

static int bench_roof(ig_engine *e, const bench_cfg *cfg, const char *pass)
{
    size_t n = 1024 * 1024;
    sgemm_ctx c = {e, buf_rand(n, 1), buf_rand(n, 1), buf_rand(n, 1)};
    int rc = 1;
    if (c.a && c.b && c.c) {
        bench_cfg rcfg = *cfg;
        if (!rcfg.quick && rcfg.min_reps < 30) rcfg.min_reps = 30;
        stats s = {0, 0, 0, 0, 0};
        rc = measure(&rcfg, "sgemm 1024", NULL, run_sgemm, &c, &s);
        if (!rc && !cfg->quick) print_row("sgemm", "n=1024", pass, 2.0 * 1024 * 1024 * 1024, &s);
    }
    ig_free_aligned(c.a);
    ig_free_aligned(c.b);
    ig_free_aligned(c.c);
    return rc;
}

/* ---- convolution ------------------------------------------------------------ */

typedef struct conv_ctx {
    ig_engine *e;
    int repack;
    ig_conv_shape s;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db, *dwb;
    ig_wref wr;
} conv_ctx;

static i2ig_status conv_fwd(void *p)
{
    conv_ctx *c = p;
    c->wr.version += (uint64_t)c->repack;
    return ig_k_conv_fwd(c->e, &c->s, c->x, c->wr, c->b, c->y);
}

static i2ig_status conv_bwd_data(void *p)
{
    conv_ctx *c = p;
    c->wr.version += (uint64_t)c->repack;
    return ig_k_conv_bwd_data(c->e, &c->s, c->dy, c->wr, c->dx);
}

/* As training runs it: the weight gradient in the primitive's blocked layout
 * (the first use of a weight in a backward pass; later uses add to it)... */
static i2ig_status conv_bwd_weights(void *p)
{
    conv_ctx *c = p;
    return ig_k_conv_bwd_weights_blocked(c->e, &c->s, c->x, c->dy, c->dwb, 0, c->db, 0);
}

/* ... and un-blocked into PyTorch order once per weight and backward pass. */
static i2ig_status conv_unblock(void *p)
{
    conv_ctx *c = p;
    return ig_k_conv_wgrad_unblock(c->e, &c->s, 1, c->dwb, c->dw, 0);
}

static int bench_conv(ig_engine *e, const bench_cfg *cfg, const layer *l)
{
    conv_ctx c;
    memset(&c, 0, sizeof c);
    c.e = e;
    c.repack = cfg->repack;
    ig_conv_shape s = {1, l->a, l->a, l->b, l->c, 3, 3, 1, 1, 1, 1};
    c.s = s;
    size_t nx = (size_t)l->a * l->a * l->b, ny = (size_t)l->a * l->a * l->c;
    size_t nw = (size_t)l->c * l->b * 9;
    c.x = buf_rand(nx, 1);
    c.dx = buf_rand(nx, 1);
    c.y = buf_rand(ny, 1);
    c.dy = buf_rand(ny, 1);
    c.w = buf_rand(nw, 0.05f);
    c.dw = buf_rand(nw, 1);
    c.b = buf_rand((size_t)l->c, 0.1f);
    c.db = buf_rand((size_t)l->c, 1);
    size_t nwb = 0;
    if (ig_k_conv_wgrad_size(e, &s, 1, &nwb) == I2IG_OK) c.dwb = buf_rand(nwb, 1);
    /* A cached weight, as in inference and within one training step
     * (forward and backward-data then share one packing per update). */
    c.wr.data = c.w;
    c.wr.uid = ig_engine_new_uid(e);
    c.wr.version = 1;
    c.wr.owner = e;
    int rc = 1;
    if (c.x && c.dx && c.y && c.dy && c.w && c.dw && c.b && c.db && c.dwb) {
        char params[96];
        layer_params(l, params, sizeof params);
        double flop = 2.0 * (double)ny * l->b * 9;
        stats st = {0, 0, 0, 0, 0};
        rc = measure(cfg, "conv fwd", NULL, conv_fwd, &c, &st);
        if (!rc && !cfg->quick) print_row("conv", params, "fwd", flop, &st);
        if (!rc) rc = measure(cfg, "conv bwd_data", NULL, conv_bwd_data, &c, &st);
        if (!rc && !cfg->quick) print_row("conv", params, "bwd_data", flop, &st);
        if (!rc) rc = measure(cfg, "conv bwd_weights", NULL, conv_bwd_weights, &c, &st);
        if (!rc && !cfg->quick) print_row("conv", params, "bwd_weights", flop, &st);
        if (!rc) rc = measure(cfg, "conv unblock", NULL, conv_unblock, &c, &st);
        if (!rc && !cfg->quick) print_row("conv", params, "unblock", 0, &st);
    }
    ig_engine_forget_uid(e, c.wr.uid);
    float *all[] = {c.x, c.dx, c.y, c.dy, c.w, c.dw, c.b, c.db, c.dwb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ig_free_aligned(all[i]);
    return rc;
}

/* ---- linear (ViT matmuls) ----------------------------------------------------- */

typedef struct lin_ctx {
    ig_engine *e;
    ig_mm_shape fwd, dx, dw;
    float *x, *w, *b, *y, *dy, *gx, *gw;
    ig_wref wr;
    int repack;
} lin_ctx;

static i2ig_status lin_fwd(void *p)
{
    lin_ctx *c = p;
    return ig_k_matmul(c->e, &c->fwd, c->x, c->w, c->b, c->y);
}

static i2ig_status lin_dx(void *p)
{
    lin_ctx *c = p;
    /* as ig_linear's backward: W packed through the engine's cache */
    c->wr.version += (uint64_t)c->repack;
    return ig_k_matmul_packed_b(c->e, c->dx.m, c->dx.n, c->dx.k, c->dy, c->wr, 0, c->gx);
}

static i2ig_status lin_dw(void *p)
{
    lin_ctx *c = p;
    /* as ig_linear's backward */
    return ig_k_matmul_at_b(c->e, c->dw.m, c->dw.n, c->dw.k, c->dy, c->x, 0, c->gw);
}

static int bench_linear(ig_engine *e, const bench_cfg *cfg, const layer *l)
{
    int64_t m = l->a, k = l->b, n = l->c;
    lin_ctx c;
    memset(&c, 0, sizeof c);
    c.e = e;
    /* Y = X W^T + b with W stored [out, in] as in PyTorch */
    c.fwd = ig_mm_plain(1, m, n, k, 0, 1);
    /* dX = dY W */
    c.dx = ig_mm_plain(1, m, k, n, 0, 0);
    /* dW = dY^T X */
    c.dw = ig_mm_plain(1, n, k, m, 1, 0);
    c.x = buf_rand((size_t)(m * k), 1);
    c.w = buf_rand((size_t)(n * k), 0.05f);
    c.b = buf_rand((size_t)n, 0.1f);
    c.y = buf_rand((size_t)(m * n), 1);
    c.dy = buf_rand((size_t)(m * n), 1);
    c.gx = buf_rand((size_t)(m * k), 1);
    c.gw = buf_rand((size_t)(n * k), 1);
    c.repack = cfg->repack;
    c.wr.data = c.w;
    c.wr.uid = ig_engine_new_uid(e);
    c.wr.version = 1;
    c.wr.owner = e;
    int rc = 1;
    if (c.x && c.w && c.b && c.y && c.dy && c.gx && c.gw) {
        char params[96];
        layer_params(l, params, sizeof params);
        double flop = 2.0 * (double)m * (double)n * (double)k;
        stats st = {0, 0, 0, 0, 0};
        rc = measure(cfg, "linear fwd", NULL, lin_fwd, &c, &st);
        if (!rc && !cfg->quick) print_row("linear", params, "fwd", flop, &st);
        if (!rc) rc = measure(cfg, "linear dx", NULL, lin_dx, &c, &st);
        if (!rc && !cfg->quick) print_row("linear", params, "bwd_data", flop, &st);
        if (!rc) rc = measure(cfg, "linear dw", NULL, lin_dw, &c, &st);
        if (!rc && !cfg->quick) print_row("linear", params, "bwd_weights", flop, &st);
    }
    ig_engine_forget_uid(e, c.wr.uid);
    float *all[] = {c.x, c.w, c.b, c.y, c.dy, c.gx, c.gw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ig_free_aligned(all[i]);
    return rc;
}

/* ---- operations on the tape: attention, GroupNorm+SiLU, LayerNorm ----------- */

/* Inputs are caller buffers wrapped as leaves; the forward pass runs on a
 * graph that does not record, the backward pass is timed alone after an
 * untimed recording forward. */
typedef struct op_ctx {
    ig_engine *e;
    const layer *l;
    ig_graph g;
    ig_tensor *in[3];
    int nin;
    ig_tensor *out;
    float *dy;
} op_ctx;

static ig_tensor *op_apply(op_ctx *c)
{
    const layer *l = c->l;
    switch (l->kind) {
    case L_ATTN:
        return ig_attention(&c->g, c->in[0], c->in[1], c->in[2], l->c, 1.0f / sqrtf((float)l->d),
                            NULL);
    case L_GNSILU:
        return ig_groupnorm(&c->g, c->in[0], c->in[1], c->in[2], l->c, 1e-5f, 1);
    case L_LN:
        return ig_layernorm(&c->g, c->in[0], c->in[1], c->in[2], 1e-5f);
    default:
        return NULL;
    }
}

static void op_reset(op_ctx *c)
{
    ig_t_release(c->out);
    c->out = NULL;
    ig_graph_clear(&c->g);
    for (int i = 0; i < c->nin; i++) {
        ig_t_release(c->in[i]->grad);
        c->in[i]->grad = NULL;
    }
}

static i2ig_status op_fwd(void *p)
{
    op_ctx *c = p;
    op_reset(c);
    c->g.recording = false;
    for (int i = 0; i < c->nin; i++) c->in[i]->requires_grad = false;
    c->out = op_apply(c);
    return c->out ? I2IG_OK : ig_graph_status(&c->g);
}

static i2ig_status op_prep_bwd(void *p)
{
    op_ctx *c = p;
    op_reset(c);
    c->g.recording = true;
    for (int i = 0; i < c->nin; i++) c->in[i]->requires_grad = true;
    c->out = op_apply(c);
    return c->out ? I2IG_OK : ig_graph_status(&c->g);
}

static i2ig_status op_bwd(void *p)
{
    op_ctx *c = p;
    return ig_backward_from(&c->g, c->out, c->dy);
}

static int bench_op(ig_engine *e, const bench_cfg *cfg, const layer *l)
{
    op_ctx c;
    memset(&c, 0, sizeof c);
    c.e = e;
    c.l = l;
    ig_graph_init(&c.g, e, false);
    int64_t shp[3][4];
    int nd[3];
    float scale[3] = {1, 1, 1};
    char params[96];
    layer_params(l, params, sizeof params);
    double flop_fwd = 0, flop_bwd = 0;
    const char *kind = "";
    size_t nout;
    if (l->kind == L_ATTN) {
        int64_t ch = (int64_t)l->c * l->d;
        int64_t q[3] = {1, l->a, ch}, kv[3] = {1, l->b, ch};
        memcpy(shp[0], q, sizeof q);
        memcpy(shp[1], kv, sizeof kv);
        memcpy(shp[2], kv, sizeof kv);
        nd[0] = nd[1] = nd[2] = 3;
        c.nin = 3;
        nout = (size_t)(l->a * ch);
        kind = "attn";
        /* two products forward, four backward; softmax not counted */
        flop_fwd = 4.0 * l->a * l->b * (double)ch;
        flop_bwd = 2 * flop_fwd;
    } else if (l->kind == L_GNSILU) {
        int64_t x[4] = {1, l->a, l->a, l->b}, v[1] = {l->b};
        memcpy(shp[0], x, sizeof x);
        memcpy(shp[1], v, sizeof v);
        memcpy(shp[2], v, sizeof v);
        nd[0] = 4;
        nd[1] = nd[2] = 1;
        c.nin = 3;
        nout = (size_t)l->a * l->a * l->b;
        kind = "gnsilu";
    } else {
        int64_t x[3] = {1, l->a, l->b}, v[1] = {l->b};
        memcpy(shp[0], x, sizeof x);
        memcpy(shp[1], v, sizeof v);
        memcpy(shp[2], v, sizeof v);
        nd[0] = 3;
        nd[1] = nd[2] = 1;
        c.nin = 3;
        nout = (size_t)l->a * l->b;
        kind = "ln";
    }
    float *data[3] = {0};
    int ok = 1;
    for (int i = 0; i < c.nin; i++) {
        data[i] = buf_rand(ig_shape_numel(nd[i], shp[i]), scale[i]);
        c.in[i] = data[i] ? ig_t_wrap(data[i], nd[i], shp[i]) : NULL;
        if (!c.in[i]) ok = 0;
    }
    c.dy = buf_rand(nout, 1);
    int rc = 1;
    if (ok && c.dy) {
        stats st = {0, 0, 0, 0, 0};
        rc = measure(cfg, kind, NULL, op_fwd, &c, &st);
        if (!rc && !cfg->quick) print_row(kind, params, "fwd", flop_fwd, &st);
        if (!rc) rc = measure(cfg, kind, op_prep_bwd, op_bwd, &c, &st);
        if (!rc && !cfg->quick) print_row(kind, params, "bwd", flop_bwd, &st);
    }
    op_reset(&c);
    for (int i = 0; i < c.nin; i++) {
        ig_t_release(c.in[i]);
        ig_free_aligned(data[i]);
    }
    ig_free_aligned(c.dy);
    return rc;
}

/* ---- driver ----------------------------------------------------------------------- */

static int bench_layer(ig_engine *e, const bench_cfg *cfg, const layer *l)
{
    if (cfg->only && strcmp(cfg->only, kind_name(l->kind))) return 0;
    switch (l->kind) {
    case L_CONV: return bench_conv(e, cfg, l);
    case L_LINEAR: return bench_linear(e, cfg, l);
    default: return bench_op(e, cfg, l);
    }
}

static int parse_args(int argc, char **argv, bench_cfg *cfg)
{
    cfg->threads = 2;
    cfg->min_reps = 10;
    cfg->min_time = 0.25;
    cfg->quick = 0;
    cfg->only = NULL;
    cfg->repack = 0;
    cfg->tries = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--min-reps") && i + 1 < argc) cfg->min_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) cfg->min_time = atof(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) cfg->min_reps = 1, cfg->min_time = 0;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) cfg->only = argv[++i];
        else if (!strcmp(argv[i], "--repack")) cfg->repack = 1;
        else if (!strcmp(argv[i], "--tries") && i + 1 < argc) cfg->tries = atoi(argv[++i]);
        else if (argv[i][0] != '-' && atoi(argv[i]) > 0) cfg->threads = atoi(argv[i]);
        else {
            fprintf(stderr,
                    "usage: bench_layers [threads] [--min-reps N] [--min-time SECONDS] [--quick]"
                    " [--only conv|linear|attn|gnsilu|ln] [--repack] [--tries N]\n");
            return 1;
        }
    }
    if (cfg->min_reps < 1) cfg->min_reps = 1;
    if (cfg->tries < 1) cfg->tries = 1;
    return 0;
}

int main(int argc, char **argv)
{
    bench_cfg cfg;
    if (parse_args(argc, argv, &cfg)) return 2;
    ig_engine *e;
    i2ig_status st = ig_engine_create(cfg.threads, &e);
    if (st != I2IG_OK) return fail_status(st, "engine");
    ig_thread_scope ts = ig_engine_enter(e);
    printf("# bench_layers: median of >= %d repetitions (>= %.2f s) after warm-up\n",
           cfg.min_reps, cfg.min_time);
    printf("threads\t%d\n", cfg.threads);
    printf("weights\t%s\n", cfg.repack ? "repacked before every call that packs them (training)"
                                       : "packed once, cached (inference)");
    for (size_t i = 0; i < NLAYERS; i++) {
        if (cfg.only && strcmp(cfg.only, kind_name(LAYERS[i].kind))) continue;
        char params[96];
        layer_params(&LAYERS[i], params, sizeof params);
        printf("note\t%s\t%s\t%d\t%s\n", kind_name(LAYERS[i].kind), params, LAYERS[i].count,
               LAYERS[i].note);
    }
    int rc = bench_roof(e, &cfg, "start");
    for (size_t i = 0; i < NLAYERS && !rc; i++) rc = bench_layer(e, &cfg, &LAYERS[i]);
    if (!rc) rc = bench_roof(e, &cfg, "end");
    if (!rc) {
        /* The whole list once more: every primitive must come from the cache. */
        uint64_t before = ig_engine_primitives_created(e);
        bench_cfg once = cfg;
        once.quick = 1;
        for (size_t i = 0; i < NLAYERS && !rc; i++) rc = bench_layer(e, &once, &LAYERS[i]);
        uint64_t after = ig_engine_primitives_created(e);
        printf("prims\t%llu\t%llu\n", (unsigned long long)before,
               (unsigned long long)(after - before));
    }
    ig_engine_leave(ts);
    ig_engine_free(e);
    return rc;
}
