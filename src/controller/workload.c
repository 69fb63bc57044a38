#include "spacekeeper/workload.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spacekeeper/json.h"
#include "spacekeeper/timeutil.h"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A string or an integer, as text ("8888" or "http"). */
static char *int_or_string(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        sk_buf b = SK_BUF_INIT;
        sk_buf_printf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return sk_buf_steal(&b);
    }
    return NULL;
}

/* The first reason an enabled workspace cannot be probed; the later ones
 * would only repeat it. */
static void set_problem(sk_workspace *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_problem(sk_workspace *w, const char *fmt, ...)
{
    if (w->problem)
        return;
    char msg[SK_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->problem = strdup(msg);
}

#define HTTP_GET "spec.idleShutdown.detection.httpGet"

/* How the workspace operator reaches the endpoint. Either way the
 * controller probes the pod over the network (no pods/exec, no curl in the
 * image); anything else is a detection the operator would not accept. */
static const char *const TRANSPORTS[] = {"podExec", "network"};

static void check_transport(sk_workspace *w, const json_t *get)
{
    const json_t *t = json_object_get(get, "transport");
    if (!t)
        return;
    for (size_t i = 0; i < sizeof TRANSPORTS / sizeof *TRANSPORTS; i++)
        if (json_is_string(t) && strcmp(json_string_value(t), TRANSPORTS[i]) == 0)
            return;
    set_problem(w, HTTP_GET ".transport must be podExec or network");
}

/* RFC 9110 token characters. */
static int header_name_ok(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!s[i] || (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i])))
            return 0;
    return 1;
}

/* Visible characters, spaces and tabs: nothing that would end the line. */
static int header_value_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return 0;
    return 1;
}

static void decode_headers(sk_workspace *w, const json_t *get)
{
    const json_t *list = json_object_get(get, "httpHeaders");
    if (!list)
        return;
    if (!json_is_array(list))
        return set_problem(w, HTTP_GET ".httpHeaders must be a list of {name, value}");
    size_t n = json_array_size(list), i;
    w->headers = calloc(n ? n : 1, sizeof *w->headers);
    if (!w->headers)
        abort();
    const json_t *h;
    json_array_foreach(list, i, h) {
        const json_t *name = json_object_get(h, "name"), *value = json_object_get(h, "value");
        if (!json_is_string(name) || !header_name_ok(json_string_value(name), json_string_length(name)))
            return set_problem(w, HTTP_GET ".httpHeaders[%zu].name must be an HTTP header name (letters, digits "
                               "and !#$%%&'*+-.^_`|~)", i);
        if (!json_is_string(value) || !header_value_ok(json_string_value(value), json_string_length(value)))
            return set_problem(w, HTTP_GET ".httpHeaders[%zu].value must be a string without control characters", i);
        w->headers[w->nheaders++] = (sk_probe_header){strdup(json_string_value(name)),
                                                      strdup(json_string_value(value))};
    }
}

/* The timeout in the page's spelling or the operator's; both at once must
 * agree, since the controller cannot tell which one the user meant. */
static const char *const TIMEOUT_SPELLINGS[] = {"idleShutdownTimeoutMinutes", "idleTimeoutInMinutes"};

static void decode_timeout(sk_workspace *w, const json_t *idle)
{
    const char *first = NULL;
    for (size_t i = 0; i < sizeof TIMEOUT_SPELLINGS / sizeof *TIMEOUT_SPELLINGS; i++) {
        const char *spelling = TIMEOUT_SPELLINGS[i];
        const json_t *minutes = json_object_get(idle, spelling);
        if (!minutes)
            continue;
        if (!json_is_number(minutes) || json_number_value(minutes) < 1)
            return set_problem(w, "spec.idleShutdown.%s must be a number of at least 1", spelling);
        double seconds = json_number_value(minutes) * 60;
        if (first && seconds != w->timeout)
            return set_problem(w, "spec.idleShutdown.%s (%g) and spec.idleShutdown.%s (%g) disagree", first,
                               w->timeout / 60, spelling, seconds / 60);
        first = first ? first : spelling;
        w->timeout = seconds;
    }
    if (!first)
        set_problem(w, "spec.idleShutdown.idleShutdownTimeoutMinutes (or idleTimeoutInMinutes) is missing");
}

/* The endpoint's path under the application's routing prefix, as the
 * workspace operator resolves it: status.applicationBasePath (set when an
 * access strategy serves the workspace under /workspaces/<ns>/<name>/),
 * then httpGet.path, one slash between them. */
static char *probe_path(const char *base, const char *path)
{
    sk_buf b = SK_BUF_INIT;
    if (!base || !*base || strcmp(base, "/") == 0) {
        sk_buf_puts(&b, path && *path ? path : "/");
        return sk_buf_steal(&b);
    }
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    sk_buf_append(&b, base, n);
    sk_buf_putc(&b, '/');
    if (path) {
        while (*path == '/')
            path++;
        sk_buf_puts(&b, path);
    }
    return sk_buf_steal(&b);
}

static void decode_detection(sk_workspace *w, const json_t *idle, const char *base)
{
    const json_t *get = sk_json_get(idle, "detection", "httpGet", NULL);
    if (!json_is_object(get))
        return set_problem(w, HTTP_GET " is missing");
    const char *scheme = sk_json_str(get, "scheme", NULL);
    if (!scheme || strcasecmp(scheme, "http") == 0)
        w->scheme = strdup("http");
    else if (strcasecmp(scheme, "https") == 0)
        w->scheme = strdup("https");
    else
        set_problem(w, HTTP_GET ".scheme must be HTTP or HTTPS");
    if (!(w->port = int_or_string(json_object_get(get, "port"))) || !*w->port)
        set_problem(w, HTTP_GET ".port is missing");
    const char *path = sk_json_str(get, "path", NULL);
    w->path = probe_path(base, path);
    const json_t *ts = json_object_get(get, "lastActivityTimestamp");
    const char *body_path = sk_json_str(ts, "responseBodyPath", NULL);
    w->body_path = strdup(body_path && *body_path ? body_path : "lastActiveTimestamp");
    const char *format = sk_json_str(ts, "format", NULL);
    if (!format)
        w->format = SK_TS_AUTO;
    else if (strcasecmp(format, "RFC3339") == 0)
        w->format = SK_TS_RFC3339;
    else if (strcasecmp(format, "unix") == 0)
        w->format = SK_TS_UNIX;
    else
        set_problem(w, HTTP_GET ".lastActivityTimestamp.format must be RFC3339 or unix");
    check_transport(w, get);
    decode_headers(w, get);
}

sk_workspace *sk_workspace_decode(const json_t *obj)
{
    const char *name = sk_json_str(obj, "metadata", "name", NULL);
    if (!name)
        return NULL;
    sk_workspace *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->ns = strdup(sk_json_str(obj, "metadata", "namespace", NULL) ?: "");
    w->name = strdup(name);
    w->uid = dup_or_null(sk_json_str(obj, "metadata", "uid", NULL));
    w->rv = strdup(sk_json_str(obj, "metadata", "resourceVersion", NULL) ?: "");
    const char *desired = sk_json_str(obj, "spec", "desiredStatus", NULL);
    w->running = !desired || strcmp(desired, "Running") == 0;
    const json_t *idle = sk_json_get(obj, "spec", "idleShutdown", NULL);
    w->enabled = json_is_true(json_object_get(idle, "enabled"));
    if (!w->enabled)
        return w;
    decode_timeout(w, idle);
    decode_detection(w, idle, sk_json_str(obj, "status", "applicationBasePath", NULL));
    return w;
}

sk_workspace *sk_workspace_dup(const sk_workspace *w)
{
    sk_workspace *d = malloc(sizeof *d);
    if (!d)
        abort();
    *d = *w;
    d->ns = strdup(w->ns), d->name = strdup(w->name), d->rv = strdup(w->rv);
    d->uid = dup_or_null(w->uid), d->scheme = dup_or_null(w->scheme), d->port = dup_or_null(w->port);
    d->path = dup_or_null(w->path), d->body_path = dup_or_null(w->body_path);
    d->problem = dup_or_null(w->problem);
    d->headers = calloc(w->nheaders ? w->nheaders : 1, sizeof *d->headers);
    if (!d->headers)
        abort();
    for (size_t i = 0; i < w->nheaders; i++)
        d->headers[i] = (sk_probe_header){strdup(w->headers[i].name), strdup(w->headers[i].value)};
    return d;
}

void sk_workspace_free(sk_workspace *w)
{
    if (!w)
        return;
    free(w->ns), free(w->name), free(w->uid), free(w->rv);
    free(w->scheme), free(w->port), free(w->path), free(w->body_path), free(w->problem);
    for (size_t i = 0; i < w->nheaders; i++)
        free(w->headers[i].name), free(w->headers[i].value);
    free(w->headers);
    free(w);
}

int sk_workspace_in_scope(const sk_workspace *w)
{
    return w->running && w->enabled;
}

static double condition_since(const json_t *conditions, const char *type, int *is_true)
{
    size_t i;
    const json_t *c;
    json_array_foreach(conditions, i, c) {
        const char *t = sk_json_str(c, "type", NULL);
        if (!t || strcmp(t, type) != 0)
            continue;
        const char *st = sk_json_str(c, "status", NULL);
        *is_true = st && strcmp(st, "True") == 0;
        const char *when = sk_json_str(c, "lastTransitionTime", NULL);
        double t_ready = 0;
        if (when && sk_time_parse_rfc3339(when, &t_ready, NULL) < 0)
            t_ready = 0;
        return t_ready;
    }
    *is_true = 0;
    return 0;
}

sk_pod *sk_pod_decode(const json_t *obj)
{
    const char *name = sk_json_str(obj, "metadata", "name", NULL);
    const char *ws = sk_json_str(obj, "metadata", "labels", SK_WORKSPACE_LABEL, NULL);
    if (!name || !ws)
        return NULL;
    sk_pod *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->ns = strdup(sk_json_str(obj, "metadata", "namespace", NULL) ?: "");
    p->name = strdup(name);
    sk_buf g = SK_BUF_INIT;
    sk_buf_printf(&g, "%s/%s", p->ns, ws);
    p->group = sk_buf_steal(&g);
    const char *ip = sk_json_str(obj, "status", "podIP", NULL);
    p->ip = ip && *ip ? strdup(ip) : NULL;
    const char *phase = sk_json_str(obj, "status", "phase", NULL);
    p->running = phase && strcmp(phase, "Running") == 0;
    p->deleting = sk_json_get(obj, "metadata", "deletionTimestamp", NULL) != NULL;
    p->ready_since = condition_since(sk_json_get(obj, "status", "conditions", NULL), "Ready", &p->ready);

    size_t i, j, n = 0;
    const json_t *c, *port;
    const json_t *containers = sk_json_get(obj, "spec", "containers", NULL);
    json_array_foreach(containers, i, c) n += json_array_size(json_object_get(c, "ports"));
    p->ports = calloc(n ? n : 1, sizeof *p->ports);
    if (!p->ports)
        abort();
    json_array_foreach(containers, i, c) {
        json_array_foreach(json_object_get(c, "ports"), j, port) {
            const char *pname = sk_json_str(port, "name", NULL);
            json_int_t number = json_integer_value(json_object_get(port, "containerPort"));
            if (pname && number > 0)
                p->ports[p->nports++] = (sk_pod_port){strdup(pname), (long)number};
        }
    }
    return p;
}

void sk_pod_free(sk_pod *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nports; i++)
        free(p->ports[i].name);
    free(p->ports);
    free(p->ns), free(p->name), free(p->group), free(p->ip);
    free(p);
}

int sk_pod_probeable(const sk_pod *p)
{
    return p->running && p->ready && p->ip && !p->deleting;
}

static long resolve_port(const sk_workspace *w, const sk_pod *p, sk_err *err)
{
    char *end;
    long n = strtol(w->port, &end, 10);
    if (isdigit((unsigned char)w->port[0]) && !*end)
        return n >= 1 && n <= 65535 ? n : sk_err_set(err, "port %s is out of range", w->port);
    for (size_t i = 0; i < p->nports; i++)
        if (strcmp(p->ports[i].name, w->port) == 0)
            return p->ports[i].port;
    return sk_err_set(err, "pod %s has no container port named \"%s\"", p->name, w->port);
}

int sk_idle_probe_url(const sk_workspace *w, const sk_pod *p, sk_buf *url, sk_err *err)
{
    if (w->problem)
        return sk_err_set(err, "%s", w->problem);
    long port = resolve_port(w, p, err);
    if (port < 0)
        return -1;
    int v6 = strchr(p->ip, ':') != NULL;
    sk_buf_printf(url, "%s://%s%s%s:%ld%s%s", w->scheme, v6 ? "[" : "", p->ip, v6 ? "]" : "", port,
                  w->path[0] == '/' ? "" : "/", w->path);
    return 0;
}

/* Follows a dotted path ("status.lastActive") through objects. */
static const json_t *at_dotted(const json_t *root, const char *path)
{
    const json_t *v = root;
    const char *p = path;
    while (v && *p) {
        size_t n = strcspn(p, ".");
        v = json_is_object(v) ? json_object_getn(v, p, n) : NULL;
        p += n + (p[n] == '.');
    }
    return v;
}

static int parse_timestamp(const json_t *v, sk_ts_format format, double *out, sk_err *err)
{
    if (json_is_number(v)) {
        if (format == SK_TS_RFC3339)
            return sk_err_set(err, "expected an RFC 3339 time, got a number");
        *out = json_number_value(v);
        return *out >= 0 ? 0 : sk_err_set(err, "a negative Unix time");
    }
    if (!json_is_string(v))
        return sk_err_set(err, "expected a time, got %s", sk_json_type_name(v));
    const char *s = json_string_value(v);
    if (format == SK_TS_UNIX)
        return sk_time_parse_unix(s, out, err);
    if (format == SK_TS_RFC3339 || !isdigit((unsigned char)s[0]) || strchr(s, '-'))
        return sk_time_parse_rfc3339(s, out, err);
    return sk_time_parse_unix(s, out, err);
}

int sk_idle_parse_answer(const sk_workspace *w, const char *body, size_t len, double *last_active,
                         sk_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return sk_err_set(err, "the answer is not JSON: %s", jerr.text);
    const json_t *v = at_dotted(doc, w->body_path);
    int rc;
    sk_err why;
    if (!v)
        rc = sk_err_set(err, "the answer has no %s", w->body_path);
    else if ((rc = parse_timestamp(v, w->format, last_active, &why)) < 0)
        sk_err_set(err, "%s in the answer: %s", w->body_path, why.msg);
    json_decref(doc);
    return rc;
}

double sk_idle_since(double last_active, double ready_since, double now)
{
    double since = last_active > ready_since ? last_active : ready_since;
    return since > now ? now : since;
}
