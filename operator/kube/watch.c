/* The watch stream decoder; see watch.h. */
#include "kube/watch.h"

#include <json-c/json.h>
#include <limits.h>
#include <string.h>

#include "util/error.h"

/* Deep enough for CRDs whose openAPIV3Schema nests far, inside the event's own two levels. */
#define WATCH_MAX_DEPTH 256

/* json-c takes a line length as an int. */
#define WATCH_MAX_LINE_LIMIT ((size_t)INT_MAX)

int tg_watch_init(struct tg_watch *w, size_t max_line, tg_watch_event_fn fn, void *ctx)
{
    memset(w, 0, sizeof(*w));
    if (!max_line)
        max_line = TG_WATCH_DEFAULT_MAX_LINE;
    tg_buf_init(&w->line, max_line < WATCH_MAX_LINE_LIMIT ? max_line : WATCH_MAX_LINE_LIMIT);
    w->fn = fn;
    w->ctx = ctx;
    w->tok = json_tokener_new_ex(WATCH_MAX_DEPTH);
    if (!w->tok)
        return tg_error_set(TG_ENOMEM, "out of memory creating a JSON tokener");
    json_tokener_set_flags(w->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    return 0;
}

void tg_watch_free(struct tg_watch *w)
{
    tg_buf_free(&w->line);
    if (w->tok)
        json_tokener_free(w->tok);
    w->tok = NULL;
}

void tg_watch_restart(struct tg_watch *w)
{
    tg_buf_reset(&w->line);
    w->failed = 0;
}

const char *tg_watch_resource_version(const struct tg_watch *w)
{
    return w->rv;
}

int tg_watch_set_resource_version(struct tg_watch *w, const char *rv)
{
    size_t n = strlen(rv);

    if (n >= sizeof(w->rv))
        return tg_error_set(TG_EINVALID, "resourceVersion of %zu bytes is longer than %zu", n,
                            sizeof(w->rv) - 1);
    memcpy(w->rv, rv, n + 1);
    return 0;
}

const char *tg_watch_type_name(enum tg_watch_type type)
{
    switch (type) {
    case TG_WATCH_ADDED:
        return "ADDED";
    case TG_WATCH_MODIFIED:
        return "MODIFIED";
    case TG_WATCH_DELETED:
        return "DELETED";
    case TG_WATCH_BOOKMARK:
        return "BOOKMARK";
    }
    return "UNKNOWN";
}

/* Records err as the sticky failure and returns it. */
static int fail(struct tg_watch *w, int err)
{
    w->failed = err;
    return err;
}

static const char *get_string(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Turns an ERROR event's Status object into the matching code and last-error message. */
static int status_error(struct json_object *status)
{
    struct json_object *v;
    int code = 0;
    const char *reason = NULL;
    const char *message = NULL;

    if (json_object_is_type(status, json_type_object)) {
        if (json_object_object_get_ex(status, "code", &v) && json_object_is_type(v, json_type_int))
            code = json_object_get_int(v);
        reason = get_string(status, "reason");
        message = get_string(status, "message");
    }
    /* A Status without a code: the watch is simply restarted later. */
    int err = code ? tg_error_from_http(code) : TG_ETRANSIENT;
    if (code == 0 && reason && (!strcmp(reason, "Expired") || !strcmp(reason, "Gone")))
        err = TG_EGONE;
    return tg_error_set(err, "watch ERROR event: %s (reason %s, code %d)",
                        message ? message : "no message", reason ? reason : "none", code);
}

static int parse_type(const char *s, enum tg_watch_type *out)
{
    static const struct {
        const char *name;
        enum tg_watch_type type;
    } types[] = {
        {"ADDED", TG_WATCH_ADDED},
        {"MODIFIED", TG_WATCH_MODIFIED},
        {"DELETED", TG_WATCH_DELETED},
        {"BOOKMARK", TG_WATCH_BOOKMARK},
    };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (!strcmp(s, types[i].name)) {
            *out = types[i].type;
            return 0;
        }
    }
    return TG_EINVALID;
}

/* Remembers the object's metadata.resourceVersion, if it has one. */
static int track_rv(struct tg_watch *w, struct json_object *object)
{
    struct json_object *meta;

    if (!json_object_object_get_ex(object, "metadata", &meta))
        return 0;
    const char *rv = get_string(meta, "resourceVersion");
    if (!rv || !*rv)
        return 0;
    return tg_watch_set_resource_version(w, rv);
}

/* Decodes an event already parsed from one line and delivers it. */
static int handle_event(struct tg_watch *w, struct json_object *ev)
{
    struct json_object *object;
    enum tg_watch_type type;

    if (!json_object_is_type(ev, json_type_object))
        return tg_error_set(TG_EINVALID, "watch line is not a JSON object");
    const char *type_name = get_string(ev, "type");
    if (!type_name)
        return tg_error_set(TG_EINVALID, "watch event has no string \"type\"");
    if (!json_object_object_get_ex(ev, "object", &object))
        object = NULL;
    if (!strcmp(type_name, "ERROR"))
        return status_error(object);
    if (parse_type(type_name, &type) < 0)
        return tg_error_set(TG_EINVALID, "watch event of unknown type \"%.64s\"", type_name);
    if (!json_object_is_type(object, json_type_object))
        return tg_error_set(TG_EINVALID, "%s watch event has no \"object\"", type_name);
    int rc = w->fn(w->ctx, type, object);
    if (rc)
        return rc;
    w->events++;
    return track_rv(w, object);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    }
    return true;
}

/*
 * Parses one complete line (without its '\n') and delivers its event. at_end says the stream
 * ended inside this line, which turns an incomplete object into TG_ETRANSIENT.
 */
static int handle_line(struct tg_watch *w, const char *s, size_t n, bool at_end)
{
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (blank(s, n))
        return 0;
    json_tokener_reset(w->tok);
    struct json_object *ev = json_tokener_parse_ex(w->tok, s, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(w->tok);
    if (!ev || jerr != json_tokener_success) {
        json_object_put(ev);
        if (jerr == json_tokener_continue && at_end)
            return tg_error_set(TG_ETRANSIENT, "watch stream ended inside an event (%zu bytes)", n);
        if (jerr == json_tokener_continue)
            return tg_error_set(TG_EINVALID, "watch line of %zu bytes is an incomplete object", n);
        return tg_error_set(TG_EINVALID, "watch line is not JSON: %s at byte %zu",
                            json_tokener_error_desc(jerr), json_tokener_get_parse_end(w->tok));
    }
    size_t end = json_tokener_get_parse_end(w->tok);
    int rc = 0;
    if (!blank(s + end, n - end))
        rc = tg_error_set(TG_EINVALID, "watch line has data after its object at byte %zu", end);
    else
        rc = handle_event(w, ev);
    json_object_put(ev);
    return rc;
}

static int too_long(struct tg_watch *w)
{
    return tg_error_set(
        TG_ETOOBIG, "watch line longer than the cap of %zu bytes: restart the watch", w->line.max);
}

/* Adds n bytes of an unfinished line to the carried buffer, respecting the cap. */
static int carry(struct tg_watch *w, const char *s, size_t n)
{
    if (n > w->line.max - w->line.len)
        return too_long(w);
    return tg_buf_append(&w->line, s, n);
}

int tg_watch_feed(struct tg_watch *w, const void *data, size_t n)
{
    const char *p = data;
    const char *end = p + n;
    int rc;

    if (w->failed)
        return w->failed;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        size_t len = (size_t)(nl - p);
        if (w->line.len) {
            /* The line began in an earlier chunk: complete it in the buffer. */
            rc = carry(w, p, len);
            if (!rc)
                rc = handle_line(w, w->line.data, w->line.len, false);
            tg_buf_reset(&w->line);
        } else if (len > w->line.max) {
            rc = too_long(w);
        } else {
            /* The whole line is in this chunk: parse it in place, no copy. */
            rc = handle_line(w, p, len, false);
        }
        if (rc)
            return fail(w, rc);
        p = nl + 1;
    }
    if (p < end && (rc = carry(w, p, (size_t)(end - p))) != 0)
        return fail(w, rc);
    return 0;
}

int tg_watch_finish(struct tg_watch *w)
{
    int rc = 0;

    if (w->failed)
        return w->failed;
    if (w->line.len)
        rc = handle_line(w, w->line.data, w->line.len, true);
    tg_buf_reset(&w->line);
    return rc ? fail(w, rc) : 0;
}
