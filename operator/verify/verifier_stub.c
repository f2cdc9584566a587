/* TEMPORARY: delete when verifier.c lands.
 *
 * Stand-ins for the verification service of verifier.h so that the
 * operator links while verifier.c and policy.c are written: a run always answers TG_EUNREACHABLE,
 * validation accepts any object, refs are empty, and matching compares the images globs with
 * fnmatch.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "verify/verifier.h"

struct tg_verifier {
    uv_loop_t *loop;
};

struct stub_run {
    uv_timer_t timer;
    tg_verifier_cb cb;
    void *arg;
};

int tg_verifier_new(uv_loop_t *loop, const struct tg_registry_options *opt, int64_t cache_ttl_ms,
                    struct tg_verifier **out)
{
    (void)opt;
    (void)cache_ttl_ms;
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return tg_error_set(TG_ENOMEM, "out of memory");
    (*out)->loop = loop;
    return 0;
}

void tg_verifier_free(struct tg_verifier *v)
{
    free(v);
}

static void stub_closed(uv_handle_t *h)
{
    free(h->data);
}

static void stub_fire(uv_timer_t *t)
{
    struct stub_run *s = t->data;

    s->cb(TG_EUNREACHABLE, "verification is not built yet (verifier_stub.c)", NULL, s->arg);
    uv_close((uv_handle_t *)&s->timer, stub_closed);
}

int tg_verifier_run(struct tg_verifier *v, const struct tg_verify_request *req, tg_verifier_cb cb,
                    void *arg)
{
    struct stub_run *s = calloc(1, sizeof(*s));

    (void)req;
    if (!s)
        return tg_error_set(TG_ENOMEM, "out of memory");
    s->cb = cb;
    s->arg = arg;
    uv_timer_init(v->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, stub_fire, 0, 0);
    return 0;
}

int tg_verify_policy_validate(json_object *spec, const char *prefix)
{
    if (!spec || !json_object_is_type(spec, json_type_object))
        return tg_error_set(TG_EINVALID, "%s: must be an object", prefix ? prefix : "spec");
    return 0;
}

int tg_verify_policy_refs(json_object *spec, const char *default_namespace, json_object **out)
{
    (void)spec;
    (void)default_namespace;
    *out = json_object_new_array();
    return *out ? 0 : tg_error_set(TG_ENOMEM, "out of memory");
}

bool tg_verify_policy_matches(json_object *spec, const char *image, const char *namespace)
{
    json_object *images = NULL, *nss = NULL;
    bool hit = false;

    if (!json_object_object_get_ex(spec, "images", &images) ||
        !json_object_is_type(images, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(images) && !hit; i++) {
        const char *g = json_object_get_string(json_object_array_get_idx(images, i));
        hit = g && fnmatch(g, image, 0) == 0;
    }
    if (!hit || !json_object_object_get_ex(spec, "namespaces", &nss))
        return hit;
    for (size_t i = 0; i < json_object_array_length(nss); i++) {
        const char *g = json_object_get_string(json_object_array_get_idx(nss, i));
        if (g && namespace && fnmatch(g, namespace, 0) == 0)
            return true;
    }
    return false;
}
