/* An AdmissionReview body through everything the server does with it:
 * parse, decide (against the test fixtures' templates, the operator's
 * dialect among them, and their ServiceAccounts), encode. Never
 * crashes; a decision is allowed exactly when it has no violations, and a
 * second pass over the defaulted object patches nothing. Each input runs in
 * a request arena, as in the server, so ASan sees any use after its reset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/admission.h"
#include "spacekeeper/arena.h"
#include "spacekeeper/docs.h"
#include "spacekeeper/json.h"
#include "spacekeeper/service_account.h"

static sk_store *store;
static sk_sa_index *accounts;
static sk_sa_source account_source;

static void load(sk_doclist *docs, const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (sk_doclist_load(docs, path, NULL) < 0)
        abort();
}

static void load_store(void)
{
    const char *dir = getenv("SK_FIXTURES");
    dir = dir ? dir : "test/fixtures";
    sk_doclist docs = SK_DOCLIST_INIT;
    store = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    accounts = sk_sa_index_new();
    load(&docs, dir, "templates.yaml");
    load(&docs, dir, "operator/templates");
    load(&docs, dir, "operator/serviceaccounts.yaml");
    for (size_t i = 0; i < docs.n; i++) {
        const json_t *v = docs.items[i].value;
        const char *kind = sk_json_str(v, "kind", NULL);
        if (kind && strcmp(kind, "ServiceAccount") == 0)
            sk_sa_index_put(accounts, sk_service_account_new(v));
        else
            sk_store_put(store, sk_template_new(v, SK_DEFAULT_SHARED_NAMESPACE, NULL));
    }
    sk_doclist_free(&docs);
    account_source = sk_sa_index_source(accounts);
}

static int one_input(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!store) {
        load_store(); /* on the heap, as the server's store is */
        sk_arena_install();
    }
    sk_arena_begin();
    int rc = one_input(data, size);
    sk_arena_end();
    return rc;
}

static int one_input(const unsigned char *data, size_t size)
{
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    cfg.service_accounts = &account_source;
    sk_review r;
    if (sk_review_parse((const char *)data, size, &r, NULL) != SK_REVIEW_OK)
        return 0;
    sk_decision d;
    sk_policy_review(&cfg, store, &r.req, &d);
    if (d.allowed != (json_array_size(d.violations) == 0))
        abort();
    char *out = sk_review_render(&r, &d, SK_RESPOND_PATCH | SK_RESPOND_VERDICT);
    json_t *resp = out ? json_loads(out, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!resp || !json_is_object(sk_json_get(resp, "response", NULL)))
        abort(); /* always valid JSON, parsed back by jansson itself */
    if (d.object && r.req.op == SK_OP_CREATE && json_array_size(d.violations) == 0) {
        sk_request again = r.req;
        again.object = d.object;
        sk_decision d2;
        sk_policy_review(&cfg, store, &again, &d2);
        if (json_array_size(d2.patch) != 0)
            abort(); /* mutation must be idempotent */
        sk_decision_free(&d2);
    }
    free(out);
    json_decref(resp);
    sk_decision_free(&d);
    sk_review_free(&r);
    return 0;
}
