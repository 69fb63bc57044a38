/* Pieces the subcommands share: lists, documents and templates from files. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/cli.h"
#include "spacekeeper/json.h"
#include "spacekeeper/policy.h"

char **sk_cli_split_list(const char *text)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    char **list = calloc(n + 1, sizeof *list);
    if (!list)
        abort();
    size_t i = 0;
    for (const char *p = text;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len)
            list[i++] = strndup(p, len);
        if (!end)
            break;
        p = end + 1;
    }
    return list;
}

void sk_cli_free_list(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}

void sk_cli_policy_init(sk_cli_policy *p)
{
    sk_policy_config_init(&p->cfg);
    p->admin_groups = NULL;
    p->trusted = NULL;
}

/* Replaces an owned list with "a,b,c" and points the config at it. */
static void set_list(char ***owned, const char *const **cfg, const char *arg)
{
    sk_cli_free_list(*owned);
    *owned = sk_cli_split_list(arg);
    *cfg = (const char *const *)*owned;
}

int sk_cli_policy_option(sk_cli_policy *p, int code, const char *arg)
{
    switch (code) {
    case SK_CLI_OPT_SHARED: p->cfg.shared_namespace = arg; return 1;
    case SK_CLI_OPT_CTRL: p->cfg.controller_user = arg; return 1;
    case SK_CLI_OPT_IMAGE: p->cfg.default_image = arg; return 1;
    case SK_CLI_OPT_ADMIN: set_list(&p->admin_groups, &p->cfg.admin_groups, arg); return 1;
    case SK_CLI_OPT_TRUSTED: set_list(&p->trusted, &p->cfg.trusted_service_accounts, arg); return 1;
    case SK_CLI_OPT_SCOPE:
        if (sk_template_scope_parse(arg, &p->cfg.template_scope) < 0) {
            fprintf(stderr, "spacekeeper: --template-scope must be cluster or namespace, not \"%s\"\n",
                    arg);
            return -1;
        }
        return 1;
    }
    return 0;
}

void sk_cli_policy_free(sk_cli_policy *p)
{
    sk_cli_free_list(p->admin_groups);
    sk_cli_free_list(p->trusted);
    p->admin_groups = NULL;
    p->trusted = NULL;
}

int sk_cli_load_docs(const char *const *paths, size_t n, sk_doclist *docs)
{
    for (size_t i = 0; i < n; i++) {
        sk_err err;
        if (sk_doclist_load(docs, paths[i], &err) < 0) {
            fprintf(stderr, "spacekeeper: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

int sk_cli_load_templates(const sk_doclist *docs, sk_store *store, const char *shared_ns,
                          json_t *keys)
{
    int rc = 0;
    for (size_t i = 0; i < docs->n; i++) {
        const sk_doc *d = &docs->items[i];
        const char *kind = sk_json_str(d->value, "kind", NULL);
        const char *api = sk_json_str(d->value, "apiVersion", NULL);
        /* A manifests directory holds Namespaces, Kustomizations and the
         * like beside the templates: only our own group matters here. */
        if (!sk_policy_owns_api_version(api))
            continue;
        if (!kind || strcmp(kind, SK_KIND_TEMPLATE) != 0) {
            fprintf(stderr, "spacekeeper: %s: kind \"%s\" is not a %s\n", d->source,
                    kind ? kind : "", SK_KIND_TEMPLATE);
            rc = -1;
            continue;
        }
        json_t *violations = json_array();
        sk_template *t = sk_template_new(d->value, shared_ns, violations);
        size_t j;
        json_t *v;
        json_array_foreach(violations, j, v) {
            fprintf(stderr, "spacekeeper: %s: %s\n", d->source,
                    json_string_value(json_object_get(v, "message")));
            rc = -1;
        }
        json_decref(violations);
        if (t && keys)
            json_array_append_new(keys, json_string(t->key));
        if (t)
            sk_store_put(store, t);
    }
    return rc;
}

void sk_cli_block_stop_signals(sigset_t *stop)
{
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int sk_cli_stop_requested(const sigset_t *stop, long ms)
{
    struct timespec wait = {ms / 1000, (ms % 1000) * 1000000L};
    int sig = sigtimedwait(stop, NULL, &wait);
    return sig == SIGTERM || sig == SIGINT;
}
