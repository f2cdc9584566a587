/* TEMPORARY: delete when registry.c lands. Links the verifier and the CLI before it does. */
#include <stdlib.h>

#include "util/error.h"
#include "verify/registry.h"

int tg_image_ref_parse(const char *s, struct tg_image_ref **out)
{
    (void)s;
    *out = NULL;
    return tg_error_set(TG_EINVALID, "registry.c has not landed");
}

void tg_image_ref_free(struct tg_image_ref *r)
{
    free(r);
}

struct tg_registry_creds *tg_registry_creds_new(void)
{
    return calloc(1, 1);
}

void tg_registry_creds_free(struct tg_registry_creds *c)
{
    free(c);
}

int tg_registry_creds_add_dockerconfig(struct tg_registry_creds *c, const char *json, size_t len)
{
    (void)c;
    (void)json;
    (void)len;
    return 0;
}

int tg_registry_new(uv_loop_t *loop, const struct tg_registry_options *opt,
                    struct tg_registry **out)
{
    (void)loop;
    (void)opt;
    *out = calloc(1, 1);
    return *out ? 0 : TG_ENOMEM;
}

void tg_registry_free(struct tg_registry *reg)
{
    free(reg);
}
