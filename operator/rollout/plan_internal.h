/*
 * What the plan_*.c files share, and nothing outside operator/rollout/ includes: the planning
 * context, JSON and time helpers, and the functions each concern exports to plan.c.
 *
 * Planning works on copies of the observed status objects: each concern changes the desired
 * status in place (ctx->status for the Rollout, rel->status for each Release), and plan.c turns
 * the difference into merge patches and the phase changes into Events at the end. Object
 * actions go into ctx->plan as they are decided, Events into ctx->events.
 */
#ifndef TG_ROLLOUT_PLAN_INTERNAL_H
#define TG_ROLLOUT_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "rollout/plan.h"

/*
 * The helpers below are shared between the plan_*.c files only; these macros give their external
 * symbols the module prefix (tg_plan_) while the planner's code keeps short names.
 */
#define jpath                     tg_plan_jpath
#define jkey                      tg_plan_jkey
#define jstr                      tg_plan_jstr
#define jint                      tg_plan_jint
#define jset                      tg_plan_jset
#define jset_str                  tg_plan_jset_str
#define jput_str                  tg_plan_jput_str
#define jset_int                  tg_plan_jset_int
#define jset_time                 tg_plan_jset_time
#define jcopy                     tg_plan_jcopy
#define nn                        tg_plan_nn
#define streq                     tg_plan_streq
#define time_parse_ms             tg_plan_time_parse_ms
#define time_format               tg_plan_time_format
#define jtime                     tg_plan_jtime
#define requeue_at                tg_plan_requeue_at
#define deadline_passed           tg_plan_deadline_passed
#define emit_create               tg_plan_emit_create
#define emit_patch                tg_plan_emit_patch
#define emit_event                tg_plan_emit_event
#define rollout_event             tg_plan_rollout_event
#define release_event             tg_plan_release_event
#define plan_push                 tg_plan_plan_push
#define action_clear              tg_plan_action_clear
#define cond_set                  tg_plan_cond_set
#define cond_status               tg_plan_cond_status
#define merge_diff                tg_plan_merge_diff
#define rel_set_phase             tg_plan_rel_set_phase
#define rel_phase                 tg_plan_rel_phase
#define phase_is_final            tg_plan_phase_is_final
#define history_record            tg_plan_history_record
#define rel_conditions            tg_plan_rel_conditions
#define kstatus_set               tg_plan_kstatus_set
#define find_object               tg_plan_find_object
#define owned_by_us               tg_plan_owned_by_us
#define our_labels                tg_plan_our_labels
#define our_metadata              tg_plan_our_metadata
#define track_template            tg_plan_track_template
#define ensure_deployment         tg_plan_ensure_deployment
#define template_hash             tg_plan_template_hash
#define deployment_ready          tg_plan_deployment_ready
#define deployment_ready_replicas tg_plan_deployment_ready_replicas
#define deployment_hash           tg_plan_deployment_hash
#define ensure_service            tg_plan_ensure_service
#define track_status              tg_plan_track_status
#define route_weight              tg_plan_route_weight
#define ensure_routing_objects    tg_plan_ensure_routing_objects
#define canary_plan               tg_plan_canary_plan
#define bluegreen_plan            tg_plan_bluegreen_plan
#define releases_plan             tg_plan_releases_plan
#define releases_check            tg_plan_releases_check
#define flight_end                tg_plan_flight_end
#define flight_succeeded          tg_plan_flight_succeeded
#define rollout_intent            tg_plan_rollout_intent
#define canary_replicas           tg_plan_canary_replicas
#define stable_replicas           tg_plan_stable_replicas
#define actual_weight             tg_plan_actual_weight
#define gate_run_entry            tg_plan_gate_run_entry
#define gate_analysis             tg_plan_gate_analysis
#define gate_smoke                tg_plan_gate_smoke
#define gate_stop                 tg_plan_gate_stop
#define gate_stop_all             tg_plan_gate_stop_all
#define gate_decide               tg_plan_gate_decide
#define route_at                  tg_plan_route_at
#define stable_container          tg_plan_stable_container
#define gate_push                 tg_plan_gate_push
#define result_for                tg_plan_result_for
#define verify_release            tg_plan_verify_release
#define verify_recheck            tg_plan_verify_recheck

/* Release phases, as status.phase spells them. */
#define PHASE_PENDING     "Pending"
#define PHASE_VERIFYING   "Verifying"
#define PHASE_PROGRESSING "Progressing"
#define PHASE_PAUSED      "Paused"
#define PHASE_SUCCEEDED   "Succeeded"
#define PHASE_FAILED      "Failed"
#define PHASE_ROLLED_BACK "RolledBack"
#define PHASE_SUPERSEDED  "Superseded"

/* One Release as planned. */
struct plan_rel {
    const struct tg_plan_release *in;
    const char *name;    /* borrowed from in->obj */
    int64_t created_ms;  /* metadata.creationTimestamp, 0 when absent */
    bool deleting;       /* metadata.deletionTimestamp is set */
    json_object *status; /* the desired status, owned (a copy of the observed one) */
    bool spec_changed;   /* started, and the spec no longer hashes to status.specHash */
    bool blocked;        /* InvalidSpec: it may not start */
    const char *reason;  /* the reason for the phase conditions, static; NULL: by phase */
};

/* The in-flight delivery, resolved for one plan. */
struct plan_flight {
    struct plan_rel *rel; /* the Release, or NULL when it was deleted */
    const char *name;     /* status.currentRelease (points into name_buf) */
    char name_buf[256];
    const char *image; /* the image being delivered (points into image_buf) */
    char image_buf[1100];
    const char *container; /* the container it goes into, or NULL for the first */
    bool rollback;         /* a fast redeploy of a Succeeded Release */
};

struct plan_ctx {
    const struct tg_plan_input *in;
    const struct tg_rollout_spec *spec; /* NULL when invalid */
    int64_t now;
    const char *name; /* the Rollout's name, namespace and uid */
    const char *namespace;
    const char *uid;
    int64_t generation;

    json_object *status;   /* the Rollout's desired status, owned */
    struct plan_rel *rels; /* sorted by creation time, then name */
    size_t n_rels;
    json_object *base_template; /* the pod template before any image is set, owned */
    json_object *selector;      /* the effective matchLabels, owned */

    struct tg_plan *plan;  /* object actions, in order */
    struct tg_plan events; /* Events, appended to the plan last */
    int64_t requeue_at;    /* earliest wall-clock time to look again; 0 none */
    int err;               /* sticky: the first allocation failure */
    char conflict[256];    /* an object in our way that we do not own, for the Healthy condition */
    const char *conflict_reason; /* the condition's reason for it; NULL: "ResourceConflict" */
};

/* ---- JSON helpers (plan_util.c) ---- */

/* The member at a dotted path ("status.tracks.stable"), or NULL. Keys may not hold dots. */
json_object *jpath(json_object *obj, const char *path);
/* One member by exact key (for annotation and label keys with dots), or NULL. */
json_object *jkey(json_object *obj, const char *key);
/* The string at path, or NULL when absent or not a string. */
const char *jstr(json_object *obj, const char *path);
/* The integer at path, or def. */
int64_t jint(json_object *obj, const char *path, int64_t def);
/* Sets the member at a dotted path, creating objects on the way; takes v; NULL v removes. */
void jset(struct plan_ctx *ctx, json_object *obj, const char *path, json_object *v);
void jset_str(struct plan_ctx *ctx, json_object *obj, const char *path, const char *s);
/* Sets one member by exact key (label and annotation keys hold dots). */
void jput_str(struct plan_ctx *ctx, json_object *obj, const char *key, const char *s);
void jset_int(struct plan_ctx *ctx, json_object *obj, const char *path, int64_t v);
void jset_time(struct plan_ctx *ctx, json_object *obj, const char *path, int64_t ms);
/* A deep copy, or NULL (recording ENOMEM) */
json_object *jcopy(struct plan_ctx *ctx, json_object *obj);
/* Records an allocation failure when p is NULL; returns p. */
void *nn(struct plan_ctx *ctx, void *p);
bool streq(const char *a, const char *b);

/* ---- time (plan_util.c) ---- */

/* Parses an RFC 3339 time into Unix milliseconds; returns 0 when absent or malformed. */
int64_t time_parse_ms(const char *s);
/* Formats Unix milliseconds as RFC 3339 UTC ("2026-11-26T06:30:00Z", ".250Z" with ms). */
void time_format(int64_t ms, char *buf, size_t n);
/* The time at path, in ms, 0 when absent. */
int64_t jtime(json_object *obj, const char *path);
/* Asks to look again at the wall-clock time at (ignored when at <= 0). */
void requeue_at(struct plan_ctx *ctx, int64_t at);

/* True when the delivery missed progressDeadlineSeconds counted from status.stepStartedAt;
 * otherwise asks for a requeue at the deadline. */
bool deadline_passed(struct plan_ctx *ctx);

/* ---- actions (plan_util.c) ---- */

void emit_create(struct plan_ctx *ctx, json_object *body);
void emit_patch(struct plan_ctx *ctx, const char *api_version, const char *kind, const char *name,
                const char *subresource, enum tg_plan_patch_type type, json_object *body);
void emit_event(struct plan_ctx *ctx, const char *kind, const char *name, const char *uid,
                bool warning, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* An Event about the Rollout. */
void rollout_event(struct plan_ctx *ctx, bool warning, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An Event about a Release. */
void release_event(struct plan_ctx *ctx, const struct plan_rel *rel, bool warning,
                   const char *reason, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Appends an action, returning it zeroed, or NULL (recording ENOMEM). */
struct tg_action *plan_push(struct plan_ctx *ctx, struct tg_plan *plan);
void action_clear(struct tg_action *a);

/* ---- conditions and status (plan_status.c) ---- */

/*
 * Sets a condition in status.conditions: lastTransitionTime changes only when status does.
 * Returns true when the status changed (or the condition is new).
 */
bool cond_set(struct plan_ctx *ctx, json_object *status, const char *type, bool value,
              const char *reason, const char *message, int64_t generation);
/* The condition's status ("True", "False"), or NULL when absent. */
const char *cond_status(json_object *status, const char *type);
/* A JSON merge patch turning old into new, or NULL when they are equal. */
json_object *merge_diff(struct plan_ctx *ctx, json_object *old, json_object *new_);
/* Sets a Release's phase and message, and its finishedAt for ended phases. */
void rel_set_phase(struct plan_ctx *ctx, struct plan_rel *rel, const char *phase,
                   const char *reason, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *rel_phase(const struct plan_rel *rel);
bool phase_is_final(const char *phase);
/* Records a finished delivery in the Rollout's status.history. */
void history_record(struct plan_ctx *ctx, const struct plan_rel *rel, const char *name,
                    const char *result);
/* Writes the Release conditions derived from its phase (with kstatus's three, below). */
void rel_conditions(struct plan_ctx *ctx, struct plan_rel *rel);

/*
 * Where an object stands for GitOps tools, as kstatus (Flux, kpt, cli-utils) reads it: current
 * (Ready=True), in progress (Reconciling=True), failed (Stalled=True), or not ready with nothing
 * to do yet (only Ready=False: kstatus says InProgress). docs/gitops.md explains each verdict.
 */
enum kstate { KSTATE_CURRENT, KSTATE_RECONCILING, KSTATE_STALLED, KSTATE_WAITING };

/*
 * Sets Ready, Reconciling and Stalled on status for the verdict state: Ready carries reason and
 * message whatever its value; of Reconciling and Stalled, the one that is True carries them and
 * the other is False with NotReconciling or NotStalled.
 */
void kstatus_set(struct plan_ctx *ctx, json_object *status, enum kstate state, const char *reason,
                 const char *message, int64_t generation);

/* ---- objects (plan_objects.c) ---- */

/* An observed object by kind and name, or NULL. */
json_object *find_object(struct plan_ctx *ctx, const char *kind, const char *name);
/* True when obj's controller ownerReference is this Rollout. */
bool owned_by_us(struct plan_ctx *ctx, json_object *obj);
/* The labels every object we make carries (plus the track or color when given). */
json_object *our_labels(struct plan_ctx *ctx, const char *label, const char *value);
/* The metadata of an object we make: name, namespace, labels, ownerReference. */
json_object *our_metadata(struct plan_ctx *ctx, const char *name, const char *label,
                          const char *value);
/* The pod template for a track: base template, image set, labels added. Owned by the caller. */
json_object *track_template(struct plan_ctx *ctx, const char *image, const char *container,
                            const char *label, const char *value);
/*
 * Makes the Deployment name exist with replicas pods; when tmpl is not NULL its template is
 * made tmpl (compared by hash). Takes tmpl. Returns the observed Deployment or NULL.
 */
json_object *ensure_deployment(struct plan_ctx *ctx, const char *name, const char *label,
                               const char *value, json_object *tmpl, bool set_template,
                               int replicas);
/* The hash of a template as ensure_deployment() stamps it. Writes 65 bytes. */
void template_hash(json_object *tmpl, char out[65]);
/* True when the Deployment runs template hash with want ready, updated pods. */
bool deployment_ready(json_object *d, const char *hash, int want);
/* Ready pods of a Deployment (0 when absent). */
int deployment_ready_replicas(json_object *d);
/* The Deployment's template hash annotation, or NULL. */
const char *deployment_hash(json_object *d);
/* Makes Service name exist, selecting our pods, with extra label (track/color) if given. */
void ensure_service(struct plan_ctx *ctx, const char *name, const char *label, const char *value,
                    const char *sel_label, const char *sel_value);
/*
 * The image serving production: status.tracks.stable.image (canary) or tracks.active.image
 * (blue-green); after the strategy changed, the other one, so that a switch of strategy keeps
 * serving the stable Release instead of cutting traffic until the next Release.
 */
const char *stable_image(struct plan_ctx *ctx);
/* The container the stable Release's image goes into, when that Release is still around. */
const char *stable_container(struct plan_ctx *ctx);
/*
 * Scales <rollout>-<suffix> to 0 when we own it and it runs pods: the Deployments of a strategy
 * the Rollout no longer uses, once the new strategy's serve.
 */
void retire(struct plan_ctx *ctx, const char *suffix);
/* Records a track in status.tracks.<key>. */
void track_status(struct plan_ctx *ctx, const char *key, const char *deployment,
                  const char *release, const char *image, int replicas, json_object *observed);

/* ---- the concerns ---- */

/* plan_routing.c: the router's weight, and the Services routing needs. */
void route_weight(struct plan_ctx *ctx, int weight);
void ensure_routing_objects(struct plan_ctx *ctx);

/* plan_canary.c and plan_bluegreen.c: converge the workload, with or without a delivery. */
void canary_plan(struct plan_ctx *ctx, struct plan_flight *flight);
void bluegreen_plan(struct plan_ctx *ctx, struct plan_flight *flight);

/* plan_release.c: the Releases' lifecycle around the strategy. */
/* Validity and immutability of every Release: the InvalidSpec conditions. Run first. */
void releases_check(struct plan_ctx *ctx);
void releases_plan(struct plan_ctx *ctx, struct plan_flight *flight);
/* Ends the delivery in flight: all traffic back to stable (done by the strategy). */
void flight_end(struct plan_ctx *ctx, struct plan_flight *flight, const char *phase,
                const char *reason, const char *message);
/* The delivery in flight succeeded: its image is now stable. */
void flight_succeeded(struct plan_ctx *ctx, struct plan_flight *flight);
/* Intent annotations on the Rollout, consumed once (handledIntents). */
bool rollout_intent(struct plan_ctx *ctx, const char *annotation, const char *handled_key);

/* ---- gates (plan_gates.c) ---- */

/* Where a run stands. */
enum gate_outcome {
    GATE_RUNNING,
    GATE_SUCCESSFUL,
    GATE_FAILED,
    GATE_INCONCLUSIVE,
    GATE_ERROR,
};

/* What the strategy does about it (gate_decide). */
enum gate_state {
    GATE_WAIT,    /* still measuring: stay (reason set) */
    GATE_PASS,    /* go on */
    GATE_HOLD,    /* pause for a human (reason set) */
    GATE_STOPPED, /* the delivery ended RolledBack: plan the strategy with no flight */
};

/* The variables a run's templates see besides namespace, rollout, release and version. */
struct gate_vars {
    const char *track;   /* {{track}}: "canary", a color, ... */
    const char *service; /* {{service}} */
};

/* The run named run in rel's status.analysis.runs; created (Running, startedAt now) on demand. */
json_object *gate_run_entry(struct plan_ctx *ctx, struct plan_rel *rel, const char *run,
                            bool create);
/* Drives an analysis run: records results, asks for due measurements, judges. */
enum gate_outcome gate_analysis(struct plan_ctx *ctx, struct plan_flight *f, const char *run,
                                const struct tg_analysis *a, const struct gate_vars *v);
/* Drives the smoke tests of spec.analysis.smokeTests as run run (Successful when none). */
enum gate_outcome gate_smoke(struct plan_ctx *ctx, struct plan_flight *f, const char *run,
                             const struct gate_vars *v);
/* Ends every run of rel still measuring as Stopped (the delivery ended). */
void gate_stop_all(struct plan_ctx *ctx, struct plan_rel *rel);
/* Ends a run still measuring as Successful with message (background analysis at the end). */
void gate_stop(struct plan_ctx *ctx, struct plan_flight *f, const char *run, const char *message);
/*
 * Applies an outcome: GATE_STOPPED after ending the delivery RolledBack (Failed, or Error with
 * onError: rollback), with an Event; GATE_HOLD for Inconclusive (and Error with onError: pause)
 * unless a promote arrived, which marks the run Successful and gives GATE_PASS.
 */
enum gate_state gate_decide(struct plan_ctx *ctx, struct plan_flight *f, const char *run,
                            enum gate_outcome o, bool smoke, const char **reason);
/* True when the observed router already carries weight (replicas routing: always). */
bool route_at(struct plan_ctx *ctx, int weight);
/* Appends a gate of kind with id to the plan; NULL (ENOMEM recorded) when out of memory. */
struct tg_gate *gate_push(struct plan_ctx *ctx, const char *id, enum tg_gate_kind kind);
/* The result of the gate id run for this plan, or NULL. */
const struct tg_gate_result *result_for(struct plan_ctx *ctx, const char *id);

/* ---- verification (plan_verify.c) ---- */

/* What verification says about starting a Release. */
enum verify_state {
    VERIFY_GO,     /* verified (or none required): it may start */
    VERIFY_WAIT,   /* Verifying: a check is due, running, or waiting to be retried */
    VERIFY_FAILED, /* it ended Failed (VerificationFailed) */
};

/* Drives the verification of rel before it starts (the Verifying phase). */
enum verify_state verify_release(struct plan_ctx *ctx, struct plan_rel *rel);
/*
 * Before the final promotion of a canary: when the recorded vulnerability scan is no longer
 * valid, verifies again without the cache. GATE_PASS, GATE_WAIT (checking or retrying), or
 * GATE_STOPPED after ending the delivery RolledBack (VerificationFailed).
 */
enum gate_state verify_recheck(struct plan_ctx *ctx, struct plan_flight *f);

#endif
