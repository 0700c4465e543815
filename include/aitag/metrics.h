/*
 * metrics.h: precision, recall and F1 per label, micro and macro averages,
 * subset accuracy, and for single-label data accuracy and a confusion matrix.
 *
 * Definitions (the usual ones, as in scikit-learn):
 *   per-label F1 = 2TP / (2TP + FP + FN); micro sums TP/FP/FN over labels;
 *   macro averages over labels that occur in the gold labels or the
 *   predictions (labels with neither are skipped, not counted as 0);
 *   subset accuracy = share of documents whose predicted set equals the gold set;
 *   accuracy (single-label) = share whose first prediction is the gold label.
 */
#ifndef AITAG_METRICS_H
#define AITAG_METRICS_H

#include "aitag/export.h"

#include <stddef.h>
#include <stdint.h>

#include "aitag/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aitag_metrics aitag_metrics;

typedef struct aitag_label_scores {
    uint64_t tp, fp, fn, support; /* support = tp + fn (gold occurrences) */
    double precision, recall, f1;
} aitag_label_scores;

typedef struct aitag_summary {
    uint64_t docs;
    double accuracy;          /* top-1 accuracy: meaningful for single-label data */
    double subset_accuracy;
    aitag_label_scores micro;
    double macro_precision, macro_recall, macro_f1;
    size_t labels_scored;     /* labels in the macro average */
} aitag_summary;

/* n_labels is a hint; label ids beyond it grow the table. */
AITAG_API aitag_status aitag_metrics_create(size_t n_labels, aitag_metrics **out, aitag_error *err);
AITAG_API void aitag_metrics_free(aitag_metrics *m);

/* Adds one document: gold and predicted label ids (predictions in rank order).
 * Returns AITAG_NOMEM if the table could not grow. */
AITAG_API aitag_status aitag_metrics_add(aitag_metrics *m, const uint32_t *gold, size_t n_gold,
                               const uint32_t *pred, size_t n_pred);

AITAG_API void   aitag_metrics_summary(const aitag_metrics *m, aitag_summary *out);
AITAG_API size_t aitag_metrics_num_labels(const aitag_metrics *m);
AITAG_API void   aitag_metrics_label(const aitag_metrics *m, size_t k, aitag_label_scores *out);

/* Single-label confusion count: documents with gold g whose first prediction
 * is p (p == num_labels: no prediction). Kept for up to 256 labels only; with
 * more, it returns 0. */
AITAG_API uint64_t aitag_metrics_confusion(const aitag_metrics *m, size_t g, size_t p);

#ifdef __cplusplus
}
#endif
#endif
