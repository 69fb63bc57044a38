/* A growable byte buffer, always NUL-terminated. */
#ifndef SPACEKEEPER_BUF_H
#define SPACEKEEPER_BUF_H

#include <stddef.h>

typedef struct sk_buf {
    char *data;
    size_t len;
    size_t cap;
} sk_buf;

#define SK_BUF_INIT {NULL, 0, 0}

void sk_buf_append(sk_buf *b, const char *s, size_t n);
/* Room for n more bytes (and the NUL) without another allocation. */
void sk_buf_reserve(sk_buf *b, size_t n);
/* One byte, inline: JSON is written a punctuation mark at a time. */
static inline void sk_buf_putc(sk_buf *b, char c)
{
    if (b->len + 2 > b->cap)
        sk_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}
void sk_buf_puts(sk_buf *b, const char *s);
void sk_buf_printf(sk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Lengthens the buffer by n bytes, still NUL-terminated after them, and
 * returns where they start for the caller to fill. */
char *sk_buf_grow(sk_buf *b, size_t n);
void sk_buf_reset(sk_buf *b);
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
char *sk_buf_steal(sk_buf *b);
void sk_buf_free(sk_buf *b);

#endif
