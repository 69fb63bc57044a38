/* ServiceAccounts as the engine reads them: which one a namespace's
 * workspaces get by default, and who may give a workspace any other.
 *
 * - the default: the namespace's ServiceAccount labelled
 *   workspace.jupyter.org/default-service-account: "true", else "default";
 * - any other only for the users its annotations name:
 *   workspace.jupyter.org/service-account-users (names),
 *   ...-user-patterns (names with * and ? wildcards, matching the whole
 *   name) and ...-groups (group names), each a YAML list.
 *
 * Where they come from is the caller's: serve watches them, check reads
 * them from its files or the cluster. The engine asks through sk_sa_source. */
#ifndef SPACEKEEPER_SERVICE_ACCOUNT_H
#define SPACEKEEPER_SERVICE_ACCOUNT_H

#include <jansson.h>
#include <stddef.h>

#define SK_LABEL_DEFAULT_SERVICE_ACCOUNT "workspace.jupyter.org/default-service-account"
#define SK_ANNOTATION_SA_USERS "workspace.jupyter.org/service-account-users"
#define SK_ANNOTATION_SA_USER_PATTERNS "workspace.jupyter.org/service-account-user-patterns"
#define SK_ANNOTATION_SA_GROUPS "workspace.jupyter.org/service-account-groups"

typedef struct sk_service_account {
    char *ns, *name, *key; /* key: "ns/name" */
    int is_default;        /* labelled default-service-account: "true" */
    char **users, **patterns, **groups; /* NULL-terminated; never NULL */
} sk_service_account;

/* Decodes a ServiceAccount object (borrowed). An annotation that is not a
 * YAML list of strings grants nothing, as in the operator. NULL without
 * metadata.name. */
sk_service_account *sk_service_account_new(const json_t *obj);
void sk_service_account_free(sk_service_account *sa);

/* Do the annotations let this user (name and groups, NULL-terminated;
 * either may be NULL) give a workspace this ServiceAccount? */
int sk_service_account_allows(const sk_service_account *sa, const char *user,
                              const char *const *groups);

/* Does `name` match a pattern of * (any run) and ? (any one character)? */
int sk_service_account_pattern_match(const char *pattern, const char *name);

/* How the engine asks about ServiceAccounts. Answers are copied out, so a
 * source may lock only for the call. Each answers -1 when it does not know
 * (not yet listed, or its watch is down): the engine then checks nothing,
 * rather than refusing on a guess. */
#define SK_SA_NAME_MAX 254 /* a DNS subdomain and its NUL */
#define SK_SA_ALLOWED 1
#define SK_SA_NOT_NAMED 0
#define SK_SA_UNKNOWN (-1)
#define SK_SA_MISSING (-2)

typedef struct sk_sa_source {
    /* May this user give a workspace in ns the ServiceAccount `name`?
     * One of the SK_SA_ answers. */
    int (*access)(const void *ctx, const char *ns, const char *name, const char *user,
                  const char *const *groups);
    /* How many of ns's ServiceAccounts are labelled default, with the first
     * two names (by name) copied into names; -1 unknown. */
    int (*defaults)(const void *ctx, const char *ns, char names[2][SK_SA_NAME_MAX]);
    const void *ctx;
} sk_sa_source;

/* For sources: the access answer for a ServiceAccount found (or NULL), and
 * one more default-labelled name counted into n and names. */
int sk_sa_access(const sk_service_account *sa, const char *user, const char *const *groups);
void sk_sa_defaults_add(char names[2][SK_SA_NAME_MAX], int *n, const char *name);

/* A plain index of ServiceAccounts, for check: owned items, not locked (one
 * thread at a time, queries included). */
typedef struct sk_sa_index sk_sa_index;

sk_sa_index *sk_sa_index_new(void);
void sk_sa_index_free(sk_sa_index *idx);
/* Adds or replaces; the index owns sa. */
void sk_sa_index_put(sk_sa_index *idx, sk_service_account *sa);
size_t sk_sa_index_count(const sk_sa_index *idx);
/* A source reading the index (borrowed; it must outlive the source's use). */
sk_sa_source sk_sa_index_source(const sk_sa_index *idx);

#endif
