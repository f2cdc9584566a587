/*
 * Unit tests for analysis/mannwhitney against reference values computed independently, in
 * Python with the standard library only (the script's method is stated per case):
 *  - exact cases: brute force over every one of the C(nx+ny, nx) ways to split the pooled values
 *    into the two samples, counting the splits whose U is >= and <= the observed U (no
 *    recurrence, no formula: a different method from the C code's);
 *  - asymptotic cases: U by direct pair counting, the tie term from collections.Counter, and
 *    statistics.NormalDist for the normal tail, with the 0.5 continuity correction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "analysis/mannwhitney.h"
#include "util/error.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct expect {
    double u, greater, less, two_sided;
    bool exact;
};

static void check(const double *x, size_t nx, const double *y, size_t ny, struct expect e)
{
    const enum tg_mw_alternative alts[] = {TG_MW_GREATER, TG_MW_LESS, TG_MW_TWO_SIDED};
    const double want[] = {e.greater, e.less, e.two_sided};

    for (size_t i = 0; i < 3; i++) {
        struct tg_mw_result r;
        assert_int_equal(tg_mw_test(x, nx, y, ny, alts[i], &r), 0);
        assert_true(fabs(r.u - e.u) < 1e-9);
        assert_int_equal(r.exact, e.exact);
        if (fabs(r.p - want[i]) > 1e-9)
            fail_msg("alternative %zu: p = %.17g, want %.17g", i, r.p, want[i]);
    }
}

static void exact_small_samples(void **state)
{
    static const double x[] = {1.1, 2.2, 3.3, 4.4};
    static const double y[] = {0.5, 1.5, 2.5, 3.5, 5.5};

    (void)state;
    check(x, N(x), y, N(y), (struct expect){10, 0.5476190476190477, 0.5476190476190477, 1, true});
}

static void exact_separated_samples(void **state)
{
    static const double x[] = {10, 11, 12, 13, 14, 15};
    static const double y[] = {1, 2, 3, 4, 5, 6, 7};

    (void)state;
    /* Every x beats every y: U = 42 = nx * ny, P = 1 / C(13, 6). */
    check(x, N(x), y, N(y),
          (struct expect){42, 0.0005827505827505828, 1, 0.0011655011655011655, true});
}

static void exact_interleaved_samples(void **state)
{
    static const double x[] = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
    static const double y[] = {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.07, 3.14, 1.28};

    (void)state;
    check(x, N(x), y, N(y),
          (struct expect){58, 0.06795557383792677, 0.9432538050185109, 0.13591114767585355, true});
}

static void ties_use_the_corrected_normal_approximation(void **state)
{
    static const double x[] = {3, 4, 4, 5, 6, 6, 6, 7, 8, 9, 9, 10};
    static const double y[] = {1, 2, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 8};

    (void)state;
    check(
        x, N(x), y, N(y),
        (struct expect){108.5, 0.05030326248733208, 0.955118665673232, 0.10060652497466416, false});
}

static void large_samples_use_the_normal_approximation(void **state)
{
    double x[60], y[55];
    struct tg_mw_result r;

    (void)state;
    for (int i = 0; i < 60; i++)
        x[i] = (double)((i * 37) % 101) + 0.5;
    for (int i = 0; i < 55; i++)
        y[i] = (double)((i * 53) % 97);
    check(x, 60, y, 55,
          (struct expect){1767, 0.257111964794001, 0.7446903543108176, 0.514223929588002, false});
    assert_int_equal(tg_mw_test(x, 60, y, 55, TG_MW_GREATER, &r), 0);
    assert_true(r.median_x == 50.0 && r.median_y == 47.0);
}

static void all_tied_gives_no_evidence(void **state)
{
    static const double x[] = {5, 5, 5};
    static const double y[] = {5, 5};
    struct tg_mw_result r;

    (void)state;
    assert_int_equal(tg_mw_test(x, 3, y, 2, TG_MW_GREATER, &r), 0);
    assert_true(r.p == 1.0 && r.u == 3.0);
}

static void bad_samples_are_refused(void **state)
{
    static const double x[] = {1, NAN, 3};
    static const double y[] = {1, 2};
    static const double inf[] = {INFINITY};
    struct tg_mw_result r;

    (void)state;
    assert_int_equal(tg_mw_test(x, 3, y, 2, TG_MW_GREATER, &r), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "sample x holds a value that is not a finite number"));
    assert_int_equal(tg_mw_test(y, 2, inf, 1, TG_MW_LESS, &r), TG_EINVALID);
    assert_int_equal(tg_mw_test(y, 0, y, 2, TG_MW_LESS, &r), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "sample x is empty"));
}

static void a_slower_canary_is_detected(void **state)
{
    /* Latencies: the canary (x) is about 30 % slower than its baseline (y). */
    double x[40], y[40];
    struct tg_mw_result r;

    (void)state;
    for (int i = 0; i < 40; i++) {
        y[i] = 100 + (double)((i * 17) % 40);
        x[i] = 130 + (double)((i * 23) % 40) + 0.25;
    }
    assert_int_equal(tg_mw_test(x, 40, y, 40, TG_MW_GREATER, &r), 0);
    assert_true(r.exact);
    assert_true(r.p < 1e-6);
    assert_true(r.median_x / r.median_y > 1.2);
    assert_int_equal(tg_mw_test(y, 40, x, 40, TG_MW_GREATER, &r), 0);
    assert_true(r.p > 0.999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_small_samples),
        cmocka_unit_test(exact_separated_samples),
        cmocka_unit_test(exact_interleaved_samples),
        cmocka_unit_test(ties_use_the_corrected_normal_approximation),
        cmocka_unit_test(large_samples_use_the_normal_approximation),
        cmocka_unit_test(all_tied_gives_no_evidence),
        cmocka_unit_test(bad_samples_are_refused),
        cmocka_unit_test(a_slower_canary_is_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
