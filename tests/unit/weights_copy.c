/* Test helper for the Python weight-file tests, public API only.
 *
 *   weights_copy SRC DST               read SRC with the C reader, write the
 *                                      same content to DST with the C writer
 *   weights_copy SRC DST --store DT    same, but every tensor is read as f32
 *                                      and stored as DT (f32, f16, bf16)
 *   weights_copy --make DST            write the reference content below
 *
 * Exit 0 on success; 1 with "weights_copy: <status>: <detail>" on failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i2igalip.h"

static int fail(i2ig_status st)
{
    fprintf(stderr, "weights_copy: %s: %s\n", i2ig_status_string(st), i2ig_last_error());
    return 1;
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        i2ig_status st_ = (expr);                                                                  \
        if (st_ != I2IG_OK) return fail(st_);                                                      \
    } while (0)

static i2ig_status copy_meta(i2ig_weights *in, i2ig_weights_writer *out)
{
    for (size_t i = 0; i < i2ig_weights_meta_count(in); i++) {
        const char *key;
        i2ig_meta_type type;
        i2ig_status st = i2ig_weights_meta_entry(in, i, &key, &type);
        if (st) return st;
        size_t n;
        switch (type) {
        case I2IG_META_INT: {
            int64_t v;
            if ((st = i2ig_weights_meta_int(in, key, &v))) return st;
            st = i2ig_weights_writer_set_int(out, key, v);
            break;
        }
        case I2IG_META_FLOAT: {
            double v;
            if ((st = i2ig_weights_meta_float(in, key, &v))) return st;
            st = i2ig_weights_writer_set_float(out, key, v);
            break;
        }
        case I2IG_META_STRING: {
            const char *v;
            if ((st = i2ig_weights_meta_string(in, key, &v))) return st;
            st = i2ig_weights_writer_set_string(out, key, v);
            break;
        }
        case I2IG_META_INT_ARRAY: {
            const int64_t *v;
            if ((st = i2ig_weights_meta_int_array(in, key, &v, &n))) return st;
            st = i2ig_weights_writer_set_int_array(out, key, v, n);
            break;
        }
        case I2IG_META_FLOAT_ARRAY: {
            const double *v;
            if ((st = i2ig_weights_meta_float_array(in, key, &v, &n))) return st;
            st = i2ig_weights_writer_set_float_array(out, key, v, n);
            break;
        }
        case I2IG_META_STRING_ARRAY: {
            const char *const *v;
            if ((st = i2ig_weights_meta_string_array(in, key, &v, &n))) return st;
            st = i2ig_weights_writer_set_string_array(out, key, v, n);
            break;
        }
        }
        if (st) return st;
    }
    return I2IG_OK;
}

static int copy(const char *src, const char *dst, const char *store)
{
    i2ig_dtype store_dt = 0;
    if (store) {
        if (!strcmp(store, "f32")) store_dt = I2IG_DTYPE_F32;
        else if (!strcmp(store, "f16")) store_dt = I2IG_DTYPE_F16;
        else if (!strcmp(store, "bf16")) store_dt = I2IG_DTYPE_BF16;
        else {
            fprintf(stderr, "weights_copy: unknown dtype '%s'\n", store);
            return 2;
        }
    }
    i2ig_weights *in;
    i2ig_weights_writer *out;
    TRY(i2ig_weights_open(src, 0, &in));
    TRY(i2ig_weights_writer_create(&out));
    TRY(copy_meta(in, out));
    for (size_t i = 0; i < i2ig_weights_tensor_count(in); i++) {
        i2ig_tensor_info ti = {.struct_size = sizeof ti};
        TRY(i2ig_weights_tensor_info(in, i, &ti));
        if (!store) {
            /* In place from the mapping, which outlives the writer. */
            const void *data;
            TRY(i2ig_weights_tensor_data(in, i, &data));
            TRY(i2ig_weights_writer_add_tensor(out, ti.name, ti.dtype, ti.ndim, ti.shape, ti.dtype,
                                               data, I2IG_ADD_BORROW));
        } else {
            float *buf = malloc(ti.nbytes / i2ig_dtype_size(ti.dtype) * sizeof(float));
            if (!buf) return fail(I2IG_ERR_OUT_OF_MEMORY);
            TRY(i2ig_weights_read_f32(in, ti.name, ti.ndim, ti.shape, buf));
            TRY(i2ig_weights_writer_add_tensor(out, ti.name, store_dt, ti.ndim, ti.shape,
                                               I2IG_DTYPE_F32, buf, 0));
            free(buf);
        }
    }
    TRY(i2ig_weights_writer_write(out, dst));
    i2ig_weights_writer_free(out);
    i2ig_weights_free(in);
    return 0;
}

/* Reference values, recomputed independently by tests/python: exact
 * float32 arithmetic (one IEEE division) so both sides agree bit for bit. */
static float ref_value(uint64_t i)
{
    return (float)((int64_t)((i * 7919u) % 20011u) - 10005) / 3.0f;
}

static int make(const char *dst)
{
    i2ig_weights_writer *w;
    TRY(i2ig_weights_writer_create(&w));
    TRY(i2ig_weights_writer_set_string(w, "model.name", "unet-test \xe2\x9c\x93"));
    TRY(i2ig_weights_writer_set_int(w, "model.channels", 32));
    TRY(i2ig_weights_writer_set_int(w, "min", INT64_MIN));
    TRY(i2ig_weights_writer_set_float(w, "model.eps", 1e-5));
    const int64_t mult[] = {1, 1, 2, 2, 4, 4};
    TRY(i2ig_weights_writer_set_int_array(w, "model.mult", mult, 6));
    const double lw[] = {10.0, 1.0, 0.5, -0.0};
    TRY(i2ig_weights_writer_set_float_array(w, "loss.weights", lw, 4));
    const char *const dom[] = {"T1", "T2", "PD", ""};
    TRY(i2ig_weights_writer_set_string_array(w, "domains", dom, 4));
    TRY(i2ig_weights_writer_set_int_array(w, "empty.ints", NULL, 0));
    TRY(i2ig_weights_writer_set_string_array(w, "empty.strings", NULL, 0));

    static float v[3 * 5 * 7];
    for (uint64_t i = 0; i < 3 * 5 * 7; i++) v[i] = ref_value(i);
    const uint64_t s1[] = {3, 5, 7}, s2[] = {105}, s3[] = {7, 15};
    TRY(i2ig_weights_writer_add_tensor(w, "w.f32", I2IG_DTYPE_F32, 3, s1, I2IG_DTYPE_F32, v, 0));
    TRY(i2ig_weights_writer_add_tensor(w, "w.f16", I2IG_DTYPE_F16, 1, s2, I2IG_DTYPE_F32, v, 0));
    TRY(i2ig_weights_writer_add_tensor(w, "w.bf16", I2IG_DTYPE_BF16, 2, s3, I2IG_DTYPE_F32, v, 0));
    TRY(i2ig_weights_writer_write(w, dst));
    i2ig_weights_writer_free(w);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--make")) return make(argv[2]);
    if (argc == 3) return copy(argv[1], argv[2], NULL);
    if (argc == 5 && !strcmp(argv[3], "--store")) return copy(argv[1], argv[2], argv[4]);
    fprintf(stderr, "usage: weights_copy SRC DST [--store f32|f16|bf16] | --make DST\n");
    return 2;
}
