/* check_model.c: placeholder, being written. */
#include "check_suites.h"

Suite *model_suite(void)
{
    return suite_create("model");
}
