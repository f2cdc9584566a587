/*
 * Small files (tokens, keys, certificates, a kubeconfig) read whole, and errno as text: what the
 * kubeconfig loader and the operator's flags (token and CA files) share.
 */
#ifndef TG_UTIL_FILE_H
#define TG_UTIL_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Formats errno err into buf (the XSI or GNU strerror_r, whichever the libc gives us). */
const char *tg_errno_text(int err, char *buf, size_t n);

/*
 * Reads a whole file into a NUL-terminated heap buffer of at most max bytes. On failure returns
 * TG_ENOTFOUND (ENOENT), TG_ETOOBIG or TG_EIO with the reason in the last-error message (no
 * file name: the caller adds context). On success *data is the caller's; len and st_out may be
 * NULL.
 */
int tg_file_read(const char *path, size_t max, char **data, size_t *len, struct stat *st_out);

/* Strips trailing whitespace in place (a token file usually ends with a newline). */
void tg_trim_right(char *s, size_t *len);

#endif
