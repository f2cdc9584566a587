/*
 * Verification in the release flow (docs/planner.md, "Verifying"): before a Release starts, its
 * image is verified against every policy that applies to it (the matching VerificationPolicies
 * and its own spec.verify), before any Deployment, Service or router changes.
 *
 * - A Release about to start whose status.verification records no Passed or Warned verdict for
 *   its image and the hash of its policies goes to phase Verifying (written first, so that the
 *   phase is seen), then asks for a TG_GATE_VERIFY gate. The verdict is recorded in
 *   status.verification with policyHash and attempts; a restarted operator reads it there and
 *   never verifies twice.
 * - Passed: the delivery starts. Warned (a policy in warn mode failed): it starts, with a Warning
 *   Event VerificationWarning. Failed: the Release ends Failed (VerificationFailed) with the
 *   first failure as its message and a Warning Event; nothing else changes.
 * - No verdict (registry unreachable, 5xx, timeout): the Release stays Verifying, the message
 *   says "registry unreachable: ... (attempt N, retrying in Ts)", a Warning Event
 *   VerificationRetrying is recorded, and the check runs again after 5 s, doubling to 5 minutes.
 * - No policy applies: with verify_unmatched_deny the Release ends Failed ("no verification
 *   policy covers <image>"); otherwise status.verification says NotRequired and it starts.
 * - Before the final promotion of a canary, a vulnerability verdict whose validUntil has passed
 *   is checked again without the cache; a failure rolls the delivery back (VerificationFailed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/plan_internal.h"
#include "util/error.h"
#include "verify/verifier.h"

#define VERIFY_BACKOFF_MS     5000
#define VERIFY_BACKOFF_MAX_MS 300000

struct named {
    const char *name;
    json_object *spec;
};

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

/* Appends {"name", "spec", "namespace"?} to arr; namespace: where the policy's references
 * without one point (a Release's spec.verify: its namespace). */
static int add_policy(json_object *arr, const char *name, json_object *spec, const char *namespace)
{
    json_object *e = json_object_new_object();
    json_object *n = json_object_new_string(name);

    if (!e || !n || json_object_object_add(e, "name", n) != 0) {
        json_object_put(e);
        json_object_put(n);
        return TG_ENOMEM;
    }
    json_object_object_add(e, "spec", json_object_get(spec));
    if (namespace && json_object_object_add(e, "namespace", json_object_new_string(namespace))) {
        json_object_put(e);
        return TG_ENOMEM;
    }
    if (json_object_array_add(arr, e) != 0) {
        json_object_put(e);
        return TG_ENOMEM;
    }
    return 0;
}

int tg_plan_release_policies(json_object *const *vpols, size_t n_vpols, json_object *release,
                             const struct tg_release_spec *spec, json_object **out)
{
    struct named *m = calloc(n_vpols ? n_vpols : 1, sizeof(*m));
    json_object *arr = json_object_new_array();
    const char *ns = jstr(release, "metadata.namespace");
    size_t n = 0;
    int rc = 0;

    *out = NULL;
    if (!m || !arr) {
        rc = TG_ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; spec && spec->image && i < n_vpols; i++) {
        const char *name = jstr(vpols[i], "metadata.name");
        json_object *ps = jkey(vpols[i], "spec");
        if (name && ps && tg_verify_policy_matches(ps, spec->image, ns ? ns : ""))
            m[n++] = (struct named){name, ps};
    }
    qsort(m, n, sizeof(*m), cmp_named);
    for (size_t i = 0; i < n && !rc; i++) {
        char name[300];
        snprintf(name, sizeof(name), "VerificationPolicy/%s", m[i].name);
        rc = add_policy(arr, name, m[i].spec, NULL);
    }
    if (!rc && spec && spec->verify)
        rc = add_policy(arr, "Release", spec->verify, ns);
out_free:
    free(m);
    if (rc) {
        json_object_put(arr);
        return tg_error_set(rc, "out of memory listing verification policies");
    }
    *out = arr;
    return 0;
}

static bool has_policies(const struct plan_rel *rel)
{
    json_object *p = rel->in->policies;
    return p && json_object_is_type(p, json_type_array) && json_object_array_length(p) > 0;
}

/* The hash of the policies a verdict was reached for (33 bytes). */
static void policy_hash(const struct plan_rel *rel, char out[65])
{
    template_hash(rel->in->policies, out);
}

static void gate_id(const struct plan_rel *rel, const char *what, char *buf, size_t n)
{
    snprintf(buf, n, "%s/verification/%s", rel->name, what);
}

/* Asks the reconciler to verify rel's image now. */
static void ask(struct plan_ctx *ctx, struct plan_rel *rel, const char *what, bool no_cache)
{
    char id[320];

    gate_id(rel, what, id, sizeof(id));
    struct tg_gate *g = gate_push(ctx, id, TG_GATE_VERIFY);
    if (!g)
        return;
    g->image = nn(ctx, strdup(rel->in->spec->image));
    g->namespace = ctx->namespace ? nn(ctx, strdup(ctx->namespace)) : NULL;
    g->source_commit =
        rel->in->spec->source_commit ? nn(ctx, strdup(rel->in->spec->source_commit)) : NULL;
    g->policies = json_object_get(rel->in->policies);
    g->no_cache = no_cache;
}

/* True when status.verification holds a verdict about this image and these policies. */
static bool verdict_current(struct plan_rel *rel, const char *hash)
{
    json_object *v = jkey(rel->status, "verification");
    return streq(jstr(v, "image"), rel->in->spec->image) && streq(jstr(v, "policyHash"), hash);
}

/* Records a verdict the verifier reached in status.verification. */
static void record(struct plan_ctx *ctx, struct plan_rel *rel, json_object *verdict,
                   const char *hash)
{
    json_object *old = jkey(rel->status, "verification");
    int64_t attempts = jtime(old, "nextAttemptAt") && streq(jstr(old, "policyHash"), hash)
                           ? jint(old, "attempts", 0)
                           : 0;
    json_object *v = jcopy(ctx, verdict);

    if (!v)
        return;
    /* The verdict is about the image as the Release names it, whatever spelling it reports. */
    jset_str(ctx, v, "image", rel->in->spec->image);
    jset_str(ctx, v, "policyHash", hash);
    jset_int(ctx, v, "attempts", attempts + 1);
    jset(ctx, rel->status, "verification", v);
}

/* The message of a verdict, or a stand-in. */
static const char *verdict_message(json_object *v, const char *def)
{
    const char *m = jstr(v, "message");
    return m && m[0] ? m : def;
}

/*
 * No verdict could be reached: count the attempt, and wait 5 s doubling to 5 min. The phase
 * (Verifying, or the delivery's for a re-check) is the caller's; the message is returned in msg.
 */
static void retry_later(struct plan_ctx *ctx, struct plan_rel *rel, const char *hash,
                        const struct tg_gate_result *res, bool recheck, char *msg, size_t n)
{
    json_object *old = jkey(rel->status, "verification");
    int64_t attempts = 1, delay = VERIFY_BACKOFF_MS;

    if (jtime(old, "nextAttemptAt") && streq(jstr(old, "policyHash"), hash) &&
        streq(jstr(old, "image"), rel->in->spec->image))
        attempts = jint(old, "attempts", 0) + 1;
    for (int64_t i = 1; i < attempts && delay < VERIFY_BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > VERIFY_BACKOFF_MAX_MS)
        delay = VERIFY_BACKOFF_MAX_MS;
    snprintf(msg, n, "registry unreachable: %s (attempt %lld, retrying in %llds)",
             res->message && res->message[0] ? res->message : "no verdict", (long long)attempts,
             (long long)(delay / 1000));
    /* A re-check keeps the verdict reached before visible next to its retries. */
    json_object *v = recheck && old ? jcopy(ctx, old) : nn(ctx, json_object_new_object());
    if (!v)
        return;
    if (!recheck)
        jset_str(ctx, v, "result", "Retrying");
    jset_str(ctx, v, "image", rel->in->spec->image);
    jset_str(ctx, v, "policyHash", hash);
    jset_int(ctx, v, "attempts", attempts);
    jset_str(ctx, v, "retryMessage", msg);
    jset_time(ctx, v, "nextAttemptAt", ctx->now + delay);
    jset(ctx, rel->status, "verification", v);
    requeue_at(ctx, ctx->now + delay);
    release_event(ctx, rel, true, "VerificationRetrying", "%s", msg);
}

/* True while a retry waits for its time; asks for a requeue then. */
static bool retry_pending(struct plan_ctx *ctx, struct plan_rel *rel, const char *hash)
{
    json_object *v = jkey(rel->status, "verification");
    int64_t at = jtime(v, "nextAttemptAt");

    if (!at || !streq(jstr(v, "policyHash"), hash) ||
        !streq(jstr(v, "image"), rel->in->spec->image) || at <= ctx->now)
        return false;
    requeue_at(ctx, at);
    return true;
}

static enum verify_state fail_release(struct plan_ctx *ctx, struct plan_rel *rel, const char *msg)
{
    rel_set_phase(ctx, rel, PHASE_FAILED, "VerificationFailed", "%s", msg);
    release_event(ctx, rel, true, "VerificationFailed", "%s", msg);
    return VERIFY_FAILED;
}

/* A verdict just reached for rel, recorded; says whether it may start. */
static enum verify_state judge(struct plan_ctx *ctx, struct plan_rel *rel, json_object *verdict,
                               const char *hash)
{
    const char *result = jstr(verdict, "result");

    record(ctx, rel, verdict, hash);
    if (streq(result, "Passed")) {
        release_event(ctx, rel, false, "Verified", "Verified %s", rel->in->spec->image);
        return VERIFY_GO;
    }
    if (streq(result, "Warned")) {
        release_event(ctx, rel, true, "VerificationWarning",
                      "Verification failed in warn mode, delivering anyway: %s",
                      verdict_message(verdict, "a policy in warn mode failed"));
        return VERIFY_GO;
    }
    return fail_release(ctx, rel, verdict_message(verdict, "verification failed"));
}

enum verify_state verify_release(struct plan_ctx *ctx, struct plan_rel *rel)
{
    char hash[65], id[320], msg[1024];
    const char *image = rel->in->spec->image;
    json_object *v = jkey(rel->status, "verification");

    if (!has_policies(rel)) {
        if (ctx->in->verify_unmatched_deny) {
            snprintf(msg, sizeof(msg), "no verification policy covers %s", image);
            json_object *nv = nn(ctx, json_object_new_object());
            jset_str(ctx, nv, "result", "Failed");
            jset_str(ctx, nv, "image", image);
            jset_str(ctx, nv, "message", msg);
            jset(ctx, rel->status, "verification", nv);
            return fail_release(ctx, rel, msg);
        }
        if (!streq(jstr(v, "result"), "NotRequired") || !streq(jstr(v, "image"), image)) {
            json_object *nv = nn(ctx, json_object_new_object());
            jset_str(ctx, nv, "result", "NotRequired");
            jset_str(ctx, nv, "image", image);
            jset(ctx, rel->status, "verification", nv);
        }
        return VERIFY_GO;
    }
    policy_hash(rel, hash);
    if (verdict_current(rel, hash) &&
        (streq(jstr(v, "result"), "Passed") || streq(jstr(v, "result"), "Warned")))
        return VERIFY_GO;

    gate_id(rel, "verify", id, sizeof(id));
    const struct tg_gate_result *res = result_for(ctx, id);
    if (res && res->rc == 0 && res->verification)
        return judge(ctx, rel, res->verification, hash);
    if (res) {
        retry_later(ctx, rel, hash, res, false, msg, sizeof(msg));
        rel_set_phase(ctx, rel, PHASE_VERIFYING, "RegistryUnreachable", "%s", msg);
        return VERIFY_WAIT;
    }
    if (!streq(rel_phase(rel), PHASE_VERIFYING)) {
        /* Say so first: the phase is written before the check runs. */
        if (!streq(jstr(v, "image"), image) || !streq(jstr(v, "policyHash"), hash))
            jset(ctx, rel->status, "verification", NULL);
        rel_set_phase(ctx, rel, PHASE_VERIFYING, "Verifying", "Verifying %s", image);
        requeue_at(ctx, ctx->now + 1);
        return VERIFY_WAIT;
    }
    if (retry_pending(ctx, rel, hash))
        return VERIFY_WAIT;
    ask(ctx, rel, "verify", false);
    return VERIFY_WAIT;
}

enum gate_state verify_recheck(struct plan_ctx *ctx, struct plan_flight *f)
{
    struct plan_rel *rel = f->rel;
    char hash[65], id[320], msg[1024];

    if (!rel || f->rollback || !rel->in->spec || rel->spec_changed || !has_policies(rel))
        return GATE_PASS;
    json_object *v = jkey(rel->status, "verification");
    int64_t until = time_parse_ms(jstr(v, "vulnerabilities.validUntil"));
    if (!until || until > ctx->now) {
        if (until)
            requeue_at(ctx, until);
        return GATE_PASS;
    }
    policy_hash(rel, hash);
    gate_id(rel, "recheck", id, sizeof(id));
    const struct tg_gate_result *res = result_for(ctx, id);
    if (res && res->rc == 0 && res->verification) {
        const char *result = jstr(res->verification, "result");
        record(ctx, rel, res->verification, hash);
        if (streq(result, "Passed") || streq(result, "Warned")) {
            release_event(ctx, rel, streq(result, "Warned"), "Reverified",
                          "Verified again before the final promotion: %s",
                          streq(result, "Passed") ? "passed"
                                                  : verdict_message(res->verification, "warned"));
            /* A verdict that is itself already stale cannot be re-checked forever. */
            if (time_parse_ms(jstr(res->verification, "vulnerabilities.validUntil")) <= ctx->now)
                jset(ctx, jkey(rel->status, "verification"), "vulnerabilities.validUntil", NULL);
            return GATE_PASS;
        }
        snprintf(msg, sizeof(msg), "Verification failed before the final promotion: %s",
                 verdict_message(res->verification, "verification failed"));
        release_event(ctx, rel, true, "VerificationFailed", "%s", msg);
        flight_end(ctx, f, PHASE_ROLLED_BACK, "VerificationFailed", msg);
        return GATE_STOPPED;
    }
    if (res) {
        retry_later(ctx, rel, hash, res, true, msg, sizeof(msg));
        rel_set_phase(ctx, rel, PHASE_PROGRESSING, "Reverifying", "%s", msg);
        return GATE_WAIT;
    }
    if (retry_pending(ctx, rel, hash))
        return GATE_WAIT;
    ask(ctx, rel, "recheck", true);
    rel_set_phase(ctx, rel, PHASE_PROGRESSING, "Reverifying",
                  "The vulnerability scan expired: verifying again before the final promotion");
    return GATE_WAIT;
}
