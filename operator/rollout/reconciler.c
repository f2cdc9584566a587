/* The Rollout reconciler: observe, plan, apply; see reconciler.h. */
#include "rollout/reconciler.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/client.h"
#include "rollout/plan.h"
#include "rollout/spec.h"
#include "util/error.h"
#include "util/log.h"

#define KEY_MAX 512

static const struct tg_resource res_rollouts = {"tollgate.io", "v1alpha1", "rollouts", true};
static const struct tg_resource res_releases = {"tollgate.io", "v1alpha1", "releases", true};
static const struct tg_resource res_deployments = {"apps", "v1", "deployments", true};
static const struct tg_resource res_services = {"", "v1", "services", true};
static const struct tg_resource res_ingresses = {"networking.k8s.io", "v1", "ingresses", true};
static const struct tg_resource res_httproutes = {"gateway.networking.k8s.io", "v1", "httproutes",
                                                  true};

/*
 * Which Releases name which Rollout: "ns/rollout" -> the cache keys of its Releases. Kept from
 * the Release cache's events, so a reconcile reads its own Releases, not every Release of the
 * namespace (with 1,000 Rollouts in a namespace that was 1,000 parses per reconcile).
 */
struct rel_entry {
    struct rel_entry *next;
    char *rollout_key;
    char **keys;
    size_t n;
    size_t cap;
};

#define REL_BUCKETS 1024

struct tg_rollout_reconciler {
    struct tg_manager *manager;
    struct tg_rollout_caches caches;
    struct tg_rollout_stats stats;
    struct rel_entry *by_rollout[REL_BUCKETS];
};

static size_t rel_hash(const char *s)
{
    size_t h = 1469598103934665603u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h % REL_BUCKETS;
}

static struct rel_entry *rel_find(struct tg_rollout_reconciler *r, const char *rollout_key,
                                  bool create)
{
    struct rel_entry **head = &r->by_rollout[rel_hash(rollout_key)];

    for (struct rel_entry *e = *head; e; e = e->next)
        if (strcmp(e->rollout_key, rollout_key) == 0)
            return e;
    if (!create)
        return NULL;
    struct rel_entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->rollout_key = strdup(rollout_key))) {
        free(e);
        return NULL;
    }
    e->next = *head;
    *head = e;
    return e;
}

static void rel_remove(struct tg_rollout_reconciler *r, const char *rollout_key, const char *key)
{
    struct rel_entry *e = rel_find(r, rollout_key, false);

    for (size_t i = 0; e && i < e->n; i++) {
        if (strcmp(e->keys[i], key) == 0) {
            free(e->keys[i]);
            e->keys[i] = e->keys[--e->n];
            return;
        }
    }
}

static void rel_add(struct tg_rollout_reconciler *r, const char *rollout_key, const char *key)
{
    struct rel_entry *e = rel_find(r, rollout_key, true);

    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->keys[i], key) == 0)
            return;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4;
        char **keys = realloc(e->keys, cap * sizeof(*keys));
        if (!keys)
            return;
        e->keys = keys;
        e->cap = cap;
    }
    if ((e->keys[e->n] = strdup(key)))
        e->n++;
}

/* A growable list of object references (json_object_get'd), for the planner's input. */
struct objects {
    json_object **items;
    size_t len;
    size_t cap;
};

static int objects_add(struct objects *o, json_object *obj)
{
    if (!obj)
        return 0;
    for (size_t i = 0; i < o->len; i++)
        if (o->items[i] == obj)
            return 0;
    if (o->len == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        json_object **p = realloc(o->items, cap * sizeof(*p));
        if (!p)
            return tg_error_set(TG_ENOMEM, "out of memory gathering objects");
        o->items = p;
        o->cap = cap;
    }
    o->items[o->len++] = json_object_get(obj);
    return 0;
}

static void objects_free(struct objects *o)
{
    for (size_t i = 0; i < o->len; i++)
        json_object_put(o->items[i]);
    free(o->items);
    memset(o, 0, sizeof(*o));
}

/* One reconcile from observation to the last applied action. */
struct run {
    struct tg_rollout_reconciler *r;
    char ns[128];
    char name[256];
    void (*done)(void *arg, const struct tg_reconcile_result *result);
    void *done_arg;
    struct tg_plan *plan;
    size_t next; /* the next action to apply */
};

static const char *jstr(json_object *o, const char *a, const char *b)
{
    json_object *v = json_object_object_get(o, a);

    if (b)
        v = json_object_object_get(v, b);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static json_object *cached(struct tg_cache *cache, const char *ns, const char *name)
{
    char key[KEY_MAX];

    if (!cache || !name || !*name)
        return NULL;
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    return tg_cache_get(cache, key);
}

static int add_named(struct objects *o, struct tg_cache *cache, const char *ns, const char *name,
                     const char *suffix)
{
    char full[KEY_MAX];

    if (!name)
        return 0;
    snprintf(full, sizeof(full), "%s%s", name, suffix ? suffix : "");
    return objects_add(o, cached(cache, ns, full));
}

static int add_visit(void *ctx, const char *key, json_object *obj)
{
    (void)key;
    return objects_add(ctx, obj);
}

/* The objects the planner may read: what the Rollout owns, and what bears the names it uses. */
static int gather_objects(struct tg_rollout_reconciler *r, json_object *rollout,
                          const struct tg_rollout_spec *spec, const char *ns, struct objects *o)
{
    const struct tg_rollout_caches *c = &r->caches;
    const char *uid = jstr(rollout, "metadata", "uid");
    const char *name = jstr(rollout, "metadata", "name");
    static const char *const tracks[] = {"-stable", "-canary", "-baseline", "-blue", "-green"};
    int rc = 0;

    if (uid) {
        rc = tg_cache_each(c->deployments, TG_CACHE_BY_OWNER, uid, add_visit, o);
        if (!rc)
            rc = tg_cache_each(c->services, TG_CACHE_BY_OWNER, uid, add_visit, o);
        if (!rc)
            rc = tg_cache_each(c->ingresses, TG_CACHE_BY_OWNER, uid, add_visit, o);
    }
    for (size_t i = 0; i < sizeof(tracks) / sizeof(tracks[0]) && !rc; i++)
        rc = add_named(o, c->deployments, ns, name, tracks[i]);
    if (rc || !spec)
        return rc;
    if (spec->workload_ref)
        rc = add_named(o, c->deployments, ns, spec->workload_ref->name, NULL);
    if (!rc)
        rc = add_named(o, c->services, ns, spec->service.name, NULL);
    if (!rc)
        rc = add_named(o, c->services, ns, spec->service.name, "-stable");
    if (!rc)
        rc = add_named(o, c->services, ns, spec->service.name, "-canary");
    if (!rc && spec->strategy == TG_STRATEGY_BLUE_GREEN) {
        rc = add_named(o, c->services, ns, spec->blue_green.preview_service, NULL);
        if (!rc)
            rc = add_named(o, c->services, ns, spec->blue_green.active_service, NULL);
    }
    if (!rc && spec->strategy == TG_STRATEGY_CANARY) {
        const struct tg_traffic_routing *tr = &spec->canary.routing;
        if (tr->kind == TG_ROUTING_NGINX) {
            rc = add_named(o, c->ingresses, ns, tr->ingress, NULL);
            if (!rc)
                rc = add_named(o, c->ingresses, ns, tr->ingress, "-canary");
        } else if (tr->kind == TG_ROUTING_GATEWAY_API) {
            rc = add_named(o, c->httproutes, tr->route_namespace ? tr->route_namespace : ns,
                           tr->http_route, NULL);
        }
    }
    return rc;
}

/* The Releases of one namespace that name a Rollout, with their parsed specs. */
struct releases {
    const char *rollout;
    struct tg_plan_release *items;
    struct tg_release_spec **specs;
    struct tg_field_errors *errors;
    size_t len;
    size_t cap;
    int rc;
};

static int release_visit(void *ctx, const char *key, json_object *obj)
{
    struct releases *rs = ctx;

    (void)key;
    if (!streq(jstr(obj, "spec", "rollout"), rs->rollout))
        return 0;
    if (rs->len == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 8;
        struct tg_plan_release *items = realloc(rs->items, cap * sizeof(*items));
        if (items)
            rs->items = items;
        struct tg_release_spec **specs = realloc(rs->specs, cap * sizeof(*specs));
        if (specs)
            rs->specs = specs;
        struct tg_field_errors *errors = realloc(rs->errors, cap * sizeof(*errors));
        if (errors)
            rs->errors = errors;
        if (!items || !specs || !errors)
            return tg_error_set(TG_ENOMEM, "out of memory gathering releases");
        rs->cap = cap;
    }
    size_t i = rs->len++;
    memset(&rs->errors[i], 0, sizeof(rs->errors[i]));
    rs->specs[i] = NULL;
    int rc = tg_release_spec_parse(obj, &rs->specs[i], &rs->errors[i]);
    if (rc == TG_ENOMEM)
        return rc;
    rs->items[i] = (struct tg_plan_release){json_object_get(obj), rs->specs[i], &rs->errors[i]};
    return 0;
}

static void releases_free(struct releases *rs)
{
    for (size_t i = 0; i < rs->len; i++) {
        json_object_put(rs->items[i].obj);
        tg_release_spec_free(rs->specs[i]);
        tg_field_errors_free(&rs->errors[i]);
    }
    free(rs->items);
    free(rs->specs);
    free(rs->errors);
}

/* ---- apply ---------------------------------------------------------------------------------- */

static const struct tg_resource *resource_for(const char *api_version, const char *kind)
{
    if (streq(kind, "Deployment"))
        return &res_deployments;
    if (streq(kind, "Service"))
        return &res_services;
    if (streq(kind, "Ingress"))
        return &res_ingresses;
    if (streq(kind, "HTTPRoute"))
        return &res_httproutes;
    if (streq(kind, "Rollout"))
        return &res_rollouts;
    if (streq(kind, "Release"))
        return &res_releases;
    (void)api_version;
    return NULL;
}

static enum tg_patch_type client_patch_type(enum tg_plan_patch_type t)
{
    switch (t) {
    case TG_PLAN_PATCH_STRATEGIC:
        return TG_PATCH_STRATEGIC;
    case TG_PLAN_PATCH_JSON:
        return TG_PATCH_JSON;
    case TG_PLAN_PATCH_MERGE:
        break;
    }
    return TG_PATCH_MERGE;
}

static void finish(struct run *run, struct tg_reconcile_result result)
{
    tg_plan_free(run->plan);
    run->done(run->done_arg, &result);
    free(run);
}

static void apply_next(struct run *run);

static void on_applied(const struct tg_client_result *res, void *arg)
{
    struct run *run = arg;
    const struct tg_action *a = &run->plan->actions[run->next - 1];

    if (res->rc) {
        if (res->rc != TG_ECANCELED) {
            run->r->stats.failures++;
            tg_log(TG_LOG_WARN, "applying an action failed", "rollout", run->name, "namespace",
                   run->ns, "kind", a->object_kind, "name", a->name, "error",
                   tg_error_name(res->rc), "message", res->message);
        }
        finish(run, tg_reconcile_err(res->rc));
        return;
    }
    apply_next(run);
}

/* Records an Event about the object an EVENT action names. */
static void apply_event(struct run *run, const struct tg_action *a)
{
    json_object *obj = json_object_new_object();
    json_object *meta = json_object_new_object();

    json_object_object_add(obj, "apiVersion", json_object_new_string(a->api_version));
    json_object_object_add(obj, "kind", json_object_new_string(a->object_kind));
    json_object_object_add(meta, "name", json_object_new_string(a->name));
    json_object_object_add(meta, "namespace",
                           json_object_new_string(a->namespace ? a->namespace : run->ns));
    if (a->uid)
        json_object_object_add(meta, "uid", json_object_new_string(a->uid));
    json_object_object_add(obj, "metadata", meta);
    tg_manager_event(run->r->manager, obj, a->warning ? TG_EVENT_WARNING : TG_EVENT_NORMAL,
                     a->reason, a->message);
    json_object_put(obj);
}

static void apply_next(struct run *run)
{
    struct tg_client *client = tg_manager_client(run->r->manager);

    while (run->next < run->plan->n_actions) {
        const struct tg_action *a = &run->plan->actions[run->next++];
        const struct tg_resource *res = resource_for(a->api_version, a->object_kind);
        const char *ns = a->namespace ? a->namespace : run->ns;
        int rc;

        run->r->stats.actions++;
        if (a->kind == TG_ACTION_EVENT) {
            apply_event(run, a);
            continue;
        }
        if (!res) {
            tg_log(TG_LOG_ERROR, "the plan names a kind the reconciler cannot write", "kind",
                   a->object_kind);
            finish(run, tg_reconcile_terminal(TG_EINVALID));
            return;
        }
        tg_log(TG_LOG_DEBUG, "applying", "rollout", run->name, "kind", a->object_kind, "name",
               a->name);
        switch (a->kind) {
        case TG_ACTION_CREATE:
            rc = tg_client_create(client, res, ns, a->body, on_applied, run, NULL);
            break;
        case TG_ACTION_PATCH:
            rc = tg_client_patch(client, res, ns, a->name, a->subresource,
                                 client_patch_type(a->patch_type), a->body, NULL, on_applied, run,
                                 NULL);
            break;
        case TG_ACTION_PATCH_STATUS:
            rc = tg_client_patch(client, res, ns, a->name, "status", TG_PATCH_MERGE, a->body, NULL,
                                 on_applied, run, NULL);
            break;
        case TG_ACTION_DELETE:
            rc = tg_client_delete(client, res, ns, a->name, "Background", on_applied, run, NULL);
            break;
        default:
            rc = TG_EINVALID;
            break;
        }
        if (rc)
            finish(run, tg_reconcile_err(rc));
        return;
    }
    if (run->plan->requeue_after_ms > 0)
        finish(run, tg_reconcile_after((uint64_t)run->plan->requeue_after_ms));
    else
        finish(run, tg_reconcile_ok());
}

/* ---- observe and plan ----------------------------------------------------------------------- */

/* The Releases naming the run's Rollout, from the index. */
static int gather_releases(struct tg_rollout_reconciler *r, struct run *run, struct releases *rels)
{
    char key[KEY_MAX];
    struct rel_entry *e;

    snprintf(key, sizeof(key), "%s/%s", run->ns, run->name);
    e = rel_find(r, key, false);
    for (size_t i = 0; e && i < e->n; i++) {
        json_object *obj = tg_cache_get(r->caches.releases, e->keys[i]);
        int rc = obj ? release_visit(rels, e->keys[i], obj) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

/* The Rollout is missing: plans and applies the status of the Releases that name it. */
static void plan_orphans(struct run *run)
{
    struct releases rels = {0};
    struct tg_plan_input in = {0};
    json_object *standin = json_object_new_object();
    json_object *meta = json_object_new_object();
    int rc;

    json_object_object_add(meta, "name", json_object_new_string(run->name));
    json_object_object_add(meta, "namespace", json_object_new_string(run->ns));
    json_object_object_add(standin, "metadata", meta);
    rels.rollout = run->name;
    rc = gather_releases(run->r, run, &rels);
    if (!rc && rels.len) {
        in.rollout = standin;
        in.releases = rels.items;
        in.n_releases = rels.len;
        in.now_ms = tg_clock_wall_ms(tg_manager_clock(run->r->manager));
        rc = tg_plan_orphans(&in, &run->plan);
    }
    releases_free(&rels);
    json_object_put(standin);
    if (rc || !run->plan) {
        finish(run, rc ? tg_reconcile_err(rc) : tg_reconcile_ok());
        return;
    }
    apply_next(run);
}

static void start(void *ctx, const char *key,
                  void (*done)(void *arg, const struct tg_reconcile_result *r), void *done_arg)
{
    struct tg_rollout_reconciler *r = ctx;
    struct tg_rollout_spec *spec = NULL;
    struct tg_field_errors errs = {0};
    struct objects objs = {0};
    struct releases rels = {0};
    struct tg_plan_input in = {0};
    json_object *rollout;
    struct run *run;
    const char *slash = strchr(key, '/');
    int rc;

    r->stats.reconciles++;
    rollout = tg_cache_get(r->caches.rollouts, key);
    if (!slash) {
        struct tg_reconcile_result ok = {0};
        done(done_arg, &ok);
        return;
    }
    if (!(run = calloc(1, sizeof(*run)))) {
        struct tg_reconcile_result err = tg_reconcile_err(TG_ENOMEM);
        done(done_arg, &err);
        return;
    }
    run->r = r;
    run->done = done;
    run->done_arg = done_arg;
    snprintf(run->ns, sizeof(run->ns), "%.*s", (int)(slash - key), key);
    snprintf(run->name, sizeof(run->name), "%s", slash + 1);

    if (!rollout) {
        /* Deleted, or never made: its children go with it (ownerReferences); Releases that
         * name it are told they wait for it. */
        plan_orphans(run);
        return;
    }
    rc = tg_rollout_spec_parse(rollout, &spec, &errs);
    if (rc == TG_ENOMEM)
        goto fail;
    rels.rollout = run->name;
    rc = gather_releases(r, run, &rels);
    if (!rc)
        rc = gather_objects(r, rollout, spec, run->ns, &objs);
    if (rc)
        goto fail;
    in.rollout = rollout;
    in.spec = spec;
    in.errors = &errs;
    in.releases = rels.items;
    in.n_releases = rels.len;
    in.objects = objs.items;
    in.n_objects = objs.len;
    in.now_ms = tg_clock_wall_ms(tg_manager_clock(r->manager));
    rc = tg_plan_build(&in, &run->plan);
    if (rc)
        goto fail;
    if (run->plan->n_actions == 0)
        r->stats.converged++;
    objects_free(&objs);
    releases_free(&rels);
    tg_rollout_spec_free(spec);
    tg_field_errors_free(&errs);
    apply_next(run);
    return;

fail:
    tg_log(TG_LOG_ERROR, "cannot plan the rollout", "rollout", run->name, "namespace", run->ns,
           "error", tg_error_name(rc), "message", tg_error_last());
    objects_free(&objs);
    releases_free(&rels);
    tg_rollout_spec_free(spec);
    tg_field_errors_free(&errs);
    finish(run, tg_reconcile_err(rc));
}

/* ---- watches -------------------------------------------------------------------------------- */

static void enqueue(struct tg_controller *c, const char *ns, const char *name)
{
    char key[KEY_MAX];

    if (!ns || !name)
        return;
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    tg_controller_enqueue(c, key);
}

/* A Release enqueues the Rollout it names. */
static void map_release(void *ctx, json_object *obj, struct tg_controller *c)
{
    (void)ctx;
    enqueue(c, jstr(obj, "metadata", "namespace"), jstr(obj, "spec", "rollout"));
}

/* Keeps the Release index: which Rollout each Release names (spec.rollout may not change once
 * the Release started, but an unstarted one may be edited, so old and new both count). */
static void index_release(void *ctx, enum tg_cache_op op, const char *key, json_object *old_obj,
                          json_object *new_obj)
{
    struct tg_rollout_reconciler *r = ctx;
    char rk[KEY_MAX];

    if (op == TG_CACHE_NONE)
        return;
    if (old_obj && jstr(old_obj, "spec", "rollout")) {
        snprintf(rk, sizeof(rk), "%s/%s", jstr(old_obj, "metadata", "namespace"),
                 jstr(old_obj, "spec", "rollout"));
        rel_remove(r, rk, key);
    }
    if (op != TG_CACHE_DELETED && new_obj && jstr(new_obj, "spec", "rollout")) {
        snprintf(rk, sizeof(rk), "%s/%s", jstr(new_obj, "metadata", "namespace"),
                 jstr(new_obj, "spec", "rollout"));
        rel_add(r, rk, key);
    }
}

/* Whether a Rollout's spec names obj (a user's Ingress or HTTPRoute, or an adopted Deployment). */
static bool names(json_object *rollout, const char *kind, const char *name)
{
    json_object *spec = json_object_object_get(rollout, "spec");
    json_object *canary =
        json_object_object_get(json_object_object_get(spec, "strategy"), "canary");
    json_object *tr = json_object_object_get(canary, "trafficRouting");

    if (streq(kind, "Deployment"))
        return streq(jstr(spec, "workloadRef", "name"), name);
    if (streq(kind, "Ingress"))
        return streq(jstr(tr, "nginx", "ingress"), name);
    if (streq(kind, "HTTPRoute"))
        return streq(jstr(tr, "gatewayAPI", "httpRoute"), name);
    return false;
}

struct referencing {
    struct tg_controller *c;
    const char *kind;
    const char *name;
};

static int referencing_visit(void *ctx, const char *key, json_object *rollout)
{
    struct referencing *ref = ctx;

    if (names(rollout, ref->kind, ref->name))
        tg_controller_enqueue(ref->c, key);
    return 0;
}

/* An object a Rollout references by name (not owned) enqueues the Rollouts that name it. */
static void map_referenced(void *ctx, json_object *obj, struct tg_controller *c)
{
    struct tg_rollout_reconciler *r = ctx;
    struct referencing ref = {c, jstr(obj, "kind", NULL), jstr(obj, "metadata", "name")};
    const char *ns = jstr(obj, "metadata", "namespace");

    /* What we made is owned and reaches its Rollout through the ownerReference. */
    if (!ns || !ref.kind || !ref.name ||
        streq(
            jstr(json_object_object_get(obj, "metadata"), "labels", "app.kubernetes.io/managed-by"),
            "tollgate"))
        return;
    tg_cache_each(r->caches.rollouts, TG_CACHE_BY_NAMESPACE, ns, referencing_visit, &ref);
}

int tg_rollout_reconciler_watch(struct tg_rollout_reconciler *r, struct tg_controller *c)
{
    struct tg_cache *owned[] = {r->caches.deployments, r->caches.services, r->caches.ingresses};
    int rc = tg_controller_watch(c, r->caches.rollouts);

    if (!rc)
        rc = tg_cache_add_handler(r->caches.releases, index_release, r);
    if (!rc)
        rc = tg_controller_watch_mapped(c, r->caches.releases, map_release, r);
    for (size_t i = 0; i < 3 && !rc; i++)
        rc = tg_controller_watch_owned(c, owned[i], "tollgate.io", "Rollout");
    if (!rc)
        rc = tg_controller_watch_mapped(c, r->caches.deployments, map_referenced, r);
    if (!rc)
        rc = tg_controller_watch_mapped(c, r->caches.ingresses, map_referenced, r);
    if (!rc && r->caches.httproutes)
        rc = tg_controller_watch_mapped(c, r->caches.httproutes, map_referenced, r);
    return rc;
}

int tg_rollout_reconciler_new(struct tg_manager *manager, const struct tg_rollout_caches *caches,
                              struct tg_rollout_reconciler **out)
{
    struct tg_rollout_reconciler *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (!r)
        return tg_error_set(TG_ENOMEM, "out of memory");
    r->manager = manager;
    r->caches = *caches;
    *out = r;
    return 0;
}

void tg_rollout_reconciler_free(struct tg_rollout_reconciler *r)
{
    if (!r)
        return;
    for (size_t b = 0; b < REL_BUCKETS; b++) {
        struct rel_entry *e = r->by_rollout[b];
        while (e) {
            struct rel_entry *next = e->next;
            for (size_t i = 0; i < e->n; i++)
                free(e->keys[i]);
            free(e->keys);
            free(e->rollout_key);
            free(e);
            e = next;
        }
    }
    free(r);
}

struct tg_reconciler tg_rollout_reconciler_as(struct tg_rollout_reconciler *r)
{
    return (struct tg_reconciler){"rollout", r, start};
}

void tg_rollout_reconciler_stats(const struct tg_rollout_reconciler *r,
                                 struct tg_rollout_stats *out)
{
    *out = r->stats;
}
