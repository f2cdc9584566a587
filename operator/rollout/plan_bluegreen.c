/*
 * The blue-green strategy: Deployments <rollout>-blue and <rollout>-green, told apart by the
 * tollgate.io/color label; the active Service selects status.activeColor, the preview Service
 * the color being delivered (the active one when nothing is in flight, so it always has pods).
 *
 * - No stable Release yet: the first Release runs in blue, active at once; it succeeds when
 *   blue is ready.
 * - A new Release: the other color runs its image at spec.replicas behind the preview Service.
 *   When all its pods are ready status.previewReadyAt is recorded, and the switch happens:
 *   with autoPromotionEnabled, autoPromotionSeconds after previewReadyAt (at once when unset);
 *   without it, on promote (tollgate.io/promote or promote-full). Rollbacks switch as soon as
 *   the preview is ready. spec.paused holds the switch (a promote meanwhile is ignored).
 * - The switch points the active and preview Services at the new color, and records
 *   status.scaleDownAt = now + scaleDownDelaySeconds: the old color keeps its pods until then
 *   (requeue at that time), so in-flight requests finish; then it scales to 0. A new Release
 *   arriving before then reuses that color at once.
 * - Abort, deadline, deletion: the preview color scales to 0 and the preview Service goes back
 *   to the active color; the active Service never moved.
 * - progressDeadlineSeconds counts from status.stepStartedAt until the preview is ready.
 */
#include <stdio.h>

#include "rollout/plan_internal.h"

static const char *active_color(struct plan_ctx *ctx)
{
    const char *c = jstr(ctx->status, "activeColor");
    return streq(c, "green") ? "green" : "blue";
}

static const char *other(const char *color)
{
    return streq(color, "blue") ? "green" : "blue";
}

static void dep_name(struct plan_ctx *ctx, const char *color, char *buf, size_t n)
{
    snprintf(buf, n, "%s-%s", ctx->name, color);
}

static void services(struct plan_ctx *ctx, const char *active, const char *preview)
{
    ensure_service(ctx, ctx->spec->blue_green.active_service, NULL, NULL, TG_LABEL_COLOR, active);
    ensure_service(ctx, ctx->spec->blue_green.preview_service, NULL, NULL, TG_LABEL_COLOR, preview);
}

static void idle(struct plan_ctx *ctx)
{
    const char *image = stable_image(ctx);
    const char *a = active_color(ctx), *o = other(a);
    char adep[80], odep[80];
    int r = ctx->spec->replicas;

    jset(ctx, ctx->status, "previewReadyAt", NULL);
    jset_int(ctx, ctx->status, "canaryWeight", 0);
    if (!image) {
        services(ctx, a, a);
        return;
    }
    jset_str(ctx, ctx->status, "activeColor", a);
    dep_name(ctx, a, adep, sizeof(adep));
    dep_name(ctx, o, odep, sizeof(odep));
    json_object *ad = ensure_deployment(
        ctx, adep, TG_LABEL_COLOR, a,
        track_template(ctx, image, stable_container(ctx), TG_LABEL_COLOR, a), false, r);
    json_object *od = find_object(ctx, "Deployment", odep);
    int64_t down_at = jtime(ctx->status, "scaleDownAt");
    int keep = 0;
    if (od && down_at > ctx->now) {
        keep = (int)jint(od, "spec.replicas", 0);
        requeue_at(ctx, down_at);
    } else {
        if (od)
            od = ensure_deployment(ctx, odep, TG_LABEL_COLOR, o, NULL, false, 0);
        if (down_at > 0 && od)
            rollout_event(ctx, false, "ScaledDown", "Scaled %s down after scaleDownDelaySeconds",
                          odep);
        jset(ctx, ctx->status, "scaleDownAt", NULL);
    }
    bool ready = deployment_ready(ad, NULL, r);
    json_object *svc = find_object(ctx, "Service", ctx->spec->blue_green.active_service);
    /* After a switch from canary, the Services keep the canary's pods until blue is ready. */
    if (ready || !svc || jkey(jpath(svc, "spec.selector"), TG_LABEL_COLOR))
        services(ctx, a, a);
    if (ready) {
        retire(ctx, "stable");
        retire(ctx, "canary");
    }
    track_status(ctx, "active", adep, jstr(ctx->status, "stableRelease"), image, r, ad);
    if (od)
        track_status(ctx, "preview", odep, NULL, NULL, keep, od);
}

static void fail(struct plan_ctx *ctx, struct plan_flight *f)
{
    char msg[256];

    snprintf(msg, sizeof(msg),
             "The preview did not become ready within progressDeadlineSeconds (%ds)",
             ctx->spec->progress_deadline_seconds);
    flight_end(ctx, f, PHASE_FAILED, "ProgressDeadlineExceeded", msg);
    idle(ctx);
}

static void first(struct plan_ctx *ctx, struct plan_flight *f)
{
    char dep[80], hash[65];
    int r = ctx->spec->replicas;
    json_object *t = track_template(ctx, f->image, f->container, TG_LABEL_COLOR, "blue");

    jset_str(ctx, ctx->status, "activeColor", "blue");
    dep_name(ctx, "blue", dep, sizeof(dep));
    template_hash(t, hash);
    json_object *obs = find_object(ctx, "Deployment", dep);
    if (deployment_ready(obs, hash, r)) {
        json_object_put(t);
        flight_succeeded(ctx, f);
        idle(ctx);
        return;
    }
    if (deadline_passed(ctx)) {
        json_object_put(t);
        fail(ctx, f);
        return;
    }
    obs = ensure_deployment(ctx, dep, TG_LABEL_COLOR, "blue", t, true, r);
    services(ctx, "blue", "blue");
    rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, "FirstRelease",
                  "First Release of the Rollout: deploying it as active (blue)");
    track_status(ctx, "active", dep, f->name, NULL, r, obs);
}

/* Whether to switch now; sets the reason it waits otherwise. */
static bool may_switch(struct plan_ctx *ctx, struct plan_flight *f, int64_t ready_at,
                       const char **reason)
{
    const struct tg_blue_green_strategy *bg = &ctx->spec->blue_green;

    if (f->rollback)
        return true;
    if (ctx->spec->paused) {
        *reason = "RolloutPaused";
        return false;
    }
    if (rollout_intent(ctx, TG_ANNOTATION_PROMOTE_FULL, "promoteFull") ||
        rollout_intent(ctx, TG_ANNOTATION_PROMOTE, "promote")) {
        rollout_event(ctx, false, "Promoted", "Promoted: switching the active Service");
        return true;
    }
    if (!bg->auto_promotion_enabled) {
        *reason = "WaitingForPromote";
        return false;
    }
    int64_t at =
        ready_at + (bg->has_auto_promotion_delay ? bg->auto_promotion_seconds : 0) * 1000LL;
    if (ctx->now >= at)
        return true;
    *reason = "AutoPromotionDelay";
    requeue_at(ctx, at);
    return false;
}

static void post_switch(struct plan_ctx *ctx, struct plan_flight *f);

/* True when Service name is seen selecting color: gates measure what really serves. */
static bool selects(struct plan_ctx *ctx, const char *name, const char *color)
{
    json_object *sel = jpath(find_object(ctx, "Service", name), "spec.selector");
    json_object *v = jkey(sel, TG_LABEL_COLOR);

    return v && json_object_is_type(v, json_type_string) && streq(json_object_get_string(v), color);
}

/* The Release switched to ended before its post-switch gates passed: the old color again. */
static void switch_back(struct plan_ctx *ctx)
{
    const char *back = other(active_color(ctx));

    rollout_event(ctx, true, "SwitchedBack", "Active Service %s selects %s-%s again",
                  ctx->spec->blue_green.active_service, ctx->name, back);
    jset_str(ctx, ctx->status, "activeColor", back);
    jset(ctx, ctx->status, "switchedRelease", NULL);
    jset(ctx, ctx->status, "scaleDownAt", NULL);
}

static void deliver(struct plan_ctx *ctx, struct plan_flight *f)
{
    const char *a = active_color(ctx), *p = other(a);
    char adep[80], pdep[80], hash[65];
    int r = ctx->spec->replicas;
    const char *reason = NULL;
    json_object *t = track_template(ctx, f->image, f->container, TG_LABEL_COLOR, p);

    dep_name(ctx, a, adep, sizeof(adep));
    dep_name(ctx, p, pdep, sizeof(pdep));
    template_hash(t, hash);
    json_object *pd = find_object(ctx, "Deployment", pdep);
    bool ready = deployment_ready(pd, hash, r);
    char held[1100] = "";
    if (ready) {
        int64_t ready_at = jtime(ctx->status, "previewReadyAt");
        if (ready_at <= 0) {
            ready_at = ctx->now;
            jset_time(ctx, ctx->status, "previewReadyAt", ready_at);
        }
        enum gate_state gs = GATE_PASS;
        if (!f->rollback && !selects(ctx, ctx->spec->blue_green.preview_service, p)) {
            gs = GATE_WAIT;
            reason = "PreviewStarting";
        } else if (!f->rollback) {
            /* The preview's gates: smoke tests, then the pre-promotion analysis. */
            struct gate_vars gv = {p, ctx->spec->blue_green.preview_service};
            gs = gate_decide(ctx, f, "preview-smoke", gate_smoke(ctx, f, "preview-smoke", &gv),
                             true, &reason);
            if (gs == GATE_PASS && ctx->spec->blue_green.has_pre_promotion)
                gs = gate_decide(ctx, f, "prePromotion",
                                 gate_analysis(ctx, f, "prePromotion",
                                               &ctx->spec->blue_green.pre_promotion, &gv),
                                 false, &reason);
            if (gs == GATE_STOPPED) {
                json_object_put(t);
                idle(ctx);
                return;
            }
            if (gs == GATE_HOLD)
                snprintf(held, sizeof(held),
                         "Pre-promotion analysis: %s; promote to go on, or abort",
                         jstr(gate_run_entry(ctx, f->rel, "prePromotion", false), "message"));
        }
        if (gs == GATE_PASS && may_switch(ctx, f, ready_at, &reason)) {
            json_object_put(t);
            jset_str(ctx, ctx->status, "activeColor", p);
            rollout_event(ctx, false, "Switched", "Active Service %s now selects %s",
                          ctx->spec->blue_green.active_service, pdep);
            if (!f->rollback && (ctx->spec->analysis.n_smoke_tests > 0 ||
                                 ctx->spec->blue_green.has_post_promotion)) {
                jset_str(ctx, ctx->status, "switchedRelease", f->name);
                post_switch(ctx, f);
                return;
            }
            jset_time(ctx, ctx->status, "scaleDownAt",
                      ctx->now + ctx->spec->blue_green.scale_down_delay_seconds * 1000LL);
            flight_succeeded(ctx, f);
            idle(ctx);
            return;
        }
    } else {
        jset(ctx, ctx->status, "previewReadyAt", NULL);
        if (deadline_passed(ctx)) {
            json_object_put(t);
            fail(ctx, f);
            return;
        }
    }
    jset(ctx, ctx->status, "scaleDownAt", NULL);
    json_object *ad = ensure_deployment(ctx, adep, TG_LABEL_COLOR, a, NULL, false, r);
    pd = ensure_deployment(ctx, pdep, TG_LABEL_COLOR, p, t, true, r);
    services(ctx, a, p);
    jset_int(ctx, ctx->status, "canaryWeight", 0);
    if (held[0])
        rel_set_phase(ctx, f->rel, PHASE_PAUSED, reason, "%s", held);
    else if (ready && streq(reason, "SmokeTests"))
        rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, reason,
                      "The preview (%s) is ready; running the smoke tests", pdep);
    else if (ready && streq(reason, "Analysis"))
        rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, reason,
                      "The preview (%s) is ready; pre-promotion analysis running", pdep);
    else if (!ready)
        rel_set_phase(ctx, f->rel, f->rollback ? PHASE_SUCCEEDED : PHASE_PROGRESSING,
                      f->rollback ? "RollingBack" : "PreviewStarting",
                      "Waiting for the preview (%s) to be ready", pdep);
    else if (streq(reason, "WaitingForPromote"))
        rel_set_phase(ctx, f->rel, PHASE_PAUSED, reason,
                      "The preview (%s) is ready; waiting for promote", pdep);
    else if (streq(reason, "RolloutPaused"))
        rel_set_phase(ctx, f->rel, PHASE_PAUSED, reason,
                      "The preview (%s) is ready; the Rollout is paused", pdep);
    else
        rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, reason,
                      "The preview (%s) is ready; promoting after autoPromotionSeconds", pdep);
    track_status(ctx, "active", adep, jstr(ctx->status, "stableRelease"), stable_image(ctx), r, ad);
    track_status(ctx, "preview", pdep, f->name, f->image, r, pd);
}

/*
 * After the switch, before success (smoke tests or postPromotionAnalysis configured): the new
 * color is active and the old one keeps all its pods, so that a failed gate switches back at
 * once. status.switchedRelease names the Release being checked; once its gates pass the old
 * color scales down after scaleDownDelaySeconds, as without gates.
 */
static void post_switch(struct plan_ctx *ctx, struct plan_flight *f)
{
    const struct tg_blue_green_strategy *bg = &ctx->spec->blue_green;
    const char *a = active_color(ctx), *o = other(a);
    char adep[80], odep[80], held[1100] = "";
    const char *reason = NULL;
    int r = ctx->spec->replicas;
    struct gate_vars gv = {a, bg->active_service};

    dep_name(ctx, a, adep, sizeof(adep));
    dep_name(ctx, o, odep, sizeof(odep));
    enum gate_state gs = GATE_WAIT;
    reason = "Switching";
    /* The gates start once the active Service is seen on the new color. */
    if (selects(ctx, bg->active_service, a))
        gs = gate_decide(ctx, f, "promoted-smoke", gate_smoke(ctx, f, "promoted-smoke", &gv), true,
                         &reason);
    if (gs == GATE_PASS && bg->has_post_promotion)
        gs = gate_decide(ctx, f, "postPromotion",
                         gate_analysis(ctx, f, "postPromotion", &bg->post_promotion, &gv), false,
                         &reason);
    if (gs == GATE_STOPPED) {
        switch_back(ctx);
        idle(ctx);
        return;
    }
    if (gs == GATE_PASS) {
        jset(ctx, ctx->status, "switchedRelease", NULL);
        jset_time(ctx, ctx->status, "scaleDownAt",
                  ctx->now + bg->scale_down_delay_seconds * 1000LL);
        flight_succeeded(ctx, f);
        idle(ctx);
        return;
    }
    if (gs == GATE_HOLD)
        snprintf(held, sizeof(held), "Post-promotion analysis: %s; promote to go on, or abort",
                 jstr(gate_run_entry(ctx, f->rel, "postPromotion", false), "message"));
    jset(ctx, ctx->status, "scaleDownAt", NULL);
    json_object *ad = ensure_deployment(ctx, adep, TG_LABEL_COLOR, a, NULL, false, r);
    json_object *od = ensure_deployment(ctx, odep, TG_LABEL_COLOR, o, NULL, false, r);
    services(ctx, a, a);
    if (held[0])
        rel_set_phase(ctx, f->rel, PHASE_PAUSED, reason, "%s", held);
    else
        rel_set_phase(ctx, f->rel, PHASE_PROGRESSING, reason,
                      "Switched to %s; %s before the old color scales down", adep,
                      streq(reason, "Switching")    ? "waiting for the active Service"
                      : streq(reason, "SmokeTests") ? "running the smoke tests"
                                                    : "post-promotion analysis running");
    track_status(ctx, "active", adep, f->name, f->image, r, ad);
    track_status(ctx, "preview", odep, jstr(ctx->status, "stableRelease"), stable_image(ctx), r,
                 od);
}

void bluegreen_plan(struct plan_ctx *ctx, struct plan_flight *flight)
{
    const char *sw = jstr(ctx->status, "switchedRelease");

    if (sw && (!flight || !streq(sw, flight->name)))
        switch_back(ctx);
    if (flight && sw && streq(sw, flight->name) && stable_image(ctx)) {
        post_switch(ctx, flight);
        return;
    }
    if (!flight)
        idle(ctx);
    else if (!stable_image(ctx))
        first(ctx, flight);
    else
        deliver(ctx, flight);
}
