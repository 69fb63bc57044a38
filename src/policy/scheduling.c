/* Where a workspace runs: spec.nodeSelector, spec.affinity and
 * spec.tolerations come from the template's defaults whole. The checks
 * catch what the pod would be refused for later, when the user can no
 * longer see why their workspace does not start. */
#include <stdio.h>

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

void skp_scheduling_check_tolerations(struct eval *ev, const char *field, const json_t *v)
{
    size_t i;
    json_t *t;
    char f[320];
    json_array_foreach(v, i, t) {
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (!json_is_object(t)) {
            skp_violation(ev, f, "%s must be an object, not %s", f, sk_json_type_name(t));
            continue;
        }
        static const struct {
            const char *key;
            const char *const *allowed;
        } ENUMS[] = {{"operator", OPERATORS}, {"effect", EFFECTS}};
        for (size_t e = 0; e < sizeof ENUMS / sizeof *ENUMS; e++) {
            const json_t *x = json_object_get(t, ENUMS[e].key);
            char fe[340];
            snprintf(fe, sizeof fe, "%s.%s", f, ENUMS[e].key);
            if (x && !json_is_string(x))
                skp_violation(ev, fe, "%s must be a string, not %s", fe, sk_json_type_name(x));
            else if (x && *json_string_value(x))
                skp_check_enum(ev, fe, x, ENUMS[e].allowed);
        }
        const char *op = sk_json_str(t, "operator", NULL);
        if (op && json_string_length(json_object_get(t, "value")) &&
            skp_list_index(op, OPERATORS) == 0)
            skp_violation(ev, f, "%s: a toleration with operator Exists must have no value", f);
    }
}
