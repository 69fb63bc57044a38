/* spacekeeper check: the policy engine offline, for CI dry-runs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "spacekeeper/admission.h"
#include "spacekeeper/docs.h"
#include "spacekeeper/json.h"
#include "spacekeeper/policy.h"

static const char USAGE[] =
    "usage: spacekeeper check [-t TEMPLATES...] -f FILE... [options]\n"
    "       spacekeeper check --cluster [-t TEMPLATES...] -f FILE... [options]\n"
    "       spacekeeper check --cluster --impact -t CHANGED... [-n NS] [options]\n"
    "\n"
    "Applies WorkspaceTemplates to Workspaces as the admission webhook would and\n"
    "prints the defaulted objects and every violation.\n"
    "\n"
    "  -t, --templates PATH     WorkspaceTemplates: a file, a directory or - (repeatable)\n"
    "  -f, --filename PATH      documents to check: Workspaces, WorkspaceTemplates or\n"
    "                           AdmissionReviews; a file, a directory or - (repeatable)\n"
    "  --old PATH               the objects as they are now (makes the operation UPDATE)\n"
    "  --operation OP           CREATE (default), UPDATE or DELETE\n"
    "  --user NAME              the requesting user (stamped as created-by)\n"
    "  --groups G,...           the user's groups\n"
    "  -o, --output FORMAT      text (default), json, yaml or junit (JUnit XML for CI)\n"
    "\n"
    "  --cluster                the templates of the cluster too (one LIST, read-only); a\n"
    "                           -t template with the same namespace/name replaces the\n"
    "                           cluster's copy\n"
    "  --kubeconfig FILE        the cluster's kubeconfig (default $KUBECONFIG, else\n"
    "                           ~/.kube/config, else the pod's service account)\n"
    "  --context NAME           a context of the kubeconfig (default: its current one)\n"
    "  --impact                 with --cluster: which of the cluster's workspaces that use\n"
    "                           the -t templates (by templateRef or as a namespace or\n"
    "                           shared default) those would refuse at their next start;\n"
    "                           the others are counted. Takes no -f.\n"
    "  -n, --namespace NS       --impact: only the workspaces of NS (default: all)\n"
    SK_CLI_POLICY_USAGE
    "\n"
    "Exit status: 0 all admitted, 1 any denied, 2 bad usage, invalid input or an\n"
    "API server that cannot be read.\n";

static void add_path(const char ***list, size_t *n, const char *path)
{
    *list = realloc(*list, (*n + 1) * sizeof **list);
    if (!*list)
        abort();
    (*list)[(*n)++] = path;
}

static const char *const OUTPUTS[] = {[SK_OUT_TEXT] = "text", [SK_OUT_JSON] = "json",
                                      [SK_OUT_YAML] = "yaml", [SK_OUT_JUNIT] = "junit"};

static int parse_output(const char *text, sk_check_output *out)
{
    for (size_t i = 0; i < sizeof OUTPUTS / sizeof *OUTPUTS; i++) {
        if (strcmp(text, OUTPUTS[i]) == 0) {
            *out = (sk_check_output)i;
            return 0;
        }
    }
    fprintf(stderr, "spacekeeper check: -o must be text, json, yaml or junit, not \"%s\"\n", text);
    return -1;
}

/* A namespace is a DNS label: it goes into the LIST's path as it is. */
static int valid_namespace(const char *ns)
{
    size_t n = strlen(ns);
    if (n == 0 || n > 63 || ns[0] == '-' || ns[n - 1] == '-')
        return 0;
    return strspn(ns, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* The combinations that make sense; prints the first that does not. */
static int check_combination(sk_check_opts *o)
{
    const char *problem = NULL;
    if (o->impact && !o->n_templates)
        problem = "--impact needs the changed templates: give -t FILE";
    else if (o->impact && o->n_files)
        problem = "--impact checks the cluster's workspaces: -f is not used with it";
    else if (o->impact && o->old_path)
        problem = "--impact reviews each workspace's next start: --old is not used with it";
    else if (!o->impact && o->n_files == 0)
        problem = "nothing to check: give -f FILE (or - for stdin)";
    else if (o->namespace && !o->impact)
        problem = "-n selects the workspaces --impact lists: use it with --impact";
    else if (o->namespace && !valid_namespace(o->namespace))
        problem = "-n must be a namespace name (lowercase letters, digits and '-')";
    else if ((o->kubeconfig || o->context) && !o->cluster)
        problem = "--kubeconfig and --context are used with --cluster";
    if (problem) {
        fprintf(stderr, "spacekeeper check: %s\n", problem);
        return -1;
    }
    if (!o->op_set)
        o->op = o->old_path ? SK_OP_UPDATE : SK_OP_CREATE;
    if (o->op != SK_OP_CREATE && !o->old_path) {
        fprintf(stderr, "spacekeeper check: --operation %s needs --old FILE\n",
                sk_operation_name(o->op));
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, sk_check_opts *o)
{
    enum { OPT_OLD = 256, OPT_OP, OPT_USER, OPT_GROUPS, OPT_CLUSTER, OPT_KUBECONFIG, OPT_CONTEXT,
           OPT_IMPACT };
    static const struct option longs[] = {
        {"templates", required_argument, NULL, 't'},
        {"filename", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"old", required_argument, NULL, OPT_OLD},
        {"operation", required_argument, NULL, OPT_OP},
        {"user", required_argument, NULL, OPT_USER},
        {"groups", required_argument, NULL, OPT_GROUPS},
        {"cluster", no_argument, NULL, OPT_CLUSTER},
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"context", required_argument, NULL, OPT_CONTEXT},
        {"impact", no_argument, NULL, OPT_IMPACT},
        {"namespace", required_argument, NULL, 'n'},
        SK_CLI_POLICY_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "t:f:o:n:h", longs, NULL)) != -1) {
        int policy = sk_cli_policy_option(&o->policy, c, optarg);
        if (policy < 0)
            return -1;
        if (policy)
            continue;
        switch (c) {
        case 't': add_path(&o->templates, &o->n_templates, optarg); break;
        case 'f': add_path(&o->files, &o->n_files, optarg); break;
        case 'o':
            if (parse_output(optarg, &o->output) < 0)
                return -1;
            break;
        case OPT_OLD: o->old_path = optarg; break;
        case OPT_OP:
            if (sk_operation_parse(optarg, &o->op) < 0 || o->op == SK_OP_CONNECT) {
                fprintf(stderr,
                        "spacekeeper check: --operation must be CREATE, UPDATE or DELETE, not \"%s\"\n",
                        optarg);
                return -1;
            }
            o->op_set = 1;
            break;
        case OPT_USER: o->user = optarg; break;
        case OPT_GROUPS:
            sk_cli_free_list(o->groups);
            o->groups = sk_cli_split_list(optarg);
            break;
        case OPT_CLUSTER: o->cluster = 1; break;
        case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
        case OPT_CONTEXT: o->context = optarg; break;
        case OPT_IMPACT: o->impact = o->cluster = 1; break;
        case 'n': o->namespace = optarg; break;
        case 'h': fputs(USAGE, stdout); exit(0);
        default: return -1;
        }
    }
    for (int i = optind; i < argc; i++)
        add_path(&o->files, &o->n_files, argv[i]);
    return check_combination(o);
}

static int is_kind(const json_t *doc, const char *kind)
{
    const char *k = sk_json_str(doc, "kind", NULL);
    return k && strcmp(k, kind) == 0;
}

static int in_our_group(const json_t *doc)
{
    const char *api = sk_json_str(doc, "apiVersion", NULL);
    return sk_policy_owns_api_version(api);
}

static const char *ns_of(const json_t *doc)
{
    const char *ns = sk_json_str(doc, "metadata", "namespace", NULL);
    return ns && *ns ? ns : "default";
}

/* The --old document with the same kind, namespace and name. */
static const json_t *find_old(const sk_doclist *olds, const json_t *doc)
{
    const char *kind = sk_json_str(doc, "kind", NULL), *name = sk_json_str(doc, "metadata", "name", NULL);
    for (size_t i = 0; i < olds->n; i++) {
        const json_t *o = olds->items[i].value;
        const char *ok = sk_json_str(o, "kind", NULL), *on = sk_json_str(o, "metadata", "name", NULL);
        if (kind && ok && name && on && strcmp(kind, ok) == 0 && strcmp(name, on) == 0 &&
            strcmp(ns_of(doc), ns_of(o)) == 0)
            return o;
    }
    return NULL;
}

/* Answers an AdmissionReview document as the webhook would: the mutating
 * patch and the validating verdict in one response. */
static json_t *answer_review(const sk_check_opts *o, const sk_store *store, const sk_doc *doc,
                             int *invalid)
{
    sk_review r;
    sk_err err;
    if (sk_review_from_json(doc->value, &r, &err) != SK_REVIEW_OK) {
        fprintf(stderr, "spacekeeper check: %s: %s\n", doc->source, err.msg);
        *invalid = 1;
        return NULL;
    }
    sk_decision d = {0};
    int reviewed = sk_review_needs_policy(&r);
    if (reviewed)
        sk_policy_review(&o->policy.cfg, store, &r.req, &d);
    json_t *resp = sk_review_response(&r, reviewed ? &d : NULL, SK_RESPOND_PATCH | SK_RESPOND_VERDICT);
    json_t *res = reviewed ? sk_check_result(&d, doc->source, 1)
                           : json_pack("{s:s, s:s, s:b}", "source", doc->source, "kind",
                                       "AdmissionReview", "allowed", 1);
    json_object_set_new(res, "response", resp);
    json_object_set(res, "allowed", sk_json_get(resp, "response", "allowed", NULL));
    sk_decision_free(&d);
    sk_review_free(&r);
    return res;
}

/* Reviews every document of -f as the request --operation says. Returns
 * -1 when a document cannot be reviewed (the problem is printed). */
static int check_files(const sk_check_opts *o, const sk_store *store, const sk_doclist *fdocs,
                       const sk_doclist *odocs, sk_check_report *rep)
{
    int invalid = 0;
    for (size_t i = 0; i < fdocs->n; i++) {
        const sk_doc *doc = &fdocs->items[i];
        if (is_kind(doc->value, "AdmissionReview")) {
            json_t *res = answer_review(o, store, doc, &invalid);
            if (res)
                json_array_append_new(rep->results, res);
            continue;
        }
        if (!in_our_group(doc->value)) {
            rep->skipped++;
            continue;
        }
        const json_t *old = NULL;
        if (o->op != SK_OP_CREATE && !(old = find_old(odocs, doc->value))) {
            fprintf(stderr, "spacekeeper check: %s: no %s \"%s\" in %s to compare with\n",
                    doc->source, sk_json_str(doc->value, "kind", NULL),
                    sk_json_str(doc->value, "metadata", "name", NULL), o->old_path);
            invalid = 1;
            continue;
        }
        sk_request req = {
            .op = o->op,
            .object = o->op == SK_OP_DELETE ? NULL : doc->value,
            .old_object = old,
            .user = o->user,
            .groups = (const char *const *)o->groups,
        };
        sk_decision d;
        sk_policy_review(&o->policy.cfg, store, &req, &d);
        json_array_append_new(rep->results, sk_check_result(&d, doc->source, 1));
        sk_decision_free(&d);
    }
    return invalid ? -1 : 0;
}

/* Templates among the checked documents serve the workspaces beside them. */
static void put_file_templates(const sk_check_opts *o, sk_store *store, const sk_doclist *fdocs)
{
    for (size_t i = 0; i < fdocs->n; i++) {
        const json_t *v = fdocs->items[i].value;
        if (is_kind(v, SK_KIND_TEMPLATE) && in_our_group(v)) {
            sk_template *t = sk_template_new(v, o->policy.cfg.shared_namespace, NULL);
            if (t)
                sk_store_put(store, t);
        }
    }
}

/* ServiceAccounts among the checked documents, for serviceAccountName:
 * with any (or --cluster) the index is what exists; without, nothing is
 * known and the engine checks nothing. */
static void put_file_service_accounts(sk_sa_index *idx, const sk_doclist *fdocs)
{
    for (size_t i = 0; i < fdocs->n; i++) {
        const json_t *v = fdocs->items[i].value;
        const char *api = sk_json_str(v, "apiVersion", NULL);
        sk_service_account *sa;
        if (is_kind(v, "ServiceAccount") && api && strcmp(api, "v1") == 0 &&
            (sa = sk_service_account_new(v)))
            sk_sa_index_put(idx, sa);
    }
}

static int run_check(sk_check_opts *o)
{
    sk_doclist tdocs = SK_DOCLIST_INIT, fdocs = SK_DOCLIST_INIT, odocs = SK_DOCLIST_INIT;
    const char *shared = o->policy.cfg.shared_namespace;
    sk_store *store = sk_store_new(shared), *was = NULL;
    sk_check_report rep = {.results = json_array()};
    json_t *changed = json_array(), *cluster_templates = NULL;
    sk_kube *kube = NULL;
    sk_sa_index *accounts = sk_sa_index_new();
    sk_sa_source account_source = sk_sa_index_source(accounts);
    int status = 2;

    if (sk_cli_load_docs(o->templates, o->n_templates, &tdocs) < 0 ||
        sk_cli_load_docs(o->files, o->n_files, &fdocs) < 0 ||
        (o->old_path && sk_cli_load_docs(&o->old_path, 1, &odocs) < 0))
        goto out;
    if (o->cluster) {
        if (!(kube = sk_check_connect(o)) || !(cluster_templates = sk_check_list_templates(kube)))
            goto out;
        sk_store_replace_all(store, cluster_templates);
        if (sk_check_list_service_accounts(kube, accounts) == 0)
            o->policy.cfg.service_accounts = &account_source;
    }
    /* -t templates go in after the cluster's: a changed copy replaces the original. */
    if (sk_cli_load_templates(&tdocs, store, shared, changed) < 0)
        goto out;
    put_file_templates(o, store, &fdocs);
    put_file_service_accounts(accounts, &fdocs);
    if (sk_sa_index_count(accounts))
        o->policy.cfg.service_accounts = &account_source;

    if (o->impact) {
        was = sk_store_new(shared);
        sk_store_replace_all(was, cluster_templates);
        if (sk_check_impact(o, kube, was, store, changed, &rep) < 0)
            goto out;
    } else if (check_files(o, store, &fdocs, &odocs, &rep) < 0) {
        goto out;
    }
    sk_check_report_print(&rep, o->output);
    status = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rep.results, i, r) {
        if (!json_is_true(json_object_get(r, "allowed")))
            status = 1;
    }
out:
    json_decref(rep.results);
    json_decref(rep.impact);
    json_decref(changed);
    json_decref(cluster_templates);
    sk_kube_free(kube);
    sk_store_free(store);
    sk_store_free(was);
    o->policy.cfg.service_accounts = NULL;
    sk_sa_index_free(accounts);
    sk_doclist_free(&tdocs);
    sk_doclist_free(&fdocs);
    sk_doclist_free(&odocs);
    return status;
}

int sk_cmd_check(int argc, char **argv)
{
    sk_check_opts o = {0};
    sk_cli_policy_init(&o.policy);
    int status = 2;
    if (parse_args(argc, argv, &o) < 0)
        fputs(USAGE, stderr);
    else
        status = run_check(&o);
    free(o.templates);
    free(o.files);
    sk_cli_free_list(o.groups);
    sk_cli_policy_free(&o.policy);
    return status;
}
