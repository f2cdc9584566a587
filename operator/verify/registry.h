/*
 * An OCI registry client (the Distribution API v2) on the one libuv loop, through kube/http.h:
 * manifests (all four manifest media types in Accept; the sha256 of the exact bytes checked
 * against a digest reference, never Docker-Content-Digest trusted), blobs (digest and size
 * checked), tags, and the referrers API with the `sha256-<hex>` tag-schema fallback.
 * Authentication: anonymous, basic, and the bearer-token challenge flow (WWW-Authenticate:
 * Bearer realm=,service=,scope=), with credentials from docker config JSON. TLS is verified
 * unless a host is listed as plain HTTP. Every document has a size cap.
 *
 * Every call that returns 0 ends with exactly one call of its callback, never before the call
 * returns; a call that fails calls nothing back. Credentials are never logged nor put in
 * messages.
 */
#ifndef TG_VERIFY_REGISTRY_H
#define TG_VERIFY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* A parsed image reference. Every string is owned by the reference. */
struct tg_image_ref {
    char *registry;   /* "registry.example:5000"; "index.docker.io" for Docker Hub */
    char *repository; /* "shop/web"; "library/nginx" for a Docker Hub short name */
    char *tag;        /* or NULL */
    char *digest;     /* "sha256:<64 hex>" or NULL */
};

/*
 * Parses "[registry[:port]/]repository[:tag][@sha256:<hex>]" the way Docker does (a first path
 * component with a '.' or ':' or "localhost" is a registry; else Docker Hub). *out is the
 * caller's (tg_image_ref_free). Returns 0, TG_EINVALID (message says why), TG_ENOMEM.
 */
int tg_image_ref_parse(const char *s, struct tg_image_ref **out);
void tg_image_ref_free(struct tg_image_ref *r);

/* A credential set: docker config JSON documents ({"auths": {host: {auth|username,password|
 * identitytoken}}}), looked up by registry host. */
struct tg_registry_creds;

/* Makes an empty set; NULL when out of memory. Free with tg_registry_creds_free. */
struct tg_registry_creds *tg_registry_creds_new(void);
void tg_registry_creds_free(struct tg_registry_creds *c);

/*
 * Adds the entries of one docker config JSON (.dockerconfigjson, or the older .dockercfg form
 * without "auths"). Earlier entries win for the same host. Returns 0, TG_EINVALID (not that
 * JSON; the message never quotes a secret), TG_ENOMEM.
 */
int tg_registry_creds_add_dockerconfig(struct tg_registry_creds *c, const char *json, size_t len);

/* Adds a username and password for host ("registry:5000"). Returns 0 or TG_ENOMEM. */
int tg_registry_creds_add(struct tg_registry_creds *c, const char *host, const char *username,
                          const char *password);

/* The client's settings. Everything is copied by tg_registry_new. */
struct tg_registry_options {
    const char *ca_pem; /* extra PEM CA bundle for registries, or NULL: the system's */
    size_t ca_len;
    bool insecure_tls; /* skip TLS verification (never the default) */
    /* Hosts ("127.0.0.1:5000") spoken to over plain HTTP: --allow-http-registry. */
    const char *const *http_hosts;
    size_t n_http_hosts;
    /* Mirrors: mirror_from[i] ("docker.io") is fetched from mirror_to[i] ("mirror.local:5000"). */
    const char *const *mirror_from;
    const char *const *mirror_to;
    size_t n_mirrors;
    long timeout_ms;     /* per request; 0: 30 s */
    size_t max_manifest; /* 0: 4 MiB */
    size_t max_blob;     /* 0: 16 MiB */
};

struct tg_registry;

/* Makes a client on loop. *out is the caller's (tg_registry_free). Returns 0, TG_ENOMEM,
 * TG_EINVALID. */
int tg_registry_new(uv_loop_t *loop, const struct tg_registry_options *opt,
                    struct tg_registry **out);

/*
 * Cancels everything in flight (each callback runs once with TG_ECANCELED before this returns)
 * and frees the client; the uv handles close asynchronously, so run the loop until it ends.
 * NULL is fine.
 */
void tg_registry_free(struct tg_registry *reg);

/*
 * A document's outcome. rc 0: body (len bytes, NUL-terminated, borrowed for the callback) and
 * media_type (the response's Content-Type, or NULL), digest ("sha256:<hex>" of the exact
 * bytes). Otherwise rc is TG_ENOTFOUND (404), TG_EUNAUTHORIZED (401 after authenticating),
 * TG_EFORBIDDEN, TG_EINVALID (digest mismatch, size mismatch, a bad challenge), TG_ETOOBIG
 * (past the cap), TG_ETRANSIENT (429, 5xx), TG_EUNREACHABLE, TG_ETIMEOUT, TG_ETLS,
 * TG_ECANCELED, and message says what happened, naming the registry and repository.
 */
typedef void (*tg_registry_cb)(int rc, const char *message, const char *media_type,
                               const char *digest, const unsigned char *body, size_t len,
                               void *arg);

/*
 * Fetches a manifest of ref->registry/ref->repository by reference (a tag, or a digest, whose
 * hash is then checked against the bytes). creds may be NULL (anonymous).
 */
int tg_registry_get_manifest(struct tg_registry *reg, const struct tg_image_ref *ref,
                             const char *reference, const struct tg_registry_creds *creds,
                             tg_registry_cb cb, void *arg);

/* Fetches a blob by digest; size (>= 0) is checked when not -1. */
int tg_registry_get_blob(struct tg_registry *reg, const struct tg_image_ref *ref,
                         const char *digest, long long size, const struct tg_registry_creds *creds,
                         tg_registry_cb cb, void *arg);

/*
 * Lists the referrers of digest: GET /v2/<repo>/referrers/<digest>, and on 404 or 400 the
 * image index at tag "sha256-<hex>". The callback's body is an OCI image index; with neither
 * (404 on both) rc is 0 and the body is an index with no manifests.
 */
int tg_registry_referrers(struct tg_registry *reg, const struct tg_image_ref *ref,
                          const char *digest, const struct tg_registry_creds *creds,
                          tg_registry_cb cb, void *arg);

/* Counters for /metrics and tests. */
struct tg_registry_stats {
    unsigned long requests;       /* HTTP requests sent, token requests included */
    unsigned long token_requests; /* bearer-token fetches */
    unsigned long failures;       /* documents that ended with an error other than 404 */
};
void tg_registry_stats(const struct tg_registry *reg, struct tg_registry_stats *out);

#endif
