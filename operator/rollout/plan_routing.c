/*
 * Canary traffic routing.
 *
 * replicas: the user-facing Service selects the pods of both tracks, so the weight is the
 *   canary's share of the ready pods. For a weight w of spec.replicas R the canary gets
 *   round(R * w / 100) pods (half up), at least 1 whenever w > 0 and at most R - 1 whenever
 *   w < 100; the stable track gets the rest, R - canary, but never fewer than 1 while w < 100.
 *   So the total stays R, except for R = 1 with 0 < w < 100 (one pod each: 50%), because a
 *   canary of a single-pod application is otherwise either absent or everything. The weight
 *   reported in status.canaryWeight is the share actually achieved, from ready pods:
 *   round(100 * canaryReady / (stableReady + canaryReady)).
 * gatewayAPI: the user owns the HTTPRoute; the operator sets only the weight of the backendRefs
 *   named <service>-stable (100 - w) and <service>-canary (w), with a JSON patch that tests each
 *   backendRef's name before replacing its weight, so a concurrent edit of the route fails the
 *   patch instead of being overwritten. The canary track is sized as with replicas routing,
 *   the stable track stays at R.
 * nginx: the user's Ingress points at <service>-stable; the operator keeps <ingress>-canary, a
 *   copy of it whose backends point at <service>-canary (backends naming <service> too), with
 *   the annotations nginx.ingress.kubernetes.io/canary "true" and canary-weight "w".
 * With gatewayAPI and nginx the router's weight moves to a step's weight only once the canary's
 * pods are ready; status.canaryWeight is the router's weight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/plan_internal.h"

int canary_replicas(int replicas, int weight)
{
    if (weight <= 0 || replicas <= 0)
        return 0;
    if (weight >= 100)
        return replicas;
    int c = (int)(((int64_t)replicas * weight + 50) / 100);
    if (c > replicas - 1)
        c = replicas - 1;
    return c < 1 ? 1 : c;
}

int stable_replicas(int replicas, int weight)
{
    if (weight >= 100 || replicas <= 0)
        return 0;
    int s = replicas - canary_replicas(replicas, weight);
    return s < 1 ? 1 : s;
}

int actual_weight(int stable_ready, int canary_ready)
{
    if (canary_ready <= 0)
        return 0;
    return (int)((200 * (int64_t)canary_ready + stable_ready + canary_ready) /
                 (2 * ((int64_t)stable_ready + canary_ready)));
}

static void service_name(struct plan_ctx *ctx, const char *suffix, char *buf, size_t n)
{
    snprintf(buf, n, "%s-%s", ctx->spec->service.name, suffix);
}

void ensure_routing_objects(struct plan_ctx *ctx)
{
    char stable[80], canary[80];

    if (ctx->spec->canary.routing.kind == TG_ROUTING_REPLICAS) {
        ensure_service(ctx, ctx->spec->service.name, NULL, NULL, NULL, NULL);
        return;
    }
    service_name(ctx, "stable", stable, sizeof(stable));
    service_name(ctx, "canary", canary, sizeof(canary));
    ensure_service(ctx, ctx->spec->service.name, NULL, NULL, TG_LABEL_TRACK, "stable");
    ensure_service(ctx, stable, TG_LABEL_TRACK, "stable", TG_LABEL_TRACK, "stable");
    ensure_service(ctx, canary, TG_LABEL_TRACK, "canary", TG_LABEL_TRACK, "canary");
}

static void missing(struct plan_ctx *ctx, const char *what)
{
    if (!ctx->conflict[0])
        snprintf(ctx->conflict, sizeof(ctx->conflict), "%s", what);
}

static void add_op(struct plan_ctx *ctx, json_object *ops, const char *op, const char *path,
                   json_object *value)
{
    json_object *o = nn(ctx, json_object_new_object());

    if (!o) {
        json_object_put(value);
        return;
    }
    jset_str(ctx, o, "op", op);
    jset_str(ctx, o, "path", path);
    jset(ctx, o, "value", value);
    json_object_array_add(ops, o);
}

static void gateway_weight(struct plan_ctx *ctx, int weight)
{
    const struct tg_traffic_routing *r = &ctx->spec->canary.routing;
    json_object *route = find_object(ctx, "HTTPRoute", r->http_route);
    json_object *rules = jpath(route, "spec.rules");
    json_object *ops = NULL;
    char stable[80], canary[80], msg[256];
    bool found = false;

    if (!route && ctx->in->gateway_api_unserved) {
        snprintf(msg, sizeof(msg),
                 "HTTPRoute %s cannot be read: the Gateway API (httproutes."
                 "gateway.networking.k8s.io/v1) is not served by the API server, or tollgate runs "
                 "with --gateway-api off; install its CRDs and tollgate finds them",
                 r->http_route);
        if (!ctx->conflict[0])
            ctx->conflict_reason = "GatewayAPINotServed";
        missing(ctx, msg);
        return;
    }
    if (!route) {
        snprintf(msg, sizeof(msg), "HTTPRoute %s not found", r->http_route);
        missing(ctx, msg);
        return;
    }
    service_name(ctx, "stable", stable, sizeof(stable));
    service_name(ctx, "canary", canary, sizeof(canary));
    for (size_t i = 0; rules && json_object_is_type(rules, json_type_array) &&
                       i < json_object_array_length(rules);
         i++) {
        json_object *refs = jkey(json_object_array_get_idx(rules, i), "backendRefs");
        for (size_t j = 0; refs && json_object_is_type(refs, json_type_array) &&
                           j < json_object_array_length(refs);
             j++) {
            json_object *ref = json_object_array_get_idx(refs, j);
            const char *name = jstr(ref, "name");
            int want;
            char path[96];
            if (streq(name, stable))
                want = 100 - weight;
            else if (streq(name, canary))
                want = weight;
            else
                continue;
            found = true;
            if (jint(ref, "weight", 1) == want && jkey(ref, "weight"))
                continue;
            if (!ops && !(ops = nn(ctx, json_object_new_array())))
                return;
            snprintf(path, sizeof(path), "/spec/rules/%zu/backendRefs/%zu/name", i, j);
            add_op(ctx, ops, "test", path, json_object_new_string(name));
            snprintf(path, sizeof(path), "/spec/rules/%zu/backendRefs/%zu/weight", i, j);
            add_op(ctx, ops, jkey(ref, "weight") ? "replace" : "add", path,
                   json_object_new_int(want));
        }
    }
    if (!found) {
        snprintf(msg, sizeof(msg), "HTTPRoute %s has no backendRef to %s or %s", r->http_route,
                 stable, canary);
        missing(ctx, msg);
    }
    if (!ops)
        return;
    emit_patch(ctx, "gateway.networking.k8s.io/v1", "HTTPRoute", r->http_route, NULL,
               TG_PLAN_PATCH_JSON, ops);
    if (r->route_namespace && ctx->plan->n_actions > 0) {
        struct tg_action *a = &ctx->plan->actions[ctx->plan->n_actions - 1];
        free(a->namespace);
        a->namespace = nn(ctx, strdup(r->route_namespace));
    }
}

/* Points every backend of an Ingress spec that names from at to instead. */
static void redirect_backends(struct plan_ctx *ctx, json_object *v, const char *from,
                              const char *to)
{
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            redirect_backends(ctx, json_object_array_get_idx(v, i), from, to);
        return;
    }
    if (!json_object_is_type(v, json_type_object))
        return;
    json_object *svc = jkey(v, "service");
    if (svc && streq(jstr(svc, "name"), from) && jkey(v, "service"))
        jset_str(ctx, svc, "name", to);
    json_object_object_foreach(v, k, val)
    {
        (void)k;
        redirect_backends(ctx, val, from, to);
    }
}

static void nginx_weight(struct plan_ctx *ctx, int weight)
{
    const char *ing_name = ctx->spec->canary.routing.ingress;
    json_object *user = find_object(ctx, "Ingress", ing_name);
    char name[300], stable[80], canary[80], w[16], msg[400];

    if (!user) {
        snprintf(msg, sizeof(msg), "Ingress %s not found", ing_name);
        missing(ctx, msg);
        return;
    }
    snprintf(name, sizeof(name), "%s-canary", ing_name);
    service_name(ctx, "stable", stable, sizeof(stable));
    service_name(ctx, "canary", canary, sizeof(canary));
    snprintf(w, sizeof(w), "%d", weight);

    json_object *spec = jcopy(ctx, jkey(user, "spec"));
    json_object *ann = nn(ctx, json_object_new_object());
    if (!spec || !ann) {
        json_object_put(spec);
        json_object_put(ann);
        return;
    }
    redirect_backends(ctx, spec, stable, canary);
    redirect_backends(ctx, spec, ctx->spec->service.name, canary);
    jput_str(ctx, ann, TG_NGINX_CANARY, "true");
    jput_str(ctx, ann, TG_NGINX_CANARY_WEIGHT, w);

    json_object *obs = find_object(ctx, "Ingress", name);
    if (obs && !owned_by_us(ctx, obs)) {
        snprintf(msg, sizeof(msg),
                 "Ingress %s exists and is not owned by this Rollout; tollgate leaves it alone",
                 name);
        missing(ctx, msg);
    } else if (!obs) {
        json_object *body = nn(ctx, json_object_new_object());
        if (body) {
            jset_str(ctx, body, "apiVersion", "networking.k8s.io/v1");
            jset_str(ctx, body, "kind", "Ingress");
            jset(ctx, body, "metadata", our_metadata(ctx, name, TG_LABEL_TRACK, "canary"));
            jset(ctx, body, "metadata.annotations", json_object_get(ann));
            jset(ctx, body, "spec", json_object_get(spec));
            emit_create(ctx, body);
        }
    } else {
        json_object *patch = nn(ctx, json_object_new_object());
        json_object *have = jpath(obs, "metadata.annotations");
        bool differs = false;
        json_object_object_foreach(ann, k, v)
        {
            if (!json_object_equal(jkey(have, k), v))
                differs = true;
        }
        if (differs)
            jset(ctx, patch, "metadata.annotations", json_object_get(ann));
        json_object *sp = merge_diff(ctx, jkey(obs, "spec"), spec);
        if (sp)
            jset(ctx, patch, "spec", sp);
        if (patch && json_object_object_length(patch) > 0)
            emit_patch(ctx, "networking.k8s.io/v1", "Ingress", name, NULL, TG_PLAN_PATCH_MERGE,
                       patch);
        else
            json_object_put(patch);
    }
    json_object_put(spec);
    json_object_put(ann);
}

void route_weight(struct plan_ctx *ctx, int weight)
{
    switch (ctx->spec->canary.routing.kind) {
    case TG_ROUTING_REPLICAS:
        break;
    case TG_ROUTING_GATEWAY_API:
        gateway_weight(ctx, weight);
        break;
    case TG_ROUTING_NGINX:
        nginx_weight(ctx, weight);
        break;
    }
}

bool route_at(struct plan_ctx *ctx, int weight)
{
    char canary[80], name[300], w[16];

    switch (ctx->spec->canary.routing.kind) {
    case TG_ROUTING_REPLICAS:
        return true;
    case TG_ROUTING_GATEWAY_API: {
        json_object *rules = jpath(
            find_object(ctx, "HTTPRoute", ctx->spec->canary.routing.http_route), "spec.rules");
        service_name(ctx, "canary", canary, sizeof(canary));
        for (size_t i = 0; rules && json_object_is_type(rules, json_type_array) &&
                           i < json_object_array_length(rules);
             i++) {
            json_object *refs = jkey(json_object_array_get_idx(rules, i), "backendRefs");
            for (size_t j = 0; refs && json_object_is_type(refs, json_type_array) &&
                               j < json_object_array_length(refs);
                 j++) {
                json_object *ref = json_object_array_get_idx(refs, j);
                if (streq(jstr(ref, "name"), canary))
                    return jint(ref, "weight", 1) == weight;
            }
        }
        return false;
    }
    case TG_ROUTING_NGINX:
        snprintf(name, sizeof(name), "%s-canary", ctx->spec->canary.routing.ingress);
        snprintf(w, sizeof(w), "%d", weight);
        {
            json_object *v = jkey(jpath(find_object(ctx, "Ingress", name), "metadata.annotations"),
                                  TG_NGINX_CANARY_WEIGHT);
            return v && json_object_is_type(v, json_type_string) &&
                   streq(json_object_get_string(v), w);
        }
    }
    return false;
}
