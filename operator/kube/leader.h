/*
 * Leader election on a coordination.k8s.io/v1 Lease, as a pure state machine, after client-go's
 * tools/leaderelection/leaderelection.go.
 *
 * The machine does no I/O. Every retry period the loop reads the Lease (GET, or the informer
 * cache) and calls tg_leader_step with what it saw (NULL when there is none); the plan says
 * what to write: create the Lease, update it (acquire or renew), nothing, or stop leading. The
 * loop writes plan.lease through the REST client and reports the result with
 * tg_leader_written. On shutdown, tg_leader_release gives the Lease up so that a successor
 * need not wait for it to expire.
 *
 * Time is judged on the local monotonic clock only, as client-go does: the machine remembers
 * when it last saw the Lease's record change, and another holder's lease is expired when it
 * has not changed for leaseDurationSeconds of our own time. The holder's renewTime is never
 * compared with our clock, so clock skew between machines cannot cause two leaders. The wall
 * clock only fills acquireTime and renewTime (MicroTime, RFC 3339 with microseconds) for
 * people to read.
 *
 * A leader that has not renewed successfully within the renew deadline stops leading at once:
 * tg_leader_is_leading turns false at that instant, before any step, and the next step returns
 * TG_LEADER_STOP. So does a leader that sees another holder in the Lease. Stopping is final:
 * the process is meant to stop dispatching work and exit for a restart.
 */
#ifndef TG_KUBE_LEADER_H
#define TG_KUBE_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "util/clock.h"

struct tg_leader;

/* Settings. Fill with tg_leader_config_default, then set the names. */
struct tg_leader_config {
    const char *identity;       /* our holderIdentity, unique per process (pod name + uid) */
    const char *namespace;      /* the Lease's namespace */
    const char *name;           /* the Lease's name */
    uint64_t lease_duration_ms; /* how long a lease is good for without renewal (15 s) */
    uint64_t renew_deadline_ms; /* how long a leader keeps trying to renew (10 s) */
    uint64_t retry_period_ms;   /* how often to try to acquire or renew (2 s) */
};

#define TG_LEADER_DEFAULT_LEASE_DURATION_MS 15000
#define TG_LEADER_DEFAULT_RENEW_DEADLINE_MS 10000
#define TG_LEADER_DEFAULT_RETRY_PERIOD_MS   2000

/* Returned by tg_leader_deadline_ms and as plan.next_ms when there is nothing to wait for. */
#define TG_LEADER_NEVER UINT64_MAX

enum tg_leader_action {
    TG_LEADER_WAIT,   /* nothing to write: someone else holds a valid lease, or we stopped */
    TG_LEADER_CREATE, /* create plan.lease (there was no Lease) */
    TG_LEADER_UPDATE, /* update (PUT) plan.lease; it carries the observed resourceVersion */
    TG_LEADER_STOP,   /* we were leading and are not any more: stop dispatching, exit */
};

/* What to do now. */
struct tg_leader_plan {
    enum tg_leader_action action;
    json_object *lease; /* CREATE and UPDATE: the body to write; the caller's (json_object_put) */
    uint64_t next_ms;   /* the monotonic time at which to call tg_leader_step again */
};

/* Fills c with the default durations and NULL names. */
void tg_leader_config_default(struct tg_leader_config *c);

/*
 * Creates the state machine. The names in cfg are copied; clock is borrowed and must outlive
 * it. Returns 0, TG_EINVALID for a missing name or durations that do not satisfy
 * lease > renew deadline > 1.2 * retry period (client-go's rule), or TG_ENOMEM.
 */
int tg_leader_new(const struct tg_leader_config *cfg, const struct tg_clock *clock,
                  struct tg_leader **out);

/* Frees it. NULL is allowed. */
void tg_leader_free(struct tg_leader *le);

/*
 * Decides what to do given the Lease as observed now (borrowed, not kept; NULL when it does not
 * exist). Pass the freshest Lease there is: a GET, or the reply to our own last successful
 * write (as client-go does); an informer's cache may lag behind our write and make the update
 * fail with a conflict. Fills *plan; a plan with a lease must be given back to
 * tg_leader_written once the write finishes. Returns 0, TG_EINVALID when observed is not a JSON
 * object, or TG_ENOMEM; on error plan.action is TG_LEADER_WAIT (or TG_LEADER_STOP when the
 * renew deadline has passed, which is checked first).
 */
int tg_leader_step(struct tg_leader *le, json_object *observed, struct tg_leader_plan *plan);

/*
 * Reports how the write of the last plan's lease ended: rc 0 (written holds the server's reply,
 * borrowed; NULL is allowed) or a negative TG_E* code. A successful write of a lease naming us
 * makes us leader until the renew deadline, counted from when that plan was made.
 */
void tg_leader_written(struct tg_leader *le, int rc, json_object *written);

/*
 * Plans the release of the Lease on shutdown, as client-go's ReleaseOnCancel: when observed
 * (borrowed) names us, an UPDATE with holderIdentity "", leaseDurationSeconds 1 and
 * leaseTransitions unchanged; otherwise WAIT. Either way we stop leading at once, for good.
 * Returns 0 or TG_ENOMEM.
 */
int tg_leader_release(struct tg_leader *le, json_object *observed, struct tg_leader_plan *plan);

/* True while we lead: a write naming us succeeded less than the renew deadline ago. */
bool tg_leader_is_leading(const struct tg_leader *le);

/* When leadership lapses unless renewed first (monotonic), or TG_LEADER_NEVER if not leading. */
uint64_t tg_leader_deadline_ms(const struct tg_leader *le);

/* The holderIdentity last observed ("" for none); borrowed, valid until the next step. */
const char *tg_leader_observed_holder(const struct tg_leader *le);

/*
 * Formats a wall-clock time (ms since the epoch) as a Kubernetes MicroTime,
 * "2006-01-02T15:04:05.000000Z", into buf (at least 28 bytes). Returns buf.
 */
char *tg_leader_format_microtime(int64_t wall_ms, char *buf, size_t size);

#endif
