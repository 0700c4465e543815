/* check_train.c: placeholder, being written. */
#include "check_suites.h"

Suite *train_suite(void)
{
    return suite_create("train");
}
