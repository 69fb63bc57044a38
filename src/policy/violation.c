#include "spacekeeper/violation.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "spacekeeper/buf.h"

void sk_violation_add(json_t *violations, const char *field, const char *fmt, ...)
{
    if (!violations)
        return;
    /* Never truncated: cutting a message mid-character would make it invalid
     * UTF-8, which jansson refuses, and the violation would be lost. */
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (!msg)
        abort();
    vsnprintf(msg, n > 0 ? (size_t)n + 1 : 1, fmt, again);
    va_end(again);
    json_t *v = json_pack("{s:s, s:s}", "field", field, "message", msg);
    if (!v) { /* not UTF-8 after all: a denial must still be recorded */
        json_t *f = json_string(field);
        v = json_pack("{s:o, s:s}", "field", f ? f : json_string("(not UTF-8)"), "message",
                      "a value here is not valid UTF-8");
    }
    free(msg);
    json_array_append_new(violations, v);
}

char *sk_violation_summary(const json_t *violations)
{
    sk_buf b = SK_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(violations, i, v) {
        if (i)
            sk_buf_puts(&b, "; ");
        sk_buf_puts(&b, json_string_value(json_object_get(v, "message")));
    }
    return sk_buf_steal(&b);
}
