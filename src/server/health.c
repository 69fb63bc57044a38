#include "spacekeeper/health.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/listen.h"
#include "spacekeeper/log.h"

struct sk_health {
    struct MHD_Daemon *daemon;
    sk_health_ops ops;
    void *ud;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    sk_log(SK_LOG_DEBUG, "http", "detail", msg, NULL); /* client misbehaviour, not ours */
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (code == 405)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **req_cls)
{
    (void)version, (void)data, (void)size, (void)req_cls;
    sk_health *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(c, 405, "text/plain", strdup("only GET\n"));
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0)
        return reply(c, 200, "text/plain", strdup("ok\n"));
    if (strcmp(url, "/readyz") == 0) {
        int ready = h->ops.ready(h->ud);
        sk_buf out = SK_BUF_INIT;
        sk_buf_puts(&out, ready ? "ok\n" : "not ready\n");
        if (h->ops.detail)
            h->ops.detail(h->ud, &out);
        return reply(c, ready ? 200 : 503, "text/plain", sk_buf_steal(&out));
    }
    if (strcmp(url, "/metrics") == 0) {
        sk_buf out = SK_BUF_INIT;
        h->ops.metrics(h->ud, &out);
        return reply(c, 200, "text/plain; version=0.0.4", sk_buf_steal(&out));
    }
    return reply(c, 404, "text/plain", strdup("not found: try /healthz, /readyz or /metrics\n"));
}

sk_health *sk_health_start(const char *listen, const sk_health_ops *ops, void *ud, sk_err *err)
{
    struct sockaddr_storage addr;
    if (sk_listen_parse(listen, &addr, err) < 0)
        return NULL;
    sk_health *h = calloc(1, sizeof *h);
    if (!h)
        abort();
    h->ops = *ops;
    h->ud = ud;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &addr,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_EXTERNAL_LOGGER,
                                 mhd_log, NULL, MHD_OPTION_END);
    if (!h->daemon) {
        free(h);
        sk_err_set(err, "cannot serve health checks on %s (address in use?)", listen);
        return NULL;
    }
    return h;
}

unsigned sk_health_port(const sk_health *h)
{
    const union MHD_DaemonInfo *info = h ? MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return info ? info->port : 0;
}

void sk_health_free(sk_health *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
