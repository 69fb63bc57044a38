/* The parts of `spacekeeper check`: check.c reads the options and checks
 * files, check_cluster.c reads templates and workspaces from the API server
 * (--cluster, --impact), check_report.c writes what was found. */
#ifndef SPACEKEEPER_CLI_CHECK_H
#define SPACEKEEPER_CLI_CHECK_H

#include <stddef.h>

#include <jansson.h>

#include "spacekeeper/cli.h"
#include "spacekeeper/kube.h"

typedef enum sk_check_output { SK_OUT_TEXT, SK_OUT_JSON, SK_OUT_YAML, SK_OUT_JUNIT } sk_check_output;

typedef struct sk_check_opts {
    const char **templates, **files; /* owned arrays of borrowed paths */
    size_t n_templates, n_files;
    const char *old_path;
    const char *user;
    char **groups;            /* owned */
    int op_set;
    sk_operation op;
    sk_check_output output;
    sk_cli_policy policy;
    int cluster;              /* templates from the API server too */
    int impact;               /* the cluster's workspaces against the -t templates */
    const char *kubeconfig, *context;
    const char *namespace;    /* --impact: only this namespace's workspaces */
} sk_check_opts;

/* What a run found: one result per checked object ({source, kind,
 * namespace, name, allowed, violations, warnings, template, and for files
 * patch and object}), and with --impact a summary whose results list only
 * the workspaces that use a changed template. */
typedef struct sk_check_report {
    json_t *results;  /* owned */
    size_t skipped;   /* documents of other API groups */
    json_t *impact;   /* owned: {templates, namespace, workspaces, using, denied, passing}, or NULL */
} sk_check_report;

/* A result for a decision; `source` names where the object came from. */
json_t *sk_check_result(const sk_decision *d, const char *source, int with_object);

/* Writes the report in the chosen format to stdout. */
void sk_check_report_print(const sk_check_report *r, sk_check_output out);

/* A client for the cluster --kubeconfig/--context (else $KUBECONFIG or
 * ~/.kube/config, else the pod's service account) names; NULL after
 * printing why. */
sk_kube *sk_check_connect(const sk_check_opts *o);

/* The cluster's WorkspaceTemplates, all namespaces, as a LIST's items
 * (owned); NULL after printing why. */
json_t *sk_check_list_templates(sk_kube *k);

/* The cluster's ServiceAccounts, all namespaces, into idx: 0, or -1 after
 * printing why (serviceAccountName is then not checked). */
int sk_check_list_service_accounts(sk_kube *k, sk_sa_index *idx);

/* --impact: every workspace of the cluster (or of o->namespace) that uses
 * a template whose "ns/name" is in `changed` (an array of strings), by
 * reference or as a namespace or shared default, before the change (`was`)
 * or after it (`now`), is reviewed as the webhook reviews a start: an
 * UPDATE from Stopped to Running against `now`. Appends their results and
 * the summary to the report; -1 after printing why the LIST failed. */
int sk_check_impact(const sk_check_opts *o, sk_kube *k, const sk_store *was, const sk_store *now,
                    const json_t *changed, sk_check_report *report);

#endif
