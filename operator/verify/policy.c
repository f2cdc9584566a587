/* Verification policies: validation, compilation, references and globs; see policy.h. */
#include "verify/policy.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"
#include "verify/verifier.h"

/* Caps: a policy is written by people, anything past these is a mistake. */
#define MAX_LIST   256
#define MAX_STRING 65536

/* The parsing context: the compiled policy and the path of the field being read. */
struct pctx {
    struct tg_vpolicy *p;
    char path[512];
};

/* Sets the path to base + "." + field (or base + field when field starts with '['). */
static void path_join(char *out, size_t n, const char *base, const char *field)
{
    if (!base || !*base)
        snprintf(out, n, "%s", field);
    else if (field[0] == '[')
        snprintf(out, n, "%s%s", base, field);
    else
        snprintf(out, n, "%s.%s", base, field);
}

static int bad(const char *path, const char *fmt, const char *detail)
{
    char msg[700];
    snprintf(msg, sizeof(msg), fmt, detail ? detail : "");
    return tg_error_set(TG_EINVALID, "%s: %s", path, msg);
}

/* Refuses members of obj not in allowed (NULL-terminated). */
static int check_keys(json_object *obj, const char *path, const char *const *allowed)
{
    json_object_object_foreach(obj, k, v)
    {
        (void)v;
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || strcmp(*a, k) == 0;
        if (!ok) {
            char p[600];
            path_join(p, sizeof(p), path, k);
            return bad(p, "unknown field%s", "");
        }
    }
    return 0;
}

static int want_object(json_object *o, const char *path)
{
    if (!json_object_is_type(o, json_type_object))
        return bad(path, "must be an object%s", "");
    return 0;
}

/* A non-empty string member (required or not). *out is borrowed from obj, NULL when absent. */
/*
 * Member key of obj: *v borrowed, NULL when absent or null (an error when required); p gets
 * its path for messages.
 */
static int member(json_object *obj, const char *path, const char *key, bool required, char *p,
                  size_t p_size, json_object **v)
{
    path_join(p, p_size, path, key);
    if (!json_object_object_get_ex(obj, key, v) || json_object_is_type(*v, json_type_null)) {
        *v = NULL;
        if (required)
            return bad(p, "required%s", "");
    }
    return 0;
}

static int get_str(json_object *obj, const char *path, const char *key, bool required,
                   const char **out)
{
    json_object *v;
    char p[600];
    int rc;

    *out = NULL;
    if ((rc = member(obj, path, key, required, p, sizeof(p), &v)) < 0 || !v)
        return rc;
    if (!json_object_is_type(v, json_type_string))
        return bad(p, "must be a string%s", "");
    const char *s = json_object_get_string(v);
    if (!*s)
        return bad(p, "must not be empty%s", "");
    if (strlen(s) > MAX_STRING)
        return bad(p, "too long%s", "");
    *out = s;
    return 0;
}

static int dup_str(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return 0;
    *out = strdup(s);
    return *out ? 0 : tg_error_set(TG_ENOMEM, "out of memory");
}

static int get_bool(json_object *obj, const char *path, const char *key, bool def, bool *out)
{
    json_object *v;
    char p[600];

    *out = def;
    (void)member(obj, path, key, false, p, sizeof(p), &v);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return bad(p, "must be true or false%s", "");
    *out = json_object_get_boolean(v);
    return 0;
}

/* An integer member >= min; def when absent. */
static int get_int(json_object *obj, const char *path, const char *key, int def, int min, int *out)
{
    json_object *v;
    char p[600];

    *out = def;
    (void)member(obj, path, key, false, p, sizeof(p), &v);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return bad(p, "must be an integer%s", "");
    int64_t n = json_object_get_int64(v);
    if (n < min || n > 1000000) {
        char d[64];
        snprintf(d, sizeof(d), "%d", min);
        return bad(p, "must be at least %s", d);
    }
    *out = (int)n;
    return 0;
}

/* An array member (absent: *out NULL). */
static int get_array(json_object *obj, const char *path, const char *key, bool required,
                     json_object **out)
{
    json_object *v;
    char p[600];
    int rc;

    *out = NULL;
    if ((rc = member(obj, path, key, required, p, sizeof(p), &v)) < 0 || !v)
        return rc;
    if (!json_object_is_type(v, json_type_array))
        return bad(p, "must be a list%s", "");
    if (json_object_array_length(v) > MAX_LIST)
        return bad(p, "too many entries%s", "");
    if (required && json_object_array_length(v) == 0)
        return bad(p, "must not be empty%s", "");
    *out = v;
    return 0;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* A list of non-empty strings, copied. */
static int get_strv(json_object *obj, const char *path, const char *key, char ***out, size_t *n)
{
    json_object *arr;
    char p[600];
    int rc = get_array(obj, path, key, false, &arr);

    *out = NULL;
    *n = 0;
    if (rc || !arr)
        return rc;
    path_join(p, sizeof(p), path, key);
    size_t len = json_object_array_length(arr);
    char **v = calloc(len ? len : 1, sizeof(*v));
    if (!v)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        char ep[640];
        snprintf(ep, sizeof(ep), "%s[%zu]", p, i);
        if (!json_object_is_type(e, json_type_string) || !*json_object_get_string(e)) {
            free_strv(v, i);
            return bad(ep, "must be a non-empty string%s", "");
        }
        v[i] = strdup(json_object_get_string(e));
        if (!v[i]) {
            free_strv(v, i);
            return tg_error_set(TG_ENOMEM, "out of memory");
        }
    }
    *out = v;
    *n = len;
    return 0;
}

/* Checks that re compiles as a POSIX extended regexp, anchored as keyless.c anchors it. */
static int check_regexp(const char *path, const char *re)
{
    regex_t r;
    size_t n = strlen(re) + 8;
    char *anchored = malloc(n);
    if (!anchored)
        return tg_error_set(TG_ENOMEM, "out of memory");
    snprintf(anchored, n, "^(%s)$", re);
    int rc = regcomp(&r, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (rc != 0)
        return bad(path, "not a valid POSIX extended regular expression: %s", re);
    regfree(&r);
    return 0;
}

int tg_vp_parse_duration(const char *s, int64_t *seconds)
{
    int64_t total = 0;
    const char *p = s;

    if (!s || !*s)
        return tg_error_set(TG_EINVALID, "empty duration");
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return tg_error_set(TG_EINVALID, "\"%s\" is not a duration like 168h, 7d or 30m", s);
        char *end;
        long long n = strtoll(p, &end, 10);
        int64_t unit;
        switch (*end) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            return tg_error_set(TG_EINVALID, "\"%s\" is not a duration like 168h, 7d or 30m", s);
        }
        if (n < 0 || n > 100000000LL || total > INT64_MAX / 2)
            return tg_error_set(TG_EINVALID, "duration \"%s\" is too long", s);
        total += (int64_t)n * unit;
        p = end + 1;
    }
    if (total <= 0 || total > 100LL * 365 * 86400)
        return tg_error_set(TG_EINVALID, "duration \"%s\" must be between 1s and 100 years", s);
    *seconds = total;
    return 0;
}

/* Reads exactly n digits. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int tg_vp_parse_date(const char *s, int64_t *unix_s)
{
    int y, mo, d, h = 0, mi = 0, se = 0, off = 0;
    const char *p = s;

    if (!s || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' ||
        !digits(p + 8, 2, &d))
        goto bad_date;
    p += 10;
    if (*p) {
        if ((*p != 'T' && *p != 't') || !digits(p + 1, 2, &h) || p[3] != ':' ||
            !digits(p + 4, 2, &mi) || p[6] != ':' || !digits(p + 7, 2, &se))
            goto bad_date;
        p += 9;
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                goto bad_date;
            while (isdigit((unsigned char)*p))
                p++;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 ||
                om > 59)
                goto bad_date;
            off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
            p += 6;
        } else {
            goto bad_date;
        }
        if (*p)
            goto bad_date;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
        goto bad_date;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        goto bad_date;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se > 59 ? 59 : se};
    *unix_s = (int64_t)timegm(&tm) - off;
    return 0;
bad_date:
    return tg_error_set(TG_EINVALID,
                        "\"%s\" is not a date (RFC 3339 like 2026-03-01T00:00:00Z, or 2026-03-01)",
                        s ? s : "");
}

bool tg_vp_glob_match(const char *g, const char *s)
{
    while (*g) {
        if (g[0] == '*' && g[1] == '*') {
            g += 2;
            while (*g == '*')
                g++;
            for (const char *t = s;; t++) {
                if (tg_vp_glob_match(g, t))
                    return true;
                if (!*t)
                    return false;
            }
        }
        if (*g == '*') {
            g++;
            for (const char *t = s;; t++) {
                if (tg_vp_glob_match(g, t))
                    return true;
                if (!*t || *t == '/')
                    return false;
            }
        }
        if (!*s)
            return false;
        if (*g == '?') {
            if (*s == '/')
                return false;
        } else if (*g != *s) {
            return false;
        }
        g++;
        s++;
    }
    return *s == '\0';
}

/* --- compiling ------------------------------------------------------------------------------ */

static void ref_clear(struct tg_vp_ref *r)
{
    free(r->data);
    free(r->name);
    free(r->namespace);
    free(r->key);
    memset(r, 0, sizeof(*r));
}

static void auths_clear(struct tg_vp_auths *a)
{
    free(a->idx);
    a->idx = NULL;
    a->n = 0;
}

void tg_vpolicy_free(struct tg_vpolicy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_authorities; i++) {
        struct tg_vp_authority *a = &p->authorities[i];
        free(a->name);
        ref_clear(&a->key);
        ref_clear(&a->root);
        for (size_t j = 0; j < a->n_rules; j++) {
            free((char *)a->rules[j].issuer);
            free((char *)a->rules[j].issuer_regexp);
            free((char *)a->rules[j].subject);
            free((char *)a->rules[j].subject_regexp);
        }
        free(a->rules);
    }
    free(p->authorities);
    auths_clear(&p->sig_auths);
    auths_clear(&p->prov_auths);
    for (size_t i = 0; i < p->n_builders; i++) {
        free(p->builders[i].id);
        auths_clear(&p->builders[i].auths);
    }
    free(p->builders);
    free_strv(p->build_types, p->n_build_types);
    free(p->source_repository);
    free_strv(p->source_refs, p->n_source_refs);
    auths_clear(&p->sbom_auths);
    auths_clear(&p->vuln_auths);
    free_strv(p->scanners, p->vuln.n_scanners);
    for (size_t i = 0; i < p->vuln.n_allowlist; i++) {
        free((char *)p->allowlist[i].id);
        free((char *)p->allowlist[i].package);
        free((char *)p->allowlist[i].reason);
    }
    free(p->allowlist);
    auths_clear(&p->vex_auths);
    for (size_t i = 0; i < p->n_attestations; i++) {
        free(p->attestations[i].predicate_type);
        auths_clear(&p->attestations[i].auths);
    }
    free(p->attestations);
    free(p);
}

/* A {data} | {secretRef} | {configMapRef} source; extra lists further allowed keys of obj. */
static int parse_ref(json_object *obj, const char *path, const char *const *allowed,
                     struct tg_vp_ref *out)
{
    static const char *const ref_keys[] = {"name", "namespace", "key", NULL};
    const char *names[] = {"data", "secretRef", "configMapRef"};
    int found = -1, rc;
    json_object *v;

    if ((rc = want_object(obj, path)) || (rc = check_keys(obj, path, allowed)))
        return rc;
    for (int i = 0; i < 3; i++) {
        if (json_object_object_get_ex(obj, names[i], &v) &&
            !json_object_is_type(v, json_type_null)) {
            if (found >= 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "%s and %s", names[found], names[i]);
                return bad(path, "give exactly one of data, secretRef, configMapRef, not %s", msg);
            }
            found = i;
        }
    }
    if (found < 0)
        return bad(path, "give exactly one of data, secretRef, configMapRef%s", "");
    if (found == 0) {
        const char *d;
        if ((rc = get_str(obj, path, "data", true, &d)))
            return rc;
        out->source = TG_VP_DATA;
        return dup_str(d, &out->data);
    }
    char p[600];
    const char *name, *ns, *key;
    json_object_object_get_ex(obj, names[found], &v);
    path_join(p, sizeof(p), path, names[found]);
    if ((rc = want_object(v, p)) || (rc = check_keys(v, p, ref_keys)) ||
        (rc = get_str(v, p, "name", true, &name)) ||
        (rc = get_str(v, p, "namespace", false, &ns)) || (rc = get_str(v, p, "key", true, &key)))
        return rc;
    out->source = found == 1 ? TG_VP_SECRET : TG_VP_CONFIGMAP;
    if ((rc = dup_str(name, &out->name)) || (rc = dup_str(ns, &out->namespace)) ||
        (rc = dup_str(key, &out->key)))
        return rc;
    return 0;
}

static int parse_identity(json_object *obj, const char *path, struct tg_identity_rule *r)
{
    static const char *const keys[] = {"issuer", "issuerRegExp", "subject", "subjectRegExp", NULL};
    const char *iss, *iss_re, *sub, *sub_re;
    int rc;

    if ((rc = want_object(obj, path)) || (rc = check_keys(obj, path, keys)) ||
        (rc = get_str(obj, path, "issuer", false, &iss)) ||
        (rc = get_str(obj, path, "issuerRegExp", false, &iss_re)) ||
        (rc = get_str(obj, path, "subject", false, &sub)) ||
        (rc = get_str(obj, path, "subjectRegExp", false, &sub_re)))
        return rc;
    if (!iss == !iss_re)
        return bad(path, "give exactly one of issuer, issuerRegExp%s", "");
    if (!sub == !sub_re)
        return bad(path, "give exactly one of subject, subjectRegExp%s", "");
    char p[600];
    if (iss_re) {
        path_join(p, sizeof(p), path, "issuerRegExp");
        if ((rc = check_regexp(p, iss_re)))
            return rc;
    }
    if (sub_re) {
        path_join(p, sizeof(p), path, "subjectRegExp");
        if ((rc = check_regexp(p, sub_re)))
            return rc;
    }
    char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    if ((rc = dup_str(iss, &a)) || (rc = dup_str(iss_re, &b)) || (rc = dup_str(sub, &c)) ||
        (rc = dup_str(sub_re, &d))) {
        free(a);
        free(b);
        free(c);
        return rc;
    }
    r->issuer = a;
    r->issuer_regexp = b;
    r->subject = c;
    r->subject_regexp = d;
    return 0;
}

static int parse_authority(json_object *obj, const char *path, struct tg_vp_authority *a)
{
    static const char *const keys[] = {"name", "key", "keyless", "tlog", NULL};
    static const char *const key_keys[] = {"data", "secretRef", "configMapRef", "trustedRoot",
                                           NULL};
    static const char *const kl_keys[] = {"trustedRoot", "identities", "insecureIgnoreSCT", NULL};
    static const char *const root_keys[] = {"data", "secretRef", "configMapRef", NULL};
    const char *name, *tlog;
    json_object *key = NULL, *kl = NULL, *root = NULL;
    char p[600], rp[640];
    int rc;

    if ((rc = want_object(obj, path)) || (rc = check_keys(obj, path, keys)) ||
        (rc = get_str(obj, path, "name", true, &name)) ||
        (rc = get_str(obj, path, "tlog", false, &tlog)))
        return rc;
    if ((rc = dup_str(name, &a->name)))
        return rc;
    if (tlog && strcmp(tlog, "required") != 0 && strcmp(tlog, "ignore") != 0) {
        path_join(p, sizeof(p), path, "tlog");
        return bad(p, "must be required or ignore, not \"%s\"", tlog);
    }
    a->tlog_required = !tlog || strcmp(tlog, "required") == 0;
    json_object_object_get_ex(obj, "key", &key);
    json_object_object_get_ex(obj, "keyless", &kl);
    if (json_object_is_type(key, json_type_null))
        key = NULL;
    if (json_object_is_type(kl, json_type_null))
        kl = NULL;
    if (!key == !kl)
        return bad(path, "give exactly one of key, keyless%s", "");
    if (key) {
        path_join(p, sizeof(p), path, "key");
        if ((rc = parse_ref(key, p, key_keys, &a->key)))
            return rc;
        if (json_object_object_get_ex(key, "trustedRoot", &root)) {
            path_join(rp, sizeof(rp), p, "trustedRoot");
            if ((rc = parse_ref(root, rp, root_keys, &a->root)))
                return rc;
            a->has_root = true;
        } else if (a->tlog_required) {
            path_join(rp, sizeof(rp), path, "tlog");
            return bad(rp,
                       "required needs key.trustedRoot (the Rekor keys to verify the "
                       "transparency log entry); set tlog: ignore for a key without one%s",
                       "");
        }
        return 0;
    }
    a->keyless = true;
    a->has_root = true;
    path_join(p, sizeof(p), path, "keyless");
    if ((rc = want_object(kl, p)) || (rc = check_keys(kl, p, kl_keys)) ||
        (rc = get_bool(kl, p, "insecureIgnoreSCT", false, &a->ignore_sct)))
        return rc;
    path_join(rp, sizeof(rp), p, "trustedRoot");
    if (!json_object_object_get_ex(kl, "trustedRoot", &root))
        return bad(rp, "required%s", "");
    if ((rc = parse_ref(root, rp, root_keys, &a->root)))
        return rc;
    json_object *ids;
    if ((rc = get_array(kl, p, "identities", true, &ids)))
        return rc;
    size_t n = json_object_array_length(ids);
    a->rules = calloc(n, sizeof(*a->rules));
    if (!a->rules)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        snprintf(rp, sizeof(rp), "%s.identities[%zu]", p, i);
        if ((rc = parse_identity(json_object_array_get_idx(ids, i), rp, &a->rules[i])))
            return rc;
        a->n_rules++;
    }
    return 0;
}

static int find_authority(const struct tg_vpolicy *p, const char *name)
{
    for (size_t i = 0; i < p->n_authorities; i++) {
        if (strcmp(p->authorities[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* A gate's "authorities: [names]"; absent: every authority of the policy. */
static int parse_auths(const struct tg_vpolicy *p, json_object *obj, const char *path,
                       const char *key, bool required, struct tg_vp_auths *out)
{
    json_object *arr;
    char ap[600];
    int rc = get_array(obj, path, key, required, &arr);

    if (rc)
        return rc;
    path_join(ap, sizeof(ap), path, key);
    size_t n = arr ? json_object_array_length(arr) : p->n_authorities;
    if (arr && n == 0)
        return bad(ap, "must not be empty (leave it out to accept every authority)%s", "");
    if (arr && p->borrowing)
        return bad(ap,
                   "names an authority, but the policy borrows the VerificationPolicies' "
                   "authorities (it defines none)%s",
                   "");
    if (n == 0 && p->borrowing)
        return 0;
    if (n == 0)
        return bad(path, "needs an authority: spec.authorities is empty%s", "");
    out->idx = calloc(n, sizeof(*out->idx));
    if (!out->idx)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!arr) {
            out->idx[out->n++] = i;
            continue;
        }
        json_object *e = json_object_array_get_idx(arr, i);
        char ep[640];
        snprintf(ep, sizeof(ep), "%s[%zu]", ap, i);
        if (!json_object_is_type(e, json_type_string))
            return bad(ep, "must be an authority's name%s", "");
        int k = find_authority(p, json_object_get_string(e));
        if (k < 0)
            return bad(ep, "no authority named \"%s\" in spec.authorities",
                       json_object_get_string(e));
        bool dup = false;
        for (size_t j = 0; j < out->n; j++)
            dup = dup || out->idx[j] == (size_t)k;
        if (!dup)
            out->idx[out->n++] = (size_t)k;
    }
    return 0;
}

static int parse_signature(struct tg_vpolicy *p, json_object *o, const char *path)
{
    static const char *const keys[] = {"authorities", "threshold", NULL};
    int rc;

    if ((rc = want_object(o, path)) || (rc = check_keys(o, path, keys)) ||
        (rc = parse_auths(p, o, path, "authorities", false, &p->sig_auths)) ||
        (rc = get_int(o, path, "threshold", 1, 1, &p->threshold)))
        return rc;
    if ((size_t)p->threshold > p->sig_auths.n) {
        char tp[600], d[64];
        path_join(tp, sizeof(tp), path, "threshold");
        snprintf(d, sizeof(d), "%d exceeds the %zu authorities it counts", p->threshold,
                 p->sig_auths.n);
        return bad(tp, "%s", d);
    }
    p->has_signature = true;
    return 0;
}

static int parse_provenance(struct tg_vpolicy *p, json_object *o, const char *path)
{
    static const char *const keys[] = {
        "authorities", "builders",    "buildTypes", "sourceRepository",
        "sourceRefs",  "matchCommit", NULL};
    static const char *const bkeys[] = {"id", "authorities", NULL};
    json_object *arr;
    const char *repo;
    char bp[600], ep[640];
    int rc;

    if ((rc = want_object(o, path)) || (rc = check_keys(o, path, keys)) ||
        (rc = parse_auths(p, o, path, "authorities", false, &p->prov_auths)) ||
        (rc = get_strv(o, path, "buildTypes", &p->build_types, &p->n_build_types)) ||
        (rc = get_str(o, path, "sourceRepository", false, &repo)) ||
        (rc = dup_str(repo, &p->source_repository)) ||
        (rc = get_strv(o, path, "sourceRefs", &p->source_refs, &p->n_source_refs)) ||
        (rc = get_bool(o, path, "matchCommit", true, &p->match_commit)) ||
        (rc = get_array(o, path, "builders", false, &arr)))
        return rc;
    p->has_provenance = true;
    if (!arr)
        return 0;
    path_join(bp, sizeof(bp), path, "builders");
    size_t n = json_object_array_length(arr);
    if (n == 0)
        return bad(bp, "must not be empty (leave it out to accept any builder)%s", "");
    p->builders = calloc(n, sizeof(*p->builders));
    if (!p->builders)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(arr, i);
        const char *id;
        struct tg_vp_builder *pb = &p->builders[p->n_builders++];
        snprintf(ep, sizeof(ep), "%s[%zu]", bp, i);
        if ((rc = want_object(b, ep)) || (rc = check_keys(b, ep, bkeys)) ||
            (rc = get_str(b, ep, "id", true, &id)) || (rc = dup_str(id, &pb->id)))
            return rc;
        json_object *ba = NULL;
        if (json_object_object_get_ex(b, "authorities", &ba)) {
            if ((rc = parse_auths(p, b, ep, "authorities", false, &pb->auths)))
                return rc;
            for (size_t j = 0; j < pb->auths.n; j++) {
                bool in = false;
                for (size_t k = 0; k < p->prov_auths.n; k++)
                    in = in || p->prov_auths.idx[k] == pb->auths.idx[j];
                if (!in) {
                    char ap[700];
                    snprintf(ap, sizeof(ap), "%s.authorities[%zu]", ep, j);
                    return bad(ap, "authority \"%s\" is not among provenance.authorities",
                               p->authorities[pb->auths.idx[j]].name);
                }
            }
        } else {
            pb->auths.idx = calloc(p->prov_auths.n, sizeof(size_t));
            if (!pb->auths.idx)
                return tg_error_set(TG_ENOMEM, "out of memory");
            memcpy(pb->auths.idx, p->prov_auths.idx, p->prov_auths.n * sizeof(size_t));
            pb->auths.n = p->prov_auths.n;
        }
    }
    return 0;
}

static int parse_sbom(struct tg_vpolicy *p, json_object *o, const char *path)
{
    static const char *const keys[] = {"authorities", "formats", NULL};
    char **formats = NULL;
    size_t n = 0;
    int rc;

    if ((rc = want_object(o, path)) || (rc = check_keys(o, path, keys)) ||
        (rc = parse_auths(p, o, path, "authorities", false, &p->sbom_auths)) ||
        (rc = get_strv(o, path, "formats", &formats, &n)))
        return rc;
    p->has_sbom = true;
    p->sbom_cyclonedx = p->sbom_spdx = n == 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(formats[i], "cyclonedx") == 0) {
            p->sbom_cyclonedx = true;
        } else if (strcmp(formats[i], "spdx") == 0) {
            p->sbom_spdx = true;
        } else {
            char fp[640];
            snprintf(fp, sizeof(fp), "%s.formats[%zu]", path, i);
            rc = bad(fp, "must be cyclonedx or spdx, not \"%s\"", formats[i]);
            break;
        }
    }
    free_strv(formats, n);
    return rc;
}

static int parse_severity(const char *s, enum tg_severity *out)
{
    static const char *const names[] = {"low", "medium", "high", "critical"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum tg_severity)(TG_SEV_LOW + i);
            return 0;
        }
    }
    return TG_EINVALID;
}

static int parse_allow_entry(json_object *o, const char *path, struct tg_allow_entry *e)
{
    static const char *const keys[] = {"id", "package", "expires", "reason", NULL};
    const char *id, *pkg, *exp, *reason;
    char ep[640];
    int rc;

    if ((rc = want_object(o, path)) || (rc = check_keys(o, path, keys)) ||
        (rc = get_str(o, path, "id", true, &id)) ||
        (rc = get_str(o, path, "package", false, &pkg)) ||
        (rc = get_str(o, path, "expires", true, &exp)) ||
        (rc = get_str(o, path, "reason", true, &reason)))
        return rc;
    if (tg_vp_parse_date(exp, &e->expires) < 0) {
        path_join(ep, sizeof(ep), path, "expires");
        return bad(ep, "%s", tg_error_last());
    }
    char *a = NULL, *b = NULL, *c = NULL;
    if ((rc = dup_str(id, &a)) || (rc = dup_str(pkg, &b)) || (rc = dup_str(reason, &c))) {
        free(a);
        free(b);
        return rc;
    }
    e->id = a;
    e->package = b;
    e->reason = c;
    return 0;
}

static int parse_vulnerabilities(struct tg_vpolicy *p, json_object *o, const char *path)
{
    static const char *const keys[] = {
        "authorities",     "maxCritical", "maxHigh",  "maxMedium", "maxLow", "ignoreUnfixed",
        "unknownSeverity", "maxScanAge",  "scanners", "allowlist", "vex",    NULL};
    static const char *const vex_keys[] = {"authorities", NULL};
    struct tg_vuln_policy *v = &p->vuln;
    const char *unk, *age;
    json_object *arr, *vex;
    char fp[640];
    int rc;

    if ((rc = want_object(o, path)) || (rc = check_keys(o, path, keys)) ||
        (rc = parse_auths(p, o, path, "authorities", false, &p->vuln_auths)) ||
        (rc = get_int(o, path, "maxCritical", 0, 0, &v->max_critical)) ||
        (rc = get_int(o, path, "maxHigh", -1, 0, &v->max_high)) ||
        (rc = get_int(o, path, "maxMedium", -1, 0, &v->max_medium)) ||
        (rc = get_int(o, path, "maxLow", -1, 0, &v->max_low)) ||
        (rc = get_bool(o, path, "ignoreUnfixed", false, &v->ignore_unfixed)) ||
        (rc = get_str(o, path, "unknownSeverity", false, &unk)) ||
        (rc = get_str(o, path, "maxScanAge", false, &age)) ||
        (rc = get_strv(o, path, "scanners", &p->scanners, &v->n_scanners)) ||
        (rc = get_array(o, path, "allowlist", false, &arr)))
        return rc;
    p->has_vulnerabilities = true;
    v->scanners = (const char *const *)p->scanners;
    v->unknown_as = TG_SEV_HIGH;
    if (unk && parse_severity(unk, &v->unknown_as) < 0) {
        path_join(fp, sizeof(fp), path, "unknownSeverity");
        return bad(fp, "must be low, medium, high or critical, not \"%s\"", unk);
    }
    if (age && tg_vp_parse_duration(age, &v->max_scan_age_s) < 0) {
        path_join(fp, sizeof(fp), path, "maxScanAge");
        return bad(fp, "%s", tg_error_last());
    }
    if (arr) {
        size_t n = json_object_array_length(arr);
        p->allowlist = calloc(n ? n : 1, sizeof(*p->allowlist));
        if (!p->allowlist)
            return tg_error_set(TG_ENOMEM, "out of memory");
        v->allowlist = p->allowlist;
        for (size_t i = 0; i < n; i++) {
            snprintf(fp, sizeof(fp), "%s.allowlist[%zu]", path, i);
            if ((rc = parse_allow_entry(json_object_array_get_idx(arr, i), fp, &p->allowlist[i])))
                return rc;
            v->n_allowlist++;
        }
    }
    if (json_object_object_get_ex(o, "vex", &vex)) {
        path_join(fp, sizeof(fp), path, "vex");
        if ((rc = want_object(vex, fp)) || (rc = check_keys(vex, fp, vex_keys)) ||
            (rc = parse_auths(p, vex, fp, "authorities", true, &p->vex_auths)))
            return rc;
        p->has_vex = true;
    }
    return 0;
}

/* attestations: [{predicateType, authorities?}], at least one. */
static int parse_attestations(struct tg_vpolicy *p, json_object *o, const char *path)
{
    static const char *const keys[] = {"predicateType", "authorities", NULL};
    char ep[640];
    int rc;

    if (!json_object_is_type(o, json_type_array))
        return bad(path, "must be a list%s", "");
    size_t n = json_object_array_length(o);
    if (n == 0 || n > MAX_LIST)
        return bad(path, "must have 1 to 256 entries (leave it out to require none)%s", "");
    p->attestations = calloc(n, sizeof(*p->attestations));
    if (!p->attestations)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(o, i);
        struct tg_vp_attestation *a = &p->attestations[p->n_attestations++];
        const char *type;
        snprintf(ep, sizeof(ep), "%s[%zu]", path, i);
        if ((rc = want_object(e, ep)) || (rc = check_keys(e, ep, keys)) ||
            (rc = get_str(e, ep, "predicateType", true, &type)) ||
            (rc = dup_str(type, &a->predicate_type)) ||
            (rc = parse_auths(p, e, ep, "authorities", false, &a->auths)))
            return rc;
    }
    return 0;
}

/* "images" and "namespaces": lists of globs, checked only. */
static int check_globs(json_object *spec, const char *path, const char *key)
{
    char **v = NULL;
    size_t n = 0;
    int rc = get_strv(spec, path, key, &v, &n);

    free_strv(v, n);
    return rc;
}

int tg_vpolicy_parse(json_object *spec, const char *prefix, struct tg_vpolicy **out)
{
    return tg_vpolicy_parse_ex(spec, prefix, false, out);
}

int tg_vpolicy_parse_ex(json_object *spec, const char *prefix, bool may_borrow,
                        struct tg_vpolicy **out)
{
    static const char *const keys[] = {"images",       "namespaces", "mode", "authorities",
                                       "signature",    "provenance", "sbom", "vulnerabilities",
                                       "attestations", NULL};
    const char *path = prefix ? prefix : "";
    const char *mode;
    json_object *arr, *sec;
    char fp[600], ep[640];
    int rc;

    *out = NULL;
    if ((rc = want_object(spec, *path ? path : "policy")) || (rc = check_keys(spec, path, keys)))
        return rc;
    struct tg_vpolicy *p = calloc(1, sizeof(*p));
    if (!p)
        return tg_error_set(TG_ENOMEM, "out of memory");
    if ((rc = check_globs(spec, path, "images")) || (rc = check_globs(spec, path, "namespaces")) ||
        (rc = get_str(spec, path, "mode", false, &mode)))
        goto fail;
    if (mode && strcmp(mode, "enforce") != 0 && strcmp(mode, "warn") != 0) {
        path_join(fp, sizeof(fp), path, "mode");
        rc = bad(fp, "must be enforce or warn, not \"%s\"", mode);
        goto fail;
    }
    p->warn = mode && strcmp(mode, "warn") == 0;
    if ((rc = get_array(spec, path, "authorities", false, &arr)))
        goto fail;
    p->borrowing = may_borrow && !arr;
    size_t n = arr ? json_object_array_length(arr) : 0;
    if (n) {
        p->authorities = calloc(n, sizeof(*p->authorities));
        if (!p->authorities) {
            rc = tg_error_set(TG_ENOMEM, "out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < n; i++) {
        path_join(fp, sizeof(fp), path, "authorities");
        snprintf(ep, sizeof(ep), "%s[%zu]", fp, i);
        rc = parse_authority(json_object_array_get_idx(arr, i), ep, &p->authorities[i]);
        p->n_authorities++;
        if (rc)
            goto fail;
        if (find_authority(p, p->authorities[i].name) != (int)i) {
            rc = bad(ep, "another authority is already named \"%s\"", p->authorities[i].name);
            goto fail;
        }
    }
    static const char *const gates[] = {"signature", "provenance", "sbom", "vulnerabilities",
                                        "attestations"};
    static int (*const parsers[])(struct tg_vpolicy *, json_object *, const char *) = {
        parse_signature, parse_provenance, parse_sbom, parse_vulnerabilities, parse_attestations};
    bool any = false;
    for (int g = 0; g < 5; g++) {
        if (!json_object_object_get_ex(spec, gates[g], &sec) ||
            json_object_is_type(sec, json_type_null))
            continue;
        path_join(fp, sizeof(fp), path, gates[g]);
        if ((rc = parsers[g](p, sec, fp)))
            goto fail;
        any = true;
    }
    if (!any) {
        rc = bad(*path ? path : "policy",
                 "asks for nothing: give at least one of signature, provenance, sbom, "
                 "vulnerabilities, attestations%s",
                 "");
        goto fail;
    }
    *out = p;
    return 0;
fail:
    tg_vpolicy_free(p);
    return rc;
}

/* --- verifier.h's policy functions ---------------------------------------------------------- */

int tg_verify_policy_validate(json_object *spec, const char *prefix)
{
    struct tg_vpolicy *p;
    int rc = tg_vpolicy_parse(spec, prefix, &p);

    tg_vpolicy_free(p);
    return rc;
}

int tg_verify_policy_validate_release(json_object *spec, const char *prefix)
{
    struct tg_vpolicy *p;
    int rc = tg_vpolicy_parse_ex(spec, prefix, true, &p);

    tg_vpolicy_free(p);
    return rc;
}

/* Appends {"kind","namespace","name","key"} for ref unless already there. */
static int add_ref(json_object *arr, const struct tg_vp_ref *r, const char *def_ns)
{
    if (r->source == TG_VP_DATA)
        return 0;
    const char *kind = r->source == TG_VP_SECRET ? "Secret" : "ConfigMap";
    const char *ns = r->namespace ? r->namespace : (def_ns ? def_ns : "default");
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i), *k, *n, *m, *y;
        json_object_object_get_ex(e, "kind", &k);
        json_object_object_get_ex(e, "namespace", &n);
        json_object_object_get_ex(e, "name", &m);
        json_object_object_get_ex(e, "key", &y);
        if (strcmp(json_object_get_string(k), kind) == 0 &&
            strcmp(json_object_get_string(n), ns) == 0 &&
            strcmp(json_object_get_string(m), r->name) == 0 &&
            strcmp(json_object_get_string(y), r->key) == 0)
            return 0;
    }
    json_object *e = json_object_new_object();
    if (!e || json_object_object_add(e, "kind", json_object_new_string(kind)) ||
        json_object_object_add(e, "namespace", json_object_new_string(ns)) ||
        json_object_object_add(e, "name", json_object_new_string(r->name)) ||
        json_object_object_add(e, "key", json_object_new_string(r->key)) ||
        json_object_array_add(arr, e)) {
        json_object_put(e);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    return 0;
}

int tg_verify_policy_refs(json_object *spec, const char *default_namespace, json_object **out)
{
    struct tg_vpolicy *p;
    int rc;

    *out = json_object_new_array();
    if (!*out)
        return tg_error_set(TG_ENOMEM, "out of memory");
    /* An invalid policy references nothing we could use; its validation reports it. */
    rc = tg_vpolicy_parse(spec, "spec", &p);
    if (rc == TG_ENOMEM) {
        json_object_put(*out);
        *out = NULL;
        return rc;
    }
    if (rc < 0)
        return 0;
    for (size_t i = 0; i < p->n_authorities; i++) {
        const struct tg_vp_authority *a = &p->authorities[i];
        if ((!a->keyless && (rc = add_ref(*out, &a->key, default_namespace))) ||
            (a->has_root && (rc = add_ref(*out, &a->root, default_namespace)))) {
            tg_vpolicy_free(p);
            json_object_put(*out);
            *out = NULL;
            return rc;
        }
    }
    tg_vpolicy_free(p);
    return 0;
}

/* The image without its digest and tag: "registry:5000/shop/web". */
static void image_name(const char *image, char *out, size_t n)
{
    snprintf(out, n, "%s", image);
    char *at = strchr(out, '@');
    if (at)
        *at = '\0';
    char *slash = strrchr(out, '/');
    char *colon = strrchr(slash ? slash : out, ':');
    if (colon)
        *colon = '\0';
}

static bool any_glob(json_object *arr, const char *s, const char *alt)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *g = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(g, json_type_string))
            continue;
        if (tg_vp_glob_match(json_object_get_string(g), s) ||
            (alt && tg_vp_glob_match(json_object_get_string(g), alt)))
            return true;
    }
    return false;
}

bool tg_verify_policy_matches(json_object *spec, const char *image, const char *namespace)
{
    json_object *images, *nss;
    char name[1024];

    if (!image || !json_object_object_get_ex(spec, "images", &images) ||
        !json_object_is_type(images, json_type_array))
        return false;
    image_name(image, name, sizeof(name));
    if (!any_glob(images, image, name))
        return false;
    if (!namespace || !json_object_object_get_ex(spec, "namespaces", &nss) ||
        !json_object_is_type(nss, json_type_array))
        return true;
    return any_glob(nss, namespace, NULL);
}
