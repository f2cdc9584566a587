/* Intent tokens, annotation patches and the checks before writing them; see intent.h. */
#include "cli/intent.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/jutil.h"
#include "cli/render.h"
#include "util/error.h"

int tg_cli_token(int64_t wall_ms, uint64_t random, char *buf, size_t size)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    char when[32];

    if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return tg_error_set(TG_EINVALID, "cannot format the time %lld", (long long)wall_ms);
    int n = snprintf(buf, size, "%s-%016llx", when, (unsigned long long)random);
    if (n < 0 || (size_t)n >= size)
        return tg_error_set(TG_EINVALID, "token buffer too small");
    return 0;
}

int tg_cli_annotation_patch(const char *const *kv, size_t n, json_object **out)
{
    json_object *patch = json_object_new_object();
    json_object *meta = json_object_new_object();
    json_object *ann = json_object_new_object();

    if (!patch || !meta || !ann)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        json_object *v = NULL;
        if (kv[2 * i + 1] && !(v = json_object_new_string(kv[2 * i + 1])))
            goto nomem;
        if (json_object_object_add(ann, kv[2 * i], v) != 0) {
            json_object_put(v);
            goto nomem;
        }
    }
    if (json_object_object_add(meta, "annotations", ann) != 0)
        goto nomem;
    ann = NULL;
    if (json_object_object_add(patch, "metadata", meta) != 0)
        goto nomem;
    *out = patch;
    return 0;
nomem:
    json_object_put(ann);
    json_object_put(meta);
    json_object_put(patch);
    return tg_error_set(TG_ENOMEM, "out of memory building a patch");
}

const char *tg_cli_release_in_flight(json_object *rollout)
{
    return tg_cli_jstr(tg_cli_jget(rollout, "status.currentRelease"));
}

static bool phase_is(json_object *obj, const char *phase)
{
    const char *p = tg_cli_jstr(tg_cli_jget(obj, "status.phase"));
    return p && strcmp(p, phase) == 0;
}

/* Whether the canary's current step is a pause. */
static bool at_pause_step(json_object *rollout)
{
    json_object *steps = tg_cli_jget(rollout, "spec.strategy.canary.steps");
    int64_t cur = tg_cli_jint(tg_cli_jget(rollout, "status.currentStep"), -1);

    if (!steps || !json_object_is_type(steps, json_type_array) || cur < 0 ||
        (size_t)cur >= json_object_array_length(steps))
        return false;
    return tg_cli_jget(json_object_array_get_idx(steps, (size_t)cur), "pause") != NULL;
}

int tg_cli_check_promote(json_object *rollout, bool full)
{
    const char *current = tg_cli_release_in_flight(rollout);

    if (!current)
        return tg_error_set(TG_EINVALID, "nothing to promote: no Release in flight");
    if (full || tg_cli_jget(rollout, "spec.strategy.blueGreen"))
        return 0;
    if (!phase_is(rollout, "Paused") && !at_pause_step(rollout))
        return tg_error_set(TG_EINVALID,
                            "nothing to promote: release %s is not paused (use --full to skip "
                            "the remaining steps)",
                            current);
    return 0;
}

/* Whether a Release's phase says its delivery is over. */
static bool finished(json_object *release)
{
    static const char *const done[] = {"Succeeded", "Failed", "RolledBack", "Superseded"};
    const char *p = tg_cli_jstr(tg_cli_jget(release, "status.phase"));

    for (size_t i = 0; p && i < sizeof(done) / sizeof(done[0]); i++) {
        if (strcmp(p, done[i]) == 0)
            return true;
    }
    return false;
}

int tg_cli_check_abort(json_object *rollout, json_object *release)
{
    const char *current = tg_cli_release_in_flight(rollout);

    if (!current)
        return tg_error_set(TG_EINVALID, "nothing to abort: no Release in flight");
    if (!release)
        return tg_error_set(TG_ENOTFOUND, "nothing to abort: release %s (in flight) not found",
                            current);
    if (finished(release))
        return tg_error_set(TG_EINVALID, "nothing to abort: release %s is already %s", current,
                            tg_cli_jstr(tg_cli_jget(release, "status.phase")));
    return 0;
}

/* Whether a Release belongs to the Rollout named rollout. */
static bool belongs(json_object *release, const char *rollout)
{
    const char *r = tg_cli_jstr(tg_cli_jget(release, "spec.rollout"));
    return r && rollout && strcmp(r, rollout) == 0;
}

json_object *tg_cli_latest_release(json_object *releases, const char *rollout)
{
    json_object *best = NULL;
    int64_t best_t = 0;

    if (!releases || !json_object_is_type(releases, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(releases); i++) {
        json_object *r = json_object_array_get_idx(releases, i);
        int64_t t = 0;
        if (!belongs(r, rollout))
            continue;
        if (!tg_cli_parse_time(tg_cli_jstr(tg_cli_jget(r, "metadata.creationTimestamp")), &t))
            t = 0;
        const char *name = tg_cli_or(tg_cli_jstr(tg_cli_jget(r, "metadata.name")), "");
        const char *best_name =
            best ? tg_cli_or(tg_cli_jstr(tg_cli_jget(best, "metadata.name")), "") : "";
        if (!best || t > best_t || (t == best_t && strcmp(name, best_name) > 0)) {
            best = r;
            best_t = t;
        }
    }
    return best;
}

int tg_cli_check_retry(json_object *rollout, json_object *latest)
{
    (void)rollout;
    if (!latest)
        return tg_error_set(TG_EINVALID, "nothing to retry: the rollout has no Release");
    const char *name = tg_cli_or(tg_cli_jstr(tg_cli_jget(latest, "metadata.name")), "?");
    if (!phase_is(latest, "RolledBack") && !phase_is(latest, "Failed"))
        return tg_error_set(
            TG_EINVALID, "nothing to retry: the latest release %s is %s, not RolledBack or Failed",
            name, tg_cli_or(tg_cli_jstr(tg_cli_jget(latest, "status.phase")), "Pending"));
    return 0;
}

/* Whether the Rollout's history records name as Succeeded. */
static bool succeeded_in_history(json_object *rollout, const char *name)
{
    json_object *hist = tg_cli_jget(rollout, "status.history");

    if (!hist || !json_object_is_type(hist, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(hist); i++) {
        json_object *h = json_object_array_get_idx(hist, i);
        const char *r = tg_cli_jstr(tg_cli_jget(h, "release"));
        const char *res = tg_cli_jstr(tg_cli_jget(h, "result"));
        if (r && res && strcmp(res, "Succeeded") == 0 && (!name || strcmp(r, name) == 0))
            return true;
    }
    return false;
}

/* Whether there is a Succeeded Release other than stable, in history or in releases. */
static bool has_rollback_target(json_object *rollout, json_object *releases, const char *stable,
                                const char *name)
{
    json_object *hist = tg_cli_jget(rollout, "status.history");

    for (size_t i = 0;
         hist && json_object_is_type(hist, json_type_array) && i < json_object_array_length(hist);
         i++) {
        json_object *h = json_object_array_get_idx(hist, i);
        const char *r = tg_cli_jstr(tg_cli_jget(h, "release"));
        const char *res = tg_cli_jstr(tg_cli_jget(h, "result"));
        if (r && res && strcmp(res, "Succeeded") == 0 && (!stable || strcmp(r, stable) != 0))
            return true;
    }
    for (size_t i = 0; releases && json_object_is_type(releases, json_type_array) &&
                       i < json_object_array_length(releases);
         i++) {
        json_object *r = json_object_array_get_idx(releases, i);
        const char *n = tg_cli_jstr(tg_cli_jget(r, "metadata.name"));
        if (n && belongs(r, name) && phase_is(r, "Succeeded") && (!stable || strcmp(n, stable)))
            return true;
    }
    return false;
}

int tg_cli_check_rollback(json_object *rollout, const char *to_name, json_object *to,
                          json_object *releases)
{
    const char *name = tg_cli_jstr(tg_cli_jget(rollout, "metadata.name"));
    const char *stable = tg_cli_jstr(tg_cli_jget(rollout, "status.stableRelease"));

    if (!to_name) {
        if (!has_rollback_target(rollout, releases, stable, name))
            return tg_error_set(TG_EINVALID, "nothing to roll back to: no Succeeded release "
                                             "other than the stable one");
        return 0;
    }
    if (!to)
        return tg_error_set(TG_ENOTFOUND, "release %s not found", to_name);
    if (!belongs(to, name))
        return tg_error_set(TG_EINVALID, "release %s belongs to rollout %s, not %s", to_name,
                            tg_cli_or(tg_cli_jstr(tg_cli_jget(to, "spec.rollout")), "?"),
                            tg_cli_or(name, "?"));
    if (!phase_is(to, "Succeeded") && !succeeded_in_history(rollout, to_name))
        return tg_error_set(TG_EINVALID, "cannot roll back to release %s: it is %s, not Succeeded",
                            to_name,
                            tg_cli_or(tg_cli_jstr(tg_cli_jget(to, "status.phase")), "Pending"));
    if (stable && strcmp(stable, to_name) == 0 && !tg_cli_release_in_flight(rollout))
        return tg_error_set(TG_EINVALID, "release %s is already the stable release", to_name);
    return 0;
}
