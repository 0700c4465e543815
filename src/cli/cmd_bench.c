#include "cli.h"
static const cli_opt opts[] = {{0, 0, 0, 0}};
static int run(const cli_cmd *cmd, int argc, char **argv) { (void)argc; (void)argv; return cli_usage_error(cmd, "not yet"); }
const cli_cmd cmd_bench = {"bench", run, "todo", "", opts, ""};
