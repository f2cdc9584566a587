/*
 * Table tests of the planner (operator/rollout/plan.h), driven by the JSON files of
 * tests/fixtures/plan/. A fixture holds an observed world (the Rollout, its Releases, the
 * objects, the time) and a script of steps run against it:
 *
 *   {"do": "plan", "expect": {...}}   plan, compare the plan exactly (json_object_equal) with
 *                                     expect, apply it; then plan again on the result at the
 *                                     same time and require no action at all (idempotence:
 *                                     a converged reconcile writes nothing)
 *   {"do": "ready"}                   the Deployment controller: every Deployment ready
 *   {"do": "converge"}                plan, apply, ready, until a plan holds no action
 *   {"do": "advance", "ms": n}        move the clock (or "requeue": true, by the last requeue)
 *   {"do": "add", "release"|"object": {...}}
 *   {"do": "set", "kind", "name", "merge": {...}}   merge-patch an observed object
 *   {"do": "delete", "kind", "name"}
 *   {"do": "expectStatus", "kind", "name", "status": {...}}   every given field must match
 *   {"do": "dump", "kind", "name", "as": "file"}   with TG_PLAN_DUMP=dir, writes the observed
 *        object to dir/file.json (the Argo CD health checks' testdata comes from these)
 *   {"do": "walk", "until": {"kind", "name", "phase"}, "max": n, "expectTrace": [...]}
 *        plan, apply, ready repeatedly; when nothing happens, advance to the requeue time or,
 *        with nothing to wait for, promote (a new tollgate.io/promote value); the trace lists
 *        each distinct state of the Deployments, Services and routers along the way
 *
 * "$base": "name" anywhere stands for tests/fixtures/plan/bases/name.json merge-patched with
 * the rest of the object. Running with TG_PLAN_REGEN=1 writes the plans and traces produced
 * into the fixtures, for review.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <string.h>

#include "plan_testlib.h"
#include "util/error.h"

static bool regen(void)
{
    const char *e = getenv("TG_PLAN_REGEN");
    return e && e[0] == '1';
}

static int64_t last_requeue;

static json_object *plan_json(struct world *w, struct tg_plan **out)
{
    struct tg_plan *p = NULL;
    int rc = world_plan(w, &p);
    assert_int_equal(rc, 0);
    last_requeue = p->requeue_after_ms;
    json_object *j = tg_plan_to_json(p);
    if (out)
        *out = p;
    else
        tg_plan_free(p);
    return j;
}

static void print_mismatch(const char *file, size_t step, json_object *want, json_object *got)
{
    fprintf(stderr, "%s: step %zu: plan differs\n--- expected\n%s\n--- got\n%s\n", file, step,
            json_object_to_json_string_ext(want, JSON_C_TO_STRING_PRETTY),
            json_object_to_json_string_ext(got, JSON_C_TO_STRING_PRETTY));
}

static void check_idempotent(const char *file, size_t step, struct world *w)
{
    struct tg_plan *p = NULL;
    json_object *j = plan_json(w, &p);
    if (p->n_actions != 0) {
        fprintf(stderr, "%s: step %zu: not idempotent, a second plan holds:\n%s\n", file, step,
                json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
    }
    assert_int_equal(p->n_actions, 0);
    tg_plan_free(p);
    json_object_put(j);
}

static int converge(struct world *w)
{
    for (int i = 0; i < 40; i++) {
        struct tg_plan *p = NULL;
        assert_int_equal(world_plan(w, &p), 0);
        last_requeue = p->requeue_after_ms;
        size_t n = p->n_actions;
        world_apply(w, p);
        tg_plan_free(p);
        world_deployments_ready(w);
        if (n == 0)
            return i;
    }
    fail_msg("the world did not converge in 40 plans");
    return -1;
}

static const char *obj_str(json_object *o, const char *a, const char *b)
{
    return tl_str(tl_get(o, a), b);
}

/* A one-line summary of what users would notice: pods per track, selectors, weights. */
static void trace_line(struct world *w, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(w->objects); i++) {
        json_object *o = json_object_array_get_idx(w->objects, i);
        const char *kind = tl_str(o, "kind"), *name = obj_str(o, "metadata", "name");
        if (!tl_get(tl_get(o, "metadata"), "ownerReferences") && strcmp(kind, "HTTPRoute") != 0)
            continue;
        if (strcmp(kind, "Deployment") == 0) {
            json_object *c = json_object_array_get_idx(
                tl_get(tl_get(tl_get(tl_get(o, "spec"), "template"), "spec"), "containers"), 0);
            const char *img = tl_str(c, "image");
            const char *slash = img ? strrchr(img, '/') : NULL;
            const char *from = slash ? slash + 1 : img ? img : "?";
            int shown = (int)strcspn(from, "@");
            len += (size_t)snprintf(buf + len, n - len, "%s=%d(%.*s) ", name,
                                    json_object_get_int(tl_get(tl_get(o, "spec"), "replicas")),
                                    shown, from);
        } else if (strcmp(kind, "Service") == 0) {
            json_object *sel = tl_get(tl_get(o, "spec"), "selector");
            const char *t = tl_str(sel, "tollgate.io/track");
            const char *c = tl_str(sel, "tollgate.io/color");
            len += (size_t)snprintf(buf + len, n - len, "svc/%s->%s ", name, t ? t : c ? c : "all");
        } else if (strcmp(kind, "HTTPRoute") == 0) {
            json_object *refs = tl_get(
                json_object_array_get_idx(tl_get(tl_get(o, "spec"), "rules"), 0), "backendRefs");
            len += (size_t)snprintf(buf + len, n - len, "route=");
            for (size_t k = 0; refs && k < json_object_array_length(refs); k++)
                len += (size_t)snprintf(
                    buf + len, n - len, "%d%s",
                    json_object_get_int(tl_get(json_object_array_get_idx(refs, k), "weight")),
                    k + 1 < json_object_array_length(refs) ? "/" : " ");
        } else if (strcmp(kind, "Ingress") == 0) {
            const char *wt =
                tl_str(tl_get(tl_get(o, "metadata"), "annotations"), TG_NGINX_CANARY_WEIGHT);
            len += (size_t)snprintf(buf + len, n - len, "ing/%s=%s ", name, wt ? wt : "-");
        }
        if (len >= n)
            break;
    }
    json_object *st = tl_get(w->rollout, "status");
    if (len < n)
        snprintf(buf + len, n - len, "weight=%d phase=%s",
                 json_object_get_int(tl_get(st, "canaryWeight")),
                 tl_str(st, "phase") ? tl_str(st, "phase") : "-");
}

static bool until_reached(struct world *w, json_object *until)
{
    json_object *o = world_find(w, tl_str(until, "kind"), tl_str(until, "name"));
    const char *phase = tl_str(tl_get(o, "status"), "phase");
    return phase && strcmp(phase, tl_str(until, "phase")) == 0;
}

static void walk(const char *file, size_t step, struct world *w, json_object *s)
{
    json_object *until = tl_get(s, "until");
    int max = tl_get(s, "max") ? json_object_get_int(tl_get(s, "max")) : 80;
    json_object *trace = json_object_new_array();
    char line[1024], last[1024] = "";
    int promotes = 0;

    for (int i = 0; i < max && !until_reached(w, until); i++) {
        struct tg_plan *p = NULL;
        json_object *again = plan_json(w, NULL);
        assert_int_equal(world_plan(w, &p), 0);
        /* The planner is a function of the world: the same world, the same plan. */
        json_object *first = tg_plan_to_json(p);
        assert_true(json_object_equal(first, again));
        json_object_put(first);
        json_object_put(again);
        size_t n = p->n_actions;
        int64_t rq = p->requeue_after_ms;
        world_apply(w, p);
        tg_plan_free(p);
        world_deployments_ready(w);
        trace_line(w, line, sizeof(line));
        if (strcmp(line, last) != 0) {
            json_object_array_add(trace, json_object_new_string(line));
            snprintf(last, sizeof(last), "%s", line);
        }
        if (n > 0)
            continue;
        if (rq > 0) {
            w->now += rq;
            continue;
        }
        char v[32];
        snprintf(v, sizeof(v), "walk-%d", ++promotes);
        json_object *m = tl_get(w->rollout, "metadata");
        if (!tl_get(m, "annotations"))
            json_object_object_add(m, "annotations", json_object_new_object());
        json_object_object_add(tl_get(m, "annotations"), TG_ANNOTATION_PROMOTE,
                               json_object_new_string(v));
    }
    if (!until_reached(w, until))
        fprintf(stderr, "%s: step %zu: walk did not reach %s; trace:\n%s\n", file, step,
                json_object_to_json_string(until),
                json_object_to_json_string_ext(trace, JSON_C_TO_STRING_PRETTY));
    assert_true(until_reached(w, until));
    if (regen()) {
        json_object_object_add(s, "expectTrace", trace);
        return;
    }
    json_object *want = tl_get(s, "expectTrace");
    if (!want || !json_object_equal(want, trace))
        print_mismatch(file, step, want, trace);
    assert_true(want && json_object_equal(want, trace));
    json_object_put(trace);
}

/* True when every field of want is in have with the same value (objects compared deeply). */
static bool subset(json_object *want, json_object *have)
{
    if (!want)
        return have == NULL;
    if (json_object_is_type(want, json_type_array)) {
        if (!have || !json_object_is_type(have, json_type_array) ||
            json_object_array_length(have) != json_object_array_length(want))
            return false;
        for (size_t i = 0; i < json_object_array_length(want); i++) {
            if (!subset(json_object_array_get_idx(want, i), json_object_array_get_idx(have, i)))
                return false;
        }
        return true;
    }
    if (!json_object_is_type(want, json_type_object))
        return json_object_equal(want, have);
    if (!have || !json_object_is_type(have, json_type_object))
        return false;
    json_object_object_foreach(want, k, v)
    {
        json_object *h = NULL;
        bool present = json_object_object_get_ex(have, k, &h);
        if (!v && !present)
            continue;
        if (!present || !subset(v, h))
            return false;
    }
    return true;
}

static void run_step(const char *file, size_t i, struct world *w, json_object *s)
{
    const char *what = tl_str(s, "do");

    if (strcmp(what, "plan") == 0) {
        struct tg_plan *p = NULL;
        json_object *got = plan_json(w, &p);
        if (regen()) {
            json_object_object_add(s, "expect", json_object_get(got));
        } else {
            json_object *want = tl_get(s, "expect");
            if (!want || !json_object_equal(want, got))
                print_mismatch(file, i, want, got);
            assert_true(want && json_object_equal(want, got));
        }
        world_apply(w, p);
        tg_plan_free(p);
        json_object_put(got);
        json_object *idem = tl_get(s, "idempotent");
        if (!idem || json_object_get_boolean(idem))
            check_idempotent(file, i, w);
    } else if (strcmp(what, "ready") == 0) {
        world_deployments_ready(w);
    } else if (strcmp(what, "converge") == 0) {
        converge(w);
    } else if (strcmp(what, "advance") == 0) {
        if (tl_get(s, "requeue"))
            w->now += last_requeue;
        else
            w->now += json_object_get_int64(tl_get(s, "ms"));
    } else if (strcmp(what, "add") == 0) {
        json_object *rel = tl_resolve(tl_get(s, "release"));
        if (rel) {
            json_object *m = tl_get(rel, "metadata");
            if (!tl_get(m, "creationTimestamp")) {
                char ts[32];
                time_t secs = (time_t)(w->now / 1000);
                struct tm tm;
                gmtime_r(&secs, &tm);
                strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
                json_object_object_add(m, "creationTimestamp", json_object_new_string(ts));
            }
            json_object_array_add(w->releases, rel);
        } else {
            json_object_array_add(w->objects, tl_resolve(tl_get(s, "object")));
        }
    } else if (strcmp(what, "set") == 0) {
        json_object *o = world_find(w, tl_str(s, "kind"), tl_str(s, "name"));
        assert_non_null(o);
        tl_merge(o, tl_get(s, "merge"));
    } else if (strcmp(what, "delete") == 0) {
        json_object *arr = strcmp(tl_str(s, "kind"), "Release") == 0 ? w->releases : w->objects;
        json_object *o = world_find(w, tl_str(s, "kind"), tl_str(s, "name"));
        assert_non_null(o);
        for (size_t k = 0; k < json_object_array_length(arr); k++) {
            if (json_object_array_get_idx(arr, k) == o) {
                json_object_array_del_idx(arr, k, 1);
                break;
            }
        }
    } else if (strcmp(what, "expectStatus") == 0) {
        json_object *o = world_find(w, tl_str(s, "kind"), tl_str(s, "name"));
        json_object *want = tl_get(s, "status");
        if (!subset(want, tl_get(o, "status")))
            print_mismatch(file, i, want, tl_get(o, "status"));
        assert_true(subset(want, tl_get(o, "status")));
    } else if (strcmp(what, "dump") == 0) {
        json_object *o = world_find(w, tl_str(s, "kind"), tl_str(s, "name"));
        const char *dir = getenv("TG_PLAN_DUMP");
        int flags =
            JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE;
        char out[1024];
        assert_non_null(o);
        if (dir && dir[0]) {
            snprintf(out, sizeof(out), "%s/%s.json", dir, tl_str(s, "as"));
            assert_int_equal(json_object_to_file_ext(out, o, flags), 0);
        }
    } else if (strcmp(what, "answers") == 0) {
        if (!w->answers)
            w->answers = json_object_new_object();
        tl_merge(w->answers, tl_get(s, "answers"));
    } else if (strcmp(what, "walk") == 0) {
        walk(file, i, w, s);
    } else {
        fail_msg("%s: step %zu: unknown step \"%s\"", file, i, what);
    }
}

static void run_fixture(const char *path)
{
    json_object *fx = tl_load(path);
    struct world w;

    assert_non_null(fx);
    world_from(&w, fx);
    last_requeue = 0;
    json_object *steps = tl_get(fx, "steps");
    assert_non_null(steps);
    for (size_t i = 0; i < json_object_array_length(steps); i++)
        run_step(path, i, &w, json_object_array_get_idx(steps, i));
    if (regen())
        json_object_to_file_ext(path, fx, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    world_free(&w);
    json_object_put(fx);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_fixture(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static void test_fixtures(void **state)
{
    struct dirent **list = NULL;
    int n = scandir(PLAN_FIXTURES, &list, is_fixture, by_name);
    const char *only = getenv("TG_PLAN_ONLY");

    (void)state;
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        char path[1024];
        if (!only || strstr(list[i]->d_name, only)) {
            snprintf(path, sizeof(path), "%s/%s", PLAN_FIXTURES, list[i]->d_name);
            fprintf(stderr, "fixture %s\n", list[i]->d_name);
            run_fixture(path);
        }
        free(list[i]);
    }
    free(list);
}

/* The rounding of replicas routing, as documented in plan_routing.c and the CRD. */
static void test_canary_rounding(void **state)
{
    static const struct {
        int replicas, weight, canary, stable;
    } cases[] = {
        {4, 0, 0, 4},  {4, 10, 1, 3},  {4, 25, 1, 3},   {4, 50, 2, 2},  {4, 90, 3, 1},
        {4, 99, 3, 1}, {4, 100, 4, 0}, {10, 15, 2, 8},  {10, 14, 1, 9}, {10, 5, 1, 9},
        {1, 10, 1, 1}, {1, 100, 1, 0}, {1, 0, 0, 1},    {0, 50, 0, 0},  {2, 50, 1, 1},
        {3, 50, 2, 1}, {3, 1, 1, 2},   {100, 1, 1, 99}, {5, 95, 4, 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int c = tg_plan_canary_replicas(cases[i].replicas, cases[i].weight);
        int s = tg_plan_stable_replicas(cases[i].replicas, cases[i].weight);
        if (c != cases[i].canary || s != cases[i].stable)
            fail_msg("replicas %d weight %d: canary %d stable %d, want %d and %d",
                     cases[i].replicas, cases[i].weight, c, s, cases[i].canary, cases[i].stable);
    }
    assert_int_equal(tg_plan_actual_weight(3, 1), 25);
    assert_int_equal(tg_plan_actual_weight(2, 1), 33);
    assert_int_equal(tg_plan_actual_weight(1, 2), 67);
    assert_int_equal(tg_plan_actual_weight(0, 0), 0);
    assert_int_equal(tg_plan_actual_weight(0, 3), 100);
    assert_int_equal(tg_plan_actual_weight(1, 1), 50);
}

/* A Rollout without a name cannot be planned; NULL plans free fine. */
static void test_bad_input(void **state)
{
    struct tg_plan *plan = (struct tg_plan *)1;
    json_object *ro = json_tokener_parse("{\"kind\": \"Rollout\", \"metadata\": {}}");
    struct tg_plan_input in = {.rollout = ro, .now_ms = 1};

    (void)state;
    assert_int_equal(tg_plan_build(&in, &plan), TG_EINVALID);
    assert_null(plan);
    in.rollout = NULL;
    assert_int_equal(tg_plan_build(&in, &plan), TG_EINVALID);
    tg_plan_free(NULL);
    json_object_put(ro);
}

/* The rendering of each kind of action that the fixtures and the debug log rely on. */
/* A Release naming a Rollout that does not exist waits for it; one already started is left. */
static void test_orphans(void **state)
{
    json_object *standin = json_tokener_parse("{\"metadata\": {\"name\": \"ghost\", "
                                              "\"namespace\": \"shop\"}}");
    json_object *fresh =
        json_tokener_parse("{\"metadata\": {\"name\": \"ghost-1\", \"namespace\": \"shop\", "
                           "\"generation\": 1}, \"spec\": {\"rollout\": \"ghost\"}}");
    json_object *started = json_tokener_parse(
        "{\"metadata\": {\"name\": \"ghost-0\", \"namespace\": \"shop\"}, "
        "\"spec\": {\"rollout\": \"ghost\"}, \"status\": {\"phase\": \"Succeeded\"}}");
    struct tg_plan_release rels[2] = {{fresh, NULL, NULL, NULL}, {started, NULL, NULL, NULL}};
    struct tg_plan_input in = {
        .rollout = standin, .releases = rels, .n_releases = 2, .now_ms = 1764151200000};
    struct tg_plan *plan;

    (void)state;
    assert_int_equal(tg_plan_orphans(&in, &plan), 0);
    int pending = 0;
    for (size_t i = 0; i < plan->n_actions; i++) {
        const struct tg_action *a = &plan->actions[i];
        json_object *st = json_object_object_get(a->body, "status");
        const char *phase = json_object_get_string(json_object_object_get(st, "phase"));
        assert_int_equal(a->kind, TG_ACTION_PATCH_STATUS);
        if (strcmp(a->name, "ghost-0") == 0) {
            assert_null(phase); /* already delivered: its phase stays */
            continue;
        }
        assert_string_equal(a->name, "ghost-1");
        assert_string_equal(phase, "Pending");
        assert_string_equal(json_object_get_string(json_object_object_get(st, "message")),
                            "Waiting: Rollout ghost does not exist");
        pending++;
    }
    tg_plan_free(plan);
    assert_int_equal(pending, 1);
    json_object_put(standin);
    json_object_put(fresh);
    json_object_put(started);
}

static void test_action_json(void **state)
{
    struct tg_action a = {
        .kind = TG_ACTION_PATCH,
        .object_kind = "Deployment",
        .name = "web-stable",
        .namespace = "shop",
        .subresource = "scale",
        .patch_type = TG_PLAN_PATCH_STRATEGIC,
    };
    (void)state;
    json_object *j = tg_action_to_json(&a);
    json_object *want = json_tokener_parse(
        "{\"op\": \"patch\", \"kind\": \"Deployment\", \"name\": \"web-stable\", "
        "\"namespace\": \"shop\", \"subresource\": \"scale\", \"patchType\": \"strategic\"}");
    assert_true(json_object_equal(j, want));
    json_object_put(j);
    json_object_put(want);

    struct tg_action e = {.kind = TG_ACTION_EVENT,
                          .object_kind = "Rollout",
                          .name = "web",
                          .warning = true,
                          .reason = "InvalidSpec",
                          .message = "spec.replicas: bad"};
    j = tg_action_to_json(&e);
    want = json_tokener_parse("{\"op\": \"event\", \"kind\": \"Rollout\", \"name\": \"web\", "
                              "\"type\": \"Warning\", \"reason\": \"InvalidSpec\", "
                              "\"message\": \"spec.replicas: bad\"}");
    assert_true(json_object_equal(j, want));
    json_object_put(j);
    json_object_put(want);
}

/* spec.verify is part of spec_hash: key order does not change it, a change of meaning does. */
static void test_verify_spec_hash(void **state)
{
    static const char *const docs[] = {
        "{\"metadata\": {\"name\": \"r\"}, \"spec\": {\"rollout\": \"web\", \"version\": "
        "\"1.0.0\", \"artifact\": {\"image\": \"web@sha256:"
        "1111111111111111111111111111111111111111111111111111111111111111\"}%s}}",
    };
    const char *verifies[] = {
        "",
        ", \"verify\": {\"authorities\": [{\"name\": \"ci\", \"tlog\": \"ignore\", \"key\": "
        "{\"secretRef\": {\"name\": \"k\", \"key\": \"cosign.pub\"}}}], \"mode\": \"warn\", "
        "\"sbom\": {\"formats\": [\"spdx\"]}}",
        ", \"verify\": {\"authorities\": [{\"name\": \"ci\", \"tlog\": \"ignore\", \"key\": "
        "{\"secretRef\": {\"name\": \"k\", \"key\": \"cosign.pub\"}}}], \"sbom\": {\"formats\": "
        "[\"spdx\"]}, \"mode\": \"warn\"}",
        ", \"verify\": {\"authorities\": [{\"name\": \"ci\", \"tlog\": \"ignore\", \"key\": "
        "{\"secretRef\": {\"name\": \"k\", \"key\": \"cosign.pub\"}}}], \"sbom\": {\"formats\": "
        "[\"cyclonedx\"]}, \"mode\": \"warn\"}",
    };
    char hashes[4][65];

    (void)state;
    for (size_t i = 0; i < 4; i++) {
        char text[1024];
        struct tg_release_spec *spec = NULL;
        struct tg_field_errors errs;
        memset(&errs, 0, sizeof(errs));
        snprintf(text, sizeof(text), docs[0], verifies[i]);
        json_object *obj = json_tokener_parse(text);
        assert_non_null(obj);
        assert_int_equal(tg_release_spec_parse(obj, &spec, &errs), 0);
        assert_true((spec->verify != NULL) == (i > 0));
        memcpy(hashes[i], spec->spec_hash, sizeof(hashes[i]));
        tg_release_spec_free(spec);
        tg_field_errors_free(&errs);
        json_object_put(obj);
    }
    assert_string_not_equal(hashes[0], hashes[1]);
    assert_string_equal(hashes[1], hashes[2]);
    assert_string_not_equal(hashes[2], hashes[3]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),  cmocka_unit_test(test_canary_rounding),
        cmocka_unit_test(test_bad_input), cmocka_unit_test(test_action_json),
        cmocka_unit_test(test_orphans),   cmocka_unit_test(test_verify_spec_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
