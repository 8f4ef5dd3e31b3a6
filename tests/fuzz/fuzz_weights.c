/* Weight-file reader: arbitrary bytes as a .i2ig file, then every query of
 * the public API on whatever opens (metadata getters of every type, the
 * tensor table, tensor data with its checksum, f32 conversion).
 *
 * Input: byte 0 holds options, the rest is the file. Most mutations of a
 * real file break the header/index CRC, which the reader checks first; with
 * bit 0 set the harness repairs that CRC (and with bit 1 the file-size
 * field), so the fuzzer also reaches the index parser with forged counts,
 * sizes and offsets. Bit 2 asks for I2IG_OPEN_VERIFY_ALL. */
#include <string.h>
#include <zlib.h>

#include "fuzz_common.h"
#include "i2igalip.h"

static fz_file file;
static uint8_t *buf;
static size_t buf_cap;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_file_init(&file, "fuzz-weights");
    return 0;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void touch_meta(i2ig_weights *w)
{
    size_t n = i2ig_weights_meta_count(w);
    for (size_t i = 0; i <= n; i++) { /* one past the end on purpose */
        const char *key;
        i2ig_meta_type type;
        if (i2ig_weights_meta_entry(w, i, &key, &type) != I2IG_OK) continue;
        int64_t iv;
        double fv;
        const char *sv;
        const int64_t *ia;
        const double *fa;
        const char *const *sa;
        size_t cnt;
        /* Every getter on every key: the wrong types must fail cleanly. */
        if (i2ig_weights_meta_int(w, key, &iv) == I2IG_OK) fz_use(&iv, sizeof iv);
        if (i2ig_weights_meta_float(w, key, &fv) == I2IG_OK) fz_use(&fv, sizeof fv);
        if (i2ig_weights_meta_string(w, key, &sv) == I2IG_OK) fz_use(sv, strlen(sv));
        if (i2ig_weights_meta_int_array(w, key, &ia, &cnt) == I2IG_OK) fz_use(ia, cnt * sizeof *ia);
        if (i2ig_weights_meta_float_array(w, key, &fa, &cnt) == I2IG_OK)
            fz_use(fa, cnt * sizeof *fa);
        if (i2ig_weights_meta_string_array(w, key, &sa, &cnt) == I2IG_OK)
            for (size_t k = 0; k < cnt; k++) fz_use(sa[k], strlen(sa[k]));
    }
    int64_t iv;
    (void)i2ig_weights_meta_int(w, "no such key", &iv);
}

static void touch_tensors(i2ig_weights *w)
{
    size_t n = i2ig_weights_tensor_count(w);
    for (size_t i = 0; i <= n; i++) {
        i2ig_tensor_info info;
        info.struct_size = sizeof info;
        if (i2ig_weights_tensor_info(w, i, &info) != I2IG_OK) continue;
        size_t idx;
        if (i2ig_weights_find(w, info.name, &idx) != I2IG_OK || idx != i) abort();
        const void *data;
        if (i2ig_weights_tensor_data(w, i, &data) == I2IG_OK) fz_use(data, (size_t)info.nbytes);
        uint64_t count = 1;
        for (uint32_t d = 0; d < info.ndim; d++) count *= info.shape[d];
        /* The data lies inside the (small) input, so count is small. */
        float *dst = malloc((size_t)count * sizeof(float));
        if (!dst) continue;
        if (i2ig_weights_read_f32(w, info.name, info.ndim, info.shape, dst) == I2IG_OK)
            fz_use(dst, (size_t)count * sizeof(float));
        uint64_t wrong[I2IG_MAX_DIMS];
        memcpy(wrong, info.shape, sizeof wrong);
        wrong[0] += 1;
        (void)i2ig_weights_read_f32(w, info.name, info.ndim, wrong, dst);
        free(dst);
    }
    (void)i2ig_weights_verify(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned opts = data[0];
    data++;
    size--;
    if (size > buf_cap) {
        free(buf);
        buf = malloc(size);
        buf_cap = buf ? size : 0;
        if (!buf) return 0;
    }
    if (size) memcpy(buf, data, size);
    if (size >= 64) {
        if (opts & 2) wr64(buf + 48, size);
        uint64_t index_size = rd64(buf + 32);
        if ((opts & 1) && index_size <= size - 64) {
            uLong crc = crc32(0, buf, 60);
            crc = crc32(crc, buf + 64, (uInt)index_size);
            wr32(buf + 60, (uint32_t)crc);
        }
    }
    fz_file_set(&file, buf, size);
    i2ig_weights *w = NULL;
    i2ig_status st = i2ig_weights_open(file.path, (opts & 4) ? I2IG_OPEN_VERIFY_ALL : 0, &w);
    if (st == I2IG_OK) {
        if (i2ig_weights_format_version(w) != I2IG_WEIGHTS_FORMAT_VERSION) abort();
        touch_meta(w);
        touch_tensors(w);
    } else {
        if (w) abort(); /* a failed open leaves *out NULL */
        const char *msg = i2ig_last_error();
        if (!msg[0]) abort(); /* every failure says what and where */
    }
    i2ig_weights_free(w);
    return 0;
}
