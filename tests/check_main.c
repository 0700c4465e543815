/* check_main.c: runs every suite; CK_RUN_SUITE / CK_RUN_CASE select some. */
#include <stdlib.h>

#include "check_suites.h"

int main(void)
{
    SRunner *sr = srunner_create(tokenizer_suite());
    srunner_add_suite(sr, corpus_suite());
    srunner_add_suite(sr, metrics_suite());
    srunner_add_suite(sr, model_suite());
    srunner_add_suite(sr, train_suite());
    srunner_add_suite(sr, oom_suite());
    srunner_add_suite(sr, api_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
