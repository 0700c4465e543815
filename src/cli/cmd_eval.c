/*
 * cmd_eval.c: `aitag eval`: a model against a labelled corpus: per-label
 * precision, recall, F1 and support; micro and macro averages; subset
 * accuracy; for single-label models accuracy and a confusion matrix.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "cli.h"
#include "strmap.h" /* the library's internal map, linked statically */

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

/* Gold label names -> label ids, in time linear in the labels: the model's
 * labels first (0..K-1), then the labels the model does not know (K...). */
typedef struct {
    aitag__strmap model;  /* the model's labels -> map id */
    uint32_t *model_k;    /* map id -> label index */
    aitag__strmap map;    /* unknown labels -> index in names */
    char **names;         /* labels not in the model, in order of appearance */
    uint64_t *count;
    size_t n, cap;
} unknown_set;

static int label_map_init(unknown_set *u, const aitag_model *m)
{
    size_t K = aitag_model_num_labels(m);
    if (aitag__strmap_init(&u->model) != 0 || aitag__strmap_init(&u->map) != 0 ||
        !(u->model_k = malloc((K ? K : 1) * sizeof *u->model_k)))
        return -1;
    for (size_t k = 0; k < K; k++) {
        const char *l = aitag_model_label(m, k);
        uint32_t id;
        int added = 0;
        if (aitag__strmap_intern(&u->model, l, strlen(l), &id, &added) != 0)
            return -1;
        if (added)
            u->model_k[id] = (uint32_t)k;
    }
    return 0;
}

static void label_map_free(unknown_set *u)
{
    aitag__strmap_free(&u->model);
    aitag__strmap_free(&u->map);
    free(u->model_k);
    for (size_t i = 0; i < u->n; i++)
        free(u->names[i]);
    free(u->names);
    free(u->count);
}

/* The id of a gold label, or -1 when out of memory. */
static int64_t label_id(unknown_set *u, const char *name, size_t K)
{
    size_t len = strlen(name);
    int64_t id = aitag__strmap_find(&u->model, name, len);
    if (id >= 0)
        return u->model_k[id];
    id = aitag__strmap_find(&u->map, name, len);
    if (id >= 0) {
        u->count[id]++;
        return (int64_t)K + id;
    }
    if (u->n == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 16;
        char **nn = realloc(u->names, cap * sizeof *nn);
        if (!nn)
            return -1;
        u->names = nn;
        uint64_t *nc = realloc(u->count, cap * sizeof *nc);
        if (!nc)
            return -1;
        u->count = nc;
        u->cap = cap;
    }
    uint32_t nid;
    if (!(u->names[u->n] = strdup(name)) || aitag__strmap_intern(&u->map, name, len, &nid, NULL) != 0) {
        free(u->names[u->n]);
        return -1;
    }
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

typedef struct {
    const char *model_path, *in, *pred_path;
    int json;
    aitag_decide_opts dopt;
    aitag_corpus_params cp;
} eval_args;

/* The options; -1 when all is well, else the exit code. */
static int parse_args(const cli_cmd *cmd, int argc, char **argv, eval_args *a)
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
            return cli_usage_error(cmd, "unexpected argument '%s' (the corpus is given with -i)", v);
        const char *name = cmd->opts[o].lng;
        if (strcmp(name, "model") == 0)
            a->model_path = v;
        else if (strcmp(name, "input") == 0)
            a->in = v;
        else if (strcmp(name, "json") == 0)
            a->json = 1;
        else if (strcmp(name, "predictions") == 0)
            a->pred_path = v;
        else if (strcmp(name, "top-k") == 0) {
            if (cli_uint(cmd, name, v, 1, 65536, &u))
                return EXIT_USAGE;
            a->dopt.top_k = (uint32_t)u;
        } else if (strcmp(name, "min-labels") == 0) {
            if (cli_uint(cmd, name, v, 0, 65536, &u))
                return EXIT_USAGE;
            a->dopt.min_labels = (uint32_t)u;
        } else if (strcmp(name, "input-format") == 0) {
            if (parse_input_format(cmd, v, &a->cp.format))
                return EXIT_USAGE;
            if (a->cp.format == AITAG_INPUT_TEXT)
                return cli_usage_error(cmd, "--input-format: a labelled corpus is jsonl or fasttext");
        } else if (strcmp(name, "max-bytes") == 0) {
            if (cli_uint(cmd, name, v, 16, (uint64_t)1 << 40, &u))
                return EXIT_USAGE;
            a->cp.max_bytes = (size_t)u;
        }
    }
    if (!a->in)
        return cli_usage_error(cmd, "the test corpus is required: -i FILE");
    return -1;
}

/* One prediction line: {"id": ..., "labels": [...]}. */
static void write_prediction(FILE *pf, aitag__sbuf *line, const aitag_model *m, const char *id, const uint32_t *tags,
                             size_t np)
{
    line->len = 0;
    aitag__sb_puts(line, "{\"id\": ");
    aitag__sb_json_string(line, id, strlen(id));
    aitag__sb_puts(line, ", \"labels\": [");
    for (size_t j = 0; j < np; j++) {
        if (j)
            aitag__sb_puts(line, ", ");
        const char *l = aitag_model_label(m, tags[j]);
        aitag__sb_json_string(line, l, strlen(l));
    }
    aitag__sb_puts(line, "]}\n");
    fwrite(line->p, 1, line->len, pf);
}

/* A record's gold labels as model indices (unknown ones get ids past K, in NFC). */
static int gold_ids(unknown_set *unk, const aitag_record *rec, size_t K, uint32_t *gold, size_t *ng)
{
    *ng = 0;
    for (size_t j = 0; j < rec->n_labels; j++) {
        /* labels are compared in NFC, the form training gives them */
        char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)rec->labels[j]);
        const char *gname = nfc ? nfc : rec->labels[j];
        int64_t k = label_id(unk, gname, K);
        free(nfc);
        if (k < 0)
            return -1;
        int dup = 0;
        for (size_t q = 0; q < *ng; q++)
            dup |= gold[q] == (uint32_t)k;
        if (!dup)
            gold[(*ng)++] = (uint32_t)k;
    }
    return 0;
}

/* What one evaluation run holds. */
typedef struct {
    const aitag_model *m;
    aitag_classifier *c;
    aitag_metrics *mt;
    unknown_set unk;
    aitag_classify_opts copt;
    FILE *pf;          /* --predictions, or NULL */
    aitag__sbuf line;
    const char *in;
} eval_run;

/* Classifies one labelled record and counts it; -1 after printing why not. */
static int eval_record(eval_run *e, const aitag_record *rec)
{
    uint32_t gold[AITAG_MAX_LABELS_PER_DOC];
    size_t ng = 0;
    if (gold_ids(&e->unk, rec, aitag_model_num_labels(e->m), gold, &ng) != 0) {
        cli_err("out of memory");
        return -1;
    }
    aitag_result res;
    aitag_error err = {0};
    if (aitag_classify(e->c, rec->text, rec->text_len, &e->copt, &res, &err) != AITAG_OK) {
        cli_err("%s:%llu: %s", e->in, (unsigned long long)rec->line, err.msg);
        return -1;
    }
    if (aitag_metrics_add(e->mt, gold, ng, res.tags, res.n_tags) != AITAG_OK) {
        cli_err("out of memory");
        return -1;
    }
    if (e->pf)
        write_prediction(e->pf, &e->line, e->m, rec->id, res.tags, res.n_tags);
    return 0;
}

/* Every record of the corpus; returns the bad lines skipped, or -1. */
static int64_t eval_corpus(eval_run *e, aitag_corpus_reader *r)
{
    aitag_record rec;
    aitag_status s;
    aitag_error err = {0};
    int64_t bad = 0;
    while ((s = aitag_corpus_next(r, &rec, &err)) != AITAG_END) {
        if (s == AITAG_IO || s == AITAG_NOMEM) {
            cli_err("%s", err.msg);
            return -1;
        }
        if (s == AITAG_OK && !rec.has_labels) {
            s = AITAG_PARSE;
            snprintf(err.msg, sizeof err.msg, "%.300s:%llu: \"labels\" is missing", e->in, (unsigned long long)rec.line);
        }
        if (s != AITAG_OK) {
            if (!rec.blank) {
                bad++;
                cli_err("%s (skipped)", err.msg);
            }
            continue;
        }
        if (eval_record(e, &rec) != 0)
            return -1;
    }
    return bad;
}

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    eval_args a = {NULL, NULL, NULL, 0, aitag_decide_opts_default(), aitag_corpus_params_default()};
    a.cp.labels_required = 1;
    int stop = parse_args(cmd, argc, argv, &a);
    if (stop >= 0)
        return stop;
    char model_buf[4096];
    if (!a.model_path) {
        if (cli_default_model(model_buf, sizeof model_buf) != 0)
            return EXIT_FAIL;
        a.model_path = model_buf;
    }
    const char *inputs[2] = {a.in, a.model_path};
    if (a.pred_path && cli_check_output(a.pred_path, "--predictions", inputs, 2) != 0)
        return EXIT_USAGE;
    aitag_model *m = NULL;
    if (cli_load_model(a.model_path, &m) != 0)
        return EXIT_FAIL;
    eval_run e;
    memset(&e, 0, sizeof e);
    e.m = m;
    e.copt = aitag_classify_opts_default();
    e.copt.decide = a.dopt;
    e.in = a.in;
    int rc = EXIT_FAIL;
    aitag_error err = {0};
    aitag_corpus_reader *r = NULL;
    if (label_map_init(&e.unk, m) != 0) {
        cli_err("out of memory");
        goto done;
    }
    if (aitag_corpus_open(a.in, &a.cp, &r, &err) != AITAG_OK || aitag_classifier_create(m, &e.c, &err) != AITAG_OK ||
        aitag_metrics_create(aitag_model_num_labels(m), &e.mt, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    if (a.pred_path && !(e.pf = fopen(a.pred_path, "w"))) {
        cli_err("%s: cannot write: %s", a.pred_path, strerror(errno));
        goto done;
    }
    int64_t bad = eval_corpus(&e, r);
    if (bad < 0)
        goto done;
    for (size_t i = 0; i < e.unk.n; i++)
        cli_warn("label '%s' (%llu documents) is not in the model: counted as missed", e.unk.names[i],
                 (unsigned long long)e.unk.count[i]);
    if (a.json)
        print_json(m, e.mt, &e.unk, (uint64_t)bad);
    else
        print_text(m, e.mt, &e.unk, (uint64_t)bad);
    rc = bad ? EXIT_FAIL : EXIT_OK;
    if (e.pf && fclose(e.pf) != 0) {
        cli_err("%s: write error", a.pred_path);
        rc = EXIT_FAIL;
    }
    e.pf = NULL;
done:
    if (e.pf)
        fclose(e.pf);
    aitag__sb_free(&e.line);
    label_map_free(&e.unk);
    aitag_metrics_free(e.mt);
    aitag_classifier_free(e.c);
    aitag_corpus_close(r);
    aitag_model_free(m);
    return rc;
}

const cli_cmd cmd_eval = {
    "eval", run, "score a model against a labelled corpus (precision, recall, F1)",
    "[-m MODEL] -i TEST [options]", opts,
    "aitag eval -i datasets/ai-sectors/test.jsonl\n"
    "aitag eval -m reuters.aitag -i test.jsonl --min-labels 1 --json"};
