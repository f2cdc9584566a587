/* Unit tests for util/ratelimit and util/clock: token bucket, backoff, jitter, fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "util/clock.h"
#include "util/ratelimit.h"

static void bucket_allows_burst_then_spaces_at_rate(void **state)
{
    struct tg_bucket b;

    (void)state;
    tg_bucket_init(&b, 10.0, 3, 1000);
    assert_int_equal(tg_bucket_reserve(&b, 1000), 0);
    assert_int_equal(tg_bucket_reserve(&b, 1000), 0);
    assert_int_equal(tg_bucket_reserve(&b, 1000), 0);
    /* Burst spent: at 10/s each further token is 100 ms after the last. */
    assert_int_equal(tg_bucket_reserve(&b, 1000), 100);
    assert_int_equal(tg_bucket_reserve(&b, 1000), 200);
    /* 250 ms later: 2.5 tokens came back, 2 were owed, so the next waits 50 ms. */
    assert_int_equal(tg_bucket_reserve(&b, 1250), 50);
}

static void bucket_refill_is_capped_at_burst(void **state)
{
    struct tg_bucket b;

    (void)state;
    tg_bucket_init(&b, 5.0, 2, 0);
    assert_int_equal(tg_bucket_reserve(&b, 0), 0);
    assert_int_equal(tg_bucket_reserve(&b, 0), 0);
    /* An hour idle refills to 2, not 18000. */
    assert_int_equal(tg_bucket_reserve(&b, 3600000), 0);
    assert_int_equal(tg_bucket_reserve(&b, 3600000), 0);
    assert_int_equal(tg_bucket_reserve(&b, 3600000), 200);
}

static void bucket_with_no_rate_is_unlimited(void **state)
{
    struct tg_bucket b;

    (void)state;
    tg_bucket_init(&b, 0, 1, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(tg_bucket_reserve(&b, 0), 0);
}

static void backoff_doubles_and_caps(void **state)
{
    (void)state;
    assert_int_equal(tg_backoff_delay_ms(5, 1000000, 0), 5);
    assert_int_equal(tg_backoff_delay_ms(5, 1000000, 1), 10);
    assert_int_equal(tg_backoff_delay_ms(5, 1000000, 10), 5120);
    assert_int_equal(tg_backoff_delay_ms(5, 1000000, 40), 1000000);
    assert_int_equal(tg_backoff_delay_ms(5, 1000000, 4000000000u), 1000000);
    assert_int_equal(tg_backoff_delay_ms(2000, 1000, 0), 1000);
}

static void jitter_stretches_by_fraction(void **state)
{
    (void)state;
    assert_int_equal(tg_backoff_jitter_ms(1000, 0.5, 0.0), 1000);
    assert_int_equal(tg_backoff_jitter_ms(1000, 0.5, 0.5), 1250);
    assert_int_equal(tg_backoff_jitter_ms(1000, 0.0, 0.9), 1000);
}

static void fake_clock_moves_only_when_advanced(void **state)
{
    struct tg_fake_clock c;

    (void)state;
    tg_fake_clock_init(&c, 100, 1764115200000);
    assert_int_equal(tg_clock_now_ms(&c.base), 100);
    tg_fake_clock_advance(&c, 50);
    assert_int_equal(tg_clock_now_ms(&c.base), 150);
    assert_true(tg_clock_wall_ms(&c.base) == 1764115200050);
    uint64_t a = tg_clock_now_ms(tg_clock_system());
    uint64_t b = tg_clock_now_ms(tg_clock_system());
    assert_true(b >= a);
    assert_true(tg_clock_wall_ms(tg_clock_system()) > 1700000000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bucket_allows_burst_then_spaces_at_rate),
        cmocka_unit_test(bucket_refill_is_capped_at_burst),
        cmocka_unit_test(bucket_with_no_rate_is_unlimited),
        cmocka_unit_test(backoff_doubles_and_caps),
        cmocka_unit_test(jitter_stretches_by_fraction),
        cmocka_unit_test(fake_clock_moves_only_when_advanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
