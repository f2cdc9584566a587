/*
 * kubectl-tollgate's intent (operator/cli/intent.c): the token, the annotation-only merge patch,
 * and each refusal a user can meet before anything is written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli/intent.h"
#include "util/error.h"

static json_object *parse(const char *s)
{
    json_object *o = json_tokener_parse(s);
    if (!o)
        fail_msg("bad test JSON: %s", s);
    return o;
}

/* A canary Rollout "web" with two steps (setWeight, pause) and the given status. */
static json_object *canary(const char *status)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},"
             "\"spec\":{\"strategy\":{\"canary\":{\"steps\":[{\"setWeight\":20},{\"pause\":{}}]}}},"
             "\"status\":%s}",
             status);
    return parse(buf);
}

static void assert_refused(int rc, int code, const char *message)
{
    assert_int_equal(rc, code);
    if (!strstr(tg_error_last(), message))
        fail_msg("want \"%s\" in \"%s\"", message, tg_error_last());
}

static void test_token(void **state)
{
    (void)state;
    char a[TG_CLI_TOKEN_MAX], b[TG_CLI_TOKEN_MAX];
    assert_int_equal(tg_cli_token(1795694400123LL, 0x0123456789abcdefULL, a, sizeof(a)), 0);
    assert_string_equal(a, "2026-11-26T12:00:00Z-0123456789abcdef");
    /* The same second, other random bits: another token. */
    assert_int_equal(tg_cli_token(1795694400999LL, 1, b, sizeof(b)), 0);
    assert_string_equal(b, "2026-11-26T12:00:00Z-0000000000000001");
    assert_string_not_equal(a, b);
    assert_int_equal(tg_cli_token(0, 1, b, 10), TG_EINVALID);
}

static void test_annotation_patch(void **state)
{
    (void)state;
    const char *kv[] = {"tollgate.io/rollback", "tok", "tollgate.io/rollback-to", NULL};
    json_object *patch = NULL;
    assert_int_equal(tg_cli_annotation_patch(kv, 2, &patch), 0);
    assert_string_equal(json_object_to_json_string_ext(patch, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE),
                        "{\"metadata\":{\"annotations\":{\"tollgate.io/rollback\":\"tok\","
                        "\"tollgate.io/rollback-to\":null}}}");
    json_object_put(patch);
}

static void test_promote(void **state)
{
    (void)state;
    json_object *healthy = canary("{\"phase\":\"Healthy\",\"stableRelease\":\"web-1\"}");
    assert_refused(tg_cli_check_promote(healthy, false), TG_EINVALID,
                   "nothing to promote: no Release in flight");
    assert_refused(tg_cli_check_promote(healthy, true), TG_EINVALID, "nothing to promote");
    json_object_put(healthy);

    json_object *at_weight = canary("{\"phase\":\"Progressing\",\"currentRelease\":\"web-2\","
                                    "\"currentStep\":0}");
    assert_refused(tg_cli_check_promote(at_weight, false), TG_EINVALID,
                   "release web-2 is not paused (use --full");
    assert_int_equal(tg_cli_check_promote(at_weight, true), 0);
    json_object_put(at_weight);

    json_object *at_pause = canary("{\"phase\":\"Progressing\",\"currentRelease\":\"web-2\","
                                   "\"currentStep\":1}");
    assert_int_equal(tg_cli_check_promote(at_pause, false), 0);
    json_object_put(at_pause);

    json_object *paused = canary("{\"phase\":\"Paused\",\"currentRelease\":\"web-2\"}");
    assert_int_equal(tg_cli_check_promote(paused, false), 0);
    json_object_put(paused);

    json_object *bg = parse("{\"spec\":{\"strategy\":{\"blueGreen\":{\"previewService\":\"p\"}}},"
                            "\"status\":{\"phase\":\"Progressing\",\"currentRelease\":\"c-2\"}}");
    assert_int_equal(tg_cli_check_promote(bg, false), 0);
    json_object_put(bg);
}

static void test_abort(void **state)
{
    (void)state;
    json_object *idle = canary("{\"phase\":\"Healthy\"}");
    assert_refused(tg_cli_check_abort(idle, NULL), TG_EINVALID,
                   "nothing to abort: no Release in flight");
    json_object_put(idle);

    json_object *ro = canary("{\"phase\":\"Paused\",\"currentRelease\":\"web-2\"}");
    assert_refused(tg_cli_check_abort(ro, NULL), TG_ENOTFOUND,
                   "release web-2 (in flight) not found");
    json_object *done = parse("{\"status\":{\"phase\":\"Superseded\"}}");
    assert_refused(tg_cli_check_abort(ro, done), TG_EINVALID, "web-2 is already Superseded");
    json_object *live = parse("{\"status\":{\"phase\":\"Paused\"}}");
    assert_int_equal(tg_cli_check_abort(ro, live), 0);
    json_object *fresh = parse("{\"spec\":{}}"); /* no status yet: still abortable */
    assert_int_equal(tg_cli_check_abort(ro, fresh), 0);
    json_object_put(fresh);
    json_object_put(live);
    json_object_put(done);
    json_object_put(ro);
}

static void test_latest_and_retry(void **state)
{
    (void)state;
    json_object *list =
        parse("[{\"metadata\":{\"name\":\"web-3\",\"creationTimestamp\":\"2026-11-26T10:00:00Z\"},"
              "\"spec\":{\"rollout\":\"web\"},\"status\":{\"phase\":\"RolledBack\"}},"
              "{\"metadata\":{\"name\":\"web-9\",\"creationTimestamp\":\"2026-11-26T09:00:00Z\"},"
              "\"spec\":{\"rollout\":\"web\"},\"status\":{\"phase\":\"Succeeded\"}},"
              "{\"metadata\":{\"name\":\"api-7\",\"creationTimestamp\":\"2026-11-26T11:00:00Z\"},"
              "\"spec\":{\"rollout\":\"api\"},\"status\":{\"phase\":\"Succeeded\"}},"
              "{\"metadata\":{\"name\":\"web-2\",\"creationTimestamp\":\"2026-11-26T10:00:00Z\"},"
              "\"spec\":{\"rollout\":\"web\"},\"status\":{\"phase\":\"Succeeded\"}}]");
    /* Created last wins (not the highest name, not another Rollout's); ties go by name. */
    json_object *latest = tg_cli_latest_release(list, "web");
    assert_non_null(latest);
    json_object *name = json_object_object_get(json_object_object_get(latest, "metadata"), "name");
    assert_string_equal(json_object_get_string(name), "web-3");
    assert_int_equal(tg_cli_check_retry(NULL, latest), 0);
    assert_null(tg_cli_latest_release(list, "none"));
    assert_refused(tg_cli_check_retry(NULL, NULL), TG_EINVALID, "the rollout has no Release");
    json_object *api = tg_cli_latest_release(list, "api");
    assert_refused(tg_cli_check_retry(NULL, api), TG_EINVALID,
                   "nothing to retry: the latest release api-7 is Succeeded, not RolledBack or "
                   "Failed");
    json_object *failed =
        parse("{\"metadata\":{\"name\":\"x\"},\"status\":{\"phase\":\"Failed\"}}");
    assert_int_equal(tg_cli_check_retry(NULL, failed), 0);
    json_object_put(failed);
    json_object_put(list);
}

static void test_rollback(void **state)
{
    (void)state;
    json_object *ro = canary("{\"phase\":\"Healthy\",\"stableRelease\":\"web-2\",\"history\":["
                             "{\"release\":\"web-2\",\"result\":\"Succeeded\"},"
                             "{\"release\":\"web-1b\",\"result\":\"RolledBack\"},"
                             "{\"release\":\"web-1\",\"result\":\"Succeeded\"}]}");
    assert_int_equal(tg_cli_check_rollback(ro, NULL, NULL, NULL), 0);

    json_object *web1 =
        parse("{\"metadata\":{\"name\":\"web-1\"},\"spec\":{\"rollout\":\"web\"},"
              "\"status\":{\"phase\":\"Superseded\"}}"); /* phase moved on; history says ok */
    assert_int_equal(tg_cli_check_rollback(ro, "web-1", web1, NULL), 0);
    json_object *web1b = parse("{\"metadata\":{\"name\":\"web-1b\"},\"spec\":{\"rollout\":\"web\"},"
                               "\"status\":{\"phase\":\"RolledBack\"}}");
    assert_refused(tg_cli_check_rollback(ro, "web-1b", web1b, NULL), TG_EINVALID,
                   "cannot roll back to release web-1b: it is RolledBack, not Succeeded");
    json_object *other = parse("{\"metadata\":{\"name\":\"api-1\"},\"spec\":{\"rollout\":\"api\"},"
                               "\"status\":{\"phase\":\"Succeeded\"}}");
    assert_refused(tg_cli_check_rollback(ro, "api-1", other, NULL), TG_EINVALID,
                   "release api-1 belongs to rollout api, not web");
    assert_refused(tg_cli_check_rollback(ro, "gone", NULL, NULL), TG_ENOTFOUND,
                   "release gone not found");
    json_object *web2 = parse("{\"metadata\":{\"name\":\"web-2\"},\"spec\":{\"rollout\":\"web\"},"
                              "\"status\":{\"phase\":\"Succeeded\"}}");
    assert_refused(tg_cli_check_rollback(ro, "web-2", web2, NULL), TG_EINVALID,
                   "release web-2 is already the stable release");
    json_object_put(web2);
    json_object_put(other);
    json_object_put(web1b);
    json_object_put(web1);
    json_object_put(ro);

    /* Only the stable Release succeeded: nothing to go back to, unless a Release says so. */
    json_object *first = canary("{\"phase\":\"Healthy\",\"stableRelease\":\"web-1\",\"history\":["
                                "{\"release\":\"web-1\",\"result\":\"Succeeded\"}]}");
    assert_refused(tg_cli_check_rollback(first, NULL, NULL, NULL), TG_EINVALID,
                   "nothing to roll back to");
    json_object *rels = parse("[{\"metadata\":{\"name\":\"web-0\"},\"spec\":{\"rollout\":\"web\"},"
                              "\"status\":{\"phase\":\"Succeeded\"}}]");
    assert_int_equal(tg_cli_check_rollback(first, NULL, NULL, rels), 0);
    json_object_put(rels);
    json_object_put(first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_annotation_patch),
        cmocka_unit_test(test_promote),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_latest_and_retry),
        cmocka_unit_test(test_rollback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
