/* Image loaders: arbitrary bytes as an image file through i2ig_image_load
 * (PNG/JPEG/BMP via stb_image with our chunk and size pre-checks, TIFF via
 * libtiff with our IFD-chain walk), then every pixel read and the
 * derived operations (slice copy, conversion).
 *
 * Built twice: FUZZ_IMAGE_TIFF keeps only inputs starting with a TIFF
 * magic, FUZZ_IMAGE_STB only PNG/JPEG/BMP ones, so that each run spends its
 * time in one decoder. The decoded-size limit is lowered to 16 MiB to stay
 * within libFuzzer's memory budget; the limit logic is the same. */
#include <string.h>

#include "fuzz_common.h"
#include "i2igalip.h"

static fz_file file;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_file_init(&file, "fuzz-image");
    return 0;
}

static int wanted(const uint8_t *d, size_t n)
{
    int tiff = n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4) ||
                          !memcmp(d, "II+\0", 4) || !memcmp(d, "MM\0+", 4));
#if defined(FUZZ_IMAGE_TIFF)
    return tiff;
#elif defined(FUZZ_IMAGE_STB)
    return !tiff;
#else
    return 1;
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!wanted(data, size)) return -1; /* not added to the corpus */
    fz_file_set(&file, data, size);
    i2ig_image *img = NULL;
    i2ig_status st = i2ig_image_load_limited(file.path, (uint64_t)16 << 20, &img);
    if (st != I2IG_OK) {
        if (img) abort();
        return 0;
    }
    i2ig_dtype dt = i2ig_image_dtype(img);
    size_t w = i2ig_image_width(img), h = i2ig_image_height(img), s = i2ig_image_slices(img);
    size_t es = i2ig_dtype_size(dt);
    if (!w || !h || !s || !es) abort(); /* a loaded image is never empty */
    for (size_t k = 0; k < s; k++) fz_use(i2ig_image_const_data(img, k), w * h * es);
    if (i2ig_image_const_data(img, s) != NULL) abort();
    double sx, sy;
    i2ig_image_spacing(img, &sx, &sy);
    if (!(sx >= 0) || !(sy >= 0)) abort();
    i2ig_image *one = NULL, *conv = NULL;
    if (i2ig_image_extract_slice(img, s - 1, &one) == I2IG_OK &&
        i2ig_image_convert(one, I2IG_DTYPE_U8, 0, 1000, &conv) == I2IG_OK)
        fz_use(i2ig_image_const_data(conv, 0), w * h);
    i2ig_image_free(conv);
    i2ig_image_free(one);
    i2ig_image_free(img);
    return 0;
}
