/* check_corpus.c: placeholder, being written. */
#include "check_suites.h"

Suite *corpus_suite(void)
{
    return suite_create("corpus");
}
