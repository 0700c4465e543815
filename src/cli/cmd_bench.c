/*
 * cmd_bench.c: `aitag bench`: model load time, per-stage throughput on one
 * thread, end-to-end throughput on 1 and N threads, latency percentiles and
 * peak memory, over the articles of one file.
 *
 * Stages are timed per document with a monotonic clock around each call
 * (tokenize-only is a separate pass, since featurize includes it); the best
 * of --repeat passes is kept. End to end runs the same pipeline as
 * `aitag classify` (read, parse JSON, classify, format JSON), discarding the
 * output, so it measures everything but the final write.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static const cli_opt opts[] = {
    {"model", 'm', "MODEL", "model file (default: the default model)"},
    {"input", 'i', "FILE", "articles: JSON lines (one per line) or a text file (one article)"},
    {"threads", 't', "N", "threads for the multi-threaded end-to-end run (default: number of cores)"},
    {"repeat", 'r', "K", "passes per measurement; the best is reported (default 3)"},
    {"json", 0, NULL, "print the results as one JSON object"},
    {"input-format", 0, "FMT", "auto, jsonl, text or fasttext (default auto)"},
    {"max-bytes", 0, "N", "longest line or article accepted, bytes (default 67108864)"},
    {0, 0, 0, 0}};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct {
    char **text;
    size_t *len;
    size_t n, cap, bytes;
} docs;

static int add_doc(docs *d, const char *t, size_t n)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024;
        char **nt = realloc(d->text, cap * sizeof *nt);
        if (!nt)
            return -1;
        d->text = nt;
        size_t *nl = realloc(d->len, cap * sizeof *nl);
        if (!nl)
            return -1;
        d->len = nl;
        d->cap = cap;
    }
    d->text[d->n] = malloc(n ? n : 1);
    if (!d->text[d->n])
        return -1;
    memcpy(d->text[d->n], t, n);
    d->len[d->n++] = n;
    d->bytes += n;
    return 0;
}

static int count_term(void *ud, const char *t, size_t n, aitag_term_kind k)
{
    (void)t;
    (void)n;
    (void)k;
    ++*(uint64_t *)ud;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    double load_ms, tok_s, feat_s, score_s, decide_s, e2e1_s, e2eN_s, p50_us, p99_us;
    uint64_t terms;
} results;

static double rate(double n, double s) { return s > 0 ? n / s : 0.0; }

typedef struct {
    const char *model_path, *in;
    unsigned threads, repeat;
    int json, format_given;
    aitag_corpus_params cp;
} bench_args;

/* The options; -1 when all is well, else the exit code. */
static int parse_args(const cli_cmd *cmd, int argc, char **argv, bench_args *a)
{
    cli_iter it;
    cli_iter_init(&it, cmd, argc, argv);
    const char *v;
    int o;
    while ((o = cli_next(&it, &v)) != CLI_DONE) {
        uint64_t u;
        int stop = cli_common(cmd, o);
        if (stop >= 0)
            return stop;
        if (o == CLI_POSITIONAL)
            return cli_usage_error(cmd, "unexpected argument '%s' (the input is given with -i)", v);
        const char *name = cmd->opts[o].lng;
        if (strcmp(name, "model") == 0)
            a->model_path = v;
        else if (strcmp(name, "input") == 0)
            a->in = v;
        else if (strcmp(name, "json") == 0)
            a->json = 1;
        else if (strcmp(name, "threads") == 0) {
            if (cli_uint(cmd, name, v, 1, 256, &u))
                return EXIT_USAGE;
            a->threads = (unsigned)u;
        } else if (strcmp(name, "repeat") == 0) {
            if (cli_uint(cmd, name, v, 1, 1000, &u))
                return EXIT_USAGE;
            a->repeat = (unsigned)u;
        } else if (strcmp(name, "max-bytes") == 0) {
            if (cli_uint(cmd, name, v, 16, (uint64_t)1 << 40, &u))
                return EXIT_USAGE;
            a->cp.max_bytes = (size_t)u;
        } else if (strcmp(name, "input-format") == 0) {
            if (parse_input_format(cmd, v, &a->cp.format))
                return EXIT_USAGE;
            a->format_given = 1;
        }
    }
    if (!a->in)
        return cli_usage_error(cmd, "the articles are required: -i FILE");
    if (strcmp(a->in, "-") == 0)
        return cli_usage_error(cmd, "-i needs a file: the articles are read several times");
    struct stat sb;
    if (stat(a->in, &sb) != 0) {
        cli_err("%s: %s", a->in, strerror(errno));
        return EXIT_FAIL;
    }
    if (!S_ISREG(sb.st_mode)) {
        /* a FIFO or a device would block, or give nothing on the second pass */
        cli_err("%s: not a regular file: bench reads the articles several times", a->in);
        return EXIT_FAIL;
    }
    return -1;
}

/* Loads the model --repeat times; the best time goes to R. */
static aitag_model *load_timed(const char *path, unsigned repeat, results *R)
{
    aitag_model *m = NULL;
    aitag_error err = {0};
    double best = 1e30;
    for (unsigned r = 0; r < repeat; r++) {
        double t0 = now();
        if (aitag_model_load(path, &m, &err) != AITAG_OK) {
            cli_err("%s", err.msg);
            return NULL;
        }
        double t = now() - t0;
        if (t < best)
            best = t;
        if (r + 1 < repeat)
            aitag_model_free(m);
    }
    R->load_ms = best * 1e3;
    return m;
}

/* Every article of the input into memory; bad lines are counted. */
static int read_docs(bench_args *a, docs *D, size_t *bad)
{
    aitag_corpus_reader *rd = NULL;
    aitag_error err = {0};
    if (aitag_corpus_open(a->in, &a->cp, &rd, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        return -1;
    }
    aitag_record rec;
    aitag_status s;
    int rc = 0;
    while (rc == 0 && (s = aitag_corpus_next(rd, &rec, &err)) != AITAG_END) {
        if (s == AITAG_IO || s == AITAG_NOMEM) {
            cli_err("%s", err.msg);
            rc = -1;
        } else if (s != AITAG_OK) {
            if ((*bad)++ < 3)
                cli_warn("skipped %s", err.msg);
        } else if (add_doc(D, rec.text, rec.text_len) != 0) {
            cli_err("out of memory");
            rc = -1;
        }
    }
    if (rc == 0 && !a->format_given && aitag_corpus_format(rd) != AITAG_INPUT_TEXT) {
        a->cp.format = aitag_corpus_format(rd);
        a->format_given = 1;
    }
    aitag_corpus_close(rd);
    if (rc == 0 && D->n == 0) {
        cli_err("%s: no articles", a->in);
        rc = -1;
    }
    return rc;
}

/* The stages on one thread, each document timed call by call; the best pass is kept. */
static int time_stages(const aitag_model *m, const docs *D, unsigned repeat, results *R)
{
    size_t K = aitag_model_num_labels(m);
    aitag_error err = {0};
    aitag_classifier *c = NULL;
    aitag_tokenizer *tok = NULL;
    double *margins = calloc(K, sizeof *margins), *probs = calloc(K, sizeof *probs), *lat = calloc(D->n, sizeof *lat);
    uint32_t *tags = calloc(K, sizeof *tags);
    int rc = -1;
    if (!margins || !probs || !lat || !tags) {
        cli_err("out of memory");
        goto done;
    }
    if (aitag_classifier_create(m, &c, &err) != AITAG_OK ||
        aitag_tokenizer_create(aitag_model_tokenizer_params(m), &tok, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    aitag_decide_opts dopt = aitag_decide_opts_default();
    R->tok_s = R->feat_s = R->score_s = R->decide_s = 1e30;
    for (unsigned r = 0; r < repeat; r++) {
        uint64_t terms = 0;
        double t0 = now();
        for (size_t i = 0; i < D->n; i++)
            aitag_tokenize(tok, D->text[i], D->len[i], count_term, &terms, NULL, &err);
        double tt = now() - t0;
        if (tt < R->tok_s)
            R->tok_s = tt;
        R->terms = terms;
        double f = 0, sc = 0, de = 0;
        for (size_t i = 0; i < D->n; i++) {
            aitag_features x;
            double a = now();
            if (aitag_featurize(c, D->text[i], D->len[i], &x, NULL, &err) != AITAG_OK) {
                cli_err("%s", err.msg);
                goto done;
            }
            double b = now();
            aitag_score(c, &x, margins);
            double d = now();
            aitag_decide(m, margins, &dopt, tags, probs);
            double e = now();
            f += b - a;
            sc += d - b;
            de += e - d;
            lat[i] = e - a;
        }
        if (f + sc + de < R->feat_s + R->score_s + R->decide_s) {
            R->feat_s = f;
            R->score_s = sc;
            R->decide_s = de;
            qsort(lat, D->n, sizeof *lat, cmp_double);
            R->p50_us = lat[D->n / 2] * 1e6;
            R->p99_us = lat[(size_t)((double)(D->n - 1) * 0.99)] * 1e6;
        }
    }
    rc = 0;
done:
    free(margins);
    free(probs);
    free(lat);
    free(tags);
    aitag_tokenizer_free(tok);
    aitag_classifier_free(c);
    return rc;
}

/* End to end, as `aitag classify` does it (the library's stream), output discarded. */
static int time_end_to_end(const aitag_model *m, const bench_args *a, results *R)
{
    aitag_stream_params sp = aitag_stream_params_default();
    const char *inputs[1] = {a->in};
    for (int pass = 0; pass < 2; pass++) {
        sp.threads = pass == 0 ? 1 : a->threads;
        double bestt = 1e30;
        for (unsigned r = 0; r < a->repeat; r++) {
            aitag_stream_stats st;
            double t0 = now();
            if (cli_stream_run(m, &sp, inputs, 1, &a->cp, a->format_given, NULL, &st) != EXIT_OK)
                return -1;
            double t = now() - t0;
            if (t < bestt)
                bestt = t;
        }
        *(pass == 0 ? &R->e2e1_s : &R->e2eN_s) = bestt;
    }
    return 0;
}

static void print_json(const bench_args *a, const aitag_model *m, const docs *D, size_t bad, const results *R,
                       double rss_mib)
{
    double n = (double)D->n, mb = (double)D->bytes / 1e6;
    double feat_only = R->feat_s > R->tok_s ? R->feat_s - R->tok_s : 0.0;
    double all1 = R->feat_s + R->score_s + R->decide_s;
    /* one key per thread count: with --threads 1 the two runs are one */
    char multi[128] = "";
    if (a->threads != 1)
        snprintf(multi, sizeof multi, ", \"%u\": {\"docs_per_s\": %.1f, \"mb_per_s\": %.2f}", a->threads,
                 rate(n, R->e2eN_s), rate(mb, R->e2eN_s));
    printf("{\"model\": ");
    aitag__sbuf b = {0};
    aitag__sb_json_string(&b, a->model_path, strlen(a->model_path));
    fwrite(b.p, 1, b.len, stdout);
    aitag__sb_free(&b);
    printf(", \"labels\": %zu, \"features\": %zu, \"load_ms\": %.3f, \"docs\": %zu, \"bad_lines\": %zu, "
           "\"mb\": %.3f, \"terms\": %llu, \"repeat\": %u, \"threads\": %u, "
           "\"stages\": {\"tokenize\": {\"docs_per_s\": %.1f, \"mb_per_s\": %.2f}, "
           "\"featurize\": {\"docs_per_s\": %.1f, \"mb_per_s\": %.2f}, "
           "\"score\": {\"docs_per_s\": %.1f, \"mb_per_s\": %.2f}, "
           "\"decide\": {\"docs_per_s\": %.1f, \"mb_per_s\": %.2f}, "
           "\"all\": {\"docs_per_s\": %.1f, \"mb_per_s\": %.2f}}, "
           "\"end_to_end\": {\"1\": {\"docs_per_s\": %.1f, \"mb_per_s\": %.2f}%s}, "
           "\"latency_us\": {\"p50\": %.2f, \"p99\": %.2f}, \"peak_rss_mib\": %.1f}\n",
           aitag_model_num_labels(m), aitag_model_num_features(m), R->load_ms, D->n, bad, mb,
           (unsigned long long)R->terms, a->repeat, a->threads, rate(n, R->tok_s), rate(mb, R->tok_s),
           rate(n, feat_only), rate(mb, feat_only), rate(n, R->score_s), rate(mb, R->score_s), rate(n, R->decide_s),
           rate(mb, R->decide_s), rate(n, all1), rate(mb, all1), rate(n, R->e2e1_s), rate(mb, R->e2e1_s), multi,
           R->p50_us, R->p99_us, rss_mib);
}

static void print_text(const bench_args *a, const aitag_model *m, const docs *D, size_t bad, const results *R,
                       double rss_mib)
{
    double n = (double)D->n, mb = (double)D->bytes / 1e6;
    double feat_only = R->feat_s > R->tok_s ? R->feat_s - R->tok_s : 0.0;
    double all1 = R->feat_s + R->score_s + R->decide_s;
    printf("model       %s: %zu labels, %zu features; load %.2f ms (best of %u)\n", a->model_path,
           aitag_model_num_labels(m), aitag_model_num_features(m), R->load_ms, a->repeat);
    printf("input       %s: %zu articles, %.2f MB, %llu terms%s\n\n", a->in, D->n, mb, (unsigned long long)R->terms,
           bad ? " (some bad lines skipped)" : "");
    printf("%-44s %12s %9s\n", "stage (1 thread, best of repeats)", "docs/s", "MB/s");
    printf("%-44s %12.0f %9.1f\n", "  normalise + tokenize", rate(n, R->tok_s), rate(mb, R->tok_s));
    printf("%-44s %12.0f %9.1f\n", "  featurize (vocabulary lookup, TF-IDF)", rate(n, feat_only), rate(mb, feat_only));
    printf("%-44s %12.0f %9.1f\n", "  score (one dot product per label)", rate(n, R->score_s), rate(mb, R->score_s));
    printf("%-44s %12.0f %9.1f\n", "  decide (thresholds, Platt)", rate(n, R->decide_s), rate(mb, R->decide_s));
    printf("%-44s %12.0f %9.1f\n", "  all stages", rate(n, all1), rate(mb, all1));
    printf("%-44s %12s %9s\n", "end to end (read, parse, classify, JSON out)", "", "");
    printf("%-44s %12.0f %9.1f\n", "  1 thread", rate(n, R->e2e1_s), rate(mb, R->e2e1_s));
    char lab[64];
    snprintf(lab, sizeof lab, "  %u threads", a->threads);
    printf("%-44s %12.0f %9.1f\n", lab, rate(n, R->e2eN_s), rate(mb, R->e2eN_s));
    printf("\nlatency per article (1 thread, all stages): p50 %.1f us, p99 %.1f us\n", R->p50_us, R->p99_us);
    printf("peak memory (RSS): %.1f MiB\n", rss_mib);
}

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    bench_args a = {NULL, NULL, cli_cores(), 3, 0, 0, aitag_corpus_params_default()};
    int stop = parse_args(cmd, argc, argv, &a);
    if (stop >= 0)
        return stop;
    char pathbuf[4096];
    if (!a.model_path) {
        if (cli_default_model(pathbuf, sizeof pathbuf) != 0)
            return EXIT_FAIL;
        a.model_path = pathbuf;
    }
    results R;
    memset(&R, 0, sizeof R);
    aitag_model *m = load_timed(a.model_path, a.repeat, &R);
    if (!m)
        return EXIT_FAIL;
    docs D;
    memset(&D, 0, sizeof D);
    size_t bad = 0;
    int rc = EXIT_FAIL;
    if (read_docs(&a, &D, &bad) == 0 && time_stages(m, &D, a.repeat, &R) == 0 && time_end_to_end(m, &a, &R) == 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double rss_mib = (double)ru.ru_maxrss / 1024.0;
        if (a.json)
            print_json(&a, m, &D, bad, &R, rss_mib);
        else
            print_text(&a, m, &D, bad, &R, rss_mib);
        rc = EXIT_OK;
    }
    for (size_t i = 0; i < D.n; i++)
        free(D.text[i]);
    free(D.text);
    free(D.len);
    aitag_model_free(m);
    return rc;
}

const cli_cmd cmd_bench = {
    "bench", run, "time model loading and each stage of classification",
    "[-m MODEL] -i FILE [options]", opts,
    "aitag bench -i datasets/ai-sectors/test.jsonl\n"
    "aitag bench -m reuters.aitag -i ../shared/datasets/agnews/test.jsonl --threads 2 --json"};
