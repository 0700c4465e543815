/*
 * cmd_eval.c: `aitag eval`: a model against a labelled corpus: per-label
 * precision, recall, F1 and support; micro and macro averages; subset
 * accuracy; for single-label models accuracy and a confusion matrix.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "cli.h"

static const cli_opt opts[] = {
    {"model", 'm', "MODEL", "model file (default: the default model)"},
    {"input", 'i', "FILE", "labelled test corpus, JSON lines or fastText ('-' = stdin)"},
    {"json", 0, NULL, "print the metrics as one JSON object"},
    {"top-k", 'k', "K", "keep at most K tags per article (default: all that pass)"},
    {"min-labels", 0, "N", "always give at least N tags (default 0)"},
    {"predictions", 'p', "FILE", "also write each article's predicted labels as JSON lines"},
    {"input-format", 0, "FMT", "auto, jsonl or fasttext (default auto)"},
    {"max-bytes", 0, "N", "longest line accepted, bytes (default 67108864)"},
    {0, 0, 0, 0}};

typedef struct {
    char **names; /* labels not in the model, in order of appearance */
    uint64_t *count;
    size_t n;
} unknown_set;

static int64_t unknown_id(unknown_set *u, const char *name, size_t K)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->names[i], name) == 0) {
            u->count[i]++;
            return (int64_t)(K + i);
        }
    char **nn = realloc(u->names, (u->n + 1) * sizeof *nn);
    if (!nn)
        return -1;
    u->names = nn;
    uint64_t *nc = realloc(u->count, (u->n + 1) * sizeof *nc);
    if (!nc)
        return -1;
    u->count = nc;
    u->names[u->n] = strdup(name);
    if (!u->names[u->n])
        return -1;
    u->count[u->n] = 1;
    return (int64_t)(K + u->n++);
}

static const char *name_of(const aitag_model *m, const unknown_set *u, size_t k)
{
    size_t K = aitag_model_num_labels(m);
    return k < K ? aitag_model_label(m, k) : u->names[k - K];
}

static void print_json(const aitag_model *m, const aitag_metrics *mt, const unknown_set *u, uint64_t bad)
{
    aitag_summary s;
    aitag_metrics_summary(mt, &s);
    aitag__sbuf b = {0};
    char num[128];
    snprintf(num, sizeof num, "{\"docs\": %llu, \"bad_lines\": %llu, \"accuracy\": %.6f, \"subset_accuracy\": %.6f, ",
             (unsigned long long)s.docs, (unsigned long long)bad, s.accuracy, s.subset_accuracy);
    aitag__sb_puts(&b, num);
    snprintf(num, sizeof num, "\"micro\": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f}, ", s.micro.precision,
             s.micro.recall, s.micro.f1);
    aitag__sb_puts(&b, num);
    snprintf(num, sizeof num, "\"macro\": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f}, \"labels\": {",
             s.macro_precision, s.macro_recall, s.macro_f1);
    aitag__sb_puts(&b, num);
    size_t n = aitag_metrics_num_labels(mt);
    for (size_t k = 0; k < n; k++) {
        aitag_label_scores l;
        aitag_metrics_label(mt, k, &l);
        const char *name = name_of(m, u, k);
        if (k)
            aitag__sb_puts(&b, ", ");
        aitag__sb_json_string(&b, name, strlen(name));
        snprintf(num, sizeof num, ": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, \"support\": %llu}",
                 l.precision, l.recall, l.f1, (unsigned long long)l.support);
        aitag__sb_puts(&b, num);
    }
    aitag__sb_puts(&b, "}, \"unknown_labels\": {");
    for (size_t i = 0; i < u->n; i++) {
        if (i)
            aitag__sb_puts(&b, ", ");
        aitag__sb_json_string(&b, u->names[i], strlen(u->names[i]));
        snprintf(num, sizeof num, ": %llu", (unsigned long long)u->count[i]);
        aitag__sb_puts(&b, num);
    }
    aitag__sb_puts(&b, "}}\n");
    fwrite(b.p, 1, b.len, stdout);
    aitag__sb_free(&b);
}

static void print_text(const aitag_model *m, const aitag_metrics *mt, const unknown_set *u, uint64_t bad)
{
    aitag_summary s;
    aitag_metrics_summary(mt, &s);
    size_t n = aitag_metrics_num_labels(mt), w = 5;
    for (size_t k = 0; k < n; k++)
        if (strlen(name_of(m, u, k)) > w)
            w = strlen(name_of(m, u, k));
    printf("%-*s  precision  recall      f1  support\n", (int)w, "label");
    for (size_t k = 0; k < n; k++) {
        aitag_label_scores l;
        aitag_metrics_label(mt, k, &l);
        printf("%-*s  %9.4f  %6.4f  %6.4f  %7llu%s\n", (int)w, name_of(m, u, k), l.precision, l.recall, l.f1,
               (unsigned long long)l.support, k >= aitag_model_num_labels(m) ? "  (not in the model)" : "");
    }
    printf("\n%-*s  %9.4f  %6.4f  %6.4f  %7llu\n", (int)w, "micro", s.micro.precision, s.micro.recall, s.micro.f1,
           (unsigned long long)s.micro.support);
    printf("%-*s  %9.4f  %6.4f  %6.4f  (%zu labels)\n", (int)w, "macro", s.macro_precision, s.macro_recall, s.macro_f1,
           s.labels_scored);
    printf("\ndocuments %llu, subset accuracy (exact match) %.4f", (unsigned long long)s.docs, s.subset_accuracy);
    if (aitag_model_is_single_label(m))
        printf(", accuracy %.4f", s.accuracy);
    printf("\n");
    if (bad)
        printf("bad lines skipped: %llu\n", (unsigned long long)bad);
    size_t K = aitag_model_num_labels(m);
    if (aitag_model_is_single_label(m) && K <= 40) {
        printf("\nconfusion matrix (rows: gold, columns: predicted; '-' = no prediction)\n%*s", 6, "");
        for (size_t p = 0; p < K; p++)
            printf(" %5zu", p);
        printf("     -\n");
        for (size_t g = 0; g < n && g < K; g++) {
            printf("%5zu ", g);
            for (size_t p = 0; p <= K; p++)
                printf(" %5llu", (unsigned long long)aitag_metrics_confusion(mt, g, p == K ? n : p));
            printf("  %s\n", name_of(m, u, g));
        }
    }
}

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    const char *model_path = NULL, *in = NULL, *pred_path = NULL;
    int json = 0;
    aitag_decide_opts dopt = aitag_decide_opts_default();
    aitag_corpus_params cp = aitag_corpus_params_default();
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
            return cli_usage_error(cmd, "unexpected argument '%s' (the corpus is given with -i)", v);
        const char *name = cmd->opts[o].lng;
        if (strcmp(name, "model") == 0)
            model_path = v;
        else if (strcmp(name, "input") == 0)
            in = v;
        else if (strcmp(name, "json") == 0)
            json = 1;
        else if (strcmp(name, "predictions") == 0)
            pred_path = v;
        else if (strcmp(name, "top-k") == 0) {
            if (cli_uint(cmd, name, v, 1, 65536, &u))
                return EXIT_USAGE;
            dopt.top_k = (uint32_t)u;
        } else if (strcmp(name, "min-labels") == 0) {
            if (cli_uint(cmd, name, v, 0, 65536, &u))
                return EXIT_USAGE;
            dopt.min_labels = (uint32_t)u;
        } else if (strcmp(name, "input-format") == 0) {
            if (parse_input_format(cmd, v, &cp.format))
                return EXIT_USAGE;
            if (cp.format == AITAG_INPUT_TEXT)
                return cli_usage_error(cmd, "--input-format: a labelled corpus is jsonl or fasttext");
        } else if (strcmp(name, "max-bytes") == 0) {
            if (cli_uint(cmd, name, v, 16, (uint64_t)1 << 40, &u))
                return EXIT_USAGE;
            cp.max_bytes = (size_t)u;
        }
    }
    if (!in)
        return cli_usage_error(cmd, "the test corpus is required: -i FILE");
    struct stat si, sp;
    if (pred_path && strcmp(in, "-") != 0 && stat(in, &si) == 0 && stat(pred_path, &sp) == 0 &&
        si.st_dev == sp.st_dev && si.st_ino == sp.st_ino)
        return cli_usage_error(cmd, "--predictions would overwrite the test corpus %s", in);
    aitag_model *m = NULL;
    if (cli_load_model(model_path, &m) != 0)
        return EXIT_FAIL;
    int rc = EXIT_FAIL;
    aitag_error err = {0};
    aitag_corpus_reader *r = NULL;
    aitag_classifier *c = NULL;
    aitag_metrics *mt = NULL;
    unknown_set unk = {0};
    FILE *pf = NULL;
    size_t K = aitag_model_num_labels(m);
    double *margins = calloc(K, sizeof *margins);
    uint32_t *tags = calloc(K, sizeof *tags), gold[64];
    uint64_t bad = 0;
    aitag__sbuf line = {0};
    if (!margins || !tags) {
        cli_err("out of memory");
        goto done;
    }
    if (aitag_corpus_open(in, &cp, &r, &err) != AITAG_OK || aitag_classifier_create(m, &c, &err) != AITAG_OK ||
        aitag_metrics_create(K, &mt, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    if (pred_path && !(pf = fopen(pred_path, "w"))) {
        cli_err("%s: cannot write: %s", pred_path, strerror(errno));
        goto done;
    }
    aitag_record rec;
    aitag_status s;
    while ((s = aitag_corpus_next(r, &rec, &err)) != AITAG_END) {
        if (s == AITAG_IO || s == AITAG_NOMEM) {
            cli_err("%s", err.msg);
            goto done;
        }
        if (s == AITAG_OK && !rec.has_labels) {
            s = AITAG_PARSE;
            snprintf(err.msg, sizeof err.msg, "%.300s:%llu: \"labels\" is missing", in, (unsigned long long)rec.line);
        }
        if (s != AITAG_OK) {
            if (!rec.blank) {
                bad++;
                cli_err("%s (skipped)", err.msg);
            }
            continue;
        }
        size_t ng = 0;
        for (size_t j = 0; j < rec.n_labels; j++) {
            int64_t k = aitag_model_label_index(m, rec.labels[j]);
            if (k < 0)
                k = unknown_id(&unk, rec.labels[j], K);
            if (k < 0) {
                cli_err("out of memory");
                goto done;
            }
            int dup = 0;
            for (size_t q = 0; q < ng; q++)
                dup |= gold[q] == (uint32_t)k;
            if (!dup)
                gold[ng++] = (uint32_t)k;
        }
        aitag_classify_opts copt = aitag_classify_opts_default();
        copt.decide = dopt;
        aitag_result res;
        if (aitag_classify(c, rec.text, rec.text_len, &copt, &res, &err) != AITAG_OK) {
            cli_err("%s:%llu: %s", in, (unsigned long long)rec.line, err.msg);
            goto done;
        }
        size_t np = res.n_tags;
        memcpy(tags, res.tags, np * sizeof *tags);
        if (aitag_metrics_add(mt, gold, ng, tags, np) != AITAG_OK) {
            cli_err("out of memory");
            goto done;
        }
        if (pf) {
            line.len = 0;
            aitag__sb_puts(&line, "{\"id\": ");
            aitag__sb_json_string(&line, rec.id, strlen(rec.id));
            aitag__sb_puts(&line, ", \"labels\": [");
            for (size_t j = 0; j < np; j++) {
                if (j)
                    aitag__sb_puts(&line, ", ");
                const char *l = aitag_model_label(m, tags[j]);
                aitag__sb_json_string(&line, l, strlen(l));
            }
            aitag__sb_puts(&line, "]}\n");
            fwrite(line.p, 1, line.len, pf);
        }
    }
    for (size_t i = 0; i < unk.n; i++)
        cli_warn("label '%s' (%llu documents) is not in the model: counted as missed", unk.names[i],
                 (unsigned long long)unk.count[i]);
    if (json)
        print_json(m, mt, &unk, bad);
    else
        print_text(m, mt, &unk, bad);
    rc = bad ? EXIT_FAIL : EXIT_OK;
    if (pf && (fclose(pf) != 0)) {
        cli_err("%s: write error", pred_path);
        rc = EXIT_FAIL;
    }
    pf = NULL;
done:
    if (pf)
        fclose(pf);
    aitag__sb_free(&line);
    for (size_t i = 0; i < unk.n; i++)
        free(unk.names[i]);
    free(unk.names);
    free(unk.count);
    free(margins);
    free(tags);
    aitag_metrics_free(mt);
    aitag_classifier_free(c);
    aitag_corpus_close(r);
    aitag_model_free(m);
    return rc;
}

const cli_cmd cmd_eval = {
    "eval", run, "score a model against a labelled corpus (precision, recall, F1)",
    "[-m MODEL] -i TEST [options]", opts,
    "aitag eval -i datasets/ai-sectors/test.jsonl\n"
    "aitag eval -m reuters.aitag -i test.jsonl --min-labels 1 --json"};
