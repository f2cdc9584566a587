/*
 * Status bookkeeping of the planner: Kubernetes-style conditions (lastTransitionTime moves only
 * when the status does, so a converged reconcile changes nothing), the merge patch between the
 * observed and the desired status, Release phases with the conditions `kubectl wait` reads, the
 * GitOps conditions kstatus reads (Ready, Reconciling, Stalled), and the Rollout's status.history.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rollout/plan_internal.h"

static json_object *cond_find(json_object *status, const char *type)
{
    json_object *conds = jkey(status, "conditions");

    if (!conds || !json_object_is_type(conds, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(conds); i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (streq(jstr(c, "type"), type))
            return c;
    }
    return NULL;
}

const char *cond_status(json_object *status, const char *type)
{
    return jstr(cond_find(status, type), "status");
}

bool cond_set(struct plan_ctx *ctx, json_object *status, const char *type, bool value,
              const char *reason, const char *message, int64_t generation)
{
    const char *want = value ? "True" : "False";
    json_object *c = cond_find(status, type);
    bool changed = !c || !streq(jstr(c, "status"), want);

    if (!c) {
        json_object *conds = jkey(status, "conditions");
        if (!conds || !json_object_is_type(conds, json_type_array)) {
            conds = nn(ctx, json_object_new_array());
            if (!conds)
                return changed;
            json_object_object_add(status, "conditions", conds);
        }
        c = nn(ctx, json_object_new_object());
        if (!c)
            return changed;
        json_object_array_add(conds, c);
        jset_str(ctx, c, "type", type);
    }
    jset_str(ctx, c, "status", want);
    jset_str(ctx, c, "reason", reason);
    jset_str(ctx, c, "message", message ? message : "");
    if (changed || !jstr(c, "lastTransitionTime"))
        jset_time(ctx, c, "lastTransitionTime", ctx->now);
    jset_int(ctx, c, "observedGeneration", generation);
    return changed;
}

json_object *merge_diff(struct plan_ctx *ctx, json_object *old, json_object *new_)
{
    json_object *patch = NULL;

    if (old && json_object_equal(old, new_))
        return NULL;
    if (!old || !json_object_is_type(old, json_type_object) ||
        !json_object_is_type(new_, json_type_object))
        return jcopy(ctx, new_);
    patch = nn(ctx, json_object_new_object());
    if (!patch)
        return NULL;
    json_object_object_foreach(new_, key, val)
    {
        json_object *o = jkey(old, key);
        if (o && json_object_equal(o, val))
            continue;
        if (o && val && json_object_is_type(o, json_type_object) &&
            json_object_is_type(val, json_type_object)) {
            json_object *sub = merge_diff(ctx, o, val);
            if (sub)
                json_object_object_add(patch, key, sub);
        } else {
            json_object_object_add(patch, key, val ? jcopy(ctx, val) : NULL);
        }
    }
    json_object_object_foreach(old, okey, oval)
    {
        (void)oval;
        if (!json_object_object_get_ex(new_, okey, NULL))
            json_object_object_add(patch, okey, NULL);
    }
    return patch;
}

const char *rel_phase(const struct plan_rel *rel)
{
    const char *p = jstr(rel->status, "phase");
    return p ? p : PHASE_PENDING;
}

bool phase_is_final(const char *phase)
{
    return streq(phase, PHASE_SUCCEEDED) || streq(phase, PHASE_FAILED) ||
           streq(phase, PHASE_ROLLED_BACK) || streq(phase, PHASE_SUPERSEDED);
}

void rel_set_phase(struct plan_ctx *ctx, struct plan_rel *rel, const char *phase,
                   const char *reason, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (phase_is_final(phase) && !phase_is_final(rel_phase(rel)))
        jset_time(ctx, rel->status, "finishedAt", ctx->now);
    jset_str(ctx, rel->status, "phase", phase);
    jset_str(ctx, rel->status, "message", msg);
    rel->reason = reason;
}

void history_record(struct plan_ctx *ctx, const struct plan_rel *rel, const char *name,
                    const char *result)
{
    json_object *old = jkey(ctx->status, "history");
    json_object *hist = nn(ctx, json_object_new_array());
    json_object *entry = nn(ctx, json_object_new_object());
    int limit = ctx->spec ? ctx->spec->revision_history_limit : 10;

    if (!hist || !entry) {
        json_object_put(hist);
        json_object_put(entry);
        return;
    }
    jset_str(ctx, entry, "release", name);
    if (rel && rel->in->spec)
        jset_str(ctx, entry, "version", rel->in->spec->version.text);
    else if (rel)
        jset_str(ctx, entry, "version", jstr(rel->in->obj, "spec.version"));
    jset_str(ctx, entry, "result", result);
    if (rel) {
        jset(ctx, entry, "startedAt", jcopy(ctx, jkey(rel->status, "startedAt")));
        jset(ctx, entry, "finishedAt", jcopy(ctx, jkey(rel->status, "finishedAt")));
    }
    if (!jkey(entry, "finishedAt"))
        jset_time(ctx, entry, "finishedAt", ctx->now);
    json_object_array_add(hist, entry);
    for (size_t i = 0;
         old && json_object_is_type(old, json_type_array) && i < json_object_array_length(old);
         i++) {
        json_object *e = json_object_array_get_idx(old, i);
        if (!streq(jstr(e, "release"), name))
            json_object_array_add(hist, json_object_get(e));
    }
    while ((int)json_object_array_length(hist) > limit)
        json_object_array_del_idx(hist, json_object_array_length(hist) - 1, 1);
    if (json_object_array_length(hist) == 0) {
        json_object_put(hist);
        jset(ctx, ctx->status, "history", NULL);
        return;
    }
    json_object_object_add(ctx->status, "history", hist);
}

/* The reason of the phase conditions when no concern named a more precise one. */
static const char *phase_reason(const char *phase)
{
    if (streq(phase, PHASE_PENDING))
        return "Pending";
    if (streq(phase, PHASE_PAUSED))
        return "Paused";
    if (streq(phase, PHASE_PROGRESSING))
        return "Progressing";
    return phase;
}

void kstatus_set(struct plan_ctx *ctx, json_object *status, enum kstate state, const char *reason,
                 const char *message, int64_t generation)
{
    bool reconciling = state == KSTATE_RECONCILING, stalled = state == KSTATE_STALLED;

    cond_set(ctx, status, "Ready", state == KSTATE_CURRENT, reason, message, generation);
    cond_set(ctx, status, "Reconciling", reconciling, reconciling ? reason : "NotReconciling",
             reconciling ? message : "", generation);
    cond_set(ctx, status, "Stalled", stalled, stalled ? reason : "NotStalled",
             stalled ? message : "", generation);
}

/*
 * The Release's verdict for GitOps tools: an InvalidSpec (never started, or changed after it
 * started) needs a human whatever the phase, so it is Stalled; Succeeded and Superseded are final
 * and nothing more will happen, so they are current (a Superseded Release did its part: the newer
 * one carries the intent on); Failed and RolledBack are Stalled; every other phase is in progress.
 */
static void rel_kstatus(struct plan_ctx *ctx, struct plan_rel *rel, const char *phase,
                        const char *reason, const char *msg, int64_t gen)
{
    json_object *inv = cond_find(rel->status, "InvalidSpec");
    char ireason[128], imsg[1024];

    if (streq(jstr(inv, "status"), "True")) {
        snprintf(ireason, sizeof(ireason), "%s",
                 jstr(inv, "reason") ? jstr(inv, "reason") : "InvalidSpec");
        snprintf(imsg, sizeof(imsg), "%s", jstr(inv, "message") ? jstr(inv, "message") : "");
        kstatus_set(ctx, rel->status, KSTATE_STALLED, ireason, imsg, gen);
    } else if (streq(phase, PHASE_SUCCEEDED) || streq(phase, PHASE_SUPERSEDED)) {
        kstatus_set(ctx, rel->status, KSTATE_CURRENT, reason, msg, gen);
    } else if (streq(phase, PHASE_FAILED) || streq(phase, PHASE_ROLLED_BACK)) {
        kstatus_set(ctx, rel->status, KSTATE_STALLED, reason, msg, gen);
    } else {
        kstatus_set(ctx, rel->status, KSTATE_RECONCILING, reason, msg, gen);
    }
}

void rel_conditions(struct plan_ctx *ctx, struct plan_rel *rel)
{
    const char *phase = rel_phase(rel);
    const char *r =
        rel->reason ? rel->reason : jstr(cond_find(rel->status, "Progressing"), "reason");
    int64_t gen = jint(rel->in->obj, "metadata.generation", 0);
    bool active = streq(phase, PHASE_PROGRESSING) || streq(phase, PHASE_PAUSED);
    bool paused = streq(phase, PHASE_PAUSED), failed = streq(phase, PHASE_FAILED);
    char reason[128], msg[1024], ph[32];

    /* Copies: the conditions written below own the strings these may point into. */
    snprintf(ph, sizeof(ph), "%s", phase);
    snprintf(reason, sizeof(reason), "%s", r ? r : phase_reason(ph));
    snprintf(msg, sizeof(msg), "%s",
             jstr(rel->status, "message") ? jstr(rel->status, "message") : "");
    cond_set(ctx, rel->status, "Progressing", active, reason, msg, gen);
    cond_set(ctx, rel->status, "Paused", paused, paused ? reason : "NotPaused", paused ? msg : "",
             gen);
    cond_set(ctx, rel->status, "Succeeded", streq(ph, PHASE_SUCCEEDED), reason, msg, gen);
    cond_set(ctx, rel->status, "Failed", failed, failed ? reason : "NotFailed", failed ? msg : "",
             gen);
    rel_kstatus(ctx, rel, ph, reason, msg, gen);
}
