/* spacekeeper check --cluster and --impact: templates and workspaces from
 * the API server, read-only (LIST only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "spacekeeper/buf.h"
#include "spacekeeper/idle.h"
#include "spacekeeper/impact.h"
#include "spacekeeper/json.h"
#include "spacekeeper/template_sync.h"

#define PAGE_SIZE 500

/* One line, whatever the API server put in its message; `then` (or NULL)
 * says what follows from it. */
static void print_api_note(const char *what, long status, const char *msg, const char *then)
{
    static const struct {
        long status;
        const char *hint;
    } HINTS[] = {
        {401, "the credentials of the kubeconfig were refused"},
        {403, "check needs list on workspacetemplates, workspaces and serviceaccounts (manifests/ci-reader)"},
    };
    const char *hint = NULL;
    for (size_t i = 0; i < sizeof HINTS / sizeof *HINTS; i++)
        if (HINTS[i].status == status)
            hint = HINTS[i].hint;
    fprintf(stderr, "spacekeeper check: cannot list %s: ", what);
    for (const char *p = msg; *p; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, stderr);
    fprintf(stderr, "%s%s%s%s\n", hint ? "; " : "", hint ? hint : "", then ? "; " : "",
            then ? then : "");
}

static void print_api_error(const char *what, long status, const char *msg)
{
    print_api_note(what, status, msg, NULL);
}

sk_kube *sk_check_connect(const sk_check_opts *o)
{
    sk_kube_config cfg;
    sk_err err = {{0}};
    int rc = sk_kube_config_load(&cfg, o->kubeconfig, o->context, &err);
    /* Like kubectl: with no kubeconfig at all, a pod's service account. */
    const char *env = getenv("KUBECONFIG"), *host = getenv("KUBERNETES_SERVICE_HOST");
    if (rc < 0 && !o->kubeconfig && !o->context && !(env && *env) && host && *host) {
        sk_err in_cluster = {{0}};
        if (sk_kube_config_in_cluster(&cfg, SK_SERVICEACCOUNT_DIR, &in_cluster) == 0)
            rc = 0;
    }
    if (rc < 0) {
        fprintf(stderr, "spacekeeper check: --cluster: %s\n", err.msg);
        return NULL;
    }
    sk_kube *k = sk_kube_new(&cfg, &err);
    sk_kube_config_free(&cfg);
    if (!k)
        fprintf(stderr, "spacekeeper check: --cluster: %s\n", err.msg);
    return k;
}

json_t *sk_check_list_templates(sk_kube *k)
{
    json_t *items = NULL;
    sk_err err = {{0}};
    long st = sk_kube_list_all(k, SK_TEMPLATES_PATH, PAGE_SIZE, NULL, &items, NULL, 0, &err);
    if (st != 200) {
        print_api_error("WorkspaceTemplates", st, err.msg);
        return NULL;
    }
    return items;
}

int sk_check_list_service_accounts(sk_kube *k, sk_sa_index *idx)
{
    json_t *items = NULL;
    sk_err err = {{0}};
    long st = sk_kube_list_all(k, "/api/v1/serviceaccounts", PAGE_SIZE, NULL, &items, NULL, 0, &err);
    if (st != 200) {
        print_api_note("ServiceAccounts", st, err.msg, "spec.serviceAccountName is not checked");
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        sk_service_account *sa = sk_service_account_new(item);
        if (sa)
            sk_sa_index_put(idx, sa);
    }
    json_decref(items);
    return 0;
}

/* ---- --impact ---- */

struct impact {
    sk_impact counts;
    json_t *results; /* borrowed: the report's */
    size_t first_result;
};

static void keep_result(void *ud, const sk_decision *d)
{
    struct impact *im = ud;
    json_array_append_new(im->results, sk_check_result(d, "cluster", 0));
}

static int impact_page(void *ud, const json_t *items, int first)
{
    struct impact *im = ud;
    if (first) { /* a LIST that started over: forget the pages before */
        while (json_array_size(im->results) > im->first_result)
            json_array_remove(im->results, json_array_size(im->results) - 1);
        sk_impact_reset(&im->counts);
    }
    size_t i;
    json_t *ws;
    json_array_foreach(items, i, ws)
        sk_impact_add(&im->counts, ws);
    return 0;
}

int sk_check_impact(const sk_check_opts *o, sk_kube *k, const sk_store *was, const sk_store *now,
                    const json_t *changed, sk_check_report *report)
{
    struct impact im = {.results = report->results, .first_result = json_array_size(report->results)};
    sk_impact *c = &im.counts;
    sk_impact_init(c, &o->policy.cfg, was, now, changed);
    /* The owner starts it, unless --user says who. */
    c->user = o->user;
    c->groups = (const char *const *)o->groups;
    c->on_review = keep_result;
    c->ud = &im;
    sk_buf path = SK_BUF_INIT;
    if (o->namespace)
        sk_buf_printf(&path, "/apis/%s/namespaces/%s/workspaces", SK_API_VERSION, o->namespace);
    else
        sk_buf_puts(&path, SK_WORKSPACES_PATH);
    sk_err err = {{0}};
    long st = sk_kube_list_pages(k, path.data, PAGE_SIZE, impact_page, &im, NULL, NULL, 0, &err);
    sk_buf_free(&path);
    if (st != 200) {
        sk_impact_free(c);
        print_api_error("Workspaces", st, err.msg);
        return -1;
    }
    report->impact = json_pack("{s:O, s:s?, s:I, s:I, s:I, s:I}", "templates", changed, "namespace",
                               o->namespace, "workspaces", (json_int_t)c->seen, "using",
                               (json_int_t)c->using, "denied", (json_int_t)c->denied, "passing",
                               (json_int_t)(c->using - c->denied));
    sk_impact_free(c);
    return 0;
}
