/* The informer wired to the REST client and a uv timer; see reflector.h. */
#include "kube/reflector.h"

#include <json-c/json.h>

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"

struct tg_reflector {
    struct tg_client *client;
    const struct tg_resource *resource;
    char *namespace;
    char *label_selector;
    struct tg_cache *cache;
    struct tg_informer *informer;
    struct tg_client_call *call; /* the request in flight, or NULL */
    uv_timer_t timer;
    bool stopped;
    bool optional;   /* see tg_reflector_options */
    bool not_served; /* optional, and the last list was answered 404 */
};

static void perform(struct tg_reflector *r, const struct tg_informer_action *next);

static void log_failure(struct tg_reflector *r, const char *what, int rc)
{
    tg_log(TG_LOG_WARN, what, "resource", r->resource->resource, "error", tg_error_name(rc),
           "message", tg_error_last());
}

/*
 * The API server leaves kind and apiVersion out of the items of a built-in list (they are the
 * list's, less "List"), but watch events carry them; the cache holds one shape, with both.
 */
static void stamp_kinds(json_object *list)
{
    json_object *items = json_object_object_get(list, "items");
    const char *list_kind = json_object_get_string(json_object_object_get(list, "kind"));
    json_object *api_version = json_object_object_get(list, "apiVersion");
    size_t n;

    if (!items || !json_object_is_type(items, json_type_array) || !list_kind || !api_version)
        return;
    n = strlen(list_kind);
    if (n <= 4 || strcmp(list_kind + n - 4, "List") != 0)
        return;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *item = json_object_array_get_idx(items, i);
        if (!json_object_is_type(item, json_type_object))
            continue;
        if (!json_object_object_get(item, "kind"))
            json_object_object_add(item, "kind", json_object_new_string_len(list_kind, (int)n - 4));
        if (!json_object_object_get(item, "apiVersion"))
            json_object_object_add(item, "apiVersion", json_object_get(api_version));
    }
}

/*
 * An optional resource is not served (its CRD is not installed, or was deleted): what the cache
 * held is gone, and the resource counts as synced so that nothing waits for it.
 */
static void not_served(struct tg_reflector *r)
{
    if (!r->not_served)
        tg_log(TG_LOG_INFO, "the resource is not served; looking again with backoff", "resource",
               r->resource->resource, "group", r->resource->group);
    r->not_served = true;
    if (tg_cache_count(r->cache, TG_CACHE_ALL, NULL) > 0 && tg_cache_replace_begin(r->cache) == 0)
        tg_cache_replace_end(r->cache, NULL);
}

static void on_list(const struct tg_client_result *res, void *arg)
{
    struct tg_reflector *r = arg;
    struct tg_informer_action next;
    int rc;

    r->call = NULL;
    if (r->stopped)
        return;
    if (res->rc == TG_ENOTFOUND && r->optional) {
        not_served(r);
        tg_informer_list_failed(r->informer, res->rc, &next);
        perform(r, &next);
        return;
    }
    if (res->rc == 0 && res->body) {
        if (r->not_served)
            tg_log(TG_LOG_INFO, "the resource is served now", "resource", r->resource->resource,
                   "group", r->resource->group);
        r->not_served = false;
        stamp_kinds(res->body);
        rc = tg_informer_list_page(r->informer, res->body, &next);
    } else {
        int err = res->rc ? res->rc : TG_EINVALID;
        log_failure(r, "list failed", err);
        rc = tg_informer_list_failed(r->informer, err, &next);
    }
    if (rc && rc != TG_EINVALID)
        log_failure(r, "list page not applied", rc);
    perform(r, &next);
}

static int on_watch_data(const char *data, size_t len, void *arg)
{
    struct tg_reflector *r = arg;

    if (r->stopped)
        return TG_ECANCELED;
    return tg_informer_watch_data(r->informer, data, len);
}

static void on_watch_end(const struct tg_client_result *res, void *arg)
{
    struct tg_reflector *r = arg;
    struct tg_informer_action next;

    r->call = NULL;
    if (r->stopped)
        return;
    if (res->rc && res->rc != TG_EGONE)
        log_failure(r, "watch ended", res->rc);
    /* An optional resource no longer served (its CRD deleted): list again to learn so. */
    tg_informer_watch_closed(r->informer,
                             r->optional && res->rc == TG_ENOTFOUND ? TG_EGONE : res->rc, &next);
    perform(r, &next);
}

static void on_timer(uv_timer_t *t)
{
    struct tg_reflector *r = t->data;
    struct tg_informer_action next;

    if (r->stopped)
        return;
    tg_informer_timer_fired(r->informer, &next);
    perform(r, &next);
}

/* Issues the informer's next action; a request that cannot even start becomes a failed one. */
static void perform(struct tg_reflector *r, const struct tg_informer_action *next)
{
    struct tg_query q = {0};
    struct tg_informer_action again;
    int rc;

    switch (next->what) {
    case TG_INFORMER_DO_LIST:
        q.limit = next->limit;
        q.continue_token =
            next->continue_token && *next->continue_token ? next->continue_token : NULL;
        q.label_selector = r->label_selector;
        rc = tg_client_list(r->client, r->resource, r->namespace, &q, on_list, r, &r->call);
        if (rc) {
            log_failure(r, "cannot start list", rc);
            tg_informer_list_failed(r->informer, rc, &again);
            perform(r, &again);
        }
        return;
    case TG_INFORMER_DO_WATCH:
        q.resource_version = next->resource_version;
        q.allow_watch_bookmarks = next->allow_bookmarks;
        q.timeout_seconds = next->timeout_seconds;
        q.label_selector = r->label_selector;
        rc = tg_client_watch(r->client, r->resource, r->namespace, &q, on_watch_data, on_watch_end,
                             r, &r->call);
        if (rc) {
            log_failure(r, "cannot start watch", rc);
            tg_informer_watch_closed(r->informer, rc, &again);
            perform(r, &again);
        }
        return;
    case TG_INFORMER_DO_WAIT:
        uv_timer_start(&r->timer, on_timer, next->wait_ms, 0);
        return;
    case TG_INFORMER_DO_NOTHING:
        return;
    }
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int tg_reflector_new(uv_loop_t *loop, struct tg_client *client, const struct tg_clock *clock,
                     const struct tg_reflector_options *opt, struct tg_reflector **out)
{
    struct tg_reflector *r = calloc(1, sizeof(*r));
    int rc;

    *out = NULL;
    if (!r)
        return tg_error_set(TG_ENOMEM, "out of memory making a reflector");
    r->client = client;
    r->resource = opt->resource;
    r->namespace = dup_or_null(opt->namespace);
    r->label_selector = dup_or_null(opt->label_selector);
    r->optional = opt->optional;
    if ((opt->namespace && !r->namespace) || (opt->label_selector && !r->label_selector)) {
        rc = tg_error_set(TG_ENOMEM, "out of memory making a reflector");
        goto free_strings;
    }
    if ((rc = tg_cache_new(&opt->cache, &r->cache)))
        goto free_strings;
    if ((rc = tg_informer_new(r->cache, clock, &opt->informer, &r->informer)))
        goto free_cache;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    *out = r;
    return 0;

free_cache:
    tg_cache_free(r->cache);
free_strings:
    free(r->namespace);
    free(r->label_selector);
    free(r);
    return rc;
}

int tg_reflector_start(struct tg_reflector *r)
{
    struct tg_informer_action next;
    int rc = tg_informer_start(r->informer, &next);

    if (rc)
        return rc;
    perform(r, &next);
    return 0;
}

struct tg_cache *tg_reflector_cache(struct tg_reflector *r)
{
    return r->cache;
}

bool tg_reflector_has_synced(const struct tg_reflector *r)
{
    return r->not_served || tg_informer_has_synced(r->informer);
}

bool tg_reflector_served(const struct tg_reflector *r)
{
    return !r->not_served;
}

const struct tg_resource *tg_reflector_resource(const struct tg_reflector *r)
{
    return r->resource;
}

void tg_reflector_stats(const struct tg_reflector *r, struct tg_informer_stats *out)
{
    tg_informer_stats(r->informer, out);
}

void tg_reflector_stop(struct tg_reflector *r)
{
    if (r->stopped)
        return;
    r->stopped = true;
    tg_informer_stop(r->informer);
    if (r->call) {
        struct tg_client_call *call = r->call;
        r->call = NULL;
        tg_client_cancel(call);
    }
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, NULL);
}

void tg_reflector_free(struct tg_reflector *r)
{
    if (!r)
        return;
    tg_informer_free(r->informer);
    tg_cache_free(r->cache);
    free(r->namespace);
    free(r->label_selector);
    free(r);
}
