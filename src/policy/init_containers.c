/* spec.initContainers: the template's defaultInitContainers when the
 * workspace has none; anything else only where the template says
 * allowCustomInitContainers (init containers run before the app, with its
 * volumes and service account). */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"

void skp_init_containers_check(struct eval *ev, const char *field, const json_t *v)
{
    size_t i;
    json_t *c;
    char f[320];
    json_array_foreach(v, i, c) {
        const char *name = sk_json_str(c, "name", NULL);
        int named = json_is_object(c) && name && *name;
        if (named && json_is_string(json_object_get(c, "image")))
            continue;
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (!named)
            skp_violation(ev, f, "%s must be an object with a non-empty string name", f);
        else
            skp_violation(ev, f, "%s.image is required and must be a string", f);
    }
    const sk_template *t = ev->tpl;
    if (!t || t->allow_custom_init_containers || json_array_size(v) == 0)
        return;
    const json_t *defaults = json_object_get(t->spec, "defaultInitContainers");
    if (defaults && json_equal((json_t *)v, (json_t *)defaults))
        return;
    skp_violation(ev, field,
                  "%s: template \"%s\" does not allow custom init containers "
                  "(allowCustomInitContainers is false); remove them%s",
                  field, skp_tpl_name(ev),
                  json_array_size(defaults) ? " to get the template's own" : "");
}

void skp_init_containers_template_check(struct eval *ev, const sk_template *t)
{
    const json_t *defaults = json_object_get(t->spec, "defaultInitContainers");
    if (!defaults)
        return;
    if (!json_is_array(defaults)) {
        skp_violation(ev, "spec.defaultInitContainers",
                      "spec.defaultInitContainers must be a list, not %s",
                      sk_json_type_name(defaults));
        return;
    }
    skp_init_containers_check(ev, "spec.defaultInitContainers", defaults);
    skp_check_unique(ev, defaults, "spec.defaultInitContainers", "name");
}
