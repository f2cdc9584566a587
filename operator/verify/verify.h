/*
 * The judging: an image's material (material.h), the policies that apply to it and the trust
 * material they reference, in; the status.verification verdict (its shape is at
 * tg_verifier_cb in verifier.h), out. Pure: no I/O, the time is passed in. The same code judges
 * for the operator (verifier.c) and for `kubectl tollgate verify`, online or from saved
 * material.
 *
 * Each policy's authorities are resolved from the materials (PEM keys, trusted_root.json), each
 * (item, authority) pair is verified once (sigstore.h), and the gates the policy asks for are
 * judged: signature (a threshold of distinct authorities), provenance (per-authority builders),
 * SBOM and vulnerabilities (newest scan, OpenVEX from trusted authorities). Every policy must
 * pass; a warn-mode policy's failures are "Warned".
 */
#ifndef TG_VERIFY_VERIFY_H
#define TG_VERIFY_VERIFY_H

#include <stdint.h>

#include <json-c/json.h>

#include "verify/material.h"

/* What one judging takes. Everything is borrowed. */
struct tg_verify_input {
    const char *image; /* "registry/repo@sha256:<hex>" */
    /* The material fetched for image; NULL with failure set. */
    const struct tg_verify_material *material;
    /*
     * When not NULL, no material could be judged for a reason that is the image's own (an
     * unpinned reference): every gate asked for fails with this reason.
     */
    const char *failure;
    /*
     * [{"name": "VerificationPolicy/prod", "spec": {policy}, "namespace"?: "ns"}]: namespace
     * is where the policy's references without a namespace point (a Release's namespace, the
     * operator's for cluster policies); without it a reference matches the one entry of
     * materials with its kind, name and key.
     */
    json_object *policies;
    /* {"Secret/<ns>/<name>/<key>": "<value>", "ConfigMap/...": "..."} or NULL. */
    json_object *materials;
    const char *source_commit; /* or NULL */
    int64_t now_ms;            /* wall clock */
};

/*
 * Checks the policies array's shape and validates every spec (field paths as
 * "policies[0] (VerificationPolicy/prod).spec.signature.threshold: ..."). Returns 0,
 * TG_EINVALID, TG_ENOMEM.
 */
int tg_verify_policies_validate(json_object *policies);

/*
 * Judges in. *out is a new status.verification object (the caller puts it). Returns 0 (the
 * verdict may well be "Failed"), TG_EINVALID (malformed or no policies), TG_ENOMEM.
 */
int tg_verify_judge(const struct tg_verify_input *in, json_object **out);

/* Formats Unix seconds as RFC 3339 UTC ("2026-03-01T12:00:00Z") into buf (at least 32). */
void tg_verify_rfc3339(int64_t unix_s, char *buf, size_t n);

#endif
