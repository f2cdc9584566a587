/*
 * Unit tests for kube/cache: add, update, delete and their handler events; the stale-event
 * rule; stripping; the namespace, owner and label indexes as objects move between them; relist
 * (replace) with deletions; borrowed pointers and release. Every test runs in both store modes,
 * but those of text mode's compression (dictionary training, round trips, raw fallbacks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cache.h"
#include "util/error.h"

static const enum tg_cache_store text_mode = TG_CACHE_STORE_TEXT;
static const enum tg_cache_store tree_mode = TG_CACHE_STORE_TREE;

/* What handlers saw, one line per event: "ADDED shop/web -> 5". */
struct events {
    char log[8192];
    int n;
    struct tg_cache *cache; /* for the handler that tries to mutate */
    int mutate_rc;
};

static const char *rv_of(struct json_object *o)
{
    struct json_object *m, *v;

    if (!o || !json_object_object_get_ex(o, "metadata", &m) ||
        !json_object_object_get_ex(m, "resourceVersion", &v))
        return "-";
    return json_object_get_string(v);
}

static void on_event(void *ctx, enum tg_cache_op op, const char *key, struct json_object *old,
                     struct json_object *new)
{
    static const char *names[] = {"NONE", "ADDED", "UPDATED", "DELETED"};
    struct events *ev = ctx;
    size_t len = strlen(ev->log);

    snprintf(ev->log + len, sizeof(ev->log) - len, "%s %s %s->%s\n", names[op], key, rv_of(old),
             rv_of(new));
    ev->n++;
    if (ev->cache)
        ev->mutate_rc = tg_cache_upsert(ev->cache, new ? new : old, NULL);
}

/* Builds an object from a printf-style JSON template; the caller puts it. */
static struct json_object *obj(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct json_object *obj(const char *fmt, ...)
{
    char s[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s, sizeof(s), fmt, ap);
    va_end(ap);
    struct json_object *o = json_tokener_parse(s);
    if (!o)
        fail_msg("bad test JSON: %s", s);
    return o;
}

/* A Deployment in namespace ns, optionally controlled by owner_uid and labelled app=app. */
static struct json_object *deployment(const char *ns, const char *name, const char *rv,
                                      const char *owner_uid, const char *app)
{
    char owner[256] = "";
    char labels[128] = "";

    if (owner_uid)
        snprintf(owner, sizeof(owner),
                 ",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
                 "\"name\":\"other\",\"uid\":\"not-controller\"},{\"apiVersion\":"
                 "\"tollgate.io/v1alpha1\",\"kind\":\"Rollout\",\"name\":\"r\",\"uid\":\"%s\","
                 "\"controller\":true}]",
                 owner_uid);
    if (app)
        snprintf(labels, sizeof(labels), ",\"labels\":{\"app\":\"%s\",\"tier\":\"web\"}", app);
    return obj("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"%s\","
               "\"namespace\":\"%s\",\"resourceVersion\":\"%s\"%s%s},\"spec\":{\"replicas\":3}}",
               name, ns, rv, owner, labels);
}

static struct tg_cache *new_cache(void **state, struct events *ev)
{
    struct tg_cache_opts opts = {.store = *(const enum tg_cache_store *)*state};
    struct tg_cache *c;

    assert_int_equal(tg_cache_new(&opts, &c), 0);
    if (ev) {
        memset(ev, 0, sizeof(*ev));
        assert_int_equal(tg_cache_add_handler(c, on_event, ev), 0);
    }
    return c;
}

/* Upserts and drops the caller's reference, as an informer does. */
static enum tg_cache_op put(struct tg_cache *c, struct json_object *o)
{
    enum tg_cache_op op;

    assert_int_equal(tg_cache_upsert(c, o, &op), 0);
    json_object_put(o);
    return op;
}

static void add_update_delete_with_events(void **state)
{
    struct events ev;
    struct tg_cache *c = new_cache(state, &ev);
    enum tg_cache_op op;

    assert_int_equal(put(c, deployment("shop", "web", "5", NULL, "web")), TG_CACHE_ADDED);
    assert_int_equal(put(c, deployment("shop", "web", "7", NULL, "web")), TG_CACHE_UPDATED);
    struct json_object *got = tg_cache_get(c, "shop/web");
    assert_non_null(got);
    assert_string_equal(rv_of(got), "7");
    assert_string_equal(tg_cache_resource_version(c, "shop/web"), "7");
    assert_null(tg_cache_get(c, "shop/api"));
    assert_null(tg_cache_get(c, "web"));

    struct json_object *del = deployment("shop", "web", "9", NULL, NULL);
    assert_int_equal(tg_cache_delete(c, del, &op), 0);
    assert_int_equal(op, TG_CACHE_DELETED);
    assert_int_equal(tg_cache_delete(c, del, &op), 0);
    assert_int_equal(op, TG_CACHE_NONE);
    json_object_put(del);
    assert_false(tg_cache_contains(c, "shop/web"));
    assert_int_equal(tg_cache_count(c, TG_CACHE_ALL, NULL), 0);
    assert_string_equal(ev.log, "ADDED shop/web -->5\n"
                                "UPDATED shop/web 5->7\n"
                                "DELETED shop/web 9->-\n");
    tg_cache_free(c);
}

static void cluster_scoped_keys_are_the_name(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);

    put(c,
        obj("{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\",\"resourceVersion\":\"1\"}}"));
    assert_true(tg_cache_contains(c, "shop"));
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_NAMESPACE, ""), 1);
    tg_cache_free(c);
}

static void stale_and_duplicate_updates_are_ignored(void **state)
{
    struct events ev;
    struct tg_cache *c = new_cache(state, &ev);

    put(c, deployment("shop", "web", "100", NULL, NULL));
    /* Older as a number, though larger as a string ("99" > "100"). */
    assert_int_equal(put(c, deployment("shop", "web", "99", NULL, NULL)), TG_CACHE_NONE);
    assert_int_equal(put(c, deployment("shop", "web", "100", NULL, NULL)), TG_CACHE_NONE);
    assert_string_equal(tg_cache_resource_version(c, "shop/web"), "100");
    assert_int_equal(put(c, deployment("shop", "web", "1000", NULL, NULL)), TG_CACHE_UPDATED);
    /* Opaque versions cannot be ordered: the later event wins. */
    assert_int_equal(put(c, deployment("shop", "web", "abc", NULL, NULL)), TG_CACHE_UPDATED);
    assert_int_equal(put(c, deployment("shop", "web", "999", NULL, NULL)), TG_CACHE_UPDATED);
    assert_int_equal(ev.n, 4);
    tg_cache_free(c);
}

static void rv_compare_table(void **state)
{
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"1", "2", -1},
        {"2", "1", 1},
        {"10", "9", 1},
        {"9", "10", -1},
        {"42", "42", 0},
        {"abc", "abc", 0},
        {"abc", "abd", 2},
        {"1", "a1", 2},
        {"", "", 2},
        {"", "5", 2},
        {"-1", "1", 2},
        {" 1", "1", 2},
        {"18446744073709551615", "18446744073709551614", 1},
        {"18446744073709551616", "1", 2},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = tg_cache_rv_compare(cases[i].a, cases[i].b);
        if (got != cases[i].want)
            fail_msg("compare(%s, %s) = %d, want %d", cases[i].a, cases[i].b, got, cases[i].want);
    }
}

static void default_strip_drops_managed_fields_and_last_applied(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);
    struct json_object *m, *a, *v;

    put(c, obj("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"resourceVersion\":\"1\","
               "\"managedFields\":[{\"manager\":\"kubectl\"}],\"annotations\":{"
               "\"kubectl.kubernetes.io/last-applied-configuration\":\"{...}\"}}}"));
    put(c, obj("{\"metadata\":{\"name\":\"api\",\"namespace\":\"shop\",\"resourceVersion\":\"2\","
               "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\","
               "\"keep\":\"me\"}}}"));
    struct json_object *web = tg_cache_get(c, "shop/web");
    struct json_object *api = tg_cache_get(c, "shop/api");
    assert_true(json_object_object_get_ex(web, "metadata", &m));
    assert_false(json_object_object_get_ex(m, "managedFields", NULL));
    assert_false(json_object_object_get_ex(m, "annotations", NULL));
    assert_true(json_object_object_get_ex(api, "metadata", &m));
    assert_true(json_object_object_get_ex(m, "annotations", &a));
    assert_int_equal(json_object_object_length(a), 1);
    assert_true(json_object_object_get_ex(a, "keep", &v));
    tg_cache_free(c);
}

static void strip_count(void *ctx, struct json_object *o)
{
    (*(int *)ctx)++;
    json_object_object_del(o, "spec");
}

static void strip_hook_is_configurable(void **state)
{
    struct tg_cache_opts opts = {.store = *(const enum tg_cache_store *)*state,
                                 .strip = tg_cache_strip_none};
    struct tg_cache *c;
    struct json_object *m;
    int calls = 0;

    assert_int_equal(tg_cache_new(&opts, &c), 0);
    put(c, obj("{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"1\","
               "\"managedFields\":[{\"manager\":\"kubectl\"}]}}"));
    assert_true(json_object_object_get_ex(tg_cache_get(c, "web"), "metadata", &m));
    assert_true(json_object_object_get_ex(m, "managedFields", NULL));
    tg_cache_free(c);

    opts.strip = strip_count;
    opts.strip_ctx = &calls;
    assert_int_equal(tg_cache_new(&opts, &c), 0);
    put(c, deployment("shop", "web", "1", NULL, NULL));
    assert_false(json_object_object_get_ex(tg_cache_get(c, "shop/web"), "spec", NULL));
    assert_int_equal(calls, 1);
    tg_cache_free(c);
}

static int collect(void *ctx, const char *key, struct json_object *o)
{
    char *out = ctx;
    size_t len = strlen(out);

    (void)o;
    snprintf(out + len, 1024 - len, "%s ", key);
    return 0;
}

/* The keys of an index entry, sorted, space-separated. */
static const char *keys_of(struct tg_cache *c, enum tg_cache_index idx, const char *value)
{
    static char out[1024];
    char *words[64];
    size_t n = 0;
    char buf[1024] = "";

    assert_int_equal(tg_cache_each(c, idx, value, collect, buf), 0);
    for (char *p = buf; *p;) {
        words[n++] = p;
        p = strchr(p, ' ');
        *p++ = '\0';
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(words[j - 1], words[j]) > 0; j--) {
            char *t = words[j];
            words[j] = words[j - 1];
            words[j - 1] = t;
        }
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, sizeof(out) - len, "%s%s", i ? " " : "", words[i]);
    }
    assert_int_equal(tg_cache_count(c, idx, value), n);
    return out;
}

static void indexes_follow_changes(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);
    struct tg_cache_stats st;

    put(c, deployment("shop", "web-stable", "1", "uid-web", "web"));
    put(c, deployment("shop", "web-canary", "2", "uid-web", "web"));
    put(c, deployment("shop", "api", "3", "uid-api", "api"));
    put(c, deployment("payments", "web", "4", NULL, "web"));

    assert_string_equal(keys_of(c, TG_CACHE_BY_OWNER, "uid-web"),
                        "shop/web-canary shop/web-stable");
    assert_string_equal(keys_of(c, TG_CACHE_BY_OWNER, "not-controller"), "");
    assert_string_equal(keys_of(c, TG_CACHE_BY_LABEL, "app=web"),
                        "payments/web shop/web-canary shop/web-stable");
    assert_string_equal(keys_of(c, TG_CACHE_BY_LABEL, "tier=web"),
                        "payments/web shop/api shop/web-canary shop/web-stable");
    assert_string_equal(keys_of(c, TG_CACHE_BY_NAMESPACE, "shop"),
                        "shop/api shop/web-canary shop/web-stable");
    assert_string_equal(keys_of(c, TG_CACHE_BY_NAMESPACE, "nowhere"), "");
    assert_string_equal(keys_of(c, TG_CACHE_ALL, NULL),
                        "payments/web shop/api shop/web-canary shop/web-stable");

    /* The canary is adopted by api and relabelled; payments/web loses its labels. */
    put(c, deployment("shop", "web-canary", "5", "uid-api", "api"));
    put(c, deployment("payments", "web", "6", NULL, NULL));
    assert_string_equal(keys_of(c, TG_CACHE_BY_OWNER, "uid-web"), "shop/web-stable");
    assert_string_equal(keys_of(c, TG_CACHE_BY_OWNER, "uid-api"), "shop/api shop/web-canary");
    assert_string_equal(keys_of(c, TG_CACHE_BY_LABEL, "app=web"), "shop/web-stable");
    assert_string_equal(keys_of(c, TG_CACHE_BY_LABEL, "app=api"), "shop/api shop/web-canary");

    struct json_object *d = deployment("shop", "web-stable", "7", NULL, NULL);
    assert_int_equal(tg_cache_delete(c, d, NULL), 0);
    json_object_put(d);
    assert_string_equal(keys_of(c, TG_CACHE_BY_OWNER, "uid-web"), "");
    assert_string_equal(keys_of(c, TG_CACHE_BY_LABEL, "app=web"), "");
    /* Empty index entries are freed, not kept. */
    tg_cache_stats(c, &st);
    assert_int_equal(st.objects, 3);
    assert_int_equal(st.owners, 1);
    assert_int_equal(st.labels, 2); /* app=api, tier=web */
    assert_int_equal(st.namespaces, 2);
    tg_cache_free(c);
}

static void relist_reports_vanished_objects_as_deletes(void **state)
{
    struct events ev;
    struct tg_cache *c = new_cache(state, &ev);
    size_t deleted;

    assert_false(tg_cache_has_synced(c));
    assert_int_equal(tg_cache_replace_begin(c), 0);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "d%d", i);
        struct json_object *o = deployment("shop", name, "10", "uid-r", "web");
        assert_int_equal(tg_cache_replace_item(c, o), 0);
        json_object_put(o);
    }
    assert_false(tg_cache_has_synced(c));
    assert_int_equal(tg_cache_replace_end(c, &deleted), 0);
    assert_int_equal(deleted, 0);
    assert_true(tg_cache_has_synced(c));

    /* A relist after a 410: d0 unchanged, d1 changed, d2 gone, d3 new. */
    ev.log[0] = '\0';
    assert_int_equal(tg_cache_replace_begin(c), 0);
    struct json_object *items[] = {
        deployment("shop", "d0", "10", "uid-r", "web"),
        deployment("shop", "d1", "20", "uid-r", "web"),
        deployment("shop", "d3", "21", "uid-r", "web"),
    };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(tg_cache_replace_item(c, items[i]), 0);
        json_object_put(items[i]);
    }
    assert_int_equal(tg_cache_replace_end(c, &deleted), 0);
    assert_int_equal(deleted, 1);
    assert_string_equal(ev.log, "UPDATED shop/d1 10->20\n"
                                "ADDED shop/d3 -->21\n"
                                "DELETED shop/d2 10->-\n");
    assert_string_equal(keys_of(c, TG_CACHE_BY_OWNER, "uid-r"), "shop/d0 shop/d1 shop/d3");

    /* An abandoned replace (a list that failed halfway) followed by a full one. */
    assert_int_equal(tg_cache_replace_begin(c), 0);
    struct json_object *o = deployment("shop", "d0", "10", "uid-r", "web");
    assert_int_equal(tg_cache_replace_item(c, o), 0);
    json_object_put(o);
    assert_int_equal(tg_cache_replace_begin(c), 0);
    assert_int_equal(tg_cache_replace_end(c, &deleted), 0);
    assert_int_equal(deleted, 3);
    assert_int_equal(tg_cache_count(c, TG_CACHE_ALL, NULL), 0);
    tg_cache_free(c);
}

static void borrowed_pointers_live_until_mutation_or_release(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);
    struct tg_cache_stats st;
    bool text = *(const enum tg_cache_store *)*state == TG_CACHE_STORE_TEXT;

    put(c, deployment("shop", "a", "1", NULL, NULL));
    put(c, deployment("shop", "b", "1", NULL, NULL));
    tg_cache_release(c);
    struct json_object *a1 = tg_cache_get(c, "shop/a");
    struct json_object *a2 = tg_cache_get(c, "shop/a");
    assert_ptr_equal(a1, a2);
    tg_cache_stats(c, &st);
    assert_int_equal(st.parsed, text ? 1 : 2);
    assert_true(st.stored_bytes > 0 || !text);
    tg_cache_release(c);
    tg_cache_stats(c, &st);
    assert_int_equal(st.parsed, text ? 0 : 2);
    /* A reference taken by the caller survives release and mutation. */
    struct json_object *kept = json_object_get(tg_cache_get(c, "shop/b"));
    put(c, deployment("shop", "b", "2", NULL, NULL));
    tg_cache_release(c);
    assert_string_equal(rv_of(kept), "1");
    json_object_put(kept);
    assert_string_equal(rv_of(tg_cache_get(c, "shop/b")), "2");
    tg_cache_free(c);
}

/* A handler that looks up every object it can while a relist deletes objects. */
static void look_everything_up(void *ctx, enum tg_cache_op op, const char *key,
                               struct json_object *old, struct json_object *new)
{
    struct tg_cache *c = ctx;
    char k[32];

    (void)op;
    (void)key;
    (void)old;
    (void)new;
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof(k), "shop/d%d", i);
        tg_cache_get(c, k);
    }
}

static void handlers_may_read_during_a_relist(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);
    char name[16];
    size_t deleted;

    assert_int_equal(tg_cache_add_handler(c, look_everything_up, c), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "d%d", i);
        put(c, deployment("shop", name, "1", NULL, NULL));
    }
    assert_int_equal(tg_cache_replace_begin(c), 0);
    assert_int_equal(tg_cache_replace_end(c, &deleted), 0);
    assert_int_equal(deleted, 20);
    assert_int_equal(tg_cache_count(c, TG_CACHE_ALL, NULL), 0);
    tg_cache_free(c);
}

static void handlers_cannot_mutate(void **state)
{
    struct events ev;
    struct tg_cache *c = new_cache(state, &ev);

    ev.cache = c;
    put(c, deployment("shop", "a", "1", NULL, NULL));
    assert_int_equal(ev.mutate_rc, TG_EINVALID);
    assert_int_equal(tg_cache_count(c, TG_CACHE_ALL, NULL), 1);
    tg_cache_free(c);
}

static int stop_at_second(void *ctx, const char *key, struct json_object *o)
{
    (void)key;
    (void)o;
    return ++*(int *)ctx == 2 ? TG_ECANCELED : 0;
}

static void each_stops_when_asked(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);
    int n = 0;

    for (int i = 0; i < 5; i++) {
        char name[8];
        snprintf(name, sizeof(name), "d%d", i);
        put(c, deployment("shop", name, "1", NULL, NULL));
    }
    assert_int_equal(tg_cache_each(c, TG_CACHE_BY_NAMESPACE, "shop", stop_at_second, &n),
                     TG_ECANCELED);
    assert_int_equal(n, 2);
    tg_cache_free(c);
}

static void deep_and_unicode_objects_round_trip(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);
    char deep[2048];
    size_t len = 0;
    struct json_object *v;

    /* 60 levels: deeper than json-c's default limit of 32. */
    len += (size_t)snprintf(deep + len, sizeof(deep) - len,
                            "{\"metadata\":{\"name\":\"deep\",\"resourceVersion\":\"1\","
                            "\"annotations\":{\"note\":\"\\u00e9 \\u65e5\\u672c \\ud83d\\ude80 "
                            "a\\/b \\\"q\\\"\"}},\"spec\":");
    for (int i = 0; i < 60; i++)
        len += (size_t)snprintf(deep + len, sizeof(deep) - len, "{\"a\":");
    len += (size_t)snprintf(deep + len, sizeof(deep) - len, "1");
    for (int i = 0; i < 61; i++)
        len += (size_t)snprintf(deep + len, sizeof(deep) - len, "}");
    json_tokener *tok = json_tokener_new_ex(256);
    struct json_object *o = json_tokener_parse_ex(tok, deep, (int)len);
    json_tokener_free(tok);
    assert_non_null(o);
    put(c, o);
    tg_cache_release(c);
    struct json_object *got = tg_cache_get(c, "deep");
    assert_non_null(got);
    assert_true(json_object_object_get_ex(got, "metadata", &v));
    assert_true(json_object_object_get_ex(v, "annotations", &v));
    assert_true(json_object_object_get_ex(v, "note", &v));
    assert_string_equal(json_object_get_string(v),
                        "\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80 a/b \"q\"");
    v = got;
    assert_true(json_object_object_get_ex(v, "spec", &v));
    for (int i = 0; i < 60; i++)
        assert_true(json_object_object_get_ex(v, "a", &v));
    assert_int_equal(json_object_get_int(v), 1);
    tg_cache_free(c);
}

static void list_gives_an_array_of_borrowed_objects(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);
    struct json_object **items;
    size_t n;

    put(c, deployment("shop", "a", "1", "uid-r", NULL));
    put(c, deployment("shop", "b", "1", "uid-r", NULL));
    put(c, deployment("shop", "c", "1", NULL, NULL));
    assert_int_equal(tg_cache_list(c, TG_CACHE_BY_OWNER, "uid-r", &items, &n), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(rv_of(items[i]), "1");
    free(items);
    assert_int_equal(tg_cache_list(c, TG_CACHE_BY_OWNER, "nobody", &items, &n), 0);
    assert_null(items);
    assert_int_equal(n, 0);
    tg_cache_free(c);
}

static void objects_without_a_name_are_refused(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);
    struct json_object *o = obj("{\"metadata\":{\"namespace\":\"shop\"}}");
    struct json_object *arr = obj("[1]");

    assert_int_equal(tg_cache_upsert(c, o, NULL), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "metadata.name"));
    assert_int_equal(tg_cache_upsert(c, arr, NULL), TG_EINVALID);
    assert_int_equal(tg_cache_delete(c, o, NULL), TG_EINVALID);
    json_object_put(o);
    json_object_put(arr);
    tg_cache_free(c);
}

static void many_objects_stay_consistent(void **state)
{
    struct tg_cache *c = new_cache(state, NULL);
    char name[32], owner[32], app[32];

    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "d%d", i);
        snprintf(owner, sizeof(owner), "uid-%d", i / 10);
        snprintf(app, sizeof(app), "app%d", i % 7);
        put(c, deployment(i % 2 ? "odd" : "even", name, "1", owner, app));
    }
    assert_int_equal(tg_cache_count(c, TG_CACHE_ALL, NULL), 5000);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_NAMESPACE, "odd"), 2500);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_OWNER, "uid-42"), 10);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_LABEL, "app=app3"), 714);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(name, sizeof(name), "d%d", i);
        struct json_object *d = deployment("even", name, "2", NULL, NULL);
        assert_int_equal(tg_cache_delete(c, d, NULL), 0);
        json_object_put(d);
    }
    assert_int_equal(tg_cache_count(c, TG_CACHE_ALL, NULL), 2500);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_NAMESPACE, "even"), 0);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_OWNER, "uid-42"), 5);
    assert_non_null(tg_cache_get(c, "odd/d4999"));
    tg_cache_free(c);
}

/* ---- compression (text mode) ---- */

static struct tg_cache *new_text_cache(size_t compress_after, size_t dict_capacity,
                                       struct events *ev)
{
    struct tg_cache_opts opts = {.store = TG_CACHE_STORE_TEXT,
                                 .compress_after = compress_after,
                                 .dict_capacity = dict_capacity};
    struct tg_cache *c;

    assert_int_equal(tg_cache_new(&opts, &c), 0);
    if (ev) {
        memset(ev, 0, sizeof(*ev));
        assert_int_equal(tg_cache_add_handler(c, on_event, ev), 0);
    }
    return c;
}

/*
 * A Rollout-sized object (about 700 bytes), different for every i and version: labels (one
 * pair written twice, "a=b":"c" and "a":"b=c", on every fifth object), an owner on every
 * third, an image that changes with the version.
 */
static struct json_object *rollout(int i, int version)
{
    char dup[64] = "";

    if (i % 5 == 0)
        snprintf(dup, sizeof(dup), ",\"a=b\":\"c\",\"a\":\"b=c\"");
    return obj("{\"apiVersion\":\"tollgate.io/v1alpha1\",\"kind\":\"Rollout\",\"metadata\":{"
               "\"name\":\"r-%05d\",\"namespace\":\"ns-%d\",\"resourceVersion\":\"%d\","
               "\"uid\":\"5f1c%04x-8e2b-4c1a-9d3e-%012x\",\"generation\":%d,"
               "\"labels\":{\"app\":\"shop-%d\",\"team\":\"checkout\"%s}%s},"
               "\"spec\":{\"replicas\":%d,\"service\":{\"name\":\"web-%d\",\"port\":80},"
               "\"strategy\":{\"canary\":{\"steps\":[{\"setWeight\":10},{\"pause\":{\"duration\":"
               "\"2m\"}},{\"setWeight\":50},{\"pause\":{}}]}},\"template\":{\"metadata\":{"
               "\"labels\":{\"app\":\"web-%d\"}},\"spec\":{\"containers\":[{\"name\":\"web\","
               "\"image\":\"registry.example/shop/web:1.%d.%d\",\"env\":[{\"name\":\"MODE\","
               "\"value\":\"production\"},{\"name\":\"REGION\",\"value\":\"eu-central-1\"}],"
               "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}}}]}}},"
               "\"status\":{\"phase\":\"Healthy\",\"observedGeneration\":%d}}",
               i, i % 7, 100 + version * 100000 + i, (unsigned)i, (unsigned)(i * 7919), version,
               i % 50, dup,
               i % 3 ? ""
                     : ",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"X\",\"name\":"
                       "\"o\",\"uid\":\"owner-1\",\"controller\":true}]",
               1 + i % 9, i, i, version, i, version);
}

/* Asserts that the cached object r-i is exactly rollout(i, version). */
static void assert_cached_rollout(struct tg_cache *c, int i, int version)
{
    char key[64];
    struct json_object *want = rollout(i, version);

    snprintf(key, sizeof(key), "ns-%d/r-%05d", i % 7, i);
    struct json_object *got = tg_cache_get(c, key);
    if (!got || !json_object_equal(got, want))
        fail_msg("%s: got %s", key, got ? json_object_to_json_string(got) : "nothing");
    json_object_put(want);
}

static void compression_round_trips_through_updates_and_deletes(void **state)
{
    enum { N = 1200 };
    struct events ev;
    struct tg_cache *c = new_text_cache(64, 0, &ev);
    struct tg_cache_stats st;

    (void)state;
    for (int i = 0; i < N; i++)
        assert_int_equal(put(c, rollout(i, 1)), TG_CACHE_ADDED);
    /* Trained at 64 objects, again at 512: every object is compressed, and much smaller. */
    tg_cache_stats(c, &st);
    assert_int_equal(st.objects, N);
    assert_int_equal(st.trainings, 2);
    assert_int_equal(st.compressed, N);
    assert_true(st.text_bytes > (size_t)N * 600);
    assert_true(st.stored_bytes * 4 < st.text_bytes);
    for (int i = 0; i < N; i++)
        assert_cached_rollout(c, i, 1);
    tg_cache_release(c);

    /* Updates after training: the handlers see both versions; deletes: the rest stays. */
    ev.log[0] = '\0';
    ev.n = 0;
    for (int i = 0; i < N; i += 2)
        assert_int_equal(put(c, rollout(i, 2)), TG_CACHE_UPDATED);
    assert_int_equal(ev.n, N / 2);
    assert_non_null(strstr(ev.log, "UPDATED ns-0/r-00000 100100->200100\n"));
    for (int i = 0; i < N; i += 3) {
        struct json_object *o = rollout(i, 3);
        enum tg_cache_op op;
        assert_int_equal(tg_cache_delete(c, o, &op), 0);
        assert_int_equal(op, TG_CACHE_DELETED);
        json_object_put(o);
    }
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            assert_false(tg_cache_contains(c, "never"));
        else
            assert_cached_rollout(c, i, i % 2 ? 1 : 2);
        if (i % 3 == 0) {
            char key[64];
            snprintf(key, sizeof(key), "ns-%d/r-%05d", i % 7, i);
            assert_false(tg_cache_contains(c, key));
        }
    }
    tg_cache_release(c);
    /* The indexes followed, including the label pair that occurs twice per object. */
    size_t left = N - (N + 2) / 3;
    assert_int_equal(tg_cache_count(c, TG_CACHE_ALL, NULL), left);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_LABEL, "team=checkout"), left);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_LABEL, "a=b=c"), 2 * 160);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_OWNER, "owner-1"), 0);
    tg_cache_stats(c, &st);
    assert_int_equal(st.compressed, left);
    assert_true(st.stored_bytes * 4 < st.text_bytes);
    tg_cache_free(c);
}

/* Objects that a dictionary cannot make smaller: short, random, unlike what it learnt. */
static void incompressible_objects_stay_raw(void **state)
{
    struct tg_cache *c = new_text_cache(64, 0, NULL);
    struct tg_cache_stats st;
    unsigned seed = 12345;
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char names[64][40];

    (void)state;
    for (int i = 0; i < 64; i++)
        put(c, rollout(i, 1));
    for (int i = 0; i < 64; i++) {
        for (size_t k = 0; k < 39; k++) {
            seed = seed * 1103515245u + 12345u;
            names[i][k] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        names[i][39] = '\0';
        put(c, obj("{\"metadata\":{\"name\":\"%s\"}}", names[i]));
    }
    tg_cache_stats(c, &st);
    assert_int_equal(st.trainings, 1);
    assert_int_equal(st.objects, 128);
    assert_int_equal(st.compressed, 64);
    for (int i = 0; i < 64; i++) {
        struct json_object *want = obj("{\"metadata\":{\"name\":\"%s\"}}", names[i]);
        struct json_object *got = tg_cache_get(c, names[i]);
        assert_non_null(got);
        assert_true(json_object_equal(got, want));
        json_object_put(want);
    }
    tg_cache_free(c);
}

/* A cache below the threshold (256 by default) never trains: its texts stay raw. */
static void small_caches_stay_uncompressed(void **state)
{
    struct tg_cache *c = new_text_cache(0, 0, NULL);
    struct tg_cache_stats st;

    (void)state;
    for (int i = 0; i < 255; i++)
        put(c, rollout(i, 1));
    for (int i = 0; i < 255; i += 2)
        put(c, rollout(i, 2));
    tg_cache_stats(c, &st);
    assert_int_equal(st.objects, 255);
    assert_int_equal(st.trainings, 0);
    assert_int_equal(st.compressed, 0);
    assert_int_equal(st.stored_bytes, st.text_bytes);
    for (int i = 0; i < 255; i++)
        assert_cached_rollout(c, i, i % 2 ? 1 : 2);
    /* The 256th object trains the dictionary, and every text is compressed. */
    put(c, rollout(255, 1));
    tg_cache_stats(c, &st);
    assert_int_equal(st.trainings, 1);
    assert_int_equal(st.compressed, 256);
    assert_true(st.stored_bytes * 4 < st.text_bytes);
    for (int i = 0; i < 256; i++)
        assert_cached_rollout(c, i, i % 2 || i == 255 ? 1 : 2);
    tg_cache_free(c);

    /* compress_after SIZE_MAX: never, however many objects. */
    c = new_text_cache(SIZE_MAX, 0, NULL);
    for (int i = 0; i < 600; i++)
        put(c, rollout(i, 1));
    tg_cache_stats(c, &st);
    assert_int_equal(st.trainings, 0);
    assert_int_equal(st.compressed, 0);
    assert_int_equal(st.stored_bytes, st.text_bytes);
    tg_cache_free(c);
}

/* A dictionary that cannot be trained (capacity below zstd's minimum) is not an error. */
static void failed_training_keeps_texts_raw(void **state)
{
    struct events ev;
    struct tg_cache *c = new_text_cache(16, 100, &ev);
    struct tg_cache_stats st;

    (void)state;
    for (int i = 0; i < 300; i++)
        assert_int_equal(put(c, rollout(i, 1)), TG_CACHE_ADDED);
    for (int i = 0; i < 300; i += 3)
        assert_int_equal(put(c, rollout(i, 2)), TG_CACHE_UPDATED);
    tg_cache_stats(c, &st);
    assert_int_equal(st.objects, 300);
    assert_int_equal(st.trainings, 0);
    assert_int_equal(st.compressed, 0);
    assert_int_equal(st.stored_bytes, st.text_bytes);
    assert_int_equal(ev.n, 400);
    for (int i = 0; i < 300; i++)
        assert_cached_rollout(c, i, i % 3 ? 1 : 2);
    tg_cache_free(c);
}

/* A relist over compressed objects: unchanged, changed, gone, new, in one replace. */
static void relist_over_compressed_objects(void **state)
{
    struct events ev;
    struct tg_cache *c = new_text_cache(8, 0, &ev);
    struct tg_cache_stats st;
    size_t deleted;

    (void)state;
    for (int i = 0; i < 100; i++)
        put(c, rollout(i, 1));
    tg_cache_stats(c, &st);
    assert_int_equal(st.compressed, 100);
    ev.n = 0;
    assert_int_equal(tg_cache_replace_begin(c), 0);
    for (int i = 50; i < 150; i++) {
        struct json_object *o = rollout(i, i < 75 ? 1 : 2);
        assert_int_equal(tg_cache_replace_item(c, o), 0);
        json_object_put(o);
    }
    assert_int_equal(tg_cache_replace_end(c, &deleted), 0);
    assert_int_equal(deleted, 50);
    assert_int_equal(ev.n, 25 + 50 + 50); /* updated, added, deleted */
    for (int i = 50; i < 150; i++)
        assert_cached_rollout(c, i, i < 75 ? 1 : 2);
    tg_cache_stats(c, &st);
    assert_int_equal(st.objects, 100);
    assert_int_equal(st.compressed, 100);
    tg_cache_free(c);
}

/* Updates and deletes leave dead blocks behind; compaction moves the live ones, indexes too. */
static void memory_is_compacted_after_churn(void **state)
{
    enum { N = 3000 };
    struct tg_cache *c = new_text_cache(64, 0, NULL);
    struct tg_cache_stats st;

    (void)state;
    for (int i = 0; i < N; i++)
        put(c, rollout(i, 1));
    for (int v = 2; v <= 6; v++) {
        for (int i = 0; i < N; i++)
            put(c, rollout(i, v));
    }
    tg_cache_stats(c, &st);
    assert_true(st.compactions >= 1);
    assert_int_equal(st.compressed, N);
    size_t before = st.compactions;
    for (int i = 0; i < N; i++)
        assert_cached_rollout(c, i, 6);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_LABEL, "a=b=c"), 2 * (N / 5));
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_OWNER, "owner-1"), N / 3);
    for (int i = 0; i < N; i++) {
        if (i % 10 == 0)
            continue;
        struct json_object *o = rollout(i, 7);
        assert_int_equal(tg_cache_delete(c, o, NULL), 0);
        json_object_put(o);
    }
    tg_cache_stats(c, &st);
    assert_true(st.compactions > before);
    assert_int_equal(st.objects, N / 10);
    for (int i = 0; i < N; i += 10)
        assert_cached_rollout(c, i, 6);
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_LABEL, "a=b=c"), 2 * (N / 10));
    assert_int_equal(tg_cache_count(c, TG_CACHE_BY_LABEL, "team=checkout"), N / 10);
    tg_cache_free(c);
}

#define BOTH(fn)                                                                                   \
    {#fn "/text", fn, NULL, NULL, (void *)&text_mode},                                             \
    {                                                                                              \
#fn "/tree", fn, NULL, NULL, (void *)&tree_mode                                            \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(add_update_delete_with_events),
        BOTH(cluster_scoped_keys_are_the_name),
        BOTH(stale_and_duplicate_updates_are_ignored),
        cmocka_unit_test(rv_compare_table),
        BOTH(default_strip_drops_managed_fields_and_last_applied),
        BOTH(strip_hook_is_configurable),
        BOTH(indexes_follow_changes),
        BOTH(relist_reports_vanished_objects_as_deletes),
        BOTH(borrowed_pointers_live_until_mutation_or_release),
        BOTH(handlers_cannot_mutate),
        BOTH(handlers_may_read_during_a_relist),
        BOTH(each_stops_when_asked),
        BOTH(objects_without_a_name_are_refused),
        BOTH(deep_and_unicode_objects_round_trip),
        BOTH(list_gives_an_array_of_borrowed_objects),
        BOTH(many_objects_stay_consistent),
        cmocka_unit_test(compression_round_trips_through_updates_and_deletes),
        cmocka_unit_test(incompressible_objects_stay_raw),
        cmocka_unit_test(small_caches_stay_uncompressed),
        cmocka_unit_test(failed_training_keeps_texts_raw),
        cmocka_unit_test(relist_over_compressed_objects),
        cmocka_unit_test(memory_is_compacted_after_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
