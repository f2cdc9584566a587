/* Unit tests for verify/policy: validation with field paths, references, globs, durations,
 * dates and image matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util/error.h"
#include "verify/policy.h"
#include "verify/verifier.h"

#define KEY_AUTH "{\"name\":\"ci\",\"key\":{\"data\":\"PEM\"},\"tlog\":\"ignore\"}"

static int validate(const char *json)
{
    json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    int rc = tg_verify_policy_validate(o, "spec");
    json_object_put(o);
    return rc;
}

static void assert_refused(const char *json, const char *want)
{
    int rc = validate(json);
    if (rc != TG_EINVALID || !strstr(tg_error_last(), want))
        fail_msg("policy %s\n  rc %d message \"%s\"\n  wanted \"%s\"", json, rc, tg_error_last(),
                 want);
}

static void a_full_policy_is_valid(void **state)
{
    (void)state;
    const char *json =
        "{\"images\":[\"registry.example/shop/**\"],\"namespaces\":[\"shop-*\"],"
        "\"mode\":\"warn\",\"authorities\":[" KEY_AUTH ","
        "{\"name\":\"gha\",\"keyless\":{\"trustedRoot\":{\"configMapRef\":{\"name\":\"root\","
        "\"key\":\"trusted_root.json\"}},\"identities\":[{\"issuer\":"
        "\"https://token.actions.githubusercontent.com\",\"subjectRegExp\":"
        "\"https://github.com/shop/.*\"}]}},"
        "{\"name\":\"scan\",\"key\":{\"secretRef\":{\"name\":\"k\",\"namespace\":\"sec\","
        "\"key\":\"cosign.pub\"},\"trustedRoot\":{\"data\":\"{}\"}}}],"
        "\"signature\":{\"authorities\":[\"ci\",\"gha\"],\"threshold\":2},"
        "\"provenance\":{\"builders\":[{\"id\":\"https://github.com/actions/runner\","
        "\"authorities\":[\"gha\"]}],\"buildTypes\":[\"x\"],\"sourceRepository\":"
        "\"https://github.com/shop/web\",\"sourceRefs\":[\"refs/heads/main\"],"
        "\"matchCommit\":true},"
        "\"sbom\":{\"formats\":[\"cyclonedx\",\"spdx\"]},"
        "\"vulnerabilities\":{\"authorities\":[\"scan\"],\"maxCritical\":0,\"maxHigh\":3,"
        "\"ignoreUnfixed\":true,\"unknownSeverity\":\"critical\",\"maxScanAge\":\"7d\","
        "\"scanners\":[\"pkg:github/aquasecurity/trivy@\"],\"allowlist\":[{\"id\":\"CVE-1\","
        "\"package\":\"openssl\",\"expires\":\"2027-01-01\",\"reason\":\"not reachable\"}],"
        "\"vex\":{\"authorities\":[\"ci\"]}}}";
    assert_int_equal(validate(json), 0);
}

/* Every bad value, refused with its field path. */
static void bad_values_are_refused_with_their_path(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"bogus\":1,\"authorities\":[" KEY_AUTH "],\"signature\":{}}", "spec.bogus: unknown"},
        {"{\"authorities\":[" KEY_AUTH "]}", "asks for nothing"},
        {"{\"mode\":\"audit\",\"authorities\":[" KEY_AUTH "],\"signature\":{}}",
         "spec.mode: must be enforce or warn"},
        {"{\"authorities\":[" KEY_AUTH "],\"signature\":{\"threshold\":0}}",
         "spec.signature.threshold: must be at least 1"},
        {"{\"authorities\":[" KEY_AUTH "],\"signature\":{\"threshold\":2}}",
         "spec.signature.threshold: 2 exceeds the 1 authorities"},
        {"{\"authorities\":[" KEY_AUTH "],\"signature\":{\"authorities\":[\"nope\"]}}",
         "spec.signature.authorities[0]: no authority named \"nope\""},
        {"{\"signature\":{}}", "spec.signature: needs an authority"},
        {"{\"authorities\":[{\"name\":\"ci\",\"key\":{},\"tlog\":\"ignore\"}],\"signature\":{}}",
         "spec.authorities[0].key: give exactly one of data, secretRef, configMapRef"},
        {"{\"authorities\":[{\"name\":\"ci\",\"key\":{\"data\":\"x\",\"secretRef\":{\"name\":"
         "\"a\",\"key\":\"b\"}},\"tlog\":\"ignore\"}],\"signature\":{}}",
         "not data and secretRef"},
        {"{\"authorities\":[{\"name\":\"ci\",\"key\":{\"secretRef\":{\"name\":\"a\"}},"
         "\"tlog\":\"ignore\"}],\"signature\":{}}",
         "spec.authorities[0].key.secretRef.key: required"},
        {"{\"authorities\":[{\"name\":\"ci\",\"key\":{\"data\":\"x\"}}],\"signature\":{}}",
         "spec.authorities[0].tlog: required needs key.trustedRoot"},
        {"{\"authorities\":[{\"name\":\"ci\",\"key\":{\"data\":\"x\"},\"tlog\":\"maybe\"}],"
         "\"signature\":{}}",
         "spec.authorities[0].tlog: must be required or ignore"},
        {"{\"authorities\":[{\"name\":\"ci\"}],\"signature\":{}}",
         "spec.authorities[0]: give exactly one of key, keyless"},
        {"{\"authorities\":[" KEY_AUTH "," KEY_AUTH "],\"signature\":{}}",
         "spec.authorities[1]: another authority is already named \"ci\""},
        {"{\"authorities\":[{\"name\":\"g\",\"keyless\":{\"trustedRoot\":{\"data\":\"{}\"},"
         "\"identities\":[{\"issuer\":\"i\",\"subjectRegExp\":\"(unclosed\"}]}}],"
         "\"signature\":{}}",
         "spec.authorities[0].keyless.identities[0].subjectRegExp: not a valid POSIX"},
        {"{\"authorities\":[{\"name\":\"g\",\"keyless\":{\"trustedRoot\":{\"data\":\"{}\"},"
         "\"identities\":[{\"subject\":\"s\"}]}}],\"signature\":{}}",
         "spec.authorities[0].keyless.identities[0]: give exactly one of issuer, issuerRegExp"},
        {"{\"authorities\":[{\"name\":\"g\",\"keyless\":{\"identities\":[{\"issuer\":\"i\","
         "\"subject\":\"s\"}]}}],\"signature\":{}}",
         "spec.authorities[0].keyless.trustedRoot: required"},
        {"{\"authorities\":[{\"name\":\"g\",\"keyless\":{\"trustedRoot\":{\"data\":\"{}\"},"
         "\"identities\":[]}}],\"signature\":{}}",
         "spec.authorities[0].keyless.identities: must not be empty"},
        {"{\"authorities\":[" KEY_AUTH "],\"vulnerabilities\":{\"maxScanAge\":\"7 days\"}}",
         "spec.vulnerabilities.maxScanAge: \"7 days\" is not a duration"},
        {"{\"authorities\":[" KEY_AUTH "],\"vulnerabilities\":{\"maxHigh\":-1}}",
         "spec.vulnerabilities.maxHigh: must be at least 0"},
        {"{\"authorities\":[" KEY_AUTH "],\"vulnerabilities\":{\"maxHigh\":\"3\"}}",
         "spec.vulnerabilities.maxHigh: must be an integer"},
        {"{\"authorities\":[" KEY_AUTH "],\"vulnerabilities\":{\"unknownSeverity\":\"none\"}}",
         "spec.vulnerabilities.unknownSeverity: must be low, medium, high or critical"},
        {"{\"authorities\":[" KEY_AUTH "],\"vulnerabilities\":{\"allowlist\":[{\"id\":\"C\","
         "\"expires\":\"2026-13-01\",\"reason\":\"r\"}]}}",
         "spec.vulnerabilities.allowlist[0].expires: \"2026-13-01\" is not a date"},
        {"{\"authorities\":[" KEY_AUTH "],\"vulnerabilities\":{\"allowlist\":[{\"id\":\"C\","
         "\"expires\":\"2026-01-01\"}]}}",
         "spec.vulnerabilities.allowlist[0].reason: required"},
        {"{\"authorities\":[" KEY_AUTH "],\"vulnerabilities\":{\"vex\":{}}}",
         "spec.vulnerabilities.vex.authorities: required"},
        {"{\"authorities\":[" KEY_AUTH "],\"sbom\":{\"formats\":[\"swid\"]}}",
         "spec.sbom.formats[0]: must be cyclonedx or spdx"},
        {"{\"authorities\":[" KEY_AUTH "],\"provenance\":{\"builders\":[{\"authorities\":"
         "[\"ci\"]}]}}",
         "spec.provenance.builders[0].id: required"},
        {"{\"authorities\":[" KEY_AUTH ",{\"name\":\"x\",\"key\":{\"data\":\"P\"},\"tlog\":"
         "\"ignore\"}],\"provenance\":{\"authorities\":[\"ci\"],\"builders\":[{\"id\":\"b\","
         "\"authorities\":[\"x\"]}]}}",
         "spec.provenance.builders[0].authorities[0]: authority \"x\" is not among"},
        {"{\"authorities\":[" KEY_AUTH "],\"provenance\":{\"matchCommit\":\"yes\"}}",
         "spec.provenance.matchCommit: must be true or false"},
        {"{\"images\":\"x\",\"authorities\":[" KEY_AUTH "],\"signature\":{}}",
         "spec.images: must be a list"},
        {"[]", "must be an object"},
        {"{\"authorities\":[" KEY_AUTH "],\"attestations\":[]}",
         "spec.attestations: must have 1 to 256 entries"},
        {"{\"authorities\":[" KEY_AUTH "],\"attestations\":[{\"authorities\":[\"ci\"]}]}",
         "spec.attestations[0].predicateType: required"},
        {"{\"authorities\":[" KEY_AUTH "],\"attestations\":[{\"predicateType\":\"u\","
         "\"authorities\":[\"x\"]}]}",
         "spec.attestations[0].authorities[0]: no authority named \"x\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_refused(cases[i].json, cases[i].want);
}

static void refs_lists_secrets_and_configmaps_once(void **state)
{
    (void)state;
    json_object *spec = json_tokener_parse(
        "{\"authorities\":[{\"name\":\"a\",\"key\":{\"secretRef\":{\"name\":\"k\",\"key\":"
        "\"cosign.pub\"}},\"tlog\":\"ignore\"},{\"name\":\"b\",\"key\":{\"secretRef\":{\"name\":"
        "\"k\",\"key\":\"cosign.pub\"}},\"tlog\":\"ignore\"},{\"name\":\"g\",\"keyless\":{"
        "\"trustedRoot\":{\"configMapRef\":{\"name\":\"root\",\"namespace\":\"sigstore\","
        "\"key\":\"trusted_root.json\"}},\"identities\":[{\"issuer\":\"i\",\"subject\":\"s\"}]}},"
        "{\"name\":\"d\",\"key\":{\"data\":\"PEM\"},\"tlog\":\"ignore\"}],\"signature\":{}}");
    json_object *refs = NULL;
    assert_int_equal(tg_verify_policy_refs(spec, "shop", &refs), 0);
    assert_string_equal(json_object_to_json_string_ext(refs, JSON_C_TO_STRING_PLAIN),
                        "[{\"kind\":\"Secret\",\"namespace\":\"shop\",\"name\":\"k\",\"key\":"
                        "\"cosign.pub\"},{\"kind\":\"ConfigMap\",\"namespace\":\"sigstore\","
                        "\"name\":\"root\",\"key\":\"trusted_root.json\"}]");
    json_object_put(refs);
    json_object_put(spec);
}

static void globs_match_within_and_across_segments(void **state)
{
    (void)state;
    static const struct {
        const char *glob, *s;
        bool match;
    } cases[] = {
        {"registry.example/shop/*", "registry.example/shop/web", true},
        {"registry.example/shop/*", "registry.example/shop/team/web", false},
        {"registry.example/shop/**", "registry.example/shop/team/web", true},
        {"registry.example/shop/**", "registry.example/shop/web@sha256:ab", true},
        {"registry.example/**", "registry.example.evil/x", false},
        {"*/shop/web", "registry:5000/shop/web", true},
        {"*", "a/b", false},
        {"**", "a/b", true},
        {"registry/we?", "registry/web", true},
        {"registry/we?", "registry/we/", false},
        {"registry/web", "registry/web", true},
        {"registry/web", "registry/webx", false},
        {"registry/web*", "registry/web", true},
        {"**/web", "a/b/c/web", true},
        {"**/web", "a/b/c/webs", false},
        {"shop-*", "shop-prod", true},
        {"shop-*", "shop", false},
        {"", "", true},
        {"", "x", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (tg_vp_glob_match(cases[i].glob, cases[i].s) != cases[i].match)
            fail_msg("glob %s on %s: expected %d", cases[i].glob, cases[i].s, cases[i].match);
    }
}

static void policies_match_images_and_namespaces(void **state)
{
    (void)state;
    json_object *spec =
        json_tokener_parse("{\"images\":[\"registry.example/shop/*\"],\"namespaces\":"
                           "[\"shop-*\"]}");
    const char *img = "registry.example/shop/web@sha256:"
                      "0000000000000000000000000000000000000000000000000000000000000000";
    assert_true(tg_verify_policy_matches(spec, img, "shop-prod"));
    assert_true(tg_verify_policy_matches(spec, "registry.example/shop/web:1.0", "shop-prod"));
    assert_false(tg_verify_policy_matches(spec, img, "default"));
    assert_false(tg_verify_policy_matches(spec, "registry.example/other/web@sha256:00", "shop-x"));
    json_object_put(spec);
    spec = json_tokener_parse("{\"images\":[\"registry.example/shop/web\"]}");
    assert_true(tg_verify_policy_matches(spec, img, "anywhere"));
    json_object_put(spec);
    spec = json_tokener_parse("{\"signature\":{}}");
    assert_false(tg_verify_policy_matches(spec, img, "shop"));
    json_object_put(spec);
}

static void durations_parse(void **state)
{
    (void)state;
    int64_t s = 0;
    assert_int_equal(tg_vp_parse_duration("168h", &s), 0);
    assert_int_equal(s, 168 * 3600);
    assert_int_equal(tg_vp_parse_duration("7d", &s), 0);
    assert_int_equal(s, 7 * 86400);
    assert_int_equal(tg_vp_parse_duration("30m", &s), 0);
    assert_int_equal(s, 1800);
    assert_int_equal(tg_vp_parse_duration("1h30m", &s), 0);
    assert_int_equal(s, 5400);
    static const char *const bad[] = {"", "h", "7", "7w", "-1h", "0h", "7d ", "1.5h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (tg_vp_parse_duration(bad[i], &s) != TG_EINVALID)
            fail_msg("duration \"%s\" accepted", bad[i]);
    }
}

static void dates_parse(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(tg_vp_parse_date("2026-03-01", &t), 0);
    assert_int_equal(t, 1772323200);
    assert_int_equal(tg_vp_parse_date("2026-03-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 1772323200);
    assert_int_equal(tg_vp_parse_date("2026-03-01T02:00:00.123+02:00", &t), 0);
    assert_int_equal(t, 1772323200);
    assert_int_equal(tg_vp_parse_date("2024-02-29", &t), 0);
    static const char *const bad[] = {
        "2026-02-29",           "2026-3-1",   "2026-03-01T00:00:00", "tomorrow",
        "2026-03-01 00:00:00Z", "2026-00-10", "2026-03-32",          "2026-03-01T25:00:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (tg_vp_parse_date(bad[i], &t) != TG_EINVALID)
            fail_msg("date \"%s\" accepted", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_full_policy_is_valid),
        cmocka_unit_test(bad_values_are_refused_with_their_path),
        cmocka_unit_test(refs_lists_secrets_and_configmaps_once),
        cmocka_unit_test(globs_match_within_and_across_segments),
        cmocka_unit_test(policies_match_images_and_namespaces),
        cmocka_unit_test(durations_parse),
        cmocka_unit_test(dates_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
