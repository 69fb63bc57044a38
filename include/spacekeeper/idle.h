/* Idle shutdown: every in-scope workspace (Running, idle shutdown enabled)
 * is probed once per interval at a fixed phase of its own, so probes are
 * spread evenly and a new leader keeps the same rhythm. An answer whose
 * deadline falls before the next regular probe brings that workspace's
 * next probe forward to the deadline. Past its timeout a workspace is
 * stopped with a merge patch that carries the resourceVersion the decision
 * was made on; any doubt (failed probe, stale cache, lost leadership) stops
 * nothing. Single-threaded: the caller drives it with sk_idle_step. */
#ifndef SPACEKEEPER_IDLE_H
#define SPACEKEEPER_IDLE_H

#include "spacekeeper/buf.h"
#include "spacekeeper/cache.h"
#include "spacekeeper/kube.h"

#define SK_WORKSPACES_PATH "/apis/workspace.jupyter.org/v1alpha1/workspaces"
#define SK_WORKSPACE_PODS_PATH "/api/v1/pods?labelSelector=workspace.jupyter.org%2Fworkspace-name"

typedef struct sk_idle_config {
    double interval;       /* seconds between regular probes of one workspace */
    double probe_timeout;  /* seconds */
    unsigned concurrency;  /* probes in flight at once */
    int dry_run;           /* say what would be stopped; patch nothing */
    double warn_every;     /* seconds between IdleProbeFailed Events per workspace */
} sk_idle_config;

typedef struct sk_idle sk_idle;

/* k, workspaces (items: sk_workspace) and pods (items: sk_pod, grouped by
 * "ns/workspace") are borrowed. */
sk_idle *sk_idle_new(const sk_idle_config *cfg, sk_kube *k, sk_cache *workspaces, sk_cache *pods);
void sk_idle_free(sk_idle *s);

/* Takes in cache changes, starts the probes that are due (only when
 * `leading`), waits up to wait_ms for answers and acts on them. */
void sk_idle_step(sk_idle *s, int leading, int wait_ms);

/* The spacekeeper_idle_* metric families; safe from another thread. */
void sk_idle_metrics(const sk_idle *s, sk_buf *out);

/* The cache operations for workspaces and for their pods. */
extern const struct sk_cache_ops sk_idle_workspace_ops, sk_idle_pod_ops;

#endif
