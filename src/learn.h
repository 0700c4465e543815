/*
 * learn.h: the pieces of training that train.c wires together (internal).
 *
 *   vocab.c            dataset -> pruned, sorted vocabulary + idf
 *   vocab.c            dataset + vocabulary -> TF-IDF rows (CSR)
 *   solver_dcd.c       rows + ±1 labels -> one weight vector (dual coordinate descent)
 *   solver_liblinear.c the same with liblinear's primal trust-region Newton solver
 *   solver_libsvm.c    the same with libsvm's linear C-SVC, collapsed to w, b
 *   calibrate.c        held-out margins -> per-label threshold and Platt sigmoid
 */
#ifndef AITAG_LEARN_H
#define AITAG_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "aitag/train.h"

typedef struct aitag__vocab {
    uint32_t n;              /* features kept */
    int32_t *map;            /* provisional id -> feature id, or -1; n_prov entries */
    size_t n_prov;
    char *terms;             /* sorted terms, back to back (NULL when hashing) */
    uint32_t *term_off;      /* n + 1 */
    float *idf;              /* n */
} aitag__vocab;

aitag_status aitag__vocab_build(const aitag_dataset *d, const aitag_train_params *p, aitag__vocab *v,
                                aitag_error *err);
void aitag__vocab_free(aitag__vocab *v);

/* Documents as L2-normalised TF-IDF rows, feature ids ascending. */
typedef struct aitag__rows {
    size_t n_docs;
    uint32_t n_features;
    size_t *start;           /* n_docs + 1 */
    uint32_t *col;
    double *val;
} aitag__rows;

aitag_status aitag__rows_build(const aitag_dataset *d, const aitag__vocab *v, aitag__rows *r, aitag_error *err);
/* The same for the passage rows of a dataset with passages (d->n_pass rows). */
aitag_status aitag__passage_rows_build(const aitag_dataset *d, const aitag__vocab *v, aitag__rows *r,
                                       aitag_error *err);
void aitag__rows_free(aitag__rows *r);

/* A binary linear SVM solver over fixed rows. Training uses the rows listed
 * in idx with labels y (+1/-1) (seed: for a solver that draws random numbers,
 * from its own generator); it writes w[n_features] and *b and returns 0,
 * -1 if the solver failed or -2 if memory ran out. */
typedef struct aitag__solver aitag__solver;
struct aitag__solver {
    const char *name;        /* recorded in the model */
    double default_eps;
    int (*train)(aitag__solver *s, const uint32_t *idx, size_t n, const signed char *y, double C,
                 double eps, uint64_t seed, double *w, double *b);
    void (*free)(aitag__solver *s);
};

aitag_status aitag__dcd_create(const aitag__rows *r, aitag__solver **out, aitag_error *err);
aitag_status aitag__liblinear_create(const aitag__rows *r, aitag__solver **out, aitag_error *err);
aitag_status aitag__libsvm_create(const aitag__rows *r, aitag__solver **out, aitag_error *err);

/* calibrate.c */
/* Threshold on the margins s[idx[i]] that maximises F1 against y[idx[i]];
 * returns the best F1 (0 when there is no positive). */
double aitag__tune_threshold(const double *s, const signed char *y, const uint32_t *idx, size_t n,
                             double *threshold);
/* Platt's sigmoid P(y=1|s) = 1 / (1 + exp(A s + B)), fitted by Newton's method
 * with backtracking (Lin, Lin and Weng, 2007). */
void aitag__platt_fit(const double *s, const signed char *y, const uint32_t *idx, size_t n, double *A,
                      double *B);

#endif
