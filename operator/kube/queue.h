/*
 * The work queue, after client-go's workqueue (queue.go, delaying_queue.go,
 * default_rate_limiters.go) and controller-runtime's controller.
 *
 * Keys are strings, "namespace/name", copied into the queue and owned by it. The queue holds a
 * dirty set (keys waiting to be reconciled) and a processing set (keys handed out by
 * tg_queue_get and not yet given back with tg_queue_done):
 *   - a key is never handed out twice at once; adding a key that is being processed marks it
 *     dirty, and tg_queue_done puts it back in line;
 *   - adding a key that is already waiting does nothing, so a burst of events is one reconcile;
 *   - ready keys are handed out first in, first out;
 *   - tg_queue_add_after puts a key on a binary min-heap until it is due; an earlier add_after for
 *     a key already waiting there moves it earlier, a later one is ignored;
 *   - tg_queue_add_rate_limited waits the larger of a per-key exponential backoff (5 ms doubling
 *     to 1000 s by default) and a global token bucket (10 qps, burst 100 by default), like
 *     client-go's DefaultControllerRateLimiter; tg_queue_forget resets the key's backoff.
 *
 * The queue never sleeps and owns no timer: the event loop asks tg_queue_next_deadline_ms when
 * the nearest delayed key is due, arms one uv_timer for it, and calls tg_queue_tick when it
 * fires; it then calls tg_queue_get until it returns false. Time comes from an injected
 * struct tg_clock.
 *
 * Memory is proportional to the number of distinct keys the queue tracks: a key is tracked
 * while it is waiting, delayed, processing or has failures not yet forgotten. The hash table,
 * the ready ring and the heap all grow and shrink with that number.
 *
 * Shutdown: after tg_queue_shutdown no key is handed out any more and adds are ignored; keys
 * waiting or delayed are dropped. Keys being processed stay processing until their tg_queue_done
 * (which then never requeues), so the loop can let in-flight reconciles finish and watch
 * tg_queue_drained to know when the last one has.
 */
#ifndef TG_KUBE_QUEUE_H
#define TG_KUBE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/clock.h"

struct tg_queue;

/* Tunables. Fill with tg_queue_config_default, then change what the flags say. */
struct tg_queue_config {
    unsigned max_concurrency; /* the most keys processing at once; 0 means no limit */
    uint64_t backoff_base_ms; /* the first rate-limited requeue's delay */
    uint64_t backoff_max_ms;  /* the cap on the per-key backoff */
    double qps;               /* the global token bucket's rate; <= 0 disables it */
    unsigned burst;           /* the global token bucket's size */
};

/* The defaults: one key at a time (controller-runtime's MaxConcurrentReconciles), client-go's
 * DefaultControllerRateLimiter for the rest. */
#define TG_QUEUE_DEFAULT_MAX_CONCURRENCY 1
#define TG_QUEUE_DEFAULT_BACKOFF_BASE_MS 5
#define TG_QUEUE_DEFAULT_BACKOFF_MAX_MS  1000000
#define TG_QUEUE_DEFAULT_QPS             10.0
#define TG_QUEUE_DEFAULT_BURST           100

/* The longest key accepted: "namespace/name" is at most 63 + 1 + 253 bytes. */
#define TG_QUEUE_MAX_KEY 512

/* Returned by tg_queue_next_deadline_ms when no key is delayed. */
#define TG_QUEUE_NO_DEADLINE UINT64_MAX

/* Upper bounds, in milliseconds, of the queue latency histogram's buckets; the last is +Inf. */
#define TG_QUEUE_LATENCY_BUCKETS 15
extern const uint64_t tg_queue_latency_bounds_ms[TG_QUEUE_LATENCY_BUCKETS];

/* Counters for /metrics. A snapshot, filled by tg_queue_metrics. */
struct tg_queue_metrics {
    size_t depth;                /* keys ready to be handed out */
    size_t delayed;              /* keys waiting on the heap */
    size_t processing;           /* keys handed out and not yet done */
    size_t keys;                 /* distinct keys tracked (memory is proportional to this) */
    size_t bytes;                /* heap memory the queue holds now, its own structs included */
    uint64_t adds;               /* adds that made a key dirty (de-duplicated adds not counted) */
    uint64_t retries;            /* calls to tg_queue_add_rate_limited */
    uint64_t longest_running_ms; /* how long the oldest key still processing has been; 0: none */
    uint64_t max_processing_ms;  /* the longest completed processing so far */
    uint64_t latency_count;      /* keys handed out: the histogram's count */
    uint64_t latency_sum_ms;     /* sum of their waits from add to get */
    /* Keys whose wait from add to get fell in each bucket (not cumulative): bucket i counts
     * waits <= tg_queue_latency_bounds_ms[i] and > bound i-1. */
    uint64_t latency_buckets[TG_QUEUE_LATENCY_BUCKETS];
};

/* Fills c with the defaults above (max_concurrency 1, as controller-runtime's default). */
void tg_queue_config_default(struct tg_queue_config *c);

/*
 * Creates a queue. cfg is copied (NULL means the defaults); clock is borrowed and must outlive
 * the queue. The queue is the caller's, freed with tg_queue_free. Returns 0 or TG_ENOMEM.
 */
int tg_queue_new(const struct tg_queue_config *cfg, const struct tg_clock *clock,
                 struct tg_queue **out);

/* Frees the queue and every key it holds, processing or not. NULL is allowed. */
void tg_queue_free(struct tg_queue *q);

/*
 * Marks key dirty: it will be handed out by tg_queue_get (at once if it is not processing,
 * after its tg_queue_done if it is). Adding a dirty key does nothing. The key is copied.
 * Returns 0 (also when ignored after shutdown), TG_EINVALID for an empty key or one longer than
 * TG_QUEUE_MAX_KEY, or TG_ENOMEM.
 */
int tg_queue_add(struct tg_queue *q, const char *key);

/*
 * Adds key once delay_ms have passed (0: at once, as tg_queue_add). While it waits, an
 * add_after that would make it due earlier wins; a later one is ignored. Returns as
 * tg_queue_add.
 */
int tg_queue_add_after(struct tg_queue *q, const char *key, uint64_t delay_ms);

/*
 * Adds key after its rate-limited delay: the larger of the key's exponential backoff
 * (base * 2^failures, capped) and the wait the global token bucket asks for. Counts one more
 * failure for the key. Returns as tg_queue_add.
 */
int tg_queue_add_rate_limited(struct tg_queue *q, const char *key);

/* The delay tg_queue_add_rate_limited would use for key next, without taking a token. */
uint64_t tg_queue_backoff_ms(const struct tg_queue *q, const char *key);

/* Resets key's failure count, so its next rate-limited add starts at the base delay again. */
void tg_queue_forget(struct tg_queue *q, const char *key);

/* How many rate-limited adds key has had since it was last forgotten. */
unsigned tg_queue_num_requeues(const struct tg_queue *q, const char *key);

/*
 * Hands out the next ready key: returns true and sets *key to it, moving it to the processing
 * set. *key is borrowed from the queue and stays valid until tg_queue_done for it. Returns
 * false, without blocking, when no key is ready, when max_concurrency keys are processing, or
 * after shutdown.
 */
bool tg_queue_get(struct tg_queue *q, const char **key);

/*
 * Gives back a key from tg_queue_get. If it was added while processing, it goes back in line.
 * Returns 0, or TG_ENOTFOUND when key is not processing.
 */
int tg_queue_done(struct tg_queue *q, const char *key);

/* How many keys are ready to be handed out (client-go's Len). */
size_t tg_queue_len(const struct tg_queue *q);

/* True when key is processing (handed out and not done). */
bool tg_queue_is_processing(const struct tg_queue *q, const char *key);

/*
 * The monotonic time at which the nearest delayed key is due, or TG_QUEUE_NO_DEADLINE. The loop
 * arms its timer for max(0, deadline - now) and calls tg_queue_tick when it fires.
 */
uint64_t tg_queue_next_deadline_ms(const struct tg_queue *q);

/* Moves every delayed key that is due to the ready line (as tg_queue_add). Returns how many. */
size_t tg_queue_tick(struct tg_queue *q);

/* Stops the queue: see the head comment for what happens to waiting and processing keys. */
void tg_queue_shutdown(struct tg_queue *q);

/* True after tg_queue_shutdown. */
bool tg_queue_shutting_down(const struct tg_queue *q);

/* True after tg_queue_shutdown once no key is processing any more. */
bool tg_queue_drained(const struct tg_queue *q);

/* Fills *m with the queue's counters as of now. */
void tg_queue_metrics(const struct tg_queue *q, struct tg_queue_metrics *m);

#endif
