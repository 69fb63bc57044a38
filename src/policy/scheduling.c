/* Where a workspace runs: spec.nodeSelector, spec.affinity and
 * spec.tolerations come from the template's defaults whole. The checks
 * catch what the pod would be refused for later, when the user can no
 * longer see why their workspace does not start. */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"

static const char *const OPERATORS[] = {"Exists", "Equal", NULL};
static const char *const EFFECTS[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};

void skp_scheduling_check_node_selector(struct eval *ev, const char *field, const json_t *v)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (!json_is_string(val))
            skp_violation(ev, field, "%s[%s] must be a string, not %s", field, key,
                          sk_json_type_name(val));
    }
}

static const struct {
    const char *key;
    const char *const *allowed;
} TOLERATION_ENUMS[] = {{"operator", OPERATORS}, {"effect", EFFECTS}};

/* NULL when the toleration is one the API server takes, else which key is wrong. */
static const char *toleration_problem(const json_t *t)
{
    for (size_t e = 0; e < sizeof TOLERATION_ENUMS / sizeof *TOLERATION_ENUMS; e++) {
        const json_t *x = json_object_get(t, TOLERATION_ENUMS[e].key);
        if (x && (!json_is_string(x) ||
                  (*json_string_value(x) && !skp_in_list(json_string_value(x), TOLERATION_ENUMS[e].allowed))))
            return TOLERATION_ENUMS[e].key;
    }
    const char *op = sk_json_str(t, "operator", NULL);
    if (op && strcmp(op, "Exists") == 0 && json_string_length(json_object_get(t, "value")))
        return "value";
    return NULL;
}

void skp_scheduling_check_tolerations(struct eval *ev, const char *field, const json_t *v)
{
    size_t i;
    json_t *t;
    char f[320];
    json_array_foreach(v, i, t) {
        const char *key = json_is_object(t) ? toleration_problem(t) : "";
        if (!key)
            continue; /* the common case: no formatting at all */
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (!json_is_object(t)) {
            skp_violation(ev, f, "%s must be an object, not %s", f, sk_json_type_name(t));
        } else if (strcmp(key, "value") == 0) {
            skp_violation(ev, f, "%s: a toleration with operator Exists must have no value", f);
        } else {
            char fe[340];
            const json_t *x = json_object_get(t, key);
            snprintf(fe, sizeof fe, "%s.%s", f, key);
            if (!json_is_string(x))
                skp_violation(ev, fe, "%s must be a string, not %s", fe, sk_json_type_name(x));
            else
                for (size_t e = 0; e < sizeof TOLERATION_ENUMS / sizeof *TOLERATION_ENUMS; e++)
                    if (strcmp(TOLERATION_ENUMS[e].key, key) == 0)
                        skp_check_enum(ev, fe, x, TOLERATION_ENUMS[e].allowed);
        }
    }
}
