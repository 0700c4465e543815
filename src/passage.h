/*
 * passage.h: an article cut into passages (internal): paragraphs, with short
 * ones (captions, bylines, one-line quotes) merged into the next, and long
 * ones cut into windows of about `words` words. Chinese and Japanese count
 * two characters as a word; Thai, Lao, Khmer and Myanmar three. Training and
 * classification cut the same way, and offsets are byte offsets into the
 * text, so a passage can be shown or highlighted as it was written.
 */
#ifndef AITAG_PASSAGE_H
#define AITAG_PASSAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct aitag__span {
    size_t start, end; /* [start, end), trimmed of white space */
} aitag__span;

typedef struct aitag__spans {
    aitag__span *v;
    size_t n, cap;
} aitag__spans;

/* Cuts text into passages (words >= 8), replacing s's contents. Linear in
 * len. Returns 0, or -1 when memory runs out. An empty or blank text has no
 * passage. */
int aitag__passages(const char *text, size_t len, uint32_t words, aitag__spans *s);

void aitag__spans_free(aitag__spans *s);

#endif
