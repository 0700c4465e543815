/* check_metrics.c: placeholder, being written. */
#include "check_suites.h"

Suite *metrics_suite(void)
{
    return suite_create("metrics");
}
