/*
 * Unit tests for rollout/spec: table tests over the JSON files of tests/fixtures/spec. A fixture
 * holds an object and either the typed view expected from it ("view", for valid objects: every
 * default the parser applies is visible there) or the exact list of problems expected ("errors").
 * Adding a case is adding a file. Further tests cover durations, images, the error list and
 * the Release's spec hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/spec.h"
#include "util/error.h"

#define SPEC_FIXTURES TG_FIXTURES_DIR "/spec"

/* ---- views: the typed structs rendered as JSON, to compare with the fixtures ---- */

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *labels_view(const struct tg_label *labels, size_t n)
{
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < n; i++)
        json_object_object_add(o, labels[i].key, json_object_new_string(labels[i].value));
    return o;
}

static json_object *metric_view(const struct tg_metric_spec *m)
{
    static const char *const no_data[] = {"fail", "inconclusive", "pass", "wait"};
    json_object *o = json_object_new_object();
    const struct tg_metric_policy *p = &m->policy;

    json_object_object_add(o, "name", str_or_null(m->name));
    json_object_object_add(o, "query", str_or_null(m->query));
    json_object_object_add(o, "interval", json_object_new_int64(m->interval_ms));
    json_object_object_add(o, "initialDelay", json_object_new_int64(m->initial_delay_ms));
    json_object_object_add(o, "count", json_object_new_int64(p->count));
    json_object_object_add(o, "min", p->has_min ? json_object_new_double(p->min) : NULL);
    json_object_object_add(o, "max", p->has_max ? json_object_new_double(p->max) : NULL);
    json_object_object_add(o, "failureLimit", json_object_new_int64(p->failure_limit));
    json_object_object_add(o, "inconclusiveLimit", json_object_new_int64(p->inconclusive_limit));
    json_object_object_add(o, "consecutiveErrorLimit",
                           json_object_new_int64(p->consecutive_error_limit));
    json_object_object_add(o, "noData", json_object_new_string(no_data[p->no_data]));
    json_object_object_add(o, "dryRun", json_object_new_boolean(p->dry_run));
    if (m->compare == TG_COMPARE_BASELINE) {
        json_object_object_add(o, "compare", json_object_new_string("baseline"));
        json_object_object_add(o, "confidence", json_object_new_double(m->confidence));
        json_object_object_add(o, "direction",
                               json_object_new_string(m->direction == TG_MW_GREATER ? "increase"
                                                      : m->direction == TG_MW_LESS  ? "decrease"
                                                                                    : "either"));
        json_object_object_add(o, "maxMedianRatio",
                               m->has_max_median_ratio ? json_object_new_double(m->max_median_ratio)
                                                       : NULL);
        json_object_object_add(o, "lookback", json_object_new_int64(m->lookback_ms));
        json_object_object_add(o, "step", json_object_new_int64(m->step_ms));
    } else {
        /* The compare fields keep their defaults without compare; the view checks them too. */
        assert_true(m->confidence == 0.95 && m->direction == TG_MW_GREATER &&
                    m->lookback_ms == 60000 && m->step_ms == 5000 && !m->has_max_median_ratio);
    }
    return o;
}

static json_object *metrics_view(const struct tg_metric_spec *metrics, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, metric_view(&metrics[i]));
    return a;
}

static json_object *analysis_view(const struct tg_analysis *a)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "metrics", metrics_view(a->metrics, a->n_metrics));
    json_object_object_add(o, "args", labels_view(a->args, a->n_args));
    return o;
}

static json_object *settings_view(const struct tg_analysis_settings *s)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "prometheusAddress", str_or_null(s->prometheus_address));
    json_object_object_add(o, "prometheusTimeout", json_object_new_int64(s->prometheus_timeout_ms));
    json_object_object_add(o, "onError",
                           json_object_new_string(s->on_error_rollback ? "rollback" : "pause"));
    json_object_object_add(o, "baseline", json_object_new_boolean(s->baseline));
    json_object_object_add(o, "args", labels_view(s->args, s->n_args));
    json_object_object_add(o, "metrics", metrics_view(s->metrics, s->n_metrics));
    json_object *smoke = json_object_new_array();
    for (size_t i = 0; i < s->n_smoke_tests; i++) {
        const struct tg_smoke_test *t = &s->smoke_tests[i];
        json_object *v = json_object_new_object();
        json_object_object_add(v, "name", str_or_null(t->name));
        if (t->kind == TG_SMOKE_HTTP) {
            json_object *h = json_object_new_object();
            json_object_object_add(h, "url", str_or_null(t->url));
            json_object_object_add(h, "method", str_or_null(t->method));
            json_object_object_add(h, "expectedStatus", json_object_new_int(t->expected_status));
            json_object_object_add(h, "bodyPattern", str_or_null(t->body_pattern));
            json_object_object_add(h, "timeout", json_object_new_int64(t->timeout_ms));
            json_object_object_add(h, "retries", json_object_new_int(t->retries));
            json_object_object_add(v, "http", h);
            assert_null(t->job_template);
        } else {
            json_object *j = json_object_new_object();
            json_object_object_add(j, "deadline", json_object_new_int64(t->deadline_ms));
            json_object_object_add(j, "template", json_object_get(t->job_template));
            json_object_object_add(v, "job", j);
            assert_null(t->url);
        }
        json_object_array_add(smoke, v);
    }
    json_object_object_add(o, "smokeTests", smoke);
    return o;
}

static json_object *rollout_view(const struct tg_rollout_spec *r)
{
    json_object *v = json_object_new_object();

    json_object_object_add(v, "name", str_or_null(r->name));
    json_object_object_add(v, "namespace", str_or_null(r->namespace));
    json_object_object_add(v, "uid", str_or_null(r->uid));
    json_object_object_add(v, "generation", json_object_new_int64(r->generation));
    json_object_object_add(v, "template", json_object_new_boolean(r->pod_template != NULL));
    if (r->workload_ref) {
        json_object *w = json_object_new_object();
        json_object_object_add(w, "apiVersion", str_or_null(r->workload_ref->api_version));
        json_object_object_add(w, "kind", str_or_null(r->workload_ref->kind));
        json_object_object_add(w, "name", str_or_null(r->workload_ref->name));
        json_object_object_add(v, "workloadRef", w);
    } else {
        json_object_object_add(v, "workloadRef", NULL);
    }
    json_object_object_add(v, "replicas", json_object_new_int(r->replicas));
    json_object_object_add(v, "selector", labels_view(r->selector, r->n_selector));
    json_object *svc = json_object_new_object();
    json_object_object_add(svc, "name", str_or_null(r->service.name));
    json_object_object_add(svc, "port", json_object_new_int(r->service.port));
    json_object_object_add(svc, "targetPort", json_object_new_int(r->service.target_port));
    json_object_object_add(svc, "targetPortName", str_or_null(r->service.target_port_name));
    json_object_object_add(v, "service", svc);
    if (r->strategy == TG_STRATEGY_CANARY) {
        json_object_object_add(v, "strategy", json_object_new_string("Canary"));
        json_object *steps = json_object_new_array();
        for (size_t i = 0; i < r->canary.n_steps; i++) {
            const struct tg_canary_step *s = tg_rollout_spec_step(r, i);
            json_object *o = json_object_new_object();
            if (s->kind == TG_STEP_SET_WEIGHT)
                json_object_object_add(o, "setWeight", json_object_new_int(s->weight));
            else if (s->kind == TG_STEP_ANALYSIS)
                json_object_object_add(o, "analysis", analysis_view(&s->analysis));
            else
                json_object_object_add(
                    o, "pause", s->has_duration ? json_object_new_int64(s->duration_ms) : NULL);
            json_object_array_add(steps, o);
        }
        assert_null(tg_rollout_spec_step(r, r->canary.n_steps));
        json_object_object_add(v, "steps", steps);
        json_object *rt = json_object_new_object();
        const struct tg_traffic_routing *tr = &r->canary.routing;
        static const char *const kinds[] = {"replicas", "gatewayAPI", "nginx"};
        json_object_object_add(rt, "kind", json_object_new_string(kinds[tr->kind]));
        if (tr->kind == TG_ROUTING_GATEWAY_API) {
            json_object_object_add(rt, "httpRoute", str_or_null(tr->http_route));
            json_object_object_add(rt, "namespace", str_or_null(tr->route_namespace));
        } else if (tr->kind == TG_ROUTING_NGINX) {
            json_object_object_add(rt, "ingress", str_or_null(tr->ingress));
        }
        json_object_object_add(v, "routing", rt);
        if (r->canary.has_background)
            json_object_object_add(v, "backgroundAnalysis", analysis_view(&r->canary.background));
    } else {
        const struct tg_blue_green_strategy *b = &r->blue_green;
        json_object_object_add(v, "strategy", json_object_new_string("BlueGreen"));
        assert_null(tg_rollout_spec_step(r, 0));
        json_object *o = json_object_new_object();
        json_object_object_add(o, "activeService", str_or_null(b->active_service));
        json_object_object_add(o, "previewService", str_or_null(b->preview_service));
        json_object_object_add(o, "autoPromotionEnabled",
                               json_object_new_boolean(b->auto_promotion_enabled));
        json_object_object_add(
            o, "autoPromotionSeconds",
            b->has_auto_promotion_delay ? json_object_new_int(b->auto_promotion_seconds) : NULL);
        json_object_object_add(o, "scaleDownDelaySeconds",
                               json_object_new_int(b->scale_down_delay_seconds));
        if (b->has_pre_promotion)
            json_object_object_add(o, "prePromotionAnalysis", analysis_view(&b->pre_promotion));
        if (b->has_post_promotion)
            json_object_object_add(o, "postPromotionAnalysis", analysis_view(&b->post_promotion));
        json_object_object_add(v, "blueGreen", o);
    }
    json_object_object_add(v, "progressDeadlineSeconds",
                           json_object_new_int(r->progress_deadline_seconds));
    json_object_object_add(v, "revisionHistoryLimit",
                           json_object_new_int(r->revision_history_limit));
    json_object_object_add(v, "paused", json_object_new_boolean(r->paused));
    if (r->analysis.present)
        json_object_object_add(v, "analysis", settings_view(&r->analysis));
    return v;
}

static json_object *release_view(const struct tg_release_spec *r)
{
    json_object *v = json_object_new_object();

    json_object_object_add(v, "name", str_or_null(r->name));
    json_object_object_add(v, "namespace", str_or_null(r->namespace));
    json_object_object_add(v, "generation", json_object_new_int64(r->generation));
    json_object_object_add(v, "rollout", str_or_null(r->rollout));
    json_object *ver = json_object_new_object();
    json_object_object_add(ver, "text", json_object_new_string(r->version.text));
    json_object_object_add(ver, "major", json_object_new_int64((int64_t)r->version.major));
    json_object_object_add(ver, "minor", json_object_new_int64((int64_t)r->version.minor));
    json_object_object_add(ver, "patch", json_object_new_int64((int64_t)r->version.patch));
    json_object_object_add(ver, "prerelease", json_object_new_string(r->version.prerelease));
    json_object_object_add(ver, "build", json_object_new_string(r->version.build));
    json_object_object_add(ver, "buildNumber", json_object_new_int64(r->version.build_number));
    json_object_object_add(ver, "sha", json_object_new_string(r->version.sha));
    json_object_object_add(v, "version", ver);
    json_object_object_add(v, "image", str_or_null(r->image));
    json_object_object_add(v, "digest", str_or_null(r->digest));
    json_object_object_add(v, "container", str_or_null(r->container));
    json_object_object_add(v, "allowTags", json_object_new_boolean(r->allow_tags));
    if (r->source_repository || r->source_commit || r->has_committed_at) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "repository", str_or_null(r->source_repository));
        json_object_object_add(s, "commit", str_or_null(r->source_commit));
        json_object_object_add(s, "committedAt",
                               r->has_committed_at ? json_object_new_int64(r->committed_at) : NULL);
        json_object_object_add(v, "source", s);
    } else {
        json_object_object_add(v, "source", NULL);
    }
    json_object_object_add(v, "notes", str_or_null(r->notes));
    json_object *changes = json_object_new_array();
    for (size_t i = 0; i < r->n_changes; i++) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "id", str_or_null(r->changes[i].id));
        json_object_object_add(c, "title", str_or_null(r->changes[i].title));
        json_object_object_add(c, "url", str_or_null(r->changes[i].url));
        json_object_array_add(changes, c);
    }
    json_object_object_add(v, "changes", changes);
    if (r->promoted_from_namespace || r->promoted_from_release) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "namespace", str_or_null(r->promoted_from_namespace));
        json_object_object_add(p, "release", str_or_null(r->promoted_from_release));
        json_object_object_add(v, "promotedFrom", p);
    } else {
        json_object_object_add(v, "promotedFrom", NULL);
    }
    return v;
}

/* ---- the fixture table ---- */

static void check_errors(const char *file, const struct tg_field_errors *errs, json_object *want)
{
    size_t n = json_object_array_length(want);
    bool same = n == errs->len;

    for (size_t i = 0; same && i < n; i++) {
        char got[2048];
        snprintf(got, sizeof(got), "%s: %s", errs->items[i].field, errs->items[i].message);
        same = strcmp(got, json_object_get_string(json_object_array_get_idx(want, i))) == 0;
    }
    if (!same) {
        char *joined = tg_field_errors_join(errs);
        fail_msg("%s: errors differ\n got: %s\nwant: %s", file, joined,
                 json_object_to_json_string(want));
    }
}

static void run_fixture(const char *file)
{
    char path[1024];
    struct tg_field_errors errs = {0};
    json_object *view = NULL, *want_view = NULL, *want_errors = NULL;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", SPEC_FIXTURES, file);
    json_object *fx = json_object_from_file(path);
    if (!fx)
        fail_msg("%s: cannot read or parse", path);
    json_object *obj = json_object_object_get(fx, "object");
    bool has_view = json_object_object_get_ex(fx, "view", &want_view);
    bool has_errors = json_object_object_get_ex(fx, "errors", &want_errors);
    assert_true(has_view != has_errors);

    if (strncmp(file, "rollout-", 8) == 0) {
        struct tg_rollout_spec *spec = NULL;
        rc = tg_rollout_spec_parse(obj, &spec, &errs);
        if (spec)
            view = rollout_view(spec);
        tg_rollout_spec_free(spec);
    } else {
        assert_int_equal(strncmp(file, "release-", 8), 0);
        struct tg_release_spec *spec = NULL;
        rc = tg_release_spec_parse(obj, &spec, &errs);
        if (spec) {
            view = release_view(spec);
            assert_int_equal(strlen(spec->spec_hash), 64);
        }
        tg_release_spec_free(spec);
    }
    if (has_errors) {
        if (rc != TG_EINVALID)
            fail_msg("%s: accepted, want errors %s", file, json_object_to_json_string(want_errors));
        assert_null(view);
        check_errors(file, &errs, want_errors);
        assert_non_null(strstr(tg_error_last(), "problem(s)"));
    } else {
        if (rc != 0) {
            char *joined = tg_field_errors_join(&errs);
            fail_msg("%s: refused: %s", file, joined);
        }
        assert_int_equal(errs.len, 0);
        if (!json_object_equal(view, want_view))
            fail_msg("%s: view differs\n got: %s\nwant: %s", file,
                     json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN),
                     json_object_to_json_string_ext(want_view, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(view);
    json_object_put(fx);
    tg_field_errors_free(&errs);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fixtures_parse_as_expected(void **state)
{
    char *names[256] = {0};
    size_t n = 0, valid = 0, invalid = 0;

    (void)state;
    DIR *dir = opendir(SPEC_FIXTURES);
    assert_non_null(dir);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL && n < 256) {
        size_t len = strlen(de->d_name);
        if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof(names[0]), by_name);
    for (size_t i = 0; i < n; i++) {
        run_fixture(names[i]);
        if (strstr(names[i], "-invalid-"))
            invalid++;
        else
            valid++;
        free(names[i]);
    }
    /* The table must not silently shrink. */
    assert_true(valid >= 12);
    assert_true(invalid >= 28);
}

/* ---- durations ---- */

struct duration_case {
    const char *json;
    int64_t ms; /* -1: refused */
    const char *message;
};

static const struct duration_case durations[] = {
    {"30", 30000, NULL},
    {"\"30\"", 30000, NULL},
    {"0", 0, NULL},
    {"\"45s\"", 45000, NULL},
    {"\"5m\"", 300000, NULL},
    {"\"1h\"", 3600000, NULL},
    {"\"1h30m\"", 5400000, NULL},
    {"\"500ms\"", 500, NULL},
    {"\"1m500ms\"", 60500, NULL},
    {"\"2m1s\"", 121000, NULL},
    {"\"720h\"", 2592000000LL, NULL},
    {"2592000", 2592000000LL, NULL},
    {"\"720h1ms\"", -1, "must be at most 30 days"},
    {"2592001", -1, "must be at most 30 days"},
    {"\"99999999999999999999s\"", -1, "must be at most 30 days"},
    {"-1", -1, "must not be negative (got -1)"},
    {"\"\"", -1,
     "invalid duration \"\": use an integer number of seconds or h, m, s and ms "
     "parts like \"1h30m\""},
    {"\"1d\"", -1,
     "invalid duration \"1d\": use an integer number of seconds or h, m, s and ms "
     "parts like \"1h30m\""},
    {"\"h\"", -1,
     "invalid duration \"h\": use an integer number of seconds or h, m, s and ms "
     "parts like \"1h30m\""},
    {"\"1h30\"", -1,
     "invalid duration \"1h30\": use an integer number of seconds or h, m, s "
     "and ms parts like \"1h30m\""},
    {"\"1.5h\"", -1,
     "invalid duration \"1.5h\": use an integer number of seconds or h, m, s "
     "and ms parts like \"1h30m\""},
    {"\"-5s\"", -1,
     "invalid duration \"-5s\": use an integer number of seconds or h, m, s and "
     "ms parts like \"1h30m\""},
    {"\" 5s\"", -1,
     "invalid duration \" 5s\": use an integer number of seconds or h, m, s and "
     "ms parts like \"1h30m\""},
    {"1.5", -1, "must be a number of seconds or a duration string"},
    {"true", -1, "must be a number of seconds or a duration string"},
    {"null", -1, "must be a number of seconds or a duration string"},
};

static void durations_parse_like_argo(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        const struct duration_case *c = &durations[i];
        json_object *v = json_tokener_parse(c->json);
        int64_t ms = 7;
        int rc = tg_duration_parse_ms(v, &ms);
        if (c->ms >= 0) {
            if (rc != 0)
                fail_msg("%s: refused: %s", c->json, tg_error_last());
            if (ms != c->ms)
                fail_msg("%s: %lld ms, want %lld", c->json, (long long)ms, (long long)c->ms);
        } else {
            if (rc != TG_EINVALID)
                fail_msg("%s: accepted as %lld ms", c->json, (long long)ms);
            assert_string_equal(tg_error_last(), c->message);
            assert_int_equal(ms, 0);
        }
        json_object_put(v);
    }
}

/* Every prefix of a valid duration either parses or is refused cleanly. */
static void duration_prefixes_are_handled(void **state)
{
    const char *full = "1h2m3s4ms";
    char buf[32];

    (void)state;
    for (size_t n = 0; n <= strlen(full); n++) {
        memcpy(buf, full, n);
        buf[n] = '\0';
        json_object *v = json_object_new_string(buf);
        int64_t ms;
        int rc = tg_duration_parse_ms(v, &ms);
        /* "1", "1h", "1h2m", "1h2m3s", "1h2m3s4ms" are whole durations; "1h2m3s4m" is too. */
        bool whole = n == 1 || n == 2 || n == 4 || n == 6 || n == 8 || n == 9;
        if (whole != (rc == 0))
            fail_msg("prefix \"%s\": rc %d", buf, rc);
        json_object_put(v);
    }
}

/* ---- images ---- */

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct image_case {
    const char *image;
    bool allow_tags;
    const char *digest; /* expected digest, "" for none; NULL when refused */
    const char *message;
};

static const struct image_case images[] = {
    {"registry.example/shop/web@" DIGEST, false, DIGEST, NULL},
    {"web@" DIGEST, false, DIGEST, NULL},
    {"localhost:5000/web:1.2.3@" DIGEST, false, DIGEST, NULL},
    {"Registry.Example:443/a/b/c:v1@" DIGEST, false, DIGEST, NULL},
    {"registry.example/shop/web:1.2.3", true, "", NULL},
    {"localhost/web:latest", true, "", NULL},
    {"web@" DIGEST, true, DIGEST, NULL},
    {"registry.example/shop/web:1.2.3", false, NULL,
     "must be pinned by digest (name@sha256:<64 hex digits>); set spec.artifact.allowTags to "
     "accept a tag"},
    {"localhost:5000/web", false, NULL,
     "must be pinned by digest (name@sha256:<64 hex digits>); set spec.artifact.allowTags to "
     "accept a tag"},
    {"localhost:5000/web", true, NULL,
     "has neither a tag nor a digest; name one explicitly (an implicit \"latest\" is not a "
     "release)"},
    {"web@sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789", false, NULL,
     "invalid digest \"sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\": "
     "must be sha256: followed by 64 lowercase hex digits"},
    {"web@sha512:00", false, NULL,
     "invalid digest \"sha512:00\": must be sha256: followed by 64 lowercase hex digits"},
    {"web@" DIGEST "0", false, NULL,
     "invalid digest \"" DIGEST "0\": must be sha256: followed by 64 lowercase hex digits"},
    {"Web@" DIGEST, false, NULL,
     "invalid repository \"Web\": lowercase letters, digits, '.', '_', '-' and '/', after an "
     "optional registry host"},
    {"a//b@" DIGEST, false, NULL,
     "invalid repository \"a//b\": lowercase letters, digits, '.', '_', '-' and '/', after an "
     "optional registry host"},
    {"@" DIGEST, false, NULL,
     "invalid repository \"\": lowercase letters, digits, '.', '_', '-' and '/', after an "
     "optional registry host"},
    {"web:-x", true, NULL, "invalid tag \"-x\""},
    {"web:", true, NULL, "invalid tag \"\""},
    {"web :1", true, NULL, "must not contain whitespace"},
    {"", true, NULL, "must not be empty"},
};

static void images_must_be_pinned(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
        const struct image_case *c = &images[i];
        char *digest = (char *)"untouched";
        int rc = tg_image_check(c->image, c->allow_tags, &digest);
        if (c->digest) {
            if (rc != 0)
                fail_msg("%s: refused: %s", c->image, tg_error_last());
            if (c->digest[0] == '\0')
                assert_null(digest);
            else
                assert_string_equal(digest, c->digest);
            free(digest);
        } else {
            if (rc != TG_EINVALID)
                fail_msg("%s (allowTags %d): accepted", c->image, c->allow_tags);
            assert_null(digest);
            assert_string_equal(tg_error_last(), c->message);
        }
    }
    assert_int_equal(tg_image_check("web@" DIGEST, false, NULL), 0);
}

/* ---- the error list ---- */

static void errors_are_capped_and_joined(void **state)
{
    struct tg_field_errors errs = {0};

    (void)state;
    char *empty = tg_field_errors_join(&errs);
    assert_string_equal(empty, "");
    free(empty);
    for (int i = 0; i < TG_FIELD_ERRORS_MAX + 3; i++)
        tg_field_errors_add(&errs, "spec.x", "problem %d", i);
    assert_int_equal(errs.len, TG_FIELD_ERRORS_MAX);
    assert_int_equal(errs.dropped, 3);
    char *joined = tg_field_errors_join(&errs);
    assert_non_null(strstr(joined, "spec.x: problem 0; spec.x: problem 1; "));
    const char *tail = joined + strlen(joined) - strlen("spec.x: problem 31; and 3 more");
    assert_string_equal(tail, "spec.x: problem 31; and 3 more");
    free(joined);
    tg_field_errors_free(&errs);
    assert_int_equal(errs.len, 0);
}

static void many_problems_are_counted(void **state)
{
    struct tg_field_errors errs = {0};
    struct tg_rollout_spec *spec = (struct tg_rollout_spec *)1;
    json_object *steps = json_object_new_array();

    (void)state;
    for (int i = 0; i < 40; i++)
        json_object_array_add(steps, json_object_new_object());
    json_object *obj =
        json_tokener_parse("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"workloadRef\":"
                           "{\"kind\":\"Deployment\",\"name\":\"web\"},\"service\":{"
                           "\"name\":\"web\"},\"strategy\":{\"canary\":{}}}}");
    json_object_object_add(
        json_object_object_get(
            json_object_object_get(json_object_object_get(obj, "spec"), "strategy"), "canary"),
        "steps", steps);
    assert_int_equal(tg_rollout_spec_parse(obj, &spec, &errs), TG_EINVALID);
    assert_null(spec);
    assert_int_equal(errs.len, TG_FIELD_ERRORS_MAX);
    assert_int_equal(errs.dropped, 40 - TG_FIELD_ERRORS_MAX);
    assert_string_equal(tg_error_last(), "invalid Rollout: 40 problem(s)");
    tg_field_errors_free(&errs);
    json_object_put(obj);
}

static void non_objects_are_refused(void **state)
{
    struct tg_field_errors errs = {0};
    struct tg_rollout_spec *ro = NULL;
    struct tg_release_spec *rel = NULL;
    json_object *arr = json_object_new_array();

    (void)state;
    assert_int_equal(tg_rollout_spec_parse(arr, &ro, &errs), TG_EINVALID);
    assert_string_equal(errs.items[0].field, "<root>");
    tg_field_errors_free(&errs);
    assert_int_equal(tg_release_spec_parse(NULL, &rel, &errs), TG_EINVALID);
    assert_string_equal(errs.items[0].message, "must be an object");
    tg_field_errors_free(&errs);
    json_object *nometa = json_tokener_parse("{\"spec\":{}}");
    assert_int_equal(tg_release_spec_parse(nometa, &rel, &errs), TG_EINVALID);
    assert_string_equal(errs.items[0].field, "metadata");
    assert_string_equal(errs.items[0].message, "is required");
    tg_field_errors_free(&errs);
    json_object_put(nometa);
    json_object_put(arr);
}

/* ---- the template reference and the Release hash ---- */

static json_object *load_object(const char *file)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", SPEC_FIXTURES, file);
    json_object *fx = json_object_from_file(path);
    assert_non_null(fx);
    json_object *obj = json_object_get(json_object_object_get(fx, "object"));
    json_object_put(fx);
    return obj;
}

static void template_outlives_the_object(void **state)
{
    struct tg_field_errors errs = {0};
    struct tg_rollout_spec *spec = NULL;
    json_object *obj = load_object("rollout-valid-canary-minimal.json");

    (void)state;
    assert_int_equal(tg_rollout_spec_parse(obj, &spec, &errs), 0);
    json_object_put(obj);
    json_object *containers = NULL;
    json_object *pod = json_object_object_get(spec->pod_template, "spec");
    assert_true(json_object_object_get_ex(pod, "containers", &containers));
    assert_int_equal(json_object_array_length(containers), 1);
    tg_rollout_spec_free(spec);
}

/* A smoke test's Job template is a reference of our own, like the pod template. */
static void job_template_outlives_the_object(void **state)
{
    struct tg_field_errors errs = {0};
    struct tg_rollout_spec *spec = NULL;
    json_object *obj = load_object("rollout-valid-analysis-bluegreen.json");

    (void)state;
    assert_int_equal(tg_rollout_spec_parse(obj, &spec, &errs), 0);
    json_object_put(obj);
    assert_int_equal(spec->analysis.n_smoke_tests, 2);
    const struct tg_smoke_test *t = &spec->analysis.smoke_tests[1];
    assert_int_equal(t->kind, TG_SMOKE_JOB);
    json_object *backoff = NULL;
    assert_true(json_object_object_get_ex(json_object_object_get(t->job_template, "spec"),
                                          "backoffLimit", &backoff));
    assert_int_equal(json_object_get_int(backoff), 0);
    tg_rollout_spec_free(spec);
}

/*
 * Every resolved analysis owns its metrics and args: a step's copy of a catalogue metric is
 * not the catalogue's memory, so freeing (under ASan) a fully populated spec frees each once.
 */
static void resolved_analyses_are_deep_copies(void **state)
{
    struct tg_field_errors errs = {0};
    struct tg_rollout_spec *spec = NULL;
    json_object *obj = load_object("rollout-valid-analysis-overrides.json");

    (void)state;
    assert_int_equal(tg_rollout_spec_parse(obj, &spec, &errs), 0);
    json_object_put(obj);
    const struct tg_analysis_settings *s = &spec->analysis;
    assert_int_equal(s->n_metrics, 2);
    for (size_t i = 0; i < spec->canary.n_steps; i++) {
        const struct tg_canary_step *st = tg_rollout_spec_step(spec, i);
        if (st->kind != TG_STEP_ANALYSIS)
            continue;
        assert_true(st->analysis.n_metrics >= 1);
        for (size_t j = 0; j < st->analysis.n_metrics; j++) {
            const struct tg_metric_spec *m = &st->analysis.metrics[j];
            for (size_t k = 0; k < s->n_metrics; k++) {
                assert_ptr_not_equal(m->name, s->metrics[k].name);
                assert_ptr_not_equal(m->query, s->metrics[k].query);
            }
        }
        for (size_t j = 0; j < st->analysis.n_args; j++)
            assert_ptr_not_equal(st->analysis.args[j].value, s->args[0].value);
    }
    assert_true(spec->canary.has_background);
    assert_int_equal(spec->canary.background.n_metrics, 2);
    tg_rollout_spec_free(spec);
}

struct template_case {
    const char *query;
    const char *error; /* NULL: accepted */
};

/* Queries checked at parse time against the variables the operator provides and the args. */
static const struct template_case templates[] = {
    {"up", NULL},
    {"up{namespace=\"{{namespace}}\",rollout=\"{{rollout}}\",release=\"{{release}}\"}", NULL},
    {"up{version=\"{{version}}\",track=\"{{track}}\",service=\"{{ service }}\"}[{{interval}}]",
     NULL},
    {"up{job=\"{{job}}\"}", NULL},
    {"up{x=\"{{nope}}\"}", "query template: unknown variable {{nope}}"},
    {"up{x=\"{{Track}}\"}", "query template: unknown variable {{Track}}"},
    {"up{x=\"{{track\"}", "query template: \"{{\" at offset 6 is never closed"},
    {"up{x=\"{{}}\"}", "query template: bad variable name at offset 6"},
};

static void query_templates_are_checked_at_parse_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
        const struct template_case *c = &templates[i];
        struct tg_field_errors errs = {0};
        struct tg_rollout_spec *spec = NULL;
        json_object *obj = load_object("rollout-valid-analysis-defaults.json");
        json_object *an = json_object_object_get(json_object_object_get(obj, "spec"), "analysis");
        json_object *args = json_object_new_object();
        json_object_object_add(args, "job", json_object_new_string("api"));
        json_object_object_add(an, "args", args);
        json_object *m = json_object_array_get_idx(json_object_object_get(an, "metrics"), 0);
        json_object_object_add(m, "query", json_object_new_string(c->query));
        int rc = tg_rollout_spec_parse(obj, &spec, &errs);
        if (!c->error) {
            if (rc != 0)
                fail_msg("%s: refused: %s", c->query, errs.items[0].message);
        } else {
            assert_int_equal(rc, TG_EINVALID);
            assert_int_equal(errs.len, 1);
            assert_string_equal(errs.items[0].field, "spec.analysis.metrics[0].query");
            assert_string_equal(errs.items[0].message, c->error);
        }
        tg_rollout_spec_free(spec);
        tg_field_errors_free(&errs);
        json_object_put(obj);
    }
}

static void release_hash(const char *json, char out[65])
{
    struct tg_field_errors errs = {0};
    struct tg_release_spec *spec = NULL;
    json_object *obj = json_tokener_parse(json);

    assert_non_null(obj);
    if (tg_release_spec_parse(obj, &spec, &errs) != 0) {
        char *joined = tg_field_errors_join(&errs);
        fail_msg("%s: %s", json, joined);
    }
    memcpy(out, spec->spec_hash, 65);
    tg_release_spec_free(spec);
    json_object_put(obj);
}

static void spec_hash_follows_meaning_not_form(void **state)
{
    char a[65], b[65], c[65], d[65], e[65], f[65];

    (void)state;
    release_hash(
        "{\"metadata\":{\"name\":\"r\"},\"spec\":{\"rollout\":\"web\",\"version\":\"1.0.0\","
        "\"artifact\":{\"image\":\"web@" DIGEST "\"}}}",
        a);
    /* Key order, a server default written out, metadata and status do not matter. */
    release_hash("{\"status\":{\"phase\":\"Progressing\"},\"spec\":{\"artifact\":{\"allowTags\":"
                 "false,\"image\":\"web@" DIGEST "\"},\"version\":\"1.0.0\",\"rollout\":\"web\"},"
                 "\"metadata\":{\"name\":\"r\",\"generation\":7,\"annotations\":{\"x\":\"y\"}}}",
                 b);
    assert_string_equal(a, b);
    /* Any change of meaning does. */
    release_hash(
        "{\"metadata\":{\"name\":\"r\"},\"spec\":{\"rollout\":\"web\",\"version\":\"1.0.1\","
        "\"artifact\":{\"image\":\"web@" DIGEST "\"}}}",
        c);
    assert_string_not_equal(a, c);
    release_hash(
        "{\"metadata\":{\"name\":\"r\"},\"spec\":{\"rollout\":\"web\",\"version\":\"1.0.0\","
        "\"artifact\":{\"image\":\"web@" DIGEST "\",\"allowTags\":true}}}",
        d);
    assert_string_not_equal(a, d);
    release_hash(
        "{\"metadata\":{\"name\":\"r\"},\"spec\":{\"rollout\":\"web\",\"version\":\"1.0.0\","
        "\"artifact\":{\"image\":\"web@" DIGEST "\"},\"notes\":\"\"}}",
        e);
    assert_string_not_equal(a, e);
    /* The same instant written two ways is the same commit time. */
    release_hash(
        "{\"metadata\":{\"name\":\"r\"},\"spec\":{\"rollout\":\"web\",\"version\":\"1.0.0\","
        "\"artifact\":{\"image\":\"web@" DIGEST "\"},\"source\":{\"committedAt\":"
        "\"2026-11-25T10:00:00Z\"}}}",
        e);
    release_hash(
        "{\"metadata\":{\"name\":\"r\"},\"spec\":{\"rollout\":\"web\",\"version\":\"1.0.0\","
        "\"artifact\":{\"image\":\"web@" DIGEST "\"},\"source\":{\"committedAt\":"
        "\"2026-11-25T11:30:00+01:30\"}}}",
        f);
    assert_string_equal(e, f);
    assert_string_not_equal(a, e);
}

static void target_container_is_found_by_name_or_first(void **state)
{
    struct tg_release_spec rel = {0};
    size_t i = 99;
    json_object *tmpl =
        json_tokener_parse("{\"spec\":{\"containers\":[{\"name\":\"proxy\"},{\"name\":\"api\"}]}}");
    json_object *empty = json_tokener_parse("{\"spec\":{\"containers\":[]}}");

    (void)state;
    assert_int_equal(tg_release_target_container(&rel, tmpl, &i), 0);
    assert_int_equal(i, 0);
    rel.container = (char *)"api";
    assert_int_equal(tg_release_target_container(&rel, tmpl, &i), 0);
    assert_int_equal(i, 1);
    rel.container = (char *)"web";
    assert_int_equal(tg_release_target_container(&rel, tmpl, &i), TG_EINVALID);
    assert_string_equal(tg_error_last(),
                        "spec.artifact.container: no container \"web\" in the pod template");
    assert_int_equal(tg_release_target_container(&rel, empty, &i), TG_EINVALID);
    assert_int_equal(tg_release_target_container(&rel, NULL, &i), TG_EINVALID);
    assert_string_equal(tg_error_last(), "the pod template has no containers");
    json_object_put(tmpl);
    json_object_put(empty);
}

static void intent_is_pending_until_handled(void **state)
{
    json_object *obj = json_tokener_parse(
        "{\"metadata\":{\"annotations\":{\"tollgate.io/promote\":\"2026-11-26T07:00:00Z-1\","
        "\"tollgate.io/abort\":\"\",\"tollgate.io/retry\":7}}}");

    (void)state;
    assert_string_equal(tg_intent_pending(obj, TG_ANNOTATION_PROMOTE, NULL),
                        "2026-11-26T07:00:00Z-1");
    assert_string_equal(tg_intent_pending(obj, TG_ANNOTATION_PROMOTE, "2026-11-26T06:00:00Z-9"),
                        "2026-11-26T07:00:00Z-1");
    assert_null(tg_intent_pending(obj, TG_ANNOTATION_PROMOTE, "2026-11-26T07:00:00Z-1"));
    assert_null(tg_intent_pending(obj, TG_ANNOTATION_ABORT, NULL));
    assert_null(tg_intent_pending(obj, TG_ANNOTATION_RETRY, NULL));
    assert_null(tg_intent_pending(obj, TG_ANNOTATION_ROLLBACK, NULL));
    assert_null(tg_intent_pending(NULL, TG_ANNOTATION_ROLLBACK, NULL));
    json_object_put(obj);
}

static void out_of_range_integers_say_which_bound(void **state)
{
    struct tg_field_errors errs = {0};
    struct tg_rollout_spec *spec = NULL;
    json_object *obj = load_object("rollout-valid-canary-minimal.json");

    (void)state;
    json_object_object_add(json_object_object_get(obj, "spec"), "replicas",
                           json_object_new_int64(1LL << 40));
    assert_int_equal(tg_rollout_spec_parse(obj, &spec, &errs), TG_EINVALID);
    assert_string_equal(errs.items[0].field, "spec.replicas");
    assert_string_equal(errs.items[0].message, "must be at most 2147483647 (got 1099511627776)");
    tg_field_errors_free(&errs);
    json_object_put(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_parse_as_expected),
        cmocka_unit_test(durations_parse_like_argo),
        cmocka_unit_test(duration_prefixes_are_handled),
        cmocka_unit_test(images_must_be_pinned),
        cmocka_unit_test(errors_are_capped_and_joined),
        cmocka_unit_test(many_problems_are_counted),
        cmocka_unit_test(non_objects_are_refused),
        cmocka_unit_test(template_outlives_the_object),
        cmocka_unit_test(job_template_outlives_the_object),
        cmocka_unit_test(resolved_analyses_are_deep_copies),
        cmocka_unit_test(query_templates_are_checked_at_parse_time),
        cmocka_unit_test(spec_hash_follows_meaning_not_form),
        cmocka_unit_test(target_container_is_found_by_name_or_first),
        cmocka_unit_test(intent_is_pending_until_handled),
        cmocka_unit_test(out_of_range_integers_say_which_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
