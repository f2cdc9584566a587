/*
 * Shared by the fuzz targets (tests/fuzz/fuzz_<parser>.c): the libFuzzer entry point's
 * prototype, and a JSON reader with the same depth limit and strictness the operator uses.
 * Each target is linked either with libFuzzer (cmake -DTOLLGATE_FUZZ=ON, hack/fuzz.sh) or with
 * tests/fuzz/replay.c, which feeds it a corpus directory in the normal build (ctest
 * unit.fuzz_replay_<parser>).
 */
#ifndef TG_TESTS_FUZZ_H
#define TG_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define FUZZ_JSON_DEPTH 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses data as one JSON document; NULL when it is not. The caller puts the result. */
static inline json_object *fuzz_json(const uint8_t *data, size_t size)
{
    struct json_tokener *tok = json_tokener_new_ex(FUZZ_JSON_DEPTH);
    json_object *o;

    if (!tok || size > (size_t)INT32_MAX) {
        if (tok)
            json_tokener_free(tok);
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    if (o && json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* An exact-size heap copy of data (no terminator), so that ASan sees any overread. */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);

    if (p && size)
        memcpy(p, data, size);
    return p;
}

/* A NUL-terminated heap copy of data. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *p = malloc(size + 1);

    if (p) {
        if (size)
            memcpy(p, data, size);
        p[size] = '\0';
    }
    return p;
}

/*
 * The predicate type and the predicate of an input: an in-toto Statement's predicateType and
 * predicate when it has them, else NULL (the caller then tries its types on the whole input).
 */
static inline const char *fuzz_statement_parts(json_object *st, json_object **pred)
{
    json_object *t = NULL;

    *pred = st;
    if (!json_object_is_type(st, json_type_object) ||
        !json_object_object_get_ex(st, "predicateType", &t) ||
        !json_object_is_type(t, json_type_string) ||
        !json_object_object_get_ex(st, "predicate", pred))
        return NULL;
    return json_object_get_string(t);
}

#endif
