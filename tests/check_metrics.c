/*
 * check_metrics.c: the `metrics` suite. Every expected value below is worked
 * out by hand in the comments from the definitions in include/aitag/metrics.h.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "aitag/metrics.h"
#include "check_suites.h"

#define TOL 1e-12

static aitag_metrics *make(size_t n)
{
    aitag_metrics *m = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_metrics_create(n, &m, &err), AITAG_OK);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Adds one document; g and p are arrays of label ids. */
static void add(aitag_metrics *m, const uint32_t *g, size_t ng, const uint32_t *p, size_t np)
{
    ck_assert_int_eq(aitag_metrics_add(m, g, ng, p, np), AITAG_OK);
}

static void expect_label(const aitag_metrics *m, size_t k, uint64_t tp, uint64_t fp, uint64_t fn, double prec,
                         double rec, double f1)
{
    aitag_label_scores s;
    aitag_metrics_label(m, k, &s);
    ck_assert_msg(s.tp == tp && s.fp == fp && s.fn == fn, "label %zu: tp/fp/fn %llu/%llu/%llu, want %llu/%llu/%llu", k,
                  (unsigned long long)s.tp, (unsigned long long)s.fp, (unsigned long long)s.fn,
                  (unsigned long long)tp, (unsigned long long)fp, (unsigned long long)fn);
    ck_assert_uint_eq(s.support, tp + fn);
    ck_assert_double_eq_tol(s.precision, prec, TOL);
    ck_assert_double_eq_tol(s.recall, rec, TOL);
    ck_assert_double_eq_tol(s.f1, f1, TOL);
}

/*
 * Single-label, 3 labels, 6 documents (gold -> first prediction):
 *   0->0, 0->1, 1->1, 2->(none), 1->0, 0->0
 * label 0: tp 2 (docs 1, 6), fp 1 (doc 5), fn 1 (doc 2): P = R = 2/3, F1 = 4/6
 * label 1: tp 1, fp 1 (doc 2), fn 1 (doc 5): P = R = F1 = 1/2
 * label 2: tp 0, fp 0, fn 1: P = R = F1 = 0 (no prediction: 0, not NaN)
 * micro: tp 3, fp 2, fn 3: P = 3/5, R = 3/6, F1 = 6/11
 * macro over 3 labels: P = R = F1 = (2/3 + 1/2 + 0) / 3 = 7/18
 * accuracy = subset accuracy = 3/6
 */
START_TEST(test_single_label_by_hand)
{
    aitag_metrics *m = make(3);
    static const uint32_t gold[6] = {0, 0, 1, 2, 1, 0};
    static const int pred[6] = {0, 1, 1, -1, 0, 0};
    for (int i = 0; i < 6; i++) {
        uint32_t p = (uint32_t)pred[i];
        add(m, &gold[i], 1, &p, pred[i] < 0 ? 0 : 1);
    }
    ck_assert_uint_eq(aitag_metrics_num_labels(m), 3);
    expect_label(m, 0, 2, 1, 1, 2.0 / 3, 2.0 / 3, 2.0 / 3);
    expect_label(m, 1, 1, 1, 1, 0.5, 0.5, 0.5);
    expect_label(m, 2, 0, 0, 1, 0.0, 0.0, 0.0);

    aitag_summary s;
    aitag_metrics_summary(m, &s);
    ck_assert_uint_eq(s.docs, 6);
    ck_assert_uint_eq(s.micro.tp, 3);
    ck_assert_uint_eq(s.micro.fp, 2);
    ck_assert_uint_eq(s.micro.fn, 3);
    ck_assert_double_eq_tol(s.micro.precision, 0.6, TOL);
    ck_assert_double_eq_tol(s.micro.recall, 0.5, TOL);
    ck_assert_double_eq_tol(s.micro.f1, 6.0 / 11, TOL);
    ck_assert_uint_eq(s.labels_scored, 3);
    ck_assert_double_eq_tol(s.macro_precision, 7.0 / 18, TOL);
    ck_assert_double_eq_tol(s.macro_recall, 7.0 / 18, TOL);
    ck_assert_double_eq_tol(s.macro_f1, 7.0 / 18, TOL);
    ck_assert_double_eq_tol(s.accuracy, 0.5, TOL);
    ck_assert_double_eq_tol(s.subset_accuracy, 0.5, TOL);

    /* confusion: rows gold, columns first prediction, column 3 = none */
    static const uint64_t want[3][4] = {{2, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 1}};
    for (size_t g = 0; g < 3; g++)
        for (size_t p = 0; p <= 3; p++)
            ck_assert_msg(aitag_metrics_confusion(m, g, p) == want[g][p], "confusion[%zu][%zu] = %llu, want %llu", g,
                          p, (unsigned long long)aitag_metrics_confusion(m, g, p), (unsigned long long)want[g][p]);
    aitag_metrics_free(m);
}
END_TEST

/*
 * Multi-label, 3 labels:
 *   A gold {0,1} pred {0,1}   exact
 *   B gold {0,2} pred {0}     tp0, fn2
 *   C gold {1}   pred {1,2}   tp1, fp2
 *   D gold {}    pred {}      exact (both sets empty)
 *   E gold {1}   pred {2,1}   tp1, fp2; first prediction wrong
 * label 0: tp 2: P = R = F1 = 1
 * label 1: tp 3 (A, C, E): 1, 1, 1
 * label 2: tp 0, fp 2 (C, E), fn 1 (B): 0, 0, 0
 * micro: tp 5, fp 2, fn 1: P = 5/7, R = 5/6, F1 = 10/13
 * macro F1 = (1 + 1 + 0) / 3; subset accuracy 2/5;
 * top-1: A (0 = 0), B (0 = 0), C (1 = 1) right; D has no gold; E wrong: 3/5
 */
START_TEST(test_multilabel_by_hand)
{
    aitag_metrics *m = make(3);
    add(m, (const uint32_t[]){0, 1}, 2, (const uint32_t[]){0, 1}, 2);
    add(m, (const uint32_t[]){0, 2}, 2, (const uint32_t[]){0}, 1);
    add(m, (const uint32_t[]){1}, 1, (const uint32_t[]){1, 2}, 2);
    add(m, NULL, 0, NULL, 0);
    add(m, (const uint32_t[]){1}, 1, (const uint32_t[]){2, 1}, 2);
    expect_label(m, 0, 2, 0, 0, 1, 1, 1);
    expect_label(m, 1, 3, 0, 0, 1, 1, 1);
    expect_label(m, 2, 0, 2, 1, 0, 0, 0);
    aitag_summary s;
    aitag_metrics_summary(m, &s);
    ck_assert_uint_eq(s.docs, 5);
    ck_assert_double_eq_tol(s.micro.precision, 5.0 / 7, TOL);
    ck_assert_double_eq_tol(s.micro.recall, 5.0 / 6, TOL);
    ck_assert_double_eq_tol(s.micro.f1, 10.0 / 13, TOL);
    ck_assert_uint_eq(s.labels_scored, 3);
    ck_assert_double_eq_tol(s.macro_precision, 2.0 / 3, TOL);
    ck_assert_double_eq_tol(s.macro_recall, 2.0 / 3, TOL);
    ck_assert_double_eq_tol(s.macro_f1, 2.0 / 3, TOL);
    ck_assert_double_eq_tol(s.subset_accuracy, 2.0 / 5, TOL);
    ck_assert_double_eq_tol(s.accuracy, 3.0 / 5, TOL);
    aitag_metrics_free(m);
}
END_TEST

/*
 * 5 labels declared, documents: gold {0} pred {0}; gold {1} pred {3}.
 * label 0: 1, 1, 1; label 1 (gold only): 0, 0, 0; label 3 (prediction
 * only): 0, 0, 0; labels 2 and 4 have neither and are skipped:
 * macro = (1 + 0 + 0) / 3, not / 5.
 */
START_TEST(test_macro_skips_unseen)
{
    aitag_metrics *m = make(5);
    add(m, (const uint32_t[]){0}, 1, (const uint32_t[]){0}, 1);
    add(m, (const uint32_t[]){1}, 1, (const uint32_t[]){3}, 1);
    ck_assert_uint_eq(aitag_metrics_num_labels(m), 5);
    aitag_summary s;
    aitag_metrics_summary(m, &s);
    ck_assert_uint_eq(s.labels_scored, 3);
    ck_assert_double_eq_tol(s.macro_f1, 1.0 / 3, TOL);
    ck_assert_double_eq_tol(s.macro_precision, 1.0 / 3, TOL);
    ck_assert_double_eq_tol(s.macro_recall, 1.0 / 3, TOL);
    ck_assert_double_eq_tol(s.micro.f1, 0.5, TOL);
    expect_label(m, 2, 0, 0, 0, 0, 0, 0);
    expect_label(m, 3, 0, 1, 0, 0, 0, 0);
    aitag_metrics_free(m);
}
END_TEST

START_TEST(test_empty)
{
    aitag_metrics *m = make(0);
    aitag_summary s;
    aitag_metrics_summary(m, &s);
    ck_assert_uint_eq(s.docs, 0);
    ck_assert_uint_eq(s.labels_scored, 0);
    ck_assert(s.accuracy == 0 && s.subset_accuracy == 0 && s.macro_f1 == 0 && s.micro.f1 == 0);
    ck_assert(!isnan(s.micro.precision) && !isnan(s.macro_precision));
    aitag_metrics_free(m);
    aitag_metrics_free(NULL); /* documented no-op */
}
END_TEST

/* Created for 2 labels, then ids up to 9 arrive: the table grows. */
START_TEST(test_labels_beyond_initial_size)
{
    aitag_metrics *m = make(2);
    add(m, (const uint32_t[]){0}, 1, (const uint32_t[]){0}, 1);
    add(m, (const uint32_t[]){7}, 1, (const uint32_t[]){7}, 1);
    add(m, (const uint32_t[]){1}, 1, (const uint32_t[]){9}, 1);
    ck_assert_uint_ge(aitag_metrics_num_labels(m), 10);
    expect_label(m, 0, 1, 0, 0, 1, 1, 1);
    expect_label(m, 7, 1, 0, 0, 1, 1, 1);
    expect_label(m, 9, 0, 1, 0, 0, 0, 0);
    expect_label(m, 1, 0, 0, 1, 0, 0, 0);
    expect_label(m, 5, 0, 0, 0, 0, 0, 0);
    /* out of range: all zero */
    aitag_label_scores z;
    memset(&z, 0x5A, sizeof z);
    aitag_metrics_label(m, 1000, &z);
    ck_assert(z.tp == 0 && z.fp == 0 && z.fn == 0 && z.support == 0 && z.f1 == 0);

    aitag_summary s;
    aitag_metrics_summary(m, &s);
    ck_assert_uint_eq(s.labels_scored, 4); /* 0, 1, 7, 9 */
    ck_assert_double_eq_tol(s.macro_f1, 2.0 / 4, TOL);
    ck_assert_double_eq_tol(s.accuracy, 2.0 / 3, TOL);

    /* the confusion entries recorded before the growth are kept */
    ck_assert_uint_eq(aitag_metrics_confusion(m, 0, 0), 1);
    ck_assert_uint_eq(aitag_metrics_confusion(m, 7, 7), 1);
    ck_assert_uint_eq(aitag_metrics_confusion(m, 1, 9), 1);
    ck_assert_uint_eq(aitag_metrics_confusion(m, 1, 1), 0);
    aitag_metrics_free(m);
}
END_TEST

/* The "no prediction" column is p == num_labels: it must follow the number of
 * labels however the table grew (here by a single-label document). */
START_TEST(test_confusion_none_column_single_label_growth)
{
    aitag_metrics *m = make(1);
    add(m, (const uint32_t[]){0}, 1, NULL, 0);
    add(m, (const uint32_t[]){2}, 1, (const uint32_t[]){2}, 1);
    size_t n = aitag_metrics_num_labels(m);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(aitag_metrics_confusion(m, 0, n), 1);
    ck_assert_uint_eq(aitag_metrics_confusion(m, 0, 1), 0);
    ck_assert_uint_eq(aitag_metrics_confusion(m, 2, 2), 1);
    aitag_metrics_free(m);
}
END_TEST

/* Same, when the labels grow through a document that is not single-label
 * (no gold label, one prediction with a new id). The earlier single-label
 * documents' counts must still be found where the API says they are. */
START_TEST(test_confusion_none_column_other_growth)
{
    aitag_metrics *m = make(2);
    add(m, (const uint32_t[]){0}, 1, NULL, 0);                 /* gold 0, no prediction */
    add(m, (const uint32_t[]){1}, 1, (const uint32_t[]){1}, 1); /* gold 1 -> 1 */
    add(m, NULL, 0, (const uint32_t[]){5}, 1);                  /* grows the labels to 6 */
    size_t n = aitag_metrics_num_labels(m);
    ck_assert_uint_eq(n, 6);
    ck_assert_msg(aitag_metrics_confusion(m, 0, n) == 1, "confusion(0, none) = %llu, want 1",
                  (unsigned long long)aitag_metrics_confusion(m, 0, n));
    ck_assert_msg(aitag_metrics_confusion(m, 0, 2) == 0, "confusion(0, 2) = %llu, want 0",
                  (unsigned long long)aitag_metrics_confusion(m, 0, 2));
    ck_assert_uint_eq(aitag_metrics_confusion(m, 1, 1), 1);
    aitag_metrics_free(m);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_single_label_by_hand);
    tcase_add_test(tc, test_multilabel_by_hand);
    tcase_add_test(tc, test_macro_skips_unseen);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_labels_beyond_initial_size);
    tcase_add_test(tc, test_confusion_none_column_single_label_growth);
    tcase_add_test(tc, test_confusion_none_column_other_growth);
    suite_add_tcase(s, tc);
    return s;
}
