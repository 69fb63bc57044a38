#include "spacekeeper/compliance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/json.h"
#include "spacekeeper/map.h"
#include "spacekeeper/policy.h"

/* One namespace's workspaces. */
typedef struct ns_acc {
    json_t *failing;     /* workspace name -> array of its fail results (no timestamps yet) */
    size_t pass, fails;  /* compliant workspaces; fail results */
} ns_acc;

/* Workspaces of one namespace checked against one template. */
typedef struct pair_count {
    size_t total, noncompliant;
} pair_count;

struct sk_compliance {
    sk_map *namespaces; /* ns -> ns_acc */
    sk_map *pairs;      /* "ns\ttemplate" -> pair_count */
    size_t workspaces, noncompliant;
};

static void *must(void *p)
{
    if (!p)
        abort();
    return p;
}

sk_compliance *sk_compliance_new(void)
{
    sk_compliance *c = must(calloc(1, sizeof *c));
    c->namespaces = sk_map_new();
    c->pairs = sk_map_new();
    return c;
}

void sk_compliance_free(sk_compliance *c)
{
    if (!c)
        return;
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(c->namespaces, &i, &k, &v);) {
        json_decref(((ns_acc *)v)->failing);
        free(v);
    }
    for (size_t i = 0; sk_map_next(c->pairs, &i, &k, &v);)
        free(v);
    sk_map_free(c->namespaces);
    sk_map_free(c->pairs);
    free(c);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static json_t *fail_result(const sk_compliance_entry *e, const json_t *violation)
{
    json_t *ref = json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", SK_API_VERSION, "kind", SK_KIND_WORKSPACE,
                            "namespace", e->ns, "name", e->name);
    if (e->uid && *e->uid)
        json_object_set_new(ref, "uid", json_string(e->uid));
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:[o]}", "source", SK_POLICY_REPORT_SOURCE,
                          "policy", SK_POLICY_REPORT_POLICY, "rule",
                          or_empty(sk_json_str(violation, "field", NULL)), "category", SK_POLICY_REPORT_CATEGORY,
                          "result", "fail", "scored", 1, "message",
                          or_empty(sk_json_str(violation, "message", NULL)), "resources", ref);
    if (e->template)
        json_object_set_new(r, "properties", json_pack("{s:s}", "template", e->template));
    return must(r);
}

static ns_acc *namespace_of(sk_compliance *c, const char *ns)
{
    ns_acc *a = sk_map_get(c->namespaces, ns);
    if (!a) {
        a = must(calloc(1, sizeof *a));
        a->failing = json_object();
        sk_map_put(c->namespaces, ns, a);
    }
    return a;
}

static pair_count *pair_of(sk_compliance *c, const char *ns, const char *tmpl)
{
    size_t n = strlen(ns) + strlen(tmpl) + 2;
    char *key = must(malloc(n));
    strcpy(key, ns);
    strcat(key, "\t");
    strcat(key, tmpl);
    pair_count *p = sk_map_get(c->pairs, key);
    if (!p) {
        p = must(calloc(1, sizeof *p));
        sk_map_put(c->pairs, key, p);
    }
    free(key);
    return p;
}

void sk_compliance_add(sk_compliance *c, const sk_compliance_entry *e)
{
    if (!e->ns || !e->name)
        return;
    ns_acc *a = namespace_of(c, e->ns);
    pair_count *p = pair_of(c, e->ns, or_empty(e->template));
    size_t n = json_array_size(e->violations);
    c->workspaces++;
    p->total++;
    if (!n) {
        a->pass++;
        return;
    }
    c->noncompliant++;
    p->noncompliant++;
    json_t *results = json_object_get(a->failing, e->name);
    if (!results) {
        results = json_array();
        json_object_set_new(a->failing, e->name, results);
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(results, fail_result(e, json_array_get(e->violations, i)));
    a->fails += n;
}

const char *sk_compliance_next_namespace(const sk_compliance *c, size_t *pos)
{
    const char *k;
    void *v;
    return sk_map_next(c->namespaces, pos, &k, &v) ? k : NULL;
}

size_t sk_compliance_workspaces(const sk_compliance *c)
{
    return c->workspaces;
}

size_t sk_compliance_noncompliant(const sk_compliance *c)
{
    return c->noncompliant;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A finding is a workspace failing a rule: its timestamp says since when,
 * even if the message changed on the way (a template's allowed images
 * named in it, say). */
static char *result_key(const json_t *r)
{
    const char *name = sk_json_str(json_array_get(json_object_get(r, "resources"), 0), "name", NULL);
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, "%s\x1f%s", or_empty(name), or_empty(sk_json_str(r, "rule", NULL)));
    return sk_buf_steal(&b);
}

/* Result key -> its timestamp (borrowed from `existing`). */
static sk_map *timestamps_of(const json_t *existing)
{
    sk_map *m = sk_map_new();
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(existing, "results"), i, r) {
        json_t *ts = json_object_get(r, "timestamp");
        if (!json_is_object(ts))
            continue;
        char *key = result_key(r);
        sk_map_put(m, key, ts);
        free(key);
    }
    return m;
}

static void stamp(json_t *result, const sk_map *kept, double now)
{
    char *key = result_key(result);
    json_t *ts = sk_map_get(kept, key);
    free(key);
    json_object_set_new(result, "timestamp",
                        ts ? json_deep_copy(ts)
                           : json_pack("{s:I, s:i}", "seconds", (json_int_t)floor(now), "nanos", 0));
}

json_t *sk_compliance_report(const sk_compliance *c, const char *ns, const json_t *existing, double now)
{
    const ns_acc *a = sk_map_get(c->namespaces, ns);
    if (!a || !a->fails)
        return NULL;
    size_t n = json_object_size(a->failing), k = 0;
    const char **names = must(calloc(n, sizeof *names));
    const char *name;
    json_t *v;
    json_object_foreach(a->failing, name, v)
        names[k++] = name;
    qsort(names, n, sizeof *names, cmp_str);
    sk_map *kept = timestamps_of(existing);
    json_t *results = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t j;
        json_t *r;
        json_array_foreach(json_object_get(a->failing, names[i]), j, r) {
            if (json_array_size(results) == SK_POLICY_REPORT_MAX_RESULTS)
                break;
            json_t *copy = json_deep_copy(r);
            stamp(copy, kept, now);
            json_array_append_new(results, copy);
        }
    }
    sk_map_free(kept);
    free(names);
    return must(json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:I, s:I, s:i, s:i, s:i}, s:o}", "apiVersion",
                          SK_POLICY_REPORT_API_VERSION, "kind", SK_POLICY_REPORT_KIND, "metadata", "name",
                          SK_POLICY_REPORT_NAME, "namespace", ns, "labels", SK_LABEL_MANAGED_BY,
                          SK_POLICY_REPORT_MANAGED_BY, "summary", "pass", (json_int_t)a->pass, "fail",
                          (json_int_t)a->fails, "warn", 0, "error", 0, "skip", 0, "results", results));
}

/* Equal but for their timestamps. */
static int same_result(const json_t *a, const json_t *b)
{
    if (!json_is_object(a) || !json_is_object(b))
        return 0;
    size_t na = json_object_size(a) - (json_object_get(a, "timestamp") != NULL);
    size_t nb = json_object_size(b) - (json_object_get(b, "timestamp") != NULL);
    if (na != nb)
        return 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)a, key, v)
        if (strcmp(key, "timestamp") != 0 && !json_equal(v, json_object_get(b, key)))
            return 0;
    return 1;
}

int sk_policy_report_same(const json_t *desired, const json_t *existing)
{
    if (!desired || !existing || !json_equal(json_object_get(desired, "summary"), json_object_get(existing, "summary")))
        return 0;
    const json_t *want = json_object_get(desired, "results"), *have = json_object_get(existing, "results");
    if (json_array_size(want) != json_array_size(have))
        return 0;
    for (size_t i = 0; i < json_array_size(want); i++)
        if (!same_result(json_array_get(want, i), json_array_get(have, i)))
            return 0;
    return 1;
}

void sk_compliance_metrics(const sk_compliance *c, sk_buf *out)
{
    size_t n = sk_map_count(c->pairs), k = 0;
    const char **keys = must(calloc(n ? n : 1, sizeof *keys));
    const char *key;
    void *v;
    for (size_t i = 0; sk_map_next(c->pairs, &i, &key, &v);)
        keys[k++] = key;
    qsort(keys, n, sizeof *keys, cmp_str);
    for (size_t i = 0; i < n; i++) {
        const pair_count *p = sk_map_get(c->pairs, keys[i]);
        const char *tab = strchr(keys[i], '\t');
        sk_buf_printf(out, "spacekeeper_workspaces_noncompliant{namespace=\"%.*s\",template=\"%s\"} %zu\n",
                      (int)(tab - keys[i]), keys[i], tab + 1, p->noncompliant);
    }
    free(keys);
}
