/*
 * Unit tests for verify/verify (the judging) and the verifier's answers that need no registry.
 * Material is signed in the test with OpenSSL: EC P-256 keys made here, cosign v2
 * simple-signing `.sig` items and DSSE `.att` items over in-toto Statements.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <uv.h>

#include "util/error.h"
#include "verify/crypto.h"
#include "verify/material.h"
#include "verify/verifier.h"
#include "verify/verify.h"
#include "verify_testlib.h"

#define NOW_S      1772366400LL /* 2026-03-01T12:00:00Z */
#define IMAGE_REPO "registry.example:5000/shop/web"
#define PROV_V02   "https://slsa.dev/provenance/v0.2"
#define CDX        "https://cyclonedx.org/bom"
#define VULN       "https://cosign.sigstore.dev/attestation/vuln/v1"

/* Two signers and the image they sign. */
struct fx {
    EVP_PKEY *k1, *k2, *k3;
    char *pem1, *pem2;
    char digest[72];
    char image[200];
    struct tg_verify_material *m;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char hex[65];
    f->k1 = EVP_EC_gen("P-256");
    f->k2 = EVP_EC_gen("P-256");
    f->k3 = EVP_EC_gen("P-256");
    f->pem1 = vt_pub_pem(f->k1);
    f->pem2 = vt_pub_pem(f->k2);
    tg_sha256_hex("the image manifest", 18, hex);
    snprintf(f->digest, sizeof(f->digest), "sha256:%s", hex);
    snprintf(f->image, sizeof(f->image), "%s@%s", IMAGE_REPO, f->digest);
    f->m = tg_verify_material_new(f->image, f->digest);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    EVP_PKEY_free(f->k1);
    EVP_PKEY_free(f->k2);
    EVP_PKEY_free(f->k3);
    free(f->pem1);
    free(f->pem2);
    tg_verify_material_free(f->m);
    free(f);
    return 0;
}

/* A cosign v2 `.sig` item for digest, signed by k. */
static void add_sig(struct fx *f, EVP_PKEY *k, const char *digest)
{
    char payload[600];
    snprintf(payload, sizeof(payload),
             "{\"critical\":{\"identity\":{\"docker-reference\":\"%s\"},\"image\":{"
             "\"docker-manifest-digest\":\"%s\"},\"type\":\"cosign container image signature\"},"
             "\"optional\":null}",
             IMAGE_REPO, digest);
    char *sig = vt_sign_b64(k, payload, strlen(payload));
    struct tg_vm_item it = {.kind = TG_VM_SIMPLESIGNING,
                            .source = "sha256-x.sig layer 0",
                            .media_type = "application/vnd.dev.cosign.simplesigning.v1+json",
                            .data = (unsigned char *)payload,
                            .len = strlen(payload),
                            .signature_b64 = sig};
    assert_int_equal(tg_verify_material_add(f->m, &it), 0);
    free(sig);
}

/* A cosign v2 `.att` item: a DSSE envelope over an in-toto Statement, signed by k. */
static void add_att(struct fx *f, EVP_PKEY *k, const char *digest, const char *ptype,
                    const char *predicate)
{
    static const char *const type = "application/vnd.in-toto+json";
    char stmt[8192], pae[9000];
    snprintf(stmt, sizeof(stmt),
             "{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"predicateType\":\"%s\","
             "\"subject\":[{\"name\":\"%s\",\"digest\":{\"sha256\":\"%s\"}}],\"predicate\":%s}",
             ptype, IMAGE_REPO, digest + 7, predicate);
    int n =
        snprintf(pae, sizeof(pae), "DSSEv1 %zu %s %zu %s", strlen(type), type, strlen(stmt), stmt);
    char *sig = vt_sign_b64(k, pae, (size_t)n);
    char *payload = tg_b64_encode((const unsigned char *)stmt, strlen(stmt));
    char env[16384];
    snprintf(env, sizeof(env),
             "{\"payloadType\":\"%s\",\"payload\":\"%s\",\"signatures\":[{\"keyid\":\"\","
             "\"sig\":\"%s\"}]}",
             type, payload, sig);
    struct tg_vm_item it = {.kind = TG_VM_DSSE,
                            .source = "sha256-x.att layer 0",
                            .media_type = "application/vnd.dsse.envelope.v1+json",
                            .data = (unsigned char *)env,
                            .len = strlen(env),
                            .predicate_type = (char *)ptype};
    assert_int_equal(tg_verify_material_add(f->m, &it), 0);
    free(sig);
    free(payload);
}

static void add_sbom_attachment(struct fx *f)
{
    const char *bom = "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\",\"components\":[]}";
    struct tg_vm_item it = {.kind = TG_VM_SBOM_ATTACHMENT,
                            .source = "sha256-x.sbom layer 0",
                            .media_type = "application/vnd.cyclonedx+json",
                            .data = (unsigned char *)bom,
                            .len = strlen(bom)};
    assert_int_equal(tg_verify_material_add(f->m, &it), 0);
}

static const char *provenance(const char *builder)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"builder\":{\"id\":\"%s\"},\"buildType\":\"https://github.com/slsa-framework/"
             "slsa-github-generator/generic@v1\",\"invocation\":{\"configSource\":{\"uri\":"
             "\"git+https://github.com/shop/web@refs/heads/main\",\"digest\":{\"sha1\":"
             "\"1111111111111111111111111111111111111111\"},\"entryPoint\":\"build.yml\"}}}",
             builder);
    return buf;
}

/* A cosign vuln predicate with a Trivy report: n_critical criticals, scanned hours_ago. */
static const char *vuln_report(int n_critical, int hours_ago)
{
    static char buf[4096];
    char vulns[2048] = "", when[40];
    size_t off = 0;
    for (int i = 0; i < n_critical; i++)
        off += (size_t)snprintf(vulns + off, sizeof(vulns) - off,
                                "%s{\"VulnerabilityID\":\"CVE-2026-%04d\",\"PkgName\":\"openssl\","
                                "\"InstalledVersion\":\"3.0.1\",\"FixedVersion\":\"3.0.9\","
                                "\"Status\":\"fixed\",\"Severity\":\"CRITICAL\"}",
                                i ? "," : "", i + 1);
    tg_verify_rfc3339(NOW_S - hours_ago * 3600LL, when, sizeof(when));
    snprintf(buf, sizeof(buf),
             "{\"invocation\":{\"parameters\":null,\"uri\":\"\",\"event_id\":\"\",\"builder.id\":"
             "\"\"},\"scanner\":{\"uri\":\"pkg:github/aquasecurity/trivy@v0.50.0\",\"version\":"
             "\"0.50.0\",\"db\":{\"uri\":\"\",\"version\":\"\"},\"result\":{\"SchemaVersion\":2,"
             "\"CreatedAt\":\"%s\",\"ArtifactName\":\"x\",\"Results\":[{\"Target\":\"x\","
             "\"Class\":\"os-pkgs\",\"Type\":\"debian\",\"Vulnerabilities\":[%s]}]}},"
             "\"metadata\":{\"scanStartedOn\":\"%s\",\"scanFinishedOn\":\"%s\"}}",
             when, vulns, when, when);
    return buf;
}

/* Replaces the strings "@K1" and "@K2" anywhere in o by the PEM keys. */
static void subst(json_object *o, const struct fx *f)
{
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v)
        {
            if (json_object_is_type(v, json_type_string)) {
                const char *s = json_object_get_string(v);
                if (strcmp(s, "@K1") == 0 || strcmp(s, "@K2") == 0 || strcmp(s, "@K12") == 0) {
                    char both[2048];
                    snprintf(both, sizeof(both), "%s%s", f->pem1, f->pem2);
                    const char *with = strcmp(s, "@K1") == 0   ? f->pem1
                                       : strcmp(s, "@K2") == 0 ? f->pem2
                                                               : both;
                    json_object_object_add(o, k, json_object_new_string(with));
                }
            } else {
                subst(v, f);
            }
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            subst(json_object_array_get_idx(o, i), f);
    }
}

static json_object *judge_ex(const struct fx *f, const char *image, const char *policies,
                             const char *materials, const char *commit)
{
    json_object *pol = json_tokener_parse(policies), *mat = NULL, *out = NULL;
    assert_non_null(pol);
    subst(pol, f);
    if (materials) {
        mat = json_tokener_parse(materials);
        assert_non_null(mat);
        subst(mat, f);
    }
    struct tg_verify_input in = {.image = image,
                                 .material = f->m,
                                 .policies = pol,
                                 .materials = mat,
                                 .source_commit = commit,
                                 .now_ms = NOW_S * 1000};
    if (tg_verify_judge(&in, &out) != 0)
        fail_msg("judge: %s", tg_error_last());
    json_object_put(pol);
    json_object_put(mat);
    return out;
}

static json_object *judge(const struct fx *f, const char *policies)
{
    return judge_ex(f, f->image, policies, NULL, NULL);
}

/* The string at a dotted path of the verdict, or "" when absent. */
static const char *at(json_object *v, const char *path)
{
    char buf[200];
    snprintf(buf, sizeof(buf), "%s", path);
    json_object *o = v;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        if (!json_object_object_get_ex(o, k, &o))
            return "";
    }
    return json_object_get_string(o);
}

static void assert_contains(const char *s, const char *want)
{
    if (!strstr(s, want))
        fail_msg("\"%s\"\n  does not contain \"%s\"", s, want);
}

#define KEY1      "{\"name\":\"ci\",\"key\":{\"data\":\"@K1\"},\"tlog\":\"ignore\"}"
#define KEY2      "{\"name\":\"sec\",\"key\":{\"data\":\"@K2\"},\"tlog\":\"ignore\"}"
#define ONE(spec) "[{\"name\":\"VerificationPolicy/prod\",\"spec\":" spec "}]"

static void signature_with_the_key_passes(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v = judge(f, ONE("{\"authorities\":[" KEY1 "],\"signature\":{}}"));
    assert_string_equal(at(v, "result"), "Passed");
    assert_string_equal(at(v, "signature.result"), "Verified");
    assert_string_equal(at(v, "signature.authority"), "ci");
    assert_string_equal(at(v, "signature.format"), "cosign-v2");
    assert_string_equal(at(v, "digest"), f->digest);
    assert_string_equal(at(v, "image"), f->image);
    assert_string_equal(at(v, "checkedAt"), "2026-03-01T12:00:00Z");
    assert_string_equal(at(v, "message"), "");
    assert_string_equal(at(v, "provenance"), "");
    json_object_put(v);
}

static void signature_with_another_key_fails(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k3, f->digest);
    json_object *v = judge(f, ONE("{\"authorities\":[" KEY1 "],\"signature\":{}}"));
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "signature.result"), "Failed");
    assert_contains(at(v, "signature.reason"), "no signature from authority ci verifies: ");
    assert_contains(at(v, "message"), "VerificationPolicy/prod: signature: no signature from");
    json_object_put(v);
}

static void unsigned_image_fails(void **state)
{
    struct fx *f = *state;
    json_object *v = judge(f, ONE("{\"authorities\":[" KEY1 "],\"signature\":{}}"));
    assert_string_equal(at(v, "result"), "Failed");
    assert_contains(at(v, "signature.reason"), "no signature found for sha256:");
    json_object_put(v);
}

static void signature_for_another_digest_fails(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, "sha256:1111111111111111111111111111111111111111111111111111111111111111");
    json_object *v = judge(f, ONE("{\"authorities\":[" KEY1 "],\"signature\":{}}"));
    assert_string_equal(at(v, "signature.result"), "Failed");
    assert_contains(at(v, "signature.reason"), "no signature from authority ci verifies");
    json_object_put(v);
}

static void one_of_several_keys_in_the_data_verifies(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k2, f->digest);
    json_object *v = judge(f, ONE("{\"authorities\":[{\"name\":\"ci\",\"key\":{\"data\":"
                                  "\"@K12\"},\"tlog\":\"ignore\"}],\"signature\":{}}"));
    assert_string_equal(at(v, "signature.result"), "Verified");
    json_object_put(v);
}

static void threshold_two_with_two_keys_passes(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    add_sig(f, f->k2, f->digest);
    json_object *v =
        judge(f, ONE("{\"authorities\":[" KEY1 "," KEY2 "],\"signature\":{\"threshold\":2}}"));
    assert_string_equal(at(v, "result"), "Passed");
    assert_string_equal(at(v, "signature.authority"), "ci, sec");
    json_object_put(v);
}

static void threshold_two_with_one_signature_fails(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v =
        judge(f, ONE("{\"authorities\":[" KEY1 "," KEY2 "],\"signature\":{\"threshold\":2}}"));
    assert_string_equal(at(v, "result"), "Failed");
    assert_contains(at(v, "signature.reason"), "2 of the authorities must sign, 1 did (ci)");
    assert_contains(at(v, "signature.reason"), "no signature from authority sec verifies");
    json_object_put(v);
}

static void two_signatures_by_one_key_do_not_make_a_threshold(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    add_sig(f, f->k1, f->digest);
    json_object *v =
        judge(f, ONE("{\"authorities\":[" KEY1 "," KEY2 "],\"signature\":{\"threshold\":2}}"));
    assert_string_equal(at(v, "signature.result"), "Failed");
    json_object_put(v);
}

#define PROV_POLICY                                                                                \
    ONE("{\"authorities\":[" KEY1 "," KEY2 "],\"provenance\":{\"builders\":[{\"id\":"              \
        "\"https://builder.example/a\",\"authorities\":[\"ci\"]},{\"id\":"                         \
        "\"https://builder.example/b\",\"authorities\":[\"sec\"]}]}}")

static void provenance_from_the_builders_signer_passes(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, PROV_V02, provenance("https://builder.example/a"));
    json_object *v = judge(f, PROV_POLICY);
    assert_string_equal(at(v, "result"), "Passed");
    assert_string_equal(at(v, "provenance.result"), "Verified");
    assert_string_equal(at(v, "provenance.authority"), "ci");
    assert_string_equal(at(v, "provenance.builder"), "https://builder.example/a");
    assert_string_equal(at(v, "provenance.predicateType"), PROV_V02);
    json_object_put(v);
}

static void provenance_of_a_builder_another_signer_vouches_for_fails(void **state)
{
    struct fx *f = *state;
    /* ci signs provenance naming builder b, which only sec may vouch for. */
    add_att(f, f->k1, f->digest, PROV_V02, provenance("https://builder.example/b"));
    json_object *v = judge(f, PROV_POLICY);
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "provenance.result"), "Failed");
    assert_contains(at(v, "provenance.reason"), "no SLSA provenance from ci, sec passes: ");
    assert_contains(at(v, "provenance.reason"), "https://builder.example/b");
    json_object_put(v);
}

static void provenance_missing_fails(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v = judge(f, PROV_POLICY);
    assert_string_equal(at(v, "provenance.result"), "Failed");
    assert_contains(at(v, "provenance.reason"), "no SLSA provenance attestation found");
    json_object_put(v);
}

#define SBOM_POLICY ONE("{\"authorities\":[" KEY1 "],\"sbom\":{}}")

static void sbom_present_passes(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, CDX,
            "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\",\"components\":[{\"type\":"
            "\"library\",\"name\":\"a\"},{\"type\":\"library\",\"name\":\"b\"}]}");
    json_object *v = judge(f, SBOM_POLICY);
    assert_string_equal(at(v, "result"), "Passed");
    assert_string_equal(at(v, "sbom.result"), "Present");
    assert_string_equal(at(v, "sbom.format"), "CycloneDX");
    assert_string_equal(at(v, "sbom.specVersion"), "1.5");
    assert_string_equal(at(v, "sbom.components"), "2");
    json_object_put(v);
}

static void sbom_missing_fails(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v = judge(f, SBOM_POLICY);
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "sbom.result"), "Missing");
    assert_contains(at(v, "sbom.reason"), "no SBOM attestation found");
    json_object_put(v);
}

static void unsigned_sbom_attachment_never_counts(void **state)
{
    struct fx *f = *state;
    add_sbom_attachment(f);
    json_object *v = judge(f, SBOM_POLICY);
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "sbom.result"), "Missing");
    assert_contains(at(v, "sbom.reason"), "unsigned .sbom attachment");
    json_object_put(v);
}

static void sbom_signed_by_an_unknown_key_fails(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k3, f->digest, CDX, "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\"}");
    json_object *v = judge(f, SBOM_POLICY);
    assert_string_equal(at(v, "sbom.result"), "Missing");
    assert_contains(at(v, "sbom.reason"), "no SBOM attestation from ci passes: ");
    json_object_put(v);
}

#define VULN_POLICY                                                                                \
    ONE("{\"authorities\":[" KEY1 "],\"vulnerabilities\":{\"maxCritical\":0,\"maxScanAge\":"       \
        "\"24h\"}}")

static void vulnerabilities_under_the_ceiling_pass(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, VULN, vuln_report(0, 2));
    json_object *v = judge(f, VULN_POLICY);
    assert_string_equal(at(v, "result"), "Passed");
    assert_string_equal(at(v, "vulnerabilities.result"), "Passed");
    assert_string_equal(at(v, "vulnerabilities.critical"), "0");
    assert_string_equal(at(v, "vulnerabilities.scannedAt"), "2026-03-01T10:00:00Z");
    assert_string_equal(at(v, "vulnerabilities.validUntil"), "2026-03-02T10:00:00Z");
    assert_contains(at(v, "vulnerabilities.scanner"), "pkg:github/aquasecurity/trivy@");
    json_object_put(v);
}

static void vulnerabilities_over_the_ceiling_fail(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, VULN, vuln_report(2, 2));
    json_object *v = judge(f, VULN_POLICY);
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "vulnerabilities.result"), "Failed");
    assert_string_equal(at(v, "vulnerabilities.critical"), "2");
    assert_contains(at(v, "vulnerabilities.reason"), "critical");
    json_object_put(v);
}

static void the_newest_scan_wins(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, VULN, vuln_report(3, 10)); /* older, 3 criticals */
    add_att(f, f->k1, f->digest, VULN, vuln_report(0, 1));  /* newer, clean */
    json_object *v = judge(f, VULN_POLICY);
    assert_string_equal(at(v, "vulnerabilities.result"), "Passed");
    assert_string_equal(at(v, "vulnerabilities.scannedAt"), "2026-03-01T11:00:00Z");
    json_object_put(v);
}

static void a_scan_too_old_fails(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, VULN, vuln_report(0, 48));
    json_object *v = judge(f, VULN_POLICY);
    assert_string_equal(at(v, "vulnerabilities.result"), "Failed");
    json_object_put(v);
}

#define ATT_POLICY                                                                                 \
    ONE("{\"authorities\":[" KEY1 "],\"attestations\":[{\"predicateType\":"                        \
        "\"https://example.com/test/v1\"}]}")

static void a_required_attestation_type_passes(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, "https://example.com/test/v1", "{\"anything\":true}");
    json_object *v = judge(f, ATT_POLICY);
    assert_string_equal(at(v, "result"), "Passed");
    assert_string_equal(at(v, "attestations.result"), "Verified");
    assert_string_equal(at(v, "attestations.predicateType"), "https://example.com/test/v1");
    assert_string_equal(at(v, "attestations.authority"), "ci");
    json_object_put(v);
}

static void an_attestation_of_another_type_does_not_count(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, "https://example.com/test/v2", "{}");
    json_object *v = judge(f, ATT_POLICY);
    assert_string_equal(at(v, "result"), "Failed");
    assert_contains(at(v, "attestations.reason"),
                    "no https://example.com/test/v1 attestation found for sha256:");
    json_object_put(v);
}

static void an_attestation_signed_by_another_key_fails(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k2, f->digest, "https://example.com/test/v1", "{}");
    json_object *v = judge(f, ATT_POLICY);
    assert_string_equal(at(v, "attestations.result"), "Failed");
    assert_contains(at(v, "attestations.reason"),
                    "no https://example.com/test/v1 attestation from ci verifies: ");
    json_object_put(v);
}

static void warn_mode_records_and_lets_through(void **state)
{
    struct fx *f = *state;
    json_object *v = judge(f, ONE("{\"mode\":\"warn\",\"authorities\":[" KEY1 "],"
                                  "\"signature\":{}}"));
    assert_string_equal(at(v, "result"), "Warned");
    assert_string_equal(at(v, "signature.result"), "Warned");
    assert_contains(at(v, "message"), "(warn mode): signature: no signature found");
    json_object_put(v);
}

static void every_policy_must_pass(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v = judge(
        f, "[{\"name\":\"VerificationPolicy/a\",\"spec\":{\"authorities\":[" KEY1 "],"
           "\"signature\":{}}},{\"name\":\"VerificationPolicy/b\",\"spec\":{\"authorities\":[" KEY2
           "],\"signature\":{}}}]");
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "signature.result"), "Failed");
    assert_string_equal(at(v, "signature.policy"), "VerificationPolicy/b");
    assert_contains(at(v, "message"), "VerificationPolicy/b: signature: no signature from "
                                      "authority sec");
    json_object *names;
    assert_true(json_object_object_get_ex(v, "policies", &names));
    assert_int_equal(json_object_array_length(names), 2);
    json_object_put(v);
}

static void two_passing_policies_pass(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    add_att(f, f->k2, f->digest, CDX, "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.4\"}");
    json_object *v =
        judge(f, "[{\"name\":\"VerificationPolicy/a\",\"spec\":{\"authorities\":[" KEY1 "],"
                 "\"signature\":{}}},{\"name\":\"Release\",\"spec\":{\"authorities\":[" KEY2
                 "],\"sbom\":{}}}]");
    assert_string_equal(at(v, "result"), "Passed");
    assert_string_equal(at(v, "signature.policy"), "VerificationPolicy/a");
    assert_string_equal(at(v, "sbom.policy"), "Release");
    json_object_put(v);
}

static void a_release_policy_cannot_weaken_a_cluster_policy(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    /* The platform asks for two signers; the Release asks for one, in warn mode. */
    json_object *v = judge(
        f, "[{\"name\":\"VerificationPolicy/prod\",\"spec\":{\"authorities\":[" KEY1 "," KEY2
           "],\"signature\":{\"threshold\":2}}},{\"name\":\"Release\",\"spec\":{\"mode\":\"warn\","
           "\"authorities\":[" KEY1 "],\"signature\":{}}}]");
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "signature.result"), "Failed");
    assert_string_equal(at(v, "signature.policy"), "VerificationPolicy/prod");
    json_object_put(v);
}

static void a_failing_release_policy_fails_a_passing_cluster_policy(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v =
        judge(f, "[{\"name\":\"VerificationPolicy/prod\",\"spec\":{\"authorities\":[" KEY1 "],"
                 "\"signature\":{}}},{\"name\":\"Release\",\"spec\":{\"authorities\":[" KEY1
                 "],\"sbom\":{}}}]");
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "signature.result"), "Verified");
    assert_string_equal(at(v, "sbom.result"), "Missing");
    json_object_put(v);
}

/* A Release's policy (it has a namespace) that defines no authorities borrows the cluster's. */
#define BORROWING(release_spec)                                                                    \
    "[{\"name\":\"VerificationPolicy/prod\",\"spec\":{\"authorities\":[" KEY1 "],"                 \
    "\"vulnerabilities\":{\"maxCritical\":5}}},{\"name\":\"Release\",\"namespace\":\"shop\","      \
    "\"spec\":" release_spec "}]"

static void a_release_policy_borrows_the_cluster_authorities(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, VULN, vuln_report(2, 2));
    /* The cluster allows 5 critical; the Release tightens it to 0 without naming a key. */
    json_object *v = judge(f, BORROWING("{\"vulnerabilities\":{\"maxCritical\":0}}"));
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "vulnerabilities.policy"), "Release");
    assert_string_equal(at(v, "vulnerabilities.critical"), "2");
    assert_string_equal(at(v, "vulnerabilities.authority"), "ci");
    json_object_put(v);
    v = judge(f, BORROWING("{\"vulnerabilities\":{\"maxCritical\":2}}"));
    assert_string_equal(at(v, "result"), "Passed");
    json_object_put(v);
}

static void a_borrowed_authority_verifies_only_what_it_signed(void **state)
{
    struct fx *f = *state;
    /* Signed by another key than the cluster's: borrowing lends trust in ci only. */
    add_att(f, f->k2, f->digest, VULN, vuln_report(0, 2));
    json_object *v = judge(f, BORROWING("{\"vulnerabilities\":{\"maxCritical\":0}}"));
    assert_string_equal(at(v, "result"), "Failed");
    assert_string_equal(at(v, "vulnerabilities.result"), "Failed");
    json_object_put(v);
}

static void a_borrowing_release_policy_alone_fails(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, VULN, vuln_report(0, 2));
    json_object *v = judge(f, "[{\"name\":\"Release\",\"namespace\":\"shop\",\"spec\":"
                              "{\"vulnerabilities\":{\"maxCritical\":0}}}]");
    assert_string_equal(at(v, "result"), "Failed");
    assert_contains(at(v, "vulnerabilities.reason"), "borrows");
    json_object_put(v);
}

static void only_a_release_policy_may_borrow(void **state)
{
    (void)state;
    json_object *spec = json_tokener_parse("{\"vulnerabilities\":{\"maxCritical\":0}}");
    json_object *named = json_tokener_parse("{\"signature\":{\"authorities\":[\"ci\"]}}");
    assert_int_equal(tg_verify_policy_validate_release(spec, "spec.verify"), 0);
    assert_int_equal(tg_verify_policy_validate(spec, "spec"), TG_EINVALID);
    assert_contains(tg_error_last(), "needs an authority");
    /* Borrowed authorities cannot be named: the Release does not know them. */
    assert_int_equal(tg_verify_policy_validate_release(named, "spec.verify"), TG_EINVALID);
    assert_contains(tg_error_last(), "spec.verify.signature.authorities");
    json_object_put(spec);
    json_object_put(named);
}

#define SECRET_POLICY                                                                              \
    "[{\"name\":\"VerificationPolicy/prod\",\"namespace\":\"shop\",\"spec\":{\"authorities\":["    \
    "{\"name\":\"ci\",\"key\":{\"secretRef\":{\"name\":\"keys\",\"key\":\"cosign.pub\"}},"         \
    "\"tlog\":\"ignore\"}],\"signature\":{}}}]"

static void a_missing_secret_fails_its_authority(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v = judge_ex(f, f->image, SECRET_POLICY, "{}", NULL);
    assert_string_equal(at(v, "result"), "Failed");
    assert_contains(at(v, "signature.reason"), "Secret shop/keys key cosign.pub not found");
    json_object_put(v);
}

static void an_unsigned_image_with_a_missing_secret_says_both(void **state)
{
    struct fx *f = *state;
    json_object *v = judge_ex(f, f->image, SECRET_POLICY, "{}", NULL);
    assert_contains(at(v, "signature.reason"), "no signature found for sha256:");
    assert_contains(at(v, "signature.reason"),
                    "; authority ci: Secret shop/keys key cosign.pub not found");
    json_object_put(v);
}

static void attestations_are_not_signatures(void **state)
{
    struct fx *f = *state;
    add_att(f, f->k1, f->digest, CDX, "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\"}");
    json_object *v = judge(f, ONE("{\"authorities\":[" KEY1 "],\"signature\":{}}"));
    assert_string_equal(at(v, "signature.result"), "Failed");
    assert_contains(at(v, "signature.reason"), "no signature found for sha256:");
    json_object_put(v);
}

static void a_resolved_secret_verifies(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v =
        judge_ex(f, f->image, SECRET_POLICY, "{\"Secret/shop/keys/cosign.pub\":\"@K1\"}", NULL);
    assert_string_equal(at(v, "result"), "Passed");
    json_object_put(v);
}

/* Without the policy's namespace, a reference matches the one entry with its kind, name, key. */
#define SECRET_POLICY_NO_NS                                                                        \
    "[{\"name\":\"VerificationPolicy/prod\",\"spec\":{\"authorities\":[{\"name\":\"ci\",\"key\":"  \
    "{\"secretRef\":{\"name\":\"keys\",\"key\":\"cosign.pub\"}},\"tlog\":\"ignore\"}],"            \
    "\"signature\":{}}}]"

static void a_reference_without_namespace_finds_its_only_match(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v = judge_ex(f, f->image, SECRET_POLICY_NO_NS,
                              "{\"Secret/shop/keys/cosign.pub\":\"@K1\",\"Secret/shop/keys/"
                              "other\":\"x\",\"ConfigMap/x/keys/cosign.pub\":\"y\"}",
                              NULL);
    assert_string_equal(at(v, "result"), "Passed");
    json_object_put(v);
}

static void a_reference_without_namespace_matching_twice_is_ambiguous(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v = judge_ex(f, f->image, SECRET_POLICY_NO_NS,
                              "{\"Secret/shop/keys/cosign.pub\":\"@K1\",\"Secret/prod/keys/"
                              "cosign.pub\":\"@K1\"}",
                              NULL);
    assert_string_equal(at(v, "result"), "Failed");
    assert_contains(at(v, "signature.reason"), "Secret keys key cosign.pub is ambiguous");
    json_object_put(v);
}

static void material_of_another_image_fails(void **state)
{
    struct fx *f = *state;
    add_sig(f, f->k1, f->digest);
    json_object *v = judge_ex(
        f, IMAGE_REPO "@sha256:2222222222222222222222222222222222222222222222222222222222222222",
        ONE("{\"authorities\":[" KEY1 "],\"signature\":{}}"), NULL, NULL);
    assert_string_equal(at(v, "result"), "Failed");
    assert_contains(at(v, "signature.reason"), "the material is for sha256:");
    json_object_put(v);
}

static void malformed_policies_are_refused(void **state)
{
    struct fx *f = *state;
    json_object *pol = json_tokener_parse(
        "[{\"name\":\"VerificationPolicy/x\",\"spec\":{\"authorities\":[],\"signature\":{}}}]");
    json_object *out = NULL;
    struct tg_verify_input in = {.image = f->image, .material = f->m, .policies = pol};
    assert_int_equal(tg_verify_judge(&in, &out), TG_EINVALID);
    assert_contains(tg_error_last(), "VerificationPolicy/x: spec.signature: needs an authority");
    assert_null(out);
    json_object_put(pol);
    pol = json_tokener_parse("[]");
    assert_int_equal(tg_verify_judge(&in, &out), TG_EINVALID);
    json_object_put(pol);
}

/* The verifier answers an unpinned image with a failed verdict, after run returns. */
struct answer {
    int calls, rc;
    json_object *verdict;
};

static void on_answer(int rc, const char *message, json_object *verdict, void *arg)
{
    struct answer *a = arg;
    (void)message;
    a->calls++;
    a->rc = rc;
    a->verdict = json_object_get(verdict);
}

static void verifier_fails_an_unpinned_image_without_fetching(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct tg_verifier *v = NULL;
    struct answer a = {0};
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(tg_verifier_new(&loop, NULL, 0, &v), 0);
    json_object *pol = json_tokener_parse(
        ONE("{\"authorities\":[{\"name\":\"ci\",\"key\":{\"data\":\"x\"},\"tlog\":\"ignore\"}],"
            "\"signature\":{}}"));
    struct tg_verify_request req = {
        .image = IMAGE_REPO ":latest", .policies = pol, .now_ms = NOW_S * 1000};
    assert_int_equal(tg_verifier_run(v, &req, on_answer, &a), 0);
    assert_int_equal(a.calls, 0);
    while (a.calls == 0 && uv_run(&loop, UV_RUN_ONCE) != 0)
        ;
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, 0);
    assert_string_equal(at(a.verdict, "result"), "Failed");
    assert_contains(at(a.verdict, "signature.reason"), "not pinned by digest");
    json_object_put(a.verdict);

    /* Malformed policies: refused at once, no callback. */
    json_object *bad = json_tokener_parse("[{\"name\":\"x\",\"spec\":{\"signature\":{}}}]");
    req.policies = bad;
    assert_int_equal(tg_verifier_run(v, &req, on_answer, &a), TG_EINVALID);
    json_object_put(bad);
    json_object_put(pol);
    tg_verifier_free(v);
    while (uv_run(&loop, UV_RUN_DEFAULT) != 0)
        ;
    assert_int_equal(a.calls, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(signature_with_the_key_passes),
        T(signature_with_another_key_fails),
        T(unsigned_image_fails),
        T(signature_for_another_digest_fails),
        T(one_of_several_keys_in_the_data_verifies),
        T(threshold_two_with_two_keys_passes),
        T(threshold_two_with_one_signature_fails),
        T(two_signatures_by_one_key_do_not_make_a_threshold),
        T(provenance_from_the_builders_signer_passes),
        T(provenance_of_a_builder_another_signer_vouches_for_fails),
        T(provenance_missing_fails),
        T(sbom_present_passes),
        T(sbom_missing_fails),
        T(unsigned_sbom_attachment_never_counts),
        T(sbom_signed_by_an_unknown_key_fails),
        T(vulnerabilities_under_the_ceiling_pass),
        T(vulnerabilities_over_the_ceiling_fail),
        T(the_newest_scan_wins),
        T(a_scan_too_old_fails),
        T(a_required_attestation_type_passes),
        T(an_attestation_of_another_type_does_not_count),
        T(an_attestation_signed_by_another_key_fails),
        T(warn_mode_records_and_lets_through),
        T(every_policy_must_pass),
        T(two_passing_policies_pass),
        T(a_release_policy_cannot_weaken_a_cluster_policy),
        T(a_failing_release_policy_fails_a_passing_cluster_policy),
        T(a_release_policy_borrows_the_cluster_authorities),
        T(a_borrowed_authority_verifies_only_what_it_signed),
        T(a_borrowing_release_policy_alone_fails),
        T(only_a_release_policy_may_borrow),
        T(a_missing_secret_fails_its_authority),
        T(an_unsigned_image_with_a_missing_secret_says_both),
        T(attestations_are_not_signatures),
        T(a_resolved_secret_verifies),
        T(a_reference_without_namespace_finds_its_only_match),
        T(a_reference_without_namespace_matching_twice_is_ambiguous),
        T(material_of_another_image_fails),
        T(malformed_policies_are_refused),
        T(verifier_fails_an_unpinned_image_without_fetching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
