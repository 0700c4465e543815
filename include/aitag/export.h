/*
 * export.h: AITAG_API marks the functions libaitag.so exports. The library
 * is compiled with hidden visibility, so everything else (the internal
 * aitag__ helpers, test hooks) stays out of its dynamic symbol table.
 */
#ifndef AITAG_EXPORT_H
#define AITAG_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define AITAG_API __attribute__((visibility("default")))
#else
#define AITAG_API
#endif

#endif
