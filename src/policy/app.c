/* What runs and whether it runs: spec.appType, spec.lifecycle,
 * spec.desiredStatus. */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"

/* The two the Spaces page names; the operator accepts any value (its own
 * production sample says "jupyter"), so others only draw a warning on the
 * template. */
static const char *const KNOWN_APP_TYPES[] = {"jupyterlab", "code-editor", NULL};
static const char *const DESIRED_STATUSES[] = {"Running", "Stopped", NULL};

#define MAX_SCRIPT_BYTES 1024
#define APP_TYPE_MAX 63

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A well-formed app type, as the CRD's pattern has it: letters and digits
 * at both ends, '-', '_' and '.' between, at most 63 characters. */
static const char *app_type_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "must not be empty";
    if (n > APP_TYPE_MAX)
        return "must be at most 63 characters";
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return "may hold only letters, digits, '-', '_' and '.'";
    if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return "must start and end with a letter or digit";
    return NULL;
}

void skp_app_check_type(struct eval *ev, const char *field, const json_t *v)
{
    const char *s = json_string_value(v);
    const char *why = app_type_problem(s);
    if (why) {
        skp_violation(ev, field, "%s \"%s\" %s", field, s, why);
        return;
    }
    if (!ev->self_check && ev->tpl && ev->tpl->app_type && strcmp(ev->tpl->app_type, s) != 0)
        skp_violation(ev, field, "%s \"%s\" does not match template \"%s\", which is for \"%s\"",
                      field, s, skp_tpl_name(ev), ev->tpl->app_type);
}

void skp_app_template_check(struct eval *ev, const sk_template *t)
{
    if (!t->app_type || app_type_problem(t->app_type) || skp_in_list(t->app_type, KNOWN_APP_TYPES))
        return;
    char known[64];
    skp_join_list(KNOWN_APP_TYPES, known, sizeof known);
    skp_warning(ev,
                "template \"%s\": spec.appType \"%s\" is not one the Spaces add-on knows (%s); "
                "workspaces must say the same appType to use it",
                t->name, t->app_type, known);
}

void skp_app_check_lifecycle(struct eval *ev, const char *field, const json_t *v)
{
    const char *hook;
    json_t *h;
    json_object_foreach((json_t *)v, hook, h) {
        json_t *cmd = sk_json_get(h, "exec", "command", NULL);
        if (!json_is_array(cmd))
            continue;
        size_t i;
        json_t *arg;
        json_array_foreach(cmd, i, arg) {
            size_t len = json_string_length(arg);
            if (json_is_string(arg) && len > MAX_SCRIPT_BYTES) {
                char f[320];
                snprintf(f, sizeof f, "%s.%s.exec.command[%zu]", field, hook, i);
                skp_violation(ev, f,
                              "%s is %zu bytes; a startup script may be at most %d bytes (1 KiB): "
                              "put larger scripts in the image and call them from here",
                              f, len, MAX_SCRIPT_BYTES);
            }
        }
    }
}

void skp_app_check_desired_status(struct eval *ev, const char *field, const json_t *v)
{
    skp_check_enum(ev, field, v, DESIRED_STATUSES);
}
