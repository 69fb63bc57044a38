"""What every rendering of spacekeeper's install must satisfy, whichever tool
rendered it (`kubectl kustomize manifests/` in test_manifests.py, `helm
template manifests/chart` in test_chart.py): pod security, least-privilege
RBAC, webhook safety, CRDs that keep what the programs read, and system
templates that pass their own checks.

ManifestChecks is a mixin: a TestCase subclass sets `objs` with load() in
setUpClass, and `tls_mode` (cert-manager, helm or secret; with secret,
`ca_pem` is the CA the caBundle must hold)."""
import base64
import os
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
CTRL = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                       os.path.join(os.path.dirname(BIN), "spacekeeper-controller"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MANIFESTS = os.path.join(ROOT, "manifests")
NS = "spacekeeper-system"


def parse(text):
    return [d for d in yaml.safe_load_all(text) if d]


def kustomize(path):
    return parse(subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True,
                                timeout=120, check=True).stdout)


def kustomize_with(*components):
    """manifests/ with more of its components, from a kustomization outside the tree."""
    d = tempfile.mkdtemp(prefix="sk-kust-")
    try:
        with open(os.path.join(d, "kustomization.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                            "resources": [os.path.relpath(MANIFESTS, d)],
                            "components": [os.path.relpath(os.path.join(MANIFESTS, c), d) for c in components]}, f)
        return kustomize(d)
    finally:
        shutil.rmtree(d)


def by_kind(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert found, f"no {kind} {name or ''} rendered"
    return found


def container(deploy):
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    return c


def flags(args):
    """--name=value arguments as a dict."""
    return dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)


def json_schema(openapi):
    """A CRD's structural schema as JSON Schema, with the API server's pruning
    made strict: a field the schema does not know would be dropped silently,
    so here it is an error."""
    s = {k: v for k, v in openapi.items() if not k.startswith("x-kubernetes")}
    if openapi.get("x-kubernetes-int-or-string"):
        s.pop("type", None)
        s["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in s:
        s["properties"] = {k: json_schema(v) for k, v in s["properties"].items()}
        if not openapi.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in s:
            s["additionalProperties"] = False
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = json_schema(s["additionalProperties"])
    if "items" in s:
        s["items"] = json_schema(s["items"])
    if "anyOf" in s:
        s["anyOf"] = [json_schema(a) if any(k in a for k in ("properties", "items")) else a for a in s["anyOf"]]
    return s


class ManifestChecks:
    tls_mode = "cert-manager"

    @classmethod
    def load(cls, objs):
        cls.objs = objs
        crds = {c["spec"]["names"]["kind"]: c for c in by_kind(objs, "CustomResourceDefinition")}
        cls.crds = crds
        cls.schemas = {kind: json_schema(c["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
                       for kind, c in crds.items()}
        cls.deploy = by_kind(objs, "Deployment", "spacekeeper")[0]
        cls.service = by_kind(objs, "Service", "spacekeeper")[0]

    def webhooks(self):
        m = by_kind(self.objs, "MutatingWebhookConfiguration")[0]
        v = by_kind(self.objs, "ValidatingWebhookConfiguration")[0]
        return m, v, {w["name"]: w for w in m["webhooks"] + v["webhooks"]}

    def validate(self, doc):
        jsonschema.validate(doc, self.schemas[doc["kind"]])

    def test_webhook_rules(self):
        _, v, hooks = self.webhooks()
        ws = ("workspace.jupyter.org", "v1alpha1")
        want = {
            "mutate.workspaces.spacekeeper.io": (ws, ["workspaces"], ["CREATE", "UPDATE"], "/mutate", "Fail"),
            "validate.workspaces.spacekeeper.io": (ws, ["workspaces"], ["CREATE", "UPDATE", "DELETE"], "/validate",
                                                   "Fail"),
            "validate.workspacetemplates.spacekeeper.io": (ws, ["workspacetemplates"], ["CREATE", "UPDATE", "DELETE"],
                                                           "/validate", "Ignore"),
            # fails closed: a webhook that is down never opens an OwnerOnly pod (README.md)
            "connect.pods.spacekeeper.io": (("", "v1"), ["pods/exec", "pods/attach", "pods/portforward"],
                                            ["CONNECT"], "/validate-pods-connect", "Fail"),
        }
        self.assertEqual(set(hooks), set(want))
        self.assertIn("connect.pods.spacekeeper.io", [w["name"] for w in v["webhooks"]])
        # a CONNECT's options carry no labels: an objectSelector would skip every request
        self.assertNotIn("objectSelector", hooks["connect.pods.spacekeeper.io"])
        for name, ((group, version), resources, ops, path, policy) in want.items():
            with self.subTest(webhook=name):
                w = hooks[name]
                self.assertEqual(w["admissionReviewVersions"], ["v1"])
                self.assertEqual(w["sideEffects"], "None")
                self.assertEqual(w["matchPolicy"], "Equivalent")
                self.assertEqual(w["failurePolicy"], policy)
                self.assertLessEqual(w["timeoutSeconds"], 10)
                (rule,) = w["rules"]
                self.assertEqual(rule["apiGroups"], [group])
                self.assertEqual(rule["apiVersions"], [version])
                self.assertEqual(rule["resources"], resources)
                self.assertEqual(rule["operations"], ops)
                (expr,) = w["namespaceSelector"]["matchExpressions"]
                self.assertEqual((expr["key"], expr["operator"]), ("kubernetes.io/metadata.name", "NotIn"))
                self.assertEqual(set(expr["values"]), {"kube-system", NS})
                svc = w["clientConfig"]["service"]
                self.assertEqual((svc["name"], svc["namespace"], svc["path"]),
                                 (self.service["metadata"]["name"], self.service["metadata"]["namespace"], path))
                self.assertIn(svc["port"], [p["port"] for p in self.service["spec"]["ports"]])

    def serving_secret_name(self):
        """The Secret the webhook's pods mount, after checking that serve's
        --tls-cert and --tls-key point into it."""
        c = container(self.deploy)
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        self.assertIn(f"--tls-cert={mounts['tls']}/tls.crt", c["args"])
        self.assertIn(f"--tls-key={mounts['tls']}/tls.key", c["args"])
        volumes = {v["name"]: v for v in self.deploy["spec"]["template"]["spec"]["volumes"]}
        return volumes["tls"]["secret"]["secretName"]

    def service_dns(self):
        return f"{self.service['metadata']['name']}.{self.service['metadata']['namespace']}.svc"

    def test_tls_wiring(self):
        m, v, hooks = self.webhooks()
        secret = self.serving_secret_name()
        bundles = {w.get("clientConfig", {}).get("caBundle") for w in hooks.values()}
        if self.tls_mode == "cert-manager":
            cert = by_kind(self.objs, "Certificate", "spacekeeper-serving")[0]
            ref = f"{cert['metadata']['namespace']}/{cert['metadata']['name']}"
            for cfg in (m, v):
                self.assertEqual(cfg["metadata"]["annotations"]["cert-manager.io/inject-ca-from"], ref)
            self.assertIn(self.service_dns(), cert["spec"]["dnsNames"])
            self.assertEqual(secret, cert["spec"]["secretName"])
            issuer = by_kind(self.objs, "Issuer", cert["spec"]["issuerRef"]["name"])[0]
            self.assertEqual(issuer["metadata"]["namespace"], NS)
            self.assertEqual(bundles, {None})
            return
        for cfg in (m, v):
            self.assertNotIn("cert-manager.io/inject-ca-from", cfg["metadata"].get("annotations", {}))
        self.assertFalse([o for o in self.objs if o["apiVersion"].startswith("cert-manager.io")])
        (bundle,) = bundles
        self.assertTrue(bundle)
        if self.tls_mode == "helm":
            self.check_serving_secret(secret, base64.b64decode(bundle))
        else:  # secret: the Secret is the user's, the bundle the CA they gave
            self.assertFalse([o for o in self.objs if o["kind"] == "Secret"])
            self.assertEqual(base64.b64decode(bundle), self.ca_pem)

    def check_serving_secret(self, name, ca_pem):
        """tls_mode helm: the chart's Secret holds a serving pair for the
        Service that the caBundle's CA signed."""
        (s,) = by_kind(self.objs, "Secret", name)
        self.assertEqual(s["type"], "kubernetes.io/tls")
        self.assertEqual(base64.b64decode(s["data"]["ca.crt"]), ca_pem)
        d = tempfile.mkdtemp(prefix="sk-tls-")
        try:
            for key in ("ca.crt", "tls.crt", "tls.key"):
                with open(os.path.join(d, key), "wb") as f:
                    f.write(base64.b64decode(s["data"][key]))
            run = lambda *a: subprocess.run(["openssl", *a], capture_output=True, text=True, cwd=d)
            self.assertEqual(run("verify", "-CAfile", "ca.crt", "tls.crt").returncode, 0)
            self.assertIn(f"DNS:{self.service_dns()}", run("x509", "-noout", "-ext", "subjectAltName",
                                                          "-in", "tls.crt").stdout)
            self.assertEqual(run("x509", "-noout", "-pubkey", "-in", "tls.crt").stdout,
                             run("pkey", "-pubout", "-in", "tls.key").stdout)
        finally:
            shutil.rmtree(d)

    def assert_hardened(self, deploy, pdb_name):
        """Pod security, probes, resources, anti-affinity and a PDB; returns
        the container and its named ports."""
        spec = deploy["spec"]
        self.assertGreaterEqual(spec["replicas"], 2)
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"]["labels"]
        self.assertEqual(spec["selector"]["matchLabels"].items() - labels.items(), set())
        pdb = by_kind(self.objs, "PodDisruptionBudget", pdb_name)[0]
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], spec["selector"]["matchLabels"])
        self.assertGreaterEqual(pdb["spec"]["minAvailable"], 1)
        anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
        self.assertEqual(anti["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname")
        self.assertEqual(anti["podAffinityTerm"]["labelSelector"]["matchLabels"], spec["selector"]["matchLabels"])
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
        c = container(deploy)
        sc = c["securityContext"]
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertTrue({"cpu", "memory"} <= c["resources"]["requests"].keys())
        self.assertTrue({"cpu", "memory"} <= c["resources"]["limits"].keys())
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "health"})
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "health"})
        self.assertIn(f"--health-listen=0.0.0.0:{ports['health']}", c["args"])
        return c, ports

    def assert_metrics_service(self, deploy, name):
        """A Service named `name` selects the Deployment's pods and serves
        their health port as "metrics"."""
        svc = by_kind(self.objs, "Service", name)[0]
        labels = deploy["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(svc["spec"]["selector"].items() - labels.items(), set())
        (metrics,) = [p for p in svc["spec"]["ports"] if p["name"] == "metrics"]
        self.assertEqual(metrics["targetPort"], "health")
        self.assertTrue(svc["metadata"]["labels"].items() >= deploy["spec"]["selector"]["matchLabels"].items(),
                        "the Service carries its pods' labels, for a ServiceMonitor to select")

    def test_deployment_is_hardened_and_probed(self):
        pod = self.deploy["spec"]["template"]["spec"]
        labels = self.deploy["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(self.service["spec"]["selector"].items() - labels.items(), set())
        c, ports = self.assert_hardened(self.deploy, "spacekeeper")
        self.assertIn(f"--listen=0.0.0.0:{ports['https']}", c["args"])
        https = [p for p in self.service["spec"]["ports"] if p["port"] == 443][0]
        self.assertEqual(https["targetPort"], "https")
        self.assert_metrics_service(self.deploy, "spacekeeper")
        # templates are watched from the API (in-cluster config), not read from files
        self.assertFalse([a for a in c["args"] if a.startswith("--templates")])
        self.assertTrue(pod.get("automountServiceAccountToken", True))
        self.assertEqual(pod["serviceAccountName"], "spacekeeper")

    def binding_for(self, kind, role):
        (binding,) = [b for b in by_kind(self.objs, kind) if b["roleRef"]["name"] == role["metadata"]["name"]]
        return binding

    def test_deployment_policy_flags(self):
        c = container(self.deploy)
        f = flags(c["args"])
        trusted = f["trusted-service-accounts"].split(",")
        controller_user = f"system:serviceaccount:{NS}:spacekeeper-controller"
        self.assertIn("system:serviceaccount:jupyter-k8s-system:jupyter-k8s-controller-manager", trusted)
        self.assertIn(controller_user, trusted)
        self.assertEqual(f["controller-user"], controller_user)
        self.assertIn(f["template-scope"], ("cluster", "namespace"))
        # every argument is one serve accepts (--help last: it exits once the rest parsed)
        self.assertEqual(c["args"][0], "serve")
        p = subprocess.run([BIN, *c["args"], "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([BIN, *c["args"], "--template-scope=galaxy", "--help"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn('--template-scope must be cluster or namespace, not "galaxy"', p.stderr)
        # the identity the webhook lets stop OwnerOnly workspaces is the controller's service account
        (sa,) = [o for o in by_kind(self.objs, "ServiceAccount") if o["metadata"]["name"] == "spacekeeper-controller"]
        self.assertEqual(controller_user, f"system:serviceaccount:{sa['metadata']['namespace']}:spacekeeper-controller")

    def test_rbac_reads_templates_workspaces_namespaces_and_nothing_else(self):
        role = by_kind(self.objs, "ClusterRole", "spacekeeper-webhook")[0]
        read = ["get", "list", "watch"]
        self.assertEqual(role["rules"], [
            {"apiGroups": ["workspace.jupyter.org"], "resources": ["workspacetemplates"], "verbs": read},
            {"apiGroups": ["workspace.jupyter.org"], "resources": ["workspaces"], "verbs": read},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": read},
            # the exec rule: the pod, by name
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": read}])
        binding = self.binding_for("ClusterRoleBinding", role)
        self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": "spacekeeper", "namespace": NS}])
        # no other role names the webhook's service account
        for b in by_kind(self.objs, "ClusterRoleBinding") + by_kind(self.objs, "RoleBinding"):
            if b is not binding:
                self.assertNotIn("spacekeeper", [s["name"] for s in b["subjects"]])

    def test_controller_deployment_and_least_privilege(self):
        deploy = by_kind(self.objs, "Deployment", "spacekeeper-controller")[0]
        c, ports = self.assert_hardened(deploy, "spacekeeper-controller")
        self.assert_metrics_service(deploy, "spacekeeper-controller")
        pod = deploy["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], "spacekeeper-controller")
        self.assertEqual(c["image"], container(self.deploy)["image"])
        self.assertEqual(c["command"], ["/usr/local/bin/spacekeeper-controller"])
        self.assertIn("--leader-elect=true", c["args"])
        # the lease namespace comes from the pod's own
        env = {e["name"]: e for e in c.get("env", [])}
        self.assertEqual(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace")
        # the controller's flags parse (--help last: it exits once the rest parsed)
        p = subprocess.run([CTRL, *c["args"], "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        role = by_kind(self.objs, "ClusterRole", "spacekeeper-controller")[0]
        self.assertEqual(role["rules"], [
            {"apiGroups": ["workspace.jupyter.org"], "resources": ["workspaces"],
             "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["workspace.jupyter.org"], "resources": ["workspacetemplates"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
            {"apiGroups": ["wgpolicyk8s.io"], "resources": ["policyreports"],
             "verbs": ["get", "list", "watch", "create", "update", "delete"]}])
        # the compliance reports review workspaces as serve does: the same policy flags
        self.assertIn("--policy-reports=true", c["args"])
        serve, ctl = flags(container(self.deploy)["args"]), flags(c["args"])
        for flag in ("shared-namespace", "default-image", "template-scope"):
            self.assertEqual(ctl[flag], serve[flag], flag)
        # preloading: the pause image is the controller's own, the PriorityClass never pre-empts
        self.assertIn(f"--preload-pause-image={c['image']}", c["args"])
        (pc,) = by_kind(self.objs, "PriorityClass")
        self.assertIn(f"--preload-priority-class={pc['metadata']['name']}", c["args"])
        self.assertLess(pc["value"], 0)
        self.assertEqual(pc["preemptionPolicy"], "Never")
        self.assertFalse(pc["globalDefault"])
        sa = [{"kind": "ServiceAccount", "name": "spacekeeper-controller", "namespace": NS}]
        self.assertEqual(self.binding_for("ClusterRoleBinding", role)["subjects"], sa)
        (lease_role,) = by_kind(self.objs, "Role")
        self.assertEqual(lease_role["metadata"]["namespace"], NS)
        self.assertEqual(lease_role["rules"], [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]},
            {"apiGroups": ["apps"], "resources": ["daemonsets"],
             "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}])
        self.assertEqual(self.binding_for("RoleBinding", lease_role)["subjects"], sa)
        self.assertEqual(self.binding_for("RoleBinding", lease_role)["metadata"]["namespace"], NS)

    def test_crds(self):
        for kind, plural in (("Workspace", "workspaces"), ("WorkspaceTemplate", "workspacetemplates")):
            with self.subTest(kind=kind):
                crd = self.crds[kind]
                self.assertEqual(crd["metadata"]["name"], f"{plural}.workspace.jupyter.org")
                self.assertEqual(crd["spec"]["scope"], "Namespaced")
                (v,) = crd["spec"]["versions"]
                self.assertEqual((v["name"], v["served"], v["storage"]), ("v1alpha1", True, True))
                self.assertEqual(v["subresources"], {"status": {}})
                self.assertTrue(v["additionalPrinterColumns"])
        # every field of the rule table is in the schemas
        ws = self.schemas["Workspace"]["properties"]["spec"]["properties"]
        for f in ("image", "resources", "storage", "volumes", "containerConfig", "podSecurityContext",
                  "ownershipType", "accessStrategy", "lifecycle", "idleShutdown", "appType",
                  "nodeSelector", "affinity", "tolerations", "desiredStatus", "templateRef", "displayName"):
            self.assertIn(f, ws)
        # what the controller reads must survive pruning, in both spellings
        idle = ws["idleShutdown"]["properties"]
        self.assertEqual(idle["idleTimeoutInMinutes"], {"type": "integer", "minimum": 1})
        http_get = idle["detection"]["properties"]["httpGet"]["properties"]
        stamp = http_get["lastActivityTimestamp"]["properties"]
        self.assertEqual(stamp["format"]["enum"], ["RFC3339", "unix"])
        self.assertEqual(stamp["responseBodyPath"], {"type": "string"})
        self.assertEqual(http_get["transport"]["enum"], ["podExec", "network"])
        self.assertEqual(http_get["httpHeaders"]["items"]["required"], ["name", "value"])
        # the operator's fields beside the page's (test_operator_schema.py checks them all)
        for f in ("env", "initContainers", "readinessProbe", "containerSecurityContext", "accessType",
                  "serviceAccountName"):
            self.assertIn(f, ws)
        tpl = self.schemas["WorkspaceTemplate"]["properties"]["spec"]["properties"]
        for f in ("defaultImage", "allowedImages", "allowCustomImages", "defaultResources", "resourceBounds",
                  "primaryStorage", "defaultContainerConfig", "defaultPodSecurityContext", "defaultOwnershipType",
                  "defaultAccessStrategy", "defaultLifecycle", "defaultIdleShutdown", "idleShutdownOverrides",
                  "allowSecondaryStorages", "appType", "defaultNodeSelector", "defaultAffinity",
                  "defaultTolerations", "displayName", "description", "baseEnv", "envRequirements", "baseLabels",
                  "labelRequirements", "defaultInitContainers", "allowCustomInitContainers", "defaultReadinessProbe",
                  "defaultContainerSecurityContext", "defaultAccessType", "defaultVolumes"):
            self.assertIn(f, tpl)
        bounds = tpl["idleShutdownOverrides"]["properties"]
        self.assertTrue({"minTimeoutMinutes", "maxTimeoutMinutes", "minIdleTimeoutInMinutes",
                         "maxIdleTimeoutInMinutes"} <= bounds.keys())

    def test_system_templates_validate_and_pass_their_checks(self):
        templates = by_kind(self.objs, "WorkspaceTemplate")
        self.assertEqual(len(templates), 2)
        shared = flags(container(self.deploy)["args"])["shared-namespace"]
        by_kind(self.objs, "Namespace", shared)
        for t in templates:
            with self.subTest(template=t["metadata"]["name"]):
                self.validate(t)
                self.assertEqual(t["metadata"]["namespace"], shared)
                self.assertEqual(t["metadata"]["labels"]["workspace.jupyter.org/system-template"], "true")
        d = tempfile.mkdtemp()
        try:
            rendered = os.path.join(d, "all.yaml")
            with open(rendered, "w") as f:
                yaml.safe_dump_all(self.objs, f)
            p = subprocess.run([BIN, "check", "-f", rendered], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("2 checked: 2 allowed, 0 denied", p.stdout)
        finally:
            shutil.rmtree(d)
