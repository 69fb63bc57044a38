#include "spacekeeper/connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/violation.h"

/* What each reason means for the verdict and for the log. */
static const struct {
    const char *name;
    int allowed;
    int notable; /* worth a line at info level or above */
} REASONS[SK_CONNECT_REASON_COUNT] = {
    [SK_CONNECT_NOT_POD_CONNECT] = {"not a pod connect", 1, 0},
    [SK_CONNECT_NO_API] = {"no API access", 1, 0},
    [SK_CONNECT_ADMIN] = {"admin group", 1, 0},
    [SK_CONNECT_POD_NOT_FOUND] = {"pod not found", 1, 1},
    [SK_CONNECT_POD_UNKNOWN] = {"pod lookup failed", 1, 1},
    [SK_CONNECT_TRUSTED_WORKSPACE_POD] = {"trusted service account", 1, 0},
    [SK_CONNECT_TRUSTED_OTHER_POD] = {"trusted service account, not a workspace pod", 0, 1},
    [SK_CONNECT_NOT_WORKSPACE_POD] = {"not a workspace pod", 1, 0},
    [SK_CONNECT_WORKSPACE_NOT_FOUND] = {"workspace not found", 1, 1},
    [SK_CONNECT_WORKSPACE_UNKNOWN] = {"workspace lookup failed", 1, 1},
    [SK_CONNECT_PUBLIC] = {"public workspace", 1, 0},
    [SK_CONNECT_OWNER] = {"owner", 1, 0},
    [SK_CONNECT_NOT_OWNER] = {"not the owner", 0, 1},
};

/* The subresources covered, and how a message says what each does. */
static const struct {
    const char *subresource;
    const char *verb; /* "may <verb> it" */
} SUBRESOURCES[] = {
    {"exec", "exec into"},
    {"attach", "attach to"},
    {"portforward", "port-forward to"},
};

/* Either spelling makes a workspace OwnerOnly: the workspace operator's
 * spec.accessType and the Spaces add-on's spec.ownershipType. */
static const char *const OWNERSHIP_FIELDS[] = {"accessType", "ownershipType"};

static int subresource_index(const char *subresource)
{
    for (size_t i = 0; subresource && i < sizeof SUBRESOURCES / sizeof *SUBRESOURCES; i++)
        if (strcmp(subresource, SUBRESOURCES[i].subresource) == 0)
            return (int)i;
    return -1;
}

int sk_connect_covers(const char *subresource)
{
    return subresource_index(subresource) >= 0;
}

const char *sk_connect_reason_name(sk_connect_reason reason)
{
    return (unsigned)reason < SK_CONNECT_REASON_COUNT ? REASONS[reason].name : "unknown";
}

int sk_connect_notable(const sk_connect_verdict *v)
{
    return (unsigned)v->reason < SK_CONNECT_REASON_COUNT && REASONS[v->reason].notable;
}

int sk_connect_unverified(const sk_connect_verdict *v)
{
    return v->reason == SK_CONNECT_POD_UNKNOWN || v->reason == SK_CONNECT_WORKSPACE_UNKNOWN;
}

void sk_connect_verdict_free(sk_connect_verdict *v)
{
    free(v->message);
    v->message = NULL;
}

/* Records the reason, and the message when there is one (a lookup's error,
 * or a refusal from refusal()). */
static void conclude(sk_connect_verdict *out, sk_connect_reason reason, char *message)
{
    out->reason = reason;
    out->allowed = REASONS[reason].allowed;
    if (message && !*message) { /* a lookup that said nothing */
        free(message);
        message = NULL;
    }
    free(out->message);
    out->message = message;
}

static char *lookup_failure(const sk_err *err)
{
    return strdup(err->msg);
}

static int is_owner_only(const json_t *workspace)
{
    for (size_t i = 0; i < sizeof OWNERSHIP_FIELDS / sizeof *OWNERSHIP_FIELDS; i++) {
        const char *type = sk_json_str(workspace, "spec", OWNERSHIP_FIELDS[i], NULL);
        if (type && strcmp(type, "OwnerOnly") == 0)
            return 1;
    }
    return 0;
}

static const char *requester(const sk_connect_request *rq)
{
    return rq->user && *rq->user ? rq->user : "(anonymous)";
}

static char *not_owner_message(const sk_policy_config *cfg, const sk_connect_request *rq, int sub,
                               const char *workspace, const char *creator)
{
    char groups[256];
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, "pods/%s: pod \"%s\" belongs to workspace \"%s\", which is OwnerOnly: only its "
                      "creator \"%s\" or a member of %s may %s it, not \"%s\"",
                  rq->subresource, rq->pod, workspace, creator ? creator : "(unknown)",
                  sk_policy_admin_groups_text(cfg, groups, sizeof groups), SUBRESOURCES[sub].verb,
                  requester(rq));
    return sk_buf_steal(&b);
}

static char *trusted_message(const sk_connect_request *rq, int sub)
{
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, "pods/%s: \"%s\" is a trusted service account, which may %s workspace pods only "
                      "(labelled " SK_LABEL_WORKSPACE_NAME "), and pod \"%s\" is not one",
                  rq->subresource, requester(rq), SUBRESOURCES[sub].verb, rq->pod);
    return sk_buf_steal(&b);
}

/* The workspace half, for a requester who is neither admin nor trusted. */
static void decide_workspace(const sk_policy_config *cfg, const sk_lookup *lookup,
                             const sk_connect_request *rq, int sub, sk_connect_verdict *out)
{
    json_t *ws = NULL;
    sk_err err = {{0}};
    sk_lookup_status st = lookup->get(lookup->ud, rq->namespace, out->workspace, &ws, &err);
    if (st != SK_LOOKUP_FOUND) {
        conclude(out, st == SK_LOOKUP_NOT_FOUND ? SK_CONNECT_WORKSPACE_NOT_FOUND : SK_CONNECT_WORKSPACE_UNKNOWN,
                 lookup_failure(&err));
        return;
    }
    const char *creator = sk_json_str(ws, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
    if (!is_owner_only(ws))
        conclude(out, SK_CONNECT_PUBLIC, NULL);
    else if (creator && rq->user && strcmp(creator, rq->user) == 0)
        conclude(out, SK_CONNECT_OWNER, NULL);
    else
        conclude(out, SK_CONNECT_NOT_OWNER, not_owner_message(cfg, rq, sub, out->workspace, creator));
    json_decref(ws);
}

/* The pod half: whose pod it is decides what comes next. */
static void decide_pod(const sk_policy_config *cfg, const sk_connect_lookups *lookups,
                       const sk_connect_request *rq, int sub, sk_connect_verdict *out)
{
    json_t *pod = NULL;
    sk_err err = {{0}};
    sk_lookup_status st = lookups->pod.get(lookups->pod.ud, rq->namespace, rq->pod, &pod, &err);
    if (st != SK_LOOKUP_FOUND) {
        conclude(out, st == SK_LOOKUP_NOT_FOUND ? SK_CONNECT_POD_NOT_FOUND : SK_CONNECT_POD_UNKNOWN,
                 lookup_failure(&err));
        return;
    }
    const char *ws = sk_json_str(pod, "metadata", "labels", SK_LABEL_WORKSPACE_NAME, NULL);
    snprintf(out->workspace, sizeof out->workspace, "%s", ws ? ws : "");
    json_decref(pod);

    if (sk_policy_is_trusted(cfg, rq->user))
        conclude(out, out->workspace[0] ? SK_CONNECT_TRUSTED_WORKSPACE_POD : SK_CONNECT_TRUSTED_OTHER_POD,
                 out->workspace[0] ? NULL : trusted_message(rq, sub));
    else if (!out->workspace[0])
        conclude(out, SK_CONNECT_NOT_WORKSPACE_POD, NULL);
    else
        decide_workspace(cfg, &lookups->workspace, rq, sub, out);
}

void sk_connect_decide(const sk_policy_config *cfg, const sk_connect_lookups *lookups,
                       const sk_connect_request *rq, sk_connect_verdict *out)
{
    memset(out, 0, sizeof *out);
    int sub = subresource_index(rq->subresource);
    if (sub < 0)
        conclude(out, SK_CONNECT_NOT_POD_CONNECT, NULL);
    else if (!lookups)
        conclude(out, SK_CONNECT_NO_API, NULL);
    else if (sk_policy_is_admin(cfg, rq->groups))
        conclude(out, SK_CONNECT_ADMIN, NULL);
    else
        decide_pod(cfg, lookups, rq, sub, out);
}

void sk_connect_review(const sk_policy_config *cfg, const sk_connect_lookups *lookups,
                       const sk_review *r, sk_connect_verdict *v, sk_decision *out)
{
    json_t *request = json_object_get(r->root, "request");
    const char *resource = sk_json_str(request, "resource", "resource", NULL);
    const char *group = sk_json_str(request, "resource", "group", NULL);
    int pods = r->req.op == SK_OP_CONNECT && resource && strcmp(resource, "pods") == 0 && (!group || !*group);
    sk_connect_request rq = {
        .subresource = pods ? r->sub_resource : "",
        .namespace = r->req.namespace ? r->req.namespace : "",
        .pod = sk_json_str(request, "name", NULL),
        .user = r->req.user,
        .groups = r->req.groups,
    };
    if (!rq.pod)
        rq.pod = "";
    sk_connect_decide(cfg, lookups, &rq, v);

    memset(out, 0, sizeof *out);
    const char *kind = r->req.object ? sk_json_str(r->req.object, "kind", NULL) : NULL;
    out->kind = kind ? kind : "";
    out->namespace = rq.namespace;
    out->name = rq.pod;
    out->patch = json_array();
    out->violations = json_array();
    out->warnings = json_array();
    out->allowed = v->allowed;
    if (!v->allowed) {
        char field[32];
        snprintf(field, sizeof field, "pods.%s", rq.subresource);
        sk_violation_add(out->violations, field, "%s", v->message ? v->message : "refused");
    }
}
