/*
 * The planner: the pure heart of the Rollout reconciler.
 *
 * tg_plan_build() takes what the reconciler observed (the Rollout, the Releases naming it, the
 * objects it owns or references) and the current wall-clock time, and returns what must change:
 * objects to create, patch or delete, status merge patches for the Rollout and its Releases,
 * Events, and when to look again. It does no I/O, reads no clock and keeps no globals, so every
 * decision is a table test (tests/unit/test_plan*.c, tests/fixtures/plan/).
 *
 * All state lives in the objects' status: the planner derives everything from the input, so a
 * restarted operator continues exactly where the last one stopped, and a reconcile that finds
 * the world converged plans no action at all.
 *
 * The policy (rounding, promotion, abort, retry, rollback, deadlines) is described in
 * docs/planner.md and at the head of each plan_*.c file.
 */
#ifndef TG_ROLLOUT_PLAN_H
#define TG_ROLLOUT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "analysis/promql.h"
#include "rollout/spec.h"

/* One Release naming the Rollout, as observed. Everything is borrowed from the caller. */
struct tg_plan_release {
    json_object *obj;                     /* the whole object: metadata, spec, status */
    const struct tg_release_spec *spec;   /* its parsed spec, or NULL when it is invalid */
    const struct tg_field_errors *errors; /* with spec NULL: every problem found; may be NULL */
    /*
     * The verification policies that apply to it, from tg_plan_release_policies():
     * [{"name": "VerificationPolicy/<name>" | "Release", "spec": {...}, "namespace"?}], or
     * NULL: none (namespace: the Release's, on its own spec.verify).
     */
    json_object *policies;
};

/*
 * The policies a Release must pass (docs/api.md, "Verification"): every VerificationPolicy of
 * vpols (objects with metadata.name and spec; borrowed) whose images and namespaces match the
 * Release's image and namespace (tg_verify_policy_matches), ordered by name, then the Release's
 * own spec.verify as "Release" with "namespace": its namespace (where its references without a
 * namespace point; a VerificationPolicy's name theirs). *out is a new array the caller puts
 * (empty: none applies).
 * Returns 0 or TG_ENOMEM.
 */
int tg_plan_release_policies(json_object *const *vpols, size_t n_vpols, json_object *release,
                             const struct tg_release_spec *spec, json_object **out);

/*
 * The outcome of one gate (see struct tg_gate) the reconciler ran for this plan, matched by id.
 * Everything is borrowed.
 */
struct tg_gate_result {
    const char *id;
    int rc;              /* 0, or the TG_E* code of a failed query or request */
    const char *message; /* with rc: what failed; TG_GATE_HTTP: what the test saw ("HTTP 503") */
    const struct tg_prom_result *answer;   /* QUERY: the answer; COMPARE: the canary's range */
    const struct tg_prom_result *baseline; /* COMPARE: the baseline's range */
    bool passed;                           /* TG_GATE_HTTP: the test passed */
    json_object *verification;             /* TG_GATE_VERIFY with rc 0: the verifier's verdict */
};

/*
 * What the planner looks at. Everything is borrowed and must stay valid until tg_plan_build()
 * returns; the plan keeps no reference into it.
 */
struct tg_plan_input {
    json_object *rollout;                 /* the Rollout object, with metadata and status */
    const struct tg_rollout_spec *spec;   /* its parsed spec, or NULL when it is invalid */
    const struct tg_field_errors *errors; /* with spec NULL: every problem found; may be NULL */

    const struct tg_plan_release *releases; /* the Releases whose spec.rollout names it */
    size_t n_releases;

    /*
     * The objects the planner may read: the Deployments, Services and Ingresses the Rollout
     * owns, the HTTPRoute and the Ingress its traffic routing names, and the Deployment
     * spec.workloadRef names. Found by kind and name; order does not matter.
     */
    json_object *const *objects;
    size_t n_objects;

    int64_t now_ms; /* wall-clock milliseconds since the Unix epoch */

    /* The API server does not serve the Gateway API (its CRDs are not installed), or the
     * operator does not watch it: an HTTPRoute cannot be read or routed. */
    bool gateway_api_unserved;

    /* --verify-unmatched deny: a Release no policy covers fails (else it needs no verification). */
    bool verify_unmatched_deny;

    /*
     * The gates of a previous plan of this same reconcile, run by the reconciler (none on the
     * first pass). The planner records each one it still wants as a measurement in the
     * Release's status and does not ask for it again.
     */
    const struct tg_gate_result *results;
    size_t n_results;
};

/* What an action does. */
enum tg_action_kind {
    TG_ACTION_CREATE,       /* create body */
    TG_ACTION_PATCH,        /* patch the object (or its subresource) with body */
    TG_ACTION_DELETE,       /* delete the object */
    TG_ACTION_PATCH_STATUS, /* merge-patch the status subresource with body */
    TG_ACTION_EVENT,        /* record an Event about the object */
};

/* How a patch body is to be read. */
enum tg_plan_patch_type {
    TG_PLAN_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
    TG_PLAN_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in kinds only) */
    TG_PLAN_PATCH_JSON,      /* application/json-patch+json (RFC 6902), for exact replacements */
};

/* One thing to do. Every string and body is owned by the plan. */
struct tg_action {
    enum tg_action_kind kind;
    char *api_version; /* of the object acted on: "apps/v1", "tollgate.io/v1alpha1", ... */
    char *object_kind; /* "Deployment", "Service", "Rollout", ... */
    char *namespace;   /* or NULL for the Rollout's namespace when it has none */
    char *name;
    char *uid;                          /* EVENT: the involved object's uid, or NULL */
    char *subresource;                  /* PATCH: "scale", or NULL; PATCH_STATUS: "status" */
    enum tg_plan_patch_type patch_type; /* PATCH and PATCH_STATUS */
    json_object *body;                  /* CREATE: the object; PATCH, PATCH_STATUS: the patch */
    bool warning;                       /* EVENT: type Warning rather than Normal */
    char *reason;                       /* EVENT: CamelCase reason */
    char *message;                      /* EVENT: a sentence for humans */
};

/* What a gate asks the reconciler to find out. */
enum tg_gate_kind {
    TG_GATE_QUERY,   /* a Prometheus instant query */
    TG_GATE_COMPARE, /* two Prometheus range queries: the canary's and the baseline's */
    TG_GATE_HTTP,    /* an HTTP smoke test */
    TG_GATE_VERIFY,  /* a verification of an image against policies (verify/verifier.h) */
};

/*
 * A measurement due now. The planner cannot do I/O: when a plan holds gates, the reconciler
 * runs them all, then plans again with their results (tg_plan_input.results) and applies that
 * second plan. Every string is owned by the plan.
 */
struct tg_gate {
    char *id; /* "<release>/<run>/<check>", unique within a plan */
    enum tg_gate_kind kind;
    char *address;         /* QUERY, COMPARE: Prometheus' base URL, NULL for the operator's */
    long timeout_ms;       /* per query, or per HTTP attempt */
    char *query;           /* QUERY: the instant query; COMPARE: the canary's range query */
    char *query_base;      /* COMPARE: the baseline's range query */
    int64_t start_ms;      /* COMPARE: the range */
    int64_t end_ms;        /* COMPARE */
    int64_t step_ms;       /* COMPARE */
    char *method;          /* HTTP */
    char *url;             /* HTTP: rendered */
    char *body_pattern;    /* HTTP: or NULL */
    int expected_status;   /* HTTP */
    int retries;           /* HTTP */
    char *image;           /* VERIFY: the image, pinned by digest */
    char *namespace;       /* VERIFY: the Release's, for references without one */
    char *source_commit;   /* VERIFY: the Release's spec.source.commit, or NULL */
    json_object *policies; /* VERIFY: as tg_plan_release.policies (a reference) */
    bool no_cache;         /* VERIFY: a re-check: do not reuse a cached verdict */
};

/* The result of planning. Free it with tg_plan_free(). */
struct tg_plan {
    struct tg_action *actions; /* in the order they are to be applied */
    size_t n_actions;
    size_t cap_actions;
    struct tg_gate *gates; /* measurements due now: run them and plan again */
    size_t n_gates;
    size_t cap_gates;
    int64_t requeue_after_ms; /* look again after this long; 0 when nothing is waiting */
};

/*
 * Plans one reconcile of in->rollout. On success returns 0 and *out is a plan the caller frees
 * with tg_plan_free() (it may hold no action: the world is converged). Returns TG_ENOMEM when
 * an allocation fails, or TG_EINVALID when the input is malformed beyond what a condition can
 * report (no Rollout object); *out is then NULL and the last-error message says why.
 */
int tg_plan_build(const struct tg_plan_input *in, struct tg_plan **out);

/*
 * Plans the status of Releases whose Rollout does not exist: each one not yet started becomes
 * Pending with reason RolloutNotFound. in->rollout is a stand-in object carrying only
 * metadata.name and metadata.namespace of the missing Rollout; in->spec and in->objects are
 * ignored. Returns as tg_plan_build.
 */
int tg_plan_orphans(const struct tg_plan_input *in, struct tg_plan **out);

/* Frees a plan and everything it holds. NULL is fine. */
void tg_plan_free(struct tg_plan *plan);

/*
 * Renders one action as JSON, the form the fixtures and the debug log use:
 * {"op": "create"|"patch"|"delete"|"status"|"event", "kind", "name", "namespace"?,
 *  "subresource"?, "patchType"?, "body"?, "type"?, "reason"?, "message"?}.
 * Returns a new object the caller puts, or NULL when out of memory.
 */
json_object *tg_action_to_json(const struct tg_action *action);

/* Renders the whole plan: {"actions": [...], "gates"?: [...], "requeueAfterMs": n}. As
 * tg_action_to_json; gates render as {"id", "kind", "query"?, "queryBaseline"?, "url"?, "image"?,
 * "policies"? (names), "noCache"?}. */
json_object *tg_plan_to_json(const struct tg_plan *plan);

/*
 * Replicas routing (see plan_routing.c): the canary's pods for weight (0-100) of replicas:
 * round(replicas * weight / 100), at least 1 when weight > 0, at most replicas - 1 when
 * weight < 100.
 */
int tg_plan_canary_replicas(int replicas, int weight);

/* ...and the stable track's: replicas - canary, but at least 1 while weight < 100. */
int tg_plan_stable_replicas(int replicas, int weight);

/* The weight actually achieved: round(100 * canary_ready / (stable_ready + canary_ready)). */
int tg_plan_actual_weight(int stable_ready, int canary_ready);

/* Labels and annotations the operator puts on what it makes. */
#define TG_LABEL_MANAGED_BY    "app.kubernetes.io/managed-by"
#define TG_LABEL_ROLLOUT       "tollgate.io/rollout"
#define TG_LABEL_TRACK         "tollgate.io/track"
#define TG_LABEL_COLOR         "tollgate.io/color"
#define TG_LABEL_RELEASE       "tollgate.io/release"
#define TG_ANNOTATION_TEMPLATE "tollgate.io/template-hash"
#define TG_ANNOTATION_RELEASE  "tollgate.io/release"
#define TG_NGINX_CANARY        "nginx.ingress.kubernetes.io/canary"
#define TG_NGINX_CANARY_WEIGHT "nginx.ingress.kubernetes.io/canary-weight"

#endif
