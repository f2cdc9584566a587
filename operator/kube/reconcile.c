/* The reconcile contract; see reconcile.h. */
#include "kube/reconcile.h"

#include <stddef.h>

#include "util/error.h"

enum tg_reconcile_action tg_reconcile_classify(const struct tg_reconcile_result *r)
{
    if (r->terminal)
        return TG_RECONCILE_TERMINAL;
    if (r->error)
        return TG_RECONCILE_ERROR;
    if (r->requeue_after_ms > 0)
        return TG_RECONCILE_REQUEUE_AFTER;
    if (r->requeue)
        return TG_RECONCILE_REQUEUE;
    return TG_RECONCILE_SUCCESS;
}

const char *tg_reconcile_action_name(enum tg_reconcile_action a)
{
    switch (a) {
    case TG_RECONCILE_SUCCESS:
        return "success";
    case TG_RECONCILE_REQUEUE_AFTER:
        return "requeue_after";
    case TG_RECONCILE_REQUEUE:
        return "requeue";
    case TG_RECONCILE_ERROR:
        return "error";
    case TG_RECONCILE_TERMINAL:
        return "terminal";
    }
    return "unknown";
}

int tg_reconcile_outcome(struct tg_queue *q, const char *key, const struct tg_reconcile_result *r,
                         enum tg_reconcile_action *action)
{
    enum tg_reconcile_action a = tg_reconcile_classify(r);
    int rc = 0;
    int done_rc;

    if (!tg_queue_is_processing(q, key))
        return tg_error_set(TG_ENOTFOUND, "reconcile outcome: %s is not processing",
                            key ? key : "");
    switch (a) {
    case TG_RECONCILE_ERROR:
    case TG_RECONCILE_REQUEUE:
        rc = tg_queue_add_rate_limited(q, key);
        break;
    case TG_RECONCILE_REQUEUE_AFTER:
        tg_queue_forget(q, key);
        rc = tg_queue_add_after(q, key, r->requeue_after_ms);
        break;
    case TG_RECONCILE_TERMINAL:
    case TG_RECONCILE_SUCCESS:
        tg_queue_forget(q, key);
        break;
    }
    if (action)
        *action = a;
    done_rc = tg_queue_done(q, key);
    return rc < 0 ? rc : done_rc;
}
