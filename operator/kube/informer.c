/* The informer state machine; see informer.h. */
#include "kube/informer.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cache.h"
#include "kube/watch.h"
#include "util/error.h"
#include "util/ratelimit.h"

struct tg_informer {
    struct tg_informer_opts opts;
    struct tg_cache *cache;       /* borrowed */
    const struct tg_clock *clock; /* borrowed */
    struct tg_watch watch;        /* decodes the watch stream; keeps the resume resourceVersion */
    enum tg_informer_state state;
    enum tg_informer_do retry; /* BACKOFF: what to do when the timer fires (LIST or WATCH) */
    char *continue_token;      /* LISTING: the token of the page in flight; NULL: first page */
    unsigned failures;         /* consecutive failures, for the backoff */
    uint64_t watch_started_ms; /* when the current watch was issued */
    uint64_t watch_events;     /* events and bookmarks the current watch delivered */
    uint64_t rng;              /* the internal xorshift generator's state */
    struct tg_informer_stats stats;
};

const char *tg_informer_state_name(enum tg_informer_state state)
{
    switch (state) {
    case TG_INFORMER_IDLE:
        return "IDLE";
    case TG_INFORMER_LISTING:
        return "LISTING";
    case TG_INFORMER_WATCHING:
        return "WATCHING";
    case TG_INFORMER_BACKOFF:
        return "BACKOFF";
    case TG_INFORMER_STOPPED:
        return "STOPPED";
    }
    return "UNKNOWN";
}

static double rand01(struct tg_informer *inf)
{
    if (inf->opts.rand01)
        return inf->opts.rand01(inf->opts.rand_ctx);
    /* xorshift64: jitter needs spread, not secrecy. */
    inf->rng ^= inf->rng << 13;
    inf->rng ^= inf->rng >> 7;
    inf->rng ^= inf->rng << 17;
    return (double)(inf->rng >> 11) / 9007199254740992.0;
}

/* Applies one watch event to the cache; the decoder calls it. */
static int on_event(void *ctx, enum tg_watch_type type, struct json_object *object)
{
    struct tg_informer *inf = ctx;
    int rc = 0;

    inf->watch_events++;
    if (inf->watch_events == 1)
        inf->failures = 0; /* the connection works: the next failure starts the backoff anew */
    switch (type) {
    case TG_WATCH_ADDED:
    case TG_WATCH_MODIFIED:
        rc = tg_cache_upsert(inf->cache, object, NULL);
        break;
    case TG_WATCH_DELETED:
        rc = tg_cache_delete(inf->cache, object, NULL);
        break;
    case TG_WATCH_BOOKMARK:
        inf->stats.bookmarks++;
        return 0;
    }
    if (rc == TG_EINVALID) {
        /* One broken object must not stop the stream; it is counted and skipped. */
        inf->stats.bad_objects++;
        return 0;
    }
    if (!rc)
        inf->stats.events++;
    return rc;
}

int tg_informer_new(struct tg_cache *cache, const struct tg_clock *clock,
                    const struct tg_informer_opts *opts, struct tg_informer **out)
{
    struct tg_informer *inf = calloc(1, sizeof(*inf));
    int rc;

    *out = NULL;
    if (!inf)
        return tg_error_set(TG_ENOMEM, "out of memory creating an informer");
    if (opts)
        inf->opts = *opts;
    if (!inf->opts.page_size)
        inf->opts.page_size = 100;
    if (!inf->opts.watch_timeout_s)
        inf->opts.watch_timeout_s = 300;
    if (!inf->opts.backoff_base_ms)
        inf->opts.backoff_base_ms = 1000;
    if (!inf->opts.backoff_max_ms)
        inf->opts.backoff_max_ms = 30000;
    if (inf->opts.jitter == 0)
        inf->opts.jitter = 0.5;
    if (!inf->opts.min_watch_ms)
        inf->opts.min_watch_ms = 1000;
    inf->cache = cache;
    inf->clock = clock;
    inf->rng = (tg_clock_now_ms(clock) ^ (uint64_t)(uintptr_t)inf) | 1;
    if ((rc = tg_watch_init(&inf->watch, inf->opts.max_line, on_event, inf)) != 0) {
        tg_watch_free(&inf->watch);
        free(inf);
        return rc;
    }
    *out = inf;
    return 0;
}

void tg_informer_free(struct tg_informer *inf)
{
    if (!inf)
        return;
    tg_watch_free(&inf->watch);
    free(inf->continue_token);
    free(inf);
}

static void nothing(struct tg_informer_action *next)
{
    memset(next, 0, sizeof(*next));
    next->continue_token = "";
    next->resource_version = "";
}

/* Refuses an input that does not belong to the current state. */
static int unexpected(struct tg_informer *inf, const char *input, struct tg_informer_action *next)
{
    nothing(next);
    if (inf->state == TG_INFORMER_STOPPED)
        return tg_error_set(TG_ECANCELED, "informer stopped: %s ignored", input);
    return tg_error_set(TG_EINVALID, "informer: %s while %s, ignored", input,
                        tg_informer_state_name(inf->state));
}

/* Issues a list of the first page (continue_token NULL) or of the next one. */
static void do_list(struct tg_informer *inf, struct tg_informer_action *next)
{
    nothing(next);
    if (!inf->continue_token) {
        inf->stats.lists++;
        if (tg_cache_has_synced(inf->cache))
            inf->stats.relists++;
    }
    inf->state = TG_INFORMER_LISTING;
    next->what = TG_INFORMER_DO_LIST;
    next->limit = inf->opts.page_size;
    next->continue_token = inf->continue_token ? inf->continue_token : "";
}

/* Starts a list from its first page. */
static void relist(struct tg_informer *inf, struct tg_informer_action *next)
{
    free(inf->continue_token);
    inf->continue_token = NULL;
    do_list(inf, next);
}

static void do_watch(struct tg_informer *inf, struct tg_informer_action *next)
{
    nothing(next);
    if (inf->stats.watches)
        inf->stats.watch_restarts++;
    inf->stats.watches++;
    inf->state = TG_INFORMER_WATCHING;
    inf->watch_started_ms = tg_clock_now_ms(inf->clock);
    inf->watch_events = 0;
    tg_watch_restart(&inf->watch);
    next->what = TG_INFORMER_DO_WATCH;
    next->resource_version = tg_watch_resource_version(&inf->watch);
    next->allow_bookmarks = true;
    next->timeout_seconds =
        inf->opts.watch_timeout_s + (unsigned)(inf->opts.watch_timeout_s * rand01(inf));
}

/* Waits before retrying what failed (retry: LIST or WATCH). */
static void back_off(struct tg_informer *inf, enum tg_informer_do retry,
                     struct tg_informer_action *next)
{
    uint64_t max = inf->opts.backoff_max_ms;
    uint64_t d = tg_backoff_delay_ms(inf->opts.backoff_base_ms, max, inf->failures);

    if (inf->opts.jitter > 0)
        d = tg_backoff_jitter_ms(d, inf->opts.jitter, rand01(inf));
    if (d > max)
        d = max;
    inf->failures++;
    inf->state = TG_INFORMER_BACKOFF;
    inf->retry = retry;
    nothing(next);
    next->what = TG_INFORMER_DO_WAIT;
    next->wait_ms = d;
}

int tg_informer_start(struct tg_informer *inf, struct tg_informer_action *next)
{
    if (inf->state != TG_INFORMER_IDLE)
        return unexpected(inf, "start", next);
    relist(inf, next);
    return 0;
}

/* A list request failed with err: back off and list again from the first page. */
static int list_failure(struct tg_informer *inf, int err, struct tg_informer_action *next)
{
    inf->stats.list_errors++;
    free(inf->continue_token);
    inf->continue_token = NULL;
    back_off(inf, TG_INFORMER_DO_LIST, next);
    return err;
}

static const char *string_at(struct json_object *o, const char *k1, const char *k2)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, k1, &v) || !json_object_object_get_ex(v, k2, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Applies a page's items to the cache. */
static int apply_items(struct tg_informer *inf, struct json_object *items)
{
    size_t n = json_object_array_length(items);

    for (size_t i = 0; i < n; i++) {
        int rc = tg_cache_replace_item(inf->cache, json_object_array_get_idx(items, i));
        if (rc == TG_EINVALID)
            inf->stats.bad_objects++;
        else if (rc)
            return rc;
    }
    return 0;
}

int tg_informer_list_page(struct tg_informer *inf, struct json_object *list,
                          struct tg_informer_action *next)
{
    struct json_object *items;
    int rc;

    if (inf->state != TG_INFORMER_LISTING)
        return unexpected(inf, "list page", next);
    const char *rv = string_at(list, "metadata", "resourceVersion");
    const char *cont = string_at(list, "metadata", "continue");
    if (!json_object_object_get_ex(list, "items", &items) ||
        (!json_object_is_type(items, json_type_array) &&
         !json_object_is_type(items, json_type_null)))
        return list_failure(inf, tg_error_set(TG_EINVALID, "list response has no items array"),
                            next);
    if (!rv || !*rv)
        return list_failure(inf, tg_error_set(TG_EINVALID, "list response has no resourceVersion"),
                            next);
    if (!inf->continue_token && (rc = tg_cache_replace_begin(inf->cache)) != 0)
        return list_failure(inf, rc, next);
    if (json_object_is_type(items, json_type_array) && (rc = apply_items(inf, items)) != 0)
        return list_failure(inf, tg_error_wrap(rc, "storing a list page"), next);
    inf->stats.pages++;
    if (cont && *cont) {
        char *copy = strdup(cont);
        if (!copy)
            return list_failure(inf, tg_error_set(TG_ENOMEM, "out of memory"), next);
        free(inf->continue_token);
        inf->continue_token = copy;
        do_list(inf, next);
        return 0;
    }
    if ((rc = tg_watch_set_resource_version(&inf->watch, rv)) != 0)
        return list_failure(inf, rc, next);
    free(inf->continue_token);
    inf->continue_token = NULL;
    if ((rc = tg_cache_replace_end(inf->cache, NULL)) != 0)
        return list_failure(inf, rc, next);
    inf->failures = 0;
    do_watch(inf, next);
    return 0;
}

int tg_informer_list_failed(struct tg_informer *inf, int err, struct tg_informer_action *next)
{
    if (inf->state != TG_INFORMER_LISTING)
        return unexpected(inf, "list failure", next);
    if (err == TG_EGONE && inf->continue_token) {
        /* The continue token expired between pages: start the list over, at once. */
        inf->stats.gone++;
        inf->stats.list_errors++;
        relist(inf, next);
        return err;
    }
    return list_failure(inf, err, next);
}

int tg_informer_watch_data(struct tg_informer *inf, const void *data, size_t n)
{
    struct tg_informer_action ignored;

    if (inf->state != TG_INFORMER_WATCHING)
        return unexpected(inf, "watch data", &ignored);
    return tg_watch_feed(&inf->watch, data, n);
}

int tg_informer_watch_closed(struct tg_informer *inf, int err, struct tg_informer_action *next)
{
    if (inf->state != TG_INFORMER_WATCHING)
        return unexpected(inf, "watch end", next);
    /* Decode a last line without a newline; and a 410 the stream carried beats how it ended. */
    int stream_err = tg_watch_finish(&inf->watch);
    if (!err || stream_err == TG_EGONE)
        err = stream_err;
    if (err == TG_EGONE) {
        /* Our resourceVersion fell out of the server's window: only a relist recovers. */
        inf->stats.gone++;
        inf->stats.watch_errors++;
        relist(inf, next);
        return err;
    }
    if (err) {
        inf->stats.watch_errors++;
        back_off(inf, TG_INFORMER_DO_WATCH, next);
        return err;
    }
    uint64_t lasted = tg_clock_now_ms(inf->clock) - inf->watch_started_ms;
    if (inf->watch_events == 0 && lasted < inf->opts.min_watch_ms) {
        /* Closed at once with nothing to show: not a timeout but a server or proxy refusing. */
        inf->stats.watch_errors++;
        back_off(inf, TG_INFORMER_DO_WATCH, next);
        return tg_error_set(TG_ETRANSIENT, "watch ended after %llu ms without an event",
                            (unsigned long long)lasted);
    }
    do_watch(inf, next);
    return 0;
}

int tg_informer_timer_fired(struct tg_informer *inf, struct tg_informer_action *next)
{
    if (inf->state != TG_INFORMER_BACKOFF)
        return unexpected(inf, "timer", next);
    if (inf->retry == TG_INFORMER_DO_WATCH)
        do_watch(inf, next);
    else
        relist(inf, next);
    return 0;
}

void tg_informer_stop(struct tg_informer *inf)
{
    inf->state = TG_INFORMER_STOPPED;
}

enum tg_informer_state tg_informer_state(const struct tg_informer *inf)
{
    return inf->state;
}

bool tg_informer_has_synced(const struct tg_informer *inf)
{
    return tg_cache_has_synced(inf->cache);
}

const char *tg_informer_resource_version(const struct tg_informer *inf)
{
    return tg_watch_resource_version(&inf->watch);
}

void tg_informer_stats(const struct tg_informer *inf, struct tg_informer_stats *out)
{
    *out = inf->stats;
}

/* Whether apiVersion ("group/version", or "version" for the core group) is of group. */
static bool in_group(const char *api_version, const char *group)
{
    const char *slash = strchr(api_version, '/');

    if (!slash)
        return !*group;
    return strlen(group) == (size_t)(slash - api_version) &&
           !strncmp(api_version, group, (size_t)(slash - api_version));
}

int tg_informer_owner_key(struct json_object *obj, const char *owner_group, const char *owner_kind,
                          char *key, size_t size)
{
    struct json_object *meta, *refs, *v;

    if (!json_object_object_get_ex(obj, "metadata", &meta) ||
        !json_object_object_get_ex(meta, "ownerReferences", &refs) ||
        !json_object_is_type(refs, json_type_array))
        return TG_ENOTFOUND;
    const char *ns = string_at(obj, "metadata", "namespace");
    size_t n = json_object_array_length(refs);
    for (size_t i = 0; i < n; i++) {
        struct json_object *ref = json_object_array_get_idx(refs, i);
        if (!json_object_object_get_ex(ref, "controller", &v) ||
            !json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v))
            continue;
        /* At most one reference may be the controller: this one decides. */
        const char *kind =
            json_object_object_get_ex(ref, "kind", &v) ? json_object_get_string(v) : NULL;
        const char *api =
            json_object_object_get_ex(ref, "apiVersion", &v) ? json_object_get_string(v) : NULL;
        const char *name =
            json_object_object_get_ex(ref, "name", &v) ? json_object_get_string(v) : NULL;
        if (!kind || !name || !*name || strcmp(kind, owner_kind) ||
            (owner_group && (!api || !in_group(api, owner_group))))
            return TG_ENOTFOUND;
        int len =
            ns && *ns ? snprintf(key, size, "%s/%s", ns, name) : snprintf(key, size, "%s", name);
        if (len < 0 || (size_t)len >= size)
            return tg_error_set(TG_EINVALID, "owner key of %s does not fit", name);
        return 0;
    }
    return TG_ENOTFOUND;
}
