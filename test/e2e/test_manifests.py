#!/usr/bin/python3
"""manifests/: rendered with `kubectl kustomize` (offline) and checked object
by object (manifest_checks.py, the checks the Helm chart passes too); every
example is admitted by `spacekeeper check` and validates against the CRD
schemas."""
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
from manifest_checks import BIN, MANIFESTS, NS, ROOT, ManifestChecks, by_kind, kustomize, kustomize_with  # noqa: E402

EXAMPLES = sorted(glob.glob(os.path.join(MANIFESTS, "examples", "*.yaml")))


class ManifestsTest(ManifestChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.load(kustomize(MANIFESTS))
        cls.base = kustomize(os.path.join(MANIFESTS, "base"))

    def test_base_leaves_tls_to_its_users(self):
        # the base has no cert-manager objects and no injection, for install-certs.sh
        self.assertFalse([o for o in self.base if o["apiVersion"].startswith("cert-manager.io")])
        for o in self.base:
            if o["kind"].endswith("WebhookConfiguration"):
                self.assertNotIn("cert-manager.io/inject-ca-from", o["metadata"].get("annotations", {}))

    def test_ci_reader_component_lists_and_nothing_else(self):
        """manifests/ci-reader: optional, read-only RBAC for `check --cluster`."""
        for o in self.objs:  # not part of the default install
            self.assertNotIn(o["metadata"]["name"], ("spacekeeper-ci", "spacekeeper-ci-reader"))
        objs = kustomize_with("ci-reader")
        self.assertEqual(len(objs), len(self.objs) + 3)
        role = by_kind(objs, "ClusterRole", "spacekeeper-ci-reader")[0]
        self.assertEqual(role["rules"], [{"apiGroups": ["workspace.jupyter.org"],
                                          "resources": ["workspaces", "workspacetemplates"],
                                          "verbs": ["list"]},
                                         {"apiGroups": [""], "resources": ["serviceaccounts"],
                                          "verbs": ["list"]}])
        (sa,) = by_kind(objs, "ServiceAccount", "spacekeeper-ci")
        self.assertEqual(sa["metadata"]["namespace"], NS)
        self.assertFalse(sa["automountServiceAccountToken"])
        binding = [b for b in by_kind(objs, "ClusterRoleBinding") if b["roleRef"]["name"] == "spacekeeper-ci-reader"]
        self.assertEqual(binding[0]["subjects"], [{"kind": "ServiceAccount", "name": "spacekeeper-ci", "namespace": NS}])
        # and it builds on its own, for `kubectl apply -k manifests/ci-reader`
        self.assertEqual(len(kustomize(os.path.join(MANIFESTS, "ci-reader"))), 3)

    def test_examples_validate_against_the_schemas(self):
        self.assertEqual(len(EXAMPLES), 8)
        for path in EXAMPLES:
            with self.subTest(example=path):
                self.validate(yaml.safe_load(open(path)))

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
