#include "spacekeeper/kube.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/docs.h"
#include "spacekeeper/json.h"
#include "spacekeeper/log.h"
#include "spacekeeper/json_decode.h"

#define CONNECT_TIMEOUT_S 5L
#define REQUEST_TIMEOUT_S 30L

struct sk_kube {
    sk_kube_config cfg;
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t token_lock;
    char *token;            /* current bearer token */
    struct timespec token_mtime;
    ino_t token_ino;
    off_t token_size;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h, (void)access;
    pthread_mutex_lock(&((sk_kube *)ud)->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    pthread_mutex_unlock(&((sk_kube *)ud)->share_locks[data]);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

sk_kube *sk_kube_new(const sk_kube_config *cfg, sk_err *err)
{
    if (!cfg->server || strncmp(cfg->server, "https://", 8) != 0)
        return sk_err_set(err, "API server \"%s\" must be an https:// URL", cfg->server ? cfg->server : ""),
               NULL;
    pthread_once(&curl_once, curl_setup);
    sk_kube *k = calloc(1, sizeof *k);
    if (!k)
        abort();
    k->cfg = (sk_kube_config){
        .server = strdup(cfg->server),
        .ca_file = dup_or_null(cfg->ca_file),
        .ca_pem = dup_or_null(cfg->ca_pem),
        .cert_file = dup_or_null(cfg->cert_file),
        .key_file = dup_or_null(cfg->key_file),
        .cert_pem = dup_or_null(cfg->cert_pem),
        .key_pem = dup_or_null(cfg->key_pem),
        .token = dup_or_null(cfg->token),
        .token_file = dup_or_null(cfg->token_file),
        .insecure = cfg->insecure,
        .namespace = dup_or_null(cfg->namespace),
        .timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : REQUEST_TIMEOUT_S * 1000,
    };
    size_t n = strlen(k->cfg.server); /* "https://h:p/" -> "https://h:p" */
    while (n > 8 && k->cfg.server[n - 1] == '/')
        k->cfg.server[--n] = '\0';
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&k->share_locks[i], NULL);
    pthread_mutex_init(&k->token_lock, NULL);
    k->share = curl_share_init();
    curl_share_setopt(k->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(k->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(k->share, CURLSHOPT_USERDATA, k);
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    return k;
}

void sk_kube_free(sk_kube *k)
{
    if (!k)
        return;
    curl_share_cleanup(k->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&k->share_locks[i]);
    pthread_mutex_destroy(&k->token_lock);
    free(k->token);
    sk_kube_config_free(&k->cfg);
    free(k);
}

/* The bearer token: fixed, or from a file re-read whenever it changes
 * (projected service-account tokens rotate every hour). `force` re-reads
 * it after a 401. Returns a malloc'd copy or NULL. */
static char *current_token(sk_kube *k, int force)
{
    if (!k->cfg.token_file)
        return dup_or_null(k->cfg.token);
    pthread_mutex_lock(&k->token_lock);
    struct stat st;
    if (stat(k->cfg.token_file, &st) == 0 &&
        (force || !k->token || st.st_ino != k->token_ino || st.st_size != k->token_size ||
         st.st_mtim.tv_sec != k->token_mtime.tv_sec || st.st_mtim.tv_nsec != k->token_mtime.tv_nsec)) {
        size_t len;
        char *t = sk_read_file(k->cfg.token_file, &len, NULL);
        if (t) {
            t[strcspn(t, " \r\n")] = '\0';
            free(k->token);
            k->token = t;
            k->token_ino = st.st_ino;
            k->token_size = st.st_size;
            k->token_mtime = st.st_mtim;
        }
    }
    char *copy = dup_or_null(k->token);
    pthread_mutex_unlock(&k->token_lock);
    return copy;
}

static void set_blob(CURL *h, CURLoption opt, const char *pem)
{
    struct curl_blob blob = {(void *)pem, strlen(pem), CURL_BLOB_COPY};
    curl_easy_setopt(h, opt, &blob);
}

static CURL *new_handle(sk_kube *k, const char *method, const char *path, const char *query,
                        struct curl_slist **headers, const char *content_type, int force_token)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    sk_buf url = SK_BUF_INIT;
    sk_buf_printf(&url, "%s%s%s%s", k->cfg.server, path,
                  query && *query ? (strchr(path, '?') ? "&" : "?") : "", query ? query : "");
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    sk_buf_free(&url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_SHARE, k->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "spacekeeper");
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (k->cfg.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (k->cfg.ca_pem) {
        set_blob(h, CURLOPT_CAINFO_BLOB, k->cfg.ca_pem);
    } else if (k->cfg.ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, k->cfg.ca_file);
    }
    if (k->cfg.cert_pem)
        set_blob(h, CURLOPT_SSLCERT_BLOB, k->cfg.cert_pem);
    else if (k->cfg.cert_file)
        curl_easy_setopt(h, CURLOPT_SSLCERT, k->cfg.cert_file);
    if (k->cfg.key_pem)
        set_blob(h, CURLOPT_SSLKEY_BLOB, k->cfg.key_pem);
    else if (k->cfg.key_file)
        curl_easy_setopt(h, CURLOPT_SSLKEY, k->cfg.key_file);

    *headers = curl_slist_append(NULL, "Accept: application/json");
    if (content_type) {
        sk_buf ct = SK_BUF_INIT;
        sk_buf_printf(&ct, "Content-Type: %s", content_type);
        *headers = curl_slist_append(*headers, ct.data);
        sk_buf_free(&ct);
    }
    char *token = current_token(k, force_token);
    if (token) {
        sk_buf auth = SK_BUF_INIT;
        sk_buf_printf(&auth, "Authorization: Bearer %s", token);
        *headers = curl_slist_append(*headers, auth.data);
        memset(auth.data, 0, auth.len);
        sk_buf_free(&auth);
        memset(token, 0, strlen(token));
        free(token);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
    return h;
}

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    sk_buf_append(ud, data, size * n);
    return size * n;
}

/* "409 Conflict: the object has been modified; ..." from a Status body. */
static void status_error(long status, const json_t *body, const char *raw, sk_err *err)
{
    const char *msg = sk_json_str(body, "message", NULL);
    const char *reason = sk_json_str(body, "reason", NULL);
    sk_err_set(err, "API server answered %ld%s%s: %s", status, reason ? " " : "", reason ? reason : "",
               msg ? msg : raw && *raw ? raw : "(no message)");
}

static long perform(sk_kube *k, const char *method, const char *path, const char *query,
                    const char *content_type, const json_t *body, json_t **out, sk_err *err)
{
    char *payload = body ? sk_json_dumps(body, JSON_COMPACT) : NULL;
    long status = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct curl_slist *headers = NULL;
        CURL *h = new_handle(k, method, path, query, &headers, content_type, attempt > 0);
        sk_buf resp = SK_BUF_INIT;
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, k->cfg.timeout_ms);
        if (k->cfg.timeout_ms < CONNECT_TIMEOUT_S * 1000)
            curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, k->cfg.timeout_ms);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
        if (payload)
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        CURLcode rc = curl_easy_perform(h);
        status = -1;
        if (rc != CURLE_OK)
            sk_err_set(err, "%s %s%s: %s", method, k->cfg.server, path, curl_easy_strerror(rc));
        else
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
        curl_slist_free_all(headers);
        json_t *parsed = status > 0 && resp.len ? sk_json_loadb(resp.data, resp.len, 0, NULL) : NULL;
        if (status >= 400)
            status_error(status, parsed, resp.data, err);
        sk_buf_free(&resp);
        /* a 401 may be a token that rotated a moment ago: re-read it once */
        if (status == 401 && attempt == 0 && k->cfg.token_file) {
            json_decref(parsed);
            continue;
        }
        if (out)
            *out = parsed;
        else
            json_decref(parsed);
        break;
    }
    free(payload);
    return status;
}

long sk_kube_get(sk_kube *k, const char *path, json_t **out, sk_err *err)
{
    return perform(k, "GET", path, NULL, NULL, NULL, out, err);
}

long sk_kube_list(sk_kube *k, const char *path, unsigned limit, const char *cont, json_t **out,
                  sk_err *err)
{
    sk_buf q = SK_BUF_INIT;
    if (limit)
        sk_buf_printf(&q, "limit=%u", limit);
    if (cont && *cont) {
        char *esc = curl_easy_escape(NULL, cont, 0);
        sk_buf_printf(&q, "%scontinue=%s", q.len ? "&" : "", esc);
        curl_free(esc);
    }
    long st = perform(k, "GET", path, q.data, NULL, NULL, out, err);
    sk_buf_free(&q);
    return st;
}

long sk_kube_list_pages(sk_kube *k, const char *path, unsigned limit, sk_kube_page_fn fn, void *ud,
                        const int *stop, char *rv, size_t rv_cap, sk_err *err)
{
    char *cont = NULL;
    int first = 1;
    long st;
    for (;;) {
        json_t *page = NULL;
        st = sk_kube_list(k, path, limit, cont, &page, err);
        if (st == 410 && cont) { /* the snapshot behind the token is gone: start over */
            free(cont);
            cont = NULL;
            first = 1;
            json_decref(page);
            continue;
        }
        if (st != 200) {
            json_decref(page);
            break;
        }
        int ended = fn(ud, json_object_get(page, "items"), first);
        first = 0;
        const char *next = sk_json_str(page, "metadata", "continue", NULL);
        free(cont);
        cont = next && *next ? strdup(next) : NULL;
        const char *page_rv = sk_json_str(page, "metadata", "resourceVersion", NULL);
        if (!cont && rv && rv_cap)
            snprintf(rv, rv_cap, "%s", page_rv ? page_rv : "");
        json_decref(page);
        if (!cont)
            break;
        if (ended || (stop && __atomic_load_n(stop, __ATOMIC_RELAXED))) {
            st = 0;
            break;
        }
    }
    free(cont);
    return st;
}

static int collect_page(void *ud, const json_t *items, int first)
{
    if (first)
        json_array_clear(ud);
    json_array_extend(ud, (json_t *)items);
    return 0;
}

long sk_kube_list_all(sk_kube *k, const char *path, unsigned limit, const int *stop, json_t **items,
                      char *rv, size_t rv_cap, sk_err *err)
{
    json_t *all = json_array();
    long st = sk_kube_list_pages(k, path, limit, collect_page, all, stop, rv, rv_cap, err);
    if (st == 200)
        *items = all;
    else
        json_decref(all);
    return st;
}

long sk_kube_create(sk_kube *k, const char *path, const json_t *obj, json_t **out, sk_err *err)
{
    return perform(k, "POST", path, NULL, "application/json", obj, out, err);
}

long sk_kube_update(sk_kube *k, const char *path, const json_t *obj, json_t **out, sk_err *err)
{
    return perform(k, "PUT", path, NULL, "application/json", obj, out, err);
}

long sk_kube_delete(sk_kube *k, const char *path, sk_err *err)
{
    return perform(k, "DELETE", path, NULL, NULL, NULL, NULL, err);
}

long sk_kube_patch(sk_kube *k, const char *path, sk_kube_patch_type type, const json_t *patch,
                   json_t **out, sk_err *err)
{
    return perform(k, "PATCH", path, NULL,
                   type == SK_KUBE_JSON_PATCH ? "application/json-patch+json"
                                              : "application/merge-patch+json",
                   patch, out, err);
}

long sk_kube_event(sk_kube *k, const json_t *involved, const char *type, const char *reason,
                   const char *message, const char *component, sk_err *err)
{
    const char *ns = sk_json_str(involved, "metadata", "namespace", NULL);
    const char *name = sk_json_str(involved, "metadata", "name", NULL);
    if (!ns || !name)
        return sk_err_set(err, "an event needs an object with a namespace and a name");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *ev = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:s?, s:s?, s:s, s:s, s:s?}, s:s, s:s, s:s, s:{s:s}, s:s,"
        " s:s, s:i}",
        "apiVersion", "v1", "kind", "Event", "metadata", "generateName", name, "namespace", ns,
        "involvedObject", "apiVersion", sk_json_str(involved, "apiVersion", NULL), "kind",
        sk_json_str(involved, "kind", NULL), "namespace", ns, "name", name, "uid",
        sk_json_str(involved, "metadata", "uid", NULL), "type", type, "reason", reason, "message",
        message, "source", "component", component, "firstTimestamp", when, "lastTimestamp", when,
        "count", 1);
    if (name[strlen(name) - 1] != '-') { /* generateName wants a separator */
        sk_buf gn = SK_BUF_INIT;
        sk_buf_printf(&gn, "%s.", name);
        json_object_set_new(json_object_get(ev, "metadata"), "generateName", json_string(gn.data));
        sk_buf_free(&gn);
    }
    sk_buf path = SK_BUF_INIT;
    sk_buf_printf(&path, "/api/v1/namespaces/%s/events", ns);
    long st = sk_kube_create(k, path.data, ev, NULL, err);
    sk_buf_free(&path);
    json_decref(ev);
    return st;
}

void sk_kube_event_about(sk_kube *k, const char *api_version, const char *kind, const char *ns,
                         const char *name, const char *uid, const char *type, const char *reason,
                         const char *message, const char *component)
{
    json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:s?}}", "apiVersion", api_version, "kind", kind,
                            "metadata", "namespace", ns, "name", name, "uid", uid);
    sk_err err;
    long st = sk_kube_event(k, obj, type, reason, message, component, &err);
    if (st != 201 && st != 200)
        sk_log(SK_LOG_WARN, "event not recorded", "kind", kind, "name", name, "reason", err.msg, NULL);
    json_decref(obj);
}

/* ---- watch ---- */

struct watch_state {
    CURL *h;
    sk_buf line;
    sk_buf error_body;
    sk_kube_watch_fn fn;
    void *ud;
    const int *stop;
    int stopped_by_fn;
    long status;
};

static size_t on_stream(char *data, size_t size, size_t n, void *p)
{
    struct watch_state *w = p;
    size_t len = size * n;
    if (!w->status)
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
    if (w->status != 200) { /* a Status object explaining the refusal */
        sk_buf_append(&w->error_body, data, len);
        return len;
    }
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n') {
            sk_buf_append(&w->line, data + i, 1);
            continue;
        }
        json_t *ev = w->line.len ? sk_json_loadb(w->line.data, w->line.len, 0, NULL) : NULL;
        sk_buf_reset(&w->line);
        const char *type = sk_json_str(ev, "type", NULL);
        json_t *obj = json_object_get(ev, "object");
        int stop = type && obj ? w->fn(w->ud, type, obj) : 0;
        json_decref(ev);
        if (stop || (w->stop && __atomic_load_n(w->stop, __ATOMIC_RELAXED))) {
            w->stopped_by_fn = 1;
            return 0; /* ends the transfer */
        }
    }
    return len;
}

static int on_progress(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct watch_state *w = p;
    return w->stop && __atomic_load_n(w->stop, __ATOMIC_RELAXED);
}

long sk_kube_watch(sk_kube *k, const char *path, const char *resource_version,
                   unsigned timeout_seconds, sk_kube_watch_fn fn, void *ud, const int *stop,
                   sk_err *err)
{
    sk_buf q = SK_BUF_INIT;
    sk_buf_printf(&q, "watch=1&allowWatchBookmarks=true&timeoutSeconds=%u", timeout_seconds);
    if (resource_version && *resource_version) {
        char *esc = curl_easy_escape(NULL, resource_version, 0);
        sk_buf_printf(&q, "&resourceVersion=%s", esc);
        curl_free(esc);
    }
    struct curl_slist *headers = NULL;
    struct watch_state w = {.fn = fn, .ud = ud, .stop = stop};
    w.h = new_handle(k, "GET", path, q.data, &headers, NULL, 0);
    sk_buf_free(&q);
    curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(w.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(w.h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(w.h, CURLOPT_XFERINFODATA, &w);
    /* The server ends the watch after timeoutSeconds; the hard timeout is a
     * backstop. A peer that vanished without closing (node lost, network
     * partition) is found by TCP keepalives within about a minute. */
    curl_easy_setopt(w.h, CURLOPT_TIMEOUT, (long)timeout_seconds + 30);
    curl_easy_setopt(w.h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(w.h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(w.h, CURLOPT_TCP_KEEPINTVL, 10L);
    CURLcode rc = curl_easy_perform(w.h);
    long status = w.status;
    if (!status)
        curl_easy_getinfo(w.h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK && !w.stopped_by_fn && !(rc == CURLE_ABORTED_BY_CALLBACK)) {
        sk_err_set(err, "watch %s: %s", path, curl_easy_strerror(rc));
        if (status == 200 || status == 0)
            status = -1;
    } else if (status >= 400) {
        json_t *body = sk_json_loadb(w.error_body.data ? w.error_body.data : "", w.error_body.len, 0, NULL);
        status_error(status, body, w.error_body.data, err);
        json_decref(body);
    }
    curl_easy_cleanup(w.h);
    curl_slist_free_all(headers);
    sk_buf_free(&w.line);
    sk_buf_free(&w.error_body);
    return status;
}
