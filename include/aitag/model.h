/*
 * model.h: a trained model, its file, and classification with it.
 *
 * Data flow:  text --aitag_featurize--> features --aitag_score--> margins
 *                  --aitag_decide--> tags (+ calibrated probabilities)
 *
 * A model is immutable once made and may be shared by any number of threads;
 * each thread uses its own aitag_classifier (scratch buffers).
 *
 * File format (version 1), all integers little-endian:
 *   [0..64)   prefix: "AITAGMDL", u32 format version, u32 0, u64 header length,
 *             u64 header checksum, u64 data offset, u64 file size, 8 zero bytes
 *   [64..)    header: JSON (labels, thresholds, calibration, tokenizer and
 *             feature settings, training settings, section table)
 *   data      sections at 64-byte aligned offsets (relative to the data
 *             offset), each with an fnv1a64 checksum in the section table:
 *             terms (bytes), term_offsets (u32, V+1), term_table (hash
 *             table, slots of u32 id+1 and u32 upper hash bits), idf (f32, V), weights (f32, V x K, feature-major: the K
 *             label weights of one feature are adjacent).
 */
#ifndef AITAG_MODEL_H
#define AITAG_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "aitag/status.h"
#include "aitag/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AITAG_MODEL_FORMAT_VERSION 1

typedef struct aitag_model aitag_model;

/* Maps and validates a model file; *out is owned by the caller. Refuses a
 * truncated, corrupted, foreign or newer-version file with AITAG_FORMAT,
 * AITAG_CORRUPT or AITAG_VERSION and a message naming the file. */
aitag_status aitag_model_load(const char *path, aitag_model **out, aitag_error *err);

/* The same from bytes in memory (copied). name is used in messages. */
aitag_status aitag_model_load_bytes(const void *data, size_t size, const char *name,
                                    aitag_model **out, aitag_error *err);

/* Writes m to path atomically: a temporary file in the same folder, fsync,
 * rename. On failure the file at path is untouched. A symbolic link is
 * followed (the link stays); a path that names anything but a regular file
 * is refused. The new file's mode is 0666 less the umask. */
aitag_status aitag_model_save(const aitag_model *m, const char *path, aitag_error *err);

void aitag_model_free(aitag_model *m); /* NULL is a no-op */

size_t      aitag_model_num_labels(const aitag_model *m);
const char *aitag_model_label(const aitag_model *m, size_t k); /* NULL if k is out of range */
int64_t     aitag_model_label_index(const aitag_model *m, const char *name); /* -1 if absent */
size_t      aitag_model_num_features(const aitag_model *m);
int         aitag_model_is_single_label(const aitag_model *m);
const aitag_tokenizer_params *aitag_model_tokenizer_params(const aitag_model *m);

/* The model's JSON header, NUL-terminated; valid while m lives. */
const char *aitag_model_header(const aitag_model *m);

/* ---- classification ---------------------------------------------------- */

typedef struct aitag_classifier aitag_classifier;

/* Per-thread scratch for classifying with m (which must outlive it). */
aitag_status aitag_classifier_create(const aitag_model *m, aitag_classifier **out, aitag_error *err);
void aitag_classifier_free(aitag_classifier *c);

/* A sparse TF-IDF vector, L2-normalised; valid until the next call on c. */
typedef struct aitag_features {
    size_t n;
    const uint32_t *ids;
    const float *vals;
} aitag_features;

/* Stage 1: text -> features (terms unknown to the model are skipped). */
aitag_status aitag_featurize(aitag_classifier *c, const char *text, size_t len,
                             aitag_features *out, aitag_tokenize_stats *stats, aitag_error *err);

/* Stage 2: features -> one margin per label (w_k . x + b_k); margins holds
 * aitag_model_num_labels(m) entries. */
void aitag_score(aitag_classifier *c, const aitag_features *x, double *margins);

typedef struct aitag_decide_opts {
    uint32_t top_k;      /* keep at most k tags; 0 = no limit (default) */
    uint32_t min_labels; /* add the best-scoring labels until there are this many; default 0 */
} aitag_decide_opts;

aitag_decide_opts aitag_decide_opts_default(void);

/* Stage 3: margins -> tags. Single-label models pick the arg-max; multi-label
 * models keep every label whose margin passes its tuned threshold. Tags are
 * label indices sorted by margin, best first; returns their number. tags and
 * probs (may be NULL; the calibrated probability of every label) hold
 * aitag_model_num_labels(m) entries; o may be NULL (the defaults). */
size_t aitag_decide(const aitag_model *m, const double *margins, const aitag_decide_opts *o,
                    uint32_t *tags, double *probs);

/* Explanation: the n terms with the largest contribution x_i * w_ik to label
 * k's margin, written to ids/contrib (n entries at most); returns how many. */
size_t aitag_explain(aitag_classifier *c, const aitag_features *x, size_t k, size_t n,
                     uint32_t *ids, double *contrib);

/* Finds the default model: $AITAG_MODEL if set, else default.aitag in the
 * installed data folder. Writes the path to buf (n bytes). AITAG_IO if there
 * is none; the message says where it looked. */
aitag_status aitag_default_model_path(char *buf, size_t n, aitag_error *err);

/* The term of feature id (vocabulary models; NULL for hashed models). */
const char *aitag_model_term(const aitag_model *m, uint32_t id, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
