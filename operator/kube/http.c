/* libcurl multi_socket on a libuv loop; see http.h. */
#include "kube/http.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"

#define DEFAULT_MAX_BODY           (16u << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define MAX_KEPT_HEADER            4096u /* the longest header value kept for the response */

/* One socket curl asked us to watch. */
struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct tg_http *h;
    struct sock_ctx *prev, *next; /* in h->socks */
};

struct tg_http_request {
    struct tg_http *h;
    CURL *easy;
    struct curl_slist *headers;
    char *method; /* owned, for messages */
    char *url;    /* owned, for messages */
    struct tg_buf body;
    long retry_after_s;
    char *content_type; /* owned copies of the headers of tg_http_response, or NULL */
    char *www_authenticate;
    char *location;
    tg_http_data_cb on_data;
    tg_http_done_cb on_done;
    void *arg;
    int abort_rc;  /* why our write callback stopped the transfer, 0 if it did not */
    bool added;    /* curl_multi_add_handle done */
    bool canceled; /* tg_http_cancel called while curl was busy */
    char errbuf[CURL_ERROR_SIZE];
    struct tg_http_request *prev, *next; /* in h->requests */
};

struct tg_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;       /* curl's timeout */
    uv_timer_t close_timer; /* runs the deferred part of tg_http_close */
    char *ca, *cert, *key;  /* owned TLS blobs */
    size_t ca_len, cert_len, key_len;
    bool insecure;
    char *user_agent;
    struct tg_http_request *requests;
    size_t n_requests;
    struct sock_ctx *socks;
    int open_handles; /* uv handles not yet closed */
    int in_curl;      /* > 0 while inside curl_multi_socket_action (curl callbacks may run) */
    bool deferred;    /* a cancel or an add waits for curl to return */
    bool closing;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

int tg_http_map_curl_error(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OK:
        return 0;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return TG_EUNREACHABLE;
    case CURLE_OPERATION_TIMEDOUT:
        return TG_ETIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return TG_ETLS;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return TG_ETRANSIENT;
    case CURLE_OUT_OF_MEMORY:
        return TG_ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return TG_EINVALID;
    case CURLE_FILESIZE_EXCEEDED:
        return TG_ETOOBIG;
    case CURLE_ABORTED_BY_CALLBACK:
        return TG_ECANCELED;
    default:
        return TG_EIO;
    }
}

/* --- requests ----------------------------------------------------------------------------- */

static void link_request(struct tg_http *h, struct tg_http_request *r)
{
    r->prev = NULL;
    r->next = h->requests;
    if (h->requests)
        h->requests->prev = r;
    h->requests = r;
    h->n_requests++;
}

static void unlink_request(struct tg_http *h, struct tg_http_request *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        h->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    h->n_requests--;
}

static void free_request(struct tg_http_request *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    tg_buf_free(&r->body);
    free(r->content_type);
    free(r->www_authenticate);
    free(r->location);
    free(r->method);
    free(r->url);
    free(r);
}

/* The response's HTTP version as 10, 11, 20 or 30 (0: no response). */
static long response_http_version(CURL *easy)
{
    long v = CURL_HTTP_VERSION_NONE;

    if (curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &v) != CURLE_OK)
        return 0;
    switch (v) {
    case CURL_HTTP_VERSION_1_0:
        return 10;
    case CURL_HTTP_VERSION_1_1:
        return 11;
    case CURL_HTTP_VERSION_2_0:
        return 20;
    case CURL_HTTP_VERSION_3:
        return 30;
    default:
        return 0;
    }
}

/*
 * Ends a request: detaches it from curl, runs its done callback once and frees it. Must not run
 * inside a curl callback. msg is the failure text (rc < 0).
 */
static void finish(struct tg_http_request *r, int rc, const char *msg)
{
    struct tg_http *h = r->h;
    struct tg_http_response resp = {.retry_after_s = r->retry_after_s, .body = "", .error = ""};
    char error[1024] = "";

    unlink_request(h, r);
    if (r->added && h->multi)
        curl_multi_remove_handle(h->multi, r->easy);
    r->added = false;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
    resp.http_version = response_http_version(r->easy);
    resp.content_type = r->content_type;
    resp.www_authenticate = r->www_authenticate;
    resp.location = r->location;
    curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &resp.new_connections);
    if (r->body.data) {
        resp.body = r->body.data;
        resp.body_len = r->body.len;
    }
    if (rc < 0) {
        snprintf(error, sizeof(error), "%s", msg);
        resp.error = error;
        tg_error_set(rc, "%s", error);
        tg_log(TG_LOG_DEBUG, "http request failed", "method", r->method, "url", r->url, "error",
               error);
    } else {
        char status[16];
        snprintf(status, sizeof(status), "%ld", resp.status);
        tg_log(TG_LOG_DEBUG, "http response", "method", r->method, "url", r->url, "status", status);
    }
    r->on_done(rc, &resp, r->arg);
    free_request(r);
}

/* Turns curl's verdict on a finished transfer into ours. */
static void finish_curl(struct tg_http_request *r, CURLcode res)
{
    char msg[1024];
    const char *detail = r->errbuf[0] ? r->errbuf : curl_easy_strerror(res);
    int rc;

    if (res == CURLE_OK) {
        finish(r, 0, NULL);
        return;
    }
    if (r->canceled) {
        snprintf(msg, sizeof(msg), "%s %s: canceled", r->method, r->url);
        finish(r, TG_ECANCELED, msg);
        return;
    }
    if (r->abort_rc < 0) {
        rc = r->abort_rc;
        if (rc == TG_ETOOBIG)
            snprintf(msg, sizeof(msg), "%s %s: response body larger than %zu bytes", r->method,
                     r->url, r->body.max);
        else
            snprintf(msg, sizeof(msg), "%s %s: stopped by the data callback (%s)", r->method,
                     r->url, tg_error_name(rc));
        finish(r, rc, msg);
        return;
    }
    rc = tg_http_map_curl_error(res);
    /* With TLS 1.3 a server that refuses our client certificate says so with an alert that
     * arrives only when we read the response: a TLS failure, not a dropped connection. */
    if (rc == TG_ETRANSIENT && (res == CURLE_RECV_ERROR || res == CURLE_SEND_ERROR) &&
        strstr(detail, " alert "))
        rc = TG_ETLS;
    if (rc == TG_EUNREACHABLE)
        snprintf(msg, sizeof(msg), "cannot reach %s: %s", r->url, detail);
    else if (rc == TG_ETLS)
        snprintf(msg, sizeof(msg), "TLS with %s failed: %s", r->url, detail);
    else if (rc == TG_ETIMEOUT)
        snprintf(msg, sizeof(msg), "%s %s timed out: %s", r->method, r->url, detail);
    else
        snprintf(msg, sizeof(msg), "%s %s: %s", r->method, r->url, detail);
    finish(r, rc, msg);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct tg_http_request *r = userdata;
    size_t n = size * nmemb;
    long status = 0;

    if (r->canceled)
        return n ? 0 : 1;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (r->on_data && status >= 200 && status < 300) {
        int rc = r->on_data(ptr, n, r->arg);
        if (r->canceled)
            return n ? 0 : 1;
        if (rc < 0) {
            r->abort_rc = rc;
            return n ? 0 : 1;
        }
        return n;
    }
    if (tg_buf_append(&r->body, ptr, n) < 0) {
        r->abort_rc = TG_ETOOBIG;
        return n ? 0 : 1;
    }
    return n;
}

/* Parses Retry-After: delay-seconds, or an HTTP-date (converted with curl_getdate). */
static long parse_retry_after(const char *v, size_t len)
{
    char buf[128];
    char *end;

    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    long secs = strtol(buf, &end, 10);
    if (end != buf && *end == '\0')
        return secs < 0 ? 0 : secs;
    time_t when = curl_getdate(buf, NULL);
    if (when < 0)
        return -1;
    time_t now = time(NULL);
    return when > now ? (long)(when - now) : 0;
}

/* Keeps a copy of the first header called name (lower case, with the colon) in *slot. */
static void keep_header(const char *buffer, size_t n, const char *name, char **slot)
{
    size_t nl = strlen(name);

    if (*slot || n <= nl || strncasecmp(buffer, name, nl) != 0)
        return;
    const char *v = buffer + nl;
    size_t len = n - nl;
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    if (len <= MAX_KEPT_HEADER)
        *slot = strndup(v, len); /* out of memory: treated as absent */
}

static size_t header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
    struct tg_http_request *r = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    size_t nl = sizeof(name) - 1;

    if (n >= 5 && strncmp(buffer, "HTTP/", 5) == 0) {
        r->retry_after_s = -1; /* a new response (after 100 Continue) starts afresh */
        free(r->content_type);
        free(r->www_authenticate);
        free(r->location);
        r->content_type = r->www_authenticate = r->location = NULL;
        return n;
    }
    if (n > nl && strncasecmp(buffer, name, nl) == 0) {
        const char *v = buffer + nl;
        size_t len = n - nl;
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        r->retry_after_s = parse_retry_after(v, len);
    }
    keep_header(buffer, n, "content-type:", &r->content_type);
    keep_header(buffer, n, "www-authenticate:", &r->www_authenticate);
    keep_header(buffer, n, "location:", &r->location);
    return n;
}

/* Adds requests that were started, and completes those canceled, while curl was busy. */
static void run_deferred(struct tg_http *h)
{
    char msg[1024];
    struct tg_http_request *r, *next;

    while (h->deferred && h->in_curl == 0) {
        h->deferred = false;
        for (r = h->requests; r; r = next) {
            next = r->next;
            if (r->canceled) {
                snprintf(msg, sizeof(msg), "%s %s: canceled", r->method, r->url);
                finish(r, TG_ECANCELED, msg);
                h->deferred = true; /* the list changed under us: walk it again */
                break;
            }
            if (!r->added && h->multi) {
                CURLMcode mc = curl_multi_add_handle(h->multi, r->easy);
                if (mc != CURLM_OK) {
                    snprintf(msg, sizeof(msg), "%s %s: %s", r->method, r->url,
                             curl_multi_strerror(mc));
                    finish(r, TG_EIO, msg);
                    h->deferred = true;
                    break;
                }
                r->added = true;
            }
        }
    }
}

static void check_multi_info(struct tg_http *h)
{
    CURLMsg *msg;
    int pending;

    while (h->multi && (msg = curl_multi_info_read(h->multi, &pending))) {
        struct tg_http_request *r = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode res = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            finish_curl(r, res);
    }
}

/* Lets curl act on a socket (or on its timeout), then delivers what completed. */
static void socket_action(struct tg_http *h, curl_socket_t fd, int flags)
{
    int running;

    if (!h->multi)
        return;
    h->in_curl++;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    h->in_curl--;
    check_multi_info(h);
    run_deferred(h);
}

/* --- the uv side ----------------------------------------------------------------------- */

static void maybe_finalize(struct tg_http *h)
{
    if (!h->closing || h->open_handles > 0 || h->multi)
        return;
    void (*cb)(void *) = h->closed_cb;
    void *arg = h->closed_arg;
    free(h->ca);
    free(h->cert);
    free(h->key);
    free(h->user_agent);
    free(h);
    if (cb)
        cb(arg);
}

static void handle_closed(uv_handle_t *handle)
{
    struct tg_http *h = handle->data;

    h->open_handles--;
    maybe_finalize(h);
}

static void sock_closed(uv_handle_t *handle)
{
    struct sock_ctx *ctx = handle->data;
    struct tg_http *h = ctx->h;

    free(ctx);
    h->open_handles--;
    maybe_finalize(h);
}

static void close_sock(struct tg_http *h, struct sock_ctx *ctx)
{
    if (ctx->prev)
        ctx->prev->next = ctx->next;
    else
        h->socks = ctx->next;
    if (ctx->next)
        ctx->next->prev = ctx->prev;
    uv_poll_stop(&ctx->poll);
    uv_close((uv_handle_t *)&ctx->poll, sock_closed);
}

static void poll_cb(uv_poll_t *req, int status, int events)
{
    struct sock_ctx *ctx = req->data;
    int flags = 0;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    socket_action(ctx->h, ctx->fd, flags);
}

static void on_timeout(uv_timer_t *t)
{
    socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int curl_socket_cb(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
    struct tg_http *h = userp;
    struct sock_ctx *ctx = socketp;
    int events = 0;

    (void)easy;
    if (action == CURL_POLL_REMOVE) {
        if (ctx) {
            close_sock(h, ctx);
            if (h->multi)
                curl_multi_assign(h->multi, s, NULL);
        }
        return 0;
    }
    if (!ctx) {
        if (!(ctx = calloc(1, sizeof(*ctx))))
            return -1;
        if (uv_poll_init_socket(h->loop, &ctx->poll, s) != 0) {
            free(ctx);
            return -1;
        }
        ctx->fd = s;
        ctx->h = h;
        ctx->poll.data = ctx;
        ctx->next = h->socks;
        if (h->socks)
            h->socks->prev = ctx;
        h->socks = ctx;
        h->open_handles++;
        curl_multi_assign(h->multi, s, ctx);
    }
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&ctx->poll, events, poll_cb);
    return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct tg_http *h = userp;

    (void)multi;
    if (h->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* --- public --------------------------------------------------------------------------- */

static int copy_blob(const char *src, size_t len, char **dst, size_t *dst_len)
{
    if (!src || !len)
        return 0;
    if (!(*dst = malloc(len)))
        return TG_ENOMEM;
    memcpy(*dst, src, len);
    *dst_len = len;
    return 0;
}

int tg_http_new(uv_loop_t *loop, const struct tg_http_options *opt, struct tg_http **out)
{
    static const struct tg_http_options none = {0};
    struct tg_http *h = calloc(1, sizeof(*h));

    if (!opt)
        opt = &none;
    if (!h)
        return tg_error_set(TG_ENOMEM, "out of memory");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(h);
        return tg_error_set(TG_EIO, "curl_global_init failed");
    }
    h->loop = loop;
    h->insecure = opt->insecure;
    if (copy_blob(opt->ca, opt->ca_len, &h->ca, &h->ca_len) < 0 ||
        copy_blob(opt->client_cert, opt->client_cert_len, &h->cert, &h->cert_len) < 0 ||
        copy_blob(opt->client_key, opt->client_key_len, &h->key, &h->key_len) < 0 ||
        !(h->user_agent = strdup(opt->user_agent ? opt->user_agent : "tollgate/" TG_VERSION)) ||
        !(h->multi = curl_multi_init()))
        goto fail;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    uv_timer_init(loop, &h->timer);
    uv_timer_init(loop, &h->close_timer);
    h->timer.data = h;
    h->close_timer.data = h;
    h->open_handles = 2;
    *out = h;
    return 0;
fail:
    free(h->ca);
    free(h->cert);
    free(h->key);
    free(h->user_agent);
    free(h);
    curl_global_cleanup();
    return tg_error_set(TG_ENOMEM, "out of memory");
}

static int set_tls(struct tg_http *h, CURL *e)
{
    struct curl_blob blob;
    CURLcode c = CURLE_OK;

    if (h->ca) {
        blob = (struct curl_blob){.data = h->ca, .len = h->ca_len, .flags = CURL_BLOB_COPY};
        c = curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (c == CURLE_OK && h->cert) {
        blob = (struct curl_blob){.data = h->cert, .len = h->cert_len, .flags = CURL_BLOB_COPY};
        c = curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
        if (c == CURLE_OK)
            c = curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (c == CURLE_OK && h->key) {
        blob = (struct curl_blob){.data = h->key, .len = h->key_len, .flags = CURL_BLOB_COPY};
        c = curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
        if (c == CURLE_OK)
            c = curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (c == CURLE_OK && h->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return c == CURLE_OK ? 0 : tg_error_set(TG_EINVALID, "TLS setup: %s", curl_easy_strerror(c));
}

/* Builds the header list; the Authorization line is wiped from our stack after curl copies it. */
static int set_headers(struct tg_http_request *r, const struct tg_http_request_spec *spec)
{
    char line[8192];
    struct curl_slist *l;

    snprintf(line, sizeof(line), "Accept: %s", spec->accept ? spec->accept : "application/json");
    if (!(r->headers = curl_slist_append(NULL, line)))
        return TG_ENOMEM;
    if (spec->content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", spec->content_type);
        if (!(l = curl_slist_append(r->headers, line)))
            return TG_ENOMEM;
    }
    if (!(l = curl_slist_append(r->headers, "Expect:")))
        return TG_ENOMEM;
    if (spec->bearer && *spec->bearer) {
        int n = snprintf(line, sizeof(line), "Authorization: Bearer %s", spec->bearer);
        if (n < 0 || (size_t)n >= sizeof(line)) {
            OPENSSL_cleanse(line, sizeof(line));
            return tg_error_set(TG_EINVALID, "bearer token longer than %zu bytes", sizeof(line));
        }
        l = curl_slist_append(r->headers, line);
        OPENSSL_cleanse(line, sizeof(line));
        if (!l)
            return TG_ENOMEM;
    }
    return curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK ? 0 : TG_EINVALID;
}

static int setup_easy(struct tg_http_request *r, const struct tg_http_request_spec *spec)
{
    CURL *e = r->easy;
    int rc;

    curl_easy_setopt(e, CURLOPT_URL, spec->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, r->h->user_agent);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Waiting to learn whether a connection multiplexes only makes sense where it can (HTTP/2
     * over TLS); over plain http a request would queue behind one that has not answered yet. */
    if (strncasecmp(spec->url, "https:", 6) == 0)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, spec->timeout_ms > 0 ? spec->timeout_ms : 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     spec->connect_timeout_ms > 0 ? spec->connect_timeout_ms
                                                  : DEFAULT_CONNECT_TIMEOUT_MS);
    if (strcmp(spec->method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L); /* a HEAD response has no body to wait for */
    else if (strcmp(spec->method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, spec->method);
    if (spec->body || strcmp(spec->method, "POST") == 0 || strcmp(spec->method, "PUT") == 0 ||
        strcmp(spec->method, "PATCH") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(spec->body ? spec->body_len : 0));
        if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, spec->body ? spec->body : "") != CURLE_OK)
            return TG_ENOMEM;
    }
    if ((rc = set_headers(r, spec)) < 0)
        return rc;
    if (spec->username &&
        (curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK ||
         curl_easy_setopt(e, CURLOPT_USERNAME, spec->username) != CURLE_OK ||
         curl_easy_setopt(e, CURLOPT_PASSWORD, spec->password ? spec->password : "") != CURLE_OK))
        return TG_ENOMEM;
    return set_tls(r->h, e);
}

int tg_http_start(struct tg_http *h, const struct tg_http_request_spec *spec,
                  struct tg_http_request **out)
{
    struct tg_http_request *r;
    int rc;

    if (h->closing)
        return tg_error_set(TG_ECANCELED, "the HTTP client is closing");
    if (!spec->method || !spec->url || !spec->on_done)
        return tg_error_set(TG_EINVALID, "an HTTP request needs a method, a URL and on_done");
    if (!(r = calloc(1, sizeof(*r))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    r->h = h;
    r->retry_after_s = -1;
    r->on_data = spec->on_data;
    r->on_done = spec->on_done;
    r->arg = spec->arg;
    tg_buf_init(&r->body, spec->max_body ? spec->max_body : DEFAULT_MAX_BODY);
    if (!(r->method = strdup(spec->method)) || !(r->url = strdup(spec->url)) ||
        !(r->easy = curl_easy_init())) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = setup_easy(r, spec)) < 0) {
        if (rc == TG_ENOMEM)
            tg_error_set(rc, "out of memory");
        goto fail;
    }
    link_request(h, r);
    if (h->in_curl) {
        h->deferred = true;
    } else {
        CURLMcode mc = curl_multi_add_handle(h->multi, r->easy);
        if (mc != CURLM_OK) {
            unlink_request(h, r);
            rc = tg_error_set(TG_EIO, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
            goto fail;
        }
        r->added = true;
    }
    tg_log(TG_LOG_DEBUG, "http request", "method", r->method, "url", r->url);
    if (out)
        *out = r;
    return 0;
fail:
    free_request(r);
    return rc;
}

void tg_http_cancel(struct tg_http_request *r)
{
    struct tg_http *h = r->h;
    char msg[1024];

    if (h->in_curl) {
        r->canceled = true;
        h->deferred = true;
        return;
    }
    snprintf(msg, sizeof(msg), "%s %s: canceled", r->method, r->url);
    finish(r, TG_ECANCELED, msg);
}

size_t tg_http_in_flight(const struct tg_http *h)
{
    return h->n_requests;
}

/* The deferred part of tg_http_close, run from the loop outside any curl callback. */
static void on_close_timer(uv_timer_t *t)
{
    struct tg_http *h = t->data;

    while (h->requests)
        tg_http_cancel(h->requests);
    uv_timer_stop(&h->timer);
    CURLM *multi = h->multi;
    h->multi = NULL; /* the socket callback must not touch the multi while it is cleaned up */
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    while (h->socks)
        close_sock(h, h->socks);
    uv_close((uv_handle_t *)&h->timer, handle_closed);
    uv_close((uv_handle_t *)&h->close_timer, handle_closed);
}

void tg_http_close(struct tg_http *h, void (*closed_cb)(void *arg), void *arg)
{
    if (h->closing)
        return;
    h->closing = true;
    h->closed_cb = closed_cb;
    h->closed_arg = arg;
    uv_timer_stop(&h->timer);
    uv_timer_start(&h->close_timer, on_close_timer, 0, 0);
}

int tg_http_check_ca(const char *pem, size_t len, const char *what)
{
    BIO *bio;
    X509 *x;
    int n = 0;

    if (len > INT32_MAX)
        return tg_error_set(TG_EINVALID, "%s: too large", what);
    if (!(bio = BIO_new_mem_buf(pem, (int)len)))
        return tg_error_set(TG_ENOMEM, "out of memory");
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        n++;
        X509_free(x);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (n == 0)
        return tg_error_set(TG_EINVALID, "%s: no PEM certificate in %zu bytes", what, len);
    return 0;
}
