/*
 * cmd_info.c: `aitag info`: what a model file holds (labels, sizes, settings).
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const cli_opt opts[] = {
    {"json", 0, NULL, "print the model's JSON header as it is stored"},
    {0, 0, 0, 0}};

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static void print_obj(const char *title, const cJSON *o)
{
    if (!cJSON_IsObject(o))
        return;
    printf("%s:\n", title);
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        char *v = cJSON_PrintUnformatted(it);
        if (v) {
            printf("  %-18s %s\n", it->string, v);
            cJSON_free(v);
        }
    }
}

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    cli_iter it;
    cli_iter_init(&it, cmd, argc, argv);
    const char *v;
    int o;
    while ((o = cli_next(&it, &v)) != CLI_DONE) {
        int stop = cli_common(cmd, o);
        if (stop >= 0)
            return stop;
        if (o == CLI_POSITIONAL) {
            if (path)
                return cli_usage_error(cmd, "one model at a time");
            path = v;
        } else if (cli_opt_is(&it, o, "json")) {
            json = 1;
        }
    }
    aitag_model *m = NULL;
    if (cli_load_model(path, &m) != 0)
        return EXIT_FAIL;
    const char *hdr = aitag_model_header(m);
    if (json) {
        printf("%s\n", hdr);
        aitag_model_free(m);
        return EXIT_OK;
    }
    cJSON *h = cJSON_Parse(hdr);
    if (!h) {
        aitag_model_free(m);
        cli_err("out of memory");
        return EXIT_FAIL;
    }
    const cJSON *x;
    printf("model:       %s\n", path ? path : "(default)");
    if (cJSON_IsString(x = get(h, "aitag_version")))
        printf("made by:     aitag %s", x->valuestring);
    if (cJSON_IsString(x = get(h, "created")))
        printf(", %s", x->valuestring);
    printf("\nformat:      version %d\nmode:        %s\nfeatures:    %zu\nlabels (%zu):",
           AITAG_MODEL_FORMAT_VERSION, aitag_model_is_single_label(m) ? "single-label (arg-max)" : "multi-label (per-label thresholds)",
           aitag_model_num_features(m), aitag_model_num_labels(m));
    const cJSON *th = get(h, "thresholds");
    for (size_t k = 0; k < aitag_model_num_labels(m); k++) {
        const cJSON *t = cJSON_GetArrayItem(th, (int)k);
        printf("%s %s", k ? "," : "", aitag_model_label(m, k));
        if (!aitag_model_is_single_label(m) && cJSON_IsNumber(t))
            printf(" (threshold %.3f)", t->valuedouble);
    }
    printf("\n");
    const cJSON *u = get(h, "untrainable_labels");
    if (cJSON_GetArraySize(u) > 0) {
        char *s = cJSON_PrintUnformatted(u);
        printf("skipped labels (no positive or no negative document): %s\n", s ? s : "");
        cJSON_free(s);
    }
    print_obj("tokenizer", get(h, "tokenizer"));
    print_obj("features", get(h, "features"));
    print_obj("training", get(h, "training"));
    cJSON_Delete(h);
    aitag_model_free(m);
    return EXIT_OK;
}

const cli_cmd cmd_info = {
    "info", run, "print a model's labels, sizes and settings",
    "[options] [MODEL]   (MODEL: default $AITAG_MODEL, then the installed or built default model)", opts,
    "aitag info sectors.aitag\n"
    "aitag info --json sectors.aitag > header.json"};
