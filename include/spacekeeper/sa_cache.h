/* The ServiceAccounts serve reviews against, watched from the API: an
 * sk_cache of sk_service_account, whose default-labelled ones are grouped
 * by namespace, answering as an sk_sa_source. While its watch is down or
 * before its first LIST it answers "unknown", so the engine checks nothing
 * rather than refusing on a stale or empty copy. */
#ifndef SPACEKEEPER_SA_CACHE_H
#define SPACEKEEPER_SA_CACHE_H

#include "spacekeeper/cache.h"
#include "spacekeeper/service_account.h"

#define SK_SERVICEACCOUNTS_PATH "/api/v1/serviceaccounts"

/* Lists and watches every namespace's ServiceAccounts (k is borrowed). */
sk_cache *sk_sa_cache_start(sk_kube *k);
/* A source over the cache (borrowed; it must outlive the source's use). */
sk_sa_source sk_sa_cache_source(sk_cache *c);

#endif
