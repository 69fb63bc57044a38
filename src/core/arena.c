#include "spacekeeper/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define FIRST_CHUNK (64 * 1024)
#define ALIGN 16

/* Chunks double in size, so even a 3 MiB review needs only a dozen, and
 * telling arena memory from heap memory stays a short walk. */
struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(ALIGN) unsigned char data[];
};

struct arena {
    struct chunk *head; /* newest (largest) first */
    int active;
};

static __thread struct arena tls;

/* A thread's arena goes when the thread does (server workers stop). */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void release_all(void *unused)
{
    (void)unused;
    for (struct chunk *c = tls.head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    tls.head = NULL;
}

static void make_exit_key(void)
{
    pthread_key_create(&exit_key, release_all);
}

static struct chunk *new_chunk(size_t size)
{
    if (!tls.head) { /* this thread's first chunk: arrange its release */
        pthread_once(&exit_once, make_exit_key);
        pthread_setspecific(exit_key, &tls);
    }
    struct chunk *c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    POISON(c->data, size); /* unpoisoned piece by piece as it is handed out */
    return c;
}

static void *arena_malloc(size_t n)
{
    if (!tls.active)
        return malloc(n);
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    struct chunk *c = tls.head;
    if (!c || c->size - c->used < n) {
        size_t size = c ? c->size * 2 : FIRST_CHUNK;
        while (size < n)
            size *= 2;
        struct chunk *fresh = new_chunk(size);
        if (!fresh)
            return NULL;
        fresh->next = c;
        tls.head = c = fresh;
    }
    void *p = c->data + c->used;
    c->used += n;
    UNPOISON(p, n);
    return p;
}

static int in_arena(const void *p)
{
    const unsigned char *q = p;
    for (const struct chunk *c = tls.head; c; c = c->next)
        if (q >= c->data && q < c->data + c->size)
            return 1;
    return 0;
}

static void arena_free(void *p)
{
    if (p && !in_arena(p))
        free(p);
}

void sk_arena_install(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void sk_arena_begin(void)
{
    tls.active = 1;
}

/* Keeps the smallest chunk for the next decision; the rest go back. */
void sk_arena_end(void)
{
    tls.active = 0;
    struct chunk *c = tls.head, *keep = NULL;
    while (c) {
        struct chunk *next = c->next;
        if (!next) {
            keep = c;
        } else {
            free(c);
        }
        c = next;
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
        POISON(keep->data, keep->size);
    }
    tls.head = keep;
}

sk_arena_mark sk_arena_save(void)
{
    return (sk_arena_mark){tls.active ? tls.head : NULL, tls.head && tls.active ? tls.head->used : 0};
}

void sk_arena_restore(sk_arena_mark m)
{
    if (!tls.active)
        return;
    while (tls.head && tls.head != m.chunk) { /* chunks opened since the mark */
        struct chunk *next = tls.head->next;
        free(tls.head);
        tls.head = next;
    }
    struct chunk *c = tls.head;
    if (!c)
        return;
    POISON(c->data + m.used, c->size - m.used);
    c->used = m.used;
}
