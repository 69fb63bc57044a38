/* spec.resources: defaults per missing request and limit, bounds per
 * resource. */
#include <stdio.h>

#include "engine.h"
#include "spacekeeper/json.h"

const struct skp_fit skp_resources_fit[] = {
    {"limits", "requests", +1}, /* a defaulted limit is never below the user's request */
    {"requests", "limits", -1}, /* a defaulted request is never above the user's limit */
    {NULL, NULL, 0},
};

void skp_resources_check_bound(struct eval *ev, const char *field, const json_t *text,
                               sk_quantity q, const sk_bound *b)
{
    char shown[64];
    const char *s = skp_quantity_text(text, q, shown, sizeof shown);
    char lim[64];
    if (b->has_min && sk_quantity_cmp(q, b->min) < 0)
        skp_violation(ev, field, "%s %s is below the minimum %s allowed by template \"%s\"", field,
                      s, b->min_text ? b->min_text : sk_quantity_format(b->min, lim, sizeof lim),
                      skp_tpl_name(ev));
    if (b->has_max && sk_quantity_cmp(q, b->max) > 0)
        skp_violation(ev, field, "%s %s is above the maximum %s allowed by template \"%s\"", field,
                      s, b->max_text ? b->max_text : sk_quantity_format(b->max, lim, sizeof lim),
                      skp_tpl_name(ev));
}

void skp_resources_check(struct eval *ev, const char *field, const json_t *v)
{
    static const char *const sections[] = {"requests", "limits"};
    char f[320];
    for (size_t s = 0; s < 2; s++) {
        json_t *sec = json_object_get(v, sections[s]);
        if (!sec)
            continue;
        if (!json_is_object(sec)) {
            snprintf(f, sizeof f, "%s.%s", field, sections[s]);
            skp_violation(ev, f, "%s must be a map of resource name to quantity, not %s", f,
                          sk_json_type_name(sec));
            continue;
        }
        const char *name;
        json_t *q;
        json_object_foreach(sec, name, q) {
            snprintf(f, sizeof f, "%s.%s.%s", field, sections[s], name);
            sk_quantity val;
            if (skp_parse_quantity(ev, f, q, &val) < 0)
                continue;
            const sk_bound *b =
                ev->tpl && ev->tpl->resource_bounds ? sk_map_get(ev->tpl->resource_bounds, name)
                                                    : NULL;
            if (b)
                skp_resources_check_bound(ev, f, q, val, b);
        }
    }
    /* A limit below its request is refused by the API server later; say so now. */
    json_t *req = json_object_get(v, "requests"), *lim = json_object_get(v, "limits");
    if (!json_is_object(req) || !json_is_object(lim))
        return;
    const char *name;
    json_t *l;
    json_object_foreach(lim, name, l) {
        json_t *r = json_object_get(req, name);
        sk_quantity lq, rq;
        if (!r || sk_quantity_from_json(l, &lq, NULL) < 0 || sk_quantity_from_json(r, &rq, NULL) < 0)
            continue;
        if (sk_quantity_cmp(lq, rq) < 0) {
            char lt[64], rt[64];
            snprintf(f, sizeof f, "%s.limits.%s", field, name);
            skp_violation(ev, f, "%s %s is less than %s.requests.%s %s", f,
                          skp_quantity_text(l, lq, lt, sizeof lt), field, name,
                          skp_quantity_text(r, rq, rt, sizeof rt));
        }
    }
}
