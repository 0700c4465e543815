/*
 * endpoints.c: what each endpoint of `aitag serve` answers once the request
 * is complete: classification (whole, or streamed for large NDJSON bodies),
 * reload, health, readiness, metrics and the model.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* NDJSON bodies larger than this are answered as they are classified
 * (chunked), in pieces of STREAM_PIECE bytes: the output, which can be many
 * times the input, is never held whole. */
#define STREAM_BODY ((size_t)256 << 10)
#define STREAM_PIECE ((size_t)64 << 10)

typedef struct query_state {
    srv_query *q;
    char err[200];
} query_state;

static int parse_uint(const char *v, unsigned long max, uint32_t *out)
{
    char *end;
    if (!v || !*v || *v == '-' || *v == '+')
        return -1;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || n > max)
        return -1;
    *out = (uint32_t)n;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    if (!v || !*v || strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    query_state *qs = cls;
    aitag_stream_params *p = &qs->q->sp;
    int bad = 0;
    uint32_t u = 0;
    if (strcmp(k, "top_k") == 0)
        bad = parse_uint(v, 65536, &u) || u < 1, p->classify.decide.top_k = u;
    else if (strcmp(k, "min_labels") == 0)
        bad = parse_uint(v, 65536, &p->classify.decide.min_labels);
    else if (strcmp(k, "explain") == 0)
        bad = parse_uint(v, 1000, &p->explain);
    else if (strcmp(k, "margins") == 0)
        bad = parse_bool(v, &p->margins);
    else if (strcmp(k, "evidence") == 0)
        bad = parse_bool(v, &p->classify.evidence);
    else if (strcmp(k, "scores") == 0 && v && strcmp(v, "all") == 0)
        p->scores = AITAG_SCORES_ALL;
    else if (strcmp(k, "scores") == 0 && v && strcmp(v, "tags") == 0)
        p->scores = AITAG_SCORES_TAGS;
    else if (strcmp(k, "scores") == 0 && v && strcmp(v, "none") == 0)
        p->scores = AITAG_SCORES_NONE;
    else if (strcmp(k, "scores") == 0)
        bad = 1;
    else {
        snprintf(qs->err, sizeof qs->err, "unknown query parameter '%.60s' (known: top_k, min_labels, scores, "
                                          "margins, explain, evidence)", k);
        return MHD_NO;
    }
    if (bad) {
        snprintf(qs->err, sizeof qs->err, "query parameter %s: '%.60s' is not valid (%s)", k, v ? v : "",
                 strcmp(k, "scores") == 0 ? "all, tags or none"
                 : strcmp(k, "margins") == 0 || strcmp(k, "evidence") == 0 ? "true or false"
                 : strcmp(k, "explain") == 0 ? "an integer from 0 to 1000"
                 : strcmp(k, "top_k") == 0 ? "an integer from 1 to 65536" : "an integer from 0 to 65536");
        return MHD_NO;
    }
    (void)kind;
    return MHD_YES;
}

/* MHD's content reader for a streamed answer: the next piece of output. */
static ssize_t stream_piece(void *cls, uint64_t pos, char *buf, size_t max)
{
    req *r = cls;
    (void)pos;
    if (r->pend_off == r->pend.len) {
        r->pend.len = r->pend_off = 0;
        if (r->cur.pos == r->cur.len)
            return MHD_CONTENT_READER_END_OF_STREAM;
        aitag_error err = {0};
        if (srv_run_some(r->sm, &r->q, &r->cur, STREAM_PIECE, &r->pend, &r->st, &err) != 0 || !r->pend.len)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = r->pend.len - r->pend_off;
    n = n < max ? n : max;
    memcpy(buf, r->pend.p + r->pend_off, n);
    r->pend_off += n;
    r->out_bytes += n;
    return (ssize_t)n;
}

static enum MHD_Result stream_answer(srv_server *s, struct MHD_Connection *c, req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_PIECE, stream_piece, r, NULL);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    if (__atomic_load_n(&s->shutting_down, __ATOMIC_RELAXED))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = 200;
    r->answered = 1;
    enum MHD_Result rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result do_classify(srv_server *s, struct MHD_Connection *c, req *r)
{
    query_state qs = {&r->q, {0}};
    r->q.sp = aitag_stream_params_default();
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_arg, &qs);
    if (qs.err[0])
        return srv__problem(s, c, r, 400, "%s", qs.err);
    int single = srv__body_kind(c) == 1;
    while (single && r->len && memchr(" \t\r\n", r->body[r->len - 1], 4))
        r->len--; /* a final newline (curl -d @file.json) is not text after the object */
    if (single && r->len == 0)
        return srv__problem(s, c, r, 400, "empty body: expected a JSON object {\"id\", \"title\", \"text\"}");
    if (!(r->sm = srv_model_get(s->h)))
        return srv__problem(s, c, r, 503, "no model is loaded");
    r->cur = (srv_cursor){r->body ? r->body : "", r->len, 0, 0, single};
    if (!single && r->len > STREAM_BODY)
        return stream_answer(s, c, r);
    aitag__sbuf out = {0};
    aitag_error err = {0};
    int rc = srv_run_some(r->sm, &r->q, &r->cur, SIZE_MAX, &out, &r->st, &err);
    if (rc != 0) {
        int oom = out.oom;
        aitag__sb_free(&out);
        return srv__problem(s, c, r, single && !oom ? 400 : 500, "%s", err.msg);
    }
    return srv__send_buf(s, c, r, 200, single ? "application/json" : "application/x-ndjson", &out);
}

static enum MHD_Result do_reload(srv_server *s, struct MHD_Connection *c, req *r)
{
    aitag_error err = {0};
    if (srv_reload(s->h, &err) != 0)
        return srv__problem(s, c, r, 500, "model not reloaded, the previous one keeps serving: %s", err.msg);
    srv_model *sm = srv_model_get(s->h);
    char buf[200];
    snprintf(buf, sizeof buf, "{\"status\": \"reloaded\", \"generation\": %llu, \"checksum\": \"%016llx\"}\n",
             (unsigned long long)sm->generation, (unsigned long long)sm->checksum);
    srv_model_put(s->h, sm);
    return srv__send_text(s, c, r, 200, "application/json", buf);
}

enum MHD_Result srv__dispatch(srv_server *s, struct MHD_Connection *c, req *r)
{
    aitag__sbuf b = {0};
    srv_model *sm;
    switch (r->ep) {
    case EP_CLASSIFY:
        return do_classify(s, c, r);
    case EP_RELOAD:
        return do_reload(s, c, r);
    case EP_HEALTHZ:
        return srv__send_text(s, c, r, 200, "application/json", "{\"status\": \"ok\"}\n");
    case EP_READYZ:
        if (__atomic_load_n(&s->shutting_down, __ATOMIC_RELAXED))
            return srv__problem(s, c, r, 503, "shutting down");
        return srv__send_text(s, c, r, 200, "application/json", "{\"status\": \"ready\"}\n");
    case EP_METRICS:
        srv_metrics_render(s->h, &b);
        return srv__send_buf(s, c, r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
    case EP_MODEL:
        sm = srv_model_get(s->h);
        if (!sm)
            return srv__problem(s, c, r, 503, "no model is loaded");
        srv_model_json(s->h, sm, &b);
        srv_model_put(s->h, sm);
        return srv__send_buf(s, c, r, 200, "application/json", &b);
    default:
        return srv__problem(s, c, r, 404, "no such endpoint: %s", r->path);
    }
}

