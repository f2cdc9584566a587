/* kubectl-tollgate's verbs on the REST client; see verbs.h. */
#include "cli/verbs.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <uv.h>

#include "cli/intent.h"
#include "cli/jutil.h"
#include "cli/render.h"
#include "cli/verify_cmd.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/watch.h"
#include "rollout/spec.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"

/* The most output one page may take. */
#define OUTPUT_MAX (8u << 20)

/* How long to wait before re-opening a watch that ended with an error. */
#define WATCH_RETRY_MS 1000

/*
 * How often status --watch redraws a terminal while a Release is in flight, even when the
 * Rollout does not change: its analysis (measurements, "next in") lives in the Release.
 */
#define STATUS_REFRESH_MS 5000

static const struct tg_resource rollouts = {"tollgate.io", "v1alpha1", "rollouts", true};
static const struct tg_resource releases = {"tollgate.io", "v1alpha1", "releases", true};
static const struct tg_resource events = {"", "v1", "events", true};

/* One run of the CLI: the loop, the client, and whom messages are about. */
struct cli {
    uv_loop_t loop;
    struct tg_kubeconfig *kc;
    struct tg_client *client;
    const struct tg_cli_args *args;
    const char *ns;
    char who[600]; /* "rollout shop/web", the prefix of every message */
};

/*
 * A call in flight, completed by call_done.
 *
 * Every callback that sets a flag the top of a verb waits for also calls uv_stop(): uv_run in
 * UV_RUN_ONCE mode runs due timers *before* it polls, so a flag set from a timer (curl's
 * timeout handling can complete a transfer or deliver a watch event) would otherwise be seen
 * only after the poll that follows, which may block until the next timer, seconds later.
 */
struct pending {
    uv_loop_t *loop;
    bool done;
    int rc;
    char message[1024];
    json_object *body; /* a reference we hold */
};

static void call_done(const struct tg_client_result *res, void *arg)
{
    struct pending *p = arg;

    p->done = true;
    uv_stop(p->loop);
    p->rc = res->rc;
    snprintf(p->message, sizeof(p->message), "%s", res->message ? res->message : "");
    p->body = res->body ? json_object_get(res->body) : NULL;
}

/*
 * Makes one call and runs the loop until it ends. Only called from the top of a verb, never
 * from a callback, so the loop is never re-entered. On success *body (optional) is the caller's
 * reference to the response; on failure the server's message is the last-error message.
 */
static int call(struct cli *c, const struct tg_client_request *req, json_object **body)
{
    struct pending p = {.loop = &c->loop};
    int rc = tg_client_do(c->client, req, call_done, &p, NULL);

    if (rc)
        return rc;
    while (!p.done) {
        if (uv_run(&c->loop, UV_RUN_ONCE) == 0 && !p.done)
            return tg_error_set(TG_EIO, "the event loop stopped before the call ended");
    }
    if (p.rc) {
        json_object_put(p.body);
        return tg_error_set(p.rc, "%s", p.message[0] ? p.message : tg_error_name(p.rc));
    }
    if (body)
        *body = p.body;
    else
        json_object_put(p.body);
    return 0;
}

static int get(struct cli *c, const struct tg_resource *res, const char *name, json_object **out)
{
    struct tg_client_request req = {
        .verb = TG_VERB_GET, .resource = res, .namespace = c->ns, .name = name};
    return call(c, &req, out);
}

static int list(struct cli *c, const struct tg_resource *res, const char *ns,
                const char *field_selector, json_object **items)
{
    struct tg_client_request req = {.verb = TG_VERB_LIST,
                                    .resource = res,
                                    .namespace = ns,
                                    .query = {.field_selector = field_selector}};
    json_object *body = NULL;
    int rc = call(c, &req, &body);

    if (rc)
        return rc;
    json_object *arr = tg_cli_jget(body, "items");
    if (arr && json_object_is_type(arr, json_type_array)) {
        *items = json_object_get(arr);
    } else {
        *items = json_object_new_array();
    }
    json_object_put(body);
    return *items ? 0 : tg_error_set(TG_ENOMEM, "out of memory");
}

/* Prints "error: <who>: <message>" and returns the exit code for an error. */
static int fail(struct cli *c, const char *msg)
{
    if (c && c->who[0])
        fprintf(stderr, "error: %s: %s\n", c->who, msg);
    else
        fprintf(stderr, "error: %s\n", msg);
    return 1;
}

/* Gets the Rollout named on the command line, with a clear message when it is missing. */
static int get_rollout(struct cli *c, json_object **out)
{
    int rc = get(c, &rollouts, c->args->name, out);

    if (rc == TG_ENOTFOUND) {
        if (strstr(tg_error_last(), "could not find the requested resource"))
            return tg_error_set(rc, "not found: the tollgate CRDs (rollouts.tollgate.io) are "
                                    "not installed in this cluster");
        return tg_error_set(rc, "not found");
    }
    return rc;
}

/* Gets a Release, *out NULL when it does not exist. */
static int get_release_opt(struct cli *c, const char *name, json_object **out)
{
    *out = NULL;
    if (!name)
        return 0;
    int rc = get(c, &releases, name, out);
    if (rc == TG_ENOTFOUND) {
        *out = NULL;
        return 0;
    }
    return rc;
}

/* Adds the Events about kind/name to all (an array), most recent last after rendering sorts. */
static int add_events(struct cli *c, const char *kind, const char *name, json_object *all)
{
    char sel[600];
    json_object *items = NULL;

    snprintf(sel, sizeof(sel), "involvedObject.kind=%s,involvedObject.name=%s", kind, name);
    int rc = list(c, &events, c->ns, sel, &items);
    if (rc)
        return rc;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *e = json_object_array_get_idx(items, i);
        if (json_object_array_add(all, json_object_get(e)) != 0) {
            json_object_put(e);
            json_object_put(items);
            return tg_error_set(TG_ENOMEM, "out of memory");
        }
    }
    json_object_put(items);
    return 0;
}

static int64_t wall_ms(void)
{
    return tg_clock_wall_ms(tg_clock_system());
}

/* Fetches what the status page shows beside the Rollout, renders it and prints it. */
static int show_status(struct cli *c, json_object *ro, const char *before)
{
    struct tg_cli_status_view v = {.rollout = ro, .now_ms = wall_ms()};
    struct tg_buf out;
    int rc;

    tg_buf_init(&out, OUTPUT_MAX);
    const char *current = tg_cli_release_in_flight(ro);
    const char *stable = tg_cli_jstr(tg_cli_jget(ro, "status.stableRelease"));
    /*
     * The Releases add their versions and phases, the Events the recent past: a user who may not
     * read them still gets the rest of the page (the versions then come from status.history).
     */
    if (get_release_opt(c, current, &v.current_release) == TG_ENOMEM ||
        get_release_opt(c, stable, &v.stable_release) == TG_ENOMEM ||
        get_release_opt(c, tg_cli_last_finished_release(ro), &v.last_release) == TG_ENOMEM) {
        rc = TG_ENOMEM;
        goto done;
    }
    v.events = json_object_new_array();
    if (!v.events) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto done;
    }
    if (add_events(c, "Rollout", c->args->name, v.events) == TG_ENOMEM ||
        (current && add_events(c, "Release", current, v.events) == TG_ENOMEM)) {
        rc = TG_ENOMEM;
        goto done;
    }
    v.now_ms = wall_ms();
    if ((rc = tg_cli_render_status(&v, &out)))
        goto done;
    fputs(before, stdout);
    if (out.data)
        fputs(out.data, stdout);
    fflush(stdout);
done:
    json_object_put(v.current_release);
    json_object_put(v.stable_release);
    json_object_put(v.last_release);
    json_object_put(v.events);
    tg_buf_free(&out);
    return rc;
}

/* What status --watch carries between the loop's callbacks. */
struct watcher {
    struct cli *c;
    struct tg_watch dec;
    struct tg_client_call *call; /* the watch in flight, or NULL */
    bool running;
    int end_rc;          /* how the last watch ended */
    json_object *latest; /* the newest Rollout seen, a reference we hold */
    bool dirty;          /* latest changed since the last redraw */
    bool deleted;
    bool stop; /* Ctrl-C */
    uv_signal_t sigint, sigterm;
    uv_timer_t timer;
    uv_timer_t refresh; /* terminals only: redraws while a Release is in flight */
    bool timer_fired;
    uint64_t started_ms; /* when the current watch was opened (monotonic) */
    int open_handles;    /* signal and timer handles not yet closed */
    char message[1024];  /* why the last watch ended */
};

static int on_watch_event(void *ctx, enum tg_watch_type type, json_object *obj)
{
    struct watcher *w = ctx;

    if (type == TG_WATCH_BOOKMARK)
        return 0;
    uv_stop(&w->c->loop);
    if (type == TG_WATCH_DELETED) {
        w->deleted = true;
        return 0;
    }
    json_object_put(w->latest);
    w->latest = json_object_get(obj);
    w->dirty = true;
    return 0;
}

static int on_watch_data(const char *data, size_t len, void *arg)
{
    struct watcher *w = arg;
    return tg_watch_feed(&w->dec, data, len);
}

static void on_watch_done(const struct tg_client_result *res, void *arg)
{
    struct watcher *w = arg;

    w->running = false;
    w->call = NULL;
    w->end_rc = res->rc;
    uv_stop(&w->c->loop);
    if (res->rc == 0) {
        int rc = tg_watch_finish(&w->dec);
        if (rc && rc != TG_ETRANSIENT)
            w->end_rc = rc;
    }
    snprintf(w->message, sizeof(w->message), "%s",
             res->rc ? res->message : (w->end_rc ? tg_error_last() : ""));
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct watcher *w = h->data;

    (void)signum;
    w->stop = true;
    uv_stop(&w->c->loop);
    if (w->call)
        tg_client_cancel(w->call);
}

static void on_timer(uv_timer_t *t)
{
    struct watcher *w = t->data;
    w->timer_fired = true;
    uv_stop(&w->c->loop);
}

static int start_watch(struct watcher *w)
{
    struct cli *c = w->c;
    char sel[400];

    snprintf(sel, sizeof(sel), "metadata.name=%s", c->args->name);
    struct tg_query q = {.field_selector = sel,
                         .resource_version = tg_watch_resource_version(&w->dec),
                         .allow_watch_bookmarks = true,
                         .timeout_seconds = 300};
    tg_watch_restart(&w->dec);
    w->started_ms = tg_clock_now_ms(tg_clock_system());
    int rc =
        tg_client_watch(c->client, &rollouts, c->ns, &q, on_watch_data, on_watch_done, w, &w->call);
    if (rc == 0)
        w->running = true;
    return rc;
}

static void on_refresh(uv_timer_t *t)
{
    struct watcher *w = t->data;

    if (!w->latest || !tg_cli_release_in_flight(w->latest))
        return;
    w->dirty = true;
    uv_stop(&w->c->loop);
}

/* Waits ms on the loop, or less when Ctrl-C comes. */
static void pause_ms(struct watcher *w, uint64_t ms)
{
    w->timer_fired = false;
    uv_timer_start(&w->timer, on_timer, ms, 0);
    while (!w->timer_fired && !w->stop)
        uv_run(&w->c->loop, UV_RUN_ONCE);
    uv_timer_stop(&w->timer);
}

/* Re-reads the Rollout after a 410 and resumes from its resourceVersion. */
static int relist(struct watcher *w)
{
    json_object *ro = NULL;
    int rc = get_rollout(w->c, &ro);

    if (rc)
        return rc;
    rc = tg_watch_set_resource_version(
        &w->dec, tg_cli_or(tg_cli_jstr(tg_cli_jget(ro, "metadata.resourceVersion")), ""));
    json_object_put(w->latest);
    w->latest = ro;
    w->dirty = true;
    return rc;
}

static void handle_closed(uv_handle_t *h)
{
    struct watcher *w = h->data;
    w->open_handles--;
    uv_stop(&w->c->loop);
}

static int watch_status(struct cli *c, json_object *ro)
{
    struct watcher w = {.c = c};
    bool tty = isatty(STDOUT_FILENO);
    const char *redraw = tty ? "\033[H\033[2J" : "---\n";
    int rc;

    if ((rc = tg_watch_init(&w.dec, 0, on_watch_event, &w)))
        return rc;
    rc = tg_watch_set_resource_version(
        &w.dec, tg_cli_or(tg_cli_jstr(tg_cli_jget(ro, "metadata.resourceVersion")), ""));
    w.latest = json_object_get(ro);
    uv_signal_init(&c->loop, &w.sigint);
    uv_signal_init(&c->loop, &w.sigterm);
    uv_timer_init(&c->loop, &w.timer);
    uv_timer_init(&c->loop, &w.refresh);
    w.sigint.data = w.sigterm.data = w.timer.data = w.refresh.data = &w;
    if (tty)
        uv_timer_start(&w.refresh, on_refresh, STATUS_REFRESH_MS, STATUS_REFRESH_MS);
    uv_signal_start(&w.sigint, on_signal, SIGINT);
    uv_signal_start(&w.sigterm, on_signal, SIGTERM);
    if (rc || (rc = show_status(c, ro, tty ? redraw : "")) || (rc = start_watch(&w)))
        goto stop;
    while (!w.stop && !w.deleted) {
        if (!w.running) {
            if (w.end_rc == TG_EGONE) {
                if ((rc = relist(&w)))
                    break;
            } else if (w.end_rc && w.end_rc != TG_ETRANSIENT && w.end_rc != TG_ETIMEOUT &&
                       w.end_rc != TG_EUNREACHABLE) {
                rc = tg_error_set(w.end_rc, "watch ended: %s", w.message);
                break;
            } else if (w.end_rc ||
                       tg_clock_now_ms(tg_clock_system()) - w.started_ms < WATCH_RETRY_MS) {
                /* A failed watch, or one the server closed at once: never a busy loop. */
                pause_ms(&w, WATCH_RETRY_MS);
                if (w.stop)
                    break;
            }
            if ((rc = start_watch(&w)))
                break;
        }
        if (!w.dirty)
            uv_run(&c->loop, UV_RUN_ONCE);
        if (w.dirty && !w.stop && !w.deleted) {
            w.dirty = false;
            json_object *latest = json_object_get(w.latest);
            rc = show_status(c, latest, redraw);
            json_object_put(latest);
            if (rc)
                break;
        }
    }
stop:
    if (w.deleted && !rc)
        rc = tg_error_set(TG_ENOTFOUND, "deleted");
    /* Cancelling the watch sets a message of its own: keep the one that explains rc. */
    char why[1024];
    snprintf(why, sizeof(why), "%s", tg_error_last());
    if (w.call)
        tg_client_cancel(w.call);
    while (w.running)
        uv_run(&c->loop, UV_RUN_ONCE);
    w.open_handles = 4;
    uv_close((uv_handle_t *)&w.sigint, handle_closed);
    uv_close((uv_handle_t *)&w.sigterm, handle_closed);
    uv_close((uv_handle_t *)&w.timer, handle_closed);
    uv_close((uv_handle_t *)&w.refresh, handle_closed);
    while (w.open_handles > 0)
        uv_run(&c->loop, UV_RUN_ONCE);
    json_object_put(w.latest);
    tg_watch_free(&w.dec);
    return rc ? tg_error_set(rc, "%s", why) : 0;
}

static int verb_status(struct cli *c)
{
    json_object *ro = NULL;
    int rc = get_rollout(c, &ro);

    if (rc)
        return fail(c, tg_error_last());
    if (c->args->watch)
        rc = watch_status(c, ro);
    else
        rc = show_status(c, ro, "");
    json_object_put(ro);
    return rc ? fail(c, tg_error_last()) : 0;
}

static int verb_list(struct cli *c)
{
    json_object *items = NULL;
    struct tg_buf out;
    int rc;

    if ((rc = list(c, &rollouts, c->args->all_namespaces ? NULL : c->ns, NULL, &items))) {
        if (rc == TG_ENOTFOUND && strstr(tg_error_last(), "could not find the requested resource"))
            return fail(NULL, "the tollgate CRDs (rollouts.tollgate.io) are not installed in this "
                              "cluster");
        return fail(NULL, tg_error_last());
    }
    if (json_object_array_length(items) == 0) {
        if (c->args->all_namespaces)
            fprintf(stderr, "No rollouts found.\n");
        else
            fprintf(stderr, "No rollouts found in %s namespace.\n", c->ns);
        json_object_put(items);
        return 0;
    }
    tg_buf_init(&out, OUTPUT_MAX);
    rc = tg_cli_render_list(items, c->args->all_namespaces, wall_ms(), &out);
    if (rc == 0 && out.data)
        fputs(out.data, stdout);
    tg_buf_free(&out);
    json_object_put(items);
    return rc ? fail(NULL, tg_error_last()) : 0;
}

static int verb_history(struct cli *c)
{
    json_object *ro = NULL;
    struct tg_buf out;
    int rc = get_rollout(c, &ro);

    if (rc)
        return fail(c, tg_error_last());
    tg_buf_init(&out, OUTPUT_MAX);
    rc = tg_cli_render_history(ro, &out);
    if (rc == 0 && out.len == 0)
        fprintf(stderr, "%s: no finished releases yet\n", c->who);
    else if (rc == 0)
        fputs(out.data, stdout);
    tg_buf_free(&out);
    json_object_put(ro);
    return rc ? fail(c, tg_error_last()) : 0;
}

/* Writes a fresh token into buf (TG_CLI_TOKEN_MAX bytes). */
static int fresh_token(char *buf)
{
    uint64_t r = 0;

    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        /* No entropy source: mix the clocks and the pid, still unique enough per call. */
        r = (uint64_t)wall_ms() * 6364136223846793005ull ^ tg_clock_now_ms(tg_clock_system()) ^
            ((uint64_t)getpid() << 32);
    }
    return tg_cli_token(wall_ms(), r, buf, TG_CLI_TOKEN_MAX);
}

/* Merge-patches annotations (kv pairs, NULL values remove) onto a Rollout or Release. */
static int annotate(struct cli *c, const struct tg_resource *res, const char *name,
                    const char *const *kv, size_t n)
{
    json_object *patch = NULL;
    int rc = tg_cli_annotation_patch(kv, n, &patch);

    if (rc)
        return rc;
    struct tg_client_request req = {.verb = TG_VERB_PATCH,
                                    .resource = res,
                                    .namespace = c->ns,
                                    .name = name,
                                    .body = patch,
                                    .patch_type = TG_PATCH_MERGE};
    rc = call(c, &req, NULL);
    json_object_put(patch);
    return rc;
}

static int verb_promote(struct cli *c)
{
    json_object *ro = NULL;
    char token[TG_CLI_TOKEN_MAX];
    bool full = c->args->full;
    int rc;

    if ((rc = get_rollout(c, &ro)))
        return fail(c, tg_error_last());
    if (!(rc = tg_cli_check_promote(ro, full)) && !(rc = fresh_token(token))) {
        const char *kv[] = {full ? TG_ANNOTATION_PROMOTE_FULL : TG_ANNOTATION_PROMOTE, token};
        rc = annotate(c, &rollouts, c->args->name, kv, 1);
    }
    if (rc == 0)
        printf("%s: %s requested for release %s (token %s)\n", c->who,
               full ? "promote --full" : "promote", tg_cli_release_in_flight(ro), token);
    json_object_put(ro);
    return rc ? fail(c, tg_error_last()) : 0;
}

static int verb_abort(struct cli *c)
{
    json_object *ro = NULL, *rel = NULL;
    char token[TG_CLI_TOKEN_MAX];
    int rc;

    if ((rc = get_rollout(c, &ro)))
        return fail(c, tg_error_last());
    const char *current = tg_cli_release_in_flight(ro);
    if (!(rc = get_release_opt(c, current, &rel)) && !(rc = tg_cli_check_abort(ro, rel)) &&
        !(rc = fresh_token(token))) {
        const char *kv[] = {TG_ANNOTATION_ABORT, token};
        rc = annotate(c, &releases, current, kv, 1);
    }
    if (rc == 0)
        printf("%s: abort requested for release %s (token %s)\n", c->who, current, token);
    json_object_put(rel);
    json_object_put(ro);
    return rc ? fail(c, tg_error_last()) : 0;
}

static int verb_retry(struct cli *c)
{
    json_object *ro = NULL, *rels = NULL;
    char token[TG_CLI_TOKEN_MAX];
    const char *name = NULL;
    int rc;

    if ((rc = get_rollout(c, &ro)))
        return fail(c, tg_error_last());
    if (!(rc = list(c, &releases, c->ns, NULL, &rels))) {
        json_object *latest = tg_cli_latest_release(rels, c->args->name);
        name = tg_cli_jstr(tg_cli_jget(latest, "metadata.name"));
        if (!(rc = tg_cli_check_retry(ro, latest)) && !(rc = fresh_token(token))) {
            const char *kv[] = {TG_ANNOTATION_RETRY, token};
            rc = annotate(c, &releases, name, kv, 1);
        }
    }
    if (rc == 0)
        printf("%s: retry requested for release %s (token %s)\n", c->who, name, token);
    json_object_put(rels);
    json_object_put(ro);
    return rc ? fail(c, tg_error_last()) : 0;
}

static int verb_rollback(struct cli *c)
{
    json_object *ro = NULL, *to = NULL, *rels = NULL;
    const char *to_name = c->args->to;
    char token[TG_CLI_TOKEN_MAX];
    int rc;

    if ((rc = get_rollout(c, &ro)))
        return fail(c, tg_error_last());
    if (to_name)
        rc = get_release_opt(c, to_name, &to);
    else
        rc = list(c, &releases, c->ns, NULL, &rels);
    if (!rc && !(rc = tg_cli_check_rollback(ro, to_name, to, rels)) && !(rc = fresh_token(token))) {
        /* Without --to, a stale rollback-to from an earlier rollback must not redirect this one. */
        const char *kv[] = {TG_ANNOTATION_ROLLBACK, token, TG_ANNOTATION_ROLLBACK_TO, to_name};
        rc = annotate(c, &rollouts, c->args->name, kv, 2);
    }
    if (rc == 0 && to_name)
        printf("%s: rollback to release %s requested (token %s)\n", c->who, to_name, token);
    else if (rc == 0)
        printf("%s: rollback requested (token %s)\n", c->who, token);
    json_object_put(rels);
    json_object_put(to);
    json_object_put(ro);
    return rc ? fail(c, tg_error_last()) : 0;
}

int tg_cli_run(const struct tg_cli_args *args)
{
    struct cli c = {.args = args};
    struct tg_kubeconfig_options kopt = {.path = args->kubeconfig, .context = args->context};
    int code = 1;

    if (args->verb == TG_CLI_VERIFY)
        return tg_cli_verify(args);
    if (tg_kubeconfig_load(&kopt, &c.kc) < 0)
        return fail(NULL, tg_error_last());
    c.ns = args->namespace ? args->namespace : c.kc->namespace;
    if (args->name)
        snprintf(c.who, sizeof(c.who), "rollout %s/%s", c.ns, args->name);
    if (uv_loop_init(&c.loop) != 0) {
        fail(NULL, "cannot start the event loop");
        goto free_config;
    }
    struct tg_client_options copt = {.config = c.kc,
                                     .user_agent = "kubectl-tollgate/" TG_VERSION,
                                     .field_manager = "kubectl-tollgate"};
    if (tg_client_new(&c.loop, &copt, &c.client) < 0) {
        fail(NULL, tg_error_last());
        goto close_loop;
    }
    switch (args->verb) {
    case TG_CLI_STATUS:
        code = verb_status(&c);
        break;
    case TG_CLI_LIST:
        code = verb_list(&c);
        break;
    case TG_CLI_PROMOTE:
        code = verb_promote(&c);
        break;
    case TG_CLI_ABORT:
        code = verb_abort(&c);
        break;
    case TG_CLI_RETRY:
        code = verb_retry(&c);
        break;
    case TG_CLI_ROLLBACK:
        code = verb_rollback(&c);
        break;
    case TG_CLI_HISTORY:
        code = verb_history(&c);
        break;
    default:
        code = fail(NULL, "no command");
        break;
    }
    tg_client_close(c.client, NULL, NULL);
    /* uv_run returns early after a uv_stop(); go on until every handle is closed. */
    while (uv_run(&c.loop, UV_RUN_DEFAULT) != 0)
        ;
close_loop:
    uv_loop_close(&c.loop);
free_config:
    tg_kubeconfig_free(c.kc);
    return code;
}
