/* A small Kubernetes API client (libcurl + jansson): configuration from a
 * kubeconfig or from inside a pod, the verbs spacekeeper needs, and watches.
 * Calls return the HTTP status (or -1 when the server was not reached); on
 * a status >= 400 err holds the API server's Status message. */
#ifndef SPACEKEEPER_KUBE_H
#define SPACEKEEPER_KUBE_H

#include <jansson.h>

#include "spacekeeper/err.h"

#define SK_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct sk_kube_config {
    char *server;               /* "https://host:port" */
    char *ca_file, *ca_pem;     /* either; neither: the system's trust store */
    char *cert_file, *key_file; /* client certificate, as files ... */
    char *cert_pem, *key_pem;   /* ... or inline */
    char *token;                /* a fixed bearer token, or */
    char *token_file;           /* one re-read whenever the file changes */
    int insecure;               /* insecure-skip-tls-verify */
    char *namespace;            /* the context's namespace, or the pod's */
    long timeout_ms;            /* per request (not watches); 0: 30 s */
} sk_kube_config;

/* From a kubeconfig: `path`, else $KUBECONFIG (first entry), else
 * ~/.kube/config; `context` or the current context. Relative file paths
 * are relative to the kubeconfig. */
int sk_kube_config_load(sk_kube_config *c, const char *path, const char *context, sk_err *err);
/* From inside a pod: KUBERNETES_SERVICE_HOST/PORT and the service account
 * directory (token, ca.crt, namespace). */
int sk_kube_config_in_cluster(sk_kube_config *c, const char *sa_dir, sk_err *err);
/* --kubeconfig if given, else in-cluster when KUBERNETES_SERVICE_HOST is
 * set, else the default kubeconfig. */
int sk_kube_config_auto(sk_kube_config *c, const char *kubeconfig, sk_err *err);
void sk_kube_config_free(sk_kube_config *c);

typedef struct sk_kube sk_kube;

sk_kube *sk_kube_new(const sk_kube_config *cfg, sk_err *err); /* cfg is copied */
void sk_kube_free(sk_kube *k);

/* A path may carry its own query ("...?labelSelector=x"); the client's
 * parameters are appended to it. */
long sk_kube_get(sk_kube *k, const char *path, json_t **out, sk_err *err);
/* One page of a LIST: limit 0 for all; cont NULL for the first page. */
long sk_kube_list(sk_kube *k, const char *path, unsigned limit, const char *cont, json_t **out,
                  sk_err *err);
/* Every page of a LIST, `limit` items at a time (0: all at once): fn(ud,
 * items, first) with each page's items (borrowed). `first` marks the first
 * page of a LIST, and a continue token that expired (410) starts the LIST
 * over, so what fn was given before is void. Ends early when fn returns
 * nonzero or *stop (may be NULL) becomes nonzero. On success the LIST's
 * resourceVersion is copied into rv (may be NULL).
 * Returns 200 when every page came, 0 when ended early, else the status of
 * the page that failed (or -1) with err set. */
typedef int (*sk_kube_page_fn)(void *ud, const json_t *items, int first);
long sk_kube_list_pages(sk_kube *k, const char *path, unsigned limit, sk_kube_page_fn fn, void *ud,
                        const int *stop, char *rv, size_t rv_cap, sk_err *err);
/* The same, into one array of every item (*items, owned, on 200). */
long sk_kube_list_all(sk_kube *k, const char *path, unsigned limit, const int *stop, json_t **items,
                      char *rv, size_t rv_cap, sk_err *err);
long sk_kube_create(sk_kube *k, const char *path, const json_t *obj, json_t **out, sk_err *err);
/* PUT; obj carries metadata.resourceVersion as the precondition: a
 * conflict is 409 with err saying so. */
long sk_kube_update(sk_kube *k, const char *path, const json_t *obj, json_t **out, sk_err *err);

long sk_kube_delete(sk_kube *k, const char *path, sk_err *err);

typedef enum sk_kube_patch_type { SK_KUBE_MERGE_PATCH, SK_KUBE_JSON_PATCH } sk_kube_patch_type;
long sk_kube_patch(sk_kube *k, const char *path, sk_kube_patch_type type, const json_t *patch,
                   json_t **out, sk_err *err);

/* Records a core/v1 Event about `involved` (type Normal or Warning). */
long sk_kube_event(sk_kube *k, const json_t *involved, const char *type, const char *reason,
                   const char *message, const char *component, sk_err *err);

/* Streams a watch: calls fn(ud, type, object) for every event until fn
 * returns nonzero, the server ends the stream, or *stop becomes nonzero.
 * Returns the HTTP status of the watch request. */
/* The same about an object named by its parts (uid may be NULL); a failure
 * is logged, not returned: an Event is never worth failing for. */
void sk_kube_event_about(sk_kube *k, const char *api_version, const char *kind, const char *ns,
                         const char *name, const char *uid, const char *type, const char *reason,
                         const char *message, const char *component);

typedef int (*sk_kube_watch_fn)(void *ud, const char *type, json_t *object);
long sk_kube_watch(sk_kube *k, const char *path, const char *resource_version,
                   unsigned timeout_seconds, sk_kube_watch_fn fn, void *ud, const int *stop,
                   sk_err *err);

#endif
