/* Fuzz target: tg_bundle_parse (Sigstore bundles v0.1..v0.3, their tlog entries and DSSE). */
#include "fuzz.h"

#include "verify/sigstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_copy(data, size);
    struct tg_bundle *b = NULL;

    if (json && tg_bundle_parse(json, size, &b) == 0)
        tg_bundle_free(b);
    free(json);
    return 0;
}
