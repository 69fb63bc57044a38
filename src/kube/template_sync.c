#include "spacekeeper/template_sync.h"

#include <stdlib.h>

#include "spacekeeper/json.h"

static void replace(void *ud, const json_t *items)
{
    sk_store_replace_all(ud, items);
}

static void upsert(void *ud, const json_t *obj)
{
    sk_store *store = ud;
    sk_template *t = sk_template_new(obj, sk_store_shared_namespace(store), NULL);
    if (!t)
        return;
    sk_store_write_lock(store);
    sk_store_put(store, t);
    sk_store_unlock(store);
}

static void remove_one(void *ud, const json_t *obj)
{
    sk_store *store = ud;
    const char *ns = sk_json_str(obj, "metadata", "namespace", NULL);
    const char *name = sk_json_str(obj, "metadata", "name", NULL);
    if (!name)
        return;
    sk_store_write_lock(store);
    sk_store_remove(store, ns && *ns ? ns : sk_store_shared_namespace(store), name);
    sk_store_unlock(store);
}

sk_reflector *sk_template_sync_start(sk_kube *k, sk_store *store, unsigned page_size)
{
    static const sk_reflector_ops ops = {replace, upsert, remove_one};
    return sk_reflector_start(k, SK_TEMPLATES_PATH, page_size, &ops, store);
}
