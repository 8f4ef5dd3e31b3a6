/*
 * train_mr_ct: unpaired training of a T1 MR <-> CT generator with the
 * trainer API of libi2igalip (public header only; needs a library built
 * with training, see i2ig_build_features()).
 *
 *   train_mr_ct ENCODER.i2ig T1_STACK CT_STACK STEPS OUT_MODEL.i2ig [CHECKPOINT] [--small]
 *
 * ENCODER.i2ig is BiomedCLIP converted with tools/convert/biomedclip_to_i2ig.py.
 * T1_STACK and CT_STACK are unpaired image stacks (multi-page TIFF: every
 * page is a training sample), e.g. examples/data/mr-t1-colin27.tif and
 * examples/data/ct-head-invesalius.tif. The generator is exported with its
 * EMA weights to OUT_MODEL.i2ig, ready for i2ig_generator_load() or
 * `i2ig translate`. With CHECKPOINT, a full checkpoint is written at the end
 * or when Ctrl-C stops the run; starting again with an existing CHECKPOINT
 * resumes from it.
 *
 * --small trains a tiny generator on 32x32 crops (a smoke test in seconds);
 * without it: the paper's generator, batch 2, 128x128 crops.
 *
 * Copyright 2026 the libi2igalip authors. SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <i2igalip.h>

/* Polled by i2ig_trainer_run() between steps: the run stops cleanly after
 * the current step when it becomes non-zero. */
static volatile int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Called after every step with that step's losses. */
static int on_step(void *user, const i2ig_train_losses *l)
{
    const int64_t *total = user;
    fprintf(stderr,
            "step %lld/%lld  G %.4f  D %.4f  (adv %.4f cycle %.4f id %.4f clip %.4f enc %.4f)"
            "  lr %.2e\n",
            (long long)l->step, (long long)*total, l->generator, l->discriminator, l->adversarial,
            l->cycle, l->identity, l->clip, l->encoding, l->lr);
    return 0;
}

static int fail(const char *what, i2ig_status st)
{
    fprintf(stderr, "train_mr_ct: %s: %s: %s\n", what, i2ig_status_string(st), i2ig_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    const char *pos[6] = {0};
    int npos = 0, small = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--small")) small = 1;
        else if (npos < 6) pos[npos++] = argv[i];
        else npos = 7;
    }
    if (npos < 5 || npos > 6 || atoll(pos[3]) < 1) {
        fprintf(stderr, "usage: %s ENCODER.i2ig T1_STACK CT_STACK STEPS OUT_MODEL.i2ig "
                        "[CHECKPOINT] [--small]\n", argv[0]);
        return 2;
    }
    const char *encoder_path = pos[0], *t1_path = pos[1], *ct_path = pos[2], *out = pos[4];
    const char *checkpoint = npos == 6 ? pos[5] : NULL;
    int64_t steps = atoll(pos[3]);

    if (!(i2ig_build_features() & I2IG_FEATURE_TRAINING)) {
        fprintf(stderr, "train_mr_ct: libi2igalip %s is an inference-only build\n",
                i2ig_version_string());
        return 1;
    }

    i2ig_encoder *enc = NULL;
    i2ig_trainer *trainer = NULL;
    i2ig_image *t1 = NULL, *ct = NULL;
    int rc = 1;
    i2ig_status st = i2ig_encoder_load(encoder_path, &enc);
    if (st != I2IG_OK) {
        rc = fail(encoder_path, st);
        goto done;
    }

    /* Options structs: set struct_size, fill the defaults, then change. */
    i2ig_train_config tc;
    tc.struct_size = sizeof tc;
    i2ig_train_config_init(&tc);
    tc.total_steps = steps;
    tc.decay_start = steps / 2; /* the reference schedule: constant, then linear to 0 */
    tc.batch_size = small ? 1 : 2;
    tc.crop_size = small ? 32 : 128;
    tc.threads = small ? 1 : (int)sysconf(_SC_NPROCESSORS_ONLN);
    i2ig_encoder_set_threads(enc, tc.threads);

    if (checkpoint && access(checkpoint, R_OK) == 0) {
        st = i2ig_trainer_load_checkpoint(checkpoint, enc, &trainer);
        if (st != I2IG_OK) {
            rc = fail(checkpoint, st);
            goto done;
        }
        fprintf(stderr, "resumed %s at step %lld\n", checkpoint,
                (long long)i2ig_trainer_steps_done(trainer));
    } else {
        i2ig_generator_config gc;
        gc.struct_size = sizeof gc;
        i2ig_generator_config_init(&gc);
        /* The generator attends to the encoder's prompt token states. */
        i2ig_encoder_info info;
        info.struct_size = sizeof info;
        if ((st = i2ig_encoder_get_info(enc, &info)) != I2IG_OK) {
            rc = fail("encoder info", st);
            goto done;
        }
        gc.context_dim = info.text_width;
        gc.num_classes = 2;
        if (small) {
            gc.n_levels = 2;
            gc.channel_mult[0] = gc.channel_mult[1] = 1;
            gc.num_res_blocks = 1;
            gc.n_attention = 1;
            gc.attention_ds[0] = 2;
        }
        if ((st = i2ig_trainer_create(&tc, &gc, enc, &trainer)) != I2IG_OK) {
            rc = fail("trainer", st);
            goto done;
        }
        if ((st = i2ig_image_load(t1_path, &t1)) != I2IG_OK) {
            rc = fail(t1_path, st);
            goto done;
        }
        if ((st = i2ig_image_load(ct_path, &ct)) != I2IG_OK) {
            rc = fail(ct_path, st);
            goto done;
        }
        /* MR has no absolute scale: each slice is scaled by its own
         * percentiles. CT is in Hounsfield units: a fixed window. */
        i2ig_intensity_mapping mr_map = {sizeof mr_map, I2IG_MAPPING_PERCENTILE, 0, 255, 0.5, 99.5};
        i2ig_intensity_mapping ct_map = {sizeof ct_map, I2IG_MAPPING_WINDOW, -1024, 3071, 0, 0};
        const i2ig_image *t1_list[] = {t1}, *ct_list[] = {ct};
        st = i2ig_trainer_add_domain(trainer, "T1", "this MRI is T1-weighted", 0, &mr_map,
                                     t1_list, 1);
        if (st == I2IG_OK)
            st = i2ig_trainer_add_domain(trainer, "CT", "this is head ct", 1, &ct_map, ct_list, 1);
        if (st != I2IG_OK) {
            rc = fail("add domain", st);
            goto done;
        }
        fprintf(stderr, "training T1 (%zu slices) <-> CT (%zu slices) for %lld steps\n",
                i2ig_image_slices(t1), i2ig_image_slices(ct), (long long)steps);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    i2ig_train_config now;
    now.struct_size = sizeof now;
    i2ig_trainer_get_config(trainer, &now);
    st = i2ig_trainer_run(trainer, on_step, &now.total_steps, &stop_requested);
    if (st != I2IG_OK && st != I2IG_ERR_CANCELLED) {
        rc = fail("training", st);
        goto done;
    }
    /* Stopped or finished, the trainer is consistent: save and export. */
    if (checkpoint && (st = i2ig_trainer_save_checkpoint(trainer, checkpoint)) != I2IG_OK) {
        rc = fail(checkpoint, st);
        goto done;
    }
    if ((st = i2ig_trainer_export_generator(trainer, out, 1)) != I2IG_OK) {
        rc = fail(out, st);
        goto done;
    }
    fprintf(stderr, "wrote %s after %lld steps%s\n", out,
            (long long)i2ig_trainer_steps_done(trainer), stop_requested ? " (stopped early)" : "");
    rc = stop_requested ? 130 : 0;
done:
    i2ig_trainer_free(trainer); /* before the encoder it borrows */
    i2ig_image_free(t1);
    i2ig_image_free(ct);
    i2ig_encoder_free(enc);
    return rc;
}
