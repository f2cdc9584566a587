/*
 * A verification policy (the JSON shape at the head of verifier.h), validated and compiled into
 * a struct the judging (verify.h) walks: authorities with where their keys or trusted root come
 * from, and each gate's settings. Parsing is validation: every bad value is refused with its
 * field path, so a policy that parses is one the judging can apply. Also the image and
 * namespace globs of VerificationPolicy objects.
 */
#ifndef TG_VERIFY_POLICY_H
#define TG_VERIFY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "verify/keyless.h"
#include "verify/predicates.h"

/* Where a key, or a trusted root, comes from. */
enum tg_vp_source { TG_VP_DATA, TG_VP_SECRET, TG_VP_CONFIGMAP };

struct tg_vp_ref {
    enum tg_vp_source source;
    char *data;      /* TG_VP_DATA: the inline value */
    char *name;      /* a Secret's or ConfigMap's name */
    char *namespace; /* or NULL: the policy's default namespace */
    char *key;       /* the entry's key */
};

/* One authority. Every string is owned. */
struct tg_vp_authority {
    char *name;
    bool keyless;
    struct tg_vp_ref key;           /* key-based: the PEM public key(s) */
    bool has_root;                  /* keyless always; key-based when key.trustedRoot is given */
    struct tg_vp_ref root;          /* trusted_root.json */
    struct tg_identity_rule *rules; /* keyless; the strings are owned */
    size_t n_rules;
    bool ignore_sct;
    bool tlog_required;
};

/* A set of authorities a gate accepts, as indexes into tg_vpolicy.authorities. */
struct tg_vp_auths {
    size_t *idx;
    size_t n;
};

struct tg_vp_builder {
    char *id;
    struct tg_vp_auths auths; /* the signers allowed to vouch for this builder */
};

/* attestations[i]: a verified in-toto Statement of exactly this predicate type is required. */
struct tg_vp_attestation {
    char *predicate_type;
    struct tg_vp_auths auths;
};

/* A compiled policy. Owned by the caller of tg_vpolicy_parse; tg_vpolicy_free. */
struct tg_vpolicy {
    bool warn;      /* mode: warn */
    bool borrowing; /* defines no authorities: uses the VerificationPolicies' (a Release's) */
    struct tg_vp_authority *authorities;
    size_t n_authorities;

    bool has_signature;
    struct tg_vp_auths sig_auths;
    int threshold;

    bool has_provenance;
    struct tg_vp_auths prov_auths;
    struct tg_vp_builder *builders; /* none: any builder */
    size_t n_builders;
    char **build_types;
    size_t n_build_types;
    char *source_repository;
    char **source_refs;
    size_t n_source_refs;
    bool match_commit; /* default true */

    bool has_sbom;
    struct tg_vp_auths sbom_auths;
    bool sbom_cyclonedx, sbom_spdx; /* the formats allowed (both when not given) */

    bool has_vulnerabilities;
    struct tg_vp_auths vuln_auths;
    struct tg_vuln_policy vuln; /* scanners and allowlist point into the arrays below */
    char **scanners;
    struct tg_allow_entry *allowlist; /* id, package, reason owned (cast away const to free) */
    bool has_vex;
    struct tg_vp_auths vex_auths;

    struct tg_vp_attestation *attestations; /* none: the gate is not asked for */
    size_t n_attestations;
};

/*
 * Validates spec and compiles it. prefix ("spec") is prepended to field paths in messages
 * ("spec.vulnerabilities.maxScanAge: ..."). *out is the caller's (tg_vpolicy_free). Returns 0,
 * TG_EINVALID (the first problem), TG_ENOMEM.
 */
int tg_vpolicy_parse(json_object *spec, const char *prefix, struct tg_vpolicy **out);

/*
 * As tg_vpolicy_parse; with may_borrow, a spec without "authorities" is valid (borrowing: its
 * gates then name no authority), for a Release's policy, which borrows the authorities of the
 * VerificationPolicies that apply (tg_verify_judge lends them).
 */
int tg_vpolicy_parse_ex(json_object *spec, const char *prefix, bool may_borrow,
                        struct tg_vpolicy **out);

void tg_vpolicy_free(struct tg_vpolicy *p);

/*
 * Parses a duration: one or more <integer><unit> with unit s, m, h or d ("168h", "7d",
 * "1h30m"). Returns 0 with *seconds > 0, or TG_EINVALID.
 */
int tg_vp_parse_duration(const char *s, int64_t *seconds);

/*
 * Parses a date: RFC 3339 ("2026-03-01T00:00:00Z", "...+02:00", fractions allowed) or
 * YYYY-MM-DD (midnight UTC at the start of that day). Returns 0 with *unix_s, or TG_EINVALID.
 */
int tg_vp_parse_date(const char *s, int64_t *unix_s);

/*
 * Matches s against glob: '*' matches any run of characters within one '/'-separated segment,
 * '**' any run across segments, '?' one character other than '/'; everything else literally.
 */
bool tg_vp_glob_match(const char *glob, const char *s);

#endif
