/* Readers for json-c objects; see jutil.h. */
#include "cli/jutil.h"

#include <stdarg.h>
#include <stddef.h>

json_object *tg_cli_jget(json_object *o, ...)
{
    va_list ap;
    const char *key;

    va_start(ap, o);
    while (o && (key = va_arg(ap, const char *)) != NULL) {
        json_object *next = NULL;
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &next))
            next = NULL;
        o = next;
    }
    va_end(ap);
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
