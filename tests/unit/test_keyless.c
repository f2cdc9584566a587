/*
 * Unit tests for verify/keyless: every case of tests/fixtures/verify/keyless/cases.json (bundles
 * made offline by @sigstore/mock through tests/sigstore/make-fixtures.mjs) through the trusted
 * root, the tlog entry, the body binding and the certificate checks; RFC 6962 inclusion proofs
 * built here for many tree sizes; checkpoint edge cases; the SET's canonical JSON; the .1.1
 * issuer fallback; regexp anchoring; hashedrekord, dsse and intoto binding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "util/error.h"
#include "verify/crypto.h"
#include "verify/keyless.h"
#include "verify_testlib.h"

#define DIR TG_FIXTURES_DIR "/verify/keyless/"

/* ---- helpers ---- */

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s%s", DIR, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static struct json_object *load_json(const char *name)
{
    char *text = slurp(name, NULL);
    struct json_object *obj = json_tokener_parse(text);

    free(text);
    assert_non_null(obj);
    return obj;
}

static struct tg_trusted_root *load_root(const char *name)
{
    size_t len;
    char *text = slurp(name, &len);
    struct tg_trusted_root *root = NULL;

    assert_int_equal(tg_trusted_root_parse(text, len, &root), 0);
    free(text);
    return root;
}

static struct json_object *path_get(struct json_object *o, const char *const *path)
{
    for (; *path; path++) {
        if (**path >= '0' && **path <= '9')
            o = json_object_array_get_idx(o, (size_t)strtol(*path, NULL, 10));
        else if (!json_object_object_get_ex(o, *path, &o))
            o = NULL;
        assert_non_null(o);
    }
    return o;
}

static unsigned char *b64_at(struct json_object *o, const char *const *path, size_t *len)
{
    const char *s = json_object_get_string(path_get(o, path));
    unsigned char *out = NULL;

    assert_int_equal(tg_b64_decode(s, strlen(s), &out, len), 0);
    return out;
}

/* The pieces of a DSSE bundle this module checks (the full parser is sigstore.c's). */
struct bundle {
    struct json_object *doc;
    unsigned char *leaf, *sig, *payload;
    size_t leaf_len, sig_len, payload_len;
    const char *payload_type;
    struct tg_tlog_entry entry;
};

static void bundle_load(const char *name, struct bundle *b)
{
    static const char *const leaf[] = {"verificationMaterial", "certificate", "rawBytes", NULL};
    static const char *const sig[] = {"dsseEnvelope", "signatures", "0", "sig", NULL};
    static const char *const payload[] = {"dsseEnvelope", "payload", NULL};
    static const char *const ptype[] = {"dsseEnvelope", "payloadType", NULL};
    static const char *const entry[] = {"verificationMaterial", "tlogEntries", "0", NULL};

    memset(b, 0, sizeof(*b));
    b->doc = load_json(name);
    b->leaf = b64_at(b->doc, leaf, &b->leaf_len);
    b->sig = b64_at(b->doc, sig, &b->sig_len);
    b->payload = b64_at(b->doc, payload, &b->payload_len);
    b->payload_type = json_object_get_string(path_get(b->doc, ptype));
    assert_int_equal(tg_tlog_entry_from_bundle(path_get(b->doc, entry), &b->entry), 0);
}

static void bundle_free(struct bundle *b)
{
    free(b->leaf);
    free(b->sig);
    free(b->payload);
    tg_tlog_entry_clear(&b->entry);
    json_object_put(b->doc);
}

/* The DSSE pre-authentication encoding. */
static unsigned char *pae(const struct bundle *b, size_t *len)
{
    size_t cap = b->payload_len + strlen(b->payload_type) + 64;
    unsigned char *out = malloc(cap);
    int n;

    assert_non_null(out);
    n = snprintf((char *)out, cap, "DSSEv1 %zu %s %zu ", strlen(b->payload_type), b->payload_type,
                 b->payload_len);
    memcpy(out + n, b->payload, b->payload_len);
    *len = (size_t)n + b->payload_len;
    return out;
}

/*
 * The whole keyless flow over one bundle: the tlog entry (SET, proof, checkpoint), its body
 * bound to the signature, the certificate at integratedTime with the identity, the DSSE
 * signature. Returns 0 or the first failure's code (message in tg_error_last()).
 */
static int verify_bundle(const char *bundle_name, const char *root_name,
                         const struct tg_identity_rule *rule, struct tg_cert_identity *id)
{
    struct tg_trusted_root *root = load_root(root_name);
    struct bundle b;
    EVP_PKEY *key = NULL;
    unsigned char *msg;
    size_t msg_len;
    int rc;

    bundle_load(bundle_name, &b);
    rc = tg_tlog_verify(root, &b.entry);
    if (rc == 0)
        rc = tg_tlog_bind(&b.entry, b.sig, b.sig_len, b.payload, b.payload_len);
    if (rc == 0)
        rc = tg_keyless_verify_cert(root, b.leaf, b.leaf_len, NULL, NULL, 0,
                                    b.entry.integrated_time, false, rule, 1, &key, id);
    if (rc == 0) {
        msg = pae(&b, &msg_len);
        rc = tg_sig_verify(key, msg, msg_len, b.sig, b.sig_len);
        free(msg);
    }
    EVP_PKEY_free(key);
    bundle_free(&b);
    tg_trusted_root_free(root);
    return rc;
}

/* Runs the case named name from cases.json and checks its expectation. */
static void run_case(const char *name)
{
    struct json_object *doc = load_json("cases.json"), *cases, *c = NULL, *v;
    struct tg_identity_rule rule = {0};
    struct tg_cert_identity id = {0};
    int rc;

    assert_true(json_object_object_get_ex(doc, "cases", &cases));
    for (size_t i = 0; i < json_object_array_length(cases); i++) {
        struct json_object *ci = json_object_array_get_idx(cases, i), *n;
        if (json_object_object_get_ex(ci, "name", &n) &&
            strcmp(json_object_get_string(n), name) == 0)
            c = ci;
    }
    assert_non_null(c);
    assert_true(json_object_object_get_ex(c, "identity", &v));
    {
        struct json_object *f;
        if (json_object_object_get_ex(v, "issuer", &f))
            rule.issuer = json_object_get_string(f);
        if (json_object_object_get_ex(v, "subject", &f))
            rule.subject = json_object_get_string(f);
        if (json_object_object_get_ex(v, "subjectRegExp", &f))
            rule.subject_regexp = json_object_get_string(f);
    }
    {
        static const char *const bp[] = {"bundle", NULL}, *const rp[] = {"trustedRoot", NULL},
                                 *const ep[] = {"expect", NULL};
        const char *expect = json_object_get_string(path_get(c, ep));

        rc = verify_bundle(json_object_get_string(path_get(c, bp)),
                           json_object_get_string(path_get(c, rp)), &rule, &id);
        if (strcmp(expect, "accept") == 0) {
            if (rc != 0)
                fail_msg("case %s: expected accept, got %s", name, tg_error_last());
            assert_non_null(id.issuer);
            assert_non_null(id.subject);
            assert_string_equal(id.issuer, rule.issuer);
        } else {
            assert_string_equal(expect, "reject");
            assert_int_equal(rc, TG_EINVALID);
            if (json_object_object_get_ex(c, "cReason", &v) &&
                !strstr(tg_error_last(), json_object_get_string(v)))
                fail_msg("case %s: reason \"%s\" lacks \"%s\"", name, tg_error_last(),
                         json_object_get_string(v));
            assert_null(id.issuer);
        }
    }
    tg_cert_identity_clear(&id);
    json_object_put(doc);
}

#define CASE(fn, name)                                                                             \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        run_case(name);                                                                            \
    }
CASE(case_good, "good")
CASE(case_good_regexp, "good-regexp")
CASE(case_good_bigtree, "good-bigtree")
CASE(case_evil_exact, "evil-exact")
CASE(case_wrong_subject, "wrong-subject")
CASE(case_wrong_issuer, "wrong-issuer")
CASE(case_tampered_set, "tampered-set")
CASE(case_bad_proof_root, "bad-proof-root")
CASE(case_bad_proof_root_checkpoint, "bad-proof-root-checkpoint")
CASE(case_bad_proof_hash, "bad-proof-hash")
CASE(case_bad_checkpoint, "bad-checkpoint")
CASE(case_other_signature, "other-signature")
CASE(case_no_ct_log, "no-ct-log")
CASE(case_no_sct, "no-sct")
CASE(case_ca_expired_at_signing, "ca-expired-at-signing")
CASE(case_leaf_expired_at_signing, "leaf-expired-at-signing")
CASE(case_regexp_unanchored_trap, "regexp-unanchored-trap")
#define N_NAMED_CASES 17

/* Every case in cases.json has its own test above. */
static void cases_all_named(void **state)
{
    struct json_object *doc = load_json("cases.json"), *cases;

    (void)state;
    assert_true(json_object_object_get_ex(doc, "cases", &cases));
    assert_int_equal(json_object_array_length(cases), N_NAMED_CASES);
    json_object_put(doc);
}

/* ---- a log key of our own, to sign SETs and checkpoints ---- */

struct log {
    EVP_PKEY *key;
    unsigned char id[32];
    char *root_json;
};

static void log_new(struct log *l, const char *valid_start)
{
    unsigned char *der = NULL;
    size_t der_len;
    char *b64, *id64;
    size_t cap;

    l->key = EVP_EC_gen("P-256");
    assert_non_null(l->key);
    assert_int_equal(tg_pubkey_to_der(l->key, &der, &der_len), 0);
    tg_sha256(der, der_len, l->id);
    b64 = tg_b64_encode(der, der_len);
    id64 = tg_b64_encode(l->id, 32);
    cap = strlen(b64) + 512;
    l->root_json = malloc(cap);
    assert_non_null(l->root_json);
    snprintf(l->root_json, cap,
             "{\"mediaType\":\"application/vnd.dev.sigstore.trustedroot+json;version=0.1\","
             "\"tlogs\":[{\"baseUrl\":\"http://log\",\"hashAlgorithm\":\"SHA2_256\","
             "\"publicKey\":{\"rawBytes\":\"%s\",\"keyDetails\":\"PKIX_ECDSA_P256_SHA_256\","
             "\"validFor\":{\"start\":\"%s\"}},\"logId\":{\"keyId\":\"%s\"}}]}",
             b64, valid_start, id64);
    free(der);
    free(b64);
    free(id64);
}

static void log_free(struct log *l)
{
    EVP_PKEY_free(l->key);
    free(l->root_json);
}

static struct tg_trusted_root *log_root(const struct log *l)
{
    struct tg_trusted_root *r = NULL;

    assert_int_equal(tg_trusted_root_parse(l->root_json, strlen(l->root_json), &r), 0);
    return r;
}

/* A signed note: "<origin>\n<size>\n<b64 root>\n\n— name b64(hint||sig)\n". */
static char *checkpoint(const struct log *l, const char *origin, long long size,
                        const unsigned char root[32], const unsigned char hint[4])
{
    char note[512], *rb64 = tg_b64_encode(root, 32), *sb64, *out;
    unsigned char *sig, *raw;
    size_t sig_len, cap;

    snprintf(note, sizeof(note), "%s\n%lld\n%s\nTimestamp: 1\n", origin, size, rb64);
    sig = vt_sign_der(l->key, note, strlen(note), &sig_len);
    raw = malloc(sig_len + 4);
    assert_non_null(raw);
    memcpy(raw, hint, 4);
    memcpy(raw + 4, sig, sig_len);
    sb64 = tg_b64_encode(raw, sig_len + 4);
    cap = strlen(note) + strlen(sb64) + 64;
    out = malloc(cap);
    assert_non_null(out);
    snprintf(out, cap, "%s\n\xe2\x80\x94 log %s\n", note, sb64);
    free(rb64);
    free(sb64);
    free(sig);
    free(raw);
    return out;
}

/* ---- RFC 6962 trees built here ---- */

static void leaf_hash(const char *data, unsigned char out[32])
{
    unsigned char buf[64];
    size_t n = strlen(data);

    buf[0] = 0;
    memcpy(buf + 1, data, n);
    tg_sha256(buf, n + 1, out);
}

static void node_hash(const unsigned char l[32], const unsigned char r[32], unsigned char out[32])
{
    unsigned char buf[65];

    buf[0] = 1;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    tg_sha256(buf, 65, out);
}

static size_t split(size_t n)
{
    size_t k = 1;

    while (k * 2 < n)
        k *= 2;
    return k;
}

/* MTH(leaves[0..n)). */
static void mth(unsigned char (*leaves)[32], size_t n, unsigned char out[32])
{
    unsigned char l[32], r[32];
    size_t k;

    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    k = split(n);
    mth(leaves, k, l);
    mth(leaves + k, n - k, r);
    node_hash(l, r, out);
}

/* PATH(m, leaves[0..n)) appended to path at *np. */
static void audit_path(size_t m, unsigned char (*leaves)[32], size_t n, unsigned char (*path)[32],
                       size_t *np)
{
    size_t k;

    if (n == 1)
        return;
    k = split(n);
    if (m < k) {
        audit_path(m, leaves, k, path, np);
        mth(leaves + k, n - k, path[(*np)++]);
    } else {
        audit_path(m - k, leaves + k, n - k, path, np);
        mth(leaves, k, path[(*np)++]);
    }
}

/* An entry for body "leaf-<m>" at index m of a tree of n leaves, with a signed checkpoint. */
static void proof_entry(const struct log *l, size_t m, size_t n, struct tg_tlog_entry *e)
{
    unsigned char(*leaves)[32] = calloc(n, 32);
    char body[32];

    assert_non_null(leaves);
    memset(e, 0, sizeof(*e));
    for (size_t i = 0; i < n; i++) {
        snprintf(body, sizeof(body), "leaf-%zu", i);
        leaf_hash(body, leaves[i]);
    }
    snprintf(body, sizeof(body), "leaf-%zu", m);
    e->body = (unsigned char *)strdup(body);
    e->body_len = strlen(body);
    memcpy(e->log_id, l->id, 32);
    snprintf(e->kind, sizeof(e->kind), "intoto");
    snprintf(e->version, sizeof(e->version), "0.0.2");
    e->integrated_time = 1700000000;
    e->log_index = (int64_t)m + 1000;
    e->has_proof = true;
    e->proof_index = (int64_t)m;
    e->tree_size = (int64_t)n;
    mth(leaves, n, e->root_hash);
    e->hashes = calloc(64, 32);
    assert_non_null(e->hashes);
    audit_path(m, leaves, n, e->hashes, &e->n_hashes);
    e->checkpoint = checkpoint(l, "log - 1", (long long)n, e->root_hash, l->id);
    free(leaves);
}

static void merkle_proofs_verify_for_every_index(void **state)
{
    struct log l;
    struct tg_trusted_root *root;
    static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 64, 100};

    (void)state;
    log_new(&l, "2020-01-01T00:00:00Z");
    root = log_root(&l);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        for (size_t m = 0; m < sizes[s]; m++) {
            struct tg_tlog_entry e;
            proof_entry(&l, m, sizes[s], &e);
            if (tg_tlog_verify(root, &e) != 0)
                fail_msg("size %zu index %zu: %s", sizes[s], m, tg_error_last());
            tg_tlog_entry_clear(&e);
        }
    tg_trusted_root_free(root);
    log_free(&l);
}

static void merkle_altered_hash_fails(void **state)
{
    struct log l;
    struct tg_trusted_root *root;

    (void)state;
    log_new(&l, "2020-01-01T00:00:00Z");
    root = log_root(&l);
    for (size_t m = 0; m < 13; m++) {
        struct tg_tlog_entry e;
        proof_entry(&l, m, 13, &e);
        for (size_t h = 0; h < e.n_hashes; h++) {
            e.hashes[h][h % 32] ^= 0x01;
            assert_int_equal(tg_tlog_verify(root, &e), TG_EINVALID);
            assert_non_null(strstr(tg_error_last(), "inclusion proof"));
            e.hashes[h][h % 32] ^= 0x01;
        }
        assert_int_equal(tg_tlog_verify(root, &e), 0);
        tg_tlog_entry_clear(&e);
    }
    tg_trusted_root_free(root);
    log_free(&l);
}

static void merkle_wrong_index_fails(void **state)
{
    struct log l;
    struct tg_trusted_root *root;
    struct tg_tlog_entry e;

    (void)state;
    log_new(&l, "2020-01-01T00:00:00Z");
    root = log_root(&l);
    proof_entry(&l, 6, 11, &e);
    e.proof_index = 7; /* the same path length, another position */
    assert_int_equal(tg_tlog_verify(root, &e), TG_EINVALID);
    e.proof_index = 11; /* outside the tree */
    assert_int_equal(tg_tlog_verify(root, &e), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "outside"));
    tg_tlog_entry_clear(&e);
    tg_trusted_root_free(root);
    log_free(&l);
}

static void merkle_wrong_hash_count_fails(void **state)
{
    struct log l;
    struct tg_trusted_root *root;
    struct tg_tlog_entry e;

    (void)state;
    log_new(&l, "2020-01-01T00:00:00Z");
    root = log_root(&l);
    proof_entry(&l, 2, 8, &e);
    assert_int_equal(e.n_hashes, 3);
    e.n_hashes = 2;
    assert_int_equal(tg_tlog_verify(root, &e), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "hashes, expected 3"));
    tg_tlog_entry_clear(&e);
    tg_trusted_root_free(root);
    log_free(&l);
}

/* ---- checkpoints ---- */

/* Replaces e's checkpoint with text and expects rejection mentioning want. */
static void expect_checkpoint_reject(const struct tg_trusted_root *root, struct tg_tlog_entry *e,
                                     char *text, const char *want)
{
    free(e->checkpoint);
    e->checkpoint = text;
    assert_int_equal(tg_tlog_verify(root, e), TG_EINVALID);
    if (!strstr(tg_error_last(), want))
        fail_msg("\"%s\" lacks \"%s\"", tg_error_last(), want);
}

static void checkpoint_edge_cases(void **state)
{
    struct log l, other;
    struct tg_trusted_root *root;
    struct tg_tlog_entry e;
    unsigned char bad_root[32];
    char *good, *p;

    (void)state;
    log_new(&l, "2020-01-01T00:00:00Z");
    log_new(&other, "2020-01-01T00:00:00Z");
    root = log_root(&l);
    proof_entry(&l, 3, 5, &e);
    assert_int_equal(tg_tlog_verify(root, &e), 0);
    good = strdup(e.checkpoint);
    assert_non_null(good);

    /* Size line differs from treeSize. */
    expect_checkpoint_reject(root, &e, checkpoint(&l, "log - 1", 6, e.root_hash, l.id), "size");
    /* Root line differs from rootHash. */
    memcpy(bad_root, e.root_hash, 32);
    bad_root[0] ^= 1;
    expect_checkpoint_reject(root, &e, checkpoint(&l, "log - 1", 5, bad_root, l.id), "root hash");
    /* Signed by another key, with this log's hint. */
    expect_checkpoint_reject(root, &e, checkpoint(&other, "log - 1", 5, e.root_hash, l.id),
                             "no valid signature");
    /* Signed by this key with another log's hint: not this log's signature. */
    expect_checkpoint_reject(root, &e, checkpoint(&l, "log - 1", 5, e.root_hash, other.id),
                             "no valid signature");
    /* No blank line before the signatures. */
    p = strdup(good);
    *strstr(p, "\n\n") = 'X';
    expect_checkpoint_reject(root, &e, p, "blank line");
    /* A hyphen in place of the em dash. */
    p = strdup(good);
    {
        char *dash = strstr(p, "\xe2\x80\x94");
        memmove(dash + 1, dash + 3, strlen(dash + 3) + 1);
        *dash = '-';
    }
    expect_checkpoint_reject(root, &e, p, "em dash");
    /* The signature line unterminated. */
    p = strdup(good);
    p[strlen(p) - 1] = '\0';
    expect_checkpoint_reject(root, &e, p, "unterminated");
    /* The body altered after signing (origin changed). */
    p = strdup(good);
    p[0] = 'X';
    expect_checkpoint_reject(root, &e, p, "no valid signature");
    /* A foreign signature line first, then the log's: accepted. */
    {
        char *foreign = checkpoint(&other, "log - 1", 5, e.root_hash, other.id);
        const char *sig_good = strstr(good, "\n\n") + 2, *sig_foreign = strstr(foreign, "\n\n") + 2;
        size_t cap = strlen(good) + strlen(sig_foreign) + 1;
        char *both = malloc(cap);
        assert_non_null(both);
        snprintf(both, cap, "%.*s%s%s", (int)(sig_good - good), good, sig_foreign, sig_good);
        free(e.checkpoint);
        e.checkpoint = both;
        assert_int_equal(tg_tlog_verify(root, &e), 0);
        free(foreign);
    }
    /* A proof without a checkpoint. */
    free(e.checkpoint);
    e.checkpoint = NULL;
    assert_int_equal(tg_tlog_verify(root, &e), TG_EINVALID);
    free(good);
    tg_tlog_entry_clear(&e);
    tg_trusted_root_free(root);
    log_free(&l);
    log_free(&other);
}

/* ---- SET ---- */

static void set_entry(const struct log *l, struct tg_tlog_entry *e, const char *canonical)
{
    memset(e, 0, sizeof(*e));
    e->body = (unsigned char *)strdup("hello");
    e->body_len = 5;
    e->integrated_time = 1700000000;
    e->log_index = 42;
    memcpy(e->log_id, l->id, 32);
    e->set = vt_sign_der(l->key, canonical, strlen(canonical), &e->set_len);
}

static void set_canonical_json(void **state)
{
    struct log l;
    struct tg_tlog_entry e;
    struct tg_trusted_root *root;
    char hex[65], canon[256];

    (void)state;
    log_new(&l, "2020-01-01T00:00:00Z");
    root = log_root(&l);
    tg_hex(l.id, 32, hex);
    /* RFC 8785: keys sorted, no whitespace; body is base64 of "hello". */
    snprintf(canon, sizeof(canon),
             "{\"body\":\"aGVsbG8=\",\"integratedTime\":1700000000,\"logID\":\"%s\","
             "\"logIndex\":42}",
             hex);
    set_entry(&l, &e, canon);
    assert_int_equal(tg_tlog_verify_with_key(l.key, &e), 0);
    assert_int_equal(tg_tlog_verify(root, &e), 0);
    /* The same signature over other fields fails. */
    e.log_index = 43;
    assert_int_equal(tg_tlog_verify_with_key(l.key, &e), TG_EINVALID);
    tg_tlog_entry_clear(&e);
    /* Keys in another order, or with whitespace, are not what the log signs. */
    snprintf(
        canon, sizeof(canon),
        "{\"logIndex\":42,\"body\":\"aGVsbG8=\",\"integratedTime\":1700000000,\"logID\":\"%s\"}",
        hex);
    set_entry(&l, &e, canon);
    assert_int_equal(tg_tlog_verify_with_key(l.key, &e), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "signed entry timestamp"));
    tg_tlog_entry_clear(&e);
    tg_trusted_root_free(root);
    log_free(&l);
}

static void set_with_another_key_fails(void **state)
{
    struct log l, other;
    struct tg_tlog_entry e;
    char hex[65], canon[256];

    (void)state;
    log_new(&l, "2020-01-01T00:00:00Z");
    log_new(&other, "2020-01-01T00:00:00Z");
    tg_hex(l.id, 32, hex);
    snprintf(canon, sizeof(canon),
             "{\"body\":\"aGVsbG8=\",\"integratedTime\":1700000000,\"logID\":\"%s\","
             "\"logIndex\":42}",
             hex);
    set_entry(&l, &e, canon);
    /* The entry names l's log: other's key is refused by logID before the signature. */
    assert_int_equal(tg_tlog_verify_with_key(other.key, &e), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "logID"));
    tg_tlog_entry_clear(&e);
    log_free(&l);
    log_free(&other);
}

static void tlog_key_not_valid_at_integrated_time_fails(void **state)
{
    struct log l;
    struct tg_tlog_entry e;
    struct tg_trusted_root *root;
    char hex[65], canon[256];

    (void)state;
    log_new(&l, "2024-01-01T00:00:00Z"); /* after integratedTime 1700000000 (2023-11) */
    root = log_root(&l);
    tg_hex(l.id, 32, hex);
    snprintf(canon, sizeof(canon),
             "{\"body\":\"aGVsbG8=\",\"integratedTime\":1700000000,\"logID\":\"%s\","
             "\"logIndex\":42}",
             hex);
    set_entry(&l, &e, canon);
    assert_int_equal(tg_tlog_verify(root, &e), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "not valid at integratedTime"));
    tg_tlog_entry_clear(&e);
    tg_trusted_root_free(root);
    log_free(&l);
}

static void unknown_log_fails(void **state)
{
    struct tg_trusted_root *root = load_root("trusted_root.json");
    struct bundle b;

    (void)state;
    bundle_load("good.bundle.json", &b);
    assert_int_equal(tg_tlog_verify(root, &b.entry), 0);
    b.entry.log_id[5] ^= 1;
    assert_int_equal(tg_tlog_verify(root, &b.entry), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "not in the trusted root"));
    bundle_free(&b);
    tg_trusted_root_free(root);
}

static void entry_without_promise_or_proof_fails(void **state)
{
    struct tg_trusted_root *root = load_root("trusted_root.json");
    struct bundle b;

    (void)state;
    bundle_load("good.bundle.json", &b);
    free(b.entry.set);
    b.entry.set = NULL;
    assert_int_equal(tg_tlog_verify(root, &b.entry), 0); /* the proof alone suffices */
    b.entry.has_proof = false;
    assert_int_equal(tg_tlog_verify(root, &b.entry), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "neither"));
    bundle_free(&b);
    tg_trusted_root_free(root);
}

/* The legacy cosign bundle annotation built from the good bundle's entry verifies the same. */
static void legacy_bundle_verifies(void **state)
{
    struct tg_trusted_root *root = load_root("trusted_root.json");
    struct bundle b;
    struct tg_tlog_entry e;
    char hex[65], *set64, *body64, *json;
    size_t cap;

    (void)state;
    bundle_load("good.bundle.json", &b);
    tg_hex(b.entry.log_id, 32, hex);
    set64 = tg_b64_encode(b.entry.set, b.entry.set_len);
    body64 = tg_b64_encode(b.entry.body, b.entry.body_len);
    cap = strlen(set64) + strlen(body64) + 256;
    json = malloc(cap);
    assert_non_null(json);
    snprintf(
        json, cap,
        "{\"SignedEntryTimestamp\":\"%s\",\"Payload\":{\"body\":\"%s\",\"integratedTime\":%lld,"
        "\"logIndex\":%lld,\"logID\":\"%s\"}}",
        set64, body64, (long long)b.entry.integrated_time, (long long)b.entry.log_index, hex);
    assert_int_equal(tg_tlog_entry_from_legacy(json, strlen(json), &e), 0);
    assert_string_equal(e.kind, "intoto");
    assert_string_equal(e.version, "0.0.2");
    assert_false(e.has_proof);
    assert_int_equal(tg_tlog_verify(root, &e), 0);
    assert_int_equal(tg_tlog_bind(&e, b.sig, b.sig_len, b.payload, b.payload_len), 0);
    e.integrated_time++;
    assert_int_equal(tg_tlog_verify(root, &e), TG_EINVALID);
    tg_tlog_entry_clear(&e);
    /* A logID that is not hex. */
    hex[10] = 'g';
    snprintf(json, cap,
             "{\"SignedEntryTimestamp\":\"%s\",\"Payload\":{\"body\":\"%s\",\"integratedTime\":1,"
             "\"logIndex\":1,\"logID\":\"%s\"}}",
             set64, body64, hex);
    assert_int_equal(tg_tlog_entry_from_legacy(json, strlen(json), &e), TG_EINVALID);
    free(json);
    free(set64);
    free(body64);
    bundle_free(&b);
    tg_trusted_root_free(root);
}

/* ---- bundle entry parsing ---- */

static void entry_from_bundle_encoding(void **state)
{
    struct tg_tlog_entry e;
    struct json_object *o;
    const char *id = "\"logId\":{\"keyId\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"},"
                     "\"kindVersion\":{\"kind\":\"dsse\",\"version\":\"0.0.1\"},"
                     "\"canonicalizedBody\":\"e30=\"";
    char text[1024];

    (void)state;
    /* int64 as strings; the proof's logIndex and hashes omitted (defaults). */
    snprintf(text, sizeof(text),
             "{\"logIndex\":\"5844668\",\"integratedTime\":\"1700000000\",%s,"
             "\"inclusionProof\":{\"rootHash\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
             "\"treeSize\":\"1\",\"checkpoint\":{\"envelope\":\"x\\n1\\nr\\n\\n\"}}}",
             id);
    o = json_tokener_parse(text);
    assert_int_equal(tg_tlog_entry_from_bundle(o, &e), 0);
    assert_int_equal(e.log_index, 5844668);
    assert_int_equal(e.integrated_time, 1700000000);
    assert_true(e.has_proof);
    assert_int_equal(e.proof_index, 0);
    assert_int_equal(e.tree_size, 1);
    assert_int_equal(e.n_hashes, 0);
    assert_null(e.set);
    assert_string_equal(e.kind, "dsse");
    assert_int_equal(e.body_len, 2);
    tg_tlog_entry_clear(&e);
    json_object_put(o);
    /* A non-numeric logIndex. */
    snprintf(text, sizeof(text), "{\"logIndex\":\"12a\",\"integratedTime\":\"1\",%s}", id);
    o = json_tokener_parse(text);
    assert_int_equal(tg_tlog_entry_from_bundle(o, &e), TG_EINVALID);
    json_object_put(o);
    /* A negative integratedTime. */
    snprintf(text, sizeof(text), "{\"logIndex\":\"1\",\"integratedTime\":-5,%s}", id);
    o = json_tokener_parse(text);
    assert_int_equal(tg_tlog_entry_from_bundle(o, &e), TG_EINVALID);
    json_object_put(o);
    /* A keyId that is not 32 bytes. */
    snprintf(text, sizeof(text),
             "{\"logId\":{\"keyId\":\"AAAA\"},\"kindVersion\":{\"kind\":\"dsse\",\"version\":"
             "\"0.0.1\"},\"canonicalizedBody\":\"e30=\"}");
    o = json_tokener_parse(text);
    assert_int_equal(tg_tlog_entry_from_bundle(o, &e), TG_EINVALID);
    json_object_put(o);
}

/* ---- certificate and identity ---- */

static int verify_good_leaf(const struct tg_identity_rule *rules, size_t n,
                            struct tg_cert_identity *id)
{
    struct tg_trusted_root *root = load_root("trusted_root.json");
    struct bundle b;
    EVP_PKEY *key = NULL;
    int rc;

    bundle_load("good.bundle.json", &b);
    rc = tg_keyless_verify_cert(root, b.leaf, b.leaf_len, NULL, NULL, 0, b.entry.integrated_time,
                                false, rules, n, &key, id);
    assert_true(rc == 0 ? key != NULL : key == NULL);
    EVP_PKEY_free(key);
    bundle_free(&b);
    tg_trusted_root_free(root);
    return rc;
}

#define ISSUER  "https://issuer.example"
#define SUBJECT "https://good.example/ci/release.yml@refs/heads/main"

static void regexp_is_anchored(void **state)
{
    struct tg_cert_identity id = {0};
    struct tg_identity_rule r = {.issuer = ISSUER};

    (void)state;
    r.subject_regexp = "good\\.example"; /* a substring: unanchored it would match */
    assert_int_equal(verify_good_leaf(&r, 1, &id), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "does not match"));
    r.subject_regexp = "https://good\\.example/ci/.*@refs/heads/main";
    assert_int_equal(verify_good_leaf(&r, 1, &id), 0);
    assert_string_equal(id.subject, SUBJECT);
    tg_cert_identity_clear(&id);
    /* Alternation stays inside the anchors: "a|b" is ^(a|b)$, not ^a|b$. */
    r.subject_regexp = "nothing|good\\.example";
    assert_int_equal(verify_good_leaf(&r, 1, &id), TG_EINVALID);
    /* The issuer regexp is anchored too. */
    r.subject_regexp = NULL;
    r.subject = SUBJECT;
    r.issuer = NULL;
    r.issuer_regexp = "issuer\\.example";
    assert_int_equal(verify_good_leaf(&r, 1, &id), TG_EINVALID);
    r.issuer_regexp = "https://[a-z]+\\.example";
    assert_int_equal(verify_good_leaf(&r, 1, &id), 0);
    assert_string_equal(id.issuer, ISSUER);
    tg_cert_identity_clear(&id);
    /* An invalid regexp matches nothing. */
    r.issuer_regexp = "(";
    assert_int_equal(verify_good_leaf(&r, 1, &id), TG_EINVALID);
}

static void any_rule_matches(void **state)
{
    struct tg_cert_identity id = {0};
    struct tg_identity_rule rules[] = {
        {.issuer = "https://other.example", .subject = SUBJECT},
        {.issuer = ISSUER, .subject = "someone-else"},
        {.issuer = ISSUER, .subject = SUBJECT},
    };

    (void)state;
    assert_int_equal(verify_good_leaf(rules, 2, &id), TG_EINVALID);
    assert_int_equal(verify_good_leaf(rules, 3, &id), 0);
    assert_string_equal(id.subject, SUBJECT);
    tg_cert_identity_clear(&id);
    /* No rules: nothing matches. */
    assert_int_equal(verify_good_leaf(rules, 0, &id), TG_EINVALID);
}

static void issuer_falls_back_to_legacy_oid(void **state)
{
    struct json_object *doc = load_json("leaf-issuer-v1.json"), *v;
    struct tg_trusted_root *root = load_root("trusted_root.json");
    struct tg_identity_rule r = {.issuer = ISSUER, .subject = SUBJECT};
    struct tg_cert_identity id = {0};
    EVP_PKEY *key = NULL;
    unsigned char *der = NULL;
    size_t der_len;
    const char *s;

    (void)state;
    assert_true(json_object_object_get_ex(doc, "leaf", &v));
    s = json_object_get_string(v);
    assert_int_equal(tg_b64_decode(s, strlen(s), &der, &der_len), 0);
    assert_true(json_object_object_get_ex(doc, "at", &v));
    assert_int_equal(tg_keyless_verify_cert(root, der, der_len, NULL, NULL, 0,
                                            json_object_get_int64(v), false, &r, 1, &key, &id),
                     0);
    assert_string_equal(id.issuer, ISSUER);
    EVP_PKEY_free(key);
    tg_cert_identity_clear(&id);
    free(der);
    tg_trusted_root_free(root);
    json_object_put(doc);
}

static void cert_outside_validity_fails(void **state)
{
    struct tg_trusted_root *root = load_root("trusted_root.json");
    struct tg_identity_rule r = {.issuer = ISSUER, .subject = SUBJECT};
    struct tg_cert_identity id = {0};
    struct bundle b;
    EVP_PKEY *key = NULL;

    (void)state;
    bundle_load("good.bundle.json", &b);
    /* Eleven minutes after signing: the 10-minute leaf has expired. */
    assert_int_equal(tg_keyless_verify_cert(root, b.leaf, b.leaf_len, NULL, NULL, 0,
                                            b.entry.integrated_time + 660, false, &r, 1, &key, &id),
                     TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "certificate chain"));
    assert_null(key);
    /* A day before: the CA's validFor has not started. */
    assert_int_equal(tg_keyless_verify_cert(root, b.leaf, b.leaf_len, NULL, NULL, 0,
                                            b.entry.integrated_time - 2 * 86400, false, &r, 1, &key,
                                            &id),
                     TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "no certificate authority valid"));
    /* Garbage for a leaf. */
    assert_int_equal(tg_keyless_verify_cert(root, b.leaf, b.leaf_len - 1, NULL, NULL, 0,
                                            b.entry.integrated_time, false, &r, 1, &key, &id),
                     TG_EINVALID);
    bundle_free(&b);
    tg_trusted_root_free(root);
}

static void leaf_from_another_ca_fails(void **state)
{
    struct tg_trusted_root *root = load_root("trusted_root-evil.json");
    struct tg_identity_rule r = {.issuer = ISSUER, .subject = SUBJECT};
    struct tg_cert_identity id = {0};
    struct bundle b;
    EVP_PKEY *key = NULL;

    (void)state;
    bundle_load("good.bundle.json", &b);
    assert_int_equal(tg_keyless_verify_cert(root, b.leaf, b.leaf_len, NULL, NULL, 0,
                                            b.entry.integrated_time, true, &r, 1, &key, &id),
                     TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "certificate chain"));
    /* And the good bundle's log is not that root's log. */
    assert_int_equal(tg_tlog_verify(root, &b.entry), TG_EINVALID);
    bundle_free(&b);
    tg_trusted_root_free(root);
}

static void ignore_sct_skips_the_sct_check(void **state)
{
    struct tg_trusted_root *root = load_root("trusted_root-no-ct.json");
    struct tg_identity_rule r = {.issuer = ISSUER, .subject = SUBJECT};
    struct tg_cert_identity id = {0};
    struct bundle b;
    EVP_PKEY *key = NULL;

    (void)state;
    bundle_load("good.bundle.json", &b);
    assert_int_equal(tg_keyless_verify_cert(root, b.leaf, b.leaf_len, NULL, NULL, 0,
                                            b.entry.integrated_time, false, &r, 1, &key, &id),
                     TG_EINVALID);
    assert_int_equal(tg_keyless_verify_cert(root, b.leaf, b.leaf_len, NULL, NULL, 0,
                                            b.entry.integrated_time, true, &r, 1, &key, &id),
                     0);
    EVP_PKEY_free(key);
    tg_cert_identity_clear(&id);
    bundle_free(&b);
    tg_trusted_root_free(root);
}

/* Verifies leaf-sans.json's leaf named which (no SCT) with one rule. */
static int verify_sans_leaf(const char *which, const struct tg_identity_rule *r,
                            struct tg_cert_identity *id)
{
    struct json_object *doc = load_json("leaf-sans.json"), *o, *v;
    struct tg_trusted_root *root = load_root("trusted_root.json");
    EVP_PKEY *key = NULL;
    unsigned char *der = NULL;
    size_t der_len;
    const char *s;
    int rc;

    assert_true(json_object_object_get_ex(doc, which, &o));
    assert_true(json_object_object_get_ex(o, "leaf", &v));
    s = json_object_get_string(v);
    assert_int_equal(tg_b64_decode(s, strlen(s), &der, &der_len), 0);
    assert_true(json_object_object_get_ex(o, "at", &v));
    rc = tg_keyless_verify_cert(root, der, der_len, NULL, NULL, 0, json_object_get_int64(v), true,
                                r, 1, &key, id);
    EVP_PKEY_free(key);
    free(der);
    tg_trusted_root_free(root);
    json_object_put(doc);
    return rc;
}

static void every_san_type_matches(void **state)
{
    static const char *const sans[] = {"builder@example", "ops@example.com", "build.example",
                                       "10.1.2.3", "2001:db8::7"};
    struct tg_cert_identity id = {0};
    struct tg_identity_rule r = {.issuer = ISSUER};

    (void)state;
    for (size_t i = 0; i < sizeof(sans) / sizeof(sans[0]); i++) {
        r.subject = sans[i];
        if (verify_sans_leaf("all_sans", &r, &id) != 0)
            fail_msg("SAN %s: %s", sans[i], tg_error_last());
        assert_string_equal(id.subject, sans[i]);
        assert_string_equal(id.issuer, ISSUER); /* from .1.8, a DER UTF8String */
        tg_cert_identity_clear(&id);
    }
    r.subject = "10.1.2.4";
    assert_int_equal(verify_sans_leaf("all_sans", &r, &id), TG_EINVALID);
    r.subject = NULL;
    r.subject_regexp = "[a-z]+@example";
    assert_int_equal(verify_sans_leaf("all_sans", &r, &id), 0);
    assert_string_equal(id.subject, "builder@example");
    tg_cert_identity_clear(&id);
}

static void code_signing_eku_required(void **state)
{
    struct tg_cert_identity id = {0};
    struct tg_identity_rule r = {.issuer = ISSUER, .subject = "ops@example.com"};

    (void)state;
    assert_int_equal(verify_sans_leaf("noeku", &r, &id), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "codeSigning"));
    assert_null(id.subject);
}

/* A CT log whose validFor starts after the SCT was issued does not count. */
static void ct_log_not_valid_at_sct_time_fails(void **state)
{
    size_t len;
    char *text = slurp("trusted_root.json", &len), *p, *last = NULL;
    struct tg_trusted_root *root = NULL;
    struct tg_identity_rule r = {.issuer = ISSUER, .subject = SUBJECT};
    struct tg_cert_identity id = {0};
    struct bundle b;
    EVP_PKEY *key = NULL;

    (void)state;
    for (p = strstr(text, "\"ctlogs\""); p && (p = strstr(p, "\"start\": \"")); p++)
        last = p;
    assert_non_null(last); /* the ctlog's validFor.start: move it to 2099 */
    memcpy(last + 10, "2099", 4);
    assert_int_equal(tg_trusted_root_parse(text, len, &root), 0);
    bundle_load("good.bundle.json", &b);
    assert_int_equal(tg_keyless_verify_cert(root, b.leaf, b.leaf_len, NULL, NULL, 0,
                                            b.entry.integrated_time, false, &r, 1, &key, &id),
                     TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "no valid SCT"));
    bundle_free(&b);
    tg_trusted_root_free(root);
    free(text);
}

/* ---- trusted root parsing ---- */

static void trusted_root_rejects_bad_input(void **state)
{
    struct tg_trusted_root *r = NULL;
    struct log l;
    char *p, *text;

    (void)state;
    assert_int_equal(tg_trusted_root_parse("{", 1, &r), TG_EINVALID);
    assert_int_equal(tg_trusted_root_parse("[]", 2, &r), TG_EINVALID);
    assert_int_equal(tg_trusted_root_parse("{\"mediaType\":\"x\"}", 17, &r), TG_EINVALID);
    assert_int_equal(tg_trusted_root_parse("{\"tlogs\":{}}", 12, &r), TG_EINVALID);
    assert_null(r);
    log_new(&l, "2020-01-01T00:00:00Z");
    /* A keyId that is not sha256 of the key. */
    text = strdup(l.root_json);
    p = strstr(text, "\"keyId\":\"") + 9;
    *p = *p == 'A' ? 'B' : 'A';
    assert_int_equal(tg_trusted_root_parse(text, strlen(text), &r), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "keyId"));
    free(text);
    /* A validFor that is not RFC 3339. */
    text = strdup(l.root_json);
    p = strstr(text, "2020-01-01T");
    p[10] = ' ';
    p[19] = '?';
    assert_int_equal(tg_trusted_root_parse(text, strlen(text), &r), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "validFor"));
    free(text);
    assert_null(r);
    log_free(&l);
}

static void trusted_root_times_with_fraction_and_offset(void **state)
{
    struct log l;
    struct tg_trusted_root *r = NULL;
    struct tg_tlog_entry e;
    char hex[65], canon[256], *text, *p;

    (void)state;
    log_new(&l, "2023-11-14T22:13:20.5+00:00"); /* 1700000000.5: after integratedTime */
    assert_int_equal(tg_trusted_root_parse(l.root_json, strlen(l.root_json), &r), 0);
    tg_hex(l.id, 32, hex);
    snprintf(canon, sizeof(canon),
             "{\"body\":\"aGVsbG8=\",\"integratedTime\":1700000000,\"logID\":\"%s\","
             "\"logIndex\":42}",
             hex);
    set_entry(&l, &e, canon);
    assert_int_equal(tg_tlog_verify(r, &e), 0); /* fractions are dropped: start 1700000000 */
    tg_trusted_root_free(r);
    /* One hour east of UTC: 23:13:20+01:00 is 1700000000. */
    text = strdup(l.root_json);
    p = strstr(text, "2023-11-14T22:13:20.5+00:00");
    memcpy(p, "2023-11-14T23:13:21.0+01:00", 27);
    assert_int_equal(tg_trusted_root_parse(text, strlen(text), &r), 0);
    assert_int_equal(tg_tlog_verify(r, &e), TG_EINVALID); /* starts one second later */
    tg_trusted_root_free(r);
    free(text);
    tg_tlog_entry_clear(&e);
    log_free(&l);
}

/* ---- body binding ---- */

static struct tg_tlog_entry body_entry(const char *kind, const char *version, const char *body)
{
    struct tg_tlog_entry e;

    memset(&e, 0, sizeof(e));
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.version, sizeof(e.version), "%s", version);
    e.body = (unsigned char *)strdup(body);
    e.body_len = strlen(body);
    return e;
}

static void bind_hashedrekord(void **state)
{
    /* sig "sig!" is c2lnIQ==; sha256("payload") below. */
    char hash[65], body[512];
    struct tg_tlog_entry e;

    (void)state;
    tg_sha256_hex("payload", 7, hash);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"0.0.1\",\"kind\":\"hashedrekord\",\"spec\":{\"data\":{\"hash\":{"
             "\"algorithm\":\"sha256\",\"value\":\"%s\"}},\"signature\":{\"content\":\"c2lnIQ==\","
             "\"publicKey\":{\"content\":\"\"}}}}",
             hash);
    e = body_entry("hashedrekord", "0.0.1", body);
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig!", 4, (const unsigned char *)"payload", 7), 0);
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig?", 4, (const unsigned char *)"payload", 7),
        TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "signature"));
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig!", 4, (const unsigned char *)"payloaD", 7),
        TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "digest"));
    /* kindVersion must be the body's. */
    snprintf(e.version, sizeof(e.version), "0.0.2");
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig!", 4, (const unsigned char *)"payload", 7),
        TG_EINVALID);
    tg_tlog_entry_clear(&e);
}

static void bind_dsse(void **state)
{
    char hash[65], body[512];
    struct tg_tlog_entry e;

    (void)state;
    tg_sha256_hex("payload", 7, hash);
    snprintf(
        body, sizeof(body),
        "{\"apiVersion\":\"0.0.1\",\"kind\":\"dsse\",\"spec\":{\"envelopeHash\":{\"algorithm\":"
        "\"sha256\",\"value\":\"00\"},\"payloadHash\":{\"algorithm\":\"sha256\",\"value\":\"%s\"},"
        "\"signatures\":[{\"signature\":\"c2lnIQ==\",\"verifier\":\"\"}]}}",
        hash);
    e = body_entry("dsse", "0.0.1", body);
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig!", 4, (const unsigned char *)"payload", 7), 0);
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig?", 4, (const unsigned char *)"payload", 7),
        TG_EINVALID);
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig!", 4, (const unsigned char *)"other", 5),
        TG_EINVALID);
    tg_tlog_entry_clear(&e);
    /* Two signatures: refused (sigstore-js: "signature count mismatch"). */
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"0.0.1\",\"kind\":\"dsse\",\"spec\":{\"payloadHash\":{\"algorithm\":"
             "\"sha256\",\"value\":\"%s\"},\"signatures\":[{\"signature\":\"c2lnIQ==\"},"
             "{\"signature\":\"c2lnIQ==\"}]}}",
             hash);
    e = body_entry("dsse", "0.0.1", body);
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig!", 4, (const unsigned char *)"payload", 7),
        TG_EINVALID);
    tg_tlog_entry_clear(&e);
}

static void bind_intoto_double_base64(void **state)
{
    struct bundle b;
    char hash[65], body[512];
    struct tg_tlog_entry e;

    (void)state;
    bundle_load("good.bundle.json", &b);
    assert_int_equal(tg_tlog_bind(&b.entry, b.sig, b.sig_len, b.payload, b.payload_len), 0);
    b.sig[3] ^= 1;
    assert_int_equal(tg_tlog_bind(&b.entry, b.sig, b.sig_len, b.payload, b.payload_len),
                     TG_EINVALID);
    b.sig[3] ^= 1;
    b.payload[0] ^= 1;
    assert_int_equal(tg_tlog_bind(&b.entry, b.sig, b.sig_len, b.payload, b.payload_len),
                     TG_EINVALID);
    bundle_free(&b);
    /* "sig!" -> c2lnIQ== -> YzJsbklRPT0=; single base64 is not accepted. */
    tg_sha256_hex("payload", 7, hash);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"0.0.2\",\"kind\":\"intoto\",\"spec\":{\"content\":{\"envelope\":{"
             "\"signatures\":[{\"sig\":\"%s\"}]},\"payloadHash\":{\"algorithm\":\"sha256\","
             "\"value\":\"%s\"}}}}",
             "YzJsbklRPT0=", hash);
    e = body_entry("intoto", "0.0.2", body);
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig!", 4, (const unsigned char *)"payload", 7), 0);
    tg_tlog_entry_clear(&e);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"0.0.2\",\"kind\":\"intoto\",\"spec\":{\"content\":{\"envelope\":{"
             "\"signatures\":[{\"sig\":\"%s\"}]},\"payloadHash\":{\"algorithm\":\"sha256\","
             "\"value\":\"%s\"}}}}",
             "c2lnIQ==", hash);
    e = body_entry("intoto", "0.0.2", body);
    assert_int_equal(
        tg_tlog_bind(&e, (const unsigned char *)"sig!", 4, (const unsigned char *)"payload", 7),
        TG_EINVALID);
    tg_tlog_entry_clear(&e);
}

static void bind_unknown_kind_fails(void **state)
{
    struct tg_tlog_entry e =
        body_entry("rekord", "0.0.1", "{\"apiVersion\":\"0.0.1\",\"kind\":\"rekord\",\"spec\":{}}");

    (void)state;
    assert_int_equal(tg_tlog_bind(&e, (const unsigned char *)"s", 1, (const unsigned char *)"p", 1),
                     TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "unsupported"));
    tg_tlog_entry_clear(&e);
    e = body_entry("dsse", "0.0.1", "not json");
    assert_int_equal(tg_tlog_bind(&e, (const unsigned char *)"s", 1, (const unsigned char *)"p", 1),
                     TG_EINVALID);
    tg_tlog_entry_clear(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_good),
        cmocka_unit_test(case_good_regexp),
        cmocka_unit_test(case_good_bigtree),
        cmocka_unit_test(case_evil_exact),
        cmocka_unit_test(case_wrong_subject),
        cmocka_unit_test(case_wrong_issuer),
        cmocka_unit_test(case_tampered_set),
        cmocka_unit_test(case_bad_proof_root),
        cmocka_unit_test(case_bad_proof_root_checkpoint),
        cmocka_unit_test(case_bad_proof_hash),
        cmocka_unit_test(case_bad_checkpoint),
        cmocka_unit_test(case_other_signature),
        cmocka_unit_test(case_no_ct_log),
        cmocka_unit_test(case_no_sct),
        cmocka_unit_test(case_ca_expired_at_signing),
        cmocka_unit_test(case_leaf_expired_at_signing),
        cmocka_unit_test(case_regexp_unanchored_trap),
        cmocka_unit_test(cases_all_named),
        cmocka_unit_test(merkle_proofs_verify_for_every_index),
        cmocka_unit_test(merkle_altered_hash_fails),
        cmocka_unit_test(merkle_wrong_index_fails),
        cmocka_unit_test(merkle_wrong_hash_count_fails),
        cmocka_unit_test(checkpoint_edge_cases),
        cmocka_unit_test(set_canonical_json),
        cmocka_unit_test(set_with_another_key_fails),
        cmocka_unit_test(tlog_key_not_valid_at_integrated_time_fails),
        cmocka_unit_test(unknown_log_fails),
        cmocka_unit_test(entry_without_promise_or_proof_fails),
        cmocka_unit_test(legacy_bundle_verifies),
        cmocka_unit_test(entry_from_bundle_encoding),
        cmocka_unit_test(regexp_is_anchored),
        cmocka_unit_test(any_rule_matches),
        cmocka_unit_test(issuer_falls_back_to_legacy_oid),
        cmocka_unit_test(cert_outside_validity_fails),
        cmocka_unit_test(leaf_from_another_ca_fails),
        cmocka_unit_test(ignore_sct_skips_the_sct_check),
        cmocka_unit_test(every_san_type_matches),
        cmocka_unit_test(code_signing_eku_required),
        cmocka_unit_test(ct_log_not_valid_at_sct_time_fails),
        cmocka_unit_test(trusted_root_rejects_bad_input),
        cmocka_unit_test(trusted_root_times_with_fraction_and_offset),
        cmocka_unit_test(bind_hashedrekord),
        cmocka_unit_test(bind_dsse),
        cmocka_unit_test(bind_intoto_double_base64),
        cmocka_unit_test(bind_unknown_kind_fails),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
