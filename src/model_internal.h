/*
 * model_internal.h: the in-memory model, shared by model_io.c (image <-> model),
 * model.c (accessors, decisions), classify.c (featurize, score) and train.c.
 *
 * A model is always backed by one "image": the exact bytes of its file
 * (prefix + JSON header + data sections), either read from disk or built in
 * memory by training. Saving writes the image, so a loaded model saves back
 * byte for byte, and a trained model is validated by the same code as a
 * loaded one.
 */
#ifndef AITAG_MODEL_INTERNAL_H
#define AITAG_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aitag/model.h"
#include "meta.h"

#define AITAG__MAGIC "AITAGMDL"
#define AITAG__PREFIX_SIZE 64
#define AITAG__ALIGN 64

struct aitag_model {
    aitag__meta meta;        /* everything the header says (meta.h) */
    /* the hot path's copies of meta's fields */
    uint32_t n_labels;
    char **labels;
    double *threshold, *platt_a, *platt_b, *bias; /* n_labels each */
    int single_label;
    aitag_tokenizer_params tok;
    uint32_t hash_bits;      /* 0 = vocabulary */
    uint32_t n_features;

    const char *terms;       /* vocabulary models only */
    size_t terms_size;
    const uint32_t *term_off;   /* n_features + 1 */
    const uint32_t *table;      /* table_size slots of two u32: id + 1 (0 = empty), hash >> 32 */
    uint32_t table_size;        /* power of two */
    const float *idf;           /* n_features */
    /* n_features x n_labels weights, feature-major: as floats (formats 1
     * and 2) or as halves (format 3 on, f16.h); exactly one is set */
    const float *weights;
    const uint16_t *weights16;
    const float *gate;          /* n_features gate weights, or NULL */

    char *header;            /* JSON text, NUL-terminated copy */
    const uint8_t *image;    /* whole file image, owned; AITAG__SLACK zero
                              * bytes follow it, so that the scoring loop may
                              * read a row of halves 8 at a time */
    size_t image_size;
    size_t image_mapped;     /* for aitag__big_free */
};

#define AITAG__SLACK 64

#include "f16.h"

/* Weight of feature id for label k, whichever way the model stores it. */
static inline float aitag__model_weight(const aitag_model *m, size_t id, size_t k)
{
    size_t i = id * m->n_labels + k;
    return m->weights16 ? aitag__f16_to_f32(m->weights16[i]) : m->weights[i];
}

/* What training decides; model_io.c lays it out as an image. meta holds the
 * labels, numbers and settings (its sections, version and date are filled
 * in by the assembly). */
typedef struct aitag__model_spec {
    aitag__meta *meta;
    const char *terms;          /* NULL for hashed models */
    const uint32_t *term_off;
    const float *idf;
    const float *weights;       /* V x K, stored as halves */
    const float *gate;          /* V gate weights, or NULL */
} aitag__model_spec;

aitag_status aitag__model_assemble(const aitag__model_spec *s, aitag_model **out, aitag_error *err);

/* 1 if the vocabulary table (T slots of two u32, a power of two) has a run
 * of more than max occupied slots, wrapping around, or no empty slot. */
int aitag__table_has_long_run(const uint32_t *tab, uint64_t T, uint64_t max);

/* Feature id of a term, or -1 (vocabulary or hashing, as the model says). */
int64_t aitag__model_lookup(const aitag_model *m, const char *term, size_t len);
/* The same from the term's hash (aitag__hash_bytes). */
int64_t aitag__model_lookup_hash(const aitag_model *m, uint64_t h);
/* The address the lookup of hash h reads first, for prefetching. */
const void *aitag__model_probe_addr(const aitag_model *m, uint64_t h);

/* Makes c score models of halves with the portable loop, as on a CPU
 * without F16C (tests compare the two loops). */
struct aitag_classifier;
void aitag__classifier_use_portable_loop(struct aitag_classifier *c);

/* The TF-IDF weight before normalisation: (1 + ln count) * idf. */
static inline double aitag__tfidf(uint32_t count, float idf);

#include <math.h>
static inline double aitag__tfidf(uint32_t count, float idf)
{
    /* ln 1 = 0: most terms occur once, and need no logarithm */
    return count == 1 ? (double)idf : (1.0 + log((double)count)) * (double)idf;
}

/* idf(t) = ln((1 + N) / (1 + df(t))) + 1, as float (the stored precision). */
static inline float aitag__idf(uint64_t n_docs, uint64_t df)
{
    return (float)(log((1.0 + (double)n_docs) / (1.0 + (double)df)) + 1.0);
}

#endif
