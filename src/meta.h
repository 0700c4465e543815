/*
 * meta.h: the model's metadata as a C struct, and its two checked
 * conversions, struct -> JSON header and JSON header -> struct (internal).
 *
 * Training fills an aitag__meta; aitag__model_assemble prints it into the
 * header; the loader parses every header back into one, refusing anything
 * training could not have written (bad labels, non-finite or absurd numbers,
 * unknown weighting or hash). The public view is meta->info.
 */
#ifndef AITAG_META_H
#define AITAG_META_H

#include <stddef.h>
#include <stdint.h>

#include "aitag/model.h"

#define AITAG__MAX_SECTIONS 8
#define AITAG__MAX_LABELS 65536u
#define AITAG__MAX_FEATURES (1u << 30)
/* No number a trained model holds comes near this: a bound that keeps every
 * margin finite in float arithmetic, whatever a crafted file says. */
#define AITAG__MAX_ABS 1e6

typedef struct aitag__meta {
    aitag_model_info info;      /* the public view; points into the fields below */
    char **labels, **untrainable;
    double *thresholds, *platt_a, *platt_b, *bias, *passage_weight;
    aitag_model_section sections[AITAG__MAX_SECTIONS];
    char section_names[AITAG__MAX_SECTIONS][16];
    char aitag_version[32], created[32], weighting[48], term_hash[48], solver[48];
} aitag__meta;

/* Sets up m for n_labels labels and n_untrainable skipped labels: every
 * array allocated and zeroed, the strings empty, info pointing at them. */
aitag_status aitag__meta_init(aitag__meta *m, size_t n_labels, size_t n_untrainable, aitag_error *err);
void aitag__meta_free(aitag__meta *m);

/* Copies s into label slot k (or untrainable slot k). 0, or -1 out of memory. */
int aitag__meta_set_label(aitag__meta *m, size_t k, const char *s, int untrainable);
/* Copies up to the buffer's size - 1 bytes. */
void aitag__meta_set_str(char *dst, size_t cap, const char *s);

/* The header text (cJSON_free it), or NULL with err set. */
char *aitag__meta_to_json(const aitag__meta *m, aitag_error *err);

/* Parses and checks a header; name is for messages. On failure m is freed. */
aitag_status aitag__meta_from_json(const char *text, size_t len, const char *name, aitag__meta *m,
                                   aitag_error *err);

/* Why a label name is unusable (NULL if it is fine): empty, over 255 bytes,
 * not valid UTF-8, a control character, or not in Unicode NFC. */
const char *aitag__label_problem(const char *s, size_t n);

#endif
