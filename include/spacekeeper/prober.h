/* HTTP GETs to many endpoints from one thread: one libcurl multi handle,
 * at most `concurrency` transfers at once, the rest queued. Each answer is
 * bounded in time and size, redirects are not followed, proxies from the
 * environment are ignored and HTTPS is not verified (as kubelet probes are
 * not). */
#ifndef SPACEKEEPER_PROBER_H
#define SPACEKEEPER_PROBER_H

#include <stddef.h>

typedef enum sk_probe_outcome {
    SK_PROBE_OK,          /* an answer came, whatever its status */
    SK_PROBE_CONNECT,     /* refused, unreachable, TLS failure */
    SK_PROBE_TIMEOUT,
    SK_PROBE_TOO_LARGE,   /* the body passed the size bound */
    SK_PROBE_CANCELLED,   /* the prober was freed first */
} sk_probe_outcome;

typedef struct sk_probe_result {
    sk_probe_outcome outcome;
    long status;          /* HTTP status with SK_PROBE_OK */
    const char *body;     /* borrowed for the callback's duration; NUL-terminated */
    size_t len;
    const char *error;    /* what went wrong, for the other outcomes */
    double seconds;
} sk_probe_result;

typedef void (*sk_probe_done)(void *ud, const sk_probe_result *r);

/* A request header. Names and values are the caller's to validate: they
 * go on the wire as they are (no line breaks, no colon in a name). */
typedef struct sk_probe_header {
    char *name, *value;
} sk_probe_header;

typedef struct sk_prober sk_prober;

sk_prober *sk_prober_new(unsigned concurrency, double timeout_seconds, size_t max_body);
/* Every pending callback runs with SK_PROBE_CANCELLED. */
void sk_prober_free(sk_prober *p);

/* Queues a GET; fn runs exactly once, from sk_prober_run or sk_prober_free. */
void sk_prober_submit(sk_prober *p, const char *url, sk_probe_done fn, void *ud);
/* The same with request headers, copied: each replaces the header of its
 * name that the prober would send (Host, User-Agent), an empty value is
 * sent empty, and a name may repeat. */
void sk_prober_submit_headers(sk_prober *p, const char *url, const sk_probe_header *headers, size_t n,
                              sk_probe_done fn, void *ud);
/* Moves transfers along for up to wait_ms and runs the callbacks of those
 * that finished. Returns how many are queued or in flight. */
size_t sk_prober_run(sk_prober *p, int wait_ms);
size_t sk_prober_pending(const sk_prober *p);

#endif
