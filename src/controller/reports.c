#include "spacekeeper/reports.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/cache.h"
#include "spacekeeper/compliance.h"
#include "spacekeeper/idle.h"
#include "spacekeeper/json.h"
#include "spacekeeper/log.h"
#include "spacekeeper/map.h"
#include "spacekeeper/template.h"
#include "spacekeeper/template_sync.h"
#include "spacekeeper/timeutil.h"

#define DISCOVERY_PATH "/apis/" SK_POLICY_REPORT_API_VERSION
#define MANAGED_SELECTOR "labelSelector=app.kubernetes.io%2Fmanaged-by%3D" SK_POLICY_REPORT_MANAGED_BY
#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

static void *must(void *p)
{
    if (!p)
        abort();
    return p;
}

static char *dup_str(const char *s)
{
    return must(strdup(s ? s : ""));
}

/* ---- what the caches keep ---- */

/* The object with what a review reads: metadata's name, namespace, uid,
 * labels and annotations (not kubectl's copy of the whole object), and the
 * spec. Values are shared with `obj`. */
static json_t *slim(const json_t *obj)
{
    static const char *const KEEP[] = {"name", "namespace", "uid", "labels"};
    const json_t *md = json_object_get(obj, "metadata");
    json_t *kept = json_object();
    for (size_t i = 0; i < sizeof KEEP / sizeof *KEEP; i++) {
        json_t *v = json_object_get(md, KEEP[i]);
        if (v)
            json_object_set(kept, KEEP[i], v);
    }
    json_t *annotations = json_object_get(md, "annotations");
    if (json_is_object(annotations)) {
        annotations = json_copy(annotations);
        json_object_del(annotations, LAST_APPLIED);
        json_object_set_new(kept, "annotations", annotations);
    }
    json_t *out = json_pack("{s:o}", "metadata", kept);
    static const char *const TOP[] = {"apiVersion", "kind", "spec"};
    for (size_t i = 0; i < sizeof TOP / sizeof *TOP; i++) {
        json_t *v = json_object_get(obj, TOP[i]);
        if (v)
            json_object_set(out, TOP[i], v);
    }
    return out;
}

/* A workspace as compact JSON text: a tenth of the memory of the tree it is
 * parsed back into for the moment of its review. */
typedef struct ws_item {
    char *ns, *name, *uid, *rv, *text;
} ws_item;

static void *decode_workspace(const json_t *obj)
{
    if (sk_json_get(obj, "metadata", "deletionTimestamp", NULL))
        return NULL; /* going away: it will not start again */
    const char *name = sk_json_str(obj, "metadata", "name", NULL);
    if (!name)
        return NULL;
    json_t *s = slim(obj);
    char *text = sk_json_dumps(s, JSON_COMPACT);
    json_decref(s);
    if (!text)
        return NULL; /* not UTF-8: the API server never sends it */
    ws_item *w = must(calloc(1, sizeof *w));
    const char *ns = sk_json_str(obj, "metadata", "namespace", NULL);
    w->ns = dup_str(ns && *ns ? ns : "default");
    w->name = dup_str(name);
    w->uid = dup_str(sk_json_str(obj, "metadata", "uid", NULL));
    w->rv = dup_str(sk_json_str(obj, "metadata", "resourceVersion", NULL));
    w->text = text;
    return w;
}

static void free_workspace(void *item)
{
    ws_item *w = item;
    free(w->ns), free(w->name), free(w->uid), free(w->rv), free(w->text);
    free(w);
}

/* Templates are few: kept as trees, compiled into the store on a change. */
static void *decode_template(const json_t *obj)
{
    json_t *s = slim(obj);
    json_t *copy = json_deep_copy(s);
    json_decref(s);
    return copy;
}

static void free_json(void *item)
{
    json_decref(item);
}

/* A report there: what it says (summary and results, as compact JSON text,
 * parsed back only when a pass compares it) and its version. */
typedef struct report_item {
    char *ns, *name, *rv, *body;
} report_item;

static void *decode_report(const json_t *obj)
{
    report_item *p = must(calloc(1, sizeof *p));
    p->ns = dup_str(sk_json_str(obj, "metadata", "namespace", NULL));
    p->name = dup_str(sk_json_str(obj, "metadata", "name", NULL));
    p->rv = dup_str(sk_json_str(obj, "metadata", "resourceVersion", NULL));
    json_t *body = json_object();
    static const char *const KEEP[] = {"summary", "results"};
    for (size_t i = 0; i < sizeof KEEP / sizeof *KEEP; i++) {
        json_t *v = json_object_get(obj, KEEP[i]);
        if (v)
            json_object_set(body, KEEP[i], v);
    }
    p->body = sk_json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return p;
}

static void free_report(void *item)
{
    report_item *p = item;
    free(p->ns), free(p->name), free(p->rv), free(p->body);
    free(p);
}

/* ---- the loop ---- */

/* A workspace's last verdict, reused while neither it nor any template changed. */
typedef struct memo {
    char *rv;
    unsigned long epoch, pass;
    char *template;     /* "ns/name", or NULL */
    json_t *violations; /* NULL when compliant */
} memo;

enum { CRD_UNKNOWN, CRD_ABSENT, CRD_PRESENT };
enum { OP_CREATE, OP_UPDATE, OP_DELETE, OP_COUNT };
static const char *const OP_NAMES[OP_COUNT] = {"create", "update", "delete"};

struct sk_reports {
    sk_reports_config cfg;
    sk_kube *kube;
    sk_cache *workspaces, *templates;
    sk_cache *reports;      /* NULL while the CRD is not found; changed under lock */
    sk_store *store;
    sk_map *memos;          /* "ns/name" -> memo */
    unsigned long seen[3];  /* cache versions: workspaces, templates, reports */
    unsigned long epoch, pass;
    int dirty, leading, crd, crd_warned;
    double last_pass, next_crd_check;
    /* read from the health thread */
    pthread_mutex_t lock;   /* guards samples, pass_seconds and the reports pointer */
    char *samples;          /* the last pass's metric samples; NULL when not leading */
    unsigned long writes[OP_COUNT], write_errors, reviews, passes;
    double pass_seconds;
    int crd_present;
};

sk_reports *sk_reports_new(const sk_reports_config *cfg, sk_kube *k)
{
    static const sk_cache_ops ws_ops = {decode_workspace, free_workspace, NULL};
    static const sk_cache_ops template_ops = {decode_template, free_json, NULL};
    sk_reports *r = must(calloc(1, sizeof *r));
    r->cfg = *cfg;
    r->kube = k;
    r->workspaces = sk_cache_start(k, SK_WORKSPACES_PATH, &ws_ops);
    r->templates = sk_cache_start(k, SK_TEMPLATES_PATH, &template_ops);
    r->store = sk_store_new(cfg->policy->shared_namespace);
    r->memos = sk_map_new();
    for (int i = 0; i < 3; i++)
        r->seen[i] = (unsigned long)-1;
    r->dirty = 1;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void memo_free(memo *m)
{
    free(m->rv), free(m->template);
    json_decref(m->violations);
    free(m);
}

void sk_reports_free(sk_reports *r)
{
    if (!r)
        return;
    sk_cache_stop(r->workspaces);
    sk_cache_stop(r->templates);
    sk_cache_stop(r->reports);
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(r->memos, &i, &k, &v);)
        memo_free(v);
    sk_map_free(r->memos);
    sk_store_free(r->store);
    pthread_mutex_destroy(&r->lock);
    free(r->samples);
    free(r);
}

int sk_reports_synced(sk_reports *r)
{
    pthread_mutex_lock(&r->lock);
    int synced = sk_cache_synced(r->workspaces) && sk_cache_synced(r->templates) &&
                 (!r->reports || sk_cache_synced(r->reports));
    pthread_mutex_unlock(&r->lock);
    return synced;
}

/* Starts or stops (NULL) watching the reports; the health thread may be
 * asking whether they are synced. */
static void set_reports_cache(sk_reports *r, sk_cache *c)
{
    pthread_mutex_lock(&r->lock);
    sk_cache *old = r->reports;
    r->reports = c;
    pthread_mutex_unlock(&r->lock);
    sk_cache_stop(old);
}

/* Did the cache change since the last look? Remembers what it saw. */
static int changed(sk_reports *r, sk_cache *c, int slot)
{
    if (!c)
        return 0;
    sk_cache_lock(c);
    unsigned long v = sk_cache_version(c);
    sk_cache_unlock(c);
    if (v == r->seen[slot])
        return 0;
    r->seen[slot] = v;
    return 1;
}

static int serves_policy_reports(const json_t *discovery)
{
    size_t i;
    const json_t *res;
    json_array_foreach(json_object_get(discovery, "resources"), i, res) {
        const char *name = sk_json_str(res, "name", NULL);
        if (name && strcmp(name, "policyreports") == 0)
            return 1;
    }
    return 0;
}

static void set_crd(sk_reports *r, int state)
{
    r->crd = state;
    __atomic_store_n(&r->crd_present, state == CRD_PRESENT, __ATOMIC_RELAXED);
}

/* Is the PolicyReport API served? Looked up every resync, or now when
 * `force` (a write was told 404): a CRD installed later is found, one
 * deleted stops the watch of its reports. */
static void check_crd(sk_reports *r, double now, int force)
{
    if (!force && now < r->next_crd_check)
        return;
    r->next_crd_check = now + r->cfg.resync;
    json_t *doc = NULL;
    sk_err err = {{0}};
    long st = sk_kube_get(r->kube, DISCOVERY_PATH, &doc, &err);
    int served = st == 200 && serves_policy_reports(doc);
    json_decref(doc);
    if (served) {
        if (!r->reports) {
            static const sk_cache_ops report_ops = {decode_report, free_report, NULL};
            set_reports_cache(r, sk_cache_start(r->kube, SK_POLICY_REPORTS_PATH "?" MANAGED_SELECTOR, &report_ops));
            r->seen[2] = (unsigned long)-1;
            sk_log(SK_LOG_INFO, "PolicyReport CRD found; writing compliance reports", NULL);
        }
        set_crd(r, CRD_PRESENT);
    } else if (st == 200 || st == 404) {
        if (r->crd != CRD_ABSENT)
            sk_log(SK_LOG_INFO, "PolicyReport CRD not installed (" SK_POLICY_REPORT_API_VERSION
                                " policyreports not served); no compliance reports are written",
                   NULL);
        set_reports_cache(r, NULL);
        set_crd(r, CRD_ABSENT);
    } else {
        r->next_crd_check = now + r->cfg.interval; /* the API server is away: soon again */
        if (r->crd == CRD_UNKNOWN && !r->crd_warned++)
            sk_log(SK_LOG_WARN, "could not tell whether the PolicyReport CRD is installed; retrying", "reason",
                   err.msg, NULL);
    }
}

/* The templates as the cache holds them now, compiled into the store. */
static void rebuild_store(sk_reports *r)
{
    json_t *items = json_array();
    sk_cache_lock(r->templates);
    const json_t *t;
    for (size_t i = 0; (t = sk_cache_next(r->templates, &i));)
        json_array_append_new(items, json_deep_copy(t));
    sk_cache_unlock(r->templates);
    sk_store_replace_all(r->store, items);
    json_decref(items);
    r->epoch++; /* every verdict is stale */
}

static char *template_key(const json_t *ref)
{
    const char *ns = sk_json_str(ref, "namespace", NULL), *name = sk_json_str(ref, "name", NULL);
    if (!name)
        return NULL;
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, "%s/%s", ns ? ns : "", name);
    return sk_buf_steal(&b);
}

/* The workspace's next start, reviewed against the store. */
static void review(sk_reports *r, const ws_item *w, memo *m)
{
    free(m->rv), free(m->template);
    json_decref(m->violations);
    m->rv = dup_str(w->rv);
    m->template = NULL;
    m->violations = NULL;
    m->epoch = r->epoch;
    json_t *ws = json_loads(w->text, 0, NULL);
    if (!ws)
        return;
    sk_decision d;
    sk_policy_review_start(r->cfg.policy, r->store, ws, NULL, NULL, &d);
    m->template = template_key(d.template);
    if (!d.allowed)
        m->violations = json_incref(d.violations);
    sk_decision_free(&d);
    json_decref(ws);
    ADD(&r->reviews, 1);
}

/* Every workspace's verdict, reviewed again only where something changed. */
static void gather(sk_reports *r, sk_compliance *c)
{
    r->pass++;
    sk_cache_lock(r->workspaces);
    const ws_item *w;
    sk_buf key = SK_BUF_INIT;
    for (size_t i = 0; (w = sk_cache_next(r->workspaces, &i));) {
        sk_buf_reset(&key);
        sk_buf_printf(&key, "%s/%s", w->ns, w->name);
        memo *m = sk_map_get(r->memos, key.data);
        if (!m) {
            m = must(calloc(1, sizeof *m));
            sk_map_put(r->memos, key.data, m);
            review(r, w, m);
        } else if (m->epoch != r->epoch || strcmp(m->rv, w->rv) != 0) {
            review(r, w, m);
        }
        m->pass = r->pass;
        sk_compliance_entry e = {w->ns, w->name, w->uid, m->template, m->violations};
        sk_compliance_add(c, &e);
    }
    sk_cache_unlock(r->workspaces);
    sk_buf_free(&key);
    /* forget workspaces that are gone */
    sk_buf gone = SK_BUF_INIT;
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(r->memos, &i, &k, &v);)
        if (((memo *)v)->pass != r->pass)
            sk_buf_printf(&gone, "%s\n", k);
    for (char *line = gone.data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        memo_free(sk_map_remove(r->memos, line));
    }
    sk_buf_free(&gone);
}

/* One write the pass decided on. */
typedef struct write_op {
    int op;
    char *ns, *name;
    json_t *obj; /* create, update */
} write_op;

typedef struct plan {
    write_op *ops;
    size_t n, cap;
} plan;

static void plan_add(plan *p, int op, const char *ns, const char *name, json_t *obj)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->ops = must(realloc(p->ops, p->cap * sizeof *p->ops));
    }
    p->ops[p->n++] = (write_op){op, dup_str(ns), dup_str(name), obj};
}

/* What to write: each namespace's desired report against the one there. */
static void make_plan(sk_reports *r, const sk_compliance *c, double now, plan *p)
{
    sk_map *wanted = sk_map_new();
    sk_cache_lock(r->reports);
    const char *ns;
    for (size_t i = 0; (ns = sk_compliance_next_namespace(c, &i));) {
        const report_item *have = sk_cache_get(r->reports, ns, SK_POLICY_REPORT_NAME);
        json_t *there = have && have->body ? json_loads(have->body, 0, NULL) : NULL;
        json_t *want = sk_compliance_report(c, ns, there, now);
        int same = want && sk_policy_report_same(want, there);
        json_decref(there);
        if (!want)
            continue;
        sk_map_put(wanted, ns, (void *)1);
        if (same) {
            json_decref(want);
            continue;
        }
        if (have)
            json_object_set_new(json_object_get(want, "metadata"), "resourceVersion", json_string(have->rv));
        plan_add(p, have ? OP_UPDATE : OP_CREATE, ns, SK_POLICY_REPORT_NAME, want);
    }
    const report_item *have;
    for (size_t i = 0; (have = sk_cache_next(r->reports, &i));)
        if (strcmp(have->name, SK_POLICY_REPORT_NAME) != 0 || !sk_map_get(wanted, have->ns))
            plan_add(p, OP_DELETE, have->ns, have->name, NULL);
    sk_cache_unlock(r->reports);
    sk_map_free(wanted);
}

/* Does the plan; 1 if a write was told 404 (the CRD may be gone). */
static int carry_out(sk_reports *r, plan *p)
{
    int not_found = 0;
    for (size_t i = 0; i < p->n; i++) {
        write_op *o = &p->ops[i];
        sk_buf path = SK_BUF_INIT;
        sk_buf_printf(&path, "/apis/%s/namespaces/%s/policyreports", SK_POLICY_REPORT_API_VERSION, o->ns);
        if (o->op != OP_CREATE)
            sk_buf_printf(&path, "/%s", o->name);
        sk_err err = {{0}};
        long st = o->op == OP_CREATE   ? sk_kube_create(r->kube, path.data, o->obj, NULL, &err)
                  : o->op == OP_UPDATE ? sk_kube_update(r->kube, path.data, o->obj, NULL, &err)
                                       : sk_kube_delete(r->kube, path.data, &err);
        char fails[32] = "";
        if (o->obj)
            snprintf(fails, sizeof fails, "%lld",
                     (long long)json_integer_value(sk_json_get(o->obj, "summary", "fail", NULL)));
        if (st == 200 || st == 201 || st == 202 || (o->op == OP_DELETE && st == 404)) {
            ADD(&r->writes[o->op], 1);
            sk_log(SK_LOG_INFO, o->op == OP_CREATE   ? "policy report created"
                                : o->op == OP_UPDATE ? "policy report updated"
                                                     : "policy report deleted: no failure left",
                   "namespace", o->ns, "name", o->name, "failures", o->obj ? fails : NULL, NULL);
        } else {
            ADD(&r->write_errors, 1);
            r->dirty = 1; /* the next pass tries again */
            not_found |= st == 404;
            sk_log(SK_LOG_WARN, "policy report not written; will retry", "namespace", o->ns, "name", o->name,
                   "operation", OP_NAMES[o->op], "reason", err.msg, NULL);
        }
        sk_buf_free(&path);
    }
    return not_found;
}

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->ops[i].ns), free(p->ops[i].name);
        json_decref(p->ops[i].obj);
    }
    free(p->ops);
}

static void publish(sk_reports *r, char *samples, double seconds)
{
    pthread_mutex_lock(&r->lock);
    free(r->samples);
    r->samples = samples;
    r->pass_seconds = seconds;
    pthread_mutex_unlock(&r->lock);
}

static void run_pass(sk_reports *r, double now)
{
    double started = sk_time_monotonic();
    sk_compliance *c = sk_compliance_new();
    gather(r, c);
    sk_buf samples = SK_BUF_INIT;
    sk_buf_puts(&samples, "");
    sk_compliance_metrics(c, &samples);
    plan p = {0};
    if (r->reports)
        make_plan(r, c, now, &p);
    sk_compliance_free(c);
    publish(r, sk_buf_steal(&samples), sk_time_monotonic() - started); /* the verdicts, before the writes */
    int not_found = carry_out(r, &p);
    plan_free(&p);
    ADD(&r->passes, 1);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    malloc_trim(0); /* a pass's trees are gone: hand their pages back, as after a LIST */
#endif
    if (not_found)
        check_crd(r, now, 1);
}

void sk_reports_step(sk_reports *r, int leading)
{
    double now = sk_time_now();
    check_crd(r, now, 0);
    if (!leading) {
        if (r->leading)
            publish(r, NULL, 0); /* the new leader counts */
        r->leading = 0;
        return;
    }
    if (!sk_reports_synced(r))
        return;
    if (!r->leading)
        r->dirty = 1; /* a new leader compares everything */
    r->leading = 1;
    if (changed(r, r->templates, 1))
        rebuild_store(r), r->dirty = 1;
    r->dirty |= changed(r, r->workspaces, 0) | changed(r, r->reports, 2);
    int due = r->dirty ? now >= r->last_pass + r->cfg.interval : now >= r->last_pass + r->cfg.resync;
    if (!due)
        return;
    r->dirty = 0;
    r->last_pass = now;
    run_pass(r, now);
}

void sk_reports_metrics(sk_reports *r, sk_buf *out)
{
    pthread_mutex_lock(&r->lock);
    sk_buf_printf(out,
                  "# HELP spacekeeper_workspaces_noncompliant Workspaces that would be refused at their next "
                  "start against their template as it is now, by namespace and template (the leader's count).\n"
                  "# TYPE spacekeeper_workspaces_noncompliant gauge\n%s"
                  "# HELP spacekeeper_policy_report_pass_seconds How long the last compliance pass took.\n"
                  "# TYPE spacekeeper_policy_report_pass_seconds gauge\n"
                  "spacekeeper_policy_report_pass_seconds %g\n",
                  r->samples ? r->samples : "", r->pass_seconds);
    pthread_mutex_unlock(&r->lock);
    sk_buf_printf(out,
                  "# HELP spacekeeper_policy_report_passes_total Compliance passes: every workspace's "
                  "verdict gathered and every report compared.\n"
                  "# TYPE spacekeeper_policy_report_passes_total counter\n"
                  "spacekeeper_policy_report_passes_total %lu\n"
                  "# HELP spacekeeper_policy_report_reviews_total Workspace start reviews made for the "
                  "compliance reports (unchanged workspaces are not reviewed again).\n"
                  "# TYPE spacekeeper_policy_report_reviews_total counter\n"
                  "spacekeeper_policy_report_reviews_total %lu\n"
                  "# HELP spacekeeper_policy_report_crd_installed Whether the PolicyReport API "
                  "(" SK_POLICY_REPORT_API_VERSION ") is served.\n"
                  "# TYPE spacekeeper_policy_report_crd_installed gauge\n"
                  "spacekeeper_policy_report_crd_installed %d\n"
                  "# HELP spacekeeper_policy_report_writes_total PolicyReports written, by operation.\n"
                  "# TYPE spacekeeper_policy_report_writes_total counter\n",
                  LOAD(&r->passes), LOAD(&r->reviews), LOAD(&r->crd_present));
    for (int i = 0; i < OP_COUNT; i++)
        sk_buf_printf(out, "spacekeeper_policy_report_writes_total{operation=\"%s\"} %lu\n", OP_NAMES[i],
                      LOAD(&r->writes[i]));
    sk_buf_printf(out,
                  "# HELP spacekeeper_policy_report_write_errors_total PolicyReport writes the API server "
                  "refused or that failed (retried).\n"
                  "# TYPE spacekeeper_policy_report_write_errors_total counter\n"
                  "spacekeeper_policy_report_write_errors_total %lu\n",
                  LOAD(&r->write_errors));
}

void sk_reports_watch_metrics(const sk_reports *r, sk_buf *restarts, sk_buf *relists)
{
    static const char *const names[] = {"report-workspaces", "report-workspacetemplates"};
    const sk_cache *caches[] = {r->workspaces, r->templates};
    for (int i = 0; i < 2; i++) {
        sk_buf_printf(restarts, "spacekeeper_watch_restarts_total{resource=\"%s\"} %lu\n", names[i],
                      sk_cache_restarts(caches[i]));
        sk_buf_printf(relists, "spacekeeper_watch_relists_total{resource=\"%s\"} %lu\n", names[i],
                      sk_cache_relists(caches[i]));
    }
}
