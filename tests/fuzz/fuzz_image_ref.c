/* Fuzz target: tg_image_ref_parse. Input: the reference text (a NUL ends it early). */
#include "fuzz.h"

#include "verify/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct tg_image_ref *ref = NULL;

    if (!s)
        return 0;
    if (tg_image_ref_parse(s, &ref) == 0)
        tg_image_ref_free(ref);
    free(s);
    return 0;
}
