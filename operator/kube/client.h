/*
 * The REST client for any group/version/resource, asynchronous on the one libuv loop.
 *
 * A call is described by a struct tg_client_request (verb, resource, namespace, name,
 * subresource, query, body) and ends with exactly one call of its callback with a struct
 * tg_client_result. HTTP statuses map to TG_E* codes in one place (tg_client_map_status), and
 * the server's Status message and reason travel in the result and in the last-error message.
 * 429 and 5xx answers are retried with exponential backoff that honours Retry-After, up to a
 * bounded number of attempts (never for watches: the informer owns their retries). A token
 * bucket limits the client's request rate; waiting happens on uv timers, never by blocking.
 * Requests are counted by verb and HTTP status for metrics. Every create, update and patch
 * carries fieldManager= (the options' field_manager, "tollgate" by default) unless the call's
 * query names one, so the apiserver records the operator's fields under that manager.
 *
 * Watches stream: the data callback gets the response bytes as they arrive (framing them into
 * events is the watch module's job), and the result callback runs once when the stream ends.
 */
#ifndef TG_KUBE_CLIENT_H
#define TG_KUBE_CLIENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "kube/config.h"
#include "kube/http.h"
#include "util/buf.h"
#include "util/clock.h"

/* What a call does; also the metrics label. */
enum tg_verb {
    TG_VERB_GET = 0,
    TG_VERB_LIST,
    TG_VERB_WATCH,
    TG_VERB_CREATE,
    TG_VERB_UPDATE,
    TG_VERB_PATCH,
    TG_VERB_DELETE,
    TG_VERB_COUNT
};

/* The lower-case name of a verb ("get"), as the API server's audit log spells it. */
const char *tg_verb_name(enum tg_verb verb);

/* A resource type: {"apps", "v1", "deployments", true}; group "" or NULL is the core group. */
struct tg_resource {
    const char *group;
    const char *version;
    const char *resource; /* plural, lower case */
    bool namespaced;
};

enum tg_patch_type {
    TG_PATCH_MERGE = 0, /* application/merge-patch+json (RFC 7386) */
    TG_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in kinds only) */
    TG_PATCH_JSON,      /* application/json-patch+json (RFC 6902); the body is an array */
    TG_PATCH_APPLY,     /* application/apply-patch+yaml: server-side apply; needs field_manager */
};

/* Query parameters; zero means "not sent". Strings are borrowed for the call to tg_client_do. */
struct tg_query {
    const char *label_selector;
    const char *field_selector;
    const char *continue_token;
    const char *resource_version;
    const char *field_manager;
    const char *propagation_policy; /* Foreground, Background, Orphan */
    long limit;
    long timeout_seconds;
    bool watch; /* set by the watch verb; no need to set it by hand */
    bool allow_watch_bookmarks;
    bool force; /* server-side apply: take over conflicting fields */
};

/*
 * One call. Everything is borrowed for the duration of tg_client_do, which copies what it
 * keeps: in particular the body is serialized before tg_client_do returns and the caller keeps
 * its json-c reference.
 */
struct tg_client_request {
    enum tg_verb verb;
    const struct tg_resource *resource; /* NULL for a raw path */
    const char *path;                   /* raw path ("/version") when resource is NULL */
    const char *namespace;              /* NULL: cluster-scoped, or all namespaces for list/watch */
    const char *name;                   /* get, update, patch, delete: required */
    const char *subresource;            /* "status", or NULL */
    struct tg_query query;
    struct json_object *body;      /* create, update, patch; optional DeleteOptions for delete */
    enum tg_patch_type patch_type; /* patch only */
    tg_http_data_cb on_data;       /* watch: the bytes of the stream, with the call's arg */
    long timeout_ms;               /* 0: the client's default, none for a watch */
};

/* What a call's callback sees. Borrowed for the duration of the callback. */
struct tg_client_result {
    int rc;              /* 0 or a TG_E* code */
    long status;         /* the last HTTP status, 0 when no response arrived */
    const char *message; /* "" on success; the server's Status message or the transport error */
    const char *reason;  /* the Status reason ("NotFound", "Conflict"), "" when none */
    struct json_object *body; /* the parsed response (the object, a list, a Status) or NULL;
                                 borrowed: json_object_get() it to keep it */
    long retry_after_s;       /* the last Retry-After in seconds, -1 when none */
    unsigned attempts;        /* HTTP requests made for this call */
};

typedef void (*tg_client_cb)(const struct tg_client_result *res, void *arg);

struct tg_client;
struct tg_client_call;

/* Zero it and set what differs from the defaults. */
struct tg_client_options {
    struct tg_kubeconfig *config; /* required; borrowed: must outlive the client. The token is
                                     re-read through it when its file changes */
    double qps;                   /* client-side rate limit; 0: 20; negative: unlimited */
    unsigned burst;               /* 0: 30 */
    unsigned max_attempts;        /* for 429/5xx, counting the first; 0: 5 */
    uint64_t backoff_base_ms;     /* 0: 200 */
    uint64_t backoff_max_ms;      /* longest wait between attempts; 0: 30000 */
    long timeout_ms;              /* per request; 0: 30000 */
    size_t max_body;              /* response body cap; 0: 64 MiB */
    const struct tg_clock *clock; /* for the token bucket; NULL: the system clock */
    const char *user_agent;       /* NULL: tollgate/<version> */
    const char *field_manager;    /* fieldManager= of every create, update and patch whose query
                                     names none (the apiserver records managedFields under it);
                                     NULL: "tollgate"; "": none. Copied. Deletes carry none:
                                     DeleteOptions has no fieldManager */
};

/*
 * Makes a client on loop. *out is the caller's; release it with tg_client_close and run the
 * loop until the close callback. Returns 0, TG_EINVALID or TG_ENOMEM.
 */
int tg_client_new(uv_loop_t *loop, const struct tg_client_options *opt, struct tg_client **out);

/*
 * Starts a call. On success cb runs exactly once, never before this returns; *out (optional)
 * names the call for tg_client_cancel until cb starts. On failure (TG_EINVALID for a request
 * that cannot be built, TG_ENOMEM, TG_ECANCELED when closing) cb is never called.
 */
int tg_client_do(struct tg_client *c, const struct tg_client_request *req, tg_client_cb cb,
                 void *arg, struct tg_client_call **out);

/* Abandons a call: cb runs with TG_ECANCELED (see tg_http_cancel for when). */
void tg_client_cancel(struct tg_client_call *call);

/*
 * Closes the client: calls in flight or waiting end with TG_ECANCELED (exactly once each), the
 * handles close asynchronously, and closed_cb (optional) runs from the loop when all is freed.
 * Safe to call from a call's callback.
 */
void tg_client_close(struct tg_client *c, void (*closed_cb)(void *arg), void *arg);

/* Shorthands for tg_client_do; ownership as there. ns may be NULL for cluster-scoped types. */
int tg_client_get(struct tg_client *c, const struct tg_resource *res, const char *ns,
                  const char *name, tg_client_cb cb, void *arg, struct tg_client_call **out);
int tg_client_list(struct tg_client *c, const struct tg_resource *res, const char *ns,
                   const struct tg_query *q, tg_client_cb cb, void *arg,
                   struct tg_client_call **out);
int tg_client_create(struct tg_client *c, const struct tg_resource *res, const char *ns,
                     struct json_object *obj, tg_client_cb cb, void *arg,
                     struct tg_client_call **out);
/* subresource: NULL or "status". */
int tg_client_update(struct tg_client *c, const struct tg_resource *res, const char *ns,
                     const char *name, const char *subresource, struct json_object *obj,
                     tg_client_cb cb, void *arg, struct tg_client_call **out);
/* q may carry field_manager (required for TG_PATCH_APPLY) and force. */
int tg_client_patch(struct tg_client *c, const struct tg_resource *res, const char *ns,
                    const char *name, const char *subresource, enum tg_patch_type type,
                    struct json_object *patch, const struct tg_query *q, tg_client_cb cb, void *arg,
                    struct tg_client_call **out);
int tg_client_delete(struct tg_client *c, const struct tg_resource *res, const char *ns,
                     const char *name, const char *propagation_policy, tg_client_cb cb, void *arg,
                     struct tg_client_call **out);
/* A watch: on_data gets the stream's bytes with arg; cb runs when it ends. */
int tg_client_watch(struct tg_client *c, const struct tg_resource *res, const char *ns,
                    const struct tg_query *q, tg_http_data_cb on_data, tg_client_cb cb, void *arg,
                    struct tg_client_call **out);
/* GET of a raw path such as "/version" or "/apis". */
int tg_client_get_path(struct tg_client *c, const char *path, tg_client_cb cb, void *arg,
                       struct tg_client_call **out);

/* The server this client talks to, borrowed from the config. */
const char *tg_client_server(const struct tg_client *c);

/*
 * Appends the request's path and query ("/apis/apps/v1/namespaces/x/deployments?limit=5") to
 * out. Pure: for tests and logs. Returns 0, TG_EINVALID (with the reason) or TG_ENOMEM.
 */
int tg_client_build_path(const struct tg_client_request *req, struct tg_buf *out);

/* The HTTP status mapping (tg_error_from_http in util/error.h), as the client applies it. */
int tg_client_map_status(long status);

/* How retries are spaced; the client fills it from its options. */
struct tg_retry_policy {
    unsigned max_attempts; /* attempts in all, counting the first */
    uint64_t base_ms;      /* the first backoff */
    uint64_t max_ms;       /* the longest wait */
    double jitter;         /* stretch each backoff by up to this fraction */
};

/*
 * Whether to try again after `attempts` attempts, the last of which failed with a retryable
 * status, and when: *delay_ms is the larger of Retry-After (retry_after_s >= 0) and the
 * jittered exponential backoff (r in [0, 1) picks the jitter). Gives up when the attempts are
 * spent or when Retry-After asks for longer than max_ms. Pure.
 */
bool tg_client_retry_delay(const struct tg_retry_policy *p, unsigned attempts, long retry_after_s,
                           double r, uint64_t *delay_ms);

/* Highest HTTP status counted separately; larger ones are counted under 0 with failures. */
#define TG_CLIENT_MAX_STATUS 599

/* The field manager the operator's writes are recorded under (metadata.managedFields). */
#define TG_CLIENT_FIELD_MANAGER "tollgate"

/* Requests sent by verb and HTTP status (0: no response). Counts every attempt. */
uint64_t tg_client_request_count(const struct tg_client *c, enum tg_verb verb, long status);

/* Calls fn for every non-zero counter, in verb then status order. */
void tg_client_foreach_request_count(const struct tg_client *c,
                                     void (*fn)(enum tg_verb verb, long status, uint64_t n,
                                                void *arg),
                                     void *arg);

#endif
