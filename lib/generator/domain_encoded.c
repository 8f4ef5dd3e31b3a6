/* Domains whose prompt context comes straight from the encoder's text
 * tower (kept apart so the generator itself does not depend on it). */
#include <stdlib.h>

#include "core/error.h"
#include "generator/generator_internal.h"

i2ig_status i2ig_generator_add_domain_encoded(i2ig_generator *g, i2ig_encoder *enc,
                                              const char *name, const char *prompt, int label,
                                              const i2ig_intensity_mapping *mapping)
{
    if (!g || !enc || !prompt) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "add_domain_encoded: NULL argument");
    i2ig_encoder_info info;
    info.struct_size = sizeof info;
    IG_TRY(i2ig_encoder_get_info(enc, &info));
    const ig_unet_cfg *c = ig_unet_cfg_of(g->unet);
    if (info.text_width != c->context_dim)
        return ig_fail(I2IG_ERR_MODEL_MISMATCH,
                       "the encoder's text width is %d but the generator attends to %d-wide context",
                       info.text_width, c->context_dim);
    size_t nctx = (size_t)info.context_length * (size_t)info.text_width;
    float *ctx = malloc(nctx * sizeof(float));
    float *emb = malloc((size_t)info.embed_dim * sizeof(float));
    i2ig_status st = (ctx && emb) ? I2IG_OK : ig_fail(I2IG_ERR_OUT_OF_MEMORY, "domain context");
    if (st == I2IG_OK) st = i2ig_encoder_encode_text(enc, prompt, ctx, emb);
    if (st == I2IG_OK)
        st = i2ig_generator_add_domain(g, name, prompt, label, ctx, (size_t)info.context_length,
                                       emb, (size_t)info.embed_dim, mapping);
    free(ctx);
    free(emb);
    return st;
}
