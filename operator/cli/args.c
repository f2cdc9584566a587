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
    [TG_CLI_VERIFY] = "verify",
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

enum {
    F_NAMESPACE,
    F_KUBECONFIG,
    F_CONTEXT,
    F_HELP,
    F_ALL,
    F_WATCH,
    F_FULL,
    F_TO,
    F_POLICY,
    F_KEY,
    F_CERT_ID,
    F_CERT_ID_RE,
    F_CERT_ISSUER,
    F_CERT_ISSUER_RE,
    F_TRUSTED_ROOT,
    F_IGNORE_TLOG,
    F_ALLOW_HTTP,
    F_REGISTRY_CA,
    F_TYPE,
    F_SOURCE_COMMIT,
    F_DOCKERCONFIG,
    F_OUTPUT,
    F_MATERIAL,
    F_SAVE_MATERIAL,
    F_COUNT
};

#define V (1u << TG_CLI_VERIFY)
/* The flags every Kubernetes verb takes (verify talks to a registry, never to a cluster). */
#define KUBE (~V)

static const struct flag flags[F_COUNT] = {
    [F_NAMESPACE] = {"--namespace", "-n", true, KUBE},
    [F_KUBECONFIG] = {"--kubeconfig", NULL, true, KUBE},
    [F_CONTEXT] = {"--context", NULL, true, KUBE},
    [F_HELP] = {"--help", "-h", false, 0},
    [F_ALL] = {"--all-namespaces", "-A", false, 1u << TG_CLI_LIST},
    [F_WATCH] = {"--watch", "-w", false, 1u << TG_CLI_STATUS},
    [F_FULL] = {"--full", NULL, false, 1u << TG_CLI_PROMOTE},
    [F_TO] = {"--to", NULL, true, 1u << TG_CLI_ROLLBACK},
    [F_POLICY] = {"--policy", NULL, true, V},
    [F_KEY] = {"--key", NULL, true, V},
    [F_CERT_ID_RE] = {"--certificate-identity-regexp", NULL, true, V},
    [F_CERT_ID] = {"--certificate-identity", NULL, true, V},
    [F_CERT_ISSUER_RE] = {"--certificate-oidc-issuer-regexp", NULL, true, V},
    [F_CERT_ISSUER] = {"--certificate-oidc-issuer", NULL, true, V},
    [F_TRUSTED_ROOT] = {"--trusted-root", NULL, true, V},
    [F_IGNORE_TLOG] = {"--insecure-ignore-tlog", NULL, false, V},
    [F_ALLOW_HTTP] = {"--allow-http-registry", NULL, false, V},
    [F_REGISTRY_CA] = {"--registry-ca", NULL, true, V},
    [F_TYPE] = {"--type", NULL, true, V},
    [F_SOURCE_COMMIT] = {"--source-commit", NULL, true, V},
    [F_DOCKERCONFIG] = {"--dockerconfig", NULL, true, V},
    [F_OUTPUT] = {"--output", "-o", true, V},
    [F_MATERIAL] = {"--material", NULL, true, V},
    [F_SAVE_MATERIAL] = {"--save-material", NULL, true, V},
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
    case F_POLICY:
        out->policy = v;
        break;
    case F_KEY:
        if (out->n_keys == TG_CLI_MAX_KEYS)
            return tg_error_set(TG_EINVALID, "more than %d --key flags", TG_CLI_MAX_KEYS);
        out->keys[out->n_keys++] = v;
        break;
    case F_CERT_ID:
        out->cert_identity = v;
        break;
    case F_CERT_ID_RE:
        out->cert_identity_regexp = v;
        break;
    case F_CERT_ISSUER:
        out->cert_oidc_issuer = v;
        break;
    case F_CERT_ISSUER_RE:
        out->cert_oidc_issuer_regexp = v;
        break;
    case F_TRUSTED_ROOT:
        out->trusted_root = v;
        break;
    case F_REGISTRY_CA:
        out->registry_ca = v;
        break;
    case F_TYPE:
        if (strcmp(v, "slsaprovenance") != 0 && strcmp(v, "slsaprovenance1") != 0 &&
            strcmp(v, "cyclonedx") != 0 && strcmp(v, "spdx") != 0 && strcmp(v, "vuln") != 0 &&
            !strstr(v, "://"))
            return tg_error_set(TG_EINVALID,
                                "--type %s: must be slsaprovenance, slsaprovenance1, cyclonedx, "
                                "spdx, vuln or a predicate type URI",
                                v);
        if (out->n_types == TG_CLI_MAX_TYPES)
            return tg_error_set(TG_EINVALID, "more than %d --type flags", TG_CLI_MAX_TYPES);
        out->types[out->n_types++] = v;
        break;
    case F_SOURCE_COMMIT:
        out->source_commit = v;
        break;
    case F_DOCKERCONFIG:
        out->dockerconfig = v;
        break;
    case F_OUTPUT:
        if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)
            return tg_error_set(TG_EINVALID, "-o %s: must be text or json", v);
        out->output = v;
        break;
    case F_MATERIAL:
        out->material = v;
        break;
    case F_SAVE_MATERIAL:
        out->save_material = v;
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
            /* The verb as soon as it is known, so that a caller can tell whose error it is. */
            if (out->verb == TG_CLI_NONE && strcmp(arg, "help") != 0)
                out->verb = find_verb(arg);
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
            else if (f == F_IGNORE_TLOG)
                out->insecure_ignore_tlog = true;
            else if (f == F_ALLOW_HTTP)
                out->allow_http_registry = true;
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
                                "retry, rollback, history, verify)",
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
    } else if (out->verb == TG_CLI_VERIFY) {
        if (!out->name)
            return tg_error_set(TG_EINVALID,
                                "verify: missing the image (registry/repo@sha256:...)");
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
    "  verify <image@digest>          check an image's signature, provenance, SBOM and scan\n"
    "\n"
    "Flags for every command:\n"
    "  -n, --namespace <ns>   the namespace (default: the kubeconfig context's; not verify)\n"
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
    [TG_CLI_VERIFY] =
        "Usage: kubectl tollgate verify <registry/repo@sha256:...> [flags]\n"
        "\n"
        "Checks the image's signature, provenance, SBOM and vulnerability scan in its registry,\n"
        "with the operator's code, and prints each gate's verdict. Exit code 0 when every gate\n"
        "passes, 1 when verification failed, 2 for usage errors and when the registry could not\n"
        "be read.\n"
        "\n"
        "  --policy <f>                       a policy, YAML or JSON (a VerificationPolicy's "
        "spec)\n"
        "  --key <f>                          a PEM public key (repeatable: any of them)\n"
        "  --certificate-identity <s>         keyless: the certificate's SAN\n"
        "  --certificate-identity-regexp <r>  keyless: the SAN, an anchored regexp\n"
        "  --certificate-oidc-issuer <s>      keyless: the OIDC issuer\n"
        "  --certificate-oidc-issuer-regexp <r>\n"
        "  --trusted-root <f>                 trusted_root.json (Fulcio, Rekor, CT keys)\n"
        "  --insecure-ignore-tlog             do not require a transparency-log entry\n"
        "  --type <t>                         require an attestation: slsaprovenance,\n"
        "                                     slsaprovenance1, cyclonedx, spdx, vuln, or a\n"
        "                                     predicate type URI (repeatable)\n"
        "  --source-commit <sha>              provenance must name this commit\n"
        "  --allow-http-registry              plain HTTP to the image's registry\n"
        "  --registry-ca <f>                  a PEM CA bundle for the registry's TLS\n"
        "  --dockerconfig <f>                 registry credentials (default\n"
        "                                     ~/.docker/config.json when present)\n"
        "  -o, --output text|json             json prints status.verification\n"
        "  --material <f>                     judge material saved earlier, offline\n"
        "  --save-material <f>                save what was fetched, as JSON\n",
};

void tg_cli_usage(enum tg_cli_verb verb, FILE *f)
{
    if (verb == TG_CLI_NONE || (size_t)verb >= sizeof(verb_help) / sizeof(verb_help[0]))
        fputs(overview, f);
    else
        fputs(verb_help[verb], f);
}
