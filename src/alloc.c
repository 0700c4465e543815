/*
 * alloc.c: the library's allocation wrappers and the test-only failure hook.
 *
 * The hook is process-wide state, one of the two documented exceptions to
 * "no globals" (the other is liblinear's print hook). It is only set by tests.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static long fail_after = -1;

void aitag__set_alloc_fail_after(long n) { fail_after = n; }

static int should_fail(void)
{
    if (fail_after < 0)
        return 0;
    if (fail_after == 0)
        return 1;
    fail_after--;
    return 0;
}

void *aitag__malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *aitag__calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *aitag__realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void aitag__free(void *p) { free(p); }

char *aitag__strndup(const char *s, size_t n)
{
    char *d = aitag__malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int aitag__grow(void *bufp, size_t *cap, size_t need, size_t elem)
{
    void **buf = bufp;
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem)
        return -1;
    void *p = aitag__realloc(*buf, ncap * elem);
    if (!p)
        return -1;
    *buf = p;
    *cap = ncap;
    return 0;
}
