/*
 * Helpers the verification tests share: ECDSA/SHA-256 signatures, key and certificate PEMs made
 * with OpenSSL in the test. Header-only (static inline, so a test uses what it needs); include it
 * after cmocka.h. Every helper asserts its own success; what it returns is the caller's to
 * free().
 */
#ifndef TG_TESTS_VERIFY_TESTLIB_H
#define TG_TESTS_VERIFY_TESTLIB_H

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "verify/crypto.h"

/* The DER signature of msg with key, hashing with SHA-256; *sig_len its length. */
static inline unsigned char *vt_sign_der(EVP_PKEY *key, const void *msg, size_t len,
                                         size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig;

    assert_non_null(ctx);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, NULL, sig_len, msg, len), 1);
    sig = malloc(*sig_len);
    assert_non_null(sig);
    assert_int_equal(EVP_DigestSign(ctx, sig, sig_len, msg, len), 1);
    EVP_MD_CTX_free(ctx);
    return sig;
}

/* The base64 of vt_sign_der's signature of msg. */
static inline char *vt_sign_b64(EVP_PKEY *key, const void *msg, size_t len)
{
    size_t n;
    unsigned char *sig = vt_sign_der(key, msg, len, &n);
    char *b = tg_b64_encode(sig, n);

    free(sig);
    assert_non_null(b);
    return b;
}

/* The bytes written to the memory BIO bio as a NUL-terminated string; frees bio. */
static inline char *vt_bio_string(BIO *bio)
{
    char *data, *out;
    long n = BIO_get_mem_data(bio, &data);

    out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

/* The PEM (SubjectPublicKeyInfo) of key's public half. */
static inline char *vt_pub_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());

    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
    return vt_bio_string(bio);
}

/* The PEM of certificate x. */
static inline char *vt_cert_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());

    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    return vt_bio_string(bio);
}

#endif
