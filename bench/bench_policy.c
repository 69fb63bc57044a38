/* make bench: policy-engine throughput on one core.
 *
 * A decision here is what the webhook does per request: parse the
 * AdmissionReview body, run the engine, encode the response. The reference,
 * measured in the same run on the same body, is the JSON work alone (parse
 * and re-encode with jansson), what a webhook on plain jansson pays. The
 * decode rows time sk_json_decode against json_loadb on the same bodies:
 * this review, one as kubectl apply sends it, and one of about 1 MiB.
 * Scaling rows vary the template's allowed images and the number of
 * templates in the store; flat figures mean lookups are hashed, not scanned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spacekeeper/admission.h"
#include "spacekeeper/arena.h"
#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/json_decode.h"
#include "spacekeeper/service_account.h"
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

/* The workspace as `kubectl apply` sends it: the last-applied annotation
 * (1.5 KB of JSON in a string, quotes escaped) and 8 managedFields entries,
 * none of which the policy reads. */
static json_t *kubectl_workspace(const char *image, const char *tpl)
{
    json_t *ws = workspace(image, tpl);
    char *applied = json_dumps(ws, JSON_COMPACT);
    applied[1536] = '\0';
    json_t *meta = json_object_get(ws, "metadata");
    json_object_set_new(json_object_get(meta, "annotations"),
                        "kubectl.kubernetes.io/last-applied-configuration", json_string(applied));
    free(applied);
    json_t *fields = json_array();
    for (int i = 0; i < 8; i++)
        json_array_append_new(
            fields,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:{s:{}, s:{}, s:{}}, s:{s:{}, s:{}}},"
                      " s:{s:{}, s:{}, s:{s:{s:{}, s:{}}, s:{s:{}, s:{}}}, s:{s:{}}}}}",
                      "manager", i % 2 ? "kubectl-client-side-apply" : "spacekeeper-controller",
                      "operation", "Update", "apiVersion", SK_API_VERSION, "time",
                      "2026-01-15T10:00:00Z", "fieldsType", "FieldsV1", "fieldsV1", "f:metadata",
                      "f:annotations", ".", "f:description", "f:kubectl.kubernetes.io/last-applied-configuration",
                      "f:labels", ".", "f:team", "f:spec", "f:image", "f:displayName",
                      "f:resources", "f:limits", "f:cpu", "f:memory", "f:requests", "f:cpu",
                      "f:memory", "f:storage", "f:size"));
    json_object_set_new(meta, "managedFields", fields);
    return ws;
}

/* The workspace padded with environment variables to about 1 MiB. */
static json_t *huge_workspace(const char *image, const char *tpl)
{
    json_t *ws = workspace(image, tpl);
    json_t *env = sk_json_get(ws, "spec", "containerConfig", "env", NULL);
    char name[64], value[128];
    for (int i = 0; i < 11000; i++) {
        snprintf(name, sizeof name, "EXTRA_SETTING_%05d", i);
        snprintf(value, sizeof value, "s3://team-a-bucket/experiments/run-%05d/config.json", i);
        json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
    }
    return ws;
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

/* The same template with every rule the workspace operator adds: base
 * environment and labels, requirements with patterns, default init
 * containers and the container defaults. */
static json_t *operator_template_json(void)
{
    json_t *t = template_json("forecasting", 1);
    json_t *spec = json_object_get(t, "spec");
    json_object_update(spec, json_pack(
        "{s:[{s:s, s:s}, {s:s, s:s}], s:[{s:s, s:b, s:s}, {s:s, s:s}, {s:s, s:b}],"
        " s:[{s:s, s:s}, {s:s, s:s}], s:[{s:s, s:b, s:s}, {s:s, s:s}],"
        " s:[{s:s, s:s, s:[s, s, s]}], s:{s:{s:s, s:i}}, s:{s:b}, s:s}",
        "baseEnv", "name", "TZ", "value", "UTC", "name", "PIP_INDEX_URL", "value",
        "https://pypi.example.com/simple", "envRequirements", "name", "FEATURE_FLAG_00", "required",
        1, "regex", "^s3://team-[a-z]+-bucket/", "name", "FEATURE_FLAG_01", "regex", "config\\.json$",
        "name", "FEATURE_FLAG_02", "required", 1, "baseLabels", "key", "platform", "value", "spaces",
        "key", "tier", "value", "dev", "labelRequirements", "key", "cost-center", "required", 1,
        "regex", "^cc-[0-9]{4}$", "key", "team", "regex", "^[a-z]+$", "defaultInitContainers", "name",
        "fetch-config", "image", "registry.example.com/tools/fetch:1", "command", "sh", "-c", "true",
        "defaultReadinessProbe", "httpGet", "path", "/api", "port", 8888,
        "defaultContainerSecurityContext", "runAsNonRoot", 1, "defaultAccessType", "OwnerOnly"));
    return t;
}

/* 1,000 ServiceAccounts over 100 namespaces, the workspace's among them. */
static sk_sa_index *make_accounts(void)
{
    sk_sa_index *idx = sk_sa_index_new();
    char name[64], ns[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, i == 0 ? "forecasting-s3" : "sa-%04d", i);
        snprintf(ns, sizeof ns, "team-%s", i % 100 ? "x" : "a");
        json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}}", "apiVersion", "v1", "kind",
                              "ServiceAccount", "metadata", "name", name, "namespace", ns,
                              "annotations", SK_ANNOTATION_SA_USERS, "[alice, bob]",
                              SK_ANNOTATION_SA_GROUPS, "[data-science]");
        sk_sa_index_put(idx, sk_service_account_new(o));
        json_decref(o);
    }
    return idx;
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
    char *out = sk_review_render(&r, &d, SK_RESPOND_PATCH | SK_RESPOND_VERDICT);
    sink += (int)strlen(out);
    free(out);
    sk_decision_free(&d);
    sk_review_free(&r);
}

static int count_chunk(const char *data, size_t size, void *ud)
{
    (void)data;
    *(size_t *)ud += size;
    return 0;
}

/* jansson's own parse and dump, as any JSON webhook on jansson would pay. */
static void reference(const char *body, size_t len)
{
    json_t *v = json_loadb(body, len, 0, NULL);
    size_t n = 0;
    json_dump_callback(v, count_chunk, &n, JSON_COMPACT);
    sink += (int)n;
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

/* Operations per second over SECONDS_PER_ROW, after a short warm-up (caches
 * and the allocator). The clock is read per call: calls take microseconds. */
static double rate(bench_fn fn, void *ctx)
{
    double start = now(), elapsed;
    do
        fn(ctx);
    while (now() - start < SECONDS_PER_ROW / 10);
    long n = 0;
    start = now();
    do {
        fn(ctx);
        n++;
        elapsed = now() - start;
    } while (elapsed < SECONDS_PER_ROW);
    return (double)n / elapsed;
}

/* Decoding alone, both ways, with the server's flags. */
static void run_loadb(void *p)
{
    struct ctx *c = p;
    sk_arena_begin();
    json_decref(json_loadb(c->body, c->len, JSON_REJECT_DUPLICATES, NULL));
    sk_arena_end();
}

static void run_decode(void *p)
{
    struct ctx *c = p;
    sk_arena_begin();
    json_t *v = sk_json_decode(c->body, c->len, JSON_REJECT_DUPLICATES, NULL);
    if (!v)
        abort();
    json_decref(v);
    sk_arena_end();
}

static void decode_row(const char *label, json_t *ws)
{
    char *body = review_body(ws);
    struct ctx c = {NULL, NULL, body, strlen(body)};
    double jansson = rate(run_loadb, &c), ours = rate(run_decode, &c);
    printf("%-36s %8zu %14.2f %17.2f %8.1fx\n", label, c.len, 1e6 / jansson, 1e6 / ours,
           ours / jansson);
    free(body);
    json_decref(ws);
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

    /* The operator's rules on top: regular expressions, merges by name,
     * the ServiceAccount grant. */
    sk_store *op = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    json_t *opt = operator_template_json();
    sk_store_put(op, sk_template_new(opt, SK_DEFAULT_SHARED_NAMESPACE, NULL));
    json_decref(opt);
    sk_sa_index *accounts = make_accounts();
    sk_sa_source source = sk_sa_index_source(accounts);
    sk_policy_config opcfg = cfg;
    opcfg.service_accounts = &source;
    ws = workspace(json_string_value(sk_json_get(sk_store_get(op, "team-a", "forecasting")->spec,
                                                 "defaultImage", NULL)),
                   "forecasting");
    json_object_set_new(json_object_get(ws, "spec"), "serviceAccountName",
                        json_string("forecasting-s3"));
    /* the same variables, where the operator reads them: the body stays the same size */
    json_t *wspec = json_object_get(ws, "spec");
    json_object_set(wspec, "env", sk_json_get(wspec, "containerConfig", "env", NULL));
    json_object_del(wspec, "containerConfig");
    body = review_body(ws);
    struct ctx oc = {&opcfg, op, body, strlen(body)};
    double opr = rate(run_decide, &oc);
    printf("%-44s %12.0f %10.2f   (%.2fx the decision's time; body of %zu bytes)\n",
           "decision, with the operator's rules too", opr, 1e6 / opr, dec / opr, oc.len);
    json_decref(ws);
    free(body);
    sk_store_free(op);
    sk_sa_index_free(accounts);

    printf("\nJSON decode alone, in the request arena, duplicate keys refused (as the server)\n\n");
    printf("%-36s %8s %14s %17s %9s\n", "AdmissionReview body", "bytes", "json_loadb us",
           "sk_json_decode us", "speedup");
    decode_row("the benchmark's review", workspace(image, "forecasting"));
    decode_row("kubectl: last-applied, managedFields", kubectl_workspace(image, "forecasting"));
    decode_row("1 MiB review", huge_workspace(image, "forecasting"));

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
