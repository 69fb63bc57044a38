/* Errors as values: a fixed buffer the callee fills, the caller owns. */
#ifndef SPACEKEEPER_ERR_H
#define SPACEKEEPER_ERR_H

#include <stddef.h>

#define SK_ERR_MAX 512

typedef struct sk_err {
    char msg[SK_ERR_MAX];
} sk_err;

/* Formats into err->msg; a NULL err is allowed and ignored. Always returns -1
 * so that `return sk_err_set(err, ...)` reads as a failure. */
int sk_err_set(sk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
