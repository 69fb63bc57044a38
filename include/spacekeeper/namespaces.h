/* Which namespaces are being deleted, from a watch of Namespaces: deleting
 * a namespace deletes what is in it, and nothing spacekeeper guards may
 * stand in the way of that. */
#ifndef SPACEKEEPER_NAMESPACES_H
#define SPACEKEEPER_NAMESPACES_H

#include "spacekeeper/cache.h"

#define SK_NAMESPACES_PATH "/api/v1/namespaces"
/* The identity that empties a namespace being deleted. */
#define SK_NAMESPACE_CONTROLLER_USER "system:serviceaccount:kube-system:namespace-controller"

/* For sk_cache_start: the cache keeps only the namespaces whose
 * status.phase is Terminating or that carry a deletionTimestamp. */
extern const sk_cache_ops sk_namespace_terminating_ops;

/* Is `ns` being deleted? The cache must be locked. */
int sk_namespace_terminating(const sk_cache *namespaces, const char *ns);

#endif
