/* WorkspaceTemplates admitted as objects: self-checks, system templates,
 * the constraint-change warning, and the store's indexes. */
#include <stdio.h>
#include <string.h>

#include "spacekeeper/json.h"
#include "th.h"

#define TPL_HEAD "apiVersion: workspace.jupyter.org/v1alpha1\nkind: WorkspaceTemplate\n"

static void review(sk_operation op, const char *yaml, const char *old_yaml, const char *user,
                   sk_decision *d)
{
    sk_store *s = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    json_t *obj = yaml ? th_yaml(yaml) : NULL, *old = old_yaml ? th_yaml(old_yaml) : NULL;
    sk_request req = {.op = op, .object = obj, .old_object = old, .user = user};
    th_review(s, &req, d);
    json_decref(obj);
    json_decref(old);
    sk_store_free(s);
}

START_TEST(test_valid_template_and_seed_example)
{
    sk_decision d;
    /* the seed page's idle-shutdown example: default 30 outside [60, 240] is
     * legal (the default is not an override) but earns a warning */
    review(SK_OP_CREATE,
           TPL_HEAD "metadata: {name: jupyter-template}\nspec:\n  displayName: \"Jupyter Template\"\n"
                    "  defaultImage: jupyter/scipy-notebook:latest\n  defaultIdleShutdown:\n"
                    "    enabled: true\n    idleShutdownTimeoutMinutes: 30\n    detection:\n"
                    "      httpGet: {path: /api/idle, port: 8888}\n  idleShutdownOverrides:\n"
                    "    allow: true\n    minTimeoutMinutes: 60\n    maxTimeoutMinutes: 240\n",
           NULL, "admin", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    ck_assert_uint_eq(json_array_size(d.warnings), 1);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(d.warnings, 0)),
                                 "idleShutdownTimeoutMinutes 30 is outside idleShutdownOverrides [60, 240]"));
    ck_assert_uint_eq(json_array_size(d.patch), 0);
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_self_checks_report_everything)
{
    sk_decision d;
    review(SK_OP_CREATE,
           TPL_HEAD "metadata: {name: bad, namespace: ns}\nspec:\n  defaultImage: img:9\n"
                    "  allowedImages: [img:1, 7]\n"
                    "  primaryStorage: {defaultSize: 100Gi, minSize: 10Gi, maxSize: 5Gi, defaultMountPath: /opt/ml}\n"
                    "  defaultResources:\n    requests: {cpu: \"16\"}\n    limits: {cpu: \"1\"}\n"
                    "  resourceBounds:\n    resources:\n      cpu: {min: \"1\", max: \"8\"}\n      memory: {min: 10GB}\n"
                    "  idleShutdownOverrides: {allow: false, minTimeoutMinutes: 0}\n"
                    "  defaultOwnershipType: Shared\n  appType: -vim\n",
           NULL, "admin", &d);
    ck_assert(!d.allowed);
    static const struct {
        const char *field, *text;
    } want[] = {
        {"spec.allowedImages", "spec.allowedImages[1] must be a string, not integer"},
        {"spec.defaultImage", "spec.defaultImage \"img:9\" is not in spec.allowedImages (img:1)"},
        {"spec.primaryStorage", "min 10Gi is greater than max 5Gi"},
        {"spec.primaryStorage.defaultSize", "100Gi is above the maximum 5Gi"},
        {"spec.primaryStorage.defaultMountPath", "reserved for the platform"},
        {"spec.defaultResources.requests.cpu", "16 is above the maximum 8"},
        {"spec.defaultResources.limits.cpu", "1 is less than spec.defaultResources.requests.cpu 16"},
        {"spec.resourceBounds.resources.memory.min", "unknown suffix \"GB\""},
        {"spec.idleShutdownOverrides.minTimeoutMinutes", "at least 1"},
        {"spec.idleShutdownOverrides.allow", "has no defaultIdleShutdown"},
        {"spec.defaultOwnershipType", "\"Shared\" is not one of: Public, OwnerOnly"},
        {"spec.appType", "\"-vim\" must start and end with a letter or digit"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(th_has_violation(&d, want[i].field, want[i].text), "missing %s: %s\nin %s",
                      want[i].field, want[i].text, th_violations(&d));
    /* one problem, one message */
    ck_assert_msg(th_count_violations(&d, "spec.defaultImage") == 1, "%s", th_violations(&d));
    ck_assert_msg(th_count_violations(&d, "spec.appType") == 1, "%s", th_violations(&d));
    sk_decision_free(&d);

    review(SK_OP_CREATE, TPL_HEAD "metadata: {namespace: ns}\nspec: {}\n", NULL, "admin", &d);
    ck_assert(th_has_violation(&d, "metadata.name", "required"));
    sk_decision_free(&d);
    review(SK_OP_CREATE, TPL_HEAD "metadata: {name: t}\nspec: {defaultIdleShutdown: {enabled: true}}\n",
           NULL, "admin", &d);
    ck_assert(th_has_violation(&d, "spec.defaultIdleShutdown.idleShutdownTimeoutMinutes", "required"));
    ck_assert(th_has_violation(&d, "spec.defaultIdleShutdown.detection", "required"));
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_default_image_and_custom_images)
{
    sk_decision d;
    /* custom images allowed: any default is admissible */
    review(SK_OP_CREATE,
           TPL_HEAD "metadata: {name: byo, namespace: ns}\nspec:\n  allowCustomImages: true\n"
                    "  defaultImage: img-default\n  allowedImages: [img-a]\n",
           NULL, "admin", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    /* not allowed: the default must be listed, and is reported once */
    review(SK_OP_CREATE,
           TPL_HEAD "metadata: {name: pinned, namespace: ns}\nspec:\n  allowCustomImages: false\n"
                    "  defaultImage: img-default\n  allowedImages: [img-a, img-b]\n",
           NULL, "admin", &d);
    ck_assert(!d.allowed);
    ck_assert_msg(th_has_violation(&d, "spec.defaultImage",
                                   "spec.defaultImage \"img-default\" is not in spec.allowedImages "
                                   "(img-a, img-b)"),
                  "%s", th_violations(&d));
    ck_assert_int_eq(json_array_size(d.violations), 1);
    sk_decision_free(&d);
    /* an empty list means just the default: nothing to contradict */
    review(SK_OP_CREATE, TPL_HEAD "metadata: {name: solo, namespace: ns}\nspec: {defaultImage: img-default}\n",
           NULL, "admin", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_operator_default_size_outside_bounds_warns)
{
    static const struct {
        const char *primary, *warning; /* NULL: no warning */
    } cases[] = {
        {"{maxSize: 5Gi, defaultStorageClassName: fast-ssd}",
         "template \"t\": spec.primaryStorage has no defaultSize and the operator's default 10Gi "
         "is above maxSize 5Gi; workspaces given storage get 5Gi"},
        {"{minSize: 20Gi}",
         "template \"t\": spec.primaryStorage has no defaultSize and the operator's default 10Gi "
         "is below minSize 20Gi; workspaces given storage get 20Gi"},
        {"{minSize: 5Gi, maxSize: 50Gi}", NULL},
        {"{defaultSize: 1Gi, maxSize: 5Gi}", NULL},
        {"{defaultStorageClassName: gp3}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, TPL_HEAD "metadata: {name: t}\nspec: {primaryStorage: %s}\n",
                 cases[i].primary);
        sk_decision d;
        review(SK_OP_CREATE, yaml, NULL, "admin", &d);
        ck_assert_msg(d.allowed, "%s", th_violations(&d));
        if (!cases[i].warning) {
            ck_assert_uint_eq(json_array_size(d.warnings), 0);
        } else {
            ck_assert_uint_eq(json_array_size(d.warnings), 1);
            ck_assert_str_eq(json_string_value(json_array_get(d.warnings, 0)), cases[i].warning);
        }
        sk_decision_free(&d);
    }
}
END_TEST

#define SYSTEM_TPL                                                                           \
    TPL_HEAD "metadata:\n  name: sys\n  namespace: spacekeeper-shared\n  labels:\n"          \
             "    workspace.jupyter.org/system-template: \"true\"\nspec: {defaultImage: a}\n"

START_TEST(test_system_templates_are_protected)
{
    const char *changed = TPL_HEAD "metadata:\n  name: sys\n  namespace: spacekeeper-shared\n"
                                   "spec: {defaultImage: b}\n";
    sk_decision d;
    review(SK_OP_UPDATE, changed, SYSTEM_TPL, "admin", &d);
    ck_assert_msg(th_has_violation(&d, "metadata.labels.workspace.jupyter.org/system-template",
                                   "template \"sys\" is a system template and cannot be changed"),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    review(SK_OP_DELETE, NULL, SYSTEM_TPL, "admin", &d);
    ck_assert(th_has_violation(&d, "metadata.labels.workspace.jupyter.org/system-template",
                               "cannot be deleted"));
    sk_decision_free(&d);
    review(SK_OP_UPDATE, changed, SYSTEM_TPL, SK_DEFAULT_CONTROLLER_USER, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
}
END_TEST

/* Tools' bookkeeping annotations are no change (helm upgrade writes its
 * ownership annotations again every time); labels, the spec and
 * workspace.jupyter.org/ annotations are. */
START_TEST(test_system_template_bookkeeping_is_no_change)
{
    static const struct {
        const char *metadata, *spec;
        int allowed;
    } cases[] = {
        {"  annotations: {meta.helm.sh/release-name: spacekeeper, meta.helm.sh/release-namespace: sk}\n",
         "{defaultImage: a}", 1},
        {"  annotations: {kubectl.kubernetes.io/last-applied-configuration: '{}'}\n", "{defaultImage: a}", 1},
        {"  annotations: {workspace.jupyter.org/preload: \"false\"}\n", "{defaultImage: a}", 0},
        {"", "{defaultImage: b}", 0},
        {"    workspace.jupyter.org/default-template: \"true\"\n", "{defaultImage: a}", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char updated[512];
        int in_labels = strncmp(cases[i].metadata, "    ", 4) == 0;
        snprintf(updated, sizeof updated,
                 TPL_HEAD "metadata:\n  name: sys\n  namespace: spacekeeper-shared\n%s  labels:\n"
                          "    workspace.jupyter.org/system-template: \"true\"\n%sspec: %s\n",
                 in_labels ? "" : cases[i].metadata, in_labels ? cases[i].metadata : "", cases[i].spec);
        sk_decision d;
        review(SK_OP_UPDATE, updated, SYSTEM_TPL, "admin", &d);
        ck_assert_msg(d.allowed == cases[i].allowed, "case %zu: %s", i, th_violations(&d));
        sk_decision_free(&d);
    }
}
END_TEST

START_TEST(test_constraint_change_warns)
{
    sk_decision d;
    review(SK_OP_UPDATE, TPL_HEAD "metadata: {name: t}\nspec: {defaultImage: a, allowedImages: [a]}\n",
           TPL_HEAD "metadata: {name: t}\nspec: {defaultImage: a, allowedImages: [a, b]}\n", "admin", &d);
    ck_assert(d.allowed);
    ck_assert_uint_eq(json_array_size(d.warnings), 1);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(d.warnings, 0)),
                                 "constraints changed (allowedImages): workspaces are re-checked at their next start"));
    sk_decision_free(&d);
    /* a display-name change is no constraint change */
    review(SK_OP_UPDATE, TPL_HEAD "metadata: {name: t}\nspec: {defaultImage: a, displayName: B}\n",
           TPL_HEAD "metadata: {name: t}\nspec: {defaultImage: a, displayName: A}\n", "admin", &d);
    ck_assert_uint_eq(json_array_size(d.warnings), 0);
    sk_decision_free(&d);
}
END_TEST

/* Constraints compare by meaning: quantities by value, sets as sets,
 * absent flags as their defaults. */
START_TEST(test_constraint_change_compares_meaning)
{
    static const struct {
        const char *old_spec, *new_spec;
        const char *changed; /* the field named in the warning; NULL: no warning */
    } cases[] = {
        {"{resourceBounds: {resources: {cpu: {max: 1000m}}}}", "{resourceBounds: {resources: {cpu: {max: \"1\"}}}}", NULL},
        {"{resourceBounds: {resources: {cpu: {max: 1}}}}", "{resourceBounds: {resources: {cpu: {max: \"1\"}}}}", NULL},
        {"{resourceBounds: {resources: {memory: {min: 1Gi, max: 32Gi}}}}",
         "{resourceBounds: {resources: {memory: {max: 32768Mi, min: 1024Mi}}}}", NULL},
        {"{primaryStorage: {minSize: 5Gi, maxSize: 50Gi, defaultSize: 10Gi}}",
         "{primaryStorage: {maxSize: 51200Mi, defaultSize: \"10737418240\", minSize: 5Gi}}", NULL},
        {"{defaultImage: a, allowedImages: [a, b, c]}", "{defaultImage: a, allowedImages: [c, a, b]}", NULL},
        {"{defaultImage: a, allowedImages: [a, b]}", "{defaultImage: a, allowedImages: [b, a, b]}", NULL},
        {"{allowSecondaryStorages: true}", "{}", NULL},
        {"{}", "{allowCustomImages: false}", NULL},
        {"{idleShutdownOverrides: {allow: true, minTimeoutMinutes: 30}}", "{idleShutdownOverrides: {minTimeoutMinutes: 30}}", NULL},
        {"{appType: jupyterlab, displayName: A}", "{appType: jupyterlab, displayName: B}", NULL},
        /* real changes */
        {"{resourceBounds: {resources: {cpu: {max: 1000m}}}}", "{resourceBounds: {resources: {cpu: {max: 1001m}}}}", "resourceBounds"},
        {"{resourceBounds: {resources: {cpu: {max: 1}}}}", "{resourceBounds: {resources: {cpu: {max: 1}, memory: {max: 1Gi}}}}", "resourceBounds"},
        {"{resourceBounds: {resources: {cpu: {max: 1}}}}", "{resourceBounds: {resources: {cpu: {min: 1}}}}", "resourceBounds"},
        {"{primaryStorage: {maxSize: 50Gi}}", "{primaryStorage: {maxSize: 40Gi}}", "primaryStorage"},
        {"{primaryStorage: {defaultSize: 10Gi}}", "{primaryStorage: {defaultSize: 20Gi}}", "primaryStorage"},
        {"{primaryStorage: {defaultStorageClassName: gp3}}", "{primaryStorage: {defaultStorageClassName: io2}}", "primaryStorage"},
        {"{defaultImage: a, allowedImages: [a, b]}", "{defaultImage: a, allowedImages: [a, c]}", "allowedImages"},
        {"{defaultImage: a}", "{defaultImage: b}", "defaultImage"},
        {"{allowCustomImages: true}", "{}", "allowCustomImages"},
        {"{}", "{allowSecondaryStorages: false}", "allowSecondaryStorages"},
        {"{idleShutdownOverrides: {maxTimeoutMinutes: 240}}", "{idleShutdownOverrides: {maxTimeoutMinutes: 120}}", "idleShutdownOverrides"},
        {"{idleShutdownOverrides: {allow: true}}", "{idleShutdownOverrides: {allow: false}, defaultIdleShutdown: {enabled: false}}", "idleShutdownOverrides"},
        /* workspaces that inherited the old default now hold an override */
        {"{defaultIdleShutdown: {enabled: false}}", "{defaultIdleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 30, detection: {httpGet: {port: 8888}}}}", "defaultIdleShutdown"},
        {"{appType: jupyterlab}", "{appType: code-editor}", "appType"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char old_y[512], new_y[512];
        snprintf(old_y, sizeof old_y, TPL_HEAD "metadata: {name: t}\nspec: %s\n", cases[i].old_spec);
        snprintf(new_y, sizeof new_y, TPL_HEAD "metadata: {name: t}\nspec: %s\n", cases[i].new_spec);
        sk_decision d;
        review(SK_OP_UPDATE, new_y, old_y, "admin", &d);
        ck_assert_msg(d.allowed, "case %zu: %s", i, th_violations(&d));
        if (!cases[i].changed) {
            ck_assert_msg(json_array_size(d.warnings) == 0, "case %zu warned: %s", i,
                          json_string_value(json_array_get(d.warnings, 0)));
        } else {
            char want[128];
            snprintf(want, sizeof want, "template \"t\" constraints changed (%s)", cases[i].changed);
            ck_assert_msg(json_array_size(d.warnings) == 1, "case %zu: no warning", i);
            ck_assert_msg(strstr(json_string_value(json_array_get(d.warnings, 0)), want),
                          "case %zu: %s", i, json_string_value(json_array_get(d.warnings, 0)));
        }
        sk_decision_free(&d);
    }
}
END_TEST

START_TEST(test_store_replace_remove_and_defaults)
{
    sk_store *s = sk_store_new("shared");
    json_t *a = th_yaml(TPL_HEAD "metadata: {name: a, namespace: ns, labels: {workspace.jupyter.org/default-template: \"true\"}}\n");
    json_t *b = th_yaml(TPL_HEAD "metadata: {name: b, namespace: ns, labels: {workspace.jupyter.org/default-template: \"true\"}}\n");
    json_t *b2 = th_yaml(TPL_HEAD "metadata: {name: b, namespace: ns}\n");
    json_t *c = th_yaml(TPL_HEAD "metadata: {name: c}\n");
    sk_store_put(s, sk_template_new(a, "shared", NULL));
    sk_store_put(s, sk_template_new(b, "shared", NULL));
    sk_store_put(s, sk_template_new(c, "shared", NULL));
    const sk_template *conflict[2] = {NULL, NULL};
    ck_assert_ptr_null(sk_store_default(s, "ns", conflict));
    ck_assert_ptr_nonnull(conflict[0]);
    ck_assert_str_eq(conflict[0]->name, "a");
    ck_assert_str_eq(conflict[1]->name, "b");
    /* b loses its default label: a is the one default again */
    sk_store_put(s, sk_template_new(b2, "shared", NULL));
    ck_assert_str_eq(sk_store_default(s, "ns", conflict)->name, "a");
    ck_assert_uint_eq(sk_store_count(s), 3);
    /* a template without a namespace lives in the shared one */
    ck_assert_ptr_nonnull(sk_store_get(s, "shared", "c"));
    ck_assert_int_eq(sk_store_remove(s, "ns", "a"), 1);
    ck_assert_int_eq(sk_store_remove(s, "ns", "a"), 0);
    ck_assert_ptr_null(sk_store_default(s, "ns", conflict));
    ck_assert_ptr_null(sk_store_get(s, "ns", "a"));
    ck_assert_uint_eq(sk_store_count(s), 2);
    json_decref(a);
    json_decref(b);
    json_decref(b2);
    json_decref(c);
    sk_store_free(s);
}
END_TEST

START_TEST(test_many_allowed_images)
{
    json_t *t = th_yaml(TPL_HEAD "metadata: {name: big}\nspec: {defaultImage: img:0}\n");
    json_t *list = json_array();
    char img[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(img, sizeof img, "img:%d", i);
        json_array_append_new(list, json_string(img));
    }
    json_object_set_new(json_object_get(t, "spec"), "allowedImages", list);
    sk_template *tpl = sk_template_new(t, "shared", NULL);
    ck_assert_uint_eq(tpl->n_allowed, 5000);
    ck_assert(sk_template_allows_image(tpl, "img:4999"));
    ck_assert(!sk_template_allows_image(tpl, "img:5000"));
    char desc[256];
    sk_template_describe_images(tpl, 3, desc, sizeof desc);
    ck_assert_str_eq(desc, "img:0, img:1, img:2 and 4997 more");
    sk_template_free(tpl);
    json_decref(t);
}
END_TEST

START_TEST(test_compiled_template_keeps_only_what_decisions_read)
{
    json_t *t = th_yaml(TPL_HEAD "metadata:\n  name: t\n  namespace: ns\n  uid: u\n"
                                 "  labels: {kueue.x-k8s.io/queue-name: q}\n"
                                 "  annotations: {kubectl.kubernetes.io/last-applied-configuration: big}\n"
                                 "  managedFields: [{manager: kubectl, fieldsV1: {f:spec: {}}}]\n"
                                 "spec: {defaultImage: a}\n");
    sk_template *tpl = sk_template_new(t, "shared", NULL);
    json_t *md = json_object_get(tpl->obj, "metadata");
    ck_assert_ptr_null(json_object_get(md, "managedFields"));
    ck_assert_ptr_null(json_object_get(md, "annotations"));
    ck_assert_str_eq(sk_json_str(md, "labels", "kueue.x-k8s.io/queue-name", NULL), "q");
    ck_assert_ptr_eq(tpl->spec, json_object_get(t, "spec")); /* shared, not copied */
    json_decref(t);                                         /* the template outlives its source */
    ck_assert_str_eq(tpl->default_image, "a");
    ck_assert_str_eq(tpl->key, "ns/t");
    sk_template_free(tpl);
}
END_TEST

Suite *template_suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("self-checks");
    tcase_add_test(tc, test_valid_template_and_seed_example);
    tcase_add_test(tc, test_self_checks_report_everything);
    tcase_add_test(tc, test_default_image_and_custom_images);
    tcase_add_test(tc, test_operator_default_size_outside_bounds_warns);
    tcase_add_test(tc, test_system_templates_are_protected);
    tcase_add_test(tc, test_system_template_bookkeeping_is_no_change);
    tcase_add_test(tc, test_constraint_change_warns);
    tcase_add_test(tc, test_constraint_change_compares_meaning);
    tcase_add_test(tc, test_store_replace_remove_and_defaults);
    tcase_add_test(tc, test_many_allowed_images);
    tcase_add_test(tc, test_compiled_template_keeps_only_what_decisions_read);
    suite_add_tcase(s, tc);
    return s;
}
