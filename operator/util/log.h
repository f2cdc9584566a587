/*
 * Structured logs: one line per record on stderr, JSON lines by default
 * ({"ts":"...","level":"info","msg":"...","key":"value",...}) or text with a flag. Values whose
 * key names a credential (token, authorization, password, secret, in any case and anywhere in
 * the key) are replaced by "[REDACTED]", so a caller can never leak one by mistake.
 *
 * The logger is process-wide state configured once by main(); tests point it at a memory
 * stream and a fake clock.
 */
#ifndef TG_UTIL_LOG_H
#define TG_UTIL_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include "util/clock.h"

enum tg_log_level {
    TG_LOG_DEBUG = 0,
    TG_LOG_INFO = 1,
    TG_LOG_WARN = 2,
    TG_LOG_ERROR = 3,
};

enum tg_log_format {
    TG_LOG_JSON = 0, /* one JSON object a line */
    TG_LOG_TEXT = 1, /* "2026-11-26T06:20:25.123Z INFO msg key=value" */
};

/*
 * Sets the format, the lowest level written, the stream (NULL: stderr) and the clock for the
 * timestamps (NULL: the system clock). The stream and the clock are borrowed and must outlive
 * their use by the logger.
 */
void tg_log_configure(enum tg_log_format format, enum tg_log_level min, FILE *out,
                      const struct tg_clock *clock);

/* Parses "debug", "info", "warn" (or "warning"), "error". Returns 0 or TG_EINVALID. */
int tg_log_parse_level(const char *s, enum tg_log_level *out);

/* Parses "json" or "text". Returns 0 or TG_EINVALID. */
int tg_log_parse_format(const char *s, enum tg_log_format *out);

/* Whether a record at this level would be written. */
bool tg_log_enabled(enum tg_log_level level);

/* Whether a value stored under this key must never be written (token, password, ...). */
bool tg_log_key_is_sensitive(const char *key);

/*
 * Writes one record: msg, then key/value pairs of strings. The macro ends the list; a NULL value
 * is written as JSON null (text: "<nil>"). Never fails; a record that cannot be built is
 * dropped. Example: tg_log(TG_LOG_INFO, "connected", "server", url);
 */
#define tg_log(level, ...) tg_log_kv((level), __VA_ARGS__, (const char *)0)

/* What tg_log expands to: the key/value list must end with a (const char *)0 key. */
void tg_log_kv(enum tg_log_level level, const char *msg, ...);

#endif
