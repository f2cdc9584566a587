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

static const char *stable_container(struct plan_ctx *ctx)
{
    const char *name = jstr(ctx->status, "stableRelease");

    for (size_t i = 0; i < ctx->n_rels; i++) {
        if (streq(ctx->rels[i].name, name) && ctx->rels[i].in->spec)
            return ctx->rels[i].in->spec->container;
    }
    return NULL;
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
    if (ready) {
        int64_t ready_at = jtime(ctx->status, "previewReadyAt");
        if (ready_at <= 0) {
            ready_at = ctx->now;
            jset_time(ctx, ctx->status, "previewReadyAt", ready_at);
        }
        if (may_switch(ctx, f, ready_at, &reason)) {
            json_object_put(t);
            jset_str(ctx, ctx->status, "activeColor", p);
            jset_time(ctx, ctx->status, "scaleDownAt",
                      ctx->now + ctx->spec->blue_green.scale_down_delay_seconds * 1000LL);
            rollout_event(ctx, false, "Switched", "Active Service %s now selects %s",
                          ctx->spec->blue_green.active_service, pdep);
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
    if (!ready)
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

void bluegreen_plan(struct plan_ctx *ctx, struct plan_flight *flight)
{
    if (!flight)
        idle(ctx);
    else if (!stable_image(ctx))
        first(ctx, flight);
    else
        deliver(ctx, flight);
}
