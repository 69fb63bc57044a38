/* Violations are {field, message} objects collected in a JSON array, so
 * that every problem is reported at once and the array goes out as-is. */
#ifndef SPACEKEEPER_VIOLATION_H
#define SPACEKEEPER_VIOLATION_H

#include <jansson.h>

void sk_violation_add(json_t *violations, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "field: message; field: message" for one-line denials; malloc'd. */
char *sk_violation_summary(const json_t *violations);

#endif
