/* Prometheus text exposition helpers; see metrics.h. */
#include "server/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/error.h"

void tg_histogram_init(struct tg_histogram *h, const double *bounds, size_t nbounds)
{
    h->bounds = bounds;
    h->nbounds = nbounds > TG_HISTOGRAM_MAX_BUCKETS ? TG_HISTOGRAM_MAX_BUCKETS : nbounds;
    for (size_t i = 0; i <= TG_HISTOGRAM_MAX_BUCKETS; i++)
        h->counts[i] = 0;
    h->sum = 0;
    h->count = 0;
}

void tg_histogram_observe(struct tg_histogram *h, double v)
{
    size_t i = 0;

    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

/* Formats a sample value as Prometheus expects: +Inf, -Inf, NaN, or the shortest exact form. */
static void format_value(double v, char *out, size_t n)
{
    if (isnan(v))
        snprintf(out, n, "NaN");
    else if (isinf(v))
        snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, n, "%.0f", v);
    else {
        /* The shortest of %.15g and %.17g that reads back as the same double. */
        snprintf(out, n, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, n, "%.17g", v);
    }
}

int tg_metrics_family(struct tg_buf *b, const char *name, const char *type, const char *help)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);

    if (n < 0 || (size_t)n >= sizeof(line))
        return tg_error_set(TG_EINVALID, "metric family %s: help text too long", name);
    return tg_buf_append(b, line, (size_t)n);
}

int tg_metrics_sample(struct tg_buf *b, const char *name, const char *labels, double v)
{
    char value[64];
    char line[1024];
    int n;

    format_value(v, value, sizeof(value));
    if (labels && *labels)
        n = snprintf(line, sizeof(line), "%s{%s} %s\n", name, labels, value);
    else
        n = snprintf(line, sizeof(line), "%s %s\n", name, value);
    if (n < 0 || (size_t)n >= sizeof(line))
        return tg_error_set(TG_EINVALID, "metric sample %s: labels too long", name);
    return tg_buf_append(b, line, (size_t)n);
}

int tg_metrics_histogram(struct tg_buf *b, const char *name, const char *labels,
                         const struct tg_histogram *h)
{
    char series[256];
    char lbl[768];
    char le[64];
    uint64_t cumulative = 0;
    const char *sep = labels && *labels ? "," : "";
    int rc;

    snprintf(series, sizeof(series), "%s_bucket", name);
    for (size_t i = 0; i <= h->nbounds; i++) {
        cumulative += h->counts[i];
        if (i < h->nbounds)
            format_value(h->bounds[i], le, sizeof(le));
        else
            snprintf(le, sizeof(le), "+Inf");
        snprintf(lbl, sizeof(lbl), "%s%sle=\"%s\"", labels ? labels : "", sep, le);
        if ((rc = tg_metrics_sample(b, series, lbl, (double)cumulative)))
            return rc;
    }
    snprintf(series, sizeof(series), "%s_sum", name);
    if ((rc = tg_metrics_sample(b, series, labels, h->sum)))
        return rc;
    snprintf(series, sizeof(series), "%s_count", name);
    return tg_metrics_sample(b, series, labels, (double)h->count);
}

int tg_metrics_escape(const char *value, char *out, size_t n)
{
    size_t j = 0;

    for (const char *p = value; *p; p++) {
        const char *rep = NULL;
        char one[2] = {*p, '\0'};
        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '"')
            rep = "\\\"";
        else if (*p == '\n')
            rep = "\\n";
        else
            rep = one;
        for (const char *r = rep; *r; r++) {
            if (j + 1 >= n) {
                if (n)
                    out[n - 1] = '\0';
                return tg_error_set(TG_ETOOBIG, "label value too long");
            }
            out[j++] = *r;
        }
    }
    if (n)
        out[j] = '\0';
    return 0;
}

uint64_t tg_process_rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

int tg_metrics_process(struct tg_buf *b)
{
    struct rusage ru;
    double cpu = 0;
    int rc;

    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if ((rc = tg_metrics_family(b, "process_resident_memory_bytes", "gauge",
                                "Resident memory size in bytes.")) ||
        (rc = tg_metrics_sample(b, "process_resident_memory_bytes", NULL,
                                (double)tg_process_rss_bytes())) ||
        (rc = tg_metrics_family(b, "process_cpu_seconds_total", "counter",
                                "Total user and system CPU time spent in seconds.")))
        return rc;
    return tg_metrics_sample(b, "process_cpu_seconds_total", NULL, cpu);
}
