/*
 * A growable byte buffer with a hard cap, after curl's dynbuf: anything fed from the network
 * (a response body, a watch line) goes through one, so no peer can make us allocate without
 * bound. The contents are always NUL-terminated for convenience; the NUL is not counted.
 */
#ifndef TG_UTIL_BUF_H
#define TG_UTIL_BUF_H

#include <stddef.h>

struct tg_buf {
    char *data; /* NULL until the first append; owned by the buffer */
    size_t len; /* bytes held, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the most bytes it may ever hold */
};

/* Sets up an empty buffer that will refuse to hold more than max bytes. Allocates nothing. */
void tg_buf_init(struct tg_buf *b, size_t max);

/*
 * Appends n bytes. Returns 0, TG_ENOMEM, or TG_ETOOBIG when the result would pass the cap (the
 * buffer is then unchanged, and the last-error message says so).
 */
int tg_buf_append(struct tg_buf *b, const void *data, size_t n);

/* Appends a NUL-terminated string; as tg_buf_append. */
int tg_buf_append_str(struct tg_buf *b, const char *s);

/* Removes the first n bytes (n <= len), keeping the rest. */
void tg_buf_consume(struct tg_buf *b, size_t n);

/* Empties the buffer but keeps its memory. */
void tg_buf_reset(struct tg_buf *b);

/* Frees the memory; the buffer is empty and usable again. */
void tg_buf_free(struct tg_buf *b);

/* Hands the contents (NUL-terminated, possibly NULL when empty) to the caller, who frees them. */
char *tg_buf_take(struct tg_buf *b, size_t *len_out);

#endif
