#include "spacekeeper/preload.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/cache.h"
#include "spacekeeper/cells.h"
#include "spacekeeper/json.h"
#include "spacekeeper/log.h"
#include "spacekeeper/map.h"
#include "spacekeeper/template_sync.h"
#include "spacekeeper/timeutil.h"

#define COMPONENT "spacekeeper-controller"
#define MANAGED_SELECTOR "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dspacekeeper-controller"
#define CAPPED_EVENT_EVERY 3600.0

/* ---- what the caches keep ---- */

typedef struct ds_item {
    char *name, *rv, *hash, *refreshed;
    long desired, ready;
} ds_item;

typedef struct pull_failure {
    char *image, *reason, *message;
} pull_failure;

typedef struct pod_item {
    char *name, *node;
    size_t n;
    pull_failure *failures;
} pod_item;

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

static void *decode_template(const json_t *obj)
{
    return sk_preload_template_decode(obj);
}

static void free_template(void *item)
{
    sk_preload_template_free(item);
}

static void *decode_node(const json_t *obj)
{
    const json_t *labels = sk_json_get(obj, "metadata", "labels", NULL);
    return json_is_object(labels) ? json_deep_copy(labels) : json_object();
}

static void free_node(void *item)
{
    json_decref(item);
}

static void *decode_ds(const json_t *obj)
{
    ds_item *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    d->name = dup_str(sk_json_str(obj, "metadata", "name", NULL));
    d->rv = dup_str(sk_json_str(obj, "metadata", "resourceVersion", NULL));
    d->hash = dup_str(sk_json_str(obj, "metadata", "annotations", SK_PRELOAD_HASH_ANNOTATION, NULL));
    d->refreshed = dup_str(sk_json_str(obj, "spec", "template", "metadata", "annotations",
                                       SK_PRELOAD_REFRESH_ANNOTATION, NULL));
    const json_t *status = json_object_get(obj, "status");
    d->desired = (long)json_integer_value(json_object_get(status, "desiredNumberScheduled"));
    d->ready = (long)json_integer_value(json_object_get(status, "numberReady"));
    return d;
}

static void free_ds(void *item)
{
    ds_item *d = item;
    free(d->name), free(d->rv), free(d->hash), free(d->refreshed);
    free(d);
}

static int pull_failed(const char *reason)
{
    static const char *const REASONS[] = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName"};
    for (size_t i = 0; reason && i < sizeof REASONS / sizeof *REASONS; i++)
        if (strcmp(reason, REASONS[i]) == 0)
            return 1;
    return 0;
}

/* The image as the DaemonSet wrote it: status reports it normalized
 * (docker.io/library/...), so go by the container's name. */
static const char *spec_image(const json_t *pod, const char *container)
{
    size_t i;
    const json_t *c;
    json_array_foreach(sk_json_get(pod, "spec", "containers", NULL), i, c) {
        const char *name = sk_json_str(c, "name", NULL);
        if (name && container && strcmp(name, container) == 0)
            return sk_json_str(c, "image", NULL);
    }
    return NULL;
}

static void *decode_pod(const json_t *obj)
{
    pod_item *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->name = dup_str(sk_json_str(obj, "metadata", "name", NULL));
    p->node = dup_str(sk_json_str(obj, "spec", "nodeName", NULL));
    const json_t *statuses = sk_json_get(obj, "status", "containerStatuses", NULL);
    p->failures = calloc(json_array_size(statuses) + 1, sizeof *p->failures);
    if (!p->failures)
        abort();
    size_t i;
    const json_t *st;
    json_array_foreach(statuses, i, st) {
        const json_t *waiting = sk_json_get(st, "state", "waiting", NULL);
        const char *reason = sk_json_str(waiting, "reason", NULL);
        const char *image = spec_image(obj, sk_json_str(st, "name", NULL));
        if (!pull_failed(reason) || !image)
            continue;
        p->failures[p->n++] = (pull_failure){strdup(image), strdup(reason),
                                             dup_str(sk_json_str(waiting, "message", NULL))};
    }
    return p;
}

static void free_pod(void *item)
{
    pod_item *p = item;
    for (size_t i = 0; i < p->n; i++)
        free(p->failures[i].image), free(p->failures[i].reason), free(p->failures[i].message);
    free(p->failures), free(p->name), free(p->node);
    free(p);
}

/* ---- the loop ---- */

typedef struct set_aside {
    char *image;
    double until;      /* wall clock */
    double backoff;    /* the next one, doubled at every failure */
    int active;        /* out of the DaemonSets now */
    char *templates;   /* the resourceVersions of the templates naming it, when set aside */
} set_aside;

struct sk_preload {
    sk_preload_config cfg;
    sk_kube *kube;
    sk_cache *templates, *nodes, *daemonsets, *pods;
    unsigned long seen[4];
    sk_map *aside;       /* image -> set_aside */
    sk_map *capped_at;   /* "ns/name" of a template left out by the cap -> time of its Event (boxed) */
    double next_run;
    unsigned long pull_failures;
    long images;
};

#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

sk_preload *sk_preload_new(const sk_preload_config *cfg, sk_kube *k)
{
    static const sk_cache_ops template_ops = {decode_template, free_template, NULL};
    static const sk_cache_ops node_ops = {decode_node, free_node, NULL};
    static const sk_cache_ops ds_ops = {decode_ds, free_ds, NULL};
    static const sk_cache_ops pod_ops = {decode_pod, free_pod, NULL};
    sk_preload *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->cfg = *cfg;
    p->kube = k;
    sk_buf path = SK_BUF_INIT;
    p->templates = sk_cache_start(k, SK_TEMPLATES_PATH, &template_ops);
    p->nodes = sk_cache_start(k, "/api/v1/nodes", &node_ops);
    sk_buf_printf(&path, "/apis/apps/v1/namespaces/%s/daemonsets?%s", cfg->namespace, MANAGED_SELECTOR);
    p->daemonsets = sk_cache_start(k, path.data, &ds_ops);
    sk_buf_reset(&path);
    sk_buf_printf(&path, "/api/v1/namespaces/%s/pods?%s", cfg->namespace, MANAGED_SELECTOR);
    p->pods = sk_cache_start(k, path.data, &pod_ops);
    sk_buf_free(&path);
    p->aside = sk_map_new();
    p->capped_at = sk_map_new();
    for (int i = 0; i < 4; i++)
        p->seen[i] = (unsigned long)-1;
    return p;
}

static void aside_free(set_aside *a)
{
    free(a->image), free(a->templates);
    free(a);
}

void sk_preload_free(sk_preload *p)
{
    if (!p)
        return;
    sk_cache_stop(p->templates);
    sk_cache_stop(p->nodes);
    sk_cache_stop(p->daemonsets);
    sk_cache_stop(p->pods);
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(p->aside, &i, &k, &v);)
        aside_free(v);
    sk_map_free(p->aside);
    for (size_t i = 0; sk_map_next(p->capped_at, &i, &k, &v);)
        free(v);
    sk_map_free(p->capped_at);
    free(p);
}

int sk_preload_synced(const sk_preload *p)
{
    return sk_cache_synced(p->templates) && sk_cache_synced(p->nodes) && sk_cache_synced(p->daemonsets) &&
           sk_cache_synced(p->pods);
}

/* Did any cache change since the last look? Remembers what it saw. */
static int changed(sk_preload *p, sk_cache *c, int slot)
{
    sk_cache_lock(c);
    unsigned long v = sk_cache_version(c);
    sk_cache_unlock(c);
    if (v == p->seen[slot])
        return 0;
    p->seen[slot] = v;
    return 1;
}

/* The resourceVersions of the templates naming `image`: a change in them
 * (a template edited, added or removed) retries a set-aside image at once.
 * Called with the templates cache locked. */
static char *naming_signature(sk_preload *p, const char *image)
{
    sk_buf b = SK_BUF_INIT;
    sk_buf_puts(&b, "");
    const sk_preload_template *t;
    for (size_t i = 0; (t = sk_cache_next(p->templates, &i));)
        if (sk_preload_template_names(t, image))
            sk_buf_printf(&b, "%s/%s@%s;", t->ns, t->name, t->rv);
    return sk_buf_steal(&b);
}

static void event_on_templates(sk_preload *p, const char *image, const char *reason, const char *msg)
{
    sk_buf names = SK_BUF_INIT;
    sk_cache_lock(p->templates);
    const sk_preload_template *t;
    for (size_t i = 0; (t = sk_cache_next(p->templates, &i));)
        if (sk_preload_template_names(t, image))
            sk_buf_printf(&names, "%s/%s\n", t->ns, t->name);
    sk_cache_unlock(p->templates);
    for (char *line = names.data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        char *slash = strchr(line, '/');
        *slash = '\0';
        sk_kube_event_about(p->kube, "workspace.jupyter.org/v1alpha1", "WorkspaceTemplate", line, slash + 1, NULL,
                            "Warning", reason, msg, COMPONENT);
    }
    sk_buf_free(&names);
}

/* Images whose pull failed in a preload pod: set aside, Event, counted. */
static int take_pull_failures(sk_preload *p, int leading, double now)
{
    int any = 0;
    sk_buf todo = SK_BUF_INIT; /* image \t node \t reason \t message \n, acted on unlocked */
    sk_cache_lock(p->pods);
    const pod_item *pod;
    for (size_t i = 0; (pod = sk_cache_next(p->pods, &i));)
        for (size_t f = 0; f < pod->n; f++) {
            set_aside *a = sk_map_get(p->aside, pod->failures[f].image);
            if (a && a->active)
                continue; /* already out; its old pods are on their way */
            if (!a) {
                a = calloc(1, sizeof *a);
                if (!a)
                    abort();
                a->image = strdup(pod->failures[f].image);
                a->backoff = p->cfg.backoff_min;
                sk_map_put(p->aside, a->image, a);
            }
            a->active = 1;
            a->until = now + a->backoff;
            a->backoff = fmin(a->backoff * 2, p->cfg.backoff_max);
            ADD(&p->pull_failures, 1);
            sk_buf_printf(&todo, "%s\t%s\t%s\t%s\n", a->image, pod->node, pod->failures[f].reason,
                          pod->failures[f].message);
            any = 1;
        }
    sk_cache_unlock(p->pods);
    for (char *line = todo.data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        char *field[4] = {line};
        for (int k = 1; k < 4; k++)
            *(field[k] = strchr(field[k - 1], '\t')) = '\0', field[k]++;
        set_aside *a = sk_map_get(p->aside, field[0]);
        sk_cache_lock(p->templates);
        free(a->templates);
        a->templates = naming_signature(p, a->image);
        sk_cache_unlock(p->templates);
        char until[40], msg[1024];
        sk_time_format(a->until, 0, until, sizeof until);
        snprintf(msg, sizeof msg, "Image %.300s could not be pulled on node %.100s (%s: %.400s); it is left out "
                                  "of preloading until %s or until a template naming it changes.",
                 field[0], field[1], field[2], field[3], until);
        sk_log(SK_LOG_WARN, "preload image pull failed; set aside", "image", field[0], "node", field[1],
               "reason", field[2], "until", until, NULL);
        if (leading)
            event_on_templates(p, field[0], "PreloadImagePullFailed", msg);
    }
    sk_buf_free(&todo);
    return any;
}

/* Backoffs that ran out, and images whose templates changed: back in. */
static int release_set_aside(sk_preload *p, int templates_changed, double now)
{
    int any = 0;
    const char *k;
    void *v;
    sk_cache_lock(p->templates);
    for (size_t i = 0; sk_map_next(p->aside, &i, &k, &v);) {
        set_aside *a = v;
        if (!a->active)
            continue;
        int retry = now >= a->until;
        if (!retry && templates_changed) {
            char *sig = naming_signature(p, a->image);
            retry = strcmp(sig, a->templates ? a->templates : "") != 0;
            if (retry)
                a->backoff = p->cfg.backoff_min; /* a new template deserves a fresh start */
            free(sig);
        }
        if (retry) {
            a->active = 0;
            any = 1;
            sk_log(SK_LOG_INFO, "preload image back in", "image", a->image, NULL);
        } else if (a->until < p->next_run) {
            p->next_run = a->until;
        }
    }
    sk_cache_unlock(p->templates);
    return any;
}

static const char **active_set_aside(sk_preload *p)
{
    size_t n = 0, cap = sk_map_count(p->aside) + 1;
    const char **list = calloc(cap, sizeof *list);
    if (!list)
        abort();
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(p->aside, &i, &k, &v);)
        if (((set_aside *)v)->active)
            list[n++] = ((set_aside *)v)->image;
    return list;
}

static void report_capped(sk_preload *p, const sk_preload_cell *c, double now)
{
    for (size_t t = 0; t < c->ntemplates; t++) {
        char key[512];
        snprintf(key, sizeof key, "%s/%s", c->templates[t]->ns, c->templates[t]->name);
        double *last = sk_map_get(p->capped_at, key);
        if (last && now - *last < CAPPED_EVENT_EVERY)
            continue;
        if (!last) {
            last = malloc(sizeof *last);
            sk_map_put(p->capped_at, key, last);
        }
        *last = now;
        char msg[512];
        snprintf(msg, sizeof msg, "Images are not preloaded on %zu node(s) whose labels match this template: "
                                  "more than %zu preload DaemonSets would be needed.", c->nodes,
                 p->cfg.max_daemonsets);
        sk_kube_event_about(p->kube, "workspace.jupyter.org/v1alpha1", "WorkspaceTemplate", c->templates[t]->ns,
                            c->templates[t]->name, NULL, "Warning", "PreloadCellsCapped", msg, COMPONENT);
    }
}

static int has_mutable_tag(const sk_preload_cell *c)
{
    for (size_t i = 0; i < c->nimages; i++)
        if (!sk_image_is_digest(c->images[i]))
            return 1;
    return 0;
}

/* When the cell's mutable tags were last pulled on purpose: kept from the
 * DaemonSet there is, bumped when `refresh` has passed. */
static void refresh_time(sk_preload *p, const sk_preload_cell *c, const ds_item *have, double now, char *out,
                         size_t size)
{
    out[0] = '\0';
    if (!has_mutable_tag(c))
        return;
    double last = 0;
    if (have && have->refreshed[0] && sk_time_parse_rfc3339(have->refreshed, &last, NULL) == 0 &&
        (p->cfg.refresh <= 0 || now - last < p->cfg.refresh)) {
        snprintf(out, size, "%s", have->refreshed);
        if (p->cfg.refresh > 0 && last + p->cfg.refresh < p->next_run)
            p->next_run = last + p->cfg.refresh;
        return;
    }
    sk_time_format(now, 0, out, size);
    if (p->cfg.refresh > 0 && now + p->cfg.refresh < p->next_run)
        p->next_run = now + p->cfg.refresh;
}

static void write_daemonset(sk_preload *p, const sk_preload_cell *c, const sk_preload_render *r, double now)
{
    char refreshed[40];
    sk_cache_lock(p->daemonsets);
    const ds_item *have = sk_cache_get(p->daemonsets, p->cfg.namespace, c->name);
    refresh_time(p, c, have, now, refreshed, sizeof refreshed);
    json_t *ds = sk_preload_daemonset(c, r, refreshed[0] ? refreshed : NULL);
    const char *hash = sk_json_str(ds, "metadata", "annotations", SK_PRELOAD_HASH_ANNOTATION, NULL);
    int create = !have;
    int same = have && strcmp(have->hash, hash) == 0 && strcmp(have->refreshed, refreshed) == 0;
    if (have)
        json_object_set_new(json_object_get(ds, "metadata"), "resourceVersion", json_string(have->rv));
    sk_cache_unlock(p->daemonsets);
    if (same) {
        json_decref(ds);
        return; /* nothing to write: no update storms */
    }
    sk_buf path = SK_BUF_INIT;
    sk_buf_printf(&path, "/apis/apps/v1/namespaces/%s/daemonsets%s%s", p->cfg.namespace, create ? "" : "/",
                  create ? "" : c->name);
    sk_err err;
    long st = create ? sk_kube_create(p->kube, path.data, ds, NULL, &err)
                     : sk_kube_update(p->kube, path.data, ds, NULL, &err);
    char n[32];
    snprintf(n, sizeof n, "%zu", c->nimages);
    if (st == 200 || st == 201)
        sk_log(SK_LOG_INFO, create ? "preload DaemonSet created" : "preload DaemonSet updated", "daemonset",
               c->name, "images", n, "cell", c->key, NULL);
    else
        sk_log(SK_LOG_WARN, "preload DaemonSet not written; will retry", "daemonset", c->name, "reason",
               err.msg, NULL), p->next_run = now + 1;
    sk_buf_free(&path);
    json_decref(ds);
}

static void delete_unwanted(sk_preload *p, const sk_map *wanted, double now)
{
    sk_buf gone = SK_BUF_INIT;
    sk_cache_lock(p->daemonsets);
    const ds_item *d;
    for (size_t i = 0; (d = sk_cache_next(p->daemonsets, &i));)
        if (!sk_map_get(wanted, d->name))
            sk_buf_printf(&gone, "%s\n", d->name);
    sk_cache_unlock(p->daemonsets);
    for (char *name = gone.data, *nl; name && (nl = strchr(name, '\n')); name = nl + 1) {
        *nl = '\0';
        sk_buf path = SK_BUF_INIT;
        sk_buf_printf(&path, "/apis/apps/v1/namespaces/%s/daemonsets/%s", p->cfg.namespace, name);
        sk_err err;
        long st = sk_kube_delete(p->kube, path.data, &err);
        if (st == 200 || st == 202 || st == 404)
            sk_log(SK_LOG_INFO, "preload DaemonSet deleted: no node needs it", "daemonset", name, NULL);
        else
            sk_log(SK_LOG_WARN, "preload DaemonSet not deleted; will retry", "daemonset", name, "reason", err.msg,
                   NULL), p->next_run = now + 1;
        sk_buf_free(&path);
    }
    sk_buf_free(&gone);
}

static void reconcile(sk_preload *p, double now)
{
    const char **skip = active_set_aside(p);
    sk_preload_cells cells;
    sk_cache_lock(p->templates);
    sk_cache_lock(p->nodes);
    size_t nt = sk_cache_count(p->templates);
    const sk_preload_template **templates = calloc(nt + 1, sizeof *templates);
    const sk_preload_template *t;
    size_t m = 0;
    for (size_t i = 0; (t = sk_cache_next(p->templates, &i));)
        templates[m++] = t;
    json_t *nodes = json_array();
    const json_t *labels;
    for (size_t i = 0; (labels = sk_cache_next(p->nodes, &i));)
        json_array_append(nodes, (json_t *)labels);
    sk_preload_cells_compute(templates, m, nodes, p->cfg.extra_images, skip, &cells);
    json_decref(nodes);

    sk_preload_render r = {p->cfg.namespace, p->cfg.pause_image, p->cfg.priority_class, p->cfg.pull_secrets};
    sk_map *wanted = sk_map_new(), *images = sk_map_new();
    size_t kept = 0;
    for (size_t i = 0; i < cells.n; i++) {
        const sk_preload_cell *c = &cells.cells[i];
        if (!c->nimages)
            continue;
        if (kept == p->cfg.max_daemonsets) {
            char n[32];
            snprintf(n, sizeof n, "%zu", c->nodes);
            sk_log(SK_LOG_WARN, "preload DaemonSet cap reached; a cell of nodes gets no preloading", "cell", c->key,
                   "nodes", n, NULL);
            report_capped(p, c, now);
            continue;
        }
        kept++;
        sk_map_put(wanted, c->name, (void *)c);
        for (size_t k = 0; k < c->nimages; k++)
            sk_map_put(images, c->images[k], (void *)c);
    }
    sk_cache_unlock(p->nodes);
    sk_cache_unlock(p->templates); /* cells borrow templates: written below, then freed */
    __atomic_store_n(&p->images, (long)sk_map_count(images), __ATOMIC_RELAXED);
    if (cells.dropped_terms)
        sk_log(SK_LOG_WARN, "a cell of nodes needs too many node-affinity terms; it gets no preloading", NULL);
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(wanted, &i, &k, &v);)
        write_daemonset(p, v, &r, now);
    delete_unwanted(p, wanted, now);
    sk_map_free(wanted);
    sk_map_free(images);
    free(templates);
    free(skip);
    sk_preload_cells_free(&cells);
}

void sk_preload_step(sk_preload *p, int leading)
{
    if (!sk_preload_synced(p))
        return;
    double now = sk_time_now();
    int templates_changed = changed(p, p->templates, 0);
    int dirty = templates_changed | changed(p, p->nodes, 1) | changed(p, p->daemonsets, 2);
    if (changed(p, p->pods, 3))
        dirty |= take_pull_failures(p, leading, now);
    dirty |= release_set_aside(p, templates_changed, now);
    if (!leading || (!dirty && now < p->next_run))
        return;
    p->next_run = now + p->cfg.resync;
    reconcile(p, now);
}

void sk_preload_metrics(const sk_preload *p, sk_buf *out)
{
    sk_buf_printf(out,
                  "# HELP spacekeeper_preload_images Distinct images the preload DaemonSets hold.\n"
                  "# TYPE spacekeeper_preload_images gauge\nspacekeeper_preload_images %ld\n"
                  "# HELP spacekeeper_preload_pull_failures_total Images set aside after a preload pod could "
                  "not pull them.\n"
                  "# TYPE spacekeeper_preload_pull_failures_total counter\n"
                  "spacekeeper_preload_pull_failures_total %lu\n",
                  LOAD(&p->images), LOAD(&p->pull_failures));
    sk_buf desired = SK_BUF_INIT, ready = SK_BUF_INIT;
    sk_cache_lock(p->daemonsets);
    const ds_item *d;
    for (size_t i = 0; (d = sk_cache_next(p->daemonsets, &i));) {
        sk_buf_printf(&desired, "spacekeeper_preload_nodes_desired{daemonset=\"%s\"} %ld\n", d->name, d->desired);
        sk_buf_printf(&ready, "spacekeeper_preload_nodes_ready{daemonset=\"%s\"} %ld\n", d->name, d->ready);
    }
    sk_cache_unlock(p->daemonsets);
    sk_buf_printf(out, "# HELP spacekeeper_preload_nodes_desired Nodes each preload DaemonSet should run on.\n"
                       "# TYPE spacekeeper_preload_nodes_desired gauge\n%s"
                       "# HELP spacekeeper_preload_nodes_ready Nodes where each preload DaemonSet's pod is ready "
                       "(its images pulled).\n"
                       "# TYPE spacekeeper_preload_nodes_ready gauge\n%s",
                  desired.data ? desired.data : "", ready.data ? ready.data : "");
    sk_buf_free(&desired);
    sk_buf_free(&ready);
}

void sk_preload_watch_metrics(const sk_preload *p, sk_buf *restarts, sk_buf *relists)
{
    static const char *const names[] = {"workspacetemplates", "nodes", "daemonsets", "preload-pods"};
    const sk_cache *caches[] = {p->templates, p->nodes, p->daemonsets, p->pods};
    for (int i = 0; i < 4; i++) {
        sk_buf_printf(restarts, "spacekeeper_watch_restarts_total{resource=\"%s\"} %lu\n", names[i],
                      sk_cache_restarts(caches[i]));
        sk_buf_printf(relists, "spacekeeper_watch_relists_total{resource=\"%s\"} %lu\n", names[i],
                      sk_cache_relists(caches[i]));
    }
}
