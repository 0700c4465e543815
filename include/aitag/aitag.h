/*
 * aitag.h: the umbrella header of libaitag.
 *
 *   text -> tokenizer.h (terms) -> model.h (features, margins, tags)
 *   corpus.h reads articles, train.h makes models, metrics.h scores them.
 *
 * Conventions: every fallible call returns aitag_status and fills a
 * caller-owned aitag_error; objects come in create/free pairs and free
 * accepts NULL; the library never prints, exits or keeps global state
 * (except liblinear's and libsvm's print hooks, which aitag silences).
 */
#ifndef AITAG_AITAG_H
#define AITAG_AITAG_H

#include "aitag/corpus.h"
#include "aitag/metrics.h"
#include "aitag/model.h"
#include "aitag/status.h"
#include "aitag/stream.h"
#include "aitag/tokenizer.h"
#include "aitag/train.h"
#include "aitag/version.h"

#endif
