/* The policy engine's own parts, shared by the files of src/policy/ and by
 * nothing else: one evaluation's state, the rule table's row type, and the
 * checks and defaults of each concern (images.c, resources.c, storage.c,
 * idle_shutdown.c, ownership.c, labels.c, env.c, init_containers.c,
 * service_accounts.c, scheduling.c, app.c). policy.c runs the table;
 * rules.c is the table. Internal names start with skp_. */
#ifndef SPACEKEEPER_POLICY_ENGINE_H
#define SPACEKEEPER_POLICY_ENGINE_H

#include <jansson.h>
#include <stddef.h>

#include "spacekeeper/policy.h"
#include "spacekeeper/quantity.h"
#include "spacekeeper/template.h"

/* What an UPDATE changed decides which checks run: metadata-only edits and a
 * pure stop are never blocked by a template (a template may have tightened
 * since the workspace was made); anything else is re-checked against the
 * template as it is now, which includes starting a stopped workspace. */
typedef enum skp_change {
    SKP_CHANGE_CREATE,
    SKP_CHANGE_METADATA,
    SKP_CHANGE_STOP,
    SKP_CHANGE_SPEC,
    SKP_CHANGE_DELETE,
} skp_change;

struct eval {
    const sk_policy_config *cfg;
    const sk_store *store;
    const sk_request *req;
    const sk_template *tpl;     /* NULL when the workspace has none */
    const json_t *old_spec;     /* NULL on CREATE and in template self-checks */
    json_t *obj;                /* the object being defaulted (out->object) */
    json_t *ops;                /* where patch operations go: out->patch, or NULL for a verdict only */
    sk_decision *out;
    skp_change change;
    int self_check;             /* checking a template's own defaults */
};

typedef void (*skp_check_fn)(struct eval *ev, const char *field, const json_t *value);

enum skp_shape { SKP_ANY, SKP_STRING, SKP_OBJECT, SKP_ARRAY, SKP_QUANTITY };

/* How a template default meets what the user wrote. */
enum skp_merge {
    SKP_FILL,      /* the whole default, only when the field is absent or empty */
    SKP_DEEP,      /* also fill absent leaves of a present object */
    SKP_BY_NAME,   /* a list: append the default entries whose "name" the user's list lacks */
    SKP_BY_KEY,    /* a map from a list of {key, value}: set the keys the user's map lacks */
};

/* A default merged into an object the user partly wrote never contradicts
 * what the user wrote: a defaulted quantity under `section` is kept at least
 * (sign +1) or at most (sign -1) the user's own value for the same key under
 * `other`, and takes that value otherwise. */
struct skp_fit {
    const char *section, *other;
    int sign;
};

/* Row flags. */
#define SKP_CHECK_ABSENT 1  /* run the check with NULL when the field is absent */
#define SKP_NO_SELF_CHECK 2 /* the template default is partial: do not check it alone */

/* One row per workspace field: where it lives, which template field
 * defaults it, what it must look like and what bounds it. */
struct skp_rule {
    const char *field;      /* for messages */
    const char *ws[4];      /* path in the workspace */
    const char *tpl[3];     /* path under the template's spec; {NULL}: no template default */
    const char *fallback;   /* string default when the template gives none */
    enum skp_shape shape;
    enum skp_merge merge;
    skp_check_fn check;
    const struct skp_fit *fit;  /* SKP_DEEP: how merged defaults agree with the user's values */
    /* A default computed when the template gives none (new reference, or
     * NULL for none); applied after every template default. */
    json_t *(*derive)(const struct eval *ev);
    /* Template self-check beyond the row's check of the default: warnings
     * about bounds that are legal but not what the admin meant. */
    void (*template_check)(struct eval *ev, const sk_template *t);
    int flags;
};

extern const struct skp_rule skp_rules[];
extern const size_t skp_rules_count;

/* ---- eval.c: the evaluation's toolkit ---- */

void skp_violation(struct eval *ev, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void skp_warning(struct eval *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The index of s in a NULL-terminated list, or -1. */
int skp_list_index(const char *s, const char *const *list);
int skp_in_list(const char *s, const char *const *list);
void skp_join_list(const char *const *list, char *buf, size_t cap);
void skp_check_enum(struct eval *ev, const char *field, const json_t *v, const char *const *allowed);
const char *skp_tpl_name(const struct eval *ev);
int skp_is_user(const struct eval *ev, const char *who);
int skp_in_admin_group(const struct eval *ev);
/* "a, b" for messages: who may override ownership and reserved metadata. */
const char *skp_admin_groups_text(const struct eval *ev, char *buf, size_t cap);
const char *skp_requester(const struct eval *ev);
const json_t *skp_old_at(const struct eval *ev, const char *const *path);
/* Sets the object's path (n keys from the root) to value (stolen), recording
 * the patch; a failure is reported under `field`. */
void skp_set(struct eval *ev, const char *field, const char *const *path, size_t n, json_t *value);
/* A quantity as the user wrote it, or formatted when it was a number. */
const char *skp_quantity_text(const json_t *v, sk_quantity q, char *buf, size_t cap);
int skp_parse_quantity(struct eval *ev, const char *field, const json_t *v, sk_quantity *q);
/* A value (NULL: absent) against one of envRequirements or labelRequirements;
 * `what` names the kind of thing ("environment variable", "label"). */
void skp_check_requirement(struct eval *ev, const char *field, const sk_requirement *q,
                           const char *what, const char *value);
/* Reports each entry of `list` whose `key` an earlier entry already gave. */
void skp_check_unique(struct eval *ev, const json_t *list, const char *field, const char *key);

/* ---- the concerns ---- */

/* images.c */
void skp_images_check(struct eval *ev, const char *field, const json_t *v);
json_t *skp_images_derive(const struct eval *ev);
void skp_images_require(struct eval *ev);

/* resources.c */
extern const struct skp_fit skp_resources_fit[];
void skp_resources_check(struct eval *ev, const char *field, const json_t *v);
/* Reports a quantity outside the template's [min, max] (storage too). */
void skp_resources_check_bound(struct eval *ev, const char *field, const json_t *text,
                               sk_quantity q, const sk_bound *b);

/* storage.c */
void skp_storage_check_size(struct eval *ev, const char *field, const json_t *v);
json_t *skp_storage_derive_size(const struct eval *ev);
void skp_storage_template_check(struct eval *ev, const sk_template *t);
void skp_storage_check_class(struct eval *ev, const char *field, const json_t *v);
void skp_storage_check_mount_path(struct eval *ev, const char *field, const json_t *v);
void skp_storage_check_volumes(struct eval *ev, const char *field, const json_t *v);

/* idle_shutdown.c */
void skp_idle_shutdown_check(struct eval *ev, const char *field, const json_t *v);
void skp_idle_shutdown_template_check(struct eval *ev, const sk_template *t);

/* ownership.c: who may own, change and see a workspace */
void skp_ownership_check_type(struct eval *ev, const char *field, const json_t *v);
void skp_ownership_check_access_type(struct eval *ev, const char *field, const json_t *v);
json_t *skp_ownership_derive_access_type(const struct eval *ev);
int skp_ownership_is_owner_only(const json_t *obj);
void skp_ownership_check_update(struct eval *ev, const json_t *old);
void skp_ownership_check_becoming_owner_only(struct eval *ev, const json_t *old);

/* labels.c: metadata stamped, reserved and required */
void skp_labels_check_reserved(struct eval *ev, const json_t *old);
void skp_labels_stamp(struct eval *ev);
void skp_labels_check_requirements(struct eval *ev, const char *field, const json_t *v);
void skp_labels_template_check(struct eval *ev, const sk_template *t);

/* env.c */
void skp_env_check(struct eval *ev, const char *field, const json_t *v);
void skp_env_template_check(struct eval *ev, const sk_template *t);

/* init_containers.c */
void skp_init_containers_check(struct eval *ev, const char *field, const json_t *v);
void skp_init_containers_template_check(struct eval *ev, const sk_template *t);

/* service_accounts.c */
void skp_service_accounts_check(struct eval *ev, const char *field, const json_t *v);
json_t *skp_service_accounts_derive(const struct eval *ev);

/* scheduling.c */
void skp_scheduling_check_node_selector(struct eval *ev, const char *field, const json_t *v);
void skp_scheduling_check_tolerations(struct eval *ev, const char *field, const json_t *v);

/* app.c: what runs and whether it runs */
void skp_app_check_type(struct eval *ev, const char *field, const json_t *v);
void skp_app_template_check(struct eval *ev, const sk_template *t);
void skp_app_check_lifecycle(struct eval *ev, const char *field, const json_t *v);
void skp_app_check_desired_status(struct eval *ev, const char *field, const json_t *v);

/* resolve.c: which template a workspace is reviewed against */
const char *skp_object_namespace(const struct eval *ev, const json_t *obj);
int skp_resolve_template(struct eval *ev, int *by_default);

#endif
