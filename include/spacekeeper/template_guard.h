/* What serve adds to the engine's verdict on a WorkspaceTemplate once it
 * knows the workspaces: an UPDATE carries warnings naming the workspaces it
 * would refuse at their next start (counted by sk_impact, as check --impact
 * counts), and a DELETE of a template still in use is refused with names.
 * Neither ever stands in the way when the view is not current: no watch,
 * a broken watch, a namespace being deleted. */
#ifndef SPACEKEEPER_TEMPLATE_GUARD_H
#define SPACEKEEPER_TEMPLATE_GUARD_H

#include <stddef.h>

#include "spacekeeper/cache.h"
#include "spacekeeper/policy.h"

#define SK_GUARD_DEFAULT_REVIEW_LIMIT 20000
#define SK_GUARD_WARNED_NAMES 10 /* refusals named in an UPDATE's warnings */
#define SK_GUARD_DENIAL_NAMES 5  /* users named when a DELETE is refused */

typedef struct sk_guard {
    const sk_policy_config *policy; /* borrowed */
    sk_cache *workspaces;           /* borrowed: sk_ws_brief items */
    sk_cache *namespaces;           /* borrowed: sk_namespace_terminating_ops; may be NULL */
    /* With more users than this, an UPDATE's warning counts them and
     * reviews none (the review would outlast the webhook's timeout). */
    size_t review_limit;
} sk_guard;

/* Called after the validating webhook's engine review; does nothing but
 * for an allowed WorkspaceTemplate UPDATE (warnings appended to
 * d->warnings) or DELETE (refused: d->violations, d->allowed = 0; forced
 * by an admin: a warning). `store` is read under its lock for a moment,
 * not held during the reviews. */
void sk_guard_template(const sk_guard *g, const sk_store *store, const sk_request *req,
                       sk_decision *d);

#endif
