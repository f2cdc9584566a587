/*
 * Vulnerability reports and the ceiling gate; see predicates.h and supply-chain-formats.md §6.
 *
 * Readers: the cosign vuln predicate (scanner.result a Trivy SchemaVersion 2 report, a Grype
 * report or a CycloneDX BOM), in-toto vulns v0.1/v0.2 and a CycloneDX BOM's vulnerabilities[].
 * Findings are merged per (id, package): the highest severity wins, and a duplicate that has no
 * fix makes the merged finding unfixed.
 */
#include "verify/predicates.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/error.h"

/* A report with more findings than this is refused (a bound on what a registry blob costs). */
#define VULN_MAX_FINDINGS 100000
/* How many offending IDs a failure message names per severity. */
#define VULN_MSG_IDS 5

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                     */

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!o || !json_object_is_type(o, json_type_object))
        return NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static json_object *get_type(json_object *o, const char *key, json_type t)
{
    json_object *v = get(o, key);

    return v && json_object_is_type(v, t) ? v : NULL;
}

/* The non-empty string member key of o, or NULL. Borrowed. */
static const char *get_str(json_object *o, const char *key)
{
    json_object *v = get_type(o, key, json_type_string);
    const char *s = v ? json_object_get_string(v) : NULL;

    return s && *s ? s : NULL;
}

static size_t arr_len(json_object *a)
{
    return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* Reads n decimal digits at *p into *v, advancing *p. */
static bool digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return false;
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

/*
 * Parses an RFC 3339 date-time ("2024-01-15T10:20:30.123456789+09:00", 'T'/'t', 'Z'/'z') into
 * Unix seconds with timegm (fractions dropped). Returns false on anything else.
 */
static bool parse_rfc3339(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    time_t t;

    if (!s || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
        !digits(&s, 2, &d) || (*s != 'T' && *s != 't') || !++s || !digits(&s, 2, &h) ||
        *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' || !digits(&s, 2, &sec))
        return false;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
            return false;
    } else {
        return false;
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31))
        return false;
    *out = (int64_t)t - (int64_t)sign * (oh * 3600 + om * 60);
    return true;
}

/*
 * Maps a severity name, case-insensitively: critical, high, medium (and moderate), low,
 * negligible (counted as low: below low is no reason to fail open), info/none. Anything else,
 * "unknown" included, is TG_SEV_UNKNOWN.
 */
static enum tg_severity severity_from_name(const char *s)
{
    static const struct {
        const char *name;
        enum tg_severity sev;
    } names[] = {
        {"critical", TG_SEV_CRITICAL}, {"high", TG_SEV_HIGH}, {"medium", TG_SEV_MEDIUM},
        {"moderate", TG_SEV_MEDIUM},   {"low", TG_SEV_LOW},   {"negligible", TG_SEV_LOW},
        {"info", TG_SEV_NONE},         {"none", TG_SEV_NONE},
    };

    for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].sev;
    return TG_SEV_UNKNOWN;
}

/* CVSS score bands: >= 9 critical, >= 7 high, >= 4 medium, > 0 low, 0 none. */
static enum tg_severity severity_from_score(double score)
{
    if (score >= 9.0)
        return TG_SEV_CRITICAL;
    if (score >= 7.0)
        return TG_SEV_HIGH;
    if (score >= 4.0)
        return TG_SEV_MEDIUM;
    if (score > 0.0)
        return TG_SEV_LOW;
    return TG_SEV_NONE;
}

/* A score given as a JSON number or a decimal string ("7.5") in [0, 10]; false otherwise. */
static bool score_of(json_object *v, double *out)
{
    if (!v)
        return false;
    if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) {
        *out = json_object_get_double(v);
    } else if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end = NULL;

        if (!*s)
            return false;
        *out = strtod(s, &end);
        if (*end)
            return false;
    } else {
        return false;
    }
    return *out >= 0.0 && *out <= 10.0;
}

/* Orders severities for "highest wins": unknown ranks below every known one. */
static int sev_rank(enum tg_severity s)
{
    return s == TG_SEV_UNKNOWN ? -1 : (int)s;
}

/* ------------------------------------------------------------------------------------------ */
/* The report under construction                                                               */

void tg_vuln_report_free(struct tg_vuln_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_findings; i++) {
        free(r->findings[i].id);
        free(r->findings[i].package);
    }
    free(r->findings);
    free(r->scanner_uri);
    free(r->scanner_version);
    free(r);
}

static int add_finding(struct tg_vuln_report *r, size_t *cap, const char *id, const char *pkg,
                       enum tg_severity sev, bool fixed)
{
    struct tg_finding *f;

    if (!id)
        return tg_error_set(TG_EINVALID, "vuln: a finding has no id");
    if (r->n_findings >= VULN_MAX_FINDINGS)
        return tg_error_set(TG_EINVALID, "vuln: more than %d findings", VULN_MAX_FINDINGS);
    if (r->n_findings == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct tg_finding *nf = realloc(r->findings, ncap * sizeof(*nf));

        if (!nf)
            return tg_error_set(TG_ENOMEM, "out of memory");
        r->findings = nf;
        *cap = ncap;
    }
    f = &r->findings[r->n_findings];
    f->id = strdup(id);
    f->package = strdup(pkg ? pkg : "");
    f->severity = sev;
    f->fixed_available = fixed;
    if (!f->id || !f->package) {
        free(f->id);
        free(f->package);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    r->n_findings++;
    return 0;
}

static int finding_cmp(const void *a, const void *b)
{
    const struct tg_finding *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    return c ? c : strcmp(x->package, y->package);
}

/* Sorts the findings and merges those of the same (id, package). */
static void dedupe(struct tg_vuln_report *r)
{
    size_t w = 0;

    if (r->n_findings < 2)
        return;
    qsort(r->findings, r->n_findings, sizeof(*r->findings), finding_cmp);
    for (size_t i = 1; i < r->n_findings; i++) {
        struct tg_finding *keep = &r->findings[w], *f = &r->findings[i];

        if (finding_cmp(keep, f) == 0) {
            if (sev_rank(f->severity) > sev_rank(keep->severity))
                keep->severity = f->severity;
            keep->fixed_available = keep->fixed_available && f->fixed_available;
            free(f->id);
            free(f->package);
            continue;
        }
        r->findings[++w] = *f;
    }
    r->n_findings = w + 1;
}

static int set_str(char **dst, const char *s)
{
    if (*dst || !s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : tg_error_set(TG_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------------------------------ */
/* Trivy, Grype, CycloneDX, in-toto                                                            */

/*
 * Trivy JSON, SchemaVersion 2. A fix is available when Status is "fixed", or, for reports older
 * than Trivy's Status field, when FixedVersion is not empty.
 */
static int read_trivy(json_object *rep, struct tg_vuln_report *r, size_t *cap)
{
    json_object *sv = get(rep, "SchemaVersion"), *results = get(rep, "Results");
    int rc;

    if (!sv || !json_object_is_type(sv, json_type_int) || json_object_get_int64(sv) != 2)
        return tg_error_set(TG_EINVALID, "vuln: Trivy SchemaVersion is not 2");
    if (results && !json_object_is_type(results, json_type_array))
        return tg_error_set(TG_EINVALID, "vuln: Trivy Results is not an array");
    if (!r->scanned_at && get_str(rep, "CreatedAt") &&
        !parse_rfc3339(get_str(rep, "CreatedAt"), &r->scanned_at))
        return tg_error_set(TG_EINVALID, "vuln: Trivy CreatedAt is not an RFC 3339 time");
    if ((rc = set_str(&r->scanner_uri, "trivy")))
        return rc;
    for (size_t i = 0; i < arr_len(results); i++) {
        json_object *res = json_object_array_get_idx(results, i);
        json_object *vulns = get(res, "Vulnerabilities");

        if (vulns && !json_object_is_type(vulns, json_type_array))
            return tg_error_set(TG_EINVALID, "vuln: Trivy Vulnerabilities is not an array");
        for (size_t j = 0; j < arr_len(vulns); j++) {
            json_object *v = json_object_array_get_idx(vulns, j);
            const char *status = get_str(v, "Status"), *fixv = get_str(v, "FixedVersion");
            bool fixed = status ? strcmp(status, "fixed") == 0 : fixv != NULL;

            if ((rc = add_finding(r, cap, get_str(v, "VulnerabilityID"), get_str(v, "PkgName"),
                                  severity_from_name(get_str(v, "Severity")), fixed)))
                return rc;
        }
    }
    return 0;
}

/* Grype JSON: matches[].{vulnerability{id, severity, fix{state}}, artifact{name}}. */
static int read_grype(json_object *rep, struct tg_vuln_report *r, size_t *cap)
{
    json_object *matches = get(rep, "matches"), *desc = get(rep, "descriptor");
    const char *ts = get_str(desc, "timestamp");
    int rc;

    if (!r->scanned_at && ts && !parse_rfc3339(ts, &r->scanned_at))
        return tg_error_set(TG_EINVALID, "vuln: Grype descriptor.timestamp is not RFC 3339");
    if ((rc = set_str(&r->scanner_uri, get_str(desc, "name") ? get_str(desc, "name") : "grype")) ||
        (rc = set_str(&r->scanner_version, get_str(desc, "version"))))
        return rc;
    for (size_t i = 0; i < arr_len(matches); i++) {
        json_object *m = json_object_array_get_idx(matches, i);
        json_object *v = get(m, "vulnerability");
        const char *state = get_str(get(v, "fix"), "state");

        if ((rc = add_finding(r, cap, get_str(v, "id"), get_str(get(m, "artifact"), "name"),
                              severity_from_name(get_str(v, "severity")),
                              state && strcmp(state, "fixed") == 0)))
            return rc;
    }
    return 0;
}

/* States of a CycloneDX analysis that take a vulnerability out of the count. */
static bool cdx_state_clears(const char *state)
{
    return state &&
           (strcmp(state, "not_affected") == 0 || strcmp(state, "false_positive") == 0 ||
            strcmp(state, "resolved") == 0 || strcmp(state, "resolved_with_pedigree") == 0);
}

/*
 * CycloneDX vulnerabilities[]: the highest of ratings[].severity (a rating without a known
 * severity counts by its score), UNKNOWN when no rating says. One finding per affects[].ref,
 * which names the package by its bom-ref. An analysis.state of not_affected, false_positive,
 * resolved or resolved_with_pedigree means the vulnerability is not counted at all. CycloneDX
 * says nothing of fixes, so findings count as fixable: ignore_unfixed never drops them.
 */
static int read_cyclonedx(json_object *bom, struct tg_vuln_report *r, size_t *cap)
{
    json_object *vulns = get(bom, "vulnerabilities"), *tools = get(get(bom, "metadata"), "tools");
    const char *ts = get_str(get(bom, "metadata"), "timestamp");
    json_object *tool0 = NULL;
    int rc;

    if (vulns && !json_object_is_type(vulns, json_type_array))
        return tg_error_set(TG_EINVALID, "vuln: CycloneDX vulnerabilities is not an array");
    if (!r->scanned_at && ts && !parse_rfc3339(ts, &r->scanned_at))
        return tg_error_set(TG_EINVALID, "vuln: CycloneDX metadata.timestamp is not RFC 3339");
    if (arr_len(tools) > 0) /* 1.4: an array of tools */
        tool0 = json_object_array_get_idx(tools, 0);
    else if (arr_len(get(tools, "components")) > 0) /* 1.5+: {components: [...]} */
        tool0 = json_object_array_get_idx(get(tools, "components"), 0);
    if ((rc = set_str(&r->scanner_uri, get_str(tool0, "name"))) ||
        (rc = set_str(&r->scanner_version, get_str(tool0, "version"))))
        return rc;
    for (size_t i = 0; i < arr_len(vulns); i++) {
        json_object *v = json_object_array_get_idx(vulns, i), *ratings = get(v, "ratings");
        json_object *affects = get(v, "affects");
        enum tg_severity sev = TG_SEV_UNKNOWN;

        if (cdx_state_clears(get_str(get(v, "analysis"), "state")))
            continue;
        for (size_t j = 0; j < arr_len(ratings); j++) {
            json_object *rt = json_object_array_get_idx(ratings, j);
            enum tg_severity s = severity_from_name(get_str(rt, "severity"));
            double score;

            if (s == TG_SEV_UNKNOWN && score_of(get(rt, "score"), &score))
                s = severity_from_score(score);
            if (sev_rank(s) > sev_rank(sev))
                sev = s;
        }
        if (arr_len(affects) == 0 && (rc = add_finding(r, cap, get_str(v, "id"), NULL, sev, true)))
            return rc;
        for (size_t j = 0; j < arr_len(affects); j++) {
            json_object *a = json_object_array_get_idx(affects, j);

            if ((rc = add_finding(r, cap, get_str(v, "id"), get_str(a, "ref"), sev, true)))
                return rc;
        }
    }
    return 0;
}

/*
 * in-toto vulns v0.1/v0.2: scanner.result[]{id, severity[]{method, score}}. The score is a
 * CVSS number (or its string), mapped by severity_from_score, or a severity name; the highest
 * entry wins, UNKNOWN when none parses. No package and no fix data: the package is "" and the
 * finding counts as fixable (ignore_unfixed never drops it).
 */
static int read_intoto(json_object *pred, struct tg_vuln_report *r, size_t *cap)
{
    json_object *scanner = get_type(pred, "scanner", json_type_object);
    json_object *result = scanner ? get(scanner, "result") : NULL;
    const char *fin = get_str(get(pred, "metadata"), "scanFinishedOn");
    int rc;

    if (!scanner)
        return tg_error_set(TG_EINVALID, "vuln: predicate.scanner missing");
    if (result && !json_object_is_type(result, json_type_array))
        return tg_error_set(TG_EINVALID, "vuln: unknown scanner report (in-toto vulns wants "
                                         "an array of results)");
    if (fin && !parse_rfc3339(fin, &r->scanned_at))
        return tg_error_set(TG_EINVALID, "vuln: metadata.scanFinishedOn is not RFC 3339");
    if ((rc = set_str(&r->scanner_uri, get_str(scanner, "uri"))) ||
        (rc = set_str(&r->scanner_version, get_str(scanner, "version"))))
        return rc;
    for (size_t i = 0; i < arr_len(result); i++) {
        json_object *v = json_object_array_get_idx(result, i), *sevs = get(v, "severity");
        enum tg_severity sev = TG_SEV_UNKNOWN;

        for (size_t j = 0; j < arr_len(sevs); j++) {
            json_object *s = json_object_array_get_idx(sevs, j), *score = get(s, "score");
            enum tg_severity e = TG_SEV_UNKNOWN;
            double d;

            if (score_of(score, &d))
                e = severity_from_score(d);
            else if (score && json_object_is_type(score, json_type_string))
                e = severity_from_name(json_object_get_string(score));
            if (sev_rank(e) > sev_rank(sev))
                sev = e;
        }
        if ((rc = add_finding(r, cap, get_str(v, "id"), NULL, sev, true)))
            return rc;
    }
    return 0;
}

/* The cosign vuln predicate: scanner.{uri, version, result}, metadata.scanFinishedOn. */
static int read_cosign(json_object *pred, struct tg_vuln_report *r, size_t *cap)
{
    json_object *scanner = get_type(pred, "scanner", json_type_object);
    json_object *result = scanner ? get_type(scanner, "result", json_type_object) : NULL;
    const char *fin = get_str(get(pred, "metadata"), "scanFinishedOn");
    const char *bom_format = get_str(result, "bomFormat");
    int rc;

    if (!scanner)
        return tg_error_set(TG_EINVALID, "vuln: predicate.scanner missing");
    if (!fin)
        return tg_error_set(TG_EINVALID, "vuln: metadata.scanFinishedOn missing");
    if (!parse_rfc3339(fin, &r->scanned_at))
        return tg_error_set(TG_EINVALID, "vuln: metadata.scanFinishedOn is not RFC 3339");
    if ((rc = set_str(&r->scanner_uri, get_str(scanner, "uri"))) ||
        (rc = set_str(&r->scanner_version, get_str(scanner, "version"))))
        return rc;
    if (get(result, "SchemaVersion"))
        return read_trivy(result, r, cap);
    if (get_type(result, "matches", json_type_array))
        return read_grype(result, r, cap);
    if (bom_format && strcmp(bom_format, "CycloneDX") == 0)
        return read_cyclonedx(result, r, cap);
    return tg_error_set(TG_EINVALID, "vuln: unknown scanner report");
}

static bool is_cyclonedx_type(const char *t)
{
    return tg_pred_is_sbom(t) && strncmp(t, "https://cyclonedx.org/", 22) == 0;
}

int tg_vuln_parse(const char *predicate_type, json_object *predicate, struct tg_vuln_report **out)
{
    struct tg_vuln_report *r;
    size_t cap = 0;
    int rc;

    *out = NULL;
    if (!predicate || !json_object_is_type(predicate, json_type_object))
        return tg_error_set(TG_EINVALID, "vuln: predicate is not an object");
    r = calloc(1, sizeof(*r));
    if (!r)
        return tg_error_set(TG_ENOMEM, "out of memory");
    if (predicate_type && strstr(predicate_type, "cosign.sigstore.dev/attestation/vuln/v1") &&
        tg_pred_is_vuln(predicate_type))
        rc = read_cosign(predicate, r, &cap);
    else if (tg_pred_is_vuln(predicate_type))
        rc = read_intoto(predicate, r, &cap);
    else if (is_cyclonedx_type(predicate_type))
        rc = read_cyclonedx(predicate, r, &cap);
    else
        rc = tg_error_set(TG_EINVALID, "vuln: predicateType %s is not a vulnerability report",
                          predicate_type ? predicate_type : "(none)");
    if (rc) {
        tg_vuln_report_free(r);
        return rc;
    }
    dedupe(r);
    *out = r;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The ceiling                                                                                 */

/* The status of the vulnerability in the VEX documents: >0 suppressed, <0 affected, 0 none. */
static int vex_vote(json_object *doc, const char *id)
{
    json_object *stmts = get(doc, "statements");
    int vote = 0;

    for (size_t i = 0; i < arr_len(stmts); i++) {
        json_object *st = json_object_array_get_idx(stmts, i), *v = get(st, "vulnerability");
        const char *status = get_str(st, "status"), *name = NULL;
        bool match = false;

        if (v && json_object_is_type(v, json_type_string)) /* OpenVEX before v0.2.0 */
            name = json_object_get_string(v);
        else
            name = get_str(v, "name") ? get_str(v, "name") : get_str(v, "@id");
        match = name && strcasecmp(name, id) == 0;
        for (size_t j = 0; !match && j < arr_len(get(v, "aliases")); j++) {
            json_object *al = json_object_array_get_idx(get(v, "aliases"), j);

            match = json_object_is_type(al, json_type_string) &&
                    strcasecmp(json_object_get_string(al), id) == 0;
        }
        if (!match || !status)
            continue;
        if (strcmp(status, "not_affected") == 0 || strcmp(status, "fixed") == 0) {
            if (vote == 0)
                vote = 1;
        } else {
            vote = -1;
        }
    }
    return vote;
}

/*
 * True when the VEX documents suppress id: a statement says not_affected or fixed and none says
 * affected or under_investigation (conflicting statements fail closed, whatever their
 * timestamps). Products are not matched: the VEX attestation's subject already binds it to the
 * image being judged.
 */
static bool vex_suppresses(json_object *vex, const char *id)
{
    int vote = 0;

    if (!vex)
        return false;
    if (json_object_is_type(vex, json_type_object))
        return vex_vote(vex, id) > 0;
    for (size_t i = 0; i < arr_len(vex); i++) {
        int v = vex_vote(json_object_array_get_idx(vex, i), id);

        if (v < 0)
            return false;
        if (v > 0)
            vote = 1;
    }
    return vote > 0;
}

static bool allowed(const struct tg_vuln_policy *pol, const struct tg_finding *f, int64_t now_s)
{
    for (size_t i = 0; i < pol->n_allowlist; i++) {
        const struct tg_allow_entry *e = &pol->allowlist[i];

        if (!e->id || strcasecmp(e->id, f->id) != 0)
            continue;
        if (e->package && strcmp(e->package, f->package) != 0)
            continue;
        if (now_s < e->expires)
            return true;
    }
    return false;
}

/* "9 days", "5 hours", "42 seconds": the largest unit that fits. */
static void human_age(int64_t s, char *out, size_t cap)
{
    long long n = s >= 86400 ? s / 86400 : s >= 3600 ? s / 3600 : s;
    const char *unit = s >= 86400 ? "day" : s >= 3600 ? "hour" : "second";

    snprintf(out, cap, "%lld %s%s", n, unit, n == 1 ? "" : "s");
}

static int judge_scan(const struct tg_vuln_report *r, const struct tg_vuln_policy *pol,
                      int64_t now_s)
{
    char age[32], max[32];

    if (pol->n_scanners > 0) {
        bool ok = false;

        for (size_t i = 0; i < pol->n_scanners && !ok; i++)
            ok = r->scanner_uri && pol->scanners[i] &&
                 strncmp(r->scanner_uri, pol->scanners[i], strlen(pol->scanners[i])) == 0;
        if (!ok)
            return tg_error_set(TG_EINVALID, "scanner %s is not an allowed scanner",
                                r->scanner_uri ? r->scanner_uri : "(unnamed)");
    }
    if (pol->max_scan_age_s > 0) {
        human_age(pol->max_scan_age_s, max, sizeof(max));
        if (r->scanned_at <= 0)
            return tg_error_set(TG_EINVALID, "the scan time is unknown (max age %s)", max);
        if (now_s - r->scanned_at > pol->max_scan_age_s) {
            human_age(now_s - r->scanned_at, age, sizeof(age));
            return tg_error_set(TG_EINVALID, "the scan is %s old (max %s)", age, max);
        }
    }
    return 0;
}

static const char *const sev_names[] = {
    [TG_SEV_NONE] = "none", [TG_SEV_LOW] = "low",           [TG_SEV_MEDIUM] = "medium",
    [TG_SEV_HIGH] = "high", [TG_SEV_CRITICAL] = "critical", [TG_SEV_UNKNOWN] = "unknown",
};

int tg_vuln_judge(const struct tg_vuln_report *r, const struct tg_vuln_policy *pol, int64_t now_s,
                  json_object *vex, struct tg_vuln_counts *counts)
{
    struct tg_vuln_counts local = {0};
    struct tg_vuln_counts *c = counts ? counts : &local;
    /* Per judged severity (LOW..CRITICAL): the count and the first offending IDs. */
    int eff[TG_SEV_UNKNOWN + 1] = {0};
    const char *ids[TG_SEV_UNKNOWN + 1][VULN_MSG_IDS] = {{0}};
    enum tg_severity unknown_as;
    char msg[900];
    size_t used = 0;
    int rc;

    memset(c, 0, sizeof(*c));
    if (!r || !pol)
        return tg_error_set(TG_EINVALID, "vuln: no report or no policy");
    unknown_as = pol->unknown_as == TG_SEV_NONE || pol->unknown_as == TG_SEV_UNKNOWN
                     ? TG_SEV_HIGH
                     : pol->unknown_as;
    for (size_t i = 0; i < r->n_findings; i++) {
        const struct tg_finding *f = &r->findings[i];
        enum tg_severity s = f->severity == TG_SEV_UNKNOWN ? unknown_as : f->severity;

        if (f->severity == TG_SEV_NONE || (pol->ignore_unfixed && !f->fixed_available))
            continue;
        if (allowed(pol, f, now_s) || vex_suppresses(vex, f->id)) {
            c->suppressed++;
            continue;
        }
        switch (f->severity) {
        case TG_SEV_CRITICAL:
            c->critical++;
            break;
        case TG_SEV_HIGH:
            c->high++;
            break;
        case TG_SEV_MEDIUM:
            c->medium++;
            break;
        case TG_SEV_LOW:
            c->low++;
            break;
        default:
            c->unknown++;
            break;
        }
        if (eff[s] < VULN_MSG_IDS)
            ids[s][eff[s]] = f->id;
        eff[s]++;
    }
    /* The counts are filled first: a caller reports them whatever failed. */
    if ((rc = judge_scan(r, pol, now_s)))
        return rc;
    msg[0] = '\0';
    for (int s = TG_SEV_CRITICAL; s >= TG_SEV_LOW; s--) {
        int max = s == TG_SEV_CRITICAL ? pol->max_critical
                  : s == TG_SEV_HIGH   ? pol->max_high
                  : s == TG_SEV_MEDIUM ? pol->max_medium
                                       : pol->max_low;

        if (max < 0 || eff[s] <= max)
            continue;
        used += (size_t)snprintf(msg + used, sizeof(msg) - used,
                                 "%s%d %s %s (max %d):", used ? "; " : "", eff[s], sev_names[s],
                                 eff[s] == 1 ? "vulnerability" : "vulnerabilities", max);
        for (int k = 0; k < eff[s] && k < VULN_MSG_IDS && used < sizeof(msg); k++)
            used +=
                (size_t)snprintf(msg + used, sizeof(msg) - used, "%s %s", k ? "," : "", ids[s][k]);
        if (eff[s] > VULN_MSG_IDS && used < sizeof(msg))
            used += (size_t)snprintf(msg + used, sizeof(msg) - used, ", ...");
        if (used >= sizeof(msg))
            used = sizeof(msg) - 1;
    }
    if (msg[0])
        return tg_error_set(TG_EINVALID, "%s", msg);
    return 0;
}
