#include "spacekeeper/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A slot is empty (key NULL), live, or a tombstone (key == TOMB) so that
 * probe chains stay intact after a removal. */
static char tomb_marker;
#define TOMB (&tomb_marker)

struct slot {
    char *key;
    void *value;
    uint64_t hash;
};

struct sk_map {
    struct slot *slots;
    size_t cap;   /* power of two */
    size_t count; /* live entries */
    size_t used;  /* live + tombstones */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 32);
}

sk_map *sk_map_new(void)
{
    sk_map *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 16;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void sk_map_free(sk_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB)
            free(m->slots[i].key);
    free(m->slots);
    free(m);
}

/* Index of the live slot holding key, or of the slot where it would go. */
static size_t probe(const sk_map *m, const char *key, uint64_t h, int *found)
{
    size_t mask = m->cap - 1, i = h & mask, first_tomb = SIZE_MAX;
    for (;;) {
        struct slot *s = &m->slots[i];
        if (!s->key) {
            *found = 0;
            return first_tomb != SIZE_MAX ? first_tomb : i;
        }
        if (s->key == TOMB) {
            if (first_tomb == SIZE_MAX)
                first_tomb = i;
        } else if (s->hash == h && strcmp(s->key, key) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static void grow(sk_map *m)
{
    struct slot *old = m->slots;
    size_t old_cap = m->cap;
    size_t cap = m->count * 4 >= old_cap ? old_cap * 2 : old_cap; /* else just drop tombstones */
    struct slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        abort();
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key || old[i].key == TOMB)
            continue;
        size_t j = old[i].hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = old[i];
    }
    free(old);
    m->slots = slots;
    m->cap = cap;
    m->used = m->count;
}

void *sk_map_put(sk_map *m, const char *key, void *value)
{
    if ((m->used + 1) * 4 > m->cap * 3)
        grow(m);
    uint64_t h = hash_str(key);
    int found;
    size_t i = probe(m, key, h, &found);
    struct slot *s = &m->slots[i];
    if (found) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    char *k = strdup(key);
    if (!k)
        abort();
    if (!s->key)
        m->used++;
    s->key = k;
    s->value = value;
    s->hash = h;
    m->count++;
    return NULL;
}

void *sk_map_get(const sk_map *m, const char *key)
{
    int found;
    size_t i = probe(m, key, hash_str(key), &found);
    return found ? m->slots[i].value : NULL;
}

void *sk_map_remove(sk_map *m, const char *key)
{
    int found;
    size_t i = probe(m, key, hash_str(key), &found);
    if (!found)
        return NULL;
    struct slot *s = &m->slots[i];
    void *prev = s->value;
    free(s->key);
    s->key = TOMB;
    s->value = NULL;
    m->count--;
    return prev;
}

size_t sk_map_count(const sk_map *m)
{
    return m->count;
}

int sk_map_next(const sk_map *m, size_t *pos, const char **key, void **value)
{
    for (; *pos < m->cap; (*pos)++) {
        struct slot *s = &m->slots[*pos];
        if (s->key && s->key != TOMB) {
            *key = s->key;
            *value = s->value;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}
