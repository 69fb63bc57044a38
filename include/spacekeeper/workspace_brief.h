/* A workspace as serve keeps it: what its next start's review reads and
 * nothing else. The object is held as compact JSON text (a tenth of the
 * jansson tree it came from) and decoded again only for the few reviews
 * that need it; what finding its template reads is kept beside it as a key,
 * so workspaces that find their template the same way are told apart from
 * the rest without decoding any of them. */
#ifndef SPACEKEEPER_WORKSPACE_BRIEF_H
#define SPACEKEEPER_WORKSPACE_BRIEF_H

#include <jansson.h>
#include <stddef.h>

#include "spacekeeper/cache.h"

typedef struct sk_ws_brief {
    const char *ns, *name; /* metadata.namespace ("default" when absent) and name */
    /* "<namespace>\n<spec.templateRef as compact JSON, or empty>": everything
     * a template lookup reads */
    const char *selects;
    /* compact JSON: apiVersion, kind, metadata (namespace, labels, annotations
     * but kubectl's last-applied copy, deletionTimestamp: not the name, so
     * that workspaces alike but for their names have the same text), spec */
    const char *doc;
    size_t doc_len;
    int deleting;    /* metadata.deletionTimestamp is set */
} sk_ws_brief;

/* One allocation per brief (free() it); NULL for an object without a name. */
sk_ws_brief *sk_ws_brief_new(const json_t *workspace);
/* The object again, name included (owned), or NULL if it cannot be decoded. */
json_t *sk_ws_brief_object(const sk_ws_brief *b);
/* "ns/name" order, for qsort of an array of const sk_ws_brief *. */
int sk_ws_brief_compare(const void *a, const void *b);

/* For sk_cache_start. */
extern const sk_cache_ops sk_ws_brief_ops;

#endif
