/*
 * The Rollout reconciler: thin, as style.md's three steps say. It observes (reads the shared
 * caches, no copies), plans (rollout/plan.h, pure), and applies the plan's actions one after
 * another through the REST client. It carries no policy: every decision is the planner's.
 */
#ifndef TG_ROLLOUT_RECONCILER_H
#define TG_ROLLOUT_RECONCILER_H

#include <stdbool.h>
#include <stdint.h>

#include "kube/cache.h"
#include "kube/controller.h"
#include "kube/manager.h"
#include "kube/reconcile.h"
#include "kube/reflector.h"

/* The caches the reconciler reads; borrowed. httproutes is NULL when Gateway API is absent. */
struct tg_rollout_caches {
    struct tg_cache *rollouts;
    struct tg_cache *releases;
    struct tg_cache *deployments;
    struct tg_cache *services;
    struct tg_cache *ingresses;
    struct tg_cache *httproutes;
    struct tg_cache *jobs;      /* smoke-test Jobs the Rollouts own; NULL: none watched */
    struct tg_cache *vpolicies; /* VerificationPolicies (cluster-scoped); NULL: none watched */
    struct tg_reflector *httproutes_source; /* fills httproutes and says whether the Gateway
                                               API is served; NULL: always served, or unwatched */
};

struct tg_checker;

struct tg_rollout_reconciler;

/*
 * Makes the reconciler. manager and caches are borrowed and must outlive it. *out is the
 * caller's, freed with tg_rollout_reconciler_free once the loop has ended.
 */
int tg_rollout_reconciler_new(struct tg_manager *manager, const struct tg_rollout_caches *caches,
                              struct tg_rollout_reconciler **out);

void tg_rollout_reconciler_free(struct tg_rollout_reconciler *r);

/*
 * The executor of the plans' gates (Prometheus queries, HTTP smoke tests); borrowed. Without
 * one, gates are never run and analyses wait.
 */
void tg_rollout_reconciler_set_checker(struct tg_rollout_reconciler *r, struct tg_checker *c);

struct tg_verifier;

/*
 * The verifier that runs the plans' verification gates (borrowed; NULL: they cannot run and
 * Releases that need one stay Verifying, retrying). unmatched_deny: --verify-unmatched deny.
 * Secrets and ConfigMaps the policies reference, and the Rollout's imagePullSecrets, are read
 * with a GET each when a gate runs (never listed nor watched).
 */
void tg_rollout_reconciler_set_verifier(struct tg_rollout_reconciler *r, struct tg_verifier *v,
                                        bool unmatched_deny);

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
    uint64_t gates;              /* gates run (queries, comparisons, HTTP smoke tests) */
    uint64_t rollbacks_analysis; /* deliveries a failed analysis rolled back */
    uint64_t rollbacks_error;    /* ...an analysis in error (onError: rollback) */
    uint64_t rollbacks_smoke;    /* ...a failed smoke test */
    uint64_t verifications;      /* verification gates run */
};

void tg_rollout_reconciler_stats(const struct tg_rollout_reconciler *r,
                                 struct tg_rollout_stats *out);

#endif
