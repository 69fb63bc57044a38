/* Objects by namespace and name, behind a function pointer: serve's
 * CONNECT rule asks for a pod and a workspace without knowing whether the
 * answer comes from a GET or from a watched cache. The GET implementations
 * live here; a cache provides its own function of the same type. */
#ifndef SPACEKEEPER_LOOKUP_H
#define SPACEKEEPER_LOOKUP_H

#include <jansson.h>

#include "spacekeeper/err.h"

typedef enum sk_lookup_status {
    SK_LOOKUP_FOUND,     /* *out is the object (owned) */
    SK_LOOKUP_NOT_FOUND, /* the API server says there is none (404) */
    SK_LOOKUP_FAILED,    /* no answer worth trusting; err says why */
} sk_lookup_status;

typedef sk_lookup_status (*sk_lookup_fn)(void *ud, const char *ns, const char *name, json_t **out,
                                         sk_err *err);

/* One kind of object: the function and what it is given as ud. */
typedef struct sk_lookup {
    sk_lookup_fn get;
    void *ud;
} sk_lookup;

/* GETs through an sk_kube client (ud): core/v1 pods and
 * workspace.jupyter.org/v1alpha1 workspaces. A namespace or name that is not
 * a DNS subdomain is FAILED without a request, so nothing from a review
 * ever reaches the URL unchecked. */
sk_lookup_status sk_lookup_kube_pod(void *kube, const char *ns, const char *name, json_t **out,
                                    sk_err *err);
sk_lookup_status sk_lookup_kube_workspace(void *kube, const char *ns, const char *name, json_t **out,
                                          sk_err *err);

/* Is `name` a DNS subdomain (RFC 1123: lowercase letters, digits, '-' and
 * '.', at most 253, starting and ending with a letter or digit)? Object
 * names of both kinds are. */
int sk_lookup_valid_name(const char *name);

#endif
