/* Unit tests for util/error: codes, names, the last-error message and wrapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "util/error.h"

static void set_returns_code_and_keeps_message(void **state)
{
    (void)state;
    assert_int_equal(tg_error_set(TG_ENOTFOUND, "no %s named %d", "pod", 7), TG_ENOTFOUND);
    assert_string_equal(tg_error_last(), "no pod named 7");
}

static void wrap_prefixes_lower_layer_message(void **state)
{
    (void)state;
    tg_error_set(TG_EIO, "open: no such file");
    assert_int_equal(tg_error_wrap(TG_EIO, "reading %s", "/k"), TG_EIO);
    assert_string_equal(tg_error_last(), "reading /k: open: no such file");
}

static void long_messages_are_truncated(void **state)
{
    char big[4096];

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tg_error_set(TG_EINVALID, "%s", big);
    assert_int_equal(strlen(tg_error_last()), 1023);
    tg_error_wrap(TG_EINVALID, "ctx");
    assert_int_equal(strlen(tg_error_last()), 1023);
    assert_memory_equal(tg_error_last(), "ctx: xx", 7);
}

static void names_are_symbolic(void **state)
{
    (void)state;
    assert_string_equal(tg_error_name(TG_ECONFLICT), "TG_ECONFLICT");
    assert_string_equal(tg_error_name(TG_EGONE), "TG_EGONE");
    assert_string_equal(tg_error_name(-999), "TG_EUNKNOWN");
    tg_error_clear();
    assert_string_equal(tg_error_last(), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_returns_code_and_keeps_message),
        cmocka_unit_test(wrap_prefixes_lower_layer_message),
        cmocka_unit_test(long_messages_are_truncated),
        cmocka_unit_test(names_are_symbolic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
