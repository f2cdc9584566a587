/* Prometheus queries and HTTP smoke tests on the loop; see checker.h. */
#include "analysis/checker.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/http.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"

#define DEFAULT_QUERY_TIMEOUT_MS 10000L
#define DEFAULT_SMOKE_TIMEOUT_MS 5000L
#define DEFAULT_RETRY_DELAY_MS   1000L
#define SMOKE_BODY_MAX           (1u << 20)
#define QUERY_BODY_MAX           (16u << 20)
#define MAX_MESSAGE              2048
#define MAX_PATTERN_SHOWN        200

enum op_kind { OP_QUERY, OP_SMOKE };

/* One query or smoke test: from its start to its callback (and, for a smoke test, to the close
 * of its retry timer). */
struct op {
    struct tg_checker *c;
    enum op_kind kind;
    struct tg_http_request *req; /* the request on the wire, or NULL */
    void *arg;
    struct op *prev, *next; /* in c->ops while the callback has not run */

    /* A query. */
    tg_checker_query_cb query_cb;
    char *address;   /* the base URL without credentials, for messages; owned */
    long timeout_ms; /* a query's, or each smoke-test attempt's */

    /* A smoke test. */
    tg_checker_http_cb smoke_cb;
    char *method, *url, *pattern; /* owned */
    regex_t re;
    bool has_re;
    int expected_status;
    long retry_delay_ms;
    int attempts, max_attempts;
    struct tg_buf body; /* a 2xx body: its first SMOKE_BODY_MAX bytes */
    uv_timer_t timer;   /* the retry delay; closed before the op is freed */
};

struct tg_checker {
    uv_loop_t *loop;
    struct tg_http *http;
    char *prometheus_url; /* owned, or NULL */
    char *bearer;         /* owned, wiped when freed */
    char *username;       /* owned */
    char *password;       /* owned, wiped when freed */
    struct op *ops;       /* waiting for their callback */
    int open_timers;      /* smoke-test timers not yet closed */
    bool http_closed;
    bool freeing;
    struct tg_checker_stats stats;
};

/* --- helpers ------------------------------------------------------------------------------- */

static void link_op(struct tg_checker *c, struct op *op)
{
    op->prev = NULL;
    op->next = c->ops;
    if (c->ops)
        c->ops->prev = op;
    c->ops = op;
}

static void unlink_op(struct tg_checker *c, struct op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        c->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    op->prev = op->next = NULL;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Frees c once the HTTP client and every retry timer have closed. */
static void maybe_finalize(struct tg_checker *c)
{
    if (!c->freeing || !c->http_closed || c->open_timers > 0)
        return;
    free(c->prometheus_url);
    free_secret(c->bearer);
    free(c->username);
    free_secret(c->password);
    free(c);
}

static void free_op(struct op *op)
{
    free(op->address);
    free(op->method);
    free(op->url);
    free(op->pattern);
    if (op->has_re)
        regfree(&op->re);
    tg_buf_free(&op->body);
    free(op);
}

/* Duplicates s (NULL stays NULL). Returns false when out of memory. */
static bool dup_opt(const char *s, char **out)
{
    *out = NULL;
    return !s || (*out = strdup(s)) != NULL;
}

/*
 * The part of an http.h error message after the URL it names ("cannot reach URL: detail" gives
 * "detail"), so that a message does not repeat the URL; the whole message when there is none.
 */
static const char *error_detail(const char *error, const char *url)
{
    const char *p = url && *url ? strstr(error, url) : NULL;
    const char *colon;

    if (!p || !(colon = strstr(p + strlen(url), ": ")))
        return error;
    return colon + 2;
}

/*
 * Says briefly what a failed transfer of op saw, without its URL (which may carry credentials in
 * its user part). brief: a refused connection is "connection refused", for smoke-test messages.
 */
static void transport_message(const struct op *op, int rc, const char *error, bool brief, char *msg,
                              size_t cap)
{
    const char *detail = error_detail(error, op->url);

    if (rc == TG_ETIMEOUT)
        snprintf(msg, cap, "timed out after %ld ms", op->timeout_ms);
    else if (rc == TG_EUNREACHABLE && strstr(detail, "resolve"))
        snprintf(msg, cap, "could not resolve host: %s", detail);
    else if (rc == TG_EUNREACHABLE && brief)
        snprintf(msg, cap, "connection refused");
    else if (rc == TG_EUNREACHABLE)
        snprintf(msg, cap, "cannot connect: %s", detail);
    else if (rc == TG_ETLS)
        snprintf(msg, cap, "TLS failed: %s", detail);
    else
        snprintf(msg, cap, "%s", detail);
}

/*
 * Checks that address is an http(s) URL (what: "Prometheus address", for the message) and makes
 * the form shown in messages: without a user and password, without a trailing slash. *shown
 * (optional) is the caller's to free.
 */
static int check_url(const char *what, const char *address, char **shown)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *text = NULL;
    CURLUcode uc;
    int rc = 0;

    if (!u)
        return tg_error_set(TG_ENOMEM, "out of memory");
    if ((uc = curl_url_set(u, CURLUPART_URL, address, 0)) != CURLUE_OK) {
        rc = tg_error_set(TG_EINVALID, "%s \"%s\" is not a URL: %s", what, address,
                          curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = tg_error_set(TG_EINVALID, "%s \"%s\" is not an http(s) URL", what, address);
        goto out;
    }
    if (!shown)
        goto out;
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &text, 0) != CURLUE_OK || !(*shown = strdup(text))) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = strlen(*shown);
    while (n > 0 && (*shown)[n - 1] == '/')
        (*shown)[--n] = '\0';
out:
    curl_free(text);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

/* --- lifecycle ----------------------------------------------------------------------------- */

int tg_checker_new(uv_loop_t *loop, const struct tg_checker_options *o, struct tg_checker **out)
{
    static const struct tg_checker_options none = {0};
    struct tg_checker *c;
    int rc;

    if (!o)
        o = &none;
    if (o->ca_pem && o->ca_len && (rc = tg_http_check_ca(o->ca_pem, o->ca_len, "CA bundle")) < 0)
        return rc;
    if (!(c = calloc(1, sizeof(*c))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    c->loop = loop;
    if (!dup_opt(o->prometheus_url && *o->prometheus_url ? o->prometheus_url : NULL,
                 &c->prometheus_url) ||
        !dup_opt(o->bearer_token && *o->bearer_token ? o->bearer_token : NULL, &c->bearer) ||
        !dup_opt(o->username, &c->username) || !dup_opt(o->password, &c->password)) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto fail;
    }
    struct tg_http_options hopt = {.ca = o->ca_pem, .ca_len = o->ca_len, .insecure = o->insecure};
    if ((rc = tg_http_new(loop, &hopt, &c->http)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    free(c->prometheus_url);
    free_secret(c->bearer);
    free(c->username);
    free_secret(c->password);
    free(c);
    return rc;
}

static void http_closed(void *arg)
{
    struct tg_checker *c = arg;

    c->http = NULL;
    c->http_closed = true;
    maybe_finalize(c);
}

static void smoke_complete(struct op *op, int rc, bool passed, long status, const char *msg);

void tg_checker_free(struct tg_checker *c)
{
    struct op *op, *next;

    if (!c || c->freeing)
        return;
    c->freeing = true;
    for (op = c->ops; op; op = next) {
        next = op->next;
        if (op->req)
            tg_http_cancel(op->req); /* its done callback reports TG_ECANCELED */
        else if (op->kind == OP_SMOKE)
            smoke_complete(op, TG_ECANCELED, false, 0, "canceled");
    }
    tg_http_close(c->http, http_closed, c);
}

void tg_checker_stats(const struct tg_checker *c, struct tg_checker_stats *out)
{
    *out = c->stats;
}

/* --- queries ------------------------------------------------------------------------------- */

/* Ends a query: unlinks it, sets the last-error message, calls back once and frees it. */
static void query_complete(struct op *op, int rc, const char *msg,
                           const struct tg_prom_result *result)
{
    struct tg_checker *c = op->c;

    unlink_op(c, op);
    if (rc == 0)
        c->stats.queries_ok++;
    else if (rc != TG_ECANCELED)
        c->stats.queries_failed++;
    if (rc < 0) {
        tg_error_set(rc, "%s", msg);
        tg_log(TG_LOG_DEBUG, "prometheus query failed", "error", msg);
    }
    op->query_cb(rc, msg, result, op->arg);
    free_op(op);
}

/* A body that is not Prometheus' JSON, shown briefly and printably. */
static void body_excerpt(const char *body, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 1 < cap && i < 200; i++) {
        unsigned char ch = (unsigned char)body[i];
        out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
    }
    out[n] = '\0';
}

static void query_done(int rc, const struct tg_http_response *resp, void *arg)
{
    struct op *op = arg;
    struct tg_prom_result result;
    char msg[MAX_MESSAGE];

    op->req = NULL;
    if (rc == TG_ECANCELED) {
        snprintf(msg, sizeof(msg), "Prometheus at %s: query canceled", op->address);
        query_complete(op, rc, msg, NULL);
        return;
    }
    if (rc < 0) {
        char why[MAX_MESSAGE - 256];
        transport_message(op, rc, resp->error, false, why, sizeof(why));
        snprintf(msg, sizeof(msg), "Prometheus at %s: %s", op->address, why);
        query_complete(op, rc, msg, NULL);
        return;
    }
    if (resp->status < 200 || resp->status > 299) {
        int prc = tg_prom_parse(resp->body, resp->body_len, &result);
        if (prc == 0) {
            tg_prom_result_free(&result);
            snprintf(msg, sizeof(msg), "Prometheus at %s: HTTP %ld", op->address, resp->status);
        } else if (strncmp(tg_error_last(), "Prometheus: ", 12) == 0) {
            /* Prometheus' own error: "Prometheus: <errorType>: <error>". */
            snprintf(msg, sizeof(msg), "Prometheus at %s: HTTP %ld: %s", op->address, resp->status,
                     tg_error_last() + 12);
        } else {
            char excerpt[256];
            body_excerpt(resp->body, resp->body_len, excerpt, sizeof(excerpt));
            snprintf(msg, sizeof(msg), "Prometheus at %s: HTTP %ld%s%s", op->address, resp->status,
                     excerpt[0] ? ": " : "", excerpt);
        }
        query_complete(op, tg_error_from_http(resp->status), msg, NULL);
        return;
    }
    if ((rc = tg_prom_parse(resp->body, resp->body_len, &result)) < 0) {
        const char *why = tg_error_last();
        if (strncmp(why, "Prometheus: ", 12) == 0)
            why += 12;
        snprintf(msg, sizeof(msg), "Prometheus at %s: %s", op->address, why);
        query_complete(op, rc, msg, NULL);
        return;
    }
    query_complete(op, 0, "", &result);
    tg_prom_result_free(&result);
}

/* Appends "&name=" and ms as decimal seconds ("12.345"). */
static int append_seconds(struct tg_buf *b, const char *name, int64_t ms)
{
    char text[64];

    snprintf(text, sizeof(text), "&%s=%" PRId64 ".%03" PRId64, name, ms / 1000, ms % 1000);
    return tg_buf_append_str(b, text);
}

/* The base URL without trailing slashes, then path. */
static int build_url(const char *address, const char *path, struct tg_buf *url)
{
    size_t n = strlen(address);

    while (n > 0 && address[n - 1] == '/')
        n--;
    if (tg_buf_append(url, address, n) < 0 || tg_buf_append_str(url, path) < 0)
        return TG_ENOMEM;
    return 0;
}

/*
 * Starts one query: POST path with the form body made of the query, the range (range != NULL:
 * start, end, step) and Prometheus' timeout.
 */
static int start_query(struct tg_checker *c, const char *address, const char *path,
                       const char *query, const int64_t *range, long timeout_ms,
                       tg_checker_query_cb cb, void *arg)
{
    struct tg_buf url, form;
    struct op *op = NULL;
    char *escaped = NULL;
    int rc;

    if (c->freeing)
        return tg_error_set(TG_ECANCELED, "the checker is closing");
    if (!cb || !query || !*query)
        return tg_error_set(TG_EINVALID, "a Prometheus query needs a query and a callback");
    if (!address || !*address)
        address = c->prometheus_url;
    if (!address)
        return tg_error_set(TG_EINVALID, "no Prometheus address: set "
                                         "spec.analysis.prometheus.address or run tollgate with "
                                         "--prometheus-url");
    if (timeout_ms <= 0)
        timeout_ms = DEFAULT_QUERY_TIMEOUT_MS;
    tg_buf_init(&url, 8192);
    tg_buf_init(&form, 1u << 20);
    if (build_url(address, path, &url) < 0) {
        rc = tg_error_set(TG_EINVALID, "Prometheus address longer than 8 KiB");
        goto out;
    }
    if (!(escaped = curl_easy_escape(NULL, query, (int)strlen(query)))) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto out;
    }
    if (tg_buf_append_str(&form, "query=") < 0 || tg_buf_append_str(&form, escaped) < 0 ||
        (range && (append_seconds(&form, "start", range[0]) < 0 ||
                   append_seconds(&form, "end", range[1]) < 0 ||
                   append_seconds(&form, "step", range[2]) < 0)) ||
        append_seconds(&form, "timeout", timeout_ms) < 0) {
        rc = tg_error_set(TG_EINVALID, "Prometheus query longer than 1 MiB");
        goto out;
    }
    if (!(op = calloc(1, sizeof(*op))) || !(op->url = strdup(url.data))) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = check_url("Prometheus address", address, &op->address)) < 0)
        goto out;
    op->c = c;
    op->kind = OP_QUERY;
    op->timeout_ms = timeout_ms;
    op->query_cb = cb;
    op->arg = arg;
    struct tg_http_request_spec spec = {
        .method = "POST",
        .url = url.data,
        .body = form.data,
        .body_len = form.len,
        .content_type = "application/x-www-form-urlencoded",
        .bearer = c->bearer,
        .username = c->bearer ? NULL : c->username,
        .password = c->bearer ? NULL : c->password,
        .timeout_ms = timeout_ms,
        .max_body = QUERY_BODY_MAX,
        .on_done = query_done,
        .arg = op,
    };
    if ((rc = tg_http_start(c->http, &spec, &op->req)) < 0)
        goto out;
    link_op(c, op);
    op = NULL;
out:
    if (op)
        free_op(op);
    curl_free(escaped);
    tg_buf_free(&url);
    tg_buf_free(&form);
    return rc;
}

int tg_checker_query(struct tg_checker *c, const char *address, const char *query, long timeout_ms,
                     tg_checker_query_cb cb, void *arg)
{
    return start_query(c, address, "/api/v1/query", query, NULL, timeout_ms, cb, arg);
}

int tg_checker_query_range(struct tg_checker *c, const char *address, const char *query,
                           int64_t start_ms, int64_t end_ms, int64_t step_ms, long timeout_ms,
                           tg_checker_query_cb cb, void *arg)
{
    const int64_t range[3] = {start_ms, end_ms, step_ms};

    if (start_ms < 0 || end_ms < start_ms || step_ms <= 0)
        return tg_error_set(TG_EINVALID,
                            "range query: need 0 <= start <= end and step > 0 (got start %" PRId64
                            " ms, end %" PRId64 " ms, step %" PRId64 " ms)",
                            start_ms, end_ms, step_ms);
    return start_query(c, address, "/api/v1/query_range", query, range, timeout_ms, cb, arg);
}

/* --- smoke tests --------------------------------------------------------------------------- */

static void timer_closed(uv_handle_t *h)
{
    struct op *op = h->data;
    struct tg_checker *c = op->c;

    free_op(op);
    c->open_timers--;
    maybe_finalize(c);
}

/* Ends a smoke test: unlinks it, calls back once, and frees it when its timer has closed. */
static void smoke_complete(struct op *op, int rc, bool passed, long status, const char *msg)
{
    char text[MAX_MESSAGE];

    unlink_op(op->c, op);
    uv_timer_stop(&op->timer);
    if (op->attempts > 1 && rc == 0)
        snprintf(text, sizeof(text), "%s (after %d attempts)", msg, op->attempts);
    else
        snprintf(text, sizeof(text), "%s", msg);
    op->smoke_cb(rc, passed, status, text, op->arg);
    uv_close((uv_handle_t *)&op->timer, timer_closed);
}

static int smoke_data(const char *data, size_t len, void *arg)
{
    struct op *op = arg;
    size_t room = op->body.max - op->body.len;

    if (len > room) {
        tg_buf_append(&op->body, data, room);
        return TG_ETOOBIG; /* enough to judge: stop the transfer */
    }
    return tg_buf_append(&op->body, data, len) < 0 ? TG_ENOMEM : 0;
}

static void smoke_done(int rc, const struct tg_http_response *resp, void *arg);

/* Sends one attempt. Returns 0, or an error from tg_http_start (no callback then). */
static int smoke_attempt(struct op *op)
{
    struct tg_checker *c = op->c;
    struct tg_http_request_spec spec = {
        .method = op->method,
        .url = op->url,
        .accept = "*/*",
        .timeout_ms = op->timeout_ms,
        .max_body = SMOKE_BODY_MAX,
        .on_data = smoke_data,
        .on_done = smoke_done,
        .arg = op,
    };
    int rc;

    tg_buf_reset(&op->body);
    if ((rc = tg_http_start(c->http, &spec, &op->req)) < 0)
        return rc;
    op->attempts++;
    c->stats.http_attempts++;
    return 0;
}

static void on_retry(uv_timer_t *t)
{
    struct op *op = t->data;
    char msg[MAX_MESSAGE];

    if (smoke_attempt(op) < 0) {
        snprintf(msg, sizeof(msg), "could not send the request: %s", tg_error_last());
        smoke_complete(op, 0, false, 0, msg);
    }
}

static void smoke_done(int rc, const struct tg_http_response *resp, void *arg)
{
    struct op *op = arg;
    char msg[MAX_MESSAGE];
    bool passed = false;
    long status = resp->status;

    op->req = NULL;
    if (rc == TG_ECANCELED) {
        smoke_complete(op, TG_ECANCELED, false, 0, "canceled");
        return;
    }
    /* A body past the cap is judged on its first part. */
    if (rc == TG_ETOOBIG && status > 0)
        rc = 0;
    if (rc < 0) {
        transport_message(op, rc, resp->error, true, msg, sizeof(msg));
    } else if (status != op->expected_status) {
        snprintf(msg, sizeof(msg), "HTTP %ld (expected %d)", status, op->expected_status);
    } else {
        const char *body =
            status >= 200 && status < 300 ? (op->body.data ? op->body.data : "") : resp->body;
        if (op->has_re && regexec(&op->re, body, 0, NULL, 0) != 0) {
            snprintf(msg, sizeof(msg), "body did not match /%.*s/%s", MAX_PATTERN_SHOWN,
                     op->pattern, strlen(op->pattern) > MAX_PATTERN_SHOWN ? "..." : "");
        } else {
            snprintf(msg, sizeof(msg), "HTTP %ld", status);
            passed = true;
        }
    }
    if (passed || op->attempts >= op->max_attempts || op->c->freeing) {
        smoke_complete(op, 0, passed, status, msg);
        return;
    }
    tg_log(TG_LOG_DEBUG, "smoke test attempt failed, retrying", "url", op->url, "result", msg);
    uv_timer_start(&op->timer, on_retry, (uint64_t)op->retry_delay_ms, 0);
}

static int smoke_prepare(struct op *op, const struct tg_smoke_http *spec)
{
    int erc, rc;

    if ((rc = check_url("smoke test URL", spec->url, NULL)) < 0)
        return rc;
    if (!dup_opt(spec->method && *spec->method ? spec->method : "GET", &op->method) ||
        !dup_opt(spec->url, &op->url))
        return tg_error_set(TG_ENOMEM, "out of memory");
    if (spec->body_pattern) {
        if (!(op->pattern = strdup(spec->body_pattern)))
            return tg_error_set(TG_ENOMEM, "out of memory");
        if ((erc = regcomp(&op->re, spec->body_pattern, REG_EXTENDED | REG_NOSUB)) != 0) {
            char why[256];
            regerror(erc, &op->re, why, sizeof(why));
            return tg_error_set(TG_EINVALID, "smoke test: bad body pattern /%s/: %s",
                                spec->body_pattern, why);
        }
        op->has_re = true;
    }
    op->expected_status = spec->expected_status ? spec->expected_status : 200;
    op->timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms : DEFAULT_SMOKE_TIMEOUT_MS;
    op->retry_delay_ms = spec->retry_delay_ms > 0 ? spec->retry_delay_ms : DEFAULT_RETRY_DELAY_MS;
    op->max_attempts = 1 + spec->retries;
    tg_buf_init(&op->body, SMOKE_BODY_MAX);
    return 0;
}

int tg_checker_http(struct tg_checker *c, const struct tg_smoke_http *spec, tg_checker_http_cb cb,
                    void *arg)
{
    struct op *op;
    int rc;

    if (c->freeing)
        return tg_error_set(TG_ECANCELED, "the checker is closing");
    if (!cb || !spec || !spec->url || !*spec->url)
        return tg_error_set(TG_EINVALID, "a smoke test needs a URL and a callback");
    if (spec->retries < 0)
        return tg_error_set(TG_EINVALID, "smoke test: retries must be >= 0 (got %d)",
                            spec->retries);
    if (spec->expected_status != 0 && (spec->expected_status < 100 || spec->expected_status > 599))
        return tg_error_set(TG_EINVALID, "smoke test: expected status %d is not in 100..599",
                            spec->expected_status);
    if (!(op = calloc(1, sizeof(*op))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    op->c = c;
    op->kind = OP_SMOKE;
    op->smoke_cb = cb;
    op->arg = arg;
    if ((rc = smoke_prepare(op, spec)) < 0 || (rc = smoke_attempt(op)) < 0) {
        free_op(op);
        return rc;
    }
    uv_timer_init(c->loop, &op->timer);
    op->timer.data = op;
    c->open_timers++;
    link_op(c, op);
    return 0;
}
