/*
 * cmd_info.c: `aitag info`: what a model file holds (labels, sizes, settings).
 */
#include <string.h>

#include "cli.h"

static const cli_opt opts[] = {
    {"json", 0, NULL, "print the model's JSON header as it is stored"},
    {0, 0, 0, 0}};

static void print_labels(const aitag_model_info *i)
{
    printf("labels (%zu):", i->n_labels);
    for (size_t k = 0; k < i->n_labels; k++) {
        printf("%s %s", k ? "," : "", i->labels[k]);
        if (!i->single_label)
            printf(" (threshold %.3f%s", i->thresholds[k], i->passages ? "" : ")");
        if (!i->single_label && i->passages)
            printf(", passage weight %.2f)", i->passage_weight[k]);
    }
    printf("\n");
    if (i->n_untrainable) {
        printf("skipped labels (no positive or no negative document):");
        for (size_t k = 0; k < i->n_untrainable; k++)
            printf("%s %s", k ? "," : "", i->untrainable[k]);
        printf("\n");
    }
}

static void print_settings(const aitag_model_info *i)
{
    const aitag_tokenizer_params *t = &i->tokenizer;
    printf("tokenizer:   NFKC + case folding%s; word n-grams 1-%u; character n-grams %s",
           t->strip_accents ? " + accent stripping" : "", t->word_ngrams, t->char_ngram_max ? "" : "off");
    if (t->char_ngram_max)
        printf("%u-%u", t->char_ngram_min, t->char_ngram_max);
    printf("; words up to %u bytes\n", t->max_token_bytes);
    printf("features:    %u (%s), %s; min_df %u, max_df %g, max_features %u\n", i->n_features,
           i->hash_bits ? "hashing trick" : "vocabulary", i->weighting, i->min_df, i->max_df, i->max_features);
    if (i->hash_bits)
        printf("             2^%u hash buckets\n", i->hash_bits);
    printf("training:    %s, C %g, eps %g, %u folds, seed %llu, %llu documents, corpus checksum %016llx\n",
           i->solver[0] ? i->solver : "(not recorded)", i->C, i->eps, i->folds, (unsigned long long)i->seed,
           (unsigned long long)i->documents, (unsigned long long)i->corpus_checksum);
    if (i->has_cv)
        printf("cv:          micro-F1 %.4f, macro-F1 %.4f, accuracy %.4f, subset accuracy %.4f\n", i->cv_micro_f1,
               i->cv_macro_f1, i->cv_accuracy, i->cv_subset_accuracy);
    for (uint32_t c = 0; c < i->n_search_C; c++)
        printf("%s C %g: %.4f\n", c ? "            " : "search C:   ", i->search_C[c], i->search_score[c]);
    if (i->gate)
        printf("gate:        tags only where the gate learnt from unlabelled articles opens (margin > %.3f)\n",
               i->gate_threshold);
    if (i->passages)
        printf("passages:    paragraphs, windows of about %u words; a label's decision weighs its best passage "
               "(weights above)\n", i->passage_words);
    printf("decision:    %s; probabilities by Platt's sigmoid%s\n",
           i->single_label ? "arg-max" : "per-label thresholds tuned for F1 on held-out folds",
           i->folds >= 2 ? " fitted on held-out folds" : " (uncalibrated)");
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
    if (json) {
        printf("%s\n", aitag_model_header(m));
        aitag_model_free(m);
        return cli_finish_output(EXIT_OK);
    }
    const aitag_model_info *i = aitag_model_get_info(m);
    printf("model:       %s\n", path ? path : "(default)");
    printf("made by:     aitag %s, %s\n", i->aitag_version[0] ? i->aitag_version : "?", i->created[0] ? i->created : "?");
    printf("format:      version %u (this aitag reads up to %d)\n", i->format_version, AITAG_MODEL_FORMAT_VERSION);
    printf("mode:        %s\n", i->single_label ? "single-label (arg-max)" : "multi-label (per-label thresholds)");
    printf("features:    %u\n", i->n_features);
    print_labels(i);
    print_settings(i);
    aitag_model_free(m);
    return cli_finish_output(EXIT_OK);
}

const cli_cmd cmd_info = {
    "info", run, "print a model's labels, sizes and settings",
    "[options] [MODEL]   (MODEL: default $AITAG_MODEL, then the installed or built default model)", opts,
    "aitag info sectors.aitag\n"
    "aitag info --json sectors.aitag > header.json"};
