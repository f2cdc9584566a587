/* The Mann-Whitney U test; see mannwhitney.h. */
#include "analysis/mannwhitney.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* One value of the pooled sample, and which sample it came from. */
struct pooled {
    double v;
    bool from_x;
};

static int cmp_pooled(const void *a, const void *b)
{
    double x = ((const struct pooled *)a)->v, y = ((const struct pooled *)b)->v;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int check_sample(const double *s, size_t n, const char *name)
{
    if (n == 0)
        return tg_error_set(TG_EINVALID, "Mann-Whitney: sample %s is empty", name);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(s[i]))
            return tg_error_set(TG_EINVALID,
                                "Mann-Whitney: sample %s holds a value that is "
                                "not a finite number (at %zu)",
                                name, i);
    return 0;
}

static int median(const double *s, size_t n, double *out)
{
    double *c = malloc(n * sizeof(*c));

    if (!c)
        return tg_error_set(TG_ENOMEM, "Mann-Whitney: out of memory");
    memcpy(c, s, n * sizeof(*c));
    qsort(c, n, sizeof(*c), cmp_double);
    *out = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return 0;
}

/*
 * U of x and the tie term sum(t^3 - t) over groups of tied values, from the ranks of the pooled
 * sample (tied values share their average rank).
 */
static int rank_sum(const double *x, size_t nx, const double *y, size_t ny, double *u, double *ties)
{
    size_t n = nx + ny;
    struct pooled *p = malloc(n * sizeof(*p));
    double rx = 0;

    if (!p)
        return tg_error_set(TG_ENOMEM, "Mann-Whitney: out of memory");
    for (size_t i = 0; i < nx; i++)
        p[i] = (struct pooled){x[i], true};
    for (size_t i = 0; i < ny; i++)
        p[nx + i] = (struct pooled){y[i], false};
    qsort(p, n, sizeof(*p), cmp_pooled);
    *ties = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && p[j + 1].v == p[i].v)
            j++;
        double t = (double)(j - i + 1);
        double rank = ((double)i + (double)j) / 2 + 1; /* ranks count from 1 */
        for (size_t k = i; k <= j; k++)
            if (p[k].from_x)
                rx += rank;
        *ties += t * t * t - t;
        i = j + 1;
    }
    free(p);
    *u = rx - (double)nx * ((double)nx + 1) / 2;
    return 0;
}

/*
 * The exact distribution of U for samples of m and n values without ties: dist[u] =
 * P(U = u), u = 0..m*n, by the recurrence on the largest pooled value: it is one of x with
 * probability m/(m+n) and then beats all n values of y. Every step is a convex combination, so
 * it is numerically stable. dist holds m*n+1 doubles.
 */
static int exact_distribution(size_t m, size_t n, double *dist)
{
    size_t width = m * n + 1;
    /* prev[j][u] = P(U = u) for (i - 1, j); cur for (i, j). */
    double *prev = calloc((n + 1) * width, sizeof(double));
    double *cur = calloc((n + 1) * width, sizeof(double));

    if (!prev || !cur) {
        free(prev);
        free(cur);
        return tg_error_set(TG_ENOMEM, "Mann-Whitney: out of memory");
    }
    for (size_t j = 0; j <= n; j++)
        prev[j * width] = 1; /* no x: U = 0 */
    for (size_t i = 1; i <= m; i++) {
        memset(cur, 0, (n + 1) * width * sizeof(double));
        cur[0] = 1; /* no y: U = 0 */
        for (size_t j = 1; j <= n; j++) {
            double px = (double)i / (double)(i + j);
            double *c = cur + j * width;
            const double *from_x = prev + j * width;      /* (i - 1, j), shifted by j */
            const double *from_y = cur + (j - 1) * width; /* (i, j - 1) */
            for (size_t u = 0; u <= i * j; u++) {
                double v = (1 - px) * from_y[u];
                if (u >= j)
                    v += px * from_x[u - j];
                c[u] = v;
            }
        }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    memcpy(dist, prev + n * width, width * sizeof(double));
    free(prev);
    free(cur);
    return 0;
}

static double normal_sf(double z)
{
    return 0.5 * erfc(z / sqrt(2.0));
}

int tg_mw_test(const double *x, size_t nx, const double *y, size_t ny, enum tg_mw_alternative alt,
               struct tg_mw_result *out)
{
    double u = 0, ties = 0, mu = (double)nx * (double)ny / 2;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_sample(x, nx, "x")) || (rc = check_sample(y, ny, "y")) ||
        (rc = median(x, nx, &out->median_x)) || (rc = median(y, ny, &out->median_y)) ||
        (rc = rank_sum(x, nx, y, ny, &u, &ties)))
        return rc;
    out->u = u;
    if (ties == 0 && nx <= TG_MW_EXACT_MAX && ny <= TG_MW_EXACT_MAX) {
        size_t width = nx * ny + 1, k = (size_t)u; /* without ties U is a whole number */
        double *dist = malloc(width * sizeof(double));
        double le = 0, ge = 0;
        if (!dist)
            return tg_error_set(TG_ENOMEM, "Mann-Whitney: out of memory");
        if ((rc = exact_distribution(nx, ny, dist))) {
            free(dist);
            return rc;
        }
        for (size_t i = 0; i < width; i++) {
            if (i <= k)
                le += dist[i];
            if (i >= k)
                ge += dist[i];
        }
        free(dist);
        out->exact = true;
        out->p = alt == TG_MW_GREATER ? ge : alt == TG_MW_LESS ? le : 2 * fmin(le, ge);
        out->p = fmin(1.0, out->p);
        return 0;
    }
    double n = (double)(nx + ny);
    double var = (double)nx * (double)ny / 12 * ((n + 1) - ties / (n * (n - 1)));
    if (var <= 0) {
        out->p = 1; /* every value tied: no evidence either way */
        return 0;
    }
    double sd = sqrt(var);
    switch (alt) {
    case TG_MW_GREATER:
        out->z = (u - mu - 0.5) / sd;
        out->p = normal_sf(out->z);
        break;
    case TG_MW_LESS:
        out->z = (u - mu + 0.5) / sd;
        out->p = normal_sf(-out->z);
        break;
    case TG_MW_TWO_SIDED:
        out->z = (fmax(u, (double)nx * (double)ny - u) - mu - 0.5) / sd;
        out->p = fmin(1.0, 2 * normal_sf(out->z));
        break;
    }
    return 0;
}
