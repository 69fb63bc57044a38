/* What a template change does to the workspaces that use it: which use a
 * changed template (before or after the change), how many of those the
 * engine would refuse at their next start, and the first few of them as
 * "namespace/name: violation" lines. `spacekeeper check --impact` and
 * serve's template warnings both count through this; it is pure: the
 * caller brings the workspaces (a LIST's pages, serve's cache). */
#ifndef SPACEKEEPER_IMPACT_H
#define SPACEKEEPER_IMPACT_H

#include <jansson.h>
#include <stddef.h>

#include "spacekeeper/map.h"
#include "spacekeeper/policy.h"

/* Bytes of text per line: what kubectl shows well on one line. */
#define SK_IMPACT_LINE_MAX 120

typedef struct sk_impact {
    const sk_policy_config *cfg;
    const sk_store *was, *now; /* borrowed: the templates before and after the change */
    const char *user;          /* who starts the workspaces; NULL: each one's creator */
    const char *const *groups; /* NULL-terminated; may be NULL */
    size_t max_named;          /* refusals kept as lines */
    /* Called with every review (check keeps them all); may be NULL. */
    void (*on_review)(void *ud, const sk_decision *d);
    void *ud;

    size_t seen, using, denied;
    char **named; /* owned: n_named "ns/name: violation" lines */
    size_t n_named;
    sk_map *changed; /* owned: set of "ns/name" */
} sk_impact;

/* changed: array of "ns/name" strings (borrowed). */
void sk_impact_init(sk_impact *im, const sk_policy_config *cfg, const sk_store *was,
                    const sk_store *now, const json_t *changed);
void sk_impact_free(sk_impact *im);
/* Back to no workspace seen (a LIST that started over). */
void sk_impact_reset(sk_impact *im);

/* Does `ws` use a changed template, before or after? */
int sk_impact_uses(const sk_impact *im, const json_t *ws);
/* Counts a workspace that uses a changed template and reviews its next
 * start against `now`; returns 1 when it would be refused. */
int sk_impact_review(sk_impact *im, const json_t *ws);
/* The counting half of sk_impact_review, for a workspace whose review is
 * known already (one alike but for its name): `violations` borrowed. */
void sk_impact_count(sk_impact *im, const char *ns, const char *name, int refused,
                     const json_t *violations);
/* Adds `later`'s counts (a later part of the same listing, counted apart)
 * to im, and its lines after im's while there is room; `later` is left
 * empty. */
void sk_impact_merge(sk_impact *im, sk_impact *later);
/* One workspace of a listing: seen, then skipped when it is being deleted
 * (it will not start again) or uses no changed template, else reviewed. */
void sk_impact_add(sk_impact *im, const json_t *ws);

/* "ns/name: first violation (+N more)" in at most SK_IMPACT_LINE_MAX bytes
 * of UTF-8 without control characters (cut with "..."); malloc'd. */
char *sk_impact_line(const char *ns, const char *name, const json_t *violations);

/* Copies `text` into buf (cap > 3) as one warning line: control characters
 * become spaces, and text longer than cap - 1 bytes is cut on a character
 * boundary and ends with "...". */
void sk_impact_clip(const char *text, char *buf, size_t cap);

#endif
