/*
 * The canary strategy: Deployments <rollout>-stable and <rollout>-canary, told apart by the
 * tollgate.io/track label, and the steps.
 *
 * - No stable Release yet: the first Release goes straight to stable (<rollout>-stable runs its
 *   image at spec.replicas); it succeeds when those pods are ready.
 * - setWeight w: the canary runs the Release's image on canary_replicas(R, w) pods (see
 *   plan_routing.c); once they are ready the router carries w and the step is done.
 * - pause with a duration: status.pauseStartedAt records its start; it ends when the duration
 *   has passed (requeue then) or on promote.
 * - pause without a duration: waits for promote (annotation tollgate.io/promote with a value not
 *   yet in status.handledIntents.promote). A promote that arrives while no pause is running is
 *   consumed and ignored with an Event, so it can never skip a later pause by surprise.
 * - promote --full (tollgate.io/promote-full) skips the remaining steps.
 * - After the last step (and for promote --full and rollbacks, at once) the stable Deployment
 *   takes the new image in place (a rolling update of the stable track while the canary keeps
 *   its share); when the stable track is ready on it the canary's share goes back to stable,
 *   the canary scales to 0, and the Release has Succeeded. A rollback scales the canary to 0
 *   and sends all traffic to stable first, since the canary runs what is being rolled back.
 * - spec.paused holds the step where it is; promotes meanwhile are ignored (with an Event).
 * - progressDeadlineSeconds: a setWeight step or the stable update that is not done within the
 *   deadline of status.stepStartedAt fails the Release; all traffic goes back to stable.
 * The canary Deployment is kept at 0 replicas between deliveries rather than deleted.
 */
#include <stdio.h>

#include "rollout/plan_internal.h"

#define STABLE   "stable"
#define CANARY   "canary"
#define BASELINE "baseline"

static void dep_name(struct plan_ctx *ctx, const char *track, char *buf, size_t n)
{
    snprintf(buf, n, "%s-%s", ctx->name, track);
}

/*
 * True when the stable Deployment no longer runs the stable image: a Release that was updating
 * it (after its last step) was superseded, aborted or failed. Only the image is compared, so a
 * changed Rollout template alone never restarts the stable pods between Releases.
 */
static bool stable_drifted(struct plan_ctx *ctx, json_object *d, const char *image)
{
    const char *want = stable_container(ctx);
    json_object *cs = jpath(d, "spec.template.spec.containers");

    if (!d || !image || !cs || !json_object_is_type(cs, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(cs); i++) {
        json_object *c = json_object_array_get_idx(cs, i);
        if (want ? streq(jstr(c, "name"), want) : i == 0)
            return !streq(jstr(c, "image"), image);
    }
    return false;
}

/* The weight of the last setWeight step before step i: what the router carries during it. */
static int weight_before(const struct tg_rollout_spec *spec, size_t i)
{
    int w = 0;
    for (size_t k = 0; k < i && k < spec->canary.n_steps; k++) {
        if (spec->canary.steps[k].kind == TG_STEP_SET_WEIGHT)
            w = spec->canary.steps[k].weight;
    }
    return w;
}

static void describe_step(const struct tg_canary_step *s, char *buf, size_t n)
{
    if (s->kind == TG_STEP_SET_WEIGHT)
        snprintf(buf, n, "setWeight %d", s->weight);
    else if (s->has_duration && s->duration_ms % 1000 == 0)
        snprintf(buf, n, "pause %llds", (long long)(s->duration_ms / 1000));
    else if (s->has_duration)
        snprintf(buf, n, "pause %lldms", (long long)s->duration_ms);
    else if (s->kind == TG_STEP_ANALYSIS)
        snprintf(buf, n, "analysis");
    else
        snprintf(buf, n, "pause until promote");
}

static void advance(struct plan_ctx *ctx, size_t *step)
{
    const struct tg_canary_step *s = tg_rollout_spec_step(ctx->spec, *step);
    char what[64];

    describe_step(s, what, sizeof(what));
    rollout_event(ctx, false, "StepCompleted", "Step %zu/%zu (%s) completed", *step + 1,
                  ctx->spec->canary.n_steps, what);
    (*step)++;
    jset_int(ctx, ctx->status, "currentStep", (int64_t)*step);
    jset_time(ctx, ctx->status, "stepStartedAt", ctx->now);
    jset(ctx, ctx->status, "pauseStartedAt", NULL);
}

static void fail(struct plan_ctx *ctx, struct plan_flight *flight, const char *what)
{
    char msg[256];

    snprintf(msg, sizeof(msg), "%s did not become ready within progressDeadlineSeconds (%ds)", what,
             ctx->spec->progress_deadline_seconds);
    flight_end(ctx, flight, PHASE_FAILED, "ProgressDeadlineExceeded", msg);
    canary_plan(ctx, NULL);
}

/* The router's weight and status.canaryWeight. */
static void set_weight(struct plan_ctx *ctx, int router, json_object *stable, json_object *canary)
{
    char bname[80];

    route_weight(ctx, router);
    dep_name(ctx, BASELINE, bname, sizeof(bname));
    /* The baseline runs the stable image behind the same Service: it counts as stable. */
    int others = deployment_ready_replicas(stable) +
                 deployment_ready_replicas(find_object(ctx, "Deployment", bname));
    if (ctx->spec->canary.routing.kind == TG_ROUTING_REPLICAS)
        jset_int(ctx, ctx->status, "canaryWeight",
                 actual_weight(others, deployment_ready_replicas(canary)));
    else
        jset_int(ctx, ctx->status, "canaryWeight", router);
}

/*
 * The baseline (spec.analysis.baseline): <rollout>-baseline runs the stable image at the
 * canary's size while the canary runs, so a comparison sees both under the same traffic; it is
 * scaled to 0 whenever no canary runs (replicas 0).
 */
static void baseline(struct plan_ctx *ctx, int replicas)
{
    char name[80];
    const char *image = stable_image(ctx);

    dep_name(ctx, BASELINE, name, sizeof(name));
    json_object *b = find_object(ctx, "Deployment", name);
    if (replicas <= 0 || !ctx->spec->analysis.baseline || !image) {
        if (b)
            b = ensure_deployment(ctx, name, TG_LABEL_TRACK, BASELINE, NULL, false, 0);
        if (b || jpath(ctx->status, "tracks.baseline"))
            track_status(ctx, BASELINE, name, NULL, NULL, 0, b);
        return;
    }
    b = ensure_deployment(
        ctx, name, TG_LABEL_TRACK, BASELINE,
        track_template(ctx, image, stable_container(ctx), TG_LABEL_TRACK, BASELINE), true,
        replicas);
    track_status(ctx, BASELINE, name, jstr(ctx->status, "stableRelease"), image, replicas, b);
}

static void idle(struct plan_ctx *ctx)
{
    const char *image = stable_image(ctx);
    char stable[80], canary[80];
    int r = ctx->spec->replicas;

    if (!image) {
        ensure_routing_objects(ctx);
        return;
    }
    dep_name(ctx, STABLE, stable, sizeof(stable));
    dep_name(ctx, CANARY, canary, sizeof(canary));
    json_object *s =
        ensure_deployment(ctx, stable, TG_LABEL_TRACK, STABLE,
                          track_template(ctx, image, stable_container(ctx), TG_LABEL_TRACK, STABLE),
                          stable_drifted(ctx, find_object(ctx, "Deployment", stable), image), r);
    json_object *c = find_object(ctx, "Deployment", canary);
    /* Traffic leaves the canary before its pods do: the route is written first. */
    ensure_routing_objects(ctx);
    set_weight(ctx, 0, s, c);
    if (c)
        c = ensure_deployment(ctx, canary, TG_LABEL_TRACK, CANARY, NULL, false, 0);
    baseline(ctx, 0);
    if (deployment_ready(s, NULL, r)) {
        retire(ctx, "blue");
        retire(ctx, "green");
    }
    jset(ctx, ctx->status, "currentStep", NULL);
    track_status(ctx, STABLE, stable, jstr(ctx->status, "stableRelease"), image, r, s);
    if (c || jpath(ctx->status, "tracks.canary"))
        track_status(ctx, CANARY, canary, NULL, NULL, 0, c);
}

/* The first Release: straight to stable. */
static void first(struct plan_ctx *ctx, struct plan_flight *f)
{
    char stable[80], hash[65];
    int r = ctx->spec->replicas;
    json_object *t = track_template(ctx, f->image, f->container, TG_LABEL_TRACK, STABLE);

    dep_name(ctx, STABLE, stable, sizeof(stable));
    template_hash(t, hash);
    json_object *obs = find_object(ctx, "Deployment", stable);
    if (deployment_ready(obs, hash, r)) {
        json_object_put(t);
        flight_succeeded(ctx, f);
        idle(ctx);
        return;
    }
    if (deadline_passed(ctx)) {
        json_object_put(t);
        fail(ctx, f, "The stable track");
        return;
    }
    obs = ensure_deployment(ctx, stable, TG_LABEL_TRACK, STABLE, t, true, r);
    ensure_routing_objects(ctx);
    set_weight(ctx, 0, obs, NULL);
    rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, "FirstRelease",
                  "First Release of the Rollout: deploying it as stable");
    track_status(ctx, STABLE, stable, f->name, NULL, r, obs);
}

static void promote(struct plan_ctx *ctx, struct plan_flight *f);

/*
 * After the steps. A vulnerability verdict that expired during a long canary is checked again
 * first (plan_verify.c); while that runs nothing changes, and its failure rolls back.
 */
static void finish(struct plan_ctx *ctx, struct plan_flight *f)
{
    enum gate_state gs = verify_recheck(ctx, f);

    if (gs == GATE_STOPPED)
        canary_plan(ctx, NULL);
    else if (gs == GATE_PASS)
        promote(ctx, f);
}

/* The stable track takes the new image. */
static void promote(struct plan_ctx *ctx, struct plan_flight *f)
{
    char stable[80], canary[80], hash[65];
    int r = ctx->spec->replicas;
    json_object *t = track_template(ctx, f->image, f->container, TG_LABEL_TRACK, STABLE);

    const char *smoke_reason = NULL;

    dep_name(ctx, STABLE, stable, sizeof(stable));
    dep_name(ctx, CANARY, canary, sizeof(canary));
    template_hash(t, hash);
    gate_stop(ctx, f, "background", "Stopped: every step is done");
    json_object *s = find_object(ctx, "Deployment", stable);
    bool ready = deployment_ready(s, hash, r);
    if (ready && !f->rollback) {
        /* Smoke tests once the new version serves everything, before it is called stable. */
        struct gate_vars gv = {STABLE, ctx->spec->service.name};
        enum gate_outcome o = gate_smoke(ctx, f, "promoted-smoke", &gv);
        enum gate_state gs = gate_decide(ctx, f, "promoted-smoke", o, true, &smoke_reason);
        if (gs == GATE_STOPPED) {
            json_object_put(t);
            canary_plan(ctx, NULL);
            return;
        }
        if (gs == GATE_PASS)
            smoke_reason = NULL;
    }
    if (ready && !smoke_reason) {
        json_object_put(t);
        flight_succeeded(ctx, f);
        idle(ctx);
        return;
    }
    if (!ready && deadline_passed(ctx)) {
        json_object_put(t);
        fail(ctx, f, "The stable track");
        return;
    }
    s = ensure_deployment(ctx, stable, TG_LABEL_TRACK, STABLE, t, true, r);
    json_object *c = find_object(ctx, "Deployment", canary);
    int router = (int)jint(ctx->status, "canaryWeight", 0);
    int c_replicas = (int)jint(c, "spec.replicas", 0);
    if (f->rollback) {
        router = 0;
        c_replicas = 0;
    }
    /* Traffic leaves the canary before its pods do: the route is written first. */
    ensure_routing_objects(ctx);
    set_weight(ctx, router, s, c);
    if (f->rollback && c)
        c = ensure_deployment(ctx, canary, TG_LABEL_TRACK, CANARY, NULL, false, 0);
    baseline(ctx, 0);
    if (f->rollback)
        rel_set_phase(ctx, f->rel, PHASE_SUCCEEDED, "RollingBack",
                      "Redeploying as stable (rollback)");
    else if (smoke_reason)
        rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, smoke_reason,
                      "Promoted: running the smoke tests before calling it stable");
    else
        rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, "Promoting",
                      "All steps done: updating the stable track to the new image");
    track_status(ctx, STABLE, stable, jstr(ctx->status, "stableRelease"), stable_image(ctx), r, s);
    track_status(ctx, CANARY, canary, f->rollback ? NULL : f->name, f->rollback ? NULL : f->image,
                 c_replicas, c);
}

/* The steps, then finish() once they are done. */
static void steps(struct plan_ctx *ctx, struct plan_flight *f)
{
    const struct tg_rollout_spec *spec = ctx->spec;
    size_t n = spec->canary.n_steps;
    size_t step = (size_t)jint(ctx->status, "currentStep", 0);
    char canary[80], stable[80], hash[65], what[64];
    int r = spec->replicas;
    const char *reason = "StepInProgress";
    bool paused = false;
    json_object *c = NULL, *s = NULL, *t;

    dep_name(ctx, CANARY, canary, sizeof(canary));
    dep_name(ctx, STABLE, stable, sizeof(stable));
    t = track_template(ctx, f->image, f->container, TG_LABEL_TRACK, CANARY);
    template_hash(t, hash);
    c = find_object(ctx, "Deployment", canary);
    s = find_object(ctx, "Deployment", stable);

    char run[48], held[1100] = "";
    struct gate_vars gv = {CANARY, spec->service.name};
    const char *why = NULL;
    enum gate_state gs;

    if (spec->canary.has_background) {
        gs = gate_decide(ctx, f, "background",
                         gate_analysis(ctx, f, "background", &spec->canary.background, &gv), false,
                         &why);
        if (gs == GATE_STOPPED) {
            json_object_put(t);
            canary_plan(ctx, NULL);
            return;
        }
        if (gs == GATE_HOLD) {
            paused = true;
            reason = why;
            snprintf(held, sizeof(held), "Background analysis: %s; promote to go on, or abort",
                     jstr(gate_run_entry(ctx, f->rel, "background", false), "message"));
        }
    }
    if (!held[0] && !spec->paused &&
        rollout_intent(ctx, TG_ANNOTATION_PROMOTE_FULL, "promoteFull")) {
        rollout_event(ctx, false, "PromotedFull", "Promoted in full: skipping the remaining steps");
        step = n;
        jset_int(ctx, ctx->status, "currentStep", (int64_t)n);
        jset_time(ctx, ctx->status, "stepStartedAt", ctx->now);
        jset(ctx, ctx->status, "pauseStartedAt", NULL);
    }
    while (step < n && !held[0]) {
        const struct tg_canary_step *st = &spec->canary.steps[step];
        if (spec->paused) {
            paused = true;
            reason = "RolloutPaused";
            break;
        }
        if (st->kind == TG_STEP_SET_WEIGHT) {
            if (!deployment_ready(c, hash, canary_replicas(r, st->weight)))
                break;
            if (spec->canary.routing.kind != TG_ROUTING_REPLICAS)
                jset_int(ctx, ctx->status, "canaryWeight", st->weight);
            if (spec->analysis.n_smoke_tests > 0) {
                /* Smoke tests once the router is seen carrying the new weight. */
                if (!route_at(ctx, st->weight)) {
                    reason = "SmokeTests";
                    break;
                }
                snprintf(run, sizeof(run), "step-%zu-smoke", step + 1);
                gs = gate_decide(ctx, f, run, gate_smoke(ctx, f, run, &gv), true, &why);
                if (gs == GATE_STOPPED) {
                    json_object_put(t);
                    canary_plan(ctx, NULL);
                    return;
                }
                if (gs != GATE_PASS) {
                    reason = why;
                    break;
                }
            }
            advance(ctx, &step);
            continue;
        }
        if (st->kind == TG_STEP_ANALYSIS) {
            snprintf(run, sizeof(run), "step-%zu", step + 1);
            /* The analysis starts once the router is seen carrying the step's weight. */
            if (!gate_run_entry(ctx, f->rel, run, false) &&
                !route_at(ctx, weight_before(spec, step))) {
                reason = "Analysis";
                break;
            }
            gs = gate_decide(ctx, f, run, gate_analysis(ctx, f, run, &st->analysis, &gv), false,
                             &why);
            if (gs == GATE_STOPPED) {
                json_object_put(t);
                canary_plan(ctx, NULL);
                return;
            }
            if (gs == GATE_PASS) {
                advance(ctx, &step);
                continue;
            }
            reason = why;
            if (gs == GATE_HOLD) {
                paused = true;
                snprintf(held, sizeof(held),
                         "Step %zu/%zu: analysis %s: %s; promote to go on, or abort", step + 1, n,
                         run, jstr(gate_run_entry(ctx, f->rel, run, false), "message"));
            }
            break;
        }
        if (rollout_intent(ctx, TG_ANNOTATION_PROMOTE, "promote")) {
            rollout_event(ctx, false, "Promoted", "Promoted past step %zu/%zu", step + 1, n);
            advance(ctx, &step);
            continue;
        }
        paused = true;
        if (!st->has_duration) {
            reason = "WaitingForPromote";
            break;
        }
        int64_t started = jtime(ctx->status, "pauseStartedAt");
        if (started <= 0) {
            started = ctx->now;
            jset_time(ctx, ctx->status, "pauseStartedAt", started);
        }
        if (ctx->now < started + st->duration_ms) {
            reason = "PauseStep";
            requeue_at(ctx, started + st->duration_ms);
            break;
        }
        paused = false;
        advance(ctx, &step);
    }
    if (rollout_intent(ctx, TG_ANNOTATION_PROMOTE, "promote"))
        rollout_event(ctx, false, "PromoteIgnored", "Promote ignored: %s (step %zu/%zu)",
                      spec->paused ? "the Rollout is paused (spec.paused)" : "no pause is running",
                      step < n ? step + 1 : n, n);
    if (step >= n) {
        json_object_put(t);
        finish(ctx, f);
        return;
    }

    const struct tg_canary_step *st = &spec->canary.steps[step];
    int target = st->kind == TG_STEP_SET_WEIGHT ? st->weight : weight_before(spec, step);
    int want_c = canary_replicas(r, target);
    if (st->kind == TG_STEP_SET_WEIGHT && !paused && !streq(reason, "SmokeTests") &&
        deadline_passed(ctx)) {
        json_object_put(t);
        fail(ctx, f, "The canary");
        return;
    }
    int want_s = r;
    if (spec->canary.routing.kind == TG_ROUTING_REPLICAS) {
        /*
         * Capacity never drops behind the Service: the track that grows is ready before the
         * one that shrinks gives up pods. Stable waits for a growing canary; a shrinking canary
         * (a new Release superseding one further along) waits for stable.
         */
        want_s = stable_replicas(r, target);
        int have = (int)jint(s, "spec.replicas", r);
        if (!deployment_ready(c, hash, want_c) && have > want_s)
            want_s = have > r ? r : have;
        int have_c = (int)jint(c, "spec.replicas", 0);
        if (have_c > want_c && !deployment_ready(s, NULL, want_s))
            want_c = have_c;
    }
    const char *simage = stable_image(ctx);
    s = ensure_deployment(
        ctx, stable, TG_LABEL_TRACK, STABLE,
        track_template(ctx, simage, stable_container(ctx), TG_LABEL_TRACK, STABLE),
        stable_drifted(ctx, s, simage), want_s);
    c = ensure_deployment(ctx, canary, TG_LABEL_TRACK, CANARY, t, true, want_c);
    baseline(ctx, want_c);
    ensure_routing_objects(ctx);
    set_weight(ctx, (int)jint(ctx->status, "canaryWeight", 0), s, c);

    describe_step(st, what, sizeof(what));
    if (held[0])
        rel_set_phase(ctx, f->rel, PHASE_PAUSED, reason, "%s", held);
    else if (streq(reason, "Analysis"))
        rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, reason, "Step %zu/%zu: analysis %s running",
                      step + 1, n, run);
    else if (streq(reason, "SmokeTests"))
        rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, reason,
                      "Step %zu/%zu: %s reached; running the smoke tests", step + 1, n, what);
    else if (streq(reason, "RolloutPaused"))
        rel_set_phase(ctx, f->rel, PHASE_PAUSED, reason, "Step %zu/%zu (%s): the Rollout is paused",
                      step + 1, n, what);
    else if (paused)
        rel_set_phase(ctx, f->rel, PHASE_PAUSED, reason, "Step %zu/%zu: %s", step + 1, n, what);
    else
        rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, reason, "Step %zu/%zu: %s", step + 1, n,
                      what);
    jset_int(ctx, f->rel ? f->rel->status : NULL, "currentStep", (int64_t)step);
    track_status(ctx, STABLE, stable, jstr(ctx->status, "stableRelease"), simage, want_s, s);
    track_status(ctx, CANARY, canary, f->name, f->image, want_c, c);
}

void canary_plan(struct plan_ctx *ctx, struct plan_flight *flight)
{
    if (!flight) {
        idle(ctx);
        return;
    }
    if (!stable_image(ctx)) {
        first(ctx, flight);
        return;
    }
    if (jint(ctx->status, "currentStep", 0) >= (int64_t)ctx->spec->canary.n_steps) {
        finish(ctx, flight);
        return;
    }
    steps(ctx, flight);
}
