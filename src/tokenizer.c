/*
 * tokenizer.c: UTF-8 bytes -> normalised terms (rules in include/aitag/tokenizer.h).
 *
 * Two paths share one emitter:
 *  - ASCII fast path: a run of ASCII letters and digits is lower-cased with a
 *    table and emitted without calling utf8proc (NFKC and case folding of
 *    ASCII are exactly lower-casing).
 *  - Unicode path: a chunk of non-separator bytes that holds any byte >= 0x80
 *    is decoded (invalid sequences -> U+FFFD), decomposed per code point with
 *    utf8proc_decompose_char, put in canonical order, recomposed with
 *    utf8proc_normalize_utf32 (NFKC + casefold), then segmented by script and
 *    category. Chunks are cut at 64 KiB so memory stays bounded.
 *
 * The emitter keeps the last word_ngrams-1 words for word n-grams and builds
 * character n-grams on demand; all scratch lives in the tokenizer and is
 * reused, so the hot path does not allocate.
 */
#include <pthread.h>
#include <string.h>
#include <utf8proc.h>

#include "aitag/tokenizer.h"
#include "internal.h"

#define CHUNK_MAX (64u * 1024u)
#define WIN_CAP 8192u

enum cp_class { CP_SEP = 0, CP_WORD, CP_CJK, CP_HANGUL, CP_MARK };

struct aitag_tokenizer {
    aitag_tokenizer_params p;
    utf8proc_option_t opts;

    int32_t *cps;          /* code points of the current chunk */
    size_t cps_cap;

    char tok[AITAG_MAX_TOKEN_BYTES + 8]; /* current word, UTF-8 */
    size_t tok_len;
    int tok_overflow;

    /* Word n-grams: the words of the n-gram sequence are written one after
     * another, separated by one space, into a window; an n-gram is then just
     * a slice of it, from the start of its first word to the end of the
     * current one. hist[] holds the window offsets of the last words. */
    char win[WIN_CAP];
    size_t win_len;
    size_t hist[AITAG_MAX_WORD_NGRAMS - 1];
    unsigned hist_count, hist_pos;

    char gram[AITAG_MAX_TOKEN_BYTES + 8]; /* "<word>" for character n-grams */

    aitag_term_fn fn;
    void *ud;
    int stop;
    aitag_tokenize_stats st;
};

static unsigned char ascii_lower[256];
static unsigned char ascii_alnum[256]; /* 1 letter, 2 digit */

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
    for (int c = 0; c < 256; c++) {
        ascii_lower[c] = (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        ascii_alnum[c] = (unsigned char)(((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ? 1
                                         : (c >= '0' && c <= '9')                         ? 2
                                                                                          : 0);
    }
}

aitag_tokenizer_params aitag_tokenizer_params_default(void)
{
    aitag_tokenizer_params p;
    memset(&p, 0, sizeof p);
    p.word_ngrams = 2;
    p.char_ngram_min = 0;
    p.char_ngram_max = 0;
    p.strip_accents = 0;
    p.max_token_bytes = 64;
    return p;
}

const char *aitag_tokenizer_params_check(const aitag_tokenizer_params *p)
{
    if (!p)
        return "tokenizer parameters missing";
    if (p->word_ngrams < 1 || p->word_ngrams > AITAG_MAX_WORD_NGRAMS)
        return "word n-grams must be between 1 and 4";
    if (p->char_ngram_min == 0 && p->char_ngram_max != 0)
        return "character n-grams: give a minimum with the maximum";
    if (p->char_ngram_min > 0 && (p->char_ngram_max < p->char_ngram_min || p->char_ngram_max > 8))
        return "character n-grams: need 1 <= min <= max <= 8";
    if (p->strip_accents != 0 && p->strip_accents != 1)
        return "strip_accents must be 0 or 1";
    if (p->max_token_bytes < 1 || p->max_token_bytes > AITAG_MAX_TOKEN_BYTES)
        return "max token bytes must be between 1 and 255";
    return NULL;
}

int aitag_tokenizer_utf8proc_options(const aitag_tokenizer_params *p)
{
    int o = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE;
    if (p->strip_accents)
        o |= UTF8PROC_STRIPMARK;
    return o;
}

aitag_status aitag_tokenizer_create(const aitag_tokenizer_params *p, aitag_tokenizer **out,
                                    aitag_error *err)
{
    *out = NULL;
    const char *why = aitag_tokenizer_params_check(p);
    if (why)
        return aitag__fail(err, AITAG_INVALID, "%s", why);
    aitag_tokenizer *t = aitag__calloc(1, sizeof *t);
    if (!t)
        return aitag__fail(err, AITAG_NOMEM, "out of memory creating a tokenizer");
    pthread_once(&tables_once, init_tables); /* once: other threads may be reading them */
    t->p = *p;
    t->opts = (utf8proc_option_t)aitag_tokenizer_utf8proc_options(p);
    *out = t;
    return AITAG_OK;
}

void aitag_tokenizer_free(aitag_tokenizer *t)
{
    if (!t)
        return;
    aitag__free(t->cps);
    aitag__free(t);
}

const aitag_tokenizer_params *aitag_tokenizer_params_of(const aitag_tokenizer *t) { return &t->p; }

/* ---- emitter ------------------------------------------------------------ */

static void call(aitag_tokenizer *t, const char *s, size_t n, aitag_term_kind kind)
{
    if (t->stop)
        return;
    t->st.terms++;
    if (t->fn(t->ud, s, n, kind) != 0)
        t->stop = 1;
}

/* Character n-grams of "<word>" by code point, lengths min..max, except the
 * whole bracketed word itself (fastText's subwords). */
static void emit_chargrams(aitag_tokenizer *t, const char *w, size_t n)
{
    size_t starts[AITAG_MAX_TOKEN_BYTES + 3];
    size_t ncp = 0, len = n + 2;
    char *g = t->gram;
    g[0] = '<';
    memcpy(g + 1, w, n);
    g[n + 1] = '>';
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)g[i] & 0xC0) != 0x80)
            starts[ncp++] = i;
    starts[ncp] = len;
    for (size_t i = 0; i < ncp; i++) {
        for (uint32_t k = t->p.char_ngram_min; k <= t->p.char_ngram_max && i + k <= ncp; k++) {
            if (i == 0 && k == ncp)
                continue;
            call(t, g + starts[i], starts[i + k] - starts[i], AITAG_TERM_CHARGRAM);
        }
    }
}

/* Where the next word of the n-gram sequence goes in the window; there is
 * room for a word of AITAG_MAX_TOKEN_BYTES + 1. Slides the window when it is
 * nearly full, keeping only the words the next n-grams still need. */
static char *word_slot(aitag_tokenizer *t)
{
    if (t->win_len + AITAG_MAX_TOKEN_BYTES + 8 > WIN_CAP) {
        const unsigned H = AITAG_MAX_WORD_NGRAMS - 1;
        size_t keep = t->hist_count ? t->hist[(t->hist_pos + H - t->hist_count) % H] : t->win_len;
        memmove(t->win, t->win + keep, t->win_len - keep);
        for (unsigned i = 0; i < H; i++)
            t->hist[i] = t->hist[i] >= keep ? t->hist[i] - keep : 0;
        t->win_len -= keep;
    }
    return t->win + t->win_len;
}

/* Where a word is written before emit_word: the window when it takes part
 * in n-grams (no copy later), else the single-word buffer. */
static char *word_dst(aitag_tokenizer *t)
{
    return t->p.word_ngrams >= 2 ? word_slot(t) : t->tok;
}

/* Emits one word (already normalised) and the n-grams that end with it.
 * w may already be the window's next slot (word_slot), which spares a copy. */
static void emit_word(aitag_tokenizer *t, const char *w, size_t n, aitag_term_kind kind)
{
    if (n > t->p.max_token_bytes) {
        t->st.dropped_long++;
        t->hist_count = 0; /* a dropped word breaks the n-gram sequence */
        return;
    }
    t->st.words++;
    if (t->p.word_ngrams < 2) {
        call(t, w, n, kind);
        if (t->p.char_ngram_min && (kind == AITAG_TERM_WORD || kind == AITAG_TERM_HANGUL))
            emit_chargrams(t, w, n);
        return;
    }
    char *dst = word_slot(t);
    if (dst != w)
        memcpy(dst, w, n);
    call(t, dst, n, kind);
    if (t->p.char_ngram_min && (kind == AITAG_TERM_WORD || kind == AITAG_TERM_HANGUL))
        emit_chargrams(t, dst, n);
    const unsigned H = AITAG_MAX_WORD_NGRAMS - 1;
    /* n-gram of order k = the k-1 previous words + this one: one slice */
    for (unsigned k = 2; k <= t->p.word_ngrams && k - 1 <= t->hist_count; k++) {
        size_t start = t->hist[(t->hist_pos + H - (k - 1)) % H];
        call(t, t->win + start, t->win_len + n - start, AITAG_TERM_NGRAM);
    }
    t->hist[t->hist_pos] = t->win_len;
    t->hist_pos = (t->hist_pos + 1) % H;
    if (t->hist_count < H)
        t->hist_count++;
    t->win_len += n;
    t->win[t->win_len++] = ' ';
}

/* ---- Unicode path ------------------------------------------------------- */

static enum cp_class classify(int32_t c)
{
    if ((c >= 0xAC00 && c <= 0xD7A3) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F) ||
        (c >= 0xA960 && c <= 0xA97F) || (c >= 0xD7B0 && c <= 0xD7FF))
        return CP_HANGUL;
    if ((c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
        (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F) ||
        (c >= 0x30000 && c <= 0x323AF) || c == 0x3005 || c == 0x3007)
        /* U+30A0 (double hyphen) and U+30FB (middle dot) are punctuation inside the kana block */
        return (c == 0x30FB || c == 0x30A0) ? CP_SEP : CP_CJK;
    if ((c >= 0x0E01 && c <= 0x0EFF) || (c >= 0x1000 && c <= 0x109F) || (c >= 0x1780 && c <= 0x17FF)) {
        /* Thai, Lao, Myanmar, Khmer: written without spaces between words, so
         * letters, marks and digits go to character bigrams, as Han does */
        utf8proc_category_t k = utf8proc_category(c);
        return k == UTF8PROC_CATEGORY_LO || k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC ||
                       k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_LM
                   ? CP_CJK
                   : CP_SEP;
    }
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return CP_WORD;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
        return CP_MARK;
    default:
        return CP_SEP;
    }
}

static size_t encode_cps(char *dst, size_t cap, const int32_t *cp, size_t n, int *overflow)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (len + 4 > cap) {
            *overflow = 1;
            return len;
        }
        len += (size_t)utf8proc_encode_char(cp[i], (utf8proc_uint8_t *)dst + len);
    }
    return len;
}

static void emit_cps_word(aitag_tokenizer *t, const int32_t *cp, size_t n, aitag_term_kind kind)
{
    int overflow = 0;
    char *dst = word_dst(t);
    size_t len = encode_cps(dst, AITAG_MAX_TOKEN_BYTES + 4, cp, n, &overflow);
    if (overflow)
        len = t->p.max_token_bytes + 1; /* too long: emit_word counts and drops it */
    emit_word(t, dst, len, kind);
}

static void emit_hangul(aitag_tokenizer *t, const int32_t *cp, size_t n)
{
    emit_cps_word(t, cp, n, AITAG_TERM_HANGUL);
    if (n < 3 || t->stop)
        return;
    char b[16];
    for (size_t i = 0; i + 1 < n; i++) {
        int of = 0;
        size_t len = encode_cps(b, sizeof b, cp + i, 2, &of);
        call(t, b, len, AITAG_TERM_HANGUL_BIGRAM);
    }
}

static void emit_cjk(aitag_tokenizer *t, const int32_t *cp, size_t n)
{
    char b[16];
    int of = 0;
    if (n == 1) {
        emit_word(t, b, encode_cps(b, sizeof b, cp, 1, &of), AITAG_TERM_CJK);
        return;
    }
    for (size_t i = 0; i + 1 < n && !t->stop; i++) {
        size_t len = encode_cps(b, sizeof b, cp + i, 2, &of);
        emit_word(t, b, len, AITAG_TERM_CJK);
    }
}

static void emit_run(aitag_tokenizer *t, enum cp_class cls, const int32_t *cp, size_t n)
{
    if (n == 0)
        return;
    if (cls == CP_HANGUL)
        emit_hangul(t, cp, n);
    else if (cls == CP_CJK)
        emit_cjk(t, cp, n);
    else
        emit_cps_word(t, cp, n, AITAG_TERM_WORD);
}

/* Puts combining marks in canonical order (stable by combining class), as
 * utf8proc_decompose_custom does before composition. A mark moves back at
 * most MAX_REORDER places: real text has a handful of marks per letter, and
 * the bound keeps a crafted run of thousands of marks linear (in the spirit
 * of Unicode's stream-safe format, which caps such runs at 30). */
#define MAX_REORDER 32
static void canonical_order(int32_t *c, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int ci = utf8proc_get_property(c[i])->combining_class;
        if (ci == 0)
            continue;
        size_t j = i;
        while (j > 0 && i - j < MAX_REORDER) {
            int cj = utf8proc_get_property(c[j - 1])->combining_class;
            if (cj <= ci || cj == 0)
                break;
            int32_t tmp = c[j];
            c[j] = c[j - 1];
            c[j - 1] = tmp;
            j--;
        }
    }
}

static aitag_status unicode_chunk(aitag_tokenizer *t, const uint8_t *s, size_t n, aitag_error *err)
{
    size_t m = 0;
    int boundclass = UTF8PROC_BOUNDCLASS_START;
    for (size_t i = 0; i < n;) {
        int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0) {
            c = 0xFFFD;
            k = 1;
            t->st.invalid++;
        }
        i += (size_t)k;
        for (;;) {
            utf8proc_ssize_t room = (utf8proc_ssize_t)(t->cps_cap - m);
            utf8proc_ssize_t r = t->cps_cap ? utf8proc_decompose_char(c, t->cps + m, room, t->opts, &boundclass) : room + 1;
            if (r < 0) { /* cannot happen for a valid code point; be safe */
                r = 0;
                break;
            }
            if (r <= room) {
                m += (size_t)r;
                break;
            }
            if (aitag__grow(&t->cps, &t->cps_cap, m + (size_t)r + 64, sizeof *t->cps) != 0)
                return aitag__fail(err, AITAG_NOMEM, "out of memory normalising text");
        }
    }
    canonical_order(t->cps, m);
    utf8proc_ssize_t r = utf8proc_normalize_utf32(t->cps, (utf8proc_ssize_t)m, t->opts);
    m = r < 0 ? 0 : (size_t)r;

    /* segment */
    enum cp_class run = CP_SEP;
    size_t start = 0;
    for (size_t i = 0; i < m && !t->stop; i++) {
        int32_t c = t->cps[i];
        enum cp_class cls = classify(c);
        /* a '.' or ',' between ASCII digits stays in the number, as on the ASCII path */
        if ((c == '.' || c == ',') && run == CP_WORD && i > 0 && i + 1 < m && t->cps[i - 1] >= '0' &&
            t->cps[i - 1] <= '9' && t->cps[i + 1] >= '0' && t->cps[i + 1] <= '9')
            continue;
        if (cls == CP_MARK) {
            if (run != CP_SEP)
                continue; /* a mark stays with the run it follows */
            cls = CP_WORD;
        }
        if (cls == run)
            continue;
        if (run != CP_SEP)
            emit_run(t, run, t->cps + start, i - start);
        run = cls;
        start = i;
    }
    if (run != CP_SEP && !t->stop)
        emit_run(t, run, t->cps + start, m - start);
    return AITAG_OK;
}

/* ---- driver ------------------------------------------------------------- */

/* Where to end a chunk that reached CHUNK_MAX bytes without an ASCII
 * separator: after the last non-ASCII separator (a space such as U+00A0,
 * CJK punctuation...) in its last 4 KiB, so no word, combining sequence or
 * bigram is split; failing that (one unbroken run), at a code point boundary. */
static size_t chunk_cut(const uint8_t *p, size_t s, size_t e)
{
    size_t from = e - s > 4096 ? e - 4096 : s;
    while (from < e && (p[from] & 0xC0) == 0x80)
        from++;
    size_t best = 0, i = from;
    while (i < e) {
        int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(e - i), &c);
        if (k <= 0) {
            if (e - i < 4)
                break; /* most likely a sequence that goes on past e */
            i++;       /* an invalid byte becomes U+FFFD, itself a separator */
            best = i;
            continue;
        }
        i += (size_t)k;
        if (classify(c) == CP_SEP)
            best = i;
    }
    if (best > s)
        return best;
    size_t cut = e; /* no separator: cut before a lead byte so no sequence is split */
    while (cut > s + 1 && (p[cut] & 0xC0) == 0x80 && e - cut < 4)
        cut--;
    return cut;
}

aitag_status aitag_tokenize(aitag_tokenizer *t, const char *text, size_t len, aitag_term_fn fn,
                            void *ud, aitag_tokenize_stats *stats, aitag_error *err)
{
    const uint8_t *p = (const uint8_t *)text;
    aitag_status rc = AITAG_OK;
    memset(&t->st, 0, sizeof t->st);
    t->fn = fn;
    t->ud = ud;
    t->stop = 0;
    t->hist_count = 0;
    t->hist_pos = 0;
    t->win_len = 0;
    t->st.bytes = len;

    size_t i = 0;
    while (i < len && !t->stop) {
        unsigned c = p[i];
        if (c < 0x80 && !ascii_alnum[c]) {
            if (c == 0)
                t->st.nul_bytes++;
            i++;
            continue;
        }
        size_t s = i;
        if (c < 0x80) {
            /* ASCII word; digits keep an inner '.' or ',' ("3.5", "1,200") */
            while (i < len) {
                unsigned d = p[i];
                if (ascii_alnum[d]) {
                    i++;
                } else if ((d == '.' || d == ',') && ascii_alnum[p[i - 1]] == 2 && i + 1 < len &&
                           ascii_alnum[p[i + 1]] == 2) {
                    i++;
                } else {
                    break;
                }
            }
            if (i >= len || p[i] < 0x80) {
                size_t n = i - s;
                if (n > t->p.max_token_bytes) {
                    emit_word(t, (const char *)p + s, n, AITAG_TERM_WORD); /* counted, dropped */
                    continue;
                }
                char *dst = word_dst(t);
                for (size_t k = 0; k < n; k++)
                    dst[k] = (char)ascii_lower[p[s + k]];
                emit_word(t, dst, n, AITAG_TERM_WORD);
                continue;
            }
            /* a word that goes on past ASCII: redo it on the Unicode path */
        }
        size_t e = s;
        while (e < len && e - s < CHUNK_MAX &&
               (p[e] >= 0x80 || ascii_alnum[p[e]] ||
                ((p[e] == '.' || p[e] == ',') && e > s && ascii_alnum[p[e - 1]] == 2 && e + 1 < len &&
                 ascii_alnum[p[e + 1]] == 2)))
            e++;
        if (e < len && e - s >= CHUNK_MAX)
            e = chunk_cut(p, s, e);
        rc = unicode_chunk(t, p + s, e - s, err);
        if (rc != AITAG_OK)
            break;
        i = e;
    }
    if (stats)
        *stats = t->st;
    if (rc == AITAG_OK && t->stop)
        rc = AITAG_CANCELLED;
    return rc;
}
