#include "th.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/docs.h"
#include "spacekeeper/yaml.h"

json_t *th_yaml(const char *text)
{
    sk_err err = {{0}};
    json_t *docs = sk_yaml_load(text, strlen(text), "test", &err);
    ck_assert_msg(docs != NULL, "fixture YAML: %s", err.msg);
    ck_assert_int_eq(json_array_size(docs), 1);
    json_t *doc = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    return doc;
}

static void put_all(sk_store *s, const json_t *const *docs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *violations = json_array();
        sk_template *t = sk_template_new(docs[i], SK_DEFAULT_SHARED_NAMESPACE, violations);
        ck_assert_msg(t && json_array_size(violations) == 0, "fixture template %zu invalid", i);
        json_decref(violations);
        sk_store_put(s, t);
    }
}

sk_store *th_store(const char *yaml)
{
    sk_err err = {{0}};
    json_t *docs = sk_yaml_load(yaml, strlen(yaml), "test", &err);
    ck_assert_msg(docs != NULL, "fixture YAML: %s", err.msg);
    sk_store *s = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    size_t n = json_array_size(docs);
    const json_t *items[64];
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(docs, i);
    put_all(s, items, n);
    json_decref(docs);
    return s;
}

sk_store *th_fixture_store(void)
{
    const char *dir = getenv("SK_FIXTURES");
    char path[512];
    snprintf(path, sizeof path, "%s/templates.yaml", dir ? dir : "test/fixtures");
    sk_doclist docs = SK_DOCLIST_INIT;
    sk_err err = {{0}};
    ck_assert_msg(sk_doclist_load(&docs, path, &err) == 0, "%s", err.msg);
    sk_store *s = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    const json_t *items[64];
    ck_assert_uint_le(docs.n, 64);
    for (size_t i = 0; i < docs.n; i++)
        items[i] = docs.items[i].value;
    put_all(s, items, docs.n);
    sk_doclist_free(&docs);
    return s;
}

void th_log_patch(const json_t *original, const json_t *patch, const json_t *expected)
{
    const char *path = getenv("SK_PATCH_LOG");
    if (!path)
        return;
    FILE *f = fopen(path, "a");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    json_t *rec = json_pack("{s:O, s:O, s:O}", "original", original, "patch", patch, "expected",
                            expected);
    json_dumpf(rec, f, JSON_COMPACT);
    fputc('\n', f);
    fclose(f);
    json_decref(rec);
}

void th_review_with(const sk_policy_config *cfg, const sk_store *store, const sk_request *req,
                    sk_decision *d)
{
    sk_policy_review(cfg, store, req, d);
    ck_assert(d->patch && d->violations && d->warnings);
    ck_assert_int_eq(d->allowed, json_array_size(d->violations) == 0);
    if (req->object && d->object)
        th_log_patch(req->object, d->patch, d->object);
}

void th_review(const sk_store *store, const sk_request *req, sk_decision *d)
{
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    th_review_with(&cfg, store, req, d);
}

int th_has_violation(const sk_decision *d, const char *field, const char *text)
{
    size_t i;
    json_t *v;
    json_array_foreach(d->violations, i, v) {
        const char *f = json_string_value(json_object_get(v, "field"));
        const char *m = json_string_value(json_object_get(v, "message"));
        if (f && strcmp(f, field) == 0 && (!text || (m && strstr(m, text))))
            return 1;
    }
    return 0;
}

int th_count_violations(const sk_decision *d, const char *field)
{
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(d->violations, i, v)
        n += strcmp(json_string_value(json_object_get(v, "field")), field) == 0;
    return n;
}

const char *th_violations(const sk_decision *d)
{
    static char buf[4096];
    char *s = json_dumps(d->violations, JSON_COMPACT);
    snprintf(buf, sizeof buf, "%s", s ? s : "?");
    free(s);
    return buf;
}
