/* kubectl-tollgate's command line (operator/cli/args.c): accepted forms and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/args.h"
#include "util/error.h"

/* Splits a command line on spaces into argv (argv[0] = the program); at most 15 words. */
static int split(char *line, char **argv)
{
    int argc = 0;
    argv[argc++] = "kubectl-tollgate";
    for (char *p = line; *p && argc < 15;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
    }
    argv[argc] = NULL;
    return argc;
}

static int parse(const char *cmd, struct tg_cli_args *out)
{
    static char line[256];
    static char *argv[16];
    snprintf(line, sizeof(line), "%s", cmd);
    return tg_cli_parse_args(split(line, argv), argv, out);
}

static void test_accepted(void **state)
{
    (void)state;
    struct tg_cli_args a;

    assert_int_equal(parse("status web -n shop", &a), 0);
    assert_int_equal(a.verb, TG_CLI_STATUS);
    assert_string_equal(a.name, "web");
    assert_string_equal(a.namespace, "shop");
    assert_false(a.watch);

    assert_int_equal(parse("-nshop --context=kind status -w web --kubeconfig /k", &a), 0);
    assert_int_equal(a.verb, TG_CLI_STATUS);
    assert_string_equal(a.namespace, "shop");
    assert_string_equal(a.context, "kind");
    assert_string_equal(a.kubeconfig, "/k");
    assert_true(a.watch);

    assert_int_equal(parse("list -A", &a), 0);
    assert_int_equal(a.verb, TG_CLI_LIST);
    assert_true(a.all_namespaces);
    assert_null(a.name);

    assert_int_equal(parse("promote web --full --namespace shop", &a), 0);
    assert_true(a.full);
    assert_int_equal(parse("rollback web --to=web-1", &a), 0);
    assert_string_equal(a.to, "web-1");
    assert_int_equal(parse("rollback --to web-1 web", &a), 0);
    assert_string_equal(a.to, "web-1");
    assert_string_equal(a.name, "web");
    assert_int_equal(parse("abort -n=shop -- -odd-name", &a), 0);
    assert_string_equal(a.namespace, "shop");
    assert_string_equal(a.name, "-odd-name");
    assert_int_equal(parse("history web", &a), 0);
    assert_int_equal(a.verb, TG_CLI_HISTORY);
    assert_int_equal(parse("retry web", &a), 0);
    assert_int_equal(a.verb, TG_CLI_RETRY);
}

static void test_help(void **state)
{
    (void)state;
    struct tg_cli_args a;
    assert_int_equal(parse("--help", &a), 0);
    assert_true(a.help);
    assert_int_equal(a.verb, TG_CLI_NONE);
    assert_int_equal(parse("promote -h", &a), 0); /* no name needed for help */
    assert_true(a.help);
    assert_int_equal(a.verb, TG_CLI_PROMOTE);
    assert_int_equal(parse("help rollback", &a), 0);
    assert_true(a.help);
    assert_int_equal(a.verb, TG_CLI_ROLLBACK);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *cmd;
        const char *message;
    } cases[] = {
        {"", "missing a command"},
        {"deploy web", "unknown command \"deploy\""},
        {"status", "status: missing the rollout's name"},
        {"status web extra", "status: too many arguments: extra"},
        {"status web --fulll", "unknown flag: --fulll"},
        {"status web -x", "unknown flag: -x"},
        {"status web --full", "unknown flag for status: --full"},
        {"promote web -w", "unknown flag for promote: -w"},
        {"abort web --to x", "unknown flag for abort: --to"},
        {"list -A -n shop", "--namespace and --all-namespaces conflict"},
        {"list web", "list: takes no rollout name"},
        {"status web -n", "flag --namespace needs a value"},
        {"status web --namespace=", "flag --namespace needs a non-empty value"},
        {"promote web --full=yes", "flag --full takes no value"},
        {"rollback web --to", "flag --to needs a value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tg_cli_args a;
        int rc = parse(cases[i].cmd, &a);
        if (rc != TG_EINVALID || !strstr(tg_error_last(), cases[i].message))
            fail_msg("\"%s\": want TG_EINVALID and \"%s\", got %d \"%s\"", cases[i].cmd,
                     cases[i].message, rc, tg_error_last());
    }
}

static void test_usage(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    for (int v = TG_CLI_NONE; v <= TG_CLI_HISTORY; v++) {
        FILE *f = open_memstream(&text, &len);
        tg_cli_usage((enum tg_cli_verb)v, f);
        fclose(f);
        if (v == TG_CLI_NONE) {
            assert_non_null(strstr(text, "promote <rollout> [--full]"));
        } else {
            char want[64];
            snprintf(want, sizeof(want), "Usage: kubectl tollgate %s",
                     tg_cli_verb_name((enum tg_cli_verb)v));
            assert_true(strncmp(text, want, strlen(want)) == 0);
        }
        free(text);
        text = NULL;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
