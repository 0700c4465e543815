/*
 * metrics.c: counters kept with atomic adds and rendered in the Prometheus
 * text format (version 0.0.4) for GET /metrics.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "serve.h"

static const char *const ep_names[EP_COUNT] = {"/v1/classify", "/v1/model", "/healthz", "/readyz",
                                               "/metrics",     "/v1/reload", "other"};
/* the statuses the service answers with; anything else is counted as the last */
static const unsigned statuses[] = {200, 400, 401, 404, 405, 413, 415, 422, 500, 503, 0};
#define N_STATUS (sizeof statuses / sizeof statuses[0])
/* latency buckets, seconds */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10};
#define N_BUCKET (sizeof bounds / sizeof bounds[0])

static uint64_t requests[EP_COUNT][N_STATUS];
static uint64_t buckets[EP_COUNT][N_BUCKET + 1];
static uint64_t sum_us[EP_COUNT];
static uint64_t docs_total, bad_total;
static long inflight;

static void add(uint64_t *p, uint64_t v) { __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }
static uint64_t get(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

void srv_metrics_request(enum srv_endpoint ep, unsigned status, double seconds)
{
    size_t s = 0;
    while (statuses[s] && statuses[s] != status)
        s++;
    add(&requests[ep][s], 1);
    size_t b = 0;
    while (b < N_BUCKET && seconds > bounds[b])
        b++;
    add(&buckets[ep][b], 1);
    add(&sum_us[ep], (uint64_t)(seconds * 1e6));
}

void srv_metrics_docs(uint64_t docs, uint64_t bad)
{
    add(&docs_total, docs);
    add(&bad_total, bad);
}

void srv_metrics_inflight(int delta) { __atomic_add_fetch(&inflight, delta, __ATOMIC_RELAXED); }
long srv_metrics_inflight_now(void) { return __atomic_load_n(&inflight, __ATOMIC_RELAXED); }

static void line(aitag__sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(aitag__sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        aitag__sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void render_requests(aitag__sbuf *b)
{
    line(b, "# HELP aitag_http_requests_total HTTP requests answered, by endpoint and status.\n"
            "# TYPE aitag_http_requests_total counter\n");
    for (int e = 0; e < EP_COUNT; e++)
        for (size_t s = 0; s < N_STATUS; s++) {
            uint64_t v = get(&requests[e][s]);
            if (v && statuses[s])
                line(b, "aitag_http_requests_total{endpoint=\"%s\",status=\"%u\"} %llu\n", ep_names[e], statuses[s],
                     (unsigned long long)v);
            else if (v)
                line(b, "aitag_http_requests_total{endpoint=\"%s\",status=\"other\"} %llu\n", ep_names[e],
                     (unsigned long long)v);
        }
}

static void render_latency(aitag__sbuf *b)
{
    line(b, "# HELP aitag_http_request_duration_seconds Time from a request's headers to its answer.\n"
            "# TYPE aitag_http_request_duration_seconds histogram\n");
    for (int e = 0; e < EP_COUNT; e++) {
        uint64_t cum = 0;
        for (size_t k = 0; k <= N_BUCKET; k++) {
            cum += get(&buckets[e][k]);
            if (k < N_BUCKET)
                line(b, "aitag_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n", ep_names[e],
                     bounds[k], (unsigned long long)cum);
            else
                line(b, "aitag_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                     ep_names[e], (unsigned long long)cum);
        }
        line(b, "aitag_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", ep_names[e],
             get(&sum_us[e]) / 1e6);
        line(b, "aitag_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", ep_names[e],
             (unsigned long long)cum);
    }
}

static void render_model(srv_holder *h, aitag__sbuf *b)
{
    srv_model *sm = srv_model_get(h);
    if (!sm)
        return;
    line(b, "# HELP aitag_model_load_seconds Time the served model took to load and validate.\n"
            "# TYPE aitag_model_load_seconds gauge\naitag_model_load_seconds %.6f\n", sm->load_seconds);
    line(b, "# HELP aitag_model_info The served model (value 1).\n# TYPE aitag_model_info gauge\n"
            "aitag_model_info{checksum=\"%016llx\",generation=\"%llu\",labels=\"%zu\",bytes=\"%zu\"} 1\n",
         (unsigned long long)sm->checksum, (unsigned long long)sm->generation, aitag_model_num_labels(sm->m),
         sm->bytes);
    line(b, "# HELP aitag_model_loaded_timestamp_seconds When the served model was loaded.\n"
            "# TYPE aitag_model_loaded_timestamp_seconds gauge\naitag_model_loaded_timestamp_seconds %.3f\n",
         sm->loaded_at);
    srv_model_put(h, sm);
    line(b, "# HELP aitag_model_reloads_total Model reloads, by result.\n# TYPE aitag_model_reloads_total counter\n"
            "aitag_model_reloads_total{result=\"ok\"} %llu\naitag_model_reloads_total{result=\"refused\"} %llu\n",
         (unsigned long long)get(&h->reloads), (unsigned long long)get(&h->reload_failures));
}

void srv_metrics_render(srv_holder *h, aitag__sbuf *b)
{
    render_requests(b);
    render_latency(b);
    line(b, "# HELP aitag_documents_classified_total Documents (input lines) given an output line.\n"
            "# TYPE aitag_documents_classified_total counter\naitag_documents_classified_total %llu\n",
         (unsigned long long)get(&docs_total));
    line(b, "# HELP aitag_bad_lines_total Input lines answered with an error object.\n"
            "# TYPE aitag_bad_lines_total counter\naitag_bad_lines_total %llu\n",
         (unsigned long long)get(&bad_total));
    line(b, "# HELP aitag_http_requests_in_flight Requests being handled.\n"
            "# TYPE aitag_http_requests_in_flight gauge\naitag_http_requests_in_flight %ld\n",
         srv_metrics_inflight_now());
    render_model(h, b);
}
