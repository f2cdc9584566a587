/*
 * The manager: the operator's runtime in one place, on one libuv loop. It owns the REST client,
 * the reflectors (one shared cache per resource type), the controllers, leader election on a
 * Lease, the Event recorder, the HTTP server (/healthz, /readyz, /metrics) and the signal
 * handlers, and it shuts them all down in order. Adding a controller for a new kind is one
 * tg_manager_add_reflector per kind it reads and one tg_manager_add_controller.
 */
#ifndef TG_KUBE_MANAGER_H
#define TG_KUBE_MANAGER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/controller.h"
#include "kube/events.h"
#include "kube/reflector.h"
#include "util/clock.h"

struct tg_manager_options {
    struct tg_kubeconfig *config; /* borrowed: must outlive the manager */
    const struct tg_clock *clock; /* NULL: the system clock */
    double qps;                   /* the client's rate limit; 0: the client's default */
    unsigned burst;

    const char *listen_addr; /* the HTTP server's address; NULL: 0.0.0.0 */
    int listen_port;         /* 0: the kernel picks; negative: no server */

    bool leader_elect;           /* false: dispatch at once, no Lease */
    const char *lease_namespace; /* default: the kubeconfig's namespace */
    const char *lease_name;      /* default: "tollgate-leader" */
    const char *identity;        /* default: hostname_pid */
    uint64_t lease_duration_ms;  /* 0: 15 s */
    uint64_t renew_deadline_ms;  /* 0: 10 s */
    uint64_t retry_period_ms;    /* 0: 2 s */

    uint64_t shutdown_grace_ms; /* how long in-flight reconciles may finish; 0: 1500 ms */
};

struct tg_manager;

/*
 * Makes a manager on loop. *out is the caller's: tg_manager_run (or start, then uv_run), then
 * tg_manager_free. Returns 0, or TG_EINVALID/TG_ENOMEM with a message.
 */
int tg_manager_new(uv_loop_t *loop, const struct tg_manager_options *opt, struct tg_manager **out);

/* The shared client; borrowed. */
struct tg_client *tg_manager_client(struct tg_manager *m);

/* The clock everything runs on; borrowed. */
const struct tg_clock *tg_manager_clock(const struct tg_manager *m);

/* Adds a reflector (one cache) for a resource type; *out is borrowed from the manager. */
int tg_manager_add_reflector(struct tg_manager *m, const struct tg_reflector_options *opt,
                             struct tg_reflector **out);

/* Adds a controller; *out is borrowed from the manager. */
int tg_manager_add_controller(struct tg_manager *m, const struct tg_controller_options *opt,
                              struct tg_controller **out);

/*
 * Records an Event about obj (a Kubernetes object; borrowed), de-duplicated and rate-limited
 * (events.h); the write happens asynchronously and its failure is only logged.
 */
void tg_manager_event(struct tg_manager *m, json_object *obj, enum tg_event_type type,
                      const char *reason, const char *message);

/*
 * Starts everything: the server, the reflectors, the signal handlers, then leader election (or
 * dispatching at once). Returns 0, or an error (a busy port) after which the caller runs the
 * loop to let what started close, and frees the manager.
 */
int tg_manager_start(struct tg_manager *m);

/*
 * Begins an orderly shutdown, as SIGTERM does: controllers stop taking keys, reconciles in
 * flight get the grace period, the Lease is released, everything closes, and the loop ends.
 * exit_code becomes the process's exit code (the first call's wins).
 */
void tg_manager_shutdown(struct tg_manager *m, int exit_code);

/*
 * Calls cb(arg) once, when the shutdown begins (before the reconciles in flight drain): for
 * what must cancel its own work so that they can finish (the analysis checker). One callback.
 */
void tg_manager_on_shutdown(struct tg_manager *m, void (*cb)(void *arg), void *arg);

/*
 * Adds the metric families render writes (tg_metrics_family/sample) to /metrics, before the
 * process metrics. render returns 0 or TG_ETOOBIG. One renderer.
 */
struct tg_buf;
void tg_manager_add_metrics(struct tg_manager *m, int (*render)(void *ctx, struct tg_buf *out),
                            void *ctx);

/* The exit code set by the shutdown. */
int tg_manager_exit_code(const struct tg_manager *m);

/* True when every reflector has synced (for /readyz). */
bool tg_manager_synced(const struct tg_manager *m);

/* True while this process leads (always true without leader election, once started). */
bool tg_manager_leading(const struct tg_manager *m);

/* The HTTP server's port, or -1. */
int tg_manager_port(const struct tg_manager *m);

/* Frees a manager whose loop has ended. NULL is fine. */
void tg_manager_free(struct tg_manager *m);

#endif
