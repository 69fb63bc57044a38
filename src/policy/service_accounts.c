/* spec.serviceAccountName: the identity a workspace's pod runs as (on EKS
 * it can carry an IAM role), so handing one out is a grant. Absent, it
 * becomes the namespace's default ServiceAccount; any other is allowed only
 * to the users its annotations name (see service_account.h). Admins, the
 * controller and the trusted service accounts may set any that exists. */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"

#define FALLBACK_SA "default"

/* The namespace's default: 1 with names[0], 0 when two are labelled
 * (both named), -1 when not known. */
static int default_sa(const sk_sa_source *src, const char *ns, char names[2][SK_SA_NAME_MAX])
{
    int n = src->defaults(src->ctx, ns, names);
    if (n < 0)
        return -1;
    if (n > 1)
        return 0;
    if (n == 0)
        snprintf(names[0], SK_SA_NAME_MAX, "%s", FALLBACK_SA);
    return 1;
}

json_t *skp_service_accounts_derive(const struct eval *ev)
{
    const sk_sa_source *src = ev->cfg->service_accounts;
    char names[2][SK_SA_NAME_MAX];
    if (!src || default_sa(src, ev->out->namespace, names) != 1)
        return NULL; /* the check says why */
    return json_string(names[0]);
}

static int exempt(const struct eval *ev)
{
    return skp_in_admin_group(ev) || skp_is_user(ev, ev->cfg->controller_user) ||
           sk_policy_is_trusted(ev->cfg, ev->req->user);
}

void skp_service_accounts_check(struct eval *ev, const char *field, const json_t *v)
{
    const sk_sa_source *src = ev->cfg->service_accounts;
    const char *ns = ev->out->namespace;
    if (!src) {
        if (v)
            skp_warning(ev, "%s \"%s\" was not checked: no ServiceAccounts are known here", field,
                        json_string_value(v));
        return;
    }
    char names[2][SK_SA_NAME_MAX];
    int d = default_sa(src, ns, names);
    if (d == 0 && !v) {
        skp_violation(ev, field,
                      "%s is not set and namespace \"%s\" has two default ServiceAccounts, \"%s\" "
                      "and \"%s\" (label %s=true): set %s or ask an admin to keep one default",
                      field, ns, names[0], names[1], SK_LABEL_DEFAULT_SERVICE_ACCOUNT, field);
        return;
    }
    if (!v)
        return;
    const char *name = json_string_value(v);
    if (!*name) {
        skp_violation(ev, field, "%s must not be empty", field);
        return;
    }
    if (d == 1 && strcmp(name, names[0]) == 0)
        return; /* the namespace's default is everyone's */
    int access = src->access(src->ctx, ns, name, ev->req->user, ev->req->groups);
    if (access == SK_SA_UNKNOWN || d < 0) {
        skp_warning(ev, "%s \"%s\" was not checked: the ServiceAccounts of namespace \"%s\" are "
                    "not known right now", field, name, ns);
        return;
    }
    if (access == SK_SA_MISSING) {
        skp_violation(ev, field, "%s: ServiceAccount \"%s\" does not exist in namespace \"%s\"",
                      field, name, ns);
        return;
    }
    if (access == SK_SA_ALLOWED || exempt(ev))
        return;
    skp_violation(ev, field,
                  "%s: \"%s\" may not use ServiceAccount \"%s\": its annotations %s, %s and %s do "
                  "not name this user or one of their groups; leave %s unset for the namespace's "
                  "default, or ask an admin to grant it",
                  field, skp_requester(ev), name, SK_ANNOTATION_SA_USERS,
                  SK_ANNOTATION_SA_USER_PATTERNS, SK_ANNOTATION_SA_GROUPS, field);
}
