/* spacekeeper-controller: the companion of the admission webhook. Idle
 * shutdown of workspaces, with leader election among its replicas. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spacekeeper/cache.h"
#include "spacekeeper/cli.h"
#include "spacekeeper/health.h"
#include "spacekeeper/idle.h"
#include "spacekeeper/leader.h"
#include "spacekeeper/log.h"
#include "spacekeeper/timeutil.h"

#define PROG "spacekeeper-controller"
#define DEFAULT_NAMESPACE "spacekeeper-system"
#define STEP_MS 100

static const char USAGE[] =
    "usage: " PROG " [options]\n"
    "\n"
    "Stops workspaces that have been idle past their idle-shutdown timeout.\n"
    "\n"
    "  --kubeconfig FILE              API server (default: in-cluster, else ~/.kube/config)\n"
    "  --namespace NS                 where the leader lease lives (default: the pod's own\n"
    "                                 namespace, else " DEFAULT_NAMESPACE ")\n"
    "  --health-listen ADDR:PORT      /healthz, /readyz, /metrics over HTTP (default 127.0.0.1:8082)\n"
    "  --idle-check-interval D        probe each workspace this often (default 60s)\n"
    "  --idle-probe-timeout D         give up on an idle endpoint after this long (default 5s)\n"
    "  --idle-probe-concurrency N     probes in flight at once (default 32)\n"
    "  --dry-run                      record what would be stopped; stop nothing\n"
    "  --leader-elect=true|false      elect one acting replica through a Lease (default true)\n"
    "  --lease-name NAME              the Lease (default spacekeeper-controller)\n"
    "  --identity ID                  this replica's name in the Lease (default HOSTNAME_random)\n"
    "  --leader-elect-lease-duration D, --leader-elect-renew-deadline D,\n"
    "  --leader-elect-retry-period D  election timings (default 15s, 10s, 2s)\n"
    "  --log-level LEVEL              debug, info (default), warn or error\n"
    "  --log-format FORMAT            text (default) or json\n"
    "\n"
    "Durations are written 90s, 5m, 1h or 1h30m.\n";

struct ctl_opts {
    const char *kubeconfig, *namespace, *health_listen, *lease_name, *identity;
    int leader_elect;
    sk_idle_config idle;
    sk_leader_config lease;
};

static int parse_duration(const char *flag, const char *text, double min, double *out)
{
    sk_err err;
    if (sk_duration_parse(text, out, &err) < 0 || *out < min) {
        fprintf(stderr, PROG ": %s: %s\n", flag,
                *out < min && !err.msg[0] ? "too short" : err.msg);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct ctl_opts *o)
{
    enum { KUBECONFIG = 256, NAMESPACE, HEALTH, INTERVAL, TIMEOUT, CONCURRENCY, DRY_RUN, ELECT,
           LEASE, IDENTITY, DURATION, DEADLINE, RETRY, LEVEL, FORMAT, HELP };
    static const struct option longs[] = {
        {"kubeconfig", required_argument, NULL, KUBECONFIG},
        {"namespace", required_argument, NULL, NAMESPACE},
        {"health-listen", required_argument, NULL, HEALTH},
        {"idle-check-interval", required_argument, NULL, INTERVAL},
        {"idle-probe-timeout", required_argument, NULL, TIMEOUT},
        {"idle-probe-concurrency", required_argument, NULL, CONCURRENCY},
        {"dry-run", no_argument, NULL, DRY_RUN},
        {"leader-elect", optional_argument, NULL, ELECT},
        {"lease-name", required_argument, NULL, LEASE},
        {"identity", required_argument, NULL, IDENTITY},
        {"leader-elect-lease-duration", required_argument, NULL, DURATION},
        {"leader-elect-renew-deadline", required_argument, NULL, DEADLINE},
        {"leader-elect-retry-period", required_argument, NULL, RETRY},
        {"log-level", required_argument, NULL, LEVEL},
        {"log-format", required_argument, NULL, FORMAT},
        {"help", no_argument, NULL, HELP},
        {NULL, 0, NULL, 0},
    };
    sk_log_level level = SK_LOG_INFO;
    sk_log_format format = SK_LOG_TEXT;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        char *end;
        long n;
        switch (c) {
        case KUBECONFIG: o->kubeconfig = optarg; break;
        case NAMESPACE: o->namespace = optarg; break;
        case HEALTH: o->health_listen = optarg; break;
        case INTERVAL:
            if (parse_duration("--idle-check-interval", optarg, 0.1, &o->idle.interval) < 0)
                return -1;
            break;
        case TIMEOUT:
            if (parse_duration("--idle-probe-timeout", optarg, 0.01, &o->idle.probe_timeout) < 0)
                return -1;
            break;
        case CONCURRENCY:
            n = strtol(optarg, &end, 10);
            if (!*optarg || *end || n < 1 || n > 10000) {
                fprintf(stderr, PROG ": --idle-probe-concurrency must be a number from 1 to 10000\n");
                return -1;
            }
            o->idle.concurrency = (unsigned)n;
            break;
        case DRY_RUN: o->idle.dry_run = 1; break;
        case ELECT:
            if (!optarg || strcmp(optarg, "true") == 0) {
                o->leader_elect = 1;
            } else if (strcmp(optarg, "false") == 0) {
                o->leader_elect = 0;
            } else {
                fprintf(stderr, PROG ": --leader-elect must be true or false\n");
                return -1;
            }
            break;
        case LEASE: o->lease_name = optarg; break;
        case IDENTITY: o->identity = optarg; break;
        case DURATION:
            if (parse_duration("--leader-elect-lease-duration", optarg, 1, &o->lease.lease_duration) < 0)
                return -1;
            break;
        case DEADLINE:
            if (parse_duration("--leader-elect-renew-deadline", optarg, 0.5, &o->lease.renew_deadline) < 0)
                return -1;
            break;
        case RETRY:
            if (parse_duration("--leader-elect-retry-period", optarg, 0.1, &o->lease.retry_period) < 0)
                return -1;
            break;
        case LEVEL:
            if (sk_log_level_parse(optarg, &level) < 0) {
                fprintf(stderr, PROG ": --log-level must be debug, info, warn or error\n");
                return -1;
            }
            break;
        case FORMAT:
            if (sk_log_format_parse(optarg, &format) < 0) {
                fprintf(stderr, PROG ": --log-format must be text or json\n");
                return -1;
            }
            break;
        case HELP: fputs(USAGE, stdout); exit(0);
        default: return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!(o->lease.retry_period < o->lease.renew_deadline && o->lease.renew_deadline < o->lease.lease_duration)) {
        fprintf(stderr, PROG ": the leader election timings must satisfy retry period < renew deadline "
                        "< lease duration\n");
        return -1;
    }
    sk_log_setup(level, format);
    return 0;
}

/* --namespace, else the pod's own (POD_NAMESPACE from the downward API, or
 * the service account's), else spacekeeper-system. */
static char *own_namespace(const char *flag)
{
    if (flag && *flag)
        return strdup(flag);
    const char *env = getenv("POD_NAMESPACE");
    if (env && *env)
        return strdup(env);
    FILE *f = fopen(SK_SERVICEACCOUNT_DIR "/namespace", "r");
    char ns[256] = "";
    if (f) {
        if (!fgets(ns, sizeof ns, f))
            ns[0] = '\0';
        fclose(f);
        ns[strcspn(ns, " \r\n")] = '\0';
    }
    return strdup(ns[0] ? ns : DEFAULT_NAMESPACE);
}

/* client-go's default: the host name and a random suffix, so a restarted
 * pod with the same name is not mistaken for the old holder. */
static char *default_identity(void)
{
    char host[256] = "spacekeeper-controller";
    gethostname(host, sizeof host - 1);
    unsigned long r = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&r, sizeof r, 1, f) != 1)
        r = (unsigned long)time(NULL) ^ (unsigned long)getpid();
    if (f)
        fclose(f);
    char id[320];
    snprintf(id, sizeof id, "%s_%08lx", host, r & 0xffffffffUL);
    return strdup(id);
}

struct controller {
    sk_cache *workspaces, *pods;
    sk_leader *leader; /* NULL without leader election */
    sk_idle *idle;
    const char *lease_name;
};

static int leading(const struct controller *c)
{
    return !c->leader || sk_leader_is_leading(c->leader);
}

static int ready(void *ud)
{
    const struct controller *c = ud;
    return sk_cache_synced(c->workspaces) && sk_cache_synced(c->pods);
}

static void metrics(void *ud, sk_buf *out)
{
    const struct controller *c = ud;
    sk_idle_metrics(c->idle, out);
    sk_buf_printf(out,
                  "# HELP leader_election_master_status Gauge of if the reporting system is master of the "
                  "relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to "
                  "identify the lease.\n"
                  "# TYPE leader_election_master_status gauge\n"
                  "leader_election_master_status{name=\"%s\"} %d\n"
                  "# HELP spacekeeper_ready Whether the caches are synced.\n"
                  "# TYPE spacekeeper_ready gauge\nspacekeeper_ready %d\n",
                  c->lease_name, leading(c), ready(ud));
    static const char *const names[] = {"workspaces", "pods"};
    const sk_cache *caches[] = {c->workspaces, c->pods};
    sk_buf_puts(out, "# HELP spacekeeper_watch_restarts_total Watches lost to errors, by resource.\n"
                     "# TYPE spacekeeper_watch_restarts_total counter\n");
    for (int i = 0; i < 2; i++)
        sk_buf_printf(out, "spacekeeper_watch_restarts_total{resource=\"%s\"} %lu\n", names[i],
                      sk_cache_restarts(caches[i]));
    sk_buf_puts(out, "# HELP spacekeeper_watch_relists_total Full LISTs after the first (410 Gone), by "
                     "resource.\n# TYPE spacekeeper_watch_relists_total counter\n");
    for (int i = 0; i < 2; i++)
        sk_buf_printf(out, "spacekeeper_watch_relists_total{resource=\"%s\"} %lu\n", names[i],
                      sk_cache_relists(caches[i]));
}

static sk_kube *connect_api(const char *kubeconfig, long timeout_ms, sk_err *err)
{
    sk_kube_config kc;
    if (sk_kube_config_auto(&kc, kubeconfig, err) < 0)
        return NULL;
    kc.timeout_ms = timeout_ms;
    sk_kube *k = sk_kube_new(&kc, err);
    sk_kube_config_free(&kc);
    return k;
}

static int run(struct ctl_opts *o)
{
    sk_err err;
    int status = 2;
    char *ns = own_namespace(o->namespace);
    char *identity = o->identity ? strdup(o->identity) : default_identity();
    struct controller c = {.lease_name = o->lease_name};
    sk_health *health = NULL;
    /* Lease calls must fail well inside the renew deadline. */
    sk_kube *kube = connect_api(o->kubeconfig, 10000, &err);
    sk_kube *lease_kube = kube ? connect_api(o->kubeconfig, (long)(o->lease.renew_deadline * 500), &err) : NULL;
    if (!kube || !lease_kube) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        goto out;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    c.workspaces = sk_cache_start(kube, SK_WORKSPACES_PATH, &sk_idle_workspace_ops);
    c.pods = sk_cache_start(kube, SK_WORKSPACE_PODS_PATH, &sk_idle_pod_ops);
    c.idle = sk_idle_new(&o->idle, kube, c.workspaces, c.pods);
    if (o->health_listen && *o->health_listen) {
        static const sk_health_ops ops = {ready, metrics};
        if (!(health = sk_health_start(o->health_listen, &ops, &c, &err))) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            goto out;
        }
    }
    if (o->leader_elect) {
        o->lease.namespace = ns;
        o->lease.name = o->lease_name;
        o->lease.identity = identity;
        c.leader = sk_leader_start(lease_kube, &o->lease);
    }
    char hport[16], interval[32];
    snprintf(hport, sizeof hport, "%u", sk_health_port(health));
    snprintf(interval, sizeof interval, "%gs", o->idle.interval);
    sk_log(SK_LOG_INFO, "controller started", "identity", identity, "namespace", ns, "health_port", hport,
           "idle_check_interval", interval, "leader_elect", o->leader_elect ? "true" : "false",
           "dry_run", o->idle.dry_run ? "true" : NULL, NULL);
    for (;;) {
        struct timespec zero = {0, 0};
        int sig = sigtimedwait(&stop, NULL, &zero);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        sk_idle_step(c.idle, leading(&c), STEP_MS);
    }
    sk_log(SK_LOG_INFO, "shutting down", NULL);
    status = 0;
out:
    sk_idle_free(c.idle);        /* stop acting first ... */
    sk_leader_stop(c.leader);    /* ... then hand the lease over */
    sk_health_free(health);
    sk_cache_stop(c.workspaces);
    sk_cache_stop(c.pods);
    sk_kube_free(lease_kube);
    sk_kube_free(kube);
    free(identity);
    free(ns);
    return status;
}

int main(int argc, char **argv)
{
    struct ctl_opts o = {
        .health_listen = "127.0.0.1:8082",
        .lease_name = "spacekeeper-controller",
        .leader_elect = 1,
        .idle = {.interval = 60, .probe_timeout = 5, .concurrency = 32, .warn_every = 3600},
        .lease = {.lease_duration = 15, .renew_deadline = 10, .retry_period = 2},
    };
    if (parse_args(argc, argv, &o) < 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    return run(&o);
}
