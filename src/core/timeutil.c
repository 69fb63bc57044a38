#include "spacekeeper/timeutil.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sk_time_now(void)
{
    return clock_seconds(CLOCK_REALTIME);
}

double sk_time_monotonic(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

/* Exactly `n` digits at *p, advancing it; -1 if any is not a digit. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static int expect(const char **p, const char *any)
{
    if (!**p || !strchr(any, **p))
        return -1;
    (*p)++;
    return 0;
}

int sk_time_parse_rfc3339(const char *text, double *out, sk_err *err)
{
    const char *p = text;
    struct tm tm = {0};
    int year = digits(&p, 4), mon, mday, hour, min, sec;
    if (year < 0 || expect(&p, "-") || (mon = digits(&p, 2)) < 0 || expect(&p, "-") ||
        (mday = digits(&p, 2)) < 0 || expect(&p, "Tt ") || (hour = digits(&p, 2)) < 0 ||
        expect(&p, ":") || (min = digits(&p, 2)) < 0 || expect(&p, ":") || (sec = digits(&p, 2)) < 0)
        return sk_err_set(err, "\"%s\" is not an RFC 3339 time (YYYY-MM-DDTHH:MM:SSZ)", text);
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon < 1 || mon > 12 || mday < 1 || mday > days[mon - 1] || (mon == 2 && mday == 29 && !leap) ||
        hour > 23 || min > 59 || sec > 60)
        return sk_err_set(err, "\"%s\" is not a valid date and time", text);
    double frac = 0;
    if (*p == '.') {
        const char *start = ++p;
        double scale = 0.1;
        for (; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (*p - '0') * scale;
        if (p == start)
            return sk_err_set(err, "\"%s\": a fraction needs digits after the dot", text);
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh = digits(&p, 2), om;
        if (oh < 0 || expect(&p, ":") || (om = digits(&p, 2)) < 0 || oh > 23 || om > 59)
            return sk_err_set(err, "\"%s\": the offset must be Z or +HH:MM", text);
        offset = sign * (oh * 3600L + om * 60L);
    } else {
        return sk_err_set(err, "\"%s\" has no time zone (Z or +HH:MM)", text);
    }
    if (*p)
        return sk_err_set(err, "\"%s\" has trailing characters", text);
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec > 59 ? 59 : sec; /* a leap second reads as :59 */
    *out = (double)timegm(&tm) - (double)offset + frac;
    return 0;
}

int sk_time_parse_unix(const char *text, double *out, sk_err *err)
{
    const char *p = text;
    while (isdigit((unsigned char)*p))
        p++;
    if (p == text)
        return sk_err_set(err, "\"%s\" is not Unix seconds", text);
    if (*p == '.') {
        const char *start = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        if (p == start)
            return sk_err_set(err, "\"%s\": a fraction needs digits after the dot", text);
    }
    if (*p || p - text > 30)
        return sk_err_set(err, "\"%s\" is not Unix seconds", text);
    *out = strtod(text, NULL);
    return 0;
}

void sk_time_format(double t, int fraction_digits, char *out, size_t size)
{
    time_t whole = (time_t)floor(t);
    struct tm tm;
    gmtime_r(&whole, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (fraction_digits <= 0) {
        snprintf(out, size, "%sZ", base);
        return;
    }
    if (fraction_digits > 9)
        fraction_digits = 9;
    long scale = 1;
    for (int i = 0; i < fraction_digits; i++)
        scale *= 10;
    long frac = (long)((t - (double)whole) * (double)scale);
    if (frac >= scale)
        frac = scale - 1;
    snprintf(out, size, "%s.%0*ldZ", base, fraction_digits, frac);
}

int sk_duration_parse(const char *text, double *seconds, sk_err *err)
{
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}};
    if (strcmp(text, "0") == 0) {
        *seconds = 0;
        return 0;
    }
    const char *p = text;
    double total = 0;
    if (!*p)
        return sk_err_set(err, "empty duration (write e.g. 90s, 5m or 1h)");
    while (*p) {
        char *end;
        if (!isdigit((unsigned char)*p) && *p != '.')
            return sk_err_set(err, "\"%s\" is not a duration (write e.g. 90s, 5m or 1h)", text);
        double v = strtod(p, &end);
        if (end == p)
            return sk_err_set(err, "\"%s\" is not a duration (write e.g. 90s, 5m or 1h)", text);
        p = end;
        size_t u = 0, n = sizeof units / sizeof *units;
        for (; u < n; u++) {
            size_t len = strlen(units[u].unit);
            if (strncmp(p, units[u].unit, len) == 0) /* "ms" is tried before "m" */
                break;
        }
        if (u == n)
            return sk_err_set(err, "\"%s\": each number needs a unit (ms, s, m or h)", text);
        total += v * units[u].seconds;
        p += strlen(units[u].unit);
    }
    if (!isfinite(total) || total > 1e9)
        return sk_err_set(err, "\"%s\" is too long a duration", text);
    *seconds = total;
    return 0;
}
