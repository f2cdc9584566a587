/*
 * The planner's entry point: sets up the context from the input, lets plan_release.c decide
 * which delivery is in flight and the strategy (plan_canary.c, plan_bluegreen.c) converge the
 * workload, then writes the Rollout's phase and conditions and turns the status changes into
 * merge patches and the phase changes into Events.
 *
 * Order of the actions: object writes in the order the strategy decided them, then the Release
 * status patches (oldest Release first), then the Rollout's status patch, then the Events. A
 * crash between two of them is harmless: the next reconcile derives the same decisions from
 * what it observes.
 *
 * Adoption (spec.workloadRef): the referenced Deployment's pod template and selector are used
 * as the Rollout's, and the Deployment itself is never written, not its spec and not its scale,
 * so a GitOps tool that owns it never fights the operator (Argo Rollouts' default, scaleDown:
 * never). Its pods lack the tollgate.io/rollout label and get no traffic from our Services; while
 * it still runs pods, the condition WorkloadIdle=False and an Event say so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/plan_internal.h"
#include "util/error.h"

static int cmp_rel(const void *a, const void *b)
{
    const struct plan_rel *x = a, *y = b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? -1 : 1;
    return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static int setup(struct plan_ctx *ctx, const struct tg_plan_input *in)
{
    ctx->in = in;
    ctx->spec = in->spec;
    ctx->now = in->now_ms;
    ctx->name = jstr(in->rollout, "metadata.name");
    ctx->namespace = jstr(in->rollout, "metadata.namespace");
    ctx->uid = jstr(in->rollout, "metadata.uid");
    ctx->generation = jint(in->rollout, "metadata.generation", 0);
    if (!ctx->name)
        return tg_error_set(TG_EINVALID, "plan: the Rollout has no metadata.name");
    json_object *st = jkey(in->rollout, "status");
    ctx->status =
        st && json_object_is_type(st, json_type_object) ? jcopy(ctx, st) : json_object_new_object();
    if (!ctx->status)
        return tg_error_set(TG_ENOMEM, "plan: out of memory");
    if (in->n_releases) {
        ctx->rels = calloc(in->n_releases, sizeof(*ctx->rels));
        if (!ctx->rels)
            return tg_error_set(TG_ENOMEM, "plan: out of memory");
    }
    for (size_t i = 0; i < in->n_releases; i++) {
        struct plan_rel *r = &ctx->rels[ctx->n_rels];
        json_object *obj = in->releases[i].obj;
        if (!jstr(obj, "metadata.name"))
            continue;
        /* A Release for another Rollout is none of this plan's business. */
        if (in->releases[i].spec && !streq(in->releases[i].spec->rollout, ctx->name))
            continue;
        r->in = &in->releases[i];
        r->name = jstr(obj, "metadata.name");
        r->created_ms = jtime(obj, "metadata.creationTimestamp");
        r->deleting = jstr(obj, "metadata.deletionTimestamp") != NULL;
        st = jkey(obj, "status");
        r->status = st && json_object_is_type(st, json_type_object) ? jcopy(ctx, st)
                                                                    : json_object_new_object();
        ctx->n_rels++;
        if (!r->status)
            return tg_error_set(TG_ENOMEM, "plan: out of memory");
    }
    if (ctx->n_rels > 1)
        qsort(ctx->rels, ctx->n_rels, sizeof(*ctx->rels), cmp_rel);
    return 0;
}

/* The pod template and selector, from the spec or the adopted Deployment. */
static bool workload(struct plan_ctx *ctx, const char **why)
{
    json_object *src = NULL, *sel = NULL;

    if (ctx->spec->pod_template) {
        src = ctx->spec->pod_template;
    } else {
        json_object *d = find_object(ctx, "Deployment", ctx->spec->workload_ref->name);
        if (!d) {
            *why = "WorkloadNotFound";
            return false;
        }
        src = jpath(d, "spec.template");
        sel = jpath(d, "spec.selector.matchLabels");
        if (!src) {
            *why = "WorkloadNotFound";
            return false;
        }
    }
    ctx->base_template = jcopy(ctx, src);
    if (ctx->spec->n_selector > 0) {
        ctx->selector = nn(ctx, json_object_new_object());
        for (size_t i = 0; i < ctx->spec->n_selector; i++)
            jput_str(ctx, ctx->selector, ctx->spec->selector[i].key, ctx->spec->selector[i].value);
    } else if (sel) {
        ctx->selector = jcopy(ctx, sel);
    } else {
        *why = "NoSelector";
        return false;
    }
    /* Our own annotation never comes from a template we were given. */
    json_object *ann = jpath(ctx->base_template, "metadata.annotations");
    if (ann)
        json_object_object_del(ann, TG_ANNOTATION_TEMPLATE);
    return true;
}

/*
 * Adoption: the adopted Deployment is never written, not even its scale (see the head comment).
 * Once the Rollout serves the application, the condition WorkloadIdle says whether that
 * Deployment still runs pods of its own, and its changes are Events.
 */
static void adopt(struct plan_ctx *ctx, bool stable_ready)
{
    json_object *d;
    char msg[400];

    if (!ctx->spec->workload_ref || !stable_ready)
        return;
    d = find_object(ctx, "Deployment", ctx->spec->workload_ref->name);
    if (!d)
        return;
    int64_t n = jint(d, "spec.replicas", 1);
    if (n == 0) {
        snprintf(msg, sizeof(msg), "The adopted Deployment %s runs no pods; tollgate serves %s",
                 ctx->spec->workload_ref->name, ctx->name);
        if (cond_set(ctx, ctx->status, "WorkloadIdle", true, "ScaledToZero", msg, ctx->generation))
            rollout_event(ctx, false, "WorkloadIdle", "%s", msg);
        return;
    }
    snprintf(msg, sizeof(msg),
             "The adopted Deployment %s still runs %lld pod(s) that get no traffic from "
             "tollgate's Services; set its replicas to 0 in its source (tollgate never writes it)",
             ctx->spec->workload_ref->name, (long long)n);
    if (cond_set(ctx, ctx->status, "WorkloadIdle", false, "StillRunning", msg, ctx->generation))
        rollout_event(ctx, false, "WorkloadStillRunning", "%s", msg);
}

static bool stable_ready(struct plan_ctx *ctx)
{
    const char *track =
        ctx->spec->strategy == TG_STRATEGY_CANARY ? "tracks.stable" : "tracks.active";
    json_object *t = jpath(ctx->status, track);
    return jstr(ctx->status, "stableRelease") && t && jkey(t, "image") &&
           jint(t, "readyReplicas", 0) >= ctx->spec->replicas;
}

/* The newest entry of status.history, or NULL. */
static json_object *last_delivery(struct plan_ctx *ctx)
{
    json_object *hist = jkey(ctx->status, "history");

    return hist && json_object_is_type(hist, json_type_array) ? json_object_array_get_idx(hist, 0)
                                                              : NULL;
}

/*
 * True when the last delivery ended by going back to stable (aborted, failed, deleted): while
 * the stable track is not ready again the Rollout is RollingBack rather than Progressing.
 */
static bool after_rollback(struct plan_ctx *ctx)
{
    const char *result = jstr(last_delivery(ctx), "result");
    return streq(result, PHASE_ROLLED_BACK) || streq(result, PHASE_FAILED);
}

/*
 * The Rollout's verdict for GitOps tools (docs/gitops.md), from its phase: Healthy is current;
 * Progressing, Paused and RollingBack are in progress; Degraded (an object in the way, or the
 * only delivery rolled back so nothing serves) is Stalled. A Rollout that has never had a
 * Release is only not Ready: nothing is wrong, and nothing is being done. A rollback that brought
 * the stable Release back is current: the failure is the Release's (Stalled there), and the
 * Rollout serves what it should.
 */
static void rollout_kstatus(struct plan_ctx *ctx, const struct plan_flight *f, const char *phase,
                            const char *reason, const char *msg)
{
    char buf[512];

    if (streq(phase, "Healthy")) {
        kstatus_set(ctx, ctx->status, KSTATE_CURRENT, reason, msg, ctx->generation);
    } else if (streq(phase, "Degraded") && !ctx->conflict[0]) {
        json_object *last = last_delivery(ctx);
        snprintf(buf, sizeof(buf), "No Release is stable: the last delivery, %s, ended %s",
                 jstr(last, "release") ? jstr(last, "release") : "?",
                 jstr(last, "result") ? jstr(last, "result") : "?");
        kstatus_set(ctx, ctx->status, KSTATE_STALLED, "NoStableRelease", buf, ctx->generation);
    } else if (streq(phase, "Degraded")) {
        kstatus_set(ctx, ctx->status, KSTATE_STALLED, reason, msg, ctx->generation);
    } else if (!f->name && !jstr(ctx->status, "stableRelease")) {
        kstatus_set(ctx, ctx->status, KSTATE_WAITING, reason, msg, ctx->generation);
    } else {
        kstatus_set(ctx, ctx->status, KSTATE_RECONCILING,
                    f->name || streq(phase, "Progressing") ? reason : "RollingBack",
                    f->name || streq(phase, "Progressing") ? msg
                                                           : "Going back to the stable Release",
                    ctx->generation);
    }
}

/*
 * The Rollout's phase and conditions after a valid plan. Healthy is True only with no delivery
 * in flight and the stable track ready; Degraded is kept for what needs a human (an invalid
 * spec, an object in the way, a missing workload): a stable track that is still starting is
 * Progressing (or RollingBack after an abort), not Degraded.
 */
static void rollout_conditions(struct plan_ctx *ctx, const struct plan_flight *f)
{
    const char *phase, *reason, *msg;
    char buf[512];
    bool ready = stable_ready(ctx);
    struct plan_rel *rel = f->rel;
    const char *rphase = rel ? rel_phase(rel) : NULL;
    if (f->name) {
        phase = f->rollback                   ? "RollingBack"
                : streq(rphase, PHASE_PAUSED) ? "Paused"
                                              : "Progressing";
        snprintf(buf, sizeof(buf), "%s %s: %s", f->rollback ? "Rolling back to" : "Delivering",
                 f->name, rel ? jstr(rel->status, "message") : "");
        cond_set(ctx, ctx->status, "Progressing", true,
                 f->rollback ? "RollingBack" : "ReleaseInFlight", buf, ctx->generation);
    } else {
        phase = ready ? "Healthy" : "Degraded";
        cond_set(ctx, ctx->status, "Progressing", false, "NoReleaseInFlight", "", ctx->generation);
    }
    cond_set(ctx, ctx->status, "Paused", streq(phase, "Paused"),
             streq(phase, "Paused") ? (rel && rel->reason ? rel->reason : "Paused") : "NotPaused",
             streq(phase, "Paused") ? buf : "", ctx->generation);
    const char *conflict_reason = ctx->conflict_reason ? ctx->conflict_reason : "ResourceConflict";
    if (ctx->conflict[0]) {
        reason = conflict_reason;
        msg = ctx->conflict;
        ready = false;
    } else if (f->name) {
        reason = "ReleaseInFlight";
        msg = buf;
    } else if (!jstr(ctx->status, "stableRelease")) {
        reason = "NoStableRelease";
        msg = "No Release has been delivered yet";
    } else if (ready) {
        reason = "StableReady";
        msg = "The stable track is ready";
    } else {
        reason = "StableNotReady";
        msg = "The stable track is not ready yet";
    }
    json_object *old = NULL;
    json_object *conds = jkey(ctx->status, "conditions");
    for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
                       i < json_object_array_length(conds);
         i++) {
        if (streq(jstr(json_object_array_get_idx(conds, i), "type"), "Healthy"))
            old = json_object_array_get_idx(conds, i);
    }
    if (ctx->conflict[0] && !streq(jstr(old, "reason"), conflict_reason))
        rollout_event(ctx, true, conflict_reason, "%s", ctx->conflict);
    cond_set(ctx, ctx->status, "Healthy", ready && !f->name, reason, msg, ctx->generation);
    if (ctx->conflict[0])
        phase = "Degraded";
    else if (!f->name && !ready && !jstr(ctx->status, "stableRelease"))
        phase = after_rollback(ctx) ? "Degraded" : "Progressing";
    else if (!f->name && !ready)
        phase = after_rollback(ctx) ? "RollingBack" : "Progressing";
    jset_str(ctx, ctx->status, "phase", phase);
    rollout_kstatus(ctx, f, phase, reason, msg);
}

/* An invalid Rollout or an unusable workload: conditions and an Event, no workload touched. */
static void rollout_invalid(struct plan_ctx *ctx, const char *reason, const char *msg)
{
    bool invalid = streq(reason, "InvalidSpec");

    if (invalid) {
        if (cond_set(ctx, ctx->status, "InvalidSpec", true, reason, msg, ctx->generation))
            rollout_event(ctx, true, reason, "%s", msg);
    } else {
        cond_set(ctx, ctx->status, "InvalidSpec", false, "Valid", "", ctx->generation);
    }
    if (cond_set(ctx, ctx->status, "Healthy", false, reason, msg, ctx->generation) && !invalid)
        rollout_event(ctx, true, reason, "%s", msg);
    kstatus_set(ctx, ctx->status, KSTATE_STALLED, reason, msg, ctx->generation);
    jset_str(ctx, ctx->status, "phase", "Degraded");
}

/* Adds a merge patch of kind/name's status subresource; takes patch (NULL: nothing to do). */
static void push_status_patch(struct plan_ctx *ctx, const char *kind, const char *name,
                              json_object *patch)
{
    struct tg_action *a;

    if (!patch)
        return;
    if (!(a = plan_push(ctx, ctx->plan))) {
        json_object_put(patch);
        return;
    }
    a->kind = TG_ACTION_PATCH_STATUS;
    a->api_version = nn(ctx, strdup("tollgate.io/v1alpha1"));
    a->object_kind = nn(ctx, strdup(kind));
    a->namespace = ctx->namespace ? nn(ctx, strdup(ctx->namespace)) : NULL;
    a->name = nn(ctx, strdup(name));
    a->subresource = nn(ctx, strdup("status"));
    a->patch_type = TG_PLAN_PATCH_MERGE;
    a->body = json_object_new_object();
    if (a->body)
        json_object_object_add(a->body, "status", patch);
    else
        json_object_put(patch);
}

static void release_patches(struct plan_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_rels; i++) {
        struct plan_rel *rel = &ctx->rels[i];
        json_object *old = jkey(rel->in->obj, "status");
        if (rel->deleting)
            continue;
        if (!jstr(rel->status, "phase"))
            jset_str(ctx, rel->status, "phase", PHASE_PENDING);
        if (!jstr(rel->status, "message"))
            jset_str(ctx, rel->status, "message", "Waiting for its turn");
        rel_conditions(ctx, rel);
        jset_int(ctx, rel->status, "observedGeneration",
                 jint(rel->in->obj, "metadata.generation", 0));
        const char *was = jstr(old, "phase");
        const char *now = rel_phase(rel);
        /*
         * An Event on every change of phase, and on a pause that follows a pause: a timed pause
         * that ends into a manual one (directly, or over a step already done, as after a
         * restart that finds the canary scaled) is Paused to Paused, at another step.
         */
        bool next_pause = streq(was, PHASE_PAUSED) && streq(now, PHASE_PAUSED) &&
                          jint(old, "currentStep", -1) != jint(rel->status, "currentStep", -1);
        if ((!streq(was, now) && !(was == NULL && streq(now, PHASE_PENDING))) || next_pause)
            release_event(ctx, rel,
                          streq(now, PHASE_FAILED) ||
                              (streq(now, PHASE_ROLLED_BACK) && rel->reason &&
                               (strncmp(rel->reason, "Analysis", 8) == 0 ||
                                strncmp(rel->reason, "SmokeTest", 9) == 0 ||
                                strncmp(rel->reason, "Verification", 12) == 0)),
                          now, "%s", jstr(rel->status, "message"));
        push_status_patch(ctx, "Release", rel->name, merge_diff(ctx, old, rel->status));
    }
}

static void rollout_patch(struct plan_ctx *ctx)
{
    json_object *old = jkey(ctx->in->rollout, "status");
    const char *was = jstr(old, "phase");
    const char *now = jstr(ctx->status, "phase");

    jset_int(ctx, ctx->status, "observedGeneration", ctx->generation);
    if (now && !streq(was, now))
        rollout_event(ctx, streq(now, "Degraded"), now, "Rollout is %s", now);
    push_status_patch(ctx, "Rollout", ctx->name, merge_diff(ctx, old, ctx->status));
}

static void plan_valid(struct plan_ctx *ctx)
{
    struct plan_flight flight;
    const char *why = NULL;

    cond_set(ctx, ctx->status, "InvalidSpec", false, "Valid", "", ctx->generation);
    bool found = workload(ctx, &why);
    releases_check(ctx);
    if (!found) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 streq(why, "NoSelector")
                     ? "The Deployment %s named by spec.workloadRef has no matchLabels selector"
                     : "The Deployment %s named by spec.workloadRef was not found",
                 ctx->spec->workload_ref->name);
        rollout_invalid(ctx, why, msg);
        return;
    }
    jset_str(ctx, ctx->status, "strategy",
             ctx->spec->strategy == TG_STRATEGY_CANARY ? "Canary" : "BlueGreen");
    releases_plan(ctx, &flight);
    if (ctx->spec->strategy == TG_STRATEGY_CANARY)
        canary_plan(ctx, flight.name ? &flight : NULL);
    else
        bluegreen_plan(ctx, flight.name ? &flight : NULL);
    if (rollout_intent(ctx, TG_ANNOTATION_PROMOTE, "promote") ||
        rollout_intent(ctx, TG_ANNOTATION_PROMOTE_FULL, "promoteFull"))
        rollout_event(ctx, false, "PromoteIgnored",
                      "Promote ignored: no pause or preview is waiting for it");
    adopt(ctx, stable_ready(ctx));
    /* The strategy may have ended the delivery; re-read what is in flight. */
    const char *cur = jstr(ctx->status, "currentRelease");
    if (!cur)
        memset(&flight, 0, sizeof(flight));
    rollout_conditions(ctx, &flight);
}

/*
 * Releases that cannot start because of their Rollout (invalid, or missing): Pending, saying
 * why. A Release already past Pending keeps its phase: nothing is touched while the Rollout
 * cannot be acted on.
 */
static void releases_waiting(struct plan_ctx *ctx, const char *reason, const char *msg)
{
    for (size_t i = 0; i < ctx->n_rels; i++) {
        struct plan_rel *rel = &ctx->rels[i];
        const char *phase = jstr(rel->status, "phase");
        if (rel->deleting || (phase && !streq(phase, PHASE_PENDING)))
            continue;
        jset_str(ctx, rel->status, "phase", PHASE_PENDING);
        jset_str(ctx, rel->status, "message", msg);
        rel->reason = reason;
    }
}

/* Moves the Events decided during planning to the end of the plan, after every write. */
static void append_events(struct plan_ctx *ctx)
{
    for (size_t i = 0; i < ctx->events.n_actions; i++) {
        struct tg_action *a = plan_push(ctx, ctx->plan);
        if (!a)
            break;
        *a = ctx->events.actions[i];
        memset(&ctx->events.actions[i], 0, sizeof(ctx->events.actions[i]));
    }
}

/* Frees the planning context; hands the plan out (rc 0) or frees it too (rc < 0). */
static int finish_plan(struct plan_ctx *ctx, int rc, struct tg_plan **out)
{
    for (size_t i = 0; i < ctx->events.n_actions; i++)
        action_clear(&ctx->events.actions[i]);
    free(ctx->events.actions);
    for (size_t i = 0; i < ctx->n_rels; i++)
        json_object_put(ctx->rels[i].status);
    free(ctx->rels);
    json_object_put(ctx->status);
    json_object_put(ctx->base_template);
    json_object_put(ctx->selector);
    if (rc < 0) {
        tg_plan_free(ctx->plan);
        return rc;
    }
    *out = ctx->plan;
    return 0;
}

/* Starts planning: an empty plan and the context read from in. */
static int begin_plan(struct plan_ctx *ctx, const struct tg_plan_input *in)
{
    memset(ctx, 0, sizeof(*ctx));
    if (!in || !in->rollout)
        return tg_error_set(TG_EINVALID, "plan: no Rollout");
    ctx->plan = calloc(1, sizeof(*ctx->plan));
    if (!ctx->plan)
        return tg_error_set(TG_ENOMEM, "plan: out of memory");
    return setup(ctx, in);
}

int tg_plan_orphans(const struct tg_plan_input *in, struct tg_plan **out)
{
    struct plan_ctx ctx;
    char msg[512];
    int rc;

    *out = NULL;
    rc = begin_plan(&ctx, in);
    if (rc == 0) {
        snprintf(msg, sizeof(msg), "Waiting: Rollout %s does not exist", ctx.name);
        releases_waiting(&ctx, "RolloutNotFound", msg);
        release_patches(&ctx);
        append_events(&ctx);
        rc = ctx.err;
    }
    return finish_plan(&ctx, rc, out);
}

int tg_plan_build(const struct tg_plan_input *in, struct tg_plan **out)
{
    struct plan_ctx ctx;
    int rc;

    *out = NULL;
    rc = begin_plan(&ctx, in);
    if (rc < 0)
        return finish_plan(&ctx, rc, out);
    if (!in->spec) {
        char *joined = in->errors ? tg_field_errors_join(in->errors) : NULL;
        rollout_invalid(&ctx, "InvalidSpec", joined ? joined : "The spec is invalid");
        free(joined);
        releases_waiting(&ctx, "RolloutInvalid", "Waiting: the Rollout's spec is invalid");
    } else {
        plan_valid(&ctx);
    }
    release_patches(&ctx);
    rollout_patch(&ctx);
    append_events(&ctx);
    if (ctx.requeue_at > 0)
        ctx.plan->requeue_after_ms = ctx.requeue_at > ctx.now ? ctx.requeue_at - ctx.now : 1;
    rc = ctx.err;
    if (rc < 0)
        tg_error_set(rc, "plan: out of memory");
    return finish_plan(&ctx, rc, out);
}

void tg_plan_free(struct tg_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n_actions; i++)
        action_clear(&plan->actions[i]);
    free(plan->actions);
    for (size_t i = 0; i < plan->n_gates; i++) {
        struct tg_gate *g = &plan->gates[i];
        free(g->id);
        free(g->address);
        free(g->query);
        free(g->query_base);
        free(g->method);
        free(g->url);
        free(g->body_pattern);
        free(g->image);
        free(g->namespace);
        free(g->source_commit);
        json_object_put(g->policies);
    }
    free(plan->gates);
    free(plan);
}

static const char *op_name(enum tg_action_kind k)
{
    switch (k) {
    case TG_ACTION_CREATE:
        return "create";
    case TG_ACTION_PATCH:
        return "patch";
    case TG_ACTION_DELETE:
        return "delete";
    case TG_ACTION_PATCH_STATUS:
        return "status";
    case TG_ACTION_EVENT:
        return "event";
    }
    return "?";
}

static const char *patch_name(enum tg_plan_patch_type t)
{
    switch (t) {
    case TG_PLAN_PATCH_MERGE:
        return "merge";
    case TG_PLAN_PATCH_STRATEGIC:
        return "strategic";
    case TG_PLAN_PATCH_JSON:
        return "json";
    }
    return "?";
}

json_object *tg_action_to_json(const struct tg_action *a)
{
    json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    json_object_object_add(o, "op", json_object_new_string(op_name(a->kind)));
    json_object_object_add(o, "kind", json_object_new_string(a->object_kind ? a->object_kind : ""));
    json_object_object_add(o, "name", json_object_new_string(a->name ? a->name : ""));
    if (a->namespace)
        json_object_object_add(o, "namespace", json_object_new_string(a->namespace));
    if (a->kind == TG_ACTION_PATCH && a->subresource)
        json_object_object_add(o, "subresource", json_object_new_string(a->subresource));
    if (a->kind == TG_ACTION_PATCH)
        json_object_object_add(o, "patchType", json_object_new_string(patch_name(a->patch_type)));
    if (a->body)
        json_object_object_add(o, "body", json_object_get(a->body));
    if (a->kind == TG_ACTION_EVENT) {
        json_object_object_add(o, "type",
                               json_object_new_string(a->warning ? "Warning" : "Normal"));
        json_object_object_add(o, "reason", json_object_new_string(a->reason ? a->reason : ""));
        json_object_object_add(o, "message", json_object_new_string(a->message ? a->message : ""));
    }
    return o;
}

json_object *tg_plan_to_json(const struct tg_plan *plan)
{
    json_object *o = json_object_new_object();
    json_object *arr = json_object_new_array();

    if (!o || !arr) {
        json_object_put(o);
        json_object_put(arr);
        return NULL;
    }
    for (size_t i = 0; i < plan->n_actions; i++)
        json_object_array_add(arr, tg_action_to_json(&plan->actions[i]));
    json_object_object_add(o, "actions", arr);
    if (plan->n_gates > 0) {
        static const char *const kinds[] = {[TG_GATE_QUERY] = "query",
                                            [TG_GATE_COMPARE] = "compare",
                                            [TG_GATE_HTTP] = "http",
                                            [TG_GATE_VERIFY] = "verify"};
        json_object *gates = json_object_new_array();
        for (size_t i = 0; gates && i < plan->n_gates; i++) {
            const struct tg_gate *g = &plan->gates[i];
            json_object *j = json_object_new_object();
            if (!j)
                break;
            json_object_object_add(j, "id", json_object_new_string(g->id ? g->id : ""));
            json_object_object_add(j, "kind", json_object_new_string(kinds[g->kind]));
            if (g->query)
                json_object_object_add(j, "query", json_object_new_string(g->query));
            if (g->query_base)
                json_object_object_add(j, "queryBaseline", json_object_new_string(g->query_base));
            if (g->url)
                json_object_object_add(j, "url", json_object_new_string(g->url));
            if (g->image)
                json_object_object_add(j, "image", json_object_new_string(g->image));
            if (g->kind == TG_GATE_VERIFY) {
                json_object *names = json_object_new_array();
                for (size_t k = 0; names && k < json_object_array_length(g->policies); k++)
                    json_object_array_add(
                        names,
                        json_object_get(jkey(json_object_array_get_idx(g->policies, k), "name")));
                json_object_object_add(j, "policies", names);
                if (g->no_cache)
                    json_object_object_add(j, "noCache", json_object_new_boolean(true));
            }
            json_object_array_add(gates, j);
        }
        json_object_object_add(o, "gates", gates);
    }
    json_object_object_add(o, "requeueAfterMs", json_object_new_int64(plan->requeue_after_ms));
    return o;
}
