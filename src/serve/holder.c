/*
 * holder.c: the served model. Requests take a reference to the current model
 * and keep it until they end; a reload loads and validates the new file
 * first, then swaps the pointer under the lock, so a request never sees a
 * half-loaded model and the old one is freed by the last request using it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "serve.h"

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static srv_model *load(const char *path, uint64_t generation, aitag_error *err)
{
    srv_model *sm = calloc(1, sizeof *sm);
    if (!sm) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    double t0 = now_mono();
    if (aitag_model_load(path, &sm->m, err) != AITAG_OK) {
        free(sm);
        return NULL;
    }
    sm->load_seconds = now_mono() - t0;
    sm->loaded_at = now_real();
    const void *bytes = aitag_model_bytes(sm->m, &sm->bytes);
    sm->checksum = fnv1a64(bytes, sm->bytes);
    sm->generation = generation;
    sm->refs = 1; /* the holder's */
    return sm;
}

int srv_holder_init(srv_holder *h, const char *path, aitag_error *err)
{
    memset(h, 0, sizeof *h);
    h->path = strdup(path);
    if (!h->path) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return -1;
    }
    h->cur = load(path, 1, err);
    if (!h->cur) {
        free(h->path);
        return -1;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->reload, NULL);
    return 0;
}

static void release(srv_model *sm)
{
    aitag_model_free(sm->m);
    free(sm);
}

void srv_holder_free(srv_holder *h)
{
    if (h->cur)
        srv_model_put(h, h->cur);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->reload);
    free(h->path);
    memset(h, 0, sizeof *h);
}

srv_model *srv_model_get(srv_holder *h)
{
    pthread_mutex_lock(&h->mu);
    srv_model *sm = h->cur;
    if (sm)
        sm->refs++;
    pthread_mutex_unlock(&h->mu);
    return sm;
}

void srv_model_put(srv_holder *h, srv_model *sm)
{
    if (!sm)
        return;
    pthread_mutex_lock(&h->mu);
    int last = --sm->refs == 0;
    pthread_mutex_unlock(&h->mu);
    if (last)
        release(sm);
}

int srv_reload(srv_holder *h, aitag_error *err)
{
    pthread_mutex_lock(&h->reload);
    uint64_t gen = h->cur->generation + 1; /* cur changes only here, under reload */
    srv_model *sm = load(h->path, gen, err);
    if (!sm) {
        __atomic_add_fetch(&h->reload_failures, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&h->reload);
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    srv_model *old = h->cur;
    h->cur = sm;
    pthread_mutex_unlock(&h->mu);
    srv_model_put(h, old);
    __atomic_add_fetch(&h->reloads, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&h->reload);
    return 0;
}

/* Kept in one place: the typed metadata getters will replace the raw header. */
void srv_model_json(const srv_holder *h, const srv_model *sm, aitag__sbuf *b)
{
    char num[128];
    aitag__sb_puts(b, "{\"path\": ");
    aitag__sb_json_string(b, h->path, strlen(h->path));
    aitag__sb_puts(b, ", \"labels\": [");
    size_t K = aitag_model_num_labels(sm->m);
    for (size_t k = 0; k < K; k++) {
        const char *l = aitag_model_label(sm->m, k);
        if (k)
            aitag__sb_puts(b, ", ");
        aitag__sb_json_string(b, l, strlen(l));
    }
    snprintf(num, sizeof num,
             "], \"num_features\": %zu, \"single_label\": %s, \"bytes\": %zu, \"checksum\": \"%016llx\", "
             "\"generation\": %llu, ",
             aitag_model_num_features(sm->m), aitag_model_is_single_label(sm->m) ? "true" : "false", sm->bytes,
             (unsigned long long)sm->checksum, (unsigned long long)sm->generation);
    aitag__sb_puts(b, num);
    snprintf(num, sizeof num, "\"load_seconds\": %.6f, \"loaded_at\": %.3f, \"aitag_version\": \"%s\", \"header\": ",
             sm->load_seconds, sm->loaded_at, aitag_version());
    aitag__sb_puts(b, num);
    cJSON *hdr = cJSON_Parse(aitag_model_header(sm->m));
    char *flat = hdr ? cJSON_PrintUnformatted(hdr) : NULL;
    aitag__sb_puts(b, flat ? flat : "null");
    cJSON_free(flat);
    cJSON_Delete(hdr);
    aitag__sb_puts(b, "}\n");
}
