#include <string.h>

#include "spacekeeper/quantity.h"
#include "th.h"

static sk_quantity q(const char *text)
{
    sk_quantity v;
    sk_err err = {{0}};
    ck_assert_msg(sk_quantity_parse(text, &v, &err) == 0, "%s: %s", text, err.msg);
    return v;
}

/* Nanos as two 64-bit halves keep the table readable and exact. */
static const struct {
    const char *text;
    unsigned long long units; /* whole units */
    unsigned long long nanos; /* remainder in nano-units */
} VALID[] = {
    {"0", 0, 0},           {"1", 1, 0},          {"100m", 0, 100000000},
    {"1.5", 1, 500000000}, {"2Gi", 2147483648ULL, 0}, {"500M", 500000000, 0},
    {"1e3", 1000, 0},      {"1E3", 1000, 0},     {"0.5Ki", 512, 0},
    {"1k", 1000, 0},       {"1Ki", 1024, 0},     {"1Mi", 1048576, 0},
    {"1Ti", 1099511627776ULL, 0},               {"1Pi", 1125899906842624ULL, 0},
    {"1Ei", 1152921504606846976ULL, 0},         {"1E", 1000000000000000000ULL, 0},
    {".5", 0, 500000000},  {"5.", 5, 0},         {"+3", 3, 0},
    {"1n", 0, 1},          {"1u", 0, 1000},      {"0.1n", 0, 1}, /* rounds up */
    {"1e-3", 0, 1000000},  {"1e+2", 100, 0},     {"2.5G", 2500000000ULL, 0},
    {"007", 7, 0},
};

START_TEST(test_valid_table)
{
    for (size_t i = 0; i < sizeof VALID / sizeof *VALID; i++) {
        sk_quantity v = q(VALID[i].text);
        __int128 want = (__int128)VALID[i].units * 1000000000 + VALID[i].nanos;
        ck_assert_msg(v.nanos == want, "%s parsed wrong", VALID[i].text);
    }
}
END_TEST

static const struct {
    const char *text;
    const char *reason;
} INVALID[] = {
    {"", "empty"},
    {"10GB", "use G for powers of 1000 or Gi for powers of 1024"},
    {"10KB", "use k for powers of 1000 or Ki"},
    {"-1Gi", "negative"},
    {"Gi", "does not start with a number"},
    {"1.2.3", "two decimal points"},
    {"1e", "unknown suffix"},
    {"1 Gi", "unknown suffix \" Gi\""},
    {"1gi", "unknown suffix"},
    {"1e40", "too large"},
    {"1e99999", "too large"},
    {"999999999999999999999999999999999999999999", "too large"},
    {"99999999999999999999999999Ei", "too large"},
};

START_TEST(test_invalid_table)
{
    for (size_t i = 0; i < sizeof INVALID / sizeof *INVALID; i++) {
        sk_quantity v;
        sk_err err = {{0}};
        ck_assert_msg(sk_quantity_parse(INVALID[i].text, &v, &err) < 0, "\"%s\" should fail",
                      INVALID[i].text);
        ck_assert_msg(strstr(err.msg, INVALID[i].reason), "\"%s\": message \"%s\" lacks \"%s\"",
                      INVALID[i].text, err.msg, INVALID[i].reason);
    }
}
END_TEST

START_TEST(test_exact_ordering)
{
    /* 1073741824 > 1048576000 > 1000000000: floating point gets these right
     * too, so also check values that differ only in the last nano. */
    ck_assert_int_eq(sk_quantity_cmp(q("1Gi"), q("1000Mi")), 1);
    ck_assert_int_eq(sk_quantity_cmp(q("1000Mi"), q("1G")), 1);
    ck_assert_int_eq(sk_quantity_cmp(q("1G"), q("1Gi")), -1);
    ck_assert_int_eq(sk_quantity_cmp(q("1k"), q("1e3")), 0);
    ck_assert_int_eq(sk_quantity_cmp(q("0.5Ki"), q("512")), 0);
    ck_assert_int_eq(sk_quantity_cmp(q("1000m"), q("1")), 0);
    ck_assert_int_eq(sk_quantity_cmp(q("8Ei"), q("8Ei")), 0);
    ck_assert_int_eq(sk_quantity_cmp(q("9223372036854775807.000000001"),
                                     q("9223372036854775807")), 1);
    ck_assert_int_eq(sk_quantity_cmp(q("0.1"), q("100m")), 0);
    ck_assert_int_eq(sk_quantity_cmp(q("0.3"), q("300m")), 0);
}
END_TEST

START_TEST(test_from_json)
{
    sk_quantity v;
    json_t *n = json_integer(4);
    ck_assert_int_eq(sk_quantity_from_json(n, &v, NULL), 0);
    ck_assert_int_eq(sk_quantity_cmp(v, q("4")), 0);
    json_decref(n);
    n = json_real(0.5);
    ck_assert_int_eq(sk_quantity_from_json(n, &v, NULL), 0);
    ck_assert_int_eq(sk_quantity_cmp(v, q("500m")), 0);
    json_decref(n);
    sk_err err = {{0}};
    ck_assert_int_eq(sk_quantity_from_json(json_true(), &v, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "string or a number"));
}
END_TEST

START_TEST(test_format)
{
    char buf[64];
    ck_assert_str_eq(sk_quantity_format(q("2Gi"), buf, sizeof buf), "2Gi");
    ck_assert_str_eq(sk_quantity_format(q("1536Mi"), buf, sizeof buf), "1536Mi");
    ck_assert_str_eq(sk_quantity_format(q("1.5"), buf, sizeof buf), "1500m");
    ck_assert_str_eq(sk_quantity_format(q("4"), buf, sizeof buf), "4");
    ck_assert_str_eq(sk_quantity_format(q("0"), buf, sizeof buf), "0");
    ck_assert_str_eq(sk_quantity_format(q("1G"), buf, sizeof buf), "1000000000");
}
END_TEST

Suite *quantity_suite(void)
{
    Suite *s = suite_create("quantity");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_valid_table);
    tcase_add_test(tc, test_invalid_table);
    tcase_add_test(tc, test_exact_ordering);
    tcase_add_test(tc, test_from_json);
    tcase_add_test(tc, test_format);
    suite_add_tcase(s, tc);
    return s;
}
