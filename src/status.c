/* status.c: status strings from the table in status.h, and error formatting. */
#include <stdarg.h>
#include <stdio.h>

#include "aitag/status.h"
#include "aitag/version.h"
#include "internal.h"

const char *aitag_status_str(aitag_status s)
{
    switch (s) {
#define AITAG__STATUS_STR(name, num, msg) case AITAG_##name: return msg;
    AITAG_STATUS_MAP(AITAG__STATUS_STR)
#undef AITAG__STATUS_STR
    }
    return "unknown status";
}

aitag_status aitag__fail(aitag_error *err, aitag_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *aitag_version(void) { return AITAG_VERSION_STRING; }
unsigned aitag_version_number(void) { return AITAG_VERSION_NUMBER; }
