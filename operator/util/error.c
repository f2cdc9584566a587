/* Error codes and the last-error message; see error.h. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TG_ERROR_MAX 1024

static _Thread_local char last[TG_ERROR_MAX];

int tg_error_from_http(long status)
{
    if (status >= 200 && status < 300)
        return 0;
    switch (status) {
    case 400:
    case 422:
        return TG_EINVALID;
    case 401:
        return TG_EUNAUTHORIZED;
    case 403:
        return TG_EFORBIDDEN;
    case 404:
        return TG_ENOTFOUND;
    case 409:
        return TG_ECONFLICT;
    case 410:
        return TG_EGONE;
    case 429:
        return TG_ETRANSIENT;
    default:
        return status >= 500 && status < 600 ? TG_ETRANSIENT : TG_EINVALID;
    }
}

const char *tg_error_name(int code)
{
    switch (code) {
    case TG_OK:
        return "TG_OK";
    case TG_ENOMEM:
        return "TG_ENOMEM";
    case TG_EINVALID:
        return "TG_EINVALID";
    case TG_ENOTFOUND:
        return "TG_ENOTFOUND";
    case TG_ECONFLICT:
        return "TG_ECONFLICT";
    case TG_EGONE:
        return "TG_EGONE";
    case TG_ETRANSIENT:
        return "TG_ETRANSIENT";
    case TG_EIO:
        return "TG_EIO";
    case TG_EUNAUTHORIZED:
        return "TG_EUNAUTHORIZED";
    case TG_EFORBIDDEN:
        return "TG_EFORBIDDEN";
    case TG_ETLS:
        return "TG_ETLS";
    case TG_ETOOBIG:
        return "TG_ETOOBIG";
    case TG_EUNREACHABLE:
        return "TG_EUNREACHABLE";
    case TG_ETIMEOUT:
        return "TG_ETIMEOUT";
    case TG_ECANCELED:
        return "TG_ECANCELED";
    default:
        return "TG_EUNKNOWN";
    }
}

int tg_error_set(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last, sizeof(last), fmt, ap);
    va_end(ap);
    return code;
}

int tg_error_wrap(int code, const char *fmt, ...)
{
    char prefix[TG_ERROR_MAX];
    char old[TG_ERROR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, last, sizeof(old));
    /* Truncation is intended: the message is capped at TG_ERROR_MAX. */
    int n = snprintf(last, sizeof(last), "%s: ", prefix);
    if (n >= 0 && (size_t)n < sizeof(last))
        snprintf(last + n, sizeof(last) - (size_t)n, "%s", old);
    return code;
}

const char *tg_error_last(void)
{
    return last;
}

void tg_error_clear(void)
{
    last[0] = '\0';
}
