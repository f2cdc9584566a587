/*
 * Error codes and the last-error message.
 *
 * Fallible functions return int: 0, or a negative TG_E* code. The detail goes into a
 * thread-local last-error message (we run one thread, but the tests may not). A function that
 * fails because a lower layer failed passes that code up and does not overwrite the message the
 * lower layer set; it may prefix context with tg_error_wrap().
 */
#ifndef TG_UTIL_ERROR_H
#define TG_UTIL_ERROR_H

enum {
    TG_OK = 0,
    TG_ENOMEM = -1,        /* allocation failed */
    TG_EINVALID = -2,      /* bad input: a file, a flag, a spec, a request the server refused */
    TG_ENOTFOUND = -3,     /* the object or file does not exist (HTTP 404) */
    TG_ECONFLICT = -4,     /* stale resourceVersion or already exists (HTTP 409) */
    TG_EGONE = -5,         /* resourceVersion too old (HTTP 410): relist */
    TG_ETRANSIENT = -6,    /* try again later: 429, 5xx, a dropped connection */
    TG_EIO = -7,           /* reading or writing a file or socket failed */
    TG_EUNAUTHORIZED = -8, /* credentials missing or rejected (HTTP 401) */
    TG_EFORBIDDEN = -9,    /* authenticated but not allowed (HTTP 403) */
    TG_ETLS = -10,         /* TLS handshake or certificate verification failed */
    TG_ETOOBIG = -11,      /* a body, line or list passed its cap */
    TG_EUNREACHABLE = -12, /* could not connect to the server */
    TG_ETIMEOUT = -13,     /* the operation took longer than allowed */
    TG_ECANCELED = -14,    /* the operation was abandoned (shutdown) */
};

/*
 * THE mapping of HTTP statuses (a response's, or the code of a Kubernetes Status) to TG_E*
 * codes: 2xx 0; 400, 422 TG_EINVALID; 401 TG_EUNAUTHORIZED; 403 TG_EFORBIDDEN; 404
 * TG_ENOTFOUND; 409 TG_ECONFLICT; 410 TG_EGONE; 429 and 5xx TG_ETRANSIENT; anything else
 * TG_EINVALID.
 */
int tg_error_from_http(long status);

/* Returns the symbolic name of a code ("TG_ENOTFOUND"); never NULL. */
const char *tg_error_name(int code);

/*
 * Sets the last-error message, printf-style, and returns code so that a caller can write
 * `return tg_error_set(TG_EINVALID, "...")`. The message is truncated at 1 KiB.
 */
int tg_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Prefixes the current last-error message with context ("reading kubeconfig: " + old) and
 * returns code. Use it when passing a lower layer's error up.
 */
int tg_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last-error message, borrowed: valid until the next tg_error_set/wrap. Never NULL. */
const char *tg_error_last(void);

/* Clears the last-error message. */
void tg_error_clear(void);

#endif
