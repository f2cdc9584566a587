/*
 * A reflector: one resource type's informer (the pure state machine in informer.h) wired to the
 * REST client and a libuv timer, filling one shared cache. It lists, watches, resumes and
 * relists as the informer decides; the cache's handlers see every change.
 */
#ifndef TG_KUBE_REFLECTOR_H
#define TG_KUBE_REFLECTOR_H

#include <stdbool.h>
#include <uv.h>

#include "kube/cache.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "util/clock.h"

struct tg_reflector_options {
    const struct tg_resource *resource; /* borrowed: must outlive the reflector */
    const char *namespace;              /* NULL: all namespaces; copied */
    const char *label_selector;         /* NULL: everything; copied */
    struct tg_cache_opts cache;         /* how the cache stores objects */
    struct tg_informer_opts informer;   /* paging, watch timeout, backoff */
    bool optional; /* the server may not serve the resource (yet): a list answered 404 counts
                      as synced and empty, and listing is retried with the informer's backoff
                      until the resource is served (a CRD installed later is found then) */
};

struct tg_reflector;

/*
 * Makes a reflector and its cache. client and clock are borrowed and must outlive it. *out is
 * the caller's: tg_reflector_stop, run the loop, tg_reflector_free. Returns 0 or TG_ENOMEM.
 */
int tg_reflector_new(uv_loop_t *loop, struct tg_client *client, const struct tg_clock *clock,
                     const struct tg_reflector_options *opt, struct tg_reflector **out);

/* Starts listing. Returns 0, or the client's error when the first request cannot be made. */
int tg_reflector_start(struct tg_reflector *r);

/* The cache this reflector fills; borrowed, lives as long as the reflector. */
struct tg_cache *tg_reflector_cache(struct tg_reflector *r);

/* Whether the first full list has reached the cache (for an optional resource, also: the server
 * said it does not serve it). */
bool tg_reflector_has_synced(const struct tg_reflector *r);

/* Whether the server serves the resource: false only for an optional one whose last list was
 * answered 404 (the cache is empty then). */
bool tg_reflector_served(const struct tg_reflector *r);

/* The resource this reflector serves; borrowed. */
const struct tg_resource *tg_reflector_resource(const struct tg_reflector *r);

/* The informer's counters (lists, relists, watch restarts, ...). */
void tg_reflector_stats(const struct tg_reflector *r, struct tg_informer_stats *out);

/*
 * Stops: the request in flight is cancelled and the timer closes. Run the loop until its
 * handles are closed, then tg_reflector_free.
 */
void tg_reflector_stop(struct tg_reflector *r);

/* Frees a stopped reflector and its cache. NULL is fine. */
void tg_reflector_free(struct tg_reflector *r);

#endif
