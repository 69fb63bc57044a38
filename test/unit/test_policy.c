/* The policy engine on Workspaces: every row of the rule table, template
 * resolution, metadata stamping, ownership and UPDATE semantics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/violation.h"
#include "th.h"

static sk_store *store;

static void setup(void)
{
    store = th_fixture_store();
}

static void teardown(void)
{
    sk_store_free(store);
}

#define WS_HEAD "apiVersion: workspace.jupyter.org/v1alpha1\nkind: Workspace\n"

/* A CREATE by alice of the given workspace YAML. */
static void create(const char *yaml, sk_decision *d)
{
    json_t *obj = th_yaml(yaml);
    sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = "alice"};
    th_review(store, &req, d);
    json_decref(obj);
}

static void update_as(const char *old_yaml, const char *new_yaml, const char *user,
                      const char *const *groups, sk_decision *d)
{
    json_t *old = th_yaml(old_yaml), *obj = th_yaml(new_yaml);
    sk_request req = {.op = SK_OP_UPDATE, .object = obj, .old_object = old, .user = user,
                      .groups = groups};
    th_review(store, &req, d);
    json_decref(old);
    json_decref(obj);
}

/* The workspace after a CREATE by alice, defaulted, as the cluster stores it. */
static json_t *created(const char *yaml)
{
    sk_decision d;
    create(yaml, &d);
    ck_assert_msg(d.allowed, "setup workspace denied: %s", th_violations(&d));
    json_t *obj = json_incref(d.object);
    sk_decision_free(&d);
    return obj;
}

static char *to_yaml_json(const json_t *obj)
{
    return json_dumps(obj, JSON_COMPACT); /* JSON is YAML */
}

static const json_t *spec_at(const sk_decision *d, const char *key)
{
    return json_object_get(json_object_get(d->object, "spec"), key);
}

static void assert_json(const json_t *got, const char *want_json)
{
    json_t *want = json_loads(want_json, JSON_DECODE_ANY, NULL);
    ck_assert_msg(want != NULL, "bad expected JSON %s", want_json);
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_msg(json_equal((json_t *)got, want), "got %s, want %s", g ? g : "(null)", want_json);
    free(g);
    json_decref(want);
}

/* ---- defaults: every row ---- */

/* A long message of multi-byte characters is kept whole: a cut in the
 * middle of a character would be invalid UTF-8 and lose the denial. */
START_TEST(test_long_violation_messages_are_kept)
{
    sk_buf image = SK_BUF_INIT;
    for (int i = 0; i < 700; i++)
        sk_buf_puts(&image, "\xc3\xa9"); /* é */
    json_t *violations = json_array();
    sk_violation_add(violations, "spec.image", "spec.image \"%s\" is not allowed", image.data);
    ck_assert_uint_eq(json_array_size(violations), 1);
    const char *msg = sk_json_str(json_array_get(violations, 0), "message", NULL);
    ck_assert_ptr_nonnull(msg);
    ck_assert_uint_gt(strlen(msg), 1400);
    /* and a message that is not UTF-8 still records the denial */
    sk_violation_add(violations, "spec.image", "bad \xff byte");
    ck_assert_uint_eq(json_array_size(violations), 2);
    ck_assert_str_eq(sk_json_str(json_array_get(violations, 1), "field", NULL), "spec.image");
    json_decref(violations);
    sk_buf_free(&image);
}
END_TEST

START_TEST(test_defaults_fill_every_row)
{
    sk_decision d;
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  templateRef: {name: locked}\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    assert_json(spec_at(&d, "image"), "\"img:locked\"");
    assert_json(spec_at(&d, "containerConfig"), "{\"command\":[\"/bin/entrypoint\"]}");
    assert_json(spec_at(&d, "podSecurityContext"), "{\"fsGroup\":1000}");
    assert_json(spec_at(&d, "ownershipType"), "\"OwnerOnly\"");
    assert_json(spec_at(&d, "accessStrategy"), "{\"name\":\"hyperpod-access-strategy\"}");
    assert_json(spec_at(&d, "lifecycle"),
                "{\"postStart\":{\"exec\":{\"command\":[\"/bin/sh\",\"-c\",\"echo hello\"]}}}");
    assert_json(spec_at(&d, "nodeSelector"), "{\"node.kubernetes.io/instance-type\":\"ml.g5.xlarge\"}");
    ck_assert_ptr_nonnull(sk_json_get(d.object, "spec", "affinity", "nodeAffinity", NULL));
    assert_json(spec_at(&d, "tolerations"),
                "[{\"key\":\"nvidia.com/gpu\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]");
    assert_json(sk_json_get(d.object, "spec", "idleShutdown", "idleShutdownTimeoutMinutes", NULL), "30");
    assert_json(spec_at(&d, "appType"), "\"code-editor\"");
    assert_json(spec_at(&d, "desiredStatus"), "\"Running\"");
    sk_decision_free(&d);

    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {}\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    assert_json(spec_at(&d, "image"), "\"img:1\"");
    assert_json(spec_at(&d, "resources"),
                "{\"requests\":{\"cpu\":\"500m\",\"memory\":\"2Gi\"},\"limits\":{\"cpu\":\"2\",\"memory\":\"8Gi\"}}");
    assert_json(spec_at(&d, "storage"),
                "{\"size\":\"10Gi\",\"storageClassName\":\"gp3\",\"mountPath\":\"/home/sagemaker-user\"}");
    assert_json(spec_at(&d, "ownershipType"), "\"Public\""); /* fallback: template has none */
    assert_json(spec_at(&d, "appType"), "\"jupyterlab\"");
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_defaults_never_override)
{
    sk_decision d;
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  image: img:2\n"
                   "  storage: {size: 20Gi}\n  resources:\n    requests: {cpu: \"1\"}\n"
                   "  desiredStatus: Stopped\n  ownershipType: OwnerOnly\n",
           &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    assert_json(spec_at(&d, "image"), "\"img:2\"");
    assert_json(spec_at(&d, "storage"),
                "{\"size\":\"20Gi\",\"storageClassName\":\"gp3\",\"mountPath\":\"/home/sagemaker-user\"}");
    /* resources fill leaf by leaf: the user's cpu request stays */
    assert_json(spec_at(&d, "resources"),
                "{\"requests\":{\"cpu\":\"1\",\"memory\":\"2Gi\"},\"limits\":{\"cpu\":\"2\",\"memory\":\"8Gi\"}}");
    assert_json(spec_at(&d, "desiredStatus"), "\"Stopped\"");
    assert_json(spec_at(&d, "ownershipType"), "\"OwnerOnly\"");
    sk_decision_free(&d);
}
END_TEST

#define TPL_HEAD "apiVersion: workspace.jupyter.org/v1alpha1\nkind: WorkspaceTemplate\n"

/* CREATE by alice against a store of its own. */
static void create_in(const sk_store *s, const char *yaml, sk_decision *d)
{
    json_t *obj = th_yaml(yaml);
    sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = "alice"};
    th_review(s, &req, d);
    json_decref(obj);
}

/* The template: defaults that a user's own request or limit may
 * contradict, and cpu bounds to check the merged result against. */
#define SMALL_DEFAULTS                                                                          \
    TPL_HEAD "metadata: {name: small, namespace: ns}\nspec:\n  defaultImage: img\n"             \
             "  defaultResources:\n    requests: {cpu: 200m, memory: 256Mi}\n"                   \
             "    limits: {cpu: 500m, memory: 512Mi}\n"                                         \
             "  resourceBounds:\n    resources:\n      cpu: {max: \"2\"}\n"
#define SMALL_WS WS_HEAD "metadata: {name: w, namespace: ns}\nspec:\n  templateRef: {name: small}\n"

START_TEST(test_defaults_never_contradict_the_user)
{
    static const struct {
        const char *resources; /* what the user wrote */
        const char *want;      /* spec.resources after defaults, JSON; NULL: denied */
        const char *field, *reason;
    } cases[] = {
        /* the example: the defaulted cpu limit follows the request up */
        {"{requests: {cpu: \"1\"}}",
         "{\"requests\":{\"cpu\":\"1\",\"memory\":\"256Mi\"},\"limits\":{\"cpu\":\"1\",\"memory\":\"512Mi\"}}"},
        /* a request below the default limit leaves it alone */
        {"{requests: {cpu: 300m}}",
         "{\"requests\":{\"cpu\":\"300m\",\"memory\":\"256Mi\"},\"limits\":{\"cpu\":\"500m\",\"memory\":\"512Mi\"}}"},
        /* the defaulted request follows a small limit down, in a section added whole */
        {"{limits: {memory: 128Mi}}",
         "{\"limits\":{\"memory\":\"128Mi\",\"cpu\":\"500m\"},\"requests\":{\"cpu\":\"200m\",\"memory\":\"128Mi\"}}"},
        /* both directions at once, numbers as YAML writes them */
        {"{requests: {memory: 1Gi}, limits: {cpu: 0.1}}",
         "{\"requests\":{\"memory\":\"1Gi\",\"cpu\":0.1},\"limits\":{\"cpu\":0.1,\"memory\":\"1Gi\"}}"},
        /* what the user wrote still contradicts itself: denied */
        {"{requests: {cpu: \"1\"}, limits: {cpu: 500m}}", NULL, "spec.resources.limits.cpu",
         "spec.resources.limits.cpu 500m is less than spec.resources.requests.cpu 1"},
        /* the merged result is still bounded: the limit that follows 3 is above 2 too */
        {"{requests: {cpu: \"3\"}}", NULL, "spec.resources.limits.cpu",
         "spec.resources.limits.cpu 3 is above the maximum 2 allowed by template \"small\""},
    };
    sk_store *s = th_store(SMALL_DEFAULTS);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, SMALL_WS "  resources: %s\n", cases[i].resources);
        sk_decision d;
        create_in(s, yaml, &d);
        if (cases[i].want) {
            ck_assert_msg(d.allowed, "%s: %s", cases[i].resources, th_violations(&d));
            assert_json(spec_at(&d, "resources"), cases[i].want);
            /* and a second pass has nothing to add */
            sk_request again = {.op = SK_OP_CREATE, .object = d.object, .user = "alice"};
            sk_decision d2;
            th_review(s, &again, &d2);
            ck_assert_uint_eq(json_array_size(d2.patch), 0);
            sk_decision_free(&d2);
        } else {
            ck_assert(!d.allowed);
            ck_assert_msg(th_has_violation(&d, cases[i].field, cases[i].reason), "%s: %s",
                          cases[i].resources, th_violations(&d));
        }
        sk_decision_free(&d);
    }
    sk_store_free(s);
}
END_TEST

START_TEST(test_mutation_is_idempotent)
{
    const char *yamls[] = {
        WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {}\n",
        WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {templateRef: {name: locked}}\n",
        WS_HEAD "metadata: {name: w, namespace: team-b}\n",
        WS_HEAD "metadata: {name: w, namespace: team-a, labels: {a/b: c}}\nspec: {image: img:2}\n",
    };
    for (size_t i = 0; i < sizeof yamls / sizeof *yamls; i++) {
        json_t *once = created(yamls[i]);
        sk_request req = {.op = SK_OP_CREATE, .object = once, .user = "alice"};
        sk_decision d;
        th_review(store, &req, &d);
        ck_assert_msg(json_array_size(d.patch) == 0, "second pass of %zu patched: %s", i,
                      json_dumps(d.patch, JSON_COMPACT));
        ck_assert(json_equal(d.object, once));
        sk_decision_free(&d);
        json_decref(once);
    }
}
END_TEST

START_TEST(test_scratch_mode_matches_copy_mode)
{
    json_t *obj = th_yaml(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {image: bad:1, storage: {size: 1Gi}}\n");
    json_t *scratch = json_deep_copy(obj);
    sk_request copy = {.op = SK_OP_CREATE, .object = obj, .user = "alice"};
    sk_request inplace = {.op = SK_OP_CREATE, .object = scratch, .user = "alice", .scratch = scratch};
    sk_decision a, b;
    th_review(store, &copy, &a);
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    sk_policy_review(&cfg, store, &inplace, &b);
    ck_assert(json_equal(a.patch, b.patch));
    ck_assert(json_equal(a.object, b.object));
    ck_assert(json_equal(a.violations, b.violations));
    ck_assert_ptr_eq(b.object, scratch);     /* defaulted in place ... */
    ck_assert(!json_equal(obj, a.object));   /* ... while copy mode left the input alone */
    ck_assert_str_eq(b.name, "w");
    sk_decision_free(&a);
    sk_decision_free(&b);
    json_decref(scratch);
    json_decref(obj);
}
END_TEST

/* ---- checks: one test per row ---- */

START_TEST(test_image_allowed_list)
{
    sk_decision d;
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {image: evil:latest}\n", &d);
    ck_assert(!d.allowed);
    ck_assert_msg(th_has_violation(&d, "spec.image",
                                   "spec.image \"evil:latest\" is not allowed by template \"strict\" "
                                   "(allowed: img:1, img:2)"),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    /* an empty list allows just the default */
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {templateRef: {name: locked}, image: img:other}\n", &d);
    ck_assert(th_has_violation(&d, "spec.image", "(allowed: img:locked)"));
    sk_decision_free(&d);
    /* allowCustomImages */
    create(WS_HEAD "metadata: {name: w, namespace: team-b}\nspec: {image: anything/at:all}\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {image: 42}\n", &d);
    ck_assert(th_has_violation(&d, "spec.image", "must be a string, not integer"));
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_resources_bounds_and_limits)
{
    sk_decision d;
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  resources:\n"
                   "    requests: {cpu: \"4\", memory: 64Gi, nvidia.com/gpu: 2}\n"
                   "    limits: {cpu: \"2\", memory: 500Mi}\n",
           &d);
    ck_assert(!d.allowed);
    ck_assert_msg(th_has_violation(&d, "spec.resources.requests.memory",
                                   "spec.resources.requests.memory 64Gi is above the maximum 32Gi allowed by template \"strict\""),
                  "%s", th_violations(&d));
    ck_assert(th_has_violation(&d, "spec.resources.requests.nvidia.com/gpu", "above the maximum 1"));
    ck_assert(th_has_violation(&d, "spec.resources.limits.memory", "below the minimum 1Gi"));
    ck_assert(th_has_violation(&d, "spec.resources.limits.cpu",
                               "spec.resources.limits.cpu 2 is less than spec.resources.requests.cpu 4"));
    /* all of them, not just the first */
    ck_assert_uint_ge(json_array_size(d.violations), 5);
    sk_decision_free(&d);

    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  resources:\n"
                   "    requests: {cpu: 10GB}\n    limits: []\n",
           &d);
    ck_assert(th_has_violation(&d, "spec.resources.requests.cpu", "unknown suffix \"GB\""));
    ck_assert(th_has_violation(&d, "spec.resources.limits", "must be a map"));
    sk_decision_free(&d);

    /* exactness at the boundary: 32Gi is allowed, 32Gi + 1 byte is not */
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  resources:\n"
                   "    requests: {memory: 32Gi}\n    limits: {memory: 32Gi}\n",
           &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  resources:\n"
                   "    requests: {memory: \"34359738369\"}\n    limits: {memory: 64Gi}\n",
           &d);
    ck_assert(th_has_violation(&d, "spec.resources.requests.memory", "above the maximum 32Gi"));
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_storage_size_bounds)
{
    sk_decision d;
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {storage: {size: 100Gi}}\n", &d);
    ck_assert(th_has_violation(&d, "spec.storage.size",
                               "spec.storage.size 100Gi is above the maximum 50Gi allowed by template \"strict\""));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {storage: {size: 1Gi}}\n", &d);
    ck_assert(th_has_violation(&d, "spec.storage.size", "below the minimum 5Gi"));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {storage: {size: [1]}}\n", &d);
    ck_assert(th_has_violation(&d, "spec.storage.size", "must be a quantity"));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {storage: 5}\n", &d);
    ck_assert_msg(th_has_violation(&d, "spec.storage.size", "not an object"), "%s", th_violations(&d));
    sk_decision_free(&d);
}
END_TEST

/* Every volume the engine hands out has a size that was checked. */
START_TEST(test_storage_always_gets_a_size)
{
    static const struct {
        const char *primary;  /* the template's primaryStorage ("" for none) */
        const char *storage;  /* what the workspace wrote ("" for nothing) */
        const char *want;     /* spec.storage after defaults, JSON ("null": none); NULL: denied */
        const char *reason;
    } cases[] = {
        /* the example: 10Gi would pass maxSize, so the size is the maximum */
        {"{maxSize: 5Gi, defaultStorageClassName: fast-ssd}", "",
         "{\"storageClassName\":\"fast-ssd\",\"size\":\"5Gi\"}"},
        {"{minSize: 20Gi, defaultMountPath: /home/u}", "",
         "{\"mountPath\":\"/home/u\",\"size\":\"20Gi\"}"},
        {"{minSize: 1Gi, maxSize: 100Gi, defaultStorageClassName: gp3}", "",
         "{\"storageClassName\":\"gp3\",\"size\":\"10Gi\"}"},
        /* a bound written as a number is copied as written */
        {"{maxSize: 1073741824, defaultStorageClassName: gp3}", "",
         "{\"storageClassName\":\"gp3\",\"size\":1073741824}"},
        /* defaultSize wins over the operator's 10Gi */
        {"{defaultSize: 2Gi, maxSize: 5Gi}", "", "{\"size\":\"2Gi\"}"},
        /* storage the user wrote gets a size too */
        {"{maxSize: 5Gi}", "{mountPath: /data}", "{\"mountPath\":\"/data\",\"size\":\"5Gi\"}"},
        {"", "{storageClassName: io2}", "{\"storageClassName\":\"io2\",\"size\":\"10Gi\"}"},
        /* a size the user wrote within the bounds stays */
        {"{maxSize: 5Gi, defaultStorageClassName: fast-ssd}", "{size: 3Gi}",
         "{\"size\":\"3Gi\",\"storageClassName\":\"fast-ssd\"}"},
        /* and one outside them is denied, not replaced */
        {"{maxSize: 5Gi, defaultStorageClassName: fast-ssd}", "{size: 8Gi}", NULL,
         "spec.storage.size 8Gi is above the maximum 5Gi allowed by template \"t\""},
        /* bounds alone give no storage */
        {"{maxSize: 5Gi}", "", "null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char tpl[512], yaml[512];
        snprintf(tpl, sizeof tpl, TPL_HEAD "metadata: {name: t, namespace: ns}\nspec:\n  defaultImage: img\n%s%s\n",
                 *cases[i].primary ? "  primaryStorage: " : "", cases[i].primary);
        snprintf(yaml, sizeof yaml, WS_HEAD "metadata: {name: w, namespace: ns}\nspec:\n  templateRef: {name: t}\n%s%s\n",
                 *cases[i].storage ? "  storage: " : "", cases[i].storage);
        sk_store *s = th_store(tpl);
        sk_decision d;
        create_in(s, yaml, &d);
        if (cases[i].want) {
            ck_assert_msg(d.allowed, "case %zu: %s", i, th_violations(&d));
            assert_json(spec_at(&d, "storage") ? spec_at(&d, "storage") : json_null(), cases[i].want);
        } else {
            ck_assert_msg(th_has_violation(&d, "spec.storage.size", cases[i].reason), "case %zu: %s", i,
                          th_violations(&d));
        }
        sk_decision_free(&d);
        sk_store_free(s);
    }
}
END_TEST

START_TEST(test_storage_update_rules)
{
    json_t *old = created(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {storage: {size: 20Gi}}\n");
    char *old_y = to_yaml_json(old);
    json_t *next = json_deep_copy(old);
    json_t *storage = sk_json_get(next, "spec", "storage", NULL);
    json_object_set_new(storage, "size", json_string("10Gi"));
    json_object_set_new(storage, "storageClassName", json_string("io2"));
    char *new_y = to_yaml_json(next);
    sk_decision d;
    update_as(old_y, new_y, "alice", NULL, &d);
    ck_assert(th_has_violation(&d, "spec.storage.size",
                               "spec.storage.size cannot shrink from 20Gi to 10Gi"));
    ck_assert(th_has_violation(&d, "spec.storage.storageClassName",
                               "is immutable: it is \"gp3\" and cannot become \"io2\""));
    sk_decision_free(&d);
    /* growing is fine */
    json_object_set_new(storage, "size", json_string("30Gi"));
    json_object_set_new(storage, "storageClassName", json_string("gp3"));
    free(new_y);
    new_y = to_yaml_json(next);
    update_as(old_y, new_y, "alice", NULL, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    free(old_y);
    free(new_y);
    json_decref(old);
    json_decref(next);
}
END_TEST

START_TEST(test_mount_path)
{
    static const struct {
        const char *path;
        const char *reason; /* NULL: allowed */
    } cases[] = {
        {"/home/me", NULL},
        {"/opt/mlx", NULL},
        {"/opt", NULL},
        {"home/me", "must be an absolute path"},
        {"/opt/ml", "reserved for the platform"},
        {"/opt/ml/code", "is under /opt/ml"},
        {"//opt//ml/", "is under /opt/ml"},
        {"/opt/./ml", "is under /opt/ml"},
        {"/opt/.sagemakerinternal/x", "is under /opt/.sagemakerinternal"},
        {"/home/../opt/ml", "must not contain \"..\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {storage: {mountPath: \"%s\"}}\n",
                 cases[i].path);
        sk_decision d;
        create(yaml, &d);
        if (!cases[i].reason)
            ck_assert_msg(d.allowed, "%s: %s", cases[i].path, th_violations(&d));
        else
            ck_assert_msg(th_has_violation(&d, "spec.storage.mountPath", cases[i].reason), "%s: %s",
                          cases[i].path, th_violations(&d));
        sk_decision_free(&d);
    }
}
END_TEST

START_TEST(test_secondary_storage)
{
    sk_decision d;
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  volumes: [{name: data, persistentVolumeClaim: {claimName: x}}]\n", &d);
    ck_assert(th_has_violation(&d, "spec.volumes", "does not allow secondary storage"));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  volumes: []\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    /* allowSecondaryStorages defaults to true */
    create(WS_HEAD "metadata: {name: w, namespace: team-b}\nspec:\n  volumes: [{name: data}]\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_enums)
{
    sk_decision d;
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  ownershipType: Private\n"
                   "  desiredStatus: Paused\n  appType: \"r studio\"\n",
           &d);
    ck_assert(th_has_violation(&d, "spec.ownershipType", "\"Private\" is not one of: Public, OwnerOnly"));
    ck_assert(th_has_violation(&d, "spec.desiredStatus", "\"Paused\" is not one of: Running, Stopped"));
    ck_assert(th_has_violation(&d, "spec.appType", "\"r studio\" may hold only letters, digits, '-', '_' and '.'"));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {appType: code-editor}\n", &d);
    ck_assert(th_has_violation(&d, "spec.appType",
                               "\"code-editor\" does not match template \"strict\", which is for \"jupyterlab\""));
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_lifecycle_script_size)
{
    sk_buf b = SK_BUF_INIT;
    sk_buf_puts(&b, WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  lifecycle:\n"
                            "    postStart:\n      exec:\n        command: [/bin/sh, -c, \"");
    for (int i = 0; i < 1025; i++)
        sk_buf_puts(&b, "x");
    sk_buf_puts(&b, "\"]\n");
    sk_decision d;
    create(b.data, &d);
    ck_assert_msg(th_has_violation(&d, "spec.lifecycle.postStart.exec.command[2]",
                                   "is 1025 bytes; a startup script may be at most 1024 bytes"),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    /* exactly 1 KiB is fine */
    sk_buf_reset(&b);
    sk_buf_puts(&b, WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  lifecycle:\n"
                            "    postStart:\n      exec:\n        command: [\"");
    for (int i = 0; i < 1024; i++)
        sk_buf_puts(&b, "y");
    sk_buf_puts(&b, "\"]\n");
    create(b.data, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    sk_buf_free(&b);
}
END_TEST

#define IDLE(enabled, minutes) \
    "  idleShutdown:\n    enabled: " enabled "\n    idleShutdownTimeoutMinutes: " minutes \
    "\n    detection: {httpGet: {path: /api/idle, port: 8888}}\n"

START_TEST(test_idle_shutdown_overrides)
{
    sk_decision d;
    /* within [30, 240] */
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n" IDLE("true", "120"), &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n" IDLE("true", "300"), &d);
    ck_assert_msg(th_has_violation(&d, "spec.idleShutdown.idleShutdownTimeoutMinutes",
                                   "300 is outside the range allowed by template \"strict\" (between 30 and 240 minutes)"),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n" IDLE("true", "0"), &d);
    ck_assert(th_has_violation(&d, "spec.idleShutdown.idleShutdownTimeoutMinutes", "at least 1"));
    sk_decision_free(&d);
    /* disabling is an override the template allows */
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  idleShutdown: {enabled: false}\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    /* detection is required when enabled; enabled is required */
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  idleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 60}\n", &d);
    ck_assert(th_has_violation(&d, "spec.idleShutdown.detection", "required when idle shutdown is enabled"));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  idleShutdown: {idleShutdownTimeoutMinutes: 60}\n", &d);
    ck_assert(th_has_violation(&d, "spec.idleShutdown.enabled", "required"));
    sk_decision_free(&d);
    /* allow: false locks the workspace to the default */
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  templateRef: {name: locked}\n" IDLE("true", "45"), &d);
    ck_assert_msg(th_has_violation(&d, "spec.idleShutdown",
                                   "cannot be overridden: template \"locked\" locks idle shutdown to enabled=true, idleShutdownTimeoutMinutes=30"),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  templateRef: {name: locked}\n" IDLE("true", "30"), &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
}
END_TEST

/* ---- template resolution ---- */

START_TEST(test_template_resolution)
{
    sk_decision d;
    /* namespace default wins over the shared default */
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\n", &d);
    assert_json(spec_at(&d, "templateRef"), "{\"name\":\"strict\",\"namespace\":\"team-a\"}");
    sk_decision_free(&d);
    /* no default in team-b: the shared namespace's */
    create(WS_HEAD "metadata: {name: w, namespace: team-b}\n", &d);
    assert_json(spec_at(&d, "templateRef"), "{\"name\":\"open\",\"namespace\":\"spacekeeper-shared\"}");
    assert_json(spec_at(&d, "image"), "\"shared:1\"");
    sk_decision_free(&d);
    /* templateRef without a namespace falls back to the shared namespace */
    create(WS_HEAD "metadata: {name: w, namespace: team-b}\nspec: {templateRef: {name: shared-only}}\n", &d);
    assert_json(spec_at(&d, "image"), "\"shared:only\"");
    sk_decision_free(&d);
    /* explicit namespace */
    create(WS_HEAD "metadata: {name: w, namespace: team-b}\nspec: {templateRef: {name: strict, namespace: team-a}}\n", &d);
    assert_json(spec_at(&d, "image"), "\"img:1\"");
    sk_decision_free(&d);
    /* missing template denies with its name */
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {templateRef: {name: ghost}}\n", &d);
    ck_assert(!d.allowed);
    ck_assert_msg(th_has_violation(&d, "spec.templateRef",
                                   "template \"ghost\" not found in namespace \"team-a\" or in the shared namespace \"spacekeeper-shared\""),
                  "%s", th_violations(&d));
    ck_assert_uint_eq(json_array_size(d.patch), 0);
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {templateRef: {name: strict, namespace: elsewhere}}\n", &d);
    ck_assert(th_has_violation(&d, "spec.templateRef", "template \"strict\" not found in namespace \"elsewhere\""));
    sk_decision_free(&d);
    /* two defaults in one namespace name both */
    create(WS_HEAD "metadata: {name: w, namespace: team-c}\n", &d);
    ck_assert_msg(th_has_violation(&d, "spec.templateRef",
                                   "namespace \"team-c\" has two default templates, \"c-one\" and \"c-two\""),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
}
END_TEST

/* sk_policy_template_for finds what a review is checked against (the
 * decision's template), whichever way the workspace names it. */
START_TEST(test_template_for_matches_the_review)
{
    static const struct {
        const char *ws;  /* metadata and spec */
        const char *key; /* "ns/name", or NULL: none */
    } cases[] = {
        {"metadata: {name: w, namespace: team-a}\n", "team-a/strict"},
        {"metadata: {name: w, namespace: team-b}\n", "spacekeeper-shared/open"},
        {"metadata: {name: w}\n", "spacekeeper-shared/open"}, /* "default" has none */
        {"metadata: {name: w, namespace: team-b}\nspec: {templateRef: {name: shared-only}}\n",
         "spacekeeper-shared/shared-only"},
        {"metadata: {name: w, namespace: team-a}\nspec: {templateRef: {name: locked}}\n", "team-a/locked"},
        {"metadata: {name: w, namespace: team-b}\nspec: {templateRef: {name: strict, namespace: team-a}}\n",
         "team-a/strict"},
        {"metadata: {name: w, namespace: team-a}\nspec: {templateRef: {name: ghost}}\n", NULL},
        {"metadata: {name: w, namespace: team-c}\n", NULL}, /* two defaults */
        {"metadata: {name: w, namespace: team-a}\nspec: {templateRef: {namespace: team-a}}\n", NULL},
    };
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, WS_HEAD "%s", cases[i].ws);
        json_t *obj = th_yaml(yaml);
        const sk_template *t = sk_policy_template_for(&cfg, store, obj);
        const char *got = t ? t->key : NULL, *key = cases[i].key;
        ck_assert_msg(got && key ? strcmp(got, key) == 0 : got == key, "case %zu: got %s", i,
                      got ? got : "(none)");
        json_t *want = NULL;
        if (key) {
            const char *slash = strchr(key, '/');
            want = json_pack("{s:s, s:s%}", "name", slash + 1, "namespace", key, (size_t)(slash - key));
        }
        sk_decision d;
        create(yaml, &d);
        ck_assert_msg(want ? json_equal(want, d.template) : d.template == NULL && !d.allowed,
                      "case %zu: the decision's template differs", i);
        json_decref(want);
        sk_decision_free(&d);
        json_decref(obj);
    }
}
END_TEST

/* --template-scope namespace: a templateRef reaches only the workspace's
 * own namespace and the shared one. */
START_TEST(test_template_scope)
{
    static const struct {
        const char *ns, *ref;
        const char *image;   /* spec.image after defaults, JSON; NULL: denied */
    } cases[] = {
        {"team-b", "{name: strict, namespace: team-a}", NULL},
        {"team-b", "{name: ghost, namespace: team-a}", NULL}, /* out of reach whether or not it exists */
        {"team-a", "{name: strict, namespace: team-a}", "\"img:1\""},
        {"team-a", "{name: strict}", "\"img:1\""},
        {"team-b", "{name: open, namespace: spacekeeper-shared}", "\"shared:1\""},
        {"team-b", "{name: shared-only}", "\"shared:only\""},
    };
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    for (int scope = SK_SCOPE_CLUSTER; scope <= SK_SCOPE_NAMESPACE; scope++) {
        cfg.template_scope = (sk_template_scope)scope;
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            char yaml[256];
            snprintf(yaml, sizeof yaml, WS_HEAD "metadata: {name: w, namespace: %s}\nspec: {templateRef: %s}\n",
                     cases[i].ns, cases[i].ref);
            json_t *obj = th_yaml(yaml);
            sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = "alice"};
            sk_decision d;
            th_review_with(&cfg, store, &req, &d);
            if (cases[i].image) {
                ck_assert_msg(d.allowed, "case %zu: %s", i, th_violations(&d));
                assert_json(spec_at(&d, "image"), cases[i].image);
            } else if (scope == SK_SCOPE_NAMESPACE) {
                ck_assert_msg(th_has_violation(&d, "spec.templateRef", "is out of reach"),
                              "case %zu: %s", i, th_violations(&d));
                ck_assert_int_eq(json_array_size(d.violations), 1);
                ck_assert_uint_eq(json_array_size(d.patch), 0);
            } else {
                /* the cluster scope: any namespace (the second is simply not found) */
                ck_assert_msg(!th_has_violation(&d, "spec.templateRef", "is out of reach"), "case %zu: %s",
                              i, th_violations(&d));
            }
            sk_decision_free(&d);
            json_decref(obj);
        }
    }
    cfg.template_scope = SK_SCOPE_NAMESPACE;
    json_t *obj = th_yaml(WS_HEAD "metadata: {name: w, namespace: team-b}\nspec: {templateRef: {name: strict, namespace: team-a}}\n");
    sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = "alice"};
    sk_decision d;
    th_review_with(&cfg, store, &req, &d);
    ck_assert_msg(th_has_violation(&d, "spec.templateRef",
                                   "spec.templateRef: template \"strict\" in namespace \"team-a\" is out of "
                                   "reach: with --template-scope namespace a workspace in \"team-b\" may use "
                                   "templates of its own namespace or of the shared namespace "
                                   "\"spacekeeper-shared\""),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    json_decref(obj);
    ck_assert_str_eq(sk_template_scope_name(SK_SCOPE_NAMESPACE), "namespace");
    sk_template_scope parsed;
    ck_assert_int_eq(sk_template_scope_parse("cluster", &parsed), 0);
    ck_assert_int_eq(parsed, SK_SCOPE_CLUSTER);
    ck_assert_int_eq(sk_template_scope_parse("Cluster", &parsed), -1);
}
END_TEST

START_TEST(test_no_template_at_all)
{
    /* no templateRef, no namespace default, no shared default: the
     * configured default image (the latest SageMaker Distribution) */
    sk_store *empty = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    json_t *obj = th_yaml(WS_HEAD "metadata: {name: w, namespace: x}\nspec: {}\n");
    sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = "alice"};
    sk_decision d;
    th_review(empty, &req, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    assert_json(spec_at(&d, "image"), "\"" SK_DEFAULT_IMAGE "\"");
    assert_json(spec_at(&d, "desiredStatus"), "\"Running\"");
    ck_assert_ptr_null(spec_at(&d, "templateRef"));
    sk_decision_free(&d);

    /* the flag chooses another; the user's own image is kept */
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    cfg.default_image = "registry.example.com/smd:2.7";
    th_review_with(&cfg, empty, &req, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    assert_json(spec_at(&d, "image"), "\"registry.example.com/smd:2.7\"");
    sk_decision_free(&d);
    json_t *mine = th_yaml(WS_HEAD "metadata: {name: w, namespace: x}\nspec: {image: my/own:1}\n");
    sk_request own = {.op = SK_OP_CREATE, .object = mine, .user = "alice"};
    th_review_with(&cfg, empty, &own, &d);
    assert_json(spec_at(&d, "image"), "\"my/own:1\"");
    sk_decision_free(&d);
    json_decref(mine);

    /* and without one, an image is required */
    cfg.default_image = "";
    th_review_with(&cfg, empty, &req, &d);
    ck_assert(!d.allowed);
    ck_assert_msg(th_has_violation(&d, "spec.image", "spec.image is required: no template applies and "
                                                     "no default image is configured"),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    json_decref(obj);
    sk_store_free(empty);
}
END_TEST

/* A template without a defaultImage gets the configured default when it
 * allows it, and an image is required otherwise. */
START_TEST(test_template_without_default_image)
{
    sk_store *s = th_store(TPL_HEAD "metadata: {name: byo, namespace: ns}\nspec: {allowCustomImages: true}\n"
                           "---\n" TPL_HEAD "metadata: {name: listed, namespace: ns}\n"
                           "spec: {allowedImages: [\"" SK_DEFAULT_IMAGE "\", b]}\n"
                           "---\n" TPL_HEAD "metadata: {name: pinned, namespace: ns}\nspec: {allowedImages: [a, b]}\n");
    sk_decision d;
    create_in(s, WS_HEAD "metadata: {name: w, namespace: ns}\nspec: {templateRef: {name: byo}}\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    assert_json(spec_at(&d, "image"), "\"" SK_DEFAULT_IMAGE "\"");
    sk_decision_free(&d);
    create_in(s, WS_HEAD "metadata: {name: w, namespace: ns}\nspec: {templateRef: {name: listed}}\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    assert_json(spec_at(&d, "image"), "\"" SK_DEFAULT_IMAGE "\"");
    sk_decision_free(&d);
    create_in(s, WS_HEAD "metadata: {name: w, namespace: ns}\nspec: {templateRef: {name: pinned}}\n", &d);
    ck_assert(!d.allowed);
    ck_assert_ptr_null(spec_at(&d, "image"));
    ck_assert_msg(th_has_violation(&d, "spec.image", "spec.image is required: template \"pinned\" has no "
                                                     "defaultImage (allowed: a, b)"),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    sk_store_free(s);
}
END_TEST

/* ---- metadata ---- */

START_TEST(test_metadata_stamping)
{
    sk_decision d;
    /* a forged created-by is replaced by the real requester */
    create(WS_HEAD "metadata:\n  name: w\n  namespace: team-a\n  annotations: {workspace.jupyter.org/created-by: mallory}\n", &d);
    json_t *meta = json_object_get(d.object, "metadata");
    assert_json(json_object_get(meta, "annotations"),
                "{\"workspace.jupyter.org/created-by\":\"alice\",\"workspace.jupyter.org/last-updated-by\":\"alice\"}");
    assert_json(json_object_get(meta, "labels"),
                "{\"workspace.jupyter.org/template-name\":\"strict\","
                "\"workspace.jupyter.org/template-namespace\":\"team-a\","
                "\"kueue.x-k8s.io/priority-class\":\"high-priority\","
                "\"kueue.x-k8s.io/queue-name\":\"team-a-queue\"}");
    /* label keys with "/" are escaped as ~1 in the patch */
    size_t i;
    json_t *op;
    int seen = 0;
    json_array_foreach(d.patch, i, op) {
        const char *p = json_string_value(json_object_get(op, "path"));
        if (strcmp(p, "/metadata/labels/kueue.x-k8s.io~1queue-name") == 0)
            seen = 1;
    }
    ck_assert_msg(seen, "patch: %s", json_dumps(d.patch, JSON_COMPACT));
    sk_decision_free(&d);

    /* a workspace with its own kueue label keeps it and gets none of the template's */
    create(WS_HEAD "metadata:\n  name: w\n  namespace: team-a\n  labels: {kueue.x-k8s.io/queue-name: mine}\n", &d);
    meta = json_object_get(d.object, "metadata");
    ck_assert_str_eq(sk_json_str(meta, "labels", "kueue.x-k8s.io/queue-name", NULL), "mine");
    ck_assert_ptr_null(sk_json_get(meta, "labels", "kueue.x-k8s.io/priority-class", NULL));
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_created_by_is_immutable)
{
    json_t *old = created(WS_HEAD "metadata: {name: w, namespace: team-a}\n");
    json_t *next = json_deep_copy(old);
    json_object_set_new(sk_json_get(next, "metadata", "annotations", NULL),
                        SK_ANNOTATION_CREATED_BY, json_string("bob"));
    char *oy = to_yaml_json(old), *ny = to_yaml_json(next);
    sk_decision d;
    /* the mutating pass puts it back ... */
    update_as(oy, ny, "bob", NULL, &d);
    ck_assert_str_eq(sk_json_str(d.object, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL), "alice");
    ck_assert_str_eq(sk_json_str(d.object, "metadata", "annotations", SK_ANNOTATION_LAST_UPDATED_BY, NULL), "bob");
    /* ... and the validating pass names the change */
    ck_assert(th_has_violation(&d, "metadata.annotations.workspace.jupyter.org/created-by",
                               "is immutable: it is \"alice\""));
    sk_decision_free(&d);
    free(oy);
    free(ny);
    json_decref(old);
    json_decref(next);
}
END_TEST

/* workspace.jupyter.org/ labels and annotations belong to spacekeeper and
 * the operator: users add or change only the ones spacekeeper stamps. */
START_TEST(test_reserved_prefix_on_create)
{
    static const char *const admins[] = {"system:authenticated", "system:masters", NULL};
    static const struct {
        const char *metadata; /* labels/annotations of the workspace */
        const char *user;
        const char *const *groups;
        const char *field; /* NULL: allowed */
    } cases[] = {
        {"labels: {workspace.jupyter.org/custom-label: x}", "bob", NULL,
         "metadata.labels.workspace.jupyter.org/custom-label"},
        {"annotations: {workspace.jupyter.org/idle-since: \"0\"}", "bob", NULL,
         "metadata.annotations.workspace.jupyter.org/idle-since"},
        /* stamped keys are spacekeeper's to overwrite */
        {"labels: {workspace.jupyter.org/template-name: other}", "bob", NULL, NULL},
        {"annotations: {workspace.jupyter.org/created-by: mallory}", "bob", NULL, NULL},
        /* ... but only in their own section */
        {"labels: {workspace.jupyter.org/created-by: mallory}", "bob", NULL,
         "metadata.labels.workspace.jupyter.org/created-by"},
        /* other prefixes are the user's */
        {"labels: {team.example.com/x: \"y\", workspace.jupyter.org.example.com/z: w, app: a}", "bob", NULL, NULL},
        /* admins and trusted service accounts may */
        {"labels: {workspace.jupyter.org/custom-label: x}", "carol", admins, NULL},
        {"labels: {workspace.jupyter.org/custom-label: x}", SK_OPERATOR_USER, NULL, NULL},
        {"labels: {workspace.jupyter.org/custom-label: x}", SK_DEFAULT_CONTROLLER_USER, NULL, NULL},
        /* a service account that is not listed may not */
        {"labels: {workspace.jupyter.org/custom-label: x}", "system:serviceaccount:team-a:ci", NULL,
         "metadata.labels.workspace.jupyter.org/custom-label"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, WS_HEAD "metadata:\n  name: w\n  namespace: team-a\n  %s\nspec: {}\n",
                 cases[i].metadata);
        json_t *obj = th_yaml(yaml);
        sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = cases[i].user, .groups = cases[i].groups};
        sk_decision d;
        th_review(store, &req, &d);
        if (!cases[i].field) {
            ck_assert_msg(d.allowed, "case %zu: %s", i, th_violations(&d));
        } else {
            ck_assert_msg(th_count_violations(&d, cases[i].field) == 1 &&
                              json_array_size(d.violations) == 1,
                          "case %zu: %s", i, th_violations(&d));
        }
        sk_decision_free(&d);
        json_decref(obj);
    }
    /* the message names the key, the rule and who may */
    sk_decision d;
    create(WS_HEAD "metadata:\n  name: w\n  namespace: team-a\n  labels: {workspace.jupyter.org/custom-label: x}\n", &d);
    ck_assert_msg(th_has_violation(&d, "metadata.labels.workspace.jupyter.org/custom-label",
                                   "metadata.labels[workspace.jupyter.org/custom-label]: the prefix "
                                   "workspace.jupyter.org/ is reserved for spacekeeper and the workspace "
                                   "operator; only a member of system:masters, "
                                   "system:serviceaccounts:kube-system or a trusted service account may "
                                   "add or change it, not \"alice\""),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    /* --trusted-service-accounts replaces the list */
    static const char *const ci[] = {"system:serviceaccount:team-a:ci", NULL};
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    cfg.trusted_service_accounts = ci;
    json_t *obj = th_yaml(WS_HEAD "metadata:\n  name: w\n  namespace: team-a\n  labels: {workspace.jupyter.org/x: \"y\"}\n");
    sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = ci[0]};
    th_review_with(&cfg, store, &req, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    req.user = SK_OPERATOR_USER;
    th_review_with(&cfg, store, &req, &d);
    ck_assert(th_has_violation(&d, "metadata.labels.workspace.jupyter.org/x", "not \"" SK_OPERATOR_USER "\""));
    sk_decision_free(&d);
    json_decref(obj);
}
END_TEST

START_TEST(test_reserved_prefix_on_update)
{
    /* the operator keeps a label of its own on the workspace */
    json_t *old = created(WS_HEAD "metadata: {name: w, namespace: team-a}\n");
    json_object_set_new(sk_json_get(old, "metadata", "labels", NULL), "workspace.jupyter.org/state",
                        json_string("a"));
    char *oy = to_yaml_json(old);
    static const struct {
        const char *section, *key, *value; /* value NULL: removed */
        int spec_change;
        int allowed;
    } cases[] = {
        {"labels", "workspace.jupyter.org/state", "a", 1, 1},      /* kept unchanged */
        {"labels", "workspace.jupyter.org/state", "b", 0, 0},      /* changed, metadata only */
        {"labels", "workspace.jupyter.org/state", "b", 1, 0},      /* changed with the spec */
        {"labels", "workspace.jupyter.org/new", "x", 0, 0},        /* added */
        {"annotations", "workspace.jupyter.org/new", "x", 0, 0},
        {"labels", "workspace.jupyter.org/state", NULL, 0, 1},     /* removed: not an addition or change */
        {"labels", "team.example.com/mine", "x", 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *next = json_deep_copy(old);
        json_t *section = sk_json_get(next, "metadata", cases[i].section, NULL);
        if (cases[i].value)
            json_object_set_new(section, cases[i].key, json_string(cases[i].value));
        else
            json_object_del(section, cases[i].key);
        if (cases[i].spec_change)
            json_object_set_new(json_object_get(next, "spec"), "image", json_string("img:2"));
        char *ny = to_yaml_json(next);
        sk_decision d;
        update_as(oy, ny, "bob", NULL, &d);
        char field[128];
        snprintf(field, sizeof field, "metadata.%s.%s", cases[i].section, cases[i].key);
        if (cases[i].allowed)
            ck_assert_msg(d.allowed, "case %zu: %s", i, th_violations(&d));
        else
            ck_assert_msg(th_has_violation(&d, field, "is reserved") && json_array_size(d.violations) == 1,
                          "case %zu: %s", i, th_violations(&d));
        sk_decision_free(&d);
        /* the operator itself may */
        update_as(oy, ny, SK_OPERATOR_USER, NULL, &d);
        ck_assert_msg(d.allowed, "case %zu by the operator: %s", i, th_violations(&d));
        sk_decision_free(&d);
        free(ny);
        json_decref(next);
    }
    free(oy);
    json_decref(old);
}
END_TEST

/* ---- ownership ---- */

START_TEST(test_owner_only)
{
    json_t *old = created(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {ownershipType: OwnerOnly}\n");
    json_t *next = json_deep_copy(old);
    json_object_set_new(json_object_get(next, "metadata"), "labels", json_pack("{s:s}", "x", "y"));
    char *oy = to_yaml_json(old), *ny = to_yaml_json(next);
    sk_decision d;
    update_as(oy, ny, "bob", NULL, &d);
    ck_assert(!d.allowed);
    ck_assert_msg(th_has_violation(&d, "spec.ownershipType",
                                   "workspace \"w\" is OwnerOnly: only its creator \"alice\" or a member of "
                                   "system:masters, system:serviceaccounts:kube-system may change it, not \"bob\""),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    update_as(oy, ny, "alice", NULL, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    static const char *const admins[] = {"system:authenticated", "system:masters", NULL};
    update_as(oy, ny, "carol", admins, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    update_as(oy, ny, SK_DEFAULT_CONTROLLER_USER, NULL, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);

    /* DELETE */
    sk_request del = {.op = SK_OP_DELETE, .old_object = old, .user = "bob"};
    th_review(store, &del, &d);
    ck_assert(th_has_violation(&d, "spec.ownershipType", "may delete it, not \"bob\""));
    ck_assert_ptr_null(d.object);
    sk_decision_free(&d);
    del.user = "alice";
    th_review(store, &del, &d);
    ck_assert(d.allowed);
    sk_decision_free(&d);

    /* Public workspaces: anyone */
    json_t *pub = created(WS_HEAD "metadata: {name: p, namespace: team-a}\n");
    del.old_object = pub;
    del.user = "bob";
    th_review(store, &del, &d);
    ck_assert(d.allowed);
    sk_decision_free(&d);
    json_decref(pub);
    free(oy);
    free(ny);
    json_decref(old);
    json_decref(next);
}
END_TEST

/* Making a workspace OwnerOnly locks its collaborators out: only its
 * creator, an admin group or the controller may. */
START_TEST(test_only_the_owner_makes_it_owner_only)
{
    json_t *pub = created(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {ownershipType: Public}\n");
    json_t *locked = json_deep_copy(pub);
    json_object_set_new(json_object_get(locked, "spec"), "ownershipType", json_string("OwnerOnly"));
    char *py = to_yaml_json(pub), *ly = to_yaml_json(locked);
    sk_decision d;
    update_as(py, ly, "bob", NULL, &d);
    ck_assert(!d.allowed);
    ck_assert_msg(th_has_violation(&d, "spec.ownershipType",
                                   "workspace \"w\" is Public: only its creator \"alice\" or a member of "
                                   "system:masters, system:serviceaccounts:kube-system may make it "
                                   "OwnerOnly, not \"bob\""),
                  "%s", th_violations(&d));
    ck_assert_int_eq(json_array_size(d.violations), 1);
    sk_decision_free(&d);
    static const char *const admins[] = {"system:masters", NULL};
    static const struct {
        const char *user;
        const char *const *groups;
    } may[] = {{"alice", NULL}, {"carol", admins}, {SK_DEFAULT_CONTROLLER_USER, NULL}};
    for (size_t i = 0; i < sizeof may / sizeof *may; i++) {
        update_as(py, ly, may[i].user, may[i].groups, &d);
        ck_assert_msg(d.allowed, "%s: %s", may[i].user, th_violations(&d));
        sk_decision_free(&d);
    }
    /* back to Public: the owner may, others may not */
    update_as(ly, py, "alice", NULL, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    update_as(ly, py, "bob", NULL, &d);
    ck_assert(th_has_violation(&d, "spec.ownershipType", "is OwnerOnly: only its creator \"alice\""));
    sk_decision_free(&d);
    /* other changes to a Public workspace stay open to everyone */
    json_t *grown = json_deep_copy(pub);
    json_object_set_new(sk_json_get(grown, "spec", "storage", NULL), "size", json_string("20Gi"));
    char *gy = to_yaml_json(grown);
    update_as(py, gy, "bob", NULL, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    /* anyone may create an OwnerOnly workspace: it is theirs */
    create(WS_HEAD "metadata: {name: mine, namespace: team-a}\nspec: {ownershipType: OwnerOnly}\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    free(gy);
    free(py);
    free(ly);
    json_decref(grown);
    json_decref(pub);
    json_decref(locked);
}
END_TEST

/* ---- UPDATE semantics ---- */

/* A workspace made under a lax template, and the same template tightened. */
static sk_store *lax_and_tight(int tight)
{
    sk_store *s = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    json_t *t = th_yaml(tight ? "apiVersion: workspace.jupyter.org/v1alpha1\nkind: WorkspaceTemplate\n"
                                "metadata: {name: t, namespace: ns}\nspec:\n  defaultImage: img:new\n"
                                "  allowedImages: [img:new]\n  primaryStorage: {maxSize: 5Gi}\n"
                              : "apiVersion: workspace.jupyter.org/v1alpha1\nkind: WorkspaceTemplate\n"
                                "metadata: {name: t, namespace: ns}\nspec:\n  defaultImage: img:old\n");
    sk_store_put(s, sk_template_new(t, SK_DEFAULT_SHARED_NAMESPACE, NULL));
    json_decref(t);
    return s;
}

static void update_in(sk_store *s, const json_t *old, const json_t *obj, sk_decision *d)
{
    sk_request req = {.op = SK_OP_UPDATE, .object = obj, .old_object = old, .user = "alice"};
    th_review(s, &req, d);
}

START_TEST(test_update_semantics_after_template_change)
{
    sk_store *lax = lax_and_tight(0), *tight = lax_and_tight(1);
    json_t *obj = th_yaml(WS_HEAD "metadata: {name: w, namespace: ns}\n"
                                  "spec: {templateRef: {name: t}, storage: {size: 10Gi}, desiredStatus: Stopped}\n");
    sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = "alice"};
    sk_decision d;
    th_review(lax, &req, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    json_t *stopped = json_incref(d.object);
    sk_decision_free(&d);

    /* metadata-only change under the tightened template: allowed */
    json_t *labelled = json_deep_copy(stopped);
    json_object_set_new(json_object_get(labelled, "metadata"), "labels", json_pack("{s:s}", "team", "x"));
    update_in(tight, stopped, labelled, &d);
    ck_assert_msg(d.allowed, "metadata-only: %s", th_violations(&d));
    ck_assert_ptr_null(sk_json_get(d.object, "spec", "resources", NULL)); /* no re-defaulting */
    sk_decision_free(&d);

    /* starting it re-checks against the template as it is now: denied, every reason */
    json_t *started = json_deep_copy(stopped);
    json_object_set_new(json_object_get(started, "spec"), "desiredStatus", json_string("Running"));
    update_in(tight, stopped, started, &d);
    ck_assert(!d.allowed);
    ck_assert(th_has_violation(&d, "spec.image", "\"img:old\" is not allowed by template \"t\" (allowed: img:new)"));
    ck_assert(th_has_violation(&d, "spec.storage.size", "above the maximum 5Gi"));
    sk_decision_free(&d);

    /* a running non-compliant workspace may still be stopped */
    json_t *running = json_deep_copy(stopped);
    json_object_set_new(json_object_get(running, "spec"), "desiredStatus", json_string("Running"));
    update_in(tight, running, stopped, &d);
    ck_assert_msg(d.allowed, "pure stop: %s", th_violations(&d));
    sk_decision_free(&d);

    /* stop plus another change is not a pure stop */
    json_t *stop_and_grow = json_deep_copy(stopped);
    json_object_set_new(sk_json_get(stop_and_grow, "spec", "storage", NULL), "size", json_string("20Gi"));
    update_in(tight, running, stop_and_grow, &d);
    ck_assert(!d.allowed);
    sk_decision_free(&d);

    json_decref(stop_and_grow);
    json_decref(running);
    json_decref(started);
    json_decref(labelled);
    json_decref(stopped);
    json_decref(obj);
    sk_store_free(lax);
    sk_store_free(tight);
}
END_TEST

START_TEST(test_wrong_shapes)
{
    sk_decision d;
    create("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", &d);
    ck_assert(th_has_violation(&d, "apiVersion", "is not in group workspace.jupyter.org"));
    sk_decision_free(&d);
    create("apiVersion: workspace.jupyter.org/v1alpha1\nkind: Notebook\nmetadata: {name: p}\n", &d);
    ck_assert(th_has_violation(&d, "kind", "\"Notebook\" is not reviewed by spacekeeper"));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: [1, 2]\n", &d);
    ck_assert(th_has_violation(&d, "spec", "spec must be an object, not array"));
    sk_decision_free(&d);
    create(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec:\n  templateRef: strict\n", &d);
    ck_assert(th_has_violation(&d, "spec.templateRef.name", "required"));
    sk_decision_free(&d);
    sk_request req = {.op = SK_OP_CREATE, .object = NULL, .user = "alice"};
    th_review(store, &req, &d);
    ck_assert(th_has_violation(&d, "object", "carries no object"));
    sk_decision_free(&d);
}
END_TEST

Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("workspace");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_long_violation_messages_are_kept);
    tcase_add_test(tc, test_defaults_fill_every_row);
    tcase_add_test(tc, test_defaults_never_override);
    tcase_add_test(tc, test_defaults_never_contradict_the_user);
    tcase_add_test(tc, test_mutation_is_idempotent);
    tcase_add_test(tc, test_scratch_mode_matches_copy_mode);
    tcase_add_test(tc, test_image_allowed_list);
    tcase_add_test(tc, test_resources_bounds_and_limits);
    tcase_add_test(tc, test_storage_size_bounds);
    tcase_add_test(tc, test_storage_always_gets_a_size);
    tcase_add_test(tc, test_storage_update_rules);
    tcase_add_test(tc, test_mount_path);
    tcase_add_test(tc, test_secondary_storage);
    tcase_add_test(tc, test_enums);
    tcase_add_test(tc, test_lifecycle_script_size);
    tcase_add_test(tc, test_idle_shutdown_overrides);
    tcase_add_test(tc, test_template_resolution);
    tcase_add_test(tc, test_template_for_matches_the_review);
    tcase_add_test(tc, test_template_scope);
    tcase_add_test(tc, test_no_template_at_all);
    tcase_add_test(tc, test_template_without_default_image);
    tcase_add_test(tc, test_metadata_stamping);
    tcase_add_test(tc, test_created_by_is_immutable);
    tcase_add_test(tc, test_reserved_prefix_on_create);
    tcase_add_test(tc, test_reserved_prefix_on_update);
    tcase_add_test(tc, test_owner_only);
    tcase_add_test(tc, test_only_the_owner_makes_it_owner_only);
    tcase_add_test(tc, test_update_semantics_after_template_change);
    tcase_add_test(tc, test_wrong_shapes);
    suite_add_tcase(s, tc);
    return s;
}
