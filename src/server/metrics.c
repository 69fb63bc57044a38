#include "spacekeeper/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/histogram.h"

static const double BUCKETS[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,  5, 10};
#define NBUCKETS (sizeof BUCKETS / sizeof *BUCKETS)

/* The HTTP codes the server answers with; anything else counts as 500. */
static const unsigned CODES[] = {200, 400, 403, 404, 405, 413, 415, 500, 503};
#define NCODES (sizeof CODES / sizeof *CODES)

struct hook_stats {
    unsigned long requests[NCODES];
    sk_histogram latency;
    long in_flight;
    unsigned long allowed, denied, patched;
};

#define REASON_MAX 48
#define NOPS 4 /* sk_operation: CREATE, UPDATE, DELETE, CONNECT */

struct sk_metrics {
    struct hook_stats hooks[SK_HOOK_COUNT];
    unsigned long reloads_ok, reloads_failed;
    /* reviews by webhook (mutate, validate), operation and verdict */
    sk_histogram reviews[SK_HOOK_OTHER][NOPS][SK_VERDICT_COUNT];
    pthread_mutex_t reasons_lock;
    struct {
        char name[REASON_MAX];
        unsigned long denials;
    } reasons[SK_METRICS_MAX_REASONS];
    size_t nreasons;
    unsigned long other_denials;
    unsigned long connect_unverified;
};

static const char *const PATHS[SK_HOOK_COUNT] = {
    [SK_HOOK_MUTATE] = "/mutate", [SK_HOOK_VALIDATE] = "/validate",
    [SK_HOOK_CONNECT] = "/validate-pods-connect", [SK_HOOK_OTHER] = "other"};
static const char *const VERDICTS[SK_VERDICT_COUNT] = {"allowed", "denied", "patched"};

#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

sk_metrics *sk_metrics_new(void)
{
    sk_metrics *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    for (int h = 0; h < SK_HOOK_COUNT; h++)
        sk_histogram_init(&m->hooks[h].latency, BUCKETS, NBUCKETS);
    for (int h = 0; h < SK_HOOK_OTHER; h++)
        for (int op = 0; op < NOPS; op++)
            for (int v = 0; v < SK_VERDICT_COUNT; v++)
                sk_histogram_init(&m->reviews[h][op][v], BUCKETS, NBUCKETS);
    pthread_mutex_init(&m->reasons_lock, NULL);
    return m;
}

void sk_metrics_free(sk_metrics *m)
{
    if (m)
        pthread_mutex_destroy(&m->reasons_lock);
    free(m);
}

const char *sk_hook_path(sk_hook h)
{
    return PATHS[h];
}

void sk_metrics_start(sk_metrics *m, sk_hook h)
{
    ADD(&m->hooks[h].in_flight, 1);
}

void sk_metrics_done(sk_metrics *m, sk_hook h, unsigned code, double seconds)
{
    struct hook_stats *s = &m->hooks[h];
    ADD(&s->in_flight, -1);
    size_t c = NCODES - 2; /* 500 */
    for (size_t i = 0; i < NCODES; i++)
        if (CODES[i] == code)
            c = i;
    ADD(&s->requests[c], 1);
    sk_histogram_observe(&s->latency, seconds);
}

void sk_metrics_decision(sk_metrics *m, sk_hook h, int allowed, int patched)
{
    struct hook_stats *s = &m->hooks[h];
    ADD(allowed ? &s->allowed : &s->denied, 1);
    if (patched)
        ADD(&s->patched, 1);
}

void sk_metrics_cert_reload(sk_metrics *m, int ok)
{
    ADD(ok ? &m->reloads_ok : &m->reloads_failed, 1);
}

void sk_metrics_review(sk_metrics *m, sk_hook h, sk_operation op, sk_verdict v, double seconds)
{
    if (h < SK_HOOK_OTHER && (unsigned)op < NOPS && (unsigned)v < SK_VERDICT_COUNT)
        sk_histogram_observe(&m->reviews[h][op][v], seconds);
}

/* The reason a violation counts under: its field up to the second '.' or
 * the first '[' ("spec.storage.size" -> "spec.storage"), in characters a
 * label value shows as they are; "unknown" for none. */
static void reason_of(const json_t *violation, char *out, size_t size)
{
    const char *field = json_string_value(json_object_get(violation, "field"));
    size_t n = 0;
    for (int dots = 0; field && *field && *field != '[' && n + 1 < size; field++) {
        if (*field == '.' && ++dots == 2)
            break;
        char c = *field;
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';
        out[n++] = plain ? c : '_';
    }
    snprintf(out + n, size - n, "%s", n ? "" : "unknown");
}

static unsigned long *find_reason(sk_metrics *m, const char *reason)
{
    size_t n = __atomic_load_n(&m->nreasons, __ATOMIC_ACQUIRE);
    for (size_t r = 0; r < n; r++)
        if (strcmp(m->reasons[r].name, reason) == 0)
            return &m->reasons[r].denials;
    return NULL;
}

/* The counter of `reason`, added if new. A name is written once, under the
 * lock, before the count that publishes it, so readers take no lock. */
static unsigned long *reason_slot(sk_metrics *m, const char *reason)
{
    unsigned long *slot = find_reason(m, reason);
    if (slot)
        return slot;
    pthread_mutex_lock(&m->reasons_lock);
    if (!(slot = find_reason(m, reason))) {
        size_t n = m->nreasons;
        slot = &m->other_denials;
        if (n < SK_METRICS_MAX_REASONS) {
            snprintf(m->reasons[n].name, sizeof m->reasons[n].name, "%s", reason);
            slot = &m->reasons[n].denials;
            __atomic_store_n(&m->nreasons, n + 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&m->reasons_lock);
    return slot;
}

void sk_metrics_denial(sk_metrics *m, const json_t *violations)
{
    size_t i, j;
    const json_t *v, *w;
    json_array_foreach(violations, i, v) {
        char reason[REASON_MAX], earlier[REASON_MAX];
        reason_of(v, reason, sizeof reason);
        int repeated = 0;
        json_array_foreach(violations, j, w) {
            if (j == i)
                break;
            reason_of(w, earlier, sizeof earlier);
            repeated |= strcmp(earlier, reason) == 0;
        }
        if (!repeated) /* once per review */
            ADD(reason_slot(m, reason), 1);
    }
}

void sk_metrics_connect_unverified(sk_metrics *m)
{
    ADD(&m->connect_unverified, 1);
}

void sk_metrics_render(const sk_metrics *m, sk_buf *out, const sk_metrics_gauges *g)
{
    sk_buf_puts(out, "# HELP controller_runtime_webhook_requests_total Total number of admission "
                     "requests by HTTP status code.\n"
                     "# TYPE controller_runtime_webhook_requests_total counter\n");
    for (int h = 0; h < SK_HOOK_COUNT; h++)
        for (size_t c = 0; c < NCODES; c++) {
            unsigned long v = LOAD(&m->hooks[h].requests[c]);
            if (v || CODES[c] == 200)
                sk_buf_printf(out,
                              "controller_runtime_webhook_requests_total{code=\"%u\",webhook=\"%s\"} %lu\n",
                              CODES[c], PATHS[h], v);
        }
    sk_buf_puts(out, "# HELP controller_runtime_webhook_latency_seconds Histogram of the latency "
                     "of processing admission requests.\n"
                     "# TYPE controller_runtime_webhook_latency_seconds histogram\n");
    for (int h = 0; h < SK_HOOK_COUNT; h++) {
        char labels[64];
        snprintf(labels, sizeof labels, "webhook=\"%s\"", PATHS[h]);
        sk_histogram_render(&m->hooks[h].latency, out, "controller_runtime_webhook_latency_seconds", labels);
    }
    sk_buf_puts(out, "# HELP controller_runtime_webhook_requests_in_flight Current number of "
                     "admission requests being served.\n"
                     "# TYPE controller_runtime_webhook_requests_in_flight gauge\n");
    for (int h = 0; h < SK_HOOK_COUNT; h++)
        sk_buf_printf(out, "controller_runtime_webhook_requests_in_flight{webhook=\"%s\"} %ld\n",
                      PATHS[h], LOAD(&m->hooks[h].in_flight));
    sk_buf_puts(out, "# HELP spacekeeper_admission_decisions_total Admission decisions by outcome.\n"
                     "# TYPE spacekeeper_admission_decisions_total counter\n");
    for (int h = 0; h < SK_HOOK_OTHER; h++)
        sk_buf_printf(out,
                      "spacekeeper_admission_decisions_total{webhook=\"%s\",outcome=\"allowed\"} %lu\n"
                      "spacekeeper_admission_decisions_total{webhook=\"%s\",outcome=\"denied\"} %lu\n"
                      "spacekeeper_admission_decisions_total{webhook=\"%s\",outcome=\"patched\"} %lu\n",
                      PATHS[h], LOAD(&m->hooks[h].allowed), PATHS[h], LOAD(&m->hooks[h].denied),
                      PATHS[h], LOAD(&m->hooks[h].patched));
    sk_buf_puts(out, "# HELP spacekeeper_admission_review_duration_seconds Latency of the requests the "
                     "policy engine reviewed, by webhook, operation and verdict.\n"
                     "# TYPE spacekeeper_admission_review_duration_seconds histogram\n");
    for (int h = 0; h < SK_HOOK_OTHER; h++)
        for (int op = 0; op < NOPS; op++)
            for (int v = 0; v < SK_VERDICT_COUNT; v++) {
                const sk_histogram *hist = &m->reviews[h][op][v];
                if (!LOAD(&hist->count))
                    continue;
                char labels[96];
                snprintf(labels, sizeof labels, "webhook=\"%s\",operation=\"%s\",verdict=\"%s\"", PATHS[h],
                         sk_operation_name((sk_operation)op), VERDICTS[v]);
                sk_histogram_render(hist, out, "spacekeeper_admission_review_duration_seconds", labels);
            }
    sk_buf_puts(out, "# HELP spacekeeper_admission_denials_total Denied reviews by reason: the violated "
                     "field's first two segments, once per review.\n"
                     "# TYPE spacekeeper_admission_denials_total counter\n");
    size_t nreasons = __atomic_load_n(&m->nreasons, __ATOMIC_ACQUIRE);
    for (size_t r = 0; r < nreasons; r++)
        sk_buf_printf(out, "spacekeeper_admission_denials_total{reason=\"%s\"} %lu\n", m->reasons[r].name,
                      LOAD(&m->reasons[r].denials));
    if (LOAD(&m->other_denials))
        sk_buf_printf(out, "spacekeeper_admission_denials_total{reason=\"other\"} %lu\n",
                      LOAD(&m->other_denials));
    sk_buf_printf(out,
                  "# HELP spacekeeper_templates WorkspaceTemplates in the store.\n"
                  "# TYPE spacekeeper_templates gauge\nspacekeeper_templates %zu\n"
                  "# HELP spacekeeper_ready Whether the templates are loaded and requests are served.\n"
                  "# TYPE spacekeeper_ready gauge\nspacekeeper_ready %d\n"
                  "# HELP spacekeeper_certificate_expiry_timestamp_seconds notAfter of the serving certificate.\n"
                  "# TYPE spacekeeper_certificate_expiry_timestamp_seconds gauge\n"
                  "spacekeeper_certificate_expiry_timestamp_seconds %.0f\n"
                  "# HELP spacekeeper_certificate_reloads_total Certificate reloads by result.\n"
                  "# TYPE spacekeeper_certificate_reloads_total counter\n"
                  "spacekeeper_certificate_reloads_total{result=\"success\"} %lu\n"
                  "spacekeeper_certificate_reloads_total{result=\"failure\"} %lu\n",
                  g->templates, g->ready, g->cert_not_after, LOAD(&m->reloads_ok),
                  LOAD(&m->reloads_failed));
    sk_buf_printf(out,
                  "# HELP spacekeeper_connect_unverified_total Pod exec, attach and port-forward requests "
                  "allowed because their pod or workspace could not be looked up.\n"
                  "# TYPE spacekeeper_connect_unverified_total counter\n"
                  "spacekeeper_connect_unverified_total %lu\n",
                  LOAD(&m->connect_unverified));
    if (g->watching)
        sk_buf_printf(out,
                      "# HELP spacekeeper_template_watch_restarts_total Template watches lost to errors.\n"
                      "# TYPE spacekeeper_template_watch_restarts_total counter\n"
                      "spacekeeper_template_watch_restarts_total %lu\n"
                      "# HELP spacekeeper_template_relists_total Full template LISTs after the first (410 Gone).\n"
                      "# TYPE spacekeeper_template_relists_total counter\n"
                      "spacekeeper_template_relists_total %lu\n",
                      g->watch_restarts, g->relists);
}
