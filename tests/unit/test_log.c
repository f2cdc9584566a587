/* Unit tests for util/log: JSON and text records, levels, and redaction of credentials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

/* A log stream in memory and a fake clock at 2026-11-26T06:20:25.123Z. */
struct capture {
    char *text;
    size_t len;
    FILE *out;
    struct tg_fake_clock clock;
};

static struct capture *capture_start(enum tg_log_format format, enum tg_log_level min)
{
    struct capture *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->out = open_memstream(&c->text, &c->len);
    assert_non_null(c->out);
    tg_fake_clock_init(&c->clock, 0, 1795674025123LL);
    tg_log_configure(format, min, c->out, &c->clock.base);
    return c;
}

/* Stops capturing and returns what was written; the caller frees it. */
static char *capture_end(struct capture *c)
{
    char *text;

    fclose(c->out);
    text = c->text;
    free(c);
    tg_log_configure(TG_LOG_JSON, TG_LOG_INFO, NULL, NULL);
    return text;
}

static void json_record_has_ts_level_msg_and_pairs(void **state)
{
    struct capture *c = capture_start(TG_LOG_JSON, TG_LOG_INFO);

    (void)state;
    tg_log(TG_LOG_INFO, "connected", "server", "https://a/b", "namespace", "default");
    char *text = capture_end(c);
    /* Exactly one line. */
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
    struct json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    struct json_object *v;
    assert_true(json_object_object_get_ex(o, "ts", &v));
    assert_string_equal(json_object_get_string(v), "2026-11-26T06:20:25.123Z");
    assert_true(json_object_object_get_ex(o, "level", &v));
    assert_string_equal(json_object_get_string(v), "info");
    assert_true(json_object_object_get_ex(o, "msg", &v));
    assert_string_equal(json_object_get_string(v), "connected");
    assert_true(json_object_object_get_ex(o, "server", &v));
    assert_string_equal(json_object_get_string(v), "https://a/b");
    assert_true(json_object_object_get_ex(o, "namespace", &v));
    assert_string_equal(json_object_get_string(v), "default");
    json_object_put(o);
    free(text);
}

static void json_escapes_values(void **state)
{
    struct capture *c = capture_start(TG_LOG_JSON, TG_LOG_DEBUG);

    (void)state;
    tg_log(TG_LOG_WARN, "quote \" and\nnewline", "k", "a\"b\\c\n", "nothing", (const char *)NULL);
    char *text = capture_end(c);
    struct json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    struct json_object *v;
    assert_true(json_object_object_get_ex(o, "msg", &v));
    assert_string_equal(json_object_get_string(v), "quote \" and\nnewline");
    assert_true(json_object_object_get_ex(o, "k", &v));
    assert_string_equal(json_object_get_string(v), "a\"b\\c\n");
    assert_true(json_object_object_get_ex(o, "nothing", &v));
    assert_null(v);
    json_object_put(o);
    free(text);
}

static void levels_below_the_minimum_are_dropped(void **state)
{
    struct capture *c = capture_start(TG_LOG_TEXT, TG_LOG_WARN);

    (void)state;
    assert_false(tg_log_enabled(TG_LOG_INFO));
    assert_true(tg_log_enabled(TG_LOG_ERROR));
    tg_log(TG_LOG_DEBUG, "d");
    tg_log(TG_LOG_INFO, "i");
    tg_log(TG_LOG_WARN, "w");
    tg_log(TG_LOG_ERROR, "e");
    char *text = capture_end(c);
    assert_string_equal(text, "2026-11-26T06:20:25.123Z WARN w\n"
                              "2026-11-26T06:20:25.123Z ERROR e\n");
    free(text);
}

static void text_quotes_values_that_need_it(void **state)
{
    struct capture *c = capture_start(TG_LOG_TEXT, TG_LOG_DEBUG);

    (void)state;
    tg_log(TG_LOG_DEBUG, "req", "url", "https://x/y", "msg", "two words", "empty", "", "eq", "a=b",
           "nl", "a\nb", "q", "say \"hi\"");
    char *text = capture_end(c);
    assert_string_equal(text,
                        "2026-11-26T06:20:25.123Z DEBUG req url=https://x/y msg=\"two words\" "
                        "empty=\"\" eq=\"a=b\" nl=\"a\\nb\" q=\"say \\\"hi\\\"\"\n");
    free(text);
}

/* Every key naming a credential, in either format, never shows its value. */
static void credentials_are_redacted(void **state)
{
    static const char *const keys[] = {"token",    "Authorization", "password",
                                       "secret",   "bearerToken",   "client_secret",
                                       "PASSWORD", "tokenFile",     "x-auth-token"};
    static const char *const safe[] = {"server", "namespace", "name", "user"};

    (void)state;
    for (int fmt = TG_LOG_JSON; fmt <= TG_LOG_TEXT; fmt++) {
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            struct capture *c = capture_start((enum tg_log_format)fmt, TG_LOG_DEBUG);
            tg_log(TG_LOG_ERROR, "oops", keys[i], "hunter2-value", "server", "s");
            char *text = capture_end(c);
            assert_null(strstr(text, "hunter2"));
            assert_non_null(strstr(text, "[REDACTED]"));
            assert_non_null(strstr(text, keys[i]));
            free(text);
            assert_true(tg_log_key_is_sensitive(keys[i]));
        }
    }
    for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
        assert_false(tg_log_key_is_sensitive(safe[i]));
}

static void parses_levels_and_formats(void **state)
{
    enum tg_log_level l;
    enum tg_log_format f;

    (void)state;
    assert_int_equal(tg_log_parse_level("debug", &l), 0);
    assert_int_equal(l, TG_LOG_DEBUG);
    assert_int_equal(tg_log_parse_level("warning", &l), 0);
    assert_int_equal(l, TG_LOG_WARN);
    assert_int_equal(tg_log_parse_level("error", &l), 0);
    assert_int_equal(l, TG_LOG_ERROR);
    assert_int_equal(tg_log_parse_level("loud", &l), TG_EINVALID);
    assert_non_null(strstr(tg_error_last(), "loud"));
    assert_int_equal(tg_log_parse_format("text", &f), 0);
    assert_int_equal(f, TG_LOG_TEXT);
    assert_int_equal(tg_log_parse_format("json", &f), 0);
    assert_int_equal(f, TG_LOG_JSON);
    assert_int_equal(tg_log_parse_format("xml", &f), TG_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_record_has_ts_level_msg_and_pairs),
        cmocka_unit_test(json_escapes_values),
        cmocka_unit_test(levels_below_the_minimum_are_dropped),
        cmocka_unit_test(text_quotes_values_that_need_it),
        cmocka_unit_test(credentials_are_redacted),
        cmocka_unit_test(parses_levels_and_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
