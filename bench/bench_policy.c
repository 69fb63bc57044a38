/* make bench: policy-engine throughput on one core.
 *
 * A decision here is what the webhook does per request: parse the
 * AdmissionReview body, run the engine, encode the response. The reference,
 * measured in the same run on the same body, is the JSON work alone (parse
 * and re-encode with jansson), the floor any JSON webhook pays. Scaling rows
 * vary the template's allowed images and the number of templates in the
 * store; flat figures mean lookups are hashed, not scanned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spacekeeper/admission.h"
#include "spacekeeper/arena.h"
#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/violation.h"

#define SECONDS_PER_ROW 0.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A Workspace as a data scientist writes it, with the labels, annotations
 * and scheduling detail real clusters carry: about 4 KB on the wire. */
static json_t *workspace(const char *image, const char *tpl)
{
    json_t *ws = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s}},"
        " s:{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:{s:s},"
        "    s:{s:b, s:i, s:{s:{s:s, s:i}}}, s:s, s:s}}",
        "apiVersion", SK_API_VERSION, "kind", SK_KIND_WORKSPACE, "metadata", "name",
        "alice-analysis", "namespace", "team-a", "labels", "app.kubernetes.io/name", "workspace",
        "app.kubernetes.io/part-of", "ml-platform", "cost-center", "cc-4711", "team", "forecasting",
        "annotations", "description", "quarterly forecasting notebooks", "owner-email",
        "alice@example.com",
        "spec", "displayName", "Alice's analysis", "image", image, "templateRef", "name", tpl,
        "resources", "requests", "cpu", "2", "memory", "8Gi", "limits", "cpu", "4", "memory", "16Gi",
        "storage", "size", "20Gi", "idleShutdown", "enabled", 1, "idleShutdownTimeoutMinutes", 120,
        "detection", "httpGet", "path", "/api/idle", "port", 8888, "desiredStatus", "Running",
        "ownershipType", "OwnerOnly");
    /* scheduling detail: tolerations, affinity, environment */
    json_t *spec = json_object_get(ws, "spec");
    json_t *tol = json_array();
    for (int i = 0; i < 6; i++)
        json_array_append_new(tol, json_pack("{s:s, s:s, s:s, s:s}", "key", "nvidia.com/gpu",
                                             "operator", "Equal", "value", "present", "effect",
                                             "NoSchedule"));
    json_object_set_new(spec, "tolerations", tol);
    json_t *env = json_array();
    char name[64], value[128];
    for (int i = 0; i < 30; i++) {
        snprintf(name, sizeof name, "FEATURE_FLAG_%02d", i);
        snprintf(value, sizeof value, "s3://team-a-bucket/experiments/run-%04d/config.json", i);
        json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
    }
    json_object_set_new(spec, "containerConfig", json_pack("{s:o}", "env", env));
    json_object_set_new(spec, "nodeSelector",
                        json_pack("{s:s, s:s}", "node.kubernetes.io/instance-type", "ml.g5.2xlarge",
                                  "topology.kubernetes.io/zone", "us-east-1a"));
    return ws;
}

static char *review_body(const json_t *ws)
{
    json_t *r = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s, s:[s, s]}, s:O}}", "apiVersion",
                          SK_ADMISSION_API_VERSION, "kind", "AdmissionReview", "request", "uid",
                          "0df28fbd-5f5f-11e8-bc74-36e6bb280816", "operation", "CREATE",
                          "namespace", "team-a", "userInfo", "username", "alice", "groups",
                          "system:authenticated", "data-science", "object", ws);
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return s;
}

static json_t *template_json(const char *name, size_t images)
{
    json_t *allowed = json_array();
    char img[96];
    for (size_t i = 0; i < images; i++) {
        snprintf(img, sizeof img, "registry.example.com/team/image-%05zu:2026.%zu", i, i % 12);
        json_array_append_new(allowed, json_string(img));
    }
    return json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:o, s:{s:{s:s, s:s}, s:{s:s, s:s}},"
        " s:{s:{s:{s:s, s:s}, s:{s:s, s:s}}},"
        " s:{s:s, s:s, s:s, s:s, s:s}, s:{s:b, s:i, s:{s:{s:s, s:i}}}, s:{s:b, s:i, s:i}, s:s}}",
        "apiVersion", SK_API_VERSION, "kind", SK_KIND_TEMPLATE, "metadata", "name", name,
        "namespace", "team-a", "spec", "defaultImage", img, "allowedImages", allowed,
        "defaultResources", "requests", "cpu", "1", "memory", "4Gi", "limits", "cpu", "4",
        "memory", "16Gi", "resourceBounds", "resources", "cpu", "min", "100m", "max", "16", "memory", "min",
        "1Gi", "max", "64Gi", "primaryStorage", "defaultSize", "10Gi", "minSize", "5Gi", "maxSize",
        "100Gi", "defaultStorageClassName", "gp3", "defaultMountPath", "/home/sagemaker-user",
        "defaultIdleShutdown", "enabled", 1, "idleShutdownTimeoutMinutes", 60, "detection",
        "httpGet", "path", "/api/idle", "port", 8888, "idleShutdownOverrides", "allow", 1,
        "minTimeoutMinutes", 30, "maxTimeoutMinutes", 480, "appType", "jupyterlab");
}

/* The store, with the template the workspace uses among `count`. Its image
 * is the last of its allowed list, the worst case for a scan. */
static sk_store *make_store(size_t count, size_t images, char *image, size_t cap)
{
    sk_store *s = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    json_t *used = template_json("forecasting", images);
    snprintf(image, cap, "%s", json_string_value(json_array_get(
                                   sk_json_get(used, "spec", "allowedImages", NULL), images - 1)));
    sk_store_put(s, sk_template_new(used, SK_DEFAULT_SHARED_NAMESPACE, NULL));
    json_decref(used);
    json_t *filler = template_json("filler", 1);
    char name[64];
    for (size_t i = 1; i < count; i++) {
        snprintf(name, sizeof name, "template-%06zu", i);
        json_object_set_new(json_object_get(filler, "metadata"), "name", json_string(name));
        json_t *copy = json_deep_copy(filler);
        sk_store_put(s, sk_template_new(copy, SK_DEFAULT_SHARED_NAMESPACE, NULL));
        json_decref(copy);
    }
    json_decref(filler);
    return s;
}

static int sink;

/* One webhook decision: parse, review, encode. */
static void decide(const sk_policy_config *cfg, const sk_store *s, const char *body, size_t len)
{
    sk_review r;
    if (sk_review_parse(body, len, &r, NULL) != SK_REVIEW_OK)
        abort();
    sk_decision d;
    r.req.scratch = (json_t *)r.req.object; /* as the server does */
    sk_policy_review(cfg, s, &r.req, &d);
    if (!d.allowed) {
        fprintf(stderr, "bench workspace denied\n");
        abort();
    }
    json_t *resp = sk_review_response(&r, &d, SK_RESPOND_PATCH | SK_RESPOND_VERDICT);
    char *out = sk_json_dumps(resp, JSON_COMPACT);
    sink += (int)strlen(out);
    free(out);
    json_decref(resp);
    sk_decision_free(&d);
    sk_review_free(&r);
}

static void reference(const char *body, size_t len)
{
    json_t *v = json_loadb(body, len, 0, NULL);
    char *out = sk_json_dumps(v, JSON_COMPACT);
    sink += (int)strlen(out);
    free(out);
    json_decref(v);
}

typedef void (*bench_fn)(void *ctx);

struct ctx {
    const sk_policy_config *cfg;
    const sk_store *store;
    const char *body;
    size_t len;
};

/* Both run in a request arena, as the server runs decisions. */
static void run_decide(void *p)
{
    struct ctx *c = p;
    sk_arena_begin();
    decide(c->cfg, c->store, c->body, c->len);
    sk_arena_end();
}

static void run_reference(void *p)
{
    struct ctx *c = p;
    sk_arena_begin();
    reference(c->body, c->len);
    sk_arena_end();
}

/* Operations per second, timed in batches until SECONDS_PER_ROW has passed. */
static double rate(bench_fn fn, void *ctx)
{
    for (int i = 0; i < 200; i++) /* warm caches and the allocator */
        fn(ctx);
    long n = 0;
    double start = now(), elapsed;
    do {
        for (int i = 0; i < 500; i++)
            fn(ctx);
        n += 500;
        elapsed = now() - start;
    } while (elapsed < SECONDS_PER_ROW);
    return (double)n / elapsed;
}

/* One row: decisions/s with `templates` in the store and `images` allowed by
 * the workspace's template; the ratio is to `first` (or sets it). */
static void scaling_row(const sk_policy_config *cfg, size_t templates, size_t images,
                        double *set_first, double first)
{
    char image[128], label[64];
    double t0 = now();
    sk_store *s = make_store(templates, images, image, sizeof image);
    double built = now() - t0;
    json_t *ws = workspace(image, "forecasting");
    char *body = review_body(ws);
    struct ctx k = {cfg, s, body, strlen(body)};
    double r = rate(run_decide, &k);
    if (set_first)
        *set_first = first = r;
    if (images > 1)
        snprintf(label, sizeof label, "allowed images: %zu", images);
    else if (templates > 10)
        snprintf(label, sizeof label, "templates in store: %zu", templates);
    else
        snprintf(label, sizeof label, "baseline: 10 templates, 1 image");
    printf("%-44s %12.0f %10.2f   %.2f   (store built in %.2f s)\n", label, r, 1e6 / r, r / first,
           built);
    json_decref(ws);
    free(body);
    sk_store_free(s);
}

int main(void)
{
    sk_arena_install();
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    char image[128];

    sk_store *base = make_store(10, 1, image, sizeof image);
    json_t *ws = workspace(image, "forecasting");
    char *body = review_body(ws);
    size_t len = strlen(body);
    struct ctx c = {&cfg, base, body, len};
    double ref = rate(run_reference, &c);
    double dec = rate(run_decide, &c);
    printf("policy engine, one core, AdmissionReview body of %zu bytes\n\n", len);
    printf("%-44s %12s %10s\n", "case", "per second", "us each");
    printf("%-44s %12.0f %10.2f\n", "reference: jansson parse + encode only", ref, 1e6 / ref);
    printf("%-44s %12.0f %10.2f   (%.2fx the reference's time)\n",
           "decision: parse + defaults + checks + encode", dec, 1e6 / dec, ref / dec);
    json_decref(ws);
    free(body);
    sk_store_free(base);

    printf("\nscaling (decisions/s; ratio to the first row of its group)\n");
    static const size_t images[] = {1, 50, 5000};
    static const size_t templates[] = {10, 1000, 100000};
    double first = 0;
    for (size_t i = 0; i < 3; i++)
        scaling_row(&cfg, 10, images[i], i == 0 ? &first : NULL, first);
    for (size_t i = 0; i < 3; i++)
        scaling_row(&cfg, templates[i], 1, i == 0 ? &first : NULL, first);
    return sink == 42; /* keep the work observable */
}
