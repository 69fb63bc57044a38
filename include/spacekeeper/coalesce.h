/* One write per response over TLS.
 *
 * libmicrohttpd hands GnuTLS a response's header and its body separately,
 * so every answer went out as two TLS records: two sendmsg calls, two
 * packets, the client woken twice. Installed under GnuTLS, this writer can
 * hold one record back, for one socket at a time per thread, and send it
 * with the next in a single sendmsg. Bytes still leave in the order GnuTLS
 * wrote them (a close_notify is just the next record), and nothing is held
 * past the end of its request. */
#ifndef SPACEKEEPER_COALESCE_H
#define SPACEKEEPER_COALESCE_H

#include <gnutls/gnutls.h>

/* The next record GnuTLS writes on fd (session's socket) waits for the one
 * after it. Call on the thread that will write the response, before
 * queueing it; a no-op while this thread holds a record for another socket. */
void sk_coalesce_arm(gnutls_session_t session, int fd);

/* The request on fd is over: a record still held (a response without a
 * body) is sent now if the connection is healthy, dropped if it is closing. */
void sk_coalesce_done(int fd, int healthy);

#endif
