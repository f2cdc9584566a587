/* Structured logs; see log.h. */
#include "util/log.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/error.h"

static struct {
    enum tg_log_format format;
    enum tg_log_level min;
    FILE *out;
    const struct tg_clock *clock;
} logger = {TG_LOG_JSON, TG_LOG_INFO, NULL, NULL};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static const char *const sensitive_words[] = {"token", "authorization", "password", "secret"};

void tg_log_configure(enum tg_log_format format, enum tg_log_level min, FILE *out,
                      const struct tg_clock *clock)
{
    logger.format = format;
    logger.min = min;
    logger.out = out;
    logger.clock = clock;
}

int tg_log_parse_level(const char *s, enum tg_log_level *out)
{
    for (int i = TG_LOG_DEBUG; i <= TG_LOG_ERROR; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum tg_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = TG_LOG_WARN;
        return 0;
    }
    return tg_error_set(TG_EINVALID, "unknown log level \"%s\" (debug, info, warn, error)", s);
}

int tg_log_parse_format(const char *s, enum tg_log_format *out)
{
    if (strcmp(s, "json") == 0) {
        *out = TG_LOG_JSON;
        return 0;
    }
    if (strcmp(s, "text") == 0) {
        *out = TG_LOG_TEXT;
        return 0;
    }
    return tg_error_set(TG_EINVALID, "unknown log format \"%s\" (json, text)", s);
}

bool tg_log_enabled(enum tg_log_level level)
{
    return level >= logger.min && level <= TG_LOG_ERROR;
}

/* Case-insensitive substring search: strcasestr is a GNU extension we do not rely on. */
static bool contains_word(const char *s, const char *word)
{
    size_t n = strlen(word);

    for (; *s; s++) {
        if (strncasecmp(s, word, n) == 0)
            return true;
    }
    return false;
}

bool tg_log_key_is_sensitive(const char *key)
{
    for (size_t i = 0; i < sizeof(sensitive_words) / sizeof(sensitive_words[0]); i++) {
        if (contains_word(key, sensitive_words[i]))
            return true;
    }
    return false;
}

/* Formats the wall clock as RFC 3339 UTC with milliseconds. */
static void format_ts(char *out, size_t n)
{
    const struct tg_clock *clock = logger.clock ? logger.clock : tg_clock_system();
    int64_t ms = tg_clock_wall_ms(clock);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, n, "?");
        return;
    }
    size_t len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + len, n - len, ".%03dZ", (int)(ms % 1000));
}

static void write_json(const char *ts, enum tg_log_level level, const char *msg, va_list ap,
                       FILE *out)
{
    struct json_object *o = json_object_new_object();

    if (!o)
        return;
    json_object_object_add(o, "ts", json_object_new_string(ts));
    json_object_object_add(o, "level", json_object_new_string(level_names[level]));
    json_object_object_add(o, "msg", json_object_new_string(msg ? msg : ""));
    for (const char *key = va_arg(ap, const char *); key; key = va_arg(ap, const char *)) {
        const char *value = va_arg(ap, const char *);
        if (tg_log_key_is_sensitive(key) && value)
            value = "[REDACTED]";
        json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
    }
    fprintf(
        out, "%s\n",
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

/* A text value is quoted when it is empty or holds a space, a quote, '=' or a control byte. */
static void write_text_value(const char *v, FILE *out)
{
    bool quote = *v == '\0';

    for (const char *p = v; *p && !quote; p++)
        quote = isspace((unsigned char)*p) || *p == '"' || *p == '=' || iscntrl((unsigned char)*p);
    if (!quote) {
        fputs(v, out);
        return;
    }
    fputc('"', out);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (iscntrl((unsigned char)*p))
            fprintf(out, "\\x%02x", (unsigned char)*p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void write_text(const char *ts, enum tg_log_level level, const char *msg, va_list ap,
                       FILE *out)
{
    static const char *const upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};

    fprintf(out, "%s %s %s", ts, upper[level], msg ? msg : "");
    for (const char *key = va_arg(ap, const char *); key; key = va_arg(ap, const char *)) {
        const char *value = va_arg(ap, const char *);
        if (tg_log_key_is_sensitive(key) && value)
            value = "[REDACTED]";
        fprintf(out, " %s=", key);
        write_text_value(value ? value : "<nil>", out);
    }
    fputc('\n', out);
}

void tg_log_kv(enum tg_log_level level, const char *msg, ...)
{
    FILE *out = logger.out ? logger.out : stderr;
    char ts[40];
    va_list ap;

    if (!tg_log_enabled(level))
        return;
    format_ts(ts, sizeof(ts));
    va_start(ap, msg);
    if (logger.format == TG_LOG_TEXT)
        write_text(ts, level, msg, ap, out);
    else
        write_json(ts, level, msg, ap, out);
    va_end(ap);
    fflush(out);
}
