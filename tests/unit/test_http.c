/*
 * Unit tests for kube/http against a scripted local server on the same loop: responses and
 * Retry-After, headers sent, connection reuse, the body cap, curl errors mapped, timeouts,
 * streaming, cancellation and closing (every callback exactly once, the loop finishes, and
 * AddressSanitizer sees no leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fake_http_server.h"
#include "kube/http.h"
#include "util/error.h"

#define OK_JSON                                                                                    \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "                        \
    "11\r\n\r\n{\"a\":\"b\"}\r\n"

/* One test's world: a loop, a server, a client and what the callbacks saw. */
struct world {
    uv_loop_t loop;
    struct fake_server srv;
    struct tg_http *http;
    char url[128];
    int done_calls;
    int last_rc;
    long last_status;
    long last_retry_after;
    long last_http_version;
    long new_connections; /* summed over the responses */
    char last_body[4096];
    char last_error[1024];
    int closed_calls;
    int data_calls;
    char data[4096];
    size_t data_len;
    int data_rc; /* what the data callback returns */
    bool cancel_in_data;
    struct tg_http_request *req;
    int chain; /* how many more requests done_chain starts */
};

/* Runs the loop until n done callbacks have run; fails after 10 s. */
static void run_until(struct world *w, int n)
{
    FAKE_RUN_UNTIL(&w->srv, w->done_calls >= n, "timed out waiting for %d callbacks (got %d)", n,
                   w->done_calls);
}

static void world_start(struct world *w, const char *const *script, size_t n)
{
    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    fake_server_start(&w->srv, &w->loop, script, n);
    snprintf(w->url, sizeof(w->url), "http://127.0.0.1:%d/version", w->srv.port);
    assert_int_equal(tg_http_new(&w->loop, NULL, &w->http), 0);
}

static void on_closed(void *arg)
{
    struct world *w = arg;

    w->closed_calls++;
    fake_server_stop(&w->srv);
}

/* Closes the client and the server and runs the loop dry: every handle must be closed. */
static void world_end(struct world *w)
{
    if (w->http)
        tg_http_close(w->http, on_closed, w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(w->closed_calls, 1);
    assert_int_equal(uv_loop_close(&w->loop), 0);
}

static void on_done(int rc, const struct tg_http_response *resp, void *arg)
{
    struct world *w = arg;

    w->done_calls++;
    w->last_rc = rc;
    w->last_status = resp->status;
    w->last_retry_after = resp->retry_after_s;
    w->last_http_version = resp->http_version;
    w->new_connections += resp->new_connections;
    snprintf(w->last_body, sizeof(w->last_body), "%.*s", (int)resp->body_len, resp->body);
    snprintf(w->last_error, sizeof(w->last_error), "%s", resp->error);
    if (rc < 0)
        assert_string_equal(tg_error_last(), resp->error);
}

static struct tg_http_request_spec get_spec(struct world *w)
{
    return (struct tg_http_request_spec){
        .method = "GET", .url = w->url, .on_done = on_done, .arg = w, .timeout_ms = 5000};
}

static void returns_status_body_and_retry_after(void **state)
{
    static const char *const script[] = {
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy"};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    assert_int_equal(w.done_calls, 0); /* never before start returns */
    run_until(&w, 1);
    assert_int_equal(w.done_calls, 1);
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.last_status, 503);
    assert_int_equal(w.last_retry_after, 7);
    assert_string_equal(w.last_body, "busy");
    world_end(&w);
}

static void sends_method_headers_body_and_token(void **state)
{
    static const char *const script[] = {OK_JSON};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    s.method = "PATCH";
    s.body = "{\"x\":1}";
    s.body_len = 7;
    s.content_type = "application/merge-patch+json";
    s.bearer = "tok-123";
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, 0);
    assert_string_equal(w.last_body, "{\"a\":\"b\"}\r\n");
    assert_non_null(strstr(w.srv.last_request, "PATCH /version HTTP/1.1\r\n"));
    assert_non_null(strstr(w.srv.last_request, "\r\nAuthorization: Bearer tok-123\r\n"));
    assert_non_null(
        strstr(w.srv.last_request, "\r\nContent-Type: application/merge-patch+json\r\n"));
    assert_non_null(strstr(w.srv.last_request, "\r\nAccept: application/json\r\n"));
    assert_non_null(strstr(w.srv.last_request, "\r\n\r\n{\"x\":1}"));
    world_end(&w);
}

static void done_chain(int rc, const struct tg_http_response *resp, void *arg)
{
    struct world *w = arg;

    on_done(rc, resp, arg);
    if (w->chain-- > 0) {
        struct tg_http_request_spec s = get_spec(w);
        s.on_done = done_chain;
        assert_int_equal(tg_http_start(w->http, &s, NULL), 0);
    }
}

static void reuses_the_connection(void **state)
{
    static const char *const script[] = {OK_JSON};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    w.chain = 2;
    struct tg_http_request_spec s = get_spec(&w);
    s.on_done = done_chain;
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 3);
    assert_int_equal(w.done_calls, 3);
    assert_int_equal(w.srv.requests, 3);
    assert_int_equal(w.srv.accepted, 1);
    assert_int_equal(w.new_connections, 1); /* what the responses say agrees with the server */
    assert_int_equal(w.last_http_version, 11);
    world_end(&w);
}

static void caps_the_body(void **state)
{
    static const char *const script[] = {OK_JSON};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    s.max_body = 5;
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.done_calls, 1);
    assert_int_equal(w.last_rc, TG_ETOOBIG);
    assert_non_null(strstr(w.last_error, "larger than 5 bytes"));
    world_end(&w);
}

static void unreachable_server(void **state)
{
    static const char *const script[] = {OK_JSON};
    struct world w;
    uv_tcp_t probe;
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    (void)state;
    world_start(&w, script, 1);
    /* A port that was just free: bind, read it, close. */
    uv_tcp_init(&w.loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(&probe, (const struct sockaddr *)&addr, 0);
    uv_tcp_getsockname(&probe, (struct sockaddr *)&bound, &len);
    snprintf(w.url, sizeof(w.url), "http://127.0.0.1:%d/",
             ntohs(((struct sockaddr_in *)&bound)->sin_port));
    uv_close((uv_handle_t *)&probe, NULL);
    struct tg_http_request_spec s = get_spec(&w);
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.done_calls, 1);
    assert_int_equal(w.last_rc, TG_EUNREACHABLE);
    assert_non_null(strstr(w.last_error, "cannot reach http://127.0.0.1:"));
    assert_int_equal(w.last_status, 0);
    world_end(&w);
}

static void times_out(void **state)
{
    static const char *const script[] = {NULL};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    s.timeout_ms = 50;
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.done_calls, 1);
    assert_int_equal(w.last_rc, TG_ETIMEOUT);
    assert_non_null(strstr(w.last_error, "timed out"));
    world_end(&w);
}

static void cancel_from_timer(uv_timer_t *t)
{
    struct world *w = t->data;

    tg_http_cancel(w->req);
    assert_int_equal(w->done_calls, 1); /* before cancel returns */
    assert_int_equal(w->last_rc, TG_ECANCELED);
    uv_close((uv_handle_t *)t, NULL);
}

static void cancel_runs_the_callback_once(void **state)
{
    static const char *const script[] = {NULL};
    struct world w;
    uv_timer_t t;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    assert_int_equal(tg_http_start(w.http, &s, &w.req), 0);
    uv_timer_init(&w.loop, &t);
    t.data = &w;
    uv_timer_start(&t, cancel_from_timer, 20, 0);
    run_until(&w, 1);
    assert_int_equal(w.done_calls, 1);
    assert_int_equal(w.srv.requests, 1); /* it was really in flight */
    assert_int_equal(tg_http_in_flight(w.http), 0);
    world_end(&w);
}

static void close_from_timer(uv_timer_t *t)
{
    struct world *w = t->data;

    tg_http_close(w->http, on_closed, w);
    w->http = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

static void close_cancels_in_flight_requests_and_lets_the_loop_end(void **state)
{
    static const char *const script[] = {NULL};
    struct world w;
    uv_timer_t t;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    uv_timer_init(&w.loop, &t);
    t.data = &w;
    uv_timer_start(&t, close_from_timer, 20, 0);
    uv_run(&w.loop, UV_RUN_DEFAULT); /* returns: nothing is left open */
    assert_int_equal(w.done_calls, 3);
    assert_int_equal(w.last_rc, TG_ECANCELED);
    assert_int_equal(w.closed_calls, 1);
    assert_int_equal(uv_loop_close(&w.loop), 0);
}

static void close_before_the_loop_runs(void **state)
{
    static const char *const script[] = {OK_JSON};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    tg_http_close(w.http, on_closed, &w);
    assert_int_equal(tg_http_start(w.http, &s, NULL), TG_ECANCELED);
    w.http = NULL;
    uv_run(&w.loop, UV_RUN_DEFAULT);
    assert_int_equal(w.done_calls, 1);
    assert_int_equal(w.last_rc, TG_ECANCELED);
    assert_int_equal(w.closed_calls, 1);
    assert_int_equal(uv_loop_close(&w.loop), 0);
}

static int on_data(const char *data, size_t len, void *arg)
{
    struct world *w = arg;

    w->data_calls++;
    memcpy(w->data + w->data_len, data, len);
    w->data_len += len;
    if (w->cancel_in_data && strstr(w->data, "second"))
        tg_http_cancel(w->req);
    return w->data_rc;
}

#define CHUNKED_HEAD                                                                               \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"

static void streams_and_cancels_from_the_data_callback(void **state)
{
    /* Two events, then the stream stays open: only a cancel ends it. */
    static const char *const script[] = {CHUNKED_HEAD "6\r\nfirst\n\r\n7\r\nsecond\n\r\n"};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    w.cancel_in_data = true;
    struct tg_http_request_spec s = get_spec(&w);
    s.timeout_ms = 0;
    s.on_data = on_data;
    assert_int_equal(tg_http_start(w.http, &s, &w.req), 0);
    run_until(&w, 1);
    assert_int_equal(w.done_calls, 1);
    assert_int_equal(w.last_rc, TG_ECANCELED);
    assert_string_equal(w.data, "first\nsecond\n");
    assert_string_equal(w.last_body, ""); /* streamed, not accumulated */
    world_end(&w);
}

static void data_callback_error_stops_the_stream(void **state)
{
    static const char *const script[] = {CHUNKED_HEAD "6\r\nfirst\n\r\n"};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    w.data_rc = TG_ETOOBIG;
    struct tg_http_request_spec s = get_spec(&w);
    s.timeout_ms = 0;
    s.on_data = on_data;
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.done_calls, 1);
    assert_int_equal(w.data_calls, 1);
    assert_int_equal(w.last_rc, TG_ETOOBIG);
    world_end(&w);
}

static void error_statuses_are_not_streamed(void **state)
{
    static const char *const script[] = {
        "HTTP/1.1 410 Gone\r\nContent-Length: 17\r\n\r\n{\"reason\":\"Gone\"}"};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    s.on_data = on_data;
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.data_calls, 0);
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.last_status, 410);
    assert_string_equal(w.last_body, "{\"reason\":\"Gone\"}");
    world_end(&w);
}

static void maps_curl_errors(void **state)
{
    (void)state;
    assert_int_equal(tg_http_map_curl_error(0), 0);
    assert_int_equal(tg_http_map_curl_error(7 /* CURLE_COULDNT_CONNECT */), TG_EUNREACHABLE);
    assert_int_equal(tg_http_map_curl_error(6 /* CURLE_COULDNT_RESOLVE_HOST */), TG_EUNREACHABLE);
    assert_int_equal(tg_http_map_curl_error(28 /* CURLE_OPERATION_TIMEDOUT */), TG_ETIMEOUT);
    assert_int_equal(tg_http_map_curl_error(35 /* CURLE_SSL_CONNECT_ERROR */), TG_ETLS);
    assert_int_equal(tg_http_map_curl_error(60 /* CURLE_PEER_FAILED_VERIFICATION */), TG_ETLS);
    assert_int_equal(tg_http_map_curl_error(77 /* CURLE_SSL_CACERT_BADFILE */), TG_ETLS);
    assert_int_equal(tg_http_map_curl_error(52 /* CURLE_GOT_NOTHING */), TG_ETRANSIENT);
    assert_int_equal(tg_http_map_curl_error(56 /* CURLE_RECV_ERROR */), TG_ETRANSIENT);
    assert_int_equal(tg_http_map_curl_error(3 /* CURLE_URL_MALFORMAT */), TG_EINVALID);
}

static void refuses_incomplete_specs(void **state)
{
    static const char *const script[] = {OK_JSON};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    s.on_done = NULL;
    assert_int_equal(tg_http_start(w.http, &s, NULL), TG_EINVALID);
    world_end(&w);
    assert_int_equal(w.done_calls, 0);
}

static void sends_basic_auth(void **state)
{
    static const char *const script[] = {OK_JSON};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    s.username = "alice";
    s.password = "pw";
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, 0);
    /* base64("alice:pw") */
    assert_non_null(strstr(w.srv.last_request, "\r\nAuthorization: Basic YWxpY2U6cHc=\r\n"));
    world_end(&w);
}

static void head_does_not_wait_for_a_body(void **state)
{
    static const char *const script[] = {"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"};
    struct world w;

    (void)state;
    world_start(&w, script, 1);
    struct tg_http_request_spec s = get_spec(&w);
    s.method = "HEAD";
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 1);
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.last_status, 200);
    assert_non_null(strstr(w.srv.last_request, "HEAD /version HTTP/1.1\r\n"));
    world_end(&w);
}

/* Over plain http, a second request to a host does not wait behind a first that never answers. */
static void plain_http_does_not_queue_behind_a_silent_request(void **state)
{
    static const char *const script[] = {NULL, OK_JSON};
    struct world w;

    (void)state;
    world_start(&w, script, 2);
    struct tg_http_request_spec s = get_spec(&w);
    assert_int_equal(tg_http_start(w.http, &s, &w.req), 0);
    while (w.srv.requests < 1)
        uv_run(&w.loop, UV_RUN_ONCE);
    s.timeout_ms = 5000;
    assert_int_equal(tg_http_start(w.http, &s, NULL), 0);
    run_until(&w, 1); /* the second, answered while the first still waits */
    assert_int_equal(w.last_rc, 0);
    assert_int_equal(w.last_status, 200);
    assert_int_equal(w.srv.accepted, 2);
    tg_http_cancel(w.req);
    assert_int_equal(w.done_calls, 2);
    world_end(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(returns_status_body_and_retry_after),
        cmocka_unit_test(sends_method_headers_body_and_token),
        cmocka_unit_test(reuses_the_connection),
        cmocka_unit_test(caps_the_body),
        cmocka_unit_test(unreachable_server),
        cmocka_unit_test(times_out),
        cmocka_unit_test(cancel_runs_the_callback_once),
        cmocka_unit_test(close_cancels_in_flight_requests_and_lets_the_loop_end),
        cmocka_unit_test(close_before_the_loop_runs),
        cmocka_unit_test(streams_and_cancels_from_the_data_callback),
        cmocka_unit_test(data_callback_error_stops_the_stream),
        cmocka_unit_test(error_statuses_are_not_streamed),
        cmocka_unit_test(maps_curl_errors),
        cmocka_unit_test(refuses_incomplete_specs),
        cmocka_unit_test(sends_basic_auth),
        cmocka_unit_test(head_does_not_wait_for_a_body),
        cmocka_unit_test(plain_http_does_not_queue_behind_a_silent_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
