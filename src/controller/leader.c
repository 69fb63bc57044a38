#include "spacekeeper/leader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/json.h"
#include "spacekeeper/log.h"
#include "spacekeeper/stopper.h"
#include "spacekeeper/timeutil.h"

struct sk_leader {
    sk_kube *kube;
    char *ns, *name, *identity, *path;
    double duration, deadline, retry;
    pthread_t thread;
    sk_stopper stopper;
    int leading;           /* this thread's view */
    long long renewed_ms;  /* monotonic ms of the last renewal; atomic */
    char *observed;        /* the holder's record as last seen */
    double observed_at;    /* monotonic time it was first seen */
    double expires_at;     /* monotonic time another holder's lease runs out; 0 none */
};

static long long mono_ms(void)
{
    return (long long)(sk_time_monotonic() * 1000);
}

static json_t *record(const char *holder, double duration, const char *acquired, json_int_t transitions)
{
    char now[40];
    sk_time_format(sk_time_now(), 6, now, sizeof now); /* MicroTime */
    return json_pack("{s:s, s:i, s:s, s:s, s:I}", "holderIdentity", holder, "leaseDurationSeconds",
                     (int)(duration < 1 ? 1 : duration), "acquireTime", acquired ? acquired : now,
                     "renewTime", now, "leaseTransitions", transitions);
}

/* Another holder's record, as a string to compare with the last one seen. */
static void observe(sk_leader *l, const json_t *spec)
{
    char *seen = sk_json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    if (!l->observed || strcmp(seen, l->observed) != 0) {
        free(l->observed);
        l->observed = seen;
        l->observed_at = sk_time_monotonic();
    } else {
        free(seen);
    }
}

static int create_lease(sk_leader *l)
{
    json_t *lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1",
                              "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns, "spec",
                              record(l->identity, l->duration, NULL, 0));
    sk_buf path = SK_BUF_INIT;
    sk_buf_printf(&path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->ns);
    sk_err err;
    long st = sk_kube_create(l->kube, path.data, lease, NULL, &err);
    sk_buf_free(&path);
    json_decref(lease);
    if (st != 201 && st != 200)
        sk_log(SK_LOG_DEBUG, "lease not created", "lease", l->name, "reason", err.msg, NULL);
    return st == 201 || st == 200;
}

/* One round of client-go's tryAcquireOrRenew: 1 when we hold the lease now. */
static int try_acquire_or_renew(sk_leader *l)
{
    json_t *lease = NULL;
    sk_err err;
    long st = sk_kube_get(l->kube, l->path, &lease, &err);
    if (st == 404) {
        json_decref(lease);
        return create_lease(l);
    }
    if (st != 200 || !json_is_object(lease)) {
        sk_log(SK_LOG_WARN, "cannot read the lease", "lease", l->name, "reason", err.msg, NULL);
        json_decref(lease);
        return 0;
    }
    json_t *spec = json_object_get(lease, "spec");
    const char *holder = sk_json_str(spec, "holderIdentity", NULL);
    int mine = holder && strcmp(holder, l->identity) == 0;
    json_int_t transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
    observe(l, spec ? spec : json_null());
    json_int_t held_for = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    double valid_for = held_for > 0 ? (double)held_for : l->duration;
    l->expires_at = 0;
    if (holder && *holder && !mine && sk_time_monotonic() < l->observed_at + valid_for) {
        l->expires_at = l->observed_at + valid_for;
        json_decref(lease);
        return 0; /* someone else holds a lease that is still running */
    }
    json_t *updated = json_deep_copy(lease);
    json_object_set_new(updated, "spec",
                        record(l->identity, l->duration,
                               mine ? sk_json_str(spec, "acquireTime", NULL) : NULL,
                               mine ? transitions : transitions + 1));
    json_decref(lease);
    json_t *out = NULL;
    st = sk_kube_update(l->kube, l->path, updated, &out, &err);
    json_decref(updated);
    if (st == 200)
        observe(l, json_object_get(out, "spec"));
    else
        sk_log(SK_LOG_DEBUG, "lease not taken", "lease", l->name, "reason", err.msg, NULL);
    json_decref(out);
    return st == 200;
}

/* Hands the lease back: no holder, a one-second duration (client-go's
 * release), so a standby takes it at its next try. */
static void release(sk_leader *l)
{
    json_t *lease = NULL;
    sk_err err;
    if (sk_kube_get(l->kube, l->path, &lease, &err) != 200) {
        json_decref(lease);
        return;
    }
    json_t *spec = json_object_get(lease, "spec");
    const char *holder = sk_json_str(spec, "holderIdentity", NULL);
    if (holder && strcmp(holder, l->identity) == 0) {
        json_object_set_new(lease, "spec",
                            record("", 1, NULL, json_integer_value(json_object_get(spec, "leaseTransitions"))));
        long st = sk_kube_update(l->kube, l->path, lease, NULL, &err);
        sk_log(st == 200 ? SK_LOG_INFO : SK_LOG_WARN, st == 200 ? "lease released" : "lease not released",
               "lease", l->name, "reason", st == 200 ? NULL : err.msg, NULL);
    }
    json_decref(lease);
}

static void *run(void *p)
{
    sk_leader *l = p;
    sk_log(SK_LOG_INFO, "attempting to acquire the leader lease", "lease", l->name, "namespace", l->ns,
           "identity", l->identity, NULL);
    while (!sk_stopper_stopped(&l->stopper)) {
        long long started = mono_ms();
        int held = try_acquire_or_renew(l);
        if (held) {
            /* the renewal counts from before the request: the lease's
             * clock on the other replicas started no later than that */
            __atomic_store_n(&l->renewed_ms, started, __ATOMIC_RELEASE);
            if (!l->leading)
                sk_log(SK_LOG_INFO, "became leader", "lease", l->name, "identity", l->identity, NULL);
            l->leading = 1;
        } else if (l->leading && !sk_leader_is_leading(l)) {
            l->leading = 0;
            sk_log(SK_LOG_WARN, "leadership lost: the lease was not renewed within the deadline",
                   "lease", l->name, NULL);
        }
        /* candidates jitter their tries as client-go does (x1.0 .. x1.2),
         * but try again right when a held lease runs out: a failover then
         * takes the lease duration, not that plus a retry period */
        double wait = l->retry * (l->leading ? 1.0 : 1.0 + 0.2 * (double)rand() / RAND_MAX);
        double until_expiry = l->expires_at - sk_time_monotonic();
        if (!l->leading && l->expires_at > 0 && until_expiry < wait)
            wait = until_expiry > 0 ? until_expiry + 0.01 : 0;
        sk_stopper_sleep(&l->stopper, wait);
    }
    if (sk_leader_is_leading(l))
        release(l);
    return NULL;
}

sk_leader *sk_leader_start(sk_kube *k, const sk_leader_config *cfg)
{
    sk_leader *l = calloc(1, sizeof *l);
    if (!l)
        abort();
    l->kube = k;
    l->ns = strdup(cfg->namespace);
    l->name = strdup(cfg->name);
    l->identity = strdup(cfg->identity);
    l->duration = cfg->lease_duration;
    l->deadline = cfg->renew_deadline;
    l->retry = cfg->retry_period;
    l->renewed_ms = -(1LL << 40);
    sk_buf path = SK_BUF_INIT;
    sk_buf_printf(&path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", l->ns, l->name);
    l->path = sk_buf_steal(&path);
    sk_stopper_init(&l->stopper);
    if (pthread_create(&l->thread, NULL, run, l) != 0)
        abort();
    return l;
}

void sk_leader_stop(sk_leader *l)
{
    if (!l)
        return;
    sk_stopper_stop(&l->stopper);
    pthread_join(l->thread, NULL);
    sk_stopper_destroy(&l->stopper);
    free(l->ns), free(l->name), free(l->identity), free(l->path), free(l->observed);
    free(l);
}

int sk_leader_is_leading(const sk_leader *l)
{
    long long renewed = __atomic_load_n(&l->renewed_ms, __ATOMIC_ACQUIRE);
    return mono_ms() - renewed < (long long)(l->deadline * 1000);
}
