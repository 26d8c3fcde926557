/* cfp — the command line. Errors: non-zero exit and one line on stderr. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_command *const commands[] = {&cli_cmd_info, &cli_cmd_run, &cli_cmd_bench, &cli_cmd_explain, &cli_cmd_predict, &cli_cmd_evaluate};
#define N_COMMANDS (int)(sizeof commands / sizeof *commands)

static int cmd_help(const char *cmd) {
    if (cmd) {
        for (int i = 0; i < N_COMMANDS; i++)
            if (strcmp(commands[i]->name, cmd) == 0) {
                printf("usage: %s", commands[i]->usage);
                return 0;
            }
        if (strcmp(cmd, "help") == 0 || strcmp(cmd, "version") == 0) {
            printf("usage: cfp help [COMMAND] | cfp --version\n");
            return 0;
        }
        return cli_die("unknown command '%s'", cmd);
    }
    printf("cfp %s — Class Feature Pyramids for 3D-CNN video models\n\nusage: cfp COMMAND [ARGS]\n\ncommands:\n",
           CFP_VERSION);
    for (int i = 0; i < N_COMMANDS; i++) printf("  %-8s %s\n", commands[i]->name, commands[i]->summary);
    printf("  %-8s %s\n  %-8s %s\n", "help", "show help for a command", "version", "print the version");
    printf("\nEvery command that runs a model takes --max-memory SIZE (512M, 2G; default: the machine's\n"
           "physical memory): a model whose values would need more is refused before they are allocated.\n");
    printf("\nRun 'cfp help COMMAND' for a command's options.\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cmd_help(NULL);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("cfp %s\n", CFP_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return cmd_help(argc > 2 ? argv[2] : NULL);
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return cmd_help(cmd);
    /* --max-memory SIZE, for every command: taken out of argv here */
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--max-memory") == 0) {
            if (i + 1 >= argc || cli_parse_size(argv[i + 1], &cli_max_memory)) {
                fprintf(stderr, "cfp %s: --max-memory needs a size such as 4096, 512M or 2G (see 'cfp help')\n", cmd);
                return 2;
            }
            memmove(argv + i, argv + i + 2, (size_t)(argc - i - 1) * sizeof *argv); /* with the final NULL */
            argc -= 2;
            i--;
        }
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, cmd) == 0) return commands[i]->run(argc - 2, argv + 2);
    fprintf(stderr, "cfp: unknown command '%s' (see 'cfp help')\n", cmd);
    return 2;
}
