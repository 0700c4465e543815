/*
 * main.c: the aitag command: subcommand table, --help, --version.
 * Data goes to stdout, diagnostics to stderr prefixed "aitag:".
 * Exit status: 0 ok, 1 runtime failure, 2 usage error.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_cmd *const commands[] = {&cmd_train, &cmd_classify, &cmd_eval, &cmd_bench, &cmd_info, &cmd_tokenize, &cmd_serve};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: aitag COMMAND [options] [args]\n\n"
                 "Tags articles with sectors (multi-label TF-IDF + linear SVM).\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n  aitag COMMAND --help   shows a command's options, defaults and an example\n"
                 "  aitag --version        prints the version\n\n"
                 "example:\n  aitag classify article.txt\n\n"
                 "exit status: 0 ok, 1 runtime failure (I/O, bad model, bad input), 2 usage error\n");
}

int main(int argc, char **argv)
{
    /* a closed pipe becomes a write error we report, not a silent kill */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return cli_finish_output(EXIT_OK);
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("aitag %s (model format %d)\n", AITAG_VERSION_STRING, AITAG_MODEL_FORMAT_VERSION);
        return cli_finish_output(EXIT_OK);
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return cli_finish_output(commands[i]->run(commands[i], argc - 1, argv + 1));
    cli_err("unknown command '%s'", name);
    cli_err("try 'aitag --help'");
    return EXIT_USAGE;
}
