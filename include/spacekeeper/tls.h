/* The server's TLS identity: a certificate chain and key read from files
 * and re-read when they change on disk (cert-manager rotates them). Every new
 * handshake is served the pair current at that moment; connections already
 * open keep theirs. A half-written or mismatched pair is never served: the
 * previous one stays until both files load and the key signs for the cert. */
#ifndef SPACEKEEPER_TLS_H
#define SPACEKEEPER_TLS_H

#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "spacekeeper/err.h"

typedef struct sk_tls sk_tls;

sk_tls *sk_tls_new(const char *cert_path, const char *key_path, sk_err *err);
void sk_tls_free(sk_tls *t);

/* Re-reads the files if their identity (inode, size, mtime) changed.
 * Returns 1 if a new pair is now served, 0 if nothing changed, -1 if the
 * files changed but do not form a valid pair yet (err says why). */
int sk_tls_reload(sk_tls *t, sk_err *err);

/* notAfter of the leaf certificate now served. */
time_t sk_tls_not_after(const sk_tls *t);

/* Makes t the identity the handshake callback serves (one per process:
 * GnuTLS's retrieve callback carries no user pointer). */
void sk_tls_install(sk_tls *t);
gnutls_certificate_retrieve_function2 *sk_tls_callback(void);

#endif
