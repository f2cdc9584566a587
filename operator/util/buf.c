/* Capped growable buffer; see buf.h. */
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void tg_buf_init(struct tg_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int tg_buf_append(struct tg_buf *b, const void *data, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return tg_error_set(TG_ETOOBIG, "buffer cap of %zu bytes reached", b->max);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        char *p = realloc(b->data, cap);
        if (!p)
            return tg_error_set(TG_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
        b->data = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tg_buf_append_str(struct tg_buf *b, const char *s)
{
    return tg_buf_append(b, s, strlen(s));
}

void tg_buf_consume(struct tg_buf *b, size_t n)
{
    if (n >= b->len) {
        tg_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void tg_buf_reset(struct tg_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void tg_buf_free(struct tg_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *tg_buf_take(struct tg_buf *b, size_t *len_out)
{
    char *p = b->data;

    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
