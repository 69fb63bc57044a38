/* OwnerOnly holds for pods/exec, pods/attach and pods/portforward.
 *
 * For these the API server sends a CONNECT review whose object is the
 * options (PodExecOptions, PodAttachOptions, PodPortForwardOptions), not the
 * pod: request.name names the pod. The rule looks the pod up, and through
 * its workspace-name label the workspace, and refuses anyone but the
 * workspace's creator, a member of the admin groups or a trusted service
 * account when the workspace is OwnerOnly. Trusted service accounts may
 * connect to workspace pods only (the workspace operator's own exec webhook:
 * its idle checks exec into workspace pods and nothing else). A pod or
 * workspace that cannot be found, or looked up, is allowed: the verdict
 * says why, for the log. */
#ifndef SPACEKEEPER_CONNECT_H
#define SPACEKEEPER_CONNECT_H

#include "spacekeeper/admission.h"
#include "spacekeeper/err.h"
#include "spacekeeper/lookup.h"
#include "spacekeeper/policy.h"

#define SK_LABEL_WORKSPACE_NAME "workspace.jupyter.org/workspace-name"

/* Where the rule finds pods and workspaces (by GET, or a cache). */
typedef struct sk_connect_lookups {
    sk_lookup pod;
    sk_lookup workspace;
} sk_connect_lookups;

typedef struct sk_connect_request {
    const char *subresource;   /* "exec", "attach" or "portforward" */
    const char *namespace;
    const char *pod;           /* request.name */
    const char *user;
    const char *const *groups; /* NULL-terminated; may be NULL */
} sk_connect_request;

/* Why a verdict is what it is; one row each in connect.c's table. */
typedef enum sk_connect_reason {
    SK_CONNECT_NOT_POD_CONNECT,    /* another resource or subresource: not this rule's */
    SK_CONNECT_NO_API,             /* serve has no API access (--templates) */
    SK_CONNECT_ADMIN,              /* a member of the admin groups */
    SK_CONNECT_POD_NOT_FOUND,
    SK_CONNECT_POD_UNKNOWN,        /* the pod lookup failed */
    SK_CONNECT_TRUSTED_WORKSPACE_POD,
    SK_CONNECT_TRUSTED_OTHER_POD,  /* refused */
    SK_CONNECT_NOT_WORKSPACE_POD,
    SK_CONNECT_WORKSPACE_NOT_FOUND,
    SK_CONNECT_WORKSPACE_UNKNOWN,  /* the workspace lookup failed */
    SK_CONNECT_PUBLIC,
    SK_CONNECT_OWNER,
    SK_CONNECT_NOT_OWNER,          /* refused */
    SK_CONNECT_REASON_COUNT
} sk_connect_reason;

typedef struct sk_connect_verdict {
    int allowed;
    sk_connect_reason reason;
    char workspace[256]; /* the pod's workspace label, "" when none */
    char *message;       /* owned: a refusal's message, or why a lookup failed; NULL when none */
} sk_connect_verdict;

/* Is this subresource of pods one the rule covers? */
int sk_connect_covers(const char *subresource);

/* The decision. `lookups` may be NULL (no API access: allowed). Looks up
 * only what the answer needs: nothing for an admin, the pod for everyone
 * else, its workspace only for a requester who is not trusted. */
void sk_connect_decide(const sk_policy_config *cfg, const sk_connect_lookups *lookups,
                       const sk_connect_request *rq, sk_connect_verdict *out);
void sk_connect_verdict_free(sk_connect_verdict *v);

/* "admin", "pod not found", "not the owner", ...: the log's reason. */
const char *sk_connect_reason_name(sk_connect_reason reason);
/* Whether the verdict deserves a log line at info level or above (a
 * refusal, or an allowance because something was missing). */
int sk_connect_notable(const sk_connect_verdict *v);
/* Allowed only because a lookup failed (not: found nothing). */
int sk_connect_unverified(const sk_connect_verdict *v);

/* The rule on a parsed review: the request's fields read from r, the
 * verdict in `v`, and in `out` a decision sk_review_render answers with
 * (kind/namespace/name borrowed from r; one violation on a refusal, under
 * the field "pods.SUBRESOURCE"). */
void sk_connect_review(const sk_policy_config *cfg, const sk_connect_lookups *lookups,
                       const sk_review *r, sk_connect_verdict *v, sk_decision *out);

#endif
