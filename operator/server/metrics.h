/*
 * Prometheus text exposition (format 0.0.4): helpers that write families, samples and
 * histograms into a capped buffer, and the process figures every /metrics carries. Label sets
 * are fixed by the callers (verb, code, controller, result): never per-object values, so the
 * number of series stays bounded.
 */
#ifndef TG_SERVER_METRICS_H
#define TG_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define TG_HISTOGRAM_MAX_BUCKETS 16

/* A cumulative histogram with fixed upper bounds. Embed by value. */
struct tg_histogram {
    const double *bounds;                          /* ascending upper bounds; borrowed */
    size_t nbounds;                                /* at most TG_HISTOGRAM_MAX_BUCKETS */
    uint64_t counts[TG_HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket, last is +Inf; not cumulative */
    double sum;
    uint64_t count;
};

/* Sets up an empty histogram; bounds must outlive it. nbounds is clamped to the maximum. */
void tg_histogram_init(struct tg_histogram *h, const double *bounds, size_t nbounds);

void tg_histogram_observe(struct tg_histogram *h, double v);

/*
 * Writes the "# HELP" and "# TYPE" lines of a family. type is "counter", "gauge" or
 * "histogram". Returns 0 or TG_ETOOBIG/TG_ENOMEM from the buffer.
 */
int tg_metrics_family(struct tg_buf *b, const char *name, const char *type, const char *help);

/*
 * Writes one sample line. labels is NULL or a preformatted label list without braces, e.g.
 * `verb="get",code="200"`, whose values the caller escaped with tg_metrics_escape.
 */
int tg_metrics_sample(struct tg_buf *b, const char *name, const char *labels, double v);

/* Writes the _bucket (cumulative, with le), _sum and _count lines of a histogram. */
int tg_metrics_histogram(struct tg_buf *b, const char *name, const char *labels,
                         const struct tg_histogram *h);

/*
 * Escapes a label value (backslash, double quote, newline) into out (size n, always
 * terminated). Returns 0, or TG_ETOOBIG if it did not fit.
 */
int tg_metrics_escape(const char *value, char *out, size_t n);

/* The process's resident set size in bytes (from /proc/self/statm), or 0 if unknown. */
uint64_t tg_process_rss_bytes(void);

/* Writes process_resident_memory_bytes and process_cpu_seconds_total. */
int tg_metrics_process(struct tg_buf *b);

#endif
