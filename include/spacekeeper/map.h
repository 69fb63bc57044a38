/* A string-keyed hash map of borrowed pointers (open addressing, linear
 * probing). Keys are copied; values belong to the caller. Lookups are O(1)
 * whatever the size, which is what keeps template resolution flat. */
#ifndef SPACEKEEPER_MAP_H
#define SPACEKEEPER_MAP_H

#include <stddef.h>

typedef struct sk_map sk_map;

sk_map *sk_map_new(void);
void sk_map_free(sk_map *m);

/* Inserts or replaces; returns the value it replaced (or NULL). */
void *sk_map_put(sk_map *m, const char *key, void *value);
void *sk_map_get(const sk_map *m, const char *key);
/* Removes the key; returns its value (or NULL). */
void *sk_map_remove(sk_map *m, const char *key);
size_t sk_map_count(const sk_map *m);

/* Iteration: `for (size_t i = 0; sk_map_next(m, &i, &k, &v);)`. The map must
 * not change while iterating. */
int sk_map_next(const sk_map *m, size_t *pos, const char **key, void **value);

#endif
