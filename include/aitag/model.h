/*
 * model.h: a trained model, its file, and classification with it.
 *
 * Data flow:  text --aitag_featurize--> features --aitag_score--> margins
 *                  --aitag_decide--> tags (+ calibrated probabilities)
 *
 * A model is immutable once made and may be shared by any number of threads;
 * each thread uses its own aitag_classifier (scratch buffers).
 *
 * File format (version 3), all integers little-endian:
 *   [0..64)   prefix: "AITAGMDL", u32 format version, u32 0, u64 header length,
 *             u64 header checksum, u64 data offset, u64 file size, 16 zero bytes
 *   [64..)    header: JSON (labels, thresholds, calibration, tokenizer and
 *             feature settings, training settings, section table)
 *   data      sections at 64-byte aligned offsets (relative to the data
 *             offset), each with an XXH3-64 checksum in the section table:
 *             terms (bytes), term_offsets (u32, V+1), term_table (hash
 *             table, slots of u32 id+1 and u32 upper hash bits), idf (f32,
 *             V), weights_f16 (IEEE half, V x K, feature-major: the K label
 *             weights of one feature are adjacent), gate_weights (f32, V;
 *             models with a gate).
 * Versions 1 and 2 (still read) checksum with fnv1a64 and store the weights
 * as f32 in a section named "weights".
 */
#ifndef AITAG_MODEL_H
#define AITAG_MODEL_H

#include "aitag/export.h"

#include <stddef.h>
#include <stdint.h>

#include "aitag/status.h"
#include "aitag/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AITAG_MODEL_FORMAT_VERSION 3

typedef struct aitag_model aitag_model;

/* Reads and validates a model file; *out is owned by the caller. Refuses a
 * truncated, corrupted, foreign or newer-version file with AITAG_FORMAT,
 * AITAG_CORRUPT or AITAG_VERSION and a message naming the file. The file is
 * read into memory, so it may be replaced, truncated or rewritten in place
 * while the model is in use; anything but a regular file (a FIFO, a device)
 * is refused without being opened for reading. */
AITAG_API aitag_status aitag_model_load(const char *path, aitag_model **out, aitag_error *err);

/* The same from bytes in memory (copied). name is used in messages. */
AITAG_API aitag_status aitag_model_load_bytes(const void *data, size_t size, const char *name,
                                    aitag_model **out, aitag_error *err);

/* Writes m to path atomically: a temporary file in the same folder, fsync,
 * rename. On failure the file at path is untouched. A symbolic link is
 * followed (the link stays); a path that names anything but a regular file
 * is refused. The new file's mode is 0666 less the umask. */
AITAG_API aitag_status aitag_model_save(const aitag_model *m, const char *path, aitag_error *err);

/* The model's file image, byte for byte what aitag_model_save writes (for
 * shipping a model over a network or into another process, where
 * aitag_model_load_bytes takes it back). Valid while m lives. */
AITAG_API const void *aitag_model_bytes(const aitag_model *m, size_t *size);

AITAG_API void aitag_model_free(aitag_model *m); /* NULL is a no-op */

AITAG_API size_t      aitag_model_num_labels(const aitag_model *m);
AITAG_API const char *aitag_model_label(const aitag_model *m, size_t k); /* NULL if k is out of range */
AITAG_API int64_t     aitag_model_label_index(const aitag_model *m, const char *name); /* -1 if absent */
AITAG_API size_t      aitag_model_num_features(const aitag_model *m);
AITAG_API int         aitag_model_is_single_label(const aitag_model *m);
AITAG_API const aitag_tokenizer_params *aitag_model_tokenizer_params(const aitag_model *m);

/* The model's JSON header, NUL-terminated; valid while m lives. */
AITAG_API const char *aitag_model_header(const aitag_model *m);

/* ---- typed metadata --------------------------------------------------------
 * Everything the model's header records, parsed and checked when the model
 * is loaded; valid while the model lives. Strings are NUL-terminated UTF-8;
 * arrays hold n_labels entries unless said otherwise. New fields are added at
 * the end only. */

typedef struct aitag_model_section {
    const char *name;           /* "terms", "term_offsets", "term_table", "idf", "weights" */
    uint64_t offset, size;      /* bytes, relative to the data offset */
    uint64_t checksum;          /* fnv1a64 of the section's bytes */
} aitag_model_section;

typedef struct aitag_model_info {
    uint32_t format_version;
    const char *aitag_version;  /* the aitag that wrote the model */
    const char *created;        /* ISO 8601 UTC, e.g. "2026-01-01T00:00:00Z" */
    int single_label;           /* 1: arg-max decision; 0: per-label thresholds */
    size_t n_labels;
    const char *const *labels;
    const double *thresholds;   /* margin thresholds (multi-label models) */
    const double *platt_a, *platt_b; /* P(label) = 1 / (1 + exp(A * margin + B)) */
    const double *bias;         /* the SVMs' intercepts */
    size_t n_untrainable;
    const char *const *untrainable; /* labels skipped in training (no positive or no negative document) */
    aitag_tokenizer_params tokenizer;
    /* features */
    uint32_t n_features;
    uint32_t hash_bits;         /* 0: vocabulary */
    const char *weighting;      /* "tfidf-sublinear-smooth-l2" */
    const char *term_hash;
    uint32_t min_df, max_features;
    double max_df;
    /* training */
    const char *solver;         /* e.g. "aitag-dcd-l2r-l2loss-svc" */
    double C, eps;
    uint32_t folds;
    uint64_t seed;
    uint64_t documents;         /* training documents */
    uint64_t corpus_checksum;
    int has_cv;                 /* 1: the cv_ figures are set */
    double cv_micro_f1, cv_macro_f1, cv_accuracy, cv_subset_accuracy;
    uint32_t n_search_C;        /* C values tried (search_C), up to 8 */
    double search_C[8], search_score[8];
    /* the data sections */
    size_t n_sections;
    const aitag_model_section *sections;
    /* passages: the decision also weighs the best passage's margin */
    int passages;               /* 1: the rule below is applied */
    uint32_t passage_words;     /* words per window (CJK: characters / 2) */
    const double *passage_weight; /* per label: the passage margin's share in the decision, 0..1 */
    /* the gate: an article gets tags only if its gate margin passes gate_threshold */
    int gate;
    double gate_bias, gate_threshold;
} aitag_model_info;

/* The model's metadata (never NULL for a loaded or trained model). */
AITAG_API const aitag_model_info *aitag_model_get_info(const aitag_model *m);
/* Per-label getters; NAN (or -1) for an index out of range. */
AITAG_API double aitag_model_threshold(const aitag_model *m, size_t k);
AITAG_API int aitag_model_calibration(const aitag_model *m, size_t k, double *a, double *b);

/* ---- classification ---------------------------------------------------- */

typedef struct aitag_classifier aitag_classifier;

/* Per-thread scratch for classifying with m (which must outlive it). */
AITAG_API aitag_status aitag_classifier_create(const aitag_model *m, aitag_classifier **out, aitag_error *err);
AITAG_API void aitag_classifier_free(aitag_classifier *c);

/* A sparse TF-IDF vector, L2-normalised; valid until the next call on c. */
typedef struct aitag_features {
    size_t n;
    const uint32_t *ids;
    const float *vals;
} aitag_features;

/* Stage 1: text -> features (terms unknown to the model are skipped). */
AITAG_API aitag_status aitag_featurize(aitag_classifier *c, const char *text, size_t len,
                             aitag_features *out, aitag_tokenize_stats *stats, aitag_error *err);

/* Stage 2: features -> one margin per label (w_k . x + b_k); margins holds
 * aitag_model_num_labels(m) entries. */
AITAG_API void aitag_score(aitag_classifier *c, const aitag_features *x, double *margins);

typedef struct aitag_decide_opts {
    uint32_t top_k;      /* keep at most k tags; 0 = no limit (default) */
    uint32_t min_labels; /* add the best-scoring labels until there are this many; default 0 */
} aitag_decide_opts;

AITAG_API aitag_decide_opts aitag_decide_opts_default(void);

/* Stage 3: margins -> tags. Single-label models pick the arg-max; multi-label
 * models keep every label whose margin passes its tuned threshold. Tags are
 * label indices sorted by margin, best first; returns their number. tags and
 * probs (may be NULL; the calibrated probability of every label) hold
 * aitag_model_num_labels(m) entries; o may be NULL (the defaults). */
AITAG_API size_t aitag_decide(const aitag_model *m, const double *margins, const aitag_decide_opts *o,
                    uint32_t *tags, double *probs);

/* ---- one call: text -> result -------------------------------------------- */

/* The passage that supports a tag most: byte offsets [start, end) into the
 * text given to aitag_classify, and the label's calibrated probability on
 * that passage alone. */
typedef struct aitag_evidence {
    size_t start, end;
    double prob;
} aitag_evidence;

typedef struct aitag_classify_opts {
    aitag_decide_opts decide; /* top_k, min_labels */
    int evidence;             /* 1 = fill aitag_result.evidence; default 0 */
} aitag_classify_opts;

AITAG_API aitag_classify_opts aitag_classify_opts_default(void);

/* What aitag_classify returns. Every array belongs to the classifier and is
 * valid until the next call on it (or aitag_classifier_free). */
typedef struct aitag_result {
    size_t n_tags;
    const uint32_t *tags;           /* n_tags label indices, best first */
    size_t n_labels;
    const double *probs;            /* n_labels calibrated probabilities */
    const double *margins;          /* n_labels margins the decision was made on */
    const aitag_evidence *evidence; /* n_tags entries, one per tag; NULL unless asked */
    aitag_tokenize_stats stats;     /* terms, invalid UTF-8 bytes of the text */
} aitag_result;

/* Text in, tags out: featurize, score and decide in one call (the model's
 * decision rule, including its passage rule where it has one). o may be NULL
 * (the defaults). On failure *out is zeroed. Not thread-safe per classifier:
 * use one classifier per thread. */
AITAG_API aitag_status aitag_classify(aitag_classifier *c, const char *text, size_t len, const aitag_classify_opts *o,
                            aitag_result *out, aitag_error *err);

/* Explanation: the n terms with the largest positive contribution x_i * w_ik to label
 * k's margin, written to ids/contrib (n entries at most); returns how many. */
AITAG_API size_t aitag_explain(aitag_classifier *c, const aitag_features *x, size_t k, size_t n,
                     uint32_t *ids, double *contrib);

/* Finds the default model: $AITAG_MODEL if set, else default.aitag in the
 * installed data folder. Writes the path to buf (n bytes). AITAG_IO if there
 * is none; the message says where it looked. */
AITAG_API aitag_status aitag_default_model_path(char *buf, size_t n, aitag_error *err);

/* The term of feature id (vocabulary models; NULL for hashed models). */
AITAG_API const char *aitag_model_term(const aitag_model *m, uint32_t id, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
