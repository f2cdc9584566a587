/*
 * Judging a threshold metric, purely: one Prometheus answer becomes one measurement result
 * (pass, fail, inconclusive, error, or no data handled by the metric's policy), and the
 * measurements of a metric fold into its verdict under the limits Argo Rollouts users know
 * (failureLimit, inconclusiveLimit, consecutiveErrorLimit, count). A dry-run metric is judged the
 * same way, and its verdict is recorded but never gates (tg_metric_gates).
 */
#ifndef TG_ANALYSIS_EVALUATE_H
#define TG_ANALYSIS_EVALUATE_H

#include <stdbool.h>

#include "analysis/promql.h"

/* What a query that returns no data (an empty vector, or NaN from 0/0) means for a metric. */
enum tg_nodata_policy {
    TG_NODATA_FAIL,         /* a failed measurement */
    TG_NODATA_INCONCLUSIVE, /* an inconclusive one: pauses for a human once over the limit */
    TG_NODATA_PASS,         /* a passing one (e.g. no errors because no traffic) */
    TG_NODATA_WAIT,         /* not a measurement at all: measure again next interval */
};

struct tg_metric_policy {
    bool has_min, has_max;
    double min, max;                  /* the value must be >= min and <= max */
    enum tg_nodata_policy no_data;    /* default TG_NODATA_INCONCLUSIVE */
    unsigned failure_limit;           /* failures allowed; one more fails the metric (default 0) */
    unsigned inconclusive_limit;      /* likewise for inconclusive measurements (default 0) */
    unsigned consecutive_error_limit; /* query errors in a row allowed (default 4) */
    unsigned count;                   /* measurements that make a verdict; 0: until told to stop */
    bool dry_run;                     /* measured and recorded, never gates */
};

/* One measurement. */
enum tg_measurement {
    TG_MEASURE_PASS,
    TG_MEASURE_FAIL,
    TG_MEASURE_INCONCLUSIVE,
    TG_MEASURE_ERROR,   /* the query failed, or its answer is not one number */
    TG_MEASURE_NO_DATA, /* with TG_NODATA_WAIT: nothing counted */
};

/* Where a metric stands after its measurements so far. */
enum tg_verdict {
    TG_VERDICT_RUNNING,
    TG_VERDICT_SUCCESSFUL,
    TG_VERDICT_FAILED,
    TG_VERDICT_INCONCLUSIVE,
    TG_VERDICT_ERROR, /* consecutiveErrorLimit passed */
};

/* The counts a metric's verdict is computed from; zero-initialise. Lives in status. */
struct tg_metric_tally {
    unsigned measurements; /* counted measurements (no-data waits excluded) */
    unsigned failures;
    unsigned inconclusives;
    unsigned errors;             /* in all */
    unsigned consecutive_errors; /* since the last measurement that was not an error */
};

/*
 * Judges one answer. query_rc is the query's outcome (0, or a TG_E* code: the answer is then
 * ignored and the measurement is an error). A scalar, or a vector of exactly one series, gives
 * the value; an empty vector, or NaN, is no data (by the policy); several series or a matrix is
 * an error (the query must say which one number to judge). *value is set when there is one.
 */
enum tg_measurement tg_metric_measure(const struct tg_metric_policy *p, int query_rc,
                                      const struct tg_prom_result *answer, double *value);

/* What an answer with no data counts as under the metric's noData policy. */
enum tg_measurement tg_metric_no_data(const struct tg_metric_policy *p);

/* Adds a measurement to the tally and returns the metric's verdict after it. */
enum tg_verdict tg_metric_observe(const struct tg_metric_policy *p, struct tg_metric_tally *t,
                                  enum tg_measurement m);

/* Whether a verdict stops the delivery: a failed, inconclusive or errored metric, unless dry-run.
 */
bool tg_metric_gates(const struct tg_metric_policy *p, enum tg_verdict v);

/* Names for status and Events: "Pass", "Fail", ...; "Running", "Successful", .... */
const char *tg_measurement_name(enum tg_measurement m);
const char *tg_verdict_name(enum tg_verdict v);

#endif
