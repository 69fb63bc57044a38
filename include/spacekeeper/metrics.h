/* Prometheus metrics for the webhook, under controller-runtime's names so
 * existing dashboards work: controller_runtime_webhook_requests_total,
 * _latency_seconds (histogram) and _requests_in_flight, by webhook path.
 * Updates are lock-free atomics; rendering reads a consistent-enough
 * snapshot, as Prometheus clients do. */
#ifndef SPACEKEEPER_METRICS_H
#define SPACEKEEPER_METRICS_H

#include <jansson.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/policy.h"

/* The webhook paths: /mutate, /validate, /validate-pods-connect (exec,
 * attach, port-forward), and anything else. */
typedef enum sk_hook { SK_HOOK_MUTATE, SK_HOOK_VALIDATE, SK_HOOK_CONNECT, SK_HOOK_OTHER, SK_HOOK_COUNT } sk_hook;

typedef struct sk_metrics sk_metrics;

sk_metrics *sk_metrics_new(void);
void sk_metrics_free(sk_metrics *m);

const char *sk_hook_path(sk_hook h);
void sk_metrics_start(sk_metrics *m, sk_hook h);
void sk_metrics_done(sk_metrics *m, sk_hook h, unsigned code, double seconds);
/* Admission outcomes by webhook: allowed, denied, patched. */
void sk_metrics_decision(sk_metrics *m, sk_hook h, int allowed, int patched);
void sk_metrics_cert_reload(sk_metrics *m, int ok);

/* A reviewed request's verdict, as the `verdict` label spells it: the
 * validating webhook allows or denies, the mutating one allows unchanged or
 * patches. */
typedef enum sk_verdict { SK_VERDICT_ALLOWED, SK_VERDICT_DENIED, SK_VERDICT_PATCHED, SK_VERDICT_COUNT } sk_verdict;

/* The whole latency of a request the engine reviewed, by webhook, operation
 * and verdict: spacekeeper_admission_review_duration_seconds (its _count
 * is the rate of reviews). */
void sk_metrics_review(sk_metrics *m, sk_hook h, sk_operation op, sk_verdict v, double seconds);
/* A denial: spacekeeper_admission_denials_total{reason}, once per distinct
 * reason among the violations. A reason is the violated field's first two
 * segments ("spec.storage", "metadata.labels"); past SK_METRICS_MAX_REASONS
 * distinct ones, "other". */
#define SK_METRICS_MAX_REASONS 32
void sk_metrics_denial(sk_metrics *m, const json_t *violations);
/* A CONNECT allowed only because its pod or workspace could not be looked
 * up: spacekeeper_connect_unverified_total. */
void sk_metrics_connect_unverified(sk_metrics *m);

/* Values the server owns, sampled when rendering. */
typedef struct sk_metrics_gauges {
    size_t templates;
    double cert_not_after;
    int ready;
    int watching;                /* templates come from an API watch */
    unsigned long watch_restarts, relists;
} sk_metrics_gauges;

/* Appends the exposition text. */
void sk_metrics_render(const sk_metrics *m, sk_buf *out, const sk_metrics_gauges *g);

#endif
