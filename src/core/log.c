#include "spacekeeper/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"

static sk_log_level min_level = SK_LOG_INFO;
static sk_log_format format = SK_LOG_TEXT;

static const char *const LEVELS[] = {"debug", "info", "warn", "error"};

int sk_log_level_parse(const char *text, sk_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, LEVELS[i]) == 0) {
            *out = (sk_log_level)i;
            return 0;
        }
    }
    return -1;
}

int sk_log_format_parse(const char *text, sk_log_format *out)
{
    if (strcmp(text, "json") == 0)
        *out = SK_LOG_JSON;
    else if (strcmp(text, "text") == 0)
        *out = SK_LOG_TEXT;
    else
        return -1;
    return 0;
}

void sk_log_setup(sk_log_level level, sk_log_format fmt)
{
    min_level = level;
    format = fmt;
}

int sk_log_enabled(sk_log_level level)
{
    return level >= min_level;
}

/* Text values are quoted only when they need it, so lines stay greppable. */
static void text_value(sk_buf *b, const char *v)
{
    if (*v && !strpbrk(v, " \"=\n\t")) {
        sk_buf_puts(b, v);
        return;
    }
    size_t at = b->len;
    if (sk_json_write_string(b, v, strlen(v)) < 0) { /* not UTF-8 */
        b->len = at;
        sk_buf_puts(b, "\"\"");
    }
}

void sk_log(sk_log_level level, const char *msg, ...)
{
    if (level < min_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);

    sk_buf line = SK_BUF_INIT;
    va_list ap;
    va_start(ap, msg);
    if (format == SK_LOG_JSON) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "ts", when, "level", LEVELS[level], "msg", msg);
        const char *k;
        while ((k = va_arg(ap, const char *))) {
            const char *v = va_arg(ap, const char *);
            if (v)
                json_object_set_new(o, k, json_string(v));
        }
        char *s = sk_json_dumps(o, JSON_COMPACT);
        sk_buf_puts(&line, s);
        free(s);
        json_decref(o);
    } else {
        sk_buf_printf(&line, "%s %-5s %s", when, LEVELS[level], msg);
        const char *k;
        while ((k = va_arg(ap, const char *))) {
            const char *v = va_arg(ap, const char *);
            if (!v)
                continue;
            sk_buf_printf(&line, " %s=", k);
            text_value(&line, v);
        }
    }
    va_end(ap);
    sk_buf_puts(&line, "\n");
    fwrite(line.data, 1, line.len, stderr); /* one write per line: lines never interleave */
    sk_buf_free(&line);
}
