#include "spacekeeper/sa_cache.h"

#include <string.h>

static void *decode(const json_t *obj)
{
    return sk_service_account_new(obj);
}

static void free_item(void *item)
{
    sk_service_account_free(item);
}

/* Only the default-labelled ones are grouped: the group is their namespace. */
static const char *group(const void *item)
{
    const sk_service_account *sa = item;
    return sa->is_default ? sa->ns : NULL;
}

static const sk_cache_ops OPS = {.decode = decode, .free = free_item, .group = group};

sk_cache *sk_sa_cache_start(sk_kube *k)
{
    return sk_cache_start(k, SK_SERVICEACCOUNTS_PATH, &OPS);
}

static int known(const sk_cache *c)
{
    return sk_cache_synced(c) && sk_cache_live(c);
}

static int cache_access(const void *ctx, const char *ns, const char *name, const char *user,
                        const char *const *groups)
{
    sk_cache *c = (sk_cache *)ctx;
    if (!known(c))
        return SK_SA_UNKNOWN;
    sk_cache_lock(c);
    int answer = sk_sa_access(sk_cache_get(c, ns, name), user, groups);
    sk_cache_unlock(c);
    return answer;
}

static int cache_defaults(const void *ctx, const char *ns, char names[2][SK_SA_NAME_MAX])
{
    sk_cache *c = (sk_cache *)ctx;
    if (!known(c))
        return SK_SA_UNKNOWN;
    int n = 0;
    sk_cache_lock(c);
    for (const sk_cache_entry *e = sk_cache_group_first(c, ns); e; e = sk_cache_group_next(e)) {
        const sk_service_account *sa = sk_cache_entry_item(e);
        sk_sa_defaults_add(names, &n, sa->name);
    }
    sk_cache_unlock(c);
    return n;
}

sk_sa_source sk_sa_cache_source(sk_cache *c)
{
    return (sk_sa_source){.access = cache_access, .defaults = cache_defaults, .ctx = c};
}
