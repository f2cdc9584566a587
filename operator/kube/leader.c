/*
 * Leader election as a pure state machine; see leader.h.
 *
 * State: the last observed record (the Lease's spec serialised, so any change of holder,
 * renewTime or anything else counts) with the monotonic time we first saw it, whether we lead
 * and since when our last successful write was planned, whether a write is in flight, and
 * whether we have stopped for good.
 */
#include "kube/leader.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"

struct tg_leader {
    struct tg_leader_config cfg; /* the names point at the copies below */
    char *identity;
    char *namespace;
    char *name;
    const struct tg_clock *clock;

    char *observed_record; /* the observed spec, serialised; NULL before the first */
    char *observed_holder; /* its holderIdentity; "" for none */
    uint64_t observed_ms;  /* when observed_record last changed, on our clock */
    bool leading;          /* a write naming us succeeded... */
    uint64_t renewed_ms;   /* ...planned at this time */
    bool pending;          /* a planned write (always naming us) is not reported yet */
    uint64_t pending_ms;   /* when it was planned */
    bool stopped;          /* we stopped leading, or released: final */
};

void tg_leader_config_default(struct tg_leader_config *c)
{
    c->identity = NULL;
    c->namespace = NULL;
    c->name = NULL;
    c->lease_duration_ms = TG_LEADER_DEFAULT_LEASE_DURATION_MS;
    c->renew_deadline_ms = TG_LEADER_DEFAULT_RENEW_DEADLINE_MS;
    c->retry_period_ms = TG_LEADER_DEFAULT_RETRY_PERIOD_MS;
}

static int check_config(const struct tg_leader_config *cfg)
{
    if (!cfg->identity || !*cfg->identity)
        return tg_error_set(TG_EINVALID, "leader election: identity is empty");
    if (!cfg->namespace || !*cfg->namespace || !cfg->name || !*cfg->name)
        return tg_error_set(TG_EINVALID, "leader election: lease namespace and name are needed");
    if (cfg->lease_duration_ms <= cfg->renew_deadline_ms)
        return tg_error_set(TG_EINVALID,
                            "leader election: lease duration %" PRIu64
                            " ms must be longer than the renew deadline %" PRIu64 " ms",
                            cfg->lease_duration_ms, cfg->renew_deadline_ms);
    if (cfg->retry_period_ms == 0 ||
        (double)cfg->renew_deadline_ms <= 1.2 * (double)cfg->retry_period_ms)
        return tg_error_set(TG_EINVALID,
                            "leader election: renew deadline %" PRIu64
                            " ms must be longer than 1.2 times the retry period %" PRIu64 " ms",
                            cfg->renew_deadline_ms, cfg->retry_period_ms);
    return 0;
}

int tg_leader_new(const struct tg_leader_config *cfg, const struct tg_clock *clock,
                  struct tg_leader **out)
{
    struct tg_leader *le;
    int rc;

    *out = NULL;
    rc = check_config(cfg);
    if (rc < 0)
        return rc;
    le = calloc(1, sizeof(*le));
    if (!le)
        goto fail;
    le->identity = strdup(cfg->identity);
    le->namespace = strdup(cfg->namespace);
    le->name = strdup(cfg->name);
    le->observed_holder = strdup("");
    if (!le->identity || !le->namespace || !le->name || !le->observed_holder)
        goto free_le;
    le->cfg = *cfg;
    le->cfg.identity = le->identity;
    le->cfg.namespace = le->namespace;
    le->cfg.name = le->name;
    le->clock = clock;
    *out = le;
    return 0;

free_le:
    tg_leader_free(le);
fail:
    return tg_error_set(TG_ENOMEM, "leader election: out of memory");
}

void tg_leader_free(struct tg_leader *le)
{
    if (!le)
        return;
    free(le->identity);
    free(le->namespace);
    free(le->name);
    free(le->observed_record);
    free(le->observed_holder);
    free(le);
}

char *tg_leader_format_microtime(int64_t wall_ms, char *buf, size_t size)
{
    time_t secs = (time_t)(wall_ms / 1000);
    long micros = (long)(wall_ms % 1000) * 1000;
    struct tm tm;
    char date[32];

    if (micros < 0) {
        secs -= 1;
        micros += 1000000;
    }
    if (!gmtime_r(&secs, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        date[0] = '\0';
    snprintf(buf, size, "%s.%06ldZ", date, micros);
    return buf;
}

/* ---- reading a Lease ---- */

/* The spec of a Lease, fields absent or of the wrong type read as zero values. */
struct record {
    json_object *spec; /* borrowed from the Lease; NULL when it has none */
    const char *holder;
    int64_t duration_s;
    int64_t transitions;
    const char *acquire_time; /* NULL when absent */
};

static const char *get_string(json_object *obj, const char *field)
{
    json_object *v;

    if (obj && json_object_object_get_ex(obj, field, &v) &&
        json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

static int64_t get_int(json_object *obj, const char *field)
{
    json_object *v;

    if (obj && json_object_object_get_ex(obj, field, &v) && json_object_is_type(v, json_type_int))
        return json_object_get_int64(v);
    return 0;
}

static void read_record(json_object *lease, struct record *r)
{
    json_object *spec = NULL;
    const char *holder;

    if (lease && json_object_is_type(lease, json_type_object) &&
        json_object_object_get_ex(lease, "spec", &spec) &&
        !json_object_is_type(spec, json_type_object))
        spec = NULL;
    r->spec = spec;
    holder = get_string(spec, "holderIdentity");
    r->holder = holder ? holder : "";
    r->duration_s = get_int(spec, "leaseDurationSeconds");
    r->transitions = get_int(spec, "leaseTransitions");
    r->acquire_time = get_string(spec, "acquireTime");
}

/* Records r as observed now if it differs from the last record seen. */
static int observe(struct tg_leader *le, const struct record *r, uint64_t now)
{
    const char *text =
        r->spec ? json_object_to_json_string_ext(r->spec, JSON_C_TO_STRING_PLAIN) : "";
    char *copy;
    char *holder;

    if (le->observed_record && strcmp(le->observed_record, text) == 0)
        return 0;
    copy = strdup(text);
    holder = strdup(r->holder);
    if (!copy || !holder) {
        free(copy);
        free(holder);
        return tg_error_set(TG_ENOMEM, "leader election: out of memory");
    }
    free(le->observed_record);
    free(le->observed_holder);
    le->observed_record = copy;
    le->observed_holder = holder;
    le->observed_ms = now;
    return 0;
}

/* ---- writing a Lease ---- */

static int set_field(json_object *obj, const char *field, json_object *v)
{
    if (!v || json_object_object_add(obj, field, v) < 0) {
        json_object_put(v);
        return TG_ENOMEM;
    }
    return 0;
}

/* Sets the spec fields of lease to a record held by holder. */
static int fill_spec(json_object *lease, const char *holder, int64_t duration_s,
                     const char *acquire_time, const char *renew_time, int64_t transitions)
{
    json_object *spec;

    if (!json_object_object_get_ex(lease, "spec", &spec) ||
        !json_object_is_type(spec, json_type_object)) {
        spec = json_object_new_object();
        if (set_field(lease, "spec", spec) < 0)
            return TG_ENOMEM;
    }
    if (set_field(spec, "holderIdentity", json_object_new_string(holder)) < 0 ||
        set_field(spec, "leaseDurationSeconds", json_object_new_int64(duration_s)) < 0 ||
        set_field(spec, "acquireTime", json_object_new_string(acquire_time)) < 0 ||
        set_field(spec, "renewTime", json_object_new_string(renew_time)) < 0 ||
        set_field(spec, "leaseTransitions", json_object_new_int64(transitions)) < 0)
        return TG_ENOMEM;
    return 0;
}

/* A new Lease object with our namespace and name and an empty spec. */
static json_object *new_lease(const struct tg_leader *le)
{
    json_object *lease = json_object_new_object();
    json_object *meta = json_object_new_object();

    if (!lease || !meta)
        goto fail;
    if (set_field(lease, "apiVersion", json_object_new_string("coordination.k8s.io/v1")) < 0 ||
        set_field(lease, "kind", json_object_new_string("Lease")) < 0 ||
        set_field(meta, "name", json_object_new_string(le->name)) < 0 ||
        set_field(meta, "namespace", json_object_new_string(le->namespace)) < 0)
        goto fail;
    if (set_field(lease, "metadata", meta) < 0)
        goto fail_lease;
    return lease;

fail:
    json_object_put(meta);
fail_lease:
    json_object_put(lease);
    return NULL;
}

/*
 * Builds the body: a copy of the observed Lease (keeping its resourceVersion, so that a
 * concurrent writer makes our update fail with a conflict) or a new one, with the given record.
 */
static json_object *build_lease(const struct tg_leader *le, json_object *observed,
                                const char *holder, int64_t duration_s, const char *acquire_time,
                                const char *renew_time, int64_t transitions)
{
    json_object *lease = NULL;

    if (observed && json_object_deep_copy(observed, &lease, NULL) < 0)
        return NULL;
    if (!observed)
        lease = new_lease(le);
    if (!lease)
        return NULL;
    if (fill_spec(lease, holder, duration_s, acquire_time, renew_time, transitions) < 0) {
        json_object_put(lease);
        return NULL;
    }
    return lease;
}

static int64_t duration_s(const struct tg_leader *le)
{
    return (int64_t)((le->cfg.lease_duration_ms + 999) / 1000);
}

/* ---- the machine ---- */

static uint64_t now(const struct tg_leader *le)
{
    return tg_clock_now_ms(le->clock);
}

static bool leading_at(const struct tg_leader *le, uint64_t t)
{
    return le->leading && t < le->renewed_ms + le->cfg.renew_deadline_ms;
}

bool tg_leader_is_leading(const struct tg_leader *le)
{
    return leading_at(le, now(le));
}

uint64_t tg_leader_deadline_ms(const struct tg_leader *le)
{
    return le->leading ? le->renewed_ms + le->cfg.renew_deadline_ms : TG_LEADER_NEVER;
}

const char *tg_leader_observed_holder(const struct tg_leader *le)
{
    return le->observed_holder;
}

static void stop(struct tg_leader *le, struct tg_leader_plan *plan)
{
    le->leading = false;
    le->stopped = true;
    le->pending = false;
    plan->action = TG_LEADER_STOP;
    plan->next_ms = TG_LEADER_NEVER;
}

/* When to step next: a retry period from now, or the renew deadline if that comes first. */
static uint64_t next_step(const struct tg_leader *le, uint64_t t)
{
    uint64_t next = t + le->cfg.retry_period_ms;
    uint64_t deadline = tg_leader_deadline_ms(le);

    return deadline < next ? deadline : next;
}

/* Plans a write of a record naming us, taking over (transitions + 1) or renewing. */
static int plan_write(struct tg_leader *le, json_object *observed, const struct record *r,
                      uint64_t t, struct tg_leader_plan *plan)
{
    char stamp[40];
    bool renewing = observed && strcmp(r->holder, le->identity) == 0;
    const char *acquire;
    int64_t transitions;

    tg_leader_format_microtime(tg_clock_wall_ms(le->clock), stamp, sizeof(stamp));
    acquire = renewing && r->acquire_time ? r->acquire_time : stamp;
    transitions = !observed ? 0 : renewing ? r->transitions : r->transitions + 1;
    plan->lease =
        build_lease(le, observed, le->identity, duration_s(le), acquire, stamp, transitions);
    if (!plan->lease)
        return tg_error_set(TG_ENOMEM, "leader election: out of memory building the lease");
    plan->action = observed ? TG_LEADER_UPDATE : TG_LEADER_CREATE;
    le->pending = true;
    le->pending_ms = t;
    return 0;
}

int tg_leader_step(struct tg_leader *le, json_object *observed, struct tg_leader_plan *plan)
{
    uint64_t t = now(le);
    struct record r;
    uint64_t valid_for;
    int rc;

    plan->action = TG_LEADER_WAIT;
    plan->lease = NULL;
    plan->next_ms = TG_LEADER_NEVER;
    if (le->stopped)
        return 0;
    if (le->leading && !leading_at(le, t)) {
        stop(le, plan);
        return 0;
    }
    if (observed && !json_object_is_type(observed, json_type_object)) {
        rc = tg_error_set(TG_EINVALID, "leader election: the observed Lease is not an object");
        goto wait;
    }
    read_record(observed, &r);
    rc = observe(le, &r, t);
    if (rc < 0)
        goto wait;
    if (observed && *r.holder && strcmp(r.holder, le->identity) != 0) {
        if (le->leading) {
            stop(le, plan);
            return 0;
        }
        valid_for = r.duration_s > 0 ? (uint64_t)r.duration_s * 1000 : le->cfg.lease_duration_ms;
        if (t < le->observed_ms + valid_for)
            goto wait;
    }
    rc = plan_write(le, observed, &r, t, plan);
wait:
    plan->next_ms = next_step(le, t);
    return rc;
}

void tg_leader_written(struct tg_leader *le, int rc, json_object *written)
{
    struct record r;

    if (!le->pending)
        return;
    le->pending = false;
    /* A leader past its renew deadline has lost; a late success does not bring it back. */
    if (rc < 0 || le->stopped || (le->leading && !leading_at(le, now(le))))
        return;
    if (written && json_object_is_type(written, json_type_object)) {
        read_record(written, &r);
        /* What we wrote is the record we now observe; if that fails we simply see it anew. */
        (void)observe(le, &r, now(le));
        if (strcmp(r.holder, le->identity) != 0)
            return;
    }
    le->leading = true;
    le->renewed_ms = le->pending_ms;
}

int tg_leader_release(struct tg_leader *le, json_object *observed, struct tg_leader_plan *plan)
{
    char stamp[40];
    struct record r;

    plan->action = TG_LEADER_WAIT;
    plan->lease = NULL;
    plan->next_ms = TG_LEADER_NEVER;
    le->leading = false;
    le->stopped = true;
    le->pending = false;
    if (!observed || !json_object_is_type(observed, json_type_object))
        return 0;
    read_record(observed, &r);
    if (strcmp(r.holder, le->identity) != 0)
        return 0;
    tg_leader_format_microtime(tg_clock_wall_ms(le->clock), stamp, sizeof(stamp));
    plan->lease = build_lease(le, observed, "", 1, stamp, stamp, r.transitions);
    if (!plan->lease)
        return tg_error_set(TG_ENOMEM, "leader election: out of memory building the lease");
    plan->action = TG_LEADER_UPDATE;
    return 0;
}
