/* Release versions: semver 2.0 parsing and precedence; see version.h. */
#include "release/version.h"

#include "util/error.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* A span of the version text: an identifier or a part. */
struct span {
    const char *p;
    size_t n;
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static bool all_digits(struct span s)
{
    for (size_t i = 0; i < s.n; i++) {
        if (!is_digit(s.p[i]))
            return false;
    }
    return s.n > 0;
}

static bool is_lower_hex(struct span s, bool *has_letter)
{
    *has_letter = false;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c >= 'a' && c <= 'f')
            *has_letter = true;
        else if (!is_digit(c))
            return false;
    }
    return true;
}

/*
 * Parses one numeric core part (no leading zero, fits in 64 bits) at *pp, advancing *pp past
 * it. what names the part for the error message.
 */
static int parse_core_number(const char **pp, uint64_t *out, const char *what)
{
    const char *p = *pp;
    uint64_t v = 0;

    if (!is_digit(*p))
        return tg_error_set(TG_EINVALID, "%s version is not a number", what);
    if (*p == '0' && is_digit(p[1]))
        return tg_error_set(TG_EINVALID, "leading zero in %s version", what);
    for (; is_digit(*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return tg_error_set(TG_EINVALID, "%s version is too large", what);
        v = v * 10 + d;
    }
    *out = v;
    *pp = p;
    return 0;
}

/*
 * Checks a dot-separated identifier list of n bytes at p: identifiers are non-empty and made
 * of [0-9A-Za-z-]; in a prerelease, numeric identifiers have no leading zero.
 */
static int check_identifiers(const char *p, size_t n, bool prerelease)
{
    const char *what = prerelease ? "prerelease" : "build metadata";
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '.') {
            if (!is_ident_char(p[i]))
                return tg_error_set(TG_EINVALID, "invalid character '%c' in %s", p[i], what);
            continue;
        }
        struct span id = {p + start, i - start};
        if (id.n == 0)
            return tg_error_set(TG_EINVALID, "empty identifier in %s", what);
        if (prerelease && all_digits(id) && id.n > 1 && id.p[0] == '0')
            return tg_error_set(TG_EINVALID, "leading zero in numeric prerelease identifier");
        start = i + 1;
    }
    return 0;
}

/* Splits s into its dot-separated identifiers; returns how many were stored (at most max). */
static size_t split_identifiers(const char *s, struct span *ids, size_t max)
{
    size_t n = 0;
    const char *p = s;

    if (*s == '\0')
        return 0;
    while (n < max) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        ids[n++] = (struct span){p, len};
        if (!dot)
            break;
        p = dot + 1;
    }
    return n;
}

/* Finds the build number in an identifier list; -1 when there is none. */
static int64_t find_build_number(const char *list)
{
    struct span ids[TG_VERSION_MAX];
    size_t n = split_identifiers(list, ids, TG_VERSION_MAX);

    for (size_t i = 0; i + 1 < n; i++) {
        if (ids[i].n != 5 || strncasecmp(ids[i].p, "build", 5) != 0)
            continue;
        struct span next = ids[i + 1];
        size_t digits = 0;
        while (digits < next.n && is_digit(next.p[digits]))
            digits++;
        if (digits == 0 || digits > 18)
            return -1;
        int64_t v = 0;
        for (size_t k = 0; k < digits; k++)
            v = v * 10 + (next.p[k] - '0');
        return v;
    }
    return -1;
}

/* Finds the SHA in an identifier list (the rules are in version.h); false when none. */
static bool find_sha(const char *list, char sha[41])
{
    struct span ids[TG_VERSION_MAX];
    size_t n = split_identifiers(list, ids, TG_VERSION_MAX);
    bool letter;

    if (n == 0)
        return false;
    struct span last = ids[n - 1];
    const char *dash = memchr(last.p, '-', last.n);
    if (dash) {
        const char *d = last.p + last.n;
        while (d > last.p && d[-1] != '-')
            d--;
        struct span tail = {d, (size_t)(last.p + last.n - d)};
        if (tail.n >= 7 && tail.n <= 40 && is_lower_hex(tail, &letter)) {
            memcpy(sha, tail.p, tail.n);
            sha[tail.n] = '\0';
            return true;
        }
        return false;
    }
    bool after_sha = n >= 2 && ids[n - 2].n == 3 && strncasecmp(ids[n - 2].p, "sha", 3) == 0;
    if (last.n >= 7 && last.n <= 40 && is_lower_hex(last, &letter) && (letter || after_sha)) {
        memcpy(sha, last.p, last.n);
        sha[last.n] = '\0';
        return true;
    }
    return false;
}

int tg_version_parse(const char *text, struct tg_version *out)
{
    const char *p = text;
    int rc;

    memset(out, 0, sizeof(*out));
    out->build_number = -1;
    if (!text || *text == '\0')
        return tg_error_set(TG_EINVALID, "empty version");
    size_t len = strlen(text);
    if (len > TG_VERSION_MAX)
        return tg_error_set(TG_EINVALID, "version longer than %d characters", TG_VERSION_MAX);
    if (*p == 'v') {
        out->v_prefix = true;
        p++;
    }
    if ((rc = parse_core_number(&p, &out->major, "major")) < 0)
        goto fail;
    if (*p != '.') {
        rc = tg_error_set(TG_EINVALID, "expected MAJOR.MINOR.PATCH");
        goto fail;
    }
    p++;
    if ((rc = parse_core_number(&p, &out->minor, "minor")) < 0)
        goto fail;
    if (*p != '.') {
        rc = tg_error_set(TG_EINVALID, "expected MAJOR.MINOR.PATCH");
        goto fail;
    }
    p++;
    if ((rc = parse_core_number(&p, &out->patch, "patch")) < 0)
        goto fail;
    if (*p == '-') {
        const char *start = ++p;
        size_t n = strcspn(start, "+");
        if ((rc = check_identifiers(start, n, true)) < 0)
            goto fail;
        memcpy(out->prerelease, start, n);
        out->prerelease[n] = '\0';
        p = start + n;
    }
    if (*p == '+') {
        const char *start = ++p;
        size_t n = strlen(start);
        if ((rc = check_identifiers(start, n, false)) < 0)
            goto fail;
        memcpy(out->build, start, n);
        out->build[n] = '\0';
        p = start + n;
    }
    if (*p != '\0') {
        rc = tg_error_set(TG_EINVALID, "unexpected character '%c' after the version core", *p);
        goto fail;
    }
    memcpy(out->text, text, len + 1);
    out->build_number = find_build_number(out->prerelease);
    if (out->build_number < 0)
        out->build_number = find_build_number(out->build);
    if (!find_sha(out->prerelease, out->sha))
        find_sha(out->build, out->sha);
    return 0;

fail:
    memset(out, 0, sizeof(*out));
    out->build_number = -1;
    return rc;
}

bool tg_version_valid(const char *text)
{
    struct tg_version v;
    char saved[1024];

    /* Keep the caller's last-error message: a predicate sets no error. */
    memcpy(saved, tg_error_last(), sizeof(saved) - 1);
    saved[sizeof(saved) - 1] = '\0';
    bool ok = tg_version_parse(text, &v) == 0;
    tg_error_set(0, "%s", saved);
    return ok;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

/* Compares two prerelease identifiers by the semver rules. */
static int cmp_identifier(struct span a, struct span b)
{
    bool an = all_digits(a), bn = all_digits(b);

    if (an && bn) {
        /* No leading zeros, so the longer number is the larger: no overflow at any size. */
        if (a.n != b.n)
            return a.n < b.n ? -1 : 1;
        int c = memcmp(a.p, b.p, a.n);
        return (c > 0) - (c < 0);
    }
    if (an != bn)
        return an ? -1 : 1;
    size_t n = a.n < b.n ? a.n : b.n;
    int c = memcmp(a.p, b.p, n);
    if (c != 0)
        return (c > 0) - (c < 0);
    return (a.n > b.n) - (a.n < b.n);
}

static int cmp_core(const struct tg_version *a, const struct tg_version *b)
{
    int c = cmp_u64(a->major, b->major);
    if (c == 0)
        c = cmp_u64(a->minor, b->minor);
    if (c == 0)
        c = cmp_u64(a->patch, b->patch);
    return c;
}

static int cmp_prerelease(const struct tg_version *a, const struct tg_version *b)
{
    struct span ia[TG_VERSION_MAX], ib[TG_VERSION_MAX];

    if (a->prerelease[0] == '\0' || b->prerelease[0] == '\0') {
        /* A release has higher precedence than any of its prereleases. */
        return (a->prerelease[0] == '\0') - (b->prerelease[0] == '\0');
    }
    size_t na = split_identifiers(a->prerelease, ia, TG_VERSION_MAX);
    size_t nb = split_identifiers(b->prerelease, ib, TG_VERSION_MAX);
    for (size_t i = 0; i < na && i < nb; i++) {
        int c = cmp_identifier(ia[i], ib[i]);
        if (c != 0)
            return c;
    }
    return (na > nb) - (na < nb);
}

int tg_version_compare(const struct tg_version *a, const struct tg_version *b)
{
    int c = cmp_core(a, b);
    return c != 0 ? c : cmp_prerelease(a, b);
}

int tg_version_compare_build(const struct tg_version *a, const struct tg_version *b)
{
    int c = cmp_core(a, b);
    if (c != 0)
        return c;
    if (a->build_number >= 0 && b->build_number >= 0 && a->build_number != b->build_number)
        return a->build_number < b->build_number ? -1 : 1;
    return cmp_prerelease(a, b);
}
