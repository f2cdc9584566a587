/*
 * Unit tests for kube/event_writer: one write at a time per Event, so that a create and the
 * patches of its count can never race (a patch answered 404 before its create lands, then the
 * fallback create answered 409, lost an occurrence). A recorder stands in for the API server and
 * answers each write when, and how, the test says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kube/event_writer.h"
#include "util/error.h"

#define MAX_CALLS 16

struct call {
    bool patch; /* a patch; else a create */
    char name[64];
    json_object *body;
    tg_event_write_done done;
    void *arg;
    bool answered;
};

struct recorder {
    struct call calls[MAX_CALLS];
    size_t n;
    int refuse; /* the next write cannot start: this error */
};

static struct recorder rec;

static int record(bool patch, const char *name, json_object *body, tg_event_write_done done,
                  void *arg)
{
    if (rec.refuse) {
        int rc = rec.refuse;
        rec.refuse = 0;
        return tg_error_set(rc, "refused by the test");
    }
    assert_true(rec.n < MAX_CALLS);
    struct call *c = &rec.calls[rec.n++];
    c->patch = patch;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->body = json_object_get(body);
    c->done = done;
    c->arg = arg;
    return 0;
}

static int rec_create(void *ctx, const char *ns, json_object *event, tg_event_write_done done,
                      void *arg)
{
    (void)ctx;
    assert_string_equal(ns, "shop");
    json_object *meta = json_object_object_get(event, "metadata");
    return record(false, json_object_get_string(json_object_object_get(meta, "name")), event, done,
                  arg);
}

static int rec_patch(void *ctx, const char *ns, const char *name, json_object *patch,
                     tg_event_write_done done, void *arg)
{
    (void)ctx;
    assert_string_equal(ns, "shop");
    return record(true, name, patch, done, arg);
}

/* Answers call i with rc. */
static void answer(size_t i, int rc)
{
    assert_true(i < rec.n);
    assert_false(rec.calls[i].answered);
    rec.calls[i].answered = true;
    rec.calls[i].done(rec.calls[i].arg, rc, rc ? "from the test" : "");
}

static int count_of(size_t i)
{
    return json_object_get_int(json_object_object_get(rec.calls[i].body, "count"));
}

/* The plan tg_events_record would make for occurrence `count` of Event `name`. */
static struct tg_event_plan plan_for(const char *name, int count)
{
    struct tg_event_plan p = {0};
    char ts[32];

    snprintf(ts, sizeof(ts), "2026-12-07T10:00:%02dZ", count);
    p.verb = count == 1 ? TG_EVENT_CREATE : TG_EVENT_PATCH;
    p.namespace = "shop";
    p.name = name;
    p.count = (unsigned)count;
    p.event = json_object_new_object();
    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(meta, "namespace", json_object_new_string("shop"));
    json_object_object_add(p.event, "metadata", meta);
    json_object_object_add(p.event, "reason", json_object_new_string("Promoted"));
    json_object_object_add(p.event, "count", json_object_new_int(count));
    json_object_object_add(p.event, "lastTimestamp", json_object_new_string(ts));
    json_object_object_add(p.event, "message", json_object_new_string("Promoted past step 2/4"));
    if (count > 1) {
        p.patch = json_object_new_object();
        json_object_object_add(p.patch, "count", json_object_new_int(count));
        json_object_object_add(p.patch, "lastTimestamp", json_object_new_string(ts));
    }
    return p;
}

static void plan_free(struct tg_event_plan *p)
{
    json_object_put(p->event);
    json_object_put(p->patch);
}

static void write_occurrence(struct tg_event_writer *w, const char *name, int count)
{
    struct tg_event_plan p = plan_for(name, count);
    assert_int_equal(tg_event_writer_write(w, &p), 0);
    plan_free(&p);
}

static int setup(void **state)
{
    static const struct tg_event_writer_ops ops = {rec_create, rec_patch, NULL};
    struct tg_event_writer *w;

    memset(&rec, 0, sizeof(rec));
    if (tg_event_writer_new(&ops, &w))
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    tg_event_writer_free(*state);
    for (size_t i = 0; i < rec.n; i++)
        json_object_put(rec.calls[i].body);
    return 0;
}

/* Occurrences while the create is on the wire wait for it; the newest count goes out once. */
static void test_patches_wait_for_the_create(void **state)
{
    struct tg_event_writer *w = *state;
    struct tg_event_writer_stats st;

    write_occurrence(w, "web.1", 1);
    write_occurrence(w, "web.1", 2);
    write_occurrence(w, "web.1", 3);
    assert_int_equal(rec.n, 1); /* only the create is on the wire */
    assert_false(rec.calls[0].patch);
    answer(0, 0);
    assert_int_equal(rec.n, 2);
    assert_true(rec.calls[1].patch);
    assert_string_equal(rec.calls[1].name, "web.1");
    assert_int_equal(count_of(1), 3); /* no occurrence lost */
    answer(1, 0);
    assert_int_equal(rec.n, 2); /* nothing more to send */
    tg_event_writer_stats(w, &st);
    assert_int_equal(st.writes, 2);
    assert_int_equal(st.held, 2);
    assert_int_equal(st.coalesced, 1);
    assert_int_equal(st.failed, 0);
}

/* Different Events do not wait for each other. */
static void test_events_are_independent(void **state)
{
    struct tg_event_writer *w = *state;

    write_occurrence(w, "web.1", 1);
    write_occurrence(w, "web.2", 1);
    assert_int_equal(rec.n, 2);
    answer(1, 0);
    answer(0, 0);
    write_occurrence(w, "web.1", 2); /* nothing in flight for web.1 any more: sent at once */
    assert_int_equal(rec.n, 3);
    assert_true(rec.calls[2].patch);
    answer(2, 0);
}

/* A patch answered 404 creates the whole Event; a create answered 409 patches its count. */
static void test_not_found_then_conflict(void **state)
{
    struct tg_event_writer *w = *state;
    struct tg_event_writer_stats st;

    write_occurrence(w, "web.1", 4);
    assert_true(rec.calls[0].patch);
    answer(0, TG_ENOTFOUND);
    assert_int_equal(rec.n, 2);
    assert_false(rec.calls[1].patch);
    assert_int_equal(count_of(1), 4);
    answer(1, TG_ECONFLICT); /* it exists after all */
    assert_int_equal(rec.n, 3);
    assert_true(rec.calls[2].patch);
    assert_int_equal(count_of(2), 4);
    answer(2, 0);
    assert_int_equal(rec.n, 3);
    tg_event_writer_stats(w, &st);
    assert_int_equal(st.failed, 0);
}

/* A second 409 is a failure, reported once, never a loop; the held write still goes out. */
static void test_conflict_twice_fails_once(void **state)
{
    struct tg_event_writer *w = *state;
    struct tg_event_writer_stats st;

    write_occurrence(w, "web.1", 1);
    write_occurrence(w, "web.1", 2);
    answer(0, TG_ECONFLICT);
    assert_int_equal(rec.n, 2);
    assert_true(rec.calls[1].patch);
    assert_int_equal(count_of(1), 1); /* the create's own count first */
    answer(1, TG_ECONFLICT);
    tg_event_writer_stats(w, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(rec.n, 3); /* then the held occurrence */
    assert_int_equal(count_of(2), 2);
    answer(2, 0);
    assert_int_equal(rec.n, 3);
}

/* A write that cannot start is an error and holds nothing. */
static void test_write_that_cannot_start(void **state)
{
    struct tg_event_writer *w = *state;
    struct tg_event_plan p = plan_for("web.1", 1);
    struct tg_event_writer_stats st;

    rec.refuse = TG_ECANCELED;
    assert_int_equal(tg_event_writer_write(w, &p), TG_ECANCELED);
    plan_free(&p);
    write_occurrence(w, "web.1", 2); /* not held behind anything */
    assert_int_equal(rec.n, 1);
    answer(0, 0);
    tg_event_writer_stats(w, &st);
    assert_int_equal(st.failed, 1);
}

/* Freed with writes in flight: held writes are dropped, the last callback frees the rest. */
static void test_free_with_writes_in_flight(void **state)
{
    struct tg_event_writer *w = *state;

    write_occurrence(w, "web.1", 1);
    write_occurrence(w, "web.1", 2);
    write_occurrence(w, "web.2", 1);
    tg_event_writer_free(w);
    *state = NULL;
    answer(0, 0);
    answer(1, TG_ECANCELED);
    assert_int_equal(rec.n, 2); /* the held patch was not sent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_patches_wait_for_the_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_are_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_then_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_twice_fails_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_that_cannot_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_writes_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
