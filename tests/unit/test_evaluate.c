/*
 * Unit tests for analysis/evaluate: one answer to one measurement (thresholds, no-data
 * policies, NaN and infinities, answers that are not one number, query errors), and sequences
 * of measurements to a verdict (failureLimit, inconclusiveLimit, consecutiveErrorLimit, count,
 * dry-run), as table tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "analysis/evaluate.h"
#include "util/error.h"

static struct tg_metric_policy error_rate(void)
{
    struct tg_metric_policy p = {0};
    p.has_max = true;
    p.max = 0.01;
    p.no_data = TG_NODATA_INCONCLUSIVE;
    p.consecutive_error_limit = 4;
    return p;
}

/* Parses body as a Prometheus answer and judges it under p. */
static enum tg_measurement measure(const struct tg_metric_policy *p, const char *body,
                                   double *value)
{
    struct tg_prom_result r;
    int rc = tg_prom_parse(body, strlen(body), &r);
    enum tg_measurement m = tg_metric_measure(p, rc, rc ? NULL : &r, value);
    if (!rc)
        tg_prom_result_free(&r);
    return m;
}

#define VEC(v)                                                                                     \
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"      \
    "\"value\":[1,\"" v "\"]}]}}"
#define EMPTY "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}"

static void measurements_follow_thresholds_and_policies(void **state)
{
    struct tg_metric_policy p = error_rate();
    struct tg_metric_policy lat = {0};
    double v = -1;

    (void)state;
    assert_int_equal(measure(&p, VEC("0.004"), &v), TG_MEASURE_PASS);
    assert_true(v == 0.004);
    assert_int_equal(measure(&p, VEC("0.01"), &v), TG_MEASURE_PASS); /* max is inclusive */
    assert_int_equal(measure(&p, VEC("0.2"), &v), TG_MEASURE_FAIL);
    assert_int_equal(measure(&p, VEC("+Inf"), &v), TG_MEASURE_FAIL);
    assert_int_equal(measure(&p, EMPTY, &v), TG_MEASURE_INCONCLUSIVE);
    assert_int_equal(measure(&p, VEC("NaN"), &v), TG_MEASURE_INCONCLUSIVE); /* 0/0: no traffic */
    p.no_data = TG_NODATA_FAIL;
    assert_int_equal(measure(&p, EMPTY, &v), TG_MEASURE_FAIL);
    p.no_data = TG_NODATA_PASS;
    assert_int_equal(measure(&p, EMPTY, &v), TG_MEASURE_PASS);
    p.no_data = TG_NODATA_WAIT;
    assert_int_equal(measure(&p, EMPTY, &v), TG_MEASURE_NO_DATA);

    lat.has_min = true;
    lat.min = 0.95; /* e.g. a success ratio */
    assert_int_equal(measure(&lat, VEC("0.97"), &v), TG_MEASURE_PASS);
    assert_int_equal(measure(&lat, VEC("-Inf"), &v), TG_MEASURE_FAIL);
    assert_int_equal(measure(&lat, VEC("0.9"), &v), TG_MEASURE_FAIL);
}

static void answers_that_are_not_one_number_are_errors(void **state)
{
    struct tg_metric_policy p = error_rate();
    double v;

    (void)state;
    assert_int_equal(measure(&p,
                             "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                             "\"result\":[{\"metric\":{\"a\":\"1\"},\"value\":[1,\"0\"]},"
                             "{\"metric\":{\"a\":\"2\"},\"value\":[1,\"0\"]}]}}",
                             &v),
                     TG_MEASURE_ERROR);
    assert_int_equal(measure(&p,
                             "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
                             "\"result\":[{\"metric\":{},\"values\":[[1,\"0\"]]}]}}",
                             &v),
                     TG_MEASURE_ERROR);
    assert_int_equal(
        measure(&p, "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"x\"}", &v),
        TG_MEASURE_ERROR);
    assert_int_equal(tg_metric_measure(&p, TG_EUNREACHABLE, NULL, &v), TG_MEASURE_ERROR);
}

/* Feeds a sequence ("PFIE.": pass, fail, inconclusive, error, no data) and returns verdicts. */
static void run(const struct tg_metric_policy *p, const char *seq, char *verdicts)
{
    struct tg_metric_tally t = {0};
    static const char letter[] = "RSFIE"; /* Running, Successful, Failed, Inconclusive, Error */

    for (size_t i = 0; seq[i]; i++) {
        enum tg_measurement m = seq[i] == 'P'   ? TG_MEASURE_PASS
                                : seq[i] == 'F' ? TG_MEASURE_FAIL
                                : seq[i] == 'I' ? TG_MEASURE_INCONCLUSIVE
                                : seq[i] == 'E' ? TG_MEASURE_ERROR
                                                : TG_MEASURE_NO_DATA;
        verdicts[i] = letter[tg_metric_observe(p, &t, m)];
    }
    verdicts[strlen(seq)] = '\0';
}

static void verdicts_follow_the_limits(void **state)
{
    static const struct {
        unsigned failure_limit, inconclusive_limit, error_limit, count;
        const char *seq, *want;
    } table[] = {
        {0, 0, 4, 3, "PPP", "RRS"},     /* count reached */
        {0, 0, 4, 0, "PPPP", "RRRR"},   /* no count: runs until stopped */
        {0, 0, 4, 3, "PF", "RF"},       /* the first failure fails with failureLimit 0 */
        {2, 0, 4, 0, "FPFPF", "RRRRF"}, /* the third failure passes failureLimit 2 */
        {0, 1, 4, 0, "IPI", "RRI"},     /* inconclusive over its limit pauses for a human */
        {0, 0, 4, 0, "EEEEE", "RRRRE"}, /* five errors in a row pass consecutiveErrorLimit 4 */
        {0, 0, 4, 0, "EEEEPEEEE", "RRRRRRRRR"}, /* a good measurement resets the run */
        {0, 0, 4, 2, "E.P.P", "RRRRS"},         /* errors and no-data waits do not count */
        {0, 0, 0, 0, "E", "E"},                 /* consecutiveErrorLimit 0: the first error */
    };
    char got[32];

    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct tg_metric_policy p = error_rate();
        p.failure_limit = table[i].failure_limit;
        p.inconclusive_limit = table[i].inconclusive_limit;
        p.consecutive_error_limit = table[i].error_limit;
        p.count = table[i].count;
        run(&p, table[i].seq, got);
        if (strcmp(got, table[i].want) != 0)
            fail_msg("row %zu (%s): verdicts %s, want %s", i, table[i].seq, got, table[i].want);
    }
}

static void dry_run_never_gates(void **state)
{
    struct tg_metric_policy p = error_rate();

    (void)state;
    assert_true(tg_metric_gates(&p, TG_VERDICT_FAILED));
    assert_true(tg_metric_gates(&p, TG_VERDICT_INCONCLUSIVE));
    assert_true(tg_metric_gates(&p, TG_VERDICT_ERROR));
    assert_false(tg_metric_gates(&p, TG_VERDICT_RUNNING));
    assert_false(tg_metric_gates(&p, TG_VERDICT_SUCCESSFUL));
    p.dry_run = true;
    assert_false(tg_metric_gates(&p, TG_VERDICT_FAILED));
    assert_false(tg_metric_gates(&p, TG_VERDICT_ERROR));
    assert_string_equal(tg_verdict_name(TG_VERDICT_INCONCLUSIVE), "Inconclusive");
    assert_string_equal(tg_measurement_name(TG_MEASURE_NO_DATA), "NoData");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(measurements_follow_thresholds_and_policies),
        cmocka_unit_test(answers_that_are_not_one_number_are_errors),
        cmocka_unit_test(verdicts_follow_the_limits),
        cmocka_unit_test(dry_run_never_gates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
