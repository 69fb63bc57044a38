/* Metadata: what spacekeeper stamps (template, creator, last updater, the
 * template's kueue labels and baseLabels), what is reserved for it and the
 * operator (workspace.jupyter.org/), and what templates require
 * (labelRequirements). */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"
#include "spacekeeper/metadata.h"

/* The keys under the reserved prefix that spacekeeper itself stamps, per
 * metadata section; anything else there is the operator's or ours. */
static const char *const STAMPED_LABELS[] = {SK_LABEL_TEMPLATE_NAME, SK_LABEL_TEMPLATE_NAMESPACE, NULL};
static const char *const STAMPED_ANNOTATIONS[] = {SK_ANNOTATION_CREATED_BY,
                                                  SK_ANNOTATION_LAST_UPDATED_BY, NULL};
static const struct {
    const char *section;
    const char *const *stamped;
} RESERVED_SECTIONS[] = {{"labels", STAMPED_LABELS}, {"annotations", STAMPED_ANNOTATIONS}};

/* Labels and annotations under workspace.jupyter.org/ hold the operator's
 * and spacekeeper's state: a user may not add or change them (keeping what
 * the old object has is fine), except for the keys spacekeeper stamps. */
void skp_labels_check_reserved(struct eval *ev, const json_t *old)
{
    if (skp_in_admin_group(ev) || sk_policy_is_trusted(ev->cfg, ev->req->user))
        return;
    size_t plen = strlen(SK_RESERVED_PREFIX);
    for (size_t s = 0; s < sizeof RESERVED_SECTIONS / sizeof *RESERVED_SECTIONS; s++) {
        const char *section = RESERVED_SECTIONS[s].section;
        const char *key;
        json_t *v;
        json_object_foreach(sk_json_get(ev->obj, "metadata", section, NULL), key, v) {
            if (strncmp(key, SK_RESERVED_PREFIX, plen) != 0 || skp_in_list(key, RESERVED_SECTIONS[s].stamped))
                continue;
            const json_t *was = old ? sk_json_get(old, "metadata", section, key, NULL) : NULL;
            if (was && json_equal((json_t *)was, v))
                continue;
            char field[320], groups[256];
            snprintf(field, sizeof field, "metadata.%s.%s", section, key);
            skp_violation(ev, field,
                      "metadata.%s[%s]: the prefix " SK_RESERVED_PREFIX " is reserved for spacekeeper "
                      "and the workspace operator; only a member of %s or a trusted service account "
                      "may add or change it, not \"%s\"",
                      section, key, skp_admin_groups_text(ev, groups, sizeof groups), skp_requester(ev));
        }
    }
}

/* Sets metadata.<section>[key] = value unless it already holds it. */
static void stamp(struct eval *ev, const char *section, const char *key, const char *value)
{
    const char *cur = sk_json_str(ev->obj, "metadata", section, key, NULL);
    if (cur && strcmp(cur, value) == 0)
        return;
    const char *path[] = {"metadata", section, key};
    skp_set(ev, "metadata", path, 3, json_string(value));
}

static int has_kueue_label(const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(sk_json_get(obj, "metadata", "labels", NULL), k, v) {
        if (strncmp(k, SK_KUEUE_PREFIX, strlen(SK_KUEUE_PREFIX)) == 0)
            return 1;
    }
    return 0;
}

void skp_labels_stamp(struct eval *ev)
{
    const char *user = ev->req->user && *ev->req->user ? ev->req->user : NULL;
    if (ev->change == SKP_CHANGE_CREATE && user)
        stamp(ev, "annotations", SK_ANNOTATION_CREATED_BY, user);
    if (ev->change != SKP_CHANGE_CREATE) {
        /* created-by is immutable: put back what the workspace was created with. */
        const char *orig =
            sk_json_str(ev->req->old_object, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
        if (orig)
            stamp(ev, "annotations", SK_ANNOTATION_CREATED_BY, orig);
    }
    if (user)
        stamp(ev, "annotations", SK_ANNOTATION_LAST_UPDATED_BY, user);
    if (!ev->tpl)
        return;
    stamp(ev, "labels", SK_LABEL_TEMPLATE_NAME, ev->tpl->name);
    stamp(ev, "labels", SK_LABEL_TEMPLATE_NAMESPACE, ev->tpl->ns);
    if (has_kueue_label(ev->obj))
        return;
    const char *k;
    json_t *v;
    json_object_foreach(sk_json_get(ev->tpl->obj, "metadata", "labels", NULL), k, v) {
        if (strncmp(k, SK_KUEUE_PREFIX, strlen(SK_KUEUE_PREFIX)) == 0 && json_is_string(v))
            stamp(ev, "labels", k, json_string_value(v));
    }
}

/* labelRequirements on the labels as they will be stored (baseLabels and
 * stamps included). */
void skp_labels_check_requirements(struct eval *ev, const char *field, const json_t *v)
{
    if (!ev->tpl)
        return;
    char f[320];
    for (size_t i = 0; i < ev->tpl->n_label_reqs; i++) {
        const sk_requirement *q = &ev->tpl->label_reqs[i];
        snprintf(f, sizeof f, "%s[%s]", field, q->key);
        skp_check_requirement(ev, f, q, "label", sk_json_str(v, q->key, NULL));
    }
}

/* baseLabels must be labels the API server takes, outside the reserved
 * prefix, each key once. */
void skp_labels_template_check(struct eval *ev, const sk_template *t)
{
    const json_t *base = json_object_get(t->spec, "baseLabels");
    skp_check_unique(ev, json_object_get(t->spec, "labelRequirements"), "spec.labelRequirements",
                     "key");
    if (!base)
        return;
    if (!json_is_array(base)) {
        skp_violation(ev, "spec.baseLabels", "spec.baseLabels must be a list of {key, value}, not %s",
                      sk_json_type_name(base));
        return;
    }
    skp_check_unique(ev, base, "spec.baseLabels", "key");
    size_t i;
    json_t *l;
    char f[160];
    json_array_foreach(base, i, l) {
        snprintf(f, sizeof f, "spec.baseLabels[%zu]", i);
        const char *key = sk_json_str(l, "key", NULL);
        const json_t *value = json_object_get(l, "value");
        const char *why;
        if (!key || !json_is_string(value))
            skp_violation(ev, f, "%s must have a string key and value", f);
        else if (strncmp(key, SK_RESERVED_PREFIX, strlen(SK_RESERVED_PREFIX)) == 0)
            skp_violation(ev, f, "%s: key %s is under the prefix " SK_RESERVED_PREFIX
                          ", which is reserved for spacekeeper and the workspace operator", f, key);
        else if ((why = sk_meta_key_problem(key, 0)))
            skp_violation(ev, f, "%s: key \"%s\" is not a valid label key: %s", f, key, why);
        else if ((why = sk_meta_label_value_problem(json_string_value(value))))
            skp_violation(ev, f, "%s: value \"%s\" is not a valid label value: %s", f,
                          json_string_value(value), why);
    }
}
