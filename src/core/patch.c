#include "spacekeeper/patch.h"

#include <string.h>

void sk_pointer_append(sk_buf *ptr, const char *token)
{
    sk_buf_append(ptr, "/", 1);
    for (const char *p = token; *p; p++) {
        const char *span = p;
        while (*p && *p != '~' && *p != '/')
            p++;
        sk_buf_append(ptr, span, (size_t)(p - span));
        if (!*p)
            break;
        sk_buf_append(ptr, *p == '~' ? "~0" : "~1", 2);
    }
}

static void record(json_t *ops, const char *op, const sk_buf *ptr, json_t *value)
{
    if (!ops)
        return;
    /* built directly: json_pack's format parsing was most of a patch's cost */
    json_t *o = json_object();
    json_object_set_new_nocheck(o, "op", json_string_nocheck(op));
    json_object_set_new_nocheck(o, "path", json_stringn(ptr->data, ptr->len));
    /* A snapshot: later operations change the document, not this record.
     * They add into objects and arrays; scalars are never changed in place,
     * so those are shared rather than copied. */
    if (value)
        json_object_set_new_nocheck(o, "value", json_is_object(value) || json_is_array(value)
                                                    ? json_deep_copy(value)
                                                    : json_incref(value));
    json_array_append_new(ops, o);
}

int sk_patch_set(json_t *ops, json_t *doc, const char *const *path, size_t n, json_t *value,
                 sk_err *err)
{
    sk_buf ptr = SK_BUF_INIT;
    json_t *cur = doc;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!json_is_object(cur)) {
            rc = sk_err_set(err, "cannot set %s: %s is a %s, not an object", path[n - 1],
                            i ? path[i - 1] : "document", json_is_null(cur) ? "null" : "value");
            json_decref(value);
            break;
        }
        if (ops)
            sk_pointer_append(&ptr, path[i]);
        json_t *next = json_object_get(cur, path[i]);
        if (i + 1 == n || !next) {
            /* Build the absent remainder as one nested value: the parent is
             * added together with its children, in one operation. */
            json_t *v = value;
            for (size_t j = n - 1; j > i; j--) {
                json_t *wrap = json_object();
                json_object_set_new(wrap, path[j], v);
                v = wrap;
            }
            record(ops, next ? "replace" : "add", &ptr, v);
            json_object_set_new(cur, path[i], v);
            break;
        }
        cur = next;
    }
    sk_buf_free(&ptr);
    return rc;
}

int sk_patch_append(json_t *ops, json_t *doc, const char *const *path, size_t n, json_t *value,
                    sk_err *err)
{
    json_t *list = doc;
    for (size_t i = 0; i < n && list; i++)
        list = json_object_get(list, path[i]);
    if (!json_is_array(list)) {
        json_decref(value);
        return sk_err_set(err, "cannot append to %s: it is not a list", n ? path[n - 1] : "document");
    }
    sk_buf ptr = SK_BUF_INIT;
    for (size_t i = 0; ops && i < n; i++)
        sk_pointer_append(&ptr, path[i]);
    sk_buf_append(&ptr, "/-", 2);
    record(ops, "add", &ptr, value);
    json_array_append_new(list, value);
    sk_buf_free(&ptr);
    return 0;
}
