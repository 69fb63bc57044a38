#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/metrics.h"
#include "th.h"

static char *render(const sk_metrics *m)
{
    static sk_buf out;
    sk_buf_free(&out);
    sk_metrics_gauges g = {0};
    sk_metrics_render(m, &out, &g);
    return out.data;
}

static json_t *violations(const char *const *fields, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, fields[i] ? json_pack("{s:s, s:s}", "field", fields[i], "message", "m")
                                           : json_pack("{s:s}", "message", "m"));
    return a;
}

START_TEST(test_review_latency_by_operation_and_verdict)
{
    sk_metrics *m = sk_metrics_new();
    const char *text = render(m);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE spacekeeper_admission_review_duration_seconds histogram\n"));
    ck_assert_ptr_null(strstr(text, "spacekeeper_admission_review_duration_seconds_count"));
    sk_metrics_review(m, SK_HOOK_MUTATE, SK_OP_CREATE, SK_VERDICT_PATCHED, 0.003);
    sk_metrics_review(m, SK_HOOK_VALIDATE, SK_OP_UPDATE, SK_VERDICT_DENIED, 0.2);
    sk_metrics_review(m, SK_HOOK_VALIDATE, SK_OP_UPDATE, SK_VERDICT_DENIED, 0.0002);
    sk_metrics_review(m, SK_HOOK_OTHER, SK_OP_CREATE, SK_VERDICT_ALLOWED, 1); /* not a webhook: dropped */
    text = render(m);
    ck_assert_ptr_nonnull(strstr(text, "spacekeeper_admission_review_duration_seconds_bucket{webhook=\"/mutate\","
                                       "operation=\"CREATE\",verdict=\"patched\",le=\"0.0025\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "spacekeeper_admission_review_duration_seconds_bucket{webhook=\"/mutate\","
                                       "operation=\"CREATE\",verdict=\"patched\",le=\"0.005\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "spacekeeper_admission_review_duration_seconds_count{webhook=\"/validate\","
                                       "operation=\"UPDATE\",verdict=\"denied\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "spacekeeper_admission_review_duration_seconds_bucket{webhook=\"/validate\","
                                       "operation=\"UPDATE\",verdict=\"denied\",le=\"0.1\"} 1\n"));
    /* only what was observed has series */
    ck_assert_ptr_null(strstr(text, "operation=\"DELETE\""));
    ck_assert_ptr_null(strstr(text, "webhook=\"other\",operation"));
    sk_metrics_free(m);
}
END_TEST

static unsigned long denials(const sk_metrics *m, const char *reason)
{
    char want[128];
    snprintf(want, sizeof want, "spacekeeper_admission_denials_total{reason=\"%s\"} ", reason);
    const char *at = strstr(render(m), want);
    return at ? strtoul(at + strlen(want), NULL, 10) : 0;
}

START_TEST(test_denials_by_reason)
{
    sk_metrics *m = sk_metrics_new();
    ck_assert_ptr_nonnull(strstr(render(m), "# TYPE spacekeeper_admission_denials_total counter\n"));
    const char *first[] = {"spec.storage.size", "spec.storage.storageClassName", "spec.image",
                           "metadata.labels.workspace.jupyter.org/custom", "spec.volumes[0].name",
                           "spec.bad-name.x", NULL, "kind"};
    json_t *v = violations(first, sizeof first / sizeof *first);
    sk_metrics_denial(m, v);
    json_decref(v);
    const char *second[] = {"spec.storage.size"};
    v = violations(second, 1);
    sk_metrics_denial(m, v);
    json_decref(v);
    ck_assert_uint_eq(denials(m, "spec.storage"), 2); /* once per review, however many fields */
    ck_assert_uint_eq(denials(m, "spec.image"), 1);
    ck_assert_uint_eq(denials(m, "metadata.labels"), 1);
    ck_assert_uint_eq(denials(m, "spec.volumes"), 1);
    ck_assert_uint_eq(denials(m, "spec.bad_name"), 1);
    ck_assert_uint_eq(denials(m, "unknown"), 1);
    ck_assert_uint_eq(denials(m, "kind"), 1);
    ck_assert_uint_eq(denials(m, "other"), 0);
    sk_metrics_free(m);
}
END_TEST

START_TEST(test_denial_reasons_are_bounded)
{
    sk_metrics *m = sk_metrics_new();
    for (int i = 0; i < SK_METRICS_MAX_REASONS + 8; i++) {
        char field[32];
        snprintf(field, sizeof field, "spec.f%d.x", i);
        const char *fields[] = {field};
        json_t *v = violations(fields, 1);
        sk_metrics_denial(m, v);
        json_decref(v);
    }
    ck_assert_uint_eq(denials(m, "spec.f0"), 1);
    ck_assert_uint_eq(denials(m, "spec.f31"), 1);
    ck_assert_uint_eq(denials(m, "spec.f32"), 0);
    ck_assert_uint_eq(denials(m, "other"), 8);
    const char *text = render(m), *p = text;
    int series = 0;
    while ((p = strstr(p, "spacekeeper_admission_denials_total{")))
        series++, p++;
    ck_assert_int_eq(series, SK_METRICS_MAX_REASONS + 1);
    sk_metrics_free(m);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_review_latency_by_operation_and_verdict);
    tcase_add_test(tc, test_denials_by_reason);
    tcase_add_test(tc, test_denial_reasons_are_bounded);
    suite_add_tcase(s, tc);
    return s;
}
