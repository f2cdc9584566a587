/* Unit tests for kube/events: Event bodies, de-duplication, the spam filter, cache bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "kube/events.h"
#include "util/clock.h"
#include "util/error.h"

#define WALL0 1700000000123 /* 2023-11-14T22:13:20.123Z */
#define MIN   60000

struct fixture {
    struct tg_fake_clock clock;
    struct tg_events *ev;
};

static const struct tg_event_object app = {
    .kind = "Rollout",
    .namespace = "shop",
    .name = "checkout",
    .uid = "uid-1",
    .api_version = "tollgate.dev/v1alpha1",
    .resource_version = "77",
};

static const struct tg_event_object other = {
    .kind = "Rollout",
    .namespace = "shop",
    .name = "cart",
    .uid = "uid-2",
    .api_version = "tollgate.dev/v1alpha1",
};

static int make(void **state, size_t cache_size)
{
    static struct fixture f;
    struct tg_events_config cfg;

    tg_fake_clock_init(&f.clock, 1000000, WALL0);
    tg_events_config_default(&cfg);
    cfg.host = "node-1";
    cfg.instance = "tollgate-7c9f";
    cfg.cache_size = cache_size;
    if (tg_events_new(&cfg, &f.clock.base, &f.ev) < 0)
        return -1;
    *state = &f;
    return 0;
}

static int setup(void **state)
{
    return make(state, TG_EVENTS_DEFAULT_CACHE_SIZE);
}

static int setup_small(void **state)
{
    return make(state, 4);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tg_events_free(f->ev);
    return 0;
}

/* obj's string field at a dotted path of at most two parts; NULL when absent. */
static const char *str_at(json_object *obj, const char *a, const char *b)
{
    json_object *v;

    if (!json_object_object_get_ex(obj, a, &v))
        return NULL;
    if (b && !json_object_object_get_ex(v, b, &v))
        return NULL;
    return json_object_get_string(v);
}

static int64_t int_at(json_object *obj, const char *field)
{
    json_object *v;

    assert_true(json_object_object_get_ex(obj, field, &v));
    return json_object_get_int64(v);
}

/* Records and checks the verb; the caller releases the plan. */
static void record(struct fixture *f, const struct tg_event_object *obj, enum tg_event_type type,
                   const char *reason, const char *message, enum tg_event_verb want,
                   struct tg_event_plan *plan)
{
    assert_int_equal(tg_events_record(f->ev, obj, type, reason, message, plan), 0);
    assert_int_equal(plan->verb, want);
}

/* Records, checks the verb and releases at once. */
static void record_only(struct fixture *f, const struct tg_event_object *obj, const char *reason,
                        enum tg_event_verb want)
{
    struct tg_event_plan plan;

    record(f, obj, TG_EVENT_NORMAL, reason, "m", want, &plan);
    tg_event_plan_release(&plan);
}

static void first_occurrence_creates_a_full_event(void **state)
{
    struct fixture *f = *state;
    struct tg_event_plan plan;
    json_object *e;

    record(f, &app, TG_EVENT_WARNING, "AnalysisFailed", "error rate 7% > 5%", TG_EVENT_CREATE,
           &plan);
    e = plan.event;
    assert_null(plan.patch);
    assert_int_equal(plan.count, 1);
    assert_string_equal(str_at(e, "apiVersion", NULL), "v1");
    assert_string_equal(str_at(e, "kind", NULL), "Event");
    assert_string_equal(str_at(e, "metadata", "namespace"), "shop");
    assert_string_equal(plan.namespace, "shop");
    assert_string_equal(plan.name, str_at(e, "metadata", "name"));
    assert_int_equal(strlen(plan.name), strlen("checkout.") + 16);
    assert_memory_equal(plan.name, "checkout.", 9);
    assert_string_equal(str_at(e, "involvedObject", "kind"), "Rollout");
    assert_string_equal(str_at(e, "involvedObject", "namespace"), "shop");
    assert_string_equal(str_at(e, "involvedObject", "name"), "checkout");
    assert_string_equal(str_at(e, "involvedObject", "uid"), "uid-1");
    assert_string_equal(str_at(e, "involvedObject", "apiVersion"), "tollgate.dev/v1alpha1");
    assert_string_equal(str_at(e, "involvedObject", "resourceVersion"), "77");
    assert_string_equal(str_at(e, "type", NULL), "Warning");
    assert_string_equal(str_at(e, "reason", NULL), "AnalysisFailed");
    assert_string_equal(str_at(e, "message", NULL), "error rate 7% > 5%");
    assert_string_equal(str_at(e, "source", "component"), "tollgate");
    assert_string_equal(str_at(e, "source", "host"), "node-1");
    assert_string_equal(str_at(e, "reportingComponent", NULL), "tollgate");
    assert_string_equal(str_at(e, "reportingInstance", NULL), "tollgate-7c9f");
    assert_string_equal(str_at(e, "firstTimestamp", NULL), "2023-11-14T22:13:20Z");
    assert_string_equal(str_at(e, "lastTimestamp", NULL), "2023-11-14T22:13:20Z");
    assert_int_equal(int_at(e, "count"), 1);
    tg_event_plan_release(&plan);
    assert_null(plan.event);
    assert_int_equal(plan.verb, TG_EVENT_DROP);
}

static void repeat_patches_count_and_last_timestamp(void **state)
{
    struct fixture *f = *state;
    struct tg_event_plan first;
    struct tg_event_plan again;
    struct tg_events_stats st;

    record(f, &app, TG_EVENT_NORMAL, "Promoted", "step 2 of 4", TG_EVENT_CREATE, &first);
    tg_fake_clock_advance(&f->clock, 90000);
    record(f, &app, TG_EVENT_NORMAL, "Promoted", "step 2 of 4", TG_EVENT_PATCH, &again);
    assert_string_equal(again.name, first.name);
    assert_string_equal(again.namespace, "shop");
    assert_int_equal(again.count, 2);
    /* The patch touches only count, lastTimestamp and message. */
    assert_int_equal(json_object_object_length(again.patch), 3);
    assert_int_equal(int_at(again.patch, "count"), 2);
    assert_string_equal(str_at(again.patch, "lastTimestamp", NULL), "2023-11-14T22:14:50Z");
    assert_string_equal(str_at(again.patch, "message", NULL), "step 2 of 4");
    /* The fallback body (for a 404 on the patch) is the whole series so far. */
    assert_string_equal(str_at(again.event, "metadata", "name"), first.name);
    assert_string_equal(str_at(again.event, "firstTimestamp", NULL), "2023-11-14T22:13:20Z");
    assert_string_equal(str_at(again.event, "lastTimestamp", NULL), "2023-11-14T22:14:50Z");
    assert_int_equal(int_at(again.event, "count"), 2);
    tg_event_plan_release(&again);
    record(f, &app, TG_EVENT_NORMAL, "Promoted", "step 2 of 4", TG_EVENT_PATCH, &again);
    assert_int_equal(again.count, 3);
    tg_event_plan_release(&again);
    tg_event_plan_release(&first);
    tg_events_stats(f->ev, &st);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.patched, 2);
    assert_int_equal(st.dropped, 0);
}

static void different_events_are_not_merged(void **state)
{
    struct fixture *f = *state;
    struct tg_event_plan p;

    record(f, &app, TG_EVENT_NORMAL, "Promoted", "a", TG_EVENT_CREATE, &p);
    tg_event_plan_release(&p);
    record(f, &app, TG_EVENT_NORMAL, "Promoted", "b", TG_EVENT_CREATE, &p);
    tg_event_plan_release(&p);
    record(f, &app, TG_EVENT_NORMAL, "Paused", "a", TG_EVENT_CREATE, &p);
    tg_event_plan_release(&p);
    record(f, &app, TG_EVENT_WARNING, "Promoted", "a", TG_EVENT_CREATE, &p);
    tg_event_plan_release(&p);
    record(f, &other, TG_EVENT_NORMAL, "Promoted", "a", TG_EVENT_CREATE, &p);
    tg_event_plan_release(&p);
    /* A NULL message is the empty message, and fields cannot run into each other. */
    record(f, &app, TG_EVENT_NORMAL, "Promoted", NULL, TG_EVENT_CREATE, &p);
    tg_event_plan_release(&p);
    record(f, &app, TG_EVENT_NORMAL, "Promoted", "", TG_EVENT_PATCH, &p);
    tg_event_plan_release(&p);
    record(f, &app, TG_EVENT_NORMAL, "Promote", "da", TG_EVENT_CREATE, &p);
    tg_event_plan_release(&p);
    record(f, &app, TG_EVENT_NORMAL, "Promoted", "a", TG_EVENT_PATCH, &p);
    tg_event_plan_release(&p);
}

static void series_ends_after_the_window(void **state)
{
    struct fixture *f = *state;
    struct tg_event_plan first;
    struct tg_event_plan p;

    record(f, &app, TG_EVENT_NORMAL, "Waiting", "m", TG_EVENT_CREATE, &first);
    /* Repeats 9 minutes apart keep the series going... */
    for (int i = 2; i <= 4; i++) {
        tg_fake_clock_advance(&f->clock, 9 * MIN);
        record(f, &app, TG_EVENT_NORMAL, "Waiting", "m", TG_EVENT_PATCH, &p);
        assert_int_equal(p.count, i);
        assert_string_equal(p.name, first.name);
        tg_event_plan_release(&p);
    }
    /* ...a 10-minute silence ends it: a new Event, with a new name. */
    tg_fake_clock_advance(&f->clock, 10 * MIN);
    record(f, &app, TG_EVENT_NORMAL, "Waiting", "m", TG_EVENT_CREATE, &p);
    assert_int_equal(p.count, 1);
    assert_string_not_equal(p.name, first.name);
    assert_string_equal(str_at(p.event, "firstTimestamp", NULL), "2023-11-14T22:50:20Z");
    tg_event_plan_release(&p);
    tg_event_plan_release(&first);
}

static void spam_filter_limits_each_object(void **state)
{
    struct fixture *f = *state;
    struct tg_event_plan p;
    struct tg_events_stats st;
    char reason[32];

    for (int i = 0; i < 25; i++) {
        snprintf(reason, sizeof(reason), "Reason%d", i);
        record_only(f, &app, reason, TG_EVENT_CREATE);
    }
    /* The 26th is dropped, new or repeat alike. */
    record_only(f, &app, "Reason25", TG_EVENT_DROP);
    record(f, &app, TG_EVENT_NORMAL, "Reason0", "m", TG_EVENT_DROP, &p);
    assert_null(p.event);
    assert_null(p.patch);
    tg_event_plan_release(&p);
    /* Another object has its own bucket. */
    record_only(f, &other, "Reason0", TG_EVENT_CREATE);
    /* One token comes back every 5 minutes. */
    tg_fake_clock_advance(&f->clock, 5 * MIN - 1);
    record_only(f, &app, "Reason0", TG_EVENT_DROP);
    tg_fake_clock_advance(&f->clock, 1);
    /* Dropped occurrences were not counted: the series goes on from 1 to 2. */
    record(f, &app, TG_EVENT_NORMAL, "Reason0", "m", TG_EVENT_PATCH, &p);
    assert_int_equal(p.count, 2);
    tg_event_plan_release(&p);
    record_only(f, &app, "Reason0", TG_EVENT_DROP);
    tg_events_stats(f->ev, &st);
    assert_int_equal(st.created, 26);
    assert_int_equal(st.patched, 1);
    assert_int_equal(st.dropped, 4);
}

static void spam_filter_refills_only_to_burst(void **state)
{
    struct fixture *f = *state;
    char reason[32];

    record_only(f, &app, "R", TG_EVENT_CREATE);
    tg_fake_clock_advance(&f->clock, 24 * 3600 * 1000ull);
    for (int i = 0; i < 25; i++) {
        snprintf(reason, sizeof(reason), "Reason%d", i);
        record_only(f, &app, reason, TG_EVENT_CREATE);
    }
    record_only(f, &app, "Reason99", TG_EVENT_DROP);
}

static void messages_are_truncated_to_1024_bytes(void **state)
{
    struct fixture *f = *state;
    struct tg_event_plan p;
    char big[2048];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    record(f, &app, TG_EVENT_NORMAL, "Big", big, TG_EVENT_CREATE, &p);
    assert_int_equal(strlen(str_at(p.event, "message", NULL)), 1024);
    tg_event_plan_release(&p);
    /* Messages equal in their first 1024 bytes are the same event. */
    big[1500] = 'y';
    record(f, &app, TG_EVENT_NORMAL, "Big", big, TG_EVENT_PATCH, &p);
    assert_int_equal(strlen(str_at(p.patch, "message", NULL)), 1024);
    tg_event_plan_release(&p);
    /* A multi-byte character across the cut is left out whole. */
    memcpy(big + 1023, "\xc3\xa9", 2);
    record(f, &app, TG_EVENT_NORMAL, "Utf8", big, TG_EVENT_CREATE, &p);
    assert_int_equal(strlen(str_at(p.event, "message", NULL)), 1023);
    tg_event_plan_release(&p);
}

static void truncation_respects_utf8(void **state)
{
    (void)state;
    assert_int_equal(tg_events_truncated_len("abc", 5), 3);
    assert_int_equal(tg_events_truncated_len("abcde", 5), 5);
    assert_int_equal(tg_events_truncated_len("abcdef", 5), 5);
    /* "ab" + U+20AC (3 bytes) + "d": cutting at 3 or 4 would split the euro sign. */
    assert_int_equal(tg_events_truncated_len("ab\xe2\x82\xac"
                                             "d",
                                             3),
                     2);
    assert_int_equal(tg_events_truncated_len("ab\xe2\x82\xac"
                                             "d",
                                             4),
                     2);
    assert_int_equal(tg_events_truncated_len("ab\xe2\x82\xac"
                                             "d",
                                             5),
                     5);
    /* U+1F600 (4 bytes). */
    assert_int_equal(tg_events_truncated_len("\xf0\x9f\x98\x80", 3), 0);
    assert_int_equal(tg_events_truncated_len("", 0), 0);
}

static void cluster_scoped_objects_get_events_in_default(void **state)
{
    struct fixture *f = *state;
    const struct tg_event_object node = {.kind = "Node", .name = "n1", .api_version = "v1"};
    struct tg_event_plan p;

    record(f, &node, TG_EVENT_NORMAL, "Seen", "m", TG_EVENT_CREATE, &p);
    assert_string_equal(p.namespace, "default");
    assert_null(str_at(p.event, "involvedObject", "namespace"));
    assert_null(str_at(p.event, "involvedObject", "uid"));
    assert_null(str_at(p.event, "involvedObject", "resourceVersion"));
    tg_event_plan_release(&p);
}

static void bad_input_is_refused(void **state)
{
    struct fixture *f = *state;
    const struct tg_event_object nameless = {.kind = "Rollout"};
    struct tg_event_plan p;

    assert_int_equal(tg_events_record(f->ev, &nameless, TG_EVENT_NORMAL, "R", "m", &p),
                     TG_EINVALID);
    assert_int_equal(p.verb, TG_EVENT_DROP);
    assert_null(p.event);
    assert_int_equal(tg_events_record(f->ev, NULL, TG_EVENT_NORMAL, "R", "m", &p), TG_EINVALID);
    assert_int_equal(tg_events_record(f->ev, &app, TG_EVENT_NORMAL, "", "m", &p), TG_EINVALID);
    assert_int_equal(tg_events_record(f->ev, &app, (enum tg_event_type)7, "R", "m", &p),
                     TG_EINVALID);
    /* None of that spent the object's budget. */
    record_only(f, &app, "R", TG_EVENT_CREATE);
}

static void event_names_are_unique_and_fit(void **state)
{
    struct fixture *f = *state;
    char longname[254];
    struct tg_event_object big = app;
    struct tg_event_plan a;
    struct tg_event_plan b;

    record(f, &app, TG_EVENT_NORMAL, "A", "m", TG_EVENT_CREATE, &a);
    record(f, &app, TG_EVENT_NORMAL, "B", "m", TG_EVENT_CREATE, &b);
    assert_string_not_equal(a.name, b.name);
    tg_event_plan_release(&a);
    tg_event_plan_release(&b);
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    big.name = longname;
    record(f, &big, TG_EVENT_NORMAL, "A", "m", TG_EVENT_CREATE, &a);
    assert_int_equal(strlen(a.name), 253);
    assert_string_equal(str_at(a.event, "involvedObject", "name"), longname);
    tg_event_plan_release(&a);
}

static void caches_evict_least_recently_used(void **state)
{
    struct fixture *f = *state;
    struct tg_event_object objs[5];
    char names[5][16];

    for (int i = 0; i < 5; i++) {
        objs[i] = app;
        snprintf(names[i], sizeof(names[i]), "obj%d", i);
        objs[i].name = names[i];
        objs[i].uid = names[i];
    }
    for (int i = 0; i < 4; i++)
        record_only(f, &objs[i], "R", TG_EVENT_CREATE);
    /* Touch obj0, so obj1 is the least recently used when obj4 arrives. */
    record_only(f, &objs[0], "R", TG_EVENT_PATCH);
    record_only(f, &objs[4], "R", TG_EVENT_CREATE);
    record_only(f, &objs[0], "R", TG_EVENT_PATCH);
    /* obj1's series was forgotten: its repeat starts a new Event. */
    record_only(f, &objs[1], "R", TG_EVENT_CREATE);
}

static void many_objects_stay_bounded(void **state)
{
    struct fixture *f = *state;
    struct tg_event_object o = app;
    struct tg_events_stats st;
    char name[32];

    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof(name), "obj-%d", i % 10000);
        o.name = name;
        o.uid = name;
        record_only(f, &o, "R", TG_EVENT_CREATE); /* 10000 > 4096: every repeat was evicted */
    }
    tg_events_stats(f->ev, &st);
    assert_int_equal(st.created, 20000);
}

static void config_is_checked(void **state)
{
    struct tg_fake_clock clock;
    struct tg_events_config cfg;
    struct tg_events *ev = NULL;

    (void)state;
    tg_fake_clock_init(&clock, 0, 0);
    tg_events_config_default(&cfg);
    assert_string_equal(cfg.component, "tollgate");
    assert_int_equal(cfg.burst, 25);
    assert_int_equal(cfg.refill_ms, 300000);
    assert_int_equal(cfg.cache_size, 4096);
    cfg.component = "";
    assert_int_equal(tg_events_new(&cfg, &clock.base, &ev), TG_EINVALID);
    cfg.component = "x";
    cfg.cache_size = 0;
    assert_int_equal(tg_events_new(&cfg, &clock.base, &ev), TG_EINVALID);
    assert_null(ev);
    assert_int_equal(tg_events_new(NULL, &clock.base, &ev), 0);
    tg_events_free(ev);
    tg_events_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(first_occurrence_creates_a_full_event, setup, teardown),
        cmocka_unit_test_setup_teardown(repeat_patches_count_and_last_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(different_events_are_not_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(series_ends_after_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(spam_filter_limits_each_object, setup, teardown),
        cmocka_unit_test_setup_teardown(spam_filter_refills_only_to_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(messages_are_truncated_to_1024_bytes, setup, teardown),
        cmocka_unit_test(truncation_respects_utf8),
        cmocka_unit_test_setup_teardown(cluster_scoped_objects_get_events_in_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_input_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(event_names_are_unique_and_fit, setup, teardown),
        cmocka_unit_test_setup_teardown(caches_evict_least_recently_used, setup_small, teardown),
        cmocka_unit_test_setup_teardown(many_objects_stay_bounded, setup, teardown),
        cmocka_unit_test(config_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
