/*
 * sbuf.h: a growable byte buffer with JSON writers (internal; the CLI uses it
 * too). An allocation failure sets oom and makes every later append a no-op,
 * so a caller checks once, at the end.
 */
#ifndef AITAG_SBUF_H
#define AITAG_SBUF_H

#include <stddef.h>

typedef struct aitag__sbuf {
    char *p;
    size_t len, cap;
    int oom;
} aitag__sbuf;

void aitag__sb_put(aitag__sbuf *b, const char *s, size_t n);
void aitag__sb_puts(aitag__sbuf *b, const char *s);
/* s as a JSON string with quotes; invalid UTF-8 becomes U+FFFD */
void aitag__sb_json_string(aitag__sbuf *b, const char *s, size_t n);
/* one TSV/text field: control characters become ' ', invalid UTF-8 U+FFFD */
void aitag__sb_field(aitag__sbuf *b, const char *s, size_t n);
/* v with the given digits after the point; NaN and infinities as null */
void aitag__sb_double(aitag__sbuf *b, double v, int digits);
/* v in decimal into buf (at least 21 bytes), NUL-terminated; its length.
 * (Every input line gets its number as a provisional id: snprintf was a
 * visible share of reading short articles.) */
size_t aitag__u64_dec(char *buf, uint64_t v);
void aitag__sb_free(aitag__sbuf *b);

#endif
