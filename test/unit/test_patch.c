#include <stdio.h>
#include <string.h>

#include "spacekeeper/map.h"
#include "spacekeeper/patch.h"
#include "th.h"

START_TEST(test_pointer_escaping)
{
    static const struct {
        const char *token, *want;
    } cases[] = {
        {"plain", "/plain"},
        {"kueue.x-k8s.io/priority-class", "/kueue.x-k8s.io~1priority-class"},
        {"a~b", "/a~0b"},
        {"~/", "/~0~1"},
        {"/~1", "/~1~01"},
        {"", "/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sk_buf b = SK_BUF_INIT;
        sk_pointer_append(&b, cases[i].token);
        ck_assert_str_eq(b.data, cases[i].want);
        sk_buf_free(&b);
    }
}
END_TEST

START_TEST(test_parents_before_children)
{
    json_t *doc = json_pack("{s:{s:s}}", "metadata", "name", "w");
    json_t *orig = json_deep_copy(doc);
    json_t *ops = json_array();
    const char *p1[] = {"metadata", "labels", "kueue.x-k8s.io/queue-name"};
    const char *p2[] = {"metadata", "labels", "a~b"};
    const char *p3[] = {"spec", "storage", "size"};
    const char *p4[] = {"metadata", "name"};
    ck_assert_int_eq(sk_patch_set(ops, doc, p1, 3, json_string("q"), NULL), 0);
    ck_assert_int_eq(sk_patch_set(ops, doc, p2, 3, json_string("x"), NULL), 0);
    ck_assert_int_eq(sk_patch_set(ops, doc, p3, 3, json_string("10Gi"), NULL), 0);
    ck_assert_int_eq(sk_patch_set(ops, doc, p4, 2, json_string("v"), NULL), 0);

    json_t *want = json_loads(
        "[{\"op\":\"add\",\"path\":\"/metadata/labels\",\"value\":{\"kueue.x-k8s.io/queue-name\":\"q\"}},"
        "{\"op\":\"add\",\"path\":\"/metadata/labels/a~0b\",\"value\":\"x\"},"
        "{\"op\":\"add\",\"path\":\"/spec\",\"value\":{\"storage\":{\"size\":\"10Gi\"}}},"
        "{\"op\":\"replace\",\"path\":\"/metadata/name\",\"value\":\"v\"}]",
        0, NULL);
    char *got = json_dumps(ops, JSON_COMPACT);
    ck_assert_msg(json_equal(ops, want), "ops: %s", got);
    free(got);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "metadata"), "name")), "v");
    th_log_patch(orig, ops, doc);
    json_decref(want);
    json_decref(ops);
    json_decref(doc);
    json_decref(orig);
}
END_TEST

START_TEST(test_non_object_parent_is_an_error)
{
    json_t *doc = json_pack("{s:s}", "spec", "oops");
    json_t *ops = json_array();
    const char *p[] = {"spec", "image"};
    sk_err err = {{0}};
    ck_assert_int_eq(sk_patch_set(ops, doc, p, 2, json_string("x"), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not an object"));
    ck_assert_int_eq(json_array_size(ops), 0);
    json_decref(ops);
    json_decref(doc);
}
END_TEST

START_TEST(test_map_many_keys_and_removal)
{
    sk_map *m = sk_map_new();
    char key[32];
    static int vals[5000];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ck_assert_ptr_null(sk_map_put(m, key, &vals[i]));
    }
    ck_assert_uint_eq(sk_map_count(m), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "k%d", i);
        ck_assert_ptr_eq(sk_map_remove(m, key), &vals[i]);
    }
    ck_assert_uint_eq(sk_map_count(m), 2500);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ck_assert_ptr_eq(sk_map_get(m, key), i % 2 ? &vals[i] : NULL);
    }
    /* re-adding after removals reuses tombstones and keeps every key reachable */
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "k%d", i);
        sk_map_put(m, key, &vals[i]);
    }
    size_t seen = 0;
    const char *k;
    void *v;
    for (size_t pos = 0; sk_map_next(m, &pos, &k, &v);)
        seen++;
    ck_assert_uint_eq(seen, 5000);
    ck_assert_ptr_eq(sk_map_put(m, "k1", &vals[0]), &vals[1]);
    sk_map_free(m);
}
END_TEST

Suite *patch_suite(void)
{
    Suite *s = suite_create("patch");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_pointer_escaping);
    tcase_add_test(tc, test_parents_before_children);
    tcase_add_test(tc, test_non_object_parent_is_an_error);
    tcase_add_test(tc, test_map_many_keys_and_removal);
    suite_add_tcase(s, tc);
    return s;
}
