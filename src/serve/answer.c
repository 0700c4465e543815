/*
 * answer.c: the answers of `aitag serve`: bytes with a content type, or an
 * RFC 9457 problem (application/problem+json) whose detail names the problem.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "internal.h" /* aitag__free: what sbuf allocates with */

static void free_buf(void *p) { aitag__free(p); }

/* Queues b (taken over) as the answer. */
enum MHD_Result srv__send_buf(srv_server *s, struct MHD_Connection *c, req *r, unsigned status, const char *ctype,
                                aitag__sbuf *b)
{
    if (b->oom) {
        aitag__sb_free(b);
        static const char oom[] = "{\"type\": \"about:blank\", \"title\": \"Internal Server Error\", "
                                  "\"status\": 500, \"detail\": \"out of memory\"}\n";
        struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
        r->status = 500;
        r->answered = 1;
        enum MHD_Result rc = MHD_queue_response(c, 500, resp);
        MHD_destroy_response(resp);
        return rc;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(b->len, b->p, free_buf);
    if (!resp) {
        aitag__sb_free(b);
        return MHD_NO;
    }
    b->p = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->ep == EP_CLASSIFY || r->ep == EP_RELOAD ? "POST"
                                                                                                         : "GET, HEAD");
    if (status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == 413 || status == 503 || __atomic_load_n(&s->shutting_down, __ATOMIC_RELAXED))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = status;
    r->out_bytes = b->len;
    r->answered = 1;
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result srv__problem(srv_server *s, struct MHD_Connection *c, req *r, unsigned status, const char *fmt, ...)
{
    char detail[AITAG_ERROR_MSG_MAX + 128], head[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    const char *title = MHD_get_reason_phrase_for(status);
    aitag__sbuf b = {0};
    snprintf(head, sizeof head, "{\"type\": \"about:blank\", \"title\": \"%s\", \"status\": %u, \"detail\": ",
             title && *title ? title : "Error", status);
    aitag__sb_puts(&b, head);
    aitag__sb_json_string(&b, detail, strlen(detail));
    aitag__sb_puts(&b, ", \"instance\": ");
    aitag__sb_json_string(&b, r->path, strlen(r->path));
    aitag__sb_puts(&b, "}\n");
    return srv__send_buf(s, c, r, status, "application/problem+json", &b);
}

enum MHD_Result srv__send_text(srv_server *s, struct MHD_Connection *c, req *r, unsigned status,
                                 const char *ctype, const char *text)
{
    aitag__sbuf b = {0};
    aitag__sb_puts(&b, text);
    return srv__send_buf(s, c, r, status, ctype, &b);
}

/* ---- checks that need no body ------------------------------------------------ */
