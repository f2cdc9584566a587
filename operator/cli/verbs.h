/*
 * kubectl-tollgate's verbs: the I/O around the pure parts (args, render, intent). Each verb
 * reads what it needs through the asynchronous REST client on one libuv loop, checks it, and
 * either prints (status, list, history) or records intent with a merge patch of
 * metadata.annotations (promote, abort, retry, rollback). Workloads, specs and statuses are
 * never written.
 */
#ifndef TG_CLI_VERBS_H
#define TG_CLI_VERBS_H

#include "cli/args.h"

/*
 * Runs the verb in args. Output goes to stdout, errors to stderr as one line
 * ("error: rollout shop/web: nothing to promote: no Release in flight"). Returns the process's
 * exit code: 0 on success, 1 on any error.
 */
int tg_cli_run(const struct tg_cli_args *args);

#endif
