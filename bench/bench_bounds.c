/*
 * bench_bounds.c: how fast could classification be on this machine? Small
 * loops over the same files give the bounds on one core, so that aitag's
 * own figures (aitag bench, bench/compare.sh) can be read as a distance
 * to the limit:
 *
 *   scan      read the file (read(2), 1 MiB at a time) and count its bytes
 *             by class: what any pass over the input costs
 *   hash      split into words at ASCII non-letters, lower-case ASCII,
 *             hash each word and each pair of adjacent words (aitag's
 *             default terms) with aitag's term hash: a tokenizer that does
 *             no Unicode work
 *   lookup    the same, plus each term's id in the model's vocabulary
 *             table, batched and prefetched as aitag does it
 *   score     the same, plus counting per document (a dense count array and
 *             the touched list), TF-IDF, the L2 norm and aitag_score: the
 *             whole classification with the Unicode and JSON work left out
 *
 * The loops after "scan" run on the file in memory. Each figure is the best
 * of --repeat passes, in MB/s of the input file. With --aitag, the last
 * line is aitag's own end-to-end rate on one thread (classify, read from
 * the file, output discarded) and its ratio to each bound.
 *
 * usage: bench_bounds -m MODEL [--repeat K] [--aitag PATH] FILE...
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aitag/aitag.h"
#include "internal.h"
#include "model_internal.h"

#define BATCH 512
#define AHEAD 8

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile uint64_t sink; /* keeps every loop's result alive */

/* ---- scan -------------------------------------------------------------- */

static double scan_file(const char *path)
{
    static unsigned char buf[1 << 20];
    static const unsigned char cls[256] = {[' '] = 1, ['\n'] = 2, ['"'] = 3, ['\\'] = 3};
    uint64_t count[4] = {0};
    double t0 = now();
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < r; i++)
            count[cls[buf[i]]]++;
    close(fd);
    sink += count[0] + count[1] + count[2] + count[3];
    return now() - t0;
}

/* ---- the term loops ---------------------------------------------------- */

typedef struct {
    const aitag_model *m;
    aitag_classifier *cl;
    int level;              /* 1 hash, 2 lookup, 3 score */
    uint64_t h[BATCH];
    int32_t id[BATCH];
    size_t nh;
    uint32_t *count, *touched;
    size_t nt;
    float *vals;
    double *margins;
} loop;

static void flush(loop *L)
{
    const aitag_model *m = L->m;
    size_t n = L->nh;
    L->nh = 0;
    if (L->level == 1) {
        for (size_t i = 0; i < n; i++)
            sink += L->h[i];
        return;
    }
    for (size_t i = 0; i < n && i < AHEAD; i++)
        __builtin_prefetch(aitag__model_probe_addr(m, L->h[i]));
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n)
            __builtin_prefetch(aitag__model_probe_addr(m, L->h[i + AHEAD]));
        L->id[i] = (int32_t)aitag__model_lookup_hash(m, L->h[i]);
    }
    if (L->level == 2) {
        for (size_t i = 0; i < n; i++)
            sink += (uint64_t)L->id[i];
        return;
    }
    for (size_t i = 0; i < n && i < AHEAD; i++)
        if (L->id[i] >= 0)
            __builtin_prefetch(&L->count[L->id[i]], 1);
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n && L->id[i + AHEAD] >= 0)
            __builtin_prefetch(&L->count[L->id[i + AHEAD]], 1);
        int32_t f = L->id[i];
        if (f >= 0 && L->count[f]++ == 0)
            L->touched[L->nt++] = (uint32_t)f;
    }
}

static void end_doc(loop *L)
{
    flush(L);
    if (L->level < 3)
        return;
    double norm = 0;
    for (size_t i = 0; i < L->nt; i++) {
        uint32_t f = L->touched[i];
        double x = aitag__tfidf(L->count[f], L->m->idf[f]);
        L->count[f] = 0;
        L->vals[i] = (float)x;
        norm += x * x;
    }
    norm = norm > 0 ? 1 / sqrt(norm) : 0;
    for (size_t i = 0; i < L->nt; i++)
        L->vals[i] = (float)(L->vals[i] * norm);
    aitag_features x = {L->nt, L->touched, L->vals};
    aitag_score(L->cl, &x, L->margins);
    sink += (uint64_t)(L->margins[0] > 0);
    L->nt = 0;
}

static inline void add_term(loop *L, const char *s, size_t n)
{
    L->h[L->nh++] = aitag__hash_bytes(s, n);
    if (L->nh == BATCH)
        flush(L);
}

/* Words and word pairs of buf (one document per line). */
static double run_terms(loop *L, const char *buf, size_t size)
{
    static unsigned char word[256];
    for (int c = 0; c < 256; c++)
        word[c] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80 ? (unsigned char)c
                  : c >= 'A' && c <= 'Z'                                         ? (unsigned char)(c + 32)
                                                                                 : 0;
    char pair[2 * 64 + 1];
    size_t prev = 0; /* bytes of the previous word at the start of pair */
    double t0 = now();
    size_t i = 0;
    while (i < size) {
        unsigned char b = (unsigned char)buf[i];
        if (b == '\n') {
            end_doc(L);
            prev = 0;
            i++;
            continue;
        }
        if (!word[b]) {
            i++;
            continue;
        }
        size_t n = 0;
        char *w = pair + prev + (prev ? 1 : 0);
        while (i < size && word[(unsigned char)buf[i]]) {
            if (n < 64)
                w[n++] = (char)word[(unsigned char)buf[i]];
            i++;
        }
        add_term(L, w, n);
        if (prev) {
            pair[prev] = ' ';
            add_term(L, pair, prev + 1 + n);
        }
        memmove(pair, w, n);
        prev = n;
    }
    end_doc(L);
    return now() - t0;
}

/* ---- aitag itself -------------------------------------------------------- */

static double run_aitag(const char *aitag, const char *model, const char *file)
{
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(aitag, aitag, "classify", "-m", model, "--threads", "1", "--scores", "all", file, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return now() - t0;
}

static char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return p;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *aitag = NULL;
    int repeat = 5, first = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--aitag") && i + 1 < argc)
            aitag = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_bounds -m MODEL [--repeat K] [--aitag PATH] FILE...\n");
            return 2;
        } else if (!first)
            first = i;
    }
    if (!model || !first || repeat < 1) {
        fprintf(stderr, "usage: bench_bounds -m MODEL [--repeat K] [--aitag PATH] FILE...\n");
        return 2;
    }
    aitag_model *m = NULL;
    aitag_error err = {0};
    if (aitag_model_load(model, &m, &err) != AITAG_OK) {
        fprintf(stderr, "bench_bounds: %s\n", err.msg);
        return 1;
    }
    printf("%-40s %9s %9s %9s %9s %9s\n", "file (model: one thread, MB/s)", "scan", "hash", "lookup", "score",
           aitag ? "aitag" : "");
    for (int a = first; a < argc; a++) {
        if (argv[a][0] == '-') {
            a++;
            continue;
        }
        size_t size = 0;
        char *buf = slurp(argv[a], &size);
        if (!buf) {
            fprintf(stderr, "bench_bounds: %s: %s\n", argv[a], strerror(errno));
            return 1;
        }
        loop L = {.m = m};
        size_t V = aitag_model_num_features(m), K = aitag_model_num_labels(m);
        L.count = calloc(V ? V : 1, sizeof *L.count);
        L.touched = malloc((V + 16) * sizeof *L.touched);
        L.vals = malloc((V + 16) * sizeof *L.vals);
        L.margins = malloc(K * sizeof *L.margins);
        if (!L.count || !L.touched || !L.vals || !L.margins || aitag_classifier_create(m, &L.cl, &err) != AITAG_OK) {
            fprintf(stderr, "bench_bounds: out of memory\n");
            return 1;
        }
        double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30};
        for (int r = 0; r < repeat; r++) {
            double t = scan_file(argv[a]);
            best[0] = t < best[0] ? t : best[0];
            for (int level = 1; level <= 3; level++) {
                L.level = level;
                t = run_terms(&L, buf, size);
                best[level] = t < best[level] ? t : best[level];
            }
            if (aitag && (t = run_aitag(aitag, model, argv[a])) > 0)
                best[4] = t < best[4] ? t : best[4];
        }
        const char *name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
        printf("%-40s", name);
        for (int i = 0; i < (aitag ? 5 : 4); i++)
            printf(" %9.1f", (double)size / best[i] / 1e6);
        printf("\n");
        if (aitag && best[4] < 1e30) {
            printf("%-40s", "  aitag as a share of each bound");
            for (int i = 0; i < 4; i++)
                printf(" %8.0f%%", 100.0 * best[i] / best[4]);
            printf("\n");
        }
        aitag_classifier_free(L.cl);
        free(L.count);
        free(L.touched);
        free(L.vals);
        free(L.margins);
        free(buf);
    }
    aitag_model_free(m);
    return 0;
}
