/* Memory of inference: the planned activation arena (lib/kernels/buffer_plan.c)
 * and the convolution weights an inference handle keeps only packed. The
 * planner is checked directly (patterns written into every buffer must
 * survive while it is live); the generator checks compare against fresh
 * handles, which have no plan and no dropped weights yet. */
#include <stdint.h>
#include <string.h>

#include "i2igalip.h"
#include "kernels/buffer_plan.h"
#include "testutil.h"

#define K IG_PLAN_MIN_BYTES

static void fill(char *p, size_t n, char v) { memset(p, v, n); }

static void expect(const char *p, size_t n, char v)
{
    for (size_t i = 0; i < n; i += 4093) ck_assert_int_eq(p[i], v);
    ck_assert_int_eq(p[n - 1], v);
}

static int in_arena(const ig_plan *pl, const void *p)
{
    const char *c = p;
    return pl->arena && c >= pl->arena && c < pl->arena + pl->arena_bytes;
}

/* ---- the planner ------------------------------------------------------------------ */

START_TEST(plan_replays_a_recorded_pass)
{
    ig_plan pl;
    memset(&pl, 0, sizeof pl);
    for (int pass = 0; pass < 3; pass++) {
        ig_plan_begin(&pl);
        ck_assert_int_eq(pl.mode, pass == 0 ? IG_PLAN_RECORD : IG_PLAN_REPLAY);
        char *a = ig_plan_alloc(&pl, 4 * K), *b = ig_plan_alloc(&pl, 2 * K);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        fill(a, 4 * K, 'a');
        fill(b, 2 * K, 'b');
        expect(a, 4 * K, 'a');
        ck_assert_int_eq(ig_plan_release(&pl, a), 1);
        char *c = ig_plan_alloc(&pl, 3 * K);
        fill(c, 3 * K, 'c');
        expect(b, 2 * K, 'b');
        ck_assert_int_eq(ig_plan_release(&pl, b), 1);
        char *d = ig_plan_alloc(&pl, 4 * K);
        fill(d, 4 * K, 'd');
        expect(c, 3 * K, 'c');
        if (pass > 0) {
            ck_assert(in_arena(&pl, a) && in_arena(&pl, b) && in_arena(&pl, c) && in_arena(&pl, d));
            ck_assert_int_eq(pl.nmaps, 0);
        }
        ck_assert_int_eq(ig_plan_release(&pl, c), 1);
        ck_assert_int_eq(ig_plan_release(&pl, d), 1);
        ig_plan_end(&pl);
        ck_assert_int_eq(pl.nmaps, 0);
        ck_assert_int_eq(pl.nlive, 0);
    }
    /* at most 7K live at once (c + d); the four buffers sum to 13K */
    ck_assert_uint_ge(pl.arena_need, 7 * K);
    ck_assert_uint_lt(pl.arena_need, 13 * K);
    ig_plan_free(&pl);
}
END_TEST

START_TEST(plan_left_on_a_different_size)
{
    ig_plan pl;
    memset(&pl, 0, sizeof pl);
    ig_plan_begin(&pl);
    void *a = ig_plan_alloc(&pl, 4 * K), *b = ig_plan_alloc(&pl, 2 * K);
    ig_plan_release(&pl, a);
    ig_plan_release(&pl, b);
    ig_plan_end(&pl);
    ck_assert_int_eq(pl.valid, 1);

    ig_plan_begin(&pl);
    ck_assert_int_eq(pl.mode, IG_PLAN_REPLAY);
    char *x = ig_plan_alloc(&pl, 4 * K);
    ck_assert(in_arena(&pl, x));
    fill(x, 4 * K, 'x');
    char *y = ig_plan_alloc(&pl, 3 * K); /* recorded: 2K */
    ck_assert(!in_arena(&pl, y));
    fill(y, 3 * K, 'y');
    expect(x, 4 * K, 'x');
    ig_plan_release(&pl, x);
    ig_plan_release(&pl, y);
    ig_plan_end(&pl);
    ck_assert_int_eq(pl.valid, 0);
    ck_assert_ptr_null(pl.arena); /* nothing lived in it: unmapped */

    ig_plan_begin(&pl);
    ck_assert_int_eq(pl.mode, IG_PLAN_RECORD);
    ig_plan_end(&pl);
    ig_plan_free(&pl);
}
END_TEST

START_TEST(plan_never_hands_out_memory_in_use)
{
    /* Recorded: a freed before b exists, so the plan may put b where a was.
     * Replayed with a still held: b must go elsewhere. */
    ig_plan pl;
    memset(&pl, 0, sizeof pl);
    ig_plan_begin(&pl);
    void *a = ig_plan_alloc(&pl, 4 * K);
    ig_plan_release(&pl, a);
    void *b = ig_plan_alloc(&pl, 4 * K);
    ig_plan_release(&pl, b);
    ig_plan_end(&pl);
    ck_assert_uint_eq(pl.arena_need, 4 * K);

    ig_plan_begin(&pl);
    char *a2 = ig_plan_alloc(&pl, 4 * K);
    fill(a2, 4 * K, 'a');
    char *b2 = ig_plan_alloc(&pl, 4 * K);
    ck_assert(b2 + 4 * K <= a2 || a2 + 4 * K <= b2);
    fill(b2, 4 * K, 'b');
    expect(a2, 4 * K, 'a');
    ig_plan_release(&pl, b2);
    ig_plan_release(&pl, a2);
    ig_plan_end(&pl);
    ck_assert_int_eq(pl.valid, 0);
    ck_assert_int_eq(pl.nmaps, 0);
    ig_plan_free(&pl);
}
END_TEST

START_TEST(plan_buffer_outliving_the_region)
{
    ig_plan pl;
    memset(&pl, 0, sizeof pl);
    for (int pass = 0; pass < 3; pass++) {
        ig_plan_begin(&pl);
        char *t = ig_plan_alloc(&pl, 2 * K), *kept = ig_plan_alloc(&pl, 3 * K);
        fill(kept, 3 * K, 'k');
        fill(t, 2 * K, 't');
        ig_plan_release(&pl, t);
        ig_plan_end(&pl);
        ck_assert(!in_arena(&pl, kept)); /* it was never released in the region */
        expect(kept, 3 * K, 'k');
        ck_assert_int_eq(ig_plan_release(&pl, kept), 1);
        ck_assert_int_eq(pl.valid, 1);
    }
    ck_assert_int_eq(pl.nmaps, 0);
    int x;
    ck_assert_int_eq(ig_plan_release(&pl, &x), 0); /* not the planner's */
    ig_plan_free(&pl);
}
END_TEST

/* ---- the generator ---------------------------------------------------------------- */

static const char *model_file(void)
{
    static char path[512];
    tu_tmp(path, sizeof path, "memory-generator.i2ig");
    i2ig_generator_config c = tu_small_generator_config();
    i2ig_generator *g = NULL;
    ck_assert_int_eq(i2ig_generator_create(&c, 11, &g), I2IG_OK);
    float ctx[4 * 8], ctx2[4 * 8], emb[6];
    for (int i = 0; i < 32; i++) {
        ctx[i] = (float)(i % 7) * 0.2f - 0.5f;
        ctx2[i] = (float)(i % 5) * -0.3f + 0.4f;
    }
    for (int i = 0; i < 6; i++) emb[i] = (float)i - 2.0f;
    i2ig_intensity_mapping m = {sizeof m, I2IG_MAPPING_WINDOW, 0, 4095, 0, 0};
    ck_assert_int_eq(i2ig_generator_add_domain(g, "A", "a", 0, ctx, 4, emb, 6, &m), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_add_domain(g, "B", "b", 1, ctx2, 4, emb, 6, &m), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_save(g, path), I2IG_OK);
    i2ig_generator_free(g);
    return path;
}

static uint16_t *slices(size_t w, size_t h, size_t n, unsigned seed)
{
    uint16_t *p = malloc(w * h * n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < w * h * n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (uint16_t)((s >> 16) % 4096);
    }
    return p;
}

/* out = translation from -> to of n slices by a freshly loaded handle. */
static void translate_fresh_to(const char *path, int threads, const char *from, const char *to,
                               const uint16_t *in, size_t w, size_t h, size_t n, uint16_t *out)
{
    i2ig_generator *g;
    ck_assert_int_eq(i2ig_generator_load(path, &g), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_set_threads(g, threads), I2IG_OK);
    ck_assert_int_eq(i2ig_translate(g, from, to, I2IG_DTYPE_U16, in, w, h, n, out), I2IG_OK);
    i2ig_generator_free(g);
}

static void translate_fresh(const char *path, int threads, const uint16_t *in, size_t w, size_t h,
                            size_t n, uint16_t *out)
{
    translate_fresh_to(path, threads, "A", "B", in, w, h, n, out);
}

START_TEST(stack_translation_equals_slice_by_slice)
{
    const char *path = model_file();
    const size_t w = 64, h = 64, n = 4;
    uint16_t *in = slices(w, h, n, 1), *out = malloc(w * h * n * 2), *ref = malloc(w * h * 2);
    i2ig_generator *g;
    ck_assert_int_eq(i2ig_generator_load(path, &g), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_set_threads(g, 2), I2IG_OK);
    /* slices 2..4 run on the arena planned from slice 1 */
    ck_assert_int_eq(i2ig_translate(g, "A", "B", I2IG_DTYPE_U16, in, w, h, n, out), I2IG_OK);
    for (size_t k = 0; k < n; k++) {
        translate_fresh(path, 2, in + k * w * h, w, h, 1, ref);
        ck_assert_int_eq(memcmp(out + k * w * h, ref, w * h * 2), 0);
    }
    i2ig_generator_free(g);
    free(in);
    free(out);
    free(ref);
}
END_TEST

START_TEST(alternating_sizes_and_threads_give_fresh_results)
{
    /* Each change of size leaves the plan (and may need a new packed layout,
     * made from the packed copy once the plain one is gone); each change of
     * thread count creates new primitives. */
    const char *path = model_file();
    static const size_t dims[][3] = {{64, 64, 2}, {96, 64, 2}, {64, 64, 2}, {64, 96, 1},
                                     {64, 64, 1}, {32, 32, 2}, {64, 64, 1}};
    i2ig_generator *g;
    ck_assert_int_eq(i2ig_generator_load(path, &g), I2IG_OK);
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        size_t w = dims[i][0], h = dims[i][1];
        int threads = (int)dims[i][2];
        uint16_t *in = slices(w, h, 2, (unsigned)i + 5), *out = malloc(w * h * 4),
                 *ref = malloc(w * h * 4);
        ck_assert_int_eq(i2ig_generator_set_threads(g, threads), I2IG_OK);
        ck_assert_int_eq(i2ig_translate(g, "A", "B", I2IG_DTYPE_U16, in, w, h, 2, out), I2IG_OK);
        translate_fresh(path, threads, in, w, h, 2, ref);
        ck_assert_msg(memcmp(out, ref, w * h * 4) == 0, "step %zu: %zux%zu, %d threads", i, w, h,
                      threads);
        free(in);
        free(out);
        free(ref);
    }
    i2ig_generator_free(g);
}
END_TEST

START_TEST(switching_target_domains_gives_fresh_results)
{
    /* Each cross-attention keeps the keys and values of the last target's
     * prompt context: switching targets must recompute them. */
    const char *path = model_file();
    static const char *const to[] = {"B", "A", "A", "B", "A"};
    uint16_t *in = slices(64, 64, 1, 9), *out = malloc(64 * 64 * 2), *ref = malloc(64 * 64 * 2),
             *first_b = malloc(64 * 64 * 2);
    i2ig_generator *g;
    ck_assert_int_eq(i2ig_generator_load(path, &g), I2IG_OK);
    for (size_t i = 0; i < sizeof to / sizeof to[0]; i++) {
        const char *from = strcmp(to[i], "A") ? "A" : "B";
        ck_assert_int_eq(i2ig_translate(g, from, to[i], I2IG_DTYPE_U16, in, 64, 64, 1, out), I2IG_OK);
        translate_fresh_to(path, 1, from, to[i], in, 64, 64, 1, ref);
        ck_assert_msg(memcmp(out, ref, 64 * 64 * 2) == 0, "step %zu: to %s", i, to[i]);
        if (i == 0) memcpy(first_b, out, 64 * 64 * 2);
        else if (!strcmp(to[i], "A")) ck_assert(memcmp(out, first_b, 64 * 64 * 2) != 0);
    }
    i2ig_generator_free(g);
    free(in);
    free(out);
    free(ref);
    free(first_b);
}
END_TEST

START_TEST(model_saved_after_translating_is_the_loaded_one)
{
    /* After a translation the handle holds its convolution weights only in
     * oneDNN's layout; saving rebuilds them exactly. */
    const char *path = model_file();
    char again[512];
    tu_tmp(again, sizeof again, "memory-generator-again.i2ig");
    i2ig_generator *g;
    ck_assert_int_eq(i2ig_generator_load(path, &g), I2IG_OK);
    uint16_t *in = slices(64, 64, 1, 3), *out = malloc(64 * 64 * 2), *out2 = malloc(64 * 64 * 2);
    ck_assert_int_eq(i2ig_translate(g, "A", "B", I2IG_DTYPE_U16, in, 64, 64, 1, out), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_save(g, again), I2IG_OK);
    size_t n1, n2;
    void *a = tu_read_file(path, &n1), *b = tu_read_file(again, &n2);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(n1, n2);
    ck_assert_int_eq(memcmp(a, b, n1), 0);
    /* and the handle still translates the same after saving */
    ck_assert_int_eq(i2ig_translate(g, "A", "B", I2IG_DTYPE_U16, in, 64, 64, 1, out2), I2IG_OK);
    ck_assert_int_eq(memcmp(out, out2, 64 * 64 * 2), 0);
    i2ig_generator_free(g);
    free(a);
    free(b);
    free(in);
    free(out);
    free(out2);
}
END_TEST

static Suite *memory_suite(void)
{
    Suite *s = suite_create("memory");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, plan_replays_a_recorded_pass);
    tcase_add_test(tc, plan_left_on_a_different_size);
    tcase_add_test(tc, plan_never_hands_out_memory_in_use);
    tcase_add_test(tc, plan_buffer_outliving_the_region);
    suite_add_tcase(s, tc);
    tc = tcase_create("generator");
    tcase_add_test(tc, stack_translation_equals_slice_by_slice);
    tcase_add_test(tc, alternating_sizes_and_threads_give_fresh_results);
    tcase_add_test(tc, switching_target_domains_gives_fresh_results);
    tcase_add_test(tc, model_saved_after_translating_is_the_loaded_one);
    suite_add_tcase(s, tc);
    return s;
}

TU_RUN(memory_suite)
