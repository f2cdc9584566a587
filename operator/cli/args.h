/*
 * kubectl-tollgate's command line, parsed the way kubectl parses its own: a verb, a Rollout's
 * name, and flags anywhere among them (`-n shop`, `-nshop`, `--namespace shop`,
 * `--namespace=shop`). Each verb accepts only its own flags, so a typo is an error, never a
 * silently ignored option. Pure: no I/O but the help text, written where the caller says.
 */
#ifndef TG_CLI_ARGS_H
#define TG_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum tg_cli_verb {
    TG_CLI_NONE = 0,
    TG_CLI_STATUS,
    TG_CLI_LIST,
    TG_CLI_PROMOTE,
    TG_CLI_ABORT,
    TG_CLI_RETRY,
    TG_CLI_ROLLBACK,
    TG_CLI_HISTORY,
    TG_CLI_VERIFY,
};

/* The most --key and --type flags verify takes. */
#define TG_CLI_MAX_KEYS  16
#define TG_CLI_MAX_TYPES 8

/* The parsed command line. Strings are borrowed from argv. */
struct tg_cli_args {
    enum tg_cli_verb verb;
    const char *name;       /* the Rollout; required by every verb but list */
    const char *namespace;  /* -n/--namespace, or NULL: the kubeconfig context's */
    const char *kubeconfig; /* --kubeconfig, or NULL: $KUBECONFIG, ~/.kube/config */
    const char *context;    /* --context, or NULL: current-context */
    bool all_namespaces;    /* list -A/--all-namespaces */
    bool watch;             /* status -w/--watch */
    bool full;              /* promote --full */
    const char *to;         /* rollback --to */
    /* verify (name is the image): cosign's flag names, and ours. */
    const char *policy;                /* --policy FILE (YAML or JSON) */
    const char *keys[TG_CLI_MAX_KEYS]; /* --key FILE, repeatable */
    size_t n_keys;
    const char *cert_identity;           /* --certificate-identity */
    const char *cert_identity_regexp;    /* --certificate-identity-regexp */
    const char *cert_oidc_issuer;        /* --certificate-oidc-issuer */
    const char *cert_oidc_issuer_regexp; /* --certificate-oidc-issuer-regexp */
    const char *trusted_root;            /* --trusted-root FILE */
    bool insecure_ignore_tlog;           /* --insecure-ignore-tlog */
    bool allow_http_registry;            /* --allow-http-registry */
    const char *registry_ca;             /* --registry-ca FILE */
    const char *types[TG_CLI_MAX_TYPES]; /* --type, repeatable */
    size_t n_types;
    const char *source_commit; /* --source-commit SHA */
    const char *dockerconfig;  /* --dockerconfig FILE */
    const char *output;        /* -o text|json (NULL: text) */
    const char *material;      /* --material FILE: judge saved material */
    const char *save_material; /* --save-material FILE */
    bool help;                 /* -h/--help (or the help verb): print help, exit 0 */
};

/*
 * Parses argv (argv[0] is the program). Returns 0 with *out filled (out->help set when help was
 * asked for: verb says which), or TG_EINVALID with a one-line last-error message ("unknown
 * flag: --fulll", "promote: missing the rollout's name").
 */
int tg_cli_parse_args(int argc, char **argv, struct tg_cli_args *out);

/* Writes the help for verb (TG_CLI_NONE: the overview) to f. */
void tg_cli_usage(enum tg_cli_verb verb, FILE *f);

/* The verb's name as typed ("status"); "" for TG_CLI_NONE. */
const char *tg_cli_verb_name(enum tg_cli_verb verb);

#endif
