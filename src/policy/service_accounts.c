/* spec.serviceAccountName: the identity a workspace's pod runs as (on EKS
 * it can carry an IAM role), so handing one out is a grant. Absent, it
 * becomes the namespace's default ServiceAccount; any other is allowed only
 * to the users its annotations name (see service_account.h). Admins, the
 * controller and the trusted service accounts may set any that exists. */
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"

#define FALLBACK_SA "default"

/* The namespace's default: 1 with *name, 0 when two are labelled (*two
 * filled), -1 when not known. */
static int default_sa(const sk_sa_source *src, const char *ns, const char **name,
                      const sk_service_account *two[2])
{
    int n = src->defaults(src->ctx, ns, two);
    if (n < 0)
        return -1;
    if (n > 1)
        return 0;
    *name = n == 1 ? two[0]->name : FALLBACK_SA;
    return 1;
}

json_t *skp_service_accounts_derive(const struct eval *ev)
{
    const sk_sa_source *src = ev->cfg->service_accounts;
    const sk_service_account *two[2];
    const char *name;
    if (!src || default_sa(src, ev->out->namespace, &name, two) != 1)
        return NULL; /* the check says why */
    return json_string(name);
}

static int exempt(const struct eval *ev)
{
    return skp_in_admin_group(ev) || skp_is_user(ev, ev->cfg->controller_user) ||
           skp_in_list(ev->req->user, ev->cfg->trusted_service_accounts);
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
    const sk_service_account *two[2];
    const char *dflt = NULL;
    int d = default_sa(src, ns, &dflt, two);
    if (d == 0 && !v) {
        skp_violation(ev, field,
                      "%s is not set and namespace \"%s\" has two default ServiceAccounts, \"%s\" "
                      "and \"%s\" (label %s=true): set %s or ask an admin to keep one default",
                      field, ns, two[0]->name, two[1]->name, SK_LABEL_DEFAULT_SERVICE_ACCOUNT,
                      field);
        return;
    }
    if (!v)
        return;
    const char *name = json_string_value(v);
    if (!*name) {
        skp_violation(ev, field, "%s must not be empty", field);
        return;
    }
    if (d == 1 && strcmp(name, dflt) == 0)
        return; /* the namespace's default is everyone's */
    const sk_service_account *sa = NULL;
    int found = src->get(src->ctx, ns, name, &sa);
    if (found < 0 || d < 0) {
        skp_warning(ev, "%s \"%s\" was not checked: the ServiceAccounts of namespace \"%s\" are "
                    "not known right now", field, name, ns);
        return;
    }
    if (!found) {
        skp_violation(ev, field, "%s: ServiceAccount \"%s\" does not exist in namespace \"%s\"",
                      field, name, ns);
        return;
    }
    if (exempt(ev) || sk_service_account_allows(sa, ev->req->user, ev->req->groups))
        return;
    skp_violation(ev, field,
                  "%s: \"%s\" may not use ServiceAccount \"%s\": its annotations %s, %s and %s do "
                  "not name this user or one of their groups; leave %s unset for the namespace's "
                  "default, or ask an admin to grant it",
                  field, skp_requester(ev), name, SK_ANNOTATION_SA_USERS,
                  SK_ANNOTATION_SA_USER_PATTERNS, SK_ANNOTATION_SA_GROUPS, field);
}
