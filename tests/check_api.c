/*
 * check_api.c: the library as others build on it: one-call classification,
 * the ordered stream in memory, training by jobs moved between instances,
 * model bytes, typed metadata, passages, and a committed model that pins
 * the file format.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aitag/aitag.h"
#include "check_suites.h"
#include "internal.h"
#include "passage.h"
#include "sbuf.h"

/* ---- helpers ------------------------------------------------------------- */

typedef struct {
    char **text;
    size_t *len;
    size_t n;
} texts;

/* Every record of a test data file into a dataset (and its texts, if asked). */
static aitag_dataset *dataset_of_file(const char *name, uint32_t passages, texts *keep)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", AITAG_TEST_DATA, name);
    aitag_error err = {0};
    aitag_corpus_params cp = aitag_corpus_params_default();
    aitag_corpus_reader *r = NULL;
    ck_assert_int_eq(aitag_corpus_open(path, &cp, &r, &err), AITAG_OK);
    aitag_tokenizer_params tp = aitag_tokenizer_params_default();
    aitag_dataset *d = NULL;
    ck_assert_int_eq(aitag_dataset_create(&tp, 0, &d, &err), AITAG_OK);
    ck_assert_int_eq(aitag_dataset_set_passages(d, passages, &err), AITAG_OK);
    aitag_record rec;
    aitag_status s;
    if (keep)
        memset(keep, 0, sizeof *keep);
    while ((s = aitag_corpus_next(r, &rec, &err)) != AITAG_END) {
        ck_assert_msg(s == AITAG_OK, "%s", err.msg);
        ck_assert_int_eq(aitag_dataset_add(d, rec.text, rec.text_len, rec.labels, rec.n_labels, &err), AITAG_OK);
        if (keep) {
            keep->text = realloc(keep->text, (keep->n + 1) * sizeof *keep->text);
            keep->len = realloc(keep->len, (keep->n + 1) * sizeof *keep->len);
            keep->text[keep->n] = malloc(rec.text_len + 1);
            memcpy(keep->text[keep->n], rec.text, rec.text_len);
            keep->len[keep->n++] = rec.text_len;
        }
    }
    aitag_corpus_close(r);
    return d;
}

static void texts_free(texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->text[i]);
    free(t->text);
    free(t->len);
}

static aitag_model *train_model(aitag_dataset *d, int passages_gate)
{
    aitag_train_params p = aitag_train_params_default();
    p.folds = 3;
    p.threads = 2;
    p.gate = passages_gate;
    aitag_model *m = NULL;
    aitag_error err = {0};
    ck_assert_msg(aitag_train(d, &p, NULL, NULL, &m, NULL, &err) == AITAG_OK, "%s", err.msg);
    return m;
}

/* ---- one call ---------------------------------------------------------- */

START_TEST(one_call_equals_three_calls)
{
    texts tx;
    aitag_dataset *d = dataset_of_file("train_multi.jsonl", 0, &tx);
    aitag_model *m = train_model(d, 0);
    size_t K = aitag_model_num_labels(m);
    aitag_classifier *c = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_classifier_create(m, &c, &err), AITAG_OK);
    double *mg = calloc(K, sizeof *mg), *pr = calloc(K, sizeof *pr);
    uint32_t *tags = calloc(K, sizeof *tags);
    for (size_t i = 0; i < tx.n; i++) {
        aitag_features x;
        ck_assert_int_eq(aitag_featurize(c, tx.text[i], tx.len[i], &x, NULL, &err), AITAG_OK);
        aitag_score(c, &x, mg);
        size_t n = aitag_decide(m, mg, NULL, tags, pr);
        aitag_result r;
        ck_assert_int_eq(aitag_classify(c, tx.text[i], tx.len[i], NULL, &r, &err), AITAG_OK);
        ck_assert_uint_eq(r.n_tags, n);
        ck_assert_uint_eq(r.n_labels, K);
        ck_assert_ptr_null(r.evidence);
        for (size_t j = 0; j < n; j++)
            ck_assert_uint_eq(r.tags[j], tags[j]);
        for (size_t k = 0; k < K; k++) {
            ck_assert(r.margins[k] == mg[k]);
            ck_assert(r.probs[k] == pr[k]);
        }
    }
    free(mg);
    free(pr);
    free(tags);
    aitag_classifier_free(c);
    aitag_model_free(m);
    aitag_dataset_free(d);
    texts_free(&tx);
}
END_TEST

START_TEST(one_call_refuses_null)
{
    aitag_result r;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_classify(NULL, "x", 1, NULL, &r, &err), AITAG_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "classifier"));
    ck_assert_int_eq(aitag_classify(NULL, "x", 1, NULL, NULL, NULL), AITAG_INVALID);
    ck_assert_ptr_null(aitag_model_get_info(NULL));
    ck_assert(isnan(aitag_model_threshold(NULL, 0)));
    ck_assert_int_eq(aitag_model_calibration(NULL, 0, NULL, NULL), -1);
    aitag_model *m = (aitag_model *)1;
    ck_assert_int_eq(aitag_model_load(NULL, &m, &err), AITAG_INVALID);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(aitag_model_load_bytes(NULL, 10, "x", &m, &err), AITAG_INVALID);
}
END_TEST

/* ---- the stream in memory ------------------------------------------------ */

START_TEST(stream_keeps_order_for_any_thread_count)
{
    texts tx;
    aitag_dataset *d = dataset_of_file("train_multi.jsonl", 0, &tx);
    aitag_model *m = train_model(d, 0);
    aitag_stream_params p = aitag_stream_params_default();
    p.batch = 3; /* many batches, so that threads overtake each other */
    char *out1 = NULL, *out3 = NULL;
    size_t n1, n3;
    aitag_stream_stats st;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_classify_texts(m, &p, (const char *const *)tx.text, tx.len, tx.n, &out1, &n1, &st, &err),
                     AITAG_OK);
    ck_assert_uint_eq(st.docs, tx.n);
    ck_assert_uint_eq(st.bad, 0);
    p.threads = 3;
    ck_assert_int_eq(aitag_classify_texts(m, &p, (const char *const *)tx.text, tx.len, tx.n, &out3, &n3, NULL, &err),
                     AITAG_OK);
    ck_assert_uint_eq(n1, n3);
    ck_assert(memcmp(out1, out3, n1) == 0);
    ck_assert_uint_eq(strlen(out1), n1);
    /* one line per text, ids 0..n-1 in order */
    size_t line = 0;
    for (const char *q = out1; *q; line++) {
        char want[32];
        snprintf(want, sizeof want, "{\"id\": \"%zu\", \"labels\": [", line);
        ck_assert_msg(strncmp(q, want, strlen(want)) == 0, "line %zu: %.60s", line, q);
        q = strchr(q, '\n') + 1;
    }
    ck_assert_uint_eq(line, tx.n);
    aitag_free(out1);
    aitag_free(out3);

    /* JSON lines: a bad line gets its error line in its place */
    const char *jl = "{\"id\": \"a\", \"text\": \"chips and wafers\"}\n{\"id\": \"b\", \"text\": \n\n{\"id\": 7, \"text\": \"robot arm\"}";
    char *o = NULL;
    size_t on;
    ck_assert_int_eq(aitag_classify_jsonl(m, &p, jl, strlen(jl), &o, &on, &st, &err), AITAG_OK);
    ck_assert_uint_eq(st.docs, 4);
    ck_assert_uint_eq(st.bad, 2);
    char *l2 = strchr(o, '\n') + 1, *l3 = strchr(l2, '\n') + 1, *l4 = strchr(l3, '\n') + 1;
    ck_assert(strncmp(o, "{\"id\": \"a\", \"labels\"", 20) == 0);
    ck_assert_msg(strstr(l2, "\"error\": \"<memory>:2: ") == l2 + strlen("{\"id\": \"2\", "), "%s", l2);
    ck_assert(strncmp(l3, "{\"id\": \"3\", \"error\"", 19) == 0);
    ck_assert(strncmp(l4, "{\"id\": 7, \"labels\"", 18) == 0);
    aitag_free(o);
    aitag_model_free(m);
    aitag_dataset_free(d);
    texts_free(&tx);
}
END_TEST

static int failing_write(void *ud, const char *data, size_t len)
{
    (void)data;
    (void)len;
    ++*(int *)ud;
    errno = EPIPE;
    return -1;
}

START_TEST(stream_reports_a_failed_sink)
{
    aitag_dataset *d = dataset_of_file("train_multi.jsonl", 0, NULL);
    aitag_model *m = train_model(d, 0);
    aitag_stream_params p = aitag_stream_params_default();
    p.batch = 1;
    int calls = 0;
    aitag_sink sink = {failing_write, NULL, &calls};
    aitag_stream *s = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_stream_create(m, &p, sink, &s, &err), AITAG_OK);
    aitag_status rc = AITAG_OK;
    for (int i = 0; i < 50 && rc == AITAG_OK; i++)
        rc = aitag_stream_add_text(s, NULL, "chips", 5, &err);
    aitag_stream_stats st;
    aitag_status frc = aitag_stream_finish(s, &st, &err);
    ck_assert_int_eq(frc, AITAG_IO);
    ck_assert_msg(strstr(err.msg, "Broken pipe") != NULL, "%s", err.msg);
    ck_assert_int_eq(calls, 1); /* the stream stops at the first failure */
    p.threads = 0;
    ck_assert_int_eq(aitag_stream_create(m, &p, sink, &s, &err), AITAG_INVALID);
    aitag_model_free(m);
    aitag_dataset_free(d);
}
END_TEST

/* ---- training by jobs ---------------------------------------------------- */

/* Moves every job of a stage from a to b, as a cluster would. */
static void move_jobs(aitag_training *a, aitag_training *b, aitag_training_stage stage)
{
    aitag_error err = {0};
    size_t n = aitag_training_num_jobs(a, stage);
    ck_assert_uint_eq(n, aitag_training_num_jobs(b, stage));
    for (size_t j = n; j-- > 0;) { /* any order */
        ck_assert_int_eq(aitag_training_run_job(a, stage, j, &err), AITAG_OK);
        size_t len = 0;
        ck_assert_int_eq(aitag_training_job_result(a, stage, j, NULL, &len, &err), AITAG_OK);
        unsigned char *buf = malloc(len);
        ck_assert_int_eq(aitag_training_job_result(a, stage, j, buf, &len, &err), AITAG_OK);
        if (n > 1) /* another job's bytes are refused */
            ck_assert_int_eq(aitag_training_set_job_result(b, stage, (j + 1) % n, buf, len, &err), AITAG_INVALID);
        ck_assert_int_eq(aitag_training_set_job_result(b, stage, j, buf, len, &err), AITAG_OK);
        free(buf);
    }
}

START_TEST(jobs_moved_between_trainings_give_the_same_model)
{
    ck_assert_int_eq(setenv("SOURCE_DATE_EPOCH", "1700000000", 1), 0);
    aitag_dataset *d = dataset_of_file("train_pinned.jsonl", 12, NULL);
    aitag_model *whole = train_model(d, 1);
    aitag_train_params p = aitag_train_params_default();
    p.folds = 3;
    p.gate = 1;
    aitag_training *a = NULL, *b = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_training_create(d, &p, &a, &err), AITAG_OK);
    ck_assert_int_eq(aitag_training_create(d, &p, &b, &err), AITAG_OK);
    ck_assert_int_eq(aitag_training_tune(b, NULL, &err), AITAG_INVALID); /* no CV result yet */
    ck_assert_int_eq(aitag_training_run_job(b, AITAG_STAGE_FINAL, 0, &err), AITAG_INVALID);
    move_jobs(a, b, AITAG_STAGE_CV);
    ck_assert_int_eq(aitag_training_tune(a, NULL, &err), AITAG_OK);
    aitag_cv_report rep;
    ck_assert_int_eq(aitag_training_tune(b, &rep, &err), AITAG_OK);
    ck_assert_uint_eq(rep.folds, 3);
    move_jobs(a, b, AITAG_STAGE_FINAL);
    aitag_model *m = NULL;
    ck_assert_int_eq(aitag_training_finish(b, &m, &err), AITAG_OK);
    size_t n1, n2;
    const void *x = aitag_model_bytes(whole, &n1), *y = aitag_model_bytes(m, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(x, y, n1) == 0);
    const aitag_model_info *i = aitag_model_get_info(m);
    ck_assert_int_eq(i->passages, 1);
    ck_assert_uint_eq(i->passage_words, 12);
    ck_assert_int_eq(i->gate, 1);
    aitag_model_free(m);
    aitag_model_free(whole);
    aitag_training_free(a);
    aitag_training_free(b);
    aitag_dataset_free(d);
    unsetenv("SOURCE_DATE_EPOCH");
}
END_TEST

/* ---- model bytes and metadata -------------------------------------------- */

START_TEST(model_bytes_round_trip_with_typed_metadata)
{
    ck_assert_int_eq(setenv("SOURCE_DATE_EPOCH", "1700000000", 1), 0);
    aitag_dataset *d = dataset_of_file("train_multi.jsonl", 0, NULL);
    aitag_model *m = train_model(d, 0);
    size_t n;
    const void *img = aitag_model_bytes(m, &n);
    aitag_model *back = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_model_load_bytes(img, n, "copy", &back, &err), AITAG_OK);
    size_t n2;
    ck_assert(memcmp(aitag_model_bytes(back, &n2), img, n) == 0 && n2 == n);
    const aitag_model_info *i = aitag_model_get_info(back);
    ck_assert_uint_eq(i->format_version, AITAG_MODEL_FORMAT_VERSION);
    ck_assert_str_eq(i->created, "2023-11-14T22:13:20Z");
    ck_assert_str_eq(i->aitag_version, aitag_version());
    ck_assert_str_eq(i->solver, "aitag-dcd-l2r-l2loss-svc");
    ck_assert_uint_eq(i->n_labels, aitag_model_num_labels(m));
    ck_assert_uint_eq(i->folds, 3);
    ck_assert_uint_eq(i->documents, aitag_dataset_size(d));
    ck_assert_int_eq(i->has_cv, 1);
    ck_assert_int_eq(i->gate, 0);
    ck_assert(i->n_sections == 5);
    for (size_t k = 0; k < i->n_labels; k++) {
        double a, b;
        ck_assert_str_eq(i->labels[k], aitag_model_label(back, k));
        ck_assert(i->thresholds[k] == aitag_model_threshold(back, k));
        ck_assert_int_eq(aitag_model_calibration(back, k, &a, &b), 0);
        ck_assert(a == i->platt_a[k] && b == i->platt_b[k]);
    }
    ck_assert(isnan(aitag_model_threshold(back, i->n_labels)));
    aitag_model_free(back);
    aitag_model_free(m);
    aitag_dataset_free(d);
    unsetenv("SOURCE_DATE_EPOCH");
}
END_TEST

/* ---- passages -------------------------------------------------------------- */

START_TEST(passages_are_paragraphs_and_windows)
{
    aitag__spans s = {0};
    /* a caption too short to stand alone joins the next paragraph */
    const char *t = "  Photo: Reuters\n\nOne two three four five six seven eight nine ten eleven twelve.\n\n"
                    "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu.  \n";
    ck_assert_int_eq(aitag__passages(t, strlen(t), 12, &s), 0);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_uint_eq(s.v[0].start, 2);
    ck_assert(strncmp(t + s.v[0].end - 8, "twelve.", 7) == 0 || strncmp(t + s.v[0].end - 7, "twelve.", 7) == 0);
    ck_assert(strncmp(t + s.v[1].start, "Alpha", 5) == 0);
    ck_assert(strncmp(t + s.v[1].end - 3, "mu.", 3) == 0);
    /* a long paragraph is cut into windows at word boundaries */
    char big[4000] = "";
    for (int i = 0; i < 300; i++)
        strcat(big, "word ");
    ck_assert_int_eq(aitag__passages(big, strlen(big), 100, &s), 0);
    ck_assert_uint_eq(s.n, 3);
    for (size_t i = 0; i < s.n; i++)
        ck_assert(big[s.v[i].start] == 'w' && big[s.v[i].end - 1] == 'd');
    /* fewer words than two windows: one passage */
    ck_assert_int_eq(aitag__passages(t, strlen(t), 20, &s), 0);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_uint_eq(s.v[0].start, 2);
    /* blank text has no passage */
    ck_assert_int_eq(aitag__passages(" \n\n \t", 5, 100, &s), 0);
    ck_assert_uint_eq(s.n, 0);
    aitag__spans_free(&s);
}
END_TEST

/* The term hash reads a tail of 1..7 bytes with overlapping loads; it must
 * be FNV's word of those bytes, zero-padded, as a byte loop builds it (the
 * hash is part of the model format). */
static uint64_t hash_by_bytes(const unsigned char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)len * 0x9E3779B97F4A7C15ULL);
    for (size_t at = 0; at < len; at += 8) {
        uint64_t w = 0;
        for (size_t i = at; i < len && i < at + 8; i++)
            w |= (uint64_t)p[i] << (8 * (i - at));
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 32;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Line numbers as ids: the hand-written decimal agrees with printf. */
START_TEST(u64_dec_equals_printf)
{
    static const uint64_t v[] = {0, 1, 9, 10, 99, 100, 12345, 4294967295ULL, 4294967296ULL, UINT64_MAX};
    uint64_t seed = 11;
    for (size_t i = 0; i < 1000; i++) {
        uint64_t x = i < sizeof v / sizeof *v ? v[i] : aitag__splitmix64(&seed) >> (i % 64);
        char a[32], b[32];
        size_t n = aitag__u64_dec(a, x);
        snprintf(b, sizeof b, "%llu", (unsigned long long)x);
        ck_assert_str_eq(a, b);
        ck_assert_uint_eq(n, strlen(b));
    }
}
END_TEST

START_TEST(term_hash_tail_equals_the_byte_loop)
{
    unsigned char buf[64];
    uint64_t seed = 7;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (unsigned char)aitag__splitmix64(&seed);
        for (size_t len = 0; len <= 40; len++)
            for (size_t off = 0; off < 8; off++) /* any alignment */
                ck_assert_uint_eq(aitag__hash_bytes(buf + off, len), hash_by_bytes(buf + off, len));
    }
}
END_TEST

/* ---- the pinned model file ------------------------------------------------
 * tests/data/pinned.aitag was written by aitag 0.2.0 (format version 2) from
 * tests/data/train_pinned.jsonl with --folds 3 --passages 12 --gate. Every
 * later aitag must read it and score it the same: a failure here means the
 * file format, the hash or the features changed by accident. */

/* What a pinned file is, and what it gives on one text. */
typedef struct pinned {
    const char *file;
    size_t size, header_len;
    uint32_t version;
    uint64_t header_checksum;
    double margins[4]; /* chips, energy, health, robotics */
    double tol;        /* as recorded: 6 decimals (5e-6), the first file 5e-5 */
} pinned;

static void check_pinned(const pinned *p)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", AITAG_TEST_DATA, p->file);
    aitag_model *m = NULL;
    aitag_error err = {0};
    ck_assert_msg(aitag_model_load(path, &m, &err) == AITAG_OK, "%s", err.msg);
    size_t n;
    const unsigned char *img = aitag_model_bytes(m, &n);
    ck_assert_uint_eq(n, p->size);
    ck_assert(memcmp(img, "AITAGMDL", 8) == 0 && img[8] == p->version && !img[9] && !img[10] && !img[11]);
    ck_assert_uint_eq(aitag__checksum_for(p->version, img + 64, p->header_len), p->header_checksum);
    ck_assert_uint_eq(aitag__hash_bytes("chips", 5), 17919596227303628270ULL);
    const aitag_model_info *i = aitag_model_get_info(m);
    ck_assert_uint_eq(i->n_features, 135);
    ck_assert_int_eq(i->gate, 1);
    ck_assert_int_eq(i->passages, 1);
    aitag_classifier *c = NULL;
    ck_assert_int_eq(aitag_classifier_create(m, &c, &err), AITAG_OK);
    const char *text = "The foundry makes chips with lithography. The robot arm picks parcels.";
    aitag_result r;
    ck_assert_int_eq(aitag_classify(c, text, strlen(text), NULL, &r, &err), AITAG_OK);
    ck_assert_uint_eq(r.n_tags, 2);
    ck_assert_str_eq(aitag_model_label(m, r.tags[0]), "robotics");
    ck_assert_str_eq(aitag_model_label(m, r.tags[1]), "chips");
    for (size_t k = 0; k < 4; k++)
        ck_assert_msg(fabs(r.margins[k] - p->margins[k]) < p->tol, "%s, label %zu: margin %.6f, recorded %.6f", p->file,
                      k, r.margins[k], p->margins[k]);
    aitag_classifier_free(c);
    aitag_model_free(m);
}

START_TEST(pinned_model_loads_and_scores_as_recorded)
{
    static const pinned p = {"pinned.aitag", 11712, 2580, 2, 11585568247296376320ULL,
                             {0.149663, -0.924565, -0.960696, 0.637886}, 5e-5};
    check_pinned(&p);
}
END_TEST

/* tests/data/pinned-v3.aitag: the same corpus and settings, written by aitag
 * 0.2.0 as format version 3 (XXH3-64 checksums, weights as halves). */
START_TEST(pinned_v3_model_loads_and_scores_as_recorded)
{
    static const pinned p = {"pinned-v3.aitag", 10624, 2591, 3, 17213802051126634234ULL,
                             {0.161630, -0.923919, -0.964276, 0.655621}, 5e-6};
    check_pinned(&p);
}
END_TEST

Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_call_equals_three_calls);
    tcase_add_test(tc, pinned_v3_model_loads_and_scores_as_recorded);
    tcase_add_test(tc, term_hash_tail_equals_the_byte_loop);
    tcase_add_test(tc, u64_dec_equals_printf);
    tcase_add_test(tc, one_call_refuses_null);
    tcase_add_test(tc, stream_keeps_order_for_any_thread_count);
    tcase_add_test(tc, stream_reports_a_failed_sink);
    tcase_add_test(tc, jobs_moved_between_trainings_give_the_same_model);
    tcase_add_test(tc, model_bytes_round_trip_with_typed_metadata);
    tcase_add_test(tc, passages_are_paragraphs_and_windows);
    tcase_add_test(tc, pinned_model_loads_and_scores_as_recorded);
    suite_add_tcase(s, tc);
    return s;
}
