/*
 * How kubectl-tollgate records intent (docs/api.md, "Intent from kubectl tollgate"), as pure
 * functions: the unique token, the merge patch of metadata.annotations, and the checks made
 * before writing (is there something to promote, to abort, to retry, to roll back to). No I/O:
 * the verbs fetch the objects and hand them in, so that every refusal is testable.
 *
 * The checks return 0, or TG_EINVALID / TG_ENOTFOUND with a one-line last-error message that
 * the CLI prints as is ("nothing to promote: no Release in flight").
 */
#ifndef TG_CLI_INTENT_H
#define TG_CLI_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Room for a token: an RFC 3339 time, a dash and 16 hex digits. */
#define TG_CLI_TOKEN_MAX 48

/*
 * Writes a fresh token, "2026-11-26T06:40:00Z-0123456789abcdef", from the wall clock and 64
 * random bits, into buf (at least TG_CLI_TOKEN_MAX bytes). Returns 0 or TG_EINVALID.
 */
int tg_cli_token(int64_t wall_ms, uint64_t random, char *buf, size_t size);

/*
 * Builds the merge patch {"metadata":{"annotations":{k1:v1,...}}} from n key/value pairs
 * (kv[2i], kv[2i+1]); a NULL value removes the annotation. Only annotations are ever touched.
 * Returns 0 with *out the caller's (json_object_put), or TG_ENOMEM.
 */
int tg_cli_annotation_patch(const char *const *kv, size_t n, json_object **out);

/* The Release in flight (status.currentRelease), borrowed from the Rollout, or NULL. */
const char *tg_cli_release_in_flight(json_object *rollout);

/*
 * Promote: there must be a Release in flight. For a canary it must be waiting at a pause step
 * (or, with full, anywhere before the last step); a blue-green preview can be promoted any time
 * a Release is in flight.
 */
int tg_cli_check_promote(json_object *rollout, bool full);

/*
 * Abort: release (the Rollout's Release in flight, fetched; NULL when it was not found) must
 * still be delivering, not finished.
 */
int tg_cli_check_abort(json_object *rollout, json_object *release);

/*
 * The newest Release of a Rollout in a list of Releases (a JSON array): the one created last
 * (metadata.creationTimestamp, then the name). Borrowed from the list; NULL when none.
 */
json_object *tg_cli_latest_release(json_object *releases, const char *rollout);

/* Retry: latest (from tg_cli_latest_release, may be NULL) must be RolledBack or Failed. */
int tg_cli_check_retry(json_object *rollout, json_object *latest);

/*
 * Rollback. With to (a Release fetched by name, NULL when not found; to_name its name): it must
 * belong to this Rollout, be Succeeded (by its phase or the Rollout's history) and not be the
 * stable Release already. Without: the Rollout's history or releases (a JSON array, may be
 * NULL) must hold a Succeeded Release other than the stable one.
 */
int tg_cli_check_rollback(json_object *rollout, const char *to_name, json_object *to,
                          json_object *releases);

#endif
