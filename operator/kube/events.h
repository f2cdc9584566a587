/*
 * Event recording logic, after client-go's tools/record (event.go, events_cache.go): builds
 * core/v1 Event objects and decides, for each occurrence, whether to create an Event, to patch
 * an existing one, or to drop it.
 *
 *   - De-duplication: the same (object, type, reason, message) seen again within the window
 *     (10 minutes by default, counted from the previous occurrence) becomes a merge PATCH of the
 *     existing Event's count, lastTimestamp and message, not a new Event.
 *   - Spam filter: a token bucket per involved object (burst 25, one token back every
 *     5 minutes, as client-go's EventSourceObjectSpamFilter); over the limit an occurrence is
 *     dropped, whether it would have been a create or a patch.
 *   - Bounds: both caches are LRUs of at most 4096 entries; an evicted series simply starts a
 *     new Event next time. Messages are truncated to 1024 bytes (at a UTF-8 boundary).
 *
 * No I/O: tg_event_record returns a plan, and the loop performs it through the REST client
 * (POST /api/v1/namespaces/{ns}/events, or PATCH .../events/{name} with a merge patch; when the
 * PATCH answers 404, POST plan.event instead, as client-go does). Time comes from an injected
 * struct tg_clock: the monotonic clock for the window and the rate limit, the wall clock for
 * the timestamps users read.
 */
#ifndef TG_KUBE_EVENTS_H
#define TG_KUBE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "util/clock.h"

struct tg_events;

/* Settings. Fill with tg_events_config_default, then change what the flags say. */
struct tg_events_config {
    const char *component;    /* source.component and reportingComponent ("tollgate") */
    const char *host;         /* source.host (the node name); NULL to leave it out */
    const char *instance;     /* reportingInstance (the pod name); NULL to leave it out */
    uint64_t dedup_window_ms; /* a repeat within this of the previous occurrence is a patch */
    unsigned burst;           /* the spam filter's bucket size per object */
    uint64_t refill_ms;       /* the spam filter gives one token back per this long */
    size_t cache_size;        /* entries in each LRU cache */
};

#define TG_EVENTS_DEFAULT_COMPONENT  "tollgate"
#define TG_EVENTS_DEFAULT_WINDOW_MS  600000
#define TG_EVENTS_DEFAULT_BURST      25
#define TG_EVENTS_DEFAULT_REFILL_MS  300000
#define TG_EVENTS_DEFAULT_CACHE_SIZE 4096
#define TG_EVENTS_MAX_MESSAGE        1024

/* The object an Event is about. All fields borrowed; kind and name are required. */
struct tg_event_object {
    const char *kind;
    const char *namespace; /* NULL or "" for cluster-scoped objects (the Event goes to default) */
    const char *name;
    const char *uid;
    const char *api_version;
    const char *resource_version;
};

enum tg_event_type {
    TG_EVENT_NORMAL,
    TG_EVENT_WARNING,
};

enum tg_event_verb {
    TG_EVENT_DROP,   /* over the object's rate limit: write nothing */
    TG_EVENT_CREATE, /* POST plan.event */
    TG_EVENT_PATCH,  /* merge-PATCH plan.name with plan.patch; on 404, POST plan.event */
};

/* What to write for one occurrence. Release with tg_event_plan_release. */
struct tg_event_plan {
    enum tg_event_verb verb;
    const char *namespace; /* the Event's namespace; borrowed from plan.event */
    const char *name;      /* the Event's name; borrowed from plan.event */
    unsigned count;        /* occurrences in this series so far, this one included */
    json_object *event;    /* CREATE and PATCH: the whole Event (for PATCH, the 404 fallback) */
    json_object *patch;    /* PATCH: {"count", "lastTimestamp", "message"} */
};

/* Counters for /metrics. */
struct tg_events_stats {
    uint64_t created; /* plans to create */
    uint64_t patched; /* plans to patch */
    uint64_t dropped; /* occurrences dropped by the spam filter */
};

/* Fills c with the defaults above. */
void tg_events_config_default(struct tg_events_config *c);

/*
 * Creates a recorder. Strings in cfg are copied (NULL cfg: the defaults); clock is borrowed and
 * must outlive it. Returns 0, TG_EINVALID (empty component, zero cache size, zero burst or
 * refill), or TG_ENOMEM.
 */
int tg_events_new(const struct tg_events_config *cfg, const struct tg_clock *clock,
                  struct tg_events **out);

/* Frees the recorder and its caches. NULL is allowed. */
void tg_events_free(struct tg_events *ev);

/*
 * Decides what to write for one occurrence of an Event about obj and fills *plan (which the
 * caller then releases). message may be NULL (empty); it is truncated to 1024 bytes. Returns 0,
 * TG_EINVALID (missing kind, name or reason, unknown type), TG_ETOOBIG (fields past 16 KiB)
 * or TG_ENOMEM; on error plan holds nothing (verb TG_EVENT_DROP) and no series is started or
 * counted (a spam-filter token may have been spent).
 */
int tg_events_record(struct tg_events *ev, const struct tg_event_object *obj,
                     enum tg_event_type type, const char *reason, const char *message,
                     struct tg_event_plan *plan);

/* Puts the plan's JSON objects and empties it. */
void tg_event_plan_release(struct tg_event_plan *plan);

/* The recorder's counters so far. */
void tg_events_stats(const struct tg_events *ev, struct tg_events_stats *out);

/*
 * The length of s's first bytes, at most max, cut so as not to split a UTF-8 sequence.
 * Exposed for tests.
 */
size_t tg_events_truncated_len(const char *s, size_t max);

#endif
