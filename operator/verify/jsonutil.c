/* Shared JSON member readers of operator/verify/. */
#include "verify/jsonutil.h"

#include <string.h>

#include "util/error.h"
#include "verify/crypto.h"

const char *tg_json_str(json_object *o, const char *key)
{
    json_object *v;

    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int tg_json_b64(json_object *o, const char *key, bool allow_empty, const char *what,
                unsigned char **out, size_t *out_len)
{
    const char *s = tg_json_str(o, key);
    const char *sep = what ? ": " : "";
    int rc;

    *out = NULL;
    *out_len = 0;
    if (!what)
        what = "";
    if (!s)
        return tg_error_set(TG_EINVALID, "%s%s%s is missing or not a string", what, sep, key);
    if (!allow_empty && s[0] == '\0')
        return tg_error_set(TG_EINVALID, "%s%s%s is empty", what, sep, key);
    rc = tg_b64_decode(s, strlen(s), out, out_len);
    if (rc == TG_EINVALID)
        return tg_error_set(TG_EINVALID, "%s%s%s is not base64", what, sep, key);
    return rc;
}
