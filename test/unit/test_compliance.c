/* The compliance reports' pure parts: verdicts gathered per namespace, the
 * PolicyReport each namespace should have, and its comparison with the one
 * there. */
#include <stdio.h>
#include <string.h>

#include "spacekeeper/compliance.h"
#include "spacekeeper/json.h"
#include "spacekeeper/violation.h"
#include "th.h"

#define NOW 1795420800.0 /* 2026-11-23T08:00:00Z */

static json_t *violations(const char *field, const char *message)
{
    json_t *v = json_array();
    if (field)
        sk_violation_add(v, field, "%s", message);
    return v;
}

static void add(sk_compliance *c, const char *ns, const char *name, const char *tmpl, json_t *v)
{
    sk_compliance_entry e = {ns, name, "uid-1", tmpl, v};
    sk_compliance_add(c, &e);
    json_decref(v);
}

/* team-a: "ok" passes, "zeta" and "alpha" fail; team-b: all pass. */
static sk_compliance *sample(void)
{
    sk_compliance *c = sk_compliance_new();
    add(c, "team-a", "ok", "team-a/strict", violations(NULL, NULL));
    json_t *two = violations("spec.image", "spec.image \"x\" is not allowed");
    sk_violation_add(two, "spec.storage.size", "spec.storage.size 80Gi is above 50Gi");
    add(c, "team-a", "zeta", "team-a/strict", two);
    add(c, "team-a", "alpha", NULL, violations("spec.templateRef", "template \"gone\" not found"));
    add(c, "team-b", "fine", "shared/base", violations(NULL, NULL));
    return c;
}

START_TEST(test_report_per_failing_namespace)
{
    sk_compliance *c = sample();
    ck_assert_uint_eq(sk_compliance_workspaces(c), 4);
    ck_assert_uint_eq(sk_compliance_noncompliant(c), 2);
    int seen_a = 0, seen_b = 0;
    const char *ns;
    for (size_t i = 0; (ns = sk_compliance_next_namespace(c, &i));)
        seen_a += strcmp(ns, "team-a") == 0, seen_b += strcmp(ns, "team-b") == 0;
    ck_assert_int_eq(seen_a + seen_b, 2);
    ck_assert_ptr_null(sk_compliance_report(c, "team-b", NULL, NOW)); /* nothing fails: no report */
    ck_assert_ptr_null(sk_compliance_report(c, "team-z", NULL, NOW));

    json_t *r = sk_compliance_report(c, "team-a", NULL, NOW);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(sk_json_str(r, "apiVersion", NULL), "wgpolicyk8s.io/v1alpha2");
    ck_assert_str_eq(sk_json_str(r, "kind", NULL), "PolicyReport");
    ck_assert_str_eq(sk_json_str(r, "metadata", "name", NULL), "spacekeeper");
    ck_assert_str_eq(sk_json_str(r, "metadata", "namespace", NULL), "team-a");
    ck_assert_str_eq(sk_json_str(r, "metadata", "labels", "app.kubernetes.io/managed-by", NULL), "spacekeeper");
    json_t *want_summary = json_pack("{s:i, s:i, s:i, s:i, s:i}", "pass", 1, "fail", 3, "warn", 0, "error", 0,
                                     "skip", 0);
    ck_assert(json_equal(json_object_get(r, "summary"), want_summary));
    json_decref(want_summary);
    /* by workspace, then in the engine's order */
    const json_t *results = json_object_get(r, "results");
    ck_assert_uint_eq(json_array_size(results), 3);
    static const char *const order[][2] = {
        {"alpha", "spec.templateRef"}, {"zeta", "spec.image"}, {"zeta", "spec.storage.size"}};
    for (size_t i = 0; i < 3; i++) {
        const json_t *res = json_array_get(results, i);
        const json_t *ref = json_array_get(json_object_get(res, "resources"), 0);
        ck_assert_str_eq(sk_json_str(ref, "name", NULL), order[i][0]);
        ck_assert_str_eq(sk_json_str(res, "rule", NULL), order[i][1]);
        ck_assert_str_eq(sk_json_str(res, "result", NULL), "fail");
        ck_assert_str_eq(sk_json_str(res, "policy", NULL), "spacekeeper");
        ck_assert_str_eq(sk_json_str(res, "source", NULL), "spacekeeper");
        ck_assert(json_is_true(json_object_get(res, "scored")));
        ck_assert_str_eq(sk_json_str(ref, "kind", NULL), "Workspace");
        ck_assert_str_eq(sk_json_str(ref, "apiVersion", NULL), "workspace.jupyter.org/v1alpha1");
        ck_assert_str_eq(sk_json_str(ref, "namespace", NULL), "team-a");
        ck_assert_str_eq(sk_json_str(ref, "uid", NULL), "uid-1");
        ck_assert_int_eq(json_integer_value(sk_json_get(res, "timestamp", "seconds", NULL)), (json_int_t)NOW);
    }
    ck_assert_str_eq(sk_json_str(json_array_get(results, 1), "message", NULL), "spec.image \"x\" is not allowed");
    /* no template resolved: no properties */
    ck_assert_ptr_null(json_object_get(json_array_get(results, 0), "properties"));
    ck_assert_str_eq(sk_json_str(json_array_get(results, 1), "properties", "template", NULL), "team-a/strict");
    json_decref(r);
    sk_compliance_free(c);
}
END_TEST

START_TEST(test_timestamps_kept_and_comparison)
{
    sk_compliance *c = sample();
    json_t *there = sk_compliance_report(c, "team-a", NULL, NOW);
    /* the same verdicts later: the same report, old timestamps kept */
    json_t *again = sk_compliance_report(c, "team-a", there, NOW + 3600);
    ck_assert(json_equal(again, there));
    ck_assert(sk_policy_report_same(again, there));
    json_decref(again);
    /* timestamps alone never make a difference */
    again = sk_compliance_report(c, "team-a", NULL, NOW + 3600);
    ck_assert(!json_equal(again, there));
    ck_assert(sk_policy_report_same(again, there));
    json_decref(again);
    sk_compliance_free(c);

    /* "zeta" fixed its image, its storage message changed, "beta" is new */
    c = sk_compliance_new();
    add(c, "team-a", "ok", "team-a/strict", violations(NULL, NULL));
    add(c, "team-a", "zeta", "team-a/strict", violations("spec.storage.size", "spec.storage.size 90Gi is above 50Gi"));
    add(c, "team-a", "alpha", NULL, violations("spec.templateRef", "template \"gone\" not found"));
    add(c, "team-a", "beta", NULL, violations("spec.image", "no"));
    json_t *now = sk_compliance_report(c, "team-a", there, NOW + 60);
    ck_assert(!sk_policy_report_same(now, there));
    const json_t *results = json_object_get(now, "results");
    ck_assert_uint_eq(json_array_size(results), 3);
    json_int_t want[] = {(json_int_t)NOW, (json_int_t)NOW + 60, (json_int_t)NOW}; /* alpha, beta, zeta */
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(json_integer_value(sk_json_get(json_array_get(results, i), "timestamp", "seconds", NULL)),
                         want[i]);
    json_decref(now);
    sk_compliance_free(c);

    /* what the comparison looks at */
    json_t *edited = json_deep_copy(there);
    ck_assert(sk_policy_report_same(edited, there));
    json_object_set_new(json_array_get(json_object_get(edited, "results"), 0), "message", json_string("other"));
    ck_assert(!sk_policy_report_same(edited, there));
    json_decref(edited);
    edited = json_deep_copy(there);
    json_object_set_new(json_object_get(edited, "summary"), "pass", json_integer(7));
    ck_assert(!sk_policy_report_same(edited, there));
    json_decref(edited);
    edited = json_deep_copy(there);
    json_object_set_new(json_array_get(json_object_get(edited, "results"), 2), "severity", json_string("high"));
    ck_assert(!sk_policy_report_same(there, edited));
    ck_assert(!sk_policy_report_same(edited, there));
    json_decref(edited);
    edited = json_deep_copy(there);
    json_array_remove(json_object_get(edited, "results"), 0);
    ck_assert(!sk_policy_report_same(edited, there));
    json_decref(edited);
    ck_assert(!sk_policy_report_same(there, NULL));
    ck_assert(!sk_policy_report_same(there, json_object_get(there, "summary")));
    json_decref(there);
}
END_TEST

START_TEST(test_results_capped_summary_whole)
{
    sk_compliance *c = sk_compliance_new();
    char name[32];
    for (int i = 0; i < SK_POLICY_REPORT_MAX_RESULTS + 5; i++) {
        snprintf(name, sizeof name, "ws-%05d", i);
        add(c, "big", name, "big/t", violations("spec.image", "no"));
    }
    json_t *r = sk_compliance_report(c, "big", NULL, NOW);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "results")), SK_POLICY_REPORT_MAX_RESULTS);
    ck_assert_int_eq(json_integer_value(sk_json_get(r, "summary", "fail", NULL)), SK_POLICY_REPORT_MAX_RESULTS + 5);
    /* the first ones, by name */
    const json_t *last = json_array_get(json_object_get(r, "results"), SK_POLICY_REPORT_MAX_RESULTS - 1);
    ck_assert_str_eq(sk_json_str(json_array_get(json_object_get(last, "resources"), 0), "name", NULL), "ws-00999");
    json_decref(r);
    sk_compliance_free(c);
}
END_TEST

START_TEST(test_metric_samples)
{
    sk_compliance *c = sample();
    sk_buf out = SK_BUF_INIT;
    sk_compliance_metrics(c, &out);
    ck_assert_str_eq(out.data, "spacekeeper_workspaces_noncompliant{namespace=\"team-a\",template=\"\"} 1\n"
                               "spacekeeper_workspaces_noncompliant{namespace=\"team-a\",template=\"team-a/strict\"} 1\n"
                               "spacekeeper_workspaces_noncompliant{namespace=\"team-b\",template=\"shared/base\"} 0\n");
    sk_buf_free(&out);
    sk_compliance_free(c);
    /* an entry without a namespace or name is not counted */
    c = sk_compliance_new();
    sk_compliance_entry e = {NULL, "x", NULL, NULL, NULL};
    sk_compliance_add(c, &e);
    ck_assert_uint_eq(sk_compliance_workspaces(c), 0);
    sk_compliance_free(c);
}
END_TEST

/* The engine's decisions, as the reports loop feeds them in. */
START_TEST(test_from_start_reviews)
{
    sk_store *store = th_store("apiVersion: workspace.jupyter.org/v1alpha1\n"
                               "kind: WorkspaceTemplate\n"
                               "metadata: {name: strict, namespace: team-a}\n"
                               "spec:\n"
                               "  defaultImage: img:1\n"
                               "  allowedImages: [img:1, img:2]\n"
                               "  primaryStorage: {defaultSize: 10Gi, maxSize: 50Gi}\n");
    static const char *const ws[] = {
        "{metadata: {name: ok, namespace: team-a, uid: u1}, spec: {templateRef: {name: strict}, image: img:2}}",
        "{metadata: {name: bad, namespace: team-a, uid: u2},"
        " spec: {templateRef: {name: strict}, image: img:9, storage: {size: 80Gi}}}",
    };
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    sk_compliance *c = sk_compliance_new();
    for (size_t i = 0; i < 2; i++) {
        json_t *w = th_yaml(ws[i]);
        sk_decision d;
        sk_policy_review_start(&cfg, store, w, NULL, NULL, &d);
        char tmpl[128] = "";
        if (d.template)
            snprintf(tmpl, sizeof tmpl, "%s/%s", sk_json_str(d.template, "namespace", NULL),
                     sk_json_str(d.template, "name", NULL));
        sk_compliance_entry e = {d.namespace, d.name, sk_json_str(w, "metadata", "uid", NULL),
                                 d.template ? tmpl : NULL, d.violations};
        sk_compliance_add(c, &e);
        sk_decision_free(&d);
        json_decref(w);
    }
    json_t *r = sk_compliance_report(c, "team-a", NULL, NOW);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(json_integer_value(sk_json_get(r, "summary", "pass", NULL)), 1);
    const json_t *results = json_object_get(r, "results");
    ck_assert_uint_eq(json_array_size(results), 2);
    ck_assert_str_eq(sk_json_str(json_array_get(results, 0), "rule", NULL), "spec.image");
    ck_assert_str_eq(sk_json_str(json_array_get(results, 1), "rule", NULL), "spec.storage.size");
    ck_assert_ptr_nonnull(strstr(sk_json_str(json_array_get(results, 0), "message", NULL), "\"img:9\""));
    ck_assert_str_eq(sk_json_str(json_array_get(results, 0), "properties", "template", NULL), "team-a/strict");
    json_decref(r);
    sk_compliance_free(c);
    sk_store_free(store);
}
END_TEST

Suite *compliance_suite(void)
{
    Suite *s = suite_create("compliance");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_report_per_failing_namespace);
    tcase_add_test(tc, test_timestamps_kept_and_comparison);
    tcase_add_test(tc, test_results_capped_summary_whole);
    tcase_add_test(tc, test_metric_samples);
    tcase_add_test(tc, test_from_start_reviews);
    suite_add_tcase(s, tc);
    return s;
}
