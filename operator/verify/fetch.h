/*
 * Collects the verification material of one digest-pinned image from its registry: the image
 * manifest (its bytes checked against the digest), every Sigstore bundle among its referrers
 * (cosign v3), the layers of the `sha256-<hex>.sig` and `.att` tags (cosign v2, with their
 * annotations) and `.sbom` attachments (recorded as untrusted). A 404 on discovery means
 * "none"; any other failure fails the whole fetch (fail closed).
 */
#ifndef TG_VERIFY_FETCH_H
#define TG_VERIFY_FETCH_H

#include "verify/material.h"
#include "verify/registry.h"

struct tg_fetch_options {
    size_t max_items; /* signatures, attestations and bundles in all; 0: 64 */
};

/*
 * The outcome: rc 0 and *material (the caller's, tg_verify_material_free), or a TG_E* code of
 * registry.h and a message saying which document failed; material is then NULL.
 */
typedef void (*tg_fetch_cb)(int rc, const char *message, struct tg_verify_material *material,
                            void *arg);

/*
 * Starts collecting for image ("registry/repo@sha256:<hex>", required to be pinned: otherwise
 * TG_EINVALID at once). creds may be NULL and must live until the callback. Returns 0 (the
 * callback will run exactly once), TG_EINVALID, TG_ENOMEM.
 */
int tg_fetch_material(struct tg_registry *reg, const char *image,
                      const struct tg_registry_creds *creds, const struct tg_fetch_options *opt,
                      tg_fetch_cb cb, void *arg);

#endif
