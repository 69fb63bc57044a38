/* Kubernetes resource quantities ("100m", "1.5", "2Gi", "1e3", "0.5Ki").
 *
 * A value is held exactly as a count of nano-units in a 128-bit integer, so
 * comparisons never suffer floating-point error ("1Gi" > "1000Mi" > "1G").
 * Fractions below one nano-unit round up, as Kubernetes does. Negative
 * quantities are rejected: nothing spacekeeper bounds can be negative. */
#ifndef SPACEKEEPER_QUANTITY_H
#define SPACEKEEPER_QUANTITY_H

#include <jansson.h>

#include "spacekeeper/err.h"

typedef struct sk_quantity {
    __int128 nanos;
} sk_quantity;

/* Parses the full grammar; on error err names the text and the reason. */
int sk_quantity_parse(const char *text, sk_quantity *out, sk_err *err);

/* Accepts a JSON string or number (YAML `cpu: 1` arrives as a number). */
int sk_quantity_from_json(const json_t *v, sk_quantity *out, sk_err *err);

/* -1, 0 or 1. */
int sk_quantity_cmp(sk_quantity a, sk_quantity b);

/* Writes a short human form ("2Gi", "1500m", "4") into buf for messages. */
const char *sk_quantity_format(sk_quantity q, char *buf, size_t cap);

#endif
