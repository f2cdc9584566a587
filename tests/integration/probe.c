/*
 * tollgate-probe: a small operator built on the runtime (kube/manager.h), for the runtime's
 * integration tests and the benchmark. It reconciles Widgets (widgets.test.tollgate.io/v1):
 * for each it keeps a ConfigMap "<name>-child" (owned by the Widget) whose data.value is the
 * Widget's spec.value, writes status.observedValue and status.observedGeneration, and records
 * an Event when it syncs. With --noop the reconcile does nothing at all (the benchmark's
 * "no-op reconciler"). It is the reference for how a controller is added: one reflector per kind
 * read, one controller, one reconcile function.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "kube/manager.h"
#include "util/error.h"
#include "util/log.h"

static const struct tg_resource widgets = {"test.tollgate.io", "v1", "widgets", true};
static const struct tg_resource configmaps = {"", "v1", "configmaps", true};

struct probe {
    struct tg_manager *manager;
    struct tg_reflector *widgets;
    struct tg_reflector *configmaps;
    bool noop;
};

/* One reconcile in flight. */
struct run {
    struct probe *p;
    char key[512];
    char ns[128];
    char name[256];
    void (*done)(void *arg, const struct tg_reconcile_result *r);
    void *done_arg;
    json_object *widget; /* our reference to the Widget being reconciled */
    bool retried;        /* the status write has been retried after a 409 */
};

static void finish(struct run *run, struct tg_reconcile_result r)
{
    if (run->widget)
        json_object_put(run->widget);
    run->done(run->done_arg, &r);
    free(run);
}

static json_object *path(json_object *o, const char *a, const char *b)
{
    json_object *v = json_object_object_get(o, a);
    return b ? json_object_object_get(v, b) : v;
}

static const char *str(json_object *o, const char *a, const char *b)
{
    json_object *v = path(o, a, b);
    return v ? json_object_get_string(v) : "";
}

static void write_status(struct run *run, json_object *widget);

static void on_reread(const struct tg_client_result *res, void *arg)
{
    struct run *run = arg;

    if (res->rc) {
        finish(run, tg_reconcile_err(res->rc));
        return;
    }
    write_status(run, res->body);
}

static void on_status(const struct tg_client_result *res, void *arg)
{
    struct run *run = arg;

    if (res->rc == TG_ECONFLICT && !run->retried) {
        /* Stale resourceVersion: re-read the Widget and write again, once. */
        run->retried = true;
        tg_log(TG_LOG_INFO, "status conflict; re-reading", "key", run->key);
        if (tg_client_get(tg_manager_client(run->p->manager), &widgets, run->ns, run->name,
                          on_reread, run, NULL))
            finish(run, tg_reconcile_err(TG_ECONFLICT));
        return;
    }
    if (res->rc) {
        finish(run, tg_reconcile_err(res->rc));
        return;
    }
    tg_manager_event(run->p->manager, res->body, TG_EVENT_NORMAL, "Synced",
                     "the child ConfigMap and the status follow spec.value");
    finish(run, tg_reconcile_ok());
}

/* Writes status.observedValue/observedGeneration onto widget (borrowed) with its resourceVersion.
 */
static void write_status(struct run *run, json_object *widget)
{
    json_object *copy = NULL;
    json_object *status;
    int rc;

    if (json_object_deep_copy(widget, &copy, NULL) != 0) {
        finish(run, tg_reconcile_err(TG_ENOMEM));
        return;
    }
    status = json_object_new_object();
    json_object_object_add(status, "observedValue",
                           json_object_new_string(str(widget, "spec", "value")));
    json_object_object_add(
        status, "observedGeneration",
        json_object_new_int64(json_object_get_int64(path(widget, "metadata", "generation"))));
    json_object_object_add(copy, "status", status);
    rc = tg_client_update(tg_manager_client(run->p->manager), &widgets, run->ns, run->name,
                          "status", copy, on_status, run, NULL);
    json_object_put(copy);
    if (rc)
        finish(run, tg_reconcile_err(rc));
}

static bool status_current(json_object *widget)
{
    return strcmp(str(widget, "status", "observedValue"), str(widget, "spec", "value")) == 0 &&
           json_object_get_int64(path(widget, "status", "observedGeneration")) ==
               json_object_get_int64(path(widget, "metadata", "generation"));
}

static void after_child(struct run *run)
{
    if (status_current(run->widget))
        finish(run, tg_reconcile_ok());
    else
        write_status(run, run->widget);
}

static void on_child(const struct tg_client_result *res, void *arg)
{
    struct run *run = arg;

    if (res->rc) {
        finish(run, tg_reconcile_err(res->rc));
        return;
    }
    after_child(run);
}

static json_object *child_for(json_object *widget, const char *name)
{
    json_object *cm = json_object_new_object();
    json_object *meta = json_object_new_object();
    json_object *labels = json_object_new_object();
    json_object *owner = json_object_new_object();
    json_object *owners = json_object_new_array();
    json_object *data = json_object_new_object();

    json_object_object_add(cm, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(cm, "kind", json_object_new_string("ConfigMap"));
    json_object_object_add(meta, "name", json_object_new_string(name));
    json_object_object_add(labels, "app.kubernetes.io/managed-by",
                           json_object_new_string("tollgate"));
    json_object_object_add(meta, "labels", labels);
    json_object_object_add(owner, "apiVersion", json_object_new_string("test.tollgate.io/v1"));
    json_object_object_add(owner, "kind", json_object_new_string("Widget"));
    json_object_object_add(owner, "name", json_object_new_string(str(widget, "metadata", "name")));
    json_object_object_add(owner, "uid", json_object_new_string(str(widget, "metadata", "uid")));
    json_object_object_add(owner, "controller", json_object_new_boolean(1));
    json_object_object_add(owner, "blockOwnerDeletion", json_object_new_boolean(1));
    json_object_array_add(owners, owner);
    json_object_object_add(meta, "ownerReferences", owners);
    json_object_object_add(cm, "metadata", meta);
    json_object_object_add(data, "value", json_object_new_string(str(widget, "spec", "value")));
    json_object_object_add(cm, "data", data);
    return cm;
}

static void start(void *ctx, const char *key,
                  void (*done)(void *arg, const struct tg_reconcile_result *r), void *done_arg)
{
    struct probe *p = ctx;
    struct run *run = calloc(1, sizeof(*run));
    struct tg_reconcile_result ok = {0};
    char child_key[600];
    json_object *widget, *child;
    const char *slash;
    int rc;

    if (!run) {
        struct tg_reconcile_result r = tg_reconcile_err(TG_ENOMEM);
        done(done_arg, &r);
        return;
    }
    run->p = p;
    run->done = done;
    run->done_arg = done_arg;
    snprintf(run->key, sizeof(run->key), "%s", key);
    slash = strchr(key, '/');
    snprintf(run->ns, sizeof(run->ns), "%.*s", slash ? (int)(slash - key) : 0, key);
    snprintf(run->name, sizeof(run->name), "%s", slash ? slash + 1 : key);
    if (p->noop) {
        free(run);
        done(done_arg, &ok);
        return;
    }
    widget = tg_cache_get(tg_reflector_cache(p->widgets), key);
    if (!widget || json_object_object_get(path(widget, "metadata", NULL), "deletionTimestamp")) {
        finish(run, ok);
        return;
    }
    run->widget = json_object_get(widget);
    snprintf(child_key, sizeof(child_key), "%s/%s-child", run->ns, run->name);
    child = tg_cache_get(tg_reflector_cache(p->configmaps), child_key);
    if (child && strcmp(str(child, "data", "value"), str(widget, "spec", "value")) == 0) {
        after_child(run);
        return;
    }
    char child_name[300];
    snprintf(child_name, sizeof(child_name), "%s-child", run->name);
    if (!child) {
        json_object *cm = child_for(widget, child_name);
        rc = tg_client_create(tg_manager_client(p->manager), &configmaps, run->ns, cm, on_child,
                              run, NULL);
        json_object_put(cm);
    } else {
        json_object *patch = json_object_new_object();
        json_object *data = json_object_new_object();
        json_object_object_add(data, "value", json_object_new_string(str(widget, "spec", "value")));
        json_object_object_add(patch, "data", data);
        rc = tg_client_patch(tg_manager_client(p->manager), &configmaps, run->ns, child_name, NULL,
                             TG_PATCH_MERGE, patch, NULL, on_child, run, NULL);
        json_object_put(patch);
    }
    if (rc)
        finish(run, tg_reconcile_err(rc));
}

static int usage(void)
{
    fputs(
        "usage: tollgate-probe --kubeconfig FILE [--port N] [--noop] [--leader-elect]\n"
        "       [--identity ID] [--lease-name NAME] [--lease-ms N] [--renew-ms N] [--retry-ms N]\n"
        "       [--qps N] [--burst N] [--log-level L]\n",
        stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct tg_kubeconfig_options kopt = {0};
    struct tg_manager_options mopt = {0};
    struct tg_controller_options copt = {0};
    struct tg_reflector_options ropt = {0};
    struct probe p = {0};
    struct tg_kubeconfig *kc = NULL;
    struct tg_controller *ctl;
    enum tg_log_level level = TG_LOG_INFO;
    uv_loop_t loop;
    int rc;

    mopt.listen_addr = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--noop")) {
            p.noop = true;
            continue;
        }
        if (!strcmp(a, "--leader-elect")) {
            mopt.leader_elect = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--kubeconfig"))
            kopt.path = v;
        else if (!strcmp(a, "--port"))
            mopt.listen_port = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--identity"))
            mopt.identity = v;
        else if (!strcmp(a, "--lease-name"))
            mopt.lease_name = v;
        else if (!strcmp(a, "--lease-ms"))
            mopt.lease_duration_ms = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--renew-ms"))
            mopt.renew_deadline_ms = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--retry-ms"))
            mopt.retry_period_ms = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--qps"))
            mopt.qps = strtod(v, NULL);
        else if (!strcmp(a, "--burst"))
            mopt.burst = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--log-level")) {
            if (tg_log_parse_level(v, &level))
                return usage();
        } else
            return usage();
    }
    tg_log_configure(TG_LOG_JSON, level, NULL, NULL);
    if (tg_kubeconfig_load(&kopt, &kc)) {
        fprintf(stderr, "tollgate-probe: %s\n", tg_error_last());
        return 1;
    }
    uv_loop_init(&loop);
    mopt.config = kc;
    if ((rc = tg_manager_new(&loop, &mopt, &p.manager))) {
        fprintf(stderr, "tollgate-probe: %s\n", tg_error_last());
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        tg_kubeconfig_free(kc);
        return 1;
    }
    ropt.resource = &widgets;
    rc = tg_manager_add_reflector(p.manager, &ropt, &p.widgets);
    ropt.resource = &configmaps;
    ropt.label_selector = "app.kubernetes.io/managed-by=tollgate";
    if (!rc)
        rc = tg_manager_add_reflector(p.manager, &ropt, &p.configmaps);
    copt.name = "widget";
    copt.reconciler = (struct tg_reconciler){"widget", &p, start};
    tg_queue_config_default(&copt.queue);
    copt.queue.max_concurrency = 4;
    if (!rc)
        rc = tg_manager_add_controller(p.manager, &copt, &ctl);
    if (!rc)
        rc = tg_controller_watch(ctl, tg_reflector_cache(p.widgets));
    if (!rc)
        rc = tg_controller_watch_owned(ctl, tg_reflector_cache(p.configmaps), "test.tollgate.io",
                                       "Widget");
    if (!rc)
        rc = tg_manager_start(p.manager);
    if (rc) {
        fprintf(stderr, "tollgate-probe: %s\n", tg_error_last());
        tg_manager_shutdown(p.manager, 1);
    } else {
        printf("listening %d\n", tg_manager_port(p.manager));
        fflush(stdout);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = tg_manager_exit_code(p.manager);
    tg_manager_free(p.manager);
    if (uv_loop_close(&loop) != 0)
        tg_log(TG_LOG_WARN, "handles left open at exit");
    tg_kubeconfig_free(kc);
    return rc;
}
