#include "spacekeeper/metrics.h"

#include <stdio.h>
#include <stdlib.h>

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

struct sk_metrics {
    struct hook_stats hooks[SK_HOOK_COUNT];
    unsigned long reloads_ok, reloads_failed;
};

static const char *const PATHS[] = {"/mutate", "/validate", "other"};

#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

sk_metrics *sk_metrics_new(void)
{
    sk_metrics *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    for (int h = 0; h < SK_HOOK_COUNT; h++)
        sk_histogram_init(&m->hooks[h].latency, BUCKETS, NBUCKETS);
    return m;
}

void sk_metrics_free(sk_metrics *m)
{
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
