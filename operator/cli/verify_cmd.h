/*
 * `kubectl tollgate verify IMAGE@DIGEST`: the operator's verification (verify/fetch.h and
 * verify/verify.h, the same code) run from a workstation or CI, on a private loop, with a
 * policy file and cosign's own flag names. Also the YAML reader of --policy files.
 */
#ifndef TG_CLI_VERIFY_CMD_H
#define TG_CLI_VERIFY_CMD_H

#include <stddef.h>

#include <json-c/json.h>

#include "cli/args.h"

/*
 * Runs verify. Prints each gate's verdict (text or JSON) to stdout, errors to stderr. Returns
 * the exit code: 0 when every gate passed (or only warned), 1 when verification failed, 2 for
 * usage errors and when the registry could not be read.
 */
int tg_cli_verify(const struct tg_cli_args *args);

/*
 * Reads one YAML (or JSON, which is YAML) document into json-c: mappings to objects (keys must
 * be scalars), sequences to arrays, plain scalars null/true/false/integers/floats typed and
 * everything else (and every quoted scalar) a string. *out is the caller's. Returns 0,
 * TG_EINVALID (message with the line), TG_ENOMEM.
 */
int tg_cli_yaml_to_json(const char *text, size_t len, json_object **out);

#endif
