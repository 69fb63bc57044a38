#include "spacekeeper/reflector.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spacekeeper/json.h"
#include "spacekeeper/log.h"
#include "spacekeeper/stopper.h"

#define WATCH_TIMEOUT_S 300
#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 10.0

struct sk_reflector {
    sk_kube *kube;
    char *path;
    unsigned page_size;
    sk_reflector_ops ops;
    void *ud;
    pthread_t thread;
    sk_stopper stopper;
    int synced;
    int live;         /* the last LIST or watch event came through: the copy is current */
    unsigned long restarts, lists;
    char rv[128];     /* resourceVersion to resume from */
    int need_list;    /* set by a 410 inside the stream */
};

static void copy_rv(sk_reflector *r, const json_t *obj)
{
    const char *rv = sk_json_str(obj, "metadata", "resourceVersion", NULL);
    if (rv)
        snprintf(r->rv, sizeof r->rv, "%s", rv);
}

static double next_backoff(double b)
{
    double jittered = b * (1.5 + (double)rand() / RAND_MAX); /* x1.5 .. x2.5 */
    return jittered > BACKOFF_MAX_S ? BACKOFF_MAX_S : jittered;
}

/* A LIST of thousands of objects leaves megabytes of freed response and
 * parse buffers behind: hand them back to the OS rather than keep them.
 * (Not under AddressSanitizer, whose allocator glibc's trim knows nothing of.) */
static void trim_heap(void)
{
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    malloc_trim(0);
#endif
}

/* A paged LIST into the copy; 0 on success. */
static int list_all(sk_reflector *r)
{
    json_t *items = NULL;
    sk_err err = {{0}};
    char rv[sizeof r->rv];
    long st = sk_kube_list_all(r->kube, r->path, r->page_size, &r->stopper.stop, &items, rv, sizeof rv,
                               &err);
    if (st != 200) {
        if (st != 0) /* 0: stopped */
            sk_log(SK_LOG_WARN, "list failed; retrying", "path", r->path, "reason", err.msg, NULL);
        return -1;
    }
    memcpy(r->rv, rv, sizeof rv);
    r->ops.replace(r->ud, items);
    __atomic_add_fetch(&r->lists, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&r->synced, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&r->live, 1, __ATOMIC_RELEASE);
    char n[32];
    snprintf(n, sizeof n, "%zu", json_array_size(items));
    sk_log(SK_LOG_INFO, "listed", "path", r->path, "items", n, "resourceVersion", r->rv, NULL);
    json_decref(items);
    trim_heap();
    return 0;
}

static int on_event(void *ud, const char *type, json_t *obj)
{
    sk_reflector *r = ud;
    __atomic_store_n(&r->live, strcmp(type, "ERROR") != 0, __ATOMIC_RELEASE);
    if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
        r->ops.upsert(r->ud, obj);
        copy_rv(r, obj);
    } else if (strcmp(type, "DELETED") == 0) {
        r->ops.remove(r->ud, obj);
        copy_rv(r, obj);
    } else if (strcmp(type, "BOOKMARK") == 0) {
        copy_rv(r, obj);
    } else if (strcmp(type, "ERROR") == 0) {
        /* a Status; 410 means our resourceVersion is older than the history */
        json_int_t code = json_integer_value(json_object_get(obj, "code"));
        if (code == 410)
            r->need_list = 1;
        sk_log(code == 410 ? SK_LOG_INFO : SK_LOG_WARN, "watch error event", "path", r->path,
               "reason", sk_json_str(obj, "message", NULL), NULL);
        return 1;
    }
    return 0;
}

static void *run(void *p)
{
    sk_reflector *r = p;
    double backoff = BACKOFF_MIN_S;
    int need_list = 1;
    while (!sk_stopper_stopped(&r->stopper)) {
        if (need_list) {
            __atomic_store_n(&r->live, 0, __ATOMIC_RELEASE);
            if (list_all(r) < 0) {
                sk_stopper_sleep(&r->stopper, backoff);
                backoff = next_backoff(backoff);
                continue;
            }
            need_list = 0;
            backoff = BACKOFF_MIN_S;
        }
        sk_err err = {{0}};
        r->need_list = 0;
        long st = sk_kube_watch(r->kube, r->path, r->rv, WATCH_TIMEOUT_S, on_event, r, &r->stopper.stop, &err);
        if (sk_stopper_stopped(&r->stopper))
            break;
        if (st == 410 || r->need_list) {
            need_list = 1; /* compacted: start over from a fresh LIST */
            continue;
        }
        if (st == 200 && !err.msg[0]) {
            backoff = BACKOFF_MIN_S; /* the server closed a healthy watch: resume */
            continue;
        }
        __atomic_store_n(&r->live, 0, __ATOMIC_RELEASE);
        __atomic_add_fetch(&r->restarts, 1, __ATOMIC_RELAXED);
        sk_log(SK_LOG_WARN, "watch lost; keeping the last known objects and retrying", "path",
               r->path, "reason", err.msg[0] ? err.msg : "stream ended", NULL);
        sk_stopper_sleep(&r->stopper, backoff);
        backoff = next_backoff(backoff);
    }
    return NULL;
}

sk_reflector *sk_reflector_start(sk_kube *k, const char *path, unsigned page_size,
                                 const sk_reflector_ops *ops, void *ud)
{
    sk_reflector *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->kube = k;
    r->path = strdup(path);
    r->page_size = page_size;
    r->ops = *ops;
    r->ud = ud;
    sk_stopper_init(&r->stopper);
    if (pthread_create(&r->thread, NULL, run, r) != 0)
        abort();
    return r;
}

void sk_reflector_stop(sk_reflector *r)
{
    if (!r)
        return;
    sk_stopper_stop(&r->stopper);
    pthread_join(r->thread, NULL);
    sk_stopper_destroy(&r->stopper);
    free(r->path);
    free(r);
}

int sk_reflector_synced(const sk_reflector *r)
{
    return __atomic_load_n(&r->synced, __ATOMIC_ACQUIRE);
}

int sk_reflector_live(const sk_reflector *r)
{
    return __atomic_load_n(&r->live, __ATOMIC_ACQUIRE);
}

unsigned long sk_reflector_restarts(const sk_reflector *r)
{
    return __atomic_load_n(&r->restarts, __ATOMIC_RELAXED);
}

unsigned long sk_reflector_relists(const sk_reflector *r)
{
    unsigned long n = __atomic_load_n(&r->lists, __ATOMIC_RELAXED);
    return n ? n - 1 : 0;
}
