/*
 * The signed formats of cosign and Sigstore, and the verification of one signed item against
 * one authority: cosign v2 simple-signing payloads (`.sig`), DSSE envelopes and their PAE
 * (`.att`), in-toto Statements and their subject check, and Sigstore bundles v0.1..v0.3 (cosign
 * v3, found through referrers). ../shared/supply-chain-formats.md §2-§5 is the reference.
 *
 * Pure functions over bytes: no I/O, no clock. Everything fails closed with a reason in the
 * last-error message.
 */
#ifndef TG_VERIFY_SIGSTORE_H
#define TG_VERIFY_SIGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "verify/keyless.h"
#include "verify/material.h"

/* A DSSE envelope. Owned by the struct; tg_dsse_free (NULL is fine). */
struct tg_dsse_sig {
    char *keyid;
    unsigned char *sig;
    size_t sig_len;
};
struct tg_dsse {
    char *payload_type;
    unsigned char *payload; /* decoded */
    size_t payload_len;
    struct tg_dsse_sig *sigs;
    size_t n_sigs;
};

/*
 * Parses an envelope: JSON text (strictly, see tg_sigstore_json_parse), or an already parsed
 * object (borrowed). payloadType and at least one signature (at most 16) are required; payload
 * and sig are base64 (std, then URL-safe). *out is the caller's. Returns 0, TG_EINVALID
 * ("dsse: ..."), TG_ENOMEM.
 */
int tg_dsse_parse(const char *json, size_t len, struct tg_dsse **out);
int tg_dsse_from_json(json_object *obj, struct tg_dsse **out);
void tg_dsse_free(struct tg_dsse *d);

/* The PAE bytes: "DSSEv1 <len> <type> <len> <payload>". *out is the caller's. */
int tg_dsse_pae(const char *payload_type, const unsigned char *payload, size_t payload_len,
                unsigned char **out, size_t *out_len);

/*
 * Parses an in-toto Statement (v0.1 or v1) and checks that a subject's digest.sha256 equals
 * digest ("sha256:<hex>"). *out is the parsed statement (the caller puts it). Returns 0,
 * TG_EINVALID ("statement: no subject matches sha256:..."), TG_ENOMEM.
 */
int tg_statement_check(const unsigned char *payload, size_t len, const char *digest,
                       json_object **out);

/*
 * Checks a cosign simple-signing payload: critical.type, and critical.image.
 * docker-manifest-digest equal to digest; duplicate keys are refused. Returns 0, TG_EINVALID.
 */
int tg_simplesigning_check(const unsigned char *payload, size_t len, const char *digest);

/*
 * Parses JSON text strictly for the signed formats: at most depth levels of nesting, UTF-8
 * validated, no NUL byte and no \u0000 escape, nothing but whitespace after the value, and no
 * duplicate key in any object at any depth (json-c keeps the last duplicate silently, other
 * verifiers the first or fail: a parser differential an attacker could use). Duplicates are
 * found by a second pass over the text in step with the parsed tree: an object of the text
 * with more members than json-c's object had a duplicate. what names the document in messages.
 * *out is the caller's (json_object_put). Returns 0, TG_EINVALID, TG_ENOMEM.
 */
int tg_sigstore_json_parse(const char *what, const char *text, size_t len, int depth,
                           json_object **out);

/*
 * A Sigstore bundle v0.1..v0.3 (protobuf JSON), parsed and checked for shape. Owned by the
 * struct; tg_bundle_free. Exactly one of leaf_der and has_public_key; exactly one of dsse and
 * has_message_signature.
 */
struct tg_bundle {
    char *media_type;
    unsigned char *leaf_der; /* verificationMaterial.certificate, or the chain's first */
    size_t leaf_len;
    unsigned char **chain_der; /* the rest of x509CertificateChain (untrusted intermediates) */
    size_t *chain_len;
    size_t n_chain;
    bool has_public_key;        /* verificationMaterial.publicKey */
    char *public_key_hint;      /* its hint, or NULL (informational: every key is tried) */
    struct tg_tlog_entry *tlog; /* tlogEntries */
    size_t n_tlog;
    struct tg_dsse *dsse; /* dsseEnvelope, or NULL */
    bool has_message_signature;
    unsigned char message_digest[32]; /* messageSignature.messageDigest (SHA2_256 only) */
    unsigned char *signature;         /* messageSignature.signature */
    size_t signature_len;
};

/* Parses a bundle's JSON (media types ...bundle.v0.3+json and ...bundle+json;version=0.1|0.2|0.3;
 * tlogEntries through tg_tlog_entry_from_bundle). *out is the caller's; tg_bundle_free (NULL is
 * fine). Returns 0, TG_EINVALID ("bundle: ..."), TG_ENOMEM. */
int tg_bundle_parse(const char *json, size_t len, struct tg_bundle **out);
void tg_bundle_free(struct tg_bundle *b);

/*
 * Verifies a messageSignature bundle's signature over its messageDigest (a signature over the
 * artifact's bytes, checked prehashed; ECDSA DER or P1363, or RSA) with key. Returns 0,
 * TG_EINVALID, TG_ENOMEM.
 */
int tg_bundle_verify_message(EVP_PKEY *key, const struct tg_bundle *b);

/*
 * Checks that a hashedrekord tlog entry logs a messageSignature bundle's signature and digest
 * (tg_tlog_bind hashes a payload, which a messageSignature does not carry). Returns 0,
 * TG_EINVALID, TG_ENOMEM.
 */
int tg_bundle_bind_message(const struct tg_tlog_entry *e, const struct tg_bundle *b);

/* One authority of a policy, resolved: keys, or a trusted root and identity rules. Borrowed. */
struct tg_authority {
    const char *name;
    EVP_PKEY *const *keys; /* key-based: one or more public keys */
    size_t n_keys;
    const struct tg_trusted_root *root; /* keyless (and the Rekor keys for the tlog) */
    const struct tg_identity_rule *rules;
    size_t n_rules;
    bool ignore_sct;
    bool tlog_required;  /* a verified tlog entry bound to the signature is required */
    EVP_PKEY *rekor_key; /* key-based with tlog required: the Rekor key, when no root */
};

/* What verifying one item against one authority found. Owned; tg_signed_clear. */
struct tg_signed {
    bool is_signature;      /* a `.sig`, or a bundle with predicate sigstore.dev/cosign/sign/v1 */
    const char *format;     /* "cosign-v2" or "sigstore-bundle" (static) */
    char *signer;           /* "key sha256:<fingerprint>" or the certificate's subject */
    char *issuer;           /* keyless: the OIDC issuer */
    int64_t signed_at;      /* verified tlog integratedTime, 0 when none */
    json_object *statement; /* DSSE items: the in-toto Statement (subject already checked) */
    const char *predicate_type; /* borrowed from statement */
    json_object *predicate;     /* borrowed from statement */
};
void tg_signed_clear(struct tg_signed *s);

/*
 * Verifies one item of material for digest against one authority: the format's parsing, the
 * signature (over the payload, or the PAE), the certificate (keyless), the tlog entry when the
 * authority requires it (SET/proof and body binding), and the payload's binding to digest
 * (simple-signing digest, or the Statement's subject). Returns 0 with *out filled, TG_EINVALID
 * with the reason in the message ("signature does not verify with key ci", "bundle: ..."),
 * TG_ENOMEM. SBOM attachments are never verified (TG_EINVALID "unsigned .sbom attachment").
 * An authority without keys is keyless: it needs root, a certificate (the layer's annotations or
 * the bundle's) and always a verified tlog entry bound to the signature, whose integratedTime is
 * the time the certificate is checked at. A key-based authority checks the tlog only when
 * tlog_required (with root's Rekor keys, else rekor_key); a raw `.att` envelope passes when one
 * of its signatures does, a bundle's envelope must have exactly one. On failure *out is empty.
 */
int tg_verify_item(const struct tg_vm_item *item, const char *digest,
                   const struct tg_authority *auth, struct tg_signed *out);

#endif
