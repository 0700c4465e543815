/*
 * sbuf.c: a growable output buffer and JSON string/number writers.
 * Written by hand rather than with cJSON because classify writes one line
 * per article on the hot path; the output is always valid UTF-8 JSON
 * (invalid input bytes are written as U+FFFD).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sbuf.h"

static int reserve(aitag__sbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = aitag__realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void aitag__sb_put(aitag__sbuf *b, const char *s, size_t n)
{
    if (reserve(b, n) == 0) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

void aitag__sb_puts(aitag__sbuf *b, const char *s) { aitag__sb_put(b, s, strlen(s)); }

/* Length of a valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void aitag__sb_json_string(aitag__sbuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (reserve(b, n + 2) != 0)
        return;
    b->p[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            aitag__sb_put(b, (const char *)s + i, run - i);
            i = run;
            continue;
        }
        unsigned c = s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            aitag__sb_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (named) {
                aitag__sb_put(b, named, 2);
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                aitag__sb_put(b, esc, 6);
            }
            i++;
        } else {
            size_t len = utf8_len(s + i, n - i);
            if (len) {
                aitag__sb_put(b, (const char *)s + i, len);
                i += len;
            } else {
                aitag__sb_put(b, "\xEF\xBF\xBD", 3);
                i++;
            }
        }
    }
    aitag__sb_put(b, "\"", 1);
}

void aitag__sb_field(aitag__sbuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x20 || s[i] == 0x7F) {
            aitag__sb_put(b, " ", 1);
            i++;
            continue;
        }
        size_t len = utf8_len(s + i, n - i);
        if (len) {
            aitag__sb_put(b, (const char *)s + i, len);
            i += len;
        } else {
            aitag__sb_put(b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

void aitag__sb_double(aitag__sbuf *b, double v, int digits)
{
    static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    char tmp[48];
    if (!isfinite(v)) {
        aitag__sb_put(b, "null", 4);
        return;
    }
    if (digits < 0 || digits > 9 || fabs(v) >= 1e9) {
        int n = snprintf(tmp, sizeof tmp, "%.*f", digits < 0 ? 0 : digits, v);
        if (n > 0)
            aitag__sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
        return;
    }
    /* fixed-point by hand: printf's exact binary-to-decimal conversion was a
     * third of classify's time on models with many labels */
    unsigned long long x = (unsigned long long)(fabs(v) * scale[digits] + 0.5);
    int i = (int)sizeof tmp, nonzero = x != 0;
    for (int d = 0; d < digits; d++) {
        tmp[--i] = (char)('0' + x % 10);
        x /= 10;
    }
    if (digits)
        tmp[--i] = '.';
    do {
        tmp[--i] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    if (v < 0 && nonzero)
        tmp[--i] = '-';
    aitag__sb_put(b, tmp + i, sizeof tmp - (size_t)i);
}

size_t aitag__u64_dec(char *buf, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

void aitag__sb_free(aitag__sbuf *b)
{
    aitag__free(b->p);
    memset(b, 0, sizeof *b);
}
