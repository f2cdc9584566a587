#include "verify/registry.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube/http.h"
#include "util/buf.h"
#include "util/error.h"
#include "verify/crypto.h"

#define HUB_HOST            "index.docker.io"
#define HUB_API_HOST        "registry-1.docker.io"
#define DEFAULT_TIMEOUT_MS  30000L
#define DEFAULT_MAX_MAN     (4u << 20)
#define DEFAULT_MAX_BLOB    (16u << 20)
#define MAX_TOKEN_BODY      (64u << 10)
#define MAX_CHALLENGE       4096u
#define MAX_CHALLENGE_PARAM 1024u
#define MAX_URL             4096
#define MAX_NAME            255
#define MAX_REDIRECTS       3
#define DEFAULT_TOKEN_TTL_S 60L
#define MAX_TOKEN_TTL_S     86400L
#define JSON_DEPTH          16
#define SYSTEM_CA_BUNDLE    "/etc/ssl/certs/ca-certificates.crt"

static const char MANIFEST_ACCEPT[] =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";
static const char INDEX_TYPE[] = "application/vnd.oci.image.index.v1+json";
static const char EMPTY_INDEX[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"manifests\":[]}";

/* ------------------------------------------------------------------------------------------ */
/* Image references                                                                           */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*. */
static bool component_valid(const char *s, size_t n)
{
    size_t i = 0;

    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    while (i < n) {
        if (is_lower_alnum(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_lower_alnum(s[j]))
            j++;
        size_t run = j - i;
        bool ok = (run == 1 && (s[i] == '.' || s[i] == '_')) ||
                  (run == 2 && s[i] == '_' && s[i + 1] == '_');
        if (!ok) {
            ok = true;
            for (size_t k = i; k < j; k++)
                ok = ok && s[k] == '-';
        }
        if (!ok)
            return false;
        i = j;
    }
    return true;
}

static bool repository_valid(const char *s)
{
    const char *p = s;

    if (!*s || strlen(s) > MAX_NAME)
        return false;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!component_valid(p, n))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

/* [A-Za-z0-9.-]+ or [IPv6], then an optional :port of digits. */
static bool host_valid(const char *s, size_t n)
{
    size_t i = 0;

    if (n == 0)
        return false;
    if (s[0] == '[') {
        while (i < n && s[i] != ']')
            i++;
        if (i == n || i == 1)
            return false;
        for (size_t k = 1; k < i; k++)
            if (!isxdigit((unsigned char)s[k]) && s[k] != ':')
                return false;
        i++;
    } else {
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-'))
            i++;
        if (i == 0 || s[0] == '-' || s[0] == '.')
            return false;
    }
    if (i == n)
        return true;
    if (s[i] != ':' || i + 1 == n || n - i - 1 > 5)
        return false;
    for (size_t k = i + 1; k < n; k++)
        if (!isdigit((unsigned char)s[k]))
            return false;
    return true;
}

static bool tag_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return false;
    return true;
}

static bool is_hub_alias(const char *h, size_t n)
{
    static const char *const aliases[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};

    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strlen(aliases[i]) == n && strncasecmp(h, aliases[i], n) == 0)
            return true;
    return false;
}

void tg_image_ref_free(struct tg_image_ref *r)
{
    if (!r)
        return;
    free(r->registry);
    free(r->repository);
    free(r->tag);
    free(r->digest);
    free(r);
}

int tg_image_ref_parse(const char *s, struct tg_image_ref **out)
{
    struct tg_image_ref *r;
    char *name = NULL;
    int rc;

    *out = NULL;
    if (!s || !*s)
        return tg_error_set(TG_EINVALID, "image reference is empty");
    if (strlen(s) > 1024)
        return tg_error_set(TG_EINVALID, "image reference is longer than 1024 bytes");
    if (!(r = calloc(1, sizeof(*r))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    const char *at = strchr(s, '@');
    size_t name_len = at ? (size_t)(at - s) : strlen(s);
    if (at) {
        if (!tg_digest_valid(at + 1)) {
            rc = tg_error_set(
                TG_EINVALID, "image reference %s: the digest is not sha256:<64 lower-case hex>", s);
            goto fail;
        }
        if (!(r->digest = strdup(at + 1)))
            goto oom;
    }
    if (!(name = strndup(s, name_len)))
        goto oom;
    const char *rest = name;
    const char *slash = strchr(name, '/');
    if (slash) {
        size_t hl = (size_t)(slash - name);
        bool is_host = memchr(name, '.', hl) || memchr(name, ':', hl) ||
                       (hl == 9 && strncmp(name, "localhost", 9) == 0) || memchr(name, '[', hl);
        if (is_host) {
            if (!host_valid(name, hl)) {
                rc = tg_error_set(TG_EINVALID, "image reference %s: bad registry host", s);
                goto fail;
            }
            r->registry = is_hub_alias(name, hl) ? strdup(HUB_HOST) : strndup(name, hl);
            if (!r->registry)
                goto oom;
            rest = slash + 1;
        }
    }
    if (!r->registry && !(r->registry = strdup(HUB_HOST)))
        goto oom;
    char *colon = strrchr(rest, ':');
    char *last_slash = strrchr(rest, '/');
    if (colon && (!last_slash || colon > last_slash)) {
        *colon = '\0';
        if (!tag_valid(colon + 1)) {
            rc = tg_error_set(TG_EINVALID, "image reference %s: bad tag", s);
            goto fail;
        }
        if (!(r->tag = strdup(colon + 1)))
            goto oom;
    }
    bool hub = strcmp(r->registry, HUB_HOST) == 0;
    if (hub && !strchr(rest, '/')) {
        size_t n = strlen(rest) + sizeof("library/");
        if (!(r->repository = malloc(n)))
            goto oom;
        snprintf(r->repository, n, "library/%s", rest);
    } else if (!(r->repository = strdup(rest))) {
        goto oom;
    }
    if (!repository_valid(r->repository)) {
        rc = tg_error_set(TG_EINVALID,
                          "image reference %s: bad repository name (lower-case letters, digits "
                          "and separators)",
                          s);
        goto fail;
    }
    free(name);
    *out = r;
    return 0;
oom:
    rc = tg_error_set(TG_ENOMEM, "out of memory");
fail:
    free(name);
    tg_image_ref_free(r);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Credentials                                                                                */

struct cred {
    char *host;           /* normalized: "registry:5000", "index.docker.io" */
    char *username;       /* or NULL */
    char *password;       /* or NULL */
    char *identity_token; /* or NULL */
    struct cred *next;
};

struct tg_registry_creds {
    struct cred *head;
};

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static void free_cred(struct cred *c)
{
    free(c->host);
    free(c->username);
    free_secret(c->password);
    free_secret(c->identity_token);
    free(c);
}

struct tg_registry_creds *tg_registry_creds_new(void)
{
    return calloc(1, sizeof(struct tg_registry_creds));
}

void tg_registry_creds_free(struct tg_registry_creds *c)
{
    if (!c)
        return;
    while (c->head) {
        struct cred *next = c->head->next;
        free_cred(c->head);
        c->head = next;
    }
    free(c);
}

/* A config key or a host as we compare them: no scheme, no path, lower case, Hub aliases
 * folded. Returns a new string or NULL when out of memory. */
static char *normalize_host(const char *key)
{
    const char *p = key;

    if (strncasecmp(p, "https://", 8) == 0)
        p += 8;
    else if (strncasecmp(p, "http://", 7) == 0)
        p += 7;
    size_t n = strcspn(p, "/");
    if (is_hub_alias(p, n))
        return strdup(HUB_HOST);
    char *h = strndup(p, n);
    for (char *q = h; q && *q; q++)
        *q = (char)tolower((unsigned char)*q);
    return h;
}

static const struct cred *find_cred(const struct tg_registry_creds *c, const char *host)
{
    if (!c)
        return NULL;
    char *h = normalize_host(host);
    const struct cred *found = NULL;
    for (const struct cred *e = h ? c->head : NULL; e; e = e->next)
        if (strcmp(e->host, h) == 0) {
            found = e;
            break;
        }
    free(h);
    return found;
}

/* Appends cred at the tail unless its host is there already (earlier entries win). Takes it. */
static void add_cred(struct tg_registry_creds *c, struct cred *e)
{
    struct cred **pp = &c->head;

    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->host, e->host) == 0) {
            free_cred(e);
            return;
        }
    *pp = e;
}

int tg_registry_creds_add(struct tg_registry_creds *c, const char *host, const char *username,
                          const char *password)
{
    struct cred *e = calloc(1, sizeof(*e));

    if (!e || !(e->host = normalize_host(host)) || !(e->username = strdup(username)) ||
        !(e->password = strdup(password ? password : ""))) {
        if (e)
            free_cred(e);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    add_cred(c, e);
    return 0;
}

static const char *obj_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* One "auths" entry. Returns 0 (added or skipped: no usable credential), TG_EINVALID, TG_ENOMEM. */
static int add_config_entry(struct tg_registry_creds *c, const char *key, json_object *entry)
{
    struct cred *e;
    unsigned char *dec = NULL;
    size_t dec_len = 0;
    int rc;

    if (!json_object_is_type(entry, json_type_object))
        return tg_error_set(TG_EINVALID, "docker config: the entry for %.200s is not an object",
                            key);
    const char *auth = obj_str(entry, "auth");
    const char *user = obj_str(entry, "username");
    const char *pass = obj_str(entry, "password");
    const char *token = obj_str(entry, "identitytoken");
    if ((!auth || !*auth) && (!user || !*user) && (!token || !*token))
        return 0;
    if (!(e = calloc(1, sizeof(*e))) || !(e->host = normalize_host(key)))
        goto oom;
    if (auth && *auth) {
        if ((rc = tg_b64_decode(auth, strlen(auth), &dec, &dec_len)) < 0) {
            if (rc == TG_ENOMEM)
                goto oom;
            rc = tg_error_set(TG_EINVALID, "docker config: the auth of %.200s is not base64", key);
            goto fail;
        }
        char *colon = memchr(dec, ':', dec_len);
        if (!colon || memchr(dec, '\0', dec_len)) {
            rc = tg_error_set(TG_EINVALID,
                              "docker config: the auth of %.200s is not base64 of user:password",
                              key);
            goto fail;
        }
        *colon = '\0';
        if (!(e->username = strdup((char *)dec)) || !(e->password = strdup(colon + 1)))
            goto oom;
    } else if (user && *user) {
        if (!(e->username = strdup(user)) || !(e->password = strdup(pass ? pass : "")))
            goto oom;
    }
    if (token && *token && !(e->identity_token = strdup(token)))
        goto oom;
    if (dec) {
        OPENSSL_cleanse(dec, dec_len);
        free(dec);
    }
    add_cred(c, e);
    return 0;
oom:
    rc = tg_error_set(TG_ENOMEM, "out of memory");
fail:
    if (dec) {
        OPENSSL_cleanse(dec, dec_len);
        free(dec);
    }
    if (e)
        free_cred(e);
    return rc;
}

int tg_registry_creds_add_dockerconfig(struct tg_registry_creds *c, const char *json, size_t len)
{
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    json_object *root, *auths;
    int rc = 0;

    if (!tok)
        return tg_error_set(TG_ENOMEM, "out of memory");
    root = json_tokener_parse_ex(tok, json, (int)len);
    bool complete = json_tokener_get_error(tok) == json_tokener_success &&
                    json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!root || !complete || len > INT32_MAX) {
        json_object_put(root);
        /* The parser's message may quote the input: say only where it broke. */
        return tg_error_set(TG_EINVALID, "docker config: not valid JSON");
    }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return tg_error_set(TG_EINVALID, "docker config: not a JSON object");
    }
    if (json_object_object_get_ex(root, "auths", &auths)) {
        if (!json_object_is_type(auths, json_type_object)) {
            json_object_put(root);
            return tg_error_set(TG_EINVALID, "docker config: \"auths\" is not an object");
        }
    } else {
        auths = root; /* the older .dockercfg form: the hosts at the top */
    }
    json_object_object_foreach(auths, key, val)
    {
        if (auths == root && (strcmp(key, "credsStore") == 0 || strcmp(key, "credHelpers") == 0 ||
                              strcmp(key, "HttpHeaders") == 0))
            continue;
        if ((rc = add_config_entry(c, key, val)) < 0)
            break;
    }
    json_object_put(root);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The client                                                                                 */

struct token {
    char *host, *repo;
    char *value;
    uint64_t expires_ms; /* uv_now time */
    struct token *next;
};

/* A host known to want basic authentication. */
struct basic_host {
    char *host;
    struct basic_host *next;
};

struct tg_registry {
    uv_loop_t *loop;
    struct tg_http *http;
    char **http_hosts;
    size_t n_http_hosts;
    char **mirror_from, **mirror_to;
    size_t n_mirrors;
    long timeout_ms;
    size_t max_manifest, max_blob;
    struct token *tokens;
    struct basic_host *basic_hosts; /* hosts that challenged with Basic: send credentials first */
    struct op *ops;
    struct tg_registry_stats stats;
    bool freeing;
};

enum op_kind { OP_MANIFEST, OP_BLOB, OP_REFERRERS };

struct op;
static void fail(struct op *op, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One document being fetched: its request, or the token request it waits for. */
struct op {
    struct tg_registry *reg;
    enum op_kind kind;
    int phase;               /* OP_REFERRERS: 0 the API, 1 the tag fallback */
    char *origin;            /* the reference's registry host, normalized, for messages */
    char *host;              /* the host spoken to (after mirroring) */
    char *repo;              /* the repository */
    char *reference;         /* a tag or digest (manifests), a digest (blobs, referrers) */
    char *redirect;          /* the URL a blob was redirected to, or NULL */
    int redirects;           /* redirects followed */
    long long size;          /* the blob's expected size, -1 for any */
    const struct cred *cred; /* the host's credentials, or NULL */
    bool use_basic;          /* send the credentials as basic auth */
    bool challenged;         /* a 401 was answered once already */
    bool token_wait;         /* req is the token request */
    char *bearer;            /* the token to send, or NULL */
    struct tg_http_request *req;
    tg_registry_cb cb;
    void *arg;
    struct op *prev, *next;
};

static bool host_is_http(const struct tg_registry *reg, const char *host)
{
    for (size_t i = 0; i < reg->n_http_hosts; i++)
        if (strcasecmp(reg->http_hosts[i], host) == 0)
            return true;
    return false;
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Copies n strings, each normalized as a host when hosts is set. NULL when out of memory (n > 0).
 */
static char **dup_strv(const char *const *v, size_t n, bool hosts)
{
    char **out = calloc(n ? n : 1, sizeof(char *));

    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = hosts ? normalize_host(v[i] ? v[i] : "") : strdup(v[i] ? v[i] : ""))) {
            free_strv(out, n);
            return NULL;
        }
    return out;
}

/* The extra CA appended to the system's bundle, since http.h takes one bundle. */
static int build_ca(const struct tg_registry_options *opt, struct tg_buf *ca)
{
    int rc;

    tg_buf_init(ca, 8u << 20);
    FILE *f = fopen(SYSTEM_CA_BUNDLE, "r");
    if (f) {
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            if ((rc = tg_buf_append(ca, chunk, n)) < 0) {
                fclose(f);
                return rc;
            }
        fclose(f);
        if ((rc = tg_buf_append_str(ca, "\n")) < 0)
            return rc;
    }
    return tg_buf_append(ca, opt->ca_pem, opt->ca_len);
}

int tg_registry_new(uv_loop_t *loop, const struct tg_registry_options *opt,
                    struct tg_registry **out)
{
    static const struct tg_registry_options none;
    struct tg_registry *reg;
    struct tg_buf ca;
    int rc;

    *out = NULL;
    if (!opt)
        opt = &none;
    if (opt->ca_pem && opt->ca_len &&
        (rc = tg_http_check_ca(opt->ca_pem, opt->ca_len, "registry CA")) < 0)
        return rc;
    if (!(reg = calloc(1, sizeof(*reg))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    reg->loop = loop;
    reg->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
    reg->max_manifest = opt->max_manifest ? opt->max_manifest : DEFAULT_MAX_MAN;
    reg->max_blob = opt->max_blob ? opt->max_blob : DEFAULT_MAX_BLOB;
    reg->n_http_hosts = opt->n_http_hosts;
    reg->n_mirrors = opt->n_mirrors;
    if (!(reg->http_hosts = dup_strv(opt->http_hosts, opt->n_http_hosts, true)) ||
        !(reg->mirror_from = dup_strv(opt->mirror_from, opt->n_mirrors, true)) ||
        !(reg->mirror_to = dup_strv(opt->mirror_to, opt->n_mirrors, true))) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto fail;
    }
    tg_buf_init(&ca, 0);
    if (opt->ca_pem && opt->ca_len && (rc = build_ca(opt, &ca)) < 0) {
        tg_buf_free(&ca);
        tg_error_set(rc, "registry CA bundle: %s", rc == TG_ENOMEM ? "out of memory" : "too big");
        goto fail;
    }
    struct tg_http_options hopt = {.ca = ca.data, .ca_len = ca.len, .insecure = opt->insecure_tls};
    rc = tg_http_new(loop, &hopt, &reg->http);
    tg_buf_free(&ca);
    if (rc < 0)
        goto fail;
    *out = reg;
    return 0;
fail:
    free_strv(reg->http_hosts, reg->n_http_hosts);
    free_strv(reg->mirror_from, reg->n_mirrors);
    free_strv(reg->mirror_to, reg->n_mirrors);
    free(reg);
    return rc;
}

static void free_tokens(struct tg_registry *reg)
{
    while (reg->tokens) {
        struct token *t = reg->tokens;
        reg->tokens = t->next;
        free(t->host);
        free(t->repo);
        free_secret(t->value);
        free(t);
    }
}

static void http_closed(void *arg)
{
    struct tg_registry *reg = arg;

    free_tokens(reg);
    while (reg->basic_hosts) {
        struct basic_host *b = reg->basic_hosts;
        reg->basic_hosts = b->next;
        free(b->host);
        free(b);
    }
    free_strv(reg->http_hosts, reg->n_http_hosts);
    free_strv(reg->mirror_from, reg->n_mirrors);
    free_strv(reg->mirror_to, reg->n_mirrors);
    free(reg);
}

void tg_registry_free(struct tg_registry *reg)
{
    if (!reg || reg->freeing)
        return;
    reg->freeing = true;
    /* Each op has a request in flight; canceling it completes the op with TG_ECANCELED. */
    while (reg->ops) {
        if (reg->ops->req)
            tg_http_cancel(reg->ops->req);
        else
            fail(reg->ops, TG_ECANCELED, "canceled");
    }
    tg_http_close(reg->http, http_closed, reg);
}

void tg_registry_stats(const struct tg_registry *reg, struct tg_registry_stats *out)
{
    *out = reg->stats;
}

/* Token cache ------------------------------------------------------------------------------ */

static struct token **find_token(struct tg_registry *reg, const char *host, const char *repo)
{
    struct token **pp = &reg->tokens;

    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->host, host) == 0 && strcmp((*pp)->repo, repo) == 0)
            return pp;
    return NULL;
}

static void drop_token(struct tg_registry *reg, const char *host, const char *repo)
{
    struct token **pp = find_token(reg, host, repo);

    if (pp) {
        struct token *t = *pp;
        *pp = t->next;
        free(t->host);
        free(t->repo);
        free_secret(t->value);
        free(t);
    }
}

/* A valid cached token, borrowed, or NULL. */
static const char *cached_token(struct tg_registry *reg, const char *host, const char *repo)
{
    struct token **pp = find_token(reg, host, repo);

    if (!pp)
        return NULL;
    if ((*pp)->expires_ms <= uv_now(reg->loop)) {
        drop_token(reg, host, repo);
        return NULL;
    }
    return (*pp)->value;
}

static int store_token(struct tg_registry *reg, const char *host, const char *repo,
                       const char *value, long ttl_s)
{
    struct token *t;

    drop_token(reg, host, repo);
    if (!(t = calloc(1, sizeof(*t))) || !(t->host = strdup(host)) || !(t->repo = strdup(repo)) ||
        !(t->value = strdup(value))) {
        if (t) {
            free(t->host);
            free(t->repo);
            free(t);
        }
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    t->expires_ms = uv_now(reg->loop) + (uint64_t)ttl_s * 1000u;
    t->next = reg->tokens;
    reg->tokens = t;
    return 0;
}

static bool wants_basic(const struct tg_registry *reg, const char *host)
{
    for (const struct basic_host *b = reg->basic_hosts; b; b = b->next)
        if (strcmp(b->host, host) == 0)
            return true;
    return false;
}

/* Remembers that host wants basic auth; out of memory only forgets it. */
static void remember_basic(struct tg_registry *reg, const char *host)
{
    struct basic_host *b;

    if (wants_basic(reg, host) || !(b = calloc(1, sizeof(*b))))
        return;
    if (!(b->host = strdup(host))) {
        free(b);
        return;
    }
    b->next = reg->basic_hosts;
    reg->basic_hosts = b;
}

/* Ops ---------------------------------------------------------------------------------------- */

static void link_op(struct tg_registry *reg, struct op *op)
{
    op->next = reg->ops;
    if (reg->ops)
        reg->ops->prev = op;
    reg->ops = op;
}

static void unlink_op(struct tg_registry *reg, struct op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        reg->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
}

static void free_op(struct op *op)
{
    free(op->origin);
    free(op->host);
    free(op->repo);
    free(op->reference);
    free(op->redirect);
    free_secret(op->bearer);
    free(op);
}

static const char *op_what(const struct op *op)
{
    switch (op->kind) {
    case OP_MANIFEST:
        return "manifest";
    case OP_BLOB:
        return "blob";
    default:
        return op->phase == 0 ? "referrers of" : "referrers tag of";
    }
}

/* Ends an op: one callback, then the op is freed. */
static void complete(struct op *op, int rc, const char *message, const char *media_type,
                     const char *digest, const unsigned char *body, size_t len)
{
    struct tg_registry *reg = op->reg;

    unlink_op(reg, op);
    op->req = NULL;
    if (rc < 0 && rc != TG_ENOTFOUND)
        reg->stats.failures++;
    if (rc < 0)
        tg_error_set(rc, "%s", message);
    op->cb(rc, message, media_type, digest, body, len, op->arg);
    free_op(op);
}

static void fail(struct op *op, int rc, const char *fmt, ...)
{
    char detail[768], msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (strcmp(op->origin, op->host) != 0)
        snprintf(msg, sizeof(msg), "registry %s (mirror of %s): repository %s: %s %s: %s", op->host,
                 op->origin, op->repo, op_what(op), op->reference, detail);
    else
        snprintf(msg, sizeof(msg), "registry %s: repository %s: %s %s: %s", op->host, op->repo,
                 op_what(op), op->reference, detail);
    complete(op, rc, msg, NULL, NULL, NULL, 0);
}

static void doc_done(int rc, const struct tg_http_response *resp, void *arg);
static void token_done(int rc, const struct tg_http_response *resp, void *arg);

/* Sends the op's document request. Returns 0 or an error (nothing called back then). */
static int send_doc(struct op *op)
{
    struct tg_registry *reg = op->reg;
    char url[MAX_URL];
    const char *scheme = host_is_http(reg, op->host) ? "http" : "https";
    const char *api_host = strcmp(op->host, HUB_HOST) == 0 ? HUB_API_HOST : op->host;
    int n;

    if (op->redirect) {
        n = snprintf(url, sizeof(url), "%s", op->redirect);
    } else if (op->kind == OP_BLOB) {
        n = snprintf(url, sizeof(url), "%s://%s/v2/%s/blobs/%s", scheme, api_host, op->repo,
                     op->reference);
    } else if (op->kind == OP_REFERRERS && op->phase == 0) {
        n = snprintf(url, sizeof(url), "%s://%s/v2/%s/referrers/%s", scheme, api_host, op->repo,
                     op->reference);
    } else if (op->kind == OP_REFERRERS) {
        char tag[80];
        snprintf(tag, sizeof(tag), "sha256-%s", op->reference + 7);
        n = snprintf(url, sizeof(url), "%s://%s/v2/%s/manifests/%s", scheme, api_host, op->repo,
                     tag);
    } else {
        n = snprintf(url, sizeof(url), "%s://%s/v2/%s/manifests/%s", scheme, api_host, op->repo,
                     op->reference);
    }
    if (n < 0 || (size_t)n >= sizeof(url))
        return tg_error_set(TG_EINVALID, "registry URL too long");
    if (!op->bearer && !op->use_basic && !op->redirect) {
        const char *t = cached_token(reg, op->host, op->repo);
        if (t && !(op->bearer = strdup(t)))
            return tg_error_set(TG_ENOMEM, "out of memory");
    }
    struct tg_http_request_spec spec = {
        .method = "GET",
        .url = url,
        .accept = op->kind == OP_BLOB                          ? "*/*"
                  : op->kind == OP_REFERRERS && op->phase == 0 ? INDEX_TYPE
                                                               : MANIFEST_ACCEPT,
        .timeout_ms = reg->timeout_ms,
        .max_body = op->kind == OP_BLOB ? reg->max_blob : reg->max_manifest,
        .on_done = doc_done,
        .arg = op,
    };
    /* Credentials never follow a redirect (blobs are often served from another host). */
    if (!op->redirect) {
        if (op->use_basic && op->cred) {
            spec.username = op->cred->username;
            spec.password = op->cred->password;
        } else {
            spec.bearer = op->bearer;
        }
    }
    op->token_wait = false;
    int rc = tg_http_start(reg->http, &spec, &op->req);
    if (rc == 0)
        reg->stats.requests++;
    return rc;
}

/* Resends after an auth step; on failure the op completes with the error. */
static void resend(struct op *op)
{
    int rc = send_doc(op);

    if (rc < 0)
        fail(op, rc, "%s", tg_error_last());
}

/* The WWW-Authenticate challenge ------------------------------------------------------------ */

struct challenge {
    char scheme[16]; /* "basic", "bearer" (lower case) */
    char realm[MAX_CHALLENGE_PARAM];
    char service[MAX_CHALLENGE_PARAM];
    char scope[MAX_CHALLENGE_PARAM];
};

/*
 * Parses `Scheme k=v, k="quoted, \"v\""`: the first challenge only. Returns 0 or TG_EINVALID
 * for anything malformed or too long.
 */
static int parse_challenge(const char *s, struct challenge *ch)
{
    const char *p = s;
    size_t n = 0;

    memset(ch, 0, sizeof(*ch));
    if (strlen(s) > MAX_CHALLENGE)
        return TG_EINVALID;
    while (*p == ' ' || *p == '\t')
        p++;
    while (isalpha((unsigned char)*p) || *p == '-') {
        if (n + 1 >= sizeof(ch->scheme))
            return TG_EINVALID;
        ch->scheme[n++] = (char)tolower((unsigned char)*p++);
    }
    if (n == 0)
        return TG_EINVALID;
    for (;;) {
        char key[32], val[MAX_CHALLENGE_PARAM];
        size_t kl = 0, vl = 0;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            return 0;
        while (*p && *p != '=' && *p != ' ' && *p != ',') {
            if (kl + 1 >= sizeof(key))
                return TG_EINVALID;
            key[kl++] = (char)tolower((unsigned char)*p++);
        }
        key[kl] = '\0';
        bool spaced = *p == ' ';
        while (*p == ' ')
            p++;
        if (spaced && kl > 0 && *p && *p != '=' && *p != ',')
            return 0; /* "Scheme2 k=v": the next challenge begins; we read the first only */
        if (*p != '=' || kl == 0)
            return TG_EINVALID;
        p++;
        while (*p == ' ')
            p++;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                if (vl + 1 >= sizeof(val))
                    return TG_EINVALID;
                val[vl++] = *p++;
            }
            if (*p != '"')
                return TG_EINVALID;
            p++;
        } else {
            while (*p && *p != ',' && *p != ' ') {
                if (vl + 1 >= sizeof(val))
                    return TG_EINVALID;
                val[vl++] = *p++;
            }
        }
        val[vl] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ',')
            return TG_EINVALID; /* a second challenge, or junk: we read the first only */
        if (strcmp(key, "realm") == 0)
            memcpy(ch->realm, val, vl + 1);
        else if (strcmp(key, "service") == 0)
            memcpy(ch->service, val, vl + 1);
        else if (strcmp(key, "scope") == 0)
            memcpy(ch->scope, val, vl + 1);
    }
}

/* Appends s percent-encoded (RFC 3986 unreserved kept). Returns 0 or TG_EINVALID (too long). */
static int url_encode(char *out, size_t cap, size_t *len, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool keep = isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
        if (*len + (keep ? 1 : 3) >= cap)
            return TG_EINVALID;
        if (keep) {
            out[(*len)++] = (char)c;
        } else {
            out[(*len)++] = '%';
            out[(*len)++] = hex[c >> 4];
            out[(*len)++] = hex[c & 15];
        }
    }
    out[*len] = '\0';
    return 0;
}

static int append_str(char *out, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + n >= cap)
        return TG_EINVALID;
    memcpy(out + *len, s, n + 1);
    *len += n;
    return 0;
}

/* The realm's host[:port], for the plain-HTTP check. */
static bool realm_allowed(const struct tg_registry *reg, const char *realm, const char *op_host)
{
    if (strncasecmp(realm, "https://", 8) == 0)
        return true;
    if (strncasecmp(realm, "http://", 7) != 0)
        return false;
    char *h = normalize_host(realm);
    bool ok = h && (host_is_http(reg, h) || host_is_http(reg, op_host));
    free(h);
    return ok;
}

/* Asks the realm for a pull token for op->repo. Returns 0 or an error (nothing called back). */
static int request_token(struct op *op, const struct challenge *ch)
{
    struct tg_registry *reg = op->reg;
    char url[MAX_URL], form[MAX_URL], scope[MAX_CHALLENGE_PARAM + 64];
    size_t ul = 0, fl = 0;
    const struct cred *cr = op->cred;
    bool refresh = cr && cr->identity_token;
    int rc = 0;

    snprintf(scope, sizeof(scope), "repository:%s:pull", op->repo);
    form[0] = '\0';
    rc |= append_str(url, sizeof(url), &ul, ch->realm);
    if (refresh) {
        rc |= append_str(form, sizeof(form), &fl, "grant_type=refresh_token&client_id=tollgate");
        if (ch->service[0]) {
            rc |= append_str(form, sizeof(form), &fl, "&service=");
            rc |= url_encode(form, sizeof(form), &fl, ch->service);
        }
        rc |= append_str(form, sizeof(form), &fl, "&scope=");
        rc |= url_encode(form, sizeof(form), &fl, scope);
        rc |= append_str(form, sizeof(form), &fl, "&refresh_token=");
        rc |= url_encode(form, sizeof(form), &fl, cr->identity_token);
    } else {
        rc |= append_str(url, sizeof(url), &ul, strchr(ch->realm, '?') ? "&" : "?");
        if (ch->service[0]) {
            rc |= append_str(url, sizeof(url), &ul, "service=");
            rc |= url_encode(url, sizeof(url), &ul, ch->service);
            rc |= append_str(url, sizeof(url), &ul, "&");
        }
        rc |= append_str(url, sizeof(url), &ul, "scope=");
        rc |= url_encode(url, sizeof(url), &ul, scope);
    }
    if (rc != 0) {
        OPENSSL_cleanse(form, sizeof(form));
        return tg_error_set(TG_EINVALID, "the token request would be too long");
    }
    struct tg_http_request_spec spec = {
        .method = refresh ? "POST" : "GET",
        .url = url,
        .body = refresh ? form : NULL,
        .body_len = fl,
        .content_type = refresh ? "application/x-www-form-urlencoded" : NULL,
        .accept = "application/json",
        .username = !refresh && cr && cr->username ? cr->username : NULL,
        .password = !refresh && cr && cr->username ? cr->password : NULL,
        .timeout_ms = reg->timeout_ms,
        .max_body = MAX_TOKEN_BODY,
        .on_done = token_done,
        .arg = op,
    };
    op->token_wait = true;
    rc = tg_http_start(reg->http, &spec, &op->req);
    OPENSSL_cleanse(form, sizeof(form));
    if (rc == 0) {
        reg->stats.requests++;
        reg->stats.token_requests++;
    }
    return rc;
}

static void token_done(int rc, const struct tg_http_response *resp, void *arg)
{
    struct op *op = arg;
    struct tg_registry *reg = op->reg;

    op->req = NULL;
    if (rc < 0) {
        fail(op, rc, "token request: %s", resp->error);
        return;
    }
    if (resp->status == 401 || resp->status == 403) {
        if (!op->cred)
            fail(op, TG_EUNAUTHORIZED, "registry %s requires credentials", op->host);
        else
            fail(op, TG_EUNAUTHORIZED, "the token service refused the credentials (HTTP %ld)",
                 resp->status);
        return;
    }
    if (resp->status != 200) {
        int code = tg_error_from_http(resp->status);
        fail(op, code == TG_ENOTFOUND ? TG_EINVALID : code, "token request: HTTP %ld",
             resp->status);
        return;
    }
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    json_object *root = tok ? json_tokener_parse_ex(tok, resp->body, (int)resp->body_len) : NULL;
    if (tok)
        json_tokener_free(tok);
    const char *value =
        root && json_object_is_type(root, json_type_object) ? obj_str(root, "token") : NULL;
    if (root && (!value || !*value))
        value = obj_str(root, "access_token");
    if (!value || !*value || strlen(value) > 8000) {
        json_object_put(root);
        fail(op, TG_EINVALID, "the token service answered without a usable token");
        return;
    }
    long ttl = DEFAULT_TOKEN_TTL_S;
    json_object *exp;
    if (json_object_object_get_ex(root, "expires_in", &exp) &&
        json_object_is_type(exp, json_type_int)) {
        int64_t e = json_object_get_int64(exp);
        ttl = e <= 0 ? DEFAULT_TOKEN_TTL_S : e > MAX_TOKEN_TTL_S ? MAX_TOKEN_TTL_S : (long)e;
    }
    free_secret(op->bearer);
    op->bearer = strdup(value);
    rc = op->bearer ? store_token(reg, op->host, op->repo, value, ttl)
                    : tg_error_set(TG_ENOMEM, "out of memory");
    json_object_put(root);
    if (rc < 0) {
        fail(op, rc, "%s", tg_error_last());
        return;
    }
    if (reg->freeing) {
        fail(op, TG_ECANCELED, "canceled");
        return;
    }
    resend(op);
}

/* A 401: authenticate as the challenge says, once. */
static void on_unauthorized(struct op *op, const char *www_authenticate)
{
    struct challenge ch;
    int rc;

    if (op->challenged) {
        if (op->cred)
            fail(op, TG_EUNAUTHORIZED, "registry %s refused the credentials", op->host);
        else
            fail(op, TG_EUNAUTHORIZED, "registry %s requires credentials", op->host);
        return;
    }
    op->challenged = true;
    drop_token(op->reg, op->host, op->repo);
    free_secret(op->bearer);
    op->bearer = NULL;
    if (!www_authenticate || parse_challenge(www_authenticate, &ch) < 0) {
        fail(op, TG_EINVALID, "HTTP 401 without a readable WWW-Authenticate challenge");
        return;
    }
    if (strcmp(ch.scheme, "basic") == 0) {
        if (!op->cred || !op->cred->username) {
            fail(op, TG_EUNAUTHORIZED, "registry %s requires credentials", op->host);
            return;
        }
        op->use_basic = true;
        remember_basic(op->reg, op->host);
        resend(op);
        return;
    }
    if (strcmp(ch.scheme, "bearer") != 0) {
        fail(op, TG_EINVALID, "unsupported authentication scheme %s", ch.scheme);
        return;
    }
    if (!ch.realm[0] || !realm_allowed(op->reg, ch.realm, op->host)) {
        fail(op, TG_EINVALID, "the bearer challenge has no https realm");
        return;
    }
    if ((rc = request_token(op, &ch)) < 0)
        fail(op, rc, "%s", tg_error_last());
}

static void on_document(struct op *op, const struct tg_http_response *resp)
{
    char digest[72], hex[65], msg[512];

    tg_sha256_hex(resp->body, resp->body_len, hex);
    snprintf(digest, sizeof(digest), "sha256:%s", hex);
    bool by_digest = op->kind != OP_MANIFEST || strncmp(op->reference, "sha256:", 7) == 0;
    if (op->kind == OP_REFERRERS)
        by_digest = false;
    if (by_digest && strcasecmp(digest, op->reference) != 0) {
        fail(op, TG_EINVALID, "the content's sha256 is %s, not the digest asked for", digest);
        return;
    }
    if (op->kind == OP_BLOB && op->size >= 0 && (long long)resp->body_len != op->size) {
        fail(op, TG_EINVALID, "the blob has %zu bytes, not the %lld its descriptor says",
             resp->body_len, op->size);
        return;
    }
    snprintf(msg, sizeof(msg), "registry %s: repository %s: %s %s", op->host, op->repo, op_what(op),
             op->reference);
    complete(op, 0, msg, resp->content_type, digest, (const unsigned char *)resp->body,
             resp->body_len);
}

static bool is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static void on_redirect(struct op *op, const char *location)
{
    char url[MAX_URL];

    if (op->kind != OP_BLOB || !location || !*location || op->redirects >= MAX_REDIRECTS) {
        fail(op, TG_EINVALID, "unexpected redirect");
        return;
    }
    if (location[0] == '/' && location[1] != '/') {
        /* A path on the same host (resolved against the registry, not a storage host). */
        const char *api_host = strcmp(op->host, HUB_HOST) == 0 ? HUB_API_HOST : op->host;
        int n = snprintf(url, sizeof(url), "%s://%s%s",
                         host_is_http(op->reg, op->host) ? "http" : "https", api_host, location);
        if (n < 0 || (size_t)n >= sizeof(url)) {
            fail(op, TG_EINVALID, "redirect URL too long");
            return;
        }
        location = url;
    }
    bool https = strncasecmp(location, "https://", 8) == 0;
    bool http = strncasecmp(location, "http://", 7) == 0;
    char *h = http ? normalize_host(location) : NULL;
    bool ok = https || (http && h && host_is_http(op->reg, h));
    free(h);
    if (!ok) {
        fail(op, TG_EINVALID, "redirect to a URL that is not https");
        return;
    }
    free(op->redirect);
    if (!(op->redirect = strdup(location))) {
        fail(op, TG_ENOMEM, "out of memory");
        return;
    }
    op->redirects++;
    resend(op);
}

static void doc_done(int rc, const struct tg_http_response *resp, void *arg)
{
    struct op *op = arg;

    op->req = NULL;
    if (rc == TG_ETOOBIG) {
        fail(op, rc, "larger than %zu bytes",
             op->kind == OP_BLOB ? op->reg->max_blob : op->reg->max_manifest);
        return;
    }
    if (rc < 0) {
        fail(op, rc, "%s", resp->error);
        return;
    }
    if (op->reg->freeing) {
        fail(op, TG_ECANCELED, "canceled");
        return;
    }
    if (resp->status == 200) {
        on_document(op, resp);
        return;
    }
    if (resp->status == 401 && !op->redirect) {
        on_unauthorized(op, resp->www_authenticate);
        return;
    }
    if (is_redirect(resp->status)) {
        on_redirect(op, resp->location);
        return;
    }
    if (op->kind == OP_REFERRERS && op->phase == 0 &&
        (resp->status == 404 || resp->status == 400)) {
        op->phase = 1;
        resend(op);
        return;
    }
    if (op->kind == OP_REFERRERS && resp->status == 404) {
        char msg[512];
        snprintf(msg, sizeof(msg), "registry %s: repository %s: no referrers of %s", op->host,
                 op->repo, op->reference);
        complete(op, 0, msg, INDEX_TYPE, NULL, (const unsigned char *)EMPTY_INDEX,
                 sizeof(EMPTY_INDEX) - 1);
        return;
    }
    int code = tg_error_from_http(resp->status);
    if (code == 0 || code == TG_ECONFLICT || code == TG_EGONE)
        code = TG_EINVALID;
    if (resp->status == 404)
        fail(op, TG_ENOTFOUND, "not found");
    else
        fail(op, code, "HTTP %ld", resp->status);
}

/* Makes and sends an op. Returns 0 or an error (no callback then). */
static int start_op(struct tg_registry *reg, enum op_kind kind, const struct tg_image_ref *ref,
                    const char *reference, long long size, const struct tg_registry_creds *creds,
                    tg_registry_cb cb, void *arg)
{
    struct op *op;
    int rc;

    if (reg->freeing)
        return tg_error_set(TG_ECANCELED, "the registry client is closing");
    if (!ref || !ref->registry || !ref->repository || !reference || !cb)
        return tg_error_set(TG_EINVALID, "a registry request needs a reference and a callback");
    if (kind != OP_MANIFEST && !tg_digest_valid(reference))
        return tg_error_set(TG_EINVALID, "%s is not a sha256 digest", reference);
    if (kind == OP_MANIFEST && !tg_digest_valid(reference) && !tag_valid(reference))
        return tg_error_set(TG_EINVALID, "%s is neither a tag nor a sha256 digest", reference);
    if (!repository_valid(ref->repository))
        return tg_error_set(TG_EINVALID, "bad repository name");
    if (!(op = calloc(1, sizeof(*op))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    op->reg = reg;
    op->kind = kind;
    op->size = size;
    op->cb = cb;
    op->arg = arg;
    op->host = normalize_host(ref->registry);
    for (size_t i = 0; op->host && i < reg->n_mirrors; i++)
        if (strcmp(reg->mirror_from[i], op->host) == 0) {
            free(op->host);
            op->host = strdup(reg->mirror_to[i]);
            break;
        }
    if (!op->host || !(op->repo = strdup(ref->repository)) ||
        !(op->reference = strdup(reference)) || !(op->origin = normalize_host(ref->registry))) {
        free_op(op);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    op->cred = find_cred(creds, op->host);
    op->use_basic = op->cred && op->cred->username && wants_basic(reg, op->host);
    if ((rc = send_doc(op)) < 0) {
        free_op(op);
        return rc;
    }
    link_op(reg, op);
    return 0;
}

int tg_registry_get_manifest(struct tg_registry *reg, const struct tg_image_ref *ref,
                             const char *reference, const struct tg_registry_creds *creds,
                             tg_registry_cb cb, void *arg)
{
    return start_op(reg, OP_MANIFEST, ref, reference, -1, creds, cb, arg);
}

int tg_registry_get_blob(struct tg_registry *reg, const struct tg_image_ref *ref,
                         const char *digest, long long size, const struct tg_registry_creds *creds,
                         tg_registry_cb cb, void *arg)
{
    return start_op(reg, OP_BLOB, ref, digest, size < 0 ? -1 : size, creds, cb, arg);
}

int tg_registry_referrers(struct tg_registry *reg, const struct tg_image_ref *ref,
                          const char *digest, const struct tg_registry_creds *creds,
                          tg_registry_cb cb, void *arg)
{
    return start_op(reg, OP_REFERRERS, ref, digest, -1, creds, cb, arg);
}
