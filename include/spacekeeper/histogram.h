/* A Prometheus histogram of durations, updated with lock-free atomics and
 * rendered in the text exposition format (cumulative buckets, sum, count). */
#ifndef SPACEKEEPER_HISTOGRAM_H
#define SPACEKEEPER_HISTOGRAM_H

#include <stddef.h>

#include "spacekeeper/buf.h"

#define SK_HISTOGRAM_MAX_BUCKETS 20

typedef struct sk_histogram {
    const double *bounds;   /* upper bounds in seconds, ascending; static storage */
    size_t n;
    unsigned long buckets[SK_HISTOGRAM_MAX_BUCKETS]; /* non-cumulative */
    unsigned long count;
    unsigned long sum_ns;
} sk_histogram;

void sk_histogram_init(sk_histogram *h, const double *bounds, size_t n);
void sk_histogram_observe(sk_histogram *h, double seconds);
/* The _bucket, _sum and _count lines of `name`; labels ("webhook=\"/mutate\"")
 * go first in every label set, or are NULL. */
void sk_histogram_render(const sk_histogram *h, sk_buf *out, const char *name, const char *labels);

#endif
