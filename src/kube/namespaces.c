#include "spacekeeper/namespaces.h"

#include <string.h>

#include "spacekeeper/json.h"

/* A cache item must not be NULL: any non-NULL pointer says "terminating". */
static char TERMINATING[] = "Terminating";

static void *decode(const json_t *ns)
{
    const char *phase = sk_json_str(ns, "status", "phase", NULL);
    int going = (phase && strcmp(phase, "Terminating") == 0) ||
                sk_json_get(ns, "metadata", "deletionTimestamp", NULL) != NULL;
    return going ? TERMINATING : NULL;
}

static void keep(void *item)
{
    (void)item;
}

const sk_cache_ops sk_namespace_terminating_ops = {decode, keep, NULL};

int sk_namespace_terminating(const sk_cache *namespaces, const char *ns)
{
    /* cluster-scoped: keyed "/name" */
    return ns && sk_cache_get(namespaces, "", ns) != NULL;
}
