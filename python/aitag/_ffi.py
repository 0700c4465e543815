"""cffi bindings (ABI mode) over libaitag's public headers.

Only the declarations the package uses are repeated here; they follow
include/aitag/*.h field for field. No compiler is needed: the library is
opened with dlopen, found through, in order,

1. the AITAG_LIBRARY environment variable (a path to libaitag.so),
2. the library installed with this package (its path recorded at install),
3. the build tree of a source checkout (build/libaitag.so),
4. the dynamic linker's search path (libaitag.so.0).

cffi releases the GIL around every C call, so a batch call runs the
library's threads while other Python threads go on.
"""
import os

from cffi import FFI

ffi = FFI()
ffi.cdef(r"""
typedef enum aitag_status {
    AITAG_OK = 0, AITAG_NOMEM = 1, AITAG_INVALID = 2, AITAG_IO = 3, AITAG_PARSE = 4,
    AITAG_FORMAT = 5, AITAG_VERSION = 6, AITAG_CORRUPT = 7, AITAG_LIMIT = 8,
    AITAG_SOLVER = 9, AITAG_LABEL = 10, AITAG_EMPTY = 11, AITAG_CANCELLED = 12, AITAG_END = 13
} aitag_status;
const char *aitag_status_str(aitag_status s);
typedef struct aitag_error { aitag_status code; char msg[512]; } aitag_error;

typedef struct aitag_tokenizer_params {
    uint32_t word_ngrams; uint32_t char_ngram_min; uint32_t char_ngram_max;
    int strip_accents; uint32_t max_token_bytes;
} aitag_tokenizer_params;
aitag_tokenizer_params aitag_tokenizer_params_default(void);
const char *aitag_tokenizer_params_check(const aitag_tokenizer_params *p);
typedef struct aitag_tokenize_stats {
    uint64_t bytes, words, terms, invalid, nul_bytes, dropped_long;
} aitag_tokenize_stats;
typedef struct aitag_tokenizer aitag_tokenizer;
typedef int (*aitag_term_fn)(void *ud, const char *term, size_t len, int kind);
aitag_status aitag_tokenizer_create(const aitag_tokenizer_params *p, aitag_tokenizer **out, aitag_error *err);
void aitag_tokenizer_free(aitag_tokenizer *t);
aitag_status aitag_tokenize(aitag_tokenizer *t, const char *text, size_t len, aitag_term_fn fn,
                            void *ud, aitag_tokenize_stats *stats, aitag_error *err);

typedef struct aitag_model aitag_model;
aitag_status aitag_model_load(const char *path, aitag_model **out, aitag_error *err);
aitag_status aitag_model_load_bytes(const void *data, size_t size, const char *name,
                                    aitag_model **out, aitag_error *err);
aitag_status aitag_model_save(const aitag_model *m, const char *path, aitag_error *err);
const void *aitag_model_bytes(const aitag_model *m, size_t *size);
void aitag_model_free(aitag_model *m);
size_t aitag_model_num_labels(const aitag_model *m);
const char *aitag_model_label(const aitag_model *m, size_t k);
size_t aitag_model_num_features(const aitag_model *m);
int aitag_model_is_single_label(const aitag_model *m);
const char *aitag_model_header(const aitag_model *m);
const aitag_tokenizer_params *aitag_model_tokenizer_params(const aitag_model *m);
const char *aitag_model_term(const aitag_model *m, uint32_t id, size_t *len);
aitag_status aitag_default_model_path(char *buf, size_t n, aitag_error *err);

typedef struct aitag_classifier aitag_classifier;
aitag_status aitag_classifier_create(const aitag_model *m, aitag_classifier **out, aitag_error *err);
void aitag_classifier_free(aitag_classifier *c);
typedef struct aitag_features { size_t n; const uint32_t *ids; const float *vals; } aitag_features;
aitag_status aitag_featurize(aitag_classifier *c, const char *text, size_t len,
                             aitag_features *out, aitag_tokenize_stats *stats, aitag_error *err);
typedef struct aitag_decide_opts { uint32_t top_k; uint32_t min_labels; } aitag_decide_opts;
typedef struct aitag_evidence { size_t start, end; double prob; } aitag_evidence;
typedef struct aitag_classify_opts { aitag_decide_opts decide; int evidence; } aitag_classify_opts;
aitag_classify_opts aitag_classify_opts_default(void);
typedef struct aitag_result {
    size_t n_tags; const uint32_t *tags; size_t n_labels; const double *probs;
    const double *margins; const aitag_evidence *evidence; aitag_tokenize_stats stats;
} aitag_result;
aitag_status aitag_classify(aitag_classifier *c, const char *text, size_t len, const aitag_classify_opts *o,
                            aitag_result *out, aitag_error *err);

typedef enum aitag_input_format {
    AITAG_INPUT_AUTO = 0, AITAG_INPUT_JSONL = 1, AITAG_INPUT_FASTTEXT = 2, AITAG_INPUT_TEXT = 3
} aitag_input_format;
typedef struct aitag_corpus_params {
    aitag_input_format format; size_t max_bytes; int labels_required;
} aitag_corpus_params;
aitag_corpus_params aitag_corpus_params_default(void);
typedef struct aitag_corpus_reader aitag_corpus_reader;
aitag_status aitag_corpus_open(const char *path, const aitag_corpus_params *p, aitag_corpus_reader **out,
                               aitag_error *err);
void aitag_corpus_close(aitag_corpus_reader *r);
aitag_input_format aitag_corpus_format(const aitag_corpus_reader *r);
typedef struct aitag_record {
    uint64_t line; const char *id; int id_is_number; const char *text; size_t text_len;
    const char *const *labels; size_t n_labels; int has_labels; int blank;
} aitag_record;
aitag_status aitag_corpus_next(aitag_corpus_reader *r, aitag_record *rec, aitag_error *err);

typedef enum aitag_output_format { AITAG_OUTPUT_JSON = 0, AITAG_OUTPUT_TSV = 1, AITAG_OUTPUT_TEXT = 2 } aitag_output_format;
typedef enum aitag_scores_mode { AITAG_SCORES_ALL = 0, AITAG_SCORES_TAGS = 1, AITAG_SCORES_NONE = 2 } aitag_scores_mode;
typedef struct aitag_stream_params {
    uint32_t threads; uint32_t batch; aitag_output_format format; aitag_scores_mode scores;
    int margins; uint32_t explain; aitag_classify_opts classify; int flush_each;
} aitag_stream_params;
aitag_stream_params aitag_stream_params_default(void);
const char *aitag_stream_params_check(const aitag_stream_params *p);
typedef struct aitag_sink {
    int (*write)(void *ud, const char *data, size_t len);
    int (*flush)(void *ud);
    void *ud;
} aitag_sink;
typedef struct aitag_stream_stats { uint64_t docs, bad, in_bytes, out_bytes; } aitag_stream_stats;
typedef struct aitag_stream aitag_stream;
aitag_status aitag_stream_create(const aitag_model *m, const aitag_stream_params *p, aitag_sink sink,
                                 aitag_stream **out, aitag_error *err);
aitag_status aitag_stream_add_file(aitag_stream *s, const char *path, const aitag_corpus_params *cp,
                                   aitag_error *err);
aitag_status aitag_stream_add_jsonl(aitag_stream *s, const char *name, const char *data, size_t len,
                                    aitag_error *err);
aitag_status aitag_stream_add_jsonl_at(aitag_stream *s, const char *name, uint64_t first_line,
                                       const char *data, size_t len, aitag_error *err);
aitag_status aitag_stream_finish(aitag_stream *s, aitag_stream_stats *st, aitag_error *err);
aitag_status aitag_classify_jsonl(const aitag_model *m, const aitag_stream_params *p, const char *data,
                                  size_t len, char **out, size_t *out_len, aitag_stream_stats *st,
                                  aitag_error *err);
aitag_status aitag_classify_texts(const aitag_model *m, const aitag_stream_params *p,
                                  const char *const *texts, const size_t *lens, size_t n, char **out,
                                  size_t *out_len, aitag_stream_stats *st, aitag_error *err);
void aitag_free(void *p);

typedef struct aitag_dataset aitag_dataset;
aitag_status aitag_dataset_create(const aitag_tokenizer_params *tp, uint32_t hash_bits,
                                  aitag_dataset **out, aitag_error *err);
void aitag_dataset_free(aitag_dataset *d);
aitag_status aitag_dataset_add(aitag_dataset *d, const char *text, size_t len,
                               const char *const *labels, size_t n_labels, aitag_error *err);
void aitag_dataset_set_label_limit(aitag_dataset *d, uint32_t max_labels);
aitag_status aitag_dataset_set_passages(aitag_dataset *d, uint32_t words, aitag_error *err);
size_t aitag_dataset_size(const aitag_dataset *d);
size_t aitag_dataset_num_labels(const aitag_dataset *d);
typedef enum aitag_solver { AITAG_SOLVER_LIBLINEAR = 0, AITAG_SOLVER_LIBSVM = 1, AITAG_SOLVER_DCD = 2 } aitag_solver;
typedef struct aitag_train_params {
    double C; double eps; aitag_solver solver; uint32_t min_df; double max_df; uint32_t max_features;
    uint32_t folds; uint32_t threads; uint64_t seed; int search_C; int force_multilabel; uint32_t max_labels;
    int gate;
} aitag_train_params;
aitag_train_params aitag_train_params_default(void);
const char *aitag_train_params_check(const aitag_train_params *p);
typedef struct aitag_cv_report {
    uint32_t folds; double micro_f1, macro_f1, accuracy, subset_accuracy; double C;
    uint32_t n_c; double c_tried[8], c_score[8];
} aitag_cv_report;
typedef int (*aitag_progress_fn)(void *ud, const char *stage, size_t done, size_t total);
aitag_status aitag_train(const aitag_dataset *d, const aitag_train_params *p,
                         aitag_progress_fn progress, void *ud, aitag_model **out,
                         aitag_cv_report *report, aitag_error *err);
const char *aitag_version(void);

typedef struct aitag_training aitag_training;
typedef enum aitag_training_stage { AITAG_STAGE_CV = 0, AITAG_STAGE_FINAL = 1 } aitag_training_stage;
aitag_status aitag_training_create(const aitag_dataset *d, const aitag_train_params *p,
                                   aitag_training **out, aitag_error *err);
void aitag_training_free(aitag_training *t);
size_t aitag_training_num_jobs(const aitag_training *t, aitag_training_stage stage);
aitag_status aitag_training_run_job(aitag_training *t, aitag_training_stage stage, size_t j, aitag_error *err);
aitag_status aitag_training_job_result(const aitag_training *t, aitag_training_stage stage, size_t j,
                                       void *buf, size_t *len, aitag_error *err);
aitag_status aitag_training_set_job_result(aitag_training *t, aitag_training_stage stage, size_t j,
                                           const void *buf, size_t len, aitag_error *err);
aitag_status aitag_training_tune(aitag_training *t, aitag_cv_report *report, aitag_error *err);
aitag_status aitag_training_finish(aitag_training *t, aitag_model **out, aitag_error *err);
""")

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("AITAG_LIBRARY")
    if env:
        yield env
        return
    try:
        from aitag import _installed  # written by `cmake --install`
        yield _installed.LIBRARY
    except ImportError:
        pass
    # a source checkout: python/aitag -> build/
    root = os.path.dirname(os.path.dirname(_HERE))
    yield os.path.join(root, "build", "libaitag.so")
    yield "libaitag.so.0"


def _open():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            return ffi.dlopen(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("aitag: cannot load libaitag.so; set AITAG_LIBRARY to its path. Tried: "
                      + "; ".join(tried))


lib, library_path = _open()


def has(name):
    """Whether the loaded library exports a function (newer parts of the API)."""
    try:
        getattr(lib, name)
        return True
    except AttributeError:
        return False
