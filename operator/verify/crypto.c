/*
 * Cryptographic primitives on OpenSSL; see crypto.h.
 */
#include "verify/crypto.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "util/error.h"

/* The value of a base64 character in the standard (url false) or URL-safe alphabet, or -1. */
static int b64_value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Decodes s in one alphabet; TG_EINVALID when a character is outside it. */
static int b64_decode_alphabet(const char *s, size_t len, bool url, unsigned char *out,
                               size_t *out_len)
{
    size_t n = 0, pad = 0;
    unsigned acc = 0;
    int bits = 0;

    while (len > 0 && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (pad > 0 && (len + pad) % 4 != 0)
        return TG_EINVALID;
    if (len % 4 == 1)
        return TG_EINVALID;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[i], url);
        if (v < 0)
            return TG_EINVALID;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* The leftover bits of a final partial group must be zero (canonical encoding). */
    if (bits > 0 && acc != 0)
        return TG_EINVALID;
    *out_len = n;
    return 0;
}

int tg_b64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len)
{
    unsigned char *buf;
    size_t n = 0;

    *out = NULL;
    *out_len = 0;
    buf = malloc(len / 4 * 3 + 4);
    if (!buf)
        return tg_error_set(TG_ENOMEM, "out of memory decoding base64");
    if (b64_decode_alphabet(s, len, false, buf, &n) != 0 &&
        b64_decode_alphabet(s, len, true, buf, &n) != 0) {
        free(buf);
        return tg_error_set(TG_EINVALID, "not base64");
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
}

char *tg_b64_encode(const unsigned char *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

void tg_sha256(const void *data, size_t len, unsigned char out[32])
{
    SHA256(data, len, out);
}

void tg_hex(const unsigned char *data, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * n] = '\0';
}

void tg_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    tg_sha256(data, len, md);
    tg_hex(md, 32, out);
}

bool tg_digest_valid(const char *d)
{
    if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
        return false;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

bool tg_digest_matches(const char *digest, const void *data, size_t len)
{
    char hex[65];

    if (!digest || strncasecmp(digest, "sha256:", 7) != 0 || strlen(digest) != 7 + 64)
        return false;
    tg_sha256_hex(data, len, hex);
    return strcasecmp(digest + 7, hex) == 0;
}

int tg_pubkey_from_pem(const char *pem, size_t len, EVP_PKEY **out)
{
    BIO *bio;
    EVP_PKEY *key;

    *out = NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return tg_error_set(TG_ENOMEM, "out of memory reading a PEM key");
    key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (!key) {
        X509 *cert;
        (void)BIO_reset(bio);
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert) {
            key = X509_get_pubkey(cert);
            X509_free(cert);
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    if (!key)
        return tg_error_set(TG_EINVALID, "not a PEM public key or certificate");
    *out = key;
    return 0;
}

int tg_pubkey_from_der(const unsigned char *der, size_t len, EVP_PKEY **out)
{
    const unsigned char *p = der;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)len);

    *out = NULL;
    ERR_clear_error();
    if (!key || p != der + len) {
        EVP_PKEY_free(key);
        return tg_error_set(TG_EINVALID, "not a DER public key");
    }
    *out = key;
    return 0;
}

int tg_pubkey_to_der(EVP_PKEY *key, unsigned char **out, size_t *out_len)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);

    *out = NULL;
    *out_len = 0;
    if (n <= 0) {
        ERR_clear_error();
        return tg_error_set(TG_EINVALID, "cannot encode the public key");
    }
    *out = malloc((size_t)n);
    if (!*out) {
        OPENSSL_free(der);
        return tg_error_set(TG_ENOMEM, "out of memory encoding a public key");
    }
    memcpy(*out, der, (size_t)n);
    *out_len = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

/* Re-encodes a P1363 r||s ECDSA signature as DER; *der is the caller's (OPENSSL_free). */
static int p1363_to_der(const unsigned char *sig, size_t len, unsigned char **der, int *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r, *s;

    *der = NULL;
    if (!es)
        return TG_ENOMEM;
    r = BN_bin2bn(sig, (int)(len / 2), NULL);
    s = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
    if (!r || !s || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return TG_ENOMEM;
    }
    *der_len = i2d_ECDSA_SIG(es, der);
    ECDSA_SIG_free(es);
    return *der_len > 0 ? 0 : TG_EINVALID;
}

/*
 * One verification of sig: over msg hashed with SHA-256 (Ed25519 hashes itself), or, when
 * prehashed, over msg as the 32-byte SHA-256 digest. 1 verified, 0 not, -1 no memory.
 */
static int verify_once(EVP_PKEY *key, bool prehashed, const unsigned char *msg, size_t msg_len,
                       const unsigned char *sig, size_t sig_len)
{
    int ok;

    if (prehashed) {
        EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
        if (!pctx)
            return -1;
        ok = EVP_PKEY_verify_init(pctx) == 1 &&
             EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
             EVP_PKEY_verify(pctx, sig, sig_len, msg, msg_len) == 1;
        EVP_PKEY_CTX_free(pctx);
    } else {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const EVP_MD *md = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
        if (!ctx)
            return -1;
        ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
        EVP_MD_CTX_free(ctx);
    }
    ERR_clear_error();
    return ok ? 1 : 0;
}

/* verify_once, then, for an ECDSA key, once more with sig read as P1363 r||s. */
static int verify_any_encoding(EVP_PKEY *key, bool prehashed, const unsigned char *msg,
                               size_t msg_len, const unsigned char *sig, size_t sig_len)
{
    int ok = verify_once(key, prehashed, msg, msg_len, sig, sig_len);

    if (ok == 0 && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && sig_len % 2 == 0 && sig_len <= 132) {
        unsigned char *der = NULL;
        int der_len = 0;
        if (p1363_to_der(sig, sig_len, &der, &der_len) == 0)
            ok = verify_once(key, prehashed, msg, msg_len, der, (size_t)der_len);
        OPENSSL_free(der);
    }
    if (ok < 0)
        return tg_error_set(TG_ENOMEM, "out of memory verifying a signature");
    if (ok != 1)
        return tg_error_set(TG_EINVALID, "the signature does not verify with the key");
    return 0;
}

int tg_sig_verify(EVP_PKEY *key, const unsigned char *msg, size_t msg_len, const unsigned char *sig,
                  size_t sig_len)
{
    if (!key || !sig || sig_len == 0)
        return tg_error_set(TG_EINVALID, "no signature");
    return verify_any_encoding(key, false, msg, msg_len, sig, sig_len);
}

int tg_sig_verify_digest(EVP_PKEY *key, const unsigned char digest[32], const unsigned char *sig,
                         size_t sig_len)
{
    return verify_any_encoding(key, true, digest, 32, sig, sig_len);
}
