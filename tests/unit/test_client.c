/*
 * Unit tests for kube/client: path building and status mapping (table-driven), the retry
 * policy, request validation, and calls over the loop against a scripted local server:
 * retries on 503/429 honouring Retry-After, the server's Status carried in the result,
 * bodies and content types sent, the request counters, the rate limiter and closing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "fake_http_server.h"
#include "kube/client.h"
#include "util/error.h"

static const struct tg_resource pods = {"", "v1", "pods", true};
static const struct tg_resource deployments = {"apps", "v1", "deployments", true};
static const struct tg_resource namespaces = {NULL, "v1", "namespaces", false};
static const struct tg_resource rollouts = {"tollgate.io", "v1alpha1", "rollouts", true};
static const struct tg_resource events = {"", "v1", "events", true};
static const struct tg_resource crds = {"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                        false};

struct path_case {
    struct tg_client_request req;
    const char *want; /* NULL: must be refused */
};

static void builds_paths(void **state)
{
    static const struct path_case cases[] = {
        {{.verb = TG_VERB_GET, .resource = &pods, .namespace = "default", .name = "web-1"},
         "/api/v1/namespaces/default/pods/web-1"},
        {{.verb = TG_VERB_LIST, .resource = &pods}, "/api/v1/pods"},
        {{.verb = TG_VERB_LIST, .resource = &deployments, .namespace = "shop"},
         "/apis/apps/v1/namespaces/shop/deployments"},
        {{.verb = TG_VERB_GET, .resource = &namespaces, .name = "shop"}, "/api/v1/namespaces/shop"},
        {{.verb = TG_VERB_CREATE, .resource = &crds},
         "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"},
        {{.verb = TG_VERB_UPDATE,
          .resource = &rollouts,
          .namespace = "shop",
          .name = "web",
          .subresource = "status"},
         "/apis/tollgate.io/v1alpha1/namespaces/shop/rollouts/web/status"},
        {{.verb = TG_VERB_LIST,
          .resource = &pods,
          .namespace = "shop",
          .query = {.label_selector = "app=web,tier in (a,b)",
                    .field_selector = "metadata.name=x",
                    .limit = 500,
                    .continue_token = "eyJ2Ijoi+/=",
                    .resource_version = "123"}},
         "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29"
         "&fieldSelector=metadata.name%3Dx&limit=500&continue=eyJ2Ijoi%2B%2F%3D"
         "&resourceVersion=123"},
        {{.verb = TG_VERB_WATCH,
          .resource = &deployments,
          .query = {.resource_version = "42",
                    .allow_watch_bookmarks = true,
                    .timeout_seconds = 300}},
         "/apis/apps/v1/deployments?resourceVersion=42&watch=1&allowWatchBookmarks=true"
         "&timeoutSeconds=300"},
        {{.verb = TG_VERB_PATCH,
          .resource = &deployments,
          .namespace = "shop",
          .name = "web",
          .query = {.field_manager = "tollgate", .force = true}},
         "/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=tollgate&force=true"},
        {{.verb = TG_VERB_DELETE,
          .resource = &deployments,
          .namespace = "shop",
          .name = "web",
          .query = {.propagation_policy = "Foreground"}},
         "/apis/apps/v1/namespaces/shop/deployments/web?propagationPolicy=Foreground"},
        {{.verb = TG_VERB_GET, .resource = &pods, .namespace = "a b", .name = "x/y"},
         "/api/v1/namespaces/a%20b/pods/x%2Fy"},
        {{.verb = TG_VERB_GET, .path = "/version"}, "/version"},
        {{.verb = TG_VERB_GET, .path = "/apis", .query = {.limit = 1}}, "/apis?limit=1"},
        /* Refused: a name where none goes, none where one must, a namespace on a
         * cluster-scoped type, a namespaced object without one, a bad raw path. */
        {{.verb = TG_VERB_CREATE, .resource = &pods, .namespace = "a", .name = "x"}, NULL},
        {{.verb = TG_VERB_GET, .resource = &pods, .namespace = "a"}, NULL},
        {{.verb = TG_VERB_GET, .resource = &namespaces, .namespace = "a", .name = "x"}, NULL},
        {{.verb = TG_VERB_DELETE, .resource = &pods, .name = "x"}, NULL},
        {{.verb = TG_VERB_LIST, .resource = &pods, .subresource = "status"}, NULL},
        {{.verb = TG_VERB_GET, .path = "version"}, NULL},
        {{.verb = TG_VERB_GET}, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tg_buf b;
        tg_buf_init(&b, 4096);
        int rc = tg_client_build_path(&cases[i].req, &b);
        if (cases[i].want) {
            if (rc != 0)
                fail_msg("case %zu: %s", i, tg_error_last());
            assert_string_equal(b.data, cases[i].want);
        } else if (rc != TG_EINVALID) {
            fail_msg("case %zu: accepted as %s", i, b.data ? b.data : "");
        }
        tg_buf_free(&b);
    }
}

static void maps_statuses_in_one_place(void **state)
{
    static const struct {
        long status;
        int want;
    } cases[] = {
        {200, 0},
        {201, 0},
        {202, 0},
        {400, TG_EINVALID},
        {401, TG_EUNAUTHORIZED},
        {403, TG_EFORBIDDEN},
        {404, TG_ENOTFOUND},
        {405, TG_EINVALID},
        {409, TG_ECONFLICT},
        {410, TG_EGONE},
        {415, TG_EINVALID},
        {422, TG_EINVALID},
        {429, TG_ETRANSIENT},
        {500, TG_ETRANSIENT},
        {503, TG_ETRANSIENT},
        {504, TG_ETRANSIENT},
        {302, TG_EINVALID},
        {0, TG_EINVALID},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (tg_client_map_status(cases[i].status) != cases[i].want)
            fail_msg("%ld: got %s, want %s", cases[i].status,
                     tg_error_name(tg_client_map_status(cases[i].status)),
                     tg_error_name(cases[i].want));
}

static void retry_policy(void **state)
{
    static const struct tg_retry_policy p = {
        .max_attempts = 5, .base_ms = 100, .max_ms = 5000, .jitter = 0.5};
    static const struct {
        unsigned attempts;
        long retry_after_s;
        double r;
        bool again;
        uint64_t delay;
    } cases[] = {
        {1, -1, 0.0, true, 100}, /* first retry: base */
        {2, -1, 0.0, true, 200}, /* doubles */
        {3, -1, 0.0, true, 400}, {4, -1, 0.0, true, 800},
        {5, -1, 0.0, false, 0},  /* attempts spent */
        {1, -1, 0.5, true, 125}, /* jitter stretches by up to half */
        {2, 3, 0.0, true, 3000}, /* Retry-After wins when longer */
        {3, 0, 0.0, true, 400},  /* and backoff when Retry-After is shorter */
        {1, 6, 0.0, false, 0},   /* Retry-After beyond max_ms: give up, the caller requeues */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t d = 0;
        bool again =
            tg_client_retry_delay(&p, cases[i].attempts, cases[i].retry_after_s, cases[i].r, &d);
        if (again != cases[i].again || (again && d != cases[i].delay))
            fail_msg("case %zu: got %d %llu", i, again, (unsigned long long)d);
    }
    /* The backoff never passes max_ms, however many attempts are allowed. */
    struct tg_retry_policy many = p;
    many.max_attempts = 100;
    uint64_t d;
    assert_true(tg_client_retry_delay(&many, 60, -1, 0.99, &d));
    assert_int_equal(d, 5000);
}

/* --- over the loop ---------------------------------------------------------------------- */

#define STATUS_503                                                                                 \
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Type: application/json\r\n"     \
    "Content-Length: 77\r\n\r\n"                                                                   \
    "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"ServiceUnavailable\",\"code\":503}"
#define STATUS_429                                                                                 \
    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Type: application/json\r\n"       \
    "Content-Length: 90\r\n\r\n"                                                                   \
    "{\"kind\":\"Status\",\"message\":\"slow down\",\"reason\":\"TooManyRequests\",\"code\":429,"  \
    "\"x\":\"......\"}"
#define STATUS_404                                                                                 \
    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 87\r\n\r\n"       \
    "{\"kind\":\"Status\",\"message\":\"pods \\\"web\\\" not found\",\"reason\":\"NotFound\","     \
    "\"code\":404}    "
#define OBJ_200                                                                                    \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"              \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\"}}"

struct world {
    uv_loop_t loop;
    struct fake_server srv;
    struct tg_kubeconfig kc;
    char server[64];
    struct tg_client *client;
    int done_calls;
    int last_rc;
    long last_status;
    unsigned last_attempts;
    char last_message[512];
    char last_reason[64];
    char last_kind[64];
    uint64_t done_at[8];
    int closed_calls;
    char stream[512]; /* what watch data callbacks received */
};

static void world_start(struct world *w, const char *const *script, size_t n,
                        struct tg_client_options *opt)
{
    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    fake_server_start(&w->srv, &w->loop, script, n);
    snprintf(w->server, sizeof(w->server), "http://127.0.0.1:%d", w->srv.port);
    w->kc.server = w->server;
    w->kc.namespace = "default";
    w->kc.token = "tok";
    opt->config = &w->kc;
    if (!opt->backoff_base_ms)
        opt->backoff_base_ms = 1;
    assert_int_equal(tg_client_new(&w->loop, opt, &w->client), 0);
}

static void run_until(struct world *w, int n)
{
    FAKE_RUN_UNTIL(&w->srv, w->done_calls >= n, "timed out waiting for %d callbacks (got %d)", n,
                   w->done_calls);
}

static void on_closed(void *arg)
{
    struct world *w = arg;

    w->closed_calls++;
    fake_server_stop(&w->srv);
}

static void world_end(struct world *w)
{
    if (w->client)
        tg_client_close(w->client, on_closed, w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(w->closed_calls, 1);
    assert_int_equal(uv_loop_close(&w->loop), 0);
}

static void on_done(const struct tg_client_result *res, void *arg)
{
    struct world *w = arg;
    struct json_object *v;

    if (w->done_calls < 8)
        w->done_at[w->done_calls] = uv_now(&w->loop);
    w->done_calls++;
    w->last_rc = res->rc;
    w->last_status = res->status;
    w->last_attempts = res->attempts;
    snprintf(w->last_message, sizeof(w->last_message), "%s", res->message);
    snprintf(w->last_reason, sizeof(w->last_reason), "%s", res->reason);
    w->last_kind[0] = '\0';
    if (res->body && json_object_object_get_ex(res->body, "kind", &v))
        snprintf(w->last_kind, sizeof(w->last_kind), "%s", json_object_get_string(v));
}

static void retries_5xx_then_succeeds(void **state)
{
    static const char *const script[] = {STATUS_503, STATUS_503, OBJ_200};
    struct tg_client_options opt = {0};
    struct world w;

    (void)state;
    world_start(&w, script, 3, &opt);
    assert_int_equal(tg_client_get(w.client, &pods, "default", "web", on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.last_status, 200);
    assert_int_equal(w.last_attempts, 3);
    assert_string_equal(w.last_kind, "Pod");
    assert_int_equal(w.srv.requests, 3);
    assert_int_equal(tg_client_request_count(w.client, TG_VERB_GET, 503), 2);
    assert_int_equal(tg_client_request_count(w.client, TG_VERB_GET, 200), 1);
    assert_int_equal(tg_client_request_count(w.client, TG_VERB_LIST, 200), 0);
    assert_non_null(strstr(w.srv.last_request, "GET /api/v1/namespaces/default/pods/web "));
    assert_non_null(strstr(w.srv.last_request, "Authorization: Bearer tok\r\n"));
    world_end(&w);
}

static void gives_up_after_the_attempts_with_the_status_message(void **state)
{
    static const char *const script[] = {STATUS_429};
    struct tg_client_options opt = {.max_attempts = 3};
    struct world w;

    (void)state;
    world_start(&w, script, 1, &opt);
    assert_int_equal(tg_client_list(w.client, &pods, NULL, NULL, on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, TG_ETRANSIENT);
    assert_int_equal(w.last_status, 429);
    assert_int_equal(w.last_attempts, 3);
    assert_int_equal(w.srv.requests, 3);
    assert_string_equal(w.last_message, "slow down");
    assert_string_equal(w.last_reason, "TooManyRequests");
    assert_int_equal(tg_client_request_count(w.client, TG_VERB_LIST, 429), 3);
    world_end(&w);
}

static void not_found_carries_the_status(void **state)
{
    static const char *const script[] = {STATUS_404};
    struct tg_client_options opt = {0};
    struct world w;

    (void)state;
    world_start(&w, script, 1, &opt);
    assert_int_equal(tg_client_get(w.client, &pods, "default", "web", on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, TG_ENOTFOUND);
    assert_int_equal(w.last_attempts, 1); /* 404 is not retried */
    assert_string_equal(w.last_message, "pods \"web\" not found");
    assert_string_equal(w.last_reason, "NotFound");
    assert_string_equal(w.last_kind, "Status");
    world_end(&w);
}

static void last_error_names_the_call(const struct tg_client_result *res, void *arg)
{
    on_done(res, arg);
    assert_string_equal(tg_error_last(),
                        "GET /api/v1/namespaces/default/pods/web: 404 NotFound: pods \"web\" not "
                        "found");
}

static void last_error_message_during_the_callback(void **state)
{
    static const char *const script[] = {STATUS_404};
    struct tg_client_options opt = {0};
    struct world w;

    (void)state;
    world_start(&w, script, 1, &opt);
    assert_int_equal(
        tg_client_get(w.client, &pods, "default", "web", last_error_names_the_call, &w, NULL), 0);
    run_until(&w, 1);
    world_end(&w);
}

static void sends_bodies_with_their_content_types(void **state)
{
    static const char *const script[] = {OBJ_200};
    struct tg_client_options opt = {0};
    struct world w;
    struct json_object *obj = json_tokener_parse("{\"metadata\":{\"name\":\"web\"}}");
    struct tg_query q = {.field_manager = "tollgate", .force = true};

    (void)state;
    world_start(&w, script, 1, &opt);
    assert_int_equal(tg_client_create(w.client, &pods, "default", obj, on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_non_null(strstr(w.srv.last_request,
                           "POST /api/v1/namespaces/default/pods?fieldManager=tollgate HTTP"));
    assert_non_null(strstr(w.srv.last_request, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(w.srv.last_request, "\r\n\r\n{\"metadata\":{\"name\":\"web\"}}"));

    assert_int_equal(tg_client_patch(w.client, &deployments, "shop", "web", NULL, TG_PATCH_APPLY,
                                     obj, &q, on_done, &w, NULL),
                     0);
    run_until(&w, 2);
    assert_non_null(strstr(w.srv.last_request, "PATCH /apis/apps/v1/namespaces/shop/deployments/"
                                               "web?fieldManager=tollgate&force=true HTTP"));
    assert_non_null(strstr(w.srv.last_request, "Content-Type: application/apply-patch+yaml\r\n"));

    assert_int_equal(tg_client_patch(w.client, &rollouts, "shop", "web", "status", TG_PATCH_MERGE,
                                     obj, NULL, on_done, &w, NULL),
                     0);
    run_until(&w, 3);
    assert_non_null(strstr(w.srv.last_request,
                           "PATCH /apis/tollgate.io/v1alpha1/namespaces/shop/rollouts/web/status"
                           "?fieldManager=tollgate HTTP"));
    assert_non_null(strstr(w.srv.last_request, "Content-Type: application/merge-patch+json\r\n"));

    assert_int_equal(
        tg_client_update(w.client, &rollouts, "shop", "web", "status", obj, on_done, &w, NULL), 0);
    run_until(&w, 4);
    assert_non_null(strstr(w.srv.last_request, "PUT /apis/tollgate.io/v1alpha1/namespaces/shop/"
                                               "rollouts/web/status?fieldManager=tollgate HTTP"));

    assert_int_equal(
        tg_client_delete(w.client, &deployments, "shop", "web", "Background", on_done, &w, NULL),
        0);
    run_until(&w, 5);
    assert_non_null(strstr(w.srv.last_request, "DELETE /apis/apps/v1/namespaces/shop/deployments/"
                                               "web?propagationPolicy=Background HTTP"));
    assert_int_equal(tg_client_request_count(w.client, TG_VERB_PATCH, 200), 2);
    json_object_put(obj); /* the client kept no reference */
    world_end(&w);
}

/*
 * Every create, update and patch names its field manager (fieldManager=tollgate unless the
 * options or the call name another) so the apiserver records the operator's fields under it;
 * a delete carries none (DeleteOptions has no fieldManager), nor do reads.
 */
static void writes_carry_the_field_manager(void **state)
{
    static const char *const script[] = {OBJ_200, OBJ_200, OBJ_200, OBJ_200, OBJ_200,
                                         OBJ_200, OBJ_200, OBJ_200, OBJ_200};
    struct tg_client_options opt = {0};
    struct world w;
    struct json_object *obj = json_tokener_parse("{\"metadata\":{\"name\":\"web\"}}");
    struct tg_query apply = {.field_manager = "other"};

    (void)state;
    world_start(&w, script, 9, &opt);
    assert_int_equal(tg_client_create(w.client, &events, "shop", obj, on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_non_null(strstr(w.srv.last_request,
                           "POST /api/v1/namespaces/shop/events?fieldManager=tollgate HTTP"));
    assert_int_equal(tg_client_patch(w.client, &events, "shop", "e1", NULL, TG_PATCH_MERGE, obj,
                                     NULL, on_done, &w, NULL),
                     0);
    run_until(&w, 2);
    assert_non_null(strstr(w.srv.last_request,
                           "PATCH /api/v1/namespaces/shop/events/e1?fieldManager=tollgate HTTP"));
    assert_int_equal(
        tg_client_update(w.client, &deployments, "shop", "web", NULL, obj, on_done, &w, NULL), 0);
    run_until(&w, 3);
    assert_non_null(strstr(w.srv.last_request, "PUT /apis/apps/v1/namespaces/shop/deployments/"
                                               "web?fieldManager=tollgate HTTP"));
    assert_int_equal(tg_client_patch(w.client, &deployments, "shop", "web", NULL, TG_PATCH_APPLY,
                                     obj, &apply, on_done, &w, NULL),
                     0);
    run_until(&w, 4);
    assert_non_null(strstr(w.srv.last_request, "PATCH /apis/apps/v1/namespaces/shop/deployments/"
                                               "web?fieldManager=other HTTP"));
    assert_int_equal(
        tg_client_delete(w.client, &deployments, "shop", "web", NULL, on_done, &w, NULL), 0);
    run_until(&w, 5);
    assert_non_null(
        strstr(w.srv.last_request, "DELETE /apis/apps/v1/namespaces/shop/deployments/web HTTP"));
    assert_int_equal(tg_client_get(w.client, &deployments, "shop", "web", on_done, &w, NULL), 0);
    run_until(&w, 6);
    assert_non_null(
        strstr(w.srv.last_request, "GET /apis/apps/v1/namespaces/shop/deployments/web HTTP"));
    world_end(&w);

    /* Another default (kubectl-tollgate's), and none at all. */
    opt = (struct tg_client_options){.field_manager = "kubectl-tollgate"};
    world_start(&w, script, 9, &opt);
    assert_int_equal(tg_client_patch(w.client, &rollouts, "shop", "web", NULL, TG_PATCH_MERGE, obj,
                                     NULL, on_done, &w, NULL),
                     0);
    run_until(&w, 1);
    assert_non_null(strstr(w.srv.last_request, "PATCH /apis/tollgate.io/v1alpha1/namespaces/shop/"
                                               "rollouts/web?fieldManager=kubectl-tollgate HTTP"));
    world_end(&w);
    opt = (struct tg_client_options){.field_manager = ""};
    world_start(&w, script, 9, &opt);
    assert_int_equal(tg_client_create(w.client, &pods, "shop", obj, on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_non_null(strstr(w.srv.last_request, "POST /api/v1/namespaces/shop/pods HTTP"));
    world_end(&w);
    json_object_put(obj);
}

static void refuses_bad_requests_without_calling_back(void **state)
{
    static const char *const script[] = {OBJ_200};
    struct tg_client_options opt = {.field_manager = ""};
    struct world w;
    struct json_object *obj = json_object_new_object();

    (void)state;
    world_start(&w, script, 1, &opt);
    /* Apply without a field manager (the client has no default), create without a body, a watch
     * without a data callback. */
    assert_int_equal(tg_client_patch(w.client, &pods, "a", "x", NULL, TG_PATCH_APPLY, obj, NULL,
                                     on_done, &w, NULL),
                     TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "field manager"));
    assert_int_equal(tg_client_create(w.client, &pods, "a", NULL, on_done, &w, NULL), TG_EINVALID);
    assert_int_equal(tg_client_watch(w.client, &pods, "a", NULL, NULL, on_done, &w, NULL),
                     TG_EINVALID);
    assert_int_equal(tg_client_get(w.client, &pods, "a", NULL, on_done, &w, NULL), TG_EINVALID);
    json_object_put(obj);
    world_end(&w);
    assert_int_equal(w.done_calls, 0);
    assert_int_equal(w.srv.requests, 0);
}

static void rate_limit_spaces_requests_on_timers(void **state)
{
    static const char *const script[] = {OBJ_200};
    struct tg_client_options opt = {.qps = 20, .burst = 1};
    struct world w;

    (void)state;
    world_start(&w, script, 1, &opt);
    uint64_t start = uv_now(&w.loop);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tg_client_get(w.client, &pods, "default", "web", on_done, &w, NULL), 0);
    assert_int_equal(w.done_calls, 0); /* nothing blocked, nothing called back yet */
    run_until(&w, 3);
    /* burst 1 at 20/s: the second waits 50 ms, the third 100 ms. */
    assert_true(w.done_at[1] >= start + 45);
    assert_true(w.done_at[2] >= start + 95);
    world_end(&w);
}

/*
 * The rate counts from when a call is made, not from the loop's cached time: a call made late in
 * a slow callback (here 300 ms of work after the first one, the loop never running) must still
 * wait its full interval after the first, not be sent at once because the interval already
 * passed on the stale clock.
 */
static void rate_limit_counts_from_the_call_not_a_stale_loop_time(void **state)
{
    static const char *const script[] = {OBJ_200};
    struct tg_client_options opt = {.qps = 2, .burst = 1};
    struct timespec busy = {.tv_sec = 0, .tv_nsec = 300 * 1000 * 1000};
    struct world w;

    (void)state;
    world_start(&w, script, 1, &opt);
    uv_update_time(&w.loop);
    uint64_t start = uv_now(&w.loop);
    assert_int_equal(tg_client_get(w.client, &pods, "default", "web", on_done, &w, NULL), 0);
    nanosleep(&busy, NULL);
    assert_int_equal(tg_client_get(w.client, &pods, "default", "web", on_done, &w, NULL), 0);
    run_until(&w, 2);
    /* 2 a second, burst 1: the second goes 500 ms after the first, 300 of them spent above. */
    assert_true(w.done_at[1] >= start + 490);
    world_end(&w);
}

static int ignore_data(const char *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    (void)arg;
    return 0;
}

static void close_ends_waiting_and_in_flight_calls_once(void **state)
{
    static const char *const script[] = {NULL}; /* never answers */
    struct tg_client_options opt = {.qps = 1, .burst = 1};
    struct world w;

    (void)state;
    world_start(&w, script, 1, &opt);
    assert_int_equal(tg_client_watch(w.client, &pods, NULL, NULL, ignore_data, on_done, &w, NULL),
                     0);
    assert_int_equal(tg_client_get(w.client, &pods, "default", "web", on_done, &w, NULL), 0);
    while (w.srv.requests < 1)
        uv_run(&w.loop, UV_RUN_ONCE);
    tg_client_close(w.client, on_closed, &w);
    assert_int_equal(tg_client_get(w.client, &pods, "default", "web", on_done, &w, NULL),
                     TG_ECANCELED);
    w.client = NULL;
    uv_run(&w.loop, UV_RUN_DEFAULT);
    assert_int_equal(w.done_calls, 2);
    assert_int_equal(w.last_rc, TG_ECANCELED);
    assert_int_equal(w.closed_calls, 1);
    assert_int_equal(uv_loop_close(&w.loop), 0);
}

static void cancel_a_waiting_call(void **state)
{
    static const char *const script[] = {OBJ_200};
    struct tg_client_options opt = {.qps = 1, .burst = 1};
    struct tg_client_call *second;
    struct world w;

    (void)state;
    world_start(&w, script, 1, &opt);
    assert_int_equal(tg_client_get(w.client, &pods, "default", "a", on_done, &w, NULL), 0);
    assert_int_equal(tg_client_get(w.client, &pods, "default", "b", on_done, &w, &second), 0);
    tg_client_cancel(second);
    assert_int_equal(w.done_calls, 1);
    assert_int_equal(w.last_rc, TG_ECANCELED);
    assert_int_equal(w.last_attempts, 0);
    run_until(&w, 2);
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.srv.requests, 1);
    world_end(&w);
}

struct counted {
    int verb;
    long status;
    uint64_t n;
};

static void collect(enum tg_verb verb, long status, uint64_t n, void *arg)
{
    struct counted *c = arg;

    while (c->n)
        c++;
    c->verb = (int)verb;
    c->status = status;
    c->n = n;
}

static void counts_by_verb_and_status(void **state)
{
    static const char *const script[] = {STATUS_404, OBJ_200};
    struct tg_client_options opt = {0};
    struct counted seen[8] = {{0}};
    struct world w;

    (void)state;
    world_start(&w, script, 2, &opt);
    assert_int_equal(tg_client_get(w.client, &pods, "default", "web", on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(tg_client_list(w.client, &pods, "default", NULL, on_done, &w, NULL), 0);
    run_until(&w, 2);
    tg_client_foreach_request_count(w.client, collect, seen);
    assert_int_equal(seen[0].verb, TG_VERB_GET);
    assert_int_equal(seen[0].status, 404);
    assert_int_equal(seen[0].n, 1);
    assert_int_equal(seen[1].verb, TG_VERB_LIST);
    assert_int_equal(seen[1].status, 200);
    assert_int_equal(seen[1].n, 1);
    assert_int_equal(seen[2].n, 0);
    assert_int_equal(tg_client_request_count(w.client, TG_VERB_GET, 9999), 0);
    assert_string_equal(tg_verb_name(TG_VERB_WATCH), "watch");
    world_end(&w);
}

static int collect_stream(const char *data, size_t len, void *arg)
{
    struct world *w = arg;
    size_t have = strlen(w->stream);

    assert_true(have + len < sizeof(w->stream));
    memcpy(w->stream + have, data, len);
    w->stream[have + len] = '\0';
    return 0;
}

static void watch_streams_bytes_and_is_never_retried(void **state)
{
    static const char *const script[] = {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        "8\r\n{\"a\":1}\n\r\n8\r\n{\"b\":2}\n\r\n0\r\n\r\n",
        STATUS_503};
    struct tg_client_options opt = {0};
    struct tg_query q = {.resource_version = "7", .allow_watch_bookmarks = true};
    struct world w;

    (void)state;
    world_start(&w, script, 2, &opt);
    assert_int_equal(
        tg_client_watch(w.client, &pods, "default", &q, collect_stream, on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.last_status, 200);
    assert_non_null(strstr(w.srv.last_request,
                           "GET /api/v1/namespaces/default/pods?"
                           "resourceVersion=7&watch=1&allowWatchBookmarks=true "));
    assert_string_equal(w.stream, "{\"a\":1}\n{\"b\":2}\n");
    /* A 503 on a watch goes back to the caller at once: the informer owns its retries. */
    assert_int_equal(
        tg_client_watch(w.client, &pods, "default", &q, collect_stream, on_done, &w, NULL), 0);
    run_until(&w, 2);
    assert_int_equal(w.last_rc, TG_ETRANSIENT);
    assert_int_equal(w.last_attempts, 1);
    assert_int_equal(w.srv.requests, 2);
    world_end(&w);
}

#define STATUS_410                                                                                 \
    "HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\nContent-Length: 91\r\n\r\n"            \
    "{\"kind\":\"Status\",\"message\":\"too old resource version: 1 "                              \
    "(5)\",\"reason\":\"Expired\",\"code\":410}"

static void gone_carries_the_status(void **state)
{
    static const char *const script[] = {STATUS_410};
    struct tg_client_options opt = {0};
    struct tg_query q = {.resource_version = "1"};
    struct world w;

    (void)state;
    world_start(&w, script, 1, &opt);
    assert_int_equal(tg_client_list(w.client, &pods, NULL, &q, on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, TG_EGONE);
    assert_string_equal(w.last_reason, "Expired");
    assert_string_equal(w.last_message, "too old resource version: 1 (5)");
    world_end(&w);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A token file that rotates between two requests: the second request carries the new token. */
static void rotated_token_is_used_for_the_next_request(void **state)
{
    static const char *const script[] = {OBJ_200};
    struct tg_client_options opt = {0};
    struct tg_kubeconfig *kc;
    char dir[] = "/tmp/tg-client-XXXXXX";
    char kc_path[64], token_path[64], yaml[256];
    struct world w;

    (void)state;
    world_start(&w, script, 1, &opt);
    assert_non_null(mkdtemp(dir));
    snprintf(kc_path, sizeof(kc_path), "%s/kubeconfig", dir);
    snprintf(token_path, sizeof(token_path), "%s/token", dir);
    snprintf(yaml, sizeof(yaml),
             "current-context: x\nclusters: [{name: c, cluster: {server: \"%s\"}}]\n"
             "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
             "users: [{name: u, user: {tokenFile: token}}]\n",
             w.server);
    write_text(kc_path, yaml);
    write_text(token_path, "first-token\n");
    assert_int_equal(tg_kubeconfig_load_file(kc_path, NULL, &kc), 0);
    /* Swap the world's client for one on the file-based configuration. */
    tg_client_close(w.client, NULL, NULL);
    opt.config = kc;
    assert_int_equal(tg_client_new(&w.loop, &opt, &w.client), 0);

    assert_int_equal(tg_client_get_path(w.client, "/version", on_done, &w, NULL), 0);
    run_until(&w, 1);
    assert_non_null(strstr(w.srv.last_request, "Authorization: Bearer first-token\r\n"));
    write_text(token_path, "second-token-rotated\n");
    assert_int_equal(tg_client_get_path(w.client, "/version", on_done, &w, NULL), 0);
    run_until(&w, 2);
    assert_non_null(strstr(w.srv.last_request, "Authorization: Bearer second-token-rotated\r\n"));
    world_end(&w);
    tg_kubeconfig_free(kc);
    unlink(token_path);
    unlink(kc_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builds_paths),
        cmocka_unit_test(maps_statuses_in_one_place),
        cmocka_unit_test(retry_policy),
        cmocka_unit_test(retries_5xx_then_succeeds),
        cmocka_unit_test(gives_up_after_the_attempts_with_the_status_message),
        cmocka_unit_test(not_found_carries_the_status),
        cmocka_unit_test(last_error_message_during_the_callback),
        cmocka_unit_test(sends_bodies_with_their_content_types),
        cmocka_unit_test(writes_carry_the_field_manager),
        cmocka_unit_test(refuses_bad_requests_without_calling_back),
        cmocka_unit_test(rate_limit_spaces_requests_on_timers),
        cmocka_unit_test(rate_limit_counts_from_the_call_not_a_stale_loop_time),
        cmocka_unit_test(close_ends_waiting_and_in_flight_calls_once),
        cmocka_unit_test(cancel_a_waiting_call),
        cmocka_unit_test(counts_by_verb_and_status),
        cmocka_unit_test(watch_streams_bytes_and_is_never_retried),
        cmocka_unit_test(gone_carries_the_status),
        cmocka_unit_test(rotated_token_is_used_for_the_next_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
