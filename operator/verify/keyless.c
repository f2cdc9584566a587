/*
 * Keyless (Fulcio/Rekor) verification offline; see keyless.h and
 * ../shared/supply-chain-formats.md §5.
 */
#define _GNU_SOURCE
#include "verify/keyless.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/asn1.h>
#include <openssl/ct.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "util/error.h"
#include "verify/crypto.h"
#include "verify/jsonutil.h"

#define MAX_LOGS         64        /* tlogs or ctlogs in one trusted root */
#define MAX_CAS          64        /* certificate authorities in one trusted root */
#define MAX_CHAIN        16        /* certificates in one CA chain, or intermediates given */
#define MAX_PROOF_HASHES 64        /* a Merkle path in a tree of at most 2^63 leaves */
#define MAX_BODY         (1 << 20) /* a canonicalized Rekor body */
#define MAX_NOTE         (1 << 16) /* a checkpoint note */
#define JSON_DEPTH       32
#define SCT_TIME_SLACK   60 /* seconds an SCT may postdate the signing time (clock skew) */

#define OID_ISSUER_V2 "1.3.6.1.4.1.57264.1.8"
#define OID_ISSUER_V1 "1.3.6.1.4.1.57264.1.1"
#define OID_OTHERNAME "1.3.6.1.4.1.57264.1.7"

/* A validity window; end is INT64_MAX when open. */
struct window {
    int64_t start, end;
};

/* A transparency or CT log's key. */
struct log_key {
    EVP_PKEY *key;
    unsigned char key_id[32]; /* sha256 of the SPKI DER */
    struct window valid;
};

/* One certificate authority: certs[0] issues leaves, certs[n-1] is the root. */
struct ca {
    STACK_OF(X509) * certs;
    struct window valid;
};

struct tg_trusted_root {
    struct log_key *tlogs;
    size_t n_tlogs;
    struct log_key *ctlogs;
    size_t n_ctlogs;
    struct ca *cas;
    size_t n_cas;
    CTLOG_STORE *ct_store; /* the ctlogs, for OpenSSL's SCT checks; NULL when none */
};

/* ---- small helpers ---- */

static bool in_window(const struct window *w, int64_t t)
{
    return t >= w->start && t <= w->end;
}

/* Parses RFC 3339 ("2024-01-02T03:04:05[.frac](Z|+hh:mm|-hh:mm)") into Unix seconds. */
static int parse_rfc3339(const char *s, int64_t *out)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    struct tm tm = {0};
    int n = 0;
    const char *p;
    int64_t t, off = 0;

    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        char c = s[i];
        if (shape[i] == 'd'   ? (c < '0' || c > '9')
            : shape[i] == 'T' ? (c != 'T' && c != 't')
                              : c != shape[i])
            return TG_EINVALID;
    }
    if (sscanf(s, "%4d-%2d-%2d%*[Tt]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 19)
        return TG_EINVALID;
    p = s + n;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return TG_EINVALID;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm, m = 0;
        if (!(p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' && p[3] == ':' &&
              p[4] >= '0' && p[4] <= '9' && p[5] >= '0' && p[5] <= '9') ||
            sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &m) != 2 || m != 5 || hh > 23 || mm > 59)
            return TG_EINVALID;
        off = (int64_t)hh * 3600 + mm * 60;
        if (*p == '+')
            off = -off;
        p += 6;
    } else {
        return TG_EINVALID;
    }
    if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return TG_EINVALID;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = (int64_t)timegm(&tm);
    *out = t + off;
    return 0;
}

/* Reads {"start","end"?}; an absent window or start means "always" from the start. */
static int parse_window(struct json_object *obj, struct window *w)
{
    struct json_object *v;

    w->start = INT64_MIN;
    w->end = INT64_MAX;
    if (!obj)
        return 0;
    if (json_object_object_get_ex(obj, "start", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            parse_rfc3339(json_object_get_string(v), &w->start) < 0)
            return tg_error_set(TG_EINVALID, "validFor.start is not an RFC 3339 time");
    }
    if (json_object_object_get_ex(obj, "end", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            parse_rfc3339(json_object_get_string(v), &w->end) < 0)
            return tg_error_set(TG_EINVALID, "validFor.end is not an RFC 3339 time");
    }
    return 0;
}

/*
 * Reads an int64 member that protobuf JSON writes as a string (or a number); absent is 0 (the
 * protobuf default). Negative values are refused.
 */
static int get_i64(struct json_object *obj, const char *key, int64_t *out)
{
    struct json_object *v;
    const char *s;
    char *end;
    long long n;

    *out = 0;
    if (!json_object_object_get_ex(obj, key, &v))
        return 0;
    if (json_object_is_type(v, json_type_int)) {
        *out = json_object_get_int64(v);
    } else if (json_object_is_type(v, json_type_string)) {
        s = json_object_get_string(v);
        if (*s < '0' || *s > '9')
            return tg_error_set(TG_EINVALID, "%s is not an integer", key);
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno || *end)
            return tg_error_set(TG_EINVALID, "%s is not an integer", key);
        *out = n;
    } else {
        return tg_error_set(TG_EINVALID, "%s is not an integer", key);
    }
    if (*out < 0)
        return tg_error_set(TG_EINVALID, "%s is negative", key);
    return 0;
}

/* Parses JSON text with a depth limit; *out is the caller's (json_object_put). */
static int parse_json(const char *text, size_t len, struct json_object **out)
{
    struct json_tokener *tok;
    struct json_object *obj;

    if (len > INT_MAX)
        return tg_error_set(TG_EINVALID, "JSON too large");
    tok = json_tokener_new_ex(JSON_DEPTH);
    if (!tok)
        return tg_error_set(TG_ENOMEM, "out of memory");
    obj = json_tokener_parse_ex(tok, text, (int)len);
    if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len) {
        json_object_put(obj);
        json_tokener_free(tok);
        return tg_error_set(TG_EINVALID, "not a JSON document");
    }
    json_tokener_free(tok);
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return tg_error_set(TG_EINVALID, "not a JSON object");
    }
    *out = obj;
    return 0;
}

/* ---- trusted root ---- */

static void log_keys_free(struct log_key *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        EVP_PKEY_free(k[i].key);
    free(k);
}

/* Reads tlogs[] or ctlogs[]: {publicKey:{rawBytes,validFor}, logId:{keyId}}. */
static int parse_logs(struct json_object *root, const char *name, struct log_key **out,
                      size_t *n_out)
{
    struct json_object *arr, *item, *pk, *vf, *lid;
    struct log_key *keys;
    size_t n;
    int rc;

    *out = NULL;
    *n_out = 0;
    if (!json_object_object_get_ex(root, name, &arr))
        return 0;
    if (!json_object_is_type(arr, json_type_array))
        return tg_error_set(TG_EINVALID, "trusted root: %s is not an array", name);
    n = json_object_array_length(arr);
    if (n > MAX_LOGS)
        return tg_error_set(TG_EINVALID, "trusted root: more than %d %s", MAX_LOGS, name);
    if (n == 0)
        return 0;
    keys = calloc(n, sizeof(*keys));
    if (!keys)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        unsigned char *der = NULL, *kid = NULL;
        size_t der_len, kid_len;

        item = json_object_array_get_idx(arr, i);
        if (!json_object_object_get_ex(item, "publicKey", &pk)) {
            rc = tg_error_set(TG_EINVALID, "trusted root: %s[%zu] has no publicKey", name, i);
            goto fail;
        }
        rc = tg_json_b64(pk, "rawBytes", true, NULL, &der, &der_len);
        if (rc < 0) {
            tg_error_wrap(rc, "trusted root: %s[%zu].publicKey", name, i);
            goto fail;
        }
        rc = tg_pubkey_from_der(der, der_len, &keys[i].key);
        if (rc < 0) {
            free(der);
            tg_error_wrap(rc, "trusted root: %s[%zu].publicKey", name, i);
            goto fail;
        }
        tg_sha256(der, der_len, keys[i].key_id);
        free(der);
        vf = NULL;
        json_object_object_get_ex(pk, "validFor", &vf);
        rc = parse_window(vf, &keys[i].valid);
        if (rc < 0) {
            tg_error_wrap(rc, "trusted root: %s[%zu]", name, i);
            goto fail;
        }
        if (json_object_object_get_ex(item, "logId", &lid)) {
            rc = tg_json_b64(lid, "keyId", true, NULL, &kid, &kid_len);
            if (rc < 0) {
                tg_error_wrap(rc, "trusted root: %s[%zu].logId", name, i);
                goto fail;
            }
            if (kid_len != 32 || memcmp(kid, keys[i].key_id, 32) != 0) {
                free(kid);
                rc = tg_error_set(TG_EINVALID,
                                  "trusted root: %s[%zu].logId.keyId is not sha256 of its key",
                                  name, i);
                goto fail;
            }
            free(kid);
        }
    }
    *out = keys;
    *n_out = n;
    return 0;
fail:
    log_keys_free(keys, n);
    return rc;
}

static void cas_free(struct ca *cas, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sk_X509_pop_free(cas[i].certs, X509_free);
    free(cas);
}

/* Reads certificateAuthorities[]: {certChain:{certificates:[{rawBytes}]}, validFor}. */
static int parse_cas(struct json_object *root, struct ca **out, size_t *n_out)
{
    struct json_object *arr, *item, *chain, *certs, *vf;
    struct ca *cas;
    size_t n;
    int rc;

    *out = NULL;
    *n_out = 0;
    if (!json_object_object_get_ex(root, "certificateAuthorities", &arr))
        return 0;
    if (!json_object_is_type(arr, json_type_array))
        return tg_error_set(TG_EINVALID, "trusted root: certificateAuthorities is not an array");
    n = json_object_array_length(arr);
    if (n > MAX_CAS)
        return tg_error_set(TG_EINVALID, "trusted root: more than %d certificate authorities",
                            MAX_CAS);
    if (n == 0)
        return 0;
    cas = calloc(n, sizeof(*cas));
    if (!cas)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t nc;

        item = json_object_array_get_idx(arr, i);
        if (!json_object_object_get_ex(item, "certChain", &chain) ||
            !json_object_object_get_ex(chain, "certificates", &certs) ||
            !json_object_is_type(certs, json_type_array) ||
            (nc = json_object_array_length(certs)) == 0 || nc > MAX_CHAIN) {
            rc = tg_error_set(TG_EINVALID,
                              "trusted root: certificateAuthorities[%zu] has no certChain", i);
            goto fail;
        }
        cas[i].certs = sk_X509_new_null();
        if (!cas[i].certs) {
            rc = tg_error_set(TG_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t j = 0; j < nc; j++) {
            unsigned char *der = NULL;
            const unsigned char *p;
            size_t der_len;
            X509 *x;

            rc = tg_json_b64(json_object_array_get_idx(certs, j), "rawBytes", true, NULL, &der,
                             &der_len);
            if (rc < 0) {
                tg_error_wrap(rc, "trusted root: certificateAuthorities[%zu]", i);
                goto fail;
            }
            p = der;
            x = d2i_X509(NULL, &p, (long)der_len);
            if (!x || p != der + der_len) {
                X509_free(x);
                free(der);
                rc = tg_error_set(TG_EINVALID,
                                  "trusted root: certificateAuthorities[%zu] certificate %zu is "
                                  "not DER X.509",
                                  i, j);
                goto fail;
            }
            free(der);
            if (!sk_X509_push(cas[i].certs, x)) {
                X509_free(x);
                rc = tg_error_set(TG_ENOMEM, "out of memory");
                goto fail;
            }
        }
        vf = NULL;
        json_object_object_get_ex(item, "validFor", &vf);
        rc = parse_window(vf, &cas[i].valid);
        if (rc < 0) {
            tg_error_wrap(rc, "trusted root: certificateAuthorities[%zu]", i);
            goto fail;
        }
    }
    *out = cas;
    *n_out = n;
    return 0;
fail:
    cas_free(cas, n);
    return rc;
}

/*
 * Builds OpenSSL's CT log store from the ctlogs. OpenSSL 3.0 can only load a CTLOG_STORE from
 * a file (there is no public "add"), so the config goes to an anonymous in-memory file
 * (memfd), never to disk.
 */
static int build_ct_store(struct tg_trusted_root *r)
{
    char path[64];
    FILE *f = NULL;
    int fd, rc = 0;

    if (r->n_ctlogs == 0)
        return 0;
    fd = memfd_create("tollgate-ctlogs", MFD_CLOEXEC);
    if (fd < 0)
        return tg_error_set(TG_ENOMEM, "trusted root: memfd_create failed");
    f = fdopen(fd, "w+");
    if (!f) {
        close(fd);
        return tg_error_set(TG_ENOMEM, "trusted root: fdopen failed");
    }
    fputs("enabled_logs=", f);
    for (size_t i = 0; i < r->n_ctlogs; i++)
        fprintf(f, "%slog%zu", i ? "," : "", i);
    fputs("\n", f);
    for (size_t i = 0; i < r->n_ctlogs; i++) {
        unsigned char *der = NULL;
        size_t der_len;
        char *b64;

        rc = tg_pubkey_to_der(r->ctlogs[i].key, &der, &der_len);
        if (rc < 0)
            goto out;
        b64 = tg_b64_encode(der, der_len);
        free(der);
        if (!b64) {
            rc = tg_error_set(TG_ENOMEM, "out of memory");
            goto out;
        }
        fprintf(f, "[log%zu]\ndescription=ctlog %zu\nkey=%s\n", i, i, b64);
        free(b64);
    }
    if (fflush(f) != 0) {
        rc = tg_error_set(TG_ENOMEM, "trusted root: writing the CT log config failed");
        goto out;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fileno(f));
    r->ct_store = CTLOG_STORE_new();
    if (!r->ct_store) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto out;
    }
    if (CTLOG_STORE_load_file(r->ct_store, path) != 1) {
        rc = tg_error_set(TG_EINVALID, "trusted root: OpenSSL refused the CT log keys");
        goto out;
    }
out:
    fclose(f);
    return rc;
}

int tg_trusted_root_parse(const char *json, size_t len, struct tg_trusted_root **out)
{
    struct json_object *doc = NULL;
    struct tg_trusted_root *r;
    const char *mt;
    int rc;

    *out = NULL;
    rc = parse_json(json, len, &doc);
    if (rc < 0)
        return tg_error_wrap(rc, "trusted root");
    mt = tg_json_str(doc, "mediaType");
    if (mt && strncmp(mt, "application/vnd.dev.sigstore.trustedroot", 40) != 0) {
        rc = tg_error_set(TG_EINVALID, "trusted root: unknown mediaType %s", mt);
        json_object_put(doc);
        return rc;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        json_object_put(doc);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    if ((rc = parse_logs(doc, "tlogs", &r->tlogs, &r->n_tlogs)) < 0 ||
        (rc = parse_logs(doc, "ctlogs", &r->ctlogs, &r->n_ctlogs)) < 0 ||
        (rc = parse_cas(doc, &r->cas, &r->n_cas)) < 0 || (rc = build_ct_store(r)) < 0) {
        json_object_put(doc);
        tg_trusted_root_free(r);
        return rc;
    }
    json_object_put(doc);
    *out = r;
    return 0;
}

void tg_trusted_root_free(struct tg_trusted_root *root)
{
    if (!root)
        return;
    log_keys_free(root->tlogs, root->n_tlogs);
    log_keys_free(root->ctlogs, root->n_ctlogs);
    cas_free(root->cas, root->n_cas);
    CTLOG_STORE_free(root->ct_store);
    free(root);
}

/* ---- certificate ---- */

void tg_cert_identity_clear(struct tg_cert_identity *id)
{
    if (!id)
        return;
    free(id->issuer);
    free(id->subject);
    id->issuer = NULL;
    id->subject = NULL;
}

/* Verifies leaf up to ca at time t with the untrusted intermediates. */
static int verify_chain_with(const struct ca *ca, X509 *leaf, STACK_OF(X509) * untrusted, int64_t t,
                             char *why, size_t why_len)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *inter = sk_X509_dup(untrusted);
    int n = sk_X509_num(ca->certs), rc = TG_EINVALID;

    if (!store || !ctx || !inter) {
        rc = TG_ENOMEM;
        goto out;
    }
    if (X509_STORE_add_cert(store, sk_X509_value(ca->certs, n - 1)) != 1) {
        snprintf(why, why_len, "cannot use the CA root");
        goto out;
    }
    for (int i = 0; i < n - 1; i++)
        if (!sk_X509_push(inter, sk_X509_value(ca->certs, i))) {
            rc = TG_ENOMEM;
            goto out;
        }
    if (X509_STORE_CTX_init(ctx, store, leaf, inter) != 1) {
        rc = TG_ENOMEM;
        goto out;
    }
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)t);
    if (X509_verify_cert(ctx) == 1) {
        rc = 0;
    } else {
        snprintf(why, why_len, "%s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(inter);
    return rc;
}

/* The chain check over every CA valid at t; on success *issuer is the leaf's issuer cert. */
static int verify_chain(const struct tg_trusted_root *root, X509 *leaf, STACK_OF(X509) * untrusted,
                        int64_t t, X509 **issuer)
{
    char why[256] = "no certificate authority in the trusted root";
    bool any_valid = false;

    for (size_t i = 0; i < root->n_cas; i++) {
        const struct ca *ca = &root->cas[i];
        int rc;

        if (!in_window(&ca->valid, t))
            continue;
        any_valid = true;
        rc = verify_chain_with(ca, leaf, untrusted, t, why, sizeof(why));
        if (rc == TG_ENOMEM)
            return tg_error_set(TG_ENOMEM, "out of memory");
        if (rc == 0) {
            /* The issuer: an intermediate or CA cert whose subject names the leaf's issuer. */
            STACK_OF(X509) * all[2] = {untrusted, ca->certs};
            for (int s = 0; s < 2; s++)
                for (int j = 0; j < sk_X509_num(all[s]); j++) {
                    X509 *c = sk_X509_value(all[s], j);
                    if (X509_check_issued(c, leaf) == X509_V_OK) {
                        *issuer = c;
                        return 0;
                    }
                }
            return tg_error_set(TG_EINVALID, "certificate chain: issuer not found");
        }
    }
    if (!any_valid && root->n_cas > 0)
        return tg_error_set(
            TG_EINVALID, "certificate chain: no certificate authority valid at %lld", (long long)t);
    return tg_error_set(TG_EINVALID, "certificate chain: %s", why);
}

/* True when the SCT's log is a ctlog of the root whose validFor contains the SCT's time. */
static bool ctlog_valid_at(const struct tg_trusted_root *root, const SCT *sct)
{
    unsigned char *id = NULL;
    size_t n = SCT_get0_log_id(sct, &id);
    int64_t t = (int64_t)(SCT_get_timestamp(sct) / 1000);

    for (size_t i = 0; i < root->n_ctlogs; i++)
        if (n == 32 && memcmp(id, root->ctlogs[i].key_id, 32) == 0 &&
            in_window(&root->ctlogs[i].valid, t))
            return true;
    return false;
}

/* At least one embedded SCT from a known CT log, valid at the SCT's time, must validate. */
static int verify_scts(const struct tg_trusted_root *root, X509 *leaf, X509 *issuer, int64_t t)
{
    STACK_OF(SCT) * scts;
    CT_POLICY_EVAL_CTX *ctx;
    int valid = 0, rc;

    if (!root->ct_store)
        return tg_error_set(TG_EINVALID, "no valid SCT: the trusted root has no CT logs");
    scts = X509_get_ext_d2i(leaf, NID_ct_precert_scts, NULL, NULL);
    if (!scts)
        return tg_error_set(TG_EINVALID, "no valid SCT: the certificate embeds none");
    ctx = CT_POLICY_EVAL_CTX_new();
    if (!ctx) {
        SCT_LIST_free(scts);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    if (CT_POLICY_EVAL_CTX_set1_cert(ctx, leaf) != 1 ||
        CT_POLICY_EVAL_CTX_set1_issuer(ctx, issuer) != 1) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto out;
    }
    CT_POLICY_EVAL_CTX_set_shared_CTLOG_STORE(ctx, root->ct_store);
    CT_POLICY_EVAL_CTX_set_time(ctx, (uint64_t)(t + SCT_TIME_SLACK) * 1000);
    (void)SCT_LIST_validate(scts, ctx); /* < 1 when any SCT fails; we need one that passes */
    for (int i = 0; i < sk_SCT_num(scts); i++) {
        SCT *sct = sk_SCT_value(scts, i);
        if (SCT_get_validation_status(sct) == SCT_VALIDATION_STATUS_VALID &&
            ctlog_valid_at(root, sct))
            valid++;
    }
    rc = valid > 0 ? 0
                   : tg_error_set(TG_EINVALID, "no valid SCT from a trusted CT log (%d embedded)",
                                  sk_SCT_num(scts));
out:
    CT_POLICY_EVAL_CTX_free(ctx);
    SCT_LIST_free(scts);
    return rc;
}

/* The extension with the dotted OID, or NULL. */
static X509_EXTENSION *find_ext(X509 *x, const char *oid)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    int i;

    if (!obj)
        return NULL;
    i = X509_get_ext_by_OBJ(x, obj, -1);
    ASN1_OBJECT_free(obj);
    return i < 0 ? NULL : X509_get_ext(x, i);
}

/* A NUL-terminated copy of n bytes; NULL when they hold a NUL or memory runs out. */
static char *dup_bytes(const unsigned char *p, int n)
{
    char *s;

    if (n < 0 || memchr(p, 0, (size_t)n))
        return NULL;
    s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    return s;
}

/* The OIDC issuer: OID .1.8 (DER UTF8String), else .1.1 (raw bytes); NULL when neither. */
static char *cert_issuer(X509 *leaf)
{
    X509_EXTENSION *ext = find_ext(leaf, OID_ISSUER_V2);
    ASN1_OCTET_STRING *data;
    const unsigned char *p;
    char *s = NULL;

    if (ext) {
        ASN1_UTF8STRING *u;
        data = X509_EXTENSION_get_data(ext);
        p = ASN1_STRING_get0_data(data);
        u = d2i_ASN1_UTF8STRING(NULL, &p, ASN1_STRING_length(data));
        if (u && p == ASN1_STRING_get0_data(data) + ASN1_STRING_length(data))
            s = dup_bytes(ASN1_STRING_get0_data(u), ASN1_STRING_length(u));
        ASN1_UTF8STRING_free(u);
        return s;
    }
    ext = find_ext(leaf, OID_ISSUER_V1);
    if (!ext)
        return NULL;
    data = X509_EXTENSION_get_data(ext);
    return dup_bytes(ASN1_STRING_get0_data(data), ASN1_STRING_length(data));
}

/* True when value matches the exact string or the anchored ERE (each NULL: any). */
static bool value_matches(const char *value, const char *exact, const char *re)
{
    regex_t rx;
    char *anchored;
    size_t n;
    bool ok;

    if (exact && (!value || strcmp(value, exact) != 0))
        return false;
    if (!re)
        return true;
    if (!value)
        return false;
    n = strlen(re) + 5;
    anchored = malloc(n);
    if (!anchored)
        return false;
    snprintf(anchored, n, "^(%s)$", re);
    if (regcomp(&rx, anchored, REG_EXTENDED | REG_NOSUB) != 0) {
        free(anchored);
        return false;
    }
    ok = regexec(&rx, value, 0, NULL, 0) == 0;
    regfree(&rx);
    free(anchored);
    return ok;
}

/* Appends a SAN string to the list names (at most 64). */
static void add_name(char **names, int *n, char *s)
{
    if (s && *n < 64)
        names[(*n)++] = s;
    else
        free(s);
}

/* Collects the SANs: URI, email, DNS, IP, and Fulcio's OtherName username. */
static int cert_sans(X509 *leaf, char **names, int *n)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    ASN1_OBJECT *other = OBJ_txt2obj(OID_OTHERNAME, 1);

    *n = 0;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char ip[INET6_ADDRSTRLEN];

        switch (g->type) {
        case GEN_URI:
        case GEN_EMAIL:
        case GEN_DNS:
            add_name(names, n,
                     dup_bytes(ASN1_STRING_get0_data(g->d.ia5), ASN1_STRING_length(g->d.ia5)));
            break;
        case GEN_IPADD:
            if (g->d.ip->length == 4 && inet_ntop(AF_INET, g->d.ip->data, ip, sizeof(ip)))
                add_name(names, n, strdup(ip));
            else if (g->d.ip->length == 16 && inet_ntop(AF_INET6, g->d.ip->data, ip, sizeof(ip)))
                add_name(names, n, strdup(ip));
            break;
        case GEN_OTHERNAME:
            if (other && OBJ_cmp(g->d.otherName->type_id, other) == 0 &&
                g->d.otherName->value->type == V_ASN1_UTF8STRING) {
                ASN1_UTF8STRING *u = g->d.otherName->value->value.utf8string;
                add_name(names, n, dup_bytes(ASN1_STRING_get0_data(u), ASN1_STRING_length(u)));
            }
            break;
        default:
            break;
        }
    }
    ASN1_OBJECT_free(other);
    GENERAL_NAMES_free(gens);
    return 0;
}

/* Matches issuer and SANs against the rules; fills id on a match. */
static int match_identity(X509 *leaf, const struct tg_identity_rule *rules, size_t n_rules,
                          struct tg_cert_identity *id)
{
    char *names[64];
    char *issuer = cert_issuer(leaf);
    int n = 0, rc = TG_EINVALID;

    cert_sans(leaf, names, &n);
    for (size_t r = 0; r < n_rules && rc != 0; r++) {
        if (!value_matches(issuer, rules[r].issuer, rules[r].issuer_regexp))
            continue;
        for (int i = 0; i < n; i++) {
            if (!value_matches(names[i], rules[r].subject, rules[r].subject_regexp))
                continue;
            id->subject = names[i];
            names[i] = NULL;
            id->issuer = issuer;
            issuer = NULL;
            rc = 0;
            break;
        }
    }
    if (rc != 0)
        tg_error_set(TG_EINVALID, "identity (issuer %s, subject %s) does not match any rule",
                     issuer ? issuer : "(none)", n > 0 ? names[0] : "(none)");
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(issuer);
    return rc;
}

static X509 *x509_from_der(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x;

    if (len > LONG_MAX)
        return NULL;
    x = d2i_X509(NULL, &p, (long)len);
    if (x && p != der + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int tg_keyless_verify_cert(const struct tg_trusted_root *root, const unsigned char *leaf_der,
                           size_t leaf_len, const unsigned char *const *chain_der,
                           const size_t *chain_len, size_t n_chain, int64_t at_unix,
                           bool ignore_sct, const struct tg_identity_rule *rules, size_t n_rules,
                           EVP_PKEY **key, struct tg_cert_identity *id)
{
    STACK_OF(X509) *untrusted = NULL;
    X509 *leaf = NULL, *issuer = NULL;
    struct tg_cert_identity found = {0};
    int rc;

    *key = NULL;
    memset(id, 0, sizeof(*id));
    if (n_chain > MAX_CHAIN)
        return tg_error_set(TG_EINVALID, "certificate chain: more than %d intermediates",
                            MAX_CHAIN);
    leaf = x509_from_der(leaf_der, leaf_len);
    if (!leaf)
        return tg_error_set(TG_EINVALID, "certificate chain: the leaf is not DER X.509");
    untrusted = sk_X509_new_null();
    if (!untrusted) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_chain; i++) {
        X509 *x = x509_from_der(chain_der[i], chain_len[i]);
        if (!x) {
            rc = tg_error_set(TG_EINVALID, "certificate chain: intermediate %zu is not DER X.509",
                              i);
            goto out;
        }
        if (!sk_X509_push(untrusted, x)) {
            X509_free(x);
            rc = tg_error_set(TG_ENOMEM, "out of memory");
            goto out;
        }
    }
    rc = verify_chain(root, leaf, untrusted, at_unix, &issuer);
    if (rc < 0)
        goto out;
    if (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) ||
        !(X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN)) {
        rc = tg_error_set(TG_EINVALID, "certificate chain: the leaf lacks EKU codeSigning");
        goto out;
    }
    if (!ignore_sct) {
        rc = verify_scts(root, leaf, issuer, at_unix);
        if (rc < 0)
            goto out;
    }
    rc = match_identity(leaf, rules, n_rules, &found);
    if (rc < 0)
        goto out;
    *key = X509_get_pubkey(leaf);
    if (!*key) {
        tg_cert_identity_clear(&found);
        rc = tg_error_set(TG_EINVALID, "certificate chain: the leaf's key is unusable");
        goto out;
    }
    *id = found;
out:
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
    return rc;
}

/* ---- transparency-log entries ---- */

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

/* Copies a kind or version string into dst, refusing what does not fit. */
static int copy_field(char *dst, size_t cap, const char *src, const char *what)
{
    if (!src || !*src || strlen(src) >= cap)
        return tg_error_set(TG_EINVALID, "tlog entry: bad %s", what);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

/* Reads the inclusionProof object. */
static int parse_proof(struct json_object *p, struct tg_tlog_entry *out)
{
    struct json_object *hashes, *cp;
    unsigned char *b = NULL;
    size_t blen, n = 0;
    const char *env;
    int rc;

    if ((rc = get_i64(p, "logIndex", &out->proof_index)) < 0 ||
        (rc = get_i64(p, "treeSize", &out->tree_size)) < 0)
        return tg_error_wrap(rc, "tlog entry: inclusionProof");
    rc = tg_json_b64(p, "rootHash", true, NULL, &b, &blen);
    if (rc < 0)
        return tg_error_wrap(rc, "tlog entry: inclusionProof");
    if (blen != 32) {
        free(b);
        return tg_error_set(TG_EINVALID, "tlog entry: inclusionProof.rootHash is not 32 bytes");
    }
    memcpy(out->root_hash, b, 32);
    free(b);
    if (json_object_object_get_ex(p, "hashes", &hashes)) {
        if (!json_object_is_type(hashes, json_type_array))
            return tg_error_set(TG_EINVALID, "tlog entry: inclusionProof.hashes is not an array");
        n = json_object_array_length(hashes);
        if (n > MAX_PROOF_HASHES)
            return tg_error_set(TG_EINVALID, "tlog entry: inclusionProof has too many hashes");
    }
    if (n) {
        out->hashes = calloc(n, 32);
        if (!out->hashes)
            return tg_error_set(TG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *h = json_object_array_get_idx(hashes, i);
        const char *s = json_object_is_type(h, json_type_string) ? json_object_get_string(h) : NULL;
        if (!s || tg_b64_decode(s, strlen(s), &b, &blen) < 0 || blen != 32) {
            if (s)
                free(b);
            return tg_error_set(TG_EINVALID, "tlog entry: inclusionProof.hashes[%zu] is bad", i);
        }
        memcpy(out->hashes[i], b, 32);
        free(b);
    }
    out->n_hashes = n;
    if (!json_object_object_get_ex(p, "checkpoint", &cp) || !(env = tg_json_str(cp, "envelope")))
        return tg_error_set(TG_EINVALID, "tlog entry: inclusionProof has no checkpoint");
    if (strlen(env) > MAX_NOTE)
        return tg_error_set(TG_EINVALID, "tlog entry: checkpoint too large");
    out->checkpoint = strdup(env);
    if (!out->checkpoint)
        return tg_error_set(TG_ENOMEM, "out of memory");
    out->has_proof = true;
    return 0;
}

int tg_tlog_entry_from_bundle(struct json_object *obj, struct tg_tlog_entry *out)
{
    struct json_object *v;
    unsigned char *b = NULL;
    size_t blen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!obj || !json_object_is_type(obj, json_type_object))
        return tg_error_set(TG_EINVALID, "tlog entry: not an object");
    if ((rc = get_i64(obj, "logIndex", &out->log_index)) < 0 ||
        (rc = get_i64(obj, "integratedTime", &out->integrated_time)) < 0) {
        tg_error_wrap(rc, "tlog entry");
        goto fail;
    }
    if (!json_object_object_get_ex(obj, "logId", &v) ||
        (rc = tg_json_b64(v, "keyId", true, NULL, &b, &blen)) < 0) {
        rc = tg_error_set(TG_EINVALID, "tlog entry: logId.keyId is missing or not base64");
        goto fail;
    }
    if (blen != 32) {
        free(b);
        rc = tg_error_set(TG_EINVALID, "tlog entry: logId.keyId is not 32 bytes");
        goto fail;
    }
    memcpy(out->log_id, b, 32);
    free(b);
    if (!json_object_object_get_ex(obj, "kindVersion", &v) ||
        (rc = copy_field(out->kind, sizeof(out->kind), tg_json_str(v, "kind"), "kind")) < 0 ||
        (rc = copy_field(out->version, sizeof(out->version), tg_json_str(v, "version"),
                         "version")) < 0) {
        rc = tg_error_set(TG_EINVALID, "tlog entry: kindVersion is missing or bad");
        goto fail;
    }
    if (json_object_object_get_ex(obj, "inclusionPromise", &v)) {
        rc = tg_json_b64(v, "signedEntryTimestamp", true, NULL, &out->set, &out->set_len);
        if (rc < 0) {
            tg_error_wrap(rc, "tlog entry: inclusionPromise");
            goto fail;
        }
    }
    if (json_object_object_get_ex(obj, "inclusionProof", &v)) {
        rc = parse_proof(v, out);
        if (rc < 0)
            goto fail;
    }
    rc = tg_json_b64(obj, "canonicalizedBody", true, NULL, &out->body, &out->body_len);
    if (rc < 0) {
        tg_error_wrap(rc, "tlog entry");
        goto fail;
    }
    if (out->body_len > MAX_BODY) {
        rc = tg_error_set(TG_EINVALID, "tlog entry: body too large");
        goto fail;
    }
    return 0;
fail:
    tg_tlog_entry_clear(out);
    return rc;
}

/* Fills kind and version from the body's "kind" and "apiVersion". */
static int kind_from_body(struct tg_tlog_entry *e)
{
    struct json_object *doc;
    int rc = parse_json((const char *)e->body, e->body_len, &doc);

    if (rc < 0)
        return tg_error_wrap(rc, "tlog entry body");
    if ((rc = copy_field(e->kind, sizeof(e->kind), tg_json_str(doc, "kind"), "kind")) == 0)
        rc = copy_field(e->version, sizeof(e->version), tg_json_str(doc, "apiVersion"),
                        "apiVersion");
    json_object_put(doc);
    return rc;
}

int tg_tlog_entry_from_legacy(const char *json, size_t len, struct tg_tlog_entry *out)
{
    struct json_object *doc = NULL, *payload;
    const char *hex;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_json(json, len, &doc);
    if (rc < 0)
        return tg_error_wrap(rc, "cosign bundle");
    if ((rc = tg_json_b64(doc, "SignedEntryTimestamp", true, NULL, &out->set, &out->set_len)) < 0) {
        tg_error_wrap(rc, "cosign bundle");
        goto fail;
    }
    if (!json_object_object_get_ex(doc, "Payload", &payload) ||
        !json_object_is_type(payload, json_type_object)) {
        rc = tg_error_set(TG_EINVALID, "cosign bundle: no Payload");
        goto fail;
    }
    if ((rc = get_i64(payload, "logIndex", &out->log_index)) < 0 ||
        (rc = get_i64(payload, "integratedTime", &out->integrated_time)) < 0) {
        tg_error_wrap(rc, "cosign bundle");
        goto fail;
    }
    hex = tg_json_str(payload, "logID");
    if (!hex || strlen(hex) != 64) {
        rc = tg_error_set(TG_EINVALID, "cosign bundle: logID is not 64 hex digits");
        goto fail;
    }
    for (int i = 0; i < 32; i++) {
        unsigned int byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1 ||
            !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", hex[2 * i + 1])) {
            rc = tg_error_set(TG_EINVALID, "cosign bundle: logID is not hex");
            goto fail;
        }
        out->log_id[i] = (unsigned char)byte;
    }
    if ((rc = tg_json_b64(payload, "body", true, NULL, &out->body, &out->body_len)) < 0) {
        tg_error_wrap(rc, "cosign bundle");
        goto fail;
    }
    if (out->body_len > MAX_BODY) {
        rc = tg_error_set(TG_EINVALID, "cosign bundle: body too large");
        goto fail;
    }
    rc = kind_from_body(out);
    if (rc < 0)
        goto fail;
    json_object_put(doc);
    return 0;
fail:
    json_object_put(doc);
    tg_tlog_entry_clear(out);
    return rc;
}

/* Verifies the SET (RFC 8785 canonical JSON of body, integratedTime, logID, logIndex). */
static int verify_set(EVP_PKEY *key, const struct tg_tlog_entry *e)
{
    char *b64 = tg_b64_encode(e->body, e->body_len), *msg;
    char hex[65];
    size_t n;
    int rc;

    if (!e->set)
        return tg_error_set(TG_EINVALID, "tlog entry: no signed entry timestamp");
    if (!b64)
        return tg_error_set(TG_ENOMEM, "out of memory");
    tg_hex(e->log_id, 32, hex);
    n = strlen(b64) + 160;
    msg = malloc(n);
    if (!msg) {
        free(b64);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    snprintf(msg, n, "{\"body\":\"%s\",\"integratedTime\":%lld,\"logID\":\"%s\",\"logIndex\":%lld}",
             b64, (long long)e->integrated_time, hex, (long long)e->log_index);
    rc = tg_sig_verify(key, (const unsigned char *)msg, strlen(msg), e->set, e->set_len);
    free(msg);
    free(b64);
    if (rc == TG_EINVALID)
        return tg_error_set(TG_EINVALID, "tlog entry: signed entry timestamp does not verify");
    return rc;
}

static void hash_children(const unsigned char l[32], const unsigned char r[32],
                          unsigned char out[32])
{
    unsigned char buf[65];

    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    tg_sha256(buf, sizeof(buf), out);
}

/* RFC 6962 inclusion proof of body at index in a tree of size to root. */
static int verify_merkle(const struct tg_tlog_entry *e)
{
    unsigned char h[32], *leaf;
    uint64_t index = (uint64_t)e->proof_index, size = (uint64_t)e->tree_size, x;
    unsigned inner = 0, border;
    size_t i;

    if (size == 0 || index >= size)
        return tg_error_set(TG_EINVALID, "inclusion proof: index %llu outside a tree of %llu",
                            (unsigned long long)index, (unsigned long long)size);
    for (x = index ^ (size - 1); x; x >>= 1)
        inner++;
    border = (unsigned)__builtin_popcountll(index >> inner);
    if (e->n_hashes != inner + border)
        return tg_error_set(TG_EINVALID, "inclusion proof: %zu hashes, expected %u", e->n_hashes,
                            inner + border);
    leaf = malloc(e->body_len + 1);
    if (!leaf)
        return tg_error_set(TG_ENOMEM, "out of memory");
    leaf[0] = 0x00;
    memcpy(leaf + 1, e->body, e->body_len);
    tg_sha256(leaf, e->body_len + 1, h);
    free(leaf);
    for (i = 0; i < inner; i++) {
        if ((index >> i) & 1)
            hash_children(e->hashes[i], h, h);
        else
            hash_children(h, e->hashes[i], h);
    }
    for (; i < e->n_hashes; i++)
        hash_children(e->hashes[i], h, h);
    if (memcmp(h, e->root_hash, 32) != 0)
        return tg_error_set(TG_EINVALID,
                            "inclusion proof: the computed root differs from rootHash");
    return 0;
}

/*
 * Verifies the checkpoint note: its signature by key (key hint = log_id[0:4]) over the text up
 * to and including the first newline of the blank-line separator, and that its size and root
 * hash are the proof's.
 */
static int verify_checkpoint(EVP_PKEY *key, const struct tg_tlog_entry *e)
{
    const char *note = e->checkpoint, *sep, *line, *nl;
    char size_buf[24];
    unsigned char *root = NULL;
    size_t root_len;
    const char *l1, *l2, *l3;
    bool verified = false;
    int rc;

    if (!note)
        return tg_error_set(TG_EINVALID, "checkpoint: missing");
    sep = strstr(note, "\n\n");
    if (!sep)
        return tg_error_set(TG_EINVALID, "checkpoint: no blank line before the signatures");
    /* Body: origin, size, base64 root hash, optional further lines. */
    l1 = strchr(note, '\n');
    if (!l1 || l1 == note || l1 >= sep)
        return tg_error_set(TG_EINVALID, "checkpoint: no origin line");
    l2 = strchr(l1 + 1, '\n');
    if (!l2 || l2 > sep || (size_t)(l2 - l1 - 1) >= sizeof(size_buf) || l2 == l1 + 1)
        return tg_error_set(TG_EINVALID, "checkpoint: no size line");
    memcpy(size_buf, l1 + 1, (size_t)(l2 - l1 - 1));
    size_buf[l2 - l1 - 1] = '\0';
    if (strspn(size_buf, "0123456789") != strlen(size_buf) ||
        strtoll(size_buf, NULL, 10) != e->tree_size || (size_buf[0] == '0' && size_buf[1]))
        return tg_error_set(TG_EINVALID, "checkpoint: size %s is not the proof's tree size %lld",
                            size_buf, (long long)e->tree_size);
    l3 = strchr(l2 + 1, '\n');
    if (!l3 || l3 > sep)
        return tg_error_set(TG_EINVALID, "checkpoint: no root hash line");
    if (tg_b64_decode(l2 + 1, (size_t)(l3 - l2 - 1), &root, &root_len) < 0 || root_len != 32 ||
        memcmp(root, e->root_hash, 32) != 0) {
        free(root);
        return tg_error_set(TG_EINVALID, "checkpoint: root hash is not the proof's");
    }
    free(root);
    /* Signatures: "\u2014 <name> <b64(keyHint[4] || sig)>\n", one or more. */
    for (line = sep + 2; *line; line = nl + 1) {
        const char *sp, *b64;
        unsigned char *raw = NULL;
        size_t raw_len;

        nl = strchr(line, '\n');
        if (!nl)
            return tg_error_set(TG_EINVALID, "checkpoint: unterminated signature line");
        if (strncmp(line, "\xe2\x80\x94 ", 4) != 0)
            return tg_error_set(TG_EINVALID, "checkpoint: signature line without an em dash");
        sp = memchr(line + 4, ' ', (size_t)(nl - line - 4));
        if (!sp || sp == line + 4)
            return tg_error_set(TG_EINVALID, "checkpoint: malformed signature line");
        b64 = sp + 1;
        if (tg_b64_decode(b64, (size_t)(nl - b64), &raw, &raw_len) < 0 || raw_len < 5) {
            free(raw);
            return tg_error_set(TG_EINVALID, "checkpoint: signature is not base64");
        }
        if (memcmp(raw, e->log_id, 4) == 0) {
            rc = tg_sig_verify(key, (const unsigned char *)note, (size_t)(sep - note) + 1, raw + 4,
                               raw_len - 4);
            if (rc == TG_ENOMEM) {
                free(raw);
                return rc;
            }
            if (rc == 0)
                verified = true;
        }
        free(raw);
    }
    if (!verified)
        return tg_error_set(TG_EINVALID, "checkpoint: no valid signature by the log");
    return 0;
}

int tg_tlog_verify(const struct tg_trusted_root *root, const struct tg_tlog_entry *e)
{
    const struct log_key *log = NULL;
    char hex[65];
    int rc;

    for (size_t i = 0; i < root->n_tlogs && !log; i++)
        if (memcmp(root->tlogs[i].key_id, e->log_id, 32) == 0)
            log = &root->tlogs[i];
    if (!log) {
        tg_hex(e->log_id, 32, hex);
        return tg_error_set(TG_EINVALID, "tlog entry: log %s is not in the trusted root", hex);
    }
    if (!in_window(&log->valid, e->integrated_time))
        return tg_error_set(TG_EINVALID,
                            "tlog entry: the log key is not valid at integratedTime %lld",
                            (long long)e->integrated_time);
    if (!e->set && !e->has_proof)
        return tg_error_set(TG_EINVALID,
                            "tlog entry: neither an inclusion promise nor an inclusion proof");
    if (e->set) {
        rc = verify_set(log->key, e);
        if (rc < 0)
            return rc;
    }
    if (e->has_proof) {
        rc = verify_merkle(e);
        if (rc < 0)
            return rc;
        rc = verify_checkpoint(log->key, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int tg_tlog_verify_with_key(EVP_PKEY *rekor_key, const struct tg_tlog_entry *e)
{
    unsigned char *der = NULL, id[32];
    size_t der_len;
    int rc;

    rc = tg_pubkey_to_der(rekor_key, &der, &der_len);
    if (rc < 0)
        return rc;
    tg_sha256(der, der_len, id);
    free(der);
    if (memcmp(id, e->log_id, 32) != 0)
        return tg_error_set(TG_EINVALID, "tlog entry: logID is not the Rekor key's");
    return verify_set(rekor_key, e);
}

/* ---- body binding ---- */

/* Follows a path of object keys from obj; NULL when any is missing. */
static struct json_object *dig(struct json_object *obj, const char *const *path)
{
    for (; *path && obj; path++)
        if (!json_object_is_type(obj, json_type_object) ||
            !json_object_object_get_ex(obj, *path, &obj))
            return NULL;
    return obj;
}

/* True when the base64 string s decodes to exactly the n bytes of want. */
static bool b64_equals(struct json_object *s, const unsigned char *want, size_t n)
{
    unsigned char *b = NULL;
    size_t blen;
    bool eq;

    if (!s || !json_object_is_type(s, json_type_string))
        return false;
    if (tg_b64_decode(json_object_get_string(s), (size_t)json_object_get_string_len(s), &b, &blen) <
        0)
        return false;
    eq = blen == n && memcmp(b, want, n) == 0;
    free(b);
    return eq;
}

/* True when the base64 text s[0..n) decodes to exactly the sig_len bytes of want. */
static bool b64_equals_str(const char *s, size_t n, const unsigned char *want, size_t want_len)
{
    unsigned char *b = NULL;
    size_t blen;
    bool eq;

    if (memchr(s, 0, n) || tg_b64_decode(s, n, &b, &blen) < 0)
        return false;
    eq = blen == want_len && memcmp(b, want, want_len) == 0;
    free(b);
    return eq;
}

/* True when hash is {"algorithm":"sha256","value":"<hex of sha256(payload)>"}. */
static bool hash_equals(struct json_object *hash, const unsigned char *payload, size_t len)
{
    char want[65];
    const char *alg = tg_json_str(hash, "algorithm"), *val = tg_json_str(hash, "value");

    if (!alg || strcmp(alg, "sha256") != 0 || !val)
        return false;
    tg_sha256_hex(payload, len, want);
    return strcasecmp(val, want) == 0;
}

/* The single element of the array at obj, or NULL when it is not a one-element array. */
static struct json_object *only(struct json_object *arr)
{
    if (!arr || !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) != 1)
        return NULL;
    return json_object_array_get_idx(arr, 0);
}

int tg_tlog_bind(const struct tg_tlog_entry *e, const unsigned char *sig, size_t sig_len,
                 const unsigned char *payload, size_t payload_len)
{
    static const char *const hr_sig[] = {"spec", "signature", "content", NULL};
    static const char *const hr_hash[] = {"spec", "data", "hash", NULL};
    static const char *const dsse_sigs[] = {"spec", "signatures", NULL};
    static const char *const dsse_hash[] = {"spec", "payloadHash", NULL};
    static const char *const it_sigs[] = {"spec", "content", "envelope", "signatures", NULL};
    static const char *const it_hash[] = {"spec", "content", "payloadHash", NULL};
    struct json_object *doc = NULL, *one;
    const char *kind, *ver;
    int rc;

    rc = parse_json((const char *)e->body, e->body_len, &doc);
    if (rc < 0)
        return tg_error_wrap(TG_EINVALID, "tlog entry body: ");
    kind = tg_json_str(doc, "kind");
    ver = tg_json_str(doc, "apiVersion");
    if (!kind || !ver || strcmp(kind, e->kind) != 0 || strcmp(ver, e->version) != 0) {
        rc = tg_error_set(TG_EINVALID, "tlog entry body: kind %s %s is not the entry's %s %s",
                          kind ? kind : "?", ver ? ver : "?", e->kind, e->version);
        goto out;
    }
    rc = TG_EINVALID;
    if (strcmp(kind, "hashedrekord") == 0 && strcmp(ver, "0.0.1") == 0) {
        if (!b64_equals(dig(doc, hr_sig), sig, sig_len))
            tg_error_set(rc, "tlog entry body: hashedrekord signature is not this signature");
        else if (!hash_equals(dig(doc, hr_hash), payload, payload_len))
            tg_error_set(rc, "tlog entry body: hashedrekord digest is not the payload's");
        else
            rc = 0;
    } else if (strcmp(kind, "dsse") == 0 && strcmp(ver, "0.0.1") == 0) {
        one = only(dig(doc, dsse_sigs));
        if (!one || !b64_equals(json_object_object_get(one, "signature"), sig, sig_len))
            tg_error_set(rc, "tlog entry body: dsse signature is not this signature");
        else if (!hash_equals(dig(doc, dsse_hash), payload, payload_len))
            tg_error_set(rc, "tlog entry body: dsse payload hash is not the payload's");
        else
            rc = 0;
    } else if (strcmp(kind, "intoto") == 0 && strcmp(ver, "0.0.2") == 0) {
        const char *outer;
        unsigned char *inner = NULL;
        size_t inner_len;
        struct json_object *s;

        one = only(dig(doc, it_sigs));
        s = one ? json_object_object_get(one, "sig") : NULL;
        outer = s && json_object_is_type(s, json_type_string) ? json_object_get_string(s) : NULL;
        if (!outer || tg_b64_decode(outer, strlen(outer), &inner, &inner_len) < 0 ||
            !b64_equals_str((const char *)inner, inner_len, sig, sig_len))
            tg_error_set(rc, "tlog entry body: intoto signature is not this signature");
        else if (!hash_equals(dig(doc, it_hash), payload, payload_len))
            tg_error_set(rc, "tlog entry body: intoto payload hash is not the payload's");
        else
            rc = 0;
        free(inner);
    } else {
        tg_error_set(rc, "tlog entry body: unsupported kind %s %s", kind, ver);
    }
out:
    json_object_put(doc);
    return rc;
}
