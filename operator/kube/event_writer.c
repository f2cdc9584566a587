/* One write at a time per Event; see event_writer.h. */
#include "kube/event_writer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"

/* One Event with a write in flight, and the newest write held behind it. */
struct entry {
    struct entry *next;
    struct tg_event_writer *w;
    char *ns;
    char *name;
    json_object *event;      /* the whole Event: a create, or a patch's 404 fallback */
    json_object *patch;      /* the patch in flight, NULL while a create is */
    bool conflict_retried;   /* a create answered 409 was turned into a patch already */
    json_object *held_event; /* the held write (always a patch: the series goes on) */
    json_object *held_patch;
};

struct tg_event_writer {
    struct tg_event_writer_ops ops;
    struct entry *inflight; /* few: one per Event with a write on the wire */
    struct tg_event_writer_stats stats;
    bool freed; /* tg_event_writer_free was called: the last entry frees the writer */
};

int tg_event_writer_new(const struct tg_event_writer_ops *ops, struct tg_event_writer **out)
{
    struct tg_event_writer *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (!w)
        return tg_error_set(TG_ENOMEM, "events: out of memory");
    w->ops = *ops;
    *out = w;
    return 0;
}

static void entry_free(struct entry *e)
{
    json_object_put(e->event);
    json_object_put(e->patch);
    json_object_put(e->held_event);
    json_object_put(e->held_patch);
    free(e->ns);
    free(e->name);
    free(e);
}

static void entry_unlink(struct tg_event_writer *w, struct entry *e)
{
    for (struct entry **p = &w->inflight; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            return;
        }
    }
}

static void on_done(void *arg, int rc, const char *message);

/* Sends the entry's current write: its patch, or the whole Event when there is none. */
static int send(struct entry *e)
{
    struct tg_event_writer *w = e->w;

    w->stats.writes++;
    if (e->patch)
        return w->ops.patch(w->ops.ctx, e->ns, e->name, e->patch, on_done, e);
    return w->ops.create(w->ops.ctx, e->ns, e->event, on_done, e);
}

/* The patch that brings an existing Event up to what e->event says of its series. */
static json_object *patch_from_event(json_object *event)
{
    static const char *const fields[] = {"count", "lastTimestamp", "message"};
    json_object *patch = json_object_new_object();

    for (size_t i = 0; patch && i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_object *v = json_object_object_get(event, fields[i]);
        if (v)
            json_object_object_add(patch, fields[i], json_object_get(v));
    }
    return patch;
}

/* What follows a write that ended with rc: a fallback, the held write, or the end. */
static int next_write(struct entry *e, int rc)
{
    if (rc == TG_ENOTFOUND && e->patch) {
        /* The Event is gone (or not there yet): create it whole. */
        json_object_put(e->patch);
        e->patch = NULL;
        return 1;
    }
    if (rc == TG_ECONFLICT && !e->patch && !e->conflict_retried) {
        /* It exists after all: bring its count up to ours. */
        e->conflict_retried = true;
        e->patch = patch_from_event(e->event);
        return e->patch ? 1 : 0;
    }
    if (e->held_patch && !e->w->freed) {
        json_object_put(e->event);
        json_object_put(e->patch);
        e->event = e->held_event;
        e->patch = e->held_patch;
        e->held_event = e->held_patch = NULL;
        e->conflict_retried = false;
        return 1;
    }
    return 0;
}

static void on_done(void *arg, int rc, const char *message)
{
    struct entry *e = arg;
    struct tg_event_writer *w = e->w;

    while (rc != TG_ECANCELED && !w->freed) {
        bool fallback = (rc == TG_ENOTFOUND && e->patch) ||
                        (rc == TG_ECONFLICT && !e->patch && !e->conflict_retried);
        if (rc && !fallback) {
            w->stats.failed++;
            tg_log(TG_LOG_WARN, "cannot write an event", "event", e->name, "error",
                   tg_error_name(rc), "message", message);
        }
        if (!next_write(e, rc))
            break;
        if ((rc = send(e)) == 0)
            return;
        message = tg_error_last(); /* reported by the next turn, unless it was canceled */
    }
    entry_unlink(w, e);
    entry_free(e);
    if (w->freed && !w->inflight)
        free(w);
}

static struct entry *find(struct tg_event_writer *w, const char *ns, const char *name)
{
    for (struct entry *e = w->inflight; e; e = e->next)
        if (strcmp(e->ns, ns) == 0 && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

int tg_event_writer_write(struct tg_event_writer *w, const struct tg_event_plan *plan)
{
    struct entry *e;
    int rc;

    if (plan->verb == TG_EVENT_DROP || !plan->event || !plan->namespace || !plan->name)
        return 0;
    if ((e = find(w, plan->namespace, plan->name))) {
        /* A write for this Event is on the wire: hold this one, the newest wins. */
        if (e->held_patch)
            w->stats.coalesced++;
        w->stats.held++;
        json_object_put(e->held_event);
        json_object_put(e->held_patch);
        e->held_event = json_object_get(plan->event);
        e->held_patch = plan->patch ? json_object_get(plan->patch) : patch_from_event(plan->event);
        return 0;
    }
    if (!(e = calloc(1, sizeof(*e))) || !(e->ns = strdup(plan->namespace)) ||
        !(e->name = strdup(plan->name))) {
        if (e)
            entry_free(e);
        return tg_error_set(TG_ENOMEM, "events: out of memory");
    }
    e->w = w;
    e->event = json_object_get(plan->event);
    e->patch = plan->verb == TG_EVENT_PATCH ? json_object_get(plan->patch) : NULL;
    e->next = w->inflight;
    w->inflight = e;
    if ((rc = send(e))) {
        w->stats.failed++;
        entry_unlink(w, e);
        entry_free(e);
    }
    return rc;
}

void tg_event_writer_stats(const struct tg_event_writer *w, struct tg_event_writer_stats *out)
{
    *out = w->stats;
}

void tg_event_writer_free(struct tg_event_writer *w)
{
    if (!w)
        return;
    w->freed = true;
    for (struct entry *e = w->inflight; e; e = e->next) {
        json_object_put(e->held_event);
        json_object_put(e->held_patch);
        e->held_event = e->held_patch = NULL;
    }
    if (!w->inflight)
        free(w);
}
