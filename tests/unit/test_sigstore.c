/*
 * Unit tests for verify/sigstore: DSSE and its PAE, in-toto Statements, simple-signing payloads,
 * Sigstore bundles, and tg_verify_item with keys made and signatures computed here with OpenSSL.
 * Every parser also gets its input truncated at every byte offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/error.h"
#include "util/file.h"
#include "verify/crypto.h"
#include "verify/sigstore.h"
#include "verify_testlib.h"

#define SIGN_PREDICATE "https://sigstore.dev/cosign/sign/v1"
#define SLSA_PREDICATE "https://slsa.dev/provenance/v1"
#define BUNDLE_V03     "application/vnd.dev.sigstore.bundle.v0.3+json"

/* ---- helpers -------------------------------------------------------------------------- */

/* A printf-style string on the heap (the test frees it). */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    assert_true(n >= 0);
    s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}

static EVP_PKEY *gen_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    return k;
}

/* The base64 of the P1363 r||s signature of msg. */
static char *sign_p1363_b64(EVP_PKEY *key, const void *msg, size_t len)
{
    size_t n;
    unsigned char *der = vt_sign_der(key, msg, len, &n), raw[64];
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    char *b;

    assert_non_null(es);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
    ECDSA_SIG_free(es);
    free(der);
    b = tg_b64_encode(raw, 64);
    assert_non_null(b);
    return b;
}

static char *b64s(const char *s)
{
    char *b = tg_b64_encode((const unsigned char *)s, strlen(s));
    assert_non_null(b);
    return b;
}

/* The image digest the tests verify for, and another one. */
static char digest[72], other_digest[72];

static int setup_digests(void **state)
{
    char hex[65];
    (void)state;
    tg_sha256_hex("image", 5, hex);
    snprintf(digest, sizeof(digest), "sha256:%s", hex);
    tg_sha256_hex("other", 5, hex);
    snprintf(other_digest, sizeof(other_digest), "sha256:%s", hex);
    return 0;
}

static char *simplesigning(const char *d)
{
    return fmt("{\"critical\":{\"identity\":{\"docker-reference\":\"registry.test/app\"},"
               "\"image\":{\"docker-manifest-digest\":\"%s\"},"
               "\"type\":\"cosign container image signature\"},\"optional\":null}",
               d);
}

static char *statement(const char *d, const char *predicate_type)
{
    return fmt("{\"_type\":\"https://in-toto.io/Statement/v1\","
               "\"subject\":[{\"name\":\"registry.test/app\",\"digest\":{\"sha256\":\"%s\"}}],"
               "\"predicateType\":\"%s\",\"predicate\":{\"builder\":{\"id\":\"ci\"}}}",
               d + 7, predicate_type);
}

/* A DSSE envelope of payload signed by each of keys (NULL entries: a garbage signature). */
static char *envelope(const char *payload_type, const char *payload, EVP_PKEY **keys, size_t n)
{
    unsigned char *pae;
    size_t pae_len;
    char *sigs = fmt("%s", ""), *b, *env;

    assert_int_equal(
        tg_dsse_pae(payload_type, (const unsigned char *)payload, strlen(payload), &pae, &pae_len),
        0);
    for (size_t i = 0; i < n; i++) {
        char *sig = keys[i] ? vt_sign_b64(keys[i], pae, pae_len) : b64s("garbage");
        char *next = fmt("%s%s{\"keyid\":\"\",\"sig\":\"%s\"}", sigs, i ? "," : "", sig);
        free(sig);
        free(sigs);
        sigs = next;
    }
    b = b64s(payload);
    env = fmt("{\"payloadType\":\"%s\",\"payload\":\"%s\",\"signatures\":[%s]}", payload_type, b,
              sigs);
    free(b);
    free(sigs);
    free(pae);
    return env;
}

static struct tg_vm_item item_of(enum tg_vm_kind kind, char *data)
{
    struct tg_vm_item it;
    memset(&it, 0, sizeof(it));
    it.kind = kind;
    it.source = "test item";
    it.data = (unsigned char *)data;
    it.len = strlen(data);
    return it;
}

static struct tg_authority key_authority(EVP_PKEY **keys, size_t n)
{
    struct tg_authority a;
    memset(&a, 0, sizeof(a));
    a.name = "ci";
    a.keys = keys;
    a.n_keys = n;
    return a;
}

/* Verifies a `.sig` of payload signed by signer against auth; returns the result code. */
static int verify_sig(const char *payload, const char *sig_b64, const struct tg_authority *auth,
                      const char *d, struct tg_signed *out)
{
    char *data = fmt("%s", payload);
    char *sig = fmt("%s", sig_b64);
    struct tg_vm_item it = item_of(TG_VM_SIMPLESIGNING, data);
    int rc;

    it.signature_b64 = sig;
    rc = tg_verify_item(&it, d, auth, out);
    free(data);
    free(sig);
    return rc;
}

static void assert_error_has(const char *needle)
{
    if (!strstr(tg_error_last(), needle))
        fail_msg("error \"%s\" does not contain \"%s\"", tg_error_last(), needle);
}

/* ---- DSSE ----------------------------------------------------------------------------- */

static void pae_matches_the_test_vector(void **state)
{
    unsigned char *pae;
    size_t n;
    (void)state;
    assert_int_equal(
        tg_dsse_pae("text/plain", (const unsigned char *)"Hello, World!", 13, &pae, &n), 0);
    assert_int_equal(n, strlen("DSSEv1 10 text/plain 13 Hello, World!"));
    assert_memory_equal(pae, "DSSEv1 10 text/plain 13 Hello, World!", n);
    free(pae);
    assert_int_equal(tg_dsse_pae("t", (const unsigned char *)"", 0, &pae, &n), 0);
    assert_string_equal((char *)pae, "DSSEv1 1 t 0 ");
    free(pae);
}

static void dsse_parses_std_and_urlsafe_base64(void **state)
{
    struct tg_dsse *d;
    const char *env = "{\"payloadType\":\"text/plain\",\"payload\":\"Pz8_\","
                      "\"signatures\":[{\"keyid\":\"k1\",\"sig\":\"AQID\"},{\"sig\":\"BA==\"}]}";
    (void)state;
    assert_int_equal(tg_dsse_parse(env, strlen(env), &d), 0);
    assert_string_equal(d->payload_type, "text/plain");
    assert_int_equal(d->payload_len, 3);
    assert_memory_equal(d->payload, "???", 3);
    assert_int_equal(d->n_sigs, 2);
    assert_string_equal(d->sigs[0].keyid, "k1");
    assert_int_equal(d->sigs[0].sig_len, 3);
    assert_string_equal(d->sigs[1].keyid, "");
    assert_int_equal(d->sigs[1].sig[0], 4);
    tg_dsse_free(d);
}

static void dsse_bad_base64_payload_is_refused(void **state)
{
    struct tg_dsse *d;
    const char *env =
        "{\"payloadType\":\"t\",\"payload\":\"a*b=\",\"signatures\":[{\"sig\":\"AQID\"}]}";
    (void)state;
    assert_int_equal(tg_dsse_parse(env, strlen(env), &d), TG_EINVALID);
    assert_null(d);
    assert_error_has("payload is not base64");
}

static void dsse_bad_base64_signature_is_refused(void **state)
{
    struct tg_dsse *d;
    const char *env =
        "{\"payloadType\":\"t\",\"payload\":\"AQID\",\"signatures\":[{\"sig\":\"A\"}]}";
    (void)state;
    assert_int_equal(tg_dsse_parse(env, strlen(env), &d), TG_EINVALID);
    assert_error_has("sig is not base64");
}

static void dsse_without_signatures_is_refused(void **state)
{
    struct tg_dsse *d;
    const char *env = "{\"payloadType\":\"t\",\"payload\":\"AQID\",\"signatures\":[]}";
    (void)state;
    assert_int_equal(tg_dsse_parse(env, strlen(env), &d), TG_EINVALID);
    assert_error_has("no signature");
}

static void dsse_duplicate_key_is_refused(void **state)
{
    struct tg_dsse *d;
    const char *env = "{\"payloadType\":\"t\",\"payload\":\"AQID\",\"payload\":\"BAUG\","
                      "\"signatures\":[{\"sig\":\"AQID\"}]}";
    (void)state;
    assert_int_equal(tg_dsse_parse(env, strlen(env), &d), TG_EINVALID);
    assert_error_has("duplicate key");
}

/* ---- Statement -------------------------------------------------------------------------- */

static void statement_v1_and_v01_match_by_digest(void **state)
{
    json_object *st;
    char *s = statement(digest, SLSA_PREDICATE);
    char *s01 = fmt("{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"subject\":[{\"name\":"
                    "\"x\",\"digest\":{\"sha512\":\"00\"}},{\"digest\":{\"sha256\":\"%s\"}}],"
                    "\"predicateType\":\"p\",\"unknown\":1}",
                    digest + 7);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), 0);
    assert_string_equal(json_object_get_string(json_object_object_get(st, "predicateType")),
                        SLSA_PREDICATE);
    json_object_put(st);
    assert_int_equal(tg_statement_check((unsigned char *)s01, strlen(s01), digest, &st), 0);
    json_object_put(st);
    free(s);
    free(s01);
}

static void statement_digest_compares_case_insensitively(void **state)
{
    json_object *st;
    char *s = statement(digest, SLSA_PREDICATE);
    (void)state;
    for (char *p = strstr(s, digest + 7); *p != '"'; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), 0);
    json_object_put(st);
    free(s);
}

static void statement_subject_mismatch_is_refused(void **state)
{
    json_object *st;
    char *s = statement(other_digest, SLSA_PREDICATE);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    assert_null(st);
    assert_error_has("no subject matches");
    free(s);
}

static void statement_never_matches_by_name(void **state)
{
    json_object *st;
    char *s = fmt("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":\"%s\","
                  "\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":\"p\"}",
                  digest, other_digest + 7);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    free(s);
}

static void statement_null_subject_is_refused(void **state)
{
    json_object *st;
    char *s = fmt("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[null,{\"digest\":"
                  "{\"sha256\":\"%s\"}}],\"predicateType\":\"p\"}",
                  digest + 7);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    assert_error_has("subject[0] is not an object");
    free(s);
}

static void statement_without_predicate_type_is_refused(void **state)
{
    json_object *st;
    char *s = fmt("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":"
                  "{\"sha256\":\"%s\"}}]}",
                  digest + 7);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    assert_error_has("predicateType missing");
    free(s);
}

static void statement_unknown_type_is_refused(void **state)
{
    json_object *st;
    char *s = fmt("{\"_type\":\"https://in-toto.io/Statement/v2\",\"subject\":[{\"digest\":"
                  "{\"sha256\":\"%s\"}}],\"predicateType\":\"p\"}",
                  digest + 7);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    assert_error_has("is not an in-toto Statement");
    free(s);
}

static void statement_duplicate_top_level_key_is_refused(void **state)
{
    json_object *st;
    /* json-c would keep the last subject, which matches: the duplicate must be caught. */
    char *s = fmt("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":"
                  "{\"sha256\":\"%s\"}}],\"subject\":[{\"digest\":{\"sha256\":\"%s\"}}],"
                  "\"predicateType\":\"p\"}",
                  other_digest + 7, digest + 7);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    assert_error_has("duplicate key");
    free(s);
}

static void statement_duplicate_key_in_subject_is_refused(void **state)
{
    json_object *st;
    char *s = fmt("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":"
                  "{\"sha256\":\"%s\"},\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":\"p\"}",
                  other_digest + 7, digest + 7);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    assert_error_has("duplicate key");
    free(s);
}

static void statement_duplicate_escaped_key_is_refused(void **state)
{
    json_object *st;
    /* "\u0073ubject" is "subject" once decoded. */
    char *s = fmt("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":"
                  "{\"sha256\":\"%s\"}}],\"\\u0073ubject\":[{\"digest\":{\"sha256\":\"%s\"}}],"
                  "\"predicateType\":\"p\"}",
                  other_digest + 7, digest + 7);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    assert_error_has("duplicate key");
    free(s);
}

static void statement_nul_escape_is_refused(void **state)
{
    json_object *st;
    /* json-c would cut the key at the NUL and read a predicateType other parsers do not see. */
    char *s = fmt("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":"
                  "{\"sha256\":\"%s\"}}],\"predicateType\\u0000x\":\"p\"}",
                  digest + 7);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    assert_error_has("u0000");
    free(s);
}

static void statement_too_deep_is_refused(void **state)
{
    json_object *st;
    char deep[400] = "";
    char *s;
    (void)state;
    for (int i = 0; i < 100; i++)
        strncat(deep, "[", sizeof(deep) - strlen(deep) - 1);
    for (int i = 0; i < 100; i++)
        strncat(deep, "]", sizeof(deep) - strlen(deep) - 1);
    s = fmt("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":"
            "{\"sha256\":\"%s\"}}],\"predicateType\":\"p\",\"predicate\":%s}",
            digest + 7, deep);
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    free(s);
}

static void statement_trailing_data_is_refused(void **state)
{
    json_object *st;
    char *s0 = statement(digest, "p");
    char *s = fmt("%s {}", s0);
    (void)state;
    assert_int_equal(tg_statement_check((unsigned char *)s, strlen(s), digest, &st), TG_EINVALID);
    free(s);
    free(s0);
}

/* ---- simple signing --------------------------------------------------------------------- */

static void simplesigning_accepts_the_cosign_payload(void **state)
{
    char *p = simplesigning(digest);
    (void)state;
    assert_int_equal(tg_simplesigning_check((unsigned char *)p, strlen(p), digest), 0);
    free(p);
}

static void simplesigning_other_digest_is_refused(void **state)
{
    char *p = simplesigning(other_digest);
    (void)state;
    assert_int_equal(tg_simplesigning_check((unsigned char *)p, strlen(p), digest), TG_EINVALID);
    assert_error_has("payload is for");
    free(p);
}

static void simplesigning_wrong_type_is_refused(void **state)
{
    char *p = fmt("{\"critical\":{\"image\":{\"docker-manifest-digest\":\"%s\"},"
                  "\"type\":\"atomic container signature\"},\"optional\":null}",
                  digest);
    (void)state;
    assert_int_equal(tg_simplesigning_check((unsigned char *)p, strlen(p), digest), TG_EINVALID);
    assert_error_has("critical.type");
    free(p);
}

static void simplesigning_duplicate_keys_are_refused(void **state)
{
    char *p = fmt("{\"critical\":{\"image\":{\"docker-manifest-digest\":\"%s\","
                  "\"docker-manifest-digest\":\"%s\"},"
                  "\"type\":\"cosign container image signature\"},\"optional\":null}",
                  other_digest, digest);
    (void)state;
    assert_int_equal(tg_simplesigning_check((unsigned char *)p, strlen(p), digest), TG_EINVALID);
    assert_error_has("duplicate key");
    free(p);
}

static void simplesigning_inexact_key_is_refused(void **state)
{
    char *p = fmt("{\"critical\":{\"image\":{\"Docker-manifest-digest\":\"%s\"},"
                  "\"type\":\"cosign container image signature\"},\"optional\":null}",
                  digest);
    (void)state;
    assert_int_equal(tg_simplesigning_check((unsigned char *)p, strlen(p), digest), TG_EINVALID);
    free(p);
}

/* ---- tg_verify_item: `.sig` ------------------------------------------------------------- */

static void sig_verifies_with_the_key(void **state)
{
    EVP_PKEY *keys[2] = {gen_key(), gen_key()};
    struct tg_authority auth = key_authority(keys, 2);
    struct tg_signed out;
    char *payload = simplesigning(digest), *sig = vt_sign_b64(keys[1], payload, strlen(payload));
    unsigned char *der;
    size_t der_len;
    char hex[65], *want;
    (void)state;

    assert_int_equal(verify_sig(payload, sig, &auth, digest, &out), 0);
    assert_true(out.is_signature);
    assert_string_equal(out.format, "cosign-v2");
    assert_int_equal(out.signed_at, 0);
    assert_null(out.statement);
    assert_int_equal(tg_pubkey_to_der(keys[1], &der, &der_len), 0);
    tg_sha256_hex(der, der_len, hex);
    want = fmt("key sha256:%s", hex);
    assert_string_equal(out.signer, want);
    tg_signed_clear(&out);
    assert_null(out.signer);
    free(want);
    free(der);
    free(payload);
    free(sig);
    EVP_PKEY_free(keys[0]);
    EVP_PKEY_free(keys[1]);
}

static void sig_p1363_is_accepted(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *payload = simplesigning(digest), *sig = sign_p1363_b64(key, payload, strlen(payload));
    (void)state;
    assert_int_equal(verify_sig(payload, sig, &auth, digest, &out), 0);
    tg_signed_clear(&out);
    free(payload);
    free(sig);
    EVP_PKEY_free(key);
}

static void sig_wrong_key_is_refused(void **state)
{
    EVP_PKEY *key = gen_key(), *signer = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *payload = simplesigning(digest), *sig = vt_sign_b64(signer, payload, strlen(payload));
    (void)state;
    assert_int_equal(verify_sig(payload, sig, &auth, digest, &out), TG_EINVALID);
    assert_error_has("signature does not verify with key of authority ci");
    assert_null(out.signer);
    free(payload);
    free(sig);
    EVP_PKEY_free(key);
    EVP_PKEY_free(signer);
}

static void sig_tampered_payload_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *payload = simplesigning(digest), *sig = vt_sign_b64(key, payload, strlen(payload));
    (void)state;
    payload[strlen(payload) - 2] = ' '; /* "null" -> "nul " */
    assert_int_equal(verify_sig(payload, sig, &auth, digest, &out), TG_EINVALID);
    assert_error_has("signature does not verify");
    free(payload);
    free(sig);
    EVP_PKEY_free(key);
}

static void sig_payload_for_another_digest_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *payload = simplesigning(other_digest), *sig = vt_sign_b64(key, payload, strlen(payload));
    (void)state;
    assert_int_equal(verify_sig(payload, sig, &auth, digest, &out), TG_EINVALID);
    assert_error_has("payload is for");
    assert_null(out.signer);
    free(payload);
    free(sig);
    EVP_PKEY_free(key);
}

static void sig_wrong_simplesigning_type_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *payload = fmt("{\"critical\":{\"image\":{\"docker-manifest-digest\":\"%s\"},"
                        "\"type\":\"something else\"},\"optional\":null}",
                        digest);
    char *sig = vt_sign_b64(key, payload, strlen(payload));
    (void)state;
    assert_int_equal(verify_sig(payload, sig, &auth, digest, &out), TG_EINVALID);
    assert_error_has("critical.type");
    free(payload);
    free(sig);
    EVP_PKEY_free(key);
}

static void sig_bad_base64_annotation_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *payload = simplesigning(digest);
    (void)state;
    assert_int_equal(verify_sig(payload, "MEUCIQ*#", &auth, digest, &out), TG_EINVALID);
    assert_error_has("signature annotation is not base64");
    assert_error_has("test item: ");
    free(payload);
    EVP_PKEY_free(key);
}

static void sig_without_annotation_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *payload = simplesigning(digest);
    (void)state;
    assert_int_equal(verify_sig(payload, "", &auth, digest, &out), TG_EINVALID);
    assert_error_has("no signature annotation");
    free(payload);
    EVP_PKEY_free(key);
}

static void sbom_attachment_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *data = fmt("{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\"}");
    struct tg_vm_item it = item_of(TG_VM_SBOM_ATTACHMENT, data);
    (void)state;
    assert_int_equal(tg_verify_item(&it, digest, &auth, &out), TG_EINVALID);
    assert_error_has("unsigned .sbom attachment does not count");
    free(data);
    EVP_PKEY_free(key);
}

static void authority_without_keys_or_root_is_refused(void **state)
{
    struct tg_authority auth = key_authority(NULL, 0);
    struct tg_signed out;
    char *payload = simplesigning(digest);
    (void)state;
    assert_int_equal(verify_sig(payload, "AQID", &auth, digest, &out), TG_EINVALID);
    assert_error_has("neither keys nor a trusted root");
    free(payload);
}

/* ---- tg_verify_item: `.att` -------------------------------------------------------------- */

static int verify_att(char *env, const struct tg_authority *auth, struct tg_signed *out)
{
    struct tg_vm_item it = item_of(TG_VM_DSSE, env);
    return tg_verify_item(&it, digest, auth, out);
}

static void att_verifies_and_returns_the_statement(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SLSA_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    (void)state;
    assert_int_equal(verify_att(env, &auth, &out), 0);
    assert_false(out.is_signature);
    assert_string_equal(out.format, "cosign-v2");
    assert_string_equal(out.predicate_type, SLSA_PREDICATE);
    assert_non_null(out.predicate);
    assert_string_equal(json_object_get_string(json_object_object_get(
                            json_object_object_get(out.predicate, "builder"), "id")),
                        "ci");
    assert_non_null(strstr(out.signer, "key sha256:"));
    tg_signed_clear(&out);
    free(st);
    free(env);
    EVP_PKEY_free(key);
}

static void att_multi_signature_with_one_good_is_accepted(void **state)
{
    EVP_PKEY *key = gen_key(), *stranger = gen_key();
    EVP_PKEY *signers[3] = {stranger, NULL, key};
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SLSA_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, signers, 3);
    (void)state;
    assert_int_equal(verify_att(env, &auth, &out), 0);
    tg_signed_clear(&out);
    free(st);
    free(env);
    EVP_PKEY_free(key);
    EVP_PKEY_free(stranger);
}

static void att_wrong_key_is_refused(void **state)
{
    EVP_PKEY *key = gen_key(), *stranger = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SLSA_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &stranger, 1);
    (void)state;
    assert_int_equal(verify_att(env, &auth, &out), TG_EINVALID);
    assert_error_has("signature does not verify");
    assert_null(out.statement);
    free(st);
    free(env);
    EVP_PKEY_free(key);
    EVP_PKEY_free(stranger);
}

static void att_tampered_payload_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SLSA_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    char *tampered_st = statement(digest, "https://slsa.dev/provenance/v0.2");
    char *b_old = b64s(st), *b_new = b64s(tampered_st);
    char *at = strstr(env, b_old), *tampered;
    (void)state;
    assert_non_null(at);
    *at = '\0';
    tampered = fmt("%s%s%s", env, b_new, at + strlen(b_old));
    assert_int_equal(verify_att(tampered, &auth, &out), TG_EINVALID);
    assert_error_has("signature does not verify");
    free(tampered);
    free(b_old);
    free(b_new);
    free(tampered_st);
    free(st);
    free(env);
    EVP_PKEY_free(key);
}

static void att_subject_mismatch_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(other_digest, SLSA_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    (void)state;
    assert_int_equal(verify_att(env, &auth, &out), TG_EINVALID);
    assert_error_has("no subject matches");
    assert_null(out.statement);
    assert_null(out.signer);
    free(st);
    free(env);
    EVP_PKEY_free(key);
}

static void att_wrong_payload_type_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SLSA_PREDICATE);
    char *env = envelope("application/json", st, &key, 1);
    (void)state;
    assert_int_equal(verify_att(env, &auth, &out), TG_EINVALID);
    assert_error_has("payloadType application/json");
    free(st);
    free(env);
    EVP_PKEY_free(key);
}

/* ---- tg_verify_item: bundles --------------------------------------------------------------- */

/* A bundle around a DSSE envelope, with the given media type and verification material. */
static char *dsse_bundle(const char *media_type, const char *material, const char *env)
{
    return fmt("{\"mediaType\":\"%s\",\"verificationMaterial\":%s,\"dsseEnvelope\":%s}", media_type,
               material, env);
}

static char *hint_of(EVP_PKEY *key)
{
    unsigned char *der, md[32];
    size_t n;
    char *hint;
    assert_int_equal(tg_pubkey_to_der(key, &der, &n), 0);
    tg_sha256(der, n, md);
    free(der);
    hint = tg_b64_encode(md, 32);
    assert_non_null(hint);
    return hint;
}

static int verify_bundle_for(char *bundle, const char *d, const struct tg_authority *auth,
                             struct tg_signed *out)
{
    struct tg_vm_item it = item_of(TG_VM_BUNDLE, bundle);
    it.media_type = BUNDLE_V03;
    return tg_verify_item(&it, d, auth, out);
}

static int verify_bundle(char *bundle, const struct tg_authority *auth, struct tg_signed *out)
{
    return verify_bundle_for(bundle, digest, auth, out);
}

static char *public_key_material(EVP_PKEY *key)
{
    char *hint = hint_of(key);
    char *m = fmt("{\"publicKey\":{\"hint\":\"%s\"}}", hint);
    free(hint);
    return m;
}

static void bundle_public_key_dsse_verifies_with_a_key(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SIGN_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    char *m = public_key_material(key);
    char *b = dsse_bundle(BUNDLE_V03, m, env);
    (void)state;
    assert_int_equal(verify_bundle(b, &auth, &out), 0);
    assert_true(out.is_signature);
    assert_string_equal(out.format, "sigstore-bundle");
    assert_string_equal(out.predicate_type, SIGN_PREDICATE);
    tg_signed_clear(&out);
    free(st);
    free(env);
    free(m);
    free(b);
    EVP_PKEY_free(key);
}

static void bundle_older_media_types_are_accepted(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SLSA_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    char *m = public_key_material(key);
    const char *types[] = {"application/vnd.dev.sigstore.bundle+json;version=0.1",
                           "application/vnd.dev.sigstore.bundle+json;version=0.2",
                           "application/vnd.dev.sigstore.bundle+json;version=0.3"};
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        char *b = dsse_bundle(types[i], m, env);
        assert_int_equal(verify_bundle(b, &auth, &out), 0);
        assert_false(out.is_signature); /* an attestation, not cosign/sign/v1 */
        tg_signed_clear(&out);
        free(b);
    }
    free(st);
    free(env);
    free(m);
    EVP_PKEY_free(key);
}

static void bundle_unknown_media_type_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SIGN_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    char *m = public_key_material(key);
    char *b = dsse_bundle("application/vnd.dev.sigstore.bundle.v0.4+json", m, env);
    (void)state;
    assert_int_equal(verify_bundle(b, &auth, &out), TG_EINVALID);
    assert_error_has("bundle: unknown media type");
    free(st);
    free(env);
    free(m);
    free(b);
    EVP_PKEY_free(key);
}

static void bundle_with_two_dsse_signatures_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    EVP_PKEY *signers[2] = {key, key};
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SIGN_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, signers, 2);
    char *m = public_key_material(key);
    char *b = dsse_bundle(BUNDLE_V03, m, env);
    (void)state;
    assert_int_equal(verify_bundle(b, &auth, &out), TG_EINVALID);
    assert_error_has("2 signatures, not 1");
    free(st);
    free(env);
    free(m);
    free(b);
    EVP_PKEY_free(key);
}

static void bundle_subject_mismatch_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(other_digest, SIGN_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    char *m = public_key_material(key);
    char *b = dsse_bundle(BUNDLE_V03, m, env);
    (void)state;
    assert_int_equal(verify_bundle(b, &auth, &out), TG_EINVALID);
    assert_error_has("no subject matches");
    free(st);
    free(env);
    free(m);
    free(b);
    EVP_PKEY_free(key);
}

static void bundle_two_contents_are_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *st = statement(digest, SIGN_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    char *m = public_key_material(key);
    char *b = fmt("{\"mediaType\":\"" BUNDLE_V03 "\",\"verificationMaterial\":%s,\"dsseEnvelope\":"
                  "%s,\"messageSignature\":{\"signature\":\"AQID\"}}",
                  m, env);
    (void)state;
    assert_int_equal(verify_bundle(b, &auth, &out), TG_EINVALID);
    assert_error_has("exactly one of dsseEnvelope and messageSignature");
    free(st);
    free(env);
    free(m);
    free(b);
    EVP_PKEY_free(key);
}

/* A messageSignature bundle: the key signs manifest (DER, or P1363 when asked), and the digest
 * is its sha256. */
static char *message_bundle_ex(EVP_PKEY *key, const char *manifest, bool p1363)
{
    unsigned char md[32];
    char *mdb, *sig, *m, *b;
    tg_sha256(manifest, strlen(manifest), md);
    mdb = tg_b64_encode(md, 32);
    sig = p1363 ? sign_p1363_b64(key, manifest, strlen(manifest))
                : vt_sign_b64(key, manifest, strlen(manifest));
    m = public_key_material(key);
    b = fmt("{\"mediaType\":\"" BUNDLE_V03 "\",\"verificationMaterial\":%s,\"messageSignature\":"
            "{\"messageDigest\":{\"algorithm\":\"SHA2_256\",\"digest\":\"%s\"},\"signature\":"
            "\"%s\"}}",
            m, mdb, sig);
    free(mdb);
    free(sig);
    free(m);
    return b;
}

static char *message_bundle(EVP_PKEY *key, const char *manifest)
{
    return message_bundle_ex(key, manifest, false);
}

static void bundle_message_signature_over_the_digest_is_accepted(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *b = message_bundle(key, "image"); /* sha256("image") is digest */
    (void)state;
    assert_int_equal(verify_bundle(b, &auth, &out), 0);
    assert_true(out.is_signature);
    assert_null(out.statement);
    assert_non_null(strstr(out.signer, "key sha256:"));
    tg_signed_clear(&out);
    free(b);
    EVP_PKEY_free(key);
}

static void bundle_message_signature_for_another_digest_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *b = message_bundle(key, "other");
    (void)state;
    assert_int_equal(verify_bundle(b, &auth, &out), TG_EINVALID);
    assert_error_has("messageDigest");
    free(b);
    EVP_PKEY_free(key);
}

static void bundle_message_signature_wrong_key_is_refused(void **state)
{
    EVP_PKEY *key = gen_key(), *stranger = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *b = message_bundle(stranger, "image");
    (void)state;
    assert_int_equal(verify_bundle(b, &auth, &out), TG_EINVALID);
    assert_error_has("signature does not verify");
    free(b);
    EVP_PKEY_free(key);
    EVP_PKEY_free(stranger);
}

static void bundle_message_signature_p1363_is_accepted(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *b = message_bundle_ex(key, "image", true);
    (void)state;
    assert_int_equal(verify_bundle(b, &auth, &out), 0);
    tg_signed_clear(&out);
    free(b);
    EVP_PKEY_free(key);
}

static void bundle_public_key_for_keyless_is_refused(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(NULL, 0);
    struct tg_signed out;
    char *b = message_bundle(key, "image");
    (void)state;
    auth.root = (const struct tg_trusted_root *)&auth; /* never dereferenced on this path */
    assert_int_equal(verify_bundle(b, &auth, &out), TG_EINVALID);
    assert_error_has("a public key cannot satisfy keyless authority");
    free(b);
    EVP_PKEY_free(key);
}

/* ---- transparency log ------------------------------------------------------------------- */

static void tlog_required_but_absent_is_refused(void **state)
{
    EVP_PKEY *key = gen_key(), *rekor = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *payload = simplesigning(digest), *sig = vt_sign_b64(key, payload, strlen(payload));
    (void)state;
    auth.tlog_required = true;
    auth.rekor_key = rekor;
    assert_int_equal(verify_sig(payload, sig, &auth, digest, &out), TG_EINVALID);
    assert_error_has("no transparency-log entry (required by authority ci)");
    free(payload);
    free(sig);
    EVP_PKEY_free(key);
    EVP_PKEY_free(rekor);
}

static void tlog_required_bundle_without_entries_is_refused(void **state)
{
    EVP_PKEY *key = gen_key(), *rekor = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    struct tg_signed out;
    char *b = message_bundle(key, "image");
    (void)state;
    auth.tlog_required = true;
    auth.rekor_key = rekor;
    assert_int_equal(verify_bundle(b, &auth, &out), TG_EINVALID);
    assert_error_has("no transparency-log entry");
    free(b);
    EVP_PKEY_free(key);
    EVP_PKEY_free(rekor);
}

/*
 * A legacy cosign Rekor bundle annotation for body, its SET signed by rekor over the canonical
 * JSON {"body","integratedTime","logID","logIndex"}.
 */
static char *legacy_rekor_bundle(EVP_PKEY *rekor, const char *body, long long integrated_time)
{
    unsigned char *der, md[32];
    size_t n;
    char log_id[65], *body_b64 = b64s(body), *canon, *set, *annotation;

    assert_int_equal(tg_pubkey_to_der(rekor, &der, &n), 0);
    tg_sha256(der, n, md);
    free(der);
    tg_hex(md, 32, log_id);
    canon = fmt("{\"body\":\"%s\",\"integratedTime\":%lld,\"logID\":\"%s\",\"logIndex\":%d}",
                body_b64, integrated_time, log_id, 42);
    set = vt_sign_b64(rekor, canon, strlen(canon));
    annotation = fmt("{\"SignedEntryTimestamp\":\"%s\",\"Payload\":{\"body\":\"%s\","
                     "\"integratedTime\":%lld,\"logIndex\":%d,\"logID\":\"%s\"}}",
                     set, body_b64, integrated_time, 42, log_id);
    free(canon);
    free(set);
    free(body_b64);
    return annotation;
}

/* A hashedrekord 0.0.1 body logging sig_b64 over payload by key. */
static char *hashedrekord_body(EVP_PKEY *key, const char *sig_b64, const char *payload)
{
    char hex[65], *pem = vt_pub_pem(key), *pem_b64 = b64s(pem), *body;
    tg_sha256_hex(payload, strlen(payload), hex);
    body = fmt("{\"apiVersion\":\"0.0.1\",\"kind\":\"hashedrekord\",\"spec\":{\"data\":{\"hash\":"
               "{\"algorithm\":\"sha256\",\"value\":\"%s\"}},\"signature\":{\"content\":\"%s\","
               "\"publicKey\":{\"content\":\"%s\"}}}}",
               hex, sig_b64, pem_b64);
    free(pem);
    free(pem_b64);
    return body;
}

/* Verifies a `.sig` with a legacy Rekor bundle annotation against a key authority requiring
 * the tlog with rekor's key. */
static int verify_sig_with_rekor(const char *payload, const char *sig_b64, const char *annotation,
                                 EVP_PKEY *key, EVP_PKEY *rekor, struct tg_signed *out)
{
    char *data = fmt("%s", payload), *sig = fmt("%s", sig_b64), *rb = fmt("%s", annotation);
    struct tg_vm_item it = item_of(TG_VM_SIMPLESIGNING, data);
    struct tg_authority auth = key_authority(&key, 1);
    int rc;
    auth.tlog_required = true;
    auth.rekor_key = rekor;
    it.signature_b64 = sig;
    it.rekor_bundle = rb;
    rc = tg_verify_item(&it, digest, &auth, out);
    free(data);
    free(sig);
    free(rb);
    return rc;
}

static void tlog_legacy_rekor_bundle_is_accepted(void **state)
{
    EVP_PKEY *key = gen_key(), *rekor = gen_key();
    struct tg_signed out;
    char *payload = simplesigning(digest), *sig = vt_sign_b64(key, payload, strlen(payload));
    char *body = hashedrekord_body(key, sig, payload);
    char *annotation = legacy_rekor_bundle(rekor, body, 1765000000);
    (void)state;
    if (verify_sig_with_rekor(payload, sig, annotation, key, rekor, &out) != 0)
        fail_msg("refused: %s", tg_error_last());
    assert_int_equal(out.signed_at, 1765000000);
    assert_true(out.is_signature);
    tg_signed_clear(&out);
    free(payload);
    free(sig);
    free(body);
    free(annotation);
    EVP_PKEY_free(key);
    EVP_PKEY_free(rekor);
}

static void tlog_set_by_another_rekor_key_is_refused(void **state)
{
    EVP_PKEY *key = gen_key(), *rekor = gen_key(), *stranger = gen_key();
    struct tg_signed out;
    char *payload = simplesigning(digest), *sig = vt_sign_b64(key, payload, strlen(payload));
    char *body = hashedrekord_body(key, sig, payload);
    char *annotation = legacy_rekor_bundle(stranger, body, 1765000000);
    (void)state;
    assert_int_equal(verify_sig_with_rekor(payload, sig, annotation, key, rekor, &out),
                     TG_EINVALID);
    assert_null(out.signer);
    free(payload);
    free(sig);
    free(body);
    free(annotation);
    EVP_PKEY_free(key);
    EVP_PKEY_free(rekor);
    EVP_PKEY_free(stranger);
}

static void tlog_entry_of_another_signature_is_refused(void **state)
{
    EVP_PKEY *key = gen_key(), *rekor = gen_key();
    struct tg_signed out;
    char *payload = simplesigning(digest), *sig = vt_sign_b64(key, payload, strlen(payload));
    char *sig2 = vt_sign_b64(key, "something else", 14);
    char *body = hashedrekord_body(key, sig2, "something else");
    char *annotation = legacy_rekor_bundle(rekor, body, 1765000000);
    (void)state;
    assert_int_equal(verify_sig_with_rekor(payload, sig, annotation, key, rekor, &out),
                     TG_EINVALID);
    assert_error_has("not bound to the signature");
    free(payload);
    free(sig);
    free(sig2);
    free(body);
    free(annotation);
    EVP_PKEY_free(key);
    EVP_PKEY_free(rekor);
}

static void tlog_unbound_reason_survives_other_keys(void **state)
{
    EVP_PKEY *keys[2] = {gen_key(), gen_key()}, *rekor = gen_key();
    struct tg_authority auth = key_authority(keys, 2);
    struct tg_signed out;
    char *payload = simplesigning(digest), *sig = vt_sign_b64(keys[0], payload, strlen(payload));
    char *sig2 = vt_sign_b64(keys[0], "something else", 14);
    char *body = hashedrekord_body(keys[0], sig2, "something else");
    char *annotation = legacy_rekor_bundle(rekor, body, 1765000000);
    char *data = fmt("%s", payload);
    struct tg_vm_item it = item_of(TG_VM_SIMPLESIGNING, data);
    (void)state;
    auth.tlog_required = true;
    auth.rekor_key = rekor;
    it.signature_b64 = sig;
    it.rekor_bundle = annotation;
    /* The first key verifies but the entry logs another signature; the second key fails. */
    assert_int_equal(tg_verify_item(&it, digest, &auth, &out), TG_EINVALID);
    assert_error_has("not bound to the signature");
    assert_null(strstr(tg_error_last(), "does not verify with the key"));
    free(data);
    free(payload);
    free(sig);
    free(sig2);
    free(body);
    free(annotation);
    EVP_PKEY_free(keys[0]);
    EVP_PKEY_free(keys[1]);
    EVP_PKEY_free(rekor);
}

static char *spki_b64(EVP_PKEY *key, char **key_id_b64);

/* A bundle's tlogEntries array holding one hashedrekord entry with a SET by rekor. */
static char *hashedrekord_tlog_entries(EVP_PKEY *rekor, const char *body)
{
    char *body_b64 = b64s(body), *spki, *id_b64, log_hex[65], *canon, *set, *out;
    unsigned char *id;
    size_t id_len;

    spki = spki_b64(rekor, &id_b64);
    assert_int_equal(tg_b64_decode(id_b64, strlen(id_b64), &id, &id_len), 0);
    tg_hex(id, 32, log_hex);
    canon = fmt("{\"body\":\"%s\",\"integratedTime\":1765000000,\"logID\":\"%s\",\"logIndex\":7}",
                body_b64, log_hex);
    set = vt_sign_b64(rekor, canon, strlen(canon));
    out =
        fmt("[{\"logIndex\":\"7\",\"logId\":{\"keyId\":\"%s\"},\"kindVersion\":{\"kind\":"
            "\"hashedrekord\",\"version\":\"0.0.1\"},\"integratedTime\":\"1765000000\","
            "\"inclusionPromise\":{\"signedEntryTimestamp\":\"%s\"},\"canonicalizedBody\":\"%s\"}]",
            id_b64, set, body_b64);
    free(body_b64);
    free(spki);
    free(id_b64);
    free(id);
    free(canon);
    free(set);
    return out;
}

/* Verifies a messageSignature bundle over "image" whose tlog entry logs (logged_sig over
 * logged_manifest), against key with the tlog required and rekor's key. */
static int verify_message_with_tlog(EVP_PKEY *key, EVP_PKEY *rekor, const char *logged_manifest,
                                    struct tg_signed *out)
{
    struct tg_authority auth = key_authority(&key, 1);
    /* ECDSA signatures differ each time: log the very signature the bundle carries. */
    char *b0 = message_bundle(key, "image"), *sig_at = strstr(b0, "\"signature\":\"") + 13;
    char *sig = fmt("%.*s", (int)(strchr(sig_at, '"') - sig_at), sig_at);
    char *body = hashedrekord_body(key, sig, logged_manifest);
    char *entries = hashedrekord_tlog_entries(rekor, body);
    char *b =
        fmt("%.*s,\"tlogEntries\":%s%s", (int)(strstr(b0, "}},\"messageSignature\"") - b0 + 1), b0,
            entries, strstr(b0, "}},\"messageSignature\"") + 1);
    int rc;
    auth.tlog_required = true;
    auth.rekor_key = rekor;
    rc = verify_bundle(b, &auth, out);
    free(b0);
    free(sig);
    free(body);
    free(entries);
    free(b);
    return rc;
}

static void tlog_message_signature_bundle_is_accepted(void **state)
{
    EVP_PKEY *key, *rekor;
    struct tg_signed out;
    (void)state;
    key = gen_key();
    rekor = gen_key();
    if (verify_message_with_tlog(key, rekor, "image", &out) != 0)
        fail_msg("refused: %s", tg_error_last());
    assert_int_equal(out.signed_at, 1765000000);
    assert_true(out.is_signature);
    tg_signed_clear(&out);
    EVP_PKEY_free(key);
    EVP_PKEY_free(rekor);
}

static void tlog_message_signature_of_another_artifact_is_refused(void **state)
{
    EVP_PKEY *key, *rekor;
    struct tg_signed out;
    (void)state;
    key = gen_key();
    rekor = gen_key();
    assert_int_equal(verify_message_with_tlog(key, rekor, "other", &out), TG_EINVALID);
    assert_error_has("tlog entry logs another artifact");
    EVP_PKEY_free(key);
    EVP_PKEY_free(rekor);
}

/* ---- keyless ------------------------------------------------------------------------------ */

#define OIDC_ISSUER "https://token.actions.githubusercontent.com"
#define WORKFLOW    "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main"
#define SIGNED_AT   1765000000L

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* A certificate for key: a CA (self-signed when issuer is NULL) or a Fulcio-like leaf. */
static X509 *make_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long not_before,
                       long not_after)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509V3_CTX ctx;
    X509_NAME *name;

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), not_before));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), not_after));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    name = X509_get_subject_name(x);
    if (!issuer)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test ca", -1,
                                   -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    if (!issuer) {
        add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.57264.1.8", 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        unsigned char der[2 + sizeof(OIDC_ISSUER)];
        X509_EXTENSION *e;
        der[0] = 0x0c; /* UTF8String */
        der[1] = (unsigned char)strlen(OIDC_ISSUER);
        memcpy(der + 2, OIDC_ISSUER, strlen(OIDC_ISSUER));
        assert_true(oid && os);
        assert_int_equal(ASN1_OCTET_STRING_set(os, der, 2 + (int)strlen(OIDC_ISSUER)), 1);
        e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os);
        assert_non_null(e);
        assert_int_equal(X509_add_ext(x, e, -1), 1);
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(os);
        ASN1_OBJECT_free(oid);
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
        add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
        add_ext(x, &ctx, NID_ext_key_usage, "codeSigning");
        add_ext(x, &ctx, NID_subject_alt_name, "critical,URI:" WORKFLOW);
    }
    assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
    return x;
}

static char *cert_b64(X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    char *b;
    assert_true(n > 0);
    b = tg_b64_encode(der, (size_t)n);
    OPENSSL_free(der);
    assert_non_null(b);
    return b;
}

static char *spki_b64(EVP_PKEY *key, char **key_id_b64)
{
    unsigned char *der, md[32];
    size_t n;
    char *b;
    assert_int_equal(tg_pubkey_to_der(key, &der, &n), 0);
    tg_sha256(der, n, md);
    b = tg_b64_encode(der, n);
    *key_id_b64 = tg_b64_encode(md, 32);
    free(der);
    return b;
}

/* A keyless setup: a CA, a leaf valid for ten minutes around SIGNED_AT, a Rekor key, and the
 * trusted root naming the CA and the Rekor log. */
struct keyless_fixture {
    EVP_PKEY *ca_key, *leaf_key, *rekor, *ct;
    X509 *ca, *leaf;
    struct tg_trusted_root *root;
    struct tg_identity_rule rule;
};

static void keyless_setup(struct keyless_fixture *f, long leaf_not_after)
{
    char *ca_b64, *rekor_b64, *rekor_id, *ct_b64, *ct_id, *json;
    memset(f, 0, sizeof(*f));
    f->ca_key = gen_key();
    f->leaf_key = gen_key();
    f->rekor = gen_key();
    f->ct = gen_key();
    f->ca = make_cert(f->ca_key, NULL, f->ca_key, SIGNED_AT - 86400 * 365, SIGNED_AT + 86400 * 365);
    f->leaf = make_cert(f->leaf_key, f->ca, f->ca_key, SIGNED_AT - 60, leaf_not_after);
    ca_b64 = cert_b64(f->ca);
    rekor_b64 = spki_b64(f->rekor, &rekor_id);
    ct_b64 = spki_b64(f->ct, &ct_id);
    json = fmt("{\"mediaType\":\"application/vnd.dev.sigstore.trustedroot+json;version=0.1\","
               "\"tlogs\":[{\"baseUrl\":\"https://rekor.test\",\"hashAlgorithm\":\"SHA2_256\","
               "\"publicKey\":{\"rawBytes\":\"%s\",\"keyDetails\":\"PKIX_ECDSA_P256_SHA_256\","
               "\"validFor\":{\"start\":\"2020-01-01T00:00:00Z\"}},\"logId\":{\"keyId\":\"%s\"}}],"
               "\"certificateAuthorities\":[{\"subject\":{\"organization\":\"test\","
               "\"commonName\":\"test ca\"},\"uri\":\"https://fulcio.test\",\"certChain\":"
               "{\"certificates\":[{\"rawBytes\":\"%s\"}]},\"validFor\":{\"start\":"
               "\"2020-01-01T00:00:00Z\"}}],"
               "\"ctlogs\":[{\"baseUrl\":\"https://ct.test\",\"hashAlgorithm\":\"SHA2_256\","
               "\"publicKey\":{\"rawBytes\":\"%s\",\"keyDetails\":\"PKIX_ECDSA_P256_SHA_256\","
               "\"validFor\":{\"start\":\"2020-01-01T00:00:00Z\"}},\"logId\":{\"keyId\":\"%s\"}}]}",
               rekor_b64, rekor_id, ca_b64, ct_b64, ct_id);
    if (tg_trusted_root_parse(json, strlen(json), &f->root) != 0)
        fail_msg("trusted root refused: %s", tg_error_last());
    f->rule.issuer = OIDC_ISSUER;
    f->rule.subject = WORKFLOW;
    free(ca_b64);
    free(rekor_b64);
    free(rekor_id);
    free(ct_b64);
    free(ct_id);
    free(json);
}

static void keyless_teardown(struct keyless_fixture *f)
{
    tg_trusted_root_free(f->root);
    X509_free(f->ca);
    X509_free(f->leaf);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->leaf_key);
    EVP_PKEY_free(f->rekor);
    EVP_PKEY_free(f->ct);
}

static struct tg_authority keyless_authority(const struct keyless_fixture *f)
{
    struct tg_authority a = key_authority(NULL, 0);
    a.root = f->root;
    a.rules = &f->rule;
    a.n_rules = 1;
    a.ignore_sct = true;
    return a;
}

/* Verifies a keyless `.sig` signed at integrated_time, against rule. */
static int verify_keyless_sig(struct keyless_fixture *f, long integrated_time,
                              struct tg_signed *out)
{
    char *payload = simplesigning(digest),
         *sig = vt_sign_b64(f->leaf_key, payload, strlen(payload));
    char *pem = vt_cert_pem(f->leaf), *chain = vt_cert_pem(f->ca), *pem_b64 = b64s(pem);
    char hex[65], *body, *annotation;
    struct tg_vm_item it = item_of(TG_VM_SIMPLESIGNING, payload);
    struct tg_authority auth = keyless_authority(f);
    int rc;

    tg_sha256_hex(payload, strlen(payload), hex);
    body = fmt("{\"apiVersion\":\"0.0.1\",\"kind\":\"hashedrekord\",\"spec\":{\"data\":{\"hash\":"
               "{\"algorithm\":\"sha256\",\"value\":\"%s\"}},\"signature\":{\"content\":\"%s\","
               "\"publicKey\":{\"content\":\"%s\"}}}}",
               hex, sig, pem_b64);
    annotation = legacy_rekor_bundle(f->rekor, body, integrated_time);
    it.signature_b64 = sig;
    it.certificate_pem = pem;
    it.chain_pem = chain;
    it.rekor_bundle = annotation;
    rc = tg_verify_item(&it, digest, &auth, out);
    free(payload);
    free(sig);
    free(pem);
    free(chain);
    free(pem_b64);
    free(body);
    free(annotation);
    return rc;
}

static void keyless_sig_with_legacy_rekor_bundle_is_accepted(void **state)
{
    struct keyless_fixture f;
    struct tg_signed out;
    (void)state;
    keyless_setup(&f, SIGNED_AT + 600);
    if (verify_keyless_sig(&f, SIGNED_AT, &out) != 0)
        fail_msg("refused: %s", tg_error_last());
    assert_string_equal(out.signer, WORKFLOW);
    assert_string_equal(out.issuer, OIDC_ISSUER);
    assert_int_equal(out.signed_at, SIGNED_AT);
    assert_true(out.is_signature);
    tg_signed_clear(&out);
    keyless_teardown(&f);
}

static void keyless_wrong_identity_is_refused(void **state)
{
    struct keyless_fixture f;
    struct tg_signed out;
    (void)state;
    keyless_setup(&f, SIGNED_AT + 600);
    f.rule.subject = "https://github.com/org/other/.github/workflows/release.yml@refs/heads/main";
    assert_int_equal(verify_keyless_sig(&f, SIGNED_AT, &out), TG_EINVALID);
    assert_null(out.signer);
    keyless_teardown(&f);
}

static void keyless_certificate_expired_at_signing_time_is_refused(void **state)
{
    struct keyless_fixture f;
    struct tg_signed out;
    (void)state;
    keyless_setup(&f, SIGNED_AT + 600);
    /* Logged an hour after the ten-minute certificate expired. */
    assert_int_equal(verify_keyless_sig(&f, SIGNED_AT + 3600, &out), TG_EINVALID);
    assert_error_has("certificate");
    keyless_teardown(&f);
}

/* A keyless cosign v3 bundle: a sign/v1 Statement in DSSE signed by the leaf, its certificate,
 * and a dsse 0.0.1 tlog entry with its SET (logged at integrated_time). */
static char *keyless_bundle(struct keyless_fixture *f, long integrated_time)
{
    char *st = statement(digest, SIGN_PREDICATE), *st_b64 = b64s(st), *env, *sig, *body, *body_b64;
    char *leaf_b64 = cert_b64(f->leaf), *pem = vt_cert_pem(f->leaf), *pem_b64 = b64s(pem);
    char *canon, *set, *rekor_spki, *rekor_id, log_hex[65], env_hex[65], payload_hex[65], *b;
    unsigned char *pae, *id = NULL;
    size_t pae_len, id_len = 0;

    assert_int_equal(tg_dsse_pae("application/vnd.in-toto+json", (const unsigned char *)st,
                                 strlen(st), &pae, &pae_len),
                     0);
    sig = vt_sign_b64(f->leaf_key, pae, pae_len);
    env = fmt("{\"payload\":\"%s\",\"payloadType\":\"application/vnd.in-toto+json\","
              "\"signatures\":[{\"sig\":\"%s\"}]}",
              st_b64, sig);
    tg_sha256_hex(env, strlen(env), env_hex);
    tg_sha256_hex(st, strlen(st), payload_hex);
    body = fmt("{\"apiVersion\":\"0.0.1\",\"kind\":\"dsse\",\"spec\":{\"envelopeHash\":{"
               "\"algorithm\":\"sha256\",\"value\":\"%s\"},\"payloadHash\":{\"algorithm\":"
               "\"sha256\",\"value\":\"%s\"},\"signatures\":[{\"signature\":\"%s\","
               "\"verifier\":\"%s\"}]}}",
               env_hex, payload_hex, sig, pem_b64);
    body_b64 = b64s(body);
    rekor_spki = spki_b64(f->rekor, &rekor_id);
    assert_int_equal(tg_b64_decode(rekor_id, strlen(rekor_id), &id, &id_len), 0);
    tg_hex(id, 32, log_hex);
    canon = fmt("{\"body\":\"%s\",\"integratedTime\":%ld,\"logID\":\"%s\",\"logIndex\":42}",
                body_b64, integrated_time, log_hex);
    set = vt_sign_b64(f->rekor, canon, strlen(canon));
    b = fmt("{\"mediaType\":\"" BUNDLE_V03 "\",\"verificationMaterial\":{\"certificate\":{"
            "\"rawBytes\":\"%s\"},\"tlogEntries\":[{\"logIndex\":\"42\",\"logId\":{\"keyId\":"
            "\"%s\"},\"kindVersion\":{\"kind\":\"dsse\",\"version\":\"0.0.1\"},"
            "\"integratedTime\":\"%ld\",\"inclusionPromise\":{\"signedEntryTimestamp\":\"%s\"},"
            "\"canonicalizedBody\":\"%s\"}]},\"dsseEnvelope\":%s}",
            leaf_b64, rekor_id, integrated_time, set, body_b64, env);
    free(st);
    free(st_b64);
    free(env);
    free(sig);
    free(body);
    free(body_b64);
    free(leaf_b64);
    free(pem);
    free(pem_b64);
    free(canon);
    free(set);
    free(rekor_spki);
    free(rekor_id);
    free(pae);
    free(id);
    return b;
}

static void keyless_bundle_is_accepted(void **state)
{
    struct keyless_fixture f;
    struct tg_signed out;
    struct tg_authority auth;
    char *b;
    (void)state;
    keyless_setup(&f, SIGNED_AT + 600);
    auth = keyless_authority(&f);
    b = keyless_bundle(&f, SIGNED_AT);
    if (verify_bundle(b, &auth, &out) != 0)
        fail_msg("refused: %s", tg_error_last());
    assert_true(out.is_signature);
    assert_string_equal(out.format, "sigstore-bundle");
    assert_string_equal(out.signer, WORKFLOW);
    assert_string_equal(out.issuer, OIDC_ISSUER);
    assert_int_equal(out.signed_at, SIGNED_AT);
    assert_string_equal(out.predicate_type, SIGN_PREDICATE);
    tg_signed_clear(&out);
    free(b);
    keyless_teardown(&f);
}

static void keyless_bundle_bad_set_is_refused(void **state)
{
    struct keyless_fixture f;
    struct tg_signed out;
    struct tg_authority auth;
    char *b, *at;
    (void)state;
    keyless_setup(&f, SIGNED_AT + 600);
    auth = keyless_authority(&f);
    b = keyless_bundle(&f, SIGNED_AT);
    /* Claim another integration time than the one the SET signs. */
    at = strstr(b, "\"integratedTime\":\"1765000000\"");
    assert_non_null(at);
    at[strlen("\"integratedTime\":\"176500000")] = '1';
    assert_int_equal(verify_bundle(b, &auth, &out), TG_EINVALID);
    assert_error_has("tlog entry does not verify");
    free(b);
    keyless_teardown(&f);
}

static void keyless_without_tlog_entry_is_refused(void **state)
{
    struct tg_authority auth = key_authority(NULL, 0);
    struct tg_signed out;
    char *payload = simplesigning(digest);
    (void)state;
    auth.root = (const struct tg_trusted_root *)&auth; /* never dereferenced on this path */
    assert_int_equal(verify_sig(payload, "AQID", &auth, digest, &out), TG_EINVALID);
    assert_error_has("no transparency-log entry");
    free(payload);
}

/* ---- real keyless bundles (sigstore-js, offline against @sigstore/mock) --------------------- */

static char *read_fixture(const char *name, size_t *len)
{
    char *path = fmt("%s/verify/keyless/%s", TG_FIXTURES_DIR, name), *data;
    if (tg_file_read(path, 1 << 20, &data, len, NULL) != 0)
        fail_msg("%s: %s", path, tg_error_last());
    free(path);
    return data;
}

static const char *case_str(json_object *o, const char *k)
{
    json_object *v = json_object_object_get(o, k);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/*
 * Every bundle case of keyless.c's table (tests/fixtures/verify/keyless/cases.json, made by
 * sigstore-js) through tg_verify_item: the verdict, and on refusal the reason's substring.
 */
static void keyless_fixture_bundles_match_their_table(void **state)
{
    json_object *table, *cases;
    const char *d;
    char *text;
    size_t len;
    (void)state;
    text = read_fixture("cases.json", &len);
    table = json_tokener_parse(text);
    free(text);
    assert_non_null(table);
    d = case_str(table, "digest");
    cases = json_object_object_get(table, "cases");
    assert_true(json_object_array_length(cases) >= 10);
    for (size_t i = 0; i < json_object_array_length(cases); i++) {
        json_object *c = json_object_array_get_idx(cases, i);
        json_object *id = json_object_object_get(c, "identity");
        const char *name = case_str(c, "name"), *expect = case_str(c, "expect");
        const char *reason = case_str(c, "cReason");
        struct tg_identity_rule rule = {case_str(id, "issuer"), case_str(id, "issuerRegExp"),
                                        case_str(id, "subject"), case_str(id, "subjectRegExp")};
        struct tg_trusted_root *root;
        struct tg_authority auth = key_authority(NULL, 0);
        struct tg_signed out;
        char *bundle, *root_json;
        int rc;

        if (!case_str(c, "bundle"))
            continue;
        root_json = read_fixture(case_str(c, "trustedRoot"), &len);
        if (tg_trusted_root_parse(root_json, len, &root) != 0)
            fail_msg("%s: trusted root: %s", name, tg_error_last());
        free(root_json);
        bundle = read_fixture(case_str(c, "bundle"), &len);
        auth.root = root;
        auth.rules = &rule;
        auth.n_rules = 1;
        rc = verify_bundle_for(bundle, d, &auth, &out);
        if (strcmp(expect, "accept") == 0) {
            if (rc != 0)
                fail_msg("%s: refused: %s", name, tg_error_last());
            assert_string_equal(out.issuer, rule.issuer);
            assert_non_null(out.signer);
            assert_true(out.signed_at > 0);
            assert_non_null(out.statement);
            tg_signed_clear(&out);
        } else {
            if (rc != TG_EINVALID)
                fail_msg("%s: accepted", name);
            if (reason && !strstr(tg_error_last(), reason))
                fail_msg("%s: \"%s\" lacks \"%s\"", name, tg_error_last(), reason);
        }
        free(bundle);
        tg_trusted_root_free(root);
    }
    json_object_put(table);
}

/* ---- truncation at every byte offset ------------------------------------------------------ */

static void statement_truncated_anywhere_fails_cleanly(void **state)
{
    char *s = statement(digest, SLSA_PREDICATE);
    size_t n = strlen(s);
    (void)state;
    for (size_t i = 0; i < n; i++) {
        json_object *st = NULL;
        char *cut = malloc(i + 1);
        assert_non_null(cut);
        memcpy(cut, s, i);
        assert_int_equal(tg_statement_check((unsigned char *)cut, i, digest, &st), TG_EINVALID);
        assert_null(st);
        free(cut);
    }
    free(s);
}

static void simplesigning_truncated_anywhere_fails_cleanly(void **state)
{
    char *s = simplesigning(digest);
    size_t n = strlen(s);
    (void)state;
    for (size_t i = 0; i < n; i++) {
        char *cut = malloc(i + 1);
        assert_non_null(cut);
        memcpy(cut, s, i);
        assert_int_equal(tg_simplesigning_check((unsigned char *)cut, i, digest), TG_EINVALID);
        free(cut);
    }
    free(s);
}

static void dsse_truncated_anywhere_fails_cleanly(void **state)
{
    EVP_PKEY *key = gen_key();
    char *st = statement(digest, SLSA_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    size_t n = strlen(env);
    (void)state;
    for (size_t i = 0; i < n; i++) {
        struct tg_dsse *d = NULL;
        char *cut = malloc(i + 1);
        assert_non_null(cut);
        memcpy(cut, env, i);
        assert_int_equal(tg_dsse_parse(cut, i, &d), TG_EINVALID);
        assert_null(d);
        free(cut);
    }
    free(st);
    free(env);
    EVP_PKEY_free(key);
}

static void bundle_truncated_anywhere_fails_cleanly(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    char *st = statement(digest, SIGN_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    char *m = public_key_material(key);
    char *b = dsse_bundle(BUNDLE_V03, m, env), *mb = message_bundle(key, "image");
    char *docs[2] = {b, mb};
    (void)state;
    for (int k = 0; k < 2; k++) {
        size_t n = strlen(docs[k]);
        for (size_t i = 0; i < n; i++) {
            struct tg_bundle *parsed = NULL;
            struct tg_signed out;
            char *cut = malloc(i + 1);
            struct tg_vm_item it;
            assert_non_null(cut);
            memcpy(cut, docs[k], i);
            cut[i] = '\0';
            assert_int_equal(tg_bundle_parse(cut, i, &parsed), TG_EINVALID);
            assert_null(parsed);
            it = item_of(TG_VM_BUNDLE, cut);
            assert_int_equal(tg_verify_item(&it, digest, &auth, &out), TG_EINVALID);
            free(cut);
        }
    }
    free(st);
    free(env);
    free(m);
    free(b);
    free(mb);
    EVP_PKEY_free(key);
}

static void legacy_item_truncated_anywhere_fails_cleanly(void **state)
{
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    char *payload = simplesigning(digest), *sig = vt_sign_b64(key, payload, strlen(payload));
    size_t n = strlen(payload);
    (void)state;
    for (size_t i = 0; i < n; i++) {
        struct tg_signed out;
        char *cut = malloc(i + 1);
        struct tg_vm_item it;
        assert_non_null(cut);
        memcpy(cut, payload, i);
        cut[i] = '\0';
        it = item_of(TG_VM_SIMPLESIGNING, cut);
        it.signature_b64 = sig;
        assert_int_equal(tg_verify_item(&it, digest, &auth, &out), TG_EINVALID);
        free(cut);
    }
    free(payload);
    free(sig);
    EVP_PKEY_free(key);
}

/*
 * Flips every byte of a signed bundle and of a signed `.att` envelope to a few JSON-significant
 * values: each mutant is refused (or, when the flip is harmless, accepted) cleanly, never a
 * crash, a leak or another code; a mutant of the signed payload itself never verifies.
 */
static void mutated_items_fail_cleanly(void **state)
{
    static const char flips[] = {'"', '{', '}', '[', ',', '\\', ':', '0', 'A', (char)0x80};
    EVP_PKEY *key = gen_key();
    struct tg_authority auth = key_authority(&key, 1);
    char *st = statement(digest, SIGN_PREDICATE);
    char *env = envelope("application/vnd.in-toto+json", st, &key, 1);
    char *m = public_key_material(key);
    char *docs[3] = {dsse_bundle(BUNDLE_V03, m, env), env, message_bundle(key, "image")};
    enum tg_vm_kind kinds[3] = {TG_VM_BUNDLE, TG_VM_DSSE, TG_VM_BUNDLE};
    (void)state;
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(docs[k]);
        char *payload_at = k == 2 ? NULL : strstr(docs[k], "\"payload\":\"") + 11;
        for (size_t i = 0; i < n; i++) {
            for (size_t f = 0; f < sizeof(flips); f++) {
                char *mut = fmt("%s", docs[k]);
                struct tg_vm_item it = item_of(kinds[k], mut);
                struct tg_signed out;
                int rc;
                if (mut[i] == flips[f]) {
                    free(mut);
                    continue;
                }
                mut[i] = flips[f];
                rc = tg_verify_item(&it, digest, &auth, &out);
                if (rc != 0 && rc != TG_EINVALID)
                    fail_msg("doc %d byte %zu: code %d", k, i, rc);
                if (rc == 0 && payload_at && docs[k] + i >= payload_at &&
                    docs[k] + i < strchr(payload_at, '"'))
                    fail_msg("doc %d byte %zu: a changed payload verified", k, i);
                tg_signed_clear(&out);
                free(mut);
            }
        }
    }
    free(docs[0]);
    free(docs[2]);
    free(st);
    free(env);
    free(m);
    EVP_PKEY_free(key);
}

/* A keyless bundle with its tlog entry, truncated anywhere and with bytes flipped: refused
 * cleanly (tlog entries and certificates parsed, freed on every path). */
static void keyless_bundle_mutants_fail_cleanly(void **state)
{
    static const char flips[] = {'"', '}', 'A'};
    struct keyless_fixture f;
    struct tg_authority auth;
    char *b;
    size_t n;
    (void)state;
    keyless_setup(&f, SIGNED_AT + 600);
    auth = keyless_authority(&f);
    b = keyless_bundle(&f, SIGNED_AT);
    n = strlen(b);
    for (size_t i = 0; i < n; i++) {
        struct tg_signed out;
        char *cut = fmt("%.*s", (int)i, b);
        struct tg_vm_item it = item_of(TG_VM_BUNDLE, cut);
        assert_int_equal(tg_verify_item(&it, digest, &auth, &out), TG_EINVALID);
        free(cut);
        for (size_t k = 0; k < sizeof(flips); k++) {
            char *mut = fmt("%s", b);
            int rc;
            if (mut[i] == flips[k]) {
                free(mut);
                continue;
            }
            mut[i] = flips[k];
            it = item_of(TG_VM_BUNDLE, mut);
            rc = tg_verify_item(&it, digest, &auth, &out);
            if (rc != 0 && rc != TG_EINVALID)
                fail_msg("byte %zu: code %d", i, rc);
            tg_signed_clear(&out);
            free(mut);
        }
    }
    free(b);
    keyless_teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pae_matches_the_test_vector),
        cmocka_unit_test(dsse_parses_std_and_urlsafe_base64),
        cmocka_unit_test(dsse_bad_base64_payload_is_refused),
        cmocka_unit_test(dsse_bad_base64_signature_is_refused),
        cmocka_unit_test(dsse_without_signatures_is_refused),
        cmocka_unit_test(dsse_duplicate_key_is_refused),
        cmocka_unit_test(statement_v1_and_v01_match_by_digest),
        cmocka_unit_test(statement_digest_compares_case_insensitively),
        cmocka_unit_test(statement_subject_mismatch_is_refused),
        cmocka_unit_test(statement_never_matches_by_name),
        cmocka_unit_test(statement_null_subject_is_refused),
        cmocka_unit_test(statement_without_predicate_type_is_refused),
        cmocka_unit_test(statement_unknown_type_is_refused),
        cmocka_unit_test(statement_duplicate_top_level_key_is_refused),
        cmocka_unit_test(statement_duplicate_key_in_subject_is_refused),
        cmocka_unit_test(statement_duplicate_escaped_key_is_refused),
        cmocka_unit_test(statement_nul_escape_is_refused),
        cmocka_unit_test(statement_too_deep_is_refused),
        cmocka_unit_test(statement_trailing_data_is_refused),
        cmocka_unit_test(simplesigning_accepts_the_cosign_payload),
        cmocka_unit_test(simplesigning_other_digest_is_refused),
        cmocka_unit_test(simplesigning_wrong_type_is_refused),
        cmocka_unit_test(simplesigning_duplicate_keys_are_refused),
        cmocka_unit_test(simplesigning_inexact_key_is_refused),
        cmocka_unit_test(sig_verifies_with_the_key),
        cmocka_unit_test(sig_p1363_is_accepted),
        cmocka_unit_test(sig_wrong_key_is_refused),
        cmocka_unit_test(sig_tampered_payload_is_refused),
        cmocka_unit_test(sig_payload_for_another_digest_is_refused),
        cmocka_unit_test(sig_wrong_simplesigning_type_is_refused),
        cmocka_unit_test(sig_bad_base64_annotation_is_refused),
        cmocka_unit_test(sig_without_annotation_is_refused),
        cmocka_unit_test(sbom_attachment_is_refused),
        cmocka_unit_test(authority_without_keys_or_root_is_refused),
        cmocka_unit_test(att_verifies_and_returns_the_statement),
        cmocka_unit_test(att_multi_signature_with_one_good_is_accepted),
        cmocka_unit_test(att_wrong_key_is_refused),
        cmocka_unit_test(att_tampered_payload_is_refused),
        cmocka_unit_test(att_subject_mismatch_is_refused),
        cmocka_unit_test(att_wrong_payload_type_is_refused),
        cmocka_unit_test(bundle_public_key_dsse_verifies_with_a_key),
        cmocka_unit_test(bundle_older_media_types_are_accepted),
        cmocka_unit_test(bundle_unknown_media_type_is_refused),
        cmocka_unit_test(bundle_with_two_dsse_signatures_is_refused),
        cmocka_unit_test(bundle_subject_mismatch_is_refused),
        cmocka_unit_test(bundle_two_contents_are_refused),
        cmocka_unit_test(bundle_message_signature_over_the_digest_is_accepted),
        cmocka_unit_test(bundle_message_signature_for_another_digest_is_refused),
        cmocka_unit_test(bundle_message_signature_wrong_key_is_refused),
        cmocka_unit_test(bundle_message_signature_p1363_is_accepted),
        cmocka_unit_test(bundle_public_key_for_keyless_is_refused),
        cmocka_unit_test(tlog_required_but_absent_is_refused),
        cmocka_unit_test(tlog_required_bundle_without_entries_is_refused),
        cmocka_unit_test(tlog_legacy_rekor_bundle_is_accepted),
        cmocka_unit_test(tlog_set_by_another_rekor_key_is_refused),
        cmocka_unit_test(tlog_entry_of_another_signature_is_refused),
        cmocka_unit_test(tlog_unbound_reason_survives_other_keys),
        cmocka_unit_test(tlog_message_signature_bundle_is_accepted),
        cmocka_unit_test(tlog_message_signature_of_another_artifact_is_refused),
        cmocka_unit_test(keyless_sig_with_legacy_rekor_bundle_is_accepted),
        cmocka_unit_test(keyless_wrong_identity_is_refused),
        cmocka_unit_test(keyless_certificate_expired_at_signing_time_is_refused),
        cmocka_unit_test(keyless_bundle_is_accepted),
        cmocka_unit_test(keyless_bundle_bad_set_is_refused),
        cmocka_unit_test(keyless_without_tlog_entry_is_refused),
        cmocka_unit_test(keyless_fixture_bundles_match_their_table),
        cmocka_unit_test(statement_truncated_anywhere_fails_cleanly),
        cmocka_unit_test(simplesigning_truncated_anywhere_fails_cleanly),
        cmocka_unit_test(dsse_truncated_anywhere_fails_cleanly),
        cmocka_unit_test(bundle_truncated_anywhere_fails_cleanly),
        cmocka_unit_test(legacy_item_truncated_anywhere_fails_cleanly),
        cmocka_unit_test(mutated_items_fail_cleanly),
        cmocka_unit_test(keyless_bundle_mutants_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, setup_digests, NULL);
}
