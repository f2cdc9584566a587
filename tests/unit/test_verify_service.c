/*
 * Unit tests for verify/verifier (the service): fetch from a routed local registry, judge,
 * cache per (image, policies, materials, commit) with a TTL on the loop's clock, no verdict
 * when the registry fails, cancellation when freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <uv.h>

#include "fake_http_server.h"
#include "util/error.h"
#include "verify/crypto.h"
#include "verify/verifier.h"

static const char MANIFEST[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image."
                               "manifest.v1+json\",\"layers\":[]}";
static const char POLICY[] =
    "[{\"name\":\"VerificationPolicy/prod\",\"spec\":{\"authorities\":[{\"name\":\"ci\",\"key\":"
    "{\"data\":\"-----BEGIN PUBLIC KEY-----\\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0TCwnFKeRha/gu4F5v78uHYZwQWw\\n"
    "w3peO7NTchxxgRGw6xwSTlPs80imsuaFlez+k6JiXLVLU4T2KEaKCoLHcQ==\\n"
    "-----END PUBLIC KEY-----\\n\"},\"tlog\":\"ignore\"}],\"signature\":{}}}]";

struct world {
    uv_loop_t loop;
    struct fake_server srv;
    struct fake_route routes[4];
    struct fake_routes table;
    struct tg_verifier *v;
    char host[64];
    char image[200];
    char match[120];
    char ok[600];
    int calls, rc;
    char message[1024];
    json_object *verdict;
};

static struct world W;

static void run_until(struct world *w, int n)
{
    FAKE_RUN_UNTIL(&w->srv, w->calls >= n, "timed out waiting for %d callbacks (got %d)", n,
                   w->calls);
}

static void on_verdict(int rc, const char *message, json_object *verdict, void *arg)
{
    struct world *w = arg;
    w->calls++;
    w->rc = rc;
    snprintf(w->message, sizeof(w->message), "%s", message ? message : "");
    json_object_put(w->verdict);
    w->verdict = json_object_get(verdict);
}

/* A registry that has the image's manifest and nothing else (manifest_response: its answer). */
static void world_start(struct world *w, int64_t ttl_ms, const char *manifest_response)
{
    struct tg_registry_options o = {.timeout_ms = 10000};
    const char *hosts[1];
    char hex[65];

    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    fake_server_start_routed(&w->srv, &w->loop, &w->table, w->routes);
    snprintf(w->host, sizeof(w->host), "127.0.0.1:%d", w->srv.port);
    tg_sha256_hex(MANIFEST, strlen(MANIFEST), hex);
    snprintf(w->image, sizeof(w->image), "%s/shop/web@sha256:%s", w->host, hex);
    snprintf(w->match, sizeof(w->match), "/manifests/sha256:%s ", hex);
    snprintf(w->ok, sizeof(w->ok),
             "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(MANIFEST), MANIFEST);
    w->routes[0].match = w->match;
    w->routes[0].response = manifest_response ? manifest_response : w->ok;
    w->table.n = 1;
    hosts[0] = w->host;
    o.http_hosts = hosts;
    o.n_http_hosts = 1;
    assert_int_equal(tg_verifier_new(&w->loop, &o, ttl_ms, &w->v), 0);
}

static void world_end(struct world *w)
{
    tg_verifier_free(w->v);
    fake_server_stop(&w->srv);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    json_object_put(w->verdict);
}

static void run_policy(struct world *w, const char *policies, const char *commit, bool no_cache)
{
    json_object *pol = json_tokener_parse(policies);
    assert_non_null(pol);
    struct tg_verify_request req = {.image = w->image,
                                    .policies = pol,
                                    .source_commit = commit,
                                    .now_ms = 1772366400000LL,
                                    .no_cache = no_cache};
    int before = w->calls;
    assert_int_equal(tg_verifier_run(w->v, &req, on_verdict, w), 0);
    json_object_put(pol);
    assert_int_equal(w->calls, before); /* never before run returns */
    run_until(w, before + 1);
}

static const char *at(json_object *v, const char *k1, const char *k2)
{
    json_object *o;
    if (!json_object_object_get_ex(v, k1, &o) || (k2 && !json_object_object_get_ex(o, k2, &o)))
        return "";
    return json_object_get_string(o);
}

static void a_verdict_is_judged_then_cached(void **state)
{
    (void)state;
    world_start(&W, 0, NULL);
    run_policy(&W, POLICY, NULL, false);
    assert_int_equal(W.rc, 0);
    assert_string_equal(at(W.verdict, "result", NULL), "Failed");
    assert_string_equal(at(W.verdict, "signature", "result"), "Failed");
    if (!strstr(at(W.verdict, "signature", "reason"), "no signature found for sha256:"))
        fail_msg("reason: %s", at(W.verdict, "signature", "reason"));
    size_t fetched = W.srv.requests;
    assert_true(fetched > 0);

    /* The same request: the cached verdict, no request to the registry. */
    run_policy(&W, POLICY, NULL, false);
    assert_int_equal(W.rc, 0);
    assert_string_equal(at(W.verdict, "result", NULL), "Failed");
    assert_int_equal(W.srv.requests, fetched);

    /* Another source commit is another key; no_cache skips the cache. */
    run_policy(&W, POLICY, "1111111111111111111111111111111111111111", false);
    assert_true(W.srv.requests > fetched);
    fetched = W.srv.requests;
    run_policy(&W, POLICY, NULL, true);
    assert_true(W.srv.requests > fetched);
    world_end(&W);
}

static void a_changed_policy_is_judged_again(void **state)
{
    (void)state;
    world_start(&W, 0, NULL);
    run_policy(&W, POLICY, NULL, false);
    size_t fetched = W.srv.requests;
    json_object *pol = json_tokener_parse(POLICY), *spec;
    assert_true(json_object_object_get_ex(json_object_array_get_idx(pol, 0), "spec", &spec));
    json_object_object_add(spec, "mode", json_object_new_string("warn"));
    char warn[2048];
    snprintf(warn, sizeof(warn), "%s", json_object_to_json_string(pol));
    json_object_put(pol);
    run_policy(&W, warn, NULL, false);
    assert_true(W.srv.requests > fetched);
    assert_string_equal(at(W.verdict, "result", NULL), "Warned");
    world_end(&W);
}

static void on_ttl(uv_timer_t *t)
{
    (void)t;
}

static void the_cache_expires_after_its_ttl(void **state)
{
    (void)state;
    world_start(&W, 50, NULL);
    run_policy(&W, POLICY, NULL, false);
    size_t fetched = W.srv.requests;
    uv_timer_t t;
    uv_timer_init(&W.loop, &t);
    uv_timer_start(&t, on_ttl, 120, 0);
    uv_run(&W.loop, UV_RUN_ONCE); /* until the timer fires */
    while (uv_is_active((uv_handle_t *)&t))
        uv_run(&W.loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    run_policy(&W, POLICY, NULL, false);
    assert_true(W.srv.requests > fetched);
    world_end(&W);
}

static void a_registry_error_is_no_verdict(void **state)
{
    (void)state;
    world_start(&W, 0, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
    run_policy(&W, POLICY, NULL, false);
    assert_true(W.rc < 0);
    assert_null(W.verdict);
    assert_true(W.message[0] != '\0');
    /* Never cached: the next run asks the registry again. */
    size_t fetched = W.srv.requests;
    run_policy(&W, POLICY, NULL, false);
    assert_true(W.rc < 0);
    assert_true(W.srv.requests > fetched);
    world_end(&W);
}

static void freeing_cancels_runs_in_flight(void **state)
{
    (void)state;
    world_start(&W, 0, NULL);
    W.routes[0].response = NULL; /* the registry never answers */
    json_object *pol = json_tokener_parse(POLICY);
    struct tg_verify_request req = {.image = W.image, .policies = pol, .now_ms = 1};
    assert_int_equal(tg_verifier_run(W.v, &req, on_verdict, &W), 0);
    json_object_put(pol);
    for (int i = 0; i < 20 && W.srv.requests == 0; i++)
        uv_run(&W.loop, UV_RUN_NOWAIT);
    assert_int_equal(W.calls, 0);
    tg_verifier_free(W.v);
    W.v = NULL;
    assert_int_equal(W.calls, 1);
    assert_int_equal(W.rc, TG_ECANCELED);
    world_end(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_verdict_is_judged_then_cached),
        cmocka_unit_test(a_changed_policy_is_judged_again),
        cmocka_unit_test(the_cache_expires_after_its_ttl),
        cmocka_unit_test(a_registry_error_is_no_verdict),
        cmocka_unit_test(freeing_cancels_runs_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
