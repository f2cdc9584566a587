/*
 * Writes the Events that tg_events_record() plans, one write at a time per Event.
 *
 * The first occurrence of an Event is a create and the next ones are merge patches of its
 * count. Sent concurrently, they can reach the API server in either order: a patch that arrives
 * before the create is answered 404, its fallback create then 409, and an occurrence is lost.
 * So a write for an Event whose previous write is still in flight is held, and a newer one for
 * the same Event replaces the held one (a patch carries the absolute count, lastTimestamp and
 * message, so the newest holds every occurrence before it). When the write in flight ends, the
 * held one is sent. A patch answered 404 becomes a create of the whole Event (as client-go does);
 * a create answered 409 (the Event exists after all) becomes a patch of its count, once.
 *
 * No I/O of its own: the writes go through an ops table (the manager's REST client; a recorder
 * in the tests), on one loop, without locks.
 */
#ifndef TG_KUBE_EVENT_WRITER_H
#define TG_KUBE_EVENT_WRITER_H

#include <stdint.h>

#include <json-c/json.h>

#include "kube/events.h"

/* Called once when a write ends: rc is 0 or a TG_E* code, message the server's or "". */
typedef void (*tg_event_write_done)(void *arg, int rc, const char *message);

/*
 * How to write. Each returns 0 and calls done exactly once later, or returns an error and never
 * calls it. The JSON passed is borrowed for the call (take a reference to keep it).
 */
struct tg_event_writer_ops {
    int (*create)(void *ctx, const char *ns, json_object *event, tg_event_write_done done,
                  void *arg);
    int (*patch)(void *ctx, const char *ns, const char *name, json_object *patch,
                 tg_event_write_done done, void *arg);
    void *ctx;
};

struct tg_event_writer_stats {
    uint64_t writes;    /* creates and patches sent (fallbacks included) */
    uint64_t held;      /* writes held behind one in flight for the same Event */
    uint64_t coalesced; /* held writes replaced by a newer one before they were sent */
    uint64_t failed;    /* writes that ended in an error (after their fallbacks) */
};

struct tg_event_writer;

/* Makes a writer; ops is copied. *out is the caller's (tg_event_writer_free). 0 or TG_ENOMEM. */
int tg_event_writer_new(const struct tg_event_writer_ops *ops, struct tg_event_writer **out);

/*
 * Writes what plan says (TG_EVENT_CREATE or TG_EVENT_PATCH; a DROP is ignored). The plan stays
 * the caller's: what is kept is referenced. Returns 0, TG_ENOMEM, or the ops' error when a write
 * could not start (nothing is held then).
 */
int tg_event_writer_write(struct tg_event_writer *w, const struct tg_event_plan *plan);

/* The counters. */
void tg_event_writer_stats(const struct tg_event_writer *w, struct tg_event_writer_stats *out);

/*
 * Frees the writer: held writes are dropped; writes in flight still get their done callbacks,
 * after which the last one frees what remains. NULL is fine.
 */
void tg_event_writer_free(struct tg_event_writer *w);

#endif
