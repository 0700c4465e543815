/*
 * cli.h: what the aitag command's parts share: the option and command
 * tables, diagnostics ("aitag: " on stderr), number parsing and checked
 * output. Exit codes: 0 ok, 1 runtime failure, 2 usage error.
 */
#ifndef AITAG_CLI_H
#define AITAG_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aitag/aitag.h"
#include "sbuf.h" /* the library's internal buffer, linked statically */

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct cli_opt {
    const char *lng;   /* long name without "--" */
    char shrt;         /* short letter, 0 = none */
    const char *arg;   /* argument name, NULL = flag */
    const char *help;  /* one line, with the default */
} cli_opt;

typedef struct cli_cmd {
    const char *name;
    int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
    const char *summary;
    const char *usage;     /* after "aitag NAME " */
    const cli_opt *opts;   /* terminated by a zeroed entry */
    const char *example;   /* lines, each printed indented */
} cli_cmd;

extern const cli_cmd cmd_tokenize, cmd_train, cmd_classify, cmd_eval, cmd_info, cmd_bench, cmd_serve;

/* Option iterator. cli_next returns the index of the option in cmd->opts
 * (its argument in *val), CLI_POSITIONAL (*val = the argument), CLI_HELP,
 * CLI_DONE, or CLI_ERROR (message already printed). */
enum { CLI_DONE = -1, CLI_POSITIONAL = -2, CLI_ERROR = -3, CLI_HELP = -4 };
typedef struct cli_iter {
    const cli_cmd *cmd;
    int argc, i;
    char **argv;
    const char *pending; /* rest of a "-abc" cluster */
    int only_positional;
} cli_iter;

void cli_iter_init(cli_iter *it, const cli_cmd *cmd, int argc, char **argv);
int  cli_next(cli_iter *it, const char **val);
int  cli_opt_is(const cli_iter *it, int idx, const char *lng);

void cli_help(const cli_cmd *cmd, FILE *out);

/* What every command does with CLI_ERROR (exit 2; the message is printed)
 * and CLI_HELP (help on stdout, exit 0): returns that exit code, or -1 for
 * any other value of o. */
int cli_common(const cli_cmd *cmd, int o);

void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int  cli_usage_error(const cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse numbers; print a usage error naming the option on failure. */
int cli_uint(const cli_cmd *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
int cli_double(const cli_cmd *cmd, const char *opt, const char *s, double min, double max, double *out);

/* Records that a write error on stdout was already reported, so that
 * cli_finish_output does not report it a second time. */
void cli_output_error_reported(void);

/* Flushes stdout and reports a write error (full disk, closed pipe): returns
 * rc unchanged when all output was written, else EXIT_FAIL. */
int cli_finish_output(int rc);

/* --input-format auto|jsonl|text|fasttext; --char-ngrams "MIN:MAX". Both print
 * a usage error and return -1 on a bad value. */
int parse_input_format(const cli_cmd *cmd, const char *v, aitag_input_format *f);
int parse_range(const cli_cmd *cmd, const char *opt, const char *v, uint32_t *lo, uint32_t *hi);

/* The default model's path: $AITAG_MODEL, the installed one, then the one
 * built beside this binary. 0, or -1 after printing why there is none. */
int cli_default_model(char *buf, size_t n);

/* Loads -m MODEL, or the default model when path is NULL. */
int cli_load_model(const char *path, aitag_model **out);

/* Classifies every record of the inputs with the library's stream and
 * writes the lines to out; reports a write error once. Without
 * format_given, each input's format follows its name. Returns an exit code. */
int cli_stream_run(const aitag_model *m, const aitag_stream_params *sp, const char *const *inputs, int n,
                   const aitag_corpus_params *cp, int format_given, FILE *out, aitag_stream_stats *st);

/* Refuses to write the file out (given with option opt) when it is one of
 * the inputs: the same file (device and inode, through symbolic and hard
 * links; "-" is standard input). Also refuses an empty name. Prints why and
 * returns -1, else 0. */
int cli_check_output(const char *out, const char *opt, const char *const *inputs, size_t n);

/* Input that must be read as a stream of records (train -i): refuses a
 * device (a terminal, /dev/zero...) named as the corpus. -1 after printing. */
int cli_check_stream_input(const char *path);

/* Number of online processors (at least 1). */
unsigned cli_cores(void);

#endif
