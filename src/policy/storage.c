/* spec.storage (the primary volume) and spec.volumes (secondary storage). */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"

/* What the workspace operator gives a volume that has no size. */
#define OPERATOR_STORAGE_SIZE "10Gi"

static const char *const RESERVED_MOUNTS[] = {"/opt/ml", "/opt/.sagemakerinternal", NULL};

void skp_storage_check_size(struct eval *ev, const char *field, const json_t *v)
{
    sk_quantity q;
    if (skp_parse_quantity(ev, field, v, &q) < 0)
        return;
    if (ev->tpl)
        skp_resources_check_bound(ev, field, v, q, &ev->tpl->storage);
    static const char *const path[] = {"storage", "size", NULL};
    const json_t *old = skp_old_at(ev, path);
    sk_quantity oq;
    if (old && sk_quantity_from_json(old, &oq, NULL) == 0 && sk_quantity_cmp(q, oq) < 0) {
        char a[64], b[64];
        skp_violation(ev, field, "%s cannot shrink from %s to %s: volumes can only grow", field,
                      skp_quantity_text(old, oq, a, sizeof a), skp_quantity_text(v, q, b, sizeof b));
    }
}

/* Where the operator's implicit size sits against the template's bounds:
 * -1 below minSize, +1 above maxSize, 0 within them (or no template). */
static int operator_size_side(const sk_template *t)
{
    sk_quantity q;
    if (!t || sk_quantity_parse(OPERATOR_STORAGE_SIZE, &q, NULL) < 0)
        return 0;
    if (t->storage.has_min && sk_quantity_cmp(q, t->storage.min) < 0)
        return -1;
    if (t->storage.has_max && sk_quantity_cmp(q, t->storage.max) > 0)
        return 1;
    return 0;
}

static const char *size_bound_key(int side)
{
    return side < 0 ? "minSize" : "maxSize";
}

/* Storage without a size would get the operator's 10Gi unchecked, past a
 * template's maximum: give it that size explicitly, moved into the bounds. */
json_t *skp_storage_derive_size(const struct eval *ev)
{
    if (!json_is_object(sk_json_get(ev->obj, "spec", "storage", NULL)))
        return NULL;
    int side = operator_size_side(ev->tpl);
    if (!side)
        return json_string(OPERATOR_STORAGE_SIZE);
    return json_deep_copy(sk_json_get(ev->tpl->spec, "primaryStorage", size_bound_key(side), NULL));
}

/* Bounds that exclude the operator's size are legal, but a template without
 * defaultSize then hands out a size the admin may not expect. */
void skp_storage_template_check(struct eval *ev, const sk_template *t)
{
    const json_t *primary = json_object_get(t->spec, "primaryStorage");
    int side = operator_size_side(t);
    if (!json_is_object(primary) || json_object_get(primary, "defaultSize") || !side)
        return;
    const json_t *bound = json_object_get(primary, size_bound_key(side));
    char shown[64];
    const char *text =
        skp_quantity_text(bound, side < 0 ? t->storage.min : t->storage.max, shown, sizeof shown);
    skp_warning(ev,
                "template \"%s\": spec.primaryStorage has no defaultSize and the operator's default "
                OPERATOR_STORAGE_SIZE " is %s %s %s; workspaces given storage get %s",
                t->name, side < 0 ? "below" : "above", size_bound_key(side), text, text);
}

void skp_storage_check_class(struct eval *ev, const char *field, const json_t *v)
{
    static const char *const path[] = {"storage", "storageClassName", NULL};
    const char *old = json_string_value(skp_old_at(ev, path));
    if (old && strcmp(old, json_string_value(v)) != 0)
        skp_violation(ev, field, "%s is immutable: it is \"%s\" and cannot become \"%s\"", field,
                      old, json_string_value(v));
}

void skp_storage_check_mount_path(struct eval *ev, const char *field, const json_t *v)
{
    const char *p = json_string_value(v);
    if (p[0] != '/') {
        skp_violation(ev, field, "%s \"%s\" must be an absolute path", field, p);
        return;
    }
    /* Normalise "//", "/./" and trailing "/" so that no spelling slips past
     * the reserved prefixes; ".." is refused outright. */
    char norm[4096];
    size_t n = 0;
    for (const char *s = p; *s;) {
        while (*s == '/')
            s++;
        const char *seg = s;
        while (*s && *s != '/')
            s++;
        size_t len = (size_t)(s - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            skp_violation(ev, field, "%s \"%s\" must not contain \"..\"", field, p);
            return;
        }
        if (n + len + 2 >= sizeof norm) {
            skp_violation(ev, field, "%s is longer than %zu bytes", field, sizeof norm);
            return;
        }
        norm[n++] = '/';
        memcpy(norm + n, seg, len);
        n += len;
    }
    if (n == 0)
        norm[n++] = '/';
    norm[n] = '\0';
    for (const char *const *r = RESERVED_MOUNTS; *r; r++) {
        size_t rl = strlen(*r);
        if (strncmp(norm, *r, rl) == 0 && (norm[rl] == '\0' || norm[rl] == '/')) {
            skp_violation(ev, field, "%s \"%s\" is under %s, which is reserved for the platform",
                          field, p, *r);
            return;
        }
    }
}

/* The template's defaultVolumes are checked here too, once they landed in
 * spec.volumes: a template cannot hand out what it forbids. */
void skp_storage_check_volumes(struct eval *ev, const char *field, const json_t *v)
{
    if (ev->tpl && !ev->tpl->allow_secondary_storages && json_array_size(v) > 0)
        skp_violation(ev, field,
                      "%s: template \"%s\" does not allow secondary storage (allowSecondaryStorages "
                      "is false); remove the %zu volume(s)",
                      field, skp_tpl_name(ev), json_array_size(v));
}
