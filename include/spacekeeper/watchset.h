/* The collections a program watches, in one table: each row a reflector or
 * a cache, named by its resource, required for readiness or not. One place
 * starts nothing but stops everything, answers /readyz (with a line per
 * watch saying how it is) and renders the watch metrics, so watching one
 * more resource is one more row. */
#ifndef SPACEKEEPER_WATCHSET_H
#define SPACEKEEPER_WATCHSET_H

#include <stddef.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/cache.h"
#include "spacekeeper/reflector.h"

typedef struct sk_watchset sk_watchset;

typedef struct sk_watch_status {
    const char *resource; /* "workspaces" */
    int required;         /* not ready until it has listed once */
    int synced, live;
    unsigned long restarts, relists;
} sk_watch_status;

sk_watchset *sk_watchset_new(void);
/* Stops every watch, the last added first. */
void sk_watchset_free(sk_watchset *w);

/* The set owns what it is given (NULL is ignored). `resource` is borrowed
 * and must outlive the set (a literal). */
void sk_watchset_add_reflector(sk_watchset *w, const char *resource, int required, sk_reflector *r);
void sk_watchset_add_cache(sk_watchset *w, const char *resource, int required, sk_cache *c);

size_t sk_watchset_count(const sk_watchset *w);
void sk_watchset_status(const sk_watchset *w, size_t i, sk_watch_status *out);

/* Every required watch has listed once (NULL: nothing to wait for). */
int sk_watchset_ready(const sk_watchset *w);
/* Is this watch listed and current? 0 when the set has no such resource. */
int sk_watchset_live(const sk_watchset *w, const char *resource);

/* /readyz's detail: "[+]workspaces: live\n" or "[-]workspaces: not live
 * (...)\n" per watch. */
void sk_watchset_describe(const sk_watchset *w, sk_buf *out);
/* spacekeeper_watch_{synced,live}{resource}, _restarts_total and
 * _relists_total: HELP and TYPE, then a sample per watch. */
void sk_watchset_metrics(const sk_watchset *w, sk_buf *out);

#endif
