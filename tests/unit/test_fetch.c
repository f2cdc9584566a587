/*
 * Unit tests for verify/fetch against a routed local registry: the material of a signed image
 * (cosign v2 `.sig` and `.att` layers with their annotations, a cosign v3 bundle found through
 * the referrers tag fallback) in a stable order; an unsigned image gives no items; the fetch
 * fails closed on a 500 of a `.sig` tag, on a digest mismatch of the image manifest, and on
 * an unpinned reference; the item cap.
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
#include "verify/fetch.h"

#define MAX_STR 32

struct world {
    uv_loop_t loop;
    struct fake_server srv;
    struct fake_route routes[16];
    struct fake_routes table;
    struct tg_registry *reg;
    char host[64];
    char *strs[MAX_STR]; /* every string made at run time, freed at the end */
    int n_strs;
    char image_digest[80];
    int calls;
    int rc;
    char message[1024];
    struct tg_verify_material *m;
};

static struct world W;

static void run_until(struct world *w, int n)
{
    FAKE_RUN_UNTIL(&w->srv, w->calls >= n, "timed out waiting for %d callbacks (got %d)", n,
                   w->calls);
}

/* A string made with printf, kept until world_end. */
static const char *keep(struct world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *keep(struct world *w, const char *fmt, ...)
{
    va_list ap;
    char *s = malloc(16384);

    assert_non_null(s);
    assert_true(w->n_strs < MAX_STR);
    va_start(ap, fmt);
    vsnprintf(s, 16384, fmt, ap);
    va_end(ap);
    w->strs[w->n_strs++] = s;
    return s;
}

static const char *digest_of(struct world *w, const char *body)
{
    char hex[65];

    tg_sha256_hex(body, strlen(body), hex);
    return keep(w, "sha256:%s", hex);
}

static const char *ok(struct world *w, const char *content_type, const char *body)
{
    return keep(w, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
                content_type, strlen(body), body);
}

static void route(struct world *w, const char *match, const char *response)
{
    struct fake_route *r = &w->routes[w->table.n++];

    r->match = match;
    r->response = response;
}

static const char OCI_MANIFEST[] = "application/vnd.oci.image.manifest.v1+json";
static const char IMAGE[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image."
                            "manifest.v1+json\",\"layers\":[]}";

static void world_start(struct world *w)
{
    struct tg_registry_options o = {.timeout_ms = 10000};
    const char *hosts[1];

    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    fake_server_start_routed(&w->srv, &w->loop, &w->table, w->routes);
    snprintf(w->host, sizeof(w->host), "127.0.0.1:%d", w->srv.port);
    hosts[0] = w->host;
    o.http_hosts = hosts;
    o.n_http_hosts = 1;
    assert_int_equal(tg_registry_new(&w->loop, &o, &w->reg), 0);
    snprintf(w->image_digest, sizeof(w->image_digest), "%s", digest_of(w, IMAGE));
    route(w, keep(w, "/manifests/%s ", w->image_digest), ok(w, OCI_MANIFEST, IMAGE));
}

static void world_end(struct world *w)
{
    tg_registry_free(w->reg);
    fake_server_stop(&w->srv);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    tg_verify_material_free(w->m);
    for (int i = 0; i < w->n_strs; i++)
        free(w->strs[i]);
}

static void on_material(int rc, const char *message, struct tg_verify_material *m, void *arg)
{
    struct world *w = arg;

    w->calls++;
    w->rc = rc;
    snprintf(w->message, sizeof(w->message), "%s", message ? message : "");
    tg_verify_material_free(w->m);
    w->m = m;
}

static void start_fetch(struct world *w, size_t max_items)
{
    struct tg_fetch_options o = {.max_items = max_items};
    const char *image = keep(w, "%s/shop/web@%s", w->host, w->image_digest);

    assert_int_equal(tg_fetch_material(w->reg, image, NULL, &o, on_material, w), 0);
    assert_int_equal(w->calls, 0);
    run_until(w, 1);
}

/* A tag `sha256-<hex>.<suffix>` whose manifest has one layer with body and annotations. */
static void tag_with_layer(struct world *w, const char *suffix, const char *layer_type,
                           const char *body, const char *annotations)
{
    const char *d = digest_of(w, body);
    const char *manifest =
        keep(w,
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"application/"
             "vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":2},\"layers\":[{"
             "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":%s}]}",
             OCI_MANIFEST, d, layer_type, d, strlen(body), annotations);
    route(w, keep(w, "/manifests/sha256-%s.%s ", w->image_digest + 7, suffix),
          ok(w, OCI_MANIFEST, manifest));
    route(w, keep(w, "/blobs/%s ", d), ok(w, "application/octet-stream", body));
}

static const char BUNDLE_TYPE[] = "application/vnd.dev.sigstore.bundle.v0.3+json";

/* A referrer (listed by the sha256-<hex> index) holding one bundle layer. */
static void referrer_bundle(struct world *w, const char *bundle)
{
    const char *bd = digest_of(w, bundle);
    const char *manifest =
        keep(w,
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"%s\",\"config\":{"
             "\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"sha256:"
             "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},"
             "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}],\"subject\":{"
             "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},\"annotations\":{"
             "\"dev.sigstore.bundle.predicateType\":\"https://slsa.dev/provenance/v1\"}}",
             OCI_MANIFEST, BUNDLE_TYPE, BUNDLE_TYPE, bd, strlen(bundle), OCI_MANIFEST,
             w->image_digest, strlen(IMAGE));
    const char *md = digest_of(w, manifest);
    const char *index = keep(w,
                             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image."
                             "index.v1+json\",\"manifests\":[{\"mediaType\":\"%s\",\"digest\":"
                             "\"%s\",\"size\":%zu,\"artifactType\":\"%s\"},{\"mediaType\":\"%s\","
                             "\"digest\":\"%s\",\"size\":1,\"artifactType\":\"text/spdx\"}]}",
                             OCI_MANIFEST, md, strlen(manifest), BUNDLE_TYPE, OCI_MANIFEST,
                             digest_of(w, "unrelated"));
    route(w, keep(w, "/manifests/sha256-%s ", w->image_digest + 7),
          ok(w, "application/vnd.oci.image.index.v1+json", index));
    route(w, keep(w, "/manifests/%s ", md), ok(w, OCI_MANIFEST, manifest));
    route(w, keep(w, "/blobs/%s ", bd), ok(w, BUNDLE_TYPE, bundle));
}

static void collects_sig_att_and_bundles(void **state)
{
    (void)state;
    world_start(&W);
    tag_with_layer(&W, "sig", "application/vnd.dev.cosign.simplesigning.v1+json",
                   "{\"critical\":{}}",
                   "{\"dev.cosignproject.cosign/signature\":\"MEUCIQ==\","
                   "\"dev.sigstore.cosign/certificate\":\"CERT\","
                   "\"dev.sigstore.cosign/chain\":\"CHAIN\","
                   "\"dev.sigstore.cosign/bundle\":\"{\\\"SignedEntryTimestamp\\\":\\\"x\\\"}\"}");
    tag_with_layer(&W, "att", "application/vnd.dsse.envelope.v1+json",
                   "{\"payloadType\":\"application/vnd.in-toto+json\"}",
                   "{\"predicateType\":\"https://slsa.dev/provenance/v0.2\","
                   "\"dev.cosignproject.cosign/signature\":\"\"}");
    referrer_bundle(&W, "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"}");
    start_fetch(&W, 0);
    if (W.rc != 0)
        fail_msg("fetch failed: %s", W.message);
    struct tg_verify_material *m = W.m;
    assert_non_null(m);
    assert_string_equal(m->digest, W.image_digest);
    assert_string_equal(m->manifest_media_type, OCI_MANIFEST);
    assert_int_equal((int)m->n_items, 3);
    /* Referrer bundles first, then .sig, then .att. */
    assert_int_equal(m->items[0].kind, TG_VM_BUNDLE);
    assert_string_equal(m->items[0].media_type, BUNDLE_TYPE);
    assert_string_equal(m->items[0].predicate_type, "https://slsa.dev/provenance/v1");
    assert_non_null(strstr((char *)m->items[0].data, "bundle.v0.3"));
    assert_int_equal(m->items[1].kind, TG_VM_SIMPLESIGNING);
    assert_string_equal((char *)m->items[1].data, "{\"critical\":{}}");
    assert_string_equal(m->items[1].signature_b64, "MEUCIQ==");
    assert_string_equal(m->items[1].certificate_pem, "CERT");
    assert_string_equal(m->items[1].chain_pem, "CHAIN");
    assert_string_equal(m->items[1].rekor_bundle, "{\"SignedEntryTimestamp\":\"x\"}");
    assert_non_null(strstr(m->items[1].source, ".sig layer 0"));
    assert_int_equal(m->items[2].kind, TG_VM_DSSE);
    assert_string_equal(m->items[2].predicate_type, "https://slsa.dev/provenance/v0.2");
    assert_string_equal(m->items[2].signature_b64, "");
    assert_null(m->items[2].certificate_pem);
    world_end(&W);
}

static void sbom_attachment_recorded(void **state)
{
    (void)state;
    world_start(&W);
    tag_with_layer(&W, "sbom", "text/spdx", "SPDXVersion: SPDX-2.3", "{}");
    start_fetch(&W, 0);
    assert_int_equal(W.rc, 0);
    assert_int_equal((int)W.m->n_items, 1);
    assert_int_equal(W.m->items[0].kind, TG_VM_SBOM_ATTACHMENT);
    assert_string_equal(W.m->items[0].media_type, "text/spdx");
    world_end(&W);
}

static void unsigned_image_gives_no_items(void **state)
{
    (void)state;
    world_start(&W);
    start_fetch(&W, 0);
    assert_int_equal(W.rc, 0);
    assert_non_null(W.m);
    assert_int_equal((int)W.m->n_items, 0);
    world_end(&W);
}

static void sig_tag_500_fails_closed(void **state)
{
    (void)state;
    world_start(&W);
    tag_with_layer(&W, "att", "application/vnd.dsse.envelope.v1+json", "{}", "{}");
    route(&W, keep(&W, "/manifests/sha256-%s.sig ", W.image_digest + 7),
          "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
    start_fetch(&W, 0);
    assert_int_equal(W.rc, TG_ETRANSIENT);
    assert_null(W.m);
    assert_non_null(strstr(W.message, ".sig"));
    world_end(&W);
}

static void blob_500_fails_closed(void **state)
{
    (void)state;
    world_start(&W);
    tag_with_layer(&W, "sig", "application/vnd.dev.cosign.simplesigning.v1+json", "{}", "{}");
    /* The blob route is replaced by a failure. */
    W.routes[W.table.n - 1].response = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n";
    start_fetch(&W, 0);
    assert_int_equal(W.rc, TG_ETRANSIENT);
    assert_null(W.m);
    assert_non_null(strstr(W.message, ".sig layer 0"));
    world_end(&W);
}

static void image_manifest_digest_mismatch(void **state)
{
    (void)state;
    world_start(&W);
    W.routes[0].response = ok(&W, OCI_MANIFEST, "{\"tampered\":true}");
    start_fetch(&W, 0);
    assert_int_equal(W.rc, TG_EINVALID);
    assert_non_null(strstr(W.message, "image manifest"));
    assert_int_equal((int)W.srv.requests, 1); /* nothing else was asked */
    world_end(&W);
}

static void sig_tag_not_a_manifest(void **state)
{
    (void)state;
    world_start(&W);
    route(&W, keep(&W, "/manifests/sha256-%s.sig ", W.image_digest + 7),
          ok(&W, "application/vnd.oci.image.index.v1+json",
             "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}"));
    start_fetch(&W, 0);
    assert_int_equal(W.rc, TG_EINVALID);
    assert_non_null(strstr(W.message, "not an image manifest"));
    world_end(&W);
}

static void item_cap(void **state)
{
    (void)state;
    world_start(&W);
    tag_with_layer(&W, "sig", "application/vnd.dev.cosign.simplesigning.v1+json", "{}", "{}");
    tag_with_layer(&W, "att", "application/vnd.dsse.envelope.v1+json", "{}", "{}");
    start_fetch(&W, 1);
    assert_int_equal(W.rc, TG_ETOOBIG);
    assert_null(W.m);
    world_end(&W);
}

static void unpinned_refused(void **state)
{
    (void)state;
    world_start(&W);
    const char *image = keep(&W, "%s/shop/web:v1", W.host);
    assert_int_equal(tg_fetch_material(W.reg, image, NULL, NULL, on_material, &W), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "not pinned"));
    assert_int_equal(W.calls, 0);
    world_end(&W);
}

/* Malformed `.sig` manifests each fail the fetch with TG_EINVALID, never a crash. */
static void malformed_tag_manifests(void **state)
{
    static const char *const bad[] = {
        "not json",
        "[]",
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}",
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":{}}",
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[1]}",
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[{}]}",
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[{"
        "\"digest\":\"sha256:abc\",\"size\":1}]}",
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[{"
        "\"digest\":\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
        "\"size\":-1}]}",
        "{\"mediaType\":\"text/plain\",\"layers\":[]}",
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[]} x",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        world_start(&W);
        route(&W, keep(&W, "/manifests/sha256-%s.sig ", W.image_digest + 7),
              ok(&W, OCI_MANIFEST, bad[i]));
        start_fetch(&W, 0);
        if (W.rc != TG_EINVALID)
            fail_msg("case %zu: rc %d (%s)", i, W.rc, W.message);
        assert_null(W.m);
        world_end(&W);
    }
}

/* A referrer whose layers hold no bundle adds nothing; a listed referrer that is gone is none. */
static void referrer_without_bundle_is_skipped(void **state)
{
    (void)state;
    world_start(&W);
    const char *manifest =
        keep(&W,
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"layers\":[{\"mediaType\":"
             "\"text/plain\",\"digest\":\"%s\",\"size\":1}]}",
             OCI_MANIFEST, digest_of(&W, "x"));
    const char *md = digest_of(&W, manifest);
    const char *index = keep(&W,
                             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\","
                             "\"digest\":\"%s\",\"size\":1},{\"mediaType\":\"%s\","
                             "\"digest\":\"%s\",\"size\":1}]}",
                             OCI_MANIFEST, md, OCI_MANIFEST, digest_of(&W, "gone"));
    route(&W, keep(&W, "/manifests/sha256-%s ", W.image_digest + 7),
          ok(&W, "application/vnd.oci.image.index.v1+json", index));
    route(&W, keep(&W, "/manifests/%s ", md), ok(&W, OCI_MANIFEST, manifest));
    start_fetch(&W, 0);
    assert_int_equal(W.rc, 0);
    assert_int_equal((int)W.m->n_items, 0);
    assert_int_equal((int)W.routes[2].hits, 1);
    world_end(&W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(collects_sig_att_and_bundles),
        cmocka_unit_test(sbom_attachment_recorded),
        cmocka_unit_test(unsigned_image_gives_no_items),
        cmocka_unit_test(sig_tag_500_fails_closed),
        cmocka_unit_test(blob_500_fails_closed),
        cmocka_unit_test(image_manifest_digest_mismatch),
        cmocka_unit_test(sig_tag_not_a_manifest),
        cmocka_unit_test(item_cap),
        cmocka_unit_test(unpinned_refused),
        cmocka_unit_test(malformed_tag_manifests),
        cmocka_unit_test(referrer_without_bundle_is_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
