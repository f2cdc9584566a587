/* Unit tests for kube/queue: de-duplication, processing, delays, rate limits, shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/queue.h"
#include "util/clock.h"
#include "util/error.h"

struct fixture {
    struct tg_fake_clock clock;
    struct tg_queue *q;
};

/* A queue with the defaults but no global bucket, unless a test asks for one. */
static struct tg_queue *new_queue(struct fixture *f, unsigned max_concurrency, double qps)
{
    struct tg_queue_config cfg;

    tg_fake_clock_init(&f->clock, 1000, 1700000000000);
    tg_queue_config_default(&cfg);
    cfg.max_concurrency = max_concurrency;
    cfg.qps = qps;
    assert_int_equal(tg_queue_new(&cfg, &f->clock.base, &f->q), 0);
    return f->q;
}

/* Gets a key and checks it is the one expected. */
static void expect_get(struct tg_queue *q, const char *want)
{
    const char *key = NULL;

    assert_true(tg_queue_get(q, &key));
    assert_non_null(key);
    assert_string_equal(key, want);
}

static void expect_nothing(struct tg_queue *q)
{
    const char *key = "unset";

    assert_false(tg_queue_get(q, &key));
    assert_null(key);
}

static size_t tracked_keys(struct tg_queue *q)
{
    struct tg_queue_metrics m;

    tg_queue_metrics(q, &m);
    return m.keys;
}

static void burst_of_adds_is_one_item(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    for (int i = 0; i < 10; i++)
        assert_int_equal(tg_queue_add(q, "ns/a"), 0);
    assert_int_equal(tg_queue_len(q), 1);
    expect_get(q, "ns/a");
    expect_nothing(q);
    assert_int_equal(tg_queue_done(q, "ns/a"), 0);
    expect_nothing(q);
    assert_int_equal(tg_queue_len(q), 0);
    assert_int_equal(tracked_keys(q), 0);
    tg_queue_free(q);
}

static void ready_keys_come_out_in_order(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    tg_queue_add(q, "ns/c");
    tg_queue_add(q, "ns/a");
    tg_queue_add(q, "ns/b");
    tg_queue_add(q, "ns/c");
    expect_get(q, "ns/c");
    expect_get(q, "ns/a");
    expect_get(q, "ns/b");
    expect_nothing(q);
    tg_queue_free(q);
}

static void key_is_never_handed_out_twice_at_once(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    tg_queue_add(q, "ns/a");
    expect_get(q, "ns/a");
    assert_true(tg_queue_is_processing(q, "ns/a"));
    /* Events arrive while it reconciles: it must wait, and the burst is one more reconcile. */
    tg_queue_add(q, "ns/a");
    tg_queue_add(q, "ns/a");
    tg_queue_add(q, "ns/b");
    assert_int_equal(tg_queue_len(q), 1);
    expect_get(q, "ns/b");
    expect_nothing(q);
    assert_int_equal(tg_queue_done(q, "ns/a"), 0);
    assert_false(tg_queue_is_processing(q, "ns/a"));
    assert_int_equal(tg_queue_len(q), 1);
    expect_get(q, "ns/a");
    expect_nothing(q);
    assert_int_equal(tg_queue_done(q, "ns/a"), 0);
    assert_int_equal(tg_queue_done(q, "ns/b"), 0);
    expect_nothing(q);
    assert_int_equal(tracked_keys(q), 0);
    tg_queue_free(q);
}

static void done_for_key_not_processing_fails(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    assert_int_equal(tg_queue_done(q, "ns/x"), TG_ENOTFOUND);
    tg_queue_add(q, "ns/x");
    assert_int_equal(tg_queue_done(q, "ns/x"), TG_ENOTFOUND);
    expect_get(q, "ns/x");
    assert_int_equal(tg_queue_done(q, "ns/x"), 0);
    assert_int_equal(tg_queue_done(q, "ns/x"), TG_ENOTFOUND);
    assert_int_equal(tg_queue_add(q, ""), TG_EINVALID);
    assert_int_equal(tg_queue_add(q, NULL), TG_EINVALID);
    assert_int_equal(tg_queue_add_after(q, "", 5), TG_EINVALID);
    assert_int_equal(tg_queue_add_rate_limited(q, NULL), TG_EINVALID);
    {
        char long_key[TG_QUEUE_MAX_KEY + 2];

        memset(long_key, 'k', sizeof(long_key) - 1);
        long_key[sizeof(long_key) - 1] = '\0';
        assert_int_equal(tg_queue_add(q, long_key), TG_EINVALID);
        long_key[TG_QUEUE_MAX_KEY] = '\0';
        assert_int_equal(tg_queue_add(q, long_key), 0);
        expect_get(q, long_key);
    }
    tg_queue_free(q);
}

static void key_is_copied(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);
    char buf[16];

    (void)state;
    snprintf(buf, sizeof(buf), "ns/one");
    tg_queue_add(q, buf);
    snprintf(buf, sizeof(buf), "ns/two");
    expect_get(q, "ns/one");
    tg_queue_free(q);
}

static void delayed_keys_leave_in_due_order(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    assert_int_equal(tg_queue_next_deadline_ms(q), TG_QUEUE_NO_DEADLINE);
    tg_queue_add_after(q, "ns/c", 300);
    tg_queue_add_after(q, "ns/a", 100);
    tg_queue_add_after(q, "ns/b", 200);
    tg_queue_add_after(q, "ns/d", 100);
    assert_int_equal(tg_queue_len(q), 0);
    assert_int_equal(tg_queue_next_deadline_ms(q), 1100);
    tg_fake_clock_advance(&f.clock, 99);
    assert_int_equal(tg_queue_tick(q), 0);
    expect_nothing(q);
    tg_fake_clock_advance(&f.clock, 1);
    assert_int_equal(tg_queue_tick(q), 2);
    /* Due at the same time: they leave in the order they were added. */
    expect_get(q, "ns/a");
    expect_get(q, "ns/d");
    expect_nothing(q);
    assert_int_equal(tg_queue_next_deadline_ms(q), 1200);
    tg_fake_clock_advance(&f.clock, 500);
    assert_int_equal(tg_queue_tick(q), 2);
    expect_get(q, "ns/b");
    expect_get(q, "ns/c");
    assert_int_equal(tg_queue_next_deadline_ms(q), TG_QUEUE_NO_DEADLINE);
    tg_queue_free(q);
}

static void earlier_add_after_wins(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    tg_queue_add_after(q, "ns/a", 1000);
    tg_queue_add_after(q, "ns/b", 700);
    tg_queue_add_after(q, "ns/a", 500);
    assert_int_equal(tg_queue_next_deadline_ms(q), 1500);
    tg_queue_add_after(q, "ns/a", 2000);
    assert_int_equal(tg_queue_next_deadline_ms(q), 1500);
    tg_fake_clock_advance(&f.clock, 500);
    assert_int_equal(tg_queue_tick(q), 1);
    expect_get(q, "ns/a");
    /* The later add_after did not leave a second entry behind. */
    assert_int_equal(tg_queue_next_deadline_ms(q), 1700);
    tg_fake_clock_advance(&f.clock, 5000);
    assert_int_equal(tg_queue_tick(q), 1);
    expect_get(q, "ns/b");
    assert_int_equal(tg_queue_next_deadline_ms(q), TG_QUEUE_NO_DEADLINE);
    tg_queue_free(q);
}

static void add_after_zero_is_add_and_due_key_dedups(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    tg_queue_add_after(q, "ns/a", 0);
    assert_int_equal(tg_queue_len(q), 1);
    tg_queue_add_after(q, "ns/a", 10);
    tg_fake_clock_advance(&f.clock, 10);
    assert_int_equal(tg_queue_tick(q), 1);
    /* Already waiting: the due key does not become a second item. */
    assert_int_equal(tg_queue_len(q), 1);
    expect_get(q, "ns/a");
    expect_nothing(q);
    tg_queue_free(q);
}

static void delayed_key_due_while_processing_waits_for_done(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    tg_queue_add(q, "ns/a");
    expect_get(q, "ns/a");
    tg_queue_add_after(q, "ns/a", 50);
    tg_fake_clock_advance(&f.clock, 60);
    assert_int_equal(tg_queue_tick(q), 1);
    expect_nothing(q);
    tg_queue_done(q, "ns/a");
    expect_get(q, "ns/a");
    tg_queue_free(q);
}

static void backoff_grows_per_key_and_forget_resets(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);
    const uint64_t want[] = {5, 10, 20, 40, 80, 160};

    (void)state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t t = tg_clock_now_ms(&f.clock.base);

        assert_int_equal(tg_queue_num_requeues(q, "ns/a"), i);
        assert_int_equal(tg_queue_backoff_ms(q, "ns/a"), want[i]);
        tg_queue_add_rate_limited(q, "ns/a");
        assert_int_equal(tg_queue_next_deadline_ms(q), t + want[i]);
        tg_fake_clock_advance(&f.clock, want[i] - 1);
        assert_int_equal(tg_queue_tick(q), 0);
        tg_fake_clock_advance(&f.clock, 1);
        assert_int_equal(tg_queue_tick(q), 1);
        expect_get(q, "ns/a");
        tg_queue_done(q, "ns/a");
    }
    /* Another key has its own count. */
    assert_int_equal(tg_queue_num_requeues(q, "ns/b"), 0);
    assert_int_equal(tg_queue_backoff_ms(q, "ns/b"), 5);
    /* Failures keep the key tracked until it is forgotten. */
    assert_int_equal(tracked_keys(q), 1);
    tg_queue_forget(q, "ns/a");
    assert_int_equal(tracked_keys(q), 0);
    assert_int_equal(tg_queue_num_requeues(q, "ns/a"), 0);
    tg_queue_add_rate_limited(q, "ns/a");
    assert_int_equal(tg_queue_next_deadline_ms(q), tg_clock_now_ms(&f.clock.base) + 5);
    tg_queue_forget(q, "ns/unknown");
    tg_queue_free(q);
}

static void backoff_caps_at_1000_seconds(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    for (int i = 0; i < 40; i++)
        tg_queue_add_rate_limited(q, "ns/a");
    assert_int_equal(tg_queue_num_requeues(q, "ns/a"), 40);
    assert_int_equal(tg_queue_backoff_ms(q, "ns/a"), 1000000);
    /* Still one delayed entry, due at the earliest of the requests (the first, 5 ms). */
    assert_int_equal(tg_queue_next_deadline_ms(q), 1005);
    tg_fake_clock_advance(&f.clock, 5);
    assert_int_equal(tg_queue_tick(q), 1);
    assert_int_equal(tg_queue_next_deadline_ms(q), TG_QUEUE_NO_DEADLINE);
    tg_queue_free(q);
}

static void token_bucket_spreads_retries_of_many_keys(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 10.0);
    char key[32];

    (void)state;
    /* The burst of 100: each key waits only its own 5 ms backoff. */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "ns/k%d", i);
        tg_queue_add_rate_limited(q, key);
    }
    assert_int_equal(tg_queue_next_deadline_ms(q), 1005);
    /* Burst spent: at 10 qps the next retries are 100 ms apart, whatever their backoff. */
    tg_queue_add_rate_limited(q, "ns/x");
    tg_queue_add_rate_limited(q, "ns/y");
    tg_fake_clock_advance(&f.clock, 5);
    assert_int_equal(tg_queue_tick(q), 100);
    assert_int_equal(tg_queue_next_deadline_ms(q), 1100);
    tg_fake_clock_advance(&f.clock, 95);
    assert_int_equal(tg_queue_tick(q), 1);
    expect_get(q, "ns/k0");
    assert_int_equal(tg_queue_next_deadline_ms(q), 1200);
    tg_queue_free(q);
}

static void per_key_backoff_wins_when_longer_than_bucket(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 10.0);

    (void)state;
    /* 12 failures: 5 ms * 2^11 = 10240 ms for the 12th, well over the bucket's wait. */
    for (int i = 0; i < 11; i++)
        tg_queue_add_rate_limited(q, "ns/a");
    tg_fake_clock_advance(&f.clock, 10);
    tg_queue_tick(q);
    expect_get(q, "ns/a");
    tg_queue_done(q, "ns/a");
    tg_queue_add_rate_limited(q, "ns/a");
    assert_int_equal(tg_queue_next_deadline_ms(q), 1010 + 10240);
    tg_queue_free(q);
}

static void shutdown_stops_handing_out_and_drains(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);

    (void)state;
    tg_queue_add(q, "ns/a");
    tg_queue_add(q, "ns/b");
    tg_queue_add(q, "ns/c");
    tg_queue_add_after(q, "ns/d", 100);
    expect_get(q, "ns/a");
    tg_queue_add(q, "ns/a");
    assert_false(tg_queue_shutting_down(q));
    tg_queue_shutdown(q);
    tg_queue_shutdown(q);
    assert_true(tg_queue_shutting_down(q));
    assert_false(tg_queue_drained(q));
    expect_nothing(q);
    assert_int_equal(tg_queue_len(q), 0);
    assert_int_equal(tg_queue_next_deadline_ms(q), TG_QUEUE_NO_DEADLINE);
    /* Adds are ignored, and say so by doing nothing rather than failing. */
    assert_int_equal(tg_queue_add(q, "ns/e"), 0);
    assert_int_equal(tg_queue_add_after(q, "ns/e", 5), 0);
    assert_int_equal(tg_queue_add_rate_limited(q, "ns/e"), 0);
    assert_int_equal(tg_queue_len(q), 0);
    tg_fake_clock_advance(&f.clock, 1000);
    assert_int_equal(tg_queue_tick(q), 0);
    /* The in-flight key finishes; it was dirty, but it is not requeued. */
    assert_int_equal(tg_queue_done(q, "ns/a"), 0);
    assert_true(tg_queue_drained(q));
    expect_nothing(q);
    assert_int_equal(tracked_keys(q), 0);
    tg_queue_free(q);
}

static void max_concurrency_limits_keys_processing(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 2, 0);

    (void)state;
    tg_queue_add(q, "ns/a");
    tg_queue_add(q, "ns/b");
    tg_queue_add(q, "ns/c");
    expect_get(q, "ns/a");
    expect_get(q, "ns/b");
    expect_nothing(q);
    assert_int_equal(tg_queue_len(q), 1);
    tg_queue_done(q, "ns/b");
    expect_get(q, "ns/c");
    expect_nothing(q);
    tg_queue_done(q, "ns/a");
    tg_queue_done(q, "ns/c");
    tg_queue_free(q);

    /* The default is one at a time. */
    tg_fake_clock_init(&f.clock, 0, 0);
    assert_int_equal(tg_queue_new(NULL, &f.clock.base, &q), 0);
    tg_queue_add(q, "ns/a");
    tg_queue_add(q, "ns/b");
    expect_get(q, "ns/a");
    expect_nothing(q);
    tg_queue_done(q, "ns/a");
    expect_get(q, "ns/b");
    tg_queue_free(q);
}

static void metrics_count_adds_retries_and_latency(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);
    struct tg_queue_metrics m;

    (void)state;
    tg_queue_add(q, "ns/a");
    tg_queue_add(q, "ns/a");
    tg_queue_add_rate_limited(q, "ns/b");
    tg_fake_clock_advance(&f.clock, 7);
    tg_queue_tick(q);
    tg_queue_metrics(q, &m);
    assert_int_equal(m.adds, 2);
    assert_int_equal(m.retries, 1);
    assert_int_equal(m.depth, 2);
    assert_int_equal(m.delayed, 0);
    assert_int_equal(m.processing, 0);
    assert_int_equal(m.longest_running_ms, 0);
    expect_get(q, "ns/a"); /* waited 7 ms: the <= 10 ms bucket */
    tg_fake_clock_advance(&f.clock, 40);
    expect_get(q, "ns/b"); /* became ready at 7 ms, waited 40: the <= 50 ms bucket */
    tg_fake_clock_advance(&f.clock, 60);
    tg_queue_metrics(q, &m);
    assert_int_equal(m.processing, 2);
    assert_int_equal(m.longest_running_ms, 100);
    assert_int_equal(m.latency_count, 2);
    assert_int_equal(m.latency_sum_ms, 47);
    assert_int_equal(m.latency_buckets[2], 1);
    assert_int_equal(m.latency_buckets[4], 1);
    tg_queue_done(q, "ns/a");
    tg_queue_metrics(q, &m);
    assert_int_equal(m.max_processing_ms, 100);
    assert_int_equal(m.longest_running_ms, 60);
    tg_fake_clock_advance(&f.clock, 3600000);
    expect_nothing(q);
    tg_queue_done(q, "ns/b");
    tg_queue_add(q, "ns/c");
    tg_fake_clock_advance(&f.clock, 3600000);
    expect_get(q, "ns/c");
    tg_queue_metrics(q, &m);
    assert_int_equal(m.latency_buckets[TG_QUEUE_LATENCY_BUCKETS - 1], 1);
    assert_int_equal(m.max_processing_ms, 3600060);
    tg_queue_free(q);
}

/* Many random delays: the heap must release keys in non-decreasing due order. */
static void random_delays_leave_in_order(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);
    char key[32];
    uint64_t last = 0;
    size_t seen = 0;
    unsigned seed = 12345;

    (void)state;
    for (int i = 0; i < 5000; i++) {
        seed = seed * 1103515245u + 12345u;
        snprintf(key, sizeof(key), "ns/k%d", i % 3000);
        tg_queue_add_after(q, key, 1 + (seed >> 8) % 100000);
    }
    while (tg_queue_next_deadline_ms(q) != TG_QUEUE_NO_DEADLINE) {
        uint64_t due = tg_queue_next_deadline_ms(q);
        const char *k;

        assert_true(due >= last);
        last = due;
        f.clock.mono_ms = due;
        seen += tg_queue_tick(q);
        while (tg_queue_get(q, &k))
            tg_queue_done(q, k);
    }
    assert_int_equal(seen, 3000);
    assert_int_equal(tracked_keys(q), 0);
    tg_queue_free(q);
}

/* 100k keys through every path; ASan's leak check catches anything left behind. */
static void hundred_thousand_keys(void **state)
{
    struct fixture f;
    struct tg_queue *q = new_queue(&f, 0, 0);
    char key[32];
    const char *k;
    size_t n = 0;
    struct tg_queue_metrics m;
    size_t empty_bytes;

    (void)state;
    tg_queue_metrics(q, &m);
    empty_bytes = m.bytes;
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        tg_queue_add(q, key);
        tg_queue_add(q, key);
        if (i % 3 == 0)
            tg_queue_add_after(q, key, 1 + (uint64_t)(i % 977));
        if (i % 5 == 0)
            tg_queue_add_rate_limited(q, key);
    }
    assert_int_equal(tg_queue_len(q), 100000);
    tg_queue_metrics(q, &m);
    assert_true(m.bytes > 100000 * 20);
    while (tg_queue_get(q, &k)) {
        tg_queue_add(q, k); /* re-added while processing */
        tg_queue_done(q, k);
        n++;
        if (n == 100000)
            break;
    }
    assert_int_equal(tg_queue_len(q), 100000);
    f.clock.mono_ms += 2000;
    tg_queue_tick(q);
    while (tg_queue_get(q, &k)) {
        tg_queue_forget(q, k);
        tg_queue_done(q, k);
    }
    /* Memory follows the keys back down: nothing grows without bound. */
    tg_queue_metrics(q, &m);
    assert_int_equal(m.keys, 0);
    assert_true(m.bytes <= 2 * empty_bytes);
    /* Refill half, then free with keys waiting, delayed and processing. */
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        if (i % 2)
            tg_queue_add(q, key);
        else
            tg_queue_add_after(q, key, 100);
    }
    assert_true(tg_queue_get(q, &k));
    assert_int_equal(tracked_keys(q), 50000);
    tg_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_of_adds_is_one_item),
        cmocka_unit_test(ready_keys_come_out_in_order),
        cmocka_unit_test(key_is_never_handed_out_twice_at_once),
        cmocka_unit_test(done_for_key_not_processing_fails),
        cmocka_unit_test(key_is_copied),
        cmocka_unit_test(delayed_keys_leave_in_due_order),
        cmocka_unit_test(earlier_add_after_wins),
        cmocka_unit_test(add_after_zero_is_add_and_due_key_dedups),
        cmocka_unit_test(delayed_key_due_while_processing_waits_for_done),
        cmocka_unit_test(backoff_grows_per_key_and_forget_resets),
        cmocka_unit_test(backoff_caps_at_1000_seconds),
        cmocka_unit_test(token_bucket_spreads_retries_of_many_keys),
        cmocka_unit_test(per_key_backoff_wins_when_longer_than_bucket),
        cmocka_unit_test(shutdown_stops_handing_out_and_drains),
        cmocka_unit_test(max_concurrency_limits_keys_processing),
        cmocka_unit_test(metrics_count_adds_retries_and_latency),
        cmocka_unit_test(random_delays_leave_in_order),
        cmocka_unit_test(hundred_thousand_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
