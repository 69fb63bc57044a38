/* spacekeeper serve: the admission webhook. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spacekeeper/arena.h"
#include "spacekeeper/cli.h"
#include "spacekeeper/connect.h"
#include "spacekeeper/idle.h"
#include "spacekeeper/sa_cache.h"
#include "spacekeeper/log.h"
#include "spacekeeper/namespaces.h"
#include "spacekeeper/server.h"
#include "spacekeeper/template_sync.h"
#include "spacekeeper/workspace_brief.h"

static const char USAGE[] =
    "usage: spacekeeper serve --tls-cert FILE --tls-key FILE [options]\n"
    "\n"
    "Serves AdmissionReview admission.k8s.io/v1 on POST /mutate, POST /validate and\n"
    "POST /validate-pods-connect (pods/exec, attach and portforward).\n"
    "\n"
    "  --tls-cert FILE          serving certificate chain (PEM); re-read when it changes\n"
    "  --tls-key FILE           its private key (PEM)\n"
    "  --client-ca FILE         require client certificates signed by this CA\n"
    "  --listen ADDR:PORT       HTTPS address (default 0.0.0.0:8443)\n"
    "  --health-listen ADDR:PORT  /healthz, /readyz, /metrics over HTTP (default 127.0.0.1:8081;\n"
    "                           \"\" for none)\n"
    "  --templates PATH         WorkspaceTemplates from a file or directory (repeatable);\n"
    "                           without it they are watched from the API server\n"
    "  --kubeconfig FILE        API server to watch (default: in-cluster, else ~/.kube/config)\n"
    SK_CLI_POLICY_USAGE
    "  --impact-limit N         a template UPDATE used by more workspaces than this is warned\n"
    "                           about with counts only, none reviewed (default 20000)\n"
    "  --threads N              worker threads (default: one per core)\n"
    "  --timeout SECONDS        close connections idle this long (default 30)\n"
    "  --shutdown-grace SECONDS time to finish in-flight requests on SIGTERM (default 25)\n"
    "  --log-level LEVEL        debug, info (default), warn or error\n"
    "  --log-format FORMAT      text (default) or json\n";

struct serve_opts {
    sk_server_config server;
    const char *cert, *key;
    const char **templates;
    size_t n_templates;
    const char *kubeconfig;
    sk_cli_policy policy;
    double grace;
    long impact_limit;
};

static int parse_number(const char *flag, const char *text, long min, long max, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "spacekeeper serve: %s must be a number from %ld to %ld, not \"%s\"\n",
                flag, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct serve_opts *o)
{
    enum { CERT = 256, KEY, CA, LISTEN, HEALTH, TPL, THREADS, TIMEOUT, GRACE, LEVEL, FORMAT,
           KUBECONFIG, IMPACT_LIMIT, HELP };
    static const struct option longs[] = {
        {"tls-cert", required_argument, NULL, CERT}, {"tls-key", required_argument, NULL, KEY},
        {"client-ca", required_argument, NULL, CA}, {"listen", required_argument, NULL, LISTEN},
        {"health-listen", required_argument, NULL, HEALTH},
        {"templates", required_argument, NULL, TPL},
        {"kubeconfig", required_argument, NULL, KUBECONFIG},
        {"impact-limit", required_argument, NULL, IMPACT_LIMIT},
        SK_CLI_POLICY_OPTIONS,
        {"threads", required_argument, NULL, THREADS}, {"timeout", required_argument, NULL, TIMEOUT},
        {"shutdown-grace", required_argument, NULL, GRACE},
        {"log-level", required_argument, NULL, LEVEL}, {"log-format", required_argument, NULL, FORMAT},
        {"help", no_argument, NULL, HELP}, {NULL, 0, NULL, 0},
    };
    sk_log_level level = SK_LOG_INFO;
    sk_log_format format = SK_LOG_TEXT;
    long n;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        int policy = sk_cli_policy_option(&o->policy, c, optarg);
        if (policy < 0)
            return -1;
        if (policy)
            continue;
        switch (c) {
        case CERT: o->cert = optarg; break;
        case KEY: o->key = optarg; break;
        case CA: o->server.client_ca = optarg; break;
        case LISTEN: o->server.listen = optarg; break;
        case HEALTH: o->server.health_listen = optarg; break;
        case TPL:
            o->templates = realloc(o->templates, (o->n_templates + 1) * sizeof *o->templates);
            o->templates[o->n_templates++] = optarg;
            break;
        case KUBECONFIG: o->kubeconfig = optarg; break;
        case IMPACT_LIMIT:
            if (parse_number("--impact-limit", optarg, 0, 10000000, &o->impact_limit) < 0)
                return -1;
            break;
        case THREADS:
            if (parse_number("--threads", optarg, 1, 1024, &n) < 0)
                return -1;
            o->server.threads = (unsigned)n;
            break;
        case TIMEOUT:
            if (parse_number("--timeout", optarg, 1, 3600, &n) < 0)
                return -1;
            o->server.timeout_seconds = (unsigned)n;
            break;
        case GRACE:
            if (parse_number("--shutdown-grace", optarg, 0, 3600, &n) < 0)
                return -1;
            o->grace = (double)n;
            break;
        case LEVEL:
            if (sk_log_level_parse(optarg, &level) < 0) {
                fprintf(stderr, "spacekeeper serve: --log-level must be debug, info, warn or error\n");
                return -1;
            }
            break;
        case FORMAT:
            if (sk_log_format_parse(optarg, &format) < 0) {
                fprintf(stderr, "spacekeeper serve: --log-format must be text or json\n");
                return -1;
            }
            break;
        case HELP: fputs(USAGE, stdout); exit(0);
        default: return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "spacekeeper serve: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!o->cert || !o->key) {
        fprintf(stderr, "spacekeeper serve: --tls-cert and --tls-key are required "
                        "(spacekeeper certs makes a development pair)\n");
        return -1;
    }
    sk_log_setup(level, format);
    o->server.policy = o->policy.cfg;
    return 0;
}

/* The CONNECT rule's GETs answer within the webhook's own timeout (5 s):
 * a pod and a workspace, one attempt each plus a retry on a rotated token. */
#define CONNECT_LOOKUP_TIMEOUT_MS 1200

/* The CONNECT rule's lookups: GETs on a client of their own, with a timeout
 * that fits in the webhook's. */
static sk_kube *connect_lookups(const sk_kube_config *kc, sk_connect_lookups *out, sk_err *err)
{
    sk_kube_config short_kc = *kc;
    short_kc.timeout_ms = CONNECT_LOOKUP_TIMEOUT_MS;
    sk_kube *k = sk_kube_new(&short_kc, err);
    if (k)
        *out = (sk_connect_lookups){.pod = {sk_lookup_kube_pod, k}, .workspace = {sk_lookup_kube_workspace, k}};
    return k;
}

/* Every watch serve keeps, one row each: the templates (required: no
 * decision without them), the workspaces and the namespaces being deleted
 * (optional: without them the template guard stands aside), and the
 * ServiceAccounts (optional: without them serviceAccountName goes
 * unchecked, with a warning). Returns the template watch. */
static sk_reflector *start_watches(sk_kube *kube, sk_store *store, sk_watchset *watches,
                                   sk_guard *guard, sk_sa_source *accounts)
{
    sk_reflector *templates = sk_template_sync_start(kube, store, 500);
    guard->workspaces = sk_cache_start(kube, SK_WORKSPACES_PATH, &sk_ws_brief_ops);
    guard->namespaces = sk_cache_start(kube, SK_NAMESPACES_PATH, &sk_namespace_terminating_ops);
    sk_cache *sa = sk_sa_cache_start(kube);
    *accounts = sk_sa_cache_source(sa);
    sk_watchset_add_reflector(watches, "workspacetemplates", 1, templates);
    sk_watchset_add_cache(watches, "workspaces", 0, guard->workspaces);
    sk_watchset_add_cache(watches, "namespaces", 0, guard->namespaces);
    sk_watchset_add_cache(watches, "serviceaccounts", 0, sa);
    return templates;
}

static int run(struct serve_opts *o)
{
    sk_err err;
    sk_arena_install(); /* decisions allocate their JSON per request (arena.h) */
    sk_doclist docs = SK_DOCLIST_INIT;
    sk_store *store = sk_store_new(o->server.policy.shared_namespace);
    sk_tls *tls = NULL;
    sk_server *server = NULL;
    sk_kube *kube = NULL;
    sk_reflector *watch = NULL;
    sk_kube *lookup_kube = NULL;
    sk_connect_lookups lookups;
    sk_watchset *watches = sk_watchset_new();
    sk_sa_source accounts;
    int status = 2;
    if (o->n_templates && o->kubeconfig) {
        fprintf(stderr, "spacekeeper serve: give --templates or --kubeconfig, not both\n");
        goto out;
    }
    if (o->n_templates) {
        if (sk_cli_load_docs(o->templates, o->n_templates, &docs) < 0 ||
            sk_cli_load_templates(&docs, store, o->server.policy.shared_namespace, NULL) < 0)
            goto out;
    } else {
        sk_kube_config kc;
        if (sk_kube_config_auto(&kc, o->kubeconfig, &err) < 0) {
            fprintf(stderr, "spacekeeper serve: no templates: give --templates PATH, or run in a "
                            "cluster or with --kubeconfig to watch them (%s)\n", err.msg);
            goto out;
        }
        kube = sk_kube_new(&kc, &err);
        if (kube)
            lookup_kube = connect_lookups(&kc, &lookups, &err);
        sk_kube_config_free(&kc);
        if (!kube || !lookup_kube) {
            fprintf(stderr, "spacekeeper serve: %s\n", err.msg);
            goto out;
        }
    }
    if (!(tls = sk_tls_new(o->cert, o->key, &err))) {
        fprintf(stderr, "spacekeeper serve: %s\n", err.msg);
        goto out;
    }
    sigset_t stop;
    sk_cli_block_stop_signals(&stop);

    sk_guard guard = {.policy = &o->server.policy, .review_limit = (size_t)o->impact_limit};
    if (kube) {
        watch = start_watches(kube, store, watches, &guard, &accounts);
        o->server.policy.service_accounts = &accounts;
    }
    o->server.tls = tls;
    o->server.store = store;
    o->server.watch = watch;
    if (!lookup_kube)
        sk_log(SK_LOG_INFO, "pods/exec, attach and portforward are allowed unchecked: without API "
                            "access (--templates) pods and workspaces cannot be looked up", NULL);
    o->server.connect = lookup_kube ? &lookups : NULL;
    o->server.watches = watches;
    o->server.guard = kube ? &guard : NULL;
    if (!(server = sk_server_start(&o->server, &err))) {
        fprintf(stderr, "spacekeeper serve: %s\n", err.msg);
        goto out;
    }
    char port[16], hport[16], count[32], threads[16];
    snprintf(port, sizeof port, "%u", sk_server_port(server));
    snprintf(hport, sizeof hport, "%u", sk_server_health_port(server));
    if (watch)
        snprintf(count, sizeof count, "watching");
    else
        snprintf(count, sizeof count, "%zu", sk_store_count(store));
    snprintf(threads, sizeof threads, "%u", o->server.threads);
    sk_log(SK_LOG_INFO, "serving", "listen", o->server.listen, "port", port, "health_port",
           hport, "templates", count, "threads", o->server.threads ? threads : "auto", NULL);

    while (!sk_cli_stop_requested(&stop, 1000))
        sk_server_tick(server);
    sk_log(SK_LOG_INFO, "shutting down: finishing in-flight requests", NULL);
    sk_server_drain(server, o->grace);
    status = 0;
out:
    sk_server_free(server);
    sk_kube_free(lookup_kube);
    sk_watchset_free(watches);
    sk_kube_free(kube);
    sk_tls_free(tls);
    sk_store_free(store);
    sk_doclist_free(&docs);
    return status;
}

int sk_cmd_serve(int argc, char **argv)
{
    struct serve_opts o = {.grace = 25, .impact_limit = SK_GUARD_DEFAULT_REVIEW_LIMIT};
    sk_cli_policy_init(&o.policy);
    o.server.listen = "0.0.0.0:8443";
    o.server.health_listen = "127.0.0.1:8081";
    int status = 2;
    if (parse_args(argc, argv, &o) < 0)
        fputs(USAGE, stderr);
    else
        status = run(&o);
    free(o.templates);
    sk_cli_policy_free(&o.policy);
    return status;
}
