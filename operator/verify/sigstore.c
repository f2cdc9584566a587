/*
 * The signed formats of cosign and Sigstore: strict JSON, DSSE and its PAE, in-toto Statements,
 * simple-signing payloads, and the verification of one item against one authority; see
 * sigstore.h. Bundles are parsed in bundle.c.
 */
#include "verify/sigstore.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "util/error.h"
#include "verify/crypto.h"
#include "verify/jsonutil.h"

/* Nesting limit of a payload (a Statement with its predicate, a simple-signing payload). */
#define PAYLOAD_MAX_DEPTH 64
/* Nesting limit of an envelope (a flat object). */
#define ENVELOPE_MAX_DEPTH 8
/* At most this many signatures in one envelope. */
#define DSSE_MAX_SIGS 16
/* At most this many certificates in an annotation's chain. */
#define CHAIN_MAX 10

#define INTOTO_PAYLOAD_TYPE   "application/vnd.in-toto+json"
#define COSIGN_SIGN_PREDICATE "https://sigstore.dev/cosign/sign/v1"

/* ---- strict JSON ---------------------------------------------------------------------- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(const char *s, size_t len, size_t *pos)
{
    while (*pos < len && is_ws(s[*pos]))
        (*pos)++;
}

/*
 * Skips a string starting at its opening quote; false on a \u0000 escape, which json-c cuts a
 * key at (so "a\u0000b" would read as "a" here and as another key elsewhere).
 */
static bool skip_string(const char *s, size_t len, size_t *pos)
{
    (*pos)++;
    while (*pos < len) {
        char c = s[(*pos)++];
        if (c == '\\') {
            if (len - *pos >= 5 && memcmp(s + *pos, "u0000", 5) == 0)
                return false;
            (*pos)++;
        } else if (c == '"') {
            return true;
        }
    }
    return false;
}

/*
 * Walks the raw text of a value from *pos in step with v, the value json-c parsed from it, and
 * returns false when an object of the text has more members than its parsed object: json-c
 * merged a duplicate key. json-c keeps an object's members in the order of their first
 * appearance, so the i-th member of the text is the i-th entry of the object when there is no
 * duplicate; any disagreement of kinds (only possible after a merge) is also refused.
 */
static bool walk_no_dup(const char *s, size_t len, size_t *pos, json_object *v)
{
    skip_ws(s, len, pos);
    if (*pos >= len)
        return false;
    if (s[*pos] == '{') {
        struct lh_entry *e;
        if (!json_object_is_type(v, json_type_object))
            return false;
        e = lh_table_head(json_object_get_object(v));
        (*pos)++;
        skip_ws(s, len, pos);
        if (*pos < len && s[*pos] == '}') {
            (*pos)++;
            return e == NULL;
        }
        for (;;) {
            skip_ws(s, len, pos);
            if (*pos >= len || s[*pos] != '"' || !skip_string(s, len, pos))
                return false;
            skip_ws(s, len, pos);
            if (*pos >= len || s[*pos] != ':' || !e)
                return false;
            (*pos)++;
            if (!walk_no_dup(s, len, pos, (json_object *)lh_entry_v(e)))
                return false;
            e = lh_entry_next(e);
            skip_ws(s, len, pos);
            if (*pos >= len)
                return false;
            if (s[*pos] == '}') {
                (*pos)++;
                return e == NULL;
            }
            if (s[(*pos)++] != ',')
                return false;
        }
    }
    if (s[*pos] == '[') {
        size_t i = 0, n;
        if (!json_object_is_type(v, json_type_array))
            return false;
        n = json_object_array_length(v);
        (*pos)++;
        skip_ws(s, len, pos);
        if (*pos < len && s[*pos] == ']') {
            (*pos)++;
            return n == 0;
        }
        for (;;) {
            if (i >= n || !walk_no_dup(s, len, pos, json_object_array_get_idx(v, i)))
                return false;
            i++;
            skip_ws(s, len, pos);
            if (*pos >= len)
                return false;
            if (s[*pos] == ']') {
                (*pos)++;
                return i == n;
            }
            if (s[(*pos)++] != ',')
                return false;
        }
    }
    if (s[*pos] == '"')
        return skip_string(s, len, pos);
    while (*pos < len && !is_ws(s[*pos]) && s[*pos] != ',' && s[*pos] != ']' && s[*pos] != '}')
        (*pos)++;
    return true;
}

int tg_sigstore_json_parse(const char *what, const char *text, size_t len, int depth,
                           json_object **out)
{
    struct json_tokener *tok;
    json_object *obj;
    enum json_tokener_error jerr;
    size_t end, pos = 0;

    *out = NULL;
    if (!text || len == 0)
        return tg_error_set(TG_EINVALID, "%s: empty", what);
    if (len > INT_MAX)
        return tg_error_set(TG_EINVALID, "%s: too large", what);
    if (memchr(text, '\0', len))
        return tg_error_set(TG_EINVALID, "%s: NUL byte in JSON", what);
    tok = json_tokener_new_ex(depth);
    if (!tok)
        return tg_error_set(TG_ENOMEM, "out of memory parsing %s", what);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success) {
        json_object_put(obj);
        if (jerr == json_tokener_continue)
            return tg_error_set(TG_EINVALID, "%s: truncated JSON", what);
        return tg_error_set(TG_EINVALID, "%s: not JSON: %s at offset %zu", what,
                            json_tokener_error_desc(jerr), end);
    }
    while (end < len && is_ws(text[end]))
        end++;
    if (end != len) {
        json_object_put(obj);
        return tg_error_set(TG_EINVALID, "%s: trailing data after JSON at offset %zu", what, end);
    }
    if (!walk_no_dup(text, len, &pos, obj)) {
        json_object_put(obj);
        return tg_error_set(TG_EINVALID, "%s: duplicate key (or a \\u0000 escape) in JSON", what);
    }
    *out = obj;
    return 0;
}

/* ---- DSSE ------------------------------------------------------------------------------- */

void tg_dsse_free(struct tg_dsse *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_sigs; i++) {
        free(d->sigs[i].keyid);
        free(d->sigs[i].sig);
    }
    free(d->sigs);
    free(d->payload_type);
    free(d->payload);
    free(d);
}

int tg_dsse_from_json(json_object *obj, struct tg_dsse **out)
{
    struct tg_dsse *d;
    json_object *sigs;
    const char *type;
    size_t n;
    int rc;

    *out = NULL;
    if (!json_object_is_type(obj, json_type_object))
        return tg_error_set(TG_EINVALID, "dsse: not an object");
    type = tg_json_str(obj, "payloadType");
    if (!type || type[0] == '\0')
        return tg_error_set(TG_EINVALID, "dsse: payloadType missing");
    if (!json_object_object_get_ex(obj, "signatures", &sigs) ||
        !json_object_is_type(sigs, json_type_array))
        return tg_error_set(TG_EINVALID, "dsse: signatures missing or not an array");
    n = json_object_array_length(sigs);
    if (n == 0)
        return tg_error_set(TG_EINVALID, "dsse: no signature");
    if (n > DSSE_MAX_SIGS)
        return tg_error_set(TG_EINVALID, "dsse: more than %d signatures", DSSE_MAX_SIGS);
    d = calloc(1, sizeof(*d));
    if (!d)
        return tg_error_set(TG_ENOMEM, "out of memory parsing dsse");
    d->payload_type = strdup(type);
    d->sigs = calloc(n, sizeof(*d->sigs));
    if (!d->payload_type || !d->sigs) {
        rc = tg_error_set(TG_ENOMEM, "out of memory parsing dsse");
        goto free_dsse;
    }
    rc = tg_json_b64(obj, "payload", true, "dsse", &d->payload, &d->payload_len);
    if (rc != 0)
        goto free_dsse;
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(sigs, i);
        const char *keyid;
        if (!json_object_is_type(s, json_type_object)) {
            rc = tg_error_set(TG_EINVALID, "dsse: signatures[%zu] is not an object", i);
            goto free_dsse;
        }
        d->n_sigs = i + 1;
        rc = tg_json_b64(s, "sig", false, "dsse signature", &d->sigs[i].sig, &d->sigs[i].sig_len);
        if (rc != 0)
            goto free_dsse;
        keyid = tg_json_str(s, "keyid");
        d->sigs[i].keyid = strdup(keyid ? keyid : "");
        if (!d->sigs[i].keyid) {
            rc = tg_error_set(TG_ENOMEM, "out of memory parsing dsse");
            goto free_dsse;
        }
    }
    *out = d;
    return 0;
free_dsse:
    tg_dsse_free(d);
    return rc;
}

int tg_dsse_parse(const char *json, size_t len, struct tg_dsse **out)
{
    json_object *obj;
    int rc;

    *out = NULL;
    rc = tg_sigstore_json_parse("dsse", json, len, ENVELOPE_MAX_DEPTH, &obj);
    if (rc != 0)
        return rc;
    rc = tg_dsse_from_json(obj, out);
    json_object_put(obj);
    return rc;
}

int tg_dsse_pae(const char *payload_type, const unsigned char *payload, size_t payload_len,
                unsigned char **out, size_t *out_len)
{
    size_t tlen = strlen(payload_type);
    int head_len = snprintf(NULL, 0, "DSSEv1 %zu %s %zu ", tlen, payload_type, payload_len);
    unsigned char *buf;

    *out = NULL;
    *out_len = 0;
    if (head_len < 0)
        return tg_error_set(TG_EINVALID, "dsse: bad payload type");
    buf = malloc((size_t)head_len + payload_len + 1);
    if (!buf)
        return tg_error_set(TG_ENOMEM, "out of memory building the PAE");
    snprintf((char *)buf, (size_t)head_len + 1, "DSSEv1 %zu %s %zu ", tlen, payload_type,
             payload_len);
    if (payload_len > 0)
        memcpy(buf + head_len, payload, payload_len);
    buf[(size_t)head_len + payload_len] = '\0';
    *out = buf;
    *out_len = (size_t)head_len + payload_len;
    return 0;
}

/* ---- payloads ----------------------------------------------------------------------------- */

/* True when every key of o is one of keys (NULL-terminated). */
static bool keys_within(json_object *o, const char *const *keys, const char **bad)
{
    json_object_object_foreach(o, k, v)
    {
        bool known = false;
        (void)v;
        for (size_t i = 0; keys[i]; i++)
            known = known || strcmp(k, keys[i]) == 0;
        if (!known) {
            *bad = k;
            return false;
        }
    }
    return true;
}

int tg_statement_check(const unsigned char *payload, size_t len, const char *digest,
                       json_object **out)
{
    json_object *st, *subjects, *pt;
    const char *type;
    size_t n;
    int rc;

    *out = NULL;
    if (!tg_digest_valid(digest))
        return tg_error_set(TG_EINVALID, "statement: bad digest %s", digest ? digest : "(null)");
    rc = tg_sigstore_json_parse("statement", (const char *)payload, len, PAYLOAD_MAX_DEPTH, &st);
    if (rc != 0)
        return rc;
    rc = TG_EINVALID;
    if (!json_object_is_type(st, json_type_object)) {
        tg_error_set(rc, "statement: not an object");
        goto put_statement;
    }
    type = tg_json_str(st, "_type");
    if (!type || (strcmp(type, "https://in-toto.io/Statement/v0.1") != 0 &&
                  strcmp(type, "https://in-toto.io/Statement/v1") != 0)) {
        tg_error_set(rc, "statement: _type %s is not an in-toto Statement v0.1 or v1",
                     type ? type : "(missing)");
        goto put_statement;
    }
    if (!json_object_object_get_ex(st, "predicateType", &pt) ||
        !json_object_is_type(pt, json_type_string) || json_object_get_string_len(pt) == 0) {
        tg_error_set(rc, "statement: predicateType missing");
        goto put_statement;
    }
    if (!json_object_object_get_ex(st, "subject", &subjects) ||
        !json_object_is_type(subjects, json_type_array) ||
        (n = json_object_array_length(subjects)) == 0) {
        tg_error_set(rc, "statement: no subject");
        goto put_statement;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(subjects, i), *dg;
        const char *hex;
        if (!json_object_is_type(s, json_type_object)) {
            tg_error_set(rc, "statement: subject[%zu] is not an object", i);
            goto put_statement;
        }
        if (!json_object_object_get_ex(s, "digest", &dg) ||
            !json_object_is_type(dg, json_type_object)) {
            tg_error_set(rc, "statement: subject[%zu] has no digest", i);
            goto put_statement;
        }
        hex = tg_json_str(dg, "sha256");
        if (hex && strlen(hex) == 64 && strcasecmp(hex, digest + 7) == 0) {
            *out = st;
            return 0;
        }
    }
    tg_error_set(rc, "statement: no subject matches %s", digest);
put_statement:
    json_object_put(st);
    return rc;
}

int tg_simplesigning_check(const unsigned char *payload, size_t len, const char *digest)
{
    static const char *const top_keys[] = {"critical", "optional", NULL};
    static const char *const critical_keys[] = {"identity", "image", "type", NULL};
    static const char *const image_keys[] = {"docker-manifest-digest", NULL};
    static const char *const identity_keys[] = {"docker-reference", NULL};
    json_object *p, *critical, *image, *identity, *optional;
    const char *type, *got, *bad = NULL;
    int rc;

    if (!tg_digest_valid(digest))
        return tg_error_set(TG_EINVALID, "simple signing: bad digest %s",
                            digest ? digest : "(null)");
    rc =
        tg_sigstore_json_parse("simple signing", (const char *)payload, len, PAYLOAD_MAX_DEPTH, &p);
    if (rc != 0)
        return rc;
    rc = TG_EINVALID;
    if (!json_object_is_type(p, json_type_object) || !keys_within(p, top_keys, &bad)) {
        tg_error_set(rc, "simple signing: unexpected key %s", bad ? bad : "(not an object)");
        goto put_payload;
    }
    if (json_object_object_get_ex(p, "optional", &optional) && optional &&
        !json_object_is_type(optional, json_type_object)) {
        tg_error_set(rc, "simple signing: optional is neither null nor an object");
        goto put_payload;
    }
    if (!json_object_object_get_ex(p, "critical", &critical) ||
        !json_object_is_type(critical, json_type_object)) {
        tg_error_set(rc, "simple signing: critical missing");
        goto put_payload;
    }
    if (!keys_within(critical, critical_keys, &bad)) {
        tg_error_set(rc, "simple signing: unexpected key critical.%s", bad);
        goto put_payload;
    }
    type = tg_json_str(critical, "type");
    if (!type || strcmp(type, "cosign container image signature") != 0) {
        tg_error_set(rc,
                     "simple signing: critical.type is %s, not cosign container image signature",
                     type ? type : "(missing)");
        goto put_payload;
    }
    if (json_object_object_get_ex(critical, "identity", &identity) &&
        (!json_object_is_type(identity, json_type_object) ||
         !keys_within(identity, identity_keys, &bad))) {
        tg_error_set(rc, "simple signing: bad critical.identity");
        goto put_payload;
    }
    if (!json_object_object_get_ex(critical, "image", &image) ||
        !json_object_is_type(image, json_type_object) || !keys_within(image, image_keys, &bad)) {
        tg_error_set(rc, "simple signing: critical.image missing or with unexpected keys");
        goto put_payload;
    }
    got = tg_json_str(image, "docker-manifest-digest");
    if (!got || strcmp(got, digest) != 0) {
        tg_error_set(rc, "simple signing: payload is for %s, not %s", got ? got : "(no digest)",
                     digest);
        goto put_payload;
    }
    rc = 0;
put_payload:
    json_object_put(p);
    return rc;
}

/* ---- verifying one item ------------------------------------------------------------------ */

void tg_signed_clear(struct tg_signed *s)
{
    if (!s)
        return;
    free(s->signer);
    free(s->issuer);
    json_object_put(s->statement);
    memset(s, 0, sizeof(*s));
}

/* What one item asks to verify, gathered from its format. Owned pieces are freed by ictx_free. */
struct ictx {
    const unsigned char *msg; /* the signed bytes: the payload, the PAE, or a SHA-256 digest */
    size_t msg_len;
    bool prehashed;            /* messageSignature: msg is the 32-byte digest */
    const unsigned char *bind; /* what tg_tlog_bind hashes: payload or DSSE payload */
    size_t bind_len;
    const unsigned char *sigs[DSSE_MAX_SIGS];
    size_t sig_lens[DSSE_MAX_SIGS];
    size_t n_sigs;
    const unsigned char *leaf; /* keyless: the leaf certificate's DER, or NULL */
    size_t leaf_len;
    const unsigned char *const *chain;
    const size_t *chain_lens;
    size_t n_chain;
    struct tg_tlog_entry *tlog;
    size_t n_tlog;
    /* owned */
    unsigned char *pae;
    unsigned char *sig_owned;
    struct tg_dsse *dsse;
    struct tg_bundle *bundle;
    struct tg_tlog_entry legacy;
    bool has_legacy;
    unsigned char *pem_der[CHAIN_MAX + 1];
    size_t pem_len[CHAIN_MAX + 1];
    size_t n_pem;
};

static void ictx_free(struct ictx *c)
{
    free(c->pae);
    free(c->sig_owned);
    tg_dsse_free(c->dsse);
    tg_bundle_free(c->bundle);
    if (c->has_legacy)
        tg_tlog_entry_clear(&c->legacy);
    for (size_t i = 0; i < c->n_pem; i++)
        OPENSSL_free(c->pem_der[i]);
}

/* Reads the PEM leaf certificate and the PEM chain of a cosign v2 layer as DER. */
static int certs_from_pem(struct ictx *c, const char *leaf_pem, const char *chain_pem)
{
    const char *pems[2] = {leaf_pem, chain_pem};

    if (!leaf_pem)
        return 0;

    for (int p = 0; p < 2; p++) {
        BIO *bio;
        X509 *x;
        size_t before = c->n_pem;
        if (!pems[p])
            continue;
        bio = BIO_new_mem_buf(pems[p], -1);
        if (!bio)
            return tg_error_set(TG_ENOMEM, "out of memory reading a certificate");
        while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
            unsigned char *der = NULL;
            int n;
            if (c->n_pem == CHAIN_MAX + 1 || (p == 0 && c->n_pem == 1)) {
                X509_free(x);
                BIO_free(bio);
                return tg_error_set(TG_EINVALID, p == 0 ? "certificate annotation holds more "
                                                          "than one certificate"
                                                        : "certificate chain too long");
            }
            n = i2d_X509(x, &der);
            X509_free(x);
            if (n <= 0) {
                BIO_free(bio);
                return tg_error_set(TG_ENOMEM, "out of memory encoding a certificate");
            }
            c->pem_der[c->n_pem] = der;
            c->pem_len[c->n_pem++] = (size_t)n;
        }
        BIO_free(bio);
        ERR_clear_error();
        if (c->n_pem == before)
            return tg_error_set(TG_EINVALID, "%s annotation holds no PEM certificate",
                                p == 0 ? "certificate" : "chain");
    }
    if (c->n_pem > 0) {
        c->leaf = c->pem_der[0];
        c->leaf_len = c->pem_len[0];
        c->chain = (const unsigned char *const *)&c->pem_der[1];
        c->chain_lens = &c->pem_len[1];
        c->n_chain = c->n_pem - 1;
    }
    return 0;
}

/* The legacy Rekor bundle annotation, when present, as the item's one tlog entry. */
static int legacy_tlog(struct ictx *c, const struct tg_vm_item *item)
{
    int rc;
    if (!item->rekor_bundle)
        return 0;
    rc = tg_tlog_entry_from_legacy(item->rekor_bundle, strlen(item->rekor_bundle), &c->legacy);
    if (rc != 0) {
        tg_tlog_entry_clear(&c->legacy);
        return tg_error_wrap(rc, "rekor bundle annotation: ");
    }
    c->has_legacy = true;
    c->tlog = &c->legacy;
    c->n_tlog = 1;
    return 0;
}

/* Uses a parsed envelope: payloadType, the PAE, and its signatures (at most max of them). */
static int use_dsse(struct ictx *c, struct tg_dsse *d, const char *what)
{
    int rc;
    if (strcmp(d->payload_type, INTOTO_PAYLOAD_TYPE) != 0)
        return tg_error_set(TG_EINVALID, "%s: payloadType %s is not " INTOTO_PAYLOAD_TYPE, what,
                            d->payload_type);
    rc = tg_dsse_pae(d->payload_type, d->payload, d->payload_len, &c->pae, &c->msg_len);
    if (rc != 0)
        return rc;
    c->msg = c->pae;
    c->bind = d->payload;
    c->bind_len = d->payload_len;
    for (size_t i = 0; i < d->n_sigs; i++) {
        c->sigs[i] = d->sigs[i].sig;
        c->sig_lens[i] = d->sigs[i].sig_len;
    }
    c->n_sigs = d->n_sigs;
    return 0;
}

static int gather_simplesigning(struct ictx *c, const struct tg_vm_item *item)
{
    size_t n = 0;
    if (!item->signature_b64 || item->signature_b64[0] == '\0')
        return tg_error_set(TG_EINVALID, "no signature annotation");
    if (tg_b64_decode(item->signature_b64, strlen(item->signature_b64), &c->sig_owned, &n) != 0)
        return tg_error_set(TG_EINVALID, "signature annotation is not base64");
    c->sigs[0] = c->sig_owned;
    c->sig_lens[0] = n;
    c->n_sigs = 1;
    c->msg = c->bind = item->data;
    c->msg_len = c->bind_len = item->len;
    return 0;
}

static int gather_bundle(struct ictx *c, const struct tg_vm_item *item, const char *digest)
{
    struct tg_bundle *b;
    int rc = tg_bundle_parse((const char *)item->data, item->len, &c->bundle);
    if (rc != 0)
        return rc;
    b = c->bundle;
    c->leaf = b->leaf_der;
    c->leaf_len = b->leaf_len;
    c->chain = (const unsigned char *const *)b->chain_der;
    c->chain_lens = b->chain_len;
    c->n_chain = b->n_chain;
    c->tlog = b->tlog;
    c->n_tlog = b->n_tlog;
    if (b->dsse) {
        if (b->dsse->n_sigs != 1)
            return tg_error_set(TG_EINVALID, "bundle: the DSSE envelope has %zu signatures, not 1",
                                b->dsse->n_sigs);
        return use_dsse(c, b->dsse, "bundle");
    }
    {
        char hex[65];
        tg_hex(b->message_digest, 32, hex);
        if (strcmp(hex, digest + 7) != 0)
            return tg_error_set(TG_EINVALID, "bundle: messageDigest sha256:%s is not %s", hex,
                                digest);
    }
    c->msg = b->message_digest;
    c->msg_len = 32;
    c->prehashed = true;
    c->sigs[0] = b->signature;
    c->sig_lens[0] = b->signature_len;
    c->n_sigs = 1;
    return 0;
}

static int sig_check(const struct ictx *c, EVP_PKEY *key, size_t i)
{
    if (c->prehashed)
        return tg_bundle_verify_message(key, c->bundle);
    return tg_sig_verify(key, c->msg, c->msg_len, c->sigs[i], c->sig_lens[i]);
}

static int bind_check(const struct ictx *c, const struct tg_tlog_entry *e, size_t i)
{
    if (c->prehashed)
        return tg_bundle_bind_message(e, c->bundle);
    return tg_tlog_bind(e, c->sigs[i], c->sig_lens[i], c->bind, c->bind_len);
}

/* "key sha256:<hex of sha256(SPKI DER)>". */
static int key_signer(EVP_PKEY *key, char **out)
{
    unsigned char *der = NULL;
    size_t n = 0;
    char hex[65];
    int rc = tg_pubkey_to_der(key, &der, &n);

    if (rc != 0)
        return rc;
    tg_sha256_hex(der, n, hex);
    free(der);
    *out = malloc(sizeof("key sha256:") + 64);
    if (!*out)
        return tg_error_set(TG_ENOMEM, "out of memory");
    snprintf(*out, sizeof("key sha256:") + 64, "key sha256:%s", hex);
    return 0;
}

/* Marks which tlog entries verify with the authority's log keys; fails when none does. */
static int tlog_verified(const struct ictx *c, const struct tg_authority *auth, bool *ok)
{
    int rc = 0;
    bool any = false;

    if (c->n_tlog == 0)
        return tg_error_set(TG_EINVALID, "no transparency-log entry (required by authority %s)",
                            auth->name);
    if (!auth->root && !auth->rekor_key)
        return tg_error_set(TG_EINVALID, "authority %s requires a tlog entry but has no Rekor key",
                            auth->name);
    for (size_t i = 0; i < c->n_tlog; i++) {
        rc = auth->root ? tg_tlog_verify(auth->root, &c->tlog[i])
                        : tg_tlog_verify_with_key(auth->rekor_key, &c->tlog[i]);
        if (rc == TG_ENOMEM)
            return rc;
        ok[i] = rc == 0;
        any = any || ok[i];
    }
    if (!any)
        return tg_error_wrap(TG_EINVALID, "tlog entry does not verify: ");
    return 0;
}

/* The most telling failure among several candidates: the one that got furthest. */
struct reason {
    int stage; /* 1 certificate, 2 signature, 3 tlog binding */
    char msg[600];
};

/* Keeps "prefix<last error>" when stage is at least as far as the kept one. */
static void note(struct reason *r, int stage, const char *prefix)
{
    if (stage < r->stage)
        return;
    r->stage = stage;
    snprintf(r->msg, sizeof(r->msg), "%s%s", prefix, tg_error_last());
}

/* Key-based: any key, any signature; with a tlog, a verified entry bound to that signature. */
static int verify_with_keys(const struct ictx *c, const struct tg_authority *auth, bool need_tlog,
                            const bool *tlog_ok, struct tg_signed *out)
{
    struct reason why = {0, ""};
    int rc;

    for (size_t k = 0; k < auth->n_keys; k++) {
        for (size_t i = 0; i < c->n_sigs; i++) {
            bool bound = false;
            rc = sig_check(c, auth->keys[k], i);
            if (rc == TG_ENOMEM)
                return rc;
            if (rc != 0)
                continue;
            for (size_t t = 0; need_tlog && !bound && t < c->n_tlog; t++) {
                if (!tlog_ok[t])
                    continue;
                rc = bind_check(c, &c->tlog[t], i);
                if (rc == TG_ENOMEM)
                    return rc;
                if (rc != 0)
                    note(&why, 3, "tlog entry is not bound to the signature: ");
                bound = rc == 0;
                if (bound)
                    out->signed_at = c->tlog[t].integrated_time;
            }
            if (!need_tlog || bound)
                return key_signer(auth->keys[k], &out->signer);
        }
    }
    if (why.stage > 0)
        return tg_error_set(TG_EINVALID, "%s", why.msg);
    return tg_error_set(TG_EINVALID, "signature does not verify with key%s of authority %s",
                        auth->n_keys == 1 ? "" : "s", auth->name);
}

/* Keyless: per verified entry, the certificate at its time, then a signature bound to it. */
static int verify_keyless(const struct ictx *c, const struct tg_authority *auth,
                          const bool *tlog_ok, struct tg_signed *out)
{
    struct reason why = {0, ""};
    char prefix[200];
    int rc;

    if (!c->leaf)
        return tg_error_set(TG_EINVALID, "no certificate for keyless authority %s", auth->name);
    snprintf(prefix, sizeof(prefix), "certificate (authority %s): ", auth->name);
    for (size_t t = 0; t < c->n_tlog; t++) {
        struct tg_cert_identity id = {0};
        EVP_PKEY *key = NULL;
        if (!tlog_ok[t])
            continue;
        rc = tg_keyless_verify_cert(auth->root, c->leaf, c->leaf_len, c->chain, c->chain_lens,
                                    c->n_chain, c->tlog[t].integrated_time, auth->ignore_sct,
                                    auth->rules, auth->n_rules, &key, &id);
        if (rc == TG_ENOMEM)
            return rc;
        if (rc != 0) {
            note(&why, 1, prefix);
            continue;
        }
        for (size_t i = 0; i < c->n_sigs; i++) {
            rc = sig_check(c, key, i);
            if (rc == 0) {
                rc = bind_check(c, &c->tlog[t], i);
                if (rc != 0 && rc != TG_ENOMEM)
                    note(&why, 3, "tlog entry is not bound to the signature: ");
            } else if (rc != TG_ENOMEM) {
                note(&why, 2, "signature does not verify with the certificate's key: ");
            }
            if (rc == 0 || rc == TG_ENOMEM)
                break;
        }
        EVP_PKEY_free(key);
        if (rc == 0) {
            out->signer = id.subject;
            out->issuer = id.issuer;
            out->signed_at = c->tlog[t].integrated_time;
            return 0;
        }
        tg_cert_identity_clear(&id);
        if (rc == TG_ENOMEM)
            return rc;
    }
    return tg_error_set(TG_EINVALID, "%s", why.stage > 0 ? why.msg : "no verified tlog entry");
}

/* Binds the verified payload to digest and fills the statement fields. */
static int payload_binding(const struct ictx *c, const struct tg_vm_item *item, const char *digest,
                           struct tg_signed *out)
{
    json_object *pt;
    int rc;

    if (item->kind == TG_VM_SIMPLESIGNING) {
        out->is_signature = true;
        return tg_simplesigning_check(item->data, item->len, digest);
    }
    if (c->prehashed) {
        out->is_signature = true; /* the digest was compared when gathering */
        return 0;
    }
    rc = tg_statement_check(c->bind, c->bind_len, digest, &out->statement);
    if (rc != 0)
        return rc;
    json_object_object_get_ex(out->statement, "predicateType", &pt);
    out->predicate_type = json_object_get_string(pt);
    out->predicate = json_object_object_get(out->statement, "predicate");
    out->is_signature =
        item->kind == TG_VM_BUNDLE && strcmp(out->predicate_type, COSIGN_SIGN_PREDICATE) == 0;
    return 0;
}

int tg_verify_item(const struct tg_vm_item *item, const char *digest,
                   const struct tg_authority *auth, struct tg_signed *out)
{
    struct ictx c;
    bool *tlog_ok = NULL, keyless, need_tlog;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    if (!tg_digest_valid(digest))
        return tg_error_set(TG_EINVALID, "bad digest %s", digest ? digest : "(null)");
    if (item->kind == TG_VM_SBOM_ATTACHMENT)
        return tg_error_set(TG_EINVALID, "unsigned .sbom attachment does not count");
    if (!item->data)
        return tg_error_set(TG_EINVALID, "%s: no data", item->source ? item->source : "item");
    keyless = auth->n_keys == 0;
    if (keyless && !auth->root)
        return tg_error_set(TG_EINVALID, "authority %s has neither keys nor a trusted root",
                            auth->name);
    need_tlog = keyless || auth->tlog_required;
    out->format = item->kind == TG_VM_BUNDLE ? "sigstore-bundle" : "cosign-v2";

    if (item->kind == TG_VM_SIMPLESIGNING) {
        rc = gather_simplesigning(&c, item);
    } else if (item->kind == TG_VM_DSSE) {
        rc = tg_dsse_parse((const char *)item->data, item->len, &c.dsse);
        if (rc == 0)
            rc = use_dsse(&c, c.dsse, "dsse");
    } else if (item->kind == TG_VM_BUNDLE) {
        rc = gather_bundle(&c, item, digest);
    } else {
        rc = tg_error_set(TG_EINVALID, "unknown item kind");
    }
    if (rc == 0 && item->kind != TG_VM_BUNDLE && need_tlog)
        rc = legacy_tlog(&c, item);
    if (rc == 0 && item->kind != TG_VM_BUNDLE && keyless)
        rc = certs_from_pem(&c, item->certificate_pem, item->chain_pem);
    if (rc != 0)
        goto fail;
    if (keyless && c.bundle && c.bundle->has_public_key) {
        rc = tg_error_set(TG_EINVALID, "bundle: a public key cannot satisfy keyless authority %s",
                          auth->name);
        goto fail;
    }
    if (need_tlog) {
        tlog_ok = calloc(c.n_tlog + 1, sizeof(*tlog_ok));
        if (!tlog_ok) {
            rc = tg_error_set(TG_ENOMEM, "out of memory");
            goto fail;
        }
        rc = tlog_verified(&c, auth, tlog_ok);
        if (rc != 0)
            goto fail;
    }
    rc = keyless ? verify_keyless(&c, auth, tlog_ok, out)
                 : verify_with_keys(&c, auth, need_tlog, tlog_ok, out);
    if (rc == 0)
        rc = payload_binding(&c, item, digest, out);
fail:
    free(tlog_ok);
    ictx_free(&c);
    if (rc != 0) {
        if (item->source)
            tg_error_wrap(rc, "%s", item->source);
        tg_signed_clear(out);
    }
    return rc;
}
