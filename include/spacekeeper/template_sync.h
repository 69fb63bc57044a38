/* The template store fed by a watch of WorkspaceTemplates across the
 * cluster: templates are compiled on the watch thread, outside the store's
 * lock, and swapped in under it. */
#ifndef SPACEKEEPER_TEMPLATE_SYNC_H
#define SPACEKEEPER_TEMPLATE_SYNC_H

#include "spacekeeper/reflector.h"
#include "spacekeeper/template.h"

#define SK_TEMPLATES_PATH "/apis/workspace.jupyter.org/v1alpha1/workspacetemplates"

/* Starts watching into `store` (borrowed; must outlive the reflector). */
sk_reflector *sk_template_sync_start(sk_kube *k, sk_store *store, unsigned page_size);

#endif
