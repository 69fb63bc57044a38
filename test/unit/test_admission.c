#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/admission.h"
#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "th.h"

static const char REVIEW[] =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
    "\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\","
    "\"kind\":{\"group\":\"workspace.jupyter.org\",\"version\":\"v1alpha1\",\"kind\":\"Workspace\"},"
    "\"resource\":{\"group\":\"workspace.jupyter.org\",\"version\":\"v1alpha1\",\"resource\":\"workspaces\"},"
    "\"namespace\":\"team-a\",\"operation\":\"CREATE\","
    "\"userInfo\":{\"username\":\"alice\",\"groups\":[\"system:authenticated\",\"data-science\"]},"
    "\"object\":{\"apiVersion\":\"workspace.jupyter.org/v1alpha1\",\"kind\":\"Workspace\","
    "\"metadata\":{\"name\":\"w\"},\"spec\":{%s}},"
    "\"oldObject\":null,\"dryRun\":true}}";

static char *review_with_spec(const char *spec)
{
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, REVIEW, spec);
    return sk_buf_steal(&b);
}

START_TEST(test_parse_request)
{
    char *body = review_with_spec("");
    sk_review r;
    sk_err err = {{0}};
    ck_assert_int_eq(sk_review_parse(body, strlen(body), &r, &err), SK_REVIEW_OK);
    ck_assert_str_eq(r.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    ck_assert_int_eq(r.req.op, SK_OP_CREATE);
    ck_assert_str_eq(r.req.user, "alice");
    ck_assert_str_eq(r.req.groups[1], "data-science");
    ck_assert_ptr_null(r.req.groups[2]);
    ck_assert_str_eq(r.req.namespace, "team-a");
    ck_assert_ptr_null(r.req.old_object);
    ck_assert(r.dry_run);
    ck_assert(sk_review_needs_policy(&r));
    sk_review_free(&r);
    free(body);
}
END_TEST

static void expect_bad(const char *body, sk_review_status want, const char *text)
{
    sk_review r;
    sk_err err = {{0}};
    ck_assert_int_eq(sk_review_parse(body, strlen(body), &r, &err), want);
    ck_assert_msg(strstr(err.msg, text), "message \"%s\" lacks \"%s\"", err.msg, text);
}

START_TEST(test_bad_reviews)
{
    expect_bad("{\"apiVersion\":", SK_REVIEW_BAD_JSON, "malformed JSON at line 1");
    expect_bad("[1]", SK_REVIEW_BAD_REVIEW, "must be a JSON object");
    expect_bad("{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\",\"request\":{}}",
               SK_REVIEW_BAD_REVIEW, "admissionReviewVersions: [v1]");
    expect_bad("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}", SK_REVIEW_BAD_REVIEW,
               "kind must be \"AdmissionReview\"");
    expect_bad("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
               SK_REVIEW_BAD_REVIEW, "request is missing");
    expect_bad("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":5}}",
               SK_REVIEW_BAD_REVIEW, "request.uid is missing");
    expect_bad("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"operation\":\"PATCH\"}}",
               SK_REVIEW_BAD_REVIEW, "request.operation \"PATCH\"");
    expect_bad("{\"a\":1,\"a\":2}", SK_REVIEW_BAD_JSON, "duplicate");
    /* deep nesting inside an otherwise good review */
    sk_buf b = SK_BUF_INIT;
    for (int i = 0; i < 100; i++)
        sk_buf_puts(&b, "\"x\":{");
    sk_buf_puts(&b, "\"y\":1");
    for (int i = 0; i < 100; i++)
        sk_buf_puts(&b, "}");
    char *body = review_with_spec(b.data);
    expect_bad(body, SK_REVIEW_BAD_REVIEW, "nested deeper than 64 levels");
    free(body);
    sk_buf_free(&b);
}
END_TEST

static json_t *decode_patch(const char *b64)
{
    size_t n = strlen(b64);
    unsigned char *raw = malloc(n);
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    ck_assert_int_gt(len, 0);
    while (len > 0 && raw[len - 1] == '\0') /* padding decodes to NULs */
        len--;
    json_t *v = json_loadb((const char *)raw, (size_t)len, 0, NULL);
    free(raw);
    ck_assert_ptr_nonnull(v);
    return v;
}

START_TEST(test_responses)
{
    sk_store *store = th_fixture_store();
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);

    char *body = review_with_spec("\"image\":\"evil:1\"");
    sk_review r;
    ck_assert_int_eq(sk_review_parse(body, strlen(body), &r, NULL), SK_REVIEW_OK);
    sk_decision d;
    th_review_with(&cfg, store, &r.req, &d);

    /* mutating: allowed, with the patch */
    json_t *m = sk_review_response(&r, &d, SK_RESPOND_PATCH);
    ck_assert_str_eq(sk_json_str(m, "apiVersion", NULL), "admission.k8s.io/v1");
    ck_assert_str_eq(sk_json_str(m, "kind", NULL), "AdmissionReview");
    json_t *resp = json_object_get(m, "response");
    ck_assert_str_eq(sk_json_str(resp, "uid", NULL), r.uid);
    ck_assert(json_is_true(json_object_get(resp, "allowed")));
    ck_assert_str_eq(sk_json_str(resp, "patchType", NULL), "JSONPatch");
    json_t *patch = decode_patch(sk_json_str(resp, "patch", NULL));
    ck_assert(json_equal(patch, d.patch));
    json_decref(patch);
    json_decref(m);

    /* validating: denied with a 403 and the message */
    json_t *v = sk_review_response(&r, &d, SK_RESPOND_VERDICT);
    resp = json_object_get(v, "response");
    ck_assert(json_is_false(json_object_get(resp, "allowed")));
    ck_assert_ptr_null(json_object_get(resp, "patch"));
    ck_assert_int_eq(json_integer_value(sk_json_get(resp, "status", "code", NULL)), 403);
    ck_assert_ptr_nonnull(strstr(sk_json_str(resp, "status", "message", NULL),
                                 "spec.image \"evil:1\" is not allowed by template \"strict\""));
    json_decref(v);
    sk_decision_free(&d);
    sk_review_free(&r);
    free(body);

    /* allowed and nothing to patch: no patch fields at all */
    body = review_with_spec("\"image\":\"img:1\"");
    ck_assert_int_eq(sk_review_parse(body, strlen(body), &r, NULL), SK_REVIEW_OK);
    th_review_with(&cfg, store, &r.req, &d);
    json_t *again = json_deep_copy(d.object);
    sk_decision_free(&d);
    sk_review_free(&r);
    json_t *second = json_pack("{s:s,s:s,s:{s:s,s:s,s:o,s:{s:s}}}", "apiVersion",
                               "admission.k8s.io/v1", "kind", "AdmissionReview", "request", "uid",
                               "u2", "operation", "CREATE", "object", again, "userInfo",
                               "username", "alice");
    char *body2 = json_dumps(second, 0);
    json_decref(second);
    ck_assert_int_eq(sk_review_parse(body2, strlen(body2), &r, NULL), SK_REVIEW_OK);
    th_review_with(&cfg, store, &r.req, &d);
    json_t *both = sk_review_response(&r, &d, SK_RESPOND_PATCH | SK_RESPOND_VERDICT);
    resp = json_object_get(both, "response");
    ck_assert(json_is_true(json_object_get(resp, "allowed")));
    ck_assert_ptr_null(json_object_get(resp, "patch"));
    ck_assert_ptr_null(json_object_get(resp, "patchType"));
    json_decref(both);
    sk_decision_free(&d);
    sk_review_free(&r);
    free(body);
    free(body2);
    sk_store_free(store);
}
END_TEST

START_TEST(test_status_subresource_passes)
{
    const char *body =
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
        "\"uid\":\"s\",\"operation\":\"UPDATE\",\"subResource\":\"status\",\"object\":{}}}";
    sk_review r;
    ck_assert_int_eq(sk_review_parse(body, strlen(body), &r, NULL), SK_REVIEW_OK);
    ck_assert(!sk_review_needs_policy(&r));
    json_t *resp = sk_review_response(&r, NULL, SK_RESPOND_VERDICT);
    ck_assert(json_is_true(sk_json_get(resp, "response", "allowed", NULL)));
    json_decref(resp);
    sk_review_free(&r);
}
END_TEST

Suite *admission_suite(void)
{
    Suite *s = suite_create("admission");
    TCase *tc = tcase_create("review");
    tcase_add_test(tc, test_parse_request);
    tcase_add_test(tc, test_bad_reviews);
    tcase_add_test(tc, test_responses);
    tcase_add_test(tc, test_status_subresource_passes);
    suite_add_tcase(s, tc);
    return s;
}
