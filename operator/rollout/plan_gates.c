/*
 * Gates: analysis runs and smoke tests, the checks between a delivery's steps.
 *
 * A run is a named group of checks in the Release's status.analysis.runs (docs/api.md): an
 * analysis run holds metrics, a smoke run holds smoke tests. The planner cannot do I/O, so a
 * check that is due becomes a gate in the plan (a Prometheus query, two range queries, an HTTP
 * request); the reconciler runs the plan's gates and plans again with their results, and this
 * file records each result as a measurement and judges the run. Job smoke tests need no gate:
 * the planner creates the Job and reads its status like any other object.
 *
 * Timing: a metric's first measurement is due initialDelay after its run started, each next one
 * interval after the last (status nextAt); the planner asks to be requeued then. Measurements
 * are recorded in status with their value and result; only the last TG_GATE_KEEP are kept per
 * metric, while the counts (measured, failed, inconclusive, errors) are kept in full, so the
 * verdict never depends on what was trimmed.
 *
 * A run's outcome: Failed as soon as one gating metric (not dryRun) fails; Error when one
 * passed consecutiveErrorLimit; Inconclusive when one passed inconclusiveLimit; Successful
 * once every metric reached its count without any of those. The strategy decides what an
 * outcome does (gate_decide): Failed rolls back, Error rolls back or pauses (onError),
 * Inconclusive pauses until promote (continue) or abort.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/evaluate.h"
#include "analysis/mannwhitney.h"
#include "analysis/promql.h"
#include "rollout/plan_internal.h"
#include "util/buf.h"
#include "util/error.h"

#define TG_GATE_KEEP 10
#define QUERY_MAX    (64 * 1024)
#define VARS_MAX     48

/* ---- status helpers ------------------------------------------------------------------------- */

static json_object *array_at(struct plan_ctx *ctx, json_object *obj, const char *key)
{
    json_object *a = jkey(obj, key);

    if (a && json_object_is_type(a, json_type_array))
        return a;
    a = nn(ctx, json_object_new_array());
    if (a)
        json_object_object_add(obj, key, a);
    return a;
}

/* The entry named name in array arr, created (with name set) when create is true. */
static json_object *named(struct plan_ctx *ctx, json_object *arr, const char *name, bool create)
{
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (streq(jstr(e, "name"), name))
            return e;
    }
    if (!create || !arr)
        return NULL;
    json_object *e = nn(ctx, json_object_new_object());
    if (!e)
        return NULL;
    jset_str(ctx, e, "name", name);
    json_object_array_add(arr, e);
    return e;
}

json_object *gate_run_entry(struct plan_ctx *ctx, struct plan_rel *rel, const char *run,
                            bool create)
{
    if (!rel)
        return NULL;
    json_object *an = jkey(rel->status, "analysis");
    if (!an || !json_object_is_type(an, json_type_object)) {
        if (!create)
            return NULL;
        jset(ctx, rel->status, "analysis", json_object_new_object());
        an = jkey(rel->status, "analysis");
    }
    json_object *runs = create ? array_at(ctx, an, "runs") : jkey(an, "runs");
    if (runs && !json_object_is_type(runs, json_type_array))
        return NULL;
    json_object *e = named(ctx, runs, run, false);
    if (e || !create)
        return e;
    e = named(ctx, runs, run, true);
    jset_str(ctx, e, "phase", "Running");
    jset_time(ctx, e, "startedAt", ctx->now);
    return e;
}

/* Ends a run; metrics still measuring stop there (phase Stopped, no next measurement). */
static void run_finish(struct plan_ctx *ctx, json_object *run, const char *phase, const char *msg)
{
    json_object *metrics = jkey(run, "metrics");

    jset_str(ctx, run, "phase", phase);
    jset_time(ctx, run, "finishedAt", ctx->now);
    if (msg)
        jset_str(ctx, run, "message", msg);
    for (size_t i = 0; metrics && json_object_is_type(metrics, json_type_array) &&
                       i < json_object_array_length(metrics);
         i++) {
        json_object *m = json_object_array_get_idx(metrics, i);
        if (streq(jstr(m, "phase"), "Running")) {
            jset_str(ctx, m, "phase", "Stopped");
            jset(ctx, m, "nextAt", NULL);
        }
    }
}

void gate_stop_all(struct plan_ctx *ctx, struct plan_rel *rel)
{
    json_object *runs = rel ? jpath(rel->status, "analysis.runs") : NULL;

    for (size_t i = 0;
         runs && json_object_is_type(runs, json_type_array) && i < json_object_array_length(runs);
         i++) {
        json_object *run = json_object_array_get_idx(runs, i);
        if (streq(jstr(run, "phase"), "Running"))
            run_finish(ctx, run, "Stopped", "Stopped: the delivery ended");
    }
}

static enum gate_outcome outcome_of(const char *phase)
{
    if (streq(phase, "Successful"))
        return GATE_SUCCESSFUL;
    if (streq(phase, "Failed"))
        return GATE_FAILED;
    if (streq(phase, "Inconclusive"))
        return GATE_INCONCLUSIVE;
    if (streq(phase, "Error"))
        return GATE_ERROR;
    return GATE_RUNNING;
}

/* The run to go on with (created when new), or NULL with its outcome when it has ended. */
static json_object *run_open(struct plan_ctx *ctx, struct plan_flight *f, const char *name,
                             enum gate_outcome *done)
{
    json_object *run = gate_run_entry(ctx, f->rel, name, true);

    *done = run ? outcome_of(jstr(run, "phase")) : GATE_RUNNING;
    return run && *done == GATE_RUNNING ? run : NULL;
}

/* ---- variables ------------------------------------------------------------------------------ */

struct vars {
    struct tg_promql_var v[VARS_MAX];
    size_t n;
    char interval[32];
};

static void duration_text(int64_t ms, char *buf, size_t n)
{
    if (ms % 60000 == 0)
        snprintf(buf, n, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, n, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, n, "%lldms", (long long)ms);
}

static void vars_build(struct plan_ctx *ctx, struct plan_flight *f, const struct gate_vars *gv,
                       const struct tg_label *args, size_t n_args, int64_t interval_ms,
                       struct vars *out)
{
    const struct tg_release_spec *rs = f->rel ? f->rel->in->spec : NULL;

    out->n = 0;
    duration_text(interval_ms, out->interval, sizeof(out->interval));
#define VAR(k, val)                                                                                \
    do {                                                                                           \
        if (out->n < VARS_MAX) {                                                                   \
            out->v[out->n].name = (k);                                                             \
            out->v[out->n].value = (val) ? (val) : "";                                             \
            out->n++;                                                                              \
        }                                                                                          \
    } while (0)
    VAR("namespace", ctx->namespace);
    VAR("rollout", ctx->name);
    VAR("release", f->name);
    VAR("version", rs ? rs->version.text : "");
    VAR("track", gv->track);
    VAR("service", gv->service);
    VAR("interval", out->interval);
    for (size_t i = 0; i < n_args; i++)
        VAR(args[i].key, args[i].value);
#undef VAR
}

/*
 * Renders tmpl with vars into a new string, or NULL with the reason in why. Running out of
 * memory is not a problem of the template: it fails the whole plan (ctx->err, through nn), and
 * the callers then record nothing, so that no Error measurement or Failed smoke test reaches
 * the Release's status for it (found by tests/unit/test_oom.c).
 */
static char *render(struct plan_ctx *ctx, const char *tmpl, const struct vars *v, char *why,
                    size_t n)
{
    struct tg_buf b;
    char *out = NULL;
    int rc;

    tg_buf_init(&b, QUERY_MAX);
    rc = tg_promql_render(tmpl, v->v, v->n, &b);
    if (rc == 0)
        out = nn(ctx, b.data ? tg_buf_take(&b, NULL) : strdup(""));
    else if (rc == TG_ENOMEM)
        nn(ctx, NULL);
    else
        snprintf(why, n, "%s", tg_error_last());
    tg_buf_free(&b);
    return out;
}

/* ---- gates and results ---------------------------------------------------------------------- */

struct tg_gate *gate_push(struct plan_ctx *ctx, const char *id, enum tg_gate_kind kind)
{
    struct tg_plan *p = ctx->plan;

    if (p->n_gates == p->cap_gates) {
        size_t cap = p->cap_gates ? p->cap_gates * 2 : 4;
        struct tg_gate *g = realloc(p->gates, cap * sizeof(*g));
        if (!nn(ctx, g))
            return NULL;
        p->gates = g;
        p->cap_gates = cap;
    }
    struct tg_gate *g = &p->gates[p->n_gates++];
    memset(g, 0, sizeof(*g));
    g->kind = kind;
    g->id = nn(ctx, strdup(id));
    return g;
}

const struct tg_gate_result *result_for(struct plan_ctx *ctx, const char *id)
{
    for (size_t i = 0; i < ctx->in->n_results; i++) {
        if (streq(ctx->in->results[i].id, id))
            return &ctx->in->results[i];
    }
    return NULL;
}

/* ---- measurements --------------------------------------------------------------------------- */

static void tally_read(json_object *m, struct tg_metric_tally *t)
{
    t->measurements = (unsigned)jint(m, "count", 0);
    t->failures = (unsigned)jint(m, "failures", 0);
    t->inconclusives = (unsigned)jint(m, "inconclusives", 0);
    t->errors = (unsigned)jint(m, "errors", 0);
    t->consecutive_errors = (unsigned)jint(m, "consecutiveErrors", 0);
}

static void tally_write(struct plan_ctx *ctx, json_object *m, const struct tg_metric_tally *t)
{
    jset_int(ctx, m, "count", t->measurements);
    jset_int(ctx, m, "failures", t->failures);
    jset_int(ctx, m, "inconclusives", t->inconclusives);
    jset_int(ctx, m, "errors", t->errors);
    jset_int(ctx, m, "consecutiveErrors", t->consecutive_errors);
}

static json_object *number(double v)
{
    /* JSON has no NaN or infinities; status keeps them out. */
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

/* Appends a measurement entry to metric m, keeping the last TG_GATE_KEEP. Takes e. */
static void measurement_add(struct plan_ctx *ctx, json_object *m, json_object *e)
{
    json_object *arr = array_at(ctx, m, "measurements");

    if (!arr || !e) {
        json_object_put(e);
        return;
    }
    json_object_array_add(arr, e);
    size_t n = json_object_array_length(arr);
    if (n > TG_GATE_KEEP)
        json_object_array_del_idx(arr, 0, n - TG_GATE_KEEP);
}

/* The finite values of the only series of a range answer; -1 for several series. */
static long samples(const struct tg_prom_result *r, double **out)
{
    *out = NULL;
    if (!r || r->n_series == 0)
        return 0;
    if (r->n_series > 1)
        return -1;
    const struct tg_prom_series *s = &r->series[0];
    double *v = calloc(s->n ? s->n : 1, sizeof(*v));
    long n = 0;
    if (!v)
        return -2;
    for (size_t i = 0; i < s->n; i++) {
        if (isfinite(s->values[i]))
            v[n++] = s->values[i];
    }
    *out = v;
    return n;
}

/* Judges a baseline comparison; fills the measurement entry e. */
static enum tg_measurement judge_compare(struct plan_ctx *ctx, const struct tg_metric_spec *ms,
                                         const struct tg_gate_result *res, json_object *e,
                                         char *msg, size_t n)
{
    double *x = NULL, *y = NULL;
    long nx, ny;
    int rc;
    enum tg_measurement m;
    struct tg_mw_result mw;

    if (res->rc) {
        snprintf(msg, n, "%s", res->message ? res->message : tg_error_name(res->rc));
        return TG_MEASURE_ERROR;
    }
    nx = samples(res->answer, &x);
    ny = samples(res->baseline, &y);
    if (nx == -1 || ny == -1) {
        snprintf(msg, n, "the query returned several series; it must return one per track");
        m = TG_MEASURE_ERROR;
    } else if (nx < 0 || ny < 0) {
        nn(ctx, NULL); /* out of memory: the plan fails, record() records nothing */
        m = TG_MEASURE_ERROR;
    } else if (nx < 3 || ny < 3) {
        snprintf(msg, n, "no data: %ld canary and %ld baseline samples (3 each needed)", nx, ny);
        m = tg_metric_no_data(&ms->policy);
    } else if ((rc = tg_mw_test(x, (size_t)nx, y, (size_t)ny, ms->direction, &mw)) != 0) {
        if (rc == TG_ENOMEM)
            nn(ctx, NULL); /* as above */
        else
            snprintf(msg, n, "%s", tg_error_last());
        m = TG_MEASURE_ERROR;
    } else {
        double worse = mw.median_x, better = mw.median_y;
        if (ms->direction == TG_MW_LESS) {
            worse = mw.median_y;
            better = mw.median_x;
        }
        double ratio = better > 0 ? worse / better : (worse > 0 ? INFINITY : 1.0);
        if (ms->direction == TG_MW_TWO_SIDED) {
            double r2 = mw.median_x > 0 ? mw.median_y / mw.median_x : 1.0;
            if (r2 > ratio)
                ratio = r2;
        }
        bool significant = mw.p < 1.0 - ms->confidence;
        bool fail = significant && (!ms->has_max_median_ratio || ratio > ms->max_median_ratio);
        m = fail ? TG_MEASURE_FAIL : TG_MEASURE_PASS;
        jset(ctx, e, "value", number(mw.median_x));
        jset(ctx, e, "baseline", number(mw.median_y));
        jset(ctx, e, "pValue", number(mw.p));
        if (ms->has_max_median_ratio)
            snprintf(msg, n, "canary %.4g vs baseline %.4g (ratio %.3g, max %.3g), p=%.3g%s",
                     mw.median_x, mw.median_y, ratio, ms->max_median_ratio, mw.p,
                     significant ? "" : " (not significant)");
        else
            snprintf(msg, n, "canary %.4g vs baseline %.4g, p=%.3g%s", mw.median_x, mw.median_y,
                     mw.p, significant ? "" : " (not significant)");
    }
    free(x);
    free(y);
    return m;
}

static enum tg_measurement judge_query(struct plan_ctx *ctx, const struct tg_metric_spec *ms,
                                       const struct tg_gate_result *res, json_object *e, char *msg,
                                       size_t n)
{
    double value = NAN;
    enum tg_measurement m = tg_metric_measure(&ms->policy, res->rc, res->answer, &value);

    if (isfinite(value))
        jset(ctx, e, "value", number(value));
    switch (m) {
    case TG_MEASURE_ERROR:
        if (res->rc)
            snprintf(msg, n, "%s", res->message ? res->message : tg_error_name(res->rc));
        else
            snprintf(msg, n, "the query must return one number (a scalar or one series)");
        break;
    case TG_MEASURE_NO_DATA:
        snprintf(msg, n, "no data");
        break;
    default:
        if (!isfinite(value))
            snprintf(msg, n, "no data");
        else if (ms->policy.has_min && ms->policy.has_max)
            snprintf(msg, n, "%.4g (min %.4g, max %.4g)", value, ms->policy.min, ms->policy.max);
        else if (ms->policy.has_max)
            snprintf(msg, n, "%.4g (max %.4g)", value, ms->policy.max);
        else if (ms->policy.has_min)
            snprintf(msg, n, "%.4g (min %.4g)", value, ms->policy.min);
        else
            snprintf(msg, n, "%.4g", value);
        break;
    }
    return m;
}

/* Records res as metric m's next measurement, due again an interval later. Returns its verdict. */
static enum tg_verdict record(struct plan_ctx *ctx, const struct tg_metric_spec *ms, json_object *m,
                              const struct tg_gate_result *res)
{
    struct tg_metric_tally t;
    char msg[512] = "";
    char ts[40];
    json_object *e = nn(ctx, json_object_new_object());
    enum tg_measurement meas;

    if (!e)
        return TG_VERDICT_RUNNING;
    time_format(ctx->now, ts, sizeof(ts));
    jset_str(ctx, e, "at", ts);
    if (ms->compare == TG_COMPARE_BASELINE)
        meas = judge_compare(ctx, ms, res, e, msg, sizeof(msg));
    else
        meas = judge_query(ctx, ms, res, e, msg, sizeof(msg));
    if (ctx->err == TG_ENOMEM) {
        /*
         * Running out of memory while judging is not a measurement: recording it as an Error
         * would count against the analysis (and could pause or roll back the Release) for a
         * problem of this process. The plan fails instead and the next reconcile judges again
         * (found by tests/unit/test_oom.c).
         */
        json_object_put(e);
        return TG_VERDICT_RUNNING;
    }
    jset_str(ctx, e, "result", tg_measurement_name(meas));
    if (msg[0])
        jset_str(ctx, e, "message", msg);
    measurement_add(ctx, m, e);
    jset_time(ctx, m, "nextAt", ctx->now + ms->interval_ms);
    tally_read(m, &t);
    enum tg_verdict v = tg_metric_observe(&ms->policy, &t, meas);
    tally_write(ctx, m, &t);
    jset_str(ctx, m, "phase", tg_verdict_name(v));
    return v;
}

/* Pushes the gate for metric ms, or records a rendering problem as an error measurement. */
static void ask(struct plan_ctx *ctx, const struct tg_metric_spec *ms, json_object *m,
                const char *id, const struct vars *v, const struct vars *vbase)
{
    const struct tg_analysis_settings *as = &ctx->spec->analysis;
    char why[256] = "";
    char *q = render(ctx, ms->query, v, why, sizeof(why));
    char *qb = ms->compare == TG_COMPARE_BASELINE && q
                   ? render(ctx, ms->query, vbase, why, sizeof(why))
                   : NULL;

    if (ctx->err == TG_ENOMEM) {
        free(q);
        free(qb);
        return;
    }
    if (!q || (ms->compare == TG_COMPARE_BASELINE && !qb)) {
        struct tg_gate_result r = {.id = id, .rc = TG_EINVALID, .message = why};
        free(q);
        free(qb);
        record(ctx, ms, m, &r);
        return;
    }
    struct tg_gate *g =
        gate_push(ctx, id, ms->compare == TG_COMPARE_BASELINE ? TG_GATE_COMPARE : TG_GATE_QUERY);
    if (!g) {
        free(q);
        free(qb);
        return;
    }
    g->address = as->prometheus_address ? nn(ctx, strdup(as->prometheus_address)) : NULL;
    g->timeout_ms = (long)(as->prometheus_timeout_ms > 0 ? as->prometheus_timeout_ms : 10000);
    g->query = q;
    g->query_base = qb;
    if (ms->compare == TG_COMPARE_BASELINE) {
        g->end_ms = ctx->now;
        g->start_ms = ctx->now - ms->lookback_ms;
        g->step_ms = ms->step_ms > 0 ? ms->step_ms : 5000;
    }
}

/* ---- analysis runs -------------------------------------------------------------------------- */

/* A sentence on why metric m ended its run as it did, for the Release's message. */
static void metric_story(json_object *m, char *buf, size_t n)
{
    json_object *arr = jkey(m, "measurements");
    json_object *last =
        arr && json_object_is_type(arr, json_type_array) && json_object_array_length(arr) > 0
            ? json_object_array_get_idx(arr, json_object_array_length(arr) - 1)
            : NULL;
    const char *phase = jstr(m, "phase");
    const char *lm = jstr(last, "message");

    if (streq(phase, "Failed"))
        snprintf(buf, n, "%s = %s; %lld of %lld measurements failed", jstr(m, "name"),
                 lm ? lm : "?", (long long)jint(m, "failures", 0), (long long)jint(m, "count", 0));
    else if (streq(phase, "Error"))
        snprintf(buf, n, "%s: %lld query errors in a row: %s", jstr(m, "name"),
                 (long long)jint(m, "consecutiveErrors", 0), lm ? lm : "?");
    else if (streq(phase, "Inconclusive"))
        snprintf(buf, n, "%s inconclusive: %s", jstr(m, "name"), lm ? lm : "?");
    else
        snprintf(buf, n, "%s %s", jstr(m, "name"), phase ? phase : "?");
}

enum gate_outcome gate_analysis(struct plan_ctx *ctx, struct plan_flight *f, const char *run_name,
                                const struct tg_analysis *a, const struct gate_vars *gv)
{
    char id[600], story[700];
    enum gate_outcome worst = GATE_SUCCESSFUL, done;
    json_object *decider = NULL;
    json_object *run = run_open(ctx, f, run_name, &done);

    if (!run)
        return done;
    int64_t started = jtime(run, "startedAt");
    json_object *metrics = array_at(ctx, run, "metrics");
    for (size_t i = 0; i < a->n_metrics; i++) {
        const struct tg_metric_spec *ms = &a->metrics[i];
        json_object *m = named(ctx, metrics, ms->name, false);
        if (!m) {
            m = named(ctx, metrics, ms->name, true);
            jset_str(ctx, m, "phase", tg_verdict_name(TG_VERDICT_RUNNING));
            if (ms->policy.dry_run)
                jset(ctx, m, "dryRun", json_object_new_boolean(1));
            jset_time(ctx, m, "nextAt", started + ms->initial_delay_ms);
        }
        if (!m)
            continue;
        if (streq(jstr(m, "phase"), tg_verdict_name(TG_VERDICT_RUNNING))) {
            int64_t next = jtime(m, "nextAt");
            if (ctx->now >= next) {
                snprintf(id, sizeof(id), "%s/%s/%s", f->name, run_name, ms->name);
                const struct tg_gate_result *res = result_for(ctx, id);
                if (res) {
                    record(ctx, ms, m, res);
                } else {
                    struct vars v, vb = {.n = 0};
                    struct gate_vars base = *gv;
                    base.track = "baseline";
                    vars_build(ctx, f, gv, a->args, a->n_args, ms->interval_ms, &v);
                    if (ms->compare == TG_COMPARE_BASELINE)
                        vars_build(ctx, f, &base, a->args, a->n_args, ms->interval_ms, &vb);
                    ask(ctx, ms, m, id, &v, &vb);
                }
            }
        }
        const char *phase = jstr(m, "phase");
        if (streq(phase, tg_verdict_name(TG_VERDICT_RUNNING))) {
            requeue_at(ctx, jtime(m, "nextAt"));
            if (worst == GATE_SUCCESSFUL)
                worst = GATE_RUNNING;
            continue;
        }
        if (ms->policy.dry_run)
            continue;
        enum gate_outcome o = outcome_of(phase);
        /* The worst gating verdict decides: Failed, then Error, then Inconclusive. */
        static const int rank[] = {[GATE_SUCCESSFUL] = 0,
                                   [GATE_RUNNING] = 1,
                                   [GATE_INCONCLUSIVE] = 2,
                                   [GATE_ERROR] = 3,
                                   [GATE_FAILED] = 4};
        if (o != GATE_SUCCESSFUL && rank[o] > rank[worst]) {
            worst = o;
            decider = m;
        }
    }
    if (worst == GATE_RUNNING)
        return GATE_RUNNING;
    if (worst == GATE_SUCCESSFUL) {
        run_finish(ctx, run, "Successful", "Every metric passed");
        return GATE_SUCCESSFUL;
    }
    metric_story(decider, story, sizeof(story));
    static const char *const names[] = {
        [GATE_FAILED] = "Failed", [GATE_ERROR] = "Error", [GATE_INCONCLUSIVE] = "Inconclusive"};
    run_finish(ctx, run, names[worst], story);
    return worst;
}

/* Stops a run that is still measuring (the delivery moved on): its metrics keep their counts. */
void gate_stop(struct plan_ctx *ctx, struct plan_flight *f, const char *run_name,
               const char *message)
{
    json_object *run = gate_run_entry(ctx, f->rel, run_name, false);

    if (run && streq(jstr(run, "phase"), "Running"))
        run_finish(ctx, run, "Successful", message);
}

/* ---- smoke tests ---------------------------------------------------------------------------- */

static uint32_t fnv32(const char *s)
{
    uint32_t h = 2166136261u;
    while (s && *s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* A Job smoke test: makes the Job, then reads its outcome. Returns the test's phase. */
static const char *smoke_job(struct plan_ctx *ctx, struct plan_flight *f, const char *run_name,
                             const struct tg_smoke_test *t, json_object *e, int64_t started,
                             char *msg, size_t n)
{
    char name[64], key[700];

    snprintf(key, sizeof(key), "%s/%s/%s", f->name, run_name, t->name);
    snprintf(name, sizeof(name), "%.40s-smoke-%08x", ctx->name, fnv32(key));
    jset_str(ctx, e, "job", name);
    json_object *job = find_object(ctx, "Job", name);
    if (!job) {
        if (!t->job_template)
            return "Failed";
        json_object *body = nn(ctx, json_object_new_object());
        json_object *meta = our_metadata(ctx, name, TG_LABEL_RELEASE, f->name);
        json_object *spec = jcopy(ctx, jkey(t->job_template, "spec"));
        if (!body || !meta || !spec) {
            json_object_put(body);
            json_object_put(meta);
            json_object_put(spec);
            return "Running";
        }
        /* The template's labels (ours win) and annotations go on the Job. */
        json_object *tl = jpath(t->job_template, "metadata.labels");
        if (tl && json_object_is_type(tl, json_type_object)) {
            json_object_object_foreach(tl, lk, lv)
            {
                if (json_object_is_type(lv, json_type_string) && !jkey(jkey(meta, "labels"), lk))
                    jput_str(ctx, jkey(meta, "labels"), lk, json_object_get_string(lv));
            }
        }
        json_object *ta = jpath(t->job_template, "metadata.annotations");
        if (ta && json_object_is_type(ta, json_type_object))
            jset(ctx, meta, "annotations", jcopy(ctx, ta));
        jset_str(ctx, body, "apiVersion", "batch/v1");
        jset_str(ctx, body, "kind", "Job");
        jset(ctx, body, "metadata", meta);
        if (!jkey(spec, "activeDeadlineSeconds"))
            jset_int(ctx, spec, "activeDeadlineSeconds", (t->deadline_ms + 999) / 1000);
        if (!jkey(spec, "backoffLimit"))
            jset_int(ctx, spec, "backoffLimit", 0);
        if (!jstr(spec, "template.spec.restartPolicy") && jpath(spec, "template.spec"))
            jset_str(ctx, spec, "template.spec.restartPolicy", "Never");
        jset(ctx, body, "spec", spec);
        emit_create(ctx, body);
        snprintf(msg, n, "Job %s started", name);
        requeue_at(ctx, started + t->deadline_ms);
        return "Running";
    }
    if (jint(job, "status.succeeded", 0) >= 1) {
        snprintf(msg, n, "Job %s succeeded", name);
        return "Successful";
    }
    json_object *conds = jpath(job, "status.conditions");
    for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
                       i < json_object_array_length(conds);
         i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        if (streq(jstr(c, "type"), "Failed") && streq(jstr(c, "status"), "True")) {
            snprintf(msg, n, "Job %s failed: %s%s%s", name,
                     jstr(c, "reason") ? jstr(c, "reason") : "", jstr(c, "message") ? ": " : "",
                     jstr(c, "message") ? jstr(c, "message") : "");
            return "Failed";
        }
    }
    if (ctx->now >= started + t->deadline_ms) {
        snprintf(msg, n, "Job %s did not succeed within %llds", name,
                 (long long)(t->deadline_ms / 1000));
        return "Failed";
    }
    requeue_at(ctx, started + t->deadline_ms);
    snprintf(msg, n, "Job %s running", name);
    return "Running";
}

enum gate_outcome gate_smoke(struct plan_ctx *ctx, struct plan_flight *f, const char *run_name,
                             const struct gate_vars *gv)
{
    const struct tg_analysis_settings *as = &ctx->spec->analysis;
    char id[600], msg[512], why[256];
    bool running = false;
    json_object *failed = NULL;

    enum gate_outcome done;

    if (as->n_smoke_tests == 0 || f->rollback)
        return GATE_SUCCESSFUL;
    json_object *run = run_open(ctx, f, run_name, &done);
    if (!run)
        return done;
    int64_t started = jtime(run, "startedAt");
    json_object *tests = array_at(ctx, run, "smokeTests");
    for (size_t i = 0; i < as->n_smoke_tests; i++) {
        const struct tg_smoke_test *t = &as->smoke_tests[i];
        json_object *e = named(ctx, tests, t->name, false);
        if (!e) {
            e = named(ctx, tests, t->name, true);
            jset_str(ctx, e, "phase", "Running");
        }
        if (!e)
            continue;
        const char *phase = jstr(e, "phase");
        if (streq(phase, "Running")) {
            msg[0] = '\0';
            if (t->kind == TG_SMOKE_JOB) {
                phase = smoke_job(ctx, f, run_name, t, e, started, msg, sizeof(msg));
            } else {
                snprintf(id, sizeof(id), "%s/%s/%s", f->name, run_name, t->name);
                const struct tg_gate_result *res = result_for(ctx, id);
                if (res) {
                    phase = res->passed ? "Successful" : "Failed";
                    snprintf(msg, sizeof(msg), "%s",
                             res->message ? res->message : (res->passed ? "passed" : "failed"));
                } else {
                    struct vars v;
                    vars_build(ctx, f, gv, as->args, as->n_args, 0, &v);
                    char *url = render(ctx, t->url, &v, why, sizeof(why));
                    if (!url && ctx->err == TG_ENOMEM) {
                        /* The plan fails; the test stays Running. */
                    } else if (!url) {
                        phase = "Failed";
                        snprintf(msg, sizeof(msg), "the URL template: %s", why);
                    } else {
                        struct tg_gate *g = gate_push(ctx, id, TG_GATE_HTTP);
                        if (g) {
                            g->url = url;
                            g->method = nn(ctx, strdup(t->method ? t->method : "GET"));
                            g->body_pattern =
                                t->body_pattern ? nn(ctx, strdup(t->body_pattern)) : NULL;
                            g->expected_status = t->expected_status;
                            g->retries = t->retries;
                            g->timeout_ms = (long)t->timeout_ms;
                        } else {
                            free(url);
                        }
                    }
                }
            }
            if (!streq(phase, "Running")) {
                char ts[40];
                time_format(ctx->now, ts, sizeof(ts));
                jset_str(ctx, e, "at", ts);
            }
            jset_str(ctx, e, "phase", phase);
            if (msg[0])
                jset_str(ctx, e, "message", msg);
            phase = jstr(e, "phase");
        }
        if (streq(phase, "Running"))
            running = true;
        else if (streq(phase, "Failed") && !failed)
            failed = e;
    }
    if (failed) {
        snprintf(msg, sizeof(msg), "smoke test %s failed: %s", jstr(failed, "name"),
                 jstr(failed, "message") ? jstr(failed, "message") : "?");
        run_finish(ctx, run, "Failed", msg);
        return GATE_FAILED;
    }
    if (running)
        return GATE_RUNNING;
    run_finish(ctx, run, "Successful", "Every smoke test passed");
    return GATE_SUCCESSFUL;
}

/* ---- what an outcome does ------------------------------------------------------------------- */

enum gate_state gate_decide(struct plan_ctx *ctx, struct plan_flight *f, const char *run_name,
                            enum gate_outcome o, bool smoke, const char **reason)
{
    json_object *run = gate_run_entry(ctx, f->rel, run_name, false);
    const char *msg = jstr(run, "message");
    char text[900];

    switch (o) {
    case GATE_RUNNING:
        *reason = smoke ? "SmokeTests" : "Analysis";
        return GATE_WAIT;
    case GATE_SUCCESSFUL:
        return GATE_PASS;
    case GATE_FAILED:
        break;
    case GATE_ERROR:
        if (ctx->spec->analysis.on_error_rollback)
            break;
        __attribute__((fallthrough)); /* onError: pause */
    case GATE_INCONCLUSIVE:
        if (rollout_intent(ctx, TG_ANNOTATION_PROMOTE, "promote") ||
            rollout_intent(ctx, TG_ANNOTATION_PROMOTE_FULL, "promoteFull")) {
            rollout_event(ctx, false, "Promoted", "Promoted past %s (%s)", run_name,
                          o == GATE_ERROR ? "Error" : "Inconclusive");
            snprintf(text, sizeof(text), "Promoted by hand past %s: %s",
                     o == GATE_ERROR ? "an error" : "an inconclusive result", msg ? msg : "");
            jset_str(ctx, run, "phase", "Successful");
            jset_str(ctx, run, "message", text);
            return GATE_PASS;
        }
        *reason = o == GATE_ERROR ? "AnalysisError" : "AnalysisInconclusive";
        return GATE_HOLD;
    }
    const char *why = smoke             ? "SmokeTestFailed"
                      : o == GATE_ERROR ? "AnalysisError"
                                        : "AnalysisFailed";
    snprintf(text, sizeof(text), "%s %s: %s; all traffic is back on the stable Release",
             smoke ? "Smoke tests" : "Analysis", run_name, msg ? msg : "failed");
    release_event(ctx, f->rel, true, why, "%s", text);
    flight_end(ctx, f, PHASE_ROLLED_BACK, why, text);
    return GATE_STOPPED;
}
