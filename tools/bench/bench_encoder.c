/* Benchmark of the BiomedCLIP vision tower (ViT-B/16 at 224, random
 * weights): forward (taps + class tokens + embedding from one pass) and
 * forward + input gradient, plus the machine's sgemm roof (dnnl_sgemm
 * 1024^3) measured in the same process. tools/bench/bench_encoder_torch.py
 * runs this and the same model in PyTorch side by side and prints the
 * ratios; run alone it prints its own numbers.
 *
 * Output: "key value" lines (times in ms, medians over the repetitions
 * after two warm-up passes); '#' lines are comments.
 *
 * Usage: bench_encoder [threads] [reps] [batch] [side] [--serve]
 *
 * With --serve, after the set-up it reads one command a line from stdin and
 * answers each with one line, so that a driver can interleave our passes
 * with PyTorch's under the same machine load: "f" (one forward) and "g"
 * (one forward + input gradient) answer "<ms> <new primitives>", "s" (one
 * sgemm 1024^3) answers "<ms>", "q" quits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "encoder/vit.h"
#include "kernels/kernels.h"
#include "nn/ops.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static ig_tensor *rand_param(ig_engine *e, int ndim, const int64_t *shape, float scale,
                             float offset)
{
    ig_tensor *t = ig_t_param(e, ndim, shape);
    if (!t) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < t->numel; i++) t->data[i] = offset + scale * frand();
    return t;
}

static void build_vit(ig_engine *e, ig_vit *m)
{
    ig_vit_config c = {224, 16, 768, 12, 12, 3072, 1e-6f, 4, {2, 5, 8, 11}, 4, 512,
                       {0.48145466f, 0.4578275f, 0.40821073f},
                       {0.26862954f, 0.26130258f, 0.27577711f}};
    memset(m, 0, sizeof *m);
    m->cfg = c;
    int64_t C = c.width, M = c.mlp_dim, T = ig_vit_tokens(&c), P = c.patch_size;
    int64_t s_pw[4] = {C, 3, P, P}, s_c[1] = {C}, s_cls[3] = {1, 1, C}, s_pos[3] = {1, T + 1, C},
            s_qkv[2] = {3 * C, C}, s_3c[1] = {3 * C}, s_cc[2] = {C, C}, s_mc[2] = {M, C},
            s_m[1] = {M}, s_cm[2] = {C, M}, s_head[2] = {c.embed_dim, C};
    float wc = 1.0f / sqrtf((float)C), wm = 1.0f / sqrtf((float)M);
    m->patch_w = rand_param(e, 4, s_pw, 0.05f, 0);
    m->patch_b = rand_param(e, 1, s_c, 0.1f, 0);
    m->cls_token = rand_param(e, 3, s_cls, 0.5f, 0);
    m->pos_embed = rand_param(e, 3, s_pos, 0.5f, 0);
    m->blocks = calloc((size_t)c.depth, sizeof *m->blocks);
    for (int i = 0; i < c.depth; i++) {
        ig_vit_block *b = &m->blocks[i];
        b->norm1_w = rand_param(e, 1, s_c, 0.2f, 1);
        b->norm1_b = rand_param(e, 1, s_c, 0.1f, 0);
        b->qkv_w = rand_param(e, 2, s_qkv, wc, 0);
        b->qkv_b = rand_param(e, 1, s_3c, 0.1f, 0);
        b->proj_w = rand_param(e, 2, s_cc, wc, 0);
        b->proj_b = rand_param(e, 1, s_c, 0.1f, 0);
        b->norm2_w = rand_param(e, 1, s_c, 0.2f, 1);
        b->norm2_b = rand_param(e, 1, s_c, 0.1f, 0);
        b->fc1_w = rand_param(e, 2, s_mc, wc, 0);
        b->fc1_b = rand_param(e, 1, s_m, 0.1f, 0);
        b->fc2_w = rand_param(e, 2, s_cm, wm, 0);
        b->fc2_b = rand_param(e, 1, s_c, 0.1f, 0);
    }
    m->norm_w = rand_param(e, 1, s_c, 0.2f, 1);
    m->norm_b = rand_param(e, 1, s_c, 0.1f, 0);
    m->head_w = rand_param(e, 2, s_head, wc, 0);
}

/* Multiply-adds x 2 of the tower at image_size (the preprocessing resize
 * and the element-wise work are not counted). */
static double vit_flop(const ig_vit_config *c, int n)
{
    double C = c->width, M = c->mlp_dim, T = ig_vit_tokens(c), S = T + 1, P = c->patch_size;
    double patch = 2.0 * T * C * 3 * P * P;
    double block = 2.0 * S * C * 3 * C     /* qkv */
                   + 2.0 * 2 * S * S * C   /* q k^T and p v over all heads */
                   + 2.0 * S * C * C       /* proj */
                   + 2.0 * 2 * S * C * M;  /* fc1, fc2 */
    double head = 2.0 * C * c->embed_dim;
    return n * (patch + c->depth * block + head);
}

static int run_forward(ig_engine *e, const ig_vit *m, float *img, int n, int side, int grad,
                       float **gbuf)
{
    ig_graph g;
    ig_graph_init(&g, e, grad != 0);
    int64_t shape[4] = {n, side, side, 1};
    ig_tensor *x = ig_t_wrap(img, 4, shape);
    x->requires_grad = grad != 0;
    ig_vit_out o;
    i2ig_status st = ig_vit_forward(&g, m, x, IG_VIT_WANT_ALL, &o);
    if (st == I2IG_OK && grad) st = ig_vit_backward(&g, m, &o, gbuf[0], gbuf[1], gbuf[2]);
    ig_vit_out_release(&o);
    ig_graph_clear(&g);
    ig_t_release(x);
    if (st != I2IG_OK) {
        fprintf(stderr, "vision tower failed: %s\n", i2ig_last_error());
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int reps = argc > 2 ? atoi(argv[2]) : 10;
    int n = argc > 3 ? atoi(argv[3]) : 1;
    int side = argc > 4 ? atoi(argv[4]) : 224;
    int serve = argc > 5 && strcmp(argv[5], "--serve") == 0;
    if (threads < 1 || reps < 1 || n < 1 || side < 1) {
        fprintf(stderr, "usage: bench_encoder [threads] [reps] [batch] [side] [--serve]\n");
        return 2;
    }
    ig_engine *e;
    if (ig_engine_create(threads, &e) != I2IG_OK) return 1;
    ig_thread_scope scope = ig_engine_enter(e);
    ig_vit m;
    build_vit(e, &m);
    const ig_vit_config *c = &m.cfg;

    /* The roof: dnnl_sgemm 1024^3 in this process, same threads. */
    int64_t sn = 1024;
    size_t sz = (size_t)(sn * sn);
    float *a = ig_alloc_aligned(sz * 4), *b = ig_alloc_aligned(sz * 4), *cc = ig_alloc_aligned(sz * 4);
    for (size_t i = 0; i < sz; i++) {
        a[i] = frand();
        b[i] = frand();
    }
    double *t = calloc((size_t)(reps > 10 ? reps : 10), sizeof *t);
    for (int i = 0; i < 3; i++) ig_k_sgemm(e, sn, a, b, cc);
    for (int i = 0; i < 10; i++) {
        double t0 = now_ms();
        ig_k_sgemm(e, sn, a, b, cc);
        t[i] = now_ms() - t0;
    }
    double sgemm_ms = median(t, 10);
    double sgemm_gflops = 2.0 * sn * sn * sn / (sgemm_ms * 1e6);

    size_t npx = (size_t)n * (size_t)side * (size_t)side;
    float *img = malloc(npx * sizeof *img);
    for (size_t i = 0; i < npx; i++) img[i] = 0.5f + 0.5f * frand();
    size_t T = (size_t)ig_vit_tokens(c), C = (size_t)c->width;
    size_t gsz[3] = {(size_t)n * (size_t)c->embed_dim, (size_t)n * (size_t)c->n_taps * T * C,
                     (size_t)n * (size_t)c->n_cls * C};
    float *gbuf[3];
    for (int k = 0; k < 3; k++) {
        gbuf[k] = malloc(gsz[k] * sizeof(float));
        for (size_t i = 0; i < gsz[k]; i++) gbuf[k][i] = frand();
    }

    double flop = vit_flop(c, n);
    printf("# ViT-B/16 tower, batch %d, input %dx%d, %d threads, random weights\n", n, side, side,
           threads);
    printf("threads %d\nbatch %d\nside %d\nvit_gflop %.4f\n", threads, n, side, flop / 1e9);
    printf("sgemm1024_ms %.3f\nsgemm1024_gflops %.1f\n", sgemm_ms, sgemm_gflops);
    fflush(stdout);
    char cmd[16];
    while (serve && fgets(cmd, sizeof cmd, stdin) && cmd[0] != 'q') {
        uint64_t p0 = ig_engine_primitives_created(e);
        double t0 = now_ms();
        if (cmd[0] == 's') {
            ig_k_sgemm(e, sn, a, b, cc);
            printf("%.3f\n", now_ms() - t0);
        } else if (cmd[0] == 'f' || cmd[0] == 'g') {
            if (run_forward(e, &m, img, n, side, cmd[0] == 'g', gbuf)) return 1;
            printf("%.3f %llu\n", now_ms() - t0,
                   (unsigned long long)(ig_engine_primitives_created(e) - p0));
        } else {
            printf("?\n");
        }
        fflush(stdout);
    }
    const char *names[2] = {"forward", "forward_grad"};
    for (int grad = 0; grad < 2 && !serve; grad++) {
        for (int i = 0; i < 2; i++)
            if (run_forward(e, &m, img, n, side, grad, gbuf)) return 1;
        uint64_t p0 = ig_engine_primitives_created(e);
        for (int i = 0; i < reps; i++) {
            double t0 = now_ms();
            if (run_forward(e, &m, img, n, side, grad, gbuf)) return 1;
            t[i] = now_ms() - t0;
        }
        double lo = t[0];
        for (int i = 1; i < reps; i++) lo = t[i] < lo ? t[i] : lo;
        double med = median(t, reps);
        /* The input-gradient pass costs about one forward in products (dX
         * of every layer, never dW): forward + gradient counts 2x. */
        double f = grad ? 2.0 * flop : flop;
        printf("%s_ms %.3f\n%s_min_ms %.3f\n%s_gflops %.1f\n%s_roof %.3f\n%s_new_primitives %llu\n",
               names[grad], med, names[grad], lo, names[grad], f / (med * 1e6), names[grad],
               f / (med * 1e6) / sgemm_gflops, names[grad],
               (unsigned long long)(ig_engine_primitives_created(e) - p0));
        fflush(stdout);
    }
    for (int k = 0; k < 3; k++) free(gbuf[k]);
    free(img);
    free(t);
    ig_free_aligned(a);
    ig_free_aligned(b);
    ig_free_aligned(cc);
    ig_vit_free(&m);
    ig_engine_leave(scope);
    ig_engine_free(e);
    return 0;
}
