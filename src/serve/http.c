/*
 * http.c: the HTTP side of `aitag serve` on libmicrohttpd (its thread pool,
 * one epoll loop per thread): reading requests, the checks that need no
 * body, the body itself, and the end of each request. A request is answered
 * (endpoints.c) on the thread that read it.
 *
 * Request life: first call (headers) -> checks that need no body (token,
 * route, method, content type, Content-Length over --max-body, overload)
 * -> body chunks appended (bounded by --max-body) -> last call: answer ->
 * completion callback: metrics, access log, free.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "internal.h" /* aitag__realloc, aitag__free: what sbuf allocates with */
#include "http.h"

/* Takes n bytes of the body budget; 0, or -1 when it is spent. */
static int reserve(srv_server *s, req *r, size_t n)
{
    size_t now = __atomic_add_fetch(&s->body_bytes, n, __ATOMIC_RELAXED);
    if (now > s->cfg.body_budget && now - n > 0) { /* a lone body within --max-body always fits */
        __atomic_sub_fetch(&s->body_bytes, n, __ATOMIC_RELAXED);
        return -1;
    }
    r->reserved += n;
    return 0;
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}


/* Constant time in the token's length, whatever the header holds. */
static int token_ok(const srv_server *s, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    size_t n = strlen(h);
    unsigned char diff = n != s->cfg.token_len;
    for (size_t i = 0; i < s->cfg.token_len; i++)
        diff |= (unsigned char)(s->cfg.token[i] ^ (i < n ? h[i] : 0));
    return diff == 0;
}

static enum srv_endpoint route(const char *url, int *post)
{
    static const struct {
        const char *path;
        enum srv_endpoint ep;
        int post;
    } routes[] = {{"/v1/classify", EP_CLASSIFY, 1}, {"/v1/model", EP_MODEL, 0}, {"/healthz", EP_HEALTHZ, 0},
                  {"/readyz", EP_READYZ, 0},        {"/metrics", EP_METRICS, 0}, {"/v1/reload", EP_RELOAD, 1}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(url, routes[i].path) == 0) {
            *post = routes[i].post;
            return routes[i].ep;
        }
    return EP_OTHER;
}

/* 1 if the Content-Type's media type is t (any case, parameters ignored). */
static int media_is(const char *ct, const char *t)
{
    size_t n = strlen(t);
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, t, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* 0 = ndjson, 1 = one JSON object, -1 = unsupported */
int srv__body_kind(struct MHD_Connection *c)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct)
        return -1;
    if (media_is(ct, "application/x-ndjson") || media_is(ct, "application/jsonl") || media_is(ct, "application/jsonlines"))
        return 0;
    if (media_is(ct, "application/json"))
        return 1;
    return -1;
}

/* The answer due before any body is read, if there is one (else MHD_YES with
 * r->answered unset). */
static enum MHD_Result early(srv_server *s, struct MHD_Connection *c, req *r, const char *method)
{
    int post = 0;
    r->ep = route(r->path, &post);
    if (__atomic_load_n(&s->connections, __ATOMIC_RELAXED) > (long)s->cfg.max_connections)
        return srv__problem(s, c, r, 503, "overloaded: more than %u connections are open; retry later",
                       s->cfg.max_connections);
    if (s->cfg.token && r->ep != EP_HEALTHZ && !token_ok(s, c))
        return srv__problem(s, c, r, 401, "this service needs 'Authorization: Bearer TOKEN' with the right token");
    if (r->ep == EP_OTHER)
        return srv__problem(s, c, r, 404, "no such endpoint: %s %s", method, r->path);
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (post ? strcmp(method, "POST") != 0 : !is_get)
        return srv__problem(s, c, r, 405, "%s %s is not allowed; use %s", method, r->path, post ? "POST" : "GET");
    if (r->ep != EP_CLASSIFY)
        return MHD_YES;
    if (srv__body_kind(c) < 0) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        return srv__problem(s, c, r, 415, "Content-Type '%s' is not application/json (one article) or "
                                     "application/x-ndjson (one article per line)", ct ? ct : "(none)");
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        unsigned long long n = strtoull(cl, NULL, 10);
        if (n > s->cfg.max_body)
            return srv__problem(s, c, r, 413, "the body (%llu bytes) is over the limit of %zu bytes (--max-body)", n,
                           s->cfg.max_body);
        if (n && reserve(s, r, (size_t)n + 1) != 0)
            return srv__problem(s, c, r, 503, "overloaded: the bodies in flight hold %zu bytes already; retry later",
                           __atomic_load_n(&s->body_bytes, __ATOMIC_RELAXED));
        if (n && !(r->body = aitag__realloc(NULL, (size_t)n + 1)))
            return srv__problem(s, c, r, 503, "out of memory for a body of %llu bytes; retry later", n);
        r->cap = r->body ? (size_t)n + 1 : 0;
    }
    return MHD_YES;
}

/* Appends a chunk of the body; 0, -1 when it goes over --max-body, -2 out of memory. */
static int take_body(srv_server *s, req *r, const char *data, size_t n)
{
    if (n > s->cfg.max_body - r->len)
        return -1;
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        if (cap > s->cfg.max_body + 1)
            cap = s->cfg.max_body + 1;
        if (cap > r->reserved && reserve(s, r, cap - r->reserved) != 0)
            return -2;
        char *p = aitag__realloc(r->body, cap);
        if (!p)
            return -2;
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return 0;
}

/* ---- libmicrohttpd callbacks -------------------------------------------------- */

static req *req_new(struct MHD_Connection *c, const char *url, const char *method, int access_log)
{
    req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    r->ep = EP_OTHER;
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", url);
    if (access_log) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        if (sa && sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->remote, sizeof r->remote);
        else if (sa && sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->remote, sizeof r->remote);
    }
    srv_metrics_inflight(1);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    srv_server *s = cls;
    req *r = *con_cls;
    (void)version;
    if (!r) {
        if (!(r = *con_cls = req_new(c, url, method, s->cfg.access_log)))
            return MHD_NO;
        return early(s, c, r, method);
    }
    if (r->answered) { /* an early answer: the rest of the body is dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* an answer cannot be queued mid-body: a body over the limit (or out
         * of memory) is read and dropped, at most once more the limit */
        if (!r->too_large && (r->too_large = -take_body(s, r, upload_data, *upload_data_size)) != 0) {
            aitag__free(r->body);
            r->body = NULL;
            r->cap = 0;
        }
        if (r->too_large)
            r->dropped += *upload_data_size;
        *upload_data_size = 0;
        return r->dropped > s->cfg.max_body ? MHD_NO : MHD_YES;
    }
    if (r->too_large == 1)
        return srv__problem(s, c, r, 413, "the body is over the limit of %zu bytes (--max-body)", s->cfg.max_body);
    if (r->too_large == 2)
        return srv__problem(s, c, r, 503, "overloaded: no memory left for this body (the bodies in flight hold %zu "
                                     "bytes); retry later", __atomic_load_n(&s->body_bytes, __ATOMIC_RELAXED));
    return srv__dispatch(s, c, r);
}

static void access_log(const req *r, double secs)
{
    char line[600], when[40];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    aitag__sbuf b = {0};
    snprintf(line, sizeof line, "{\"time\": \"%s.%03ldZ\", \"remote\": \"%s\", \"method\": \"%s\", \"path\": ", when,
             ts.tv_nsec / 1000000, r->remote, r->method);
    aitag__sb_puts(&b, line);
    aitag__sb_json_string(&b, r->path, strlen(r->path));
    snprintf(line, sizeof line, ", \"status\": %u, \"in_bytes\": %zu, \"out_bytes\": %zu, \"docs\": %llu, "
                                "\"ms\": %.3f}\n", r->status, r->len + r->dropped, r->out_bytes, (unsigned long long)r->st.docs,
             secs * 1e3);
    aitag__sb_puts(&b, line);
    if (!b.oom && write(2, b.p, b.len) < 0) {
        /* nothing to do: the log is best effort */
    }
    aitag__sb_free(&b);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    srv_server *s = cls;
    req *r = *con_cls;
    (void)c;
    if (!r)
        return;
    double secs = since(&r->t0);
    if (!r->answered)
        r->status = 0; /* the client went away before the answer */
    srv_metrics_request(r->ep, r->status, secs);
    if (s->cfg.access_log)
        access_log(r, secs);
    (void)toe;
    srv_metrics_docs(r->st.docs, r->st.bad);
    srv_model_put(s->h, r->sm);
    aitag__sb_free(&r->pend);
    __atomic_sub_fetch(&s->body_bytes, r->reserved, __ATOMIC_RELAXED);
    aitag__free(r->body);
    free(r);
    *con_cls = NULL;
    srv_metrics_inflight(-1);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv_server *s = cls;
    (void)c;
    (void)socket_context;
    __atomic_add_fetch(&s->connections, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1, __ATOMIC_RELAXED);
}

/* Once shutting down, a new connection is closed as soon as it is accepted.
 * (MHD_quiesce_daemon would close the listening socket instead, but with a
 * thread pool on epoll it races with the workers removing that socket from
 * their epoll sets, and libmicrohttpd aborts when it loses.) */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    srv_server *s = cls;
    (void)addr;
    (void)addrlen;
    return __atomic_load_n(&s->shutting_down, __ATOMIC_RELAXED) ? MHD_NO : MHD_YES;
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    fprintf(stderr, "aitag: serve: %s\n", msg);
}

int srv_http_start(srv_server *s, const struct sockaddr *addr, int ipv6, aitag_error *err)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    /* room above --max-connections to answer the excess with 503 rather than a reset */
    unsigned limit = s->cfg.max_connections + s->cfg.max_connections / 4 + 16;
    struct MHD_OptionItem o[12] = {
        {MHD_OPTION_SOCK_ADDR, 0, (void *)addr},
        {MHD_OPTION_CONNECTION_LIMIT, limit, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.timeout, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16 * 1024, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
        {MHD_OPTION_END, 0, NULL}};
    if (s->cfg.threads > 1) /* one thread: the daemon's own polling thread (a pool of one is refused) */
        o[7] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads, NULL};
    s->d = MHD_start_daemon(flags, 0, on_accept, s, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL,
                            MHD_OPTION_ARRAY, o, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err->msg, sizeof err->msg, "cannot start the HTTP server (is the address in use?)");
        return -1;
    }
    return 0;
}

unsigned srv_http_port(srv_server *s)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : 0;
}
