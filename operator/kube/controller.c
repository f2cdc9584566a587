/* A queue drained into a reconciler on the libuv loop; see controller.h. */
#include "kube/controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/informer.h"
#include "util/error.h"
#include "util/log.h"

/* Owned-kind registrations: which owner kind a watched cache enqueues. */
struct owned {
    struct tg_controller *c;
    char *group;
    char *kind;
};

#define MAX_OWNED 8

/* Mapped registrations: a function that names the keys an object concerns. */
struct mapped {
    struct tg_controller *c;
    tg_controller_map_fn fn;
    void *ctx;
};

#define MAX_MAPPED 8

/* One reconcile in flight: the key it holds and when it began. */
struct running {
    struct tg_controller *c;
    const char *key; /* borrowed from the queue until done */
    uint64_t started_ms;
};

static const double duration_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,   1,    2.5,   5,    10};

struct tg_controller {
    char *name;
    struct tg_reconciler reconciler;
    void (*after_start)(void *ctx);
    void *after_start_ctx;
    const struct tg_clock *clock;
    struct tg_queue *queue;
    uv_timer_t timer; /* wakes the pump: at once after a change, or at the next deadline */
    bool dispatch;
    bool stopped;
    unsigned in_flight;
    struct owned owned[MAX_OWNED];
    size_t n_owned;
    struct mapped mapped[MAX_MAPPED];
    size_t n_mapped;
    uint64_t results[5]; /* by enum tg_reconcile_action */
    struct tg_histogram durations;
};

static void pump_soon(struct tg_controller *c);

static void on_done(void *arg, const struct tg_reconcile_result *result)
{
    struct running *run = arg;
    struct tg_controller *c = run->c;
    enum tg_reconcile_action action = TG_RECONCILE_SUCCESS;
    uint64_t took = tg_clock_now_ms(c->clock) - run->started_ms;

    if (result->error)
        tg_log(TG_LOG_WARN, "reconcile failed", "controller", c->name, "key", run->key, "error",
               tg_error_name(result->error), "terminal", result->terminal ? "true" : "false");
    tg_reconcile_outcome(c->queue, run->key, result, &action);
    c->results[action]++;
    tg_histogram_observe(&c->durations, (double)took / 1000.0);
    c->in_flight--;
    free(run);
    pump_soon(c);
}

/* Hands every ready key to the reconciler while dispatching, then arms the timer. */
static void pump(uv_timer_t *t)
{
    struct tg_controller *c = t->data;
    const char *key;

    if (c->stopped)
        return;
    tg_queue_tick(c->queue);
    while (c->dispatch && tg_queue_get(c->queue, &key)) {
        struct running *run = malloc(sizeof(*run));
        if (!run) {
            struct tg_reconcile_result r = tg_reconcile_err(TG_ENOMEM);
            tg_reconcile_outcome(c->queue, key, &r, NULL);
            break;
        }
        run->c = c;
        run->key = key;
        run->started_ms = tg_clock_now_ms(c->clock);
        c->in_flight++;
        c->reconciler.start(c->reconciler.ctx, key, on_done, run);
        if (c->after_start)
            c->after_start(c->after_start_ctx);
        if (c->stopped)
            return;
    }
    uint64_t deadline = tg_queue_next_deadline_ms(c->queue);
    if (deadline != TG_QUEUE_NO_DEADLINE && !uv_is_active((uv_handle_t *)&c->timer)) {
        uint64_t now = tg_clock_now_ms(c->clock);
        uv_timer_start(&c->timer, pump, deadline > now ? deadline - now : 0, 0);
    }
}

static void pump_soon(struct tg_controller *c)
{
    if (!c->stopped)
        uv_timer_start(&c->timer, pump, 0, 0);
}

static void on_primary(void *ctx, enum tg_cache_op op, const char *key, struct json_object *old_obj,
                       struct json_object *new_obj)
{
    struct tg_controller *c = ctx;

    (void)old_obj;
    (void)new_obj;
    if (op != TG_CACHE_NONE)
        tg_controller_enqueue(c, key);
}

static void enqueue_owner(struct owned *o, struct json_object *obj)
{
    char key[TG_QUEUE_MAX_KEY];

    if (obj && tg_informer_owner_key(obj, o->group, o->kind, key, sizeof(key)) == 0)
        tg_controller_enqueue(o->c, key);
}

static void on_owned(void *ctx, enum tg_cache_op op, const char *key, struct json_object *old_obj,
                     struct json_object *new_obj)
{
    struct owned *o = ctx;

    (void)key;
    if (op == TG_CACHE_NONE)
        return;
    enqueue_owner(o, old_obj);
    enqueue_owner(o, new_obj);
}

int tg_controller_new(uv_loop_t *loop, const struct tg_controller_options *opt,
                      struct tg_controller **out)
{
    struct tg_controller *c;
    int rc;

    *out = NULL;
    if (!opt->name || !opt->reconciler.start)
        return tg_error_set(TG_EINVALID, "a controller needs a name and a reconciler");
    c = calloc(1, sizeof(*c));
    if (!c || !(c->name = strdup(opt->name))) {
        free(c);
        return tg_error_set(TG_ENOMEM, "out of memory making controller %s", opt->name);
    }
    c->reconciler = opt->reconciler;
    c->after_start = opt->after_start;
    c->after_start_ctx = opt->after_start_ctx;
    c->clock = opt->clock ? opt->clock : tg_clock_system();
    if ((rc = tg_queue_new(&opt->queue, c->clock, &c->queue))) {
        free(c->name);
        free(c);
        return rc;
    }
    tg_histogram_init(&c->durations, duration_bounds,
                      sizeof(duration_bounds) / sizeof(duration_bounds[0]));
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    *out = c;
    return 0;
}

int tg_controller_watch(struct tg_controller *c, struct tg_cache *cache)
{
    return tg_cache_add_handler(cache, on_primary, c);
}

int tg_controller_watch_owned(struct tg_controller *c, struct tg_cache *cache,
                              const char *owner_group, const char *owner_kind)
{
    struct owned *o;

    if (c->n_owned == MAX_OWNED)
        return tg_error_set(TG_EINVALID, "controller %s watches too many owned kinds", c->name);
    o = &c->owned[c->n_owned];
    o->c = c;
    o->group = strdup(owner_group ? owner_group : "");
    o->kind = strdup(owner_kind);
    if (!o->group || !o->kind) {
        free(o->group);
        free(o->kind);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    c->n_owned++;
    return tg_cache_add_handler(cache, on_owned, o);
}

static void on_mapped(void *ctx, enum tg_cache_op op, const char *key, struct json_object *old_obj,
                      struct json_object *new_obj)
{
    struct mapped *m = ctx;

    (void)key;
    if (op == TG_CACHE_NONE)
        return;
    if (old_obj)
        m->fn(m->ctx, old_obj, m->c);
    if (new_obj)
        m->fn(m->ctx, new_obj, m->c);
}

int tg_controller_watch_mapped(struct tg_controller *c, struct tg_cache *cache,
                               tg_controller_map_fn fn, void *ctx)
{
    struct mapped *m;

    if (c->n_mapped == MAX_MAPPED)
        return tg_error_set(TG_EINVALID, "controller %s watches too many mapped kinds", c->name);
    m = &c->mapped[c->n_mapped++];
    m->c = c;
    m->fn = fn;
    m->ctx = ctx;
    return tg_cache_add_handler(cache, on_mapped, m);
}

int tg_controller_enqueue(struct tg_controller *c, const char *key)
{
    int rc = tg_queue_add(c->queue, key);

    if (rc == 0 && c->dispatch)
        pump_soon(c);
    return rc;
}

void tg_controller_set_dispatch(struct tg_controller *c, bool on)
{
    c->dispatch = on;
    if (on)
        pump_soon(c);
}

unsigned tg_controller_in_flight(const struct tg_controller *c)
{
    return c->in_flight;
}

void tg_controller_stop(struct tg_controller *c)
{
    if (c->stopped)
        return;
    c->stopped = true;
    c->dispatch = false;
    tg_queue_shutdown(c->queue);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, NULL);
}

void tg_controller_free(struct tg_controller *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_owned; i++) {
        free(c->owned[i].group);
        free(c->owned[i].kind);
    }
    tg_queue_free(c->queue);
    free(c->name);
    free(c);
}

struct tg_queue *tg_controller_queue(struct tg_controller *c)
{
    return c->queue;
}

static const struct {
    const char *name;
    const char *type;
    const char *help;
} families[TG_CONTROLLER_FAMILIES] = {
    [TG_CONTROLLER_RECONCILES] = {"tollgate_reconcile_total", "counter",
                                  "Reconciles by controller and result."},
    [TG_CONTROLLER_DURATIONS] = {"tollgate_reconcile_duration_seconds", "histogram",
                                 "How long reconciles took, by controller."},
    [TG_CONTROLLER_QUEUE_DEPTH] = {"tollgate_workqueue_depth", "gauge",
                                   "Keys ready to be reconciled."},
    [TG_CONTROLLER_QUEUE_ADDS] = {"tollgate_workqueue_adds_total", "counter",
                                  "Keys added to the work queue (de-duplicated adds excluded)."},
    [TG_CONTROLLER_QUEUE_RETRIES] = {"tollgate_workqueue_retries_total", "counter",
                                     "Rate-limited requeues."},
    [TG_CONTROLLER_QUEUE_LONGEST] = {"tollgate_workqueue_longest_running_seconds", "gauge",
                                     "How long the oldest reconcile in flight has run."},
    [TG_CONTROLLER_QUEUE_LATENCY] = {"tollgate_workqueue_queue_duration_seconds", "histogram",
                                     "How long keys waited in the queue before a reconcile."},
};

int tg_controller_metrics_header(enum tg_controller_family family, struct tg_buf *out)
{
    return tg_metrics_family(out, families[family].name, families[family].type,
                             families[family].help);
}

static int queue_latency(const struct tg_queue_metrics *m, const char *labels, struct tg_buf *out)
{
    uint64_t cumulative = 0;
    char series[320];
    int rc = 0;

    for (size_t i = 0; i < TG_QUEUE_LATENCY_BUCKETS && !rc; i++) {
        cumulative += m->latency_buckets[i];
        if (tg_queue_latency_bounds_ms[i] == UINT64_MAX)
            snprintf(series, sizeof(series), "%s,le=\"+Inf\"", labels);
        else
            snprintf(series, sizeof(series), "%s,le=\"%g\"", labels,
                     (double)tg_queue_latency_bounds_ms[i] / 1000.0);
        rc = tg_metrics_sample(out, "tollgate_workqueue_queue_duration_seconds_bucket", series,
                               (double)cumulative);
    }
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_workqueue_queue_duration_seconds_sum", labels,
                               (double)m->latency_sum_ms / 1000.0);
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_workqueue_queue_duration_seconds_count", labels,
                               (double)m->latency_count);
    return rc;
}

int tg_controller_metrics(const struct tg_controller *c, enum tg_controller_family family,
                          struct tg_buf *out)
{
    static const enum tg_reconcile_action actions[] = {
        TG_RECONCILE_SUCCESS, TG_RECONCILE_REQUEUE_AFTER, TG_RECONCILE_REQUEUE, TG_RECONCILE_ERROR,
        TG_RECONCILE_TERMINAL};
    struct tg_queue_metrics m;
    char name[160], labels[256];
    int rc = 0;

    tg_queue_metrics(c->queue, &m);
    if (tg_metrics_escape(c->name, name, sizeof(name)))
        return TG_EINVALID;
    snprintf(labels, sizeof(labels), "controller=\"%s\"", name);
    switch (family) {
    case TG_CONTROLLER_RECONCILES:
        for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]) && !rc; i++) {
            snprintf(labels, sizeof(labels), "controller=\"%s\",result=\"%s\"", name,
                     tg_reconcile_action_name(actions[i]));
            rc = tg_metrics_sample(out, "tollgate_reconcile_total", labels,
                                   (double)c->results[actions[i]]);
        }
        return rc;
    case TG_CONTROLLER_DURATIONS:
        return tg_metrics_histogram(out, "tollgate_reconcile_duration_seconds", labels,
                                    &c->durations);
    case TG_CONTROLLER_QUEUE_DEPTH:
        return tg_metrics_sample(out, "tollgate_workqueue_depth", labels, (double)m.depth);
    case TG_CONTROLLER_QUEUE_ADDS:
        return tg_metrics_sample(out, "tollgate_workqueue_adds_total", labels, (double)m.adds);
    case TG_CONTROLLER_QUEUE_RETRIES:
        return tg_metrics_sample(out, "tollgate_workqueue_retries_total", labels,
                                 (double)m.retries);
    case TG_CONTROLLER_QUEUE_LONGEST:
        return tg_metrics_sample(out, "tollgate_workqueue_longest_running_seconds", labels,
                                 (double)m.longest_running_ms / 1000.0);
    case TG_CONTROLLER_QUEUE_LATENCY:
        return queue_latency(&m, labels, out);
    case TG_CONTROLLER_FAMILIES:
        break;
    }
    return TG_EINVALID;
}
