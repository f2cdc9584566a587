/* The verification service: fetch, judge, cache; see verifier.h. */
#include "verify/verifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "verify/crypto.h"
#include "verify/fetch.h"
#include "verify/verify.h"

#define DEFAULT_TTL_MS (10 * 60 * 1000)
#define CACHE_MAX      256

/* One cached verdict. */
struct centry {
    char key[65];
    uint64_t expires; /* uv_now */
    json_object *verdict;
};

struct run;

struct tg_verifier {
    uv_loop_t *loop;
    struct tg_registry *reg;
    int64_t ttl_ms;
    struct centry cache[CACHE_MAX];
    size_t n_cache;
    struct run *runs; /* in flight */
};

/* One verification in flight: copies of the request, and a timer for cached answers. */
struct run {
    struct tg_verifier *v; /* NULL once the verifier is gone */
    struct run *next;
    char *image, *source_commit;
    json_object *policies, *materials;
    int64_t now_ms;
    bool no_cache;
    char key[65];
    tg_verifier_cb cb;
    void *arg;
    uv_timer_t timer;
    json_object *cached; /* the verdict a timer delivers */
    bool fetching;
};

/* Writes o as canonical JSON (keys sorted, no spaces) into b. */
static int canon(json_object *o, char **b, size_t *len, size_t *cap);

static int put(char **b, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 1024) + n;
        char *nb = realloc(*b, nc);
        if (!nb)
            return tg_error_set(TG_ENOMEM, "out of memory");
        *b = nb;
        *cap = nc;
    }
    memcpy(*b + *len, s, n);
    *len += n;
    (*b)[*len] = '\0';
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int canon(json_object *o, char **b, size_t *len, size_t *cap)
{
    int rc = 0;
    if (json_object_is_type(o, json_type_object)) {
        size_t n = (size_t)json_object_object_length(o), i = 0;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        if (!keys)
            return tg_error_set(TG_ENOMEM, "out of memory");
        json_object_object_foreach(o, k, v)
        {
            (void)v;
            keys[i++] = k;
        }
        qsort(keys, n, sizeof(*keys), cmp_str);
        rc = put(b, len, cap, "{", 1);
        for (i = 0; i < n && !rc; i++) {
            json_object *ks = json_object_new_string(keys[i]), *v;
            if (!ks) {
                rc = tg_error_set(TG_ENOMEM, "out of memory");
                break;
            }
            const char *kt = json_object_to_json_string_ext(ks, JSON_C_TO_STRING_PLAIN);
            json_object_object_get_ex(o, keys[i], &v);
            if ((i && (rc = put(b, len, cap, ",", 1))) || (rc = put(b, len, cap, kt, strlen(kt))) ||
                (rc = put(b, len, cap, ":", 1)) || (rc = canon(v, b, len, cap))) {
                json_object_put(ks);
                break;
            }
            json_object_put(ks);
        }
        free(keys);
        return rc ? rc : put(b, len, cap, "}", 1);
    }
    if (json_object_is_type(o, json_type_array)) {
        rc = put(b, len, cap, "[", 1);
        for (size_t i = 0; i < json_object_array_length(o) && !rc; i++) {
            if (i)
                rc = put(b, len, cap, ",", 1);
            if (!rc)
                rc = canon(json_object_array_get_idx(o, i), b, len, cap);
        }
        return rc ? rc : put(b, len, cap, "]", 1);
    }
    const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "null";
    return put(b, len, cap, s, strlen(s));
}

/* The cache key: sha256 of image, canonical policies, canonical materials and source commit. */
static int cache_key(const struct run *r, char out[65])
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    const char *commit = r->source_commit ? r->source_commit : "";
    int rc;

    if ((rc = put(&b, &len, &cap, r->image, strlen(r->image) + 1)) ||
        (rc = canon(r->policies, &b, &len, &cap)) || (rc = put(&b, &len, &cap, "\n", 1)) ||
        (rc = canon(r->materials, &b, &len, &cap)) || (rc = put(&b, &len, &cap, "\n", 1)) ||
        (rc = put(&b, &len, &cap, commit, strlen(commit)))) {
        free(b);
        return rc;
    }
    tg_sha256_hex(b, len, out);
    free(b);
    return 0;
}

static json_object *cache_get(struct tg_verifier *v, const char *key)
{
    uint64_t now = uv_now(v->loop);
    for (size_t i = 0; i < v->n_cache; i++) {
        if (strcmp(v->cache[i].key, key) == 0 && v->cache[i].expires > now)
            return v->cache[i].verdict;
    }
    return NULL;
}

static void cache_put(struct tg_verifier *v, const char *key, json_object *verdict)
{
    uint64_t now = uv_now(v->loop);
    size_t slot = v->n_cache;

    for (size_t i = 0; i < v->n_cache; i++) {
        if (strcmp(v->cache[i].key, key) == 0 || v->cache[i].expires <= now) {
            slot = i;
            break;
        }
    }
    if (slot == CACHE_MAX) {
        /* Full of live entries: replace the one that expires first. */
        slot = 0;
        for (size_t i = 1; i < CACHE_MAX; i++) {
            if (v->cache[i].expires < v->cache[slot].expires)
                slot = i;
        }
    }
    if (slot == v->n_cache)
        v->n_cache++;
    else
        json_object_put(v->cache[slot].verdict);
    snprintf(v->cache[slot].key, sizeof(v->cache[slot].key), "%s", key);
    v->cache[slot].expires = now + (uint64_t)v->ttl_ms;
    v->cache[slot].verdict = json_object_get(verdict);
}

int tg_verifier_new(uv_loop_t *loop, const struct tg_registry_options *opt, int64_t cache_ttl_ms,
                    struct tg_verifier **out)
{
    struct tg_registry_options none = {0};
    struct tg_verifier *v;
    int rc;

    *out = NULL;
    if (!loop || cache_ttl_ms < 0)
        return tg_error_set(TG_EINVALID, "verifier: a loop and a TTL >= 0 are needed");
    v = calloc(1, sizeof(*v));
    if (!v)
        return tg_error_set(TG_ENOMEM, "out of memory");
    v->loop = loop;
    v->ttl_ms = cache_ttl_ms ? cache_ttl_ms : DEFAULT_TTL_MS;
    if ((rc = tg_registry_new(loop, opt ? opt : &none, &v->reg))) {
        free(v);
        return rc;
    }
    *out = v;
    return 0;
}

static void run_free(struct run *r)
{
    free(r->image);
    free(r->source_commit);
    json_object_put(r->policies);
    json_object_put(r->materials);
    json_object_put(r->cached);
    free(r);
}

static void unlink_run(struct run *r)
{
    if (!r->v)
        return;
    for (struct run **p = &r->v->runs; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    r->v = NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    run_free(h->data);
}

/* Ends a run: its callback, then the run (through the timer's close). */
static void finish(struct run *r, int rc, const char *message, json_object *verdict)
{
    unlink_run(r);
    r->cb(rc, message, verdict, r->arg);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

static void on_cached(uv_timer_t *t)
{
    struct run *r = t->data;
    json_object *verdict = json_object_get(r->cached);

    finish(r, 0, "", verdict);
    json_object_put(verdict);
}

/* Judges fetched material: the verdict goes to the callback and the cache. */
static void on_fetched(int rc, const char *message, struct tg_verify_material *m, void *arg)
{
    struct run *r = arg;
    json_object *verdict = NULL;

    r->fetching = false;
    if (rc < 0) {
        tg_verify_material_free(m);
        finish(r, rc, message ? message : tg_error_name(rc), NULL);
        return;
    }
    struct tg_verify_input in = {.image = r->image,
                                 .material = m,
                                 .policies = r->policies,
                                 .materials = r->materials,
                                 .source_commit = r->source_commit,
                                 .now_ms = r->now_ms};
    rc = tg_verify_judge(&in, &verdict);
    tg_verify_material_free(m);
    if (rc < 0) {
        finish(r, rc, tg_error_last(), NULL);
        return;
    }
    if (r->v)
        cache_put(r->v, r->key, verdict);
    finish(r, 0, "", verdict);
    json_object_put(verdict);
}

/* True when image is "...@sha256:<64 hex>". */
static bool pinned(const char *image)
{
    const char *at = strrchr(image, '@');
    return at && tg_digest_valid(at + 1);
}

int tg_verifier_run(struct tg_verifier *v, const struct tg_verify_request *req, tg_verifier_cb cb,
                    void *arg)
{
    struct run *r;
    int rc;

    if (!v || !req || !req->image || !cb)
        return tg_error_set(TG_EINVALID, "verifier: an image and a callback are needed");
    if ((rc = tg_verify_policies_validate(req->policies)))
        return rc;
    if (req->materials && !json_object_is_type(req->materials, json_type_object))
        return tg_error_set(TG_EINVALID, "materials: must be an object");
    r = calloc(1, sizeof(*r));
    if (!r)
        return tg_error_set(TG_ENOMEM, "out of memory");
    r->image = strdup(req->image);
    r->source_commit = req->source_commit ? strdup(req->source_commit) : NULL;
    json_object_deep_copy(req->policies, &r->policies, NULL);
    if (req->materials)
        json_object_deep_copy(req->materials, &r->materials, NULL);
    if (!r->image || (req->source_commit && !r->source_commit) || !r->policies ||
        (req->materials && !r->materials) || cache_key(r, r->key) < 0) {
        run_free(r);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    r->now_ms = req->now_ms;
    r->cb = cb;
    r->arg = arg;
    r->v = v;
    uv_timer_init(v->loop, &r->timer);
    r->timer.data = r;

    json_object *hit = req->no_cache ? NULL : cache_get(v, r->key);
    if (!hit && !pinned(req->image)) {
        /* An unpinned image is a failed verdict, never a fetch. */
        struct tg_verify_input in = {.image = r->image,
                                     .failure = "the image is not pinned by digest "
                                                "(registry/repo@sha256:<hex>)",
                                     .policies = r->policies,
                                     .materials = r->materials,
                                     .now_ms = r->now_ms};
        if ((rc = tg_verify_judge(&in, &r->cached)) < 0)
            goto fail;
    } else if (hit) {
        r->cached = json_object_get(hit);
    }
    if (r->cached) {
        uv_timer_start(&r->timer, on_cached, 0, 0);
    } else {
        struct tg_fetch_options fo = {0};
        r->fetching = true;
        if ((rc = tg_fetch_material(v->reg, r->image, req->creds, &fo, on_fetched, r)) < 0)
            goto fail;
    }
    r->next = v->runs;
    v->runs = r;
    return 0;
fail:
    r->v = NULL;
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
    return rc;
}

void tg_verifier_free(struct tg_verifier *v)
{
    if (!v)
        return;
    /* Runs waiting on a timer end now; fetches end through the registry's cancellation. */
    struct run *r = v->runs;
    while (r) {
        struct run *next = r->next;
        if (!r->fetching) {
            uv_timer_stop(&r->timer);
            finish(r, TG_ECANCELED, "the verifier was freed", NULL);
        }
        r = next;
    }
    tg_registry_free(v->reg);
    /* Whatever the registry did not end (it should have ended all) ends here. */
    while ((r = v->runs) != NULL) {
        r->fetching = false;
        finish(r, TG_ECANCELED, "the verifier was freed", NULL);
    }
    for (size_t i = 0; i < v->n_cache; i++)
        json_object_put(v->cache[i].verdict);
    free(v);
}
