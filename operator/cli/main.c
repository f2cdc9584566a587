/*
 * kubectl-tollgate: the kubectl plugin for tollgate. kubectl runs it for `kubectl tollgate ...`
 * when it is on PATH. It parses the command line (args.c) and runs the verb (verbs.c).
 */
#include <stdio.h>

#include "cli/args.h"
#include "cli/verbs.h"
#include "util/error.h"
#include "util/log.h"

int main(int argc, char **argv)
{
    struct tg_cli_args args;

    if (tg_cli_parse_args(argc, argv, &args) < 0) {
        fprintf(stderr, "error: %s\n", tg_error_last());
        if (argc <= 1)
            tg_cli_usage(TG_CLI_NONE, stderr);
        /* verify's usage errors exit 2, as 1 means "verification failed". */
        return args.verb == TG_CLI_VERIFY ? 2 : 1;
    }
    if (args.help) {
        tg_cli_usage(args.verb, stdout);
        return 0;
    }
    /* The runtime logs JSON at info; a CLI shows only warnings and errors, as text. */
    tg_log_configure(TG_LOG_TEXT, TG_LOG_WARN, NULL, NULL);
    return tg_cli_run(&args);
}
