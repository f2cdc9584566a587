/*
 * Typed views of the Rollout and Release custom resources (crds/).
 *
 * The reconcilers never walk json-c objects for a spec: they parse the object from the cache
 * into these structs once, and plan from the structs. Parsing applies the CRD's defaults itself,
 * so a planner never depends on the API server having defaulted (an object written before a
 * default existed, or a cache filled by a test), and validates everything the OpenAPI schema
 * cannot express (our API server in tests cannot run CEL): exactly one of template and
 * workloadRef, exactly one strategy and traffic router, non-decreasing weights, pause
 * durations, an image pinned by digest, a semver version. It also re-checks the types and
 * ranges the schema has, because an object may come from anywhere.
 *
 * Every problem is collected, not just the first, as a field path and a message, so that the
 * InvalidSpec condition can list them all: "spec.replicas: must be at least 0 (got -1)".
 */
#ifndef TG_ROLLOUT_SPEC_H
#define TG_ROLLOUT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "analysis/evaluate.h"
#include "analysis/mannwhitney.h"
#include "release/version.h"

/* At most this many problems are kept; a last entry says how many more were dropped. */
#define TG_FIELD_ERRORS_MAX 32

/* One problem with a spec: where and what. Both strings are owned by the list. */
struct tg_field_error {
    char *field;   /* path in the object, as kubectl prints it: "spec.strategy.canary.steps[2]" */
    char *message; /* what is wrong, a sentence fragment: "must be between 0 and 100 (got 101)" */
};

/* A list of problems, in the order they were found. Zero-initialise, then free with _free. */
struct tg_field_errors {
    struct tg_field_error items[TG_FIELD_ERRORS_MAX];
    size_t len;     /* entries used in items */
    size_t dropped; /* problems found after the list was full */
    bool nomem;     /* an allocation failed while recording a problem */
};

/*
 * Records a problem. Never fails: when the list is full the problem is counted in dropped, and
 * when memory runs out nomem is set (the parse functions then return TG_ENOMEM).
 */
void tg_field_errors_add(struct tg_field_errors *errs, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Frees the strings; the list is empty and usable again. */
void tg_field_errors_free(struct tg_field_errors *errs);

/*
 * Joins the problems into one message, "field: message; field: message", with
 * "; and N more" when some were dropped. Returns a string the caller frees, or NULL when out
 * of memory. An empty list gives "".
 */
char *tg_field_errors_join(const struct tg_field_errors *errs);

/* Which strategy a Rollout uses. */
enum tg_strategy_kind {
    TG_STRATEGY_CANARY,
    TG_STRATEGY_BLUE_GREEN,
};

/* One key/value pair (labels, template args), key and value owned by the list holding it. */
struct tg_label {
    char *key;
    char *value;
};

/* How a metric is judged. */
enum tg_compare_kind {
    TG_COMPARE_NONE,     /* thresholds: one instant query, min/max */
    TG_COMPARE_BASELINE, /* range samples of the canary against the baseline: Mann-Whitney */
};

/*
 * One metric, resolved: the Rollout's spec.analysis.metrics entry with a step's overrides
 * applied, every default filled in (see docs/api.md).
 */
struct tg_metric_spec {
    char *name;                     /* DNS-1123 label, unique within its analysis */
    char *query;                    /* PromQL template with {{variables}} */
    int64_t interval_ms;            /* default 30 s; at least 1 s */
    int64_t initial_delay_ms;       /* default 0 */
    struct tg_metric_policy policy; /* min/max, noData, limits, count, dryRun */
    enum tg_compare_kind compare;   /* compare: baseline */
    double confidence;              /* compare: default 0.95; significant when p < 1 - confidence */
    enum tg_mw_alternative direction; /* compare: increase (default) = TG_MW_GREATER, ... */
    bool has_max_median_ratio;        /* compare: maxMedianRatio was given */
    double max_median_ratio;          /* compare: the worse median over the other, at most this */
    int64_t lookback_ms;              /* compare: the range queried, default 60 s */
    int64_t step_ms;                  /* compare: the range's resolution, default 5 s */
};

/*
 * One analysis as it runs: a canary step's, the background one, or blue-green's pre- or
 * post-promotion one. Metrics are deep copies (overrides applied); args are
 * spec.analysis.args overridden by the reference's own args.
 */
struct tg_analysis {
    struct tg_metric_spec *metrics; /* n_metrics >= 1 */
    size_t n_metrics;
    struct tg_label *args;
    size_t n_args;
};

enum tg_smoke_kind {
    TG_SMOKE_HTTP,
    TG_SMOKE_JOB,
};

/* One smoke test (spec.analysis.smokeTests[i]). */
struct tg_smoke_test {
    char *name; /* DNS-1123 label, unique */
    enum tg_smoke_kind kind;
    /* TG_SMOKE_HTTP */
    char *url;           /* template with {{variables}}; http:// or https:// once rendered */
    char *method;        /* default "GET" */
    int expected_status; /* default 200 */
    char *body_pattern;  /* POSIX extended regular expression the body must match, or NULL */
    int64_t timeout_ms;  /* per attempt, default 5 s */
    int retries;         /* attempts after the first, default 2 */
    /* TG_SMOKE_JOB */
    json_object *job_template; /* job.template: {metadata?, spec} (a reference held), or NULL */
    int64_t deadline_ms;       /* job.deadline, default 300 s */
};

/* spec.analysis: where metrics come from and what applies to every analysis. */
struct tg_analysis_settings {
    bool present;             /* spec.analysis was given */
    char *prometheus_address; /* prometheus.address, or NULL: the operator's --prometheus-url */
    int64_t prometheus_timeout_ms; /* prometheus.timeout, default 10 s */
    bool on_error_rollback;        /* onError: rollback; default pause */
    bool baseline;                 /* run <rollout>-baseline beside the canary */
    struct tg_label *args;         /* template args, {{key}} */
    size_t n_args;
    struct tg_metric_spec
        *metrics; /* the catalogue, defaults applied, count as written (0 absent) */
    size_t n_metrics;
    struct tg_smoke_test *smoke_tests;
    size_t n_smoke_tests;
};

/* What a canary step does. */
enum tg_step_kind {
    TG_STEP_SET_WEIGHT,
    TG_STEP_PAUSE,
    TG_STEP_ANALYSIS,
};

/* One canary step. */
struct tg_canary_step {
    enum tg_step_kind kind;
    int weight;                  /* TG_STEP_SET_WEIGHT: 0..100 */
    bool has_duration;           /* TG_STEP_PAUSE: false waits for a promote */
    int64_t duration_ms;         /* TG_STEP_PAUSE with has_duration: the pause, in milliseconds */
    struct tg_analysis analysis; /* TG_STEP_ANALYSIS: resolved */
};

/* How canary traffic is split. */
enum tg_routing_kind {
    TG_ROUTING_REPLICAS,    /* the Service selects both tracks; weight by ready pods */
    TG_ROUTING_GATEWAY_API, /* HTTPRoute backendRef weights */
    TG_ROUTING_NGINX,       /* a canary Ingress with NGINX canary annotations */
};

struct tg_traffic_routing {
    enum tg_routing_kind kind;
    char *http_route;      /* TG_ROUTING_GATEWAY_API: the HTTPRoute's name */
    char *route_namespace; /* TG_ROUTING_GATEWAY_API: its namespace (the Rollout's by default) */
    char *ingress;         /* TG_ROUTING_NGINX: the user's Ingress */
};

struct tg_canary_strategy {
    struct tg_canary_step *steps; /* n_steps >= 1 entries */
    size_t n_steps;
    struct tg_traffic_routing routing;
    bool has_background;           /* backgroundAnalysis was given */
    struct tg_analysis background; /* runs from the first step until the Release ends */
};

struct tg_blue_green_strategy {
    char *active_service;              /* defaulted to spec.service.name */
    char *preview_service;             /* required */
    bool auto_promotion_enabled;       /* default true */
    bool has_auto_promotion_delay;     /* autoPromotionSeconds was given */
    int auto_promotion_seconds;        /* with has_auto_promotion_delay */
    int scale_down_delay_seconds;      /* default 30 */
    bool has_pre_promotion;            /* prePromotionAnalysis was given */
    struct tg_analysis pre_promotion;  /* on the preview, before the switch */
    bool has_post_promotion;           /* postPromotionAnalysis was given */
    struct tg_analysis post_promotion; /* on the new active, before the old one scales down */
};

/* The user-facing Service. */
struct tg_service_spec {
    char *name;
    int port;               /* default 80 */
    int target_port;        /* a number, or 0 when target_port_name is set */
    char *target_port_name; /* a named container port, or NULL; default: target_port = port */
};

/* spec.workloadRef: a Deployment adopted as the pod template. */
struct tg_workload_ref {
    char *api_version; /* "apps/v1" */
    char *kind;        /* "Deployment" */
    char *name;
};

/* A parsed, defaulted and validated Rollout. */
struct tg_rollout_spec {
    char *name;         /* metadata.name */
    char *namespace;    /* metadata.namespace, or NULL */
    char *uid;          /* metadata.uid, or NULL (for ownerReferences) */
    int64_t generation; /* metadata.generation, 0 when absent */

    json_object *pod_template;            /* spec.template (a reference we hold), or NULL */
    struct tg_workload_ref *workload_ref; /* or NULL; exactly one of the two is set */

    int replicas;              /* default 1 */
    struct tg_label *selector; /* spec.selector.matchLabels, or the template's labels */
    size_t n_selector;         /* 0 with workloadRef and no selector: use the Deployment's */
    struct tg_service_spec service;

    enum tg_strategy_kind strategy;
    struct tg_canary_strategy canary;         /* with TG_STRATEGY_CANARY */
    struct tg_blue_green_strategy blue_green; /* with TG_STRATEGY_BLUE_GREEN */

    struct tg_analysis_settings analysis; /* spec.analysis */

    int progress_deadline_seconds; /* default 600 */
    int revision_history_limit;    /* default 10 */
    bool paused;                   /* default false */
};

/*
 * Parses a Rollout object (apiVersion, kind, metadata, spec; status is ignored). On success
 * returns 0 and *out is a spec the caller frees with tg_rollout_spec_free(). When the object
 * is invalid returns TG_EINVALID, *out is NULL, and errs holds every problem found (the
 * last-error message says how many). Returns TG_ENOMEM when an allocation fails. errs must be
 * zero-initialised or freshly freed; the caller frees it.
 */
int tg_rollout_spec_parse(json_object *obj, struct tg_rollout_spec **out,
                          struct tg_field_errors *errs);

/* Frees a spec from tg_rollout_spec_parse() and drops its template reference. NULL is fine. */
void tg_rollout_spec_free(struct tg_rollout_spec *spec);

/* Returns the spec's step i, or NULL when it is past the end or the strategy is not canary. */
const struct tg_canary_step *tg_rollout_spec_step(const struct tg_rollout_spec *spec, size_t i);

/* One entry of a Release's spec.changes. */
struct tg_release_change {
    char *id;
    char *title; /* or NULL */
    char *url;   /* or NULL */
};

/* A parsed, defaulted and validated Release. */
struct tg_release_spec {
    char *name;         /* metadata.name */
    char *namespace;    /* metadata.namespace, or NULL */
    char *uid;          /* metadata.uid, or NULL */
    int64_t generation; /* metadata.generation, 0 when absent */

    char *rollout;             /* spec.rollout */
    struct tg_version version; /* spec.version, parsed */

    char *image;     /* spec.artifact.image as written */
    char *digest;    /* "sha256:<64 hex>" from the image, or NULL (only with allow_tags) */
    char *container; /* spec.artifact.container, or NULL: the template's first container */
    bool allow_tags; /* default false */
    /* spec.artifact.pullSecrets[].name: Secrets in the Release's namespace with registry
     * credentials for verification, read before the Rollout template's imagePullSecrets (the
     * first credentials for a host win); n_pull_secrets names, at most 16, owned. */
    char **pull_secrets;
    size_t n_pull_secrets;

    char *source_repository; /* or NULL */
    char *source_commit;     /* or NULL */
    bool has_committed_at;
    int64_t committed_at; /* Unix seconds, with has_committed_at */

    char *notes; /* or NULL */
    struct tg_release_change *changes;
    size_t n_changes;

    char *promoted_from_namespace; /* both NULL, or both set */
    char *promoted_from_release;

    /* spec.verify: the Release's own verification policy (verify/verifier.h's shape without
     * images and namespaces), validated; a reference the spec holds, or NULL. */
    json_object *verify;

    char spec_hash[65]; /* SHA-256 (hex) of the defaulted spec; see tg_release_spec_parse() */
};

/*
 * Parses a Release object, as tg_rollout_spec_parse() does a Rollout. spec_hash is computed
 * over the typed, defaulted view (not the JSON text), so that key order, server-side defaults
 * and pruned unknown fields never change it, while any change of meaning does.
 */
int tg_release_spec_parse(json_object *obj, struct tg_release_spec **out,
                          struct tg_field_errors *errs);

/* Frees a spec from tg_release_spec_parse(). NULL is fine. */
void tg_release_spec_free(struct tg_release_spec *spec);

/*
 * Parses a pause duration as the CRD accepts it: a JSON integer or a string of digits
 * (seconds), or a string of h, m, s and ms parts ("1h30m", "45s", "500ms"). Returns 0 with
 * the milliseconds in *ms, or TG_EINVALID with a last-error message. Durations longer than
 * 30 days are refused.
 */
int tg_duration_parse_ms(json_object *value, int64_t *ms);

/*
 * Checks an image reference; with allow_tags false it must be pinned by digest
 * (name@sha256:<64 lowercase hex>, a tag before the digest allowed). With allow_tags true a
 * tag or a digest is required (never an implicit "latest"). Returns 0 and, when out_digest is
 * not NULL, the digest ("sha256:...") or NULL in a string the caller frees; or TG_EINVALID
 * with a last-error message; or TG_ENOMEM.
 */
int tg_image_check(const char *image, bool allow_tags, char **out_digest);

/*
 * Finds the container a Release sets in a pod template (the Rollout's spec.template, or the
 * adopted Deployment's): the one named by artifact.container, or the first. Returns 0 with its
 * index in spec.containers, or TG_EINVALID with a last-error message naming the field
 * ("spec.artifact.container: no container \"api\" in the pod template"). pod_template is
 * borrowed.
 */
int tg_release_target_container(const struct tg_release_spec *release, json_object *pod_template,
                                size_t *index);

/*
 * Intent recorded by kubectl-tollgate (docs/api.md): returns the value of obj's annotation when
 * it is a non-empty string different from handled (the value last acted on, from
 * status.handledIntents, or NULL when none), else NULL. The result is borrowed from obj.
 */
const char *tg_intent_pending(json_object *obj, const char *annotation, const char *handled);

/* The annotations by which kubectl-tollgate records intent; see docs/api.md. */
#define TG_ANNOTATION_PROMOTE      "tollgate.io/promote"      /* Rollout: past the pause */
#define TG_ANNOTATION_PROMOTE_FULL "tollgate.io/promote-full" /* Rollout: skip all steps */
#define TG_ANNOTATION_ROLLBACK     "tollgate.io/rollback"     /* Rollout: redeploy last good */
#define TG_ANNOTATION_ROLLBACK_TO  "tollgate.io/rollback-to"  /* Rollout: ...or this Release */
#define TG_ANNOTATION_ABORT        "tollgate.io/abort"        /* Release: back to stable */
#define TG_ANNOTATION_RETRY        "tollgate.io/retry"        /* Release: restart after abort */

#endif
