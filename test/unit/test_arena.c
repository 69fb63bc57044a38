/* The per-request JSON arena. */
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/arena.h"
#include "spacekeeper/json.h"
#include "th.h"

START_TEST(test_arena_scopes)
{
    sk_arena_install();
    json_t *heap = json_pack("{s:s}", "kept", "outside the arena"); /* plain malloc */

    for (int round = 0; round < 3; round++) {
        sk_arena_begin();
        /* enough nodes to need several chunks */
        json_t *big = json_array();
        for (int i = 0; i < 20000; i++)
            json_array_append_new(big, json_pack("{s:i, s:s}", "i", i, "s", "some text"));
        ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(big, 19999), "i")), 19999);
        /* heap JSON referenced and released inside the scope stays valid */
        json_object_set(json_array_get(big, 0), "heap", heap);
        json_t *copy = json_deep_copy(heap);
        ck_assert(json_equal(copy, heap));
        json_decref(copy);
        json_decref(big);
        /* output rendered for use after the scope is plain malloc memory */
        char *text = sk_json_dumps(heap, JSON_COMPACT);
        sk_arena_end();
        ck_assert_str_eq(text, "{\"kept\":\"outside the arena\"}");
        free(text);
        ck_assert_int_eq(heap->refcount, 1);
    }
    /* after the scope, JSON is ordinary heap JSON again */
    json_t *after = json_string("after");
    json_object_set_new(heap, "after", after);
    ck_assert_str_eq(json_string_value(json_object_get(heap, "after")), "after");
    json_decref(heap);
    json_set_alloc_funcs(malloc, free);
}
END_TEST

Suite *arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_arena_scopes);
    suite_add_tcase(s, tc);
    return s;
}
