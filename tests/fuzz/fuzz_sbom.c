/*
 * Fuzz target: tg_sbom_check (CycloneDX with nested components, SPDX 2, SPDX 3). Input: an
 * in-toto Statement, or a bare predicate tried as CycloneDX and as SPDX.
 */
#include "fuzz.h"

#include "verify/predicates.h"

static const char *const types[] = {
    "https://cyclonedx.org/bom",
    "https://spdx.dev/Document",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *st = fuzz_json(data, size), *pred = NULL;
    struct tg_sbom s = {0};
    const char *type;

    if (!st)
        return 0;
    type = fuzz_statement_parts(st, &pred);
    if (type) {
        tg_sbom_check(type, pred, &s);
        tg_sbom_clear(&s);
    } else {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            tg_sbom_check(types[i], st, &s);
            tg_sbom_clear(&s);
        }
    }
    json_object_put(st);
    return 0;
}
