/*
 * cmd_train.c: `aitag train`: corpus -> dataset -> aitag_train -> model file.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
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

/* SIGINT or SIGTERM during training: the progress callback returns non-zero,
 * aitag_train stops its workers, and the command exits 128 + the signal. A
 * second signal ends the process at once. */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    if (got_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    got_signal = sig;
}

static void catch_signals(int on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on ? on_signal : SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int on_progress(void *ud, const char *stage, size_t done, size_t total)
{
    progress_state *p = ud;
    if (got_signal)
        return 1;
    if (p->on)
        fprintf(stderr, "\raitag: %zu documents; %-10s %zu/%zu  %.1f s   ", p->docs, stage, done, total, elapsed(&p->t0));
    return 0;
}

/* Refuses, before any training, a model path that could not be written:
 * a folder that does not exist or is not writable, or a path naming
 * something other than a regular file. */
static int check_output(const char *path, const char *in)
{
    if (cli_check_output(path, "-o", &in, 1) != 0)
        return -1;
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

typedef struct train_args {
    aitag_train_params tp;
    aitag_tokenizer_params kp;
    aitag_corpus_params cp;
    const char *in, *outp;
    uint32_t hash_bits, passage_words;
    int quiet, skip_bad, show_cv, json, folds_given, max_features_given;
} train_args;

/* --solver NAME; 0, or -1 (unknown name). */
static int parse_solver(const char *v, aitag_solver *out)
{
    static const struct {
        const char *name;
        aitag_solver solver;
    } solvers[] = {{"dcd", AITAG_SOLVER_DCD}, {"liblinear", AITAG_SOLVER_LIBLINEAR}, {"libsvm", AITAG_SOLVER_LIBSVM}};
    for (size_t i = 0; i < sizeof solvers / sizeof solvers[0]; i++)
        if (strcmp(v, solvers[i].name) == 0) {
            *out = solvers[i].solver;
            return 0;
        }
    return -1;
}

/* One option; 0, or an exit code. */
static int take_option(const cli_cmd *cmd, const char *name, const char *v, train_args *a)
{
    uint64_t u;
    double d;
#define IS(s) (strcmp(name, s) == 0)
#define UINT_OPT(lo, hi) \
    if (cli_uint(cmd, name, v, lo, hi, &u)) \
        return EXIT_USAGE;
#define DBL_OPT(lo, hi) \
    if (cli_double(cmd, name, v, lo, hi, &d)) \
        return EXIT_USAGE;
    if (IS("input")) {
        a->in = v;
    } else if (IS("output")) {
        a->outp = v;
    } else if (IS("cost")) {
        DBL_OPT(1e-6, 1e6);
        a->tp.C = d;
    } else if (IS("solver")) {
        if (parse_solver(v, &a->tp.solver) != 0)
            return cli_usage_error(cmd, "--solver: '%s' is not dcd, liblinear or libsvm", v);
    } else if (IS("eps")) {
        DBL_OPT(0, 10);
        a->tp.eps = d;
    } else if (IS("min-df")) {
        UINT_OPT(1, UINT32_MAX);
        a->tp.min_df = (uint32_t)u;
    } else if (IS("max-df")) {
        DBL_OPT(1e-9, 1.0);
        a->tp.max_df = d;
    } else if (IS("max-features")) {
        UINT_OPT(1, UINT32_MAX);
        a->tp.max_features = (uint32_t)u;
        a->max_features_given = 1;
    } else if (IS("gate")) {
        a->tp.gate = 1;
    } else if (IS("passages")) {
        UINT_OPT(8, 100000);
        a->passage_words = (uint32_t)u;
    } else if (IS("hash-bits")) {
        UINT_OPT(10, 30);
        a->hash_bits = (uint32_t)u;
    } else if (IS("word-ngrams")) {
        UINT_OPT(1, AITAG_MAX_WORD_NGRAMS);
        a->kp.word_ngrams = (uint32_t)u;
    } else if (IS("char-ngrams")) {
        if (parse_range(cmd, name, v, &a->kp.char_ngram_min, &a->kp.char_ngram_max))
            return EXIT_USAGE;
    } else if (IS("strip-accents")) {
        a->kp.strip_accents = 1;
    } else if (IS("max-token-bytes")) {
        UINT_OPT(1, AITAG_MAX_TOKEN_BYTES);
        a->kp.max_token_bytes = (uint32_t)u;
    } else if (IS("folds")) {
        UINT_OPT(0, 20);
        if (u == 1)
            return cli_usage_error(cmd, "--folds: use 0 (no tuning) or 2..20");
        a->tp.folds = (uint32_t)u;
        a->folds_given = 1;
    } else if (IS("cv")) {
        UINT_OPT(2, 20);
        a->tp.folds = (uint32_t)u;
        a->show_cv = 1;
    } else if (IS("search-C")) {
        a->tp.search_C = 1;
    } else if (IS("multi-label")) {
        a->tp.force_multilabel = 1;
    } else if (IS("threads")) {
        UINT_OPT(1, 64);
        a->tp.threads = (uint32_t)u;
    } else if (IS("seed")) {
        UINT_OPT(0, UINT64_MAX);
        a->tp.seed = u;
    } else if (IS("skip-bad")) {
        a->skip_bad = 1;
    } else if (IS("input-format")) {
        if (parse_input_format(cmd, v, &a->cp.format))
            return EXIT_USAGE;
        if (a->cp.format == AITAG_INPUT_TEXT)
            return cli_usage_error(cmd, "--input-format: a training corpus is jsonl or fasttext");
    } else if (IS("max-bytes")) {
        UINT_OPT(16, (uint64_t)1 << 40);
        a->cp.max_bytes = (size_t)u;
    } else if (IS("max-labels")) {
        UINT_OPT(1, 65536);
        a->tp.max_labels = (uint32_t)u;
    } else if (IS("json")) {
        a->json = 1;
    } else if (IS("quiet")) {
        a->quiet = 1;
    }
#undef IS
#undef UINT_OPT
#undef DBL_OPT
    return 0;
}

/* Options and their combinations; 0, or an exit code (after a message). */
static int parse_args(const cli_cmd *cmd, int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    a->tp = aitag_train_params_default();
    a->kp = aitag_tokenizer_params_default();
    a->cp = aitag_corpus_params_default();
    a->cp.labels_required = 1;
    cli_iter it;
    cli_iter_init(&it, cmd, argc, argv);
    const char *v;
    int o;
    while ((o = cli_next(&it, &v)) != CLI_DONE) {
        int stop = cli_common(cmd, o);
        if (stop >= 0)
            return stop == EXIT_OK ? -1 : stop;
        if (o == CLI_POSITIONAL)
            return cli_usage_error(cmd, "unexpected argument '%s' (the corpus is given with -i)", v);
        int rc = take_option(cmd, cmd->opts[o].lng, v, a);
        if (rc)
            return rc;
    }
    if (!a->in || !a->outp)
        return cli_usage_error(cmd, "both -i CORPUS and -o MODEL are required");
    if (!a->outp[0])
        return cli_usage_error(cmd, "-o needs a file name, not an empty one");
    if (!a->in[0])
        return cli_usage_error(cmd, "-i needs a file name, not an empty one");
    if (strcmp(a->outp, "-") == 0)
        return cli_usage_error(cmd, "-o needs a file name: a model is not written to standard output");
    if (a->show_cv && a->folds_given)
        return cli_usage_error(cmd, "--cv K sets the number of folds: give --cv or --folds, not both");
    if (a->json && !a->show_cv)
        return cli_usage_error(cmd, "--json applies to the --cv report: give --cv K as well");
    if (a->hash_bits && a->max_features_given)
        return cli_usage_error(cmd, "--max-features applies to a vocabulary: with --hash-bits B the features are "
                                    "2^B buckets (give one or the other)");
    const char *why = aitag_tokenizer_params_check(&a->kp);
    if (!why)
        why = aitag_train_params_check(&a->tp);
    if (why)
        return cli_usage_error(cmd, "%s", why);
    if (a->tp.search_C && a->tp.folds < 2)
        return cli_usage_error(cmd, "--search-C needs --folds 2 or more");
    return 0;
}

/* A dataset error on record rec, with the file and line; 1 if it stops the
 * command whatever --skip-bad says. */
static int dataset_error(const train_args *a, const aitag_record *rec, aitag_status s, aitag_error *err)
{
    if (s == AITAG_LABEL || s == AITAG_LIMIT) {
        char msg[AITAG_ERROR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        int distinct = s == AITAG_LIMIT && strstr(msg, "distinct labels") != NULL;
        if (distinct)
            snprintf(err->msg, sizeof err->msg, "%.200s:%llu: more than %u distinct labels (raise the limit with --max-labels)",
                     a->in, (unsigned long long)rec->line, a->tp.max_labels);
        else
            snprintf(err->msg, sizeof err->msg, "%.200s:%llu: %.280s", a->in, (unsigned long long)rec->line, msg);
        return distinct;
    }
    return 1;
}

/* Reads the corpus into ds. 0, or -1 after a message. */
static int read_corpus(const train_args *a, aitag_corpus_reader *r, aitag_dataset *ds, progress_state *ps)
{
    aitag_error err = {0};
    aitag_record rec;
    aitag_status s;
    size_t bad = 0;
    while ((s = aitag_corpus_next(r, &rec, &err)) != AITAG_END) {
        if (aitag_corpus_format(r) == AITAG_INPUT_TEXT) {
            cli_err("%s: not a labelled corpus (expected JSON lines or fastText __label__ lines)", a->in);
            return -1;
        }
        if (s == AITAG_OK && !rec.has_labels) {
            s = AITAG_PARSE;
            snprintf(err.msg, sizeof err.msg, "%s:%llu: \"labels\" is missing (use [] for an article with no label)",
                     a->in, (unsigned long long)rec.line);
        }
        if (s == AITAG_OK) {
            s = aitag_dataset_add(ds, rec.text, rec.text_len, rec.labels, rec.n_labels, &err);
            if (s != AITAG_OK && dataset_error(a, &rec, s, &err)) {
                cli_err("%s", err.msg);
                return -1;
            }
        }
        if (s == AITAG_IO || s == AITAG_NOMEM) {
            cli_err("%s", err.msg);
            return -1;
        }
        if (s != AITAG_OK) {
            if (rec.blank)
                continue; /* an empty line is not an article */
            if (!a->skip_bad) {
                cli_err("%s", err.msg);
                cli_err("stopping; use --skip-bad to skip malformed lines");
                return -1;
            }
            if (bad++ < 10 && !a->quiet)
                cli_warn("skipped %s", err.msg);
            continue;
        }
        ps->docs++;
        if (ps->on && ps->docs % 1000 == 0)
            on_progress(ps, "reading", ps->docs, 0);
    }
    if (bad && !a->quiet)
        cli_warn("%zu malformed line(s) skipped", bad);
    return 0;
}

/* Removes temporary files that an earlier save to path left behind when
 * it was killed (path.tmp.PID.N of a process that no longer exists). */
static void remove_stale_temps(const char *path)
{
    char *real = realpath(path, NULL);
    const char *dest = real ? real : path;
    char *d = strdup(dest), *b = strdup(dest);
    if (d && b) {
        const char *dir = dirname(d), *base = basename(b);
        size_t bl = strlen(base);
        DIR *dp = opendir(dir);
        struct dirent *e;
        while (dp && (e = readdir(dp)) != NULL) {
            const char *nm = e->d_name;
            if (strncmp(nm, base, bl) != 0 || strncmp(nm + bl, ".tmp.", 5) != 0)
                continue;
            char *end;
            long pid = strtol(nm + bl + 5, &end, 10);
            if (pid <= 0 || *end != '.' || end[1] < '0' || end[1] > '9' || strspn(end + 1, "0123456789") != strlen(end + 1))
                continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                continue; /* its writer may still be running */
            char full[PATH_MAX];
            if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, nm) < sizeof full && unlink(full) == 0)
                cli_warn("removed %s, left by a save that was killed", full);
        }
        if (dp)
            closedir(dp);
    }
    free(d);
    free(b);
    free(real);
}

static void print_cv(const train_args *a, const aitag_cv_report *rep)
{
    if (a->json) {
        printf("{\"folds\": %u, \"C\": %g, \"micro_f1\": %.6f, \"macro_f1\": %.6f, \"accuracy\": %.6f, "
               "\"subset_accuracy\": %.6f}\n",
               rep->folds, rep->C, rep->micro_f1, rep->macro_f1, rep->accuracy, rep->subset_accuracy);
        return;
    }
    printf("cross-validation: %u folds, C = %g\n", rep->folds, rep->C);
    for (uint32_t i = 0; rep->n_c > 1 && i < rep->n_c; i++)
        printf("  C = %-6g  score %.4f\n", rep->c_tried[i], rep->c_score[i]);
    printf("  micro-F1         %.4f\n  macro-F1         %.4f\n  accuracy (top-1) %.4f\n"
           "  subset accuracy  %.4f\n",
           rep->micro_f1, rep->macro_f1, rep->accuracy, rep->subset_accuracy);
}

static void print_summary(const train_args *a, const aitag_model *model, const aitag_dataset *ds,
                          const aitag_cv_report *rep, const progress_state *ps)
{
    if (a->quiet)
        return;
    fprintf(stderr, "aitag: trained %zu labels on %zu documents, %zu features, in %.1f s -> %s\n",
            aitag_model_num_labels(model), aitag_dataset_size(ds), aitag_model_num_features(model),
            elapsed(&ps->t0), a->outp);
    if (aitag_dataset_num_labels(ds) > aitag_model_num_labels(model))
        cli_warn("%zu label(s) had no positive or no negative document and were skipped (see 'aitag info')",
                 aitag_dataset_num_labels(ds) - aitag_model_num_labels(model));
    if (rep->folds >= 2 && !a->show_cv)
        fprintf(stderr, "aitag: %u-fold cross-validated micro-F1 %.4f, macro-F1 %.4f (C = %g)\n", rep->folds,
                rep->micro_f1, rep->macro_f1, rep->C);
}

static const char *signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

/* Trains and saves, with SIGINT and SIGTERM caught. An exit code. */
static int train_and_save(const train_args *a, const aitag_dataset *ds, progress_state *ps)
{
    aitag_error err = {0};
    aitag_model *model = NULL;
    aitag_cv_report rep;
    int rc = EXIT_FAIL;
    got_signal = 0;
    catch_signals(1);
    aitag_status s = aitag_train(ds, &a->tp, on_progress, ps, &model, &rep, &err);
    if (ps->on)
        fputc('\n', stderr);
    if (got_signal) {
        /* stopped, or finished just as the signal came: nothing is written */
        cli_err("interrupted by %s: training stopped, %s left as it was", signal_name(got_signal), a->outp);
        rc = 128 + got_signal;
        goto done;
    }
    if (s != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    remove_stale_temps(a->outp);
    /* a signal during the save is held until the model file is complete */
    if (aitag_model_save(model, a->outp, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    print_summary(a, model, ds, &rep, ps);
    if (a->show_cv)
        print_cv(a, &rep);
    rc = EXIT_OK;
    if (got_signal) {
        cli_err("interrupted by %s after %s was written", signal_name(got_signal), a->outp);
        rc = 128 + got_signal;
    }
done:
    catch_signals(0);
    aitag_model_free(model);
    return rc;
}

static int run(const cli_cmd *cmd, int argc, char **argv)
{
    train_args a;
    int rc = parse_args(cmd, argc, argv, &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (check_output(a.outp, a.in) != 0 || cli_check_stream_input(a.in) != 0)
        return EXIT_FAIL;
    progress_state ps = {!a.quiet && isatty(2), {0, 0}, 0};
    clock_gettime(CLOCK_MONOTONIC, &ps.t0);
    aitag_error err = {0};
    aitag_corpus_reader *r = NULL;
    aitag_dataset *ds = NULL;
    rc = EXIT_FAIL;
    if (aitag_corpus_open(a.in, &a.cp, &r, &err) != AITAG_OK ||
        aitag_dataset_create(&a.kp, a.hash_bits, &ds, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    aitag_dataset_set_label_limit(ds, a.tp.max_labels);
    if (aitag_dataset_set_passages(ds, a.passage_words, &err) != AITAG_OK) {
        cli_err("%s", err.msg);
        goto done;
    }
    if (read_corpus(&a, r, ds, &ps) != 0)
        goto done;
    if (aitag_dataset_size(ds) == 0) {
        cli_err("%s: no documents to train on", a.in);
        goto done;
    }
    rc = train_and_save(&a, ds, &ps);
done:
    aitag_dataset_free(ds);
    aitag_corpus_close(r);
    return rc;
}

const cli_cmd cmd_train = {
    "train", run, "fit a model from a labelled corpus",
    "-i CORPUS -o MODEL [options]", opts,
    "aitag train -i datasets/ai-sectors/train.jsonl -o sectors.aitag\n"
    "aitag train -i train.txt -o news.aitag --solver libsvm --cv 5 -C 0.5"};
