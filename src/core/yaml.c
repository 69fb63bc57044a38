#include "spacekeeper/yaml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"

/* Bounds against hostile input: nesting and alias expansion ("billion
 * laughs") are capped; real manifests come nowhere near either. */
#define MAX_DEPTH 100
#define MAX_NODES 1000000

#define TAG_PREFIX "tag:yaml.org,2002:"

struct frame {
    json_t *value;   /* object or array being filled */
    char *key;       /* pending mapping key, owned */
    char *anchor;    /* anchor of this collection, owned */
    int merge_next;  /* the pending key is "<<" */
    json_t *merged;  /* keys that came from "<<" (explicit keys may override them) */
};

struct loader {
    yaml_parser_t parser;
    const char *name;
    sk_err *err;
    struct frame stack[MAX_DEPTH + 1];
    int depth;
    json_t *anchors; /* name -> value */
    size_t nodes;
};

static int fail_at(struct loader *l, size_t line, size_t col, const char *reason)
{
    return sk_err_set(l->err, "%s:%zu:%zu: %s", l->name, line + 1, col + 1, reason);
}

static int fail_event(struct loader *l, const yaml_event_t *ev, const char *reason)
{
    return fail_at(l, ev->start_mark.line, ev->start_mark.column, reason);
}

static int is_one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static const char *const TRUE_WORDS[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                         "on", "On", "ON", NULL};
static const char *const FALSE_WORDS[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                          "off", "Off", "OFF", NULL};
static const char *const NULL_WORDS[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const SPECIAL_FLOATS[] = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
                                             "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
                                             "-.INF", NULL};

/* Integer forms of go-yaml v2: decimal, 0x hex, 0o / leading-0 octal, 0b. */
static int parse_int(const char *s, long long *out)
{
    char clean[128];
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '_')
            continue;
        if (n + 1 >= sizeof clean)
            return -1;
        clean[n++] = *p;
    }
    clean[n] = '\0';
    const char *p = clean;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!*p)
        return -1;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        base = 8, p += 2;
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        base = 2, p += 2;
    else if (p[0] == '0' && p[1])
        base = 8, p += 1;
    if (!*p)
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, base);
    if (*end || errno || (*p == '-' || *p == '+'))
        return -1;
    if (v > (unsigned long long)9223372036854775807LL + (unsigned long long)neg)
        return -1;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

static int parse_float(const char *s, double *out)
{
    /* Needs a digit and a '.' or exponent; hex floats and words are strings. */
    int digit = 0, marker = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = 1;
        else if (*p == '.' || *p == 'e' || *p == 'E')
            marker = 1;
        else if (*p != '+' && *p != '-' && *p != '_')
            return -1;
    }
    if (!digit || !marker)
        return -1;
    char clean[128];
    size_t n = 0;
    for (const char *p = s; *p && n + 1 < sizeof clean; p++)
        if (*p != '_')
            clean[n++] = *p;
    clean[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(clean, &end);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

/* Resolves a scalar as kubectl would; NULL with err set on an unrepresentable
 * value. */
static json_t *resolve_scalar(struct loader *l, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

    if (tag && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
        const char *t = tag + strlen(TAG_PREFIX);
        if (strcmp(t, "str") == 0 || strcmp(t, "binary") == 0)
            return json_stringn(s, len);
        plain = 1; /* !!int, !!bool, ... resolve by content */
    } else if (tag && strcmp(tag, "!") == 0) {
        return json_stringn(s, len);
    }
    if (!plain)
        return json_stringn(s, len);
    if (strlen(s) != len) /* an embedded NUL can only be a string */
        return json_stringn(s, len);
    if (is_one_of(s, NULL_WORDS))
        return json_null();
    if (is_one_of(s, TRUE_WORDS))
        return json_true();
    if (is_one_of(s, FALSE_WORDS))
        return json_false();
    long long i;
    if (parse_int(s, &i) == 0)
        return json_integer(i);
    double d;
    if (is_one_of(s, SPECIAL_FLOATS)) {
        fail_event(l, ev, "infinity and NaN cannot be represented in JSON");
        return NULL;
    }
    if (parse_float(s, &d) == 0)
        return json_real(d);
    return json_stringn(s, len);
}

/* Nodes under v, stopping once past `limit` (the count is then only "too many"). */
static size_t count_nodes(const json_t *v, size_t limit)
{
    size_t n = 1;
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c) {
            n += count_nodes(c, limit);
            if (n > limit)
                return n;
        }
    } else if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, c) {
            n += count_nodes(c, limit);
            if (n > limit)
                return n;
        }
    }
    return n;
}

/* Copies an aliased value, charging every node to the expansion budget;
 * NULL once the budget is spent. */
static json_t *expand(struct loader *l, json_t *v)
{
    size_t budget = MAX_NODES - (l->nodes < MAX_NODES ? l->nodes : MAX_NODES);
    size_t n = count_nodes(v, budget);
    if (n > budget)
        return NULL;
    l->nodes += n - 1; /* attach() charges the root */
    return json_deep_copy(v);
}

/* Merges the mapping(s) of a "<<" value into the frame's object; keys
 * already set win, wherever they stand. */
static int merge_into(struct loader *l, const yaml_event_t *ev, struct frame *f, json_t *src)
{
    if (json_is_object(src)) {
        const char *k;
        json_t *v;
        if (!f->merged)
            f->merged = json_object();
        json_object_foreach(src, k, v) {
            if (!json_object_get(f->value, k)) {
                json_object_set(f->value, k, v);
                json_object_set(f->merged, k, json_true());
            }
        }
        return 0;
    }
    if (json_is_array(src)) {
        size_t i;
        json_t *v;
        json_array_foreach(src, i, v) {
            if (!json_is_object(v))
                return fail_event(l, ev, "a \"<<\" merge list may hold only mappings");
            merge_into(l, ev, f, v);
        }
        return 0;
    }
    return fail_event(l, ev, "a \"<<\" merge value must be a mapping or a list of mappings");
}

/* Places a finished value into the enclosing collection, or as the document. */
static int attach(struct loader *l, const yaml_event_t *ev, json_t *v, json_t **doc)
{
    if (++l->nodes > MAX_NODES) {
        json_decref(v);
        return fail_event(l, ev, "document is too large (over 1000000 nodes after aliases)");
    }
    if (l->depth == 0) {
        *doc = v;
        return 0;
    }
    struct frame *f = &l->stack[l->depth - 1];
    if (json_is_array(f->value)) {
        json_array_append_new(f->value, v);
        return 0;
    }
    if (!f->key) {
        /* v is a key */
        if (json_is_string(v)) {
            f->key = strdup(json_string_value(v));
            f->merge_next = strcmp(f->key, "<<") == 0 && ev->type == YAML_SCALAR_EVENT &&
                            ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        } else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v) ||
                   json_is_null(v)) {
            /* Non-string keys become the text of their value, as
             * sigs.k8s.io/yaml writes them: `on:` is "true", `0x1F:` is "31". */
            char text[64];
            if (json_is_boolean(v))
                snprintf(text, sizeof text, "%s", json_is_true(v) ? "true" : "false");
            else if (json_is_integer(v))
                snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
            else if (json_is_null(v))
                snprintf(text, sizeof text, "null");
            else
                snprintf(text, sizeof text, "%.60s", (const char *)ev->data.scalar.value);
            f->key = strdup(text);
            f->merge_next = 0;
        } else {
            json_decref(v);
            return fail_event(l, ev, "mapping keys must be scalars");
        }
        json_decref(v);
        return 0;
    }
    int rc = 0;
    if (f->merge_next) {
        rc = merge_into(l, ev, f, v);
        json_decref(v);
    } else if (json_object_get(f->value, f->key) && !json_object_get(f->merged, f->key)) {
        char msg[256];
        snprintf(msg, sizeof msg, "mapping key \"%.200s\" already defined", f->key);
        json_decref(v);
        rc = fail_event(l, ev, msg);
    } else {
        json_object_set_new(f->value, f->key, v);
        json_object_del(f->merged, f->key);
    }
    free(f->key);
    f->key = NULL;
    f->merge_next = 0;
    return rc;
}

static void remember_anchor(struct loader *l, const yaml_char_t *anchor, json_t *v)
{
    if (anchor)
        json_object_set(l->anchors, (const char *)anchor, v);
}

static int push(struct loader *l, const yaml_event_t *ev, json_t *collection,
                const yaml_char_t *anchor)
{
    if (l->depth >= MAX_DEPTH) {
        json_decref(collection);
        return fail_event(l, ev, "nesting is deeper than 100 levels");
    }
    struct frame *f = &l->stack[l->depth++];
    f->value = collection;
    f->key = NULL;
    f->merge_next = 0;
    f->merged = NULL;
    f->anchor = anchor ? strdup((const char *)anchor) : NULL;
    return 0;
}

static int pop(struct loader *l, const yaml_event_t *ev, json_t **doc)
{
    struct frame *f = &l->stack[--l->depth];
    json_t *v = f->value;
    if (f->anchor)
        json_object_set(l->anchors, f->anchor, v);
    free(f->anchor);
    free(f->key);
    json_decref(f->merged);
    f->anchor = f->key = NULL;
    f->merged = NULL;
    return attach(l, ev, v, doc);
}

static void unwind(struct loader *l)
{
    while (l->depth > 0) {
        struct frame *f = &l->stack[--l->depth];
        json_decref(f->value);
        json_decref(f->merged);
        free(f->key);
        free(f->anchor);
    }
}

json_t *sk_yaml_load(const char *buf, size_t len, const char *name, sk_err *err)
{
    struct loader l;
    memset(&l, 0, sizeof l);
    l.name = name ? name : "<input>";
    l.err = err;
    if (!yaml_parser_initialize(&l.parser)) {
        sk_err_set(err, "%s: cannot initialise the YAML parser", l.name);
        return NULL;
    }
    yaml_parser_set_input_string(&l.parser, (const unsigned char *)buf, len);

    json_t *docs = json_array();
    json_t *doc = NULL;
    int rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&l.parser, &ev)) {
            const yaml_mark_t *m = &l.parser.problem_mark;
            rc = fail_at(&l, m->line, m->column,
                         l.parser.problem ? l.parser.problem : "malformed YAML");
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            doc = NULL;
            json_object_clear(l.anchors ? l.anchors : (l.anchors = json_object()));
            break;
        case YAML_DOCUMENT_END_EVENT:
            /* An empty document ("---" alone, or only comments) is skipped,
             * as kubectl skips it. */
            if (doc && !json_is_null(doc))
                json_array_append(docs, doc);
            json_decref(doc);
            doc = NULL;
            break;
        case YAML_SCALAR_EVENT: {
            json_t *v = resolve_scalar(&l, &ev);
            if (!v) {
                rc = -1;
                break;
            }
            remember_anchor(&l, ev.data.scalar.anchor, v);
            rc = attach(&l, &ev, v, &doc);
            break;
        }
        case YAML_ALIAS_EVENT: {
            json_t *target = json_object_get(l.anchors, (const char *)ev.data.alias.anchor);
            if (!target) {
                char msg[256];
                snprintf(msg, sizeof msg, "unknown anchor \"%.200s\"",
                         (const char *)ev.data.alias.anchor);
                rc = fail_event(&l, &ev, msg);
                break;
            }
            json_t *v = expand(&l, target);
            if (!v) {
                rc = fail_event(&l, &ev, "document is too large (over 1000000 nodes after aliases)");
                break;
            }
            rc = attach(&l, &ev, v, &doc);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
            rc = push(&l, &ev, json_array(), ev.data.sequence_start.anchor);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = push(&l, &ev, json_object(), ev.data.mapping_start.anchor);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rc = pop(&l, &ev, &doc);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    unwind(&l);
    json_decref(doc);
    json_decref(l.anchors);
    yaml_parser_delete(&l.parser);
    if (rc != 0) {
        json_decref(docs);
        return NULL;
    }
    return docs;
}

/* ---- emitting ---- */

/* A string needs quotes when plain style would read back as something else. */
static int needs_quotes(const char *s)
{
    if (is_one_of(s, NULL_WORDS) || is_one_of(s, TRUE_WORDS) || is_one_of(s, FALSE_WORDS) ||
        is_one_of(s, SPECIAL_FLOATS))
        return 1;
    long long i;
    double d;
    return parse_int(s, &i) == 0 || parse_float(s, &d) == 0;
}

static int emit(yaml_emitter_t *em, const json_t *v)
{
    yaml_event_t ev;
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return -1;
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            json_t *key = json_string(k);
            int rc = emit(em, key);
            json_decref(key);
            if (rc < 0 || emit(em, c) < 0)
                return -1;
        }
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev) ? 0 : -1;
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return -1;
        size_t i;
        json_t *c;
        json_array_foreach((json_t *)v, i, c) {
            if (emit(em, c) < 0)
                return -1;
        }
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev) ? 0 : -1;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        yaml_scalar_style_t style =
            needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
                                     (int)json_string_length(v), 1, 1, style);
        return yaml_emitter_emit(em, &ev) ? 0 : -1;
    }
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        if (!strpbrk(num, ".eEn"))
            strcat(num, ".0");
        break;
    case JSON_TRUE:
        strcpy(num, "true");
        break;
    case JSON_FALSE:
        strcpy(num, "false");
        break;
    case JSON_NULL:
        strcpy(num, "null");
        break;
    }
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)num, (int)strlen(num), 1, 1,
                                 YAML_PLAIN_SCALAR_STYLE);
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    sk_buf_append(data, (const char *)buffer, size);
    return 1;
}

char *sk_yaml_dump(const json_t *value)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    sk_buf out = SK_BUF_INIT;
    if (!yaml_emitter_initialize(&em))
        return NULL;
    yaml_emitter_set_output(&em, write_handler, &out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    int ok = 1;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    ok = ok && emit(&em, value) == 0;
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_emitter_delete(&em);
    if (!ok) {
        sk_buf_free(&out);
        return NULL;
    }
    return sk_buf_steal(&out);
}
