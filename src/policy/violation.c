#include "spacekeeper/violation.h"

#include <stdarg.h>
#include <stdio.h>

#include "spacekeeper/buf.h"

void sk_violation_add(json_t *violations, const char *field, const char *fmt, ...)
{
    if (!violations)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(violations, json_pack("{s:s, s:s}", "field", field, "message", msg));
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
