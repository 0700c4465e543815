/*
 * train.c: dataset -> model. The order of work:
 *
 *  1. vocab.c prunes and sorts the vocabulary; rows are built once.
 *  2. Labels with no positive or no negative document are set aside
 *     ("untrainable_labels" in the header); the others are sorted by name.
 *  3. Documents are dealt into `folds` folds (seeded shuffle). For every C
 *     tried, every fold and every label, a binary SVM is trained on the other
 *     folds and its margins on the held-out fold are kept.
 *  4. From those held-out margins: cross-validated quality (each fold judged
 *     with thresholds tuned on the other folds only), the choice of C, then
 *     per-label thresholds and Platt sigmoids tuned on all held-out margins.
 *  5. One SVM per label on all documents gives the final weights.
 *
 * Jobs (one binary SVM each) run on `threads` worker threads. The solvers
 * draw no random numbers (aitag's dual coordinate descent has a
 * generator of its own, seeded per job; liblinear's primal trust-region
 * Newton solver and libsvm's SMO without probability estimates use none), and each job writes only its
 * own slice of the results, so the model is the same for any number of
 * threads, and training is safe inside a host process with threads of its own.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "aitag/metrics.h"
#include "dataset.h"
#include "internal.h"
#include "learn.h"
#include "model_internal.h"

#define MAX_WORKERS 64
static const double C_GRID[] = {0.1, 0.3, 1.0, 3.0, 10.0, 30.0};

aitag_train_params aitag_train_params_default(void)
{
    aitag_train_params p;
    memset(&p, 0, sizeof p);
    p.C = 1.0;
    p.eps = 0.0;
    p.solver = AITAG_SOLVER_DCD;
    p.min_df = 2;
    p.max_df = 1.0;
    p.max_features = 0;
    p.folds = 3;
    p.threads = 0;
    p.seed = 1;
    p.search_C = 0;
    p.force_multilabel = 0;
    p.max_labels = 4096;
    return p;
}

const char *aitag_train_params_check(const aitag_train_params *p)
{
    if (!(p->C > 0) || !isfinite(p->C))
        return "C must be a positive number";
    if (p->eps < 0 || !isfinite(p->eps))
        return "eps must be >= 0 (0 = the solver's default)";
    if (p->solver != AITAG_SOLVER_LIBLINEAR && p->solver != AITAG_SOLVER_LIBSVM && p->solver != AITAG_SOLVER_DCD)
        return "unknown solver";
    if (p->min_df < 1)
        return "min_df must be at least 1";
    if (!(p->max_df > 0 && p->max_df <= 1.0))
        return "max_df must be in (0, 1]";
    if (p->folds == 1 || p->folds > 20)
        return "folds must be 0 (no tuning) or 2..20";
    if (p->threads > MAX_WORKERS)
        return "threads must be at most 64";
    if (p->search_C && p->folds < 2)
        return "searching C needs at least 2 folds";
    if (p->max_labels < 1)
        return "the label limit must be at least 1";
    return NULL;
}

typedef struct trainer {
    const aitag_dataset *d;
    const aitag_train_params *p;
    aitag__rows rows;
    aitag__solver *solver;
    size_t N;
    uint32_t V, K, folds, nC;
    uint32_t *lab_of;          /* trainable index -> dataset label id */
    uint32_t *k_of;            /* dataset label id -> trainable index or UINT32_MAX */
    signed char *Y;            /* K x N */
    uint32_t *fold;            /* N */
    uint32_t **train_idx, **test_idx; /* per fold */
    size_t *n_train, *n_test;
    uint32_t *all_idx;
    double Cs[8];
    double C_final;
    double eps;
    /* job outputs: each job writes its own part */
    double *dv;                /* nC x K x N held-out margins */
    float *W;                  /* K x V final weights */
    double *bias;              /* K */
} trainer;

/* What a job returns. */
enum { JOB_OK = 0, JOB_SOLVER = -1, JOB_NOMEM = -2 };

/* Trains label k on idx[0..n) and returns w (V doubles, caller frees) and b. */
/* Each job's own seed: a function of the training seed, the label and the fold. */
static uint64_t job_seed(const trainer *t, uint32_t k, uint32_t f)
{
    uint64_t s = t->p->seed ^ ((uint64_t)k << 32) ^ ((uint64_t)f << 20);
    return s * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
}

static int fit(trainer *t, uint32_t k, uint32_t f, double C, const uint32_t *idx, size_t n, double **w_out,
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
    return 0;
}

static double dot(const aitag__rows *r, size_t i, const double *w)
{
    double s = 0;
    for (size_t j = r->start[i]; j < r->start[i + 1]; j++)
        s += r->val[j] * w[r->col[j]];
    return s;
}

/* job j of the cross-validation stage: C index, fold, label */
static int cv_job(trainer *t, size_t j)
{
    uint32_t k = (uint32_t)(j % t->K), f = (uint32_t)((j / t->K) % t->folds);
    uint32_t ci = (uint32_t)(j / ((size_t)t->K * t->folds));
    double *w, b;
    int rc = fit(t, k, f, t->Cs[ci], t->train_idx[f], t->n_train[f], &w, &b);
    if (rc != JOB_OK)
        return rc;
    double *out = t->dv + ((size_t)ci * t->K + k) * t->N;
    for (size_t i = 0; i < t->n_test[f]; i++) {
        uint32_t doc = t->test_idx[f][i];
        out[doc] = dot(&t->rows, doc, w) + b;
    }
    aitag__free(w);
    return 0;
}

static int final_job(trainer *t, size_t j)
{
    uint32_t k = (uint32_t)j;
    double *w, b;
    int rc = fit(t, k, t->folds, t->C_final, t->all_idx, t->N, &w, &b);
    if (rc != JOB_OK)
        return rc;
    float *out = t->W + (size_t)k * t->V;
    for (uint32_t i = 0; i < t->V; i++)
        out[i] = (float)w[i];
    t->bias[k] = b;
    aitag__free(w);
    return 0;
}

static unsigned worker_count(const aitag_train_params *p)
{
    long n = p->threads ? (long)p->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    return (unsigned)n;
}

static aitag_status job_failed(aitag_error *err, int code, const char *stage)
{
    if (code == JOB_NOMEM)
        return aitag__fail(err, AITAG_NOMEM, "training failed (%s): out of memory", stage);
    return aitag__fail(err, AITAG_SOLVER, "training failed (%s): the solver failed", stage);
}

/* A batch of independent jobs, claimed one at a time by the workers. */
typedef struct jobrun {
    trainer *t;
    int (*job)(trainer *, size_t);
    size_t njobs, next, done;
    int failed, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} jobrun;

static void *job_worker(void *arg)
{
    jobrun *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->failed && !r->stop && r->next < r->njobs) {
        size_t j = r->next++;
        pthread_mutex_unlock(&r->mu);
        int rc = r->job(r->t, j);
        pthread_mutex_lock(&r->mu);
        if (rc != JOB_OK && !r->failed)
            r->failed = rc;
        r->done++;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Waits for the workers, reporting progress from the calling thread every
 * 50 ms; a progress callback that returns non-zero stops them after the jobs
 * they are running. */
static int wait_jobs(jobrun *r, const char *stage, aitag_progress_fn progress, void *ud)
{
    int cancelled = 0;
    pthread_mutex_lock(&r->mu);
    while (r->done < r->next || (!r->failed && !r->stop && r->next < r->njobs)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        size_t done = r->done;
        pthread_mutex_unlock(&r->mu);
        int stop = progress && !cancelled && progress(ud, stage, done, r->njobs);
        pthread_mutex_lock(&r->mu);
        if (stop) {
            cancelled = 1;
            r->stop = 1;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return cancelled;
}

/* Runs jobs 0..njobs-1 on worker threads. Every job writes only its own
 * outputs and draws no random numbers, so the model is the same for any
 * number of threads. */
static aitag_status run_jobs(trainer *t, size_t njobs, int (*job)(trainer *, size_t), const char *stage,
                             aitag_progress_fn progress, void *ud, aitag_error *err)
{
    unsigned workers = worker_count(t->p);
    if (workers > njobs)
        workers = (unsigned)njobs;
    jobrun r = {.t = t, .job = job, .njobs = njobs};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_t tid[MAX_WORKERS];
    unsigned started = 0;
    int cerr = 0;
    while (started < workers && (cerr = pthread_create(&tid[started], NULL, job_worker, &r)) == 0)
        started++;
    int cancelled = 0;
    if (started == 0) {
        /* no thread could start: do the work here */
        for (size_t j = 0; j < njobs && !r.failed && !cancelled; j++) {
            int rc = job(t, j);
            if (rc != JOB_OK)
                r.failed = rc;
            cancelled = progress && progress(ud, stage, j + 1, njobs);
        }
    } else {
        cancelled = wait_jobs(&r, stage, progress, ud);
    }
    for (unsigned w = 0; w < started; w++)
        pthread_join(tid[w], NULL);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    if (r.failed)
        return job_failed(err, r.failed, stage);
    if (cancelled)
        return aitag__fail(err, AITAG_CANCELLED, "training cancelled");
    if (progress)
        progress(ud, stage, njobs, njobs);
    return AITAG_OK;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

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

/* Gold label ids of doc i as trainable indices (untrainable ones as K + id). */
static size_t gold_of(const trainer *t, size_t i, uint32_t *out)
{
    size_t n = 0;
    for (size_t j = t->d->lab_start[i]; j < t->d->lab_start[i + 1]; j++) {
        uint32_t id = t->d->lab[j];
        out[n++] = t->k_of[id] != UINT32_MAX ? t->k_of[id] : t->K + id;
    }
    return n;
}

/* Quality of the held-out margins of C index ci: each fold decided with
 * thresholds tuned on the other folds. */
static aitag_status cv_quality(trainer *t, uint32_t ci, int single, aitag_summary *sum, aitag_error *err)
{
    double *thr = aitag__malloc((size_t)t->K * t->folds * sizeof *thr);
    aitag__ranked *rk = aitag__malloc((size_t)t->K * sizeof *rk);
    uint32_t *pred = aitag__malloc((size_t)t->K * sizeof *pred);
    uint32_t *gold = aitag__malloc(((size_t)t->d->labels.n + 1) * sizeof *gold);
    aitag_metrics *m = NULL;
    aitag_status rc = AITAG_NOMEM;
    if (!thr || !rk || !pred || !gold || aitag_metrics_create(t->K, &m, err) != AITAG_OK)
        goto done;
    const double *dv = t->dv + (size_t)ci * t->K * t->N;
    for (uint32_t k = 0; k < t->K; k++)
        for (uint32_t f = 0; f < t->folds; f++)
            aitag__tune_threshold(dv + (size_t)k * t->N, t->Y + (size_t)k * t->N, t->train_idx[f], t->n_train[f],
                                  &thr[k * t->folds + f]);
    for (size_t i = 0; i < t->N; i++) {
        size_t np = 0;
        for (uint32_t k = 0; k < t->K; k++) {
            double s = dv[(size_t)k * t->N + i];
            if (single || s > thr[k * t->folds + t->fold[i]])
                rk[np++] = (aitag__ranked){s, k};
        }
        qsort(rk, np, sizeof *rk, aitag__by_margin);
        if (single && np > 1)
            np = 1;
        for (size_t j = 0; j < np; j++)
            pred[j] = rk[j].k;
        size_t ng = gold_of(t, i, gold);
        if (aitag_metrics_add(m, gold, ng, pred, np) != AITAG_OK)
            goto done;
    }
    aitag_metrics_summary(m, sum);
    rc = AITAG_OK;
done:
    if (rc == AITAG_NOMEM)
        aitag__fail(err, AITAG_NOMEM, "out of memory scoring cross-validation");
    aitag_metrics_free(m);
    aitag__free(thr);
    aitag__free(rk);
    aitag__free(pred);
    aitag__free(gold);
    return rc;
}

static void hex64(char *buf, uint64_t v) { snprintf(buf, 17, "%016llx", (unsigned long long)v); }

static void trainer_free(trainer *t)
{
    aitag__free(t->dv);
    aitag__free(t->W);
    aitag__free(t->bias);
    if (t->solver)
        t->solver->free(t->solver);
    aitag__rows_free(&t->rows);
    aitag__free(t->lab_of);
    aitag__free(t->k_of);
    aitag__free(t->Y);
    aitag__free(t->fold);
    for (uint32_t f = 0; f < t->folds; f++) {
        if (t->train_idx)
            aitag__free(t->train_idx[f]);
        if (t->test_idx)
            aitag__free(t->test_idx[f]);
    }
    aitag__free(t->train_idx);
    aitag__free(t->test_idx);
    aitag__free(t->n_train);
    aitag__free(t->n_test);
    aitag__free(t->all_idx);
}

static aitag_status setup_folds(trainer *t)
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
    /* seeded Fisher-Yates shuffle, then deal round-robin */
    uint32_t *perm = aitag__malloc(N * sizeof *perm);
    if (!perm)
        return AITAG_NOMEM;
    memcpy(perm, t->all_idx, N * sizeof *perm);
    uint64_t st = t->p->seed;
    for (size_t i = N; i > 1; i--) {
        size_t j = (size_t)(splitmix(&st) % i);
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

aitag_status aitag_train(const aitag_dataset *d, const aitag_train_params *p, aitag_progress_fn progress,
                         void *ud, aitag_model **out, aitag_cv_report *report, aitag_error *err)
{
    *out = NULL;
    const char *why = aitag_train_params_check(p);
    if (why)
        return aitag__fail(err, AITAG_INVALID, "%s", why);
    if (d->n_docs == 0)
        return aitag__fail(err, AITAG_EMPTY, "the training corpus has no documents");
    if (d->labels.n > p->max_labels)
        return aitag__fail(err, AITAG_LIMIT, "%zu distinct labels, more than the limit of %u", d->labels.n, p->max_labels);

    trainer t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.p = p;
    t.N = d->n_docs;
    t.folds = p->folds;
    aitag__vocab voc;
    memset(&voc, 0, sizeof voc);
    cJSON *training = NULL, *features = NULL;
    double *thr = NULL, *pa = NULL, *pb = NULL, *bias = NULL;
    float *weights = NULL;
    const char **names = NULL, **untrainable = NULL;
    char **name_buf = NULL;
    uint32_t n_untrainable = 0;
    aitag_status rc;

    if (progress && progress(ud, "vocabulary", 0, 1)) {
        rc = aitag__fail(err, AITAG_CANCELLED, "training cancelled");
        goto done;
    }
    rc = aitag__vocab_build(d, p, &voc, err);
    if (rc != AITAG_OK)
        goto done;
    if (voc.n == 0) {
        rc = aitag__fail(err, AITAG_EMPTY, "no term survives pruning (min_df %u, max_df %g): the corpus is too small or empty",
                         p->min_df, p->max_df);
        goto done;
    }
    rc = aitag__rows_build(d, &voc, &t.rows, err);
    if (rc != AITAG_OK)
        goto done;
    t.V = voc.n;
    rc = p->solver == AITAG_SOLVER_LIBSVM      ? aitag__libsvm_create(&t.rows, &t.solver, err)
         : p->solver == AITAG_SOLVER_LIBLINEAR ? aitag__liblinear_create(&t.rows, &t.solver, err)
                                               : aitag__dcd_create(&t.rows, &t.solver, err);
    if (rc != AITAG_OK)
        goto done;
    t.eps = p->eps > 0 ? p->eps : t.solver->default_eps;

    /* labels: trainable ones sorted by name */
    size_t L = d->labels.n;
    uint32_t *pos_count = aitag__calloc(L ? L : 1, sizeof *pos_count);
    t.lab_of = aitag__malloc((L ? L : 1) * sizeof *t.lab_of);
    t.k_of = aitag__malloc((L ? L : 1) * sizeof *t.k_of);
    untrainable = aitag__malloc((L ? L : 1) * sizeof *untrainable);
    name_buf = aitag__calloc(L ? L : 1, sizeof *name_buf);
    if (!pos_count || !t.lab_of || !t.k_of || !untrainable || !name_buf) {
        aitag__free(pos_count);
        rc = aitag__fail(err, AITAG_NOMEM, "out of memory");
        goto done;
    }
    int single = !p->force_multilabel;
    for (size_t i = 0; i < t.N; i++) {
        if (d->lab_start[i + 1] - d->lab_start[i] != 1)
            single = 0;
        for (size_t j = d->lab_start[i]; j < d->lab_start[i + 1]; j++)
            pos_count[d->lab[j]]++;
    }
    for (size_t l = 0; l < L; l++) {
        size_t len;
        const char *s = aitag__strmap_str(&d->labels, (uint32_t)l, &len);
        name_buf[l] = aitag__strndup(s, len);
        if (!name_buf[l]) {
            aitag__free(pos_count);
            rc = aitag__fail(err, AITAG_NOMEM, "out of memory");
            goto done;
        }
        t.k_of[l] = UINT32_MAX;
        if (pos_count[l] == 0 || pos_count[l] == t.N)
            untrainable[n_untrainable++] = name_buf[l];
        else
            t.lab_of[t.K++] = (uint32_t)l;
    }
    aitag__free(pos_count);
    if (t.K == 0) {
        rc = aitag__fail(err, AITAG_LABEL, "no label has both positive and negative documents (%zu labels in %zu documents)", L, t.N);
        goto done;
    }
    {
        named *nm = aitag__malloc(t.K * sizeof *nm);
        if (!nm) {
            rc = aitag__fail(err, AITAG_NOMEM, "out of memory");
            goto done;
        }
        for (uint32_t k = 0; k < t.K; k++) {
            nm[k].id = t.lab_of[k];
            nm[k].s = aitag__strmap_str(&d->labels, nm[k].id, &nm[k].len);
        }
        qsort(nm, t.K, sizeof *nm, by_name);
        for (uint32_t k = 0; k < t.K; k++)
            t.lab_of[k] = nm[k].id;
        aitag__free(nm);
    }
    for (uint32_t k = 0; k < t.K; k++)
        t.k_of[t.lab_of[k]] = k;
    if (single && t.K < 2)
        single = 0;

    t.Y = aitag__malloc((size_t)t.K * t.N);
    if (!t.Y) {
        rc = aitag__fail(err, AITAG_NOMEM, "out of memory");
        goto done;
    }
    memset(t.Y, -1, (size_t)t.K * t.N);
    for (size_t i = 0; i < t.N; i++)
        for (size_t j = d->lab_start[i]; j < d->lab_start[i + 1]; j++)
            if (t.k_of[d->lab[j]] != UINT32_MAX)
                t.Y[(size_t)t.k_of[d->lab[j]] * t.N + i] = 1;

    if (setup_folds(&t) != AITAG_OK) {
        rc = aitag__fail(err, AITAG_NOMEM, "out of memory");
        goto done;
    }
    t.nC = 1;
    t.Cs[0] = p->C;
    if (p->search_C) {
        t.nC = sizeof C_GRID / sizeof C_GRID[0];
        memcpy(t.Cs, C_GRID, sizeof C_GRID);
    }
    t.bias = aitag__calloc(t.K, sizeof *t.bias);
    t.dv = t.folds >= 2 ? aitag__calloc((size_t)t.nC * t.K * t.N, sizeof *t.dv) : NULL;
    t.W = aitag__calloc((size_t)t.K * t.V, sizeof *t.W);
    if (!t.bias || !t.W || (t.folds >= 2 && !t.dv)) {
        rc = aitag__fail(err, AITAG_NOMEM, "out of memory for the training results");
        goto done;
    }

    /* cross-validation */
    uint32_t best = 0;
    aitag_summary sum[8];
    memset(sum, 0, sizeof sum);
    if (t.folds >= 2) {
        rc = run_jobs(&t, (size_t)t.nC * t.folds * t.K, cv_job, "cv", progress, ud, err);
        if (rc != AITAG_OK)
            goto done;
        for (uint32_t ci = 0; ci < t.nC; ci++) {
            rc = cv_quality(&t, ci, single, &sum[ci], err);
            if (rc != AITAG_OK)
                goto done;
            double score = single ? sum[ci].accuracy : sum[ci].micro.f1;
            double bscore = single ? sum[best].accuracy : sum[best].micro.f1;
            if (score > bscore)
                best = ci;
        }
    }
    t.C_final = t.Cs[best];

    /* thresholds and calibration from all held-out margins */
    thr = aitag__calloc(t.K, sizeof *thr);
    pa = aitag__calloc(t.K, sizeof *pa);
    pb = aitag__calloc(t.K, sizeof *pb);
    bias = aitag__calloc(t.K, sizeof *bias);
    weights = aitag__malloc((size_t)t.K * t.V * sizeof *weights);
    names = aitag__malloc(t.K * sizeof *names);
    if (!thr || !pa || !pb || !bias || !weights || !names) {
        rc = aitag__fail(err, AITAG_NOMEM, "out of memory");
        goto done;
    }
    for (uint32_t k = 0; k < t.K; k++) {
        names[k] = name_buf[t.lab_of[k]];
        if (t.folds >= 2) {
            const double *s = t.dv + ((size_t)best * t.K + k) * t.N;
            const signed char *y = t.Y + (size_t)k * t.N;
            aitag__tune_threshold(s, y, t.all_idx, t.N, &thr[k]);
            aitag__platt_fit(s, y, t.all_idx, t.N, &pa[k], &pb[k]);
        } else {
            thr[k] = 0.0; /* the SVM's own cut; probabilities uncalibrated */
            pa[k] = -2.0;
            pb[k] = 0.0;
        }
    }

    rc = run_jobs(&t, t.K, final_job, "train", progress, ud, err);
    if (rc != AITAG_OK)
        goto done;
    for (uint32_t k = 0; k < t.K; k++) {
        bias[k] = t.bias[k];
        for (uint32_t j = 0; j < t.V; j++)
            weights[(size_t)j * t.K + k] = t.W[(size_t)k * t.V + j];
    }

    /* header sections describing how the model was made */
    char hex[17];
    features = cJSON_CreateObject();
    training = cJSON_CreateObject();
    if (!features || !training) {
        rc = aitag__fail(err, AITAG_NOMEM, "out of memory");
        goto done;
    }
    cJSON_AddNumberToObject(features, "min_df", p->min_df);
    cJSON_AddNumberToObject(features, "max_df", p->max_df);
    cJSON_AddNumberToObject(features, "max_features", p->max_features);
    cJSON_AddStringToObject(training, "solver", t.solver->name);
    cJSON_AddNumberToObject(training, "C", t.C_final);
    cJSON_AddNumberToObject(training, "eps", t.eps);
    cJSON_AddNumberToObject(training, "bias_feature", 1);
    cJSON_AddNumberToObject(training, "folds", t.folds);
    cJSON_AddNumberToObject(training, "seed", (double)p->seed);
    cJSON_AddStringToObject(training, "decision", single ? "arg-max" : "per-label-threshold");
    cJSON_AddStringToObject(training, "threshold_tuning", t.folds >= 2 ? "max-f1-on-held-out-folds" : "none (0)");
    cJSON_AddStringToObject(training, "calibration", t.folds >= 2 ? "platt-on-held-out-folds" : "none (A=-2, B=0)");
    cJSON_AddNumberToObject(training, "documents", (double)t.N);
    hex64(hex, d->checksum);
    cJSON_AddStringToObject(training, "corpus_checksum", hex);
    if (t.folds >= 2) {
        cJSON *cv = cJSON_AddObjectToObject(training, "cv");
        if (cv) {
            cJSON_AddNumberToObject(cv, "micro_f1", sum[best].micro.f1);
            cJSON_AddNumberToObject(cv, "macro_f1", sum[best].macro_f1);
            cJSON_AddNumberToObject(cv, "accuracy", sum[best].accuracy);
            cJSON_AddNumberToObject(cv, "subset_accuracy", sum[best].subset_accuracy);
        }
        if (p->search_C) {
            cJSON *grid = cJSON_AddArrayToObject(training, "search_C");
            for (uint32_t ci = 0; grid && ci < t.nC; ci++) {
                cJSON *pair = cJSON_CreateArray();
                cJSON_AddItemToArray(pair, cJSON_CreateNumber(t.Cs[ci]));
                cJSON_AddItemToArray(pair, cJSON_CreateNumber(single ? sum[ci].accuracy : sum[ci].micro.f1));
                cJSON_AddItemToArray(grid, pair);
            }
        }
    }

    aitag__model_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n_labels = t.K;
    spec.labels = names;
    spec.threshold = thr;
    spec.platt_a = pa;
    spec.platt_b = pb;
    spec.bias = bias;
    spec.single_label = single;
    spec.tok = d->tp;
    spec.hash_bits = d->hash_bits;
    spec.n_features = t.V;
    spec.terms = voc.terms;
    spec.term_off = voc.term_off;
    spec.idf = voc.idf;
    spec.weights = weights;
    spec.features_json = features;
    spec.training_json = training;
    spec.untrainable = untrainable;
    spec.n_untrainable = n_untrainable;
    rc = aitag__model_assemble(&spec, out, err);
    if (rc == AITAG_OK && report) {
        memset(report, 0, sizeof *report);
        report->folds = t.folds;
        report->C = t.C_final;
        report->n_c = t.nC;
        report->micro_f1 = sum[best].micro.f1;
        report->macro_f1 = sum[best].macro_f1;
        report->accuracy = sum[best].accuracy;
        report->subset_accuracy = sum[best].subset_accuracy;
        for (uint32_t ci = 0; ci < t.nC; ci++) {
            report->c_tried[ci] = t.Cs[ci];
            report->c_score[ci] = single ? sum[ci].accuracy : sum[ci].micro.f1;
        }
    }
done:
    cJSON_Delete(features);
    cJSON_Delete(training);
    for (size_t l = 0; name_buf && l < d->labels.n; l++)
        aitag__free(name_buf[l]);
    aitag__free(name_buf);
    aitag__free(untrainable);
    aitag__free(names);
    aitag__free(thr);
    aitag__free(pa);
    aitag__free(pb);
    aitag__free(bias);
    aitag__free(weights);
    aitag__vocab_free(&voc);
    trainer_free(&t);
    return rc;
}
