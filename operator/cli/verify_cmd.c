/* kubectl tollgate verify; see verify_cmd.h. */
#include "cli/verify_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <uv.h>
#include <yaml.h>

#include "util/error.h"
#include "util/file.h"
#include "verify/fetch.h"
#include "verify/material.h"
#include "verify/registry.h"
#include "verify/verify.h"

/* Caps on what the command reads from files. */
#define FILE_MAX       (4u << 20)
#define MATERIAL_MAX   (64u << 20)
#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 100000

enum { EXIT_PASSED = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* --- YAML to JSON --------------------------------------------------------------------------- */

static bool isdigit_or_sign(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+';
}

static json_object *scalar_to_json(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;

    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_object_new_string_len(s, (int)len);
    if (len == 0 || strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return NULL; /* json-c's null */
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_object_new_boolean(1);
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_object_new_boolean(0);
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (*end == '\0' && errno == 0 && (isdigit_or_sign(s[0])))
        return json_object_new_int64(i);
    errno = 0;
    double d = strtod(s, &end);
    if (*end == '\0' && errno == 0 && isdigit_or_sign(s[0]) && strpbrk(s, "xXnN") == NULL)
        return json_object_new_double(d);
    return json_object_new_string_len(s, (int)len);
}

static int node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth, size_t *count,
                        json_object **out)
{
    *out = NULL;
    if (!n)
        return tg_error_set(TG_EINVALID, "policy: a missing YAML node");
    if (depth > YAML_MAX_DEPTH || ++*count > YAML_MAX_NODES)
        return tg_error_set(TG_EINVALID, "policy: the YAML is too deep or too large");
    switch (n->type) {
    case YAML_SCALAR_NODE:
        *out = scalar_to_json(n);
        return 0;
    case YAML_SEQUENCE_NODE: {
        json_object *arr = json_object_new_array();
        if (!arr)
            return tg_error_set(TG_ENOMEM, "out of memory");
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            json_object *v;
            int rc = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1, count, &v);
            if (rc || json_object_array_add(arr, v)) {
                json_object_put(v);
                json_object_put(arr);
                return rc ? rc : tg_error_set(TG_ENOMEM, "out of memory");
            }
        }
        *out = arr;
        return 0;
    }
    case YAML_MAPPING_NODE: {
        json_object *obj = json_object_new_object();
        if (!obj)
            return tg_error_set(TG_ENOMEM, "out of memory");
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            json_object *v;
            if (!k || k->type != YAML_SCALAR_NODE) {
                json_object_put(obj);
                return tg_error_set(TG_EINVALID, "policy: line %zu: a key must be a scalar",
                                    k ? k->start_mark.line + 1 : 0);
            }
            const char *key = (const char *)k->data.scalar.value;
            if (json_object_object_get_ex(obj, key, NULL)) {
                json_object_put(obj);
                return tg_error_set(TG_EINVALID, "policy: line %zu: duplicate key \"%s\"",
                                    k->start_mark.line + 1, key);
            }
            int rc = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1, count, &v);
            if (rc || json_object_object_add(obj, key, v)) {
                json_object_put(v);
                json_object_put(obj);
                return rc ? rc : tg_error_set(TG_ENOMEM, "out of memory");
            }
        }
        *out = obj;
        return 0;
    }
    default:
        return tg_error_set(TG_EINVALID, "policy: an empty YAML node");
    }
}

int tg_cli_yaml_to_json(const char *text, size_t len, json_object **out)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc;

    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return tg_error_set(TG_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = tg_error_set(TG_EINVALID, "policy: line %zu: %s", parser.problem_mark.line + 1,
                          parser.problem ? parser.problem : "not YAML");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    size_t count = 0;
    if (!root)
        rc = tg_error_set(TG_EINVALID, "policy: the file is empty");
    else
        rc = node_to_json(&doc, root, 0, &count, out);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* --- the command ---------------------------------------------------------------------------- */

static int usage_error(const char *fmt, const char *detail)
{
    fprintf(stderr, "error: verify: ");
    fprintf(stderr, fmt, detail ? detail : "");
    fputc('\n', stderr);
    return EXIT_USAGE;
}

/* Reads a file the command was given; on failure prints why and returns NULL. */
static char *read_arg_file(const char *flag, const char *path, size_t max, size_t *len)
{
    char *data = NULL;
    size_t n = 0;

    if (tg_file_read(path, max, &data, &n, NULL) < 0) {
        fprintf(stderr, "error: verify: %s %s: %s\n", flag, path, tg_error_last());
        return NULL;
    }
    if (len)
        *len = n;
    return data;
}

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

/* The policy the cosign-style flags ask for, or NULL when they ask for nothing. */
static int flags_policy(const struct tg_cli_args *a, json_object **out)
{
    bool keyless = a->cert_identity || a->cert_identity_regexp || a->cert_oidc_issuer ||
                   a->cert_oidc_issuer_regexp;
    char *root = NULL;
    int code = 0;

    *out = NULL;
    if (!a->n_keys && !keyless) {
        if (a->n_types)
            return usage_error("--type needs who signs: --key or --certificate-identity%s", "");
        return 0;
    }
    if (a->n_keys && !a->trusted_root && !a->insecure_ignore_tlog)
        return usage_error("--key needs --trusted-root (the Rekor keys for the transparency "
                           "log) or --insecure-ignore-tlog%s",
                           "");
    if (keyless && !a->trusted_root)
        return usage_error("keyless verification needs --trusted-root%s", "");
    if (keyless && !a->cert_identity == !a->cert_identity_regexp)
        return usage_error(
            "keyless: give one of --certificate-identity, --certificate-identity-regexp%s", "");
    if (keyless && !a->cert_oidc_issuer == !a->cert_oidc_issuer_regexp)
        return usage_error(
            "keyless: give one of --certificate-oidc-issuer, --certificate-oidc-issuer-regexp%s",
            "");
    if (a->trusted_root &&
        !(root = read_arg_file("--trusted-root", a->trusted_root, FILE_MAX, NULL)))
        return EXIT_USAGE;

    json_object *spec = json_object_new_object(), *auths = json_object_new_array();
    json_object_object_add(spec, "authorities", auths);
    const char *tlog = a->insecure_ignore_tlog ? "ignore" : "required";
    if (a->n_keys) {
        size_t cap = 0, len = 0;
        char *pems = NULL;
        for (size_t i = 0; i < a->n_keys; i++) {
            size_t n;
            char *k = read_arg_file("--key", a->keys[i], FILE_MAX, &n);
            if (!k) {
                code = EXIT_USAGE;
                break;
            }
            char *grown = realloc(pems, cap = len + n + 2);
            if (!grown) {
                free(k);
                code = usage_error("out of memory%s", "");
                break;
            }
            pems = grown;
            memcpy(pems + len, k, n);
            len += n;
            pems[len++] = '\n';
            pems[len] = '\0';
            free(k);
        }
        (void)cap;
        if (code) {
            free(pems);
            json_object_put(spec);
            goto out;
        }
        json_object *auth = json_object_new_object(), *key = json_object_new_object();
        add_str(auth, "name", "key");
        add_str(key, "data", pems);
        free(pems);
        if (root) {
            json_object *tr = json_object_new_object();
            add_str(tr, "data", root);
            json_object_object_add(key, "trustedRoot", tr);
        }
        json_object_object_add(auth, "key", key);
        add_str(auth, "tlog", tlog);
        json_object_array_add(auths, auth);
    }
    if (keyless) {
        json_object *auth = json_object_new_object(), *kl = json_object_new_object(),
                    *tr = json_object_new_object(), *ids = json_object_new_array(),
                    *id = json_object_new_object();
        add_str(auth, "name", "keyless");
        add_str(tr, "data", root);
        json_object_object_add(kl, "trustedRoot", tr);
        if (a->cert_identity)
            add_str(id, "subject", a->cert_identity);
        else
            add_str(id, "subjectRegExp", a->cert_identity_regexp);
        if (a->cert_oidc_issuer)
            add_str(id, "issuer", a->cert_oidc_issuer);
        else
            add_str(id, "issuerRegExp", a->cert_oidc_issuer_regexp);
        json_object_array_add(ids, id);
        json_object_object_add(kl, "identities", ids);
        json_object_object_add(auth, "keyless", kl);
        add_str(auth, "tlog", tlog);
        json_object_array_add(auths, auth);
    }
    /* A signed image first: the signature is always required. */
    json_object_object_add(spec, "signature", json_object_new_object());
    json_object *formats = NULL;
    for (size_t i = 0; i < a->n_types; i++) {
        const char *t = a->types[i];
        if (strncmp(t, "slsaprovenance", 14) == 0) {
            if (!json_object_object_get_ex(spec, "provenance", NULL))
                json_object_object_add(spec, "provenance", json_object_new_object());
        } else if (strstr(t, "://")) {
            json_object *list, *one = json_object_new_object();
            if (!json_object_object_get_ex(spec, "attestations", &list)) {
                list = json_object_new_array();
                json_object_object_add(spec, "attestations", list);
            }
            add_str(one, "predicateType", t);
            json_object_array_add(list, one);
        } else if (strcmp(t, "vuln") == 0) {
            if (!json_object_object_get_ex(spec, "vulnerabilities", NULL))
                json_object_object_add(spec, "vulnerabilities", json_object_new_object());
        } else {
            if (!formats) {
                json_object *sbom = json_object_new_object();
                formats = json_object_new_array();
                json_object_object_add(sbom, "formats", formats);
                json_object_object_add(spec, "sbom", sbom);
            }
            json_object_array_add(formats, json_object_new_string(t));
        }
    }
    if (a->source_commit && json_object_object_get_ex(spec, "provenance", NULL)) {
        json_object *prov;
        json_object_object_get_ex(spec, "provenance", &prov);
        json_object_object_add(prov, "matchCommit", json_object_new_boolean(1));
    }
    *out = json_object_new_object();
    add_str(*out, "name", "command line");
    json_object_object_add(*out, "spec", spec);
out:
    free(root);
    return code;
}

/* The --policy file's entry: a spec, or a VerificationPolicy object (its spec). */
static int file_policy(const char *path, json_object **out)
{
    size_t len;
    char *text = read_arg_file("--policy", path, FILE_MAX, &len);
    json_object *doc = NULL, *spec, *kind, *meta, *name;
    char label[600];

    *out = NULL;
    if (!text)
        return EXIT_USAGE;
    int rc = tg_cli_yaml_to_json(text, len, &doc);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "error: verify: --policy %s: %s\n", path, tg_error_last());
        return EXIT_USAGE;
    }
    snprintf(label, sizeof(label), "policy %s", path);
    if (json_object_object_get_ex(doc, "kind", &kind) &&
        json_object_object_get_ex(doc, "spec", &spec)) {
        if (json_object_object_get_ex(doc, "metadata", &meta) &&
            json_object_object_get_ex(meta, "name", &name))
            snprintf(label, sizeof(label), "%s/%s", json_object_get_string(kind),
                     json_object_get_string(name));
        json_object_get(spec);
        json_object_put(doc);
        doc = spec;
    }
    *out = json_object_new_object();
    add_str(*out, "name", label);
    json_object_object_add(*out, "spec", doc);
    return 0;
}

/* --- fetching ------------------------------------------------------------------------------- */

struct fetch_wait {
    bool done;
    int rc;
    char message[1024];
    struct tg_verify_material *m;
};

static void on_fetch(int rc, const char *message, struct tg_verify_material *m, void *arg)
{
    struct fetch_wait *w = arg;
    w->done = true;
    w->rc = rc;
    snprintf(w->message, sizeof(w->message), "%s", message ? message : "");
    w->m = m;
}

/* Fetches the image's material from its registry; 0, or EXIT_USAGE after saying why. */
static int fetch(const struct tg_cli_args *a, struct tg_verify_material **out)
{
    struct tg_registry_options opt = {0};
    struct tg_registry_creds *creds = NULL;
    struct tg_registry *reg = NULL;
    struct tg_image_ref *ref = NULL;
    struct fetch_wait w = {0};
    char *ca = NULL, *dc = NULL, dc_path[4096];
    const char *http_host[1];
    uv_loop_t loop;
    int code = EXIT_USAGE;

    *out = NULL;
    if (tg_image_ref_parse(a->name, &ref) < 0)
        return usage_error("%s", tg_error_last());
    if (a->allow_http_registry) {
        http_host[0] = ref->registry;
        opt.http_hosts = http_host;
        opt.n_http_hosts = 1;
    }
    if (a->registry_ca) {
        if (!(ca = read_arg_file("--registry-ca", a->registry_ca, FILE_MAX, &opt.ca_len)))
            goto free_ref;
        opt.ca_pem = ca;
    }
    const char *dcfile = a->dockerconfig;
    if (!dcfile && getenv("HOME")) {
        struct stat st;
        snprintf(dc_path, sizeof(dc_path), "%s/.docker/config.json", getenv("HOME"));
        if (stat(dc_path, &st) == 0)
            dcfile = dc_path;
    }
    if (!(creds = tg_registry_creds_new())) {
        usage_error("out of memory%s", "");
        goto free_ca;
    }
    if (dcfile) {
        size_t len;
        if (!(dc = read_arg_file("--dockerconfig", dcfile, FILE_MAX, &len)))
            goto free_creds;
        if (tg_registry_creds_add_dockerconfig(creds, dc, len) < 0) {
            fprintf(stderr, "error: verify: %s: %s\n", dcfile, tg_error_last());
            goto free_creds;
        }
    }
    if (uv_loop_init(&loop) != 0) {
        usage_error("cannot start the event loop%s", "");
        goto free_creds;
    }
    if (tg_registry_new(&loop, &opt, &reg) < 0) {
        usage_error("%s", tg_error_last());
        goto close_loop;
    }
    struct tg_fetch_options fo = {0};
    if (tg_fetch_material(reg, a->name, creds, &fo, on_fetch, &w) < 0) {
        fprintf(stderr, "error: verify: registry: %s\n", tg_error_last());
        goto free_reg;
    }
    while (!w.done && uv_run(&loop, UV_RUN_ONCE) != 0)
        ;
    if (!w.done) {
        fprintf(stderr, "error: verify: the event loop stopped before the fetch ended\n");
    } else if (w.rc < 0) {
        fprintf(stderr, "error: verify: the registry could not be read (%s): %s\n",
                tg_error_name(w.rc), w.message);
    } else {
        *out = w.m;
        code = 0;
    }
free_reg:
    tg_registry_free(reg);
    while (uv_run(&loop, UV_RUN_DEFAULT) != 0)
        ;
close_loop:
    uv_loop_close(&loop);
free_creds:
    tg_registry_creds_free(creds);
    free(dc);
free_ca:
    free(ca);
free_ref:
    tg_image_ref_free(ref);
    return code;
}

static int load_material(const char *path, struct tg_verify_material **out)
{
    size_t len;
    char *text = read_arg_file("--material", path, MATERIAL_MAX, &len);
    json_tokener *tok;
    json_object *obj = NULL;

    *out = NULL;
    if (!text)
        return EXIT_USAGE;
    if ((tok = json_tokener_new_ex(64)) != NULL) {
        obj = json_tokener_parse_ex(tok, text, (int)len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(obj);
            obj = NULL;
        }
        json_tokener_free(tok);
    }
    free(text);
    if (!obj) {
        fprintf(stderr, "error: verify: --material %s: not JSON\n", path);
        return EXIT_USAGE;
    }
    int rc = tg_verify_material_from_json(obj, out);
    json_object_put(obj);
    if (rc < 0) {
        fprintf(stderr, "error: verify: --material %s: %s\n", path, tg_error_last());
        return EXIT_USAGE;
    }
    return 0;
}

static int save_material(const char *path, const struct tg_verify_material *m)
{
    json_object *j = tg_verify_material_to_json(m);
    FILE *f;
    int code = 0;

    if (!j)
        return usage_error("out of memory%s", "");
    if (!(f = fopen(path, "w"))) {
        char e[128];
        fprintf(stderr, "error: verify: --save-material %s: %s\n", path,
                tg_errno_text(errno, e, sizeof(e)));
        code = EXIT_USAGE;
    } else {
        fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY), f);
        fputc('\n', f);
        if (fclose(f) != 0)
            code = usage_error("--save-material: the file could not be written%s", "");
    }
    json_object_put(j);
    return code;
}

/* --- printing ------------------------------------------------------------------------------- */

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t jint(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

/* Appends ", label value" to buf when value is set. */
static void detail(char *buf, size_t n, const char *label, const char *value)
{
    size_t off = strlen(buf);
    if (value && off < n)
        snprintf(buf + off, n - off, "%s%s%s", off ? ", " : "", label, value);
}

static void print_gate(const char *gate, json_object *e)
{
    const char *result = jstr(e, "result");
    char d[2048] = "";

    bool counted = json_object_object_get_ex(e, "critical", NULL);
    if (jstr(e, "reason") && !(strcmp(gate, "vulnerabilities") == 0 && counted)) {
        snprintf(d, sizeof(d), "%s", jstr(e, "reason"));
    } else if (strcmp(gate, "vulnerabilities") == 0) {
        if (jstr(e, "reason"))
            snprintf(d, sizeof(d), "%s; ", jstr(e, "reason"));
        size_t off = strlen(d);
        snprintf(d + off, sizeof(d) - off,
                 "critical %lld, high %lld, medium %lld, low %lld, unknown %lld, suppressed %lld",
                 (long long)jint(e, "critical"), (long long)jint(e, "high"),
                 (long long)jint(e, "medium"), (long long)jint(e, "low"),
                 (long long)jint(e, "unknown"), (long long)jint(e, "suppressed"));
        detail(d, sizeof(d), "scanner ", jstr(e, "scanner"));
        detail(d, sizeof(d), "scanned ", jstr(e, "scannedAt"));
        detail(d, sizeof(d), "valid until ", jstr(e, "validUntil"));
    } else if (strcmp(gate, "sbom") == 0) {
        char comps[64];
        snprintf(comps, sizeof(comps), "%lld", (long long)jint(e, "components"));
        detail(d, sizeof(d), "", jstr(e, "format"));
        detail(d, sizeof(d), "spec ", jstr(e, "specVersion"));
        detail(d, sizeof(d), "components ", comps);
        detail(d, sizeof(d), "signed by ", jstr(e, "authority"));
    } else {
        detail(d, sizeof(d), "authority ", jstr(e, "authority"));
        detail(d, sizeof(d), "signer ", jstr(e, "signer"));
        detail(d, sizeof(d), "issuer ", jstr(e, "issuer"));
        detail(d, sizeof(d), "", jstr(e, "format"));
        detail(d, sizeof(d), "builder ", jstr(e, "builder"));
        detail(d, sizeof(d), "source ", jstr(e, "sourceRepository"));
        detail(d, sizeof(d), "ref ", jstr(e, "ref"));
        detail(d, sizeof(d), "commit ", jstr(e, "commit"));
        detail(d, sizeof(d), "type ", jstr(e, "predicateType"));
    }
    printf("%-16s %-9s %s\n", gate, result ? result : "?", d);
}

static void print_text(json_object *v)
{
    static const char *const gates[] = {"signature", "provenance", "sbom", "vulnerabilities",
                                        "attestations"};
    json_object *e;

    printf("%-16s %s\n", "image", jstr(v, "image"));
    for (size_t i = 0; i < 5; i++) {
        if (json_object_object_get_ex(v, gates[i], &e))
            print_gate(gates[i], e);
    }
    const char *msg = jstr(v, "message");
    if (msg && *msg)
        printf("%-16s %-9s %s\n", "result", jstr(v, "result"), msg);
    else
        printf("%-16s %s\n", "result", jstr(v, "result"));
}

int tg_cli_verify(const struct tg_cli_args *a)
{
    json_object *policies = NULL, *p = NULL, *verdict = NULL;
    struct tg_verify_material *m = NULL;
    int code;

    const char *at = strrchr(a->name, '@');
    if (!at || strncmp(at + 1, "sha256:", 7) != 0)
        return usage_error("%s is not pinned by digest (registry/repo@sha256:<hex>)", a->name);
    if (!(policies = json_object_new_array()))
        return usage_error("out of memory%s", "");
    if (a->policy) {
        if ((code = file_policy(a->policy, &p)))
            goto out;
        json_object_array_add(policies, p);
    }
    if ((code = flags_policy(a, &p)))
        goto out;
    if (p)
        json_object_array_add(policies, p);
    if (json_object_array_length(policies) == 0) {
        code = usage_error("nothing to verify: give --key, --certificate-identity or "
                           "--policy%s",
                           "");
        goto out;
    }
    if (tg_verify_policies_validate(policies) < 0) {
        code = usage_error("%s", tg_error_last());
        goto out;
    }
    if ((code = a->material ? load_material(a->material, &m) : fetch(a, &m)))
        goto out;
    if (a->save_material && (code = save_material(a->save_material, m)))
        goto out;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tg_verify_input in = {.image = a->name,
                                 .material = m,
                                 .policies = policies,
                                 .source_commit = a->source_commit,
                                 .now_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000};
    if (tg_verify_judge(&in, &verdict) < 0) {
        code = usage_error("%s", tg_error_last());
        goto out;
    }
    if (a->output && strcmp(a->output, "json") == 0)
        printf("%s\n", json_object_to_json_string_ext(verdict, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    else
        print_text(verdict);
    const char *result = jstr(verdict, "result");
    code = result && strcmp(result, "Failed") == 0 ? EXIT_FAILED : EXIT_PASSED;
out:
    json_object_put(verdict);
    tg_verify_material_free(m);
    json_object_put(policies);
    return code;
}
