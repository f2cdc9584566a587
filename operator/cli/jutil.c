/* Readers for json-c objects; see jutil.h. */
#include "cli/jutil.h"

#include <stddef.h>
#include <string.h>

json_object *tg_cli_jget(json_object *o, const char *path)
{
    char key[128];

    while (o && path && *path) {
        size_t n = strcspn(path, ".");
        json_object *next = NULL;
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &next))
            next = NULL;
        o = next;
        path += n;
        if (*path == '.')
            path++;
    }
    return o;
}

const char *tg_cli_jstr(json_object *o)
{
    if (!o || !json_object_is_type(o, json_type_string))
        return NULL;
    const char *s = json_object_get_string(o);
    return *s ? s : NULL;
}

int64_t tg_cli_jint(json_object *o, int64_t def)
{
    if (!o || !json_object_is_type(o, json_type_int))
        return def;
    return json_object_get_int64(o);
}

const char *tg_cli_or(const char *s, const char *def)
{
    return s ? s : def;
}
