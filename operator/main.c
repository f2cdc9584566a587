/* tollgate: the operator's entry point: flags, sub-commands, and wiring of the parts. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "kube/client.h"
#include "kube/config.h"
#include "util/error.h"
#include "util/log.h"

/* The command line, parsed. Strings are borrowed from argv. */
struct flags {
    const char *kubeconfig;
    const char *context;
    const char *command;
    enum tg_log_format log_format;
    enum tg_log_level log_level;
};

static void usage(FILE *out)
{
    fputs("usage: tollgate [--version] [--help] [--kubeconfig FILE] [--context NAME]\n"
          "                [--log-format json|text] [--log-level debug|info|warn|error] "
          "<command>\n"
          "\n"
          "commands:\n"
          "  check    connect to the API server and print its version\n"
          "\n"
          "The configuration comes from --kubeconfig, else $KUBECONFIG (the first existing file\n"
          "of the list), else ~/.kube/config, else the in-cluster service account.\n",
          out);
}

/* Takes the value of a flag given as "--flag value" or "--flag=value"; NULL when absent. */
static const char *flag_value(const char *name, int argc, char **argv, int *i)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "tollgate: %s needs a value\n", name);
        return "";
    }
    return argv[++*i];
}

/* Returns -1 to go on, or the exit code when parsing ends the program. */
static int parse_flags(int argc, char **argv, struct flags *f)
{
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--version") == 0) {
            printf("tollgate %s\n", TG_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if ((v = flag_value("--kubeconfig", argc, argv, &i))) {
            f->kubeconfig = v;
        } else if ((v = flag_value("--context", argc, argv, &i))) {
            f->context = v;
        } else if ((v = flag_value("--log-format", argc, argv, &i))) {
            if (tg_log_parse_format(v, &f->log_format) < 0) {
                fprintf(stderr, "tollgate: --log-format: %s\n", tg_error_last());
                usage(stderr);
                return 2;
            }
        } else if ((v = flag_value("--log-level", argc, argv, &i))) {
            if (tg_log_parse_level(v, &f->log_level) < 0) {
                fprintf(stderr, "tollgate: --log-level: %s\n", tg_error_last());
                usage(stderr);
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "tollgate: unknown flag %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!f->command) {
            f->command = argv[i];
        } else {
            fprintf(stderr, "tollgate: unexpected argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (v && !*v) {
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* What `tollgate check` carries through the loop. */
struct check {
    struct tg_client *client;
    int exit_code;
};

static void check_done(const struct tg_client_result *res, void *arg)
{
    struct check *chk = arg;
    const char *server = tg_client_server(chk->client);
    struct json_object *v;

    if (res->rc == 0) {
        const char *version = "(unknown version)";
        if (res->body && json_object_object_get_ex(res->body, "gitVersion", &v) &&
            json_object_is_type(v, json_type_string))
            version = json_object_get_string(v);
        printf("connected to %s: Kubernetes %s\n", server, version);
        chk->exit_code = 0;
    } else if (res->rc == TG_EUNAUTHORIZED) {
        fprintf(stderr, "tollgate: %s rejected the credentials (401 Unauthorized): %s\n", server,
                res->message);
    } else if (res->rc == TG_EFORBIDDEN) {
        fprintf(stderr, "tollgate: %s refused access to /version (403 Forbidden): %s\n", server,
                res->message);
    } else {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
    }
    tg_log(TG_LOG_DEBUG, "check finished", "result", tg_error_name(res->rc));
    tg_client_close(chk->client, NULL, NULL);
}

static int cmd_check(const struct flags *f)
{
    struct tg_kubeconfig_options kopt = {.path = f->kubeconfig, .context = f->context};
    struct tg_kubeconfig *kc;
    struct check chk = {.exit_code = 1};
    uv_loop_t loop;
    int rc;

    if ((rc = tg_kubeconfig_load(&kopt, &kc)) < 0) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        return 1;
    }
    tg_log(TG_LOG_DEBUG, "configuration loaded", "source", kc->source, "context", kc->context,
           "server", kc->server, "namespace", kc->namespace, "token", kc->token);
    if (uv_loop_init(&loop) != 0) {
        fprintf(stderr, "tollgate: cannot start the event loop\n");
        goto free_config;
    }
    struct tg_client_options copt = {.config = kc};
    if ((rc = tg_client_new(&loop, &copt, &chk.client)) < 0) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        goto close_loop;
    }
    if ((rc = tg_client_get_path(chk.client, "/version", check_done, &chk, NULL)) < 0) {
        fprintf(stderr, "tollgate: %s\n", tg_error_last());
        tg_client_close(chk.client, NULL, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
close_loop:
    uv_loop_close(&loop);
free_config:
    tg_kubeconfig_free(kc);
    return chk.exit_code;
}

int main(int argc, char **argv)
{
    struct flags f = {.log_format = TG_LOG_JSON, .log_level = TG_LOG_INFO};
    int rc = parse_flags(argc, argv, &f);

    if (rc >= 0)
        return rc;
    tg_log_configure(f.log_format, f.log_level, NULL, NULL);
    if (!f.command) {
        usage(stderr);
        return 2;
    }
    if (strcmp(f.command, "check") == 0)
        return cmd_check(&f);
    fprintf(stderr, "tollgate: unknown command %s\n", f.command);
    usage(stderr);
    return 2;
}
