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

void aitag_model_free(aitag_model *m)
{
    if (!m)
        return;
    aitag__meta_free(&m->meta);
    aitag__free(m->header);
    aitag__big_free((void *)m->image, m->image_mapped);
    aitag__free(m);
}

/* ---- the one gate ------------------------------------------------------- */

/* The longest run of occupied slots a lookup may have to walk: a table a
 * trained model could have (at most half full) stays far below it. */
#define MAX_PROBE_RUN 512

typedef struct {
    const char *name;
    aitag_error *err;
    const uint8_t *data;       /* the data sections */
    size_t data_size;
    uint32_t version;          /* which checksum the sections carry */
} image_ctx;

static aitag_status check_prefix(const uint8_t *img, size_t size, const char *name, uint64_t *hlen,
                                 uint64_t *data_off, uint32_t *version, aitag_error *err)
{
    if (size < 8 || memcmp(img, AITAG__MAGIC, 8) != 0)
        return aitag__fail(err, AITAG_FORMAT, "%s: not an aitag model (no \"AITAGMDL\" signature)", name);
    if (size < AITAG__PREFIX_SIZE)
        return aitag__fail(err, AITAG_CORRUPT, "%s: truncated model file (%zu bytes, the prefix alone is %d)", name,
                           size, AITAG__PREFIX_SIZE);
    *version = get32(img + 8);
    if (*version > AITAG_MODEL_FORMAT_VERSION)
        return aitag__fail(err, AITAG_VERSION, "%s: model format version %u is newer than this aitag reads (%d); upgrade aitag",
                           name, *version, AITAG_MODEL_FORMAT_VERSION);
    if (*version == 0)
        return aitag__fail(err, AITAG_CORRUPT, "%s: model format version 0 is invalid", name);
    uint64_t hsum = get64(img + 24), fsize = get64(img + 40);
    *hlen = get64(img + 16);
    *data_off = get64(img + 32);
    if (fsize != size)
        return aitag__fail(err, AITAG_CORRUPT, "%s: %s model file: %zu bytes, the header says %llu", name,
                           fsize > size ? "truncated" : "oversized", size, (unsigned long long)fsize);
    if (*hlen == 0 || *hlen > size - AITAG__PREFIX_SIZE || *data_off != align_up(AITAG__PREFIX_SIZE + *hlen) ||
        *data_off > size)
        return aitag__fail(err, AITAG_CORRUPT, "%s: corrupted model prefix (header length %llu, data offset %llu)",
                           name, (unsigned long long)*hlen, (unsigned long long)*data_off);
    if (aitag__checksum_for(*version, img + AITAG__PREFIX_SIZE, *hlen) != hsum)
        return aitag__fail(err, AITAG_CORRUPT, "%s: header checksum mismatch: the file is corrupted", name);
    return AITAG_OK;
}

/* The bytes of the named section, checked against the table; NULL + err. */
static const uint8_t *section(image_ctx *c, const aitag__meta *meta, const char *name, uint64_t want_size,
                              uint64_t *size)
{
    for (size_t i = 0; i < meta->info.n_sections; i++) {
        const aitag_model_section *s = &meta->sections[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (s->offset % AITAG__ALIGN || s->offset > c->data_size || s->size > c->data_size - s->offset) {
            aitag__fail(c->err, AITAG_CORRUPT,
                        "%s: section \"%s\" (offset %llu, size %llu) lies beyond the end of the file (%zu data bytes): truncated or corrupted",
                        c->name, name, (unsigned long long)s->offset, (unsigned long long)s->size, c->data_size);
            return NULL;
        }
        if (want_size != UINT64_MAX && s->size != want_size) {
            aitag__fail(c->err, AITAG_CORRUPT, "%s: section \"%s\" has %llu bytes, the header implies %llu", c->name,
                        name, (unsigned long long)s->size, (unsigned long long)want_size);
            return NULL;
        }
        if (aitag__checksum_for(c->version, c->data + s->offset, s->size) != s->checksum) {
            aitag__fail(c->err, AITAG_CORRUPT, "%s: checksum mismatch in section \"%s\": the file is corrupted", c->name, name);
            return NULL;
        }
        *size = s->size;
        return c->data + s->offset;
    }
    aitag__fail(c->err, AITAG_CORRUPT, "%s: section \"%s\" is missing", c->name, name);
    return NULL;
}

/* Index of the first value of v[0..n) outside [lo, hi] (or NaN), or n. The
 * scan has no early exit, so that it vectorises; only a bad file pays for
 * the second pass that finds the index. */
static uint64_t first_outside(const float *v, uint64_t n, float lo, float hi)
{
    int bad = 0;
    for (uint64_t i = 0; i < n; i++)
        bad |= !(v[i] >= lo && v[i] <= hi);
    if (!bad)
        return n;
    uint64_t i = 0;
    while (v[i] >= lo && v[i] <= hi)
        i++;
    return i;
}

/* Index of the first half of h[0..n) that is infinite or NaN, or n (a
 * finite half is at most 65504, far inside +-AITAG__MAX_ABS). */
static uint64_t first_nonfinite_half(const uint16_t *h, uint64_t n)
{
    unsigned bad = 0;
    for (uint64_t i = 0; i < n; i++)
        bad |= (h[i] & 0x7c00u) == 0x7c00u;
    if (!bad)
        return n;
    uint64_t i = 0;
    while ((h[i] & 0x7c00u) != 0x7c00u)
        i++;
    return i;
}

/* Numbers a crafted file could poison every score with: every idf finite and
 * sensible, every weight finite and within +-AITAG__MAX_ABS, so that a margin
 * (a sum of at most n_features products with an L2-normalised vector) stays finite. */
static aitag_status check_numbers(image_ctx *c, const aitag_model *m)
{
    const uint64_t V = m->n_features, K = m->n_labels;
    const float lim = (float)AITAG__MAX_ABS;
    uint64_t i = first_outside(m->idf, V, m->hash_bits ? 0.0f : 1.0f, lim);
    if (i < V)
        return aitag__fail(c->err, AITAG_CORRUPT, "%s: idf of feature %llu is invalid (%g)", c->name,
                           (unsigned long long)i, (double)m->idf[i]);
    if (m->gate && (i = first_outside(m->gate, V, -lim, lim)) < V)
        return aitag__fail(c->err, AITAG_CORRUPT, "%s: gate weight %llu is not a finite number of sensible size",
                           c->name, (unsigned long long)i);
    if (m->weights16 && (i = first_nonfinite_half(m->weights16, V * K)) < V * K)
        return aitag__fail(c->err, AITAG_CORRUPT, "%s: weight %llu is not a finite number", c->name,
                           (unsigned long long)i);
    if (m->weights && (i = first_outside(m->weights, V * K, -lim, lim)) < V * K)
        return aitag__fail(c->err, AITAG_CORRUPT, "%s: weight %llu is not a finite number of sensible size (%g)",
                           c->name, (unsigned long long)i, (double)m->weights[i]);
    return AITAG_OK;
}

/* 1 if the table (T slots, a power of two) has a run of more than max
 * occupied slots, wrapping around, or no empty slot. Any such run covers
 * one of the slots 0, max, 2 max, ... (T is a multiple of max when T > max;
 * when T <= max, only a full table has one, and it covers slot 0), so only
 * the runs through those slots are walked, each for at most max + 1 slots:
 * a legitimate table (at most half full, short runs) costs a few slots per
 * checkpoint instead of a pass over every slot. */
int aitag__table_has_long_run(const uint32_t *tab, uint64_t T, uint64_t max)
{
    for (uint64_t c = 0; c < T; c += max) {
        if (!tab[2 * c])
            continue;
        uint64_t len = 1;
        for (uint64_t i = (c + 1) & (T - 1); tab[2 * i] && len <= max; i = (i + 1) & (T - 1))
            len++;
        for (uint64_t i = (c + T - 1) & (T - 1); tab[2 * i] && len <= max; i = (i + T - 1) & (T - 1))
            len++;
        if (len > max)
            return 1;
    }
    return 0;
}

static aitag_status check_vocabulary(image_ctx *c, aitag_model *m)
{
    const aitag__meta *meta = &m->meta;
    const uint64_t V = m->n_features;
    uint64_t terms_size, off_size, tab_size;
    const uint8_t *terms = section(c, meta, "terms", UINT64_MAX, &terms_size);
    const uint8_t *offs = terms ? section(c, meta, "term_offsets", (V + 1) * 4, &off_size) : NULL;
    const uint8_t *tabb = offs ? section(c, meta, "term_table", UINT64_MAX, &tab_size) : NULL;
    if (!tabb)
        return c->err->code;
    const uint32_t *off = (const uint32_t *)offs;
    if (off[0] != 0 || off[V] != terms_size)
        return aitag__fail(c->err, AITAG_CORRUPT, "%s: vocabulary offsets do not cover the terms section", c->name);
    /* branch-free passes (they vectorise); only a bad file pays for finding where */
    const uint32_t longest = 4 * AITAG_MAX_TOKEN_BYTES + 8;
    unsigned bad = 0;
    for (uint64_t i = 0; i < V; i++)
        bad |= (off[i + 1] < off[i]) | (off[i + 1] - off[i] > longest);
    for (uint64_t i = 0; bad && i < V; i++)
        if (off[i + 1] < off[i] || off[i + 1] - off[i] > longest)
            return aitag__fail(c->err, AITAG_CORRUPT, "%s: vocabulary offset %llu is out of order", c->name,
                               (unsigned long long)i);
    uint64_t T = tab_size / 8; /* slots of (id + 1, upper 32 bits of the term's hash) */
    if (tab_size % 8 || T < 2 * V || (T & (T - 1)) != 0 || T > ((uint64_t)1 << 31))
        return aitag__fail(c->err, AITAG_CORRUPT, "%s: vocabulary table size %llu is invalid for %llu terms", c->name,
                           (unsigned long long)T, (unsigned long long)V);
    const uint32_t *tab = (const uint32_t *)tabb;
    uint32_t top = 0;
    for (uint64_t i = 0; i < T; i++)
        top = tab[2 * i] > top ? tab[2 * i] : top;
    for (uint64_t i = 0; top > V && i < T; i++)
        if (tab[2 * i] > V)
            return aitag__fail(c->err, AITAG_CORRUPT, "%s: vocabulary table entry %llu is out of range", c->name,
                               (unsigned long long)i);
    if (aitag__table_has_long_run(tab, T, MAX_PROBE_RUN))
        return aitag__fail(c->err, AITAG_CORRUPT,
                           "%s: vocabulary table has a run of more than %d occupied slots: crafted or corrupted",
                           c->name, MAX_PROBE_RUN);
    m->terms = (const char *)terms;
    m->terms_size = terms_size;
    m->term_off = off;
    m->table = tab;
    m->table_size = (uint32_t)T;
    return AITAG_OK;
}

static void copy_hot_fields(aitag_model *m)
{
    const aitag_model_info *i = &m->meta.info;
    m->n_labels = (uint32_t)i->n_labels;
    m->labels = m->meta.labels;
    m->threshold = m->meta.thresholds;
    m->platt_a = m->meta.platt_a;
    m->platt_b = m->meta.platt_b;
    m->bias = m->meta.bias;
    m->single_label = i->single_label;
    m->tok = i->tokenizer;
    m->hash_bits = i->hash_bits;
    m->n_features = i->n_features;
}

/* Every model, trained or loaded, passes here: the prefix, the header's every
 * field, every section's bounds, size and checksum, the numbers and the
 * vocabulary table are checked before anything reads through them, so a
 * file that passes cannot make scoring read out of bounds, loop long or give
 * a non-finite margin. img (from aitag__big_alloc, with AITAG__SLACK zero
 * bytes after size) is owned by the model, or freed on failure. */
static aitag_status model_from_image(const uint8_t *img, size_t size, size_t mapped, const char *name,
                                     aitag_model **out, aitag_error *err)
{
    *out = NULL;
    aitag_error local; /* the helpers report through err; the status must not depend on it being given */
    if (!err)
        err = &local;
    uint64_t hlen = 0, data_off = 0;
    uint32_t version = 0;
    aitag_status rc = check_prefix(img, size, name, &hlen, &data_off, &version, err);
    aitag_model *m = rc == AITAG_OK ? aitag__calloc(1, sizeof *m) : NULL;
    if (rc == AITAG_OK && !m)
        rc = aitag__fail(err, AITAG_NOMEM, "%s: out of memory", name);
    if (rc == AITAG_OK)
        rc = aitag__meta_from_json((const char *)img + AITAG__PREFIX_SIZE, hlen, name, &m->meta, err);
    if (rc == AITAG_OK) {
        m->meta.info.format_version = version;
        copy_hot_fields(m);
        image_ctx c = {name, err, img + data_off, size - data_off, version};
        uint64_t V = m->n_features, K = m->n_labels, n;
        m->idf = (const float *)section(&c, &m->meta, "idf", V * 4, &n);
        const void *w = NULL;
        if (m->idf && version >= 3)
            w = m->weights16 = (const uint16_t *)section(&c, &m->meta, "weights_f16", V * K * 2, &n);
        else if (m->idf)
            w = m->weights = (const float *)section(&c, &m->meta, "weights", V * K * 4, &n);
        if (w && m->meta.info.gate)
            m->gate = (const float *)section(&c, &m->meta, "gate_weights", V * 4, &n);
        rc = !w || (m->meta.info.gate && !m->gate) ? err->code : check_numbers(&c, m);
        if (rc == AITAG_OK && !m->hash_bits)
            rc = check_vocabulary(&c, m);
    }
    if (rc == AITAG_OK && !(m->header = aitag__strndup((const char *)img + AITAG__PREFIX_SIZE, hlen)))
        rc = aitag__fail(err, AITAG_NOMEM, "%s: out of memory", name);
    if (rc != AITAG_OK) {
        aitag_model_free(m);
        aitag__big_free((void *)img, mapped);
        return rc;
    }
    m->image = img;
    m->image_size = size;
    m->image_mapped = mapped;
    *out = m;
    return AITAG_OK;
}

/* ---- loading ----------------------------------------------------------- */

/* Reads exactly size bytes of fd into a new image buffer (with its slack);
 * -1 with errno, or -2 if the file changed size while being read. */
static int read_whole(int fd, size_t size, uint8_t **out, size_t *mapped)
{
    uint8_t *p = aitag__big_alloc(size + AITAG__SLACK, mapped);
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
            aitag__big_free(p, *mapped);
            errno = e;
            return r < 0 ? -1 : -2;
        }
        got += (size_t)r;
    }
    char extra;
    ssize_t r = read(fd, &extra, 1);
    if (r != 0) {
        aitag__big_free(p, *mapped);
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
    size_t mapped = 0;
    int r = read_whole(fd, (size_t)st.st_size, &img, &mapped);
    int e = errno;
    close(fd);
    if (r == -2)
        return aitag__fail(err, AITAG_IO, "%s: the file changed size while being read; try again", path);
    if (r != 0)
        return aitag__fail(err, e == ENOMEM ? AITAG_NOMEM : AITAG_IO, "%s: cannot read the model: %s", path,
                           strerror(e));
    return model_from_image(img, (size_t)st.st_size, mapped, path, out, err);
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
    size_t mapped = 0;
    uint8_t *copy = size <= SIZE_MAX - AITAG__SLACK ? aitag__big_alloc(size + AITAG__SLACK, &mapped) : NULL;
    if (!copy)
        return aitag__fail(err, AITAG_NOMEM, "%s: out of memory", name);
    if (size)
        memcpy(copy, data, size);
    return model_from_image(copy, size, mapped, name, out, err);
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

/* Where a (dangling) symbolic link points, as a path usable from here (a
 * relative target is relative to the link's folder); malloc'd, or NULL. */
static char *link_target(const char *path)
{
    char buf[4096];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    const char *slash = strrchr(path, '/');
    size_t dir = buf[0] == '/' || !slash ? 0 : (size_t)(slash - path + 1);
    char *out = malloc(dir + (size_t)n + 1);
    if (out) {
        memcpy(out, path, dir);
        memcpy(out + dir, buf, (size_t)n + 1);
    }
    return out;
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
            if (!target) /* a dangling link: the new file goes where it points */
                target = link_target(path);
            if (!target)
                return aitag__fail(err, AITAG_IO, "%s: cannot follow the symbolic link", path);
            if (stat(target, &st) != 0)
                st.st_mode = S_IFREG;
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

static void created_at(char *buf, size_t n)
{
    /* SOURCE_DATE_EPOCH makes rebuilt models identical (reproducible builds);
     * a value that is not a date from 1970 to 9999 is ignored */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    char *end = NULL;
    long long v = sde && *sde ? strtoll(sde, &end, 10) : -1;
    time_t t = (end && *end == '\0' && v >= 0 && v <= 253402300799LL) ? (time_t)v : time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, n, "1970-01-01T00:00:00Z");
}

typedef struct {
    const char *name;
    const void *p;
    uint64_t size;
} sec_t;

/* The open-addressing table of a vocabulary: slots of (id + 1, hash >> 32),
 * at most half full. */
static uint32_t *build_table(const aitag__model_spec *s, uint64_t V, uint64_t *T_out)
{
    uint64_t T = 16;
    while (T < 2 * (V + 1))
        T *= 2;
    uint32_t *table = aitag__calloc(2 * T, sizeof *table);
    for (uint64_t id = 0; table && id < V; id++) {
        const char *term = s->terms + s->term_off[id];
        size_t len = s->term_off[id + 1] - s->term_off[id];
        uint64_t h = aitag__hash_bytes(term, len), i = h & (T - 1);
        while (table[2 * i])
            i = (i + 1) & (T - 1);
        table[2 * i] = (uint32_t)id + 1;
        table[2 * i + 1] = (uint32_t)(h >> 32);
    }
    *T_out = T;
    return table;
}

/* prefix + header + sections, as the file holds them */
static uint8_t *lay_out(const char *text, const sec_t *sec, int ns, const aitag__meta *meta, size_t *size_out,
                        size_t *mapped)
{
    size_t hlen = strlen(text), data_off = align_up(AITAG__PREFIX_SIZE + hlen), data_size = 0;
    for (int i = 0; i < ns; i++)
        data_size = align_up(meta->sections[i].offset + sec[i].size);
    size_t size = data_off + data_size;
    uint8_t *img = aitag__big_alloc(size + AITAG__SLACK, mapped);
    if (!img)
        return NULL;
    memcpy(img, AITAG__MAGIC, 8);
    put32(img + 8, AITAG_MODEL_FORMAT_VERSION);
    put64(img + 16, hlen);
    put64(img + 24, aitag__checksum_for(AITAG_MODEL_FORMAT_VERSION, text, hlen));
    put64(img + 32, data_off);
    put64(img + 40, size);
    memcpy(img + AITAG__PREFIX_SIZE, text, hlen);
    for (int i = 0; i < ns; i++)
        if (sec[i].size)
            memcpy(img + data_off + meta->sections[i].offset, sec[i].p, sec[i].size);
    *size_out = size;
    return img;
}

aitag_status aitag__model_assemble(const aitag__model_spec *s, aitag_model **out, aitag_error *err)
{
    *out = NULL;
    aitag__meta *meta = s->meta;
    uint64_t V = meta->info.n_features, K = meta->info.n_labels, T = 0;
    sec_t sec[6];
    int ns = 0;
    uint32_t *table = NULL;
    /* the weights as halves; one beyond the largest half (never seen: a
     * trained weight here stays under 10) is clamped to it */
    uint16_t *w16 = aitag__malloc((V * K > 0 ? V * K : 1) * sizeof *w16);
    if (!w16)
        return aitag__fail(err, AITAG_NOMEM, "out of memory converting the weights");
    for (uint64_t i = 0; i < V * K; i++) {
        float w = s->weights[i];
        w16[i] = aitag__f32_to_f16(w > AITAG__F16_MAX ? AITAG__F16_MAX : w < -AITAG__F16_MAX ? -AITAG__F16_MAX : w);
    }
    if (!meta->info.hash_bits) {
        if (!(table = build_table(s, V, &T))) {
            aitag__free(w16);
            return aitag__fail(err, AITAG_NOMEM, "out of memory building the vocabulary table");
        }
        sec[ns++] = (sec_t){"terms", s->terms, s->term_off[V]};
        sec[ns++] = (sec_t){"term_offsets", s->term_off, (V + 1) * 4};
        sec[ns++] = (sec_t){"term_table", table, T * 8};
    }
    sec[ns++] = (sec_t){"idf", s->idf, V * 4};
    sec[ns++] = (sec_t){"weights_f16", w16, V * K * 2};
    if (meta->info.gate)
        sec[ns++] = (sec_t){"gate_weights", s->gate, V * 4};
    uint64_t off = 0;
    for (int i = 0; i < ns; i++) {
        aitag_model_section *x = &meta->sections[i];
        aitag__meta_set_str(meta->section_names[i], sizeof meta->section_names[i], sec[i].name);
        x->offset = off;
        x->size = sec[i].size;
        x->checksum = aitag__checksum_for(AITAG_MODEL_FORMAT_VERSION, sec[i].p, sec[i].size);
        off = align_up(off + sec[i].size);
    }
    meta->info.n_sections = (size_t)ns;
    meta->info.format_version = AITAG_MODEL_FORMAT_VERSION;
    aitag__meta_set_str(meta->aitag_version, sizeof meta->aitag_version, AITAG_VERSION_STRING);
    created_at(meta->created, sizeof meta->created);
    char *text = aitag__meta_to_json(meta, err);
    size_t size = 0, mapped = 0;
    uint8_t *img = text ? lay_out(text, sec, ns, meta, &size, &mapped) : NULL;
    cJSON_free(text);
    aitag__free(table);
    aitag__free(w16);
    if (!img)
        return text ? aitag__fail(err, AITAG_NOMEM, "out of memory assembling the model") : AITAG_NOMEM;
    return model_from_image(img, size, mapped, "(new model)", out, err);
}
