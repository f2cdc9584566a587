/*
 * Small helpers of the planner: dotted-path access to json-c objects, RFC 3339 times in
 * milliseconds, and appending actions and Events to a plan. Allocation failures are recorded in
 * the context (ctx->err) rather than returned, so that planning code reads as policy; plan.c
 * checks ctx->err once at the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rollout/plan_internal.h"
#include "util/error.h"

bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

void *nn(struct plan_ctx *ctx, void *p)
{
    if (!p && ctx->err == 0)
        ctx->err = TG_ENOMEM;
    return p;
}

json_object *jkey(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!obj || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

json_object *jpath(json_object *obj, const char *path)
{
    char key[128];

    while (obj && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        obj = jkey(obj, key);
        path += n + (dot ? 1 : 0);
    }
    return obj;
}

const char *jstr(json_object *obj, const char *path)
{
    json_object *v = jpath(obj, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t jint(json_object *obj, const char *path, int64_t def)
{
    json_object *v = jpath(obj, path);
    return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

void jset(struct plan_ctx *ctx, json_object *obj, const char *path, json_object *v)
{
    char key[128];

    for (;;) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(key) || !obj) {
            json_object_put(v);
            return;
        }
        memcpy(key, path, n);
        key[n] = '\0';
        if (!dot) {
            if (v)
                json_object_object_add(obj, key, v);
            else
                json_object_object_del(obj, key);
            return;
        }
        json_object *next = jkey(obj, key);
        if (!next || !json_object_is_type(next, json_type_object)) {
            if (!v)
                return;
            next = nn(ctx, json_object_new_object());
            if (!next) {
                json_object_put(v);
                return;
            }
            json_object_object_add(obj, key, next);
        }
        obj = next;
        path = dot + 1;
    }
}

void jset_str(struct plan_ctx *ctx, json_object *obj, const char *path, const char *s)
{
    jset(ctx, obj, path, s ? nn(ctx, json_object_new_string(s)) : NULL);
}

void jput_str(struct plan_ctx *ctx, json_object *obj, const char *key, const char *s)
{
    json_object *v = nn(ctx, json_object_new_string(s ? s : ""));

    if (!obj || !v) {
        json_object_put(v);
        return;
    }
    json_object_object_add(obj, key, v);
}

void jset_int(struct plan_ctx *ctx, json_object *obj, const char *path, int64_t v)
{
    jset(ctx, obj, path, nn(ctx, json_object_new_int64(v)));
}

void jset_time(struct plan_ctx *ctx, json_object *obj, const char *path, int64_t ms)
{
    char buf[40];

    if (ms <= 0) {
        jset(ctx, obj, path, NULL);
        return;
    }
    time_format(ms, buf, sizeof(buf));
    jset_str(ctx, obj, path, buf);
}

json_object *jcopy(struct plan_ctx *ctx, json_object *obj)
{
    json_object *out = NULL;

    if (!obj)
        return NULL;
    if (json_object_deep_copy(obj, &out, NULL) != 0) {
        nn(ctx, NULL);
        return NULL;
    }
    return out;
}

static int two(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

int64_t time_parse_ms(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    struct tm tm;
    int64_t frac = 0;

    if (!s || strlen(s) < sizeof(shape) - 1)
        return 0;
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return 0;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = two(s) * 100 + two(s + 2) - 1900;
    tm.tm_mon = two(s + 5) - 1;
    tm.tm_mday = two(s + 8);
    tm.tm_hour = two(s + 11);
    tm.tm_min = two(s + 14);
    tm.tm_sec = two(s + 17);
    const char *p = s + sizeof(shape) - 1;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        }
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return 0;
    return (int64_t)timegm(&tm) * 1000 + frac;
}

void time_format(int64_t ms, char *buf, size_t n)
{
    struct tm tm;
    time_t secs = (time_t)(ms / 1000);

    gmtime_r(&secs, &tm);
    if (ms % 1000 == 0)
        strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else {
        char head[32];
        strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, n, "%s.%03dZ", head, (int)(ms % 1000));
    }
}

int64_t jtime(json_object *obj, const char *path)
{
    return time_parse_ms(jstr(obj, path));
}

void requeue_at(struct plan_ctx *ctx, int64_t at)
{
    if (at <= 0)
        return;
    if (ctx->requeue_at == 0 || at < ctx->requeue_at)
        ctx->requeue_at = at;
}

/* ---- actions ---- */

struct tg_action *plan_push(struct plan_ctx *ctx, struct tg_plan *plan)
{
    if (plan->n_actions == plan->cap_actions) {
        size_t cap = plan->cap_actions ? plan->cap_actions * 2 : 8;
        struct tg_action *a = realloc(plan->actions, cap * sizeof(*a));
        if (!nn(ctx, a))
            return NULL;
        plan->actions = a;
        plan->cap_actions = cap;
    }
    struct tg_action *a = &plan->actions[plan->n_actions++];
    memset(a, 0, sizeof(*a));
    return a;
}

void action_clear(struct tg_action *a)
{
    free(a->api_version);
    free(a->object_kind);
    free(a->namespace);
    free(a->name);
    free(a->uid);
    free(a->subresource);
    free(a->reason);
    free(a->message);
    json_object_put(a->body);
    memset(a, 0, sizeof(*a));
}

static char *dup(struct plan_ctx *ctx, const char *s)
{
    return s ? nn(ctx, strdup(s)) : NULL;
}

static struct tg_action *push_object(struct plan_ctx *ctx, enum tg_action_kind kind,
                                     const char *api_version, const char *object_kind,
                                     const char *name)
{
    struct tg_action *a = plan_push(ctx, ctx->plan);
    if (!a)
        return NULL;
    a->kind = kind;
    a->api_version = dup(ctx, api_version);
    a->object_kind = dup(ctx, object_kind);
    a->namespace = dup(ctx, ctx->namespace);
    a->name = dup(ctx, name);
    return a;
}

void emit_create(struct plan_ctx *ctx, json_object *body)
{
    struct tg_action *a = push_object(ctx, TG_ACTION_CREATE, jstr(body, "apiVersion"),
                                      jstr(body, "kind"), jstr(body, "metadata.name"));
    if (!a) {
        json_object_put(body);
        return;
    }
    a->body = body;
}

void emit_patch(struct plan_ctx *ctx, const char *api_version, const char *kind, const char *name,
                const char *subresource, enum tg_plan_patch_type type, json_object *body)
{
    struct tg_action *a = push_object(ctx, TG_ACTION_PATCH, api_version, kind, name);
    if (!a) {
        json_object_put(body);
        return;
    }
    a->subresource = dup(ctx, subresource);
    a->patch_type = type;
    a->body = body;
}

static void vevent(struct plan_ctx *ctx, const char *api_version, const char *kind,
                   const char *name, const char *uid, bool warning, const char *reason,
                   const char *fmt, va_list ap)
{
    char msg[1024];
    struct tg_action *a = plan_push(ctx, &ctx->events);

    if (!a)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    a->kind = TG_ACTION_EVENT;
    a->api_version = dup(ctx, api_version);
    a->object_kind = dup(ctx, kind);
    a->namespace = dup(ctx, ctx->namespace);
    a->name = dup(ctx, name);
    a->uid = dup(ctx, uid);
    a->warning = warning;
    a->reason = dup(ctx, reason);
    a->message = dup(ctx, msg);
}

void emit_event(struct plan_ctx *ctx, const char *kind, const char *name, const char *uid,
                bool warning, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vevent(ctx, "tollgate.io/v1alpha1", kind, name, uid, warning, reason, fmt, ap);
    va_end(ap);
}

void rollout_event(struct plan_ctx *ctx, bool warning, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vevent(ctx, "tollgate.io/v1alpha1", "Rollout", ctx->name, ctx->uid, warning, reason, fmt, ap);
    va_end(ap);
}

void release_event(struct plan_ctx *ctx, const struct plan_rel *rel, bool warning,
                   const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vevent(ctx, "tollgate.io/v1alpha1", "Release", rel->name, jstr(rel->in->obj, "metadata.uid"),
           warning, reason, fmt, ap);
    va_end(ap);
}

bool deadline_passed(struct plan_ctx *ctx)
{
    int64_t started = jtime(ctx->status, "stepStartedAt");
    int64_t deadline = started + (int64_t)ctx->spec->progress_deadline_seconds * 1000;

    if (started <= 0)
        return false;
    if (ctx->now >= deadline)
        return true;
    requeue_at(ctx, deadline);
    return false;
}
