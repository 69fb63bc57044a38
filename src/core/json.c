#include "spacekeeper/json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "spacekeeper/buf.h"

json_t *sk_json_at(const json_t *root, const char *const *path)
{
    json_t *v = (json_t *)root;
    for (; *path; path++) {
        if (!json_is_object(v))
            return NULL;
        v = json_object_get(v, *path);
    }
    return v;
}

static json_t *walk(const json_t *root, va_list ap)
{
    json_t *v = (json_t *)root;
    const char *key;
    while ((key = va_arg(ap, const char *))) {
        if (!json_is_object(v))
            return NULL;
        v = json_object_get(v, key);
    }
    return v;
}

json_t *sk_json_get(const json_t *root, ...)
{
    va_list ap;
    va_start(ap, root);
    json_t *v = walk(root, ap);
    va_end(ap);
    return v;
}

const char *sk_json_str(const json_t *root, ...)
{
    va_list ap;
    va_start(ap, root);
    json_t *v = walk(root, ap);
    va_end(ap);
    return json_string_value(v);
}

const char *sk_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

size_t sk_json_utf8_length(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (n == 3 && cp < 0x800) ||
        (n == 4 && cp < 0x10000))
        return 0;
    return n;
}

int sk_json_write_string(sk_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
    sk_buf_reserve(b, n + 2); /* escapes aside, the whole string */
    sk_buf_putc(b, '"');
    while (p < end) {
        unsigned c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = sk_json_utf8_length(p, end);
            if (!k)
                return -1;
            p += k;
            continue;
        }
        sk_buf_append(b, (const char *)run, (size_t)(p - run));
        char esc[6] = {'\\', 0};
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        sk_buf_append(b, esc, len);
        run = ++p;
    }
    sk_buf_append(b, (const char *)run, (size_t)(p - run));
    sk_buf_putc(b, '"');
    return 0;
}

static void write_integer(sk_buf *b, json_int_t v)
{
    char digits[24], *end = digits + sizeof digits, *q = end;
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do
        *--q = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--q = '-';
    sk_buf_append(b, q, (size_t)(end - q));
}

/* jansson's form of a real: %.17g, with ".0" when it would read back as an
 * integer, and the exponent without '+' or leading zeros. Reals are rare in
 * what spacekeeper writes, so snprintf stays. */
static void write_real(sk_buf *b, double v)
{
    char text[40];
    int n = snprintf(text, sizeof text, "%.17g", v);
    if (n <= 0 || (size_t)n >= sizeof text - 2)
        return;
    if (!strpbrk(text, ".e")) {
        memcpy(text + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(text, 'e');
    if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '+')
            from++;
        else if (*from == '-')
            from++, to++;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
        n = (int)strlen(text);
    }
    sk_buf_append(b, text, (size_t)n);
}

int sk_json_write(sk_buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        char sep = '{';
        for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
            sk_buf_putc(b, sep);
            sep = ',';
            if (sk_json_write_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) < 0)
                return -1;
            sk_buf_putc(b, ':');
            if (sk_json_write(b, json_object_iter_value(it)) < 0)
                return -1;
        }
        if (sep == '{')
            sk_buf_putc(b, '{');
        sk_buf_putc(b, '}');
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        sk_buf_putc(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                sk_buf_putc(b, ',');
            if (sk_json_write(b, json_array_get(v, i)) < 0)
                return -1;
        }
        sk_buf_putc(b, ']');
        return 0;
    }
    case JSON_STRING:
        return sk_json_write_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        write_integer(b, json_integer_value(v));
        return 0;
    case JSON_REAL:
        write_real(b, json_real_value(v));
        return 0;
    case JSON_TRUE:
        sk_buf_append(b, "true", 4);
        return 0;
    case JSON_FALSE:
        sk_buf_append(b, "false", 5);
        return 0;
    case JSON_NULL:
        sk_buf_append(b, "null", 4);
        return 0;
    }
    return -1;
}

static int append_chunk(const char *data, size_t size, void *ud)
{
    sk_buf_append(ud, data, size);
    return 0;
}

char *sk_json_dumps(const json_t *v, size_t flags)
{
    sk_buf b = SK_BUF_INIT;
    int compact = (flags & JSON_COMPACT) && !(flags & ~(size_t)(JSON_COMPACT | JSON_ENCODE_ANY)),
        container = json_is_object(v) || json_is_array(v);
    int rc = !v || (!container && !(flags & JSON_ENCODE_ANY)) ? -1
             : compact ? sk_json_write(&b, v)
                       : json_dump_callback(v, append_chunk, &b, flags);
    if (rc < 0) {
        sk_buf_free(&b);
        return NULL;
    }
    return sk_buf_steal(&b);
}
