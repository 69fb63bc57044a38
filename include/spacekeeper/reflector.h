/* Keeps a local copy of a collection in step with the API server: a paged
 * LIST, then a WATCH from its resourceVersion with bookmarks; a watch that
 * ends is resumed where it stopped, a 410 Gone (history compacted) starts
 * over with a LIST, and a server that is away is retried with capped,
 * jittered backoff while the copy keeps serving. Runs on its own thread. */
#ifndef SPACEKEEPER_REFLECTOR_H
#define SPACEKEEPER_REFLECTOR_H

#include <jansson.h>

#include "spacekeeper/kube.h"

typedef struct sk_reflector_ops {
    void (*replace)(void *ud, const json_t *items); /* a full LIST: the whole collection */
    void (*upsert)(void *ud, const json_t *obj);    /* ADDED or MODIFIED */
    void (*remove)(void *ud, const json_t *obj);    /* DELETED */
} sk_reflector_ops;

typedef struct sk_reflector sk_reflector;

/* k is borrowed and must outlive the reflector. */
sk_reflector *sk_reflector_start(sk_kube *k, const char *path, unsigned page_size,
                                 const sk_reflector_ops *ops, void *ud);
/* Stops the watch and joins the thread. */
void sk_reflector_stop(sk_reflector *r);

int sk_reflector_synced(const sk_reflector *r);          /* first full LIST done */
/* The copy is current: a LIST or a watch event (bookmarks included) has
 * come through since the last error. A restarted API server makes it 0
 * until the resumed watch delivers something. */
int sk_reflector_live(const sk_reflector *r);
unsigned long sk_reflector_restarts(const sk_reflector *r); /* watches lost to errors */
unsigned long sk_reflector_relists(const sk_reflector *r);  /* LISTs after the first */

#endif
