/*
 * Fuzz target: tg_vuln_parse (cosign vuln with Trivy, Grype or CycloneDX inside, in-toto
 * vulns, CycloneDX vulnerabilities) and tg_vuln_judge on what parses, with the input's own
 * statements as a VEX document. Input: an in-toto Statement, or a bare predicate tried under
 * every vulnerability type.
 */
#include "fuzz.h"

#include "verify/predicates.h"

static const char *const types[] = {
    "https://cosign.sigstore.dev/attestation/vuln/v1",
    "https://in-toto.io/attestation/vulns/v0.2",
    "https://cyclonedx.org/bom",
};

static void one(const char *type, json_object *pred, json_object *vex)
{
    static const char *const scanners[] = {"pkg:github/aquasecurity/trivy@"};
    static const struct tg_allow_entry allow[] = {
        {"CVE-2023-5678", NULL, 2000000000, "fuzz"},
        {"CVE-2024-2961", "libc6", 1, "expired"},
    };
    struct tg_vuln_policy strict = {.max_scan_age_s = 7 * 86400,
                                    .scanners = scanners,
                                    .n_scanners = 1,
                                    .allowlist = allow,
                                    .n_allowlist = 2};
    struct tg_vuln_policy open = {.max_critical = -1,
                                  .max_high = -1,
                                  .max_medium = 1,
                                  .max_low = -1,
                                  .ignore_unfixed = true,
                                  .unknown_as = TG_SEV_LOW};
    struct tg_vuln_report *r = NULL;
    struct tg_vuln_counts c;

    if (tg_vuln_parse(type, pred, &r) != 0)
        return;
    tg_vuln_judge(r, &strict, 1796292000, vex, &c);
    tg_vuln_judge(r, &open, 1796292000, NULL, &c);
    tg_vuln_report_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *st = fuzz_json(data, size), *pred = NULL;
    const char *type;

    if (!st)
        return 0;
    type = fuzz_statement_parts(st, &pred);
    if (type) {
        one(type, pred, st);
    } else {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            one(types[i], st, st);
    }
    json_object_put(st);
    return 0;
}
