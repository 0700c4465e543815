/*
 * fuzz_model.c: libFuzzer target for the model loader and everything that
 * reads through a loaded model (classifier, decide, explain, save).
 *
 * The input is a model file, as is. It is loaded up to three times:
 *  1. as given, which mostly tests the checks in front of the parser (a
 *     mutated file rarely keeps its checksums right);
 *  2. after "fixing up" the prefix (file size, data offset, header checksum)
 *     and the section checksums in the header, so that mutations of the JSON
 *     header and of the data sections reach the deeper validation and the
 *     code that trusts it.
 * Whatever loads is used: a classifier is made, a few fixed texts and a text
 * built from the model's own vocabulary are classified, the tags, the
 * probabilities and the explanations are checked, and the model is saved
 * to a temporary file and loaded back, which must give the same bytes.
 *
 * model_io.c promises that "a file that passes cannot make scoring read out
 * of bounds": ASan holds it to that.
 *
 * 3. after a hostile edit that keeps the checksums valid (see hostile_edit).
 *
 * To fuzz past a known failure, AITAG_FUZZ_SKIP (comma-separated) may hold
 * "nonfinite": explanations may then hold NaN contributions (from NaN
 * weights or idf values in a file that passes the loader); "hostile": the
 * checks on labels and finite margins of hostile edits are skipped.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <float.h>
#include <utf8proc.h>

#include "aitag/model.h"
#include "internal.h" /* aitag__checksum, to fix up the checksums */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFIX 64

static _Noreturn void fail(const char *what)
{
    fprintf(stderr, "fuzz_model: invariant violated: %s\n", what);
    abort();
}

/* 1 if AITAG_FUZZ_SKIP (a comma-separated list) names this check. */
static int skipped(const char *check)
{
    const char *v = getenv("AITAG_FUZZ_SKIP");
    size_t n = strlen(check);
    for (const char *p = v; p && (p = strstr(p, check)) != NULL; p += n)
        if ((p == v || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return 1;
    return 0;
}

static int skip_nonfinite;

/* ---- fixing up checksums ------------------------------------------------ */

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

/* A copy of in with the prefix and checksums made consistent with the
 * bytes, or NULL if there is no usable prefix. */
static uint8_t *fix_up(const uint8_t *in, size_t size)
{
    if (size < PREFIX || memcmp(in, "AITAGMDL", 8) != 0)
        return NULL;
    uint8_t *img = malloc(size);
    if (!img)
        return NULL;
    memcpy(img, in, size);
    put64(img + 40, size);
    uint64_t hlen = get64(img + 16);
    if (hlen == 0 || hlen > size - PREFIX)
        return img;
    uint64_t data_off = (PREFIX + hlen + 63) & ~(uint64_t)63;
    put64(img + 32, data_off);
    char *hdr = (char *)img + PREFIX;
    cJSON *h = cJSON_ParseWithLength(hdr, hlen);
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(h, "sections"), *s;
    if (!cJSON_IsArray(secs))
        secs = NULL;
    size_t cursor = 0;
    cJSON_ArrayForEach(s, secs)
    {
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(s, "offset");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(s, "size");
        const cJSON *ck = cJSON_GetObjectItemCaseSensitive(s, "checksum");
        if (!cJSON_IsNumber(off) || !cJSON_IsNumber(sz) || !cJSON_IsString(ck) || strlen(ck->valuestring) != 16)
            continue;
        double o = off->valuedouble, n = sz->valuedouble;
        if (data_off > size || !(o >= 0 && n >= 0) || o + n > (double)(size - data_off))
            continue;
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx",
                 (unsigned long long)aitag__checksum_for(get32(img + 8), img + data_off + (size_t)o, (size_t)n));
        /* the old value, in header order, is replaced in place (same length) */
        for (size_t i = cursor; i + 16 <= hlen; i++) {
            if (memcmp(hdr + i, ck->valuestring, 16) == 0) {
                memcpy(hdr + i, hex, 16);
                cursor = i + 16;
                break;
            }
        }
    }
    cJSON_Delete(h);
    put64(img + 24, aitag__checksum_for(get32(img + 8), hdr, hlen));
    return img;
}

/* ---- hostile edits with valid checksums ---------------------------------
 * A crafted model can be hostile and still have every checksum right. The
 * edits below make one such change, chosen by the input's last byte, then
 * fix_up repairs the checksums: duplicate labels, a control character, NFC
 * twins, absurd biases, thresholds and Platt parameters, weights and idf
 * values near FLT_MAX, a term table full but for one slot. A model that
 * still loads must hold the loader's promises: labels as training would
 * accept them, finite margins (checked in classify_one), and lookups that
 * end quickly (libFuzzer's -timeout catches a crawl). These checks are
 * skipped with AITAG_FUZZ_SKIP=hostile. */

static int skip_hostile;

/* A new image with header h (the data sections unchanged), or NULL. */
static uint8_t *with_header(const uint8_t *in, size_t size, cJSON *h, size_t *out_size)
{
    uint64_t hlen = get64(in + 16), data_off = get64(in + 32);
    if (hlen == 0 || hlen > size - PREFIX || data_off > size || data_off < PREFIX + hlen)
        return NULL;
    char *text = cJSON_PrintUnformatted(h);
    if (!text)
        return NULL;
    size_t nl = strlen(text), noff = (PREFIX + nl + 63) & ~(size_t)63, n = noff + (size - data_off);
    uint8_t *img = calloc(1, n);
    if (img) {
        memcpy(img, in, PREFIX);
        memcpy(img + PREFIX, text, nl);
        memcpy(img + noff, in + data_off, size - data_off);
        put64(img + 16, nl);
        *out_size = n;
    }
    free(text);
    return img;
}

static void set_number_at(cJSON *arr, int i, double v)
{
    if (cJSON_IsArray(arr) && i < cJSON_GetArraySize(arr))
        cJSON_ReplaceItemInArray(arr, i, cJSON_CreateNumber(v));
}

/* The data section called name: its bytes in img, or NULL. */
static uint8_t *section(uint8_t *img, size_t size, const cJSON *h, const char *name, size_t *len)
{
    const cJSON *s;
    uint64_t data_off = get64(img + 32);
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(h, "sections"))
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(s, "name");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(s, "offset");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(s, "size");
        if (!cJSON_IsString(nm) || strcmp(nm->valuestring, name) != 0 || !cJSON_IsNumber(off) || !cJSON_IsNumber(sz))
            continue;
        double o = off->valuedouble, n = sz->valuedouble;
        if (o < 0 || n < 0 || data_off > size || o + n > (double)(size - data_off))
            return NULL;
        *len = (size_t)n;
        return img + data_off + (size_t)o;
    }
    return NULL;
}

/* Fills every float of a section with +-big. */
static void fill_floats(uint8_t *p, size_t len, float big)
{
    for (size_t i = 0; i + 4 <= len; i += 4) {
        float v = (i / 4) % 2 ? -big : big;
        memcpy(p + i, &v, 4);
    }
}

/* The same for weights stored as halves (format 3): the largest finite
 * half, or infinity. */
static void fill_halves(uint8_t *p, size_t len, int inf)
{
    for (size_t i = 0; i + 2 <= len; i += 2) {
        uint16_t v = (uint16_t)((inf ? 0x7c00u : 0x7bffu) | ((i / 2) % 2 ? 0x8000u : 0));
        memcpy(p + i, &v, 2);
    }
}

/* Every empty slot of the term table filled but one (ids and tags that
 * match no term): each unknown term's probe then walks the whole table. */
static void fill_table(uint8_t *p, size_t len)
{
    size_t slots = len / 8, left = 1;
    for (size_t i = 0; i < slots; i++) {
        uint32_t id, tag = 0x5EEDu + (uint32_t)i;
        memcpy(&id, p + 8 * i, 4);
        if (id != 0)
            continue;
        if (left) { /* the one left empty */
            left = 0;
            continue;
        }
        id = 1;
        memcpy(p + 8 * i, &id, 4);
        memcpy(p + 8 * i + 4, &tag, 4);
    }
}

static uint8_t *hostile_edit(const uint8_t *in, size_t size, size_t *out_size)
{
    if (size < PREFIX + 1 || memcmp(in, "AITAGMDL", 8) != 0)
        return NULL;
    uint64_t hlen = get64(in + 16);
    if (hlen == 0 || hlen > size - PREFIX)
        return NULL;
    cJSON *h = cJSON_ParseWithLength((const char *)in + PREFIX, hlen);
    cJSON *labels = cJSON_GetObjectItemCaseSensitive(h, "labels");
    if (!h || !cJSON_IsArray(labels) || cJSON_GetArraySize(labels) < 2) {
        cJSON_Delete(h);
        return NULL;
    }
    unsigned op = in[size - 1] % 12;
    cJSON *platt = cJSON_GetObjectItemCaseSensitive(h, "platt");
    switch (op) {
    case 0: /* a duplicate label */
        cJSON_ReplaceItemInArray(labels, 1, cJSON_Duplicate(cJSON_GetArrayItem(labels, 0), 1));
        break;
    case 1: /* a control character */
        cJSON_ReplaceItemInArray(labels, 0, cJSON_CreateString("tab\there"));
        break;
    case 2: /* NFC and NFD twins */
        cJSON_ReplaceItemInArray(labels, 0, cJSON_CreateString("caf\xc3\xa9"));
        cJSON_ReplaceItemInArray(labels, 1, cJSON_CreateString("cafe\xcc\x81"));
        break;
    case 3:
        set_number_at(cJSON_GetObjectItemCaseSensitive(h, "bias"), 0, 1e308);
        break;
    case 4:
        set_number_at(cJSON_GetObjectItemCaseSensitive(h, "bias"), 1, -1.7e308);
        break;
    case 5:
        set_number_at(cJSON_GetObjectItemCaseSensitive(h, "thresholds"), 0, 1e308);
        break;
    case 6:
        set_number_at(cJSON_GetObjectItemCaseSensitive(platt, "A"), 0, 1e308);
        break;
    case 7:
        set_number_at(cJSON_GetObjectItemCaseSensitive(platt, "B"), 1, -1e308);
        break;
    default:
        break; /* 8..11 edit the data sections below */
    }
    uint8_t *img = with_header(in, size, h, out_size);
    size_t len = 0;
    uint8_t *sec = NULL;
    if (img && (op == 8 || op == 9) && (sec = section(img, *out_size, h, "weights_f16", &len)) != NULL)
        fill_halves(sec, len, op == 9);
    else if (img && op >= 8 && op <= 10 &&
             (sec = section(img, *out_size, h, op == 10 ? "idf" : "weights", &len)) != NULL)
        fill_floats(sec, len, op == 9 ? 1e30f : FLT_MAX);
    if (img && op == 11 && (sec = section(img, *out_size, h, "term_table", &len)) != NULL)
        fill_table(sec, len);
    cJSON_Delete(h);
    return img;
}

/* The labels of a model that loaded, as training would have them. */
static void check_labels(const aitag_model *m)
{
    const size_t K = aitag_model_num_labels(m);
    for (size_t k = 0; k < K; k++) {
        const unsigned char *l = (const unsigned char *)aitag_model_label(m, k);
        for (const unsigned char *q = l; *q; q++)
            if (*q < 0x20 || *q == 0x7F || (q[0] == 0xC2 && q[1] >= 0x80 && q[1] <= 0x9F))
                fail("a loaded model has a label with a control character");
        char *nk = (char *)utf8proc_NFC(l);
        for (size_t j = 0; j < k && nk; j++) {
            char *nj = (char *)utf8proc_NFC((const unsigned char *)aitag_model_label(m, j));
            int same = nj && strcmp(nj, nk) == 0;
            free(nj);
            if (same) {
                free(nk);
                fail("a loaded model has two labels that are the same in NFC");
            }
        }
        free(nk);
    }
}

/* ---- using a loaded model ----------------------------------------------- */

static volatile unsigned sink;

static void check_decide(const aitag_model *m, const double *margins, const aitag_decide_opts *o)
{
    const size_t K = aitag_model_num_labels(m);
    uint32_t *tags = malloc(K * sizeof *tags);
    double *probs = malloc(K * sizeof *probs);
    if (!tags || !probs)
        fail("out of memory in the harness");
    size_t n = aitag_decide(m, margins, o, tags, probs);
    int any_nan = 0;
    for (size_t k = 0; k < K; k++)
        any_nan |= isnan(margins[k]);
    if (n > K)
        fail("aitag_decide returned more tags than labels");
    if (o && o->top_k && n > o->top_k)
        fail("aitag_decide returned more than top_k tags");
    size_t want_min = o ? (o->min_labels < K ? o->min_labels : K) : 0;
    if (o && o->top_k && want_min > o->top_k)
        want_min = o->top_k;
    if (n < want_min)
        fail("aitag_decide returned fewer than min_labels tags");
    if (aitag_model_is_single_label(m) && (!o || (!o->top_k && !o->min_labels)) && n != 1)
        fail("a single-label model did not give exactly one tag");
    for (size_t i = 0; i < n; i++) {
        if (tags[i] >= K)
            fail("tag out of range");
        for (size_t j = 0; j < i; j++)
            if (tags[j] == tags[i])
                fail("the same tag twice");
        /* a single-label model ranks every tag by margin, best first (a
         * multi-label one puts passing labels before added ones; NaN margins
         * have no order) */
        if (i > 0 && aitag_model_is_single_label(m) && !any_nan && margins[tags[i]] > margins[tags[i - 1]])
            fail("tags not sorted by margin");
    }
    for (size_t k = 0; k < K; k++)
        if (probs[k] < 0 || probs[k] > 1)
            fail("probability outside [0, 1]");
    free(tags);
    free(probs);
}

static void check_explain(aitag_classifier *c, const aitag_features *x, size_t k, size_t n)
{
    /* exact-size blocks (none for n = 0) so ASan sees any write past n */
    uint32_t *ids = n ? malloc(n * sizeof *ids) : NULL;
    double *contrib = n ? malloc(n * sizeof *contrib) : NULL;
    if (n && (!ids || !contrib))
        fail("out of memory in the harness");
    size_t got = aitag_explain(c, x, k, n, ids, contrib);
    if (got > n || got > x->n)
        fail("aitag_explain returned more entries than asked for or than features");
    for (size_t i = 0; i < got; i++) {
        if (skip_nonfinite && isnan(contrib[i]))
            continue;
        if (!(contrib[i] > 0)) {
            fprintf(stderr, "fuzz_model: contribution %zu of label %zu is %g\n", i, k, contrib[i]);
            fail("aitag_explain returned a contribution that is not positive");
        }
        if (i > 0 && contrib[i] > contrib[i - 1])
            fail("aitag_explain contributions not in decreasing order");
        size_t j = 0;
        while (j < x->n && x->ids[j] != ids[i])
            j++;
        if (j == x->n)
            fail("aitag_explain returned a feature that is not in the document");
    }
    free(ids);
    free(contrib);
}

static void classify_one(aitag_classifier *c, const aitag_model *m, const char *text, size_t len)
{
    const size_t K = aitag_model_num_labels(m), V = aitag_model_num_features(m);
    aitag_features x;
    aitag_tokenize_stats st;
    aitag_error err;
    memset(&err, 0, sizeof err);
    if (aitag_featurize(c, text, len, &x, &st, &err) != AITAG_OK)
        fail("aitag_featurize failed on a loaded model");
    if (x.n > V || x.n > st.terms)
        fail("more features than the model has, or than terms");
    for (size_t i = 0; i < x.n; i++) {
        if (x.ids[i] >= V)
            fail("feature id out of range");
        sink += x.vals[i] != 0; /* readable */
        for (size_t j = 0; j < i && x.n <= 512; j++)
            if (x.ids[j] == x.ids[i])
                fail("the same feature twice");
    }
    double *margins = malloc(K * sizeof *margins);
    if (!margins)
        fail("out of memory in the harness");
    aitag_score(c, &x, margins);
    for (size_t k = 0; k < K && !skip_hostile; k++)
        if (!isfinite(margins[k]))
            fail("a loaded model gives a margin that is not finite");
    aitag_decide_opts o = aitag_decide_opts_default();
    check_decide(m, margins, NULL);
    check_decide(m, margins, &o);
    o.top_k = 1;
    check_decide(m, margins, &o);
    o.top_k = 0;
    o.min_labels = 2;
    check_decide(m, margins, &o);
    o.top_k = 2;
    o.min_labels = (uint32_t)K + 5;
    check_decide(m, margins, &o);
    free(margins);
    check_explain(c, &x, 0, 0); /* nothing asked: must write nothing */
    check_explain(c, &x, 0, 1);
    check_explain(c, &x, K - 1, 5);
    check_explain(c, &x, K, 5); /* out of range: must return 0 */
}

static char tmpl_dir[64];

static void save_and_reload(const aitag_model *m, const uint8_t *image, size_t size)
{
    char path[128];
    aitag_error err;
    memset(&err, 0, sizeof err);
    snprintf(path, sizeof path, "%s/fuzz_model.%ld.aitag", tmpl_dir, (long)getpid());
    if (aitag_model_save(m, path, &err) != AITAG_OK) {
        fprintf(stderr, "fuzz_model: save failed: %s\n", err.msg);
        abort();
    }
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail("the saved model cannot be opened");
    uint8_t *back = malloc(size + 1);
    size_t got = back ? fread(back, 1, size + 1, fp) : 0;
    fclose(fp);
    if (got != size || memcmp(back, image, size) != 0)
        fail("the saved model differs from the bytes it was loaded from");
    free(back);
    aitag_model *m2 = NULL;
    if (aitag_model_load(path, &m2, &err) != AITAG_OK) {
        fprintf(stderr, "fuzz_model: reload failed: %s\n", err.msg);
        abort();
    }
    if (aitag_model_num_labels(m2) != aitag_model_num_labels(m) ||
        aitag_model_num_features(m2) != aitag_model_num_features(m) ||
        strcmp(aitag_model_header(m2), aitag_model_header(m)) != 0)
        fail("the reloaded model differs");
    aitag_model_free(m2);
    unlink(path);
}

static void use_model(const aitag_model *m, const uint8_t *image, size_t size)
{
    static const char *const texts[] = {
        "NVIDIA ships AI chips for data centers; self-driving cars use 3.5 TFLOPS.",
        "L'IA générative transforme la santé et la finance, coûte 1,200 €.",
        "데이터센터에 AI반도체를 공급하는 삼성전자",
        "人工智能芯片和自動運転のニュース",
        "\xC3\x28 invalid \xFF\xFE utf-8 \xED\xA0\x80 surrogate",
    };
    const size_t K = aitag_model_num_labels(m), V = aitag_model_num_features(m);
    if (K < 1 || V < 1)
        fail("a loaded model without labels or features");
    for (size_t k = 0; k < K; k++) {
        const char *l = aitag_model_label(m, k);
        if (!l || !l[0])
            fail("missing or empty label");
        int64_t idx = aitag_model_label_index(m, l);
        if (idx < 0 || (size_t)idx > k || strcmp(aitag_model_label(m, (size_t)idx), l) != 0)
            fail("aitag_model_label_index does not find the label");
    }
    if (aitag_model_label(m, K) != NULL)
        fail("aitag_model_label out of range is not NULL");
    if (!skip_hostile)
        check_labels(m);
    const char *h = aitag_model_header(m);
    if (!h)
        fail("no header");
    sink += (unsigned)strlen(h);
    if (aitag_tokenizer_params_check(aitag_model_tokenizer_params(m)) != NULL)
        fail("a loaded model has unusable tokenizer settings");

    /* a text made of the model's own terms, so that features are found */
    char text[4096];
    size_t tl = 0;
    for (uint32_t id = 0; id < V && id < 64; id++) {
        size_t n = 0;
        const char *t = aitag_model_term(m, id, &n);
        if (!t)
            break;
        sink += n ? (unsigned char)t[0] + (unsigned char)t[n - 1] : 0;
        if (tl + n + 1 > sizeof text)
            break;
        memcpy(text + tl, t, n);
        tl += n;
        text[tl++] = ' ';
    }
    if (aitag_model_term(m, (uint32_t)V, &(size_t){0}) != NULL)
        fail("aitag_model_term out of range is not NULL");

    aitag_classifier *c = NULL;
    aitag_error err;
    memset(&err, 0, sizeof err);
    if (aitag_classifier_create(m, &c, &err) != AITAG_OK) {
        fprintf(stderr, "fuzz_model: classifier: %s\n", err.msg);
        abort();
    }
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        classify_one(c, m, texts[i], strlen(texts[i]));
    classify_one(c, m, text, tl);
    classify_one(c, m, "", 0);
    aitag_classifier_free(c);
    save_and_reload(m, image, size);
}

static void try_load(const uint8_t *bytes, size_t size)
{
    aitag_model *m = NULL;
    aitag_error err;
    memset(&err, 0, sizeof err);
    aitag_status rc = aitag_model_load_bytes(bytes, size, "fuzz", &m, &err);
    if (rc != AITAG_OK) {
        if (m)
            fail("a failed load left a model");
        if (err.code != rc || !err.msg[0])
            fail("a failed load did not fill the error record");
        if (rc != AITAG_FORMAT && rc != AITAG_CORRUPT && rc != AITAG_VERSION) {
            fprintf(stderr, "fuzz_model: status %d: %s\n", rc, err.msg);
            fail("a bad file gave a status other than FORMAT, CORRUPT or VERSION");
        }
        return;
    }
    if (!m)
        fail("AITAG_OK without a model");
    use_model(m, bytes, size);
    aitag_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmpl_dir[0]) {
        skip_nonfinite = skipped("nonfinite");
        skip_hostile = skipped("hostile");
        snprintf(tmpl_dir, sizeof tmpl_dir, "%s", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    }
    try_load(data, size);
    uint8_t *fixed = fix_up(data, size);
    if (fixed && memcmp(fixed, data, size) != 0)
        try_load(fixed, size);
    free(fixed);
    size_t hsize = 0;
    uint8_t *edited = hostile_edit(data, size, &hsize);
    uint8_t *hfixed = edited ? fix_up(edited, hsize) : NULL;
    if (hfixed)
        try_load(hfixed, hsize);
    free(hfixed);
    free(edited);
    return 0;
}
