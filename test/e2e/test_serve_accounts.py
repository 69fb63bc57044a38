#!/usr/bin/python3
"""spacekeeper serve on the workspace operator's dialect, against the API
server test double: templates in the operator's spellings, and the
ServiceAccount rules with ServiceAccounts watched from the API (allowed user,
pattern, group, the default, a refused user, an unknown one), changes to
them seen live, and no false denial while their watch is down."""
import base64
import copy
import json
import os
import sys
import time
import unittest

import jsonpatch
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_serve import review  # noqa: E402
from test_watch import Env, wait_for  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPERATOR_FIXTURES = os.path.join(ROOT, "test", "fixtures", "operator")
GROUP = "workspace.jupyter.org/v1alpha1"


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def service_account(name, ns="team-a", default=False, **annotations):
    md = {"name": name, "namespace": ns,
          "annotations": {f"workspace.jupyter.org/service-account-{k.replace('_', '-')}": yaml.safe_dump(v)
                          for k, v in annotations.items()}}
    if default:
        md["labels"] = {"workspace.jupyter.org/default-service-account": "true"}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md}


def workspace(name="w", ns="team-a", **spec):
    return {"apiVersion": GROUP, "kind": "Workspace", "metadata": {"name": name, "namespace": ns},
            "spec": {"templateRef": {"name": "open"}, **spec}}


OPEN = {"apiVersion": GROUP, "kind": "WorkspaceTemplate", "metadata": {"name": "open", "namespace": "team-a"},
        "spec": {"displayName": "Open", "defaultImage": "img:1", "allowCustomImages": True}}


class ServeAccountsTest(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.env.fake.put(OPEN)
        for sa in (service_account("runner", default=True),
                   service_account("s3", users=["alice"], user_patterns=["ml-*@example.com"],
                                   groups=["data-eng"])):
            self.env.fake.put(sa, resource="serviceaccounts")
        self.server = self.env.serve()
        self.wait_live()

    def wait_live(self, seconds=10):
        """Ready, and the ServiceAccount watch listed and live (readiness waits for templates only)."""
        wait_for("ServiceAccounts live", lambda: "[+]serviceaccounts: live" in self.server.health("/readyz")[1],
                 seconds)

    def tearDown(self):
        self.env.close()

    def ask(self, path, ws, user="alice", groups=("system:authenticated",), op="CREATE", old=None):
        body = review(ws, user=user, op=op, old=old, namespace=ws["metadata"]["namespace"])
        body["request"]["userInfo"]["groups"] = list(groups)
        status, resp = self.server.post(path, body)
        self.assertEqual(status, 200, resp)
        return resp["response"]

    def test_service_account_rules(self):
        cases = [
            ("the namespace's default", {}, "bob", (), True),
            ("the default, named", {"serviceAccountName": "runner"}, "bob", (), True),
            ("a named user", {"serviceAccountName": "s3"}, "alice", (), True),
            ("a pattern", {"serviceAccountName": "s3"}, "ml-kim@example.com", (), True),
            ("a group", {"serviceAccountName": "s3"}, "carol", ("data-eng",), True),
            ("an admin", {"serviceAccountName": "s3"}, "root", ("system:masters",), True),
            ("a refused user", {"serviceAccountName": "s3"}, "bob", (), False),
            ("an unknown ServiceAccount", {"serviceAccountName": "ghost"}, "alice", (), False),
        ]
        for what, spec, user, groups, allowed in cases:
            with self.subTest(case=what):
                r = self.ask("/validate", workspace(**spec), user=user, groups=groups)
                self.assertEqual(r["allowed"], allowed, r)
                if what == "a refused user":
                    self.assertIn('"bob" may not use ServiceAccount "s3"', r["status"]["message"])
                if what == "an unknown ServiceAccount":
                    self.assertIn('ServiceAccount "ghost" does not exist in namespace "team-a"',
                                  r["status"]["message"])
        # the mutating webhook names the default
        ws = workspace()
        r = self.ask("/mutate", ws, user="bob")
        patch = json.loads(base64.b64decode(r["patch"]))
        self.assertEqual(jsonpatch.apply_patch(copy.deepcopy(ws), patch)["spec"]["serviceAccountName"], "runner")

    def test_changes_are_seen_live(self):
        ws = workspace(serviceAccountName="s3")
        self.assertFalse(self.ask("/validate", ws, user="bob")["allowed"])
        self.env.fake.put(service_account("s3", users=["alice", "bob"]), resource="serviceaccounts")
        wait_for("bob granted", lambda: self.ask("/validate", ws, user="bob")["allowed"], 5)
        # a second labelled default: workspaces that name none are refused, naming both
        self.env.fake.put(service_account("zz-other", default=True), resource="serviceaccounts")
        wait_for("two defaults", lambda: not self.ask("/validate", workspace(), user="bob")["allowed"], 5)
        msg = self.ask("/validate", workspace(), user="bob")["status"]["message"]
        self.assertIn('two default ServiceAccounts, "runner" and "zz-other"', msg)
        self.env.fake.delete("team-a", "zz-other", resource="serviceaccounts")
        wait_for("one default again", lambda: self.ask("/validate", workspace(), user="bob")["allowed"], 5)

    def test_no_false_denial_while_the_watch_is_down(self):
        ws = workspace(serviceAccountName="s3")
        self.assertFalse(self.ask("/validate", ws, user="bob")["allowed"])
        self.env.fake.stop()
        try:
            # the reflector notices the broken stream and reports its copy as not live
            wait_for("unknown", lambda: self.ask("/validate", ws, user="bob")["allowed"], 10)
            r = self.ask("/validate", ws, user="bob")
            self.assertTrue(any("was not checked" in w for w in r.get("warnings", [])), r)
            self.assertIn("[-]serviceaccounts", self.server.health("/readyz")[1])
        finally:
            self.env.fake.start()
        self.wait_live(15)
        self.assertFalse(self.ask("/validate", ws, user="bob")["allowed"])

    def test_the_operators_fixtures_through_serve(self):
        """Templates, ServiceAccounts and workspaces in the operator's
        spellings: each answered by serve as its first line says."""
        for name in sorted(os.listdir(os.path.join(OPERATOR_FIXTURES, "templates"))):
            for t in load(os.path.join(OPERATOR_FIXTURES, "templates", name)):
                self.env.fake.put(t)
        for sa in load(os.path.join(OPERATOR_FIXTURES, "serviceaccounts.yaml")):
            self.env.fake.put(sa, resource="serviceaccounts")
        d = os.path.join(OPERATOR_FIXTURES, "workspaces")
        names = sorted(os.listdir(d))
        wait_for("templates", lambda: self.ask(
            "/validate", load(os.path.join(d, "02-inherits.yaml"))[0])["allowed"], 5)
        for name in names:
            with self.subTest(fixture=name):
                path = os.path.join(d, name)
                with open(path) as f:
                    allowed = f.readline().startswith("# admitted")
                (ws,) = load(path)
                r = self.ask("/validate", ws)
                self.assertEqual(r["allowed"], allowed, r)


if __name__ == "__main__":
    harness.main(__name__, "e2e-serve-accounts")
