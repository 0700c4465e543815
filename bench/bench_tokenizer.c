/*
 * bench_tokenizer.c: single-thread tokenizer throughput on real corpora.
 *
 *   bench_tokenizer [--repeat K] [--words-only] [--shared DIR] [FILE.jsonl...]
 *
 * Reads the texts of every FILE into memory first (through aitag_corpus, so
 * reading and JSON parsing are not timed), then tokenizes all of them K times
 * (default 5) with the default tokenizer parameters and a callback that only
 * counts, and prints per file and in total: MB, documents, terms, and the best
 * and median MB/s and words/s over the K rounds. --words-only sets
 * word_ngrams = 1 (no word bigrams).
 *
 * Without FILE arguments it uses agnews/test.jsonl, reuters21578/train.jsonl
 * and 20news/train.jsonl under DIR, which is --shared DIR, else $AITAG_SHARED,
 * else ../shared/datasets (relative to the current directory); missing files
 * are skipped with a message.
 *
 * Uses only the public headers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aitag/corpus.h"
#include "aitag/status.h"
#include "aitag/tokenizer.h"

static const char *const default_files[] = {"agnews/test.jsonl", "reuters21578/train.jsonl", "20news/train.jsonl"};

/* The texts of one file, back to back in one buffer. */
typedef struct bench_file {
    char *name;
    char *buf;
    size_t len, cap;
    size_t *off; /* docs + 1 offsets into buf */
    size_t docs, off_cap;
    size_t bad;  /* records the reader rejected */
    uint64_t terms, words;
    double *secs; /* one per round */
} bench_file;

typedef struct counts {
    uint64_t terms;
} counts;

static int count_term(void *ud, const char *term, size_t len, aitag_term_kind kind)
{
    (void)term;
    (void)len;
    (void)kind;
    ((counts *)ud)->terms++;
    return 0;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "bench_tokenizer: out of memory\n");
        exit(1);
    }
    return q;
}

static int append_doc(bench_file *f, const char *text, size_t n)
{
    if (f->len + n > f->cap) {
        size_t c = f->cap ? f->cap : (size_t)1 << 20;
        while (c < f->len + n)
            c *= 2;
        f->buf = xrealloc(f->buf, c);
        f->cap = c;
    }
    if (f->docs + 2 > f->off_cap) {
        f->off_cap = f->off_cap ? 2 * f->off_cap : 1024;
        f->off = xrealloc(f->off, f->off_cap * sizeof *f->off);
    }
    if (f->docs == 0)
        f->off[0] = 0;
    memcpy(f->buf + f->len, text, n);
    f->len += n;
    f->off[++f->docs] = f->len;
    return 0;
}

/* Loads every record's text; returns 0, or -1 if the file cannot be read. */
static int load_file(bench_file *f, const char *path)
{
    aitag_corpus_params p = aitag_corpus_params_default();
    aitag_corpus_reader *r = NULL;
    aitag_error err = {0};
    if (aitag_corpus_open(path, &p, &r, &err) != AITAG_OK) {
        fprintf(stderr, "bench_tokenizer: skipping %s\n", err.msg);
        return -1;
    }
    f->name = strdup(path);
    aitag_record rec;
    aitag_status rc;
    while ((rc = aitag_corpus_next(r, &rec, &err)) != AITAG_END) {
        if (rc == AITAG_OK) {
            append_doc(f, rec.text, rec.text_len);
        } else if (rc == AITAG_PARSE || rc == AITAG_LIMIT) {
            f->bad++;
        } else {
            fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
            aitag_corpus_close(r);
            return -1;
        }
    }
    aitag_corpus_close(r);
    if (f->bad)
        fprintf(stderr, "bench_tokenizer: %s: %zu bad records skipped\n", path, f->bad);
    return 0;
}

/* Tokenizes every text of f once; returns the seconds taken. */
static double run_file(aitag_tokenizer *t, bench_file *f, uint64_t *terms, uint64_t *words)
{
    counts c = {0};
    uint64_t w = 0;
    aitag_tokenize_stats st;
    aitag_error err = {0};
    double t0 = now_sec();
    for (size_t d = 0; d < f->docs; d++) {
        aitag_status rc = aitag_tokenize(t, f->buf + f->off[d], f->off[d + 1] - f->off[d], count_term, &c, &st, &err);
        if (rc != AITAG_OK) {
            fprintf(stderr, "bench_tokenizer: %s: document %zu: %s\n", f->name, d + 1, err.msg);
            exit(1);
        }
        w += st.words;
    }
    double dt = now_sec() - t0;
    *terms = c.terms;
    *words = w;
    return dt;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Best (smallest) and median of n times; sorts a copy. */
static void best_median(const double *secs, size_t n, double *best, double *median)
{
    double *s = xrealloc(NULL, n * sizeof *s);
    memcpy(s, secs, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    *best = s[0];
    *median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
}

static void print_row(int namew, const char *name, size_t bytes, size_t docs, uint64_t terms, uint64_t words,
                      const double *secs, size_t k)
{
    double best, median;
    best_median(secs, k, &best, &median);
    double mb = (double)bytes / 1e6;
    printf("%-*s %8.2f %8zu %11llu %9.1f %9.1f %9.2f %9.2f\n", namew, name, mb, docs, (unsigned long long)terms,
           best > 0 ? mb / best : 0.0, median > 0 ? mb / median : 0.0, best > 0 ? (double)words / best / 1e6 : 0.0,
           median > 0 ? (double)words / median / 1e6 : 0.0);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_tokenizer [--repeat K] [--words-only] [--shared DIR] [FILE.jsonl...]\n"
                 "  Tokenizes the texts of the files K times (default 5), one thread, and prints\n"
                 "  MB, docs, terms, best and median MB/s and million words/s per file and in total.\n"
                 "  --words-only   word_ngrams = 1 (default parameters otherwise)\n"
                 "  --shared DIR   datasets folder for the default files (else $AITAG_SHARED,\n"
                 "                 else ../shared/datasets)\n");
}

int main(int argc, char **argv)
{
    long repeat = 5;
    int words_only = 0;
    const char *shared = NULL;
    const char **paths = xrealloc(NULL, (size_t)(argc + 3) * sizeof *paths);
    size_t n_paths = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            repeat = strtol(argv[++i], &end, 10);
            if (errno || *end || repeat < 1 || repeat > 1000) {
                fprintf(stderr, "bench_tokenizer: --repeat needs a number from 1 to 1000\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--words-only") == 0) {
            words_only = 1;
        } else if (strcmp(argv[i], "--shared") == 0 && i + 1 < argc) {
            shared = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "bench_tokenizer: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            paths[n_paths++] = argv[i];
        }
    }

    char **owned = NULL;
    size_t n_owned = 0;
    if (n_paths == 0) {
        if (!shared)
            shared = getenv("AITAG_SHARED");
        if (!shared || !*shared)
            shared = "../shared/datasets";
        size_t nd = sizeof default_files / sizeof *default_files;
        owned = xrealloc(NULL, nd * sizeof *owned);
        for (size_t i = 0; i < nd; i++) {
            size_t n = strlen(shared) + strlen(default_files[i]) + 2;
            owned[n_owned] = xrealloc(NULL, n);
            snprintf(owned[n_owned], n, "%s/%s", shared, default_files[i]);
            paths[n_paths++] = owned[n_owned++];
        }
    }

    bench_file *files = calloc(n_paths, sizeof *files);
    if (!files)
        return 1;
    size_t nf = 0;
    for (size_t i = 0; i < n_paths; i++) {
        if (load_file(&files[nf], paths[i]) == 0 && files[nf].docs > 0)
            nf++;
        else if (files[nf].name) {
            fprintf(stderr, "bench_tokenizer: skipping %s: no documents\n", paths[i]);
            free(files[nf].name);
            free(files[nf].buf);
            free(files[nf].off);
            memset(&files[nf], 0, sizeof files[nf]);
        }
    }
    if (nf == 0) {
        fprintf(stderr, "bench_tokenizer: no input files to benchmark\n");
        return 1;
    }

    aitag_tokenizer_params tp = aitag_tokenizer_params_default();
    if (words_only)
        tp.word_ngrams = 1;
    aitag_tokenizer *t = NULL;
    aitag_error err = {0};
    if (aitag_tokenizer_create(&tp, &t, &err) != AITAG_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }

    size_t k = (size_t)repeat;
    double *total_secs = calloc(k, sizeof *total_secs);
    for (size_t f = 0; f < nf; f++)
        files[f].secs = calloc(k, sizeof *files[f].secs);
    /* rounds outermost, so every file sees the same machine conditions */
    for (size_t r = 0; r < k; r++) {
        for (size_t f = 0; f < nf; f++) {
            uint64_t terms, words;
            double dt = run_file(t, &files[f], &terms, &words);
            files[f].secs[r] = dt;
            total_secs[r] += dt;
            if (r > 0 && (terms != files[f].terms || words != files[f].words)) {
                fprintf(stderr, "bench_tokenizer: %s: round %zu gave different counts\n", files[f].name, r + 1);
                return 1;
            }
            files[f].terms = terms;
            files[f].words = words;
        }
    }

    printf("bench_tokenizer: %zu round%s, 1 thread, word_ngrams=%u, char n-grams off\n", k, k == 1 ? "" : "s",
           (unsigned)tp.word_ngrams);
    int namew = 5;
    for (size_t f = 0; f < nf; f++)
        if ((int)strlen(files[f].name) > namew)
            namew = (int)strlen(files[f].name);
    printf("%-*s %8s %8s %11s %9s %9s %9s %9s\n", namew, "file", "MB", "docs", "terms", "best", "median", "best",
           "median");
    printf("%-*s %8s %8s %11s %9s %9s %9s %9s\n", namew, "", "", "", "", "MB/s", "MB/s", "Mwords/s", "Mwords/s");
    size_t tot_bytes = 0, tot_docs = 0;
    uint64_t tot_terms = 0, tot_words = 0;
    for (size_t f = 0; f < nf; f++) {
        print_row(namew, files[f].name, files[f].len, files[f].docs, files[f].terms, files[f].words, files[f].secs, k);
        tot_bytes += files[f].len;
        tot_docs += files[f].docs;
        tot_terms += files[f].terms;
        tot_words += files[f].words;
    }
    print_row(namew, "total", tot_bytes, tot_docs, tot_terms, tot_words, total_secs, k);

    aitag_tokenizer_free(t);
    for (size_t f = 0; f < nf; f++) {
        free(files[f].name);
        free(files[f].buf);
        free(files[f].off);
        free(files[f].secs);
    }
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(files);
    free(total_secs);
    free(paths);
    return 0;
}
