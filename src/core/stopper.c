#include "spacekeeper/stopper.h"

#include <time.h>

void sk_stopper_init(sk_stopper *s)
{
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->stop = 0;
}

void sk_stopper_destroy(sk_stopper *s)
{
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
}

void sk_stopper_stop(sk_stopper *s)
{
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

int sk_stopper_stopped(const sk_stopper *s)
{
    return __atomic_load_n(&s->stop, __ATOMIC_RELAXED);
}

void sk_stopper_sleep(sk_stopper *s, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + (long)((seconds - (long)seconds) * 1e9);
    until.tv_sec += (time_t)seconds + ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&s->lock);
    while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
        ;
    pthread_mutex_unlock(&s->lock);
}
