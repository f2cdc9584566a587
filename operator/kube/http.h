/*
 * Asynchronous HTTP on the one libuv loop: libcurl's multi_socket API driven by uv_poll and
 * uv_timer handles (the wiring of curl's multi-uv.c example). One struct tg_http holds one curl
 * multi handle, so connections are reused and, when the server offers HTTP/2 (ALPN h2 over
 * TLS), requests are multiplexed on one connection: a request waits for a connection being set
 * up to learn whether it multiplexes (CURLOPT_PIPEWAIT) rather than opening another.
 * tests/unit/test_http2.c shows it against nghttpd. TLS is verified unless the options say
 * otherwise.
 *
 * Every request ends with exactly one call of its done callback: with 0 and the response (any
 * HTTP status: mapping statuses to errors is the caller's business), or with a negative TG_E*
 * code for a transport failure (TG_EUNREACHABLE, TG_ETLS, TG_ETIMEOUT, TG_ETOOBIG,
 * TG_ECANCELED, TG_ETRANSIENT for a dropped connection, TG_EIO otherwise). The bearer token
 * goes into an Authorization header and is never logged; so do a basic-auth username and
 * password (CURLAUTH_BASIC), which a request should not combine with a bearer token.
 */
#ifndef TG_KUBE_HTTP_H
#define TG_KUBE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct tg_http;         /* the client: one curl multi on a loop */
struct tg_http_request; /* one request in flight */

/* TLS material. The bytes are copied by tg_http_new; the caller keeps its own. */
struct tg_http_options {
    const char *ca; /* PEM CA bundle to verify the server with; NULL: the system's CAs */
    size_t ca_len;
    const char *client_cert; /* PEM client certificate and key, or NULL */
    size_t client_cert_len;
    const char *client_key;
    size_t client_key_len;
    bool insecure;          /* skip certificate and host name verification */
    const char *user_agent; /* NULL: "tollgate/<version>" */
};

/* What the done callback sees. Everything is borrowed for the duration of the callback. */
struct tg_http_response {
    long status;        /* HTTP status, 0 when no response arrived */
    const char *body;   /* the body (NUL-terminated), "" when none or streamed */
    size_t body_len;    /* its length */
    long retry_after_s; /* the Retry-After header in seconds, -1 when absent */
    const char *error;  /* on failure, what went wrong (also the last-error message) */
    /* The HTTP version of the response: 10, 11, 20 (HTTP/2) or 30; 0 when none arrived. */
    long http_version;
    /* How many connections were opened for this request: 0 when it reused (or, over HTTP/2,
     * multiplexed onto) an open one. */
    long new_connections;
    /* Headers registries need (the first occurrence, trimmed); NULL when absent or longer than
     * 4 KiB. */
    const char *content_type;     /* Content-Type */
    const char *www_authenticate; /* WWW-Authenticate: the authentication challenge of a 401 */
    const char *location;         /* Location: the target of a redirect */
};

/*
 * The completion callback: rc is 0 or a TG_E* code; resp is never NULL. The request is freed
 * when the callback returns.
 */
typedef void (*tg_http_done_cb)(int rc, const struct tg_http_response *resp, void *arg);

/*
 * The streaming callback for a 2xx response (watch): len bytes of body as they arrive, never
 * accumulated. Return 0 to go on, or a negative TG_E* code to stop the transfer, which then
 * completes with that code. Responses with other statuses are accumulated as usual, so that the
 * done callback can read the server's Status.
 */
typedef int (*tg_http_data_cb)(const char *data, size_t len, void *arg);

/* One request. Strings are copied by tg_http_start; the caller keeps its own. */
struct tg_http_request_spec {
    const char *method;       /* "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", ... */
    const char *url;          /* absolute URL */
    const char *body;         /* request body or NULL */
    size_t body_len;          /* its length */
    const char *content_type; /* Content-Type of the body, or NULL */
    const char *accept;       /* Accept header, or NULL for application/json */
    const char *bearer;       /* bearer token, or NULL */
    const char *username;     /* HTTP basic auth user, or NULL (never logged) */
    const char *password;     /* its password, or NULL for an empty one (never logged) */
    long timeout_ms;          /* the whole transfer; 0: none (watches) */
    long connect_timeout_ms;  /* 0: 10 s */
    size_t max_body;          /* cap on the accumulated body; 0: 16 MiB */
    tg_http_data_cb on_data;  /* NULL: accumulate the body */
    tg_http_done_cb on_done;  /* required */
    void *arg;                /* passed to both callbacks */
};

/*
 * Makes a client on loop. *out is the caller's; release it with tg_http_close. Returns 0,
 * TG_ENOMEM or TG_EINVALID.
 */
int tg_http_new(uv_loop_t *loop, const struct tg_http_options *opt, struct tg_http **out);

/*
 * Starts a request. On success the done callback will run exactly once, never before this
 * returns; *out (optional) identifies the request for tg_http_cancel and stays valid until the
 * done callback returns. On failure (TG_ENOMEM, TG_EINVALID, TG_ECANCELED when closing) the
 * callback is never called.
 */
int tg_http_start(struct tg_http *h, const struct tg_http_request_spec *spec,
                  struct tg_http_request **out);

/*
 * Abandons a request: its done callback runs with TG_ECANCELED before this returns. Called from
 * the request's own data callback, the transfer stops when that callback returns and the done
 * callback follows then.
 */
void tg_http_cancel(struct tg_http_request *r);

/* How many requests are in flight. */
size_t tg_http_in_flight(const struct tg_http *h);

/*
 * Closes the client: requests still in flight complete with TG_ECANCELED (exactly once each),
 * connections are closed, the uv handles are closed asynchronously, and closed_cb (optional)
 * runs from the loop once everything is freed, so that uv_run can return. Safe to call from a
 * done callback. h must not be used afterwards.
 */
void tg_http_close(struct tg_http *h, void (*closed_cb)(void *arg), void *arg);

/* Maps a libcurl result code to a TG_E* code (for tests and callers that use curl directly). */
int tg_http_map_curl_error(int curl_code);

/*
 * Checks that pem (len bytes, for tg_http_options.ca) holds at least one PEM certificate, so
 * that a bad CA is an error at start-up rather than a TLS failure on every request. what
 * starts the message ("registry CA"). Returns 0, TG_EINVALID or TG_ENOMEM.
 */
int tg_http_check_ca(const char *pem, size_t len, const char *what);

#endif
