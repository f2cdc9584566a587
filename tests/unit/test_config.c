/*
 * Unit tests for kube/config: kubeconfig files of each shape, broken and incomplete files,
 * relative paths, base64 data, the lookup order, and the in-cluster service account under a
 * fake root, including token rotation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/config.h"
#include "util/error.h"

#define FIX TG_FIXTURES_DIR "/kubeconfig/"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = calloc(1, (size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Asserts that loading path fails with code and a message holding every needle. */
static void assert_load_fails(const char *path, const char *context, int code, const char *n1,
                              const char *n2)
{
    struct tg_kubeconfig *kc = NULL;
    int rc = tg_kubeconfig_load_file(path, context, &kc);

    if (rc != code)
        fail_msg("%s: got %s (%s), want %s", path, tg_error_name(rc), tg_error_last(),
                 tg_error_name(code));
    assert_null(kc);
    if (strncmp(tg_error_last(), "kubeconfig ", 11) != 0 || !strstr(tg_error_last(), path))
        fail_msg("message does not name the file: %s", tg_error_last());
    if (n1 && !strstr(tg_error_last(), n1))
        fail_msg("message lacks \"%s\": %s", n1, tg_error_last());
    if (n2 && !strstr(tg_error_last(), n2))
        fail_msg("message lacks \"%s\": %s", n2, tg_error_last());
}

static void current_context_with_token_and_ca_data(void **state)
{
    struct tg_kubeconfig *kc;
    const char *token;
    size_t ca_len;
    char *ca = slurp(FIX "ca.pem", &ca_len);

    (void)state;
    assert_int_equal(tg_kubeconfig_load_file(FIX "token.yaml", NULL, &kc), 0);
    assert_string_equal(kc->source, FIX "token.yaml");
    assert_string_equal(kc->context, "shop");
    assert_string_equal(kc->server, "https://prod.example:6443"); /* trailing slash dropped */
    assert_string_equal(kc->namespace, "shop");
    assert_false(kc->insecure_skip_tls_verify);
    assert_int_equal(kc->ca_len, ca_len);
    assert_memory_equal(kc->ca, ca, ca_len);
    assert_string_equal(kc->token, "alice-token");
    assert_null(kc->token_file);
    assert_null(kc->client_cert);
    assert_int_equal(tg_kubeconfig_token(kc, &token), 0);
    assert_string_equal(token, "alice-token");
    tg_kubeconfig_free(kc);
    free(ca);
}

static void explicit_context_without_user_or_namespace(void **state)
{
    struct tg_kubeconfig *kc;
    const char *token = "x";

    (void)state;
    assert_int_equal(tg_kubeconfig_load_file(FIX "token.yaml", "dev", &kc), 0);
    assert_string_equal(kc->context, "dev");
    assert_string_equal(kc->server, "http://127.0.0.1:8080");
    assert_string_equal(kc->namespace, "default");
    assert_true(kc->insecure_skip_tls_verify);
    assert_null(kc->ca);
    assert_null(kc->token);
    assert_int_equal(tg_kubeconfig_token(kc, &token), 0);
    assert_null(token);
    tg_kubeconfig_free(kc);
}

static void relative_paths_resolve_against_the_kubeconfig(void **state)
{
    struct tg_kubeconfig *kc;
    size_t ca_len, crt_len, key_len;
    char *ca = slurp(FIX "ca.pem", &ca_len);
    char *crt = slurp(FIX "client.crt", &crt_len);
    char *key = slurp(FIX "client.key", &key_len);
    char *cwd = getcwd(NULL, 0);

    (void)state;
    assert_int_equal(chdir("/"), 0); /* so that a path resolved against the cwd would fail */
    assert_int_equal(tg_kubeconfig_load_file(FIX "files.yaml", NULL, &kc), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(kc->namespace, "default"); /* "" is no namespace */
    assert_int_equal(kc->ca_len, ca_len);
    assert_memory_equal(kc->ca, ca, ca_len);
    assert_int_equal(kc->client_cert_len, crt_len);
    assert_memory_equal(kc->client_cert, crt, crt_len);
    assert_int_equal(kc->client_key_len, key_len);
    assert_memory_equal(kc->client_key, key, key_len);
    assert_string_equal(kc->token, "token-from-file"); /* newline trimmed */
    assert_string_equal(kc->token_file, FIX "token.txt");
    tg_kubeconfig_free(kc);
    free(ca);
    free(crt);
    free(key);
    free(cwd);
}

static void base64_data_is_decoded(void **state)
{
    struct tg_kubeconfig *kc;
    size_t crt_len, key_len;
    char *crt = slurp(FIX "client.crt", &crt_len);
    char *key = slurp(FIX "client.key", &key_len);

    (void)state;
    assert_int_equal(tg_kubeconfig_load_file(FIX "data.yaml", NULL, &kc), 0);
    assert_false(kc->insecure_skip_tls_verify); /* "false" */
    assert_int_equal(kc->client_cert_len, crt_len);
    assert_memory_equal(kc->client_cert, crt, crt_len);
    assert_int_equal(kc->client_key_len, key_len);
    assert_memory_equal(kc->client_key, key, key_len);
    assert_null(kc->token);
    tg_kubeconfig_free(kc);
    free(crt);
    free(key);
}

static void broken_files_name_file_field_and_position(void **state)
{
    (void)state;
    assert_load_fails(FIX "broken.yaml", NULL, TG_EINVALID, "not valid YAML at line 5 column 4",
                      "did not find expected '-' indicator");
    assert_load_fails(FIX "missing-server.yaml", NULL, TG_EINVALID,
                      "clusters[0].cluster.server: missing", NULL);
    assert_load_fails(FIX "missing-token-file.yaml", NULL, TG_ENOTFOUND,
                      "users[0].user.tokenFile: cannot read " FIX "no-such-token",
                      "No such file or directory");
    assert_load_fails(FIX "bad-base64.yaml", NULL, TG_EINVALID,
                      "clusters[0].cluster.certificate-authority-data: not valid base64", NULL);
    assert_load_fails(FIX "exec.yaml", NULL, TG_EINVALID, "users[0].user.exec: not supported",
                      NULL);
    assert_load_fails(FIX "not-a-mapping.yaml", NULL, TG_EINVALID, "expected a mapping", NULL);
    assert_load_fails(FIX "empty.yaml", NULL, TG_EINVALID, "empty", NULL);
    assert_load_fails(FIX "wrong-type.yaml", NULL, TG_EINVALID,
                      "clusters[0].cluster.server: expected a string at line 5 column 13", NULL);
    assert_load_fails(FIX "no-current-context.yaml", NULL, TG_EINVALID, "current-context: missing",
                      NULL);
    assert_load_fails(FIX "bad-server.yaml", NULL, TG_EINVALID, "not an http:// or https:// URL",
                      NULL);
    assert_load_fails(FIX "token.yaml", "nope", TG_ENOTFOUND, "context \"nope\" not found", NULL);
    assert_load_fails(FIX "does-not-exist.yaml", NULL, TG_ENOTFOUND, "cannot read",
                      "No such file or directory");
    assert_load_fails(FIX, NULL, TG_EIO, "cannot read", "directory");
}

/* Every prefix of a valid file either loads or fails with a message; none crashes or leaks. */
static void every_truncation_fails_cleanly(void **state)
{
    char dir[] = "/tmp/tg-config-XXXXXX";
    char path[64];
    size_t len;
    char *data = slurp(FIX "token.yaml", &len);
    size_t loaded = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/kc", dir);
    for (size_t n = 0; n <= len; n++) {
        struct tg_kubeconfig *kc = NULL;
        write_file(path, data, n);
        int rc = tg_kubeconfig_load_file(path, NULL, &kc);
        if (rc == 0) {
            loaded++;
            assert_non_null(kc->server);
            tg_kubeconfig_free(kc);
            continue;
        }
        if (rc != TG_EINVALID && rc != TG_ENOTFOUND)
            fail_msg("prefix %zu: %s: %s", n, tg_error_name(rc), tg_error_last());
        assert_non_null(strstr(tg_error_last(), path));
    }
    assert_true(loaded >= 1); /* the whole file at least */
    unlink(path);
    rmdir(dir);
    free(data);
}

/* --- lookup order and in-cluster ------------------------------------------------------- */

struct env_dir {
    char root[64];
};

static void mkdirs(const char *path)
{
    char buf[512];

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    }
    mkdir(buf, 0700);
}

static void rmtree(const char *path)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static int env_setup(void **state)
{
    struct env_dir *e = calloc(1, sizeof(*e));

    if (!e)
        return -1;
    snprintf(e->root, sizeof(e->root), "/tmp/tg-env-XXXXXX");
    if (!mkdtemp(e->root)) {
        free(e);
        return -1;
    }
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    setenv("HOME", e->root, 1);
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    struct env_dir *e = *state;

    rmtree(e->root);
    free(e);
    return 0;
}

static void write_sa(const char *root, const char *name, const char *data)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/var/run/secrets/kubernetes.io/serviceaccount", root);
    mkdirs(path);
    snprintf(path, sizeof(path), "%s/var/run/secrets/kubernetes.io/serviceaccount/%s", root, name);
    write_file(path, data, strlen(data));
}

static void explicit_path_wins_and_must_exist(void **state)
{
    struct env_dir *e = *state;
    struct tg_kubeconfig_options opt = {.path = FIX "token.yaml", .root = e->root};
    struct tg_kubeconfig *kc;

    setenv("KUBECONFIG", FIX "files.yaml", 1);
    assert_int_equal(tg_kubeconfig_load(&opt, &kc), 0);
    assert_string_equal(kc->source, FIX "token.yaml");
    tg_kubeconfig_free(kc);
    opt.path = FIX "missing.yaml";
    assert_int_equal(tg_kubeconfig_load(&opt, &kc), TG_ENOTFOUND);
    assert_non_null(strstr(tg_error_last(), "missing.yaml"));
}

static void kubeconfig_env_takes_the_first_existing_file(void **state)
{
    struct env_dir *e = *state;
    struct tg_kubeconfig_options opt = {.context = "dev", .root = e->root};
    struct tg_kubeconfig *kc;

    setenv("KUBECONFIG", "/nonexistent/a:" FIX "token.yaml:" FIX "files.yaml", 1);
    assert_int_equal(tg_kubeconfig_load(&opt, &kc), 0);
    assert_string_equal(kc->source, FIX "token.yaml");
    assert_string_equal(kc->context, "dev");
    tg_kubeconfig_free(kc);
    setenv("KUBECONFIG", "/nonexistent/a:/nonexistent/b", 1);
    assert_int_equal(tg_kubeconfig_load(&opt, &kc), TG_ENOTFOUND);
    assert_non_null(strstr(tg_error_last(), "$KUBECONFIG=/nonexistent/a:/nonexistent/b"));
}

static void home_config_then_in_cluster(void **state)
{
    struct env_dir *e = *state;
    struct tg_kubeconfig_options opt = {.root = e->root};
    struct tg_kubeconfig *kc;
    char path[512];
    size_t len;
    char *data = slurp(FIX "token.yaml", &len);

    /* Nothing anywhere: the message says where we looked. */
    assert_int_equal(tg_kubeconfig_load(&opt, &kc), TG_ENOTFOUND);
    assert_non_null(strstr(tg_error_last(), "/.kube/config does not exist"));
    assert_non_null(strstr(tg_error_last(), "KUBERNETES_SERVICE_HOST"));

    /* In-cluster when there is no ~/.kube/config. */
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    write_sa(e->root, "token", "sa-token\n");
    write_sa(e->root, "ca.crt", "CA PEM");
    assert_int_equal(tg_kubeconfig_load(&opt, &kc), 0);
    assert_string_equal(kc->server, "https://10.0.0.1:443");
    assert_string_equal(kc->namespace, "default"); /* no namespace file */
    assert_string_equal(kc->token, "sa-token");
    tg_kubeconfig_free(kc);

    /* ~/.kube/config comes before in-cluster. */
    snprintf(path, sizeof(path), "%s/.kube", e->root);
    mkdirs(path);
    snprintf(path, sizeof(path), "%s/.kube/config", e->root);
    write_file(path, data, len);
    assert_int_equal(tg_kubeconfig_load(&opt, &kc), 0);
    assert_string_equal(kc->source, path);
    tg_kubeconfig_free(kc);
    free(data);
}

static void in_cluster_reads_the_service_account_and_rotates_the_token(void **state)
{
    struct env_dir *e = *state;
    struct tg_kubeconfig *kc;
    const char *token;
    char path[512];

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    write_sa(e->root, "token", "first");
    write_sa(e->root, "ca.crt", "CA PEM");
    write_sa(e->root, "namespace", "tollgate-system\n");
    assert_int_equal(tg_kubeconfig_load_incluster(e->root, &kc), 0);
    assert_string_equal(kc->source, "in-cluster service account");
    assert_string_equal(kc->server, "https://[fd00::1]:6443");
    assert_string_equal(kc->namespace, "tollgate-system");
    assert_int_equal(kc->ca_len, 6);
    assert_memory_equal(kc->ca, "CA PEM", 6);
    assert_int_equal(tg_kubeconfig_token(kc, &token), 0);
    assert_string_equal(token, "first");

    /* The kubelet rotates the token: the next request uses the new one. */
    write_sa(e->root, "token", "second-token");
    assert_int_equal(tg_kubeconfig_token(kc, &token), 0);
    assert_string_equal(token, "second-token");

    /* A token file that vanishes keeps the last token and says so. */
    snprintf(path, sizeof(path), "%s/var/run/secrets/kubernetes.io/serviceaccount/token", e->root);
    unlink(path);
    assert_int_equal(tg_kubeconfig_token(kc, &token), TG_EIO);
    assert_string_equal(token, "second-token");
    assert_non_null(strstr(tg_error_last(), path));
    tg_kubeconfig_free(kc);

    /* No token at all: in-cluster cannot start. */
    assert_int_equal(tg_kubeconfig_load_incluster(e->root, &kc), TG_ENOTFOUND);
    assert_non_null(strstr(tg_error_last(), "cannot read"));
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(tg_kubeconfig_load_incluster(e->root, &kc), TG_ENOTFOUND);
    assert_non_null(strstr(tg_error_last(), "KUBERNETES_SERVICE_HOST"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(current_context_with_token_and_ca_data),
        cmocka_unit_test(explicit_context_without_user_or_namespace),
        cmocka_unit_test(relative_paths_resolve_against_the_kubeconfig),
        cmocka_unit_test(base64_data_is_decoded),
        cmocka_unit_test(broken_files_name_file_field_and_position),
        cmocka_unit_test(every_truncation_fails_cleanly),
        cmocka_unit_test_setup_teardown(explicit_path_wins_and_must_exist, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(kubeconfig_env_takes_the_first_existing_file, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(home_config_then_in_cluster, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(in_cluster_reads_the_service_account_and_rotates_the_token,
                                        env_setup, env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
