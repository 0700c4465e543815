/* check_suites.h: one Check suite per module; the runner is check_main.c. */
#ifndef AITAG_CHECK_SUITES_H
#define AITAG_CHECK_SUITES_H
#include <check.h>
Suite *tokenizer_suite(void);
Suite *corpus_suite(void);
Suite *metrics_suite(void);
Suite *model_suite(void);
Suite *train_suite(void);
Suite *oom_suite(void);
Suite *api_suite(void);
#endif
