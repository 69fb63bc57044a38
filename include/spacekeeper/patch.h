/* RFC 6902 JSON Patch built alongside the document it describes.
 *
 * Each operation is applied to `doc` as it is recorded, so later operations
 * see earlier ones and a parent object is always added before its children.
 * Paths are RFC 6901 pointers: "~" is written "~0" and "/" is written "~1". */
#ifndef SPACEKEEPER_PATCH_H
#define SPACEKEEPER_PATCH_H

#include <jansson.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/err.h"

/* Appends "/" + the escaped token to a pointer being built. */
void sk_pointer_append(sk_buf *ptr, const char *token);

/* Sets doc[path] = value (value is stolen), creating absent parent objects,
 * and records the operations in `ops` (a JSON array): "add" for a new key,
 * "replace" for an existing one; with ops NULL it only sets. Fails if a
 * parent exists but is not an object. */
int sk_patch_set(json_t *ops, json_t *doc, const char *const *path, size_t n, json_t *value,
                 sk_err *err);

/* Appends value (stolen) to the list at doc[path] and records an "add" at
 * its "/-". Fails if there is no list there. */
int sk_patch_append(json_t *ops, json_t *doc, const char *const *path, size_t n, json_t *value,
                    sk_err *err);

#endif
