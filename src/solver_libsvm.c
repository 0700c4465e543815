/*
 * solver_libsvm.c: the libsvm boundary. C-SVC with a linear kernel; the
 * trained model is collapsed into one weight vector, w = sum_i coef_i * sv_i,
 * and b = -rho, so scoring is the same dot product whichever solver trained
 * the model. libsvm's label order follows the training data: if its first
 * class is -1, the signs are flipped so that positive means "has the label".
 */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <svm.h>

#include "internal.h"
#include "learn.h"

typedef struct {
    aitag__solver base;
    uint32_t n_features;
    struct svm_node *space;
    struct svm_node **x;
} svm_solver;

static void quiet(const char *s) { (void)s; }
static void install_quiet(void) { svm_set_print_string_function(quiet); }

static int sv_train(aitag__solver *base, const uint32_t *idx, size_t n, const signed char *y, double C,
                    double eps, uint64_t seed, double *w, double *b)
{
    svm_solver *s = (svm_solver *)base;
    (void)seed; /* no probability estimates: no random numbers */
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
    struct svm_node **x = aitag__malloc(n * sizeof *x);
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
    struct svm_problem prob = {(int)n, yy, x};
    struct svm_parameter param;
    memset(&param, 0, sizeof param);
    param.svm_type = C_SVC;
    param.kernel_type = LINEAR;
    param.cache_size = 200;
    param.eps = eps > 0 ? eps : 0.001;
    param.C = C;
    param.shrinking = 1;
    int rc = -1;
    if (svm_check_parameter(&prob, &param) == NULL) {
        struct svm_model *m = svm_train(&prob, &param);
        if (m) {
            double sign = m->label[0] == 1 ? 1.0 : -1.0;
            for (int i = 0; i < m->l; i++) {
                double coef = m->sv_coef[0][i] * sign;
                for (const struct svm_node *p = m->SV[i]; p->index != -1; p++)
                    w[p->index - 1] += coef * p->value;
            }
            *b = -m->rho[0] * sign;
            svm_free_and_destroy_model(&m);
            rc = 0;
        }
    }
    aitag__free(x);
    aitag__free(yy);
    return rc;
}

static void sv_free(aitag__solver *base)
{
    svm_solver *s = (svm_solver *)base;
    if (!s)
        return;
    aitag__free(s->space);
    aitag__free(s->x);
    aitag__free(s);
}

aitag_status aitag__libsvm_create(const aitag__rows *r, aitag__solver **out, aitag_error *err)
{
    *out = NULL;
    if (r->n_features >= INT32_MAX - 1)
        return aitag__fail(err, AITAG_LIMIT, "too many features for libsvm");
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_quiet); /* libsvm's hook is process-wide: set once */
    svm_solver *s = aitag__calloc(1, sizeof *s);
    size_t nnz = r->start[r->n_docs];
    if (s) {
        s->space = aitag__malloc((nnz + r->n_docs + 1) * sizeof *s->space);
        s->x = aitag__malloc((r->n_docs + 1) * sizeof *s->x);
    }
    if (!s || !s->space || !s->x) {
        if (s)
            sv_free(&s->base);
        return aitag__fail(err, AITAG_NOMEM, "out of memory preparing libsvm's problem");
    }
    s->base.name = "libsvm-csvc-linear";
    s->base.default_eps = 0.001;
    s->base.train = sv_train;
    s->base.free = sv_free;
    s->n_features = r->n_features;
    struct svm_node *p = s->space;
    for (size_t i = 0; i < r->n_docs; i++) {
        s->x[i] = p;
        for (size_t j = r->start[i]; j < r->start[i + 1]; j++) {
            p->index = (int)r->col[j] + 1;
            p->value = r->val[j];
            p++;
        }
        p->index = -1;
        p->value = 0;
        p++;
    }
    *out = &s->base;
    return AITAG_OK;
}
