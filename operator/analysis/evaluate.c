/* Judging threshold metrics; see evaluate.h. */
#include "analysis/evaluate.h"

#include <math.h>

enum tg_measurement tg_metric_no_data(const struct tg_metric_policy *p)
{
    switch (p->no_data) {
    case TG_NODATA_FAIL:
        return TG_MEASURE_FAIL;
    case TG_NODATA_PASS:
        return TG_MEASURE_PASS;
    case TG_NODATA_WAIT:
        return TG_MEASURE_NO_DATA;
    case TG_NODATA_INCONCLUSIVE:
        break;
    }
    return TG_MEASURE_INCONCLUSIVE;
}

enum tg_measurement tg_metric_measure(const struct tg_metric_policy *p, int query_rc,
                                      const struct tg_prom_result *answer, double *value)
{
    double v;

    if (query_rc || !answer)
        return TG_MEASURE_ERROR;
    if (answer->type == TG_PROM_MATRIX || answer->n_series > 1)
        return TG_MEASURE_ERROR;
    if (answer->n_series == 0 || answer->series[0].n == 0)
        return tg_metric_no_data(p);
    v = answer->series[0].values[0];
    if (isnan(v))
        return tg_metric_no_data(p);
    *value = v;
    if ((p->has_min && v < p->min) || (p->has_max && v > p->max))
        return TG_MEASURE_FAIL;
    return TG_MEASURE_PASS;
}

enum tg_verdict tg_metric_observe(const struct tg_metric_policy *p, struct tg_metric_tally *t,
                                  enum tg_measurement m)
{
    switch (m) {
    case TG_MEASURE_NO_DATA:
        break;
    case TG_MEASURE_ERROR:
        t->errors++;
        t->consecutive_errors++;
        break;
    case TG_MEASURE_FAIL:
        t->measurements++;
        t->failures++;
        t->consecutive_errors = 0;
        break;
    case TG_MEASURE_INCONCLUSIVE:
        t->measurements++;
        t->inconclusives++;
        t->consecutive_errors = 0;
        break;
    case TG_MEASURE_PASS:
        t->measurements++;
        t->consecutive_errors = 0;
        break;
    }
    if (t->failures > p->failure_limit)
        return TG_VERDICT_FAILED;
    if (t->consecutive_errors > p->consecutive_error_limit)
        return TG_VERDICT_ERROR;
    if (t->inconclusives > p->inconclusive_limit)
        return TG_VERDICT_INCONCLUSIVE;
    if (p->count && t->measurements >= p->count)
        return TG_VERDICT_SUCCESSFUL;
    return TG_VERDICT_RUNNING;
}

bool tg_metric_gates(const struct tg_metric_policy *p, enum tg_verdict v)
{
    return !p->dry_run &&
           (v == TG_VERDICT_FAILED || v == TG_VERDICT_INCONCLUSIVE || v == TG_VERDICT_ERROR);
}

const char *tg_measurement_name(enum tg_measurement m)
{
    static const char *const names[] = {"Pass", "Fail", "Inconclusive", "Error", "NoData"};
    return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "Unknown";
}

const char *tg_verdict_name(enum tg_verdict v)
{
    static const char *const names[] = {"Running", "Successful", "Failed", "Inconclusive", "Error"};
    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "Unknown";
}
