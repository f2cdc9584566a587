/*
 * Where the API server is and how to authenticate to it: a kubeconfig file read with libyaml, or
 * the in-cluster service account. tg_kubeconfig_load() looks, in order, at an explicit path
 * (--kubeconfig), $KUBECONFIG, ~/.kube/config and the in-cluster service account, and resolves
 * one context into a flat struct tg_kubeconfig.
 *
 * $KUBECONFIG may be a colon-separated list: unlike kubectl, which merges the files, we use the
 * first one that exists. Error messages name the file and the field, e.g.
 *   kubeconfig /x: context "y" not found
 *   kubeconfig /x: users[0].user.tokenFile: cannot read /t: No such file or directory
 *   kubeconfig /x: not valid YAML at line 3 column 5: mapping values are not allowed here
 */
#ifndef TG_KUBE_CONFIG_H
#define TG_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* The resolved configuration. Every pointer is owned by the struct; tg_kubeconfig_free frees. */
struct tg_kubeconfig {
    char *source;    /* the file read, or "in-cluster service account" */
    char *context;   /* the context used; NULL in-cluster */
    char *server;    /* "https://host:port", without a trailing slash */
    char *namespace; /* the context's namespace, "default" when it names none; never NULL */
    bool insecure_skip_tls_verify; /* only when the file says so */
    char *ca;                      /* PEM bytes of the CA bundle, NULL to use the system's */
    size_t ca_len;
    char *client_cert; /* PEM client certificate, or NULL */
    size_t client_cert_len;
    char *client_key; /* PEM client key, or NULL */
    size_t client_key_len;
    char *token;                 /* bearer token, or NULL; see tg_kubeconfig_token for rotation */
    char *token_file;            /* absolute path when the token comes from a file, else NULL */
    struct timespec token_mtime; /* token_file's mtime when it was last read */
    off_t token_size;            /* token_file's size when it was last read */
};

/* How to look for the configuration. Zero it, then set what is wanted. */
struct tg_kubeconfig_options {
    const char *path;    /* --kubeconfig; an error if it cannot be read. NULL: search */
    const char *context; /* --context; NULL: the file's current-context */
    /*
     * Prefix for the service account directory /var/run/secrets/kubernetes.io/serviceaccount,
     * so that tests can point it at a fake root. NULL or "" means "/".
     */
    const char *root;
};

/*
 * Finds and loads the configuration (opt may be NULL: search everywhere, current-context).
 * $KUBECONFIG, $HOME, KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT are read from the environment. On success *out is the caller's, to
 * free with tg_kubeconfig_free. Returns 0, TG_ENOTFOUND (no configuration anywhere, or the
 * named context, cluster or user is missing), TG_EIO (a file cannot be read), TG_EINVALID (bad
 * YAML, a missing or malformed field, an unsupported auth method) or TG_ENOMEM.
 */
int tg_kubeconfig_load(const struct tg_kubeconfig_options *opt, struct tg_kubeconfig **out);

/*
 * Loads one kubeconfig file (what tg_kubeconfig_load does once it has found it). context may be
 * NULL for current-context. Same results as tg_kubeconfig_load.
 */
int tg_kubeconfig_load_file(const char *path, const char *context, struct tg_kubeconfig **out);

/*
 * Loads the in-cluster service account under root (NULL or "" for "/"). Returns TG_ENOTFOUND
 * when KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is unset, TG_EIO when the token
 * cannot be read.
 */
int tg_kubeconfig_load_incluster(const char *root, struct tg_kubeconfig **out);

/*
 * The bearer token to send now, re-reading token_file first when its mtime or size changed
 * (service account tokens rotate). *token is borrowed from kc, NULL when there is none, and
 * valid until the next call. When a re-read fails the previous token is kept and the error is
 * returned (TG_EIO) with *token still set, so the caller may go on with the old one.
 */
int tg_kubeconfig_token(struct tg_kubeconfig *kc, const char **token);

/* Frees kc and everything it owns. NULL is fine. */
void tg_kubeconfig_free(struct tg_kubeconfig *kc);

#endif
