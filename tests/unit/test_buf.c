/* Unit tests for util/buf: growth, the hard cap, consume and take. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"

static void appends_grow_and_stay_terminated(void **state)
{
    struct tg_buf b;

    (void)state;
    tg_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(tg_buf_append_str(&b, "abc"), 0);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[3000], '\0');
    assert_memory_equal(b.data + 2997, "abc", 3);
    tg_buf_free(&b);
}

static void cap_refuses_and_leaves_buffer_unchanged(void **state)
{
    struct tg_buf b;

    (void)state;
    tg_buf_init(&b, 10);
    assert_int_equal(tg_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(tg_buf_append(&b, "x", 1), TG_ETOOBIG);
    assert_non_null(strstr(tg_error_last(), "cap of 10 bytes"));
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    assert_int_equal(tg_buf_append(&b, "", (size_t)-1), TG_ETOOBIG);
    tg_buf_free(&b);
}

static void consume_keeps_the_rest(void **state)
{
    struct tg_buf b;

    (void)state;
    tg_buf_init(&b, 100);
    tg_buf_append_str(&b, "line1\nline2");
    tg_buf_consume(&b, 6);
    assert_string_equal(b.data, "line2");
    tg_buf_consume(&b, 99);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    tg_buf_free(&b);
}

static void take_hands_over_ownership(void **state)
{
    struct tg_buf b;
    size_t n;

    (void)state;
    tg_buf_init(&b, 100);
    assert_null(tg_buf_take(&b, &n));
    tg_buf_append_str(&b, "body");
    char *p = tg_buf_take(&b, &n);
    assert_int_equal(n, 4);
    assert_string_equal(p, "body");
    assert_null(b.data);
    free(p);
    tg_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_grow_and_stay_terminated),
        cmocka_unit_test(cap_refuses_and_leaves_buffer_unchanged),
        cmocka_unit_test(consume_keeps_the_rest),
        cmocka_unit_test(take_hands_over_ownership),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
