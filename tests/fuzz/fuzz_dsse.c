/* Fuzz target: tg_dsse_parse, then the PAE of what parsed. */
#include "fuzz.h"

#include "verify/sigstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_copy(data, size);
    struct tg_dsse *d = NULL;

    if (json && tg_dsse_parse(json, size, &d) == 0) {
        unsigned char *pae = NULL;
        size_t n = 0;

        if (tg_dsse_pae(d->payload_type, d->payload, d->payload_len, &pae, &n) == 0)
            free(pae);
        tg_dsse_free(d);
    }
    free(json);
    return 0;
}
