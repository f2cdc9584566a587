/*
 * The asynchronous side of analysis: Prometheus queries (/api/v1/query and /api/v1/query_range)
 * and HTTP smoke tests, run on the one libuv loop through kube/http.h. The answers are decoded
 * with analysis/promql.h; judging them is evaluate.h's business, not this module's.
 *
 * Every call that returns 0 ends with exactly one call of its callback, never before the call
 * returns: with the outcome, or with TG_ECANCELED when tg_checker_free abandons it. A call that
 * fails calls nothing back. Messages name the Prometheus address or the smoke URL, never a
 * credential: the bearer token and the basic-auth password go to Prometheus only, are never
 * logged, and are never sent to smoke-test URLs.
 */
#ifndef TG_ANALYSIS_CHECKER_H
#define TG_ANALYSIS_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "analysis/promql.h"

struct tg_checker;

/* How to reach Prometheus and how to verify TLS. Everything is copied by tg_checker_new. */
struct tg_checker_options {
    const char *prometheus_url; /* default base URL ("http://prom:9090", a path prefix allowed) */
    const char *bearer_token;   /* Prometheus auth, or NULL; takes precedence over basic auth */
    const char *username;       /* Prometheus basic auth, or NULL */
    const char *password;       /* its password, or NULL */
    const char *ca_pem;         /* PEM CA for Prometheus and smoke tests; NULL: system CAs */
    size_t ca_len;
    bool insecure; /* skip TLS verification */
};

/*
 * Makes a checker on loop. o may be NULL (no default address, no credentials). *out is the
 * caller's; release it with tg_checker_free. Returns 0, TG_ENOMEM or TG_EINVALID.
 */
int tg_checker_new(uv_loop_t *loop, const struct tg_checker_options *o, struct tg_checker **out);

/*
 * Cancels everything in flight: each pending query or smoke test, whether its request is on the
 * wire or it waits for a retry, is called back once with TG_ECANCELED before this returns. The
 * uv handles close asynchronously: run the loop until it has no more handles (uv_run with
 * UV_RUN_DEFAULT returns), after which the memory is freed. Safe to call from a callback.
 * c == NULL does nothing.
 */
void tg_checker_free(struct tg_checker *c);

/*
 * A query's outcome. rc is 0 with result decoded (borrowed for the duration of the callback) and
 * message "", or a negative TG_E* code with result NULL and message saying what went wrong,
 * naming the address: TG_EINVALID for an error Prometheus reported (its errorType and error are
 * in the message) or a body that is not its JSON, the code of tg_error_from_http for another
 * HTTP status, TG_EUNREACHABLE, TG_ETIMEOUT, TG_ETLS, TG_ECANCELED. The message is also the
 * last-error message while the callback runs.
 */
typedef void (*tg_checker_query_cb)(int rc, const char *message,
                                    const struct tg_prom_result *result, void *arg);

/*
 * Sends an instant query (POST /api/v1/query, form-encoded query and timeout). address is an
 * http(s) base URL, a path prefix allowed ("http://prom:9090/prometheus"), or NULL or "" for the
 * checker's default; a user and password in it are used but never shown in messages. The
 * bearer token, else the basic-auth user, of the options goes along. timeout_ms bounds the whole
 * request (0: 10 s) and is also sent as Prometheus' own timeout parameter. Returns 0, or
 * TG_EINVALID at once (no address anywhere, an address that is not an http(s) URL, an empty
 * query), TG_ENOMEM, TG_ECANCELED while freeing; the callback then never runs.
 */
int tg_checker_query(struct tg_checker *c, const char *address, const char *query, long timeout_ms,
                     tg_checker_query_cb cb, void *arg);

/*
 * Sends a range query (POST /api/v1/query_range) over [start_ms, end_ms] (Unix milliseconds)
 * with a step of step_ms (> 0), all sent as decimal seconds; otherwise as tg_checker_query.
 */
int tg_checker_query_range(struct tg_checker *c, const char *address, const char *query,
                           int64_t start_ms, int64_t end_ms, int64_t step_ms, long timeout_ms,
                           tg_checker_query_cb cb, void *arg);

/* An HTTP smoke test. Strings are copied by tg_checker_http. */
struct tg_smoke_http {
    const char *method;       /* NULL: "GET" */
    const char *url;          /* absolute http(s) URL, required; used as it is */
    int expected_status;      /* 0: 200 */
    const char *body_pattern; /* POSIX ERE the body must match, or NULL */
    long timeout_ms;          /* per attempt; 0: 5 s */
    int retries;              /* attempts after the first one, >= 0 */
    long retry_delay_ms;      /* between attempts; 0: 1 s */
};

/*
 * A smoke test's outcome. rc is 0 when the test ran (passed says whether it passed) and
 * TG_ECANCELED when tg_checker_free abandoned it. status is the last attempt's HTTP status (0
 * when none arrived). message says what the last attempt saw, for status and Events: "HTTP 200",
 * "HTTP 503 (expected 200)", "body did not match /\"ok\"/", "connection refused", "timed out
 * after 5000 ms", followed by " (after N attempts)" when there were several.
 */
typedef void (*tg_checker_http_cb)(int rc, bool passed, long status, const char *message,
                                   void *arg);

/*
 * Runs an HTTP smoke test: up to 1 + retries attempts, a failed one (transport error, another
 * status, a body that does not match) followed by the next after retry_delay_ms on a uv timer.
 * It passes when an attempt has the expected status and a body that matches the pattern (only
 * the first 1 MiB of a body is matched, up to its first NUL byte). No credential of the checker
 * is sent. Returns 0, or TG_EINVALID at once (no URL or not an http(s) one, a bad pattern,
 * negative retries, an expected status outside 100..599), TG_ENOMEM, TG_ECANCELED while
 * freeing; the callback then never runs.
 */
int tg_checker_http(struct tg_checker *c, const struct tg_smoke_http *spec, tg_checker_http_cb cb,
                    void *arg);

/*
 * Counters for /metrics. Queries count when their callback runs: cancelled ones, and calls
 * refused at once, count in neither queries_ok nor queries_failed.
 */
struct tg_checker_stats {
    uint64_t queries_ok;     /* queries answered and decoded */
    uint64_t queries_failed; /* queries that ended with an error */
    uint64_t http_attempts;  /* smoke-test requests sent */
};

void tg_checker_stats(const struct tg_checker *c, struct tg_checker_stats *out);

#endif
