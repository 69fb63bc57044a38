/* Timestamps, durations, and the controller's reading of workspaces, pods
 * and idle endpoint answers. */
#include <math.h>
#include <string.h>

#include "spacekeeper/timeutil.h"
#include "spacekeeper/workload.h"
#include "th.h"

#define T_2026 1795420800.0 /* 2026-11-23T08:00:00Z */

START_TEST(test_rfc3339)
{
    static const struct {
        const char *text;
        double want;
    } ok[] = {
        {"2026-11-23T08:00:00Z", T_2026},
        {"2026-11-23t08:00:00z", T_2026},
        {"2026-11-23 08:00:00Z", T_2026},
        {"2026-11-23T08:00:00.25Z", T_2026 + 0.25},
        {"2026-11-23T10:30:00+02:30", T_2026},
        {"2026-11-23T03:00:00.5-05:00", T_2026 + 0.5},
        {"2024-02-29T00:00:00Z", 1709164800.0},
        {"1970-01-01T00:00:00Z", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        double t = -1;
        sk_err err;
        ck_assert_msg(sk_time_parse_rfc3339(ok[i].text, &t, &err) == 0, "%s: %s", ok[i].text, err.msg);
        ck_assert_msg(fabs(t - ok[i].want) < 1e-6, "%s: %f", ok[i].text, t);
    }
    static const char *const bad[] = {
        "", "yesterday", "2026-11-23", "2026-11-23T08:00:00", "2026-11-23T08:00Z", "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T08:00:00.Z",
        "2026-11-23T08:00:00+0200", "2026-11-23T08:00:00Z junk", "1795420800",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double t;
        sk_err err;
        ck_assert_msg(sk_time_parse_rfc3339(bad[i], &t, &err) < 0, "accepted \"%s\"", bad[i]);
        ck_assert_msg(strstr(err.msg, bad[i]) != NULL, "message names the text: %s", err.msg);
    }
}
END_TEST

START_TEST(test_unix_and_format)
{
    double t;
    ck_assert_int_eq(sk_time_parse_unix("1795420800", &t, NULL), 0);
    ck_assert(t == T_2026);
    ck_assert_int_eq(sk_time_parse_unix("1795420800.75", &t, NULL), 0);
    ck_assert(fabs(t - T_2026 - 0.75) < 1e-6);
    ck_assert_int_lt(sk_time_parse_unix("-5", &t, NULL), 0);
    ck_assert_int_lt(sk_time_parse_unix("12a", &t, NULL), 0);
    ck_assert_int_lt(sk_time_parse_unix("1.", &t, NULL), 0);
    ck_assert_int_lt(sk_time_parse_unix("", &t, NULL), 0);
    char out[40];
    sk_time_format(T_2026 + 0.123456, 6, out, sizeof out);
    ck_assert_str_eq(out, "2026-11-23T08:00:00.123456Z");
    sk_time_format(T_2026 + 0.9, 0, out, sizeof out);
    ck_assert_str_eq(out, "2026-11-23T08:00:00Z");
    ck_assert_int_eq(sk_time_parse_rfc3339(out, &t, NULL), 0);
    ck_assert(t == T_2026);
}
END_TEST

START_TEST(test_durations)
{
    static const struct {
        const char *text;
        double want;
    } ok[] = {{"90s", 90}, {"5m", 300}, {"1h", 3600}, {"1h30m", 5400}, {"1.5h", 5400},
              {"250ms", 0.25}, {"0", 0}, {"2m30s", 150}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        double s;
        sk_err err;
        ck_assert_msg(sk_duration_parse(ok[i].text, &s, &err) == 0, "%s: %s", ok[i].text, err.msg);
        ck_assert_msg(fabs(s - ok[i].want) < 1e-9, "%s: %f", ok[i].text, s);
    }
    static const char *const bad[] = {"", "5", "m", "5x", "-5s", "5 s", "1e99h"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double s;
        ck_assert_msg(sk_duration_parse(bad[i], &s, NULL) < 0, "accepted \"%s\"", bad[i]);
    }
}
END_TEST

static sk_workspace *ws_yaml(const char *text)
{
    json_t *obj = th_yaml(text);
    sk_workspace *w = sk_workspace_decode(obj);
    json_decref(obj);
    ck_assert_ptr_nonnull(w);
    return w;
}

static sk_pod *pod_yaml(const char *text)
{
    json_t *obj = th_yaml(text);
    sk_pod *p = sk_pod_decode(obj);
    json_decref(obj);
    return p;
}

#define WS_HEAD "metadata: {name: w1, namespace: team-a, uid: u1, resourceVersion: '7'}\n"

START_TEST(test_workspace_scope)
{
    sk_workspace *w = ws_yaml(WS_HEAD "spec:\n  idleShutdown:\n    enabled: true\n"
                              "    idleShutdownTimeoutMinutes: 30\n"
                              "    detection: {httpGet: {path: /api/idle, port: 8888}}\n");
    ck_assert(sk_workspace_in_scope(w));
    ck_assert(w->timeout == 1800);
    ck_assert_str_eq(w->scheme, "http");
    ck_assert_str_eq(w->port, "8888");
    ck_assert_str_eq(w->body_path, "lastActiveTimestamp");
    ck_assert_str_eq(w->rv, "7");
    ck_assert_ptr_null(w->problem);
    sk_workspace *d = sk_workspace_dup(w);
    ck_assert_str_eq(d->path, "/api/idle");
    sk_workspace_free(d);
    sk_workspace_free(w);

    /* jupyter-k8s's spelling of the timeout, and its body path and format */
    w = ws_yaml(WS_HEAD "spec:\n  desiredStatus: Running\n  idleShutdown:\n    enabled: true\n"
                "    idleTimeoutInMinutes: 15\n    detection:\n      httpGet:\n        port: http\n"
                "        scheme: HTTPS\n"
                "        lastActivityTimestamp: {responseBodyPath: status.last, format: unix}\n");
    ck_assert(sk_workspace_in_scope(w));
    ck_assert(w->timeout == 900);
    ck_assert_str_eq(w->scheme, "https");
    ck_assert_str_eq(w->body_path, "status.last");
    ck_assert_int_eq(w->format, SK_TS_UNIX);
    sk_workspace_free(w);

    /* out of scope: stopped, disabled, absent */
    static const char *const out[] = {
        WS_HEAD "spec:\n  desiredStatus: Stopped\n  idleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 5}\n",
        WS_HEAD "spec:\n  idleShutdown: {enabled: false, idleShutdownTimeoutMinutes: 5}\n",
        WS_HEAD "spec: {}\n",
    };
    for (size_t i = 0; i < sizeof out / sizeof *out; i++) {
        w = ws_yaml(out[i]);
        ck_assert_msg(!sk_workspace_in_scope(w), "case %zu", i);
        sk_workspace_free(w);
    }
    /* enabled but not probeable: says why */
    w = ws_yaml(WS_HEAD "spec:\n  idleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 5}\n");
    ck_assert_ptr_nonnull(w->problem);
    ck_assert_ptr_nonnull(strstr(w->problem, "detection.httpGet is missing"));
    sk_workspace_free(w);
    w = ws_yaml(WS_HEAD "spec:\n  idleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 0,\n"
                "    detection: {httpGet: {port: 1}}}\n");
    ck_assert_ptr_nonnull(strstr(w->problem, "at least 1"));
    sk_workspace_free(w);
}
END_TEST

#define IDLE_ON WS_HEAD "spec:\n  idleShutdown:\n    enabled: true\n    idleTimeoutInMinutes: 5\n"

static void assert_problem(const char *yaml, const char *want)
{
    sk_workspace *w = ws_yaml(yaml);
    ck_assert_msg(w->problem && strstr(w->problem, want), "want \"%s\", got \"%s\"", want,
                  w->problem ? w->problem : "(none)");
    sk_workspace_free(w);
}

START_TEST(test_transport_and_headers)
{
    /* either transport, or none: probed over the network all the same */
    static const char *const transports[] = {"podExec", "network"};
    for (size_t i = 0; i < 2; i++) {
        char text[512];
        snprintf(text, sizeof text, IDLE_ON "    detection: {httpGet: {port: 8888, transport: %s}}\n", transports[i]);
        sk_workspace *w = ws_yaml(text);
        ck_assert_msg(!w->problem, "%s: %s", transports[i], w->problem);
        sk_workspace_free(w);
    }
    assert_problem(IDLE_ON "    detection: {httpGet: {port: 8888, transport: exec}}\n",
                   "spec.idleShutdown.detection.httpGet.transport must be podExec or network");
    assert_problem(IDLE_ON "    detection: {httpGet: {port: 8888, transport: 1}}\n", "transport must be");

    /* headers: kept in order, repeats and empty values included; a copy owns its own */
    sk_workspace *w = ws_yaml(IDLE_ON "    detection:\n      httpGet:\n        port: 8888\n        httpHeaders:\n"
                              "        - {name: Authorization, value: Bearer abc}\n"
                              "        - {name: X-Empty, value: ''}\n"
                              "        - {name: X-Team, value: a}\n        - {name: X-Team, value: b}\n");
    ck_assert_ptr_null(w->problem);
    ck_assert_uint_eq(w->nheaders, 4);
    ck_assert_str_eq(w->headers[0].name, "Authorization");
    ck_assert_str_eq(w->headers[0].value, "Bearer abc");
    ck_assert_str_eq(w->headers[1].value, "");
    sk_workspace *d = sk_workspace_dup(w);
    sk_workspace_free(w);
    ck_assert_uint_eq(d->nheaders, 4);
    ck_assert_str_eq(d->headers[3].name, "X-Team");
    ck_assert_str_eq(d->headers[3].value, "b");
    sk_workspace_free(d);

    /* nothing that could break the request goes on the wire */
    static const struct {
        const char *headers, *want;
    } bad[] = {
        {"{Authorization: x}", "httpHeaders must be a list of {name, value}"},
        {"[{name: 'Bad Name', value: x}]", "httpHeaders[0].name must be an HTTP header name"},
        {"[{name: ok, value: x}, {name: 'X:Y', value: x}]", "httpHeaders[1].name must be an HTTP header name"},
        {"[{name: '', value: x}]", "httpHeaders[0].name must be"},
        {"[{name: \"X\\u0000Y\", value: x}]", "httpHeaders[0].name must be"},
        {"[{value: x}]", "httpHeaders[0].name must be"},
        {"[{name: X, value: \"a\\r\\nInjected: 1\"}]", "httpHeaders[0].value must be a string without control"},
        {"[{name: X, value: \"a\\u0000b\"}]", "httpHeaders[0].value must be"},
        {"[{name: X}]", "httpHeaders[0].value must be"},
        {"[{name: X, value: 5}]", "httpHeaders[0].value must be"},
        {"[x]", "httpHeaders[0].name must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[512];
        snprintf(text, sizeof text, IDLE_ON "    detection: {httpGet: {port: 8888, httpHeaders: %s}}\n", bad[i].headers);
        assert_problem(text, bad[i].want);
    }
}
END_TEST

START_TEST(test_application_base_path)
{
    /* under the routing prefix the operator records, one slash between */
    static const struct {
        const char *base, *path, *want;
    } cases[] = {
        {"/workspaces/team-a/w1/", "/api/idle", "/workspaces/team-a/w1/api/idle"},
        {"/workspaces/team-a/w1", "api/idle", "/workspaces/team-a/w1/api/idle"},
        {"/workspaces/team-a/w1//", "//api/idle", "/workspaces/team-a/w1/api/idle"},
        {"/", "/api/idle", "/api/idle"},
        {"", "/api/idle", "/api/idle"},
        {NULL, "/api/idle", "/api/idle"},
        {"/workspaces/team-a/w1/", NULL, "/workspaces/team-a/w1/"},
        {NULL, NULL, "/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[512], status[128] = "", path[64] = "";
        if (cases[i].base)
            snprintf(status, sizeof status, "status: {applicationBasePath: '%s'}\n", cases[i].base);
        if (cases[i].path)
            snprintf(path, sizeof path, "path: '%s', ", cases[i].path);
        snprintf(text, sizeof text, IDLE_ON "    detection: {httpGet: {%sport: 8888}}\n%s", path, status);
        sk_workspace *w = ws_yaml(text);
        ck_assert_msg(strcmp(w->path, cases[i].want) == 0, "case %zu: %s", i, w->path);
        sk_workspace_free(w);
    }
}
END_TEST

START_TEST(test_timeout_spellings)
{
    /* both spellings at once: fine when they agree, doubt when they do not */
    sk_workspace *w = ws_yaml(WS_HEAD "spec:\n  idleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 20,\n"
                              "    idleTimeoutInMinutes: 20, detection: {httpGet: {port: 1}}}\n");
    ck_assert_ptr_null(w->problem);
    ck_assert(w->timeout == 1200);
    sk_workspace_free(w);
    assert_problem(WS_HEAD "spec:\n  idleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 20,\n"
                   "    idleTimeoutInMinutes: 30, detection: {httpGet: {port: 1}}}\n",
                   "spec.idleShutdown.idleShutdownTimeoutMinutes (20) and spec.idleShutdown.idleTimeoutInMinutes (30) "
                   "disagree");
    /* a message names the spelling the workspace wrote */
    assert_problem(WS_HEAD "spec:\n  idleShutdown: {enabled: true, idleTimeoutInMinutes: 0,\n"
                   "    detection: {httpGet: {port: 1}}}\n",
                   "spec.idleShutdown.idleTimeoutInMinutes must be a number of at least 1");
    assert_problem(WS_HEAD "spec:\n  idleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 10,\n"
                   "    idleTimeoutInMinutes: ten, detection: {httpGet: {port: 1}}}\n",
                   "spec.idleShutdown.idleTimeoutInMinutes must be a number");
    assert_problem(WS_HEAD "spec:\n  idleShutdown: {enabled: true, detection: {httpGet: {port: 1}}}\n",
                   "idleShutdownTimeoutMinutes (or idleTimeoutInMinutes) is missing");
}
END_TEST

#define POD_HEAD "metadata:\n  name: p1\n  namespace: team-a\n" \
                 "  labels: {workspace.jupyter.org/workspace-name: w1}\n"

START_TEST(test_pods_and_urls)
{
    sk_pod *p = pod_yaml(POD_HEAD "spec:\n  containers:\n  - name: main\n    ports: [{name: http, containerPort: 8888}]\n"
                         "status:\n  phase: Running\n  podIP: 10.0.0.5\n  conditions:\n"
                         "  - {type: Ready, status: 'True', lastTransitionTime: '2026-11-23T08:00:00Z'}\n");
    ck_assert_ptr_nonnull(p);
    ck_assert(sk_pod_probeable(p));
    ck_assert_str_eq(p->group, "team-a/w1");
    ck_assert(p->ready_since == T_2026);

    sk_workspace *w = ws_yaml(WS_HEAD "spec:\n  idleShutdown:\n    enabled: true\n"
                              "    idleShutdownTimeoutMinutes: 30\n    detection: {httpGet: {path: api/idle, port: http}}\n");
    sk_buf url = SK_BUF_INIT;
    ck_assert_int_eq(sk_idle_probe_url(w, p, &url, NULL), 0);
    ck_assert_str_eq(url.data, "http://10.0.0.5:8888/api/idle");
    free(w->port);
    w->port = strdup("jupyter");
    sk_err err;
    ck_assert_int_lt(sk_idle_probe_url(w, p, &url, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "no container port named \"jupyter\""));
    free(w->port);
    w->port = strdup("70000");
    ck_assert_int_lt(sk_idle_probe_url(w, p, &url, &err), 0);
    sk_pod_free(p);

    /* IPv6 is bracketed */
    p = pod_yaml(POD_HEAD "status:\n  phase: Running\n  podIP: 'fd00::5'\n  conditions: [{type: Ready, status: 'True'}]\n");
    free(w->port);
    w->port = strdup("8888");
    sk_buf_reset(&url);
    ck_assert_int_eq(sk_idle_probe_url(w, p, &url, NULL), 0);
    ck_assert_str_eq(url.data, "http://[fd00::5]:8888/api/idle");
    sk_buf_free(&url);
    sk_pod_free(p);
    sk_workspace_free(w);

    /* not probeable: not ready, no IP, terminating, not running; no label: not ours */
    static const char *const not_probeable[] = {
        POD_HEAD "status: {phase: Running, podIP: 1.2.3.4, conditions: [{type: Ready, status: 'False'}]}\n",
        POD_HEAD "status: {phase: Running, conditions: [{type: Ready, status: 'True'}]}\n",
        POD_HEAD "  deletionTimestamp: '2026-11-23T08:00:00Z'\n"
                 "status: {phase: Running, podIP: 1.2.3.4, conditions: [{type: Ready, status: 'True'}]}\n",
        POD_HEAD "status: {phase: Pending, podIP: 1.2.3.4, conditions: [{type: Ready, status: 'True'}]}\n",
    };
    for (size_t i = 0; i < sizeof not_probeable / sizeof *not_probeable; i++) {
        p = pod_yaml(not_probeable[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_msg(!sk_pod_probeable(p), "case %zu", i);
        sk_pod_free(p);
    }
    ck_assert_ptr_null(pod_yaml("metadata: {name: other, namespace: team-a}\n"));
}
END_TEST

START_TEST(test_answers)
{
    sk_workspace *w = ws_yaml(WS_HEAD "spec:\n  idleShutdown:\n    enabled: true\n"
                              "    idleShutdownTimeoutMinutes: 30\n    detection: {httpGet: {port: 1}}\n");
    static const struct {
        const char *body;
        double want;
    } ok[] = {
        {"{\"lastActiveTimestamp\": \"2026-11-23T08:00:00Z\"}", T_2026},
        {"{\"lastActiveTimestamp\": \"2026-11-23T09:00:00.5+01:00\"}", T_2026 + 0.5},
        {"{\"lastActiveTimestamp\": 1795420800}", T_2026},
        {"{\"lastActiveTimestamp\": 1795420800.25}", T_2026 + 0.25},
        {"{\"lastActiveTimestamp\": \"1795420800.5\"}", T_2026 + 0.5},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        double t = 0;
        sk_err err;
        ck_assert_msg(sk_idle_parse_answer(w, ok[i].body, strlen(ok[i].body), &t, &err) == 0, "%s: %s",
                      ok[i].body, err.msg);
        ck_assert_msg(fabs(t - ok[i].want) < 1e-6, "%s: %f", ok[i].body, t);
    }
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"<html>", "not JSON"},
        {"{\"idle\": true}", "has no lastActiveTimestamp"},
        {"{\"lastActiveTimestamp\": null}", "expected a time"},
        {"{\"lastActiveTimestamp\": \"soon\"}", "not an RFC 3339 time"},
        {"{\"lastActiveTimestamp\": -1}", "negative"},
        {"{\"lastActiveTimestamp\": 1, \"lastActiveTimestamp\": 2}", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double t;
        sk_err err;
        ck_assert_msg(sk_idle_parse_answer(w, bad[i].body, strlen(bad[i].body), &t, &err) < 0, "%s", bad[i].body);
        ck_assert_msg(strstr(err.msg, bad[i].why) != NULL, "%s: %s", bad[i].body, err.msg);
    }
    /* a dotted path and a fixed format */
    free(w->body_path);
    w->body_path = strdup("status.last");
    w->format = SK_TS_RFC3339;
    double t;
    const char *nested = "{\"status\": {\"last\": \"2026-11-23T08:00:00Z\"}}";
    ck_assert_int_eq(sk_idle_parse_answer(w, nested, strlen(nested), &t, NULL), 0);
    ck_assert(t == T_2026);
    const char *number = "{\"status\": {\"last\": 1795420800}}";
    ck_assert_int_lt(sk_idle_parse_answer(w, number, strlen(number), &t, NULL), 0);
    w->format = SK_TS_UNIX;
    ck_assert_int_eq(sk_idle_parse_answer(w, number, strlen(number), &t, NULL), 0);
    sk_workspace_free(w);
}
END_TEST

START_TEST(test_idle_since)
{
    /* the later of activity and Ready; the future counts as now */
    ck_assert(sk_idle_since(100, 50, 1000) == 100);
    ck_assert(sk_idle_since(50, 100, 1000) == 100);
    ck_assert(sk_idle_since(5000, 100, 1000) == 1000);
    ck_assert(sk_idle_since(0, 0, 1000) == 0);
}
END_TEST

Suite *workload_suite(void)
{
    Suite *s = suite_create("workload");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rfc3339);
    tcase_add_test(tc, test_unix_and_format);
    tcase_add_test(tc, test_durations);
    tcase_add_test(tc, test_workspace_scope);
    tcase_add_test(tc, test_transport_and_headers);
    tcase_add_test(tc, test_timeout_spellings);
    tcase_add_test(tc, test_application_base_path);
    tcase_add_test(tc, test_pods_and_urls);
    tcase_add_test(tc, test_answers);
    tcase_add_test(tc, test_idle_since);
    suite_add_tcase(s, tc);
    return s;
}
