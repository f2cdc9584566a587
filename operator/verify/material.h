/*
 * What the registry holds about one image, as collected by fetch.h and judged by verify.h: the
 * image's digest and every signature, attestation and Sigstore bundle found for it, with the
 * annotations that carry certificates and transparency-log bundles. Pure data, no I/O, so that
 * the judging is table-tested from JSON fixtures (tests/fixtures/verify/) and the command line
 * can judge material saved earlier.
 */
#ifndef TG_VERIFY_MATERIAL_H
#define TG_VERIFY_MATERIAL_H

#include <stddef.h>

#include <json-c/json.h>

/* What one item is. */
enum tg_vm_kind {
    TG_VM_SIMPLESIGNING,   /* cosign v2 `.sig` layer: data is the simple-signing payload */
    TG_VM_DSSE,            /* cosign v2 `.att` layer: data is the DSSE envelope JSON */
    TG_VM_BUNDLE,          /* a Sigstore bundle (v0.1..v0.3) found through referrers: its JSON */
    TG_VM_SBOM_ATTACHMENT, /* an unsigned, deprecated `.sbom` attachment: never trusted */
};

/* One signature, attestation or bundle. Every pointer is owned by the material. */
struct tg_vm_item {
    enum tg_vm_kind kind;
    char *source;        /* where it was found, for messages: "sha256-<hex>.sig layer 0" */
    char *media_type;    /* the layer's (or referrer's artifactType) media type */
    unsigned char *data; /* the blob, exactly as fetched and digest-checked; NUL-terminated */
    size_t len;
    /* Layer annotations of cosign v2 (NULL when absent): */
    char *signature_b64;   /* dev.cosignproject.cosign/signature */
    char *certificate_pem; /* dev.sigstore.cosign/certificate */
    char *chain_pem;       /* dev.sigstore.cosign/chain */
    char *rekor_bundle;    /* dev.sigstore.cosign/bundle: the legacy Rekor bundle JSON */
    char *predicate_type;  /* predicateType / dev.sigstore.bundle.predicateType (a hint only) */
};

/* Everything found for one image. */
struct tg_verify_material {
    char *image;  /* "registry/repository@sha256:<hex>" as fetched (after mirror rewriting: the
                     original reference) */
    char *digest; /* "sha256:<hex>": the manifest's bytes hash to it */
    char *manifest_media_type; /* the image manifest's (or index's) media type */
    struct tg_vm_item *items;
    size_t n_items;
    size_t cap_items;
};

/* Makes empty material for image and digest (copied). Returns NULL when out of memory. */
struct tg_verify_material *tg_verify_material_new(const char *image, const char *digest);

/*
 * Appends a copy of item (every string and the data copied). Returns 0 or TG_ENOMEM.
 */
int tg_verify_material_add(struct tg_verify_material *m, const struct tg_vm_item *item);

/* Frees material and everything it holds. NULL is fine. */
void tg_verify_material_free(struct tg_verify_material *m);

/* Frees the strings and data item owns and zeroes it; item itself stays the caller's. */
void tg_vm_item_clear(struct tg_vm_item *it);

/*
 * The JSON form, for fixtures, `kubectl tollgate verify --save-material` and debugging:
 * {"image","digest","manifestMediaType","items":[{"kind":"simplesigning"|"dsse"|"bundle"|
 * "sbom-attachment","source","mediaType","data":<base64>,"signature","certificate","chain",
 * "rekorBundle","predicateType"}]}. Returns a new object (the caller puts it), NULL when out of
 * memory.
 */
json_object *tg_verify_material_to_json(const struct tg_verify_material *m);

/* Reads the JSON form back. *out is the caller's. Returns 0, TG_EINVALID (message says which
 * field), TG_ENOMEM. */
int tg_verify_material_from_json(json_object *obj, struct tg_verify_material **out);

#endif
