/*
 * Unit tests for analysis/checker against the scripted local server on the same loop: instant
 * and range queries (path, form-encoded query, credentials, decoded answers), Prometheus and
 * transport errors with their messages, HTTP smoke tests (status, body pattern, retries,
 * methods, no credentials leaked), and freeing with work in flight (every callback exactly
 * once, the loop ends, AddressSanitizer sees no leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "analysis/checker.h"
#include "fake_http_server.h"
#include "util/error.h"

/* Raw responses with their Content-Length, built at run time into a slot. */
static char responses[8][4096];

static const char *response(int slot, int status, const char *reason, const char *body)
{
    snprintf(responses[slot], sizeof(responses[slot]),
             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             status, reason, strlen(body), body);
    return responses[slot];
}

/* One test's world: a loop, a server, a checker and what the callbacks saw. */
struct world {
    uv_loop_t loop;
    struct fake_server srv;
    struct tg_checker *checker;
    char base[128]; /* http://127.0.0.1:<port> */
    int calls;
    int last_rc;
    char last_message[2048];
    char last_error[2048]; /* tg_error_last() during the callback */
    /* A query's answer. */
    bool had_result;
    int result_type;
    size_t n_series;
    double first_value;
    size_t first_n;
    char first_labels[256];
    /* A smoke test's answer. */
    bool passed;
    long status;
    /* Free the checker from the next callback. */
    bool free_in_callback;
};

/* Runs the loop until n callbacks have run; fails after 10 s. */
static void run_until(struct world *w, int n)
{
    FAKE_RUN_UNTIL(&w->srv, w->calls >= n, "timed out waiting for %d callbacks (got %d)", n,
                   w->calls);
}

/* Runs the loop until the server has received n requests; fails after 10 s. */
static void run_until_requests(struct world *w, size_t n)
{
    FAKE_RUN_UNTIL(&w->srv, w->srv.requests >= n, "timed out waiting for %zu requests (got %zu)", n,
                   w->srv.requests);
}

static void world_start_with(struct world *w, const char *const *script, size_t n,
                             struct tg_checker_options *o)
{
    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    fake_server_start(&w->srv, &w->loop, script, n);
    snprintf(w->base, sizeof(w->base), "http://127.0.0.1:%d", w->srv.port);
    assert_int_equal(tg_checker_new(&w->loop, o, &w->checker), 0);
}

static void world_start(struct world *w, const char *const *script, size_t n)
{
    world_start_with(w, script, n, NULL);
}

/* Frees the checker, stops the server and runs the loop dry: every handle must be closed. */
static void world_end(struct world *w)
{
    tg_checker_free(w->checker);
    w->checker = NULL;
    fake_server_stop(&w->srv);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
}

/* A port nothing listens on: bind, read it, close. */
static int closed_port(struct world *w)
{
    uv_tcp_t probe;
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    uv_tcp_init(&w->loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_bind(&probe, (const struct sockaddr *)&addr, 0), 0);
    uv_tcp_getsockname(&probe, (struct sockaddr *)&bound, &len);
    uv_close((uv_handle_t *)&probe, NULL);
    uv_run(&w->loop, UV_RUN_NOWAIT);
    return ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void on_query(int rc, const char *message, const struct tg_prom_result *result, void *arg)
{
    struct world *w = arg;

    w->calls++;
    w->last_rc = rc;
    snprintf(w->last_message, sizeof(w->last_message), "%s", message);
    snprintf(w->last_error, sizeof(w->last_error), "%s", tg_error_last());
    w->had_result = result != NULL;
    if (rc == 0)
        assert_non_null(result);
    else
        assert_null(result);
    if (result) {
        w->result_type = (int)result->type;
        w->n_series = result->n_series;
        if (result->n_series) {
            w->first_value = result->series[0].values[0];
            w->first_n = result->series[0].n;
            snprintf(w->first_labels, sizeof(w->first_labels), "%s", result->series[0].labels);
        }
    }
    if (w->free_in_callback) {
        w->free_in_callback = false;
        tg_checker_free(w->checker);
        w->checker = NULL;
    }
}

static void on_smoke(int rc, bool passed, long status, const char *message, void *arg)
{
    struct world *w = arg;

    w->calls++;
    w->last_rc = rc;
    w->passed = passed;
    w->status = status;
    snprintf(w->last_message, sizeof(w->last_message), "%s", message);
}

/* --- queries -------------------------------------------------------------------------------- */

#define VECTOR_BODY                                                                                \
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"        \
    "\"track\":\"canary\"},\"value\":[1700000000.5,\"0.012\"]}]}}"

static void instant_query_is_posted_encoded_with_the_token(void **state)
{
    const char *script[] = {response(0, 200, "OK", VECTOR_BODY)};
    struct world w;
    struct tg_checker_options o = {.bearer_token = "s3cret-token"};
    char url[160];

    (void)state;
    memset(&w, 0, sizeof(w));
    /* The server's port is only known once it listens: start it, then point the default at it. */
    world_start_with(&w, script, 1, NULL);
    tg_checker_free(w.checker);
    snprintf(url, sizeof(url), "%s/prom/", w.base);
    o.prometheus_url = url;
    assert_int_equal(tg_checker_new(&w.loop, &o, &w.checker), 0);

    assert_int_equal(tg_checker_query(w.checker, NULL, "sum(rate(x{track=\"canary\"}[30s])) > 0&1",
                                      2500, on_query, &w),
                     0);
    assert_int_equal(w.calls, 0); /* never before the call returns */
    run_until(&w, 1);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.last_rc, 0);
    assert_string_equal(w.last_message, "");
    assert_int_equal(w.result_type, TG_PROM_VECTOR);
    assert_int_equal(w.n_series, 1);
    assert_true(fabs(w.first_value - 0.012) < 1e-12);
    assert_string_equal(w.first_labels, "{\"track\":\"canary\"}");
    /* The path prefix is kept, the trailing slash is not doubled, the query is encoded. */
    assert_non_null(strstr(w.srv.last_request, "POST /prom/api/v1/query HTTP/1.1\r\n"));
    assert_non_null(strstr(w.srv.last_request, "\r\nAuthorization: Bearer s3cret-token\r\n"));
    assert_non_null(
        strstr(w.srv.last_request, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
    assert_non_null(
        strstr(w.srv.last_request,
               "\r\n\r\nquery=sum%28rate%28x%7Btrack%3D%22canary%22%7D%5B30s%5D%29%29%20%"
               "3E%200%261&timeout=2.500"));
    struct tg_checker_stats st;
    tg_checker_stats(w.checker, &st);
    assert_int_equal(st.queries_ok, 1);
    assert_int_equal(st.queries_failed, 0);
    world_end(&w);
}

static void scalar_query_with_basic_auth_at_an_explicit_address(void **state)
{
    const char *script[] = {response(
        0, 200, "OK",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1700000000,"
        "\"42\"]}}")};
    struct world w;
    struct tg_checker_options o = {.username = "alice", .password = "pw"};

    (void)state;
    world_start_with(&w, script, 1, &o);
    assert_int_equal(tg_checker_query(w.checker, w.base, "vector(42)", 0, on_query, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.result_type, TG_PROM_SCALAR);
    assert_int_equal(w.n_series, 1);
    assert_true(w.first_value == 42.0);
    assert_non_null(strstr(w.srv.last_request, "POST /api/v1/query HTTP/1.1\r\n"));
    /* base64("alice:pw") */
    assert_non_null(strstr(w.srv.last_request, "\r\nAuthorization: Basic YWxpY2U6cHc=\r\n"));
    /* The default timeout, 10 s, is sent as Prometheus' own. */
    assert_non_null(strstr(w.srv.last_request, "\r\n\r\nquery=vector%2842%29&timeout=10.000"));
    world_end(&w);
}

static void range_query_sends_start_end_step_and_decodes_a_matrix(void **state)
{
    const char *script[] = {response(
        0, 200, "OK",
        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
        "{\"metric\":{\"track\":\"canary\"},\"values\":[[1700000000,\"1\"],[1700000005,\"2\"],"
        "[1700000010,\"NaN\"]]},"
        "{\"metric\":{\"track\":\"baseline\"},\"values\":[[1700000000,\"3\"]]}]}}")};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    assert_int_equal(tg_checker_query_range(w.checker, w.base, "up{job=\"api\"}", 1700000000000LL,
                                            1700000060500LL, 5000, 3000, on_query, &w),
                     0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.result_type, TG_PROM_MATRIX);
    assert_int_equal(w.n_series, 2);
    assert_int_equal(w.first_n, 3);
    assert_true(w.first_value == 1.0);
    assert_non_null(strstr(w.srv.last_request, "POST /api/v1/query_range HTTP/1.1\r\n"));
    assert_non_null(strstr(w.srv.last_request,
                           "\r\n\r\nquery=up%7Bjob%3D%22api%22%7D&start=1700000000.000"
                           "&end=1700000060.500&step=5.000&timeout=3.000"));
    world_end(&w);
}

static void range_query_rejects_a_bad_range(void **state)
{
    const char *script[] = {response(0, 200, "OK", VECTOR_BODY)};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    assert_int_equal(
        tg_checker_query_range(w.checker, w.base, "up", 2000, 1000, 5000, 0, on_query, &w),
        TG_EINVALID);
    assert_int_equal(
        tg_checker_query_range(w.checker, w.base, "up", 1000, 2000, 0, 0, on_query, &w),
        TG_EINVALID);
    uv_run(&w.loop, UV_RUN_NOWAIT);
    assert_int_equal(w.calls, 0);
    assert_int_equal(w.srv.requests, 0);
    world_end(&w);
}

static void prometheus_error_carries_error_type_and_error(void **state)
{
    const char *script[] = {
        response(0, 400, "Bad Request",
                 "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
                 "\\\"query\\\": 1:5: parse error: unexpected end of input\"}")};
    struct world w;
    struct tg_checker_options o = {.bearer_token = "s3cret-token"};

    (void)state;
    world_start_with(&w, script, 1, &o);
    assert_int_equal(tg_checker_query(w.checker, w.base, "sum(", 0, on_query, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, TG_EINVALID);
    assert_false(w.had_result);
    assert_non_null(strstr(w.last_message, w.base));
    assert_non_null(strstr(w.last_message, "HTTP 400"));
    assert_non_null(strstr(w.last_message, "bad_data"));
    assert_non_null(strstr(w.last_message, "parse error: unexpected end of input"));
    assert_null(strstr(w.last_message, "s3cret"));
    assert_string_equal(w.last_error, w.last_message);
    struct tg_checker_stats st;
    tg_checker_stats(w.checker, &st);
    assert_int_equal(st.queries_ok, 0);
    assert_int_equal(st.queries_failed, 1);
    world_end(&w);
}

static void http_503_is_an_error(void **state)
{
    static const char *const script[] = {
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 22\r\n\r\nupstream connect error"};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    assert_int_equal(tg_checker_query(w.checker, w.base, "up", 0, on_query, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, TG_ETRANSIENT);
    assert_non_null(strstr(w.last_message, w.base));
    assert_non_null(strstr(w.last_message, "HTTP 503: upstream connect error"));
    world_end(&w);
}

static void an_answer_that_is_not_json_is_an_error(void **state)
{
    const char *script[] = {response(0, 200, "OK", "<html>login</html>")};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    assert_int_equal(tg_checker_query(w.checker, w.base, "up", 0, on_query, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, TG_EINVALID);
    assert_non_null(strstr(w.last_message, w.base));
    assert_non_null(strstr(w.last_message, "not JSON"));
    world_end(&w);
}

static void connection_refused_is_an_error_with_a_message(void **state)
{
    const char *script[] = {response(0, 200, "OK", VECTOR_BODY)};
    struct world w;
    char addr[64];

    (void)state;
    world_start(&w, script, 1);
    snprintf(addr, sizeof(addr), "http://127.0.0.1:%d", closed_port(&w));
    assert_int_equal(tg_checker_query(w.checker, addr, "up", 0, on_query, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, TG_EUNREACHABLE);
    assert_non_null(strstr(w.last_message, "Prometheus at "));
    assert_non_null(strstr(w.last_message, addr));
    assert_non_null(strstr(w.last_message, ": cannot connect: "));
    world_end(&w);
}

static void a_query_that_never_answers_times_out(void **state)
{
    static const char *const script[] = {NULL};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    assert_int_equal(tg_checker_query(w.checker, w.base, "up", 50, on_query, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, TG_ETIMEOUT);
    assert_non_null(strstr(w.last_message, w.base));
    assert_non_null(strstr(w.last_message, ": timed out after 50 ms"));
    assert_int_equal(w.srv.requests, 1);
    world_end(&w);
}

static void no_address_is_invalid_at_once(void **state)
{
    const char *script[] = {response(0, 200, "OK", VECTOR_BODY)};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    assert_int_equal(tg_checker_query(w.checker, NULL, "up", 0, on_query, &w), TG_EINVALID);
    assert_string_equal(tg_error_last(), "no Prometheus address: set "
                                         "spec.analysis.prometheus.address or run tollgate with "
                                         "--prometheus-url");
    assert_int_equal(tg_checker_query_range(w.checker, "", "up", 0, 1000, 1000, 0, on_query, &w),
                     TG_EINVALID);
    assert_int_equal(tg_checker_query(w.checker, w.base, "", 0, on_query, &w), TG_EINVALID);
    uv_run(&w.loop, UV_RUN_NOWAIT);
    assert_int_equal(w.calls, 0);
    world_end(&w);
}

static void credentials_in_the_address_are_never_shown(void **state)
{
    const char *script[] = {
        response(0, 500, "Internal Server Error",
                 "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"boom\"}")};
    struct world w;
    char addr[160], shown[160];

    (void)state;
    world_start(&w, script, 1);
    snprintf(addr, sizeof(addr), "http://bob:hunter2@127.0.0.1:%d/prom/", w.srv.port);
    snprintf(shown, sizeof(shown),
             "Prometheus at http://127.0.0.1:%d/prom: HTTP 500: ", w.srv.port);
    assert_int_equal(tg_checker_query(w.checker, addr, "up", 0, on_query, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, TG_ETRANSIENT);
    assert_non_null(strstr(w.last_message, shown));
    assert_non_null(strstr(w.last_message, "internal: boom"));
    assert_null(strstr(w.last_message, "hunter2"));
    assert_null(strstr(w.last_message, "bob"));
    /* The credentials in the URL were still used. */
    assert_non_null(strstr(w.srv.last_request, "\r\nAuthorization: Basic Ym9iOmh1bnRlcjI=\r\n"));
    world_end(&w);
}

static void an_address_that_is_not_http_is_invalid_at_once(void **state)
{
    const char *script[] = {response(0, 200, "OK", VECTOR_BODY)};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    assert_int_equal(tg_checker_query(w.checker, "ftp://prom:21", "up", 0, on_query, &w),
                     TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "not an http(s) URL"));
    assert_int_equal(tg_checker_query(w.checker, "http://[::1", "up", 0, on_query, &w),
                     TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "not a URL"));
    uv_run(&w.loop, UV_RUN_NOWAIT);
    assert_int_equal(w.calls, 0);
    world_end(&w);
}

/* --- TLS ------------------------------------------------------------------------------------ */

/*
 * A self-signed certificate for 127.0.0.1 (EC P-256, CA:TRUE, valid until 2126) and its key,
 * made for these tests only: the server below presents it, and the checker trusts it as its CA.
 */
static const char test_cert[] = "-----BEGIN CERTIFICATE-----\n"
                                "MIIBkDCCATagAwIBAgIUT5BwWc7F6ao0nt825zb5B3KbbvAwCgYIKoZIzj0EAwIw\n"
                                "FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyNjA4MTU1NFoYDzIxMjYxMTAy\n"
                                "MDgxNTU0WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO\n"
                                "PQMBBwNCAARjhaE/ZGhVOv7H8sCjYVma2tBX9dXeKqUXxkhZRcjuipL6M3YTrbmK\n"
                                "MR1Me/uBOQ8Z1wVLI+Lf+Vqz8L3Oo650o2QwYjAdBgNVHQ4EFgQUfx/i68N2+cQ7\n"
                                "VxGrhgTcOPEgEgEwHwYDVR0jBBgwFoAUfx/i68N2+cQ7VxGrhgTcOPEgEgEwDwYD\n"
                                "VR0RBAgwBocEfwAAATAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUC\n"
                                "IQDqxovFzIHnZGf6nhg7mSGu1O4+Qcoh74PHPsozeETn0AIgAicOazGI4zClFGVu\n"
                                "iHnRXLDtPWXoSDioQD4ayvDPnO4=\n"
                                "-----END CERTIFICATE-----\n";
static const char test_key[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIeFJLj3KB4erdIgw\n"
                               "LqqonQAnTHUewB+XmSkLSbBuMrShRANCAARjhaE/ZGhVOv7H8sCjYVma2tBX9dXe\n"
                               "KqUXxkhZRcjuipL6M3YTrbmKMR1Me/uBOQ8Z1wVLI+Lf+Vqz8L3Oo650\n"
                               "-----END PRIVATE KEY-----\n";

/*
 * A one-connection HTTPS server on the loop, OpenSSL on memory BIOs: it completes the handshake,
 * answers every complete request with response, and counts the requests. (fake_http_server.h
 * speaks plain HTTP only.)
 */
struct tls_server {
    uv_tcp_t listener, conn;
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in, *out; /* what the peer sent, what we send; owned by ssl */
    int port;
    bool conn_open;
    const char *response;
    size_t requests;
    char req[16384];
    size_t len;
};

struct tls_write {
    uv_write_t w;
    char data[];
};

static void tls_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

/* Sends what OpenSSL queued for the peer. */
static void tls_flush(struct tls_server *t)
{
    int n;

    while ((n = (int)BIO_ctrl_pending(t->out)) > 0) {
        struct tls_write *w = malloc(sizeof(*w) + (size_t)n);
        assert_non_null(w);
        n = BIO_read(t->out, w->data, n);
        uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
        uv_write(&w->w, (uv_stream_t *)&t->conn, &b, 1, tls_written);
    }
}

static void tls_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char space[65536];

    (void)h;
    (void)suggested;
    *buf = uv_buf_init(space, sizeof(space));
}

static void tls_conn_closed(uv_handle_t *h)
{
    struct tls_server *t = h->data;

    SSL_free(t->ssl);
    t->ssl = NULL;
    t->conn_open = false;
}

static void tls_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct tls_server *t = s->data;
    int got;

    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, tls_conn_closed);
        return;
    }
    BIO_write(t->in, buf->base, (int)n);
    if (!SSL_is_init_finished(t->ssl) && SSL_do_handshake(t->ssl) <= 0) {
        tls_flush(t); /* more handshake to come, or an alert for the peer */
        return;
    }
    while ((got = SSL_read(t->ssl, t->req + t->len, (int)(sizeof(t->req) - 1 - t->len))) > 0) {
        t->len += (size_t)got;
        t->req[t->len] = '\0';
        char *end = strstr(t->req, "\r\n\r\n");
        const char *cl = strstr(t->req, "Content-Length: ");
        size_t body = cl && end && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
        if (end && t->len >= (size_t)(end - t->req) + 4 + body) {
            t->requests++;
            t->len = 0;
            SSL_write(t->ssl, t->response, (int)strlen(t->response));
        }
    }
    tls_flush(t);
}

static void tls_connection(uv_stream_t *server, int status)
{
    struct tls_server *t = server->data;

    if (status < 0 || t->conn_open)
        return;
    uv_tcp_init(server->loop, &t->conn);
    t->conn.data = t;
    t->conn_open = true;
    t->len = 0;
    t->ssl = SSL_new(t->ctx);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    SSL_set_bio(t->ssl, t->in, t->out);
    SSL_set_accept_state(t->ssl);
    if (uv_accept(server, (uv_stream_t *)&t->conn) == 0)
        uv_read_start((uv_stream_t *)&t->conn, tls_alloc, tls_read);
    else
        uv_close((uv_handle_t *)&t->conn, tls_conn_closed);
}

static void tls_server_start(struct tls_server *t, uv_loop_t *loop, const char *response)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    memset(t, 0, sizeof(*t));
    t->response = response;
    assert_non_null(t->ctx = SSL_CTX_new(TLS_server_method()));
    BIO *b = BIO_new_mem_buf(test_cert, -1);
    X509 *cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(test_key, -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_int_equal(SSL_CTX_use_certificate(t->ctx, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(t->ctx, key), 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    uv_tcp_init(loop, &t->listener);
    t->listener.data = t;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_bind(&t->listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&t->listener, 4, tls_connection), 0);
    uv_tcp_getsockname(&t->listener, (struct sockaddr *)&bound, &len);
    t->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

/* Closes the server; run the loop afterwards, then free the context with tls_server_free. */
static void tls_server_stop(struct tls_server *t)
{
    if (t->conn_open && !uv_is_closing((uv_handle_t *)&t->conn))
        uv_close((uv_handle_t *)&t->conn, tls_conn_closed);
    uv_close((uv_handle_t *)&t->listener, NULL);
}

/* Runs one query against a fresh TLS server with the given options; fills w. */
static void query_over_tls(struct world *w, struct tg_checker_options *o)
{
    static const char *const unused[] = {NULL};
    struct tls_server t;
    char addr[64];

    world_start_with(w, unused, 1, o);
    tls_server_start(&t, &w->loop, response(0, 200, "OK", VECTOR_BODY));
    snprintf(addr, sizeof(addr), "https://127.0.0.1:%d", t.port);
    assert_int_equal(tg_checker_query(w->checker, addr, "up", 5000, on_query, w), 0);
    run_until(w, 1);
    assert_non_null(strstr(w->last_message, w->last_rc ? addr : ""));
    tls_server_stop(&t);
    world_end(w);
    SSL_CTX_free(t.ctx);
}

static void https_with_the_ca_verifies_the_server(void **state)
{
    struct world w;
    struct tg_checker_options o = {.ca_pem = test_cert, .ca_len = sizeof(test_cert) - 1};

    (void)state;
    query_over_tls(&w, &o);
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.result_type, TG_PROM_VECTOR);
}

static void https_without_the_ca_is_a_tls_error(void **state)
{
    struct world w;

    (void)state;
    query_over_tls(&w, NULL); /* the system's CAs do not know the test certificate */
    assert_int_equal(w.last_rc, TG_ETLS);
    assert_non_null(strstr(w.last_message, "Prometheus at https://127.0.0.1:"));
    assert_non_null(strstr(w.last_message, "TLS"));
    assert_non_null(strstr(w.last_message, "certificate"));
}

static void https_insecure_skips_verification(void **state)
{
    struct world w;
    struct tg_checker_options o = {.insecure = true};

    (void)state;
    query_over_tls(&w, &o);
    assert_int_equal(w.last_rc, 0);
}

static void a_garbage_ca_is_refused_at_once(void **state)
{
    uv_loop_t loop;
    struct tg_checker *c = NULL;
    static const char garbage[] = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                                  "-----END CERTIFICATE-----\n";
    struct tg_checker_options o = {.ca_pem = garbage, .ca_len = sizeof(garbage) - 1};

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(tg_checker_new(&loop, &o, &c), TG_EINVALID);
    assert_null(c);
    assert_non_null(strstr(tg_error_last(), "no PEM certificate"));
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* --- smoke tests --------------------------------------------------------------------------- */

static struct tg_smoke_http smoke_spec(struct world *w, char *url, size_t cap, const char *path)
{
    snprintf(url, cap, "%s%s", w->base, path);
    return (struct tg_smoke_http){.url = url, .timeout_ms = 2000, .retry_delay_ms = 1};
}

static void smoke_passes_on_the_expected_status_and_sends_no_credentials(void **state)
{
    const char *script[] = {response(0, 200, "OK", "{\"status\":\"ok\"}")};
    struct world w;
    struct tg_checker_options o = {.bearer_token = "s3cret-token", .username = "alice"};
    char url[160];

    (void)state;
    world_start_with(&w, script, 1, &o);
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/healthz");
    s.body_pattern = "\"status\": ?\"ok\"";
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    assert_int_equal(w.calls, 0);
    run_until(&w, 1);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.last_rc, 0);
    assert_true(w.passed);
    assert_int_equal(w.status, 200);
    assert_string_equal(w.last_message, "HTTP 200");
    assert_non_null(strstr(w.srv.last_request, "GET /healthz HTTP/1.1\r\n"));
    assert_null(strstr(w.srv.last_request, "Authorization"));
    assert_null(strstr(w.srv.last_request, "s3cret"));
    struct tg_checker_stats st;
    tg_checker_stats(w.checker, &st);
    assert_int_equal(st.http_attempts, 1);
    world_end(&w);
}

static void smoke_fails_when_the_body_does_not_match(void **state)
{
    const char *script[] = {response(0, 200, "OK", "{\"status\":\"degraded\"}")};
    struct world w;
    char url[160];

    (void)state;
    world_start(&w, script, 1);
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/healthz");
    s.body_pattern = "\"ok\"";
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, 0);
    assert_false(w.passed);
    assert_int_equal(w.status, 200);
    assert_string_equal(w.last_message, "body did not match /\"ok\"/");
    assert_int_equal(w.srv.requests, 1);
    world_end(&w);
}

static void smoke_matches_the_body_of_an_expected_error_status(void **state)
{
    const char *script[] = {response(0, 404, "Not Found", "{\"error\":\"no such page\"}")};
    struct world w;
    char url[160];

    (void)state;
    world_start(&w, script, 1);
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/missing");
    s.method = "DELETE";
    s.expected_status = 404;
    s.body_pattern = "no such (page|file)";
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    run_until(&w, 1);
    assert_true(w.passed);
    assert_string_equal(w.last_message, "HTTP 404");
    assert_non_null(strstr(w.srv.last_request, "DELETE /missing HTTP/1.1\r\n"));
    world_end(&w);
}

static void smoke_head_does_not_wait_for_a_body(void **state)
{
    static const char *const script[] = {"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"};
    struct world w;
    char url[160];

    (void)state;
    world_start(&w, script, 1);
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/");
    s.method = "HEAD";
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    run_until(&w, 1);
    assert_true(w.passed);
    assert_string_equal(w.last_message, "HTTP 200");
    assert_non_null(strstr(w.srv.last_request, "HEAD / HTTP/1.1\r\n"));
    world_end(&w);
}

static void smoke_retries_until_a_later_attempt_passes(void **state)
{
    const char *script[] = {response(0, 503, "Service Unavailable", "starting"),
                            response(1, 503, "Service Unavailable", "starting"),
                            response(2, 200, "OK", "ok")};
    struct world w;
    char url[160];

    (void)state;
    world_start(&w, script, 3);
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/ready");
    s.retries = 2;
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.calls, 1);
    assert_true(w.passed);
    assert_int_equal(w.status, 200);
    assert_string_equal(w.last_message, "HTTP 200 (after 3 attempts)");
    assert_int_equal(w.srv.requests, 3);
    struct tg_checker_stats st;
    tg_checker_stats(w.checker, &st);
    assert_int_equal(st.http_attempts, 3);
    world_end(&w);
}

static void smoke_fails_after_all_attempts(void **state)
{
    const char *script[] = {response(0, 503, "Service Unavailable", "down")};
    struct world w;
    char url[160];

    (void)state;
    world_start(&w, script, 1);
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/ready");
    s.retries = 2;
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.last_rc, 0);
    assert_false(w.passed);
    assert_int_equal(w.status, 503);
    assert_string_equal(w.last_message, "HTTP 503 (expected 200) (after 3 attempts)");
    assert_int_equal(w.srv.requests, 3);
    world_end(&w);
}

/* A 200 with a body of 1 MiB + 64 KiB: marker at offset `at`, filler elsewhere. */
static char *big_response(size_t at)
{
    size_t body = (1u << 20) + 65536;
    char head[128];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
    char *r = malloc((size_t)n + body + 1);

    assert_non_null(r);
    memcpy(r, head, (size_t)n);
    memset(r + n, 'x', body);
    memcpy(r + n + at, "MARKER", 6);
    r[(size_t)n + body] = '\0';
    return r;
}

static void smoke_matches_only_the_first_mebibyte(void **state)
{
    struct world w;
    char url[160];

    (void)state;
    for (int past = 0; past <= 1; past++) {
        char *big = big_response(past ? (1u << 20) + 100 : 1000);
        const char *script[] = {big};
        world_start(&w, script, 1);
        struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/big");
        s.body_pattern = "MARKER";
        assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
        run_until(&w, 1);
        assert_int_equal(w.last_rc, 0);
        assert_int_equal(w.status, 200);
        if (past) {
            assert_false(w.passed);
            assert_string_equal(w.last_message, "body did not match /MARKER/");
        } else {
            assert_true(w.passed);
        }
        world_end(&w);
        free(big);
    }
}

static void smoke_connection_refused(void **state)
{
    const char *script[] = {response(0, 200, "OK", "ok")};
    struct world w;
    char url[160];

    (void)state;
    world_start(&w, script, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", closed_port(&w));
    struct tg_smoke_http s = {.url = url, .retries = 1, .retry_delay_ms = 1};
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, 0);
    assert_false(w.passed);
    assert_int_equal(w.status, 0);
    assert_string_equal(w.last_message, "connection refused (after 2 attempts)");
    world_end(&w);
}

static void smoke_times_out_per_attempt(void **state)
{
    static const char *const script[] = {NULL};
    struct world w;
    char url[160];

    (void)state;
    world_start(&w, script, 1);
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/slow");
    s.timeout_ms = 50;
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    run_until(&w, 1);
    assert_false(w.passed);
    assert_string_equal(w.last_message, "timed out after 50 ms");
    world_end(&w);
}

static void smoke_rejects_bad_input_at_once(void **state)
{
    const char *script[] = {response(0, 200, "OK", "ok")};
    struct world w;
    char url[160];

    (void)state;
    world_start(&w, script, 1);
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/");
    s.body_pattern = "(unclosed";
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "bad body pattern"));
    s.body_pattern = NULL;
    s.retries = -1;
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), TG_EINVALID);
    s.retries = 0;
    s.url = "file:///etc/passwd";
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), TG_EINVALID);
    assert_non_null(
        strstr(tg_error_last(), "smoke test URL \"file:///etc/passwd\" is not an http(s) URL"));
    s.url = NULL;
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), TG_EINVALID);
    uv_run(&w.loop, UV_RUN_NOWAIT);
    assert_int_equal(w.calls, 0);
    assert_int_equal(w.srv.requests, 0);
    world_end(&w);
}

/* --- freeing with work in flight ------------------------------------------------------------ */

static void free_cancels_a_query_in_flight_once(void **state)
{
    static const char *const script[] = {NULL};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    assert_int_equal(tg_checker_query(w.checker, w.base, "up", 5000, on_query, &w), 0);
    run_until_requests(&w, 1);
    assert_int_equal(w.calls, 0);
    tg_checker_free(w.checker);
    w.checker = NULL;
    assert_int_equal(w.calls, 1); /* before free returns */
    assert_int_equal(w.last_rc, TG_ECANCELED);
    assert_false(w.had_result);
    fake_server_stop(&w.srv);
    uv_run(&w.loop, UV_RUN_DEFAULT); /* returns: nothing is left open */
    assert_int_equal(w.calls, 1);
    assert_int_equal(uv_loop_close(&w.loop), 0);
}

/* Frees the checker when the first smoke attempt has been answered and the retry waits. */
static void free_from_timer(uv_timer_t *t)
{
    struct world *w = t->data;

    assert_int_equal(w->calls, 0);
    tg_checker_free(w->checker);
    w->checker = NULL;
    assert_int_equal(w->calls, 1);
    uv_close((uv_handle_t *)t, NULL);
}

static void free_cancels_a_pending_retry_once(void **state)
{
    const char *script[] = {response(0, 503, "Service Unavailable", "down")};
    struct world w;
    char url[160];
    uv_timer_t t;

    (void)state;
    world_start(&w, script, 1);
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/ready");
    s.retries = 5;
    s.retry_delay_ms = 60000;
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    /* The 503 arrives within milliseconds; the retry would wait a minute. */
    uv_timer_init(&w.loop, &t);
    t.data = &w;
    uv_timer_start(&t, free_from_timer, 200, 0);
    run_until(&w, 1);
    assert_int_equal(w.srv.requests, 1);
    assert_int_equal(w.last_rc, TG_ECANCELED);
    assert_false(w.passed);
    fake_server_stop(&w.srv);
    uv_run(&w.loop, UV_RUN_DEFAULT); /* returns at once: the minute-long timer is closed */
    assert_int_equal(w.calls, 1);
    assert_int_equal(uv_loop_close(&w.loop), 0);
}

static void free_from_a_callback_cancels_the_rest(void **state)
{
    const char *script[] = {NULL, response(0, 200, "OK", VECTOR_BODY)};
    struct world w;
    char url[160];

    (void)state;
    world_start(&w, script, 2);
    /* The first request (a smoke test) is never answered, the second (a query) is. */
    struct tg_smoke_http s = smoke_spec(&w, url, sizeof(url), "/healthz");
    assert_int_equal(tg_checker_http(w.checker, &s, on_smoke, &w), 0);
    run_until_requests(&w, 1);
    w.free_in_callback = true;
    assert_int_equal(tg_checker_query(w.checker, w.base, "up", 5000, on_query, &w), 0);
    run_until(&w, 2);
    /* The query's callback freed the checker, which called the smoke test back, canceled. */
    assert_int_equal(w.calls, 2);
    assert_int_equal(w.last_rc, TG_ECANCELED);
    assert_false(w.passed);
    assert_null(w.checker);
    fake_server_stop(&w.srv);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    assert_int_equal(w.calls, 2);
    assert_int_equal(uv_loop_close(&w.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(instant_query_is_posted_encoded_with_the_token),
        cmocka_unit_test(scalar_query_with_basic_auth_at_an_explicit_address),
        cmocka_unit_test(range_query_sends_start_end_step_and_decodes_a_matrix),
        cmocka_unit_test(range_query_rejects_a_bad_range),
        cmocka_unit_test(prometheus_error_carries_error_type_and_error),
        cmocka_unit_test(http_503_is_an_error),
        cmocka_unit_test(an_answer_that_is_not_json_is_an_error),
        cmocka_unit_test(connection_refused_is_an_error_with_a_message),
        cmocka_unit_test(a_query_that_never_answers_times_out),
        cmocka_unit_test(no_address_is_invalid_at_once),
        cmocka_unit_test(credentials_in_the_address_are_never_shown),
        cmocka_unit_test(an_address_that_is_not_http_is_invalid_at_once),
        cmocka_unit_test(a_garbage_ca_is_refused_at_once),
        cmocka_unit_test(https_with_the_ca_verifies_the_server),
        cmocka_unit_test(https_without_the_ca_is_a_tls_error),
        cmocka_unit_test(https_insecure_skips_verification),
        cmocka_unit_test(smoke_passes_on_the_expected_status_and_sends_no_credentials),
        cmocka_unit_test(smoke_fails_when_the_body_does_not_match),
        cmocka_unit_test(smoke_matches_the_body_of_an_expected_error_status),
        cmocka_unit_test(smoke_head_does_not_wait_for_a_body),
        cmocka_unit_test(smoke_retries_until_a_later_attempt_passes),
        cmocka_unit_test(smoke_fails_after_all_attempts),
        cmocka_unit_test(smoke_matches_only_the_first_mebibyte),
        cmocka_unit_test(smoke_connection_refused),
        cmocka_unit_test(smoke_times_out_per_attempt),
        cmocka_unit_test(smoke_rejects_bad_input_at_once),
        cmocka_unit_test(free_cancels_a_query_in_flight_once),
        cmocka_unit_test(free_cancels_a_pending_retry_once),
        cmocka_unit_test(free_from_a_callback_cancels_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
