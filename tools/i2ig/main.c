/* i2ig: command-line front end of libi2igalip. Uses the public API only. */
#include <stdio.h>
#include <string.h>

#include "i2igalip.h"
#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"demo", cmd_demo, "run the demo on the bundled real scans"},
    {"version", cmd_version, "print the library version"},
    {"inspect", cmd_inspect, "show what a weight file (.i2ig) holds; --verify checks it"},
    {"translate", cmd_translate, "translate a slice or a stack to another domain"},
    {"create-model", cmd_create_model, "write a randomly initialised generator model"},
    {"eval", cmd_eval, "PSNR, SSIM and MAE between two image sets"},
#ifdef I2IG_TOOL_TRAINING
    {"train", cmd_train, "train a generator on unpaired images of two or more domains"},
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "usage: i2ig COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "i2ig: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("libi2igalip %s (features:%s)\n", i2ig_version_string(),
           (i2ig_build_features() & I2IG_FEATURE_TRAINING) ? " training" : " inference-only");
    return 0;
}
