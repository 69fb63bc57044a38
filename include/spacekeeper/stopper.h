/* A stop flag that a background thread sleeps on: its waits end early the
 * moment another thread stops it, so shutdown never waits out a backoff. */
#ifndef SPACEKEEPER_STOPPER_H
#define SPACEKEEPER_STOPPER_H

#include <pthread.h>

typedef struct sk_stopper {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop; /* read atomically; may be handed to sk_kube_watch */
} sk_stopper;

void sk_stopper_init(sk_stopper *s);
void sk_stopper_destroy(sk_stopper *s);
/* Sets the flag and wakes every sleeper. */
void sk_stopper_stop(sk_stopper *s);
int sk_stopper_stopped(const sk_stopper *s);
/* Sleeps up to `seconds`, or until stopped. */
void sk_stopper_sleep(sk_stopper *s, double seconds);

#endif
