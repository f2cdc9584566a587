/* Prometheus query templates and answers; see promql.h. */
#include "analysis/promql.h"

#include <ctype.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define MAX_NAME 64

static const char *lookup(const struct tg_promql_var *vars, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(vars[i].name, name) == 0)
            return vars[i].value;
    return NULL;
}

static int append_escaped(struct tg_buf *out, const char *v)
{
    int rc = 0;

    for (const char *p = v; *p && !rc; p++) {
        if (*p == '\\')
            rc = tg_buf_append(out, "\\\\", 2);
        else if (*p == '"')
            rc = tg_buf_append(out, "\\\"", 2);
        else if (*p == '\n')
            rc = tg_buf_append(out, "\\n", 2);
        else
            rc = tg_buf_append(out, p, 1);
    }
    return rc;
}

int tg_promql_render(const char *tmpl, const struct tg_promql_var *vars, size_t nvars,
                     struct tg_buf *out)
{
    const char *p = tmpl;
    int rc = 0;

    while (*p && !rc) {
        const char *open = strstr(p, "{{");
        if (!open)
            return tg_buf_append_str(out, p);
        if ((rc = tg_buf_append(out, p, (size_t)(open - p))))
            return rc;
        const char *close = strstr(open + 2, "}}");
        if (!close)
            return tg_error_set(TG_EINVALID,
                                "query template: \"{{\" at offset %zu is never "
                                "closed",
                                (size_t)(open - tmpl));
        const char *a = open + 2, *b = close;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        char name[MAX_NAME];
        if ((size_t)(b - a) >= sizeof(name) || a == b)
            return tg_error_set(TG_EINVALID, "query template: bad variable name at offset %zu",
                                (size_t)(open - tmpl));
        memcpy(name, a, (size_t)(b - a));
        name[b - a] = '\0';
        const char *value = lookup(vars, nvars, name);
        if (!value)
            return tg_error_set(TG_EINVALID, "query template: unknown variable {{%s}}", name);
        rc = append_escaped(out, value);
        p = close + 2;
    }
    return rc;
}

/* A sample value: Prometheus sends numbers as strings, with NaN and +-Inf spelled out. */
static int parse_value(json_object *v, double *out)
{
    const char *s = json_object_get_string(v);
    char *end;

    if (!json_object_is_type(v, json_type_string) || !s)
        return tg_error_set(TG_EINVALID, "Prometheus answer: a sample value is not a string");
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0) {
        *out = INFINITY;
        return 0;
    }
    if (strcmp(s, "-Inf") == 0) {
        *out = -INFINITY;
        return 0;
    }
    *out = strtod(s, &end);
    if (end == s || *end)
        return tg_error_set(TG_EINVALID, "Prometheus answer: bad sample value \"%s\"", s);
    return 0;
}

/* [time, "value"] into times[i] and values[i]. */
static int parse_sample(json_object *pair, double *t, double *v)
{
    if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2)
        return tg_error_set(TG_EINVALID, "Prometheus answer: a sample is not [time, value]");
    json_object *jt = json_object_array_get_idx(pair, 0);
    if (!json_object_is_type(jt, json_type_double) && !json_object_is_type(jt, json_type_int))
        return tg_error_set(TG_EINVALID, "Prometheus answer: a sample time is not a number");
    *t = json_object_get_double(jt);
    return parse_value(json_object_array_get_idx(pair, 1), v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The series' labels as compact JSON with sorted keys, so that equal label sets compare equal. */
static char *labels_text(json_object *metric)
{
    size_t n = metric && json_object_is_type(metric, json_type_object)
                   ? (size_t)json_object_object_length(metric)
                   : 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    json_object *sorted = json_object_new_object();
    char *text = NULL;
    size_t i = 0;

    if (keys && sorted) {
        if (n) {
            json_object_object_foreach(metric, k, v)
            {
                (void)v;
                keys[i++] = k;
            }
        }
        qsort(keys, n, sizeof(*keys), cmp_str);
        for (i = 0; i < n; i++)
            json_object_object_add(sorted, keys[i],
                                   json_object_get(json_object_object_get(metric, keys[i])));
        text = strdup(json_object_to_json_string_ext(sorted, JSON_C_TO_STRING_PLAIN));
    }
    free(keys);
    json_object_put(sorted);
    return text;
}

static int series_alloc(struct tg_prom_series *s, size_t n, json_object *metric)
{
    s->labels = labels_text(metric);
    s->times = calloc(n ? n : 1, sizeof(double));
    s->values = calloc(n ? n : 1, sizeof(double));
    s->n = n;
    if (!s->labels || !s->times || !s->values)
        return tg_error_set(TG_ENOMEM, "Prometheus answer: out of memory");
    return 0;
}

static int parse_data(json_object *data, struct tg_prom_result *out)
{
    const char *type = json_object_get_string(json_object_object_get(data, "resultType"));
    json_object *result = json_object_object_get(data, "result");
    int rc;

    if (!type || !result)
        return tg_error_set(TG_EINVALID, "Prometheus answer: no resultType or result");
    if (strcmp(type, "scalar") == 0) {
        out->type = TG_PROM_SCALAR;
        if (!(out->series = calloc(1, sizeof(*out->series))))
            return tg_error_set(TG_ENOMEM, "Prometheus answer: out of memory");
        out->n_series = 1;
        if ((rc = series_alloc(&out->series[0], 1, NULL)))
            return rc;
        return parse_sample(result, &out->series[0].times[0], &out->series[0].values[0]);
    }
    if (strcmp(type, "vector") && strcmp(type, "matrix"))
        return tg_error_set(TG_EINVALID,
                            "Prometheus answer: resultType \"%s\" is not a number "
                            "(scalar, vector or matrix)",
                            type);
    bool matrix = strcmp(type, "matrix") == 0;
    out->type = matrix ? TG_PROM_MATRIX : TG_PROM_VECTOR;
    if (!json_object_is_type(result, json_type_array))
        return tg_error_set(TG_EINVALID, "Prometheus answer: result is not a list");
    size_t n = json_object_array_length(result);
    if (n && !(out->series = calloc(n, sizeof(*out->series))))
        return tg_error_set(TG_ENOMEM, "Prometheus answer: out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(result, i);
        json_object *metric = json_object_object_get(item, "metric");
        struct tg_prom_series *s = &out->series[i];
        out->n_series = i + 1;
        if (matrix) {
            json_object *values = json_object_object_get(item, "values");
            if (!json_object_is_type(values, json_type_array))
                return tg_error_set(TG_EINVALID, "Prometheus answer: a matrix series has no "
                                                 "values");
            size_t m = json_object_array_length(values);
            if ((rc = series_alloc(s, m, metric)))
                return rc;
            for (size_t k = 0; k < m; k++)
                if ((rc = parse_sample(json_object_array_get_idx(values, k), &s->times[k],
                                       &s->values[k])))
                    return rc;
        } else {
            if ((rc = series_alloc(s, 1, metric)) ||
                (rc = parse_sample(json_object_object_get(item, "value"), &s->times[0],
                                   &s->values[0])))
                return rc;
        }
    }
    return 0;
}

int tg_prom_parse(const char *body, size_t len, struct tg_prom_result *out)
{
    struct json_tokener *tok = json_tokener_new();
    json_object *root;
    const char *status;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!tok)
        return tg_error_set(TG_ENOMEM, "Prometheus answer: out of memory");
    root = json_tokener_parse_ex(tok, body, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success) {
        json_tokener_free(tok);
        json_object_put(root);
        return tg_error_set(TG_EINVALID, "Prometheus answer: not JSON");
    }
    json_tokener_free(tok);
    status = json_object_get_string(json_object_object_get(root, "status"));
    if (!status || strcmp(status, "success") != 0) {
        const char *type = json_object_get_string(json_object_object_get(root, "errorType"));
        const char *err = json_object_get_string(json_object_object_get(root, "error"));
        rc = tg_error_set(TG_EINVALID, "Prometheus: %s: %s", type ? type : "error",
                          err ? err : "no message");
    } else {
        rc = parse_data(json_object_object_get(root, "data"), out);
    }
    json_object_put(root);
    if (rc)
        tg_prom_result_free(out);
    return rc;
}

void tg_prom_result_free(struct tg_prom_result *r)
{
    for (size_t i = 0; i < r->n_series; i++) {
        free(r->series[i].labels);
        free(r->series[i].times);
        free(r->series[i].values);
    }
    free(r->series);
    memset(r, 0, sizeof(*r));
}
