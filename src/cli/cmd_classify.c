/*
 * cmd_classify.c: `aitag classify`: articles -> tags, one output line per
 * input record, in input order (see pipeline.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pipeline.h"

static const cli_opt opts[] = {
    {"model", 'm', "MODEL", "model file (default: $AITAG_MODEL, then the installed or built default model)"},
    {"threads", 't', "N", "worker threads (default: number of cores)"},
    {"format", 'f', "FMT", "json (default), tsv (id, labels, probabilities) or text"},
    {"top-k", 'k', "K", "keep at most K tags per article (default: all that pass)"},
    {"min-labels", 0, "N", "always give at least N tags, the best-scoring ones (default 0)"},
    {"scores", 0, "WHICH", "probabilities to print: all (default), tags or none"},
    {"margins", 0, NULL, "also print the raw SVM margin of each label"},
    {"explain", 0, "N", "list the N terms that pushed each chosen tag most"},
    {"input-format", 0, "FMT", "auto, jsonl, text or fasttext (default: jsonl for '-' and *.jsonl, else text)"},
    {"max-bytes", 0, "N", "longest line or article accepted, bytes (default 67108864)"},
    {"batch", 0, "N", "articles per work unit (default 64)"},
    {0, 0, 0, 0}};

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    pipeline_opts po;
    memset(&po, 0, sizeof po);
    po.threads = cli_cores();
    po.batch = 64;
    po.decide = aitag_decide_opts_default();
    po.out = stdout;
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
        uint64_t u;
        if ((rc = cli_common(cmd, o)) >= 0)
            goto out;
        rc = EXIT_USAGE;
        if (o == CLI_POSITIONAL) {
            inputs[n_in++] = v;
            continue;
        }
        const char *name = cmd->opts[o].lng;
        if (strcmp(name, "model") == 0) {
            model_path = v;
        } else if (strcmp(name, "threads") == 0) {
            if (cli_uint(cmd, name, v, 1, 256, &u))
                goto out;
            po.threads = (unsigned)u;
        } else if (strcmp(name, "format") == 0) {
            if (strcmp(v, "json") == 0)
                po.format = OUT_JSON;
            else if (strcmp(v, "tsv") == 0)
                po.format = OUT_TSV;
            else if (strcmp(v, "text") == 0)
                po.format = OUT_TEXT;
            else {
                cli_usage_error(cmd, "--format: '%s' is not json, tsv or text", v);
                goto out;
            }
        } else if (strcmp(name, "top-k") == 0) {
            if (cli_uint(cmd, name, v, 1, 65536, &u))
                goto out;
            po.decide.top_k = (uint32_t)u;
        } else if (strcmp(name, "min-labels") == 0) {
            if (cli_uint(cmd, name, v, 0, 65536, &u))
                goto out;
            po.decide.min_labels = (uint32_t)u;
        } else if (strcmp(name, "scores") == 0) {
            if (strcmp(v, "all") == 0)
                po.scores = SCORES_ALL;
            else if (strcmp(v, "tags") == 0)
                po.scores = SCORES_TAGS;
            else if (strcmp(v, "none") == 0)
                po.scores = SCORES_NONE;
            else {
                cli_usage_error(cmd, "--scores: '%s' is not all, tags or none", v);
                goto out;
            }
        } else if (strcmp(name, "margins") == 0) {
            po.margins = 1;
        } else if (strcmp(name, "explain") == 0) {
            if (cli_uint(cmd, name, v, 1, 1000, &u))
                goto out;
            po.explain = (size_t)u;
        } else if (strcmp(name, "input-format") == 0) {
            if (parse_input_format(cmd, v, &cp.format))
                goto out;
            format_given = 1;
        } else if (strcmp(name, "max-bytes") == 0) {
            if (cli_uint(cmd, name, v, 16, (uint64_t)1 << 40, &u))
                goto out;
            cp.max_bytes = (size_t)u;
        } else if (strcmp(name, "batch") == 0) {
            if (cli_uint(cmd, name, v, 1, 1 << 20, &u))
                goto out;
            po.batch = (size_t)u;
        }
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
    po.flush_each = 1; /* a consumer of the stream sees each batch as soon as it is ready */
    pipeline_stats st;
    rc = pipeline_run(m, inputs, n_in, &cp, format_given, &po, &st);
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
