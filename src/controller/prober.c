#include "spacekeeper/prober.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/timeutil.h"

struct probe {
    struct probe *next, *prev; /* in the queue, or among the active */
    sk_prober *owner;
    char *url;
    struct curl_slist *headers; /* owned */
    sk_probe_done fn;
    void *ud;
    CURL *h;
    sk_buf body;
    int too_large;
    double start;
    char error[CURL_ERROR_SIZE];
};

struct sk_prober {
    CURLM *multi;
    unsigned concurrency;
    long timeout_ms;
    size_t max_body;
    struct probe *queue, **tail; /* not started yet, in order */
    struct probe *running;       /* in flight */
    size_t queued, active;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

sk_prober *sk_prober_new(unsigned concurrency, double timeout_seconds, size_t max_body)
{
    pthread_once(&curl_once, curl_setup);
    sk_prober *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->multi = curl_multi_init();
    p->concurrency = concurrency ? concurrency : 1;
    p->timeout_ms = (long)(timeout_seconds * 1000);
    if (p->timeout_ms < 1)
        p->timeout_ms = 1;
    p->max_body = max_body;
    p->tail = &p->queue;
    /* Pods are many and each is asked once an interval: keep only as many
     * idle connections as could be busy at once. */
    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)p->concurrency);
    return p;
}

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    struct probe *pr = ud;
    size_t len = size * n;
    if (pr->body.len + len > pr->owner->max_body) {
        pr->too_large = 1;
        return 0; /* aborts the transfer */
    }
    sk_buf_append(&pr->body, data, len);
    return len;
}

static void finish(struct probe *pr, const sk_probe_result *r)
{
    pr->fn(pr->ud, r);
    sk_buf_free(&pr->body);
    curl_slist_free_all(pr->headers);
    free(pr->url);
    free(pr);
}

static void start(sk_prober *p, struct probe *pr)
{
    CURL *h = pr->h = curl_easy_init();
    if (!h)
        abort();
    curl_easy_setopt(h, CURLOPT_URL, pr->url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, pr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, pr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, pr->error);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "spacekeeper-controller");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, pr->headers);
    pr->start = sk_time_monotonic();
    pr->next = p->running;
    pr->prev = NULL;
    if (p->running)
        p->running->prev = pr;
    p->running = pr;
    curl_multi_add_handle(p->multi, h);
    p->active++;
}

static void fill(sk_prober *p)
{
    while (p->queue && p->active < p->concurrency) {
        struct probe *pr = p->queue;
        p->queue = pr->next;
        if (!p->queue)
            p->tail = &p->queue;
        p->queued--;
        start(p, pr);
    }
}

/* curl's spellings: "Name: value"; "Name:" would remove the header, so an
 * empty one is "Name;". */
static struct curl_slist *header_list(const sk_probe_header *headers, size_t n)
{
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < n; i++) {
        sk_buf line = SK_BUF_INIT;
        if (*headers[i].value)
            sk_buf_printf(&line, "%s: %s", headers[i].name, headers[i].value);
        else
            sk_buf_printf(&line, "%s;", headers[i].name);
        struct curl_slist *next = curl_slist_append(list, line.data);
        sk_buf_free(&line);
        if (!next)
            abort();
        list = next;
    }
    return list;
}

void sk_prober_submit(sk_prober *p, const char *url, sk_probe_done fn, void *ud)
{
    sk_prober_submit_headers(p, url, NULL, 0, fn, ud);
}

void sk_prober_submit_headers(sk_prober *p, const char *url, const sk_probe_header *headers, size_t n,
                              sk_probe_done fn, void *ud)
{
    struct probe *pr = calloc(1, sizeof *pr);
    if (!pr)
        abort();
    pr->url = strdup(url);
    pr->headers = header_list(headers, n);
    pr->owner = p;
    pr->fn = fn;
    pr->ud = ud;
    *p->tail = pr;
    p->tail = &pr->next;
    p->queued++;
    fill(p);
}

static void unlink_running(sk_prober *p, struct probe *pr)
{
    if (pr->prev)
        pr->prev->next = pr->next;
    else
        p->running = pr->next;
    if (pr->next)
        pr->next->prev = pr->prev;
    curl_multi_remove_handle(p->multi, pr->h);
    curl_easy_cleanup(pr->h);
    p->active--;
}

static void complete(sk_prober *p, CURL *h, CURLcode rc)
{
    struct probe *pr = NULL;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&pr);
    sk_probe_result r = {.seconds = sk_time_monotonic() - pr->start};
    if (rc == CURLE_OK) {
        r.outcome = SK_PROBE_OK;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
        r.body = pr->body.data ? pr->body.data : "";
        r.len = pr->body.len;
    } else if (pr->too_large) {
        r.outcome = SK_PROBE_TOO_LARGE;
        r.error = "the answer is larger than the probe accepts";
    } else {
        r.outcome = rc == CURLE_OPERATION_TIMEDOUT ? SK_PROBE_TIMEOUT : SK_PROBE_CONNECT;
        r.error = pr->error[0] ? pr->error : curl_easy_strerror(rc);
    }
    unlink_running(p, pr);
    finish(pr, &r);
}

size_t sk_prober_run(sk_prober *p, int wait_ms)
{
    fill(p);
    int running = 0;
    curl_multi_perform(p->multi, &running);
    if (p->active && wait_ms > 0) {
        curl_multi_poll(p->multi, NULL, 0, wait_ms, NULL);
        curl_multi_perform(p->multi, &running);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(p->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            complete(p, msg->easy_handle, msg->data.result);
    fill(p);
    return p->queued + p->active;
}

size_t sk_prober_pending(const sk_prober *p)
{
    return p->queued + p->active;
}

void sk_prober_free(sk_prober *p)
{
    if (!p)
        return;
    sk_probe_result cancelled = {.outcome = SK_PROBE_CANCELLED, .error = "cancelled"};
    while (p->running) {
        struct probe *pr = p->running;
        unlink_running(p, pr);
        finish(pr, &cancelled);
    }
    while (p->queue) {
        struct probe *pr = p->queue;
        p->queue = pr->next;
        finish(pr, &cancelled);
    }
    curl_multi_cleanup(p->multi);
    free(p);
}
