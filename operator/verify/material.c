/*
 * The material collected for one image; see material.h.
 */
#include "verify/material.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "verify/crypto.h"

static const char *const kind_names[] = {
    [TG_VM_SIMPLESIGNING] = "simplesigning",
    [TG_VM_DSSE] = "dsse",
    [TG_VM_BUNDLE] = "bundle",
    [TG_VM_SBOM_ATTACHMENT] = "sbom-attachment",
};

struct tg_verify_material *tg_verify_material_new(const char *image, const char *digest)
{
    struct tg_verify_material *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->image = strdup(image ? image : "");
    m->digest = strdup(digest ? digest : "");
    if (!m->image || !m->digest) {
        tg_verify_material_free(m);
        return NULL;
    }
    return m;
}

/* strdup that keeps NULL; *ok goes false when a copy fails. */
static char *dup_opt(const char *s, bool *ok)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

void tg_vm_item_clear(struct tg_vm_item *it)
{
    free(it->source);
    free(it->media_type);
    free(it->data);
    free(it->signature_b64);
    free(it->certificate_pem);
    free(it->chain_pem);
    free(it->rekor_bundle);
    free(it->predicate_type);
    memset(it, 0, sizeof(*it));
}

int tg_verify_material_add(struct tg_verify_material *m, const struct tg_vm_item *item)
{
    struct tg_vm_item it = {.kind = item->kind, .len = item->len};
    bool ok = true;

    if (m->n_items == m->cap_items) {
        size_t cap = m->cap_items ? m->cap_items * 2 : 8;
        struct tg_vm_item *items = realloc(m->items, cap * sizeof(*items));
        if (!items)
            return tg_error_set(TG_ENOMEM, "out of memory collecting signatures");
        m->items = items;
        m->cap_items = cap;
    }
    it.source = dup_opt(item->source, &ok);
    it.media_type = dup_opt(item->media_type, &ok);
    it.signature_b64 = dup_opt(item->signature_b64, &ok);
    it.certificate_pem = dup_opt(item->certificate_pem, &ok);
    it.chain_pem = dup_opt(item->chain_pem, &ok);
    it.rekor_bundle = dup_opt(item->rekor_bundle, &ok);
    it.predicate_type = dup_opt(item->predicate_type, &ok);
    it.data = malloc(item->len + 1);
    if (!it.data)
        ok = false;
    else {
        if (item->len)
            memcpy(it.data, item->data, item->len);
        it.data[item->len] = '\0';
    }
    if (!ok) {
        tg_vm_item_clear(&it);
        return tg_error_set(TG_ENOMEM, "out of memory collecting signatures");
    }
    m->items[m->n_items++] = it;
    return 0;
}

void tg_verify_material_free(struct tg_verify_material *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_items; i++)
        tg_vm_item_clear(&m->items[i]);
    free(m->items);
    free(m->image);
    free(m->digest);
    free(m->manifest_media_type);
    free(m);
}

/* Adds key: s to obj when s is not NULL; false when out of memory. */
static bool put_opt(json_object *obj, const char *key, const char *s)
{
    json_object *v;

    if (!s)
        return true;
    v = json_object_new_string(s);
    return v && json_object_object_add(obj, key, v) == 0;
}

json_object *tg_verify_material_to_json(const struct tg_verify_material *m)
{
    json_object *root = json_object_new_object(), *items = json_object_new_array();
    bool ok = root && items;

    ok = ok && put_opt(root, "image", m->image) && put_opt(root, "digest", m->digest) &&
         put_opt(root, "manifestMediaType", m->manifest_media_type);
    for (size_t i = 0; ok && i < m->n_items; i++) {
        const struct tg_vm_item *it = &m->items[i];
        json_object *o = json_object_new_object();
        char *b64 = tg_b64_encode(it->data, it->len);
        ok = o && b64 && json_object_array_add(items, o) == 0;
        if (!ok) {
            if (o && json_object_array_length(items) == 0)
                json_object_put(o);
            free(b64);
            break;
        }
        ok = put_opt(o, "kind", kind_names[it->kind]) && put_opt(o, "source", it->source) &&
             put_opt(o, "mediaType", it->media_type) && put_opt(o, "data", b64) &&
             put_opt(o, "signature", it->signature_b64) &&
             put_opt(o, "certificate", it->certificate_pem) && put_opt(o, "chain", it->chain_pem) &&
             put_opt(o, "rekorBundle", it->rekor_bundle) &&
             put_opt(o, "predicateType", it->predicate_type);
        free(b64);
    }
    if (ok && json_object_object_add(root, "items", items) == 0)
        return root;
    json_object_put(items);
    json_object_put(root);
    return NULL;
}

/* The string at key, or NULL when absent; TG_EINVALID (via *rc) when not a string. */
static const char *get_str(json_object *o, const char *key, int *rc)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    if (!json_object_is_type(v, json_type_string)) {
        *rc = tg_error_set(TG_EINVALID, "material: %s is not a string", key);
        return NULL;
    }
    return json_object_get_string(v);
}

int tg_verify_material_from_json(json_object *obj, struct tg_verify_material **out)
{
    struct tg_verify_material *m;
    json_object *items;
    int rc = 0;
    const char *image, *digest, *mt;

    *out = NULL;
    if (!json_object_is_type(obj, json_type_object))
        return tg_error_set(TG_EINVALID, "material: not a JSON object");
    image = get_str(obj, "image", &rc);
    digest = get_str(obj, "digest", &rc);
    mt = get_str(obj, "manifestMediaType", &rc);
    if (rc)
        return rc;
    if (!digest)
        return tg_error_set(TG_EINVALID, "material: no digest");
    m = tg_verify_material_new(image, digest);
    if (!m)
        return tg_error_set(TG_ENOMEM, "out of memory reading material");
    if (mt && !(m->manifest_media_type = strdup(mt))) {
        tg_verify_material_free(m);
        return tg_error_set(TG_ENOMEM, "out of memory reading material");
    }
    if (json_object_object_get_ex(obj, "items", &items)) {
        if (!json_object_is_type(items, json_type_array)) {
            tg_verify_material_free(m);
            return tg_error_set(TG_EINVALID, "material: items is not a list");
        }
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *o = json_object_array_get_idx(items, i);
            struct tg_vm_item it = {0};
            const char *kind = get_str(o, "kind", &rc), *data = get_str(o, "data", &rc);
            size_t k;
            it.source = (char *)get_str(o, "source", &rc);
            it.media_type = (char *)get_str(o, "mediaType", &rc);
            it.signature_b64 = (char *)get_str(o, "signature", &rc);
            it.certificate_pem = (char *)get_str(o, "certificate", &rc);
            it.chain_pem = (char *)get_str(o, "chain", &rc);
            it.rekor_bundle = (char *)get_str(o, "rekorBundle", &rc);
            it.predicate_type = (char *)get_str(o, "predicateType", &rc);
            for (k = 0; rc == 0 && kind && k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
                if (strcmp(kind, kind_names[k]) == 0)
                    break;
            if (rc == 0 && (!kind || k == sizeof(kind_names) / sizeof(kind_names[0])))
                rc = tg_error_set(TG_EINVALID, "material: item %zu has no known kind", i);
            it.kind = (enum tg_vm_kind)k;
            if (rc == 0 && data)
                rc = tg_b64_decode(data, strlen(data), &it.data, &it.len);
            if (rc == 0)
                rc = tg_verify_material_add(m, &it);
            free(it.data);
            if (rc) {
                tg_verify_material_free(m);
                return rc;
            }
        }
    }
    *out = m;
    return 0;
}
