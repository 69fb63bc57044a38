/* The policy engine: (templates, workspace, old workspace, user, operation)
 * -> (JSON Patch, violations, warnings). Pure: no I/O, no globals, no
 * clocks; the server, the CLI and the tests call it the same way. */
#ifndef SPACEKEEPER_POLICY_H
#define SPACEKEEPER_POLICY_H

#include <jansson.h>

#include "spacekeeper/service_account.h"
#include "spacekeeper/template.h"

#define SK_API_GROUP "workspace.jupyter.org"
#define SK_API_VERSION "workspace.jupyter.org/v1alpha1"
#define SK_KIND_WORKSPACE "Workspace"
#define SK_KIND_TEMPLATE "WorkspaceTemplate"

#define SK_LABEL_TEMPLATE_NAME "workspace.jupyter.org/template-name"
#define SK_LABEL_TEMPLATE_NAMESPACE "workspace.jupyter.org/template-namespace"
#define SK_ANNOTATION_CREATED_BY "workspace.jupyter.org/created-by"
#define SK_ANNOTATION_LAST_UPDATED_BY "workspace.jupyter.org/last-updated-by"
#define SK_KUEUE_PREFIX "kueue.x-k8s.io/"

#define SK_DEFAULT_SHARED_NAMESPACE "spacekeeper-shared"
#define SK_DEFAULT_CONTROLLER_USER "system:serviceaccount:spacekeeper-system:spacekeeper-controller"
/* The workspace operator's own identity (jupyter-k8s). */
#define SK_OPERATOR_USER "system:serviceaccount:jupyter-k8s-system:jupyter-k8s-controller-manager"
/* The seed's default: the latest SageMaker Distribution. */
#define SK_DEFAULT_IMAGE "public.ecr.aws/sagemaker/sagemaker-distribution:latest-cpu"
/* Labels and annotations under it belong to spacekeeper and the operator. */
#define SK_RESERVED_PREFIX "workspace.jupyter.org/"

typedef enum sk_operation { SK_OP_CREATE, SK_OP_UPDATE, SK_OP_DELETE, SK_OP_CONNECT } sk_operation;

/* Is this apiVersion ("group/version") in workspace.jupyter.org? NULL is not. */
int sk_policy_owns_api_version(const char *api_version);

int sk_operation_parse(const char *text, sk_operation *out);
const char *sk_operation_name(sk_operation op);

/* Where a templateRef may point: any namespace, or only the workspace's own
 * and the shared one. */
typedef enum sk_template_scope { SK_SCOPE_CLUSTER, SK_SCOPE_NAMESPACE } sk_template_scope;

int sk_template_scope_parse(const char *text, sk_template_scope *out);
const char *sk_template_scope_name(sk_template_scope scope);

typedef struct sk_policy_config {
    const char *shared_namespace;     /* cluster-wide templates live here */
    const char *const *admin_groups;  /* NULL-terminated; may change any workspace */
    const char *controller_user;      /* may stop workspaces and change system templates */
    const char *default_image;        /* spec.image when no template gives one; NULL or "": none */
    /* NULL-terminated users that may write reserved (workspace.jupyter.org/)
     * labels and annotations on workspaces */
    const char *const *trusted_service_accounts;
    sk_template_scope template_scope;
    /* Where ServiceAccounts are looked up; NULL: nowhere, so a workspace's
     * serviceAccountName is neither defaulted nor checked (with a warning). */
    const sk_sa_source *service_accounts;
} sk_policy_config;

/* shared namespace, admin groups system:masters and
 * system:serviceaccounts:kube-system (namespace deletion), the controller,
 * the latest SageMaker Distribution image, the controller and the workspace
 * operator as trusted service accounts, templates from any namespace. */
void sk_policy_config_init(sk_policy_config *cfg);

/* Is any of `groups` (NULL-terminated, may be NULL) one of the admin groups? */
int sk_policy_is_admin(const sk_policy_config *cfg, const char *const *groups);
/* Is `user` (may be NULL) one of the trusted service accounts? */
int sk_policy_is_trusted(const sk_policy_config *cfg, const char *user);
/* "a, b" (or "no admin group") for messages naming who may override
 * ownership; written into buf, which is returned. */
const char *sk_policy_admin_groups_text(const sk_policy_config *cfg, char *buf, size_t cap);

typedef struct sk_request {
    sk_operation op;
    const json_t *object;      /* borrowed; NULL on DELETE */
    const json_t *old_object;  /* borrowed; NULL on CREATE */
    const char *namespace;     /* the request's; used when the object has none */
    const char *user;          /* NULL or "" when unknown */
    const char *const *groups; /* NULL-terminated; may be NULL */
    /* Optional: the same object as `object`, which the caller no longer
     * needs unchanged. The engine then defaults it in place instead of
     * copying it (the server's request body is thrown away afterwards). */
    json_t *scratch;
    /* The caller reads only the verdict (allowed, violations, warnings):
     * the object is still defaulted and checked, but no patch is recorded. */
    int verdict_only;
} sk_request;

typedef struct sk_decision {
    const char *kind;        /* borrowed from the request's objects (or "") */
    const char *namespace;   /* ditto */
    const char *name;        /* ditto */
    json_t *object;      /* owned: the object after defaults; NULL on DELETE */
    json_t *patch;       /* owned: array of RFC 6902 operations, empty when nothing changes */
    json_t *violations;  /* owned: array of {field, message} */
    json_t *warnings;    /* owned: array of strings */
    json_t *template;    /* owned: {name, namespace} of the template a workspace was
                            checked against, or NULL when none was */
    int allowed;         /* no violations */
} sk_decision;

/* Applies the template's defaults and runs every check that the operation
 * calls for. The validating webhook runs the same pass, so its verdict does
 * not depend on whether the mutating webhook ran first. */
void sk_policy_review(const sk_policy_config *cfg, const sk_store *store, const sk_request *req,
                      sk_decision *out);
void sk_decision_free(sk_decision *d);

/* The review `workspace` (borrowed) would get at its next start: an UPDATE
 * from Stopped to Running by `user` (NULL: its created-by user) against
 * `store` as it is now, for its verdict (no patch is recorded). The
 * decision's names borrow from `workspace`. */
void sk_policy_review_start(const sk_policy_config *cfg, const sk_store *store,
                            const json_t *workspace, const char *user, const char *const *groups,
                            sk_decision *out);

/* The template a workspace is reviewed against in `store`, found the way a
 * review finds it: spec.templateRef, else the default template of the
 * workspace's namespace, else the shared namespace's. NULL when none
 * applies or the reference does not resolve. Borrowed from the store. */
const sk_template *sk_policy_template_for(const sk_policy_config *cfg, const sk_store *store,
                                          const json_t *workspace);

#endif
