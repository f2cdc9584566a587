/* Fuzz target: tg_statement_check, against the digest of the fixtures' subject. */
#include "fuzz.h"

#include "verify/sigstore.h"

#define DIGEST "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *p = (unsigned char *)fuzz_copy(data, size);
    json_object *st = NULL;

    if (p && tg_statement_check(p, size, DIGEST, &st) == 0)
        json_object_put(st);
    free(p);
    return 0;
}
