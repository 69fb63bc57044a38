/* An informer: a reflector feeding a local, lock-protected copy of a
 * collection. Objects are decoded into small owned items as they arrive,
 * so a cache of ten thousand pods holds the few fields a controller reads,
 * not ten thousand JSON trees. Items can also be found by a group key
 * (pods by the workspace they belong to). */
#ifndef SPACEKEEPER_CACHE_H
#define SPACEKEEPER_CACHE_H

#include <jansson.h>
#include <stddef.h>

#include "spacekeeper/kube.h"

typedef struct sk_cache_ops {
    /* An owned item for the object, or NULL to leave it out. */
    void *(*decode)(const json_t *obj);
    void (*free)(void *item);
    /* A secondary key such as "ns/workspace"; NULL for none. Optional. */
    const char *(*group)(const void *item);
} sk_cache_ops;

typedef struct sk_cache sk_cache;

/* Lists and watches `path` (which may carry a labelSelector) on its own
 * thread. k is borrowed and must outlive the cache. */
sk_cache *sk_cache_start(sk_kube *k, const char *path, const sk_cache_ops *ops);
void sk_cache_stop(sk_cache *c);

/* Readers hold the lock while they look at items; items are immutable and
 * freed only under the lock, once replaced or deleted. */
void sk_cache_lock(sk_cache *c);
void sk_cache_unlock(sk_cache *c);
const void *sk_cache_get(const sk_cache *c, const char *ns, const char *name);
/* Iteration: `for (size_t i = 0; (item = sk_cache_next(c, &i));)`. */
const void *sk_cache_next(const sk_cache *c, size_t *pos);
/* The items of a group: `for (it = sk_cache_group_first(c, g); it; it = sk_cache_group_next(it))`. */
typedef struct sk_cache_entry sk_cache_entry;
const sk_cache_entry *sk_cache_group_first(const sk_cache *c, const char *group);
const sk_cache_entry *sk_cache_group_next(const sk_cache_entry *e);
const void *sk_cache_entry_item(const sk_cache_entry *e);
size_t sk_cache_count(const sk_cache *c);
/* Bumped by every change; a reader compares it to skip unchanged copies. */
unsigned long sk_cache_version(const sk_cache *c);

int sk_cache_synced(const sk_cache *c);
int sk_cache_live(const sk_cache *c);
unsigned long sk_cache_restarts(const sk_cache *c);
unsigned long sk_cache_relists(const sk_cache *c);

#endif
