/* What the compliance reports say, without I/O: workspaces' next-start
 * verdicts gathered per namespace, the wgpolicyk8s.io/v1alpha2 PolicyReport
 * each namespace should have, and whether the one there already says it.
 *
 * A report lists one `fail` result per violation of a workspace that would
 * be refused at its next start (policy "spacekeeper", rule = the violated
 * field, message = the violation), as Kyverno lists one result per rule a
 * resource breaks. Its summary counts those results as `fail` and the
 * compliant workspaces as `pass` (one each: every rule held). A namespace
 * without a failing workspace gets no report. The reports loop (reports.h)
 * and the tests call these. */
#ifndef SPACEKEEPER_COMPLIANCE_H
#define SPACEKEEPER_COMPLIANCE_H

#include <jansson.h>
#include <stddef.h>

#include "spacekeeper/buf.h"

#define SK_POLICY_REPORT_API_VERSION "wgpolicyk8s.io/v1alpha2"
#define SK_POLICY_REPORT_KIND "PolicyReport"
#define SK_POLICY_REPORT_NAME "spacekeeper"
#define SK_POLICY_REPORT_POLICY "spacekeeper"
#define SK_POLICY_REPORT_SOURCE "spacekeeper"
#define SK_POLICY_REPORT_CATEGORY "WorkspaceTemplate"
#define SK_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define SK_POLICY_REPORT_MANAGED_BY "spacekeeper"
/* Results kept per report: a namespace's report stays far below etcd's
 * 1.5 MiB object limit. The summary still counts every failure. */
#define SK_POLICY_REPORT_MAX_RESULTS 1000

/* One workspace's verdict, all borrowed. */
typedef struct sk_compliance_entry {
    const char *ns, *name, *uid;
    const char *template;      /* "ns/name" of the template it was checked against, or NULL */
    const json_t *violations;  /* array of {field, message}; empty or NULL: compliant */
} sk_compliance_entry;

typedef struct sk_compliance sk_compliance;

sk_compliance *sk_compliance_new(void);
void sk_compliance_free(sk_compliance *c);

/* Counts a workspace (copies what it keeps). */
void sk_compliance_add(sk_compliance *c, const sk_compliance_entry *e);

/* The namespaces that have workspaces:
 * `for (size_t i = 0; (ns = sk_compliance_next_namespace(c, &i));)`. */
const char *sk_compliance_next_namespace(const sk_compliance *c, size_t *pos);
/* Workspaces counted, and those of them that would be refused. */
size_t sk_compliance_workspaces(const sk_compliance *c);
size_t sk_compliance_noncompliant(const sk_compliance *c);

/* The PolicyReport namespace `ns` should have (owned), or NULL when none of
 * its workspaces fails. Results sort by workspace, then in the engine's
 * order. A result that `existing` (the report there, borrowed, may be
 * NULL) already holds keeps its timestamp; a new one is stamped `now`. */
json_t *sk_compliance_report(const sk_compliance *c, const char *ns, const json_t *existing, double now);

/* Does `existing` already say what `desired` says? Summary and results
 * compared, timestamps aside: a resync that finds nothing new writes
 * nothing. */
int sk_policy_report_same(const json_t *desired, const json_t *existing);

/* spacekeeper_workspaces_noncompliant{namespace,template} samples, one per
 * pair that has workspaces (0 when all comply); template is "ns/name", or
 * "" for workspaces no template resolves for. Sorted. */
void sk_compliance_metrics(const sk_compliance *c, sk_buf *out);

#endif
