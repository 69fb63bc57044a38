#include "spacekeeper/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/map.h"
#include "spacekeeper/reflector.h"

#define PAGE_SIZE 500

struct sk_cache_entry {
    void *item;
    char *group;
    sk_cache_entry *gnext; /* the next entry of the same group */
};

struct sk_cache {
    sk_cache_ops ops;
    pthread_mutex_t lock;
    sk_map *by_key;   /* "ns/name" -> entry */
    sk_map *by_group; /* group -> first entry */
    unsigned long version;
    sk_reflector *reflector;
};

static char *object_key(const json_t *obj)
{
    const char *ns = sk_json_str(obj, "metadata", "namespace", NULL);
    const char *name = sk_json_str(obj, "metadata", "name", NULL);
    if (!name)
        return NULL;
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, "%s/%s", ns ? ns : "", name);
    return sk_buf_steal(&b);
}

static void group_unlink(sk_cache *c, sk_cache_entry *e)
{
    if (!e->group)
        return;
    sk_cache_entry *head = sk_map_get(c->by_group, e->group), **pp = &head;
    while (*pp && *pp != e)
        pp = &(*pp)->gnext;
    if (*pp)
        *pp = e->gnext;
    if (head)
        sk_map_put(c->by_group, e->group, head);
    else
        sk_map_remove(c->by_group, e->group);
}

static void entry_free(sk_cache *c, sk_cache_entry *e)
{
    group_unlink(c, e);
    c->ops.free(e->item);
    free(e->group);
    free(e);
}

/* Takes ownership of item (may be NULL: the key is removed). Locked. */
static void put_locked(sk_cache *c, const char *key, void *item)
{
    sk_cache_entry *old = sk_map_remove(c->by_key, key);
    if (old)
        entry_free(c, old);
    c->version++;
    if (!item)
        return;
    sk_cache_entry *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    e->item = item;
    const char *g = c->ops.group ? c->ops.group(item) : NULL;
    if (g) {
        e->group = strdup(g);
        e->gnext = sk_map_get(c->by_group, g);
        sk_map_put(c->by_group, g, e);
    }
    sk_map_put(c->by_key, key, e);
}

static void clear_locked(sk_cache *c)
{
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(c->by_key, &i, &k, &v);) {
        sk_cache_entry *e = v;
        c->ops.free(e->item);
        free(e->group);
        free(e);
    }
    sk_map_free(c->by_key);
    sk_map_free(c->by_group);
    c->by_key = sk_map_new();
    c->by_group = sk_map_new();
    c->version++;
}

static void on_replace(void *ud, const json_t *items)
{
    sk_cache *c = ud;
    size_t n = json_array_size(items);
    void **decoded = calloc(n ? n : 1, sizeof *decoded);
    char **keys = calloc(n ? n : 1, sizeof *keys);
    if (!decoded || !keys)
        abort();
    for (size_t i = 0; i < n; i++) { /* decode outside the lock */
        const json_t *obj = json_array_get(items, i);
        if ((keys[i] = object_key(obj)))
            decoded[i] = c->ops.decode(obj);
    }
    pthread_mutex_lock(&c->lock);
    clear_locked(c);
    for (size_t i = 0; i < n; i++)
        if (keys[i] && decoded[i])
            put_locked(c, keys[i], decoded[i]);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    free(decoded);
}

static void on_upsert(void *ud, const json_t *obj)
{
    sk_cache *c = ud;
    char *key = object_key(obj);
    if (!key)
        return;
    void *item = c->ops.decode(obj);
    pthread_mutex_lock(&c->lock);
    put_locked(c, key, item);
    pthread_mutex_unlock(&c->lock);
    free(key);
}

static void on_remove(void *ud, const json_t *obj)
{
    sk_cache *c = ud;
    char *key = object_key(obj);
    if (!key)
        return;
    pthread_mutex_lock(&c->lock);
    put_locked(c, key, NULL);
    pthread_mutex_unlock(&c->lock);
    free(key);
}

sk_cache *sk_cache_start(sk_kube *k, const char *path, const sk_cache_ops *ops)
{
    static const sk_reflector_ops rops = {on_replace, on_upsert, on_remove};
    sk_cache *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->ops = *ops;
    pthread_mutex_init(&c->lock, NULL);
    c->by_key = sk_map_new();
    c->by_group = sk_map_new();
    c->reflector = sk_reflector_start(k, path, PAGE_SIZE, &rops, c);
    return c;
}

void sk_cache_stop(sk_cache *c)
{
    if (!c)
        return;
    sk_reflector_stop(c->reflector);
    clear_locked(c);
    sk_map_free(c->by_key);
    sk_map_free(c->by_group);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void sk_cache_lock(sk_cache *c)
{
    pthread_mutex_lock(&c->lock);
}

void sk_cache_unlock(sk_cache *c)
{
    pthread_mutex_unlock(&c->lock);
}

const void *sk_cache_get(const sk_cache *c, const char *ns, const char *name)
{
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, "%s/%s", ns ? ns : "", name);
    const sk_cache_entry *e = sk_map_get(c->by_key, b.data);
    sk_buf_free(&b);
    return e ? e->item : NULL;
}

const void *sk_cache_next(const sk_cache *c, size_t *pos)
{
    const char *k;
    void *v;
    return sk_map_next(c->by_key, pos, &k, &v) ? ((sk_cache_entry *)v)->item : NULL;
}

const sk_cache_entry *sk_cache_group_first(const sk_cache *c, const char *group)
{
    return sk_map_get(c->by_group, group);
}

const sk_cache_entry *sk_cache_group_next(const sk_cache_entry *e)
{
    return e->gnext;
}

const void *sk_cache_entry_item(const sk_cache_entry *e)
{
    return e->item;
}

size_t sk_cache_count(const sk_cache *c)
{
    return sk_map_count(c->by_key);
}

unsigned long sk_cache_version(const sk_cache *c)
{
    return c->version;
}

int sk_cache_synced(const sk_cache *c)
{
    return sk_reflector_synced(c->reflector);
}

int sk_cache_live(const sk_cache *c)
{
    return sk_reflector_live(c->reflector);
}

unsigned long sk_cache_restarts(const sk_cache *c)
{
    return sk_reflector_restarts(c->reflector);
}

unsigned long sk_cache_relists(const sk_cache *c)
{
    return sk_reflector_relists(c->reflector);
}
