/* Leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * rules: a candidate takes the lease when its holder has not renewed it
 * for leaseDurationSeconds as observed locally (clocks are never compared
 * across machines); the leader renews every retry period and counts itself
 * leader only while its last renewal is younger than the renew deadline,
 * which is shorter than the lease: a leader cut off from the API server
 * stops acting before anyone else can take over. Stopping releases the
 * lease so that a standby takes over at its next try. */
#ifndef SPACEKEEPER_LEADER_H
#define SPACEKEEPER_LEADER_H

#include "spacekeeper/kube.h"

typedef struct sk_leader_config {
    const char *namespace, *name, *identity;
    double lease_duration; /* seconds; controller-runtime's 15 */
    double renew_deadline; /* 10 */
    double retry_period;   /* 2 */
} sk_leader_config;

typedef struct sk_leader sk_leader;

/* Runs the election on its own thread. k is borrowed; its request timeout
 * should be well under the renew deadline. */
sk_leader *sk_leader_start(sk_kube *k, const sk_leader_config *cfg);
/* Releases the lease if held, then joins the thread. */
void sk_leader_stop(sk_leader *l);

/* Leading now: the last renewal is younger than the renew deadline. */
int sk_leader_is_leading(const sk_leader *l);

#endif
