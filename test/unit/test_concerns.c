/* The concerns the workspace operator's templates add to the Spaces page's:
 * environment, labels, init containers, access type, the container
 * defaults, service accounts, both idle-shutdown spellings, scheduling, app
 * types and the regular expressions behind the requirements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/json.h"
#include "spacekeeper/regex.h"
#include "spacekeeper/service_account.h"
#include "spacekeeper/yaml.h"
#include "th.h"

#define TPL "apiVersion: workspace.jupyter.org/v1alpha1\nkind: WorkspaceTemplate\n"
#define WS "apiVersion: workspace.jupyter.org/v1alpha1\nkind: Workspace\n"

/* The operator's spellings throughout. */
static const char *const OPERATOR_TEMPLATE =
    TPL "metadata: {name: op, namespace: team-a}\n"
        "spec:\n"
        "  displayName: Operator dialect\n"
        "  defaultImage: img:1\n"
        "  baseEnv: [{name: JUPYTER_ENABLE_LAB, value: 'yes'}, {name: TZ, value: UTC}]\n"
        "  envRequirements:\n"
        "    - {name: TEAM, required: true, regex: '^team-[a-z]+$'}\n"
        "    - {name: TZ, regex: '^[A-Z]'}\n"
        "    - {name: TOKEN, regex: 'secret'}\n"
        "  baseLabels: [{key: cost-center, value: ml}, {key: tier, value: dev}]\n"
        "  labelRequirements:\n"
        "    - {key: project, required: true, regex: '^p[0-9]+$'}\n"
        "    - {key: tier, regex: 'dev|prod'}\n"
        "  defaultInitContainers: [{name: fetch, image: 'busybox:1', command: [sh, -c, 'true']}]\n"
        "  defaultReadinessProbe: {httpGet: {path: /api, port: 8888}}\n"
        "  defaultContainerSecurityContext: {runAsNonRoot: true}\n"
        "  defaultAccessType: OwnerOnly\n"
        "  defaultVolumes: [{name: scratch, persistentVolumeClaimName: scratch}]\n"
        "  defaultIdleShutdown:\n"
        "    enabled: true\n"
        "    idleTimeoutInMinutes: 30\n"
        "    detection: {httpGet: {path: /api/idle, port: 8888, transport: network}}\n"
        "  idleShutdownOverrides: {allow: true, minIdleTimeoutInMinutes: 10, maxIdleTimeoutInMinutes: 60}\n"
        "---\n" TPL "metadata: {name: custom-init, namespace: team-a}\n"
        "spec: {defaultImage: img:1, allowCustomInitContainers: true}\n"
        "---\n" TPL "metadata: {name: no-volumes, namespace: team-a}\n"
        "spec: {defaultImage: img:1, allowSecondaryStorages: false}\n"
        "---\n" TPL "metadata: {name: locked, namespace: team-a}\n"
        "spec:\n"
        "  defaultImage: img:1\n"
        "  defaultIdleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 30,\n"
        "                        detection: {httpGet: {path: /api/idle, port: 8888}}}\n"
        "  idleShutdownOverrides: {allow: false}\n";

static sk_store *store;

static void setup(void)
{
    store = th_store(OPERATOR_TEMPLATE);
}

static void teardown(void)
{
    sk_store_free(store);
}

static void review_cfg(const sk_policy_config *cfg, sk_operation op, const char *old_yaml,
                       const char *yaml, const char *user, const char *const *groups,
                       sk_decision *d)
{
    json_t *obj = th_yaml(yaml), *old = old_yaml ? th_yaml(old_yaml) : NULL;
    sk_request req = {.op = op, .object = obj, .old_object = old, .user = user, .groups = groups};
    th_review_with(cfg, store, &req, d);
    json_decref(obj);
    json_decref(old);
}

static void create(const char *yaml, sk_decision *d)
{
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    review_cfg(&cfg, SK_OP_CREATE, NULL, yaml, "alice", NULL, d);
}

static const json_t *spec_at(const sk_decision *d, const char *key)
{
    return sk_json_get(d->object, "spec", key, NULL);
}

#define OP_WS(extra) WS "metadata: {name: w, namespace: team-a, labels: {project: p1}}\n" \
                        "spec:\n  templateRef: {name: op}\n  env: [{name: TEAM, value: team-ml}]\n" extra

/* ---- environment ---- */

START_TEST(test_env_merged_by_name_user_wins)
{
    sk_decision d;
    create(OP_WS("") "", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    const json_t *env = spec_at(&d, "env");
    ck_assert_uint_eq(json_array_size(env), 3);
    ck_assert_str_eq(sk_json_str(json_array_get(env, 0), "name", NULL), "TEAM");
    ck_assert_str_eq(sk_json_str(json_array_get(env, 1), "name", NULL), "JUPYTER_ENABLE_LAB");
    sk_decision_free(&d);

    create(WS "metadata: {name: w, namespace: team-a, labels: {project: p1}}\n"
              "spec:\n  templateRef: {name: op}\n"
              "  env: [{name: TEAM, value: team-ml}, {name: TZ, value: Europe/Paris}]\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    env = spec_at(&d, "env");
    ck_assert_uint_eq(json_array_size(env), 3); /* TZ not added twice */
    ck_assert_str_eq(sk_json_str(json_array_get(env, 1), "value", NULL), "Europe/Paris");
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_env_requirements)
{
    sk_decision d;
    /* required and missing */
    create(WS "metadata: {name: w, namespace: team-a, labels: {project: p1}}\n"
              "spec: {templateRef: {name: op}}\n", &d);
    ck_assert(th_has_violation(&d, "spec.env[TEAM]", "environment variable TEAM is required by template \"op\""));
    sk_decision_free(&d);
    /* the pattern is the operator's: anchored only where it says so */
    create(OP_WS("") , &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    create(WS "metadata: {name: w, namespace: team-a, labels: {project: p1}}\n"
              "spec:\n  templateRef: {name: op}\n  env: [{name: TEAM, value: my-team-ml}]\n", &d);
    ck_assert(th_has_violation(&d, "spec.env[TEAM]", "value \"my-team-ml\" does not match \"^team-[a-z]+$\""));
    sk_decision_free(&d);
    /* unanchored: "secret" anywhere in the value matches */
    create(OP_WS("  serviceAccountName: default\n") , &d);
    sk_decision_free(&d);
    create(WS "metadata: {name: w, namespace: team-a, labels: {project: p1}}\n"
              "spec:\n  templateRef: {name: op}\n"
              "  env: [{name: TEAM, value: team-ml}, {name: TOKEN, value: my-secret-1}]\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    /* a valueFrom variable counts as "" */
    create(WS "metadata: {name: w, namespace: team-a, labels: {project: p1}}\n"
              "spec:\n  templateRef: {name: op}\n"
              "  env: [{name: TEAM, valueFrom: {secretKeyRef: {name: s, key: k}}}]\n", &d);
    ck_assert(th_has_violation(&d, "spec.env[TEAM]", "value \"\" does not match"));
    sk_decision_free(&d);
}
END_TEST

/* ---- labels ---- */

START_TEST(test_base_labels_and_requirements)
{
    sk_decision d;
    create(OP_WS(""), &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    ck_assert_str_eq(sk_json_str(d.object, "metadata", "labels", "cost-center", NULL), "ml");
    ck_assert_str_eq(sk_json_str(d.object, "metadata", "labels", "project", NULL), "p1");
    sk_decision_free(&d);
    /* the workspace's own label wins over baseLabels, and is then checked */
    create(WS "metadata: {name: w, namespace: team-a, labels: {project: p1, tier: qa}}\n"
              "spec:\n  templateRef: {name: op}\n  env: [{name: TEAM, value: team-ml}]\n", &d);
    ck_assert(th_has_violation(&d, "metadata.labels[tier]", "value \"qa\" does not match \"dev|prod\""));
    sk_decision_free(&d);
    create(WS "metadata: {name: w, namespace: team-a}\n"
              "spec:\n  templateRef: {name: op}\n  env: [{name: TEAM, value: team-ml}]\n", &d);
    ck_assert(th_has_violation(&d, "metadata.labels[project]", "label project is required"));
    sk_decision_free(&d);
}
END_TEST

/* ---- init containers ---- */

START_TEST(test_init_containers)
{
    sk_decision d;
    create(OP_WS(""), &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    ck_assert_str_eq(sk_json_str(json_array_get(spec_at(&d, "initContainers"), 0), "name", NULL), "fetch");
    sk_decision_free(&d);
    /* exactly the defaults: fine */
    create(OP_WS("  initContainers: [{name: fetch, image: 'busybox:1', command: [sh, -c, 'true']}]\n"), &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    create(OP_WS("  initContainers: [{name: mine, image: 'alpine:3'}]\n"), &d);
    ck_assert(th_has_violation(&d, "spec.initContainers", "does not allow custom init containers"));
    sk_decision_free(&d);
    create(WS "metadata: {name: w, namespace: team-a}\n"
              "spec:\n  templateRef: {name: custom-init}\n  initContainers: [{name: mine, image: 'alpine:3'}]\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
}
END_TEST

/* ---- the container's defaults, access type and default volumes ---- */

START_TEST(test_container_defaults_and_access_type)
{
    sk_decision d;
    create(OP_WS(""), &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    ck_assert_str_eq(sk_json_str(d.object, "spec", "readinessProbe", "httpGet", "path", NULL), "/api");
    ck_assert(json_is_true(sk_json_get(d.object, "spec", "containerSecurityContext", "runAsNonRoot", NULL)));
    ck_assert_str_eq(sk_json_str(d.object, "spec", "accessType", NULL), "OwnerOnly");
    ck_assert_str_eq(sk_json_str(json_array_get(spec_at(&d, "volumes"), 0), "name", NULL), "scratch");
    sk_decision_free(&d);
    /* without defaultAccessType, access follows ownership */
    create(WS "metadata: {name: w, namespace: team-a}\n"
              "spec: {templateRef: {name: custom-init}, ownershipType: OwnerOnly}\n", &d);
    ck_assert_str_eq(sk_json_str(d.object, "spec", "accessType", NULL), "OwnerOnly");
    sk_decision_free(&d);
    create(WS "metadata: {name: w, namespace: team-a}\n"
              "spec: {templateRef: {name: custom-init}, accessType: Everyone}\n", &d);
    ck_assert(th_has_violation(&d, "spec.accessType", "\"Everyone\" is not one of: Public, OwnerOnly"));
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_default_volumes_refused_without_secondary_storage)
{
    sk_decision d;
    json_t *obj = th_yaml(TPL "metadata: {name: t, namespace: team-a}\n"
                              "spec: {allowSecondaryStorages: false, defaultVolumes: [{name: v, persistentVolumeClaimName: v}]}\n");
    sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = "admin"};
    th_review(store, &req, &d);
    ck_assert(th_has_violation(&d, "spec.defaultVolumes", "does not allow secondary storage"));
    sk_decision_free(&d);
    json_decref(obj);
    create(WS "metadata: {name: w, namespace: team-a}\n"
              "spec: {templateRef: {name: no-volumes}, volumes: [{name: v, persistentVolumeClaimName: v}]}\n", &d);
    ck_assert(th_has_violation(&d, "spec.volumes", "does not allow secondary storage"));
    sk_decision_free(&d);
}
END_TEST

/* ---- idle shutdown, in both spellings ---- */

START_TEST(test_idle_spellings)
{
    sk_decision d;
    /* the operator's spelling of the bounds, the page's of the timeout */
    create(OP_WS("  idleShutdown: {enabled: true, idleShutdownTimeoutMinutes: 90,\n"
                 "                 detection: {httpGet: {path: /api/idle, port: 8888}}}\n"), &d);
    ck_assert(th_has_violation(&d, "spec.idleShutdown.idleShutdownTimeoutMinutes",
                               "90 is outside the range allowed by template \"op\" (between 10 and 60 minutes)"));
    sk_decision_free(&d);
    create(OP_WS("  idleShutdown: {enabled: true, idleTimeoutInMinutes: 90,\n"
                 "                 detection: {httpGet: {path: /api/idle, port: 8888}}}\n"), &d);
    ck_assert(th_has_violation(&d, "spec.idleShutdown.idleTimeoutInMinutes", "90 is outside the range"));
    sk_decision_free(&d);
    create(OP_WS("  idleShutdown: {enabled: true, idleTimeoutInMinutes: 45,\n"
                 "                 detection: {httpGet: {path: /api/idle, port: 8888, transport: podExec,\n"
                 "                                       httpHeaders: [{name: X-Token, value: t}]}}}\n"), &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    /* both spellings that disagree: refused, naming both */
    create(OP_WS("  idleShutdown: {enabled: true, idleTimeoutInMinutes: 45, idleShutdownTimeoutMinutes: 50,\n"
                 "                 detection: {httpGet: {path: /api/idle, port: 8888}}}\n"), &d);
    ck_assert(th_has_violation(&d, "spec.idleShutdown.idleShutdownTimeoutMinutes",
                               "spec.idleShutdown.idleShutdownTimeoutMinutes and spec.idleShutdown.idleTimeoutInMinutes"));
    sk_decision_free(&d);
    /* enabled without a timeout names the field as the page spells it, and the other spelling */
    create(OP_WS("  idleShutdown: {enabled: true, detection: {httpGet: {path: /api/idle, port: 8888}}}\n"), &d);
    ck_assert(th_has_violation(&d, "spec.idleShutdown.idleShutdownTimeoutMinutes", "(or idleTimeoutInMinutes) is required"));
    sk_decision_free(&d);
    /* a locked default written in one spelling equals the same in the other */
    create(WS "metadata: {name: w, namespace: team-a}\n"
              "spec:\n  templateRef: {name: locked}\n"
              "  idleShutdown: {enabled: true, idleTimeoutInMinutes: 30, detection: {httpGet: {path: /api/idle, port: 8888}}}\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    sk_decision_free(&d);
    create(WS "metadata: {name: w, namespace: team-a}\n"
              "spec:\n  templateRef: {name: locked}\n"
              "  idleShutdown: {enabled: true, idleTimeoutInMinutes: 31, detection: {httpGet: {path: /api/idle, port: 8888}}}\n", &d);
    ck_assert(th_has_violation(&d, "spec.idleShutdown", "cannot be overridden"));
    sk_decision_free(&d);
    /* unknown transport */
    create(OP_WS("  idleShutdown: {enabled: true, idleTimeoutInMinutes: 45,\n"
                 "                 detection: {httpGet: {path: /api/idle, port: 8888, transport: ssh}}}\n"), &d);
    ck_assert(th_has_violation(&d, "spec.idleShutdown.detection.httpGet.transport", "\"ssh\" is not one of: podExec, network"));
    sk_decision_free(&d);
}
END_TEST

START_TEST(test_default_written_in_the_templates_spelling)
{
    sk_decision d;
    create(OP_WS(""), &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    ck_assert_int_eq(json_integer_value(sk_json_get(d.object, "spec", "idleShutdown", "idleTimeoutInMinutes", NULL)), 30);
    ck_assert(!sk_json_get(d.object, "spec", "idleShutdown", "idleShutdownTimeoutMinutes", NULL));
    sk_decision_free(&d);
}
END_TEST

/* ---- template self-checks ---- */

START_TEST(test_template_self_checks)
{
    sk_decision d;
    json_t *obj = th_yaml(TPL "metadata: {name: bad, namespace: team-a}\n"
                              "spec:\n"
                              "  appType: jupyter\n"
                              "  envRequirements: [{name: A, regex: '(unclosed'}, {name: B, regex: '(a)\\1'}, {name: A}]\n"
                              "  labelRequirements: [{key: k, regex: '(?=x)'}]\n"
                              "  baseLabels: [{key: workspace.jupyter.org/x, value: z}, {key: ok, value: v}, {key: ok, value: w}]\n"
                              "  baseEnv: [{name: E, value: '1'}, {name: E, value: '2'}]\n"
                              "  defaultInitContainers: [{name: i, image: a}, {name: i, image: b}]\n"
                              "  idleShutdownOverrides: {minTimeoutMinutes: 5, minIdleTimeoutInMinutes: 6}\n");
    sk_request req = {.op = SK_OP_CREATE, .object = obj, .user = "admin"};
    th_review(store, &req, &d);
    static const struct {
        const char *field, *text;
    } want[] = {
        {"spec.envRequirements[0]", "\"(unclosed\" does not compile"},
        {"spec.envRequirements[1]", "backreferences, which RE2 syntax does not have"},
        {"spec.envRequirements[2]", "name \"A\" is already given at spec.envRequirements[0]"},
        {"spec.labelRequirements[0]", "lookaround"},
        {"spec.baseLabels[0]", "reserved"},
        {"spec.baseLabels[2]", "key \"ok\" is already given"},
        {"spec.baseEnv[1]", "name \"E\" is already given"},
        {"spec.defaultInitContainers[1]", "name \"i\" is already given"},
        {"spec.idleShutdownOverrides.minTimeoutMinutes", "minTimeoutMinutes and .minIdleTimeoutInMinutes mean the same"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(th_has_violation(&d, want[i].field, want[i].text), "missing %s: %s\nin %s",
                      want[i].field, want[i].text, th_violations(&d));
    /* appType "jupyter" (the operator's own sample) is a warning, not an error */
    ck_assert_int_eq(th_count_violations(&d, "spec.appType"), 0);
    char *w = json_dumps(d.warnings, 0);
    ck_assert_msg(strstr(w, "is not one the Spaces add-on knows"), "%s", w);
    free(w);
    sk_decision_free(&d);
    json_decref(obj);
}
END_TEST

/* A workspace under a template whose pattern does not compile is refused,
 * never passed. */
START_TEST(test_broken_pattern_refuses)
{
    sk_store *s = sk_store_new(SK_DEFAULT_SHARED_NAMESPACE);
    json_t *t = th_yaml(TPL "metadata: {name: broken, namespace: team-a}\n"
                            "spec: {defaultImage: img:1, envRequirements: [{name: A, regex: '[z-a]'}]}\n");
    sk_store_put(s, sk_template_new(t, SK_DEFAULT_SHARED_NAMESPACE, NULL));
    json_t *w = th_yaml(WS "metadata: {name: w, namespace: team-a}\n"
                           "spec: {templateRef: {name: broken}, env: [{name: A, value: x}]}\n");
    sk_request req = {.op = SK_OP_CREATE, .object = w, .user = "alice"};
    sk_decision d;
    th_review(s, &req, &d);
    ck_assert(th_has_violation(&d, "spec.env[A]", "cannot be checked: template \"broken\" requires it to match \"[z-a]\""));
    sk_decision_free(&d);
    json_decref(w);
    json_decref(t);
    sk_store_free(s);
}
END_TEST

/* ---- service accounts ---- */

static sk_sa_index *accounts(const char *yaml)
{
    sk_err err;
    json_t *docs = sk_yaml_load(yaml, strlen(yaml), "sa", &err);
    ck_assert_msg(docs != NULL, "%s", err.msg);
    sk_sa_index *idx = sk_sa_index_new();
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
        sk_sa_index_put(idx, sk_service_account_new(doc));
    json_decref(docs);
    return idx;
}

#define SA "apiVersion: v1\nkind: ServiceAccount\n"

START_TEST(test_service_accounts)
{
    sk_sa_index *idx = accounts(
        SA "metadata: {name: runner, namespace: team-a, labels: {workspace.jupyter.org/default-service-account: 'true'}}\n"
        "---\n" SA "metadata:\n  name: s3-writer\n  namespace: team-a\n  annotations:\n"
        "    workspace.jupyter.org/service-account-users: '[alice]'\n"
        "    workspace.jupyter.org/service-account-user-patterns: \"- 'ml-*@example.com'\\n- 'ops-?'\"\n"
        "    workspace.jupyter.org/service-account-groups: '[data-eng]'\n"
        "---\n" SA "metadata: {name: a, namespace: team-b, labels: {workspace.jupyter.org/default-service-account: 'true'}}\n"
        "---\n" SA "metadata: {name: b, namespace: team-b, labels: {workspace.jupyter.org/default-service-account: 'true'}}\n");
    sk_sa_source src = sk_sa_index_source(idx);
    sk_policy_config cfg;
    sk_policy_config_init(&cfg);
    cfg.service_accounts = &src;
    static const char *const data_eng[] = {"data-eng", NULL};
    static const char *const admins[] = {"system:masters", NULL};
    static const struct {
        const char *sa, *user;
        const char *const *groups;
        int allowed;
    } cases[] = {
        {NULL, "bob", NULL, 1},                       /* defaulted to runner */
        {"runner", "bob", NULL, 1},                   /* the default is everyone's */
        {"s3-writer", "alice", NULL, 1},              /* named */
        {"s3-writer", "ml-kim@example.com", NULL, 1}, /* pattern */
        {"s3-writer", "ops-1", NULL, 1},              /* ? is one character */
        {"s3-writer", "ops-12", NULL, 0},             /* whole name */
        {"s3-writer", "carol", data_eng, 1},          /* group */
        {"s3-writer", "carol", NULL, 0},              /* refused */
        {"s3-writer", "root", admins, 1},             /* admins may */
        {"ghost", "alice", NULL, 0},                  /* unknown */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, WS "metadata: {name: w, namespace: team-a}\nspec: {templateRef: {name: custom-init}%s%s}\n",
                 cases[i].sa ? ", serviceAccountName: " : "", cases[i].sa ? cases[i].sa : "");
        sk_decision d;
        review_cfg(&cfg, SK_OP_CREATE, NULL, yaml, cases[i].user, cases[i].groups, &d);
        ck_assert_msg(d.allowed == cases[i].allowed, "case %zu (%s by %s): %s", i, cases[i].sa,
                      cases[i].user, th_violations(&d));
        if (!cases[i].sa)
            ck_assert_str_eq(sk_json_str(d.object, "spec", "serviceAccountName", NULL), "runner");
        if (i == 7)
            ck_assert(th_has_violation(&d, "spec.serviceAccountName", "\"carol\" may not use ServiceAccount \"s3-writer\""));
        if (i == 9)
            ck_assert(th_has_violation(&d, "spec.serviceAccountName", "\"ghost\" does not exist in namespace \"team-a\""));
        sk_decision_free(&d);
    }
    /* two defaults: an error naming both; a namespace with none: "default" */
    sk_decision d;
    review_cfg(&cfg, SK_OP_CREATE, NULL, WS "metadata: {name: w, namespace: team-b}\nspec: {image: img:1}\n", "bob", NULL, &d);
    ck_assert(th_has_violation(&d, "spec.serviceAccountName", "two default ServiceAccounts, \"a\" and \"b\""));
    sk_decision_free(&d);
    review_cfg(&cfg, SK_OP_CREATE, NULL, WS "metadata: {name: w, namespace: team-c}\nspec: {image: img:1}\n", "bob", NULL, &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    ck_assert_str_eq(sk_json_str(d.object, "spec", "serviceAccountName", NULL), "default");
    sk_decision_free(&d);
    /* nothing known: not defaulted, not refused, said so */
    create(WS "metadata: {name: w, namespace: team-a}\nspec: {templateRef: {name: custom-init}, serviceAccountName: s3-writer}\n", &d);
    ck_assert_msg(d.allowed, "%s", th_violations(&d));
    char *w = json_dumps(d.warnings, 0);
    ck_assert_msg(strstr(w, "was not checked"), "%s", w);
    free(w);
    sk_decision_free(&d);
    sk_sa_index_free(idx);
}
END_TEST

START_TEST(test_sa_patterns_and_bad_annotations)
{
    ck_assert(sk_service_account_pattern_match("*", "anyone"));
    ck_assert(sk_service_account_pattern_match("a*b*c", "axxbyyc"));
    ck_assert(!sk_service_account_pattern_match("a*b*c", "axxbyy"));
    ck_assert(sk_service_account_pattern_match("??", "ab"));
    ck_assert(!sk_service_account_pattern_match("?", ""));
    ck_assert(!sk_service_account_pattern_match("a.c", "abc")); /* . is literal */
    /* an annotation that is not a YAML list of strings grants nothing */
    json_t *o = th_yaml(SA "metadata:\n  name: s\n  annotations:\n"
                           "    workspace.jupyter.org/service-account-users: 'alice'\n"
                           "    workspace.jupyter.org/service-account-groups: '[1, {a: b}]'\n"
                           "    workspace.jupyter.org/service-account-user-patterns: '[unclosed'\n");
    sk_service_account *sa = sk_service_account_new(o);
    static const char *const g[] = {"1", NULL};
    ck_assert(!sk_service_account_allows(sa, "alice", g));
    sk_service_account_free(sa);
    json_decref(o);
}
END_TEST

/* ---- scheduling and app types ---- */

START_TEST(test_scheduling_and_app_type)
{
    sk_decision d;
    create(WS "metadata: {name: w, namespace: team-a}\n"
              "spec:\n  templateRef: {name: custom-init}\n  appType: jupyter\n"
              "  nodeSelector: {gpu: 1}\n"
              "  tolerations: [{key: a, operator: Maybe}, {key: b, operator: Exists, value: x}, {effect: NoSchedule}]\n", &d);
    ck_assert_msg(d.allowed == 0, "%s", th_violations(&d));
    ck_assert(th_has_violation(&d, "spec.nodeSelector", "spec.nodeSelector[gpu] must be a string"));
    ck_assert(th_has_violation(&d, "spec.tolerations[0].operator", "\"Maybe\" is not one of: Exists, Equal"));
    ck_assert(th_has_violation(&d, "spec.tolerations[1]", "operator Exists must have no value"));
    ck_assert_int_eq(th_count_violations(&d, "spec.appType"), 0); /* any well-formed value */
    ck_assert_int_eq(th_count_violations(&d, "spec.tolerations[2]"), 0);
    sk_decision_free(&d);
}
END_TEST

/* ---- regular expressions ---- */

START_TEST(test_regex_semantics)
{
    sk_err err;
    static const struct {
        const char *pattern, *subject;
        int match;
    } cases[] = {
        {"abc", "xxabcxx", 1},      /* unanchored search, as regexp.MatchString */
        {"^abc$", "xxabcxx", 0},
        {"^a$", "a\n", 0},          /* Go's $ is the end of the text */
        {"(?i)^ABC$", "abc", 1},
        {"^\\d+$", "123", 1},
        {"^.$", "\xc3\xa9", 1},     /* UTF-8: one character */
        {"(?P<x>a)b", "ab", 1},
        {"[^]a]", "b", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sk_regex *re = sk_regex_new(cases[i].pattern, &err);
        ck_assert_msg(re != NULL, "%s: %s", cases[i].pattern, err.msg);
        ck_assert_msg(sk_regex_search(re, cases[i].subject, strlen(cases[i].subject)) == cases[i].match,
                      "%s on %s", cases[i].pattern, cases[i].subject);
        sk_regex_free(re);
    }
    static const char *const refused[] = {"(a)\\1", "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "(?>a)",
                                          "a*+", "a++", "(?R)", "(*FAIL)", "\\Z", "(?(1)a|b)", "(", NULL};
    for (const char *const *p = refused; *p; p++) {
        sk_regex *re = sk_regex_new(*p, &err);
        ck_assert_msg(re == NULL, "%s should be refused", *p);
    }
    /* catastrophic backtracking is stopped by the limits, not waited out */
    sk_regex *re = sk_regex_new("^(a+)+$", &err);
    ck_assert(re != NULL);
    char subject[64];
    memset(subject, 'a', 40);
    subject[40] = 'b';
    subject[41] = '\0';
    ck_assert_int_eq(sk_regex_search(re, subject, strlen(subject)), -1);
    sk_regex_free(re);
}
END_TEST

Suite *concerns_suite(void)
{
    Suite *s = suite_create("concerns");
    TCase *tc = tcase_create("operator-rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_env_merged_by_name_user_wins);
    tcase_add_test(tc, test_env_requirements);
    tcase_add_test(tc, test_base_labels_and_requirements);
    tcase_add_test(tc, test_init_containers);
    tcase_add_test(tc, test_container_defaults_and_access_type);
    tcase_add_test(tc, test_default_volumes_refused_without_secondary_storage);
    tcase_add_test(tc, test_idle_spellings);
    tcase_add_test(tc, test_default_written_in_the_templates_spelling);
    tcase_add_test(tc, test_template_self_checks);
    tcase_add_test(tc, test_broken_pattern_refuses);
    tcase_add_test(tc, test_service_accounts);
    tcase_add_test(tc, test_sa_patterns_and_bad_annotations);
    tcase_add_test(tc, test_scheduling_and_app_type);
    tcase_add_test(tc, test_regex_semantics);
    suite_add_tcase(s, tc);
    return s;
}
