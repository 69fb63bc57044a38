#!/usr/bin/python3
"""serve knows the workspaces: a WorkspaceTemplate UPDATE carries warnings
naming the workspaces it would refuse at their next start (the same counts
as check --impact), a DELETE of a template in use is refused with names
(never during a namespace deletion; admins may force it), and a broken
workspace watch degrades to no warning and allow. spacekeeper serve
--kubeconfig against the API server test double over TLS, on loopback."""
import copy
import json
import os
import re
import subprocess
import sys
import time
import unittest

import yaml

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_check_cluster import (CLUSTER_TEMPLATES, CLUSTER_WORKSPACES, SHARED, many_workspaces,  # noqa: E402
                                template, workspace)
from test_serve import review  # noqa: E402
from test_watch import Env, wait_for  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
ADMIN_GROUPS = ["system:masters", "system:authenticated"]
NS_CONTROLLER = "system:serviceaccount:kube-system:namespace-controller"
WARNING_BYTES = 120  # what kubectl shows well on one line


def template_review(new, old, op="UPDATE", user="admin", groups=("system:authenticated",)):
    r = review(new if op != "DELETE" else None, op=op, user=user, old=old)
    req = r["request"]
    req["namespace"] = (old or new)["metadata"]["namespace"]
    req["kind"]["kind"] = "WorkspaceTemplate"
    req["userInfo"]["groups"] = list(groups)
    return r


def namespace(name, phase="Active"):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": phase}}


class Cluster:
    """The test double with templates, workspaces and namespaces, and a webhook watching it."""

    def __init__(self, workspaces, *serve_args, list_seconds=15):
        self.env = Env()
        for t in CLUSTER_TEMPLATES:
            self.env.fake.put(t)
        self.env.fake.put_many(workspaces, "workspaces")
        for ns in sorted({w["metadata"]["namespace"] for w in workspaces} | {SHARED}):
            self.env.fake.put(namespace(ns), "namespaces")
        self.env.server = harness_server(self.env, *serve_args)
        self.wait_live("workspacetemplates", seconds=list_seconds)
        self.wait_live("workspaces", seconds=list_seconds)
        self.wait_live("namespaces", seconds=list_seconds)

    def metric(self, name, **labels):
        _, text = self.env.server.health("/metrics")
        sel = ",".join(f'{k}="{v}"' for k, v in labels.items())
        m = re.search(rf"^{name}{{{re.escape(sel)}}} (\S+)$" if sel else rf"^{name} (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    def wait_live(self, resource, live=1, seconds=15):
        wait_for(f"{resource} watch live={live}",
                 lambda: self.metric("spacekeeper_watch_live", resource=resource) == live, seconds)

    def validate(self, body):
        status, resp = self.env.server.post("/validate", body)
        assert status == 200, resp
        r = resp["response"]
        return r["allowed"], r.get("status", {}).get("message", ""), r.get("warnings", [])

    def update(self, new, old=None, **kw):
        if old is None:
            old = self.env.fake.get(new["metadata"]["namespace"], new["metadata"]["name"])
        return self.validate(template_review(new, old, **kw))

    def delete(self, ns, name, **kw):
        old = self.env.fake.get(ns, name)
        assert old, (ns, name)
        return self.validate(template_review(None, old, op="DELETE", **kw))

    def check_impact(self, changed):
        """What check --impact says of the same change, for comparison."""
        path = os.path.join(self.env.dir, "changed.yaml")
        with open(path, "w") as f:
            yaml.safe_dump_all(changed, f)
        p = subprocess.run([BIN, "check", "--kubeconfig", self.env.kubeconfig, "--impact", "-t", path,
                            "-o", "json"], capture_output=True, text=True, timeout=120)
        assert p.returncode in (0, 1), p.stderr
        return json.loads(p.stdout)

    def close(self):
        self.env.close()


def harness_server(env, *args):
    from test_serve import Server
    return Server(env.sk_certs, "--kubeconfig", env.kubeconfig, *args, templates=None)


def impact_lines(warnings):
    return [w for w in warnings if "would be refused" in w or re.match(r"^[\w.-]+/[\w.-]+: ", w)]


class WarningShape:
    def assert_shape(self, warnings):
        """spacekeeper's lines fit a terminal line each; all of them well under the 4 KiB limit."""
        for w in impact_lines(warnings) + [w for w in warnings if "--impact" in w]:
            self.assertLessEqual(len(w.encode()), WARNING_BYTES, w)
            self.assertFalse(any(ord(c) < 0x20 for c in w), w)
        self.assertLess(len(json.dumps(warnings).encode()), 4096 // 2)


class UpdateWarnings(unittest.TestCase, WarningShape):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(CLUSTER_WORKSPACES)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def assert_names(self, warnings, key, using, refused):
        """A summary, then one `ns/name: violation` line per refused workspace, in name order."""
        self.assert_shape(warnings)
        lines = impact_lines(warnings)
        self.assertEqual(lines[0], f"template {key}: {len(refused)} of its {using} workspaces would be refused "
                                   "at their next start")
        named = [ln.split(":", 1)[0] for ln in lines[1:]]
        self.assertEqual(named, sorted(refused))
        return lines

    def test_tightened_storage(self):
        new = template("strict", "team-a", default=True, max_size="60Gi")
        allowed, _, warnings = self.c.update(new)
        self.assertTrue(allowed)  # never denies: admins may tighten on purpose
        lines = self.assert_names(warnings, "team-a/strict", 6, ["team-a/a-default-big"])
        self.assertIn("spec.storage.size", lines[1])
        self.assertIn("60Gi", lines[1])

    def test_tightened_image_list_matches_check_impact(self):
        new = template("strict", "team-a", default=True, images=("img:1", "img:2"))
        allowed, _, warnings = self.c.update(new)
        self.assertTrue(allowed)
        lines = self.assert_names(warnings, "team-a/strict", 6, ["team-a/a-ref-img3"])
        self.assertIn('"img:3"', lines[1])
        # the same numbers and the same names as check --impact
        doc = self.c.check_impact([new])
        self.assertEqual(doc["impact"]["using"], 6)
        self.assertEqual(doc["impact"]["denied"], 1)
        self.assertEqual([f"{r['namespace']}/{r['name']}" for r in doc["results"]], ["team-a/a-ref-img3"])
        self.assertEqual(lines[1].split(": ", 1)[1], doc["results"][0]["violations"][0]["message"][:len(lines[1].split(": ", 1)[1])])

    def test_locked_idle_shutdown(self):
        new = template("strict", "team-a", default=True, idle_allow=False)
        allowed, _, warnings = self.c.update(new)
        self.assertTrue(allowed)
        lines = self.assert_names(warnings, "team-a/strict", 6, ["team-a/a-idle-override"])
        self.assertIn("idleShutdown", lines[1])

    def test_a_shared_default_reaches_other_namespaces(self):
        new = template("shared-default", SHARED, default=True, images=("img:1",), max_size="50Gi")
        allowed, _, warnings = self.c.update(new)
        self.assertTrue(allowed)
        # team-b and team-c inherit it; c-pinned-shared names it
        self.assert_names(warnings, f"{SHARED}/shared-default", 4, ["team-c/c-pinned-shared", "team-c/c-shared-img2"])

    def test_harmless_changes_are_silent(self):
        # a widened bound: the engine's general note at most, no impact lines
        _, _, warnings = self.c.update(template("strict", "team-a", default=True, max_size="200Gi"))
        self.assertEqual(impact_lines(warnings), [])
        # a label nobody reads: nothing at all
        new = template("strict", "team-a", default=True)
        new["metadata"]["labels"]["team"] = "a"
        self.assertEqual(self.c.update(new), (True, "", []))

    def test_a_template_nobody_uses(self):
        self.c.env.fake.put(template("lonely", "team-z"))
        wait_for("lonely in the store", lambda: self.c.delete("team-z", "lonely")[0], 5)
        allowed, _, warnings = self.c.update(template("lonely", "team-z", images=("x:1",)))
        self.assertTrue(allowed)
        self.assertEqual(impact_lines(warnings), [])


class ManyWorkspaces(unittest.TestCase, WarningShape):
    """1,500 workspaces, 1,125 on strict (reviewed by two threads, half each): ten names
    in order, then how many more; above --impact-limit, counts only."""

    @classmethod
    def setUpClass(cls):
        cls.wss, cls.users, cls.broken = many_workspaces(1500)
        cls.c = Cluster(cls.wss, "--impact-limit", "1200")

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_first_ten_and_the_rest_counted(self):
        tightened = template("strict", "team-a", default=True, images=("img:1", "img:2"), max_size="60Gi")
        allowed, _, warnings = self.c.update(tightened)
        self.assertTrue(allowed)
        self.assert_shape(warnings)
        lines = impact_lines(warnings)
        self.assertEqual(lines[0], f"template team-a/strict: {len(self.broken)} of its {len(self.users)} "
                                   "workspaces would be refused at their next start")
        names = [ln.split(":", 1)[0] for ln in lines[1:]]
        self.assertEqual(names, [f"team-a/{n}" for n in sorted(self.broken)[:10]])
        self.assertEqual(warnings[-1], f"... and {len(self.broken) - 10} more: spacekeeper check --cluster "
                                       "--impact -t FILE lists them all")
        self.assertEqual(len(warnings), 12 + (len(warnings) - len(lines) - 1))

    def test_count_only_above_the_limit(self):
        # the shared default is used by 250: reviewed; strict by 750 is too, so lower the
        # limit's reach by a template used by everyone in team-a and the shared default's users
        c = Cluster(self.wss, "--impact-limit", "100")
        try:
            tightened = template("strict", "team-a", default=True, images=("img:1",))
            allowed, _, warnings = c.update(tightened)
            self.assertTrue(allowed)
            self.assert_shape(warnings)
            self.assertEqual(warnings[-2:], [
                f"template team-a/strict is used by {len(self.users)} workspaces, over --impact-limit 100: "
                "counted, not reviewed",
                "spacekeeper check --cluster --impact -t FILE says which of them this change would refuse "
                "at their next start"])
        finally:
            c.close()


class DeleteProtection(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(CLUSTER_WORKSPACES)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_a_template_in_use_is_refused_with_names(self):
        allowed, msg, _ = self.c.delete("team-a", "strict", user="bob")
        self.assertFalse(allowed)
        self.assertIn('template "strict" in namespace "team-a" is used by 6 workspaces '
                      "(team-a/a-default-big, team-a/a-idle-override, team-a/a-owner-only, team-a/a-ref-img3, "
                      "team-a/a-ref-ok and 1 more)", msg)
        self.assertIn("point their spec.templateRef at another template or delete them first", msg)
        self.assertIn("--admin-groups", msg)

    def test_in_use_as_the_shared_default(self):
        allowed, msg, _ = self.c.delete(SHARED, "shared-default", user="bob")
        self.assertFalse(allowed)
        self.assertIn("is used by 4 workspaces (team-b/b-bare, team-c/c-pinned-shared, team-c/c-shared-img2, "
                      "team-c/c-shared-ok)", msg)

    def test_one_user_by_templateref(self):
        allowed, msg, _ = self.c.delete("team-b", "gpu", user="bob")
        self.assertFalse(allowed)
        self.assertIn("is used by 2 workspaces (team-a/a-uses-gpu, team-b/b-gpu)", msg)

    def test_an_unused_template_goes(self):
        self.c.env.fake.put(template("spare", "team-z"))
        wait_for("spare deletable", lambda: self.c.delete("team-z", "spare", user="bob")[0], 5)
        self.assertEqual(self.c.delete("team-z", "spare", user="bob"), (True, "", []))

    def test_the_namespace_controller_is_never_refused(self):
        self.assertEqual(self.c.delete("team-a", "strict", user=NS_CONTROLLER,
                                       groups=["system:serviceaccounts", "system:serviceaccounts:kube-system"]),
                         (True, "", []))

    def test_a_terminating_namespace_is_never_blocked(self):
        fake = self.c.env.fake
        fake.put(namespace("team-b", "Terminating"), "namespaces")
        try:
            # gpu lives in team-b, and b-gpu goes with it; a-uses-gpu in team-a still counts, but the
            # namespace that holds the template is being deleted
            wait_for("team-b terminating", lambda: self.c.delete("team-b", "gpu", user="gc")[0], 5)
            # the workspaces of a namespace being deleted do not hold the shared default
            allowed, msg, _ = self.c.delete(SHARED, "shared-default", user="bob")
            self.assertFalse(allowed)
            self.assertIn("is used by 3 workspaces (team-c/", msg)
        finally:
            fake.put(namespace("team-b"), "namespaces")
        wait_for("team-b active", lambda: not self.c.delete("team-b", "gpu", user="gc")[0], 5)

    def test_an_admin_may_force_it_with_a_warning(self):
        allowed, _, warnings = self.c.delete("team-a", "strict", user="root", groups=ADMIN_GROUPS)
        self.assertTrue(allowed)
        self.assertEqual(len(warnings), 1)
        self.assertTrue(warnings[0].startswith("template team-a/strict deleted by an admin; 6 workspaces use it: "
                                               "team-a/a-default-big, team-a/a-idle-override, "), warnings)
        self.assertLessEqual(len(warnings[0]), WARNING_BYTES)


class BrokenWatch(unittest.TestCase):
    """The workspace watch lost: /readyz and a metric say so, and nothing is refused on its account."""

    def test_no_false_denial(self):
        c = Cluster(CLUSTER_WORKSPACES)
        try:
            fake = c.env.fake
            self.assertFalse(c.delete("team-a", "strict", user="bob")[0])
            status, body = c.env.server.health("/readyz")
            self.assertEqual(status, 200)
            self.assertIn("[+]workspaces: live", body)
            # the webhook's identity loses workspaces; the API server restarts, so every watch is re-made
            fake.rules = [{"apiGroups": ["workspace.jupyter.org"], "resources": ["workspacetemplates"],
                           "verbs": ["get", "list", "watch"]},
                          {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}]
            fake.restart()
            c.wait_live("workspaces", live=0)
            c.wait_live("workspacetemplates", live=1)
            status, body = c.env.server.health("/readyz")
            self.assertEqual(status, 200)  # templates are what readiness needs
            self.assertRegex(body, r"\[-\]workspaces: watch broken, serving the last copy \(\d+ watches lost\)")
            self.assertGreaterEqual(c.metric("spacekeeper_watch_restarts_total", resource="workspaces"), 1)
            self.assertEqual(c.delete("team-a", "strict", user="bob"), (True, "", []))
            allowed, _, warnings = c.update(template("strict", "team-a", default=True, max_size="60Gi"))
            self.assertTrue(allowed)
            self.assertEqual(impact_lines(warnings), [])
            # back: the guard with it
            fake.rules = None
            c.wait_live("workspaces", live=1, seconds=30)
            self.assertFalse(c.delete("team-a", "strict", user="bob")[0])
        finally:
            c.close()


if __name__ == "__main__":
    harness.main(__name__, "e2e-serve-workspaces")
