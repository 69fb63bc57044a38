/* The engine's runner: the rule table applied to a workspace (defaults,
 * then checks) or to a template (its own defaults checked), and the entry
 * point. What each rule does lives in its concern's file (see engine.h). */
#include "spacekeeper/policy.h"

#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spacekeeper/json.h"
#include "spacekeeper/metadata.h"
#include "spacekeeper/patch.h"
#include "spacekeeper/violation.h"

/* ---- running the table ---- */

static int shape_ok(struct eval *ev, const struct skp_rule *r, const char *field, const json_t *v)
{
    static const char *const names[] = {
        [SKP_STRING] = "a string",
        [SKP_OBJECT] = "an object",
        [SKP_ARRAY] = "a list",
        [SKP_QUANTITY] = "a quantity (a string such as \"10Gi\" or a number)",
    };
    int ok;
    switch (r->shape) {
    case SKP_STRING: ok = json_is_string(v); break;
    case SKP_OBJECT: ok = json_is_object(v); break;
    case SKP_ARRAY: ok = json_is_array(v); break;
    case SKP_QUANTITY: ok = json_is_string(v) || json_is_number(v); break;
    default: ok = 1; break;
    }
    if (!ok)
        skp_violation(ev, field, "%s must be %s, not %s", field, names[r->shape],
                      sk_json_type_name(v));
    return ok;
}

static void run_checks(struct eval *ev)
{
    for (size_t i = 0; i < skp_rules_count; i++) {
        const struct skp_rule *r = &skp_rules[i];
        const json_t *v = sk_json_at(ev->obj, r->ws);
        if (!v || json_is_null(v)) {
            if (r->check && (r->flags & SKP_CHECK_ABSENT))
                r->check(ev, r->field, NULL);
            continue;
        }
        if (shape_ok(ev, r, r->field, v) && r->check)
            r->check(ev, r->field, v);
    }
}

/* A new copy of the default `want` for user[section][key], fitted to the
 * user's own values (`user`: the object as the user wrote it). */
static json_t *fit_leaf(const struct skp_fit *fit, const json_t *user, const char *section,
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
static json_t *fitted(const struct skp_rule *r, const json_t *user, const char *const *rel,
                      size_t n, const json_t *want)
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
static void merge_deep(struct eval *ev, const struct skp_rule *r, const json_t *user,
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
        if (!hv || json_is_null(hv))
            skp_set(ev, r->field, path, depth + 1, fitted(r, user, path + base, depth + 1 - base, wv));
        else if (json_is_object(hv) && json_is_object(wv))
            merge_deep(ev, r, user, path, base, depth + 1, hv, wv);
    }
}

/* baseEnv and the like: the default entries whose name the user's list
 * lacks are appended; the user's own entry wins. */
static void merge_by_name(struct eval *ev, const struct skp_rule *r, const char **path,
                          size_t depth, const json_t *have, const json_t *want)
{
    size_t i;
    json_t *w;
    json_array_foreach(want, i, w) {
        const char *name = sk_json_str(w, "name", NULL);
        int found = 0;
        size_t j;
        json_t *h;
        json_array_foreach(have, j, h) {
            const char *mine = sk_json_str(h, "name", NULL);
            found |= name && mine && strcmp(name, mine) == 0;
        }
        if (found || !name)
            continue;
        sk_err err;
        if (sk_patch_append(ev->ops, ev->obj, path, depth, json_deep_copy(w), &err) < 0)
            skp_violation(ev, r->field, "%s: %s", r->field, err.msg);
    }
}

/* baseLabels: {key, value} entries set into a map where it lacks the key. */
static void merge_by_key(struct eval *ev, const struct skp_rule *r, const char **path,
                         size_t depth, const json_t *have, const json_t *want)
{
    size_t i;
    json_t *w;
    json_array_foreach(want, i, w) {
        const char *key = sk_json_str(w, "key", NULL);
        json_t *value = json_object_get(w, "value");
        if (!key || !json_is_string(value) || !strncmp(key, SK_RESERVED_PREFIX, strlen(SK_RESERVED_PREFIX)))
            continue; /* the template's self-check reports these */
        if (have && json_object_get(have, key))
            continue;
        path[depth] = key;
        skp_set(ev, r->field, path, depth + 1, json_incref(value));
    }
}

/* An empty list or map counts as absent, as the operator's len() == 0 does. */
static int is_unset(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_object(v) && json_object_size(v) == 0);
}

static void apply_row(struct eval *ev, const struct skp_rule *r, const json_t *want)
{
    const char *path[20];
    size_t depth = 0;
    for (const char *const *p = r->ws; *p && depth < 4; p++)
        path[depth++] = *p;
    const json_t *have = sk_json_at(ev->obj, r->ws);
    switch (r->merge) {
    case SKP_BY_KEY:
        if (json_is_array(want) && (!have || json_is_object(have)))
            merge_by_key(ev, r, path, depth, have, want);
        return;
    case SKP_BY_NAME:
        if (json_is_array(want) && json_is_array(have) && json_array_size(have)) {
            merge_by_name(ev, r, path, depth, have, want);
            return;
        }
        break;
    case SKP_DEEP:
        if (json_is_object(have) && json_is_object(want)) {
            /* what the user wrote, before any default lands in it */
            json_t *user = json_deep_copy(have);
            merge_deep(ev, r, user, path, depth, depth, have, want);
            json_decref(user);
            return;
        }
        break;
    case SKP_FILL:
        break;
    }
    if (r->merge == SKP_DEEP ? !have || json_is_null(have) : is_unset(have))
        skp_set(ev, r->field, path, depth, json_deep_copy(want));
}

static void apply_defaults(struct eval *ev)
{
    /* Derived defaults come second: they depend on what the template's
     * defaults produced (storage that a class default created needs a size). */
    for (int derived = 0; derived < 2; derived++) {
        for (size_t i = 0; i < skp_rules_count; i++) {
            const struct skp_rule *r = &skp_rules[i];
            const json_t *want;
            json_t *made = NULL; /* a default of our own, not the template's */
            if (!derived) {
                want = ev->tpl && r->tpl[0] ? sk_json_at(ev->tpl->spec, r->tpl) : NULL;
                if (!want && r->fallback)
                    want = made = json_string(r->fallback);
            } else {
                const json_t *have = sk_json_at(ev->obj, r->ws);
                int absent = !have || json_is_null(have);
                want = made = absent && r->derive ? r->derive(ev) : NULL;
            }
            if (want && !json_is_null(want))
                apply_row(ev, r, want);
            json_decref(made);
        }
    }
}

/* ---- workspaces ---- */

static skp_change classify_update(const json_t *old_spec, const json_t *new_spec)
{
    if (json_equal((json_t *)old_spec, (json_t *)new_spec))
        return SKP_CHANGE_METADATA;
    const char *status = sk_json_str(new_spec, "desiredStatus", NULL);
    if (!status || strcmp(status, "Stopped") != 0 || !json_is_object(new_spec))
        return SKP_CHANGE_SPEC;
    json_t *copy = json_deep_copy(new_spec);
    json_t *old_status = json_object_get(old_spec, "desiredStatus");
    if (old_status)
        json_object_set(copy, "desiredStatus", old_status);
    else
        json_object_del(copy, "desiredStatus");
    int pure = json_equal(copy, (json_t *)old_spec);
    json_decref(copy);
    return pure ? SKP_CHANGE_STOP : SKP_CHANGE_SPEC;
}

static void review_workspace(struct eval *ev)
{
    const sk_request *req = ev->req;
    const json_t *old = req->old_object;
    if (req->op == SK_OP_DELETE) {
        if (old)
            skp_ownership_check_update(ev, old);
        return;
    }

    json_t *spec = json_object_get(ev->obj, "spec");
    if (spec && !json_is_object(spec)) {
        skp_violation(ev, "spec", "spec must be an object, not %s", sk_json_type_name(spec));
        return;
    }
    if (req->op == SK_OP_UPDATE && old) {
        json_t *empty = json_object();
        const json_t *old_spec = json_object_get(old, "spec");
        ev->change = classify_update(old_spec ? old_spec : empty, spec ? spec : empty);
        json_decref(empty);
        ev->old_spec = old_spec;
        skp_ownership_check_update(ev, old);
        const char *was = sk_json_str(old, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
        const char *now =
            sk_json_str(ev->obj, "metadata", "annotations", SK_ANNOTATION_CREATED_BY, NULL);
        if (was && (!now || strcmp(was, now) != 0))
            skp_violation(ev, "metadata.annotations." SK_ANNOTATION_CREATED_BY,
                      "metadata.annotations[%s] is immutable: it is \"%s\"",
                      SK_ANNOTATION_CREATED_BY, was);
    } else {
        ev->change = SKP_CHANGE_CREATE;
    }
    skp_labels_check_reserved(ev, old);

    if (ev->change == SKP_CHANGE_METADATA || ev->change == SKP_CHANGE_STOP) {
        skp_labels_stamp(ev);
        return;
    }
    int by_default;
    if (skp_resolve_template(ev, &by_default) < 0)
        return;
    if (ev->tpl)
        ev->out->template = json_pack("{s:s, s:s}", "name", ev->tpl->name, "namespace", ev->tpl->ns);
    if (!spec) {
        const char *path[] = {"spec"};
        sk_patch_set(ev->ops, ev->obj, path, 1, json_object(), NULL);
    }
    if (by_default && ev->tpl) {
        /* Pin the template the workspace was defaulted from. */
        const char *path[] = {"spec", "templateRef"};
        sk_patch_set(ev->ops, ev->obj, path, 2,
                     json_pack("{s:s, s:s}", "name", ev->tpl->name, "namespace", ev->tpl->ns), NULL);
    }
    apply_defaults(ev);
    skp_ownership_check_becoming_owner_only(ev, old);
    skp_labels_stamp(ev);
    skp_images_require(ev);
    run_checks(ev);
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
        if (system && strcmp(system, "true") == 0 && !skp_is_user(ev, ev->cfg->controller_user) &&
            (req->op == SK_OP_DELETE || template_changed(old, ev->obj)))
            skp_violation(ev, "metadata.labels." SK_LABEL_SYSTEM_TEMPLATE,
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
     * the app type), each reported once; then each row's own template
     * checks. */
    char field[128];
    for (size_t i = 0; i < skp_rules_count; i++) {
        const struct skp_rule *r = &skp_rules[i];
        const json_t *v = r->tpl[0] ? sk_json_at(t->spec, r->tpl) : NULL;
        if (v && !json_is_null(v) && !(r->flags & SKP_NO_SELF_CHECK)) {
            size_t len = (size_t)snprintf(field, sizeof field, "spec");
            for (const char *const *p = r->tpl; *p; p++)
                len += (size_t)snprintf(field + len, sizeof field - len, ".%s", *p);
            if (shape_ok(ev, r, field, v) && r->check)
                r->check(ev, field, v);
        }
        if (r->template_check)
            r->template_check(ev, t);
    }

    if (req->op == SK_OP_UPDATE && old) {
        sk_template *was = sk_template_new(old, sk_store_shared_namespace(ev->store), NULL);
        const char *changed = was ? sk_template_changed_constraint(was, t) : NULL;
        if (changed)
            skp_warning(ev,
                    "template \"%s\" constraints changed (%s): workspaces are re-checked at their "
                    "next start",
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
    int i = skp_list_index(text, OPERATIONS);
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
    int i = skp_list_index(text, SCOPES);
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
    memset(cfg, 0, sizeof *cfg);
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

    struct eval ev = {.cfg = cfg, .store = store, .req = req, .out = out,
                      .ops = req->verdict_only ? NULL : out->patch};
    const json_t *subject = req->op == SK_OP_DELETE ? req->old_object : req->object;
    out->kind = sk_json_str(subject, "kind", NULL);
    out->name = sk_json_str(subject, "metadata", "name", NULL);
    if (!out->kind)
        out->kind = "";
    if (!out->name)
        out->name = "";

    if (!json_is_object(subject)) {
        skp_violation(&ev, "object", "the request carries no %sobject to review",
                  req->op == SK_OP_DELETE ? "old " : "");
        out->namespace = req->namespace ? req->namespace : "";
        out->allowed = 0;
        return;
    }
    out->namespace = skp_object_namespace(&ev, subject);
    if (req->op != SK_OP_DELETE) {
        out->object = req->scratch == req->object ? json_incref(req->scratch)
                                                  : json_deep_copy(req->object);
        ev.obj = out->object;
    }

    const char *api = sk_json_str(subject, "apiVersion", NULL);
    int ours = sk_policy_owns_api_version(api);
    if (!ours) {
        skp_violation(&ev, "apiVersion", "apiVersion \"%s\" is not in group %s (expected %s)",
                  api ? api : "", SK_API_GROUP, SK_API_VERSION);
    } else if (strcmp(out->kind, SK_KIND_WORKSPACE) == 0) {
        review_workspace(&ev);
    } else if (strcmp(out->kind, SK_KIND_TEMPLATE) == 0) {
        review_template(&ev);
    } else {
        ours = 0;
        skp_violation(&ev, "kind", "kind \"%s\" is not reviewed by spacekeeper (expected %s or %s)",
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
