/*
 * The objects the operator makes, and how they are converged.
 *
 * Every object carries an ownerReference to the Rollout (controller, blockOwnerDeletion) and
 * the labels app.kubernetes.io/managed-by=tollgate and tollgate.io/rollout=<name>, plus
 * tollgate.io/track (canary) or tollgate.io/color (blue-green) on Deployments, their selectors
 * and their pods, so the selectors of two tracks never overlap.
 *
 * A Deployment's pod template is compared by hash, not field by field: the API server fills in
 * defaults the template never had, so the hash of the template as we wrote it is stamped on the
 * pod template (annotation tollgate.io/template-hash) and a differing hash is what makes us
 * replace the template, with a JSON patch (an exact replacement; a merge patch could not remove a
 * field). Replica counts and Service selectors go out as merge patches of just those fields.
 *
 * An object with our name that the Rollout does not own is never written: the conflict is
 * reported in the Healthy condition and a Warning Event.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/plan_internal.h"

json_object *find_object(struct plan_ctx *ctx, const char *kind, const char *name)
{
    for (size_t i = 0; i < ctx->in->n_objects; i++) {
        json_object *o = ctx->in->objects[i];
        if (streq(jstr(o, "kind"), kind) && streq(jstr(o, "metadata.name"), name))
            return o;
    }
    return NULL;
}

bool owned_by_us(struct plan_ctx *ctx, json_object *obj)
{
    json_object *refs = jpath(obj, "metadata.ownerReferences");

    for (size_t i = 0;
         refs && json_object_is_type(refs, json_type_array) && i < json_object_array_length(refs);
         i++) {
        json_object *r = json_object_array_get_idx(refs, i);
        json_object *c = jkey(r, "controller");
        if (streq(jstr(r, "kind"), "Rollout") && streq(jstr(r, "name"), ctx->name) &&
            (!ctx->uid || !jstr(r, "uid") || streq(jstr(r, "uid"), ctx->uid)) && c &&
            json_object_get_boolean(c))
            return true;
    }
    return false;
}

static void conflict(struct plan_ctx *ctx, const char *kind, const char *name)
{
    if (!ctx->conflict[0])
        snprintf(ctx->conflict, sizeof(ctx->conflict),
                 "%s %s exists and is not owned by this Rollout; tollgate leaves it alone", kind,
                 name);
}

json_object *our_labels(struct plan_ctx *ctx, const char *label, const char *value)
{
    json_object *l = nn(ctx, json_object_new_object());

    jput_str(ctx, l, TG_LABEL_MANAGED_BY, "tollgate");
    jput_str(ctx, l, TG_LABEL_ROLLOUT, ctx->name);
    if (label)
        jput_str(ctx, l, label, value);
    return l;
}

json_object *our_metadata(struct plan_ctx *ctx, const char *name, const char *label,
                          const char *value)
{
    json_object *m = nn(ctx, json_object_new_object());
    json_object *refs = nn(ctx, json_object_new_array());
    json_object *ref = nn(ctx, json_object_new_object());

    if (!m || !refs || !ref) {
        json_object_put(m);
        json_object_put(refs);
        json_object_put(ref);
        return NULL;
    }
    jset_str(ctx, m, "name", name);
    if (ctx->namespace)
        jset_str(ctx, m, "namespace", ctx->namespace);
    jset(ctx, m, "labels", our_labels(ctx, label, value));
    jset_str(ctx, ref, "apiVersion", "tollgate.io/v1alpha1");
    jset_str(ctx, ref, "kind", "Rollout");
    jset_str(ctx, ref, "name", ctx->name);
    if (ctx->uid)
        jset_str(ctx, ref, "uid", ctx->uid);
    jset(ctx, ref, "controller", json_object_new_boolean(1));
    jset(ctx, ref, "blockOwnerDeletion", json_object_new_boolean(1));
    json_object_array_add(refs, ref);
    json_object_object_add(m, "ownerReferences", refs);
    return m;
}

/* The selector of a track's pods: the application's labels, the Rollout's, the track's. */
static json_object *pod_selector(struct plan_ctx *ctx, const char *label, const char *value)
{
    json_object *sel = jcopy(ctx, ctx->selector);

    if (!sel)
        return NULL;
    jput_str(ctx, sel, TG_LABEL_ROLLOUT, ctx->name);
    if (label)
        jput_str(ctx, sel, label, value);
    return sel;
}

json_object *track_template(struct plan_ctx *ctx, const char *image, const char *container,
                            const char *label, const char *value)
{
    json_object *t = jcopy(ctx, ctx->base_template);
    json_object *labels, *containers;

    if (!t)
        return NULL;
    if (!jpath(t, "metadata.labels"))
        jset(ctx, t, "metadata.labels", nn(ctx, json_object_new_object()));
    labels = jpath(t, "metadata.labels");
    jput_str(ctx, labels, TG_LABEL_ROLLOUT, ctx->name);
    jput_str(ctx, labels, label, value);
    containers = jpath(t, "spec.containers");
    if (image && containers && json_object_is_type(containers, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(containers); i++) {
            json_object *c = json_object_array_get_idx(containers, i);
            if (container ? streq(jstr(c, "name"), container) : i == 0) {
                jset_str(ctx, c, "image", image);
                break;
            }
        }
    }
    return t;
}

/* Feeds a canonical rendering (object keys sorted) of v into the hash. */
static void hash_value(EVP_MD_CTX *h, json_object *v)
{
    if (v && json_object_is_type(v, json_type_object)) {
        const char *keys[256];
        size_t n = 0;
        json_object_object_foreach(v, k, val)
        {
            (void)val;
            if (n < sizeof(keys) / sizeof(keys[0]))
                keys[n++] = k;
        }
        for (size_t i = 1; i < n; i++) {
            for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
                const char *t = keys[j];
                keys[j] = keys[j - 1];
                keys[j - 1] = t;
            }
        }
        EVP_DigestUpdate(h, "{", 1);
        for (size_t i = 0; i < n; i++) {
            json_object *s = json_object_new_string(keys[i]);
            const char *ks = json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN);
            EVP_DigestUpdate(h, ks, strlen(ks));
            json_object_put(s);
            EVP_DigestUpdate(h, ":", 1);
            hash_value(h, jkey(v, keys[i]));
            EVP_DigestUpdate(h, ",", 1);
        }
        EVP_DigestUpdate(h, "}", 1);
    } else if (v && json_object_is_type(v, json_type_array)) {
        EVP_DigestUpdate(h, "[", 1);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            hash_value(h, json_object_array_get_idx(v, i));
            EVP_DigestUpdate(h, ",", 1);
        }
        EVP_DigestUpdate(h, "]", 1);
    } else {
        const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        EVP_DigestUpdate(h, s, strlen(s));
    }
}

void template_hash(json_object *tmpl, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();

    memset(md, 0, sizeof(md));
    if (h && EVP_DigestInit_ex(h, EVP_sha256(), NULL)) {
        hash_value(h, tmpl);
        EVP_DigestFinal_ex(h, md, &len);
    }
    EVP_MD_CTX_free(h);
    for (size_t i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[32] = '\0';
}

const char *deployment_hash(json_object *d)
{
    json_object *h = jkey(jpath(d, "spec.template.metadata.annotations"), TG_ANNOTATION_TEMPLATE);

    return h && json_object_is_type(h, json_type_string) ? json_object_get_string(h) : NULL;
}

int deployment_ready_replicas(json_object *d)
{
    return d ? (int)jint(d, "status.readyReplicas", 0) : 0;
}

bool deployment_ready(json_object *d, const char *hash, int want)
{
    if (!d)
        return want == 0;
    if (hash && !streq(deployment_hash(d), hash))
        return false;
    if (jint(d, "spec.replicas", 1) != want)
        return false;
    if (jint(d, "status.observedGeneration", 0) < jint(d, "metadata.generation", 0))
        return false;
    if (want == 0)
        return true;
    return jint(d, "status.updatedReplicas", 0) >= want &&
           jint(d, "status.readyReplicas", 0) >= want;
}

json_object *ensure_deployment(struct plan_ctx *ctx, const char *name, const char *label,
                               const char *value, json_object *tmpl, bool set_template,
                               int replicas)
{
    json_object *obs = find_object(ctx, "Deployment", name);
    char hash[65];

    if (tmpl) {
        template_hash(tmpl, hash);
        if (!jpath(tmpl, "metadata.annotations"))
            jset(ctx, tmpl, "metadata.annotations", nn(ctx, json_object_new_object()));
        jput_str(ctx, jpath(tmpl, "metadata.annotations"), TG_ANNOTATION_TEMPLATE, hash);
    }
    if (obs && !owned_by_us(ctx, obs)) {
        conflict(ctx, "Deployment", name);
        json_object_put(tmpl);
        return NULL;
    }
    if (!obs) {
        json_object *body = nn(ctx, json_object_new_object());
        if (!tmpl || !body) {
            json_object_put(body);
            json_object_put(tmpl);
            return NULL;
        }
        jset_str(ctx, body, "apiVersion", "apps/v1");
        jset_str(ctx, body, "kind", "Deployment");
        jset(ctx, body, "metadata", our_metadata(ctx, name, label, value));
        jset_int(ctx, body, "spec.replicas", replicas);
        jset(ctx, body, "spec.selector.matchLabels", pod_selector(ctx, label, value));
        /* A track never serves with fewer ready pods than it was asked for while it updates. */
        jset_str(ctx, body, "spec.strategy.type", "RollingUpdate");
        jset_int(ctx, body, "spec.strategy.rollingUpdate.maxUnavailable", 0);
        jset_str(ctx, body, "spec.strategy.rollingUpdate.maxSurge", "25%");
        jset(ctx, body, "spec.template", tmpl);
        emit_create(ctx, body);
        return NULL;
    }
    bool new_template = set_template && tmpl && !streq(deployment_hash(obs), hash);
    bool new_replicas = jint(obs, "spec.replicas", 1) != replicas;
    if (new_template) {
        json_object *ops = nn(ctx, json_object_new_array());
        json_object *op = nn(ctx, json_object_new_object());
        if (!ops || !op) {
            json_object_put(ops);
            json_object_put(op);
            json_object_put(tmpl);
            return obs;
        }
        jset_str(ctx, op, "op", "replace");
        jset_str(ctx, op, "path", "/spec/template");
        jset(ctx, op, "value", tmpl);
        tmpl = NULL;
        json_object_array_add(ops, op);
        if (new_replicas) {
            op = nn(ctx, json_object_new_object());
            if (op) {
                jset_str(ctx, op, "op", "replace");
                jset_str(ctx, op, "path", "/spec/replicas");
                jset_int(ctx, op, "value", replicas);
                json_object_array_add(ops, op);
            }
        }
        emit_patch(ctx, "apps/v1", "Deployment", name, NULL, TG_PLAN_PATCH_JSON, ops);
    } else if (new_replicas) {
        json_object *p = nn(ctx, json_object_new_object());
        jset_int(ctx, p, "spec.replicas", replicas);
        emit_patch(ctx, "apps/v1", "Deployment", name, NULL, TG_PLAN_PATCH_MERGE, p);
    }
    json_object_put(tmpl);
    return obs;
}

/* The Service's ports: one, named http, from spec.service. */
static json_object *service_ports(struct plan_ctx *ctx)
{
    const struct tg_service_spec *s = &ctx->spec->service;
    json_object *ports = nn(ctx, json_object_new_array());
    json_object *p = nn(ctx, json_object_new_object());

    if (!ports || !p) {
        json_object_put(ports);
        json_object_put(p);
        return NULL;
    }
    jset_str(ctx, p, "name", "http");
    jset_str(ctx, p, "protocol", "TCP");
    jset_int(ctx, p, "port", s->port);
    if (s->target_port_name)
        jset_str(ctx, p, "targetPort", s->target_port_name);
    else
        jset_int(ctx, p, "targetPort", s->target_port ? s->target_port : s->port);
    json_object_array_add(ports, p);
    return ports;
}

static bool ports_match(json_object *have, json_object *want)
{
    json_object *h =
        have && json_object_is_type(have, json_type_array) && json_object_array_length(have) == 1
            ? json_object_array_get_idx(have, 0)
            : NULL;
    json_object *w = json_object_array_get_idx(want, 0);

    return h && json_object_equal(jkey(h, "port"), jkey(w, "port")) &&
           json_object_equal(jkey(h, "targetPort"), jkey(w, "targetPort")) &&
           json_object_equal(jkey(h, "name"), jkey(w, "name"));
}

void ensure_service(struct plan_ctx *ctx, const char *name, const char *label, const char *value,
                    const char *sel_label, const char *sel_value)
{
    json_object *obs = find_object(ctx, "Service", name);
    json_object *sel = pod_selector(ctx, sel_label, sel_value);
    json_object *ports = service_ports(ctx);

    if (!sel || !ports)
        goto out;
    if (obs && !owned_by_us(ctx, obs)) {
        conflict(ctx, "Service", name);
        goto out;
    }
    if (!obs) {
        json_object *body = nn(ctx, json_object_new_object());
        jset_str(ctx, body, "apiVersion", "v1");
        jset_str(ctx, body, "kind", "Service");
        jset(ctx, body, "metadata", our_metadata(ctx, name, label, value));
        jset(ctx, body, "spec.selector", sel);
        jset(ctx, body, "spec.ports", ports);
        if (body)
            emit_create(ctx, body);
        return;
    }
    json_object *have = jpath(obs, "spec.selector");
    json_object *patch = NULL;
    if (!have || !json_object_equal(have, sel)) {
        json_object *sp = merge_diff(ctx, have, sel);
        patch = nn(ctx, json_object_new_object());
        jset(ctx, patch, "spec.selector", sp);
    }
    if (!ports_match(jpath(obs, "spec.ports"), ports)) {
        if (!patch)
            patch = nn(ctx, json_object_new_object());
        jset(ctx, patch, "spec.ports", ports);
        ports = NULL;
    }
    if (patch)
        emit_patch(ctx, "v1", "Service", name, NULL, TG_PLAN_PATCH_MERGE, patch);
out:
    json_object_put(sel);
    json_object_put(ports);
}

void track_status(struct plan_ctx *ctx, const char *key, const char *deployment,
                  const char *release, const char *image, int replicas, json_object *observed)
{
    json_object *t = nn(ctx, json_object_new_object());

    if (!t)
        return;
    jset_str(ctx, t, "deployment", deployment);
    if (release)
        jset_str(ctx, t, "release", release);
    if (image)
        jset_str(ctx, t, "image", image);
    jset_int(ctx, t, "replicas", replicas);
    jset_int(ctx, t, "readyReplicas", deployment_ready_replicas(observed));
    char path[64];
    snprintf(path, sizeof(path), "tracks.%s", key);
    jset(ctx, ctx->status, path, t);
}

const char *stable_container(struct plan_ctx *ctx)
{
    const char *name = jstr(ctx->status, "stableRelease");

    for (size_t i = 0; i < ctx->n_rels; i++) {
        if (streq(ctx->rels[i].name, name) && ctx->rels[i].in->spec)
            return ctx->rels[i].in->spec->container;
    }
    return NULL;
}

const char *stable_image(struct plan_ctx *ctx)
{
    bool canary = ctx->spec->strategy == TG_STRATEGY_CANARY;
    const char *own = jstr(ctx->status, canary ? "tracks.stable.image" : "tracks.active.image");
    const char *other = jstr(ctx->status, canary ? "tracks.active.image" : "tracks.stable.image");

    return own ? own : other;
}

void retire(struct plan_ctx *ctx, const char *suffix)
{
    char name[80];

    snprintf(name, sizeof(name), "%s-%s", ctx->name, suffix);
    json_object *d = find_object(ctx, "Deployment", name);
    if (d && owned_by_us(ctx, d) && jint(d, "spec.replicas", 1) != 0) {
        ensure_deployment(ctx, name, NULL, NULL, NULL, false, 0);
        rollout_event(ctx, false, "ScaledDown",
                      "Scaled %s to 0: the Rollout's strategy no longer uses it", name);
    }
}
