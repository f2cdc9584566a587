/* The judging of an image's material against its policies; see verify.h. */
#include "verify/verify.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "util/error.h"
#include "verify/crypto.h"
#include "verify/keyless.h"
#include "verify/policy.h"
#include "verify/predicates.h"
#include "verify/sigstore.h"

/* The most policies one verdict combines, and the most PEM keys in one authority's data. */
#define MAX_POLICIES 64
#define MAX_KEYS     32

enum gate { G_SIGNATURE, G_PROVENANCE, G_SBOM, G_VULN, G_ATTEST, G_COUNT };
static const char *const gate_names[G_COUNT] = {"signature", "provenance", "sbom",
                                                "vulnerabilities", "attestations"};
static const char *const gate_pass[G_COUNT] = {"Verified", "Verified", "Present", "Passed",
                                               "Verified"};
static const char *const gate_fail[G_COUNT] = {"Failed", "Failed", "Missing", "Failed", "Failed"};

/* One authority resolved from the materials. */
struct rauth {
    struct tg_authority a;
    EVP_PKEY *keys[MAX_KEYS];
    size_t n_keys;
    struct tg_trusted_root *root;
    char *error; /* why the authority cannot be used, or NULL */
};

/* The outcome of verifying one item with one authority, computed once. */
struct cand {
    bool done;
    int rc;
    struct tg_signed s;
    char *reason;
};

/* One policy being judged. */
struct pstate {
    const struct tg_verify_input *in;
    struct tg_vpolicy *p;
    const char *name;
    const char *namespace;
    struct rauth *auths;
    struct cand *cands; /* [item * n_authorities + authority] */
};

/* The reason a gate failed, and how close the candidate behind it came. */
struct closest {
    int level;
    char reason[1024];
};

static void closest_offer(struct closest *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void closest_offer(struct closest *c, int level, const char *fmt, ...)
{
    if (level <= c->level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
    va_end(ap);
    c->level = level;
}

void tg_verify_rfc3339(int64_t unix_s, char *buf, size_t n)
{
    struct tm tm;
    time_t t = (time_t)unix_s;

    if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, n, "%s", "");
}

/* --- resolving authorities ------------------------------------------------------------------ */

static const char *kind_name(enum tg_vp_source s)
{
    return s == TG_VP_SECRET ? "Secret" : "ConfigMap";
}

/*
 * Finds a reference's value in the materials: "<Kind>/<ns>/<name>/<key>", the namespace from
 * the reference, else the policy's; without either, the one entry with that kind, name and key.
 */
static const char *lookup(const struct pstate *ps, const struct tg_vp_ref *r, char *why,
                          size_t why_n)
{
    const char *ns = r->namespace ? r->namespace : ps->namespace;
    json_object *v;

    if (r->source == TG_VP_DATA)
        return r->data;
    if (ns) {
        char k[1024];
        snprintf(k, sizeof(k), "%s/%s/%s/%s", kind_name(r->source), ns, r->name, r->key);
        if (ps->in->materials && json_object_object_get_ex(ps->in->materials, k, &v) &&
            json_object_is_type(v, json_type_string))
            return json_object_get_string(v);
        snprintf(why, why_n, "%s %s/%s key %s not found", kind_name(r->source), ns, r->name,
                 r->key);
        return NULL;
    }
    const char *found = NULL;
    int n = 0;
    if (ps->in->materials && json_object_is_type(ps->in->materials, json_type_object)) {
        size_t klen = strlen(kind_name(r->source));
        json_object_object_foreach(ps->in->materials, key, val)
        {
            /* "<Kind>/<ns>/<name>/<key>": the kind, then anything, then "/name/key". */
            char tail[700];
            snprintf(tail, sizeof(tail), "/%s/%s", r->name, r->key);
            size_t kl = strlen(key), tl = strlen(tail);
            /* The namespace: key[klen + 1, kl - tl), non-empty and without a '/'. */
            if (strncmp(key, kind_name(r->source), klen) == 0 && key[klen] == '/' &&
                kl > klen + 1 + tl && strcmp(key + kl - tl, tail) == 0 &&
                memchr(key + klen + 1, '/', kl - tl - klen - 1) == NULL &&
                json_object_is_type(val, json_type_string)) {
                found = json_object_get_string(val);
                n++;
            }
        }
    }
    if (n == 1)
        return found;
    snprintf(why, why_n, "%s %s key %s %s", kind_name(r->source), r->name, r->key,
             n ? "is ambiguous: give its namespace" : "not found");
    return NULL;
}

/* Loads every PEM block of data ("-----BEGIN ...-----" to "-----END ...-----"). */
static int load_keys(struct rauth *ra, const char *data, char *why, size_t why_n)
{
    const char *p = data;

    while ((p = strstr(p, "-----BEGIN ")) != NULL) {
        const char *end = strstr(p, "-----END ");
        if (!end) {
            snprintf(why, why_n, "an unterminated PEM block");
            return TG_EINVALID;
        }
        const char *close = strstr(end + 9, "-----");
        if (!close) {
            snprintf(why, why_n, "an unterminated PEM block");
            return TG_EINVALID;
        }
        close += 5;
        if (ra->n_keys == MAX_KEYS) {
            snprintf(why, why_n, "more than %d keys", MAX_KEYS);
            return TG_EINVALID;
        }
        EVP_PKEY *k = NULL;
        int rc = tg_pubkey_from_pem(p, (size_t)(close - p), &k);
        if (rc < 0) {
            snprintf(why, why_n, "key %zu: %s", ra->n_keys + 1, tg_error_last());
            return rc;
        }
        ra->keys[ra->n_keys++] = k;
        p = close;
    }
    if (ra->n_keys == 0) {
        snprintf(why, why_n, "no PEM public key in the key's data");
        return TG_EINVALID;
    }
    return 0;
}

/* Resolves one authority; on failure ra->error says why (the authority then verifies nothing). */
static int resolve(const struct pstate *ps, const struct tg_vp_authority *va, struct rauth *ra)
{
    char why[900] = "";
    const char *v;

    ra->a.name = va->name;
    ra->a.tlog_required = va->tlog_required;
    ra->a.ignore_sct = va->ignore_sct;
    ra->a.rules = va->rules;
    ra->a.n_rules = va->n_rules;
    if (!va->keyless) {
        if (!(v = lookup(ps, &va->key, why, sizeof(why))))
            goto unusable;
        int rc = load_keys(ra, v, why, sizeof(why));
        if (rc == TG_ENOMEM)
            return rc;
        if (rc < 0)
            goto unusable;
        ra->a.keys = ra->keys;
        ra->a.n_keys = ra->n_keys;
    }
    if (va->has_root) {
        if (!(v = lookup(ps, &va->root, why, sizeof(why))))
            goto unusable;
        int rc = tg_trusted_root_parse(v, strlen(v), &ra->root);
        if (rc == TG_ENOMEM)
            return rc;
        if (rc < 0) {
            snprintf(why, sizeof(why), "trusted root: %s", tg_error_last());
            goto unusable;
        }
        ra->a.root = ra->root;
    }
    return 0;
unusable:
    ra->error = strdup(why);
    return ra->error ? 0 : tg_error_set(TG_ENOMEM, "out of memory");
}

static void rauth_clear(struct rauth *ra)
{
    for (size_t i = 0; i < ra->n_keys; i++)
        EVP_PKEY_free(ra->keys[i]);
    tg_trusted_root_free(ra->root);
    free(ra->error);
}

/* Verifies item i with authority k once; returns the cached outcome. */
static struct cand *verify_pair(struct pstate *ps, size_t i, size_t k)
{
    const struct tg_verify_material *m = ps->in->material;
    struct cand *c = &ps->cands[i * ps->p->n_authorities + k];

    if (c->done)
        return c;
    c->done = true;
    if (ps->auths[k].error) {
        c->rc = TG_EINVALID;
        c->reason = strdup(ps->auths[k].error);
        return c;
    }
    c->rc = tg_verify_item(&m->items[i], m->digest, &ps->auths[k].a, &c->s);
    if (c->rc < 0)
        c->reason = strdup(tg_error_last());
    return c;
}

static const char *cand_reason(const struct cand *c)
{
    return c->reason ? c->reason : "out of memory";
}

/* --- gate entries --------------------------------------------------------------------------- */

static void put_str(json_object *o, const char *k, const char *v)
{
    if (v)
        json_object_object_add(o, k, json_object_new_string(v));
}

static void put_int(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

/* A new gate entry with its result and policy. NULL when out of memory. */
static json_object *entry_new(const struct pstate *ps, enum gate g, bool passed, const char *reason)
{
    json_object *e = json_object_new_object();
    if (!e)
        return NULL;
    put_str(e, "result", passed ? gate_pass[g] : ps->p->warn ? "Warned" : gate_fail[g]);
    put_str(e, "policy", ps->name);
    if (!passed)
        put_str(e, "reason", reason);
    return e;
}

static bool auths_has(const struct tg_vp_auths *a, size_t k)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->idx[i] == k)
            return true;
    }
    return false;
}

/* "ci, gha" for a set of authorities. */
static void auth_names(const struct pstate *ps, const struct tg_vp_auths *a, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < a->n && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "",
                                ps->p->authorities[a->idx[i]].name);
}

static bool is_sig_kind(const struct tg_vm_item *it)
{
    return it->kind == TG_VM_SIMPLESIGNING || it->kind == TG_VM_BUNDLE;
}

static bool is_att_kind(const struct tg_vm_item *it)
{
    return it->kind == TG_VM_DSSE || it->kind == TG_VM_BUNDLE;
}

/* The signature gate: threshold distinct authorities with a verified signature. */
static json_object *gate_signature(struct pstate *ps)
{
    const struct tg_verify_material *m = ps->in->material;
    const struct tg_vpolicy *p = ps->p;
    struct cand *first = NULL;
    size_t first_k = 0;
    int count = 0;
    char signers[512] = "", failed[1536] = "";
    size_t soff = 0, foff = 0, n_sig_items = 0;

    for (size_t i = 0; i < m->n_items; i++)
        n_sig_items += is_sig_kind(&m->items[i]);
    if (n_sig_items == 0)
        foff = (size_t)snprintf(failed, sizeof(failed),
                                "no signature found for %s (no cosign .sig, no Sigstore bundle)",
                                m->digest);
    for (size_t j = 0; j < p->sig_auths.n; j++) {
        size_t k = p->sig_auths.idx[j];
        struct cand *ok = NULL, *near = NULL;
        for (size_t i = 0; i < m->n_items && !ok; i++) {
            if (!is_sig_kind(&m->items[i]))
                continue;
            struct cand *c = verify_pair(ps, i, k);
            if (c->rc == 0 && c->s.is_signature)
                ok = c;
            else if (c->rc < 0 && !near)
                near = c;
        }
        const char *name = p->authorities[k].name;
        if (ok) {
            count++;
            if (!first) {
                first = ok;
                first_k = k;
            }
            if (soff < sizeof(signers))
                soff += (size_t)snprintf(signers + soff, sizeof(signers) - soff, "%s%s",
                                         soff ? ", " : "", name);
            continue;
        }
        const char *why = ps->auths[k].error ? ps->auths[k].error
                          : near             ? cand_reason(near)
                                             : "what it signed are attestations, not signatures";
        char one[1100];
        if (n_sig_items == 0 && !ps->auths[k].error)
            continue; /* said once above */
        if (n_sig_items == 0)
            snprintf(one, sizeof(one), "authority %s: %s", name, why);
        else
            snprintf(one, sizeof(one), "no signature from authority %s verifies: %s", name, why);
        if (foff < sizeof(failed))
            foff += (size_t)snprintf(failed + foff, sizeof(failed) - foff, "%s%s", foff ? "; " : "",
                                     one);
    }
    if (count >= p->threshold) {
        json_object *e = entry_new(ps, G_SIGNATURE, true, NULL);
        if (!e)
            return NULL;
        put_str(e, "authority", p->threshold > 1 ? signers : p->authorities[first_k].name);
        put_str(e, "signer", first->s.signer);
        put_str(e, "issuer", first->s.issuer);
        put_str(e, "format", first->s.format);
        return e;
    }
    char reason[2048];
    if (p->threshold > 1)
        snprintf(reason, sizeof(reason), "%d of the authorities must sign, %d did%s%s%s: %s",
                 p->threshold, count, count ? " (" : "", signers, count ? ")" : "", failed);
    else
        snprintf(reason, sizeof(reason), "%s", failed);
    return entry_new(ps, G_SIGNATURE, false, reason);
}

/* The builder ids authority k may vouch for (all of them when builders are not restricted). */
static size_t builders_for(const struct tg_vpolicy *p, size_t k, const char **ids, size_t cap)
{
    size_t n = 0;
    for (size_t b = 0; b < p->n_builders && n < cap; b++) {
        if (auths_has(&p->builders[b].auths, k))
            ids[n++] = p->builders[b].id;
    }
    return n;
}

/* Offers an unverified attestation candidate's reason (closer when its type hint matches). */
static void offer_failed(struct closest *cl, const struct tg_vm_item *it, const struct cand *c,
                         const char *auth, bool hinted)
{
    closest_offer(cl, hinted ? 2 : 1, "%s (authority %s): %s", it->source ? it->source : "item",
                  auth, cand_reason(c));
}

/*
 * The verified statement of attestation item i under authority k (named name) when is_kind
 * accepts its predicate type; NULL otherwise, after offering a failed verification to cl.
 * Borrowed from ps.
 */
static struct cand *kind_cand(struct pstate *ps, struct closest *cl, size_t i, size_t k,
                              const char *name, bool (*is_kind)(const char *))
{
    const struct tg_vm_item *it = &ps->in->material->items[i];
    struct cand *c;

    if (!is_att_kind(it))
        return NULL;
    c = verify_pair(ps, i, k);
    if (c->rc < 0) {
        offer_failed(cl, it, c, name, it->predicate_type && is_kind(it->predicate_type));
        return NULL;
    }
    if (!c->s.predicate_type || !is_kind(c->s.predicate_type))
        return NULL;
    return c;
}

static json_object *gate_provenance(struct pstate *ps)
{
    const struct tg_verify_material *m = ps->in->material;
    const struct tg_vpolicy *p = ps->p;
    struct closest cl = {.level = 0};
    const char *commit = p->match_commit ? ps->in->source_commit : NULL;

    for (size_t j = 0; j < p->prov_auths.n; j++) {
        size_t k = p->prov_auths.idx[j];
        const char *ids[64];
        size_t n_ids = builders_for(p, k, ids, 64);
        const char *name = p->authorities[k].name;
        if (ps->auths[k].error) {
            closest_offer(&cl, 1, "authority %s: %s", name, ps->auths[k].error);
            continue;
        }
        if (p->n_builders && n_ids == 0) {
            closest_offer(&cl, 1, "authority %s vouches for no builder", name);
            continue;
        }
        for (size_t i = 0; i < m->n_items; i++) {
            struct cand *c = kind_cand(ps, &cl, i, k, name, tg_pred_is_provenance);
            if (!c)
                continue;
            struct tg_provenance_policy pol = {
                .builder_ids = ids,
                .n_builder_ids = n_ids,
                .build_types = (const char *const *)p->build_types,
                .n_build_types = p->n_build_types,
                .source_repository = p->source_repository,
                .source_refs = (const char *const *)p->source_refs,
                .n_source_refs = p->n_source_refs,
                .commit = commit,
            };
            struct tg_provenance pv = {0};
            int rc = tg_provenance_check(c->s.predicate_type, c->s.predicate, &pol, &pv);
            if (rc < 0 && rc != TG_ENOMEM && p->n_builders == 0 && pv.builder_id) {
                /* Any builder is allowed: judge the rest against the one it names. */
                const char *own[1] = {pv.builder_id};
                struct tg_provenance pv2 = {0};
                pol.builder_ids = own;
                pol.n_builder_ids = 1;
                rc = tg_provenance_check(c->s.predicate_type, c->s.predicate, &pol, &pv2);
                tg_provenance_clear(&pv);
                pv = pv2;
            }
            if (rc == TG_ENOMEM) {
                tg_provenance_clear(&pv);
                return NULL;
            }
            if (rc < 0) {
                closest_offer(&cl, 3, "provenance from authority %s: %s", name, tg_error_last());
                tg_provenance_clear(&pv);
                continue;
            }
            json_object *e = entry_new(ps, G_PROVENANCE, true, NULL);
            if (e) {
                put_str(e, "authority", name);
                put_str(e, "signer", c->s.signer);
                put_str(e, "issuer", c->s.issuer);
                put_str(e, "predicateType", c->s.predicate_type);
                put_str(e, "builder", pv.builder_id);
                put_str(e, "buildType", pv.build_type);
                put_str(e, "sourceRepository", pv.source_repository);
                put_str(e, "ref", pv.ref);
                put_str(e, "commit", pv.commit);
            }
            tg_provenance_clear(&pv);
            return e;
        }
    }
    char reason[1400], names[512];
    auth_names(ps, &p->prov_auths, names, sizeof(names));
    if (cl.level)
        snprintf(reason, sizeof(reason), "no SLSA provenance from %s passes: %s", names, cl.reason);
    else
        snprintf(reason, sizeof(reason), "no SLSA provenance attestation found for %s", m->digest);
    return entry_new(ps, G_PROVENANCE, false, reason);
}

static json_object *gate_sbom(struct pstate *ps)
{
    const struct tg_verify_material *m = ps->in->material;
    const struct tg_vpolicy *p = ps->p;
    struct closest cl = {.level = 0};
    bool attachment = false;

    for (size_t i = 0; i < m->n_items; i++)
        attachment = attachment || m->items[i].kind == TG_VM_SBOM_ATTACHMENT;
    for (size_t j = 0; j < p->sbom_auths.n; j++) {
        size_t k = p->sbom_auths.idx[j];
        const char *name = p->authorities[k].name;
        if (ps->auths[k].error) {
            closest_offer(&cl, 1, "authority %s: %s", name, ps->auths[k].error);
            continue;
        }
        for (size_t i = 0; i < m->n_items; i++) {
            struct cand *c = kind_cand(ps, &cl, i, k, name, tg_pred_is_sbom);
            if (!c)
                continue;
            struct tg_sbom sb = {0};
            int rc = tg_sbom_check(c->s.predicate_type, c->s.predicate, &sb);
            if (rc == TG_ENOMEM)
                return NULL;
            if (rc < 0) {
                closest_offer(&cl, 3, "SBOM from authority %s: %s", name, tg_error_last());
                tg_sbom_clear(&sb);
                continue;
            }
            bool cdx = sb.format && strcasecmp(sb.format, "CycloneDX") == 0;
            bool spdx = sb.format && strcasecmp(sb.format, "SPDX") == 0;
            if (!((cdx && p->sbom_cyclonedx) || (spdx && p->sbom_spdx))) {
                closest_offer(&cl, 3, "SBOM from authority %s is %s, not an allowed format (%s)",
                              name, sb.format ? sb.format : "of no known format",
                              p->sbom_cyclonedx ? "cyclonedx" : "spdx");
                tg_sbom_clear(&sb);
                continue;
            }
            json_object *e = entry_new(ps, G_SBOM, true, NULL);
            if (e) {
                put_str(e, "authority", name);
                put_str(e, "signer", c->s.signer);
                put_str(e, "format", sb.format);
                put_str(e, "specVersion", sb.spec_version);
                put_int(e, "components", (int64_t)sb.components);
            }
            tg_sbom_clear(&sb);
            return e;
        }
    }
    char reason[1400], names[512];
    auth_names(ps, &p->sbom_auths, names, sizeof(names));
    if (cl.level)
        snprintf(reason, sizeof(reason), "no SBOM attestation from %s passes: %s%s", names,
                 cl.reason,
                 attachment ? " (an unsigned .sbom attachment was found; it never counts)" : "");
    else if (attachment)
        snprintf(reason, sizeof(reason),
                 "no signed SBOM attestation: only an unsigned .sbom attachment, which never "
                 "counts");
    else
        snprintf(reason, sizeof(reason), "no SBOM attestation found for %s", m->digest);
    return entry_new(ps, G_SBOM, false, reason);
}

/* Collects the verified OpenVEX predicates of the vex authorities. NULL: none. */
static json_object *collect_vex(struct pstate *ps)
{
    const struct tg_verify_material *m = ps->in->material;
    json_object *arr = NULL;

    if (!ps->p->has_vex)
        return NULL;
    for (size_t i = 0; i < m->n_items; i++) {
        if (!is_att_kind(&m->items[i]))
            continue;
        for (size_t j = 0; j < ps->p->vex_auths.n; j++) {
            struct cand *c = verify_pair(ps, i, ps->p->vex_auths.idx[j]);
            if (c->rc < 0 || !c->s.predicate_type || !tg_pred_is_openvex(c->s.predicate_type) ||
                !c->s.predicate)
                continue;
            if (!arr && !(arr = json_object_new_array()))
                return NULL;
            json_object_array_add(arr, json_object_get(c->s.predicate));
            break;
        }
    }
    return arr;
}

static json_object *gate_vulnerabilities(struct pstate *ps)
{
    const struct tg_verify_material *m = ps->in->material;
    const struct tg_vpolicy *p = ps->p;
    struct closest cl = {.level = 0};
    struct tg_vuln_report *best = NULL;
    const struct cand *best_c = NULL;
    size_t best_k = 0;

    for (size_t i = 0; i < m->n_items; i++) {
        if (!is_att_kind(&m->items[i]))
            continue;
        for (size_t j = 0; j < p->vuln_auths.n; j++) {
            size_t k = p->vuln_auths.idx[j];
            const char *name = p->authorities[k].name;
            if (ps->auths[k].error) {
                closest_offer(&cl, 1, "authority %s: %s", name, ps->auths[k].error);
                continue;
            }
            struct cand *c = kind_cand(ps, &cl, i, k, name, tg_pred_is_vuln);
            if (!c)
                continue;
            struct tg_vuln_report *r = NULL;
            int rc = tg_vuln_parse(c->s.predicate_type, c->s.predicate, &r);
            if (rc == TG_ENOMEM) {
                tg_vuln_report_free(best);
                return NULL;
            }
            if (rc < 0) {
                closest_offer(&cl, 3, "scan from authority %s: %s", name, tg_error_last());
                break;
            }
            if (!best || r->scanned_at > best->scanned_at) {
                tg_vuln_report_free(best);
                best = r;
                best_c = c;
                best_k = k;
            } else {
                tg_vuln_report_free(r);
            }
            break; /* one report per item, whoever signed it */
        }
    }
    if (!best) {
        char reason[1400], names[512];
        auth_names(ps, &p->vuln_auths, names, sizeof(names));
        if (cl.level)
            snprintf(reason, sizeof(reason), "no vulnerability scan from %s passes: %s", names,
                     cl.reason);
        else
            snprintf(reason, sizeof(reason), "no vulnerability scan attestation found for %s",
                     m->digest);
        return entry_new(ps, G_VULN, false, reason);
    }
    json_object *vex = collect_vex(ps);
    struct tg_vuln_counts counts = {0};
    int rc = tg_vuln_judge(best, &p->vuln, ps->in->now_ms / 1000, vex, &counts);
    json_object_put(vex);
    json_object *e = NULL;
    if (rc == TG_ENOMEM)
        goto done;
    char reason[1100];
    snprintf(reason, sizeof(reason), "%s", rc < 0 ? tg_error_last() : "");
    if (!(e = entry_new(ps, G_VULN, rc == 0, reason)))
        goto done;
    put_str(e, "authority", p->authorities[best_k].name);
    put_str(e, "signer", best_c->s.signer);
    put_int(e, "critical", counts.critical);
    put_int(e, "high", counts.high);
    put_int(e, "medium", counts.medium);
    put_int(e, "low", counts.low);
    put_int(e, "unknown", counts.unknown);
    put_int(e, "suppressed", counts.suppressed);
    char scanner[600];
    /* The version, unless the scanner's URI already ends with it ("pkg:...trivy@0.57.1"). */
    const char *ver = best->scanner_version && best->scanner_uri ? best->scanner_version : NULL;
    size_t ul = best->scanner_uri ? strlen(best->scanner_uri) : 0, vl = ver ? strlen(ver) : 0;
    if (ver && ul > vl && best->scanner_uri[ul - vl - 1] == '@' &&
        strcmp(best->scanner_uri + ul - vl, ver) == 0)
        ver = NULL;
    snprintf(scanner, sizeof(scanner), "%s%s%s", best->scanner_uri ? best->scanner_uri : "",
             ver ? " " : "", ver ? ver : "");
    if (scanner[0])
        put_str(e, "scanner", scanner);
    if (best->scanned_at > 0) {
        char t[40];
        tg_verify_rfc3339(best->scanned_at, t, sizeof(t));
        put_str(e, "scannedAt", t);
        if (p->vuln.max_scan_age_s > 0) {
            tg_verify_rfc3339(best->scanned_at + p->vuln.max_scan_age_s, t, sizeof(t));
            put_str(e, "validUntil", t);
        }
    }
done:
    tg_vuln_report_free(best);
    return e;
}

/* The attestations gate: each listed predicate type, verified from one of its authorities. */
static json_object *gate_attestations(struct pstate *ps)
{
    const struct tg_verify_material *m = ps->in->material;
    const struct tg_vpolicy *p = ps->p;
    const struct cand *first = NULL;
    size_t first_k = 0;
    char types[1024] = "";
    size_t toff = 0;

    for (size_t a = 0; a < p->n_attestations; a++) {
        const struct tg_vp_attestation *want = &p->attestations[a];
        struct closest cl = {.level = 0};
        const struct cand *found = NULL;
        for (size_t j = 0; j < want->auths.n && !found; j++) {
            size_t k = want->auths.idx[j];
            const char *name = p->authorities[k].name;
            if (ps->auths[k].error) {
                closest_offer(&cl, 1, "authority %s: %s", name, ps->auths[k].error);
                continue;
            }
            for (size_t i = 0; i < m->n_items && !found; i++) {
                if (!is_att_kind(&m->items[i]))
                    continue;
                struct cand *c = verify_pair(ps, i, k);
                if (c->rc < 0) {
                    offer_failed(&cl, &m->items[i], c, name,
                                 m->items[i].predicate_type &&
                                     strcmp(m->items[i].predicate_type, want->predicate_type) == 0);
                    continue;
                }
                if (c->s.predicate_type && strcmp(c->s.predicate_type, want->predicate_type) == 0) {
                    found = c;
                    if (!first) {
                        first = c;
                        first_k = k;
                    }
                }
            }
        }
        if (!found) {
            char reason[1400], names[512];
            auth_names(ps, &want->auths, names, sizeof(names));
            if (cl.level)
                snprintf(reason, sizeof(reason), "no %s attestation from %s verifies: %s",
                         want->predicate_type, names, cl.reason);
            else
                snprintf(reason, sizeof(reason), "no %s attestation found for %s",
                         want->predicate_type, m->digest);
            json_object *e = entry_new(ps, G_ATTEST, false, reason);
            if (e)
                put_str(e, "predicateType", want->predicate_type);
            return e;
        }
        if (toff < sizeof(types))
            toff += (size_t)snprintf(types + toff, sizeof(types) - toff, "%s%s", toff ? ", " : "",
                                     want->predicate_type);
    }
    json_object *e = entry_new(ps, G_ATTEST, true, NULL);
    if (e) {
        put_str(e, "predicateType", types);
        put_str(e, "authority", p->authorities[first_k].name);
        put_str(e, "signer", first->s.signer);
        put_str(e, "issuer", first->s.issuer);
        put_str(e, "format", first->s.format);
    }
    return e;
}

/* --- combining ------------------------------------------------------------------------------ */

static bool entry_failed(json_object *e)
{
    json_object *r;
    if (!json_object_object_get_ex(e, "result", &r))
        return true;
    const char *s = json_object_get_string(r);
    return strcmp(s, "Verified") != 0 && strcmp(s, "Present") != 0 && strcmp(s, "Passed") != 0;
}

static bool entry_warned(json_object *e)
{
    json_object *r;
    return json_object_object_get_ex(e, "result", &r) &&
           strcmp(json_object_get_string(r), "Warned") == 0;
}

/* Judges one policy's gates into entries[G_COUNT] (NULL: not asked for). */
static int judge_policy(struct pstate *ps, json_object *entries[G_COUNT])
{
    const struct tg_vpolicy *p = ps->p;
    const struct tg_verify_input *in = ps->in;
    bool has[G_COUNT] = {p->has_signature, p->has_provenance, p->has_sbom, p->has_vulnerabilities,
                         p->n_attestations > 0};

    for (int g = 0; g < G_COUNT; g++) {
        if (!has[g])
            continue;
        if (in->failure) {
            entries[g] = entry_new(ps, (enum gate)g, false, in->failure);
        } else {
            switch (g) {
            case G_SIGNATURE:
                entries[g] = gate_signature(ps);
                break;
            case G_PROVENANCE:
                entries[g] = gate_provenance(ps);
                break;
            case G_SBOM:
                entries[g] = gate_sbom(ps);
                break;
            case G_ATTEST:
                entries[g] = gate_attestations(ps);
                break;
            default:
                entries[g] = gate_vulnerabilities(ps);
                break;
            }
        }
        if (!entries[g])
            return tg_error_set(TG_ENOMEM, "out of memory");
    }
    return 0;
}

static void pstate_clear(struct pstate *ps)
{
    size_t n_items = ps->in->material ? ps->in->material->n_items : 0;
    if (ps->cands) {
        for (size_t i = 0; i < n_items * ps->p->n_authorities; i++) {
            if (ps->cands[i].done && ps->cands[i].rc == 0)
                tg_signed_clear(&ps->cands[i].s);
            free(ps->cands[i].reason);
        }
        free(ps->cands);
    }
    if (ps->auths) {
        for (size_t k = 0; k < ps->p->n_authorities; k++)
            rauth_clear(&ps->auths[k]);
        free(ps->auths);
    }
    tg_vpolicy_free(ps->p);
}

/*
 * Gives every secretRef and configMapRef in obj without a namespace the namespace ns. False when
 * one has none and ns is NULL: such an authority cannot be lent, since the borrower would read
 * the reference in its own namespace.
 */
static bool stamp_refs(json_object *obj, const char *ns)
{
    if (!json_object_is_type(obj, json_type_object))
        return true;
    json_object_object_foreach(obj, k, v)
    {
        if ((strcmp(k, "secretRef") == 0 || strcmp(k, "configMapRef") == 0) &&
            json_object_is_type(v, json_type_object) &&
            !json_object_object_get_ex(v, "namespace", NULL)) {
            if (!ns)
                return false;
            json_object_object_add(v, "namespace", json_object_new_string(ns));
        } else if (!stamp_refs(v, ns)) {
            return false;
        }
    }
    return true;
}

/* True when arr holds an authority named name. */
static bool has_authority(json_object *arr, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *n;
        if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "name", &n) &&
            strcmp(json_object_get_string(n), name) == 0)
            return true;
    }
    return false;
}

/*
 * A borrowing policy's spec (policies[self], which defines no authorities) with the authorities
 * of every other policy that defines some: their names, "<policy>/<name>" on a clash, their
 * references pinned to the lender's namespace. *out is a new spec (the caller puts it); it has
 * no "authorities" when nothing could be lent.
 */
static int lend(json_object *policies, size_t self, json_object *spec, json_object **out)
{
    json_object *copy = NULL, *lent = json_object_new_array();

    *out = NULL;
    if (!lent || json_object_deep_copy(spec, &copy, NULL) != 0) {
        json_object_put(lent);
        json_object_put(copy);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < json_object_array_length(policies); j++) {
        json_object *e = json_object_array_get_idx(policies, j), *sp, *auths, *n, *ns;
        if (j == self || !json_object_object_get_ex(e, "spec", &sp) ||
            !json_object_object_get_ex(sp, "authorities", &auths) ||
            !json_object_is_type(auths, json_type_array))
            continue;
        json_object_object_get_ex(e, "name", &n);
        const char *lender_ns =
            json_object_object_get_ex(e, "namespace", &ns) ? json_object_get_string(ns) : NULL;
        for (size_t k = 0; k < json_object_array_length(auths); k++) {
            json_object *a = NULL, *an;
            if (json_object_deep_copy(json_object_array_get_idx(auths, k), &a, NULL) != 0) {
                json_object_put(lent);
                json_object_put(copy);
                return tg_error_set(TG_ENOMEM, "out of memory");
            }
            if (!json_object_object_get_ex(a, "name", &an) || !stamp_refs(a, lender_ns)) {
                json_object_put(a);
                continue;
            }
            if (has_authority(lent, json_object_get_string(an))) {
                char renamed[300];
                snprintf(renamed, sizeof(renamed), "%s/%s", json_object_get_string(n),
                         json_object_get_string(an));
                json_object_object_add(a, "name", json_object_new_string(renamed));
            }
            json_object_array_add(lent, a);
        }
    }
    if (json_object_array_length(lent) > 0)
        json_object_object_add(copy, "authorities", lent);
    else
        json_object_put(lent);
    *out = copy;
    return 0;
}

/* Reads policies[i]: its name, spec and namespace, and compiles the spec. */
static int policy_at(json_object *policies, size_t i, const char **name, const char **ns,
                     struct tg_vpolicy **out)
{
    json_object *e = json_object_array_get_idx(policies, i), *v, *spec;
    char prefix[300];

    *name = NULL;
    *ns = NULL;
    if (!json_object_is_type(e, json_type_object))
        return tg_error_set(TG_EINVALID, "policies[%zu]: must be an object", i);
    json_object_object_foreach(e, k, val)
    {
        (void)val;
        if (strcmp(k, "name") != 0 && strcmp(k, "spec") != 0 && strcmp(k, "namespace") != 0)
            return tg_error_set(TG_EINVALID, "policies[%zu].%s: unknown field", i, k);
    }
    if (!json_object_object_get_ex(e, "name", &v) || !json_object_is_type(v, json_type_string) ||
        !*json_object_get_string(v))
        return tg_error_set(TG_EINVALID, "policies[%zu].name: required", i);
    *name = json_object_get_string(v);
    if (json_object_object_get_ex(e, "namespace", &v)) {
        if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
            return tg_error_set(TG_EINVALID, "policies[%zu].namespace: must be a string", i);
        *ns = json_object_get_string(v);
    }
    if (!json_object_object_get_ex(e, "spec", &spec))
        return tg_error_set(TG_EINVALID, "policies[%zu] (%s).spec: required", i, *name);
    snprintf(prefix, sizeof(prefix), "%s: spec", *name);
    /* A Release's own policy (it has a namespace) may borrow the others' authorities. */
    int rc = tg_vpolicy_parse_ex(spec, prefix, *ns != NULL, out);
    if (rc || !(*out)->borrowing)
        return rc;
    json_object *lent;
    if ((rc = lend(policies, i, spec, &lent)))
        return rc;
    if (json_object_object_get_ex(lent, "authorities", NULL)) {
        tg_vpolicy_free(*out);
        *out = NULL;
        rc = tg_vpolicy_parse_ex(lent, prefix, false, out);
    }
    json_object_put(lent);
    return rc;
}

int tg_verify_policies_validate(json_object *policies)
{
    if (!json_object_is_type(policies, json_type_array) || json_object_array_length(policies) == 0)
        return tg_error_set(TG_EINVALID, "policies: at least one policy is needed");
    if (json_object_array_length(policies) > MAX_POLICIES)
        return tg_error_set(TG_EINVALID, "policies: more than %d", MAX_POLICIES);
    for (size_t i = 0; i < json_object_array_length(policies); i++) {
        const char *name, *ns;
        struct tg_vpolicy *p = NULL;
        int rc = policy_at(policies, i, &name, &ns, &p);
        tg_vpolicy_free(p);
        if (rc)
            return rc;
    }
    return 0;
}

/* The verdict's frame: result, image, digest, checkedAt, policies. */
static json_object *verdict_new(const struct tg_verify_input *in, json_object *policies)
{
    json_object *v = json_object_new_object(), *names = json_object_new_array();
    char t[40];

    if (!v || !names) {
        json_object_put(v);
        json_object_put(names);
        return NULL;
    }
    for (size_t i = 0; i < json_object_array_length(policies); i++) {
        json_object *n;
        json_object_object_get_ex(json_object_array_get_idx(policies, i), "name", &n);
        json_object_array_add(names, json_object_get(n));
    }
    put_str(v, "image", in->image);
    const char *at = in->image ? strchr(in->image, '@') : NULL;
    put_str(v, "digest", in->material ? in->material->digest : at ? at + 1 : "");
    tg_verify_rfc3339(in->now_ms / 1000, t, sizeof(t));
    put_str(v, "checkedAt", t);
    json_object_object_add(v, "policies", names);
    return v;
}

int tg_verify_judge(const struct tg_verify_input *in, json_object **out)
{
    json_object *entries[MAX_POLICIES][G_COUNT];
    size_t np;
    int rc;

    *out = NULL;
    if ((rc = tg_verify_policies_validate(in->policies)))
        return rc;
    if (!in->material && !in->failure)
        return tg_error_set(TG_EINVALID, "no material to judge");
    np = json_object_array_length(in->policies);
    memset(entries, 0, sizeof(entries));
    /* The material must be the image's: a digest that differs fails every gate. */
    char mismatch[300] = "";
    struct tg_verify_input local = *in;
    const char *at = in->image ? strchr(in->image, '@') : NULL;
    if (!in->failure && (!at || strcmp(at + 1, in->material->digest) != 0)) {
        snprintf(mismatch, sizeof(mismatch), "the material is for %s, not for %.200s",
                 in->material->digest, in->image ? in->image : "(no image)");
        local.failure = mismatch;
    }
    for (size_t i = 0; i < np; i++) {
        struct pstate ps = {.in = &local};
        size_t n_items = local.material && !local.failure ? local.material->n_items : 0;
        if ((rc = policy_at(in->policies, i, &ps.name, &ps.namespace, &ps.p)))
            goto fail;
        ps.auths = calloc(ps.p->n_authorities ? ps.p->n_authorities : 1, sizeof(*ps.auths));
        ps.cands = calloc(n_items * ps.p->n_authorities + 1, sizeof(*ps.cands));
        if (!ps.auths || !ps.cands) {
            rc = tg_error_set(TG_ENOMEM, "out of memory");
            pstate_clear(&ps);
            goto fail;
        }
        struct tg_verify_input lone = local;
        if (ps.p->borrowing && !local.failure) {
            lone.failure = "the policy defines no authorities and borrows those of the "
                           "VerificationPolicies that apply, but none has any";
            ps.in = &lone;
        }
        for (size_t k = 0; k < ps.p->n_authorities && rc == 0 && !ps.in->failure; k++)
            rc = resolve(&ps, &ps.p->authorities[k], &ps.auths[k]);
        if (rc == 0)
            rc = judge_policy(&ps, entries[i]);
        pstate_clear(&ps);
        if (rc)
            goto fail;
    }

    json_object *v = verdict_new(in, in->policies);
    if (!v) {
        rc = tg_error_set(TG_ENOMEM, "out of memory");
        goto fail;
    }
    bool failed = false, warned = false;
    char message[1600] = "", warn_message[1600] = "";
    for (int g = 0; g < G_COUNT; g++) {
        json_object *pick = NULL, *pick_warn = NULL, *pick_pass = NULL;
        for (size_t i = 0; i < np; i++) {
            json_object *e = entries[i][g];
            if (!e)
                continue;
            if (entry_warned(e)) {
                if (!pick_warn)
                    pick_warn = e;
            } else if (entry_failed(e)) {
                if (!pick)
                    pick = e;
            } else if (!pick_pass) {
                pick_pass = e;
            }
        }
        json_object *chosen = pick ? pick : pick_warn ? pick_warn : pick_pass;
        if (!chosen)
            continue;
        json_object *pol, *reason;
        json_object_object_get_ex(chosen, "policy", &pol);
        if (pick) {
            json_object_object_get_ex(pick, "reason", &reason);
            if (!failed)
                snprintf(message, sizeof(message), "%s: %s: %s", json_object_get_string(pol),
                         gate_names[g], json_object_get_string(reason));
            failed = true;
        } else if (pick_warn) {
            json_object_object_get_ex(pick_warn, "reason", &reason);
            if (!warned)
                snprintf(warn_message, sizeof(warn_message), "%s (warn mode): %s: %s",
                         json_object_get_string(pol), gate_names[g],
                         json_object_get_string(reason));
            warned = true;
        }
        json_object_object_add(v, gate_names[g], json_object_get(chosen));
    }
    put_str(v, "result", failed ? "Failed" : warned ? "Warned" : "Passed");
    put_str(v, "message", failed ? message : warned ? warn_message : "");
    *out = v;
    rc = 0;
fail:
    for (size_t i = 0; i < np && i < MAX_POLICIES; i++) {
        for (int g = 0; g < G_COUNT; g++)
            json_object_put(entries[i][g]);
    }
    return rc;
}
