/* The compact JSON writer: byte for byte what jansson's dump writes. */
#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/json.h"
#include "th.h"

static void same_text(json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *got = sk_json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(want);
    free(got);
    json_decref(v);
}

START_TEST(test_write_like_jansson)
{
    same_text(json_pack("{s:s, s:[i, I, I, I], s:{}, s:[], s:n, s:b, s:b}", "s", "plain", "ints", 0,
                        (json_int_t)-1, (json_int_t)LLONG_MAX, (json_int_t)LLONG_MIN, "o", "a", "z",
                        "t", 1, "f", 0));
    /* escapes: quotes, backslash, the short forms, other control characters
     * as \u00XX, '/' and DEL and non-ASCII as they are */
    same_text(json_string("\" \\ / \b \f \n \r \t \x01 \x1f \x7f \xc3\xa9 \xf0\x9f\x98\x80"));
    same_text(json_stringn("a\0b", 3));
    json_t *o = json_object();
    json_object_setn_new(o, "k\0\"ey\n", 6, json_true());
    same_text(o);
    /* reals: %.17g, ".0" when integral, exponents without '+' or zeros */
    static const double reals[] = {0.0, -0.0, 1.0, -2.0, 0.1, 1.5, 1e20, 1e21, 1e-5, 1e-7,
                                   123456789.0, 1.5e300, -2.5e-300, DBL_MAX, DBL_MIN, 5e-324,
                                   9007199254740993.0, 1e100, 100.0};
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof reals / sizeof *reals; i++)
        json_array_append_new(a, json_real(reals[i]));
    same_text(a);
    /* order is insertion order, replaced keys keep their place */
    o = json_pack("{s:i, s:i, s:i}", "z", 1, "a", 2, "m", 3);
    json_object_set_new(o, "z", json_string("again"));
    same_text(o);
}
END_TEST

START_TEST(test_write_refuses_what_jansson_refuses)
{
    json_t *bad = json_stringn_nocheck("\xc3(", 2); /* not UTF-8 */
    ck_assert_ptr_null(json_dumps(bad, JSON_ENCODE_ANY | JSON_COMPACT));
    ck_assert_ptr_null(sk_json_dumps(bad, JSON_ENCODE_ANY | JSON_COMPACT));
    json_t *arr = json_pack("[o]", bad);
    ck_assert_ptr_null(sk_json_dumps(arr, JSON_COMPACT));
    json_decref(arr);
    /* a bare scalar needs JSON_ENCODE_ANY, as in jansson */
    json_t *n = json_integer(5);
    ck_assert_ptr_null(sk_json_dumps(n, JSON_COMPACT));
    char *s = sk_json_dumps(n, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_str_eq(s, "5");
    free(s);
    json_decref(n);
}
END_TEST

Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("write");
    tcase_add_test(tc, test_write_like_jansson);
    tcase_add_test(tc, test_write_refuses_what_jansson_refuses);
    suite_add_tcase(s, tc);
    return s;
}
