#include "spacekeeper/template.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/json.h"
#include "spacekeeper/spelling.h"
#include "spacekeeper/violation.h"

static char *join_key(const char *ns, const char *name)
{
    size_t n = strlen(ns) + strlen(name) + 2;
    char *k = malloc(n);
    if (!k)
        abort();
    snprintf(k, n, "%s/%s", ns, name);
    return k;
}

static int label_is_true(const json_t *obj, const char *label)
{
    const char *v = sk_json_str(obj, "metadata", "labels", label, NULL);
    return v && strcmp(v, "true") == 0;
}

/* Parses one quantity bound field; reports and skips what does not parse. */
static int compile_quantity(const json_t *v, const char *field, sk_quantity *out,
                            const char **text, json_t *violations)
{
    if (!v)
        return 0;
    sk_err err;
    if (sk_quantity_from_json(v, out, &err) < 0) {
        sk_violation_add(violations, field, "%s: %s", field, err.msg);
        return 0;
    }
    if (text)
        *text = json_string_value(v);
    return 1;
}

static void check_order(const sk_bound *b, const char *field, json_t *violations)
{
    if (b->has_min && b->has_max && sk_quantity_cmp(b->min, b->max) > 0) {
        char lo[48], hi[48];
        sk_violation_add(violations, field, "%s: min %s is greater than max %s", field,
                         sk_quantity_format(b->min, lo, sizeof lo),
                         sk_quantity_format(b->max, hi, sizeof hi));
    }
}

static void compile_bound(const json_t *obj, const char *min_key, const char *max_key,
                          const char *field, sk_bound *b, json_t *violations)
{
    char f[256];
    snprintf(f, sizeof f, "%s.%s", field, min_key);
    b->has_min = compile_quantity(json_object_get(obj, min_key), f, &b->min, &b->min_text,
                                  violations);
    snprintf(f, sizeof f, "%s.%s", field, max_key);
    b->has_max = compile_quantity(json_object_get(obj, max_key), f, &b->max, &b->max_text,
                                  violations);
    check_order(b, field, violations);
}

static void compile_images(sk_template *t, json_t *violations)
{
    json_t *def = json_object_get(t->spec, "defaultImage");
    if (def && !json_is_string(def))
        sk_violation_add(violations, "spec.defaultImage", "spec.defaultImage must be a string, not %s",
                         sk_json_type_name(def));
    t->default_image = json_string_value(def);

    json_t *list = json_object_get(t->spec, "allowedImages");
    if (list && !json_is_array(list)) {
        sk_violation_add(violations, "spec.allowedImages",
                         "spec.allowedImages must be a list of strings, not %s",
                         sk_json_type_name(list));
        list = NULL;
    }
    size_t i;
    json_t *img;
    json_array_foreach(list, i, img) {
        if (!json_is_string(img)) {
            sk_violation_add(violations, "spec.allowedImages",
                             "spec.allowedImages[%zu] must be a string, not %s", i,
                             sk_json_type_name(img));
            continue;
        }
        if (!t->allowed_images)
            t->allowed_images = sk_map_new();
        if (!sk_map_put(t->allowed_images, json_string_value(img), (void *)img))
            t->n_allowed++;
    }
    json_t *custom = json_object_get(t->spec, "allowCustomImages");
    if (custom && !json_is_boolean(custom))
        sk_violation_add(violations, "spec.allowCustomImages",
                         "spec.allowCustomImages must be true or false, not %s",
                         sk_json_type_name(custom));
    t->allow_custom_images = json_is_true(custom);
    json_t *secondary = json_object_get(t->spec, "allowSecondaryStorages");
    if (secondary && !json_is_boolean(secondary))
        sk_violation_add(violations, "spec.allowSecondaryStorages",
                         "spec.allowSecondaryStorages must be true or false, not %s",
                         sk_json_type_name(secondary));
    t->allow_secondary_storages = !json_is_false(secondary); /* default true */
}

static void compile_resources(sk_template *t, json_t *violations)
{
    json_t *res = sk_json_get(t->spec, "resourceBounds", "resources", NULL);
    if (!res)
        return;
    if (!json_is_object(res)) {
        sk_violation_add(violations, "spec.resourceBounds.resources",
                         "spec.resourceBounds.resources must be a map of resource name to "
                         "{min, max}, not %s",
                         sk_json_type_name(res));
        return;
    }
    t->resource_bounds = sk_map_new();
    const char *name;
    json_t *b;
    json_object_foreach(res, name, b) {
        char field[256];
        snprintf(field, sizeof field, "spec.resourceBounds.resources.%s", name);
        if (!json_is_object(b)) {
            sk_violation_add(violations, field, "%s must be an object with min and max", field);
            continue;
        }
        sk_bound *bound = calloc(1, sizeof *bound);
        if (!bound)
            abort();
        compile_bound(b, "min", "max", field, bound, violations);
        sk_map_put(t->resource_bounds, name, bound);
    }
}

static int compile_minutes(const json_t *v, const char *field, long long *out, json_t *violations)
{
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        sk_violation_add(violations, field, "%s must be a whole number of minutes, at least 1",
                         field);
        return 0;
    }
    *out = json_integer_value(v);
    return 1;
}

static void compile_idle(sk_template *t, json_t *violations)
{
    t->idle_default = json_object_get(t->spec, "defaultIdleShutdown");
    t->idle_allow = 1;
    json_t *ov = json_object_get(t->spec, "idleShutdownOverrides");
    if (!ov)
        return;
    if (!json_is_object(ov)) {
        sk_violation_add(violations, "spec.idleShutdownOverrides",
                         "spec.idleShutdownOverrides must be an object, not %s",
                         sk_json_type_name(ov));
        return;
    }
    json_t *allow = json_object_get(ov, "allow");
    if (allow && !json_is_boolean(allow))
        sk_violation_add(violations, "spec.idleShutdownOverrides.allow",
                         "spec.idleShutdownOverrides.allow must be true or false, not %s",
                         sk_json_type_name(allow));
    t->idle_allow = !json_is_false(allow);
    const sk_spelling *const spell[2] = {&SK_SPELL_IDLE_MIN, &SK_SPELL_IDLE_MAX};
    int *has[2] = {&t->has_idle_min, &t->has_idle_max};
    long long *val[2] = {&t->idle_min, &t->idle_max};
    const char *used[2];
    for (int i = 0; i < 2; i++) {
        const json_t *v;
        char f[128];
        if (sk_spelling_get(ov, spell[i], &v, &used[i]) < 0) {
            snprintf(f, sizeof f, "spec.idleShutdownOverrides.%s", spell[i]->page);
            sk_violation_add(violations, f,
                             "spec.idleShutdownOverrides.%s and .%s mean the same and disagree: "
                             "write one of them",
                             spell[i]->page, spell[i]->operator);
            continue;
        }
        snprintf(f, sizeof f, "spec.idleShutdownOverrides.%s", used[i]);
        *has[i] = compile_minutes(v, f, val[i], violations);
    }
    if (t->has_idle_min && t->has_idle_max && t->idle_min > t->idle_max)
        sk_violation_add(violations, "spec.idleShutdownOverrides",
                         "spec.idleShutdownOverrides: %s %lld is greater than %s %lld", used[0],
                         t->idle_min, used[1], t->idle_max);
    if (!t->idle_allow && !t->idle_default)
        sk_violation_add(violations, "spec.idleShutdownOverrides.allow",
                         "spec.idleShutdownOverrides.allow is false but the template has no "
                         "defaultIdleShutdown to lock workspaces to");
}

/* envRequirements ({name, required, regex}) and labelRequirements ({key,
 * required, regex}); a pattern that does not compile is kept with its
 * error, so that reviews refuse rather than pass what it guards. */
static sk_requirement *compile_requirements(const json_t *spec, const char *field,
                                            const char *key_name, size_t *n, json_t *violations)
{
    json_t *list = json_object_get(spec, field);
    *n = 0;
    if (!list)
        return NULL;
    if (!json_is_array(list)) {
        char f[160];
        snprintf(f, sizeof f, "spec.%s", field);
        sk_violation_add(violations, f, "%s must be a list, not %s", f, sk_json_type_name(list));
        return NULL;
    }
    sk_requirement *reqs = calloc(json_array_size(list) + 1, sizeof *reqs);
    if (!reqs)
        abort();
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) {
        char f[160];
        snprintf(f, sizeof f, "spec.%s[%zu]", field, i);
        const char *key = sk_json_str(r, key_name, NULL);
        json_t *required = json_object_get(r, "required"), *regex = json_object_get(r, "regex");
        if (!key || !*key) {
            sk_violation_add(violations, f, "%s.%s is required and must be a string", f, key_name);
            continue;
        }
        if (required && !json_is_boolean(required))
            sk_violation_add(violations, f, "%s.required must be true or false, not %s", f,
                             sk_json_type_name(required));
        if (regex && !json_is_string(regex)) {
            sk_violation_add(violations, f, "%s.regex must be a string, not %s", f,
                             sk_json_type_name(regex));
            regex = NULL;
        }
        sk_requirement *q = &reqs[(*n)++];
        q->key = key;
        q->required = json_is_true(required);
        q->pattern = json_string_value(regex);
        if (q->pattern && *q->pattern) {
            sk_err err;
            if (!(q->re = sk_regex_new(q->pattern, &err))) {
                q->re_error = strdup(err.msg);
                sk_violation_add(violations, f, "%s.regex \"%s\" %s", f, q->pattern, err.msg);
            }
        }
    }
    return reqs;
}

static void free_requirements(sk_requirement *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sk_regex_free(reqs[i].re);
        free(reqs[i].re_error);
    }
    free(reqs);
}

sk_template *sk_template_new(const json_t *obj, const char *shared_ns, json_t *violations)
{
    const char *name = sk_json_str(obj, "metadata", "name", NULL);
    if (!name || !*name) {
        sk_violation_add(violations, "metadata.name", "metadata.name is required");
        return NULL;
    }
    const char *ns = sk_json_str(obj, "metadata", "namespace", NULL);
    if (!ns || !*ns)
        ns = shared_ns;

    sk_template *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    /* Keep only what decisions read: a real object also carries
     * managedFields and often a last-applied copy of itself. The kept
     * parts are shared with `obj`, not copied. */
    json_t *labels = sk_json_get(obj, "metadata", "labels", NULL);
    t->obj = json_pack("{s:O?, s:O?, s:{s:s, s:s, s:O?}, s:O?}", "apiVersion",
                       json_object_get(obj, "apiVersion"), "kind", json_object_get(obj, "kind"),
                       "metadata", "name", name, "namespace", ns, "labels", labels, "spec",
                       json_object_get(obj, "spec"));
    t->name = strdup(name);
    t->ns = strdup(ns);
    t->key = join_key(ns, name);
    t->is_default = label_is_true(obj, SK_LABEL_DEFAULT_TEMPLATE);
    t->is_system = label_is_true(obj, SK_LABEL_SYSTEM_TEMPLATE);

    json_t *spec = json_object_get(obj, "spec");
    if (spec && !json_is_object(spec)) {
        sk_violation_add(violations, "spec", "spec must be an object, not %s",
                         sk_json_type_name(spec));
        spec = NULL;
    }
    t->spec = spec ? spec : (t->empty_spec = json_object());

    compile_images(t, violations);
    json_t *storage = json_object_get(spec, "primaryStorage");
    if (storage && !json_is_object(storage))
        sk_violation_add(violations, "spec.primaryStorage",
                         "spec.primaryStorage must be an object, not %s",
                         sk_json_type_name(storage));
    else if (storage)
        compile_bound(storage, "minSize", "maxSize", "spec.primaryStorage", &t->storage,
                      violations);
    compile_resources(t, violations);
    compile_idle(t, violations);
    t->app_type = sk_json_str(spec, "appType", NULL);
    t->env_reqs = compile_requirements(spec, "envRequirements", "name", &t->n_env_reqs, violations);
    t->label_reqs =
        compile_requirements(spec, "labelRequirements", "key", &t->n_label_reqs, violations);
    json_t *custom = json_object_get(spec, "allowCustomInitContainers");
    if (custom && !json_is_boolean(custom))
        sk_violation_add(violations, "spec.allowCustomInitContainers",
                         "spec.allowCustomInitContainers must be true or false, not %s",
                         sk_json_type_name(custom));
    t->allow_custom_init_containers = json_is_true(custom); /* default false */
    return t;
}

void sk_template_free(sk_template *t)
{
    if (!t)
        return;
    if (t->resource_bounds) {
        const char *k;
        void *v;
        for (size_t i = 0; sk_map_next(t->resource_bounds, &i, &k, &v);)
            free(v);
        sk_map_free(t->resource_bounds);
    }
    sk_map_free(t->allowed_images);
    free_requirements(t->env_reqs, t->n_env_reqs);
    free_requirements(t->label_reqs, t->n_label_reqs);
    json_decref(t->obj);
    json_decref(t->empty_spec);
    free(t->name);
    free(t->ns);
    free(t->key);
    free(t);
}

int sk_template_allows_image(const sk_template *t, const char *image)
{
    if (t->allow_custom_images)
        return 1;
    if (t->allowed_images)
        return sk_map_get(t->allowed_images, image) != NULL;
    return t->default_image && strcmp(t->default_image, image) == 0;
}

void sk_template_describe_images(const sk_template *t, size_t max, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    if (!t->allowed_images) {
        snprintf(buf, cap, "%s", t->default_image ? t->default_image : "none");
        return;
    }
    /* The list order of the template, not the hash order. */
    json_t *list = json_object_get(t->spec, "allowedImages");
    size_t i, shown = 0;
    json_t *img;
    json_array_foreach(list, i, img) {
        if (!json_is_string(img))
            continue;
        if (shown == max) {
            snprintf(buf + len, cap - len, " and %zu more", t->n_allowed - shown);
            return;
        }
        int n = snprintf(buf + len, cap - len, "%s%s", shown ? ", " : "", json_string_value(img));
        if (n < 0 || (size_t)n >= cap - len)
            return;
        len += (size_t)n;
        shown++;
    }
}

/* ---- constraint changes: by meaning, not by text ---- */

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int same_json(const json_t *a, const json_t *b)
{
    return a == b || json_equal((json_t *)a, (json_t *)b);
}

/* Equal JSON, or two spellings of one quantity ("1Gi" and 1073741824). */
static int same_quantity(const json_t *a, const json_t *b)
{
    sk_quantity qa, qb;
    if (a && b && sk_quantity_from_json(a, &qa, NULL) == 0 && sk_quantity_from_json(b, &qb, NULL) == 0)
        return sk_quantity_cmp(qa, qb) == 0;
    return same_json(a, b);
}

static int same_bound(const sk_bound *a, const sk_bound *b)
{
    return a->has_min == b->has_min && a->has_max == b->has_max &&
           (!a->has_min || sk_quantity_cmp(a->min, b->min) == 0) &&
           (!a->has_max || sk_quantity_cmp(a->max, b->max) == 0);
}

/* allowedImages is a set: order and repeats mean nothing. */
static int same_allowed_images(const sk_template *a, const sk_template *b)
{
    if (a->n_allowed != b->n_allowed)
        return 0;
    const char *k;
    void *v;
    for (size_t i = 0; a->allowed_images && sk_map_next(a->allowed_images, &i, &k, &v);)
        if (!sk_map_get(b->allowed_images, k))
            return 0;
    return 1;
}

static int same_custom_images(const sk_template *a, const sk_template *b)
{
    return a->allow_custom_images == b->allow_custom_images;
}

static int same_default_image(const sk_template *a, const sk_template *b)
{
    return same_str(a->default_image, b->default_image);
}

static int same_resource_bounds(const sk_template *a, const sk_template *b)
{
    size_t na = a->resource_bounds ? sk_map_count(a->resource_bounds) : 0;
    size_t nb = b->resource_bounds ? sk_map_count(b->resource_bounds) : 0;
    if (na != nb)
        return 0;
    const char *k;
    void *v;
    for (size_t i = 0; na && sk_map_next(a->resource_bounds, &i, &k, &v);) {
        const sk_bound *other = sk_map_get(b->resource_bounds, k);
        if (!other || !same_bound(v, other))
            return 0;
    }
    return 1;
}

/* The bounds, and the defaults beside them: sizes by value, the rest as written. */
static int same_primary_storage(const sk_template *a, const sk_template *b)
{
    static const char *const quantities[] = {"minSize", "maxSize", "defaultSize"};
    json_t *pa = json_object_get(a->spec, "primaryStorage");
    json_t *pb = json_object_get(b->spec, "primaryStorage");
    if (!json_is_object(pa) || !json_is_object(pb))
        return same_json(pa, pb);
    for (int side = 0; side < 2; side++) {
        const char *key;
        json_t *v;
        json_object_foreach(side ? pb : pa, key, v) {
            const json_t *other = json_object_get(side ? pa : pb, key);
            int quantity = 0;
            for (size_t i = 0; i < sizeof quantities / sizeof *quantities; i++)
                quantity |= strcmp(key, quantities[i]) == 0;
            if (!(quantity ? same_quantity(v, other) : same_json(v, other)))
                return 0;
        }
    }
    return 1;
}

static int same_idle_overrides(const sk_template *a, const sk_template *b)
{
    return a->idle_allow == b->idle_allow && a->has_idle_min == b->has_idle_min &&
           a->has_idle_max == b->has_idle_max && (!a->has_idle_min || a->idle_min == b->idle_min) &&
           (!a->has_idle_max || a->idle_max == b->idle_max);
}

/* Workspaces that inherited the old default hold an override of the new one. */
static int same_idle_default(const sk_template *a, const sk_template *b)
{
    return sk_spelling_same_idle(a->idle_default, b->idle_default);
}

static int same_secondary_storages(const sk_template *a, const sk_template *b)
{
    return a->allow_secondary_storages == b->allow_secondary_storages;
}

static int same_app_type(const sk_template *a, const sk_template *b)
{
    return same_str(a->app_type, b->app_type);
}

/* Requirements are a set by key: order means nothing. */
static int same_requirements(const sk_requirement *a, size_t na, const sk_requirement *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && strcmp(a[i].key, b[j].key) != 0)
            j++;
        if (j == nb || a[i].required != b[j].required || !same_str(a[i].pattern, b[j].pattern))
            return 0;
    }
    return 1;
}

static int same_env_requirements(const sk_template *a, const sk_template *b)
{
    return same_requirements(a->env_reqs, a->n_env_reqs, b->env_reqs, b->n_env_reqs);
}

static int same_label_requirements(const sk_template *a, const sk_template *b)
{
    return same_requirements(a->label_reqs, a->n_label_reqs, b->label_reqs, b->n_label_reqs);
}

static int same_custom_init_containers(const sk_template *a, const sk_template *b)
{
    return a->allow_custom_init_containers == b->allow_custom_init_containers;
}

/* Without custom ones allowed, a workspace's list must equal these. */
static int same_default_init_containers(const sk_template *a, const sk_template *b)
{
    return same_json(json_object_get(a->spec, "defaultInitContainers"),
                     json_object_get(b->spec, "defaultInitContainers"));
}

/* What an existing workspace is re-checked against when it next starts. */
static const struct {
    const char *field;
    int (*same)(const sk_template *a, const sk_template *b);
} CONSTRAINTS[] = {
    {"allowedImages", same_allowed_images},
    {"allowCustomImages", same_custom_images},
    {"defaultImage", same_default_image},
    {"resourceBounds", same_resource_bounds},
    {"primaryStorage", same_primary_storage},
    {"idleShutdownOverrides", same_idle_overrides},
    {"defaultIdleShutdown", same_idle_default},
    {"allowSecondaryStorages", same_secondary_storages},
    {"appType", same_app_type},
    {"envRequirements", same_env_requirements},
    {"labelRequirements", same_label_requirements},
    {"allowCustomInitContainers", same_custom_init_containers},
    {"defaultInitContainers", same_default_init_containers},
};

const char *sk_template_changed_constraint(const sk_template *was, const sk_template *now)
{
    for (size_t i = 0; i < sizeof CONSTRAINTS / sizeof *CONSTRAINTS; i++)
        if (!CONSTRAINTS[i].same(was, now))
            return CONSTRAINTS[i].field;
    return NULL;
}

/* ---- the store ---- */

/* The default templates of one namespace; almost always zero or one. */
struct defaults {
    sk_template **items;
    size_t n, cap;
};

struct sk_store {
    pthread_rwlock_t lock;
    sk_map *by_key;      /* "ns/name" -> sk_template*, owned */
    sk_map *defaults;    /* ns -> struct defaults* */
    char *shared_ns;
};

sk_store *sk_store_new(const char *shared_namespace)
{
    sk_store *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    /* writers first: a watch update is never starved by a stream of requests */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    s->by_key = sk_map_new();
    s->defaults = sk_map_new();
    s->shared_ns = strdup(shared_namespace);
    return s;
}

void sk_store_read_lock(const sk_store *s)
{
    pthread_rwlock_rdlock((pthread_rwlock_t *)&s->lock);
}

void sk_store_write_lock(sk_store *s)
{
    pthread_rwlock_wrlock(&s->lock);
}

void sk_store_unlock(const sk_store *s)
{
    pthread_rwlock_unlock((pthread_rwlock_t *)&s->lock);
}

void sk_store_clear(sk_store *s)
{
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(s->by_key, &i, &k, &v);)
        sk_template_free(v);
    for (size_t i = 0; sk_map_next(s->defaults, &i, &k, &v);) {
        free(((struct defaults *)v)->items);
        free(v);
    }
    sk_map_free(s->by_key);
    sk_map_free(s->defaults);
    s->by_key = sk_map_new();
    s->defaults = sk_map_new();
}

void sk_store_free(sk_store *s)
{
    if (!s)
        return;
    sk_store_clear(s);
    sk_map_free(s->by_key);
    sk_map_free(s->defaults);
    pthread_rwlock_destroy(&s->lock);
    free(s->shared_ns);
    free(s);
}

static void defaults_drop(sk_store *s, const sk_template *t)
{
    struct defaults *d = sk_map_get(s->defaults, t->ns);
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        if (d->items[i] == t) {
            d->items[i] = d->items[--d->n];
            break;
        }
    }
    if (d->n == 0) {
        sk_map_remove(s->defaults, t->ns);
        free(d->items);
        free(d);
    }
}

static void defaults_add(sk_store *s, sk_template *t)
{
    struct defaults *d = sk_map_get(s->defaults, t->ns);
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d)
            abort();
        sk_map_put(s->defaults, t->ns, d);
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 2;
        d->items = realloc(d->items, d->cap * sizeof *d->items);
        if (!d->items)
            abort();
    }
    d->items[d->n++] = t;
}

void sk_store_put(sk_store *s, sk_template *t)
{
    sk_template *old = sk_map_put(s->by_key, t->key, t);
    if (old) {
        if (old->is_default)
            defaults_drop(s, old);
        sk_template_free(old);
    }
    if (t->is_default)
        defaults_add(s, t);
}

void sk_store_replace_all(sk_store *s, const json_t *items)
{
    size_t n = json_array_size(items), m = 0;
    sk_template **compiled = calloc(n ? n : 1, sizeof *compiled);
    if (!compiled)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((compiled[m] = sk_template_new(json_array_get(items, i), s->shared_ns, NULL)))
            m++;
    sk_store_write_lock(s);
    sk_store_clear(s);
    for (size_t i = 0; i < m; i++)
        sk_store_put(s, compiled[i]);
    sk_store_unlock(s);
    free(compiled);
}

int sk_store_remove(sk_store *s, const char *ns, const char *name)
{
    char *key = join_key(ns, name);
    sk_template *old = sk_map_remove(s->by_key, key);
    free(key);
    if (!old)
        return 0;
    if (old->is_default)
        defaults_drop(s, old);
    sk_template_free(old);
    return 1;
}

const sk_template *sk_store_get(const sk_store *s, const char *ns, const char *name)
{
    char stack[256];
    size_t nl = strlen(ns), ml = strlen(name);
    char *key = nl + ml + 2 <= sizeof stack ? stack : malloc(nl + ml + 2);
    if (!key)
        abort();
    memcpy(key, ns, nl);
    key[nl] = '/';
    memcpy(key + nl + 1, name, ml + 1);
    const sk_template *t = sk_map_get(s->by_key, key);
    if (key != stack)
        free(key);
    return t;
}

const sk_template *sk_store_default(const sk_store *s, const char *ns,
                                    const sk_template *conflict[2])
{
    const struct defaults *d = sk_map_get(s->defaults, ns);
    if (!d)
        return NULL;
    if (d->n == 1)
        return d->items[0];
    /* Name them in a stable order so the message does not flicker. */
    const sk_template *a = d->items[0], *b = d->items[1];
    conflict[0] = strcmp(a->name, b->name) <= 0 ? a : b;
    conflict[1] = conflict[0] == a ? b : a;
    return NULL;
}

size_t sk_store_count(const sk_store *s)
{
    return sk_map_count(s->by_key);
}

const char *sk_store_shared_namespace(const sk_store *s)
{
    return s->shared_ns;
}

json_t *sk_store_objects(const sk_store *s)
{
    json_t *out = json_array();
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(s->by_key, &i, &k, &v);)
        json_array_append(out, ((const sk_template *)v)->obj);
    return out;
}
