/* The review a workspace gets at its next start, without the workspace
 * being touched: what check --impact, serve's template warnings and the
 * controller's compliance reports all ask of a template as it is now. */
#include "spacekeeper/policy.h"

#include "spacekeeper/json.h"

/* `ws` with spec.desiredStatus set: a shallow copy (deep for the running
 * one, which the engine then defaults in place instead of copying again). */
static json_t *with_status(const json_t *ws, const char *status, int deep)
{
    json_t *copy = deep ? json_deep_copy((json_t *)ws) : json_copy((json_t *)ws);
    json_t *spec = json_object_get(copy, "spec");
    spec = json_is_object(spec) ? (deep ? json_incref(spec) : json_copy(spec)) : json_object();
    json_object_set_new(spec, "desiredStatus", json_string(status));
    json_object_set_new(copy, "spec", spec);
    /* a LIST's items carry these for custom resources, but not every server's */
    if (!json_object_get(copy, "apiVersion"))
        json_object_set_new(copy, "apiVersion", json_string(SK_API_VERSION));
    if (!json_object_get(copy, "kind"))
        json_object_set_new(copy, "kind", json_string(SK_KIND_WORKSPACE));
    return copy;
}

void sk_policy_review_start(const sk_policy_config *cfg, const sk_store *store,
                            const json_t *workspace, const char *user, const char *const *groups,
                            sk_decision *out)
{
    json_t *stopped = with_status(workspace, "Stopped", 0);
    json_t *running = with_status(workspace, "Running", 1);
    if (!user)
        user = sk_json_str(workspace, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
    sk_request req = {
        .op = SK_OP_UPDATE,
        .object = running,
        .old_object = stopped,
        .user = user,
        .groups = groups,
        .scratch = running,
        .verdict_only = 1,
    };
    sk_policy_review(cfg, store, &req, out);
    /* The decision borrowed its names from the copies: borrow them from the
     * caller's workspace instead, which outlives it. */
    const char *ns = sk_json_str(workspace, "metadata", "namespace", NULL);
    const char *name = sk_json_str(workspace, "metadata", "name", NULL);
    out->kind = SK_KIND_WORKSPACE;
    out->namespace = ns && *ns ? ns : "default";
    out->name = name ? name : "";
    json_decref(stopped);
    json_decref(running);
}
