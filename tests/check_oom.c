/* check_oom.c: placeholder, being written. */
#include "check_suites.h"

Suite *oom_suite(void)
{
    return suite_create("oom");
}
