#include "spacekeeper/idle.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spacekeeper/histogram.h"
#include "spacekeeper/json.h"
#include "spacekeeper/log.h"
#include "spacekeeper/map.h"
#include "spacekeeper/prober.h"
#include "spacekeeper/timeutil.h"
#include "spacekeeper/workload.h"

#define COMPONENT "spacekeeper-controller"
#define RETRY_SOON_S 1.0

/* Probe results, as the metric's `result` label spells them. */
typedef enum result {
    R_SUCCESS, R_CONNECT, R_TIMEOUT, R_HTTP, R_TOO_LARGE, R_INVALID, R_NO_POD, R_DETECTION, R_COUNT
} result;
static const char *const RESULT_NAMES[R_COUNT] = {
    "success", "connection_error", "timeout", "http_error", "too_large", "invalid_answer",
    "no_ready_pod", "invalid_detection",
};

static const double DURATION_BUCKETS[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,    10};

/* One workspace as the loop tracks it. Owned by the loop's thread. */
struct ws {
    char *key;              /* "ns/name" */
    sk_workspace *w;        /* a copy of the cached item */
    unsigned long mark;     /* the reconcile pass that last saw it */
    double phase;           /* its offset within the interval */
    double next_due;        /* wall-clock time of the next probe; 0 unscheduled */
    unsigned round;         /* bumped per probe round: late answers are dropped */
    int pending;            /* probes of this round still out */
    result failure;         /* R_SUCCESS, or the first failure of the round */
    char why[256];
    double last_active, ready_since;
    char *round_rv;         /* the resourceVersion the round decides on */
    double warned_at, dry_run_at;
};

struct probe_ctx {
    sk_idle *s;
    char *key;
    unsigned round;
    double ready_since;
    char *url;
};

struct sk_idle {
    sk_idle_config cfg;
    sk_kube *kube;
    sk_cache *workspaces, *pods;
    sk_prober *prober;
    sk_map *table;            /* key -> struct ws */
    unsigned long seen_version, pass;
    int leading;
    /* metrics, read from the health thread */
    unsigned long probes[R_COUNT];
    unsigned long shutdowns, conflicts, would_stop;
    long in_scope;
    sk_histogram duration;
};

#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* ---- cache operations ---- */

static void *decode_workspace(const json_t *obj)
{
    return sk_workspace_decode(obj);
}

static void free_workspace(void *item)
{
    sk_workspace_free(item);
}

static void *decode_pod(const json_t *obj)
{
    return sk_pod_decode(obj);
}

static void free_pod(void *item)
{
    sk_pod_free(item);
}

static const char *pod_group(const void *item)
{
    return ((const sk_pod *)item)->group;
}

const sk_cache_ops sk_idle_workspace_ops = {decode_workspace, free_workspace, NULL};
const sk_cache_ops sk_idle_pod_ops = {decode_pod, free_pod, pod_group};

/* ---- schedule ---- */

static double key_phase(const char *key, double interval)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return (double)h / 4294967296.0 * interval;
}

/* The first time after `now` that falls on this workspace's phase. */
static double next_slot(const sk_idle *s, const struct ws *e, double now)
{
    double iv = s->cfg.interval;
    double t = floor((now - e->phase) / iv) * iv + e->phase;
    while (t <= now)
        t += iv;
    return t;
}

static void ws_free(struct ws *e)
{
    sk_workspace_free(e->w);
    free(e->key);
    free(e->round_rv);
    free(e);
}

/* Takes in what changed in the workspace cache since the last pass. */
static void reconcile(sk_idle *s)
{
    sk_cache_lock(s->workspaces);
    unsigned long version = sk_cache_version(s->workspaces);
    if (version == s->seen_version) {
        sk_cache_unlock(s->workspaces);
        return;
    }
    s->seen_version = version;
    s->pass++;
    long in_scope = 0;
    const sk_workspace *w;
    for (size_t i = 0; (w = sk_cache_next(s->workspaces, &i));) {
        char key[512];
        snprintf(key, sizeof key, "%s/%s", w->ns, w->name);
        struct ws *e = sk_map_get(s->table, key);
        if (!e) {
            e = calloc(1, sizeof *e);
            if (!e)
                abort();
            e->key = strdup(key);
            e->phase = key_phase(key, s->cfg.interval);
            sk_map_put(s->table, key, e);
        }
        if (!e->w || strcmp(e->w->rv, w->rv) != 0) {
            sk_workspace_free(e->w);
            e->w = sk_workspace_dup(w);
        }
        e->mark = s->pass;
        in_scope += sk_workspace_in_scope(w);
    }
    sk_cache_unlock(s->workspaces);
    __atomic_store_n(&s->in_scope, in_scope, __ATOMIC_RELAXED);

    /* gone from the cache: forget them (late answers find no entry) */
    size_t n = sk_map_count(s->table), gone = 0;
    struct ws **stale = malloc((n ? n : 1) * sizeof *stale);
    if (!stale)
        abort();
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(s->table, &i, &k, &v);)
        if (((struct ws *)v)->mark != s->pass)
            stale[gone++] = v;
    for (size_t i = 0; i < gone; i++) {
        sk_map_remove(s->table, stale[i]->key);
        ws_free(stale[i]);
    }
    free(stale);
}

/* ---- events and the stop ---- */

static void emit(sk_idle *s, const sk_workspace *w, const char *type, const char *reason, const char *msg)
{
    sk_kube_event_about(s->kube, "workspace.jupyter.org/v1alpha1", "Workspace", w->ns, w->name, w->uid, type,
                        reason, msg, COMPONENT);
}

static void round_failed(sk_idle *s, struct ws *e, double now)
{
    sk_log(SK_LOG_WARN, "idle probe failed; not stopping", "namespace", e->w->ns, "workspace",
           e->w->name, "result", RESULT_NAMES[e->failure], "reason", e->why, NULL);
    if (!s->leading || now - e->warned_at < s->cfg.warn_every)
        return; /* only the leader writes, Events included */
    e->warned_at = now;
    char msg[512];
    snprintf(msg, sizeof msg, "Idle probe failed (%s): %s. The workspace is not stopped while its "
                              "activity cannot be read.", RESULT_NAMES[e->failure], e->why);
    emit(s, e->w, "Warning", "IdleProbeFailed", msg);
}

static void stop_workspace(sk_idle *s, struct ws *e, double since, double now)
{
    const sk_workspace *w = e->w;
    char last[40], msg[512];
    sk_time_format(since, 0, last, sizeof last);
    double minutes = w->timeout / 60;
    if (s->cfg.dry_run) {
        ADD(&s->would_stop, 1);
        sk_log(SK_LOG_INFO, "idle past its timeout; dry run, not stopping", "namespace", w->ns,
               "workspace", w->name, "idle_since", last, NULL);
        if (now - e->dry_run_at >= s->cfg.warn_every) {
            e->dry_run_at = now;
            snprintf(msg, sizeof msg, "Would stop (dry run): idle since %s, past the idle timeout of "
                                      "%g minutes.", last, minutes);
            emit(s, w, "Normal", "IdleShutdown", msg);
        }
        e->next_due = next_slot(s, e, now);
        return;
    }
    json_t *patch = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "resourceVersion", e->round_rv, "spec",
                              "desiredStatus", "Stopped");
    sk_buf path = SK_BUF_INIT;
    sk_buf_printf(&path, "/apis/workspace.jupyter.org/v1alpha1/namespaces/%s/workspaces/%s", w->ns, w->name);
    sk_err err;
    long st = sk_kube_patch(s->kube, path.data, SK_KUBE_MERGE_PATCH, patch, NULL, &err);
    sk_buf_free(&path);
    json_decref(patch);
    if (st == 200) {
        ADD(&s->shutdowns, 1);
        sk_log(SK_LOG_INFO, "stopped an idle workspace", "namespace", w->ns, "workspace", w->name,
               "idle_since", last, NULL);
        snprintf(msg, sizeof msg, "Stopped after %g minutes without activity: last activity %s, "
                                  "idle timeout %g minutes.", floor((now - since) / 60), last, minutes);
        emit(s, w, "Normal", "IdleShutdown", msg);
        e->next_due = next_slot(s, e, now); /* the watch will show it Stopped */
    } else if (st == 409) {
        ADD(&s->conflicts, 1);
        sk_log(SK_LOG_INFO, "workspace changed since the decision; deciding again", "namespace", w->ns,
               "workspace", w->name, NULL);
        e->next_due = now + RETRY_SOON_S;
    } else if (st != 404) {
        sk_log(SK_LOG_WARN, "could not stop an idle workspace; will try again", "namespace", w->ns,
               "workspace", w->name, "reason", err.msg, NULL);
        e->next_due = now + (s->cfg.interval < 10 ? s->cfg.interval : 10);
    }
}

/* Every probe of the round is in: decide. */
static void decide(sk_idle *s, struct ws *e)
{
    double now = sk_time_now();
    if (e->failure != R_SUCCESS)
        return round_failed(s, e, now);
    double since = sk_idle_since(e->last_active, e->ready_since, now);
    double deadline = since + e->w->timeout;
    if (now < deadline) {
        if (deadline < e->next_due)
            e->next_due = deadline; /* probe again right at the deadline */
        return;
    }
    /* Act only on what is known to be current: the leader, with live
     * caches, on the very version of the workspace the round probed. */
    if (!s->leading)
        return;
    if (!sk_cache_live(s->workspaces) || !sk_cache_live(s->pods) || strcmp(e->w->rv, e->round_rv) != 0) {
        e->next_due = now + RETRY_SOON_S;
        return;
    }
    stop_workspace(s, e, since, now);
}

static void count(sk_idle *s, result r)
{
    ADD(&s->probes[r], 1);
}

static void fail(struct ws *e, result r, const char *why)
{
    if (e->failure == R_SUCCESS) {
        e->failure = r;
        snprintf(e->why, sizeof e->why, "%.255s", why);
    }
}

static result classify(const sk_workspace *w, const sk_probe_result *r, double *active, sk_err *err)
{
    switch (r->outcome) {
    case SK_PROBE_OK: break;
    case SK_PROBE_TIMEOUT: return sk_err_set(err, "%s", r->error), R_TIMEOUT;
    case SK_PROBE_TOO_LARGE: return sk_err_set(err, "%s", r->error), R_TOO_LARGE;
    default: return sk_err_set(err, "%s", r->error), R_CONNECT;
    }
    if (r->status != 200)
        return sk_err_set(err, "the idle endpoint answered HTTP %ld", r->status), R_HTTP;
    if (sk_idle_parse_answer(w, r->body, r->len, active, err) < 0)
        return R_INVALID;
    return R_SUCCESS;
}

static void on_probe(void *ud, const sk_probe_result *r)
{
    struct probe_ctx *ctx = ud;
    sk_idle *s = ctx->s;
    struct ws *e = r->outcome == SK_PROBE_CANCELLED ? NULL : sk_map_get(s->table, ctx->key);
    if (e && e->round == ctx->round) {
        sk_histogram_observe(&s->duration, r->seconds);
        double active = 0;
        sk_err err;
        result res = classify(e->w, r, &active, &err);
        count(s, res);
        if (res == R_SUCCESS) {
            e->last_active = active > e->last_active ? active : e->last_active;
            e->ready_since = ctx->ready_since > e->ready_since ? ctx->ready_since : e->ready_since;
        } else {
            char why[256];
            snprintf(why, sizeof why, "GET %.120s: %.120s", ctx->url, err.msg);
            fail(e, res, why);
        }
        if (--e->pending == 0)
            decide(s, e);
    }
    free(ctx->key);
    free(ctx->url);
    free(ctx);
}

/* Starts a round: one probe per probeable pod of the workspace. */
static void start_round(sk_idle *s, struct ws *e, double now)
{
    e->round++;
    e->failure = R_SUCCESS;
    e->why[0] = '\0';
    e->last_active = e->ready_since = 0;
    free(e->round_rv);
    e->round_rv = strdup(e->w->rv);
    e->next_due = next_slot(s, e, now);

    char group[512];
    snprintf(group, sizeof group, "%s/%s", e->w->ns, e->w->name);
    struct probe_ctx *ctxs[64];
    size_t n = 0;
    result problem = R_SUCCESS;
    sk_err err = {{0}};
    sk_cache_lock(s->pods);
    for (const sk_cache_entry *it = sk_cache_group_first(s->pods, group); it && n < 64;
         it = sk_cache_group_next(it)) {
        const sk_pod *p = sk_cache_entry_item(it);
        if (!sk_pod_probeable(p))
            continue;
        sk_buf url = SK_BUF_INIT;
        if (sk_idle_probe_url(e->w, p, &url, &err) < 0) {
            sk_buf_free(&url);
            problem = R_DETECTION;
            break;
        }
        struct probe_ctx *ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            abort();
        *ctx = (struct probe_ctx){s, strdup(e->key), e->round, p->ready_since, sk_buf_steal(&url)};
        ctxs[n++] = ctx;
    }
    sk_cache_unlock(s->pods);
    if (problem == R_SUCCESS && n == 0) {
        problem = R_NO_POD;
        sk_err_set(&err, "no pod of the workspace is Running and Ready with an IP");
    }
    if (problem != R_SUCCESS) {
        for (size_t i = 0; i < n; i++)
            free(ctxs[i]->key), free(ctxs[i]->url), free(ctxs[i]);
        count(s, problem);
        fail(e, problem, err.msg);
        return decide(s, e);
    }
    e->pending = (int)n;
    for (size_t i = 0; i < n; i++)
        sk_prober_submit_headers(s->prober, ctxs[i]->url, e->w->headers, e->w->nheaders, on_probe, ctxs[i]);
}

static void start_due(sk_idle *s)
{
    double now = sk_time_now();
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(s->table, &i, &k, &v);) {
        struct ws *e = v;
        if (!sk_workspace_in_scope(e->w)) {
            e->next_due = 0;
            continue;
        }
        if (!e->next_due)
            e->next_due = next_slot(s, e, now);
        if (now >= e->next_due && e->pending == 0)
            start_round(s, e, now);
    }
}

void sk_idle_step(sk_idle *s, int leading, int wait_ms)
{
    s->leading = leading;
    reconcile(s);
    /* never decide on a cache that has not been listed once */
    if (leading && sk_cache_synced(s->workspaces) && sk_cache_synced(s->pods))
        start_due(s);
    if (sk_prober_pending(s->prober)) {
        sk_prober_run(s->prober, wait_ms);
    } else if (wait_ms > 0) {
        struct timespec ts = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

sk_idle *sk_idle_new(const sk_idle_config *cfg, sk_kube *k, sk_cache *workspaces, sk_cache *pods)
{
    sk_idle *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->cfg = *cfg;
    s->kube = k;
    s->workspaces = workspaces;
    s->pods = pods;
    s->prober = sk_prober_new(cfg->concurrency, cfg->probe_timeout, SK_IDLE_MAX_BODY);
    s->table = sk_map_new();
    s->seen_version = (unsigned long)-1;
    sk_histogram_init(&s->duration, DURATION_BUCKETS, sizeof DURATION_BUCKETS / sizeof *DURATION_BUCKETS);
    return s;
}

void sk_idle_free(sk_idle *s)
{
    if (!s)
        return;
    sk_prober_free(s->prober); /* cancels what is in flight; contexts are freed */
    const char *k;
    void *v;
    for (size_t i = 0; sk_map_next(s->table, &i, &k, &v);)
        ws_free(v);
    sk_map_free(s->table);
    free(s);
}

void sk_idle_metrics(const sk_idle *s, sk_buf *out)
{
    sk_buf_puts(out, "# HELP spacekeeper_idle_probes_total Idle endpoint probes by result.\n"
                     "# TYPE spacekeeper_idle_probes_total counter\n");
    for (int r = 0; r < R_COUNT; r++)
        sk_buf_printf(out, "spacekeeper_idle_probes_total{result=\"%s\"} %lu\n", RESULT_NAMES[r],
                      LOAD(&s->probes[r]));
    sk_buf_puts(out, "# HELP spacekeeper_idle_probe_duration_seconds Time to an idle endpoint's answer.\n"
                     "# TYPE spacekeeper_idle_probe_duration_seconds histogram\n");
    sk_histogram_render(&s->duration, out, "spacekeeper_idle_probe_duration_seconds", NULL);
    sk_buf_printf(out,
                  "# HELP spacekeeper_idle_shutdowns_total Workspaces stopped for being idle past their timeout.\n"
                  "# TYPE spacekeeper_idle_shutdowns_total counter\n"
                  "spacekeeper_idle_shutdowns_total %lu\n"
                  "# HELP spacekeeper_idle_dry_run_stops_total Stops a dry run would have made.\n"
                  "# TYPE spacekeeper_idle_dry_run_stops_total counter\n"
                  "spacekeeper_idle_dry_run_stops_total %lu\n"
                  "# HELP spacekeeper_idle_stop_conflicts_total Stops refused with 409: the workspace "
                  "changed after the decision, which was then made again.\n"
                  "# TYPE spacekeeper_idle_stop_conflicts_total counter\n"
                  "spacekeeper_idle_stop_conflicts_total %lu\n"
                  "# HELP spacekeeper_idle_workspaces Workspaces running with idle shutdown enabled.\n"
                  "# TYPE spacekeeper_idle_workspaces gauge\n"
                  "spacekeeper_idle_workspaces %ld\n",
                  LOAD(&s->shutdowns), LOAD(&s->would_stop), LOAD(&s->conflicts), LOAD(&s->in_scope));
}
