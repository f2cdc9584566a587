/* Kubeconfig and in-cluster configuration; see config.h. */
#include "kube/config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"

#define KUBECONFIG_MAX (16u << 20) /* a kubeconfig larger than this is refused */
#define SMALL_FILE_MAX (1u << 20)  /* certificates, keys, tokens */
#define SA_DIR         "/var/run/secrets/kubernetes.io/serviceaccount"

/* What parsing one file needs to report errors and resolve relative paths. */
struct parse {
    const char *path;     /* the kubeconfig, for messages */
    char *dir;            /* its directory, for relative paths; owned */
    yaml_document_t *doc; /* the parsed document */
};

/* Joins dir and a relative path; absolute paths are returned as they are. Caller frees. */
static char *resolve_path(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir)
        return strdup(path);
    size_t n = strlen(dir) + 1 + strlen(path) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", dir, path);
    return out;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* --- libyaml document helpers ------------------------------------------------------------ */

/* The value node under key in a mapping node, or NULL. */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static int type_error(const struct parse *ps, const char *field, yaml_node_t *n, const char *want)
{
    if (!n)
        return tg_error_set(TG_EINVALID, "kubeconfig %s: %s: expected %s", ps->path, field, want);
    return tg_error_set(TG_EINVALID, "kubeconfig %s: %s: expected %s at line %zu column %zu",
                        ps->path, field, want, n->start_mark.line + 1, n->start_mark.column + 1);
}

/* A scalar is "null" when it is plain and spells null or ~, as YAML 1.1 has it. */
static bool is_null(yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/*
 * The string under key in map: *out is borrowed from the document, NULL when absent or null.
 * Returns TG_EINVALID when the value is not a scalar.
 */
static int get_string(const struct parse *ps, yaml_node_t *map, const char *key,
                      const char *field_prefix, const char **out)
{
    yaml_node_t *n = map_get(ps->doc, map, key);
    char field[256];

    *out = NULL;
    if (is_null(n))
        return 0;
    if (n->type != YAML_SCALAR_NODE) {
        snprintf(field, sizeof(field), "%s.%s", field_prefix, key);
        return type_error(ps, field, n, "a string");
    }
    *out = (const char *)n->data.scalar.value;
    return 0;
}

static int get_bool(const struct parse *ps, yaml_node_t *map, const char *key,
                    const char *field_prefix, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "y"};
    static const char *const no[] = {"false", "no", "off", "n"};
    const char *v;
    int rc = get_string(ps, map, key, field_prefix, &v);

    *out = false;
    if (rc < 0 || !v)
        return rc;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return tg_error_set(TG_EINVALID, "kubeconfig %s: %s.%s: expected true or false, not \"%s\"",
                        ps->path, field_prefix, key, v);
}

/*
 * Finds the entry named name in the top-level list `list` (clusters, users, contexts) and returns
 * its inner mapping (under `inner`: cluster, user, context). *index is the entry's position, for
 * messages. Returns TG_ENOTFOUND when there is no such entry.
 */
static int find_named(const struct parse *ps, yaml_node_t *root, const char *list,
                      const char *inner, const char *what, const char *name, yaml_node_t **out,
                      size_t *index)
{
    yaml_node_t *seq = map_get(ps->doc, root, list);
    char field[128];

    if (seq && !is_null(seq) && seq->type != YAML_SEQUENCE_NODE)
        return type_error(ps, list, seq, "a list");
    if (seq && seq->type == YAML_SEQUENCE_NODE) {
        size_t i = 0;
        for (yaml_node_item_t *it = seq->data.sequence.items.start;
             it < seq->data.sequence.items.top; it++, i++) {
            yaml_node_t *entry = yaml_document_get_node(ps->doc, *it);
            const char *entry_name;
            snprintf(field, sizeof(field), "%s[%zu]", list, i);
            if (!entry || entry->type != YAML_MAPPING_NODE)
                return type_error(ps, field, entry, "a mapping");
            int rc = get_string(ps, entry, "name", field, &entry_name);
            if (rc < 0)
                return rc;
            if (!entry_name || strcmp(entry_name, name) != 0)
                continue;
            yaml_node_t *body = map_get(ps->doc, entry, inner);
            if (is_null(body))
                return tg_error_set(TG_EINVALID, "kubeconfig %s: %s.%s: missing", ps->path, field,
                                    inner);
            snprintf(field, sizeof(field), "%s[%zu].%s", list, i, inner);
            if (body->type != YAML_MAPPING_NODE)
                return type_error(ps, field, body, "a mapping");
            *out = body;
            *index = i;
            return 0;
        }
    }
    return tg_error_set(TG_ENOTFOUND, "kubeconfig %s: %s \"%s\" not found", ps->path, what, name);
}

/* --- field loaders ------------------------------------------------------------------------ */

/* Decodes base64 (line breaks allowed) with OpenSSL's EVP decoder. *out is the caller's. */
static int base64_decode(const char *in, char **out, size_t *out_len)
{
    size_t in_len = strlen(in);
    unsigned char *buf = malloc(in_len / 4 * 3 + 4);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int n = 0, tail = 0;
    int rc = TG_ENOMEM;

    if (!buf || !ctx)
        goto fail;
    rc = TG_EINVALID;
    EVP_DecodeInit(ctx);
    if (in_len > (size_t)INT32_MAX ||
        EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)in, (int)in_len) < 0)
        goto fail;
    if (EVP_DecodeFinal(ctx, buf + n, &tail) != 1)
        goto fail;
    buf[n + tail] = '\0';
    *out = (char *)buf;
    *out_len = (size_t)(n + tail);
    EVP_ENCODE_CTX_free(ctx);
    return 0;
fail:
    EVP_ENCODE_CTX_free(ctx);
    free(buf);
    return rc;
}

/*
 * Loads a PEM blob from map's `<key>-data` (base64) or `<key>` (a file, relative to the
 * kubeconfig's directory). Leaves *out NULL when neither is set.
 */
static int load_blob(const struct parse *ps, yaml_node_t *map, const char *prefix, const char *key,
                     char **out, size_t *out_len)
{
    char data_key[64];
    const char *data, *file;
    int rc;

    snprintf(data_key, sizeof(data_key), "%s-data", key);
    if ((rc = get_string(ps, map, data_key, prefix, &data)) < 0 ||
        (rc = get_string(ps, map, key, prefix, &file)) < 0)
        return rc;
    if (data) {
        rc = base64_decode(data, out, out_len);
        if (rc == TG_EINVALID)
            return tg_error_set(rc, "kubeconfig %s: %s.%s: not valid base64", ps->path, prefix,
                                data_key);
        if (rc < 0)
            return tg_error_set(rc, "out of memory");
        if (*out_len == 0)
            return tg_error_set(TG_EINVALID, "kubeconfig %s: %s.%s: empty", ps->path, prefix,
                                data_key);
        return 0;
    }
    if (file) {
        char *path = resolve_path(ps->dir, file);
        if (!path)
            return tg_error_set(TG_ENOMEM, "out of memory");
        rc = tg_file_read(path, SMALL_FILE_MAX, out, out_len, NULL);
        if (rc < 0)
            tg_error_wrap(rc, "kubeconfig %s: %s.%s: cannot read %s", ps->path, prefix, key, path);
        free(path);
        return rc;
    }
    return 0;
}

static int load_cluster(const struct parse *ps, yaml_node_t *root, const char *name,
                        struct tg_kubeconfig *kc)
{
    yaml_node_t *cluster;
    size_t i;
    char prefix[64];
    const char *server;
    int rc = find_named(ps, root, "clusters", "cluster", "cluster", name, &cluster, &i);

    if (rc < 0)
        return rc;
    snprintf(prefix, sizeof(prefix), "clusters[%zu].cluster", i);
    if ((rc = get_string(ps, cluster, "server", prefix, &server)) < 0)
        return rc;
    if (!server || !*server)
        return tg_error_set(TG_EINVALID, "kubeconfig %s: %s.server: missing", ps->path, prefix);
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
        return tg_error_set(TG_EINVALID,
                            "kubeconfig %s: %s.server: \"%s\" is not an http:// or https:// URL",
                            ps->path, prefix, server);
    if (!(kc->server = strdup(server)))
        return tg_error_set(TG_ENOMEM, "out of memory");
    size_t n = strlen(kc->server);
    while (n > 0 && kc->server[n - 1] == '/')
        kc->server[--n] = '\0';
    if ((rc = get_bool(ps, cluster, "insecure-skip-tls-verify", prefix,
                       &kc->insecure_skip_tls_verify)) < 0)
        return rc;
    return load_blob(ps, cluster, prefix, "certificate-authority", &kc->ca, &kc->ca_len);
}

/* Reads the token file into kc->token, recording its mtime and size for rotation. */
static int read_token_file(struct tg_kubeconfig *kc)
{
    char *data;
    size_t len;
    struct stat st;
    int rc = tg_file_read(kc->token_file, SMALL_FILE_MAX, &data, &len, &st);

    if (rc < 0)
        return rc;
    tg_trim_right(data, &len);
    if (len == 0) {
        free(data);
        return tg_error_set(TG_EINVALID, "the file is empty");
    }
    free(kc->token);
    kc->token = data;
    kc->token_mtime = st.st_mtim;
    kc->token_size = st.st_size;
    return 0;
}

static int load_user(const struct parse *ps, yaml_node_t *root, const char *name,
                     struct tg_kubeconfig *kc)
{
    static const char *const unsupported[] = {"exec", "auth-provider", "username", "password"};
    yaml_node_t *user;
    size_t i;
    char prefix[64];
    const char *token, *token_file;
    int rc = find_named(ps, root, "users", "user", "user", name, &user, &i);

    if (rc < 0)
        return rc;
    snprintf(prefix, sizeof(prefix), "users[%zu].user", i);
    for (size_t k = 0; k < sizeof(unsupported) / sizeof(unsupported[0]); k++) {
        if (!is_null(map_get(ps->doc, user, unsupported[k])))
            return tg_error_set(TG_EINVALID,
                                "kubeconfig %s: %s.%s: not supported by tollgate (use a token, a "
                                "tokenFile or a client certificate)",
                                ps->path, prefix, unsupported[k]);
    }
    if ((rc = get_string(ps, user, "token", prefix, &token)) < 0 ||
        (rc = get_string(ps, user, "tokenFile", prefix, &token_file)) < 0)
        return rc;
    if (token && *token) {
        if (!(kc->token = strdup(token)))
            return tg_error_set(TG_ENOMEM, "out of memory");
    } else if (token_file) {
        if (!(kc->token_file = resolve_path(ps->dir, token_file)))
            return tg_error_set(TG_ENOMEM, "out of memory");
        if ((rc = read_token_file(kc)) < 0)
            return tg_error_wrap(rc, "kubeconfig %s: %s.tokenFile: cannot read %s", ps->path,
                                 prefix, kc->token_file);
    }
    if ((rc = load_blob(ps, user, prefix, "client-certificate", &kc->client_cert,
                        &kc->client_cert_len)) < 0 ||
        (rc = load_blob(ps, user, prefix, "client-key", &kc->client_key, &kc->client_key_len)) < 0)
        return rc;
    if (!kc->client_cert != !kc->client_key)
        return tg_error_set(TG_EINVALID,
                            "kubeconfig %s: %s: client-certificate and client-key go together",
                            ps->path, prefix);
    return 0;
}

static int load_document(struct parse *ps, const char *context, struct tg_kubeconfig *kc)
{
    yaml_node_t *root = yaml_document_get_root_node(ps->doc);
    yaml_node_t *ctx;
    const char *cluster_name, *user_name, *ns;
    size_t i;
    char prefix[64];
    int rc;

    if (!root)
        return tg_error_set(TG_EINVALID, "kubeconfig %s: the file is empty", ps->path);
    if (root->type != YAML_MAPPING_NODE)
        return type_error(ps, "top level", root, "a mapping");
    if (!context) {
        if ((rc = get_string(ps, root, "current-context", "", &context)) < 0)
            return rc;
        if (!context || !*context)
            return tg_error_set(TG_EINVALID,
                                "kubeconfig %s: current-context: missing, and no --context given",
                                ps->path);
    }
    if (!(kc->context = strdup(context)))
        return tg_error_set(TG_ENOMEM, "out of memory");
    if ((rc = find_named(ps, root, "contexts", "context", "context", context, &ctx, &i)) < 0)
        return rc;
    snprintf(prefix, sizeof(prefix), "contexts[%zu].context", i);
    if ((rc = get_string(ps, ctx, "cluster", prefix, &cluster_name)) < 0 ||
        (rc = get_string(ps, ctx, "user", prefix, &user_name)) < 0 ||
        (rc = get_string(ps, ctx, "namespace", prefix, &ns)) < 0)
        return rc;
    if (!cluster_name || !*cluster_name)
        return tg_error_set(TG_EINVALID, "kubeconfig %s: %s.cluster: missing", ps->path, prefix);
    if (!(kc->namespace = strdup(ns && *ns ? ns : "default")))
        return tg_error_set(TG_ENOMEM, "out of memory");
    if ((rc = load_cluster(ps, root, cluster_name, kc)) < 0)
        return rc;
    if (user_name && *user_name && (rc = load_user(ps, root, user_name, kc)) < 0)
        return rc;
    return 0;
}

static int yaml_error(const char *path, const yaml_parser_t *p)
{
    const yaml_mark_t *m = &p->problem_mark;

    if (p->error == YAML_MEMORY_ERROR)
        return tg_error_set(TG_ENOMEM, "kubeconfig %s: out of memory parsing YAML", path);
    if (p->context)
        return tg_error_set(
            TG_EINVALID, "kubeconfig %s: not valid YAML at line %zu column %zu: %s %s", path,
            m->line + 1, m->column + 1, p->problem ? p->problem : "error", p->context);
    return tg_error_set(TG_EINVALID, "kubeconfig %s: not valid YAML at line %zu column %zu: %s",
                        path, m->line + 1, m->column + 1, p->problem ? p->problem : "error");
}

static struct tg_kubeconfig *kubeconfig_new(const char *source)
{
    struct tg_kubeconfig *kc = calloc(1, sizeof(*kc));

    if (kc && !(kc->source = strdup(source))) {
        free(kc);
        kc = NULL;
    }
    if (!kc)
        tg_error_set(TG_ENOMEM, "out of memory");
    return kc;
}

int tg_kubeconfig_load_file(const char *path, const char *context, struct tg_kubeconfig **out)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct parse ps = {.path = path};
    struct tg_kubeconfig *kc;
    char *data;
    size_t len;
    int rc = tg_file_read(path, KUBECONFIG_MAX, &data, &len, NULL);

    if (rc < 0)
        return tg_error_wrap(rc, "kubeconfig %s: cannot read", path);
    if (!(kc = kubeconfig_new(path))) {
        rc = TG_ENOMEM;
        goto free_data;
    }
    if (!(ps.dir = dir_of(path))) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto free_kc;
    }
    if (!yaml_parser_initialize(&parser)) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto free_dir;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = yaml_error(path, &parser);
        goto free_parser;
    }
    ps.doc = &doc;
    rc = load_document(&ps, context, kc);
    yaml_document_delete(&doc);
free_parser:
    yaml_parser_delete(&parser);
free_dir:
    free(ps.dir);
free_kc:
    if (rc < 0)
        tg_kubeconfig_free(kc);
    else
        *out = kc;
free_data:
    free(data);
    return rc;
}

int tg_kubeconfig_load_incluster(const char *root, struct tg_kubeconfig **out)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    struct tg_kubeconfig *kc;
    char path[4096];
    size_t len;
    int rc;

    if (!host || !*host || !port || !*port)
        return tg_error_set(TG_ENOTFOUND, "not in a cluster: KUBERNETES_SERVICE_HOST or "
                                          "KUBERNETES_SERVICE_PORT is unset");
    if (!root)
        root = "";
    if (!(kc = kubeconfig_new("in-cluster service account")))
        return TG_ENOMEM;
    bool v6 = strchr(host, ':') != NULL;
    len = strlen(host) + strlen(port) + 16;
    if (!(kc->server = malloc(len))) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(kc->server, len, v6 ? "https://[%s]:%s" : "https://%s:%s", host, port);
    snprintf(path, sizeof(path), "%s%s/token", root, SA_DIR);
    if (!(kc->token_file = strdup(path))) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = read_token_file(kc)) < 0) {
        tg_error_wrap(rc, "in-cluster service account: cannot read %s", path);
        goto fail;
    }
    snprintf(path, sizeof(path), "%s%s/ca.crt", root, SA_DIR);
    if ((rc = tg_file_read(path, SMALL_FILE_MAX, &kc->ca, &kc->ca_len, NULL)) < 0) {
        tg_error_wrap(rc, "in-cluster service account: cannot read %s", path);
        goto fail;
    }
    snprintf(path, sizeof(path), "%s%s/namespace", root, SA_DIR);
    rc = tg_file_read(path, SMALL_FILE_MAX, &kc->namespace, &len, NULL);
    if (rc == 0) {
        tg_trim_right(kc->namespace, &len);
    } else if (rc != TG_ENOTFOUND) {
        tg_error_wrap(rc, "in-cluster service account: cannot read %s", path);
        goto fail;
    }
    if (!kc->namespace || !*kc->namespace) {
        free(kc->namespace);
        if (!(kc->namespace = strdup("default"))) {
            rc = tg_error_set(TG_ENOMEM, "out of memory");
            goto fail;
        }
    }
    *out = kc;
    return 0;
fail:
    tg_kubeconfig_free(kc);
    return rc;
}

static bool file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Loads the first existing file of a colon-separated $KUBECONFIG list. */
static int load_env_list(const char *list, const char *context, struct tg_kubeconfig **out)
{
    char *copy = strdup(list);
    char *save = NULL;
    int rc = tg_error_set(TG_ENOTFOUND, "$KUBECONFIG=%s: none of its files exists", list);

    if (!copy)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        if (*p && file_exists(p)) {
            rc = tg_kubeconfig_load_file(p, context, out);
            break;
        }
    }
    free(copy);
    return rc;
}

int tg_kubeconfig_load(const struct tg_kubeconfig_options *opt, struct tg_kubeconfig **out)
{
    const char *env = getenv("KUBECONFIG");
    const char *home = getenv("HOME");
    static const struct tg_kubeconfig_options defaults = {0};
    char path[4096] = "";
    int rc;

    if (!opt)
        opt = &defaults;
    if (opt->path)
        return tg_kubeconfig_load_file(opt->path, opt->context, out);
    if (env && *env)
        return load_env_list(env, opt->context, out);
    if (home && *home) {
        snprintf(path, sizeof(path), "%s/.kube/config", home);
        if (file_exists(path))
            return tg_kubeconfig_load_file(path, opt->context, out);
    }
    rc = tg_kubeconfig_load_incluster(opt->root, out);
    if (rc == TG_ENOTFOUND)
        return tg_error_set(TG_ENOTFOUND,
                            "no configuration: no --kubeconfig, $KUBECONFIG unset, %s%s, and not "
                            "in a cluster (KUBERNETES_SERVICE_HOST unset)",
                            path[0] ? path : "$HOME unset", path[0] ? " does not exist" : "");
    return rc;
}

int tg_kubeconfig_token(struct tg_kubeconfig *kc, const char **token)
{
    struct stat st;
    int rc = 0;

    if (kc->token_file) {
        if (stat(kc->token_file, &st) != 0) {
            char ebuf[128];
            rc = tg_error_set(TG_EIO, "token file %s: %s", kc->token_file,
                              tg_errno_text(errno, ebuf, sizeof(ebuf)));
        } else if (st.st_mtim.tv_sec != kc->token_mtime.tv_sec ||
                   st.st_mtim.tv_nsec != kc->token_mtime.tv_nsec || st.st_size != kc->token_size) {
            if ((rc = read_token_file(kc)) < 0)
                tg_error_wrap(rc, "token file %s", kc->token_file);
        }
    }
    *token = kc->token;
    return rc;
}

void tg_kubeconfig_free(struct tg_kubeconfig *kc)
{
    if (!kc)
        return;
    free(kc->source);
    free(kc->context);
    free(kc->server);
    free(kc->namespace);
    free(kc->ca);
    free(kc->client_cert);
    free(kc->client_key);
    free(kc->token);
    free(kc->token_file);
    free(kc);
}
