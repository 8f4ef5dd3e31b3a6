/* i2ig train: unpaired multi-domain training from folders or stacks of
 * real images, with progress, a CSV log, loss plots, sample grids and
 * checkpoints that survive SIGINT/SIGTERM and kill -9. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "commands.h"
#include "i2igalip.h"
#include "plot.h"
#include "toolutil.h"

static const char usage_text[] =
    "usage: i2ig train --encoder ENC.i2ig --domain NAME=PATH[,PATH...] --domain ... --out MODEL.i2ig\n"
    "                  [options]\n"
    "\n"
    "PATH is an image file (a multi-page TIFF is a stack of slices) or a folder of them.\n"
    "Domains:\n"
    "  --prompt NAME=TEXT        prompt (default: \"this MRI is NAME-weighted\" for T1, T2, PD,\n"
    "                            Flair; \"this is NAME\" otherwise)\n"
    "  --label NAME=L            class label (default: T1 0, T2 1, PD/Flair 2, else the order)\n"
    "  --mapping NAME=window:LO:HI | NAME=percentile:PLO:PHI:LO:HI\n"
    "                            intensity mapping (default: a CT-like range (min < -500) gets the\n"
    "                            window -1024..3071, else percentile 0..99.5 scaled back to the\n"
    "                            median 99.5th percentile of the domain's slices)\n"
    "Training (defaults from the paper):\n"
    "  --steps N                 total steps (required unless resuming)\n"
    "  --batch B (4)  --crop S (256, 0 = whole slices)  --flip  --seed S (40)\n"
    "  --lr X (2e-4)  --decay-start N (steps/2)  --threads N (all CPUs)\n"
    "  --w-adv X (1) --w-cycle X (10) --w-identity X (1) --w-clip X (1) --w-encoding X (1)\n"
    "Generator (defaults: the paper configuration):\n"
    "  --model-channels N  --channel-mult LIST  --res-blocks N  --attention LIST|none\n"
    "  --head-channels N  --classes N\n"
    "Output:\n"
    "  --checkpoint FILE         checkpoint written every --checkpoint-every steps (default\n"
    "                            500), on SIGINT/SIGTERM and at the end\n"
    "  --resume FILE             continue from a checkpoint (same encoder)\n"
    "  --log DIR                 write DIR/losses.csv, DIR/losses.png and sample grids\n"
    "                            DIR/samples-STEP.png every --sample-every steps (default 250)\n"
    "  --quiet                   no progress line\n";

#define MAX_DOMAINS 16
#define MAX_FILES 4096

typedef struct dom {
    char name[65];
    char *paths;
    const char *prompt;
    int label;
    int have_map;
    i2ig_intensity_mapping map;
    i2ig_image **images;
    size_t n_images;
} dom;

static volatile sig_atomic_t stop_flag;
static volatile int cancel_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
    cancel_flag = 1;
}

static dom *find(dom *d, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(d[i].name) == len && !strncmp(d[i].name, name, len)) return &d[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *s)
{
    const char *dot = strrchr(s, '.');
    if (!dot) return 0;
    const char *ext[] = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot, ext[i])) return 1;
    return 0;
}

static i2ig_status add_image(dom *d, const char *path)
{
    if (d->n_images == MAX_FILES) return I2IG_ERR_TOO_LARGE;
    i2ig_image *im;
    i2ig_status st = i2ig_image_load(path, &im);
    if (st != I2IG_OK) return st;
    i2ig_image **n = realloc(d->images, (d->n_images + 1) * sizeof *n);
    if (!n) {
        i2ig_image_free(im);
        return I2IG_ERR_OUT_OF_MEMORY;
    }
    d->images = n;
    d->images[d->n_images++] = im;
    return I2IG_OK;
}

/* Every image of a folder (sorted by name), or one file. */
static i2ig_status load_path(dom *d, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "i2ig train: %s: %s\n", path, strerror(errno));
        return I2IG_ERR_IO;
    }
    if (!S_ISDIR(sb.st_mode)) return add_image(d, path);
    DIR *dir = opendir(path);
    if (!dir) return I2IG_ERR_IO;
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < MAX_FILES) {
        if (!is_image_name(de->d_name)) continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn) break;
        names = nn;
        names[n] = malloc(strlen(path) + strlen(de->d_name) + 2);
        if (!names[n]) break;
        sprintf(names[n++], "%s/%s", path, de->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof *names, cmp_str);
    i2ig_status st = n ? I2IG_OK : I2IG_ERR_INVALID_ARGUMENT;
    if (!n) fprintf(stderr, "i2ig train: %s: no images (.tif, .png, .jpg, .bmp) in this folder\n", path);
    for (size_t i = 0; i < n; i++) {
        if (st == I2IG_OK) st = add_image(d, names[i]);
        free(names[i]);
    }
    free(names);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The default mapping: CT-like data gets a Hounsfield window; anything else
 * a per-slice 0..99.5 percentile scale whose output range is the median of
 * the slices' 99.5th percentiles. */
static void auto_mapping(dom *d)
{
    double mn = INFINITY;
    size_t nslices = 0;
    for (size_t k = 0; k < d->n_images; k++) nslices += i2ig_image_slices(d->images[k]);
    double *p995 = malloc((nslices ? nslices : 1) * sizeof *p995);
    size_t j = 0;
    for (size_t k = 0; k < d->n_images; k++) {
        const i2ig_image *im = d->images[k];
        size_t n = i2ig_image_width(im) * i2ig_image_height(im);
        double *v = malloc(n * sizeof *v);
        for (size_t s = 0; v && p995 && s < i2ig_image_slices(im); s++) {
            for (size_t i = 0; i < n; i++) {
                v[i] = tool_pixel(im, s, i);
                if (v[i] < mn) mn = v[i];
            }
            qsort(v, n, sizeof *v, cmp_double);
            double pos = 0.995 * (double)(n - 1);
            size_t i0 = (size_t)pos;
            p995[j++] = i0 + 1 < n ? v[i0] + (pos - (double)i0) * (v[i0 + 1] - v[i0]) : v[n - 1];
        }
        free(v);
    }
    memset(&d->map, 0, sizeof d->map);
    d->map.struct_size = sizeof d->map;
    if (mn < -500) {
        d->map.kind = I2IG_MAPPING_WINDOW;
        d->map.lo = -1024;
        d->map.hi = 3071;
    } else {
        qsort(p995, j, sizeof *p995, cmp_double);
        d->map.kind = I2IG_MAPPING_PERCENTILE;
        d->map.p_lo = 0;
        d->map.p_hi = 99.5;
        d->map.lo = 0;
        d->map.hi = j && p995[j / 2] > 0 ? p995[j / 2] : 1;
    }
    free(p995);
}

static const char *default_prompt(const char *name, char *buf, size_t n)
{
    const char *mri[] = {"T1", "T2", "PD", "Flair"};
    for (size_t i = 0; i < 4; i++)
        if (!strcasecmp(name, mri[i])) {
            snprintf(buf, n, "this MRI is %s-weighted", mri[i]);
            return buf;
        }
    snprintf(buf, n, "this is %s", name);
    return buf;
}

static int default_label(const char *name, int index)
{
    if (!strcasecmp(name, "T1")) return 0;
    if (!strcasecmp(name, "T2")) return 1;
    if (!strcasecmp(name, "PD") || !strcasecmp(name, "Flair")) return 2;
    return index;
}

/* ---- progress, logs, samples ---------------------------------------------------------- */

typedef struct run_state {
    i2ig_trainer *t;
    const char *checkpoint, *log_dir;
    int every_ckpt, every_sample, quiet;
    double start;
    int64_t start_step, total;
    FILE *csv;
    double *hist[8];
    size_t nhist, caphist;
    char names[MAX_DOMAINS][65];
    int n_domains;
    i2ig_status failure;
} run_state;

static const char *series_names[7] = {"generator", "discriminator", "adversarial", "cycle",
                                      "identity", "clip", "encoding"};

static void record(run_state *r, const i2ig_train_losses *l)
{
    if (r->nhist == r->caphist) {
        size_t cap = r->caphist ? r->caphist * 2 : 256;
        for (int k = 0; k < 8; k++) {
            double *n = realloc(r->hist[k], cap * sizeof(double));
            if (!n) return;
            r->hist[k] = n;
        }
        r->caphist = cap;
    }
    const double v[8] = {(double)l->step, l->generator, l->discriminator, l->adversarial, l->cycle,
                         l->identity, l->clip, l->encoding};
    for (int k = 0; k < 8; k++) r->hist[k][r->nhist] = v[k];
    r->nhist++;
}

static void write_plot(run_state *r)
{
    if (!r->log_dir || !r->nhist) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/losses.png", r->log_dir);
    const double *ys[7];
    for (int k = 0; k < 7; k++) ys[k] = r->hist[k + 1];
    plot_series(path, series_names, 7, r->hist[0], ys, r->nhist);
}

static void write_samples(run_state *r, int64_t step)
{
    if (!r->log_dir || r->n_domains < 2) return;
    /* Rows: up to 3 slices of each direction between the first two domains,
     * from the middles of equal parts of each stack (the first slices are
     * the edge of a volume: neck or vertex); columns: input | translation |
     * cycle. */
    enum { PER = 3 };
    size_t side, n, rows = 0;
    if (i2ig_trainer_preview(r->t, r->names[0], r->names[1], 1, 1, &side, NULL, NULL, NULL)) return;
    n = side * side;
    float *tiles = malloc(2 * PER * 3 * n * sizeof(float)), *buf = malloc(3 * PER * n * sizeof(float));
    int ok = tiles && buf;
    for (int dir = 0; ok && dir < 2; dir++) {
        const char *s = r->names[dir], *t = r->names[1 - dir];
        /* names[k] is the trainer's domain k */
        size_t total = i2ig_trainer_domain_slices(r->t, (size_t)dir), side2, idx[PER];
        size_t per = total < PER ? total : PER;
        for (size_t k = 0; k < per; k++) idx[k] = (2 * k + 1) * total / (2 * per);
        if (!per || i2ig_trainer_preview_slices(r->t, s, t, idx, per, 1, &side2, NULL, NULL, NULL) ||
            side2 != side ||
            i2ig_trainer_preview_slices(r->t, s, t, idx, per, 1, &side, buf, buf + per * n, buf + 2 * per * n)) {
            ok = 0;
            break;
        }
        for (size_t k = 0; k < per; k++, rows++)
            for (int c = 0; c < 3; c++)
                memcpy(tiles + (rows * 3 + (size_t)c) * n, buf + ((size_t)c * per + k) * n, n * sizeof(float));
    }
    if (ok) {
        char path[1024];
        snprintf(path, sizeof path, "%s/samples-%06lld.png", r->log_dir, (long long)step);
        plot_grid(path, tiles, (int)rows, 3, side);
    }
    free(tiles);
    free(buf);
}

static int on_step(void *user, const i2ig_train_losses *l)
{
    run_state *r = user;
    record(r, l);
    if (r->csv) {
        fprintf(r->csv, "%lld,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.3f\n", (long long)l->step,
                l->generator, l->discriminator, l->adversarial, l->cycle, l->identity, l->clip,
                l->encoding, l->lr, tool_now() - r->start);
        fflush(r->csv);
    }
    if (!r->quiet) {
        double el = tool_now() - r->start, rate = (double)(l->step - r->start_step) / el;
        double eta = rate > 0 ? (double)(r->total - l->step) / rate : 0;
        fprintf(stderr,
                "\rstep %lld/%lld  %.2f steps/s  ETA %.0fs  G %.4f D %.4f | adv %.4f cyc %.4f id %.4f "
                "clip %.4f enc %.4f   ",
                (long long)l->step, (long long)r->total, rate, eta, l->generator, l->discriminator,
                l->adversarial, l->cycle, l->identity, l->clip, l->encoding);
    }
    if (r->every_sample > 0 && l->step % r->every_sample == 0) {
        write_samples(r, l->step);
        write_plot(r);
    }
    if (r->checkpoint && r->every_ckpt > 0 && l->step % r->every_ckpt == 0) {
        i2ig_status st = i2ig_trainer_save_checkpoint(r->t, r->checkpoint);
        if (st != I2IG_OK) {
            r->failure = st;
            return 1;
        }
    }
    return stop_flag ? 1 : 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

int cmd_train(int argc, char **argv)
{
    i2ig_train_config tc;
    tc.struct_size = sizeof tc;
    i2ig_train_config_init(&tc);
    i2ig_generator_config gc;
    gc.struct_size = sizeof gc;
    i2ig_generator_config_init(&gc);
    tc.threads = tool_default_threads();
    const char *encoder = NULL, *out = NULL, *checkpoint = NULL, *resume = NULL, *log_dir = NULL;
    dom doms[MAX_DOMAINS];
    memset(doms, 0, sizeof doms);
    int nd = 0, quiet = 0, every_ckpt = 500, every_sample = 250, decay_given = 0;
    int64_t steps = 0;
    char prompt_buf[MAX_DOMAINS][96];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!strcmp(a, "--flip")) {
            tc.flip = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (!v) return tool_usage(usage_text, "option without a value");
        int bad = 0, iv;
        double dv;
        if (!strcmp(a, "--encoder")) encoder = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--checkpoint")) checkpoint = v;
        else if (!strcmp(a, "--resume")) resume = v;
        else if (!strcmp(a, "--log")) log_dir = v;
        else if (!strcmp(a, "--steps")) {
            bad = tool_parse_int(v, 1, 2000000000, &iv);
            steps = iv;
        } else if (!strcmp(a, "--decay-start")) {
            bad = tool_parse_int(v, 0, 2000000000, &iv);
            tc.decay_start = iv;
            decay_given = 1;
        } else if (!strcmp(a, "--checkpoint-every")) bad = tool_parse_int(v, 1, 2000000000, &every_ckpt);
        else if (!strcmp(a, "--sample-every")) bad = tool_parse_int(v, 0, 2000000000, &every_sample);
        else if (!strcmp(a, "--batch")) bad = tool_parse_int(v, 1, 16, &tc.batch_size);
        else if (!strcmp(a, "--crop")) bad = tool_parse_int(v, 0, 4096, &tc.crop_size);
        else if (!strcmp(a, "--seed")) {
            bad = tool_parse_int(v, 0, 0x7fffffff, &iv);
            tc.seed = (uint64_t)iv;
        } else if (!strcmp(a, "--threads")) bad = tool_parse_int(v, 1, 1024, &tc.threads);
        else if (!strcmp(a, "--lr")) {
            bad = tool_parse_double(v, &dv) || !(dv > 0);
            tc.lr_generator = tc.lr_discriminator = dv;
        } else if (!strcmp(a, "--w-adv")) bad = tool_parse_double(v, &tc.w_adversarial);
        else if (!strcmp(a, "--w-cycle")) bad = tool_parse_double(v, &tc.w_cycle);
        else if (!strcmp(a, "--w-identity")) bad = tool_parse_double(v, &tc.w_identity);
        else if (!strcmp(a, "--w-clip")) bad = tool_parse_double(v, &tc.w_clip);
        else if (!strcmp(a, "--w-encoding")) bad = tool_parse_double(v, &tc.w_encoding);
        else if (!strcmp(a, "--model-channels")) bad = tool_parse_int(v, 1, 4096, &gc.model_channels);
        else if (!strcmp(a, "--res-blocks")) bad = tool_parse_int(v, 1, 8, &gc.num_res_blocks);
        else if (!strcmp(a, "--head-channels")) bad = tool_parse_int(v, 1, 4096, &gc.head_channels);
        else if (!strcmp(a, "--classes")) bad = tool_parse_int(v, 1, 1024, &gc.num_classes);
        else if (!strcmp(a, "--channel-mult") || !strcmp(a, "--attention")) {
            int *dst = a[2] == 'c' ? gc.channel_mult : gc.attention_ds;
            int *cnt = a[2] == 'c' ? &gc.n_levels : &gc.n_attention;
            *cnt = 0;
            if (strcmp(v, "none")) {
                char buf[128];
                snprintf(buf, sizeof buf, "%s", v);
                for (char *tok = strtok(buf, ","); tok && !bad; tok = strtok(NULL, ",")) {
                    if (*cnt == 8 || tool_parse_int(tok, 1, 4096, &dst[*cnt])) bad = 1;
                    else (*cnt)++;
                }
            }
        } else if (!strcmp(a, "--domain")) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || eq - v > 64 || nd == MAX_DOMAINS || find(doms, nd, v, (size_t)(eq - v))) bad = 1;
            else {
                memcpy(doms[nd].name, v, (size_t)(eq - v));
                doms[nd].paths = strdup(eq + 1);
                doms[nd].label = -1;
                nd++;
            }
        } else if (!strcmp(a, "--prompt") || !strcmp(a, "--label") || !strcmp(a, "--mapping")) {
            const char *eq = strchr(v, '=');
            dom *d = eq ? find(doms, nd, v, (size_t)(eq - v)) : NULL;
            if (!d) bad = 1;
            else if (a[2] == 'p') d->prompt = eq + 1;
            else if (a[2] == 'l') bad = tool_parse_int(eq + 1, 0, 1023, &d->label);
            else {
                double x[4];
                memset(&d->map, 0, sizeof d->map);
                d->map.struct_size = sizeof d->map;
                if (sscanf(eq + 1, "window:%lf:%lf", &x[0], &x[1]) == 2) {
                    d->map.kind = I2IG_MAPPING_WINDOW;
                    d->map.lo = x[0];
                    d->map.hi = x[1];
                } else if (sscanf(eq + 1, "percentile:%lf:%lf:%lf:%lf", &x[0], &x[1], &x[2], &x[3]) == 4) {
                    d->map.kind = I2IG_MAPPING_PERCENTILE;
                    d->map.p_lo = x[0];
                    d->map.p_hi = x[1];
                    d->map.lo = x[2];
                    d->map.hi = x[3];
                } else bad = 1;
                d->have_map = !bad;
            }
        } else return tool_usage(usage_text, "unknown option");
        if (bad) {
            fprintf(stderr, "i2ig train: bad value for %s: '%s'\n", a, v);
            return 2;
        }
    }
    if (!encoder || !out || (!resume && (nd < 2 || steps < 1)))
        return tool_usage(usage_text, "need --encoder, --out and, unless resuming, two --domain and --steps");

    i2ig_encoder *enc = NULL;
    i2ig_trainer *t = NULL;
    i2ig_status st = i2ig_encoder_load(encoder, &enc);
    if (st == I2IG_OK && resume) {
        st = i2ig_trainer_load_checkpoint(resume, enc, &t);
        if (st == I2IG_OK && !quiet)
            fprintf(stderr, "resumed %s at step %lld\n", resume, (long long)i2ig_trainer_steps_done(t));
    } else if (st == I2IG_OK) {
        tc.total_steps = steps;
        if (!decay_given) tc.decay_start = steps / 2;
        if (st == I2IG_OK) st = i2ig_encoder_set_threads(enc, tc.threads);
        /* The generator attends to the encoder's prompt tokens. */
        i2ig_encoder_info ei;
        ei.struct_size = sizeof ei;
        if (st == I2IG_OK) st = i2ig_encoder_get_info(enc, &ei);
        if (st == I2IG_OK) gc.context_dim = ei.text_width;
        if (st == I2IG_OK) st = i2ig_trainer_create(&tc, &gc, enc, &t);
        for (int k = 0; st == I2IG_OK && k < nd; k++) {
            char paths[4096];
            snprintf(paths, sizeof paths, "%s", doms[k].paths);
            for (char *p = strtok(paths, ","); p && st == I2IG_OK; p = strtok(NULL, ",")) st = load_path(&doms[k], p);
            if (st != I2IG_OK) break;
            if (!doms[k].have_map) auto_mapping(&doms[k]);
            if (!doms[k].prompt) doms[k].prompt = default_prompt(doms[k].name, prompt_buf[k], sizeof prompt_buf[k]);
            if (doms[k].label < 0) doms[k].label = default_label(doms[k].name, k);
            size_t slices = 0;
            for (size_t j = 0; j < doms[k].n_images; j++) slices += i2ig_image_slices(doms[k].images[j]);
            if (!quiet)
                fprintf(stderr, "domain %s: %zu slices from %zu file(s), label %d, prompt \"%s\", %s %g..%g\n",
                        doms[k].name, slices, doms[k].n_images, doms[k].label, doms[k].prompt,
                        doms[k].map.kind == I2IG_MAPPING_WINDOW ? "window" : "percentile mapping to",
                        doms[k].map.lo, doms[k].map.hi);
            st = i2ig_trainer_add_domain(t, doms[k].name, doms[k].prompt, doms[k].label, &doms[k].map,
                                         (const i2ig_image *const *)doms[k].images, doms[k].n_images);
        }
    }
    for (int k = 0; k < nd; k++) {
        for (size_t j = 0; j < doms[k].n_images; j++) i2ig_image_free(doms[k].images[j]);
        free(doms[k].images);
        free(doms[k].paths);
    }
    run_state r;
    memset(&r, 0, sizeof r);
    r.t = t;
    r.checkpoint = checkpoint;
    r.log_dir = log_dir;
    r.every_ckpt = every_ckpt;
    r.every_sample = every_sample;
    r.quiet = quiet;
    if (st == I2IG_OK) {
        if (log_dir) {
            mkdir(log_dir, 0777);
            char path[1024];
            snprintf(path, sizeof path, "%s/losses.csv", log_dir);
            int fresh = !resume;
            r.csv = fopen(path, fresh ? "w" : "a");
            if (r.csv && fresh)
                fprintf(r.csv, "step,generator,discriminator,adversarial,cycle,identity,clip,encoding,lr,seconds\n");
        }
        r.n_domains = (int)i2ig_trainer_domain_count(t);
        if (r.n_domains > MAX_DOMAINS) r.n_domains = MAX_DOMAINS;
        for (int k = 0; k < r.n_domains; k++)
            snprintf(r.names[k], sizeof r.names[k], "%s", i2ig_trainer_domain_name(t, (size_t)k));
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        r.start = tool_now();
        r.start_step = i2ig_trainer_steps_done(t);
        i2ig_train_config cur;
        cur.struct_size = sizeof cur;
        i2ig_trainer_get_config(t, &cur);
        r.total = cur.total_steps;
        st = i2ig_trainer_run(t, on_step, &r, &cancel_flag);
        if (!quiet) fputc('\n', stderr);
        if (r.failure != I2IG_OK) st = r.failure;
    }
    int interrupted = st == I2IG_ERR_CANCELLED && stop_flag;
    if ((st == I2IG_OK || interrupted) && checkpoint) {
        i2ig_status cs = i2ig_trainer_save_checkpoint(t, checkpoint);
        if (cs != I2IG_OK) st = cs;
        else if (!quiet) fprintf(stderr, "checkpoint %s at step %lld\n", checkpoint, (long long)i2ig_trainer_steps_done(t));
    }
    if (st == I2IG_OK || interrupted) {
        write_plot(&r);
        i2ig_status es = i2ig_trainer_export_generator(t, out, 1);
        if (es != I2IG_OK) st = es;
        else if (!quiet) fprintf(stderr, "wrote %s (EMA weights, %lld steps)\n", out, (long long)i2ig_trainer_steps_done(t));
    }
    if (r.csv) fclose(r.csv);
    for (int k = 0; k < 8; k++) free(r.hist[k]);
    i2ig_trainer_free(t);
    i2ig_encoder_free(enc);
    if (interrupted && (st == I2IG_OK || st == I2IG_ERR_CANCELLED)) {
        if (!quiet) fprintf(stderr, "stopped by a signal; resume with --resume %s\n", checkpoint ? checkpoint : "(no checkpoint given)");
        return 130;
    }
    if (st != I2IG_OK) {
        tool_error("train", st);
        return 1;
    }
    return 0;
}
