/*
 * Unit tests for kube/watch: every fixture stream under tests/fixtures/watch is fed whole, split
 * at every byte offset and in 1-byte chunks, and must give the same events each time, matching
 * the fixture's .expected file; plus ERROR mapping, sticky errors, restart and ownership.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/watch.h"
#include "util/buf.h"
#include "util/error.h"

/* What a run saw: a summary line per event and the full text of every object. */
struct transcript {
    struct tg_buf summary;
    struct tg_buf full;
};

static const char *meta_string(struct json_object *o, const char *key)
{
    struct json_object *meta, *v;

    if (!json_object_object_get_ex(o, "metadata", &meta) ||
        !json_object_object_get_ex(meta, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static int record(void *ctx, enum tg_watch_type type, struct json_object *object)
{
    struct transcript *t = ctx;
    char line[512];
    const char *ns = meta_string(object, "namespace");
    const char *name = meta_string(object, "name");
    const char *rv = meta_string(object, "resourceVersion");

    if (type == TG_WATCH_BOOKMARK)
        snprintf(line, sizeof(line), "BOOKMARK - %s\n", rv);
    else
        snprintf(line, sizeof(line), "%s %s/%s %s\n", tg_watch_type_name(type), ns, name, rv);
    assert_int_equal(tg_buf_append_str(&t->summary, line), 0);
    assert_int_equal(
        tg_buf_append_str(&t->full, json_object_to_json_string_ext(object, JSON_C_TO_STRING_PLAIN)),
        0);
    assert_int_equal(tg_buf_append_str(&t->full, "\n"), 0);
    return 0;
}

static char *read_file(const char *name, const char *ext, size_t *len)
{
    char path[512];
    struct tg_buf b;
    char chunk[4096];
    size_t n;

    snprintf(path, sizeof(path), "%s/watch/%s.%s", TG_FIXTURES_DIR, name, ext);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    tg_buf_init(&b, 1 << 24);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(tg_buf_append(&b, chunk, n), 0);
    fclose(f);
    assert_int_equal(tg_buf_append(&b, "", 0), 0);
    return tg_buf_take(&b, len);
}

/*
 * Feeds data in the chunks that cut[] delimits (ncut offsets, ascending) and ends the stream;
 * fills t and returns the final code.
 */
static int run(const char *data, size_t len, size_t max_line, const size_t *cut, size_t ncut,
               struct transcript *t)
{
    struct tg_watch w;
    size_t start = 0;
    int rc = 0;
    char line[256];

    tg_buf_init(&t->summary, 1 << 24);
    tg_buf_init(&t->full, 1 << 24);
    assert_int_equal(tg_watch_init(&w, max_line, record, t), 0);
    for (size_t i = 0; i <= ncut && !rc; i++) {
        size_t stop = i < ncut ? cut[i] : len;
        rc = tg_watch_feed(&w, data + start, stop - start);
        start = stop;
    }
    if (!rc)
        rc = tg_watch_finish(&w);
    const char *rv = tg_watch_resource_version(&w);
    snprintf(line, sizeof(line), "end %s %s\n", tg_error_name(rc), *rv ? rv : "-");
    assert_int_equal(tg_buf_append_str(&t->summary, line), 0);
    assert_int_equal(tg_buf_append(&t->full, "", 0), 0);
    tg_watch_free(&w);
    return rc;
}

static void transcript_free(struct transcript *t)
{
    tg_buf_free(&t->summary);
    tg_buf_free(&t->full);
}

static void check_fixture(const char *name)
{
    size_t len, elen;
    char *data = read_file(name, "jsonl", &len);
    char *expected = read_file(name, "expected", &elen);
    size_t max_line = 0;
    const char *want = expected;
    struct transcript ref, t;

    if (!strncmp(expected, "cap ", 4)) {
        max_line = strtoul(expected + 4, NULL, 10);
        want = strchr(expected, '\n') + 1;
    }
    size_t no_cut = 0;
    int ref_rc = run(data, len, max_line, &no_cut, 0, &ref);
    if (strcmp(ref.summary.data, want))
        fail_msg("fixture %s fed whole:\n%s\nexpected:\n%s", name, ref.summary.data, want);

    for (size_t k = 0; k <= len; k++) {
        int rc = run(data, len, max_line, &k, 1, &t);
        if (rc != ref_rc || strcmp(t.summary.data, ref.summary.data) ||
            strcmp(t.full.data, ref.full.data))
            fail_msg("fixture %s split at byte %zu:\n%s\nwhole:\n%s", name, k, t.summary.data,
                     ref.summary.data);
        transcript_free(&t);
    }

    size_t *cuts = malloc(len * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    int rc = run(data, len, max_line, cuts, len ? len - 1 : 0, &t);
    assert_int_equal(rc, ref_rc);
    assert_string_equal(t.summary.data, ref.summary.data);
    assert_string_equal(t.full.data, ref.full.data);
    transcript_free(&t);
    free(cuts);

    transcript_free(&ref);
    free(data);
    free(expected);
}

static void fixture_rollouts(void **state)
{
    (void)state;
    check_fixture("rollouts");
}

static void fixture_crlf(void **state)
{
    (void)state;
    check_fixture("crlf");
}

static void fixture_gone(void **state)
{
    (void)state;
    check_fixture("gone");
}

static void fixture_error500(void **state)
{
    (void)state;
    check_fixture("error500");
}

static void fixture_forbidden(void **state)
{
    (void)state;
    check_fixture("forbidden");
}

static void fixture_unicode(void **state)
{
    (void)state;
    check_fixture("unicode");
}

static void fixture_large(void **state)
{
    (void)state;
    check_fixture("large");
}

static void fixture_toobig(void **state)
{
    (void)state;
    check_fixture("toobig");
}

static void fixture_truncated(void **state)
{
    (void)state;
    check_fixture("truncated");
}

/* Keeps the last object it was given, with its own reference. */
struct keeper {
    struct json_object *kept;
    int calls;
    int fail_on; /* the call number that returns TG_ECANCELED; 0: never */
};

static int keep(void *ctx, enum tg_watch_type type, struct json_object *object)
{
    struct keeper *k = ctx;

    (void)type;
    k->calls++;
    if (k->calls == k->fail_on)
        return tg_error_set(TG_ECANCELED, "callback says stop");
    json_object_put(k->kept);
    k->kept = json_object_get(object);
    return 0;
}

static void unicode_is_decoded(void **state)
{
    size_t len;
    char *data = read_file("unicode", "jsonl", &len);
    struct keeper k = {0};
    struct tg_watch w;
    struct json_object *meta, *ann, *v;

    (void)state;
    assert_int_equal(tg_watch_init(&w, 0, keep, &k), 0);
    assert_int_equal(tg_watch_feed(&w, data, len), 0);
    assert_int_equal(tg_watch_finish(&w), 0);
    tg_watch_free(&w);
    /* The kept object outlives the decoder: the callback took its own reference. */
    assert_true(json_object_object_get_ex(k.kept, "metadata", &meta));
    assert_true(json_object_object_get_ex(meta, "annotations", &ann));
    assert_true(json_object_object_get_ex(ann, "emoji", &v));
    assert_string_equal(json_object_get_string(v), "\xf0\x9f\x9a\x80 \xc3\xa9\xe6\x97\xa5");
    json_object_put(k.kept);
    free(data);
}

static void gone_carries_the_server_message(void **state)
{
    const char *s = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                    "\"status\":\"Failure\",\"message\":\"too old resource version: 5 (9)\","
                    "\"reason\":\"Expired\",\"code\":410}}\n";
    struct keeper k = {0};
    struct tg_watch w;

    (void)state;
    assert_int_equal(tg_watch_init(&w, 0, keep, &k), 0);
    assert_int_equal(tg_watch_feed(&w, s, strlen(s)), TG_EGONE);
    assert_non_null(strstr(tg_error_last(), "too old resource version: 5 (9)"));
    assert_int_equal(k.calls, 0);
    /* A Status with only the reason Expired, no code, is a 410 too. */
    tg_watch_restart(&w);
    const char *r =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"reason\":\"Expired\"}}\n";
    assert_int_equal(tg_watch_feed(&w, r, strlen(r)), TG_EGONE);
    tg_watch_free(&w);
}

static void errors_are_sticky_until_restart(void **state)
{
    const char *ok = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
                     "\"resourceVersion\":\"10\"}}}\n";
    const char *ok2 = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\","
                      "\"resourceVersion\":\"11\"}}}\n";
    struct keeper k = {.fail_on = 2};
    struct tg_watch w;

    (void)state;
    assert_int_equal(tg_watch_init(&w, 0, keep, &k), 0);
    assert_int_equal(tg_watch_feed(&w, ok, strlen(ok)), 0);
    assert_string_equal(tg_watch_resource_version(&w), "10");
    /* The callback refuses the second event: its code comes back and sticks. */
    assert_int_equal(tg_watch_feed(&w, ok2, strlen(ok2)), TG_ECANCELED);
    assert_string_equal(tg_watch_resource_version(&w), "10");
    assert_int_equal(tg_watch_feed(&w, ok2, strlen(ok2)), TG_ECANCELED);
    assert_int_equal(tg_watch_finish(&w), TG_ECANCELED);
    assert_int_equal(k.calls, 2);
    /* A new watch request: the decoder works again and resumes from the kept version. */
    tg_watch_restart(&w);
    assert_string_equal(tg_watch_resource_version(&w), "10");
    assert_int_equal(tg_watch_feed(&w, ok2, strlen(ok2)), 0);
    assert_string_equal(tg_watch_resource_version(&w), "11");
    json_object_put(k.kept);
    tg_watch_free(&w);
}

static void bad_lines_are_invalid(void **state)
{
    static const char *bad[] = {
        "not json\n",
        "[1,2]\n",
        "{\"type\":\"ADDED\"}\n",
        "{\"type\":\"RENAMED\",\"object\":{}}\n",
        "{\"object\":{}}\n",
        "{\"type\":\"ADDED\",\"object\":{}} trailing\n",
        "{\"type\":\"ADDED\",\"object\":{\"a\":1}\n",
        "{\"type\":\"ADDED\",\"object\":{\"a\":\"\xff\xfe\"}}\n",
    };
    struct keeper k = {0};
    struct tg_watch w;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tg_watch_init(&w, 0, keep, &k), 0);
        int rc = tg_watch_feed(&w, bad[i], strlen(bad[i]));
        if (rc != TG_EINVALID)
            fail_msg("line %zu (%s) gave %s", i, bad[i], tg_error_name(rc));
        tg_watch_free(&w);
    }
    assert_int_equal(k.calls, 0);
}

/* Feeds s split at every offset with the given cap; every run must end with want. */
static void every_split_gives(const char *s, size_t cap, int want, int want_calls)
{
    size_t len = strlen(s);

    for (size_t k = 0; k <= len; k++) {
        struct keeper kp = {0};
        struct tg_watch w;
        assert_int_equal(tg_watch_init(&w, cap, keep, &kp), 0);
        int rc = tg_watch_feed(&w, s, k);
        if (!rc)
            rc = tg_watch_feed(&w, s + k, len - k);
        if (!rc)
            rc = tg_watch_finish(&w);
        if (rc != want || kp.calls != want_calls)
            fail_msg("cap %zu, split %zu: %s after %d events", cap, k, tg_error_name(rc), kp.calls);
        json_object_put(kp.kept);
        tg_watch_free(&w);
    }
}

static void the_cap_is_exact(void **state)
{
    const char *line = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}";
    char s[256];
    size_t n = strlen(line);

    (void)state;
    /* The cap counts the bytes before the newline, a CR included. */
    snprintf(s, sizeof(s), "%s\n%s\r\n", line, line);
    every_split_gives(s, n + 1, 0, 2);
    every_split_gives(s, n, TG_ETOOBIG, 1);
    every_split_gives(line, n, 0, 1);
    every_split_gives(line, n - 1, TG_ETOOBIG, 0);
}

static void overlong_resource_version_is_refused(void **state)
{
    char rv[300];
    struct tg_watch w;

    (void)state;
    memset(rv, '7', sizeof(rv) - 1);
    rv[sizeof(rv) - 1] = '\0';
    assert_int_equal(tg_watch_init(&w, 0, keep, NULL), 0);
    assert_int_equal(tg_watch_set_resource_version(&w, rv), TG_EINVALID);
    assert_int_equal(tg_watch_set_resource_version(&w, "42"), 0);
    assert_string_equal(tg_watch_resource_version(&w), "42");
    tg_watch_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_rollouts),
        cmocka_unit_test(fixture_crlf),
        cmocka_unit_test(fixture_gone),
        cmocka_unit_test(fixture_error500),
        cmocka_unit_test(fixture_forbidden),
        cmocka_unit_test(fixture_unicode),
        cmocka_unit_test(fixture_large),
        cmocka_unit_test(fixture_toobig),
        cmocka_unit_test(fixture_truncated),
        cmocka_unit_test(unicode_is_decoded),
        cmocka_unit_test(gone_carries_the_server_message),
        cmocka_unit_test(errors_are_sticky_until_restart),
        cmocka_unit_test(bad_lines_are_invalid),
        cmocka_unit_test(the_cap_is_exact),
        cmocka_unit_test(overlong_resource_version_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
