/*
 * Prometheus queries, the pure parts: rendering a query template with values escaped so that a
 * name can never change the query's meaning, and decoding the HTTP API's answers
 * (/api/v1/query and /api/v1/query_range) into numbers. The HTTP requests themselves go through
 * kube/http.h on the loop.
 */
#ifndef TG_ANALYSIS_PROMQL_H
#define TG_ANALYSIS_PROMQL_H

#include <stddef.h>

#include "util/buf.h"

/* One template variable: {{name}} in a query becomes value. Both borrowed. */
struct tg_promql_var {
    const char *name;
    const char *value;
};

/*
 * Renders tmpl into out (appending), replacing every {{name}} (spaces inside the braces
 * allowed) by its value escaped as the inside of a PromQL double-quoted string: backslash,
 * double quote and newline are escaped, so a value placed in a label matcher
 * (track="{{track}}") stays a value. An unknown name, an unclosed "{{" or a value with a NUL is
 * TG_EINVALID with a message; a full buffer TG_ETOOBIG.
 */
int tg_promql_render(const char *tmpl, const struct tg_promql_var *vars, size_t nvars,
                     struct tg_buf *out);

/* What a query answered with. */
enum tg_prom_type {
    TG_PROM_SCALAR,
    TG_PROM_VECTOR, /* one sample per series */
    TG_PROM_MATRIX, /* many samples per series (query_range) */
};

/* One series: its labels as compact JSON ("{}" for none) and its samples. */
struct tg_prom_series {
    char *labels;   /* owned */
    double *times;  /* Unix seconds; owned */
    double *values; /* NaN and +-Inf as Prometheus sends them ("NaN", "+Inf", "-Inf"); owned */
    size_t n;
};

struct tg_prom_result {
    enum tg_prom_type type;
    struct tg_prom_series *series; /* a scalar is one series with one sample and labels "{}" */
    size_t n_series;
};

/*
 * Decodes the body of a Prometheus HTTP API answer. Returns 0 with *out filled (free it with
 * tg_prom_result_free); TG_EINVALID when Prometheus reported an error (the last-error message
 * carries its errorType and error) or the body is not its JSON; TG_ENOMEM.
 */
int tg_prom_parse(const char *body, size_t len, struct tg_prom_result *out);

void tg_prom_result_free(struct tg_prom_result *r);

#endif
