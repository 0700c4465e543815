/*
 * find_model.c: where the library looks for the default model, in order:
 *   1. $AITAG_MODEL
 *   2. <datadir>/aitag/default.aitag (where `cmake --install` puts it)
 * The aitag command then tries models/default.aitag beside its own binary,
 * which is where the build trains it (build/aitag, build/models/...); no
 * build path is compiled into the library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aitag/model.h"
#include "internal.h"

#ifndef AITAG_DATADIR
#define AITAG_DATADIR "/usr/local/share/aitag"
#endif

aitag_status aitag_default_model_path(char *buf, size_t n, aitag_error *err)
{
    if (!buf || n == 0)
        return aitag__fail(err, AITAG_INVALID, "aitag_default_model_path: no buffer");
    const char *env = getenv("AITAG_MODEL");
    if (env && *env) {
        size_t len = strlen(env);
        if (len >= n)
            return aitag__fail(err, AITAG_LIMIT, "AITAG_MODEL is too long (%zu bytes; at most %zu)", len, n ? n - 1 : 0);
        memcpy(buf, env, len + 1);
        return AITAG_OK; /* an explicit choice: let loading report if it is missing */
    }
    const char *cands[] = {AITAG_DATADIR "/default.aitag"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (access(cands[i], R_OK) == 0) {
            if ((size_t)snprintf(buf, n, "%s", cands[i]) >= n)
                return aitag__fail(err, AITAG_LIMIT, "model path too long");
            return AITAG_OK;
        }
    }
    return aitag__fail(err, AITAG_IO, "no default model: AITAG_MODEL is not set and %s does not exist", cands[0]);
}
