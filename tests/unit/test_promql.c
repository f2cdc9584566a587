/*
 * Unit tests for analysis/promql: query templates (escaping that no value can escape from) and
 * the Prometheus HTTP API's answers (scalar, vector, matrix, NaN and infinities, empty results,
 * errors). The answers are in the form Prometheus 2.x documents for /api/v1/query and
 * /api/v1/query_range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "analysis/promql.h"
#include "util/error.h"

static const struct tg_promql_var vars[] = {
    {"namespace", "shop"},
    {"track", "canary"},
    {"rollout", "web\"} or vector(1) # "},
    {"odd", "a\\b\nc"},
};

static int render(const char *tmpl, struct tg_buf *out)
{
    tg_buf_init(out, 4096);
    return tg_promql_render(tmpl, vars, sizeof(vars) / sizeof(vars[0]), out);
}

static void templates_fill_and_escape(void **state)
{
    struct tg_buf b;

    (void)state;
    assert_int_equal(render("sum(rate(http_requests_total{namespace=\"{{namespace}}\","
                            "track=\"{{ track }}\",code=~\"5..\"}[1m]))",
                            &b),
                     0);
    assert_string_equal(b.data, "sum(rate(http_requests_total{namespace=\"shop\","
                                "track=\"canary\",code=~\"5..\"}[1m]))");
    tg_buf_free(&b);

    /* A name crafted to close the matcher stays inside the string. */
    assert_int_equal(render("up{rollout=\"{{rollout}}\"}", &b), 0);
    assert_string_equal(b.data, "up{rollout=\"web\\\"} or vector(1) # \"}");
    tg_buf_free(&b);

    assert_int_equal(render("x{a=\"{{odd}}\"}", &b), 0);
    assert_string_equal(b.data, "x{a=\"a\\\\b\\nc\"}");
    tg_buf_free(&b);

    assert_int_equal(render("no variables at all", &b), 0);
    assert_string_equal(b.data, "no variables at all");
    tg_buf_free(&b);
}

static void bad_templates_are_refused(void **state)
{
    struct tg_buf b;

    (void)state;
    assert_int_equal(render("up{a=\"{{nope}}\"}", &b), TG_EINVALID);
    assert_string_equal(tg_error_last(), "query template: unknown variable {{nope}}");
    tg_buf_free(&b);
    assert_int_equal(render("up{a=\"{{track\"}", &b), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "is never closed"));
    tg_buf_free(&b);
    assert_int_equal(render("up{{  }}", &b), TG_EINVALID);
    tg_buf_free(&b);
    tg_buf_init(&b, 8);
    assert_int_equal(tg_promql_render("{{namespace}}-too-long", vars, 4, &b), TG_ETOOBIG);
    tg_buf_free(&b);
}

static int parse(const char *body, struct tg_prom_result *r)
{
    return tg_prom_parse(body, strlen(body), r);
}

static void scalar_answer(void **state)
{
    struct tg_prom_result r;

    (void)state;
    assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
                           "\"result\":[1764151200.5,\"0.0125\"]}}",
                           &r),
                     0);
    assert_int_equal(r.type, TG_PROM_SCALAR);
    assert_int_equal(r.n_series, 1);
    assert_string_equal(r.series[0].labels, "{}");
    assert_true(r.series[0].times[0] == 1764151200.5);
    assert_true(r.series[0].values[0] == 0.0125);
    tg_prom_result_free(&r);
}

static void vector_answer_with_special_values(void **state)
{
    struct tg_prom_result r;

    (void)state;
    assert_int_equal(
        parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"track\":\"canary\",\"code\":\"500\"},\"value\":[1764151200,\"NaN\"]},"
              "{\"metric\":{\"track\":\"stable\"},\"value\":[1764151200,\"+Inf\"]},"
              "{\"metric\":{},\"value\":[1764151200,\"-Inf\"]}]}}",
              &r),
        0);
    assert_int_equal(r.type, TG_PROM_VECTOR);
    assert_int_equal(r.n_series, 3);
    assert_string_equal(r.series[0].labels, "{\"code\":\"500\",\"track\":\"canary\"}");
    assert_true(isnan(r.series[0].values[0]));
    assert_true(isinf(r.series[1].values[0]) && r.series[1].values[0] > 0);
    assert_true(isinf(r.series[2].values[0]) && r.series[2].values[0] < 0);
    tg_prom_result_free(&r);
}

static void empty_vector_is_no_data(void **state)
{
    struct tg_prom_result r;

    (void)state;
    assert_int_equal(
        parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", &r),
        0);
    assert_int_equal(r.type, TG_PROM_VECTOR);
    assert_int_equal(r.n_series, 0);
    tg_prom_result_free(&r);
}

static void matrix_answer(void **state)
{
    struct tg_prom_result r;

    (void)state;
    assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
                           "\"result\":[{\"metric\":{\"track\":\"baseline\"},\"values\":["
                           "[1764151200,\"0.101\"],[1764151215,\"0.099\"],[1764151230,\"0.12\"]"
                           "]}]}}",
                           &r),
                     0);
    assert_int_equal(r.type, TG_PROM_MATRIX);
    assert_int_equal(r.n_series, 1);
    assert_int_equal(r.series[0].n, 3);
    assert_true(r.series[0].times[2] == 1764151230.0);
    assert_true(r.series[0].values[1] == 0.099);
    tg_prom_result_free(&r);
}

static void errors_are_reported(void **state)
{
    struct tg_prom_result r;

    (void)state;
    assert_int_equal(parse("{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
                           "\"1:5: parse error: unexpected end of input\"}",
                           &r),
                     TG_EINVALID);
    assert_string_equal(tg_error_last(),
                        "Prometheus: bad_data: 1:5: parse error: unexpected end of input");
    assert_int_equal(parse("<html>502 Bad Gateway</html>", &r), TG_EINVALID);
    assert_string_equal(tg_error_last(), "Prometheus answer: not JSON");
    assert_int_equal(
        parse("{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[1,\"x\"]}}",
              &r),
        TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "resultType \"string\" is not a number"));
    assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                           "\"result\":[{\"metric\":{},\"value\":[1,\"fast\"]}]}}",
                           &r),
                     TG_EINVALID);
    assert_string_equal(tg_error_last(), "Prometheus answer: bad sample value \"fast\"");
    assert_int_equal(r.n_series, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(templates_fill_and_escape),
        cmocka_unit_test(bad_templates_are_refused),
        cmocka_unit_test(scalar_answer),
        cmocka_unit_test(vector_answer_with_special_values),
        cmocka_unit_test(empty_vector_is_no_data),
        cmocka_unit_test(matrix_answer),
        cmocka_unit_test(errors_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
