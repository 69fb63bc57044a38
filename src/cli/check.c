/* spacekeeper check: the policy engine offline, for CI dry-runs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/admission.h"
#include "spacekeeper/buf.h"
#include "spacekeeper/cli.h"
#include "spacekeeper/docs.h"
#include "spacekeeper/json.h"
#include "spacekeeper/policy.h"
#include "spacekeeper/yaml.h"

enum output { OUT_TEXT, OUT_JSON, OUT_YAML };

struct check_opts {
    const char **templates, **files;
    size_t n_templates, n_files;
    const char *old_path;
    const char *user;
    char **groups;
    int op_set;
    sk_operation op;
    enum output output;
    sk_cli_policy policy;
};

static const char USAGE[] =
    "usage: spacekeeper check -t TEMPLATES... -f FILE... [options]\n"
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
    "  -o, --output FORMAT      text (default), json or yaml\n"
    SK_CLI_POLICY_USAGE
    "\n"
    "Exit status: 0 all admitted, 1 any denied, 2 bad usage or invalid input.\n";

static void add_path(const char ***list, size_t *n, const char *path)
{
    *list = realloc(*list, (*n + 1) * sizeof **list);
    if (!*list)
        abort();
    (*list)[(*n)++] = path;
}

static int parse_args(int argc, char **argv, struct check_opts *o)
{
    enum { OPT_OLD = 256, OPT_OP, OPT_USER, OPT_GROUPS };
    static const struct option longs[] = {
        {"templates", required_argument, NULL, 't'},
        {"filename", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"old", required_argument, NULL, OPT_OLD},
        {"operation", required_argument, NULL, OPT_OP},
        {"user", required_argument, NULL, OPT_USER},
        {"groups", required_argument, NULL, OPT_GROUPS},
        SK_CLI_POLICY_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "t:f:o:h", longs, NULL)) != -1) {
        int policy = sk_cli_policy_option(&o->policy, c, optarg);
        if (policy < 0)
            return -1;
        if (policy)
            continue;
        switch (c) {
        case 't': add_path(&o->templates, &o->n_templates, optarg); break;
        case 'f': add_path(&o->files, &o->n_files, optarg); break;
        case 'o':
            if (strcmp(optarg, "text") == 0)
                o->output = OUT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                o->output = OUT_JSON;
            else if (strcmp(optarg, "yaml") == 0)
                o->output = OUT_YAML;
            else {
                fprintf(stderr, "spacekeeper check: -o must be text, json or yaml, not \"%s\"\n",
                        optarg);
                return -1;
            }
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
        case 'h': fputs(USAGE, stdout); exit(0);
        default: return -1;
        }
    }
    for (int i = optind; i < argc; i++)
        add_path(&o->files, &o->n_files, argv[i]);
    if (o->n_files == 0) {
        fprintf(stderr, "spacekeeper check: nothing to check: give -f FILE (or - for stdin)\n");
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

static json_t *result_of(const sk_decision *d, const char *source)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:O, s:O, s:O, s:O?}", "source", source, "kind",
                     d->kind, "namespace", d->namespace, "name", d->name, "allowed", d->allowed,
                     "violations", d->violations, "warnings", d->warnings, "patch", d->patch,
                     "object", d->object);
}

/* Answers an AdmissionReview document as the webhook would: the mutating
 * patch and the validating verdict in one response. */
static json_t *answer_review(const struct check_opts *o, const sk_store *store, const sk_doc *doc,
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
    json_t *res = reviewed ? result_of(&d, doc->source)
                           : json_pack("{s:s, s:s, s:b}", "source", doc->source, "kind",
                                       "AdmissionReview", "allowed", 1);
    json_object_set_new(res, "response", resp);
    json_object_set(res, "allowed", sk_json_get(resp, "response", "allowed", NULL));
    sk_decision_free(&d);
    sk_review_free(&r);
    return res;
}

static void print_text(const json_t *results, size_t skipped)
{
    size_t i, allowed = 0;
    json_t *r;
    json_array_foreach(results, i, r) {
        int ok = json_is_true(json_object_get(r, "allowed"));
        allowed += ok;
        const char *ns = sk_json_str(r, "namespace", NULL);
        printf("%s %s%s%s  (%s)  %s\n", sk_json_str(r, "kind", NULL),
               ns && *ns ? ns : "", ns && *ns ? "/" : "",
               sk_json_str(r, "name", NULL) ? sk_json_str(r, "name", NULL) : "",
               sk_json_str(r, "source", NULL), ok ? "ALLOWED" : "DENIED");
        size_t j;
        json_t *x;
        json_array_foreach(json_object_get(r, "patch"), j, x) {
            char *v = sk_json_dumps(json_object_get(x, "value"), JSON_COMPACT | JSON_ENCODE_ANY);
            printf("  %-8s %s = %s\n", j ? "" : "defaults", sk_json_str(x, "path", NULL), v ? v : "");
            free(v);
        }
        json_array_foreach(json_object_get(r, "violations"), j, x)
            printf("  %-8s %s\n", j ? "" : "denied", sk_json_str(x, "message", NULL));
        json_array_foreach(json_object_get(r, "warnings"), j, x)
            printf("  %-8s %s\n", j ? "" : "warning", json_string_value(x));
    }
    printf("%zu checked: %zu allowed, %zu denied", json_array_size(results), allowed,
           json_array_size(results) - allowed);
    if (skipped)
        printf(", %zu skipped (not %s objects)", skipped, SK_API_GROUP);
    printf("\n");
}

static int run_check(struct check_opts *o)
{
    sk_doclist tdocs = SK_DOCLIST_INIT, fdocs = SK_DOCLIST_INIT, odocs = SK_DOCLIST_INIT;
    sk_store *store = sk_store_new(o->policy.cfg.shared_namespace);
    json_t *results = json_array();
    int status = 2;
    size_t skipped = 0;

    if (sk_cli_load_docs(o->templates, o->n_templates, &tdocs) < 0 ||
        sk_cli_load_docs(o->files, o->n_files, &fdocs) < 0 ||
        (o->old_path && sk_cli_load_docs(&o->old_path, 1, &odocs) < 0) ||
        sk_cli_load_templates(&tdocs, store, o->policy.cfg.shared_namespace) < 0)
        goto out;

    /* Templates among the checked documents serve the workspaces beside them. */
    for (size_t i = 0; i < fdocs.n; i++) {
        if (is_kind(fdocs.items[i].value, SK_KIND_TEMPLATE) && in_our_group(fdocs.items[i].value)) {
            sk_template *t = sk_template_new(fdocs.items[i].value, o->policy.cfg.shared_namespace, NULL);
            if (t)
                sk_store_put(store, t);
        }
    }

    int invalid = 0;
    for (size_t i = 0; i < fdocs.n; i++) {
        const sk_doc *doc = &fdocs.items[i];
        if (is_kind(doc->value, "AdmissionReview")) {
            json_t *res = answer_review(o, store, doc, &invalid);
            if (res)
                json_array_append_new(results, res);
            continue;
        }
        if (!in_our_group(doc->value)) {
            skipped++;
            continue;
        }
        const json_t *old = NULL;
        if (o->op != SK_OP_CREATE && !(old = find_old(&odocs, doc->value))) {
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
        json_array_append_new(results, result_of(&d, doc->source));
        sk_decision_free(&d);
    }
    if (invalid)
        goto out;

    json_t *doc = json_pack("{s:O}", "results", results);
    if (o->output == OUT_JSON) {
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
    } else if (o->output == OUT_YAML) {
        char *y = sk_yaml_dump(doc);
        fputs(y ? y : "", stdout);
        free(y);
    } else {
        print_text(results, skipped);
    }
    json_decref(doc);

    status = 0;
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        if (!json_is_true(json_object_get(r, "allowed")))
            status = 1;
    }
out:
    json_decref(results);
    sk_store_free(store);
    sk_doclist_free(&tdocs);
    sk_doclist_free(&fdocs);
    sk_doclist_free(&odocs);
    return status;
}

int sk_cmd_check(int argc, char **argv)
{
    struct check_opts o = {0};
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
