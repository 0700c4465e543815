/*
 * cmd_classify.c: `aitag classify`: articles -> tags, one output line per
 * input record, in input order (the library's stream, aitag/stream.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const cli_opt opts[] = {
    {"model", 'm', "MODEL", "model file (default: $AITAG_MODEL, then the installed or built default model)"},
    {"threads", 't', "N", "worker threads (default: number of cores)"},
    {"format", 'f', "FMT", "json (default), tsv (id, labels, probabilities) or text"},
    {"top-k", 'k', "K", "keep at most K tags per article (default: all that pass)"},
    {"min-labels", 0, "N", "always give at least N tags, the best-scoring ones (default 0)"},
    {"scores", 0, "WHICH", "probabilities to print: all (default), tags or none"},
    {"margins", 0, NULL, "also print the raw SVM margin of each label"},
    {"explain", 0, "N", "list the N terms that pushed each chosen tag most"},
    {"evidence", 0, NULL, "give each tag the passage that supports it most (byte offsets; a snippet with --format text)"},
    {"input-format", 0, "FMT", "auto, jsonl, text or fasttext (default: jsonl for '-' and *.jsonl, else text)"},
    {"max-bytes", 0, "N", "longest line or article accepted, bytes (default 67108864)"},
    {"batch", 0, "N", "articles per work unit, at most (default 1024; a unit also closes at 256 KiB)"},
    {0, 0, 0, 0}};

/* Applies one option to the stream's parameters; EXIT_OK or EXIT_USAGE. */
static int apply_option(const cli_cmd *cmd, const char *name, const char *v, aitag_stream_params *sp,
                        aitag_corpus_params *cp, int *format_given, const char **model_path)
{
    uint64_t u;
    if (strcmp(name, "model") == 0) {
        *model_path = v;
    } else if (strcmp(name, "threads") == 0) {
        if (cli_uint(cmd, name, v, 1, 256, &u))
            return EXIT_USAGE;
        sp->threads = (uint32_t)u;
    } else if (strcmp(name, "format") == 0) {
        if (strcmp(v, "json") == 0)
            sp->format = AITAG_OUTPUT_JSON;
        else if (strcmp(v, "tsv") == 0)
            sp->format = AITAG_OUTPUT_TSV;
        else if (strcmp(v, "text") == 0)
            sp->format = AITAG_OUTPUT_TEXT;
        else
            return cli_usage_error(cmd, "--format: '%s' is not json, tsv or text", v);
    } else if (strcmp(name, "top-k") == 0) {
        if (cli_uint(cmd, name, v, 1, 65536, &u))
            return EXIT_USAGE;
        sp->classify.decide.top_k = (uint32_t)u;
    } else if (strcmp(name, "min-labels") == 0) {
        if (cli_uint(cmd, name, v, 0, 65536, &u))
            return EXIT_USAGE;
        sp->classify.decide.min_labels = (uint32_t)u;
    } else if (strcmp(name, "scores") == 0) {
        if (strcmp(v, "all") == 0)
            sp->scores = AITAG_SCORES_ALL;
        else if (strcmp(v, "tags") == 0)
            sp->scores = AITAG_SCORES_TAGS;
        else if (strcmp(v, "none") == 0)
            sp->scores = AITAG_SCORES_NONE;
        else
            return cli_usage_error(cmd, "--scores: '%s' is not all, tags or none", v);
    } else if (strcmp(name, "margins") == 0) {
        sp->margins = 1;
    } else if (strcmp(name, "evidence") == 0) {
        sp->classify.evidence = 1;
    } else if (strcmp(name, "explain") == 0) {
        if (cli_uint(cmd, name, v, 1, 1000, &u))
            return EXIT_USAGE;
        sp->explain = (uint32_t)u;
    } else if (strcmp(name, "input-format") == 0) {
        if (parse_input_format(cmd, v, &cp->format))
            return EXIT_USAGE;
        *format_given = 1;
    } else if (strcmp(name, "max-bytes") == 0) {
        if (cli_uint(cmd, name, v, 16, (uint64_t)1 << 40, &u))
            return EXIT_USAGE;
        cp->max_bytes = (size_t)u;
    } else if (strcmp(name, "batch") == 0) {
        if (cli_uint(cmd, name, v, 1, 1 << 20, &u))
            return EXIT_USAGE;
        sp->batch = (uint32_t)u;
    }
    return EXIT_OK;
}

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    aitag_stream_params sp = aitag_stream_params_default();
    sp.threads = cli_cores();
    aitag_corpus_params cp = aitag_corpus_params_default();
    int format_given = 0;
    const char *model_path = NULL;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    int n_in = 0;
    if (!inputs)
        return EXIT_FAIL;
    cli_iter it;
    cli_iter_init(&it, cmd, argc, argv);
    const char *v;
    int o, rc = EXIT_USAGE;
    while ((o = cli_next(&it, &v)) != CLI_DONE) {
        if ((rc = cli_common(cmd, o)) >= 0)
            goto out;
        if (o == CLI_POSITIONAL)
            inputs[n_in++] = v;
        else if ((rc = apply_option(cmd, cmd->opts[o].lng, v, &sp, &cp, &format_given, &model_path)) != EXIT_OK)
            goto out;
    }
    if (n_in == 0)
        inputs[n_in++] = "-";
    if (n_in == 1 && strcmp(inputs[0], "-") == 0 && isatty(0))
        cli_warn("reading JSON lines from the terminal; end with Ctrl-D (or give a FILE)");
    aitag_model *m = NULL;
    if (cli_load_model(model_path, &m) != 0) {
        rc = EXIT_FAIL;
        goto out;
    }
    sp.flush_each = 1; /* a consumer of the stream sees each batch as soon as it is ready */
    aitag_stream_stats st;
    rc = cli_stream_run(m, &sp, inputs, n_in, &cp, format_given, stdout, &st);
    if (st.bad) {
        cli_err("%llu of %llu input(s) could not be classified (see the \"error\" lines)", (unsigned long long)st.bad,
                (unsigned long long)st.docs);
        rc = EXIT_FAIL;
    }
    aitag_model_free(m);
out:
    free(inputs);
    return rc;
}

const cli_cmd cmd_classify = {
    "classify", run, "tag articles from files or a JSON-lines stream",
    "[-m MODEL] [options] [FILE...|-]", opts,
    "aitag classify article.txt\n"
    "aitag classify -m news.aitag --format text a.txt b.txt\n"
    "cat articles.jsonl | aitag classify --threads 4 --explain 5 - > tags.jsonl"};
