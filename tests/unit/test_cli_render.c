/*
 * kubectl-tollgate's rendering (operator/cli/render.c) against JSON fixtures in
 * tests/fixtures/cli/: each <name>.json holds the objects the API server would return and the
 * "now" of the run, and <name>.txt the exact text a user sees. Set TG_UPDATE_GOLDEN=1 to
 * rewrite the .txt files after a deliberate change, then read the diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli/render.h"
#include "util/buf.h"
#include "util/error.h"

#define FIXTURES TG_FIXTURES_DIR "/cli/"

static json_object *load_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), FIXTURES "%s.json", name);
    json_object *o = json_object_from_file(path);
    if (!o)
        fail_msg("cannot read %s", path);
    return o;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Compares got with <name>.txt, or rewrites it when TG_UPDATE_GOLDEN is set. */
static void assert_golden(const char *name, const char *got)
{
    char path[512];
    snprintf(path, sizeof(path), FIXTURES "%s.txt", name);
    if (getenv("TG_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(got, f);
        fclose(f);
        return;
    }
    char *want = read_text(path);
    if (!want)
        fail_msg("missing %s (run with TG_UPDATE_GOLDEN=1 and review it)", path);
    bool same = strcmp(want, got) == 0;
    if (!same)
        print_error("%s differs.\n--- want\n%s--- got\n%s---\n", path, want, got);
    free(want);
    assert_true(same);
}

static int64_t fixture_now(json_object *fx)
{
    json_object *now;
    int64_t ms;
    assert_true(json_object_object_get_ex(fx, "now", &now));
    assert_true(tg_cli_parse_time(json_object_get_string(now), &ms));
    return ms;
}

/* A member of the fixture, NULL when absent or JSON null. */
static json_object *member(json_object *fx, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(fx, key, &v))
        return NULL;
    return v;
}

static void check_status_fixture(const char *name)
{
    json_object *fx = load_fixture(name);
    struct tg_cli_status_view v = {
        .rollout = member(fx, "rollout"),
        .current_release = member(fx, "currentRelease"),
        .stable_release = member(fx, "stableRelease"),
        .last_release = member(fx, "lastRelease"),
        .events = member(fx, "events"),
        .now_ms = fixture_now(fx),
    };
    struct tg_buf out;
    tg_buf_init(&out, 1 << 20);
    assert_int_equal(tg_cli_render_status(&v, &out), 0);
    assert_golden(name, out.data ? out.data : "");
    tg_buf_free(&out);
    json_object_put(fx);
}

/* Renders a status fixture; the caller frees the text. */
static char *render_fixture(const char *name)
{
    json_object *fx = load_fixture(name);
    struct tg_cli_status_view v = {.rollout = member(fx, "rollout"),
                                   .current_release = member(fx, "currentRelease"),
                                   .stable_release = member(fx, "stableRelease"),
                                   .last_release = member(fx, "lastRelease"),
                                   .events = member(fx, "events"),
                                   .now_ms = fixture_now(fx)};
    struct tg_buf out;
    tg_buf_init(&out, 1 << 20);
    assert_int_equal(tg_cli_render_status(&v, &out), 0);
    json_object_put(fx);
    assert_non_null(out.data);
    return tg_buf_take(&out, NULL);
}

/* How many times needle occurs in text. */
static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_status_canary_mid_step(void **state)
{
    (void)state;
    check_status_fixture("canary-mid-step");
}

static void test_status_canary_paused(void **state)
{
    (void)state;
    check_status_fixture("canary-paused");
}

static void test_status_blue_green(void **state)
{
    (void)state;
    check_status_fixture("blue-green");
}

static void test_status_degraded_invalid_spec(void **state)
{
    (void)state;
    check_status_fixture("degraded-invalid-spec");
}

static void test_status_analysis_running(void **state)
{
    (void)state;
    check_status_fixture("analysis-running");
}

static void test_status_analysis_rolled_back(void **state)
{
    (void)state;
    check_status_fixture("analysis-rolled-back");
}

static void test_status_analysis_inconclusive(void **state)
{
    (void)state;
    check_status_fixture("analysis-inconclusive");
}

static void test_status_analysis_smoke_failed(void **state)
{
    (void)state;
    check_status_fixture("analysis-smoke-failed");
}

static void test_status_analysis_malformed(void **state)
{
    (void)state;
    check_status_fixture("analysis-malformed");
}

static void test_status_verify_passed(void **state)
{
    (void)state;
    check_status_fixture("verify-passed");
}

static void test_status_verify_failed(void **state)
{
    (void)state;
    check_status_fixture("verify-failed");
}

static void test_status_verify_warned(void **state)
{
    (void)state;
    check_status_fixture("verify-warned");
}

static void test_status_verify_retrying(void **state)
{
    (void)state;
    check_status_fixture("verify-retrying");
}

static void test_status_verify_not_required(void **state)
{
    (void)state;
    check_status_fixture("verify-not-required");
}

static void test_status_stalled(void **state)
{
    (void)state;
    check_status_fixture("stalled");
}

/* Renders a Rollout of a fixture with rel (JSON text) as its Release in flight. */
static char *render_with_release(const char *fixture, const char *rel_json)
{
    json_object *fx = load_fixture(fixture);
    json_object *rel = json_tokener_parse(rel_json);
    assert_non_null(rel);
    struct tg_cli_status_view v = {
        .rollout = member(fx, "rollout"), .current_release = rel, .now_ms = fixture_now(fx)};
    struct tg_buf out;
    tg_buf_init(&out, 1 << 20);
    assert_int_equal(tg_cli_render_status(&v, &out), 0);
    assert_non_null(out.data);
    json_object_put(rel);
    json_object_put(fx);
    return tg_buf_take(&out, NULL);
}

/* The verification lines a user reads, asserted directly so that a careless regeneration fails. */
static void test_verify_passed_lines(void **state)
{
    (void)state;
    char *text = render_fixture("verify-passed");
    /* Right after the Release's line, before the tracks. */
    assert_non_null(strstr(text,
                           "setWeight 50\nVerification: Passed\n"
                           "  signature        Verified  key sha256:ab12cd34ef56... (ci)\n"
                           "  provenance       Verified  builder github.com/slsa-framework/"));
    assert_non_null(strstr(text, "..., github.com/shop/web@refs/heads/main 1a2b3c4 (gha)\n"));
    assert_non_null(strstr(text, "  sbom             Present   CycloneDX 1.5, 42 components\n"));
    assert_non_null(strstr(text, "  vulnerabilities  Passed    0 critical, 1 high, 3 medium, 1 "
                                 "suppressed (trivy, scanned 2026-11-26T08:12Z; valid until "
                                 "2026-12-03T08:12Z)\n"));
    assert_non_null(strstr(text, "  attestations     Verified  cosign.sigstore.dev/attestation/v1 "
                                 "by key ci (ci)\nTracks:\n"));
    assert_null(strstr(text, "Conditions:")); /* nothing needs attention */
    free(text);
}

static void test_verify_failed_lines(void **state)
{
    (void)state;
    char *text = render_fixture("verify-failed");
    /* Nothing in flight: the verdict of the Release on the Last line. */
    assert_non_null(strstr(text, "\nLast:        web-1-2-4 (1.2.4), Failed: "));
    assert_non_null(strstr(text, "\nVerification: Failed: vulnerabilities: 2 critical "
                                 "vulnerabilities (max 0): CVE-2026-1111, CVE-2026-2222\n"));
    /* A failed gate without details has its reason in their place. */
    assert_non_null(strstr(text, "  provenance       Failed    no signed SLSA provenance by "
                                 "builder https://github.com/"));
    /* One with details has its reason on the next line, in the same column. */
    assert_non_null(strstr(text, "  vulnerabilities  Failed    2 critical, 5 high, 3 medium, 1 "
                                 "suppressed (trivy, "));
    assert_non_null(strstr(text, ")\n                             2 critical vulnerabilities (max "
                                 "0): CVE-2026-1111, CVE-2026-2222\nTracks:"));
    /* A passed gate has no reason line. */
    assert_non_null(strstr(text, "  signature        Verified  key sha256:ab12cd34ef56... (ci)\n"
                                 "  provenance"));
    free(text);
}

static void test_verify_warned_lines(void **state)
{
    (void)state;
    char *text = render_fixture("verify-warned");
    assert_non_null(strstr(text, "\nVerification: Warned: sbom: no signed CycloneDX or SPDX "
                                 "attestation\n"
                                 "  signature        Verified  key sha256:ab12cd34ef56... (ci)\n"
                                 "  sbom             Missing   no signed CycloneDX or SPDX "
                                 "attestation\nTracks:"));
    /* Gates no policy asks for are absent. */
    assert_null(strstr(text, "provenance"));
    assert_null(strstr(text, "vulnerabilities"));
    free(text);
}

static void test_verify_retrying_lines(void **state)
{
    (void)state;
    char *text = render_fixture("verify-retrying");
    /* The operator's retry message counts the attempts already: no second count. */
    assert_non_null(strstr(text, "\nVerification: Retrying: registry unreachable: connect to "
                                 "registry.example:443: connection refused (attempt 3, retrying "
                                 "in 20s)\nTracks:"));
    assert_int_equal(count_of(text, "(attempt"), 2); /* the Current line and the verdict */
    free(text);
}

/* A retry message that does not count them gets the attempt from status.verification. */
static void test_verify_retrying_attempt(void **state)
{
    (void)state;
    char *text = render_with_release(
        "canary-mid-step",
        "{\"metadata\":{\"name\":\"web-1-2-4\"},\"spec\":{\"version\":\"1.2.4\"},"
        "\"status\":{\"phase\":\"Verifying\",\"verification\":{\"result\":\"Retrying\","
        "\"message\":\"registry.example: timeout\",\"attempts\":4}}}");
    assert_non_null(strstr(text, "\nVerification: Retrying: registry.example: timeout "
                                 "(attempt 4)\nTracks:"));
    free(text);
}

static void test_verify_not_required_lines(void **state)
{
    (void)state;
    char *text = render_fixture("verify-not-required");
    assert_non_null(strstr(text, "setWeight 50\nVerification: not required\nTracks:"));
    free(text);
}

/* A Release still Verifying without a verdict; one with neither shows no block at all. */
static void test_verify_in_progress(void **state)
{
    (void)state;
    char *text = render_with_release("canary-mid-step", "{\"metadata\":{\"name\":\"web-1-2-4\"},"
                                                        "\"status\":{\"phase\":\"Verifying\"}}");
    assert_non_null(strstr(text, ", Verifying\nVerification: in progress\nTracks:"));
    free(text);
    text = render_with_release("canary-mid-step", "{\"metadata\":{\"name\":\"web-1-2-4\"},"
                                                  "\"status\":{\"phase\":\"Progressing\"}}");
    assert_null(strstr(text, "Verification"));
    free(text);
}

/* A re-check that cannot reach the registry keeps the verdict reached before beside it. */
static void test_verify_recheck_retrying(void **state)
{
    (void)state;
    char *text = render_with_release(
        "canary-mid-step",
        "{\"metadata\":{\"name\":\"web-1-2-4\"},\"status\":{\"phase\":\"Progressing\","
        "\"verification\":{\"result\":\"Passed\",\"attempts\":2,\"nextAttemptAt\":"
        "\"2026-11-26T12:00:10Z\",\"retryMessage\":\"registry unreachable: timeout (attempt 2, "
        "retrying in 10s)\"}}}");
    assert_non_null(strstr(text, "\nVerification: Passed; re-check: registry unreachable: "
                                 "timeout (attempt 2, retrying in 10s)\n"));
    free(text);
}

/*
 * Long values are cut with "..." (never inside a UTF-8 sequence), control characters become
 * spaces, and malformed entries (a gate that is not an object, counts that are not integers) are
 * skipped rather than shown wrong.
 */
static void test_verify_malformed_and_long(void **state)
{
    (void)state;
    /* 59 ASCII bytes, then "é" (2 bytes) across the 60-byte cut. */
    char *text = render_with_release(
        "canary-mid-step",
        "{\"metadata\":{\"name\":\"web-1-2-4\"},\"status\":{\"phase\":\"Progressing\","
        "\"verification\":{\"result\":\"Passed\",\"message\":\"\","
        "\"signature\":{\"result\":\"Verified\",\"authority\":\"a\\nb\",\"signer\":"
        "\"01234567890123456789012345678901234567890123456789012345678\\u00e9tail\"},"
        "\"sbom\":\"Present\","
        "\"vulnerabilities\":{\"result\":\"Passed\",\"critical\":\"0\",\"high\":2},"
        "\"provenance\":{}}}}");
    assert_non_null(strstr(text, "  signature        Verified  "
                                 "01234567890123456789012345678901234567890123456789012345678"
                                 "... (a b)\n"));
    assert_null(strstr(text, "  sbom"));
    assert_non_null(strstr(text, "  vulnerabilities  Passed    2 high\n"));
    assert_non_null(strstr(text, "  provenance       Unknown   \n"));
    free(text);
}

/* Stalled=True is a condition that needs attention, with its reason and message. */
static void test_stalled_lines(void **state)
{
    (void)state;
    char *text = render_fixture("stalled");
    assert_non_null(strstr(text, "Conditions:\n"
                                 "  OBJECT        TYPE      STATUS   REASON             MESSAGE\n"
                                 "  rollout/web   Stalled   True     ResourceConflict   Service "
                                 "shop/web exists and is not owned by this Rollout\n"));
    assert_null(strstr(text, "NotReconciling")); /* False conditions are not shown */
    free(text);
    text = render_fixture("verify-failed");
    assert_non_null(strstr(text, "  release/web-1-2-4   Stalled   True     VerificationFailed   "
                                 "vulnerabilities: 2 critical vulnerabilities (max 0)\n"));
    free(text);
    /* Stalled False is not. */
    text = render_fixture("canary-mid-step");
    assert_null(strstr(text, "Stalled"));
    free(text);
}

/* The analysis lines a user reads, asserted directly so that a careless regeneration fails. */
static void test_analysis_running_lines(void **state)
{
    (void)state;
    char *text = render_fixture("analysis-running");
    /* Runs and metrics in status order, counts out of the step's count, values as %.4g. */
    assert_non_null(strstr(text, "Analysis:\n  step-2: Running\n    error-rate: Running, 2/3 "
                                 "measured, 0 failed, 0 inconclusive, 0 errors, latest 0.01235, "
                                 "next in 12s\n"));
    assert_non_null(strstr(text, "    latency: Running, 1/3 measured, 0 failed, 0 inconclusive, "
                                 "1 error, latest canary 0.151 vs baseline 0.101, p=0.003, next "
                                 "in 25s\n"));
    /* The dry-run metric says so; its count comes from the catalogue's default (1). */
    assert_non_null(strstr(text, "    saturation (dry run): Running, 1/1 measured, 1 failed"));
    assert_non_null(strstr(text, "latest 0.91 (Fail), next in 20s\n"));
    /* Nothing decided anything: no marker; only the latest of the measurements is shown. */
    assert_int_equal(count_of(text, "  X "), 0);
    assert_null(strstr(text, "0.0121,"));
    assert_null(strstr(text, "timed out"));
    /* The section sits between the tracks and the Events. */
    assert_true(strstr(text, "Tracks:") < strstr(text, "Analysis:"));
    assert_true(strstr(text, "Analysis:") < strstr(text, "Events:"));
    free(text);
}

static void test_analysis_rolled_back_lines(void **state)
{
    (void)state;
    char *text = render_fixture("analysis-rolled-back");
    /* No Release in flight: the last one is shown, with its message, and its analysis. */
    assert_non_null(strstr(text, "Current:     <none>\nLast:        web-1-2-4 (1.2.4), RolledBack: "
                                 "analysis step-2 failed: metric error-rate: 0.093 > max 0.05"));
    assert_non_null(strstr(text, "  step-2: Failed: metric error-rate failed 2 of 3 measurements "
                                 "(max 0.05)\n"));
    /* The failing metric is marked, with its counts and latest value; only it is marked. */
    assert_non_null(strstr(text, "\n  X error-rate: Failed, 3/3 measured, 2 failed, 0 "
                                 "inconclusive, 0 errors, latest 0.093 (Fail)\n"));
    assert_int_equal(count_of(text, "  X "), 1);
    /* A failed dry-run metric never decides. */
    assert_non_null(strstr(text, "\n    saturation (dry run): Failed,"));
    free(text);
}

static void test_analysis_inconclusive_lines(void **state)
{
    (void)state;
    char *text = render_fixture("analysis-inconclusive");
    assert_non_null(strstr(text, "\n  X latency: Inconclusive, 3/3 measured, 0 failed, 1 "
                                 "inconclusive, 0 errors, latest canary 0.14 vs baseline 0.12, "
                                 "p=0.08 (Inconclusive)\n"));
    assert_non_null(strstr(text, "\n    error-rate: Successful,"));
    assert_int_equal(count_of(text, "  X "), 1);
    /* A finished run: no "next in"; the passed smoke test under its own run. */
    assert_null(strstr(text, "next in"));
    assert_non_null(strstr(text, "  step-2-smoke: Successful: 1 smoke test passed\n"
                                 "    smoke test health: Successful: HTTP 200\n"));
    free(text);
}

static void test_analysis_smoke_failed_lines(void **state)
{
    (void)state;
    char *text = render_fixture("analysis-smoke-failed");
    assert_non_null(strstr(text, "    smoke test health: Successful: HTTP 200\n"
                                 "  X smoke test e2e: Failed: Job web-1-2-4-e2e failed: "
                                 "BackoffLimitExceeded\n"));
    /* The smoke test decided, not the metrics of the run that passed. */
    assert_int_equal(count_of(text, "  X "), 1);
    assert_non_null(strstr(text, "    error-rate: Successful, 2/2 measured"));
    free(text);
}

static void test_analysis_malformed_lines(void **state)
{
    (void)state;
    char *text = render_fixture("analysis-malformed");
    /* Runs and entries without a name are skipped; mistyped fields read as absent. */
    assert_non_null(strstr(text, "Analysis:\n  step-2: Unknown\n    error-rate: Running, 0/3 "
                                 "measured, 0 failed, 0 inconclusive, 0 errors\n"));
    assert_non_null(strstr(text, "    latency: Failed, 1/3 measured, 0 failed, 0 inconclusive, 0 "
                                 "errors, latest (Pass)\n"));
    /* A line break in a name cannot forge a line; a long message is cut. */
    assert_null(strstr(text, "\nforged"));
    assert_non_null(strstr(text, "    error-rate forged: Successful: Running , 1/1 measured"));
    assert_non_null(strstr(text, "xxx...\n"));
    assert_null(strstr(text,
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
    /* Bounded: 32 metrics of 40, 16 runs of 23 named ones. */
    assert_non_null(strstr(text, "    m31: Running"));
    assert_null(strstr(text, "    m32: Running"));
    assert_non_null(strstr(text, "      ... and 8 more metrics\n"));
    assert_non_null(strstr(text, "  ... and 7 more runs\n"));
    /* Broken conditions: nothing is marked as deciding. */
    assert_int_equal(count_of(text, "  X "), 0);
    free(text);
}

/* A status.analysis that is not even an object, or runs that are not an array, shows nothing. */
static void test_analysis_not_an_object(void **state)
{
    (void)state;
    static const char *const bad[] = {"\"analysis\":\"junk\"", "\"analysis\":{\"runs\":{}}",
                                      "\"analysis\":{\"runs\":[]}", "\"analysis\":null",
                                      "\"analysis\":{\"runs\":[null,1,\"x\",[]]}"};
    json_object *ro = json_tokener_parse(
        "{\"metadata\":{\"name\":\"web\"},\"status\":{\"currentRelease\":\"web-2\"}}");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char js[256];
        snprintf(js, sizeof(js), "{\"status\":{\"phase\":\"RolledBack\",%s}}", bad[i]);
        json_object *rel = json_tokener_parse(js);
        assert_non_null(rel);
        struct tg_cli_status_view v = {.rollout = ro, .current_release = rel};
        struct tg_buf out;
        tg_buf_init(&out, 1 << 16);
        assert_int_equal(tg_cli_render_status(&v, &out), 0);
        assert_null(strstr(out.data, "Analysis"));
        tg_buf_free(&out);
        json_object_put(rel);
    }
    json_object_put(ro);
}

/* The analysis section counts against the output cap like the rest of the page. */
static void test_analysis_output_cap(void **state)
{
    (void)state;
    char *full = render_fixture("analysis-malformed");
    json_object *fx = load_fixture("analysis-malformed");
    struct tg_cli_status_view v = {.rollout = member(fx, "rollout"),
                                   .current_release = member(fx, "currentRelease"),
                                   .now_ms = fixture_now(fx)};
    size_t len = strlen(full);
    for (size_t cap = len - 1200; cap < len; cap += 13) {
        struct tg_buf out;
        tg_buf_init(&out, cap);
        assert_int_equal(tg_cli_render_status(&v, &out), TG_ETOOBIG);
        assert_true(out.len <= cap);
        tg_buf_free(&out);
    }
    json_object_put(fx);
    free(full);
}

static void test_last_finished_release(void **state)
{
    (void)state;
    static const struct {
        const char *status;
        const char *want;
    } cases[] = {
        {"{\"stableRelease\":\"a\",\"history\":[{\"release\":\"b\"},{\"release\":\"a\"}]}", "b"},
        {"{\"stableRelease\":\"a\",\"currentRelease\":\"c\",\"history\":[{\"release\":\"b\"}]}",
         NULL},
        {"{\"stableRelease\":\"a\",\"history\":[{\"release\":\"a\"}]}", NULL},
        {"{\"history\":[{\"release\":\"b\"}]}", "b"},
        {"{\"history\":[]}", NULL},
        {"{\"history\":{\"release\":\"b\"}}", NULL},
        {"{\"history\":[7]}", NULL},
        {"{}", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *ro = json_object_new_object();
        json_object_object_add(ro, "status", json_tokener_parse(cases[i].status));
        const char *got = tg_cli_last_finished_release(ro);
        if (cases[i].want)
            assert_string_equal(got, cases[i].want);
        else
            assert_null(got);
        json_object_put(ro);
    }
    assert_null(tg_cli_last_finished_release(NULL));
}

/* Things the golden files show, asserted directly so that a careless regeneration fails. */
static void test_status_key_lines(void **state)
{
    (void)state;
    json_object *fx = load_fixture("canary-mid-step");
    struct tg_cli_status_view v = {.rollout = member(fx, "rollout"),
                                   .current_release = member(fx, "currentRelease"),
                                   .stable_release = member(fx, "stableRelease"),
                                   .events = member(fx, "events"),
                                   .now_ms = fixture_now(fx)};
    struct tg_buf out;
    tg_buf_init(&out, 1 << 20);
    assert_int_equal(tg_cli_render_status(&v, &out), 0);
    assert_non_null(strstr(out.data, "Phase:       Progressing\n"));
    assert_non_null(strstr(out.data, "Strategy:    Canary (Gateway API routing)\n"));
    assert_non_null(
        strstr(out.data, "Step:        3/5 [########------------]  40% (setWeight 50)\n"));
    assert_non_null(strstr(out.data, "Weight:      canary 50%, stable 50%\n"));
    assert_non_null(strstr(out.data, "Stable:      web-1-2-3 (1.2.3)\n"));
    assert_non_null(
        strstr(out.data, "Current:     web-1-2-4 (1.2.4), Progressing: step 3/5: setWeight 50\n"));
    /* Seven events: the two oldest are left out, the newest is last, its newline flattened. */
    assert_null(strstr(out.data, "ReleaseStarted"));
    assert_null(strstr(out.data, "step 1: setWeight 10"));
    assert_non_null(strstr(out.data, "step 2: pause 5m"));
    assert_non_null(strstr(out.data, "2 of 4 canary pods ready waiting\n"));
    assert_true(strstr(out.data, "step 3: setWeight 50") < strstr(out.data, "CanaryNotReady"));
    assert_non_null(strstr(out.data, "45s (x3)"));
    /* Nothing needs attention: no Conditions section. */
    assert_null(strstr(out.data, "Conditions:"));
    tg_buf_free(&out);
    json_object_put(fx);
}

static void test_history_table(void **state)
{
    (void)state;
    json_object *fx = load_fixture("history");
    struct tg_buf out;
    tg_buf_init(&out, 1 << 20);
    assert_int_equal(tg_cli_render_history(member(fx, "rollout"), &out), 0);
    assert_golden("history", out.data);
    /* Durations: 1h31m5s shows as kubectl would, and a missing end leaves no duration. */
    assert_non_null(strstr(out.data, "   91m\n"));
    assert_non_null(strstr(out.data, "   45s\n"));
    assert_non_null(strstr(out.data, "   3d1h\n"));
    tg_buf_free(&out);
    json_object_put(fx);
}

static void test_history_empty(void **state)
{
    (void)state;
    json_object *ro = json_tokener_parse("{\"metadata\":{\"name\":\"web\"},\"status\":{}}");
    struct tg_buf out;
    tg_buf_init(&out, 1024);
    assert_int_equal(tg_cli_render_history(ro, &out), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(tg_cli_render_history(NULL, &out), TG_EINVALID);
    tg_buf_free(&out);
    json_object_put(ro);
}

static void test_list_table(void **state)
{
    (void)state;
    json_object *fx = load_fixture("list");
    struct tg_buf out;
    tg_buf_init(&out, 1 << 20);
    assert_int_equal(tg_cli_render_list(member(fx, "items"), false, fixture_now(fx), &out), 0);
    assert_golden("list", out.data);
    assert_true(strncmp(out.data, "NAME ", 5) == 0);
    tg_buf_reset(&out);
    assert_int_equal(tg_cli_render_list(member(fx, "items"), true, fixture_now(fx), &out), 0);
    assert_golden("list-all-namespaces", out.data);
    /* Sorted by namespace then name: billing/api first. */
    assert_true(strncmp(out.data + strcspn(out.data, "\n") + 1, "billing ", 8) == 0);
    tg_buf_free(&out);
    json_object_put(fx);
}

static void test_list_empty(void **state)
{
    (void)state;
    json_object *items = json_object_new_array();
    struct tg_buf out;
    tg_buf_init(&out, 1024);
    assert_int_equal(tg_cli_render_list(items, false, 0, &out), 0);
    assert_int_equal(out.len, 0);
    tg_buf_free(&out);
    json_object_put(items);
}

/* A page larger than the buffer's cap is an error, never a crash or a partial overflow. */
static void test_output_cap(void **state)
{
    (void)state;
    json_object *fx = load_fixture("canary-mid-step");
    struct tg_cli_status_view v = {.rollout = member(fx, "rollout"),
                                   .events = member(fx, "events"),
                                   .now_ms = fixture_now(fx)};
    for (size_t cap = 0; cap < 300; cap += 7) {
        struct tg_buf out;
        tg_buf_init(&out, cap);
        assert_int_equal(tg_cli_render_status(&v, &out), TG_ETOOBIG);
        assert_true(out.len <= cap);
        tg_buf_free(&out);
    }
    json_object_put(fx);
}

static void test_status_needs_rollout(void **state)
{
    (void)state;
    struct tg_cli_status_view v = {0};
    struct tg_buf out;
    tg_buf_init(&out, 1024);
    assert_int_equal(tg_cli_render_status(&v, &out), TG_EINVALID);
    tg_buf_free(&out);
}

/* A Rollout with no status at all (just created) still renders, with placeholders. */
static void test_status_without_status(void **state)
{
    (void)state;
    json_object *ro =
        json_tokener_parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},"
                           "\"spec\":{\"strategy\":{\"canary\":{\"steps\":[{\"setWeight\":5}]}}}}");
    struct tg_cli_status_view v = {.rollout = ro};
    struct tg_buf out;
    tg_buf_init(&out, 1 << 16);
    assert_int_equal(tg_cli_render_status(&v, &out), 0);
    assert_string_equal(out.data, "Rollout:     shop/web\n"
                                  "Phase:       Unknown\n"
                                  "Strategy:    Canary (replicas routing)\n"
                                  "Step:        -/1 (not started)\n"
                                  "Weight:      canary 0%, stable 100%\n"
                                  "Stable:      <none>\n"
                                  "Current:     <none>\n"
                                  "Tracks:      <none>\n"
                                  "Events:      <none>\n");
    tg_buf_free(&out);
    json_object_put(ro);
}

/* A problem with the Release in flight is shown beside the Rollout's own conditions. */
static void test_status_release_conditions(void **state)
{
    (void)state;
    json_object *fx = load_fixture("canary-paused");
    json_object *rel = json_tokener_parse(
        "{\"metadata\":{\"name\":\"web-1-2-4\"},\"spec\":{\"version\":\"1.2.4\"},"
        "\"status\":{\"phase\":\"Paused\",\"conditions\":["
        "{\"type\":\"InvalidSpec\",\"status\":\"True\",\"reason\":\"SpecChanged\","
        "\"message\":\"spec changed after delivery started\"},"
        "{\"type\":\"Succeeded\",\"status\":\"False\",\"reason\":\"InFlight\"}]}}");
    struct tg_cli_status_view v = {
        .rollout = member(fx, "rollout"), .current_release = rel, .now_ms = fixture_now(fx)};
    struct tg_buf out;
    tg_buf_init(&out, 1 << 20);
    assert_int_equal(tg_cli_render_status(&v, &out), 0);
    assert_non_null(strstr(out.data, "  rollout/web         Paused        True     "
                                     "PausedForPromote   step 2 waits"));
    assert_non_null(strstr(out.data, "  release/web-1-2-4   InvalidSpec   True     SpecChanged"
                                     "        spec changed after delivery started\n"));
    assert_null(strstr(out.data, "InFlight")); /* nothing wrong there */
    tg_buf_free(&out);
    json_object_put(rel);
    json_object_put(fx);
}

static void test_format_age(void **state)
{
    (void)state;
    static const struct {
        int64_t s;
        const char *want;
    } cases[] = {
        {-5, "0s"},        {0, "0s"},          {59, "59s"},      {119, "119s"},
        {120, "2m"},       {125, "2m5s"},      {599, "9m59s"},   {600, "10m"},
        {661, "11m"},      {10799, "179m"},    {10800, "3h"},    {11100, "3h5m"},
        {28800, "8h"},     {172799, "47h"},    {172800, "2d"},   {176400, "2d1h"},
        {691200, "8d"},    {63071999, "729d"}, {63072000, "2y"}, {63158400, "2y1d"},
        {252288000, "8y"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tg_cli_format_age(cases[i].s * 1000, buf, sizeof(buf));
        if (strcmp(buf, cases[i].want) != 0)
            fail_msg("%lld s: want %s, got %s", (long long)cases[i].s, cases[i].want, buf);
    }
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t ms;
    assert_true(tg_cli_parse_time("1970-01-01T00:00:00Z", &ms));
    assert_int_equal(ms, 0);
    assert_true(tg_cli_parse_time("2026-11-26T12:00:00Z", &ms));
    assert_int_equal(ms, 1795694400000LL);
    assert_true(tg_cli_parse_time("2026-11-26T12:00:00.5Z", &ms));
    assert_int_equal(ms, 1795694400500LL);
    assert_true(tg_cli_parse_time("2026-11-26T12:00:00.123456Z", &ms));
    assert_int_equal(ms, 1795694400123LL);
    assert_false(tg_cli_parse_time(NULL, &ms));
    assert_false(tg_cli_parse_time("", &ms));
    assert_false(tg_cli_parse_time("2026-11-26", &ms));
    assert_false(tg_cli_parse_time("2026-11-26T12:00:00", &ms));
    assert_false(tg_cli_parse_time("2026-11-26T12:00:00.Z", &ms));
    assert_false(tg_cli_parse_time("2026-11-26T12:00:00Zjunk", &ms));
}

static void test_progress_bar(void **state)
{
    (void)state;
    char buf[32];
    tg_cli_progress_bar(0, 4, 8, buf, sizeof(buf));
    assert_string_equal(buf, "[--------]");
    tg_cli_progress_bar(1, 4, 8, buf, sizeof(buf));
    assert_string_equal(buf, "[##------]");
    tg_cli_progress_bar(4, 4, 8, buf, sizeof(buf));
    assert_string_equal(buf, "[########]");
    tg_cli_progress_bar(9, 4, 8, buf, sizeof(buf));
    assert_string_equal(buf, "[########]");
    tg_cli_progress_bar(1, 3, 10, buf, sizeof(buf));
    assert_string_equal(buf, "[###-------]");
    tg_cli_progress_bar(0, 0, 4, buf, sizeof(buf));
    assert_string_equal(buf, "[----]");
    tg_cli_progress_bar(2, 4, 8, buf, 5); /* truncated, still terminated */
    assert_string_equal(buf, "[###");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_canary_mid_step),
        cmocka_unit_test(test_status_canary_paused),
        cmocka_unit_test(test_status_blue_green),
        cmocka_unit_test(test_status_degraded_invalid_spec),
        cmocka_unit_test(test_status_analysis_running),
        cmocka_unit_test(test_status_analysis_rolled_back),
        cmocka_unit_test(test_status_analysis_inconclusive),
        cmocka_unit_test(test_status_analysis_smoke_failed),
        cmocka_unit_test(test_status_analysis_malformed),
        cmocka_unit_test(test_status_verify_passed),
        cmocka_unit_test(test_status_verify_failed),
        cmocka_unit_test(test_status_verify_warned),
        cmocka_unit_test(test_status_verify_retrying),
        cmocka_unit_test(test_status_verify_not_required),
        cmocka_unit_test(test_status_stalled),
        cmocka_unit_test(test_verify_passed_lines),
        cmocka_unit_test(test_verify_failed_lines),
        cmocka_unit_test(test_verify_warned_lines),
        cmocka_unit_test(test_verify_retrying_lines),
        cmocka_unit_test(test_verify_retrying_attempt),
        cmocka_unit_test(test_verify_not_required_lines),
        cmocka_unit_test(test_verify_in_progress),
        cmocka_unit_test(test_verify_recheck_retrying),
        cmocka_unit_test(test_verify_malformed_and_long),
        cmocka_unit_test(test_stalled_lines),
        cmocka_unit_test(test_analysis_running_lines),
        cmocka_unit_test(test_analysis_rolled_back_lines),
        cmocka_unit_test(test_analysis_inconclusive_lines),
        cmocka_unit_test(test_analysis_smoke_failed_lines),
        cmocka_unit_test(test_analysis_malformed_lines),
        cmocka_unit_test(test_analysis_not_an_object),
        cmocka_unit_test(test_analysis_output_cap),
        cmocka_unit_test(test_last_finished_release),
        cmocka_unit_test(test_status_key_lines),
        cmocka_unit_test(test_history_table),
        cmocka_unit_test(test_history_empty),
        cmocka_unit_test(test_list_table),
        cmocka_unit_test(test_list_empty),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_status_needs_rollout),
        cmocka_unit_test(test_status_without_status),
        cmocka_unit_test(test_status_release_conditions),
        cmocka_unit_test(test_format_age),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_progress_bar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
