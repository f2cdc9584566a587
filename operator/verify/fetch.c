#include "verify/fetch.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "verify/crypto.h"
#include "verify/jsonutil.h"

#define DEFAULT_MAX_ITEMS 64
#define JSON_DEPTH        32

static const char OCI_MANIFEST[] = "application/vnd.oci.image.manifest.v1+json";
static const char DOCKER_MANIFEST[] = "application/vnd.docker.distribution.manifest.v2+json";
static const char BUNDLE_V03[] = "application/vnd.dev.sigstore.bundle.v0.3+json";
static const char BUNDLE_OLD_PREFIX[] = "application/vnd.dev.sigstore.bundle+json;version=0.";

/* Where an item sorts in the material: referrer bundles, then .sig, .att and .sbom layers. */
enum group { G_REFERRER, G_SIG, G_ATT, G_SBOM };

/* An item found, with its place in the material's order. */
struct found {
    int group;
    size_t i1, i2;
    struct tg_vm_item item; /* owned */
};

struct fetch {
    struct tg_registry *reg;
    const struct tg_registry_creds *creds;
    struct tg_image_ref *ref;
    char *image;
    char *digest;
    size_t max_items;
    tg_fetch_cb cb;
    void *arg;
    struct tg_verify_material *m;
    struct found *found;
    size_t n_found, cap_found;
    size_t planned;   /* items whose blobs were asked for */
    size_t referrers; /* referrer manifests asked for */
    int pending;      /* registry calls in flight */
    int rc;           /* the first failure, or 0 */
    char msg[1024];
};

enum step_kind { S_IMAGE, S_REFERRERS, S_TAG, S_REFERRER, S_BLOB };

/* One registry call of a fetch. */
struct step {
    struct fetch *f;
    enum step_kind kind;
    int group;
    size_t i1, i2;
    char *label;            /* for messages: "sha256-<hex>.sig", "referrer sha256:..." */
    struct tg_vm_item item; /* S_BLOB: the item to fill, strings owned */
};

static bool is_bundle_type(const char *t)
{
    return t && (strcmp(t, BUNDLE_V03) == 0 ||
                 strncmp(t, BUNDLE_OLD_PREFIX, sizeof(BUNDLE_OLD_PREFIX) - 1) == 0);
}

static void free_step(struct step *s)
{
    free(s->label);
    tg_vm_item_clear(&s->item);
    free(s);
}

static void free_fetch(struct fetch *f)
{
    for (size_t i = 0; i < f->n_found; i++)
        tg_vm_item_clear(&f->found[i].item);
    free(f->found);
    tg_verify_material_free(f->m);
    tg_image_ref_free(f->ref);
    free(f->image);
    free(f->digest);
    free(f);
}

/* Records the first failure; later ones are dropped. Returns rc. */
static int record(struct fetch *f, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int record(struct fetch *f, int rc, const char *fmt, ...)
{
    va_list ap;

    if (f->rc == 0) {
        f->rc = rc;
        va_start(ap, fmt);
        vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int cmp_found(const void *a, const void *b)
{
    const struct found *x = a, *y = b;

    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->i1 != y->i1)
        return x->i1 < y->i1 ? -1 : 1;
    if (x->i2 != y->i2)
        return x->i2 < y->i2 ? -1 : 1;
    return 0;
}

/* When nothing is in flight any more: one callback, then the fetch is freed. */
static void maybe_finish(struct fetch *f)
{
    struct tg_verify_material *m = NULL;

    if (f->pending > 0)
        return;
    if (f->rc == 0) {
        if (f->n_found > 1)
            qsort(f->found, f->n_found, sizeof(*f->found), cmp_found);
        for (size_t i = 0; i < f->n_found && f->rc == 0; i++)
            if (tg_verify_material_add(f->m, &f->found[i].item) < 0)
                record(f, TG_ENOMEM, "out of memory");
    }
    if (f->rc == 0) {
        m = f->m;
        f->m = NULL;
    } else {
        tg_error_set(f->rc, "%s", f->msg);
    }
    f->cb(f->rc, f->rc ? f->msg : NULL, m, f->arg);
    free_fetch(f);
}

static void step_done(int rc, const char *message, const char *media_type, const char *digest,
                      const unsigned char *body, size_t len, void *arg);

/* Starts one registry call for s (taken). On failure, records it. */
static void launch(struct fetch *f, struct step *s, const char *reference, long long size)
{
    int rc;

    if (f->rc < 0) {
        free_step(s);
        return;
    }
    switch (s->kind) {
    case S_REFERRERS:
        rc = tg_registry_referrers(f->reg, f->ref, reference, f->creds, step_done, s);
        break;
    case S_BLOB:
        rc = tg_registry_get_blob(f->reg, f->ref, reference, size, f->creds, step_done, s);
        break;
    default:
        rc = tg_registry_get_manifest(f->reg, f->ref, reference, f->creds, step_done, s);
        break;
    }
    if (rc < 0) {
        record(f, rc, "%s: %s", s->label, tg_error_last());
        free_step(s);
        return;
    }
    f->pending++;
}

static struct step *new_step(struct fetch *f, enum step_kind kind, int group, size_t i1, size_t i2,
                             const char *label)
{
    struct step *s = calloc(1, sizeof(*s));

    if (!s || !(s->label = strdup(label))) {
        free(s);
        record(f, TG_ENOMEM, "out of memory");
        return NULL;
    }
    s->f = f;
    s->kind = kind;
    s->group = group;
    s->i1 = i1;
    s->i2 = i2;
    return s;
}

/* Parses a JSON document (an object); NULL when it is not one. */
static json_object *parse_doc(const unsigned char *body, size_t len)
{
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    json_object *o;

    if (!tok || len > 0x7fffffff) {
        json_tokener_free(tok);
        return NULL;
    }
    o = json_tokener_parse_ex(tok, (const char *)body, (int)len);
    bool ok = json_tokener_get_error(tok) == json_tokener_success &&
              json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!ok || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Copies an optional string into *dst. Returns false when out of memory. */
static bool dup_opt(const char *s, char **dst)
{
    *dst = NULL;
    return !s || (*dst = strdup(s)) != NULL;
}

/*
 * Launches blob step b (counted as planned) when its item's strings were copied; otherwise
 * records no memory, frees b and returns false.
 */
static bool launch_blob(struct fetch *f, struct step *b, bool copied, const char *digest,
                        long long size)
{
    if (!copied) {
        record(f, TG_ENOMEM, "out of memory");
        free_step(b);
        return false;
    }
    f->planned++;
    launch(f, b, digest, size);
    return true;
}

/* A descriptor's digest and size; false when malformed. */
static bool descriptor(json_object *d, const char **digest, long long *size)
{
    json_object *v;

    *digest = tg_json_str(d, "digest");
    if (!*digest || !tg_digest_valid(*digest))
        return false;
    *size = -1;
    if (json_object_object_get_ex(d, "size", &v)) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
            return false;
        *size = json_object_get_int64(v);
    }
    return true;
}

/* The layers of a `.sig`, `.att` or `.sbom` tag's manifest become blob steps. */
static void on_tag(struct fetch *f, struct step *s, const char *media_type,
                   const unsigned char *body, size_t len)
{
    json_object *doc = parse_doc(body, len), *layers;
    static const enum tg_vm_kind kinds[] = {
        [G_SIG] = TG_VM_SIMPLESIGNING, [G_ATT] = TG_VM_DSSE, [G_SBOM] = TG_VM_SBOM_ATTACHMENT};

    if (!doc) {
        record(f, TG_EINVALID, "%s: the manifest is not a JSON object", s->label);
        return;
    }
    const char *mt = tg_json_str(doc, "mediaType");
    if (!mt)
        mt = media_type;
    if (!mt || (strcmp(mt, OCI_MANIFEST) != 0 && strcmp(mt, DOCKER_MANIFEST) != 0)) {
        record(f, TG_EINVALID, "%s: not an image manifest (media type %.100s)", s->label,
               mt ? mt : "none");
        goto out;
    }
    if (!json_object_object_get_ex(doc, "layers", &layers) ||
        !json_object_is_type(layers, json_type_array)) {
        record(f, TG_EINVALID, "%s: the manifest has no layers array", s->label);
        goto out;
    }
    size_t n = json_object_array_length(layers);
    if (f->planned + n > f->max_items) {
        record(f, TG_ETOOBIG, "%s: more than %zu signatures, attestations and bundles", s->label,
               f->max_items);
        goto out;
    }
    for (size_t i = 0; i < n && f->rc == 0; i++) {
        json_object *l = json_object_array_get_idx(layers, i), *ann = NULL;
        const char *digest;
        long long size;
        char label[256];
        if (!json_object_is_type(l, json_type_object) || !descriptor(l, &digest, &size)) {
            record(f, TG_EINVALID, "%s: layer %zu has no valid digest and size", s->label, i);
            break;
        }
        json_object_object_get_ex(l, "annotations", &ann);
        if (ann && !json_object_is_type(ann, json_type_object))
            ann = NULL;
        snprintf(label, sizeof(label), "%s layer %zu", s->label, i);
        struct step *b = new_step(f, S_BLOB, s->group, 0, i, label);
        if (!b)
            break;
        b->item.kind = kinds[s->group];
        bool copied =
            dup_opt(label, &b->item.source) &&
            dup_opt(tg_json_str(l, "mediaType"), &b->item.media_type) &&
            dup_opt(tg_json_str(ann, "dev.cosignproject.cosign/signature"),
                    &b->item.signature_b64) &&
            dup_opt(tg_json_str(ann, "dev.sigstore.cosign/certificate"),
                    &b->item.certificate_pem) &&
            dup_opt(tg_json_str(ann, "dev.sigstore.cosign/chain"), &b->item.chain_pem) &&
            dup_opt(tg_json_str(ann, "dev.sigstore.cosign/bundle"), &b->item.rekor_bundle) &&
            dup_opt(tg_json_str(ann, "predicateType"), &b->item.predicate_type);
        if (!launch_blob(f, b, copied, digest, size))
            break;
    }
out:
    json_object_put(doc);
}

/* The referrers index: every manifest that may hold a bundle is fetched. */
static void on_referrers(struct fetch *f, struct step *s, const unsigned char *body, size_t len)
{
    json_object *doc = parse_doc(body, len), *list;

    if (!doc) {
        record(f, TG_EINVALID, "%s: the index is not a JSON object", s->label);
        return;
    }
    if (!json_object_object_get_ex(doc, "manifests", &list) ||
        !json_object_is_type(list, json_type_array)) {
        record(f, TG_EINVALID, "%s: the index has no manifests array", s->label);
        goto out;
    }
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n && f->rc == 0; i++) {
        json_object *d = json_object_array_get_idx(list, i);
        const char *digest;
        long long size;
        char label[160];
        if (!json_object_is_type(d, json_type_object) || !descriptor(d, &digest, &size)) {
            record(f, TG_EINVALID, "%s: entry %zu has no valid digest", s->label, i);
            break;
        }
        const char *at = tg_json_str(d, "artifactType");
        if (at && *at && !is_bundle_type(at))
            continue; /* another kind of referrer (an SBOM, a scan): not ours */
        if (++f->referrers > f->max_items) {
            record(f, TG_ETOOBIG, "%s: more than %zu referrers", s->label, f->max_items);
            break;
        }
        snprintf(label, sizeof(label), "referrer %s", digest);
        struct step *r = new_step(f, S_REFERRER, G_REFERRER, i, 0, label);
        if (r)
            launch(f, r, digest, -1);
    }
out:
    json_object_put(doc);
}

/* A referrer manifest: its bundle layers become blob steps. */
static void on_referrer(struct fetch *f, struct step *s, const unsigned char *body, size_t len)
{
    json_object *doc = parse_doc(body, len), *layers, *ann = NULL;

    if (!doc) {
        record(f, TG_EINVALID, "%s: the manifest is not a JSON object", s->label);
        return;
    }
    const char *at = tg_json_str(doc, "artifactType");
    if (!json_object_object_get_ex(doc, "layers", &layers) ||
        !json_object_is_type(layers, json_type_array))
        goto out; /* an index or something else: no bundle here */
    json_object_object_get_ex(doc, "annotations", &ann);
    if (ann && !json_object_is_type(ann, json_type_object))
        ann = NULL;
    size_t n = json_object_array_length(layers);
    for (size_t i = 0; i < n && f->rc == 0; i++) {
        json_object *l = json_object_array_get_idx(layers, i);
        const char *lt =
            json_object_is_type(l, json_type_object) ? tg_json_str(l, "mediaType") : NULL;
        if (!is_bundle_type(lt) && !(i == 0 && is_bundle_type(at) && n == 1))
            continue;
        const char *digest;
        long long size;
        char label[256];
        if (!descriptor(l, &digest, &size)) {
            record(f, TG_EINVALID, "%s: layer %zu has no valid digest and size", s->label, i);
            break;
        }
        if (f->planned + 1 > f->max_items) {
            record(f, TG_ETOOBIG, "%s: more than %zu signatures, attestations and bundles",
                   s->label, f->max_items);
            break;
        }
        snprintf(label, sizeof(label), "%s layer %zu", s->label, i);
        struct step *b = new_step(f, S_BLOB, G_REFERRER, s->i1, i, label);
        if (!b)
            break;
        b->item.kind = TG_VM_BUNDLE;
        bool copied =
            dup_opt(label, &b->item.source) &&
            dup_opt(is_bundle_type(lt) ? lt : at, &b->item.media_type) &&
            dup_opt(tg_json_str(ann, "dev.sigstore.bundle.predicateType"), &b->item.predicate_type);
        if (!launch_blob(f, b, copied, digest, size))
            break;
    }
out:
    json_object_put(doc);
}

static void on_blob(struct fetch *f, struct step *s, const unsigned char *body, size_t len)
{
    if (f->n_found == f->cap_found) {
        size_t cap = f->cap_found ? f->cap_found * 2 : 8;
        struct found *p = realloc(f->found, cap * sizeof(*p));
        if (!p) {
            record(f, TG_ENOMEM, "out of memory");
            return;
        }
        f->found = p;
        f->cap_found = cap;
    }
    unsigned char *data = malloc(len + 1);
    if (!data) {
        record(f, TG_ENOMEM, "out of memory");
        return;
    }
    memcpy(data, body, len);
    data[len] = '\0';
    struct found *x = &f->found[f->n_found++];
    x->group = s->group;
    x->i1 = s->i1;
    x->i2 = s->i2;
    x->item = s->item;
    x->item.data = data;
    x->item.len = len;
    memset(&s->item, 0, sizeof(s->item)); /* moved */
}

static void start_discovery(struct fetch *f)
{
    static const char *const suffix[] = {[G_SIG] = "sig", [G_ATT] = "att", [G_SBOM] = "sbom"};
    char tag[96];
    struct step *s;

    if ((s = new_step(f, S_REFERRERS, G_REFERRER, 0, 0, "referrers")))
        launch(f, s, f->digest, -1);
    for (int g = G_SIG; g <= G_SBOM; g++) {
        snprintf(tag, sizeof(tag), "sha256-%s.%s", f->digest + 7, suffix[g]);
        if ((s = new_step(f, S_TAG, g, 0, 0, tag)))
            launch(f, s, tag, -1);
    }
}

static void step_done(int rc, const char *message, const char *media_type, const char *digest,
                      const unsigned char *body, size_t len, void *arg)
{
    struct step *s = arg;
    struct fetch *f = s->f;

    (void)digest;
    f->pending--;
    if (f->rc < 0) {
        /* Failed already: wait for the rest to drain. */
    } else if (rc == TG_ENOTFOUND && (s->kind == S_TAG || s->kind == S_REFERRER)) {
        /* None of these. */
    } else if (rc < 0) {
        record(f, rc, "%s: %s", s->kind == S_IMAGE ? "image manifest" : s->label, message);
    } else {
        switch (s->kind) {
        case S_IMAGE: {
            json_object *doc = parse_doc(body, len);
            const char *mt = tg_json_str(doc, "mediaType");
            if (!mt)
                mt = media_type;
            if (!doc)
                record(f, TG_EINVALID, "image manifest: not a JSON object");
            else if (mt && !(f->m->manifest_media_type = strdup(mt)))
                record(f, TG_ENOMEM, "out of memory");
            json_object_put(doc);
            if (f->rc == 0)
                start_discovery(f);
            break;
        }
        case S_REFERRERS:
            on_referrers(f, s, body, len);
            break;
        case S_TAG:
            on_tag(f, s, media_type, body, len);
            break;
        case S_REFERRER:
            on_referrer(f, s, body, len);
            break;
        case S_BLOB:
            on_blob(f, s, body, len);
            break;
        }
    }
    free_step(s);
    maybe_finish(f);
}

int tg_fetch_material(struct tg_registry *reg, const char *image,
                      const struct tg_registry_creds *creds, const struct tg_fetch_options *opt,
                      tg_fetch_cb cb, void *arg)
{
    struct fetch *f;
    struct tg_image_ref *ref;
    int rc;

    if (!reg || !image || !cb)
        return tg_error_set(TG_EINVALID, "fetch needs a registry client, an image and a callback");
    if ((rc = tg_image_ref_parse(image, &ref)) < 0)
        return rc;
    if (!ref->digest) {
        tg_image_ref_free(ref);
        return tg_error_set(TG_EINVALID, "image %s is not pinned: use repository@sha256:<digest>",
                            image);
    }
    if (!(f = calloc(1, sizeof(*f)))) {
        tg_image_ref_free(ref);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    f->reg = reg;
    f->creds = creds;
    f->ref = ref;
    f->cb = cb;
    f->arg = arg;
    f->max_items = opt && opt->max_items ? opt->max_items : DEFAULT_MAX_ITEMS;
    size_t n = strlen(ref->registry) + strlen(ref->repository) + strlen(ref->digest) + 3;
    if (!(f->digest = strdup(ref->digest)) || !(f->image = malloc(n))) {
        free_fetch(f);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    snprintf(f->image, n, "%s/%s@%s", ref->registry, ref->repository, ref->digest);
    if (!(f->m = tg_verify_material_new(f->image, f->digest))) {
        free_fetch(f);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    struct step *s = new_step(f, S_IMAGE, 0, 0, 0, "image manifest");
    if (!s) {
        free_fetch(f);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    launch(f, s, f->digest, -1);
    if (f->rc < 0) {
        rc = tg_error_set(f->rc, "%s", f->msg);
        free_fetch(f);
        return rc;
    }
    return 0;
}
