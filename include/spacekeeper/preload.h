/* Image preloading: keeps one DaemonSet per cell of nodes (cells.h) in the
 * controller's namespace in step with the WorkspaceTemplates and the nodes.
 * Nothing is written when the desired object matches what is there (a hash
 * of the desired spec rides in an annotation). An image whose pull fails in
 * a preload pod is set aside (out of every DaemonSet, so the rollout
 * completes with the rest) for a backoff that doubles from backoff_min to
 * backoff_max, or until a template that names it changes; a Warning Event
 * on each such template says so. Mutable tags are pulled again every
 * `refresh` through a pod-template annotation. Only the leader writes. */
#ifndef SPACEKEEPER_PRELOAD_H
#define SPACEKEEPER_PRELOAD_H

#include "spacekeeper/buf.h"
#include "spacekeeper/kube.h"

typedef struct sk_preload_config {
    const char *namespace;          /* the controller's: DaemonSets and their pods live here */
    const char *pause_image;        /* an image holding /usr/local/bin/spacekeeper-pause */
    const char *priority_class;
    const char *const *extra_images;  /* --preload-images, NULL-terminated; borrowed */
    const char *const *pull_secrets;  /* --preload-pull-secrets, NULL-terminated; borrowed */
    double refresh;                 /* seconds; 0: never */
    double backoff_min, backoff_max;
    size_t max_daemonsets;
    double resync;                  /* seconds between full comparisons */
} sk_preload_config;

typedef struct sk_preload sk_preload;

/* Starts the watches (templates, nodes, its DaemonSets and their pods). */
sk_preload *sk_preload_new(const sk_preload_config *cfg, sk_kube *k);
void sk_preload_free(sk_preload *p);
int sk_preload_synced(const sk_preload *p);
/* Does what is due; never blocks for long. */
void sk_preload_step(sk_preload *p, int leading);
void sk_preload_metrics(const sk_preload *p, sk_buf *out);
/* Watch restarts and relists of its caches, by resource, as metric lines. */
void sk_preload_watch_metrics(const sk_preload *p, sk_buf *restarts, sk_buf *relists);

#endif
