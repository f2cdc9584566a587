/*
 * Unit tests for verify/predicates: predicate type classes, SLSA provenance v0.2/v1 against
 * policies (table), SBOM checks (CycloneDX 1.5 nested, SPDX 2.3, SPDX 3), the vulnerability
 * readers (Trivy and Grype inside the cosign vuln predicate, in-toto vulns v0.2, CycloneDX
 * vulnerabilities) and the ceiling: allow-list expiry, scan age, scanners, UNKNOWN mapping,
 * ignore-unfixed and OpenVEX suppression. Fixtures: tests/fixtures/verify/predicates/, in-toto
 * Statements whose predicateType and predicate the tests take apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "verify/predicates.h"

#define FIX TG_FIXTURES_DIR "/verify/predicates/"

/* 2026-12-03T10:00:00Z: two days after the fixtures' scans (2026-12-01T10:00:00Z). */
#define NOW          1796292000LL
#define SCAN_FINISH  1796119200LL
#define GRYPE_FINISH 1796195700LL
#define DAY          86400LL

/* A fixture Statement; the caller puts it. */
static json_object *load(const char *name)
{
    char path[512];
    json_object *o;

    snprintf(path, sizeof(path), FIX "%s", name);
    o = json_object_from_file(path);
    assert_non_null(o);
    return o;
}

static const char *ptype(json_object *st)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(st, "predicateType", &v));
    return json_object_get_string(v);
}

static json_object *pred(json_object *st)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(st, "predicate", &v));
    return v;
}

static void assert_msg(const char *want)
{
    if (!strstr(tg_error_last(), want))
        fail_msg("message \"%s\" lacks \"%s\"", tg_error_last(), want);
}

/* ---------------------------------------------------------------------------------------- */
/* Type classes                                                                              */

static void test_type_classes(void **state)
{
    (void)state;
    assert_true(tg_pred_is_provenance("https://slsa.dev/provenance/v0.2"));
    assert_true(tg_pred_is_provenance("https://slsa.dev/provenance/v1"));
    assert_false(tg_pred_is_provenance("https://slsa.dev/provenance/v1 "));
    assert_false(tg_pred_is_provenance("https://slsa.dev/provenance/v0.1"));
    assert_false(tg_pred_is_provenance(NULL));

    assert_true(tg_pred_is_sbom("https://cyclonedx.org/bom"));
    assert_true(tg_pred_is_sbom("https://cyclonedx.org/bom/v1.4"));
    assert_true(tg_pred_is_sbom("https://cyclonedx.org/bom/v1.6"));
    assert_false(tg_pred_is_sbom("https://cyclonedx.org/bom/v1."));
    assert_false(tg_pred_is_sbom("https://cyclonedx.org/bom/v1.5x"));
    assert_true(tg_pred_is_sbom("https://spdx.dev/Document"));
    assert_true(tg_pred_is_sbom("https://spdx.dev/Document/v2.3"));
    assert_true(tg_pred_is_sbom("https://spdx.dev/Document/v3"));
    assert_false(tg_pred_is_sbom("https://spdx.dev/document"));
    assert_false(tg_pred_is_sbom("http://cyclonedx.org/bom"));

    assert_true(tg_pred_is_vuln("https://cosign.sigstore.dev/attestation/vuln/v1"));
    assert_true(tg_pred_is_vuln("cosign.sigstore.dev/attestation/vuln/v1"));
    assert_true(tg_pred_is_vuln("https://in-toto.io/attestation/vulns/v0.1"));
    assert_true(tg_pred_is_vuln("https://in-toto.io/attestation/vulns/v0.2"));
    assert_false(tg_pred_is_vuln("https://cosign.sigstore.dev/attestation/v1"));

    assert_true(tg_pred_is_openvex("https://openvex.dev/ns"));
    assert_true(tg_pred_is_openvex("https://openvex.dev/ns/v0.2.0"));
    assert_false(tg_pred_is_openvex("https://openvex.dev/ns/v0.0.1"));

    assert_true(tg_pred_is_cosign_sign("https://sigstore.dev/cosign/sign/v1"));
    assert_false(tg_pred_is_cosign_sign("https://sigstore.dev/cosign/sign/v2"));
}

/* ---------------------------------------------------------------------------------------- */
/* Provenance                                                                                */

#define GENERATOR                                                                                  \
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"                   \
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
#define GENERATOR_19                                                                               \
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"                   \
    "generator_container_slsa3.yml@refs/tags/v1.9.0"
#define ACME_RELEASE "https://github.com/Acme/shop/.github/workflows/release.yml@refs/tags/v1.4.0"

struct prov_case {
    const char *name;
    const char *fixture;
    const char *builder;    /* the one allowed builder, or NULL for none */
    const char *build_type; /* the one allowed buildType, or NULL */
    const char *repo;       /* or NULL */
    const char *ref;        /* the one allowed ref, or NULL */
    const char *commit;     /* or NULL */
    int want;               /* 0 or TG_EINVALID */
    const char *want_msg;   /* a substring of the message on failure */
};

static const struct prov_case prov_cases[] = {
    {"v1 generator passes", "slsa_v1_github.json", GENERATOR,
     "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
     "https://github.com/acme/shop.git", "refs/heads/main", "a1b2c3d", 0, NULL},
    {"v1 actions buildtype, repo normalized", "slsa_v1_actions.json", ACME_RELEASE, NULL,
     "git+https://GitHub.com/Acme/shop/", "refs/tags/v1.4.0",
     "0F1E2D3C4B5A69788796A5B4C3D2E1F00112233A", 0, NULL},
    {"v0.2 passes", "slsa_v02.json", GENERATOR_19,
     "https://github.com/slsa-framework/slsa-github-generator/container@v1",
     "https://github.com/acme/api", "refs/heads/main", "c0ffee1234567890abcdef1234567890abcdef12",
     0, NULL},
    {"no builder trusted", "slsa_v1_github.json", NULL, NULL, NULL, NULL, NULL, TG_EINVALID,
     "no builder is trusted"},
    {"builder not allowed", "slsa_v1_github.json", GENERATOR_19, NULL, NULL, NULL, NULL,
     TG_EINVALID, "is not an allowed builder"},
    {"buildType not allowed", "slsa_v02.json", GENERATOR_19,
     "https://github.com/slsa-framework/slsa-github-generator/generic@v1", NULL, NULL, NULL,
     TG_EINVALID, "buildType"},
    {"wrong repo", "slsa_v1_github.json", GENERATOR, NULL, "https://github.com/acme/shop-fork",
     NULL, NULL, TG_EINVALID, "source repository https://github.com/acme/shop, want"},
    {"wrong repo owner v0.2", "slsa_v02.json", GENERATOR_19, NULL, "https://github.com/evil/api",
     NULL, NULL, TG_EINVALID, "source repository"},
    {"wrong ref", "slsa_v1_github.json", GENERATOR, NULL, NULL, "refs/heads/release", NULL,
     TG_EINVALID, "source ref refs/heads/main is not allowed"},
    {"wrong ref v0.2", "slsa_v02.json", GENERATOR_19, NULL, NULL, "refs/tags/v1.0.0", NULL,
     TG_EINVALID, "source ref"},
    {"commit mismatch", "slsa_v1_github.json", GENERATOR, NULL, NULL, NULL, "deadbee", TG_EINVALID,
     "source commit a1b2c3d4e5f60718293a4b5c6d7e8f9012345678, want deadbee"},
    {"commit mismatch full", "slsa_v02.json", GENERATOR_19, NULL, NULL, NULL,
     "c0ffee1234567890abcdef1234567890abcdef13", TG_EINVALID, "source commit"},
    {"short commit under 7 digits", "slsa_v1_github.json", GENERATOR, NULL, NULL, NULL, "a1b2c3",
     TG_EINVALID, "source commit"},
    {"non-hex commit", "slsa_v1_github.json", GENERATOR, NULL, NULL, NULL, "a1b2c3g", TG_EINVALID,
     "source commit"},
};

static void run_prov(const struct prov_case *c)
{
    json_object *st = load(c->fixture);
    const char *b[1] = {c->builder}, *t[1] = {c->build_type}, *r[1] = {c->ref};
    struct tg_provenance_policy pol = {
        .builder_ids = b,
        .n_builder_ids = c->builder ? 1 : 0,
        .build_types = t,
        .n_build_types = c->build_type ? 1 : 0,
        .source_repository = c->repo,
        .source_refs = r,
        .n_source_refs = c->ref ? 1 : 0,
        .commit = c->commit,
    };
    struct tg_provenance out = {0};
    int rc = tg_provenance_check(ptype(st), pred(st), &pol, &out);

    if (rc != c->want)
        fail_msg("%s: rc %d, want %d (%s)", c->name, rc, c->want, tg_error_last());
    if (c->want_msg)
        assert_msg(c->want_msg);
    assert_non_null(out.builder_id); /* filled also on failure */
    tg_provenance_clear(&out);
    json_object_put(st);
}

/* One test per row, so that each negative case fails on its own. */
#define PROV_TEST(i)                                                                               \
    static void test_prov_##i(void **state)                                                        \
    {                                                                                              \
        (void)state;                                                                               \
        run_prov(&prov_cases[i]);                                                                  \
    }
PROV_TEST(0)
PROV_TEST(1)
PROV_TEST(2)
PROV_TEST(3)
PROV_TEST(4)
PROV_TEST(5)
PROV_TEST(6)
PROV_TEST(7)
PROV_TEST(8)
PROV_TEST(9)
PROV_TEST(10)
PROV_TEST(11)
PROV_TEST(12)
PROV_TEST(13)

static void test_prov_fields_v1(void **state)
{
    json_object *st = load("slsa_v1_github.json");
    const char *b[] = {GENERATOR};
    struct tg_provenance_policy pol = {.builder_ids = b, .n_builder_ids = 1};
    struct tg_provenance out = {0};

    (void)state;
    assert_int_equal(tg_provenance_check(ptype(st), pred(st), &pol, &out), 0);
    assert_string_equal(out.builder_id, GENERATOR);
    assert_string_equal(out.build_type,
                        "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1");
    assert_string_equal(out.source_repository, "https://github.com/acme/shop");
    assert_string_equal(out.ref, "refs/heads/main");
    assert_string_equal(out.commit, "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678");
    tg_provenance_clear(&out);
    assert_null(out.builder_id);
    json_object_put(st);
}

static void test_prov_fields_v02(void **state)
{
    json_object *st = load("slsa_v02.json");
    const char *b[] = {GENERATOR_19};
    struct tg_provenance_policy pol = {.builder_ids = b, .n_builder_ids = 1};
    struct tg_provenance out = {0};

    (void)state;
    assert_int_equal(tg_provenance_check(ptype(st), pred(st), &pol, &out), 0);
    assert_string_equal(out.source_repository, "git+https://github.com/acme/api");
    assert_string_equal(out.ref, "refs/heads/main");
    assert_string_equal(out.commit, "c0ffee1234567890abcdef1234567890abcdef12");
    tg_provenance_clear(&out);
    json_object_put(st);
}

/* v0.2 without configSource: the repository, ref and commit come from materials[0]. */
static void test_prov_v02_materials_only(void **state)
{
    json_object *st = load("slsa_v02.json");
    json_object *inv = NULL;
    const char *b[] = {GENERATOR_19}, *r[] = {"refs/heads/main"};
    struct tg_provenance_policy pol = {.builder_ids = b,
                                       .n_builder_ids = 1,
                                       .source_repository = "https://github.com/acme/api",
                                       .source_refs = r,
                                       .n_source_refs = 1,
                                       .commit = "c0ffee1"};
    struct tg_provenance out = {0};

    (void)state;
    assert_true(json_object_object_get_ex(pred(st), "invocation", &inv));
    json_object_object_del(inv, "configSource");
    assert_int_equal(tg_provenance_check(ptype(st), pred(st), &pol, &out), 0);
    assert_string_equal(out.commit, "c0ffee1234567890abcdef1234567890abcdef12");
    tg_provenance_clear(&out);
    json_object_put(st);
}

static void test_prov_malformed_missing_builder(void **state)
{
    json_object *st = load("slsa_v1_github.json");
    json_object *rd = NULL;
    const char *b[] = {GENERATOR};
    struct tg_provenance_policy pol = {.builder_ids = b, .n_builder_ids = 1};
    struct tg_provenance out = {0};

    (void)state;
    assert_true(json_object_object_get_ex(pred(st), "runDetails", &rd));
    json_object_object_del(rd, "builder");
    assert_int_equal(tg_provenance_check(ptype(st), pred(st), &pol, &out), TG_EINVALID);
    assert_msg("runDetails.builder.id missing");
    tg_provenance_clear(&out);
    json_object_put(st);
}

static void test_prov_malformed_not_object(void **state)
{
    json_object *arr = json_object_new_array();
    const char *b[] = {GENERATOR};
    struct tg_provenance_policy pol = {.builder_ids = b, .n_builder_ids = 1};
    struct tg_provenance out = {0};

    (void)state;
    assert_int_equal(tg_provenance_check("https://slsa.dev/provenance/v1", arr, &pol, &out),
                     TG_EINVALID);
    assert_msg("not an object");
    json_object_put(arr);
}

/* A builder.id that is a number, not a string, reads as missing. */
static void test_prov_malformed_builder_type(void **state)
{
    json_object *st = load("slsa_v02.json");
    json_object *builder = NULL;
    const char *b[] = {GENERATOR_19};
    struct tg_provenance_policy pol = {.builder_ids = b, .n_builder_ids = 1};
    struct tg_provenance out = {0};

    (void)state;
    assert_true(json_object_object_get_ex(pred(st), "builder", &builder));
    json_object_object_add(builder, "id", json_object_new_int(7));
    assert_int_equal(tg_provenance_check(ptype(st), pred(st), &pol, &out), TG_EINVALID);
    assert_msg("builder.id missing");
    tg_provenance_clear(&out);
    json_object_put(st);
}

/* A repository too long to compare whole is refused, never compared truncated. */
static void test_prov_repo_too_long(void **state)
{
    json_object *st = load("slsa_v1_github.json");
    json_object *bd = NULL, *ep = NULL, *wf = NULL;
    const char *b[] = {GENERATOR};
    char repo[1200];
    struct tg_provenance_policy pol = {.builder_ids = b, .n_builder_ids = 1};
    struct tg_provenance out = {0};

    (void)state;
    snprintf(repo, sizeof(repo), "https://github.com/acme/%01150d", 0);
    assert_true(json_object_object_get_ex(pred(st), "buildDefinition", &bd));
    assert_true(json_object_object_get_ex(bd, "externalParameters", &ep));
    assert_true(json_object_object_get_ex(ep, "workflow", &wf));
    json_object_object_add(wf, "repository", json_object_new_string(repo));
    pol.source_repository = repo;
    assert_int_equal(tg_provenance_check(ptype(st), pred(st), &pol, &out), TG_EINVALID);
    assert_msg("source repository");
    tg_provenance_clear(&out);
    json_object_put(st);
}

static void test_prov_wrong_type(void **state)
{
    json_object *st = load("slsa_v1_github.json");
    const char *b[] = {GENERATOR};
    struct tg_provenance_policy pol = {.builder_ids = b, .n_builder_ids = 1};
    struct tg_provenance out = {0};

    (void)state;
    assert_int_equal(tg_provenance_check("https://slsa.dev/provenance/v0.1", pred(st), &pol, &out),
                     TG_EINVALID);
    assert_msg("is not SLSA provenance");
    json_object_put(st);
}

/* ---------------------------------------------------------------------------------------- */
/* SBOM                                                                                      */

static void check_sbom(const char *fixture, const char *format, const char *version, size_t n)
{
    json_object *st = load(fixture);
    struct tg_sbom s = {0};

    if (tg_sbom_check(ptype(st), pred(st), &s) != 0)
        fail_msg("%s: %s", fixture, tg_error_last());
    assert_string_equal(s.format, format);
    assert_string_equal(s.spec_version, version);
    assert_int_equal(s.components, n);
    tg_sbom_clear(&s);
    json_object_put(st);
}

static void test_sbom_cyclonedx_nested(void **state)
{
    (void)state;
    /* libc6, openssl, shop-frontend > (express > body-parser, lodash) */
    check_sbom("cyclonedx_1.5.json", "CycloneDX", "1.5", 6);
    check_sbom("cyclonedx_vulns.json", "CycloneDX", "1.6", 2);
}

static void test_sbom_spdx2(void **state)
{
    (void)state;
    check_sbom("spdx_2.3.json", "SPDX", "SPDX-2.3", 3);
}

static void test_sbom_spdx3(void **state)
{
    (void)state;
    check_sbom("spdx_3.json", "SPDX", "SPDX-3.0.1", 2);
}

static void test_sbom_missing_bomformat(void **state)
{
    json_object *st = load("cyclonedx_1.5.json");
    struct tg_sbom s = {0};

    (void)state;
    json_object_object_del(pred(st), "bomFormat");
    assert_int_equal(tg_sbom_check(ptype(st), pred(st), &s), TG_EINVALID);
    assert_msg("bomFormat is missing, want CycloneDX");
    tg_sbom_clear(&s);
    json_object_put(st);
}

static void test_sbom_missing_specversion(void **state)
{
    json_object *st = load("cyclonedx_1.5.json");
    struct tg_sbom s = {0};

    (void)state;
    json_object_object_del(pred(st), "specVersion");
    assert_int_equal(tg_sbom_check(ptype(st), pred(st), &s), TG_EINVALID);
    assert_msg("specVersion missing");
    tg_sbom_clear(&s);
    json_object_put(st);
}

static void test_sbom_spdx_bad_version(void **state)
{
    json_object *st = load("spdx_2.3.json");
    struct tg_sbom s = {0};

    (void)state;
    json_object_object_add(pred(st), "spdxVersion", json_object_new_string("2.3"));
    assert_int_equal(tg_sbom_check(ptype(st), pred(st), &s), TG_EINVALID);
    assert_msg("want SPDX-<version>");
    tg_sbom_clear(&s);
    json_object_put(st);
}

/* An SPDX-typed predicate that is neither SPDX 2 nor SPDX 3 (a CycloneDX BOM) fails. */
static void test_sbom_spdx_type_cyclonedx_body(void **state)
{
    json_object *st = load("cyclonedx_1.5.json");
    struct tg_sbom s = {0};

    (void)state;
    assert_int_equal(tg_sbom_check("https://spdx.dev/Document", pred(st), &s), TG_EINVALID);
    tg_sbom_clear(&s);
    json_object_put(st);
}

static void test_sbom_not_sbom_type(void **state)
{
    json_object *st = load("cyclonedx_1.5.json");

    (void)state;
    assert_int_equal(tg_sbom_check("https://slsa.dev/provenance/v1", pred(st), NULL), TG_EINVALID);
    json_object_put(st);
}

/* ---------------------------------------------------------------------------------------- */
/* Vulnerability reports                                                                     */

static struct tg_vuln_report *parse_fixture(const char *fixture)
{
    json_object *st = load(fixture);
    struct tg_vuln_report *r = NULL;

    if (tg_vuln_parse(ptype(st), pred(st), &r) != 0)
        fail_msg("%s: %s", fixture, tg_error_last());
    json_object_put(st);
    return r;
}

static const struct tg_finding *find(const struct tg_vuln_report *r, const char *id,
                                     const char *pkg)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (strcmp(r->findings[i].id, id) == 0 && strcmp(r->findings[i].package, pkg) == 0)
            return &r->findings[i];
    fail_msg("no finding %s/%s", id, pkg);
    return NULL;
}

static void test_vuln_trivy(void **state)
{
    struct tg_vuln_report *r = parse_fixture("trivy_cosign_vuln.json");

    (void)state;
    assert_string_equal(r->scanner_uri, "pkg:github/aquasecurity/trivy@0.57.1");
    assert_string_equal(r->scanner_version, "0.57.1");
    assert_int_equal(r->scanned_at, SCAN_FINISH);
    assert_int_equal(r->n_findings, 7); /* CVE-2023-4911/libc6 twice: once */
    assert_int_equal(find(r, "CVE-2024-45491", "libexpat1")->severity, TG_SEV_CRITICAL);
    assert_true(find(r, "CVE-2024-45491", "libexpat1")->fixed_available);
    assert_int_equal(find(r, "CVE-2024-2961", "libc6")->severity, TG_SEV_HIGH);
    assert_false(find(r, "CVE-2024-2961", "libc6")->fixed_available);
    assert_int_equal(find(r, "CVE-2025-0001", "zlib1g")->severity, TG_SEV_UNKNOWN);
    assert_int_equal(find(r, "CVE-2022-0563", "util-linux")->severity, TG_SEV_LOW);
    tg_vuln_report_free(r);
}

static void test_vuln_grype(void **state)
{
    struct tg_vuln_report *r = parse_fixture("grype_cosign_vuln.json");

    (void)state;
    assert_string_equal(r->scanner_uri, "pkg:github/anchore/grype@0.84.0");
    assert_int_equal(r->scanned_at, GRYPE_FINISH);
    assert_int_equal(r->n_findings, 4); /* CVE-2024-45491/libexpat1 matched twice */
    assert_int_equal(find(r, "CVE-2024-45491", "libexpat1")->severity, TG_SEV_CRITICAL);
    assert_true(find(r, "CVE-2024-45491", "libexpat1")->fixed_available);
    assert_false(find(r, "CVE-2024-2961", "libc6")->fixed_available);
    assert_int_equal(find(r, "GHSA-952p-6rrq-rcjv", "express")->severity, TG_SEV_MEDIUM);
    assert_int_equal(find(r, "CVE-2011-3374", "apt")->severity, TG_SEV_LOW); /* Negligible */
    tg_vuln_report_free(r);
}

static void test_vuln_intoto(void **state)
{
    struct tg_vuln_report *r = parse_fixture("intoto_vulns_v0.2.json");

    (void)state;
    assert_int_equal(r->scanned_at, SCAN_FINISH);
    assert_int_equal(r->n_findings, 4); /* CVE-2023-5678 listed twice */
    assert_int_equal(find(r, "CVE-2024-45491", "")->severity, TG_SEV_CRITICAL); /* 9.8 */
    assert_int_equal(find(r, "CVE-2023-5678", "")->severity, TG_SEV_HIGH);      /* 7.5, 7.0 */
    assert_int_equal(find(r, "CVE-2024-0727", "")->severity, TG_SEV_MEDIUM);    /* 5.5 > 3.1 */
    assert_int_equal(find(r, "CVE-2025-0001", "")->severity, TG_SEV_UNKNOWN);
    tg_vuln_report_free(r);
}

static void test_vuln_cyclonedx(void **state)
{
    struct tg_vuln_report *r = parse_fixture("cyclonedx_vulns.json");

    (void)state;
    assert_string_equal(r->scanner_uri, "trivy");
    assert_int_equal(r->scanned_at, SCAN_FINISH);
    assert_int_equal(r->n_findings, 4); /* CVE-2023-4911 is not_affected */
    assert_int_equal(find(r, "CVE-2023-5678", "pkg:deb/debian/openssl@3.0.11-1~deb12u2")->severity,
                     TG_SEV_HIGH); /* medium and high: high wins */
    assert_int_equal(find(r, "CVE-2024-2961", "pkg:deb/debian/libc6@2.36-9+deb12u1")->severity,
                     TG_SEV_HIGH); /* score 8.8 only */
    assert_int_equal(find(r, "CVE-2022-0563", "pkg:deb/debian/util-linux@2.38.1-5+b1")->severity,
                     TG_SEV_LOW);
    assert_int_equal(find(r, "CVE-2025-0001", "pkg:deb/debian/zlib1g@1.2.13")->severity,
                     TG_SEV_UNKNOWN);
    tg_vuln_report_free(r);
}

static json_object *scanner_of(json_object *st)
{
    json_object *s = NULL;

    assert_true(json_object_object_get_ex(pred(st), "scanner", &s));
    return s;
}

static void test_vuln_unknown_report(void **state)
{
    json_object *st = load("trivy_cosign_vuln.json");
    json_object *res = json_object_new_object();
    struct tg_vuln_report *r = NULL;

    (void)state;
    json_object_object_add(res, "vulns", json_object_new_array());
    json_object_object_add(scanner_of(st), "result", res);
    assert_int_equal(tg_vuln_parse(ptype(st), pred(st), &r), TG_EINVALID);
    assert_msg("unknown scanner report");
    assert_null(r);
    json_object_put(st);
}

static void test_vuln_trivy_schema1(void **state)
{
    json_object *st = load("trivy_cosign_vuln.json");
    json_object *res = NULL;
    struct tg_vuln_report *r = NULL;

    (void)state;
    assert_true(json_object_object_get_ex(scanner_of(st), "result", &res));
    json_object_object_add(res, "SchemaVersion", json_object_new_int(1));
    assert_int_equal(tg_vuln_parse(ptype(st), pred(st), &r), TG_EINVALID);
    assert_msg("SchemaVersion");
    json_object_put(st);
}

static void test_vuln_cosign_missing_scan_time(void **state)
{
    json_object *st = load("trivy_cosign_vuln.json");
    json_object *md = NULL;
    struct tg_vuln_report *r = NULL;

    (void)state;
    assert_true(json_object_object_get_ex(pred(st), "metadata", &md));
    json_object_object_del(md, "scanFinishedOn");
    assert_int_equal(tg_vuln_parse(ptype(st), pred(st), &r), TG_EINVALID);
    assert_msg("scanFinishedOn missing");
    json_object_put(st);
}

static void set_finished(json_object *st, const char *when)
{
    json_object *md = NULL;

    assert_true(json_object_object_get_ex(pred(st), "metadata", &md));
    json_object_object_add(md, "scanFinishedOn", json_object_new_string(when));
}

static void test_vuln_rfc3339_offset(void **state)
{
    json_object *st = load("trivy_cosign_vuln.json");
    struct tg_vuln_report *r = NULL;

    (void)state;
    set_finished(st, "2026-12-01T11:00:00.5+01:00");
    assert_int_equal(tg_vuln_parse(ptype(st), pred(st), &r), 0);
    assert_int_equal(r->scanned_at, SCAN_FINISH);
    tg_vuln_report_free(r);
    json_object_put(st);
}

static void test_vuln_rfc3339_bad(void **state)
{
    static const char *const bad[] = {"2026-12-01 10:00:00Z",  "2026-12-01T10:00:00",
                                      "2026-13-01T10:00:00Z",  "2026-12-01T10:00:00+0100",
                                      "2026-12-01T10:00:00.Z", "yesterday"};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object *st = load("trivy_cosign_vuln.json");
        struct tg_vuln_report *r = NULL;

        set_finished(st, bad[i]);
        if (tg_vuln_parse(ptype(st), pred(st), &r) != TG_EINVALID)
            fail_msg("accepted %s", bad[i]);
        assert_msg("RFC 3339");
        json_object_put(st);
    }
}

static void test_vuln_not_vuln_type(void **state)
{
    json_object *st = load("trivy_cosign_vuln.json");
    struct tg_vuln_report *r = NULL;

    (void)state;
    assert_int_equal(tg_vuln_parse("https://slsa.dev/provenance/v1", pred(st), &r), TG_EINVALID);
    json_object_put(st);
}

/* ---------------------------------------------------------------------------------------- */
/* The ceiling                                                                               */

/* Everything unbounded, UNKNOWN as the default. */
static struct tg_vuln_policy open_policy(void)
{
    struct tg_vuln_policy p = {.max_critical = -1, .max_high = -1, .max_medium = -1, .max_low = -1};
    return p;
}

static int judge(const char *fixture, const struct tg_vuln_policy *pol, json_object *vex,
                 struct tg_vuln_counts *c)
{
    struct tg_vuln_report *r = parse_fixture(fixture);
    int rc = tg_vuln_judge(r, pol, NOW, vex, c);

    tg_vuln_report_free(r);
    return rc;
}

static void test_judge_open_counts(void **state)
{
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), 0);
    assert_int_equal(c.critical, 1);
    assert_int_equal(c.high, 3); /* the duplicate CVE-2023-4911 once */
    assert_int_equal(c.medium, 1);
    assert_int_equal(c.low, 1);
    assert_int_equal(c.unknown, 1);
    assert_int_equal(c.suppressed, 0);
}

static void test_judge_duplicates_once(void **state)
{
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_critical = 1; /* CVE-2024-45491/libexpat1 matched twice by Grype: one finding */
    assert_int_equal(judge("grype_cosign_vuln.json", &p, NULL, &c), 0);
    assert_int_equal(c.critical, 1);
    p.max_high = 1; /* in-toto lists CVE-2023-5678 twice */
    assert_int_equal(judge("intoto_vulns_v0.2.json", &p, NULL, &c), TG_EINVALID);
    assert_int_equal(c.high, 1);
    assert_int_equal(c.unknown, 1);
    assert_msg("2 high vulnerabilities (max 1)"); /* the UNKNOWN one judged as high */
}

static void test_judge_over_ceiling(void **state)
{
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_critical = 0;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
    assert_msg("1 critical vulnerability (max 0): CVE-2024-45491");
    assert_int_equal(c.critical, 1);
}

static void test_judge_message_lists_five(void **state)
{
    json_object *st = load("trivy_cosign_vuln.json");
    json_object *res = NULL, *results = NULL, *vulns;
    struct tg_vuln_report *r = NULL;
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    assert_true(json_object_object_get_ex(scanner_of(st), "result", &res));
    assert_true(json_object_object_get_ex(res, "Results", &results));
    vulns = json_object_new_array();
    for (int i = 0; i < 7; i++) {
        json_object *v = json_object_new_object();
        char id[32];

        snprintf(id, sizeof(id), "CVE-2026-000%d", i);
        json_object_object_add(v, "VulnerabilityID", json_object_new_string(id));
        json_object_object_add(v, "PkgName", json_object_new_string("busybox"));
        json_object_object_add(v, "Severity", json_object_new_string("MEDIUM"));
        json_object_array_add(vulns, v);
    }
    json_object *res2 = json_object_new_object();
    json_object_object_add(res2, "Target", json_object_new_string("extra"));
    json_object_object_add(res2, "Vulnerabilities", vulns);
    json_object_array_add(results, res2);
    assert_int_equal(tg_vuln_parse(ptype(st), pred(st), &r), 0);
    p.max_medium = 2;
    assert_int_equal(tg_vuln_judge(r, &p, NOW, NULL, &c), TG_EINVALID);
    assert_msg("8 medium vulnerabilities (max 2): CVE-2024-0727, CVE-2026-0000, CVE-2026-0001, "
               "CVE-2026-0002, CVE-2026-0003, ...");
    assert_null(strstr(tg_error_last(), "CVE-2026-0004"));
    tg_vuln_report_free(r);
    json_object_put(st);
}

static void test_judge_allow_expired(void **state)
{
    struct tg_allow_entry a[] = {{"CVE-2024-45491", "libexpat1", NOW - 1, "patched upstream"}};
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_critical = 0;
    p.allowlist = a;
    p.n_allowlist = 1;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
    assert_int_equal(c.suppressed, 0);
    assert_msg("CVE-2024-45491");
}

static void test_judge_allow_expires_exactly_now(void **state)
{
    struct tg_allow_entry a[] = {{"CVE-2024-45491", NULL, NOW, "until now"}};
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_critical = 0;
    p.allowlist = a;
    p.n_allowlist = 1;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
}

static void test_judge_allow_zero_expiry_never_applies(void **state)
{
    struct tg_allow_entry a[] = {{"CVE-2024-45491", NULL, 0, "no expiry given"}};
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_critical = 0;
    p.allowlist = a;
    p.n_allowlist = 1;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
}

static void test_judge_allow_unexpired_suppresses(void **state)
{
    struct tg_allow_entry a[] = {{"cve-2024-45491", "libexpat1", NOW + 30 * DAY, "not reachable"}};
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_critical = 0;
    p.allowlist = a;
    p.n_allowlist = 1;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), 0);
    assert_int_equal(c.critical, 0);
    assert_int_equal(c.suppressed, 1);
}

static void test_judge_allow_other_package(void **state)
{
    struct tg_allow_entry a[] = {{"CVE-2024-45491", "libexpat1-dev", NOW + DAY, "other pkg"}};
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_critical = 0;
    p.allowlist = a;
    p.n_allowlist = 1;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
    assert_int_equal(c.suppressed, 0);
}

static void test_judge_scan_too_old(void **state)
{
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_scan_age_s = DAY;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
    assert_msg("scan is 2 days old (max 1 day)");
    assert_int_equal(c.critical, 1); /* counted all the same */
}

static void test_judge_scan_fresh_enough(void **state)
{
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_scan_age_s = 7 * DAY;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), 0);
}

static void test_judge_missing_scan_time(void **state)
{
    json_object *st = load("intoto_vulns_v0.2.json");
    struct tg_vuln_report *r = NULL;
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    json_object_object_del(pred(st), "metadata");
    assert_int_equal(tg_vuln_parse(ptype(st), pred(st), &r), 0);
    assert_int_equal(r->scanned_at, 0);
    assert_int_equal(tg_vuln_judge(r, &p, NOW, NULL, &c), 0); /* no max age: fine */
    p.max_scan_age_s = 7 * DAY;
    assert_int_equal(tg_vuln_judge(r, &p, NOW, NULL, &c), TG_EINVALID);
    assert_msg("scan time is unknown");
    tg_vuln_report_free(r);
    json_object_put(st);
}

static void test_judge_wrong_scanner(void **state)
{
    const char *scanners[] = {"pkg:github/anchore/grype@"};
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.scanners = scanners;
    p.n_scanners = 1;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
    assert_msg("scanner pkg:github/aquasecurity/trivy@0.57.1 is not an allowed scanner");
    assert_int_equal(judge("grype_cosign_vuln.json", &p, NULL, &c), 0);
}

/* Only the UNKNOWN finding is left once the highs are allowed: judged high, it fails. */
static void test_judge_unknown_as_high(void **state)
{
    struct tg_allow_entry a[] = {{"CVE-2023-5678", NULL, NOW + DAY, ""},
                                 {"CVE-2023-4911", NULL, NOW + DAY, ""},
                                 {"CVE-2024-2961", NULL, NOW + DAY, ""}};
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_high = 0;
    p.allowlist = a;
    p.n_allowlist = 3;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
    assert_msg("1 high vulnerability (max 0): CVE-2025-0001");
    assert_int_equal(c.high, 0);
    assert_int_equal(c.unknown, 1);
    assert_int_equal(c.suppressed, 3);
}

static void test_judge_unknown_as_low(void **state)
{
    struct tg_allow_entry a[] = {{"CVE-2023-5678", NULL, NOW + DAY, ""},
                                 {"CVE-2023-4911", NULL, NOW + DAY, ""},
                                 {"CVE-2024-2961", NULL, NOW + DAY, ""}};
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_high = 0;
    p.unknown_as = TG_SEV_LOW;
    p.allowlist = a;
    p.n_allowlist = 3;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), 0);
}

static void test_judge_ignore_unfixed_off(void **state)
{
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_high = 3; /* 3 high + UNKNOWN as high */
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
    assert_msg("4 high vulnerabilities (max 3)");
}

static void test_judge_ignore_unfixed_on(void **state)
{
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_high = 3;
    p.ignore_unfixed = true; /* drops CVE-2024-2961 (affected) and CVE-2025-0001 */
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), 0);
    assert_int_equal(c.high, 2);
    assert_int_equal(c.unknown, 0);
    assert_int_equal(c.low, 0); /* will_not_fix */
    assert_int_equal(c.suppressed, 0);
}

/* Formats without fix data are never dropped by ignore_unfixed. */
static void test_judge_ignore_unfixed_intoto(void **state)
{
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_critical = 0;
    p.ignore_unfixed = true;
    assert_int_equal(judge("intoto_vulns_v0.2.json", &p, NULL, &c), TG_EINVALID);
    assert_int_equal(c.critical, 1);
}

static json_object *vex_array(void)
{
    json_object *st = load("openvex.json");
    json_object *arr = json_object_new_array();

    json_object_array_add(arr, json_object_get(pred(st)));
    json_object_put(st);
    return arr;
}

static void test_judge_vex_suppresses(void **state)
{
    json_object *vex = vex_array();
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_high = 1;
    p.unknown_as = TG_SEV_LOW;
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, NULL, &c), TG_EINVALID);
    /* CVE-2023-5678 not_affected and CVE-2023-4911 fixed; CVE-2024-2961 affected stays */
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, vex, &c), 0);
    assert_int_equal(c.high, 1);
    assert_int_equal(c.suppressed, 2);
    assert_int_equal(c.critical, 1); /* under_investigation suppresses nothing */
    json_object_put(vex);
}

/* not_affected in one document, affected in another: conflicting statements fail closed. */
static void test_judge_vex_conflict(void **state)
{
    json_object *vex = vex_array();
    json_object *doc = json_object_new_object(), *stmts = json_object_new_array();
    json_object *s = json_object_new_object(), *v = json_object_new_object();
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    json_object_object_add(v, "name", json_object_new_string("CVE-2023-5678"));
    json_object_object_add(s, "vulnerability", v);
    json_object_object_add(s, "status", json_object_new_string("affected"));
    json_object_array_add(stmts, s);
    json_object_object_add(doc, "statements", stmts);
    json_object_array_add(vex, doc);
    assert_int_equal(judge("trivy_cosign_vuln.json", &p, vex, &c), 0);
    assert_int_equal(c.suppressed, 1); /* CVE-2023-4911 only */
    assert_int_equal(c.high, 2);
    json_object_put(vex);
}

static void test_judge_vex_alias(void **state)
{
    json_object *vex = vex_array();
    json_object *st = load("trivy_cosign_vuln.json");
    json_object *res = NULL, *results = NULL, *r0 = NULL, *vulns = NULL;
    struct tg_vuln_report *r = NULL;
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    assert_true(json_object_object_get_ex(scanner_of(st), "result", &res));
    assert_true(json_object_object_get_ex(res, "Results", &results));
    r0 = json_object_array_get_idx(results, 0);
    assert_true(json_object_object_get_ex(r0, "Vulnerabilities", &vulns));
    json_object_object_add(json_object_array_get_idx(vulns, 1), "VulnerabilityID",
                           json_object_new_string("GHSA-xxxx-5678-openssl"));
    assert_int_equal(tg_vuln_parse(ptype(st), pred(st), &r), 0);
    assert_int_equal(tg_vuln_judge(r, &p, NOW, vex, &c), 0);
    assert_int_equal(c.suppressed, 2);
    tg_vuln_report_free(r);
    json_object_put(st);
    json_object_put(vex);
}

static void test_judge_cyclonedx_state(void **state)
{
    struct tg_vuln_policy p = open_policy();
    struct tg_vuln_counts c;

    (void)state;
    p.max_critical = 0; /* the critical CVE-2023-4911 is not_affected in the BOM */
    assert_int_equal(judge("cyclonedx_vulns.json", &p, NULL, &c), 0);
    assert_int_equal(c.critical, 0);
    assert_int_equal(c.high, 2);
    assert_int_equal(c.low, 1);
    assert_int_equal(c.unknown, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_classes),
        cmocka_unit_test(test_prov_0),
        cmocka_unit_test(test_prov_1),
        cmocka_unit_test(test_prov_2),
        cmocka_unit_test(test_prov_3),
        cmocka_unit_test(test_prov_4),
        cmocka_unit_test(test_prov_5),
        cmocka_unit_test(test_prov_6),
        cmocka_unit_test(test_prov_7),
        cmocka_unit_test(test_prov_8),
        cmocka_unit_test(test_prov_9),
        cmocka_unit_test(test_prov_10),
        cmocka_unit_test(test_prov_11),
        cmocka_unit_test(test_prov_12),
        cmocka_unit_test(test_prov_13),
        cmocka_unit_test(test_prov_fields_v1),
        cmocka_unit_test(test_prov_fields_v02),
        cmocka_unit_test(test_prov_v02_materials_only),
        cmocka_unit_test(test_prov_malformed_missing_builder),
        cmocka_unit_test(test_prov_malformed_not_object),
        cmocka_unit_test(test_prov_malformed_builder_type),
        cmocka_unit_test(test_prov_repo_too_long),
        cmocka_unit_test(test_prov_wrong_type),
        cmocka_unit_test(test_sbom_cyclonedx_nested),
        cmocka_unit_test(test_sbom_spdx2),
        cmocka_unit_test(test_sbom_spdx3),
        cmocka_unit_test(test_sbom_missing_bomformat),
        cmocka_unit_test(test_sbom_missing_specversion),
        cmocka_unit_test(test_sbom_spdx_bad_version),
        cmocka_unit_test(test_sbom_spdx_type_cyclonedx_body),
        cmocka_unit_test(test_sbom_not_sbom_type),
        cmocka_unit_test(test_vuln_trivy),
        cmocka_unit_test(test_vuln_grype),
        cmocka_unit_test(test_vuln_intoto),
        cmocka_unit_test(test_vuln_cyclonedx),
        cmocka_unit_test(test_vuln_unknown_report),
        cmocka_unit_test(test_vuln_trivy_schema1),
        cmocka_unit_test(test_vuln_cosign_missing_scan_time),
        cmocka_unit_test(test_vuln_rfc3339_offset),
        cmocka_unit_test(test_vuln_rfc3339_bad),
        cmocka_unit_test(test_vuln_not_vuln_type),
        cmocka_unit_test(test_judge_open_counts),
        cmocka_unit_test(test_judge_duplicates_once),
        cmocka_unit_test(test_judge_over_ceiling),
        cmocka_unit_test(test_judge_message_lists_five),
        cmocka_unit_test(test_judge_allow_expired),
        cmocka_unit_test(test_judge_allow_expires_exactly_now),
        cmocka_unit_test(test_judge_allow_zero_expiry_never_applies),
        cmocka_unit_test(test_judge_allow_unexpired_suppresses),
        cmocka_unit_test(test_judge_allow_other_package),
        cmocka_unit_test(test_judge_scan_too_old),
        cmocka_unit_test(test_judge_scan_fresh_enough),
        cmocka_unit_test(test_judge_missing_scan_time),
        cmocka_unit_test(test_judge_wrong_scanner),
        cmocka_unit_test(test_judge_unknown_as_high),
        cmocka_unit_test(test_judge_unknown_as_low),
        cmocka_unit_test(test_judge_ignore_unfixed_off),
        cmocka_unit_test(test_judge_ignore_unfixed_on),
        cmocka_unit_test(test_judge_ignore_unfixed_intoto),
        cmocka_unit_test(test_judge_vex_suppresses),
        cmocka_unit_test(test_judge_vex_conflict),
        cmocka_unit_test(test_judge_vex_alias),
        cmocka_unit_test(test_judge_cyclonedx_state),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
