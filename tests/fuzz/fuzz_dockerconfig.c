/*
 * Fuzz target: tg_registry_creds_add_dockerconfig (.dockerconfigjson and the older .dockercfg
 * form), twice into one set so that the "earlier entries win" path runs.
 */
#include "fuzz.h"

#include "verify/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_registry_creds *c = tg_registry_creds_new();
    char *json = fuzz_copy(data, size);

    if (c && json) {
        tg_registry_creds_add_dockerconfig(c, json, size);
        tg_registry_creds_add_dockerconfig(c, json, size);
    }
    free(json);
    tg_registry_creds_free(c);
    return 0;
}
