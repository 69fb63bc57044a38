#include "spacekeeper/json_decode.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/json.h"

_Static_assert(sizeof(json_int_t) == sizeof(long long), "json_int_t is long long");

/* One pass over the bytes with the grammar's own states: structure, strings,
 * numbers and literals are each checked where they stand (a string with an
 * escape is read twice, to find its end and to decode it). */
struct dec {
    const unsigned char *s;
    size_t len, pos;
    size_t flags;
    json_malloc_t alloc; /* jansson's allocator: the request arena when active */
    json_free_t release;
    char *scratch[2]; /* unescaped text: [0] the member key, [1] a string value */
    size_t scratch_cap[2];
    sk_json_decode_error *err;
};

enum { KEY, VALUE };

static int fail(struct dec *d, sk_json_decode_code code, const char *reason)
{
    if (d->err && d->err->code == SK_JSON_DECODE_OK)
        *d->err = (sk_json_decode_error){code, d->pos, reason};
    return -1;
}

static void skip_ws(struct dec *d)
{
    while (d->pos < d->len) {
        unsigned char c = d->s[d->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        d->pos++;
    }
}

static char *scratch(struct dec *d, int which, size_t need)
{
    if (d->scratch_cap[which] < need) {
        size_t cap = need < 256 ? 256 : need;
        char *p = d->alloc(cap);
        if (!p)
            return NULL;
        d->release(d->scratch[which]);
        d->scratch[which] = p;
        d->scratch_cap[which] = cap;
    }
    return d->scratch[which];
}

static int hex4(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (int)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (int)((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    return v;
}

static size_t utf8_encode(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Bytes that need no second look in a string: printable ASCII other than
 * the quote and the backslash. Eight at a time, as a word: the usual
 * zero-byte tests flag bytes below 0x20, equal to '"' or '\\' (a borrow can
 * flag a byte wrongly, but only one after a right one) and the top bit
 * flags 0x80 and up, so the lowest flag is the first byte that stops us. */
static const unsigned char *skip_plain(const unsigned char *q, const unsigned char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    while (end - q >= 8) {
        uint64_t x, quote, slash;
        memcpy(&x, q, 8);
        quote = x ^ (ones * '"');
        slash = x ^ (ones * '\\');
        uint64_t stop = (((x - ones * 0x20) & ~x) | x | ((quote - ones) & ~quote) |
                         ((slash - ones) & ~slash)) & high;
        if (stop)
            return q + (__builtin_ctzll(stop) >> 3);
        q += 8;
    }
#endif
    while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
        q++;
    return q;
}

/* At a string's opening quote: its text as jansson would store it, and
 * d->pos past the closing quote. Plain ASCII, the usual case, is returned
 * in place; anything else is checked and unescaped into scratch (never
 * longer than the source: \uXXXX is 6 bytes for at most 3, a surrogate
 * pair 12 for 4). */
static const char *string_text(struct dec *d, int which, size_t *n)
{
    const unsigned char *p = d->s + d->pos + 1, *q = skip_plain(p, d->s + d->len), *end = q;
    if (q < d->s + d->len && *q == '"') {
        *n = (size_t)(q - p);
        d->pos = (size_t)(q + 1 - d->s);
        return (const char *)p;
    }
    /* find the closing quote (an escape's next byte is never it), then decode */
    while (end < d->s + d->len && *end != '"')
        end += *end == '\\' ? 2 : 1;
    if (end >= d->s + d->len) {
        d->pos = d->len;
        return fail(d, SK_JSON_DECODE_INVALID, "premature end of input"), NULL;
    }
    char *out = scratch(d, which, (size_t)(end - p));
    if (!out)
        return fail(d, SK_JSON_DECODE_UNSUPPORTED, "out of memory"), NULL;
    memcpy(out, p, (size_t)(q - p));
    char *o = out + (q - p);
    const char *why = NULL;
    while (q < end && !why) {
        unsigned c = *q;
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            *o++ = (char)*q++;
        } else if (c < 0x20) {
            why = "control character in string";
        } else if (c >= 0x80) {
            size_t k = sk_json_utf8_length(q, end);
            if (!k) {
                why = "invalid UTF-8";
                break;
            }
            memcpy(o, q, k);
            o += k, q += k;
        } else if (end - q < 2) {
            why = "invalid escape";
        } else {
            static const char plain[] = "\"\\/bfnrt", means[] = "\"\\/\b\f\n\r\t";
            const char *e = q[1] ? strchr(plain, q[1]) : NULL;
            if (e) {
                *o++ = means[e - plain];
                q += 2;
                continue;
            }
            int cp = q[1] == 'u' ? hex4(q + 2, end) : -1;
            if (cp < 0) {
                why = "invalid escape";
                break;
            }
            q += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int lo = end - q >= 2 && q[0] == '\\' && q[1] == 'u' ? hex4(q + 2, end) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    why = "lone UTF-16 surrogate";
                    break;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
                why = cp ? "lone UTF-16 surrogate" : "\\u0000 in a string";
                break;
            }
            o += utf8_encode((uint32_t)cp, o);
        }
    }
    if (why) {
        d->pos = (size_t)(q - d->s);
        return fail(d, SK_JSON_DECODE_INVALID, why), NULL;
    }
    *n = (size_t)(o - out);
    d->pos = (size_t)(end + 1 - d->s);
    return out;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Numbers as jansson lexes them: RFC 8259's grammar; without a fraction or
 * exponent an integer, refused beyond 64 bits; otherwise strtod, refused on
 * overflow to infinity (underflow is accepted, as jansson does). */
static json_t *number(struct dec *d, const char *p, size_t n)
{
    const unsigned char *q = (const unsigned char *)p, *end = q + n;
    int neg = *q == '-', real = 0;
    q += neg;
    if (q < end && *q == '0')
        q++;
    else if (q < end && is_digit(*q))
        while (q < end && is_digit(*q))
            q++;
    else
        goto bad;
    if (q < end && *q == '.') {
        if (++q == end || !is_digit(*q))
            goto bad;
        while (q < end && is_digit(*q))
            q++;
        real = 1;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        if (++q < end && (*q == '+' || *q == '-'))
            q++;
        if (q == end || !is_digit(*q))
            goto bad;
        while (q < end && is_digit(*q))
            q++;
        real = 1;
    }
    if (q != end)
        goto bad;
    if (!real) {
        unsigned long long v = 0, limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
        for (q = (const unsigned char *)p + neg; q < end; q++) {
            unsigned digit = *q - '0';
            if (v > (limit - digit) / 10)
                return fail(d, SK_JSON_DECODE_INVALID, "integer out of range"), NULL;
            v = v * 10 + digit;
        }
        if (!neg)
            return json_integer((json_int_t)v);
        return json_integer(v > LLONG_MAX ? LLONG_MIN : -(json_int_t)v);
    }
    char small[64], *text = n < sizeof small ? small : d->alloc(n + 1);
    if (!text)
        return fail(d, SK_JSON_DECODE_UNSUPPORTED, "out of memory"), NULL;
    memcpy(text, p, n);
    text[n] = '\0';
    char *stop;
    errno = 0;
    double v = strtod(text, &stop);
    int whole = stop == text + n, overflow = (v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE;
    if (text != small)
        d->release(text);
    if (!whole) /* a locale whose decimal point is not '.': jansson copes */
        return fail(d, SK_JSON_DECODE_UNSUPPORTED, "real number in this locale"), NULL;
    if (overflow)
        return fail(d, SK_JSON_DECODE_INVALID, "real number overflow"), NULL;
    return json_real(v);
bad:
    return fail(d, SK_JSON_DECODE_INVALID, "invalid number"), NULL;
}

/* A number or literal runs to the next delimiter; what it holds is then
 * checked whole (so "1x", "tru" or "1:" are refused, not split). */
static json_t *primitive(struct dec *d)
{
    size_t start = d->pos;
    while (d->pos < d->len) {
        unsigned char c = d->s[d->pos];
        if (c == ',' || c == ']' || c == '}' || c == ' ' || c == '\n' || c == '\r' || c == '\t')
            break;
        d->pos++;
    }
    const char *p = (const char *)d->s + start;
    size_t n = d->pos - start;
    switch (*p) {
    case 't':
        if (n == 4 && memcmp(p, "true", 4) == 0)
            return json_true();
        break;
    case 'f':
        if (n == 5 && memcmp(p, "false", 5) == 0)
            return json_false();
        break;
    case 'n':
        if (n == 4 && memcmp(p, "null", 4) == 0)
            return json_null();
        break;
    default:
        return number(d, p, n);
    }
    return fail(d, SK_JSON_DECODE_INVALID, "invalid literal"), NULL;
}

/* At a member's opening quote: its key, then the colon. */
static int member_key(struct dec *d, const char **key, size_t *klen)
{
    if (d->pos >= d->len || d->s[d->pos] != '"')
        return fail(d, SK_JSON_DECODE_INVALID, "string or '}' expected");
    if (!(*key = string_text(d, KEY, klen)))
        return -1;
    skip_ws(d);
    if (d->pos >= d->len || d->s[d->pos] != ':')
        return fail(d, SK_JSON_DECODE_INVALID, "':' expected");
    d->pos++;
    skip_ws(d);
    return 0;
}

struct frame {
    json_t *v;
    int is_object;
};

/* Adds v (stolen) to the innermost open container. A key that does not grow
 * its object replaced an earlier one: last wins, as in jansson, unless
 * duplicates are refused. */
static int attach(struct dec *d, const struct frame *f, const char *key, size_t klen, json_t *v)
{
    if (!f->is_object)
        return json_array_append_new(f->v, v) < 0 ? fail(d, SK_JSON_DECODE_UNSUPPORTED, "out of memory") : 0;
    size_t before = json_object_size(f->v);
    if (json_object_setn_new_nocheck(f->v, key, klen, v) < 0)
        return fail(d, SK_JSON_DECODE_UNSUPPORTED, "out of memory");
    if ((d->flags & JSON_REJECT_DUPLICATES) && json_object_size(f->v) == before)
        return fail(d, SK_JSON_DECODE_INVALID, "duplicate object key");
    return 0;
}

/* The grammar's states, walked with a fixed stack of open containers. */
static json_t *build(struct dec *d)
{
    struct frame stack[SK_JSON_DECODE_MAX_DEPTH];
    int depth = 0;
    json_t *root = NULL;
    const char *key = NULL;
    size_t klen = 0;

    skip_ws(d);
    if (d->pos >= d->len || (d->s[d->pos] != '{' && d->s[d->pos] != '[')) {
        fail(d, SK_JSON_DECODE_INVALID, "'[' or '{' expected");
        return NULL;
    }
    for (;;) {
        /* a value starts at d->pos */
        if (d->pos >= d->len) {
            fail(d, SK_JSON_DECODE_INVALID, "value expected");
            goto error;
        }
        unsigned char c = d->s[d->pos];
        json_t *v;
        if (c == '{' || c == '[') {
            int is_object = c == '{';
            if (depth == SK_JSON_DECODE_MAX_DEPTH) {
                fail(d, SK_JSON_DECODE_TOO_DEEP, "nested too deep");
                goto error;
            }
            v = is_object ? json_object() : json_array();
            if (!v) {
                fail(d, SK_JSON_DECODE_UNSUPPORTED, "out of memory");
                goto error;
            }
            if (!root)
                root = v;
            else if (attach(d, &stack[depth - 1], key, klen, v) < 0)
                goto error;
            stack[depth++] = (struct frame){v, is_object};
            d->pos++;
            skip_ws(d);
            if (d->pos < d->len && d->s[d->pos] == (is_object ? '}' : ']')) {
                d->pos++;
                depth--;
            } else {
                if (is_object && member_key(d, &key, &klen) < 0)
                    goto error;
                continue;
            }
        } else {
            if (c == '"') {
                size_t n;
                const char *text = string_text(d, VALUE, &n);
                if (!text)
                    goto error;
                v = json_stringn_nocheck(text, n);
            } else if (!(v = primitive(d))) {
                goto error;
            }
            if (!v) {
                fail(d, SK_JSON_DECODE_UNSUPPORTED, "out of memory");
                goto error;
            }
            if (attach(d, &stack[depth - 1], key, klen, v) < 0)
                goto error;
        }
        /* after a value: close containers, or a comma and the next one */
        for (;;) {
            skip_ws(d);
            if (depth == 0) {
                if (d->pos != d->len) {
                    fail(d, SK_JSON_DECODE_INVALID, "end of file expected");
                    goto error;
                }
                return root;
            }
            const struct frame *f = &stack[depth - 1];
            c = d->pos < d->len ? d->s[d->pos] : 0;
            if (c == (f->is_object ? '}' : ']')) {
                d->pos++;
                depth--;
                continue;
            }
            if (c != ',') {
                fail(d, SK_JSON_DECODE_INVALID, f->is_object ? "',' or '}' expected" : "',' or ']' expected");
                goto error;
            }
            d->pos++;
            skip_ws(d);
            if (f->is_object && member_key(d, &key, &klen) < 0)
                goto error;
            break;
        }
    }
error:
    json_decref(root);
    return NULL;
}

json_t *sk_json_decode(const char *buf, size_t len, size_t flags, sk_json_decode_error *err)
{
    sk_json_decode_error ignored;
    struct dec d = {.s = (const unsigned char *)buf, .len = len, .flags = flags,
                    .err = err ? err : &ignored};
    *d.err = (sk_json_decode_error){SK_JSON_DECODE_OK, 0, NULL};
    if ((flags & ~(size_t)JSON_REJECT_DUPLICATES) || !buf) {
        fail(&d, SK_JSON_DECODE_UNSUPPORTED, "flags left to jansson");
        return NULL;
    }
    json_get_alloc_funcs(&d.alloc, &d.release);
    json_t *root = build(&d);
    d.release(d.scratch[KEY]);
    d.release(d.scratch[VALUE]);
    /* jansson's lexer drops a NUL right after a number or literal ("[1\0]"
     * loads): input with NULs is jansson's to judge. */
    if (!root && d.err->code == SK_JSON_DECODE_INVALID && memchr(buf, '\0', len))
        d.err->code = SK_JSON_DECODE_UNSUPPORTED;
    return root;
}

json_t *sk_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error)
{
    json_t *v = sk_json_decode(buf, len, flags, NULL);
    return v ? v : json_loadb(buf, len, flags, error);
}
