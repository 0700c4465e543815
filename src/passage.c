/*
 * passage.c: paragraphs and windows (see passage.h). One pass over the text:
 * units are counted in sixths of a word so that every script is an integer
 * (a Latin, Cyrillic, Hangul... word: 6; a Han or kana character: 3; a Thai,
 * Lao, Khmer or Myanmar character: 2).
 */
#include <string.h>

#include "internal.h"
#include "passage.h"

#define UNIT 6

void aitag__spans_free(aitag__spans *s)
{
    aitag__free(s->v);
    memset(s, 0, sizeof *s);
}

/* Decodes one UTF-8 sequence at p (n bytes left); invalid bytes count as one
 * byte of a letter. */
static size_t decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned c = p[0];
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len > n)
        len = 1;
    uint32_t v = len == 1 ? c : c & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++)
        v = (v << 6) | (p[i] & 0x3F);
    *cp = v;
    return len;
}

static int is_space(uint32_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == 0xA0 || c == 0x3000 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F;
}

/* An ASCII byte that belongs to a word: anything but a space or a line break. */
static int ascii_word_byte(unsigned char b)
{
    return b < 0x80 && b != '\n' && b != ' ' && b != '\t' && b != '\r' && b != '\f' && b != '\v';
}

static int is_break(uint32_t c) { return c == '\n' || c == 0x2028 || c == 0x2029 || c == 0x85; }

/* Sixths of a word this character is worth when it stands alone (0: it is
 * part of a space-separated word). */
static int char_units(uint32_t c)
{
    if ((c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
        (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3FFFF))
        return 3;
    if ((c >= 0x0E00 && c <= 0x0EFF) || (c >= 0x1000 && c <= 0x109F) || (c >= 0x1780 && c <= 0x17FF))
        return 2;
    return 0;
}

typedef struct {
    aitag__spans *s;
    size_t words;          /* window size, in sixths */
    size_t start, last;    /* the open passage: first and past-the-last non-space byte */
    size_t units;          /* its size, in sixths */
    int open, cut;         /* cut: the last span ended inside a paragraph */
} cutter;

static int push(cutter *c, int cut)
{
    aitag__spans *s = c->s;
    if (s->n == s->cap && aitag__grow(&s->v, &s->cap, s->n + 1, sizeof *s->v) != 0)
        return -1;
    s->v[s->n++] = (aitag__span){c->start, c->last};
    c->open = 0;
    c->units = 0;
    c->cut = cut;
    return 0;
}

/* Ends the open passage at a paragraph break (or the end): a short one waits
 * for the next paragraph, unless it follows a window of the same paragraph,
 * which then takes it in. */
static int close_paragraph(cutter *c, int at_end)
{
    if (!c->open)
        return 0;
    size_t min = c->words / 4;
    if (c->units < min && c->cut && c->s->n) {
        c->s->v[c->s->n - 1].end = c->last;
        c->open = 0;
        c->units = 0;
        c->cut = 0;
        return 0;
    }
    if (c->units < min && !at_end)
        return 0;
    if (c->units < min && at_end && c->s->n) {
        c->s->v[c->s->n - 1].end = c->last;
        c->open = 0;
        return 0;
    }
    return push(c, 0);
}

int aitag__passages(const char *text, size_t len, uint32_t words, aitag__spans *s)
{
    s->n = 0;
    cutter c = {s, (size_t)(words < 8 ? 8 : words) * UNIT, 0, 0, 0, 0, 0};
    const unsigned char *p = (const unsigned char *)text;
    int in_word = 0;
    size_t total = 0;
    for (size_t i = 0; i < len;) {
        unsigned char b = p[i];
        if (ascii_word_byte(b)) {
            /* ASCII word bytes, the common case: one step per byte */
            if (!in_word) {
                if (c.open && c.units >= c.words && push(&c, 1)) /* a window is full */
                    return -1;
                if (!c.open) {
                    c.open = 1;
                    c.start = i;
                }
                c.units += UNIT;
                total += UNIT;
                in_word = 1;
            }
            while (i < len && p[i] > ' ' && p[i] < 0x7F)
                i++;
            if (i < len && ascii_word_byte(p[i]))
                i++; /* a control byte or DEL: part of the word */
            c.last = i;
            continue;
        }
        uint32_t cp;
        size_t n = decode(p + i, len - i, &cp);
        if (is_break(cp)) {
            in_word = 0;
            if (close_paragraph(&c, 0))
                return -1;
        } else if (is_space(cp)) {
            in_word = 0;
        } else {
            int u = char_units(cp);
            int starts = u || !in_word;
            if (starts && c.open && c.units >= c.words && push(&c, 1)) /* a window is full */
                return -1;
            if (!c.open) {
                c.open = 1;
                c.start = i;
            }
            if (starts) {
                c.units += u ? (size_t)u : UNIT;
                total += u ? (size_t)u : UNIT;
            }
            in_word = !u;
            c.last = i + n;
        }
        i += n;
    }
    if (close_paragraph(&c, 1) != 0)
        return -1;
    if (s->n > 1 && total < 2 * c.words) {
        /* under two windows: one passage (nothing is diluted in so little) */
        s->v[0].end = s->v[s->n - 1].end;
        s->n = 1;
    }
    return 0;
}
