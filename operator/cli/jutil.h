/*
 * Small readers for the json-c objects kubectl-tollgate gets from the API server: a member at a
 * path of keys, a non-empty string, an integer. They never fail: a missing or mistyped member
 * reads as NULL (or the default), because the CLI shows what is there and must not crash on
 * what is not.
 */
#ifndef TG_CLI_JUTIL_H
#define TG_CLI_JUTIL_H

#include <stdint.h>

#include <json-c/json.h>

/*
 * The member of o at a dotted path of keys ("status.tracks.stable"; keys must not contain dots
 * and are at most 127 bytes), or NULL when o is NULL or any step is missing or not an object.
 * Borrowed from o.
 */
json_object *tg_cli_jget(json_object *o, const char *path);

/* o's string when o is a non-empty string, else NULL. Borrowed from o. */
const char *tg_cli_jstr(json_object *o);

/* o's value when o is an integer, else def. */
int64_t tg_cli_jint(json_object *o, int64_t def);

/* s, or def when s is NULL. */
const char *tg_cli_or(const char *s, const char *def);

#endif
