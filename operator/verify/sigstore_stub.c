/* TEMPORARY: delete when sigstore.c lands. Key-based `.sig` and `.att` only, no tlog. */
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "verify/crypto.h"
#include "verify/sigstore.h"

void tg_signed_clear(struct tg_signed *s)
{
    free(s->signer);
    free(s->issuer);
    json_object_put(s->statement);
    memset(s, 0, sizeof(*s));
}

static int key_verify(const struct tg_authority *a, const unsigned char *msg, size_t len,
                      const unsigned char *sig, size_t sig_len, struct tg_signed *out)
{
    for (size_t k = 0; k < a->n_keys; k++) {
        if (tg_sig_verify(a->keys[k], msg, len, sig, sig_len) == 0) {
            out->signer = strdup("key");
            return 0;
        }
    }
    return tg_error_set(TG_EINVALID, "signature does not verify with key %s", a->name);
}

int tg_verify_item(const struct tg_vm_item *item, const char *digest,
                   const struct tg_authority *auth, struct tg_signed *out)
{
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (item->kind == TG_VM_SBOM_ATTACHMENT)
        return tg_error_set(TG_EINVALID, "unsigned .sbom attachment");
    if (item->kind == TG_VM_BUNDLE || auth->n_keys == 0 || auth->tlog_required)
        return tg_error_set(TG_EINVALID, "stub: only key-based without tlog");
    if (item->kind == TG_VM_SIMPLESIGNING) {
        if (!item->signature_b64 ||
            tg_b64_decode(item->signature_b64, strlen(item->signature_b64), &sig, &sig_len))
            return tg_error_set(TG_EINVALID, "no signature annotation");
        rc = key_verify(auth, item->data, item->len, sig, sig_len, out);
        free(sig);
        if (rc == 0 && !strstr((const char *)item->data, digest))
            rc = tg_error_set(TG_EINVALID, "simple-signing payload is for another digest");
        if (rc) {
            tg_signed_clear(out);
            return rc;
        }
        out->is_signature = true;
        out->format = "cosign-v2";
        return 0;
    }
    struct tg_dsse *d = NULL;
    if ((rc = tg_dsse_parse((const char *)item->data, item->len, &d)))
        return rc;
    unsigned char *pae = NULL;
    size_t pae_len = 0;
    rc = tg_dsse_pae(d->payload_type, d->payload, d->payload_len, &pae, &pae_len);
    if (rc == 0)
        rc = d->n_sigs ? key_verify(auth, pae, pae_len, d->sigs[0].sig, d->sigs[0].sig_len, out)
                       : tg_error_set(TG_EINVALID, "no signatures");
    if (rc == 0)
        rc = tg_statement_check(d->payload, d->payload_len, digest, &out->statement);
    free(pae);
    tg_dsse_free(d);
    if (rc) {
        tg_signed_clear(out);
        return rc;
    }
    json_object *pt, *pred;
    if (json_object_object_get_ex(out->statement, "predicateType", &pt))
        out->predicate_type = json_object_get_string(pt);
    if (json_object_object_get_ex(out->statement, "predicate", &pred))
        out->predicate = pred;
    out->format = "cosign-v2";
    return 0;
}

int tg_dsse_parse(const char *json, size_t len, struct tg_dsse **out)
{
    json_object *o = json_tokener_parse(json), *v, *sigs;
    (void)len;
    *out = NULL;
    if (!o)
        return tg_error_set(TG_EINVALID, "dsse: not JSON");
    struct tg_dsse *d = calloc(1, sizeof(*d));
    if (json_object_object_get_ex(o, "payloadType", &v))
        d->payload_type = strdup(json_object_get_string(v));
    if (json_object_object_get_ex(o, "payload", &v))
        tg_b64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &d->payload,
                      &d->payload_len);
    if (json_object_object_get_ex(o, "signatures", &sigs) && json_object_array_length(sigs)) {
        d->sigs = calloc(1, sizeof(*d->sigs));
        d->n_sigs = 1;
        if (json_object_object_get_ex(json_object_array_get_idx(sigs, 0), "sig", &v))
            tg_b64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                          &d->sigs[0].sig, &d->sigs[0].sig_len);
    }
    json_object_put(o);
    if (!d->payload_type || !d->payload) {
        tg_dsse_free(d);
        return tg_error_set(TG_EINVALID, "dsse: malformed");
    }
    *out = d;
    return 0;
}

void tg_dsse_free(struct tg_dsse *d)
{
    if (!d)
        return;
    free(d->payload_type);
    free(d->payload);
    for (size_t i = 0; i < d->n_sigs; i++) {
        free(d->sigs[i].keyid);
        free(d->sigs[i].sig);
    }
    free(d->sigs);
    free(d);
}

int tg_dsse_pae(const char *payload_type, const unsigned char *payload, size_t payload_len,
                unsigned char **out, size_t *out_len)
{
    size_t n = strlen(payload_type) + payload_len + 64;
    *out = malloc(n);
    int h = snprintf((char *)*out, n, "DSSEv1 %zu %s %zu ", strlen(payload_type), payload_type,
                     payload_len);
    memcpy(*out + h, payload, payload_len);
    *out_len = (size_t)h + payload_len;
    return 0;
}

int tg_statement_check(const unsigned char *payload, size_t len, const char *digest,
                       json_object **out)
{
    json_object *o = json_tokener_parse((const char *)payload), *subj, *dg, *sha;
    (void)len;
    *out = NULL;
    if (!o || !json_object_object_get_ex(o, "subject", &subj)) {
        json_object_put(o);
        return tg_error_set(TG_EINVALID, "statement: malformed");
    }
    for (size_t i = 0; i < json_object_array_length(subj); i++) {
        if (json_object_object_get_ex(json_object_array_get_idx(subj, i), "digest", &dg) &&
            json_object_object_get_ex(dg, "sha256", &sha) &&
            strcmp(json_object_get_string(sha), digest + 7) == 0) {
            *out = o;
            return 0;
        }
    }
    json_object_put(o);
    return tg_error_set(TG_EINVALID, "statement: no subject matches %s", digest);
}
