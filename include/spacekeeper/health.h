/* The plain-HTTP side port every spacekeeper program serves for kubelet
 * and Prometheus: /healthz (and /livez), /readyz and /metrics. */
#ifndef SPACEKEEPER_HEALTH_H
#define SPACEKEEPER_HEALTH_H

#include "spacekeeper/buf.h"
#include "spacekeeper/err.h"

typedef struct sk_health_ops {
    int (*ready)(void *ud);                  /* /readyz: 200 or 503 */
    void (*metrics)(void *ud, sk_buf *out);  /* /metrics: appends the exposition text */
    void (*detail)(void *ud, sk_buf *out);   /* optional: /readyz lines after the verdict */
} sk_health_ops;

typedef struct sk_health sk_health;

/* listen is "ADDR:PORT" or "[ADDR]:PORT"; ud is borrowed. */
sk_health *sk_health_start(const char *listen, const sk_health_ops *ops, void *ud, sk_err *err);
unsigned sk_health_port(const sk_health *h);
void sk_health_free(sk_health *h);

#endif
