/*
 * The operator's HTTP server: libwebsockets on our libuv loop (LWS_SERVER_OPTION_LIBUV with a
 * foreign loop), serving a fixed table of routes (/healthz, /readyz, /metrics, later the
 * dashboard). Each route renders its whole body on request; nothing here blocks the loop.
 */
#ifndef TG_SERVER_SERVER_H
#define TG_SERVER_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "util/buf.h"

/*
 * Renders one response into body (an empty, capped buffer the server owns) and sets
 * *content_type to a static string. Returns the HTTP status to send (200, 503, ...). It runs on
 * the loop and must not block.
 */
typedef int (*tg_server_render_fn)(void *ctx, struct tg_buf *body, const char **content_type);

struct tg_server_route {
    const char *path;           /* matched exactly, query string ignored; static storage */
    tg_server_render_fn render; /* produces the response */
    void *ctx;                  /* passed to render; borrowed */
};

struct tg_server_options {
    const char *iface;                    /* address to bind, e.g. "127.0.0.1"; NULL: all */
    int port;                             /* 0: the kernel picks; see tg_server_port */
    const struct tg_server_route *routes; /* borrowed: must outlive the server */
    size_t nroutes;
    size_t max_body; /* cap on a rendered body; 0 means 8 MiB */
};

struct tg_server;

/*
 * Makes a server on loop and starts listening. On success *out is the caller's. When the port
 * cannot be bound it returns TG_EIO with a message and *out is STILL set: libwebsockets has
 * already joined the loop, so the caller stops it, runs the loop, and frees it as usual. Only on
 * TG_ENOMEM, or when libwebsockets cannot join the loop at all, is *out NULL.
 */
int tg_server_start(uv_loop_t *loop, const struct tg_server_options *opt, struct tg_server **out);

/* The port the server listens on (useful when the options asked for 0). */
int tg_server_port(const struct tg_server *s);

/*
 * Closes the listener and every connection. libwebsockets closes its loop handles
 * asynchronously: run the loop until they are closed (uv_run returns once nothing else is
 * active), then call tg_server_free. No route is rendered after this.
 */
void tg_server_stop(struct tg_server *s);

/* Frees a stopped server whose handles have closed. NULL is a no-op. */
void tg_server_free(struct tg_server *s);

#endif
