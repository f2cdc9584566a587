/* Small files and errno text; see file.h. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/error.h"

const char *tg_errno_text(int err, char *buf, size_t n)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(err, buf, n);
#else
    if (strerror_r(err, buf, n) != 0)
        snprintf(buf, n, "error %d", err);
    return buf;
#endif
}

int tg_file_read(const char *path, size_t max, char **data, size_t *len, struct stat *st_out)
{
    char ebuf[128];
    struct tg_buf b;
    struct stat st;
    char chunk[8192];
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        int err = errno;
        return tg_error_set(err == ENOENT ? TG_ENOTFOUND : TG_EIO, "%s",
                            tg_errno_text(err, ebuf, sizeof(ebuf)));
    }
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        rc = tg_error_set(TG_EIO, "%s", S_ISDIR(st.st_mode) ? "is a directory" : "cannot stat");
        goto close_fd;
    }
    tg_buf_init(&b, max);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = tg_error_set(TG_EIO, "%s", tg_errno_text(errno, ebuf, sizeof(ebuf)));
            goto free_buf;
        }
        if (n == 0)
            break;
        rc = tg_buf_append(&b, chunk, (size_t)n);
        if (rc < 0) {
            if (rc == TG_ETOOBIG)
                tg_error_set(rc, "larger than %zu bytes", max);
            goto free_buf;
        }
    }
    if (!b.data && (rc = tg_buf_append(&b, "", 0)) < 0)
        goto free_buf;
    if (st_out)
        *st_out = st;
    *data = tg_buf_take(&b, len);
    close(fd);
    return 0;
free_buf:
    tg_buf_free(&b);
close_fd:
    close(fd);
    return rc;
}

void tg_trim_right(char *s, size_t *len)
{
    while (*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r' || s[*len - 1] == ' ' ||
                        s[*len - 1] == '\t'))
        s[--*len] = '\0';
}
