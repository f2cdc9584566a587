/*
 * Fuzz target: tg_sigstore_json_parse, the strict JSON reader of the signed formats (depth,
 * UTF-8, NUL, trailing bytes, duplicate keys at any depth), at two depth limits.
 */
#include "fuzz.h"

#include "verify/sigstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    json_object *o = NULL;

    if (!text)
        return 0;
    if (tg_sigstore_json_parse("fuzz", text, size, 64, &o) == 0)
        json_object_put(o);
    o = NULL;
    if (tg_sigstore_json_parse("fuzz", text, size, 3, &o) == 0)
        json_object_put(o);
    free(text);
    return 0;
}
