/* The public generator handle: creation, loading and saving of model files,
 * domains, the raw forward pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "generator/generator_internal.h"
#include "nn/ops.h"


/* ---- configuration <-> public struct ------------------------------------------- */

static ig_unet_cfg cfg_from_public(const i2ig_generator_config *p)
{
    ig_unet_cfg c = ig_unet_paper_cfg();
    c.in_channels = p->in_channels;
    c.out_channels = p->out_channels;
    c.model_channels = p->model_channels;
    c.n_levels = p->n_levels;
    for (int i = 0; i < IG_UNET_MAX_LEVELS; i++) {
        c.channel_mult[i] = p->channel_mult[i];
        c.attention_ds[i] = p->attention_ds[i];
    }
    c.num_res_blocks = p->num_res_blocks;
    c.n_attn = p->n_attention;
    c.head_channels = p->head_channels;
    c.context_dim = p->context_dim;
    c.num_classes = p->num_classes;
    return c;
}

static void cfg_to_public(const ig_unet_cfg *c, i2ig_generator_config *p)
{
    size_t sz = p->struct_size;
    memset(p, 0, sizeof *p);
    p->struct_size = sz;
    p->in_channels = c->in_channels;
    p->out_channels = c->out_channels;
    p->model_channels = c->model_channels;
    p->n_levels = c->n_levels;
    for (int i = 0; i < IG_UNET_MAX_LEVELS; i++) {
        p->channel_mult[i] = c->channel_mult[i];
        p->attention_ds[i] = c->attention_ds[i];
    }
    p->num_res_blocks = c->num_res_blocks;
    p->n_attention = c->n_attn;
    p->head_channels = c->head_channels;
    p->context_dim = c->context_dim;
    p->num_classes = c->num_classes;
}

i2ig_status i2ig_generator_config_init(i2ig_generator_config *c)
{
    if (!c || c->struct_size != sizeof *c)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator config: struct_size must be %zu",
                       sizeof *c);
    ig_unet_cfg u = ig_unet_paper_cfg();
    cfg_to_public(&u, c);
    return I2IG_OK;
}

/* ---- lifetime ------------------------------------------------------------------------- */

static void domain_clear(ig_domain *d)
{
    free(d->name);
    free(d->prompt);
    ig_t_release(d->context);
    free(d->text_embedding);
    memset(d, 0, sizeof *d);
}

void i2ig_generator_free(i2ig_generator *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_domains; i++) domain_clear(&g->domains[i]);
    free(g->domains);
    ig_unet_free(g->unet);
    ig_engine_free(g->e);
    free(g);
}

i2ig_status ig_generator_new(const ig_unet_cfg *c, i2ig_generator **out)
{
    *out = NULL;
    i2ig_generator *g = calloc(1, sizeof *g);
    if (!g) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "generator");
    g->threads = 1;
    i2ig_status st = ig_engine_create(1, &g->e);
    if (st == I2IG_OK) st = ig_unet_create(c, g->e, &g->unet);
    if (st != I2IG_OK) {
        i2ig_generator_free(g);
        return st;
    }
    *out = g;
    return I2IG_OK;
}

i2ig_status i2ig_generator_create(const i2ig_generator_config *config, uint64_t seed,
                                  i2ig_generator **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator_create: out is NULL");
    *out = NULL;
    if (!config || config->struct_size != sizeof *config)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator_create: bad config struct_size");
    ig_unet_cfg c = cfg_from_public(config);
    i2ig_generator *g;
    IG_TRY(ig_generator_new(&c, &g));
    ig_rng r;
    ig_rng_seed(&r, seed);
    ig_unet_init_random(g->unet, &r);
    strcpy(g->weights_kind, "random");
    *out = g;
    return I2IG_OK;
}

i2ig_status i2ig_generator_set_threads(i2ig_generator *g, int threads)
{
    if (!g || threads < 1 || threads > 1024)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator: threads must be 1..1024");
    g->threads = threads;
    ig_engine_set_threads(g->e, threads);
    return I2IG_OK;
}

i2ig_status i2ig_generator_get_config(const i2ig_generator *g, i2ig_generator_config *config)
{
    if (!g || !config || config->struct_size != sizeof *config)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator_get_config: bad arguments");
    cfg_to_public(ig_unet_cfg_of(g->unet), config);
    return I2IG_OK;
}

size_t i2ig_generator_parameter_count(const i2ig_generator *g)
{
    return g ? ig_params_numel(ig_unet_params(g->unet)) : 0;
}

size_t i2ig_generator_size_multiple(const i2ig_generator *g)
{
    return g ? (size_t)ig_unet_size_multiple(ig_unet_cfg_of(g->unet)) : 0;
}

i2ig_status i2ig_generator_set_progress(i2ig_generator *g, i2ig_progress_fn fn, void *user)
{
    if (!g) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator is NULL");
    g->progress = fn;
    g->progress_user = user;
    return I2IG_OK;
}

/* ---- domains ------------------------------------------------------------------------------ */

i2ig_status ig_mapping_check(const i2ig_intensity_mapping *m, const char *domain)
{
    if (m->kind != I2IG_MAPPING_WINDOW && m->kind != I2IG_MAPPING_PERCENTILE)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "domain '%s': unknown mapping kind %d", domain,
                       (int)m->kind);
    if (!isfinite(m->lo) || !isfinite(m->hi) || !(m->hi > m->lo))
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "domain '%s': mapping needs finite lo < hi (got %g, %g)",
                       domain, m->lo, m->hi);
    if (m->kind == I2IG_MAPPING_PERCENTILE &&
        !(m->p_lo >= 0 && m->p_lo < m->p_hi && m->p_hi <= 100))
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "domain '%s': percentiles must satisfy 0 <= p_lo < p_hi <= 100 (got %g, %g)",
                       domain, m->p_lo, m->p_hi);
    return I2IG_OK;
}

i2ig_status ig_generator_find_domain(const i2ig_generator *g, const char *name, size_t *index)
{
    if (!name) return ig_fail(I2IG_ERR_UNKNOWN_DOMAIN, "no domain named");
    for (size_t i = 0; i < g->n_domains; i++)
        if (!strcmp(g->domains[i].name, name)) {
            *index = i;
            return I2IG_OK;
        }
    char known[512] = "";
    size_t off = 0;
    for (size_t i = 0; i < g->n_domains && off < sizeof known; i++)
        off += (size_t)snprintf(known + off, sizeof known - off, "%s%s", i ? ", " : "",
                                g->domains[i].name);
    return ig_fail(I2IG_ERR_UNKNOWN_DOMAIN, "unknown domain '%s' (the model has: %s)", name,
                   g->n_domains ? known : "no domains");
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static bool valid_utf8_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x21 || ch > 0x7e) return false; /* printable ASCII, no spaces */
    }
    return true;
}

i2ig_status i2ig_generator_add_domain(i2ig_generator *g, const char *name, const char *prompt,
                                      int label, const float *context, size_t context_length,
                                      const float *text_embedding, size_t embed_dim,
                                      const i2ig_intensity_mapping *mapping)
{
    if (!g || !name || !prompt || !context || !mapping || !text_embedding)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "add_domain: NULL argument");
    if (embed_dim < 1 || embed_dim > 65536)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "add_domain: text embedding of %zu values", embed_dim);
    if (mapping->struct_size != sizeof *mapping)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "add_domain: bad mapping struct_size");
    if (!valid_utf8_name(name))
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "domain name must be 1..64 printable ASCII characters without spaces");
    const ig_unet_cfg *c = ig_unet_cfg_of(g->unet);
    if (label < 0 || label >= c->num_classes)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "domain '%s': label %d outside 0..%d", name,
                       label, c->num_classes - 1);
    if (context_length < 1 || context_length > 4096)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "domain '%s': context length %zu", name,
                       context_length);
    IG_TRY(ig_mapping_check(mapping, name));
    size_t nctx = context_length * (size_t)c->context_dim;
    for (size_t i = 0; i < nctx; i++)
        if (!isfinite(context[i]))
            return ig_fail(I2IG_ERR_NOT_FINITE, "domain '%s': context value %zu is not finite", name, i);
    ig_domain d;
    memset(&d, 0, sizeof d);
    d.name = dup_str(name);
    d.prompt = dup_str(prompt);
    d.label = label;
    d.map = *mapping;
    int64_t shape[3] = {1, (int64_t)context_length, c->context_dim};
    d.context = ig_t_param(g->e, 3, shape);
    d.embed_dim = embed_dim;
    d.text_embedding = malloc(embed_dim * sizeof(float));
    if (!d.name || !d.prompt || !d.context || !d.text_embedding) {
        domain_clear(&d);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "domain '%s'", name);
    }
    memcpy(d.context->data, context, nctx * sizeof(float));
    memcpy(d.text_embedding, text_embedding, embed_dim * sizeof(float));
    size_t idx = 0;
    if (ig_generator_find_domain(g, name, &idx) == I2IG_OK) {
        domain_clear(&g->domains[idx]);
        g->domains[idx] = d;
        return I2IG_OK;
    }
    ig_domain *nd = realloc(g->domains, (g->n_domains + 1) * sizeof *nd);
    if (!nd) {
        domain_clear(&d);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "domain '%s'", name);
    }
    g->domains = nd;
    g->domains[g->n_domains++] = d;
    return I2IG_OK;
}

size_t i2ig_generator_domain_count(const i2ig_generator *g) { return g ? g->n_domains : 0; }

const char *i2ig_generator_domain_name(const i2ig_generator *g, size_t index)
{
    return (g && index < g->n_domains) ? g->domains[index].name : NULL;
}

i2ig_status i2ig_generator_domain_info(const i2ig_generator *g, const char *name,
                                       const char **prompt, int *label,
                                       i2ig_intensity_mapping *mapping)
{
    if (!g) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator is NULL");
    size_t i = 0;
    IG_TRY(ig_generator_find_domain(g, name, &i));
    if (mapping && mapping->struct_size != sizeof *mapping)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "domain_info: bad mapping struct_size");
    if (prompt) *prompt = g->domains[i].prompt;
    if (label) *label = g->domains[i].label;
    if (mapping) *mapping = g->domains[i].map;
    return I2IG_OK;
}

/* ---- forward ------------------------------------------------------------------------------ */

ig_tensor *ig_generator_run(ig_graph *graph, i2ig_generator *g, ig_tensor *x, size_t t)
{
    if (!ig_graph_ok(graph, 1, x)) return NULL;
    ig_domain *d = &g->domains[t];
    int64_t n = x->shape[0];
    int *labels = malloc((size_t)n * sizeof(int));
    ig_tensor *ctx = NULL;
    if (n == 1) {
        ctx = ig_t_retain(d->context);
    } else {
        int64_t shape[3] = {n, d->context->shape[1], d->context->shape[2]};
        ctx = ig_t_new(graph, 3, shape);
        for (int64_t i = 0; ctx && i < n; i++)
            memcpy(ctx->data + (size_t)i * d->context->numel, d->context->data,
                   d->context->numel * sizeof(float));
    }
    if (!labels) ig_graph_fail(graph, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "labels"));
    for (int64_t i = 0; labels && i < n; i++) labels[i] = d->label;
    ig_tensor *y = labels ? ig_unet_forward(graph, g->unet, x, labels, ctx) : NULL;
    free(labels);
    ig_t_release(ctx);
    return y;
}

i2ig_status i2ig_generator_forward(i2ig_generator *g, const float *images, size_t n, size_t width,
                                   size_t height, const char *target, float *out)
{
    if (!g || !images || !out || !target)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "generator_forward: NULL argument");
    size_t t = 0;
    IG_TRY(ig_generator_find_domain(g, target, &t));
    size_t m = i2ig_generator_size_multiple(g);
    const ig_unet_cfg *c = ig_unet_cfg_of(g->unet);
    if (n < 1 || width < 1 || height < 1 || width % m || height % m || width > 65536 ||
        height > 65536 || n > 65536)
        return ig_fail(I2IG_ERR_SHAPE, "generator_forward: %zu images of %zux%zu (sides must be "
                                       "positive multiples of %zu)", n, width, height, m);
    size_t total = n * width * height * (size_t)c->in_channels;
    for (size_t i = 0; i < total; i++)
        if (!isfinite(images[i]))
            return ig_fail(I2IG_ERR_NOT_FINITE, "generator_forward: pixel %zu is not finite", i);
    ig_thread_scope ts = ig_engine_enter(g->e);
    ig_engine_plan_begin(g->e);
    ig_graph graph;
    ig_graph_init(&graph, g->e, false);
    int64_t shape[4] = {(int64_t)n, (int64_t)height, (int64_t)width, c->in_channels};
    ig_tensor *x = ig_t_wrap((float *)images, 4, shape);
    if (!x) ig_graph_fail(&graph, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "generator input"));
    ig_tensor *y = ig_generator_run(&graph, g, x, t);
    if (y) memcpy(out, y->data, y->numel * sizeof(float));
    i2ig_status st = ig_graph_status(&graph);
    ig_t_release(y);
    ig_t_release(x);
    ig_graph_clear(&graph);
    ig_engine_plan_end(g->e);
    ig_engine_leave(ts);
    return st;
}
