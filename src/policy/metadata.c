#include "spacekeeper/metadata.h"

#include <stdio.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/violation.h"

/* Messages quote at most this much of a key or value. */
#define SHOWN 80

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The name part of a key and a label value share one shape. */
static const char *name_shape_problem(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return "only letters, digits, '-', '_' and '.' are allowed";
    if (n && (!is_alnum(s[0]) || !is_alnum(s[n - 1])))
        return "it must start and end with a letter or digit";
    return NULL;
}

/* A lowercase RFC 1123 subdomain: dot-separated labels of [a-z0-9-], each
 * starting and ending with a letter or digit. */
static const char *prefix_problem(const char *s, size_t n, int fold_case)
{
    static const char shape[] = "the prefix before '/' must be a lowercase DNS subdomain (labels of "
                                "a-z, 0-9 and '-', separated by '.', each starting and ending with a "
                                "letter or digit)";
    if (n == 0)
        return "the prefix before '/' is empty";
    if (n > SK_META_PREFIX_MAX)
        return "the prefix before '/' is longer than 253 characters";
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            char c = s[i];
            int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     (fold_case && c >= 'A' && c <= 'Z');
            if (!ok)
                return shape;
            continue;
        }
        if (i == start || !is_alnum(s[start]) || !is_alnum(s[i - 1]))
            return shape;
        start = i + 1;
    }
    return NULL;
}

const char *sk_meta_key_problem(const char *key, int fold_case)
{
    const char *slash = strchr(key, '/');
    const char *name = key;
    if (slash) {
        if (strchr(slash + 1, '/'))
            return "a key has at most one '/'";
        const char *p = prefix_problem(key, (size_t)(slash - key), fold_case);
        if (p)
            return p;
        name = slash + 1;
    }
    size_t n = strlen(name);
    if (n == 0)
        return "the name part is empty";
    if (n > SK_META_NAME_MAX)
        return "the name part is longer than 63 characters";
    return name_shape_problem(name, n);
}

const char *sk_meta_label_value_problem(const char *value)
{
    size_t n = strlen(value);
    if (n > SK_META_LABEL_VALUE_MAX)
        return "it is longer than 63 characters";
    return name_shape_problem(value, n);
}

/* "abc" or "abcdef..." for messages. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*s%s", SHOWN, s, strlen(s) > SHOWN ? "..." : "");
    return buf;
}

/* One violation on metadata.<section>[key]. */
static void key_violation(json_t *violations, const char *section, const char *key, const char *reason)
{
    sk_buf field = SK_BUF_INIT;
    sk_buf_printf(&field, "metadata.%s[%s]", section, key);
    char k[SHOWN + 4];
    sk_violation_add(violations, field.data, "metadata.%s[%s]: %s", section, shown(key, k, sizeof k),
                     reason);
    sk_buf_free(&field);
}

/* Every key and value of one section; returns the bytes they take. */
static size_t check_section(const json_t *map, const char *section, int is_label, json_t *violations)
{
    size_t total = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)map, key, v) {
        char reason[256], val[SHOWN + 4];
        const char *why = sk_meta_key_problem(key, !is_label);
        if (why) {
            snprintf(reason, sizeof reason, "the key is not a valid qualified name: %s", why);
            key_violation(violations, section, key, reason);
        }
        if (!json_is_string(v)) {
            snprintf(reason, sizeof reason, "the value must be a string, not %s", sk_json_type_name(v));
            key_violation(violations, section, key, reason);
            continue;
        }
        total += strlen(key) + json_string_length(v);
        if (is_label && (why = sk_meta_label_value_problem(json_string_value(v)))) {
            snprintf(reason, sizeof reason, "value \"%s\" is not a valid label value: %s",
                     shown(json_string_value(v), val, sizeof val), why);
            key_violation(violations, section, key, reason);
        }
    }
    return total;
}

void sk_meta_check(const json_t *obj, json_t *violations)
{
    static const char *const SECTIONS[] = {"labels", "annotations"};
    for (size_t s = 0; s < 2; s++) {
        int is_label = s == 0;
        const json_t *map = sk_json_get(obj, "metadata", SECTIONS[s], NULL);
        if (!map || json_is_null(map))
            continue;
        if (!json_is_object(map)) {
            char field[32];
            snprintf(field, sizeof field, "metadata.%s", SECTIONS[s]);
            sk_violation_add(violations, field, "%s must be a map of strings, not %s", field,
                             sk_json_type_name(map));
            continue;
        }
        size_t total = check_section(map, SECTIONS[s], is_label, violations);
        if (!is_label && total > SK_META_ANNOTATIONS_MAX)
            sk_violation_add(violations, "metadata.annotations",
                             "metadata.annotations: keys and values total %zu bytes, above the %d "
                             "(256 KiB) Kubernetes allows",
                             total, SK_META_ANNOTATIONS_MAX);
    }
}
