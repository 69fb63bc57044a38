#include "spacekeeper/quantity.h"

#include <stdio.h>
#include <string.h>

typedef unsigned __int128 u128;

/* Comfortably below 2^127; values above it are reported as overflow. */
static const u128 LIMIT = (u128)1 << 120;

struct suffix {
    const char *text;
    int pow2;  /* value multiplied by 2^pow2 */
    int pow10; /* and by 10^pow10 */
};

static const struct suffix suffixes[] = {
    {"Ki", 10, 0}, {"Mi", 20, 0}, {"Gi", 30, 0}, {"Ti", 40, 0}, {"Pi", 50, 0}, {"Ei", 60, 0},
    {"n", 0, -9},  {"u", 0, -6},  {"m", 0, -3},  {"", 0, 0},    {"k", 0, 3},   {"M", 0, 6},
    {"G", 0, 9},   {"T", 0, 12},  {"P", 0, 15},  {"E", 0, 18},
};

static int mul_checked(u128 *v, u128 by)
{
    if (*v != 0 && by > LIMIT / *v)
        return -1;
    *v *= by;
    return 0;
}

/* Suffix after the number: binary or decimal SI, or an e/E exponent. */
static int parse_suffix(const char *s, int *pow2, int *pow10)
{
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        if (strcmp(s, suffixes[i].text) == 0) {
            *pow2 = suffixes[i].pow2;
            *pow10 = suffixes[i].pow10;
            return 0;
        }
    }
    if (s[0] != 'e' && s[0] != 'E')
        return -1;
    const char *p = s + 1;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!*p)
        return -1;
    long e = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        e = e * 10 + (*p - '0');
        if (e > 1000)
            return -2;
    }
    *pow2 = 0;
    *pow10 = (int)(neg ? -e : e);
    return 0;
}

int sk_quantity_parse(const char *text, sk_quantity *out, sk_err *err)
{
    if (!text || !*text)
        return sk_err_set(err, "empty quantity");
    const char *p = text;
    if (*p == '-')
        return sk_err_set(err, "quantity \"%s\" is negative", text);
    if (*p == '+')
        p++;

    u128 mant = 0;
    int digits = 0, frac = 0, seen_dot = 0, overflow = 0, dropped = 0;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') {
            if (seen_dot)
                return sk_err_set(err, "quantity \"%s\" has two decimal points", text);
            seen_dot = 1;
            continue;
        }
        digits++;
        /* Digits past what 128 bits hold only matter if they are not zero. */
        if (mant > LIMIT / 10) {
            if (!seen_dot)
                overflow = 1;
            else if (*p != '0')
                dropped = 1; /* far below a nano-unit at this magnitude: round up */
            continue;
        }
        mant = mant * 10 + (u128)(*p - '0');
        if (seen_dot)
            frac++;
    }
    if (digits == 0)
        return sk_err_set(err, "quantity \"%s\" does not start with a number", text);

    int pow2, pow10;
    int rc = parse_suffix(p, &pow2, &pow10);
    if (rc == -2)
        overflow = 1;
    else if (rc < 0) {
        if (strcmp(p, "GB") == 0 || strcmp(p, "MB") == 0 || strcmp(p, "KB") == 0 ||
            strcmp(p, "TB") == 0 || strcmp(p, "kB") == 0)
            return sk_err_set(err,
                              "quantity \"%s\" has unknown suffix \"%s\" (use %c for powers of "
                              "1000 or %ci for powers of 1024)",
                              text, p, p[0] == 'K' ? 'k' : p[0], p[0] == 'k' ? 'K' : p[0]);
        return sk_err_set(err,
                          "quantity \"%s\" has unknown suffix \"%s\" (expected one of n u m k M G "
                          "T P E, Ki Mi Gi Ti Pi Ei, or an exponent like e3)",
                          text, p);
    }
    if (overflow)
        return sk_err_set(err, "quantity \"%s\" is too large", text);

    /* value = mant * 2^pow2 * 10^(pow10 - frac); held in nanos (10^9). */
    u128 v = mant;
    if (mul_checked(&v, (u128)1 << pow2) < 0)
        return sk_err_set(err, "quantity \"%s\" is too large", text);
    int e10 = pow10 - frac + 9;
    if (e10 >= 0) {
        for (int i = 0; i < e10; i++)
            if (mul_checked(&v, 10) < 0)
                return sk_err_set(err, "quantity \"%s\" is too large", text);
    } else {
        u128 div = 1;
        int rounded = 0;
        for (int i = 0; i < -e10; i++) {
            if (div > v) { /* already past every digit: what's left rounds up */
                rounded = 1;
                break;
            }
            div *= 10;
        }
        if (rounded)
            v = v ? 1 : 0;
        else
            v = v / div + (v % div ? 1 : 0);
    }
    out->nanos = (__int128)(v + (u128)dropped);
    return 0;
}

int sk_quantity_from_json(const json_t *v, sk_quantity *out, sk_err *err)
{
    char tmp[64];
    if (json_is_string(v))
        return sk_quantity_parse(json_string_value(v), out, err);
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
        return sk_quantity_parse(tmp, out, err);
    }
    if (json_is_real(v)) {
        snprintf(tmp, sizeof tmp, "%.15g", json_real_value(v));
        return sk_quantity_parse(tmp, out, err);
    }
    return sk_err_set(err, "quantity must be a string or a number");
}

int sk_quantity_cmp(sk_quantity a, sk_quantity b)
{
    return a.nanos < b.nanos ? -1 : a.nanos > b.nanos;
}

static int fmt_u128(u128 v, char *buf, size_t cap)
{
    char tmp[48];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    if ((size_t)n >= cap)
        return -1;
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

const char *sk_quantity_format(sk_quantity q, char *buf, size_t cap)
{
    static const struct {
        const char *suffix;
        u128 unit; /* in nanos */
    } units[] = {
        {"Ei", (u128)1000000000 << 60}, {"Pi", (u128)1000000000 << 50},
        {"Ti", (u128)1000000000 << 40}, {"Gi", (u128)1000000000 << 30},
        {"Mi", (u128)1000000000 << 20}, {"Ki", (u128)1000000000 << 10},
        {"", 1000000000},               {"m", 1000000},
        {"u", 1000},                    {"n", 1},
    };
    u128 v = (u128)q.nanos;
    if (v == 0) {
        snprintf(buf, cap, "0");
        return buf;
    }
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (v % units[i].unit == 0) {
            int n = fmt_u128(v / units[i].unit, buf, cap);
            if (n >= 0)
                snprintf(buf + n, cap - (size_t)n, "%s", units[i].suffix);
            return buf;
        }
    }
    return buf; /* unreachable: everything divides by 1n */
}
