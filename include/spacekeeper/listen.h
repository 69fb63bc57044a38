/* Listen addresses of the command lines' --listen and --health-listen flags:
 * "ADDR:PORT", "[ADDR]:PORT" or ":PORT" (every address), numeric only (a
 * name would need a resolver at start-up and could bind somewhere else
 * than meant). Port 0 asks the kernel for a free one. */
#ifndef SPACEKEEPER_LISTEN_H
#define SPACEKEEPER_LISTEN_H

#include <sys/socket.h>

#include "spacekeeper/err.h"

/* Fills *out (IPv4 or IPv6); on error err names the text and the reason. */
int sk_listen_parse(const char *text, struct sockaddr_storage *out, sk_err *err);

#endif
