#include "spacekeeper/service_account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/json.h"
#include "spacekeeper/map.h"
#include "spacekeeper/yaml.h"

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

/* A YAML list of strings, as a NULL-terminated owned array (empty when the
 * annotation is absent or not such a list). */
static char **parse_list(const json_t *obj, const char *annotation)
{
    const char *text = sk_json_str(obj, "metadata", "annotations", annotation, NULL);
    json_t *docs = text ? sk_yaml_load(text, strlen(text), annotation, NULL) : NULL;
    json_t *list = json_array_get(docs, 0);
    size_t n = json_is_array(list) ? json_array_size(list) : 0, k = 0;
    char **out = calloc(n + 1, sizeof *out);
    if (!out)
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(list, i));
        if (!s) { /* a list of strings or nothing, as []string unmarshalling */
            for (size_t j = 0; j < k; j++)
                free(out[j]);
            out[0] = NULL;
            k = 0;
            break;
        }
        out[k++] = dup_str(s);
    }
    json_decref(docs);
    return out;
}

static void free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

static char *join_key(const char *ns, const char *name)
{
    size_t a = strlen(ns), b = strlen(name);
    char *key = malloc(a + b + 2);
    if (!key)
        abort();
    memcpy(key, ns, a);
    key[a] = '/';
    memcpy(key + a + 1, name, b + 1);
    return key;
}

sk_service_account *sk_service_account_new(const json_t *obj)
{
    const char *name = sk_json_str(obj, "metadata", "name", NULL);
    const char *ns = sk_json_str(obj, "metadata", "namespace", NULL);
    if (!name || !*name)
        return NULL;
    if (!ns || !*ns)
        ns = "default";
    sk_service_account *sa = calloc(1, sizeof *sa);
    if (!sa)
        abort();
    sa->ns = dup_str(ns);
    sa->name = dup_str(name);
    sa->key = join_key(ns, name);
    const char *label = sk_json_str(obj, "metadata", "labels", SK_LABEL_DEFAULT_SERVICE_ACCOUNT, NULL);
    sa->is_default = label && strcmp(label, "true") == 0;
    sa->users = parse_list(obj, SK_ANNOTATION_SA_USERS);
    sa->patterns = parse_list(obj, SK_ANNOTATION_SA_USER_PATTERNS);
    sa->groups = parse_list(obj, SK_ANNOTATION_SA_GROUPS);
    return sa;
}

void sk_service_account_free(sk_service_account *sa)
{
    if (!sa)
        return;
    free_list(sa->users);
    free_list(sa->patterns);
    free_list(sa->groups);
    free(sa->ns);
    free(sa->name);
    free(sa->key);
    free(sa);
}

/* Iterative glob with one backtrack point: linear in practice, never
 * exponential, whatever the pattern. */
int sk_service_account_pattern_match(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '?' || (*p && *p != '*' && *p == *s)) {
            p++;
            s++;
        } else if (*p == '*') {
            star = p++;
            resume = s;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static int in(char *const *list, const char *s)
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

int sk_service_account_allows(const sk_service_account *sa, const char *user,
                              const char *const *groups)
{
    if (user && in(sa->users, user))
        return 1;
    for (size_t i = 0; user && sa->patterns[i]; i++)
        if (sk_service_account_pattern_match(sa->patterns[i], user))
            return 1;
    for (size_t i = 0; groups && groups[i]; i++)
        if (in(sa->groups, groups[i]))
            return 1;
    return 0;
}

/* ---- the index check reads ---- */

/* A namespace's default-labelled names, as sk_sa_defaults_add keeps them. */
struct ns_defaults {
    int n;
    char names[2][SK_SA_NAME_MAX];
};

struct sk_sa_index {
    sk_map *by_key;      /* "ns/name" -> sk_service_account*, owned */
    sk_map *defaults;    /* ns -> struct ns_defaults*, owned; built on first use */
};

sk_sa_index *sk_sa_index_new(void)
{
    sk_sa_index *idx = calloc(1, sizeof *idx);
    if (!idx)
        abort();
    idx->by_key = sk_map_new();
    return idx;
}

static void drop_defaults(sk_sa_index *idx)
{
    const char *k;
    void *v;
    for (size_t i = 0; idx->defaults && sk_map_next(idx->defaults, &i, &k, &v);)
        free(v);
    sk_map_free(idx->defaults);
    idx->defaults = NULL;
}

void sk_sa_index_free(sk_sa_index *idx)
{
    if (!idx)
        return;
    drop_defaults(idx);
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(idx->by_key, &i, &k, &v);)
        sk_service_account_free(v);
    sk_map_free(idx->by_key);
    free(idx);
}

void sk_sa_index_put(sk_sa_index *idx, sk_service_account *sa)
{
    sk_service_account_free(sk_map_put(idx->by_key, sa->key, sa));
    drop_defaults(idx);
}

size_t sk_sa_index_count(const sk_sa_index *idx)
{
    return sk_map_count(idx->by_key);
}

int sk_sa_access(const sk_service_account *sa, const char *user, const char *const *groups)
{
    if (!sa)
        return SK_SA_MISSING;
    return sk_service_account_allows(sa, user, groups) ? SK_SA_ALLOWED : SK_SA_NOT_NAMED;
}

/* Keeps the first two names by name, whatever the order they come in, so
 * that messages are stable. */
void sk_sa_defaults_add(char names[2][SK_SA_NAME_MAX], int *n, const char *name)
{
    int slot = *n < 2 ? *n : (strcmp(name, names[1]) < 0 ? 1 : -1);
    if (slot >= 0)
        snprintf(names[slot], SK_SA_NAME_MAX, "%s", name);
    if (*n >= 1 && slot >= 0 && strcmp(names[1], names[0]) < 0) {
        char t[SK_SA_NAME_MAX];
        memcpy(t, names[0], sizeof t);
        memcpy(names[0], names[1], sizeof t);
        memcpy(names[1], t, sizeof t);
    }
    (*n)++;
}

static int index_access(const void *ctx, const char *ns, const char *name, const char *user,
                        const char *const *groups)
{
    const sk_sa_index *idx = ctx;
    char *key = join_key(ns, name);
    int answer = sk_sa_access(sk_map_get(idx->by_key, key), user, groups);
    free(key);
    return answer;
}

/* Each namespace's defaults, found in one pass the first time they are
 * asked for, so that a review does not scan every ServiceAccount. */
static void build_defaults(sk_sa_index *idx)
{
    idx->defaults = sk_map_new();
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(idx->by_key, &i, &k, &v);) {
        const sk_service_account *sa = v;
        if (!sa->is_default)
            continue;
        struct ns_defaults *d = sk_map_get(idx->defaults, sa->ns);
        if (!d) {
            if (!(d = calloc(1, sizeof *d)))
                abort();
            sk_map_put(idx->defaults, sa->ns, d);
        }
        sk_sa_defaults_add(d->names, &d->n, sa->name);
    }
}

static int index_defaults(const void *ctx, const char *ns, char names[2][SK_SA_NAME_MAX])
{
    sk_sa_index *idx = (sk_sa_index *)ctx; /* the lazily built part; check is single-threaded */
    if (!idx->defaults)
        build_defaults(idx);
    const struct ns_defaults *d = sk_map_get(idx->defaults, ns);
    if (!d)
        return 0;
    memcpy(names, d->names, sizeof d->names);
    return d->n;
}

sk_sa_source sk_sa_index_source(const sk_sa_index *idx)
{
    return (sk_sa_source){.access = index_access, .defaults = index_defaults, .ctx = idx};
}
