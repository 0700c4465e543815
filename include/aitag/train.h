/*
 * train.h: labelled documents -> a model.
 *
 * A dataset tokenizes each document as it is added and keeps only term
 * counts and label ids, so the texts need not stay in memory. aitag_train
 * then builds the vocabulary, the TF-IDF vectors and one binary linear SVM per
 * label (one-vs-rest), tunes per-label thresholds and Platt calibration on
 * held-out folds, and returns a model ready to save or use.
 */
#ifndef AITAG_TRAIN_H
#define AITAG_TRAIN_H

#include "aitag/export.h"

#include <stddef.h>
#include <stdint.h>

#include "aitag/model.h"
#include "aitag/status.h"
#include "aitag/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Distinct labels a dataset accepts unless told otherwise (max_labels). */
#define AITAG_DEFAULT_MAX_LABELS 4096

typedef struct aitag_dataset aitag_dataset;

/* Creates an empty dataset. hash_bits = 0 keeps a vocabulary of term strings;
 * 10..30 uses the hashing trick with 2^hash_bits features instead. */
AITAG_API aitag_status aitag_dataset_create(const aitag_tokenizer_params *tp, uint32_t hash_bits,
                                  aitag_dataset **out, aitag_error *err);
AITAG_API void aitag_dataset_free(aitag_dataset *d);

/* Tokenizes text and adds it with its labels (UTF-8 names, non-empty, at most
 * 255 bytes, no control characters). Duplicate labels count once.
 * AITAG_LABEL for a bad label name, AITAG_LIMIT past max_labels (default AITAG_DEFAULT_MAX_LABELS). */
AITAG_API aitag_status aitag_dataset_add(aitag_dataset *d, const char *text, size_t len,
                               const char *const *labels, size_t n_labels, aitag_error *err);

/* Also keeps a row per passage of every document (paragraphs; long ones cut
 * into windows of about `words` words), so that training can tune the
 * passage rule (aitag_model_info.passages). Call before the first add;
 * words = 0 (the default) keeps documents only; else 8..100000. */
AITAG_API aitag_status aitag_dataset_set_passages(aitag_dataset *d, uint32_t words, aitag_error *err);

/* Sets the most distinct labels the dataset accepts (default AITAG_DEFAULT_MAX_LABELS). */
AITAG_API void aitag_dataset_set_label_limit(aitag_dataset *d, uint32_t max_labels);

AITAG_API size_t aitag_dataset_size(const aitag_dataset *d);
AITAG_API size_t aitag_dataset_num_labels(const aitag_dataset *d);

typedef enum aitag_solver {
    AITAG_SOLVER_LIBLINEAR = 0, /* liblinear's L2-regularised L2-loss SVM, primal trust-region Newton */
    AITAG_SOLVER_LIBSVM = 1,    /* libsvm C-SVC, linear kernel, collapsed to one weight vector */
    AITAG_SOLVER_DCD = 2        /* the same SVM as liblinear's, by dual coordinate descent (default) */
} aitag_solver;

typedef struct aitag_train_params {
    double   C;             /* SVM cost, > 0; default 1 */
    double   eps;           /* solver tolerance; 0 = the solver's default (0.1 dcd, 0.01 liblinear, 0.001 libsvm) */
    aitag_solver solver;    /* default AITAG_SOLVER_DCD */
    uint32_t min_df;        /* drop terms seen in fewer documents; default 2 */
    double   max_df;        /* drop terms seen in more than this share of documents; default 1.0 */
    uint32_t max_features;  /* keep the most frequent terms only; 0 = all (default) */
    uint32_t folds;         /* held-out folds for thresholds and calibration; 0 = none; default 3 */
    uint32_t threads;       /* parallel workers for training; 0 = number of cores; default 0 */
    uint64_t seed;          /* fold assignment and dcd's visiting order; default 1 */
    int      search_C;      /* 1 = pick C from {0.1,0.3,1,3,10,30} by cross-validated F1/accuracy */
    int      force_multilabel; /* 1 = thresholds per label even if every document has one label */
    uint32_t max_labels;    /* limit on distinct labels; default AITAG_DEFAULT_MAX_LABELS */
    int      gate;          /* 1 = also learn a gate, "about any label at all?", from the
                               unlabelled documents, and tag only where it opens (multi-label
                               models with folds); default 0 */
    /* add new fields here, never in the middle */
} aitag_train_params;

AITAG_API aitag_train_params aitag_train_params_default(void);
AITAG_API const char *aitag_train_params_check(const aitag_train_params *p); /* NULL = ok */

/* Cross-validated quality, measured on the held-out folds (thresholds for
 * each fold tuned on the other folds only). */
typedef struct aitag_cv_report {
    uint32_t folds;
    double micro_f1, macro_f1, accuracy, subset_accuracy;
    double C;                 /* the C used for the final model */
    uint32_t n_c;             /* C values tried (1 unless search_C) */
    double c_tried[8], c_score[8];
} aitag_cv_report;

/* ---- training by jobs --------------------------------------------------------
 * aitag_train, taken apart so that its jobs can run anywhere (threads here,
 * processes or machines elsewhere) and the model still comes out the same,
 * byte for byte:
 *
 *   create -> every job of AITAG_STAGE_CV -> tune -> every job of
 *   AITAG_STAGE_FINAL -> finish
 *
 * A job is one binary SVM: in the CV stage, one (C value, fold, label); in the
 * final stage, one label on every document, with the C that tune chose. Two
 * instances created from the same documents (added in the same order) and
 * params have the same jobs; a job's result, as bytes, moves between them.
 * Jobs of a stage may run on any number of threads at once; the other calls
 * are not thread-safe. */

typedef struct aitag_training aitag_training;

typedef enum aitag_training_stage {
    AITAG_STAGE_CV = 0,    /* held-out margins: C values x folds x labels (none without folds) */
    AITAG_STAGE_FINAL = 1  /* the model's weights: one job per label */
} aitag_training_stage;

/* Builds the vocabulary, the TF-IDF rows, the labels and the folds. d must
 * outlive the training. */
AITAG_API aitag_status aitag_training_create(const aitag_dataset *d, const aitag_train_params *p,
                                             aitag_training **out, aitag_error *err);
AITAG_API void aitag_training_free(aitag_training *t); /* NULL is a no-op */

AITAG_API size_t aitag_training_num_jobs(const aitag_training *t, aitag_training_stage stage);

/* Runs job j and keeps its result. Final jobs need tune first. */
AITAG_API aitag_status aitag_training_run_job(aitag_training *t, aitag_training_stage stage, size_t j,
                                              aitag_error *err);

/* A finished job's result as bytes: with buf NULL, *len is set to the size
 * needed; else buf (*len bytes) receives it. set_job_result takes such bytes
 * (from another instance) as if the job had run here; bytes of another job,
 * stage or training are refused (AITAG_INVALID). */
AITAG_API aitag_status aitag_training_job_result(const aitag_training *t, aitag_training_stage stage, size_t j,
                                                 void *buf, size_t *len, aitag_error *err);
AITAG_API aitag_status aitag_training_set_job_result(aitag_training *t, aitag_training_stage stage, size_t j,
                                                     const void *buf, size_t len, aitag_error *err);

/* After every CV job: the cross-validated quality (report may be NULL), the
 * choice of C, the thresholds, the calibration and the passage rule. */
AITAG_API aitag_status aitag_training_tune(aitag_training *t, aitag_cv_report *report, aitag_error *err);

/* After every final job: the model (*out owned by the caller). */
AITAG_API aitag_status aitag_training_finish(aitag_training *t, aitag_model **out, aitag_error *err);

/* Progress callback: stage is a short word ("vocabulary", "features", "cv",
 * "train"), done/total count units of that stage. Return non-zero to cancel. */
typedef int (*aitag_progress_fn)(void *ud, const char *stage, size_t done, size_t total);

/* Trains a model; *out is owned by the caller (aitag_model_free). report and
 * progress may be NULL. Labels without positive or negative documents are
 * skipped and listed in the model header as "untrainable_labels".
 * Threads: the SVMs are fitted on p->threads worker threads. No solver
 * draws random numbers and no process-wide state is touched (but for
 * liblinear's and libsvm's print hooks, set once, to silence), so the model
 * is the same byte for byte for any thread count, and several threads of a
 * host may train at the same time. The progress callback is called from the
 * calling thread only; returning non-zero stops the workers after the jobs
 * they are running, and aitag_train returns AITAG_CANCELLED. */
AITAG_API aitag_status aitag_train(const aitag_dataset *d, const aitag_train_params *p,
                         aitag_progress_fn progress, void *ud, aitag_model **out,
                         aitag_cv_report *report, aitag_error *err);

#ifdef __cplusplus
}
#endif
#endif
