/*
 * Shared by the planner's tests: a "world" (the Rollout, its Releases, the objects, the time),
 * loading worlds from fixtures (with "$base" references and JSON merge patches so a fixture
 * says only what differs), running the planner on a world, and a tiny API-server simulator
 * that applies a plan's actions to the world the way kube-apiserver would (create, merge patch,
 * JSON patch, status and scale subresources, generation bumps) plus a Deployment controller
 * that makes every Deployment ready.
 */
#ifndef TG_TESTS_PLAN_TESTLIB_H
#define TG_TESTS_PLAN_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "rollout/plan.h"
#include "rollout/spec.h"

#define PLAN_FIXTURES TG_FIXTURES_DIR "/plan"

struct world {
    json_object *rollout;
    json_object *releases; /* array */
    json_object *objects;  /* array */
    int64_t now;
    int writes;            /* actions applied, Events excluded */
    json_object *answers;  /* gate answers by check name (see world_answer), or NULL */
    int gates;             /* gates answered so far */
    bool gateway_unserved; /* "gatewayApiUnserved": the Gateway API is not served */
    json_object *vpols;    /* "verificationPolicies": VerificationPolicy objects (array) */
    bool unmatched_deny;   /* "verifyUnmatched": "deny" */
};

static json_object *tl_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static const char *tl_str(json_object *o, const char *key)
{
    json_object *v = tl_get(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static json_object *tl_copy(json_object *o)
{
    json_object *out = NULL;
    if (!o)
        return NULL;
    json_object_deep_copy(o, &out, NULL);
    return out;
}

/* RFC 7386: applies patch to target (an object), in place. */
static void tl_merge(json_object *target, json_object *patch)
{
    json_object_object_foreach(patch, k, v)
    {
        json_object *t = tl_get(target, k);
        if (!v) {
            json_object_object_del(target, k);
        } else if (json_object_is_type(v, json_type_object) && t &&
                   json_object_is_type(t, json_type_object)) {
            tl_merge(t, v);
        } else if (json_object_is_type(v, json_type_object)) {
            json_object *n = json_object_new_object();
            tl_merge(n, v);
            json_object_object_add(target, k, n);
        } else {
            json_object_object_add(target, k, tl_copy(v));
        }
    }
}

static json_object *tl_load(const char *path)
{
    json_object *o = json_object_from_file(path);
    if (!o)
        fprintf(stderr, "cannot parse %s: %s\n", path, json_util_get_last_err());
    return o;
}

/* Resolves {"$base": "name", ...rest} into bases/name.json merge-patched with rest, deeply. */
static json_object *tl_resolve(json_object *v)
{
    if (v && json_object_is_type(v, json_type_array)) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(v); i++)
            json_object_array_add(a, tl_resolve(json_object_array_get_idx(v, i)));
        return a;
    }
    if (!v || !json_object_is_type(v, json_type_object))
        return tl_copy(v);
    const char *base = tl_str(v, "$base");
    json_object *out;
    if (base) {
        char path[512];
        snprintf(path, sizeof(path), "%s/bases/%s.json", PLAN_FIXTURES, base);
        json_object *b = tl_load(path);
        out = tl_resolve(b);
        json_object_put(b);
        json_object *rest = tl_copy(v);
        json_object_object_del(rest, "$base");
        json_object *r = tl_resolve(rest);
        tl_merge(out, r);
        json_object_put(r);
        json_object_put(rest);
        return out;
    }
    out = json_object_new_object();
    json_object_object_foreach(v, k, val)
    {
        json_object_object_add(out, k, tl_resolve(val));
    }
    return out;
}

static int64_t tl_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

/* Loads a world from a fixture object's rollout, releases, objects and now. */
static void world_from(struct world *w, json_object *fx)
{
    memset(w, 0, sizeof(*w));
    w->rollout = tl_resolve(tl_get(fx, "rollout"));
    w->releases = tl_resolve(tl_get(fx, "releases"));
    if (!w->releases)
        w->releases = json_object_new_array();
    w->objects = tl_resolve(tl_get(fx, "objects"));
    if (!w->objects)
        w->objects = json_object_new_array();
    w->now = tl_time(tl_str(fx, "now"));
    w->answers = tl_copy(tl_get(fx, "answers"));
    w->gateway_unserved = json_object_get_boolean(tl_get(fx, "gatewayApiUnserved"));
    w->vpols = tl_resolve(tl_get(fx, "verificationPolicies"));
    if (!w->vpols)
        w->vpols = json_object_new_array();
    w->unmatched_deny =
        tl_str(fx, "verifyUnmatched") && strcmp(tl_str(fx, "verifyUnmatched"), "deny") == 0;
}

static void world_free(struct world *w)
{
    json_object_put(w->rollout);
    json_object_put(w->releases);
    json_object_put(w->objects);
    json_object_put(w->answers);
    json_object_put(w->vpols);
    memset(w, 0, sizeof(*w));
}

/* A Prometheus answer body: a vector of one sample, or a matrix of one series. */
static void tl_prom_body(char *buf, size_t n, json_object *values, bool matrix)
{
    size_t len = 0;
    if (!values) {
        snprintf(buf, n,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                 "\"result\":[]}}");
        return;
    }
    len += (size_t)snprintf(buf + len, n - len,
                            "{\"status\":\"success\",\"data\":{\"resultType\":\"%s\","
                            "\"result\":[{\"metric\":{},\"%s\":",
                            matrix ? "matrix" : "vector", matrix ? "values" : "value");
    if (!matrix) {
        len += (size_t)snprintf(buf + len, n - len, "[1700000000,\"%.17g\"]",
                                json_object_get_double(values));
    } else {
        len += (size_t)snprintf(buf + len, n - len, "[");
        for (size_t i = 0; i < json_object_array_length(values) && len < n; i++)
            len += (size_t)snprintf(buf + len, n - len, "%s[%zu,\"%.17g\"]", i ? "," : "",
                                    1700000000 + i * 5,
                                    json_object_get_double(json_object_array_get_idx(values, i)));
        len += (size_t)snprintf(buf + len, n - len, "]");
    }
    if (len < n)
        snprintf(buf + len, n - len, "}]}}");
}

/*
 * Answers the plan's gates from w->answers, keyed by the check's name (the id's last part):
 * {"value": n} (an instant query's one sample), {"empty": true} (no data), {"error": "msg"}
 * (the query failed), {"canary": [..], "baseline": [..]} (range samples for a comparison),
 * {"passed": bool, "message": "..."} (an HTTP smoke test), {"verification": {...}} (a
 * verifier's verdict; with "error" instead, no verdict could be reached). An answer keyed by the
 * whole gate id ("web-v2/verification/verify") wins over one keyed by the check's name. A check
 * with no answer gets none.
 * Returns the number of results (0: none to plan with).
 */
static size_t world_answer(struct world *w, const struct tg_plan *p, struct tg_gate_result *res,
                           struct tg_prom_result *proms)
{
    size_t n = 0;
    char body[8192];
    for (size_t i = 0; i < p->n_gates; i++) {
        const char *slash = strrchr(p->gates[i].id, '/');
        json_object *a = tl_get(w->answers, p->gates[i].id);
        if (!a)
            a = tl_get(w->answers, slash ? slash + 1 : p->gates[i].id);
        if (!a)
            continue;
        struct tg_gate_result *r = &res[n];
        memset(r, 0, sizeof(*r));
        r->id = p->gates[i].id;
        memset(&proms[2 * n], 0, 2 * sizeof(*proms));
        if (tl_get(a, "error")) {
            r->rc = -6; /* any TG_E* code: the query failed */
            r->message = tl_str(a, "error");
        } else if (p->gates[i].kind == TG_GATE_VERIFY) {
            r->verification = tl_get(a, "verification");
        } else if (p->gates[i].kind == TG_GATE_HTTP) {
            r->passed = json_object_get_boolean(tl_get(a, "passed"));
            r->message = tl_str(a, "message");
        } else if (p->gates[i].kind == TG_GATE_COMPARE) {
            tl_prom_body(body, sizeof(body), tl_get(a, "canary"), true);
            tg_prom_parse(body, strlen(body), &proms[2 * n]);
            tl_prom_body(body, sizeof(body), tl_get(a, "baseline"), true);
            tg_prom_parse(body, strlen(body), &proms[2 * n + 1]);
            r->answer = &proms[2 * n];
            r->baseline = &proms[2 * n + 1];
        } else {
            tl_prom_body(body, sizeof(body), tl_get(a, "empty") ? NULL : tl_get(a, "value"), false);
            tg_prom_parse(body, strlen(body), &proms[2 * n]);
            r->answer = &proms[2 * n];
        }
        n++;
    }
    w->gates += (int)n;
    return n;
}

/* Runs the planner on the world. Returns 0 and the plan, or the planner's error. */
static int world_plan1(struct world *w, struct tg_plan **out, const struct tg_gate_result *res,
                       size_t n_res);

/*
 * Runs the planner as the reconciler does: when the plan holds gates, answers them
 * (world_answer) and plans again with the results; that second plan is the result.
 */
static int world_plan(struct world *w, struct tg_plan **out)
{
    int rc = world_plan1(w, out, NULL, 0);
    if (rc || !*out || (*out)->n_gates == 0 || !w->answers)
        return rc;
    size_t ng = (*out)->n_gates;
    struct tg_gate_result *res = calloc(ng, sizeof(*res));
    struct tg_prom_result *proms = calloc(2 * ng, sizeof(*proms));
    size_t n = world_answer(w, *out, res, proms);
    if (n > 0) {
        struct tg_plan *second = NULL;
        rc = world_plan1(w, &second, res, n);
        tg_plan_free(*out);
        *out = second;
    }
    for (size_t i = 0; i < 2 * ng; i++)
        tg_prom_result_free(&proms[i]);
    free(proms);
    free(res);
    return rc;
}

static int world_plan1(struct world *w, struct tg_plan **out, const struct tg_gate_result *res,
                       size_t n_res)
{
    struct tg_rollout_spec *rs = NULL;
    struct tg_field_errors rerr;
    size_t n = json_object_array_length(w->releases);
    struct tg_plan_release *rels = calloc(n ? n : 1, sizeof(*rels));
    struct tg_release_spec **specs = calloc(n ? n : 1, sizeof(*specs));
    struct tg_field_errors *errs = calloc(n ? n : 1, sizeof(*errs));
    json_object **objs = calloc(json_object_array_length(w->objects) + 1, sizeof(*objs));
    size_t nv = json_object_array_length(w->vpols);
    json_object **vp = calloc(nv + 1, sizeof(*vp));
    json_object **pols = calloc(n ? n : 1, sizeof(*pols));
    int rc;

    memset(&rerr, 0, sizeof(rerr));
    tg_rollout_spec_parse(w->rollout, &rs, &rerr);
    for (size_t i = 0; i < n; i++) {
        rels[i].obj = json_object_array_get_idx(w->releases, i);
        tg_release_spec_parse(rels[i].obj, &specs[i], &errs[i]);
        rels[i].spec = specs[i];
        rels[i].errors = &errs[i];
    }
    for (size_t i = 0; i < nv; i++)
        vp[i] = json_object_array_get_idx(w->vpols, i);
    for (size_t i = 0; i < n; i++) {
        if (specs[i] && tg_plan_release_policies(vp, nv, rels[i].obj, specs[i], &pols[i]) == 0)
            rels[i].policies = pols[i];
    }
    for (size_t i = 0; i < json_object_array_length(w->objects); i++)
        objs[i] = json_object_array_get_idx(w->objects, i);
    struct tg_plan_input in = {
        .rollout = w->rollout,
        .spec = rs,
        .errors = &rerr,
        .releases = rels,
        .n_releases = n,
        .objects = objs,
        .n_objects = json_object_array_length(w->objects),
        .now_ms = w->now,
        .gateway_api_unserved = w->gateway_unserved,
        .results = res,
        .n_results = n_res,
        .verify_unmatched_deny = w->unmatched_deny,
    };
    rc = tg_plan_build(&in, out);
    for (size_t i = 0; i < n; i++) {
        tg_release_spec_free(specs[i]);
        tg_field_errors_free(&errs[i]);
    }
    tg_rollout_spec_free(rs);
    tg_field_errors_free(&rerr);
    free(rels);
    free(specs);
    free(errs);
    free(objs);
    for (size_t i = 0; i < n; i++)
        json_object_put(pols[i]);
    free(pols);
    free(vp);
    return rc;
}

static json_object *world_find(struct world *w, const char *kind, const char *name)
{
    if (strcmp(kind, "Rollout") == 0)
        return w->rollout;
    json_object *arr = strcmp(kind, "Release") == 0 ? w->releases : w->objects;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        json_object *m = tl_get(o, "metadata");
        if ((strcmp(kind, "Release") == 0 ||
             (tl_str(o, "kind") && strcmp(tl_str(o, "kind"), kind) == 0)) &&
            tl_str(m, "name") && strcmp(tl_str(m, "name"), name) == 0)
            return o;
    }
    return NULL;
}

/* Follows a JSON pointer to the parent of its last token; returns the parent and the token. */
static json_object *tl_pointer(json_object *root, const char *ptr, char *last, size_t n)
{
    json_object *cur = root;
    const char *p = ptr + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        char tok[256];
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        size_t j = 0;
        for (size_t i = 0; i < len && j + 1 < sizeof(tok); i++) {
            if (p[i] == '~' && i + 1 < len) {
                tok[j++] = p[i + 1] == '1' ? '/' : '~';
                i++;
            } else {
                tok[j++] = p[i];
            }
        }
        tok[j] = '\0';
        if (!slash) {
            snprintf(last, n, "%s", tok);
            return cur;
        }
        if (json_object_is_type(cur, json_type_array))
            cur = json_object_array_get_idx(cur, (size_t)strtol(tok, NULL, 10));
        else
            cur = tl_get(cur, tok);
        if (!cur)
            return NULL;
        p = slash + 1;
    }
}

/* RFC 6902 subset: add, replace, test. Returns false when a test fails or a path is missing. */
static bool tl_json_patch(json_object *target, json_object *ops)
{
    for (size_t i = 0; i < json_object_array_length(ops); i++) {
        json_object *op = json_object_array_get_idx(ops, i);
        char last[256];
        json_object *parent = tl_pointer(target, tl_str(op, "path"), last, sizeof(last));
        json_object *value = tl_get(op, "value");
        const char *kind = tl_str(op, "op");
        if (!parent)
            return false;
        if (strcmp(kind, "test") == 0) {
            json_object *have = json_object_is_type(parent, json_type_array)
                                    ? json_object_array_get_idx(parent, strtol(last, NULL, 10))
                                    : tl_get(parent, last);
            if (!json_object_equal(have, value))
                return false;
        } else if (json_object_is_type(parent, json_type_array)) {
            json_object_array_put_idx(parent, strtol(last, NULL, 10), tl_copy(value));
        } else {
            if (strcmp(kind, "replace") == 0 && !tl_get(parent, last))
                return false;
            json_object_object_add(parent, last, tl_copy(value));
        }
    }
    return true;
}

static void tl_bump_generation(json_object *obj, json_object *old_spec)
{
    json_object *m = tl_get(obj, "metadata");
    if (!json_object_equal(old_spec, tl_get(obj, "spec"))) {
        json_object *g = tl_get(m, "generation");
        json_object_object_add(m, "generation",
                               json_object_new_int64((g ? json_object_get_int64(g) : 1) + 1));
    }
}

/* Applies the plan to the world as the API server would. Events are not writes. */
static void world_apply(struct world *w, const struct tg_plan *plan)
{
    static int uid;
    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct tg_action *a = &plan->actions[i];
        json_object *obj;
        if (a->kind == TG_ACTION_EVENT)
            continue;
        w->writes++;
        switch (a->kind) {
        case TG_ACTION_CREATE: {
            json_object *o = tl_copy(a->body);
            json_object *m = tl_get(o, "metadata");
            char u[32];
            snprintf(u, sizeof(u), "sim-%d", ++uid);
            json_object_object_add(m, "uid", json_object_new_string(u));
            json_object_object_add(m, "generation", json_object_new_int64(1));
            json_object_array_add(w->objects, o);
            break;
        }
        case TG_ACTION_PATCH: {
            obj = world_find(w, a->object_kind, a->name);
            if (!obj)
                break;
            json_object *old_spec = tl_copy(tl_get(obj, "spec"));
            if (a->subresource && strcmp(a->subresource, "scale") == 0)
                tl_merge(obj, a->body);
            else if (a->patch_type == TG_PLAN_PATCH_JSON) {
                json_object *tmp = tl_copy(obj);
                if (tl_json_patch(tmp, a->body)) {
                    json_object_object_foreach(tmp, k, v)
                    {
                        json_object_object_add(obj, k, tl_copy(v));
                    }
                }
                json_object_put(tmp);
            } else {
                tl_merge(obj, a->body);
            }
            tl_bump_generation(obj, old_spec);
            json_object_put(old_spec);
            break;
        }
        case TG_ACTION_PATCH_STATUS: {
            obj = world_find(w, a->object_kind, a->name);
            if (!obj)
                break;
            json_object *st = tl_get(a->body, "status");
            if (!tl_get(obj, "status"))
                json_object_object_add(obj, "status", json_object_new_object());
            tl_merge(tl_get(obj, "status"), st);
            break;
        }
        case TG_ACTION_DELETE:
        case TG_ACTION_EVENT:
            break;
        }
    }
}

/* The Deployment controller: every Deployment converges to its spec at once, all pods ready. */
static void world_deployments_ready(struct world *w)
{
    for (size_t i = 0; i < json_object_array_length(w->objects); i++) {
        json_object *o = json_object_array_get_idx(w->objects, i);
        if (!tl_str(o, "kind") || strcmp(tl_str(o, "kind"), "Deployment") != 0)
            continue;
        json_object *spec = tl_get(o, "spec");
        json_object *r = tl_get(spec, "replicas");
        int64_t n = r ? json_object_get_int64(r) : 1;
        json_object *g = tl_get(tl_get(o, "metadata"), "generation");
        json_object *st = json_object_new_object();
        json_object_object_add(st, "observedGeneration",
                               json_object_new_int64(g ? json_object_get_int64(g) : 1));
        json_object_object_add(st, "replicas", json_object_new_int64(n));
        json_object_object_add(st, "updatedReplicas", json_object_new_int64(n));
        json_object_object_add(st, "readyReplicas", json_object_new_int64(n));
        json_object_object_add(st, "availableReplicas", json_object_new_int64(n));
        json_object_object_add(o, "status", st);
    }
}

#endif
