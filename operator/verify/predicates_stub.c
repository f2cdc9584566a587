/* TEMPORARY: delete when predicates.c lands. Just enough for test_verify.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"
#include "verify/policy.h"
#include "verify/predicates.h"

bool tg_pred_is_provenance(const char *t)
{
    return strcmp(t, "https://slsa.dev/provenance/v0.2") == 0 ||
           strcmp(t, "https://slsa.dev/provenance/v1") == 0;
}

bool tg_pred_is_sbom(const char *t)
{
    return strcmp(t, "https://cyclonedx.org/bom") == 0 ||
           strcmp(t, "https://spdx.dev/Document") == 0;
}

bool tg_pred_is_vuln(const char *t)
{
    return strcmp(t, "https://cosign.sigstore.dev/attestation/vuln/v1") == 0;
}

bool tg_pred_is_openvex(const char *t)
{
    return strcmp(t, "https://openvex.dev/ns") == 0;
}

bool tg_pred_is_cosign_sign(const char *t)
{
    return strcmp(t, "https://sigstore.dev/cosign/sign/v1") == 0;
}

void tg_provenance_clear(struct tg_provenance *p)
{
    free(p->builder_id);
    free(p->build_type);
    free(p->source_repository);
    free(p->ref);
    free(p->commit);
    memset(p, 0, sizeof(*p));
}

int tg_provenance_check(const char *predicate_type, json_object *predicate,
                        const struct tg_provenance_policy *pol, struct tg_provenance *out)
{
    json_object *b, *id;
    (void)predicate_type;
    if (!json_object_object_get_ex(predicate, "builder", &b) ||
        !json_object_object_get_ex(b, "id", &id))
        return tg_error_set(TG_EINVALID, "provenance: no builder.id");
    out->builder_id = strdup(json_object_get_string(id));
    for (size_t i = 0; i < pol->n_builder_ids; i++) {
        if (strcmp(pol->builder_ids[i], out->builder_id) == 0)
            return 0;
    }
    return tg_error_set(TG_EINVALID, "builder.id %s is not allowed", out->builder_id);
}

void tg_sbom_clear(struct tg_sbom *s)
{
    free(s->format);
    free(s->spec_version);
    memset(s, 0, sizeof(*s));
}

int tg_sbom_check(const char *predicate_type, json_object *predicate, struct tg_sbom *out)
{
    json_object *f, *v, *c;
    (void)predicate_type;
    if (!json_object_object_get_ex(predicate, "bomFormat", &f) ||
        !json_object_object_get_ex(predicate, "specVersion", &v))
        return tg_error_set(TG_EINVALID, "sbom: not CycloneDX");
    out->format = strdup(json_object_get_string(f));
    out->spec_version = strdup(json_object_get_string(v));
    if (json_object_object_get_ex(predicate, "components", &c))
        out->components = json_object_array_length(c);
    return 0;
}

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

/* The cosign vuln predicate with a Trivy report in scanner.result; nothing else. */
int tg_vuln_parse(const char *predicate_type, json_object *predicate, struct tg_vuln_report **out)
{
    json_object *s, *u, *m, *t, *res, *results;
    (void)predicate_type;
    struct tg_vuln_report *r = calloc(1, sizeof(*r));
    if (json_object_object_get_ex(predicate, "scanner", &s) &&
        json_object_object_get_ex(s, "uri", &u))
        r->scanner_uri = strdup(json_object_get_string(u));
    if (json_object_object_get_ex(predicate, "metadata", &m) &&
        json_object_object_get_ex(m, "scanFinishedOn", &t))
        tg_vp_parse_date(json_object_get_string(t), &r->scanned_at);
    r->findings = calloc(64, sizeof(*r->findings));
    if (s && json_object_object_get_ex(s, "result", &res) &&
        json_object_object_get_ex(res, "Results", &results)) {
        for (size_t i = 0; i < json_object_array_length(results); i++) {
            json_object *vs;
            if (!json_object_object_get_ex(json_object_array_get_idx(results, i), "Vulnerabilities",
                                           &vs))
                continue;
            for (size_t j = 0; j < json_object_array_length(vs) && r->n_findings < 64; j++) {
                json_object *e = json_object_array_get_idx(vs, j), *id, *sev;
                json_object_object_get_ex(e, "VulnerabilityID", &id);
                json_object_object_get_ex(e, "Severity", &sev);
                r->findings[r->n_findings].id = strdup(json_object_get_string(id));
                const char *sv = json_object_get_string(sev);
                r->findings[r->n_findings].severity = strcasecmp(sv, "critical") == 0
                                                          ? TG_SEV_CRITICAL
                                                      : strcasecmp(sv, "high") == 0 ? TG_SEV_HIGH
                                                                                    : TG_SEV_LOW;
                r->n_findings++;
            }
        }
    }
    *out = r;
    return 0;
}

int tg_vuln_judge(const struct tg_vuln_report *r, const struct tg_vuln_policy *pol, int64_t now_s,
                  json_object *vex, struct tg_vuln_counts *counts)
{
    (void)vex;
    memset(counts, 0, sizeof(*counts));
    if (pol->max_scan_age_s && now_s - r->scanned_at > pol->max_scan_age_s)
        return tg_error_set(TG_EINVALID, "scan is too old");
    for (size_t i = 0; i < r->n_findings; i++) {
        if (r->findings[i].severity == TG_SEV_CRITICAL)
            counts->critical++;
        else if (r->findings[i].severity == TG_SEV_HIGH)
            counts->high++;
        else
            counts->low++;
    }
    if (counts->critical > pol->max_critical)
        return tg_error_set(TG_EINVALID, "%d critical vulnerabilities (max %d)", counts->critical,
                            pol->max_critical);
    if (pol->max_high >= 0 && counts->high > pol->max_high)
        return tg_error_set(TG_EINVALID, "%d high vulnerabilities (max %d)", counts->high,
                            pol->max_high);
    return 0;
}
