#include "spacekeeper/listen.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* getaddrinfo takes "99999" as port 34463 and "" as 0: digits are checked here. */
static int valid_port(const char *port)
{
    size_t n = strspn(port, "0123456789");
    return n > 0 && n <= 5 && port[n] == '\0' && strtoul(port, NULL, 10) <= 65535;
}

int sk_listen_parse(const char *text, struct sockaddr_storage *out, sk_err *err)
{
    char host[INET6_ADDRSTRLEN + 16]; /* room for an IPv6 zone ("fe80::1%eth0") */
    const char *port;
    int host_len;
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (!end || end[1] != ':')
            return sk_err_set(err, "listen address \"%s\": expected [ADDR]:PORT", text);
        host_len = (int)(end - text - 1);
        if (host_len == 0)
            return sk_err_set(err, "listen address \"%s\": no address between the brackets", text);
        port = end + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon)
            return sk_err_set(err, "listen address \"%s\": expected ADDR:PORT", text);
        host_len = (int)(colon - text);
        port = colon + 1;
        if (memchr(text, ':', (size_t)host_len)) /* "::1:8443": which colon ends the address? */
            return sk_err_set(err, "listen address \"%s\": an IPv6 address needs brackets, [ADDR]:PORT",
                              text);
    }
    if ((size_t)host_len >= sizeof host)
        return sk_err_set(err, "listen address \"%s\": the address is too long", text);
    if (!valid_port(port))
        return sk_err_set(err, "listen address \"%s\": port \"%s\" is not a number from 0 to 65535", text,
                          port);
    snprintf(host, sizeof host, "%.*s", host_len, text + (text[0] == '['));
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0)
        return sk_err_set(err, "listen address \"%s\": %s", text,
                          rc == EAI_NONAME ? "not a numeric IPv4 or IPv6 address" : gai_strerror(rc));
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}
