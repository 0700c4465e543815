/*
 * train.c: dataset -> model in one call: the jobs of a training run
 * (training.c) on `threads` worker threads, with progress reported from the
 * calling thread, which can cancel.
 *
 * No job draws from a shared generator (aitag's dual coordinate descent has
 * a generator of its own, seeded per job; liblinear's primal Newton solver
 * and libsvm's SMO without probability estimates use none), and each job
 * writes only its own slice of the results: the model is the same for any
 * number of threads, and training is safe in a host process with threads of
 * its own.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aitag/train.h"
#include "internal.h"

#define MAX_WORKERS 64

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
    p.max_labels = AITAG_DEFAULT_MAX_LABELS;
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

static unsigned worker_count(const aitag_train_params *p)
{
    long n = p->threads ? (long)p->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    return (unsigned)n;
}

/* A stage's jobs, claimed one at a time by the workers. */
typedef struct jobrun {
    aitag_training *t;
    aitag_training_stage stage;
    size_t njobs, next, done;
    int stop;
    aitag_status failed;
    aitag_error err;       /* the first failure's */
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
        aitag_error e = {0};
        aitag_status rc = aitag_training_run_job(r->t, r->stage, j, &e);
        pthread_mutex_lock(&r->mu);
        if (rc != AITAG_OK && !r->failed) {
            r->failed = rc;
            r->err = e;
        }
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

/* Runs every job of a stage on worker threads. Every job writes only its own
 * outputs and draws no shared random numbers, so the model is the same for
 * any number of threads. */
static aitag_status run_jobs(aitag_training *t, const aitag_train_params *p, aitag_training_stage stage,
                             const char *name, aitag_progress_fn progress, void *ud, aitag_error *err)
{
    size_t njobs = aitag_training_num_jobs(t, stage);
    unsigned workers = worker_count(p);
    if (workers > njobs)
        workers = (unsigned)njobs;
    jobrun r = {.t = t, .stage = stage, .njobs = njobs};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_t tid[MAX_WORKERS];
    unsigned started = 0;
    while (started < workers && pthread_create(&tid[started], NULL, job_worker, &r) == 0)
        started++;
    int cancelled = 0;
    if (started == 0) {
        /* no thread could start: do the work here */
        for (size_t j = 0; j < njobs && !r.failed && !cancelled; j++) {
            r.failed = aitag_training_run_job(t, stage, j, &r.err);
            cancelled = progress && progress(ud, name, j + 1, njobs);
        }
    } else {
        cancelled = wait_jobs(&r, name, progress, ud);
    }
    for (unsigned w = 0; w < started; w++)
        pthread_join(tid[w], NULL);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    if (r.failed)
        return aitag__fail(err, r.failed, "training failed (%s): %s", name, r.err.msg);
    /* the stage's last report may be its first (every job can end before the
     * waiter wakes up): its answer counts like any other */
    if (cancelled || (progress && progress(ud, name, njobs, njobs)))
        return aitag__fail(err, AITAG_CANCELLED, "training cancelled");
    return AITAG_OK;
}

aitag_status aitag_train(const aitag_dataset *d, const aitag_train_params *p, aitag_progress_fn progress,
                         void *ud, aitag_model **out, aitag_cv_report *report, aitag_error *err)
{
    if (!out)
        return aitag__fail(err, AITAG_INVALID, "aitag_train: out is NULL");
    *out = NULL;
    if (progress && progress(ud, "vocabulary", 0, 1))
        return aitag__fail(err, AITAG_CANCELLED, "training cancelled");
    aitag_training *t = NULL;
    aitag_status rc = aitag_training_create(d, p, &t, err);
    if (rc == AITAG_OK)
        rc = run_jobs(t, p, AITAG_STAGE_CV, "cv", progress, ud, err);
    if (rc == AITAG_OK)
        rc = aitag_training_tune(t, report, err);
    if (rc == AITAG_OK)
        rc = run_jobs(t, p, AITAG_STAGE_FINAL, "train", progress, ud, err);
    if (rc == AITAG_OK)
        rc = aitag_training_finish(t, out, err);
    aitag_training_free(t);
    return rc;
}
