/*
 * Keyless (Fulcio/Rekor) verification offline, on OpenSSL: the trusted root
 * (trusted_root.json: Fulcio CA chains, Rekor and CT log keys), the signing certificate's chain
 * at the signing time with the code-signing EKU, its embedded SCTs (OpenSSL's CT API), the
 * identity in it (issuer OID 1.3.6.1.4.1.57264.1.8, falling back to .1.1; SANs) matched against
 * exact values or anchored POSIX regular expressions, and transparency-log entries: the SET
 * (inclusion promise), the inclusion proof and its signed checkpoint, and the entry's body
 * bound to the signature it logs. ../shared/supply-chain-formats.md §5 is the reference.
 *
 * Pure functions over bytes: no I/O, no clock. Every check fails closed with a reason in the
 * last-error message.
 */
#ifndef TG_VERIFY_KEYLESS_H
#define TG_VERIFY_KEYLESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct tg_trusted_root;

/* Parses trusted_root.json. *out is the caller's. Returns 0, TG_EINVALID, TG_ENOMEM. */
int tg_trusted_root_parse(const char *json, size_t len, struct tg_trusted_root **out);
void tg_trusted_root_free(struct tg_trusted_root *root);

/* One identity rule: exact values or regular expressions (NULL: any). */
struct tg_identity_rule {
    const char *issuer;
    const char *issuer_regexp; /* anchored: "^...$" is implied when absent */
    const char *subject;
    const char *subject_regexp;
};

/* What a verified certificate says about its signer. Owned strings; tg_cert_identity_clear. */
struct tg_cert_identity {
    char *issuer;  /* the OIDC issuer (OID .1.8, else .1.1), or NULL */
    char *subject; /* the SAN that matched a rule (URI, email, DNS, IP or Fulcio username) */
};
void tg_cert_identity_clear(struct tg_cert_identity *id);

/*
 * Verifies a leaf certificate (DER) and optional untrusted intermediates (DER each) against the
 * root's certificate authorities at time at_unix (the signing time, never "now"): the chain, the
 * CA's validFor window, EKU codeSigning, at least one valid embedded SCT from the root's CT logs
 * (unless ignore_sct), and that an identity rule matches (any rule; with n_rules 0 nothing
 * matches). On success *key is the leaf's public key (the caller's) and *id says who signed.
 * Returns 0, TG_EINVALID (the reason in the message: "certificate chain: ...", "no valid SCT",
 * "identity ... does not match"), TG_ENOMEM.
 */
int tg_keyless_verify_cert(const struct tg_trusted_root *root, const unsigned char *leaf_der,
                           size_t leaf_len, const unsigned char *const *chain_der,
                           const size_t *chain_len, size_t n_chain, int64_t at_unix,
                           bool ignore_sct, const struct tg_identity_rule *rules, size_t n_rules,
                           EVP_PKEY **key, struct tg_cert_identity *id);

/* A transparency-log entry (a bundle's tlogEntries[i], or a legacy cosign Rekor bundle). */
struct tg_tlog_entry {
    int64_t log_index;
    unsigned char log_id[32]; /* sha256 of the log's SPKI */
    char kind[32];            /* "hashedrekord", "dsse", "intoto" */
    char version[16];         /* "0.0.1", "0.0.2" */
    int64_t integrated_time;  /* Unix seconds */
    unsigned char *set;       /* signedEntryTimestamp, or NULL */
    size_t set_len;
    bool has_proof;
    int64_t proof_index, tree_size;
    unsigned char root_hash[32];
    unsigned char (*hashes)[32];
    size_t n_hashes;
    char *checkpoint;    /* the signed note, or NULL */
    unsigned char *body; /* canonicalizedBody, decoded */
    size_t body_len;
};
void tg_tlog_entry_clear(struct tg_tlog_entry *e);

/* Reads a bundle's tlogEntries[i] JSON object (protobuf JSON: int64 as strings, defaults
 * omitted). Returns 0, TG_EINVALID, TG_ENOMEM. */
struct json_object;
int tg_tlog_entry_from_bundle(struct json_object *obj, struct tg_tlog_entry *out);

/* Reads cosign's legacy dev.sigstore.cosign/bundle annotation
 * ({"SignedEntryTimestamp","Payload":{"body","integratedTime","logIndex","logID"}}). */
int tg_tlog_entry_from_legacy(const char *json, size_t len, struct tg_tlog_entry *out);

/*
 * Verifies an entry against the root's transparency logs: the SET with the log key whose
 * logId matches and whose validFor contains integratedTime, or the inclusion proof up to the
 * root hash and the checkpoint signed by that log (either suffices; a present one that fails
 * fails the entry). Returns 0, TG_EINVALID, TG_ENOMEM.
 */
int tg_tlog_verify(const struct tg_trusted_root *root, const struct tg_tlog_entry *e);

/*
 * As tg_tlog_verify, but with a single Rekor public key (a key-based authority's Rekor key)
 * instead of a trusted root. SET only.
 */
int tg_tlog_verify_with_key(EVP_PKEY *rekor_key, const struct tg_tlog_entry *e);

/*
 * Checks that the entry's body logs this very signature: hashedrekord 0.0.1 (signature and
 * sha256(payload)), dsse 0.0.1 (the one signature and sha256 of the decoded payload), intoto
 * 0.0.2 (base64 of base64 of the signature, sha256(payload)). payload is the signed message for
 * hashedrekord and the DSSE payload (not the PAE) otherwise. Returns 0 or TG_EINVALID.
 */
int tg_tlog_bind(const struct tg_tlog_entry *e, const unsigned char *sig, size_t sig_len,
                 const unsigned char *payload, size_t payload_len);

#endif
