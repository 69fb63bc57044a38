/* Small jansson helpers shared by every module. All lookups are borrowed. */
#ifndef SPACEKEEPER_JSON_H
#define SPACEKEEPER_JSON_H

#include <jansson.h>

#include "spacekeeper/buf.h"

/* Walks a NULL-terminated path of object keys; NULL when any step is
 * missing or not an object. */
json_t *sk_json_at(const json_t *root, const char *const *path);
/* The same with the path spelled as variadic keys ending in NULL. */
json_t *sk_json_get(const json_t *root, ...);
/* A string at a path, or NULL when absent or not a string. */
const char *sk_json_str(const json_t *root, ...);

/* json_dumps, but the text is always plain malloc memory (free() it),
 * whatever allocator jansson is using: it may outlive a request arena.
 * Compact output is written by sk_json_write; other flags go to jansson. */
char *sk_json_dumps(const json_t *v, size_t flags);

/* Appends v as compact JSON, byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes, without a callback per token or printf for
 * integers (reals, rare here, keep jansson's %.17g). Fails (-1, b partly
 * written) where jansson fails: a string that is not UTF-8. */
int sk_json_write(sk_buf *b, const json_t *v);
/* Appends n bytes of UTF-8 as a quoted JSON string, escaped as jansson does. */
int sk_json_write_string(sk_buf *b, const char *s, size_t n);

/* The length of the well-formed UTF-8 sequence at p (before end), or 0.
 * jansson's rules: no overlong forms, no surrogates, nothing past U+10FFFF. */
size_t sk_json_utf8_length(const unsigned char *p, const unsigned char *end);

/* "string", "number", "object", ... for type errors in messages. */
const char *sk_json_type_name(const json_t *v);

#endif
