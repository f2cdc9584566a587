/* The shared informer cache; see cache.h. */
#include "kube/cache.h"

#include <json-c/json.h>
#include <json-c/linkhash.h>
#include <sanitizer/asan_interface.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>

#include "util/error.h"

/* A namespace is at most 63 bytes and a name 253: a key fits with room to spare. */
#define KEY_MAX 512
#define RV_MAX  128
/* "key=value" for a label: a key is at most 317 bytes, a value 63. */
#define LABEL_MAX 512
#define TABLE_MIN 16
/* As deep as the watch decoder accepts: CRDs nest their schemas far. */
#define PARSE_DEPTH 256
/*
 * Compression (text mode). Once COMPRESS_AFTER objects are held, a zstd dictionary is trained
 * on up to TRAIN_SAMPLES of them (at most TRAIN_BYTES of text); every text is then compressed
 * with it (level ZSTD_LEVEL: level 3 gains nothing on objects this small and its tables cost
 * 400 KiB more). The dictionary is retrained each time the cache has grown RETRAIN_GROWTH
 * times, and the entries recompressed. Measured on Rollout-sized objects of about 1 KiB: 60 to
 * 80 bytes each. A dictionary and zstd's contexts cost about 250 KiB per cache, what 256 such
 * objects save: smaller caches stay raw (hack/bench.sh --rollouts --n 100 grew by 1.2 MiB and
 * 0.04 CPU seconds with a threshold of 64, its five caches each training a dictionary).
 */
#define COMPRESS_AFTER 256
#define DICT_CAPACITY  (16 * 1024)
#define TRAIN_SAMPLES  256
#define TRAIN_BYTES    (1024 * 1024)
#define RETRAIN_GROWTH 8
#define ZSTD_LEVEL     1
#define SCRATCH_KEEP   (64 * 1024)
/*
 * Memory. Entries come from slabs of SLAB_ENTRIES and their blocks from CHUNK_BYTES chunks
 * (blocks larger than POOL_MAX_BLOCK from malloc): allocated one by one, these long-lived
 * objects would land among the short-lived trees of the list pages they are made from and pin
 * their pages once those are freed. The pool is compacted once more than half of it, and at
 * least COMPACT_MIN bytes, belong to blocks since freed.
 */
#define SLAB_ENTRIES   256
#define CHUNK_BYTES    (64 * 1024 - 64)
#define POOL_MAX_BLOCK 4096
#define COMPACT_MIN    (256 * 1024)
#define ROUND8(n)      (((n) + 7) & ~(size_t)7)

#define CONTAINER(ptr, type, field) ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

/* A node of an intrusive string-keyed hash table. */
struct hnode {
    struct hnode *next; /* the next node in the same bucket */
    uint32_t hash;      /* hash of key */
    const char *key;    /* owned by the structure that embeds the node */
};

/* A chained hash table that doubles when count passes 3/4 of the buckets. */
struct htable {
    struct hnode **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

/* An intrusive doubly-linked list link; a list head is a link pointing at itself when empty. */
struct link {
    struct link *prev;
    struct link *next;
};

/* One value of an index ("shop", an owner uid, "app=web") and the objects that have it. */
struct posting {
    struct hnode node; /* in the index's table, keyed by name */
    struct link head;  /* struct member.link of every object with this value */
    size_t count;      /* objects in the list */
    char name[];       /* the value */
};

/* An object's membership in one posting. */
struct member {
    struct link link;
    struct posting *posting; /* NULL when not a member */
    struct entry *entry;     /* the object */
};

/* A zstd dictionary, shared by the entries it compressed. */
struct zdict {
    ZSTD_CDict *cdict;
    ZSTD_DDict *ddict;
    size_t refs; /* entries compressed with it, plus one while it is the cache's current one */
};

/* The block pool: see CHUNK_BYTES. */
struct pool {
    struct chunk *chunks; /* the newest first: blocks are carved from it */
    size_t used;          /* bytes handed out */
    size_t live;          /* bytes of blocks not freed yet */
};

/* A growable scratch buffer, kept between uses unless it grew past SCRATCH_KEEP. */
struct scratch {
    char *p;
    size_t cap;
};

/*
 * One cached object. Its strings live in one block, rec: the label memberships (one slot per
 * label of the object), then the key and the resourceVersion (both NUL-terminated), then the
 * stored text (text mode: the compact JSON, zstd-compressed when dict is set; not terminated).
 */
struct entry {
    struct hnode node;        /* in c->objects; node.key is the key, inside rec */
    char *rec;                /* the block described above */
    struct zdict *dict;       /* the dictionary that compressed the text; NULL: stored raw */
    uint32_t text_len;        /* the text's length, uncompressed */
    uint32_t stored_len;      /* the bytes of text held at the end of rec */
    uint16_t key_len;         /* strlen(key) */
    uint16_t ns_len;          /* key[0..ns_len) is the namespace */
    uint16_t rv_len;          /* strlen(rv) */
    bool pooled;              /* rec comes from c->pool, not malloc */
    uint32_t nlabels;         /* label slots in use, from the start of rec */
    struct json_object *tree; /* the object (tree mode), or a memoized parse (text mode) */
    struct entry *memo_next;  /* next entry on c->memo while tree is a memo */
    uint64_t mark;            /* the replace generation that last saw this object */
    struct member ns;         /* in c->namespaces */
    struct member owner;      /* in c->owners, when the object has a controller owner */
};

struct handler {
    tg_cache_event_fn fn;
    void *ctx;
};

struct tg_cache {
    struct tg_cache_opts opts;
    struct htable objects;    /* struct entry by key */
    struct htable namespaces; /* struct posting by namespace */
    struct htable owners;     /* struct posting by controller owner uid */
    struct htable labels;     /* struct posting by "key=value" */
    struct entry *memo;       /* text mode: entries whose tree is a memoized parse */
    size_t nmemo;
    struct handler *handlers;
    size_t nhandlers;
    struct json_tokener *tok; /* re-parses stored text (text mode) */
    uint64_t gen;             /* replace generation */
    bool synced;              /* a replace has completed */
    bool busy;                /* inside a handler or a visit: mutations are refused */
    size_t stored_bytes;      /* sum of stored_len */
    size_t text_bytes;        /* sum of text_len */
    size_t ncompressed;       /* entries whose text is compressed */
    /* Compression (text mode): see maybe_train(). */
    size_t compress_after; /* objects held before the first dictionary is trained */
    size_t dict_capacity;  /* the most bytes a dictionary may have */
    size_t next_train;     /* train (again) once this many objects are held */
    size_t trainings;      /* dictionaries trained */
    size_t compactions;    /* times the block pool was compacted */
    struct zdict *dict;    /* compresses new text; NULL before the first training */
    ZSTD_CCtx *cctx;       /* created with the first dictionary */
    ZSTD_DCtx *dctx;       /* idem */
    struct scratch raw;    /* decompressed text */
    struct scratch packed; /* compressed text */
    struct pool pool;      /* the entries' blocks */
    struct slab *slabs;    /* the entries */
    struct entry *free_entries;
};

/* ---- hash table ---- */

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static int ht_init(struct htable *t)
{
    t->buckets = calloc(TABLE_MIN, sizeof(*t->buckets));
    t->nbuckets = TABLE_MIN;
    t->count = 0;
    return t->buckets ? 0 : tg_error_set(TG_ENOMEM, "out of memory creating a cache table");
}

static struct hnode *ht_find(const struct htable *t, const char *key)
{
    uint32_t h = hash_str(key);

    for (struct hnode *n = t->buckets[h & (t->nbuckets - 1)]; n; n = n->next) {
        if (n->hash == h && !strcmp(n->key, key))
            return n;
    }
    return NULL;
}

/* Doubles the bucket array. A failure is not an error: chains just grow longer. */
static void ht_grow(struct htable *t)
{
    size_t nb = t->nbuckets * 2;
    struct hnode **b = calloc(nb, sizeof(*b));

    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct hnode *n = t->buckets[i];
        while (n) {
            struct hnode *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

/* Inserts a node whose key is not in the table yet. Cannot fail. */
static void ht_insert(struct htable *t, struct hnode *n)
{
    if (t->count + 1 > t->nbuckets / 4 * 3)
        ht_grow(t);
    n->hash = hash_str(n->key);
    struct hnode **b = &t->buckets[n->hash & (t->nbuckets - 1)];
    n->next = *b;
    *b = n;
    t->count++;
}

static void ht_remove(struct htable *t, struct hnode *n)
{
    struct hnode **p = &t->buckets[n->hash & (t->nbuckets - 1)];

    while (*p && *p != n)
        p = &(*p)->next;
    if (*p) {
        *p = n->next;
        t->count--;
    }
}

/* ---- indexes ---- */

/* Adds e to the posting named name in index t, creating the posting if needed. */
static int join(struct htable *t, const char *name, struct member *m, struct entry *e)
{
    struct hnode *n = ht_find(t, name);
    struct posting *p;

    if (n) {
        p = CONTAINER(n, struct posting, node);
    } else {
        size_t len = strlen(name);
        p = malloc(sizeof(*p) + len + 1);
        if (!p)
            return tg_error_set(TG_ENOMEM, "out of memory indexing the cache");
        memcpy(p->name, name, len + 1);
        p->node.key = p->name;
        p->head.prev = p->head.next = &p->head;
        p->count = 0;
        ht_insert(t, &p->node);
    }
    m->entry = e;
    m->posting = p;
    m->link.next = p->head.next;
    m->link.prev = &p->head;
    p->head.next->prev = &m->link;
    p->head.next = &m->link;
    p->count++;
    return 0;
}

/* Removes a membership, freeing the posting when it empties. */
static void leave(struct htable *t, struct member *m)
{
    struct posting *p = m->posting;

    if (!p)
        return;
    m->link.prev->next = m->link.next;
    m->link.next->prev = m->link.prev;
    m->posting = NULL;
    if (--p->count == 0) {
        ht_remove(t, &p->node);
        free(p);
    }
}

static struct json_object *get_member(struct json_object *o, const char *key)
{
    struct json_object *v;

    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_string(struct json_object *o, const char *key)
{
    struct json_object *v = get_member(o, key);

    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The uid in the ownerReference marked controller: true, or NULL. */
static const char *controller_uid(struct json_object *meta)
{
    struct json_object *refs = get_member(meta, "ownerReferences");

    if (!json_object_is_type(refs, json_type_array))
        return NULL;
    size_t n = json_object_array_length(refs);
    for (size_t i = 0; i < n; i++) {
        struct json_object *ref = json_object_array_get_idx(refs, i);
        struct json_object *ctl = get_member(ref, "controller");
        if (json_object_is_type(ctl, json_type_boolean) && json_object_get_boolean(ctl))
            return get_string(ref, "uid");
    }
    return NULL;
}

/* The label memberships, at the start of e's block. */
static struct member *entry_labels(const struct entry *e)
{
    return (struct member *)(void *)e->rec;
}

static const char *entry_key(const struct entry *e)
{
    return e->node.key;
}

static const char *entry_rv(const struct entry *e)
{
    return e->node.key + e->key_len + 1;
}

/* The stored text: e->stored_len bytes, compressed with e->dict if set. */
static const char *entry_data(const struct entry *e)
{
    return entry_rv(e) + e->rv_len + 1;
}

/* Removes e from the owner and label indexes. */
static void unindex(struct tg_cache *c, struct entry *e)
{
    struct member *labels = entry_labels(e);

    leave(&c->owners, &e->owner);
    for (size_t i = 0; i < e->nlabels; i++)
        leave(&c->labels, &labels[i]);
    e->nlabels = 0;
}

/* The label slots an object's block needs: one per label. */
static size_t label_slots(struct json_object *meta)
{
    struct json_object *labels = get_member(meta, "labels");

    return json_object_is_type(labels, json_type_object) ? (size_t)json_object_object_length(labels)
                                                         : 0;
}

/*
 * Adds e to the owner and label indexes, as meta says (the meta its block was sized for). On
 * failure e is in none of them.
 */
static int reindex(struct tg_cache *c, struct entry *e, struct json_object *meta)
{
    struct json_object *labels = get_member(meta, "labels");
    const char *uid = controller_uid(meta);
    struct member *slots = entry_labels(e);
    char pair[LABEL_MAX];
    int rc;

    if (uid && (rc = join(&c->owners, uid, &e->owner, e)) != 0)
        return rc;
    if (!json_object_is_type(labels, json_type_object))
        return 0;
    json_object_object_foreach(labels, k, v)
    {
        if (!json_object_is_type(v, json_type_string))
            continue;
        int n = snprintf(pair, sizeof(pair), "%s=%s", k, json_object_get_string(v));
        if (n < 0 || (size_t)n >= sizeof(pair))
            continue; /* longer than any valid label: not indexed */
        if ((rc = join(&c->labels, pair, &slots[e->nlabels], e)) != 0) {
            unindex(c, e);
            return rc;
        }
        e->nlabels++;
    }
    return 0;
}

/* ---- scratch buffers and compression ---- */

/* Makes room for n bytes. Returns 0 or TG_ENOMEM. */
static int scratch_reserve(struct scratch *s, size_t n)
{
    if (s->cap >= n)
        return 0;
    char *p = malloc(n);
    if (!p)
        return tg_error_set(TG_ENOMEM, "out of memory for a %zu-byte cache buffer", n);
    free(s->p);
    s->p = p;
    s->cap = n;
    return 0;
}

/* Frees a buffer that one large object made large. */
static void scratch_trim(struct scratch *s)
{
    if (s->cap > SCRATCH_KEEP) {
        free(s->p);
        s->p = NULL;
        s->cap = 0;
    }
}

static void dict_ref(struct zdict *d)
{
    if (d)
        d->refs++;
}

static void dict_unref(struct zdict *d)
{
    if (!d || --d->refs > 0)
        return;
    ZSTD_freeCDict(d->cdict);
    ZSTD_freeDDict(d->ddict);
    free(d);
}

/*
 * Decompresses e's text into c->raw and returns it, or returns the stored text itself when it
 * is raw; NULL on failure (out of memory, or a corrupt frame), with a last-error message.
 */
static const char *entry_text(struct tg_cache *c, const struct entry *e)
{
    if (!e->dict)
        return entry_data(e);
    if (scratch_reserve(&c->raw, e->text_len ? e->text_len : 1))
        return NULL;
    size_t n = ZSTD_decompress_usingDDict(c->dctx, c->raw.p, e->text_len, entry_data(e),
                                          e->stored_len, e->dict->ddict);
    if (ZSTD_isError(n) || n != e->text_len) {
        tg_error_set(TG_ENOMEM, "cannot decompress cached object %s: %s", entry_key(e),
                     ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
        return NULL;
    }
    return c->raw.p;
}

/*
 * Compresses text with the current dictionary into c->packed. Returns the compressed length,
 * or 0 when the text stays raw: no dictionary yet, no gain, or any failure (never an error).
 */
static size_t compress_text(struct tg_cache *c, const char *text, size_t len)
{
    if (!c->dict || len < 2 || scratch_reserve(&c->packed, len - 1))
        return 0;
    size_t n = ZSTD_compress_usingCDict(c->cctx, c->packed.p, len - 1, text, len, c->dict->cdict);
    return ZSTD_isError(n) ? 0 : n;
}

/* ---- memory: entry slabs and the block pool ---- */

/* A slab of entries; free ones are chained through memo_next. */
struct slab {
    struct slab *next;
    struct entry items[SLAB_ENTRIES];
};

/* A chunk of the block pool: blocks are carved from it in order and never freed one by one. */
struct chunk {
    struct chunk *next;
    size_t cap;  /* bytes in data */
    size_t used; /* bytes handed out */
    char data[];
};

/* A new zeroed entry from the cache's slabs; NULL when out of memory. */
static struct entry *entry_new(struct tg_cache *c)
{
    if (!c->free_entries) {
        struct slab *s = malloc(sizeof(*s));
        if (!s)
            return NULL;
        s->next = c->slabs;
        c->slabs = s;
        for (size_t i = SLAB_ENTRIES; i-- > 0;) {
            s->items[i].memo_next = c->free_entries;
            c->free_entries = &s->items[i];
        }
    }
    struct entry *e = c->free_entries;
    c->free_entries = e->memo_next;
    memset(e, 0, sizeof(*e));
    return e;
}

static void entry_release(struct tg_cache *c, struct entry *e)
{
    e->memo_next = c->free_entries;
    c->free_entries = e;
}

/* The bytes e's block takes. */
static size_t block_size(const struct entry *e)
{
    return (size_t)(e->node.key - e->rec) + e->key_len + 1u + e->rv_len + 1u + e->stored_len;
}

/* Carves n bytes (rounded up to a multiple of 8) from the pool; NULL when out of memory. */
static char *pool_alloc(struct pool *p, size_t n)
{
    struct chunk *k = p->chunks;

    n = ROUND8(n);
    if (!k || k->cap - k->used < n) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        if (!(k = malloc(sizeof(*k) + cap)))
            return NULL;
        ASAN_POISON_MEMORY_REGION(k->data, cap);
        k->cap = cap;
        k->used = 0;
        k->next = p->chunks;
        p->chunks = k;
    }
    char *r = k->data + k->used;
    ASAN_UNPOISON_MEMORY_REGION(r, n);
    k->used += n;
    p->used += n;
    p->live += n;
    return r;
}

static void pool_free_chunks(struct chunk *k)
{
    while (k) {
        struct chunk *next = k->next;
        free(k);
        k = next;
    }
}

/*
 * Allocates an n-byte block: from the pool, so that long-lived blocks do not pin the pages of
 * the short-lived trees they were made among, or with malloc when it is large.
 */
static char *block_alloc(struct tg_cache *c, size_t n, bool *pooled)
{
    *pooled = n <= POOL_MAX_BLOCK;
    return *pooled ? pool_alloc(&c->pool, n) : malloc(n);
}

/* Frees a block of n bytes. */
static void block_release(struct tg_cache *c, char *rec, bool pooled, size_t n)
{
    if (!rec)
        return;
    if (pooled) {
        c->pool.live -= ROUND8(n);
        ASAN_POISON_MEMORY_REGION(rec, ROUND8(n));
    } else {
        free(rec);
    }
}

static void block_free(struct tg_cache *c, struct entry *e)
{
    block_release(c, e->rec, e->pooled, block_size(e));
    e->rec = NULL;
}

/*
 * Points e at rec, a copy of its block's label slots, key and resourceVersion (its text may
 * differ); the caller frees the old block. The label memberships move with it: their list
 * neighbours are pointed at the new slots.
 */
static void relink(struct entry *e, char *rec)
{
    size_t head = (size_t)(e->node.key - e->rec);
    struct member *slots = (struct member *)(void *)rec;
    const char *lo = e->rec, *hi = e->rec + head;

    /* Links between two slots of this block (one label pair twice) point into the old block. */
    for (size_t i = 0; i < e->nlabels; i++) {
        struct link *l = &slots[i].link;
        if ((const char *)l->prev >= lo && (const char *)l->prev < hi)
            l->prev = (struct link *)(void *)(rec + ((const char *)l->prev - lo));
        if ((const char *)l->next >= lo && (const char *)l->next < hi)
            l->next = (struct link *)(void *)(rec + ((const char *)l->next - lo));
    }
    for (size_t i = 0; i < e->nlabels; i++) {
        slots[i].link.prev->next = &slots[i].link;
        slots[i].link.next->prev = &slots[i].link;
    }
    e->rec = rec;
    e->node.key = rec + head;
}

/*
 * Moves every pooled block into fresh chunks once more than half the pool is dead (blocks of
 * updated or deleted objects), and frees the old chunks. If memory runs out halfway, the blocks
 * not moved yet stay where they are, with their chunks.
 */
static void maybe_compact(struct tg_cache *c)
{
    struct pool old = c->pool;
    size_t moved = 0;

    if (old.used - old.live <= old.live || old.used - old.live < COMPACT_MIN)
        return;
    memset(&c->pool, 0, sizeof(c->pool));
    for (size_t i = 0; i < c->objects.nbuckets; i++) {
        for (struct hnode *h = c->objects.buckets[i]; h; h = h->next) {
            struct entry *e = CONTAINER(h, struct entry, node);
            if (!e->pooled)
                continue;
            size_t n = block_size(e);
            char *rec = pool_alloc(&c->pool, n);
            if (!rec)
                goto keep_old;
            memcpy(rec, e->rec, n);
            relink(e, rec);
            moved += ROUND8(n);
        }
    }
    pool_free_chunks(old.chunks);
    c->compactions++;
    return;

keep_old:
    if (old.chunks) {
        struct chunk *tail = old.chunks;
        while (tail->next)
            tail = tail->next;
        tail->next = c->pool.chunks ? c->pool.chunks->next : NULL;
        if (c->pool.chunks)
            c->pool.chunks->next = old.chunks;
        else
            c->pool.chunks = old.chunks;
    }
    c->pool.used += old.used;
    c->pool.live += old.live - moved;
}

/* ---- objects ---- */

/* What an object's block will hold as its text. */
struct stored {
    const char *data; /* the bytes to store: the text, or c->packed.p */
    size_t len;
    size_t text_len;    /* the text's length, uncompressed */
    struct zdict *dict; /* what compressed it, or NULL */
};

/* The stored form of obj (text mode; nothing in tree mode): its compact text, compressed when
 * that makes it smaller. Valid until the next use of c->packed or change to obj. */
static int make_stored(struct tg_cache *c, struct json_object *obj, const char *key,
                       struct stored *s)
{
    memset(s, 0, sizeof(*s));
    s->data = "";
    if (c->opts.store != TG_CACHE_STORE_TEXT)
        return 0;
    const char *text = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &s->text_len);
    if (!text)
        return tg_error_set(TG_ENOMEM, "out of memory serializing %s", key);
    if (s->text_len > UINT32_MAX)
        return tg_error_set(TG_EINVALID, "object %s is too large to cache", key);
    size_t n = compress_text(c, text, s->text_len);
    s->data = n ? c->packed.p : text;
    s->len = n ? n : s->text_len;
    s->dict = n ? c->dict : NULL;
    return 0;
}

/* Allocates a block: nslots empty label slots, key, rv and the stored bytes. NULL: no memory. */
static char *new_block(struct tg_cache *c, size_t nslots, const char *key, size_t key_len,
                       const char *rv, size_t rv_len, const struct stored *s, bool *pooled)
{
    size_t head = nslots * sizeof(struct member);
    char *rec = block_alloc(c, head + key_len + 1 + rv_len + 1 + s->len, pooled);

    if (!rec)
        return NULL;
    memset(rec, 0, head);
    char *p = rec + head;
    memcpy(p, key, key_len + 1);
    p += key_len + 1;
    memcpy(p, rv, rv_len + 1);
    p += rv_len + 1;
    if (s->len)
        memcpy(p, s->data, s->len);
    return rec;
}

/* Adds (add true) or removes e's text from the cache's totals. */
static void account(struct tg_cache *c, const struct entry *e, bool add)
{
    if (add) {
        c->stored_bytes += e->stored_len;
        c->text_bytes += e->text_len;
        c->ncompressed += e->dict != NULL;
    } else {
        c->stored_bytes -= e->stored_len;
        c->text_bytes -= e->text_len;
        c->ncompressed -= e->dict != NULL;
    }
}

/* Gives e a new block (its label slots unused), freeing the old one. */
static void install_block(struct tg_cache *c, struct entry *e, char *rec, bool pooled,
                          size_t nslots, size_t key_len, size_t rv_len, const struct stored *s)
{
    block_free(c, e);
    e->rec = rec;
    e->pooled = pooled;
    e->node.key = rec + nslots * sizeof(struct member);
    e->key_len = (uint16_t)key_len;
    e->rv_len = (uint16_t)rv_len;
    e->nlabels = 0;
    dict_ref(s->dict);
    dict_unref(e->dict);
    e->dict = s->dict;
    e->text_len = (uint32_t)s->text_len;
    e->stored_len = (uint32_t)s->len;
}

/*
 * Replaces e's stored text (same text, stored another way), moving its block. The label
 * memberships move with it: their list neighbours are pointed at the new slots. Returns 0 or
 * TG_ENOMEM (e unchanged).
 */
static int restore_entry(struct tg_cache *c, struct entry *e, const struct stored *s)
{
    size_t prefix = (size_t)(e->node.key - e->rec) + e->key_len + 1 + e->rv_len + 1;
    size_t old_size = block_size(e);
    bool pooled, old_pooled = e->pooled;
    char *old = e->rec;
    char *rec = block_alloc(c, prefix + s->len, &pooled);

    if (!rec)
        return tg_error_set(TG_ENOMEM, "out of memory recompressing %s", entry_key(e));
    memcpy(rec, e->rec, prefix);
    memcpy(rec + prefix, s->data, s->len);
    account(c, e, false);
    relink(e, rec);
    e->pooled = pooled;
    block_release(c, old, old_pooled, old_size);
    dict_ref(s->dict);
    dict_unref(e->dict);
    e->dict = s->dict;
    e->stored_len = (uint32_t)s->len;
    account(c, e, true);
    return 0;
}

/* Drops every memoized parse (text mode): the borrowed pointers handed out end here. */
static void drop_memos(struct tg_cache *c)
{
    while (c->memo) {
        struct entry *e = c->memo;
        c->memo = e->memo_next;
        e->memo_next = NULL;
        json_object_put(e->tree);
        e->tree = NULL;
    }
    c->nmemo = 0;
}

static void memoize(struct tg_cache *c, struct entry *e, struct json_object *tree)
{
    e->tree = tree;
    e->memo_next = c->memo;
    c->memo = e;
    c->nmemo++;
}

/* Parses an entry's text: a new reference, or NULL when out of memory (the text is our own
 * serialization, so nothing else can fail). */
static struct json_object *parse_text(struct tg_cache *c, const struct entry *e)
{
    const char *text = entry_text(c, e);

    if (!text)
        return NULL;
    json_tokener_reset(c->tok);
    struct json_object *o = json_tokener_parse_ex(c->tok, text, (int)e->text_len);
    if (!o)
        tg_error_set(TG_ENOMEM, "cannot parse cached object %s: %s", entry_key(e),
                     json_tokener_error_desc(json_tokener_get_error(c->tok)));
    scratch_trim(&c->raw);
    return o;
}

/* The entry's object, parsing (and memoizing) it in text mode. Borrowed; NULL when out of
 * memory. */
static struct json_object *materialize(struct tg_cache *c, struct entry *e)
{
    if (e->tree)
        return e->tree;
    struct json_object *o = parse_text(c, e);
    if (o)
        memoize(c, e, o);
    return o;
}

static void free_entry(struct tg_cache *c, struct entry *e)
{
    block_free(c, e);
    dict_unref(e->dict);
    json_object_put(e->tree);
    entry_release(c, e);
}

/* Removes e from every table and index; the caller frees it. */
static void unlink_entry(struct tg_cache *c, struct entry *e)
{
    unindex(c, e);
    leave(&c->namespaces, &e->ns);
    ht_remove(&c->objects, &e->node);
    account(c, e, false);
}

/* ---- dictionaries ---- */

/*
 * Picks up to TRAIN_SAMPLES entries spread over the table and writes their texts one after the
 * other into *samples_out, their lengths into *sizes_out (both the caller's to free). Returns
 * how many, 0 on failure.
 */
static size_t gather_samples(struct tg_cache *c, char **samples_out, size_t **sizes_out)
{
    size_t step = c->objects.count / TRAIN_SAMPLES + 1, seen = 0, n = 0, off = 0;
    char *samples = malloc(TRAIN_BYTES);
    size_t *sizes = malloc(TRAIN_SAMPLES * sizeof(*sizes));

    *samples_out = NULL;
    *sizes_out = NULL;
    if (!samples || !sizes)
        goto fail;
    for (size_t i = 0; i < c->objects.nbuckets && n < TRAIN_SAMPLES; i++) {
        for (struct hnode *h = c->objects.buckets[i]; h && n < TRAIN_SAMPLES; h = h->next) {
            struct entry *e = CONTAINER(h, struct entry, node);
            if (seen++ % step != 0 || e->text_len > TRAIN_BYTES - off)
                continue;
            const char *text = entry_text(c, e);
            if (!text)
                continue;
            memcpy(samples + off, text, e->text_len);
            off += e->text_len;
            sizes[n++] = e->text_len;
        }
    }
    scratch_trim(&c->raw);
    *samples_out = samples;
    *sizes_out = sizes;
    return n;

fail:
    free(samples);
    free(sizes);
    return 0;
}

/* Trains a dictionary on the cached objects and makes it the current one. Returns 0, or -1
 * when there is none (training failed or no memory): not an error, texts just stay as they are. */
static int train(struct tg_cache *c)
{
    char *samples;
    size_t *sizes;
    size_t n = gather_samples(c, &samples, &sizes);
    void *buf = n ? malloc(c->dict_capacity) : NULL;
    struct zdict *d = NULL;
    int rc = -1;

    if (!buf)
        goto free_samples;
    size_t len = ZDICT_trainFromBuffer(buf, c->dict_capacity, samples, sizes, (unsigned)n);
    if (ZDICT_isError(len))
        goto free_samples;
    if (!c->cctx)
        c->cctx = ZSTD_createCCtx();
    if (!c->dctx)
        c->dctx = ZSTD_createDCtx();
    if (!c->cctx || !c->dctx || !(d = calloc(1, sizeof(*d))))
        goto free_samples;
    d->refs = 1;
    d->cdict = ZSTD_createCDict(buf, len, ZSTD_LEVEL);
    d->ddict = ZSTD_createDDict(buf, len);
    if (!d->cdict || !d->ddict) {
        dict_unref(d);
        goto free_samples;
    }
    dict_unref(c->dict);
    c->dict = d;
    c->trainings++;
    rc = 0;

free_samples:
    free(buf);
    free(samples);
    free(sizes);
    return rc;
}

/*
 * Compresses every text not compressed with the current dictionary, where that makes it
 * smaller. Best effort: an entry that cannot be recompressed keeps its text as it is, and the
 * dictionary that compressed it with it.
 */
static void recompress_all(struct tg_cache *c)
{
    for (size_t i = 0; i < c->objects.nbuckets; i++) {
        for (struct hnode *h = c->objects.buckets[i]; h; h = h->next) {
            struct entry *e = CONTAINER(h, struct entry, node);
            if (e->dict == c->dict)
                continue;
            const char *text = entry_text(c, e);
            size_t n = text ? compress_text(c, text, e->text_len) : 0;
            if (!n || (e->dict && n >= e->stored_len))
                continue;
            struct stored s = {
                .data = c->packed.p, .len = n, .text_len = e->text_len, .dict = c->dict};
            (void)restore_entry(c, e, &s);
        }
    }
    scratch_trim(&c->raw);
    scratch_trim(&c->packed);
}

/*
 * Trains the first dictionary once compress_after objects are held, and a new one each time
 * the cache has grown RETRAIN_GROWTH times since; after a failed training, tries again when
 * the cache has doubled. Never fails: without a dictionary texts are stored raw.
 */
static void maybe_train(struct tg_cache *c)
{
    size_t n = c->objects.count;

    if (c->opts.store != TG_CACHE_STORE_TEXT || n < c->next_train)
        return;
    if (train(c) == 0) {
        c->next_train = n > SIZE_MAX / RETRAIN_GROWTH ? SIZE_MAX : n * RETRAIN_GROWTH;
        recompress_all(c);
    } else {
        c->next_train = n > SIZE_MAX / 2 ? SIZE_MAX : n * 2;
    }
}

static void notify(struct tg_cache *c, enum tg_cache_op op, const char *key,
                   struct json_object *old, struct json_object *new)
{
    c->busy = true;
    for (size_t i = 0; i < c->nhandlers; i++)
        c->handlers[i].fn(c->handlers[i].ctx, op, key, old, new);
    c->busy = false;
}

/* Sizes a json-c object table to its contents: a fresh table has 16 slots of 40 bytes. */
static void shrink_tree(struct json_object *o)
{
    if (json_object_is_type(o, json_type_object)) {
        struct lh_table *t = json_object_get_object(o);
        int want = t->count + t->count / 2 + 2;
        if (want < t->size)
            lh_table_resize(t, want); /* on failure the table simply stays larger */
        json_object_object_foreach(o, k, v)
        {
            (void)k;
            shrink_tree(v);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            shrink_tree(json_object_array_get_idx(o, i));
        json_object_array_shrink(o, 0);
    }
}

/* Reads an object's key, namespace length and resourceVersion. */
static int read_identity(struct json_object *obj, struct json_object **meta, char *key,
                         size_t *ns_len, const char **rv)
{
    if (!json_object_is_type(obj, json_type_object))
        return tg_error_set(TG_EINVALID, "cached object is not a JSON object");
    *meta = get_member(obj, "metadata");
    const char *name = get_string(*meta, "name");
    if (!name || !*name)
        return tg_error_set(TG_EINVALID, "object has no metadata.name");
    const char *ns = get_string(*meta, "namespace");
    if (!ns)
        ns = "";
    int n = *ns ? snprintf(key, KEY_MAX, "%s/%s", ns, name) : snprintf(key, KEY_MAX, "%s", name);
    if (n < 0 || n >= KEY_MAX)
        return tg_error_set(TG_EINVALID, "object key %.64s... is too long", key);
    *ns_len = strlen(ns);
    *rv = get_string(*meta, "resourceVersion");
    if (!*rv)
        *rv = "";
    if (strlen(*rv) >= RV_MAX)
        return tg_error_set(TG_EINVALID, "resourceVersion of %s is too long", key);
    return 0;
}

/* Stores obj's tree in e: for good in tree mode, as a memo in text mode. */
static void keep_tree(struct tg_cache *c, struct entry *e, struct json_object *obj)
{
    if (c->opts.store == TG_CACHE_STORE_TREE) {
        shrink_tree(obj);
        e->tree = json_object_get(obj);
    } else {
        memoize(c, e, json_object_get(obj));
    }
}

static int add(struct tg_cache *c, struct json_object *obj, struct json_object *meta,
               const char *key, size_t ns_len, const char *rv)
{
    struct entry *e = entry_new(c);
    size_t nslots = label_slots(meta), key_len = strlen(key), rv_len = strlen(rv);
    struct stored s;
    char ns[KEY_MAX];
    int rc = TG_ENOMEM;

    if (!e)
        return tg_error_set(TG_ENOMEM, "out of memory caching %s", key);
    if ((rc = make_stored(c, obj, key, &s)) != 0)
        goto free_entry;
    bool pooled;
    char *rec = new_block(c, nslots, key, key_len, rv, rv_len, &s, &pooled);
    if (!rec) {
        rc = tg_error_set(TG_ENOMEM, "out of memory caching %s", key);
        goto free_entry;
    }
    install_block(c, e, rec, pooled, nslots, key_len, rv_len, &s);
    e->ns_len = (uint16_t)ns_len;
    e->mark = c->gen;
    memcpy(ns, key, ns_len);
    ns[ns_len] = '\0';
    if ((rc = join(&c->namespaces, ns, &e->ns, e)) != 0)
        goto free_entry;
    if ((rc = reindex(c, e, meta)) != 0)
        goto leave_ns;
    ht_insert(&c->objects, &e->node);
    account(c, e, true);
    keep_tree(c, e, obj);
    notify(c, TG_CACHE_ADDED, entry_key(e), NULL, obj);
    return 0;

leave_ns:
    leave(&c->namespaces, &e->ns);
free_entry:
    free_entry(c, e);
    return rc;
}

static int update(struct tg_cache *c, struct entry *e, struct json_object *obj,
                  struct json_object *meta, const char *rv)
{
    struct json_object *old = NULL;
    size_t nslots = label_slots(meta), rv_len = strlen(rv);
    struct stored s;
    int rc;

    if (c->nhandlers) {
        /* Handlers are shown the previous state: the tree, or a parse of the old text. */
        old = e->tree ? json_object_get(e->tree) : parse_text(c, e);
        if (!old)
            return TG_ENOMEM;
    }
    if ((rc = make_stored(c, obj, entry_key(e), &s)) != 0)
        goto put_old;
    bool pooled;
    char *rec = new_block(c, nslots, entry_key(e), e->key_len, rv, rv_len, &s, &pooled);
    if (!rec) {
        rc = tg_error_set(TG_ENOMEM, "out of memory caching %s", entry_key(e));
        goto put_old;
    }
    unindex(c, e);
    account(c, e, false);
    install_block(c, e, rec, pooled, nslots, e->key_len, rv_len, &s);
    account(c, e, true);
    if ((rc = reindex(c, e, meta)) != 0) {
        /*
         * Out of memory halfway: drop the object rather than keep it half indexed, and tell the
         * handlers it is gone (they were shown it last as old), so that what they derived from
         * it (an owner's index, a queued key) does not outlive it; before this they were told
         * nothing (found by tests/unit/test_oom.c).
         */
        unlink_entry(c, e);
        notify(c, TG_CACHE_DELETED, entry_key(e), old, NULL);
        free_entry(c, e);
        goto put_old;
    }
    json_object_put(e->tree);
    e->tree = NULL;
    e->mark = c->gen;
    keep_tree(c, e, obj);
    notify(c, TG_CACHE_UPDATED, entry_key(e), old, obj);
    rc = 0;

put_old:
    json_object_put(old);
    return rc;
}

static int upsert(struct tg_cache *c, struct json_object *obj, enum tg_cache_op *op)
{
    struct json_object *meta;
    char key[KEY_MAX];
    size_t ns_len;
    const char *rv;
    int rc;

    if (op)
        *op = TG_CACHE_NONE;
    if (c->busy)
        return tg_error_set(TG_EINVALID, "the cache cannot change inside its own handler");
    drop_memos(c);
    if (json_object_is_type(obj, json_type_object))
        c->opts.strip(c->opts.strip_ctx, obj);
    if ((rc = read_identity(obj, &meta, key, &ns_len, &rv)) != 0)
        return rc;
    struct hnode *n = ht_find(&c->objects, key);
    if (!n) {
        rc = add(c, obj, meta, key, ns_len, rv);
        if (!rc && op)
            *op = TG_CACHE_ADDED;
    } else {
        struct entry *e = CONTAINER(n, struct entry, node);
        int cmp = tg_cache_rv_compare(rv, entry_rv(e));
        if (cmp == 0 || cmp == -1) {
            e->mark = c->gen; /* stale or a duplicate: seen, nothing to do */
            return 0;
        }
        rc = update(c, e, obj, meta, rv);
        if (!rc && op)
            *op = TG_CACHE_UPDATED;
    }
    scratch_trim(&c->packed);
    if (!rc)
        maybe_train(c);
    maybe_compact(c);
    return rc;
}

/* ---- public ---- */

void tg_cache_strip_default(void *ctx, struct json_object *obj)
{
    struct json_object *meta = get_member(obj, "metadata");
    struct json_object *ann = get_member(meta, "annotations");

    (void)ctx;
    if (!json_object_is_type(meta, json_type_object))
        return;
    json_object_object_del(meta, "managedFields");
    if (json_object_is_type(ann, json_type_object)) {
        json_object_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
        if (json_object_object_length(ann) == 0)
            json_object_object_del(meta, "annotations");
    }
}

void tg_cache_strip_none(void *ctx, struct json_object *obj)
{
    (void)ctx;
    (void)obj;
}

int tg_cache_new(const struct tg_cache_opts *opts, struct tg_cache **out)
{
    struct tg_cache *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (!c)
        return tg_error_set(TG_ENOMEM, "out of memory creating a cache");
    if (opts)
        c->opts = *opts;
    if (!c->opts.strip)
        c->opts.strip = tg_cache_strip_default;
    c->compress_after = c->opts.compress_after ? c->opts.compress_after : COMPRESS_AFTER;
    c->dict_capacity = c->opts.dict_capacity ? c->opts.dict_capacity : DICT_CAPACITY;
    c->next_train = c->compress_after;
    if (ht_init(&c->objects) || ht_init(&c->namespaces) || ht_init(&c->owners) ||
        ht_init(&c->labels)) {
        tg_cache_free(c);
        return TG_ENOMEM;
    }
    c->tok = json_tokener_new_ex(PARSE_DEPTH);
    if (!c->tok) {
        tg_cache_free(c);
        return tg_error_set(TG_ENOMEM, "out of memory creating a JSON tokener");
    }
    *out = c;
    return 0;
}

void tg_cache_free(struct tg_cache *c)
{
    if (!c)
        return;
    drop_memos(c);
    for (size_t i = 0; c->objects.buckets && i < c->objects.nbuckets; i++) {
        struct hnode *n = c->objects.buckets[i];
        while (n) {
            struct hnode *next = n->next;
            struct entry *e = CONTAINER(n, struct entry, node);
            unlink_entry(c, e);
            free_entry(c, e);
            n = next;
        }
    }
    free(c->objects.buckets);
    free(c->namespaces.buckets);
    free(c->owners.buckets);
    free(c->labels.buckets);
    free(c->handlers);
    if (c->tok)
        json_tokener_free(c->tok);
    dict_unref(c->dict);
    ZSTD_freeCCtx(c->cctx);
    ZSTD_freeDCtx(c->dctx);
    free(c->raw.p);
    free(c->packed.p);
    pool_free_chunks(c->pool.chunks);
    while (c->slabs) {
        struct slab *next = c->slabs->next;
        free(c->slabs);
        c->slabs = next;
    }
    free(c);
}

int tg_cache_add_handler(struct tg_cache *c, tg_cache_event_fn fn, void *ctx)
{
    struct handler *h = realloc(c->handlers, (c->nhandlers + 1) * sizeof(*h));

    if (!h)
        return tg_error_set(TG_ENOMEM, "out of memory adding a cache handler");
    c->handlers = h;
    h[c->nhandlers].fn = fn;
    h[c->nhandlers].ctx = ctx;
    c->nhandlers++;
    return 0;
}

int tg_cache_upsert(struct tg_cache *c, struct json_object *obj, enum tg_cache_op *op)
{
    return upsert(c, obj, op);
}

int tg_cache_delete(struct tg_cache *c, struct json_object *obj, enum tg_cache_op *op)
{
    struct json_object *meta;
    char key[KEY_MAX];
    size_t ns_len;
    const char *rv;
    int rc;

    if (op)
        *op = TG_CACHE_NONE;
    if (c->busy)
        return tg_error_set(TG_EINVALID, "the cache cannot change inside its own handler");
    drop_memos(c);
    if ((rc = read_identity(obj, &meta, key, &ns_len, &rv)) != 0)
        return rc;
    struct hnode *n = ht_find(&c->objects, key);
    if (!n)
        return 0;
    struct entry *e = CONTAINER(n, struct entry, node);
    unlink_entry(c, e);
    /* Handlers see the object's final state as the delete event carries it. */
    notify(c, TG_CACHE_DELETED, entry_key(e), obj, NULL);
    free_entry(c, e);
    maybe_compact(c);
    if (op)
        *op = TG_CACHE_DELETED;
    return 0;
}

int tg_cache_replace_begin(struct tg_cache *c)
{
    if (c->busy)
        return tg_error_set(TG_EINVALID, "the cache cannot change inside its own handler");
    drop_memos(c);
    c->gen++;
    return 0;
}

int tg_cache_replace_item(struct tg_cache *c, struct json_object *obj)
{
    return upsert(c, obj, NULL);
}

int tg_cache_replace_end(struct tg_cache *c, size_t *deleted)
{
    size_t gone = 0;

    if (deleted)
        *deleted = 0;
    if (c->busy)
        return tg_error_set(TG_EINVALID, "the cache cannot change inside its own handler");
    drop_memos(c);
    for (size_t i = 0; i < c->objects.nbuckets; i++) {
        struct hnode *n = c->objects.buckets[i];
        while (n) {
            struct hnode *next = n->next;
            struct entry *e = CONTAINER(n, struct entry, node);
            if (e->mark != c->gen) {
                /* Gone from the server while we were not watching: a delete. */
                struct json_object *old = NULL;
                if (c->nhandlers)
                    old = e->tree ? json_object_get(e->tree) : parse_text(c, e);
                unlink_entry(c, e);
                notify(c, TG_CACHE_DELETED, entry_key(e), old, NULL);
                json_object_put(old);
                /* A handler may have looked up an entry this sweep frees next: forget memos. */
                drop_memos(c);
                free_entry(c, e);
                gone++;
            }
            n = next;
        }
    }
    maybe_compact(c);
    c->synced = true;
    if (deleted)
        *deleted = gone;
    return 0;
}

struct json_object *tg_cache_get(struct tg_cache *c, const char *key)
{
    struct hnode *n = ht_find(&c->objects, key);

    return n ? materialize(c, CONTAINER(n, struct entry, node)) : NULL;
}

bool tg_cache_contains(const struct tg_cache *c, const char *key)
{
    return ht_find(&c->objects, key) != NULL;
}

const char *tg_cache_resource_version(const struct tg_cache *c, const char *key)
{
    struct hnode *n = ht_find(&c->objects, key);

    return n ? entry_rv(CONTAINER(n, struct entry, node)) : NULL;
}

static const struct htable *index_table(const struct tg_cache *c, enum tg_cache_index index)
{
    switch (index) {
    case TG_CACHE_BY_NAMESPACE:
        return &c->namespaces;
    case TG_CACHE_BY_OWNER:
        return &c->owners;
    case TG_CACHE_BY_LABEL:
        return &c->labels;
    case TG_CACHE_ALL:
        break;
    }
    return NULL;
}

static int visit(struct tg_cache *c, struct entry *e, tg_cache_visit_fn fn, void *ctx)
{
    struct json_object *o = materialize(c, e);

    if (!o)
        return TG_ENOMEM;
    return fn(ctx, entry_key(e), o);
}

static int each(struct tg_cache *c, enum tg_cache_index index, const char *value,
                tg_cache_visit_fn fn, void *ctx)
{
    const struct htable *t = index_table(c, index);
    int rc = 0;

    if (!t) {
        for (size_t i = 0; i < c->objects.nbuckets && !rc; i++) {
            for (struct hnode *n = c->objects.buckets[i]; n && !rc; n = n->next)
                rc = visit(c, CONTAINER(n, struct entry, node), fn, ctx);
        }
        return rc;
    }
    struct hnode *pn = value ? ht_find(t, value) : NULL;
    if (!pn)
        return 0;
    struct posting *p = CONTAINER(pn, struct posting, node);
    for (struct link *l = p->head.next; l != &p->head && !rc; l = l->next)
        rc = visit(c, CONTAINER(l, struct member, link)->entry, fn, ctx);
    return rc;
}

int tg_cache_each(struct tg_cache *c, enum tg_cache_index index, const char *value,
                  tg_cache_visit_fn fn, void *ctx)
{
    bool was_busy = c->busy;

    c->busy = true;
    int rc = each(c, index, value, fn, ctx);
    c->busy = was_busy;
    return rc;
}

/* Appends each visited object to a struct collected. */
struct collected {
    struct json_object **items;
    size_t n;
    size_t cap;
};

static int collect(void *ctx, const char *key, struct json_object *obj)
{
    struct collected *col = ctx;

    (void)key;
    if (col->n == col->cap)
        return tg_error_set(TG_EINVALID, "cache index changed while listing");
    col->items[col->n++] = obj;
    return 0;
}

int tg_cache_list(struct tg_cache *c, enum tg_cache_index index, const char *value,
                  struct json_object ***items_out, size_t *n_out)
{
    struct collected col = {.cap = tg_cache_count(c, index, value)};
    int rc;

    *items_out = NULL;
    *n_out = 0;
    if (!col.cap)
        return 0;
    col.items = malloc(col.cap * sizeof(*col.items));
    if (!col.items)
        return tg_error_set(TG_ENOMEM, "out of memory listing %zu objects", col.cap);
    if ((rc = tg_cache_each(c, index, value, collect, &col)) != 0) {
        free(col.items);
        return rc;
    }
    *items_out = col.items;
    *n_out = col.n;
    return 0;
}

size_t tg_cache_count(const struct tg_cache *c, enum tg_cache_index index, const char *value)
{
    const struct htable *t = index_table(c, index);

    if (!t)
        return c->objects.count;
    struct hnode *n = value ? ht_find(t, value) : NULL;
    return n ? CONTAINER(n, struct posting, node)->count : 0;
}

bool tg_cache_has_synced(const struct tg_cache *c)
{
    return c->synced;
}

void tg_cache_release(struct tg_cache *c)
{
    drop_memos(c);
}

void tg_cache_stats(const struct tg_cache *c, struct tg_cache_stats *out)
{
    out->objects = c->objects.count;
    out->stored_bytes = c->stored_bytes;
    out->text_bytes = c->text_bytes;
    out->compressed = c->ncompressed;
    out->trainings = c->trainings;
    out->compactions = c->compactions;
    out->parsed = c->opts.store == TG_CACHE_STORE_TREE ? c->objects.count : c->nmemo;
    out->namespaces = c->namespaces.count;
    out->owners = c->owners.count;
    out->labels = c->labels.count;
}

/* Reads a plain decimal integer: digits only, no sign, no space, fits 64 bits. */
static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int tg_cache_rv_compare(const char *a, const char *b)
{
    uint64_t x, y;

    if (!*a || !*b)
        return 2;
    if (!strcmp(a, b))
        return 0;
    if (!parse_u64(a, &x) || !parse_u64(b, &y))
        return 2;
    return x < y ? -1 : x > y ? 1 : 0;
}
