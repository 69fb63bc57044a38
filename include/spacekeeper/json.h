/* Small jansson helpers shared by every module. All lookups are borrowed. */
#ifndef SPACEKEEPER_JSON_H
#define SPACEKEEPER_JSON_H

#include <jansson.h>

/* Walks a NULL-terminated path of object keys; NULL when any step is
 * missing or not an object. */
json_t *sk_json_at(const json_t *root, const char *const *path);
/* The same with the path spelled as variadic keys ending in NULL. */
json_t *sk_json_get(const json_t *root, ...);
/* A string at a path, or NULL when absent or not a string. */
const char *sk_json_str(const json_t *root, ...);

/* json_dumps, but the text is always plain malloc memory (free() it),
 * whatever allocator jansson is using: it may outlive a request arena. */
char *sk_json_dumps(const json_t *v, size_t flags);

/* "string", "number", "object", ... for type errors in messages. */
const char *sk_json_type_name(const json_t *v);

#endif
