/*
 * The work queue; see queue.h.
 *
 * Every tracked key is one struct entry, found through a chained hash table. An entry is
 * tracked while it is dirty, processing, on the delay heap or has failures; when none of these
 * holds any more it is freed at once. The invariant of client-go's queue holds throughout: a key
 * is in the ready ring exactly when it is dirty and not processing (and the queue is not shut
 * down). The ring and the heap are kept at least as large as the number of entries, so putting
 * a tracked key in either never allocates and never fails; only creating an entry can.
 */
#include "kube/queue.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/ratelimit.h"

#define MIN_SLOTS   16
#define NOT_ON_HEAP SIZE_MAX

const uint64_t tg_queue_latency_bounds_ms[TG_QUEUE_LATENCY_BUCKETS] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, UINT64_MAX,
};

struct entry {
    struct entry *next;     /* the next entry in this hash bucket */
    struct entry *run_prev; /* the processing list, oldest first */
    struct entry *run_next; /* ... */
    uint64_t hash;          /* hash of key */
    uint64_t dirty_ms;      /* when the key last became dirty: the start of its queue wait */
    uint64_t due_ms;        /* when a delayed key is due */
    uint64_t seq;           /* heap tie-break: keys due at once leave in the order added */
    uint64_t started_ms;    /* when tg_queue_get handed the key out */
    size_t heap_idx;        /* index in the heap, or NOT_ON_HEAP */
    unsigned failures;      /* rate-limited adds since the last forget */
    bool dirty;             /* waiting to be handed out (again) */
    bool processing;        /* handed out, not yet done */
    char key[];             /* the key, NUL-terminated */
};

struct tg_queue {
    struct tg_queue_config cfg;
    const struct tg_clock *clock;
    struct tg_bucket bucket; /* the global limit on rate-limited adds */

    struct entry **table; /* hash buckets; a power of two of them */
    size_t table_size;
    size_t nkeys;     /* entries tracked */
    size_t key_bytes; /* bytes of the entries, keys included */

    struct entry **ring; /* ready keys, FIFO: ring[(head + i) % ring_cap] */
    size_t ring_cap;
    size_t ring_head;
    size_t ring_len;

    struct entry **heap; /* delayed keys, a binary min-heap on (due_ms, seq) */
    size_t heap_cap;
    size_t heap_len;
    uint64_t seq;

    struct entry *run_head; /* processing keys, oldest first */
    struct entry *run_tail;
    size_t nprocessing;

    bool shutdown;
    struct tg_queue_metrics m; /* the counters; depth and the like are filled on demand */
};

void tg_queue_config_default(struct tg_queue_config *c)
{
    c->max_concurrency = TG_QUEUE_DEFAULT_MAX_CONCURRENCY;
    c->backoff_base_ms = TG_QUEUE_DEFAULT_BACKOFF_BASE_MS;
    c->backoff_max_ms = TG_QUEUE_DEFAULT_BACKOFF_MAX_MS;
    c->qps = TG_QUEUE_DEFAULT_QPS;
    c->burst = TG_QUEUE_DEFAULT_BURST;
}

/* FNV-1a, 64 bits. */
static uint64_t hash_key(const char *s)
{
    uint64_t h = 14695981039346656037ull;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t now(const struct tg_queue *q)
{
    return tg_clock_now_ms(q->clock);
}

int tg_queue_new(const struct tg_queue_config *cfg, const struct tg_clock *clock,
                 struct tg_queue **out)
{
    struct tg_queue *q;

    *out = NULL;
    q = calloc(1, sizeof(*q));
    if (!q)
        goto fail;
    if (cfg)
        q->cfg = *cfg;
    else
        tg_queue_config_default(&q->cfg);
    q->clock = clock;
    tg_bucket_init(&q->bucket, q->cfg.qps, q->cfg.burst, now(q));
    q->table_size = MIN_SLOTS;
    q->table = calloc(q->table_size, sizeof(*q->table));
    if (!q->table)
        goto free_queue;
    q->ring_cap = MIN_SLOTS;
    q->ring = calloc(q->ring_cap, sizeof(*q->ring));
    if (!q->ring)
        goto free_table;
    q->heap_cap = MIN_SLOTS;
    q->heap = calloc(q->heap_cap, sizeof(*q->heap));
    if (!q->heap)
        goto free_ring;
    *out = q;
    return 0;

free_ring:
    free(q->ring);
free_table:
    free(q->table);
free_queue:
    free(q);
fail:
    return tg_error_set(TG_ENOMEM, "work queue: out of memory");
}

void tg_queue_free(struct tg_queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->table_size; i++) {
        struct entry *e = q->table[i];

        while (e) {
            struct entry *next = e->next;

            free(e);
            e = next;
        }
    }
    free(q->table);
    free(q->ring);
    free(q->heap);
    free(q);
}

/* ---- the hash table ---- */

static struct entry *lookup(const struct tg_queue *q, const char *key)
{
    uint64_t h = hash_key(key);

    for (struct entry *e = q->table[h & (q->table_size - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* Rehashes into size buckets; on allocation failure keeps the old table (longer chains). */
static void rehash(struct tg_queue *q, size_t size)
{
    struct entry **t = calloc(size, sizeof(*t));

    if (!t)
        return;
    for (size_t i = 0; i < q->table_size; i++) {
        struct entry *e = q->table[i];

        while (e) {
            struct entry *next = e->next;
            size_t b = e->hash & (size - 1);

            e->next = t[b];
            t[b] = e;
            e = next;
        }
    }
    free(q->table);
    q->table = t;
    q->table_size = size;
}

/* Resizes an array of entry pointers to cap slots; false (array unchanged) on failure. */
static bool resize_slots(struct entry ***slots, size_t cap)
{
    struct entry **s = realloc(*slots, cap * sizeof(**slots));

    if (!s)
        return false;
    *slots = s;
    return true;
}

/* Copies the ring's contents to a fresh array of cap slots, starting at index 0. */
static bool resize_ring(struct tg_queue *q, size_t cap)
{
    struct entry **r = malloc(cap * sizeof(*r));

    if (!r)
        return false;
    for (size_t i = 0; i < q->ring_len; i++)
        r[i] = q->ring[(q->ring_head + i) % q->ring_cap];
    free(q->ring);
    q->ring = r;
    q->ring_cap = cap;
    q->ring_head = 0;
    return true;
}

/* Makes room so that the ring and the heap can hold one more entry than tracked now. */
static int reserve_one(struct tg_queue *q)
{
    size_t need = q->nkeys + 1;

    if (need > q->ring_cap && !resize_ring(q, q->ring_cap * 2))
        return TG_ENOMEM;
    if (need > q->heap_cap) {
        if (!resize_slots(&q->heap, q->heap_cap * 2))
            return TG_ENOMEM;
        q->heap_cap *= 2;
    }
    return 0;
}

/* Finds key's entry, creating it (clean, idle) when absent. NULL on allocation failure. */
static struct entry *lookup_or_create(struct tg_queue *q, const char *key)
{
    struct entry *e = lookup(q, key);
    size_t len;
    size_t b;

    if (e)
        return e;
    if (reserve_one(q) < 0)
        return NULL;
    len = strlen(key);
    e = calloc(1, sizeof(*e) + len + 1);
    if (!e)
        return NULL;
    q->key_bytes += sizeof(*e) + len + 1;
    memcpy(e->key, key, len + 1);
    e->hash = hash_key(key);
    e->heap_idx = NOT_ON_HEAP;
    b = e->hash & (q->table_size - 1);
    e->next = q->table[b];
    q->table[b] = e;
    q->nkeys++;
    if (q->nkeys > q->table_size - q->table_size / 4)
        rehash(q, q->table_size * 2);
    return e;
}

/* Gives memory back when the tracked keys have fallen to a quarter of what the arrays hold. */
static void shrink(struct tg_queue *q)
{
    if (q->table_size > MIN_SLOTS && q->nkeys < q->table_size / 8)
        rehash(q, q->table_size / 2);
    if (q->ring_cap > MIN_SLOTS && q->nkeys < q->ring_cap / 4)
        resize_ring(q, q->ring_cap / 2);
    if (q->heap_cap > MIN_SLOTS && q->nkeys < q->heap_cap / 4 &&
        resize_slots(&q->heap, q->heap_cap / 2))
        q->heap_cap /= 2;
}

/* Frees e if nothing about it needs remembering any more. */
static void release(struct tg_queue *q, struct entry *e)
{
    struct entry **pp;

    if (e->dirty || e->processing || e->heap_idx != NOT_ON_HEAP || e->failures)
        return;
    for (pp = &q->table[e->hash & (q->table_size - 1)]; *pp != e; pp = &(*pp)->next)
        ;
    *pp = e->next;
    q->key_bytes -= sizeof(*e) + strlen(e->key) + 1;
    free(e);
    q->nkeys--;
    shrink(q);
}

/* ---- the ready ring ---- */

static void ring_push(struct tg_queue *q, struct entry *e)
{
    q->ring[(q->ring_head + q->ring_len) % q->ring_cap] = e;
    q->ring_len++;
}

static struct entry *ring_pop(struct tg_queue *q)
{
    struct entry *e = q->ring[q->ring_head];

    q->ring_head = (q->ring_head + 1) % q->ring_cap;
    q->ring_len--;
    return e;
}

/* ---- the delay heap ---- */

static bool heap_less(const struct entry *a, const struct entry *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void heap_set(struct tg_queue *q, size_t i, struct entry *e)
{
    q->heap[i] = e;
    e->heap_idx = i;
}

static void heap_up(struct tg_queue *q, size_t i)
{
    struct entry *e = q->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!heap_less(e, q->heap[parent]))
            break;
        heap_set(q, i, q->heap[parent]);
        i = parent;
    }
    heap_set(q, i, e);
}

static void heap_down(struct tg_queue *q, size_t i)
{
    struct entry *e = q->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= q->heap_len)
            break;
        if (child + 1 < q->heap_len && heap_less(q->heap[child + 1], q->heap[child]))
            child++;
        if (!heap_less(q->heap[child], e))
            break;
        heap_set(q, i, q->heap[child]);
        i = child;
    }
    heap_set(q, i, e);
}

static void heap_push(struct tg_queue *q, struct entry *e)
{
    heap_set(q, q->heap_len++, e);
    heap_up(q, e->heap_idx);
}

/* Removes the heap's top entry and returns it. */
static struct entry *heap_pop(struct tg_queue *q)
{
    struct entry *top = q->heap[0];

    q->heap_len--;
    if (q->heap_len > 0) {
        heap_set(q, 0, q->heap[q->heap_len]);
        heap_down(q, 0);
    }
    top->heap_idx = NOT_ON_HEAP;
    return top;
}

/* ---- the processing list ---- */

static void run_append(struct tg_queue *q, struct entry *e)
{
    e->run_prev = q->run_tail;
    e->run_next = NULL;
    if (q->run_tail)
        q->run_tail->run_next = e;
    else
        q->run_head = e;
    q->run_tail = e;
    q->nprocessing++;
}

static void run_remove(struct tg_queue *q, struct entry *e)
{
    if (e->run_prev)
        e->run_prev->run_next = e->run_next;
    else
        q->run_head = e->run_next;
    if (e->run_next)
        e->run_next->run_prev = e->run_prev;
    else
        q->run_tail = e->run_prev;
    e->run_prev = e->run_next = NULL;
    q->nprocessing--;
}

/* ---- adding ---- */

/* Marks a tracked entry dirty and puts it in line unless it is processing. */
static void mark_dirty(struct tg_queue *q, struct entry *e)
{
    if (e->dirty)
        return;
    e->dirty = true;
    e->dirty_ms = now(q);
    q->m.adds++;
    if (!e->processing)
        ring_push(q, e);
}

static int check_key(const char *key)
{
    if (!key || !*key)
        return tg_error_set(TG_EINVALID, "work queue: empty key");
    if (strnlen(key, TG_QUEUE_MAX_KEY + 1) > TG_QUEUE_MAX_KEY)
        return tg_error_set(TG_EINVALID, "work queue: key longer than %d bytes", TG_QUEUE_MAX_KEY);
    return 0;
}

static int oom(const char *key)
{
    return tg_error_set(TG_ENOMEM, "work queue: out of memory adding %s", key);
}

int tg_queue_add(struct tg_queue *q, const char *key)
{
    struct entry *e;
    int rc = check_key(key);

    if (rc < 0 || q->shutdown)
        return rc;
    e = lookup_or_create(q, key);
    if (!e)
        return oom(key);
    mark_dirty(q, e);
    return 0;
}

/* Puts a tracked entry on the heap due at due_ms, or moves it earlier if it is there. */
static void delay_entry(struct tg_queue *q, struct entry *e, uint64_t due_ms)
{
    if (e->heap_idx != NOT_ON_HEAP) {
        if (due_ms < e->due_ms) {
            e->due_ms = due_ms;
            heap_up(q, e->heap_idx);
        }
        return;
    }
    e->due_ms = due_ms;
    e->seq = q->seq++;
    heap_push(q, e);
}

int tg_queue_add_after(struct tg_queue *q, const char *key, uint64_t delay_ms)
{
    struct entry *e;
    int rc = check_key(key);

    if (rc < 0 || q->shutdown)
        return rc;
    if (delay_ms == 0)
        return tg_queue_add(q, key);
    e = lookup_or_create(q, key);
    if (!e)
        return oom(key);
    delay_entry(q, e, now(q) + delay_ms);
    return 0;
}

static uint64_t backoff_for(const struct tg_queue *q, unsigned failures)
{
    return tg_backoff_delay_ms(q->cfg.backoff_base_ms, q->cfg.backoff_max_ms, failures);
}

int tg_queue_add_rate_limited(struct tg_queue *q, const char *key)
{
    struct entry *e;
    uint64_t delay;
    uint64_t wait;
    int rc = check_key(key);

    if (rc < 0 || q->shutdown)
        return rc;
    e = lookup_or_create(q, key);
    if (!e)
        return oom(key);
    delay = backoff_for(q, e->failures);
    wait = tg_bucket_reserve(&q->bucket, now(q));
    if (wait > delay)
        delay = wait;
    if (e->failures < UINT_MAX)
        e->failures++;
    q->m.retries++;
    if (delay == 0)
        mark_dirty(q, e);
    else
        delay_entry(q, e, now(q) + delay);
    return 0;
}

uint64_t tg_queue_backoff_ms(const struct tg_queue *q, const char *key)
{
    const struct entry *e = key ? lookup(q, key) : NULL;

    return backoff_for(q, e ? e->failures : 0);
}

void tg_queue_forget(struct tg_queue *q, const char *key)
{
    struct entry *e = key ? lookup(q, key) : NULL;

    if (!e)
        return;
    e->failures = 0;
    release(q, e);
}

unsigned tg_queue_num_requeues(const struct tg_queue *q, const char *key)
{
    const struct entry *e = key ? lookup(q, key) : NULL;

    return e ? e->failures : 0;
}

/* ---- handing out ---- */

static void observe_latency(struct tg_queue *q, uint64_t waited)
{
    size_t i = 0;

    while (waited > tg_queue_latency_bounds_ms[i])
        i++;
    q->m.latency_buckets[i]++;
    q->m.latency_count++;
    q->m.latency_sum_ms += waited;
}

bool tg_queue_get(struct tg_queue *q, const char **key)
{
    struct entry *e;
    uint64_t t;

    *key = NULL;
    if (q->shutdown || q->ring_len == 0)
        return false;
    if (q->cfg.max_concurrency && q->nprocessing >= q->cfg.max_concurrency)
        return false;
    e = ring_pop(q);
    t = now(q);
    observe_latency(q, t - e->dirty_ms);
    e->dirty = false;
    e->processing = true;
    e->started_ms = t;
    run_append(q, e);
    *key = e->key;
    return true;
}

int tg_queue_done(struct tg_queue *q, const char *key)
{
    struct entry *e = key ? lookup(q, key) : NULL;
    uint64_t took;

    if (!e || !e->processing)
        return tg_error_set(TG_ENOTFOUND, "work queue: %s is not processing", key ? key : "");
    took = now(q) - e->started_ms;
    if (took > q->m.max_processing_ms)
        q->m.max_processing_ms = took;
    run_remove(q, e);
    e->processing = false;
    if (e->dirty) {
        if (q->shutdown)
            e->dirty = false;
        else
            ring_push(q, e);
    }
    release(q, e);
    return 0;
}

size_t tg_queue_len(const struct tg_queue *q)
{
    return q->ring_len;
}

bool tg_queue_is_processing(const struct tg_queue *q, const char *key)
{
    const struct entry *e = key ? lookup(q, key) : NULL;

    return e && e->processing;
}

uint64_t tg_queue_next_deadline_ms(const struct tg_queue *q)
{
    return q->heap_len ? q->heap[0]->due_ms : TG_QUEUE_NO_DEADLINE;
}

size_t tg_queue_tick(struct tg_queue *q)
{
    uint64_t t = now(q);
    size_t moved = 0;

    while (q->heap_len && q->heap[0]->due_ms <= t) {
        struct entry *e = heap_pop(q);

        mark_dirty(q, e);
        moved++;
    }
    return moved;
}

/* ---- stopping ---- */

void tg_queue_shutdown(struct tg_queue *q)
{
    if (q->shutdown)
        return;
    q->shutdown = true;
    while (q->ring_len) {
        struct entry *e = ring_pop(q);

        e->dirty = false;
        release(q, e);
    }
    while (q->heap_len) {
        struct entry *e = heap_pop(q);

        release(q, e);
    }
}

bool tg_queue_shutting_down(const struct tg_queue *q)
{
    return q->shutdown;
}

bool tg_queue_drained(const struct tg_queue *q)
{
    return q->shutdown && q->nprocessing == 0;
}

void tg_queue_metrics(const struct tg_queue *q, struct tg_queue_metrics *m)
{
    *m = q->m;
    m->depth = q->ring_len;
    m->delayed = q->heap_len;
    m->processing = q->nprocessing;
    m->keys = q->nkeys;
    m->bytes = sizeof(*q) + q->key_bytes +
               (q->table_size + q->ring_cap + q->heap_cap) * sizeof(struct entry *);
    m->longest_running_ms = q->run_head ? now(q) - q->run_head->started_ms : 0;
}
