/*
 * check_oom.c: the `oom` suite. Allocation failure injection: with
 * aitag__set_alloc_fail_after(n), the library's allocations after the n-th
 * fail. For n = 0, 1, 2... each operation must either succeed or fail with
 * AITAG_NOMEM (or another documented status), never crash, and free what it
 * had allocated (ASan/LSan builds check the last part). Once n is past the
 * operation's last allocation it succeeds, and its result must then be
 * exactly the result of a run without injection.
 *
 * Each n is one loop iteration (a separate forked process under Check); the
 * last n of an operation's range must succeed, which proves the range
 * covered every failure point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aitag/aitag.h"
#include "check_suites.h"
#include "internal.h"
#include "model_internal.h"

/* ---- the driver -------------------------------------------------------- */

typedef struct oom_op {
    const char *name;
    aitag_status (*run)(void);           /* under injection; frees all it makes */
    const aitag_status *allowed;         /* besides OK and NOMEM; ends with AITAG_OK */
    long limit;                          /* n = 0 .. limit-1 are tried */
} oom_op;

/* One failure point: allocation n+1 and all after it fail. The last n of the
 * range must succeed, which proves the range covered every failure point. */
static void check_point(const oom_op *op, long n)
{
    aitag__set_alloc_fail_after(n);
    aitag_status st = op->run();
    aitag__set_alloc_fail_after(-1);
    if (getenv("AITAG_OOM_VERBOSE"))
        fprintf(stderr, "oom %s n=%ld: %s\n", op->name, n, aitag_status_str(st));
    int ok = st == AITAG_OK || st == AITAG_NOMEM;
    for (const aitag_status *a = op->allowed; a && *a != AITAG_OK; a++)
        ok |= st == *a;
    ck_assert_msg(ok, "%s with allocation %ld failing: unexpected status %s", op->name, n + 1, aitag_status_str(st));
    if (n == 0)
        ck_assert_msg(st != AITAG_OK, "%s succeeded with no allocation at all: injection not reached", op->name);
    if (n == op->limit - 1)
        ck_assert_msg(st == AITAG_OK, "%s still fails after %ld allocations: raise its limit", op->name, n);
}

static const aitag_status only_nomem[] = {AITAG_OK};

/* ---- shared data ------------------------------------------------------- */

typedef struct {
    char *text;
    size_t len;
    char *labels[8];
    size_t n_labels;
} doc;

static doc *g_docs;
static size_t g_ndocs;

/* Reads tests/data/<name> (no injection active). */
static void read_docs(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", AITAG_TEST_DATA, name);
    aitag_corpus_params cp = aitag_corpus_params_default();
    aitag_corpus_reader *r = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_corpus_open(path, &cp, &r, &err), AITAG_OK);
    aitag_record rec;
    size_t cap = 0;
    g_ndocs = 0;
    g_docs = NULL;
    while (aitag_corpus_next(r, &rec, &err) == AITAG_OK) {
        if (g_ndocs == cap) {
            cap = cap ? 2 * cap : 32;
            g_docs = realloc(g_docs, cap * sizeof *g_docs);
            ck_assert_ptr_nonnull(g_docs);
        }
        doc *d = &g_docs[g_ndocs++];
        memset(d, 0, sizeof *d);
        d->text = malloc(rec.text_len + 1);
        memcpy(d->text, rec.text, rec.text_len);
        d->text[rec.text_len] = '\0';
        d->len = rec.text_len;
        for (size_t j = 0; j < rec.n_labels && j < 8; j++)
            d->labels[d->n_labels++] = strdup(rec.labels[j]);
    }
    aitag_corpus_close(r);
    ck_assert_uint_gt(g_ndocs, 0);
}

static void free_docs(void)
{
    for (size_t i = 0; i < g_ndocs; i++) {
        free(g_docs[i].text);
        for (size_t j = 0; j < g_docs[i].n_labels; j++)
            free(g_docs[i].labels[j]);
    }
    free(g_docs);
    g_docs = NULL;
    g_ndocs = 0;
}

static aitag_train_params oom_train_params(void)
{
    aitag_train_params p = aitag_train_params_default();
    p.threads = 1; /* jobs in this process, where the hook applies */
    p.folds = 3;
    return p;
}

/* Dataset of g_docs plus training; the model is returned in *out. */
static aitag_status build_and_train(aitag_model **out)
{
    aitag_tokenizer_params tp = aitag_tokenizer_params_default();
    aitag_dataset *d = NULL;
    aitag_error err = {0};
    *out = NULL;
    aitag_status st = aitag_dataset_create(&tp, 0, &d, &err);
    if (st != AITAG_OK) {
        ck_assert_ptr_null(d);
        ck_assert_int_eq(err.code, st);
        return st;
    }
    for (size_t i = 0; i < g_ndocs; i++) {
        size_t before = aitag_dataset_size(d);
        st = aitag_dataset_add(d, g_docs[i].text, g_docs[i].len, (const char *const *)g_docs[i].labels,
                               g_docs[i].n_labels, &err);
        if (st != AITAG_OK) {
            ck_assert_int_eq(err.code, st);
            ck_assert_uint_eq(aitag_dataset_size(d), before); /* a failed add adds nothing */
            aitag_dataset_free(d);
            return st;
        }
    }
    aitag_train_params p = oom_train_params();
    st = aitag_train(d, &p, NULL, NULL, out, NULL, &err);
    if (st != AITAG_OK) {
        ck_assert_ptr_null(*out);
        ck_assert_int_eq(err.code, st);
        ck_assert_str_ne(err.msg, "");
    }
    aitag_dataset_free(d);
    return st;
}

/* ---- model load -------------------------------------------------------- */

static uint8_t *g_img;
static size_t g_img_size;

static void model_setup(void)
{
    read_docs("train_multi.jsonl");
    aitag_model *m = NULL;
    ck_assert_int_eq(build_and_train(&m), AITAG_OK);
    g_img_size = m->image_size;
    g_img = malloc(g_img_size);
    memcpy(g_img, m->image, g_img_size);
    aitag_model_free(m);
    free_docs();
}

static void model_teardown(void)
{
    free(g_img);
    g_img = NULL;
}

static aitag_status model_load_run(void)
{
    aitag_model *m = (aitag_model *)1;
    aitag_error err = {0};
    aitag_status st = aitag_model_load_bytes(g_img, g_img_size, "oom.aitag", &m, &err);
    if (st != AITAG_OK) {
        ck_assert_ptr_null(m);
        ck_assert_int_eq(err.code, st);
        ck_assert_msg(strstr(err.msg, "oom.aitag") != NULL, "%s", err.msg);
        return st;
    }
    /* the model is whole: same image, and it classifies */
    ck_assert_uint_eq(m->image_size, g_img_size);
    ck_assert(memcmp(m->image, g_img, g_img_size) == 0);
    ck_assert_uint_eq(aitag_model_num_labels(m), 4);
    aitag_model_free(m);
    return AITAG_OK;
}

static const oom_op op_model_load = {"model load", model_load_run, only_nomem, 32};

START_TEST(oom_model_load)
{
    check_point(&op_model_load, _i);
}
END_TEST

/* ---- classifier: create, featurize, score ------------------------------ */

static aitag_model *g_model;
static const char *g_query = "The robot arm with a new processor chip sorts parcels while solar panels feed the grid";
static double g_ref_margins[4];

static void classify_setup(void)
{
    model_setup();
    aitag_error err = {0};
    ck_assert_int_eq(aitag_model_load_bytes(g_img, g_img_size, "oom.aitag", &g_model, &err), AITAG_OK);
    aitag_classifier *c = NULL;
    ck_assert_int_eq(aitag_classifier_create(g_model, &c, &err), AITAG_OK);
    aitag_features x;
    ck_assert_int_eq(aitag_featurize(c, g_query, strlen(g_query), &x, NULL, &err), AITAG_OK);
    ck_assert_uint_gt(x.n, 3);
    aitag_score(c, &x, g_ref_margins);
    aitag_classifier_free(c);
}

static void classify_teardown(void)
{
    aitag_model_free(g_model);
    g_model = NULL;
    model_teardown();
}

static aitag_status classify_run(void)
{
    aitag_classifier *c = (aitag_classifier *)1;
    aitag_error err = {0};
    aitag_status st = aitag_classifier_create(g_model, &c, &err);
    if (st != AITAG_OK) {
        ck_assert_ptr_null(c);
        return st;
    }
    aitag_features x;
    st = aitag_featurize(c, g_query, strlen(g_query), &x, NULL, &err);
    if (st == AITAG_OK) {
        double mg[4];
        aitag_score(c, &x, mg);
        ck_assert(memcmp(mg, g_ref_margins, sizeof mg) == 0);
    } else {
        /* a failed document leaves the classifier usable for the next */
        ck_assert_uint_eq(x.n, 0);
        aitag__set_alloc_fail_after(-1);
        ck_assert_int_eq(aitag_featurize(c, g_query, strlen(g_query), &x, NULL, &err), AITAG_OK);
        double mg[4];
        aitag_score(c, &x, mg);
        ck_assert(memcmp(mg, g_ref_margins, sizeof mg) == 0);
    }
    aitag_classifier_free(c);
    return st;
}

static const oom_op op_classify = {"classify", classify_run, only_nomem, 24};

START_TEST(oom_classify)
{
    check_point(&op_classify, _i);
}
END_TEST

/* ---- dataset + training ------------------------------------------------ */

static uint8_t *g_ref_img;
static size_t g_ref_size;

static void train_setup(void)
{
    /* a fixed creation time, so the injected runs can be compared byte for byte */
    ck_assert_int_eq(setenv("SOURCE_DATE_EPOCH", "1600000000", 1), 0);
    read_docs("train_multi.jsonl");
    aitag_model *m = NULL;
    ck_assert_int_eq(build_and_train(&m), AITAG_OK);
    g_ref_size = m->image_size;
    g_ref_img = malloc(g_ref_size);
    memcpy(g_ref_img, m->image, g_ref_size);
    aitag_model_free(m);
}

static void train_teardown(void)
{
    free_docs();
    free(g_ref_img);
    g_ref_img = NULL;
    unsetenv("SOURCE_DATE_EPOCH");
}

static aitag_status train_run(void)
{
    aitag_model *m = NULL;
    aitag_status st = build_and_train(&m);
    if (st == AITAG_OK) {
        /* success under memory pressure must not mean a different model */
        ck_assert_msg(m->image_size == g_ref_size && memcmp(m->image, g_ref_img, g_ref_size) == 0,
                      "training succeeded but the model differs from the one trained without failures");
        aitag_model_free(m);
    }
    return st;
}

/* training the small corpus takes about 230 allocations */
#define TRAIN_LIMIT 320

/* A training job that cannot allocate is reported as a solver failure. */
static const aitag_status train_allowed[] = {AITAG_SOLVER, AITAG_OK};
static const oom_op op_train = {"dataset + train", train_run, train_allowed, TRAIN_LIMIT};


START_TEST(oom_dataset_and_train)
{
    check_point(&op_train, _i);
}
END_TEST

/* ---- tokenizer --------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    size_t terms;
} term_log;

static int log_term(void *ud, const char *term, size_t len, aitag_term_kind kind)
{
    term_log *l = ud;
    if (l->len + len + 3 > l->cap) {
        l->cap = (l->len + len + 3) * 2;
        l->buf = realloc(l->buf, l->cap);
        ck_assert_ptr_nonnull(l->buf);
    }
    memcpy(l->buf + l->len, term, len);
    l->len += len;
    l->buf[l->len++] = (char)('0' + kind);
    l->buf[l->len++] = '|';
    l->terms++;
    return 0;
}

/* Mixed scripts, character n-grams and a long run between separators, so
 * the tokenizer's buffers have to grow. */
static char *g_tok_text;
static size_t g_tok_len;
static term_log g_tok_ref;

static aitag_status tokenize_once(term_log *out)
{
    aitag_tokenizer_params tp = aitag_tokenizer_params_default();
    tp.word_ngrams = 3;
    tp.char_ngram_min = 2;
    tp.char_ngram_max = 4;
    tp.strip_accents = 1;
    aitag_tokenizer *t = (aitag_tokenizer *)1;
    aitag_error err = {0};
    aitag_status st = aitag_tokenizer_create(&tp, &t, &err);
    if (st != AITAG_OK) {
        ck_assert_ptr_null(t);
        ck_assert_int_eq(err.code, st);
        return st;
    }
    aitag_tokenize_stats stats;
    st = aitag_tokenize(t, g_tok_text, g_tok_len, log_term, out, &stats, &err);
    if (st != AITAG_OK)
        ck_assert_int_eq(err.code, st);
    aitag_tokenizer_free(t);
    return st;
}

static void tokenize_setup(void)
{
    const char *parts[] = {"Café crème, naïve résumé; ", "데이터센터에 AI반도체 ", "東京の人工知能研究所 ",
                           "self-driving l'IA 3.5 1,200 "};
    size_t cap = 200000;
    g_tok_text = malloc(cap);
    g_tok_len = 0;
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]);
        memcpy(g_tok_text + g_tok_len, parts[i], n);
        g_tok_len += n;
    }
    /* one 70000-byte word: longer than a 64 KiB chunk */
    memset(g_tok_text + g_tok_len, 'a', 70000);
    g_tok_len += 70000;
    memcpy(g_tok_text + g_tok_len, " end words here", 15);
    g_tok_len += 15;
    memset(&g_tok_ref, 0, sizeof g_tok_ref);
    ck_assert_int_eq(tokenize_once(&g_tok_ref), AITAG_OK);
    ck_assert_uint_gt(g_tok_ref.terms, 20);
}

static void tokenize_teardown(void)
{
    free(g_tok_text);
    free(g_tok_ref.buf);
    memset(&g_tok_ref, 0, sizeof g_tok_ref);
}

static aitag_status tokenize_run(void)
{
    term_log got;
    memset(&got, 0, sizeof got);
    aitag_status st = tokenize_once(&got);
    if (st == AITAG_OK) {
        ck_assert_uint_eq(got.terms, g_tok_ref.terms);
        ck_assert_uint_eq(got.len, g_tok_ref.len);
        ck_assert(memcmp(got.buf, g_tok_ref.buf, got.len) == 0);
    }
    free(got.buf);
    return st;
}

static const oom_op op_tokenize = {"tokenizer", tokenize_run, only_nomem, 16};

START_TEST(oom_tokenizer)
{
    check_point(&op_tokenize, _i);
}
END_TEST

/* ---- corpus reader ----------------------------------------------------- */

static size_t g_ref_records;
static size_t g_ref_label_bytes;

static aitag_status read_corpus_once(const char *name, size_t *records, size_t *label_bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", AITAG_TEST_DATA, name);
    aitag_corpus_params cp = aitag_corpus_params_default();
    aitag_corpus_reader *r = (aitag_corpus_reader *)1;
    aitag_error err = {0};
    aitag_status st = aitag_corpus_open(path, &cp, &r, &err);
    if (st != AITAG_OK) {
        ck_assert_ptr_null(r);
        return st;
    }
    aitag_record rec;
    *records = 0;
    *label_bytes = 0;
    while ((st = aitag_corpus_next(r, &rec, &err)) == AITAG_OK) {
        (*records)++;
        for (size_t j = 0; j < rec.n_labels; j++)
            *label_bytes += strlen(rec.labels[j]);
    }
    aitag_corpus_close(r);
    return st == AITAG_END ? AITAG_OK : st;
}

static void corpus_setup(void)
{
    ck_assert_int_eq(read_corpus_once("train_multi.jsonl", &g_ref_records, &g_ref_label_bytes), AITAG_OK);
    ck_assert_uint_eq(g_ref_records, 36);
}

static aitag_status corpus_run(void)
{
    size_t records = 0, label_bytes = 0;
    aitag_status st = read_corpus_once("train_multi.jsonl", &records, &label_bytes);
    if (st == AITAG_OK) {
        ck_assert_uint_eq(records, g_ref_records);
        ck_assert_uint_eq(label_bytes, g_ref_label_bytes);
    }
    return st;
}

static const oom_op op_corpus = {"corpus reader", corpus_run, only_nomem, 16};

START_TEST(oom_corpus_reader)
{
    check_point(&op_corpus, _i);
}
END_TEST

/* ---- metrics ----------------------------------------------------------- */

static aitag_status metrics_run(void)
{
    aitag_metrics *m = (aitag_metrics *)1;
    aitag_status st = aitag_metrics_create(2, &m, NULL);
    if (st != AITAG_OK) {
        ck_assert_ptr_null(m);
        return st;
    }
    for (uint32_t i = 0; i < 40 && st == AITAG_OK; i++) {
        uint32_t gold = i % 37, pred = (i * 7) % 37; /* ids beyond the hint grow the table */
        st = aitag_metrics_add(m, &gold, 1, &pred, 1);
    }
    if (st == AITAG_OK) {
        aitag_summary sum;
        aitag_metrics_summary(m, &sum);
        ck_assert_uint_eq(sum.docs, 40);
        ck_assert_uint_ge(aitag_metrics_num_labels(m), 37);
    }
    aitag_metrics_free(m);
    return st;
}

static const oom_op op_metrics = {"metrics", metrics_run, only_nomem, 32};

START_TEST(oom_metrics)
{
    check_point(&op_metrics, _i);
}
END_TEST

/* The hook itself: off by default, and -1 switches it off again. */
START_TEST(hook_switches_off)
{
    aitag_tokenizer_params tp = aitag_tokenizer_params_default();
    aitag_tokenizer *t = NULL;
    aitag_error err = {0};
    aitag__set_alloc_fail_after(0);
    ck_assert_int_eq(aitag_tokenizer_create(&tp, &t, &err), AITAG_NOMEM);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(err.code, AITAG_NOMEM);
    aitag__set_alloc_fail_after(-1);
    ck_assert_int_eq(aitag_tokenizer_create(&tp, &t, &err), AITAG_OK);
    aitag_tokenizer_free(t);
}
END_TEST

/* One test case per operation: its unchecked fixture prepares the inputs
 * and reference results once, in the runner process, and every failure
 * point n runs in its own forked child (so a crash at one n does not hide
 * the others). */
static void add_op(Suite *s, const char *name, const TTest *test, const oom_op *op, SFun setup, SFun teardown)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 120);
    if (setup || teardown)
        tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test, 0, (int)op->limit);
    suite_add_tcase(s, tc);
}

Suite *oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("hook");
    tcase_add_test(tc, hook_switches_off);
    suite_add_tcase(s, tc);
    add_op(s, "model_load", oom_model_load, &op_model_load, model_setup, model_teardown);
    add_op(s, "classify", oom_classify, &op_classify, classify_setup, classify_teardown);
    add_op(s, "train", oom_dataset_and_train, &op_train, train_setup, train_teardown);
    add_op(s, "tokenizer", oom_tokenizer, &op_tokenize, tokenize_setup, tokenize_teardown);
    add_op(s, "corpus", oom_corpus_reader, &op_corpus, corpus_setup, NULL);
    add_op(s, "metrics", oom_metrics, &op_metrics, NULL, NULL);
    return s;
}
