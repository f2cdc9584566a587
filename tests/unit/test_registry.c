/*
 * Unit tests for verify/registry against the scripted local server (plain HTTP, allowed by
 * http_hosts): image reference parsing (a table), docker config credentials in all their forms,
 * anonymous pulls with the four-type Accept header, the Basic and Bearer challenge flows (the
 * token request's service and scope, the token cached), missing credentials, digest and size
 * checks that never trust Docker-Content-Digest, caps, status mapping, timeouts, the referrers
 * tag fallback, malformed challenges, and freeing with work in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fake_http_server.h"
#include "util/error.h"
#include "verify/crypto.h"
#include "verify/registry.h"

#define MAX_RESP 8

/* One test's world: a loop, a routed server, a client and what the callbacks saw. */
struct world {
    uv_loop_t loop;
    struct fake_server srv;
    struct fake_route routes[16];
    struct fake_routes table;
    struct tg_registry *reg;
    struct tg_registry_creds *creds;
    char host[64];
    char *resp[MAX_RESP];
    int n_resp;
    int calls;
    int rc;
    char message[1024];
    char media_type[256];
    char digest[80];
    char body[4096];
    size_t len;
};

static struct world W;

static void run_until(struct world *w, int n)
{
    FAKE_RUN_UNTIL(&w->srv, w->calls >= n, "timed out waiting for %d callbacks (got %d)", n,
                   w->calls);
}

/* A raw response, kept until world_end. headers: extra lines, each ending in \r\n. */
static const char *resp(struct world *w, int status, const char *headers, const char *body)
{
    char *r = malloc(strlen(headers) + strlen(body) + 256);

    assert_non_null(r);
    assert_true(w->n_resp < MAX_RESP);
    snprintf(r, strlen(headers) + strlen(body) + 256,
             "HTTP/1.1 %d X\r\n%sContent-Length: %zu\r\n\r\n%s", status, headers, strlen(body),
             body);
    w->resp[w->n_resp++] = r;
    return r;
}

static void route(struct world *w, const char *match, const char *need, const char *response)
{
    struct fake_route *r = &w->routes[w->table.n++];

    r->match = match;
    r->need = need;
    r->response = response;
}

static void world_start_opt(struct world *w, struct tg_registry_options *o)
{
    const char *hosts[1];

    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    fake_server_start_routed(&w->srv, &w->loop, &w->table, w->routes);
    snprintf(w->host, sizeof(w->host), "127.0.0.1:%d", w->srv.port);
    hosts[0] = w->host;
    o->http_hosts = hosts;
    o->n_http_hosts = 1;
    assert_int_equal(tg_registry_new(&w->loop, o, &w->reg), 0);
    w->creds = tg_registry_creds_new();
    assert_non_null(w->creds);
}

static void world_start(struct world *w)
{
    struct tg_registry_options o = {.timeout_ms = 10000};

    world_start_opt(w, &o);
}

static void world_end(struct world *w)
{
    tg_registry_free(w->reg);
    tg_registry_creds_free(w->creds);
    fake_server_stop(&w->srv);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    for (int i = 0; i < w->n_resp; i++)
        free(w->resp[i]);
}

static void on_doc(int rc, const char *message, const char *media_type, const char *digest,
                   const unsigned char *body, size_t len, void *arg)
{
    struct world *w = arg;

    w->calls++;
    w->rc = rc;
    snprintf(w->message, sizeof(w->message), "%s", message ? message : "");
    snprintf(w->media_type, sizeof(w->media_type), "%s", media_type ? media_type : "");
    snprintf(w->digest, sizeof(w->digest), "%s", digest ? digest : "");
    w->len = len;
    snprintf(w->body, sizeof(w->body), "%.*s", (int)len, body ? (const char *)body : "");
}

static struct tg_image_ref *ref_of(struct world *w, const char *repo)
{
    char s[256];
    struct tg_image_ref *r;

    snprintf(s, sizeof(s), "%s/%s", w->host, repo);
    assert_int_equal(tg_image_ref_parse(s, &r), 0);
    return r;
}

static void digest_of(const char *body, char out[80])
{
    char hex[65];

    tg_sha256_hex(body, strlen(body), hex);
    snprintf(out, 80, "sha256:%s", hex);
}

static const char MANIFEST[] = "{\"schemaVersion\":2,\"mediaType\":"
                               "\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[]}";
static const char OCI_CT[] = "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n";

/* ------------------------------------------------------------------------------------------ */

static void ref_parse_table(void **state)
{
    static const struct {
        const char *in;
        int rc;
        const char *registry, *repository, *tag, *digest;
    } cases[] = {
        {"nginx", 0, "index.docker.io", "library/nginx", NULL, NULL},
        {"nginx:1.25", 0, "index.docker.io", "library/nginx", "1.25", NULL},
        {"docker.io/nginx", 0, "index.docker.io", "library/nginx", NULL, NULL},
        {"registry-1.docker.io/shop/web:v1", 0, "index.docker.io", "shop/web", "v1", NULL},
        {"shop/web", 0, "index.docker.io", "shop/web", NULL, NULL},
        {"localhost/web", 0, "localhost", "web", NULL, NULL},
        {"localhost:5000/a/b/c:t", 0, "localhost:5000", "a/b/c", "t", NULL},
        {"reg.example/web", 0, "reg.example", "web", NULL, NULL},
        {"127.0.0.1:5000/demo/app@sha256:"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         0, "127.0.0.1:5000", "demo/app", NULL,
         "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        {"r.io/x:v2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0,
         "r.io", "x", "v2",
         "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        {"a__b/c-d.e_f", 0, "index.docker.io", "a__b/c-d.e_f", NULL, NULL},
        {"", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"Nginx", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io/x@sha256:abc", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io/x@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
         TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io/x@md5:0123", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io/x:", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io/x:-bad", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io//x", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io/x/", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io/-x", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io/x..y", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io:port/x", TG_EINVALID, NULL, NULL, NULL, NULL},
        {"r.io/x y", TG_EINVALID, NULL, NULL, NULL, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tg_image_ref *r = NULL;
        int rc = tg_image_ref_parse(cases[i].in, &r);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d (%s)", cases[i].in, rc, cases[i].rc, tg_error_last());
        if (rc < 0) {
            assert_null(r);
            continue;
        }
        assert_string_equal(r->registry, cases[i].registry);
        assert_string_equal(r->repository, cases[i].repository);
        if (cases[i].tag)
            assert_string_equal(r->tag, cases[i].tag);
        else
            assert_null(r->tag);
        if (cases[i].digest)
            assert_string_equal(r->digest, cases[i].digest);
        else
            assert_null(r->digest);
        tg_image_ref_free(r);
    }
}

/* Fetches manifest "v1" from repo after a Basic challenge; returns the authenticated request. */
static const char *basic_flow(struct world *w, int expect_rc)
{
    route(w, "/manifests/v1 ", "Authorization: Basic ", resp(w, 200, OCI_CT, MANIFEST));
    route(w, "/manifests/v1 ", NULL,
          resp(w, 401, "WWW-Authenticate: Basic realm=\"Registry Realm\"\r\n", "{}"));
    struct tg_image_ref *r = ref_of(w, "shop/web");
    assert_int_equal(tg_registry_get_manifest(w->reg, r, "v1", w->creds, on_doc, w), 0);
    tg_image_ref_free(r);
    run_until(w, 1);
    assert_int_equal(w->rc, expect_rc);
    return w->srv.log[w->srv.requests - 1];
}

/* user:secret-pw */
#define AUTH_B64 "dXNlcjpzZWNyZXQtcHc="

static void dockerconfig_auth_field(void **state)
{
    char json[512];

    (void)state;
    world_start(&W);
    snprintf(json, sizeof(json), "{\"auths\":{\"https://%s/v1/\":{\"auth\":\"" AUTH_B64 "\"}}}",
             W.host);
    assert_int_equal(tg_registry_creds_add_dockerconfig(W.creds, json, strlen(json)), 0);
    const char *req = basic_flow(&W, 0);
    assert_non_null(strstr(req, "Authorization: Basic " AUTH_B64 "\r\n"));
    assert_int_equal((int)W.srv.requests, 2);
    world_end(&W);
}

static void dockerconfig_username_password(void **state)
{
    char json[512];

    (void)state;
    world_start(&W);
    snprintf(json, sizeof(json),
             "{\"auths\":{\"%s\":{\"username\":\"user\",\"password\":\"secret-pw\"}}}", W.host);
    assert_int_equal(tg_registry_creds_add_dockerconfig(W.creds, json, strlen(json)), 0);
    const char *req = basic_flow(&W, 0);
    assert_non_null(strstr(req, "Authorization: Basic " AUTH_B64 "\r\n"));
    world_end(&W);
}

static void dockerconfig_legacy_form_and_first_wins(void **state)
{
    char json[512];

    (void)state;
    world_start(&W);
    /* The older .dockercfg form: hosts at the top. */
    snprintf(json, sizeof(json), "{\"http://%s\":{\"auth\":\"" AUTH_B64 "\",\"email\":\"x\"}}",
             W.host);
    assert_int_equal(tg_registry_creds_add_dockerconfig(W.creds, json, strlen(json)), 0);
    snprintf(json, sizeof(json), "{\"auths\":{\"%s\":{\"username\":\"other\",\"password\":\"p\"}}}",
             W.host);
    assert_int_equal(tg_registry_creds_add_dockerconfig(W.creds, json, strlen(json)), 0);
    const char *req = basic_flow(&W, 0);
    assert_non_null(strstr(req, "Authorization: Basic " AUTH_B64 "\r\n"));
    world_end(&W);
}

static void dockerconfig_bad_json(void **state)
{
    struct tg_registry_creds *c = tg_registry_creds_new();
    static const char *const bad[] = {
        "{\"auths\":{\"r.io\":{\"auth\":\"c2VjcmV0LXB3\"}", /* truncated */
        "[\"secret-pw\"]",
        "{\"auths\":\"secret-pw\"}",
        "{\"auths\":{\"r.io\":\"secret-pw\"}}",
        "{\"auths\":{\"r.io\":{\"auth\":\"secret-pw!!\"}}}",  /* not base64 */
        "{\"auths\":{\"r.io\":{\"auth\":\"c2VjcmV0LXB3\"}}}", /* "secret-pw": no colon */
        "{\"auths\":{}} secret-pw",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = tg_registry_creds_add_dockerconfig(c, bad[i], strlen(bad[i]));
        if (rc != TG_EINVALID)
            fail_msg("case %zu: rc %d", i, rc);
        assert_null(strstr(tg_error_last(), "secret-pw"));
        assert_null(strstr(tg_error_last(), "c2VjcmV0LXB3"));
    }
    tg_registry_creds_free(c);
}

static void anonymous_manifest_by_tag(void **state)
{
    (void)state;
    world_start(&W);
    route(&W, "GET /v2/shop/web/manifests/v1 ", NULL, resp(&W, 200, OCI_CT, MANIFEST));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    assert_int_equal(W.calls, 0); /* never before the call returns */
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    assert_string_equal(W.body, MANIFEST);
    assert_string_equal(W.media_type, "application/vnd.oci.image.manifest.v1+json");
    char d[80];
    digest_of(MANIFEST, d);
    assert_string_equal(W.digest, d);
    const char *req = W.srv.log[0];
    assert_non_null(strstr(req, "Accept: application/vnd.oci.image.manifest.v1+json, "
                                "application/vnd.oci.image.index.v1+json, "
                                "application/vnd.docker.distribution.manifest.v2+json, "
                                "application/vnd.docker.distribution.manifest.list.v2+json\r\n"));
    assert_null(strstr(req, "Authorization"));
    world_end(&W);
}

static void basic_challenge_without_credentials(void **state)
{
    (void)state;
    world_start(&W);
    basic_flow(&W, TG_EUNAUTHORIZED);
    assert_non_null(strstr(W.message, "requires credentials"));
    assert_non_null(strstr(W.message, W.host));
    assert_int_equal((int)W.srv.requests, 1);
    world_end(&W);
}

static void basic_credentials_rejected(void **state)
{
    (void)state;
    world_start(&W);
    assert_int_equal(tg_registry_creds_add(W.creds, W.host, "user", "wrong"), 0);
    route(&W, "/manifests/v1 ", NULL,
          resp(&W, 401, "WWW-Authenticate: Basic realm=\"r\"\r\n", "{}"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", W.creds, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_EUNAUTHORIZED);
    assert_null(strstr(W.message, "wrong"));
    assert_int_equal((int)W.srv.requests, 2);
    world_end(&W);
}

static void bearer_flow_and_token_cache(void **state)
{
    char challenge[512];
    struct tg_registry_stats st;

    (void)state;
    world_start(&W);
    assert_int_equal(tg_registry_creds_add(W.creds, W.host, "user", "secret-pw"), 0);
    snprintf(challenge, sizeof(challenge),
             "WWW-Authenticate: Bearer realm=\"http://%s/token\",service=\"reg, test\","
             "scope=\"repository:shop/web:pull\"\r\n",
             W.host);
    route(&W, "GET /token?", "Authorization: Basic " AUTH_B64,
          resp(&W, 200, "", "{\"token\":\"tok-123\",\"expires_in\":300}"));
    route(&W, "/manifests/", "Authorization: Bearer tok-123\r\n", resp(&W, 200, OCI_CT, MANIFEST));
    route(&W, "/manifests/", NULL, resp(&W, 401, challenge, "{}"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", W.creds, on_doc, &W), 0);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    assert_int_equal((int)W.srv.requests, 3);
    const char *token_req = W.srv.log[1];
    assert_non_null(strstr(token_req, "GET /token?service=reg%2C%20test&"
                                      "scope=repository%3Ashop%2Fweb%3Apull HTTP/1.1"));
    /* A second document of the same repository reuses the token. */
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v2", W.creds, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 2);
    assert_int_equal(W.rc, 0);
    assert_int_equal((int)W.srv.requests, 4);
    assert_non_null(strstr(W.srv.log[3], "Authorization: Bearer tok-123\r\n"));
    tg_registry_stats(W.reg, &st);
    assert_int_equal((int)st.token_requests, 1);
    assert_int_equal((int)st.requests, 4);
    world_end(&W);
}

static void bearer_anonymous_token(void **state)
{
    char challenge[512];

    (void)state;
    world_start(&W);
    snprintf(challenge, sizeof(challenge),
             "WWW-Authenticate: Bearer realm=\"http://%s/token\",service=\"reg\"\r\n", W.host);
    route(&W, "GET /token?", NULL, resp(&W, 200, "", "{\"access_token\":\"anon-tok\"}"));
    route(&W, "/manifests/", "Authorization: Bearer anon-tok\r\n", resp(&W, 200, OCI_CT, MANIFEST));
    route(&W, "/manifests/", NULL, resp(&W, 401, challenge, "{}"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    assert_null(strstr(W.srv.log[1], "Authorization"));
    world_end(&W);
}

static void bearer_token_refused_without_credentials(void **state)
{
    char challenge[512];

    (void)state;
    world_start(&W);
    snprintf(challenge, sizeof(challenge),
             "WWW-Authenticate: Bearer realm=\"http://%s/token\",service=\"reg\"\r\n", W.host);
    route(&W, "GET /token?", NULL, resp(&W, 401, "", "{}"));
    route(&W, "/manifests/", NULL, resp(&W, 401, challenge, "{}"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_EUNAUTHORIZED);
    assert_non_null(strstr(W.message, "requires credentials"));
    world_end(&W);
}

static void malformed_challenges(void **state)
{
    static const char *const bad[] = {
        "",
        "Bearer realm=\"http://x/token",  /* unterminated quote */
        "Bearer realm",                   /* no value */
        "Bearer =x",                      /* no key */
        "Negotiate abc",                  /* not ours */
        "Bearer service=\"reg\"",         /* no realm */
        "Bearer realm=\"ftp://x/token\"", /* not http(s) */
        "Bearer realm=\"https://x\" junk here",
    };
    char hdr[8192];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
        world_start(&W);
        if (i < sizeof(bad) / sizeof(bad[0])) {
            snprintf(hdr, sizeof(hdr), "WWW-Authenticate: %s\r\n", bad[i]);
        } else { /* a value past every cap */
            int n = snprintf(hdr, sizeof(hdr), "WWW-Authenticate: Bearer realm=\"");
            memset(hdr + n, 'a', 3000);
            snprintf(hdr + n + 3000, sizeof(hdr) - (size_t)n - 3000, "\"\r\n");
        }
        route(&W, "/manifests/", NULL, resp(&W, 401, hdr, "{}"));
        struct tg_image_ref *r = ref_of(&W, "shop/web");
        assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
        tg_image_ref_free(r);
        run_until(&W, 1);
        if (W.rc != TG_EINVALID)
            fail_msg("challenge %zu: rc %d (%s)", i, W.rc, W.message);
        world_end(&W);
    }
}

static void manifest_digest_mismatch_ignores_header(void **state)
{
    char want[80], hdr[256];

    (void)state;
    world_start(&W);
    digest_of("{\"other\":true}", want);
    snprintf(hdr, sizeof(hdr), "%sDocker-Content-Digest: %s\r\n", OCI_CT, want);
    route(&W, "/manifests/sha256:", NULL, resp(&W, 200, hdr, MANIFEST));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, want, NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_EINVALID);
    assert_non_null(strstr(W.message, "sha256"));
    world_end(&W);
}

static void manifest_by_digest_ok(void **state)
{
    char want[80];

    (void)state;
    world_start(&W);
    digest_of(MANIFEST, want);
    route(&W, "/manifests/sha256:", NULL, resp(&W, 200, OCI_CT, MANIFEST));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, want, NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    assert_string_equal(W.digest, want);
    world_end(&W);
}

static void blob_size_mismatch(void **state)
{
    char d[80];

    (void)state;
    world_start(&W);
    digest_of("hello", d);
    route(&W, "/blobs/", NULL, resp(&W, 200, "", "hello"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_blob(W.reg, r, d, 6, NULL, on_doc, &W), 0);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_EINVALID);
    assert_non_null(strstr(W.message, "5 bytes"));
    /* The right size passes. */
    assert_int_equal(tg_registry_get_blob(W.reg, r, d, 5, NULL, on_doc, &W), 0);
    run_until(&W, 2);
    assert_int_equal(W.rc, 0);
    assert_string_equal(W.body, "hello");
    tg_image_ref_free(r);
    world_end(&W);
}

static void blob_digest_mismatch(void **state)
{
    char d[80];

    (void)state;
    world_start(&W);
    digest_of("hello", d);
    route(&W, "/blobs/", NULL, resp(&W, 200, "", "hellO"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_blob(W.reg, r, d, -1, NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_EINVALID);
    world_end(&W);
}

static void oversized_manifest(void **state)
{
    struct tg_registry_options o = {.timeout_ms = 10000, .max_manifest = 64};
    char big[1024];

    (void)state;
    world_start_opt(&W, &o);
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    route(&W, "/manifests/", NULL, resp(&W, 200, OCI_CT, big));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_ETOOBIG);
    assert_non_null(strstr(W.message, "64 bytes"));
    world_end(&W);
}

static void server_error_is_transient(void **state)
{
    struct tg_registry_stats st;

    (void)state;
    world_start(&W);
    route(&W, "/manifests/", NULL, resp(&W, 500, "", "oops"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_ETRANSIENT);
    assert_non_null(strstr(W.message, "shop/web"));
    tg_registry_stats(W.reg, &st);
    assert_int_equal((int)st.failures, 1);
    world_end(&W);
}

static void forbidden_and_not_found(void **state)
{
    (void)state;
    world_start(&W);
    route(&W, "/manifests/v1 ", NULL, resp(&W, 403, "", "{}"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_EFORBIDDEN);
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v2", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 2);
    assert_int_equal(W.rc, TG_ENOTFOUND);
    world_end(&W);
}

static const char *never(struct fake_server *srv, const char *request, void *arg)
{
    (void)srv, (void)request, (void)arg;
    return NULL;
}

static void timeout(void **state)
{
    struct tg_registry_options o = {.timeout_ms = 300};

    (void)state;
    world_start_opt(&W, &o);
    W.srv.route = never;
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_ETIMEOUT);
    world_end(&W);
}

static void referrers_fall_back_to_tag(void **state)
{
    static const char index[] = "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"x\"}]}";
    char d[80], tagpath[160];

    (void)state;
    world_start(&W);
    digest_of("image", d);
    snprintf(tagpath, sizeof(tagpath), "/manifests/sha256-%s ", d + 7);
    route(&W, "/referrers/", NULL, resp(&W, 404, "", "404 page not found"));
    route(&W, tagpath, NULL,
          resp(&W, 200, "Content-Type: application/vnd.oci.image.index.v1+json\r\n", index));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_referrers(W.reg, r, d, NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    assert_string_equal(W.body, index);
    assert_int_equal((int)W.srv.requests, 2);
    assert_int_equal((int)W.routes[1].hits, 1);
    world_end(&W);
}

static void referrers_api_used_when_present(void **state)
{
    static const char index[] = "{\"schemaVersion\":2,\"manifests\":[]}";
    char d[80];

    (void)state;
    world_start(&W);
    digest_of("image", d);
    route(&W, "/referrers/sha256:", NULL, resp(&W, 200, "", index));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_referrers(W.reg, r, d, NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    assert_int_equal((int)W.srv.requests, 1);
    assert_non_null(strstr(W.srv.log[0], "Accept: application/vnd.oci.image.index.v1+json\r\n"));
    world_end(&W);
}

static void referrers_none(void **state)
{
    char d[80];

    (void)state;
    world_start(&W);
    digest_of("image", d);
    route(&W, "/referrers/", NULL, resp(&W, 400, "", "bad"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_referrers(W.reg, r, d, NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    assert_non_null(strstr(W.body, "\"manifests\":[]"));
    assert_int_equal((int)W.srv.requests, 2);
    world_end(&W);
}

static void mirror_is_used(void **state)
{
    struct tg_registry_options o = {.timeout_ms = 10000};
    const char *from[] = {"docker.io"};
    const char *to[1];
    char host[64];

    (void)state;
    /* The mirror is the fake server; its host is known only after start: start twice. */
    world_start(&W);
    snprintf(host, sizeof(host), "%s", W.host);
    tg_registry_free(W.reg);
    to[0] = host;
    o.mirror_from = from;
    o.mirror_to = to;
    o.n_mirrors = 1;
    const char *hosts[] = {host};
    o.http_hosts = hosts;
    o.n_http_hosts = 1;
    assert_int_equal(tg_registry_new(&W.loop, &o, &W.reg), 0);
    route(&W, "GET /v2/library/nginx/manifests/1.25 ", NULL, resp(&W, 200, OCI_CT, MANIFEST));
    struct tg_image_ref *r;
    assert_int_equal(tg_image_ref_parse("nginx:1.25", &r), 0);
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "1.25", NULL, on_doc, &W), 0);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    /* A failure names the mirror and what it stands for. */
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "1.26", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 2);
    assert_int_equal(W.rc, TG_ENOTFOUND);
    assert_non_null(strstr(W.message, "(mirror of index.docker.io)"));
    world_end(&W);
}

static void free_cancels_in_flight(void **state)
{
    (void)state;
    world_start(&W);
    W.srv.route = never;
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v2", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    while (W.srv.requests < 2)
        uv_run(&W.loop, UV_RUN_ONCE);
    tg_registry_free(W.reg);
    W.reg = NULL;
    assert_int_equal(W.calls, 2);
    assert_int_equal(W.rc, TG_ECANCELED);
    world_end(&W);
}

static void bad_arguments(void **state)
{
    (void)state;
    world_start(&W);
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_blob(W.reg, r, "sha256:abc", -1, NULL, on_doc, &W),
                     TG_EINVALID);
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "../x", NULL, on_doc, &W), TG_EINVALID);
    assert_int_equal(tg_registry_referrers(W.reg, r, "latest", NULL, on_doc, &W), TG_EINVALID);
    tg_image_ref_free(r);
    assert_int_equal(W.calls, 0);
    world_end(&W);
}

static void basic_remembered_per_host(void **state)
{
    (void)state;
    world_start(&W);
    assert_int_equal(tg_registry_creds_add(W.creds, W.host, "user", "secret-pw"), 0);
    basic_flow(&W, 0);
    assert_int_equal((int)W.srv.requests, 2);
    /* The host asked for Basic once: the next document sends the credentials at once. */
    struct tg_image_ref *r = ref_of(&W, "shop/other");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", W.creds, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 2);
    assert_int_equal(W.rc, 0);
    assert_int_equal((int)W.srv.requests, 3);
    assert_non_null(strstr(W.srv.log[2], "Authorization: Basic " AUTH_B64 "\r\n"));
    world_end(&W);
}

static void bearer_identity_token_refresh(void **state)
{
    char json[512], challenge[512];

    (void)state;
    world_start(&W);
    snprintf(json, sizeof(json),
             "{\"auths\":{\"%s\":{\"auth\":\"PHRva2VuPjo=\",\"identitytoken\":\"refresh-me\"}}}",
             W.host);
    assert_int_equal(tg_registry_creds_add_dockerconfig(W.creds, json, strlen(json)), 0);
    snprintf(challenge, sizeof(challenge),
             "WWW-Authenticate: Bearer realm=\"http://%s/oauth\",service=\"reg\"\r\n", W.host);
    route(&W, "POST /oauth ", "refresh_token=refresh-me",
          resp(&W, 200, "", "{\"access_token\":\"from-refresh\"}"));
    route(&W, "/manifests/", "Authorization: Bearer from-refresh\r\n",
          resp(&W, 200, OCI_CT, MANIFEST));
    route(&W, "/manifests/", NULL, resp(&W, 401, challenge, "{}"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", W.creds, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    const char *req = W.srv.log[1];
    assert_non_null(strstr(req, "Content-Type: application/x-www-form-urlencoded"));
    assert_non_null(strstr(req, "grant_type=refresh_token"));
    assert_non_null(strstr(req, "scope=repository%3Ashop%2Fweb%3Apull"));
    assert_non_null(strstr(req, "service=reg"));
    world_end(&W);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void bearer_token_expires(void **state)
{
    char challenge[512];
    struct tg_registry_stats st;
    uv_timer_t wait;

    (void)state;
    world_start(&W);
    snprintf(challenge, sizeof(challenge),
             "WWW-Authenticate: Bearer realm=\"http://%s/token\",service=\"reg\"\r\n", W.host);
    route(&W, "GET /token?", NULL, resp(&W, 200, "", "{\"token\":\"short\",\"expires_in\":1}"));
    route(&W, "/manifests/", "Authorization: Bearer short\r\n", resp(&W, 200, OCI_CT, MANIFEST));
    route(&W, "/manifests/", NULL, resp(&W, 401, challenge, "{}"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    /* Past expires_in (on the loop's clock), the token is asked for again. */
    uv_timer_init(&W.loop, &wait);
    uv_timer_start(&wait, on_tick, 1200, 0);
    while (uv_is_active((uv_handle_t *)&wait))
        uv_run(&W.loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wait, NULL);
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v2", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 2);
    assert_int_equal(W.rc, 0);
    tg_registry_stats(W.reg, &st);
    assert_int_equal((int)st.token_requests, 2);
    world_end(&W);
}

static void challenge_list_reads_the_first(void **state)
{
    char challenge[512];

    (void)state;
    world_start(&W);
    snprintf(challenge, sizeof(challenge),
             "WWW-Authenticate: Bearer realm=\"http://%s/token\", service=\"a,b\", "
             "Basic realm=\"x\"\r\n",
             W.host);
    route(&W, "GET /token?service=a%2Cb&", NULL, resp(&W, 200, "", "{\"token\":\"t1\"}"));
    route(&W, "/manifests/", "Authorization: Bearer t1\r\n", resp(&W, 200, OCI_CT, MANIFEST));
    route(&W, "/manifests/", NULL, resp(&W, 401, challenge, "{}"));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    if (W.rc != 0)
        fail_msg("rc %d: %s", W.rc, W.message);
    world_end(&W);
}

static void blob_redirect_drops_credentials(void **state)
{
    char d[80], loc[256];

    (void)state;
    world_start(&W);
    assert_int_equal(tg_registry_creds_add(W.creds, W.host, "user", "secret-pw"), 0);
    digest_of("hello", d);
    snprintf(loc, sizeof(loc), "Location: http://%s/storage/blob?sig=1\r\n", W.host);
    route(&W, "GET /storage/blob", NULL, resp(&W, 200, "", "hello"));
    route(&W, "/blobs/", "Authorization: Basic", resp(&W, 307, loc, ""));
    route(&W, "/blobs/", NULL, resp(&W, 401, "WWW-Authenticate: Basic realm=\"r\"\r\n", ""));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_blob(W.reg, r, d, 5, W.creds, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    assert_int_equal((int)W.srv.requests, 3);
    assert_null(strstr(W.srv.log[2], "Authorization"));
    world_end(&W);
}

static void manifest_redirect_refused(void **state)
{
    char loc[256];

    (void)state;
    world_start(&W);
    snprintf(loc, sizeof(loc), "Location: http://%s/elsewhere\r\n", W.host);
    route(&W, "/manifests/", NULL, resp(&W, 302, loc, ""));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 1);
    assert_int_equal(W.rc, TG_EINVALID);
    world_end(&W);
}

/* Every prefix of a challenge is answered with a result, never a crash or a hang. */
static void challenge_prefixes(void **state)
{
    char full[512], hdr[600], repo[32];

    (void)state;
    world_start(&W);
    snprintf(full, sizeof(full),
             "Bearer realm=\"http://%s/token\",service=\"a \\\"b\\\"\",scope=\"x\"", W.host);
    route(&W, "GET /token?", NULL, resp(&W, 200, "", "{\"token\":\"t\"}"));
    route(&W, "/manifests/", "Authorization: Bearer t\r\n", resp(&W, 200, OCI_CT, MANIFEST));
    route(&W, "/manifests/", NULL, NULL);
    size_t n = strlen(full);
    for (size_t i = 0; i <= n; i++) {
        snprintf(hdr, sizeof(hdr),
                 "HTTP/1.1 401 X\r\nWWW-Authenticate: %.*s\r\nContent-Length: 0\r\n\r\n", (int)i,
                 full);
        W.routes[2].response = hdr;
        snprintf(repo, sizeof(repo), "shop/p%zu", i);
        struct tg_image_ref *r = ref_of(&W, repo);
        assert_int_equal(tg_registry_get_manifest(W.reg, r, "v1", NULL, on_doc, &W), 0);
        tg_image_ref_free(r);
        run_until(&W, (int)i + 1);
        if (i == n)
            assert_int_equal(W.rc, 0);
        else if (W.rc != 0 && W.rc != TG_EINVALID && W.rc != TG_EUNAUTHORIZED)
            fail_msg("prefix %zu: rc %d (%s)", i, W.rc, W.message);
    }
    assert_true(W.routes[0].hits >= 1);
    world_end(&W);
}

static void bad_ca_refused(void **state)
{
    uv_loop_t loop;
    struct tg_registry *reg = NULL;
    static const char junk[] =
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    struct tg_registry_options o = {.ca_pem = junk, .ca_len = sizeof(junk) - 1};

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(tg_registry_new(&loop, &o, &reg), TG_EINVALID);
    assert_null(reg);
    assert_non_null(strstr(tg_error_last(), "registry CA"));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void blob_relative_redirect_and_loop_cap(void **state)
{
    char d[80];

    (void)state;
    world_start(&W);
    digest_of("hello", d);
    route(&W, "GET /storage/ok", NULL, resp(&W, 200, "", "hello"));
    route(&W, "GET /storage/loop", NULL, resp(&W, 302, "Location: /storage/loop\r\n", ""));
    route(&W, "/blobs/sha256:", NULL, resp(&W, 302, "Location: /storage/ok\r\n", ""));
    struct tg_image_ref *r = ref_of(&W, "shop/web");
    assert_int_equal(tg_registry_get_blob(W.reg, r, d, 5, NULL, on_doc, &W), 0);
    run_until(&W, 1);
    assert_int_equal(W.rc, 0);
    assert_string_equal(W.body, "hello");
    /* A redirect loop ends with an error after a few hops. */
    W.routes[2].response = resp(&W, 302, "Location: /storage/loop\r\n", "");
    size_t before = W.srv.requests;
    assert_int_equal(tg_registry_get_blob(W.reg, r, d, 5, NULL, on_doc, &W), 0);
    tg_image_ref_free(r);
    run_until(&W, 2);
    assert_int_equal(W.rc, TG_EINVALID);
    assert_int_equal((int)(W.srv.requests - before), 4);
    world_end(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ref_parse_table),
        cmocka_unit_test(dockerconfig_auth_field),
        cmocka_unit_test(dockerconfig_username_password),
        cmocka_unit_test(dockerconfig_legacy_form_and_first_wins),
        cmocka_unit_test(dockerconfig_bad_json),
        cmocka_unit_test(anonymous_manifest_by_tag),
        cmocka_unit_test(basic_challenge_without_credentials),
        cmocka_unit_test(basic_credentials_rejected),
        cmocka_unit_test(bearer_flow_and_token_cache),
        cmocka_unit_test(bearer_anonymous_token),
        cmocka_unit_test(bearer_token_refused_without_credentials),
        cmocka_unit_test(malformed_challenges),
        cmocka_unit_test(manifest_digest_mismatch_ignores_header),
        cmocka_unit_test(manifest_by_digest_ok),
        cmocka_unit_test(blob_size_mismatch),
        cmocka_unit_test(blob_digest_mismatch),
        cmocka_unit_test(oversized_manifest),
        cmocka_unit_test(server_error_is_transient),
        cmocka_unit_test(forbidden_and_not_found),
        cmocka_unit_test(timeout),
        cmocka_unit_test(referrers_fall_back_to_tag),
        cmocka_unit_test(referrers_api_used_when_present),
        cmocka_unit_test(referrers_none),
        cmocka_unit_test(mirror_is_used),
        cmocka_unit_test(free_cancels_in_flight),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(basic_remembered_per_host),
        cmocka_unit_test(bearer_identity_token_refresh),
        cmocka_unit_test(bearer_token_expires),
        cmocka_unit_test(challenge_list_reads_the_first),
        cmocka_unit_test(blob_redirect_drops_credentials),
        cmocka_unit_test(manifest_redirect_refused),
        cmocka_unit_test(challenge_prefixes),
        cmocka_unit_test(bad_ca_refused),
        cmocka_unit_test(blob_relative_redirect_and_loop_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
