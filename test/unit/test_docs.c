#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spacekeeper/docs.h"
#include "th.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_directory_recursion_in_name_order)
{
    char dir[] = "/tmp/sk-docs-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof p, "%s/b.yaml", dir);
    write_file(p, "kind: B\n---\nkind: C\n");
    snprintf(p, sizeof p, "%s/a.json", dir);
    write_file(p, "{\"kind\": \"A\"}");
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    write_file(p, "kind: ignored\n");
    snprintf(p, sizeof p, "%s/sub", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/sub/d.yml", dir);
    write_file(p, "apiVersion: v1\nkind: List\nitems:\n- kind: D1\n- kind: D2\n");

    sk_doclist l = SK_DOCLIST_INIT;
    sk_err err = {{0}};
    ck_assert_msg(sk_doclist_load(&l, dir, &err) == 0, "%s", err.msg);
    const char *want[] = {"A", "B", "C", "D1", "D2"};
    ck_assert_uint_eq(l.n, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(json_string_value(json_object_get(l.items[i].value, "kind")), want[i]);
    ck_assert_ptr_nonnull(strstr(l.items[2].source, "b.yaml#2"));
    sk_doclist_free(&l);

    snprintf(p, sizeof p, "%s/broken.yaml", dir);
    write_file(p, "kind: X\nspec: [\n");
    ck_assert_int_eq(sk_doclist_load(&l, p, &err), -1);
    ck_assert_msg(strstr(err.msg, "broken.yaml:3:1"), "%s", err.msg);
    sk_doclist_free(&l);
    ck_assert_int_eq(sk_doclist_load(&l, "/nonexistent/x.yaml", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "No such file"));
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_scalar_document_is_refused)
{
    sk_doclist l = SK_DOCLIST_INIT;
    sk_err err = {{0}};
    const char *text = "just a string\n";
    ck_assert_int_eq(sk_doclist_load_buffer(&l, text, strlen(text), "s.yaml", 0, &err), -1);
    ck_assert_msg(strstr(err.msg, "not a Kubernetes object"), "%s", err.msg);
    sk_doclist_free(&l);
}
END_TEST

Suite *docs_suite(void)
{
    Suite *s = suite_create("docs");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_directory_recursion_in_name_order);
    tcase_add_test(tc, test_scalar_document_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
