/* The toolkit every concern's checks share: reporting, lists, who asks. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"
#include "spacekeeper/patch.h"
#include "spacekeeper/violation.h"

void skp_violation(struct eval *ev, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sk_violation_add(ev->out->violations, field, "%s", msg);
}

void skp_warning(struct eval *ev, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(ev->out->warnings, json_string(msg));
}

int skp_list_index(const char *s, const char *const *list)
{
    for (int i = 0; s && list && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return i;
    return -1;
}

int skp_in_list(const char *s, const char *const *list)
{
    return skp_list_index(s, list) >= 0;
}

void skp_join_list(const char *const *list, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; list[i] && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", list[i]);
}

void skp_check_enum(struct eval *ev, const char *field, const json_t *v, const char *const *allowed)
{
    const char *s = json_string_value(v);
    if (skp_in_list(s, allowed))
        return;
    char list[256];
    skp_join_list(allowed, list, sizeof list);
    skp_violation(ev, field, "%s \"%s\" is not one of: %s", field, s, list);
}

const char *skp_tpl_name(const struct eval *ev)
{
    return ev->tpl ? ev->tpl->name : "";
}

int skp_is_user(const struct eval *ev, const char *who)
{
    return who && ev->req->user && strcmp(ev->req->user, who) == 0;
}

int sk_policy_is_admin(const sk_policy_config *cfg, const char *const *groups)
{
    if (!groups || !cfg->admin_groups)
        return 0;
    for (const char *const *g = groups; *g; g++)
        if (skp_in_list(*g, cfg->admin_groups))
            return 1;
    return 0;
}

int sk_policy_is_trusted(const sk_policy_config *cfg, const char *user)
{
    return skp_in_list(user, cfg->trusted_service_accounts);
}

const char *sk_policy_admin_groups_text(const sk_policy_config *cfg, char *buf, size_t cap)
{
    snprintf(buf, cap, "no admin group");
    if (cfg->admin_groups && cfg->admin_groups[0])
        skp_join_list(cfg->admin_groups, buf, cap);
    return buf;
}

int skp_in_admin_group(const struct eval *ev)
{
    return sk_policy_is_admin(ev->cfg, ev->req->groups);
}

const char *skp_admin_groups_text(const struct eval *ev, char *buf, size_t cap)
{
    return sk_policy_admin_groups_text(ev->cfg, buf, cap);
}

const char *skp_requester(const struct eval *ev)
{
    return ev->req->user && *ev->req->user ? ev->req->user : "(anonymous)";
}

const json_t *skp_old_at(const struct eval *ev, const char *const *path)
{
    return ev->old_spec ? sk_json_at(ev->old_spec, path) : NULL;
}

void skp_set(struct eval *ev, const char *field, const char *const *path, size_t n, json_t *value)
{
    sk_err err;
    if (sk_patch_set(ev->ops, ev->obj, path, n, value, &err) < 0)
        skp_violation(ev, field, "%s: %s", field, err.msg);
}

const char *skp_quantity_text(const json_t *v, sk_quantity q, char *buf, size_t cap)
{
    return json_is_string(v) ? json_string_value(v) : sk_quantity_format(q, buf, cap);
}

int skp_parse_quantity(struct eval *ev, const char *field, const json_t *v, sk_quantity *q)
{
    sk_err err;
    if (sk_quantity_from_json(v, q, &err) == 0)
        return 0;
    skp_violation(ev, field, "%s: %s", field, err.msg);
    return -1;
}

/* Names said twice mean one of the entries is silently lost. */
void skp_check_unique(struct eval *ev, const json_t *list, const char *field, const char *key)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *name = sk_json_str(e, key, NULL);
        for (size_t j = 0; name && j < i; j++) {
            const char *other = sk_json_str(json_array_get(list, j), key, NULL);
            if (other && strcmp(name, other) == 0) {
                char f[160];
                snprintf(f, sizeof f, "%s[%zu]", field, i);
                skp_violation(ev, f, "%s: %s \"%s\" is already given at %s[%zu]", f, key, name,
                              field, j);
                break;
            }
        }
    }
}

void skp_check_requirement(struct eval *ev, const char *field, const sk_requirement *q,
                           const char *what, const char *value)
{
    if (!value) {
        if (q->required)
            skp_violation(ev, field, "%s: %s %s is required by template \"%s\"", field, what,
                          q->key, skp_tpl_name(ev));
        return;
    }
    if (!q->pattern || !*q->pattern)
        return;
    if (!q->re) {
        skp_violation(ev, field,
                      "%s cannot be checked: template \"%s\" requires it to match \"%s\", which "
                      "%s; ask an admin to fix the template",
                      field, skp_tpl_name(ev), q->pattern, q->re_error ? q->re_error : "is invalid");
        return;
    }
    int m = sk_regex_search(q->re, value, strlen(value));
    if (m < 0)
        skp_violation(ev, field, "%s value could not be checked against \"%s\" of template \"%s\" "
                      "within the match limit", field, q->pattern, skp_tpl_name(ev));
    else if (m == 0)
        skp_violation(ev, field, "%s value \"%s\" does not match \"%s\" required by template \"%s\"",
                      field, value, q->pattern, skp_tpl_name(ev));
}
