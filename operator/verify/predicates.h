/*
 * The attestation predicates the gates judge, once the attestation's signature and subject are
 * verified (sigstore.h): SLSA provenance v0.2 and v1, SBOMs (CycloneDX, SPDX), and
 * vulnerability reports (the cosign vuln predicate with a Trivy or Grype report inside, in-toto
 * vulns v0.1/v0.2, CycloneDX vulnerabilities), with the ceiling policy of
 * ../shared/supply-chain-formats.md §6 and OpenVEX suppression. Pure: JSON in, verdict out;
 * the time is passed in. Unknown shapes fail closed.
 */
#ifndef TG_VERIFY_PREDICATES_H
#define TG_VERIFY_PREDICATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Predicate type classes: exact URIs, with aliases (supply-chain-formats.md §3). */
bool tg_pred_is_provenance(const char *predicate_type);
bool tg_pred_is_sbom(const char *predicate_type); /* CycloneDX or SPDX */
bool tg_pred_is_vuln(const char *predicate_type); /* cosign vuln, in-toto vulns */
bool tg_pred_is_openvex(const char *predicate_type);
bool tg_pred_is_cosign_sign(const char *predicate_type); /* https://sigstore.dev/cosign/sign/v1 */

/* What provenance must say. Borrowed. NULL / 0 entries mean "no requirement". */
struct tg_provenance_policy {
    const char *const *builder_ids; /* allowed builder.id values (exact); at least one required */
    size_t n_builder_ids;
    const char *const *build_types; /* allowed buildType values (exact) */
    size_t n_build_types;
    const char *source_repository;  /* "https://github.com/org/repo"; git+ and .git forms match */
    const char *const *source_refs; /* allowed refs ("refs/heads/main"), exact */
    size_t n_source_refs;
    const char *commit; /* must equal the provenance's source commit when both exist */
};

/* What the provenance said. Owned strings; tg_provenance_clear. */
struct tg_provenance {
    char *builder_id, *build_type, *source_repository, *ref, *commit;
};
void tg_provenance_clear(struct tg_provenance *p);

/*
 * Reads a SLSA v0.2 or v1 predicate into *out and judges it against pol. Returns 0 (passed),
 * TG_EINVALID (failed or malformed; the message says which field and what was expected),
 * TG_ENOMEM. *out is filled as far as it could be read, also on failure.
 */
int tg_provenance_check(const char *predicate_type, json_object *predicate,
                        const struct tg_provenance_policy *pol, struct tg_provenance *out);

/* An SBOM's summary. Owned; tg_sbom_clear. */
struct tg_sbom {
    char *format;       /* "CycloneDX" or "SPDX" */
    char *spec_version; /* "1.5", "SPDX-2.3" */
    size_t components;  /* components (CycloneDX, nested counted) or packages (SPDX) */
};
void tg_sbom_clear(struct tg_sbom *s);

/* Checks that predicate is an SBOM that parses (CycloneDX: bomFormat and specVersion; SPDX:
 * spdxVersion "SPDX-..."). Returns 0, TG_EINVALID, TG_ENOMEM. */
int tg_sbom_check(const char *predicate_type, json_object *predicate, struct tg_sbom *out);

enum tg_severity {
    TG_SEV_NONE,
    TG_SEV_LOW,
    TG_SEV_MEDIUM,
    TG_SEV_HIGH,
    TG_SEV_CRITICAL,
    TG_SEV_UNKNOWN, /* counted apart, judged as vuln_policy.unknown_as */
};

/* One finding, unique per (id, package). */
struct tg_finding {
    char *id;
    char *package;
    enum tg_severity severity;
    bool fixed_available; /* a fix exists (Trivy Status fixed / FixedVersion; Grype fix.state) */
};

/* A parsed vulnerability report. Owned; tg_vuln_report_free. */
struct tg_vuln_report {
    char *scanner_uri; /* predicate.scanner.uri, or the report's own scanner name */
    char *scanner_version;
    int64_t scanned_at; /* Unix seconds: scanFinishedOn, Trivy CreatedAt, Grype timestamp; 0 none */
    struct tg_finding *findings;
    size_t n_findings;
};
void tg_vuln_report_free(struct tg_vuln_report *r);

/* Reads a vulnerability predicate (cosign vuln with Trivy or Grype inside, in-toto vulns, or a
 * CycloneDX BOM's vulnerabilities). Unknown scanner.result shapes: TG_EINVALID. */
int tg_vuln_parse(const char *predicate_type, json_object *predicate, struct tg_vuln_report **out);

/* One allow-list entry. Borrowed. */
struct tg_allow_entry {
    const char *id;
    const char *package; /* or NULL: any package */
    int64_t expires;     /* Unix seconds; the entry stops applying at that time */
    const char *reason;
};

/* The ceiling. A max of -1 means unbounded. */
struct tg_vuln_policy {
    int max_critical, max_high, max_medium, max_low;
    bool ignore_unfixed;
    enum tg_severity unknown_as; /* default TG_SEV_HIGH */
    int64_t max_scan_age_s;      /* 0: no limit */
    const char *const *scanners; /* allowed scanner.uri prefixes; none: any */
    size_t n_scanners;
    const struct tg_allow_entry *allowlist;
    size_t n_allowlist;
};

/* The verdict's counts. */
struct tg_vuln_counts {
    int critical, high, medium, low, unknown; /* after allow-list, VEX and ignore-unfixed */
    int suppressed;                           /* by the allow-list or VEX */
};

/*
 * Judges a report: scanner, scan age at now_s, then counts against the ceiling. vex is an
 * array of verified OpenVEX predicates (NULL: none) whose not_affected/fixed statements
 * suppress findings by vulnerability name. Returns 0 (passed), TG_EINVALID (failed: "2 critical
 * vulnerabilities (max 0): CVE-..., CVE-...", "scan is 9 days old (max 7 days)"), TG_ENOMEM.
 * *counts is filled in either case.
 */
int tg_vuln_judge(const struct tg_vuln_report *r, const struct tg_vuln_policy *pol, int64_t now_s,
                  json_object *vex, struct tg_vuln_counts *counts);

#endif
