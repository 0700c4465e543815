/*
 * alloc.c: the library's allocation wrappers and the test-only failure hook.
 *
 * The hook is process-wide state, one of the two documented exceptions to
 * "no globals" (the other is liblinear's print hook). It is only set by tests.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* Blocks of this size or more are mapped and backed by transparent huge
 * pages where the kernel allows it (madvise mode): a model's weights and
 * vocabulary table are read at random, and 2 MiB pages turn most of those
 * reads' TLB misses into hits and a load's page faults from one per 4 KiB
 * into one per 2 MiB. Under AddressSanitizer the C allocator is kept, so
 * that reads past the block are still caught. */
#define BIG_BLOCK ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

#if defined(__SANITIZE_ADDRESS__)
#define AITAG__NO_MAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AITAG__NO_MAP 1
#endif
#endif

void *aitag__big_alloc(size_t n, size_t *mapped)
{
    *mapped = 0;
    if (should_fail())
        return NULL;
#ifndef AITAG__NO_MAP
    if (n >= BIG_BLOCK && n <= SIZE_MAX - HUGE_PAGE) {
        size_t len = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
            madvise(p, len, MADV_HUGEPAGE); /* advice only: without it the block still works */
#endif
            *mapped = len;
            return p; /* zero-filled */
        }
    }
#endif
    return calloc(n ? n : 1, 1);
}

void aitag__big_free(void *p, size_t mapped)
{
    if (!p)
        return;
    if (mapped)
        munmap(p, mapped);
    else
        free(p);
}
