#include "spacekeeper/template_sync.h"

#include <stdlib.h>

#include "spacekeeper/json.h"

static void replace(void *ud, const json_t *items)
{
    sk_store *store = ud;
    const char *shared = sk_store_shared_namespace(store);
    size_t n = json_array_size(items), m = 0;
    sk_template **compiled = calloc(n ? n : 1, sizeof *compiled);
    if (!compiled)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((compiled[m] = sk_template_new(json_array_get(items, i), shared, NULL)))
            m++;
    sk_store_write_lock(store);
    sk_store_clear(store);
    for (size_t i = 0; i < m; i++)
        sk_store_put(store, compiled[i]);
    sk_store_unlock(store);
    free(compiled);
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
