/* Development and bootstrap certificates (OpenSSL): a CA and a serving
 * certificate signed by it, with the SANs the API server will check. */
#ifndef SPACEKEEPER_CERTS_H
#define SPACEKEEPER_CERTS_H

#include "spacekeeper/err.h"

typedef struct sk_certs_request {
    const char *out_dir;         /* writes ca.crt, ca.key, tls.crt, tls.key */
    const char *const *dns;      /* NULL-terminated; the first is the subject CN */
    const char *const *ips;      /* NULL-terminated; may be empty */
    int days;
    int reuse_ca;                /* sign with an existing ca.crt/ca.key in out_dir */
} sk_certs_request;

int sk_certs_generate(const sk_certs_request *req, sk_err *err);

#endif
