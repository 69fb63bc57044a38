/* Kubernetes client configuration: kubeconfig and in-cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spacekeeper/kube.h"
#include "th.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/sk-kube-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(test_kubeconfig_current_context)
{
    /* "LS0tCg==" is base64 of "---\n" */
    const char *path = write_file("config",
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "clusters:\n"
        "- name: prod\n  cluster: {server: https://prod:6443}\n"
        "- name: dev\n  cluster:\n    server: https://127.0.0.1:6443/\n"
        "    certificate-authority: pki/ca.crt\n"
        "users:\n- name: alice\n  user:\n    client-certificate-data: LS0tCg==\n"
        "    client-key: /abs/key.pem\n    tokenFile: token\n"
        "contexts:\n- name: dev\n  context: {cluster: dev, user: alice, namespace: team-a}\n"
        "- name: prod\n  context: {cluster: prod, user: alice}\n");
    sk_kube_config c;
    sk_err err = {{0}};
    ck_assert_msg(sk_kube_config_load(&c, path, NULL, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(c.server, "https://127.0.0.1:6443/");
    char want[256];
    snprintf(want, sizeof want, "%s/pki/ca.crt", dir);
    ck_assert_str_eq(c.ca_file, want); /* relative to the kubeconfig */
    snprintf(want, sizeof want, "%s/token", dir);
    ck_assert_str_eq(c.token_file, want);
    ck_assert_str_eq(c.cert_pem, "---\n");
    ck_assert_str_eq(c.key_file, "/abs/key.pem");
    ck_assert_str_eq(c.namespace, "team-a");
    ck_assert_ptr_null(c.token);
    ck_assert_int_eq(c.insecure, 0);
    sk_kube_config_free(&c);

    ck_assert_int_eq(sk_kube_config_load(&c, path, "prod", &err), 0);
    ck_assert_str_eq(c.server, "https://prod:6443");
    ck_assert_str_eq(c.namespace, "default");
    sk_kube_config_free(&c);

    ck_assert_int_eq(sk_kube_config_load(&c, path, "staging", &err), -1);
    ck_assert_msg(strstr(err.msg, "context \"staging\" not found"), "%s", err.msg);
}
END_TEST

START_TEST(test_kubeconfig_errors)
{
    sk_kube_config c;
    sk_err err = {{0}};
    const char *bad = write_file("bad", "clusters: [\n");
    ck_assert_int_eq(sk_kube_config_load(&c, bad, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "bad:2:1"), "%s", err.msg);
    const char *b64 = write_file("b64",
        "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '%%%'}}]\n"
        "contexts: [{name: x, context: {cluster: c}}]\n");
    ck_assert_int_eq(sk_kube_config_load(&c, b64, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "certificate-authority-data is not valid base64"), "%s", err.msg);
    const char *noserver = write_file("nos", "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n");
    ck_assert_int_eq(sk_kube_config_load(&c, noserver, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "cluster \"c\" not found"), "%s", err.msg);
    c = (sk_kube_config){.server = "http://plain:8080"};
    ck_assert_ptr_null(sk_kube_new(&c, &err));
    ck_assert_msg(strstr(err.msg, "must be an https:// URL"), "%s", err.msg);
}
END_TEST

START_TEST(test_in_cluster)
{
    write_file("token", "abc\n");
    write_file("namespace", "spacekeeper-system\n");
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    sk_kube_config c;
    sk_err err = {{0}};
    ck_assert_msg(sk_kube_config_in_cluster(&c, dir, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(c.server, "https://[fd00::1]:443");
    ck_assert_str_eq(c.namespace, "spacekeeper-system");
    ck_assert_ptr_nonnull(strstr(c.ca_file, "/ca.crt"));
    sk_kube_config_free(&c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    ck_assert_int_eq(sk_kube_config_in_cluster(&c, dir, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not in a cluster"));
}
END_TEST

Suite *kube_suite(void)
{
    Suite *s = suite_create("kube");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_kubeconfig_current_context);
    tcase_add_test(tc, test_kubeconfig_errors);
    tcase_add_test(tc, test_in_cluster);
    suite_add_tcase(s, tc);
    return s;
}
