/*
 * A controller: a work queue fed by cache events, drained on the libuv loop into a reconciler
 * (the contract in reconcile.h). Events on the primary kind enqueue the object's own key;
 * events on owned kinds enqueue their controller owner's key. Keys are dispatched only while
 * dispatching is on (the leader elector turns it on and off); events keep filling the queue
 * while it is off, so a new leader starts with everything it must look at.
 */
#ifndef TG_KUBE_CONTROLLER_H
#define TG_KUBE_CONTROLLER_H

#include <stdbool.h>
#include <uv.h>

#include "kube/cache.h"
#include "kube/queue.h"
#include "kube/reconcile.h"
#include "server/metrics.h"
#include "util/buf.h"
#include "util/clock.h"

struct tg_controller_options {
    const char *name;                /* for metrics and logs; copied */
    struct tg_reconciler reconciler; /* copied; its ctx is borrowed */
    struct tg_queue_config queue;    /* max concurrency, backoff, global bucket */
    const struct tg_clock *clock;    /* borrowed; NULL: the system clock */
    /*
     * Called after each reconcile's synchronous part (its start() returned), so that what it
     * parsed can be dropped at once rather than at the end of the loop turn, which may hold
     * hundreds of reconciles; optional. A reconcile that needs an object past start() holds its
     * own reference.
     */
    void (*after_start)(void *ctx);
    void *after_start_ctx;
};

struct tg_controller;

/*
 * Makes a controller on loop; dispatching starts off. *out is the caller's: tg_controller_stop,
 * run the loop, tg_controller_free. Returns 0, TG_EINVALID or TG_ENOMEM.
 */
int tg_controller_new(uv_loop_t *loop, const struct tg_controller_options *opt,
                      struct tg_controller **out);

/* Enqueues the key of every object that changes in cache (the primary kind). */
int tg_controller_watch(struct tg_controller *c, struct tg_cache *cache);

/*
 * Enqueues the controller owner's key of every object that changes in cache, when that owner
 * is of owner_kind in owner_group ("" the core group). The old and the new owner both count.
 */
int tg_controller_watch_owned(struct tg_controller *c, struct tg_cache *cache,
                              const char *owner_group, const char *owner_kind);

/*
 * Maps an object of a watched kind to the keys it concerns, calling tg_controller_enqueue for
 * each: for objects that name the primary (a Release names its Rollout) or that the primary
 * names (a user's HTTPRoute), where no ownerReference says so. obj is borrowed.
 */
typedef void (*tg_controller_map_fn)(void *ctx, struct json_object *obj, struct tg_controller *c);

/* Calls fn with the old and the new object of every change in cache. */
int tg_controller_watch_mapped(struct tg_controller *c, struct tg_cache *cache,
                               tg_controller_map_fn fn, void *ctx);

/* Enqueues key ("namespace/name"). Returns as tg_queue_add. */
int tg_controller_enqueue(struct tg_controller *c, const char *key);

/* Turns dispatching on (leading) or off (standing by, or a lost lease). */
void tg_controller_set_dispatch(struct tg_controller *c, bool on);

/* How many reconciles are running now. */
unsigned tg_controller_in_flight(const struct tg_controller *c);

/* Stops taking keys; reconciles in flight finish. Then run the loop and tg_controller_free. */
void tg_controller_stop(struct tg_controller *c);

void tg_controller_free(struct tg_controller *c);

/* The metric families a controller reports; every controller writes the same ones. */
enum tg_controller_family {
    TG_CONTROLLER_RECONCILES,    /* tollgate_reconcile_total{controller,result} */
    TG_CONTROLLER_DURATIONS,     /* tollgate_reconcile_duration_seconds{controller} */
    TG_CONTROLLER_QUEUE_DEPTH,   /* tollgate_workqueue_depth{controller} */
    TG_CONTROLLER_QUEUE_ADDS,    /* tollgate_workqueue_adds_total{controller} */
    TG_CONTROLLER_QUEUE_RETRIES, /* tollgate_workqueue_retries_total{controller} */
    TG_CONTROLLER_QUEUE_LONGEST, /* tollgate_workqueue_longest_running_seconds{controller} */
    TG_CONTROLLER_QUEUE_LATENCY, /* tollgate_workqueue_queue_duration_seconds{controller} */
    TG_CONTROLLER_FAMILIES,
};

/*
 * Writes the # HELP and # TYPE lines of a family; then tg_controller_metrics writes each
 * controller's samples of it, so that a family's samples stay together as the text format
 * requires. The only label is the controller's name (bounded).
 */
int tg_controller_metrics_header(enum tg_controller_family family, struct tg_buf *out);
int tg_controller_metrics(const struct tg_controller *c, enum tg_controller_family family,
                          struct tg_buf *out);

/* The queue, for tests. Borrowed. */
struct tg_queue *tg_controller_queue(struct tg_controller *c);

#endif
