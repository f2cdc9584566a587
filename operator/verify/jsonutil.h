/*
 * Member readers the verification modules share for the JSON documents they parse (sigstore
 * bundles, DSSE envelopes, trusted roots, registry manifests). Internal to operator/verify/.
 */
#ifndef TG_VERIFY_JSONUTIL_H
#define TG_VERIFY_JSONUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* The string member key of o, or NULL when o is NULL or the member is absent or not a string.
 * Borrowed from o. */
const char *tg_json_str(json_object *o, const char *key);

/*
 * Decodes the base64 string member key of o (strict, see tg_b64_decode; empty only when
 * allow_empty) into *out, the caller's to free(). Messages start "what: " when what is not
 * NULL. Returns 0, TG_EINVALID (missing, not a string, empty, not base64) or TG_ENOMEM.
 */
int tg_json_b64(json_object *o, const char *key, bool allow_empty, const char *what,
                unsigned char **out, size_t *out_len);

#endif
