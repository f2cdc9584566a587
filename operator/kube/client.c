/* The REST client; see client.h. */
#include "kube/client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"
#include "util/ratelimit.h"

#define DEFAULT_QPS             20.0
#define DEFAULT_BURST           30u
#define DEFAULT_ATTEMPTS        5u
#define DEFAULT_BACKOFF_BASE_MS 200u
#define DEFAULT_BACKOFF_MAX_MS  30000u
#define DEFAULT_TIMEOUT_MS      30000L
#define DEFAULT_MAX_BODY        (64u << 20)
#define RETRY_JITTER            0.2

struct tg_client_call {
    struct tg_client *c;
    enum tg_verb verb;
    const char *method;       /* static string */
    const char *content_type; /* static string or NULL */
    char *url;                /* owned: server + path */
    char *path;               /* owned: for messages */
    char *body;               /* owned serialized body, or NULL */
    size_t body_len;
    long timeout_ms;
    tg_http_data_cb on_data;
    tg_client_cb cb;
    void *arg;
    unsigned attempts;
    long last_status;
    long retry_after_s;
    bool canceled;
    struct tg_http_request *http;       /* while a request is in flight */
    bool waiting;                       /* in the wait list */
    uint64_t due_ms;                    /* loop time at which a waiting call is sent */
    struct tg_client_call *prev, *next; /* every live call */
    struct tg_client_call *wnext;       /* the wait list, by due_ms */
};

struct tg_client {
    uv_loop_t *loop;
    struct tg_http *http;
    struct tg_kubeconfig *config;
    const struct tg_clock *clock;
    struct tg_bucket bucket;
    struct tg_retry_policy retry;
    long timeout_ms;
    size_t max_body;
    char *field_manager; /* default fieldManager of writes; NULL: none */
    uint64_t rng;        /* xorshift state for jitter */
    uv_timer_t timer;    /* wakes the first waiting call */
    struct tg_client_call *calls;
    struct tg_client_call *waiting;
    uint64_t counts[TG_VERB_COUNT][TG_CLIENT_MAX_STATUS + 1];
    bool closing;
    int closes_pending; /* the http client and the timer */
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

static const char *const verb_names[TG_VERB_COUNT] = {"get",    "list",  "watch", "create",
                                                      "update", "patch", "delete"};

const char *tg_verb_name(enum tg_verb verb)
{
    return (unsigned)verb < TG_VERB_COUNT ? verb_names[verb] : "unknown";
}

int tg_client_map_status(long status)
{
    return tg_error_from_http(status);
}

bool tg_client_retry_delay(const struct tg_retry_policy *p, unsigned attempts, long retry_after_s,
                           double r, uint64_t *delay_ms)
{
    if (attempts >= p->max_attempts)
        return false;
    uint64_t backoff = tg_backoff_delay_ms(p->base_ms, p->max_ms, attempts ? attempts - 1 : 0);
    backoff = tg_backoff_jitter_ms(backoff, p->jitter, r);
    if (backoff > p->max_ms)
        backoff = p->max_ms;
    if (retry_after_s >= 0) {
        uint64_t ra = (uint64_t)retry_after_s * 1000u;
        if (ra > p->max_ms)
            return false;
        if (ra > backoff)
            backoff = ra;
    }
    *delay_ms = backoff;
    return true;
}

/* --- paths ------------------------------------------------------------------------------ */

/* Appends one path segment, escaped. */
static int append_segment(struct tg_buf *out, const char *s)
{
    char *esc = curl_easy_escape(NULL, s, 0);
    int rc;

    if (!esc)
        return tg_error_set(TG_ENOMEM, "out of memory");
    if ((rc = tg_buf_append_str(out, "/")) == 0)
        rc = tg_buf_append_str(out, esc);
    curl_free(esc);
    return rc;
}

static int append_param(struct tg_buf *out, bool *first, const char *key, const char *value)
{
    char *esc;
    int rc;

    if (!value)
        return 0;
    if (!(esc = curl_easy_escape(NULL, value, 0)))
        return tg_error_set(TG_ENOMEM, "out of memory");
    if ((rc = tg_buf_append_str(out, *first ? "?" : "&")) == 0 &&
        (rc = tg_buf_append_str(out, key)) == 0 && (rc = tg_buf_append_str(out, "=")) == 0)
        rc = tg_buf_append_str(out, esc);
    curl_free(esc);
    *first = false;
    return rc;
}

static int append_long(struct tg_buf *out, bool *first, const char *key, long v)
{
    char num[32];

    if (v <= 0)
        return 0;
    snprintf(num, sizeof(num), "%ld", v);
    return append_param(out, first, key, num);
}

static int append_query(const struct tg_query *q, bool watch, struct tg_buf *out)
{
    bool first = true;
    int rc;

    if ((rc = append_param(out, &first, "labelSelector", q->label_selector)) < 0 ||
        (rc = append_param(out, &first, "fieldSelector", q->field_selector)) < 0 ||
        (rc = append_long(out, &first, "limit", q->limit)) < 0 ||
        (rc = append_param(out, &first, "continue", q->continue_token)) < 0 ||
        (rc = append_param(out, &first, "resourceVersion", q->resource_version)) < 0 ||
        (rc = append_param(out, &first, "watch", watch || q->watch ? "1" : NULL)) < 0 ||
        (rc = append_param(out, &first, "allowWatchBookmarks",
                           q->allow_watch_bookmarks ? "true" : NULL)) < 0 ||
        (rc = append_long(out, &first, "timeoutSeconds", q->timeout_seconds)) < 0 ||
        (rc = append_param(out, &first, "fieldManager", q->field_manager)) < 0 ||
        (rc = append_param(out, &first, "force", q->force ? "true" : NULL)) < 0 ||
        (rc = append_param(out, &first, "propagationPolicy", q->propagation_policy)) < 0)
        return rc;
    return 0;
}

static bool empty(const char *s)
{
    return !s || !*s;
}

int tg_client_build_path(const struct tg_client_request *req, struct tg_buf *out)
{
    const struct tg_resource *res = req->resource;
    bool collection =
        req->verb == TG_VERB_LIST || req->verb == TG_VERB_WATCH || req->verb == TG_VERB_CREATE;
    int rc;

    if ((unsigned)req->verb >= TG_VERB_COUNT)
        return tg_error_set(TG_EINVALID, "unknown verb %d", (int)req->verb);
    if (!res) {
        if (empty(req->path) || req->path[0] != '/')
            return tg_error_set(TG_EINVALID, "a request needs a resource or a path starting "
                                             "with /");
        if ((rc = tg_buf_append_str(out, req->path)) < 0)
            return rc;
        return append_query(&req->query, req->verb == TG_VERB_WATCH, out);
    }
    if (empty(res->version) || empty(res->resource))
        return tg_error_set(TG_EINVALID, "a resource needs a version and a plural name");
    if (collection && !empty(req->name))
        return tg_error_set(TG_EINVALID, "%s %s takes no name", tg_verb_name(req->verb),
                            res->resource);
    if (!collection && empty(req->name))
        return tg_error_set(TG_EINVALID, "%s %s needs a name", tg_verb_name(req->verb),
                            res->resource);
    if (!res->namespaced && !empty(req->namespace))
        return tg_error_set(TG_EINVALID, "%s are cluster-scoped: no namespace", res->resource);
    if (res->namespaced && empty(req->namespace) && req->verb != TG_VERB_LIST &&
        req->verb != TG_VERB_WATCH)
        return tg_error_set(TG_EINVALID, "%s %s needs a namespace", tg_verb_name(req->verb),
                            res->resource);
    if (!empty(req->subresource) && empty(req->name))
        return tg_error_set(TG_EINVALID, "subresource %s needs a name", req->subresource);
    if (empty(res->group))
        rc = tg_buf_append_str(out, "/api");
    else if ((rc = tg_buf_append_str(out, "/apis")) == 0)
        rc = append_segment(out, res->group);
    if (rc == 0)
        rc = append_segment(out, res->version);
    if (rc == 0 && !empty(req->namespace) && (rc = tg_buf_append_str(out, "/namespaces")) == 0)
        rc = append_segment(out, req->namespace);
    if (rc == 0)
        rc = append_segment(out, res->resource);
    if (rc == 0 && !empty(req->name))
        rc = append_segment(out, req->name);
    if (rc == 0 && !empty(req->subresource))
        rc = append_segment(out, req->subresource);
    if (rc == 0)
        rc = append_query(&req->query, req->verb == TG_VERB_WATCH, out);
    return rc;
}

/* --- calls ------------------------------------------------------------------------------ */

static double next_random(struct tg_client *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return (double)(c->rng >> 11) / 9007199254740992.0;
}

static void count(struct tg_client *c, enum tg_verb verb, long status)
{
    if (status < 0 || status > TG_CLIENT_MAX_STATUS)
        status = 0;
    c->counts[verb][status]++;
}

static void unlink_call(struct tg_client *c, struct tg_client_call *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
}

static void free_call(struct tg_client_call *call)
{
    free(call->url);
    free(call->path);
    free(call->body);
    free(call);
}

/*
 * Ends a call: one callback, then the call is freed; the caller drops the body reference after.
 * The caller has set the last-error message when res->rc < 0.
 */
static void complete(struct tg_client_call *call, struct tg_client_result *res)
{
    unlink_call(call->c, call);
    res->attempts = call->attempts;
    call->cb(res, call->arg);
    free_call(call);
}

static void complete_error(struct tg_client_call *call, int rc, const char *message)
{
    struct tg_client_result res = {.rc = rc,
                                   .status = call->last_status,
                                   .message = message,
                                   .reason = "",
                                   .retry_after_s = call->retry_after_s};
    tg_error_set(rc, "%s", message);
    complete(call, &res);
}

static void wait_remove(struct tg_client *c, struct tg_client_call *call)
{
    for (struct tg_client_call **p = &c->waiting; *p; p = &(*p)->wnext) {
        if (*p == call) {
            *p = call->wnext;
            break;
        }
    }
    call->waiting = false;
}

static void on_timer(uv_timer_t *t);

static void arm_timer(struct tg_client *c)
{
    if (!c->waiting) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_now(c->loop);
    uint64_t due = c->waiting->due_ms;
    uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
}

static void wait_insert(struct tg_client *c, struct tg_client_call *call, uint64_t delay_ms)
{
    struct tg_client_call **p = &c->waiting;

    /*
     * delay_ms counts from the bucket's clock reading, which is now; the loop's cached time
     * may be older (calls made in one callback, a slow one), and a due time counted from it
     * would send the call early, faster than the rate.
     */
    uv_update_time(c->loop);
    call->due_ms = uv_now(c->loop) + delay_ms;
    while (*p && (*p)->due_ms <= call->due_ms)
        p = &(*p)->wnext;
    call->wnext = *p;
    *p = call;
    call->waiting = true;
    arm_timer(c);
}

static void http_done(int rc, const struct tg_http_response *resp, void *arg);

static int http_data(const char *data, size_t len, void *arg)
{
    struct tg_client_call *call = arg;

    return call->on_data(data, len, call->arg);
}

/* Sends one attempt now. Returns 0, or an error with the call untouched otherwise. */
static int send_now(struct tg_client_call *call)
{
    struct tg_client *c = call->c;
    const char *token = NULL;

    if (tg_kubeconfig_token(c->config, &token) < 0)
        tg_log(TG_LOG_WARN, "keeping the previous token", "error", tg_error_last());
    struct tg_http_request_spec spec = {
        .method = call->method,
        .url = call->url,
        .body = call->body,
        .body_len = call->body_len,
        .content_type = call->content_type,
        .bearer = token,
        .timeout_ms = call->timeout_ms,
        .max_body = c->max_body,
        .on_data = call->on_data ? http_data : NULL,
        .on_done = http_done,
        .arg = call,
    };
    int rc = tg_http_start(c->http, &spec, &call->http);
    if (rc == 0)
        call->attempts++;
    return rc;
}

/* Sends the call after the rate limiter (and extra_ms, for a retry) allows. */
static int schedule(struct tg_client_call *call, uint64_t extra_ms)
{
    struct tg_client *c = call->c;
    uint64_t wait = tg_bucket_reserve(&c->bucket, tg_clock_now_ms(c->clock));

    if (extra_ms > wait)
        wait = extra_ms;
    if (wait == 0)
        return send_now(call);
    wait_insert(c, call, wait);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct tg_client *c = t->data;
    uint64_t now = uv_now(c->loop);

    while (c->waiting && c->waiting->due_ms <= now) {
        struct tg_client_call *call = c->waiting;
        c->waiting = call->wnext;
        call->waiting = false;
        int rc = send_now(call);
        if (rc < 0) {
            char msg[1024];
            snprintf(msg, sizeof(msg), "%s %s: %s", call->method, call->path, tg_error_last());
            complete_error(call, rc, msg);
        }
    }
    arm_timer(c);
}

/* Reads message and reason from a Status body; both "" when it is not one. */
static void status_fields(struct json_object *body, const char **message, const char **reason)
{
    struct json_object *v;

    *message = "";
    *reason = "";
    if (!body || !json_object_is_type(body, json_type_object))
        return;
    if (json_object_object_get_ex(body, "message", &v) && json_object_is_type(v, json_type_string))
        *message = json_object_get_string(v);
    if (json_object_object_get_ex(body, "reason", &v) && json_object_is_type(v, json_type_string))
        *reason = json_object_get_string(v);
}

/* Parses a response body; NULL when empty or not JSON. */
static struct json_object *parse_body(const struct tg_http_response *resp)
{
    if (!resp->body_len)
        return NULL;
    struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (!tok)
        return NULL;
    struct json_object *o = json_tokener_parse_ex(tok, resp->body, (int)resp->body_len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

static void finish_http_error(struct tg_client_call *call, const struct tg_http_response *resp,
                              struct json_object *body)
{
    struct tg_client_result res = {
        .status = resp->status, .body = body, .retry_after_s = resp->retry_after_s};
    char msg[1024];
    char text[256] = "";
    const char *message, *reason;

    res.rc = tg_client_map_status(resp->status);
    status_fields(body, &message, &reason);
    if (!*message && resp->body_len && !body) {
        /* Not a Status: quote the start of the body, on one line. */
        snprintf(text, sizeof(text), "%.*s", (int)(resp->body_len < 200 ? resp->body_len : 200),
                 resp->body);
        for (char *p = text; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        message = text;
    }
    snprintf(msg, sizeof(msg), "%s %s: %ld%s%s%s%s", call->method, call->path, resp->status,
             *reason ? " " : "", reason, *message ? ": " : "", message);
    tg_error_set(res.rc, "%s", msg);
    res.message = *message ? message : msg;
    res.reason = reason;
    complete(call, &res);
}

static void http_done(int rc, const struct tg_http_response *resp, void *arg)
{
    struct tg_client_call *call = arg;
    struct tg_client *c = call->c;
    struct json_object *body;

    call->http = NULL;
    call->last_status = resp->status;
    call->retry_after_s = resp->retry_after_s;
    count(c, call->verb, rc < 0 ? 0 : resp->status);
    if (rc < 0) {
        complete_error(call, call->canceled ? TG_ECANCELED : rc, resp->error);
        return;
    }
    body = parse_body(resp);
    int mapped = tg_client_map_status(resp->status);
    uint64_t delay;
    if (mapped == TG_ETRANSIENT && call->verb != TG_VERB_WATCH && !c->closing && !call->canceled &&
        tg_client_retry_delay(&c->retry, call->attempts, resp->retry_after_s, next_random(c),
                              &delay)) {
        const char *message, *reason;
        char status[16], ms[32];
        status_fields(body, &message, &reason);
        snprintf(status, sizeof(status), "%ld", resp->status);
        snprintf(ms, sizeof(ms), "%llu", (unsigned long long)delay);
        tg_log(TG_LOG_DEBUG, "retrying", "method", call->method, "path", call->path, "status",
               status, "reason", reason, "delay_ms", ms);
        json_object_put(body);
        if ((rc = schedule(call, delay)) < 0) {
            char msg[1024];
            snprintf(msg, sizeof(msg), "%s", tg_error_last());
            complete_error(call, rc, msg);
        }
        return;
    }
    if (mapped < 0) {
        finish_http_error(call, resp, body);
        json_object_put(body);
        return;
    }
    if (!body && resp->body_len) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s %s: %ld: the response is not JSON", call->method, call->path,
                 resp->status);
        complete_error(call, TG_EINVALID, msg);
        return;
    }
    struct tg_client_result res = {.rc = 0,
                                   .status = resp->status,
                                   .message = "",
                                   .reason = "",
                                   .body = body,
                                   .retry_after_s = resp->retry_after_s};
    complete(call, &res);
    json_object_put(body);
}

static const char *method_of(enum tg_verb verb)
{
    switch (verb) {
    case TG_VERB_CREATE:
        return "POST";
    case TG_VERB_UPDATE:
        return "PUT";
    case TG_VERB_PATCH:
        return "PATCH";
    case TG_VERB_DELETE:
        return "DELETE";
    default:
        return "GET";
    }
}

static const char *patch_content_type(enum tg_patch_type t)
{
    switch (t) {
    case TG_PATCH_MERGE:
        return "application/merge-patch+json";
    case TG_PATCH_STRATEGIC:
        return "application/strategic-merge-patch+json";
    case TG_PATCH_JSON:
        return "application/json-patch+json";
    case TG_PATCH_APPLY:
        return "application/apply-patch+yaml";
    default:
        return NULL;
    }
}

/* Copies what the call keeps from the request. */
static int build_call(struct tg_client *c, const struct tg_client_request *req,
                      struct tg_client_call *call)
{
    struct tg_client_request eff = *req;
    struct tg_buf path;
    int rc;

    if ((req->verb == TG_VERB_CREATE || req->verb == TG_VERB_UPDATE ||
         req->verb == TG_VERB_PATCH) &&
        empty(req->query.field_manager))
        eff.query.field_manager = c->field_manager;
    req = &eff;
    tg_buf_init(&path, 64u << 10);
    if ((rc = tg_client_build_path(req, &path)) < 0) {
        tg_buf_free(&path);
        return rc;
    }
    call->path = tg_buf_take(&path, NULL);
    size_t n = strlen(c->config->server) + strlen(call->path) + 1;
    if (!(call->url = malloc(n)))
        return tg_error_set(TG_ENOMEM, "out of memory");
    snprintf(call->url, n, "%s%s", c->config->server, call->path);
    call->verb = req->verb;
    call->method = method_of(req->verb);
    if (req->verb == TG_VERB_PATCH) {
        if (!(call->content_type = patch_content_type(req->patch_type)))
            return tg_error_set(TG_EINVALID, "unknown patch type %d", (int)req->patch_type);
        if (req->patch_type == TG_PATCH_APPLY && empty(req->query.field_manager))
            return tg_error_set(TG_EINVALID, "server-side apply needs a field manager");
        if (!req->body)
            return tg_error_set(TG_EINVALID, "a patch needs a body");
    } else if (req->verb == TG_VERB_CREATE || req->verb == TG_VERB_UPDATE) {
        if (!req->body)
            return tg_error_set(TG_EINVALID, "%s needs a body", tg_verb_name(req->verb));
        call->content_type = "application/json";
    } else if (req->verb == TG_VERB_DELETE) {
        call->content_type = req->body ? "application/json" : NULL;
    } else if (req->body) {
        return tg_error_set(TG_EINVALID, "%s takes no body", tg_verb_name(req->verb));
    }
    if (req->body) {
        size_t len;
        const char *s = json_object_to_json_string_length(req->body, JSON_C_TO_STRING_PLAIN, &len);
        if (!s || !(call->body = malloc(len + 1)))
            return tg_error_set(TG_ENOMEM, "out of memory");
        memcpy(call->body, s, len + 1);
        call->body_len = len;
    }
    if (req->verb == TG_VERB_WATCH && !req->on_data)
        return tg_error_set(TG_EINVALID, "a watch needs a data callback");
    call->on_data = req->verb == TG_VERB_WATCH ? req->on_data : NULL;
    if (req->timeout_ms > 0)
        call->timeout_ms = req->timeout_ms;
    else
        call->timeout_ms = req->verb == TG_VERB_WATCH ? 0 : c->timeout_ms;
    return 0;
}

int tg_client_do(struct tg_client *c, const struct tg_client_request *req, tg_client_cb cb,
                 void *arg, struct tg_client_call **out)
{
    struct tg_client_call *call;
    int rc;

    if (c->closing)
        return tg_error_set(TG_ECANCELED, "the client is closing");
    if (!cb)
        return tg_error_set(TG_EINVALID, "a call needs a callback");
    if (!(call = calloc(1, sizeof(*call))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    call->c = c;
    call->cb = cb;
    call->arg = arg;
    call->retry_after_s = -1;
    if ((rc = build_call(c, req, call)) < 0)
        goto fail;
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    if ((rc = schedule(call, 0)) < 0) {
        unlink_call(c, call);
        goto fail;
    }
    if (out)
        *out = call;
    return 0;
fail:
    free_call(call);
    return rc;
}

void tg_client_cancel(struct tg_client_call *call)
{
    struct tg_client *c = call->c;
    char msg[1024];

    if (call->canceled)
        return;
    call->canceled = true;
    if (call->http) {
        tg_http_cancel(call->http);
        return;
    }
    if (call->waiting)
        wait_remove(c, call);
    snprintf(msg, sizeof(msg), "%s %s: canceled", call->method, call->path);
    complete_error(call, TG_ECANCELED, msg);
    if (!c->closing)
        arm_timer(c);
}

/* --- life cycle ------------------------------------------------------------------------ */

int tg_client_new(uv_loop_t *loop, const struct tg_client_options *opt, struct tg_client **out)
{
    struct tg_client *c;
    int rc;

    if (!opt || !opt->config || !opt->config->server)
        return tg_error_set(TG_EINVALID, "a client needs a configuration");
    if (!(c = calloc(1, sizeof(*c))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    c->loop = loop;
    c->config = opt->config;
    c->clock = opt->clock ? opt->clock : tg_clock_system();
    tg_bucket_init(&c->bucket, opt->qps == 0 ? DEFAULT_QPS : opt->qps,
                   opt->burst ? opt->burst : DEFAULT_BURST, tg_clock_now_ms(c->clock));
    c->retry.max_attempts = opt->max_attempts ? opt->max_attempts : DEFAULT_ATTEMPTS;
    c->retry.base_ms = opt->backoff_base_ms ? opt->backoff_base_ms : DEFAULT_BACKOFF_BASE_MS;
    c->retry.max_ms = opt->backoff_max_ms ? opt->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    c->retry.jitter = RETRY_JITTER;
    c->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->max_body = opt->max_body ? opt->max_body : DEFAULT_MAX_BODY;
    if (!opt->field_manager || *opt->field_manager) {
        if (!(c->field_manager =
                  strdup(opt->field_manager ? opt->field_manager : TG_CLIENT_FIELD_MANAGER))) {
            free(c);
            return tg_error_set(TG_ENOMEM, "out of memory");
        }
    }
    c->rng = (uint64_t)tg_clock_wall_ms(tg_clock_system()) * 2654435761u | 1u;
    struct tg_http_options ho = {
        .ca = opt->config->ca,
        .ca_len = opt->config->ca_len,
        .client_cert = opt->config->client_cert,
        .client_cert_len = opt->config->client_cert_len,
        .client_key = opt->config->client_key,
        .client_key_len = opt->config->client_key_len,
        .insecure = opt->config->insecure_skip_tls_verify,
        .user_agent = opt->user_agent,
    };
    if ((rc = tg_http_new(loop, &ho, &c->http)) < 0) {
        free(c->field_manager);
        free(c);
        return rc;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    *out = c;
    return 0;
}

static void maybe_finalize(struct tg_client *c)
{
    if (--c->closes_pending > 0)
        return;
    void (*cb)(void *) = c->closed_cb;
    void *arg = c->closed_arg;
    free(c->field_manager);
    free(c);
    if (cb)
        cb(arg);
}

static void http_closed(void *arg)
{
    maybe_finalize(arg);
}

static void timer_closed(uv_handle_t *h)
{
    maybe_finalize(h->data);
}

void tg_client_close(struct tg_client *c, void (*closed_cb)(void *arg), void *arg)
{
    if (c->closing)
        return;
    c->closing = true;
    c->closed_cb = closed_cb;
    c->closed_arg = arg;
    c->closes_pending = 2;
    /* Waiting calls end now; calls in flight end when the HTTP client cancels them. */
    while (c->waiting)
        tg_client_cancel(c->waiting);
    for (struct tg_client_call *call = c->calls; call; call = call->next)
        call->canceled = true;
    tg_http_close(c->http, http_closed, c);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}

const char *tg_client_server(const struct tg_client *c)
{
    return c->config->server;
}

uint64_t tg_client_request_count(const struct tg_client *c, enum tg_verb verb, long status)
{
    if ((unsigned)verb >= TG_VERB_COUNT || status < 0 || status > TG_CLIENT_MAX_STATUS)
        return 0;
    return c->counts[verb][status];
}

void tg_client_foreach_request_count(const struct tg_client *c,
                                     void (*fn)(enum tg_verb verb, long status, uint64_t n,
                                                void *arg),
                                     void *arg)
{
    for (int v = 0; v < TG_VERB_COUNT; v++)
        for (long s = 0; s <= TG_CLIENT_MAX_STATUS; s++)
            if (c->counts[v][s])
                fn((enum tg_verb)v, s, c->counts[v][s], arg);
}

/* --- shorthands ------------------------------------------------------------------------ */

int tg_client_get(struct tg_client *c, const struct tg_resource *res, const char *ns,
                  const char *name, tg_client_cb cb, void *arg, struct tg_client_call **out)
{
    struct tg_client_request r = {
        .verb = TG_VERB_GET, .resource = res, .namespace = ns, .name = name};
    return tg_client_do(c, &r, cb, arg, out);
}

int tg_client_list(struct tg_client *c, const struct tg_resource *res, const char *ns,
                   const struct tg_query *q, tg_client_cb cb, void *arg,
                   struct tg_client_call **out)
{
    struct tg_client_request r = {.verb = TG_VERB_LIST, .resource = res, .namespace = ns};
    if (q)
        r.query = *q;
    return tg_client_do(c, &r, cb, arg, out);
}

int tg_client_create(struct tg_client *c, const struct tg_resource *res, const char *ns,
                     struct json_object *obj, tg_client_cb cb, void *arg,
                     struct tg_client_call **out)
{
    struct tg_client_request r = {
        .verb = TG_VERB_CREATE, .resource = res, .namespace = ns, .body = obj};
    return tg_client_do(c, &r, cb, arg, out);
}

int tg_client_update(struct tg_client *c, const struct tg_resource *res, const char *ns,
                     const char *name, const char *subresource, struct json_object *obj,
                     tg_client_cb cb, void *arg, struct tg_client_call **out)
{
    struct tg_client_request r = {.verb = TG_VERB_UPDATE,
                                  .resource = res,
                                  .namespace = ns,
                                  .name = name,
                                  .subresource = subresource,
                                  .body = obj};
    return tg_client_do(c, &r, cb, arg, out);
}

int tg_client_patch(struct tg_client *c, const struct tg_resource *res, const char *ns,
                    const char *name, const char *subresource, enum tg_patch_type type,
                    struct json_object *patch, const struct tg_query *q, tg_client_cb cb, void *arg,
                    struct tg_client_call **out)
{
    struct tg_client_request r = {.verb = TG_VERB_PATCH,
                                  .resource = res,
                                  .namespace = ns,
                                  .name = name,
                                  .subresource = subresource,
                                  .body = patch,
                                  .patch_type = type};
    if (q)
        r.query = *q;
    return tg_client_do(c, &r, cb, arg, out);
}

int tg_client_delete(struct tg_client *c, const struct tg_resource *res, const char *ns,
                     const char *name, const char *propagation_policy, tg_client_cb cb, void *arg,
                     struct tg_client_call **out)
{
    struct tg_client_request r = {
        .verb = TG_VERB_DELETE, .resource = res, .namespace = ns, .name = name};
    r.query.propagation_policy = propagation_policy;
    return tg_client_do(c, &r, cb, arg, out);
}

int tg_client_watch(struct tg_client *c, const struct tg_resource *res, const char *ns,
                    const struct tg_query *q, tg_http_data_cb on_data, tg_client_cb cb, void *arg,
                    struct tg_client_call **out)
{
    struct tg_client_request r = {
        .verb = TG_VERB_WATCH, .resource = res, .namespace = ns, .on_data = on_data};
    if (q)
        r.query = *q;
    return tg_client_do(c, &r, cb, arg, out);
}

int tg_client_get_path(struct tg_client *c, const char *path, tg_client_cb cb, void *arg,
                       struct tg_client_call **out)
{
    struct tg_client_request r = {.verb = TG_VERB_GET, .path = path};
    return tg_client_do(c, &r, cb, arg, out);
}
