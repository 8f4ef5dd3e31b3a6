/* Generator model files: architecture and domains in the metadata, the U-Net
 * weights as "unet.<reference name>", each domain's prompt context and text
 * embedding as "domains.<name>.context" / ".text_embedding". The layout is
 * documented in docs/model-files.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "generator/generator_internal.h"

#define MAX_DOMAINS 64

static i2ig_status meta_int(i2ig_weights *w, const char *path, const char *key, int lo, int hi,
                            int *out)
{
    int64_t v;
    i2ig_status st = i2ig_weights_meta_int(w, key, &v);
    if (st != I2IG_OK) return ig_fail(st, "%s: metadata '%s' missing or not an integer", path, key);
    if (v < lo || v > hi)
        return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s' = %lld outside %d..%d", path, key,
                       (long long)v, lo, hi);
    *out = (int)v;
    return I2IG_OK;
}

static i2ig_status meta_ints(i2ig_weights *w, const char *path, const char *key, int max_n,
                             int lo, int hi, int *out, int *n)
{
    const int64_t *v;
    size_t cnt;
    i2ig_status st = i2ig_weights_meta_int_array(w, key, &v, &cnt);
    if (st != I2IG_OK) return ig_fail(st, "%s: metadata '%s' missing or not an integer array", path, key);
    if (cnt > (size_t)max_n)
        return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s' has %zu entries (at most %d)", path,
                       key, cnt, max_n);
    for (size_t i = 0; i < cnt; i++) {
        if (v[i] < lo || v[i] > hi)
            return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s'[%zu] = %lld outside %d..%d", path,
                           key, i, (long long)v[i], lo, hi);
        out[i] = (int)v[i];
    }
    *n = (int)cnt;
    return I2IG_OK;
}

static i2ig_status meta_float(i2ig_weights *w, const char *path, const char *key, float *out)
{
    double v;
    i2ig_status st = i2ig_weights_meta_float(w, key, &v);
    if (st != I2IG_OK) return ig_fail(st, "%s: metadata '%s' missing or not a number", path, key);
    if (!isfinite(v) || v <= 0 || v > 1)
        return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s' = %g is not a valid epsilon", path, key, v);
    *out = (float)v;
    return I2IG_OK;
}

static i2ig_status read_cfg(i2ig_weights *w, const char *path, ig_unet_cfg *c)
{
    memset(c, 0, sizeof *c);
    int n;
    IG_TRY(meta_int(w, path, "generator.in_channels", 1, 16, &c->in_channels));
    IG_TRY(meta_int(w, path, "generator.out_channels", 1, 16, &c->out_channels));
    IG_TRY(meta_int(w, path, "generator.model_channels", 1, 4096, &c->model_channels));
    IG_TRY(meta_ints(w, path, "generator.channel_mult", IG_UNET_MAX_LEVELS, 1, 64, c->channel_mult, &c->n_levels));
    IG_TRY(meta_int(w, path, "generator.num_res_blocks", 1, 8, &c->num_res_blocks));
    IG_TRY(meta_ints(w, path, "generator.attention_ds", IG_UNET_MAX_LEVELS, 1, 1 << 12, c->attention_ds, &n));
    c->n_attn = n;
    IG_TRY(meta_int(w, path, "generator.head_channels", 1, 4096, &c->head_channels));
    IG_TRY(meta_int(w, path, "generator.context_dim", 1, 8192, &c->context_dim));
    IG_TRY(meta_int(w, path, "generator.num_classes", 1, 1024, &c->num_classes));
    IG_TRY(meta_int(w, path, "generator.groups", 1, 4096, &c->groups));
    IG_TRY(meta_float(w, path, "generator.gn_eps", &c->gn_eps));
    IG_TRY(meta_float(w, path, "generator.st_gn_eps", &c->st_gn_eps));
    IG_TRY(meta_float(w, path, "generator.ln_eps", &c->ln_eps));
    i2ig_status st = ig_unet_check_cfg(c);
    if (st != I2IG_OK) return ig_fail_context(st, "%s", path);
    return I2IG_OK;
}

static i2ig_status check_finite(const ig_params *p, const char *path)
{
    for (size_t i = 0; i < p->n; i++) {
        const ig_tensor *t = p->items[i].t;
        for (size_t j = 0; j < t->numel; j++)
            if (!isfinite(t->data[j]))
                return ig_fail(I2IG_ERR_NOT_FINITE, "%s: tensor 'unet.%s' holds a NaN or infinity at %zu",
                               path, p->items[i].name, j);
    }
    return I2IG_OK;
}

static i2ig_status read_domains(i2ig_generator *g, i2ig_weights *w, const char *path)
{
    const char *const *names, *const *prompts, *const *kinds;
    const int64_t *labels;
    const double *lo, *hi, *plo, *phi;
    size_t n, n2, n3, n4, n5, n6, n7, n8;
    i2ig_status st = i2ig_weights_meta_string_array(w, "domains.names", &names, &n);
    if (st != I2IG_OK) return ig_fail(I2IG_ERR_METADATA, "%s: metadata 'domains.names' missing", path);
    if (n > MAX_DOMAINS) return ig_fail(I2IG_ERR_METADATA, "%s: %zu domains (at most %d)", path, n, MAX_DOMAINS);
    if (i2ig_weights_meta_string_array(w, "domains.prompts", &prompts, &n2) != I2IG_OK ||
        i2ig_weights_meta_int_array(w, "domains.labels", &labels, &n3) != I2IG_OK ||
        i2ig_weights_meta_string_array(w, "domains.mapping", &kinds, &n4) != I2IG_OK ||
        i2ig_weights_meta_float_array(w, "domains.lo", &lo, &n5) != I2IG_OK ||
        i2ig_weights_meta_float_array(w, "domains.hi", &hi, &n6) != I2IG_OK ||
        i2ig_weights_meta_float_array(w, "domains.p_lo", &plo, &n7) != I2IG_OK ||
        i2ig_weights_meta_float_array(w, "domains.p_hi", &phi, &n8) != I2IG_OK)
        return ig_fail(I2IG_ERR_METADATA, "%s: domain metadata (prompts, labels, mapping, lo, hi, "
                                          "p_lo, p_hi) missing or mistyped", path);
    if (n2 != n || n3 != n || n4 != n || n5 != n || n6 != n || n7 != n || n8 != n)
        return ig_fail(I2IG_ERR_METADATA, "%s: the domain metadata arrays differ in length", path);
    const ig_unet_cfg *c = ig_unet_cfg_of(g->unet);
    for (size_t i = 0; i < n; i++) {
        i2ig_intensity_mapping m = {sizeof m, 0, lo[i], hi[i], plo[i], phi[i]};
        if (!strcmp(kinds[i], "window")) m.kind = I2IG_MAPPING_WINDOW;
        else if (!strcmp(kinds[i], "percentile")) m.kind = I2IG_MAPPING_PERCENTILE;
        else return ig_fail(I2IG_ERR_METADATA, "%s: domain '%s': unknown mapping '%s'", path, names[i], kinds[i]);
        char key[160];
        snprintf(key, sizeof key, "domains.%s.context", names[i]);
        size_t ti;
        st = i2ig_weights_find(w, key, &ti);
        if (st != I2IG_OK) return ig_fail(st, "%s: tensor '%s' missing", path, key);
        i2ig_tensor_info info;
        info.struct_size = sizeof info;
        IG_TRY(i2ig_weights_tensor_info(w, ti, &info));
        if (info.ndim != 2 || info.shape[1] != (uint64_t)c->context_dim || info.shape[0] < 1 ||
            info.shape[0] > 4096)
            return ig_fail(I2IG_ERR_MODEL_MISMATCH,
                           "%s: tensor '%s' has shape %llux%llu, the generator needs Sx%d", path, key,
                           (unsigned long long)info.shape[0],
                           (unsigned long long)(info.ndim > 1 ? info.shape[1] : 0), c->context_dim);
        size_t len = (size_t)info.shape[0];
        float *ctx = malloc(len * (size_t)c->context_dim * sizeof(float));
        snprintf(key, sizeof key, "domains.%s.text_embedding", names[i]);
        size_t ei;
        st = i2ig_weights_find(w, key, &ei);
        i2ig_tensor_info einfo;
        einfo.struct_size = sizeof einfo;
        if (st == I2IG_OK) st = i2ig_weights_tensor_info(w, ei, &einfo);
        if (st == I2IG_OK && (einfo.ndim != 1 || einfo.shape[0] > 65536))
            st = ig_fail(I2IG_ERR_SHAPE, "%s: tensor '%s' must be a vector", path, key);
        size_t edim = st == I2IG_OK ? (size_t)einfo.shape[0] : 0;
        float *emb = malloc((edim ? edim : 1) * sizeof(float));
        if (st == I2IG_OK && (!ctx || !emb)) st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: domains", path);
        uint64_t cs[2] = {len, (uint64_t)c->context_dim}, es[1] = {edim};
        char ckey[160];
        snprintf(ckey, sizeof ckey, "domains.%s.context", names[i]);
        if (st == I2IG_OK) st = i2ig_weights_read_f32(w, ckey, 2, cs, ctx);
        if (st == I2IG_OK) st = i2ig_weights_read_f32(w, key, 1, es, emb);
        if (st == I2IG_OK && (labels[i] < 0 || labels[i] >= c->num_classes))
            st = ig_fail(I2IG_ERR_METADATA, "%s: domain '%s' has label %lld outside 0..%d", path,
                         names[i], (long long)labels[i], c->num_classes - 1);
        if (st == I2IG_OK)
            st = i2ig_generator_add_domain(g, names[i], prompts[i], (int)labels[i], ctx, len, emb,
                                           edim, &m);
        free(ctx);
        free(emb);
        if (st != I2IG_OK) return ig_fail_context(st, "%s", path);
    }
    return I2IG_OK;
}

i2ig_status ig_generator_read(i2ig_weights *w, const char *path, const char *prefix,
                              i2ig_generator **out)
{
    *out = NULL;
    ig_unet_cfg c;
    i2ig_generator *g = NULL;
    i2ig_status st = read_cfg(w, path, &c);
    uint64_t need = 0;
    if (st == I2IG_OK) st = ig_unet_count_params(&c, &need);
    if (st == I2IG_OK) st = ig_params_check_stored(need, w, path, "generator");
    if (st == I2IG_OK) st = ig_generator_new(&c, &g);
    if (st == I2IG_OK) st = ig_params_load(ig_unet_params(g->unet), w, prefix);
    if (st == I2IG_OK) st = check_finite(ig_unet_params(g->unet), path);
    if (st == I2IG_OK) st = read_domains(g, w, path);
    if (st == I2IG_OK) {
        const char *kind;
        if (i2ig_weights_meta_string(w, "generator.weights", &kind) == I2IG_OK)
            snprintf(g->weights_kind, sizeof g->weights_kind, "%s", kind);
    }
    if (st != I2IG_OK) {
        i2ig_generator_free(g);
        return st;
    }
    *out = g;
    return I2IG_OK;
}

/* A model loaded from a file is for inference: each convolution weight is
 * kept once, in the layout the convolution reads, its plain copy dropped
 * after the first pass packed it (ig_t_drop_plain_if_packed; 27 MB of the
 * paper generator). Saving rebuilds the plain copies first. */
static void keep_convolutions_packed(i2ig_generator *g)
{
    ig_params *p = ig_unet_params(g->unet);
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].t->ndim == 4) p->items[i].t->pack_only = true;
}

static i2ig_status restore_plain_weights(i2ig_generator *g)
{
    ig_params *p = ig_unet_params(g->unet);
    i2ig_status st = I2IG_OK;
    ig_thread_scope ts = ig_engine_enter(g->e);
    for (size_t i = 0; i < p->n && st == I2IG_OK; i++) st = ig_t_restore_plain(p->items[i].t);
    ig_engine_leave(ts);
    return st;
}

i2ig_status i2ig_generator_load(const char *path, i2ig_generator **out)
{
    if (!path || !out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator_load: NULL argument");
    *out = NULL;
    i2ig_weights *w;
    IG_TRY(i2ig_weights_open(path, 0, &w));
    const char *kind;
    i2ig_status st = I2IG_OK;
    if (i2ig_weights_meta_string(w, "model.kind", &kind) != I2IG_OK)
        st = ig_fail(I2IG_ERR_MODEL_MISMATCH, "%s: no 'model.kind' metadata: not a model file", path);
    else if (strcmp(kind, "generator"))
        st = ig_fail(I2IG_ERR_MODEL_MISMATCH, "%s: this is a '%s' file, not a generator%s", path, kind,
                     strcmp(kind, "checkpoint") ? "" : " (export one from the checkpoint)");
    if (st == I2IG_OK) st = ig_generator_read(w, path, "unet.", out);
    i2ig_weights_free(w);
    if (st == I2IG_OK) keep_convolutions_packed(*out);
    return st;
}

i2ig_status ig_generator_write_meta(const i2ig_generator *g, i2ig_weights_writer *wr)
{
    const ig_unet_cfg *c = ig_unet_cfg_of(g->unet);
    int64_t mult[IG_UNET_MAX_LEVELS], ds[IG_UNET_MAX_LEVELS];
    for (int i = 0; i < c->n_levels; i++) mult[i] = c->channel_mult[i];
    for (int i = 0; i < c->n_attn; i++) ds[i] = c->attention_ds[i];
    IG_TRY(i2ig_weights_writer_set_string(wr, "generator.weights", g->weights_kind));
    IG_TRY(i2ig_weights_writer_set_int(wr, "generator.in_channels", c->in_channels));
    IG_TRY(i2ig_weights_writer_set_int(wr, "generator.out_channels", c->out_channels));
    IG_TRY(i2ig_weights_writer_set_int(wr, "generator.model_channels", c->model_channels));
    IG_TRY(i2ig_weights_writer_set_int_array(wr, "generator.channel_mult", mult, (size_t)c->n_levels));
    IG_TRY(i2ig_weights_writer_set_int(wr, "generator.num_res_blocks", c->num_res_blocks));
    IG_TRY(i2ig_weights_writer_set_int_array(wr, "generator.attention_ds", ds, (size_t)c->n_attn));
    IG_TRY(i2ig_weights_writer_set_int(wr, "generator.head_channels", c->head_channels));
    IG_TRY(i2ig_weights_writer_set_int(wr, "generator.context_dim", c->context_dim));
    IG_TRY(i2ig_weights_writer_set_int(wr, "generator.num_classes", c->num_classes));
    IG_TRY(i2ig_weights_writer_set_int(wr, "generator.groups", c->groups));
    IG_TRY(i2ig_weights_writer_set_float(wr, "generator.gn_eps", c->gn_eps));
    IG_TRY(i2ig_weights_writer_set_float(wr, "generator.st_gn_eps", c->st_gn_eps));
    IG_TRY(i2ig_weights_writer_set_float(wr, "generator.ln_eps", c->ln_eps));
    size_t n = g->n_domains;
    const char **names = calloc(n + 1, sizeof *names), **prompts = calloc(n + 1, sizeof *prompts);
    const char **kinds = calloc(n + 1, sizeof *kinds);
    int64_t *labels = calloc(n + 1, sizeof *labels);
    double *v = calloc(4 * (n + 1), sizeof *v);
    i2ig_status st = (names && prompts && kinds && labels && v) ? I2IG_OK
                                                               : ig_fail(I2IG_ERR_OUT_OF_MEMORY, "domains");
    for (size_t i = 0; st == I2IG_OK && i < n; i++) {
        const ig_domain *d = &g->domains[i];
        names[i] = d->name;
        prompts[i] = d->prompt;
        kinds[i] = d->map.kind == I2IG_MAPPING_WINDOW ? "window" : "percentile";
        labels[i] = d->label;
        v[i] = d->map.lo;
        v[n + i] = d->map.hi;
        v[2 * n + i] = d->map.p_lo;
        v[3 * n + i] = d->map.p_hi;
    }
    if (st == I2IG_OK) st = i2ig_weights_writer_set_string_array(wr, "domains.names", names, n);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_string_array(wr, "domains.prompts", prompts, n);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_int_array(wr, "domains.labels", labels, n);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_string_array(wr, "domains.mapping", kinds, n);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_float_array(wr, "domains.lo", v, n);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_float_array(wr, "domains.hi", v + n, n);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_float_array(wr, "domains.p_lo", v + 2 * n, n);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_float_array(wr, "domains.p_hi", v + 3 * n, n);
    free(names);
    free(prompts);
    free(kinds);
    free(labels);
    free(v);
    return st;
}

i2ig_status ig_generator_write_domains(const i2ig_generator *g, i2ig_weights_writer *wr)
{
    for (size_t i = 0; i < g->n_domains; i++) {
        const ig_domain *d = &g->domains[i];
        char key[160];
        uint64_t cs[2] = {(uint64_t)d->context->shape[1], (uint64_t)d->context->shape[2]};
        snprintf(key, sizeof key, "domains.%s.context", d->name);
        IG_TRY(i2ig_weights_writer_add_tensor(wr, key, I2IG_DTYPE_F32, 2, cs, I2IG_DTYPE_F32,
                                              d->context->data, I2IG_ADD_BORROW));
        uint64_t es[1] = {d->embed_dim};
        snprintf(key, sizeof key, "domains.%s.text_embedding", d->name);
        IG_TRY(i2ig_weights_writer_add_tensor(wr, key, I2IG_DTYPE_F32, 1, es, I2IG_DTYPE_F32,
                                                  d->text_embedding, I2IG_ADD_BORROW));
    }
    return I2IG_OK;
}

i2ig_status i2ig_generator_save(const i2ig_generator *g, const char *path)
{
    if (!g || !path) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator_save: NULL argument");
    i2ig_weights_writer *wr;
    IG_TRY(i2ig_weights_writer_create(&wr));
    i2ig_status st = restore_plain_weights((i2ig_generator *)g);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_string(wr, "model.kind", "generator");
    if (st == I2IG_OK) st = ig_generator_write_meta(g, wr);
    if (st == I2IG_OK)
        st = ig_params_save(ig_unet_params(((i2ig_generator *)g)->unet), wr, "unet.", I2IG_DTYPE_F32);
    if (st == I2IG_OK) st = ig_generator_write_domains(g, wr);
    if (st == I2IG_OK) st = i2ig_weights_writer_write(wr, path);
    i2ig_weights_writer_free(wr);
    return st;
}
