#include "i2igalip.h"
#include "config.h"

#define IG_STR2(x) #x
#define IG_STR(x) IG_STR2(x)

unsigned i2ig_version(void) { return I2IG_VERSION_NUMBER; }

const char *i2ig_version_string(void)
{
    return IG_STR(I2IG_VERSION_MAJOR) "." IG_STR(I2IG_VERSION_MINOR) "." IG_STR(
        I2IG_VERSION_PATCH);
}

unsigned i2ig_build_features(void)
{
    unsigned f = 0;
#if IG_WITH_TRAINING
    f |= I2IG_FEATURE_TRAINING;
#endif
    return f;
}

size_t i2ig_dtype_size(i2ig_dtype dtype)
{
    switch (dtype) {
    case I2IG_DTYPE_F32: return 4;
    case I2IG_DTYPE_F16:
    case I2IG_DTYPE_BF16:
    case I2IG_DTYPE_U16:
    case I2IG_DTYPE_I16: return 2;
    case I2IG_DTYPE_U8: return 1;
    }
    return 0;
}

const char *i2ig_dtype_name(i2ig_dtype dtype)
{
    switch (dtype) {
    case I2IG_DTYPE_F32: return "f32";
    case I2IG_DTYPE_F16: return "f16";
    case I2IG_DTYPE_BF16: return "bf16";
    case I2IG_DTYPE_U8: return "u8";
    case I2IG_DTYPE_U16: return "u16";
    case I2IG_DTYPE_I16: return "i16";
    }
    return "?";
}
