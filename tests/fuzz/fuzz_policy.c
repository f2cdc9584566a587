/*
 * Fuzz target: tg_verify_policy_validate and tg_verify_policy_refs on a VerificationPolicy spec
 * (JSON). Registered only once operator/verify/verifier.c is in the tree.
 */
#include "fuzz.h"

#include "verify/verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *spec = fuzz_json(data, size), *refs = NULL;

    if (!spec)
        return 0;
    tg_verify_policy_validate(spec, "spec");
    if (tg_verify_policy_refs(spec, "default", &refs) == 0)
        json_object_put(refs);
    json_object_put(spec);
    return 0;
}
