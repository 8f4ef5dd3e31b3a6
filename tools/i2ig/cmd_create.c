/* i2ig create-model: a randomly initialised generator of any configuration,
 * with domains, for tests, benchmarks and as the start of training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "i2igalip.h"
#include "toolutil.h"

static const char usage_text[] =
    "usage: i2ig create-model --out MODEL.i2ig [options] --domain SPEC [--domain SPEC ...]\n"
    "\n"
    "Architecture (defaults: the paper configuration, 14,127,617 parameters):\n"
    "  --model-channels N   base width (32)\n"
    "  --channel-mult LIST  per-level multipliers, comma separated (1,1,2,2,4,4)\n"
    "  --res-blocks N       ResBlocks per level (2)\n"
    "  --attention LIST     down-sampling factors with attention (8,16,32)\n"
    "  --head-channels N    channels per attention head (32)\n"
    "  --context-dim N      prompt token width (768)\n"
    "  --classes N          label embedding rows (3)\n"
    "  --seed N             initialisation seed (40)\n"
    "Domains:\n"
    "  --domain NAME:LABEL:window:LO:HI          fixed window (CT: CT:0:window:-1024:3071)\n"
    "  --domain NAME:LABEL:percentile:PLO:PHI:LO:HI\n"
    "                                            per-slice percentiles in, LO..HI out\n"
    "  --prompt NAME=TEXT   the domain's prompt (default \"this is NAME\")\n"
    "  --encoder ENC.i2ig   encode prompts with this encoder's text tower; without it\n"
    "                       the prompt contexts and embeddings are random N(0,1):\n"
    "                       such a model is for tests and benchmarks only\n"
    "  --context-length N   prompt tokens when random (256)\n"
    "  --embed-dim N        text embedding size when random (512)\n";

#define MAX_DOMAINS 32

typedef struct domain_spec {
    char name[65];
    int label;
    i2ig_intensity_mapping map;
    const char *prompt;
} domain_spec;

static int parse_list(const char *s, int *out, int max, int *n)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == max || tool_parse_int(tok, 1, 1 << 20, &out[*n])) return -1;
        (*n)++;
    }
    return *n ? 0 : -1;
}

static int parse_domain(const char *s, domain_spec *d)
{
    char buf[512], *f[8];
    int nf = 0;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ":"); tok && nf < 8; tok = strtok(NULL, ":")) f[nf++] = tok;
    if (nf < 5 || strlen(f[0]) > 64 || tool_parse_int(f[1], 0, 1023, &d->label)) return -1;
    snprintf(d->name, sizeof d->name, "%s", f[0]);
    memset(&d->map, 0, sizeof d->map);
    d->map.struct_size = sizeof d->map;
    if (!strcmp(f[2], "window") && nf == 5) {
        d->map.kind = I2IG_MAPPING_WINDOW;
        return tool_parse_double(f[3], &d->map.lo) || tool_parse_double(f[4], &d->map.hi);
    }
    if (!strcmp(f[2], "percentile") && nf == 7) {
        d->map.kind = I2IG_MAPPING_PERCENTILE;
        return tool_parse_double(f[3], &d->map.p_lo) || tool_parse_double(f[4], &d->map.p_hi) ||
               tool_parse_double(f[5], &d->map.lo) || tool_parse_double(f[6], &d->map.hi);
    }
    return -1;
}

/* Normal numbers from a tiny xorshift generator: the random prompt context
 * of a test model only has to be reproducible, not good. */
static void fill_random(float *v, size_t n, unsigned long long *state)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < 12; k++) {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            s += (double)(*state >> 11) * 0x1.0p-53;
        }
        v[i] = (float)(s - 6.0);
    }
}

int cmd_create_model(int argc, char **argv)
{
    i2ig_generator_config cfg;
    cfg.struct_size = sizeof cfg;
    i2ig_generator_config_init(&cfg);
    const char *out = NULL, *encoder_path = NULL;
    domain_spec doms[MAX_DOMAINS];
    int ndom = 0, seed = 40, ctx_len = 256, embed_dim = 512, n;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!v) return tool_usage(usage_text, "option without a value");
        i++;
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--model-channels")) bad = tool_parse_int(v, 1, 4096, &cfg.model_channels);
        else if (!strcmp(a, "--channel-mult")) {
            bad = parse_list(v, cfg.channel_mult, 8, &n);
            cfg.n_levels = n;
        } else if (!strcmp(a, "--res-blocks")) bad = tool_parse_int(v, 1, 8, &cfg.num_res_blocks);
        else if (!strcmp(a, "--attention")) {
            if (!strcmp(v, "none")) cfg.n_attention = 0;
            else bad = parse_list(v, cfg.attention_ds, 8, &cfg.n_attention);
        } else if (!strcmp(a, "--head-channels")) bad = tool_parse_int(v, 1, 4096, &cfg.head_channels);
        else if (!strcmp(a, "--context-dim")) bad = tool_parse_int(v, 1, 8192, &cfg.context_dim);
        else if (!strcmp(a, "--classes")) bad = tool_parse_int(v, 1, 1024, &cfg.num_classes);
        else if (!strcmp(a, "--seed")) bad = tool_parse_int(v, 0, 0x7fffffff, &seed);
        else if (!strcmp(a, "--context-length")) bad = tool_parse_int(v, 1, 4096, &ctx_len);
        else if (!strcmp(a, "--embed-dim")) bad = tool_parse_int(v, 1, 65536, &embed_dim);
        else if (!strcmp(a, "--encoder")) encoder_path = v;
        else if (!strcmp(a, "--domain")) {
            if (ndom == MAX_DOMAINS) return tool_usage(usage_text, "too many domains");
            doms[ndom].prompt = NULL;
            bad = parse_domain(v, &doms[ndom++]);
        } else if (!strcmp(a, "--prompt")) {
            const char *eq = strchr(v, '=');
            bad = 1;
            for (int k = 0; eq && k < ndom; k++)
                if (strlen(doms[k].name) == (size_t)(eq - v) && !strncmp(doms[k].name, v, (size_t)(eq - v))) {
                    doms[k].prompt = eq + 1;
                    bad = 0;
                }
        } else return tool_usage(usage_text, "unknown option");
        if (bad) {
            fprintf(stderr, "i2ig create-model: bad value for %s: '%s'\n", a, v);
            return 2;
        }
    }
    if (!out || ndom == 0) return tool_usage(usage_text, "--out and at least one --domain are needed");

    i2ig_generator *g = NULL;
    i2ig_encoder *enc = NULL;
    i2ig_status st = i2ig_generator_create(&cfg, (uint64_t)seed, &g);
    if (st == I2IG_OK && encoder_path) st = i2ig_encoder_load(encoder_path, &enc);
    float *ctx = NULL, *emb = NULL;
    unsigned long long rs = 0x9e3779b97f4a7c15ull ^ (unsigned long long)seed;
    char default_prompt[MAX_DOMAINS][80];
    for (int k = 0; st == I2IG_OK && k < ndom; k++) {
        if (!doms[k].prompt) {
            snprintf(default_prompt[k], sizeof default_prompt[k], "this is %.64s", doms[k].name);
            doms[k].prompt = default_prompt[k];
        }
        if (enc) {
            st = i2ig_generator_add_domain_encoded(g, enc, doms[k].name, doms[k].prompt,
                                                   doms[k].label, &doms[k].map);
            continue;
        }
        size_t nctx = (size_t)ctx_len * (size_t)cfg.context_dim;
        free(ctx);
        free(emb);
        ctx = malloc(nctx * sizeof *ctx);
        emb = malloc((size_t)embed_dim * sizeof *emb);
        if (!ctx || !emb) {
            fprintf(stderr, "i2ig create-model: out of memory\n");
            st = I2IG_ERR_OUT_OF_MEMORY;
            break;
        }
        fill_random(ctx, nctx, &rs);
        fill_random(emb, (size_t)embed_dim, &rs);
        st = i2ig_generator_add_domain(g, doms[k].name, doms[k].prompt, doms[k].label, ctx,
                                       (size_t)ctx_len, emb, (size_t)embed_dim, &doms[k].map);
    }
    free(ctx);
    free(emb);
    if (st == I2IG_OK) st = i2ig_generator_save(g, out);
    if (st == I2IG_OK)
        printf("wrote %s: %zu parameters, %d domain(s)%s\n", out, i2ig_generator_parameter_count(g),
               ndom, enc ? "" : " with random prompt contexts");
    else
        tool_error("create-model", st);
    i2ig_encoder_free(enc);
    i2ig_generator_free(g);
    return st == I2IG_OK ? 0 : 1;
}
