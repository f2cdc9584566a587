/*
 * The watch stream decoder: turns the bytes of a Kubernetes watch response, delivered in chunks
 * of any size, into events.
 *
 * A watch response is a stream of JSON objects, one a line:
 *   {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}
 * The decoder frames lines in a capped buffer (only the unfinished tail of a chunk is copied;
 * complete lines inside a chunk are parsed in place), parses every complete line exactly once
 * with json-c, and hands each event to a callback. It tolerates CRLF line ends, empty lines and
 * a last line without a newline (tg_watch_finish). It remembers the resourceVersion of the last
 * event handled (BOOKMARK included) so that a dropped watch can resume from it.
 *
 * An ERROR event ends the stream: a Status with code 410 (or reason Expired/Gone) is reported
 * as TG_EGONE (the caller must relist), any other Status as the TG_E* code its HTTP code maps
 * to, with the server's message as the last-error message. Any error is sticky: the decoder
 * refuses further input until tg_watch_restart() (a new watch request) resets it.
 *
 * Pure code: no I/O, no clock, no globals. Not thread-safe; one decoder per watch.
 */
#ifndef TG_KUBE_WATCH_H
#define TG_KUBE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct json_object;
struct json_tokener;

/* The default cap on one watch line: a Kubernetes object may be up to about 1.5 MiB in etcd. */
#define TG_WATCH_DEFAULT_MAX_LINE (4u << 20)

/* The longest resourceVersion kept (etcd revisions are decimal 64-bit numbers). */
#define TG_WATCH_RV_MAX 128

enum tg_watch_type {
    TG_WATCH_ADDED = 1,
    TG_WATCH_MODIFIED,
    TG_WATCH_DELETED,
    TG_WATCH_BOOKMARK,
};

/*
 * Called once for every event but ERROR, in stream order. object is BORROWED: it is valid for
 * the duration of the call only; a callback that keeps it takes its own reference with
 * json_object_get() (and may modify it: nothing else holds it). Returning non-zero stops the
 * decoder: tg_watch_feed() returns that value and the decoder stays failed until restarted;
 * return a TG_E* code with the last-error message set.
 */
typedef int (*tg_watch_event_fn)(void *ctx, enum tg_watch_type type, struct json_object *object);

/* The decoder. Embed it by value; its fields are private. */
struct tg_watch {
    struct tg_buf line;       /* the unfinished line carried between chunks */
    struct json_tokener *tok; /* reused for every line */
    tg_watch_event_fn fn;     /* the event callback */
    void *ctx;                /* passed to fn */
    int failed;               /* 0, or the sticky error that ended the stream */
    uint64_t events;          /* events handed to fn since init */
    char rv[TG_WATCH_RV_MAX]; /* resourceVersion of the last event handled; "" if none */
};

/*
 * Sets up a decoder that refuses lines longer than max_line bytes (0: the default). Returns 0
 * or TG_ENOMEM. On success the decoder must be released with tg_watch_free().
 */
int tg_watch_init(struct tg_watch *w, size_t max_line, tg_watch_event_fn fn, void *ctx);

/* Frees what the decoder holds. Safe on a decoder whose init failed or that was freed. */
void tg_watch_free(struct tg_watch *w);

/*
 * Feeds the next n bytes of the stream. Calls fn for each event completed by these bytes.
 * Returns 0; TG_ETOOBIG when a line passes the cap; TG_EINVALID for a line that is not a watch
 * event; TG_EGONE or another mapped code for an ERROR event; TG_ENOMEM; or what fn returned.
 * After an error nothing more is decoded (the rest of the chunk is dropped) and every further
 * call returns the same code until tg_watch_restart().
 */
int tg_watch_feed(struct tg_watch *w, const void *data, size_t n);

/*
 * Ends the stream: decodes a last line that had no newline. Returns as tg_watch_feed(), or
 * TG_ETRANSIENT when the stream stopped in the middle of an event (a dropped connection: resume
 * from the last resourceVersion). The unfinished line is discarded either way.
 */
int tg_watch_finish(struct tg_watch *w);

/*
 * Prepares the decoder for a new watch request: drops any unfinished line and a sticky error.
 * The last resourceVersion is kept (that is where the new watch resumes).
 */
void tg_watch_restart(struct tg_watch *w);

/* The resourceVersion of the last event handled, borrowed from the decoder; "" if none yet. */
const char *tg_watch_resource_version(const struct tg_watch *w);

/* Sets the resourceVersion to resume from (after a list). Returns 0 or TG_EINVALID if too long. */
int tg_watch_set_resource_version(struct tg_watch *w, const char *rv);

/* The name of an event type ("ADDED"); "UNKNOWN" for anything else. Never NULL. */
const char *tg_watch_type_name(enum tg_watch_type type);

#endif
