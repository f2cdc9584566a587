/*
 * The Rollout reconciler: thin, as style.md's three steps say. It observes (reads the shared
 * caches, no copies), plans (rollout/plan.h, pure), and applies the plan's actions one after
 * another through the REST client. It carries no policy: every decision is the planner's.
 */
#ifndef TG_ROLLOUT_RECONCILER_H
#define TG_ROLLOUT_RECONCILER_H

#include <stdint.h>

#include "kube/cache.h"
#include "kube/controller.h"
#include "kube/manager.h"
#include "kube/reconcile.h"

/* The caches the reconciler reads; borrowed. httproutes is NULL when Gateway API is absent. */
struct tg_rollout_caches {
    struct tg_cache *rollouts;
    struct tg_cache *releases;
    struct tg_cache *deployments;
    struct tg_cache *services;
    struct tg_cache *ingresses;
    struct tg_cache *httproutes;
};

struct tg_rollout_reconciler;

/*
 * Makes the reconciler. manager and caches are borrowed and must outlive it. *out is the
 * caller's, freed with tg_rollout_reconciler_free once the loop has ended.
 */
int tg_rollout_reconciler_new(struct tg_manager *manager, const struct tg_rollout_caches *caches,
                              struct tg_rollout_reconciler **out);

void tg_rollout_reconciler_free(struct tg_rollout_reconciler *r);

/* The reconciler as the controller sees it. */
struct tg_reconciler tg_rollout_reconciler_as(struct tg_rollout_reconciler *r);

/*
 * Wires the controller to the caches: Rollouts enqueue themselves; Releases enqueue the Rollout
 * they name; owned Deployments, Services and Ingresses enqueue their owner; a user's Ingress,
 * HTTPRoute or adopted Deployment enqueues every Rollout in its namespace that names it.
 */
int tg_rollout_reconciler_watch(struct tg_rollout_reconciler *r, struct tg_controller *c);

/* Counters: reconciles, actions applied by kind, apply failures. */
struct tg_rollout_stats {
    uint64_t reconciles;
    uint64_t converged; /* reconciles whose plan held no action */
    uint64_t actions;
    uint64_t failures;
};

void tg_rollout_reconciler_stats(const struct tg_rollout_reconciler *r,
                                 struct tg_rollout_stats *out);

#endif
