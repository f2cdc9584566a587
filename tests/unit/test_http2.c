/*
 * kube/http over HTTP/2 against a real server: nghttpd (Debian's nghttp2-server, installed by
 * hack/deps.sh) started as a subprocess on a free port with a self-signed certificate made by
 * the openssl command and a docroot of small files. Several GETs started together on one loop
 * must all come back over HTTP/2 (tg_http_response.http_version 20) on one connection (the
 * responses' new_connections add up to 1), each with its own body. Without nghttpd the tests are
 * skipped with a message saying what to install.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "kube/http.h"
#include "util/error.h"

extern char **environ;

#define NREQ 8

/* The nghttpd under test and its files. */
struct server {
    char dir[64];   /* the temporary directory: key, certificate, log, docroot */
    char path[256]; /* scratch */
    char *cert;     /* the certificate's PEM, which is also the CA to trust */
    size_t cert_len;
    pid_t pid;
    int port;
};

/* What one request's done callback saw. */
struct result {
    int calls;
    int rc;
    long status;
    long http_version;
    long new_connections;
    char body[128];
};

struct world {
    uv_loop_t loop;
    struct tg_http *http;
    struct result results[NREQ];
    int done;
    int closed;
};

/* nghttpd's path: $NGHTTPD, else the first in $PATH, else /usr/sbin/nghttpd; NULL when none. */
static const char *find_nghttpd(char *buf, size_t size)
{
    const char *env = getenv("NGHTTPD");
    const char *path = getenv("PATH");

    if (env && access(env, X_OK) == 0)
        return env;
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);

        snprintf(buf, size, "%.*s/nghttpd", (int)n, path);
        if (n > 0 && access(buf, X_OK) == 0)
            return buf;
        path = colon ? colon + 1 : NULL;
    }
    snprintf(buf, size, "/usr/sbin/nghttpd");
    return access(buf, X_OK) == 0 ? buf : NULL;
}

/* Runs argv to completion with its output in log; returns its exit status (-1: not run). */
static int run_command(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = -1;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) == 0 &&
        waitpid(pid, &status, 0) == pid)
        status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    posix_spawn_file_actions_destroy(&fa);
    return status;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = calloc(1, 65536);
    size_t n;

    assert_non_null(f);
    assert_non_null(data);
    n = fread(data, 1, 65535, f);
    fclose(f);
    if (len)
        *len = n;
    return data;
}

/* A port that was free a moment ago (bound to 127.0.0.1, read, released). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool accepts_connections(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

/* Makes the certificate and docroot and starts nghttpd; leaves s->port 0 without nghttpd. */
static void server_start(struct server *s)
{
    char nghttpd_buf[512], port[16], key[128], crt[128], docroot[128], log[128];
    const char *nghttpd = find_nghttpd(nghttpd_buf, sizeof(nghttpd_buf));
    posix_spawn_file_actions_t fa;

    memset(s, 0, sizeof(*s));
    if (!nghttpd)
        return; /* s->port stays 0: the test skips itself */
    snprintf(s->dir, sizeof(s->dir), "/tmp/tg-http2-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(key, sizeof(key), "%s/server.key", s->dir);
    snprintf(crt, sizeof(crt), "%s/server.crt", s->dir);
    snprintf(docroot, sizeof(docroot), "%s/docroot", s->dir);
    snprintf(log, sizeof(log), "%s/log", s->dir);
    char *openssl[] = {"openssl",
                       "req",
                       "-x509",
                       "-newkey",
                       "ec",
                       "-pkeyopt",
                       "ec_paramgen_curve:prime256v1",
                       "-nodes",
                       "-days",
                       "1",
                       "-subj",
                       "/CN=localhost",
                       "-addext",
                       "subjectAltName=IP:127.0.0.1,DNS:localhost",
                       "-keyout",
                       key,
                       "-out",
                       crt,
                       NULL};
    if (run_command(openssl, log) != 0)
        fail_msg("openssl could not make a certificate; see %s", log);
    s->cert = read_all(crt, &s->cert_len);
    assert_int_equal(mkdir(docroot, 0700), 0);
    for (int i = 0; i < NREQ; i++) {
        char text[64];

        snprintf(s->path, sizeof(s->path), "%s/item-%d.json", docroot, i);
        snprintf(text, sizeof(text), "{\"item\":%d}\n", i);
        write_file(s->path, text);
    }

    s->port = free_port();
    snprintf(port, sizeof(port), "%d", s->port);
    char *argv[] = {(char *)nghttpd, "--address=127.0.0.1", "-d", docroot, port, key, crt, NULL};
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    assert_int_equal(posix_spawn(&s->pid, nghttpd, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);

    /* A subprocess is ready when it accepts connections: poll for up to 30 s. */
    for (int i = 0; i < 3000 && !accepts_connections(s->port); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        int status;

        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            char *text = read_all(log, NULL);
            s->pid = 0;
            fail_msg("nghttpd exited at start: %s", text);
        }
        nanosleep(&ts, NULL);
    }
    if (!accepts_connections(s->port))
        fail_msg("nghttpd does not listen on port %d; see %s", s->port, log);
}

static void server_stop(struct server *s)
{
    static const char *const files[] = {"server.key", "server.crt", "log", "server.csr"};

    if (!s->dir[0])
        return;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    free(s->cert);
    for (int i = 0; i < NREQ; i++) {
        snprintf(s->path, sizeof(s->path), "%s/docroot/item-%d.json", s->dir, i);
        unlink(s->path);
    }
    snprintf(s->path, sizeof(s->path), "%s/docroot", s->dir);
    rmdir(s->path);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, files[i]);
        unlink(s->path);
    }
    rmdir(s->dir);
}

static void on_done(int rc, const struct tg_http_response *resp, void *arg)
{
    struct result *r = arg;

    r->calls++;
    r->rc = rc;
    r->status = resp->status;
    r->http_version = resp->http_version;
    r->new_connections = resp->new_connections;
    snprintf(r->body, sizeof(r->body), "%.*s", (int)resp->body_len, resp->body);
    if (rc < 0)
        fprintf(stderr, "request failed: %s\n", resp->error);
}

static void on_closed(void *arg)
{
    ((struct world *)arg)->closed++;
}

/* Starts the GETs of items first..NREQ-1 together and runs the loop until they are done. */
static void get_items(struct world *w, const struct server *s, int first)
{
    char url[128];

    for (int i = first; i < NREQ; i++) {
        struct tg_http_request_spec spec = {.method = "GET",
                                            .url = url,
                                            .timeout_ms = 30000,
                                            .on_done = on_done,
                                            .arg = &w->results[i]};

        snprintf(url, sizeof(url), "https://127.0.0.1:%d/item-%d.json", s->port, i);
        assert_int_equal(tg_http_start(w->http, &spec, NULL), 0);
    }
    assert_int_equal(tg_http_in_flight(w->http), (size_t)(NREQ - first));
    for (int guard = 0; tg_http_in_flight(w->http) > 0 && guard < 100000; guard++)
        uv_run(&w->loop, UV_RUN_ONCE);
    assert_int_equal(tg_http_in_flight(w->http), 0);
}

static void world_start(struct world *w, const struct server *s)
{
    struct tg_http_options opt = {.ca = s->cert, .ca_len = s->cert_len};

    if (s->port == 0) {
        fprintf(stderr, "test_http2: SKIP: nghttpd not found (install Debian's nghttp2-server, "
                        "as hack/deps.sh does)\n");
        skip();
    }
    memset(w, 0, sizeof(*w));
    assert_int_equal(uv_loop_init(&w->loop), 0);
    assert_int_equal(tg_http_new(&w->loop, &opt, &w->http), 0);
}

static void world_end(struct world *w)
{
    tg_http_close(w->http, on_closed, w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(w->closed, 1);
    assert_int_equal(uv_loop_close(&w->loop), 0);
}

/* The server per test: started by setup, stopped by teardown even when the test fails. */
static int setup(void **state)
{
    struct server *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    *state = s;
    server_start(s);
    return 0;
}

static int teardown(void **state)
{
    struct server *s = *state;

    server_stop(s);
    free(s);
    return 0;
}

static void concurrent_gets_share_one_http2_connection(void **state)
{
    const struct server *s = *state;
    struct world w;
    long connections = 0;

    world_start(&w, s);
    get_items(&w, s, 0);
    for (int i = 0; i < NREQ; i++) {
        char want[64];

        snprintf(want, sizeof(want), "{\"item\":%d}\n", i);
        assert_int_equal(w.results[i].calls, 1);
        assert_int_equal(w.results[i].rc, 0);
        assert_int_equal(w.results[i].status, 200);
        assert_int_equal(w.results[i].http_version, 20);
        assert_string_equal(w.results[i].body, want);
        connections += w.results[i].new_connections;
    }
    assert_int_equal(connections, 1);

    /* Later requests multiplex onto the same connection too. */
    memset(w.results, 0, sizeof(w.results));
    get_items(&w, s, NREQ / 2);
    for (int i = NREQ / 2; i < NREQ; i++) {
        assert_int_equal(w.results[i].status, 200);
        assert_int_equal(w.results[i].http_version, 20);
        assert_int_equal(w.results[i].new_connections, 0);
    }
    world_end(&w);
}

static void http2_errors_keep_their_status(void **state)
{
    const struct server *s = *state;
    struct world w;
    struct result r = {0};
    char url[128];

    world_start(&w, s);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/missing.json", s->port);
    struct tg_http_request_spec spec = {
        .method = "GET", .url = url, .timeout_ms = 30000, .on_done = on_done, .arg = &r};
    assert_int_equal(tg_http_start(w.http, &spec, NULL), 0);
    while (r.calls == 0)
        uv_run(&w.loop, UV_RUN_ONCE);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.http_version, 20);
    world_end(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(concurrent_gets_share_one_http2_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(http2_errors_keep_their_status, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
