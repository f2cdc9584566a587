/*
 * The shared informer cache: the operator's in-memory copy of one resource type, fed by an
 * informer (list, then watch) and read by the reconcilers.
 *
 * Objects are keyed "namespace/name" ("name" for cluster-scoped objects) and indexed by
 * namespace, by controller owner uid (the ownerReference with controller: true) and by label
 * ("key=value"). Every operation is O(1) on average per object (hash tables that double past a
 * load factor of 0.75, intrusive lists for the indexes); only a relist (replace) is O(n).
 *
 * Memory. A json-c tree costs 10 to 20 times the JSON text it came from (every JSON object is
 * a 16-slot hash table of 40-byte entries, every key and value a separate allocation). For
 * 10,000 Rollout-sized objects tests/bench/bench_cache.c measures RSS / JSON bytes of 12.2 for
 * trees as parsed (tables shrunk), 9.1 for stripped trees, 1.1 for stripped text. So by default
 * (TG_CACHE_STORE_TEXT) the cache keeps each object as its compact JSON text, after a strip hook
 * has dropped what the operator never reads (metadata.managedFields and the kubectl last-applied
 * annotation by default), plus the few fields its indexes need; a lookup parses the text on demand
 * and keeps the tree until the cache next changes or tg_cache_release() is called.
 * Once the cache holds opts.compress_after objects (256 by default) it trains a zstd dictionary on
 * them and from then on keeps each text compressed with it (about 60 bytes for a 1 KiB object;
 * a text that does not get smaller stays raw), retraining as the cache grows eight-fold; a
 * lookup then decompresses before it parses. Compression never fails an operation: whatever
 * goes wrong, the text is kept raw. Each object costs one slab slot and one block (its key,
 * resourceVersion, label memberships and text) carved from 64 KiB chunks that are compacted
 * after churn, so that long-lived objects do not pin the pages of the trees they were parsed
 * among (hack/bench.sh --n 10000: RSS / JSON bytes 1.82, from 3.14 with plain text).
 * TG_CACHE_STORE_TREE keeps the stripped tree itself (its tables shrunk to fit), trading memory
 * for lookups that never parse.
 *
 * Borrowed pointers. Lookups and visits hand out json-c objects BORROWED from the cache: valid
 * until the next mutation of this cache (upsert, delete, any replace call) or the next
 * tg_cache_release(), whichever comes first. Callers must not modify them nor drop a reference
 * they did not take; to keep one longer, json_object_get() it (it then stays valid, but goes
 * stale) or copy it. In one libuv thread this means: use them within the current callback.
 *
 * Stale events. An upsert whose resourceVersion is older than (or equal to) the cached one is
 * ignored. resourceVersions are opaque strings by contract, so they are compared as numbers
 * only when both are plain decimal integers (etcd revisions, which is what every real API
 * server sends); otherwise the newer event wins, as the watch delivers events in order.
 *
 * Not thread-safe: one libuv loop owns it. Handlers must not mutate the cache they are called
 * from (the mutation fails with TG_EINVALID).
 */
#ifndef TG_KUBE_CACHE_H
#define TG_KUBE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct tg_cache;

/* How objects are kept; see the head comment. */
enum tg_cache_store {
    TG_CACHE_STORE_TEXT = 0, /* compact JSON text, parsed on lookup (the default) */
    TG_CACHE_STORE_TREE,     /* the json-c tree, tables shrunk to fit */
};

/* What a change did, as reported to handlers. */
enum tg_cache_op {
    TG_CACHE_NONE = 0, /* nothing changed: a stale or duplicate event */
    TG_CACHE_ADDED,
    TG_CACHE_UPDATED,
    TG_CACHE_DELETED,
};

/* The indexes, for tg_cache_each() and tg_cache_count(). */
enum tg_cache_index {
    TG_CACHE_ALL = 0,      /* every object; the value is ignored */
    TG_CACHE_BY_NAMESPACE, /* value: a namespace; "" for cluster-scoped objects */
    TG_CACHE_BY_OWNER,     /* value: the uid of the controller owner */
    TG_CACHE_BY_LABEL,     /* value: "key=value" */
};

/*
 * Removes what the operator does not need from an object about to be stored. Called once per
 * stored object, on the caller's object, before the cache reads its key and indexes.
 */
typedef void (*tg_cache_strip_fn)(void *ctx, struct json_object *obj);

/*
 * Called after every change, in order. key is the object's key; old_obj is the previous state
 * (NULL for ADDED), new_obj the new one (NULL for DELETED); all three are borrowed for the call.
 */
typedef void (*tg_cache_event_fn)(void *ctx, enum tg_cache_op op, const char *key,
                                  struct json_object *old_obj, struct json_object *new_obj);

/* Called by tg_cache_each() for every object visited; obj is borrowed. Non-zero stops. */
typedef int (*tg_cache_visit_fn)(void *ctx, const char *key, struct json_object *obj);

struct tg_cache_opts {
    enum tg_cache_store store; /* TG_CACHE_STORE_TEXT unless said */
    tg_cache_strip_fn strip;   /* NULL: tg_cache_strip_default; tg_cache_strip_none keeps all */
    void *strip_ctx;           /* passed to strip */
    size_t compress_after;     /* text mode: objects held before compression starts; 0: 256,
                                  SIZE_MAX: never */
    size_t dict_capacity;      /* text mode: the most bytes of a dictionary; 0: 16 KiB */
};

struct tg_cache_stats {
    size_t objects;      /* objects held */
    size_t stored_bytes; /* bytes held for the objects' text, compressed or not (text mode) */
    size_t text_bytes;   /* the same text uncompressed: the JSON the objects amount to */
    size_t compressed;   /* objects whose text is held compressed */
    size_t trainings;    /* compression dictionaries trained so far */
    size_t compactions;  /* times the objects' memory was compacted (after updates, deletes) */
    size_t parsed;       /* trees held now: memoized lookups, or every object in tree mode */
    size_t namespaces;   /* distinct namespaces */
    size_t owners;       /* distinct controller owners */
    size_t labels;       /* distinct key=value label pairs */
};

/* Drops metadata.managedFields and the kubectl.kubernetes.io/last-applied-configuration
 * annotation (and the annotations object if that leaves it empty). */
void tg_cache_strip_default(void *ctx, struct json_object *obj);

/* Keeps everything. */
void tg_cache_strip_none(void *ctx, struct json_object *obj);

/*
 * Creates an empty cache (opts NULL: the defaults). Returns 0 or TG_ENOMEM; *out is the
 * caller's, freed with tg_cache_free().
 */
int tg_cache_new(const struct tg_cache_opts *opts, struct tg_cache **out);

/* Frees the cache and everything in it. NULL is fine. Borrowed pointers die with it. */
void tg_cache_free(struct tg_cache *c);

/*
 * Registers a handler for changes. Returns 0 or TG_ENOMEM. Handlers cannot be removed; they
 * live as long as the cache.
 */
int tg_cache_add_handler(struct tg_cache *c, tg_cache_event_fn fn, void *ctx);

/*
 * Adds obj, or replaces the object with its key. obj is the caller's: the cache strips it in
 * place, then may keep a reference to it, so the caller must not modify it afterwards (it still
 * drops its own reference as usual). *op (if not NULL) says what happened: ADDED, UPDATED, or
 * NONE when obj was stale or a duplicate and was ignored. Returns 0, TG_EINVALID (no
 * metadata.name, a resourceVersion or key too long, or called from a handler) or TG_ENOMEM.
 * On TG_ENOMEM the cache holds the previous state, except that an update which ran out of
 * memory while re-indexing drops the object (reported to the handlers as DELETED): a relist
 * brings it back.
 */
int tg_cache_upsert(struct tg_cache *c, struct json_object *obj, enum tg_cache_op *op);

/*
 * Removes the object with obj's key (obj is only read). A delete is never judged stale: the
 * object is gone from the server whatever its last version was. *op is DELETED or NONE (was
 * not cached). Returns 0 or TG_EINVALID.
 */
int tg_cache_delete(struct tg_cache *c, struct json_object *obj, enum tg_cache_op *op);

/*
 * Replaces the whole contents with a fresh list (a relist), item by item so that a paged list
 * never needs all its pages in memory at once: begin, then replace_item for every item of every
 * page (as tg_cache_upsert), then replace_end, which deletes every object not seen since begin
 * (reporting each as DELETED to the handlers), marks the cache synced, and returns how many it
 * deleted in *deleted (may be NULL). A begin without an end is harmless: the next begin starts
 * over. Each returns 0 or as tg_cache_upsert.
 */
int tg_cache_replace_begin(struct tg_cache *c);
int tg_cache_replace_item(struct tg_cache *c, struct json_object *obj);
int tg_cache_replace_end(struct tg_cache *c, size_t *deleted);

/*
 * The object with this key, borrowed (see the head comment), or NULL when there is none (or,
 * in text mode, when parsing it failed for lack of memory: the last-error message says so).
 */
struct json_object *tg_cache_get(struct tg_cache *c, const char *key);

/* Whether an object with this key is cached. Never parses. */
bool tg_cache_contains(const struct tg_cache *c, const char *key);

/* The cached resourceVersion of key, borrowed until the next mutation; NULL if not cached. */
const char *tg_cache_resource_version(const struct tg_cache *c, const char *key);

/*
 * Calls fn for every object in an index entry (see enum tg_cache_index), in no particular
 * order. Returns 0, what fn returned when it stopped the walk, or TG_ENOMEM. fn must not
 * mutate the cache.
 */
int tg_cache_each(struct tg_cache *c, enum tg_cache_index index, const char *value,
                  tg_cache_visit_fn fn, void *ctx);

/*
 * The objects of an index entry as an array: *items_out is the caller's to free() (NULL when
 * there are none), the objects in it are borrowed (see the head comment). Returns 0 or
 * TG_ENOMEM.
 */
int tg_cache_list(struct tg_cache *c, enum tg_cache_index index, const char *value,
                  struct json_object ***items_out, size_t *n_out);

/* How many objects an index entry holds (TG_CACHE_ALL: all of them). O(1). */
size_t tg_cache_count(const struct tg_cache *c, enum tg_cache_index index, const char *value);

/* Whether a full list has been stored (the first tg_cache_replace_end). */
bool tg_cache_has_synced(const struct tg_cache *c);

/*
 * Ends the validity of every borrowed pointer handed out so far and frees the trees parsed for
 * them (text mode). The work loop calls it after each reconcile.
 */
void tg_cache_release(struct tg_cache *c);

void tg_cache_stats(const struct tg_cache *c, struct tg_cache_stats *out);

/*
 * Compares two resourceVersions as the cache does: returns -1, 0 or 1 when a is older than,
 * the same as or newer than b, and 2 when they cannot be ordered (either is empty, or they
 * differ and are not both decimal integers).
 */
int tg_cache_rv_compare(const char *a, const char *b);

#endif
