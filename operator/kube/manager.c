/* The operator's runtime on one loop; see manager.h. */
#include "kube/manager.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/controller.h"
#include "kube/event_writer.h"
#include "kube/leader.h"
#include "kube/queue.h"
#include "server/metrics.h"
#include "server/server.h"
#include "util/error.h"
#include "util/log.h"

#define MAX_REFLECTORS     16
#define MAX_CONTROLLERS    8
#define SHUTDOWN_POLL_MS   20
#define SYNC_POLL_MS       10
#define RELEASE_TIMEOUT_MS 1000

static const struct tg_resource lease_resource = {"coordination.k8s.io", "v1", "leases", true};
static const struct tg_resource event_resource = {"", "v1", "events", true};

enum state {
    STATE_NEW,       /* made, not started */
    STATE_RUNNING,   /* serving and (if leading) dispatching */
    STATE_DRAINING,  /* shutting down: reconciles in flight get the grace period */
    STATE_RELEASING, /* giving the Lease up */
    STATE_CLOSING,   /* handles closing; the loop ends when they have */
};

struct tg_manager {
    uv_loop_t *loop;
    const struct tg_clock *clock;
    struct tg_manager_options opt;
    char *lease_namespace;
    char *lease_name;
    char *identity;
    char *listen_addr;

    struct tg_client *client;
    struct tg_reflector *reflectors[MAX_REFLECTORS];
    size_t n_reflectors;
    struct tg_controller *controllers[MAX_CONTROLLERS];
    size_t n_controllers;
    struct tg_events *events;
    struct tg_event_writer *event_writer;
    struct tg_leader *leader;
    struct tg_server *server;
    struct tg_server_route routes[3];

    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t leader_timer;   /* the next leader-election step */
    uv_timer_t deadline_timer; /* the instant leadership lapses unless renewed */
    uv_timer_t drain_timer;    /* polls in-flight reconciles during shutdown */
    uv_check_t release_check;  /* drops the caches' parsed objects after each loop turn */
    uv_timer_t sync_timer;     /* polls the caches until they have synced */
    bool handles_open;

    enum state state;
    bool leading;
    bool dispatching;                  /* leading and synced: the controllers take keys */
    bool first_pass_trimmed;           /* the heap was trimmed after the first reconcile pass */
    struct tg_client_call *lease_call; /* the Lease GET or write in flight, or NULL */
    json_object *lease;                /* the Lease as last read or written, or NULL */
    uint64_t drain_deadline_ms;
    int exit_code;
    void (*on_shutdown)(void *arg); /* tg_manager_on_shutdown */
    void *on_shutdown_arg;
    int (*extra_metrics)(void *ctx, struct tg_buf *out); /* tg_manager_add_metrics */
    void *extra_metrics_ctx;
};

static void on_sync_poll(uv_timer_t *t);

static void set_dispatch(struct tg_manager *m, bool on)
{
    for (size_t i = 0; i < m->n_controllers; i++)
        tg_controller_set_dispatch(m->controllers[i], on);
}

/*
 * Reconciles start only once we lead AND every cache has synced, as controller-runtime's
 * WaitForCacheSync: a reconcile on a half-filled cache would see objects as missing and try to
 * create them again.
 */
static void maybe_dispatch(struct tg_manager *m)
{
    if (m->state != STATE_RUNNING || !m->leading || m->dispatching)
        return;
    if (!tg_manager_synced(m)) {
        if (!uv_is_active((uv_handle_t *)&m->sync_timer))
            uv_timer_start(&m->sync_timer, on_sync_poll, SYNC_POLL_MS, SYNC_POLL_MS);
        return;
    }
    uv_timer_stop(&m->sync_timer);
    m->dispatching = true;
    /*
     * The lists are done: their pages were parsed and freed, and glibc keeps the freed heap
     * mapped. Give it back to the system (the cache itself is long-lived compact text).
     */
    malloc_trim(0);
    tg_log(TG_LOG_INFO, "caches synced; reconciling");
    set_dispatch(m, true);
}

static void on_sync_poll(uv_timer_t *t)
{
    maybe_dispatch(t->data);
}

/* ---- leader election ---------------------------------------------------------------------- */

static void leader_tick(uv_timer_t *t);

static void schedule_leader(struct tg_manager *m, uint64_t at_ms)
{
    uint64_t now = tg_clock_now_ms(m->clock);

    if (m->state != STATE_RUNNING)
        return;
    uv_timer_start(&m->leader_timer, leader_tick, at_ms > now ? at_ms - now : 0, 0);
}

static void lost_leadership(struct tg_manager *m, const char *why)
{
    if (!m->leading)
        return;
    m->leading = false;
    m->dispatching = false;
    set_dispatch(m, false);
    tg_log(TG_LOG_ERROR, "lost leadership; exiting for a restart", "reason", why, "lease",
           m->lease_name);
    tg_manager_shutdown(m, 1);
}

static void on_deadline(uv_timer_t *t)
{
    struct tg_manager *m = t->data;

    if (m->leading && !tg_leader_is_leading(m->leader))
        lost_leadership(m, "renew deadline passed");
}

static void keep_lease(struct tg_manager *m, json_object *lease)
{
    if (m->lease)
        json_object_put(m->lease);
    m->lease = lease ? json_object_get(lease) : NULL;
}

static void on_lease_written(const struct tg_client_result *res, void *arg)
{
    struct tg_manager *m = arg;

    m->lease_call = NULL;
    if (res->rc == TG_ECANCELED)
        return;
    tg_leader_written(m->leader, res->rc, res->rc == 0 ? res->body : NULL);
    if (res->rc == 0)
        keep_lease(m, res->body);
    else
        tg_log(TG_LOG_WARN, "lease write failed", "lease", m->lease_name, "error",
               tg_error_name(res->rc), "message", res->message);
    if (tg_leader_is_leading(m->leader)) {
        if (!m->leading) {
            m->leading = true;
            tg_log(TG_LOG_INFO, "became leader", "lease", m->lease_name, "identity", m->identity);
            set_dispatch(m, true);
        }
        uint64_t deadline = tg_leader_deadline_ms(m->leader);
        uint64_t now = tg_clock_now_ms(m->clock);
        uv_timer_start(&m->deadline_timer, on_deadline, deadline > now ? deadline - now : 0, 0);
    }
    schedule_leader(m, tg_clock_now_ms(m->clock) + m->opt.retry_period_ms);
}

static void on_lease_read(const struct tg_client_result *res, void *arg)
{
    struct tg_manager *m = arg;
    struct tg_leader_plan plan = {0};
    json_object *observed = NULL;
    int rc;

    m->lease_call = NULL;
    if (res->rc == TG_ECANCELED || m->state != STATE_RUNNING)
        return;
    if (res->rc == 0) {
        observed = res->body;
        keep_lease(m, observed);
    } else if (res->rc != TG_ENOTFOUND) {
        tg_log(TG_LOG_WARN, "cannot read the lease", "lease", m->lease_name, "error",
               tg_error_name(res->rc), "message", res->message);
        on_deadline(&m->deadline_timer);
        schedule_leader(m, tg_clock_now_ms(m->clock) + m->opt.retry_period_ms);
        return;
    }
    rc = tg_leader_step(m->leader, observed, &plan);
    if (rc)
        tg_log(TG_LOG_WARN, "leader election step failed", "error", tg_error_name(rc), "message",
               tg_error_last());
    switch (plan.action) {
    case TG_LEADER_STOP:
        lost_leadership(m, tg_leader_observed_holder(m->leader)[0] ? "another holder"
                                                                   : "renewal failed");
        break;
    case TG_LEADER_CREATE:
        rc = tg_client_create(m->client, &lease_resource, m->lease_namespace, plan.lease,
                              on_lease_written, m, &m->lease_call);
        break;
    case TG_LEADER_UPDATE:
        rc = tg_client_update(m->client, &lease_resource, m->lease_namespace, m->lease_name, NULL,
                              plan.lease, on_lease_written, m, &m->lease_call);
        break;
    case TG_LEADER_WAIT:
        schedule_leader(m, plan.next_ms);
        break;
    }
    if ((plan.action == TG_LEADER_CREATE || plan.action == TG_LEADER_UPDATE) && rc) {
        tg_leader_written(m->leader, rc, NULL);
        schedule_leader(m, tg_clock_now_ms(m->clock) + m->opt.retry_period_ms);
    }
    if (plan.lease)
        json_object_put(plan.lease);
}

static void leader_tick(uv_timer_t *t)
{
    struct tg_manager *m = t->data;

    if (m->state != STATE_RUNNING || m->lease_call)
        return;
    if (tg_client_get(m->client, &lease_resource, m->lease_namespace, m->lease_name, on_lease_read,
                      m, &m->lease_call))
        schedule_leader(m, tg_clock_now_ms(m->clock) + m->opt.retry_period_ms);
}

/* ---- events ------------------------------------------------------------------------------- */

/* One write of the Event writer through the client. */
struct event_call {
    tg_event_write_done done;
    void *arg;
};

static void on_event_written(const struct tg_client_result *res, void *arg)
{
    struct event_call *call = arg;

    call->done(call->arg, res->rc, res->message);
    free(call);
}

/* A call record for one write, or an error while shutting down or out of memory. */
static int event_call_new(struct tg_manager *m, tg_event_write_done done, void *arg,
                          struct event_call **out)
{
    if (m->state != STATE_RUNNING)
        return tg_error_set(TG_ECANCELED, "shutting down");
    if (!(*out = malloc(sizeof(**out))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    (*out)->done = done;
    (*out)->arg = arg;
    return 0;
}

static int event_create(void *ctx, const char *ns, json_object *event, tg_event_write_done done,
                        void *arg)
{
    struct tg_manager *m = ctx;
    struct event_call *call;
    int rc = event_call_new(m, done, arg, &call);

    if (rc)
        return rc;
    if ((rc =
             tg_client_create(m->client, &event_resource, ns, event, on_event_written, call, NULL)))
        free(call);
    return rc;
}

static int event_patch(void *ctx, const char *ns, const char *name, json_object *patch,
                       tg_event_write_done done, void *arg)
{
    struct tg_manager *m = ctx;
    struct event_call *call;
    int rc = event_call_new(m, done, arg, &call);

    if (rc)
        return rc;
    if ((rc = tg_client_patch(m->client, &event_resource, ns, name, NULL, TG_PATCH_MERGE, patch,
                              NULL, on_event_written, call, NULL)))
        free(call);
    return rc;
}

static const char *field(json_object *obj, const char *a, const char *b)
{
    json_object *v = json_object_object_get(obj, a);

    if (b)
        v = json_object_object_get(v, b);
    return v ? json_object_get_string(v) : NULL;
}

void tg_manager_event(struct tg_manager *m, json_object *obj, enum tg_event_type type,
                      const char *reason, const char *message)
{
    struct tg_event_object ref = {
        .kind = field(obj, "kind", NULL),
        .namespace = field(obj, "metadata", "namespace"),
        .name = field(obj, "metadata", "name"),
        .uid = field(obj, "metadata", "uid"),
        .api_version = field(obj, "apiVersion", NULL),
        .resource_version = field(obj, "metadata", "resourceVersion"),
    };
    struct tg_event_plan plan = {0};

    if (m->state != STATE_RUNNING)
        return;
    if (tg_events_record(m->events, &ref, type, reason, message, &plan)) {
        tg_log(TG_LOG_WARN, "cannot record an event", "reason", reason, "message", tg_error_last());
        return;
    }
    if (tg_event_writer_write(m->event_writer, &plan))
        tg_log(TG_LOG_WARN, "cannot write an event", "reason", reason, "message", tg_error_last());
    tg_event_plan_release(&plan);
}

/* ---- HTTP routes -------------------------------------------------------------------------- */

static int render_healthz(void *ctx, struct tg_buf *body, const char **ctype)
{
    (void)ctx;
    (void)ctype;
    tg_buf_append_str(body, "ok\n");
    return 200;
}

static int render_readyz(void *ctx, struct tg_buf *body, const char **ctype)
{
    struct tg_manager *m = ctx;

    (void)ctype;
    if (m->state != STATE_RUNNING) {
        tg_buf_append_str(body, "shutting down\n");
        return 503;
    }
    if (!tg_manager_synced(m)) {
        tg_buf_append_str(body, "caches not synced\n");
        return 503;
    }
    tg_buf_append_str(body, m->leading ? "ok: leading\n" : "ok: standing by\n");
    return 200;
}

struct count_ctx {
    struct tg_buf *out;
    int rc;
};

static void write_request_count(enum tg_verb verb, long status, uint64_t n, void *arg)
{
    struct count_ctx *cc = arg;
    char labels[64];

    if (cc->rc)
        return;
    snprintf(labels, sizeof(labels), "verb=\"%s\",code=\"%ld\"", tg_verb_name(verb), status);
    cc->rc = tg_metrics_sample(cc->out, "tollgate_api_requests_total", labels, (double)n);
}

static int reflector_metrics(struct tg_manager *m, struct tg_buf *out)
{
    static const struct {
        const char *name;
        const char *type;
        const char *help;
    } fam[] = {
        {"tollgate_watch_restarts_total", "counter", "Watches resumed after they ended."},
        {"tollgate_relists_total", "counter", "Full relists after the cache had synced (410)."},
        {"tollgate_watch_events_total", "counter", "Watch events applied to the cache."},
        {"tollgate_cache_objects", "gauge", "Objects held in the shared cache."},
        {"tollgate_cache_synced", "gauge", "Whether the cache has synced (1) or not (0)."},
        {"tollgate_cache_text_bytes", "gauge", "JSON text of the cached objects, uncompressed."},
        {"tollgate_cache_stored_bytes", "gauge",
         "Bytes the cache holds for that text (compressed objects count compressed)."},
        {"tollgate_resource_served", "gauge",
         "Whether the API server serves the resource (0: an optional API, such as Gateway API, "
         "is not installed)."},
    };
    int rc = 0;

    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]) && !rc; f++) {
        rc = tg_metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < m->n_reflectors && !rc; i++) {
            struct tg_reflector *r = m->reflectors[i];
            struct tg_informer_stats st;
            struct tg_cache_stats cs;
            char labels[128];
            double v = 0;

            tg_reflector_stats(r, &st);
            tg_cache_stats(tg_reflector_cache(r), &cs);
            snprintf(labels, sizeof(labels), "resource=\"%s\"", tg_reflector_resource(r)->resource);
            switch (f) {
            case 0:
                v = (double)st.watch_restarts;
                break;
            case 1:
                v = (double)st.relists;
                break;
            case 2:
                v = (double)st.events;
                break;
            case 3:
                v = (double)cs.objects;
                break;
            case 4:
                v = tg_reflector_has_synced(r) ? 1 : 0;
                break;
            case 5:
                v = (double)cs.text_bytes;
                break;
            case 6:
                v = (double)cs.stored_bytes;
                break;
            default:
                v = tg_reflector_served(r) ? 1 : 0;
                break;
            }
            rc = tg_metrics_sample(out, fam[f].name, labels, v);
        }
    }
    return rc;
}

static int render_metrics(void *ctx, struct tg_buf *out, const char **ctype)
{
    struct tg_manager *m = ctx;
    struct count_ctx cc = {out, 0};
    struct tg_events_stats es;
    struct tg_event_writer_stats ws;
    int rc;

    *ctype = "text/plain; version=0.0.4; charset=utf-8";
    rc = tg_metrics_family(out, "tollgate_leader", "gauge",
                           "Whether this process leads (1) or stands by (0).");
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_leader", NULL, m->leading ? 1 : 0);
    if (!rc)
        rc = tg_metrics_family(out, "tollgate_api_requests_total", "counter",
                               "Requests to the API server by verb and HTTP status (0: none).");
    if (!rc) {
        tg_client_foreach_request_count(m->client, write_request_count, &cc);
        rc = cc.rc;
    }
    if (!rc)
        rc = reflector_metrics(m, out);
    for (int f = 0; f < TG_CONTROLLER_FAMILIES && !rc; f++) {
        rc = tg_controller_metrics_header((enum tg_controller_family)f, out);
        for (size_t i = 0; i < m->n_controllers && !rc; i++)
            rc = tg_controller_metrics(m->controllers[i], (enum tg_controller_family)f, out);
    }
    tg_events_stats(m->events, &es);
    tg_event_writer_stats(m->event_writer, &ws);
    if (!rc)
        rc = tg_metrics_family(out, "tollgate_events_total", "counter",
                               "Kubernetes Events by what happened to them.");
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_events_total", "result=\"created\"",
                               (double)es.created);
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_events_total", "result=\"patched\"",
                               (double)es.patched);
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_events_total", "result=\"dropped\"",
                               (double)es.dropped);
    if (!rc)
        rc =
            tg_metrics_sample(out, "tollgate_events_total", "result=\"failed\"", (double)ws.failed);
    if (!rc && m->extra_metrics)
        rc = m->extra_metrics(m->extra_metrics_ctx, out);
    if (!rc)
        rc = tg_metrics_process(out);
    if (rc) {
        tg_buf_reset(out);
        tg_buf_append_str(out, "metrics too large\n");
        return 500;
    }
    return 200;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/*
 * The caches parse objects on lookup and keep the trees until released; a reconcile that needs
 * an object past the loop turn it read it in holds its own reference. Releasing once per turn
 * bounds memory to what one turn touched.
 */
static void release_all(void *ctx)
{
    struct tg_manager *m = ctx;

    for (size_t i = 0; i < m->n_reflectors; i++)
        tg_cache_release(tg_reflector_cache(m->reflectors[i]));
}

/* True when no controller has a key ready or a reconcile running. */
static bool controllers_idle(struct tg_manager *m)
{
    for (size_t i = 0; i < m->n_controllers; i++) {
        if (tg_queue_len(tg_controller_queue(m->controllers[i])) ||
            tg_controller_in_flight(m->controllers[i]))
            return false;
    }
    return true;
}

static void release_caches(uv_check_t *h)
{
    struct tg_manager *m = h->data;

    release_all(m);
    /*
     * The first pass reconciles every object once; its queue entries were allocated among the
     * caches' objects during the lists, so the trim at sync could not give their pages back.
     * Once that pass is over, trim again.
     */
    if (m->dispatching && !m->first_pass_trimmed && controllers_idle(m)) {
        m->first_pass_trimmed = true;
        malloc_trim(0);
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct tg_manager *m = s->data;

    tg_log(TG_LOG_INFO, "signal received; shutting down", "signal",
           signum == SIGTERM ? "SIGTERM" : "SIGINT");
    tg_manager_shutdown(m, 0);
}

static char *dup_default(const char *s, const char *fallback)
{
    return strdup(s && *s ? s : fallback);
}

int tg_manager_new(uv_loop_t *loop, const struct tg_manager_options *opt, struct tg_manager **out)
{
    struct tg_client_options copt = {0};
    struct tg_events_config ecfg;
    struct tg_manager *m;
    char identity[300], host[256];
    int rc;

    *out = NULL;
    if (!opt->config)
        return tg_error_set(TG_EINVALID, "the manager needs a kubeconfig");
    if (!(m = calloc(1, sizeof(*m))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    m->loop = loop;
    m->opt = *opt;
    m->clock = opt->clock ? opt->clock : tg_clock_system();
    if (!m->opt.lease_duration_ms)
        m->opt.lease_duration_ms = TG_LEADER_DEFAULT_LEASE_DURATION_MS;
    if (!m->opt.renew_deadline_ms)
        m->opt.renew_deadline_ms = TG_LEADER_DEFAULT_RENEW_DEADLINE_MS;
    if (!m->opt.retry_period_ms)
        m->opt.retry_period_ms = TG_LEADER_DEFAULT_RETRY_PERIOD_MS;
    if (!m->opt.shutdown_grace_ms)
        m->opt.shutdown_grace_ms = 1500;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "tollgate");
    host[sizeof(host) - 1] = '\0';
    snprintf(identity, sizeof(identity), "%s_%ld", host, (long)getpid());
    m->identity = dup_default(opt->identity, identity);
    m->lease_name = dup_default(opt->lease_name, "tollgate-leader");
    m->lease_namespace = dup_default(opt->lease_namespace, opt->config->namespace);
    m->listen_addr = dup_default(opt->listen_addr, "0.0.0.0");
    if (!m->identity || !m->lease_name || !m->lease_namespace || !m->listen_addr) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto fail;
    }

    copt.config = opt->config;
    copt.qps = opt->qps;
    copt.burst = opt->burst;
    copt.clock = m->clock;
    if ((rc = tg_client_new(loop, &copt, &m->client)))
        goto fail;
    tg_events_config_default(&ecfg);
    ecfg.instance = m->identity;
    if ((rc = tg_events_new(&ecfg, m->clock, &m->events)))
        goto fail;
    struct tg_event_writer_ops wops = {event_create, event_patch, m};
    if ((rc = tg_event_writer_new(&wops, &m->event_writer)))
        goto fail;
    if (opt->leader_elect) {
        struct tg_leader_config lcfg;
        tg_leader_config_default(&lcfg);
        lcfg.identity = m->identity;
        lcfg.namespace = m->lease_namespace;
        lcfg.name = m->lease_name;
        lcfg.lease_duration_ms = m->opt.lease_duration_ms;
        lcfg.renew_deadline_ms = m->opt.renew_deadline_ms;
        lcfg.retry_period_ms = m->opt.retry_period_ms;
        if ((rc = tg_leader_new(&lcfg, m->clock, &m->leader)))
            goto fail;
    }
    uv_signal_init(loop, &m->sigterm);
    uv_signal_init(loop, &m->sigint);
    uv_timer_init(loop, &m->leader_timer);
    uv_timer_init(loop, &m->deadline_timer);
    uv_timer_init(loop, &m->drain_timer);
    uv_check_init(loop, &m->release_check);
    uv_timer_init(loop, &m->sync_timer);
    m->sync_timer.data = m;
    m->release_check.data = m;
    m->sigterm.data = m->sigint.data = m;
    m->leader_timer.data = m->deadline_timer.data = m->drain_timer.data = m;
    m->handles_open = true;
    *out = m;
    return 0;

fail:
    /* The client may have been made: hand it to the caller's loop to close. */
    if (m->client)
        tg_client_close(m->client, NULL, NULL);
    tg_event_writer_free(m->event_writer);
    tg_events_free(m->events);
    free(m->identity);
    free(m->lease_name);
    free(m->lease_namespace);
    free(m->listen_addr);
    free(m);
    return rc;
}

struct tg_client *tg_manager_client(struct tg_manager *m)
{
    return m->client;
}

const struct tg_clock *tg_manager_clock(const struct tg_manager *m)
{
    return m->clock;
}

int tg_manager_add_reflector(struct tg_manager *m, const struct tg_reflector_options *opt,
                             struct tg_reflector **out)
{
    int rc;

    if (m->n_reflectors == MAX_REFLECTORS)
        return tg_error_set(TG_EINVALID, "too many reflectors");
    if ((rc = tg_reflector_new(m->loop, m->client, m->clock, opt, out)))
        return rc;
    m->reflectors[m->n_reflectors++] = *out;
    return 0;
}

int tg_manager_add_controller(struct tg_manager *m, const struct tg_controller_options *opt,
                              struct tg_controller **out)
{
    struct tg_controller_options o = *opt;
    int rc;

    if (m->n_controllers == MAX_CONTROLLERS)
        return tg_error_set(TG_EINVALID, "too many controllers");
    if (!o.clock)
        o.clock = m->clock;
    if (!o.after_start) {
        o.after_start = release_all;
        o.after_start_ctx = m;
    }
    if ((rc = tg_controller_new(m->loop, &o, out)))
        return rc;
    m->controllers[m->n_controllers++] = *out;
    return 0;
}

int tg_manager_start(struct tg_manager *m)
{
    int rc;

    m->state = STATE_RUNNING;
    uv_check_start(&m->release_check, release_caches);
    uv_signal_start(&m->sigterm, on_signal, SIGTERM);
    uv_signal_start(&m->sigint, on_signal, SIGINT);
    if (m->opt.listen_port >= 0) {
        struct tg_server_options so = {0};
        m->routes[0] = (struct tg_server_route){"/healthz", render_healthz, m};
        m->routes[1] = (struct tg_server_route){"/readyz", render_readyz, m};
        m->routes[2] = (struct tg_server_route){"/metrics", render_metrics, m};
        so.iface = m->listen_addr;
        so.port = m->opt.listen_port;
        so.routes = m->routes;
        so.nroutes = 3;
        if ((rc = tg_server_start(m->loop, &so, &m->server))) {
            tg_manager_shutdown(m, 1);
            return rc;
        }
    }
    for (size_t i = 0; i < m->n_reflectors; i++) {
        if ((rc = tg_reflector_start(m->reflectors[i]))) {
            tg_manager_shutdown(m, 1);
            return rc;
        }
    }
    if (m->leader) {
        schedule_leader(m, 0);
    } else {
        m->leading = true;
        maybe_dispatch(m);
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", tg_manager_port(m));
    tg_log(TG_LOG_INFO, "operator started", "server", tg_client_server(m->client), "port", port,
           "leader_election", m->leader ? "on" : "off");
    return 0;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* The last step: every handle closes, and the loop ends once they have. */
static void close_all(struct tg_manager *m)
{
    m->state = STATE_CLOSING;
    for (size_t i = 0; i < m->n_reflectors; i++)
        tg_reflector_stop(m->reflectors[i]);
    for (size_t i = 0; i < m->n_controllers; i++)
        tg_controller_stop(m->controllers[i]);
    if (m->server)
        tg_server_stop(m->server);
    if (m->handles_open) {
        m->handles_open = false;
        close_handle((uv_handle_t *)&m->sigterm);
        close_handle((uv_handle_t *)&m->sigint);
        close_handle((uv_handle_t *)&m->leader_timer);
        close_handle((uv_handle_t *)&m->deadline_timer);
        close_handle((uv_handle_t *)&m->drain_timer);
        close_handle((uv_handle_t *)&m->release_check);
        close_handle((uv_handle_t *)&m->sync_timer);
    }
    if (m->client) {
        struct tg_client *c = m->client;
        m->client = NULL;
        tg_client_close(c, NULL, NULL);
    }
    tg_log(TG_LOG_INFO, "operator stopped", "exit_code", m->exit_code ? "1" : "0");
}

static void on_released(const struct tg_client_result *res, void *arg)
{
    struct tg_manager *m = arg;

    m->lease_call = NULL;
    if (res->rc && res->rc != TG_ECANCELED)
        tg_log(TG_LOG_WARN, "cannot release the lease", "error", tg_error_name(res->rc), "message",
               res->message);
    else if (res->rc == 0)
        tg_log(TG_LOG_INFO, "released the lease", "lease", m->lease_name);
    close_all(m);
}

static void release_lease(struct tg_manager *m)
{
    struct tg_leader_plan plan = {0};
    struct tg_client_request req = {0};

    m->state = STATE_RELEASING;
    if (m->lease_call) {
        struct tg_client_call *call = m->lease_call;
        m->lease_call = NULL;
        tg_client_cancel(call);
    }
    if (!m->leader || !m->lease || tg_leader_release(m->leader, m->lease, &plan) ||
        plan.action != TG_LEADER_UPDATE) {
        if (plan.lease)
            json_object_put(plan.lease);
        close_all(m);
        return;
    }
    req.verb = TG_VERB_UPDATE;
    req.resource = &lease_resource;
    req.namespace = m->lease_namespace;
    req.name = m->lease_name;
    req.body = plan.lease;
    req.timeout_ms = RELEASE_TIMEOUT_MS;
    if (tg_client_do(m->client, &req, on_released, m, &m->lease_call))
        close_all(m);
    json_object_put(plan.lease);
}

static void drain_poll(uv_timer_t *t)
{
    struct tg_manager *m = t->data;
    unsigned busy = 0;

    for (size_t i = 0; i < m->n_controllers; i++)
        busy += tg_controller_in_flight(m->controllers[i]);
    if (busy && tg_clock_now_ms(m->clock) < m->drain_deadline_ms)
        return;
    if (busy)
        tg_log(TG_LOG_WARN, "abandoning reconciles still in flight", "count",
               busy == 1 ? "1" : "several");
    uv_timer_stop(t);
    release_lease(m);
}

void tg_manager_shutdown(struct tg_manager *m, int exit_code)
{
    if (m->state >= STATE_DRAINING)
        return;
    if (m->state == STATE_NEW) {
        m->exit_code = exit_code;
        close_all(m);
        return;
    }
    m->exit_code = exit_code;
    m->state = STATE_DRAINING;
    if (m->on_shutdown)
        m->on_shutdown(m->on_shutdown_arg);
    for (size_t i = 0; i < m->n_controllers; i++)
        tg_controller_set_dispatch(m->controllers[i], false);
    uv_timer_stop(&m->leader_timer);
    uv_timer_stop(&m->deadline_timer);
    uv_timer_stop(&m->sync_timer);
    m->dispatching = false;
    m->drain_deadline_ms = tg_clock_now_ms(m->clock) + m->opt.shutdown_grace_ms;
    uv_timer_start(&m->drain_timer, drain_poll, 0, SHUTDOWN_POLL_MS);
}

void tg_manager_on_shutdown(struct tg_manager *m, void (*cb)(void *arg), void *arg)
{
    m->on_shutdown = cb;
    m->on_shutdown_arg = arg;
}

void tg_manager_add_metrics(struct tg_manager *m, int (*render)(void *ctx, struct tg_buf *out),
                            void *ctx)
{
    m->extra_metrics = render;
    m->extra_metrics_ctx = ctx;
}

int tg_manager_exit_code(const struct tg_manager *m)
{
    return m->exit_code;
}

bool tg_manager_synced(const struct tg_manager *m)
{
    for (size_t i = 0; i < m->n_reflectors; i++)
        if (!tg_reflector_has_synced(m->reflectors[i]))
            return false;
    return true;
}

bool tg_manager_leading(const struct tg_manager *m)
{
    return m->leading;
}

int tg_manager_port(const struct tg_manager *m)
{
    return m->server ? tg_server_port(m->server) : -1;
}

void tg_manager_free(struct tg_manager *m)
{
    if (!m)
        return;
    tg_server_free(m->server);
    for (size_t i = 0; i < m->n_reflectors; i++)
        tg_reflector_free(m->reflectors[i]);
    for (size_t i = 0; i < m->n_controllers; i++)
        tg_controller_free(m->controllers[i]);
    tg_event_writer_free(m->event_writer);
    tg_events_free(m->events);
    tg_leader_free(m->leader);
    if (m->lease)
        json_object_put(m->lease);
    free(m->identity);
    free(m->lease_name);
    free(m->lease_namespace);
    free(m->listen_addr);
    free(m);
}
