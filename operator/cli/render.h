/*
 * What kubectl-tollgate prints, as pure functions: a Rollout's status page, the table of
 * Rollouts, a Rollout's release history. They read the json-c objects the API server returned
 * (never the typed specs: a Rollout with an invalid spec must still be shown) and append text
 * to a capped buffer. No I/O, no clock: the current time comes in as an argument, so the ages
 * in the output are the same on every run of a test.
 *
 * Tables follow kubectl's layout: upper-case headers, columns padded to the widest cell plus
 * three spaces, "<none>" for an empty cell, ages such as "45s", "3m20s", "5h", "12d".
 */
#ifndef TG_CLI_RENDER_H
#define TG_CLI_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "util/buf.h"

/* The most Events the status page shows (the newest ones). */
#define TG_CLI_STATUS_EVENTS 5

/*
 * Bounds of the analysis section: the most runs, and the most metrics or smoke tests per run,
 * shown (the rest are counted in a "... and n more" line), and the longest message shown.
 */
#define TG_CLI_ANALYSIS_RUNS    16
#define TG_CLI_ANALYSIS_ITEMS   32
#define TG_CLI_ANALYSIS_MESSAGE 240

/* The operator keeps the last 10 measurements of a metric; the page shows the latest only. */
#define TG_CLI_ANALYSIS_MEASUREMENTS 10

/*
 * The longest value of a verification gate shown (a signer, a builder, a source repository),
 * in bytes; longer ones are cut with "...".
 */
#define TG_CLI_VERIFY_VALUE 60

/* The width of the step progress bar, in characters between the brackets. */
#define TG_CLI_BAR_WIDTH 20

/* Everything the status page shows. All objects are borrowed. */
struct tg_cli_status_view {
    json_object *rollout;         /* the Rollout; required */
    json_object *current_release; /* status.currentRelease's Release, or NULL */
    json_object *stable_release;  /* status.stableRelease's Release, or NULL */
    json_object *last_release;    /* tg_cli_last_finished_release()'s Release, or NULL */
    json_object *events;          /* a JSON array of core/v1 Events, any order, or NULL */
    int64_t now_ms;               /* wall-clock milliseconds since the epoch, for ages */
};

/*
 * Appends the status page of a Rollout to out: phase (with the pause reason), strategy, step
 * n/m with a progress bar, weights, the stable and current Releases with their versions (and
 * the last finished Release when none is in flight), the verification of the Release shown (its
 * status.verification: the verdict, then a line per gate with what it checked and, when it did
 * not pass, its reason; values longer than TG_CLI_VERIFY_VALUE are cut), the tracks with their
 * ready replicas, the analysis of the Release shown (its status.analysis: runs, metrics with
 * their counts and latest measurement, smoke tests; the metric or smoke test that paused or
 * rolled the Release back is marked "X"), the conditions that need attention (InvalidSpec,
 * Paused, Failed or Stalled True, Healthy not True) of the Rollout and the Release shown, and
 * the newest Events. Malformed analysis and verification entries are skipped. Returns 0,
 * TG_EINVALID (no Rollout), TG_ENOMEM or TG_ETOOBIG (the buffer's cap).
 */
int tg_cli_render_status(const struct tg_cli_status_view *view, struct tg_buf *out);

/*
 * The name of the last finished Release the status page shows when none is in flight: the
 * newest entry of status.history, unless it is the stable Release. NULL when a Release is in
 * flight or there is none to show. Borrowed from rollout.
 */
const char *tg_cli_last_finished_release(json_object *rollout);

/*
 * Appends the table of Rollouts (a JSON array of Rollout objects) to out, sorted by namespace
 * and name: NAME STRATEGY PHASE STEP WEIGHT STABLE CURRENT AGE, with a NAMESPACE column first
 * when all_namespaces. An empty array appends nothing. Returns as tg_cli_render_status().
 */
int tg_cli_render_list(json_object *items, bool all_namespaces, int64_t now_ms, struct tg_buf *out);

/*
 * Appends a Rollout's status.history as a table, newest first as stored: RELEASE VERSION
 * RESULT STARTED FINISHED DURATION. An empty history appends nothing. Returns as
 * tg_cli_render_status().
 */
int tg_cli_render_history(json_object *rollout, struct tg_buf *out);

/*
 * Writes a duration the way kubectl writes ages ("0s", "45s", "3m20s", "15m", "5h10m", "30h",
 * "3d4h", "40d", "2y3d") into buf (always NUL-terminated). Negative durations count as 0.
 */
void tg_cli_format_age(int64_t ms, char *buf, size_t size);

/*
 * Parses a Kubernetes timestamp ("2026-11-26T06:00:00Z", optionally with a fraction of a
 * second) into milliseconds since the epoch. Returns false when s is NULL or malformed.
 */
bool tg_cli_parse_time(const char *s, int64_t *ms);

/*
 * Writes "[#####---------------]" for done of total into buf, width characters between the
 * brackets (done is clamped to total; a total of 0 gives an empty bar).
 */
void tg_cli_progress_bar(size_t done, size_t total, size_t width, char *buf, size_t size);

#endif
