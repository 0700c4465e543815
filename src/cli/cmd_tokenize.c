/*
 * cmd_tokenize.c: `aitag tokenize` prints what the model sees of each article.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"

static const cli_opt opts[] = {
    {"model", 'm', "MODEL", "use the tokenizer settings recorded in MODEL"},
    {"all", 'a', NULL, "print every term (word n-grams, Hangul bigrams, character n-grams), not only words"},
    {"word-ngrams", 0, "N", "word n-grams 1..4 shown with --all (default 2)"},
    {"char-ngrams", 0, "MIN:MAX", "character n-grams of words, e.g. 3:5 (default none)"},
    {"strip-accents", 0, NULL, "remove combining marks (default keep)"},
    {"json", 0, NULL, "one JSON line per article: {\"id\", \"tokens\", \"invalid_utf8\"}"},
    {"input-format", 0, "FMT", "auto, jsonl, text or fasttext (default auto)"},
    {"max-bytes", 0, "N", "longest line or article accepted, bytes (default 67108864)"},
    {0, 0, 0, 0}};

typedef struct {
    aitag__sbuf *out;
    int all, n;
} tok_ctx;

static int on_term(void *ud, const char *term, size_t len, aitag_term_kind kind)
{
    tok_ctx *c = ud;
    if (!c->all && kind != AITAG_TERM_WORD && kind != AITAG_TERM_CJK && kind != AITAG_TERM_HANGUL)
        return 0;
    if (c->n++)
        aitag__sb_put(c->out, "\x1f", 1);
    aitag__sb_put(c->out, term, len);
    return 0;
}

/* The line for a record that could not be read. */
static void error_line(aitag__sbuf *line, int json, const char *id, const char *msg)
{
    if (json) {
        aitag__sb_puts(line, "{\"id\": ");
        aitag__sb_json_string(line, id, strlen(id));
        aitag__sb_puts(line, ", \"error\": ");
        aitag__sb_json_string(line, msg, strlen(msg));
        aitag__sb_puts(line, "}\n");
    } else {
        aitag__sb_puts(line, "\n");
    }
}

/* The line for a record's terms (separated by 0x1f in terms). */
static void terms_line(aitag__sbuf *line, int json, const char *id, aitag__sbuf *terms, uint64_t invalid)
{
    if (json) {
        aitag__sb_puts(line, "{\"id\": ");
        aitag__sb_json_string(line, id, strlen(id));
        aitag__sb_puts(line, ", \"tokens\": [");
        for (size_t i = 0, s0 = 0; terms->len && i <= terms->len; i++) {
            if (i == terms->len || terms->p[i] == '\x1f') {
                if (s0)
                    aitag__sb_puts(line, ", ");
                aitag__sb_json_string(line, terms->p + s0, i - s0);
                s0 = i + 1;
            }
        }
        char tail[64];
        snprintf(tail, sizeof tail, "], \"invalid_utf8\": %llu}\n", (unsigned long long)invalid);
        aitag__sb_puts(line, tail);
    } else {
        for (size_t i = 0; i < terms->len; i++)
            if (terms->p[i] == '\x1f')
                terms->p[i] = '|';
        aitag__sb_put(line, terms->p ? terms->p : "", terms->len);
        aitag__sb_puts(line, "\n");
    }
}

typedef struct {
    aitag_tokenizer_params tp;
    aitag_corpus_params cp;
    const char *model_path;
    const char *inputs[256];
    int n_in, all, json;
} tokenize_args;

/* The options; -1 when all is well, else the exit code. */
static int parse_args(const cli_cmd *cmd, int argc, char **argv, tokenize_args *a)
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
        if (o == CLI_POSITIONAL) {
            if (a->n_in == 256)
                return cli_usage_error(cmd, "at most 256 input files");
            a->inputs[a->n_in++] = v;
        } else if (cli_opt_is(&it, o, "model")) {
            a->model_path = v;
        } else if (cli_opt_is(&it, o, "all")) {
            a->all = 1;
        } else if (cli_opt_is(&it, o, "word-ngrams")) {
            if (cli_uint(cmd, "word-ngrams", v, 1, AITAG_MAX_WORD_NGRAMS, &u))
                return EXIT_USAGE;
            a->tp.word_ngrams = (uint32_t)u;
        } else if (cli_opt_is(&it, o, "char-ngrams")) {
            if (parse_range(cmd, "char-ngrams", v, &a->tp.char_ngram_min, &a->tp.char_ngram_max))
                return EXIT_USAGE;
        } else if (cli_opt_is(&it, o, "strip-accents")) {
            a->tp.strip_accents = 1;
        } else if (cli_opt_is(&it, o, "json")) {
            a->json = 1;
        } else if (cli_opt_is(&it, o, "input-format")) {
            if (parse_input_format(cmd, v, &a->cp.format))
                return EXIT_USAGE;
        } else if (cli_opt_is(&it, o, "max-bytes")) {
            if (cli_uint(cmd, "max-bytes", v, 16, (uint64_t)1 << 40, &u))
                return EXIT_USAGE;
            a->cp.max_bytes = (size_t)u;
        }
    }
    if (a->n_in == 0)
        a->inputs[a->n_in++] = "-";
    return -1;
}

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    tokenize_args a;
    memset(&a, 0, sizeof a);
    a.tp = aitag_tokenizer_params_default();
    a.cp = aitag_corpus_params_default();
    int stop_now = parse_args(cmd, argc, argv, &a);
    if (stop_now >= 0)
        return stop_now;
    aitag_tokenizer_params tp = a.tp;
    const aitag_corpus_params cp = a.cp;
    const char *model_path = a.model_path;
    const char *const *inputs = a.inputs;
    int n_in = a.n_in, all = a.all, json = a.json, rc = EXIT_OK;
    if (model_path) {
        aitag_model *m = NULL;
        if (cli_load_model(model_path, &m) != 0)
            return EXIT_FAIL;
        tp = *aitag_model_tokenizer_params(m);
        aitag_model_free(m);
    }
    aitag_error err = {0};
    aitag_tokenizer *tok = NULL;
    if (aitag_tokenizer_create(&tp, &tok, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        return EXIT_FAIL;
    }
    aitag__sbuf terms = {0}, line = {0};
    int stop = 0;
    for (int f = 0; f < n_in && !stop; f++) {
        aitag_corpus_reader *r = NULL;
        if (aitag_corpus_open(inputs[f], &cp, &r, &err) != AITAG_OK) {
            cli_err("%s", err.msg);
            rc = EXIT_FAIL;
            continue;
        }
        aitag_record rec;
        aitag_status s;
        while ((s = aitag_corpus_next(r, &rec, &err)) != AITAG_END) {
            line.len = 0;
            if (s == AITAG_IO || s == AITAG_NOMEM) {
                cli_err("%s", err.msg);
                rc = EXIT_FAIL;
                break;
            }
            if (s != AITAG_OK) {
                cli_err("%s", err.msg);
                rc = EXIT_FAIL;
                error_line(&line, json, rec.id, err.msg);
                fwrite(line.p, 1, line.len, stdout);
                continue;
            }
            terms.len = 0;
            tok_ctx c = {&terms, all, 0};
            aitag_tokenize_stats st;
            if (aitag_tokenize(tok, rec.text, rec.text_len, on_term, &c, &st, &err) != AITAG_OK) {
                cli_err("%s", err.msg);
                rc = EXIT_FAIL;
                break;
            }
            if (st.invalid)
                cli_warn("%s:%llu: %llu invalid UTF-8 sequence(s) replaced by U+FFFD",
                         strcmp(inputs[f], "-") == 0 ? "<stdin>" : inputs[f],
                         (unsigned long long)rec.line, (unsigned long long)st.invalid);
            terms_line(&line, json, rec.id, &terms, st.invalid);
            if (line.oom) {
                cli_err("out of memory");
                rc = EXIT_FAIL;
                break;
            }
            if (fwrite(line.p, 1, line.len, stdout) != line.len) {
                cli_err("error writing to standard output: %s", strerror(errno ? errno : EIO));
                cli_output_error_reported();
                rc = EXIT_FAIL;
                stop = 1;
                break;
            }
        }
        aitag_corpus_close(r);
    }
    aitag__sb_free(&terms);
    aitag__sb_free(&line);
    aitag_tokenizer_free(tok);
    return rc;
}

const cli_cmd cmd_tokenize = {
    "tokenize", run, "print the terms the model sees in each article",
    "[options] [FILE...|-]", opts,
    "aitag tokenize article.txt\n"
    "echo '{\"text\": \"삼성전자가 데이터센터에 투자\"}' | aitag tokenize --all -"};
