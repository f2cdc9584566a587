/* Unit tests for server/metrics: the Prometheus text format, histograms, escaping, RSS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "server/metrics.h"
#include "util/error.h"

static void family_and_samples_follow_the_text_format(void **state)
{
    struct tg_buf b;

    (void)state;
    tg_buf_init(&b, 1 << 16);
    assert_int_equal(tg_metrics_family(&b, "tollgate_api_requests_total", "counter",
                                       "API requests by verb and code."),
                     0);
    assert_int_equal(
        tg_metrics_sample(&b, "tollgate_api_requests_total", "verb=\"get\",code=\"200\"", 42), 0);
    assert_int_equal(tg_metrics_sample(&b, "tollgate_leader", NULL, 1), 0);
    assert_int_equal(tg_metrics_sample(&b, "x_ratio", NULL, 0.25), 0);
    assert_int_equal(tg_metrics_sample(&b, "x_nan", NULL, NAN), 0);
    assert_int_equal(tg_metrics_sample(&b, "x_inf", NULL, -INFINITY), 0);
    assert_string_equal(b.data,
                        "# HELP tollgate_api_requests_total API requests by verb and code.\n"
                        "# TYPE tollgate_api_requests_total counter\n"
                        "tollgate_api_requests_total{verb=\"get\",code=\"200\"} 42\n"
                        "tollgate_leader 1\n"
                        "x_ratio 0.25\n"
                        "x_nan NaN\n"
                        "x_inf -Inf\n");
    tg_buf_free(&b);
}

static void histogram_buckets_are_cumulative(void **state)
{
    static const double bounds[] = {0.01, 0.1, 1};
    struct tg_histogram h;
    struct tg_buf b;

    (void)state;
    tg_histogram_init(&h, bounds, 3);
    tg_histogram_observe(&h, 0.005);
    tg_histogram_observe(&h, 0.01); /* le is inclusive */
    tg_histogram_observe(&h, 0.5);
    tg_histogram_observe(&h, 7);
    tg_buf_init(&b, 1 << 16);
    assert_int_equal(tg_metrics_histogram(&b, "d_seconds", "controller=\"rollout\"", &h), 0);
    assert_string_equal(b.data, "d_seconds_bucket{controller=\"rollout\",le=\"0.01\"} 2\n"
                                "d_seconds_bucket{controller=\"rollout\",le=\"0.1\"} 2\n"
                                "d_seconds_bucket{controller=\"rollout\",le=\"1\"} 3\n"
                                "d_seconds_bucket{controller=\"rollout\",le=\"+Inf\"} 4\n"
                                "d_seconds_sum{controller=\"rollout\"} 7.515\n"
                                "d_seconds_count{controller=\"rollout\"} 4\n");
    tg_buf_free(&b);
}

static void escape_quotes_backslashes_newlines(void **state)
{
    char out[32];

    (void)state;
    assert_int_equal(tg_metrics_escape("a\"b\\c\nd", out, sizeof(out)), 0);
    assert_string_equal(out, "a\\\"b\\\\c\\nd");
    assert_int_equal(tg_metrics_escape("0123456789", out, 8), TG_ETOOBIG);
    assert_int_equal(strlen(out), 7);
}

static void process_metrics_report_rss(void **state)
{
    struct tg_buf b;

    (void)state;
    assert_true(tg_process_rss_bytes() > 1024 * 1024);
    tg_buf_init(&b, 1 << 16);
    assert_int_equal(tg_metrics_process(&b), 0);
    assert_non_null(strstr(b.data, "\nprocess_resident_memory_bytes "));
    assert_non_null(strstr(b.data, "# TYPE process_cpu_seconds_total counter\n"));
    tg_buf_free(&b);
}

static void cap_is_reported(void **state)
{
    struct tg_buf b;

    (void)state;
    tg_buf_init(&b, 16);
    assert_int_equal(tg_metrics_sample(&b, "a_very_long_metric_name", NULL, 1), TG_ETOOBIG);
    tg_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(family_and_samples_follow_the_text_format),
        cmocka_unit_test(histogram_buckets_are_cumulative),
        cmocka_unit_test(escape_quotes_backslashes_newlines),
        cmocka_unit_test(process_metrics_report_rss),
        cmocka_unit_test(cap_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
