#include "spacekeeper/template_guard.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/arena.h"
#include "spacekeeper/buf.h"
#include "spacekeeper/impact.h"
#include "spacekeeper/json.h"
#include "spacekeeper/json_decode.h"
#include "spacekeeper/log.h"
#include "spacekeeper/namespaces.h"
#include "spacekeeper/violation.h"
#include "spacekeeper/workspace_brief.h"

static int view_live(const sk_cache *c)
{
    return c && sk_cache_synced(c) && sk_cache_live(c);
}

static int in_list(const char *s, const char *const *list)
{
    for (; s && list && *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static int is_admin(const sk_guard *g, const sk_request *req)
{
    for (const char *const *grp = req->groups; grp && *grp; grp++)
        if (in_list(*grp, g->policy->admin_groups))
            return 1;
    return 0;
}

/* ---- the stores before and after ---- */

/* A copy of the store's templates with `put` (may be NULL) added or
 * replacing its namesake, and ns/name `drop` (may be NULL) removed. */
static sk_store *store_with(const json_t *objects, const char *shared, const json_t *put,
                            const char *drop_ns, const char *drop_name)
{
    sk_store *s = sk_store_new(shared);
    sk_store_replace_all(s, objects);
    sk_template *t = put ? sk_template_new(put, shared, NULL) : NULL;
    if (t)
        sk_store_put(s, t);
    if (drop_name)
        sk_store_remove(s, drop_ns, drop_name);
    return s;
}

/* ---- the workspaces that use a template ---- */

struct users {
    const sk_ws_brief **items;
    size_t n, cap;
};

static void users_push(struct users *u, const sk_ws_brief *b)
{
    if (u->n == u->cap) {
        u->cap = u->cap ? 2 * u->cap : 64;
        if (!(u->items = realloc(u->items, u->cap * sizeof *u->items)))
            abort();
    }
    u->items[u->n++] = b;
}

static char USES[] = "uses", UNUSED[] = "unused";

/* Workspaces that will start again (not being deleted, nor in a namespace
 * being deleted) and use a changed template, in namespace/name order. A
 * template lookup reads only the namespace and spec.templateRef, so it is
 * made once per distinct pair, on the first workspace that has it. The
 * workspace cache is locked. */
static void find_users(const sk_guard *g, const sk_impact *im, struct users *out)
{
    sk_map *memo = sk_map_new();
    if (g->namespaces)
        sk_cache_lock(g->namespaces);
    const sk_ws_brief *b;
    for (size_t i = 0; (b = sk_cache_next(g->workspaces, &i));) {
        if (b->deleting || (g->namespaces && sk_namespace_terminating(g->namespaces, b->ns)))
            continue;
        const char *seen = sk_map_get(memo, b->selects);
        if (!seen) {
            sk_arena_mark mark = sk_arena_save();
            json_t *ws = sk_ws_brief_object(b);
            seen = ws && sk_impact_uses(im, ws) ? USES : UNUSED;
            json_decref(ws);
            sk_arena_restore(mark);
            sk_map_put(memo, b->selects, (void *)seen);
        }
        if (seen == USES)
            users_push(out, b);
    }
    if (g->namespaces)
        sk_cache_unlock(g->namespaces);
    sk_map_free(memo);
    if (out->n > 1)
        qsort(out->items, out->n, sizeof *out->items, sk_ws_brief_compare);
}

/* A review, kept for the workspaces alike but for their names. */
struct outcome {
    int refused;
    int shareable;    /* no message names the workspace it was made for */
    char *violations; /* malloc'd compact JSON when refused */
};

static void remember(void *ud, const sk_decision *d)
{
    struct outcome *o = ud;
    o->refused = !d->allowed;
    o->violations = o->refused ? sk_json_dumps(d->violations, JSON_COMPACT) : NULL;
    o->shareable = 1;
    size_t i;
    json_t *v;
    json_array_foreach(d->violations, i, v) {
        const char *msg = sk_json_str(v, "message", NULL);
        if (msg && *d->name && strstr(msg, d->name))
            o->shareable = 0;
    }
}

static void outcome_free(struct outcome *o)
{
    if (o)
        free(o->violations);
    free(o);
}

/* The review of a workspace's next start reads its text and its name;
 * workspaces of the same text (most of a template's users: the same image,
 * sizes and owner) are reviewed once and counted each. Each review's JSON
 * is released as soon as it is counted, so reviewing ten thousand
 * workspaces inside one decision costs the memory of one. */
static void review_users(sk_impact *im, const struct users *u)
{
    sk_map *memo = sk_map_new();
    im->on_review = remember;
    for (size_t i = 0; i < u->n; i++) {
        const sk_ws_brief *b = u->items[i];
        sk_arena_mark mark = sk_arena_save();
        const struct outcome *known = sk_map_get(memo, b->doc);
        if (known) {
            json_t *v = known->refused && im->n_named < im->max_named
                            ? sk_json_decode(known->violations, strlen(known->violations), 0, NULL)
                            : NULL;
            sk_impact_count(im, b->ns, b->name, known->refused, v);
            json_decref(v);
        } else {
            struct outcome *o = calloc(1, sizeof *o);
            if (!o)
                abort();
            im->ud = o;
            json_t *ws = sk_ws_brief_object(b);
            if (ws)
                sk_impact_review(im, ws);
            json_decref(ws);
            if (ws && o->shareable)
                sk_map_put(memo, b->doc, o);
            else
                outcome_free(o);
        }
        sk_arena_restore(mark);
    }
    im->on_review = NULL;
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(memo, &i, &k, &v);)
        outcome_free(v);
    sk_map_free(memo);
}

/* Past this many users the reviews are shared with a second thread: each
 * takes half of them in order, with its own arena and counts, and the
 * second half's counts and lines come after the first's. */
#define SPLIT_AT 1000

struct half {
    sk_impact im;
    struct users users;
};

static void *review_half(void *p)
{
    struct half *h = p;
    sk_arena_begin();
    review_users(&h->im, &h->users);
    sk_arena_end();
    return NULL;
}

static void review_all(sk_impact *im, const struct users *u)
{
    size_t first = u->n / 2;
    struct half later = {.users = {u->items + first, u->n - first, u->n - first}};
    sk_impact_init(&later.im, im->cfg, im->was, im->now, NULL);
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(im->changed, &i, &k, &v);)
        sk_map_put(later.im.changed, k, v);
    later.im.max_named = im->max_named;
    pthread_t helper;
    if (u->n < SPLIT_AT || pthread_create(&helper, NULL, review_half, &later) != 0) {
        review_users(im, u);
    } else {
        struct users mine = {u->items, first, first};
        review_users(im, &mine);
        pthread_join(helper, NULL);
        sk_impact_merge(im, &later.im);
    }
    sk_impact_free(&later.im);
}

static void warn(json_t *warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line of at most SK_IMPACT_LINE_MAX bytes. */
static void warn(json_t *warnings, const char *fmt, ...)
{
    char text[1024], line[SK_IMPACT_LINE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sk_impact_clip(text, line, sizeof line);
    json_array_append_new(warnings, json_string(line));
}

/* One template change counted against the workspaces: the store before and
 * after it (copies, built outside the store's lock) and the impact count. */
struct change_count {
    json_t *objects, *changed;
    sk_store *was, *now;
    sk_impact im;
};

/* The change from `old` to `put` (NULL: the template at del_ns/del_name removed). */
static void count_begin(struct change_count *c, const sk_guard *g, const sk_store *store,
                        const char *key, const json_t *old, const json_t *put, const char *del_ns,
                        const char *del_name)
{
    sk_store_read_lock(store);
    c->objects = sk_store_objects(store);
    const char *shared = sk_store_shared_namespace(store);
    sk_store_unlock(store);
    c->was = store_with(c->objects, shared, old, NULL, NULL);
    c->now = store_with(c->objects, shared, put, del_ns, del_name);
    c->changed = json_pack("[s]", key);
    sk_impact_init(&c->im, g->policy, c->was, c->now, c->changed);
}

static void count_end(struct change_count *c)
{
    sk_impact_free(&c->im);
    json_decref(c->changed);
    sk_store_free(c->was);
    sk_store_free(c->now);
    json_decref(c->objects);
}

/* ---- UPDATE: warnings ---- */

/* Nothing a start review reads has changed: the spec and the default label. */
static int harmless(const json_t *old, const json_t *new)
{
    const char *a = sk_json_str(old, "metadata", "labels", SK_LABEL_DEFAULT_TEMPLATE, NULL);
    const char *b = sk_json_str(new, "metadata", "labels", SK_LABEL_DEFAULT_TEMPLATE, NULL);
    int same_label = (!a && !b) || (a && b && strcmp(a, b) == 0);
    return same_label && json_equal(json_object_get(old, "spec"), json_object_get(new, "spec"));
}

static void impact_warnings(const sk_impact *im, const char *key, size_t limit, size_t users,
                            json_t *warnings)
{
    if (users > limit) {
        warn(warnings, "template %s is used by %zu workspaces, over --impact-limit %zu: counted, "
                       "not reviewed", key, users, limit);
        warn(warnings, "spacekeeper check --cluster --impact -t FILE says which of them this change "
                       "would refuse at their next start");
        return;
    }
    if (!im->denied)
        return; /* harmless to every user: silent */
    warn(warnings, "template %s: %zu of its %zu workspaces would be refused at their next start",
         key, im->denied, im->using);
    for (size_t i = 0; i < im->n_named; i++)
        json_array_append_new(warnings, json_string(im->named[i]));
    if (im->denied > im->n_named)
        warn(warnings, "... and %zu more: spacekeeper check --cluster --impact -t FILE lists them all",
             im->denied - im->n_named);
}

static void guard_update(const sk_guard *g, const sk_store *store, const sk_request *req,
                         const char *key, sk_decision *d)
{
    const json_t *old = req->old_object, *new = d->object ? d->object : req->object;
    if (!old || !new || harmless(old, new))
        return;
    if (!view_live(g->workspaces)) {
        sk_log(SK_LOG_WARN, "workspace watch not current: template change not checked against "
                            "workspaces", "template", key, NULL);
        return;
    }
    struct change_count c;
    count_begin(&c, g, store, key, old, new, NULL, NULL);
    c.im.max_named = SK_GUARD_WARNED_NAMES;
    struct users users = {0};
    sk_cache_lock(g->workspaces);
    find_users(g, &c.im, &users);
    if (users.n <= g->review_limit)
        review_all(&c.im, &users);
    sk_cache_unlock(g->workspaces);
    impact_warnings(&c.im, key, g->review_limit, users.n, d->warnings);
    free(users.items);
    count_end(&c);
}

/* ---- DELETE: refused while in use ---- */

/* "a/x, a/y and 7 more" */
static void describe_users(const struct users *u, size_t max, sk_buf *out)
{
    for (size_t i = 0; i < u->n && i < max; i++)
        sk_buf_printf(out, "%s%s/%s", i ? ", " : "", u->items[i]->ns, u->items[i]->name);
    if (u->n > max)
        sk_buf_printf(out, " and %zu more", u->n - max);
}

static void guard_delete(const sk_guard *g, const sk_store *store, const sk_request *req,
                         const char *key, sk_decision *d)
{
    const json_t *old = req->old_object;
    const char *ns = d->namespace, *name = d->name;
    if (!old || (req->user && strcmp(req->user, SK_NAMESPACE_CONTROLLER_USER) == 0))
        return; /* emptying a namespace that is being deleted */
    if (!view_live(g->workspaces) || (g->namespaces && !view_live(g->namespaces))) {
        sk_log(SK_LOG_WARN, "workspace or namespace watch not current: template deletion allowed "
                            "unchecked", "template", key, NULL);
        return;
    }
    if (g->namespaces) {
        sk_cache_lock(g->namespaces);
        int going = sk_namespace_terminating(g->namespaces, ns);
        sk_cache_unlock(g->namespaces);
        if (going)
            return;
    }
    struct change_count c;
    count_begin(&c, g, store, key, old, NULL, ns, name);
    struct users users = {0};
    sk_cache_lock(g->workspaces);
    find_users(g, &c.im, &users);
    sk_buf who = SK_BUF_INIT;
    describe_users(&users, SK_GUARD_DENIAL_NAMES, &who);
    sk_cache_unlock(g->workspaces);
    if (users.n && is_admin(g, req)) {
        warn(d->warnings, "template %s deleted by an admin; %zu workspaces use it: %s", key, users.n,
             who.data);
    } else if (users.n) {
        sk_violation_add(d->violations, "metadata.name",
                         "template \"%s\" in namespace \"%s\" is used by %zu workspace%s (%s): point "
                         "their spec.templateRef at another template or delete them first; a member of "
                         "an admin group (--admin-groups) may delete it anyway",
                         name, ns, users.n, users.n == 1 ? "" : "s", who.data);
        d->allowed = 0;
    }
    sk_buf_free(&who);
    free(users.items);
    count_end(&c);
}

void sk_guard_template(const sk_guard *g, const sk_store *store, const sk_request *req,
                       sk_decision *d)
{
    if (!g || !g->workspaces || !d->allowed || !d->kind || strcmp(d->kind, SK_KIND_TEMPLATE) != 0)
        return;
    char key[512];
    snprintf(key, sizeof key, "%s/%s", d->namespace, d->name);
    if (req->op == SK_OP_UPDATE)
        guard_update(g, store, req, key, d);
    else if (req->op == SK_OP_DELETE)
        guard_delete(g, store, req, key, d);
}
