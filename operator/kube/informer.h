/*
 * The informer: client-go's reflector as a pure state machine. It decides which request to
 * issue next (list a page, watch from a resourceVersion, or wait), applies what the responses
 * carry to a tg_cache, and recovers from failures; another module wires its actions to the
 * HTTP client and a libuv timer. It does no I/O and reads time only from the injected clock.
 *
 *   IDLE --start--> LISTING --last page--> WATCHING --clean end--> WATCHING (resume at rv)
 *                      ^   \--page--> LISTING (continue)  |--error--> BACKOFF --timer--> WATCHING
 *                      |                                  '--410----> LISTING (relist)
 *                      '--timer-- BACKOFF <--list error--'
 *
 * Lists are paged (limit and continue) and fed to the cache item by item, so that no more than
 * one page is ever parsed at once; the last page ends the cache's replace, which reports the
 * objects that vanished as deletes and marks the cache synced. A watch starts from the list's
 * resourceVersion with bookmarks and a jittered timeoutSeconds. When it ends cleanly it resumes
 * at once from the last resourceVersion seen (events and bookmarks); when it fails it resumes
 * from there after a jittered exponential backoff (1 s doubling to 30 s by default), never
 * relisting; only a 410 Gone (or an expired continue token) relists. A watch that ends cleanly
 * but at once and empty-handed counts as a failure, so a misbehaving server cannot make us spin.
 *
 * Every input function fills *next with the action to take now; it is never left unset. A
 * function returns 0, or a negative TG_E* code that says the input was a failure (the detail
 * is in the last-error message, for the log) while *next is the recovery; TG_EINVALID with
 * TG_INFORMER_DO_NOTHING means the input was not expected in this state and was ignored (say,
 * the response of a request the informer already gave up on).
 */
#ifndef TG_KUBE_INFORMER_H
#define TG_KUBE_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/clock.h"

struct json_object;
struct tg_cache;
struct tg_informer;

enum tg_informer_state {
    TG_INFORMER_IDLE = 0, /* not started */
    TG_INFORMER_LISTING,  /* a list request (one page) is in flight */
    TG_INFORMER_WATCHING, /* a watch request is in flight */
    TG_INFORMER_BACKOFF,  /* waiting for the timer before retrying */
    TG_INFORMER_STOPPED,  /* stopped; every input is refused */
};

enum tg_informer_do {
    TG_INFORMER_DO_NOTHING = 0,
    TG_INFORMER_DO_LIST,  /* GET the collection with limit (and continue when not "") */
    TG_INFORMER_DO_WATCH, /* GET ?watch=1&resourceVersion=&allowWatchBookmarks=true&timeoutSeconds=
                           */
    TG_INFORMER_DO_WAIT,  /* arm a timer for wait_ms, then call tg_informer_timer_fired() */
};

/* The next request. Strings are borrowed from the informer until its next input. */
struct tg_informer_action {
    enum tg_informer_do what;
    unsigned limit;               /* LIST: the page size */
    const char *continue_token;   /* LIST: "" for the first page */
    const char *resource_version; /* WATCH: where to start */
    bool allow_bookmarks;         /* WATCH: always true */
    unsigned timeout_seconds;     /* WATCH: the server ends the watch after this long */
    uint64_t wait_ms;             /* WAIT: how long */
};

struct tg_informer_opts {
    /*
     * The list limit; 0: 100. A page is parsed whole, and its json-c tree (about 12 times its
     * JSON) is the informer's memory high-water mark, which the allocator keeps: for 10,000
     * Rollout-sized objects RSS / JSON bytes is 1.3 with 100, 1.65 with 250, 2.1 with 500
     * (tests/bench/bench_cache --page).
     */
    unsigned page_size;
    unsigned watch_timeout_s; /* 0: 300; each watch asks for this stretched by up to 2x */
    uint64_t backoff_base_ms; /* 0: 1000 */
    uint64_t backoff_max_ms;  /* 0: 30000 */
    double jitter;            /* backoff stretched by up to this fraction; < 0: none; 0: 0.5 */
    uint64_t min_watch_ms; /* a clean end sooner than this with no events is a failure; 0: 1000 */
    size_t max_line;       /* cap on one watch line; 0: TG_WATCH_DEFAULT_MAX_LINE */
    /* A random number in [0, 1) for jitter; NULL: an internal generator seeded from the clock. */
    double (*rand01)(void *ctx);
    void *rand_ctx;
};

/* Counters, for /metrics. */
struct tg_informer_stats {
    uint64_t lists;          /* list cycles started (first pages requested) */
    uint64_t relists;        /* of those, the ones started after the cache had synced */
    uint64_t pages;          /* list pages applied */
    uint64_t list_errors;    /* list requests that failed */
    uint64_t watches;        /* watch requests issued */
    uint64_t watch_restarts; /* of those, the ones resuming after a previous watch ended */
    uint64_t watch_errors;   /* watches that ended in an error */
    uint64_t gone;           /* 410 Gone answers (expired resourceVersion or continue token) */
    uint64_t events;         /* watch events applied to the cache (bookmarks excluded) */
    uint64_t bookmarks;      /* bookmarks received */
    uint64_t bad_objects;    /* objects the cache refused (no metadata.name, ...) */
};

/*
 * Creates an informer that fills cache (borrowed: it must outlive the informer) and reads time
 * from clock (borrowed). opts may be NULL. Returns 0 or TG_ENOMEM; *out is the caller's, freed
 * with tg_informer_free().
 */
int tg_informer_new(struct tg_cache *cache, const struct tg_clock *clock,
                    const struct tg_informer_opts *opts, struct tg_informer **out);

/* Frees the informer (not the cache). NULL is fine. */
void tg_informer_free(struct tg_informer *inf);

/* Starts: the first action is a list. Only valid when IDLE. */
int tg_informer_start(struct tg_informer *inf, struct tg_informer_action *next);

/*
 * A list page arrived: list is the parsed response body (a *List object with metadata and
 * items), borrowed for the call; the informer strips and stores its items in the cache in place
 * (the cache keeps references to them, so the caller must not modify list afterwards). Next:
 * the following page, or the watch after the last page.
 */
int tg_informer_list_page(struct tg_informer *inf, struct json_object *list,
                          struct tg_informer_action *next);

/* The list request failed with err (a TG_E* code from the client). Next: wait, or relist at
 * once when err is TG_EGONE for an expired continue token. */
int tg_informer_list_failed(struct tg_informer *inf, int err, struct tg_informer_action *next);

/*
 * Bytes of the watch response body arrived. Returns 0, or an error after which the stream is
 * useless (TG_EGONE, TG_ETOOBIG, TG_EINVALID, TG_ENOMEM, ...): the caller then aborts the request
 * and calls tg_informer_watch_closed() with that code. Valid only while WATCHING.
 */
int tg_informer_watch_data(struct tg_informer *inf, const void *data, size_t n);

/*
 * The watch request ended: err is 0 when the server ended the response normally, else the
 * failure (a dropped connection, an HTTP error mapped to TG_E*, or what watch_data returned).
 * Next: watch again, relist (TG_EGONE), or wait.
 */
int tg_informer_watch_closed(struct tg_informer *inf, int err, struct tg_informer_action *next);

/* The timer of a DO_WAIT fired. Next: the request that was being retried. */
int tg_informer_timer_fired(struct tg_informer *inf, struct tg_informer_action *next);

/* Stops: every later input is refused with TG_ECANCELED and DO_NOTHING. */
void tg_informer_stop(struct tg_informer *inf);

enum tg_informer_state tg_informer_state(const struct tg_informer *inf);

/* Whether the first full list has reached the cache. */
bool tg_informer_has_synced(const struct tg_informer *inf);

/* The resourceVersion a watch would resume from, borrowed until the next input; "" before the
 * first list completes. */
const char *tg_informer_resource_version(const struct tg_informer *inf);

void tg_informer_stats(const struct tg_informer *inf, struct tg_informer_stats *out);

/* "LISTING" and so on; never NULL. */
const char *tg_informer_state_name(enum tg_informer_state state);

/*
 * The owner-enqueue helper: when obj (an owned child, say a Deployment) has a controller
 * ownerReference (controller: true) of kind owner_kind, and of API group owner_group unless
 * that is NULL ("" is the core group), writes the owner's cache key into key: "namespace/name"
 * with the child's namespace, "name" for a cluster-scoped child. (So it assumes a namespaced
 * owner kind whenever the child is namespaced, as for every kind tollgate owns children by.)
 * Returns 0, TG_ENOTFOUND when there is no such owner, or TG_EINVALID when the key does not fit in
 * size bytes. A handler calls it on both the old and the new object of an update, since an object
 * can change owners.
 */
int tg_informer_owner_key(struct json_object *obj, const char *owner_group, const char *owner_kind,
                          char *key, size_t size);

#endif
