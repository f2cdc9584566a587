/*
 * spec.analysis and the analysis references (a canary step's analysis, backgroundAnalysis,
 * blue-green's pre- and postPromotionAnalysis): parsing, defaults, validation, and the
 * resolution of every reference into a full struct tg_analysis; see spec.h and docs/api.md.
 *
 * Templates (metric queries and smoke-test URLs) are rendered once at parse time with dummy
 * values, so that an unknown {{variable}} or an unclosed "{{" is an InvalidSpec when the
 * Rollout is applied, not an error at the first query.
 */
#include "rollout/spec_internal.h"

#include "analysis/promql.h"
#include "util/buf.h"
#include "util/error.h"

#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* A rendered template is at most this long; longer is refused as a template problem. */
#define TEMPLATE_MAX 65536

/* At most this many distinct args keys are collected from the analysis references. */
#define REF_ARG_KEYS_MAX 256

/* The template variables the operator always provides (docs/api.md), with dummy values. */
static const struct tg_promql_var builtin_vars[] = {
    {"namespace", "ns"}, {"rollout", "web"}, {"release", "web-1"}, {"version", "1.0.0"},
    {"track", "canary"}, {"service", "web"}, {"interval", "30s"},
};
#define N_BUILTINS (sizeof(builtin_vars) / sizeof(builtin_vars[0]))

static const char *const metric_keys[] = {
    "name",    "query",        "interval",          "initialDelay",          "count",    "min",
    "max",     "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "noData",   "dryRun",
    "compare", "confidence",   "direction",         "maxMedianRatio",        "lookback", "step"};
#define N_METRIC_KEYS (sizeof(metric_keys) / sizeof(metric_keys[0]))

/* ---- small readers ---- */

/* Copies s, NULL staying NULL. */
static char *dup_opt(struct tg_field_errors *errs, const char *s)
{
    return s ? dup_or_flag(errs, s) : NULL;
}

/* Reads obj[key] as a number (integer or not) into *out and sets *has; absent leaves both. */
static bool get_number(struct tg_field_errors *errs, json_object *obj, const char *key,
                       const char *prefix, bool *has, double *out)
{
    char path[PATH_MAX_LEN];
    json_object *v = member(obj, key);

    if (!v)
        return false;
    path_join(path, sizeof(path), prefix, key);
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
        tg_field_errors_add(errs, path, "must be a number");
        return false;
    }
    double d = json_object_get_double(v);
    if (!isfinite(d)) {
        tg_field_errors_add(errs, path, "must be a finite number");
        return false;
    }
    *out = d;
    if (has)
        *has = true;
    return true;
}

/*
 * Reads obj[key] as a duration (tg_duration_parse_ms) into *ms, which keeps its value when the
 * key is absent; a duration under min_ms is refused.
 */
static void get_duration(struct tg_field_errors *errs, json_object *obj, const char *key,
                         const char *prefix, int64_t min_ms, int64_t *ms)
{
    char path[PATH_MAX_LEN];
    json_object *v = member(obj, key);
    int64_t d;

    if (!v)
        return;
    path_join(path, sizeof(path), prefix, key);
    if (tg_duration_parse_ms(v, &d) < 0) {
        tg_field_errors_add(errs, path, "%s", tg_error_last());
        return;
    }
    if (d < min_ms) {
        if (min_ms % 1000 == 0)
            tg_field_errors_add(errs, path, "must be at least %llds (got %lldms)",
                                (long long)(min_ms / 1000), (long long)d);
        else
            tg_field_errors_add(errs, path, "must be at least %lldms (got %lldms)",
                                (long long)min_ms, (long long)d);
        return;
    }
    *ms = d;
}

/*
 * Reads obj[key] as one of names[]; returns its index, or def when absent or invalid (recorded).
 */
static int get_enum(struct tg_field_errors *errs, json_object *obj, const char *key,
                    const char *prefix, const char *const *names, size_t n, int def,
                    const char *choices)
{
    char path[PATH_MAX_LEN];
    json_object *v = member(obj, key);

    if (!v)
        return def;
    path_join(path, sizeof(path), prefix, key);
    if (!json_object_is_type(v, json_type_string)) {
        tg_field_errors_add(errs, path, "must be a string, one of %s", choices);
        return def;
    }
    const char *s = json_object_get_string(v);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    }
    tg_field_errors_add(errs, path, "must be one of %s (got \"%s\")", choices, s);
    return def;
}

/* A template argument name: [a-zA-Z_][a-zA-Z0-9_]*. */
static bool is_arg_name(const char *s)
{
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (const char *p = s + 1; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return strlen(s) <= 63;
}

static bool is_builtin(const char *name)
{
    for (size_t i = 0; i < N_BUILTINS; i++) {
        if (strcmp(builtin_vars[i].name, name) == 0)
            return true;
    }
    return false;
}

/*
 * Index of key in args, or -1. key is NULL when copying it failed (errs->nomem is then set and
 * the parse ends in TG_ENOMEM): it matches nothing rather than reaching strcmp.
 */
static ssize_t arg_index(const struct tg_label *args, size_t n, const char *key)
{
    if (!key)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (args[i].key && strcmp(args[i].key, key) == 0)
            return (ssize_t)i;
    }
    return -1;
}

/*
 * Reads obj.args (a map of strings, keys [a-zA-Z_][a-zA-Z0-9_]*, none a built-in variable) into
 * a new array; returns the count.
 */
static size_t parse_args(struct tg_field_errors *errs, json_object *obj, const char *prefix,
                         struct tg_label **out)
{
    char path[PATH_MAX_LEN];
    json_object *map = get_object(errs, obj, "args", prefix, false);
    size_t n = 0;

    *out = NULL;
    if (!map || json_object_object_length(map) == 0)
        return 0;
    path_join(path, sizeof(path), prefix, "args");
    struct tg_label *args = calloc((size_t)json_object_object_length(map), sizeof(*args));
    if (!args) {
        errs->nomem = true;
        return 0;
    }
    json_object_object_foreach(map, k, v)
    {
        char vpath[PATH_MAX_LEN];
        path_join(vpath, sizeof(vpath), path, k);
        if (!is_arg_name(k)) {
            tg_field_errors_add(errs, path,
                                "invalid argument name \"%s\": at most 63 letters, digits and "
                                "'_', not starting with a digit",
                                k);
            continue;
        }
        if (is_builtin(k)) {
            tg_field_errors_add(errs, vpath,
                                "is a variable the operator provides; choose another name");
            continue;
        }
        if (!v || !json_object_is_type(v, json_type_string)) {
            tg_field_errors_add(errs, vpath, "must be a string");
            continue;
        }
        args[n].key = dup_or_flag(errs, k);
        args[n].value = dup_or_flag(errs, json_object_get_string(v));
        n++;
    }
    if (n == 0) {
        free(args);
        return 0;
    }
    *out = args;
    return n;
}

/*
 * Renders tmpl with the built-in variables, args, and extra names (each with a dummy value).
 * Returns 0 (with the rendering in *rendered when not NULL, freed by the caller), or the
 * tg_promql_render error with its last-error message.
 */
static int render_check(const char *tmpl, const struct tg_label *args, size_t n_args,
                        const char *const *extra, size_t n_extra, char **rendered)
{
    struct tg_promql_var *vars = calloc(N_BUILTINS + n_args + n_extra, sizeof(*vars));
    struct tg_buf buf;
    size_t n = 0;

    if (rendered)
        *rendered = NULL;
    if (!vars)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (size_t i = 0; i < N_BUILTINS; i++)
        vars[n++] = builtin_vars[i];
    for (size_t i = 0; i < n_args; i++) {
        if (args[i].key && args[i].value)
            vars[n++] = (struct tg_promql_var){args[i].key, args[i].value};
    }
    for (size_t i = 0; i < n_extra; i++)
        vars[n++] = (struct tg_promql_var){extra[i], "x"};
    tg_buf_init(&buf, TEMPLATE_MAX);
    int rc = tg_promql_render(tmpl, vars, n, &buf);
    if (rc == TG_ETOOBIG)
        rc = tg_error_set(TG_EINVALID, "template: renders to more than %d bytes", TEMPLATE_MAX);
    if (rc == 0 && rendered) {
        *rendered = tg_buf_take(&buf, NULL);
        if (!*rendered)
            *rendered = strdup("");
        if (!*rendered)
            rc = tg_error_set(TG_ENOMEM, "out of memory");
    }
    tg_buf_free(&buf);
    free(vars);
    return rc;
}

/* Records a render_check failure at path (out of memory flags the list). */
static void report_render(struct tg_field_errors *errs, const char *path, int rc)
{
    if (rc == TG_ENOMEM)
        errs->nomem = true;
    else
        tg_field_errors_add(errs, path, "%s", tg_error_last());
}

/*
 * Collects the args keys of every analysis reference in spec (steps, backgroundAnalysis,
 * pre- and postPromotionAnalysis), borrowed from spec, so that a catalogue query may use a
 * variable only the references define. Returns the count.
 */
static size_t ref_arg_keys(json_object *spec, const char **keys, size_t max)
{
    json_object *refs[REF_ARG_KEYS_MAX];
    size_t n_refs = 0, n = 0;
    json_object *strategy = member(spec, "strategy");
    json_object *canary = member(strategy, "canary");
    json_object *bg = member(strategy, "blueGreen");
    json_object *steps = member(canary, "steps");

    if (steps && json_object_is_type(steps, json_type_array)) {
        size_t len = json_object_array_length(steps);
        for (size_t i = 0; i < len && n_refs < REF_ARG_KEYS_MAX - 3; i++) {
            json_object *a = member(json_object_array_get_idx(steps, i), "analysis");
            if (a)
                refs[n_refs++] = a;
        }
    }
    refs[n_refs++] = member(canary, "backgroundAnalysis");
    refs[n_refs++] = member(bg, "prePromotionAnalysis");
    refs[n_refs++] = member(bg, "postPromotionAnalysis");
    for (size_t r = 0; r < n_refs; r++) {
        json_object *args = member(refs[r], "args");
        if (!args || !json_object_is_type(args, json_type_object))
            continue;
        json_object_object_foreach(args, k, v)
        {
            bool seen = false;
            (void)v;
            for (size_t i = 0; i < n && !seen; i++)
                seen = strcmp(keys[i], k) == 0;
            if (!seen && n < max)
                keys[n++] = k;
        }
    }
    return n;
}

/* ---- metrics ---- */

static void metric_defaults(struct tg_metric_spec *m)
{
    memset(m, 0, sizeof(*m));
    m->interval_ms = 30000;
    m->policy.no_data = TG_NODATA_INCONCLUSIVE;
    m->policy.consecutive_error_limit = 4;
    m->compare = TG_COMPARE_NONE;
    m->confidence = 0.95;
    m->direction = TG_MW_GREATER;
    m->lookback_ms = 60000;
    m->step_ms = 5000;
}

static void metric_free(struct tg_metric_spec *m)
{
    free(m->name);
    free(m->query);
    m->name = NULL;
    m->query = NULL;
}

/* Deep copy of a metric. */
static void metric_copy(struct tg_field_errors *errs, struct tg_metric_spec *dst,
                        const struct tg_metric_spec *src)
{
    *dst = *src;
    dst->name = dup_opt(errs, src->name);
    dst->query = dup_opt(errs, src->query);
}

/*
 * Applies every field present in mj (a metric object at path) to *m, which holds the defaults
 * or the catalogue metric being overridden. name is the caller's. baseline says whether
 * spec.analysis.baseline is on (compare needs it).
 */
static void apply_metric_fields(struct tg_field_errors *errs, json_object *mj, const char *path,
                                struct tg_metric_spec *m, bool baseline)
{
    static const char *const no_data[] = {"fail", "inconclusive", "pass", "wait"};
    static const enum tg_nodata_policy no_data_values[] = {TG_NODATA_FAIL, TG_NODATA_INCONCLUSIVE,
                                                           TG_NODATA_PASS, TG_NODATA_WAIT};
    static const char *const directions[] = {"increase", "decrease", "either"};
    static const enum tg_mw_alternative direction_values[] = {TG_MW_GREATER, TG_MW_LESS,
                                                              TG_MW_TWO_SIDED};
    static const char *const compares[] = {"baseline"};
    char field[PATH_MAX_LEN];
    char *query = NULL;

    if (get_string(errs, mj, "query", path, false, &query)) {
        if (query[0] == '\0') {
            path_join(field, sizeof(field), path, "query");
            tg_field_errors_add(errs, field, "must not be empty");
            free(query);
        } else {
            free(m->query);
            m->query = query;
        }
    }
    get_duration(errs, mj, "interval", path, 1000, &m->interval_ms);
    get_duration(errs, mj, "initialDelay", path, 0, &m->initial_delay_ms);
    m->policy.count =
        (unsigned)get_int(errs, mj, "count", path, (int)m->policy.count, 0, INT32_MAX);
    get_number(errs, mj, "min", path, &m->policy.has_min, &m->policy.min);
    get_number(errs, mj, "max", path, &m->policy.has_max, &m->policy.max);
    m->policy.failure_limit = (unsigned)get_int(errs, mj, "failureLimit", path,
                                                (int)m->policy.failure_limit, 0, INT32_MAX);
    m->policy.inconclusive_limit = (unsigned)get_int(
        errs, mj, "inconclusiveLimit", path, (int)m->policy.inconclusive_limit, 0, INT32_MAX);
    m->policy.consecutive_error_limit =
        (unsigned)get_int(errs, mj, "consecutiveErrorLimit", path,
                          (int)m->policy.consecutive_error_limit, 0, INT32_MAX);
    int nd =
        get_enum(errs, mj, "noData", path, no_data, 4, -1, "fail, inconclusive, pass and wait");
    if (nd >= 0)
        m->policy.no_data = no_data_values[nd];
    m->policy.dry_run = get_bool(errs, mj, "dryRun", path, m->policy.dry_run);
    if (get_enum(errs, mj, "compare", path, compares, 1, -1, "baseline") == 0) {
        m->compare = TG_COMPARE_BASELINE;
        if (!baseline) {
            path_join(field, sizeof(field), path, "compare");
            tg_field_errors_add(errs, field,
                                "\"baseline\" needs spec.analysis.baseline: true (the "
                                "baseline track to compare with)");
        }
    }
    double c = m->confidence;
    if (get_number(errs, mj, "confidence", path, NULL, &c)) {
        if (c < 0.5 || c >= 1) {
            path_join(field, sizeof(field), path, "confidence");
            tg_field_errors_add(errs, field, "must be at least 0.5 and less than 1 (got %g)", c);
        } else {
            m->confidence = c;
        }
    }
    int dir =
        get_enum(errs, mj, "direction", path, directions, 3, -1, "increase, decrease and either");
    if (dir >= 0)
        m->direction = direction_values[dir];
    double r = 0;
    if (get_number(errs, mj, "maxMedianRatio", path, NULL, &r)) {
        if (r < 1) {
            path_join(field, sizeof(field), path, "maxMedianRatio");
            tg_field_errors_add(errs, field, "must be at least 1 (got %g)", r);
        } else {
            m->has_max_median_ratio = true;
            m->max_median_ratio = r;
        }
    }
    get_duration(errs, mj, "lookback", path, 1000, &m->lookback_ms);
    get_duration(errs, mj, "step", path, 1000, &m->step_ms);
    if (m->policy.has_min && m->policy.has_max && m->policy.min > m->policy.max &&
        (member(mj, "min") || member(mj, "max"))) {
        path_join(field, sizeof(field), path, "min");
        tg_field_errors_add(errs, field, "must not be greater than max (%g > %g)", m->policy.min,
                            m->policy.max);
    }
    if (m->step_ms > m->lookback_ms && (member(mj, "step") || member(mj, "lookback"))) {
        path_join(field, sizeof(field), path, "step");
        tg_field_errors_add(errs, field, "must not be longer than lookback");
    }
}

/* Reads and checks a metric's or smoke test's name (DNS-1123 label) at path.name. */
static bool get_name(struct tg_field_errors *errs, json_object *obj, const char *path, char **out)
{
    char field[PATH_MAX_LEN];

    if (!get_string(errs, obj, "name", path, true, out))
        return false;
    if (!is_dns_name(*out, 63, false, false)) {
        path_join(field, sizeof(field), path, "name");
        tg_field_errors_add(errs, field,
                            "must be a DNS-1123 label: at most 63 lowercase letters, digits and "
                            "'-', starting and ending with a letter or digit (got \"%s\")",
                            *out);
        return false;
    }
    return true;
}

/* Records a duplicate name at path.name when name is among names[0..n). */
static void check_unique(struct tg_field_errors *errs, const char *path, const char *name,
                         const char *const *names, size_t n, const char *what)
{
    char field[PATH_MAX_LEN];

    for (size_t i = 0; i < n; i++) {
        if (names[i] && strcmp(names[i], name) == 0) {
            path_join(field, sizeof(field), path, "name");
            tg_field_errors_add(errs, field, "duplicate %s name \"%s\"", what, name);
            return;
        }
    }
}

static void parse_catalogue(struct tg_field_errors *errs, json_object *spec, json_object *an,
                            struct tg_analysis_settings *out)
{
    const char *prefix = "spec.analysis.metrics";
    json_object *list = member(an, "metrics");
    const char *extra[REF_ARG_KEYS_MAX];

    if (!list)
        return;
    if (!json_object_is_type(list, json_type_array)) {
        tg_field_errors_add(errs, prefix, "must be a list");
        return;
    }
    size_t n = json_object_array_length(list);
    if (n == 0)
        return;
    out->metrics = calloc(n, sizeof(*out->metrics));
    if (!out->metrics) {
        errs->nomem = true;
        return;
    }
    out->n_metrics = n;
    size_t n_extra = ref_arg_keys(spec, extra, REF_ARG_KEYS_MAX);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN], field[PATH_MAX_LEN];
        json_object *mj = json_object_array_get_idx(list, i);
        struct tg_metric_spec *m = &out->metrics[i];
        metric_defaults(m);
        path_index(path, sizeof(path), prefix, i);
        if (!mj || !json_object_is_type(mj, json_type_object)) {
            tg_field_errors_add(errs, path, "must be an object");
            continue;
        }
        check_known_keys(errs, mj, path, metric_keys, N_METRIC_KEYS);
        if (get_name(errs, mj, path, &m->name)) {
            const char *names[1];
            for (size_t j = 0; j < i; j++) {
                names[0] = out->metrics[j].name;
                check_unique(errs, path, m->name, names, 1, "metric");
            }
        }
        apply_metric_fields(errs, mj, path, m, out->baseline);
        path_join(field, sizeof(field), path, "query");
        if (!member(mj, "query")) {
            tg_field_errors_add(errs, field, "is required");
        } else if (m->query) {
            int rc = render_check(m->query, out->args, out->n_args, extra, n_extra, NULL);
            if (rc < 0)
                report_render(errs, field, rc);
        }
    }
}

/* ---- smoke tests ---- */

static void parse_http_smoke(struct tg_field_errors *errs, json_object *h, const char *path,
                             const struct tg_analysis_settings *settings, struct tg_smoke_test *t)
{
    static const char *const known[] = {"url",         "method",  "expectedStatus",
                                        "bodyPattern", "timeout", "retries"};
    static const char *const methods[] = {"GET",    "HEAD",  "POST",   "PUT",
                                          "DELETE", "PATCH", "OPTIONS"};
    char field[PATH_MAX_LEN];

    t->kind = TG_SMOKE_HTTP;
    check_known_keys(errs, h, path, known, sizeof(known) / sizeof(known[0]));
    if (get_string(errs, h, "url", path, true, &t->url)) {
        char *rendered = NULL;
        path_join(field, sizeof(field), path, "url");
        int rc = render_check(t->url, settings->args, settings->n_args, NULL, 0, &rendered);
        if (rc < 0)
            report_render(errs, field, rc);
        else if (strncmp(rendered, "http://", 7) != 0 && strncmp(rendered, "https://", 8) != 0)
            tg_field_errors_add(errs, field, "must be an http:// or https:// URL (got \"%s\")",
                                t->url);
        free(rendered);
    }
    int m = get_enum(errs, h, "method", path, methods, sizeof(methods) / sizeof(methods[0]), 0,
                     "GET, HEAD, POST, PUT, DELETE, PATCH and OPTIONS");
    t->method = dup_or_flag(errs, methods[m]);
    t->expected_status = get_int(errs, h, "expectedStatus", path, 200, 100, 599);
    if (get_string(errs, h, "bodyPattern", path, false, &t->body_pattern)) {
        regex_t re;
        int rc = regcomp(&re, t->body_pattern, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &re, msg, sizeof(msg));
            path_join(field, sizeof(field), path, "bodyPattern");
            tg_field_errors_add(errs, field, "not a POSIX extended regular expression (%s): \"%s\"",
                                msg, t->body_pattern);
        } else {
            regfree(&re);
        }
    }
    t->timeout_ms = 5000;
    get_duration(errs, h, "timeout", path, 1, &t->timeout_ms);
    t->retries = get_int(errs, h, "retries", path, 2, 0, 10);
}

static void parse_job_smoke(struct tg_field_errors *errs, json_object *j, const char *path,
                            struct tg_smoke_test *t)
{
    static const char *const known[] = {"deadline", "template"};
    static const char *const tmpl_known[] = {"metadata", "spec"};
    char tpath[PATH_MAX_LEN];

    t->kind = TG_SMOKE_JOB;
    check_known_keys(errs, j, path, known, 2);
    t->deadline_ms = 300000;
    get_duration(errs, j, "deadline", path, 1000, &t->deadline_ms);
    json_object *tmpl = get_object(errs, j, "template", path, true);
    if (!tmpl)
        return;
    path_join(tpath, sizeof(tpath), path, "template");
    check_known_keys(errs, tmpl, tpath, tmpl_known, 2);
    get_object(errs, tmpl, "metadata", tpath, false);
    if (get_object(errs, tmpl, "spec", tpath, true))
        t->job_template = json_object_get(tmpl);
}

static void parse_smoke_tests(struct tg_field_errors *errs, json_object *an,
                              struct tg_analysis_settings *out)
{
    static const char *const known[] = {"name", "http", "job"};
    const char *prefix = "spec.analysis.smokeTests";
    json_object *list = member(an, "smokeTests");

    if (!list)
        return;
    if (!json_object_is_type(list, json_type_array)) {
        tg_field_errors_add(errs, prefix, "must be a list");
        return;
    }
    size_t n = json_object_array_length(list);
    if (n == 0)
        return;
    out->smoke_tests = calloc(n, sizeof(*out->smoke_tests));
    if (!out->smoke_tests) {
        errs->nomem = true;
        return;
    }
    out->n_smoke_tests = n;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN], sub[PATH_MAX_LEN];
        json_object *tj = json_object_array_get_idx(list, i);
        struct tg_smoke_test *t = &out->smoke_tests[i];
        path_index(path, sizeof(path), prefix, i);
        if (!tj || !json_object_is_type(tj, json_type_object)) {
            tg_field_errors_add(errs, path, "must be an object");
            continue;
        }
        check_known_keys(errs, tj, path, known, 3);
        if (get_name(errs, tj, path, &t->name)) {
            for (size_t j = 0; j < i; j++) {
                const char *names[1] = {out->smoke_tests[j].name};
                check_unique(errs, path, t->name, names, 1, "smoke test");
            }
        }
        json_object *h = get_object(errs, tj, "http", path, false);
        json_object *job = get_object(errs, tj, "job", path, false);
        if ((member(tj, "http") != NULL) == (member(tj, "job") != NULL)) {
            tg_field_errors_add(errs, path, "must set exactly one of http and job");
            continue;
        }
        if (h) {
            path_join(sub, sizeof(sub), path, "http");
            parse_http_smoke(errs, h, sub, out, t);
        } else if (job) {
            path_join(sub, sizeof(sub), path, "job");
            parse_job_smoke(errs, job, sub, t);
        }
    }
}

/* ---- spec.analysis ---- */

void tg_spec_parse_analysis_settings(struct tg_field_errors *errs, json_object *spec,
                                     struct tg_rollout_spec *rollout)
{
    static const char *const known[] = {"prometheus", "args",    "onError",
                                        "baseline",   "metrics", "smokeTests"};
    static const char *const prom_known[] = {"address", "timeout"};
    static const char *const on_error[] = {"pause", "rollback"};
    const char *prefix = "spec.analysis";
    struct tg_analysis_settings *out = &rollout->analysis;

    out->prometheus_timeout_ms = 10000;
    json_object *an = get_object(errs, spec, "analysis", "spec", false);
    if (!an)
        return;
    out->present = true;
    check_known_keys(errs, an, prefix, known, sizeof(known) / sizeof(known[0]));
    json_object *prom = get_object(errs, an, "prometheus", prefix, false);
    if (prom) {
        const char *ppath = "spec.analysis.prometheus";
        check_known_keys(errs, prom, ppath, prom_known, 2);
        if (get_string(errs, prom, "address", ppath, false, &out->prometheus_address)) {
            const char *a = out->prometheus_address;
            size_t skip = strncmp(a, "http://", 7) == 0    ? 7
                          : strncmp(a, "https://", 8) == 0 ? 8
                                                           : 0;
            if (skip == 0 || a[skip] == '\0' || strpbrk(a, " \t\r\n"))
                tg_field_errors_add(errs, "spec.analysis.prometheus.address",
                                    "must be an http:// or https:// URL (got \"%s\")", a);
        }
        get_duration(errs, prom, "timeout", ppath, 1, &out->prometheus_timeout_ms);
    }
    out->n_args = parse_args(errs, an, prefix, &out->args);
    out->on_error_rollback =
        get_enum(errs, an, "onError", prefix, on_error, 2, 0, "pause and rollback") == 1;
    out->baseline = get_bool(errs, an, "baseline", prefix, false);
    parse_catalogue(errs, spec, an, out);
    parse_smoke_tests(errs, an, out);
}

/* ---- references ---- */

/* out->args = settings' args, overridden and extended by ref_args (consumed). */
static void merge_args(struct tg_field_errors *errs, const struct tg_analysis_settings *settings,
                       struct tg_label *ref_args, size_t n_ref, struct tg_analysis *out)
{
    size_t cap = settings->n_args + n_ref;

    if (cap == 0)
        return;
    out->args = calloc(cap, sizeof(*out->args));
    if (!out->args) {
        errs->nomem = true;
        free_labels(ref_args, n_ref);
        return;
    }
    for (size_t i = 0; i < settings->n_args; i++) {
        out->args[out->n_args].key = dup_opt(errs, settings->args[i].key);
        out->args[out->n_args].value = dup_opt(errs, settings->args[i].value);
        out->n_args++;
    }
    for (size_t i = 0; i < n_ref; i++) {
        ssize_t k = arg_index(out->args, out->n_args, ref_args[i].key);
        if (k >= 0) {
            free(out->args[k].value);
            out->args[k].value = ref_args[i].value;
            free(ref_args[i].key);
        } else {
            out->args[out->n_args++] = ref_args[i];
        }
    }
    free(ref_args);
}

/* The catalogue as written (spec.analysis.metrics), or NULL. */
static json_object *catalogue_json(json_object *spec)
{
    json_object *list = member(member(spec, "analysis"), "metrics");
    return list && json_object_is_type(list, json_type_array) ? list : NULL;
}

/* Whether a metric object sets a valid count (an invalid one is reported where it is). */
static bool count_given(json_object *metric)
{
    json_object *c = member(metric, "count");
    if (!c || !json_object_is_type(c, json_type_int))
        return false;
    int64_t n = json_object_get_int64(c);
    return n >= 0 && n <= INT32_MAX;
}

/*
 * Sets the count of a resolved metric: the reference's, else the catalogue's, else 1 (0 in
 * background). Count 0 outside the background is recorded at where it came from.
 */
static void resolve_count(struct tg_field_errors *errs, struct tg_metric_spec *m,
                          json_object *ref_metric, const char *ref_metric_path,
                          json_object *cat_metric, ssize_t cat_index, const char *path,
                          bool background)
{
    char field[PATH_MAX_LEN];
    bool in_ref = count_given(ref_metric);
    bool in_cat = count_given(cat_metric);

    if (!in_ref && !in_cat)
        m->policy.count = background ? 0 : 1;
    if (background || m->policy.count > 0)
        return;
    if (in_ref) {
        path_join(field, sizeof(field), ref_metric_path, "count");
        tg_field_errors_add(errs, field,
                            "must be at least 1: only backgroundAnalysis may measure until the "
                            "canary ends (count 0)");
    } else if (in_cat) {
        tg_field_errors_add(errs, path,
                            "metric \"%s\" has count 0 from spec.analysis.metrics[%zd].count: only "
                            "backgroundAnalysis may measure until the canary ends; set a count "
                            "here",
                            m->name ? m->name : "", cat_index);
    }
}

/*
 * Checks a resolved metric's query against the reference's variables. A query the reference
 * wrote is reported at ref_metric_path.query; one inherited from the catalogue at the
 * reference's path, unless the catalogue already reported it.
 */
static void check_resolved_query(struct tg_field_errors *errs, json_object *spec,
                                 const struct tg_analysis_settings *settings,
                                 const struct tg_analysis *a, const struct tg_metric_spec *m,
                                 json_object *ref_metric, const char *ref_metric_path,
                                 const char *path)
{
    char field[PATH_MAX_LEN];

    if (!m->query)
        return;
    int rc = render_check(m->query, a->args, a->n_args, NULL, 0, NULL);
    if (rc == 0)
        return;
    if (member(ref_metric, "query")) {
        path_join(field, sizeof(field), ref_metric_path, "query");
        report_render(errs, field, rc);
        return;
    }
    if (rc == TG_ENOMEM) {
        errs->nomem = true;
        return;
    }
    char message[512];
    snprintf(message, sizeof(message), "%s", tg_error_last());
    const char *extra[REF_ARG_KEYS_MAX];
    size_t n_extra = ref_arg_keys(spec, extra, REF_ARG_KEYS_MAX);
    rc = render_check(m->query, settings->args, settings->n_args, extra, n_extra, NULL);
    if (rc == TG_ENOMEM) {
        /* Not a problem the catalogue reported: without this flag the one problem found here
         * was dropped and an invalid Rollout parsed as valid (found by tests/unit/test_oom.c). */
        errs->nomem = true;
        return;
    }
    if (rc < 0)
        return; /* reported at spec.analysis.metrics[i].query */
    tg_field_errors_add(errs, path,
                        "metric \"%s\": %s (neither spec.analysis.args nor these args "
                        "define it)",
                        m->name ? m->name : "", message);
}

void tg_spec_parse_analysis_ref(struct tg_field_errors *errs, json_object *spec, json_object *ref,
                                const char *path, const struct tg_analysis_settings *settings,
                                bool background, struct tg_analysis *out)
{
    static const char *const known[] = {"metrics", "args"};
    char mpath[PATH_MAX_LEN];
    json_object *cat = catalogue_json(spec);

    if (!json_object_is_type(ref, json_type_object)) {
        tg_field_errors_add(errs, path, "must be an object");
        return;
    }
    check_known_keys(errs, ref, path, known, 2);
    struct tg_label *ref_args = NULL;
    size_t n_ref_args = parse_args(errs, ref, path, &ref_args);
    merge_args(errs, settings, ref_args, n_ref_args, out);

    path_join(mpath, sizeof(mpath), path, "metrics");
    json_object *list = member(ref, "metrics");
    if (list && !json_object_is_type(list, json_type_array)) {
        tg_field_errors_add(errs, mpath, "must be a list");
        return;
    }
    size_t n = list ? json_object_array_length(list) : 0;
    if (n == 0) {
        /* The whole catalogue. */
        if (settings->n_metrics == 0) {
            tg_field_errors_add(errs, path,
                                "needs at least one metric: spec.analysis.metrics is empty and "
                                "none is given here");
            return;
        }
        out->metrics = calloc(settings->n_metrics, sizeof(*out->metrics));
        if (!out->metrics) {
            errs->nomem = true;
            return;
        }
        out->n_metrics = settings->n_metrics;
        for (size_t i = 0; i < settings->n_metrics; i++) {
            struct tg_metric_spec *m = &out->metrics[i];
            metric_copy(errs, m, &settings->metrics[i]);
            json_object *cm = cat ? json_object_array_get_idx(cat, i) : NULL;
            resolve_count(errs, m, NULL, path, cm, (ssize_t)i, path, background);
            check_resolved_query(errs, spec, settings, out, m, NULL, path, path);
        }
        return;
    }
    out->metrics = calloc(n, sizeof(*out->metrics));
    if (!out->metrics) {
        errs->nomem = true;
        return;
    }
    out->n_metrics = n;
    for (size_t j = 0; j < n; j++) {
        char rpath[PATH_MAX_LEN];
        struct tg_metric_spec *m = &out->metrics[j];
        json_object *rm = json_object_array_get_idx(list, j);
        char *name = NULL;
        metric_defaults(m);
        path_index(rpath, sizeof(rpath), mpath, j);
        if (!rm || !json_object_is_type(rm, json_type_object)) {
            tg_field_errors_add(errs, rpath, "must be an object");
            continue;
        }
        check_known_keys(errs, rm, rpath, metric_keys, N_METRIC_KEYS);
        if (!get_name(errs, rm, rpath, &name)) {
            free(name);
            continue;
        }
        for (size_t k = 0; k < j; k++) {
            const char *names[1] = {out->metrics[k].name};
            check_unique(errs, rpath, name, names, 1, "metric");
        }
        ssize_t ci = -1;
        for (size_t i = 0; i < settings->n_metrics && ci < 0; i++) {
            if (settings->metrics[i].name && strcmp(settings->metrics[i].name, name) == 0)
                ci = (ssize_t)i;
        }
        if (ci >= 0) {
            metric_copy(errs, m, &settings->metrics[ci]);
            free(m->name);
        } else if (!member(rm, "query")) {
            char qpath[PATH_MAX_LEN];
            path_join(qpath, sizeof(qpath), rpath, "query");
            tg_field_errors_add(
                errs, qpath, "is required: \"%s\" is not a metric of spec.analysis.metrics", name);
        }
        m->name = name;
        apply_metric_fields(errs, rm, rpath, m, settings->baseline);
        json_object *cm = cat && ci >= 0 ? json_object_array_get_idx(cat, (size_t)ci) : NULL;
        resolve_count(errs, m, rm, rpath, cm, ci, path, background);
        check_resolved_query(errs, spec, settings, out, m, rm, rpath, path);
    }
}

void tg_spec_check_analysis_strategy(struct tg_field_errors *errs,
                                     const struct tg_rollout_spec *out)
{
    if (!out->analysis.baseline)
        return;
    if (out->strategy != TG_STRATEGY_CANARY || out->canary.routing.kind != TG_ROUTING_REPLICAS)
        tg_field_errors_add(errs, "spec.analysis.baseline",
                            "baseline needs the canary strategy with replicas routing");
}

/* ---- freeing ---- */

void tg_spec_analysis_free(struct tg_analysis *a)
{
    for (size_t i = 0; a->metrics && i < a->n_metrics; i++)
        metric_free(&a->metrics[i]);
    free(a->metrics);
    free_labels(a->args, a->n_args);
    memset(a, 0, sizeof(*a));
}

void tg_spec_analysis_settings_free(struct tg_analysis_settings *s)
{
    free(s->prometheus_address);
    free_labels(s->args, s->n_args);
    for (size_t i = 0; s->metrics && i < s->n_metrics; i++)
        metric_free(&s->metrics[i]);
    free(s->metrics);
    for (size_t i = 0; s->smoke_tests && i < s->n_smoke_tests; i++) {
        struct tg_smoke_test *t = &s->smoke_tests[i];
        free(t->name);
        free(t->url);
        free(t->method);
        free(t->body_pattern);
        json_object_put(t->job_template);
    }
    free(s->smoke_tests);
    memset(s, 0, sizeof(*s));
}
