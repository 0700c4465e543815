/*
 * http.h: what the HTTP side's files share (internal to src/serve/): a
 * request's state and the answers. http.c reads requests, endpoints.c
 * answers them, answer.c builds the answers.
 */
#ifndef AITAG_SERVE_HTTP_H
#define AITAG_SERVE_HTTP_H

#include <microhttpd.h>
#include <time.h>

#include "serve.h"

typedef struct req {
    struct timespec t0;
    enum srv_endpoint ep;
    char method[8], path[120], remote[48];
    char *body;
    size_t len, cap;
    int too_large;       /* 1 over --max-body, 2 out of memory: the rest is dropped */
    int answered;
    size_t dropped;
    unsigned status;
    size_t out_bytes;
    size_t reserved;     /* bytes of the body budget this request holds */
    /* a streamed answer (large NDJSON bodies) */
    srv_model *sm;       /* a reference, given back on completion */
    srv_query q;
    srv_cursor cur;
    aitag__sbuf pend;    /* output lines not yet sent, from pend_off */
    size_t pend_off;
    srv_run_stats st;
} req;

/* Queue an answer: b's bytes (taken over), a problem+json (RFC 9457) whose
 * detail is the formatted text, or a constant text. */
enum MHD_Result srv__send_buf(srv_server *s, struct MHD_Connection *c, req *r, unsigned status, const char *ctype,
                              aitag__sbuf *b);
enum MHD_Result srv__problem(srv_server *s, struct MHD_Connection *c, req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
enum MHD_Result srv__send_text(srv_server *s, struct MHD_Connection *c, req *r, unsigned status, const char *ctype,
                               const char *text);

/* 0 = NDJSON, 1 = one JSON object, -1 = another Content-Type. */
int srv__body_kind(struct MHD_Connection *c);

/* Answers a request whose body is complete. */
enum MHD_Result srv__dispatch(srv_server *s, struct MHD_Connection *c, req *r);

#endif
