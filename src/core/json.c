#include "spacekeeper/json.h"

#include <stdarg.h>

#include "spacekeeper/buf.h"

json_t *sk_json_at(const json_t *root, const char *const *path)
{
    json_t *v = (json_t *)root;
    for (; *path; path++) {
        if (!json_is_object(v))
            return NULL;
        v = json_object_get(v, *path);
    }
    return v;
}

static json_t *walk(const json_t *root, va_list ap)
{
    json_t *v = (json_t *)root;
    const char *key;
    while ((key = va_arg(ap, const char *))) {
        if (!json_is_object(v))
            return NULL;
        v = json_object_get(v, key);
    }
    return v;
}

json_t *sk_json_get(const json_t *root, ...)
{
    va_list ap;
    va_start(ap, root);
    json_t *v = walk(root, ap);
    va_end(ap);
    return v;
}

const char *sk_json_str(const json_t *root, ...)
{
    va_list ap;
    va_start(ap, root);
    json_t *v = walk(root, ap);
    va_end(ap);
    return json_string_value(v);
}

const char *sk_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

static int append_chunk(const char *data, size_t size, void *ud)
{
    sk_buf_append(ud, data, size);
    return 0;
}

char *sk_json_dumps(const json_t *v, size_t flags)
{
    sk_buf b = SK_BUF_INIT;
    if (json_dump_callback(v, append_chunk, &b, flags) < 0) {
        sk_buf_free(&b);
        return NULL;
    }
    return sk_buf_steal(&b);
}
