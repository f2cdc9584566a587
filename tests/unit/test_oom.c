/*
 * Allocation-failure injection (issue #3: the runtime must never crash or leak when memory runs
 * out). Each case runs one operation of a pure module again and again, making the Nth
 * allocation fail for N = 1, 2, 3, ... until a run completes without reaching an Nth
 * allocation. At every N it asserts that nothing crashed (ASan/UBSan abort the binary), that
 * the operation returned what it returns without injection or TG_ENOMEM (with a last-error
 * message), that a success under injection produced exactly the reference result (a failure
 * may be absorbed, never silently lose data), and, after each case, that LeakSanitizer finds
 * nothing unreachable (everything the API says to free having been freed).
 *
 * How the hook works, and what it cannot see. This executable alone is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup (see
 * tests/CMakeLists.txt): every undefined reference to those functions in the objects of this
 * link, which includes the members of the static library tollgate_core, goes to the __wrap_*
 * functions below, which count the calls made while the hook is armed and fail the chosen one.
 * Allocations made inside shared libraries are NOT affected: json-c (json_object_new_*, the
 * tokener, json_object_to_json_string), libzstd (the cache's compression contexts and
 * dictionary training), libc itself (what vasprintf or regcomp allocate inside), libcurl and
 * libuv. So an
 * operation is tested against the failure of each allocation tollgate's own code makes, not
 * against json-c returning NULL. The test's own code is linked the same way, which is why the
 * hook is armed only around the operation under test (and callbacks called from it do not
 * allocate). test_hook_sees_core_allocations checks that the wrap reaches the library's code.
 *
 * Cost. Every N is tried up to OOM_EXHAUSTIVE; past it N advances by a stride that keeps a case
 * to about OOM_MAX_RUNS runs. The cases below all make fewer allocations than that (the
 * largest, the cache with compression, about 120), so today every allocation of every case is
 * failed once; the whole test takes about 10 s under ASan/UBSan. Each case's summary line
 * (allocations, runs, stride, failures absorbed) goes to stderr; TG_OOM_VERBOSE=1 also names
 * each absorbed allocation. Absorbed failures seen: the queue's and the cache's hash tables
 * keep their size (longer chains) and the cache stores text uncompressed when training or
 * compressing runs out of memory; the checks confirm the results are unchanged.
 *
 * What it does not do: fail json-c, zstd or libc allocations (above), fail several allocations
 * in one run (after the injected failure the rest succeed), or cover the I/O modules (HTTP
 * client, informer, reflector, server), whose allocations go mostly through libcurl, libuv and
 * libwebsockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#define OOM_LEAK_CHECK() __lsan_do_recoverable_leak_check()
#define OOM_TRACE()      __sanitizer_print_stack_trace()
#else
/* Without the sanitizers there is no leak checker to ask and no stack printer. */
#define OOM_LEAK_CHECK() 0
#define OOM_TRACE()      fputs("test_oom: TG_OOM_TRACE needs the sanitizer build\n", stderr)
#endif

#include "analysis/promql.h"
#include "kube/cache.h"
#include "kube/queue.h"
#include "kube/watch.h"
#include "plan_testlib.h"
#include "util/clock.h"
#include "util/error.h"

#define OOM_EXHAUSTIVE 64
#define OOM_MAX_RUNS   400
#define OOM_RUN_CAP    200000 /* no operation makes this many allocations: a runaway loop */

/* ---- the hook ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

static struct {
    bool armed;    /* counting (and failing) allocations */
    long count;    /* allocations counted since armed */
    long fail_at;  /* the allocation to fail, 1-based; 0: none */
    long injected; /* failures injected since armed */
} oom;

static bool oom_fail(void)
{
    if (!oom.armed)
        return false;
    if (++oom.count != oom.fail_at)
        return false;
    oom.injected++;
    if (getenv("TG_OOM_TRACE"))
        OOM_TRACE();
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n)
{
    return oom_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return oom_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return oom_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return oom_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return oom_fail() ? NULL : __real_strndup(s, n);
}

static void oom_arm(long fail_at)
{
    oom.count = 0;
    oom.injected = 0;
    oom.fail_at = fail_at;
    oom.armed = true;
}

static void oom_disarm(void)
{
    oom.armed = false;
}

/* ---- the sweep ---- */

/*
 * One case: setup and teardown run unarmed; run is the operation, armed; check (unarmed) gets
 * its return code and whether a failure was injected, asserts and frees the result.
 */
struct oom_case {
    const char *name;
    void *ctx;
    void (*setup)(void *ctx);
    int (*run)(void *ctx);
    void (*check)(void *ctx, int rc, bool injected);
    void (*teardown)(void *ctx);
};

static int oom_ref_rc;  /* what the operation returns without injection */
static bool oom_is_ref; /* in check: this is the reference run, whose result to keep */
static int oom_last_rc; /* what the last run returned */

/* Runs c once failing allocation fail_at (0: none); returns the allocations counted. */
static long oom_once(const struct oom_case *c, long fail_at, bool *injected)
{
    if (c->setup)
        c->setup(c->ctx);
    tg_error_clear();
    oom_arm(fail_at);
    int rc = c->run(c->ctx);
    oom_disarm();
    oom_last_rc = rc;
    long count = oom.count;
    *injected = oom.injected > 0;
    oom_is_ref = fail_at == 0;
    if (fail_at == 0) {
        oom_ref_rc = rc;
    } else if (rc != oom_ref_rc) {
        if (rc != TG_ENOMEM)
            fail_msg("%s: allocation %ld failed: returned %s (%s), want %s or TG_ENOMEM", c->name,
                     fail_at, tg_error_name(rc), tg_error_last(), tg_error_name(oom_ref_rc));
        if (!*injected)
            fail_msg("%s: TG_ENOMEM with no failure injected", c->name);
        if (tg_error_last()[0] == '\0')
            fail_msg("%s: allocation %ld failed: TG_ENOMEM without a message", c->name, fail_at);
    }
    if (c->check)
        c->check(c->ctx, rc, *injected);
    if (c->teardown)
        c->teardown(c->ctx);
    return count;
}

/* Sweeps N over c's allocations; see the head comment. Returns the reference count. */
static long oom_sweep(const struct oom_case *c)
{
    bool injected = false;
    long total = oom_once(c, 0, &injected);
    long stride = total > OOM_MAX_RUNS ? total / OOM_MAX_RUNS : 1;
    long runs = 0, absorbed = 0;

    assert_false(injected);
    if (total == 0)
        fail_msg("%s: no allocation seen by the hook", c->name);
    for (long n = 1;; n += n < OOM_EXHAUSTIVE ? 1 : stride) {
        int before = oom_ref_rc;
        assert_true(n < OOM_RUN_CAP);
        oom_once(c, n, &injected);
        oom_ref_rc = before;
        runs++;
        if (!injected)
            break;
        if (oom_last_rc != TG_ENOMEM) {
            absorbed++;
            if (getenv("TG_OOM_VERBOSE"))
                fprintf(stderr, "oom: %s: allocation %ld failed, absorbed (%s)\n", c->name, n,
                        tg_error_name(oom_last_rc));
        }
    }
    if (OOM_LEAK_CHECK())
        fail_msg("%s: leaks under allocation failure (see the report above)", c->name);
    fprintf(stderr, "oom: %-48s %5ld allocations, %4ld runs (stride %ld), %ld absorbed\n", c->name,
            total, runs, stride, absorbed);
    return total;
}

/* ---- the hook itself ---- */

static int run_queue_new(void *ctx)
{
    struct tg_queue **q = ctx;
    return tg_queue_new(NULL, tg_clock_system(), q);
}

static void test_hook_sees_core_allocations(void **state)
{
    struct tg_queue *q = NULL;

    (void)state;
    oom_arm(1);
    int rc = run_queue_new(&q);
    oom_disarm();
    /* tg_queue_new's first calloc lives in libtollgate_core.a: the wrap must reach it. */
    assert_int_equal(rc, TG_ENOMEM);
    assert_int_equal(oom.count, 1);
    assert_null(q);
    oom_arm(0);
    assert_int_equal(run_queue_new(&q), 0);
    oom_disarm();
    assert_true(oom.count >= 4);
    tg_queue_free(q);
    /* Outside the armed window nothing is counted nor failed. */
    long before = oom.count;
    void *p = malloc(16);
    assert_non_null(p);
    assert_int_equal(oom.count, before);
    free(p);
}

/* ---- promql ---- */

struct promql_ctx {
    struct tg_buf out;
    char ref[1024];
};

static const char promql_tmpl[] =
    "sum(rate(http_requests_total{namespace=\"{{namespace}}\",track=\"{{ track }}\","
    "code=~\"5..\"}[{{interval}}])) / sum(rate(http_requests_total{namespace=\"{{namespace}}\","
    "track=\"{{track}}\"}[{{interval}}])) and on() vector({{ bias }})";

static int run_promql_render(void *ctx)
{
    struct promql_ctx *p = ctx;
    static const struct tg_promql_var vars[] = {
        {"namespace", "shop \"eu\"\\west"},
        {"track", "canary\n"},
        {"interval", "30s"},
        {"bias", "1"},
    };
    tg_buf_init(&p->out, 4096);
    return tg_promql_render(promql_tmpl, vars, 4, &p->out);
}

static void check_promql_render(void *ctx, int rc, bool injected)
{
    (void)injected;
    struct promql_ctx *p = ctx;
    if (rc == 0 && oom_is_ref)
        snprintf(p->ref, sizeof(p->ref), "%s", p->out.data);
    if (rc == 0)
        assert_string_equal(p->out.data, p->ref);
    tg_buf_free(&p->out);
}

static void test_promql_render(void **state)
{
    struct promql_ctx p;
    struct oom_case c = {"promql render", &p, NULL, run_promql_render, check_promql_render, NULL};

    (void)state;
    memset(&p, 0, sizeof(p));
    oom_sweep(&c);
}

struct prom_ctx {
    const char *body;
    struct tg_prom_result res;
    struct tg_prom_result ref;
};

static int run_prom_parse(void *ctx)
{
    struct prom_ctx *p = ctx;
    return tg_prom_parse(p->body, strlen(p->body), &p->res);
}

static bool prom_equal(const struct tg_prom_result *a, const struct tg_prom_result *b)
{
    if (a->type != b->type || a->n_series != b->n_series)
        return false;
    for (size_t i = 0; i < a->n_series; i++) {
        const struct tg_prom_series *x = &a->series[i], *y = &b->series[i];
        if (strcmp(x->labels, y->labels) != 0 || x->n != y->n)
            return false;
        for (size_t k = 0; k < x->n; k++)
            if (x->times[k] != y->times[k] ||
                (x->values[k] != y->values[k] && !(isnan(x->values[k]) && isnan(y->values[k]))))
                return false;
    }
    return true;
}

static void check_prom_parse(void *ctx, int rc, bool injected)
{
    struct prom_ctx *p = ctx;
    (void)injected;
    if (rc == 0 && oom_is_ref) {
        p->ref = p->res;
        memset(&p->res, 0, sizeof(p->res));
        return;
    }
    if (rc == 0)
        assert_true(prom_equal(&p->res, &p->ref));
    else /* a failed parse leaves nothing to free: the result is empty */
        assert_true(p->res.n_series == 0 && p->res.series == NULL);
    tg_prom_result_free(&p->res);
}

static void prom_case(const char *name, const char *body)
{
    struct prom_ctx p;
    struct oom_case c = {name, &p, NULL, run_prom_parse, check_prom_parse, NULL};

    memset(&p, 0, sizeof(p));
    p.body = body;
    oom_sweep(&c);
    tg_prom_result_free(&p.ref);
}

static void test_promql_parse(void **state)
{
    (void)state;
    prom_case("promql parse vector",
              "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
              "{\"metric\":{\"track\":\"canary\",\"code\":\"500\"},\"value\":[1700000000,\"0.5\"]},"
              "{\"metric\":{},\"value\":[1700000000,\"NaN\"]},"
              "{\"metric\":{\"b\":\"2\",\"a\":\"1\"},\"value\":[1700000000.5,\"+Inf\"]}]}}");
    prom_case("promql parse matrix",
              "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
              "{\"metric\":{\"track\":\"canary\"},\"values\":[[1,\"1\"],[6,\"2\"],[11,\"3\"]]},"
              "{\"metric\":{\"track\":\"baseline\"},\"values\":[[1,\"4\"],[6,\"5\"]]}]}}");
    prom_case("promql parse scalar", "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
                                     "\"result\":[1700000000,\"42\"]}}");
}

/* ---- the watch framer ---- */

#define WATCH_EVENTS 8

struct watch_ctx {
    struct tg_watch w;
    bool init_ok;
    char seen[WATCH_EVENTS][64]; /* "TYPE name rv" of each event, filled without allocating */
    size_t n_seen;
    char ref[WATCH_EVENTS][64];
    size_t n_ref;
};

static int watch_event(void *ctx, enum tg_watch_type type, struct json_object *obj)
{
    struct watch_ctx *c = ctx;
    json_object *m = NULL, *name = NULL;
    if (c->n_seen == WATCH_EVENTS)
        return 0;
    json_object_object_get_ex(obj, "metadata", &m);
    json_object_object_get_ex(m, "name", &name);
    snprintf(c->seen[c->n_seen++], sizeof(c->seen[0]), "%s %s", tg_watch_type_name(type),
             json_object_get_string(name));
    return 0;
}

static const char watch_stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"},"
    "\"spec\":{\"replicas\":3,\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}}}}}}\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"8\"}}}\n"
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"9\"}}}";

static void setup_watch(void *ctx)
{
    struct watch_ctx *c = ctx;
    memset(c->seen, 0, sizeof(c->seen));
    c->n_seen = 0;
}

/* Init, then the stream in 7-byte chunks (tails carried between chunks), then finish. */
static int run_watch(void *ctx)
{
    struct watch_ctx *c = ctx;
    size_t len = strlen(watch_stream);
    int rc = tg_watch_init(&c->w, 0, watch_event, c);
    c->init_ok = rc == 0;
    for (size_t off = 0; rc == 0 && off < len; off += 7)
        rc = tg_watch_feed(&c->w, watch_stream + off, len - off < 7 ? len - off : 7);
    if (rc == 0)
        rc = tg_watch_finish(&c->w);
    return rc;
}

static void check_watch(void *ctx, int rc, bool injected)
{
    struct watch_ctx *c = ctx;
    (void)injected;
    if (oom_is_ref) {
        assert_int_equal(rc, 0);
        memcpy(c->ref, c->seen, sizeof(c->ref));
        c->n_ref = c->n_seen;
    }
    /* Events handed out before a failure are the stream's, in order; a success has them all. */
    assert_true(c->n_seen <= c->n_ref);
    for (size_t i = 0; i < c->n_seen; i++)
        assert_string_equal(c->seen[i], c->ref[i]);
    if (rc == 0)
        assert_int_equal(c->n_seen, c->n_ref);
    if (rc == TG_ENOMEM && c->init_ok) {
        /* The error is sticky until a restart, after which the decoder works again. */
        assert_int_equal(tg_watch_feed(&c->w, "\n", 1), TG_ENOMEM);
        tg_watch_restart(&c->w);
        c->n_seen = 0;
        const char *line =
            "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"z\",\"resourceVersion\":"
            "\"10\"}}}\n";
        assert_int_equal(tg_watch_feed(&c->w, line, strlen(line)), 0);
        assert_int_equal(c->n_seen, 1);
        assert_string_equal(tg_watch_resource_version(&c->w), "10");
    }
    tg_watch_free(&c->w);
}

static void test_watch(void **state)
{
    struct watch_ctx c;
    struct oom_case oc = {"watch framer", &c, setup_watch, run_watch, check_watch, NULL};

    (void)state;
    memset(&c, 0, sizeof(c));
    oom_sweep(&oc);
}

/* ---- the work queue ---- */

#define QUEUE_KEYS 40

struct queue_ctx {
    struct tg_fake_clock clock;
    struct tg_queue *q;
    bool added[QUEUE_KEYS]; /* adds that returned 0 */
    int step;               /* the step that failed, or -1 */
};

static void queue_key(char *buf, size_t n, int i)
{
    snprintf(buf, n, "ns-%d/rollout-%d", i % 3, i);
}

static void setup_queue(void *ctx)
{
    struct queue_ctx *c = ctx;
    memset(c->added, 0, sizeof(c->added));
    c->q = NULL;
    c->step = -1;
    tg_fake_clock_init(&c->clock, 1000, 1700000000000);
}

/*
 * Creates a queue, then adds keys enough to grow the table, the ring and the heap, a third
 * at once, a third delayed, a third rate-limited; hands some out and re-adds them while they
 * are processing.
 */
static int run_queue(void *ctx)
{
    struct queue_ctx *c = ctx;
    char key[64];
    int rc = tg_queue_new(NULL, &c->clock.base, &c->q);
    for (int i = 0; rc == 0 && i < QUEUE_KEYS; i++) {
        queue_key(key, sizeof(key), i);
        if (i % 3 == 0)
            rc = tg_queue_add(c->q, key);
        else if (i % 3 == 1)
            rc = tg_queue_add_after(c->q, key, 100 + (uint64_t)i);
        else
            rc = tg_queue_add_rate_limited(c->q, key);
        if (rc == 0)
            c->added[i] = true;
        else
            c->step = i;
    }
    return rc;
}

static void check_queue(void *ctx, int rc, bool injected)
{
    struct queue_ctx *c = ctx;
    int handed[QUEUE_KEYS] = {0};
    const char *k;
    (void)injected;
    if (!c->q) {
        assert_int_equal(rc, TG_ENOMEM);
        return;
    }
    /* Every key whose add succeeded is handed out exactly once; no other key is. */
    c->clock.mono_ms += 10u * 1000 * 1000;
    tg_queue_tick(c->q);
    while (tg_queue_get(c->q, &k)) {
        int i = -1;
        for (int j = 0; j < QUEUE_KEYS; j++) {
            char key[64];
            queue_key(key, sizeof(key), j);
            if (strcmp(key, k) == 0)
                i = j;
        }
        assert_true(i >= 0);
        if (i >= 0)
            handed[i]++;
        assert_int_equal(tg_queue_done(c->q, k), 0);
    }
    for (int i = 0; i < QUEUE_KEYS; i++)
        assert_int_equal(handed[i], c->added[i] ? 1 : 0);
    /* The queue stays usable: the failed key can be added now. */
    if (c->step >= 0) {
        char key[64];
        queue_key(key, sizeof(key), c->step);
        assert_int_equal(tg_queue_add(c->q, key), 0);
        assert_true(tg_queue_get(c->q, &k));
        assert_string_equal(k, key);
        assert_int_equal(tg_queue_done(c->q, k), 0);
    }
    tg_queue_free(c->q);
    c->q = NULL;
}

static void test_queue(void **state)
{
    struct queue_ctx c;
    struct oom_case oc = {"work queue", &c, setup_queue, run_queue, check_queue, NULL};

    (void)state;
    memset(&c, 0, sizeof(c));
    oom_sweep(&oc);
}

/* ---- the cache ---- */

#define CACHE_KEYS 300 /* the most keys a case uses */

/*
 * The test's model of the cache (what the operations that returned 0 did) and the handler's
 * view (what the change events said), both per key: 0 when absent, else the version held.
 */
struct cache_ctx {
    struct tg_cache *c;
    int model[CACHE_KEYS];
    int seen[CACHE_KEYS];
    int failed_key; /* the key of the operation that failed, or -1 */
    int bad_events; /* events without the previous state where the contract promises one */
    int n;          /* objects added first; keys 0 .. n + 7 are used */
    size_t compress_after;
    size_t compressed; /* objects held compressed at the end of the reference run */
};

static void cache_key(char *buf, size_t n, int i)
{
    snprintf(buf, n, "ns-%d/obj-%d", i % 3, i);
}

static int cache_key_index(const char *key)
{
    const char *dash = strrchr(key, '-');
    return dash ? (int)strtol(dash + 1, NULL, 10) : -1;
}

static int cache_version(json_object *o)
{
    json_object *spec = NULL, *v = NULL;
    json_object_object_get_ex(o, "spec", &spec);
    json_object_object_get_ex(spec, "version", &v);
    return v ? json_object_get_int(v) : -1;
}

/*
 * Object i at version v (> 0): resourceVersion 1000 * v + i; its labels vary with both, one of
 * them (id) new at every version, so that every add and update makes an index entry.
 */
static json_object *cache_object(int i, int v)
{
    char buf[2048];
    snprintf(
        buf, sizeof(buf),
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
        "\"name\":\"obj-%d\",\"namespace\":\"ns-%d\",\"resourceVersion\":\"%d\","
        "\"uid\":\"uid-%d\",\"labels\":{\"app\":\"web-%d\",\"tier\":\"t%d\",\"id\":\"i%d-v%d\"},"
        "\"ownerReferences\":[{\"apiVersion\":\"tollgate.io/v1alpha1\",\"kind\":\"Rollout\","
        "\"name\":\"web\",\"uid\":\"owner-%d\",\"controller\":true}],"
        "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Apply\"}]},"
        "\"spec\":{\"version\":%d,\"replicas\":%d,\"template\":{\"metadata\":{\"labels\":{"
        "\"app\":\"web\",\"tollgate.io/track\":\"stable\"}},\"spec\":{\"containers\":[{"
        "\"name\":\"web\",\"image\":\"registry.example/shop/web@sha256:%064d\","
        "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}}}]}}},"
        "\"status\":{\"observedGeneration\":%d,\"readyReplicas\":%d}}",
        i, i % 3, 1000 * v + i, i, (i + v) % 4, i % 2, i, v, i % 5, v, i % 7 + 1, i * 7 + v, v,
        i % 7);
    return json_tokener_parse(buf);
}

static void cache_event(void *ctx, enum tg_cache_op op, const char *key, json_object *old_obj,
                        json_object *new_obj)
{
    struct cache_ctx *c = ctx;
    int i = cache_key_index(key);
    if (i < 0 || i >= CACHE_KEYS)
        return;
    if ((op == TG_CACHE_UPDATED || op == TG_CACHE_DELETED) && !old_obj)
        c->bad_events++;
    if (op == TG_CACHE_ADDED || op == TG_CACHE_UPDATED)
        c->seen[i] = cache_version(new_obj);
    else if (op == TG_CACHE_DELETED)
        c->seen[i] = 0;
}

static void setup_cache(void *ctx)
{
    struct cache_ctx *c = ctx;
    memset(c->model, 0, sizeof(c->model));
    memset(c->seen, 0, sizeof(c->seen));
    c->c = NULL;
    c->failed_key = -1;
    c->bad_events = 0;
}

/* Upserts object i at version v, keeping the model; returns as tg_cache_upsert. */
static int cache_put(struct cache_ctx *c, int i, int v, bool relist)
{
    json_object *o = cache_object(i, v);
    int rc = relist ? tg_cache_replace_item(c->c, o) : tg_cache_upsert(c->c, o, NULL);
    json_object_put(o);
    if (rc == 0 && v > c->model[i])
        c->model[i] = v;
    else if (rc != 0)
        c->failed_key = i;
    return rc;
}

/*
 * Creates a cache with a handler, adds n objects (compressing from compress_after on), updates
 * a third of them (labels and owners change), deletes one in seven, looks some up and lists an
 * index, then relists keys 4 to n + 7 (some at new versions, 8 new keys), which deletes the
 * rest.
 */
static int run_cache(void *ctx)
{
    struct cache_ctx *c = ctx;
    struct tg_cache_opts opts = {.compress_after = c->compress_after};
    int rc = tg_cache_new(&opts, &c->c);
    if (rc == 0)
        rc = tg_cache_add_handler(c->c, cache_event, c);
    for (int i = 0; rc == 0 && i < c->n; i++)
        rc = cache_put(c, i, 1, false);
    for (int i = 0; rc == 0 && i < c->n; i += 3)
        rc = cache_put(c, i, 2, false);
    for (int i = 1; rc == 0 && i < c->n; i += 7) {
        json_object *o = cache_object(i, 3);
        rc = tg_cache_delete(c->c, o, NULL);
        json_object_put(o);
        if (rc == 0)
            c->model[i] = 0;
        else
            c->failed_key = i;
    }
    for (int i = 0; rc == 0 && i < c->n; i += 5) {
        char key[64];
        cache_key(key, sizeof(key), i);
        if (c->model[i] && !tg_cache_get(c->c, key))
            rc = TG_ENOMEM; /* get returns NULL only when out of memory */
    }
    if (rc == 0) {
        json_object **items = NULL;
        size_t n = 0;
        rc = tg_cache_list(c->c, TG_CACHE_BY_LABEL, "app=web-1", &items, &n);
        free(items);
    }
    if (rc == 0)
        rc = tg_cache_replace_begin(c->c);
    for (int i = 4; rc == 0 && i < c->n + 8; i++) {
        rc = cache_put(c, i, i % 2 ? 4 : 1, true);
    }
    if (rc == 0) {
        rc = tg_cache_replace_end(c->c, NULL);
        if (rc == 0)
            for (int i = 0; i < 4; i++)
                c->model[i] = 0;
    }
    return rc;
}

static void check_cache(void *ctx, int rc, bool injected)
{
    struct cache_ctx *c = ctx;
    struct tg_cache_stats st;
    size_t held = 0;
    (void)injected;
    if (!c->c) {
        assert_int_equal(rc, TG_ENOMEM);
        return;
    }
    tg_cache_stats(c->c, &st);
    if (oom_is_ref) {
        c->compressed = st.compressed;
        if (c->compress_after != SIZE_MAX)
            assert_true(st.compressed > 0 && st.trainings > 0);
    }
    /* The handlers were always given the previous state where the contract promises it. */
    assert_int_equal(c->bad_events, 0);
    for (int i = 0; i < c->n + 8; i++) {
        char key[64];
        cache_key(key, sizeof(key), i);
        json_object *o = tg_cache_get(c->c, key);
        int have = o ? cache_version(o) : 0;
        /* What the handlers were told is what the cache holds... */
        if (have != c->seen[i])
            fail_msg("cache: allocation %ld failed: %s holds version %d, handlers saw %d",
                     oom.fail_at, key, have, c->seen[i]);
        /* ...and what the successful operations left, but for the one that failed. */
        if (i != c->failed_key && have != c->model[i])
            fail_msg("cache: allocation %ld failed: %s holds version %d, want %d", oom.fail_at, key,
                     have, c->model[i]);
        if (o) {
            char label[32];
            snprintf(label, sizeof(label), "app=web-%d", (i + have) % 4);
            held++;
            assert_true(tg_cache_contains(c->c, key));
            json_object **items = NULL;
            size_t n = 0;
            bool found = false;
            assert_int_equal(tg_cache_list(c->c, TG_CACHE_BY_LABEL, label, &items, &n), 0);
            for (size_t k = 0; k < n; k++)
                found = found || cache_key_index(json_object_get_string(json_object_object_get(
                                     json_object_object_get(items[k], "metadata"), "name"))) == i;
            free(items);
            assert_true(found);
        }
        tg_cache_release(c->c);
    }
    assert_int_equal(tg_cache_count(c->c, TG_CACHE_ALL, NULL), held);
    tg_cache_free(c->c);
    c->c = NULL;
}

static void cache_case(const char *name, int n, size_t compress_after)
{
    struct cache_ctx *c = calloc(1, sizeof(*c));
    struct oom_case oc = {name, c, setup_cache, run_cache, check_cache, NULL};

    c->n = n;
    c->compress_after = compress_after;
    oom_sweep(&oc);
    free(c);
}

static void test_cache(void **state)
{
    (void)state;
    cache_case("cache", 40, SIZE_MAX);
    cache_case("cache, compressed from 24 objects", 40, 24);
    /* The default threshold (256) runs the same code as the case above with 7 times the
     * objects; swept once by hand (587 runs, all passing) it took minutes under ASan. */
}

/* ---- spec parsing ---- */

/* A fingerprint of a parsed Rollout spec: its strings and counts, to compare two parses. */
static void fp_add(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fp_add(char *buf, size_t n, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    if (len < n)
        vsnprintf(buf + len, n - len, fmt, ap);
    va_end(ap);
}

static void fp_labels(char *buf, size_t n, const struct tg_label *l, size_t nl)
{
    for (size_t i = 0; i < nl; i++)
        fp_add(buf, n, "%s=%s,", l[i].key, l[i].value);
}

static void fp_analysis(char *buf, size_t n, const struct tg_analysis *a)
{
    fp_add(buf, n, "[");
    for (size_t i = 0; i < a->n_metrics; i++) {
        const struct tg_metric_spec *m = &a->metrics[i];
        fp_add(buf, n, "%s:%s:%lld:%d:%d;", m->name, m->query, (long long)m->interval_ms,
               (int)m->policy.count, (int)m->compare);
    }
    fp_labels(buf, n, a->args, a->n_args);
    fp_add(buf, n, "]");
}

static void fp_spec(char *buf, size_t n, const struct tg_rollout_spec *s)
{
    buf[0] = '\0';
    fp_add(buf, n, "%s/%s/%s/%d/%s:%d ", s->name, s->namespace ? s->namespace : "-",
           s->uid ? s->uid : "-", s->replicas, s->service.name, s->service.port);
    fp_labels(buf, n, s->selector, s->n_selector);
    fp_add(buf, n, " tmpl=%s ",
           s->pod_template ? json_object_to_json_string(s->pod_template) : "-");
    if (s->strategy == TG_STRATEGY_CANARY) {
        for (size_t i = 0; i < s->canary.n_steps; i++) {
            const struct tg_canary_step *st = &s->canary.steps[i];
            fp_add(buf, n, "step%zu:%d:%d:%lld", i, (int)st->kind, st->weight,
                   (long long)st->duration_ms);
            if (st->kind == TG_STEP_ANALYSIS)
                fp_analysis(buf, n, &st->analysis);
        }
        if (s->canary.has_background)
            fp_analysis(buf, n, &s->canary.background);
    } else {
        fp_add(buf, n, "bg:%s:%s", s->blue_green.active_service, s->blue_green.preview_service);
        if (s->blue_green.has_pre_promotion)
            fp_analysis(buf, n, &s->blue_green.pre_promotion);
        if (s->blue_green.has_post_promotion)
            fp_analysis(buf, n, &s->blue_green.post_promotion);
    }
    const struct tg_analysis_settings *an = &s->analysis;
    fp_add(buf, n, " analysis:%s:%d:", an->prometheus_address ? an->prometheus_address : "-",
           (int)an->baseline);
    fp_labels(buf, n, an->args, an->n_args);
    for (size_t i = 0; i < an->n_metrics; i++)
        fp_add(buf, n, "%s:%s;", an->metrics[i].name, an->metrics[i].query);
    for (size_t i = 0; i < an->n_smoke_tests; i++) {
        const struct tg_smoke_test *t = &an->smoke_tests[i];
        fp_add(buf, n, "smoke:%s:%d:%s:%s:%s;", t->name, (int)t->kind, t->url ? t->url : "-",
               t->method ? t->method : "-", t->body_pattern ? t->body_pattern : "-");
    }
}

static void fp_errors(char *buf, size_t n, const struct tg_field_errors *e)
{
    buf[0] = '\0';
    for (size_t i = 0; i < e->len; i++)
        fp_add(buf, n, "%s: %s; ", e->items[i].field, e->items[i].message);
    fp_add(buf, n, "+%zu", e->dropped);
}

struct spec_ctx {
    json_object *obj;
    bool release; /* a Release rather than a Rollout */
    struct tg_rollout_spec *spec;
    struct tg_release_spec *rel;
    struct tg_field_errors errs;
    char ref[16384];
    char got[16384];
};

static void setup_spec(void *ctx)
{
    struct spec_ctx *c = ctx;
    c->spec = NULL;
    c->rel = NULL;
    memset(&c->errs, 0, sizeof(c->errs));
}

static int run_spec(void *ctx)
{
    struct spec_ctx *c = ctx;
    if (c->release)
        return tg_release_spec_parse(c->obj, &c->rel, &c->errs);
    return tg_rollout_spec_parse(c->obj, &c->spec, &c->errs);
}

static void check_spec(void *ctx, int rc, bool injected)
{
    struct spec_ctx *c = ctx;
    if (rc == TG_ENOMEM) {
        assert_null(c->spec);
        assert_null(c->rel);
    } else if (rc == 0) {
        if (c->release)
            snprintf(c->got, sizeof(c->got), "%s %s", c->rel->spec_hash, c->rel->image);
        else
            fp_spec(c->got, sizeof(c->got), c->spec);
    } else {
        fp_errors(c->got, sizeof(c->got), &c->errs);
    }
    if (oom_is_ref)
        memcpy(c->ref, c->got, sizeof(c->ref));
    else if (injected && rc != TG_ENOMEM && strcmp(c->got, c->ref) != 0)
        fail_msg("spec: allocation %ld failed and was absorbed, but the result changed:\n got %s\n"
                 "want %s",
                 oom.fail_at, c->got, c->ref);
    tg_rollout_spec_free(c->spec);
    tg_release_spec_free(c->rel);
    tg_field_errors_free(&c->errs);
}

static void spec_sweep(const char *name, json_object *obj, bool release)
{
    struct spec_ctx *c = calloc(1, sizeof(*c));
    struct oom_case oc = {name, c, setup_spec, run_spec, check_spec, NULL};

    c->obj = obj;
    c->release = release;
    oom_sweep(&oc);
    free(c);
}

static void spec_case(const char *file, bool release)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/spec/%s", TG_FIXTURES_DIR, file);
    json_object *fx = json_object_from_file(path);
    assert_non_null(fx);
    spec_sweep(file, json_object_object_get(fx, "object"), release);
    json_object_put(fx);
}

/*
 * A Rollout whose one problem is found by a second rendering: the catalogue's query uses
 * {{region}}, which one step's args define and another step's do not. When that rendering ran
 * out of memory the problem was dropped without flagging it, and the invalid Rollout parsed as
 * valid (fixed in spec_analysis.c's check_resolved_query).
 */
static void test_spec_lost_problem(void **state)
{
    json_object *o = json_tokener_parse(
        "{\"apiVersion\":\"tollgate.io/v1alpha1\",\"kind\":\"Rollout\","
        "\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":{"
        "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
        "[{\"name\":\"web\",\"image\":\"registry.example/shop/web:placeholder\"}]}},"
        "\"service\":{\"name\":\"web\"},"
        "\"analysis\":{\"metrics\":[{\"name\":\"lat\",\"query\":\"lat{region=\\\"{{region}}\\\"}\","
        "\"max\":1}]},"
        "\"strategy\":{\"canary\":{\"steps\":[{\"analysis\":{\"args\":{\"region\":\"eu\"}}},"
        "{\"analysis\":{}}]}}}}");
    struct tg_rollout_spec *spec = NULL;
    struct tg_field_errors errs = {0};

    (void)state;
    assert_non_null(o);
    assert_int_equal(tg_rollout_spec_parse(o, &spec, &errs), TG_EINVALID);
    assert_int_equal(errs.len, 1);
    assert_non_null(strstr(errs.items[0].message, "neither spec.analysis.args nor these args"));
    tg_field_errors_free(&errs);
    spec_sweep("rollout with one problem found late", o, false);
    json_object_put(o);
}

static void test_spec(void **state)
{
    (void)state;
    spec_case("rollout-valid-analysis-overrides.json", false);
    spec_case("rollout-valid-analysis-bluegreen.json", false);
    spec_case("rollout-valid-canary-gateway.json", false);
    spec_case("rollout-invalid-analysis-metrics.json", false);
    spec_case("release-valid-full.json", true);
}

/* ---- the planner ---- */

/* The planner's input for one world, prepared unarmed: only tg_plan_build runs armed. */
struct plan_ctx {
    struct world *w;
    struct tg_rollout_spec *rs;
    struct tg_field_errors rerr;
    struct tg_plan_release *rels;
    struct tg_release_spec **specs;
    struct tg_field_errors *errs;
    json_object **objs;
    struct tg_plan_input in;
    struct tg_plan *plan;
    const char *ref; /* the reference plan as JSON text */
    char *ref_owned;
};

static void plan_prepare(struct plan_ctx *c, struct world *w, const struct tg_gate_result *res,
                         size_t n_res)
{
    size_t n = json_object_array_length(w->releases);
    size_t no = json_object_array_length(w->objects);

    memset(c, 0, sizeof(*c));
    c->w = w;
    c->rels = calloc(n ? n : 1, sizeof(*c->rels));
    c->specs = calloc(n ? n : 1, sizeof(*c->specs));
    c->errs = calloc(n ? n : 1, sizeof(*c->errs));
    c->objs = calloc(no + 1, sizeof(*c->objs));
    tg_rollout_spec_parse(w->rollout, &c->rs, &c->rerr);
    for (size_t i = 0; i < n; i++) {
        c->rels[i].obj = json_object_array_get_idx(w->releases, i);
        tg_release_spec_parse(c->rels[i].obj, &c->specs[i], &c->errs[i]);
        c->rels[i].spec = c->specs[i];
        c->rels[i].errors = &c->errs[i];
    }
    for (size_t i = 0; i < no; i++)
        c->objs[i] = json_object_array_get_idx(w->objects, i);
    c->in = (struct tg_plan_input){
        .rollout = w->rollout,
        .spec = c->rs,
        .errors = &c->rerr,
        .releases = c->rels,
        .n_releases = n,
        .objects = c->objs,
        .n_objects = no,
        .now_ms = w->now,
        .results = res,
        .n_results = n_res,
    };
}

static void plan_release_input(struct plan_ctx *c)
{
    for (size_t i = 0; i < c->in.n_releases; i++) {
        tg_release_spec_free(c->specs[i]);
        tg_field_errors_free(&c->errs[i]);
    }
    tg_rollout_spec_free(c->rs);
    tg_field_errors_free(&c->rerr);
    free(c->rels);
    free(c->specs);
    free(c->errs);
    free(c->objs);
    free(c->ref_owned);
}

static int run_plan(void *ctx)
{
    struct plan_ctx *c = ctx;
    c->plan = NULL;
    return tg_plan_build(&c->in, &c->plan);
}

static void check_plan(void *ctx, int rc, bool injected)
{
    struct plan_ctx *c = ctx;
    if (rc != 0) {
        assert_int_equal(rc, TG_ENOMEM);
        assert_null(c->plan);
        return;
    }
    json_object *j = tg_plan_to_json(c->plan);
    const char *got = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    (void)injected;
    if (oom_is_ref) {
        c->ref_owned = strdup(got);
        c->ref = c->ref_owned;
    } else if (strcmp(got, c->ref) != 0) {
        fprintf(stderr, "--- got\n%s\n--- want\n%s\n", got, c->ref);
        fail_msg("plan: allocation %ld failed and was absorbed, but the plan changed", oom.fail_at);
    }
    json_object_put(j);
    tg_plan_free(c->plan);
    c->plan = NULL;
}

/* Sweeps tg_plan_build on the world as it is, with results for the gates (if any). */
static void plan_sweep(const char *name, struct world *w, const struct tg_gate_result *res,
                       size_t n_res)
{
    struct plan_ctx c;
    struct oom_case oc = {name, &c, NULL, run_plan, check_plan, NULL};

    plan_prepare(&c, w, res, n_res);
    oom_sweep(&oc);
    plan_release_input(&c);
}

/*
 * One state of a walk: plans (sweeping tg_plan_build when sweep and the plan holds actions or
 * gates; gates are answered from the fixture's answers and the second plan, with the results,
 * is swept too), applies the plan and makes the Deployments ready; when nothing happened,
 * advances to the requeue time or, with nothing to wait for, promotes (as test_plan.c's walk).
 * Returns the number of actions applied.
 */
static size_t plan_state(const char *fixture, struct world *w, int *sweeps, int max_sweeps,
                         bool sweep, bool promote)
{
    static int promotes;
    struct tg_plan *p = NULL;
    char name[160];

    assert_int_equal(world_plan1(w, &p, NULL, 0), 0);
    sweep = sweep && *sweeps < max_sweeps;
    if (sweep && (p->n_actions > 0 || p->n_gates > 0)) {
        snprintf(name, sizeof(name), "plan %s, state %d", fixture, *sweeps);
        plan_sweep(name, w, NULL, 0);
        (*sweeps)++;
    }
    if (p->n_gates > 0 && w->answers) {
        size_t ng = p->n_gates;
        struct tg_gate_result *res = calloc(ng, sizeof(*res));
        struct tg_prom_result *proms = calloc(2 * ng, sizeof(*proms));
        size_t n = world_answer(w, p, res, proms);
        if (n > 0) {
            if (sweep) {
                snprintf(name, sizeof(name), "plan %s, state %d, %zu results", fixture, *sweeps, n);
                plan_sweep(name, w, res, n);
                (*sweeps)++;
            }
            /* The results borrow the gates' ids: plan again before freeing the first plan. */
            struct tg_plan *second = NULL;
            assert_int_equal(world_plan1(w, &second, res, n), 0);
            tg_plan_free(p);
            p = second;
        }
        for (size_t k = 0; k < 2 * ng; k++)
            tg_prom_result_free(&proms[k]);
        free(proms);
        free(res);
    }
    size_t na = p->n_actions;
    int64_t rq = p->requeue_after_ms;
    world_apply(w, p);
    tg_plan_free(p);
    world_deployments_ready(w);
    if (na > 0 || !promote)
        return na;
    if (rq > 0) {
        w->now += rq;
        return na;
    }
    char v[32];
    snprintf(v, sizeof(v), "oom-%d", ++promotes);
    json_object *m = tl_get(w->rollout, "metadata");
    if (!tl_get(m, "annotations"))
        json_object_object_add(m, "annotations", json_object_new_object());
    json_object_object_add(tl_get(m, "annotations"), TG_ANNOTATION_PROMOTE,
                           json_object_new_string(v));
    return na;
}

static bool plan_reached(struct world *w, json_object *until)
{
    json_object *o = world_find(w, tl_str(until, "kind"), tl_str(until, "name"));
    const char *phase = tl_str(tl_get(o, "status"), "phase");
    return phase && strcmp(phase, tl_str(until, "phase")) == 0;
}

/*
 * Runs a fixture's script (its walk, converge, plan, add, advance, set and answers steps; the
 * expectations are test_plan.c's business) and sweeps the planner at the first max_sweeps
 * states, once the script has added a Release or an object: mid-delivery, where a second
 * Release meets the first one's objects.
 */
static void plan_fixture(const char *fixture, int max_sweeps)
{
    char path[1024];
    struct world w;
    int sweeps = 0;
    bool added = false;

    snprintf(path, sizeof(path), "%s/%s", PLAN_FIXTURES, fixture);
    json_object *fx = tl_load(path);
    assert_non_null(fx);
    world_from(&w, fx);
    json_object *steps = tl_get(fx, "steps");
    for (size_t i = 0; i < json_object_array_length(steps); i++) {
        json_object *s = json_object_array_get_idx(steps, i);
        const char *what = tl_str(s, "do");
        if (strcmp(what, "walk") == 0) {
            for (int k = 0; k < 80 && !plan_reached(&w, tl_get(s, "until")); k++)
                plan_state(fixture, &w, &sweeps, max_sweeps, added, true);
        } else if (strcmp(what, "converge") == 0 || strcmp(what, "plan") == 0) {
            for (int k = 0; k < 40; k++)
                if (plan_state(fixture, &w, &sweeps, max_sweeps, added, false) == 0)
                    break;
        } else if (strcmp(what, "add") == 0) {
            json_object *rel = tl_resolve(tl_get(s, "release"));
            added = true;
            if (rel) {
                json_object *m = tl_get(rel, "metadata");
                if (!tl_get(m, "creationTimestamp")) {
                    char ts[32];
                    time_t secs = (time_t)(w.now / 1000);
                    struct tm tm;
                    gmtime_r(&secs, &tm);
                    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
                    json_object_object_add(m, "creationTimestamp", json_object_new_string(ts));
                }
                json_object_array_add(w.releases, rel);
            } else {
                json_object_array_add(w.objects, tl_resolve(tl_get(s, "object")));
            }
        } else if (strcmp(what, "advance") == 0 && tl_get(s, "ms")) {
            w.now += json_object_get_int64(tl_get(s, "ms"));
        } else if (strcmp(what, "set") == 0) {
            tl_merge(world_find(&w, tl_str(s, "kind"), tl_str(s, "name")), tl_get(s, "merge"));
        } else if (strcmp(what, "answers") == 0) {
            if (!w.answers)
                w.answers = json_object_new_object();
            tl_merge(w.answers, tl_get(s, "answers"));
        }
    }
    if (sweeps == 0)
        fail_msg("%s: no state to sweep", fixture);
    world_free(&w);
    json_object_put(fx);
}

static void test_plan_canary(void **state)
{
    (void)state;
    plan_fixture("walk-canary-gateway.json", 12);
}

static void test_plan_bluegreen(void **state)
{
    (void)state;
    plan_fixture("walk-bluegreen-auto.json", 12);
    plan_fixture("bluegreen-gates-pass.json", 12);
}

static void test_plan_analysis(void **state)
{
    (void)state;
    plan_fixture("canary-analysis-pass.json", 12);
    plan_fixture("canary-analysis-baseline-pass.json", 12);
    plan_fixture("canary-analysis-fail.json", 12);
    plan_fixture("canary-smoke-http.json", 8);
}

int main(void)
{
    (void)world_plan; /* plan_testlib.h's, unused here: the walk plans the two passes itself */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_sees_core_allocations),
        cmocka_unit_test(test_promql_render),
        cmocka_unit_test(test_promql_parse),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_queue),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_spec_lost_problem),
        cmocka_unit_test(test_plan_canary),
        cmocka_unit_test(test_plan_bluegreen),
        cmocka_unit_test(test_plan_analysis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
