/* GroupNorm on channels-last data. oneDNN 2.6 has no group normalisation,
 * and with the channel innermost a group's members are strided, so this is
 * a hand-written two-pass kernel: per-channel sums over pixel chunks (one
 * chunk per thread, combined in a fixed order so results depend only on the
 * thread count), then one fused normalise + affine (+ SiLU) pass.
 *
 * The pixel loops are written so that the compiler keeps a block of
 * GN_BLOCK channel accumulators in vector registers (the channel count is a
 * run-time value, so a plain loop over it reloads and stores every
 * accumulator for each pixel), and they are multi-versioned for AVX2 and
 * AVX-512 (cpu_simd.h). The sums are still taken per channel in pixel order,
 * in double, so the statistics do not depend on the block size. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/cpu_simd.h"
#include "kernels/kernels.h"

/* Channels per register-resident accumulator block (4 AVX-512 registers of
 * doubles per sum). */
#define GN_BLOCK 32

/* Per-chunk partial sums s1[chunk][c] (and s2) of a[p,c] and a[p,c]*b[p,c]
 * (or a^2 when b is NULL, or a*(b-mean)*rstd when xhat stats are given). */
typedef struct gn_sums {
    double *s1, *s2;
    int chunks;
} gn_sums;

static int gn_sums_alloc(gn_sums *s, int chunks, int64_t c)
{
    s->chunks = chunks;
    s->s1 = calloc((size_t)chunks * (size_t)c, sizeof(double));
    s->s2 = calloc((size_t)chunks * (size_t)c, sizeof(double));
    return s->s1 && s->s2;
}

static void gn_sums_free(gn_sums *s)
{
    free(s->s1);
    free(s->s2);
}

/* Reduces chunk partials in chunk order into out1/out2 (length c). */
static void gn_sums_reduce(const gn_sums *s, int64_t c, double *out1, double *out2)
{
    for (int64_t j = 0; j < c; j++) {
        double a = 0, b = 0;
        for (int k = 0; k < s->chunks; k++) {
            a += s->s1[(size_t)k * c + j];
            b += s->s2[(size_t)k * c + j];
        }
        out1[j] = a;
        out2[j] = b;
    }
}

/* Per channel over pixels [p0, p1) of x (pixel stride c), in pixel order:
 * s1[j] = sum x, s2[j] = sum x^2 -- or, in the backward pass (dy given),
 * s1[j] = sum dy, s2[j] = sum dy * x. Float products are exact in double,
 * so sum dy * (x - mu) * rs is taken afterwards as rs (s2 - mu s1). */
IG_CPU_CLONES static void gn_moments(const float *restrict x, const float *restrict dy,
                                     int64_t c, int64_t p0, int64_t p1, double *restrict s1,
                                     double *restrict s2)
{
    int64_t j0 = 0;
    for (; j0 + GN_BLOCK <= c; j0 += GN_BLOCK) {
        double a1[GN_BLOCK] = {0}, a2[GN_BLOCK] = {0};
        if (dy) {
            for (int64_t p = p0; p < p1; p++) {
                const float *xr = x + p * c + j0, *dr = dy + p * c + j0;
                for (int jj = 0; jj < GN_BLOCK; jj++) {
                    double d = dr[jj];
                    a1[jj] += d;
                    a2[jj] += d * xr[jj];
                }
            }
        } else {
            for (int64_t p = p0; p < p1; p++) {
                const float *xr = x + p * c + j0;
                for (int jj = 0; jj < GN_BLOCK; jj++) {
                    double v = xr[jj];
                    a1[jj] += v;
                    a2[jj] += v * v;
                }
            }
        }
        memcpy(s1 + j0, a1, sizeof a1);
        memcpy(s2 + j0, a2, sizeof a2);
    }
    for (int64_t j = j0; j < c; j++) s1[j] = s2[j] = 0;
    if (j0 == c) return;
    for (int64_t p = p0; p < p1; p++) {
        const float *xr = x + p * c;
        for (int64_t j = j0; j < c; j++) {
            double v = xr[j], d = dy ? dy[p * c + j] : v;
            s1[j] += d;
            s2[j] += d * v;
        }
    }
}

/* The backward moments of SiLU(GroupNorm(x)): dyz holds dL/dy on entry and
 * dL/dz on return, z = x * sa + sb being the normalised value the forward
 * fed to SiLU (recomputed per channel); then as gn_moments with dy = dL/dz.
 * The gradient is converted once, here, for the input-gradient pass too. */
IG_CPU_CLONES static void gn_moments_silu(const float *restrict x, float *restrict dyz,
                                          const float *restrict sa, const float *restrict sb,
                                          int64_t c, int64_t p0, int64_t p1,
                                          double *restrict s1, double *restrict s2)
{
    const ig_exp_bounds eb = ig_exp_bounds_get();
    int64_t j0 = 0;
    for (; j0 + GN_BLOCK <= c; j0 += GN_BLOCK) {
        double a1[GN_BLOCK] = {0}, a2[GN_BLOCK] = {0};
        float ka[GN_BLOCK], kb[GN_BLOCK];
        memcpy(ka, sa + j0, sizeof ka);
        memcpy(kb, sb + j0, sizeof kb);
        for (int64_t p = p0; p < p1; p++) {
            const float *xr = x + p * c + j0;
            float *dr = dyz + p * c + j0;
            for (int jj = 0; jj < GN_BLOCK; jj++) {
                float gz = ig_silu_grad_vec(dr[jj], xr[jj] * ka[jj] + kb[jj], &eb);
                dr[jj] = gz;
                double d = gz;
                a1[jj] += d;
                a2[jj] += d * xr[jj];
            }
        }
        memcpy(s1 + j0, a1, sizeof a1);
        memcpy(s2 + j0, a2, sizeof a2);
    }
    for (int64_t j = j0; j < c; j++) s1[j] = s2[j] = 0;
    for (int64_t p = p0; p < p1 && j0 < c; p++) {
        const float *xr = x + p * c;
        float *dr = dyz + p * c;
        for (int64_t j = j0; j < c; j++) {
            float gz = ig_silu_grad_vec(dr[j], xr[j] * sa[j] + sb[j], &eb);
            dr[j] = gz;
            double d = gz;
            s1[j] += d;
            s2[j] += d * xr[j];
        }
    }
}

/* y = x * a + b per channel (c of them) over pixels [p0, p1), optionally
 * through SiLU; x and y rows are xs and ys floats apart. */
IG_CPU_CLONES static void gn_affine(const float *restrict x, int64_t xs, float *restrict y,
                                    int64_t ys, int64_t c, int64_t p0, int64_t p1,
                                    const float *restrict a, const float *restrict b, int silu)
{
    const ig_exp_bounds eb = ig_exp_bounds_get();
    for (int64_t p = p0; p < p1; p++) {
        const float *row = x + p * xs;
        float *out = y + p * ys;
        if (silu) {
            for (int64_t j = 0; j < c; j++) out[j] = ig_silu_vec(row[j] * a[j] + b[j], &eb);
        } else {
            for (int64_t j = 0; j < c; j++) out[j] = row[j] * a[j] + b[j];
        }
    }
}

/* dx = ka dy + kb x + kc per channel: rs (gm dy - k1 - xhat k2) with
 * xhat = (x - mu) rs, the per-channel constants folded beforehand. */
IG_CPU_CLONES static void gn_input_grad(const float *restrict x, const float *restrict dy,
                                        float *restrict dx, int64_t c, int64_t p0, int64_t p1,
                                        const float *restrict ka, const float *restrict kb,
                                        const float *restrict kc)
{
    for (int64_t p = p0; p < p1; p++) {
        const float *xr = x + p * c, *dr = dy + p * c;
        float *o = dx + p * c;
        for (int64_t j = 0; j < c; j++) o[j] = ka[j] * dr[j] + kb[j] * xr[j] + kc[j];
    }
}

i2ig_status ig_k_groupnorm_fwd(ig_engine *e, int64_t n, int64_t hw, int64_t c, int64_t groups,
                               float eps, const float *x, const float *gamma, const float *beta,
                               float *y, float *mean, float *rstd, int silu)
{
    return ig_k_groupnorm_fwd_cat(e, n, hw, c, 0, groups, eps, x, NULL, gamma, beta, y, mean,
                                  rstd, silu);
}

/* The statistics are per-channel sums whichever source a channel comes
 * from, so the result equals the single-source kernel on the concatenation,
 * bit for bit. */
i2ig_status ig_k_groupnorm_fwd_cat(ig_engine *e, int64_t n, int64_t hw, int64_t c1, int64_t c2,
                                   int64_t groups, float eps, const float *x1, const float *x2,
                                   const float *gamma, const float *beta, float *y, float *mean,
                                   float *rstd, int silu)
{
    const int64_t c = c1 + c2;
    if (groups < 1 || c % groups != 0)
        return ig_fail(I2IG_ERR_SHAPE, "GroupNorm: %lld channels not divisible into %lld groups",
                       (long long)c, (long long)groups);
    const int chunks = ig_engine_threads(e);
    const int64_t cg = c / groups;
    gn_sums s;
    double *t1 = malloc(2 * (size_t)c * sizeof(double));
    float *a = malloc(2 * (size_t)c * sizeof(float));
    if (!gn_sums_alloc(&s, chunks, c) || !t1 || !a) {
        gn_sums_free(&s);
        free(t1);
        free(a);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "GroupNorm");
    }
    double *t2 = t1 + c;
    float *b = a + c;
    for (int64_t ni = 0; ni < n; ni++) {
        const float *xs1 = x1 + ni * hw * c1, *xs2 = c2 ? x2 + ni * hw * c2 : NULL;
        float *ys = y + ni * hw * c;
#pragma omp parallel for schedule(static) num_threads(chunks)
        for (int k = 0; k < chunks; k++) {
            int64_t p0 = hw * k / chunks, p1 = hw * (k + 1) / chunks;
            gn_moments(xs1, NULL, c1, p0, p1, s.s1 + (size_t)k * c, s.s2 + (size_t)k * c);
            if (c2)
                gn_moments(xs2, NULL, c2, p0, p1, s.s1 + (size_t)k * c + c1,
                           s.s2 + (size_t)k * c + c1);
        }
        gn_sums_reduce(&s, c, t1, t2);
        const double count = (double)hw * (double)cg;
        for (int64_t g = 0; g < groups; g++) {
            double sum = 0, sq = 0;
            for (int64_t j = g * cg; j < (g + 1) * cg; j++) {
                sum += t1[j];
                sq += t2[j];
            }
            double mu = sum / count;
            double var = sq / count - mu * mu;
            if (var < 0) var = 0;
            double rs = 1.0 / sqrt(var + (double)eps);
            if (mean) mean[ni * groups + g] = (float)mu;
            if (rstd) rstd[ni * groups + g] = (float)rs;
            for (int64_t j = g * cg; j < (g + 1) * cg; j++) {
                double gm = gamma ? gamma[j] : 1.0, bt = beta ? beta[j] : 0.0;
                a[j] = (float)(gm * rs);
                b[j] = (float)(bt - mu * rs * gm);
            }
        }
#pragma omp parallel for schedule(static) num_threads(chunks)
        for (int k = 0; k < chunks; k++) {
            int64_t p0 = hw * k / chunks, p1 = hw * (k + 1) / chunks;
            gn_affine(xs1, c1, ys, c, c1, p0, p1, a, b, silu);
            if (c2) gn_affine(xs2, c2, ys + c1, c, c2, p0, p1, a + c1, b + c1, silu);
        }
    }
    gn_sums_free(&s);
    free(t1);
    free(a);
    return I2IG_OK;
}

i2ig_status ig_k_groupnorm_bwd(ig_engine *e, int64_t n, int64_t hw, int64_t c, int64_t groups,
                               const float *x, float *dy, const float *gamma,
                               const float *beta, const float *mean, const float *rstd, int silu,
                               float *dx, float *dgamma, float *dbeta)
{
    const int chunks = ig_engine_threads(e);
    const int64_t cg = c / groups;
    gn_sums s;
    double *t1 = malloc(2 * (size_t)c * sizeof(double));
    float *ka = malloc(5 * (size_t)c * sizeof(float));
    if (!gn_sums_alloc(&s, chunks, c) || !t1 || !ka) {
        gn_sums_free(&s);
        free(t1);
        free(ka);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "GroupNorm backward");
    }
    double *t2 = t1 + c;
    float *kb = ka + c, *kc = ka + 2 * c, *sa = ka + 3 * c, *sb = ka + 4 * c;
    for (int64_t ni = 0; ni < n; ni++) {
        const float *xs = x + ni * hw * c;
        float *dys = dy + ni * hw * c;
        float *dxs = dx + ni * hw * c;
        for (int64_t j = 0; j < c; j++) {
            /* the forward's affine coefficients, from the saved statistics */
            double gm = gamma ? gamma[j] : 1.0, mu = mean[ni * groups + j / cg],
                   rs = rstd[ni * groups + j / cg];
            sa[j] = (float)(gm * rs);
            sb[j] = (float)((beta ? beta[j] : 0.0) - mu * rs * gm);
        }
        /* Per channel: sum(dy) and sum(dy * x). */
#pragma omp parallel for schedule(static) num_threads(chunks)
        for (int k = 0; k < chunks; k++) {
            int64_t p0 = hw * k / chunks, p1 = hw * (k + 1) / chunks;
            double *s1 = s.s1 + (size_t)k * c, *s2 = s.s2 + (size_t)k * c;
            if (silu) gn_moments_silu(xs, dys, sa, sb, c, p0, p1, s1, s2);
            else gn_moments(xs, dys, c, p0, p1, s1, s2);
        }
        gn_sums_reduce(&s, c, t1, t2);
        const double count = (double)hw * (double)cg;
        for (int64_t g = 0; g < groups; g++) {
            const double mu = mean[ni * groups + g], rs = rstd[ni * groups + g];
            double sg = 0, sgx = 0;
            for (int64_t j = g * cg; j < (g + 1) * cg; j++) {
                double gm = gamma ? gamma[j] : 1.0;
                t2[j] = rs * (t2[j] - mu * t1[j]); /* sum(dy * xhat) */
                sg += gm * t1[j];
                sgx += gm * t2[j];
            }
            /* dx = rs (gm dy - sg/M - xhat sgx/M), xhat = (x - mu) rs */
            const double k1 = sg / count, k2 = sgx / count;
            for (int64_t j = g * cg; j < (g + 1) * cg; j++) {
                double gm = gamma ? gamma[j] : 1.0;
                ka[j] = (float)(rs * gm);
                kb[j] = (float)(-rs * rs * k2);
                kc[j] = (float)(rs * (mu * rs * k2 - k1));
            }
        }
        for (int64_t j = 0; j < c; j++) {
            if (dgamma) dgamma[j] += (float)t2[j];
            if (dbeta) dbeta[j] += (float)t1[j];
        }
#pragma omp parallel for schedule(static) num_threads(chunks)
        for (int k = 0; k < chunks; k++)
            gn_input_grad(xs, dys, dxs, c, hw * k / chunks, hw * (k + 1) / chunks, ka, kb, kc);
    }
    gn_sums_free(&s);
    free(t1);
    free(ka);
    return I2IG_OK;
}
