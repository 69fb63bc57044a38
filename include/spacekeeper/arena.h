/* A per-thread bump arena for the JSON of one decision.
 *
 * A decision allocates a few hundred small JSON nodes and frees them all
 * moments later; with malloc that was a quarter of the server's CPU. Between
 * sk_arena_begin and sk_arena_end, jansson allocations on this thread come
 * from the arena, frees of them cost nothing, and sk_arena_end releases
 * everything at once. Frees of ordinary heap JSON (templates shared from the
 * store) still go to free(). Nothing allocated inside may outlive the end:
 * render output with sk_json_dumps, which always returns malloc memory. */
#ifndef SPACEKEEPER_ARENA_H
#define SPACEKEEPER_ARENA_H

/* Points jansson at the arena-aware allocator; call once at start-up. */
void sk_arena_install(void);
void sk_arena_begin(void);
void sk_arena_end(void);

/* A point in the current decision's arena to come back to: a decision
 * that runs many reviews of its own (a template change's impact) releases
 * each one's JSON once it is freed, so its memory stays that of one review.
 * Outside sk_arena_begin/end both are no-ops. */
typedef struct sk_arena_mark {
    void *chunk;
    unsigned long used;
} sk_arena_mark;
sk_arena_mark sk_arena_save(void);
/* Everything allocated since `m` must already be freed (or never used again). */
void sk_arena_restore(sk_arena_mark m);

#endif
