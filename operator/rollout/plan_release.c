/*
 * The Releases' lifecycle around a strategy: which Release is in flight, and how deliveries
 * start and end.
 *
 * - The Release in flight is the Rollout's status.currentRelease. The newest Release (by
 *   creationTimestamp, then name) that is valid, not being deleted and not ended is the one that
 *   should be: when it differs, the one in flight is Superseded and the newest starts
 *   (status.startedAt and status.specHash are recorded). Older Releases that never started are
 *   Superseded too.
 * - Abort (tollgate.io/abort on the Release, a value not yet in status.handledIntents.abort):
 *   the Release in flight ends RolledBack and the strategy sends all traffic back to stable; a
 *   Release not started yet ends RolledBack at once; an ended one ignores it.
 * - Deleting the Release in flight (gone, or deletionTimestamp set) rolls back the same way.
 * - Retry (tollgate.io/retry): a RolledBack, Failed or Superseded Release goes back to Pending,
 *   its times cleared; it starts again if it is the newest.
 * - Rollback (tollgate.io/rollback on the Rollout): redeploys the Release named by
 *   tollgate.io/rollback-to, or else the newest Succeeded one of status.history that is not the
 *   stable one, fast (no steps, no pauses). The Release in flight, if any, and the stable one end
 *   RolledBack; the target stays Succeeded and becomes stable again.
 * - Immutability: a started Release whose spec no longer hashes to status.specHash (or no
 *   longer parses) gets InvalidSpec=True (reason SpecImmutable); nothing else changes: its
 *   delivery continues with the image it started with.
 * - Invalid Releases get InvalidSpec=True with every problem and a Warning Event, and never
 *   start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/plan_internal.h"

bool rollout_intent(struct plan_ctx *ctx, const char *annotation, const char *handled_key)
{
    char path[64];

    snprintf(path, sizeof(path), "handledIntents.%s", handled_key);
    const char *token = tg_intent_pending(ctx->in->rollout, annotation, jstr(ctx->status, path));
    if (!token)
        return false;
    jset_str(ctx, ctx->status, path, token);
    return true;
}

static bool release_intent(struct plan_ctx *ctx, struct plan_rel *rel, const char *annotation,
                           const char *handled_key)
{
    char path[64];

    snprintf(path, sizeof(path), "handledIntents.%s", handled_key);
    const char *token = tg_intent_pending(rel->in->obj, annotation, jstr(rel->status, path));
    if (!token)
        return false;
    jset_str(ctx, rel->status, path, token);
    return true;
}

static struct plan_rel *find_rel(struct plan_ctx *ctx, const char *name)
{
    for (size_t i = 0; name && i < ctx->n_rels; i++) {
        if (streq(ctx->rels[i].name, name))
            return &ctx->rels[i];
    }
    return NULL;
}

static void clear_flight_status(struct plan_ctx *ctx)
{
    static const char *const keys[] = {"currentRelease", "currentStep", "stepStartedAt",
                                       "pauseStartedAt", "previewReadyAt"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        jset(ctx, ctx->status, keys[i], NULL);
}

void flight_end(struct plan_ctx *ctx, struct plan_flight *flight, const char *phase,
                const char *reason, const char *message)
{
    if (flight->rel && !flight->rollback) {
        gate_stop_all(ctx, flight->rel); /* runs still measuring stop with the delivery */
        rel_set_phase(ctx, flight->rel, phase, reason, "%s", message);
        history_record(ctx, flight->rel, flight->name, phase);
    } else if (flight->rollback) {
        rollout_event(ctx, true, reason, "Rollback to %s stopped: %s", flight->name, message);
    } else {
        history_record(ctx, NULL, flight->name, phase);
    }
    clear_flight_status(ctx);
    memset(flight, 0, sizeof(*flight));
}

void flight_succeeded(struct plan_ctx *ctx, struct plan_flight *flight)
{
    const char *track =
        ctx->spec->strategy == TG_STRATEGY_CANARY ? "tracks.stable" : "tracks.active";
    char path[64];

    jset_str(ctx, ctx->status, "stableRelease", flight->name);
    snprintf(path, sizeof(path), "%s.image", track);
    jset_str(ctx, ctx->status, path, flight->image);
    snprintf(path, sizeof(path), "%s.release", track);
    jset_str(ctx, ctx->status, path, flight->name);
    if (flight->rel) {
        if (flight->rollback)
            rel_set_phase(ctx, flight->rel, PHASE_SUCCEEDED, "Succeeded",
                          "Redeployed by a rollback: %s is stable", flight->name);
        else
            rel_set_phase(ctx, flight->rel, PHASE_SUCCEEDED, "Succeeded", "Delivered: %s is stable",
                          flight->name);
        history_record(ctx, flight->rel, flight->name, PHASE_SUCCEEDED);
    }
    clear_flight_status(ctx);
    memset(flight, 0, sizeof(*flight));
}

/* True when the Rollout's pod template has the container the Release sets (unknown: true). */
static bool container_found(struct plan_ctx *ctx, const struct tg_release_spec *spec)
{
    size_t index;

    return !ctx->base_template ||
           tg_release_target_container(spec, ctx->base_template, &index) == 0;
}

/*
 * Checks validity, immutability and that the named container exists; sets the InvalidSpec
 * condition. A Release with a problem never starts (rel->blocked); one already started carries on
 * with what it started with (rel->spec_changed).
 */
static void check_spec(struct plan_ctx *ctx, struct plan_rel *rel)
{
    int64_t gen = jint(rel->in->obj, "metadata.generation", 0);
    const char *hash = jstr(rel->status, "specHash");
    bool started = jstr(rel->status, "startedAt") != NULL;
    char *joined = NULL;
    const char *reason = NULL;
    char msg[512];

    if (!rel->in->spec) {
        joined = rel->in->errors ? tg_field_errors_join(rel->in->errors) : NULL;
        reason = started ? "SpecImmutable" : "InvalidSpec";
        snprintf(msg, sizeof(msg), "%s%s",
                 started ? "The spec changed after delivery started and is no longer valid: " : "",
                 joined ? joined : "the spec is invalid");
    } else if (started && hash && !streq(hash, rel->in->spec->spec_hash)) {
        reason = "SpecImmutable";
        snprintf(msg, sizeof(msg),
                 "The spec changed after delivery started; a Release is immutable once started, "
                 "so the change is ignored (create a new Release instead)");
    } else if (!started && !container_found(ctx, rel->in->spec)) {
        reason = "ContainerNotFound";
        snprintf(msg, sizeof(msg),
                 "spec.artifact.container: the Rollout's pod template has no container named "
                 "\"%s\"",
                 rel->in->spec->container);
    }
    free(joined);
    rel->spec_changed = started && reason;
    rel->blocked = reason != NULL;
    if (!reason) {
        cond_set(ctx, rel->status, "InvalidSpec", false, "Valid", "", gen);
        return;
    }
    if (cond_set(ctx, rel->status, "InvalidSpec", true, reason, msg, gen))
        release_event(ctx, rel, true, reason, "%s", msg);
    if (!started && !jstr(rel->status, "phase"))
        jset_str(ctx, rel->status, "phase", PHASE_PENDING);
    if (!started)
        jset_str(ctx, rel->status, "message", msg);
}

/* The image and container a Release delivers. */
static void flight_image(struct plan_ctx *ctx, struct plan_flight *f)
{
    const char *stored = ctx->spec->strategy == TG_STRATEGY_CANARY
                             ? jstr(ctx->status, "tracks.canary.image")
                             : jstr(ctx->status, "tracks.preview.image");
    const struct tg_release_spec *spec = f->rel ? f->rel->in->spec : NULL;
    const char *image;

    f->container = spec ? spec->container : NULL;
    if (spec && !f->rel->spec_changed)
        image = spec->image;
    else if (stored && streq(jstr(ctx->status, "tracks.canary.release"), f->name))
        image = stored;
    else if (stored && streq(jstr(ctx->status, "tracks.preview.release"), f->name))
        image = stored;
    else
        image = spec ? spec->image : NULL;
    if (image) {
        snprintf(f->image_buf, sizeof(f->image_buf), "%s", image);
        f->image = f->image_buf;
    } else {
        f->image = NULL;
    }
}

static void start(struct plan_ctx *ctx, struct plan_flight *f, struct plan_rel *rel, bool rollback)
{
    f->rel = rel;
    snprintf(f->name_buf, sizeof(f->name_buf), "%s", rel->name);
    f->name = f->name_buf;
    f->rollback = rollback;
    flight_image(ctx, f);
    clear_flight_status(ctx);
    jset_str(ctx, ctx->status, "currentRelease", rel->name);
    jset_time(ctx, ctx->status, "stepStartedAt", ctx->now);
    if (ctx->spec->strategy == TG_STRATEGY_CANARY) {
        size_t step = rollback ? ctx->spec->canary.n_steps : 0;
        jset_int(ctx, ctx->status, "currentStep", (int64_t)step);
        if (!rollback)
            jset_int(ctx, ctx->status, "canaryWeight", 0);
        jset_int(ctx, rel->status, "currentStep", (int64_t)step);
    }
    if (rollback) {
        rollout_event(ctx, false, "RollingBack", "Rolling back to %s", rel->name);
        return;
    }
    if (!jstr(rel->status, "startedAt"))
        jset_time(ctx, rel->status, "startedAt", ctx->now);
    jset(ctx, rel->status, "finishedAt", NULL);
    jset_str(ctx, rel->status, "specHash", rel->in->spec->spec_hash);
    rel_set_phase(ctx, rel, PHASE_PROGRESSING, "Started", "Delivery started");
}

/* Abort and retry requests on each Release. */
static void release_intents(struct plan_ctx *ctx, struct plan_flight *f)
{
    for (size_t i = 0; i < ctx->n_rels; i++) {
        struct plan_rel *rel = &ctx->rels[i];
        if (rel->deleting)
            continue;
        if (release_intent(ctx, rel, TG_ANNOTATION_ABORT, "abort")) {
            if (f->rel == rel && !f->rollback) {
                flight_end(ctx, f, PHASE_ROLLED_BACK, "Aborted",
                           "Aborted by request: all traffic is back on the stable Release");
            } else if (!phase_is_final(rel_phase(rel))) {
                rel_set_phase(ctx, rel, PHASE_ROLLED_BACK, "Aborted",
                              "Aborted by request before it started");
            } else {
                release_event(ctx, rel, false, "AbortIgnored",
                              "Abort ignored: the Release has already ended (%s)", rel_phase(rel));
            }
        }
        if (release_intent(ctx, rel, TG_ANNOTATION_RETRY, "retry")) {
            char p[32];
            snprintf(p, sizeof(p), "%s", rel_phase(rel));
            if (streq(p, PHASE_ROLLED_BACK) || streq(p, PHASE_FAILED) ||
                streq(p, PHASE_SUPERSEDED)) {
                static const char *const keys[] = {"startedAt",   "finishedAt", "specHash",
                                                   "currentStep", "analysis",   "verification"};
                for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
                    jset(ctx, rel->status, keys[k], NULL);
                rel_set_phase(ctx, rel, PHASE_PENDING, "Retried", "Retry requested");
                rel->spec_changed = false;
                check_spec(ctx, rel);
                release_event(ctx, rel, false, "Retried", "Retry requested after %s", p);
            } else {
                release_event(ctx, rel, false, "RetryIgnored",
                              "Retry ignored: only a RolledBack, Failed or Superseded Release "
                              "can be retried (it is %s)",
                              p);
            }
        }
    }
}

/* The rollback target: the named Release, or the newest Succeeded one before the stable. */
static struct plan_rel *rollback_target(struct plan_ctx *ctx, const char **why)
{
    const char *stable = jstr(ctx->status, "stableRelease");
    json_object *na =
        jkey(jpath(ctx->in->rollout, "metadata.annotations"), TG_ANNOTATION_ROLLBACK_TO);
    json_object *hist = jkey(ctx->status, "history");

    if (na && json_object_is_type(na, json_type_string) && json_object_get_string(na)[0]) {
        struct plan_rel *rel = find_rel(ctx, json_object_get_string(na));
        if (!rel || rel->deleting || !rel->in->spec) {
            *why = "the Release named by tollgate.io/rollback-to does not exist or is invalid";
            return NULL;
        }
        if (!streq(rel_phase(rel), PHASE_SUCCEEDED)) {
            *why = "the Release named by tollgate.io/rollback-to has not Succeeded";
            return NULL;
        }
        if (streq(rel->name, stable)) {
            *why = "the Release named by tollgate.io/rollback-to is already stable";
            return NULL;
        }
        return rel;
    }
    for (size_t i = 0;
         hist && json_object_is_type(hist, json_type_array) && i < json_object_array_length(hist);
         i++) {
        json_object *e = json_object_array_get_idx(hist, i);
        const char *name = jstr(e, "release");
        if (!streq(jstr(e, "result"), PHASE_SUCCEEDED) || streq(name, stable))
            continue;
        struct plan_rel *rel = find_rel(ctx, name);
        if (rel && !rel->deleting && rel->in->spec && streq(rel_phase(rel), PHASE_SUCCEEDED))
            return rel;
    }
    *why = "no earlier Succeeded Release to roll back to";
    return NULL;
}

static void rollback(struct plan_ctx *ctx, struct plan_flight *f)
{
    const char *why = NULL;
    struct plan_rel *target = rollback_target(ctx, &why);
    char msg[256];

    if (!target) {
        rollout_event(ctx, true, "RollbackFailed", "Rollback not possible: %s", why);
        return;
    }
    snprintf(msg, sizeof(msg), "Rolled back by request to %s", target->name);
    if (f->name && !f->rollback)
        flight_end(ctx, f, PHASE_ROLLED_BACK, "RolledBackByRequest", msg);
    else if (f->name)
        memset(f, 0, sizeof(*f));
    struct plan_rel *stable = find_rel(ctx, jstr(ctx->status, "stableRelease"));
    if (stable && stable != target) {
        rel_set_phase(ctx, stable, PHASE_ROLLED_BACK, "RolledBackByRequest", "%s", msg);
        history_record(ctx, stable, stable->name, PHASE_ROLLED_BACK);
    }
    start(ctx, f, target, true);
}

void releases_check(struct plan_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_rels; i++) {
        if (!ctx->rels[i].deleting)
            check_spec(ctx, &ctx->rels[i]);
    }
}

void releases_plan(struct plan_ctx *ctx, struct plan_flight *f)
{
    const char *current = jstr(ctx->status, "currentRelease");

    memset(f, 0, sizeof(*f));
    if (current) {
        struct plan_rel *rel = find_rel(ctx, current);
        snprintf(f->name_buf, sizeof(f->name_buf), "%s", current);
        f->name = f->name_buf;
        if (!rel || rel->deleting) {
            rollout_event(ctx, false, "ReleaseDeleted",
                          "Release %s was deleted in flight: rolling back to stable", current);
            f->rel = NULL;
            flight_end(ctx, f, PHASE_ROLLED_BACK, "Deleted", "Deleted in flight");
        } else if (phase_is_final(rel_phase(rel)) && !streq(rel_phase(rel), PHASE_SUCCEEDED)) {
            /*
             * The Release already ended (RolledBack, Failed, Superseded) but the Rollout still
             * names it: the Rollout's status in the cache predates the write that ended it (a
             * plan writes the Release first). That plan recorded the history and the Events;
             * this one only lets go of the flight, so nothing is told twice.
             */
            clear_flight_status(ctx);
            memset(f, 0, sizeof(*f));
        } else {
            f->rel = rel;
            f->rollback = streq(rel_phase(rel), PHASE_SUCCEEDED);
            flight_image(ctx, f);
        }
    }
    release_intents(ctx, f);
    if (rollout_intent(ctx, TG_ANNOTATION_ROLLBACK, "rollback"))
        rollback(ctx, f);

    struct plan_rel *want = NULL;
    enum verify_state vs = VERIFY_GO;
    do {
        want = NULL;
        for (size_t i = 0; i < ctx->n_rels; i++) {
            struct plan_rel *rel = &ctx->rels[i];
            if (!rel->deleting && rel->in->spec && !rel->spec_changed &&
                !phase_is_final(rel_phase(rel)) && !rel->blocked)
                want = rel;
        }
        /* Verified before anything changes for it; a failure lets the next one be chosen. */
        vs = want && want != f->rel ? verify_release(ctx, want) : VERIFY_GO;
    } while (vs == VERIFY_FAILED);
    if (want && want != f->rel && vs == VERIFY_GO) {
        if (f->name && !f->rollback) {
            char msg[300];
            snprintf(msg, sizeof(msg), "Superseded by %s", want->name);
            flight_end(ctx, f, PHASE_SUPERSEDED, "Superseded", msg);
        }
        start(ctx, f, want, false);
    }
    for (size_t i = 0; i < ctx->n_rels; i++) {
        struct plan_rel *rel = &ctx->rels[i];
        if (rel == f->rel || rel->deleting || phase_is_final(rel_phase(rel)) || !want ||
            rel == want)
            continue;
        if (rel->in->spec && !rel->spec_changed)
            rel_set_phase(ctx, rel, PHASE_SUPERSEDED, "Superseded",
                          "Superseded by %s before it started", want->name);
    }
    if (f->name && !f->image) {
        flight_end(ctx, f, PHASE_FAILED, "ImageUnknown",
                   "The spec changed in flight and the image being delivered is unknown");
    }
}
