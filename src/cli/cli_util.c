/* cli_util.c: option iteration, help text, diagnostics, checked output. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void cli_iter_init(cli_iter *it, const cli_cmd *cmd, int argc, char **argv)
{
    memset(it, 0, sizeof *it);
    it->cmd = cmd;
    it->argc = argc;
    it->argv = argv;
    it->i = 1;
}

int cli_opt_is(const cli_iter *it, int idx, const char *lng)
{
    return idx >= 0 && strcmp(it->cmd->opts[idx].lng, lng) == 0;
}

static int take_arg(cli_iter *it, int idx, const char *inline_val, const char **val, const char *spelled)
{
    const cli_opt *o = &it->cmd->opts[idx];
    if (!o->arg) {
        if (inline_val) {
            cli_usage_error(it->cmd, "option %s takes no argument", spelled);
            return CLI_ERROR;
        }
        *val = NULL;
        return idx;
    }
    if (inline_val) {
        *val = inline_val;
        return idx;
    }
    if (it->i >= it->argc) {
        cli_usage_error(it->cmd, "option %s needs an argument (%s)", spelled, o->arg);
        return CLI_ERROR;
    }
    *val = it->argv[it->i++];
    return idx;
}

int cli_next(cli_iter *it, const char **val)
{
    const cli_opt *opts = it->cmd->opts;
    if (it->pending && *it->pending) {
        char c = *it->pending++;
        for (int k = 0; opts[k].lng; k++) {
            if (opts[k].shrt == c) {
                const char *rest = NULL;
                if (opts[k].arg && *it->pending) {
                    rest = it->pending;
                    it->pending = NULL;
                }
                char spelled[3] = {'-', c, 0};
                return take_arg(it, k, rest, val, spelled);
            }
        }
        if (c == 'h')
            return CLI_HELP;
        cli_usage_error(it->cmd, "unknown option '-%c'", c);
        return CLI_ERROR;
    }
    it->pending = NULL;
    if (it->i >= it->argc)
        return CLI_DONE;
    char *a = it->argv[it->i++];
    if (it->only_positional || a[0] != '-' || a[1] == '\0') {
        *val = a;
        return CLI_POSITIONAL;
    }
    if (strcmp(a, "--") == 0) {
        it->only_positional = 1;
        return cli_next(it, val);
    }
    if (a[1] == '-') {
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        if (n == 4 && strncmp(name, "help", 4) == 0)
            return CLI_HELP;
        for (int k = 0; opts[k].lng; k++)
            if (strlen(opts[k].lng) == n && strncmp(opts[k].lng, name, n) == 0)
                return take_arg(it, k, eq ? eq + 1 : NULL, val, a);
        cli_usage_error(it->cmd, "unknown option '%.*s'", (int)(n + 2), a);
        return CLI_ERROR;
    }
    it->pending = a + 1;
    return cli_next(it, val);
}

void cli_help(const cli_cmd *cmd, FILE *out)
{
    fprintf(out, "usage: aitag %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->usage, cmd->summary);
    for (const cli_opt *o = cmd->opts; o->lng; o++) {
        char left[64];
        if (o->shrt)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->shrt, o->lng, o->arg ? " " : "", o->arg ? o->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->lng, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-26s %s\n", left, o->help);
    }
    fprintf(out, "  %-26s %s\n", "-h, --help", "show this help");
    fprintf(out, "\nexample:\n");
    const char *e = cmd->example;
    while (*e) {
        const char *nl = strchr(e, '\n');
        size_t n = nl ? (size_t)(nl - e) : strlen(e);
        fprintf(out, "  %.*s\n", (int)n, e);
        e += n + (nl != NULL);
    }
    fprintf(out, "\nexit status: 0 ok, 1 runtime failure, 2 usage error%s\n",
            cmd == &cmd_train ? ", 130/143 stopped by SIGINT/SIGTERM (no model written)" : "");
}

int cli_common(const cli_cmd *cmd, int o)
{
    if (o == CLI_ERROR)
        return EXIT_USAGE;
    if (o == CLI_HELP) {
        cli_help(cmd, stdout);
        return EXIT_OK;
    }
    return -1;
}

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "aitag: %s", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

int cli_usage_error(const cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "aitag %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\naitag: try 'aitag %s --help'\n", cmd->name);
    return EXIT_USAGE;
}

int cli_uint(const cli_cmd *cmd, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        goto bad;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    cli_usage_error(cmd, "--%s: '%s' is not an integer in [%llu, %llu]", opt, s ? s : "", (unsigned long long)min,
                    (unsigned long long)max);
    return -1;
}

int cli_double(const cli_cmd *cmd, const char *opt, const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = s && *s ? strtod(s, &end) : NAN;
    if (!s || !*s || errno || *end || !(v >= min && v <= max)) {
        cli_usage_error(cmd, "--%s: '%s' is not a number in [%g, %g]", opt, s ? s : "", min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int output_error_reported;

void cli_output_error_reported(void) { output_error_reported = 1; }

int cli_finish_output(int rc)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno;
        if (!e) {
            /* an earlier write failed and errno has moved on: a pipe with
             * no reader left still says so to poll() */
            struct pollfd p = {STDOUT_FILENO, POLLOUT, 0};
            e = poll(&p, 1, 0) == 1 && (p.revents & POLLERR) ? EPIPE : EIO;
        }
        if (!output_error_reported)
            cli_err("error writing to standard output: %s", strerror(e));
        return EXIT_FAIL;
    }
    return rc;
}

/* The model the build trains beside this binary (build/aitag ->
 * build/models/default.aitag), found through /proc/self/exe. */
static int model_beside_binary(char *buf, size_t n)
{
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0)
        return -1;
    exe[k] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    if ((size_t)snprintf(buf, n, "%s/models/default.aitag", exe) >= n)
        return -1;
    return access(buf, R_OK);
}

int cli_default_model(char *buf, size_t n)
{
    aitag_error err = {0};
    if (aitag_default_model_path(buf, n, &err) == AITAG_OK)
        return 0;
    if (err.code != AITAG_IO) { /* AITAG_MODEL was given but is unusable: say so, do not look elsewhere */
        cli_err("%s", err.msg);
        return -1;
    }
    if (model_beside_binary(buf, n) == 0)
        return 0;
    cli_err("%s, nor is there a models/default.aitag beside the aitag binary (give one with -m MODEL)", err.msg);
    return -1;
}

int cli_load_model(const char *path, aitag_model **out)
{
    char buf[4096];
    aitag_error err = {0};
    if (!path) {
        if (cli_default_model(buf, sizeof buf) != 0)
            return -1;
        path = buf;
    }
    if (aitag_model_load(path, out, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        return -1;
    }
    return 0;
}

unsigned cli_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}

int parse_input_format(const cli_cmd *cmd, const char *v, aitag_input_format *f)
{
    if (strcmp(v, "auto") == 0)
        *f = AITAG_INPUT_AUTO;
    else if (strcmp(v, "jsonl") == 0)
        *f = AITAG_INPUT_JSONL;
    else if (strcmp(v, "text") == 0)
        *f = AITAG_INPUT_TEXT;
    else if (strcmp(v, "fasttext") == 0)
        *f = AITAG_INPUT_FASTTEXT;
    else
        return cli_usage_error(cmd, "--input-format: '%s' is not auto, jsonl, text or fasttext", v), -1;
    return 0;
}

/* "3:5" -> 3, 5 */
int parse_range(const cli_cmd *cmd, const char *opt, const char *v, uint32_t *lo, uint32_t *hi)
{
    unsigned a, b;
    char extra;
    if (sscanf(v, "%u:%u%c", &a, &b, &extra) != 2 || a < 1 || b < a || b > 8)
        return cli_usage_error(cmd, "--%s: '%s' is not MIN:MAX with 1 <= MIN <= MAX <= 8", opt, v), -1;
    *lo = a;
    *hi = b;
    return 0;
}

static int file_write(void *ud, const char *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)ud) == len ? 0 : -1;
}

static int file_flush(void *ud) { return fflush((FILE *)ud) == 0 ? 0 : -1; }

static int discard(void *ud, const char *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    return 0;
}

int cli_stream_run(const aitag_model *m, const aitag_stream_params *sp, const char *const *inputs, int n,
                   const aitag_corpus_params *cp, int format_given, FILE *out, aitag_stream_stats *st)
{
    aitag_sink sink = {out ? file_write : discard, out ? file_flush : NULL, out};
    aitag_stream *s = NULL;
    aitag_error err = {0};
    memset(st, 0, sizeof *st);
    if (aitag_stream_create(m, sp, sink, &s, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        return EXIT_FAIL;
    }
    aitag_status rc = AITAG_OK;
    for (int i = 0; i < n && rc == AITAG_OK; i++) {
        aitag_corpus_params c = *cp;
        if (!format_given)
            c.format = aitag_input_format_for_path(inputs[i]);
        rc = aitag_stream_add_file(s, inputs[i], &c, &err);
    }
    aitag_status frc = aitag_stream_finish(s, st, rc == AITAG_OK ? &err : NULL);
    if (rc == AITAG_OK)
        rc = frc;
    if (rc == AITAG_OK)
        return EXIT_OK;
    cli_err("%s", err.msg);
    if (rc == AITAG_IO && out == stdout)
        cli_output_error_reported();
    return EXIT_FAIL;
}

/* stat of an input: "-" is standard input. */
static int stat_input(const char *path, struct stat *st)
{
    return strcmp(path, "-") == 0 ? fstat(STDIN_FILENO, st) : stat(path, st);
}

int cli_check_output(const char *out, const char *opt, const char *const *inputs, size_t n)
{
    if (!out[0]) {
        cli_err("%s: an empty file name", opt);
        return -1;
    }
    struct stat so, si;
    if (stat(out, &so) != 0)
        return 0; /* not there yet: it cannot be an input */
    for (size_t i = 0; i < n; i++) {
        if (!inputs[i] || stat_input(inputs[i], &si) != 0)
            continue;
        if (so.st_dev == si.st_dev && so.st_ino == si.st_ino) {
            cli_err("%s %s: is the same file as the input %s; refusing to overwrite it", opt, out,
                    strcmp(inputs[i], "-") == 0 ? "on standard input" : inputs[i]);
            return -1;
        }
    }
    return 0;
}

int cli_check_stream_input(const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0)
        return 0; /* opening it reports what is wrong */
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        cli_err("%s: is a device, not a labelled corpus (give a file, or '-' for standard input)", path);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        cli_err("%s: is a folder, not a labelled corpus", path);
        return -1;
    }
    return 0;
}
