/*
 * Predicate type classes, SLSA provenance and SBOM checks; see predicates.h. The vulnerability
 * reports and their ceiling live in predicates_vuln.c.
 */
#include "verify/predicates.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

/* The deepest CycloneDX component nesting we walk; deeper is refused, not truncated. */
#define SBOM_MAX_DEPTH 64

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* True when s is prefix followed by one or more decimal digits, then the end. */
static bool prefix_digits(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);

    if (strncmp(s, prefix, n) != 0 || !s[n])
        return false;
    for (s += n; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static const char *const provenance_types[] = {
    "https://slsa.dev/provenance/v0.2",
    "https://slsa.dev/provenance/v1",
};

bool tg_pred_is_provenance(const char *t)
{
    return t && in_list(t, provenance_types, 2);
}

/* CycloneDX: https://cyclonedx.org/bom and https://cyclonedx.org/bom/v1.<n>. */
static bool is_cyclonedx(const char *t)
{
    return t && (strcmp(t, "https://cyclonedx.org/bom") == 0 ||
                 prefix_digits(t, "https://cyclonedx.org/bom/v1."));
}

/* SPDX: https://spdx.dev/Document, /Document/v2.<n>, /Document/v3 (and v3.<n>). */
static bool is_spdx(const char *t)
{
    return t && (strcmp(t, "https://spdx.dev/Document") == 0 ||
                 prefix_digits(t, "https://spdx.dev/Document/v2.") ||
                 strcmp(t, "https://spdx.dev/Document/v3") == 0 ||
                 prefix_digits(t, "https://spdx.dev/Document/v3."));
}

bool tg_pred_is_sbom(const char *t)
{
    return is_cyclonedx(t) || is_spdx(t);
}

static const char *const vuln_types[] = {
    "https://cosign.sigstore.dev/attestation/vuln/v1",
    "cosign.sigstore.dev/attestation/vuln/v1", /* as Kyverno's sample policy writes it */
    "https://in-toto.io/attestation/vulns/v0.1",
    "https://in-toto.io/attestation/vulns/v0.2",
};

bool tg_pred_is_vuln(const char *t)
{
    return t && in_list(t, vuln_types, 4);
}

static const char *const openvex_types[] = {
    "https://openvex.dev/ns",
    "https://openvex.dev/ns/v0.2.0",
};

bool tg_pred_is_openvex(const char *t)
{
    return t && in_list(t, openvex_types, 2);
}

bool tg_pred_is_cosign_sign(const char *t)
{
    return t && strcmp(t, "https://sigstore.dev/cosign/sign/v1") == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON helpers                                                                                */

/* The object at a dotted path of object keys ("runDetails.builder.id"), or NULL. */
static json_object *at(json_object *o, const char *path)
{
    char key[64];

    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        json_object *next = NULL;

        if (n >= sizeof(key) || !json_object_is_type(o, json_type_object))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        if (!json_object_object_get_ex(o, key, &next))
            return NULL;
        o = next;
        path += n + (dot ? 1 : 0);
    }
    return o;
}

/* The non-empty string at path, or NULL. Borrowed from o. */
static const char *str_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    const char *s;

    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    s = json_object_get_string(v);
    return s && *s ? s : NULL;
}

/* Replaces *dst with a copy of s unless *dst is already set or s is NULL. */
static int set_once(char **dst, const char *s)
{
    if (*dst || !s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : tg_error_set(TG_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------------------------------ */
/* Provenance                                                                                  */

void tg_provenance_clear(struct tg_provenance *p)
{
    if (!p)
        return;
    free(p->builder_id);
    free(p->build_type);
    free(p->source_repository);
    free(p->ref);
    free(p->commit);
    memset(p, 0, sizeof(*p));
}

/* GitHub's buildTypes whose externalParameters.workflow holds {repository, ref, path}. */
static const char *const github_build_types[] = {
    "https://github.com/actions/buildtypes/workflow/v1",
    "https://actions.github.io/buildtypes/workflow/v1",
    "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
};

/*
 * Splits a source URI "git+https://github.com/org/repo@refs/heads/main" into the repository
 * and the ref, filling those of *p that are still empty. The '@' searched is the last one after
 * the host, so "user@host" forms stay whole. A URI without '@' is all repository.
 */
static int split_source_uri(const char *uri, struct tg_provenance *p)
{
    const char *scheme = strstr(uri, "://");
    const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
    const char *at_sign = path ? strrchr(path, '@') : NULL;
    char *repo;
    int rc;

    if (!at_sign)
        return set_once(&p->source_repository, uri);
    repo = strndup(uri, (size_t)(at_sign - uri));
    if (!repo)
        return tg_error_set(TG_ENOMEM, "out of memory");
    rc = set_once(&p->source_repository, repo);
    free(repo);
    if (rc == 0 && at_sign[1])
        rc = set_once(&p->ref, at_sign + 1);
    return rc;
}

/* The commit of a digest set: gitCommit, else sha1. */
static const char *digest_commit(json_object *digest)
{
    const char *c = str_at(digest, "gitCommit");

    return c ? c : str_at(digest, "sha1");
}

static int read_v02(json_object *pred, struct tg_provenance *p)
{
    json_object *materials = at(pred, "materials");
    const char *uri;
    int rc;

    if ((rc = set_once(&p->builder_id, str_at(pred, "builder.id"))) ||
        (rc = set_once(&p->build_type, str_at(pred, "buildType"))))
        return rc;
    uri = str_at(pred, "invocation.configSource.uri");
    if (uri) {
        if ((rc = split_source_uri(uri, p)) ||
            (rc = set_once(&p->commit, digest_commit(at(pred, "invocation.configSource.digest")))))
            return rc;
    }
    if (materials && json_object_is_type(materials, json_type_array) &&
        json_object_array_length(materials) > 0) {
        json_object *m0 = json_object_array_get_idx(materials, 0);

        uri = str_at(m0, "uri");
        if (uri && (rc = split_source_uri(uri, p)))
            return rc;
        if ((rc = set_once(&p->commit, digest_commit(at(m0, "digest")))))
            return rc;
    }
    return 0;
}

static int read_v1(json_object *pred, struct tg_provenance *p)
{
    json_object *deps = at(pred, "buildDefinition.resolvedDependencies");
    int rc;

    if ((rc = set_once(&p->builder_id, str_at(pred, "runDetails.builder.id"))) ||
        (rc = set_once(&p->build_type, str_at(pred, "buildDefinition.buildType"))))
        return rc;
    if (p->build_type && in_list(p->build_type, github_build_types, 3)) {
        json_object *wf = at(pred, "buildDefinition.externalParameters.workflow");

        if ((rc = set_once(&p->source_repository, str_at(wf, "repository"))) ||
            (rc = set_once(&p->ref, str_at(wf, "ref"))))
            return rc;
    }
    if (deps && json_object_is_type(deps, json_type_array) && json_object_array_length(deps) > 0) {
        json_object *d0 = json_object_array_get_idx(deps, 0);
        const char *uri = str_at(d0, "uri");

        if (uri && (rc = split_source_uri(uri, p)))
            return rc;
        if ((rc = set_once(&p->commit, digest_commit(at(d0, "digest")))))
            return rc;
    }
    return 0;
}

/*
 * Writes the comparable form of a repository URL into out (false when it does not fit):
 * without "git+", trailing '/' and ".git", scheme and host in lower case. The path keeps its
 * case (GitHub's is case-insensitive, other forges' need not be).
 */
static bool normalize_repo(const char *in, char *out, size_t cap)
{
    const char *scheme;
    size_t n, host_end;

    if (strncmp(in, "git+", 4) == 0)
        in += 4;
    if (strlen(in) >= cap)
        return false; /* never compare truncated forms */
    snprintf(out, cap, "%s", in);
    n = strlen(out);
    for (;;) {
        if (n > 0 && out[n - 1] == '/')
            out[--n] = '\0';
        else if (n >= 4 && strcmp(out + n - 4, ".git") == 0)
            out[n -= 4] = '\0';
        else
            break;
    }
    scheme = strstr(out, "://");
    host_end = scheme ? (size_t)(scheme - out) + 3 : 0;
    if (scheme)
        while (out[host_end] && out[host_end] != '/')
            host_end++;
    for (size_t i = 0; i < host_end; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    return true;
}

static bool all_hex(const char *s)
{
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return false;
    return true;
}

/*
 * Compares commits case-insensitively. Equal lengths must be equal; different lengths match
 * when the shorter is a prefix of the longer (a Release names a short commit, the provenance the
 * full 40 digits). Either must have at least 7 hex digits; anything not hex never matches.
 */
static bool commit_matches(const char *want, const char *got)
{
    size_t a = strlen(want), b = strlen(got), n = a < b ? a : b;

    if (!all_hex(want) || !all_hex(got) || n < 7)
        return false;
    return strncasecmp(want, got, n) == 0;
}

static int judge_provenance(const struct tg_provenance *p, const struct tg_provenance_policy *pol)
{
    if (!pol || pol->n_builder_ids == 0)
        return tg_error_set(TG_EINVALID, "provenance: no builder is trusted");
    if (!in_list(p->builder_id, pol->builder_ids, pol->n_builder_ids))
        return tg_error_set(TG_EINVALID, "provenance: builder.id %s is not an allowed builder",
                            p->builder_id);
    if (pol->n_build_types > 0 &&
        (!p->build_type || !in_list(p->build_type, pol->build_types, pol->n_build_types)))
        return tg_error_set(TG_EINVALID, "provenance: buildType %s is not allowed",
                            p->build_type ? p->build_type : "(none)");
    if (pol->source_repository) {
        char want[1024], got[1024];

        if (!p->source_repository)
            return tg_error_set(TG_EINVALID, "provenance: no source repository (want %s)",
                                pol->source_repository);
        if (!normalize_repo(pol->source_repository, want, sizeof(want)) ||
            !normalize_repo(p->source_repository, got, sizeof(got)) || strcmp(want, got) != 0)
            return tg_error_set(TG_EINVALID, "provenance: source repository %s, want %s",
                                p->source_repository, pol->source_repository);
    }
    if (pol->n_source_refs > 0 &&
        (!p->ref || !in_list(p->ref, pol->source_refs, pol->n_source_refs)))
        return tg_error_set(TG_EINVALID, "provenance: source ref %s is not allowed",
                            p->ref ? p->ref : "(none)");
    if (pol->commit && *pol->commit && p->commit && !commit_matches(pol->commit, p->commit))
        return tg_error_set(TG_EINVALID, "provenance: source commit %s, want %s", p->commit,
                            pol->commit);
    return 0;
}

int tg_provenance_check(const char *predicate_type, json_object *predicate,
                        const struct tg_provenance_policy *pol, struct tg_provenance *out)
{
    struct tg_provenance local = {0};
    struct tg_provenance *p = out ? out : &local;
    bool v1;
    int rc;

    if (!tg_pred_is_provenance(predicate_type))
        return tg_error_set(TG_EINVALID, "provenance: predicateType %s is not SLSA provenance",
                            predicate_type ? predicate_type : "(none)");
    if (!predicate || !json_object_is_type(predicate, json_type_object))
        return tg_error_set(TG_EINVALID, "provenance: predicate is not an object");
    v1 = strcmp(predicate_type, "https://slsa.dev/provenance/v1") == 0;
    rc = v1 ? read_v1(predicate, p) : read_v02(predicate, p);
    if (rc == 0 && !p->builder_id)
        rc = tg_error_set(TG_EINVALID, "provenance: %s missing",
                          v1 ? "runDetails.builder.id" : "builder.id");
    if (rc == 0)
        rc = judge_provenance(p, pol);
    tg_provenance_clear(&local);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* SBOM                                                                                        */

void tg_sbom_clear(struct tg_sbom *s)
{
    if (!s)
        return;
    free(s->format);
    free(s->spec_version);
    memset(s, 0, sizeof(*s));
}

/* Adds the components of arr and of their nested "components", depth-first. */
static int count_components(json_object *arr, int depth, size_t *n)
{
    if (!arr)
        return 0;
    if (!json_object_is_type(arr, json_type_array))
        return tg_error_set(TG_EINVALID, "sbom: components is not an array");
    if (depth > SBOM_MAX_DEPTH)
        return tg_error_set(TG_EINVALID, "sbom: components nested deeper than %d", SBOM_MAX_DEPTH);
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *c = json_object_array_get_idx(arr, i);
        int rc;

        if (!c || !json_object_is_type(c, json_type_object))
            return tg_error_set(TG_EINVALID, "sbom: component %zu is not an object", i);
        (*n)++;
        if ((rc = count_components(at(c, "components"), depth + 1, n)))
            return rc;
    }
    return 0;
}

static int check_cyclonedx(json_object *pred, struct tg_sbom *s)
{
    const char *fmt = str_at(pred, "bomFormat"), *ver = str_at(pred, "specVersion");
    int rc;

    if (!fmt || strcmp(fmt, "CycloneDX") != 0)
        return tg_error_set(TG_EINVALID, "sbom: bomFormat is %s, want CycloneDX",
                            fmt ? fmt : "missing");
    if (!ver)
        return tg_error_set(TG_EINVALID, "sbom: CycloneDX specVersion missing");
    if ((rc = set_once(&s->format, "CycloneDX")) || (rc = set_once(&s->spec_version, ver)))
        return rc;
    s->components = 0;
    if ((rc = count_components(at(pred, "components"), 0, &s->components)))
        return rc;
    /* metadata.component is the subject, not a dependency, but its own children are parts. */
    return count_components(at(pred, "metadata.component.components"), 0, &s->components);
}

static int check_spdx2(json_object *pred, struct tg_sbom *s)
{
    const char *ver = str_at(pred, "spdxVersion");
    json_object *pkgs = at(pred, "packages");
    int rc;

    if (!ver || strncmp(ver, "SPDX-", 5) != 0)
        return tg_error_set(TG_EINVALID, "sbom: spdxVersion is %s, want SPDX-<version>",
                            ver ? ver : "missing");
    if (pkgs && !json_object_is_type(pkgs, json_type_array))
        return tg_error_set(TG_EINVALID, "sbom: SPDX packages is not an array");
    if ((rc = set_once(&s->format, "SPDX")) || (rc = set_once(&s->spec_version, ver)))
        return rc;
    s->components = pkgs ? json_object_array_length(pkgs) : 0;
    return 0;
}

/* True when an SPDX 3 @context (a string or an array of strings) names spdx.org/rdf/3. */
static bool spdx3_context(json_object *ctx)
{
    if (ctx && json_object_is_type(ctx, json_type_string))
        return strstr(json_object_get_string(ctx), "spdx.org/rdf/3") != NULL;
    if (ctx && json_object_is_type(ctx, json_type_array))
        for (size_t i = 0; i < json_object_array_length(ctx); i++)
            if (spdx3_context(json_object_array_get_idx(ctx, i)))
                return true;
    return false;
}

/*
 * SPDX 3 JSON-LD: an @context naming spdx.org/rdf/3... and an @graph array. Packages are the
 * graph elements of type (or @type) "software_Package"; the version is the first
 * CreationInfo's specVersion, "SPDX-3" when none says.
 */
static int check_spdx3(json_object *pred, struct tg_sbom *s)
{
    json_object *graph = at(pred, "@graph");
    const char *ver = NULL;
    char buf[64];
    int rc;

    if (!spdx3_context(at(pred, "@context")) || !graph ||
        !json_object_is_type(graph, json_type_array))
        return tg_error_set(TG_EINVALID,
                            "sbom: neither spdxVersion nor an SPDX 3 @context and @graph");
    s->components = 0;
    for (size_t i = 0; i < json_object_array_length(graph); i++) {
        json_object *e = json_object_array_get_idx(graph, i);
        const char *type = str_at(e, "type");

        if (!type)
            type = str_at(e, "@type");
        if (type && strcmp(type, "software_Package") == 0)
            s->components++;
        if (type && strcmp(type, "CreationInfo") == 0 && !ver)
            ver = str_at(e, "specVersion");
    }
    snprintf(buf, sizeof(buf), "SPDX-%s", ver ? ver : "3");
    if ((rc = set_once(&s->format, "SPDX")) || (rc = set_once(&s->spec_version, buf)))
        return rc;
    return 0;
}

int tg_sbom_check(const char *predicate_type, json_object *predicate, struct tg_sbom *out)
{
    struct tg_sbom local = {0};
    struct tg_sbom *s = out ? out : &local;
    int rc;

    if (!tg_pred_is_sbom(predicate_type))
        return tg_error_set(TG_EINVALID, "sbom: predicateType %s is not an SBOM type",
                            predicate_type ? predicate_type : "(none)");
    if (!predicate || !json_object_is_type(predicate, json_type_object))
        return tg_error_set(TG_EINVALID, "sbom: predicate is not an object");
    if (is_cyclonedx(predicate_type))
        rc = check_cyclonedx(predicate, s);
    else if (at(predicate, "spdxVersion"))
        rc = check_spdx2(predicate, s);
    else
        rc = check_spdx3(predicate, s);
    tg_sbom_clear(&local);
    return rc;
}
