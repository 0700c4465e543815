/*
 * status.h: the one status enum of aitag and the caller-owned error record.
 *
 * Every function that can fail returns an aitag_status and, when given a
 * non-NULL aitag_error, fills it with the same code and a message that names
 * the file, line and problem where there is one. The library never prints
 * and never exits. Codes are never renumbered; new ones go at the end.
 */
#ifndef AITAG_STATUS_H
#define AITAG_STATUS_H

#include "aitag/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AITAG_STATUS_MAP(X)                                              \
    X(OK,        0, "success")                                           \
    X(NOMEM,     1, "out of memory")                                     \
    X(INVALID,   2, "invalid argument")                                  \
    X(IO,        3, "input/output error")                                \
    X(PARSE,     4, "malformed input")                                   \
    X(FORMAT,    5, "not a valid aitag model")                           \
    X(VERSION,   6, "unsupported model format version")                  \
    X(CORRUPT,   7, "model file is corrupted")                           \
    X(LIMIT,     8, "a configured limit was exceeded")                   \
    X(SOLVER,    9, "the solver failed")                                 \
    X(LABEL,    10, "unknown or unusable label")                         \
    X(EMPTY,    11, "nothing to do: empty input")                        \
    X(CANCELLED,12, "cancelled")                                         \
    X(END,      13, "no more input")

typedef enum aitag_status {
#define AITAG__STATUS_ENUM(name, num, msg) AITAG_##name = num,
    AITAG_STATUS_MAP(AITAG__STATUS_ENUM)
#undef AITAG__STATUS_ENUM
} aitag_status;

/* The static, English description of a status code; never NULL. */
AITAG_API const char *aitag_status_str(aitag_status s);

#define AITAG_ERROR_MSG_MAX 512

/* Caller-owned error details. Zero-initialise; functions overwrite it on failure only. */
typedef struct aitag_error {
    aitag_status code;
    char msg[AITAG_ERROR_MSG_MAX];  /* NUL-terminated, no trailing newline */
} aitag_error;

#ifdef __cplusplus
}
#endif
#endif
