/* The shared informer cache; see cache.h. */
#include "kube/cache.h"

#include <json-c/json.h>
#include <json-c/linkhash.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* A namespace is at most 63 bytes and a name 253: a key fits with room to spare. */
#define KEY_MAX 512
#define RV_MAX  128
/* "key=value" for a label: a key is at most 317 bytes, a value 63. */
#define LABEL_MAX 512
#define TABLE_MIN 16
/* As deep as the watch decoder accepts: CRDs nest their schemas far. */
#define PARSE_DEPTH 256

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

/* One cached object. */
struct entry {
    struct hnode node;        /* in c->objects, keyed by key */
    char *key;                /* "namespace/name" or "name" */
    size_t ns_len;            /* key[0..ns_len) is the namespace */
    char *rv;                 /* metadata.resourceVersion, "" if none */
    char *text;               /* the stripped object as compact JSON (text mode) */
    size_t text_len;          /* strlen(text) */
    struct json_object *tree; /* the object (tree mode), or a memoized parse (text mode) */
    struct entry *memo_next;  /* next entry on c->memo while tree is a memo */
    uint64_t mark;            /* the replace generation that last saw this object */
    struct member ns;         /* in c->namespaces */
    struct member owner;      /* in c->owners, when the object has a controller owner */
    struct member *labels;    /* one membership in c->labels per label */
    size_t nlabels;
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
    size_t stored_bytes;      /* sum of text_len */
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

/* Removes e from the owner and label indexes. */
static void unindex(struct tg_cache *c, struct entry *e)
{
    leave(&c->owners, &e->owner);
    for (size_t i = 0; i < e->nlabels; i++)
        leave(&c->labels, &e->labels[i]);
    free(e->labels);
    e->labels = NULL;
    e->nlabels = 0;
}

/* Adds e to the owner and label indexes, as meta says. On failure e is in none of them. */
static int reindex(struct tg_cache *c, struct entry *e, struct json_object *meta)
{
    struct json_object *labels = get_member(meta, "labels");
    const char *uid = controller_uid(meta);
    char pair[LABEL_MAX];
    int rc;

    if (uid && (rc = join(&c->owners, uid, &e->owner, e)) != 0)
        return rc;
    if (!json_object_is_type(labels, json_type_object) || json_object_object_length(labels) == 0)
        return 0;
    e->labels = calloc((size_t)json_object_object_length(labels), sizeof(*e->labels));
    if (!e->labels) {
        unindex(c, e);
        return tg_error_set(TG_ENOMEM, "out of memory indexing labels");
    }
    json_object_object_foreach(labels, k, v)
    {
        if (!json_object_is_type(v, json_type_string))
            continue;
        int n = snprintf(pair, sizeof(pair), "%s=%s", k, json_object_get_string(v));
        if (n < 0 || (size_t)n >= sizeof(pair))
            continue; /* longer than any valid label: not indexed */
        if ((rc = join(&c->labels, pair, &e->labels[e->nlabels], e)) != 0) {
            unindex(c, e);
            return rc;
        }
        e->nlabels++;
    }
    return 0;
}

/* ---- objects ---- */

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
    json_tokener_reset(c->tok);
    struct json_object *o = json_tokener_parse_ex(c->tok, e->text, (int)e->text_len);

    if (!o)
        tg_error_set(TG_ENOMEM, "cannot parse cached object %s: %s", e->key,
                     json_tokener_error_desc(json_tokener_get_error(c->tok)));
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

static void free_entry(struct entry *e)
{
    free(e->key);
    free(e->rv);
    free(e->text);
    free(e->labels);
    json_object_put(e->tree);
    free(e);
}

/* Removes e from every table and index; the caller frees it. */
static void unlink_entry(struct tg_cache *c, struct entry *e)
{
    unindex(c, e);
    leave(&c->namespaces, &e->ns);
    ht_remove(&c->objects, &e->node);
    c->stored_bytes -= e->text_len;
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

/* The stored form of obj: its compact text (text mode). */
static int make_text(struct tg_cache *c, struct json_object *obj, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    if (c->opts.store != TG_CACHE_STORE_TEXT)
        return 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
    if (!s || !(*text = malloc(*len + 1)))
        return tg_error_set(TG_ENOMEM, "out of memory serializing a cached object");
    memcpy(*text, s, *len + 1);
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
    struct entry *e = calloc(1, sizeof(*e));
    char ns[KEY_MAX];
    int rc = TG_ENOMEM;

    if (!e)
        return tg_error_set(TG_ENOMEM, "out of memory caching %s", key);
    e->key = strdup(key);
    e->rv = strdup(rv);
    if (!e->key || !e->rv) {
        tg_error_set(TG_ENOMEM, "out of memory caching %s", key);
        goto free_entry;
    }
    if ((rc = make_text(c, obj, &e->text, &e->text_len)) != 0)
        goto free_entry;
    e->ns_len = ns_len;
    e->mark = c->gen;
    memcpy(ns, key, ns_len);
    ns[ns_len] = '\0';
    if ((rc = join(&c->namespaces, ns, &e->ns, e)) != 0)
        goto free_entry;
    if ((rc = reindex(c, e, meta)) != 0)
        goto leave_ns;
    e->node.key = e->key;
    ht_insert(&c->objects, &e->node);
    c->stored_bytes += e->text_len;
    keep_tree(c, e, obj);
    notify(c, TG_CACHE_ADDED, e->key, NULL, obj);
    return 0;

leave_ns:
    leave(&c->namespaces, &e->ns);
free_entry:
    free_entry(e);
    return rc;
}

static int update(struct tg_cache *c, struct entry *e, struct json_object *obj,
                  struct json_object *meta, const char *rv)
{
    struct json_object *old = NULL;
    char *text;
    size_t text_len;
    int rc;

    char *new_rv = strdup(rv);
    if (!new_rv)
        return tg_error_set(TG_ENOMEM, "out of memory caching %s", e->key);
    if ((rc = make_text(c, obj, &text, &text_len)) != 0)
        goto free_rv;
    if (c->nhandlers) {
        /* Handlers are shown the previous state: the tree, or a parse of the old text. */
        old = e->tree ? json_object_get(e->tree) : parse_text(c, e);
        if (!old) {
            rc = TG_ENOMEM;
            goto free_text;
        }
    }
    unindex(c, e);
    if ((rc = reindex(c, e, meta)) != 0) {
        /* Out of memory halfway: drop the object rather than keep it half indexed. */
        unlink_entry(c, e);
        free_entry(e);
        json_object_put(old);
        free(text);
        free(new_rv);
        return rc;
    }
    free(e->rv);
    e->rv = new_rv;
    c->stored_bytes = c->stored_bytes - e->text_len + text_len;
    free(e->text);
    e->text = text;
    e->text_len = text_len;
    json_object_put(e->tree);
    e->tree = NULL;
    e->mark = c->gen;
    keep_tree(c, e, obj);
    notify(c, TG_CACHE_UPDATED, e->key, old, obj);
    json_object_put(old);
    return 0;

free_text:
    free(text);
free_rv:
    free(new_rv);
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
        return rc;
    }
    struct entry *e = CONTAINER(n, struct entry, node);
    int cmp = tg_cache_rv_compare(rv, e->rv);
    if (cmp == 0 || cmp == -1) {
        e->mark = c->gen; /* stale or a duplicate: seen, nothing to do */
        return 0;
    }
    rc = update(c, e, obj, meta, rv);
    if (!rc && op)
        *op = TG_CACHE_UPDATED;
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
            free_entry(e);
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
    notify(c, TG_CACHE_DELETED, e->key, obj, NULL);
    free_entry(e);
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
                notify(c, TG_CACHE_DELETED, e->key, old, NULL);
                json_object_put(old);
                /* A handler may have looked up an entry this sweep frees next: forget memos. */
                drop_memos(c);
                free_entry(e);
                gone++;
            }
            n = next;
        }
    }
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

    return n ? CONTAINER(n, struct entry, node)->rv : NULL;
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
    return fn(ctx, e->key, o);
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
