/* metrics.c: see include/aitag/metrics.h for the definitions. */
#include <string.h>

#include "aitag/metrics.h"
#include "internal.h"

struct aitag_metrics {
    size_t n, cap;
    uint64_t *tp, *fp, *fn;
    uint64_t docs, exact, top1;
    /* confusion: sparse enough to keep as a dense (cap x (cap+1)) table only while small */
    uint64_t *conf;
    size_t conf_n;
};

static int ensure(aitag_metrics *m, size_t need);

aitag_status aitag_metrics_create(size_t n_labels, aitag_metrics **out, aitag_error *err)
{
    *out = NULL;
    aitag_metrics *m = aitag__calloc(1, sizeof *m);
    if (!m || ensure(m, n_labels) != 0) {
        aitag_metrics_free(m);
        return aitag__fail(err, AITAG_NOMEM, "out of memory");
    }
    *out = m;
    return AITAG_OK;
}

void aitag_metrics_free(aitag_metrics *m)
{
    if (!m)
        return;
    aitag__free(m->tp);
    aitag__free(m->fp);
    aitag__free(m->fn);
    aitag__free(m->conf);
    aitag__free(m);
}

static int ensure(aitag_metrics *m, size_t need)
{
    if (need <= m->n)
        return 0;
    if (need > m->cap) {
        size_t c1 = m->cap, c2 = m->cap, c3 = m->cap;
        if (aitag__grow(&m->tp, &c1, need, sizeof *m->tp) || aitag__grow(&m->fp, &c2, need, sizeof *m->fp) ||
            aitag__grow(&m->fn, &c3, need, sizeof *m->fn))
            return -1;
        m->cap = c1;
    }
    memset(m->tp + m->n, 0, (need - m->n) * sizeof *m->tp);
    memset(m->fp + m->n, 0, (need - m->n) * sizeof *m->fp);
    memset(m->fn + m->n, 0, (need - m->n) * sizeof *m->fn);
    m->n = need;
    return 0;
}

static int contains(const uint32_t *a, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] == x)
            return 1;
    return 0;
}

/* The confusion table is kept for up to 256 labels (single-label corpora). */
static void confuse(aitag_metrics *m, const uint32_t *gold, size_t ng, const uint32_t *pred, size_t np)
{
    if (m->n > 256)
        return;
    /* resize whenever the label table grew, so the "no prediction" column stays last */
    if (m->conf_n != m->n && (m->conf || ng == 1)) {
        size_t n = m->n;
        uint64_t *c = aitag__calloc(n * (n + 1), sizeof *c);
        if (!c)
            return;
        if (m->conf) {
            size_t o = m->conf_n;
            for (size_t g = 0; g < o; g++) {
                for (size_t p = 0; p < o; p++)
                    c[g * (n + 1) + p] = m->conf[g * (o + 1) + p];
                c[g * (n + 1) + n] = m->conf[g * (o + 1) + o];
            }
            aitag__free(m->conf);
        }
        m->conf = c;
        m->conf_n = n;
    }
    if (ng != 1 || !m->conf)
        return;
    size_t p = np ? pred[0] : m->n;
    m->conf[gold[0] * (m->n + 1) + p]++;
}

aitag_status aitag_metrics_add(aitag_metrics *m, const uint32_t *gold, size_t ng, const uint32_t *pred, size_t np)
{
    size_t need = m->n;
    for (size_t i = 0; i < ng; i++)
        if ((size_t)gold[i] + 1 > need)
            need = (size_t)gold[i] + 1;
    for (size_t i = 0; i < np; i++)
        if ((size_t)pred[i] + 1 > need)
            need = (size_t)pred[i] + 1;
    if (need == 0)
        need = 1;
    if (ensure(m, need) != 0)
        return AITAG_NOMEM;
    m->docs++;
    size_t hit = 0;
    for (size_t i = 0; i < ng; i++) {
        if (contains(pred, np, gold[i])) {
            m->tp[gold[i]]++;
            hit++;
        } else {
            m->fn[gold[i]]++;
        }
    }
    for (size_t i = 0; i < np; i++)
        if (!contains(gold, ng, pred[i]))
            m->fp[pred[i]]++;
    if (hit == ng && np == ng)
        m->exact++;
    if (ng && np && pred[0] == gold[0])
        m->top1++;
    confuse(m, gold, ng, pred, np);
    return AITAG_OK;
}

static void scores(uint64_t tp, uint64_t fp, uint64_t fn, aitag_label_scores *o)
{
    o->tp = tp;
    o->fp = fp;
    o->fn = fn;
    o->support = tp + fn;
    o->precision = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
    o->recall = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
    o->f1 = 2 * tp + fp + fn ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 0.0;
}

size_t aitag_metrics_num_labels(const aitag_metrics *m) { return m->n; }

void aitag_metrics_label(const aitag_metrics *m, size_t k, aitag_label_scores *out)
{
    if (k >= m->n) {
        memset(out, 0, sizeof *out);
        return;
    }
    scores(m->tp[k], m->fp[k], m->fn[k], out);
}

void aitag_metrics_summary(const aitag_metrics *m, aitag_summary *o)
{
    memset(o, 0, sizeof *o);
    uint64_t tp = 0, fp = 0, fn = 0;
    double sp = 0, sr = 0, sf = 0;
    for (size_t k = 0; k < m->n; k++) {
        tp += m->tp[k];
        fp += m->fp[k];
        fn += m->fn[k];
        if (m->tp[k] + m->fp[k] + m->fn[k] == 0)
            continue;
        aitag_label_scores s;
        scores(m->tp[k], m->fp[k], m->fn[k], &s);
        sp += s.precision;
        sr += s.recall;
        sf += s.f1;
        o->labels_scored++;
    }
    scores(tp, fp, fn, &o->micro);
    if (o->labels_scored) {
        o->macro_precision = sp / (double)o->labels_scored;
        o->macro_recall = sr / (double)o->labels_scored;
        o->macro_f1 = sf / (double)o->labels_scored;
    }
    o->docs = m->docs;
    o->subset_accuracy = m->docs ? (double)m->exact / (double)m->docs : 0.0;
    o->accuracy = m->docs ? (double)m->top1 / (double)m->docs : 0.0;
}

uint64_t aitag_metrics_confusion(const aitag_metrics *m, size_t g, size_t p)
{
    if (!m->conf || g >= m->conf_n || p > m->conf_n)
        return 0;
    return m->conf[g * (m->conf_n + 1) + p];
}
