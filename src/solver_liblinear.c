/*
 * solver_liblinear.c: the liblinear boundary, and the only includer of linear.h.
 *
 * Solver: L2-regularised L2-loss SVM in the primal, trust-region Newton
 * (L2R_L2LOSS_SVC, "-s 2"), with a bias feature of value 1, as liblinear's
 * own train command does with "-B 1". Rows are converted once to liblinear's
 * 1-based, -1-terminated node arrays and shared by every label; only y
 * changes between trainings.
 *
 * The primal solver draws no random numbers (the dual one shuffles with the
 * C library's global rand()), so jobs run on threads and the result does not
 * depend on their number. liblinear's print hook is process-wide: aitag sets
 * it once, to a function that discards the text, the first time a liblinear
 * solver is created.
 */
#include <linear.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "learn.h"

typedef struct {
    aitag__solver base;
    uint32_t n_features;
    struct feature_node *space;
    struct feature_node **x;
} ll_solver;

static void quiet(const char *s) { (void)s; }
static void install_quiet(void) { set_print_string_function(quiet); }

static int ll_train(aitag__solver *base, const uint32_t *idx, size_t n, const signed char *y, double C,
                    double eps, uint64_t seed, double *w, double *b)
{
    ll_solver *s = (ll_solver *)base;
    (void)seed; /* the primal solver draws no random numbers */
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += y[i] > 0;
    memset(w, 0, s->n_features * sizeof *w);
    if (pos == 0 || pos == n) { /* one class only: a constant, decisive margin */
        *b = pos ? 1e3 : -1e3;
        return 0;
    }
    if (n > INT32_MAX)
        return -1;
    struct feature_node **x = aitag__malloc(n * sizeof *x);
    double *yy = aitag__malloc(n * sizeof *yy);
    if (!x || !yy) {
        aitag__free(x);
        aitag__free(yy);
        return -2; /* out of memory */
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = s->x[idx[i]];
        yy[i] = y[i] > 0 ? 1.0 : -1.0;
    }
    struct problem prob;
    memset(&prob, 0, sizeof prob);
    prob.l = (int)n;
    prob.n = (int)s->n_features + 1; /* + bias feature */
    prob.y = yy;
    prob.x = x;
    prob.bias = 1.0;
    struct parameter param;
    memset(&param, 0, sizeof param);
    param.solver_type = L2R_L2LOSS_SVC;
    param.C = C;
    param.eps = eps > 0 ? eps : 0.01;
#if defined(LIBLINEAR_VERSION) && LIBLINEAR_VERSION >= 240
    param.regularize_bias = 1; /* liblinear 2.40 added the field; 0 would be refused for this solver */
#endif
    int rc = -1;
    if (check_parameter(&prob, &param) == NULL) {
        struct model *m = train(&prob, &param);
        if (m) {
            /* +1 is liblinear's first class for -1/+1 problems, so w scores "has the label" */
            double sign = m->label[0] == 1 ? 1.0 : -1.0;
            for (uint32_t j = 0; j < s->n_features; j++)
                w[j] = sign * m->w[j];
            *b = sign * m->w[s->n_features] * prob.bias;
            free_and_destroy_model(&m);
            rc = 0;
        }
    }
    aitag__free(x);
    aitag__free(yy);
    return rc;
}

static void ll_free(aitag__solver *base)
{
    ll_solver *s = (ll_solver *)base;
    if (!s)
        return;
    aitag__free(s->space);
    aitag__free(s->x);
    aitag__free(s);
}

aitag_status aitag__liblinear_create(const aitag__rows *r, aitag__solver **out, aitag_error *err)
{
    *out = NULL;
    if (r->n_features >= INT32_MAX - 1)
        return aitag__fail(err, AITAG_LIMIT, "too many features for liblinear");
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_quiet);
    ll_solver *s = aitag__calloc(1, sizeof *s);
    size_t nnz = r->start[r->n_docs];
    if (s) {
        s->space = aitag__malloc((nnz + 2 * r->n_docs + 1) * sizeof *s->space);
        s->x = aitag__malloc((r->n_docs + 1) * sizeof *s->x);
    }
    if (!s || !s->space || !s->x) {
        if (s)
            ll_free(&s->base);
        return aitag__fail(err, AITAG_NOMEM, "out of memory preparing liblinear's problem");
    }
    s->base.name = "liblinear-l2r-l2loss-svc";
    s->base.default_eps = 0.01;
    s->base.train = ll_train;
    s->base.free = ll_free;
    s->n_features = r->n_features;
    struct feature_node *p = s->space;
    for (size_t i = 0; i < r->n_docs; i++) {
        s->x[i] = p;
        for (size_t j = r->start[i]; j < r->start[i + 1]; j++) {
            p->index = (int)r->col[j] + 1;
            p->value = r->val[j];
            p++;
        }
        p->index = (int)r->n_features + 1; /* bias */
        p->value = 1.0;
        p++;
        p->index = -1;
        p->value = 0;
        p++;
    }
    *out = &s->base;
    return AITAG_OK;
}
