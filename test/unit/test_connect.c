#include <stdio.h>
#include <string.h>

#include "spacekeeper/admission.h"
#include "spacekeeper/connect.h"
#include "spacekeeper/json.h"
#include "th.h"

/* An in-memory namespace: pods and workspaces by name, and a count of the
 * lookups made, so a test sees what the rule asked for. */
struct objects {
    json_t *items;        /* name -> object */
    int failing;          /* every lookup fails */
    int calls;
};

static sk_lookup_status lookup(void *ud, const char *ns, const char *name, json_t **out, sk_err *err)
{
    struct objects *o = ud;
    o->calls++;
    ck_assert_str_eq(ns, "team-a");
    if (o->failing) {
        sk_err_set(err, "API server answered 503: try later");
        return SK_LOOKUP_FAILED;
    }
    json_t *obj = json_object_get(o->items, name);
    if (!obj) {
        sk_err_set(err, "\"%s\" not found", name);
        return SK_LOOKUP_NOT_FOUND;
    }
    *out = json_incref(obj);
    return SK_LOOKUP_FOUND;
}

static struct objects pods, workspaces;
static sk_connect_lookups lookups = {{lookup, &pods}, {lookup, &workspaces}};
static sk_policy_config cfg;
static const char *const TRUSTED[] = {"system:serviceaccount:jupyter-k8s-system:jupyter-k8s-controller-manager",
                                      NULL};

static void setup(void)
{
    sk_policy_config_init(&cfg);
    cfg.trusted_service_accounts = TRUSTED;
    pods = (struct objects){.items = json_object()};
    workspaces = (struct objects){.items = json_object()};
    json_object_set_new(pods.items, "ws-pod", th_yaml("metadata:\n  name: ws-pod\n  labels:\n"
                                                      "    workspace.jupyter.org/workspace-name: private\n"));
    json_object_set_new(pods.items, "public-pod", th_yaml("metadata:\n  name: public-pod\n  labels:\n"
                                                          "    workspace.jupyter.org/workspace-name: shared\n"));
    json_object_set_new(pods.items, "access-pod", th_yaml("metadata:\n  name: access-pod\n  labels:\n"
                                                          "    workspace.jupyter.org/workspace-name: op\n"));
    json_object_set_new(pods.items, "orphan-pod", th_yaml("metadata:\n  name: orphan-pod\n  labels:\n"
                                                          "    workspace.jupyter.org/workspace-name: gone\n"));
    json_object_set_new(pods.items, "db", th_yaml("metadata:\n  name: db\n  labels: {app: postgres}\n"));
    json_object_set_new(workspaces.items, "private",
                        th_yaml("metadata:\n  name: private\n  annotations:\n"
                                "    workspace.jupyter.org/created-by: alice\n"
                                "spec: {ownershipType: OwnerOnly}\n"));
    json_object_set_new(workspaces.items, "shared",
                        th_yaml("metadata:\n  name: shared\n  annotations:\n"
                                "    workspace.jupyter.org/created-by: alice\n"
                                "spec: {ownershipType: Public}\n"));
    /* the workspace operator's spelling */
    json_object_set_new(workspaces.items, "op",
                        th_yaml("metadata:\n  name: op\n  annotations:\n"
                                "    workspace.jupyter.org/created-by: alice\n"
                                "spec: {accessType: OwnerOnly}\n"));
}

static void teardown(void)
{
    json_decref(pods.items);
    json_decref(workspaces.items);
}

static const char *const USERS[] = {"system:authenticated", NULL};
static const char *const ADMINS[] = {"system:authenticated", "system:masters", NULL};

static void decide(const char *sub, const char *pod, const char *user, const char *const *groups,
                   sk_connect_verdict *v)
{
    sk_connect_request rq = {sub, "team-a", pod, user, groups};
    sk_connect_decide(&cfg, &lookups, &rq, v);
}

/* The verdict and its reason for one request; frees the verdict. */
static void expect(const char *sub, const char *pod, const char *user, const char *const *groups,
                   int allowed, sk_connect_reason reason)
{
    sk_connect_verdict v;
    decide(sub, pod, user, groups, &v);
    ck_assert_msg(v.allowed == allowed && v.reason == reason, "%s %s by %s: %s (%s), want %s",
                  sub, pod, user, v.allowed ? "allowed" : "denied", sk_connect_reason_name(v.reason),
                  sk_connect_reason_name(reason));
    sk_connect_verdict_free(&v);
}

START_TEST(test_owner_only_refuses_everyone_but_the_owner)
{
    static const char *const SUBS[] = {"exec", "attach", "portforward"};
    for (size_t i = 0; i < 3; i++) {
        expect(SUBS[i], "ws-pod", "bob", USERS, 0, SK_CONNECT_NOT_OWNER);
        expect(SUBS[i], "ws-pod", "alice", USERS, 1, SK_CONNECT_OWNER);
        expect(SUBS[i], "ws-pod", "root", ADMINS, 1, SK_CONNECT_ADMIN);
        expect(SUBS[i], "ws-pod", TRUSTED[0], USERS, 1, SK_CONNECT_TRUSTED_WORKSPACE_POD);
        expect(SUBS[i], "public-pod", "bob", USERS, 1, SK_CONNECT_PUBLIC);
        expect(SUBS[i], "access-pod", "bob", USERS, 0, SK_CONNECT_NOT_OWNER);
        expect(SUBS[i], "access-pod", "alice", USERS, 1, SK_CONNECT_OWNER);
        expect(SUBS[i], "db", "bob", USERS, 1, SK_CONNECT_NOT_WORKSPACE_POD);
    }
    /* anonymous is nobody's owner */
    expect("exec", "ws-pod", NULL, NULL, 0, SK_CONNECT_NOT_OWNER);
}
END_TEST

START_TEST(test_refusal_says_who_may)
{
    sk_connect_verdict v;
    decide("portforward", "ws-pod", "bob", USERS, &v);
    ck_assert_int_eq(v.allowed, 0);
    ck_assert_str_eq(v.workspace, "private");
    ck_assert_str_eq(v.message, "pods/portforward: pod \"ws-pod\" belongs to workspace \"private\", which is "
                                "OwnerOnly: only its creator \"alice\" or a member of system:masters, "
                                "system:serviceaccounts:kube-system may port-forward to it, not \"bob\"");
    sk_connect_verdict_free(&v);
    ck_assert_ptr_null(v.message);
}
END_TEST

START_TEST(test_trusted_service_accounts_only_into_workspace_pods)
{
    expect("exec", "db", TRUSTED[0], USERS, 0, SK_CONNECT_TRUSTED_OTHER_POD);
    sk_connect_verdict v;
    decide("exec", "db", TRUSTED[0], USERS, &v);
    ck_assert_ptr_nonnull(strstr(v.message, "is a trusted service account, which may exec into workspace "
                                            "pods only (labelled workspace.jupyter.org/workspace-name), and "
                                            "pod \"db\" is not one"));
    sk_connect_verdict_free(&v);
    /* the pod alone decides: the workspace is never looked up */
    workspaces.calls = 0;
    expect("attach", "ws-pod", TRUSTED[0], USERS, 1, SK_CONNECT_TRUSTED_WORKSPACE_POD);
    ck_assert_int_eq(workspaces.calls, 0);
    /* an admin group is checked before the pod is even looked up */
    pods.calls = 0;
    expect("exec", "db", "root", ADMINS, 1, SK_CONNECT_ADMIN);
    ck_assert_int_eq(pods.calls, 0);
}
END_TEST

START_TEST(test_missing_pod_or_workspace_is_allowed_with_the_reason)
{
    sk_connect_verdict v;
    decide("exec", "nowhere", "bob", USERS, &v);
    ck_assert_int_eq(v.allowed, 1);
    ck_assert_int_eq(v.reason, SK_CONNECT_POD_NOT_FOUND);
    ck_assert_int_eq(sk_connect_notable(&v), 1);
    ck_assert_int_eq(sk_connect_unverified(&v), 0);
    ck_assert_str_eq(v.message, "\"nowhere\" not found");
    sk_connect_verdict_free(&v);
    expect("exec", "orphan-pod", "bob", USERS, 1, SK_CONNECT_WORKSPACE_NOT_FOUND);
    /* a lookup that fails allows too, and says it could not verify */
    workspaces.failing = 1;
    decide("exec", "ws-pod", "bob", USERS, &v);
    ck_assert_int_eq(v.allowed, 1);
    ck_assert_int_eq(v.reason, SK_CONNECT_WORKSPACE_UNKNOWN);
    ck_assert_int_eq(sk_connect_unverified(&v), 1);
    ck_assert_str_eq(v.message, "API server answered 503: try later");
    sk_connect_verdict_free(&v);
    pods.failing = 1;
    expect("exec", "ws-pod", "bob", USERS, 1, SK_CONNECT_POD_UNKNOWN);
    expect("exec", "db", TRUSTED[0], USERS, 1, SK_CONNECT_POD_UNKNOWN);
}
END_TEST

START_TEST(test_no_api_and_other_subresources_pass)
{
    sk_connect_request rq = {"exec", "team-a", "ws-pod", "bob", USERS};
    sk_connect_verdict v;
    sk_connect_decide(&cfg, NULL, &rq, &v);
    ck_assert_int_eq(v.allowed, 1);
    ck_assert_int_eq(v.reason, SK_CONNECT_NO_API);
    ck_assert_int_eq(sk_connect_notable(&v), 0);
    pods.calls = 0;
    expect("log", "ws-pod", "bob", USERS, 1, SK_CONNECT_NOT_POD_CONNECT);
    expect("", "ws-pod", "bob", USERS, 1, SK_CONNECT_NOT_POD_CONNECT);
    ck_assert_int_eq(pods.calls, 0);
    ck_assert_int_eq(sk_connect_covers("portforward"), 1);
    ck_assert_int_eq(sk_connect_covers("proxy"), 0);
    ck_assert_int_eq(sk_connect_covers(NULL), 0);
}
END_TEST

/* The AdmissionReview the API server sends for `kubectl exec`. */
static const char EXEC_REVIEW[] =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
    "\"uid\":\"u-1\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"PodExecOptions\"},"
    "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},\"subResource\":\"exec\","
    "\"requestKind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"PodExecOptions\"},"
    "\"requestResource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
    "\"requestSubResource\":\"exec\",\"name\":\"ws-pod\",\"namespace\":\"team-a\",\"operation\":\"CONNECT\","
    "\"userInfo\":{\"username\":\"bob\",\"groups\":[\"system:authenticated\"]},"
    "\"object\":{\"kind\":\"PodExecOptions\",\"apiVersion\":\"v1\",\"stdin\":true,\"stdout\":true,"
    "\"tty\":true,\"container\":\"main\",\"command\":[\"sh\"]},\"oldObject\":null,\"dryRun\":false,"
    "\"options\":null}}";

START_TEST(test_review_answers_with_a_forbidden_status)
{
    sk_review r;
    sk_err err;
    ck_assert_int_eq(sk_review_parse(EXEC_REVIEW, strlen(EXEC_REVIEW), &r, &err), SK_REVIEW_OK);
    sk_connect_verdict v;
    sk_decision d;
    sk_connect_review(&cfg, &lookups, &r, &v, &d);
    ck_assert_int_eq(v.reason, SK_CONNECT_NOT_OWNER);
    ck_assert_str_eq(d.kind, "PodExecOptions");
    ck_assert_str_eq(d.namespace, "team-a");
    ck_assert_str_eq(d.name, "ws-pod");
    ck_assert_int_eq(th_has_violation(&d, "pods.exec", "which is OwnerOnly"), 1);
    json_t *resp = sk_review_response(&r, &d, SK_RESPOND_VERDICT);
    ck_assert(json_is_false(json_object_get(json_object_get(resp, "response"), "allowed")));
    ck_assert_int_eq(json_integer_value(sk_json_get(resp, "response", "status", "code", NULL)), 403);
    ck_assert_str_eq(sk_json_str(resp, "response", "uid", NULL), "u-1");
    ck_assert_ptr_nonnull(strstr(sk_json_str(resp, "response", "status", "message", NULL),
                                 "only its creator \"alice\""));
    json_decref(resp);
    sk_connect_verdict_free(&v);
    sk_decision_free(&d);
    sk_review_free(&r);
}
END_TEST

START_TEST(test_review_of_another_resource_passes)
{
    /* a CONNECT to a service's proxy is not a pod's: allowed, nothing looked up */
    char text[sizeof EXEC_REVIEW + 16];
    snprintf(text, sizeof text, "%s", EXEC_REVIEW);
    char *at = strstr(text, "\"resource\":\"pods\"},\"subResource\"");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "\"resource\":\"svcs\"", 17);
    sk_review r;
    sk_err err;
    ck_assert_int_eq(sk_review_parse(text, strlen(text), &r, &err), SK_REVIEW_OK);
    sk_connect_verdict v;
    sk_decision d;
    pods.calls = 0;
    sk_connect_review(&cfg, &lookups, &r, &v, &d);
    ck_assert_int_eq(v.reason, SK_CONNECT_NOT_POD_CONNECT);
    ck_assert_int_eq(d.allowed, 1);
    ck_assert_int_eq(pods.calls, 0);
    sk_connect_verdict_free(&v);
    sk_decision_free(&d);
    sk_review_free(&r);
}
END_TEST

START_TEST(test_valid_names)
{
    ck_assert_int_eq(sk_lookup_valid_name("ws-pod-0.x"), 1);
    ck_assert_int_eq(sk_lookup_valid_name(""), 0);
    ck_assert_int_eq(sk_lookup_valid_name(NULL), 0);
    ck_assert_int_eq(sk_lookup_valid_name("../secrets"), 0);
    ck_assert_int_eq(sk_lookup_valid_name("a/b"), 0);
    ck_assert_int_eq(sk_lookup_valid_name("a?watch=1"), 0);
    ck_assert_int_eq(sk_lookup_valid_name("Upper"), 0);
    ck_assert_int_eq(sk_lookup_valid_name("-a"), 0);
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ck_assert_int_eq(sk_lookup_valid_name(long_name), 0);
    long_name[253] = '\0';
    ck_assert_int_eq(sk_lookup_valid_name(long_name), 1);
    /* an invalid name never reaches a request (no client is needed to say so) */
    json_t *out = (json_t *)1;
    sk_err err;
    ck_assert_int_eq(sk_lookup_kube_pod(NULL, "team-a", "../x", &out, &err), SK_LOOKUP_FAILED);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err.msg, "pods \"team-a/../x\": not a valid namespace and name");
}
END_TEST

Suite *connect_suite(void)
{
    Suite *s = suite_create("connect");
    TCase *tc = tcase_create("rule");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_owner_only_refuses_everyone_but_the_owner);
    tcase_add_test(tc, test_refusal_says_who_may);
    tcase_add_test(tc, test_trusted_service_accounts_only_into_workspace_pods);
    tcase_add_test(tc, test_missing_pod_or_workspace_is_allowed_with_the_reason);
    tcase_add_test(tc, test_no_api_and_other_subresources_pass);
    tcase_add_test(tc, test_review_answers_with_a_forbidden_status);
    tcase_add_test(tc, test_review_of_another_resource_passes);
    tcase_add_test(tc, test_valid_names);
    suite_add_tcase(s, tc);
    return s;
}
