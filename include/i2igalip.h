/**
 * @file i2igalip.h
 * libi2igalip -- unsupervised medical image-to-image translation (I2I-Galip).
 *
 * This header is the whole contract of the library: every public type,
 * function and constant is declared here and nowhere else.
 *
 * Conventions
 *  - Every fallible call returns an i2ig_status. I2IG_OK is 0; the other
 *    values are pinned and never renumbered. i2ig_status_string() names a
 *    status; i2ig_last_error() gives the detail of the last failure on the
 *    calling thread ("weights.i2ig: tensor 'x': shape 1x32x3x3 expected ...").
 *  - Objects are opaque handles created by *_create / *_load / *_open and
 *    released by the matching *_free. Every *_free accepts NULL.
 *  - No public struct is passed by value. Option structs start with a
 *    struct_size field so that they can grow without breaking the ABI.
 *  - Thread model: a handle is used by one thread at a time; different
 *    handles are independent and may be used concurrently. The library has
 *    no mutable global state; the last-error message is thread-local.
 *  - The library never prints, never exits and never aborts on user input.
 *
 * Copyright 2026 the libi2igalip authors. SPDX-License-Identifier: Apache-2.0
 */
#ifndef I2IGALIP_H
#define I2IGALIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Export and version                                                         */
/* ------------------------------------------------------------------------ */

#if defined(I2IG_BUILDING_LIBRARY) && defined(__GNUC__)
#define I2IG_API __attribute__((visibility("default")))
#else
/** Marks the exported functions of the library (default visibility when the
 *  library itself is built; empty for users of the header). */
#define I2IG_API
#endif

/** Major version: the soname (libi2igalip.so.MAJOR) follows it; it changes
 *  only when the ABI breaks. */
#define I2IG_VERSION_MAJOR 0
/** Minor version: bumped by additions (functions, status codes, fields at
 *  the end of option structs). */
#define I2IG_VERSION_MINOR 2
/** Patch version: fixes without interface change. */
#define I2IG_VERSION_PATCH 0
/** MAJOR*10000 + MINOR*100 + PATCH, as returned by i2ig_version(). */
#define I2IG_VERSION_NUMBER \
    (I2IG_VERSION_MAJOR * 10000 + I2IG_VERSION_MINOR * 100 + I2IG_VERSION_PATCH)

/** Runtime version of the loaded library (compare with I2IG_VERSION_NUMBER). */
I2IG_API unsigned i2ig_version(void);
/** Runtime version as "MAJOR.MINOR.PATCH". Static storage; never NULL. */
I2IG_API const char *i2ig_version_string(void);

/** Optional parts compiled into this build, see i2ig_build_features(). */
#define I2IG_FEATURE_TRAINING 0x1u
/** Bit set of I2IG_FEATURE_* available in the loaded library. */
I2IG_API unsigned i2ig_build_features(void);

/* ------------------------------------------------------------------------ */
/* Status codes (values pinned; new codes are only ever appended)            */
/* ------------------------------------------------------------------------ */

/** Result of every fallible call: I2IG_OK or the reason of the failure
 *  (details in i2ig_last_error()). */
typedef enum i2ig_status {
    I2IG_OK = 0,                   /**< success                             */
    I2IG_ERR_INVALID_ARGUMENT = 1, /**< NULL handle, bad enum, bad size...   */
    I2IG_ERR_OUT_OF_MEMORY = 2,    /**< an allocation failed                 */
    I2IG_ERR_IO = 3,               /**< open/read/write/fsync/rename failed  */
    I2IG_ERR_BAD_MAGIC = 4,        /**< not a weight file                    */
    I2IG_ERR_VERSION = 5,          /**< format version newer than supported  */
    I2IG_ERR_TRUNCATED = 6,        /**< file shorter than its header says    */
    I2IG_ERR_OUT_OF_RANGE = 7,     /**< offset or size outside the file      */
    I2IG_ERR_OVERLAP = 8,          /**< two tensors share bytes              */
    I2IG_ERR_DUPLICATE = 9,        /**< duplicate tensor or metadata name    */
    I2IG_ERR_ALIGNMENT = 10,       /**< tensor data not aligned as required  */
    I2IG_ERR_DIMENSIONS = 11,      /**< absurd dimensions or size overflow   */
    I2IG_ERR_DTYPE = 12,           /**< unknown or unsupported element type  */
    I2IG_ERR_CHECKSUM = 13,        /**< checksum mismatch                    */
    I2IG_ERR_MISSING_TENSOR = 14,  /**< a required tensor is absent          */
    I2IG_ERR_SHAPE = 15,           /**< a tensor or buffer has the wrong shape */
    I2IG_ERR_METADATA = 16,        /**< metadata missing, mistyped, malformed */
    I2IG_ERR_IMAGE_FORMAT = 17,    /**< corrupt or undecodable image file    */
    I2IG_ERR_UNSUPPORTED = 18,     /**< valid input of a kind not supported  */
    I2IG_ERR_TOO_LARGE = 19,       /**< exceeds a configured size limit      */
    I2IG_ERR_NOT_FINITE = 20,      /**< NaN or infinity where not allowed    */
    I2IG_ERR_UNKNOWN_DOMAIN = 21,  /**< domain name not in the model         */
    I2IG_ERR_TEXT = 22,            /**< invalid UTF-8 or prompt too long     */
    I2IG_ERR_MODEL_MISMATCH = 23,  /**< files that do not belong together    */
    I2IG_ERR_BACKEND = 24,         /**< the compute backend (oneDNN) failed  */
    I2IG_ERR_CANCELLED = 25,       /**< stopped by the caller's cancel flag  */
    I2IG_ERR_NOT_BUILT = 26,       /**< feature not compiled into this build */
    I2IG_ERR_INTERNAL = 27         /**< a bug in the library: please report  */
} i2ig_status;

/** Stable English name of a status ("checksum mismatch"). Never NULL. */
I2IG_API const char *i2ig_status_string(i2ig_status status);

/**
 * Detail message of the most recent failing call made on this thread, or ""
 * if none failed yet. The text stays valid until the next failing call on
 * the same thread.
 */
I2IG_API const char *i2ig_last_error(void);

/* ------------------------------------------------------------------------ */
/* Element types                                                              */
/* ------------------------------------------------------------------------ */

/** Element types of tensors (f32, f16, bf16) and of image pixels
 *  (u8, u16, i16, f32). Values pinned. */
typedef enum i2ig_dtype {
    I2IG_DTYPE_F32 = 1,
    I2IG_DTYPE_F16 = 2,
    I2IG_DTYPE_BF16 = 3,
    I2IG_DTYPE_U8 = 4,
    I2IG_DTYPE_U16 = 5,
    I2IG_DTYPE_I16 = 6
} i2ig_dtype;

/** Size in bytes of one element of dtype, 0 for an unknown dtype. */
I2IG_API size_t i2ig_dtype_size(i2ig_dtype dtype);
/** Short name ("f32", "u16", ...), "?" for an unknown dtype. */
I2IG_API const char *i2ig_dtype_name(i2ig_dtype dtype);

/* ------------------------------------------------------------------------ */
/* Weight files (.i2ig): reader                                               */
/* ------------------------------------------------------------------------ */

/** An open weight file: validated header, metadata and tensor table, with
 *  the tensor data memory-mapped. Read-only; safe to share between threads
 *  once opened. */
typedef struct i2ig_weights i2ig_weights;

/** Highest weight-file format version this library reads and writes. */
#define I2IG_WEIGHTS_FORMAT_VERSION 1
/** Maximum number of dimensions of a stored tensor. */
#define I2IG_MAX_DIMS 8

/** Flags for i2ig_weights_open(). */
#define I2IG_OPEN_VERIFY_ALL 0x1u /**< check every tensor checksum at open */

/**
 * Opens and validates a weight file. The header, metadata and tensor table
 * are fully checked (magic, version, sizes, ranges, overlaps, alignment,
 * names, dtypes, header checksum) before any tensor data is touched; tensor
 * checksums are checked on first access of each tensor, or all at open with
 * I2IG_OPEN_VERIFY_ALL.
 */
I2IG_API i2ig_status i2ig_weights_open(const char *path, unsigned flags,
                                       i2ig_weights **out);
/** Closes a weight file and unmaps its data (pointers from it become
 *  invalid). NULL is a no-op. */
I2IG_API void i2ig_weights_free(i2ig_weights *weights);

/** Checks the checksum of every tensor. */
I2IG_API i2ig_status i2ig_weights_verify(i2ig_weights *weights);

/** Format version of the open file. */
I2IG_API uint32_t i2ig_weights_format_version(const i2ig_weights *weights);

/** Description of one stored tensor. Set struct_size before the call. */
typedef struct i2ig_tensor_info {
    size_t struct_size;       /**< sizeof(i2ig_tensor_info), set by caller */
    const char *name;         /**< NUL-terminated, owned by the handle     */
    i2ig_dtype dtype;         /**< stored element type: f32, f16 or bf16   */
    uint32_t ndim;            /**< number of dimensions, 1..I2IG_MAX_DIMS  */
    uint64_t shape[I2IG_MAX_DIMS]; /**< sizes of the ndim dimensions        */
    uint64_t offset;          /**< byte offset from the start of the file  */
    uint64_t nbytes;          /**< stored size in bytes                    */
    uint32_t crc32;           /**< CRC-32 (zlib) of the stored bytes        */
} i2ig_tensor_info;

/** Number of tensors in the file. */
I2IG_API size_t i2ig_weights_tensor_count(const i2ig_weights *weights);
/** Describes the index-th tensor (file order, 0-based); info->struct_size
 *  must be set. I2IG_ERR_OUT_OF_RANGE for a bad index. */
I2IG_API i2ig_status i2ig_weights_tensor_info(const i2ig_weights *weights,
                                              size_t index,
                                              i2ig_tensor_info *info);
/** Index of the tensor called name; I2IG_ERR_MISSING_TENSOR if absent. */
I2IG_API i2ig_status i2ig_weights_find(const i2ig_weights *weights,
                                       const char *name, size_t *index);
/**
 * Pointer to the stored bytes of a tensor (little-endian, row-major, in its
 * stored dtype), valid until i2ig_weights_free(). The tensor checksum is
 * verified on the first call for each tensor.
 */
I2IG_API i2ig_status i2ig_weights_tensor_data(i2ig_weights *weights,
                                              size_t index, const void **data);
/**
 * Copies the tensor called name into dst as f32 (converting f16/bf16),
 * after checking that its shape is exactly shape[0..ndim-1].
 * I2IG_ERR_MISSING_TENSOR / I2IG_ERR_SHAPE name the tensor and both shapes.
 */
I2IG_API i2ig_status i2ig_weights_read_f32(i2ig_weights *weights,
                                           const char *name, uint32_t ndim,
                                           const uint64_t *shape, float *dst);

/** Types of metadata values. Values pinned. */
typedef enum i2ig_meta_type {
    I2IG_META_INT = 1,          /**< int64                                  */
    I2IG_META_FLOAT = 2,        /**< float64                                */
    I2IG_META_STRING = 3,       /**< UTF-8 string                           */
    I2IG_META_INT_ARRAY = 4,    /**< int64[]                                */
    I2IG_META_FLOAT_ARRAY = 5,  /**< float64[]                              */
    I2IG_META_STRING_ARRAY = 6  /**< UTF-8 string[]                         */
} i2ig_meta_type;

/** Number of metadata entries in the file. */
I2IG_API size_t i2ig_weights_meta_count(const i2ig_weights *weights);
/** Key and type of the index-th metadata entry (file order). */
I2IG_API i2ig_status i2ig_weights_meta_entry(const i2ig_weights *weights,
                                             size_t index, const char **key,
                                             i2ig_meta_type *type);
/** Typed getters; I2IG_ERR_METADATA if the key is absent or of another
 *  type. Returned pointers are owned by the handle. */
I2IG_API i2ig_status i2ig_weights_meta_int(const i2ig_weights *weights,
                                           const char *key, int64_t *value);
/** FLOAT metadata value of key (see i2ig_weights_meta_int()). */
I2IG_API i2ig_status i2ig_weights_meta_float(const i2ig_weights *weights,
                                             const char *key, double *value);
/** STRING metadata value of key, NUL-terminated UTF-8 owned by the handle. */
I2IG_API i2ig_status i2ig_weights_meta_string(const i2ig_weights *weights,
                                              const char *key,
                                              const char **value);
/** INT_ARRAY metadata value of key: *values (owned by the handle) and
 *  *count elements. */
I2IG_API i2ig_status i2ig_weights_meta_int_array(const i2ig_weights *weights,
                                                 const char *key,
                                                 const int64_t **values,
                                                 size_t *count);
/** FLOAT_ARRAY metadata value of key: *values (owned by the handle) and
 *  *count elements. */
I2IG_API i2ig_status i2ig_weights_meta_float_array(
    const i2ig_weights *weights, const char *key, const double **values,
    size_t *count);
/** STRING_ARRAY metadata value of key: *count NUL-terminated UTF-8
 *  strings, owned by the handle. */
I2IG_API i2ig_status i2ig_weights_meta_string_array(
    const i2ig_weights *weights, const char *key,
    const char *const **values, size_t *count);

/* ------------------------------------------------------------------------ */
/* Weight files (.i2ig): writer                                               */
/* ------------------------------------------------------------------------ */

/** Collects metadata and tensors, then writes a file atomically: to a
 *  temporary file in the same folder, fsync, rename, fsync of the folder.
 *  A crash never leaves a partial file under the final name. */
typedef struct i2ig_weights_writer i2ig_weights_writer;

/** Creates an empty writer. */
I2IG_API i2ig_status i2ig_weights_writer_create(i2ig_weights_writer **out);
/** Releases a writer (and its copies of the tensors). NULL is a no-op. */
I2IG_API void i2ig_weights_writer_free(i2ig_weights_writer *writer);

/** Metadata setters. Keys are non-empty UTF-8; each key can be set once
 *  (again: I2IG_ERR_DUPLICATE). File order is the order of the calls. */
I2IG_API i2ig_status i2ig_weights_writer_set_int(i2ig_weights_writer *writer,
                                                 const char *key,
                                                 int64_t value);
/** Sets a FLOAT (float64) metadata entry. */
I2IG_API i2ig_status i2ig_weights_writer_set_float(
    i2ig_weights_writer *writer, const char *key, double value);
/** Sets a STRING metadata entry (valid UTF-8, copied). */
I2IG_API i2ig_status i2ig_weights_writer_set_string(
    i2ig_weights_writer *writer, const char *key, const char *value);
/** Sets an INT_ARRAY metadata entry of count values (copied). */
I2IG_API i2ig_status i2ig_weights_writer_set_int_array(
    i2ig_weights_writer *writer, const char *key, const int64_t *values,
    size_t count);
/** Sets a FLOAT_ARRAY metadata entry of count values (copied). */
I2IG_API i2ig_status i2ig_weights_writer_set_float_array(
    i2ig_weights_writer *writer, const char *key, const double *values,
    size_t count);
/** Sets a STRING_ARRAY metadata entry of count UTF-8 strings (copied). */
I2IG_API i2ig_status i2ig_weights_writer_set_string_array(
    i2ig_weights_writer *writer, const char *key, const char *const *values,
    size_t count);

/** Flags for i2ig_weights_writer_add_tensor(). */
#define I2IG_ADD_BORROW 0x1u /**< do not copy: data stays valid until the
                                  writer is freed */

/**
 * Adds a tensor. data holds prod(shape) elements of src_dtype; they are
 * stored as store_dtype (f32, f16 or bf16; f32 -> f16/bf16 rounds to
 * nearest even). Without I2IG_ADD_BORROW the data is copied.
 */
I2IG_API i2ig_status i2ig_weights_writer_add_tensor(
    i2ig_weights_writer *writer, const char *name, i2ig_dtype store_dtype,
    uint32_t ndim, const uint64_t *shape, i2ig_dtype src_dtype,
    const void *data, unsigned flags);

/** Writes the file atomically (see above). The writer stays usable. */
I2IG_API i2ig_status i2ig_weights_writer_write(i2ig_weights_writer *writer,
                                               const char *path);

/* ------------------------------------------------------------------------ */
/* Images: 2-D slices and stacks of slices                                    */
/* ------------------------------------------------------------------------ */

/**
 * A stack of `slices` images of width x height pixels of one dtype (u8, u16,
 * i16 or f32), row-major, tightly packed, slice after slice. Values keep the
 * native range of the file (CT stays in Hounsfield units).
 */
typedef struct i2ig_image i2ig_image;

/** Image file formats. Values pinned. */
typedef enum i2ig_file_format {
    I2IG_FORMAT_AUTO = 0, /**< by content when reading, by extension when writing */
    I2IG_FORMAT_PNG = 1,
    I2IG_FORMAT_JPEG = 2,
    I2IG_FORMAT_BMP = 3,
    I2IG_FORMAT_TIFF = 4
} i2ig_file_format;

/** Creates a zero-filled image. */
I2IG_API i2ig_status i2ig_image_create(i2ig_dtype dtype, size_t width,
                                       size_t height, size_t slices,
                                       i2ig_image **out);
/** Releases an image. NULL is a no-op. */
I2IG_API void i2ig_image_free(i2ig_image *image);

/** Default decoded-size limit of i2ig_image_load(): 1 GiB. */
#define I2IG_IMAGE_DEFAULT_MAX_BYTES ((uint64_t)1 << 30)

/**
 * Reads PNG, JPEG or BMP (through stb_image) or TIFF (through libtiff),
 * recognised by content. PNG 16-bit stays u16; colour images become one
 * channel by the luma rule Y = 0.299 R + 0.587 G + 0.114 B (rounded, in the
 * file's bit depth), alpha is ignored. TIFF: 8/16-bit unsigned, 16-bit
 * signed, 32-bit float, grey or RGB, every page one slice. Files whose
 * decoded size would exceed I2IG_IMAGE_DEFAULT_MAX_BYTES are refused with
 * I2IG_ERR_TOO_LARGE before anything large is allocated.
 * Details: the integer luma is (299 R + 587 G + 114 B + 500) / 1000; PNG
 * samples below 8 bits are scaled to 8 (1-bit: 0/255); TIFF min-is-white
 * (unsigned) is inverted to max - v; 8-bit TIFF palettes give the luma of
 * round(entry / 257); reduced-resolution (thumbnail) TIFF pages are
 * skipped. Pixel spacing comes from PNG pHYs (per metre) and TIFF X/Y
 * resolution in inch or centimetre units, else 0. The size limit bounds
 * every buffer decoding needs: the image, and the decoder's own buffer
 * (all channels of a colour PNG/JPEG/BMP, one TIFF strip or tile).
 */
I2IG_API i2ig_status i2ig_image_load(const char *path, i2ig_image **out);
/** As i2ig_image_load() with an explicit decoded-size limit in bytes. */
I2IG_API i2ig_status i2ig_image_load_limited(const char *path,
                                             uint64_t max_bytes,
                                             i2ig_image **out);

/**
 * Writes an image atomically (temporary file + fsync + rename). PNG takes
 * one slice of u8 or u16; TIFF takes any dtype and any number of slices
 * (one page each, deflate-compressed). format AUTO picks by extension
 * (.png, .tif/.tiff).
 */
I2IG_API i2ig_status i2ig_image_save(const i2ig_image *image, const char *path,
                                     i2ig_file_format format);

/** Pixel type of the image (u8, u16, i16 or f32). */
I2IG_API i2ig_dtype i2ig_image_dtype(const i2ig_image *image);
/** Pixels per row. */
I2IG_API size_t i2ig_image_width(const i2ig_image *image);
/** Rows per slice. */
I2IG_API size_t i2ig_image_height(const i2ig_image *image);
/** Number of slices (1 for a 2-D image). */
I2IG_API size_t i2ig_image_slices(const i2ig_image *image);
/** Pointer to the first pixel of a slice, NULL if slice is out of range. */
I2IG_API void *i2ig_image_data(i2ig_image *image, size_t slice);
/** Read-only pointer to the first pixel of a slice, NULL if slice is out
 *  of range. */
I2IG_API const void *i2ig_image_const_data(const i2ig_image *image,
                                           size_t slice);

/** Pixel spacing in millimetres (x = between columns, y = between rows);
 *  0 when the file did not say. */
I2IG_API void i2ig_image_spacing(const i2ig_image *image, double *x_mm,
                                 double *y_mm);
/** Sets the pixel spacing in millimetres (finite, >= 0; 0 = unknown). */
I2IG_API i2ig_status i2ig_image_set_spacing(i2ig_image *image, double x_mm,
                                            double y_mm);

/** New image holding a copy of one slice. */
I2IG_API i2ig_status i2ig_image_extract_slice(const i2ig_image *image,
                                              size_t slice, i2ig_image **out);
/**
 * New image of dtype whose values are the source values mapped linearly
 * from [lo, hi] to the full range of dtype (to [0, 1] for f32), clamped,
 * rounded to nearest. For display: e.g. a CT window to 8-bit grey.
 */
I2IG_API i2ig_status i2ig_image_convert(const i2ig_image *image,
                                        i2ig_dtype dtype, double lo,
                                        double hi, i2ig_image **out);

/** Image similarity of one slice pair, as the I2I-Galip evaluation computes
 *  it. Set struct_size before the call. */
typedef struct i2ig_metrics {
    size_t struct_size;  /**< sizeof(i2ig_metrics)                          */
    double psnr;         /**< dB, data range 1                              */
    double ssim;         /**< scikit-image structural_similarity            */
    double mae;          /**< mean absolute error                           */
} i2ig_metrics;

/**
 * Compares slice `slice` of a test image with the same slice of a
 * reference image of the same size (any dtypes): each slice is first
 * divided by its own maximum (the reference's utils/psnr.py); then PSNR
 * with data range 1, SSIM exactly as scikit-image's
 * structural_similarity(gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=1) (11x11 Gaussian window,
 * reflect borders, the 5-pixel border left out of the mean), and the mean
 * absolute error. Slices smaller than 11x11, or whose maximum is not
 * positive, give I2IG_ERR_DIMENSIONS / I2IG_ERR_INVALID_ARGUMENT.
 */
I2IG_API i2ig_status i2ig_image_compare(const i2ig_image *test, const i2ig_image *reference,
                                        size_t slice, i2ig_metrics *metrics);

/* ------------------------------------------------------------------------ */
/* Model handles                                                              */
/* ------------------------------------------------------------------------ */

/** Frozen BiomedCLIP encoder: ViT vision tower and BERT text tower. */
typedef struct i2ig_encoder i2ig_encoder;
/** The translation U-Net shared by every domain pair. */
typedef struct i2ig_generator i2ig_generator;
/** Projected multi-domain discriminator heads on encoder features. */
typedef struct i2ig_discriminator i2ig_discriminator;
/** Unpaired multi-domain training (only in builds with
 *  I2IG_FEATURE_TRAINING). */
typedef struct i2ig_trainer i2ig_trainer;

/* ------------------------------------------------------------------------ */
/* Encoder: frozen BiomedCLIP (ViT vision tower, BERT text tower)             */
/* ------------------------------------------------------------------------ */

/**
 * Loads an encoder weight file (made by tools/convert/biomedclip_to_i2ig.py
 * from the published open_clip checkpoint, or a small random one for
 * tests). Its architecture is read from the file's metadata.
 */
I2IG_API i2ig_status i2ig_encoder_load(const char *path, i2ig_encoder **out);
/** Releases an encoder (a trainer borrowing it must be freed first). NULL
 *  is a no-op. */
I2IG_API void i2ig_encoder_free(i2ig_encoder *encoder);
/** Threads used by the encoder's kernels (default 1). */
I2IG_API i2ig_status i2ig_encoder_set_threads(i2ig_encoder *encoder, int threads);

/** Architecture of a loaded encoder. Set struct_size before the call. */
typedef struct i2ig_encoder_info {
    size_t struct_size;     /**< sizeof(i2ig_encoder_info), set by caller */
    int image_size;         /**< ViT input side (224)                      */
    int patch_size;         /**< 16                                        */
    int vision_width;       /**< 768                                       */
    int vision_depth;       /**< 12                                        */
    int vision_heads;       /**< 12                                        */
    int tokens;             /**< patch tokens per image (196)              */
    int embed_dim;          /**< joint embedding size (512)                */
    int n_taps;             /**< tapped blocks (4: blocks 2, 5, 8, 11)     */
    int taps[8];            /**< indices of the tapped blocks (n_taps used) */
    int n_cls;              /**< class tokens returned (4: blocks 11..8)   */
    int context_length;     /**< text tokens (256)                         */
    int text_width;         /**< 768                                       */
    int text_depth;         /**< 12                                        */
    int vocab_size;         /**< WordPiece vocabulary entries (30522)      */
} i2ig_encoder_info;

/** Fills info (whose struct_size must be set) with the encoder's
 *  architecture. */
I2IG_API i2ig_status i2ig_encoder_get_info(const i2ig_encoder *encoder,
                                           i2ig_encoder_info *info);

/**
 * Encodes n single-channel images of width x height (float, values in
 * [0,1], row-major, image after image) exactly as BiomedCLIP's
 * preprocessing does: tiled to 3 channels, bicubic antialiased resize to
 * image_size, CLIP mean/std normalisation. Any output may be NULL.
 *  - embedding: n x embed_dim, the projected class token of the last block
 *    (not normalised);
 *  - taps: n x n_taps x tokens x vision_width, the patch tokens of the
 *    tapped blocks after the final LayerNorm;
 *  - cls: n x n_cls x vision_width, the class tokens of the last n_cls
 *    blocks (last first) after the final LayerNorm.
 * NaN/Inf pixels give I2IG_ERR_NOT_FINITE.
 */
I2IG_API i2ig_status i2ig_encoder_encode_image(i2ig_encoder *encoder, const float *images,
                                               size_t n, size_t width, size_t height,
                                               float *embedding, float *taps, float *cls);
/**
 * Gradient of a loss with respect to the input images, given the loss's
 * gradients with respect to the outputs of i2ig_encoder_encode_image()
 * (each may be NULL = zero). d_images receives n x height x width floats.
 * The encoder's weights are frozen: no weight gradient is computed.
 */
I2IG_API i2ig_status i2ig_encoder_image_grad(i2ig_encoder *encoder, const float *images, size_t n,
                                             size_t width, size_t height,
                                             const float *d_embedding, const float *d_taps,
                                             const float *d_cls, float *d_images);

/**
 * Tokenizes a UTF-8 prompt with the encoder's WordPiece vocabulary (BERT
 * uncased rules) into exactly context_length ids: [CLS] tokens [SEP] then
 * [PAD]. A prompt that does not fit gives I2IG_ERR_TEXT; so does invalid
 * UTF-8. *n_tokens (may be NULL) receives the count before padding.
 */
I2IG_API i2ig_status i2ig_encoder_tokenize(const i2ig_encoder *encoder, const char *prompt,
                                           int32_t *ids, size_t *n_tokens);
/**
 * Encodes a prompt: context receives context_length x text_width floats
 * (the last hidden state at every position, padding included: the
 * generator's cross-attention context); embedding receives embed_dim
 * floats (the projected [CLS] state, not normalised). Either may be NULL.
 */
I2IG_API i2ig_status i2ig_encoder_encode_text(i2ig_encoder *encoder, const char *prompt,
                                              float *context, float *embedding);

/* ------------------------------------------------------------------------ */
/* Generator and translation (the inference entry point)                      */
/* ------------------------------------------------------------------------ */

/** How a domain's native pixel values map to the generator's [0,1] range
 *  and back. Values pinned. */
typedef enum i2ig_mapping_kind {
    /** Fixed window: x = clamp((v - lo) / (hi - lo), 0, 1); back:
     *  v = lo + x (hi - lo). For CT (Hounsfield units). */
    I2IG_MAPPING_WINDOW = 1,
    /** Robust per-slice scale for MR: x = clamp((v - q_lo) / (q_hi - q_lo),
     *  0, 1) with q_lo, q_hi the p_lo-th and p_hi-th percentiles of the
     *  slice; back: v = lo + x (hi - lo) with the domain's typical range. */
    I2IG_MAPPING_PERCENTILE = 2
} i2ig_mapping_kind;

/** A domain's intensity mapping (see ::i2ig_mapping_kind). */
typedef struct i2ig_intensity_mapping {
    size_t struct_size;      /**< sizeof(i2ig_intensity_mapping)            */
    i2ig_mapping_kind kind;  /**< window or percentile                      */
    double lo, hi;           /**< native values of 0 and 1 (output side)    */
    double p_lo, p_hi;       /**< percentiles in [0,100] (PERCENTILE only)  */
} i2ig_intensity_mapping;
/** @var i2ig_intensity_mapping::lo
 *  Native value of 0 (a window's lower end; the output value of 0). */
/** @var i2ig_intensity_mapping::hi
 *  Native value of 1 (a window's upper end; the output value of 1). */
/** @var i2ig_intensity_mapping::p_lo
 *  Lower percentile in [0,100] of each input slice (PERCENTILE only). */
/** @var i2ig_intensity_mapping::p_hi
 *  Upper percentile in [0,100] of each input slice (PERCENTILE only). */

/** Generator architecture; see i2ig_generator_config_init() for the paper
 *  configuration (14,127,617 parameters). */
typedef struct i2ig_generator_config {
    size_t struct_size;      /**< sizeof(i2ig_generator_config)             */
    int in_channels, out_channels;
    int model_channels;      /**< 32                                        */
    int n_levels;            /**< 6                                         */
    int channel_mult[8];     /**< 1,1,2,2,4,4                               */
    int num_res_blocks;      /**< 2                                         */
    int n_attention;         /**< 3                                         */
    int attention_ds[8];     /**< down-sampling factors with attention: 8,16,32 */
    int head_channels;       /**< 32                                        */
    int context_dim;         /**< 768 (prompt token width)                  */
    int num_classes;         /**< label embedding rows (3)                  */
} i2ig_generator_config;
/** @var i2ig_generator_config::in_channels
 *  Image channels in (1). */
/** @var i2ig_generator_config::out_channels
 *  Image channels out (1). */

/** Fills c (whose struct_size must be set) with the paper configuration. */
I2IG_API i2ig_status i2ig_generator_config_init(i2ig_generator_config *c);

/** Loads a generator model file (weights, architecture and domains). */
I2IG_API i2ig_status i2ig_generator_load(const char *path, i2ig_generator **out);
/** Creates a randomly initialised generator (the reference initialisation,
 *  seeded) with no domains; for tests, benchmarks and training. */
I2IG_API i2ig_status i2ig_generator_create(const i2ig_generator_config *config, uint64_t seed,
                                           i2ig_generator **out);
/** Releases a generator. NULL is a no-op. */
I2IG_API void i2ig_generator_free(i2ig_generator *generator);
/** Writes the model (atomically) with its domains. */
I2IG_API i2ig_status i2ig_generator_save(const i2ig_generator *generator, const char *path);
/** Threads used by the generator's kernels (default 1). */
I2IG_API i2ig_status i2ig_generator_set_threads(i2ig_generator *generator, int threads);
/** Fills config (whose struct_size must be set) with the architecture. */
I2IG_API i2ig_status i2ig_generator_get_config(const i2ig_generator *generator,
                                               i2ig_generator_config *config);
/** Number of scalar weights. */
I2IG_API size_t i2ig_generator_parameter_count(const i2ig_generator *generator);
/** Width and height given to i2ig_generator_forward() must be multiples of
 *  this (32 for the paper configuration); i2ig_translate() pads for you. */
I2IG_API size_t i2ig_generator_size_multiple(const i2ig_generator *generator);

/**
 * Adds (or replaces) a domain: its name ("T1", "CT", ...), prompt, class
 * label (row of the label embedding), the prompt's token states
 * (context_length x context_dim floats, as i2ig_encoder_encode_text()
 * returns them), its text embedding (embed_dim floats) and its intensity
 * mapping. The context width must equal the configuration's context_dim
 * (else I2IG_ERR_MODEL_MISMATCH).
 */
I2IG_API i2ig_status i2ig_generator_add_domain(i2ig_generator *generator, const char *name,
                                               const char *prompt, int label,
                                               const float *context, size_t context_length,
                                               const float *text_embedding, size_t embed_dim,
                                               const i2ig_intensity_mapping *mapping);
/** Same, with the prompt encoded by the encoder's text tower. */
I2IG_API i2ig_status i2ig_generator_add_domain_encoded(i2ig_generator *generator,
                                                       i2ig_encoder *encoder, const char *name,
                                                       const char *prompt, int label,
                                                       const i2ig_intensity_mapping *mapping);
/** Number of domains of the model. */
I2IG_API size_t i2ig_generator_domain_count(const i2ig_generator *generator);
/** Name of the index-th domain, NULL when out of range. */
I2IG_API const char *i2ig_generator_domain_name(const i2ig_generator *generator, size_t index);
/** Prompt, label and mapping of a domain (any output may be NULL);
 *  I2IG_ERR_UNKNOWN_DOMAIN lists the known names. */
I2IG_API i2ig_status i2ig_generator_domain_info(const i2ig_generator *generator,
                                                const char *name, const char **prompt,
                                                int *label, i2ig_intensity_mapping *mapping);

/**
 * The raw model: n single-channel images of width x height in the
 * generator's [0,1] space (width, height multiples of
 * i2ig_generator_size_multiple()) to the target domain, in the same space.
 */
I2IG_API i2ig_status i2ig_generator_forward(i2ig_generator *generator, const float *images,
                                            size_t n, size_t width, size_t height,
                                            const char *target, float *out);

/** Called after each translated slice; return non-zero to cancel (the call
 *  then returns I2IG_ERR_CANCELLED). */
typedef int (*i2ig_progress_fn)(void *user, size_t done, size_t total);
/** Installs (fn != NULL) or removes (fn == NULL) the progress callback of
 *  i2ig_translate() and i2ig_translate_image(); user is passed back. */
I2IG_API i2ig_status i2ig_generator_set_progress(i2ig_generator *generator,
                                                 i2ig_progress_fn fn, void *user);

/**
 * Translates `slices` slices of width x height pixels of dtype (u8, u16,
 * i16 or f32; row-major, slice after slice) from the source domain to the
 * target domain, writing the same dtype and size to out (which must not
 * overlap in). Each slice is mapped to [0,1] by the source domain's
 * mapping, padded to a multiple of the size multiple by reflection,
 * translated, cropped back and mapped to the target domain's native range
 * (rounded and clamped to the dtype). source may be NULL when the model
 * has exactly two domains. Same input and thread count give bit-identical
 * output. NaN or infinite pixels give I2IG_ERR_NOT_FINITE.
 */
I2IG_API i2ig_status i2ig_translate(i2ig_generator *generator, const char *source,
                                    const char *target, i2ig_dtype dtype, const void *in,
                                    size_t width, size_t height, size_t slices, void *out);
/** i2ig_translate() on an image handle; *out is a new image (same dtype,
 *  size and spacing). */
I2IG_API i2ig_status i2ig_translate_image(i2ig_generator *generator, const char *source,
                                          const char *target, const i2ig_image *in,
                                          i2ig_image **out);
/* ------------------------------------------------------------------------ */
/* Discriminator                                                              */
/* ------------------------------------------------------------------------ */

/** Discriminator architecture; i2ig_discriminator_config_init() gives the
 *  reference configuration (5,984,896 parameters per head). */
typedef struct i2ig_discriminator_config {
    size_t struct_size;  /**< sizeof(i2ig_discriminator_config)               */
    int num_classes;     /**< head sets, one per domain label (3)            */
    int n_taps;          /**< heads per set, one per tapped ViT block (4)    */
    int width;           /**< feature channels (768)                         */
    int text_dim;        /**< text embedding size (512)                      */
    int cmap_dim;        /**< projection size (64)                           */
    int kernel_size;     /**< residual convolution, circular (9)             */
    int sum_channels;    /**< 0: the reference's output, cmap_dim values per
                              token and head; 1: StyleGAN-T's projection
                              summed over them, one value per token          */
} i2ig_discriminator_config;

/** Fills config (whose struct_size must be set) with the reference
 *  configuration. */
I2IG_API i2ig_status i2ig_discriminator_config_init(i2ig_discriminator_config *config);
/** A randomly initialised discriminator (PyTorch's default initialisation
 *  of the reference modules, seeded). */
I2IG_API i2ig_status i2ig_discriminator_create(const i2ig_discriminator_config *config,
                                               uint64_t seed, i2ig_discriminator **out);
/** Loads a discriminator file (or the discriminator of a checkpoint). */
I2IG_API i2ig_status i2ig_discriminator_load(const char *path, i2ig_discriminator **out);
/** Writes the discriminator (weights and spectral-norm state) atomically. */
I2IG_API i2ig_status i2ig_discriminator_save(const i2ig_discriminator *discriminator,
                                             const char *path);
/** Releases a discriminator. NULL is a no-op. */
I2IG_API void i2ig_discriminator_free(i2ig_discriminator *discriminator);
/** Threads used by the discriminator's kernels (default 1). */
I2IG_API i2ig_status i2ig_discriminator_set_threads(i2ig_discriminator *discriminator,
                                                    int threads);
/** Number of trainable scalar weights (every head set). */
I2IG_API size_t i2ig_discriminator_parameter_count(const i2ig_discriminator *discriminator);

/**
 * Logits for n samples. features: n x n_taps x tokens x width floats (the
 * encoder's taps); labels: n domain labels choosing the head set; text:
 * n x text_dim text embeddings of the samples' target domains (normalised
 * inside). logits receives n x n_taps x tokens x cmap_dim floats (x 1 with
 * sum_channels). update_state = 1 runs one spectral-norm power iteration
 * per head call first, as the reference does in training mode; 0 uses the
 * stored state.
 */
I2IG_API i2ig_status i2ig_discriminator_forward(i2ig_discriminator *discriminator,
                                                const float *features, size_t n, size_t tokens,
                                                const int *labels, const float *text,
                                                int update_state, float *logits);
/**
 * Gradient of a loss with respect to the features, given its gradient with
 * respect to the logits (same layout as i2ig_discriminator_forward() fills),
 * with the stored spectral-norm state (no power iteration).
 */
I2IG_API i2ig_status i2ig_discriminator_backward(i2ig_discriminator *discriminator,
                                                 const float *features, size_t n, size_t tokens,
                                                 const int *labels, const float *text,
                                                 const float *d_logits, float *d_features);

/* ------------------------------------------------------------------------ */
/* Training (only in builds with I2IG_FEATURE_TRAINING; an inference-only     */
/* library has none of these symbols)                                         */
/* ------------------------------------------------------------------------ */

/** Training hyper-parameters; i2ig_train_config_init() gives the reference
 *  defaults. */
typedef struct i2ig_train_config {
    size_t struct_size;      /**< sizeof(i2ig_train_config)                  */
    int batch_size;          /**< images per domain and step (4)              */
    int crop_size;           /**< random square crop side, a multiple of the
                                  generator's size multiple; 0 = whole slice,
                                  padded to the multiple (256)               */
    int flip;                /**< random horizontal flips (0)                  */
    uint64_t seed;           /**< data order, crops, flips (40)                */
    double lr_generator;     /**< 2e-4                                        */
    double lr_discriminator; /**< 2e-4                                        */
    double beta1, beta2;     /**< Adam (0.5, 0.99)                            */
    int64_t total_steps;     /**< length of the schedule                      */
    int64_t decay_start;     /**< lr constant before, then linear to 0 at
                                  total_steps (total_steps / 2)               */
    double ema_decay;        /**< 0.99                                        */
    double w_adversarial;    /**< LSGAN generator loss (1)                    */
    double w_cycle;          /**< cycle L1 (10)                               */
    double w_identity;       /**< identity L1 (1)                             */
    double w_clip;           /**< CLIP guidance -cos(image, text) (1)         */
    double w_encoding;       /**< CLIP encoding 1 - cos(class tokens) (1)     */
    int threads;             /**< kernel threads (1)                          */
} i2ig_train_config;
/** @var i2ig_train_config::beta1
 *  Adam's first-moment decay (0.5). */
/** @var i2ig_train_config::beta2
 *  Adam's second-moment decay (0.99). */

/** Fills config (whose struct_size must be set) with the reference
 *  defaults. */
I2IG_API i2ig_status i2ig_train_config_init(i2ig_train_config *config);

/** Losses of one step, each averaged over the batch and summed over the two
 *  translation directions as the reference does. */
typedef struct i2ig_train_losses {
    size_t struct_size;       /**< sizeof(i2ig_train_losses)                */
    int64_t step;             /**< the step just taken (1-based)            */
    double generator;         /**< weighted total the generator minimised  */
    double discriminator;     /**< LSGAN real + fake                        */
    double adversarial, cycle, identity, clip, encoding; /**< unweighted     */
    double lr;                /**< learning rate used for this step         */
} i2ig_train_losses;
/** @var i2ig_train_losses::adversarial
 *  LSGAN generator loss MSE(D(fake), 1), unweighted. */
/** @var i2ig_train_losses::cycle
 *  Cycle-consistency L1, unweighted. */
/** @var i2ig_train_losses::identity
 *  Identity L1, unweighted. */
/** @var i2ig_train_losses::clip
 *  CLIP guidance -cos(image embedding, target text embedding), unweighted. */
/** @var i2ig_train_losses::encoding
 *  CLIP encoding loss 1 - cos(class tokens), unweighted. */

/**
 * Creates a trainer for a new, randomly initialised generator (config,
 * seeded with the train config's seed) and discriminator, guided by the
 * (borrowed, frozen) encoder, which must outlive the trainer. Domains are
 * added next; at least two are needed before the first step.
 */
I2IG_API i2ig_status i2ig_trainer_create(const i2ig_train_config *config,
                                         const i2ig_generator_config *generator,
                                         i2ig_encoder *encoder, i2ig_trainer **out);
/** Releases a trainer (not its borrowed encoder). NULL is a no-op. */
I2IG_API void i2ig_trainer_free(i2ig_trainer *trainer);

/**
 * Adds a domain with its unpaired images: every slice of every given
 * image (a stack is many slices) is one training sample, in native values
 * mapped to [0,1] by mapping. The prompt is encoded with the encoder; the
 * label picks the generator's label embedding row and the discriminator's
 * head set. The images are copied.
 */
I2IG_API i2ig_status i2ig_trainer_add_domain(i2ig_trainer *trainer, const char *name,
                                             const char *prompt, int label,
                                             const i2ig_intensity_mapping *mapping,
                                             const i2ig_image *const *images, size_t n_images);

/** One training step for the domain pair chosen in turn (all ordered pairs
 *  cycle); losses may be NULL. */
I2IG_API i2ig_status i2ig_trainer_step(i2ig_trainer *trainer, i2ig_train_losses *losses);

/** Called after each step of i2ig_trainer_run(); return non-zero to stop
 *  (the run then returns I2IG_ERR_CANCELLED after the step). */
typedef int (*i2ig_train_progress_fn)(void *user, const i2ig_train_losses *losses);

/**
 * Runs steps until total_steps, calling progress after each one. A
 * non-NULL cancel flag is polled between steps; when it becomes non-zero
 * the run stops with I2IG_ERR_CANCELLED, leaving the trainer consistent
 * (a checkpoint can then be written).
 */
I2IG_API i2ig_status i2ig_trainer_run(i2ig_trainer *trainer, i2ig_train_progress_fn progress,
                                      void *user, volatile const int *cancel);

/**
 * Called once per step for each model with every trainable gradient packed
 * into one array (model 0 = generator, 1 = discriminator), before the
 * optimiser uses it: the seam for data-parallel training (e.g. an MPI
 * allreduce averaging the array across processes).
 */
typedef i2ig_status (*i2ig_reduce_fn)(void *user, int model, float *gradients, size_t count);
/** Installs (fn != NULL) or removes the reduce hook; user is passed back. */
I2IG_API i2ig_status i2ig_trainer_set_reduce_hook(i2ig_trainer *trainer, i2ig_reduce_fn fn,
                                                  void *user);

/** Steps taken so far. */
I2IG_API int64_t i2ig_trainer_steps_done(const i2ig_trainer *trainer);
/** The configuration in use (as created, or as stored in a checkpoint). */
I2IG_API i2ig_status i2ig_trainer_get_config(const i2ig_trainer *trainer,
                                             i2ig_train_config *config);
/** Training domains, in the order they were added. */
I2IG_API size_t i2ig_trainer_domain_count(const i2ig_trainer *trainer);
/** Name of the index-th training domain, NULL when out of range. */
I2IG_API const char *i2ig_trainer_domain_name(const i2ig_trainer *trainer, size_t index);
/**
 * Slices in the index-th training domain (every slice of every image added
 * to it, in the order they were added), 0 when out of range.
 * @since 0.2
 */
I2IG_API size_t i2ig_trainer_domain_slices(const i2ig_trainer *trainer, size_t index);

/**
 * Previews the model being trained: the first n slices of the source
 * domain's pool (centred and reflection-padded to the training patch side,
 * no random crop), their translation to the target domain and the cycle
 * back, with the EMA weights (use_ema = 1) or the trained ones; values in
 * [0,1], n x side x side each. Call with input == NULL to learn the side
 * first. Uses no training randomness.
 */
I2IG_API i2ig_status i2ig_trainer_preview(i2ig_trainer *trainer, const char *source,
                                          const char *target, size_t n, int use_ema,
                                          size_t *side, float *input, float *translation,
                                          float *cycle);

/**
 * i2ig_trainer_preview() of chosen slices of the source domain: slices[i]
 * counts the domain's slices in the order they were added (below
 * i2ig_trainer_domain_slices(); I2IG_ERR_OUT_OF_RANGE otherwise), repeats
 * allowed, 1 <= n <= 64. slices may be NULL only when input is NULL (asking
 * for the side). A preview spread through a stack shows more than its first
 * slices, which are often the least typical (the edge of a volume).
 * @since 0.2
 */
I2IG_API i2ig_status i2ig_trainer_preview_slices(i2ig_trainer *trainer, const char *source,
                                                 const char *target, const size_t *slices,
                                                 size_t n, int use_ema, size_t *side,
                                                 float *input, float *translation,
                                                 float *cycle);

/**
 * Writes a checkpoint atomically: generator (trained and EMA weights),
 * discriminator with its spectral-norm state, both Adam states, the step,
 * the data-order random state, the domains (with their images) and the
 * configuration. Resuming from it reproduces the uninterrupted run bit for
 * bit (same thread count).
 */
I2IG_API i2ig_status i2ig_trainer_save_checkpoint(const i2ig_trainer *trainer, const char *path);
/** Resumes from a checkpoint, with the same encoder it was made with. */
I2IG_API i2ig_status i2ig_trainer_load_checkpoint(const char *path, i2ig_encoder *encoder,
                                                  i2ig_trainer **out);
/** Writes the generator as a model file for i2ig_generator_load(): the EMA
 *  weights (use_ema = 1, what inference should use) or the trained ones. */
I2IG_API i2ig_status i2ig_trainer_export_generator(const i2ig_trainer *trainer, const char *path,
                                                   int use_ema);

#ifdef __cplusplus
}
#endif
#endif /* I2IGALIP_H */
