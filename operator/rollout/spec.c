/* Typed views of Rollout and Release: parsing, defaults and validation; see spec.h. */
#include "rollout/spec.h"
#include "rollout/spec_internal.h"

#include "util/error.h"
#include "verify/verifier.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The longest pause accepted: 30 days, in milliseconds. */
#define DURATION_MAX_MS (30LL * 24 * 3600 * 1000)

#define TG_API_VERSION "tollgate.io/v1alpha1"

/* Labels the operator puts on pods to tell tracks and colors apart; users may not use them. */
static const char *const reserved_labels[] = {"tollgate.io/rollout", "tollgate.io/track",
                                              "tollgate.io/color"};

/* ---- the error list ---- */

char *dup_or_flag(struct tg_field_errors *errs, const char *s)
{
    char *d = strdup(s);
    if (!d)
        errs->nomem = true;
    return d;
}

void tg_field_errors_add(struct tg_field_errors *errs, const char *field, const char *fmt, ...)
{
    char message[1024];
    va_list ap;

    if (errs->len >= TG_FIELD_ERRORS_MAX) {
        errs->dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    char *f = dup_or_flag(errs, field);
    char *m = dup_or_flag(errs, message);
    if (!f || !m) {
        free(f);
        free(m);
        return;
    }
    errs->items[errs->len].field = f;
    errs->items[errs->len].message = m;
    errs->len++;
}

void tg_field_errors_free(struct tg_field_errors *errs)
{
    for (size_t i = 0; i < errs->len; i++) {
        free(errs->items[i].field);
        free(errs->items[i].message);
    }
    memset(errs, 0, sizeof(*errs));
}

char *tg_field_errors_join(const struct tg_field_errors *errs)
{
    size_t total = 1;
    char more[64] = "";

    if (errs->dropped > 0)
        snprintf(more, sizeof(more), "; and %zu more", errs->dropped);
    for (size_t i = 0; i < errs->len; i++)
        total += strlen(errs->items[i].field) + strlen(errs->items[i].message) + 4;
    total += strlen(more);
    char *out = malloc(total);
    if (!out)
        return NULL;
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < errs->len; i++) {
        int n = snprintf(out + off, total - off, "%s%s: %s", i > 0 ? "; " : "",
                         errs->items[i].field, errs->items[i].message);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    snprintf(out + off, total - off, "%s", more);
    return out;
}

/* ---- reading json-c objects ---- */

/* Returns obj[key], treating an explicit JSON null as absent. */
json_object *member(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!obj || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

/* Writes prefix.key into buf. */
void path_join(char *buf, size_t n, const char *prefix, const char *key)
{
    if (prefix[0] == '\0')
        snprintf(buf, n, "%s", key);
    else
        snprintf(buf, n, "%s.%s", prefix, key);
}

void path_index(char *buf, size_t n, const char *prefix, size_t i)
{
    snprintf(buf, n, "%s[%zu]", prefix, i);
}

/*
 * Returns obj[key] when it is an object. Records "is required" when required and absent, and
 * "must be an object" on another type; *bad is set when something was recorded.
 */
json_object *get_object(struct tg_field_errors *errs, json_object *obj, const char *key,
                        const char *prefix, bool required)
{
    char path[PATH_MAX_LEN];
    json_object *v = member(obj, key);

    path_join(path, sizeof(path), prefix, key);
    if (!v) {
        if (required)
            tg_field_errors_add(errs, path, "is required");
        return NULL;
    }
    if (!json_object_is_type(v, json_type_object)) {
        tg_field_errors_add(errs, path, "must be an object");
        return NULL;
    }
    return v;
}

/*
 * Reads obj[key] as a string into *out (a copy the caller frees), or leaves *out NULL when
 * absent. Records "is required", "must be a string" and, with nonempty, "must not be empty".
 * Returns true when a valid string was read.
 */
bool get_string(struct tg_field_errors *errs, json_object *obj, const char *key, const char *prefix,
                bool required, char **out)
{
    char path[PATH_MAX_LEN];
    json_object *v = member(obj, key);

    *out = NULL;
    path_join(path, sizeof(path), prefix, key);
    if (!v) {
        if (required)
            tg_field_errors_add(errs, path, "is required");
        return false;
    }
    if (!json_object_is_type(v, json_type_string)) {
        tg_field_errors_add(errs, path, "must be a string");
        return false;
    }
    const char *s = json_object_get_string(v);
    if (required && s[0] == '\0') {
        tg_field_errors_add(errs, path, "must not be empty");
        return false;
    }
    *out = dup_or_flag(errs, s);
    return *out != NULL;
}

/* Reads obj[key] as an integer in [min, max], or def when absent. */
int get_int(struct tg_field_errors *errs, json_object *obj, const char *key, const char *prefix,
            int def, int min, int max)
{
    char path[PATH_MAX_LEN];
    json_object *v = member(obj, key);

    path_join(path, sizeof(path), prefix, key);
    if (!v)
        return def;
    if (!json_object_is_type(v, json_type_int)) {
        tg_field_errors_add(errs, path, "must be an integer");
        return def;
    }
    int64_t n = json_object_get_int64(v);
    if (n < min || n > max) {
        if (max == INT32_MAX && n < min)
            tg_field_errors_add(errs, path, "must be at least %d (got %lld)", min, (long long)n);
        else if (max == INT32_MAX)
            tg_field_errors_add(errs, path, "must be at most %d (got %lld)", max, (long long)n);
        else
            tg_field_errors_add(errs, path, "must be between %d and %d (got %lld)", min, max,
                                (long long)n);
        return def;
    }
    return (int)n;
}

bool get_bool(struct tg_field_errors *errs, json_object *obj, const char *key, const char *prefix,
              bool def)
{
    char path[PATH_MAX_LEN];
    json_object *v = member(obj, key);

    path_join(path, sizeof(path), prefix, key);
    if (!v)
        return def;
    if (!json_object_is_type(v, json_type_boolean)) {
        tg_field_errors_add(errs, path, "must be a boolean");
        return def;
    }
    return json_object_get_boolean(v);
}

/* Reports every key of obj not in known[] as a field this version does not support. */
void check_known_keys(struct tg_field_errors *errs, json_object *obj, const char *prefix,
                      const char *const *known, size_t n_known)
{
    json_object_object_foreach(obj, key, val)
    {
        bool found = false;
        (void)val;
        for (size_t i = 0; i < n_known && !found; i++)
            found = strcmp(key, known[i]) == 0;
        if (!found) {
            char path[PATH_MAX_LEN];
            path_join(path, sizeof(path), prefix, key);
            tg_field_errors_add(errs, path, "unknown field (not supported by v1alpha1)");
        }
    }
}

/* DNS-1123 label (63) or subdomain (253): lowercase alphanumerics, '-', and '.' for a subdomain. */
bool is_dns_name(const char *s, size_t max, bool dots, bool letter_first)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum)
            continue;
        if (c == '-' && i > 0 && i + 1 < n && s[i - 1] != '.' && s[i + 1] != '.')
            continue;
        if (c == '.' && dots && i > 0 && i + 1 < n && s[i - 1] != '.')
            continue;
        return false;
    }
    if (letter_first && !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    return true;
}

/* A name the operator creates objects from: DNS subdomain, as metadata.name requires. */
static void check_object_name(struct tg_field_errors *errs, const char *path, const char *name)
{
    if (name && !is_dns_name(name, 253, true, false))
        tg_field_errors_add(errs, path,
                            "must be a lowercase DNS name of at most 253 characters (got \"%s\")",
                            name);
}

/* A Service name: DNS-1035 label. */
static void check_service_name(struct tg_field_errors *errs, const char *path, const char *name,
                               size_t max)
{
    if (name && !is_dns_name(name, max, false, true))
        tg_field_errors_add(errs, path,
                            "must be a DNS-1035 label of at most %zu characters: lowercase "
                            "letters, digits and '-', starting with a letter (got \"%s\")",
                            max, name);
}

/* Reads the apiVersion/kind pair and metadata common to both kinds. */
static void parse_header(struct tg_field_errors *errs, json_object *obj, const char *kind,
                         char **name, char **namespace, char **uid, int64_t *generation)
{
    char *s = NULL;

    if (get_string(errs, obj, "apiVersion", "", false, &s) && strcmp(s, TG_API_VERSION) != 0)
        tg_field_errors_add(errs, "apiVersion", "must be %s (got \"%s\")", TG_API_VERSION, s);
    free(s);
    if (get_string(errs, obj, "kind", "", false, &s) && strcmp(s, kind) != 0)
        tg_field_errors_add(errs, "kind", "must be %s (got \"%s\")", kind, s);
    free(s);
    json_object *meta = get_object(errs, obj, "metadata", "", true);
    if (!meta)
        return;
    get_string(errs, meta, "name", "metadata", true, name);
    get_string(errs, meta, "namespace", "metadata", false, namespace);
    get_string(errs, meta, "uid", "metadata", false, uid);
    json_object *g = member(meta, "generation");
    if (g && json_object_is_type(g, json_type_int))
        *generation = json_object_get_int64(g);
}

/* ---- durations and images ---- */

int tg_duration_parse_ms(json_object *value, int64_t *ms)
{
    static const char hint[] =
        "use an integer number of seconds or h, m, s and ms parts like \"1h30m\"";

    *ms = 0;
    if (value && json_object_is_type(value, json_type_int)) {
        int64_t s = json_object_get_int64(value);
        if (s < 0)
            return tg_error_set(TG_EINVALID, "must not be negative (got %lld)", (long long)s);
        if (s > DURATION_MAX_MS / 1000)
            return tg_error_set(TG_EINVALID, "must be at most 30 days");
        *ms = s * 1000;
        return 0;
    }
    if (!value || !json_object_is_type(value, json_type_string))
        return tg_error_set(TG_EINVALID, "must be a number of seconds or a duration string");
    const char *text = json_object_get_string(value);
    const char *p = text;
    int64_t total = 0;
    bool plain = true;

    if (*p == '\0')
        return tg_error_set(TG_EINVALID, "invalid duration \"\": %s", hint);
    while (*p) {
        int64_t n = 0;
        const char *start = p;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (n > DURATION_MAX_MS)
                return tg_error_set(TG_EINVALID, "must be at most 30 days");
            n = n * 10 + (*p - '0');
        }
        if (p == start)
            return tg_error_set(TG_EINVALID, "invalid duration \"%s\": %s", text, hint);
        int64_t unit;
        if (*p == '\0' && plain && start == text) {
            unit = 1000;
        } else if (p[0] == 'm' && p[1] == 's') {
            unit = 1;
            p += 2;
        } else if (*p == 'h' || *p == 'm' || *p == 's') {
            unit = *p == 'h' ? 3600000 : *p == 'm' ? 60000 : 1000;
            p++;
        } else {
            return tg_error_set(TG_EINVALID, "invalid duration \"%s\": %s", text, hint);
        }
        plain = false;
        if (n > DURATION_MAX_MS / unit || total + n * unit > DURATION_MAX_MS)
            return tg_error_set(TG_EINVALID, "must be at most 30 days");
        total += n * unit;
    }
    *ms = total;
    return 0;
}

static bool is_lower_hex_n(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

/* A tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
static bool is_tag(const char *s, size_t n)
{
    if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/*
 * A repository name: an optional registry host (with a '.', a ':' or "localhost" in its first
 * component) and lowercase path components separated by '/'.
 */
static bool is_repository(const char *s, size_t n)
{
    size_t i = 0;
    const char *slash = memchr(s, '/', n);

    if (n == 0)
        return false;
    if (slash) {
        size_t hn = (size_t)(slash - s);
        bool host =
            memchr(s, '.', hn) || memchr(s, ':', hn) || (hn == 9 && memcmp(s, "localhost", 9) == 0);
        if (host) {
            for (; i < hn; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == ':'))
                    return false;
            }
            i = hn + 1;
        }
    }
    size_t comp = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '/') {
            if (comp == 0)
                return false;
            comp = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
        comp++;
    }
    return comp > 0;
}

int tg_image_check(const char *image, bool allow_tags, char **out_digest)
{
    static const char digest_prefix[] = "sha256:";
    const size_t dp = sizeof(digest_prefix) - 1;

    if (out_digest)
        *out_digest = NULL;
    if (!image || image[0] == '\0')
        return tg_error_set(TG_EINVALID, "must not be empty");
    size_t n = strlen(image);
    for (size_t i = 0; i < n; i++) {
        if (image[i] == ' ' || image[i] == '\t' || image[i] == '\n' || image[i] == '\r')
            return tg_error_set(TG_EINVALID, "must not contain whitespace");
    }
    const char *at = strchr(image, '@');
    size_t name_len = at ? (size_t)(at - image) : n;
    if (at) {
        const char *d = at + 1;
        if (strncmp(d, digest_prefix, dp) != 0 || strlen(d) != dp + 64 ||
            !is_lower_hex_n(d + dp, 64))
            return tg_error_set(TG_EINVALID,
                                "invalid digest \"%s\": must be sha256: followed by 64 lowercase "
                                "hex digits",
                                d);
    }
    /* A tag follows the last ':' that comes after the last '/'. */
    const char *last_slash = NULL;
    const char *colon = NULL;
    for (size_t i = 0; i < name_len; i++) {
        if (image[i] == '/')
            last_slash = image + i;
        else if (image[i] == ':')
            colon = image + i;
    }
    if (colon && last_slash && colon < last_slash)
        colon = NULL;
    size_t repo_len = colon ? (size_t)(colon - image) : name_len;
    if (!is_repository(image, repo_len))
        return tg_error_set(TG_EINVALID,
                            "invalid repository \"%.*s\": lowercase letters, digits, '.', '_', "
                            "'-' and '/', after an optional registry host",
                            (int)repo_len, image);
    if (colon) {
        size_t tag_len = name_len - repo_len - 1;
        if (!is_tag(colon + 1, tag_len))
            return tg_error_set(TG_EINVALID, "invalid tag \"%.*s\"", (int)tag_len, colon + 1);
    }
    if (!at && !allow_tags)
        return tg_error_set(TG_EINVALID,
                            "must be pinned by digest (name@sha256:<64 hex digits>); set "
                            "spec.artifact.allowTags to accept a tag");
    if (!at && !colon)
        return tg_error_set(TG_EINVALID,
                            "has neither a tag nor a digest; name one explicitly (an implicit "
                            "\"latest\" is not a release)");
    if (at && out_digest) {
        *out_digest = strdup(at + 1);
        if (!*out_digest)
            return tg_error_set(TG_ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- Rollout ---- */

void free_labels(struct tg_label *labels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(labels[i].key);
        free(labels[i].value);
    }
    free(labels);
}

/* A label name, or a label value when non-empty: 1-63 of [A-Za-z0-9_.-], alphanumeric ends. */
static bool is_label_name(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && ((i == 0 || i + 1 == n) || !(c == '-' || c == '_' || c == '.')))
            return false;
    }
    return true;
}

/* A label or annotation key: an optional DNS subdomain prefix and '/', then a label name. */
static bool is_label_key(const char *k)
{
    const char *slash = strchr(k, '/');
    char prefix[254];

    if (!slash)
        return is_label_name(k, strlen(k));
    size_t pn = (size_t)(slash - k);
    if (pn == 0 || pn > 253)
        return false;
    memcpy(prefix, k, pn);
    prefix[pn] = '\0';
    return is_dns_name(prefix, 253, true, false) && is_label_name(slash + 1, strlen(slash + 1));
}

/*
 * Reads a map of strings (labels) at obj[key] into a new array, checking the keys' syntax and,
 * with values_are_labels, the values'. Returns the count; *out is NULL when there are none.
 */
static size_t get_labels(struct tg_field_errors *errs, json_object *obj, const char *key,
                         const char *prefix, bool values_are_labels, struct tg_label **out)
{
    char path[PATH_MAX_LEN];
    json_object *map = get_object(errs, obj, key, prefix, false);
    size_t n = 0;

    *out = NULL;
    if (!map)
        return 0;
    path_join(path, sizeof(path), prefix, key);
    size_t count = (size_t)json_object_object_length(map);
    if (count == 0)
        return 0;
    struct tg_label *labels = calloc(count, sizeof(*labels));
    if (!labels) {
        errs->nomem = true;
        return 0;
    }
    json_object_object_foreach(map, k, v)
    {
        char vpath[PATH_MAX_LEN];
        path_join(vpath, sizeof(vpath), path, k);
        if (!v || !json_object_is_type(v, json_type_string)) {
            tg_field_errors_add(errs, vpath, "must be a string");
            continue;
        }
        const char *value = json_object_get_string(v);
        if (!is_label_key(k))
            tg_field_errors_add(errs, path,
                                "invalid key \"%s\": an optional DNS prefix and '/', then at most "
                                "63 letters, digits, '-', '_' or '.', starting and ending with a "
                                "letter or digit",
                                k);
        else if (values_are_labels && value[0] != '\0' && !is_label_name(value, strlen(value)))
            tg_field_errors_add(errs, vpath,
                                "invalid label value \"%s\": at most 63 letters, digits, '-', '_' "
                                "or '.', starting and ending with a letter or digit",
                                value);
        labels[n].key = dup_or_flag(errs, k);
        labels[n].value = dup_or_flag(errs, value);
        n++;
    }
    *out = labels;
    return n;
}

static const char *label_value(const struct tg_label *labels, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (labels[i].key && strcmp(labels[i].key, key) == 0)
            return labels[i].value;
    }
    return NULL;
}

static void check_reserved_labels(struct tg_field_errors *errs, const char *path,
                                  const struct tg_label *labels, size_t n)
{
    for (size_t i = 0; i < sizeof(reserved_labels) / sizeof(reserved_labels[0]); i++) {
        if (label_value(labels, n, reserved_labels[i]))
            tg_field_errors_add(errs, path, "label %s is reserved for the operator",
                                reserved_labels[i]);
    }
}

/* Validates spec.template's outline; returns its labels through *labels. */
static void parse_template(struct tg_field_errors *errs, json_object *tmpl,
                           struct tg_label **labels, size_t *n_labels)
{
    const char *prefix = "spec.template";
    json_object *meta = get_object(errs, tmpl, "metadata", prefix, false);

    *labels = NULL;
    *n_labels = 0;
    if (meta) {
        struct tg_label *annotations = NULL;
        size_t n_ann =
            get_labels(errs, meta, "annotations", "spec.template.metadata", false, &annotations);
        free_labels(annotations, n_ann);
        *n_labels = get_labels(errs, meta, "labels", "spec.template.metadata", true, labels);
        check_reserved_labels(errs, "spec.template.metadata.labels", *labels, *n_labels);
    }
    json_object *pod = get_object(errs, tmpl, "spec", prefix, true);
    if (!pod)
        return;
    json_object *containers = member(pod, "containers");
    if (!containers) {
        tg_field_errors_add(errs, "spec.template.spec.containers", "is required");
        return;
    }
    if (!json_object_is_type(containers, json_type_array)) {
        tg_field_errors_add(errs, "spec.template.spec.containers", "must be a list");
        return;
    }
    size_t n = json_object_array_length(containers);
    if (n == 0)
        tg_field_errors_add(errs, "spec.template.spec.containers",
                            "must have at least one container");
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        json_object *c = json_object_array_get_idx(containers, i);
        path_index(path, sizeof(path), "spec.template.spec.containers", i);
        if (!c || !json_object_is_type(c, json_type_object)) {
            tg_field_errors_add(errs, path, "must be an object");
            continue;
        }
        char *name = NULL, *image = NULL;
        if (get_string(errs, c, "name", path, true, &name)) {
            for (size_t j = 0; j < i; j++) {
                json_object *o = json_object_array_get_idx(containers, j);
                json_object *on = member(o, "name");
                if (on && json_object_is_type(on, json_type_string) &&
                    strcmp(json_object_get_string(on), name) == 0) {
                    char npath[PATH_MAX_LEN];
                    path_join(npath, sizeof(npath), path, "name");
                    tg_field_errors_add(errs, npath, "duplicate container name \"%s\"", name);
                    break;
                }
            }
        }
        get_string(errs, c, "image", path, false, &image);
        free(name);
        free(image);
    }
}

static void parse_workload_ref(struct tg_field_errors *errs, json_object *ref,
                               struct tg_workload_ref *out)
{
    const char *prefix = "spec.workloadRef";

    if (!get_string(errs, ref, "apiVersion", prefix, false, &out->api_version) &&
        !member(ref, "apiVersion"))
        out->api_version = dup_or_flag(errs, "apps/v1");
    if (out->api_version && strcmp(out->api_version, "apps/v1") != 0)
        tg_field_errors_add(errs, "spec.workloadRef.apiVersion", "must be apps/v1 (got \"%s\")",
                            out->api_version);
    if (get_string(errs, ref, "kind", prefix, true, &out->kind) &&
        strcmp(out->kind, "Deployment") != 0)
        tg_field_errors_add(errs, "spec.workloadRef.kind",
                            "must be Deployment, the only kind supported (got \"%s\")", out->kind);
    if (get_string(errs, ref, "name", prefix, true, &out->name))
        check_object_name(errs, "spec.workloadRef.name", out->name);
}

static void parse_selector(struct tg_field_errors *errs, json_object *spec,
                           struct tg_rollout_spec *out, bool *given)
{
    json_object *sel = get_object(errs, spec, "selector", "spec", false);

    *given = false;
    if (!sel)
        return;
    *given = true;
    if (member(sel, "matchExpressions"))
        tg_field_errors_add(errs, "spec.selector.matchExpressions",
                            "is not supported; use matchLabels");
    out->n_selector = get_labels(errs, sel, "matchLabels", "spec.selector", true, &out->selector);
    if (out->n_selector == 0)
        tg_field_errors_add(errs, "spec.selector.matchLabels",
                            "must not be empty (an empty selector selects every pod)");
    check_reserved_labels(errs, "spec.selector.matchLabels", out->selector, out->n_selector);
}

static void parse_service(struct tg_field_errors *errs, json_object *spec,
                          struct tg_service_spec *out)
{
    const char *prefix = "spec.service";
    json_object *svc = get_object(errs, spec, "service", "spec", true);

    if (!svc)
        return;
    if (get_string(errs, svc, "name", prefix, true, &out->name))
        check_service_name(errs, "spec.service.name", out->name, 63);
    out->port = get_int(errs, svc, "port", prefix, 80, 1, 65535);
    out->target_port = out->port;
    json_object *tp = member(svc, "targetPort");
    if (!tp)
        return;
    if (json_object_is_type(tp, json_type_int)) {
        out->target_port = get_int(errs, svc, "targetPort", prefix, out->port, 1, 65535);
    } else if (json_object_is_type(tp, json_type_string)) {
        const char *s = json_object_get_string(tp);
        if (!is_dns_name(s, 15, false, false) || strspn(s, "0123456789") == strlen(s)) {
            tg_field_errors_add(errs, "spec.service.targetPort",
                                "must be a port number or a port name of at most 15 lowercase "
                                "letters, digits and '-' (got \"%s\")",
                                s);
        } else {
            out->target_port = 0;
            out->target_port_name = dup_or_flag(errs, s);
        }
    } else {
        tg_field_errors_add(errs, "spec.service.targetPort",
                            "must be a port number or a port name");
    }
}

static void parse_step(struct tg_field_errors *errs, json_object *spec, json_object *step,
                       const char *path, struct tg_rollout_spec *rollout,
                       struct tg_canary_step *out, int *last_weight)
{
    static const char *const known[] = {"setWeight", "pause", "analysis"};

    if (!step || !json_object_is_type(step, json_type_object)) {
        tg_field_errors_add(errs, path, "must be an object");
        return;
    }
    check_known_keys(errs, step, path, known, 3);
    json_object *w = member(step, "setWeight");
    json_object *pause = member(step, "pause");
    json_object *analysis = member(step, "analysis");
    if ((w != NULL) + (pause != NULL) + (analysis != NULL) != 1) {
        tg_field_errors_add(errs, path, "must set exactly one of setWeight, pause and analysis");
        return;
    }
    if (analysis) {
        char apath[PATH_MAX_LEN];
        out->kind = TG_STEP_ANALYSIS;
        path_join(apath, sizeof(apath), path, "analysis");
        tg_spec_parse_analysis_ref(errs, spec, analysis, apath, &rollout->analysis, false,
                                   &out->analysis);
        return;
    }
    if (w) {
        out->kind = TG_STEP_SET_WEIGHT;
        size_t before = errs->len + errs->dropped;
        out->weight = get_int(errs, step, "setWeight", path, 0, 0, 100);
        if (errs->len + errs->dropped != before)
            return;
        if (out->weight < *last_weight) {
            char wpath[PATH_MAX_LEN];
            path_join(wpath, sizeof(wpath), path, "setWeight");
            tg_field_errors_add(errs, wpath,
                                "must not be less than the previous step's weight %d (got %d); "
                                "weights only grow, use abort to go back",
                                *last_weight, out->weight);
        }
        *last_weight = out->weight;
        return;
    }
    out->kind = TG_STEP_PAUSE;
    char ppath[PATH_MAX_LEN];
    path_join(ppath, sizeof(ppath), path, "pause");
    if (!json_object_is_type(pause, json_type_object)) {
        tg_field_errors_add(errs, ppath, "must be an object");
        return;
    }
    json_object *d = member(pause, "duration");
    if (!d)
        return;
    char dpath[PATH_MAX_LEN];
    path_join(dpath, sizeof(dpath), ppath, "duration");
    if (tg_duration_parse_ms(d, &out->duration_ms) < 0) {
        tg_field_errors_add(errs, dpath, "%s", tg_error_last());
        return;
    }
    out->has_duration = true;
}

static void parse_routing(struct tg_field_errors *errs, json_object *canary,
                          const char *canary_path, struct tg_traffic_routing *out)
{
    char path[PATH_MAX_LEN];
    json_object *tr = get_object(errs, canary, "trafficRouting", canary_path, false);

    out->kind = TG_ROUTING_REPLICAS;
    if (!tr) /* the CRD's default: replicas: {} */
        return;
    path_join(path, sizeof(path), canary_path, "trafficRouting");
    json_object *rep = get_object(errs, tr, "replicas", path, false);
    json_object *gw = get_object(errs, tr, "gatewayAPI", path, false);
    json_object *ng = get_object(errs, tr, "nginx", path, false);
    int count = (rep != NULL) + (gw != NULL) + (ng != NULL);
    if (count == 0 && !member(tr, "replicas") && !member(tr, "gatewayAPI") &&
        !member(tr, "nginx")) {
        tg_field_errors_add(errs, path, "must set one of replicas, gatewayAPI and nginx");
        return;
    }
    if (count > 1) {
        tg_field_errors_add(errs, path,
                            "replicas, gatewayAPI and nginx are mutually exclusive; set exactly "
                            "one");
        return;
    }
    char sub[PATH_MAX_LEN];
    if (gw) {
        out->kind = TG_ROUTING_GATEWAY_API;
        path_join(sub, sizeof(sub), path, "gatewayAPI");
        char field[PATH_MAX_LEN];
        path_join(field, sizeof(field), sub, "httpRoute");
        if (get_string(errs, gw, "httpRoute", sub, true, &out->http_route))
            check_object_name(errs, field, out->http_route);
        path_join(field, sizeof(field), sub, "namespace");
        if (get_string(errs, gw, "namespace", sub, false, &out->route_namespace) &&
            !is_dns_name(out->route_namespace, 63, false, false))
            tg_field_errors_add(errs, field, "must be a namespace name (got \"%s\")",
                                out->route_namespace);
    } else if (ng) {
        out->kind = TG_ROUTING_NGINX;
        path_join(sub, sizeof(sub), path, "nginx");
        char field[PATH_MAX_LEN];
        path_join(field, sizeof(field), sub, "ingress");
        if (get_string(errs, ng, "ingress", sub, true, &out->ingress))
            check_object_name(errs, field, out->ingress);
    }
}

static void parse_canary(struct tg_field_errors *errs, json_object *spec, json_object *canary,
                         struct tg_rollout_spec *out)
{
    const char *path = "spec.strategy.canary";
    json_object *steps = member(canary, "steps");

    out->strategy = TG_STRATEGY_CANARY;
    parse_routing(errs, canary, path, &out->canary.routing);
    json_object *bg = member(canary, "backgroundAnalysis");
    if (bg) {
        out->canary.has_background = true;
        tg_spec_parse_analysis_ref(errs, spec, bg, "spec.strategy.canary.backgroundAnalysis",
                                   &out->analysis, true, &out->canary.background);
    }
    if (!steps) {
        tg_field_errors_add(errs, "spec.strategy.canary.steps", "is required");
        return;
    }
    if (!json_object_is_type(steps, json_type_array)) {
        tg_field_errors_add(errs, "spec.strategy.canary.steps", "must be a list");
        return;
    }
    size_t n = json_object_array_length(steps);
    if (n == 0) {
        tg_field_errors_add(errs, "spec.strategy.canary.steps", "must have at least one step");
        return;
    }
    if (n > 100) {
        tg_field_errors_add(errs, "spec.strategy.canary.steps",
                            "must have at most 100 steps (got %zu)", n);
        return;
    }
    out->canary.steps = calloc(n, sizeof(*out->canary.steps));
    if (!out->canary.steps) {
        errs->nomem = true;
        return;
    }
    out->canary.n_steps = n;
    int last_weight = 0;
    for (size_t i = 0; i < n; i++) {
        char spath[PATH_MAX_LEN];
        path_index(spath, sizeof(spath), "spec.strategy.canary.steps", i);
        parse_step(errs, spec, json_object_array_get_idx(steps, i), spath, out,
                   &out->canary.steps[i], &last_weight);
    }
}

static void parse_blue_green(struct tg_field_errors *errs, json_object *spec, json_object *bg,
                             struct tg_rollout_spec *out)
{
    const char *path = "spec.strategy.blueGreen";
    struct tg_blue_green_strategy *b = &out->blue_green;

    out->strategy = TG_STRATEGY_BLUE_GREEN;
    if (get_string(errs, bg, "activeService", path, false, &b->active_service))
        check_service_name(errs, "spec.strategy.blueGreen.activeService", b->active_service, 63);
    else if (!member(bg, "activeService") && out->service.name)
        b->active_service = dup_or_flag(errs, out->service.name);
    if (get_string(errs, bg, "previewService", path, true, &b->preview_service)) {
        check_service_name(errs, "spec.strategy.blueGreen.previewService", b->preview_service, 63);
        if (b->active_service && strcmp(b->active_service, b->preview_service) == 0)
            tg_field_errors_add(errs, "spec.strategy.blueGreen.previewService",
                                "must differ from the active Service \"%s\"", b->active_service);
    }
    b->auto_promotion_enabled = get_bool(errs, bg, "autoPromotionEnabled", path, true);
    if (member(bg, "autoPromotionSeconds")) {
        size_t before = errs->len + errs->dropped;
        b->auto_promotion_seconds =
            get_int(errs, bg, "autoPromotionSeconds", path, 0, 0, INT32_MAX);
        b->has_auto_promotion_delay = errs->len + errs->dropped == before;
        if (b->has_auto_promotion_delay && !b->auto_promotion_enabled)
            tg_field_errors_add(errs, "spec.strategy.blueGreen.autoPromotionSeconds",
                                "has no effect when autoPromotionEnabled is false; remove one "
                                "of them");
    }
    b->scale_down_delay_seconds =
        get_int(errs, bg, "scaleDownDelaySeconds", path, 30, 0, INT32_MAX);
    json_object *pre = member(bg, "prePromotionAnalysis");
    if (pre) {
        b->has_pre_promotion = true;
        tg_spec_parse_analysis_ref(errs, spec, pre, "spec.strategy.blueGreen.prePromotionAnalysis",
                                   &out->analysis, false, &b->pre_promotion);
    }
    json_object *post = member(bg, "postPromotionAnalysis");
    if (post) {
        b->has_post_promotion = true;
        tg_spec_parse_analysis_ref(errs, spec, post,
                                   "spec.strategy.blueGreen.postPromotionAnalysis", &out->analysis,
                                   false, &b->post_promotion);
    }
}

static void parse_strategy(struct tg_field_errors *errs, json_object *spec,
                           struct tg_rollout_spec *out)
{
    json_object *st = get_object(errs, spec, "strategy", "spec", true);

    if (!st)
        return;
    json_object *canary = get_object(errs, st, "canary", "spec.strategy", false);
    json_object *bg = get_object(errs, st, "blueGreen", "spec.strategy", false);
    if (canary && bg) {
        tg_field_errors_add(errs, "spec.strategy",
                            "canary and blueGreen are mutually exclusive; set exactly one");
        return;
    }
    if (!canary && !bg) {
        if (!member(st, "canary") && !member(st, "blueGreen"))
            tg_field_errors_add(errs, "spec.strategy", "must set one of canary and blueGreen");
        return;
    }
    if (canary)
        parse_canary(errs, spec, canary, out);
    else
        parse_blue_green(errs, spec, bg, out);
}

/* The Deployment and Service names the operator derives must be valid names too. */
static void check_derived_names(struct tg_field_errors *errs, const struct tg_rollout_spec *out)
{
    if (out->name && strlen(out->name) > 63 - 7)
        tg_field_errors_add(errs, "metadata.name",
                            "must be at most 56 characters: the operator names Deployments "
                            "<name>-stable, <name>-canary, <name>-blue and <name>-green");
    if (out->strategy == TG_STRATEGY_CANARY && out->canary.routing.kind != TG_ROUTING_REPLICAS &&
        out->service.name && strlen(out->service.name) > 63 - 7)
        tg_field_errors_add(errs, "spec.service.name",
                            "must be at most 56 characters with gatewayAPI or nginx routing: the "
                            "operator creates <name>-stable and <name>-canary Services");
}

static void check_selector_matches(struct tg_field_errors *errs, const struct tg_rollout_spec *out,
                                   const struct tg_label *labels, size_t n_labels)
{
    for (size_t i = 0; i < out->n_selector; i++) {
        const char *want = out->selector[i].value;
        /* A key or value is NULL when copying it failed (errs->nomem is set): skip it before
         * looking it up, as label_value's strcmp must not see NULL. */
        if (!out->selector[i].key || !want)
            continue;
        const char *have = label_value(labels, n_labels, out->selector[i].key);
        if (!have || strcmp(have, want) != 0) {
            tg_field_errors_add(errs, "spec.selector.matchLabels",
                                "must match the template's labels (%s=%s is not among them)",
                                out->selector[i].key, want);
        }
    }
}

/* Fills out from obj, recording problems in errs. */
static void parse_rollout(json_object *obj, struct tg_rollout_spec *out,
                          struct tg_field_errors *errs)
{
    static const char *const known[] = {"template",
                                        "workloadRef",
                                        "replicas",
                                        "selector",
                                        "service",
                                        "strategy",
                                        "progressDeadlineSeconds",
                                        "revisionHistoryLimit",
                                        "paused",
                                        "analysis"};

    if (!obj || !json_object_is_type(obj, json_type_object)) {
        tg_field_errors_add(errs, "<root>", "must be an object");
        return;
    }
    parse_header(errs, obj, "Rollout", &out->name, &out->namespace, &out->uid, &out->generation);
    if (out->name)
        check_object_name(errs, "metadata.name", out->name);
    json_object *spec = get_object(errs, obj, "spec", "", true);
    if (!spec)
        return;
    check_known_keys(errs, spec, "spec", known, sizeof(known) / sizeof(known[0]));

    json_object *tmpl = get_object(errs, spec, "template", "spec", false);
    json_object *ref = get_object(errs, spec, "workloadRef", "spec", false);
    bool use_template = false;
    struct tg_label *labels = NULL;
    size_t n_labels = 0;
    if (member(spec, "template") && member(spec, "workloadRef")) {
        tg_field_errors_add(errs, "spec",
                            "template and workloadRef are mutually exclusive; set exactly one");
    } else if (!member(spec, "template") && !member(spec, "workloadRef")) {
        tg_field_errors_add(errs, "spec", "must set one of template and workloadRef");
    } else if (tmpl) {
        use_template = true;
        parse_template(errs, tmpl, &labels, &n_labels);
        out->pod_template = json_object_get(tmpl);
    } else if (ref) {
        out->workload_ref = calloc(1, sizeof(*out->workload_ref));
        if (!out->workload_ref)
            errs->nomem = true;
        else
            parse_workload_ref(errs, ref, out->workload_ref);
    }

    out->replicas = get_int(errs, spec, "replicas", "spec", 1, 0, INT32_MAX);
    bool selector_given;
    parse_selector(errs, spec, out, &selector_given);
    if (selector_given && use_template) {
        check_selector_matches(errs, out, labels, n_labels);
    } else if (!selector_given && use_template) {
        if (n_labels == 0) {
            tg_field_errors_add(errs, "spec.template.metadata.labels",
                                "is required when spec.selector is not set (the labels select "
                                "the pods)");
        }
        out->selector = labels;
        out->n_selector = n_labels;
        labels = NULL;
        n_labels = 0;
    }
    free_labels(labels, n_labels);

    parse_service(errs, spec, &out->service);
    tg_spec_parse_analysis_settings(errs, spec, out);
    parse_strategy(errs, spec, out);
    tg_spec_check_analysis_strategy(errs, out);
    out->progress_deadline_seconds =
        get_int(errs, spec, "progressDeadlineSeconds", "spec", 600, 1, INT32_MAX);
    out->revision_history_limit = get_int(errs, spec, "revisionHistoryLimit", "spec", 10, 0, 100);
    out->paused = get_bool(errs, spec, "paused", "spec", false);
    check_derived_names(errs, out);
}

/* Turns the collected problems into the parse result. */
static int finish(struct tg_field_errors *errs, const char *kind)
{
    if (errs->nomem)
        return tg_error_set(TG_ENOMEM, "out of memory parsing a %s", kind);
    if (errs->len > 0)
        return tg_error_set(TG_EINVALID, "invalid %s: %zu problem(s)", kind,
                            errs->len + errs->dropped);
    return 0;
}

int tg_rollout_spec_parse(json_object *obj, struct tg_rollout_spec **out,
                          struct tg_field_errors *errs)
{
    struct tg_rollout_spec *spec = calloc(1, sizeof(*spec));

    *out = NULL;
    if (!spec)
        return tg_error_set(TG_ENOMEM, "out of memory parsing a Rollout");
    parse_rollout(obj, spec, errs);
    int rc = finish(errs, "Rollout");
    if (rc < 0) {
        tg_rollout_spec_free(spec);
        return rc;
    }
    *out = spec;
    return 0;
}

void tg_rollout_spec_free(struct tg_rollout_spec *spec)
{
    if (!spec)
        return;
    free(spec->name);
    free(spec->namespace);
    free(spec->uid);
    json_object_put(spec->pod_template);
    if (spec->workload_ref) {
        free(spec->workload_ref->api_version);
        free(spec->workload_ref->kind);
        free(spec->workload_ref->name);
        free(spec->workload_ref);
    }
    free_labels(spec->selector, spec->n_selector);
    free(spec->service.name);
    free(spec->service.target_port_name);
    for (size_t i = 0; spec->canary.steps && i < spec->canary.n_steps; i++)
        tg_spec_analysis_free(&spec->canary.steps[i].analysis);
    free(spec->canary.steps);
    tg_spec_analysis_free(&spec->canary.background);
    tg_spec_analysis_free(&spec->blue_green.pre_promotion);
    tg_spec_analysis_free(&spec->blue_green.post_promotion);
    tg_spec_analysis_settings_free(&spec->analysis);
    free(spec->canary.routing.http_route);
    free(spec->canary.routing.route_namespace);
    free(spec->canary.routing.ingress);
    free(spec->blue_green.active_service);
    free(spec->blue_green.preview_service);
    free(spec);
}

const struct tg_canary_step *tg_rollout_spec_step(const struct tg_rollout_spec *spec, size_t i)
{
    if (spec->strategy != TG_STRATEGY_CANARY || i >= spec->canary.n_steps)
        return NULL;
    return &spec->canary.steps[i];
}

/* ---- Release ---- */

/* The value of n decimal digits at p (already checked to be digits). */
static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

/*
 * Parses an RFC 3339 date-time ("2026-11-25T10:00:00Z", fractions and offsets allowed) into
 * Unix seconds. Returns false when it is not one.
 */
static bool parse_date_time(const char *s, int64_t *out)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    struct tm tm;

    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        char c = s[i];
        if (shape[i] == 'd' ? !(c >= '0' && c <= '9')
                            : !(c == shape[i] || (shape[i] == 'T' && (c == 't' || c == ' '))))
            return false;
    }
    memset(&tm, 0, sizeof(tm));
    const char *p = s;
    tm.tm_year = digits(p, 4) - 1900;
    tm.tm_mon = digits(p + 5, 2) - 1;
    tm.tm_mday = digits(p + 8, 2);
    tm.tm_hour = digits(p + 11, 2);
    tm.tm_min = digits(p + 14, 2);
    tm.tm_sec = digits(p + 17, 2);
    p += sizeof(shape) - 1;
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '2' && p[2] >= '0' &&
               p[2] <= '9' && p[3] == ':' && p[4] >= '0' && p[4] <= '5' && p[5] >= '0' &&
               p[5] <= '9') {
        int64_t h = (p[1] - '0') * 10 + (p[2] - '0');
        int64_t m = (p[4] - '0') * 10 + (p[5] - '0');
        if (h > 23)
            return false;
        offset = (h * 3600 + m * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    int mday = tm.tm_mday;
    time_t t = timegm(&tm);
    if (tm.tm_mday != mday) /* timegm normalised an impossible date such as February 30 */
        return false;
    *out = (int64_t)t - offset;
    return true;
}

/* spec.artifact.pullSecrets: [{name}], at most 16, each a Secret name. */
static void parse_pull_secrets(struct tg_field_errors *errs, json_object *artifact,
                               struct tg_release_spec *out)
{
    static const char *const known[] = {"name"};
    json_object *list = member(artifact, "pullSecrets");

    if (!list)
        return;
    if (!json_object_is_type(list, json_type_array)) {
        tg_field_errors_add(errs, "spec.artifact.pullSecrets", "must be a list");
        return;
    }
    size_t n = json_object_array_length(list);
    if (n > 16) {
        tg_field_errors_add(errs, "spec.artifact.pullSecrets",
                            "must have at most 16 entries (got %zu)", n);
        return;
    }
    if (n == 0)
        return;
    out->pull_secrets = calloc(n, sizeof(*out->pull_secrets));
    if (!out->pull_secrets) {
        errs->nomem = true;
        return;
    }
    out->n_pull_secrets = n;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        json_object *e = json_object_array_get_idx(list, i);
        path_index(path, sizeof(path), "spec.artifact.pullSecrets", i);
        if (!e || !json_object_is_type(e, json_type_object)) {
            tg_field_errors_add(errs, path, "must be an object");
            continue;
        }
        check_known_keys(errs, e, path, known, sizeof(known) / sizeof(known[0]));
        if (get_string(errs, e, "name", path, true, &out->pull_secrets[i])) {
            char field[PATH_MAX_LEN];
            path_join(field, sizeof(field), path, "name");
            check_object_name(errs, field, out->pull_secrets[i]);
        }
    }
}

static void parse_artifact(struct tg_field_errors *errs, json_object *spec,
                           struct tg_release_spec *out)
{
    const char *path = "spec.artifact";
    json_object *a = get_object(errs, spec, "artifact", "spec", true);

    if (!a)
        return;
    out->allow_tags = get_bool(errs, a, "allowTags", path, false);
    if (get_string(errs, a, "container", path, false, &out->container) &&
        !is_dns_name(out->container, 63, false, false))
        tg_field_errors_add(errs, "spec.artifact.container",
                            "must be a container name: a DNS label (got \"%s\")", out->container);
    parse_pull_secrets(errs, a, out);
    if (!get_string(errs, a, "image", path, true, &out->image))
        return;
    int rc = tg_image_check(out->image, out->allow_tags, &out->digest);
    if (rc == TG_ENOMEM)
        errs->nomem = true;
    else if (rc < 0)
        tg_field_errors_add(errs, "spec.artifact.image", "%s", tg_error_last());
}

static void parse_source(struct tg_field_errors *errs, json_object *spec,
                         struct tg_release_spec *out)
{
    const char *path = "spec.source";
    json_object *src = get_object(errs, spec, "source", "spec", false);
    char *at = NULL;

    if (!src)
        return;
    get_string(errs, src, "repository", path, false, &out->source_repository);
    if (get_string(errs, src, "commit", path, false, &out->source_commit)) {
        size_t n = strlen(out->source_commit);
        if (n < 7 || n > 64 || !is_lower_hex_n(out->source_commit, n))
            tg_field_errors_add(errs, "spec.source.commit",
                                "must be 7 to 64 lowercase hex digits (got \"%s\")",
                                out->source_commit);
    }
    if (get_string(errs, src, "committedAt", path, false, &at)) {
        if (parse_date_time(at, &out->committed_at))
            out->has_committed_at = true;
        else
            tg_field_errors_add(errs, "spec.source.committedAt",
                                "must be an RFC 3339 date-time such as 2026-11-25T10:00:00Z "
                                "(got \"%s\")",
                                at);
    }
    free(at);
}

static void parse_changes(struct tg_field_errors *errs, json_object *spec,
                          struct tg_release_spec *out)
{
    json_object *changes = member(spec, "changes");

    if (!changes)
        return;
    if (!json_object_is_type(changes, json_type_array)) {
        tg_field_errors_add(errs, "spec.changes", "must be a list");
        return;
    }
    size_t n = json_object_array_length(changes);
    if (n > 1000) {
        tg_field_errors_add(errs, "spec.changes", "must have at most 1000 entries (got %zu)", n);
        return;
    }
    if (n == 0)
        return;
    out->changes = calloc(n, sizeof(*out->changes));
    if (!out->changes) {
        errs->nomem = true;
        return;
    }
    out->n_changes = n;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        json_object *c = json_object_array_get_idx(changes, i);
        path_index(path, sizeof(path), "spec.changes", i);
        if (!c || !json_object_is_type(c, json_type_object)) {
            tg_field_errors_add(errs, path, "must be an object");
            continue;
        }
        get_string(errs, c, "id", path, true, &out->changes[i].id);
        get_string(errs, c, "title", path, false, &out->changes[i].title);
        get_string(errs, c, "url", path, false, &out->changes[i].url);
    }
}

/* Adds key: string to obj when s is not NULL; false when out of memory. */
static bool put_string(json_object *obj, const char *key, const char *s)
{
    if (!s)
        return true;
    json_object *v = json_object_new_string(s);
    return v && json_object_object_add(obj, key, v) == 0;
}

/*
 * Hashes the typed view: a JSON document built in a fixed key order from the defaulted
 * fields, then SHA-256. Returns false when out of memory.
 */
static json_object *canonical(json_object *v);

static bool release_hash(struct tg_release_spec *r)
{
    bool ok = false;
    json_object *doc = json_object_new_object();
    json_object *art = json_object_new_object();
    json_object *src = json_object_new_object();
    json_object *chg = json_object_new_array();
    json_object *from = json_object_new_object();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (!doc || !art || !src || !chg || !from)
        goto out_free;
    if (!put_string(doc, "rollout", r->rollout) || !put_string(doc, "version", r->version.text))
        goto out_free;
    if (!put_string(art, "image", r->image) || !put_string(art, "container", r->container) ||
        json_object_object_add(art, "allowTags", json_object_new_boolean(r->allow_tags)) != 0)
        goto out_free;
    if (r->n_pull_secrets) {
        json_object *ps = json_object_new_array();
        if (!ps || json_object_object_add(art, "pullSecrets", ps) != 0) {
            json_object_put(ps);
            goto out_free;
        }
        for (size_t i = 0; i < r->n_pull_secrets; i++) {
            json_object *name = json_object_new_string(r->pull_secrets[i]);
            if (!name || json_object_array_add(ps, name) != 0) {
                json_object_put(name);
                goto out_free;
            }
        }
    }
    json_object_object_add(doc, "artifact", art);
    art = NULL;
    if (!put_string(src, "repository", r->source_repository) ||
        !put_string(src, "commit", r->source_commit))
        goto out_free;
    if (r->has_committed_at &&
        json_object_object_add(src, "committedAt", json_object_new_int64(r->committed_at)) != 0)
        goto out_free;
    json_object_object_add(doc, "source", src);
    src = NULL;
    if (!put_string(doc, "notes", r->notes))
        goto out_free;
    for (size_t i = 0; i < r->n_changes; i++) {
        json_object *c = json_object_new_object();
        if (!c || !put_string(c, "id", r->changes[i].id) ||
            !put_string(c, "title", r->changes[i].title) ||
            !put_string(c, "url", r->changes[i].url) || json_object_array_add(chg, c) != 0) {
            json_object_put(c);
            goto out_free;
        }
    }
    json_object_object_add(doc, "changes", chg);
    chg = NULL;
    if (!put_string(from, "namespace", r->promoted_from_namespace) ||
        !put_string(from, "release", r->promoted_from_release))
        goto out_free;
    json_object_object_add(doc, "promotedFrom", from);
    from = NULL;
    if (r->verify) {
        json_object *v = canonical(r->verify);
        if (!v || json_object_object_add(doc, "verify", v) != 0) {
            json_object_put(v);
            goto out_free;
        }
    }
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
    if (!text || !EVP_Digest(text, strlen(text), md, &md_len, EVP_sha256(), NULL) || md_len != 32)
        goto out_free;
    for (unsigned int i = 0; i < md_len; i++)
        snprintf(r->spec_hash + 2 * i, 3, "%02x", md[i]);
    ok = true;
out_free:
    json_object_put(doc);
    json_object_put(art);
    json_object_put(src);
    json_object_put(chg);
    json_object_put(from);
    return ok;
}

/*
 * spec.verify: a policy as verify/verifier.h describes it, checked by the verification module's
 * own validation; images and namespaces belong to VerificationPolicies only (a Release's policy
 * applies to its own image).
 */
static void parse_verify(struct tg_field_errors *errs, json_object *spec,
                         struct tg_release_spec *out)
{
    json_object *v = get_object(errs, spec, "verify", "spec", false);

    if (!v)
        return;
    if (member(v, "images"))
        tg_field_errors_add(errs, "spec.verify.images",
                            "a Release's policy applies to its own image: images is for "
                            "VerificationPolicies only");
    if (member(v, "namespaces"))
        tg_field_errors_add(errs, "spec.verify.namespaces",
                            "namespaces is for VerificationPolicies only");
    int rc = tg_verify_policy_validate_release(v, "spec.verify");
    if (rc == TG_ENOMEM) {
        errs->nomem = true;
        return;
    }
    if (rc < 0) {
        /* The message is "spec.verify.<field>: <problem>": keep the field as the error's path. */
        const char *m = tg_error_last();
        const char *sep = strstr(m, ": ");
        if (strncmp(m, "spec.verify", 11) == 0 && sep && sep - m < PATH_MAX_LEN) {
            char path[PATH_MAX_LEN];
            snprintf(path, sizeof(path), "%.*s", (int)(sep - m), m);
            tg_field_errors_add(errs, path, "%s", sep + 2);
        } else {
            tg_field_errors_add(errs, "spec.verify", "%s", m);
        }
        return;
    }
    out->verify = json_object_get(v);
}

/*
 * A copy of v with every object's keys sorted, so that a hash over its text does not depend on
 * the order the keys were written in. NULL when out of memory.
 */
static json_object *canonical(json_object *v)
{
    if (json_object_is_type(v, json_type_array)) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < json_object_array_length(v); i++) {
            json_object *c = canonical(json_object_array_get_idx(v, i));
            if (!c || json_object_array_add(a, c) != 0) {
                json_object_put(c);
                json_object_put(a);
                return NULL;
            }
        }
        return a;
    }
    if (!json_object_is_type(v, json_type_object)) {
        json_object *c = NULL;
        return json_object_deep_copy(v, &c, NULL) == 0 ? c : NULL;
    }
    size_t n = (size_t)json_object_object_length(v), k = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    json_object *o = json_object_new_object();
    if (!keys || !o)
        goto fail;
    json_object_object_foreach(v, key, val)
    {
        (void)val;
        keys[k++] = key;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: policies are small */
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        json_object *c = canonical(json_object_object_get(v, keys[i]));
        if (!c || json_object_object_add(o, keys[i], c) != 0) {
            json_object_put(c);
            goto fail;
        }
    }
    free(keys);
    return o;
fail:
    free(keys);
    json_object_put(o);
    return NULL;
}

static void parse_release(json_object *obj, struct tg_release_spec *out,
                          struct tg_field_errors *errs)
{
    static const char *const known[] = {"rollout", "version", "artifact",     "source",
                                        "notes",   "changes", "promotedFrom", "verify"};
    char *version = NULL;

    if (!obj || !json_object_is_type(obj, json_type_object)) {
        tg_field_errors_add(errs, "<root>", "must be an object");
        return;
    }
    parse_header(errs, obj, "Release", &out->name, &out->namespace, &out->uid, &out->generation);
    if (out->name)
        check_object_name(errs, "metadata.name", out->name);
    json_object *spec = get_object(errs, obj, "spec", "", true);
    if (!spec)
        return;
    check_known_keys(errs, spec, "spec", known, sizeof(known) / sizeof(known[0]));
    if (get_string(errs, spec, "rollout", "spec", true, &out->rollout))
        check_object_name(errs, "spec.rollout", out->rollout);
    if (get_string(errs, spec, "version", "spec", true, &version) &&
        tg_version_parse(version, &out->version) < 0)
        tg_field_errors_add(errs, "spec.version", "not a semantic version (%s): \"%s\"",
                            tg_error_last(), version);
    free(version);
    parse_artifact(errs, spec, out);
    parse_source(errs, spec, out);
    get_string(errs, spec, "notes", "spec", false, &out->notes);
    parse_changes(errs, spec, out);
    json_object *from = get_object(errs, spec, "promotedFrom", "spec", false);
    if (from) {
        get_string(errs, from, "namespace", "spec.promotedFrom", true,
                   &out->promoted_from_namespace);
        get_string(errs, from, "release", "spec.promotedFrom", true, &out->promoted_from_release);
    }
    parse_verify(errs, spec, out);
}

int tg_release_spec_parse(json_object *obj, struct tg_release_spec **out,
                          struct tg_field_errors *errs)
{
    struct tg_release_spec *spec = calloc(1, sizeof(*spec));

    *out = NULL;
    if (!spec)
        return tg_error_set(TG_ENOMEM, "out of memory parsing a Release");
    spec->version.build_number = -1;
    parse_release(obj, spec, errs);
    int rc = finish(errs, "Release");
    if (rc == 0 && !release_hash(spec))
        rc = tg_error_set(TG_ENOMEM, "out of memory hashing a Release");
    if (rc < 0) {
        tg_release_spec_free(spec);
        return rc;
    }
    *out = spec;
    return 0;
}

void tg_release_spec_free(struct tg_release_spec *spec)
{
    if (!spec)
        return;
    free(spec->name);
    free(spec->namespace);
    free(spec->uid);
    free(spec->rollout);
    free(spec->image);
    free(spec->digest);
    free(spec->container);
    for (size_t i = 0; i < spec->n_pull_secrets; i++)
        free(spec->pull_secrets[i]);
    free(spec->pull_secrets);
    free(spec->source_repository);
    free(spec->source_commit);
    free(spec->notes);
    for (size_t i = 0; i < spec->n_changes; i++) {
        free(spec->changes[i].id);
        free(spec->changes[i].title);
        free(spec->changes[i].url);
    }
    free(spec->changes);
    free(spec->promoted_from_namespace);
    free(spec->promoted_from_release);
    json_object_put(spec->verify);
    free(spec);
}

/* ---- across objects ---- */

int tg_release_target_container(const struct tg_release_spec *release, json_object *pod_template,
                                size_t *index)
{
    json_object *pod = member(pod_template, "spec");
    json_object *containers = member(pod, "containers");

    if (!containers || !json_object_is_type(containers, json_type_array) ||
        json_object_array_length(containers) == 0)
        return tg_error_set(TG_EINVALID, "the pod template has no containers");
    if (!release->container) {
        *index = 0;
        return 0;
    }
    size_t n = json_object_array_length(containers);
    for (size_t i = 0; i < n; i++) {
        json_object *name = member(json_object_array_get_idx(containers, i), "name");
        if (name && json_object_is_type(name, json_type_string) &&
            strcmp(json_object_get_string(name), release->container) == 0) {
            *index = i;
            return 0;
        }
    }
    return tg_error_set(TG_EINVALID,
                        "spec.artifact.container: no container \"%s\" in the pod template",
                        release->container);
}

const char *tg_intent_pending(json_object *obj, const char *annotation, const char *handled)
{
    json_object *value = member(member(member(obj, "metadata"), "annotations"), annotation);

    if (!value || !json_object_is_type(value, json_type_string))
        return NULL;
    const char *token = json_object_get_string(value);
    if (token[0] == '\0' || (handled && strcmp(token, handled) == 0))
        return NULL;
    return token;
}
