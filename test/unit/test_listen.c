#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "spacekeeper/listen.h"
#include "th.h"

static const struct {
    const char *text;
    int family;
    const char *addr; /* as inet_ntop writes it */
    unsigned port;
} VALID[] = {
    {"127.0.0.1:8443", AF_INET, "127.0.0.1", 8443}, {"0.0.0.0:0", AF_INET, "0.0.0.0", 0},
    {"[::1]:8081", AF_INET6, "::1", 8081},          {"[::]:65535", AF_INET6, "::", 65535},
    {":9090", AF_INET, "0.0.0.0", 9090},            {"10.1.2.3:08443", AF_INET, "10.1.2.3", 8443},
    {"[fe80::1]:1", AF_INET6, "fe80::1", 1},
};

START_TEST(test_valid_table)
{
    for (size_t i = 0; i < sizeof VALID / sizeof *VALID; i++) {
        struct sockaddr_storage ss;
        sk_err err = {{0}};
        ck_assert_msg(sk_listen_parse(VALID[i].text, &ss, &err) == 0, "%s: %s", VALID[i].text, err.msg);
        ck_assert_int_eq(ss.ss_family, VALID[i].family);
        char addr[INET6_ADDRSTRLEN];
        unsigned port;
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
            port = ntohs(in->sin_port);
        } else {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
            port = ntohs(in6->sin6_port);
        }
        ck_assert_msg(strcmp(addr, VALID[i].addr) == 0, "%s: address %s", VALID[i].text, addr);
        ck_assert_msg(port == VALID[i].port, "%s: port %u", VALID[i].text, port);
    }
}
END_TEST

static const struct {
    const char *text;
    const char *reason; /* in the message, after the quoted text */
} INVALID[] = {
    {"8443", "expected ADDR:PORT"},
    {"", "expected ADDR:PORT"},
    {"[::1]8443", "expected [ADDR]:PORT"},
    {"[::1", "expected [ADDR]:PORT"},
    {"[]:80", "no address between the brackets"},
    {"127.0.0.1:", "port \"\" is not a number"},
    {"127.0.0.1:99999", "port \"99999\" is not a number from 0 to 65535"},
    {"127.0.0.1:65536", "port \"65536\""},
    {"127.0.0.1:https", "port \"https\""},
    {"127.0.0.1:-1", "port \"-1\""},
    {"127.0.0.1: 80", "port \" 80\""},
    {"localhost:8443", "not a numeric IPv4 or IPv6 address"},
    {"::1:8443", "an IPv6 address needs brackets"},
    {"[::1]:80:81", "port \"80:81\""},
    {"256.0.0.1:80", "not a numeric"},
    {"[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd]:80", "the address is too long"},
};

START_TEST(test_invalid_table)
{
    for (size_t i = 0; i < sizeof INVALID / sizeof *INVALID; i++) {
        struct sockaddr_storage ss;
        sk_err err = {{0}};
        ck_assert_msg(sk_listen_parse(INVALID[i].text, &ss, &err) == -1, "%s parsed", INVALID[i].text);
        char quoted[128];
        snprintf(quoted, sizeof quoted, "listen address \"%s\": ", INVALID[i].text);
        ck_assert_msg(strncmp(err.msg, quoted, strlen(quoted)) == 0, "%s: %s", INVALID[i].text, err.msg);
        ck_assert_msg(strstr(err.msg, INVALID[i].reason), "%s: %s", INVALID[i].text, err.msg);
    }
}
END_TEST

Suite *listen_suite(void)
{
    Suite *s = suite_create("listen");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_valid_table);
    tcase_add_test(tc, test_invalid_table);
    suite_add_tcase(s, tc);
    return s;
}
