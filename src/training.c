/*
 * training.c: a training run taken apart into jobs (API in aitag/train.h).
 *
 *  create  vocabulary (vocab.c), TF-IDF rows of documents and passages,
 *          labels with both positive and negative documents (sorted by
 *          name; the others are set aside as "untrainable"), folds dealt by
 *          a seeded shuffle.
 *  CV      for every C tried, fold and label, a binary SVM on the other
 *          folds; its margins on the held-out documents (and the best margin
 *          of their passages) are kept.
 *  tune    cross-validated quality (each fold judged with thresholds tuned on
 *          the other folds only), the choice of C, then per label: the
 *          passage weight, the threshold and the Platt sigmoid, all on the
 *          held-out margins.
 *  final   one SVM per label on every document, with the chosen C.
 *  finish  the weights, feature-major, and the metadata: the model.
 *
 * A job writes only its own slice of the results, and no solver draws from
 * a shared generator, so jobs may run in any order, on any number of threads
 * or machines, and the model is the same.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aitag/metrics.h"
#include "dataset.h"
#include "internal.h"
#include "learn.h"
#include "meta.h"
#include "model_internal.h"

static const double C_GRID[] = {0.1, 0.3, 1.0, 3.0, 10.0, 30.0};
/* the passage margin's share in a label's decision, tried in this order */
static const double PASSAGE_WEIGHTS[] = {0.0, 0.25, 0.5, 0.75, 1.0};
#define N_PASSAGE_WEIGHTS (sizeof PASSAGE_WEIGHTS / sizeof PASSAGE_WEIGHTS[0])

struct aitag_training {
    const aitag_dataset *d;
    aitag_train_params p;
    aitag__vocab voc;
    aitag__rows rows, prows;   /* documents; passages (documents of several passages) */
    aitag__solver *solver;
    size_t N;
    uint32_t V, K, L, folds, nC;
    uint32_t KJ;               /* labels with jobs: K, plus the gate (index K) when there is one */
    int single, passages, gate;
    uint32_t *lab_of;          /* trainable index -> dataset label id */
    uint32_t *k_of;            /* dataset label id -> trainable index or UINT32_MAX */
    char **name_buf;           /* dataset label id -> name */
    signed char *Y;            /* K x N */
    uint32_t *fold;            /* N */
    uint32_t **train_idx, **test_idx; /* per fold */
    size_t *n_train, *n_test;
    uint32_t *all_idx;
    double Cs[8], eps;
    uint64_t fingerprint;      /* what a job result must carry */
    /* job results: each job writes its own slice */
    double *dv, *dvp;          /* nC x K x N held-out margins: documents, best passage */
    float *W;                  /* K x V final weights */
    double *bias;              /* K */
    unsigned char *done_cv, *done_final;
    /* tuning */
    int tuned;
    uint32_t best;
    aitag_summary sum[8];
    double *thr, *pa, *pb, *pw;
    double gate_thr;           /* the gate's cut on its margin */
};

/* ---- set up -------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t len;
    uint32_t id;
} named;

static int by_name(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Trainable labels sorted by name; single = every document has one label. */
static aitag_status setup_labels(aitag_training *t, aitag_error *err)
{
    const aitag_dataset *d = t->d;
    size_t L = t->L = (uint32_t)d->labels.n, n1 = L ? L : 1;
    uint32_t *pos = aitag__calloc(n1, sizeof *pos);
    named *nm = aitag__malloc(n1 * sizeof *nm);
    t->lab_of = aitag__malloc(n1 * sizeof *t->lab_of);
    t->k_of = aitag__malloc(n1 * sizeof *t->k_of);
    t->name_buf = aitag__calloc(n1, sizeof *t->name_buf);
    aitag_status rc = pos && nm && t->lab_of && t->k_of && t->name_buf ? AITAG_OK : AITAG_NOMEM;
    t->single = !t->p.force_multilabel;
    for (size_t i = 0; rc == AITAG_OK && i < t->N; i++) {
        if (d->lab_start[i + 1] - d->lab_start[i] != 1)
            t->single = 0;
        for (size_t j = d->lab_start[i]; j < d->lab_start[i + 1]; j++)
            pos[d->lab[j]]++;
    }
    for (size_t l = 0; rc == AITAG_OK && l < L; l++) {
        size_t len;
        const char *s = aitag__strmap_str(&d->labels, (uint32_t)l, &len);
        if (!(t->name_buf[l] = aitag__strndup(s, len)))
            rc = AITAG_NOMEM;
        t->k_of[l] = UINT32_MAX;
        if (pos[l] > 0 && pos[l] < t->N)
            nm[t->K++] = (named){s, len, (uint32_t)l};
    }
    if (rc == AITAG_OK) {
        qsort(nm, t->K, sizeof *nm, by_name);
        for (uint32_t k = 0; k < t->K; k++) {
            t->lab_of[k] = nm[k].id;
            t->k_of[nm[k].id] = k;
        }
    }
    aitag__free(pos);
    aitag__free(nm);
    if (rc != AITAG_OK)
        return aitag__fail(err, AITAG_NOMEM, "out of memory");
    if (t->K == 0)
        return aitag__fail(err, AITAG_LABEL, "no label has both positive and negative documents (%zu labels in %zu documents)",
                           L, t->N);
    if (t->single && t->K < 2)
        t->single = 0;
    /* the gate: "is this article about any label at all", worth having only
     * beside per-label thresholds and with unlabelled documents to learn from */
    size_t unlabelled = 0;
    for (size_t i = 0; i < t->N; i++)
        unlabelled += d->lab_start[i + 1] == d->lab_start[i];
    t->gate = t->p.gate && !t->single && t->folds >= 2 && unlabelled > 0;
    t->KJ = t->K + (t->gate ? 1 : 0);
    if (!(t->Y = aitag__malloc((size_t)t->KJ * t->N)))
        return aitag__fail(err, AITAG_NOMEM, "out of memory");
    memset(t->Y, -1, (size_t)t->KJ * t->N);
    for (size_t i = 0; i < t->N; i++) {
        for (size_t j = d->lab_start[i]; j < d->lab_start[i + 1]; j++)
            if (t->k_of[d->lab[j]] != UINT32_MAX)
                t->Y[(size_t)t->k_of[d->lab[j]] * t->N + i] = 1;
        if (t->gate && d->lab_start[i + 1] > d->lab_start[i])
            t->Y[(size_t)t->K * t->N + i] = 1;
    }
    return AITAG_OK;
}

/* Deals documents into folds: a seeded Fisher-Yates shuffle, then round-robin. */
static aitag_status setup_folds(aitag_training *t)
{
    size_t N = t->N;
    t->fold = aitag__malloc(N * sizeof *t->fold);
    t->all_idx = aitag__malloc(N * sizeof *t->all_idx);
    if (!t->fold || !t->all_idx)
        return AITAG_NOMEM;
    for (size_t i = 0; i < N; i++)
        t->all_idx[i] = (uint32_t)i;
    if (t->folds < 2)
        return AITAG_OK;
    uint32_t *perm = aitag__malloc(N * sizeof *perm);
    if (!perm)
        return AITAG_NOMEM;
    memcpy(perm, t->all_idx, N * sizeof *perm);
    uint64_t st = t->p.seed;
    for (size_t i = N; i > 1; i--) {
        size_t j = (size_t)(aitag__splitmix64(&st) % i);
        uint32_t tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
    for (size_t i = 0; i < N; i++)
        t->fold[perm[i]] = (uint32_t)(i % t->folds);
    aitag__free(perm);
    t->train_idx = aitag__calloc(t->folds, sizeof *t->train_idx);
    t->test_idx = aitag__calloc(t->folds, sizeof *t->test_idx);
    t->n_train = aitag__calloc(t->folds, sizeof *t->n_train);
    t->n_test = aitag__calloc(t->folds, sizeof *t->n_test);
    if (!t->train_idx || !t->test_idx || !t->n_train || !t->n_test)
        return AITAG_NOMEM;
    for (uint32_t f = 0; f < t->folds; f++) {
        t->train_idx[f] = aitag__malloc(N * sizeof **t->train_idx);
        t->test_idx[f] = aitag__malloc(N * sizeof **t->test_idx);
        if (!t->train_idx[f] || !t->test_idx[f])
            return AITAG_NOMEM;
        for (size_t i = 0; i < N; i++) {
            if (t->fold[i] == f)
                t->test_idx[f][t->n_test[f]++] = (uint32_t)i;
            else
                t->train_idx[f][t->n_train[f]++] = (uint32_t)i;
        }
    }
    return AITAG_OK;
}

/* Identifies the training a job result belongs to. */
static uint64_t fingerprint(const aitag_training *t)
{
    uint64_t v[12] = {t->d->checksum, t->N,           t->V,          t->KJ,     t->folds,
                      t->nC,          t->p.seed,      t->p.solver,   t->passages ? t->d->passage_words : 0,
                      0,              0,              0};
    memcpy(&v[9], &t->eps, sizeof(double));
    memcpy(&v[10], &t->Cs[0], sizeof(double));
    memcpy(&v[11], &t->Cs[t->nC - 1], sizeof(double));
    return aitag__checksum(v, sizeof v);
}

static aitag_status setup_results(aitag_training *t, aitag_error *err)
{
    t->nC = 1;
    t->Cs[0] = t->p.C;
    if (t->p.search_C) {
        t->nC = sizeof C_GRID / sizeof C_GRID[0];
        memcpy(t->Cs, C_GRID, sizeof C_GRID);
    }
    size_t ncv = t->folds >= 2 ? (size_t)t->nC * t->KJ * t->N : 0;
    t->dv = ncv ? aitag__calloc(ncv, sizeof *t->dv) : NULL;
    t->dvp = ncv && t->passages ? aitag__calloc(ncv, sizeof *t->dvp) : NULL;
    t->W = aitag__calloc((size_t)t->KJ * t->V, sizeof *t->W);
    t->bias = aitag__calloc(t->KJ, sizeof *t->bias);
    t->done_cv = aitag__calloc(aitag_training_num_jobs(t, AITAG_STAGE_CV) + 1, 1);
    t->done_final = aitag__calloc(t->KJ, 1);
    t->thr = aitag__calloc(t->K, sizeof *t->thr);
    t->pa = aitag__calloc(t->K, sizeof *t->pa);
    t->pb = aitag__calloc(t->K, sizeof *t->pb);
    t->pw = aitag__calloc(t->K, sizeof *t->pw);
    if ((ncv && !t->dv) || (ncv && t->passages && !t->dvp) || !t->W || !t->bias || !t->done_cv || !t->done_final ||
        !t->thr || !t->pa || !t->pb || !t->pw)
        return aitag__fail(err, AITAG_NOMEM, "out of memory for the training results");
    t->fingerprint = fingerprint(t);
    return AITAG_OK;
}

static aitag_status setup_features(aitag_training *t, aitag_error *err)
{
    aitag_status rc = aitag__vocab_build(t->d, &t->p, &t->voc, err);
    if (rc != AITAG_OK)
        return rc;
    if (t->voc.n == 0)
        return aitag__fail(err, AITAG_EMPTY, "no term survives pruning (min_df %u, max_df %g): the corpus is too small or empty",
                           t->p.min_df, t->p.max_df);
    t->V = t->voc.n;
    rc = aitag__rows_build(t->d, &t->voc, &t->rows, err);
    if (rc == AITAG_OK && t->passages)
        rc = aitag__passage_rows_build(t->d, &t->voc, &t->prows, err);
    if (rc != AITAG_OK)
        return rc;
    rc = t->p.solver == AITAG_SOLVER_LIBSVM      ? aitag__libsvm_create(&t->rows, &t->solver, err)
         : t->p.solver == AITAG_SOLVER_LIBLINEAR ? aitag__liblinear_create(&t->rows, &t->solver, err)
                                                 : aitag__dcd_create(&t->rows, &t->solver, err);
    if (rc == AITAG_OK)
        t->eps = t->p.eps > 0 ? t->p.eps : t->solver->default_eps;
    return rc;
}

aitag_status aitag_training_create(const aitag_dataset *d, const aitag_train_params *p, aitag_training **out,
                                   aitag_error *err)
{
    if (!out)
        return aitag__fail(err, AITAG_INVALID, "aitag_training_create: out is NULL");
    *out = NULL;
    if (!d || !p)
        return aitag__fail(err, AITAG_INVALID, "aitag_training_create: %s is NULL", d ? "params" : "dataset");
    const char *why = aitag_train_params_check(p);
    if (why)
        return aitag__fail(err, AITAG_INVALID, "%s", why);
    if (d->n_docs == 0)
        return aitag__fail(err, AITAG_EMPTY, "the training corpus has no documents");
    if (d->labels.n > p->max_labels)
        return aitag__fail(err, AITAG_LIMIT, "%zu distinct labels, more than the limit of %u (--max-labels)",
                           d->labels.n, p->max_labels);
    aitag_training *t = aitag__calloc(1, sizeof *t);
    if (!t)
        return aitag__fail(err, AITAG_NOMEM, "out of memory");
    t->d = d;
    t->p = *p;
    t->N = d->n_docs;
    t->folds = p->folds;
    t->passages = d->passage_words != 0 && p->folds >= 2;
    aitag_status rc = setup_features(t, err);
    if (rc == AITAG_OK)
        rc = setup_labels(t, err);
    if (rc == AITAG_OK && setup_folds(t) != AITAG_OK)
        rc = aitag__fail(err, AITAG_NOMEM, "out of memory");
    if (rc == AITAG_OK)
        rc = setup_results(t, err);
    if (rc != AITAG_OK) {
        aitag_training_free(t);
        return rc;
    }
    *out = t;
    return AITAG_OK;
}

void aitag_training_free(aitag_training *t)
{
    if (!t)
        return;
    if (t->solver)
        t->solver->free(t->solver);
    aitag__vocab_free(&t->voc);
    aitag__rows_free(&t->rows);
    aitag__rows_free(&t->prows);
    for (size_t l = 0; t->name_buf && l < t->L; l++)
        aitag__free(t->name_buf[l]);
    for (uint32_t f = 0; f < t->folds; f++) {
        if (t->train_idx)
            aitag__free(t->train_idx[f]);
        if (t->test_idx)
            aitag__free(t->test_idx[f]);
    }
    void *owned[] = {t->lab_of, t->k_of, t->name_buf, t->Y, t->fold, t->train_idx, t->test_idx, t->n_train,
                     t->n_test, t->all_idx, t->dv, t->dvp, t->W, t->bias, t->done_cv, t->done_final,
                     t->thr, t->pa, t->pb, t->pw, t};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        aitag__free(owned[i]);
}

/* ---- jobs ---------------------------------------------------------------- */

size_t aitag_training_num_jobs(const aitag_training *t, aitag_training_stage stage)
{
    if (!t)
        return 0;
    if (stage == AITAG_STAGE_FINAL)
        return t->KJ;
    return t->folds >= 2 ? (size_t)t->nC * t->folds * t->KJ : 0;
}

/* Each job's own seed: a function of the training seed, the label and the fold. */
static uint64_t job_seed(const aitag_training *t, uint32_t k, uint32_t f)
{
    uint64_t s = t->p.seed ^ ((uint64_t)k << 32) ^ ((uint64_t)f << 20);
    return s * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
}

enum { JOB_OK = 0, JOB_SOLVER = -1, JOB_NOMEM = -2 };

/* Trains label k on idx[0..n) and returns w (V doubles, caller frees) and b. */
static int fit(aitag_training *t, uint32_t k, uint32_t f, double C, const uint32_t *idx, size_t n, double **w_out,
               double *b)
{
    double *w = aitag__malloc(((size_t)t->V + 1) * sizeof *w);
    signed char *y = aitag__malloc(n ? n : 1);
    if (!w || !y) {
        aitag__free(w);
        aitag__free(y);
        return JOB_NOMEM;
    }
    const signed char *Yk = t->Y + (size_t)k * t->N;
    for (size_t i = 0; i < n; i++)
        y[i] = Yk[idx[i]];
    int rc = t->solver->train(t->solver, idx, n, y, C, t->eps, job_seed(t, k, f), w, b);
    aitag__free(y);
    if (rc != 0) {
        aitag__free(w);
        return rc == -2 ? JOB_NOMEM : JOB_SOLVER;
    }
    *w_out = w;
    return JOB_OK;
}

static double dot(const aitag__rows *r, size_t i, const double *w)
{
    double s = 0;
    for (size_t j = r->start[i]; j < r->start[i + 1]; j++)
        s += r->val[j] * w[r->col[j]];
    return s;
}

/* The best margin among doc's passages (its own margin when it has one). */
static double best_passage(const aitag_training *t, uint32_t doc, const double *w, double b, double doc_margin)
{
    size_t p0 = t->d->pdoc[doc], p1 = t->d->pdoc[doc + 1];
    if (p1 - p0 < 2)
        return doc_margin;
    double best = -HUGE_VAL;
    for (size_t q = p0; q < p1; q++) {
        double s = dot(&t->prows, q, w) + b;
        if (s > best)
            best = s;
    }
    return best;
}

static void cv_coords(const aitag_training *t, size_t j, uint32_t *ci, uint32_t *f, uint32_t *k)
{
    *k = (uint32_t)(j % t->KJ);
    *f = (uint32_t)((j / t->KJ) % t->folds);
    *ci = (uint32_t)(j / ((size_t)t->KJ * t->folds));
}

static int cv_job(aitag_training *t, size_t j)
{
    uint32_t ci, f, k;
    cv_coords(t, j, &ci, &f, &k);
    double *w, b;
    int rc = fit(t, k, f, t->Cs[ci], t->train_idx[f], t->n_train[f], &w, &b);
    if (rc != JOB_OK)
        return rc;
    size_t base = ((size_t)ci * t->KJ + k) * t->N;
    for (size_t i = 0; i < t->n_test[f]; i++) {
        uint32_t doc = t->test_idx[f][i];
        t->dv[base + doc] = dot(&t->rows, doc, w) + b;
        if (t->passages)
            t->dvp[base + doc] = best_passage(t, doc, w, b, t->dv[base + doc]);
    }
    aitag__free(w);
    return JOB_OK;
}

static int final_job(aitag_training *t, size_t k)
{
    double *w, b;
    int rc = fit(t, (uint32_t)k, t->folds, t->Cs[t->best], t->all_idx, t->N, &w, &b);
    if (rc != JOB_OK)
        return rc;
    float *out = t->W + k * t->V;
    for (uint32_t i = 0; i < t->V; i++)
        out[i] = (float)w[i];
    t->bias[k] = b;
    aitag__free(w);
    return JOB_OK;
}

static aitag_status check_job(const aitag_training *t, aitag_training_stage stage, size_t j, aitag_error *err)
{
    if (!t)
        return aitag__fail(err, AITAG_INVALID, "no training given");
    if (stage != AITAG_STAGE_CV && stage != AITAG_STAGE_FINAL)
        return aitag__fail(err, AITAG_INVALID, "unknown training stage %d", (int)stage);
    if (j >= aitag_training_num_jobs(t, stage))
        return aitag__fail(err, AITAG_INVALID, "job %zu does not exist (%zu jobs in that stage)", j,
                           aitag_training_num_jobs(t, stage));
    if (stage == AITAG_STAGE_FINAL && !t->tuned)
        return aitag__fail(err, AITAG_INVALID, "final jobs need aitag_training_tune first");
    return AITAG_OK;
}

aitag_status aitag_training_run_job(aitag_training *t, aitag_training_stage stage, size_t j, aitag_error *err)
{
    aitag_status rc = check_job(t, stage, j, err);
    if (rc != AITAG_OK)
        return rc;
    int r = stage == AITAG_STAGE_CV ? cv_job(t, j) : final_job(t, j);
    if (r == JOB_NOMEM)
        return aitag__fail(err, AITAG_NOMEM, "training job %zu: out of memory", j);
    if (r != JOB_OK)
        return aitag__fail(err, AITAG_SOLVER, "training job %zu: the solver failed", j);
    (stage == AITAG_STAGE_CV ? t->done_cv : t->done_final)[j] = 1;
    return AITAG_OK;
}

/* ---- job results as bytes ------------------------------------------------
 * "AITAGJOB", u32 stage, u32 0, u64 job, u64 fingerprint, u64 payload bytes,
 * then the payload (little-endian): CV, the held-out documents' margins (and
 * their best passages' margins), in the fold's order, as doubles; final, V
 * float weights and one double bias. */

#define JOB_HEADER 40

static size_t payload_size(const aitag_training *t, aitag_training_stage stage, size_t j)
{
    if (stage == AITAG_STAGE_FINAL)
        return (size_t)t->V * sizeof(float) + sizeof(double);
    uint32_t ci, f, k;
    cv_coords(t, j, &ci, &f, &k);
    return t->n_test[f] * sizeof(double) * (t->passages ? 2 : 1);
}

/* Copies the job's slice of the results to (dir 0) or from (dir 1) p. */
static void move_payload(aitag_training *t, aitag_training_stage stage, size_t j, unsigned char *p, int from)
{
    if (stage == AITAG_STAGE_FINAL) {
        size_t wb = (size_t)t->V * sizeof(float);
        float *w = t->W + j * t->V;
        if (from) {
            memcpy(w, p, wb);
            memcpy(&t->bias[j], p + wb, sizeof(double));
        } else {
            memcpy(p, w, wb);
            memcpy(p + wb, &t->bias[j], sizeof(double));
        }
        return;
    }
    uint32_t ci, f, k;
    cv_coords(t, j, &ci, &f, &k);
    size_t base = ((size_t)ci * t->KJ + k) * t->N, n = t->n_test[f];
    for (int pass = 0; pass < (t->passages ? 2 : 1); pass++) {
        double *v = pass ? t->dvp : t->dv;
        for (size_t i = 0; i < n; i++, p += sizeof(double)) {
            double *x = &v[base + t->test_idx[f][i]];
            if (from)
                memcpy(x, p, sizeof *x);
            else
                memcpy(p, x, sizeof *x);
        }
    }
}

aitag_status aitag_training_job_result(const aitag_training *t, aitag_training_stage stage, size_t j, void *buf,
                                       size_t *len, aitag_error *err)
{
    aitag_status rc = check_job(t, stage, j, err);
    if (rc != AITAG_OK)
        return rc;
    if (!len)
        return aitag__fail(err, AITAG_INVALID, "aitag_training_job_result: len is NULL");
    if (!(stage == AITAG_STAGE_CV ? t->done_cv : t->done_final)[j])
        return aitag__fail(err, AITAG_INVALID, "job %zu has not run", j);
    size_t need = JOB_HEADER + payload_size(t, stage, j);
    if (!buf || *len < need) {
        *len = need;
        return buf ? aitag__fail(err, AITAG_LIMIT, "the buffer holds %zu bytes, the result %zu", *len, need)
                   : AITAG_OK;
    }
    unsigned char *p = buf;
    uint64_t h[4] = {j, t->fingerprint, need - JOB_HEADER, 0};
    uint32_t st[2] = {(uint32_t)stage, 0};
    memcpy(p, "AITAGJOB", 8);
    memcpy(p + 8, st, 8);
    memcpy(p + 16, h, 24);
    move_payload((aitag_training *)t, stage, j, p + JOB_HEADER, 0);
    *len = need;
    return AITAG_OK;
}

aitag_status aitag_training_set_job_result(aitag_training *t, aitag_training_stage stage, size_t j, const void *buf,
                                           size_t len, aitag_error *err)
{
    aitag_status rc = check_job(t, stage, j, err);
    if (rc != AITAG_OK)
        return rc;
    const unsigned char *p = buf;
    size_t need = JOB_HEADER + payload_size(t, stage, j);
    uint64_t h[3];
    uint32_t st[2];
    if (!p || len != need || memcmp(p, "AITAGJOB", 8) != 0)
        return aitag__fail(err, AITAG_INVALID, "job %zu: not a result of this job (%zu bytes, %zu expected)", j, len, need);
    memcpy(st, p + 8, 8);
    memcpy(h, p + 16, 24);
    if (st[0] != (uint32_t)stage || h[0] != j || h[1] != t->fingerprint)
        return aitag__fail(err, AITAG_INVALID, "job %zu: the result belongs to another job or training", j);
    move_payload(t, stage, j, (unsigned char *)p + JOB_HEADER, 1);
    (stage == AITAG_STAGE_CV ? t->done_cv : t->done_final)[j] = 1;
    return AITAG_OK;
}

/* ---- tuning -------------------------------------------------------------- */

/* Gold label ids of doc i as trainable indices (untrainable ones as K + id). */
static size_t gold_of(const aitag_training *t, size_t i, uint32_t *out)
{
    size_t n = 0;
    for (size_t j = t->d->lab_start[i]; j < t->d->lab_start[i + 1]; j++) {
        uint32_t id = t->d->lab[j];
        out[n++] = t->k_of[id] != UINT32_MAX ? t->k_of[id] : t->K + id;
    }
    return n;
}

/* Adds document i's decision (held-out margins dv, fold thresholds thr) to m. */
static aitag_status judge_doc(const aitag_training *t, const double *dv, const double *thr, size_t i,
                              aitag__ranked *rk, uint32_t *pred, uint32_t *gold, aitag_metrics *m)
{
    size_t np = 0;
    for (uint32_t k = 0; k < t->K; k++) {
        double s = dv[(size_t)k * t->N + i];
        if (t->single || s > thr[k * t->folds + t->fold[i]])
            rk[np++] = (aitag__ranked){s, k};
    }
    qsort(rk, np, sizeof *rk, aitag__by_margin);
    if (t->single && np > 1)
        np = 1;
    for (size_t j = 0; j < np; j++)
        pred[j] = rk[j].k;
    return aitag_metrics_add(m, gold, gold_of(t, i, gold), pred, np);
}

/* Quality of the held-out margins of C index ci: each fold decided with
 * thresholds tuned on the other folds. */
static aitag_status cv_quality(aitag_training *t, uint32_t ci, aitag_summary *sum, aitag_error *err)
{
    double *thr = aitag__malloc((size_t)t->K * t->folds * sizeof *thr);
    aitag__ranked *rk = aitag__malloc((size_t)t->K * sizeof *rk);
    uint32_t *pred = aitag__malloc((size_t)t->K * sizeof *pred);
    uint32_t *gold = aitag__malloc(((size_t)t->L + 1) * sizeof *gold);
    aitag_metrics *m = NULL;
    aitag_status rc = AITAG_NOMEM;
    if (thr && rk && pred && gold && aitag_metrics_create(t->K, &m, NULL) == AITAG_OK) {
        const double *dv = t->dv + (size_t)ci * t->KJ * t->N;
        for (uint32_t k = 0; k < t->K; k++)
            for (uint32_t f = 0; f < t->folds; f++)
                aitag__tune_threshold(dv + (size_t)k * t->N, t->Y + (size_t)k * t->N, t->train_idx[f],
                                      t->n_train[f], &thr[k * t->folds + f]);
        rc = AITAG_OK;
        for (size_t i = 0; i < t->N && rc == AITAG_OK; i++)
            rc = judge_doc(t, dv, thr, i, rk, pred, gold, m);
        if (rc == AITAG_OK)
            aitag_metrics_summary(m, sum);
    }
    if (rc != AITAG_OK)
        aitag__fail(err, AITAG_NOMEM, "out of memory scoring cross-validation");
    aitag_metrics_free(m);
    aitag__free(thr);
    aitag__free(rk);
    aitag__free(pred);
    aitag__free(gold);
    return rc;
}

/* Label k's passage weight, threshold and sigmoid, from all held-out
 * margins: the weight whose tuned threshold gives the best F1 (the smallest
 * on a tie), then the threshold and Platt's fit on that combination. */
static void tune_label(aitag_training *t, uint32_t k, double *s)
{
    size_t base = ((size_t)t->best * t->KJ + k) * t->N;
    const double *dv = t->dv + base, *dvp = t->passages ? t->dvp + base : NULL;
    const signed char *y = t->Y + (size_t)k * t->N;
    double best_f1 = -1, best_w = 0;
    for (size_t a = 0; a < (dvp ? N_PASSAGE_WEIGHTS : 1); a++) {
        double w = PASSAGE_WEIGHTS[a], thr;
        for (size_t i = 0; i < t->N; i++)
            s[i] = dvp ? (1 - w) * dv[i] + w * dvp[i] : dv[i];
        double f1 = aitag__tune_threshold(s, y, t->all_idx, t->N, &thr);
        if (f1 > best_f1 + 1e-9) {
            best_f1 = f1;
            best_w = w;
        }
    }
    for (size_t i = 0; i < t->N; i++)
        s[i] = dvp ? (1 - best_w) * dv[i] + best_w * dvp[i] : dv[i];
    t->pw[k] = best_w;
    aitag__tune_threshold(s, y, t->all_idx, t->N, &t->thr[k]);
    aitag__platt_fit(s, y, t->all_idx, t->N, &t->pa[k], &t->pb[k]);
}

typedef struct {
    double g;          /* the document's held-out gate margin */
    uint32_t tp, fp;   /* its right and wrong tags with the gate open; fp counts
                          NONE_FP_WEIGHT times on an unlabelled document */
} gated_doc;

/* A tag on an article about no label at all (ordinary news) costs this many
 * wrong tags when the gate's cut is chosen: users notice it more than a
 * missing secondary tag. */
#ifndef NONE_FP_WEIGHT
#define NONE_FP_WEIGHT 3
#endif

static int by_gate(const void *a, const void *b)
{
    const gated_doc *x = a, *y = b;
    return (x->g > y->g) - (x->g < y->g);
}

/* The gate's cut: the one that maximises held-out micro-F1 of the whole
 * decision (labels past their thresholds, kept only where the gate is open). */
static aitag_status tune_gate(aitag_training *t, aitag_error *err)
{
    gated_doc *gd = aitag__malloc(t->N * sizeof *gd);
    if (!gd)
        return aitag__fail(err, AITAG_NOMEM, "out of memory tuning the gate");
    size_t TP = 0, FP = 0, FN = 0;
    const size_t KJN = (size_t)t->KJ * t->N, at = (size_t)t->best * KJN;
    for (size_t i = 0; i < t->N; i++) {
        gd[i] = (gated_doc){t->dv[at + (size_t)t->K * t->N + i], 0, 0};
        int unlabelled = t->Y[(size_t)t->K * t->N + i] < 0;
        for (uint32_t k = 0; k < t->K; k++) {
            double w = t->pw[k], d = t->dv[at + (size_t)k * t->N + i];
            double sc = t->passages ? (1 - w) * d + w * t->dvp[at + (size_t)k * t->N + i] : d;
            int gold = t->Y[(size_t)k * t->N + i] > 0, tag = sc > t->thr[k];
            gd[i].tp += (uint32_t)(gold && tag);
            gd[i].fp += (uint32_t)(!gold && tag) * (unlabelled ? NONE_FP_WEIGHT : 1);
            FN += (size_t)(gold && !tag);
        }
        TP += gd[i].tp;
        FP += gd[i].fp;
    }
    qsort(gd, t->N, sizeof *gd, by_gate);
    double best = TP + FP + FN ? 2.0 * (double)TP / (double)(2 * TP + FP + FN) : 0.0;
    t->gate_thr = gd[0].g - 1.0; /* open for every document */
    for (size_t i = 0; i < t->N; i++) {
        /* close the gate for documents 0..i */
        TP -= gd[i].tp;
        FN += gd[i].tp;
        FP -= gd[i].fp;
        if (i + 1 < t->N && gd[i + 1].g == gd[i].g)
            continue;
        double f1 = TP + FP + FN ? 2.0 * (double)TP / (double)(2 * TP + FP + FN) : 0.0;
        if (f1 > best + 1e-12) {
            best = f1;
            t->gate_thr = i + 1 < t->N ? 0.5 * (gd[i].g + gd[i + 1].g) : gd[i].g + 1e-6;
        }
    }
    aitag__free(gd);
    return AITAG_OK;
}

aitag_status aitag_training_tune(aitag_training *t, aitag_cv_report *report, aitag_error *err)
{
    if (!t)
        return aitag__fail(err, AITAG_INVALID, "no training given");
    size_t n = aitag_training_num_jobs(t, AITAG_STAGE_CV);
    for (size_t j = 0; j < n; j++)
        if (!t->done_cv[j])
            return aitag__fail(err, AITAG_INVALID, "cross-validation job %zu has no result yet", j);
    t->best = 0;
    memset(t->sum, 0, sizeof t->sum);
    for (uint32_t ci = 0; n && ci < t->nC; ci++) {
        aitag_status rc = cv_quality(t, ci, &t->sum[ci], err);
        if (rc != AITAG_OK)
            return rc;
        double score = t->single ? t->sum[ci].accuracy : t->sum[ci].micro.f1;
        double bscore = t->single ? t->sum[t->best].accuracy : t->sum[t->best].micro.f1;
        if (score > bscore)
            t->best = ci;
    }
    double *s = n ? aitag__malloc(t->N * sizeof *s) : NULL;
    if (n && !s)
        return aitag__fail(err, AITAG_NOMEM, "out of memory tuning thresholds");
    for (uint32_t k = 0; k < t->K; k++) {
        if (n) {
            tune_label(t, k, s);
        } else {
            t->thr[k] = 0.0; /* the SVM's own cut; probabilities uncalibrated */
            t->pa[k] = -2.0;
            t->pb[k] = 0.0;
        }
    }
    aitag__free(s);
    if (t->gate) {
        aitag_status rc = tune_gate(t, err);
        if (rc != AITAG_OK)
            return rc;
    }
    t->tuned = 1;
    if (report) {
        const aitag_summary *b = &t->sum[t->best];
        memset(report, 0, sizeof *report);
        report->folds = t->folds;
        report->C = t->Cs[t->best];
        report->n_c = t->nC;
        report->micro_f1 = b->micro.f1;
        report->macro_f1 = b->macro_f1;
        report->accuracy = b->accuracy;
        report->subset_accuracy = b->subset_accuracy;
        for (uint32_t ci = 0; ci < t->nC; ci++) {
            report->c_tried[ci] = t->Cs[ci];
            report->c_score[ci] = t->single ? t->sum[ci].accuracy : t->sum[ci].micro.f1;
        }
    }
    return AITAG_OK;
}

/* ---- the model ------------------------------------------------------------ */

static aitag_status fill_meta(const aitag_training *t, aitag__meta *m, aitag_error *err)
{
    uint32_t n_untr = t->L - t->K;
    aitag_status rc = aitag__meta_init(m, t->K, n_untr, err);
    if (rc != AITAG_OK)
        return rc;
    aitag_model_info *i = &m->info;
    for (uint32_t k = 0; k < t->K; k++)
        if (aitag__meta_set_label(m, k, t->name_buf[t->lab_of[k]], 0))
            return aitag__fail(err, AITAG_NOMEM, "out of memory");
    uint32_t u = 0;
    for (uint32_t l = 0; l < t->L; l++)
        if (t->k_of[l] == UINT32_MAX && aitag__meta_set_label(m, u++, t->name_buf[l], 1))
            return aitag__fail(err, AITAG_NOMEM, "out of memory");
    memcpy(m->thresholds, t->thr, t->K * sizeof *t->thr);
    memcpy(m->platt_a, t->pa, t->K * sizeof *t->pa);
    memcpy(m->platt_b, t->pb, t->K * sizeof *t->pb);
    memcpy(m->bias, t->bias, t->K * sizeof *t->bias);
    memcpy(m->passage_weight, t->pw, t->K * sizeof *t->pw);
    i->single_label = t->single;
    i->tokenizer = t->d->tp;
    i->n_features = t->V;
    i->hash_bits = t->d->hash_bits;
    i->min_df = t->p.min_df;
    i->max_df = t->p.max_df;
    i->max_features = t->p.max_features;
    aitag__meta_set_str(m->solver, sizeof m->solver, t->solver->name);
    i->C = t->Cs[t->best];
    i->eps = t->eps;
    i->folds = t->folds;
    i->seed = t->p.seed;
    i->documents = t->N;
    i->corpus_checksum = t->d->checksum;
    i->has_cv = t->folds >= 2;
    const aitag_summary *b = &t->sum[t->best];
    i->cv_micro_f1 = b->micro.f1;
    i->cv_macro_f1 = b->macro_f1;
    i->cv_accuracy = b->accuracy;
    i->cv_subset_accuracy = b->subset_accuracy;
    i->n_search_C = t->p.search_C ? t->nC : 0;
    for (uint32_t c = 0; c < i->n_search_C; c++) {
        i->search_C[c] = t->Cs[c];
        i->search_score[c] = t->single ? t->sum[c].accuracy : t->sum[c].micro.f1;
    }
    i->gate = t->gate;
    i->gate_bias = t->gate ? t->bias[t->K] : 0.0;
    i->gate_threshold = t->gate ? t->gate_thr : 0.0;
    i->passages = t->passages;
    i->passage_words = t->passages ? t->d->passage_words : 0;
    return AITAG_OK;
}

aitag_status aitag_training_finish(aitag_training *t, aitag_model **out, aitag_error *err)
{
    if (!out)
        return aitag__fail(err, AITAG_INVALID, "aitag_training_finish: out is NULL");
    *out = NULL;
    if (!t || !t->tuned)
        return aitag__fail(err, AITAG_INVALID, "aitag_training_finish: %s", t ? "tune first" : "no training given");
    for (uint32_t k = 0; k < t->KJ; k++)
        if (!t->done_final[k])
            return aitag__fail(err, AITAG_INVALID, "final job %u has no result yet", k);
    float *weights = aitag__malloc((size_t)t->K * t->V * sizeof *weights);
    if (!weights)
        return aitag__fail(err, AITAG_NOMEM, "out of memory");
    for (uint32_t k = 0; k < t->K; k++) /* feature-major: a feature's K weights side by side */
        for (uint32_t j = 0; j < t->V; j++)
            weights[(size_t)j * t->K + k] = t->W[(size_t)k * t->V + j];
    aitag__meta meta;
    memset(&meta, 0, sizeof meta);
    aitag_status rc = fill_meta(t, &meta, err);
    if (rc == AITAG_OK) {
        aitag__model_spec spec = {&meta, t->voc.terms, t->voc.term_off, t->voc.idf, weights,
                                  t->gate ? t->W + (size_t)t->K * t->V : NULL};
        rc = aitag__model_assemble(&spec, out, err);
    }
    aitag__meta_free(&meta);
    aitag__free(weights);
    return rc;
}
