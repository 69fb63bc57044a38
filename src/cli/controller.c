/* spacekeeper-controller: the companion of the admission webhook. Idle
 * shutdown of workspaces, preloading of the templates' images and
 * compliance reports, with leader election among its replicas. */
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
#include "spacekeeper/preload.h"
#include "spacekeeper/reports.h"
#include "spacekeeper/timeutil.h"

#define PROG "spacekeeper-controller"
#define DEFAULT_NAMESPACE "spacekeeper-system"
#define STEP_MS 100

static const char USAGE[] =
    "usage: " PROG " [options]\n"
    "\n"
    "Stops workspaces that have been idle past their idle-shutdown timeout, keeps the\n"
    "WorkspaceTemplates' images pulled on the nodes their workspaces can run on, and keeps a\n"
    "PolicyReport per namespace of the workspaces their next start would refuse.\n"
    "\n"
    "  --kubeconfig FILE              API server (default: in-cluster, else ~/.kube/config)\n"
    "  --namespace NS                 where the leader lease lives (default: the pod's own\n"
    "                                 namespace, else " DEFAULT_NAMESPACE ")\n"
    "  --health-listen ADDR:PORT      /healthz, /readyz, /metrics over HTTP (default 127.0.0.1:8082)\n"
    "  --idle-check-interval D        probe each workspace this often (default 60s)\n"
    "  --idle-probe-timeout D         give up on an idle endpoint after this long (default 5s)\n"
    "  --idle-probe-concurrency N     probes in flight at once (default 32)\n"
    "  --dry-run                      record what would be stopped; stop nothing\n"
    "  --preload=true|false           manage the image-preload DaemonSets (default true;\n"
    "                                 false leaves existing ones alone)\n"
    "  --preload-images IMG,...       images to preload on every node besides the templates'\n"
    "  --preload-pull-secrets S,...   imagePullSecrets (in --namespace) for private registries\n"
    "  --preload-refresh D            pull mutable tags again this often (default 24h; 0: never)\n"
    "  --preload-backoff D            first wait before retrying an image that failed to pull\n"
    "                                 (default 1h, doubling to 24h)\n"
    "  --preload-max-daemonsets N     at most this many preload DaemonSets (default 32)\n"
    "  --preload-resync D             compare every DaemonSet with what it should be this often,\n"
    "                                 besides on every change (default 30s)\n"
    "  --preload-pause-image IMG      the image holding spacekeeper-pause (default spacekeeper:" SK_VERSION ")\n"
    "  --preload-priority-class NAME  the preload pods' PriorityClass (default spacekeeper-preload)\n"
    "  --policy-reports=true|false    keep wgpolicyk8s.io PolicyReports of the workspaces that\n"
    "                                 would be refused at their next start (default true)\n"
    "  --policy-report-interval D     take in workspace and template changes at most this often\n"
    "                                 (default 10s)\n"
    "  --policy-report-resync D       compare every report with what it should say this often,\n"
    "                                 besides on every change (default 5m)\n"
    "  --leader-elect=true|false      elect one acting replica through a Lease (default true)\n"
    "  --lease-name NAME              the Lease (default spacekeeper-controller)\n"
    "  --identity ID                  this replica's name in the Lease (default HOSTNAME_random)\n"
    "  --leader-elect-lease-duration D, --leader-elect-renew-deadline D,\n"
    "  --leader-elect-retry-period D  election timings (default 15s, 10s, 2s)\n"
    "  --log-level LEVEL              debug, info (default), warn or error\n"
    "  --log-format FORMAT            text (default) or json\n"
    "\n"
    "The reports review each workspace as serve would, so they take serve's policy flags:\n"
    SK_CLI_POLICY_USAGE
    "\n"
    "Durations are written 90s, 5m, 1h or 1h30m.\n";

struct ctl_opts {
    const char *kubeconfig, *namespace, *health_listen, *lease_name, *identity;
    int leader_elect, preload, reports;
    char **preload_images, **pull_secrets; /* owned */
    sk_idle_config idle;
    sk_leader_config lease;
    sk_preload_config pre;
    sk_cli_policy policy;
    sk_reports_config rep;
};

/* "true" or "false" (or no value: true) for a --flag=BOOL. */
static int parse_bool(const char *flag, const char *text, int *out)
{
    if (!text || strcmp(text, "true") == 0)
        return *out = 1, 0;
    if (strcmp(text, "false") == 0)
        return *out = 0, 0;
    fprintf(stderr, PROG ": %s must be true or false\n", flag);
    return -1;
}

static int parse_count(const char *flag, const char *text, long max, long *out)
{
    char *end;
    *out = strtol(text, &end, 10);
    if (*text && !*end && *out >= 1 && *out <= max)
        return 0;
    fprintf(stderr, PROG ": %s must be a number from 1 to %ld\n", flag, max);
    return -1;
}

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
           LEASE, IDENTITY, DURATION, DEADLINE, RETRY, LEVEL, FORMAT, HELP, PRELOAD, PRE_IMAGES,
           PRE_SECRETS, PRE_REFRESH, PRE_BACKOFF, PRE_MAX, PRE_PAUSE, PRE_PRIORITY, PRE_RESYNC, REPORTS,
           REP_INTERVAL, REP_RESYNC };
    static const struct option longs[] = {
        {"kubeconfig", required_argument, NULL, KUBECONFIG},
        {"namespace", required_argument, NULL, NAMESPACE},
        {"health-listen", required_argument, NULL, HEALTH},
        {"idle-check-interval", required_argument, NULL, INTERVAL},
        {"idle-probe-timeout", required_argument, NULL, TIMEOUT},
        {"idle-probe-concurrency", required_argument, NULL, CONCURRENCY},
        {"dry-run", no_argument, NULL, DRY_RUN},
        {"leader-elect", optional_argument, NULL, ELECT},
        {"preload", optional_argument, NULL, PRELOAD},
        {"preload-images", required_argument, NULL, PRE_IMAGES},
        {"preload-pull-secrets", required_argument, NULL, PRE_SECRETS},
        {"preload-refresh", required_argument, NULL, PRE_REFRESH},
        {"preload-backoff", required_argument, NULL, PRE_BACKOFF},
        {"preload-max-daemonsets", required_argument, NULL, PRE_MAX},
        {"preload-pause-image", required_argument, NULL, PRE_PAUSE},
        {"preload-priority-class", required_argument, NULL, PRE_PRIORITY},
        {"preload-resync", required_argument, NULL, PRE_RESYNC},
        {"policy-reports", optional_argument, NULL, REPORTS},
        {"policy-report-interval", required_argument, NULL, REP_INTERVAL},
        {"policy-report-resync", required_argument, NULL, REP_RESYNC},
        SK_CLI_POLICY_OPTIONS,
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
            if (parse_count("--idle-probe-concurrency", optarg, 10000, &n) < 0)
                return -1;
            o->idle.concurrency = (unsigned)n;
            break;
        case DRY_RUN: o->idle.dry_run = 1; break;
        case ELECT:
            if (parse_bool("--leader-elect", optarg, &o->leader_elect) < 0)
                return -1;
            break;
        case PRELOAD:
            if (parse_bool("--preload", optarg, &o->preload) < 0)
                return -1;
            break;
        case PRE_IMAGES:
            sk_cli_free_list(o->preload_images);
            o->preload_images = sk_cli_split_list(optarg);
            break;
        case PRE_SECRETS:
            sk_cli_free_list(o->pull_secrets);
            o->pull_secrets = sk_cli_split_list(optarg);
            break;
        case PRE_REFRESH:
            if (parse_duration("--preload-refresh", optarg, 0, &o->pre.refresh) < 0)
                return -1;
            break;
        case PRE_BACKOFF:
            if (parse_duration("--preload-backoff", optarg, 0.1, &o->pre.backoff_min) < 0)
                return -1;
            if (o->pre.backoff_max < o->pre.backoff_min)
                o->pre.backoff_max = o->pre.backoff_min;
            break;
        case PRE_MAX:
            if (parse_count("--preload-max-daemonsets", optarg, 1000, &n) < 0)
                return -1;
            o->pre.max_daemonsets = (size_t)n;
            break;
        case PRE_PAUSE: o->pre.pause_image = optarg; break;
        case PRE_PRIORITY: o->pre.priority_class = optarg; break;
        case PRE_RESYNC:
            if (parse_duration("--preload-resync", optarg, 0.1, &o->pre.resync) < 0)
                return -1;
            break;
        case REPORTS:
            if (parse_bool("--policy-reports", optarg, &o->reports) < 0)
                return -1;
            break;
        case REP_INTERVAL:
            if (parse_duration("--policy-report-interval", optarg, 0.1, &o->rep.interval) < 0)
                return -1;
            break;
        case REP_RESYNC:
            if (parse_duration("--policy-report-resync", optarg, 0.1, &o->rep.resync) < 0)
                return -1;
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
        default:
            if (sk_cli_policy_option(&o->policy, c, optarg) <= 0)
                return -1;
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
    sk_leader *leader;   /* NULL without leader election */
    sk_idle *idle;
    sk_preload *preload; /* NULL with --preload=false */
    sk_reports *reports; /* NULL with --policy-reports=false */
    const char *lease_name;
};

static int leading(const struct controller *c)
{
    return !c->leader || sk_leader_is_leading(c->leader);
}

static int ready(void *ud)
{
    const struct controller *c = ud;
    return sk_cache_synced(c->workspaces) && sk_cache_synced(c->pods) &&
           (!c->preload || sk_preload_synced(c->preload)) && (!c->reports || sk_reports_synced(c->reports));
}

static void metrics(void *ud, sk_buf *out)
{
    const struct controller *c = ud;
    sk_idle_metrics(c->idle, out);
    if (c->preload)
        sk_preload_metrics(c->preload, out);
    if (c->reports)
        sk_reports_metrics(c->reports, out);
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
    sk_buf restarts = SK_BUF_INIT, relists = SK_BUF_INIT;
    for (int i = 0; i < 2; i++) {
        sk_buf_printf(&restarts, "spacekeeper_watch_restarts_total{resource=\"%s\"} %lu\n", names[i],
                      sk_cache_restarts(caches[i]));
        sk_buf_printf(&relists, "spacekeeper_watch_relists_total{resource=\"%s\"} %lu\n", names[i],
                      sk_cache_relists(caches[i]));
    }
    if (c->preload)
        sk_preload_watch_metrics(c->preload, &restarts, &relists);
    if (c->reports)
        sk_reports_watch_metrics(c->reports, &restarts, &relists);
    sk_buf_printf(out, "# HELP spacekeeper_watch_restarts_total Watches lost to errors, by resource.\n"
                       "# TYPE spacekeeper_watch_restarts_total counter\n%s"
                       "# HELP spacekeeper_watch_relists_total Full LISTs after the first (410 Gone), by "
                       "resource.\n# TYPE spacekeeper_watch_relists_total counter\n%s",
                  restarts.data, relists.data);
    sk_buf_free(&restarts);
    sk_buf_free(&relists);
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
    sk_cli_block_stop_signals(&stop);

    c.workspaces = sk_cache_start(kube, SK_WORKSPACES_PATH, &sk_idle_workspace_ops);
    c.pods = sk_cache_start(kube, SK_WORKSPACE_PODS_PATH, &sk_idle_pod_ops);
    c.idle = sk_idle_new(&o->idle, kube, c.workspaces, c.pods);
    if (o->preload) {
        o->pre.namespace = ns;
        o->pre.extra_images = (const char *const *)o->preload_images;
        o->pre.pull_secrets = (const char *const *)o->pull_secrets;
        c.preload = sk_preload_new(&o->pre, kube);
    }
    if (o->reports) {
        o->rep.policy = &o->policy.cfg;
        c.reports = sk_reports_new(&o->rep, kube);
    }
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
           "preload", o->preload ? "true" : "false", "policy_reports", o->reports ? "true" : "false",
           "dry_run", o->idle.dry_run ? "true" : NULL, NULL);
    while (!sk_cli_stop_requested(&stop, 0)) {
        int lead = leading(&c);
        if (c.preload)
            sk_preload_step(c.preload, lead);
        if (c.reports)
            sk_reports_step(c.reports, lead);
        sk_idle_step(c.idle, lead, STEP_MS);
    }
    sk_log(SK_LOG_INFO, "shutting down", NULL);
    status = 0;
out:
    sk_health_free(health);      /* nothing reads what is freed below */
    sk_idle_free(c.idle);        /* stop acting ... */
    sk_preload_free(c.preload);
    sk_reports_free(c.reports);
    sk_leader_stop(c.leader);    /* ... then hand the lease over */
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
        .preload = 1,
        .pre = {.pause_image = "spacekeeper:" SK_VERSION, .priority_class = "spacekeeper-preload",
                .refresh = 24 * 3600, .backoff_min = 3600, .backoff_max = 24 * 3600, .max_daemonsets = 32,
                .resync = 30},
        .reports = 1,
        .rep = {.interval = 10, .resync = 300},
    };
    sk_cli_policy_init(&o.policy);
    int status = 2;
    if (parse_args(argc, argv, &o) < 0)
        fputs(USAGE, stderr);
    else
        status = run(&o);
    sk_cli_free_list(o.preload_images);
    sk_cli_free_list(o.pull_secrets);
    sk_cli_policy_free(&o.policy);
    return status;
}
