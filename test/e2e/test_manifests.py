#!/usr/bin/python3
"""manifests/: rendered with `kubectl kustomize` (offline) and checked object
by object; every example is admitted by `spacekeeper check` and validates
against the CRD schemas."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
CTRL = os.path.join(os.path.dirname(BIN), "spacekeeper-controller")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MANIFESTS = os.path.join(ROOT, "manifests")
EXAMPLES = sorted(glob.glob(os.path.join(MANIFESTS, "examples", "*.yaml")))
NS = "spacekeeper-system"


def render(path):
    out = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert found, f"no {kind} {name or ''} rendered"
    return found


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


class ManifestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objs = render(MANIFESTS)
        cls.base = render(os.path.join(MANIFESTS, "base"))
        crds = {c["spec"]["names"]["kind"]: c for c in by_kind(cls.objs, "CustomResourceDefinition")}
        cls.crds = crds
        cls.schemas = {kind: json_schema(c["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
                       for kind, c in crds.items()}
        cls.deploy = by_kind(cls.objs, "Deployment", "spacekeeper")[0]
        cls.service = by_kind(cls.objs, "Service", "spacekeeper")[0]

    def webhooks(self):
        m = by_kind(self.objs, "MutatingWebhookConfiguration")[0]
        v = by_kind(self.objs, "ValidatingWebhookConfiguration")[0]
        return m, v, {w["name"]: w for w in m["webhooks"] + v["webhooks"]}

    def test_webhook_rules(self):
        _, _, hooks = self.webhooks()
        want = {
            "mutate.workspaces.spacekeeper.io": ("workspaces", ["CREATE", "UPDATE"], "/mutate", "Fail"),
            "validate.workspaces.spacekeeper.io": ("workspaces", ["CREATE", "UPDATE", "DELETE"], "/validate", "Fail"),
            "validate.workspacetemplates.spacekeeper.io": ("workspacetemplates", ["CREATE", "UPDATE", "DELETE"],
                                                           "/validate", "Ignore"),
        }
        self.assertEqual(set(hooks), set(want))
        for name, (resource, ops, path, policy) in want.items():
            with self.subTest(webhook=name):
                w = hooks[name]
                self.assertEqual(w["admissionReviewVersions"], ["v1"])
                self.assertEqual(w["sideEffects"], "None")
                self.assertEqual(w["matchPolicy"], "Equivalent")
                self.assertEqual(w["failurePolicy"], policy)
                self.assertLessEqual(w["timeoutSeconds"], 10)
                (rule,) = w["rules"]
                self.assertEqual(rule["apiGroups"], ["workspace.jupyter.org"])
                self.assertEqual(rule["apiVersions"], ["v1alpha1"])
                self.assertEqual(rule["resources"], [resource])
                self.assertEqual(rule["operations"], ops)
                (expr,) = w["namespaceSelector"]["matchExpressions"]
                self.assertEqual((expr["key"], expr["operator"]), ("kubernetes.io/metadata.name", "NotIn"))
                self.assertEqual(set(expr["values"]), {"kube-system", NS})
                svc = w["clientConfig"]["service"]
                self.assertEqual((svc["name"], svc["namespace"], svc["path"]),
                                 (self.service["metadata"]["name"], self.service["metadata"]["namespace"], path))
                self.assertIn(svc["port"], [p["port"] for p in self.service["spec"]["ports"]])

    def test_tls_wiring(self):
        m, v, hooks = self.webhooks()
        cert = by_kind(self.objs, "Certificate", "spacekeeper-serving")[0]
        ref = f"{cert['metadata']['namespace']}/{cert['metadata']['name']}"
        for cfg in (m, v):
            self.assertEqual(cfg["metadata"]["annotations"]["cert-manager.io/inject-ca-from"], ref)
        svc_dns = f"{self.service['metadata']['name']}.{self.service['metadata']['namespace']}.svc"
        self.assertIn(svc_dns, cert["spec"]["dnsNames"])
        volumes = {v["name"]: v for v in self.deploy["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["tls"]["secret"]["secretName"], cert["spec"]["secretName"])
        issuer = by_kind(self.objs, "Issuer", cert["spec"]["issuerRef"]["name"])[0]
        self.assertEqual(issuer["metadata"]["namespace"], NS)
        args = self.deploy["spec"]["template"]["spec"]["containers"][0]["args"]
        mounts = {m["name"]: m["mountPath"] for m in self.deploy["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
        self.assertIn(f"--tls-cert={mounts['tls']}/tls.crt", args)
        self.assertIn(f"--tls-key={mounts['tls']}/tls.key", args)
        # the base has no cert-manager objects and no injection, for install-certs.sh
        self.assertFalse([o for o in self.base if o["apiVersion"].startswith("cert-manager.io")])
        for o in self.base:
            if o["kind"].endswith("WebhookConfiguration"):
                self.assertNotIn("cert-manager.io/inject-ca-from", o["metadata"].get("annotations", {}))

    def test_deployment_is_hardened_and_probed(self):
        spec = self.deploy["spec"]
        self.assertGreaterEqual(spec["replicas"], 2)
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"]["labels"]
        self.assertEqual(spec["selector"]["matchLabels"].items() - labels.items(), set())
        self.assertEqual(self.service["spec"]["selector"].items() - labels.items(), set())
        c, ports = self.assert_hardened(self.deploy, "spacekeeper")
        self.assertIn(f"--listen=0.0.0.0:{ports['https']}", c["args"])
        https = [p for p in self.service["spec"]["ports"] if p["port"] == 443][0]
        self.assertEqual(https["targetPort"], "https")
        # templates are watched from the API (in-cluster config), not read from files
        self.assertFalse([a for a in c["args"] if a.startswith("--templates")])
        self.assertTrue(pod.get("automountServiceAccountToken", True))
        self.assertEqual(pod["serviceAccountName"], "spacekeeper")

    def assert_hardened(self, deploy, pdb_name):
        """Pod security, probes, resources, anti-affinity and a PDB; returns
        the container and its named ports."""
        spec = deploy["spec"]
        self.assertGreaterEqual(spec["replicas"], 2)
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"]["labels"]
        pdb = by_kind(self.objs, "PodDisruptionBudget", pdb_name)[0]
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], spec["selector"]["matchLabels"])
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"].items() - labels.items(), set())
        self.assertGreaterEqual(pdb["spec"]["minAvailable"], 1)
        anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
        self.assertEqual(anti["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname")
        self.assertEqual(anti["podAffinityTerm"]["labelSelector"]["matchLabels"], spec["selector"]["matchLabels"])
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
        (c,) = pod["containers"]
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

    def binding_for(self, kind, role):
        (binding,) = [b for b in by_kind(self.objs, kind) if b["roleRef"]["name"] == role["metadata"]["name"]]
        return binding

    def test_deployment_policy_flags(self):
        (c,) = self.deploy["spec"]["template"]["spec"]["containers"]
        flags = dict(a[2:].split("=", 1) for a in c["args"] if a.startswith("--") and "=" in a)
        trusted = flags["trusted-service-accounts"].split(",")
        self.assertIn("system:serviceaccount:jupyter-k8s-system:jupyter-k8s-controller-manager", trusted)
        self.assertIn("system:serviceaccount:spacekeeper-system:spacekeeper-controller", trusted)
        self.assertIn(flags["template-scope"], ("cluster", "namespace"))
        # every argument is one serve accepts (--help last: it exits once the rest parsed)
        self.assertEqual(c["args"][0], "serve")
        p = subprocess.run([BIN, *c["args"], "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([BIN, *c["args"], "--template-scope=galaxy", "--help"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn('--template-scope must be cluster or namespace, not "galaxy"', p.stderr)

    def test_rbac_reads_templates_and_nothing_else(self):
        role = by_kind(self.objs, "ClusterRole", "spacekeeper-webhook")[0]
        self.assertEqual(role["rules"], [{"apiGroups": ["workspace.jupyter.org"],
                                          "resources": ["workspacetemplates"],
                                          "verbs": ["get", "list", "watch"]}])
        binding = self.binding_for("ClusterRoleBinding", role)
        self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": "spacekeeper", "namespace": NS}])
        # no other role names the webhook's service account
        for b in by_kind(self.objs, "ClusterRoleBinding") + by_kind(self.objs, "RoleBinding"):
            if b is not binding:
                self.assertNotIn("spacekeeper", [s["name"] for s in b["subjects"]])

    def test_ci_reader_component_lists_and_nothing_else(self):
        """manifests/ci-reader: optional, read-only RBAC for `check --cluster`."""
        for o in self.objs:  # not part of the default install
            self.assertNotIn(o["metadata"]["name"], ("spacekeeper-ci", "spacekeeper-ci-reader"))
        d = tempfile.mkdtemp(prefix="sk-ci-reader-")
        try:
            with open(os.path.join(d, "kustomization.yaml"), "w") as f:
                yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                "resources": [os.path.relpath(MANIFESTS, d)],
                                "components": [os.path.relpath(os.path.join(MANIFESTS, "ci-reader"), d)]}, f)
            objs = render(d)
        finally:
            shutil.rmtree(d)
        self.assertEqual(len(objs), len(self.objs) + 3)
        role = by_kind(objs, "ClusterRole", "spacekeeper-ci-reader")[0]
        self.assertEqual(role["rules"], [{"apiGroups": ["workspace.jupyter.org"],
                                          "resources": ["workspaces", "workspacetemplates"],
                                          "verbs": ["list"]}])
        (sa,) = by_kind(objs, "ServiceAccount", "spacekeeper-ci")
        self.assertEqual(sa["metadata"]["namespace"], NS)
        self.assertFalse(sa["automountServiceAccountToken"])
        binding = [b for b in by_kind(objs, "ClusterRoleBinding") if b["roleRef"]["name"] == "spacekeeper-ci-reader"]
        self.assertEqual(binding[0]["subjects"], [{"kind": "ServiceAccount", "name": "spacekeeper-ci", "namespace": NS}])
        # and it builds on its own, for `kubectl apply -k manifests/ci-reader`
        self.assertEqual(len(render(os.path.join(MANIFESTS, "ci-reader"))), 3)

    def test_controller_deployment_and_least_privilege(self):
        deploy = by_kind(self.objs, "Deployment", "spacekeeper-controller")[0]
        c, ports = self.assert_hardened(deploy, "spacekeeper-controller")
        pod = deploy["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], "spacekeeper-controller")
        self.assertEqual(c["image"], self.deploy["spec"]["template"]["spec"]["containers"][0]["image"])
        self.assertEqual(c["command"], ["/usr/local/bin/spacekeeper-controller"])
        self.assertIn("--leader-elect=true", c["args"])
        # the lease namespace comes from the pod's own
        env = {e["name"]: e for e in c.get("env", [])}
        self.assertEqual(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace")
        # the controller's flags parse: --help lists every one the Deployment passes
        help_text = subprocess.run([CTRL, "--help"], capture_output=True, text=True, check=True).stdout
        for arg in c["args"]:
            self.assertIn(arg.split("=")[0], help_text)
        role = by_kind(self.objs, "ClusterRole", "spacekeeper-controller")[0]
        self.assertEqual(role["rules"], [
            {"apiGroups": ["workspace.jupyter.org"], "resources": ["workspaces"],
             "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["workspace.jupyter.org"], "resources": ["workspacetemplates"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}])
        # preloading: the pause image is the controller's own, the PriorityClass never pre-empts
        self.assertIn(f"--preload-pause-image={c['image']}", c["args"])
        (pc,) = by_kind(self.objs, "PriorityClass")
        self.assertEqual(pc["metadata"]["name"], "spacekeeper-preload")
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
        # the identity the webhook lets stop OwnerOnly workspaces is this service account
        self.assertIn("system:serviceaccount:spacekeeper-system:spacekeeper-controller",
                      subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True).stdout
                      + open(os.path.join(ROOT, "include/spacekeeper/policy.h")).read())

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
        stamp = idle["detection"]["properties"]["httpGet"]["properties"]["lastActivityTimestamp"]["properties"]
        self.assertEqual(stamp["format"]["enum"], ["RFC3339", "unix"])
        self.assertEqual(stamp["responseBodyPath"], {"type": "string"})
        tpl = self.schemas["WorkspaceTemplate"]["properties"]["spec"]["properties"]
        for f in ("defaultImage", "allowedImages", "allowCustomImages", "defaultResources", "resourceBounds",
                  "primaryStorage", "defaultContainerConfig", "defaultPodSecurityContext", "defaultOwnershipType",
                  "defaultAccessStrategy", "defaultLifecycle", "defaultIdleShutdown", "idleShutdownOverrides",
                  "allowSecondaryStorages", "appType", "defaultNodeSelector", "defaultAffinity",
                  "defaultTolerations", "displayName", "description"):
            self.assertIn(f, tpl)

    def validate(self, doc):
        jsonschema.validate(doc, self.schemas[doc["kind"]])

    def test_examples_validate_against_the_schemas(self):
        self.assertEqual(len(EXAMPLES), 8)
        templates = [o for o in self.objs if o["kind"] == "WorkspaceTemplate"]
        self.assertEqual(len(templates), 2)
        for path in EXAMPLES + [None]:
            docs = [yaml.safe_load(open(path))] if path else templates
            for doc in docs:
                with self.subTest(example=path or doc["metadata"]["name"]):
                    self.validate(doc)

    def test_schemas_have_teeth(self):
        good = yaml.safe_load(open(os.path.join(MANIFESTS, "examples", "workspace-override.yaml")))
        bad_cases = [
            ("idleShutdown", {"enabled": "yes"}),
            ("idleShutdown", {"enabled": True, "idleShutdownTimeoutMinutes": 0}),
            ("desiredStatus", "Paused"),
            ("ownershipType", "Shared"),
            ("storage", {"size": "10GB"}),
            ("storage", {"sizee": "10Gi"}),
            ("imagePullPolicy", "Always"),
        ]
        for field, value in bad_cases:
            with self.subTest(field=field, value=value):
                doc = yaml.safe_load(yaml.safe_dump(good))
                doc["spec"][field] = value
                with self.assertRaises(jsonschema.ValidationError):
                    self.validate(doc)

    def test_examples_are_admitted_by_check(self):
        seed_templates = [p for p in EXAMPLES if os.path.basename(p) in
                          ("idle-shutdown-template.yaml", "locked-template.yaml")]
        for path in EXAMPLES:
            with self.subTest(example=os.path.basename(path)):
                args = [BIN, "check", "-t", os.path.join(MANIFESTS, "templates")]
                for t in seed_templates:
                    if t != path:
                        args += ["-t", t]
                p = subprocess.run(args + ["-f", path], capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("1 checked: 1 allowed, 0 denied", p.stdout)
        # and the rendered system templates pass their own self-checks
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


class InstallCertsTest(unittest.TestCase):
    """scripts/install-certs.sh against a kubectl stand-in that records what
    it is asked to do (no cluster here)."""

    def test_secret_and_ca_bundles(self):
        d = tempfile.mkdtemp(prefix="sk-install-")
        try:
            log = os.path.join(d, "kubectl.log")
            fake = os.path.join(d, "kubectl")
            with open(fake, "w") as f:
                f.write(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\ncat > /dev/null\n')
            os.chmod(fake, 0o755)
            env = dict(os.environ, KUBECTL=fake, SPACEKEEPER=BIN, CERT_DIR=os.path.join(d, "certs"))
            script = os.path.join(ROOT, "scripts", "install-certs.sh")
            subprocess.run([script], check=True, env=env, capture_output=True, timeout=60)
            calls = open(log).read().splitlines()
            self.assertTrue(calls[0].startswith("apply -k") and calls[0].endswith("manifests/base/crds"))
            self.assertTrue(any(c.startswith("apply -k") and c.endswith("manifests/base") for c in calls))
            self.assertIn("-n spacekeeper-system create secret tls spacekeeper-tls", "\n".join(calls))
            self.assertIn("apply -f -", calls)
            ca = open(os.path.join(d, "certs", "ca.crt"), "rb").read()
            import base64
            bundle = base64.b64encode(ca).decode()
            patches = [c for c in calls if c.startswith("patch")]
            self.assertEqual(len(patches), 2)
            self.assertEqual(sum(c.count(bundle) for c in patches), 3)  # 1 mutating + 2 validating webhooks
            sans = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                                   os.path.join(d, "certs", "tls.crt")], capture_output=True, text=True).stdout
            self.assertIn("DNS:spacekeeper.spacekeeper-system.svc", sans)
            # a second run rotates the serving pair but keeps the CA, so the bundle stays valid
            serial = lambda: subprocess.run(["openssl", "x509", "-noout", "-serial", "-in",
                                             os.path.join(d, "certs", "tls.crt")], capture_output=True, text=True).stdout
            before = serial()
            subprocess.run([script, "--no-apply"], check=True, env=env, capture_output=True, timeout=60)
            self.assertNotEqual(serial(), before)
            self.assertEqual(open(os.path.join(d, "certs", "ca.crt"), "rb").read(), ca)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    sys.argv[1:] = []
    harness.main(__name__, "e2e-manifests")
