/* kubectl-tollgate's command line; see args.h. */
#include "cli/args.h"

#include <string.h>

#include "util/error.h"

static const char *const verb_names[] = {
    [TG_CLI_NONE] = "",
    [TG_CLI_STATUS] = "status",
    [TG_CLI_LIST] = "list",
    [TG_CLI_PROMOTE] = "promote",
    [TG_CLI_ABORT] = "abort",
    [TG_CLI_RETRY] = "retry",
    [TG_CLI_ROLLBACK] = "rollback",
    [TG_CLI_HISTORY] = "history",
};

const char *tg_cli_verb_name(enum tg_cli_verb verb)
{
    if ((size_t)verb >= sizeof(verb_names) / sizeof(verb_names[0]))
        return "";
    return verb_names[verb];
}

/* One flag: its names, whether it takes a value, and which verbs accept it. */
struct flag {
    const char *lng;  /* "--namespace" */
    const char *shrt; /* "-n", or NULL */
    bool value;
    unsigned verbs; /* bit (1 << verb); 0: every verb */
};

enum { F_NAMESPACE, F_KUBECONFIG, F_CONTEXT, F_HELP, F_ALL, F_WATCH, F_FULL, F_TO, F_COUNT };

static const struct flag flags[F_COUNT] = {
    [F_NAMESPACE] = {"--namespace", "-n", true, 0},
    [F_KUBECONFIG] = {"--kubeconfig", NULL, true, 0},
    [F_CONTEXT] = {"--context", NULL, true, 0},
    [F_HELP] = {"--help", "-h", false, 0},
    [F_ALL] = {"--all-namespaces", "-A", false, 1u << TG_CLI_LIST},
    [F_WATCH] = {"--watch", "-w", false, 1u << TG_CLI_STATUS},
    [F_FULL] = {"--full", NULL, false, 1u << TG_CLI_PROMOTE},
    [F_TO] = {"--to", NULL, true, 1u << TG_CLI_ROLLBACK},
};

/* Finds the flag an argument names; *inline_value gets the text after '=' or after "-n". */
static int find_flag(const char *arg, const char **inline_value)
{
    *inline_value = NULL;
    for (int i = 0; i < F_COUNT; i++) {
        size_t n = strlen(flags[i].lng);
        if (strncmp(arg, flags[i].lng, n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
            if (arg[n] == '=')
                *inline_value = arg + n + 1;
            return i;
        }
        if (flags[i].shrt && strncmp(arg, flags[i].shrt, 2) == 0) {
            if (arg[2] == '\0')
                return i;
            if (flags[i].value) {
                *inline_value = arg[2] == '=' ? arg + 3 : arg + 2;
                return i;
            }
        }
    }
    return -1;
}

static enum tg_cli_verb find_verb(const char *s)
{
    for (size_t v = TG_CLI_STATUS; v < sizeof(verb_names) / sizeof(verb_names[0]); v++) {
        if (strcmp(s, verb_names[v]) == 0)
            return (enum tg_cli_verb)v;
    }
    return TG_CLI_NONE;
}

/* Stores a flag's value; "" is refused like kubectl refuses an empty namespace. */
static int set_value(struct tg_cli_args *out, int f, const char *v)
{
    if (!v || !*v)
        return tg_error_set(TG_EINVALID, "flag %s needs a non-empty value", flags[f].lng);
    switch (f) {
    case F_NAMESPACE:
        out->namespace = v;
        break;
    case F_KUBECONFIG:
        out->kubeconfig = v;
        break;
    case F_CONTEXT:
        out->context = v;
        break;
    case F_TO:
        out->to = v;
        break;
    default:
        break;
    }
    return 0;
}

int tg_cli_parse_args(int argc, char **argv, struct tg_cli_args *out)
{
    int seen[F_COUNT] = {0};
    const char *positional[3] = {NULL};
    int npos = 0;
    bool only_positional = false;

    memset(out, 0, sizeof(*out));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (npos == 3)
                return tg_error_set(TG_EINVALID, "too many arguments: %s", arg);
            positional[npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        const char *value;
        int f = find_flag(arg, &value);
        if (f < 0)
            return tg_error_set(TG_EINVALID, "unknown flag: %s", arg);
        seen[f] = i;
        if (!flags[f].value) {
            if (value)
                return tg_error_set(TG_EINVALID, "flag %s takes no value", flags[f].lng);
            if (f == F_HELP)
                out->help = true;
            else if (f == F_ALL)
                out->all_namespaces = true;
            else if (f == F_WATCH)
                out->watch = true;
            else if (f == F_FULL)
                out->full = true;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                return tg_error_set(TG_EINVALID, "flag %s needs a value", flags[f].lng);
            value = argv[++i];
        }
        int rc = set_value(out, f, value);
        if (rc)
            return rc;
    }

    int p = 0;
    if (npos > 0 && strcmp(positional[0], "help") == 0) {
        out->help = true;
        p = 1;
    }
    if (p < npos) {
        out->verb = find_verb(positional[p]);
        if (out->verb == TG_CLI_NONE)
            return tg_error_set(TG_EINVALID,
                                "unknown command \"%s\" (commands: status, list, promote, abort, "
                                "retry, rollback, history)",
                                positional[p]);
        p++;
    }
    if (out->help)
        return 0;
    if (out->verb == TG_CLI_NONE)
        return tg_error_set(TG_EINVALID, "missing a command (see kubectl tollgate --help)");
    for (int f = 0; f < F_COUNT; f++) {
        if (seen[f] && flags[f].verbs && !(flags[f].verbs & (1u << out->verb)))
            return tg_error_set(TG_EINVALID, "unknown flag for %s: %s", tg_cli_verb_name(out->verb),
                                argv[seen[f]]);
    }
    if (p < npos)
        out->name = positional[p++];
    if (p < npos)
        return tg_error_set(TG_EINVALID, "%s: too many arguments: %s", tg_cli_verb_name(out->verb),
                            positional[p]);
    if (out->verb == TG_CLI_LIST) {
        if (out->name)
            return tg_error_set(TG_EINVALID, "list: takes no rollout name (got %s)", out->name);
        if (out->all_namespaces && seen[F_NAMESPACE])
            return tg_error_set(TG_EINVALID, "list: --namespace and --all-namespaces conflict");
    } else if (!out->name) {
        return tg_error_set(TG_EINVALID, "%s: missing the rollout's name",
                            tg_cli_verb_name(out->verb));
    }
    return 0;
}

static const char *const overview =
    "kubectl tollgate: inspect and steer tollgate Rollouts.\n"
    "\n"
    "Usage: kubectl tollgate <command> [rollout] [flags]\n"
    "\n"
    "Commands:\n"
    "  status <rollout> [--watch]     phase, step, weights, tracks, conditions, last events\n"
    "  list [-A]                      the Rollouts of a namespace, or of all of them\n"
    "  promote <rollout> [--full]     leave the current pause (--full: skip all remaining "
    "steps)\n"
    "  abort <rollout>                send all traffic back to stable, abort the Release in "
    "flight\n"
    "  retry <rollout>                restart the latest Release after an abort or failure\n"
    "  rollback <rollout> [--to <r>]  redeploy the previous (or the named) Succeeded Release\n"
    "  history <rollout>              the finished Releases, with results and durations\n"
    "\n"
    "Flags for every command:\n"
    "  -n, --namespace <ns>   the namespace (default: the kubeconfig context's)\n"
    "      --kubeconfig <f>   the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)\n"
    "      --context <c>      the kubeconfig context (default: current-context)\n"
    "  -h, --help             help; `kubectl tollgate <command> --help` for a command\n"
    "\n"
    "promote, abort, retry and rollback record intent as annotations with a fresh token\n"
    "(tollgate.io/promote, ...); the operator acts on them. Workloads and specs are never "
    "edited.\n";

static const char *const verb_help[] = {
    [TG_CLI_STATUS] =
        "Usage: kubectl tollgate status <rollout> [-w|--watch] [-n ns]\n"
        "\n"
        "Shows the Rollout's phase (and why it is paused), strategy, step n/m with a progress\n"
        "bar, canary/stable (or preview/active) weights, the stable and current Releases with\n"
        "their versions, ready replicas per track, conditions that need attention and the\n"
        "last events of the Rollout and its current Release.\n"
        "\n"
        "  -w, --watch   redraw on every change of the Rollout until Ctrl-C\n",
    [TG_CLI_LIST] = "Usage: kubectl tollgate list [-A|--all-namespaces] [-n ns]\n"
                    "\n"
                    "Lists Rollouts: NAME STRATEGY PHASE STEP WEIGHT STABLE CURRENT AGE.\n"
                    "\n"
                    "  -A, --all-namespaces   list the Rollouts of every namespace\n",
    [TG_CLI_PROMOTE] =
        "Usage: kubectl tollgate promote <rollout> [--full] [-n ns]\n"
        "\n"
        "Moves the Release in flight past its current pause (canary), or promotes the preview\n"
        "(blue-green), by annotating the Rollout with tollgate.io/promote=<token>.\n"
        "\n"
        "  --full   skip all the remaining steps: the Release becomes stable now\n"
        "           (tollgate.io/promote-full=<token>)\n",
    [TG_CLI_ABORT] =
        "Usage: kubectl tollgate abort <rollout> [-n ns]\n"
        "\n"
        "Aborts the Rollout's Release in flight: all traffic goes back to stable and the canary\n"
        "scales down; the Release becomes RolledBack. Annotates the Release with\n"
        "tollgate.io/abort=<token>.\n",
    [TG_CLI_RETRY] =
        "Usage: kubectl tollgate retry <rollout> [-n ns]\n"
        "\n"
        "Restarts the Rollout's latest Release from step 0 when it was aborted (RolledBack) or\n"
        "Failed. Annotates that Release with tollgate.io/retry=<token>.\n",
    [TG_CLI_ROLLBACK] =
        "Usage: kubectl tollgate rollback <rollout> [--to <release>] [-n ns]\n"
        "\n"
        "Redeploys the last Succeeded Release before the stable one, fast (pauses skipped).\n"
        "Annotates the Rollout with tollgate.io/rollback=<token> (and tollgate.io/rollback-to).\n"
        "\n"
        "  --to <release>   redeploy this Succeeded Release of the Rollout instead\n",
    [TG_CLI_HISTORY] =
        "Usage: kubectl tollgate history <rollout> [-n ns]\n"
        "\n"
        "Shows the Rollout's finished Releases, newest first: version, result, start, end and\n"
        "duration.\n",
};

void tg_cli_usage(enum tg_cli_verb verb, FILE *f)
{
    if (verb == TG_CLI_NONE || (size_t)verb >= sizeof(verb_help) / sizeof(verb_help[0]))
        fputs(overview, f);
    else
        fputs(verb_help[verb], f);
}
