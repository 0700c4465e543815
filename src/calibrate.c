/*
 * calibrate.c: turning held-out margins into decisions and probabilities.
 *
 * Thresholds: per label, the cut on held-out margins that maximises F1
 * (Yang's SCut, tuned on cross-validation folds); a label whose best held-out
 * F1 is below 0.2 keeps the SVM's own cut at 0 (SCutFBR: too few positives to
 * trust a tuned cut).
 * Probabilities: Platt's sigmoid fitted to the held-out margins with the
 * algorithm of Lin, Lin and Weng, "A note on Platt's probabilistic outputs
 * for support vector machines" (Machine Learning, 2007), targets smoothed to
 * (N+ + 1)/(N+ + 2) and 1/(N- + 2).
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "learn.h"

#define AITAG__FBR 0.2

typedef struct {
    double s;
    int y;
} pair;

static int by_score_desc(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return y->y - x->y;
}

double aitag__tune_threshold(const double *s, const signed char *y, const uint32_t *idx, size_t n,
                             double *threshold)
{
    *threshold = 0.0;
    pair *p = aitag__malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return 0.0;
    size_t P = 0;
    for (size_t i = 0; i < n; i++) {
        p[i].s = s[idx[i]];
        p[i].y = y[idx[i]] > 0;
        P += (size_t)p[i].y;
    }
    if (P == 0) {
        aitag__free(p);
        return 0.0;
    }
    qsort(p, n, sizeof *p, by_score_desc);
    size_t tp = 0;
    double best = 0.0;
    for (size_t j = 0; j < n; j++) {
        tp += (size_t)p[j].y;
        /* a cut is only possible between distinct scores */
        if (j + 1 < n && p[j + 1].s == p[j].s)
            continue;
        size_t predicted = j + 1;
        double f1 = 2.0 * (double)tp / (double)(predicted + P);
        if (f1 > best) {
            best = f1;
            *threshold = j + 1 < n ? 0.5 * (p[j].s + p[j + 1].s) : p[j].s - 1e-6;
        }
    }
    aitag__free(p);
    /* too little evidence to move the cut (Yang's SCutFBR): keep the SVM's 0 */
    if (best < AITAG__FBR)
        *threshold = 0.0;
    return best;
}

void aitag__platt_fit(const double *s, const signed char *y, const uint32_t *idx, size_t n, double *A,
                      double *B)
{
    double prior1 = 0, prior0 = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[idx[i]] > 0)
            prior1++;
        else
            prior0++;
    }
    const double hi = (prior1 + 1.0) / (prior1 + 2.0), lo = 1.0 / (prior0 + 2.0);
    const double min_step = 1e-10, sigma = 1e-12, eps = 1e-5;
    double a = 0.0, b = log((prior0 + 1.0) / (prior1 + 1.0)), fval = 0.0;

#define T(i) (y[idx[i]] > 0 ? hi : lo)
    for (size_t i = 0; i < n; i++) {
        double f = s[idx[i]] * a + b;
        fval += f >= 0 ? T(i) * f + log1p(exp(-f)) : (T(i) - 1) * f + log1p(exp(f));
    }
    for (int it = 0; it < 100; it++) {
        double h11 = sigma, h22 = sigma, h21 = 0, g1 = 0, g2 = 0;
        for (size_t i = 0; i < n; i++) {
            double d = s[idx[i]], f = d * a + b, p, q;
            if (f >= 0) {
                p = exp(-f) / (1.0 + exp(-f));
                q = 1.0 / (1.0 + exp(-f));
            } else {
                p = 1.0 / (1.0 + exp(f));
                q = exp(f) / (1.0 + exp(f));
            }
            double d2 = p * q, d1 = T(i) - p;
            h11 += d * d * d2;
            h22 += d2;
            h21 += d * d2;
            g1 += d * d1;
            g2 += d1;
        }
        if (fabs(g1) < eps && fabs(g2) < eps)
            break;
        double det = h11 * h22 - h21 * h21;
        double da = -(h22 * g1 - h21 * g2) / det, db = -(-h21 * g1 + h11 * g2) / det;
        double gd = g1 * da + g2 * db, step = 1.0;
        while (step >= min_step) {
            double na = a + step * da, nb = b + step * db, nf = 0.0;
            for (size_t i = 0; i < n; i++) {
                double f = s[idx[i]] * na + nb;
                nf += f >= 0 ? T(i) * f + log1p(exp(-f)) : (T(i) - 1) * f + log1p(exp(f));
            }
            if (nf < fval + 0.0001 * step * gd) {
                a = na;
                b = nb;
                fval = nf;
                break;
            }
            step /= 2.0;
        }
        if (step < min_step)
            break;
    }
#undef T
    *A = a;
    *B = b;
}
