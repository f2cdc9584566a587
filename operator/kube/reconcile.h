/*
 * The reconcile contract, after controller-runtime's pkg/internal/controller/controller.go.
 *
 * A reconcile gets a key, never an event, and ends with a struct tg_reconcile_result. The
 * controller hands that result to tg_reconcile_outcome, which is the one place that turns it
 * into queue operations:
 *   - an error that is not terminal: rate-limited requeue (the key's backoff grows);
 *   - a terminal error: forget, no retry; the caller records a condition and an Event (the
 *     returned action says so);
 *   - requeue_after_ms > 0: forget, then add the key again after that delay;
 *   - requeue without a delay: rate-limited requeue (controller-runtime's Result{Requeue: true});
 *   - otherwise success: forget.
 * An error takes precedence over requeue_after_ms, as in controller-runtime.
 *
 * The reconciler itself is asynchronous (its writes go through the REST client on the loop),
 * so the seam is struct tg_reconciler: the controller calls start() with a key taken from the
 * queue, and the reconciler calls tg_reconcile_finish (or the controller calls
 * tg_reconcile_outcome) once it is done.
 */
#ifndef TG_KUBE_RECONCILE_H
#define TG_KUBE_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "kube/queue.h"

/* What a reconcile asks for. Zero-initialised means success. */
struct tg_reconcile_result {
    uint64_t requeue_after_ms; /* > 0: reconcile again after this long (ignored on error) */
    int error;                 /* 0, or the TG_E* code the reconcile failed with */
    bool terminal;             /* error will not go away by retrying: no requeue */
    bool requeue;              /* requeue with the rate limiter though nothing failed */
};

/* What tg_reconcile_outcome did; also the "result" label of the reconcile metrics. */
enum tg_reconcile_action {
    TG_RECONCILE_SUCCESS,       /* forgotten; nothing more to do until the next event */
    TG_RECONCILE_REQUEUE_AFTER, /* forgotten and added back after requeue_after_ms */
    TG_RECONCILE_REQUEUE,       /* rate-limited requeue without an error */
    TG_RECONCILE_ERROR,         /* rate-limited requeue after an error */
    TG_RECONCILE_TERMINAL,      /* forgotten, not retried: record a condition and an Event */
};

/* Result constructors, for reconcilers' return statements. */
static inline struct tg_reconcile_result tg_reconcile_ok(void)
{
    return (struct tg_reconcile_result){0};
}

static inline struct tg_reconcile_result tg_reconcile_after(uint64_t ms)
{
    return (struct tg_reconcile_result){.requeue_after_ms = ms};
}

static inline struct tg_reconcile_result tg_reconcile_err(int code)
{
    return (struct tg_reconcile_result){.error = code};
}

static inline struct tg_reconcile_result tg_reconcile_terminal(int code)
{
    return (struct tg_reconcile_result){.error = code, .terminal = true};
}

/* Which action a result calls for, without touching a queue. Pure. */
enum tg_reconcile_action tg_reconcile_classify(const struct tg_reconcile_result *r);

/* The action's metric label: "success", "requeue_after", "requeue", "error", "terminal". */
const char *tg_reconcile_action_name(enum tg_reconcile_action a);

/*
 * Applies result r for key, which the caller took from q with tg_queue_get, and then gives the
 * key back with tg_queue_done (so an add during the reconcile is honoured). The action taken is
 * stored in *action when action is not NULL. Returns 0, TG_ENOMEM when the requeue could not be
 * recorded (the key is still given back), or TG_ENOTFOUND when key was not processing.
 */
int tg_reconcile_outcome(struct tg_queue *q, const char *key, const struct tg_reconcile_result *r,
                         enum tg_reconcile_action *action);

/*
 * The seam between a controller and its reconciler. start() begins reconciling key
 * (borrowed: copy it if needed past the call) and must eventually call done(done_arg, result)
 * exactly once, possibly from within start(). The controller's done() applies
 * tg_reconcile_outcome and records metrics.
 */
struct tg_reconciler {
    const char *name; /* the controller's name, for metrics and logs; borrowed */
    void *ctx;        /* the reconciler's own state; borrowed */
    void (*start)(void *ctx, const char *key,
                  void (*done)(void *done_arg, const struct tg_reconcile_result *result),
                  void *done_arg);
};

#endif
