/* libwebsockets HTTP server on our libuv loop; see server.h. */
#include "server/server.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define DEFAULT_MAX_BODY (8u << 20)
#define WRITE_CHUNK      16384

struct tg_server {
    struct lws_context *context;
    struct lws_vhost *vhost;
    struct tg_server_options opt;
    void *loops[1];
};

/* One connection's response in flight; lws allocates and frees the struct itself. */
struct session {
    char *out;      /* LWS_PRE bytes of headroom, then the body; owned */
    size_t len;     /* body length */
    size_t sent;    /* body bytes written so far */
    bool finishing; /* the final chunk has been written */
};

static const struct tg_server_route *find_route(const struct tg_server *s, const char *path)
{
    for (size_t i = 0; i < s->opt.nroutes; i++)
        if (strcmp(s->opt.routes[i].path, path) == 0)
            return &s->opt.routes[i];
    return NULL;
}

static void session_reset(struct session *ss)
{
    free(ss->out);
    memset(ss, 0, sizeof(*ss));
}

/* Renders the route into the session and queues the headers; 0, or -1 to drop the connection. */
static int start_response(struct lws *wsi, struct tg_server *s, struct session *ss,
                          const char *path)
{
    const struct tg_server_route *r = find_route(s, path);
    const char *ctype = "text/plain; charset=utf-8";
    struct tg_buf body;
    int status;

    tg_buf_init(&body, s->opt.max_body);
    if (!r) {
        status = HTTP_STATUS_NOT_FOUND;
        tg_buf_append_str(&body, "not found\n");
    } else {
        status = r->render(r->ctx, &body, &ctype);
    }
    session_reset(ss);
    ss->out = malloc(LWS_PRE + body.len + 1);
    if (!ss->out) {
        tg_buf_free(&body);
        return -1;
    }
    if (body.len)
        memcpy(ss->out + LWS_PRE, body.data, body.len);
    ss->len = body.len;
    tg_buf_free(&body);

    uint8_t hdr[LWS_PRE + 512];
    uint8_t *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
    if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, ss->len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int write_body(struct lws *wsi, struct session *ss)
{
    size_t n = ss->len - ss->sent;
    enum lws_write_protocol mode = LWS_WRITE_HTTP_FINAL;

    if (n > WRITE_CHUNK) {
        n = WRITE_CHUNK;
        mode = LWS_WRITE_HTTP;
    }
    /* lws_write needs LWS_PRE writable bytes before the data; the chunk before ours serves. */
    unsigned char *at = (unsigned char *)ss->out + LWS_PRE + ss->sent;
    if (lws_write(wsi, at, n, mode) != (int)n)
        return -1;
    ss->sent += n;
    if (mode == LWS_WRITE_HTTP) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    session_reset(ss);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct session *ss = user;
    struct tg_server *s = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return start_response(wsi, s, ss, (const char *)in);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!ss || !ss->out)
            return 0;
        return write_body(wsi, ss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (ss)
            session_reset(ss);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log(int level, const char *line)
{
    (void)level;
    (void)line; /* lws errors surface through our return codes; its chatter is not ours. */
}

int tg_server_start(uv_loop_t *loop, const struct tg_server_options *opt, struct tg_server **out)
{
    struct lws_context_creation_info info;
    struct tg_server *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (!s)
        return tg_error_set(TG_ENOMEM, "out of memory starting the HTTP server");
    s->opt = *opt;
    if (!s->opt.max_body)
        s->opt.max_body = DEFAULT_MAX_BODY;
    s->loops[0] = loop;

    lws_set_log_level(LLL_ERR, lws_log);
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = s->loops;
    info.user = s;
    info.protocols = protocols;
    info.port = CONTEXT_PORT_NO_LISTEN;
    s->context = lws_create_context(&info);
    if (!s->context) {
        free(s);
        return tg_error_set(TG_EIO, "libwebsockets could not create its context on the loop");
    }
    info.port = opt->port;
    info.iface = opt->iface;
    info.vhost_name = "tollgate";
    *out = s;
    s->vhost = lws_create_vhost(s->context, &info);
    if (!s->vhost)
        return tg_error_set(TG_EIO, "cannot listen on %s:%d", opt->iface ? opt->iface : "*",
                            opt->port);
    return 0;
}

int tg_server_port(const struct tg_server *s)
{
    return s->vhost ? lws_get_vhost_listen_port(s->vhost) : -1;
}

void tg_server_stop(struct tg_server *s)
{
    if (s)
        lws_context_destroy(s->context);
}

void tg_server_free(struct tg_server *s)
{
    if (!s)
        return;
    /* The second call completes the destruction the first began on the foreign loop. */
    lws_context_destroy(s->context);
    free(s);
}
