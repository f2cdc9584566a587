/* Unit tests for kube/reconcile: how each reconcile result drives the work queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kube/queue.h"
#include "kube/reconcile.h"
#include "util/clock.h"
#include "util/error.h"

#define KEY "ns/app"

struct fixture {
    struct tg_fake_clock clock;
    struct tg_queue *q;
};

static int setup(void **state)
{
    static struct fixture f;
    struct tg_queue_config cfg;

    tg_fake_clock_init(&f.clock, 1000, 1700000000000);
    tg_queue_config_default(&cfg);
    cfg.qps = 0;
    cfg.max_concurrency = 0;
    if (tg_queue_new(&cfg, &f.clock.base, &f.q) < 0)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tg_queue_free(f->q);
    return 0;
}

/* Takes KEY from the queue as the controller would. */
static void take_key(struct fixture *f)
{
    const char *k;

    tg_queue_add(f->q, KEY);
    assert_true(tg_queue_get(f->q, &k));
    assert_string_equal(k, KEY);
}

/* Applies r to KEY and returns the action. */
static enum tg_reconcile_action apply(struct fixture *f, struct tg_reconcile_result r)
{
    enum tg_reconcile_action a = (enum tg_reconcile_action) - 1;

    assert_int_equal(tg_reconcile_outcome(f->q, KEY, &r, &a), 0);
    assert_false(tg_queue_is_processing(f->q, KEY));
    return a;
}

static void success_forgets(void **state)
{
    struct fixture *f = *state;
    const char *k;
    struct tg_queue_metrics m;

    take_key(f);
    assert_int_equal(apply(f, tg_reconcile_err(TG_ETRANSIENT)), TG_RECONCILE_ERROR);
    assert_int_equal(tg_queue_num_requeues(f->q, KEY), 1);
    f->clock.mono_ms += 5;
    assert_int_equal(tg_queue_tick(f->q), 1);
    assert_true(tg_queue_get(f->q, &k));
    assert_int_equal(apply(f, tg_reconcile_ok()), TG_RECONCILE_SUCCESS);
    assert_int_equal(tg_queue_num_requeues(f->q, KEY), 0);
    assert_int_equal(tg_queue_next_deadline_ms(f->q), TG_QUEUE_NO_DEADLINE);
    assert_int_equal(tg_queue_len(f->q), 0);
    assert_false(tg_queue_get(f->q, &k));
    tg_queue_metrics(f->q, &m);
    assert_int_equal(m.keys, 0);
}

static void error_requeues_with_growing_backoff(void **state)
{
    struct fixture *f = *state;
    const char *k;
    const uint64_t want[] = {5, 10, 20, 40};

    tg_queue_add(f->q, KEY);
    for (size_t i = 0; i < 4; i++) {
        uint64_t t = f->clock.mono_ms;

        assert_true(tg_queue_get(f->q, &k));
        assert_int_equal(apply(f, tg_reconcile_err(TG_ECONFLICT)), TG_RECONCILE_ERROR);
        assert_int_equal(tg_queue_num_requeues(f->q, KEY), i + 1);
        assert_int_equal(tg_queue_len(f->q), 0);
        assert_int_equal(tg_queue_next_deadline_ms(f->q), t + want[i]);
        f->clock.mono_ms = t + want[i];
        assert_int_equal(tg_queue_tick(f->q), 1);
    }
}

static void error_wins_over_requeue_after(void **state)
{
    struct fixture *f = *state;
    struct tg_reconcile_result r = tg_reconcile_err(TG_ETRANSIENT);

    take_key(f);
    r.requeue_after_ms = 60000;
    assert_int_equal(apply(f, r), TG_RECONCILE_ERROR);
    assert_int_equal(tg_queue_next_deadline_ms(f->q), 1005);
}

static void requeue_after_forgets_then_delays(void **state)
{
    struct fixture *f = *state;
    const char *k;

    take_key(f);
    assert_int_equal(apply(f, tg_reconcile_err(TG_ETRANSIENT)), TG_RECONCILE_ERROR);
    f->clock.mono_ms += 5;
    tg_queue_tick(f->q);
    assert_true(tg_queue_get(f->q, &k));
    assert_int_equal(apply(f, tg_reconcile_after(30000)), TG_RECONCILE_REQUEUE_AFTER);
    assert_int_equal(tg_queue_num_requeues(f->q, KEY), 0);
    assert_int_equal(tg_queue_len(f->q), 0);
    assert_int_equal(tg_queue_next_deadline_ms(f->q), f->clock.mono_ms + 30000);
    f->clock.mono_ms += 29999;
    assert_int_equal(tg_queue_tick(f->q), 0);
    f->clock.mono_ms += 1;
    assert_int_equal(tg_queue_tick(f->q), 1);
    assert_true(tg_queue_get(f->q, &k));
}

static void terminal_error_is_not_retried(void **state)
{
    struct fixture *f = *state;
    const char *k;
    struct tg_queue_metrics m;

    take_key(f);
    assert_int_equal(apply(f, tg_reconcile_terminal(TG_EINVALID)), TG_RECONCILE_TERMINAL);
    assert_int_equal(tg_queue_num_requeues(f->q, KEY), 0);
    assert_int_equal(tg_queue_next_deadline_ms(f->q), TG_QUEUE_NO_DEADLINE);
    assert_false(tg_queue_get(f->q, &k));
    tg_queue_metrics(f->q, &m);
    assert_int_equal(m.keys, 0);
}

static void requeue_without_error_is_rate_limited(void **state)
{
    struct fixture *f = *state;
    struct tg_reconcile_result r = {.requeue = true};

    take_key(f);
    assert_int_equal(apply(f, r), TG_RECONCILE_REQUEUE);
    assert_int_equal(tg_queue_num_requeues(f->q, KEY), 1);
    assert_int_equal(tg_queue_next_deadline_ms(f->q), 1005);
}

static void event_during_reconcile_runs_it_again(void **state)
{
    struct fixture *f = *state;
    const char *k;

    take_key(f);
    tg_queue_add(f->q, KEY);
    assert_false(tg_queue_get(f->q, &k));
    assert_int_equal(apply(f, tg_reconcile_ok()), TG_RECONCILE_SUCCESS);
    assert_true(tg_queue_get(f->q, &k));
    assert_string_equal(k, KEY);
}

static void outcome_for_key_not_processing_fails(void **state)
{
    struct fixture *f = *state;
    struct tg_reconcile_result r = tg_reconcile_ok();

    assert_int_equal(tg_reconcile_outcome(f->q, KEY, &r, NULL), TG_ENOTFOUND);
    tg_queue_add(f->q, KEY);
    assert_int_equal(tg_reconcile_outcome(f->q, KEY, &r, NULL), TG_ENOTFOUND);
    assert_int_equal(tg_queue_len(f->q), 1);
}

static void outcome_after_shutdown_does_not_requeue(void **state)
{
    struct fixture *f = *state;
    enum tg_reconcile_action a;
    struct tg_reconcile_result r = tg_reconcile_err(TG_ETRANSIENT);

    take_key(f);
    tg_queue_shutdown(f->q);
    assert_false(tg_queue_drained(f->q));
    assert_int_equal(tg_reconcile_outcome(f->q, KEY, &r, &a), 0);
    assert_int_equal(a, TG_RECONCILE_ERROR);
    assert_true(tg_queue_drained(f->q));
    assert_int_equal(tg_queue_next_deadline_ms(f->q), TG_QUEUE_NO_DEADLINE);
}

static void classify_and_names(void **state)
{
    struct tg_reconcile_result r = {.terminal = true};

    (void)state;
    /* Terminal wins even without a code; requeue_after wins over a plain requeue. */
    assert_int_equal(tg_reconcile_classify(&r), TG_RECONCILE_TERMINAL);
    r = (struct tg_reconcile_result){.requeue = true, .requeue_after_ms = 5};
    assert_int_equal(tg_reconcile_classify(&r), TG_RECONCILE_REQUEUE_AFTER);
    assert_string_equal(tg_reconcile_action_name(TG_RECONCILE_SUCCESS), "success");
    assert_string_equal(tg_reconcile_action_name(TG_RECONCILE_REQUEUE_AFTER), "requeue_after");
    assert_string_equal(tg_reconcile_action_name(TG_RECONCILE_REQUEUE), "requeue");
    assert_string_equal(tg_reconcile_action_name(TG_RECONCILE_ERROR), "error");
    assert_string_equal(tg_reconcile_action_name(TG_RECONCILE_TERMINAL), "terminal");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(success_forgets, setup, teardown),
        cmocka_unit_test_setup_teardown(error_requeues_with_growing_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(error_wins_over_requeue_after, setup, teardown),
        cmocka_unit_test_setup_teardown(requeue_after_forgets_then_delays, setup, teardown),
        cmocka_unit_test_setup_teardown(terminal_error_is_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(requeue_without_error_is_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(event_during_reconcile_runs_it_again, setup, teardown),
        cmocka_unit_test_setup_teardown(outcome_for_key_not_processing_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(outcome_after_shutdown_does_not_requeue, setup, teardown),
        cmocka_unit_test(classify_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
