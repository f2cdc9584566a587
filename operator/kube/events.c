/*
 * Event recording logic; see events.h.
 *
 * Two LRU caches of the same shape (a chained hash table over a doubly linked recency list,
 * most recent first): one keyed by the involved object, holding its spam-filter bucket, one
 * keyed by object + type + reason + message, holding the series (Event name, count, first
 * timestamp, when last seen). Keys join their fields with length prefixes ("4:kind..."), so
 * no field's content can make two different keys equal.
 */
#include "kube/events.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/ratelimit.h"

#define KEY_MAX      16384 /* a key longer than this is refused: no real object gets close */
#define NAME_MAX_LEN 253   /* metadata.name, a DNS subdomain */
#define NAME_SUFFIX  17    /* "." and 16 hex digits */

/* ---- the LRU ---- */

struct node {
    struct node *hnext; /* the next node in this hash bucket */
    struct node *prev;  /* more recent */
    struct node *next;  /* less recent */
    uint64_t hash;
    size_t key_len;
    struct tg_bucket bucket; /* spam cache: the object's token bucket */
    char *event_name;        /* series cache: the Event's name, owned */
    unsigned count;          /* series cache: occurrences so far */
    int64_t first_wall_ms;   /* series cache: firstTimestamp */
    uint64_t last_ms;        /* series cache: the previous occurrence, monotonic */
    char key[];
};

struct lru {
    struct node **table;
    size_t table_size; /* a power of two */
    size_t len;
    size_t max;
    struct node *head; /* most recent */
    struct node *tail; /* least recent: evicted first */
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int lru_init(struct lru *l, size_t max)
{
    size_t size = 16;

    while (size < max)
        size *= 2;
    l->table = calloc(size, sizeof(*l->table));
    if (!l->table)
        return TG_ENOMEM;
    l->table_size = size;
    l->len = 0;
    l->max = max;
    l->head = l->tail = NULL;
    return 0;
}

static void node_free(struct node *n)
{
    free(n->event_name);
    free(n);
}

static void lru_free(struct lru *l)
{
    struct node *n = l->head;

    while (n) {
        struct node *next = n->next;

        node_free(n);
        n = next;
    }
    free(l->table);
}

static void list_unlink(struct lru *l, struct node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
}

static void list_push_front(struct lru *l, struct node *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
}

/* Finds key and makes it the most recent; NULL when absent. */
static struct node *lru_get(struct lru *l, const char *key, size_t len)
{
    uint64_t h = hash_bytes(key, len);

    for (struct node *n = l->table[h & (l->table_size - 1)]; n; n = n->hnext) {
        if (n->hash == h && n->key_len == len && memcmp(n->key, key, len) == 0) {
            list_unlink(l, n);
            list_push_front(l, n);
            return n;
        }
    }
    return NULL;
}

static void lru_remove(struct lru *l, struct node *n)
{
    struct node **pp = &l->table[n->hash & (l->table_size - 1)];

    while (*pp != n)
        pp = &(*pp)->hnext;
    *pp = n->hnext;
    list_unlink(l, n);
    l->len--;
    node_free(n);
}

/* Inserts a new, zeroed node for key as the most recent, evicting the least recent if full. */
static struct node *lru_insert(struct lru *l, const char *key, size_t len)
{
    struct node *n = calloc(1, sizeof(*n) + len + 1);
    size_t b;

    if (!n)
        return NULL;
    memcpy(n->key, key, len);
    n->key_len = len;
    n->hash = hash_bytes(key, len);
    if (l->len >= l->max)
        lru_remove(l, l->tail);
    b = n->hash & (l->table_size - 1);
    n->hnext = l->table[b];
    l->table[b] = n;
    list_push_front(l, n);
    l->len++;
    return n;
}

/* ---- the recorder ---- */

struct tg_events {
    struct tg_events_config cfg; /* strings point at the copies below */
    char *component;
    char *host;
    char *instance;
    const struct tg_clock *clock;
    struct lru spam;   /* per object: token buckets */
    struct lru series; /* per object + type + reason + message: the Event to patch */
    uint64_t seq;      /* makes Event names unique within a millisecond */
    struct tg_events_stats stats;
};

void tg_events_config_default(struct tg_events_config *c)
{
    c->component = TG_EVENTS_DEFAULT_COMPONENT;
    c->host = NULL;
    c->instance = NULL;
    c->dedup_window_ms = TG_EVENTS_DEFAULT_WINDOW_MS;
    c->burst = TG_EVENTS_DEFAULT_BURST;
    c->refill_ms = TG_EVENTS_DEFAULT_REFILL_MS;
    c->cache_size = TG_EVENTS_DEFAULT_CACHE_SIZE;
}

/* strdup that keeps NULL as NULL; false on allocation failure. */
static bool dup_opt(const char *s, char **out)
{
    *out = s ? strdup(s) : NULL;
    return !s || *out;
}

int tg_events_new(const struct tg_events_config *cfg, const struct tg_clock *clock,
                  struct tg_events **out)
{
    struct tg_events_config defaults;
    struct tg_events *ev;

    *out = NULL;
    if (!cfg) {
        tg_events_config_default(&defaults);
        cfg = &defaults;
    }
    if (!cfg->component || !*cfg->component || cfg->cache_size == 0 || cfg->burst == 0 ||
        cfg->refill_ms == 0)
        return tg_error_set(TG_EINVALID, "events: component, cache size, burst and refill "
                                         "interval must be set");
    ev = calloc(1, sizeof(*ev));
    if (!ev)
        goto fail;
    ev->cfg = *cfg;
    if (!dup_opt(cfg->component, &ev->component) || !dup_opt(cfg->host, &ev->host) ||
        !dup_opt(cfg->instance, &ev->instance))
        goto free_ev;
    ev->cfg.component = ev->component;
    ev->cfg.host = ev->host;
    ev->cfg.instance = ev->instance;
    ev->clock = clock;
    if (lru_init(&ev->spam, cfg->cache_size) < 0)
        goto free_ev;
    if (lru_init(&ev->series, cfg->cache_size) < 0)
        goto free_spam;
    *out = ev;
    return 0;

free_spam:
    lru_free(&ev->spam);
free_ev:
    free(ev->component);
    free(ev->host);
    free(ev->instance);
    free(ev);
fail:
    return tg_error_set(TG_ENOMEM, "events: out of memory");
}

void tg_events_free(struct tg_events *ev)
{
    if (!ev)
        return;
    lru_free(&ev->spam);
    lru_free(&ev->series);
    free(ev->component);
    free(ev->host);
    free(ev->instance);
    free(ev);
}

void tg_events_stats(const struct tg_events *ev, struct tg_events_stats *out)
{
    *out = ev->stats;
}

size_t tg_events_truncated_len(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);

    if (len <= max)
        return len;
    len = max;
    /* Back off over continuation bytes (10xxxxxx) to the start of the cut sequence. */
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

/* ---- keys ---- */

static int key_field(struct tg_buf *b, const char *s, size_t len)
{
    char prefix[24];

    snprintf(prefix, sizeof(prefix), "%zu:", len);
    if (tg_buf_append_str(b, prefix) < 0 || tg_buf_append(b, s ? s : "", len) < 0)
        return tg_error_set(TG_ETOOBIG, "events: event key passes %d bytes", KEY_MAX);
    return 0;
}

static int key_str(struct tg_buf *b, const char *s)
{
    return key_field(b, s, s ? strlen(s) : 0);
}

/* The spam filter's key: our source and the involved object (client-go's getSpamKey). */
static int object_key(const struct tg_events *ev, const struct tg_event_object *obj,
                      struct tg_buf *b)
{
    if (key_str(b, ev->component) < 0 || key_str(b, ev->host) < 0 || key_str(b, obj->kind) < 0 ||
        key_str(b, obj->namespace) < 0 || key_str(b, obj->name) < 0 || key_str(b, obj->uid) < 0 ||
        key_str(b, obj->api_version) < 0)
        return TG_ETOOBIG;
    return 0;
}

/* ---- JSON ---- */

static void format_time(int64_t wall_ms, char *buf, size_t size)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;

    if (wall_ms < 0 && wall_ms % 1000)
        secs -= 1;
    if (!gmtime_r(&secs, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "1970-01-01T00:00:00Z");
}

static int add(json_object *obj, const char *field, json_object *v)
{
    if (!v || json_object_object_add(obj, field, v) < 0) {
        json_object_put(v);
        return TG_ENOMEM;
    }
    return 0;
}

static int add_str(json_object *obj, const char *field, const char *s)
{
    return add(obj, field, json_object_new_string(s));
}

static int add_str_len(json_object *obj, const char *field, const char *s, size_t len)
{
    return add(obj, field, json_object_new_string_len(s, (int)len));
}

/* Adds field only when s is set and not empty. */
static int add_opt(json_object *obj, const char *field, const char *s)
{
    return s && *s ? add_str(obj, field, s) : 0;
}

/* Everything an Event body is built from. */
struct event_fields {
    const struct tg_event_object *obj;
    const char *type;
    const char *reason;
    const char *message;
    size_t message_len;
    const char *namespace;
    const char *name;
    unsigned count;
    int64_t first_wall_ms;
    int64_t last_wall_ms;
};

static json_object *build_involved(const struct tg_event_object *obj)
{
    json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    if (add_str(o, "kind", obj->kind) < 0 || add_opt(o, "namespace", obj->namespace) < 0 ||
        add_str(o, "name", obj->name) < 0 || add_opt(o, "uid", obj->uid) < 0 ||
        add_opt(o, "apiVersion", obj->api_version) < 0 ||
        add_opt(o, "resourceVersion", obj->resource_version) < 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *build_source(const struct tg_events *ev)
{
    json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    if (add_str(o, "component", ev->component) < 0 || add_opt(o, "host", ev->host) < 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *build_meta(const struct event_fields *f)
{
    json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    if (add_str(o, "name", f->name) < 0 || add_str(o, "namespace", f->namespace) < 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *build_event(const struct tg_events *ev, const struct event_fields *f)
{
    json_object *e = json_object_new_object();
    char first[32];
    char last[32];

    if (!e)
        return NULL;
    format_time(f->first_wall_ms, first, sizeof(first));
    format_time(f->last_wall_ms, last, sizeof(last));
    if (add_str(e, "apiVersion", "v1") < 0 || add_str(e, "kind", "Event") < 0 ||
        add(e, "metadata", build_meta(f)) < 0 ||
        add(e, "involvedObject", build_involved(f->obj)) < 0 ||
        add_str(e, "reason", f->reason) < 0 ||
        add_str_len(e, "message", f->message, f->message_len) < 0 ||
        add_str(e, "type", f->type) < 0 || add(e, "source", build_source(ev)) < 0 ||
        add_str(e, "firstTimestamp", first) < 0 || add_str(e, "lastTimestamp", last) < 0 ||
        add(e, "count", json_object_new_int64(f->count)) < 0 ||
        add_str(e, "reportingComponent", ev->component) < 0 ||
        add_opt(e, "reportingInstance", ev->instance) < 0) {
        json_object_put(e);
        return NULL;
    }
    return e;
}

static json_object *build_patch(const struct event_fields *f)
{
    json_object *p = json_object_new_object();
    char last[32];

    if (!p)
        return NULL;
    format_time(f->last_wall_ms, last, sizeof(last));
    if (add(p, "count", json_object_new_int64(f->count)) < 0 ||
        add_str(p, "lastTimestamp", last) < 0 ||
        add_str_len(p, "message", f->message, f->message_len) < 0) {
        json_object_put(p);
        return NULL;
    }
    return p;
}

/* Borrowed pointers into plan->event's metadata. */
static void point_at_meta(struct tg_event_plan *plan)
{
    json_object *meta = json_object_object_get(plan->event, "metadata");

    plan->name = json_object_get_string(json_object_object_get(meta, "name"));
    plan->namespace = json_object_get_string(json_object_object_get(meta, "namespace"));
}

/* ---- recording ---- */

void tg_event_plan_release(struct tg_event_plan *plan)
{
    json_object_put(plan->event);
    json_object_put(plan->patch);
    memset(plan, 0, sizeof(*plan));
    plan->verb = TG_EVENT_DROP;
}

static int check_input(const struct tg_event_object *obj, enum tg_event_type type,
                       const char *reason)
{
    if (!obj || !obj->kind || !*obj->kind || !obj->name || !*obj->name)
        return tg_error_set(TG_EINVALID, "events: the involved object needs a kind and a name");
    if (!reason || !*reason)
        return tg_error_set(TG_EINVALID, "events: an event needs a reason");
    if (type != TG_EVENT_NORMAL && type != TG_EVENT_WARNING)
        return tg_error_set(TG_EINVALID, "events: unknown event type %d", (int)type);
    return 0;
}

/* Takes a token from obj's bucket; false when it has none (the token is not taken then). */
static int spam_allows(struct tg_events *ev, const struct tg_buf *key, uint64_t now, bool *ok)
{
    struct node *n = lru_get(&ev->spam, key->data, key->len);

    if (!n) {
        n = lru_insert(&ev->spam, key->data, key->len);
        if (!n)
            return tg_error_set(TG_ENOMEM, "events: out of memory");
        tg_bucket_init(&n->bucket, 1000.0 / (double)ev->cfg.refill_ms, ev->cfg.burst, now);
    }
    /* Reserving takes a token even when there is none; a filter must not, so a refused
     * occurrence gives it back. A shortfall within float rounding of zero counts as a token. */
    (void)tg_bucket_reserve(&n->bucket, now);
    *ok = n->bucket.tokens > -1e-6;
    if (!*ok)
        n->bucket.tokens += 1.0;
    return 0;
}

/* Makes a new Event name: the object's name (cut to fit), a dot, a unique hex number. */
static char *new_event_name(struct tg_events *ev, const char *obj_name, int64_t wall_ms)
{
    size_t keep = strnlen(obj_name, NAME_MAX_LEN - NAME_SUFFIX);
    uint64_t unique = (uint64_t)wall_ms * 1000000u + ev->seq++ % 1000000u;
    char *name = malloc(keep + NAME_SUFFIX + 1);

    if (name)
        snprintf(name, keep + NAME_SUFFIX + 1, "%.*s.%016" PRIx64, (int)keep, obj_name, unique);
    return name;
}

int tg_events_record(struct tg_events *ev, const struct tg_event_object *obj,
                     enum tg_event_type type, const char *reason, const char *message,
                     struct tg_event_plan *plan)
{
    uint64_t now = tg_clock_now_ms(ev->clock);
    int64_t wall = tg_clock_wall_ms(ev->clock);
    struct event_fields f = {0};
    struct tg_buf key;
    struct node *series;
    char *name = NULL;
    bool allowed = false;
    int rc;

    memset(plan, 0, sizeof(*plan));
    plan->verb = TG_EVENT_DROP;
    rc = check_input(obj, type, reason);
    if (rc < 0)
        return rc;
    f.obj = obj;
    f.type = type == TG_EVENT_WARNING ? "Warning" : "Normal";
    f.reason = reason;
    f.message = message ? message : "";
    f.message_len = tg_events_truncated_len(f.message, TG_EVENTS_MAX_MESSAGE);
    f.namespace = obj->namespace && *obj->namespace ? obj->namespace : "default";
    f.last_wall_ms = wall;

    tg_buf_init(&key, KEY_MAX);
    rc = object_key(ev, obj, &key);
    if (rc < 0)
        goto free_key;
    rc = spam_allows(ev, &key, now, &allowed);
    if (rc < 0)
        goto free_key;
    if (!allowed) {
        ev->stats.dropped++;
        goto free_key;
    }
    if (key_str(&key, f.type) < 0 || key_str(&key, reason) < 0 ||
        key_field(&key, f.message, f.message_len) < 0) {
        rc = TG_ETOOBIG;
        goto free_key;
    }

    series = lru_get(&ev->series, key.data, key.len);
    if (series && now - series->last_ms < ev->cfg.dedup_window_ms) {
        f.name = series->event_name;
        f.count = series->count + 1;
        f.first_wall_ms = series->first_wall_ms;
        plan->verb = TG_EVENT_PATCH;
        plan->patch = build_patch(&f);
        if (!plan->patch)
            goto oom;
    } else {
        name = new_event_name(ev, obj->name, wall);
        if (!name)
            goto oom;
        f.name = name;
        f.count = 1;
        f.first_wall_ms = wall;
        plan->verb = TG_EVENT_CREATE;
    }
    plan->event = build_event(ev, &f);
    if (!plan->event)
        goto oom;

    /* Only now that nothing can fail does the cache learn of this occurrence. */
    if (!series) {
        series = lru_insert(&ev->series, key.data, key.len);
        if (!series)
            goto oom;
    }
    if (name) {
        free(series->event_name);
        series->event_name = name;
        series->first_wall_ms = wall;
        name = NULL;
    }
    series->count = f.count;
    series->last_ms = now;
    point_at_meta(plan);
    plan->count = f.count;
    if (plan->verb == TG_EVENT_CREATE)
        ev->stats.created++;
    else
        ev->stats.patched++;
    goto free_key;

oom:
    rc = tg_error_set(TG_ENOMEM, "events: out of memory");
    tg_event_plan_release(plan);
free_key:
    free(name);
    tg_buf_free(&key);
    return rc;
}
