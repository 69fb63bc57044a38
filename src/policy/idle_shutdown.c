/* spec.idleShutdown: the template's default, and how far a workspace may
 * depart from it (idleShutdownOverrides). Either spelling of the timeout is
 * read; messages use the one the author wrote. */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"
#include "spacekeeper/spelling.h"

static const char *const TRANSPORTS[] = {"podExec", "network", NULL};

/* The timeout, checked for shape: 1 with *minutes when usable. */
static int timeout_of(struct eval *ev, const char *field, const json_t *v, long long *minutes,
                      const char **key, int *shape_ok)
{
    const json_t *timeout;
    char f[320];
    if (sk_spelling_get(v, &SK_SPELL_IDLE_TIMEOUT, &timeout, key) < 0) {
        snprintf(f, sizeof f, "%s.%s", field, SK_SPELL_IDLE_TIMEOUT.page);
        skp_violation(ev, f, "%s.%s and %s.%s mean the same and disagree: write one of them",
                      field, SK_SPELL_IDLE_TIMEOUT.page, field, SK_SPELL_IDLE_TIMEOUT.operator);
        *shape_ok = 0;
        return 0;
    }
    snprintf(f, sizeof f, "%s.%s", field, *key);
    if (!timeout)
        return 0;
    if (!json_is_integer(timeout) || json_integer_value(timeout) < 1) {
        skp_violation(ev, f, "%s must be a whole number of minutes, at least 1", f);
        *shape_ok = 0;
        return 0;
    }
    *minutes = json_integer_value(timeout);
    return 1;
}

static void check_http_get(struct eval *ev, const char *field, const json_t *get)
{
    char f[320];
    snprintf(f, sizeof f, "%s.detection.httpGet", field);
    if (!json_is_object(get)) {
        skp_violation(ev, f, "%s must be an object, not %s", f, sk_json_type_name(get));
        return;
    }
    const char *scheme = sk_json_str(get, "scheme", NULL);
    const json_t *transport = json_object_get(get, "transport");
    const json_t *headers = json_object_get(get, "httpHeaders");
    if (!json_object_get(get, "port"))
        skp_violation(ev, f, "%s.port is required", f);
    if (scheme && strcmp(scheme, "HTTP") != 0 && strcmp(scheme, "HTTPS") != 0)
        skp_violation(ev, f, "%s.scheme \"%s\" is not one of: HTTP, HTTPS", f, scheme);
    if (transport && !json_is_string(transport))
        skp_violation(ev, f, "%s.transport must be a string, not %s", f,
                      sk_json_type_name(transport));
    else if (transport) {
        char t[340];
        snprintf(t, sizeof t, "%s.transport", f);
        skp_check_enum(ev, t, transport, TRANSPORTS);
    }
    if (!headers)
        return;
    if (!json_is_array(headers)) {
        skp_violation(ev, f, "%s.httpHeaders must be a list of {name, value}, not %s", f,
                      sk_json_type_name(headers));
        return;
    }
    size_t i;
    json_t *h;
    json_array_foreach(headers, i, h) {
        if (!json_is_string(json_object_get(h, "name")) ||
            !json_is_string(json_object_get(h, "value")))
            skp_violation(ev, f, "%s.httpHeaders[%zu] must have a string name and value", f, i);
    }
}

/* Within the override bounds, which either spelling may give. */
static void check_bounds(struct eval *ev, const char *field, const char *key, long long m)
{
    const sk_template *t = ev->tpl;
    if (!((t->has_idle_min && m < t->idle_min) || (t->has_idle_max && m > t->idle_max)))
        return;
    char f[320], range[96];
    snprintf(f, sizeof f, "%s.%s", field, key);
    if (t->has_idle_min && t->has_idle_max)
        snprintf(range, sizeof range, "between %lld and %lld", t->idle_min, t->idle_max);
    else if (t->has_idle_min)
        snprintf(range, sizeof range, "at least %lld", t->idle_min);
    else
        snprintf(range, sizeof range, "at most %lld", t->idle_max);
    skp_violation(ev, f, "%s %lld is outside the range allowed by template \"%s\" (%s minutes)", f,
                  m, skp_tpl_name(ev), range);
}

void skp_idle_shutdown_check(struct eval *ev, const char *field, const json_t *v)
{
    char f[320];
    json_t *enabled = json_object_get(v, "enabled");
    json_t *detection = json_object_get(v, "detection");
    int shape_ok = 1;

    if (!json_is_boolean(enabled)) {
        snprintf(f, sizeof f, "%s.enabled", field);
        skp_violation(ev, f, "%s is required and must be true or false", f);
        shape_ok = 0;
    }
    int on = json_is_true(enabled);
    long long minutes = 0;
    const char *key = SK_SPELL_IDLE_TIMEOUT.page;
    int has_timeout = timeout_of(ev, field, v, &minutes, &key, &shape_ok);
    if (!has_timeout && shape_ok && on) {
        snprintf(f, sizeof f, "%s.%s", field, key);
        skp_violation(ev, f, "%s (or %s) is required when idle shutdown is enabled", f,
                      SK_SPELL_IDLE_TIMEOUT.operator);
        shape_ok = 0;
    }
    snprintf(f, sizeof f, "%s.detection", field);
    if (detection && !json_is_object(detection))
        skp_violation(ev, f, "%s must be an object, not %s", f, sk_json_type_name(detection));
    else if (!detection && on)
        skp_violation(ev, f, "%s is required when idle shutdown is enabled (for example httpGet "
                             "with path /api/idle and port 8888)", f);
    else if (detection && json_object_get(detection, "httpGet"))
        check_http_get(ev, field, json_object_get(detection, "httpGet"));
    if (!shape_ok || !ev->tpl)
        return;

    /* Only a departure from the template's default is an override. */
    const sk_template *t = ev->tpl;
    if (t->idle_default && sk_spelling_same_idle(v, t->idle_default))
        return;
    if (!t->idle_allow) {
        const json_t *dt;
        const char *dkey;
        sk_spelling_get(t->idle_default, &SK_SPELL_IDLE_TIMEOUT, &dt, &dkey);
        skp_violation(ev, field,
                      "%s cannot be overridden: template \"%s\" locks idle shutdown to enabled=%s, "
                      "%s=%lld; remove %s to inherit it",
                      field, skp_tpl_name(ev),
                      json_is_true(json_object_get(t->idle_default, "enabled")) ? "true" : "false",
                      dkey, (long long)json_integer_value(dt), field);
        return;
    }
    if (on && has_timeout)
        check_bounds(ev, field, key, minutes);
}

/* The default is not an override, so bounds that exclude it are legal
 * but almost certainly not what the admin meant. */
void skp_idle_shutdown_template_check(struct eval *ev, const sk_template *t)
{
    const json_t *dt;
    const char *key;
    if (sk_spelling_get(t->idle_default, &SK_SPELL_IDLE_TIMEOUT, &dt, &key) < 0)
        return; /* reported by the row's check */
    long long dm = json_integer_value(dt);
    if (dm > 0 && ((t->has_idle_min && dm < t->idle_min) || (t->has_idle_max && dm > t->idle_max)))
        skp_warning(ev,
                    "template \"%s\": defaultIdleShutdown.%s %lld is outside "
                    "idleShutdownOverrides [%lld, %lld]; workspaces that inherit the default keep "
                    "%lld",
                    t->name, key, dm, t->has_idle_min ? t->idle_min : 1LL,
                    t->has_idle_max ? t->idle_max : dm, dm);
}
