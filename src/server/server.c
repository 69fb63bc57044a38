#include "spacekeeper/server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "spacekeeper/admission.h"
#include "spacekeeper/arena.h"
#include "spacekeeper/coalesce.h"
#include "spacekeeper/docs.h"
#include "spacekeeper/health.h"
#include "spacekeeper/json.h"
#include "spacekeeper/listen.h"
#include "spacekeeper/log.h"
#include "spacekeeper/metrics.h"
#include "spacekeeper/violation.h"

/* TLS 1.2 and 1.3 only, GnuTLS's normal cipher choice otherwise. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct sk_server {
    sk_server_config cfg;
    struct MHD_Daemon *daemon;
    sk_health *health;
    char *client_ca_pem;
    sk_metrics *metrics;
    long in_flight;
    int draining;
};

struct request {
    sk_hook hook;
    int reviewed; /* the engine decided: operation and verdict are set */
    sk_operation operation;
    sk_verdict verdict;
    double start;
    unsigned code;
    int replied;
    int complete; /* the whole body was read: the connection may be kept */
    size_t discarded; /* bytes past the limit, for bodies sent without a length */
    sk_buf body;
    int post;          /* answers to POST always have a body to coalesce with */
    int coalesce_fd;   /* the socket whose response is coalesced, or -1 */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    sk_log(SK_LOG_DEBUG, "http", "detail", msg, NULL); /* client misbehaviour, not ours */
}

static int draining(const sk_server *s)
{
    return __atomic_load_n(&s->draining, __ATOMIC_RELAXED);
}

static enum MHD_Result send_body(struct MHD_Connection *c, struct request *rq, unsigned code,
                                 const char *type, char *body, int close_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (code == 405)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    if (close_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (rq && rq->post) {
        const union MHD_ConnectionInfo *tls =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (tls && tls->tls_session && fd) {
            rq->coalesce_fd = fd->connect_fd;
            sk_coalesce_arm((gnutls_session_t)tls->tls_session, rq->coalesce_fd);
        }
    }
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    if (rq) {
        rq->code = code;
        rq->replied = 1;
    }
    return ok;
}

/* Errors go out as a Kubernetes Status object, which kubectl and the API
 * server know how to show. */
static enum MHD_Result reply_error(sk_server *s, struct MHD_Connection *c, struct request *rq,
                                   unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result reply_error(sk_server *s, struct MHD_Connection *c, struct request *rq,
                                   unsigned code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    static const struct {
        unsigned code;
        const char *reason;
    } reasons[] = {{400, "BadRequest"}, {403, "Forbidden"},        {404, "NotFound"},
                   {405, "MethodNotAllowed"}, {413, "RequestEntityTooLarge"},
                   {415, "UnsupportedMediaType"}, {503, "ServiceUnavailable"}};
    const char *reason = "InternalError";
    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
        if (reasons[i].code == code)
            reason = reasons[i].reason;
    json_t *st = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "apiVersion", "v1", "kind", "Status",
                           "status", "Failure", "message", msg, "reason", reason, "code", code);
    char *body = sk_json_dumps(st, JSON_COMPACT);
    json_decref(st);
    sk_log(SK_LOG_WARN, "request rejected", "path", sk_hook_path(rq->hook), "status",
           reason, "reason", msg, NULL);
    return send_body(c, rq, code, "application/json", body, !rq->complete || draining(s));
}

static int is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof want - 1) != 0)
        return 0;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ';
}

/* With --client-ca, only clients presenting a certificate it signed. */
static int peer_verified(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!info || !info->tls_session)
        return 0;
    gnutls_session_t session = (gnutls_session_t)info->tls_session;
    unsigned n = 0;
    if (!gnutls_certificate_get_peers(session, &n) || n == 0)
        return 0;
    unsigned status = 0;
    return gnutls_certificate_verify_peers2(session, &status) == 0 && status == 0;
}

static void log_decision(const sk_review *r, const sk_decision *d, sk_hook hook)
{
    char where[512];
    snprintf(where, sizeof where, "%s/%s", d->namespace, d->name);
    if (!d->allowed && hook == SK_HOOK_VALIDATE) {
        char *why = sk_violation_summary(d->violations);
        sk_log(SK_LOG_INFO, "denied", "uid", r->uid, "operation", sk_operation_name(r->req.op),
               "kind", d->kind, "object", where, "user", r->req.user, "reason", why, NULL);
        free(why);
    } else if (sk_log_enabled(SK_LOG_DEBUG)) {
        sk_log(SK_LOG_DEBUG, hook == SK_HOOK_MUTATE ? "mutated" : "allowed", "uid", r->uid,
               "operation", sk_operation_name(r->req.op), "kind", d->kind, "object", where, "user",
               r->req.user, NULL);
    }
}

static void log_connect(const sk_review *r, const sk_decision *d, const sk_connect_verdict *v)
{
    sk_log_level level = !sk_connect_notable(v) ? SK_LOG_DEBUG
                         : sk_connect_unverified(v) ? SK_LOG_WARN : SK_LOG_INFO;
    if (!sk_log_enabled(level))
        return;
    char where[512];
    snprintf(where, sizeof where, "%s/%s", d->namespace, d->name);
    sk_log(level, v->allowed ? "allowed" : "denied", "uid", r->uid, "operation",
           sk_operation_name(r->req.op), "subresource", r->sub_resource, "object", where,
           "workspace", v->workspace[0] ? v->workspace : NULL, "user", r->req.user, "reason",
           sk_connect_reason_name(v->reason), "detail", v->message, NULL);
}

/* pods/exec, attach, portforward: the CONNECT rule, which looks the pod
 * (and its workspace) up itself. */
static int review_connect(sk_server *s, struct request *rq, sk_review *r, sk_decision *d)
{
    sk_connect_verdict v;
    sk_connect_review(&s->cfg.policy, s->cfg.connect, r, &v, d);
    sk_metrics_decision(s->metrics, rq->hook, v.allowed, 0);
    if (!v.allowed)
        sk_metrics_denial(s->metrics, d->violations);
    if (sk_connect_unverified(&v))
        sk_metrics_connect_unverified(s->metrics);
    rq->reviewed = 1;
    rq->operation = r->req.op;
    rq->verdict = v.allowed ? SK_VERDICT_ALLOWED : SK_VERDICT_DENIED;
    log_connect(r, d, &v);
    sk_connect_verdict_free(&v);
    return 1;
}

/* Parse, decide, encode: all of it on the thread's arena. Returns the
 * response body (malloc'd) or NULL with *bad set to the reason for a 400. */
static char *decide(sk_server *s, struct request *rq, sk_err *bad)
{
    sk_review r;
    if (sk_review_parse(rq->body.data ? rq->body.data : "", rq->body.len, &r, bad) != SK_REVIEW_OK)
        return NULL;
    sk_decision d = {0};
    int connect = rq->hook == SK_HOOK_CONNECT;
    int reviewed = connect ? review_connect(s, rq, &r, &d) : sk_review_needs_policy(&r);
    if (reviewed && !connect) {
        r.req.scratch = (json_t *)r.req.object; /* r is ours and dropped below */
        sk_store_read_lock(s->cfg.store);
        sk_policy_review(&s->cfg.policy, s->cfg.store, &r.req, &d);
        sk_store_unlock(s->cfg.store);
        if (rq->hook == SK_HOOK_VALIDATE)
            sk_guard_template(s->cfg.guard, s->cfg.store, &r.req, &d);
        int allowed = rq->hook == SK_HOOK_MUTATE || d.allowed;
        int patched = rq->hook == SK_HOOK_MUTATE && json_array_size(d.patch) > 0;
        sk_metrics_decision(s->metrics, rq->hook, allowed, patched);
        if (!allowed)
            sk_metrics_denial(s->metrics, d.violations);
        rq->reviewed = 1;
        rq->operation = r.req.op;
        rq->verdict = patched ? SK_VERDICT_PATCHED : allowed ? SK_VERDICT_ALLOWED : SK_VERDICT_DENIED;
        log_decision(&r, &d, rq->hook);
    }
    char *body = sk_review_render(&r, reviewed ? &d : NULL,
                                  rq->hook == SK_HOOK_MUTATE ? SK_RESPOND_PATCH : SK_RESPOND_VERDICT);
    if (!body)
        sk_err_set(bad, "the response cannot be encoded as JSON");
    sk_decision_free(&d);
    sk_review_free(&r);
    return body;
}

static enum MHD_Result review(sk_server *s, struct MHD_Connection *c, struct request *rq)
{
    rq->complete = 1;
    sk_err bad;
    sk_arena_begin();
    char *body = decide(s, rq, &bad);
    sk_arena_end();
    if (!body)
        return reply_error(s, c, rq, 400, "%s", bad.msg);
    return send_body(c, rq, 200, "application/json", body, draining(s));
}

static sk_hook route(const char *url)
{
    if (strcmp(url, "/mutate") == 0)
        return SK_HOOK_MUTATE;
    if (strcmp(url, "/validate") == 0)
        return SK_HOOK_VALIDATE;
    if (strcmp(url, "/validate-pods-connect") == 0)
        return SK_HOOK_CONNECT;
    return SK_HOOK_OTHER;
}

/* First call: headers only. Checks that need no body answer at once, so an
 * oversized or misdirected upload is refused without reading it. */
static enum MHD_Result on_headers(sk_server *s, struct MHD_Connection *c, struct request *rq,
                                  const char *url, const char *method)
{
    if (rq->hook == SK_HOOK_OTHER)
        return reply_error(s, c, rq, 404, "no such path \"%s\": admission requests go to POST "
                                          "/mutate, /validate or /validate-pods-connect", url);
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return reply_error(s, c, rq, 405, "%s %s: only POST is allowed", method, url);
    if (s->client_ca_pem && !peer_verified(c))
        return reply_error(s, c, rq, 403, "a client certificate signed by the configured CA is "
                                          "required");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!is_json_type(ct))
        return reply_error(s, c, rq, 415, "Content-Type \"%s\" is not supported: send "
                                          "application/json", ct ? ct : "");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body)
        return reply_error(s, c, rq, 413, "request body of %s bytes is over the limit of %zu", cl,
                           s->cfg.max_body);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **req_cls)
{
    (void)version;
    sk_server *s = cls;
    struct request *rq = *req_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        rq->start = now();
        rq->hook = route(url);
        rq->post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        rq->coalesce_fd = -1;
        *req_cls = rq;
        __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
        sk_metrics_start(s->metrics, rq->hook);
        return on_headers(s, c, rq, url, method);
    }
    if (rq->replied) { /* refused early: discard whatever still arrives */
        *size = 0;
        return MHD_YES;
    }
    if (*size) {
        /* libmicrohttpd answers only before the body or after all of it: a
         * chunked body over the limit is discarded and answered at its end,
         * and a client that keeps streaming is cut off. */
        if (rq->discarded || rq->body.len + *size > s->cfg.max_body) {
            rq->discarded += *size;
            *size = 0;
            return rq->discarded > 4 * s->cfg.max_body ? MHD_NO : MHD_YES;
        }
        sk_buf_append(&rq->body, data, *size);
        *size = 0;
        return MHD_YES;
    }
    if (rq->discarded)
        return reply_error(s, c, rq, 413, "request body is over the limit of %zu bytes",
                           s->cfg.max_body);
    return review(s, c, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)c;
    sk_server *s = cls;
    struct request *rq = *req_cls;
    if (!rq)
        return;
    if (rq->coalesce_fd >= 0)
        sk_coalesce_done(rq->coalesce_fd, why == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    unsigned code = rq->replied ? rq->code : 500;
    if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK && !rq->replied)
        sk_log(SK_LOG_DEBUG, "request abandoned", "path", sk_hook_path(rq->hook), NULL);
    double seconds = now() - rq->start;
    sk_metrics_done(s->metrics, rq->hook, code, seconds);
    if (rq->reviewed)
        sk_metrics_review(s->metrics, rq->hook, rq->operation, rq->verdict, seconds);
    __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
    sk_buf_free(&rq->body);
    free(rq);
    *req_cls = NULL;
}

/* While draining, new connections are closed as soon as they are accepted.
 * (MHD_quiesce_daemon would be the natural call, but with an epoll thread
 * pool libmicrohttpd 0.9.75 can abort in it, racing its own workers.) */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)addr, (void)len;
    sk_server *s = cls;
    return draining(s) ? MHD_NO : MHD_YES;
}

/* ---- health and metrics ---- */

/* Ready once the templates are known (a watch has listed them) and until
 * draining begins; the other watches only say how they are. */
static int is_ready(const sk_server *s)
{
    return (!s->cfg.watch || sk_reflector_synced(s->cfg.watch)) && sk_watchset_ready(s->cfg.watches) &&
           !draining(s);
}

static int health_ready(void *ud)
{
    return is_ready(ud);
}

static void health_metrics(void *ud, sk_buf *out)
{
    sk_server *s = ud;
    sk_store_read_lock(s->cfg.store);
    sk_metrics_gauges g = {
        .templates = sk_store_count(s->cfg.store),
        .cert_not_after = (double)sk_tls_not_after(s->cfg.tls),
        .ready = is_ready(s),
        .watching = s->cfg.watch != NULL,
        .watch_restarts = s->cfg.watch ? sk_reflector_restarts(s->cfg.watch) : 0,
        .relists = s->cfg.watch ? sk_reflector_relists(s->cfg.watch) : 0,
    };
    sk_store_unlock(s->cfg.store);
    sk_metrics_render(s->metrics, out, &g);
    sk_watchset_metrics(s->cfg.watches, out);
}

static void health_detail(void *ud, sk_buf *out)
{
    const sk_server *s = ud;
    sk_watchset_describe(s->cfg.watches, out);
}

/* ---- lifecycle ---- */

static unsigned bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return info ? info->port : 0;
}

unsigned sk_server_port(const sk_server *s)
{
    return bound_port(s->daemon);
}

unsigned sk_server_health_port(const sk_server *s)
{
    return sk_health_port(s->health);
}

sk_server *sk_server_start(const sk_server_config *cfg, sk_err *err)
{
    sk_server *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->cfg = *cfg;
    if (!s->cfg.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->cfg.threads = n > 0 ? (unsigned)n : 1;
    }
    if (!s->cfg.max_body)
        s->cfg.max_body = SK_SERVER_MAX_BODY;
    if (!s->cfg.timeout_seconds)
        s->cfg.timeout_seconds = 30;
    s->metrics = sk_metrics_new();

    struct sockaddr_storage addr;
    if (sk_listen_parse(cfg->listen, &addr, err) < 0)
        goto fail;
    if (cfg->client_ca && *cfg->client_ca) {
        size_t len;
        if (!(s->client_ca_pem = sk_read_file(cfg->client_ca, &len, err)))
            goto fail;
    }
    sk_tls_install(cfg->tls);
    unsigned flags = MHD_USE_TLS | MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->cfg.threads, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->cfg.timeout_seconds, NULL},
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)sk_tls_callback()},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 4096, NULL},
        {s->client_ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, s->client_ca_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, 0, on_accept, s, on_request, s, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        sk_err_set(err, "cannot serve HTTPS on %s (address in use, or TLS setup failed)", cfg->listen);
        goto fail;
    }
    if (cfg->health_listen && *cfg->health_listen) {
        static const sk_health_ops health_ops = {health_ready, health_metrics, health_detail};
        if (!(s->health = sk_health_start(cfg->health_listen, &health_ops, s, err)))
            goto fail;
    }
    return s;
fail:
    sk_server_free(s);
    return NULL;
}

void sk_server_tick(sk_server *s)
{
    sk_err err;
    int rc = sk_tls_reload(s->cfg.tls, &err);
    if (rc == 0)
        return;
    sk_metrics_cert_reload(s->metrics, rc > 0);
    if (rc > 0) {
        char until[32];
        time_t t = sk_tls_not_after(s->cfg.tls);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
        sk_log(SK_LOG_INFO, "certificate reloaded", "not_after", until, NULL);
    } else {
        sk_log(SK_LOG_WARN, "certificate not reloaded yet; still serving the previous one",
               "reason", err.msg, NULL);
    }
}

void sk_server_drain(sk_server *s, double grace_seconds)
{
    __atomic_store_n(&s->draining, 1, __ATOMIC_RELAXED);
    /* Requests already on the wire still reach a handler: give them a
     * moment to register before counting what is in flight. */
    double deadline = now() + grace_seconds, settle = now() + 0.2;
    while (now() < deadline &&
           (now() < settle || __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED) > 0))
        usleep(10000);
    long left = __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED);
    char n[32];
    snprintf(n, sizeof n, "%ld", left);
    sk_log(left ? SK_LOG_WARN : SK_LOG_INFO, "drained", "unfinished_requests", n, NULL);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}

void sk_server_free(sk_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    sk_health_free(s->health);
    sk_metrics_free(s->metrics);
    free(s->client_ca_pem);
    free(s);
}
