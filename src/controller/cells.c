#include "spacekeeper/cells.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/map.h"

#define MAX_TERMS 64 /* nodeSelectorTerms per DaemonSet, before a cell is left out */

static uint64_t fnv64(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- templates ---- */

static void push(char ***list, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], s) == 0)
            return;
    *list = realloc(*list, (*n + 1) * sizeof **list);
    if (!*list)
        abort();
    (*list)[(*n)++] = strdup(s);
}

static void selector_from(sk_selector *s, const json_t *obj)
{
    const char *k;
    const json_t *v;
    size_t n = 0, cap = json_object_size(obj);
    char **pairs = calloc(cap ? cap : 1, sizeof *pairs);
    if (!pairs)
        abort();
    json_object_foreach((json_t *)obj, k, v) {
        if (!json_is_string(v))
            continue;
        sk_buf b = SK_BUF_INIT;
        sk_buf_printf(&b, "%s=%s", k, json_string_value(v));
        pairs[n++] = sk_buf_steal(&b);
    }
    qsort(pairs, n, sizeof *pairs, cmp_str);
    s->n = n;
    s->keys = calloc(n ? n : 1, sizeof *s->keys);
    s->values = calloc(n ? n : 1, sizeof *s->values);
    sk_buf text = SK_BUF_INIT;
    sk_buf_puts(&text, "");
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(pairs[i], '=');
        s->keys[i] = strndup(pairs[i], (size_t)(eq - pairs[i]));
        s->values[i] = strdup(eq + 1);
        sk_buf_printf(&text, "%s%s", i ? "," : "", pairs[i]);
        free(pairs[i]);
    }
    free(pairs);
    s->text = sk_buf_steal(&text);
}

static void selector_free(sk_selector *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->keys[i]), free(s->values[i]);
    free(s->keys), free(s->values), free(s->text);
}

sk_preload_template *sk_preload_template_decode(const json_t *obj)
{
    const char *name = sk_json_str(obj, "metadata", "name", NULL);
    if (!name)
        return NULL;
    sk_preload_template *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    const char *ns = sk_json_str(obj, "metadata", "namespace", NULL);
    t->ns = strdup(ns ? ns : "");
    t->name = strdup(name);
    const char *rv = sk_json_str(obj, "metadata", "resourceVersion", NULL);
    t->rv = strdup(rv ? rv : "");
    const char *flag = sk_json_str(obj, "metadata", "annotations", SK_PRELOAD_ANNOTATION, NULL);
    t->enabled = !flag || strcmp(flag, "false") != 0;
    const json_t *spec = json_object_get(obj, "spec");
    const char *def = sk_json_str(spec, "defaultImage", NULL);
    if (def && *def)
        push(&t->images, &t->nimages, def);
    size_t i;
    const json_t *img;
    json_array_foreach(json_object_get(spec, "allowedImages"), i, img)
        if (json_is_string(img) && *json_string_value(img))
            push(&t->images, &t->nimages, json_string_value(img));
    selector_from(&t->selector, json_object_get(spec, "defaultNodeSelector"));
    const json_t *tol = json_object_get(spec, "defaultTolerations");
    t->tolerations = json_is_array(tol) ? json_deep_copy(tol) : NULL;
    return t;
}

void sk_preload_template_free(sk_preload_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nimages; i++)
        free(t->images[i]);
    free(t->images);
    selector_free(&t->selector);
    json_decref(t->tolerations);
    free(t->ns), free(t->name), free(t->rv);
    free(t);
}

int sk_preload_template_names(const sk_preload_template *t, const char *image)
{
    for (size_t i = 0; i < t->nimages; i++)
        if (strcmp(t->images[i], image) == 0)
            return 1;
    return 0;
}

int sk_selector_matches(const sk_selector *s, const json_t *labels)
{
    for (size_t i = 0; i < s->n; i++) {
        const char *v = sk_json_str(labels, s->keys[i], NULL);
        if (!v || strcmp(v, s->values[i]) != 0)
            return 0;
    }
    return 1;
}

/* ---- node affinity ---- */

/* One nodeSelectorTerm under construction: In pairs, then NotIn pairs. */
typedef struct term {
    size_t n;
    const char *keys[64], *values[64];
} term;

static json_t *term_json(const sk_selector *in, const term *not_in)
{
    json_t *exprs = json_array();
    for (size_t i = 0; i < in->n; i++)
        json_array_append_new(exprs, json_pack("{s:s, s:s, s:[s]}", "key", in->keys[i], "operator", "In",
                                               "values", in->values[i]));
    /* NotIn pairs of one key merge into one expression: k != a AND k != b */
    for (size_t i = 0; i < not_in->n; i++) {
        size_t j = 0;
        while (j < i && strcmp(not_in->keys[j], not_in->keys[i]) != 0)
            j++;
        if (j < i)
            continue; /* merged into the first */
        json_t *values = json_array();
        for (size_t k = i; k < not_in->n; k++)
            if (strcmp(not_in->keys[k], not_in->keys[i]) == 0) {
                json_t *v = json_string(not_in->values[k]);
                size_t x;
                json_t *have;
                int dup = 0;
                json_array_foreach(values, x, have) dup |= json_equal(have, v);
                if (dup)
                    json_decref(v);
                else
                    json_array_append_new(values, v);
            }
        json_array_append_new(exprs, json_pack("{s:s, s:s, s:o}", "key", not_in->keys[i], "operator",
                                               "NotIn", "values", values));
    }
    return json_pack("{s:o}", "matchExpressions", exprs);
}

/* The free pairs of each selector the cell must exclude, and the product
 * of their choices as terms (disjunctive normal form). */
typedef struct exclusion {
    size_t n;
    const char *keys[64], *values[64];
} exclusion;

static void expand(const sk_selector *in, const exclusion *ex, size_t nex, size_t at, term *t, json_t *terms)
{
    if (json_array_size(terms) > MAX_TERMS)
        return;
    if (at == nex) {
        json_array_append_new(terms, term_json(in, t));
        return;
    }
    for (size_t i = 0; i < ex[at].n && t->n < 64; i++) {
        t->keys[t->n] = ex[at].keys[i];
        t->values[t->n] = ex[at].values[i];
        t->n++;
        expand(in, ex, nex, at + 1, t, terms);
        t->n--;
    }
}

/* The value `in` requires for key, or NULL. */
static const char *required(const sk_selector *in, const char *key)
{
    for (size_t i = 0; i < in->n; i++)
        if (strcmp(in->keys[i], key) == 0)
            return in->values[i];
    return NULL;
}

/* Affinity selecting nodes that match every selector in `matched` and none
 * of the others; NULL when that is every node; sets *too_many when the
 * terms would pass MAX_TERMS. */
static json_t *cell_affinity(const sk_selector *const *sel, size_t nsel, const char *matched, int *too_many)
{
    /* the In part: the union of the matched selectors' pairs */
    json_t *in_obj = json_object();
    for (size_t s = 0; s < nsel; s++)
        for (size_t i = 0; matched[s] && i < sel[s]->n; i++)
            json_object_set_new(in_obj, sel[s]->keys[i], json_string(sel[s]->values[i]));
    sk_selector in;
    selector_from(&in, in_obj);
    json_decref(in_obj);

    exclusion *ex = calloc(nsel ? nsel : 1, sizeof *ex);
    size_t nex = 0;
    for (size_t s = 0; s < nsel; s++) {
        if (matched[s])
            continue;
        int conflicts = 0;
        exclusion e = {0};
        for (size_t i = 0; i < sel[s]->n && e.n < 64; i++) {
            const char *want = required(&in, sel[s]->keys[i]);
            if (want && strcmp(want, sel[s]->values[i]) != 0)
                conflicts = 1; /* the In part already rules this selector out */
            else if (!want)
                e.keys[e.n] = sel[s]->keys[i], e.values[e.n++] = sel[s]->values[i];
        }
        if (!conflicts && e.n)
            ex[nex++] = e;
    }
    json_t *affinity = NULL;
    if (in.n || nex) {
        json_t *terms = json_array();
        term t = {0};
        expand(&in, ex, nex, 0, &t, terms);
        *too_many = json_array_size(terms) > MAX_TERMS;
        affinity = json_pack("{s:{s:{s:o}}}", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                             "nodeSelectorTerms", terms);
    }
    free(ex);
    selector_free(&in);
    return affinity;
}

/* ---- cells ---- */

static int listed(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static void add_images(sk_preload_cell *c, char *const *images, size_t n, const char *const *skip)
{
    for (size_t i = 0; i < n; i++)
        if (!listed(skip, images[i]))
            push(&c->images, &c->nimages, images[i]);
}

static int by_nodes(const void *a, const void *b)
{
    const sk_preload_cell *x = a, *y = b;
    if (x->nodes != y->nodes)
        return x->nodes > y->nodes ? -1 : 1;
    return strcmp(x->name, y->name);
}

#define DROPPED UINTPTR_MAX

/* A new cell for the nodes whose matched selectors make `key`; returns its
 * index + 1, or DROPPED when its affinity would need too many terms. */
static uintptr_t new_cell(sk_preload_cells *out, const char *key, const sk_selector *const *sel, size_t nsel,
                          const char *matched, const sk_preload_template *const *templates,
                          size_t ntemplates, const json_t *labels, const char *const *extra,
                          const char *const *skip)
{
    int too_many = 0;
    json_t *affinity = cell_affinity(sel, nsel, matched, &too_many);
    if (too_many) {
        json_decref(affinity);
        out->dropped_terms++;
        return DROPPED;
    }
    out->cells = realloc(out->cells, (out->n + 1) * sizeof *out->cells);
    if (!out->cells)
        abort();
    sk_preload_cell *c = &out->cells[out->n++];
    *c = (sk_preload_cell){0};
    c->key = strdup(key);
    char name[64];
    snprintf(name, sizeof name, "spacekeeper-preload-%010llx", (unsigned long long)(fnv64(key) & 0xffffffffffull));
    c->name = strdup(name);
    c->affinity = affinity;
    c->tolerations = json_array();
    for (const char *const *e = extra; e && *e; e++)
        if (!listed(skip, *e))
            push(&c->images, &c->nimages, *e);
    for (size_t t = 0; t < ntemplates; t++) {
        const sk_preload_template *tp = templates[t];
        if (!tp->enabled || !sk_selector_matches(&tp->selector, labels))
            continue;
        c->templates = realloc(c->templates, (c->ntemplates + 1) * sizeof *c->templates);
        c->templates[c->ntemplates++] = tp;
        add_images(c, tp->images, tp->nimages, skip);
        size_t k;
        json_t *tol;
        json_array_foreach(tp->tolerations, k, tol) {
            size_t x;
            json_t *have;
            int dup = 0;
            json_array_foreach(c->tolerations, x, have) dup |= json_equal(have, tol);
            if (!dup)
                json_array_append(c->tolerations, tol);
        }
    }
    if (c->nimages > 1)
        qsort(c->images, c->nimages, sizeof *c->images, cmp_str);
    return out->n;
}

void sk_preload_cells_compute(const sk_preload_template *const *templates, size_t ntemplates,
                              const json_t *nodes, const char *const *extra, const char *const *skip,
                              sk_preload_cells *out)
{
    *out = (sk_preload_cells){0};
    /* the distinct selectors of the enabled templates, sorted; extra images
     * ride on the empty selector, which every node matches */
    size_t nsel = 0;
    const sk_selector **sel = calloc(ntemplates + 1, sizeof *sel);
    static const sk_selector everywhere = {0, NULL, NULL, ""};
    if (extra && *extra)
        sel[nsel++] = &everywhere;
    for (size_t t = 0; t < ntemplates; t++) {
        if (!templates[t]->enabled)
            continue;
        size_t s = 0;
        while (s < nsel && strcmp(sel[s]->text, templates[t]->selector.text) != 0)
            s++;
        if (s == nsel)
            sel[nsel++] = &templates[t]->selector;
    }
    char *matched = calloc(nsel ? nsel : 1, 1);
    sk_map *by_key = sk_map_new();
    size_t i;
    const json_t *labels;
    json_array_foreach(nodes, i, labels) {
        sk_buf key = SK_BUF_INIT;
        sk_buf_puts(&key, "");
        /* selectors in text order, so equal sets make equal keys */
        int any = 0;
        for (size_t s = 0; s < nsel; s++)
            matched[s] = (char)sk_selector_matches(sel[s], labels);
        for (;;) {
            size_t best = nsel;
            for (size_t s = 0; s < nsel; s++)
                if (matched[s] == 1 && (best == nsel || strcmp(sel[s]->text, sel[best]->text) < 0))
                    best = s;
            if (best == nsel)
                break;
            sk_buf_printf(&key, "%s{%s}", any ? "|" : "", sel[best]->text);
            matched[best] = 2;
            any = 1;
        }
        if (!any) {
            sk_buf_free(&key);
            continue; /* no template places workspaces here */
        }
        /* the map holds a cell's index + 1 (cells move as the array grows), or DROPPED */
        uintptr_t slot = (uintptr_t)sk_map_get(by_key, key.data);
        if (!slot) {
            slot = new_cell(out, key.data, sel, nsel, matched, templates, ntemplates, labels, extra, skip);
            sk_map_put(by_key, key.data, (void *)slot);
        }
        if (slot != DROPPED)
            out->cells[slot - 1].nodes++;
        sk_buf_free(&key);
    }
    if (out->n > 1) /* qsort wants a non-NULL base even for nothing */
        qsort(out->cells, out->n, sizeof *out->cells, by_nodes);
    sk_map_free(by_key);
    free(matched);
    free(sel);
}

void sk_preload_cells_free(sk_preload_cells *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        sk_preload_cell *c = &cs->cells[i];
        for (size_t k = 0; k < c->nimages; k++)
            free(c->images[k]);
        free(c->images), free(c->key), free(c->name), free(c->templates);
        json_decref(c->tolerations);
        json_decref(c->affinity);
    }
    free(cs->cells);
    *cs = (sk_preload_cells){0};
}

/* ---- rendering ---- */

int sk_image_is_digest(const char *image)
{
    return strchr(image, '@') != NULL;
}

void sk_preload_container_name(const char *image, char *out, size_t size)
{
    const char *base = strrchr(image, '/');
    base = base ? base + 1 : image;
    char name[51];
    size_t n = 0;
    for (const char *p = base; *p && n < sizeof name - 1; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)c))
            c = '-';
        if (c == '-' && (n == 0 || name[n - 1] == '-'))
            continue;
        name[n++] = c;
    }
    while (n && name[n - 1] == '-')
        n--;
    name[n] = '\0';
    /* the hash of the whole reference keeps names unique and stable */
    snprintf(out, size, "%s-%08x", n ? name : "image", (unsigned)(fnv64(image) & 0xffffffffu));
}

static json_t *container(const char *image)
{
    char name[64];
    sk_preload_container_name(image, name, sizeof name);
    return json_pack("{s:s, s:s, s:[s], s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:{s:b, s:b, s:{s:[s]}},"
                     " s:[{s:s, s:s, s:b}]}",
                     "name", name, "image", image, "command", SK_PRELOAD_PAUSE_DIR "/pause",
                     "imagePullPolicy", sk_image_is_digest(image) ? "IfNotPresent" : "Always",
                     "resources", "requests", "cpu", "1m", "memory", "16Mi", "limits", "cpu", "5m", "memory",
                     "32Mi", "securityContext", "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem", 1,
                     "capabilities", "drop", "ALL", "volumeMounts", "name", "pause", "mountPath",
                     SK_PRELOAD_PAUSE_DIR, "readOnly", 1);
}

json_t *sk_preload_daemonset(const sk_preload_cell *c, const sk_preload_render *r, const char *refreshed_at)
{
    const char *id = c->name + strlen("spacekeeper-preload-");
    json_t *containers = json_array();
    int mutable_tags = 0;
    for (size_t i = 0; i < c->nimages; i++) {
        json_array_append_new(containers, container(c->images[i]));
        mutable_tags |= !sk_image_is_digest(c->images[i]);
    }
    json_t *init = json_pack(
        "[{s:s, s:s, s:[s, s, s], s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:{s:b, s:b, s:{s:[s]}}, s:[{s:s, s:s}]}]",
        "name", "install-pause", "image", r->pause_image, "command", "/usr/local/bin/spacekeeper-pause",
        "--install", SK_PRELOAD_PAUSE_DIR "/pause", "resources", "requests", "cpu", "1m", "memory", "16Mi",
        "limits", "cpu", "50m", "memory", "32Mi", "securityContext", "allowPrivilegeEscalation", 0,
        "readOnlyRootFilesystem", 1, "capabilities", "drop", "ALL", "volumeMounts", "name", "pause",
        "mountPath", SK_PRELOAD_PAUSE_DIR);
    json_t *pod_spec = json_pack(
        "{s:s, s:s, s:b, s:i, s:{s:b, s:i, s:i, s:{s:s}}, s:o, s:o, s:[{s:s, s:{s:s}}], s:O}",
        "priorityClassName", r->priority_class, "preemptionPolicy", "Never",
        "automountServiceAccountToken", 0, "terminationGracePeriodSeconds", 5, "securityContext",
        "runAsNonRoot", 1, "runAsUser", 65532, "runAsGroup", 65532, "seccompProfile", "type",
        "RuntimeDefault", "initContainers", init, "containers", containers, "volumes", "name", "pause",
        "emptyDir", "medium", "Memory", "tolerations", c->tolerations);
    /* preemptionPolicy is the PriorityClass's to say; the pod inherits it */
    json_object_del(pod_spec, "preemptionPolicy");
    if (c->affinity)
        json_object_set(pod_spec, "affinity", c->affinity);
    if (r->pull_secrets && *r->pull_secrets) {
        json_t *secrets = json_array();
        for (const char *const *s = r->pull_secrets; *s; s++)
            json_array_append_new(secrets, json_pack("{s:s}", "name", *s));
        json_object_set_new(pod_spec, "imagePullSecrets", secrets);
    }
    json_t *labels = json_pack("{s:s, s:s, s:s, s:s}", "app.kubernetes.io/name", "spacekeeper",
                               "app.kubernetes.io/component", "preload", "app.kubernetes.io/managed-by",
                               SK_PRELOAD_MANAGED_BY, SK_PRELOAD_CELL_LABEL, id);
    json_t *ds = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:O, s:{s:s}}, s:{s:{s:{s:s}}, s:{s:s, s:{s:s}}, s:{s:{s:O}, s:o}}}",
        "apiVersion", "apps/v1", "kind", "DaemonSet", "metadata", "name", c->name, "namespace", r->namespace,
        "labels", labels, "annotations", "spacekeeper.io/cell", c->key, "spec", "selector", "matchLabels",
        SK_PRELOAD_CELL_LABEL, id, "updateStrategy", "type", "RollingUpdate", "rollingUpdate",
        "maxUnavailable", "10%", "template", "metadata", "labels", labels, "spec", pod_spec);
    json_decref(labels);
    char *text = sk_json_dumps(ds, JSON_COMPACT | JSON_SORT_KEYS);
    char hash[20];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)fnv64(text));
    free(text);
    json_object_set_new(json_object_get(json_object_get(ds, "metadata"), "annotations"),
                        SK_PRELOAD_HASH_ANNOTATION, json_string(hash));
    if (mutable_tags && refreshed_at) {
        json_t *tmeta = json_object_get(json_object_get(json_object_get(ds, "spec"), "template"), "metadata");
        json_object_set_new(tmeta, "annotations",
                            json_pack("{s:s}", SK_PRELOAD_REFRESH_ANNOTATION, refreshed_at));
    }
    return ds;
}
