/*
 * model_io.c: model <-> file image (layout in include/aitag/model.h).
 *
 * model_from_image() is the one gate every model passes, whether it was just
 * trained (aitag__model_assemble builds the image in memory) or read from a
 * file (aitag_model_load maps it): it checks the prefix, the header checksum,
 * every header field, every section's bounds, size and checksum, and the
 * vocabulary's offsets and hash table, before anything reads through them.
 * A file that passes cannot make scoring read out of bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "aitag/version.h"
#include "internal.h"
#include "model_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the model format stores raw little-endian floats and hashes: a little-endian host is needed"
#endif

#define MAX_LABELS 65536u
#define TERM_HASH "fnv1a64-words+fmix64"
#define MAX_FEATURES (1u << 30)

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t align_up(size_t x) { return (x + AITAG__ALIGN - 1) & ~(size_t)(AITAG__ALIGN - 1); }

static void release_image(const uint8_t *image, size_t size, int mapped)
{
    if (!image)
        return;
    if (mapped)
        munmap((void *)image, size);
    else
        aitag__free((void *)image);
}

void aitag_model_free(aitag_model *m)
{
    if (!m)
        return;
    for (uint32_t k = 0; m->labels && k < m->n_labels; k++)
        aitag__free(m->labels[k]);
    aitag__free(m->labels);
    aitag__free(m->threshold);
    aitag__free(m->platt_a);
    aitag__free(m->platt_b);
    aitag__free(m->bias);
    aitag__free(m->header);
    release_image(m->image, m->image_size, m->image_mapped);
    aitag__free(m);
}

/* ---- header parsing ---------------------------------------------------- */

typedef struct {
    const char *name;
    aitag_error *err;
} ctx;

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

static int get_uint(ctx *c, const cJSON *o, const char *key, uint64_t max, uint64_t *out)
{
    const cJSON *v = get(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > (double)max ||
        v->valuedouble != floor(v->valuedouble)) {
        aitag__fail(c->err, AITAG_CORRUPT, "%s: header field \"%s\" is missing or not an integer in [0, %llu]",
                    c->name, key, (unsigned long long)max);
        return -1;
    }
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static double *get_doubles(ctx *c, const cJSON *o, const char *key, uint32_t n)
{
    const cJSON *a = get(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != (int)n) {
        aitag__fail(c->err, AITAG_CORRUPT, "%s: header field \"%s\" must be an array of %u numbers", c->name, key, n);
        return NULL;
    }
    double *d = aitag__malloc((n ? n : 1) * sizeof *d);
    if (!d) {
        aitag__fail(c->err, AITAG_NOMEM, "%s: out of memory", c->name);
        return NULL;
    }
    uint32_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
            aitag__free(d);
            aitag__fail(c->err, AITAG_CORRUPT, "%s: header field \"%s\"[%u] is not a finite number", c->name, key, i);
            return NULL;
        }
        d[i++] = v->valuedouble;
    }
    return d;
}

typedef struct {
    uint64_t off, size;
    const uint8_t *p;
} section;

static int get_section(ctx *c, const cJSON *secs, const char *name, const uint8_t *data, size_t data_size,
                       uint64_t want_size, section *out)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, secs)
    {
        const cJSON *n = get(s, "name");
        if (!cJSON_IsString(n) || strcmp(n->valuestring, name) != 0)
            continue;
        uint64_t off, size;
        if (get_uint(c, s, "offset", UINT64_MAX >> 12, &off) || get_uint(c, s, "size", UINT64_MAX >> 12, &size))
            return -1;
        const cJSON *ck = get(s, "checksum");
        if (off % AITAG__ALIGN || off > data_size || size > data_size - off) {
            aitag__fail(c->err, AITAG_CORRUPT,
                        "%s: section \"%s\" (offset %llu, size %llu) lies beyond the end of the file (%zu data bytes): truncated or corrupted",
                        c->name, name, (unsigned long long)off, (unsigned long long)size, data_size);
            return -1;
        }
        if (want_size != UINT64_MAX && size != want_size) {
            aitag__fail(c->err, AITAG_CORRUPT, "%s: section \"%s\" has %llu bytes, the header implies %llu", c->name,
                        name, (unsigned long long)size, (unsigned long long)want_size);
            return -1;
        }
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)aitag__checksum(data + off, size));
        if (!cJSON_IsString(ck) || strcmp(ck->valuestring, hex) != 0) {
            aitag__fail(c->err, AITAG_CORRUPT, "%s: checksum mismatch in section \"%s\": the file is corrupted", c->name, name);
            return -1;
        }
        out->off = off;
        out->size = size;
        out->p = data + off;
        return 0;
    }
    aitag__fail(c->err, AITAG_CORRUPT, "%s: section \"%s\" is missing", c->name, name);
    return -1;
}

static int parse_tokenizer(ctx *c, const cJSON *t, aitag_tokenizer_params *tp)
{
    uint64_t v;
    *tp = aitag_tokenizer_params_default();
    if (!cJSON_IsObject(t)) {
        aitag__fail(c->err, AITAG_CORRUPT, "%s: header has no \"tokenizer\" object", c->name);
        return -1;
    }
    if (get_uint(c, t, "word_ngrams", 16, &v))
        return -1;
    tp->word_ngrams = (uint32_t)v;
    if (get_uint(c, t, "char_ngram_min", 16, &v))
        return -1;
    tp->char_ngram_min = (uint32_t)v;
    if (get_uint(c, t, "char_ngram_max", 16, &v))
        return -1;
    tp->char_ngram_max = (uint32_t)v;
    if (get_uint(c, t, "max_token_bytes", 1024, &v))
        return -1;
    tp->max_token_bytes = (uint32_t)v;
    const cJSON *sa = get(t, "strip_accents");
    if (!cJSON_IsBool(sa)) {
        aitag__fail(c->err, AITAG_CORRUPT, "%s: header field \"strip_accents\" must be true or false", c->name);
        return -1;
    }
    tp->strip_accents = cJSON_IsTrue(sa);
    const char *why = aitag_tokenizer_params_check(tp);
    if (why) {
        aitag__fail(c->err, AITAG_CORRUPT, "%s: tokenizer settings: %s", c->name, why);
        return -1;
    }
    if (get_uint(c, t, "utf8proc_options", UINT32_MAX, &v))
        return -1;
    if (v != (uint64_t)aitag_tokenizer_utf8proc_options(tp)) {
        aitag__fail(c->err, AITAG_FORMAT, "%s: the model was trained with a normalisation (utf8proc options %llu) this aitag does not apply",
                    c->name, (unsigned long long)v);
        return -1;
    }
    return 0;
}

static aitag_status model_from_image(const uint8_t *img, size_t size, int mapped, const char *name,
                                     aitag_model **out, aitag_error *err)
{
    *out = NULL;
    aitag_error local; /* the helpers report through err; the status must not depend on it being given */
    if (!err)
        err = &local;
    ctx c = {name, err};
    aitag_model *m = NULL;
    cJSON *h = NULL;
    aitag_status rc = AITAG_CORRUPT;

    if (size < 8 || memcmp(img, AITAG__MAGIC, 8) != 0) {
        rc = aitag__fail(err, AITAG_FORMAT, "%s: not an aitag model (no \"AITAGMDL\" signature)", name);
        goto fail;
    }
    if (size < AITAG__PREFIX_SIZE) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: truncated model file (%zu bytes, the prefix alone is %d)", name, size,
                         AITAG__PREFIX_SIZE);
        goto fail;
    }
    uint32_t version = get32(img + 8);
    if (version > AITAG_MODEL_FORMAT_VERSION) {
        rc = aitag__fail(err, AITAG_VERSION, "%s: model format version %u is newer than this aitag reads (%d); upgrade aitag",
                         name, version, AITAG_MODEL_FORMAT_VERSION);
        goto fail;
    }
    if (version == 0) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: model format version 0 is invalid", name);
        goto fail;
    }
    uint64_t hlen = get64(img + 16), hsum = get64(img + 24), data_off = get64(img + 32), fsize = get64(img + 40);
    if (fsize != size) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: %s model file: %zu bytes, the header says %llu", name,
                         fsize > size ? "truncated" : "oversized", size, (unsigned long long)fsize);
        goto fail;
    }
    if (hlen == 0 || hlen > size - AITAG__PREFIX_SIZE || data_off != align_up(AITAG__PREFIX_SIZE + hlen) ||
        data_off > size) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: corrupted model prefix (header length %llu, data offset %llu)", name,
                         (unsigned long long)hlen, (unsigned long long)data_off);
        goto fail;
    }
    if (aitag__checksum(img + AITAG__PREFIX_SIZE, hlen) != hsum) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: header checksum mismatch: the file is corrupted", name);
        goto fail;
    }
    h = cJSON_ParseWithLength((const char *)img + AITAG__PREFIX_SIZE, hlen);
    if (!h || !cJSON_IsObject(h)) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: the header is not a JSON object", name);
        goto fail;
    }
    const cJSON *fmt = get(h, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "aitag-model") != 0) {
        rc = aitag__fail(err, AITAG_FORMAT, "%s: header \"format\" is not \"aitag-model\"", name);
        goto fail;
    }

    m = aitag__calloc(1, sizeof *m);
    if (!m) {
        rc = aitag__fail(err, AITAG_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    const cJSON *labels = get(h, "labels");
    int nl = cJSON_IsArray(labels) ? cJSON_GetArraySize(labels) : -1;
    if (nl < 1 || (unsigned)nl > MAX_LABELS) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: header \"labels\" must be an array of 1 to %u strings", name, MAX_LABELS);
        goto fail;
    }
    m->n_labels = (uint32_t)nl;
    m->labels = aitag__calloc(m->n_labels, sizeof *m->labels);
    if (!m->labels) {
        rc = aitag__fail(err, AITAG_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    uint32_t k = 0;
    const cJSON *lv;
    cJSON_ArrayForEach(lv, labels)
    {
        if (!cJSON_IsString(lv) || lv->valuestring[0] == '\0') {
            rc = aitag__fail(err, AITAG_CORRUPT, "%s: label %u is not a non-empty string", name, k);
            goto fail;
        }
        m->labels[k] = aitag__strndup(lv->valuestring, strlen(lv->valuestring));
        if (!m->labels[k++]) {
            rc = aitag__fail(err, AITAG_NOMEM, "%s: out of memory", name);
            goto fail;
        }
    }
    const cJSON *platt = get(h, "platt");
    if (!(m->bias = get_doubles(&c, h, "bias", m->n_labels)) ||
        !(m->threshold = get_doubles(&c, h, "thresholds", m->n_labels)) || !cJSON_IsObject(platt) ||
        !(m->platt_a = get_doubles(&c, platt, "A", m->n_labels)) ||
        !(m->platt_b = get_doubles(&c, platt, "B", m->n_labels))) {
        if (!cJSON_IsObject(platt))
            aitag__fail(err, AITAG_CORRUPT, "%s: header has no \"platt\" object", name);
        rc = err->code;
        goto fail;
    }
    const cJSON *mode = get(h, "mode");
    if (!cJSON_IsString(mode) ||
        (strcmp(mode->valuestring, "single-label") != 0 && strcmp(mode->valuestring, "multi-label") != 0)) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: header \"mode\" must be \"single-label\" or \"multi-label\"", name);
        goto fail;
    }
    m->single_label = strcmp(mode->valuestring, "single-label") == 0;
    if (parse_tokenizer(&c, get(h, "tokenizer"), &m->tok)) {
        rc = err->code;
        goto fail;
    }
    const cJSON *feat = get(h, "features");
    uint64_t nf, hb;
    if (!cJSON_IsObject(feat) || get_uint(&c, feat, "count", MAX_FEATURES, &nf) ||
        get_uint(&c, feat, "hash_bits", 30, &hb)) {
        if (!cJSON_IsObject(feat))
            aitag__fail(err, AITAG_CORRUPT, "%s: header has no \"features\" object", name);
        rc = err->code;
        goto fail;
    }
    const cJSON *wt = get(feat, "weighting");
    if (!cJSON_IsString(wt) || strcmp(wt->valuestring, AITAG__WEIGHTING) != 0) {
        rc = aitag__fail(err, AITAG_FORMAT, "%s: unknown feature weighting (this aitag applies \"%s\")", name, AITAG__WEIGHTING);
        goto fail;
    }
    const cJSON *th = get(feat, "term_hash");
    if (!cJSON_IsString(th) || strcmp(th->valuestring, TERM_HASH) != 0) {
        rc = aitag__fail(err, AITAG_FORMAT, "%s: unknown term hash (this aitag computes \"%s\")", name, TERM_HASH);
        goto fail;
    }
    if (nf == 0 || (hb && (hb < 10 || nf != (1ull << hb)))) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: feature count %llu does not fit hash_bits %llu", name,
                         (unsigned long long)nf, (unsigned long long)hb);
        goto fail;
    }
    m->n_features = (uint32_t)nf;
    m->hash_bits = (uint32_t)hb;

    const uint8_t *data = img + data_off;
    size_t data_size = size - data_off;
    const cJSON *secs = get(h, "sections");
    if (!cJSON_IsArray(secs)) {
        rc = aitag__fail(err, AITAG_CORRUPT, "%s: header has no \"sections\" array", name);
        goto fail;
    }
    section s_idf, s_w;
    uint64_t V = nf, K = m->n_labels;
    if (get_section(&c, secs, "idf", data, data_size, V * 4, &s_idf) ||
        get_section(&c, secs, "weights", data, data_size, V * K * 4, &s_w)) {
        rc = err->code;
        goto fail;
    }
    m->idf = (const float *)s_idf.p;
    m->weights = (const float *)s_w.p;
    /* numbers a crafted file could poison every score with */
    for (uint64_t i = 0; i < V; i++) {
        float f = m->idf[i];
        if (!isfinite(f) || f < 0 || (!hb && f < 1.0f)) {
            rc = aitag__fail(err, AITAG_CORRUPT, "%s: idf of feature %llu is invalid (%g)", name, (unsigned long long)i, (double)f);
            goto fail;
        }
    }
    for (uint64_t i = 0; i < V * K; i++) {
        if (!isfinite(m->weights[i])) {
            rc = aitag__fail(err, AITAG_CORRUPT, "%s: weight %llu is not a finite number", name, (unsigned long long)i);
            goto fail;
        }
    }
    if (!hb) {
        section s_terms, s_off, s_tab;
        if (get_section(&c, secs, "terms", data, data_size, UINT64_MAX, &s_terms) ||
            get_section(&c, secs, "term_offsets", data, data_size, (V + 1) * 4, &s_off) ||
            get_section(&c, secs, "term_table", data, data_size, UINT64_MAX, &s_tab)) {
            rc = err->code;
            goto fail;
        }
        const uint32_t *off = (const uint32_t *)s_off.p;
        if (off[0] != 0 || off[V] != s_terms.size) {
            rc = aitag__fail(err, AITAG_CORRUPT, "%s: vocabulary offsets do not cover the terms section", name);
            goto fail;
        }
        for (uint64_t i = 0; i < V; i++) {
            if (off[i + 1] < off[i] || off[i + 1] - off[i] > 4 * AITAG_MAX_TOKEN_BYTES + 8) {
                rc = aitag__fail(err, AITAG_CORRUPT, "%s: vocabulary offset %llu is out of order", name, (unsigned long long)i);
                goto fail;
            }
        }
        uint64_t T = s_tab.size / 8; /* slots of (id + 1, upper 32 bits of the term's hash) */
        if (s_tab.size % 8 || T <= V || (T & (T - 1)) != 0 || T > (1ull << 32)) {
            rc = aitag__fail(err, AITAG_CORRUPT, "%s: vocabulary table size %llu is invalid", name, (unsigned long long)T);
            goto fail;
        }
        const uint32_t *tab = (const uint32_t *)s_tab.p;
        uint64_t empty = 0;
        for (uint64_t i = 0; i < T; i++) {
            if (tab[2 * i] > V) {
                rc = aitag__fail(err, AITAG_CORRUPT, "%s: vocabulary table entry %llu is out of range", name, (unsigned long long)i);
                goto fail;
            }
            empty += tab[2 * i] == 0;
        }
        if (!empty) {
            rc = aitag__fail(err, AITAG_CORRUPT, "%s: vocabulary table has no empty slot", name);
            goto fail;
        }
        m->terms = (const char *)s_terms.p;
        m->terms_size = s_terms.size;
        m->term_off = off;
        m->table = tab;
        m->table_size = (uint32_t)(T > UINT32_MAX ? 0 : T);
        if (!m->table_size) {
            rc = aitag__fail(err, AITAG_CORRUPT, "%s: vocabulary table too large", name);
            goto fail;
        }
    }
    m->header = aitag__strndup((const char *)img + AITAG__PREFIX_SIZE, hlen);
    if (!m->header) {
        rc = aitag__fail(err, AITAG_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    cJSON_Delete(h);
    m->image = img;
    m->image_size = size;
    m->image_mapped = mapped;
    *out = m;
    return AITAG_OK;
fail:
    cJSON_Delete(h);
    aitag_model_free(m);
    release_image(img, size, mapped);
    return rc;
}

/* ---- loading ----------------------------------------------------------- */

/* Reads exactly size bytes of fd into a new buffer; -1 with errno, or -2 if
 * the file changed size while being read. */
static int read_whole(int fd, size_t size, uint8_t **out)
{
    uint8_t *p = aitag__malloc(size);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, p + got, size - got > (1u << 30) ? (1u << 30) : size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            aitag__free(p);
            errno = e;
            return r < 0 ? -1 : -2;
        }
        got += (size_t)r;
    }
    char extra;
    ssize_t r = read(fd, &extra, 1);
    if (r != 0) {
        aitag__free(p);
        return r < 0 ? -1 : -2;
    }
    *out = p;
    return 0;
}

aitag_status aitag_model_load(const char *path, aitag_model **out, aitag_error *err)
{
    if (!out)
        return aitag__fail(err, AITAG_INVALID, "aitag_model_load: out is NULL");
    *out = NULL;
    if (!path)
        return aitag__fail(err, AITAG_INVALID, "aitag_model_load: path is NULL");
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return aitag__fail(err, AITAG_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return aitag__fail(err, AITAG_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return aitag__fail(err, AITAG_IO, "%s: not a regular file (a model must be a file)", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return aitag__fail(err, AITAG_FORMAT, "%s: empty file, not an aitag model", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX / 2) {
        close(fd);
        return aitag__fail(err, AITAG_LIMIT, "%s: file too large for a model", path);
    }
    /* read, not mapped: a model file replaced or truncated in place while
     * this model is in use cannot take the process down */
    uint8_t *img = NULL;
    int r = read_whole(fd, (size_t)st.st_size, &img);
    int e = errno;
    close(fd);
    if (r == -2)
        return aitag__fail(err, AITAG_IO, "%s: the file changed size while being read; try again", path);
    if (r != 0)
        return aitag__fail(err, e == ENOMEM ? AITAG_NOMEM : AITAG_IO, "%s: cannot read the model: %s", path,
                           strerror(e));
    return model_from_image(img, (size_t)st.st_size, 0, path, out, err);
}

const void *aitag_model_bytes(const aitag_model *m, size_t *size)
{
    if (size)
        *size = m ? m->image_size : 0;
    return m ? m->image : NULL;
}

aitag_status aitag_model_load_bytes(const void *data, size_t size, const char *name, aitag_model **out,
                                    aitag_error *err)
{
    if (!out)
        return aitag__fail(err, AITAG_INVALID, "aitag_model_load_bytes: out is NULL");
    *out = NULL;
    if (!name)
        name = "<memory>";
    if (!data && size)
        return aitag__fail(err, AITAG_INVALID, "%s: no data given", name);
    uint8_t *copy = aitag__malloc(size ? size : 1);
    if (!copy)
        return aitag__fail(err, AITAG_NOMEM, "%s: out of memory", name);
    memcpy(copy, data, size);
    return model_from_image(copy, size, 0, name, out, err);
}

/* ---- saving ------------------------------------------------------------ */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

aitag_status aitag_model_save(const aitag_model *m, const char *path, aitag_error *err)
{
    /* Save over what the path names: a symbolic link keeps pointing at the
     * (replaced) model, and anything but a regular file is refused, so that
     * "-o /dev/stdout" cannot replace a device node or link by a file. */
    char *target = NULL;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            target = realpath(path, NULL);
            if (!target || stat(target, &st) != 0)
                st.st_mode = S_IFREG; /* a dangling link: write where it points */
        }
        if (!S_ISREG(st.st_mode)) {
            free(target);
            return aitag__fail(err, AITAG_IO, "%s: exists and is not a regular file; refusing to replace it", path);
        }
    }
    const char *dest = target ? target : path;
    size_t plen = strlen(dest);
    char *tmp = aitag__malloc(plen + 48);
    char *dir = aitag__strndup(dest, plen);
    if (!tmp || !dir) {
        aitag__free(tmp);
        aitag__free(dir);
        free(target);
        return aitag__fail(err, AITAG_NOMEM, "out of memory");
    }
    aitag_status rc = AITAG_OK;
    /* O_EXCL with mode 0666 lets the umask decide the permissions, as for any new file */
    static unsigned counter;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        snprintf(tmp, plen + 48, "%s.tmp.%ld.%u", dest, (long)getpid(), n);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        rc = aitag__fail(err, AITAG_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        goto done;
    }
    if (write_all(fd, m->image, m->image_size) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        rc = aitag__fail(err, AITAG_IO, "%s: writing the model failed: %s (the previous file is untouched)", path, strerror(e));
        goto done;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        rc = aitag__fail(err, AITAG_IO, "%s: writing the model failed: %s (the previous file is untouched)", path, strerror(e));
        goto done;
    }
    if (rename(tmp, dest) != 0) {
        int e = errno;
        unlink(tmp);
        rc = aitag__fail(err, AITAG_IO, "%s: cannot replace the file: %s (the previous file is untouched)", path, strerror(e));
        goto done;
    }
    /* make the rename itself durable */
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
done:
    aitag__free(tmp);
    aitag__free(dir);
    free(target);
    return rc;
}

/* ---- assembling a trained model ---------------------------------------- */

static cJSON *number_array(const double *v, uint32_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < n; i++) {
        cJSON *x = cJSON_CreateNumber(v[i]);
        if (!x) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

static void created_at(char *buf, size_t n)
{
    /* SOURCE_DATE_EPOCH makes rebuilt models identical (reproducible builds) */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t t = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct {
    const char *name;
    const void *p;
    uint64_t size;
    uint64_t off;
} sec_t;

aitag_status aitag__model_assemble(const aitag__model_spec *s, aitag_model **out, aitag_error *err)
{
    *out = NULL;
    uint64_t V = s->n_features, K = s->n_labels;
    sec_t sec[5];
    int ns = 0;
    uint32_t *table = NULL;
    uint64_t T = 16;
    if (!s->hash_bits) {
        while (T < 2 * (V + 1))
            T *= 2;
        table = aitag__calloc(2 * T, sizeof *table);
        if (!table)
            return aitag__fail(err, AITAG_NOMEM, "out of memory building the vocabulary table");
        for (uint64_t id = 0; id < V; id++) {
            const char *term = s->terms + s->term_off[id];
            size_t len = s->term_off[id + 1] - s->term_off[id];
            uint64_t h = aitag__hash_bytes(term, len), i = h & (T - 1);
            while (table[2 * i])
                i = (i + 1) & (T - 1);
            table[2 * i] = (uint32_t)id + 1;
            table[2 * i + 1] = (uint32_t)(h >> 32);
        }
        sec[ns++] = (sec_t){"terms", s->terms, s->term_off[V], 0};
        sec[ns++] = (sec_t){"term_offsets", s->term_off, (V + 1) * 4, 0};
        sec[ns++] = (sec_t){"term_table", table, T * 8, 0};
    }
    sec[ns++] = (sec_t){"idf", s->idf, V * 4, 0};
    sec[ns++] = (sec_t){"weights", s->weights, V * K * 4, 0};
    uint64_t data_size = 0;
    for (int i = 0; i < ns; i++) {
        sec[i].off = data_size;
        data_size = align_up(data_size + sec[i].size);
    }

    char when[32], hex[17];
    created_at(when, sizeof when);
    cJSON *h = cJSON_CreateObject(), *labels = cJSON_CreateArray(), *untr = cJSON_CreateArray();
    cJSON *tok = cJSON_CreateObject(), *feat = cJSON_Duplicate(s->features_json, 1);
    cJSON *train = cJSON_Duplicate(s->training_json, 1), *secs = cJSON_CreateArray(), *platt = cJSON_CreateObject();
    if (!feat)
        feat = cJSON_CreateObject();
    if (!train)
        train = cJSON_CreateObject();
    for (uint32_t k = 0; labels && k < K; k++)
        cJSON_AddItemToArray(labels, cJSON_CreateString(s->labels[k]));
    for (uint32_t k = 0; untr && k < s->n_untrainable; k++)
        cJSON_AddItemToArray(untr, cJSON_CreateString(s->untrainable[k]));
    if (tok) {
        cJSON_AddStringToObject(tok, "normalization", s->tok.strip_accents ? "NFKC+casefold+ignorable+stripmark"
                                                                           : "NFKC+casefold+ignorable");
        cJSON_AddNumberToObject(tok, "utf8proc_options", aitag_tokenizer_utf8proc_options(&s->tok));
        cJSON_AddBoolToObject(tok, "strip_accents", s->tok.strip_accents);
        cJSON_AddNumberToObject(tok, "word_ngrams", s->tok.word_ngrams);
        cJSON_AddNumberToObject(tok, "char_ngram_min", s->tok.char_ngram_min);
        cJSON_AddNumberToObject(tok, "char_ngram_max", s->tok.char_ngram_max);
        cJSON_AddNumberToObject(tok, "max_token_bytes", s->tok.max_token_bytes);
        cJSON_AddStringToObject(tok, "cjk", "character-bigrams");
        cJSON_AddStringToObject(tok, "hangul", "word+syllable-bigrams");
    }
    if (feat) {
        cJSON_AddStringToObject(feat, "weighting", AITAG__WEIGHTING);
        cJSON_AddNumberToObject(feat, "count", (double)V);
        cJSON_AddNumberToObject(feat, "hash_bits", s->hash_bits);
        cJSON_AddStringToObject(feat, "term_hash", TERM_HASH);
    }
    for (int i = 0; secs && i < ns; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddStringToObject(o, "name", sec[i].name);
        cJSON_AddNumberToObject(o, "offset", (double)sec[i].off);
        cJSON_AddNumberToObject(o, "size", (double)sec[i].size);
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)aitag__checksum(sec[i].p, sec[i].size));
        cJSON_AddStringToObject(o, "checksum", hex);
        cJSON_AddStringToObject(o, "checksum_algorithm", "fnv1a64");
        cJSON_AddItemToArray(secs, o);
    }
    if (platt) {
        cJSON_AddItemToObject(platt, "A", number_array(s->platt_a, (uint32_t)K));
        cJSON_AddItemToObject(platt, "B", number_array(s->platt_b, (uint32_t)K));
    }
    char *text = NULL;
    if (h && labels && untr && tok && feat && train && secs && platt) {
        cJSON_AddStringToObject(h, "format", "aitag-model");
        cJSON_AddNumberToObject(h, "format_version", AITAG_MODEL_FORMAT_VERSION);
        cJSON_AddStringToObject(h, "aitag_version", AITAG_VERSION_STRING);
        cJSON_AddStringToObject(h, "created", when);
        cJSON_AddStringToObject(h, "mode", s->single_label ? "single-label" : "multi-label");
        cJSON_AddItemToObject(h, "labels", labels);
        cJSON_AddItemToObject(h, "untrainable_labels", untr);
        cJSON_AddItemToObject(h, "bias", number_array(s->bias, (uint32_t)K));
        cJSON_AddItemToObject(h, "thresholds", number_array(s->threshold, (uint32_t)K));
        cJSON_AddItemToObject(h, "platt", platt);
        cJSON_AddItemToObject(h, "tokenizer", tok);
        cJSON_AddItemToObject(h, "features", feat);
        cJSON_AddItemToObject(h, "training", train);
        cJSON_AddItemToObject(h, "sections", secs);
        labels = untr = tok = feat = train = secs = platt = NULL;
        text = cJSON_Print(h);
    }
    cJSON_Delete(h);
    cJSON_Delete(labels);
    cJSON_Delete(untr);
    cJSON_Delete(tok);
    cJSON_Delete(feat);
    cJSON_Delete(train);
    cJSON_Delete(secs);
    cJSON_Delete(platt);
    if (!text) {
        aitag__free(table);
        return aitag__fail(err, AITAG_NOMEM, "out of memory writing the model header");
    }
    size_t hlen = strlen(text);
    size_t data_off = align_up(AITAG__PREFIX_SIZE + hlen);
    size_t size = data_off + data_size;
    uint8_t *img = aitag__calloc(1, size);
    if (!img) {
        cJSON_free(text);
        aitag__free(table);
        return aitag__fail(err, AITAG_NOMEM, "out of memory assembling the model (%zu bytes)", size);
    }
    memcpy(img, AITAG__MAGIC, 8);
    put32(img + 8, AITAG_MODEL_FORMAT_VERSION);
    put64(img + 16, hlen);
    put64(img + 24, aitag__checksum(text, hlen));
    put64(img + 32, data_off);
    put64(img + 40, size);
    memcpy(img + AITAG__PREFIX_SIZE, text, hlen);
    cJSON_free(text);
    for (int i = 0; i < ns; i++)
        if (sec[i].size)
            memcpy(img + data_off + sec[i].off, sec[i].p, sec[i].size);
    aitag__free(table);
    return model_from_image(img, size, 0, "(new model)", out, err);
}
