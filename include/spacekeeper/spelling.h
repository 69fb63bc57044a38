/* Fields the Spaces page and the workspace operator (jupyter-k8s) spell
 * differently. spacekeeper reads either, refuses both with different values
 * in one object, and names a field the way its author wrote it. */
#ifndef SPACEKEEPER_SPELLING_H
#define SPACEKEEPER_SPELLING_H

#include <jansson.h>

typedef struct sk_spelling {
    const char *page;     /* the Spaces add-on page's */
    const char *operator; /* the workspace operator's CRDs' */
} sk_spelling;

/* spec.idleShutdown and spec.defaultIdleShutdown */
extern const sk_spelling SK_SPELL_IDLE_TIMEOUT;
/* spec.idleShutdownOverrides */
extern const sk_spelling SK_SPELL_IDLE_MIN;
extern const sk_spelling SK_SPELL_IDLE_MAX;

/* The field of `obj` under either spelling: 0 with *value (NULL when
 * neither is there) and *key (the spelling used, or the page's when
 * neither is); -1 when both are there with different values. */
int sk_spelling_get(const json_t *obj, const sk_spelling *s, const json_t **value,
                    const char **key);

/* Do two idle shutdown objects mean the same: equal timeouts under either
 * spelling and every other field equal? NULLs are equal to each other only. */
int sk_spelling_same_idle(const json_t *a, const json_t *b);

#endif
