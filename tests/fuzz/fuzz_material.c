/* Fuzz target: tg_verify_material_from_json, and the JSON form of what it read. */
#include "fuzz.h"

#include "verify/material.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *o = fuzz_json(data, size);
    struct tg_verify_material *m = NULL;

    if (!o)
        return 0;
    if (tg_verify_material_from_json(o, &m) == 0) {
        json_object *back = tg_verify_material_to_json(m);

        json_object_put(back);
        tg_verify_material_free(m);
    }
    json_object_put(o);
    return 0;
}
