#include <stdlib.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/yaml.h"
#include "th.h"

static json_t *load(const char *text)
{
    sk_err err = {{0}};
    json_t *docs = sk_yaml_load(text, strlen(text), "t.yaml", &err);
    ck_assert_msg(docs != NULL, "%s", err.msg);
    return docs;
}

static void expect_error(const char *text, const char *want)
{
    sk_err err = {{0}};
    json_t *docs = sk_yaml_load(text, strlen(text), "t.yaml", &err);
    ck_assert_msg(docs == NULL, "expected an error for %s", text);
    ck_assert_msg(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
}

static void expect_json(const char *yaml, const char *json)
{
    json_t *docs = load(yaml);
    json_t *want = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(want);
    if (!json_equal(docs, want)) {
        char *got = json_dumps(docs, JSON_COMPACT);
        ck_abort_msg("YAML %s gave %s, want %s", yaml, got, json);
    }
    json_decref(docs);
    json_decref(want);
}

START_TEST(test_scalars_follow_kubectl)
{
    expect_json("a: \"1\"\nb: 1\nc: '1'\nd: 1.5\ne: true\nf: false\ng: null\nh: ~\ni:\n",
                "[{\"a\":\"1\",\"b\":1,\"c\":\"1\",\"d\":1.5,\"e\":true,\"f\":false,\"g\":null,"
                "\"h\":null,\"i\":null}]");
    /* go-yaml v2 booleans: the reason "on"/"yes" keys must be quoted in manifests */
    expect_json("a: yes\nb: No\nc: on\nd: OFF\ne: \"yes\"\nf: y\ng: n\n",
                "[{\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":\"yes\",\"f\":true,"
                "\"g\":false}]");
    expect_json("a: 0x1F\nb: 0o17\nc: 017\nd: -5\ne: 1e3\nf: 1_000\ng: 10Gi\nh: 1.2.3\n",
                "[{\"a\":31,\"b\":15,\"c\":15,\"d\":-5,\"e\":1000.0,\"f\":1000,\"g\":\"10Gi\","
                "\"h\":\"1.2.3\"}]");
    expect_json("a: !!str 123\nb: !!int \"7\"\n", "[{\"a\":\"123\",\"b\":7}]");
    expect_json("1: one\non: t\n0x1F: h\n", "[{\"1\":\"one\",\"true\":\"t\",\"31\":\"h\"}]");
}
END_TEST

START_TEST(test_streams_and_styles)
{
    expect_json("# leading comment\n---\na: 1 # trailing\n---\n# only a comment\n---\n"
                "b: [1, {c: d}]\n...\n---\n- x\n- z\n",
                "[{\"a\":1},{\"b\":[1,{\"c\":\"d\"}]},[\"x\",\"z\"]]");
    expect_json("s: |\n  line1\n  line2\nf: >\n  folded\n  text\n",
                "[{\"s\":\"line1\\nline2\\n\",\"f\":\"folded text\\n\"}]");
    expect_json("", "[]");
}
END_TEST

START_TEST(test_anchors_aliases_merge)
{
    expect_json("base: &b {cpu: \"1\", memory: 2Gi}\nreq: *b\nlim:\n  <<: *b\n  cpu: \"4\"\n",
                "[{\"base\":{\"cpu\":\"1\",\"memory\":\"2Gi\"},\"req\":{\"cpu\":\"1\","
                "\"memory\":\"2Gi\"},\"lim\":{\"cpu\":\"4\",\"memory\":\"2Gi\"}}]");
    expect_json("img: &i img:1\nlist: [*i, *i]\n", "[{\"img\":\"img:1\",\"list\":[\"img:1\",\"img:1\"]}]");
    expect_json("a: &x {k: 1}\nb: &y {j: 2}\nc:\n  k: 0\n  <<: [*x, *y]\n",
                "[{\"a\":{\"k\":1},\"b\":{\"j\":2},\"c\":{\"k\":0,\"j\":2}}]");
    expect_error("a: &x {k: 1}\nc:\n  <<: *x\n  j: 1\n  j: 2\n", "\"j\" already defined");
    /* An alias is a copy: changing one must not change the other. */
    json_t *docs = load("a: &x {k: 1}\nb: *x\n");
    json_t *doc = json_array_get(docs, 0);
    json_object_set_new(json_object_get(doc, "b"), "k", json_integer(2));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "a"), "k")), 1);
    json_decref(docs);
}
END_TEST

START_TEST(test_errors_name_file_line_column)
{
    expect_error("a: 1\nb: [1, 2\n", "t.yaml:3:1:");
    expect_error("a: 1\n  b: 2\n", "t.yaml:2:4:");
    expect_error("a: 1\na: 2\n", "t.yaml:2:4: mapping key \"a\" already defined");
    expect_error("a: *nope\n", "unknown anchor \"nope\"");
    expect_error("a: .inf\n", "infinity and NaN");
    expect_error("? [a, b]\n: c\n", "mapping keys must be scalars");
}
END_TEST

START_TEST(test_hostile_input_is_bounded)
{
    /* billion laughs: ten levels of ten aliases each would be 10^10 nodes */
    sk_buf b = SK_BUF_INIT;
    sk_buf_puts(&b, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++) {
        sk_buf_printf(&b, "l%d: &l%d [", i, i);
        for (int j = 0; j < 10; j++)
            sk_buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
        sk_buf_puts(&b, "]\n");
    }
    expect_error(b.data, "too large");
    sk_buf_reset(&b);
    for (int i = 0; i < 200; i++)
        sk_buf_puts(&b, "[");
    expect_error(b.data, "deeper than 100");
    sk_buf_free(&b);
}
END_TEST

START_TEST(test_dump_round_trips)
{
    json_t *v = json_loads("{\"s\":\"1\",\"n\":1,\"b\":\"true\",\"t\":true,\"z\":null,\"e\":\"\","
                           "\"r\":2.5,\"l\":[\"yes\",{\"k\":\"0x10\"}],\"m\":{},\"a\":[],"
                           "\"multi\":\"line1\\nline2\",\"colon\":\"a: b\"}",
                           0, NULL);
    char *y = sk_yaml_dump(v);
    ck_assert_ptr_nonnull(y);
    json_t *back = load(y);
    ck_assert_msg(json_equal(json_array_get(back, 0), v), "round trip changed the value:\n%s", y);
    free(y);
    json_decref(back);
    json_decref(v);
}
END_TEST

Suite *yaml_suite(void)
{
    Suite *s = suite_create("yaml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_scalars_follow_kubectl);
    tcase_add_test(tc, test_streams_and_styles);
    tcase_add_test(tc, test_anchors_aliases_merge);
    tcase_add_test(tc, test_errors_name_file_line_column);
    tcase_add_test(tc, test_hostile_input_is_bounded);
    tcase_add_test(tc, test_dump_round_trips);
    suite_add_tcase(s, tc);
    return s;
}
