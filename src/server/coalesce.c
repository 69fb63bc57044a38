#include "spacekeeper/coalesce.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* A header record is about 150 bytes; anything bigger goes out unheld. */
#define HOLD_MAX 1024
#define MAX_IOV 8

/* Per worker thread: libmicrohttpd serves each connection on one thread,
 * so the header and body of a response are written by the thread that
 * armed for them. */
static __thread struct {
    int fd;    /* the socket armed or held for, -1 for none */
    int armed; /* the next record on fd is to be held */
    size_t len;
    unsigned char held[HOLD_MAX];
} slot = {.fd = -1};

/* What GnuTLS's own writer does: one sendmsg, no SIGPIPE. */
static ssize_t send_iov(int fd, const struct iovec *iov, int n)
{
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}

/* The held bytes by themselves: 0 once all are out, else -1 (errno). */
static int send_held(int fd)
{
    ssize_t sent = send(fd, slot.held, slot.len, MSG_NOSIGNAL);
    if (sent < 0)
        return -1;
    memmove(slot.held, slot.held + sent, slot.len - (size_t)sent);
    slot.len -= (size_t)sent;
    if (slot.len) {
        errno = EAGAIN;
        return -1;
    }
    return 0;
}

/* GnuTLS's writer for sockets armed at least once. A -1 with EAGAIN makes
 * GnuTLS offer the same record again later, as with its own writer. */
static ssize_t push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int n)
{
    int fd = (int)(intptr_t)ptr;
    if (fd != slot.fd)
        return send_iov(fd, (const struct iovec *)iov, n);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (slot.armed) {
        slot.armed = 0;
        if (slot.len + total <= HOLD_MAX) {
            for (int i = 0; i < n; i++) {
                memcpy(slot.held + slot.len, iov[i].iov_base, iov[i].iov_len);
                slot.len += iov[i].iov_len;
            }
            return (ssize_t)total;
        }
    }
    if (!slot.len || n + 1 > MAX_IOV) { /* nothing held, or (never from GnuTLS) too many pieces */
        if (slot.len && send_held(fd) < 0)
            return -1;
        slot.fd = -1;
        return send_iov(fd, (const struct iovec *)iov, n);
    }
    /* the held record and this one in one sendmsg */
    struct iovec all[MAX_IOV];
    all[0] = (struct iovec){slot.held, slot.len};
    memcpy(all + 1, iov, (size_t)n * sizeof *all);
    ssize_t sent = send_iov(fd, all, n + 1);
    if (sent < 0)
        return -1;
    if ((size_t)sent < slot.len) {
        memmove(slot.held, slot.held + sent, slot.len - (size_t)sent);
        slot.len -= (size_t)sent;
        errno = EAGAIN;
        return -1;
    }
    sent -= (ssize_t)slot.len;
    slot.len = 0;
    slot.fd = -1;
    if (sent == 0) {
        errno = EAGAIN;
        return -1;
    }
    return sent;
}

void sk_coalesce_arm(gnutls_session_t session, int fd)
{
    if (slot.fd != -1 && slot.fd != fd)
        return;
    /* GnuTLS's transport pointer is the socket (libmicrohttpd sets it with
     * gnutls_transport_set_int); only the writer changes. */
    gnutls_transport_set_vec_push_function(session, push);
    slot.fd = fd;
    slot.armed = 1;
}

void sk_coalesce_done(int fd, int healthy)
{
    if (slot.fd != fd)
        return;
    if (healthy && slot.len) {
        ssize_t sent = send(fd, slot.held, slot.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent != (ssize_t)slot.len) /* a peer that does not read: the stream is cut */
            shutdown(fd, SHUT_RDWR);
    }
    slot.fd = -1;
    slot.armed = 0;
    slot.len = 0;
}
