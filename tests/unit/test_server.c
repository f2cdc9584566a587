/*
 * Tests for server/server: libwebsockets on our libuv loop answers routes, 404s unknown paths,
 * serves bodies larger than one write chunk, and stops cleanly. A client thread uses libcurl's
 * easy API while the test thread runs the loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "server/server.h"
#include "util/buf.h"
#include "util/error.h"

struct fetch {
    char url[128];
    long status;
    struct tg_buf body;
    char ctype[128];
    atomic_int done;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct fetch *f = ud;
    return tg_buf_append(&f->body, p, size * n) == 0 ? size * n : 0;
}

static void *fetch_thread(void *arg)
{
    struct fetch *f = arg;
    CURL *c = curl_easy_init();
    char *ct = NULL;

    curl_easy_setopt(c, CURLOPT_URL, f->url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        if (ct)
            snprintf(f->ctype, sizeof(f->ctype), "%s", ct);
    }
    curl_easy_cleanup(c);
    atomic_store(&f->done, 1);
    return NULL;
}

static void on_poll(uv_timer_t *t)
{
    struct fetch *f = t->data;
    if (atomic_load(&f->done))
        uv_stop(t->loop);
}

static int render_ok(void *ctx, struct tg_buf *body, const char **ctype)
{
    (void)ctx;
    tg_buf_append_str(body, "ok\n");
    *ctype = "text/plain";
    return 200;
}

static int render_unready(void *ctx, struct tg_buf *body, const char **ctype)
{
    (void)ctype;
    tg_buf_append_str(body, (const char *)ctx);
    return 503;
}

static int render_big(void *ctx, struct tg_buf *body, const char **ctype)
{
    (void)ctx;
    *ctype = "text/plain; version=0.0.4";
    for (int i = 0; i < 20000; i++) {
        char line[32];
        snprintf(line, sizeof(line), "metric_%05d 1\n", i);
        tg_buf_append_str(body, line);
    }
    return 200;
}

/* Runs the loop until the client thread has fetched path from the server. */
static void fetch(uv_loop_t *loop, struct tg_server *s, const char *path, struct fetch *f)
{
    pthread_t th;
    uv_timer_t t;

    memset(f, 0, sizeof(*f));
    tg_buf_init(&f->body, 1 << 22);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d%s", tg_server_port(s), path);
    uv_timer_init(loop, &t);
    t.data = f;
    uv_timer_start(&t, on_poll, 5, 5);
    assert_int_equal(pthread_create(&th, NULL, fetch_thread, f), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void serves_routes_and_404s(void **state)
{
    uv_loop_t loop;
    struct tg_server *s;
    struct fetch f;
    static char reason[] = "cache not synced\n";
    const struct tg_server_route routes[] = {
        {"/healthz", render_ok, NULL},
        {"/readyz", render_unready, reason},
        {"/metrics", render_big, NULL},
    };
    struct tg_server_options opt = {"127.0.0.1", 0, routes, 3, 0};

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(tg_server_start(&loop, &opt, &s), 0);
    assert_true(tg_server_port(s) > 0);

    fetch(&loop, s, "/healthz", &f);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.body.data, "ok\n");
    assert_string_equal(f.ctype, "text/plain");
    tg_buf_free(&f.body);

    fetch(&loop, s, "/readyz?verbose", &f);
    assert_int_equal(f.status, 503);
    assert_string_equal(f.body.data, "cache not synced\n");
    tg_buf_free(&f.body);

    fetch(&loop, s, "/nope", &f);
    assert_int_equal(f.status, 404);
    tg_buf_free(&f.body);

    fetch(&loop, s, "/metrics", &f);
    assert_int_equal(f.status, 200);
    assert_int_equal(f.body.len, 20000 * 15);
    assert_non_null(strstr(f.body.data, "metric_19999 1\n"));
    tg_buf_free(&f.body);

    tg_server_stop(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    tg_server_free(s);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void busy_port_is_an_error(void **state)
{
    uv_loop_t loop;
    struct tg_server *a, *b;
    const struct tg_server_route routes[] = {{"/healthz", render_ok, NULL}};
    struct tg_server_options opt = {"127.0.0.1", 0, routes, 1, 0};

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(tg_server_start(&loop, &opt, &a), 0);
    opt.port = tg_server_port(a);
    assert_int_equal(tg_server_start(&loop, &opt, &b), TG_EIO);
    assert_non_null(strstr(tg_error_last(), "cannot listen on 127.0.0.1:"));
    assert_non_null(b);
    tg_server_stop(b);
    tg_server_stop(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    tg_server_free(b);
    tg_server_free(a);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serves_routes_and_404s),
        cmocka_unit_test(busy_port_is_an_error),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
