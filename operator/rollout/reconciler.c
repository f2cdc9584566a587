/* The Rollout reconciler: observe, plan, apply; see reconciler.h. */
#include "rollout/reconciler.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checker.h"
#include "kube/client.h"
#include "rollout/plan.h"
#include "rollout/spec.h"
#include "util/error.h"
#include "util/log.h"
#include "verify/crypto.h"
#include "verify/registry.h"
#include "verify/verifier.h"

#define KEY_MAX 512

static const struct tg_resource res_rollouts = {"tollgate.io", "v1alpha1", "rollouts", true};
static const struct tg_resource res_releases = {"tollgate.io", "v1alpha1", "releases", true};
static const struct tg_resource res_deployments = {"apps", "v1", "deployments", true};
static const struct tg_resource res_services = {"", "v1", "services", true};
static const struct tg_resource res_ingresses = {"networking.k8s.io", "v1", "ingresses", true};
static const struct tg_resource res_httproutes = {"gateway.networking.k8s.io", "v1", "httproutes",
                                                  true};
static const struct tg_resource res_jobs = {"batch", "v1", "jobs", true};
static const struct tg_resource res_secrets = {"", "v1", "secrets", true};
static const struct tg_resource res_configmaps = {"", "v1", "configmaps", true};

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
    struct tg_checker *checker;   /* runs the plans' gates; borrowed */
    struct tg_verifier *verifier; /* runs the verification gates; borrowed */
    bool unmatched_deny;          /* --verify-unmatched deny */
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

struct run;
struct verify_job;

/* One gate of a plan being run, and what came of it. */
struct gate_slot {
    struct run *run;
    struct tg_gate_result res;
    struct tg_prom_result answer;
    struct tg_prom_result baseline;
    char *message;
    int waiting; /* callbacks still to come */
    const struct tg_gate *gate;
};

/* One reconcile from observation to the last applied action. */
struct run {
    struct tg_rollout_reconciler *r;
    char ns[128];
    char name[256];
    void (*done)(void *arg, const struct tg_reconcile_result *result);
    void *done_arg;
    struct tg_plan *plan;
    size_t next; /* the next action to apply */
    /* Gates: the first plan's gates are run, then the Rollout is planned again with them. */
    struct tg_plan *gated; /* the plan whose gates are being run */
    struct gate_slot *slots;
    size_t n_slots;
    size_t pending;
    bool canceled;
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
        if (!rc && c->jobs)
            rc = tg_cache_each(c->jobs, TG_CACHE_BY_OWNER, uid, add_visit, o);
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
    json_object **policies;
    size_t len;
    size_t cap;
    int rc;
    struct objects *vpols; /* the VerificationPolicies, or NULL */
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
        json_object **pols = realloc(rs->policies, cap * sizeof(*pols));
        if (pols)
            rs->policies = pols;
        if (!items || !specs || !errors || !pols)
            return tg_error_set(TG_ENOMEM, "out of memory gathering releases");
        rs->cap = cap;
    }
    size_t i = rs->len++;
    memset(&rs->errors[i], 0, sizeof(rs->errors[i]));
    rs->specs[i] = NULL;
    rs->policies[i] = NULL;
    rs->items[i] = (struct tg_plan_release){json_object_get(obj), NULL, &rs->errors[i], NULL};
    int rc = tg_release_spec_parse(obj, &rs->specs[i], &rs->errors[i]);
    if (rc == TG_ENOMEM)
        return rc;
    rs->items[i].spec = rs->specs[i];
    if (rs->specs[i]) {
        rc = tg_plan_release_policies(rs->vpols ? rs->vpols->items : NULL,
                                      rs->vpols ? rs->vpols->len : 0, obj, rs->specs[i],
                                      &rs->policies[i]);
        if (rc)
            return rc;
        rs->items[i].policies = rs->policies[i];
    }
    return 0;
}

static void releases_free(struct releases *rs)
{
    for (size_t i = 0; i < rs->len; i++) {
        json_object_put(rs->items[i].obj);
        tg_release_spec_free(rs->specs[i]);
        tg_field_errors_free(&rs->errors[i]);
        json_object_put(rs->policies[i]);
    }
    free(rs->policies);
    free(rs->items);
    free(rs->specs);
    free(rs->errors);
}

/* ---- our own writes, seen at once --------------------------------------------------------------
 *
 * A watch event arrives some milliseconds after the response of the write that caused it. A
 * reconcile that ran in between would plan from the object as it was before our own write:
 * decide again what it had just decided (a promote acted on twice, a finished Release taken for
 * a rollback, measurements taken twice). So every successful write's response, which is the
 * object as the server now holds it, goes into the cache at once (client-go's mutation cache has
 * the same idea). The watch event that follows carries the same resourceVersion, and the cache
 * ignores it as a duplicate; an event older than our write is ignored as stale, and it can hide
 * nothing, since the server applied our write on top of it.
 */

/* The cache that holds objects of res, or NULL when none does. */
static struct tg_cache *cache_for(struct tg_rollout_reconciler *r, const struct tg_resource *res)
{
    const struct {
        const struct tg_resource *res;
        struct tg_cache *cache;
    } map[] = {
        {&res_rollouts, r->caches.rollouts},
        {&res_releases, r->caches.releases},
        {&res_deployments, r->caches.deployments},
        {&res_services, r->caches.services},
        {&res_ingresses, r->caches.ingresses},
        {&res_httproutes, r->caches.httproutes},
        {&res_jobs, r->caches.jobs},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].res == res)
            return map[i].cache;
    return NULL;
}

/*
 * Puts what a successful write of res returned into its cache: the object after a create or a
 * patch; after a delete, the object while finalizers hold it, else its removal. A response that
 * is not the object (a Status) changes nothing but a delete's removal.
 */
static void observe_write(struct tg_rollout_reconciler *r, const struct tg_resource *res,
                          enum tg_action_kind kind, const char *ns, const char *name,
                          json_object *body)
{
    struct tg_cache *cache = cache_for(r, res);
    bool is_object = body && json_object_is_type(body, json_type_object) &&
                     !streq(jstr(body, "kind", NULL), "Status") &&
                     streq(jstr(body, "metadata", "name"), name);
    int rc = 0;

    if (!cache)
        return;
    if (kind == TG_ACTION_DELETE && !(is_object && jstr(body, "metadata", "deletionTimestamp"))) {
        json_object *gone = json_object_new_object();
        json_object *meta = json_object_new_object();
        json_object_object_add(meta, "name", json_object_new_string(name));
        json_object_object_add(meta, "namespace", json_object_new_string(ns));
        json_object_object_add(gone, "metadata", meta);
        rc = tg_cache_delete(cache, gone, NULL);
        json_object_put(gone);
    } else if (is_object) {
        /* The cache strips what it keeps in place: work on our own reference. */
        rc = tg_cache_upsert(cache, json_object_get(body), NULL);
        json_object_put(body);
    }
    if (rc)
        tg_log(TG_LOG_DEBUG, "cannot put our own write in the cache", "name", name, "error",
               tg_error_name(rc));
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
    if (streq(kind, "Job"))
        return &res_jobs;
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

static void slots_free(struct run *run)
{
    for (size_t i = 0; i < run->n_slots; i++) {
        tg_prom_result_free(&run->slots[i].answer);
        tg_prom_result_free(&run->slots[i].baseline);
        free(run->slots[i].message);
        json_object_put(run->slots[i].res.verification);
    }
    free(run->slots);
    run->slots = NULL;
    run->n_slots = 0;
    tg_plan_free(run->gated);
    run->gated = NULL;
}

static void finish(struct run *run, struct tg_reconcile_result result)
{
    slots_free(run);
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
    observe_write(run->r, resource_for(a->api_version, a->object_kind), a->kind,
                  a->namespace ? a->namespace : run->ns, a->name, res->body);
    apply_next(run);
}

/* Records an Event about the object an EVENT action names. */
static void apply_event(struct run *run, const struct tg_action *a)
{
    if (a->warning && streq(a->reason, "AnalysisFailed"))
        run->r->stats.rollbacks_analysis++;
    else if (a->warning && streq(a->reason, "AnalysisError"))
        run->r->stats.rollbacks_error++;
    else if (a->warning && streq(a->reason, "SmokeTestFailed"))
        run->r->stats.rollbacks_smoke++;
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
    if (run->plan->n_gates > 0)
        /* Gates became due after this plan's measurements: run them next. */
        finish(run, tg_reconcile_after(1));
    else if (run->plan->requeue_after_ms > 0)
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

/*
 * Observes and plans the run's Rollout, with the results of gates run for an earlier plan of
 * this reconcile (none on the first pass). Returns 0 with run->plan set, 1 when the Rollout is
 * gone (orphans planned and being applied: the run is no longer the caller's), or an error.
 */
static int observe_and_plan(struct run *run, const struct tg_gate_result *results, size_t n)
{
    struct tg_rollout_reconciler *r = run->r;
    struct tg_rollout_spec *spec = NULL;
    struct tg_field_errors errs = {0};
    struct objects objs = {0};
    struct releases rels = {0};
    struct objects vpols = {0};
    struct tg_plan_input in = {0};
    char key[KEY_MAX];
    int rc;

    snprintf(key, sizeof(key), "%s/%s", run->ns, run->name);
    json_object *rollout = tg_cache_get(r->caches.rollouts, key);
    if (!rollout) {
        /* Deleted, or never made: its children go with it (ownerReferences); Releases that
         * name it are told they wait for it. */
        plan_orphans(run);
        return 1;
    }
    rc = tg_rollout_spec_parse(rollout, &spec, &errs);
    if (rc == TG_ENOMEM)
        goto out;
    rels.rollout = run->name;
    rels.vpols = &vpols;
    rc = r->caches.vpolicies
             ? tg_cache_each(r->caches.vpolicies, TG_CACHE_ALL, NULL, add_visit, &vpols)
             : 0;
    if (!rc)
        rc = gather_releases(r, run, &rels);
    if (!rc)
        rc = gather_objects(r, rollout, spec, run->ns, &objs);
    if (rc)
        goto out;
    in.rollout = rollout;
    in.spec = spec;
    in.errors = &errs;
    in.releases = rels.items;
    in.n_releases = rels.len;
    in.objects = objs.items;
    in.n_objects = objs.len;
    in.now_ms = tg_clock_wall_ms(tg_manager_clock(r->manager));
    in.gateway_api_unserved =
        !r->caches.httproutes ||
        (r->caches.httproutes_source && !tg_reflector_served(r->caches.httproutes_source));
    in.results = results;
    in.n_results = n;
    in.verify_unmatched_deny = r->unmatched_deny;
    rc = tg_plan_build(&in, &run->plan);
out:
    if (rc)
        tg_log(TG_LOG_ERROR, "cannot plan the rollout", "rollout", run->name, "namespace", run->ns,
               "error", tg_error_name(rc), "message", tg_error_last());
    objects_free(&objs);
    releases_free(&rels);
    objects_free(&vpols);
    tg_rollout_spec_free(spec);
    tg_field_errors_free(&errs);
    return rc;
}

/* Every gate has its result: plan again with them, and apply that plan. */
static void gates_done(struct run *run)
{
    struct tg_gate_result *results;
    int rc;

    if (run->canceled) {
        finish(run, tg_reconcile_err(TG_ECANCELED));
        return;
    }
    results = calloc(run->n_slots ? run->n_slots : 1, sizeof(*results));
    if (!results) {
        finish(run, tg_reconcile_err(TG_ENOMEM));
        return;
    }
    for (size_t i = 0; i < run->n_slots; i++) {
        struct gate_slot *s = &run->slots[i];
        results[i] = s->res;
        results[i].message = s->message;
        results[i].answer = &s->answer;
        results[i].baseline = &s->baseline;
    }
    rc = observe_and_plan(run, results, run->n_slots);
    free(results);
    if (rc == 1)
        return;
    if (rc) {
        finish(run, tg_reconcile_err(rc));
        return;
    }
    slots_free(run);
    apply_next(run);
}

static void slot_done(struct gate_slot *s, int rc, const char *message)
{
    struct run *run = s->run;

    if (rc == TG_ECANCELED)
        run->canceled = true;
    if (rc && !s->res.rc) {
        s->res.rc = rc;
        free(s->message);
        s->message = message ? strdup(message) : NULL;
    }
    if (--s->waiting > 0)
        return;
    if (--run->pending == 0)
        gates_done(run);
}

static void take_result(struct tg_prom_result *dst, const struct tg_prom_result *src)
{
    /* The checker lends the result for the callback: keep a deep copy. */
    memset(dst, 0, sizeof(*dst));
    if (!src)
        return;
    dst->type = src->type;
    dst->series = calloc(src->n_series ? src->n_series : 1, sizeof(*dst->series));
    if (!dst->series)
        return;
    for (size_t i = 0; i < src->n_series; i++) {
        const struct tg_prom_series *a = &src->series[i];
        struct tg_prom_series *b = &dst->series[dst->n_series];
        b->labels = strdup(a->labels ? a->labels : "{}");
        b->times = calloc(a->n ? a->n : 1, sizeof(double));
        b->values = calloc(a->n ? a->n : 1, sizeof(double));
        if (!b->labels || !b->times || !b->values) {
            free(b->labels);
            free(b->times);
            free(b->values);
            break;
        }
        memcpy(b->times, a->times, a->n * sizeof(double));
        memcpy(b->values, a->values, a->n * sizeof(double));
        b->n = a->n;
        dst->n_series++;
    }
}

static void on_answer(int rc, const char *message, const struct tg_prom_result *result, void *arg)
{
    struct gate_slot *s = arg;

    if (!rc)
        take_result(&s->answer, result);
    slot_done(s, rc, message);
}

static void on_baseline(int rc, const char *message, const struct tg_prom_result *result, void *arg)
{
    struct gate_slot *s = arg;

    if (!rc)
        take_result(&s->baseline, result);
    slot_done(s, rc, message);
}

static void on_smoke(int rc, bool passed, long status, const char *message, void *arg)
{
    struct gate_slot *s = arg;

    (void)status;
    s->res.passed = rc == 0 && passed;
    free(s->message);
    s->message = message ? strdup(message) : NULL;
    slot_done(s, rc == TG_ECANCELED ? rc : 0, NULL);
}

/* ---- verification gates --------------------------------------------------------------------
 *
 * A verification gate reads what its policies reference (tg_verify_policy_refs: Secrets and
 * ConfigMaps, one GET each) and the registry credentials of the Release's
 * spec.artifact.pullSecrets, then of the Rollout's imagePullSecrets (in that order: the first
 * credentials for a host win, whatever order the GETs answer in), then runs the verifier. A
 * reference that is not found is left out (the verifier fails its authority with a clear reason;
 * a missing pull secret leaves the registry anonymous); any other failure to read is a gate
 * error, retried by the planner.
 */

/* One GET of a verification job. */
struct ref_get {
    struct verify_job *job;
    bool secret;
    bool pull_secret; /* a pull secret: credentials, not material */
    char *config;     /* a pull secret's docker config, once read; added to creds in order */
    size_t config_len;
    char ns[128];
    char name[256];
    char key[256];
};

struct verify_job {
    struct gate_slot *slot;
    struct tg_rollout_reconciler *r;
    json_object *materials;
    struct tg_registry_creds *creds;
    struct ref_get *gets;
    size_t n_gets;
    size_t pending;
    int rc;
    char message[512];
};

static void job_free(struct verify_job *job)
{
    json_object_put(job->materials);
    tg_registry_creds_free(job->creds);
    for (size_t i = 0; job->gets && i < job->n_gets; i++)
        free(job->gets[i].config);
    free(job->gets);
    free(job);
}

static void on_verified(int rc, const char *message, json_object *verification, void *arg)
{
    struct verify_job *job = arg;
    struct gate_slot *s = job->slot;

    if (rc == 0 && verification)
        s->res.verification = json_object_get(verification);
    else if (rc == 0)
        rc = TG_EINVALID;
    job_free(job);
    slot_done(s, rc, message);
}

/* Every GET answered: run the verifier, or end the gate with the first error. */
static void job_run(struct verify_job *job)
{
    struct gate_slot *s = job->slot;
    const struct tg_gate *g = s->gate;
    struct tg_verify_request req = {
        .image = g->image,
        .source_commit = g->source_commit,
        .policies = g->policies,
        .materials = job->materials,
        .creds = job->creds,
        .now_ms = tg_clock_wall_ms(tg_manager_clock(job->r->manager)),
        .no_cache = g->no_cache,
    };
    int rc = job->rc;

    for (size_t i = 0; !rc && i < job->n_gets; i++) {
        struct ref_get *rg = &job->gets[i];
        int arc = rg->config
                      ? tg_registry_creds_add_dockerconfig(job->creds, rg->config, rg->config_len)
                      : 0;
        if (arc) {
            if (arc == TG_ENOMEM)
                rc = arc;
            else
                tg_log(TG_LOG_WARN, "a pull secret holds no docker config", "namespace", rg->ns,
                       "name", rg->name, "message", tg_error_last());
        }
    }
    if (!rc && !job->r->verifier)
        rc = tg_error_set(TG_EUNREACHABLE, "the operator has no verifier");
    if (!rc)
        rc = tg_verifier_run(job->r->verifier, &req, on_verified, job);
    if (rc) {
        char msg[sizeof(job->message)];
        snprintf(msg, sizeof(msg), "%s", job->rc ? job->message : tg_error_last());
        job_free(job);
        slot_done(s, rc, msg);
    }
}

/* The value of data[key] of a Secret (base64-decoded) or a ConfigMap (data, else binaryData). */
static char *ref_value(json_object *obj, bool secret, const char *key, size_t *len)
{
    json_object *data = json_object_object_get(obj, "data");
    const char *v = jstr(data, key, NULL);
    unsigned char *out = NULL;

    if (!secret && v) {
        *len = strlen(v);
        return strdup(v);
    }
    if (!v)
        v = jstr(json_object_object_get(obj, "binaryData"), key, NULL);
    if (!v || tg_b64_decode(v, strlen(v), &out, len) != 0)
        return NULL;
    return (char *)out;
}

static void on_ref(const struct tg_client_result *res, void *arg)
{
    struct ref_get *g = arg;
    struct verify_job *job = g->job;

    if (res->rc == 0) {
        size_t len = 0;
        char *v =
            ref_value(res->body, g->secret, g->pull_secret ? ".dockerconfigjson" : g->key, &len);
        if (g->pull_secret && !v)
            v = ref_value(res->body, true, ".dockercfg", &len);
        if (v && g->pull_secret) {
            g->config = v;
            g->config_len = len;
            v = NULL;
        } else if (v) {
            char k[700];
            snprintf(k, sizeof(k), "%s/%s/%s/%s", g->secret ? "Secret" : "ConfigMap", g->ns,
                     g->name, g->key);
            json_object_object_add(job->materials, k, json_object_new_string_len(v, (int)len));
        }
        free(v);
    } else if (res->rc != TG_ENOTFOUND && !job->rc) {
        job->rc = res->rc;
        snprintf(job->message, sizeof(job->message), "reading %s %s/%s: %s",
                 g->secret ? "Secret" : "ConfigMap", g->ns, g->name, res->message);
    }
    if (--job->pending == 0)
        job_run(job);
}

/* The imagePullSecrets of the pod template the Rollout delivers into. */
static json_object *pull_secrets(struct tg_rollout_reconciler *r, const char *ns, const char *name)
{
    json_object *ro = cached(r->caches.rollouts, ns, name);
    json_object *spec = json_object_object_get(ro, "spec");
    json_object *tmpl = json_object_object_get(spec, "template");

    if (!tmpl && jstr(spec, "workloadRef", "name"))
        tmpl = json_object_object_get(
            json_object_object_get(
                cached(r->caches.deployments, ns, jstr(spec, "workloadRef", "name")), "spec"),
            "template");
    return json_object_object_get(json_object_object_get(tmpl, "spec"), "imagePullSecrets");
}

/* The spec.artifact.pullSecrets of the Release whose gate g is (its id begins "<release>/"). */
static json_object *release_pull_secrets(struct tg_rollout_reconciler *r, const char *ns,
                                         const struct tg_gate *g)
{
    char name[256];
    const char *slash = g->id ? strchr(g->id, '/') : NULL;

    if (!slash || (size_t)(slash - g->id) >= sizeof(name))
        return NULL;
    memcpy(name, g->id, (size_t)(slash - g->id));
    name[slash - g->id] = '\0';
    json_object *rel = cached(r->caches.releases, ns, name);
    json_object *art = json_object_object_get(json_object_object_get(rel, "spec"), "artifact");
    return json_object_object_get(art, "pullSecrets");
}

/* Starts the verification gate of slot s: the GETs, then the verifier. */
static int start_verify(struct run *run, struct gate_slot *s)
{
    const struct tg_gate *g = s->gate;
    struct verify_job *job = calloc(1, sizeof(*job));
    json_object *refs = json_object_new_array();
    /* The Release's pull secrets first, then the template's: the first for a host wins. */
    json_object *pulls[2] = {release_pull_secrets(run->r, run->ns, g),
                             pull_secrets(run->r, run->ns, run->name)};
    size_t n_pulls = 0;
    const char *ns = g->namespace ? g->namespace : run->ns;
    int rc = 0;

    for (size_t k = 0; k < 2; k++)
        if (pulls[k] && json_object_is_type(pulls[k], json_type_array))
            n_pulls += json_object_array_length(pulls[k]);
    if (!job || !refs)
        goto nomem;
    job->slot = s;
    job->r = run->r;
    job->materials = json_object_new_object();
    job->creds = tg_registry_creds_new();
    if (!job->materials || !job->creds)
        goto nomem;
    for (size_t i = 0; g->policies && i < json_object_array_length(g->policies); i++) {
        json_object *one = NULL;
        json_object *entry = json_object_array_get_idx(g->policies, i);
        const char *pns = jstr(entry, "namespace", NULL);
        /* A VerificationPolicy names its namespaces (the CRD requires them): never the
         * Release's, which the Release's author controls. */
        if ((rc = tg_verify_policy_refs(json_object_object_get(entry, "spec"), pns ? pns : ns,
                                        &one)) != 0)
            goto fail;
        for (size_t k = 0; k < json_object_array_length(one); k++)
            json_object_array_add(refs, json_object_get(json_object_array_get_idx(one, k)));
        json_object_put(one);
    }
    size_t n = json_object_array_length(refs) + n_pulls;
    job->gets = calloc(n ? n : 1, sizeof(*job->gets));
    if (!job->gets)
        goto nomem;
    for (size_t i = 0; i < json_object_array_length(refs); i++) {
        json_object *ref = json_object_array_get_idx(refs, i);
        struct ref_get *rg = &job->gets[job->n_gets++];
        rg->job = job;
        rg->secret = streq(jstr(ref, "kind", NULL), "Secret");
        snprintf(rg->ns, sizeof(rg->ns), "%s",
                 jstr(ref, "namespace", NULL) ? jstr(ref, "namespace", NULL) : ns);
        snprintf(rg->name, sizeof(rg->name), "%s",
                 jstr(ref, "name", NULL) ? jstr(ref, "name", NULL) : "");
        snprintf(rg->key, sizeof(rg->key), "%s",
                 jstr(ref, "key", NULL) ? jstr(ref, "key", NULL) : "");
    }
    for (size_t k = 0; k < 2; k++) {
        size_t len = pulls[k] && json_object_is_type(pulls[k], json_type_array)
                         ? json_object_array_length(pulls[k])
                         : 0;
        for (size_t i = 0; i < len; i++) {
            const char *name = jstr(json_object_array_get_idx(pulls[k], i), "name", NULL);
            if (!name)
                continue;
            struct ref_get *rg = &job->gets[job->n_gets++];
            rg->job = job;
            rg->secret = true;
            rg->pull_secret = true;
            snprintf(rg->ns, sizeof(rg->ns), "%s", run->ns);
            snprintf(rg->name, sizeof(rg->name), "%s", name);
        }
    }
    json_object_put(refs);
    refs = NULL;
    /* One extra count so that GETs answering at once cannot run the job mid-loop. */
    job->pending = job->n_gets + 1;
    for (size_t i = 0; i < job->n_gets; i++) {
        struct ref_get *rg = &job->gets[i];
        rc = tg_client_get(tg_manager_client(run->r->manager),
                           rg->secret ? &res_secrets : &res_configmaps, rg->ns, rg->name, on_ref,
                           rg, NULL);
        if (rc) {
            struct tg_client_result fake = {.rc = rc, .message = tg_error_last()};
            on_ref(&fake, rg);
        }
    }
    if (--job->pending == 0)
        job_run(job);
    return 0;
nomem:
    rc = tg_error_set(TG_ENOMEM, "out of memory starting a verification");
fail:
    json_object_put(refs);
    if (job)
        job_free(job);
    return rc;
}

/* Starts every gate of run->plan; the plan is kept (run->gated) until the second pass. */
static void run_gates(struct run *run)
{
    struct tg_checker *ck = run->r->checker;
    const struct tg_plan *p;

    run->gated = run->plan;
    run->plan = NULL;
    p = run->gated;
    run->slots = calloc(p->n_gates, sizeof(*run->slots));
    if (!run->slots) {
        run->plan = run->gated;
        run->gated = NULL;
        finish(run, tg_reconcile_err(TG_ENOMEM));
        return;
    }
    run->n_slots = p->n_gates;
    /* One extra count so that gates answering at once cannot finish the run mid-loop. */
    run->pending = p->n_gates + 1;
    for (size_t i = 0; i < p->n_gates; i++) {
        const struct tg_gate *g = &p->gates[i];
        struct gate_slot *s = &run->slots[i];
        int rc = 0;
        s->run = run;
        s->res.id = g->id;
        s->gate = g;
        run->r->stats.gates++;
        if (!ck && g->kind != TG_GATE_VERIFY) {
            s->waiting = 1;
            slot_done(s, TG_EINVALID, "the operator has no analysis checker");
            continue;
        }
        switch (g->kind) {
        case TG_GATE_QUERY:
            s->waiting = 1;
            rc = tg_checker_query(ck, g->address, g->query, g->timeout_ms, on_answer, s);
            break;
        case TG_GATE_COMPARE:
            s->waiting = 2;
            rc = tg_checker_query_range(ck, g->address, g->query, g->start_ms, g->end_ms,
                                        g->step_ms, g->timeout_ms, on_answer, s);
            if (rc) {
                s->waiting = 1;
                break;
            }
            rc = tg_checker_query_range(ck, g->address, g->query_base, g->start_ms, g->end_ms,
                                        g->step_ms, g->timeout_ms, on_baseline, s);
            if (rc)
                slot_done(s, rc, tg_error_last()); /* the first query still answers */
            rc = 0;
            break;
        case TG_GATE_HTTP: {
            struct tg_smoke_http h = {.method = g->method,
                                      .url = g->url,
                                      .expected_status = g->expected_status,
                                      .body_pattern = g->body_pattern,
                                      .timeout_ms = g->timeout_ms,
                                      .retries = g->retries};
            s->waiting = 1;
            rc = tg_checker_http(ck, &h, on_smoke, s); /* a refused test fails, see below */
            break;
        }
        case TG_GATE_VERIFY:
            s->waiting = 1;
            run->r->stats.verifications++;
            rc = start_verify(run, s);
            break;
        }
        if (rc) {
            /* Could not even start: an error measurement (a failed smoke test), at once. */
            s->waiting = 1;
            slot_done(s, rc, tg_error_last());
        }
    }
    if (--run->pending == 0)
        gates_done(run);
}

static void start(void *ctx, const char *key,
                  void (*done)(void *arg, const struct tg_reconcile_result *r), void *done_arg)
{
    struct tg_rollout_reconciler *r = ctx;
    struct run *run;
    const char *slash = strchr(key, '/');
    int rc;

    r->stats.reconciles++;
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

    rc = observe_and_plan(run, NULL, 0);
    if (rc == 1)
        return;
    if (rc) {
        finish(run, tg_reconcile_err(rc));
        return;
    }
    if (run->plan->n_actions == 0 && run->plan->n_gates == 0)
        r->stats.converged++;
    if (run->plan->n_gates > 0 && (r->checker || r->verifier)) {
        run_gates(run);
        return;
    }
    apply_next(run);
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

static int enqueue_visit(void *ctx, const char *key, json_object *obj)
{
    (void)obj;
    tg_controller_enqueue(ctx, key);
    return 0;
}

/*
 * A VerificationPolicy changed: every Rollout looks again, since a Release waiting to start may
 * now be covered (or covered differently). Releases already verified keep their verdict unless
 * their policies changed (status.verification.policyHash).
 */
static void map_policy(void *ctx, json_object *obj, struct tg_controller *c)
{
    struct tg_rollout_reconciler *r = ctx;

    (void)obj;
    tg_cache_each(r->caches.rollouts, TG_CACHE_ALL, NULL, enqueue_visit, c);
}

int tg_rollout_reconciler_watch(struct tg_rollout_reconciler *r, struct tg_controller *c)
{
    struct tg_cache *owned[] = {r->caches.deployments, r->caches.services, r->caches.ingresses,
                                r->caches.jobs};
    int rc = tg_controller_watch(c, r->caches.rollouts);

    if (!rc)
        rc = tg_cache_add_handler(r->caches.releases, index_release, r);
    if (!rc)
        rc = tg_controller_watch_mapped(c, r->caches.releases, map_release, r);
    for (size_t i = 0; i < 4 && !rc; i++) {
        if (owned[i])
            rc = tg_controller_watch_owned(c, owned[i], "tollgate.io", "Rollout");
    }
    if (!rc)
        rc = tg_controller_watch_mapped(c, r->caches.deployments, map_referenced, r);
    if (!rc)
        rc = tg_controller_watch_mapped(c, r->caches.ingresses, map_referenced, r);
    if (!rc && r->caches.httproutes)
        rc = tg_controller_watch_mapped(c, r->caches.httproutes, map_referenced, r);
    if (!rc && r->caches.vpolicies)
        rc = tg_controller_watch_mapped(c, r->caches.vpolicies, map_policy, r);
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

void tg_rollout_reconciler_set_checker(struct tg_rollout_reconciler *r, struct tg_checker *c)
{
    r->checker = c;
}

void tg_rollout_reconciler_set_verifier(struct tg_rollout_reconciler *r, struct tg_verifier *v,
                                        bool unmatched_deny)
{
    r->verifier = v;
    r->unmatched_deny = unmatched_deny;
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
