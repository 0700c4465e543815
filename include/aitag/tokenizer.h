/*
 * tokenizer.h: text -> normalised terms.
 *
 * What the tokenizer does, in order (the exact rules are in src/tokenizer.c):
 *  1. Decodes UTF-8. An invalid byte (overlong form, surrogate, stray
 *     continuation byte, truncated sequence) becomes U+FFFD and is counted.
 *  2. Normalises: NFKC, Unicode case folding, default-ignorable characters
 *     removed (soft hyphen, zero-width space), and optionally combining marks
 *     stripped (accent stripping). ASCII takes a fast path with the same result.
 *  3. Segments by Unicode category: letters, marks and digits form words in any
 *     script; everything else (punctuation, symbols, emoji, spaces, controls,
 *     NUL, U+FFFD) separates them. Apostrophes and hyphens split words
 *     ("l'IA" -> "l", "ia"; "self-driving" -> "self", "driving"); a '.' or ','
 *     between two ASCII digits stays inside a number ("3.5", "1,200").
 *     URLs and e-mail addresses therefore split into their parts
 *     ("nvidia.com" -> "nvidia", "com"). Emoji are dropped.
 *  4. Scripts written without spaces: a run of Han, Hiragana and Katakana
 *     (and, the same way, of Thai, Lao, Khmer or Myanmar letters with their
 *     marks)
 *     becomes overlapping character bigrams (a single character for a run of
 *     one). A Hangul word becomes the whole word plus, for words of three or
 *     more syllables, its syllable bigrams, so "데이터센터에" and "데이터센터를"
 *     share "데이", "이터", "터센", "센터". A change between Hangul, Han/Kana
 *     and any other script ends a word ("AI반도체" -> "ai", "반도체"); other
 *     scripts mixed in one word stay one word ("AIрынок").
 *  5. Emits terms: every word, word n-grams 2..word_ngrams joined by one space,
 *     and optionally fastText-style character n-grams of each word with '<'
 *     and '>' as boundary markers. Hangul syllable bigrams are not part of the
 *     word n-gram sequence; CJK bigrams are.
 *
 * Memory: text is processed in chunks of at most 64 KiB between separators, so
 * the extra memory does not grow with the size of the article. A run of 64 KiB
 * with no separator at all (no space, no punctuation) is cut at a character
 * boundary, which splits the word or bigram at the cut. Combining marks are
 * reordered over at most 32 places (real text needs a handful).
 * Thread-safety: a tokenizer holds scratch buffers; use one per thread.
 */
#ifndef AITAG_TOKENIZER_H
#define AITAG_TOKENIZER_H

#include "aitag/export.h"

#include <stddef.h>
#include <stdint.h>

#include "aitag/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AITAG_MAX_WORD_NGRAMS 4
#define AITAG_MAX_TOKEN_BYTES 255

typedef struct aitag_tokenizer_params {
    uint32_t word_ngrams;     /* word n-grams 1..N; 1 = words only; default 2, max 4 */
    uint32_t char_ngram_min;  /* 0 = no character n-grams (default); else 1..char_ngram_max */
    uint32_t char_ngram_max;  /* at most 8; default 0 */
    int      strip_accents;   /* 1 = remove combining marks after decomposition; default 0 */
    uint32_t max_token_bytes; /* words longer than this (bytes) are dropped; default 64, max 255 */
    /* add new fields here, never in the middle */
} aitag_tokenizer_params;

/* Default parameters (word unigrams and bigrams, no character n-grams). */
AITAG_API aitag_tokenizer_params aitag_tokenizer_params_default(void);

/* NULL if p is usable, else a static message saying which field is wrong. */
AITAG_API const char *aitag_tokenizer_params_check(const aitag_tokenizer_params *p);

typedef enum aitag_term_kind {
    AITAG_TERM_WORD = 1,      /* a word or number, in any script with spaces */
    AITAG_TERM_CJK = 2,       /* a Han/Kana character bigram (or single character) */
    AITAG_TERM_HANGUL = 3,    /* a whole Hangul word */
    AITAG_TERM_HANGUL_BIGRAM = 4, /* a syllable bigram inside a Hangul word */
    AITAG_TERM_NGRAM = 5,     /* a word n-gram, n >= 2, words joined by ' ' */
    AITAG_TERM_CHARGRAM = 6   /* a character n-gram of a word, with '<' '>' markers */
} aitag_term_kind;

/* Called once per term. term is UTF-8, not NUL-terminated, and valid only
 * during the call. Return 0 to go on, anything else to stop tokenizing. */
typedef int (*aitag_term_fn)(void *ud, const char *term, size_t len, aitag_term_kind kind);

typedef struct aitag_tokenize_stats {
    uint64_t bytes;          /* input bytes read */
    uint64_t words;          /* words, CJK bigrams and Hangul words emitted */
    uint64_t terms;          /* all callbacks made */
    uint64_t invalid;        /* invalid UTF-8 sequences replaced by U+FFFD */
    uint64_t nul_bytes;      /* NUL bytes seen (treated as separators) */
    uint64_t dropped_long;   /* words dropped for exceeding max_token_bytes */
} aitag_tokenize_stats;

typedef struct aitag_tokenizer aitag_tokenizer;

/* Creates a tokenizer; *out is owned by the caller (aitag_tokenizer_free). */
AITAG_API aitag_status aitag_tokenizer_create(const aitag_tokenizer_params *p, aitag_tokenizer **out,
                                    aitag_error *err);

/* Frees t; NULL is a no-op. */
AITAG_API void aitag_tokenizer_free(aitag_tokenizer *t);

/* The parameters t was created with. */
AITAG_API const aitag_tokenizer_params *aitag_tokenizer_params_of(const aitag_tokenizer *t);

/* Tokenizes text[0..len) (any bytes; NUL allowed) and calls fn for every term.
 * stats (may be NULL) is filled, not accumulated. Returns AITAG_OK,
 * AITAG_CANCELLED if fn asked to stop, or AITAG_NOMEM. */
AITAG_API aitag_status aitag_tokenize(aitag_tokenizer *t, const char *text, size_t len, aitag_term_fn fn,
                            void *ud, aitag_tokenize_stats *stats, aitag_error *err);

/* The utf8proc option bits used for normalisation (recorded in models). */
AITAG_API int aitag_tokenizer_utf8proc_options(const aitag_tokenizer_params *p);

#ifdef __cplusplus
}
#endif
#endif
