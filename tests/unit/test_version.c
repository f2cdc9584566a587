/* Unit tests for release/version: semver 2.0 grammar, the build/SHA convention, precedence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "release/version.h"
#include "util/error.h"

struct parse_case {
    const char *text;
    uint64_t major, minor, patch;
    const char *prerelease;
    const char *build;
    int64_t build_number;
    const char *sha;
};

static const struct parse_case valid_cases[] = {
    {"v1.2.3-build.456-abc1234", 1, 2, 3, "build.456-abc1234", "", 456, "abc1234"},
    {"1.2.3", 1, 2, 3, "", "", -1, ""},
    {"v0.0.0", 0, 0, 0, "", "", -1, ""},
    {"10.20.30", 10, 20, 30, "", "", -1, ""},
    {"1.0.0-alpha", 1, 0, 0, "alpha", "", -1, ""},
    {"1.0.0-alpha.1", 1, 0, 0, "alpha.1", "", -1, ""},
    {"1.0.0-0.3.7", 1, 0, 0, "0.3.7", "", -1, ""},
    {"1.0.0-x.7.z.92", 1, 0, 0, "x.7.z.92", "", -1, ""},
    {"1.0.0-x-y-z.--", 1, 0, 0, "x-y-z.--", "", -1, ""},
    {"1.0.0-alpha+001", 1, 0, 0, "alpha", "001", -1, ""},
    {"1.0.0+20130313144700", 1, 0, 0, "", "20130313144700", -1, ""},
    {"1.0.0-beta+exp.sha.5114f85", 1, 0, 0, "beta", "exp.sha.5114f85", -1, "5114f85"},
    {"1.0.0+21AF26D3----117B344092BD", 1, 0, 0, "", "21AF26D3----117B344092BD", -1, ""},
    {"v2.0.1+build.77", 2, 0, 1, "", "build.77", 77, ""},
    {"v2.0.1-rc.1+build.77.abc1234", 2, 0, 1, "rc.1", "build.77.abc1234", 77, "abc1234"},
    {"v1.2.3-abc1234", 1, 2, 3, "abc1234", "", -1, "abc1234"},
    {"v1.2.3-build.456-1234567", 1, 2, 3, "build.456-1234567", "", 456, "1234567"},
    {"v1.2.3+sha.1234567", 1, 2, 3, "", "sha.1234567", -1, "1234567"},
    {"v1.2.3-rc.20240101", 1, 2, 3, "rc.20240101", "", -1, ""},
    {"v1.2.3-BUILD.9", 1, 2, 3, "BUILD.9", "", 9, ""},
    {"v1.2.3-build.456-ABC1234", 1, 2, 3, "build.456-ABC1234", "", 456, ""},
    {"v1.2.3-build.456-abc1234def5678abc1234def5678abc1234def5678", 1, 2, 3,
     "build.456-abc1234def5678abc1234def5678abc1234def5678", "", 456, ""},
    {"v1.2.3-build.x", 1, 2, 3, "build.x", "", -1, ""},
    {"18446744073709551615.0.0", 18446744073709551615ULL, 0, 0, "", "", -1, ""},
};

static void parses_valid_versions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const struct parse_case *c = &valid_cases[i];
        struct tg_version v;
        int rc = tg_version_parse(c->text, &v);
        if (rc != 0)
            fail_msg("%s: %s", c->text, tg_error_last());
        assert_string_equal(v.text, c->text);
        assert_true(v.major == c->major);
        assert_true(v.minor == c->minor);
        assert_true(v.patch == c->patch);
        assert_string_equal(v.prerelease, c->prerelease);
        assert_string_equal(v.build, c->build);
        if (v.build_number != c->build_number)
            fail_msg("%s: build number %lld", c->text, (long long)v.build_number);
        assert_string_equal(v.sha, c->sha);
        assert_int_equal(v.v_prefix, c->text[0] == 'v');
        assert_true(tg_version_valid(c->text));
    }
}

struct invalid_case {
    const char *text;
    const char *message;
};

static const struct invalid_case invalid_cases[] = {
    {"", "empty version"},
    {"1", "expected MAJOR.MINOR.PATCH"},
    {"1.2", "expected MAJOR.MINOR.PATCH"},
    {"1.2.3.4", "unexpected character '.' after the version core"},
    {"01.1.1", "leading zero in major version"},
    {"1.01.1", "leading zero in minor version"},
    {"1.1.01", "leading zero in patch version"},
    {"V1.2.3", "major version is not a number"},
    {"vv1.2.3", "major version is not a number"},
    {" 1.2.3", "major version is not a number"},
    {"1.2.3 ", "unexpected character ' ' after the version core"},
    {"1.2.3-", "empty identifier in prerelease"},
    {"1.2.3+", "empty identifier in build metadata"},
    {"1.2.3-a..b", "empty identifier in prerelease"},
    {"1.2.3-a.", "empty identifier in prerelease"},
    {"1.2.3-01", "leading zero in numeric prerelease identifier"},
    {"1.2.3-rc.01", "leading zero in numeric prerelease identifier"},
    {"1.2.3-rc_1", "invalid character '_' in prerelease"},
    {"1.2.3+a+b", "invalid character '+' in build metadata"},
    {"1.2.3-a+b..c", "empty identifier in build metadata"},
    {"18446744073709551616.0.0", "major version is too large"},
    {"-1.2.3", "major version is not a number"},
    {"1.-2.3", "minor version is not a number"},
};

static void rejects_invalid_versions_with_a_reason(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        const struct invalid_case *c = &invalid_cases[i];
        struct tg_version v;
        int rc = tg_version_parse(c->text, &v);
        if (rc != TG_EINVALID)
            fail_msg("'%s' was accepted", c->text);
        if (strcmp(tg_error_last(), c->message) != 0)
            fail_msg("'%s': got '%s', want '%s'", c->text, tg_error_last(), c->message);
        assert_false(tg_version_valid(c->text));
        assert_string_equal(v.text, "");
        assert_int_equal(v.build_number, -1);
    }
}

static void rejects_overlong_and_null(void **state)
{
    char text[TG_VERSION_MAX + 2];
    struct tg_version v;

    (void)state;
    memset(text, 'a', sizeof(text));
    memcpy(text, "1.2.3-", 6);
    text[TG_VERSION_MAX + 1] = '\0';
    assert_int_equal(tg_version_parse(text, &v), TG_EINVALID);
    assert_string_equal(tg_error_last(), "version longer than 128 characters");
    text[TG_VERSION_MAX] = '\0';
    assert_int_equal(tg_version_parse(text, &v), 0);
    assert_int_equal(tg_version_parse(NULL, &v), TG_EINVALID);
}

static void valid_keeps_the_last_error(void **state)
{
    (void)state;
    tg_error_set(TG_EIO, "an earlier problem");
    assert_false(tg_version_valid("nope"));
    assert_string_equal(tg_error_last(), "an earlier problem");
}

/* The semver.org precedence example, in ascending order, plus our own. */
static const char *const ascending[] = {
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "v1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "1.9.0",
    "1.10.0",
    "2.0.0-0",
    "2.0.0-1",
    "2.0.0-9",
    "2.0.0-10",
    "2.0.0-99999999999999999999999",
    "2.0.0-A",
    "2.0.0-a",
    "2.0.0-a.b.c",
    "2.0.0",
    "10.0.0",
};

static void orders_by_semver_precedence(void **state)
{
    size_t n = sizeof(ascending) / sizeof(ascending[0]);

    (void)state;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            struct tg_version a, b;
            assert_int_equal(tg_version_parse(ascending[i], &a), 0);
            assert_int_equal(tg_version_parse(ascending[j], &b), 0);
            int c = tg_version_compare(&a, &b);
            int want = (i > j) - (i < j);
            if ((c > 0) - (c < 0) != want)
                fail_msg("compare(%s, %s) = %d, want %d", ascending[i], ascending[j], c, want);
        }
    }
}

static void build_metadata_and_prefix_do_not_count(void **state)
{
    struct tg_version a, b;

    (void)state;
    assert_int_equal(tg_version_parse("v1.0.0+a", &a), 0);
    assert_int_equal(tg_version_parse("1.0.0+b.c", &b), 0);
    assert_int_equal(tg_version_compare(&a, &b), 0);
    assert_int_equal(tg_version_compare_build(&a, &b), 0);
}

static void build_numbers_order_numerically_with_compare_build(void **state)
{
    struct tg_version a, b, c;

    (void)state;
    assert_int_equal(tg_version_parse("v1.2.3-build.99-abc1234", &a), 0);
    assert_int_equal(tg_version_parse("v1.2.3-build.100-def5678", &b), 0);
    assert_int_equal(tg_version_parse("v1.2.4-build.1-aaaaaaa", &c), 0);
    /* Strict semver compares "99-abc1234" and "100-def5678" as text. */
    assert_true(tg_version_compare(&a, &b) > 0);
    assert_true(tg_version_compare_build(&a, &b) < 0);
    assert_true(tg_version_compare_build(&b, &a) > 0);
    /* The core still comes first. */
    assert_true(tg_version_compare_build(&b, &c) < 0);
    assert_true(tg_version_compare_build(&c, &a) > 0);
}

static void copies_are_independent(void **state)
{
    struct tg_version a, b;

    (void)state;
    assert_int_equal(tg_version_parse("v1.2.3-build.456-abc1234", &a), 0);
    b = a;
    memset(&a, 0, sizeof(a));
    assert_string_equal(b.prerelease, "build.456-abc1234");
    assert_string_equal(b.sha, "abc1234");
}

/*
 * Every prefix of a version is parsed or refused cleanly, and the prefixes that are versions
 * themselves are exactly those a reader expects.
 */
static void prefixes_are_handled(void **state)
{
    const char *full = "v10.20.30-rc.1.build-7+meta.abc1234";
    char buf[64];
    /* The lengths at which the CRD's version pattern matches the prefix. */
    const size_t whole[] = {8,  9,  11, 12, 14, 16, 17, 18, 19, 20, 21, 22,
                            24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35};

    (void)state;
    for (size_t n = 0; n <= strlen(full); n++) {
        struct tg_version v;
        bool want = false;
        memcpy(buf, full, n);
        buf[n] = '\0';
        for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
            want = want || whole[i] == n;
        if ((tg_version_parse(buf, &v) == 0) != want)
            fail_msg("prefix \"%s\": %s", buf, want ? tg_error_last() : "accepted");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_valid_versions),
        cmocka_unit_test(rejects_invalid_versions_with_a_reason),
        cmocka_unit_test(rejects_overlong_and_null),
        cmocka_unit_test(valid_keeps_the_last_error),
        cmocka_unit_test(orders_by_semver_precedence),
        cmocka_unit_test(build_metadata_and_prefix_do_not_count),
        cmocka_unit_test(build_numbers_order_numerically_with_compare_build),
        cmocka_unit_test(copies_are_independent),
        cmocka_unit_test(prefixes_are_handled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
