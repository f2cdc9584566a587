/* kubectl-tollgate's output, from json-c objects to text; see render.h. */
#define _XOPEN_SOURCE 700 /* strptime */
#include "cli/render.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/jutil.h"
#include "util/error.h"

/* An output under construction: the first failure sticks and later writes do nothing. */
struct out {
    struct tg_buf *buf;
    int rc;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    char small[512];
    va_list ap;

    if (o->rc)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->rc = tg_error_set(TG_EINVALID, "cannot format output");
        return;
    }
    if ((size_t)n < sizeof(small)) {
        o->rc = tg_buf_append(o->buf, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        o->rc = tg_error_set(TG_ENOMEM, "out of memory formatting output");
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    o->rc = tg_buf_append(o->buf, big, (size_t)n);
    free(big);
}

bool tg_cli_parse_time(const char *s, int64_t *ms)
{
    struct tm tm;
    const char *p;
    int64_t frac_ms = 0;

    if (!s)
        return false;
    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return false;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        }
        if (digits == 0)
            return false;
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    if ((*p != 'Z' && *p != 'z') || p[1] != '\0')
        return false;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *ms = (int64_t)t * 1000 + frac_ms;
    return true;
}

void tg_cli_format_age(int64_t ms, char *buf, size_t size)
{
    int64_t s = ms > 0 ? ms / 1000 : 0;
    int64_t m = s / 60, h = s / 3600, d = s / 86400, y = d / 365;

    /* The same thresholds as kubectl's duration.HumanDuration. */
    if (s < 120)
        snprintf(buf, size, "%llds", (long long)s);
    else if (m < 10 && s % 60)
        snprintf(buf, size, "%lldm%llds", (long long)m, (long long)(s % 60));
    else if (m < 180)
        snprintf(buf, size, "%lldm", (long long)m);
    else if (h < 8 && m % 60)
        snprintf(buf, size, "%lldh%lldm", (long long)h, (long long)(m % 60));
    else if (h < 48)
        snprintf(buf, size, "%lldh", (long long)h);
    else if (h < 192 && h % 24)
        snprintf(buf, size, "%lldd%lldh", (long long)d, (long long)(h % 24));
    else if (d < 730)
        snprintf(buf, size, "%lldd", (long long)d);
    else if (y < 8 && d % 365)
        snprintf(buf, size, "%lldy%lldd", (long long)y, (long long)(d % 365));
    else
        snprintf(buf, size, "%lldy", (long long)y);
}

void tg_cli_progress_bar(size_t done, size_t total, size_t width, char *buf, size_t size)
{
    size_t filled = 0, i = 0;

    if (size == 0)
        return;
    if (total > 0) {
        if (done > total)
            done = total;
        filled = (done * width + total / 2) / total;
    }
    if (i + 1 < size)
        buf[i++] = '[';
    for (size_t k = 0; k < width && i + 1 < size; k++)
        buf[i++] = k < filled ? '#' : '-';
    if (i + 1 < size)
        buf[i++] = ']';
    buf[i] = '\0';
}

/* The age of a timestamp relative to now, or "<unknown>" when it cannot be read. */
static void age_of(const char *ts, int64_t now_ms, char *buf, size_t size)
{
    int64_t t;

    if (!tg_cli_parse_time(ts, &t)) {
        snprintf(buf, size, "<unknown>");
        return;
    }
    tg_cli_format_age(now_ms - t, buf, size);
}

/* A table: cells in row-major order, each a copy made single-line. */
struct table {
    size_t ncols;
    size_t nrows;
    char **cells; /* nrows * ncols, owned */
    size_t cap;   /* rows allocated */
    int rc;       /* sticky error */
};

static void table_init(struct table *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Appends a row of ncols strings (NULL or "" shows as "<none>"); newlines become spaces. */
static void table_row(struct table *t, const char *const *cols)
{
    if (t->rc)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));
        if (!cells) {
            t->rc = tg_error_set(TG_ENOMEM, "out of memory building a table");
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = cols[c] && *cols[c] ? cols[c] : "<none>";
        row[c] = strdup(s);
        if (!row[c]) {
            for (size_t k = 0; k < c; k++)
                free(row[k]);
            t->rc = tg_error_set(TG_ENOMEM, "out of memory building a table");
            return;
        }
        for (char *p = row[c]; *p; p++) {
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        }
    }
    t->nrows++;
}

/* Writes the table, each line prefixed by indent, columns three spaces apart. */
static void table_write(struct table *t, struct out *o, const char *indent)
{
    size_t widths[16] = {0};

    if (t->rc) {
        if (!o->rc)
            o->rc = t->rc;
        return;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols && c < 16; c++) {
            size_t len = strlen(t->cells[r * t->ncols + c]);
            if (len > widths[c])
                widths[c] = len;
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        put(o, "%s", indent);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == t->ncols)
                put(o, "%s\n", cell);
            else
                put(o, "%-*s   ", (int)widths[c], cell);
        }
    }
}

/* Whether the Rollout uses the blue-green strategy (by status, else by spec). */
static bool is_blue_green(json_object *ro)
{
    const char *s = tg_cli_jstr(tg_cli_jget(ro, "status.strategy"));
    if (s)
        return strcmp(s, "BlueGreen") == 0;
    return tg_cli_jget(ro, "spec.strategy.blueGreen") != NULL;
}

/* The canary steps array, or NULL. */
static json_object *canary_steps(json_object *ro)
{
    json_object *steps = tg_cli_jget(ro, "spec.strategy.canary.steps");
    return steps && json_object_is_type(steps, json_type_array) ? steps : NULL;
}

/* A condition of the given type from status.conditions, or NULL. */
static json_object *condition(json_object *obj, const char *type)
{
    json_object *conds = tg_cli_jget(obj, "status.conditions");

    if (!conds || !json_object_is_type(conds, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(conds); i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        const char *t = tg_cli_jstr(tg_cli_jget(c, "type"));
        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

static bool condition_is(json_object *obj, const char *type, const char *status)
{
    const char *s = tg_cli_jstr(tg_cli_jget(condition(obj, type), "status"));
    return s && strcmp(s, status) == 0;
}

/* Describes one canary step ("setWeight 20", "pause 5m", "pause until promoted"). */
static void describe_step(json_object *step, char *buf, size_t size)
{
    json_object *w = tg_cli_jget(step, "setWeight");
    json_object *p = tg_cli_jget(step, "pause");

    if (w) {
        snprintf(buf, size, "setWeight %lld", (long long)tg_cli_jint(w, 0));
    } else if (p) {
        json_object *d = tg_cli_jget(p, "duration");
        if (!d)
            snprintf(buf, size, "pause until promoted");
        else if (json_object_is_type(d, json_type_int))
            snprintf(buf, size, "pause %llds", (long long)json_object_get_int64(d));
        else
            snprintf(buf, size, "pause %s", json_object_get_string(d));
    } else if (tg_cli_jget(step, "analysis")) {
        snprintf(buf, size, "analysis");
    } else {
        snprintf(buf, size, "unknown step");
    }
}

/* "name (version)", "name", or "<none>"; the version from the Release, else from history. */
static void release_label(json_object *ro, const char *name, json_object *release, char *buf,
                          size_t size)
{
    const char *version = NULL;

    if (!name) {
        snprintf(buf, size, "<none>");
        return;
    }
    if (release)
        version = tg_cli_jstr(tg_cli_jget(release, "spec.version"));
    if (!version) {
        json_object *hist = tg_cli_jget(ro, "status.history");
        for (size_t i = 0; hist && json_object_is_type(hist, json_type_array) &&
                           i < json_object_array_length(hist) && !version;
             i++) {
            json_object *h = json_object_array_get_idx(hist, i);
            const char *r = tg_cli_jstr(tg_cli_jget(h, "release"));
            if (r && strcmp(r, name) == 0)
                version = tg_cli_jstr(tg_cli_jget(h, "version"));
        }
    }
    if (version)
        snprintf(buf, size, "%s (%s)", name, version);
    else
        snprintf(buf, size, "%s", name);
}

static void render_phase(json_object *ro, int64_t now_ms, struct out *o)
{
    const char *phase = tg_cli_or(tg_cli_jstr(tg_cli_jget(ro, "status.phase")), "Unknown");
    json_object *paused = condition(ro, "Paused");

    put(o, "Phase:       %s", phase);
    if (paused && condition_is(ro, "Paused", "True")) {
        const char *reason = tg_cli_jstr(tg_cli_jget(paused, "reason"));
        const char *msg = tg_cli_jstr(tg_cli_jget(paused, "message"));
        if (reason && msg)
            put(o, " (%s: %s)", reason, msg);
        else if (reason || msg)
            put(o, " (%s)", reason ? reason : msg);
    }
    const char *since = tg_cli_jstr(tg_cli_jget(ro, "status.pauseStartedAt"));
    int64_t t;
    if (since && tg_cli_parse_time(since, &t)) {
        char age[32];
        tg_cli_format_age(now_ms - t, age, sizeof(age));
        put(o, ", paused for %s", age);
    }
    put(o, "\n");
    json_object *sp = tg_cli_jget(ro, "spec.paused");
    if (sp && json_object_is_type(sp, json_type_boolean) && json_object_get_boolean(sp))
        put(o, "             spec.paused is true: no new step starts\n");
}

static void render_strategy(json_object *ro, struct out *o)
{
    if (is_blue_green(ro)) {
        json_object *bg = tg_cli_jget(ro, "spec.strategy.blueGreen");
        const char *active = tg_cli_or(tg_cli_jstr(tg_cli_jget(bg, "activeService")),
                                       tg_cli_jstr(tg_cli_jget(ro, "spec.service.name")));
        const char *preview = tg_cli_jstr(tg_cli_jget(bg, "previewService"));
        json_object *ap = tg_cli_jget(bg, "autoPromotionEnabled");
        bool autop =
            !ap || !json_object_is_type(ap, json_type_boolean) || json_object_get_boolean(ap);
        put(o, "Strategy:    BlueGreen (active Service %s, preview Service %s, %s)\n",
            tg_cli_or(active, "<none>"), tg_cli_or(preview, "<none>"),
            autop ? "auto-promotion" : "manual promotion");
        return;
    }
    json_object *tr = tg_cli_jget(ro, "spec.strategy.canary.trafficRouting");
    const char *routing = "replicas";
    if (tg_cli_jget(tr, "gatewayAPI"))
        routing = "Gateway API";
    else if (tg_cli_jget(tr, "nginx"))
        routing = "NGINX";
    put(o, "Strategy:    Canary (%s routing)\n", routing);
}

static void render_step(json_object *ro, struct out *o)
{
    json_object *steps = canary_steps(ro);
    size_t total = steps ? json_object_array_length(steps) : 0;
    char bar[TG_CLI_BAR_WIDTH + 3], what[96];
    int64_t cur = tg_cli_jint(tg_cli_jget(ro, "status.currentStep"), -1);

    if (total == 0) {
        put(o, "Step:        <none>\n");
        return;
    }
    if (cur < 0) {
        put(o, "Step:        -/%zu (not started)\n", total);
        return;
    }
    size_t done = (size_t)cur > total ? total : (size_t)cur;
    tg_cli_progress_bar(done, total, TG_CLI_BAR_WIDTH, bar, sizeof(bar));
    if (done >= total) {
        put(o, "Step:        %zu/%zu %s 100%% (all steps done)\n", total, total, bar);
        return;
    }
    describe_step(json_object_array_get_idx(steps, done), what, sizeof(what));
    put(o, "Step:        %zu/%zu %s %3zu%% (%s)\n", done + 1, total, bar, done * 100 / total, what);
}

static void render_weight(json_object *ro, struct out *o)
{
    json_object *w = tg_cli_jget(ro, "status.canaryWeight");
    int64_t weight = tg_cli_jint(w, 0);

    if (weight < 0)
        weight = 0;
    if (weight > 100)
        weight = 100;
    if (is_blue_green(ro)) {
        const char *color = tg_cli_jstr(tg_cli_jget(ro, "status.activeColor"));
        put(o, "Weight:      preview %lld%%, active %lld%%", (long long)weight,
            (long long)(100 - weight));
        if (color)
            put(o, " (active color: %s)", color);
        put(o, "\n");
        return;
    }
    put(o, "Weight:      canary %lld%%, stable %lld%%\n", (long long)weight,
        (long long)(100 - weight));
}

static void render_tracks(json_object *ro, struct out *o)
{
    static const char *const names[] = {"stable", "canary", "active", "preview"};
    json_object *tracks = tg_cli_jget(ro, "status.tracks");
    struct table t;
    bool any = false;

    table_init(&t, 4);
    table_row(&t, (const char *const[]){"TRACK", "DEPLOYMENT", "RELEASE", "READY"});
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_object *tr = tg_cli_jget(tracks, names[i]);
        if (!tr)
            continue;
        char ready[48];
        snprintf(ready, sizeof(ready), "%lld/%lld",
                 (long long)tg_cli_jint(tg_cli_jget(tr, "readyReplicas"), 0),
                 (long long)tg_cli_jint(tg_cli_jget(tr, "replicas"), 0));
        table_row(&t, (const char *const[]){names[i], tg_cli_jstr(tg_cli_jget(tr, "deployment")),
                                            tg_cli_jstr(tg_cli_jget(tr, "release")), ready});
        any = true;
    }
    if (any) {
        put(o, "Tracks:\n");
        table_write(&t, o, "  ");
    } else {
        put(o, "Tracks:      <none>\n");
    }
    table_free(&t);
}

/* Adds the conditions of obj worth a user's attention to t, labelled with what. */
static void attention_conditions(json_object *obj, const char *what, struct table *t)
{
    json_object *conds = tg_cli_jget(obj, "status.conditions");

    if (!conds || !json_object_is_type(conds, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(conds); i++) {
        json_object *c = json_object_array_get_idx(conds, i);
        const char *type = tg_cli_jstr(tg_cli_jget(c, "type"));
        const char *status = tg_cli_jstr(tg_cli_jget(c, "status"));
        if (!type || !status)
            continue;
        bool bad_true = strcmp(status, "True") == 0 &&
                        (strcmp(type, "InvalidSpec") == 0 || strcmp(type, "Paused") == 0 ||
                         strcmp(type, "Failed") == 0 || strcmp(type, "Stalled") == 0);
        bool bad_false = strcmp(status, "True") != 0 && strcmp(type, "Healthy") == 0;
        if (!bad_true && !bad_false)
            continue;
        table_row(t,
                  (const char *const[]){what, type, status, tg_cli_jstr(tg_cli_jget(c, "reason")),
                                        tg_cli_jstr(tg_cli_jget(c, "message"))});
    }
}

/*
 * The conditions that need attention (InvalidSpec, Paused, Failed or Stalled True, Healthy not
 * True) of the Rollout and of the Release shown (the one in flight, else the last finished one).
 */
static void render_conditions(const struct tg_cli_status_view *v, json_object *rel, struct out *o)
{
    struct table t;
    char ro_label[300], rel_label[300];

    snprintf(ro_label, sizeof(ro_label), "rollout/%s",
             tg_cli_or(tg_cli_jstr(tg_cli_jget(v->rollout, "metadata.name")), "?"));
    snprintf(rel_label, sizeof(rel_label), "release/%s",
             tg_cli_or(tg_cli_jstr(tg_cli_jget(rel, "metadata.name")), "?"));
    table_init(&t, 5);
    table_row(&t, (const char *const[]){"OBJECT", "TYPE", "STATUS", "REASON", "MESSAGE"});
    attention_conditions(v->rollout, ro_label, &t);
    if (rel)
        attention_conditions(rel, rel_label, &t);
    if (t.nrows > 1) {
        put(o, "Conditions:\n");
        table_write(&t, o, "  ");
    }
    table_free(&t);
}

/* When an Event last happened: lastTimestamp, else eventTime, else its creation. */
static int64_t event_time(json_object *ev)
{
    int64_t t;
    if (tg_cli_parse_time(tg_cli_jstr(tg_cli_jget(ev, "lastTimestamp")), &t) ||
        tg_cli_parse_time(tg_cli_jstr(tg_cli_jget(ev, "eventTime")), &t) ||
        tg_cli_parse_time(tg_cli_jstr(tg_cli_jget(ev, "metadata.creationTimestamp")), &t))
        return t;
    return 0;
}

static int cmp_events(const void *a, const void *b)
{
    json_object *ea = *(json_object *const *)a, *eb = *(json_object *const *)b;
    int64_t ta = event_time(ea), tb = event_time(eb);

    if (ta != tb)
        return ta < tb ? -1 : 1;
    const char *na = tg_cli_or(tg_cli_jstr(tg_cli_jget(ea, "metadata.name")), "");
    const char *nb = tg_cli_or(tg_cli_jstr(tg_cli_jget(eb, "metadata.name")), "");
    return strcmp(na, nb);
}

static void render_events(const struct tg_cli_status_view *v, struct out *o)
{
    size_t n = v->events && json_object_is_type(v->events, json_type_array)
                   ? json_object_array_length(v->events)
                   : 0;
    struct table t;

    if (n == 0) {
        put(o, "Events:      <none>\n");
        return;
    }
    json_object **evs = calloc(n, sizeof(*evs));
    if (!evs) {
        if (!o->rc)
            o->rc = tg_error_set(TG_ENOMEM, "out of memory sorting events");
        return;
    }
    for (size_t i = 0; i < n; i++)
        evs[i] = json_object_array_get_idx(v->events, i);
    qsort(evs, n, sizeof(*evs), cmp_events);
    table_init(&t, 5);
    table_row(&t, (const char *const[]){"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"});
    for (size_t i = n > TG_CLI_STATUS_EVENTS ? n - TG_CLI_STATUS_EVENTS : 0; i < n; i++) {
        json_object *ev = evs[i];
        char age[48], obj[300];
        int64_t count = tg_cli_jint(tg_cli_jget(ev, "count"), 1);
        tg_cli_format_age(v->now_ms - event_time(ev), age, sizeof(age));
        if (count > 1) {
            size_t len = strlen(age);
            snprintf(age + len, sizeof(age) - len, " (x%lld)", (long long)count);
        }
        const char *kind = tg_cli_or(tg_cli_jstr(tg_cli_jget(ev, "involvedObject.kind")), "?");
        char lower[64];
        size_t k = 0;
        for (; kind[k] && k + 1 < sizeof(lower); k++)
            lower[k] = (char)(kind[k] >= 'A' && kind[k] <= 'Z' ? kind[k] - 'A' + 'a' : kind[k]);
        lower[k] = '\0';
        snprintf(obj, sizeof(obj), "%s/%s", lower,
                 tg_cli_or(tg_cli_jstr(tg_cli_jget(ev, "involvedObject.name")), "?"));
        table_row(&t, (const char *const[]){age, tg_cli_jstr(tg_cli_jget(ev, "type")),
                                            tg_cli_jstr(tg_cli_jget(ev, "reason")), obj,
                                            tg_cli_jstr(tg_cli_jget(ev, "message"))});
    }
    free(evs);
    put(o, "Events:\n");
    table_write(&t, o, "  ");
    table_free(&t);
}

/*
 * Appends s with line breaks and other control characters as spaces, cut to
 * TG_CLI_ANALYSIS_MESSAGE bytes with "..." (a message from the cluster must not break the page).
 */
static void put_clean(struct out *o, const char *s)
{
    char line[TG_CLI_ANALYSIS_MESSAGE + 4];
    size_t n = 0;

    for (; n < TG_CLI_ANALYSIS_MESSAGE && s[n]; n++)
        line[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? ' ' : s[n];
    if (s[n]) {
        memcpy(line + n, "...", 3);
        n += 3;
    }
    line[n] = '\0';
    put(o, "%s", line);
}

/* Whether o is a JSON number; its value goes to *v. */
static bool jnum(json_object *o, double *v)
{
    if (!o || !(json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int)))
        return false;
    *v = json_object_get_double(o);
    return true;
}

/* A count from a metric's status: a non-negative integer, else 0. */
static int64_t jcount(json_object *metric, const char *key)
{
    int64_t n = tg_cli_jint(tg_cli_jget(metric, key), 0);
    return n < 0 ? 0 : n;
}

static bool jtrue(json_object *o)
{
    return o && json_object_is_type(o, json_type_boolean) && json_object_get_boolean(o);
}

static bool streq_opt(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The array at path, or NULL when it is missing or not an array. */
static json_object *jarray(json_object *o, const char *path)
{
    json_object *a = tg_cli_jget(o, path);
    return a && json_object_is_type(a, json_type_array) ? a : NULL;
}

/* The entry named name of an array of objects, or NULL. */
static json_object *named(json_object *arr, const char *name)
{
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (streq_opt(tg_cli_jstr(tg_cli_jget(e, "name")), name))
            return e;
    }
    return NULL;
}

/*
 * How many measurements a metric of a run wants, from the Rollout's spec: the run's own
 * reference (a step, background, pre- or post-promotion analysis) overrides the catalogue, and
 * the contract's defaults apply (1, or 0 for background analysis). 0 means "until the canary
 * ends" and -1 that the spec does not say (the run is not one the spec names).
 */
static int64_t wanted_count(json_object *ro, const char *run, const char *metric)
{
    json_object *ref = NULL;
    int64_t def = 1;
    char *end;

    if (strncmp(run, "step-", 5) == 0 && run[5] >= '1' && run[5] <= '9') {
        long n = strtol(run + 5, &end, 10);
        json_object *steps = canary_steps(ro);
        if (*end != '\0' || !steps || (size_t)n > json_object_array_length(steps))
            return -1;
        ref = tg_cli_jget(json_object_array_get_idx(steps, (size_t)n - 1), "analysis");
        if (!ref)
            return -1;
    } else if (strcmp(run, "background") == 0) {
        ref = tg_cli_jget(ro, "spec.strategy.canary.backgroundAnalysis");
        def = 0;
    } else if (strcmp(run, "prePromotion") == 0) {
        ref = tg_cli_jget(ro, "spec.strategy.blueGreen.prePromotionAnalysis");
    } else if (strcmp(run, "postPromotion") == 0) {
        ref = tg_cli_jget(ro, "spec.strategy.blueGreen.postPromotionAnalysis");
    } else {
        return -1;
    }
    json_object *c = tg_cli_jget(named(jarray(ref, "metrics"), metric), "count");
    if (!c)
        c = tg_cli_jget(named(jarray(ro, "spec.analysis.metrics"), metric), "count");
    if (!c)
        return def;
    int64_t n = tg_cli_jint(c, -1);
    return n < 0 ? -1 : n;
}

/*
 * What decided a gate: the phase of the metrics (or smoke tests, when smoke is set) that
 * paused or rolled back the Release, from the reason of its conditions. NULL when the Release
 * is not RolledBack, Failed or Paused because of analysis.
 */
static const char *deciding_phase(json_object *rel, bool *smoke)
{
    static const struct {
        const char *reason, *phase;
        bool smoke;
    } gates[] = {{"AnalysisFailed", "Failed", false},
                 {"SmokeTestFailed", "Failed", true},
                 {"AnalysisError", "Error", false},
                 {"AnalysisInconclusive", "Inconclusive", false}};
    const char *phase = tg_cli_jstr(tg_cli_jget(rel, "status.phase"));
    json_object *conds = jarray(rel, "status.conditions");

    if (!streq_opt(phase, "RolledBack") && !streq_opt(phase, "Paused") &&
        !streq_opt(phase, "Failed"))
        return NULL;
    for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
        const char *r = tg_cli_jstr(tg_cli_jget(json_object_array_get_idx(conds, i), "reason"));
        for (size_t g = 0; g < sizeof(gates) / sizeof(gates[0]); g++) {
            if (streq_opt(r, gates[g].reason)) {
                *smoke = gates[g].smoke;
                return gates[g].phase;
            }
        }
    }
    return NULL;
}

/*
 * Appends the latest measurement of a metric (the last object of its measurements, oldest
 * first; only the last TG_CLI_ANALYSIS_MEASUREMENTS entries are looked at), if readable.
 */
static void render_latest(json_object *metric, struct out *o)
{
    json_object *ms = jarray(metric, "measurements");
    size_t n = ms ? json_object_array_length(ms) : 0;
    json_object *m = NULL;
    double value, baseline, p;

    for (size_t k = 0; k < n && k < TG_CLI_ANALYSIS_MEASUREMENTS && !m; k++) {
        json_object *e = json_object_array_get_idx(ms, n - 1 - k);
        if (e && json_object_is_type(e, json_type_object))
            m = e;
    }
    if (!m)
        return;
    const char *result = tg_cli_jstr(tg_cli_jget(m, "result"));
    const char *msg = tg_cli_jstr(tg_cli_jget(m, "message"));
    bool has_value = jnum(tg_cli_jget(m, "value"), &value);
    if (has_value && jnum(tg_cli_jget(m, "baseline"), &baseline)) {
        put(o, ", latest canary %.4g vs baseline %.4g", value, baseline);
        if (jnum(tg_cli_jget(m, "pValue"), &p))
            put(o, ", p=%.4g", p);
    } else if (has_value) {
        put(o, ", latest %.4g", value);
    } else if (result || msg) {
        put(o, ", latest");
    } else {
        return;
    }
    if (result && (strcmp(result, "Pass") != 0 || !has_value)) {
        put(o, " (");
        put_clean(o, result);
        if (msg && !has_value) {
            put(o, ": ");
            put_clean(o, msg);
        }
        put(o, ")");
    } else if (msg && !has_value) {
        put(o, " ");
        put_clean(o, msg);
    }
}

/* One line for a metric of a run: marker, name, phase, counts, latest value, next time. */
static void render_metric(json_object *ro, const char *run, json_object *metric,
                          const char *deciding, int64_t now_ms, struct out *o)
{
    const char *name = tg_cli_jstr(tg_cli_jget(metric, "name"));
    const char *phase = tg_cli_or(tg_cli_jstr(tg_cli_jget(metric, "phase")), "Unknown");
    bool dry = jtrue(tg_cli_jget(metric, "dryRun"));
    int64_t count = jcount(metric, "count"), want = wanted_count(ro, run, name);
    int64_t errors = jcount(metric, "errors");
    int64_t next;

    put(o, "  %s ", !dry && streq_opt(phase, deciding) ? "X" : " ");
    put_clean(o, name);
    if (dry)
        put(o, " (dry run)");
    put(o, ": ");
    put_clean(o, phase);
    if (want > 0)
        put(o, ", %lld/%lld measured", (long long)count, (long long)want);
    else
        put(o, ", %lld measured", (long long)count);
    put(o, ", %lld failed, %lld inconclusive, %lld error%s", (long long)jcount(metric, "failures"),
        (long long)jcount(metric, "inconclusives"), (long long)errors, errors == 1 ? "" : "s");
    render_latest(metric, o);
    if (streq_opt(phase, "Running") &&
        tg_cli_parse_time(tg_cli_jstr(tg_cli_jget(metric, "nextAt")), &next)) {
        char in[32];
        tg_cli_format_age(next - now_ms, in, sizeof(in));
        put(o, ", next in %s", in);
    }
    put(o, "\n");
}

/* One line for a smoke test of a run: marker, name, phase and message. */
static void render_smoke(json_object *smoke, const char *deciding, struct out *o)
{
    const char *phase = tg_cli_or(tg_cli_jstr(tg_cli_jget(smoke, "phase")), "Unknown");
    const char *msg = tg_cli_jstr(tg_cli_jget(smoke, "message"));

    put(o, "  %s smoke test ", streq_opt(phase, deciding) ? "X" : " ");
    put_clean(o, tg_cli_jstr(tg_cli_jget(smoke, "name")));
    put(o, ": ");
    put_clean(o, phase);
    if (msg) {
        put(o, ": ");
        put_clean(o, msg);
    }
    put(o, "\n");
}

/* The entries of arr worth a line: objects with a name. More than the bound are counted. */
static void render_items(json_object *ro, const char *run, json_object *arr, bool smoke,
                         const char *deciding, int64_t now_ms, struct out *o)
{
    size_t shown = 0, more = 0;

    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (!e || !json_object_is_type(e, json_type_object) || !tg_cli_jstr(tg_cli_jget(e, "name")))
            continue;
        if (shown == TG_CLI_ANALYSIS_ITEMS) {
            more++;
            continue;
        }
        shown++;
        if (smoke)
            render_smoke(e, deciding, o);
        else
            render_metric(ro, run, e, deciding, now_ms, o);
    }
    if (more)
        put(o, "      ... and %zu more %s\n", more, smoke ? "smoke tests" : "metrics");
}

/*
 * The analysis of a Release (status.analysis.runs, in order): a line per run, then a line per
 * metric and smoke test. The metrics (or smoke tests) that decided a gate get an "X".
 */
static void render_analysis(json_object *ro, json_object *rel, int64_t now_ms, struct out *o)
{
    json_object *runs = jarray(rel, "status.analysis.runs");
    bool smoke_gate = false;
    const char *deciding = deciding_phase(rel, &smoke_gate);
    size_t shown = 0, more = 0;

    for (size_t i = 0; runs && i < json_object_array_length(runs); i++) {
        json_object *run = json_object_array_get_idx(runs, i);
        const char *name = tg_cli_jstr(tg_cli_jget(run, "name"));
        if (!run || !json_object_is_type(run, json_type_object) || !name)
            continue;
        if (shown == TG_CLI_ANALYSIS_RUNS) {
            more++;
            continue;
        }
        if (shown++ == 0)
            put(o, "Analysis:\n");
        const char *phase = tg_cli_or(tg_cli_jstr(tg_cli_jget(run, "phase")), "Unknown");
        const char *msg = tg_cli_jstr(tg_cli_jget(run, "message"));
        /* A run that did not end the way the gate did cannot hold what decided it. */
        const char *dec =
            deciding && !streq_opt(phase, "Running") && !streq_opt(phase, "Successful") ? deciding
                                                                                        : NULL;
        put(o, "  ");
        put_clean(o, name);
        put(o, ": ");
        put_clean(o, phase);
        if (msg && !streq_opt(phase, "Running")) {
            put(o, ": ");
            put_clean(o, msg);
        }
        put(o, "\n");
        render_items(ro, name, jarray(run, "metrics"), false, smoke_gate ? NULL : dec, now_ms, o);
        render_items(ro, name, jarray(run, "smokeTests"), true, smoke_gate ? dec : NULL, now_ms, o);
    }
    if (more)
        put(o, "  ... and %zu more runs\n", more);
}

/*
 * Copies s into buf (size > 4) with control characters as spaces, cut at max bytes (never in
 * the middle of a UTF-8 sequence) with "..." appended. An empty string for NULL.
 */
static void clip(const char *s, size_t max, char *buf, size_t size)
{
    size_t n = 0;

    if (max + 4 > size)
        max = size - 4;
    for (; s && s[n] && n < max; n++)
        buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? ' ' : s[n];
    if (s && s[n]) {
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

/* Appends a formatted string to the string in buf of size (always NUL-terminated). */
static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;

    if (len + 1 >= size)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

/* s without a leading "git+" and "https://" (source repositories and builder ids). */
static const char *short_uri(const char *s)
{
    if (!s)
        return NULL;
    if (strncmp(s, "git+", 4) == 0)
        s += 4;
    if (strncmp(s, "https://", 8) == 0)
        s += 8;
    return s;
}

/* The signer with a "sha256:<hex>" in it cut to 12 hex digits, then clipped. */
static void short_signer(const char *signer, char *buf, size_t size)
{
    char tmp[160];
    const char *d = signer ? strstr(signer, "sha256:") : NULL;
    size_t hex = 0;

    for (; d && isxdigit((unsigned char)d[7 + hex]); hex++)
        ;
    if (!d || hex <= 12) {
        clip(signer, TG_CLI_VERIFY_VALUE, buf, size);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%.*ssha256:%.12s...%.60s", (int)(d - signer > 60 ? 60 : d - signer),
             signer, d + 7, d + 7 + hex);
    clip(tmp, TG_CLI_VERIFY_VALUE, buf, size);
}

/* A timestamp as "2026-11-26T08:12Z", or clipped as it is when it cannot be read. */
static void short_time(const char *ts, char *buf, size_t size)
{
    int64_t ms;
    struct tm tm;

    if (tg_cli_parse_time(ts, &ms)) {
        time_t t = (time_t)(ms / 1000);
        if (gmtime_r(&t, &tm) && strftime(buf, size, "%Y-%m-%dT%H:%MZ", &tm) > 0)
            return;
    }
    clip(ts, 32, buf, size);
}

/* A non-negative count of a gate entry, -1 when absent or not an integer. */
static int64_t gate_count(json_object *gate, const char *key)
{
    json_object *n = tg_cli_jget(gate, key);
    if (!n || !json_object_is_type(n, json_type_int))
        return -1;
    return json_object_get_int64(n) < 0 ? 0 : json_object_get_int64(n);
}

/* What a passed (or failed) gate checked, in a few words; empty when nothing is known. */
static void gate_detail(const char *name, json_object *g, char *buf, size_t size)
{
    char a[TG_CLI_VERIFY_VALUE + 4], b[TG_CLI_VERIFY_VALUE + 4], c[48];
    const char *authority = tg_cli_jstr(tg_cli_jget(g, "authority"));

    buf[0] = '\0';
    if (strcmp(name, "signature") == 0 || strcmp(name, "attestations") == 0) {
        json_object *types = tg_cli_jget(g, "predicateType");
        if (types && json_object_is_type(types, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(types); i++) {
                const char *t = tg_cli_jstr(json_object_array_get_idx(types, i));
                if (t) {
                    clip(short_uri(t), TG_CLI_VERIFY_VALUE, a, sizeof(a));
                    append(buf, size, "%s%s", buf[0] ? ", " : "", a);
                }
            }
        } else if (tg_cli_jstr(types)) {
            clip(short_uri(tg_cli_jstr(types)), TG_CLI_VERIFY_VALUE, a, sizeof(a));
            append(buf, size, "%s", a);
        }
        if (tg_cli_jstr(tg_cli_jget(g, "signer"))) {
            short_signer(tg_cli_jstr(tg_cli_jget(g, "signer")), a, sizeof(a));
            append(buf, size, "%s%s", buf[0] ? " by " : "", a);
        }
    } else if (strcmp(name, "provenance") == 0) {
        const char *builder = short_uri(tg_cli_jstr(tg_cli_jget(g, "builder")));
        const char *repo = short_uri(tg_cli_jstr(tg_cli_jget(g, "sourceRepository")));
        const char *ref = tg_cli_jstr(tg_cli_jget(g, "ref"));
        const char *commit = tg_cli_jstr(tg_cli_jget(g, "commit"));
        if (builder) {
            clip(builder, TG_CLI_VERIFY_VALUE, a, sizeof(a));
            append(buf, size, "builder %s", a);
        }
        if (repo) {
            clip(repo, TG_CLI_VERIFY_VALUE, a, sizeof(a));
            clip(ref, TG_CLI_VERIFY_VALUE, b, sizeof(b));
            append(buf, size, "%s%s%s%s", buf[0] ? ", " : "", a, ref ? "@" : "", b);
        }
        if (commit) {
            clip(commit, 7, c, sizeof(c));
            c[7 < strlen(c) ? 7 : strlen(c)] = '\0';
            append(buf, size, "%s%s", buf[0] ? " " : "", c);
        }
    } else if (strcmp(name, "sbom") == 0) {
        const char *format = tg_cli_jstr(tg_cli_jget(g, "format"));
        const char *version = tg_cli_jstr(tg_cli_jget(g, "specVersion"));
        int64_t n = gate_count(g, "components");
        if (streq_opt(format, "cyclonedx"))
            format = "CycloneDX";
        else if (streq_opt(format, "spdx"))
            format = "SPDX";
        if (version && strncmp(version, "SPDX-", 5) == 0)
            version += 5;
        clip(format, 32, a, sizeof(a));
        clip(version, 16, b, sizeof(b));
        append(buf, size, "%s%s%s", a, format && version ? " " : "", b);
        if (n >= 0)
            append(buf, size, "%s%lld component%s", buf[0] ? ", " : "", (long long)n,
                   n == 1 ? "" : "s");
    } else if (strcmp(name, "vulnerabilities") == 0) {
        static const char *const always[] = {"critical", "high", "medium"};
        static const char *const some[] = {"low", "unknown", "suppressed"};
        const char *scanner = tg_cli_jstr(tg_cli_jget(g, "scanner"));
        const char *scanned = tg_cli_jstr(tg_cli_jget(g, "scannedAt"));
        const char *until = tg_cli_jstr(tg_cli_jget(g, "validUntil"));
        for (size_t i = 0; i < 3; i++) {
            int64_t n = gate_count(g, always[i]);
            if (n >= 0)
                append(buf, size, "%s%lld %s", buf[0] ? ", " : "", (long long)n, always[i]);
        }
        for (size_t i = 0; i < 3; i++) {
            int64_t n = gate_count(g, some[i]);
            if (n > 0)
                append(buf, size, "%s%lld %s", buf[0] ? ", " : "", (long long)n, some[i]);
        }
        if (scanner || scanned || until) {
            const char *slash = scanner ? strrchr(scanner, '/') : NULL;
            append(buf, size, "%s(", buf[0] ? " " : "");
            if (scanner) {
                clip(slash && slash[1] ? slash + 1 : scanner, 32, a, sizeof(a));
                append(buf, size, "%s", a);
            }
            if (scanned) {
                short_time(scanned, c, sizeof(c));
                append(buf, size, "%sscanned %s", scanner ? ", " : "", c);
            }
            if (until) {
                short_time(until, c, sizeof(c));
                append(buf, size, "%svalid until %s", scanner || scanned ? "; " : "", c);
            }
            append(buf, size, ")");
        }
        return;
    }
    if (authority) {
        clip(authority, 40, a, sizeof(a));
        append(buf, size, "%s(%s)", buf[0] ? " " : "", a);
    }
}

/*
 * The verification of a Release (status.verification): the verdict on one line, then a line
 * per gate present with its result, what it checked and, when it did not pass, its reason. A
 * Release still Verifying without a verdict shows "in progress". Nothing for a Release without
 * either.
 */
static void render_verification(json_object *rel, struct out *o)
{
    static const char *const gates[] = {"signature", "provenance", "sbom", "vulnerabilities",
                                        "attestations"};
    json_object *ver = tg_cli_jget(rel, "status.verification");
    char detail[5 * TG_CLI_VERIFY_VALUE], result[16];

    if (!ver || !json_object_is_type(ver, json_type_object)) {
        if (streq_opt(tg_cli_jstr(tg_cli_jget(rel, "status.phase")), "Verifying"))
            put(o, "Verification: in progress\n");
        return;
    }
    const char *verdict = tg_cli_or(tg_cli_jstr(tg_cli_jget(ver, "result")), "Unknown");
    const char *msg = tg_cli_jstr(tg_cli_jget(ver, "message"));
    const char *retry = tg_cli_jstr(tg_cli_jget(ver, "retryMessage"));
    bool retrying = strcmp(verdict, "Retrying") == 0;
    int64_t attempts = tg_cli_jint(tg_cli_jget(ver, "attempts"), 0);

    if (retrying && retry && *retry)
        msg = retry;
    put(o, "Verification: ");
    if (strcmp(verdict, "NotRequired") == 0)
        put(o, "not required");
    else
        put_clean(o, verdict);
    if (msg && *msg && strcmp(verdict, "Passed") != 0) {
        put(o, ": ");
        put_clean(o, msg);
    }
    /* The operator's retry message already counts its attempts. */
    if (retrying && attempts > 0 && !(msg && strstr(msg, "(attempt ")))
        put(o, " (attempt %lld)", (long long)attempts);
    /* A re-check keeps the verdict reached before, next to its retries. */
    if (!retrying && retry && *retry && tg_cli_jget(ver, "nextAttemptAt")) {
        put(o, "; re-check: ");
        put_clean(o, retry);
    }
    put(o, "\n");
    for (size_t i = 0; i < sizeof(gates) / sizeof(gates[0]); i++) {
        json_object *g = tg_cli_jget(ver, gates[i]);
        if (!g || !json_object_is_type(g, json_type_object))
            continue;
        const char *r = tg_cli_or(tg_cli_jstr(tg_cli_jget(g, "result")), "Unknown");
        const char *reason = tg_cli_jstr(tg_cli_jget(g, "reason"));
        bool ok =
            strcmp(r, "Verified") == 0 || strcmp(r, "Present") == 0 || strcmp(r, "Passed") == 0;
        clip(r, 11, result, sizeof(result));
        gate_detail(gates[i], g, detail, sizeof(detail));
        put(o, "  %-15s  %-8s  ", gates[i], result);
        if (!detail[0] && reason && !ok) {
            put_clean(o, reason);
            put(o, "\n");
            continue;
        }
        put(o, "%s\n", detail);
        if (reason && *reason && !ok) {
            put(o, "  %-15s  %-8s  ", "", "");
            put_clean(o, reason);
            put(o, "\n");
        }
    }
}

const char *tg_cli_last_finished_release(json_object *rollout)
{
    json_object *hist = jarray(rollout, "status.history");
    const char *stable = tg_cli_jstr(tg_cli_jget(rollout, "status.stableRelease"));

    if (tg_cli_jstr(tg_cli_jget(rollout, "status.currentRelease")) || !hist ||
        json_object_array_length(hist) == 0)
        return NULL;
    const char *last = tg_cli_jstr(tg_cli_jget(json_object_array_get_idx(hist, 0), "release"));
    return streq_opt(last, stable) ? NULL : last;
}

int tg_cli_render_status(const struct tg_cli_status_view *v, struct tg_buf *buf)
{
    struct out o = {.buf = buf};
    json_object *ro = v ? v->rollout : NULL;
    char label[512];

    if (!ro)
        return tg_error_set(TG_EINVALID, "no Rollout to show");
    const char *ns = tg_cli_jstr(tg_cli_jget(ro, "metadata.namespace"));
    const char *name = tg_cli_or(tg_cli_jstr(tg_cli_jget(ro, "metadata.name")), "?");
    if (ns)
        put(&o, "Rollout:     %s/%s\n", ns, name);
    else
        put(&o, "Rollout:     %s\n", name);
    render_phase(ro, v->now_ms, &o);
    render_strategy(ro, &o);
    if (!is_blue_green(ro))
        render_step(ro, &o);
    render_weight(ro, &o);

    const char *stable = tg_cli_jstr(tg_cli_jget(ro, "status.stableRelease"));
    const char *current = tg_cli_jstr(tg_cli_jget(ro, "status.currentRelease"));
    release_label(ro, stable, v->stable_release, label, sizeof(label));
    put(&o, "Stable:      %s\n", label);
    release_label(ro, current, v->current_release, label, sizeof(label));
    put(&o, "Current:     %s", label);
    const char *rphase = tg_cli_jstr(tg_cli_jget(v->current_release, "status.phase"));
    if (current && rphase)
        put(&o, ", %s", rphase);
    const char *rmsg = tg_cli_jstr(tg_cli_jget(v->current_release, "status.message"));
    if (current && rmsg)
        put(&o, ": %s", rmsg);
    put(&o, "\n");
    const char *last = tg_cli_last_finished_release(ro);
    json_object *shown = current ? v->current_release : NULL;
    if (last) {
        release_label(ro, last, v->last_release, label, sizeof(label));
        put(&o, "Last:        %s", label);
        rphase =
            tg_cli_or(tg_cli_jstr(tg_cli_jget(v->last_release, "status.phase")),
                      tg_cli_jstr(tg_cli_jget(
                          json_object_array_get_idx(jarray(ro, "status.history"), 0), "result")));
        rmsg = tg_cli_jstr(tg_cli_jget(v->last_release, "status.message"));
        if (rphase)
            put(&o, ", %s", rphase);
        if (rmsg)
            put(&o, ": %s", rmsg);
        put(&o, "\n");
        shown = v->last_release;
    }

    render_verification(shown, &o);
    render_tracks(ro, &o);
    render_analysis(ro, shown, v->now_ms, &o);
    render_conditions(v, shown, &o);
    render_events(v, &o);
    return o.rc;
}

static int cmp_rollouts(const void *a, const void *b)
{
    json_object *ra = *(json_object *const *)a, *rb = *(json_object *const *)b;
    int c = strcmp(tg_cli_or(tg_cli_jstr(tg_cli_jget(ra, "metadata.namespace")), ""),
                   tg_cli_or(tg_cli_jstr(tg_cli_jget(rb, "metadata.namespace")), ""));
    if (c)
        return c;
    return strcmp(tg_cli_or(tg_cli_jstr(tg_cli_jget(ra, "metadata.name")), ""),
                  tg_cli_or(tg_cli_jstr(tg_cli_jget(rb, "metadata.name")), ""));
}

/* One row of the Rollout table, after the NAMESPACE column when there is one. */
static void list_row(json_object *ro, bool all_namespaces, int64_t now_ms, struct table *t)
{
    char step[48] = "-", weight[16] = "-", age[32];
    json_object *steps = canary_steps(ro);
    json_object *cur = tg_cli_jget(ro, "status.currentStep");
    json_object *w = tg_cli_jget(ro, "status.canaryWeight");

    if (!is_blue_green(ro) && steps && cur) {
        size_t total = json_object_array_length(steps);
        int64_t c = tg_cli_jint(cur, 0);
        size_t shown = c < 0 ? 0 : ((size_t)c >= total ? total : (size_t)c + 1);
        snprintf(step, sizeof(step), "%zu/%zu", shown, total);
    }
    if (w)
        snprintf(weight, sizeof(weight), "%lld%%", (long long)tg_cli_jint(w, 0));
    age_of(tg_cli_jstr(tg_cli_jget(ro, "metadata.creationTimestamp")), now_ms, age, sizeof(age));
    const char *strategy = tg_cli_jstr(tg_cli_jget(ro, "status.strategy"));
    if (!strategy)
        strategy = is_blue_green(ro) ? "BlueGreen" : "Canary";
    const char *cells[] = {
        tg_cli_jstr(tg_cli_jget(ro, "metadata.namespace")),
        tg_cli_jstr(tg_cli_jget(ro, "metadata.name")),
        strategy,
        tg_cli_jstr(tg_cli_jget(ro, "status.phase")),
        step,
        weight,
        tg_cli_jstr(tg_cli_jget(ro, "status.stableRelease")),
        tg_cli_jstr(tg_cli_jget(ro, "status.currentRelease")),
        age,
    };
    table_row(t, all_namespaces ? cells : cells + 1);
}

int tg_cli_render_list(json_object *items, bool all_namespaces, int64_t now_ms, struct tg_buf *buf)
{
    struct out o = {.buf = buf};
    struct table t;
    size_t n;

    if (!items || !json_object_is_type(items, json_type_array))
        return tg_error_set(TG_EINVALID, "no list of Rollouts to show");
    n = json_object_array_length(items);
    if (n == 0)
        return 0;
    json_object **ros = calloc(n, sizeof(*ros));
    if (!ros)
        return tg_error_set(TG_ENOMEM, "out of memory sorting Rollouts");
    for (size_t i = 0; i < n; i++)
        ros[i] = json_object_array_get_idx(items, i);
    qsort(ros, n, sizeof(*ros), cmp_rollouts);

    static const char *const header[] = {"NAMESPACE", "NAME",   "STRATEGY", "PHASE", "STEP",
                                         "WEIGHT",    "STABLE", "CURRENT",  "AGE"};
    table_init(&t, all_namespaces ? 9 : 8);
    table_row(&t, all_namespaces ? header : header + 1);
    for (size_t i = 0; i < n; i++)
        list_row(ros[i], all_namespaces, now_ms, &t);
    free(ros);
    table_write(&t, &o, "");
    table_free(&t);
    return o.rc;
}

int tg_cli_render_history(json_object *rollout, struct tg_buf *buf)
{
    struct out o = {.buf = buf};
    json_object *hist = tg_cli_jget(rollout, "status.history");
    struct table t;

    if (!rollout)
        return tg_error_set(TG_EINVALID, "no Rollout to show");
    if (!hist || !json_object_is_type(hist, json_type_array) || json_object_array_length(hist) == 0)
        return 0;
    table_init(&t, 6);
    table_row(&t, (const char *const[]){"RELEASE", "VERSION", "RESULT", "STARTED", "FINISHED",
                                        "DURATION"});
    for (size_t i = 0; i < json_object_array_length(hist); i++) {
        json_object *h = json_object_array_get_idx(hist, i);
        const char *started = tg_cli_jstr(tg_cli_jget(h, "startedAt"));
        const char *finished = tg_cli_jstr(tg_cli_jget(h, "finishedAt"));
        char duration[32] = "";
        int64_t s, f;
        if (tg_cli_parse_time(started, &s) && tg_cli_parse_time(finished, &f))
            tg_cli_format_age(f - s, duration, sizeof(duration));
        table_row(&t, (const char *const[]){tg_cli_jstr(tg_cli_jget(h, "release")),
                                            tg_cli_jstr(tg_cli_jget(h, "version")),
                                            tg_cli_jstr(tg_cli_jget(h, "result")), started,
                                            finished, duration});
    }
    table_write(&t, &o, "");
    table_free(&t);
    return o.rc;
}
