/*
 * check_model.c: the `model` suite. Saving and loading (byte-for-byte round
 * trips, atomic replacement), every way a model file can be refused
 * (empty, foreign, truncated, bit-flipped, newer, inconsistent header), and
 * the classification API on top of a model: aitag_decide, probabilities,
 * aitag_explain, label lookup and the default model path.
 *
 * Damaged headers are made by re-assembling the image from a modified JSON
 * header with a correct header checksum (layout in include/aitag/model.h),
 * so the loader's field checks are reached, not just its checksum.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "aitag/aitag.h"
#include "check_suites.h"
#include "internal.h"
#include "model_internal.h"

/* ---- helpers ----------------------------------------------------------- */

static char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void make_tmpdir(char *buf, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/aitag-model-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* Removes dir and the plain files in it. */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[1200];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Number of entries of dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

typedef struct corpus_doc {
    const char *text;
    const char *labels[3];
} corpus_doc;

/* A small multi-label corpus (two labels on some documents), written here so
 * the model is tiny and every byte of it can be flipped quickly. */
static const corpus_doc small_corpus[] = {
    {"the rocket reached orbit and the satellite deployed its antenna", {"space"}},
    {"engineers tested the rocket engine before the launch to orbit", {"space"}},
    {"the satellite antenna sends images of the planet from orbit", {"space"}},
    {"the launch of the rocket was delayed by strong wind", {"space", "weather"}},
    {"heavy rain and strong wind are expected along the coast tonight", {"weather"}},
    {"the forecast says rain will turn to snow in the hills", {"weather"}},
    {"snow and ice closed the mountain roads after the storm", {"weather"}},
    {"a storm with rain and wind delayed the satellite launch", {"weather", "space"}},
    {"the bakery sells fresh bread and sweet pastries every morning", {"food"}},
    {"bake the bread with butter and serve it with fresh cheese", {"food"}},
    {"the cheese and the pastries sold out at the bakery", {"food"}},
    {"in the storm the bakery ran out of bread and cheese", {"food", "weather"}},
};
#define N_SMALL ((int)(sizeof small_corpus / sizeof small_corpus[0]))

static size_t n_labels_of(const corpus_doc *d)
{
    size_t n = 0;
    while (n < 3 && d->labels[n])
        n++;
    return n;
}

/* Trains on the small corpus. folds 0 keeps it instant; folds 3 gives tuned
 * thresholds and fitted Platt sigmoids. */
static aitag_model *small_model_opts(uint32_t folds, const aitag_tokenizer_params *tp, int single)
{
    aitag_dataset *d = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_dataset_create(tp, 0, &d, &err), AITAG_OK);
    for (int i = 0; i < N_SMALL; i++) {
        const corpus_doc *c = &small_corpus[i];
        size_t nl = single ? 1 : n_labels_of(c);
        ck_assert_int_eq(aitag_dataset_add(d, c->text, strlen(c->text), c->labels, nl, &err), AITAG_OK);
    }
    aitag_train_params p = aitag_train_params_default();
    p.folds = folds;
    p.threads = 1;
    aitag_model *m = NULL;
    aitag_status st = aitag_train(d, &p, NULL, NULL, &m, NULL, &err);
    ck_assert_msg(st == AITAG_OK, "training: %s", err.msg);
    aitag_dataset_free(d);
    return m;
}

static aitag_model *small_model(uint32_t folds)
{
    aitag_tokenizer_params tp = aitag_tokenizer_params_default();
    tp.word_ngrams = 1;
    return small_model_opts(folds, &tp, 0);
}

static aitag_model *load_ok(const void *img, size_t n)
{
    aitag_model *m = NULL;
    aitag_error err = {0};
    aitag_status st = aitag_model_load_bytes(img, n, "small.aitag", &m, &err);
    ck_assert_msg(st == AITAG_OK, "load: %s", err.msg);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Loads bytes that must be refused with status want (or any refusal when
 * want is AITAG_OK), and checks the message names the file. */
static void expect_refused(const void *img, size_t n, aitag_status want, const char *what)
{
    aitag_model *m = (aitag_model *)1;
    aitag_error err = {0};
    aitag_status st = aitag_model_load_bytes(img, n, "bad-model.aitag", &m, &err);
    ck_assert_msg(st != AITAG_OK, "%s: was accepted", what);
    if (want != AITAG_OK)
        ck_assert_msg(st == want, "%s: got %s (%s), want %s", what, aitag_status_str(st), err.msg,
                      aitag_status_str(want));
    ck_assert_ptr_null(m);
    ck_assert_int_eq(err.code, st);
    ck_assert_msg(strstr(err.msg, "bad-model.aitag") != NULL, "%s: message does not name the file: %s", what,
                  err.msg);
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

/* A copy of the model's file image. */
static uint8_t *image_of(const aitag_model *m, size_t *n)
{
    *n = m->image_size;
    uint8_t *p = malloc(*n);
    ck_assert_ptr_nonnull(p);
    memcpy(p, m->image, *n);
    return p;
}

static cJSON *header_of_image(const uint8_t *img)
{
    uint64_t hlen = get64(img + 16);
    cJSON *h = cJSON_ParseWithLength((const char *)img + AITAG__PREFIX_SIZE, hlen);
    ck_assert_ptr_nonnull(h);
    return h;
}

/* Re-assembles an image: the prefix of img, header h (any JSON), and the
 * data bytes (data_len of them), with lengths, offsets and the header
 * checksum made consistent. */
static uint8_t *assemble(const uint8_t *img, const cJSON *h, const uint8_t *data, size_t data_len, size_t *n)
{
    char *text = cJSON_Print(h);
    ck_assert_ptr_nonnull(text);
    size_t hlen = strlen(text);
    size_t off = (AITAG__PREFIX_SIZE + hlen + AITAG__ALIGN - 1) / AITAG__ALIGN * AITAG__ALIGN;
    *n = off + data_len;
    uint8_t *out = calloc(1, *n);
    ck_assert_ptr_nonnull(out);
    memcpy(out, img, AITAG__PREFIX_SIZE);
    put64(out + 16, hlen);
    put64(out + 24, aitag__checksum_for(get32(img + 8), text, hlen));
    put64(out + 32, off);
    put64(out + 40, *n);
    memcpy(out + AITAG__PREFIX_SIZE, text, hlen);
    memcpy(out + off, data, data_len);
    free(text);
    return out;
}

static const uint8_t *data_of(const uint8_t *img, size_t n, size_t *len)
{
    uint64_t off = get64(img + 32);
    *len = n - off;
    return img + off;
}

static cJSON *section_entry(cJSON *h, const char *name)
{
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(h, "sections"))
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(s, "name");
        if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0)
            return s;
    }
    ck_abort_msg("no section %s", name);
    return NULL;
}

static void set_number(cJSON *o, const char *key, double v)
{
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(it != NULL, "no field %s", key);
    cJSON_SetNumberValue(it, v);
}

/* Recomputes the checksum of section name after its bytes were edited. */
static void fix_section_checksum(cJSON *h, const char *name, const uint8_t *data)
{
    cJSON *s = section_entry(h, name);
    uint64_t off = (uint64_t)cJSON_GetObjectItemCaseSensitive(s, "offset")->valuedouble;
    uint64_t size = (uint64_t)cJSON_GetObjectItemCaseSensitive(s, "size")->valuedouble;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)aitag__checksum_for(AITAG_MODEL_FORMAT_VERSION, data + off, size));
    cJSON_ReplaceItemInObjectCaseSensitive(s, "checksum", cJSON_CreateString(hex));
}

static uint8_t *section_bytes(cJSON *h, const char *name, uint8_t *data, size_t *size)
{
    cJSON *s = section_entry(h, name);
    *size = (size_t)cJSON_GetObjectItemCaseSensitive(s, "size")->valuedouble;
    return data + (size_t)cJSON_GetObjectItemCaseSensitive(s, "offset")->valuedouble;
}

/* The small model's image taken apart for editing: its header and a copy of
 * its data sections; edited_image() puts them back together (checksums of
 * the prefix and header made right; a section's own by fix_section_checksum). */
typedef struct edit_img {
    uint8_t *img;       /* the image as trained */
    size_t dl;          /* bytes of data sections */
    uint8_t *data;      /* their editable copy */
    cJSON *h;           /* the header */
    uint32_t V;         /* features */
} edit_img;

static void edit_begin(edit_img *e)
{
    aitag_model *m = small_model(0);
    size_t n;
    e->img = image_of(m, &n);
    e->V = (uint32_t)aitag_model_num_features(m);
    aitag_model_free(m);
    const uint8_t *data0 = data_of(e->img, n, &e->dl);
    e->data = malloc(e->dl);
    ck_assert_ptr_nonnull(e->data);
    memcpy(e->data, data0, e->dl);
    e->h = header_of_image(e->img);
}

static uint8_t *edited_image(const edit_img *e, size_t *n) { return assemble(e->img, e->h, e->data, e->dl, n); }

static void edit_end(edit_img *e)
{
    cJSON_Delete(e->h);
    free(e->data);
    free(e->img);
}

/* Margins of text under m (K values, caller frees). */
static double *margins_of(const aitag_model *m, const char *text)
{
    aitag_classifier *c = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_classifier_create(m, &c, &err), AITAG_OK);
    aitag_features x;
    ck_assert_int_eq(aitag_featurize(c, text, strlen(text), &x, NULL, &err), AITAG_OK);
    double *mg = calloc(aitag_model_num_labels(m), sizeof *mg);
    aitag_score(c, &x, mg);
    aitag_classifier_free(c);
    return mg;
}

static double header_number_at(const aitag_model *m, const char *obj, const char *key, size_t k)
{
    cJSON *h = cJSON_Parse(aitag_model_header(m));
    ck_assert_ptr_nonnull(h);
    const cJSON *o = obj ? cJSON_GetObjectItemCaseSensitive(h, obj) : h;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert(cJSON_IsArray(a));
    const cJSON *v = cJSON_GetArrayItem(a, (int)k);
    ck_assert(cJSON_IsNumber(v));
    double d = v->valuedouble;
    cJSON_Delete(h);
    return d;
}

/* The small multi-label model with its thresholds replaced (header edited,
 * checksum fixed), so decisions can be checked against known cuts. */
static aitag_model *model_with_thresholds(const double thr[3])
{
    aitag_model *m = small_model(0);
    ck_assert_uint_eq(aitag_model_num_labels(m), 3);
    size_t n, dl, n2;
    uint8_t *img = image_of(m, &n);
    aitag_model_free(m);
    const uint8_t *data = data_of(img, n, &dl);
    cJSON *h = header_of_image(img);
    cJSON_ReplaceItemInObjectCaseSensitive(h, "thresholds", cJSON_CreateDoubleArray(thr, 3));
    uint8_t *edited = assemble(img, h, data, dl, &n2);
    cJSON_Delete(h);
    m = load_ok(edited, n2);
    free(edited);
    free(img);
    for (size_t k = 0; k < 3; k++)
        ck_assert(header_number_at(m, NULL, "thresholds", k) == thr[k]);
    return m;
}

/* ---- save / load round trip -------------------------------------------- */

static const char *probe_texts[] = {
    "the rocket launch to orbit",
    "rain and snow in the storm",
    "fresh bread and cheese from the bakery",
    "wind delayed the satellite and the bakery closed",
    "nothing known here at all",
};

START_TEST(round_trip_is_byte_for_byte)
{
    aitag_model *m = small_model(3);
    char dir[512], a[600], b[600];
    make_tmpdir(dir, sizeof dir);
    snprintf(a, sizeof a, "%s/a.aitag", dir);
    snprintf(b, sizeof b, "%s/b.aitag", dir);
    aitag_error err = {0};
    ck_assert_int_eq(aitag_model_save(m, a, &err), AITAG_OK);

    aitag_model *back = NULL;
    ck_assert_int_eq(aitag_model_load(a, &back, &err), AITAG_OK);
    ck_assert_int_eq(aitag_model_save(back, b, &err), AITAG_OK);
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_uint_eq(na, m->image_size);
    ck_assert(memcmp(x, y, na) == 0);
    ck_assert(memcmp(x, m->image, na) == 0);

    /* the same model: labels, features, header, tokenizer, decisions */
    ck_assert_uint_eq(aitag_model_num_labels(back), aitag_model_num_labels(m));
    ck_assert_uint_eq(aitag_model_num_features(back), aitag_model_num_features(m));
    ck_assert_int_eq(aitag_model_is_single_label(back), aitag_model_is_single_label(m));
    ck_assert_str_eq(aitag_model_header(back), aitag_model_header(m));
    ck_assert(memcmp(aitag_model_tokenizer_params(back), aitag_model_tokenizer_params(m),
                     sizeof(aitag_tokenizer_params)) == 0);
    size_t K = aitag_model_num_labels(m);
    for (size_t k = 0; k < K; k++)
        ck_assert_str_eq(aitag_model_label(back, k), aitag_model_label(m, k));
    for (size_t i = 0; i < sizeof probe_texts / sizeof probe_texts[0]; i++) {
        double *m1 = margins_of(m, probe_texts[i]), *m2 = margins_of(back, probe_texts[i]);
        uint32_t t1[8], t2[8];
        double p1[8], p2[8];
        ck_assert(memcmp(m1, m2, K * sizeof *m1) == 0);
        size_t n1 = aitag_decide(m, m1, NULL, t1, p1), n2 = aitag_decide(back, m2, NULL, t2, p2);
        ck_assert_uint_eq(n1, n2);
        ck_assert(memcmp(t1, t2, n1 * sizeof *t1) == 0);
        ck_assert(memcmp(p1, p2, K * sizeof *p1) == 0);
        free(m1);
        free(m2);
    }
    /* and from bytes in memory */
    aitag_model *mem = load_ok(x, na);
    ck_assert(memcmp(mem->image, x, na) == 0);
    aitag_model_free(mem);

    free(x);
    free(y);
    aitag_model_free(back);
    aitag_model_free(m);
    rm_tree(dir);
}
END_TEST

START_TEST(save_replaces_an_existing_file)
{
    aitag_model *m1 = small_model(0), *m2 = small_model(3);
    ck_assert(m1->image_size != m2->image_size || memcmp(m1->image, m2->image, m1->image_size) != 0);
    char dir[512], path[600];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.aitag", dir);
    aitag_error err = {0};
    ck_assert_int_eq(aitag_model_save(m1, path, &err), AITAG_OK);
    ck_assert_int_eq(aitag_model_save(m2, path, &err), AITAG_OK);
    size_t n;
    char *got = slurp(path, &n);
    ck_assert_uint_eq(n, m2->image_size);
    ck_assert(memcmp(got, m2->image, n) == 0);
    ck_assert_int_eq(count_prefixed(dir, "model.aitag.tmp"), 0); /* no temporary left behind */
    free(got);
    aitag_model_free(m1);
    aitag_model_free(m2);
    rm_tree(dir);
}
END_TEST

/* ---- atomic save ------------------------------------------------------- */

START_TEST(save_into_missing_directory_fails_with_io)
{
    aitag_model *m = small_model(0);
    char dir[512], path[700], file[600];
    make_tmpdir(dir, sizeof dir);
    aitag_error err = {0};

    snprintf(path, sizeof path, "%s/no-such-dir/model.aitag", dir);
    ck_assert_int_eq(aitag_model_save(m, path, &err), AITAG_IO);
    ck_assert_int_eq(err.code, AITAG_IO);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_int_eq(access(path, F_OK), -1);

    /* a parent that is a regular file: stops root as well as anyone */
    snprintf(file, sizeof file, "%s/plain-file", dir);
    spit(file, "not a directory\n", 16);
    snprintf(path, sizeof path, "%s/plain-file/model.aitag", dir);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(aitag_model_save(m, path, &err), AITAG_IO);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    size_t n;
    char *still = slurp(file, &n);
    ck_assert_uint_eq(n, 16);
    ck_assert(memcmp(still, "not a directory\n", 16) == 0);
    free(still);

    aitag_model_free(m);
    rm_tree(dir);
}
END_TEST

/* A failed save leaves the existing model at the path as it was. */
START_TEST(failed_save_leaves_existing_model_untouched)
{
    aitag_model *good = small_model(0), *bigger = small_model(3);
    ck_assert_uint_gt(bigger->image_size, 2048);
    char dir[512], path[600];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.aitag", dir);
    aitag_error err = {0};
    ck_assert_int_eq(aitag_model_save(good, path, &err), AITAG_OK);

    /* 1: writing the new file stops with EFBIG at the file-size limit (a
     * limit binds root too). No Check call may run while it is set: Check
     * writes its own messages to a file. */
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 1024;
    int set = setrlimit(RLIMIT_FSIZE, &lim);
    aitag_status st = aitag_model_save(bigger, path, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    ck_assert_int_eq(set, 0);
    ck_assert_msg(st == AITAG_IO, "save past the file-size limit: %s (%s)", aitag_status_str(st), err.msg);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    size_t n;
    char *now = slurp(path, &n);
    ck_assert_uint_eq(n, good->image_size);
    ck_assert(memcmp(now, good->image, n) == 0);
    free(now);
    ck_assert_int_eq(count_prefixed(dir, "model.aitag.tmp"), 0);

    /* 2: the target is a directory: the rename fails and it stays as it was */
    char sub[700], inner[800];
    snprintf(sub, sizeof sub, "%s/taken", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    snprintf(inner, sizeof inner, "%s/keep.txt", sub);
    spit(inner, "keep", 4);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(aitag_model_save(good, sub, &err), AITAG_IO);
    ck_assert_msg(strstr(err.msg, sub) != NULL, "message does not name the file: %s", err.msg);
    struct stat sb;
    ck_assert_int_eq(stat(sub, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(access(inner, F_OK), 0);
    ck_assert_int_eq(count_prefixed(dir, "taken.tmp"), 0);
    unlink(inner);
    rmdir(sub);

    aitag_model_free(good);
    aitag_model_free(bigger);
    rm_tree(dir);
}
END_TEST

/* ---- refusals: files --------------------------------------------------- */

START_TEST(empty_and_foreign_files_are_refused)
{
    char dir[512], path[600];
    make_tmpdir(dir, sizeof dir);
    aitag_model *m = (aitag_model *)1;
    aitag_error err = {0};

    snprintf(path, sizeof path, "%s/empty.aitag", dir);
    spit(path, "", 0);
    ck_assert_int_eq(aitag_model_load(path, &m, &err), AITAG_FORMAT);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);

    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                        0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89};
    snprintf(path, sizeof path, "%s/picture.png", dir);
    spit(path, png, sizeof png);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(aitag_model_load(path, &m, &err), AITAG_FORMAT);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);

    snprintf(path, sizeof path, "%s/notes.txt", dir);
    const char *text = "This is a plain text file, long enough to fill a whole model prefix of sixty-four bytes.\n";
    spit(path, text, strlen(text));
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(aitag_model_load(path, &m, &err), AITAG_FORMAT);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);

    /* missing file and a directory: I/O errors naming the path */
    snprintf(path, sizeof path, "%s/missing.aitag", dir);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(aitag_model_load(path, &m, &err), AITAG_IO);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(aitag_model_load(dir, &m, &err), AITAG_IO);
    ck_assert_msg(strstr(err.msg, dir) != NULL, "%s", err.msg);

    /* the same through load_bytes */
    expect_refused("", 0, AITAG_FORMAT, "0 bytes");
    expect_refused(png, sizeof png, AITAG_FORMAT, "PNG");
    expect_refused(text, strlen(text), AITAG_FORMAT, "text");
    rm_tree(dir);
}
END_TEST

START_TEST(every_truncation_is_refused)
{
    aitag_model *m = small_model(0);
    size_t n;
    uint8_t *img = image_of(m, &n);
    aitag_model_free(m);
    for (size_t len = 0; len < n; len++) {
        aitag_model *got = (aitag_model *)1;
        aitag_error err = {0};
        /* a fresh heap copy of exactly len bytes, so ASan sees any over-read */
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, img, len);
        aitag_status st = aitag_model_load_bytes(cut, len, "cut.aitag", &got, &err);
        free(cut);
        ck_assert_msg(st == AITAG_FORMAT || st == AITAG_CORRUPT, "truncated to %zu of %zu bytes: %s", len, n,
                      aitag_status_str(st));
        ck_assert_ptr_null(got);
        ck_assert_msg(strstr(err.msg, "cut.aitag") != NULL, "at %zu: %s", len, err.msg);
    }
    /* the full image still loads: the loop above was not refusing everything */
    aitag_model_free(load_ok(img, n));

    /* the same through a mapped file */
    char dir[512], path[600];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/cut.aitag", dir);
    size_t cuts[] = {7, 63, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spit(path, img, cuts[i]);
        aitag_model *got = (aitag_model *)1;
        aitag_error err = {0};
        aitag_status st = aitag_model_load(path, &got, &err);
        ck_assert_msg(st == AITAG_FORMAT || st == AITAG_CORRUPT, "file cut to %zu: %s", cuts[i], aitag_status_str(st));
        ck_assert_ptr_null(got);
        ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    }
    spit(path, img, n);
    aitag_model *whole = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_model_load(path, &whole, &err), AITAG_OK);
    aitag_model_free(whole);
    rm_tree(dir);
    free(img);
}
END_TEST

START_TEST(every_byte_flip_is_refused_or_harmless)
{
    aitag_model *m = small_model(0);
    size_t n;
    uint8_t *img = image_of(m, &n);
    aitag_model_free(m);

    /* bytes a flip must be caught in: the prefix fields, the header and each
     * section; everything else is padding no checksum covers */
    uint8_t *covered = calloc(n, 1);
    for (size_t i = 0; i < 12; i++) /* magic, version */
        covered[i] = 1;
    for (size_t i = 16; i < 48; i++) /* header length and checksum, data offset, file size */
        covered[i] = 1;
    uint64_t hlen = get64(img + 16), data_off = get64(img + 32);
    for (size_t i = AITAG__PREFIX_SIZE; i < AITAG__PREFIX_SIZE + hlen; i++)
        covered[i] = 1;
    cJSON *h = header_of_image(img);
    const cJSON *s;
    int n_sections = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(h, "sections"))
    {
        size_t off = (size_t)cJSON_GetObjectItemCaseSensitive(s, "offset")->valuedouble;
        size_t size = (size_t)cJSON_GetObjectItemCaseSensitive(s, "size")->valuedouble;
        ck_assert_uint_le(data_off + off + size, n);
        for (size_t i = 0; i < size; i++)
            covered[data_off + off + i] = 1;
        n_sections++;
    }
    cJSON_Delete(h);
    ck_assert_int_eq(n_sections, 5);

    size_t refused = 0, harmless = 0, n_covered = 0;
    uint8_t *flip = malloc(n);
    for (size_t i = 0; i < n; i++) {
        memcpy(flip, img, n);
        flip[i] ^= 0xFF;
        aitag_model *got = NULL;
        aitag_error err = {0};
        aitag_status st = aitag_model_load_bytes(flip, n, "flip.aitag", &got, &err);
        n_covered += covered[i];
        if (st == AITAG_OK) {
            ck_assert_msg(!covered[i], "flipping byte %zu (of %zu, header %llu bytes, data at %llu) went unnoticed", i,
                          n, (unsigned long long)hlen, (unsigned long long)data_off);
            /* the model must still work */
            double *mg = margins_of(got, "rocket rain bread");
            free(mg);
            aitag_model_free(got);
            harmless++;
        } else {
            ck_assert_msg(st == AITAG_FORMAT || st == AITAG_CORRUPT || st == AITAG_VERSION,
                          "byte %zu: unexpected status %s", i, aitag_status_str(st));
            ck_assert_ptr_null(got);
            ck_assert_msg(strstr(err.msg, "flip.aitag") != NULL, "byte %zu: %s", i, err.msg);
            refused++;
        }
    }
    ck_assert_uint_eq(refused + harmless, n);
    ck_assert_uint_ge(refused, n_covered);
    ck_assert_uint_gt(n_covered, n / 2);
    free(flip);
    free(covered);
    free(img);
}
END_TEST

START_TEST(newer_and_zero_versions_are_refused)
{
    aitag_model *m = small_model(0);
    size_t n;
    uint8_t *img = image_of(m, &n);
    aitag_model_free(m);
    put32(img + 8, AITAG_MODEL_FORMAT_VERSION + 1);
    aitag_model *got = (aitag_model *)1;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_model_load_bytes(img, n, "future.aitag", &got, &err), AITAG_VERSION);
    ck_assert_ptr_null(got);
    ck_assert_msg(strstr(err.msg, "future.aitag") != NULL, "%s", err.msg);
    char num[16];
    snprintf(num, sizeof num, "%d", AITAG_MODEL_FORMAT_VERSION + 1);
    ck_assert_msg(strstr(err.msg, num) != NULL, "the message does not say which version: %s", err.msg);
    put32(img + 8, 0xFFFFFFFFu);
    expect_refused(img, n, AITAG_VERSION, "version 2^32-1");
    put32(img + 8, 0);
    expect_refused(img, n, AITAG_CORRUPT, "version 0");
    put32(img + 8, AITAG_MODEL_FORMAT_VERSION);
    aitag_model_free(load_ok(img, n));
    free(img);
}
END_TEST

/* ---- refusals: inconsistent headers with valid checksums ---------------- */

typedef struct header_case {
    const char *what;
    aitag_status want;
    void (*edit)(cJSON *h, uint64_t data_len);
} header_case;

static void e_unchanged(cJSON *h, uint64_t dl) { (void)h, (void)dl; }
static void e_weights_past_end(cJSON *h, uint64_t dl)
{
    set_number(section_entry(h, "weights_f16"), "offset", (double)((dl + 64) / 64 * 64 + 64 * 4));
}
static void e_idf_overlaps_end(cJSON *h, uint64_t dl)
{
    cJSON *s = section_entry(h, "idf");
    double off = cJSON_GetObjectItemCaseSensitive(s, "offset")->valuedouble;
    set_number(s, "size", (double)dl - off + 4);
}
static void e_huge_size(cJSON *h, uint64_t dl) { (void)dl, set_number(section_entry(h, "weights_f16"), "size", 1e15); }
static void e_huge_offset(cJSON *h, uint64_t dl)
{
    (void)dl, set_number(section_entry(h, "terms"), "offset", 18446744073709551616.0);
}
static void e_negative_offset(cJSON *h, uint64_t dl) { (void)dl, set_number(section_entry(h, "idf"), "offset", -64); }
static void e_unaligned_offset(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON *s = section_entry(h, "weights_f16");
    set_number(s, "offset", cJSON_GetObjectItemCaseSensitive(s, "offset")->valuedouble + 4);
}
static void e_fractional_offset(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON *s = section_entry(h, "idf");
    set_number(s, "offset", cJSON_GetObjectItemCaseSensitive(s, "offset")->valuedouble + 0.5);
}
static void e_missing_section(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON *secs = cJSON_GetObjectItemCaseSensitive(h, "sections");
    int i = 0;
    cJSON *s;
    cJSON_ArrayForEach(s, secs)
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(s, "name")->valuestring, "term_table") == 0)
            break;
        i++;
    }
    cJSON_DeleteItemFromArray(secs, i);
}
static void e_no_sections(cJSON *h, uint64_t dl) { (void)dl, cJSON_DeleteItemFromObjectCaseSensitive(h, "sections"); }
static void e_count_absurd(cJSON *h, uint64_t dl)
{
    (void)dl, set_number(cJSON_GetObjectItemCaseSensitive(h, "features"), "count", 1e12);
}
static void e_count_max(cJSON *h, uint64_t dl)
{
    (void)dl, set_number(cJSON_GetObjectItemCaseSensitive(h, "features"), "count", 1073741824.0);
}
static void e_count_plus_one(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON *f = cJSON_GetObjectItemCaseSensitive(h, "features");
    set_number(f, "count", cJSON_GetObjectItemCaseSensitive(f, "count")->valuedouble + 1);
}
static void e_count_zero(cJSON *h, uint64_t dl) { (void)dl, set_number(cJSON_GetObjectItemCaseSensitive(h, "features"), "count", 0); }
static void e_count_negative(cJSON *h, uint64_t dl)
{
    (void)dl, set_number(cJSON_GetObjectItemCaseSensitive(h, "features"), "count", -5);
}
static void e_hash_bits(cJSON *h, uint64_t dl)
{
    (void)dl, set_number(cJSON_GetObjectItemCaseSensitive(h, "features"), "hash_bits", 40);
}
static void e_many_labels(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON *a = cJSON_CreateArray();
    char name[16];
    for (int i = 0; i < 70000; i++) {
        snprintf(name, sizeof name, "l%d", i);
        cJSON_AddItemToArray(a, cJSON_CreateString(name));
    }
    cJSON_ReplaceItemInObjectCaseSensitive(h, "labels", a);
}
static void e_extra_label(cJSON *h, uint64_t dl)
{
    (void)dl, cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(h, "labels"), cJSON_CreateString("extra"));
}
static void e_no_labels(cJSON *h, uint64_t dl) { (void)dl, cJSON_ReplaceItemInObjectCaseSensitive(h, "labels", cJSON_CreateArray()); }
static void e_empty_label(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(h, "labels"), 0, cJSON_CreateString(""));
}
static void e_short_bias(cJSON *h, uint64_t dl) { (void)dl, cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(h, "bias"), 0); }
static void e_text_threshold(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(h, "thresholds"), 0, cJSON_CreateString("0.5"));
}
static void e_no_platt(cJSON *h, uint64_t dl) { (void)dl, cJSON_DeleteItemFromObjectCaseSensitive(h, "platt"); }
static void e_mode(cJSON *h, uint64_t dl) { (void)dl, cJSON_ReplaceItemInObjectCaseSensitive(h, "mode", cJSON_CreateString("ranking")); }
static void e_format(cJSON *h, uint64_t dl)
{
    (void)dl, cJSON_ReplaceItemInObjectCaseSensitive(h, "format", cJSON_CreateString("other-model"));
}
static void e_weighting(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(h, "features"), "weighting",
                                           cJSON_CreateString("bm25"));
}
static void e_not_object(cJSON *h, uint64_t dl)
{
    (void)dl;
    /* empty the object, then make it an array */
    while (h->child)
        cJSON_Delete(cJSON_DetachItemViaPointer(h, h->child));
    h->type = cJSON_Array;
}
/* tokenizer settings that differ from what this aitag applies */
static void e_utf8proc(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON *t = cJSON_GetObjectItemCaseSensitive(h, "tokenizer");
    set_number(t, "utf8proc_options", cJSON_GetObjectItemCaseSensitive(t, "utf8proc_options")->valuedouble + 1);
}
static void e_strip_without_option(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(h, "tokenizer"), "strip_accents",
                                           cJSON_CreateTrue());
}
static void e_word_ngrams(cJSON *h, uint64_t dl)
{
    (void)dl, set_number(cJSON_GetObjectItemCaseSensitive(h, "tokenizer"), "word_ngrams", 9);
}
static void e_char_ngrams(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON *t = cJSON_GetObjectItemCaseSensitive(h, "tokenizer");
    set_number(t, "char_ngram_min", 3);
    set_number(t, "char_ngram_max", 2);
}
static void e_strip_text(cJSON *h, uint64_t dl)
{
    (void)dl;
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(h, "tokenizer"), "strip_accents",
                                           cJSON_CreateString("yes"));
}
static void e_no_tokenizer(cJSON *h, uint64_t dl) { (void)dl, cJSON_DeleteItemFromObjectCaseSensitive(h, "tokenizer"); }
static void e_token_bytes(cJSON *h, uint64_t dl)
{
    (void)dl, set_number(cJSON_GetObjectItemCaseSensitive(h, "tokenizer"), "max_token_bytes", 0);
}

static const header_case header_cases[] = {
    {"unchanged header (the re-assembly itself is sound)", AITAG_OK, e_unchanged},
    {"weights section beyond the end of the file", AITAG_CORRUPT, e_weights_past_end},
    {"idf section running past the end", AITAG_CORRUPT, e_idf_overlaps_end},
    {"section size 1e15", AITAG_CORRUPT, e_huge_size},
    {"section offset 2^64", AITAG_CORRUPT, e_huge_offset},
    {"negative section offset", AITAG_CORRUPT, e_negative_offset},
    {"unaligned section offset", AITAG_CORRUPT, e_unaligned_offset},
    {"fractional section offset", AITAG_CORRUPT, e_fractional_offset},
    {"missing term_table section", AITAG_CORRUPT, e_missing_section},
    {"no section table", AITAG_CORRUPT, e_no_sections},
    {"feature count 1e12", AITAG_CORRUPT, e_count_absurd},
    {"feature count 2^30", AITAG_CORRUPT, e_count_max},
    {"feature count one too many", AITAG_CORRUPT, e_count_plus_one},
    {"feature count 0", AITAG_CORRUPT, e_count_zero},
    {"feature count -5", AITAG_CORRUPT, e_count_negative},
    {"hash_bits 40", AITAG_CORRUPT, e_hash_bits},
    {"70000 labels", AITAG_CORRUPT, e_many_labels},
    {"one label more than weights", AITAG_CORRUPT, e_extra_label},
    {"no labels", AITAG_CORRUPT, e_no_labels},
    {"empty label name", AITAG_CORRUPT, e_empty_label},
    {"bias array one short", AITAG_CORRUPT, e_short_bias},
    {"threshold that is a string", AITAG_CORRUPT, e_text_threshold},
    {"no platt object", AITAG_CORRUPT, e_no_platt},
    {"unknown mode", AITAG_CORRUPT, e_mode},
    {"foreign format name", AITAG_FORMAT, e_format},
    {"unknown weighting", AITAG_FORMAT, e_weighting},
    {"header is an array", AITAG_CORRUPT, e_not_object},
    {"different utf8proc options", AITAG_FORMAT, e_utf8proc},
    {"strip_accents without its normalisation option", AITAG_FORMAT, e_strip_without_option},
    {"word n-grams 9", AITAG_CORRUPT, e_word_ngrams},
    {"char n-grams 3..2", AITAG_CORRUPT, e_char_ngrams},
    {"strip_accents not a boolean", AITAG_CORRUPT, e_strip_text},
    {"no tokenizer object", AITAG_CORRUPT, e_no_tokenizer},
    {"max_token_bytes 0", AITAG_CORRUPT, e_token_bytes},
};
#define N_HEADER_CASES ((int)(sizeof header_cases / sizeof header_cases[0]))

START_TEST(inconsistent_header_is_refused)
{
    const header_case *hc = &header_cases[_i];
    aitag_model *m = small_model(0);
    size_t n, dl, n2;
    uint8_t *img = image_of(m, &n);
    aitag_model_free(m);
    const uint8_t *data = data_of(img, n, &dl);
    cJSON *h = header_of_image(img);
    hc->edit(h, dl);
    uint8_t *bad = assemble(img, h, data, dl, &n2);
    cJSON_Delete(h);
    if (hc->want == AITAG_OK)
        aitag_model_free(load_ok(bad, n2));
    else
        expect_refused(bad, n2, hc->want, hc->what);
    free(bad);
    free(img);
}
END_TEST

/* Section contents that pass their checksum but break the vocabulary's
 * invariants: scoring would read out of bounds or never stop. */
typedef enum { V_OFFSETS_BACKWARDS, V_LAST_OFFSET, V_TABLE_ID_RANGE, V_TABLE_FULL, V_TABLE_ODD } vocab_damage;

START_TEST(inconsistent_vocabulary_is_refused)
{
    edit_img e;
    edit_begin(&e);
    cJSON *h = e.h;
    uint8_t *data = e.data;
    const uint32_t V = e.V;
    size_t n2, sz;
    const char *sec = NULL;
    switch ((vocab_damage)_i) {
    case V_OFFSETS_BACKWARDS: { /* offsets[2] < offsets[1] */
        uint8_t *p = section_bytes(h, "term_offsets", data, &sz);
        put32(p + 8, 0);
        sec = "term_offsets";
        break;
    }
    case V_LAST_OFFSET: { /* the last offset points past the terms */
        uint8_t *p = section_bytes(h, "term_offsets", data, &sz);
        uint32_t last = (uint32_t)p[4 * V] | (uint32_t)p[4 * V + 1] << 8 | (uint32_t)p[4 * V + 2] << 16 |
                        (uint32_t)p[4 * V + 3] << 24;
        put32(p + 4 * (size_t)V, last + 100);
        sec = "term_offsets";
        break;
    }
    case V_TABLE_ID_RANGE: { /* a slot naming feature V + 5 */
        uint8_t *p = section_bytes(h, "term_table", data, &sz);
        size_t slot = 0;
        while (p[slot] == 0 && p[slot + 1] == 0 && p[slot + 2] == 0 && p[slot + 3] == 0)
            slot += 8;
        put32(p + slot, V + 6);
        sec = "term_table";
        break;
    }
    case V_TABLE_FULL: { /* no empty slot: a lookup miss would never end */
        uint8_t *p = section_bytes(h, "term_table", data, &sz);
        for (size_t i = 0; i + 8 <= sz; i += 8)
            if (!p[i] && !p[i + 1] && !p[i + 2] && !p[i + 3])
                put32(p + i, 1);
        sec = "term_table";
        break;
    }
    case V_TABLE_ODD: { /* a table size that is not a whole number of slots */
        cJSON *s = section_entry(h, "term_table");
        set_number(s, "size", cJSON_GetObjectItemCaseSensitive(s, "size")->valuedouble - 4);
        sec = "term_table";
        break;
    }
    }
    fix_section_checksum(h, sec, data);
    uint8_t *bad = edited_image(&e, &n2);
    expect_refused(bad, n2, AITAG_CORRUPT, sec);
    free(bad);
    edit_end(&e);
}
END_TEST

/* The loader's probe-run check walks only the runs through every 512th
 * slot; it must agree with a walk over every slot, for runs of 512 and 513
 * at every phase, runs that wrap around, full and nearly full tables. */
static int long_run_by_walk(const uint32_t *tab, uint64_t T, uint64_t max)
{
    for (uint64_t s = 0; s < T; s++) {
        uint64_t len = 0;
        while (len < T && tab[2 * ((s + len) % T)])
            len++;
        if (len == T || len > max)
            return 1;
    }
    return 0;
}

START_TEST(probe_run_check_agrees_with_a_full_walk)
{
    const uint64_t T = 2048, max = 512;
    uint32_t *tab = calloc(2 * T, sizeof *tab);
    ck_assert_ptr_nonnull(tab);
    uint64_t seed = 3;
    static const uint64_t starts[] = {0, 1, 2, 61, 300, 510, 511, 512, 513, 1023, 1024, 1500, 1535, 1536, 2000, 2047};
    for (uint64_t len = 511; len <= 513; len++)
        for (size_t si = 0; si < sizeof starts / sizeof *starts; si++) {
            uint64_t start = starts[si];
            memset(tab, 0, 2 * T * sizeof *tab);
            for (uint64_t i = 0; i < len; i++)
                tab[2 * ((start + i) % T)] = 1;
            for (uint64_t i = 0; i < 300; i++) { /* short runs elsewhere, as a real table has */
                uint64_t at = aitag__splitmix64(&seed) % T;
                if (!tab[2 * ((at + T - 1) % T)] && !tab[2 * ((at + 1) % T)])
                    tab[2 * at] = 7;
            }
            ck_assert_int_eq(aitag__table_has_long_run(tab, T, max), long_run_by_walk(tab, T, max));
            ck_assert_int_eq(aitag__table_has_long_run(tab, T, max), len > max);
        }
    for (uint64_t i = 0; i < T; i++) /* full, then one hole */
        tab[2 * i] = 1;
    ck_assert_int_eq(aitag__table_has_long_run(tab, T, max), 1);
    tab[2 * 700] = 0;
    ck_assert_int_eq(aitag__table_has_long_run(tab, T, max), 1);
    ck_assert_int_eq(aitag__table_has_long_run(tab, 16, max), 1); /* a small full table */
    memset(tab, 0, 2 * T * sizeof *tab);
    ck_assert_int_eq(aitag__table_has_long_run(tab, T, max), 0);
    for (uint64_t i = 0; i < 15; i++)
        tab[2 * i] = 1;
    ck_assert_int_eq(aitag__table_has_long_run(tab, 16, max), 0); /* small, one hole */
    free(tab);
}
END_TEST

/* A section edited without updating its checksum is caught by the checksum. */
START_TEST(section_checksum_mismatch_is_refused)
{
    edit_img e;
    edit_begin(&e);
    size_t n2, sz;
    uint8_t *w = section_bytes(e.h, "weights_f16", e.data, &sz);
    w[sz / 2] ^= 1;
    uint8_t *bad = edited_image(&e, &n2);
    expect_refused(bad, n2, AITAG_CORRUPT, "weights edited");
    aitag_model *got = NULL;
    aitag_error err = {0};
    aitag_model_load_bytes(bad, n2, "bad-model.aitag", &got, &err);
    ck_assert_msg(strstr(err.msg, "weights") != NULL, "message does not name the section: %s", err.msg);
    free(bad);
    edit_end(&e);
}
END_TEST

/* A model trained with other tokenizer settings carries them with it. */
START_TEST(model_with_other_tokenizer_settings)
{
    aitag_tokenizer_params tp = aitag_tokenizer_params_default();
    tp.word_ngrams = 1;
    tp.strip_accents = 1;
    aitag_model *m = small_model_opts(0, &tp, 0);
    char dir[512], path[600];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/accents.aitag", dir);
    aitag_error err = {0};
    ck_assert_int_eq(aitag_model_save(m, path, &err), AITAG_OK);
    aitag_model *back = NULL;
    ck_assert_int_eq(aitag_model_load(path, &back, &err), AITAG_OK);
    const aitag_tokenizer_params *bp = aitag_model_tokenizer_params(back);
    ck_assert_uint_eq(bp->word_ngrams, 1);
    ck_assert_int_eq(bp->strip_accents, 1);
    ck_assert_uint_eq(bp->max_token_bytes, tp.max_token_bytes);
    /* the loaded model applies them: accented words meet their plain forms */
    aitag_classifier *c = NULL;
    ck_assert_int_eq(aitag_classifier_create(back, &c, &err), AITAG_OK);
    aitag_features a, b;
    const char *plain = "rocket satellite", *accented = "r\xc3\xb4" "cket s\xc3\xa0tellite";
    ck_assert_int_eq(aitag_featurize(c, plain, strlen(plain), &a, NULL, &err), AITAG_OK);
    size_t na = a.n;
    uint32_t ida[4];
    float va[4];
    ck_assert_uint_eq(na, 2);
    memcpy(ida, a.ids, na * sizeof *ida);
    memcpy(va, a.vals, na * sizeof *va);
    ck_assert_int_eq(aitag_featurize(c, accented, strlen(accented), &b, NULL, &err), AITAG_OK);
    ck_assert_uint_eq(b.n, na);
    ck_assert(memcmp(b.ids, ida, na * sizeof *ida) == 0);
    ck_assert(memcmp(b.vals, va, na * sizeof *va) == 0);
    /* no bigram features with word_ngrams 1 */
    for (uint32_t i = 0; i < aitag_model_num_features(back); i++) {
        size_t len;
        const char *t = aitag_model_term(back, i, &len);
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_null(memchr(t, ' ', len));
    }
    aitag_classifier_free(c);
    aitag_model_free(back);
    aitag_model_free(m);
    rm_tree(dir);
}
END_TEST

/* ---- aitag_decide ------------------------------------------------------ */

START_TEST(decide_multi_label_top_k_and_min_labels)
{
    static const double thr[3] = {0.0, 1.0, -0.5};
    aitag_model *m = model_with_thresholds(thr);
    ck_assert_int_eq(aitag_model_is_single_label(m), 0);
    ck_assert_uint_eq(aitag_model_num_labels(m), 3);
    uint32_t tags[3], top[3];
    aitag_decide_opts o = aitag_decide_opts_default();
    ck_assert_uint_eq(o.top_k, 0);
    ck_assert_uint_eq(o.min_labels, 0);

    /* every label passes; ranked by margin (1 > 2 > 0), not by the distance
     * to the threshold (2 is 2.0 above, 1 only 0.5) */
    double all[3] = {0.1, 1.5, 1.5 - 0.01};
    ck_assert_uint_eq(aitag_decide(m, all, &o, tags, NULL), 3);
    ck_assert_uint_eq(tags[0], 1);
    ck_assert_uint_eq(tags[1], 2);
    ck_assert_uint_eq(tags[2], 0);
    o.top_k = 2;
    ck_assert_uint_eq(aitag_decide(m, all, &o, top, NULL), 2);
    ck_assert(top[0] == 1 && top[1] == 2);
    o.top_k = 1;
    ck_assert_uint_eq(aitag_decide(m, all, &o, top, NULL), 1);
    ck_assert_uint_eq(top[0], 1);
    o.top_k = 10;
    ck_assert_uint_eq(aitag_decide(m, all, &o, top, NULL), 3);

    /* a margin equal to the threshold does not pass ("passes" = above) */
    double at[3] = {0.0, 1.0, -0.5};
    o = aitag_decide_opts_default();
    ck_assert_uint_eq(aitag_decide(m, at, &o, tags, NULL), 0);

    /* two pass */
    double two[3] = {0.3, 0.9, -0.4};
    ck_assert_uint_eq(aitag_decide(m, two, &o, tags, NULL), 2);
    ck_assert(tags[0] == 0 && tags[1] == 2);

    /* nothing passes: no tags, unless min_labels asks for the best ones */
    double none[3] = {-2.0, 0.5, -1.0};
    ck_assert_uint_eq(aitag_decide(m, none, &o, tags, NULL), 0);
    o.min_labels = 1;
    ck_assert_uint_eq(aitag_decide(m, none, &o, tags, NULL), 1);
    ck_assert_uint_eq(tags[0], 1);
    o.min_labels = 2;
    ck_assert_uint_eq(aitag_decide(m, none, &o, tags, NULL), 2);
    ck_assert(tags[0] == 1 && tags[1] == 2);
    o.min_labels = 99; /* more than there are: all of them */
    ck_assert_uint_eq(aitag_decide(m, none, &o, tags, NULL), 3);
    ck_assert(tags[0] == 1 && tags[1] == 2 && tags[2] == 0);
    o.top_k = 2; /* top_k caps min_labels */
    ck_assert_uint_eq(aitag_decide(m, none, &o, tags, NULL), 2);

    /* one passes: min_labels tops it up without dropping it */
    double one[3] = {-0.2, 0.5, 0.0};
    o = aitag_decide_opts_default();
    ck_assert_uint_eq(aitag_decide(m, one, &o, tags, NULL), 1);
    ck_assert_uint_eq(tags[0], 2);
    o.min_labels = 2;
    ck_assert_uint_eq(aitag_decide(m, one, &o, tags, NULL), 2);
    ck_assert(tags[0] == 2 || tags[1] == 2);
    ck_assert(tags[0] != tags[1]);
    o.min_labels = 1; /* already satisfied */
    ck_assert_uint_eq(aitag_decide(m, one, &o, tags, NULL), 1);

    /* a NULL options pointer means the defaults */
    ck_assert_uint_eq(aitag_decide(m, two, NULL, tags, NULL), 2);
    aitag_model_free(m);
}
END_TEST


/* A model of K labels made in memory: aitag_decide reads only the labels'
 * count, thresholds, Platt parameters and the single-label flag. */
typedef struct fake_model {
    struct aitag_model m;
    double *thr, *a, *b;
} fake_model;

static void fake_init(fake_model *f, uint32_t K, double threshold)
{
    memset(f, 0, sizeof *f);
    f->thr = malloc(K * sizeof *f->thr);
    f->a = calloc(K, sizeof *f->a);
    f->b = calloc(K, sizeof *f->b);
    ck_assert(f->thr && f->a && f->b);
    for (uint32_t k = 0; k < K; k++)
        f->thr[k] = threshold;
    f->m.n_labels = K;
    f->m.threshold = f->thr;
    f->m.platt_a = f->a;
    f->m.platt_b = f->b;
}

static void fake_free(fake_model *f)
{
    free(f->thr);
    free(f->a);
    free(f->b);
}

/* CPU time of this thread: other work on the machine does not skew a ratio */
static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best of 5 times of aitag_decide over K labels with margins from a fixed
 * generator (many ties), and min_labels = K (threshold above every margin)
 * or every label passing (threshold below). Checks the result's order. */
static double time_decide(uint32_t K, int all_pass)
{
    fake_model f;
    fake_init(&f, K, all_pass ? -1e9 : 1e9);
    double *mg = malloc(K * sizeof *mg);
    uint32_t *tags = malloc(K * sizeof *tags);
    ck_assert(mg && tags);
    uint32_t rng = 7;
    for (uint32_t k = 0; k < K; k++) {
        rng = rng * 1103515245u + 12345u;
        mg[k] = (double)((rng >> 16) % 997) / 100.0 - 5.0;
    }
    aitag_decide_opts o = aitag_decide_opts_default();
    o.min_labels = all_pass ? 0 : K;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = mono_now();
        size_t n = aitag_decide(&f.m, mg, &o, tags, NULL);
        double dt = mono_now() - t0;
        best = dt < best ? dt : best;
        ck_assert_uint_eq(n, K);
        for (size_t i = 1; i < n; i++) /* best first; ties by index */
            ck_assert(mg[tags[i - 1]] > mg[tags[i]] || (mg[tags[i - 1]] == mg[tags[i]] && tags[i - 1] < tags[i]));
    }
    free(mg);
    free(tags);
    fake_free(&f);
    return best;
}

START_TEST(decide_is_n_log_n_in_the_labels)
{
    /* 16 times the labels must cost about 16 log times as much: min_labels
     * used to rescan the chosen labels for each label added (cubic), and
     * passing labels were insertion-sorted (quadratic) */
    for (int all_pass = 0; all_pass <= 1; all_pass++) {
        double small = time_decide(2000, all_pass), big = time_decide(32000, all_pass);
        ck_assert_msg(big < 64 * small + 0.005, "%s: 16x the labels took %.1fx the time (%.5f s vs %.5f s)",
                      all_pass ? "all passing" : "min_labels", big / small, big, small);
    }
}
END_TEST

START_TEST(decide_min_labels_matches_a_plain_ranking)
{
    /* against a slow reference: passing labels, then the best of the rest,
     * the whole list in rank order, for random margins with ties */
    const uint32_t K = 40;
    fake_model f;
    fake_init(&f, K, 0.0);
    double mg[40];
    uint32_t tags[40], ref[40];
    uint32_t rng = 99;
    for (int trial = 0; trial < 300; trial++) {
        for (uint32_t k = 0; k < K; k++) {
            rng = rng * 1103515245u + 12345u;
            mg[k] = (double)((int)((rng >> 16) % 9) - 6) / 2.0;
        }
        f.m.single_label = trial % 3 == 0;
        aitag_decide_opts o = aitag_decide_opts_default();
        o.min_labels = (uint32_t)(trial % 45);
        o.top_k = (uint32_t)(trial % 7 == 0 ? 3 : 0);
        size_t n = aitag_decide(&f.m, mg, &o, tags, NULL);
        /* reference: rank all by selection, mark the passing ones */
        int used[40] = {0};
        size_t rn = 0, npass = 0;
        uint32_t order[40];
        for (uint32_t i = 0; i < K; i++) {
            uint32_t b = UINT32_MAX;
            for (uint32_t k = 0; k < K; k++)
                if (!used[k] && (b == UINT32_MAX || mg[k] > mg[b] || (mg[k] == mg[b] && k < b)))
                    b = k;
            used[b] = 1;
            order[i] = b;
        }
        int pass[40];
        for (uint32_t k = 0; k < K; k++)
            pass[k] = f.m.single_label ? k == order[0] : mg[k] > 0.0;
        for (uint32_t k = 0; k < K; k++)
            npass += (size_t)pass[k];
        size_t want = o.min_labels > npass ? (o.min_labels < K ? o.min_labels : K) : npass;
        size_t extra = want - npass;
        for (uint32_t i = 0; i < K; i++) {
            uint32_t k = order[i];
            if (pass[k])
                ref[rn++] = k;
            else if (extra) {
                ref[rn++] = k;
                extra--;
            }
        }
        if (o.top_k && rn > o.top_k)
            rn = o.top_k;
        ck_assert_uint_eq(n, rn);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(tags[i], ref[i]);
    }
    fake_free(&f);
}
END_TEST

/* "Tags are label indices sorted by margin, best first" (model.h), also
 * when min_labels adds labels that did not pass their thresholds. */
START_TEST(decide_tags_sorted_by_margin_with_min_labels)
{
    static const double thr[3] = {0.0, 1.0, -0.5};
    aitag_model *m = model_with_thresholds(thr);
    uint32_t tags[3];
    /* label 0 passes (0.2 > 0); label 1 does not (0.8 < 1) although its
     * margin is higher; label 2 is far below */
    double mg[3] = {0.2, 0.8, -3.0};
    aitag_decide_opts o = aitag_decide_opts_default();
    ck_assert_uint_eq(aitag_decide(m, mg, &o, tags, NULL), 1);
    ck_assert_uint_eq(tags[0], 0);
    o.min_labels = 2;
    ck_assert_uint_eq(aitag_decide(m, mg, &o, tags, NULL), 2);
    ck_assert_msg((tags[0] == 0 && tags[1] == 1) || (tags[0] == 1 && tags[1] == 0), "tags %u %u", tags[0], tags[1]);
    ck_assert_msg(mg[tags[0]] >= mg[tags[1]],
                  "tags [%u (margin %g), %u (margin %g)] are not sorted by margin, best first", tags[0],
                  mg[tags[0]], tags[1], mg[tags[1]]);
    aitag_model_free(m);
}
END_TEST

START_TEST(decide_single_label_is_argmax)
{
    aitag_tokenizer_params tp = aitag_tokenizer_params_default();
    tp.word_ngrams = 1;
    aitag_model *m = small_model_opts(3, &tp, 1);
    ck_assert_int_eq(aitag_model_is_single_label(m), 1);
    size_t K = aitag_model_num_labels(m);
    ck_assert_uint_eq(K, 3);
    uint32_t tags[3];
    double cases[][3] = {{-5, -4, -6}, {2, 3, 1}, {0.5, -0.5, 0.4}, {-100, -100.5, 7}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double *mg = cases[i];
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (mg[k] > mg[best])
                best = k;
        ck_assert_uint_eq(aitag_decide(m, mg, NULL, tags, NULL), 1);
        ck_assert_uint_eq(tags[0], best);
        aitag_decide_opts o = aitag_decide_opts_default();
        o.min_labels = 3;
        ck_assert_uint_eq(aitag_decide(m, mg, &o, tags, NULL), 3);
        ck_assert_uint_eq(tags[0], best);
        ck_assert(mg[tags[1]] >= mg[tags[2]]);
        ck_assert(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);
        o.min_labels = 0;
        o.top_k = 5;
        ck_assert_uint_eq(aitag_decide(m, mg, &o, tags, NULL), 1);
    }
    aitag_model_free(m);
}
END_TEST

START_TEST(probabilities_are_calibrated_sigmoids)
{
    for (int folds = 0; folds <= 3; folds += 3) {
        aitag_model *m = small_model((uint32_t)folds);
        size_t K = aitag_model_num_labels(m);
        double A[3], B[3];
        for (size_t k = 0; k < K; k++) {
            A[k] = header_number_at(m, "platt", "A", k);
            B[k] = header_number_at(m, "platt", "B", k);
            /* a higher margin must mean a likelier label */
            ck_assert_msg(A[k] < 0, "label %zu: Platt A = %g is not negative", k, A[k]);
        }
        if (folds == 0) /* uncalibrated: the documented fixed sigmoid */
            for (size_t k = 0; k < K; k++)
                ck_assert(A[k] == -2.0 && B[k] == 0.0);
        double prev[3], probs[3], mg[3];
        uint32_t tags[3];
        for (int step = 0; step <= 40; step++) {
            double s = -4.0 + 0.2 * step;
            for (size_t k = 0; k < K; k++)
                mg[k] = s + 0.1 * (double)k;
            aitag_decide(m, mg, NULL, tags, probs);
            for (size_t k = 0; k < K; k++) {
                ck_assert_msg(probs[k] > 0.0 && probs[k] < 1.0, "p = %g at margin %g", probs[k], mg[k]);
                double want = 1.0 / (1.0 + exp(A[k] * mg[k] + B[k]));
                ck_assert(fabs(probs[k] - want) < 1e-12);
                if (step > 0)
                    ck_assert_msg(probs[k] > prev[k], "label %zu: p fell from %g to %g as the margin rose", k,
                                  prev[k], probs[k]);
                prev[k] = probs[k];
            }
        }
        /* probs do not depend on the options, and NULL is accepted */
        aitag_decide_opts o = aitag_decide_opts_default();
        o.top_k = 1;
        double p2[3];
        aitag_decide(m, mg, &o, tags, p2);
        ck_assert(memcmp(p2, probs, sizeof p2) == 0);
        aitag_decide(m, mg, &o, tags, NULL);
        aitag_model_free(m);
    }
}
END_TEST

/* ---- aitag_explain ----------------------------------------------------- */

START_TEST(explain_returns_top_contributions_sorted)
{
    aitag_model *m = small_model(0);
    size_t K = aitag_model_num_labels(m);
    aitag_classifier *c = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_classifier_create(m, &c, &err), AITAG_OK);
    const char *text = "the rocket launch was delayed by rain wind and snow while the bakery sold bread";
    aitag_features x;
    ck_assert_int_eq(aitag_featurize(c, text, strlen(text), &x, NULL, &err), AITAG_OK);
    ck_assert_uint_gt(x.n, 5);
    double margins[3];
    aitag_score(c, &x, margins);
    for (size_t k = 0; k < K; k++) {
        /* every positive contribution, computed independently */
        double *all = calloc(x.n, sizeof *all);
        size_t npos = 0;
        double sum = 0;
        for (size_t i = 0; i < x.n; i++) {
            double v = (double)x.vals[i] * aitag__model_weight(m, x.ids[i], k);
            sum += v;
            if (v > 0)
                all[npos++] = v;
        }
        ck_assert(fabs(sum + m->bias[k] - margins[k]) < 1e-4); /* the margin is their sum plus the bias */
        /* sort descending (simple insertion; n is small) */
        for (size_t i = 1; i < npos; i++)
            for (size_t j = i; j > 0 && all[j - 1] < all[j]; j--) {
                double t = all[j];
                all[j] = all[j - 1];
                all[j - 1] = t;
            }
        for (size_t want = 1; want <= x.n + 2; want++) {
            uint32_t ids[64];
            double contrib[64];
            size_t got = aitag_explain(c, &x, k, want, ids, contrib);
            ck_assert_uint_eq(got, want < npos ? want : npos);
            for (size_t j = 0; j < got; j++) {
                if (j > 0)
                    ck_assert_msg(contrib[j - 1] >= contrib[j], "not sorted at %zu", j);
                ck_assert(fabs(contrib[j] - all[j]) < 1e-9);
                /* the id is the feature that contributes that much */
                size_t i = 0;
                while (i < x.n && x.ids[i] != ids[j])
                    i++;
                ck_assert_uint_lt(i, x.n);
                ck_assert(fabs((double)x.vals[i] * aitag__model_weight(m, ids[j], k) - contrib[j]) < 1e-12);
                size_t len;
                ck_assert_ptr_nonnull(aitag_model_term(m, ids[j], &len));
            }
        }
        free(all);
    }
    uint32_t ids[4];
    double contrib[4];
    ck_assert_uint_eq(aitag_explain(c, &x, K, 4, ids, contrib), 0); /* no such label */
    aitag_classifier_free(c);
    aitag_model_free(m);
}
END_TEST

/* Regression found by fuzz_model: a model whose weights are all NaN, with
 * correct checksums, must be refused rather than poison every score. */
START_TEST(nan_weights_are_refused)
{
    aitag_model *m = NULL;
    aitag_error err = {0};
    const char *path = AITAG_SOURCE_DIR "/tests/fuzz/regressions/model-nan-weights";
    ck_assert_int_eq(aitag_model_load(path, &m, &err), AITAG_CORRUPT);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, "model-nan-weights") && strstr(err.msg, "finite"), "message: %s", err.msg);
}
END_TEST

/* A weight stored as an infinite or NaN half, with every checksum right, is
 * refused with the weight's index. */
START_TEST(nonfinite_half_weight_is_refused)
{
    static const uint16_t poison[] = {0x7c00u, 0xfc00u, 0x7e00u, 0x7c01u};
    for (size_t t = 0; t < sizeof poison / sizeof *poison; t++) {
        edit_img e;
        edit_begin(&e);
        size_t n2, sz;
        uint8_t *w = section_bytes(e.h, "weights_f16", e.data, &sz);
        size_t at = (sz / 2) / 2 * 2; /* a whole half in the middle */
        w[at] = (uint8_t)poison[t];
        w[at + 1] = (uint8_t)(poison[t] >> 8);
        fix_section_checksum(e.h, "weights_f16", e.data);
        uint8_t *bad = edited_image(&e, &n2);
        aitag_model *got = NULL;
        aitag_error err = {0};
        ck_assert_int_eq(aitag_model_load_bytes(bad, n2, "bad-model.aitag", &got, &err), AITAG_CORRUPT);
        ck_assert_ptr_null(got);
        char want[64];
        snprintf(want, sizeof want, "weight %zu is not a finite number", at / 2);
        ck_assert_msg(strstr(err.msg, want) != NULL, "message: %s", err.msg);
        free(bad);
        edit_end(&e);
    }
}
END_TEST

/* Halves <-> floats: every half survives the trip (NaNs stay NaN), and
 * rounding to a half is to nearest, ties to even, saturating to infinity. */
START_TEST(f16_conversions_are_exact)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = aitag__f16_to_f32((uint16_t)h);
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu))
            ck_assert(isnan(f) && (aitag__f32_to_f16(f) & 0x7fffu) > 0x7c00u);
        else
            ck_assert_uint_eq(aitag__f32_to_f16(f), h);
    }
    ck_assert(aitag__f16_to_f32(0x3c00u) == 1.0f && aitag__f16_to_f32(0x7bffu) == 65504.0f);
    ck_assert(aitag__f16_to_f32(0x0001u) == 0x1p-24f && aitag__f16_to_f32(0x8400u) == -0x1p-14f);
    ck_assert_uint_eq(aitag__f32_to_f16(1.0f + 0x1p-11f), 0x3c00u);           /* tie: down to even */
    ck_assert_uint_eq(aitag__f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02u);       /* tie: up to even */
    ck_assert_uint_eq(aitag__f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01u); /* above the tie */
    ck_assert_uint_eq(aitag__f32_to_f16(0x1p-25f), 0x0000u);                  /* subnormal tie to even */
    ck_assert_uint_eq(aitag__f32_to_f16(3 * 0x1p-25f), 0x0002u);
    ck_assert_uint_eq(aitag__f32_to_f16(65519.0f), 0x7bffu);
    ck_assert_uint_eq(aitag__f32_to_f16(65520.0f), 0x7c00u);
    ck_assert_uint_eq(aitag__f32_to_f16(-1e30f), 0xfc00u);
}
END_TEST

/* aitag_score on a model of halves gives the margins of the plain float
 * sum, bit for bit, with the loop this CPU gets (F16C where there is one)
 * and with the portable loop, for label counts that fill the 8-wide blocks,
 * end inside one, and overflow the registers. */
START_TEST(score_of_halves_is_the_plain_sum)
{
    static const char *labels[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
                                   "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "A", "B", "C", "D", "E", "F",
                                   "G", "H", "I", "J", "K", "L", "M", "N"};
    static const size_t Ks[] = {2, 8, 11, 20, 33, 40};
    const char *words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};
    for (size_t t = 0; t < sizeof Ks / sizeof *Ks; t++) {
        size_t K = Ks[t];
        aitag_tokenizer_params tp = aitag_tokenizer_params_default();
        aitag_dataset *d = NULL;
        aitag_error err = {0};
        ck_assert_int_eq(aitag_dataset_create(&tp, 0, &d, &err), AITAG_OK);
        for (size_t n = 0; n < 3 * K; n++) {
            char text[200];
            snprintf(text, sizeof text, "%s %s %s doc%zu word%zu", words[n % 8], words[(n * 3 + 1) % 8],
                     words[(n / 5) % 8], n % 7, n % K);
            const char *lab = labels[n % K];
            ck_assert_int_eq(aitag_dataset_add(d, text, strlen(text), &lab, 1, &err), AITAG_OK);
        }
        aitag_train_params p = aitag_train_params_default();
        p.folds = 0;
        p.min_df = 1;
        p.threads = 1;
        aitag_model *m = NULL;
        ck_assert_msg(aitag_train(d, &p, NULL, NULL, &m, NULL, &err) == AITAG_OK, "train: %s", err.msg);
        aitag_dataset_free(d);
        ck_assert_uint_eq(aitag_model_num_labels(m), K);
        aitag_classifier *c = NULL;
        ck_assert_int_eq(aitag_classifier_create(m, &c, &err), AITAG_OK);
        const char *text = "alpha bravo charlie delta echo doc3 word1 word4 golf hotel";
        aitag_features x;
        ck_assert_int_eq(aitag_featurize(c, text, strlen(text), &x, NULL, &err), AITAG_OK);
        ck_assert_uint_gt(x.n, 4);
        double *mg = calloc(K, sizeof *mg), *mg_portable = calloc(K, sizeof *mg_portable);
        aitag_score(c, &x, mg);
        aitag__classifier_use_portable_loop(c);
        aitag_score(c, &x, mg_portable);
        for (size_t k = 0; k < K; k++) {
            ck_assert_msg(mg[k] == mg_portable[k], "K %zu label %zu: %.9g with the CPU's loop, %.9g portable", K, k,
                          mg[k], mg_portable[k]);
            float acc = 0;
            for (size_t i = 0; i < x.n; i++) {
                volatile float prod = x.vals[i] * aitag__model_weight(m, x.ids[i], k); /* no FMA */
                acc += prod;
            }
            ck_assert_msg(mg[k] == (double)acc + m->bias[k], "K %zu label %zu: %.9g vs %.9g", K, k, mg[k],
                          (double)acc + m->bias[k]);
        }
        free(mg);
        free(mg_portable);
        aitag_classifier_free(c);
        aitag_model_free(m);
    }
}
END_TEST

/* n = 0 asks for nothing: nothing may be read or written. */
START_TEST(explain_with_n_zero_returns_nothing)
{
    aitag_model *m = small_model(0);
    aitag_classifier *c = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_classifier_create(m, &c, &err), AITAG_OK);
    const char *text = "rocket orbit satellite launch";
    aitag_features x;
    ck_assert_int_eq(aitag_featurize(c, text, strlen(text), &x, NULL, &err), AITAG_OK);
    ck_assert_uint_gt(x.n, 0);
    int64_t k = aitag_model_label_index(m, "space");
    ck_assert_int_ge(k, 0);
    /* heap buffers of one element so that ASan catches any access outside */
    uint32_t *ids = malloc(sizeof *ids);
    double *contrib = malloc(sizeof *contrib);
    ids[0] = 12345;
    contrib[0] = -7.0;
    ck_assert_uint_eq(aitag_explain(c, &x, (size_t)k, 0, ids, contrib), 0);
    ck_assert_uint_eq(ids[0], 12345);
    ck_assert(contrib[0] == -7.0);
    free(ids);
    free(contrib);
    aitag_classifier_free(c);
    aitag_model_free(m);
}
END_TEST

/* ---- pieces of a JSON-lines input ------------------------------------- */

static int collect_write(void *ud, const char *data, size_t len)
{
    char **buf = ud;
    size_t have = *buf ? strlen(*buf) : 0;
    char *p = realloc(*buf, have + len + 1);
    if (!p)
        return -1;
    memcpy(p + have, data, len);
    p[have + len] = '\0';
    *buf = p;
    return 0;
}

/* Classifies data as one piece starting at line first (or, first == 0, with
 * aitag_stream_add_jsonl); returns the output lines (malloc'd). */
static char *stream_piece(const aitag_model *m, uint64_t first, const char *data)
{
    char *out = NULL;
    aitag_stream_params p = aitag_stream_params_default();
    p.threads = 2;
    p.scores = AITAG_SCORES_NONE;
    aitag_sink sink = {collect_write, NULL, &out};
    aitag_stream *s = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_stream_create(m, &p, sink, &s, &err), AITAG_OK);
    if (first)
        ck_assert_int_eq(aitag_stream_add_jsonl_at(s, "in.jsonl", first, data, strlen(data), &err), AITAG_OK);
    else
        ck_assert_int_eq(aitag_stream_add_jsonl(s, "in.jsonl", data, strlen(data), &err), AITAG_OK);
    ck_assert_int_eq(aitag_stream_finish(s, NULL, &err), AITAG_OK);
    return out ? out : calloc(1, 1);
}

START_TEST(jsonl_pieces_keep_line_numbers)
{
    aitag_model *m = small_model(0);
    static const char a[] = "\xEF\xBB\xBF{\"text\":\"gpu chips\"}\n\n";
    static const char b[] = "\xEF\xBB\xBF{\"text\":\"robots\"}\r\n{\"id\":7,\"text\":\"x\"}\nnot json";
    char whole[256];
    snprintf(whole, sizeof whole, "%s%s", a, b);
    char *w = stream_piece(m, 0, whole), *pa = stream_piece(m, 1, a), *pb = stream_piece(m, 3, b);
    char *joined = malloc(strlen(pa) + strlen(pb) + 1);
    ck_assert_ptr_nonnull(joined);
    snprintf(joined, strlen(pa) + strlen(pb) + 1, "%s%s", pa, pb);
    /* the BOM inside the whole input (line 3) is not a first-line BOM: both see the same line */
    ck_assert_str_eq(joined, w);
    ck_assert_ptr_nonnull(strstr(pb, "\"id\": \"3\""));
    ck_assert_ptr_nonnull(strstr(pb, "\"id\": 7"));
    ck_assert_ptr_nonnull(strstr(pb, "in.jsonl:5: malformed JSON"));
    ck_assert_ptr_nonnull(strstr(pa, "in.jsonl:2: empty line"));
    ck_assert_ptr_null(strstr(pa, "\"error\": \"in.jsonl:1"));  /* a BOM on line 1 is dropped */
    aitag_stream_params p = aitag_stream_params_default();
    aitag_sink sink = {collect_write, NULL, &w};
    aitag_stream *s = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_stream_create(m, &p, sink, &s, &err), AITAG_OK);
    ck_assert_int_eq(aitag_stream_add_jsonl_at(s, "x", 0, a, strlen(a), &err), AITAG_INVALID);
    ck_assert_int_eq(aitag_stream_finish(s, NULL, &err), AITAG_OK);
    free(w), free(pa), free(pb), free(joined);
    aitag_model_free(m);
}
END_TEST

/* ---- labels and the default path --------------------------------------- */

START_TEST(label_index_finds_every_label)
{
    aitag_model *m = small_model(0);
    size_t K = aitag_model_num_labels(m);
    ck_assert_uint_eq(K, 3);
    for (size_t k = 0; k < K; k++)
        ck_assert_int_eq(aitag_model_label_index(m, aitag_model_label(m, k)), (int64_t)k);
    ck_assert_int_eq(aitag_model_label_index(m, "food"), 0); /* labels are sorted by name */
    ck_assert_int_eq(aitag_model_label_index(m, "space"), 1);
    ck_assert_int_eq(aitag_model_label_index(m, "weather"), 2);
    ck_assert_int_eq(aitag_model_label_index(m, "spac"), -1);
    ck_assert_int_eq(aitag_model_label_index(m, "spaces"), -1);
    ck_assert_int_eq(aitag_model_label_index(m, "Space"), -1);
    ck_assert_int_eq(aitag_model_label_index(m, ""), -1);
    ck_assert_ptr_null(aitag_model_label(m, K));
    ck_assert_ptr_null(aitag_model_label(m, (size_t)-1));
    aitag_model_free(m);
    aitag_model_free(NULL); /* no-op */
    aitag_classifier_free(NULL);
}
END_TEST

START_TEST(default_model_path_honours_env)
{
    char buf[256];
    aitag_error err = {0};
    ck_assert_int_eq(setenv("AITAG_MODEL", "/some/where/my.aitag", 1), 0);
    ck_assert_int_eq(aitag_default_model_path(buf, sizeof buf, &err), AITAG_OK);
    ck_assert_str_eq(buf, "/some/where/my.aitag");
    /* a buffer too small is an error, not a silently cut path */
    char tiny[8];
    ck_assert_int_ne(aitag_default_model_path(tiny, sizeof tiny, &err), AITAG_OK);

    /* without it (or empty), a default place is used or the error lists them */
    ck_assert_int_eq(setenv("AITAG_MODEL", "", 1), 0);
    memset(&err, 0, sizeof err);
    aitag_status st = aitag_default_model_path(buf, sizeof buf, &err);
    ck_assert(st == AITAG_OK || st == AITAG_IO);
    if (st == AITAG_OK) {
        ck_assert_str_ne(buf, "");
        ck_assert_int_eq(access(buf, R_OK), 0);
    } else {
        ck_assert_msg(strstr(err.msg, "default.aitag") != NULL, "%s", err.msg);
        ck_assert_msg(strstr(err.msg, "AITAG_MODEL") != NULL, "%s", err.msg);
    }
    unsetenv("AITAG_MODEL");
    aitag_status st2 = aitag_default_model_path(buf, sizeof buf, &err);
    ck_assert_int_eq(st2, st);
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");

    TCase *tc = tcase_create("file");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip_is_byte_for_byte);
    tcase_add_test(tc, save_replaces_an_existing_file);
    tcase_add_test(tc, save_into_missing_directory_fails_with_io);
    tcase_add_test(tc, failed_save_leaves_existing_model_untouched);
    tcase_add_test(tc, empty_and_foreign_files_are_refused);
    tcase_add_test(tc, every_truncation_is_refused);
    tcase_add_test(tc, every_byte_flip_is_refused_or_harmless);
    tcase_add_test(tc, newer_and_zero_versions_are_refused);
    tcase_add_loop_test(tc, inconsistent_header_is_refused, 0, N_HEADER_CASES);
    tcase_add_loop_test(tc, inconsistent_vocabulary_is_refused, 0, V_TABLE_ODD + 1);
    tcase_add_test(tc, section_checksum_mismatch_is_refused);
    tcase_add_test(tc, model_with_other_tokenizer_settings);
    suite_add_tcase(s, tc);

    tc = tcase_create("classify");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, decide_multi_label_top_k_and_min_labels);
    tcase_add_test(tc, decide_tags_sorted_by_margin_with_min_labels);
    tcase_add_test(tc, decide_single_label_is_argmax);
    tcase_add_test(tc, decide_is_n_log_n_in_the_labels);
    tcase_add_test(tc, decide_min_labels_matches_a_plain_ranking);
    tcase_add_test(tc, probabilities_are_calibrated_sigmoids);
    tcase_add_test(tc, explain_returns_top_contributions_sorted);
    tcase_add_test(tc, explain_with_n_zero_returns_nothing);
    tcase_add_test(tc, nan_weights_are_refused);
    tcase_add_test(tc, nonfinite_half_weight_is_refused);
    tcase_add_test(tc, probe_run_check_agrees_with_a_full_walk);
    tcase_add_test(tc, f16_conversions_are_exact);
    tcase_add_test(tc, score_of_halves_is_the_plain_sum);
    tcase_add_test(tc, label_index_finds_every_label);
    tcase_add_test(tc, default_model_path_honours_env);
    tcase_add_test(tc, jsonl_pieces_keep_line_numbers);
    suite_add_tcase(s, tc);
    return s;
}
