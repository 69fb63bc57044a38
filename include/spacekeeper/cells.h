/* Image preloading, the pure part: which images each node should hold and
 * the DaemonSets that put them there, at most one preload pod per node.
 *
 * A template's defaultNodeSelector says where its workspaces run. Nodes
 * fall into cells by which templates' selectors their labels match; each
 * cell gets one DaemonSet whose required node affinity selects exactly the
 * cell (In for the labels of the selectors it matches, NotIn so a node that
 * also matches a further selector falls into that other cell), carrying the
 * union of those templates' images and tolerations. Cells come from the
 * nodes there are, so none is made for a combination no node has. No I/O. */
#ifndef SPACEKEEPER_CELLS_H
#define SPACEKEEPER_CELLS_H

#include <jansson.h>
#include <stddef.h>

#define SK_PRELOAD_ANNOTATION "workspace.jupyter.org/preload"
#define SK_PRELOAD_MANAGED_BY "spacekeeper-controller"
#define SK_PRELOAD_CELL_LABEL "spacekeeper.io/preload-cell"
#define SK_PRELOAD_HASH_ANNOTATION "spacekeeper.io/spec-hash"
#define SK_PRELOAD_REFRESH_ANNOTATION "spacekeeper.io/refreshed-at"
#define SK_PRELOAD_PAUSE_DIR "/spacekeeper"

typedef struct sk_selector {
    size_t n;
    char **keys, **values; /* sorted by key */
    char *text;            /* "k1=v1,k2=v2"; "" matches every node */
} sk_selector;

typedef struct sk_preload_template {
    char *ns, *name, *rv;
    int enabled;           /* not annotated workspace.jupyter.org/preload: "false" */
    size_t nimages;
    char **images;         /* defaultImage, then allowedImages; de-duplicated as written */
    sk_selector selector;  /* defaultNodeSelector */
    json_t *tolerations;   /* defaultTolerations (an array), or NULL */
} sk_preload_template;

sk_preload_template *sk_preload_template_decode(const json_t *obj);
void sk_preload_template_free(sk_preload_template *t);
int sk_preload_template_names(const sk_preload_template *t, const char *image);

/* Does a node with these labels (an object of strings) match? */
int sk_selector_matches(const sk_selector *s, const json_t *labels);

typedef struct sk_preload_cell {
    char *key;             /* the matched selectors' texts joined by '|' */
    char *name;            /* spacekeeper-preload-<hash of key> */
    size_t nodes;          /* how many nodes fall in it */
    size_t nimages;
    char **images;         /* sorted, unique */
    json_t *tolerations;   /* array, unique */
    json_t *affinity;      /* the pod's affinity, or NULL for every node */
    size_t ntemplates;
    const sk_preload_template **templates; /* borrowed from the input */
} sk_preload_cell;

typedef struct sk_preload_cells {
    size_t n;
    sk_preload_cell *cells; /* most nodes first */
    size_t dropped_terms;   /* cells left out: their affinity would need too many terms */
} sk_preload_cells;

/* Cells of `nodes` (an array of label objects) for the enabled templates;
 * images in `skip` (NULL-terminated, or NULL) are left out, `extra` images
 * (NULL-terminated, or NULL) go to every node. Templates are borrowed and
 * must outlive the result. */
void sk_preload_cells_compute(const sk_preload_template *const *templates, size_t ntemplates,
                              const json_t *nodes, const char *const *extra, const char *const *skip,
                              sk_preload_cells *out);
void sk_preload_cells_free(sk_preload_cells *c);

typedef struct sk_preload_render {
    const char *namespace;
    const char *pause_image;    /* holds spacekeeper-pause */
    const char *priority_class;
    const char *const *pull_secrets; /* NULL-terminated, or NULL */
} sk_preload_render;

/* The DaemonSet of a cell, with SK_PRELOAD_HASH_ANNOTATION over everything
 * but the refresh annotation; refreshed_at (or NULL) goes on the pod
 * template when the cell holds a mutable tag. */
json_t *sk_preload_daemonset(const sk_preload_cell *c, const sk_preload_render *r, const char *refreshed_at);

/* Pinned by digest: pulled once (IfNotPresent), never refreshed. */
int sk_image_is_digest(const char *image);
/* A valid, unique, stable container name for an image (<= 63 characters). */
void sk_preload_container_name(const char *image, char *out, size_t size);

#endif
