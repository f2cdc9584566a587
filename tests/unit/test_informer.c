/*
 * Unit tests for kube/informer: table-driven scenarios on a fake clock (list pages, watch,
 * clean ends, disconnects with backoff, 410 relists, expired continue tokens, refused inputs),
 * each step checking the action the informer asks for, its state and the cache it fills; and
 * the owner-enqueue helper.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cache.h"
#include "kube/informer.h"
#include "util/clock.h"
#include "util/error.h"

enum input {
    START,     /* tg_informer_start */
    PAGE,      /* tg_informer_list_page(arg parsed as JSON) */
    LIST_FAIL, /* tg_informer_list_failed(err) */
    DATA,      /* tg_informer_watch_data(arg); its rc is checked, no action */
    CLOSED,    /* tg_informer_watch_closed(err) */
    TIMER,     /* tg_informer_timer_fired */
    ADVANCE,   /* the fake clock moves by num ms; nothing else is checked */
    RAND,      /* the injected random number becomes num / 1000 */
    CACHE,     /* the cache's sorted keys with their versions must be arg ("k@rv k@rv") */
    STATS,     /* lists, relists, watches, watch_restarts, gone must be arg ("1 0 2 1 0") */
    STOP,      /* tg_informer_stop */
};

/* One step: an input, then what must follow. */
struct step {
    enum input in;
    const char *arg;
    int err;                  /* LIST_FAIL, CLOSED: the error passed in */
    int rc;                   /* the code the input must return */
    enum tg_informer_do what; /* the action expected */
    const char *str;          /* LIST: continue token; WATCH: resourceVersion */
    uint64_t num; /* LIST: limit; WATCH: timeoutSeconds; WAIT: ms; ADVANCE/RAND: amount */
    enum tg_informer_state state;
};

struct fixture {
    struct tg_fake_clock clock;
    struct tg_cache *cache;
    struct tg_informer *inf;
    double r;
};

static double fixed_rand(void *ctx)
{
    return ((struct fixture *)ctx)->r;
}

static void setup(struct fixture *f)
{
    struct tg_informer_opts opts = {.page_size = 2, .rand01 = fixed_rand, .rand_ctx = f};

    tg_fake_clock_init(&f->clock, 1000000, 1764000000000);
    f->r = 0;
    assert_int_equal(tg_cache_new(NULL, &f->cache), 0);
    assert_int_equal(tg_informer_new(f->cache, &f->clock.base, &opts, &f->inf), 0);
}

static void teardown(struct fixture *f)
{
    tg_informer_free(f->inf);
    tg_cache_free(f->cache);
}

/* Collects "key@rv" words, for cache_keys. */
struct words {
    char w[32][64];
    size_t n;
};

static int add_word(void *ctx, const char *key, struct json_object *o)
{
    struct words *w = ctx;
    struct json_object *m, *rv;

    assert_true(w->n < 32);
    assert_true(json_object_object_get_ex(o, "metadata", &m));
    assert_true(json_object_object_get_ex(m, "resourceVersion", &rv));
    snprintf(w->w[w->n++], sizeof(w->w[0]), "%s@%s", key, json_object_get_string(rv));
    return 0;
}

static int cmp_word(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* "key@rv" of every cached object, sorted, space-separated. */
static void cache_keys(struct tg_cache *c, char *out, size_t size)
{
    struct words w = {.n = 0};

    assert_int_equal(tg_cache_each(c, TG_CACHE_ALL, NULL, add_word, &w), 0);
    qsort(w.w, w.n, sizeof(w.w[0]), cmp_word);
    out[0] = '\0';
    for (size_t i = 0; i < w.n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i ? " " : "", w.w[i]);
    }
}

static void check_action(size_t i, const struct step *s, int rc, const struct tg_informer_action *a,
                         struct tg_informer *inf)
{
    if (rc != s->rc)
        fail_msg("step %zu: rc %s, want %s (%s)", i, tg_error_name(rc), tg_error_name(s->rc),
                 tg_error_last());
    if (a->what != s->what)
        fail_msg("step %zu: action %d, want %d", i, a->what, s->what);
    if (tg_informer_state(inf) != s->state)
        fail_msg("step %zu: state %s, want %s", i, tg_informer_state_name(tg_informer_state(inf)),
                 tg_informer_state_name(s->state));
    switch (a->what) {
    case TG_INFORMER_DO_LIST:
        assert_string_equal(a->continue_token, s->str);
        assert_int_equal(a->limit, s->num);
        break;
    case TG_INFORMER_DO_WATCH:
        assert_string_equal(a->resource_version, s->str);
        assert_true(a->allow_bookmarks);
        assert_int_equal(a->timeout_seconds, s->num);
        break;
    case TG_INFORMER_DO_WAIT:
        if (a->wait_ms != s->num)
            fail_msg("step %zu: wait %llu ms, want %llu", i, (unsigned long long)a->wait_ms,
                     (unsigned long long)s->num);
        break;
    case TG_INFORMER_DO_NOTHING:
        break;
    }
}

static void run_steps(const struct step *steps, size_t n)
{
    struct fixture f;
    struct tg_informer_action a;
    struct tg_informer_stats st;
    char buf[512];
    int rc = 0;

    setup(&f);
    for (size_t i = 0; i < n; i++) {
        const struct step *s = &steps[i];
        memset(&a, 0xa5, sizeof(a));
        switch (s->in) {
        case START:
            rc = tg_informer_start(f.inf, &a);
            break;
        case PAGE: {
            struct json_object *list = json_tokener_parse(s->arg);
            if (!list)
                fail_msg("step %zu: bad JSON", i);
            rc = tg_informer_list_page(f.inf, list, &a);
            json_object_put(list);
            break;
        }
        case LIST_FAIL:
            rc = tg_informer_list_failed(f.inf, s->err, &a);
            break;
        case DATA:
            rc = tg_informer_watch_data(f.inf, s->arg, strlen(s->arg));
            if (rc != s->rc)
                fail_msg("step %zu: data rc %s, want %s (%s)", i, tg_error_name(rc),
                         tg_error_name(s->rc), tg_error_last());
            continue;
        case CLOSED:
            rc = tg_informer_watch_closed(f.inf, s->err, &a);
            break;
        case TIMER:
            rc = tg_informer_timer_fired(f.inf, &a);
            break;
        case ADVANCE:
            tg_fake_clock_advance(&f.clock, s->num);
            continue;
        case RAND:
            f.r = (double)s->num / 1000.0;
            continue;
        case CACHE:
            cache_keys(f.cache, buf, sizeof(buf));
            if (strcmp(buf, s->arg))
                fail_msg("step %zu: cache holds \"%s\", want \"%s\"", i, buf, s->arg);
            continue;
        case STATS:
            tg_informer_stats(f.inf, &st);
            snprintf(buf, sizeof(buf), "%llu %llu %llu %llu %llu", (unsigned long long)st.lists,
                     (unsigned long long)st.relists, (unsigned long long)st.watches,
                     (unsigned long long)st.watch_restarts, (unsigned long long)st.gone);
            if (strcmp(buf, s->arg))
                fail_msg("step %zu: stats \"%s\", want \"%s\"", i, buf, s->arg);
            continue;
        case STOP:
            tg_informer_stop(f.inf);
            continue;
        }
        check_action(i, s, rc, &a, f.inf);
    }
    teardown(&f);
}

#define OBJ(name, rv)                                                                              \
    "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"shop\",\"resourceVersion\":\"" rv "\"}}"
#define LIST(rv, cont, items)                                                                      \
    "{\"kind\":\"RolloutList\",\"metadata\":{\"resourceVersion\":\"" rv "\",\"continue\":\"" cont  \
    "\"},\"items\":[" items "]}"
#define EVENT(type, object) "{\"type\":\"" type "\",\"object\":" object "}\n"
#define GONE                                                                                       \
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":"      \
    "\"too old resource version\",\"reason\":\"Expired\",\"code\":410}}\n"

static const struct step list_then_watch_then_resume[] = {
    {START, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2, .state = TG_INFORMER_LISTING},
    /* Two pages of a paged list; the cache is synced only after the last. */
    {PAGE, .arg = LIST("100", "c1", OBJ("a", "90") "," OBJ("b", "91")), .what = TG_INFORMER_DO_LIST,
     .str = "c1", .num = 2, .state = TG_INFORMER_LISTING},
    {CACHE, .arg = "shop/a@90 shop/b@91"},
    {RAND, .num = 500},
    {PAGE, .arg = LIST("100", "", OBJ("c", "95")), .what = TG_INFORMER_DO_WATCH, .str = "100",
     .num = 450, .state = TG_INFORMER_WATCHING},
    {CACHE, .arg = "shop/a@90 shop/b@91 shop/c@95"},
    /* Events, split anywhere, and a bookmark that moves the resume point. */
    {DATA,
     .arg = EVENT("ADDED", OBJ("d", "101")) EVENT("MODIFIED", OBJ("a", "102")) "{\"type\":\"DEL"},
    {DATA, .arg = "ETED\",\"object\":" OBJ("b", "103") "}\n"},
    {DATA, .arg = EVENT("BOOKMARK", "{\"metadata\":{\"resourceVersion\":\"150\"}}")},
    {CACHE, .arg = "shop/a@102 shop/c@95 shop/d@101"},
    /* The server ends the watch at timeoutSeconds: resume at once from the bookmark. */
    {ADVANCE, .num = 450000},
    {RAND, .num = 0},
    {CLOSED, .err = 0, .what = TG_INFORMER_DO_WATCH, .str = "150", .num = 300,
     .state = TG_INFORMER_WATCHING},
    {STATS, .arg = "1 0 2 1 0"},
};

static const struct step disconnects_back_off_and_resume_without_relisting[] = {
    {START, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2, .state = TG_INFORMER_LISTING},
    {PAGE, .arg = LIST("100", "", OBJ("a", "90")), .what = TG_INFORMER_DO_WATCH, .str = "100",
     .num = 300, .state = TG_INFORMER_WATCHING},
    {DATA, .arg = EVENT("MODIFIED", OBJ("a", "120"))},
    /* Dropped: wait 1 s, then resume from the last event, not the list. */
    {CLOSED, .err = TG_ETRANSIENT, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 1000,
     .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "120", .num = 300, .state = TG_INFORMER_WATCHING},
    /* Failing again and again: 2 s, 4 s, ... capped at 30 s. */
    {CLOSED, .err = TG_EUNREACHABLE, .rc = TG_EUNREACHABLE, .what = TG_INFORMER_DO_WAIT,
     .num = 2000, .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "120", .num = 300, .state = TG_INFORMER_WATCHING},
    {CLOSED, .err = TG_ETRANSIENT, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 4000,
     .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "120", .num = 300, .state = TG_INFORMER_WATCHING},
    {CLOSED, .err = TG_ETRANSIENT, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 8000,
     .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "120", .num = 300, .state = TG_INFORMER_WATCHING},
    {CLOSED, .err = TG_ETRANSIENT, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 16000,
     .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "120", .num = 300, .state = TG_INFORMER_WATCHING},
    /* Jitter stretches the delay by up to half, but never past the cap. */
    {RAND, .num = 999},
    {CLOSED, .err = TG_ETRANSIENT, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 30000,
     .state = TG_INFORMER_BACKOFF},
    {RAND, .num = 0},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "120", .num = 300, .state = TG_INFORMER_WATCHING},
    {CLOSED, .err = TG_ETRANSIENT, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 30000,
     .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "120", .num = 300, .state = TG_INFORMER_WATCHING},
    /* An event proves the connection: the next failure starts from 1 s again. */
    {DATA, .arg = EVENT("MODIFIED", OBJ("a", "130"))},
    {RAND, .num = 200},
    {CLOSED, .err = TG_ETRANSIENT, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 1100,
     .state = TG_INFORMER_BACKOFF},
    {RAND, .num = 0},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "130", .num = 300, .state = TG_INFORMER_WATCHING},
    {STATS, .arg = "1 0 9 8 0"},
};

static const struct step gone_relists_and_deletes_what_vanished[] = {
    {START, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2, .state = TG_INFORMER_LISTING},
    {PAGE, .arg = LIST("100", "", OBJ("a", "90") "," OBJ("b", "91")), .what = TG_INFORMER_DO_WATCH,
     .str = "100", .num = 300, .state = TG_INFORMER_WATCHING},
    {DATA, .arg = EVENT("MODIFIED", OBJ("a", "110"))},
    /* The ERROR 410 event ends the stream; the rest of the chunk is not applied. */
    {DATA, .arg = GONE EVENT("ADDED", OBJ("e", "111")), .rc = TG_EGONE},
    {CLOSED, .err = TG_EGONE, .rc = TG_EGONE, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2,
     .state = TG_INFORMER_LISTING},
    {CACHE, .arg = "shop/a@110 shop/b@91"},
    /* The relist no longer has b, has a new c: b is deleted at the end of the list. */
    {PAGE, .arg = LIST("500", "p2", OBJ("a", "110") "," OBJ("c", "400")),
     .what = TG_INFORMER_DO_LIST, .str = "p2", .num = 2, .state = TG_INFORMER_LISTING},
    {CACHE, .arg = "shop/a@110 shop/b@91 shop/c@400"},
    {PAGE, .arg = LIST("500", "", ""), .what = TG_INFORMER_DO_WATCH, .str = "500", .num = 300,
     .state = TG_INFORMER_WATCHING},
    {CACHE, .arg = "shop/a@110 shop/c@400"},
    /* A 410 answered to the watch request itself relists the same way. */
    {CLOSED, .err = TG_EGONE, .rc = TG_EGONE, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2,
     .state = TG_INFORMER_LISTING},
    {STATS, .arg = "3 2 2 1 2"},
    {PAGE, .arg = LIST("600", "", OBJ("a", "110")), .what = TG_INFORMER_DO_WATCH, .str = "600",
     .num = 300, .state = TG_INFORMER_WATCHING},
    /* The stream said 410 and the connection then broke: the 410 decides, a relist. */
    {DATA, .arg = GONE, .rc = TG_EGONE},
    {CLOSED, .err = TG_EUNREACHABLE, .rc = TG_EGONE, .what = TG_INFORMER_DO_LIST, .str = "",
     .num = 2, .state = TG_INFORMER_LISTING},
    /* The same when the server ends the response normally after the ERROR line. */
    {PAGE, .arg = LIST("700", "", OBJ("a", "110")), .what = TG_INFORMER_DO_WATCH, .str = "700",
     .num = 300, .state = TG_INFORMER_WATCHING},
    {DATA, .arg = GONE, .rc = TG_EGONE},
    {CLOSED, .err = 0, .rc = TG_EGONE, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2,
     .state = TG_INFORMER_LISTING},
    {STATS, .arg = "5 4 4 3 4"},
};

static const struct step list_failures[] = {
    {START, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2, .state = TG_INFORMER_LISTING},
    {LIST_FAIL, .err = TG_ETRANSIENT, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 1000,
     .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2, .state = TG_INFORMER_LISTING},
    {PAGE, .arg = LIST("100", "c1", OBJ("a", "90") "," OBJ("b", "91")), .what = TG_INFORMER_DO_LIST,
     .str = "c1", .num = 2, .state = TG_INFORMER_LISTING},
    /* The continue token expired: start over from the first page at once. */
    {LIST_FAIL, .err = TG_EGONE, .rc = TG_EGONE, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2,
     .state = TG_INFORMER_LISTING},
    /* A response that is not a list is a failure too (the backoff keeps growing). */
    {PAGE, .arg = "{\"metadata\":{\"resourceVersion\":\"1\"}}", .rc = TG_EINVALID,
     .what = TG_INFORMER_DO_WAIT, .num = 2000, .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2, .state = TG_INFORMER_LISTING},
    {PAGE, .arg = "{\"items\":[]}", .rc = TG_EINVALID, .what = TG_INFORMER_DO_WAIT, .num = 4000,
     .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2, .state = TG_INFORMER_LISTING},
    /* An item without a name is skipped; the others are stored. */
    {PAGE, .arg = LIST("100", "", "{\"metadata\":{}}," OBJ("a", "90")),
     .what = TG_INFORMER_DO_WATCH, .str = "100", .num = 300, .state = TG_INFORMER_WATCHING},
    {CACHE, .arg = "shop/a@90"},
    {STATS, .arg = "5 0 1 0 1"},
};

static const struct step clean_but_instant_ends_back_off[] = {
    {START, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2, .state = TG_INFORMER_LISTING},
    {PAGE, .arg = LIST("100", "", ""), .what = TG_INFORMER_DO_WATCH, .str = "100", .num = 300,
     .state = TG_INFORMER_WATCHING},
    /* Ended cleanly after 10 ms with nothing: a proxy refusing, not a timeout. */
    {ADVANCE, .num = 10},
    {CLOSED, .err = 0, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 1000,
     .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "100", .num = 300, .state = TG_INFORMER_WATCHING},
    /* A quiet watch that ran its course is fine. */
    {ADVANCE, .num = 300000},
    {CLOSED, .err = 0, .what = TG_INFORMER_DO_WATCH, .str = "100", .num = 300,
     .state = TG_INFORMER_WATCHING},
    /* The stream ended inside an event: what came before it counts, then resume after 1 s. */
    {DATA, .arg = EVENT("ADDED", OBJ("a", "101")) "{\"type\":\"ADDED\",\"obj"},
    {CLOSED, .err = 0, .rc = TG_ETRANSIENT, .what = TG_INFORMER_DO_WAIT, .num = 1000,
     .state = TG_INFORMER_BACKOFF},
    {TIMER, .what = TG_INFORMER_DO_WATCH, .str = "101", .num = 300, .state = TG_INFORMER_WATCHING},
    {CACHE, .arg = "shop/a@101"},
};

static const struct step unexpected_inputs_are_ignored[] = {
    {TIMER, .rc = TG_EINVALID, .what = TG_INFORMER_DO_NOTHING, .state = TG_INFORMER_IDLE},
    {CLOSED, .rc = TG_EINVALID, .what = TG_INFORMER_DO_NOTHING, .state = TG_INFORMER_IDLE},
    {DATA, .arg = EVENT("ADDED", OBJ("a", "1")), .rc = TG_EINVALID},
    {START, .what = TG_INFORMER_DO_LIST, .str = "", .num = 2, .state = TG_INFORMER_LISTING},
    {START, .rc = TG_EINVALID, .what = TG_INFORMER_DO_NOTHING, .state = TG_INFORMER_LISTING},
    {TIMER, .rc = TG_EINVALID, .what = TG_INFORMER_DO_NOTHING, .state = TG_INFORMER_LISTING},
    {PAGE, .arg = LIST("100", "", ""), .what = TG_INFORMER_DO_WATCH, .str = "100", .num = 300,
     .state = TG_INFORMER_WATCHING},
    /* A late page of a list the informer gave up on changes nothing. */
    {PAGE, .arg = LIST("90", "", OBJ("z", "1")), .rc = TG_EINVALID, .what = TG_INFORMER_DO_NOTHING,
     .state = TG_INFORMER_WATCHING},
    {LIST_FAIL, .err = TG_ETRANSIENT, .rc = TG_EINVALID, .what = TG_INFORMER_DO_NOTHING,
     .state = TG_INFORMER_WATCHING},
    {CACHE, .arg = ""},
    {STOP, .arg = NULL},
    {CLOSED, .rc = TG_ECANCELED, .what = TG_INFORMER_DO_NOTHING, .state = TG_INFORMER_STOPPED},
    {TIMER, .rc = TG_ECANCELED, .what = TG_INFORMER_DO_NOTHING, .state = TG_INFORMER_STOPPED},
};

#define SCENARIO(name)                                                                             \
    static void test_##name(void **state)                                                          \
    {                                                                                              \
        (void)state;                                                                               \
        run_steps(name, sizeof(name) / sizeof(name[0]));                                           \
    }

SCENARIO(list_then_watch_then_resume)
SCENARIO(disconnects_back_off_and_resume_without_relisting)
SCENARIO(gone_relists_and_deletes_what_vanished)
SCENARIO(list_failures)
SCENARIO(clean_but_instant_ends_back_off)
SCENARIO(unexpected_inputs_are_ignored)

static void has_synced_follows_the_first_list(void **state)
{
    struct fixture f;
    struct tg_informer_action a;

    (void)state;
    setup(&f);
    assert_false(tg_informer_has_synced(f.inf));
    assert_string_equal(tg_informer_resource_version(f.inf), "");
    tg_informer_start(f.inf, &a);
    struct json_object *l = json_tokener_parse(LIST("7", "", OBJ("a", "7")));
    assert_int_equal(tg_informer_list_page(f.inf, l, &a), 0);
    json_object_put(l);
    assert_true(tg_informer_has_synced(f.inf));
    assert_string_equal(tg_informer_resource_version(f.inf), "7");
    teardown(&f);
}

static void default_jitter_stays_in_bounds(void **state)
{
    struct tg_fake_clock clock;
    struct tg_cache *c;
    struct tg_informer *inf;
    struct tg_informer_action a;

    (void)state;
    tg_fake_clock_init(&clock, 12345, 0);
    assert_int_equal(tg_cache_new(NULL, &c), 0);
    assert_int_equal(tg_informer_new(c, &clock.base, NULL, &inf), 0);
    assert_int_equal(tg_informer_start(inf, &a), 0);
    assert_int_equal(a.limit, 100);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(tg_informer_list_failed(inf, TG_ETRANSIENT, &a), TG_ETRANSIENT);
        uint64_t base = i < 5 ? 1000u << i : 30000;
        assert_true(a.wait_ms >= base && a.wait_ms <= 30000 && a.wait_ms <= base + base / 2);
        assert_int_equal(tg_informer_timer_fired(inf, &a), 0);
    }
    struct json_object *l = json_tokener_parse(LIST("7", "", ""));
    assert_int_equal(tg_informer_list_page(inf, l, &a), 0);
    json_object_put(l);
    assert_true(a.timeout_seconds >= 300 && a.timeout_seconds < 600);
    tg_informer_free(inf);
    tg_cache_free(c);
}

#define CTL_JSON                                                                                   \
    "{\"metadata\":{\"name\":\"web-canary\",\"namespace\":\"shop\","                               \
    "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","                          \
    "\"name\":\"cm\",\"uid\":\"1\"},{\"apiVersion\":\"tollgate.io/"                                \
    "v1alpha1\",\"kind\":\"Rollout\",\"name\":\"web\",\"uid\":\"2\","                              \
    "\"controller\":true}]}}"
#define NOT_CTL_JSON                                                                               \
    "{\"metadata\":{\"name\":\"x\",\"namespace\":\"shop\","                                        \
    "\"ownerReferences\":[{\"apiVersion\":\"tollgate.io/v1alpha1\","                               \
    "\"kind\":\"Rollout\",\"name\":\"web\",\"controller\":false}]}}"
#define STRING_CTL_JSON                                                                            \
    "{\"metadata\":{\"name\":\"x\",\"namespace\":\"shop\","                                        \
    "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":"                                        \
    "\"Rollout\",\"name\":\"web\",\"controller\":\"true\"}]}}"
#define CORE_JSON                                                                                  \
    "{\"metadata\":{\"name\":\"pod\",\"namespace\":\"shop\","                                      \
    "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":"                                        \
    "\"ReplicationController\",\"name\":\"rc\",\"controller\":true}]}}"
#define CLUSTER_JSON                                                                               \
    "{\"metadata\":{\"name\":\"crb\",\"ownerReferences\":[{"                                       \
    "\"apiVersion\":\"tollgate.io/v1alpha1\",\"kind\":\"Rollout\","                                \
    "\"name\":\"web\",\"controller\":true}]}}"

static void owner_key_table(void **state)
{
    static const struct {
        const char *json, *group, *kind;
        size_t size;
        int rc;
        const char *key;
    } cases[] = {
        {CTL_JSON, "tollgate.io", "Rollout", 64, 0, "shop/web"},
        {CTL_JSON, NULL, "Rollout", 64, 0, "shop/web"},
        {CTL_JSON, "apps", "Rollout", 64, TG_ENOTFOUND, NULL},
        {CTL_JSON, "tollgate.io", "Release", 64, TG_ENOTFOUND, NULL},
        {CTL_JSON, NULL, "ConfigMap", 64, TG_ENOTFOUND, NULL},
        {CTL_JSON, "tollgate.io", "Rollout", 8, TG_EINVALID, NULL},
        {NOT_CTL_JSON, NULL, "Rollout", 64, TG_ENOTFOUND, NULL},
        {STRING_CTL_JSON, NULL, "Rollout", 64, TG_ENOTFOUND, NULL},
        {CORE_JSON, "", "ReplicationController", 64, 0, "shop/rc"},
        {CORE_JSON, "tollgate.io", "ReplicationController", 64, TG_ENOTFOUND, NULL},
        {CLUSTER_JSON, "tollgate.io", "Rollout", 64, 0, "web"},
        {"{\"metadata\":{\"name\":\"x\"}}", NULL, "Rollout", 64, TG_ENOTFOUND, NULL},
        {"{}", NULL, "Rollout", 64, TG_ENOTFOUND, NULL},
    };
    char key[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *o = json_tokener_parse(cases[i].json);
        assert_non_null(o);
        int rc = tg_informer_owner_key(o, cases[i].group, cases[i].kind, key, cases[i].size);
        if (rc != cases[i].rc)
            fail_msg("case %zu: %s, want %s", i, tg_error_name(rc), tg_error_name(cases[i].rc));
        if (cases[i].key)
            assert_string_equal(key, cases[i].key);
        json_object_put(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_then_watch_then_resume),
        cmocka_unit_test(test_disconnects_back_off_and_resume_without_relisting),
        cmocka_unit_test(test_gone_relists_and_deletes_what_vanished),
        cmocka_unit_test(test_list_failures),
        cmocka_unit_test(test_clean_but_instant_ends_back_off),
        cmocka_unit_test(test_unexpected_inputs_are_ignored),
        cmocka_unit_test(has_synced_follows_the_first_list),
        cmocka_unit_test(default_jitter_stays_in_bounds),
        cmocka_unit_test(owner_key_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
