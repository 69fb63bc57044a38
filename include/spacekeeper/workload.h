/* What spacekeeper-controller reads of Workspaces and their pods, decoded
 * into small owned structs, and the pure rules of idle shutdown: which
 * workspace is in scope, which pod may be probed and where, what an idle
 * endpoint's answer means, and when a workspace has been idle long enough.
 * No I/O: the idle loop, the cache and the tests all call these. */
#ifndef SPACEKEEPER_WORKLOAD_H
#define SPACEKEEPER_WORKLOAD_H

#include <jansson.h>
#include <stddef.h>

#include "spacekeeper/buf.h"
#include "spacekeeper/err.h"
#include "spacekeeper/prober.h"

#define SK_WORKSPACE_LABEL "workspace.jupyter.org/workspace-name"
#define SK_IDLE_MAX_BODY (64 * 1024)

typedef enum sk_ts_format { SK_TS_AUTO, SK_TS_RFC3339, SK_TS_UNIX } sk_ts_format;

typedef struct sk_workspace {
    char *ns, *name, *uid, *rv;
    int running;       /* spec.desiredStatus Running, or absent */
    int enabled;       /* spec.idleShutdown.enabled */
    double timeout;    /* seconds; 0 when absent */
    char *scheme;      /* detection.httpGet: "http" or "https" */
    char *port;        /* a number or a container port's name */
    char *path;        /* under status.applicationBasePath when there is one */
    char *body_path;   /* dotted path to the timestamp in the answer */
    sk_ts_format format;
    sk_probe_header *headers; /* detection.httpGet.httpHeaders, sent with each probe */
    size_t nheaders;
    char *problem;     /* why an enabled workspace cannot be probed, or NULL */
} sk_workspace;

typedef struct sk_pod_port {
    char *name;
    long port;
} sk_pod_port;

typedef struct sk_pod {
    char *ns, *name, *group; /* group: "ns/<workspace>" from the label */
    char *ip;
    int running, ready, deleting;
    double ready_since;      /* Ready condition's lastTransitionTime; 0 unknown */
    size_t nports;
    sk_pod_port *ports;
} sk_pod;

sk_workspace *sk_workspace_decode(const json_t *obj); /* NULL without a name */
sk_workspace *sk_workspace_dup(const sk_workspace *w);
void sk_workspace_free(sk_workspace *w);
/* Running with idle shutdown enabled: the controller probes it. */
int sk_workspace_in_scope(const sk_workspace *w);

sk_pod *sk_pod_decode(const json_t *obj); /* NULL without the workspace label */
void sk_pod_free(sk_pod *p);
/* Running, Ready, has an IP and is not being deleted. */
int sk_pod_probeable(const sk_pod *p);

/* The probe URL of one pod: {scheme}://{ip}:{port}{path}, IPv6 bracketed,
 * a named port resolved against the pod's container ports. */
int sk_idle_probe_url(const sk_workspace *w, const sk_pod *p, sk_buf *url, sk_err *err);

/* The last activity an idle endpoint reported, as Unix seconds, from a
 * 200 answer's body. Any doubt is an error that says what was wrong. */
int sk_idle_parse_answer(const sk_workspace *w, const char *body, size_t len, double *last_active,
                         sk_err *err);

/* Idle since the latest of the last activity and the time the probed pods
 * became Ready; a time in the future counts as now. */
double sk_idle_since(double last_active, double ready_since, double now);

#endif
