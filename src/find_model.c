/*
 * find_model.c: where the default model is looked for, in order:
 *   1. $AITAG_MODEL
 *   2. <datadir>/aitag/default.aitag (where `cmake --install` puts it)
 *   3. <build dir>/models/default.aitag (where the build trains it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "aitag/model.h"
#include "internal.h"

#ifndef AITAG_DATADIR
#define AITAG_DATADIR "/usr/local/share/aitag"
#endif
#ifndef AITAG_BINARY_DIR
#define AITAG_BINARY_DIR "."
#endif

aitag_status aitag_default_model_path(char *buf, size_t n, aitag_error *err)
{
    const char *env = getenv("AITAG_MODEL");
    if (env && *env) {
        if ((size_t)snprintf(buf, n, "%s", env) >= n)
            return aitag__fail(err, AITAG_LIMIT, "AITAG_MODEL is too long");
        return AITAG_OK; /* an explicit choice: let loading report if it is missing */
    }
    const char *cands[] = {AITAG_DATADIR "/default.aitag", AITAG_BINARY_DIR "/models/default.aitag"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (access(cands[i], R_OK) == 0) {
            if ((size_t)snprintf(buf, n, "%s", cands[i]) >= n)
                return aitag__fail(err, AITAG_LIMIT, "model path too long");
            return AITAG_OK;
        }
    }
    return aitag__fail(err, AITAG_IO,
                       "no default model: AITAG_MODEL is not set, and neither %s nor %s exists (give one with -m MODEL)",
                       cands[0], cands[1]);
}
