/* tollgate: the operator's entry point: flags, sub-commands, and wiring of the parts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "analysis/checker.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/manager.h"
#include "rollout/reconciler.h"
#include "server/metrics.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"
#include "util/log.h"
#include "verify/registry.h"
#include "verify/verifier.h"

/* The most --registry-http and --registry-mirror flags taken. */
#define MAX_REGISTRY_FLAGS 16

/* The command line, parsed. Strings are borrowed from argv. */
struct flags {
    const char *kubeconfig;
    const char *context;
    const char *namespace;       /* run: the namespace to watch; NULL: all */
    const char *listen;          /* run: address:port of /healthz, /readyz, /metrics */
    const char *gateway_api;     /* run: auto, on, off */
    const char *lease_name;      /* run */
    const char *lease_ns;        /* run */
    bool leader_elect;           /* run */
    uint64_t lease_ms;           /* run: 0 for the default (15 s) */
    uint64_t renew_ms;           /* run: 0 for the default (10 s) */
    uint64_t retry_ms;           /* run: 0 for the default (2 s) */
    double qps;                  /* run: API client rate limit */
    unsigned burst;              /* run */
    unsigned max_concurrent;     /* run: reconciles at once */
    const char *prom_url;        /* run: the default Prometheus address */
    const char *prom_token_file; /* run: a bearer token for Prometheus */
    const char *prom_username;   /* run: basic auth for Prometheus */
    const char *prom_password_file;
    const char *analysis_ca_file; /* run: CA bundle for Prometheus and HTTPS smoke tests */
    bool analysis_insecure;       /* run: skip TLS verification of those */
    const char *registry_ca;      /* run: CA bundle (PEM) for registries */
    const char *registry_http[MAX_REGISTRY_FLAGS]; /* run: hosts spoken to over plain HTTP */
    size_t n_registry_http;
    const char *mirror_from[MAX_REGISTRY_FLAGS]; /* run: --registry-mirror FROM=TO */
    const char *mirror_to[MAX_REGISTRY_FLAGS];
    char mirror_buf[MAX_REGISTRY_FLAGS][256];
    size_t n_mirrors;
    bool verify_deny;          /* run: --verify-unmatched deny */
    uint64_t verify_cache_ttl; /* run: how long a verdict is reused; 0: 10 minutes */
    const char *command;
    enum tg_log_format log_format;
    enum tg_log_level log_level;
};

static void usage(FILE *out)
{
    fputs(
        "usage: tollgate [--version] [--help] [--kubeconfig FILE] [--context NAME]\n"
        "                [--log-format json|text] [--log-level debug|info|warn|error] "
        "<command>\n"
        "\n"
        "commands:\n"
        "  check    connect to the API server and print its version\n"
        "  run      run the operator (Rollout and Release reconcilers)\n"
        "\n"
        "run flags:\n"
        "  --namespace NS               watch one namespace (default: all)\n"
        "  --listen ADDR:PORT           /healthz, /readyz, /metrics (default 0.0.0.0:8080)\n"
        "  --leader-elect true|false    elect a leader on a Lease (default true)\n"
        "  --lease-name NAME            (default tollgate-leader)\n"
        "  --lease-namespace NS         (default: the kubeconfig's namespace)\n"
        "  --lease-duration D           a lease's validity (default 15s)\n"
        "  --renew-deadline D           how long a leader tries to renew (default 10s)\n"
        "  --retry-period D             how often to try to acquire or renew (default 2s)\n"
        "  --gateway-api auto|on|off    watch HTTPRoutes (auto: whenever the API is served, found\n"
        "                               within 10 s if installed later; on: required)\n"
        "  --qps N --burst N            the API client's rate limit (default 20, 30)\n"
        "  --max-concurrent-reconciles N  (default 4)\n"
        "  --prometheus-url URL         Prometheus for analyses that name no address\n"
        "  --prometheus-token-file FILE   a bearer token for Prometheus\n"
        "  --prometheus-username NAME --prometheus-password-file FILE   basic auth\n"
        "  --analysis-ca-file FILE      CA bundle (PEM) for Prometheus and HTTPS smoke tests\n"
        "  --analysis-insecure-skip-tls-verify   do not verify their certificates\n"
        "  --registry-ca FILE           CA bundle (PEM) for OCI registries (verification)\n"
        "  --registry-http HOST         speak plain HTTP to HOST (\"127.0.0.1:5000\"; loopback\n"
        "                               registries in tests); repeatable\n"
        "  --registry-mirror FROM=TO    fetch images of registry FROM from TO; repeatable\n"
        "  --verify-unmatched allow|deny  an image no VerificationPolicy covers (and with no\n"
        "                               spec.verify) is delivered unverified, or fails (default\n"
        "                               allow)\n"
        "  --verify-cache-ttl D         how long a verdict is reused (default 10m)\n"
        "\n"
        "The configuration comes from --kubeconfig, else $KUBECONFIG (the first existing file\n"
        "of the list), else ~/.kube/config, else the in-cluster service account.\n",
        out);
}

/* Takes the value of a flag given as "--flag value" or "--flag=value"; NULL when absent. */
static const char *flag_value(const char *name, int argc, char **argv, int *i)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "tollgate: %s needs a value\n", name);
        return "";
    }
    return argv[++*i];
}

/* Parses a positive count flag; prints the problem and returns -1 when it is not one. */
static int parse_count(const char *name, const char *v, unsigned *out)
{
    char *end;
    long n = strtol(v, &end, 10);

    if (!*v || *end || n < 1 || n > 100000) {
        fprintf(stderr, "tollgate: %s must be a whole number from 1 to 100000\n", name);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

/* Parses a duration flag: "15s", "500ms", "2m" or plain seconds; -1 with a message if bad. */
static int parse_duration(const char *name, const char *v, uint64_t *out)
{
    char *end;
    double n = strtod(v, &end);
    double scale = 1000;

    if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else if (*end && strcmp(end, "s") != 0)
        n = -1;
    if (end == v || n <= 0 || n * scale > 86400000.0) {
        fprintf(stderr, "tollgate: %s must be a duration such as 15s or 500ms\n", name);
        return -1;
    }
    *out = (uint64_t)(n * scale);
    return 0;
}

/* Returns -1 to go on, or the exit code when parsing ends the program. */
static int parse_flags(int argc, char **argv, struct flags *f)
{
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--version") == 0) {
            printf("tollgate %s\n", TG_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if ((v = flag_value("--kubeconfig", argc, argv, &i))) {
            f->kubeconfig = v;
        } else if ((v = flag_value("--context", argc, argv, &i))) {
            f->context = v;
        } else if ((v = flag_value("--namespace", argc, argv, &i)) ||
                   (v = flag_value("-n", argc, argv, &i))) {
            f->namespace = v;
        } else if ((v = flag_value("--listen", argc, argv, &i))) {
            f->listen = v;
        } else if ((v = flag_value("--gateway-api", argc, argv, &i))) {
            if (strcmp(v, "auto") && strcmp(v, "on") && strcmp(v, "off")) {
                fprintf(stderr, "tollgate: --gateway-api must be auto, on or off\n");
                return 2;
            }
            f->gateway_api = v;
        } else if ((v = flag_value("--lease-name", argc, argv, &i))) {
            f->lease_name = v;
        } else if ((v = flag_value("--lease-namespace", argc, argv, &i))) {
            f->lease_ns = v;
        } else if ((v = flag_value("--leader-elect", argc, argv, &i))) {
            if (strcmp(v, "true") && strcmp(v, "false")) {
                fprintf(stderr, "tollgate: --leader-elect must be true or false\n");
                return 2;
            }
            f->leader_elect = strcmp(v, "true") == 0;
        } else if ((v = flag_value("--lease-duration", argc, argv, &i))) {
            if (parse_duration("--lease-duration", v, &f->lease_ms))
                return 2;
        } else if ((v = flag_value("--renew-deadline", argc, argv, &i))) {
            if (parse_duration("--renew-deadline", v, &f->renew_ms))
                return 2;
        } else if ((v = flag_value("--retry-period", argc, argv, &i))) {
            if (parse_duration("--retry-period", v, &f->retry_ms))
                return 2;
        } else if ((v = flag_value("--qps", argc, argv, &i))) {
            char *end;
            f->qps = strtod(v, &end);
            if (*end || f->qps < 0) {
                fprintf(stderr, "tollgate: --qps must be a non-negative number\n");
                return 2;
            }
        } else if ((v = flag_value("--burst", argc, argv, &i))) {
            if (parse_count("--burst", v, &f->burst))
                return 2;
        } else if ((v = flag_value("--max-concurrent-reconciles", argc, argv, &i))) {
            if (parse_count("--max-concurrent-reconciles", v, &f->max_concurrent))
                return 2;
        } else if ((v = flag_value("--prometheus-url", argc, argv, &i))) {
            if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
                fprintf(stderr, "tollgate: --prometheus-url must be an http:// or https:// URL\n");
                return 2;
            }
            f->prom_url = v;
        } else if ((v = flag_value("--prometheus-token-file", argc, argv, &i))) {
            f->prom_token_file = v;
        } else if ((v = flag_value("--prometheus-username", argc, argv, &i))) {
            f->prom_username = v;
        } else if ((v = flag_value("--prometheus-password-file", argc, argv, &i))) {
            f->prom_password_file = v;
        } else if ((v = flag_value("--analysis-ca-file", argc, argv, &i))) {
            f->analysis_ca_file = v;
        } else if (strcmp(argv[i], "--analysis-insecure-skip-tls-verify") == 0) {
            f->analysis_insecure = true;
        } else if ((v = flag_value("--registry-ca", argc, argv, &i))) {
            f->registry_ca = v;
        } else if ((v = flag_value("--registry-http", argc, argv, &i))) {
            if (f->n_registry_http == MAX_REGISTRY_FLAGS) {
                fprintf(stderr, "tollgate: at most %d --registry-http flags\n", MAX_REGISTRY_FLAGS);
                return 2;
            }
            f->registry_http[f->n_registry_http++] = v;
        } else if ((v = flag_value("--registry-mirror", argc, argv, &i))) {
            const char *eq = strchr(v, '=');
            size_t k = f->n_mirrors;
            if (!eq || eq == v || !eq[1] || strlen(v) >= sizeof(f->mirror_buf[0])) {
                fprintf(stderr, "tollgate: --registry-mirror must be FROM=TO, such as "
                                "docker.io=mirror.local:5000\n");
                return 2;
            }
            if (k == MAX_REGISTRY_FLAGS) {
                fprintf(stderr, "tollgate: at most %d --registry-mirror flags\n",
                        MAX_REGISTRY_FLAGS);
                return 2;
            }
            snprintf(f->mirror_buf[k], sizeof(f->mirror_buf[k]), "%.*s", (int)(eq - v), v);
            f->mirror_from[k] = f->mirror_buf[k];
            f->mirror_to[k] = eq + 1;
            f->n_mirrors++;
        } else if ((v = flag_value("--verify-unmatched", argc, argv, &i))) {
            if (strcmp(v, "allow") && strcmp(v, "deny")) {
                fprintf(stderr, "tollgate: --verify-unmatched must be allow or deny\n");
                return 2;
            }
            f->verify_deny = strcmp(v, "deny") == 0;
        } else if ((v = flag_value("--verify-cache-ttl", argc, argv, &i))) {
            if (parse_duration("--verify-cache-ttl", v, &f->verify_cache_ttl))
                return 2;
        } else if ((v = flag_value("--log-format", argc, argv, &i))) {
            if (tg_log_parse_format(v, &f->log_format) < 0) {
                fprintf(stderr, "tollgate: --log-format: %s\n", tg_error_last());
                usage(stderr);
                return 2;
            }
        } else if ((v = flag_value("--log-level", argc, argv, &i))) {
            if (tg_log_parse_level(v, &f->log_level) < 0) {
                fprintf(stderr, "tollgate: --log-level: %s\n", tg_error_last());
                usage(stderr);
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "tollgate: unknown flag %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!f->command) {
            f->command = argv[i];
        } else {
            fprintf(stderr, "tollgate: unexpected argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (v && !*v) {
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* What `tollgate check` carries through the loop. */
struct check {
    struct tg_client *client;
    int exit_code;
};

static void check_done(const struct tg_client_result *res, void *arg)
{
    struct check *chk = arg;
    const char *server = tg_client_server(chk->client);
    struct json_object *v;

    if (res->rc == 0) {
        const char *version = "(unknown version)";
        if (res->body && json_object_object_get_ex(res->body, "gitVersion", &v) &&
            json_object_is_type(v, json_type_string))
            version = json_object_get_string(v);
        printf("connected to %s: Kubernetes %s\n", server, version);
        chk->exit_code = 0;
    } else if (res->rc == TG_EUNAUTHORIZED) {
        fprintf(stderr, "tollgate: %s rejected the credentials (401 Unauthorized): %s\n", server,
                res->message);
    } else if (res->rc == TG_EFORBIDDEN) {
        fprintf(stderr, "tollgate: %s refused access to /version (403 Forbidden): %s\n", server,
                res->message);
    } else {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
    }
    tg_log(TG_LOG_DEBUG, "check finished", "result", tg_error_name(res->rc));
    tg_client_close(chk->client, NULL, NULL);
}

static int cmd_check(const struct flags *f)
{
    struct tg_kubeconfig_options kopt = {.path = f->kubeconfig, .context = f->context};
    struct tg_kubeconfig *kc;
    struct check chk = {.exit_code = 1};
    uv_loop_t loop;
    int rc;

    if ((rc = tg_kubeconfig_load(&kopt, &kc)) < 0) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        return 1;
    }
    tg_log(TG_LOG_DEBUG, "configuration loaded", "source", kc->source, "context", kc->context,
           "server", kc->server, "namespace", kc->namespace, "token", kc->token);
    if (uv_loop_init(&loop) != 0) {
        fprintf(stderr, "tollgate: cannot start the event loop\n");
        goto free_config;
    }
    struct tg_client_options copt = {.config = kc};
    if ((rc = tg_client_new(&loop, &copt, &chk.client)) < 0) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        goto close_loop;
    }
    if ((rc = tg_client_get_path(chk.client, "/version", check_done, &chk, NULL)) < 0) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        tg_client_close(chk.client, NULL, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
close_loop:
    uv_loop_close(&loop);
free_config:
    tg_kubeconfig_free(kc);
    return chk.exit_code;
}

/* ---- tollgate run ---------------------------------------------------------------------------- */

static const struct tg_resource res_rollouts = {"tollgate.io", "v1alpha1", "rollouts", true};
static const struct tg_resource res_releases = {"tollgate.io", "v1alpha1", "releases", true};
static const struct tg_resource res_deployments = {"apps", "v1", "deployments", true};
static const struct tg_resource res_services = {"", "v1", "services", true};
static const struct tg_resource res_ingresses = {"networking.k8s.io", "v1", "ingresses", true};
static const struct tg_resource res_jobs = {"batch", "v1", "jobs", true};
static const struct tg_resource res_httproutes = {"gateway.networking.k8s.io", "v1", "httproutes",
                                                  true};
static const struct tg_resource res_vpolicies = {"tollgate.io", "v1alpha1", "verificationpolicies",
                                                 false};

/* With --gateway-api auto, the longest wait between two looks for a Gateway API not served. */
#define GATEWAY_LOOK_MAX_MS 10000

static int parse_listen(const char *listen, char *addr, size_t n, int *port)
{
    const char *colon = strrchr(listen, ':');
    char *end;
    long p;

    if (!colon)
        return tg_error_set(TG_EINVALID, "--listen %s: expected ADDRESS:PORT", listen);
    p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return tg_error_set(TG_EINVALID, "--listen %s: bad port", listen);
    snprintf(addr, n, "%.*s", (int)(colon - listen), listen);
    *port = (int)p;
    return 0;
}

/* Reads a small file (a token, a password, a CA bundle); NULL with a message on failure. */
static char *read_small_file(const char *flag, const char *path, size_t *len, bool trim)
{
    char *data = NULL;
    size_t n = 0;

    if (tg_file_read(path, 1u << 20, &data, &n, NULL) < 0) {
        fprintf(stderr, "tollgate: %s: %s: %s\n", flag, path, tg_error_last());
        return NULL;
    }
    if (trim)
        tg_trim_right(data, &n);
    if (len)
        *len = n;
    return data;
}

/* The analysis checker's settings from the flags; the strings read are the caller's to free. */
struct analysis_secrets {
    char *token;
    char *password;
    char *ca;
};

static int analysis_options(const struct flags *f, struct tg_checker_options *o,
                            struct analysis_secrets *sec)
{
    memset(o, 0, sizeof(*o));
    o->prometheus_url = f->prom_url;
    o->username = f->prom_username;
    o->insecure = f->analysis_insecure;
    if (f->prom_token_file &&
        !(sec->token = read_small_file("--prometheus-token-file", f->prom_token_file, NULL, true)))
        return -1;
    if (f->prom_password_file &&
        !(sec->password =
              read_small_file("--prometheus-password-file", f->prom_password_file, NULL, true)))
        return -1;
    if (f->analysis_ca_file &&
        !(sec->ca = read_small_file("--analysis-ca-file", f->analysis_ca_file, &o->ca_len, false)))
        return -1;
    if (!!f->prom_username != !!f->prom_password_file) {
        fprintf(stderr, "tollgate: --prometheus-username and --prometheus-password-file go "
                        "together\n");
        return -1;
    }
    o->bearer_token = sec->token;
    o->password = sec->password;
    o->ca_pem = sec->ca;
    return 0;
}

/* What /metrics shows of analyses: gates run, queries, smoke attempts, automatic rollbacks. */
struct analysis_metrics {
    struct tg_rollout_reconciler *rec;
    struct tg_checker *checker;
    struct tg_verifier *verifier;
    bool verify_deny;
};

static int render_analysis_metrics(void *ctx, struct tg_buf *out)
{
    struct analysis_metrics *am = ctx;
    struct tg_rollout_stats rs;
    struct tg_checker_stats cs = {0};
    int rc;

    tg_rollout_reconciler_stats(am->rec, &rs);
    if (am->checker)
        tg_checker_stats(am->checker, &cs);
    rc = tg_metrics_family(out, "tollgate_analysis_queries_total", "counter",
                           "Prometheus queries made by analyses, by outcome.");
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_analysis_queries_total", "result=\"ok\"",
                               (double)cs.queries_ok);
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_analysis_queries_total", "result=\"error\"",
                               (double)cs.queries_failed);
    if (!rc)
        rc = tg_metrics_family(out, "tollgate_smoke_test_requests_total", "counter",
                               "HTTP requests made by smoke tests (retries included).");
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_smoke_test_requests_total", NULL,
                               (double)cs.http_attempts);
    if (!rc)
        rc = tg_metrics_family(out, "tollgate_gate_rollbacks_total", "counter",
                               "Deliveries rolled back automatically by a gate, by reason.");
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_gate_rollbacks_total", "reason=\"AnalysisFailed\"",
                               (double)rs.rollbacks_analysis);
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_gate_rollbacks_total", "reason=\"AnalysisError\"",
                               (double)rs.rollbacks_error);
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_gate_rollbacks_total", "reason=\"SmokeTestFailed\"",
                               (double)rs.rollbacks_smoke);
    if (!rc)
        rc = tg_metrics_family(out, "tollgate_verifications_total", "counter",
                               "Image verifications run before a Release starts (and re-checks).");
    if (!rc)
        rc = tg_metrics_sample(out, "tollgate_verifications_total", NULL, (double)rs.verifications);
    return rc;
}

static void cancel_checks(void *arg)
{
    struct analysis_metrics *am = arg;

    /* Queries in flight are called back (canceled) now, so their reconciles can drain. */
    if (am->rec) {
        tg_rollout_reconciler_set_checker(am->rec, NULL);
        tg_rollout_reconciler_set_verifier(am->rec, NULL, am->verify_deny);
    }
    tg_checker_free(am->checker);
    am->checker = NULL;
    tg_verifier_free(am->verifier); /* verifications in flight are called back, canceled */
    am->verifier = NULL;
}

static int cmd_run(const struct flags *f)
{
    struct tg_kubeconfig_options kopt = {.path = f->kubeconfig, .context = f->context};
    struct tg_manager_options mopt = {0};
    struct tg_reflector_options ropt = {0};
    struct tg_controller_options copt = {0};
    struct tg_rollout_caches caches = {0};
    struct tg_rollout_reconciler *rec = NULL;
    struct tg_checker_options chopt;
    struct analysis_secrets secrets = {0};
    struct tg_registry_options regopt = {0};
    char *registry_ca = NULL;
    struct tg_checker *checker = NULL;
    struct analysis_metrics am = {0};
    struct tg_manager *m = NULL;
    struct tg_controller *ctl;
    struct tg_reflector *refl;
    struct tg_kubeconfig *kc;
    char addr[128];
    int port = 0, rc, exit_code = 1;
    const char *gateway = f->gateway_api ? f->gateway_api : "auto";
    uv_loop_t loop;

    if (parse_listen(f->listen ? f->listen : "0.0.0.0:8080", addr, sizeof(addr), &port)) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        return 2;
    }
    if (f->registry_ca &&
        !(registry_ca = read_small_file("--registry-ca", f->registry_ca, &regopt.ca_len, false))) {
        free(secrets.token);
        free(secrets.password);
        free(secrets.ca);
        return 2;
    }
    regopt.ca_pem = registry_ca;
    regopt.http_hosts = f->registry_http;
    regopt.n_http_hosts = f->n_registry_http;
    regopt.mirror_from = f->mirror_from;
    regopt.mirror_to = f->mirror_to;
    regopt.n_mirrors = f->n_mirrors;
    if (analysis_options(f, &chopt, &secrets)) {
        free(registry_ca);
        free(secrets.token);
        free(secrets.password);
        free(secrets.ca);
        return 2;
    }
    if (tg_kubeconfig_load(&kopt, &kc) < 0) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        free(registry_ca);
        free(secrets.token);
        free(secrets.password);
        free(secrets.ca);
        return 1;
    }
    uv_loop_init(&loop);
    mopt.config = kc;
    mopt.qps = f->qps;
    mopt.burst = f->burst;
    mopt.listen_addr = addr;
    mopt.listen_port = port;
    mopt.leader_elect = f->leader_elect;
    mopt.lease_name = f->lease_name;
    mopt.lease_namespace = f->lease_ns;
    mopt.lease_duration_ms = f->lease_ms;
    mopt.renew_deadline_ms = f->renew_ms;
    mopt.retry_period_ms = f->retry_ms;
    if ((rc = tg_manager_new(&loop, &mopt, &m))) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        goto close_loop;
    }
    ropt.namespace = f->namespace;
    if ((rc = tg_checker_new(&loop, &chopt, &checker))) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        tg_manager_shutdown(m, 1);
        goto run_loop;
    }
    am.checker = checker;
    am.verify_deny = f->verify_deny;
    tg_manager_on_shutdown(m, cancel_checks, &am);
    if ((rc = tg_verifier_new(&loop, &regopt, (int64_t)f->verify_cache_ttl, &am.verifier))) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        tg_manager_shutdown(m, 1);
        goto run_loop;
    }
    struct {
        const struct tg_resource *res;
        struct tg_cache **cache;
    } kinds[] = {
        {&res_rollouts, &caches.rollouts},
        {&res_releases, &caches.releases},
        {&res_deployments, &caches.deployments},
        {&res_services, &caches.services},
        {&res_ingresses, &caches.ingresses},
        {&res_httproutes, &caches.httproutes},
        {&res_jobs, &caches.jobs},
        {&res_vpolicies, &caches.vpolicies},
    };
    rc = 0;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !rc; i++) {
        if (kinds[i].res == &res_httproutes && strcmp(gateway, "off") == 0)
            continue;
        ropt.resource = kinds[i].res;
        /* VerificationPolicies are cluster-scoped: watched whatever --namespace says. */
        ropt.namespace = kinds[i].res == &res_vpolicies ? NULL : f->namespace;
        /* auto: Gateway API may be installed after the operator started; it is found then. The
         * VerificationPolicy CRD may come with an upgrade after the operator's: none until then. */
        ropt.optional = (kinds[i].res == &res_httproutes && strcmp(gateway, "auto") == 0) ||
                        kinds[i].res == &res_vpolicies;
        ropt.informer.backoff_max_ms = ropt.optional ? GATEWAY_LOOK_MAX_MS : 0;
        /* Only the smoke-test Jobs tollgate made: not every Job of the cluster. */
        ropt.label_selector =
            kinds[i].res == &res_jobs ? "app.kubernetes.io/managed-by=tollgate" : NULL;
        if (!(rc = tg_manager_add_reflector(m, &ropt, &refl)))
            *kinds[i].cache = tg_reflector_cache(refl);
        if (!rc && kinds[i].res == &res_httproutes)
            caches.httproutes_source = refl;
    }
    if (!rc)
        rc = tg_rollout_reconciler_new(m, &caches, &rec);
    if (!rc) {
        tg_rollout_reconciler_set_checker(rec, checker);
        tg_rollout_reconciler_set_verifier(rec, am.verifier, f->verify_deny);
        am.rec = rec;
        tg_manager_add_metrics(m, render_analysis_metrics, &am);
    }
    copt.name = "rollout";
    tg_queue_config_default(&copt.queue);
    copt.queue.max_concurrency = f->max_concurrent ? f->max_concurrent : 4;
    if (!rc) {
        copt.reconciler = tg_rollout_reconciler_as(rec);
        rc = tg_manager_add_controller(m, &copt, &ctl);
    }
    if (!rc)
        rc = tg_rollout_reconciler_watch(rec, ctl);
    if (!rc)
        rc = tg_manager_start(m);
    if (rc) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        tg_manager_shutdown(m, 1);
    } else {
        tg_log(TG_LOG_INFO, "reconciling rollouts", "namespace",
               f->namespace ? f->namespace : "(all)", "gateway_api", gateway);
    }
run_loop:
    uv_run(&loop, UV_RUN_DEFAULT);
    exit_code = tg_manager_exit_code(m);
    tg_manager_free(m);
    am.rec = NULL;
    tg_rollout_reconciler_free(rec);
    cancel_checks(&am);
close_loop:
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        tg_log(TG_LOG_WARN, "event loop handles left open at exit");
    tg_kubeconfig_free(kc);
    free(registry_ca);
    free(secrets.token);
    free(secrets.password);
    free(secrets.ca);
    return exit_code;
}

int main(int argc, char **argv)
{
    struct flags f = {.log_format = TG_LOG_JSON, .log_level = TG_LOG_INFO, .leader_elect = true};
    int rc = parse_flags(argc, argv, &f);

    if (rc >= 0)
        return rc;
    tg_log_configure(f.log_format, f.log_level, NULL, NULL);
    if (!f.command) {
        usage(stderr);
        return 2;
    }
    if (strcmp(f.command, "check") == 0)
        return cmd_check(&f);
    if (strcmp(f.command, "run") == 0)
        return cmd_run(&f);
    fprintf(stderr, "tollgate: unknown command %s\n", f.command);
    usage(stderr);
    return 2;
}
