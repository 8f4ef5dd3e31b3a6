/* Generator benchmark (not a test): forward pass of the paper-configuration
 * generator at a given size, median of repeated runs, through the public
 * API; plus the machine's sgemm roof measured in the same run.
 * tools/bench/run_generator.sh runs it next to the same model in PyTorch.
 *
 * usage: bench_generator [threads] [side] [reps] [batch] [stack]
 *
 * With stack > 0 it also times i2ig_translate() on a stack of that many
 * slices (u8 pixels in and out, intensity mapping included), the way the
 * tool translates a multi-page TIFF, and prints slices per second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "i2igalip.h"
#include "kernels/kernels.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sgemm_roof(int threads)
{
    ig_engine *e;
    if (ig_engine_create(threads, &e) != I2IG_OK) return 0;
    ig_thread_scope ts = ig_engine_enter(e);
    int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) a[i] = b[i] = (float)(i % 13) * 0.01f;
    double t[11];
    for (int r = 0; r < 11; r++) {
        double s = now();
        ig_k_sgemm(e, n, a, b, c);
        t[r] = now() - s;
    }
    qsort(t + 1, 10, sizeof *t, cmp);
    free(a);
    free(b);
    free(c);
    ig_engine_leave(ts);
    ig_engine_free(e);
    return 2.0 * n * n * n / t[5] * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, side = argc > 2 ? atoi(argv[2]) : 256;
    int reps = argc > 3 ? atoi(argv[3]) : 10, batch = argc > 4 ? atoi(argv[4]) : 1;
    int stack = argc > 5 ? atoi(argv[5]) : 0;
    i2ig_generator_config cfg;
    cfg.struct_size = sizeof cfg;
    i2ig_generator_config_init(&cfg);
    i2ig_generator *g;
    if (i2ig_generator_create(&cfg, 1, &g) != I2IG_OK) {
        fprintf(stderr, "%s\n", i2ig_last_error());
        return 1;
    }
    size_t ctx_n = 256 * (size_t)cfg.context_dim;
    float *ctx = calloc(ctx_n, sizeof *ctx), emb[512] = {0};
    for (size_t i = 0; i < ctx_n; i++) ctx[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    i2ig_intensity_mapping m = {sizeof m, I2IG_MAPPING_WINDOW, 0, 1, 0, 100};
    i2ig_generator_add_domain(g, "B", "b", 1, ctx, 256, emb, 512, &m);
    i2ig_intensity_mapping m8 = {sizeof m8, I2IG_MAPPING_WINDOW, 0, 255, 0, 100};
    i2ig_generator_add_domain(g, "A", "a", 0, ctx, 256, emb, 512, &m8);
    i2ig_generator_set_threads(g, threads);
    size_t n = (size_t)batch * side * side;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 31) % 256) / 255.0f;
    double *t = malloc(sizeof(double) * (size_t)(reps + 2));
    for (int r = 0; r < reps + 2; r++) {
        double s = now();
        if (i2ig_generator_forward(g, x, (size_t)batch, (size_t)side, (size_t)side, "B", y) != I2IG_OK) {
            fprintf(stderr, "%s\n", i2ig_last_error());
            return 1;
        }
        t[r] = now() - s;
    }
    qsort(t + 2, (size_t)reps, sizeof *t, cmp);
    double med = t[2 + reps / 2];
    double roof = sgemm_roof(threads);
    printf("generator forward %dx%d batch %d threads %d: first %.1f ms, median %.1f ms "
           "(min %.1f, max %.1f) over %d runs; sgemm roof %.0f GFLOP/s\n",
           side, side, batch, threads, t[0] * 1e3, med * 1e3, t[2] * 1e3, t[reps + 1] * 1e3, reps,
           roof);
    if (stack > 0) {
        size_t per = (size_t)side * side;
        unsigned char *in = malloc(per * (size_t)stack), *out = malloc(per * (size_t)stack);
        for (size_t i = 0; i < per * (size_t)stack; i++) in[i] = (unsigned char)((i * 31) % 256);
        double s = now();
        if (i2ig_translate(g, "A", "B", I2IG_DTYPE_U8, in, (size_t)side, (size_t)side,
                           (size_t)stack, out) != I2IG_OK) {
            fprintf(stderr, "%s\n", i2ig_last_error());
            return 1;
        }
        double el = now() - s;
        printf("translate stack of %d slices %dx%d threads %d: %.2f s, %.2f slices/s\n", stack,
               side, side, threads, el, stack / el);
        free(in);
        free(out);
    }
    free(t);
    free(x);
    free(y);
    free(ctx);
    i2ig_generator_free(g);
    return 0;
}
