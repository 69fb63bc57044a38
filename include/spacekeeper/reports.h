/* Compliance reports: keeps one wgpolicyk8s.io/v1alpha2 PolicyReport per
 * namespace (compliance.h says what it holds) in step with the workspaces
 * and the templates. Each workspace gets the review of its next start
 * against the templates as they are now (sk_policy_review_start); a verdict
 * is kept until the workspace or any template changes, so a pass over
 * unchanged workspaces reviews none of them again. Changes are taken in at
 * most once per `interval`, and everything is compared again every
 * `resync`; a report is written only when what it says changed (timestamps
 * aside), deleted when its namespace has no failure left, and only by the
 * leader. Without the PolicyReport CRD (its API group not served) it says
 * so in one log line, writes nothing, looks again every resync, and still
 * exports the metric. Single-threaded: the caller drives it with
 * sk_reports_step. */
#ifndef SPACEKEEPER_REPORTS_H
#define SPACEKEEPER_REPORTS_H

#include "spacekeeper/buf.h"
#include "spacekeeper/kube.h"
#include "spacekeeper/policy.h"

#define SK_POLICY_REPORTS_PATH "/apis/wgpolicyk8s.io/v1alpha2/policyreports"

typedef struct sk_reports_config {
    const sk_policy_config *policy; /* borrowed: what serve is configured with */
    double interval;                /* seconds: at most one pass per interval */
    double resync;                  /* seconds between passes without a change */
} sk_reports_config;

typedef struct sk_reports sk_reports;

/* Starts the watches (workspaces, templates; reports once the CRD is
 * found). cfg->policy and k are borrowed. */
sk_reports *sk_reports_new(const sk_reports_config *cfg, sk_kube *k);
void sk_reports_free(sk_reports *r);
/* Safe from another thread. */
int sk_reports_synced(sk_reports *r);
/* Does what is due; a pass reviews and writes synchronously. */
void sk_reports_step(sk_reports *r, int leading);
/* spacekeeper_workspaces_noncompliant and the reports' own counters; safe
 * from another thread. */
void sk_reports_metrics(sk_reports *r, sk_buf *out);
/* Watch restarts and relists of its caches, by resource, as metric lines. */
void sk_reports_watch_metrics(const sk_reports *r, sk_buf *restarts, sk_buf *relists);

#endif
