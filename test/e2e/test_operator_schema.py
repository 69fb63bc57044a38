#!/usr/bin/python3
"""The CRDs accept the workspace operator's objects as well as the Spaces
page's: objects written in the operator's spellings (test/fixtures/operator/
and a workspace and a template carrying every field of its schema) validate
against the shipped CRD schemas, rendered by `kubectl kustomize`, with the
API server's pruning made strict (a field the schema does not know is an
error, as in test_manifests.py); what either dialect must refuse is refused;
the schemas are structural, so the API server would take them."""
import copy
import glob
import os
import sys
import unittest

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from manifest_checks import MANIFESTS, ROOT, by_kind, json_schema, kustomize, parse  # noqa: E402

FIXTURES = os.path.join(ROOT, "test", "fixtures", "operator")

# The operator's spec fields (jupyter-infra/jupyter-k8s, api/v1alpha1 and its
# generated CRDs), every one of which a user may write.
OPERATOR_WORKSPACE_FIELDS = {
    "accessStrategy", "accessType", "affinity", "appType", "containerConfig", "containerSecurityContext",
    "desiredStatus", "displayName", "env", "idleShutdown", "image", "initContainers", "integrationTemplateRefs",
    "lifecycle", "nodeSelector", "ownershipType", "podSecurityContext", "readinessProbe", "resources",
    "serviceAccountName", "storage", "templateRef", "tolerations", "volumes",
}
OPERATOR_TEMPLATE_FIELDS = {
    "allowCustomImages", "allowCustomInitContainers", "allowSecondaryStorages", "allowedImages", "appType",
    "baseEnv", "baseLabels", "defaultAccessStrategy", "defaultAccessType", "defaultAffinity",
    "defaultContainerConfig", "defaultContainerSecurityContext", "defaultIdleShutdown", "defaultImage",
    "defaultInitContainers", "defaultLifecycle", "defaultNodeSelector", "defaultOwnershipType",
    "defaultPodSecurityContext", "defaultReadinessProbe", "defaultResources", "defaultTolerations",
    "defaultVolumes", "description", "displayName", "envRequirements", "idleShutdownOverrides",
    "labelRequirements", "primaryStorage", "resourceBounds",
}
OPERATOR_HTTP_GET_FIELDS = {"host", "httpHeaders", "lastActivityTimestamp", "path", "port", "scheme", "transport"}

# template field -> the workspace field it defaults; their schemas are one
DEFAULTS = {
    "defaultResources": "resources", "defaultContainerConfig": "containerConfig",
    "defaultPodSecurityContext": "podSecurityContext", "defaultContainerSecurityContext": "containerSecurityContext",
    "defaultReadinessProbe": "readinessProbe", "defaultLifecycle": "lifecycle",
    "defaultInitContainers": "initContainers", "defaultOwnershipType": "ownershipType",
    "defaultAccessType": "accessType", "defaultAccessStrategy": "accessStrategy",
    "defaultIdleShutdown": "idleShutdown", "appType": "appType", "defaultNodeSelector": "nodeSelector",
    "defaultAffinity": "affinity", "defaultTolerations": "tolerations",
}
# lists merged or defaulted item by item: the items are one
DEFAULT_ITEMS = {"baseEnv": "env", "defaultVolumes": "volumes"}

HTTP_GET = {
    "path": "/api/idle", "port": 8888, "scheme": "HTTPS", "host": "ignored.example", "transport": "network",
    "httpHeaders": [{"name": "Authorization", "value": "Bearer x"}, {"name": "X-Empty", "value": ""}],
    "lastActivityTimestamp": {"responseBodyPath": "status.lastActive", "format": "unix"},
}
CONTAINER = {"name": "init", "image": "busybox:1.36", "command": ["true"], "resources": {"limits": {"cpu": "1"}},
             "securityContext": {"runAsNonRoot": True}, "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
PROBE = {"httpGet": {"path": "/api", "port": 8888, "httpHeaders": [{"name": "H", "value": "v"}]},
         "periodSeconds": 10}
SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
ENV = [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
VOLUME = {"name": "datasets", "persistentVolumeClaimName": "team-datasets", "mountPath": "/data"}
AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["ml.g5.xlarge"]}]}]}}}
LIFECYCLE = {"postStart": {"exec": {"command": ["sh", "-c", "echo hi"]}}}


def full_workspace():
    """A workspace that writes every field of the operator's schema."""
    return {
        "apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Workspace",
        "metadata": {"name": "every-field", "namespace": "team-a", "labels": {"cost-center": "cc-1"}},
        "spec": {
            "displayName": "Every field", "image": "img:1", "desiredStatus": "Running",
            "ownershipType": "OwnerOnly", "accessType": "OwnerOnly",
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"nvidia.com/gpu": 1},
                          "claims": [{"name": "gpu-claim", "request": "one"}]},
            "storage": {"size": "20Gi", "storageClassName": "gp3", "mountPath": "/home/jovyan"},
            "volumes": [VOLUME],
            "containerConfig": {"command": ["jupyter"], "args": ["lab"]},
            "env": ENV,
            "nodeSelector": {"kubernetes.io/arch": "amd64"},
            "affinity": AFFINITY,
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "lifecycle": LIFECYCLE,
            "readinessProbe": PROBE,
            "accessStrategy": {"name": "hyperpod-access-strategy", "namespace": "jupyter-k8s-shared"},
            "templateRef": {"name": "t", "namespace": "team-a"},
            "idleShutdown": {"enabled": True, "idleTimeoutInMinutes": 30, "detection": {"httpGet": HTTP_GET}},
            "appType": "jupyter",
            "serviceAccountName": "data-science",
            "podSecurityContext": {"fsGroup": 1000, "runAsUser": 1000},
            "containerSecurityContext": SECURITY,
            "initContainers": [CONTAINER],
            "integrationTemplateRefs": [{"name": "ray", "namespace": "team-a",
                                         "parameters": [{"name": "cluster", "value": "ray-1"}]}],
        },
    }


def full_template():
    """A template that writes every field of the operator's schema."""
    return {
        "apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "WorkspaceTemplate",
        "metadata": {"name": "every-field", "namespace": "team-a"},
        "spec": {
            "displayName": "Every field", "description": "all of them", "defaultImage": "img:1",
            "allowedImages": ["img:1", "img:2"], "allowCustomImages": False,
            "defaultResources": {"requests": {"cpu": "1"}, "limits": {"memory": "4Gi"}},
            "resourceBounds": {"resources": {"cpu": {"min": "100m", "max": "4"},
                                             "nvidia.com/gpu": {"min": "0", "max": 1}}},
            "primaryStorage": {"defaultSize": "10Gi", "minSize": "1Gi", "maxSize": "100Gi",
                               "defaultStorageClassName": "gp3", "defaultMountPath": "/home/jovyan"},
            "allowSecondaryStorages": True, "defaultVolumes": [VOLUME],
            "defaultContainerConfig": {"command": ["jupyter"], "args": ["lab"]},
            "defaultPodSecurityContext": {"fsGroup": 1000},
            "defaultContainerSecurityContext": SECURITY,
            "defaultReadinessProbe": PROBE,
            "defaultLifecycle": LIFECYCLE,
            "baseEnv": ENV,
            "envRequirements": [{"name": "TEAM_ID", "required": True, "regex": "^team-[a-z]+$"}, {"name": "X"}],
            "baseLabels": [{"key": "platform.example.com/tier", "value": "gold"}],
            "labelRequirements": [{"key": "cost-center", "required": True, "regex": "^cc-[0-9]+$"}, {"key": "p"}],
            "defaultInitContainers": [CONTAINER], "allowCustomInitContainers": False,
            "defaultOwnershipType": "Public", "defaultAccessType": "OwnerOnly",
            "defaultAccessStrategy": {"name": "hyperpod-access-strategy"},
            "defaultIdleShutdown": {"enabled": True, "idleTimeoutInMinutes": 60,
                                    "detection": {"httpGet": HTTP_GET}},
            "idleShutdownOverrides": {"allow": True, "minIdleTimeoutInMinutes": 30, "maxIdleTimeoutInMinutes": 240},
            "appType": "jupyter",
            "defaultNodeSelector": {"kubernetes.io/arch": "amd64"},
            "defaultAffinity": AFFINITY,
            "defaultTolerations": [{"key": "gpu", "operator": "Exists"}],
        },
    }


def with_change(doc, path, value):
    """A copy of doc with the field at dotted `path` (list indexes as numbers)
    set to value, or removed when value is DELETE."""
    doc = copy.deepcopy(doc)
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    node = doc
    for k in keys[:-1]:
        node = node[k]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


DELETE = object()


def structural_problems(schema, where="schema"):
    """What would make the API server refuse a CRD schema as not structural
    (the rules apiextensions applies to every node)."""
    problems = []
    exempt = schema.get("x-kubernetes-int-or-string") or schema.get("x-kubernetes-preserve-unknown-fields")
    if "type" not in schema and not exempt:
        problems.append(f"{where}: no type")
    if schema.get("x-kubernetes-int-or-string"):
        if schema.get("anyOf") not in (None, [{"type": "integer"}, {"type": "string"}]):
            problems.append(f"{where}: int-or-string with another anyOf")
        if "type" in schema:
            problems.append(f"{where}: int-or-string with a type")
    if "properties" in schema and isinstance(schema.get("additionalProperties"), dict):
        problems.append(f"{where}: properties and additionalProperties together")
    if schema.get("type") == "array" and "items" not in schema:
        problems.append(f"{where}: an array without items")
    for k, v in schema.get("properties", {}).items():
        problems += structural_problems(v, f"{where}.{k}")
    if isinstance(schema.get("additionalProperties"), dict):
        problems += structural_problems(schema["additionalProperties"], f"{where}.*")
    if "items" in schema:
        problems += structural_problems(schema["items"], f"{where}[]")
    for sub in schema.get("anyOf", []):
        if set(sub) - {"type"} or sub.get("type") not in ("integer", "string"):
            problems.append(f"{where}: an anyOf branch other than a bare integer or string type")
    return problems


class OperatorSchemaTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        crds = by_kind(kustomize(os.path.join(MANIFESTS, "base", "crds")), "CustomResourceDefinition")
        cls.openapi = {c["spec"]["names"]["kind"]: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
                       for c in crds}
        cls.schemas = {kind: json_schema(s) for kind, s in cls.openapi.items()}

    def validate(self, doc):
        jsonschema.validate(doc, self.schemas[doc["kind"]])

    def spec_schema(self, kind):
        return self.openapi[kind]["properties"]["spec"]["properties"]

    def assert_refused(self, doc, why):
        with self.assertRaises(jsonschema.ValidationError, msg=why):
            self.validate(doc)

    def test_fixtures_validate(self):
        docs = []
        for path in sorted(glob.glob(os.path.join(FIXTURES, "**", "*.yaml"), recursive=True)):
            docs += [(path, d) for d in parse(open(path).read())]
        ours = [(p, d) for p, d in docs if d["apiVersion"] == "workspace.jupyter.org/v1alpha1"]
        kinds = [d["kind"] for _, d in ours]
        self.assertEqual((kinds.count("WorkspaceTemplate"), kinds.count("Workspace")), (5, 13))
        for path, doc in ours:
            with self.subTest(fixture=os.path.relpath(path, FIXTURES), name=doc["metadata"]["name"]):
                self.validate(doc)
        # the ServiceAccounts beside them are the core API's, with list-valued annotations
        accounts = [d for _, d in docs if d["kind"] == "ServiceAccount"]
        self.assertEqual(len(accounts), 2)
        allow = accounts[0]["metadata"]["annotations"]
        for suffix in ("users", "user-patterns", "groups"):
            self.assertIsInstance(yaml.safe_load(allow[f"workspace.jupyter.org/service-account-{suffix}"]), list)

    def test_every_workspace_fixture_says_what_it_expects(self):
        paths = sorted(glob.glob(os.path.join(FIXTURES, "workspaces", "*.yaml")))
        self.assertEqual(len(paths), 13)
        outcomes = {}
        for path in paths:
            first = open(path).readline()
            self.assertRegex(first, r"^# (admitted|denied)\b.*: \S", path)
            outcomes[os.path.basename(path)[:2]] = first.split()[1].rstrip(":")
        # the operator's four idle-shutdown samples: the fourth overrides a locked template
        self.assertEqual([outcomes[n] for n in ("01", "02", "03", "04")], ["admitted"] * 3 + ["denied"])
        # each names an object-valued templateRef, never the samples' bare string
        for path in paths[1:]:
            (doc,) = parse(open(path).read())
            self.assertIsInstance(doc["spec"]["templateRef"], dict, path)

    def test_every_operator_field_survives_pruning(self):
        ws, tpl = self.spec_schema("Workspace"), self.spec_schema("WorkspaceTemplate")
        self.assertEqual(OPERATOR_WORKSPACE_FIELDS - ws.keys(), set())
        self.assertEqual(OPERATOR_TEMPLATE_FIELDS - tpl.keys(), set())
        for idle in (ws["idleShutdown"], tpl["defaultIdleShutdown"]):
            http_get = idle["properties"]["detection"]["properties"]["httpGet"]["properties"]
            self.assertEqual(OPERATOR_HTTP_GET_FIELDS - http_get.keys(), set())
        # the full objects exercise every one of them, and both validate
        self.assertEqual(full_workspace()["spec"].keys(), OPERATOR_WORKSPACE_FIELDS)
        self.assertEqual(full_template()["spec"].keys(), OPERATOR_TEMPLATE_FIELDS)
        self.assertEqual(HTTP_GET.keys(), OPERATOR_HTTP_GET_FIELDS)
        self.validate(full_workspace())
        self.validate(full_template())

    def test_both_dialects(self):
        ws, tpl = full_workspace(), full_template()
        page_ws = with_change(ws, "spec.idleShutdown.idleShutdownTimeoutMinutes", 30)
        page_ws = with_change(page_ws, "spec.idleShutdown.idleTimeoutInMinutes", DELETE)
        page_tpl = with_change(tpl, "spec.idleShutdownOverrides",
                               {"allow": True, "minTimeoutMinutes": 30, "maxTimeoutMinutes": 240})
        page_tpl = with_change(page_tpl, "spec.defaultIdleShutdown.idleShutdownTimeoutMinutes", 60)
        page_tpl = with_change(page_tpl, "spec.defaultIdleShutdown.idleTimeoutInMinutes", DELETE)
        for doc in (page_ws, page_tpl):
            self.validate(doc)
        # both spellings in one object pass the schema (the engine compares their values)
        self.validate(with_change(ws, "spec.idleShutdown.idleShutdownTimeoutMinutes", 30))
        self.validate(with_change(tpl, "spec.idleShutdownOverrides.minTimeoutMinutes", 30))
        # the timeout is optional in the schema under either spelling (a template may default it)
        self.validate(with_change(ws, "spec.idleShutdown.idleTimeoutInMinutes", DELETE))
        # the page's appType values and the operator's
        for app in ("jupyterlab", "code-editor", "jupyter", "rstudio.v2"):
            self.validate(with_change(ws, "spec.appType", app))
            self.validate(with_change(tpl, "spec.appType", app))
        # transport is optional, and either value
        for transport in ("podExec", "network", DELETE):
            self.validate(with_change(ws, "spec.idleShutdown.detection.httpGet.transport", transport))

    def test_refusals(self):
        ws, tpl = full_workspace(), full_template()
        idle, default_idle = "spec.idleShutdown", "spec.defaultIdleShutdown"
        bad = [
            # enums
            (ws, f"{idle}.detection.httpGet.transport", "kubectlExec", "transport not podExec or network"),
            (tpl, f"{default_idle}.detection.httpGet.transport", "exec", "transport not podExec or network"),
            (ws, f"{idle}.detection.httpGet.scheme", "FTP", "scheme not HTTP or HTTPS"),
            (ws, f"{idle}.detection.httpGet.lastActivityTimestamp.format", "epoch", "format not RFC3339 or unix"),
            (ws, "spec.accessType", "Private", "accessType not Public or OwnerOnly"),
            (tpl, "spec.defaultAccessType", "Team", "defaultAccessType not Public or OwnerOnly"),
            (ws, "spec.ownershipType", "Shared", "ownershipType not Public or OwnerOnly"),
            (ws, "spec.desiredStatus", "Paused", "desiredStatus not Running or Stopped"),
            # quantities
            (ws, "spec.storage.size", "10GB", "not a quantity"),
            (ws, "spec.resources.requests.cpu", "two", "not a quantity"),
            (tpl, "spec.defaultResources.limits.memory", "4 Gi", "not a quantity"),
            (tpl, "spec.resourceBounds.resources.cpu.max", "lots", "not a quantity"),
            (tpl, "spec.primaryStorage.maxSize", "1TB", "not a quantity"),
            (ws, "spec.storage.size", 10.5, "a quantity is an integer or a string"),
            # timeouts, in both spellings
            (ws, f"{idle}.idleTimeoutInMinutes", 0, "a timeout under a minute"),
            (ws, f"{idle}.idleShutdownTimeoutMinutes", 0, "a timeout under a minute"),
            (ws, f"{idle}.idleTimeoutInMinutes", "30", "a timeout that is not an integer"),
            (tpl, "spec.idleShutdownOverrides.maxIdleTimeoutInMinutes", 0, "a bound under a minute"),
            (tpl, "spec.idleShutdownOverrides.minTimeoutMinutes", -5, "a bound under a minute"),
            (ws, f"{idle}.enabled", "yes", "enabled not a boolean"),
            (ws, f"{idle}.enabled", DELETE, "enabled is required"),
            (ws, f"{idle}.detection.httpGet.port", DELETE, "the idle endpoint needs a port"),
            # the operator's own structures
            (ws, "spec.templateRef", "jupyter-template", "templateRef as a bare string (the samples' mistake)"),
            (ws, "spec.templateRef.name", DELETE, "templateRef without a name"),
            (ws, f"{idle}.detection.httpGet.httpHeaders", {"Authorization": "x"}, "headers as a map"),
            (ws, f"{idle}.detection.httpGet.httpHeaders.0.value", DELETE, "a header without a value"),
            (ws, f"{idle}.detection.httpGet.httpHeaders.0.name", "", "a header without a name"),
            (ws, "spec.volumes.0.persistentVolumeClaimName", DELETE, "a volume without its claim"),
            (tpl, "spec.defaultVolumes.0.mountPath", DELETE, "a volume without a mount path"),
            (ws, "spec.env.0.name", DELETE, "an environment variable without a name"),
            (tpl, "spec.baseEnv.0.value", 1, "an environment value that is not a string"),
            (tpl, "spec.baseLabels.0.value", DELETE, "a base label without a value"),
            (tpl, "spec.envRequirements.0.required", "yes", "required not a boolean"),
            (tpl, "spec.labelRequirements.0.key", DELETE, "a label requirement without a key"),
            (ws, "spec.initContainers.0.name", DELETE, "an init container without a name"),
            (ws, "spec.initContainers", [CONTAINER] * 11, "more than 10 init containers"),
            (tpl, "spec.baseEnv", [{"name": f"V{i}"} for i in range(51)], "more than 50 base variables"),
            (ws, "spec.serviceAccountName", "", "an empty ServiceAccount name"),
            (ws, "spec.appType", "Jupyter Lab", "an appType that is not a single word"),
            (ws, "spec.appType", "", "an empty appType"),
            (ws, "spec.containerConfig.command", "jupyter lab", "a command that is not a list"),
            (ws, "spec.accessStrategy.name", DELETE, "an access strategy without a name"),
            (ws, "spec.integrationTemplateRefs", [{"name": "a"}, {"name": "b"}], "more than one integration"),
            # pruning made strict: misspelt fields are errors, not silently dropped
            (ws, f"{idle}.idleTimeoutInMinute", 30, "a misspelt timeout"),
            (ws, f"{idle}.detection.httpGet.httpHeader", [], "a misspelt header list"),
            (ws, f"{idle}.detection.httpGet.lastActivityTimestamp.path", "x", "an unknown timestamp field"),
            (tpl, "spec.idleShutdownOverrides.maxIdleTimeoutMinutes", 60, "a mixed-up bound spelling"),
            (tpl, "spec.envRequirement", [], "a misspelt rule list"),
            (tpl, "spec.labelRequirements.0.pattern", "^x$", "an unknown requirement field"),
            (ws, "spec.volumes.0.claimName", "x", "an unknown volume field"),
            (ws, "spec.serviceAccount", "x", "the pod spec's deprecated spelling"),
        ]
        for doc, path, value, why in bad:
            with self.subTest(path=path, value=value, why=why):
                changed = with_change(doc, path, value)
                self.assert_refused(changed, why)
        # and each base object was valid to begin with
        self.validate(ws)
        self.validate(tpl)

    def test_defaults_share_the_schema_of_what_they_default(self):
        ws, tpl = self.spec_schema("Workspace"), self.spec_schema("WorkspaceTemplate")
        for t_field, w_field in DEFAULTS.items():
            with self.subTest(template=t_field, workspace=w_field):
                self.assertEqual(tpl[t_field], ws[w_field])
        for t_field, w_field in DEFAULT_ITEMS.items():
            with self.subTest(template=t_field, workspace=w_field):
                self.assertEqual(tpl[t_field]["items"], ws[w_field]["items"])
        # the page's override bounds and the operator's carry the same rule
        bounds = tpl["idleShutdownOverrides"]["properties"]
        self.assertEqual(bounds["minTimeoutMinutes"], bounds["minIdleTimeoutInMinutes"])
        self.assertEqual(bounds["maxTimeoutMinutes"], bounds["maxIdleTimeoutInMinutes"])
        idle = ws["idleShutdown"]["properties"]
        self.assertEqual(idle["idleShutdownTimeoutMinutes"], idle["idleTimeoutInMinutes"])

    def test_schemas_are_structural(self):
        for kind, schema in self.openapi.items():
            with self.subTest(kind=kind):
                self.assertEqual(structural_problems(schema, kind), [])
        # the check has teeth
        self.assertTrue(structural_problems({"type": "object", "properties": {"a": {"description": "x"}}}))
        self.assertTrue(structural_problems({"type": "array"}))


if __name__ == "__main__":
    sys.argv[1:] = []
    harness.main(__name__, "e2e-operator-schema")
