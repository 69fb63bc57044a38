/* WorkspaceTemplates compiled for fast checks, and the store that finds them.
 *
 * Compiling parses every bound once (quantities, image sets), so a decision
 * does no parsing of the template. The store indexes templates by
 * "namespace/name" and keeps each namespace's default templates, so every
 * lookup is a hash probe whatever the number of templates. */
#ifndef SPACEKEEPER_TEMPLATE_H
#define SPACEKEEPER_TEMPLATE_H

#include <jansson.h>

#include "spacekeeper/map.h"
#include "spacekeeper/quantity.h"
#include "spacekeeper/regex.h"

#define SK_LABEL_DEFAULT_TEMPLATE "workspace.jupyter.org/default-template"
#define SK_LABEL_SYSTEM_TEMPLATE "workspace.jupyter.org/system-template"

typedef struct sk_bound {
    int has_min, has_max;
    sk_quantity min, max;
    const char *min_text, *max_text; /* as the admin wrote them, borrowed */
} sk_bound;

/* One entry of envRequirements (by name) or labelRequirements (by key). */
typedef struct sk_requirement {
    const char *key;     /* borrowed: the variable's name or the label's key */
    int required;
    const char *pattern; /* borrowed; NULL when none */
    sk_regex *re;        /* owned; NULL when no pattern or it does not compile */
    char *re_error;      /* owned: why the pattern does not compile, else NULL */
} sk_requirement;

typedef struct sk_template {
    json_t *obj;         /* owned: the template's apiVersion, kind, name, namespace,
                            labels and spec (shared with the object it was made from) */
    const json_t *spec;  /* borrowed from obj; never NULL (empty_spec if absent) */
    json_t *empty_spec;  /* owned */
    char *name, *ns;     /* owned; ns is the shared namespace when the object has none */
    char *key;           /* "ns/name", owned */
    int is_default, is_system;

    const char *default_image;
    sk_map *allowed_images; /* set; NULL when allowedImages is empty */
    size_t n_allowed;
    int allow_custom_images;
    int allow_secondary_storages;

    sk_bound storage;
    sk_map *resource_bounds; /* resource name -> sk_bound*, owned */

    int idle_allow;
    int has_idle_min, has_idle_max;
    long long idle_min, idle_max;
    const json_t *idle_default; /* borrowed */

    const char *app_type;

    sk_requirement *env_reqs, *label_reqs; /* owned arrays */
    size_t n_env_reqs, n_label_reqs;
    int allow_custom_init_containers;
} sk_template;

/* Compiles a WorkspaceTemplate object (borrowed; a reference is taken).
 * Shape errors found while compiling are appended to `violations` (an array
 * of {field, message}; may be NULL) and the offending bound is ignored, so a
 * store never refuses a template the cluster already holds. NULL only when
 * the object has no metadata.name. */
sk_template *sk_template_new(const json_t *obj, const char *shared_ns, json_t *violations);
void sk_template_free(sk_template *t);

/* Is this image allowed by the template? (an empty list means just
 * defaultImage; allowCustomImages allows anything) */
int sk_template_allows_image(const sk_template *t, const char *image);

/* Writes "a, b, c" (at most `max` names, then "and N more") for messages. */
void sk_template_describe_images(const sk_template *t, size_t max, char *buf, size_t cap);

/* The first constraint field (allowedImages, resourceBounds, ...) whose
 * meaning differs between two versions of a template, or NULL: quantities
 * compare by value, allowedImages as a set, absent flags as their defaults. */
const char *sk_template_changed_constraint(const sk_template *was, const sk_template *now);

typedef struct sk_store sk_store;

sk_store *sk_store_new(const char *shared_namespace);
void sk_store_free(sk_store *s);
/* Adds or replaces (and frees) the template with the same namespace/name;
 * the store owns t from then on. */
void sk_store_put(sk_store *s, sk_template *t);
/* Returns 1 if it was there. */
int sk_store_remove(sk_store *s, const char *ns, const char *name);
/* Borrowed; valid until the template is replaced or removed. */
const sk_template *sk_store_get(const sk_store *s, const char *ns, const char *name);
/* The namespace's default template. With two or more, returns NULL and sets
 * *conflict to two of them so that the error can name both. */
const sk_template *sk_store_default(const sk_store *s, const char *ns,
                                    const sk_template *conflict[2]);
size_t sk_store_count(const sk_store *s);
const char *sk_store_shared_namespace(const sk_store *s);
/* Removes every template. */
void sk_store_clear(sk_store *s);
/* Replaces every template with the WorkspaceTemplates of `items` (a LIST's
 * items, borrowed), compiled before the write lock is taken and swapped in
 * under it. Like sk_template_new, it never refuses one over its shape. */
void sk_store_replace_all(sk_store *s, const json_t *items);

/* A store that changes while it serves (templates watched from the API)
 * is read under the read lock for the whole of a decision, since lookups
 * hand out borrowed templates, and changed under the write lock. */
void sk_store_read_lock(const sk_store *s);
void sk_store_write_lock(sk_store *s);
void sk_store_unlock(const sk_store *s);

/* The templates' objects, in no particular order: an owned array of
 * references, to build another store from (a change's before and after).
 * Read under the store's read lock. */
json_t *sk_store_objects(const sk_store *s);

#endif
