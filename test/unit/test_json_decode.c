/* The fast JSON decoder: what it accepts equals json_loadb's value, what it
 * refuses json_loadb refuses, and sk_json_loadb is json_loadb exactly. */
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/docs.h"
#include "spacekeeper/json.h"
#include "spacekeeper/json_decode.h"
#include "th.h"

#define DUPS JSON_REJECT_DUPLICATES

/* Decodes n bytes; checks the outcome code and, when decoded, that
 * json_loadb gives the same value with the same compact text. */
static json_t *decode_n(const char *text, size_t n, size_t flags, sk_json_decode_code want)
{
    sk_json_decode_error e;
    json_t *got = sk_json_decode(text, n, flags, &e);
    ck_assert_msg(got ? want == SK_JSON_DECODE_OK : e.code == want,
                  "%.*s: got code %d (%s at %zu), want %d", (int)n, text, got ? 0 : (int)e.code,
                  got ? "" : e.reason, got ? 0 : e.position, (int)want);
    json_t *ref = json_loadb(text, n, flags, NULL);
    if (got) {
        ck_assert_ptr_nonnull(ref);
        char *a = sk_json_dumps(got, JSON_COMPACT), *b = json_dumps(ref, JSON_COMPACT);
        ck_assert_str_eq(a, b);
        ck_assert(json_equal(got, ref));
        free(a);
        free(b);
    } else if (want == SK_JSON_DECODE_INVALID) {
        ck_assert_msg(!ref, "json_loadb accepts %.*s", (int)n, text);
    }
    json_decref(ref);
    return got;
}

static json_t *decode(const char *text, sk_json_decode_code want)
{
    return decode_n(text, strlen(text), DUPS, want);
}

static void refused(const char *text)
{
    ck_assert_ptr_null(decode(text, SK_JSON_DECODE_INVALID));
}

/* sk_json_loadb's verdict, value and error are json_loadb's. */
static void same_as_jansson(const char *text, size_t n, size_t flags)
{
    json_error_t a, b;
    json_t *got = sk_json_loadb(text, n, flags, &a), *ref = json_loadb(text, n, flags, &b);
    ck_assert_int_eq(!got, !ref);
    if (got) {
        ck_assert(json_equal(got, ref));
    } else {
        ck_assert_str_eq(a.text, b.text);
        ck_assert_int_eq(a.line, b.line);
        ck_assert_int_eq(a.column, b.column);
    }
    json_decref(got);
    json_decref(ref);
}

START_TEST(test_escapes)
{
    json_t *v = decode("{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u0041\\u00e9\":\"\\u4e2d\"}",
                       SK_JSON_DECODE_OK);
    ck_assert_str_eq(json_string_value(json_object_get(v, "a")), "\"\\/\b\f\n\r\t");
    ck_assert_str_eq(json_string_value(json_object_get(v, "A\xc3\xa9")), "\xe4\xb8\xad");
    json_decref(v);
    refused("[\"\\x\"]");
    refused("[\"\\u12\"]");
    refused("[\"\\u12g4\"]");
    refused("[\"\\\"]");
    /* \u0000: jansson refuses it without JSON_ALLOW_NUL, in keys always */
    refused("[\"a\\u0000b\"]");
    refused("{\"a\\u0000\":1}");
}
END_TEST

START_TEST(test_surrogates)
{
    json_t *v = decode("[\"\\ud83d\\ude00\",\"\\uD83D\\uDE00x\"]", SK_JSON_DECODE_OK);
    ck_assert_str_eq(json_string_value(json_array_get(v, 0)), "\xf0\x9f\x98\x80");
    ck_assert_str_eq(json_string_value(json_array_get(v, 1)), "\xf0\x9f\x98\x80x");
    json_decref(v);
    refused("[\"\\ud800\"]");         /* high alone */
    refused("[\"\\ud800x\"]");        /* high, then not an escape */
    refused("[\"\\ud800\\u0041\"]");  /* high, then not a low */
    refused("[\"\\ud800\\ud800\"]");  /* high twice */
    refused("[\"\\udc00\"]");         /* low alone */
    refused("[\"\\ude00\\ud83d\"]");  /* the pair backwards */
}
END_TEST

START_TEST(test_utf8)
{
    json_t *v = decode("{\"\xc3\xa9\":\"\xe4\xb8\xad \xf0\x9f\x98\x80 \x7f\"}", SK_JSON_DECODE_OK);
    ck_assert_str_eq(json_string_value(json_object_get(v, "\xc3\xa9")), "\xe4\xb8\xad \xf0\x9f\x98\x80 \x7f");
    json_decref(v);
    refused("[\"\x80\"]");                 /* a continuation byte first */
    refused("[\"\xc0\x80\"]");             /* overlong NUL */
    refused("[\"\xc1\xbf\"]");             /* overlong ASCII */
    refused("[\"\xe0\x9f\xbf\"]");         /* overlong 3-byte */
    refused("[\"\xf0\x8f\xbf\xbf\"]");     /* overlong 4-byte */
    refused("[\"\xed\xa0\x80\"]");         /* an encoded surrogate */
    refused("[\"\xf4\x90\x80\x80\"]");     /* above U+10FFFF */
    refused("[\"\xf5\x80\x80\x80\"]");
    refused("[\"\xe4\xb8\"]");             /* cut short by the quote */
    refused("[\"\xe4\"]");
    refused("[\"\xe4\xb8");                /* cut short by the end */
    refused("[\"a\tb\"]");                 /* control characters */
    refused("[\"a\nb\"]");
    refused("[\"\x1f\"]");
    refused("[\xc3\xa9]");                 /* outside a string */
}
END_TEST

START_TEST(test_numbers)
{
    json_t *v = decode("[9223372036854775807,-9223372036854775808,0,-0,12,-3]", SK_JSON_DECODE_OK);
    ck_assert_int_eq(json_integer_value(json_array_get(v, 0)), 9223372036854775807LL);
    ck_assert_int_eq(json_integer_value(json_array_get(v, 1)), -9223372036854775807LL - 1);
    ck_assert(json_is_integer(json_array_get(v, 3)));
    ck_assert_int_eq(json_integer_value(json_array_get(v, 3)), 0);
    json_decref(v);
    /* integers beyond 64 bits: jansson refuses them rather than round */
    refused("[9223372036854775808]");
    refused("[-9223372036854775809]");
    refused("[123456789012345678901234567890]");
    v = decode("[1.5,1e2,1E+2,-2.5e-3,1e-400,0.0,123456789012345678901234567890.0]", SK_JSON_DECODE_OK);
    ck_assert(json_is_real(json_array_get(v, 1)));
    ck_assert(json_real_value(json_array_get(v, 1)) == 100.0);
    ck_assert(json_real_value(json_array_get(v, 4)) == 0.0); /* underflow is accepted */
    json_decref(v);
    refused("[1e309]"); /* overflow to infinity is not */
    refused("[-1e309]");
    static const char *const bad[] = {"[01]", "[-01]", "[1.]", "[.5]", "[-]", "[+1]", "[1e]",
                                      "[1e+]", "[1.2.3]", "[0x10]", "[1-2]", "[--1]", "[1e5.0]",
                                      "[Infinity]", "[NaN]", "[-Infinity]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        refused(bad[i]);
}
END_TEST

START_TEST(test_literals)
{
    json_t *v = decode("[true,false,null]", SK_JSON_DECODE_OK);
    ck_assert(json_is_true(json_array_get(v, 0)));
    ck_assert(json_is_null(json_array_get(v, 2)));
    json_decref(v);
    refused("[tru]");
    refused("[truee]");
    refused("[True]");
    refused("[nul]");
    refused("[nulls]");
    refused("[f]");
}
END_TEST

START_TEST(test_duplicates)
{
    refused("{\"a\":1,\"a\":2}");
    refused("{\"a\":1,\"\\u0061\":2}"); /* the same key once unescaped */
    refused("{\"x\":{\"a\":[],\"b\":1,\"a\":{}}}");
    /* without the flag the last one wins, in the first one's place */
    const char *text = "{\"a\":1,\"b\":2,\"a\":{\"c\":3}}";
    json_t *v = decode_n(text, strlen(text), 0, SK_JSON_DECODE_OK);
    ck_assert_int_eq(json_object_size(v), 2);
    ck_assert_int_eq(json_integer_value(sk_json_get(v, "a", "c", NULL)), 3);
    json_decref(v);
}
END_TEST

static char *nested(int n, const char *inner)
{
    sk_buf b = SK_BUF_INIT;
    for (int i = 0; i < n; i++)
        sk_buf_puts(&b, i % 2 ? "[" : "{\"k\":");
    sk_buf_puts(&b, inner);
    for (int i = n - 1; i >= 0; i--)
        sk_buf_puts(&b, i % 2 ? "]" : "}");
    return sk_buf_steal(&b);
}

START_TEST(test_depth)
{
    char *ok = nested(SK_JSON_DECODE_MAX_DEPTH, "1");
    json_decref(decode(ok, SK_JSON_DECODE_OK));
    char *deep = nested(SK_JSON_DECODE_MAX_DEPTH + 1, "1");
    ck_assert_ptr_null(decode(deep, SK_JSON_DECODE_TOO_DEEP));
    /* left to jansson, which allows it (2048 levels) ... */
    same_as_jansson(deep, strlen(deep), DUPS);
    /* ... and refuses deeper with its own message */
    char *deeper = nested(5000, "1");
    ck_assert_ptr_null(decode(deeper, SK_JSON_DECODE_TOO_DEEP));
    json_error_t e;
    ck_assert_ptr_null(sk_json_loadb(deeper, strlen(deeper), DUPS, &e));
    ck_assert_msg(strstr(e.text, "maximum parsing depth"), "%s", e.text);
    free(ok);
    free(deep);
    free(deeper);
}
END_TEST

START_TEST(test_structure)
{
    json_decref(decode(" \r\n\t{ \"a\" : [ 1 , { } , [ ] ] , \"b\" : \"\" } \n", SK_JSON_DECODE_OK));
    json_decref(decode("[]", SK_JSON_DECODE_OK));
    json_decref(decode("{\"\":\"\"}", SK_JSON_DECODE_OK));
    static const char *const bad[] = {
        "", " \n\t ", "\"text\"", "1", "true", "null", /* empty, or not an object or array */
        "{} x", "{}{}", "[] []", "{},", "[1]]", "{}}",   /* trailing garbage */
        "[1,]", "{\"a\":1,}", "[,1]", "[1 2]", "[1,,2]", /* commas */
        "{\"a\" 1}", "{\"a\"}", "{\"a\":}", "{\"a\"::1}", "[1:2]", "{1:2}", "{\"a\":1 \"b\":2}",
        "{[]:1}", "{{}:1}", "[\"a\":1]",                 /* members */
        "{\"a\":[1}", "[{]}", "[", "{", "{\"a\":", "[\"abc", "]", "}", /* brackets */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        refused(bad[i]);
        same_as_jansson(bad[i], strlen(bad[i]), DUPS);
    }
}
END_TEST

START_TEST(test_left_to_jansson)
{
    /* jansson's lexer drops a NUL right after a number or literal */
    ck_assert_ptr_null(decode_n("[1\0]", 4, DUPS, SK_JSON_DECODE_UNSUPPORTED));
    same_as_jansson("[1\0]", 4, DUPS);
    ck_assert_ptr_null(decode_n("{}\0", 3, DUPS, SK_JSON_DECODE_UNSUPPORTED));
    same_as_jansson("{}\0", 3, DUPS);
    /* flags other than JSON_REJECT_DUPLICATES */
    ck_assert_ptr_null(decode_n("7", 1, JSON_DECODE_ANY, SK_JSON_DECODE_UNSUPPORTED));
    json_t *v = sk_json_loadb("7", 1, JSON_DECODE_ANY, NULL);
    ck_assert_int_eq(json_integer_value(v), 7);
    json_decref(v);
}
END_TEST

START_TEST(test_review_fixture)
{
    char path[512];
    const char *dir = getenv("SK_FIXTURES");
    snprintf(path, sizeof path, "%s/review-denied.json", dir ? dir : "test/fixtures");
    size_t len;
    char *text = sk_read_file(path, &len, NULL);
    ck_assert_ptr_nonnull(text);
    json_decref(decode_n(text, len, DUPS, SK_JSON_DECODE_OK));
    free(text);
}
END_TEST

Suite *json_decode_suite(void)
{
    Suite *s = suite_create("json_decode");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_escapes);
    tcase_add_test(tc, test_surrogates);
    tcase_add_test(tc, test_utf8);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_literals);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_structure);
    tcase_add_test(tc, test_left_to_jansson);
    tcase_add_test(tc, test_review_fixture);
    suite_add_tcase(s, tc);
    return s;
}
