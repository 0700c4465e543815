/* check_tokenizer.c: placeholder, being written. */
#include "check_suites.h"

Suite *tokenizer_suite(void)
{
    return suite_create("tokenizer");
}
