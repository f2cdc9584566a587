/*
 * Fuzz target: tg_provenance_check (SLSA v0.2 and v1) against a policy with every requirement
 * set. Input: an in-toto Statement, or a bare predicate tried under both versions.
 */
#include "fuzz.h"

#include "verify/predicates.h"

static const char *const types[] = {
    "https://slsa.dev/provenance/v0.2",
    "https://slsa.dev/provenance/v1",
};

static void one(const char *type, json_object *pred)
{
    static const char *const builders[] = {
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
        "generator_container_slsa3.yml@refs/tags/v2.0.0"};
    static const char *const refs[] = {"refs/heads/main"};
    struct tg_provenance_policy pol = {.builder_ids = builders,
                                       .n_builder_ids = 1,
                                       .source_repository = "https://github.com/acme/shop",
                                       .source_refs = refs,
                                       .n_source_refs = 1,
                                       .commit = "a1b2c3d"};
    struct tg_provenance out = {0};

    tg_provenance_check(type, pred, &pol, &out);
    tg_provenance_clear(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *st = fuzz_json(data, size), *pred = NULL;
    const char *type;

    if (!st)
        return 0;
    type = fuzz_statement_parts(st, &pred);
    if (type) {
        one(type, pred);
    } else {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            one(types[i], st);
    }
    json_object_put(st);
    return 0;
}
