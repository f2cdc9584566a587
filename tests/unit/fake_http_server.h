/*
 * A scripted HTTP/1.1 server on a libuv loop, for the HTTP and client tests: it answers the
 * requests it receives, in order, with canned raw responses (the last one repeats), keeps
 * connections alive, and records the requests and the connections it accepted. A NULL response
 * never answers (for timeouts and cancellation). Header-only: the tests include it.
 *
 * Optionally (set after fake_server_start), a route function picks the response from the
 * request instead of the script, and the first FAKE_LOG_MAX requests are kept whole (up to
 * FAKE_LOG_LINE bytes each) in log[], so that tests can read the headers of every request.
 */
#ifndef TG_TESTS_FAKE_HTTP_SERVER_H
#define TG_TESTS_FAKE_HTTP_SERVER_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define FAKE_MAX_CONNS 16
#define FAKE_REQ_MAX   65536
#define FAKE_LOG_MAX   64
#define FAKE_LOG_LINE  2048

struct fake_server;

/* Picks the raw response to request (NUL-terminated, headers and body); NULL never answers.
 * The response must live until the server is stopped. */
typedef const char *(*fake_route_fn)(struct fake_server *srv, const char *request, void *arg);

struct fake_conn {
    uv_tcp_t tcp;
    struct fake_server *srv;
    char buf[FAKE_REQ_MAX];
    size_t len;
    int open;
};

struct fake_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    const char *const *script; /* raw responses; NULL entries never answer */
    size_t n_script;
    size_t requests; /* requests received */
    size_t accepted; /* connections accepted */
    char last_request[FAKE_REQ_MAX];
    struct fake_conn conns[FAKE_MAX_CONNS];
    int open_handles;
    fake_route_fn route; /* or NULL: the script */
    void *route_arg;
    char log[FAKE_LOG_MAX][FAKE_LOG_LINE]; /* the first requests, truncated */
    uv_timer_t watchdog;                   /* FAKE_RUN_UNTIL's deadline, unref'd */
    bool timed_out;                        /* the watchdog fired */
};

static void fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct fake_conn *c = h->data;

    (void)suggested;
    buf->base = c->buf + c->len;
    buf->len = sizeof(c->buf) - 1 - c->len;
}

static void fake_closed(uv_handle_t *h)
{
    struct fake_conn *c = h->data;

    c->open = 0;
    c->srv->open_handles--;
}

static void fake_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

/* Length of one complete request at the start of c->buf, or 0 when it is not all here. */
static size_t fake_request_len(struct fake_conn *c)
{
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return 0;
    size_t head = (size_t)(end - c->buf) + 4;
    size_t body = 0;
    const char *cl = strstr(c->buf, "Content-Length: ");
    if (cl && cl < end)
        body = strtoul(cl + 16, NULL, 10);
    return c->len >= head + body ? head + body : 0;
}

static void fake_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct fake_conn *c = s->data;
    struct fake_server *srv = c->srv;
    size_t len;

    (void)buf;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, fake_closed);
        return;
    }
    c->len += (size_t)n;
    while ((len = fake_request_len(c)) > 0) {
        size_t i = srv->requests < srv->n_script ? srv->requests : srv->n_script - 1;
        memcpy(srv->last_request, c->buf, len);
        srv->last_request[len] = '\0';
        if (srv->requests < FAKE_LOG_MAX)
            snprintf(srv->log[srv->requests], FAKE_LOG_LINE, "%s", srv->last_request);
        srv->requests++;
        memmove(c->buf, c->buf + len, c->len - len);
        c->len -= len;
        const char *resp =
            srv->route ? srv->route(srv, srv->last_request, srv->route_arg) : srv->script[i];
        if (!resp)
            continue;
        uv_write_t *w = malloc(sizeof(*w));
        uv_buf_t out = uv_buf_init((char *)resp, (unsigned)strlen(resp));
        uv_write(w, s, &out, 1, fake_written);
    }
}

static void fake_connection(uv_stream_t *server, int status)
{
    struct fake_server *srv = server->data;

    if (status < 0)
        return;
    for (int i = 0; i < FAKE_MAX_CONNS; i++) {
        struct fake_conn *c = &srv->conns[i];
        if (c->open)
            continue;
        memset(c, 0, sizeof(*c));
        c->srv = srv;
        c->open = 1;
        uv_tcp_init(srv->loop, &c->tcp);
        c->tcp.data = c;
        srv->open_handles++;
        if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) {
            srv->accepted++;
            uv_read_start((uv_stream_t *)&c->tcp, fake_alloc, fake_read);
        } else {
            uv_close((uv_handle_t *)&c->tcp, fake_closed);
        }
        return;
    }
}

static void fake_server_start(struct fake_server *srv, uv_loop_t *loop, const char *const *script,
                              size_t n_script)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->script = script;
    srv->n_script = n_script;
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    srv->open_handles = 1;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&srv->listener, 16, fake_connection) != 0) {
        fprintf(stderr, "fake server: cannot listen\n");
        abort();
    }
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
    srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    uv_timer_init(loop, &srv->watchdog);
    srv->watchdog.data = srv;
    uv_unref((uv_handle_t *)&srv->watchdog);
}

static void fake_watchdog_fired(uv_timer_t *t)
{
    struct fake_server *srv = t->data;

    srv->timed_out = true;
    uv_stop(srv->loop);
}

/*
 * Runs srv's loop until cond holds; after 30 seconds fails the test (cmocka's fail_msg) with
 * the printf-style message that follows cond.
 */
#define FAKE_RUN_UNTIL(srv, cond, ...)                                                             \
    do {                                                                                           \
        uv_timer_start(&(srv)->watchdog, fake_watchdog_fired, 30000, 0);                           \
        while (!(cond) && !(srv)->timed_out)                                                       \
            uv_run((srv)->loop, UV_RUN_ONCE);                                                      \
        uv_timer_stop(&(srv)->watchdog);                                                           \
        if ((srv)->timed_out)                                                                      \
            fail_msg(__VA_ARGS__);                                                                 \
    } while (0)

static void fake_listener_closed(uv_handle_t *h)
{
    struct fake_server *srv = h->data;

    srv->open_handles--;
}

/* Closes the listener, every connection and the watchdog; run the loop afterwards to finish. */
static void fake_server_stop(struct fake_server *srv)
{
    for (int i = 0; i < FAKE_MAX_CONNS; i++) {
        uv_handle_t *h = (uv_handle_t *)&srv->conns[i].tcp;
        if (srv->conns[i].open && !uv_is_closing(h))
            uv_close(h, fake_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&srv->listener))
        uv_close((uv_handle_t *)&srv->listener, fake_listener_closed);
    if (!uv_is_closing((uv_handle_t *)&srv->watchdog))
        uv_close((uv_handle_t *)&srv->watchdog, NULL);
}

/* A route table for fake_server.route: the first entry whose match is in the request line and
 * whose need (NULL: anything) is in the request answers; no match answers fallback (NULL: a
 * plain 404). hits counts the requests each entry answered. */
struct fake_route {
    const char *match;
    const char *need;
    const char *response;
    size_t hits;
};

struct fake_routes {
    struct fake_route *routes;
    size_t n;
    const char *fallback;
};

static inline const char *fake_route_table(struct fake_server *srv, const char *request, void *arg)
{
    static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    struct fake_routes *t = arg;
    const char *eol = strstr(request, "\r\n");
    size_t line = eol ? (size_t)(eol - request) : strlen(request);

    (void)srv;
    for (size_t i = 0; i < t->n; i++) {
        const char *m = strstr(request, t->routes[i].match);
        if (!m || (size_t)(m - request) >= line)
            continue;
        if (t->routes[i].need && !strstr(request, t->routes[i].need))
            continue;
        t->routes[i].hits++;
        return t->routes[i].response;
    }
    return t->fallback ? t->fallback : not_found;
}

/* Starts srv on loop answering through table, which gets routes (no entry yet) as its array. */
static inline void fake_server_start_routed(struct fake_server *srv, uv_loop_t *loop,
                                            struct fake_routes *table, struct fake_route *routes)
{
    fake_server_start(srv, loop, NULL, 0);
    table->routes = routes;
    srv->route = fake_route_table;
    srv->route_arg = table;
}

#endif
