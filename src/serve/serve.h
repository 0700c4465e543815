/*
 * serve.h: the parts of `aitag serve` (an HTTP JSON service on libmicrohttpd).
 *
 *   cmd_serve.c   options, listening address, signals, graceful shutdown
 *   http.c        reading requests: routing, bodies, limits, tokens
 *   endpoints.c   what each endpoint answers (classification streamed when large)
 *   answer.c      answers and RFC 9457 problems
 *   run.c         a request body -> output lines, on the request's thread
 *   holder.c      the served model: reference counted, swapped on reload
 *   metrics.c     counters and the Prometheus text
 *
 * Only the command links libmicrohttpd; the library knows nothing of HTTP.
 */
#ifndef AITAG_SERVE_H
#define AITAG_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "aitag/aitag.h"
#include "sbuf.h"

/* ---- the served model (holder.c) ------------------------------------------ */

/* One loaded model and what /v1/model and /metrics tell about it. Shared by
 * every request that took a reference; freed with the last one. */
typedef struct srv_model {
    aitag_model *m;
    uint64_t generation;   /* 1 for the first model, +1 per reload */
    uint64_t checksum;     /* fnv1a64 of the model file's bytes */
    double load_seconds;   /* time aitag_model_load took */
    double loaded_at;      /* Unix time */
    size_t bytes;          /* file size */
    int refs;              /* guarded by the holder's lock */
} srv_model;

typedef struct srv_holder {
    pthread_mutex_t mu;     /* guards cur and refs */
    pthread_mutex_t reload; /* one reload at a time */
    srv_model *cur;
    char *path;
    uint64_t reloads, reload_failures;
} srv_holder;

int  srv_holder_init(srv_holder *h, const char *path, aitag_error *err);
void srv_holder_free(srv_holder *h);
/* The current model with a reference taken; give it back with srv_model_put. */
srv_model *srv_model_get(srv_holder *h);
void srv_model_put(srv_holder *h, srv_model *sm);
/* Loads and validates the file again, then swaps it in; on failure the old
 * model keeps serving and err says why. Requests in flight keep the model
 * they started with. */
int srv_reload(srv_holder *h, aitag_error *err);
/* The model as JSON for GET /v1/model. */
void srv_model_json(const srv_holder *h, const srv_model *sm, aitag__sbuf *b);

/* ---- classification of a body (run.c) ------------------------------------- */

/* Query options of /v1/classify, the same as `aitag classify`'s. */
typedef struct srv_query {
    aitag_stream_params sp;
} srv_query;

typedef struct srv_run_stats {
    uint64_t docs, bad;
} srv_run_stats;

/* Where a body is in its classification. */
typedef struct srv_cursor {
    const char *body;
    size_t len, pos;
    uint64_t line;
    int single; /* the body is one JSON object, not JSON lines */
} srv_cursor;

/* Classifies the next lines of the body (JSON lines: one output line per
 * input line, as `aitag classify -` prints them) into out, until out holds
 * max_out bytes or the body ends (cur->pos == cur->len). With cur->single,
 * the body is one JSON object: a bad one is not formatted but returned as -1
 * with err filled (a 400). Adds to st. Uses the calling thread's cached
 * classifier for sm. Returns 0, or -1 on out of memory (err filled) or a
 * bad single object. */
int srv_run_some(srv_model *sm, const srv_query *q, srv_cursor *cur, size_t max_out, aitag__sbuf *out,
                 srv_run_stats *st, aitag_error *err);
/* Sets up the per-thread cache (once, before the first srv_run). */
int srv_run_init(srv_holder *h);

/* ---- metrics (metrics.c) -------------------------------------------------- */

enum srv_endpoint { EP_CLASSIFY, EP_MODEL, EP_HEALTHZ, EP_READYZ, EP_METRICS, EP_RELOAD, EP_OTHER, EP_COUNT };

void srv_metrics_request(enum srv_endpoint ep, unsigned status, double seconds);
void srv_metrics_docs(uint64_t docs, uint64_t bad);
void srv_metrics_inflight(int delta);
long srv_metrics_inflight_now(void);
void srv_metrics_render(srv_holder *h, aitag__sbuf *b);

/* ---- the HTTP side (http.c) ------------------------------------------------ */

struct MHD_Daemon;
struct sockaddr;

typedef struct srv_config {
    size_t max_body;          /* bytes; larger bodies get 413 */
    unsigned timeout;         /* idle connection timeout and shutdown grace, seconds */
    unsigned max_connections; /* more get 503 (and, well beyond, are refused) */
    unsigned threads;         /* libmicrohttpd's thread pool */
    const char *token;        /* NULL = no authentication */
    size_t token_len;
    int access_log;           /* 1 = one JSON line per request on stderr */
    size_t body_budget;       /* bytes of request bodies held at once, all requests together */
} srv_config;

typedef struct srv_server {
    srv_config cfg;
    srv_holder *h;
    struct MHD_Daemon *d;
    int shutting_down;        /* atomic */
    long connections;         /* atomic */
    size_t body_bytes;        /* atomic: bytes of bodies held now */
} srv_server;

/* Starts the daemon on addr; 0, or -1 with err filled. */
int srv_http_start(srv_server *s, const struct sockaddr *addr, int ipv6, aitag_error *err);
/* The port bound (useful with port 0). */
unsigned srv_http_port(srv_server *s);

#endif
