/*
 * Sigstore bundles v0.1..v0.3 in protobuf JSON (bytes as std base64, int64 as strings, defaults
 * omitted, enums as strings), parsed into struct tg_bundle; see sigstore.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"
#include "verify/crypto.h"
#include "verify/sigstore.h"

/* A bundle is a few flat objects; a deeper one is refused. */
#define BUNDLE_MAX_DEPTH 16
/* At most this many certificates in x509CertificateChain. */
#define BUNDLE_MAX_CERTS 10
/* At most this many tlogEntries. */
#define BUNDLE_MAX_TLOG 16

static const char *const media_types[] = {
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    NULL,
};

void tg_bundle_free(struct tg_bundle *b)
{
    if (!b)
        return;
    free(b->media_type);
    free(b->leaf_der);
    for (size_t i = 0; i < b->n_chain; i++)
        free(b->chain_der[i]);
    free(b->chain_der);
    free(b->chain_len);
    free(b->public_key_hint);
    for (size_t i = 0; i < b->n_tlog; i++)
        tg_tlog_entry_clear(&b->tlog[i]);
    free(b->tlog);
    tg_dsse_free(b->dsse);
    free(b->signature);
    free(b);
}

/* The object member k of o, or NULL. */
static json_object *jobj(json_object *o, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_object))
        return NULL;
    return v;
}

/* Decodes o.rawBytes (std base64, non-empty) into *out. */
static int raw_bytes(json_object *o, const char *what, unsigned char **out, size_t *out_len)
{
    json_object *v;
    const char *s;

    *out = NULL;
    *out_len = 0;
    if (!json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "rawBytes", &v) ||
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
        return tg_error_set(TG_EINVALID, "bundle: %s.rawBytes missing", what);
    s = json_object_get_string(v);
    if (tg_b64_decode(s, strlen(s), out, out_len) != 0)
        return tg_error_set(TG_EINVALID, "bundle: %s.rawBytes is not base64", what);
    return 0;
}

static int parse_chain(struct tg_bundle *b, json_object *chain)
{
    json_object *certs;
    size_t n;
    int rc;

    if (!json_object_object_get_ex(chain, "certificates", &certs) ||
        !json_object_is_type(certs, json_type_array) || (n = json_object_array_length(certs)) == 0)
        return tg_error_set(TG_EINVALID, "bundle: x509CertificateChain has no certificate");
    if (n > BUNDLE_MAX_CERTS)
        return tg_error_set(TG_EINVALID, "bundle: more than %d certificates", BUNDLE_MAX_CERTS);
    rc = raw_bytes(json_object_array_get_idx(certs, 0), "certificates[0]", &b->leaf_der,
                   &b->leaf_len);
    if (rc != 0 || n == 1)
        return rc;
    b->chain_der = calloc(n - 1, sizeof(*b->chain_der));
    b->chain_len = calloc(n - 1, sizeof(*b->chain_len));
    if (!b->chain_der || !b->chain_len)
        return tg_error_set(TG_ENOMEM, "out of memory parsing a bundle");
    for (size_t i = 1; i < n; i++) {
        b->n_chain = i;
        rc = raw_bytes(json_object_array_get_idx(certs, i), "certificates[i]", &b->chain_der[i - 1],
                       &b->chain_len[i - 1]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int parse_material(struct tg_bundle *b, json_object *vm)
{
    json_object *cert = jobj(vm, "certificate"), *chain = jobj(vm, "x509CertificateChain");
    json_object *pk = jobj(vm, "publicKey"), *tlog;
    size_t n;
    int rc;

    if ((cert != NULL) + (chain != NULL) + (pk != NULL) != 1)
        return tg_error_set(TG_EINVALID, "bundle: verificationMaterial needs exactly one of "
                                         "certificate, x509CertificateChain, publicKey");
    if (cert)
        rc = raw_bytes(cert, "certificate", &b->leaf_der, &b->leaf_len);
    else if (chain)
        rc = parse_chain(b, chain);
    else {
        json_object *hint;
        b->has_public_key = true;
        rc = 0;
        if (json_object_object_get_ex(pk, "hint", &hint) &&
            json_object_is_type(hint, json_type_string)) {
            b->public_key_hint = strdup(json_object_get_string(hint));
            if (!b->public_key_hint)
                rc = tg_error_set(TG_ENOMEM, "out of memory parsing a bundle");
        }
    }
    if (rc != 0)
        return rc;
    if (!json_object_object_get_ex(vm, "tlogEntries", &tlog))
        return 0;
    if (!json_object_is_type(tlog, json_type_array))
        return tg_error_set(TG_EINVALID, "bundle: tlogEntries is not an array");
    n = json_object_array_length(tlog);
    if (n > BUNDLE_MAX_TLOG)
        return tg_error_set(TG_EINVALID, "bundle: more than %d tlogEntries", BUNDLE_MAX_TLOG);
    if (n == 0)
        return 0;
    b->tlog = calloc(n, sizeof(*b->tlog));
    if (!b->tlog)
        return tg_error_set(TG_ENOMEM, "out of memory parsing a bundle");
    for (size_t i = 0; i < n; i++) {
        b->n_tlog = i + 1;
        rc = tg_tlog_entry_from_bundle(json_object_array_get_idx(tlog, i), &b->tlog[i]);
        if (rc != 0)
            return tg_error_wrap(rc, "bundle: tlogEntries[%zu]: ", i);
    }
    return 0;
}

static int parse_message_signature(struct tg_bundle *b, json_object *ms)
{
    json_object *md = jobj(ms, "messageDigest"), *v;
    const char *alg, *s;
    unsigned char *d = NULL;
    size_t n = 0;

    if (!md)
        return tg_error_set(TG_EINVALID, "bundle: messageSignature has no messageDigest");
    if (!json_object_object_get_ex(md, "algorithm", &v) ||
        !json_object_is_type(v, json_type_string) ||
        strcmp((alg = json_object_get_string(v)), "SHA2_256") != 0)
        return tg_error_set(TG_EINVALID, "bundle: messageDigest.algorithm is not SHA2_256");
    if (!json_object_object_get_ex(md, "digest", &v) || !json_object_is_type(v, json_type_string))
        return tg_error_set(TG_EINVALID, "bundle: messageDigest.digest missing");
    s = json_object_get_string(v);
    if (tg_b64_decode(s, strlen(s), &d, &n) != 0 || n != 32) {
        free(d);
        return tg_error_set(TG_EINVALID, "bundle: messageDigest.digest is not 32 base64 bytes");
    }
    memcpy(b->message_digest, d, 32);
    free(d);
    if (!json_object_object_get_ex(ms, "signature", &v) ||
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
        return tg_error_set(TG_EINVALID, "bundle: messageSignature.signature missing");
    s = json_object_get_string(v);
    if (tg_b64_decode(s, strlen(s), &b->signature, &b->signature_len) != 0)
        return tg_error_set(TG_EINVALID, "bundle: messageSignature.signature is not base64");
    b->has_message_signature = true;
    return 0;
}

int tg_bundle_parse(const char *json, size_t len, struct tg_bundle **out)
{
    struct tg_bundle *b;
    json_object *root, *vm, *dsse, *ms;
    const char *mt;
    bool known = false;
    int rc;

    *out = NULL;
    rc = tg_sigstore_json_parse("bundle", json, len, BUNDLE_MAX_DEPTH, &root);
    if (rc != 0)
        return rc;
    b = calloc(1, sizeof(*b));
    if (!b) {
        rc = tg_error_set(TG_ENOMEM, "out of memory parsing a bundle");
        goto put_root;
    }
    rc = TG_EINVALID;
    if (!json_object_is_type(root, json_type_object)) {
        tg_error_set(rc, "bundle: not an object");
        goto free_bundle;
    }
    mt = json_object_is_type(json_object_object_get(root, "mediaType"), json_type_string)
             ? json_object_get_string(json_object_object_get(root, "mediaType"))
             : NULL;
    for (size_t i = 0; mt && media_types[i]; i++)
        known = known || strcmp(mt, media_types[i]) == 0;
    if (!known) {
        tg_error_set(rc, "bundle: unknown media type %s", mt ? mt : "(missing)");
        goto free_bundle;
    }
    b->media_type = strdup(mt);
    if (!b->media_type) {
        rc = tg_error_set(TG_ENOMEM, "out of memory parsing a bundle");
        goto free_bundle;
    }
    vm = jobj(root, "verificationMaterial");
    if (!vm) {
        tg_error_set(rc, "bundle: verificationMaterial missing");
        goto free_bundle;
    }
    rc = parse_material(b, vm);
    if (rc != 0)
        goto free_bundle;
    dsse = jobj(root, "dsseEnvelope");
    ms = jobj(root, "messageSignature");
    if ((dsse != NULL) == (ms != NULL)) {
        rc = tg_error_set(TG_EINVALID,
                          "bundle: needs exactly one of dsseEnvelope and messageSignature");
        goto free_bundle;
    }
    if (dsse) {
        rc = tg_dsse_from_json(dsse, &b->dsse);
        if (rc != 0) {
            rc = tg_error_wrap(rc, "bundle: ");
            goto free_bundle;
        }
    } else {
        rc = parse_message_signature(b, ms);
        if (rc != 0)
            goto free_bundle;
    }
    json_object_put(root);
    *out = b;
    return 0;
free_bundle:
    tg_bundle_free(b);
put_root:
    json_object_put(root);
    return rc;
}

/* ---- messageSignature ------------------------------------------------------------------ */

int tg_bundle_verify_message(EVP_PKEY *key, const struct tg_bundle *b)
{
    if (!b->has_message_signature)
        return tg_error_set(TG_EINVALID, "bundle: no messageSignature");
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
        return tg_error_set(TG_EINVALID, "messageSignature needs an ECDSA or RSA key");
    return tg_sig_verify_digest(key, b->message_digest, b->signature, b->signature_len);
}

int tg_bundle_bind_message(const struct tg_tlog_entry *e, const struct tg_bundle *b)
{
    const unsigned char *sig = b->signature, *md = b->message_digest;
    size_t sig_len = b->signature_len;
    json_object *body, *spec, *v;
    const char *content, *value, *alg;
    unsigned char *dec = NULL;
    size_t dec_len = 0;
    char hex[65];
    int rc = TG_EINVALID;

    if (strcmp(e->kind, "hashedrekord") != 0)
        return tg_error_set(rc, "tlog entry kind %s cannot log a messageSignature", e->kind);
    rc = tg_sigstore_json_parse("tlog body", (const char *)e->body, e->body_len, 16, &body);
    if (rc != 0)
        return rc;
    rc = TG_EINVALID;
    if (!json_object_is_type(json_object_object_get(body, "kind"), json_type_string) ||
        strcmp(json_object_get_string(json_object_object_get(body, "kind")), "hashedrekord") != 0 ||
        !json_object_is_type(json_object_object_get(body, "apiVersion"), json_type_string) ||
        strcmp(json_object_get_string(json_object_object_get(body, "apiVersion")), "0.0.1") != 0 ||
        strcmp(e->version, "0.0.1") != 0) {
        json_object_put(body);
        return tg_error_set(rc, "tlog entry body is not a hashedrekord 0.0.1");
    }
    spec = json_object_object_get(body, "spec");
    v = json_object_object_get(json_object_object_get(spec, "signature"), "content");
    content = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    v = json_object_object_get(json_object_object_get(spec, "data"), "hash");
    alg = json_object_is_type(json_object_object_get(v, "algorithm"), json_type_string)
              ? json_object_get_string(json_object_object_get(v, "algorithm"))
              : NULL;
    value = json_object_is_type(json_object_object_get(v, "value"), json_type_string)
                ? json_object_get_string(json_object_object_get(v, "value"))
                : NULL;
    tg_hex(md, 32, hex);
    if (!content || tg_b64_decode(content, strlen(content), &dec, &dec_len) != 0 ||
        dec_len != sig_len || memcmp(dec, sig, sig_len) != 0)
        tg_error_set(rc, "tlog entry logs another signature");
    else if (!alg || strcmp(alg, "sha256") != 0 || !value || strcasecmp(value, hex) != 0)
        tg_error_set(rc, "tlog entry logs another artifact");
    else
        rc = 0;
    free(dec);
    json_object_put(body);
    return rc;
}
