/* Unit tests for kube/leader: every transition of the Lease state machine, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "kube/leader.h"
#include "util/clock.h"
#include "util/error.h"

#define US    "tollgate-a"
#define OTHER "tollgate-b"
/* 2023-11-14T22:13:20.123Z on the wall clock when the tests start. */
#define WALL0  1700000000123
#define STAMP0 "2023-11-14T22:13:20.123000Z"

struct fixture {
    struct tg_fake_clock clock;
    struct tg_leader *le;
};

static int setup(void **state)
{
    static struct fixture f;
    struct tg_leader_config cfg;

    tg_fake_clock_init(&f.clock, 500000, WALL0);
    tg_leader_config_default(&cfg);
    cfg.identity = US;
    cfg.namespace = "tollgate-system";
    cfg.name = "tollgate-leader";
    if (tg_leader_new(&cfg, &f.clock.base, &f.le) < 0)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tg_leader_free(f->le);
    return 0;
}

/* A Lease as the server would return it; spec_fields is the inside of "spec". */
static json_object *lease(const char *spec_fields)
{
    char text[1024];
    json_object *obj;

    snprintf(text, sizeof(text),
             "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
             "\"metadata\":{\"name\":\"tollgate-leader\",\"namespace\":\"tollgate-system\","
             "\"resourceVersion\":\"42\",\"uid\":\"u-1\"},\"spec\":{%s}}",
             spec_fields);
    obj = json_tokener_parse(text);
    assert_non_null(obj);
    return obj;
}

static json_object *held_by(const char *holder, int duration_s, int transitions,
                            const char *renew_time)
{
    char spec[512];

    snprintf(spec, sizeof(spec),
             "\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":%d,"
             "\"acquireTime\":\"2023-11-14T20:00:00.000000Z\",\"renewTime\":\"%s\","
             "\"leaseTransitions\":%d",
             holder, duration_s, renew_time, transitions);
    return lease(spec);
}

static const char *spec_string(json_object *l, const char *field)
{
    json_object *spec;
    json_object *v;

    assert_true(json_object_object_get_ex(l, "spec", &spec));
    assert_true(json_object_object_get_ex(spec, field, &v));
    return json_object_get_string(v);
}

static int64_t spec_int(json_object *l, const char *field)
{
    json_object *spec;
    json_object *v;

    assert_true(json_object_object_get_ex(l, "spec", &spec));
    assert_true(json_object_object_get_ex(spec, field, &v));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static const char *meta_string(json_object *l, const char *field)
{
    json_object *meta;
    json_object *v;

    assert_true(json_object_object_get_ex(l, "metadata", &meta));
    if (!json_object_object_get_ex(meta, field, &v))
        return NULL;
    return json_object_get_string(v);
}

/* Steps and checks the action; returns the plan's lease (the caller puts it). */
static json_object *step(struct fixture *f, json_object *observed, enum tg_leader_action want)
{
    struct tg_leader_plan plan;

    assert_int_equal(tg_leader_step(f->le, observed, &plan), 0);
    assert_int_equal(plan.action, want);
    if (want == TG_LEADER_CREATE || want == TG_LEADER_UPDATE)
        assert_non_null(plan.lease);
    else
        assert_null(plan.lease);
    return plan.lease;
}

/* Becomes leader: no Lease, create it, the server accepts. Returns the written Lease. */
static json_object *become_leader(struct fixture *f)
{
    json_object *l = step(f, NULL, TG_LEADER_CREATE);

    tg_leader_written(f->le, 0, l);
    assert_true(tg_leader_is_leading(f->le));
    return l;
}

/* ---- the first decision, as a table ---- */

struct step_case {
    const char *name;
    const char *spec;     /* the observed Lease's spec fields; NULL: no Lease */
    uint64_t seen_for_ms; /* how long that record has been observed unchanged */
    enum tg_leader_action want;
    int64_t want_transitions; /* of the planned lease */
    const char *want_acquire; /* of the planned lease */
};

#define OTHER_SPEC(d)                                                                              \
    "\"holderIdentity\":\"" OTHER "\",\"leaseDurationSeconds\":" #d                                \
    ",\"acquireTime\":\"2023-11-14T20:00:00.000000Z\","                                            \
    "\"renewTime\":\"2023-11-14T22:13:19.000000Z\",\"leaseTransitions\":3"

static const struct step_case step_cases[] = {
    {"no lease: create it", NULL, 0, TG_LEADER_CREATE, 0, STAMP0},
    {"held by another, just seen", OTHER_SPEC(15), 0, TG_LEADER_WAIT, 0, NULL},
    {"held by another, 1 ms short of expiry", OTHER_SPEC(15), 14999, TG_LEADER_WAIT, 0, NULL},
    {"held by another, expired: take over", OTHER_SPEC(15), 15000, TG_LEADER_UPDATE, 4, STAMP0},
    {"short lease of another, expired", OTHER_SPEC(1), 1000, TG_LEADER_UPDATE, 4, STAMP0},
    {"short lease of another, not yet", OTHER_SPEC(1), 999, TG_LEADER_WAIT, 0, NULL},
    {"another's lease without a duration: ours applies",
     "\"holderIdentity\":\"" OTHER "\",\"leaseTransitions\":3", 14999, TG_LEADER_WAIT, 0, NULL},
    {"another's lease without a duration, expired",
     "\"holderIdentity\":\"" OTHER "\",\"leaseTransitions\":3", 15000, TG_LEADER_UPDATE, 4, STAMP0},
    {"released lease: take it at once",
     "\"holderIdentity\":\"\",\"leaseDurationSeconds\":1,\"leaseTransitions\":7", 0,
     TG_LEADER_UPDATE, 8, STAMP0},
    {"empty spec: take it at once", "", 0, TG_LEADER_UPDATE, 1, STAMP0},
    {"holder of the wrong type reads as none", "\"holderIdentity\":5", 0, TG_LEADER_UPDATE, 1,
     STAMP0},
    {"our own lease (restart): renew, keep acquireTime and transitions",
     "\"holderIdentity\":\"" US "\",\"leaseDurationSeconds\":15,"
     "\"acquireTime\":\"2023-11-14T20:00:00.000000Z\",\"leaseTransitions\":3",
     0, TG_LEADER_UPDATE, 3, "2023-11-14T20:00:00.000000Z"},
    /* Timestamps from another machine are never believed: a renewTime far in the future does
     * not keep a stale lease alive, and one far in the past does not expire a live one. */
    {"another's renewTime in the future, unchanged 15 s",
     "\"holderIdentity\":\"" OTHER "\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2099-01-01T00:00:00.000000Z\",\"leaseTransitions\":3",
     15000, TG_LEADER_UPDATE, 4, STAMP0},
    {"another's renewTime years ago, just changed",
     "\"holderIdentity\":\"" OTHER "\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2001-01-01T00:00:00.000000Z\",\"leaseTransitions\":3",
     0, TG_LEADER_WAIT, 0, NULL},
};

static void first_decision_table(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(step_cases) / sizeof(step_cases[0]); i++) {
        const struct step_case *c = &step_cases[i];
        json_object *observed = c->spec ? lease(c->spec) : NULL;
        json_object *planned;
        struct tg_leader_plan plan;

        print_message("case: %s\n", c->name);
        teardown(state);
        assert_int_equal(setup(state), 0);
        f = *state;
        /* First sight of the record, then the same record seen_for_ms later. */
        f->clock.wall_ms = WALL0 - (int64_t)c->seen_for_ms;
        assert_int_equal(tg_leader_step(f->le, observed, &plan), 0);
        json_object_put(plan.lease);
        tg_leader_written(f->le, TG_ECONFLICT, NULL);
        tg_fake_clock_advance(&f->clock, c->seen_for_ms);
        assert_int_equal(f->clock.wall_ms, WALL0);
        planned = step(f, observed, c->want);
        assert_false(tg_leader_is_leading(f->le));
        if (planned) {
            assert_string_equal(spec_string(planned, "holderIdentity"), US);
            assert_int_equal(spec_int(planned, "leaseDurationSeconds"), 15);
            assert_int_equal(spec_int(planned, "leaseTransitions"), c->want_transitions);
            assert_string_equal(spec_string(planned, "acquireTime"), c->want_acquire);
            assert_string_equal(spec_string(planned, "renewTime"), STAMP0);
            assert_string_equal(json_object_get_string(json_object_object_get(planned, "kind")),
                                "Lease");
            assert_string_equal(meta_string(planned, "name"), "tollgate-leader");
            assert_string_equal(meta_string(planned, "namespace"), "tollgate-system");
            /* An update carries the observed resourceVersion: a race loses with a 409. */
            if (c->want == TG_LEADER_UPDATE)
                assert_string_equal(meta_string(planned, "resourceVersion"), "42");
            else
                assert_null(meta_string(planned, "resourceVersion"));
        }
        json_object_put(planned);
        json_object_put(observed);
    }
}

/* ---- scenarios ---- */

static void leader_renews_every_retry_period(void **state)
{
    struct fixture *f = *state;
    json_object *current = become_leader(f);
    struct tg_leader_plan plan;

    assert_int_equal(tg_leader_deadline_ms(f->le), 510000);
    for (int i = 1; i <= 5; i++) {
        json_object *next;

        tg_fake_clock_advance(&f->clock, 2000);
        assert_int_equal(tg_leader_step(f->le, current, &plan), 0);
        assert_int_equal(plan.action, TG_LEADER_UPDATE);
        /* Next step a retry period on; the deadline is further still. */
        assert_int_equal(plan.next_ms, 500000 + (uint64_t)i * 2000 + 2000);
        next = plan.lease;
        assert_string_equal(spec_string(next, "acquireTime"), STAMP0);
        assert_int_equal(spec_int(next, "leaseTransitions"), 0);
        assert_string_not_equal(spec_string(next, "renewTime"), STAMP0);
        tg_leader_written(f->le, 0, next);
        assert_true(tg_leader_is_leading(f->le));
        assert_int_equal(tg_leader_deadline_ms(f->le), 500000 + (uint64_t)i * 2000 + 10000);
        json_object_put(current);
        current = next;
    }
    json_object_put(current);
}

static void failed_renewals_stop_leading_at_the_deadline(void **state)
{
    struct fixture *f = *state;
    json_object *current = become_leader(f);
    struct tg_leader_plan plan;

    /* The API server is unreachable: every renewal fails. */
    for (int i = 0; i < 4; i++) {
        tg_fake_clock_advance(&f->clock, 2000);
        json_object_put(step(f, current, TG_LEADER_UPDATE));
        tg_leader_written(f->le, TG_EUNREACHABLE, NULL);
        assert_true(tg_leader_is_leading(f->le));
    }
    tg_fake_clock_advance(&f->clock, 1999);
    assert_true(tg_leader_is_leading(f->le));
    /* The step before the deadline is due at the deadline, not a retry period on. */
    assert_int_equal(tg_leader_step(f->le, current, &plan), 0);
    assert_int_equal(plan.next_ms, 510000);
    json_object_put(plan.lease);
    tg_fake_clock_advance(&f->clock, 1);
    /* Leadership lapses at the deadline itself, without waiting for a step... */
    assert_false(tg_leader_is_leading(f->le));
    /* ...even if the write in flight succeeds late. */
    tg_leader_written(f->le, 0, NULL);
    assert_false(tg_leader_is_leading(f->le));
    assert_int_equal(tg_leader_step(f->le, current, &plan), 0);
    assert_int_equal(plan.action, TG_LEADER_STOP);
    assert_null(plan.lease);
    /* Stopping is final. */
    tg_fake_clock_advance(&f->clock, 60000);
    step(f, NULL, TG_LEADER_WAIT);
    assert_int_equal(tg_leader_deadline_ms(f->le), TG_LEADER_NEVER);
    json_object_put(current);
}

static void leader_seeing_another_holder_stops_at_once(void **state)
{
    struct fixture *f = *state;
    json_object *mine = become_leader(f);
    json_object *theirs = held_by(OTHER, 15, 1, "2023-11-14T22:13:21.000000Z");

    tg_fake_clock_advance(&f->clock, 2000);
    step(f, theirs, TG_LEADER_STOP);
    assert_false(tg_leader_is_leading(f->le));
    assert_string_equal(tg_leader_observed_holder(f->le), OTHER);
    json_object_put(mine);
    json_object_put(theirs);
}

static void deleted_lease_is_created_again(void **state)
{
    struct fixture *f = *state;
    json_object *mine = become_leader(f);
    json_object *again;

    tg_fake_clock_advance(&f->clock, 2000);
    again = step(f, NULL, TG_LEADER_CREATE);
    tg_leader_written(f->le, 0, again);
    assert_int_equal(tg_leader_deadline_ms(f->le), 512000);
    json_object_put(mine);
    json_object_put(again);
}

static void lost_create_race_is_not_leadership(void **state)
{
    struct fixture *f = *state;
    json_object *planned = step(f, NULL, TG_LEADER_CREATE);
    json_object *theirs = held_by(OTHER, 15, 0, STAMP0);

    tg_leader_written(f->le, TG_ECONFLICT, NULL);
    assert_false(tg_leader_is_leading(f->le));
    assert_int_equal(tg_leader_deadline_ms(f->le), TG_LEADER_NEVER);
    tg_fake_clock_advance(&f->clock, 2000);
    step(f, theirs, TG_LEADER_WAIT);
    json_object_put(planned);
    json_object_put(theirs);
}

static void write_answered_with_another_holder_is_not_leadership(void **state)
{
    struct fixture *f = *state;
    json_object *planned = step(f, NULL, TG_LEADER_CREATE);
    json_object *theirs = held_by(OTHER, 15, 0, STAMP0);

    tg_leader_written(f->le, 0, theirs);
    assert_false(tg_leader_is_leading(f->le));
    json_object_put(planned);
    json_object_put(theirs);
}

/* The other holder keeps renewing (its record changes every 2 s): we never take over, however
 * old its timestamps look; once it stops, we take over one lease duration later. */
static void live_holder_is_never_overthrown(void **state)
{
    struct fixture *f = *state;
    json_object *l;
    json_object *planned;
    char renew[64];

    for (int i = 0; i < 30; i++) {
        snprintf(renew, sizeof(renew), "1999-01-01T00:00:%02d.000000Z", i);
        l = held_by(OTHER, 15, 2, renew);
        step(f, l, TG_LEADER_WAIT);
        json_object_put(l);
        tg_fake_clock_advance(&f->clock, 2000);
    }
    l = held_by(OTHER, 15, 2, renew);
    for (int i = 0; i < 7; i++) {
        step(f, l, TG_LEADER_WAIT);
        tg_fake_clock_advance(&f->clock, 2000);
    }
    /* Last change seen at 29 * 2 s; 15 s later it has expired. */
    f->clock.mono_ms = 500000 + 29 * 2000 + 15000;
    planned = step(f, l, TG_LEADER_UPDATE);
    assert_int_equal(spec_int(planned, "leaseTransitions"), 3);
    tg_leader_written(f->le, 0, planned);
    assert_true(tg_leader_is_leading(f->le));
    json_object_put(l);
    json_object_put(planned);
}

static void release_clears_the_holder(void **state)
{
    struct fixture *f = *state;
    json_object *mine = become_leader(f);
    json_object *current;
    struct tg_leader_plan plan;

    /* The server's reply carries a resourceVersion and the transitions count. */
    current = held_by(US, 15, 5, STAMP0);
    tg_fake_clock_advance(&f->clock, 1000);
    assert_int_equal(tg_leader_release(f->le, current, &plan), 0);
    assert_int_equal(plan.action, TG_LEADER_UPDATE);
    assert_false(tg_leader_is_leading(f->le));
    assert_string_equal(spec_string(plan.lease, "holderIdentity"), "");
    assert_int_equal(spec_int(plan.lease, "leaseDurationSeconds"), 1);
    assert_int_equal(spec_int(plan.lease, "leaseTransitions"), 5);
    assert_string_equal(spec_string(plan.lease, "renewTime"), "2023-11-14T22:13:21.123000Z");
    assert_string_equal(meta_string(plan.lease, "resourceVersion"), "42");
    json_object_put(plan.lease);
    /* After release nothing more is planned. */
    step(f, current, TG_LEADER_WAIT);
    json_object_put(mine);
    json_object_put(current);
}

static void release_of_a_lease_not_ours_writes_nothing(void **state)
{
    struct fixture *f = *state;
    json_object *theirs = held_by(OTHER, 15, 5, STAMP0);
    struct tg_leader_plan plan;

    assert_int_equal(tg_leader_release(f->le, theirs, &plan), 0);
    assert_int_equal(plan.action, TG_LEADER_WAIT);
    assert_null(plan.lease);
    assert_int_equal(tg_leader_release(f->le, NULL, &plan), 0);
    assert_int_equal(plan.action, TG_LEADER_WAIT);
    json_object_put(theirs);
}

static void standby_steps_every_retry_period(void **state)
{
    struct fixture *f = *state;
    json_object *theirs = held_by(OTHER, 15, 5, STAMP0);
    struct tg_leader_plan plan;

    assert_int_equal(tg_leader_step(f->le, theirs, &plan), 0);
    assert_int_equal(plan.action, TG_LEADER_WAIT);
    assert_int_equal(plan.next_ms, 502000);
    assert_false(tg_leader_is_leading(f->le));
    assert_int_equal(tg_leader_deadline_ms(f->le), TG_LEADER_NEVER);
    json_object_put(theirs);
}

static void malformed_lease_is_refused(void **state)
{
    struct fixture *f = *state;
    json_object *arr = json_object_new_array();
    json_object *str = json_object_new_string("lease");
    struct tg_leader_plan plan;

    assert_int_equal(tg_leader_step(f->le, arr, &plan), TG_EINVALID);
    assert_int_equal(plan.action, TG_LEADER_WAIT);
    assert_null(plan.lease);
    assert_int_equal(plan.next_ms, 502000);
    assert_int_equal(tg_leader_step(f->le, str, &plan), TG_EINVALID);
    assert_int_equal(tg_leader_release(f->le, arr, &plan), 0);
    assert_int_equal(plan.action, TG_LEADER_WAIT);
    json_object_put(arr);
    json_object_put(str);
}

static void config_is_checked(void **state)
{
    struct tg_fake_clock clock;
    struct tg_leader_config cfg;
    struct tg_leader *le = NULL;

    (void)state;
    tg_fake_clock_init(&clock, 0, 0);
    tg_leader_config_default(&cfg);
    assert_int_equal(cfg.lease_duration_ms, 15000);
    assert_int_equal(cfg.renew_deadline_ms, 10000);
    assert_int_equal(cfg.retry_period_ms, 2000);
    assert_int_equal(tg_leader_new(&cfg, &clock.base, &le), TG_EINVALID);
    cfg.identity = US;
    assert_int_equal(tg_leader_new(&cfg, &clock.base, &le), TG_EINVALID);
    cfg.namespace = "ns";
    cfg.name = "lease";
    cfg.lease_duration_ms = 10000;
    assert_int_equal(tg_leader_new(&cfg, &clock.base, &le), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "renew deadline"));
    cfg.lease_duration_ms = 15000;
    cfg.retry_period_ms = 9000;
    assert_int_equal(tg_leader_new(&cfg, &clock.base, &le), TG_EINVALID);
    cfg.retry_period_ms = 0;
    assert_int_equal(tg_leader_new(&cfg, &clock.base, &le), TG_EINVALID);
    assert_null(le);
    cfg.retry_period_ms = 2000;
    assert_int_equal(tg_leader_new(&cfg, &clock.base, &le), 0);
    tg_leader_free(le);
    tg_leader_free(NULL);
}

static void microtime_has_microseconds(void **state)
{
    char buf[40];

    (void)state;
    assert_string_equal(tg_leader_format_microtime(WALL0, buf, sizeof(buf)), STAMP0);
    assert_string_equal(tg_leader_format_microtime(0, buf, sizeof(buf)),
                        "1970-01-01T00:00:00.000000Z");
    assert_string_equal(tg_leader_format_microtime(1700000000999, buf, sizeof(buf)),
                        "2023-11-14T22:13:20.999000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(first_decision_table, setup, teardown),
        cmocka_unit_test_setup_teardown(leader_renews_every_retry_period, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_renewals_stop_leading_at_the_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(leader_seeing_another_holder_stops_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(deleted_lease_is_created_again, setup, teardown),
        cmocka_unit_test_setup_teardown(lost_create_race_is_not_leadership, setup, teardown),
        cmocka_unit_test_setup_teardown(write_answered_with_another_holder_is_not_leadership, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(live_holder_is_never_overthrown, setup, teardown),
        cmocka_unit_test_setup_teardown(release_clears_the_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(release_of_a_lease_not_ours_writes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(standby_steps_every_retry_period, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_lease_is_refused, setup, teardown),
        cmocka_unit_test(config_is_checked),
        cmocka_unit_test(microtime_has_microseconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
