#include "spacekeeper/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spacekeeper/json.h"
#include "spacekeeper/metadata.h"
#include "spacekeeper/patch.h"
#include "spacekeeper/violation.h"

/* What an UPDATE changed decides which checks run: metadata-only edits and a
 * pure stop are never blocked by a template (a template may have tightened
 * since the workspace was made); anything else is re-checked against the
 * template as it is now, which includes starting a stopped workspace. */
typedef enum change {
    CHANGE_CREATE,
    CHANGE_METADATA,
    CHANGE_STOP,
    CHANGE_SPEC,
    CHANGE_DELETE,
} change;

struct eval {
    const sk_policy_config *cfg;
    const sk_store *store;
    const sk_request *req;
    const sk_template *tpl;     /* NULL when the workspace has none */
    const json_t *old_spec;     /* NULL on CREATE and in template self-checks */
    json_t *obj;                /* the object being defaulted (out->object) */
    sk_decision *out;
    change change;
    int self_check;             /* checking a template's own defaults */
};

typedef void (*check_fn)(struct eval *ev, const char *field, const json_t *value);

/* What the workspace operator gives a volume that has no size. */
#define OPERATOR_STORAGE_SIZE "10Gi"

enum shape { SHAPE_ANY, SHAPE_STRING, SHAPE_OBJECT, SHAPE_ARRAY, SHAPE_QUANTITY };

/* One row per workspace field: where it lives, which template field
 * defaults it, what it must look like and what bounds it. */
struct rule {
    const char *field;      /* for messages */
    const char *ws[3];      /* path under the workspace's spec */
    const char *tpl[3];     /* path under the template's spec; {NULL}: no template default */
    const char *fallback;   /* string default when the template gives none */
    enum shape shape;
    int deep_merge;         /* fill absent leaves of a present object too */
    check_fn check;
    const struct fit *fit;  /* how merged defaults agree with the user's own values */
    /* A default computed when the template gives none (new reference, or
     * NULL for none); applied after every template default. */
    json_t *(*derive)(const struct eval *ev);
};

/* A default merged into an object the user partly wrote never contradicts
 * what the user wrote: a defaulted quantity under `section` is kept at least
 * (sign +1) or at most (sign -1) the user's own value for the same key under
 * `other`, and takes that value otherwise. */
struct fit {
    const char *section, *other;
    int sign;
};

static const struct fit RESOURCE_FIT[] = {
    {"limits", "requests", +1}, /* a defaulted limit is never below the user's request */
    {"requests", "limits", -1}, /* a defaulted request is never above the user's limit */
    {NULL, NULL, 0},
};

static void check_image(struct eval *ev, const char *field, const json_t *v);
static void check_resources(struct eval *ev, const char *field, const json_t *v);
static void check_storage_size(struct eval *ev, const char *field, const json_t *v);
static void check_storage_class(struct eval *ev, const char *field, const json_t *v);
static void check_mount_path(struct eval *ev, const char *field, const json_t *v);
static void check_volumes(struct eval *ev, const char *field, const json_t *v);
static void check_ownership_type(struct eval *ev, const char *field, const json_t *v);
static void check_lifecycle(struct eval *ev, const char *field, const json_t *v);
static void check_idle(struct eval *ev, const char *field, const json_t *v);
static void check_app_type(struct eval *ev, const char *field, const json_t *v);
static void check_desired_status(struct eval *ev, const char *field, const json_t *v);
static json_t *derive_storage_size(const struct eval *ev);
static json_t *derive_image(const struct eval *ev);

static const struct rule RULES[] = {
    {"spec.image", {"image"}, {"defaultImage"}, NULL, SHAPE_STRING, 0, check_image, NULL,
     derive_image},
    {"spec.resources", {"resources"}, {"defaultResources"}, NULL, SHAPE_OBJECT, 1,
     check_resources, RESOURCE_FIT},
    {"spec.storage.size", {"storage", "size"}, {"primaryStorage", "defaultSize"}, NULL,
     SHAPE_QUANTITY, 0, check_storage_size, NULL, derive_storage_size},
    {"spec.storage.storageClassName", {"storage", "storageClassName"},
     {"primaryStorage", "defaultStorageClassName"}, NULL, SHAPE_STRING, 0, check_storage_class},
    {"spec.storage.mountPath", {"storage", "mountPath"}, {"primaryStorage", "defaultMountPath"},
     NULL, SHAPE_STRING, 0, check_mount_path},
    {"spec.volumes", {"volumes"}, {NULL}, NULL, SHAPE_ARRAY, 0, check_volumes},
    {"spec.containerConfig", {"containerConfig"}, {"defaultContainerConfig"}, NULL, SHAPE_OBJECT,
     0, NULL},
    {"spec.podSecurityContext", {"podSecurityContext"}, {"defaultPodSecurityContext"}, NULL,
     SHAPE_OBJECT, 0, NULL},
    {"spec.ownershipType", {"ownershipType"}, {"defaultOwnershipType"}, "Public",
     SHAPE_STRING, 0, check_ownership_type},
    {"spec.accessStrategy", {"accessStrategy"}, {"defaultAccessStrategy"}, NULL, SHAPE_OBJECT, 0,
     NULL},
    {"spec.lifecycle", {"lifecycle"}, {"defaultLifecycle"}, NULL, SHAPE_OBJECT, 0,
     check_lifecycle},
    {"spec.idleShutdown", {"idleShutdown"}, {"defaultIdleShutdown"}, NULL, SHAPE_OBJECT, 0,
     check_idle},
    {"spec.appType", {"appType"}, {"appType"}, NULL, SHAPE_STRING, 0, check_app_type},
    {"spec.nodeSelector", {"nodeSelector"}, {"defaultNodeSelector"}, NULL, SHAPE_OBJECT, 0, NULL},
    {"spec.affinity", {"affinity"}, {"defaultAffinity"}, NULL, SHAPE_OBJECT, 0, NULL},
    {"spec.tolerations", {"tolerations"}, {"defaultTolerations"}, NULL, SHAPE_ARRAY, 0, NULL},
    {"spec.desiredStatus", {"desiredStatus"}, {NULL}, "Running", SHAPE_STRING, 0,
     check_desired_status},
};
#define NRULES (sizeof RULES / sizeof *RULES)

static const char *const RESERVED_MOUNTS[] = {"/opt/ml", "/opt/.sagemakerinternal", NULL};
static const char *const OWNERSHIP_TYPES[] = {"Public", "OwnerOnly", NULL};
static const char *const APP_TYPES[] = {"jupyterlab", "code-editor", NULL};
static const char *const DESIRED_STATUSES[] = {"Running", "Stopped", NULL};

#define MAX_SCRIPT_BYTES 1024

/* ---- small helpers ---- */

static void violation(struct eval *ev, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void violation(struct eval *ev, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sk_violation_add(ev->out->violations, field, "%s", msg);
}

static void warning(struct eval *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warning(struct eval *ev, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(ev->out->warnings, json_string(msg));
}

/* The index of s in a NULL-terminated list, or -1. */
static int list_index(const char *s, const char *const *list)
{
    for (int i = 0; s && list && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return i;
    return -1;
}

static int in_list(const char *s, const char *const *list)
{
    return list_index(s, list) >= 0;
}

static void join_list(const char *const *list, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; list[i] && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", list[i]);
}

static void check_enum(struct eval *ev, const char *field, const json_t *v,
                       const char *const *allowed)
{
    const char *s = json_string_value(v);
    if (in_list(s, allowed))
        return;
    char list[256];
    join_list(allowed, list, sizeof list);
    violation(ev, field, "%s \"%s\" is not one of: %s", field, s, list);
}

static const char *tpl_name(const struct eval *ev)
{
    return ev->tpl ? ev->tpl->name : "";
}

static int is_user(const struct eval *ev, const char *who)
{
    return who && ev->req->user && strcmp(ev->req->user, who) == 0;
}

int sk_policy_is_admin(const sk_policy_config *cfg, const char *const *groups)
{
    if (!groups || !cfg->admin_groups)
        return 0;
    for (const char *const *g = groups; *g; g++)
        if (in_list(*g, cfg->admin_groups))
            return 1;
    return 0;
}

int sk_policy_is_trusted(const sk_policy_config *cfg, const char *user)
{
    return in_list(user, cfg->trusted_service_accounts);
}

const char *sk_policy_admin_groups_text(const sk_policy_config *cfg, char *buf, size_t cap)
{
    snprintf(buf, cap, "no admin group");
    if (cfg->admin_groups && cfg->admin_groups[0])
        join_list(cfg->admin_groups, buf, cap);
    return buf;
}

static int in_admin_group(const struct eval *ev)
{
    return sk_policy_is_admin(ev->cfg, ev->req->groups);
}

static const char *admin_groups_text(const struct eval *ev, char *buf, size_t cap)
{
    return sk_policy_admin_groups_text(ev->cfg, buf, cap);
}

static const char *requester(const struct eval *ev)
{
    return ev->req->user && *ev->req->user ? ev->req->user : "(anonymous)";
}

static const json_t *old_at(const struct eval *ev, const char *const *path)
{
    return ev->old_spec ? sk_json_at(ev->old_spec, path) : NULL;
}

/* ---- checks: each reports under the field name it is given, so the same
 * check serves a workspace field and the template default that feeds it ---- */

static void check_image(struct eval *ev, const char *field, const json_t *v)
{
    const char *image = json_string_value(v);
    if (!*image) {
        violation(ev, field, "%s must not be empty", field);
        return;
    }
    if (!ev->tpl || sk_template_allows_image(ev->tpl, image))
        return;
    char allowed[512];
    sk_template_describe_images(ev->tpl, 5, allowed, sizeof allowed);
    if (ev->self_check)
        violation(ev, field,
                  "%s \"%s\" is not in spec.allowedImages (%s): list it there or set "
                  "allowCustomImages: true",
                  field, image, allowed);
    else
        violation(ev, field, "%s \"%s\" is not allowed by template \"%s\" (allowed: %s)", field,
                  image, tpl_name(ev), allowed);
}

/* The seed's default, the latest SageMaker Distribution (--default-image),
 * when no template gives a defaultImage; only where the template allows it,
 * so that a template with a fixed list asks for an image rather than
 * offering one it then refuses. */
static json_t *derive_image(const struct eval *ev)
{
    const char *image = ev->cfg->default_image;
    if (!image || !*image || (ev->tpl && !sk_template_allows_image(ev->tpl, image)))
        return NULL;
    return json_string(image);
}

/* A quantity as the user wrote it, or formatted when it was a number. */
static const char *quantity_text(const json_t *v, sk_quantity q, char *buf, size_t cap)
{
    return json_is_string(v) ? json_string_value(v) : sk_quantity_format(q, buf, cap);
}

/* Reports a quantity outside the template's [min, max]. */
static void check_bound(struct eval *ev, const char *field, const json_t *text, sk_quantity q,
                        const sk_bound *b)
{
    char shown[64];
    const char *s = quantity_text(text, q, shown, sizeof shown);
    char lim[64];
    if (b->has_min && sk_quantity_cmp(q, b->min) < 0)
        violation(ev, field, "%s %s is below the minimum %s allowed by template \"%s\"", field, s,
                  b->min_text ? b->min_text : sk_quantity_format(b->min, lim, sizeof lim),
                  tpl_name(ev));
    if (b->has_max && sk_quantity_cmp(q, b->max) > 0)
        violation(ev, field, "%s %s is above the maximum %s allowed by template \"%s\"", field, s,
                  b->max_text ? b->max_text : sk_quantity_format(b->max, lim, sizeof lim),
                  tpl_name(ev));
}

static int parse_quantity(struct eval *ev, const char *field, const json_t *v, sk_quantity *q)
{
    sk_err err;
    if (sk_quantity_from_json(v, q, &err) == 0)
        return 0;
    violation(ev, field, "%s: %s", field, err.msg);
    return -1;
}

static void check_resources(struct eval *ev, const char *field, const json_t *v)
{
    static const char *const sections[] = {"requests", "limits"};
    char f[320];
    for (size_t s = 0; s < 2; s++) {
        json_t *sec = json_object_get(v, sections[s]);
        if (!sec)
            continue;
        if (!json_is_object(sec)) {
            snprintf(f, sizeof f, "%s.%s", field, sections[s]);
            violation(ev, f, "%s must be a map of resource name to quantity, not %s", f,
                      sk_json_type_name(sec));
            continue;
        }
        const char *name;
        json_t *q;
        json_object_foreach(sec, name, q) {
            snprintf(f, sizeof f, "%s.%s.%s", field, sections[s], name);
            sk_quantity val;
            if (parse_quantity(ev, f, q, &val) < 0)
                continue;
            const sk_bound *b =
                ev->tpl && ev->tpl->resource_bounds ? sk_map_get(ev->tpl->resource_bounds, name)
                                                    : NULL;
            if (b)
                check_bound(ev, f, q, val, b);
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
            violation(ev, f, "%s %s is less than %s.requests.%s %s", f,
                      quantity_text(l, lq, lt, sizeof lt), field, name,
                      quantity_text(r, rq, rt, sizeof rt));
        }
    }
}

static void check_storage_size(struct eval *ev, const char *field, const json_t *v)
{
    sk_quantity q;
    if (parse_quantity(ev, field, v, &q) < 0)
        return;
    if (ev->tpl)
        check_bound(ev, field, v, q, &ev->tpl->storage);
    static const char *const path[] = {"storage", "size", NULL};
    const json_t *old = old_at(ev, path);
    sk_quantity oq;
    if (old && sk_quantity_from_json(old, &oq, NULL) == 0 && sk_quantity_cmp(q, oq) < 0) {
        char a[64], b[64];
        violation(ev, field, "%s cannot shrink from %s to %s: volumes can only grow", field,
                  quantity_text(old, oq, a, sizeof a),
                  quantity_text(v, q, b, sizeof b));
    }
}

/* Where the operator's implicit size sits against the template's bounds:
 * -1 below minSize, +1 above maxSize, 0 within them (or no template). */
static int operator_size_side(const sk_template *t)
{
    sk_quantity q;
    if (!t || sk_quantity_parse(OPERATOR_STORAGE_SIZE, &q, NULL) < 0)
        return 0;
    if (t->storage.has_min && sk_quantity_cmp(q, t->storage.min) < 0)
        return -1;
    if (t->storage.has_max && sk_quantity_cmp(q, t->storage.max) > 0)
        return 1;
    return 0;
}

static const char *size_bound_key(int side)
{
    return side < 0 ? "minSize" : "maxSize";
}

/* Storage without a size would get the operator's 10Gi unchecked, past a
 * template's maximum: give it that size explicitly, moved into the bounds. */
static json_t *derive_storage_size(const struct eval *ev)
{
    if (!json_is_object(sk_json_get(ev->obj, "spec", "storage", NULL)))
        return NULL;
    int side = operator_size_side(ev->tpl);
    if (!side)
        return json_string(OPERATOR_STORAGE_SIZE);
    return json_deep_copy(sk_json_get(ev->tpl->spec, "primaryStorage", size_bound_key(side), NULL));
}

static void check_storage_class(struct eval *ev, const char *field, const json_t *v)
{
    static const char *const path[] = {"storage", "storageClassName", NULL};
    const char *old = json_string_value(old_at(ev, path));
    if (old && strcmp(old, json_string_value(v)) != 0)
        violation(ev, field, "%s is immutable: it is \"%s\" and cannot become \"%s\"", field, old,
                  json_string_value(v));
}

static void check_mount_path(struct eval *ev, const char *field, const json_t *v)
{
    const char *p = json_string_value(v);
    if (p[0] != '/') {
        violation(ev, field, "%s \"%s\" must be an absolute path", field, p);
        return;
    }
    /* Normalise "//", "/./" and trailing "/" so that no spelling slips past
     * the reserved prefixes; ".." is refused outright. */
    char norm[4096];
    size_t n = 0;
    for (const char *s = p; *s;) {
        while (*s == '/')
            s++;
        const char *seg = s;
        while (*s && *s != '/')
            s++;
        size_t len = (size_t)(s - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            violation(ev, field, "%s \"%s\" must not contain \"..\"", field, p);
            return;
        }
        if (n + len + 2 >= sizeof norm) {
            violation(ev, field, "%s is longer than %zu bytes", field, sizeof norm);
            return;
        }
        norm[n++] = '/';
        memcpy(norm + n, seg, len);
        n += len;
    }
    if (n == 0)
        norm[n++] = '/';
    norm[n] = '\0';
    for (const char *const *r = RESERVED_MOUNTS; *r; r++) {
        size_t rl = strlen(*r);
        if (strncmp(norm, *r, rl) == 0 && (norm[rl] == '\0' || norm[rl] == '/')) {
            violation(ev, field, "%s \"%s\" is under %s, which is reserved for the platform", field,
                      p, *r);
            return;
        }
    }
}

static void check_volumes(struct eval *ev, const char *field, const json_t *v)
{
    if (ev->tpl && !ev->tpl->allow_secondary_storages && json_array_size(v) > 0)
        violation(ev, field,
                  "%s: template \"%s\" does not allow secondary storage (allowSecondaryStorages "
                  "is false); remove the %zu volume(s)",
                  field, tpl_name(ev), json_array_size(v));
}

static void check_ownership_type(struct eval *ev, const char *field, const json_t *v)
{
    check_enum(ev, field, v, OWNERSHIP_TYPES);
}

static void check_lifecycle(struct eval *ev, const char *field, const json_t *v)
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
                violation(ev, f,
                          "%s is %zu bytes; a startup script may be at most %d bytes (1 KiB): "
                          "put larger scripts in the image and call them from here",
                          f, len, MAX_SCRIPT_BYTES);
            }
        }
    }
}

static void check_idle(struct eval *ev, const char *field, const json_t *v)
{
    char f[320];
    json_t *enabled = json_object_get(v, "enabled");
    json_t *timeout = json_object_get(v, "idleShutdownTimeoutMinutes");
    json_t *detection = json_object_get(v, "detection");
    int shape_ok = 1;

    if (!json_is_boolean(enabled)) {
        snprintf(f, sizeof f, "%s.enabled", field);
        violation(ev, f, "%s is required and must be true or false", f);
        shape_ok = 0;
    }
    int on = json_is_true(enabled);
    snprintf(f, sizeof f, "%s.idleShutdownTimeoutMinutes", field);
    if (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) < 1)) {
        violation(ev, f, "%s must be a whole number of minutes, at least 1", f);
        shape_ok = 0;
    } else if (!timeout && on) {
        violation(ev, f, "%s is required when idle shutdown is enabled", f);
        shape_ok = 0;
    }
    snprintf(f, sizeof f, "%s.detection", field);
    if (detection && !json_is_object(detection)) {
        violation(ev, f, "%s must be an object, not %s", f, sk_json_type_name(detection));
    } else if (!detection && on) {
        violation(ev, f, "%s is required when idle shutdown is enabled (for example httpGet "
                         "with path /api/idle and port 8888)", f);
    } else if (detection) {
        json_t *get = json_object_get(detection, "httpGet");
        const char *scheme = sk_json_str(get, "scheme", NULL);
        snprintf(f, sizeof f, "%s.detection.httpGet", field);
        if (get && !json_is_object(get))
            violation(ev, f, "%s must be an object, not %s", f, sk_json_type_name(get));
        else if (get && !json_object_get(get, "port"))
            violation(ev, f, "%s.port is required", f);
        else if (scheme && strcmp(scheme, "HTTP") != 0 && strcmp(scheme, "HTTPS") != 0)
            violation(ev, f, "%s.scheme \"%s\" is not one of: HTTP, HTTPS", f, scheme);
    }
    if (!shape_ok || !ev->tpl)
        return;

    /* Only a departure from the template's default is an override. */
    const sk_template *t = ev->tpl;
    if (t->idle_default && json_equal((json_t *)v, (json_t *)t->idle_default))
        return;
    if (!t->idle_allow) {
        json_t *dt = json_object_get(t->idle_default, "idleShutdownTimeoutMinutes");
        violation(ev, field,
                  "%s cannot be overridden: template \"%s\" locks idle shutdown to enabled=%s, "
                  "idleShutdownTimeoutMinutes=%lld; remove %s to inherit it",
                  field, tpl_name(ev),
                  json_is_true(json_object_get(t->idle_default, "enabled")) ? "true" : "false",
                  (long long)json_integer_value(dt), field);
        return;
    }
    if (!on || !timeout)
        return;
    long long m = json_integer_value(timeout);
    snprintf(f, sizeof f, "%s.idleShutdownTimeoutMinutes", field);
    if ((t->has_idle_min && m < t->idle_min) || (t->has_idle_max && m > t->idle_max)) {
        char range[96];
        if (t->has_idle_min && t->has_idle_max)
            snprintf(range, sizeof range, "between %lld and %lld", t->idle_min, t->idle_max);
        else if (t->has_idle_min)
            snprintf(range, sizeof range, "at least %lld", t->idle_min);
        else
            snprintf(range, sizeof range, "at most %lld", t->idle_max);
        violation(ev, f, "%s %lld is outside the range allowed by template \"%s\" (%s minutes)", f,
                  m, tpl_name(ev), range);
    }
}

static void check_app_type(struct eval *ev, const char *field, const json_t *v)
{
    const char *s = json_string_value(v);
    if (!in_list(s, APP_TYPES)) {
        check_enum(ev, field, v, APP_TYPES);
        return;
    }
    if (ev->tpl && ev->tpl->app_type && strcmp(ev->tpl->app_type, s) != 0)
        violation(ev, field, "%s \"%s\" does not match template \"%s\", which is for \"%s\"", field,
                  s, tpl_name(ev), ev->tpl->app_type);
}

static void check_desired_status(struct eval *ev, const char *field, const json_t *v)
{
    check_enum(ev, field, v, DESIRED_STATUSES);
}

/* ---- running the table ---- */

static int shape_ok(struct eval *ev, const struct rule *r, const char *field, const json_t *v)
{
    static const char *const names[] = {
        [SHAPE_STRING] = "a string",
        [SHAPE_OBJECT] = "an object",
        [SHAPE_ARRAY] = "a list",
        [SHAPE_QUANTITY] = "a quantity (a string such as \"10Gi\" or a number)",
    };
    int ok;
    switch (r->shape) {
    case SHAPE_STRING: ok = json_is_string(v); break;
    case SHAPE_OBJECT: ok = json_is_object(v); break;
    case SHAPE_ARRAY: ok = json_is_array(v); break;
    case SHAPE_QUANTITY: ok = json_is_string(v) || json_is_number(v); break;
    default: ok = 1; break;
    }
    if (!ok)
        violation(ev, field, "%s must be %s, not %s", field, names[r->shape], sk_json_type_name(v));
    return ok;
}

static void run_checks(struct eval *ev, const json_t *spec)
{
    for (size_t i = 0; i < NRULES; i++) {
        const struct rule *r = &RULES[i];
        const json_t *v = sk_json_at(spec, r->ws);
        if (!v || json_is_null(v))
            continue;
        if (shape_ok(ev, r, r->field, v) && r->check)
            r->check(ev, r->field, v);
    }
}

/* A new copy of the default `want` for user[section][key], fitted to the
 * user's own values (`user`: the object as the user wrote it). */
static json_t *fit_leaf(const struct fit *fit, const json_t *user, const char *section,
                        const char *key, const json_t *want)
{
    for (; fit && fit->section; fit++) {
        if (strcmp(fit->section, section) != 0)
            continue;
        const json_t *mine = sk_json_get(user, fit->other, key, NULL);
        sk_quantity w, m;
        if (mine && sk_quantity_from_json(want, &w, NULL) == 0 &&
            sk_quantity_from_json(mine, &m, NULL) == 0 && sk_quantity_cmp(w, m) * fit->sign < 0)
            return json_deep_copy(mine);
    }
    return json_deep_copy(want);
}

/* A new copy of the default for the user's object at `rel` (n keys below
 * the rule's field): a whole section is fitted key by key. */
static json_t *fitted(const struct rule *r, const json_t *user, const char *const *rel, size_t n,
                      const json_t *want)
{
    if (!r->fit || n == 0 || n > 2)
        return json_deep_copy(want);
    if (n == 2)
        return fit_leaf(r->fit, user, rel[0], rel[1], want);
    json_t *copy = json_deep_copy(want);
    const char *key;
    json_t *v;
    json_object_foreach(copy, key, v)
        json_object_set_new(copy, key, fit_leaf(r->fit, user, rel[0], key, v));
    return copy;
}

/* Fills absent leaves of `have` from `want`, both objects, at `path`;
 * path[base..] is the part below the rule's field. */
static void merge_defaults(struct eval *ev, const struct rule *r, const json_t *user,
                           const char **path, size_t base, size_t depth, const json_t *have,
                           const json_t *want)
{
    if (depth >= 16)
        return;
    const char *key;
    json_t *wv;
    json_object_foreach((json_t *)want, key, wv) {
        json_t *hv = json_object_get(have, key);
        path[depth] = key;
        if (!hv || json_is_null(hv)) {
            sk_err err;
            json_t *v = fitted(r, user, path + base, depth + 1 - base, wv);
            if (sk_patch_set(ev->out->patch, ev->obj, path, depth + 1, v, &err) < 0)
                violation(ev, "spec", "spec: %s", err.msg);
        } else if (json_is_object(hv) && json_is_object(wv)) {
            merge_defaults(ev, r, user, path, base, depth + 1, hv, wv);
        }
    }
}

static void apply_defaults(struct eval *ev)
{
    const char *path[20] = {"spec"};
    /* Derived defaults come second: they depend on what the template's
     * defaults produced (storage that a class default created needs a size). */
    for (int derived = 0; derived < 2; derived++) {
        for (size_t i = 0; i < NRULES; i++) {
            const struct rule *r = &RULES[i];
            json_t *spec = json_object_get(ev->obj, "spec");
            const json_t *have = sk_json_at(spec, r->ws);
            const json_t *want;
            json_t *made = NULL; /* a default of our own, not the template's */
            if (!derived) {
                want = ev->tpl && r->tpl[0] ? sk_json_at(ev->tpl->spec, r->tpl) : NULL;
                if (!want && r->fallback)
                    want = made = json_string(r->fallback);
            } else {
                int absent = !have || json_is_null(have);
                want = made = absent && r->derive ? r->derive(ev) : NULL;
            }
            if (!want)
                continue;
            size_t depth = 1;
            for (const char *const *p = r->ws; *p && depth < 4; p++)
                path[depth++] = *p;
            if (!have || json_is_null(have)) {
                sk_err err;
                if (sk_patch_set(ev->out->patch, ev->obj, path, depth, json_deep_copy(want), &err) < 0)
                    violation(ev, r->field, "%s: %s", r->field, err.msg);
            } else if (r->deep_merge && json_is_object(have) && json_is_object(want)) {
                /* what the user wrote, before any default lands in it */
                json_t *user = json_deep_copy(have);
                merge_defaults(ev, r, user, path, depth, depth, have, want);
                json_decref(user);
            }
            json_decref(made);
        }
    }
}

/* Sets metadata.<section>[key] = value unless it already holds it. */
static void stamp(struct eval *ev, const char *section, const char *key, const char *value)
{
    const char *cur = sk_json_str(ev->obj, "metadata", section, key, NULL);
    if (cur && strcmp(cur, value) == 0)
        return;
    const char *path[] = {"metadata", section, key};
    sk_err err;
    if (sk_patch_set(ev->out->patch, ev->obj, path, 3, json_string(value), &err) < 0)
        violation(ev, "metadata", "metadata.%s: %s", section, err.msg);
}

static int has_kueue_label(const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(sk_json_get(obj, "metadata", "labels", NULL), k, v) {
        if (strncmp(k, SK_KUEUE_PREFIX, strlen(SK_KUEUE_PREFIX)) == 0)
            return 1;
    }
    return 0;
}

static void stamp_metadata(struct eval *ev)
{
    const char *user = ev->req->user && *ev->req->user ? ev->req->user : NULL;
    if (ev->change == CHANGE_CREATE && user)
        stamp(ev, "annotations", SK_ANNOTATION_CREATED_BY, user);
    if (ev->change != CHANGE_CREATE) {
        /* created-by is immutable: put back what the workspace was created with. */
        const char *orig =
            sk_json_str(ev->req->old_object, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
        if (orig)
            stamp(ev, "annotations", SK_ANNOTATION_CREATED_BY, orig);
    }
    if (user)
        stamp(ev, "annotations", SK_ANNOTATION_LAST_UPDATED_BY, user);
    if (!ev->tpl)
        return;
    stamp(ev, "labels", SK_LABEL_TEMPLATE_NAME, ev->tpl->name);
    stamp(ev, "labels", SK_LABEL_TEMPLATE_NAMESPACE, ev->tpl->ns);
    if (has_kueue_label(ev->obj))
        return;
    const char *k;
    json_t *v;
    json_object_foreach(sk_json_get(ev->tpl->obj, "metadata", "labels", NULL), k, v) {
        if (strncmp(k, SK_KUEUE_PREFIX, strlen(SK_KUEUE_PREFIX)) == 0 && json_is_string(v))
            stamp(ev, "labels", k, json_string_value(v));
    }
}

/* ---- template resolution ---- */

static const char *object_namespace(const struct eval *ev, const json_t *obj)
{
    const char *ns = sk_json_str(obj, "metadata", "namespace", NULL);
    if (ns && *ns)
        return ns;
    if (ev->req->namespace && *ev->req->namespace)
        return ev->req->namespace;
    return "default";
}

/* Finds the template a workspace in `ns` names (spec.templateRef) or
 * inherits (its namespace's default, else the shared one): 0 when resolved
 * (*tpl may still be NULL if no template applies), -1 with a violation
 * appended to `violations` (may be NULL) when it cannot be. */
static int find_template(const sk_policy_config *cfg, const sk_store *st, const json_t *obj,
                         const char *ns, const sk_template **tpl, int *by_default, json_t *violations)
{
    const char *shared = sk_store_shared_namespace(st);
    json_t *ref = sk_json_get(obj, "spec", "templateRef", NULL);
    *by_default = 0;
    *tpl = NULL;
    if (ref && !json_is_null(ref)) {
        const char *name = sk_json_str(ref, "name", NULL);
        json_t *rns = json_object_get(ref, "namespace");
        if (!json_is_object(ref) || !name || !*name) {
            sk_violation_add(violations, "spec.templateRef.name",
                             "spec.templateRef.name is required and must be a string");
            return -1;
        }
        if (rns && !json_is_string(rns)) {
            sk_violation_add(violations, "spec.templateRef.namespace",
                             "spec.templateRef.namespace must be a string, not %s", sk_json_type_name(rns));
            return -1;
        }
        const char *want_ns = json_string_value(rns);
        /* Checked before the lookup, so that it tells nothing about what
         * other namespaces hold. */
        if (cfg->template_scope == SK_SCOPE_NAMESPACE && want_ns && *want_ns &&
            strcmp(want_ns, ns) != 0 && strcmp(want_ns, shared) != 0) {
            sk_violation_add(violations, "spec.templateRef",
                             "spec.templateRef: template \"%s\" in namespace \"%s\" is out of reach: with "
                             "--template-scope namespace a workspace in \"%s\" may use templates of its "
                             "own namespace or of the shared namespace \"%s\"",
                             name, want_ns, ns, shared);
            return -1;
        }
        if (want_ns && *want_ns)
            *tpl = sk_store_get(st, want_ns, name);
        else if (!(*tpl = sk_store_get(st, ns, name)))
            *tpl = sk_store_get(st, shared, name);
        if (*tpl)
            return 0;
        if (want_ns && *want_ns)
            sk_violation_add(violations, "spec.templateRef",
                             "spec.templateRef: template \"%s\" not found in namespace \"%s\"", name,
                             want_ns);
        else
            sk_violation_add(violations, "spec.templateRef",
                             "spec.templateRef: template \"%s\" not found in namespace \"%s\" or in the "
                             "shared namespace \"%s\"", name, ns, shared);
        return -1;
    }
    const char *const spaces[] = {ns, shared};
    for (size_t i = 0; i < 2; i++) {
        const sk_template *conflict[2] = {NULL, NULL};
        *tpl = sk_store_default(st, spaces[i], conflict);
        if (conflict[0]) {
            sk_violation_add(violations, "spec.templateRef",
                             "spec.templateRef is not set and namespace \"%s\" has two default templates, "
                             "\"%s\" and \"%s\" (label %s=true): set spec.templateRef or ask an admin "
                             "to keep one default",
                             spaces[i], conflict[0]->name, conflict[1]->name, SK_LABEL_DEFAULT_TEMPLATE);
            return -1;
        }
        if (*tpl) {
            *by_default = 1;
            return 0;
        }
        if (strcmp(ns, shared) == 0)
            break;
    }
    return 0;
}

static int resolve_template(struct eval *ev, int *by_default)
{
    return find_template(ev->cfg, ev->store, ev->obj, object_namespace(ev, ev->obj), &ev->tpl,
                         by_default, ev->out->violations);
}

const sk_template *sk_policy_template_for(const sk_policy_config *cfg, const sk_store *store,
                                          const json_t *workspace)
{
    const char *ns = sk_json_str(workspace, "metadata", "namespace", NULL);
    const sk_template *tpl;
    int by_default;
    if (find_template(cfg, store, workspace, ns && *ns ? ns : "default", &tpl, &by_default, NULL) < 0)
        return NULL;
    return tpl;
}

/* ---- workspaces ---- */

static change classify_update(const json_t *old_spec, const json_t *new_spec)
{
    if (json_equal((json_t *)old_spec, (json_t *)new_spec))
        return CHANGE_METADATA;
    const char *status = sk_json_str(new_spec, "desiredStatus", NULL);
    if (!status || strcmp(status, "Stopped") != 0 || !json_is_object(new_spec))
        return CHANGE_SPEC;
    json_t *copy = json_deep_copy(new_spec);
    json_t *old_status = json_object_get(old_spec, "desiredStatus");
    if (old_status)
        json_object_set(copy, "desiredStatus", old_status);
    else
        json_object_del(copy, "desiredStatus");
    int pure = json_equal(copy, (json_t *)old_spec);
    json_decref(copy);
    return pure ? CHANGE_STOP : CHANGE_SPEC;
}

static int is_owner_only(const json_t *obj)
{
    const char *type = sk_json_str(obj, "spec", "ownershipType", NULL);
    return type && strcmp(type, "OwnerOnly") == 0;
}

/* Ownership is the creator's: only they, an admin group or the controller
 * (which stops idle workspaces) may `what` a workspace that is `state`. */
static void require_owner(struct eval *ev, const json_t *old, const char *state, const char *what)
{
    const char *creator = sk_json_str(old, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
    if (is_user(ev, creator) || is_user(ev, ev->cfg->controller_user) || in_admin_group(ev))
        return;
    char groups[256];
    violation(ev, "spec.ownershipType",
              "workspace \"%s\" is %s: only its creator \"%s\" or a member of %s may %s, not \"%s\"",
              ev->out->name, state, creator ? creator : "(unknown)",
              admin_groups_text(ev, groups, sizeof groups), what, requester(ev));
}

/* OwnerOnly workspaces change hands only through their owner. */
static void check_ownership(struct eval *ev, const json_t *old)
{
    if (is_owner_only(old))
        require_owner(ev, old, "OwnerOnly", ev->req->op == SK_OP_DELETE ? "delete it" : "change it");
}

/* Making a workspace OwnerOnly locks every collaborator out of it. */
static void check_becoming_owner_only(struct eval *ev, const json_t *old)
{
    if (!old || is_owner_only(old) || !is_owner_only(ev->obj))
        return;
    const char *was = sk_json_str(old, "spec", "ownershipType", NULL);
    require_owner(ev, old, was ? was : "Public", "make it OwnerOnly");
}

/* The keys under the reserved prefix that spacekeeper itself stamps, per
 * metadata section; anything else there is the operator's or ours. */
static const char *const STAMPED_LABELS[] = {SK_LABEL_TEMPLATE_NAME, SK_LABEL_TEMPLATE_NAMESPACE, NULL};
static const char *const STAMPED_ANNOTATIONS[] = {SK_ANNOTATION_CREATED_BY,
                                                  SK_ANNOTATION_LAST_UPDATED_BY, NULL};
static const struct {
    const char *section;
    const char *const *stamped;
} RESERVED_SECTIONS[] = {{"labels", STAMPED_LABELS}, {"annotations", STAMPED_ANNOTATIONS}};

/* Labels and annotations under workspace.jupyter.org/ hold the operator's
 * and spacekeeper's state: a user may not add or change them (keeping what
 * the old object has is fine), except for the keys spacekeeper stamps. */
static void check_reserved_metadata(struct eval *ev, const json_t *old)
{
    if (in_admin_group(ev) || sk_policy_is_trusted(ev->cfg, ev->req->user))
        return;
    size_t plen = strlen(SK_RESERVED_PREFIX);
    for (size_t s = 0; s < sizeof RESERVED_SECTIONS / sizeof *RESERVED_SECTIONS; s++) {
        const char *section = RESERVED_SECTIONS[s].section;
        const char *key;
        json_t *v;
        json_object_foreach(sk_json_get(ev->obj, "metadata", section, NULL), key, v) {
            if (strncmp(key, SK_RESERVED_PREFIX, plen) != 0 || in_list(key, RESERVED_SECTIONS[s].stamped))
                continue;
            const json_t *was = old ? sk_json_get(old, "metadata", section, key, NULL) : NULL;
            if (was && json_equal((json_t *)was, v))
                continue;
            char field[320], groups[256];
            snprintf(field, sizeof field, "metadata.%s.%s", section, key);
            violation(ev, field,
                      "metadata.%s[%s]: the prefix " SK_RESERVED_PREFIX " is reserved for spacekeeper "
                      "and the workspace operator; only a member of %s or a trusted service account "
                      "may add or change it, not \"%s\"",
                      section, key, admin_groups_text(ev, groups, sizeof groups), requester(ev));
        }
    }
}

static void review_workspace(struct eval *ev)
{
    const sk_request *req = ev->req;
    const json_t *old = req->old_object;
    if (req->op == SK_OP_DELETE) {
        if (old)
            check_ownership(ev, old);
        return;
    }

    json_t *spec = json_object_get(ev->obj, "spec");
    if (spec && !json_is_object(spec)) {
        violation(ev, "spec", "spec must be an object, not %s", sk_json_type_name(spec));
        return;
    }
    if (req->op == SK_OP_UPDATE && old) {
        json_t *empty = json_object();
        const json_t *old_spec = json_object_get(old, "spec");
        ev->change = classify_update(old_spec ? old_spec : empty, spec ? spec : empty);
        json_decref(empty);
        ev->old_spec = old_spec;
        check_ownership(ev, old);
        const char *was = sk_json_str(old, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
        const char *now =
            sk_json_str(ev->obj, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
        if (was && (!now || strcmp(was, now) != 0))
            violation(ev, "metadata.annotations." SK_ANNOTATION_CREATED_BY,
                      "metadata.annotations[%s] is immutable: it is \"%s\"",
                      SK_ANNOTATION_CREATED_BY, was);
    } else {
        ev->change = CHANGE_CREATE;
    }
    check_reserved_metadata(ev, old);

    if (ev->change == CHANGE_METADATA || ev->change == CHANGE_STOP) {
        stamp_metadata(ev);
        return;
    }
    int by_default;
    if (resolve_template(ev, &by_default) < 0)
        return;
    if (ev->tpl)
        ev->out->template = json_pack("{s:s, s:s}", "name", ev->tpl->name, "namespace", ev->tpl->ns);
    if (!spec) {
        const char *path[] = {"spec"};
        sk_patch_set(ev->out->patch, ev->obj, path, 1, json_object(), NULL);
    }
    if (by_default && ev->tpl) {
        /* Pin the template the workspace was defaulted from. */
        const char *path[] = {"spec", "templateRef"};
        sk_patch_set(ev->out->patch, ev->obj, path, 2,
                     json_pack("{s:s, s:s}", "name", ev->tpl->name, "namespace", ev->tpl->ns), NULL);
    }
    apply_defaults(ev);
    check_becoming_owner_only(ev, old);
    stamp_metadata(ev);
    spec = json_object_get(ev->obj, "spec");
    const json_t *image = json_object_get(spec, "image");
    if ((!image || json_is_null(image)) && ev->tpl) {
        char allowed[512];
        sk_template_describe_images(ev->tpl, 5, allowed, sizeof allowed);
        violation(ev, "spec.image", "spec.image is required: template \"%s\" has no defaultImage "
                                    "(allowed: %s)", ev->tpl->name, allowed);
    } else if (!image || json_is_null(image)) {
        violation(ev, "spec.image", "spec.image is required: no template applies and no default "
                                    "image is configured");
    }
    run_checks(ev, spec);
}

/* ---- templates ---- */

/* What a system template is, for telling whether an update changes it:
 * everything but status and metadata, and of metadata the labels and the
 * workspace.jupyter.org/ annotations (the preload opt-out). Other annotations
 * are tools' bookkeeping: Helm writes its ownership annotations again on
 * every upgrade, kubectl apply its last-applied configuration. */
static json_t *template_content(const json_t *t)
{
    json_t *c = json_deep_copy(t), *md = json_object();
    json_t *labels = sk_json_get(t, "metadata", "labels", NULL), *annotations = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(sk_json_get(t, "metadata", "annotations", NULL), key, v) {
        if (strncmp(key, SK_RESERVED_PREFIX, strlen(SK_RESERVED_PREFIX)) == 0)
            json_object_set(annotations, key, v);
    }
    if (labels)
        json_object_set(md, "labels", labels);
    json_object_set_new(md, "annotations", annotations);
    json_object_set_new(c, "metadata", md);
    json_object_del(c, "status");
    return c;
}

static int template_changed(const json_t *old, const json_t *new)
{
    json_t *a = template_content(old), *b = template_content(new);
    int changed = !json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return changed;
}

static void review_template(struct eval *ev)
{
    const sk_request *req = ev->req;
    const json_t *old = req->old_object;
    if (req->op != SK_OP_CREATE && old) {
        const char *system =
            sk_json_str(old, "metadata", "labels", SK_LABEL_SYSTEM_TEMPLATE, NULL);
        if (system && strcmp(system, "true") == 0 && !is_user(ev, ev->cfg->controller_user) &&
            (req->op == SK_OP_DELETE || template_changed(old, ev->obj)))
            violation(ev, "metadata.labels." SK_LABEL_SYSTEM_TEMPLATE,
                      "template \"%s\" is a system template and cannot be %s; create a new "
                      "template and label it %s=true to make it the default instead",
                      ev->out->name, req->op == SK_OP_DELETE ? "deleted" : "changed",
                      SK_LABEL_DEFAULT_TEMPLATE);
    }
    if (req->op == SK_OP_DELETE)
        return;

    sk_template *t = sk_template_new(ev->obj, sk_store_shared_namespace(ev->store),
                                     ev->out->violations);
    if (!t)
        return;
    ev->tpl = t;
    ev->self_check = 1;
    /* The template's own defaults must pass the checks they will feed (the
     * image row covers defaultImage against allowedImages, the appType row
     * the app type), each reported once. */
    char field[128];
    for (size_t i = 0; i < NRULES; i++) {
        const struct rule *r = &RULES[i];
        const json_t *v = r->tpl[0] ? sk_json_at(t->spec, r->tpl) : NULL;
        if (!v || json_is_null(v))
            continue;
        size_t len = (size_t)snprintf(field, sizeof field, "spec");
        for (const char *const *p = r->tpl; *p; p++)
            len += (size_t)snprintf(field + len, sizeof field - len, ".%s", *p);
        if (shape_ok(ev, r, field, v) && r->check)
            r->check(ev, field, v);
    }

    /* The default is not an override, so bounds that exclude it are legal
     * but almost certainly not what the admin meant. */
    long long dm = json_integer_value(json_object_get(t->idle_default, "idleShutdownTimeoutMinutes"));
    if (dm > 0 && ((t->has_idle_min && dm < t->idle_min) || (t->has_idle_max && dm > t->idle_max)))
        warning(ev,
                "template \"%s\": defaultIdleShutdown.idleShutdownTimeoutMinutes %lld is outside "
                "idleShutdownOverrides [%lld, %lld]; workspaces that inherit the default keep %lld",
                t->name, dm, t->has_idle_min ? t->idle_min : 1LL,
                t->has_idle_max ? t->idle_max : dm, dm);

    const json_t *primary = json_object_get(t->spec, "primaryStorage");
    int side = operator_size_side(t);
    if (json_is_object(primary) && !json_object_get(primary, "defaultSize") && side) {
        const json_t *bound = json_object_get(primary, size_bound_key(side));
        char shown[64];
        const char *text = quantity_text(bound, side < 0 ? t->storage.min : t->storage.max, shown,
                                         sizeof shown);
        warning(ev,
                "template \"%s\": spec.primaryStorage has no defaultSize and the operator's default "
                OPERATOR_STORAGE_SIZE " is %s %s %s; workspaces given storage get %s",
                t->name, side < 0 ? "below" : "above", size_bound_key(side), text, text);
    }

    if (req->op == SK_OP_UPDATE && old) {
        sk_template *was = sk_template_new(old, sk_store_shared_namespace(ev->store), NULL);
        const char *changed = was ? sk_template_changed_constraint(was, t) : NULL;
        if (changed)
            warning(ev,
                    "template \"%s\" constraints changed (%s): existing workspaces keep running and "
                    "are re-checked against the new rules when they are next started or updated",
                    t->name, changed);
        sk_template_free(was);
    }
    ev->tpl = NULL;
    sk_template_free(t);
}

/* ---- entry point ---- */

int sk_policy_owns_api_version(const char *api_version)
{
    return api_version && strncmp(api_version, SK_API_GROUP "/", strlen(SK_API_GROUP "/")) == 0;
}

static const char *const OPERATIONS[] = {"CREATE", "UPDATE", "DELETE", "CONNECT", NULL};

int sk_operation_parse(const char *text, sk_operation *out)
{
    int i = list_index(text, OPERATIONS);
    if (i < 0)
        return -1;
    *out = (sk_operation)i;
    return 0;
}

const char *sk_operation_name(sk_operation op)
{
    return (unsigned)op < 4 ? OPERATIONS[op] : "UNKNOWN";
}

static const char *const DEFAULT_ADMIN_GROUPS[] = {"system:masters",
                                                   "system:serviceaccounts:kube-system", NULL};

static const char *const DEFAULT_TRUSTED[] = {SK_DEFAULT_CONTROLLER_USER, SK_OPERATOR_USER, NULL};

static const char *const SCOPES[] = {[SK_SCOPE_CLUSTER] = "cluster",
                                     [SK_SCOPE_NAMESPACE] = "namespace", NULL};

int sk_template_scope_parse(const char *text, sk_template_scope *out)
{
    int i = list_index(text, SCOPES);
    if (i < 0)
        return -1;
    *out = (sk_template_scope)i;
    return 0;
}

const char *sk_template_scope_name(sk_template_scope scope)
{
    return (size_t)scope < sizeof SCOPES / sizeof *SCOPES - 1 ? SCOPES[scope] : "unknown";
}

void sk_policy_config_init(sk_policy_config *cfg)
{
    cfg->shared_namespace = SK_DEFAULT_SHARED_NAMESPACE;
    cfg->admin_groups = DEFAULT_ADMIN_GROUPS;
    cfg->controller_user = SK_DEFAULT_CONTROLLER_USER;
    cfg->default_image = SK_DEFAULT_IMAGE;
    cfg->trusted_service_accounts = DEFAULT_TRUSTED;
    cfg->template_scope = SK_SCOPE_CLUSTER;
}

void sk_policy_review(const sk_policy_config *cfg, const sk_store *store, const sk_request *req,
                      sk_decision *out)
{
    memset(out, 0, sizeof *out);
    out->patch = json_array();
    out->violations = json_array();
    out->warnings = json_array();

    struct eval ev = {.cfg = cfg, .store = store, .req = req, .out = out};
    const json_t *subject = req->op == SK_OP_DELETE ? req->old_object : req->object;
    out->kind = sk_json_str(subject, "kind", NULL);
    out->name = sk_json_str(subject, "metadata", "name", NULL);
    if (!out->kind)
        out->kind = "";
    if (!out->name)
        out->name = "";

    if (!json_is_object(subject)) {
        violation(&ev, "object", "the request carries no %sobject to review",
                  req->op == SK_OP_DELETE ? "old " : "");
        out->namespace = req->namespace ? req->namespace : "";
        out->allowed = 0;
        return;
    }
    out->namespace = object_namespace(&ev, subject);
    if (req->op != SK_OP_DELETE) {
        out->object = req->scratch == req->object ? json_incref(req->scratch)
                                                  : json_deep_copy(req->object);
        ev.obj = out->object;
    }

    const char *api = sk_json_str(subject, "apiVersion", NULL);
    int ours = sk_policy_owns_api_version(api);
    if (!ours) {
        violation(&ev, "apiVersion", "apiVersion \"%s\" is not in group %s (expected %s)",
                  api ? api : "", SK_API_GROUP, SK_API_VERSION);
    } else if (strcmp(out->kind, SK_KIND_WORKSPACE) == 0) {
        review_workspace(&ev);
    } else if (strcmp(out->kind, SK_KIND_TEMPLATE) == 0) {
        review_template(&ev);
    } else {
        ours = 0;
        violation(&ev, "kind", "kind \"%s\" is not reviewed by spacekeeper (expected %s or %s)",
                  out->kind, SK_KIND_WORKSPACE, SK_KIND_TEMPLATE);
    }
    /* The API server refuses bad labels and annotations on any write: say
     * so here, on the object as it would be stored (stamps included). */
    if (ours && ev.obj)
        sk_meta_check(ev.obj, out->violations);
    out->allowed = json_array_size(out->violations) == 0;
}

void sk_decision_free(sk_decision *d)
{
    json_decref(d->object);
    json_decref(d->patch);
    json_decref(d->violations);
    json_decref(d->warnings);
    json_decref(d->template);
    memset(d, 0, sizeof *d);
}
