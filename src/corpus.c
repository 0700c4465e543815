/*
 * corpus.c: line reader with a hard length limit, and the three record
 * formats (rules in include/aitag/corpus.h).
 *
 * The line buffer grows up to max_bytes; a longer line is skipped to its end
 * without being stored, and reported as AITAG_LIMIT.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "aitag/corpus.h"
#include "internal.h"
#include "sbuf.h"

#define READ_CHUNK (256u * 1024u)
#define MAX_LABELS_PER_DOC AITAG_MAX_LABELS_PER_DOC
_Static_assert(MAX_LABELS_PER_DOC == 64, "the messages below say 64");

struct aitag_corpus_reader {
    FILE *fp;
    int own;
    char *name;
    aitag_corpus_params p;
    aitag_input_format fmt;
    char *buf;
    size_t cap, len, pos;
    int eof, first;
    uint64_t line;
    int text_done;
    char idbuf[64];
    aitag_line_parser *lp;   /* parses the lines this reader splits */
};

/* Parser state for one line at a time; the record points into it. */
struct aitag_line_parser {
    cJSON *json;
    char *scratch;
    size_t scratch_cap;
    char idbuf[64];
    char *idnum;             /* a numeric id as written */
    size_t idnum_cap;
    const char *labels[MAX_LABELS_PER_DOC];
    const char *name;        /* for messages: the input's name and line */
    uint64_t line;
};

aitag_status aitag_line_parser_create(aitag_line_parser **out, aitag_error *err)
{
    if (!out)
        return aitag__fail(err, AITAG_INVALID, "aitag_line_parser_create: out is NULL");
    *out = aitag__calloc(1, sizeof **out);
    return *out ? AITAG_OK : aitag__fail(err, AITAG_NOMEM, "out of memory");
}

void aitag_line_parser_free(aitag_line_parser *p)
{
    if (!p)
        return;
    cJSON_Delete(p->json);
    aitag__free(p->scratch);
    aitag__free(p->idnum);
    aitag__free(p);
}

aitag_corpus_params aitag_corpus_params_default(void)
{
    aitag_corpus_params p;
    memset(&p, 0, sizeof p);
    p.format = AITAG_INPUT_AUTO;
    p.max_bytes = (size_t)64 << 20;
    p.labels_required = 0;
    return p;
}

aitag_status aitag_corpus_open_stream(FILE *fp, const char *name, const aitag_corpus_params *p,
                                      aitag_corpus_reader **out, aitag_error *err)
{
    if (!out || !fp || !p)
        return aitag__fail(err, AITAG_INVALID, "aitag_corpus_open_stream: %s is NULL", !out ? "out" : !fp ? "fp" : "p");
    *out = NULL;
    if (!name)
        name = "<stream>";
    if (p->max_bytes < 16)
        return aitag__fail(err, AITAG_INVALID, "the input size limit must be at least 16 bytes");
    aitag_corpus_reader *r = aitag__calloc(1, sizeof *r);
    if (!r || !(r->name = aitag__strndup(name, strlen(name))) || aitag_line_parser_create(&r->lp, err) != AITAG_OK) {
        if (r)
            aitag__free(r->name);
        aitag__free(r);
        return aitag__fail(err, AITAG_NOMEM, "out of memory");
    }
    r->fp = fp;
    r->p = *p;
    r->fmt = p->format;
    r->first = 1;
    *out = r;
    return AITAG_OK;
}

aitag_status aitag_corpus_open(const char *path, const aitag_corpus_params *p, aitag_corpus_reader **out,
                               aitag_error *err)
{
    if (!out || !path || !p)
        return aitag__fail(err, AITAG_INVALID, "aitag_corpus_open: %s is NULL", !out ? "out" : !path ? "path" : "p");
    *out = NULL;
    if (strcmp(path, "-") == 0)
        return aitag_corpus_open_stream(stdin, "<stdin>", p, out, err);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return aitag__fail(err, AITAG_IO, "%s: %s", path, strerror(errno));
    aitag_status rc = aitag_corpus_open_stream(fp, path, p, out, err);
    if (rc != AITAG_OK) {
        fclose(fp);
        return rc;
    }
    (*out)->own = 1;
    return AITAG_OK;
}

void aitag_corpus_close(aitag_corpus_reader *r)
{
    if (!r)
        return;
    if (r->own)
        fclose(r->fp);
    aitag_line_parser_free(r->lp);
    aitag__free(r->buf);
    aitag__free(r->name);
    aitag__free(r);
}

size_t aitag_corpus_buffered(const aitag_corpus_reader *r) { return r ? r->len - r->pos : 0; }

aitag_input_format aitag_corpus_format(const aitag_corpus_reader *r) { return r ? r->fmt : AITAG_INPUT_AUTO; }

/* Reads more input after the unconsumed bytes. 1 = got some, 0 = EOF, -1 = error. */
static int fill(aitag_corpus_reader *r)
{
    if (r->eof)
        return 0;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < READ_CHUNK && aitag__grow(&r->buf, &r->cap, r->len + READ_CHUNK, 1) != 0)
        return -2;
    size_t got;
    int fd = fileno(r->fp);
    if (fd >= 0) {
        /* read(2) returns what a pipe has now; fread would wait to fill the whole buffer */
        ssize_t n;
        for (;;) {
            n = read(fd, r->buf + r->len, r->cap - r->len);
            if (n >= 0)
                break;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* a descriptor left non-blocking (by a parent, say): wait for input */
                struct pollfd pfd = {fd, POLLIN, 0};
                if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                    return -1;
            } else if (errno != EINTR) {
                break;
            }
        }
        if (n < 0)
            return -1;
        got = (size_t)n;
    } else {
        got = fread(r->buf + r->len, 1, r->cap - r->len, r->fp);
        if (got == 0 && ferror(r->fp))
            return -1;
    }
    r->len += got;
    if (got == 0) {
        r->eof = 1;
        return 0;
    }
    return 1;
}

/* Next line without its newline. 1 = line, 0 = end, -1 = I/O error,
 * -2 = out of memory, -3 = line longer than the limit (skipped). */
static int next_line(aitag_corpus_reader *r, char **line, size_t *n)
{
    size_t scanned = 0;
    int too_long = 0;
    for (;;) {
        size_t avail = r->len - r->pos;
        char *s = avail ? r->buf + r->pos : NULL; /* no buffer before the first read */
        char *nl = avail > scanned ? memchr(s + scanned, '\n', avail - scanned) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - s);
            r->pos += len + 1;
            r->line++;
            if (too_long || len > r->p.max_bytes)
                return -3;
            *line = s;
            *n = len;
            return 1;
        }
        if (avail > r->p.max_bytes) {
            /* drop what we have of this line and keep looking for its end */
            too_long = 1;
            r->pos = r->len;
            scanned = 0;
        } else {
            scanned = avail;
        }
        int f = fill(r);
        if (f < 0)
            return f == -1 ? -1 : -2;
        if (f == 0) {
            avail = r->len - r->pos;
            if (avail == 0 && !too_long)
                return 0;
            r->line++;
            *line = r->buf + r->pos;
            *n = avail;
            r->pos = r->len;
            return too_long ? -3 : 1;
        }
    }
}

static int scratch_fit(aitag_line_parser *r, size_t n)
{
    return aitag__grow(&r->scratch, &r->scratch_cap, n, 1);
}

static aitag_status bad(aitag_line_parser *r, aitag_error *err, aitag_status code, const char *what)
{
    return aitag__fail(err, code, "%s:%llu: %s", r->name, (unsigned long long)r->line, what);
}

static aitag_status reader_bad(aitag_corpus_reader *r, aitag_error *err, aitag_status code, const char *what)
{
    return aitag__fail(err, code, "%s:%llu: %s", r->name, (unsigned long long)r->line, what);
}

/* ---- raw JSON scanning --------------------------------------------------
 * cJSON says neither why nor (through a global) where a line is malformed,
 * and it keeps numbers only as doubles. These helpers read the raw line:
 * json_diagnose finds the first error and its reason (called only after
 * cJSON refused the line, so its cost is off the normal path), and
 * find_top_value finds the text of a top-level member (an id number is
 * echoed exactly as written). */

#define JSON_DEPTH_MAX 1000 /* cJSON's CJSON_NESTING_LIMIT */

typedef struct jscan {
    const char *s;
    size_t n, i;
    const char *why; /* first error found */
} jscan;

static int js_fail(jscan *j, const char *why)
{
    if (!j->why)
        j->why = why;
    return -1;
}

/* White space as cJSON skips it: any byte from 1 to 32 (JSON allows only
 * four of them, but the scan must agree with the parser that accepted the line). */
static void js_ws(jscan *j)
{
    while (j->i < j->n && (unsigned char)j->s[j->i] >= 1 && (unsigned char)j->s[j->i] <= 32)
        j->i++;
}

static int js_hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return -1;
        *v = *v * 16 + d;
    }
    return 0;
}

/* A string at j->i (the opening quote). */
static int js_string(jscan *j)
{
    size_t start = j->i++;
    while (j->i < j->n) {
        char c = j->s[j->i];
        if (c == '"') {
            j->i++;
            return 0;
        }
        if (c != '\\') {
            j->i++;
            continue;
        }
        if (j->i + 1 >= j->n)
            break;
        char e = j->s[j->i + 1];
        if (e != 'u') {
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return js_fail(j, "invalid escape in a string (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
            j->i += 2;
            continue;
        }
        unsigned v, w;
        if (j->i + 6 > j->n || js_hex4(j->s + j->i + 2, &v) != 0)
            return js_fail(j, "a \\u escape needs four hexadecimal digits");
        if (v >= 0xDC00 && v <= 0xDFFF)
            return js_fail(j, "lone surrogate: a \\uDC00-\\uDFFF escape without a high surrogate before it");
        if (v >= 0xD800 && v <= 0xDBFF) {
            if (j->i + 12 > j->n || j->s[j->i + 6] != '\\' || j->s[j->i + 7] != 'u' ||
                js_hex4(j->s + j->i + 8, &w) != 0 || w < 0xDC00 || w > 0xDFFF)
                return js_fail(j, "lone surrogate: a \\uD800-\\uDBFF escape must be followed by a \\uDC00-\\uDFFF one");
            j->i += 6;
        }
        j->i += 6;
    }
    j->i = start;
    return js_fail(j, "unterminated string (no closing quote)");
}

static int js_number(jscan *j)
{
    const char *s = j->s;
    size_t i = j->i, n = j->n;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return js_fail(j, "invalid number");
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return js_fail(j, "invalid number (a digit must follow the decimal point)");
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return js_fail(j, "invalid number (a digit must follow the exponent)");
    }
    j->i = i;
    return 0;
}

static int js_value(jscan *j, unsigned depth);

/* An object or array at j->i; close is '}' or ']'. */
static int js_container(jscan *j, unsigned depth, char close)
{
    if (depth >= JSON_DEPTH_MAX)
        return js_fail(j, "nesting too deep (more than 1000 levels of objects and arrays)");
    j->i++;
    js_ws(j);
    if (j->i < j->n && j->s[j->i] == close) {
        j->i++;
        return 0;
    }
    for (;;) {
        js_ws(j);
        if (j->i >= j->n)
            return js_fail(j, close == '}' ? "unterminated object (no closing '}')" : "unterminated array (no closing ']')");
        if (close == '}') {
            if (j->s[j->i] != '"')
                return js_fail(j, "expected a member name in double quotes");
            if (js_string(j) != 0)
                return -1;
            js_ws(j);
            if (j->i >= j->n || j->s[j->i] != ':')
                return js_fail(j, j->i >= j->n ? "unterminated object (no closing '}')" : "expected ':' after a member name");
            j->i++;
        }
        if (js_value(j, depth + 1) != 0)
            return -1;
        js_ws(j);
        if (j->i >= j->n)
            return js_fail(j, close == '}' ? "unterminated object (no closing '}')" : "unterminated array (no closing ']')");
        if (j->s[j->i] == close) {
            j->i++;
            return 0;
        }
        if (j->s[j->i] != ',')
            return js_fail(j, close == '}' ? "expected ',' or '}' after a member" : "expected ',' or ']' after a value");
        size_t comma = j->i++;
        js_ws(j);
        if (j->i < j->n && (j->s[j->i] == '}' || j->s[j->i] == ']')) {
            j->i = comma;
            return js_fail(j, "trailing comma");
        }
    }
}

static int js_value(jscan *j, unsigned depth)
{
    js_ws(j);
    if (j->i >= j->n)
        return js_fail(j, "unexpected end of the line (a value is missing)");
    char c = j->s[j->i];
    if (c == '{' || c == '[')
        return js_container(j, depth, c == '{' ? '}' : ']');
    if (c == '"')
        return js_string(j);
    if (c == '-' || (c >= '0' && c <= '9'))
        return js_number(j);
    static const char *const lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (j->n - j->i >= l && memcmp(j->s + j->i, lits[k], l) == 0) {
            j->i += l;
            return 0;
        }
    }
    if (c == '\'')
        return js_fail(j, "strings take double quotes, not single quotes");
    return js_fail(j, "unexpected character (expected a value: string, number, object, array, true, false or null)");
}

/* The reason and byte offset of the first error in a line cJSON refused;
 * NULL when this scan finds none (then cJSON's own position is used). */
static const char *json_diagnose(const char *s, size_t n, size_t *pos)
{
    jscan j = {s, n, 0, NULL};
    if (js_value(&j, 0) == 0) {
        js_ws(&j);
        if (j.i < n)
            js_fail(&j, "text after the JSON value");
    }
    *pos = j.i;
    return j.why;
}

/* 1-based column of byte offset pos, counted in characters (UTF-8 lead bytes). */
static size_t column_of(const char *s, size_t pos)
{
    size_t col = 1;
    for (size_t i = 0; i < pos; i++)
        col += ((unsigned char)s[i] & 0xC0) != 0x80;
    return col;
}

/* Skips one value of a line cJSON accepted (so it is well formed). */
static void skip_value(jscan *j)
{
    js_ws(j);
    if (j->i >= j->n)
        return;
    char c = j->s[j->i];
    if (c == '"') {
        js_string(j);
        return;
    }
    if (c != '{' && c != '[') {
        while (j->i < j->n && !strchr(",}] \t\r\n", j->s[j->i]))
            j->i++;
        return;
    }
    unsigned depth = 0;
    while (j->i < j->n) {
        c = j->s[j->i];
        if (c == '"') {
            js_string(j);
            continue;
        }
        j->i++;
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return;
    }
}

/* 1 if the JSON string at s[0..n) (without its quotes) decodes to key. */
static int key_is(const char *s, size_t n, const char *key)
{
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        unsigned v = (unsigned char)s[i];
        if (s[i] == '\\' && i + 1 < n) {
            if (s[i + 1] == 'u' && i + 6 <= n && js_hex4(s + i + 2, &v) == 0)
                i += 6;
            else {
                v = (unsigned char)s[i + 1];
                i += 2;
            }
        } else {
            i++;
        }
        if (key[k] == '\0' || (unsigned char)key[k] != v)
            return 0;
    }
    return key[k] == '\0';
}

/* The raw text of the top-level member key of a line cJSON accepted as an
 * object: 0 and [*at, *at + *len), or -1 when there is no such member. */
static int find_top_value(const char *s, size_t n, const char *key, size_t *at, size_t *len)
{
    jscan j = {s, n, 0, NULL};
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        j.i = 3; /* cJSON skips a byte order mark */
    js_ws(&j);
    if (j.i >= n || s[j.i] != '{')
        return -1;
    j.i++;
    for (;;) {
        js_ws(&j);
        if (j.i >= n || s[j.i] != '"')
            return -1;
        size_t k0 = j.i + 1;
        js_string(&j);
        size_t k1 = j.i - 1;
        js_ws(&j);
        if (j.i >= n || s[j.i] != ':')
            return -1;
        j.i++;
        js_ws(&j);
        size_t v0 = j.i;
        skip_value(&j);
        if (k1 >= k0 && key_is(s + k0, k1 - k0, key)) {
            *at = v0;
            *len = j.i - v0;
            return 0;
        }
        js_ws(&j);
        if (j.i >= n || s[j.i] != ',')
            return -1;
        j.i++;
    }
}

/* 1 if the raw JSON line holds the escape \u0000 (cJSON strings end at NUL,
 * so the rest of such a string would be lost silently). */
static int has_nul_escape(const char *s, size_t n)
{
    for (const char *q = s; (q = memchr(q, '\\', (size_t)(s + n - q))) != NULL; q++) {
        size_t i = (size_t)(q - s);
        if (i + 6 > n || memcmp(s + i + 1, "u0000", 5) != 0)
            continue;
        size_t k = 0; /* backslashes before this one: an odd run means it is itself escaped */
        while (k < i && s[i - 1 - k] == '\\')
            k++;
        if (k % 2 == 0)
            return 1;
    }
    return 0;
}

static aitag_status bad_at(aitag_line_parser *r, aitag_error *err, const char *line, size_t pos, const char *what)
{
    return aitag__fail(err, AITAG_PARSE, "%s:%llu: column %zu: %s", r->name, (unsigned long long)r->line,
                       column_of(line, pos), what);
}

/* A line cJSON refused: where and why, as far as the scan can tell. */
static aitag_status json_error(aitag_line_parser *r, aitag_error *err, const char *line, size_t n, const char *end)
{
    size_t pos = 0;
    const char *why = json_diagnose(line, n, &pos);
    if (!why) {
        pos = end && end >= line && end <= line + n ? (size_t)(end - line) : 0;
        why = "not valid JSON";
    }
    return aitag__fail(err, AITAG_PARSE, "%s:%llu: malformed JSON at column %zu: %s", r->name,
                       (unsigned long long)r->line, column_of(line, pos), why);
}

/* A numeric id, kept exactly as written in the line (a double would turn
 * 0.1 into 0.10000000000000001 and 12345678901234567890 into 1.2345678901234567e+19). */
static aitag_status number_id(aitag_line_parser *r, const char *line, size_t n, aitag_record *rec, aitag_error *err)
{
    size_t at, len;
    if (find_top_value(line, n, "id", &at, &len) != 0)
        return bad(r, err, AITAG_PARSE, "\"id\" could not be found in the line");
    jscan j = {line + at, len, 0, NULL};
    if (js_number(&j) != 0 || j.i != len)
        return bad_at(r, err, line, at, "\"id\" is not a valid JSON number");
    if (aitag__grow(&r->idnum, &r->idnum_cap, len + 1, 1) != 0)
        return bad(r, err, AITAG_NOMEM, "out of memory");
    memcpy(r->idnum, line + at, len);
    r->idnum[len] = '\0';
    rec->id = r->idnum;
    rec->id_is_number = 1;
    return AITAG_OK;
}

static aitag_status read_labels(aitag_line_parser *r, const cJSON *labels, aitag_record *rec, aitag_error *err)
{
    if (!cJSON_IsArray(labels))
        return bad(r, err, AITAG_PARSE, "\"labels\" must be an array of strings");
    const cJSON *l;
    cJSON_ArrayForEach(l, labels)
    {
        if (!cJSON_IsString(l))
            return bad(r, err, AITAG_PARSE, "\"labels\" must be an array of strings");
        if (l->valuestring[0] == '\0')
            return bad(r, err, AITAG_PARSE, "\"labels\" contains an empty label");
        if (rec->n_labels == MAX_LABELS_PER_DOC)
            return bad(r, err, AITAG_LIMIT, "more than 64 labels on one document (a fixed limit)");
        r->labels[rec->n_labels++] = l->valuestring;
    }
    rec->labels = r->labels;
    rec->has_labels = 1;
    return AITAG_OK;
}

static aitag_status parse_json(aitag_line_parser *r, const char *line, size_t n, int labels_required,
                               aitag_record *rec, aitag_error *err)
{
    cJSON_Delete(r->json);
    const char *end = NULL;
    r->json = NULL;
    const char *nul = memchr(line, '\0', n);
    if (nul)
        return bad_at(r, err, line, (size_t)(nul - line), "a NUL byte in the line (not valid JSON)");
    r->json = cJSON_ParseWithLengthOpts(line, n, &end, 0);
    if (!r->json)
        return json_error(r, err, line, n, end);
    while (end && end < line + n && (*end == ' ' || *end == '\t' || *end == '\r'))
        end++;
    if (end && end < line + n)
        return bad_at(r, err, line, (size_t)(end - line), "text after the JSON object (one object per line)");
    if (has_nul_escape(line, n))
        return bad(r, err, AITAG_PARSE, "a string contains a NUL character (\\u0000)");
    if (!cJSON_IsObject(r->json))
        return bad(r, err, AITAG_PARSE, "expected a JSON object");
    static const char *const keys[] = {"id", "text", "title", "labels"};
    const cJSON *it;
    int seen[4] = {0};
    cJSON_ArrayForEach(it, r->json)
    {
        for (int k = 0; k < 4; k++) {
            if (it->string && strcmp(it->string, keys[k]) == 0 && seen[k]++) {
                char msg[64];
                snprintf(msg, sizeof msg, "duplicate key \"%s\"", keys[k]);
                return bad(r, err, AITAG_PARSE, msg);
            }
        }
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r->json, "id");
    if (cJSON_IsString(id)) {
        rec->id = id->valuestring;
    } else if (cJSON_IsNumber(id)) {
        aitag_status rc = number_id(r, line, n, rec, err);
        if (rc != AITAG_OK)
            return rc;
    } else if (id && !cJSON_IsNull(id)) {
        return bad(r, err, AITAG_PARSE, "\"id\" must be a string or a number");
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(r->json, "text");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(r->json, "title");
    if (!text)
        return bad(r, err, AITAG_PARSE, "\"text\" is missing");
    if (!cJSON_IsString(text))
        return bad(r, err, AITAG_PARSE, "\"text\" must be a string");
    if (title && !cJSON_IsString(title) && !cJSON_IsNull(title))
        return bad(r, err, AITAG_PARSE, "\"title\" must be a string");
    size_t tl = strlen(text->valuestring);
    if (cJSON_IsString(title) && title->valuestring[0]) {
        size_t hl = strlen(title->valuestring);
        if (scratch_fit(r, hl + tl + 3) != 0)
            return bad(r, err, AITAG_NOMEM, "out of memory");
        memcpy(r->scratch, title->valuestring, hl);
        memcpy(r->scratch + hl, "\n\n", 2);
        memcpy(r->scratch + hl + 2, text->valuestring, tl);
        rec->text = r->scratch;
        rec->text_len = hl + 2 + tl;
    } else {
        rec->text = text->valuestring;
        rec->text_len = tl;
    }
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(r->json, "labels");
    if (!labels || cJSON_IsNull(labels)) {
        if (labels_required)
            return bad(r, err, AITAG_PARSE, "\"labels\" is missing");
        return AITAG_OK;
    }
    aitag_status rc = read_labels(r, labels, rec, err);
    if (rc != AITAG_OK && !labels_required) {
        /* a reader that does not need labels does not refuse an article for them */
        rec->n_labels = 0;
        rec->labels = NULL;
        rec->has_labels = 0;
        return AITAG_OK;
    }
    return rc;
}

/* "__label__a __label__b text": labels are copied NUL-terminated to scratch. */
static aitag_status parse_fasttext(aitag_line_parser *r, const char *line, size_t n, aitag_record *rec,
                                   aitag_error *err)
{
    static const char pfx[] = "__label__";
    const size_t pl = sizeof pfx - 1;
    if (scratch_fit(r, n + 1) != 0)
        return bad(r, err, AITAG_NOMEM, "out of memory");
    size_t i = 0, w = 0;
    rec->has_labels = 1;
    for (;;) {
        while (i < n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (n - i < pl || memcmp(line + i, pfx, pl) != 0)
            break;
        size_t s = i + pl, e = s;
        while (e < n && line[e] != ' ' && line[e] != '\t')
            e++;
        if (e == s)
            return bad(r, err, AITAG_PARSE, "empty fastText label");
        if (memchr(line + s, '\0', e - s))
            return bad(r, err, AITAG_PARSE, "NUL byte in a fastText label");
        if (rec->n_labels == MAX_LABELS_PER_DOC)
            return bad(r, err, AITAG_LIMIT, "more than 64 labels on one document (a fixed limit)");
        memcpy(r->scratch + w, line + s, e - s);
        r->labels[rec->n_labels++] = r->scratch + w;
        w += e - s;
        r->scratch[w++] = '\0';
        i = e;
    }
    rec->labels = r->labels;
    rec->text = line + i;
    rec->text_len = n - i;
    return AITAG_OK;
}

/* Decides the format from the first non-blank bytes, reading as much as it
 * takes (whatever sizes the stream delivers them in). Blanks count against
 * max_bytes: an input whose first max_bytes bytes are all blank is text, so
 * the decision never depends on how much one read happened to return. */
static void resolve_format(aitag_corpus_reader *r)
{
    if (r->fmt != AITAG_INPUT_AUTO)
        return;
    const size_t limit = r->p.max_bytes;
    size_t i = 0;
    for (;;) {
        const char *s = r->len > r->pos ? r->buf + r->pos : "";
        size_t n = r->len - r->pos;
        if (i == 0 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            i = 3;
        while (i < n && i < limit && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
            i++;
        /* decide once 9 bytes past the blanks are here ("__label__"), or at the end */
        if (i >= limit || (i < n && n - i >= 9) || fill(r) <= 0)
            break;
    }
    const char *s = r->len > r->pos ? r->buf + r->pos : "";
    size_t n = r->len - r->pos;
    if (i < limit && i < n && s[i] == '{')
        r->fmt = AITAG_INPUT_JSONL;
    else if (i < limit && n > i && n - i >= 9 && memcmp(s + i, "__label__", 9) == 0)
        r->fmt = AITAG_INPUT_FASTTEXT;
    else
        r->fmt = AITAG_INPUT_TEXT;
}

static aitag_status next_text(aitag_corpus_reader *r, aitag_record *rec, aitag_error *err)
{
    if (r->text_done)
        return AITAG_END;
    r->text_done = 1;
    rec->line = 1;
    rec->id = r->name;
    int f;
    while ((f = fill(r)) > 0) {
        if (r->len > r->p.max_bytes) {
            r->line = 1;
            return reader_bad(r, err, AITAG_LIMIT, "article larger than the input size limit (--max-bytes)");
        }
    }
    if (f == -1)
        return aitag__fail(err, AITAG_IO, "%s: read error: %s", r->name, strerror(errno));
    if (f == -2)
        return aitag__fail(err, AITAG_NOMEM, "%s: out of memory", r->name);
    r->line = 1;
    /* also when the bytes were all read earlier (by format detection) */
    if (r->len > r->p.max_bytes)
        return reader_bad(r, err, AITAG_LIMIT, "article larger than the input size limit (--max-bytes)");
    rec->line = 1;
    rec->id = r->name;
    rec->text = r->buf ? r->buf : "";
    rec->text_len = r->len;
    if (rec->text_len >= 3 && memcmp(rec->text, "\xEF\xBB\xBF", 3) == 0) {
        rec->text += 3;
        rec->text_len -= 3;
    }
    /* CR LF -> LF, in place */
    char *t = r->buf;
    size_t w = 0, start = (size_t)(rec->text - (const char *)r->buf);
    for (size_t i = start; t && i < start + rec->text_len; i++)
        if (!(t[i] == '\r' && i + 1 < start + rec->text_len && t[i + 1] == '\n'))
            t[start + w++] = t[i];
    rec->text_len = w;
    return AITAG_OK;
}

aitag_status aitag_corpus_next_line(aitag_corpus_reader *r, const char **out, size_t *out_n, uint64_t *lineno,
                                    aitag_error *err)
{
    if (!r || !out || !out_n || !lineno)
        return aitag__fail(err, AITAG_INVALID, "aitag_corpus_next_line: an argument is NULL");
    resolve_format(r);
    if (r->fmt == AITAG_INPUT_TEXT)
        return aitag__fail(err, AITAG_INVALID, "%s: a text input is one article, not lines", r->name);
    char *line;
    size_t n;
    int got = next_line(r, &line, &n);
    *lineno = r->line;
    int first = r->first;
    if (got != 0)
        r->first = 0; /* a BOM counts on the first line only, even if that line was refused */
    if (got == 0)
        return AITAG_END;
    if (got == -1)
        return aitag__fail(err, AITAG_IO, "%s: read error: %s", r->name, strerror(errno));
    if (got == -2)
        return aitag__fail(err, AITAG_NOMEM, "%s: out of memory", r->name);
    if (got == -3) {
        char msg[96];
        snprintf(msg, sizeof msg, "line longer than the limit of %zu bytes (--max-bytes)", r->p.max_bytes);
        return reader_bad(r, err, AITAG_LIMIT, msg);
    }
    if (first) {
        if (n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            n -= 3;
        }
    }
    if (n && line[n - 1] == '\r')
        n--;
    *out = line;
    *out_n = n;
    return AITAG_OK;
}

aitag_status aitag_line_parse(aitag_line_parser *p, aitag_input_format fmt, int labels_required, const char *name,
                              uint64_t lineno, const char *line, size_t n, aitag_record *rec, aitag_error *err)
{
    if (!p || !rec || (!line && n))
        return aitag__fail(err, AITAG_INVALID, "aitag_line_parse: %s is NULL", !p ? "the parser" : !rec ? "rec" : "line");
    if (!name)
        name = "<input>";
    memset(rec, 0, sizeof *rec);
    p->name = name;
    p->line = lineno;
    rec->line = lineno;
    aitag__u64_dec(p->idbuf, lineno);
    rec->id = p->idbuf;
    if (fmt != AITAG_INPUT_JSONL && fmt != AITAG_INPUT_FASTTEXT)
        return aitag__fail(err, AITAG_INVALID, "%s: only jsonl and fasttext lines can be parsed", name);
    size_t i = 0;
    while (i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == n) {
        rec->blank = 1;
        return bad(p, err, AITAG_PARSE, "empty line");
    }
    return fmt == AITAG_INPUT_JSONL ? parse_json(p, line, n, labels_required, rec, err)
                                    : parse_fasttext(p, line, n, rec, err);
}

aitag_status aitag_corpus_next(aitag_corpus_reader *r, aitag_record *rec, aitag_error *err)
{
    if (!r || !rec)
        return aitag__fail(err, AITAG_INVALID, "aitag_corpus_next: %s is NULL", !r ? "the reader" : "rec");
    memset(rec, 0, sizeof *rec);
    resolve_format(r);
    if (r->fmt == AITAG_INPUT_TEXT)
        return next_text(r, rec, err);
    const char *line;
    size_t n;
    uint64_t ln;
    aitag_status rc = aitag_corpus_next_line(r, &line, &n, &ln, err);
    if (rc != AITAG_OK) {
        rec->line = ln;
        snprintf(r->idbuf, sizeof r->idbuf, "%llu", (unsigned long long)ln);
        rec->id = r->idbuf;
        return rc;
    }
    return aitag_line_parse(r->lp, r->fmt, r->p.labels_required, r->name, ln, line, n, rec, err);
}

static int ends_with_ci(const char *p, const char *suffix)
{
    size_t n = strlen(p), k = strlen(suffix);
    return n > k && strcasecmp(p + n - k, suffix) == 0;
}

aitag_input_format aitag_input_format_for_path(const char *path)
{
    if (path && (strcmp(path, "-") == 0 || ends_with_ci(path, ".jsonl") || ends_with_ci(path, ".ndjson")))
        return AITAG_INPUT_JSONL;
    return AITAG_INPUT_TEXT;
}
