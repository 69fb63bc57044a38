/* spacekeeper: enforce WorkspaceTemplates on Workspaces. */
#include <stdio.h>
#include <string.h>

#include "spacekeeper/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} COMMANDS[] = {
    {"serve", sk_cmd_serve, "run the admission webhook (HTTPS)"},
    {"check", sk_cmd_check, "apply templates to workspaces offline (CI dry-run)"},
    {"certs", sk_cmd_certs, "make a CA and a serving certificate"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: spacekeeper COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(out, "\n'spacekeeper COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("spacekeeper %s\n", SK_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "spacekeeper: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
