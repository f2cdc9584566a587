/*
 * The cryptographic primitives every verification module shares, on OpenSSL: strict base64,
 * SHA-256, public keys from PEM or DER, and ECDSA/SHA-256 signature checks that take the
 * signature as ASN.1 DER or as IEEE P1363 r||s (sigstore's verifier accepts both).
 *
 * Functions that can fail return 0 or a negative TG_E* code with the last-error message set.
 */
#ifndef TG_VERIFY_CRYPTO_H
#define TG_VERIFY_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

/*
 * Decodes base64: the standard alphabet first, then the URL-safe one; padding optional, no
 * whitespace, no trailing garbage. *out (NUL-terminated for convenience, the NUL not counted)
 * is the caller's to free(). Returns 0, TG_EINVALID (not base64), TG_ENOMEM.
 */
int tg_b64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len);

/* Encodes bytes as standard padded base64. Returns a string the caller frees, NULL when out of
 * memory. */
char *tg_b64_encode(const unsigned char *data, size_t len);

/* SHA-256 of data into out[32]. */
void tg_sha256(const void *data, size_t len, unsigned char out[32]);

/* Lower-case hex of SHA-256 of data into out[65] (NUL-terminated). */
void tg_sha256_hex(const void *data, size_t len, char out[65]);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void tg_hex(const unsigned char *data, size_t n, char *out);

/*
 * True when d is "sha256:" followed by exactly 64 lower-case hex digits (the only digest
 * algorithm we accept).
 */
bool tg_digest_valid(const char *d);

/*
 * True when sha256(data) equals digest ("sha256:<hex>", compared case-insensitively).
 */
bool tg_digest_matches(const char *digest, const void *data, size_t len);

/*
 * Loads a public key from PEM ("PUBLIC KEY", PKIX SPKI) or from a PEM certificate (its subject
 * key). *out is the caller's (EVP_PKEY_free). Returns 0 or TG_EINVALID.
 */
int tg_pubkey_from_pem(const char *pem, size_t len, EVP_PKEY **out);

/* Loads a DER SPKI public key; as tg_pubkey_from_pem. */
int tg_pubkey_from_der(const unsigned char *der, size_t len, EVP_PKEY **out);

/*
 * The DER SPKI encoding of key; *out is the caller's to free(). Returns 0, TG_ENOMEM or
 * TG_EINVALID.
 */
int tg_pubkey_to_der(EVP_PKEY *key, unsigned char **out, size_t *out_len);

/*
 * Verifies sig over msg with key, hashing with SHA-256 (ECDSA, also RSA PKCS#1 v1.5 and
 * Ed25519 keys, which hash themselves). An ECDSA signature may be DER or P1363 r||s.
 * Returns 0 when it verifies, TG_EINVALID when it does not (message says why), TG_ENOMEM.
 */
int tg_sig_verify(EVP_PKEY *key, const unsigned char *msg, size_t msg_len, const unsigned char *sig,
                  size_t sig_len);

/*
 * Verifies sig over an already computed SHA-256 digest (32 bytes) with an ECDSA or RSA
 * PKCS#1 v1.5 key (a sigstore messageSignature). An ECDSA signature may be DER or P1363 r||s.
 * Returns 0 when it verifies, TG_EINVALID when it does not, TG_ENOMEM.
 */
int tg_sig_verify_digest(EVP_PKEY *key, const unsigned char digest[32], const unsigned char *sig,
                         size_t sig_len);

#endif
