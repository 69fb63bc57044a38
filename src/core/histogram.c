#include "spacekeeper/histogram.h"

#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

void sk_histogram_init(sk_histogram *h, const double *bounds, size_t n)
{
    *h = (sk_histogram){.bounds = bounds, .n = n < SK_HISTOGRAM_MAX_BUCKETS ? n : SK_HISTOGRAM_MAX_BUCKETS};
}

void sk_histogram_observe(sk_histogram *h, double seconds)
{
    size_t b = 0;
    while (b < h->n && seconds > h->bounds[b])
        b++;
    if (b < h->n)
        ADD(&h->buckets[b], 1);
    ADD(&h->count, 1);
    ADD(&h->sum_ns, (unsigned long)(seconds * 1e9));
}

void sk_histogram_render(const sk_histogram *h, sk_buf *out, const char *name, const char *labels)
{
    const char *sep = labels ? "," : "";
    labels = labels ? labels : "";
    unsigned long cum = 0;
    for (size_t b = 0; b < h->n; b++) {
        cum += LOAD(&h->buckets[b]);
        sk_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %lu\n", name, labels, sep, h->bounds[b], cum);
    }
    unsigned long count = LOAD(&h->count);
    sk_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %lu\n", name, labels, sep, count);
    sk_buf_printf(out, "%s_sum%s%s%s %.9f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
                  (double)LOAD(&h->sum_ns) / 1e9);
    sk_buf_printf(out, "%s_count%s%s%s %lu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", count);
}
