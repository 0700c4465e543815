/*
 * cmd_train.c: `aitag train`: corpus -> dataset -> aitag_train -> model file.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const cli_opt opts[] = {
    {"input", 'i', "FILE", "labelled corpus: JSON lines or fastText format ('-' = stdin)"},
    {"output", 'o', "MODEL", "model file to write (atomically: temp file + rename)"},
    {"cost", 'C', "X", "SVM cost C (default 1)"},
    {"solver", 0, "NAME", "dcd (L2-loss SVM, dual coordinate descent; default), liblinear (the same SVM, primal Newton) or libsvm (C-SVC, linear kernel)"},
    {"eps", 0, "X", "solver tolerance (default: 0.1 dcd, 0.01 liblinear, 0.001 libsvm)"},
    {"min-df", 0, "N", "ignore terms in fewer than N documents (default 2)"},
    {"max-df", 0, "X", "ignore terms in more than this share of documents (default 1.0)"},
    {"max-features", 0, "N", "keep only the N most frequent terms (default: all)"},
    {"hash-bits", 0, "B", "hashing trick with 2^B features instead of a vocabulary (default off)"},
    {"gate", 0, NULL, "also learn, from the unlabelled documents, whether an article is about any label at all, and tag only those (default off)"},
    {"passages", 0, "WORDS", "also score paragraphs (windows of about WORDS words) and tune how much each label's best passage weighs; needs folds (default off)"},
    {"word-ngrams", 0, "N", "word n-grams 1..4 (default 2)"},
    {"char-ngrams", 0, "MIN:MAX", "character n-grams of words, e.g. 3:5 (default none)"},
    {"strip-accents", 0, NULL, "remove accents and other combining marks (default keep)"},
    {"max-token-bytes", 0, "N", "drop words longer than N bytes (default 64)"},
    {"folds", 0, "K", "held-out folds for thresholds and calibration; 0 = none (default 3)"},
    {"cv", 0, "K", "use K folds and print the cross-validated metrics"},
    {"search-C", 0, NULL, "choose C from 0.1 0.3 1 3 10 30 by cross-validation"},
    {"multi-label", 0, NULL, "tune per-label thresholds even if every document has one label"},
    {"threads", 't', "N", "parallel training workers (default: number of cores)"},
    {"seed", 0, "N", "seed for folds and the dcd solver's visiting order (default 1)"},
    {"skip-bad", 0, NULL, "skip malformed lines (counted) instead of stopping at the first"},
    {"input-format", 0, "FMT", "auto, jsonl or fasttext (default auto)"},
    {"max-bytes", 0, "N", "longest line accepted, bytes (default 67108864)"},
    {"max-labels", 0, "N", "most distinct labels accepted (default 4096)"},
    {"json", 0, NULL, "with --cv: print the metrics as JSON"},
    {"quiet", 'q', NULL, "no progress or summary on stderr"},
    {0, 0, 0, 0}};

typedef struct {
    int on;
    struct timespec t0;
    size_t docs;
} progress_state;

static double elapsed(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int on_progress(void *ud, const char *stage, size_t done, size_t total)
{
    progress_state *p = ud;
    if (p->on)
        fprintf(stderr, "\raitag: %zu documents; %-10s %zu/%zu  %.1f s   ", p->docs, stage, done, total, elapsed(&p->t0));
    return 0;
}

/* Refuses, before any training, a model path that could not be written:
 * a folder that does not exist or is not writable, or a path naming
 * something other than a regular file. */
static int check_output(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        cli_err("%s: exists and is not a regular file", path);
        return -1;
    }
    char *copy = strdup(path);
    if (!copy) {
        cli_err("out of memory");
        return -1;
    }
    const char *dir = dirname(copy);
    int ok = access(dir, W_OK | X_OK) == 0;
    if (!ok)
        cli_err("%s: cannot write a model in %s: %s", path, dir, strerror(errno));
    free(copy);
    return ok ? 0 : -1;
}

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    aitag_train_params tp = aitag_train_params_default();
    aitag_tokenizer_params kp = aitag_tokenizer_params_default();
    aitag_corpus_params cp = aitag_corpus_params_default();
    const char *in = NULL, *outp = NULL;
    uint32_t hash_bits = 0, passage_words = 0;
    int quiet = 0, skip_bad = 0, show_cv = 0, json = 0, folds_given = 0;
    cli_iter it;
    cli_iter_init(&it, cmd, argc, argv);
    const char *v;
    int o;
    while ((o = cli_next(&it, &v)) != CLI_DONE) {
        uint64_t u;
        double d;
        int stop = cli_common(cmd, o);
        if (stop >= 0)
            return stop;
        if (o == CLI_POSITIONAL)
            return cli_usage_error(cmd, "unexpected argument '%s' (the corpus is given with -i)", v);
        const char *name = cmd->opts[o].lng;
#define IS(s) (strcmp(name, s) == 0)
#define UINT_OPT(lo, hi) \
    if (cli_uint(cmd, name, v, lo, hi, &u)) \
        return EXIT_USAGE;
#define DBL_OPT(lo, hi) \
    if (cli_double(cmd, name, v, lo, hi, &d)) \
        return EXIT_USAGE;
        if (IS("input")) {
            in = v;
        } else if (IS("output")) {
            outp = v;
        } else if (IS("cost")) {
            DBL_OPT(1e-6, 1e6);
            tp.C = d;
        } else if (IS("solver")) {
            if (strcmp(v, "dcd") == 0)
                tp.solver = AITAG_SOLVER_DCD;
            else if (strcmp(v, "liblinear") == 0)
                tp.solver = AITAG_SOLVER_LIBLINEAR;
            else if (strcmp(v, "libsvm") == 0)
                tp.solver = AITAG_SOLVER_LIBSVM;
            else
                return cli_usage_error(cmd, "--solver: '%s' is not dcd, liblinear or libsvm", v);
        } else if (IS("eps")) {
            DBL_OPT(0, 10);
            tp.eps = d;
        } else if (IS("min-df")) {
            UINT_OPT(1, UINT32_MAX);
            tp.min_df = (uint32_t)u;
        } else if (IS("max-df")) {
            DBL_OPT(1e-9, 1.0);
            tp.max_df = d;
        } else if (IS("max-features")) {
            UINT_OPT(1, UINT32_MAX);
            tp.max_features = (uint32_t)u;
        } else if (IS("hash-bits")) {
            UINT_OPT(10, 30);
            hash_bits = (uint32_t)u;
        } else if (IS("gate")) {
            tp.gate = 1;
        } else if (IS("passages")) {
            UINT_OPT(8, 100000);
            passage_words = (uint32_t)u;
        } else if (IS("word-ngrams")) {
            UINT_OPT(1, AITAG_MAX_WORD_NGRAMS);
            kp.word_ngrams = (uint32_t)u;
        } else if (IS("char-ngrams")) {
            if (parse_range(cmd, name, v, &kp.char_ngram_min, &kp.char_ngram_max))
                return EXIT_USAGE;
        } else if (IS("strip-accents")) {
            kp.strip_accents = 1;
        } else if (IS("max-token-bytes")) {
            UINT_OPT(1, AITAG_MAX_TOKEN_BYTES);
            kp.max_token_bytes = (uint32_t)u;
        } else if (IS("folds")) {
            UINT_OPT(0, 20);
            if (u == 1)
                return cli_usage_error(cmd, "--folds: use 0 (no tuning) or 2..20");
            tp.folds = (uint32_t)u;
            folds_given = 1;
        } else if (IS("cv")) {
            UINT_OPT(2, 20);
            tp.folds = (uint32_t)u;
            show_cv = 1;
        } else if (IS("search-C")) {
            tp.search_C = 1;
        } else if (IS("multi-label")) {
            tp.force_multilabel = 1;
        } else if (IS("threads")) {
            UINT_OPT(1, 64);
            tp.threads = (uint32_t)u;
        } else if (IS("seed")) {
            UINT_OPT(0, UINT64_MAX);
            tp.seed = u;
        } else if (IS("skip-bad")) {
            skip_bad = 1;
        } else if (IS("input-format")) {
            if (parse_input_format(cmd, v, &cp.format))
                return EXIT_USAGE;
            if (cp.format == AITAG_INPUT_TEXT)
                return cli_usage_error(cmd, "--input-format: a training corpus is jsonl or fasttext");
        } else if (IS("max-bytes")) {
            UINT_OPT(16, (uint64_t)1 << 40);
            cp.max_bytes = (size_t)u;
        } else if (IS("max-labels")) {
            UINT_OPT(1, 65536);
            tp.max_labels = (uint32_t)u;
        } else if (IS("json")) {
            json = 1;
        } else if (IS("quiet")) {
            quiet = 1;
        }
#undef IS
#undef UINT_OPT
#undef DBL_OPT
    }
    if (!in || !outp)
        return cli_usage_error(cmd, "both -i CORPUS and -o MODEL are required");
    if (strcmp(outp, "-") == 0)
        return cli_usage_error(cmd, "-o needs a file name: a model is not written to standard output");
    if (show_cv && folds_given)
        return cli_usage_error(cmd, "--cv K sets the number of folds: give --cv or --folds, not both");
    if (json && !show_cv)
        return cli_usage_error(cmd, "--json applies to the --cv report: give --cv K as well");
    if (check_output(outp) != 0)
        return EXIT_FAIL;
    const char *why = aitag_tokenizer_params_check(&kp);
    if (!why)
        why = aitag_train_params_check(&tp);
    if (why)
        return cli_usage_error(cmd, "%s", why);
    if (tp.search_C && tp.folds < 2)
        return cli_usage_error(cmd, "--search-C needs --folds 2 or more");

    progress_state ps = {!quiet && isatty(2), {0, 0}, 0};
    clock_gettime(CLOCK_MONOTONIC, &ps.t0);
    aitag_error err = {0};
    aitag_corpus_reader *r = NULL;
    aitag_dataset *ds = NULL;
    aitag_model *model = NULL;
    int rc = EXIT_FAIL;
    size_t bad = 0;
    if (aitag_corpus_open(in, &cp, &r, &err) != AITAG_OK || aitag_dataset_create(&kp, hash_bits, &ds, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    aitag_dataset_set_label_limit(ds, tp.max_labels);
    if (aitag_dataset_set_passages(ds, passage_words, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    aitag_record rec;
    aitag_status s;
    while ((s = aitag_corpus_next(r, &rec, &err)) != AITAG_END) {
        if (s == AITAG_OK && aitag_corpus_format(r) == AITAG_INPUT_TEXT) {
            cli_err("%s: not a labelled corpus (expected JSON lines or fastText __label__ lines)", in);
            goto done;
        }
        if (s == AITAG_OK && !rec.has_labels) {
            s = AITAG_PARSE;
            snprintf(err.msg, sizeof err.msg, "%s:%llu: \"labels\" is missing (use [] for an article with no label)", in,
                     (unsigned long long)rec.line);
        }
        if (s == AITAG_OK) {
            s = aitag_dataset_add(ds, rec.text, rec.text_len, rec.labels, rec.n_labels, &err);
            if (s == AITAG_LABEL || s == AITAG_LIMIT) {
                char msg[AITAG_ERROR_MSG_MAX];
                snprintf(msg, sizeof msg, "%s", err.msg);
                snprintf(err.msg, sizeof err.msg, "%.200s:%llu: %.280s", in, (unsigned long long)rec.line, msg);
                if (s == AITAG_LIMIT && strstr(msg, "distinct labels")) {
                    cli_err("%s", err.msg);
                    goto done;
                }
            } else if (s != AITAG_OK) {
                cli_err("%s", err.msg);
                goto done;
            }
        }
        if (s == AITAG_IO || s == AITAG_NOMEM) {
            cli_err("%s", err.msg);
            goto done;
        }
        if (s != AITAG_OK) {
            if (rec.blank)
                continue; /* an empty line is not an article */
            if (!skip_bad) {
                cli_err("%s", err.msg);
                cli_err("stopping; use --skip-bad to skip malformed lines");
                goto done;
            }
            if (bad++ < 10 && !quiet)
                cli_warn("skipped %s", err.msg);
            continue;
        }
        ps.docs++;
        if (ps.on && ps.docs % 1000 == 0)
            on_progress(&ps, "reading", ps.docs, 0);
    }
    if (bad && !quiet)
        cli_warn("%zu malformed line(s) skipped", bad);
    if (aitag_dataset_size(ds) == 0) {
        cli_err("%s: no documents to train on", in);
        goto done;
    }
    aitag_cv_report rep;
    if (aitag_train(ds, &tp, on_progress, &ps, &model, &rep, &err) != AITAG_OK) {
        if (ps.on)
            fputc('\n', stderr);
        cli_err("%s", err.msg);
        goto done;
    }
    if (ps.on)
        fputc('\n', stderr);
    if (aitag_model_save(model, outp, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    if (!quiet) {
        fprintf(stderr, "aitag: trained %zu labels on %zu documents, %zu features, in %.1f s -> %s\n",
                aitag_model_num_labels(model), aitag_dataset_size(ds), aitag_model_num_features(model),
                elapsed(&ps.t0), outp);
        if (aitag_dataset_num_labels(ds) > aitag_model_num_labels(model))
            cli_warn("%zu label(s) had no positive or no negative document and were skipped (see 'aitag info')",
                     aitag_dataset_num_labels(ds) - aitag_model_num_labels(model));
        if (rep.folds >= 2 && !show_cv)
            fprintf(stderr, "aitag: %u-fold cross-validated micro-F1 %.4f, macro-F1 %.4f (C = %g)\n", rep.folds,
                    rep.micro_f1, rep.macro_f1, rep.C);
    }
    if (show_cv) {
        if (json) {
            printf("{\"folds\": %u, \"C\": %g, \"micro_f1\": %.6f, \"macro_f1\": %.6f, \"accuracy\": %.6f, "
                   "\"subset_accuracy\": %.6f}\n",
                   rep.folds, rep.C, rep.micro_f1, rep.macro_f1, rep.accuracy, rep.subset_accuracy);
        } else {
            printf("cross-validation: %u folds, C = %g\n", rep.folds, rep.C);
            for (uint32_t i = 0; rep.n_c > 1 && i < rep.n_c; i++)
                printf("  C = %-6g  score %.4f\n", rep.c_tried[i], rep.c_score[i]);
            printf("  micro-F1         %.4f\n  macro-F1         %.4f\n  accuracy (top-1) %.4f\n"
                   "  subset accuracy  %.4f\n",
                   rep.micro_f1, rep.macro_f1, rep.accuracy, rep.subset_accuracy);
        }
    }
    rc = EXIT_OK;
done:
    aitag_model_free(model);
    aitag_dataset_free(ds);
    aitag_corpus_close(r);
    return rc;
}

const cli_cmd cmd_train = {
    "train", run, "fit a model from a labelled corpus",
    "-i CORPUS -o MODEL [options]", opts,
    "aitag train -i datasets/ai-sectors/train.jsonl -o sectors.aitag\n"
    "aitag train -i train.txt -o news.aitag --solver libsvm --cv 5 -C 0.5"};
