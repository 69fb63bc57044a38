/* spec.env: the template's baseEnv merged in by name (the workspace's own
 * entry wins), and envRequirements: a variable may be required, and its
 * value must match a pattern (RE2 syntax, unanchored, as the operator
 * tests it); a valueFrom variable counts as "". */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"

/* The entry of `list` named `name`, or NULL. */
static const json_t *find_named(const json_t *list, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *n = sk_json_str(e, "name", NULL);
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

/* The entries themselves: what the pod spec would refuse. Field names are
 * formatted only for a violation: lists run to dozens of entries. */
static void check_entries(struct eval *ev, const char *field, const json_t *v)
{
    size_t i;
    json_t *e;
    char f[320];
    json_array_foreach(v, i, e) {
        const char *name = sk_json_str(e, "name", NULL);
        const json_t *value = json_object_get(e, "value");
        int bad_value = value && !json_is_string(value);
        if (json_is_object(e) && name && *name && !bad_value)
            continue;
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (bad_value)
            skp_violation(ev, f, "%s.value must be a string, not %s", f, sk_json_type_name(value));
        else
            skp_violation(ev, f, "%s must be an object with a non-empty string name", f);
    }
}

void skp_env_check(struct eval *ev, const char *field, const json_t *v)
{
    if (v)
        check_entries(ev, field, v);
    if (!ev->tpl)
        return;
    char f[320];
    for (size_t i = 0; i < ev->tpl->n_env_reqs; i++) {
        const sk_requirement *q = &ev->tpl->env_reqs[i];
        const json_t *e = v ? find_named(v, q->key) : NULL;
        snprintf(f, sizeof f, "%s[%s]", field, q->key);
        const char *value = sk_json_str(e, "value", NULL);
        skp_check_requirement(ev, f, q, "environment variable", e ? (value ? value : "") : NULL);
    }
}

void skp_env_template_check(struct eval *ev, const sk_template *t)
{
    const json_t *base = json_object_get(t->spec, "baseEnv");
    if (base && !json_is_array(base)) {
        skp_violation(ev, "spec.baseEnv", "spec.baseEnv must be a list, not %s",
                      sk_json_type_name(base));
        base = NULL;
    }
    if (base) {
        check_entries(ev, "spec.baseEnv", base);
        skp_check_unique(ev, base, "spec.baseEnv", "name");
    }
    skp_check_unique(ev, json_object_get(t->spec, "envRequirements"), "spec.envRequirements", "name");
    /* The template's own variables must pass its own requirements. */
    char f[320];
    for (size_t i = 0; base && i < t->n_env_reqs; i++) {
        const sk_requirement *q = &t->env_reqs[i];
        const json_t *e = find_named(base, q->key);
        const char *value = sk_json_str(e, "value", NULL);
        snprintf(f, sizeof f, "spec.baseEnv[%s]", q->key);
        if (e && q->re)
            skp_check_requirement(ev, f, q, "environment variable", value ? value : "");
    }
}
