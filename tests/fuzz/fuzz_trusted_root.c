/* Fuzz target: tg_trusted_root_parse (trusted_root.json). */
#include "fuzz.h"

#include "verify/keyless.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_copy(data, size);
    struct tg_trusted_root *root = NULL;

    if (json && tg_trusted_root_parse(json, size, &root) == 0)
        tg_trusted_root_free(root);
    free(json);
    return 0;
}
