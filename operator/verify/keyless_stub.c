/* TEMPORARY: delete when keyless.c lands */
/*
 * Stubs of every keyless.h function so that sigstore.c links before keyless.c exists. Each
 * fails closed with "not yet implemented".
 */
#include "verify/keyless.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int tg_trusted_root_parse(const char *json, size_t len, struct tg_trusted_root **out)
{
    (void)json;
    (void)len;
    *out = NULL;
    return tg_error_set(TG_EINVALID, "trusted root: not yet implemented");
}

void tg_trusted_root_free(struct tg_trusted_root *root)
{
    (void)root;
}

void tg_cert_identity_clear(struct tg_cert_identity *id)
{
    if (!id)
        return;
    free(id->issuer);
    free(id->subject);
    id->issuer = NULL;
    id->subject = NULL;
}

int tg_keyless_verify_cert(const struct tg_trusted_root *root, const unsigned char *leaf_der,
                           size_t leaf_len, const unsigned char *const *chain_der,
                           const size_t *chain_len, size_t n_chain, int64_t at_unix,
                           bool ignore_sct, const struct tg_identity_rule *rules, size_t n_rules,
                           EVP_PKEY **key, struct tg_cert_identity *id)
{
    (void)root;
    (void)leaf_der;
    (void)leaf_len;
    (void)chain_der;
    (void)chain_len;
    (void)n_chain;
    (void)at_unix;
    (void)ignore_sct;
    (void)rules;
    (void)n_rules;
    (void)id;
    *key = NULL;
    return tg_error_set(TG_EINVALID, "keyless certificate: not yet implemented");
}

void tg_tlog_entry_clear(struct tg_tlog_entry *e)
{
    if (!e)
        return;
    free(e->set);
    free(e->hashes);
    free(e->checkpoint);
    free(e->body);
    memset(e, 0, sizeof(*e));
}

int tg_tlog_entry_from_bundle(struct json_object *obj, struct tg_tlog_entry *out)
{
    (void)obj;
    memset(out, 0, sizeof(*out));
    return tg_error_set(TG_EINVALID, "tlog entry: not yet implemented");
}

int tg_tlog_entry_from_legacy(const char *json, size_t len, struct tg_tlog_entry *out)
{
    (void)json;
    (void)len;
    memset(out, 0, sizeof(*out));
    return tg_error_set(TG_EINVALID, "tlog entry: not yet implemented");
}

int tg_tlog_verify(const struct tg_trusted_root *root, const struct tg_tlog_entry *e)
{
    (void)root;
    (void)e;
    return tg_error_set(TG_EINVALID, "tlog: not yet implemented");
}

int tg_tlog_verify_with_key(EVP_PKEY *rekor_key, const struct tg_tlog_entry *e)
{
    (void)rekor_key;
    (void)e;
    return tg_error_set(TG_EINVALID, "tlog: not yet implemented");
}

int tg_tlog_bind(const struct tg_tlog_entry *e, const unsigned char *sig, size_t sig_len,
                 const unsigned char *payload, size_t payload_len)
{
    (void)e;
    (void)sig;
    (void)sig_len;
    (void)payload;
    (void)payload_len;
    return tg_error_set(TG_EINVALID, "tlog binding: not yet implemented");
}
