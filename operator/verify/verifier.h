/*
 * The verification service the operator and `kubectl tollgate verify` share: it fetches an
 * image's material from its registry (fetch.h), judges it against one or more policies
 * (verify.h), and caches the verdict per (digest, policies, trust material) for a while.
 *
 * A policy is JSON, the same shape in a VerificationPolicy's spec, a Release's spec.verify and
 * the command line's --policy file (docs/api.md, "Verification"):
 *
 *   images: [globs]        # VerificationPolicy only: "*" matches within a path segment,
 *                          # "**" across segments (e.g. registry.example/shop/ then **)
 *   namespaces: [globs]    # VerificationPolicy only, optional: the Releases' namespaces
 *   mode: enforce | warn                   # default enforce
 *   authorities:                           # who may sign; every gate picks among them
 *   - name: ci
 *     key: {data: PEM} | {secretRef: {name, namespace?, key}} | {configMapRef: {...}}
 *     tlog: required | ignore              # default required (Rekor SET or inclusion proof)
 *   - name: gha
 *     keyless:
 *       trustedRoot: {configMapRef: {name, namespace?, key}} | {secretRef: ...} | {data: JSON}
 *       identities: [{issuer | issuerRegExp, subject | subjectRegExp}]   # regexps anchored
 *       insecureIgnoreSCT: false
 *     tlog: required | ignore
 *   signature: {authorities?: [names], threshold?: 1}
 *   provenance: {authorities?, builders: [{id, authorities?}], buildTypes?: [..],
 *                sourceRepository?, sourceRefs?: [..], matchCommit?: true}
 *   sbom: {authorities?, formats?: [cyclonedx, spdx]}
 *   vulnerabilities: {authorities?, maxCritical?: 0, maxHigh?, maxMedium?, maxLow?,
 *                     ignoreUnfixed?: false, unknownSeverity?: high, maxScanAge?: "168h",
 *                     scanners?: [uri prefixes], allowlist?: [{id, package?, expires, reason}],
 *                     vex?: {authorities: [names]}}
 *   attestations: [{predicateType, authorities?}]   # each: a verified Statement of exactly
 *                                                   # that predicate type (any predicate)
 *
 * A gate is required when its section is present. Every policy that applies must pass (a
 * Release's own spec.verify is one more policy: it can add checks, never weaken another's).
 */
#ifndef TG_VERIFY_VERIFIER_H
#define TG_VERIFY_VERIFIER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include <json-c/json.h>

#include "verify/registry.h"

struct tg_verifier;

/*
 * Makes a verifier on loop with a registry client of opt (copied). cache_ttl_ms: how long a
 * verdict is reused (0: 10 minutes). *out is the caller's (tg_verifier_free). Returns 0,
 * TG_ENOMEM, TG_EINVALID.
 */
int tg_verifier_new(uv_loop_t *loop, const struct tg_registry_options *opt, int64_t cache_ttl_ms,
                    struct tg_verifier **out);

/* Cancels runs in flight (their callbacks run with TG_ECANCELED) and frees the verifier; uv
 * handles close asynchronously. NULL is fine. */
void tg_verifier_free(struct tg_verifier *v);

/* One verification. Everything is borrowed until tg_verifier_run returns (it copies). */
struct tg_verify_request {
    const char *image;         /* "registry/repo@sha256:<hex>"; unpinned is a failed verdict */
    const char *source_commit; /* the Release's spec.source.commit, or NULL */
    /*
     * [{"name": "VerificationPolicy/prod" | "Release", "spec": {policy}, "namespace"?}, ...]:
     * namespace is where the policy's references without a namespace point (the Release's
     * namespace for its spec.verify); without it such a reference matches the one entry of
     * materials with its kind, name and key (several: the authority fails as ambiguous).
     */
    json_object *policies;
    /*
     * The contents of what the policies reference, resolved by the caller:
     * {"Secret/<ns>/<name>/<key>": "<value>", "ConfigMap/<ns>/<name>/<key>": "<value>"}.
     * A reference missing here fails its authority with a clear reason ("Secret ns/name key k
     * not found"). Values are the decoded contents (a Secret's data already base64-decoded).
     */
    json_object *materials;
    const struct tg_registry_creds *creds; /* may be NULL; must live until the callback */
    int64_t now_ms;                        /* wall-clock ms: scan age, allow-list expiry */
    bool no_cache;                         /* skip the cache (a re-check) */
};

/*
 * The outcome. rc 0: verification is the Release's status.verification (borrowed for the
 * callback):
 *   {"result": "Passed" | "Failed" | "Warned", "image", "digest", "checkedAt" (RFC 3339),
 *    "policies": [names], "message": first failure or "",
 *    "signature":       {"result": "Verified" | "Failed" | "Warned", "authority", "signer",
 *                        "issuer"?, "format": "cosign-v2" | "sigstore-bundle", "reason"?},
 *    "provenance":      {"result", "authority", "signer", "predicateType", "builder",
 *                        "buildType", "sourceRepository", "ref", "commit", "reason"?},
 *    "sbom":            {"result": "Present" | "Missing" | "Warned", "format", "specVersion",
 *                        "components", "reason"?},
 *    "vulnerabilities": {"result": "Passed" | "Failed" | "Warned", "critical", "high",
 *                        "medium", "low", "unknown", "suppressed", "scanner", "scannedAt",
 *                        "validUntil" (scannedAt + maxScanAge), "reason"?},
 *    "attestations":    {"result": "Verified" | "Failed" | "Warned", "predicateType" (the
 *                        types, or the missing one), "authority", "signer", "issuer"?,
 *                        "format", "reason"?}}
 * Every gate entry also names the "policy" it comes from. With several policies asking for a
 * gate, the entry shown is the first enforce-mode failure, else the first warn-mode one, else
 * the first pass.
 * (a gate no policy asks for is absent). "Warned" is a failure of a policy in warn mode; the
 * whole result is "Failed" when any enforce-mode gate failed.
 * rc < 0: no verdict could be reached (registry unreachable, 5xx, timeout: TG_ETRANSIENT,
 * TG_EUNREACHABLE, TG_ETIMEOUT, TG_ETLS, TG_EUNAUTHORIZED...), message says why; the caller
 * retries with backoff and never passes the Release. TG_ECANCELED when freeing.
 */
typedef void (*tg_verifier_cb)(int rc, const char *message, json_object *verification, void *arg);

/*
 * Starts a verification. Returns 0 (the callback runs exactly once, never before this
 * returns), TG_EINVALID (malformed policies: message says which field), TG_ENOMEM.
 */
int tg_verifier_run(struct tg_verifier *v, const struct tg_verify_request *req, tg_verifier_cb cb,
                    void *arg);

/*
 * Validates one policy spec; on error returns TG_EINVALID with the first problem, as
 * "spec.vulnerabilities.maxScanAge: ..." (prefix is prepended to field paths).
 */
int tg_verify_policy_validate(json_object *spec, const char *prefix);

/*
 * Validates a Release's spec.verify: as tg_verify_policy_validate, but the spec may leave
 * "authorities" out. It then borrows the authorities of every VerificationPolicy that applies to
 * the image (their names, and on a clash "<policy>/<name>"), and its gates must name none: a
 * Release that only tightens a ceiling need not repeat the platform team's keys. With no
 * VerificationPolicy to lend any, its gates fail ("borrows ... but no VerificationPolicy that
 * applies has authorities").
 */
int tg_verify_policy_validate_release(json_object *spec, const char *prefix);

/*
 * The Secrets and ConfigMaps a policy spec references, as a new array of
 * {"kind": "Secret" | "ConfigMap", "namespace", "name", "key"}; a reference without a namespace
 * gets default_namespace. *out is the caller's (json_object_put). Returns 0, TG_ENOMEM.
 */
int tg_verify_policy_refs(json_object *spec, const char *default_namespace, json_object **out);

/*
 * True when a VerificationPolicy spec applies to image (its images globs) in namespace (its
 * optional namespaces globs).
 */
bool tg_verify_policy_matches(json_object *spec, const char *image, const char *namespace);

#endif
