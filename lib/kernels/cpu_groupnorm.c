/* GroupNorm on channels-last data. oneDNN 2.6 has no group normalisation,
 * and with the channel innermost a group's members are strided, so this is
 * a hand-written two-pass kernel: per-channel sums over pixel chunks (one
 * chunk per thread, combined in a fixed order so results depend only on the
 * thread count), then one fused normalise + affine (+ SiLU) pass. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "core/error.h"
#include "kernels/kernels.h"

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

i2ig_status ig_k_groupnorm_fwd(ig_engine *e, int64_t n, int64_t hw, int64_t c, int64_t groups,
                               float eps, const float *x, const float *gamma, const float *beta,
                               float *y, float *mean, float *rstd, int silu)
{
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
        const float *xs = x + ni * hw * c;
        float *ys = y + ni * hw * c;
#pragma omp parallel for schedule(static) num_threads(chunks)
        for (int k = 0; k < chunks; k++) {
            int64_t p0 = hw * k / chunks, p1 = hw * (k + 1) / chunks;
            double *s1 = s.s1 + (size_t)k * c, *s2 = s.s2 + (size_t)k * c;
            for (int64_t j = 0; j < c; j++) s1[j] = s2[j] = 0;
            for (int64_t p = p0; p < p1; p++) {
                const float *row = xs + p * c;
                for (int64_t j = 0; j < c; j++) {
                    double v = row[j];
                    s1[j] += v;
                    s2[j] += v * v;
                }
            }
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
        for (int64_t p = 0; p < hw; p++) {
            const float *row = xs + p * c;
            float *out = ys + p * c;
            if (silu) {
                for (int64_t j = 0; j < c; j++) {
                    float v = row[j] * a[j] + b[j];
                    out[j] = v / (1.0f + expf(-v));
                }
            } else {
                for (int64_t j = 0; j < c; j++) out[j] = row[j] * a[j] + b[j];
            }
        }
    }
    gn_sums_free(&s);
    free(t1);
    free(a);
    return I2IG_OK;
}

i2ig_status ig_k_groupnorm_bwd(ig_engine *e, int64_t n, int64_t hw, int64_t c, int64_t groups,
                               const float *x, const float *dy, const float *gamma,
                               const float *mean, const float *rstd, float *dx, float *dgamma,
                               float *dbeta)
{
    const int chunks = ig_engine_threads(e);
    const int64_t cg = c / groups;
    gn_sums s;
    double *t1 = malloc(2 * (size_t)c * sizeof(double));
    float *mu_c = malloc(4 * (size_t)c * sizeof(float));
    if (!gn_sums_alloc(&s, chunks, c) || !t1 || !mu_c) {
        gn_sums_free(&s);
        free(t1);
        free(mu_c);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "GroupNorm backward");
    }
    double *t2 = t1 + c;
    float *rs_c = mu_c + c, *k1 = mu_c + 2 * c, *k2 = mu_c + 3 * c;
    for (int64_t ni = 0; ni < n; ni++) {
        const float *xs = x + ni * hw * c, *dys = dy + ni * hw * c;
        float *dxs = dx + ni * hw * c;
        for (int64_t j = 0; j < c; j++) {
            mu_c[j] = mean[ni * groups + j / cg];
            rs_c[j] = rstd[ni * groups + j / cg];
        }
        /* Per channel: sum(dy) and sum(dy * xhat). */
#pragma omp parallel for schedule(static) num_threads(chunks)
        for (int k = 0; k < chunks; k++) {
            int64_t p0 = hw * k / chunks, p1 = hw * (k + 1) / chunks;
            double *s1 = s.s1 + (size_t)k * c, *s2 = s.s2 + (size_t)k * c;
            for (int64_t j = 0; j < c; j++) s1[j] = s2[j] = 0;
            for (int64_t p = p0; p < p1; p++) {
                const float *xr = xs + p * c, *dr = dys + p * c;
                for (int64_t j = 0; j < c; j++) {
                    double xh = ((double)xr[j] - mu_c[j]) * rs_c[j];
                    s1[j] += dr[j];
                    s2[j] += dr[j] * xh;
                }
            }
        }
        gn_sums_reduce(&s, c, t1, t2);
        const double count = (double)hw * (double)cg;
        for (int64_t g = 0; g < groups; g++) {
            double sg = 0, sgx = 0;
            for (int64_t j = g * cg; j < (g + 1) * cg; j++) {
                double gm = gamma ? gamma[j] : 1.0;
                sg += gm * t1[j];
                sgx += gm * t2[j];
            }
            for (int64_t j = g * cg; j < (g + 1) * cg; j++) {
                /* dx = rstd * (gamma*dy - sg/M - xhat * sgx/M) = A*dy + B*x + C */
                k1[j] = (float)(sg / count);
                k2[j] = (float)(sgx / count);
            }
        }
        for (int64_t j = 0; j < c; j++) {
            if (dgamma) dgamma[j] += (float)t2[j];
            if (dbeta) dbeta[j] += (float)t1[j];
        }
#pragma omp parallel for schedule(static) num_threads(chunks)
        for (int64_t p = 0; p < hw; p++) {
            const float *xr = xs + p * c, *dr = dys + p * c;
            float *o = dxs + p * c;
            for (int64_t j = 0; j < c; j++) {
                float gm = gamma ? gamma[j] : 1.0f;
                float xh = (xr[j] - mu_c[j]) * rs_c[j];
                o[j] = rs_c[j] * (gm * dr[j] - k1[j] - xh * k2[j]);
            }
        }
    }
    gn_sums_free(&s);
    free(t1);
    free(mu_c);
    return I2IG_OK;
}
