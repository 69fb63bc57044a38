#include "spacekeeper/err.h"

#include <stdarg.h>
#include <stdio.h>

int sk_err_set(sk_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}
