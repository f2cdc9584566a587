/*
 * Release versions: Semantic Versioning 2.0 strings with an optional leading "v", in the
 * release-engineering convention v1.2.3-build.456-abc1234 (semver, build number, git SHA).
 *
 * tg_version_parse() accepts exactly the grammar of semver.org 2.0 (the same as the Release
 * CRD's pattern) and extracts the conventional parts; tg_version_compare() orders by semver
 * precedence. A struct tg_version is a plain value: it owns no memory and may be copied.
 */
#ifndef TG_RELEASE_VERSION_H
#define TG_RELEASE_VERSION_H

#include <stdbool.h>
#include <stdint.h>

/* The longest version accepted, in bytes (the CRD's maxLength). */
#define TG_VERSION_MAX 128

struct tg_version {
    char text[TG_VERSION_MAX + 1];       /* the version as written, "v" included */
    bool v_prefix;                       /* it started with "v" */
    uint64_t major, minor, patch;        /* the numeric core */
    char prerelease[TG_VERSION_MAX + 1]; /* after "-", before "+"; "" when absent */
    char build[TG_VERSION_MAX + 1];      /* build metadata after "+"; "" when absent */
    int64_t build_number;                /* the number after a "build" identifier, or -1 */
    char sha[41];                        /* a trailing 7-40 hex digit commit SHA, or "" */
};

/*
 * Parses text into *out. Returns 0, or TG_EINVALID with a last-error message naming the
 * problem ("leading zero in minor version"); *out is then cleared.
 *
 * The build number is the leading digits (at most 18) of the identifier that follows an
 * identifier "build" (any case), looked for in the prerelease, then in the build metadata:
 * 456 in "1.2.3-build.456-abc1234" and in "1.2.3+build.456".
 *
 * The SHA is read from the last identifier of the prerelease, then of the build metadata: the
 * part after its last "-" when that is 7 to 40 lowercase hex digits ("456-abc1234"), or the
 * whole identifier when it is 7 to 40 lowercase hex digits and either contains a letter or
 * follows an identifier "sha" ("1.2.3-abc1234", "1.2.3+sha.1234567"). An all-digit identifier
 * standing alone is a number (a date, a counter), never a SHA.
 */
int tg_version_parse(const char *text, struct tg_version *out);

/* True when text is a valid version; sets no error. */
bool tg_version_valid(const char *text);

/*
 * Semver 2.0 precedence: negative when a < b, 0 when equal, positive when a > b. Build
 * metadata and the "v" prefix are ignored (1.0.0+a == v1.0.0+b). A prerelease sorts before
 * its release (1.0.0-rc.1 < 1.0.0); prerelease identifiers compare numerically when both are
 * numeric, in ASCII order otherwise, numeric before alphanumeric, and a shorter list of equal
 * identifiers first. Note what this means for the build convention: "build.99-x" sorts after
 * "build.100-x" because "99-x" is one alphanumeric identifier; tg_version_compare_build() is
 * the order a human expects there.
 */
int tg_version_compare(const struct tg_version *a, const struct tg_version *b);

/*
 * Like tg_version_compare(), but when both versions have the same major.minor.patch and both
 * carry a build number, the build numbers decide (456 < 1000) before the rest of the
 * prerelease does.
 */
int tg_version_compare_build(const struct tg_version *a, const struct tg_version *b);

#endif
