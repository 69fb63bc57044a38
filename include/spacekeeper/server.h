/* spacekeeper serve: AdmissionReview over HTTPS (libmicrohttpd + GnuTLS),
 * health and metrics over plain HTTP on a second port. */
#ifndef SPACEKEEPER_SERVER_H
#define SPACEKEEPER_SERVER_H

#include <stddef.h>

#include "spacekeeper/connect.h"
#include "spacekeeper/err.h"
#include "spacekeeper/policy.h"
#include "spacekeeper/reflector.h"
#include "spacekeeper/template_guard.h"
#include "spacekeeper/tls.h"
#include "spacekeeper/watchset.h"

#define SK_SERVER_MAX_BODY (3u << 20) /* the API server's own request limit */

typedef struct sk_server_config {
    const char *listen;         /* "ADDR:PORT", "[v6]:PORT" */
    const char *health_listen;  /* the same; NULL or "" for none */
    const char *client_ca;      /* PEM file: require client certificates it signed */
    sk_tls *tls;                /* borrowed */
    unsigned threads;           /* 0: one per core */
    size_t max_body;            /* bytes */
    unsigned timeout_seconds;   /* a connection idle this long is closed */
    sk_policy_config policy;
    const sk_store *store;      /* borrowed; read under its lock per decision */
    const sk_reflector *watch;  /* borrowed; NULL when templates come from files */
    /* borrowed: where /validate-pods-connect finds pods and workspaces;
     * NULL without API access (every CONNECT is then allowed) */
    const sk_connect_lookups *connect;
    const sk_watchset *watches; /* borrowed: every watch, for /readyz and /metrics; may be NULL */
    const sk_guard *guard;      /* borrowed: template UPDATE warnings, DELETE refusals; may be NULL */
} sk_server_config;

typedef struct sk_server sk_server;

sk_server *sk_server_start(const sk_server_config *cfg, sk_err *err);
/* Periodic housekeeping (once a second): certificate reloads. */
void sk_server_tick(sk_server *s);
/* Graceful stop: refuse new connections, answer what is in flight (up to
 * grace_seconds), then close everything. */
void sk_server_drain(sk_server *s, double grace_seconds);
void sk_server_free(sk_server *s);

/* Port actually bound (useful with port 0). */
unsigned sk_server_port(const sk_server *s);
unsigned sk_server_health_port(const sk_server *s);

#endif
