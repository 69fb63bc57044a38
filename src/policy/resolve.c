/* Which template a workspace is reviewed against: spec.templateRef, else
 * its namespace's default template, else the shared namespace's. */
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"
#include "spacekeeper/violation.h"

const char *skp_object_namespace(const struct eval *ev, const json_t *obj)
{
    const char *ns = sk_json_str(obj, "metadata", "namespace", NULL);
    if (ns && *ns)
        return ns;
    if (ev->req->namespace && *ev->req->namespace)
        return ev->req->namespace;
    return "default";
}

/* Finds the template a workspace in `ns` names (spec.templateRef) or
 * inherits (its namespace's default, else the shared one): 0 when resolved
 * (*tpl may still be NULL if no template applies), -1 with a violation
 * appended to `violations` (may be NULL) when it cannot be. */
static int find_template(const sk_policy_config *cfg, const sk_store *st, const json_t *obj,
                         const char *ns, const sk_template **tpl, int *by_default, json_t *violations)
{
    const char *shared = sk_store_shared_namespace(st);
    json_t *ref = sk_json_get(obj, "spec", "templateRef", NULL);
    *by_default = 0;
    *tpl = NULL;
    if (ref && !json_is_null(ref)) {
        const char *name = sk_json_str(ref, "name", NULL);
        json_t *rns = json_object_get(ref, "namespace");
        if (!json_is_object(ref) || !name || !*name) {
            sk_violation_add(violations, "spec.templateRef.name",
                             "spec.templateRef.name is required and must be a string");
            return -1;
        }
        if (rns && !json_is_string(rns)) {
            sk_violation_add(violations, "spec.templateRef.namespace",
                             "spec.templateRef.namespace must be a string, not %s", sk_json_type_name(rns));
            return -1;
        }
        const char *want_ns = json_string_value(rns);
        /* Checked before the lookup, so that it tells nothing about what
         * other namespaces hold. */
        if (cfg->template_scope == SK_SCOPE_NAMESPACE && want_ns && *want_ns &&
            strcmp(want_ns, ns) != 0 && strcmp(want_ns, shared) != 0) {
            sk_violation_add(violations, "spec.templateRef",
                             "spec.templateRef: template \"%s\" in namespace \"%s\" is out of reach: with "
                             "--template-scope namespace a workspace in \"%s\" may use templates of its "
                             "own namespace or of the shared namespace \"%s\"",
                             name, want_ns, ns, shared);
            return -1;
        }
        if (want_ns && *want_ns)
            *tpl = sk_store_get(st, want_ns, name);
        else if (!(*tpl = sk_store_get(st, ns, name)))
            *tpl = sk_store_get(st, shared, name);
        if (*tpl)
            return 0;
        if (want_ns && *want_ns)
            sk_violation_add(violations, "spec.templateRef",
                             "spec.templateRef: template \"%s\" not found in namespace \"%s\"", name,
                             want_ns);
        else
            sk_violation_add(violations, "spec.templateRef",
                             "spec.templateRef: template \"%s\" not found in namespace \"%s\" or in the "
                             "shared namespace \"%s\"", name, ns, shared);
        return -1;
    }
    const char *const spaces[] = {ns, shared};
    for (size_t i = 0; i < 2; i++) {
        const sk_template *conflict[2] = {NULL, NULL};
        *tpl = sk_store_default(st, spaces[i], conflict);
        if (conflict[0]) {
            sk_violation_add(violations, "spec.templateRef",
                             "spec.templateRef is not set and namespace \"%s\" has two default templates, "
                             "\"%s\" and \"%s\" (label %s=true): set spec.templateRef or ask an admin "
                             "to keep one default",
                             spaces[i], conflict[0]->name, conflict[1]->name, SK_LABEL_DEFAULT_TEMPLATE);
            return -1;
        }
        if (*tpl) {
            *by_default = 1;
            return 0;
        }
        if (strcmp(ns, shared) == 0)
            break;
    }
    return 0;
}

int skp_resolve_template(struct eval *ev, int *by_default)
{
    return find_template(ev->cfg, ev->store, ev->obj, skp_object_namespace(ev, ev->obj), &ev->tpl,
                         by_default, ev->out->violations);
}

const sk_template *sk_policy_template_for(const sk_policy_config *cfg, const sk_store *store,
                                          const json_t *workspace)
{
    const char *ns = sk_json_str(workspace, "metadata", "namespace", NULL);
    const sk_template *tpl;
    int by_default;
    if (find_template(cfg, store, workspace, ns && *ns ? ns : "default", &tpl, &by_default, NULL) < 0)
        return NULL;
    return tpl;
}
