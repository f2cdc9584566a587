/*
 * The Mann-Whitney U test (Wilcoxon rank-sum), for judging a canary's samples against the
 * baseline's: does one tend to be larger than the other, beyond chance? Pure arithmetic on
 * the samples the caller passes; no allocation beyond a copy of the samples for ranking.
 *
 * The p-value is exact (the distribution of U counted by recurrence) when there are no ties and
 * both samples hold at most TG_MW_EXACT_MAX values; otherwise it is the normal approximation
 * with the tie correction of the variance and a continuity correction of 0.5 (SciPy's
 * mannwhitneyu, method "asymptotic", use_continuity=True).
 */
#ifndef TG_ANALYSIS_MANNWHITNEY_H
#define TG_ANALYSIS_MANNWHITNEY_H

#include <stdbool.h>
#include <stddef.h>

/* Largest sample size for which the exact distribution is used (when there are no ties). */
#define TG_MW_EXACT_MAX 50

/* Which difference the test looks for. */
enum tg_mw_alternative {
    TG_MW_TWO_SIDED, /* x and y differ */
    TG_MW_GREATER,   /* x tends to be larger than y (a canary slower than its baseline) */
    TG_MW_LESS,      /* x tends to be smaller than y */
};

struct tg_mw_result {
    double u;        /* U of x: pairs (xi, yj) with xi > yj, plus half of the tied pairs */
    double z;        /* the standardised U (0 with the exact method) */
    double p;        /* the p-value for the alternative asked */
    bool exact;      /* the exact distribution was used */
    double median_x; /* medians, for a bound on their ratio */
    double median_y;
};

/*
 * Runs the test on x (nx values) and y (ny values), both borrowed. Returns 0 with *out filled,
 * TG_EINVALID (with a message) when a sample is empty or holds NaN or an infinity, or
 * TG_ENOMEM.
 */
int tg_mw_test(const double *x, size_t nx, const double *y, size_t ny, enum tg_mw_alternative alt,
               struct tg_mw_result *out);

#endif
