/* Wall-clock timestamps and durations as Kubernetes writes them: RFC 3339
 * ("2026-11-23T10:00:00.5+01:00"), Unix seconds, and Go durations ("90s",
 * "5m", "1h30m"). Times are seconds since the epoch as doubles, which keeps
 * microseconds exact for centuries. */
#ifndef SPACEKEEPER_TIMEUTIL_H
#define SPACEKEEPER_TIMEUTIL_H

#include <stddef.h>

#include "spacekeeper/err.h"

double sk_time_now(void);       /* CLOCK_REALTIME */
double sk_time_monotonic(void); /* CLOCK_MONOTONIC */

/* RFC 3339 with optional fraction and a Z/z or ±HH:MM offset; the date and
 * time may be separated by T, t or a space. */
int sk_time_parse_rfc3339(const char *text, double *out, sk_err *err);
/* Unix seconds as text: digits with an optional fraction. */
int sk_time_parse_unix(const char *text, double *out, sk_err *err);

/* "2026-11-23T10:00:00Z" (fraction_digits 0) or with 1-9 fraction digits,
 * as Kubernetes' Time (0) and MicroTime (6) are written. */
void sk_time_format(double t, int fraction_digits, char *out, size_t size);

/* A Go duration: one or more number+unit pairs (ms, s, m, h), fractions
 * allowed ("1.5h"); "0" alone is zero. */
int sk_duration_parse(const char *text, double *seconds, sk_err *err);

#endif
