/* Who a workspace belongs to and who may reach it: spec.ownershipType
 * (who may change it) and spec.accessType (who may open it). */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"

static const char *const OWNERSHIP_TYPES[] = {"Public", "OwnerOnly", NULL};

void skp_ownership_check_type(struct eval *ev, const char *field, const json_t *v)
{
    skp_check_enum(ev, field, v, OWNERSHIP_TYPES);
}

void skp_ownership_check_access_type(struct eval *ev, const char *field, const json_t *v)
{
    skp_check_enum(ev, field, v, OWNERSHIP_TYPES);
}

/* Without defaultAccessType, access follows ownership: an OwnerOnly
 * workspace is not opened by others either. */
json_t *skp_ownership_derive_access_type(const struct eval *ev)
{
    const char *own = sk_json_str(ev->obj, "spec", "ownershipType", NULL);
    return skp_in_list(own, OWNERSHIP_TYPES) ? json_string(own) : NULL; /* a bad one is reported once */
}

int skp_ownership_is_owner_only(const json_t *obj)
{
    const char *type = sk_json_str(obj, "spec", "ownershipType", NULL);
    return type && strcmp(type, "OwnerOnly") == 0;
}

/* Ownership is the creator's: only they, an admin group or the controller
 * (which stops idle workspaces) may `what` a workspace that is `state`. */
static void require_owner(struct eval *ev, const json_t *old, const char *state, const char *what)
{
    const char *creator = sk_json_str(old, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
    if (skp_is_user(ev, creator) || skp_is_user(ev, ev->cfg->controller_user) ||
        skp_in_admin_group(ev))
        return;
    char groups[256];
    skp_violation(ev, "spec.ownershipType",
                  "workspace \"%s\" is %s: only its creator \"%s\" or a member of %s may %s, not "
                  "\"%s\"",
                  ev->out->name, state, creator ? creator : "(unknown)",
                  skp_admin_groups_text(ev, groups, sizeof groups), what, skp_requester(ev));
}

/* OwnerOnly workspaces change hands only through their owner. */
void skp_ownership_check_update(struct eval *ev, const json_t *old)
{
    if (skp_ownership_is_owner_only(old))
        require_owner(ev, old, "OwnerOnly", ev->req->op == SK_OP_DELETE ? "delete it" : "change it");
}

/* Making a workspace OwnerOnly locks every collaborator out of it. */
void skp_ownership_check_becoming_owner_only(struct eval *ev, const json_t *old)
{
    if (!old || skp_ownership_is_owner_only(old) || !skp_ownership_is_owner_only(ev->obj))
        return;
    const char *was = sk_json_str(old, "spec", "ownershipType", NULL);
    require_owner(ev, old, was ? was : "Public", "make it OwnerOnly");
}
