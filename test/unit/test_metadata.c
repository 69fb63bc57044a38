/* Labels and annotations by Kubernetes' rules: the key and value checks on
 * their own (table-driven, against apimachinery's cases), and the engine
 * reporting them on workspaces and templates. */
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/metadata.h"
#include "th.h"

/* "aaa...a" of n characters (static storage: one at a time). */
static const char *repeat(char c, size_t n)
{
    static char buf[600];
    ck_assert_uint_lt(n, sizeof buf);
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* A valid DNS subdomain of exactly n characters: 49-letter labels. */
static const char *subdomain(size_t n)
{
    static char buf[600];
    ck_assert_uint_lt(n, sizeof buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = i % 50 == 49 ? '.' : 'a';
    if (buf[n - 1] == '.')
        buf[n - 1] = 'b';
    buf[n] = '\0';
    return buf;
}

static const struct key_case {
    const char *key;
    int fold_case;
    const char *problem; /* NULL: valid; else a part of the reason */
} KEY_CASES[] = {
    {"app", 0, NULL},
    {"a", 0, NULL},
    {"A_b.c-D9", 0, NULL},
    {"app.kubernetes.io/name", 0, NULL},
    {"kueue.x-k8s.io/priority-class", 0, NULL},
    {"workspace.jupyter.org/default-template", 0, NULL},
    {"1.2.3/x", 0, NULL},
    {"", 0, "the name part is empty"},
    {"example.com/", 0, "the name part is empty"},
    {"/name", 0, "the prefix before '/' is empty"},
    {"a/b/c", 0, "at most one '/'"},
    {"-abc", 0, "start and end with a letter or digit"},
    {"abc_", 0, "start and end with a letter or digit"},
    {".abc", 0, "start and end with a letter or digit"},
    {"has space", 0, "only letters, digits"},
    {"<user-input>", 0, "only letters, digits"},
    {"caf\xc3\xa9", 0, "only letters, digits"},
    {"Example.com/x", 0, "lowercase DNS subdomain"},
    {"Example.com/x", 1, NULL}, /* annotation keys are checked in lower case */
    {"example..com/x", 0, "lowercase DNS subdomain"},
    {"-example.com/x", 0, "lowercase DNS subdomain"},
    {"example-.com/x", 0, "lowercase DNS subdomain"},
    {"example.com./x", 0, "lowercase DNS subdomain"},
    {"ex_ample.com/x", 0, "lowercase DNS subdomain"},
    {"ex ample.com/x", 1, "lowercase DNS subdomain"},
};

START_TEST(test_keys)
{
    for (size_t i = 0; i < sizeof KEY_CASES / sizeof *KEY_CASES; i++) {
        const struct key_case *c = &KEY_CASES[i];
        const char *got = sk_meta_key_problem(c->key, c->fold_case);
        if (!c->problem)
            ck_assert_msg(!got, "key \"%s\" (fold %d): unexpected \"%s\"", c->key, c->fold_case, got);
        else
            ck_assert_msg(got && strstr(got, c->problem), "key \"%s\" (fold %d): want \"%s\", got \"%s\"",
                          c->key, c->fold_case, c->problem, got ? got : "(valid)");
    }
}
END_TEST

START_TEST(test_key_lengths)
{
    ck_assert_ptr_null(sk_meta_key_problem(repeat('a', 63), 0));
    ck_assert_str_eq(sk_meta_key_problem(repeat('a', 64), 0), "the name part is longer than 63 characters");
    sk_buf b = SK_BUF_INIT;
    sk_buf_printf(&b, "%s/%s", subdomain(253), "name");
    ck_assert_uint_eq(strlen(subdomain(253)), 253);
    ck_assert_ptr_null(sk_meta_key_problem(b.data, 0));
    sk_buf_reset(&b);
    sk_buf_printf(&b, "%s/%s", subdomain(254), "name");
    ck_assert_str_eq(sk_meta_key_problem(b.data, 0), "the prefix before '/' is longer than 253 characters");
    sk_buf_reset(&b);
    sk_buf_printf(&b, "example.com/%s", repeat('n', 64));
    ck_assert_str_eq(sk_meta_key_problem(b.data, 0), "the name part is longer than 63 characters");
    sk_buf_free(&b);
}
END_TEST

static const struct value_case {
    const char *value;
    const char *problem;
} VALUE_CASES[] = {
    {"", NULL},
    {"true", NULL},
    {"v1.2_3-x", NULL},
    {"experimentation-priority", NULL},
    {"<user-input>-priority", "only letters, digits, '-', '_' and '.' are allowed"},
    {"a/b", "only letters, digits"},
    {"two words", "only letters, digits"},
    {"-x", "start and end with a letter or digit"},
    {"x.", "start and end with a letter or digit"},
    {"_", "start and end with a letter or digit"},
};

START_TEST(test_label_values)
{
    for (size_t i = 0; i < sizeof VALUE_CASES / sizeof *VALUE_CASES; i++) {
        const struct value_case *c = &VALUE_CASES[i];
        const char *got = sk_meta_label_value_problem(c->value);
        if (!c->problem)
            ck_assert_msg(!got, "value \"%s\": unexpected \"%s\"", c->value, got);
        else
            ck_assert_msg(got && strstr(got, c->problem), "value \"%s\": want \"%s\", got \"%s\"",
                          c->value, c->problem, got ? got : "(valid)");
    }
    ck_assert_ptr_null(sk_meta_label_value_problem(repeat('v', 63)));
    ck_assert_str_eq(sk_meta_label_value_problem(repeat('v', 64)), "it is longer than 63 characters");
}
END_TEST

#define WS_HEAD "apiVersion: workspace.jupyter.org/v1alpha1\nkind: Workspace\n"
#define TPL_HEAD "apiVersion: workspace.jupyter.org/v1alpha1\nkind: WorkspaceTemplate\n"

static void review(const sk_store *store, sk_operation op, const char *yaml, const char *old_yaml,
                   sk_decision *d)
{
    json_t *obj = th_yaml(yaml), *old = old_yaml ? th_yaml(old_yaml) : NULL;
    sk_request req = {.op = op, .object = obj, .old_object = old, .user = "alice"};
    th_review(store, &req, d);
    json_decref(obj);
    json_decref(old);
}

START_TEST(test_engine_reports_labels_and_annotations)
{
    sk_store *store = th_fixture_store();
    sk_decision d;
    review(store, SK_OP_CREATE,
           WS_HEAD "metadata:\n  name: w\n  namespace: team-a\n  labels:\n    good: ok\n"
                   "    kueue.x-k8s.io/priority-class: <user-input>-priority\n    bad key: x\n"
                   "    count: 3\n  annotations:\n    Example.COM/Note: any text at all, / <> ok\n"
                   "    bad//annotation: x\nspec: {image: img:1}\n",
           NULL, &d);
    ck_assert_msg(th_count_violations(&d, "metadata.labels[kueue.x-k8s.io/priority-class]") == 1 &&
                      th_has_violation(&d, "metadata.labels[kueue.x-k8s.io/priority-class]",
                                       "metadata.labels[kueue.x-k8s.io/priority-class]: value "
                                       "\"<user-input>-priority\" is not a valid label value"),
                  "%s", th_violations(&d));
    ck_assert(th_has_violation(&d, "metadata.labels[bad key]",
                               "metadata.labels[bad key]: the key is not a valid qualified name: only"));
    ck_assert(th_has_violation(&d, "metadata.labels[count]", "the value must be a string, not integer"));
    ck_assert(th_has_violation(&d, "metadata.annotations[bad//annotation]", "at most one '/'"));
    ck_assert_int_eq(th_count_violations(&d, "metadata.annotations[Example.COM/Note]"), 0);
    ck_assert_int_eq(th_count_violations(&d, "metadata.labels[good]"), 0);
    ck_assert_uint_eq(json_array_size(d.violations), 4);
    ck_assert(!d.allowed);
    sk_decision_free(&d);

    /* a metadata-only UPDATE is checked too: the API server refuses it all the same */
    const char *old = WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {image: img:1}\n";
    review(store, SK_OP_UPDATE,
           WS_HEAD "metadata: {name: w, namespace: team-a, labels: {team: -a-}}\nspec: {image: img:1}\n",
           old, &d);
    ck_assert_msg(th_has_violation(&d, "metadata.labels[team]", "start and end with a letter or digit"),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    /* metadata that is not a map */
    review(store, SK_OP_CREATE, WS_HEAD "metadata: {name: w, namespace: team-a, labels: [a]}\nspec: {}\n",
           NULL, &d);
    ck_assert(th_has_violation(&d, "metadata.labels", "metadata.labels must be a map of strings, not array"));
    sk_decision_free(&d);
    sk_store_free(store);
}
END_TEST

START_TEST(test_annotations_total_size)
{
    sk_store *store = th_fixture_store();
    /* two annotations of 140,000 bytes: each fine, together above 256 KiB */
    size_t big = 140000;
    char *value = malloc(big + 1);
    memset(value, 'x', big);
    value[big] = '\0';
    json_t *obj = th_yaml(WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {image: img:1}\n");
    json_t *md = json_object_get(obj, "metadata");
    json_object_set_new(md, "annotations", json_pack("{s:s}", "a", value));
    sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = "alice"};
    sk_decision d;
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    sk_policy_review(&cfg, store, &req, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    json_object_set_new(json_object_get(md, "annotations"), "b", json_string(value));
    sk_policy_review(&cfg, store, &req, &d);
    ck_assert_msg(th_has_violation(&d, "metadata.annotations", "above the 262144 (256 KiB)"), "%s",
                  th_violations(&d));
    sk_decision_free(&d);
    json_decref(obj);
    free(value);
    sk_store_free(store);
}
END_TEST

START_TEST(test_templates_and_stamped_labels)
{
    sk_store *empty = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    sk_decision d;
    review(empty, SK_OP_CREATE,
           TPL_HEAD "metadata:\n  name: t\n  namespace: team-a\n  labels:\n"
                    "    kueue.x-k8s.io/priority-class: <user-input>-priority\nspec: {defaultImage: img:1}\n",
           NULL, &d);
    ck_assert(th_has_violation(&d, "metadata.labels[kueue.x-k8s.io/priority-class]", "not a valid label value"));
    sk_decision_free(&d);
    sk_store_free(empty);

    /* what the mutating webhook stamps counts too: a template named with more
     * than 63 characters cannot be a workspace's template-name label */
    sk_buf yaml = SK_BUF_INIT;
    sk_buf_printf(&yaml, TPL_HEAD "metadata: {name: %s, namespace: team-a}\nspec: {defaultImage: img:1}\n",
                  repeat('t', 70));
    sk_store *store = th_store(yaml.data);
    sk_buf_reset(&yaml);
    sk_buf_printf(&yaml, WS_HEAD "metadata: {name: w, namespace: team-a}\nspec: {templateRef: {name: %s}}\n",
                  repeat('t', 70));
    review(store, SK_OP_CREATE, yaml.data, NULL, &d);
    ck_assert_msg(th_has_violation(&d, "metadata.labels[" SK_LABEL_TEMPLATE_NAME "]",
                                   "is longer than 63 characters"),
                  "%s", th_violations(&d));
    sk_decision_free(&d);
    sk_buf_free(&yaml);
    sk_store_free(store);
}
END_TEST

Suite *metadata_suite(void)
{
    Suite *s = suite_create("metadata");
    TCase *tc = tcase_create("metadata");
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_key_lengths);
    tcase_add_test(tc, test_label_values);
    tcase_add_test(tc, test_engine_reports_labels_and_annotations);
    tcase_add_test(tc, test_annotations_total_size);
    tcase_add_test(tc, test_templates_and_stamped_labels);
    suite_add_tcase(s, tc);
    return s;
}
