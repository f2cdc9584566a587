/* Fuzz target: tg_tlog_entry_from_legacy (cosign's dev.sigstore.cosign/bundle annotation). */
#include "fuzz.h"

#include "verify/keyless.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_copy(data, size);
    struct tg_tlog_entry e;

    memset(&e, 0, sizeof(e));
    if (json)
        tg_tlog_entry_from_legacy(json, size, &e);
    tg_tlog_entry_clear(&e); /* filled as far as it got, also on failure */
    free(json);
    return 0;
}
