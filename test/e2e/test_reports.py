#!/usr/bin/python3
"""Compliance reports end to end: the real spacekeeper-controller against the
API server test double (fake_apiserver.py), which serves wgpolicyk8s.io only
once the PolicyReport CRD that manifests/ ships is stored in it. Reports are
checked against that CRD's schema, with unknown fields an error (the API
server would prune them). Every wait is bounded; "nothing written" is
asserted after the controller's own pass counter shows that passes ran."""
import copy
import os
import sys
import time
import unittest

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from manifest_checks import MANIFESTS, json_schema  # noqa: E402
from test_check_cluster import SHARED, template, workspace  # noqa: E402
from test_controller import Env, wait_for  # noqa: E402

CRD_FILE = os.path.join(MANIFESTS, "chart", "policyreports", "policyreports.yaml")
REPORT = "spacekeeper"
MANAGED = {"app.kubernetes.io/managed-by": "spacekeeper"}
FAST = ("--preload=false", "--policy-report-interval", "0.2s", "--policy-report-resync", "1s")


def crd():
    with open(CRD_FILE) as f:
        return yaml.safe_load(f)


class ReportsEnv(Env):
    def report(self, ns):
        return self.fake.get(ns, REPORT, "policyreports")

    def reports(self):
        return {r["metadata"]["namespace"]: r for r in self.fake.list_of("policyreports")}

    def writes(self):
        return self.fake.write_count("policyreports")


def rules(report):
    """(workspace, rule) of every result, in the report's order."""
    return [(r["resources"][0]["name"], r["rule"]) for r in report["results"]]


class ReportsTest(unittest.TestCase):
    def setUp(self):
        self.env = ReportsEnv()
        self.schema = json_schema(crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])

    def tearDown(self):
        self.env.close()

    def install_crd(self):
        self.env.fake.put(crd(), "customresourcedefinitions")

    def seed(self):
        """Two templates and workspaces in three namespaces: team-a has one
        failing workspace, team-b none, team-c one that fails twice."""
        fake = self.env.fake
        fake.put(template("shared", SHARED, default=True, images=("img:1", "img:2"), max_size="50Gi"))
        fake.put(template("strict", "team-a", images=("img:1", "img:2")))
        for ws in (workspace("ok", "team-a", ref=("strict", "team-a")),
                   workspace("bad-image", "team-a", ref=("strict", "team-a"), image="img:9"),
                   workspace("fine", "team-b", image="img:2", size="10Gi"),
                   workspace("twice", "team-c", image="img:9", size="80Gi")):
            fake.put(ws, "workspaces")

    def passes(self, ctl):
        return ctl.metric("spacekeeper_policy_report_passes_total") or 0

    def wait_passes(self, ctl, n=2):
        """Until n more passes have run (a resync each, when nothing changed)."""
        start = self.passes(ctl)
        wait_for(f"{n} compliance passes", lambda: self.passes(ctl) >= start + n, 15)

    def assert_valid(self, report):
        jsonschema.validate(report, self.schema)
        self.assertEqual(report["apiVersion"], "wgpolicyk8s.io/v1alpha2")
        self.assertEqual(report["metadata"]["labels"], MANAGED)
        for r in report["results"]:
            self.assertEqual((r["policy"], r["source"], r["result"]), ("spacekeeper", "spacekeeper", "fail"))
            self.assertEqual(set(r["timestamp"]), {"seconds", "nanos"})
            (ref,) = r["resources"]
            self.assertEqual((ref["apiVersion"], ref["kind"], ref["namespace"]),
                             ("workspace.jupyter.org/v1alpha1", "Workspace", report["metadata"]["namespace"]))
            self.assertEqual(ref["uid"], self.env.fake.get(ref["namespace"], ref["name"], "workspaces")
                             ["metadata"]["uid"])
        s = report["summary"]
        self.assertEqual(s["fail"], len(report["results"]))
        self.assertEqual((s["warn"], s["error"], s["skip"]), (0, 0, 0))

    def test_created_updated_and_removed(self):
        env = self.env
        self.install_crd()
        self.seed()
        ctl = env.start(*FAST)
        wait_for("reports of team-a and team-c", lambda: set(env.reports()) == {"team-a", "team-c"}, 15)
        a, c = env.report("team-a"), env.report("team-c")
        for report in (a, c):
            self.assert_valid(report)
        self.assertEqual(rules(a), [("bad-image", "spec.image")])
        self.assertEqual(a["summary"]["pass"], 1)
        self.assertIn('"img:9" is not allowed by template "strict"', a["results"][0]["message"])
        self.assertEqual(a["results"][0]["properties"], {"template": "team-a/strict"})
        self.assertEqual(rules(c), [("twice", "spec.image"), ("twice", "spec.storage.size")])
        self.assertEqual(c["summary"]["pass"], 0)
        self.assertEqual(c["results"][1]["properties"], {"template": f"{SHARED}/shared"})
        self.assertIsNone(env.report("team-b"))  # nothing fails there: no report
        self.assertEqual(ctl.metric("spacekeeper_workspaces_noncompliant", namespace="team-a",
                                    template="team-a/strict"), 1)
        self.assertEqual(ctl.metric("spacekeeper_workspaces_noncompliant", namespace="team-b",
                                    template=f"{SHARED}/shared"), 0)
        self.assertEqual(ctl.metric("spacekeeper_workspaces_noncompliant", namespace="team-c",
                                    template=f"{SHARED}/shared"), 1)
        first_seen = a["results"][0]["timestamp"]

        # a template tightens: "ok" (img:1) fails too; the old result keeps its timestamp
        env.fake.put(template("strict", "team-a", images=("img:2",)))
        wait_for("team-a's report updated", lambda: len(env.report("team-a")["results"]) == 2, 15)
        a = env.report("team-a")
        self.assert_valid(a)
        self.assertEqual(rules(a), [("bad-image", "spec.image"), ("ok", "spec.image")])
        self.assertEqual(a["summary"]["pass"], 0)
        self.assertEqual(a["results"][0]["timestamp"], first_seen)
        self.assertEqual(ctl.metric("spacekeeper_workspaces_noncompliant", namespace="team-a",
                                    template="team-a/strict"), 2)

        # a workspace is fixed: one result left
        env.fake.put(workspace("bad-image", "team-a", ref=("strict", "team-a"), image="img:2"), "workspaces")
        wait_for("the fixed workspace out of the report",
                 lambda: rules(env.report("team-a")) == [("ok", "spec.image")], 15)
        self.assertEqual(env.report("team-a")["summary"], {"pass": 1, "fail": 1, "warn": 0, "error": 0, "skip": 0})

        # the last one is fixed, and team-c's workspace goes: both reports go
        env.fake.put(workspace("ok", "team-a", ref=("strict", "team-a"), image="img:2"), "workspaces")
        env.fake.delete("team-c", "twice", "workspaces")
        wait_for("the empty reports deleted", lambda: env.reports() == {}, 15)
        self.assertEqual(ctl.metric("spacekeeper_workspaces_noncompliant", namespace="team-a",
                                    template="team-a/strict"), 0)
        self.assertIsNone(ctl.metric("spacekeeper_workspaces_noncompliant", namespace="team-c",
                                     template=f"{SHARED}/shared"))
        wait_for("the deletions logged", lambda: ctl.read_log().count("policy report deleted") == 2, 5)
        self.assertEqual(ctl.read_log().count("policy report created"), 2)

    def test_no_writes_on_resync(self):
        env = self.env
        self.install_crd()
        self.seed()
        ctl = env.start(*FAST)
        wait_for("the reports", lambda: set(env.reports()) == {"team-a", "team-c"}, 15)
        self.wait_passes(ctl)
        writes, reviews = env.writes(), ctl.metric("spacekeeper_policy_report_reviews_total")
        self.assertEqual(writes, 2)
        self.assertEqual(reviews, 4)  # one per workspace so far
        # resyncs, a watch restart (a full LIST again) and a change that changes no verdict
        self.wait_passes(ctl, 3)
        env.fake.restart()
        ws = env.fake.get("team-b", "fine", "workspaces")
        ws["metadata"]["labels"] = {"team": "b"}
        env.fake.put(ws, "workspaces")
        wait_for("the relabelled workspace reviewed again",
                 lambda: ctl.metric("spacekeeper_policy_report_reviews_total") == reviews + 1, 15)
        self.wait_passes(ctl, 3)
        self.assertEqual(env.writes(), writes, env.fake.writes)
        # unchanged workspaces were not reviewed again
        self.assertEqual(ctl.metric("spacekeeper_policy_report_reviews_total"), reviews + 1)

        # a report edited by hand is put back
        tampered = env.report("team-a")
        tampered["results"] = []
        tampered["summary"]["fail"] = 0
        env.fake.put(tampered, "policyreports")
        wait_for("the report put back", lambda: len(env.report("team-a")["results"]) == 1, 15)
        self.assertEqual(env.fake.write_count("policyreports", "PUT"), 1)

    def test_crd_absent_one_log_line_then_installed(self):
        env = self.env
        self.seed()
        ctl = env.start(*FAST)
        self.wait_passes(ctl, 3)  # a CRD lookup every resync
        log = ctl.read_log()
        self.assertEqual(log.count("PolicyReport CRD not installed"), 1, log)
        self.assertNotIn("list failed", log)
        self.assertEqual(env.writes(), 0)
        self.assertEqual(ctl.metric("spacekeeper_policy_report_crd_installed"), 0)
        # the metric does not need the CRD
        self.assertEqual(ctl.metric("spacekeeper_workspaces_noncompliant", namespace="team-c",
                                    template=f"{SHARED}/shared"), 1)
        self.assertEqual(ctl.health("/readyz")[0], 200)
        # installed later: found at the next lookup
        self.install_crd()
        wait_for("the reports", lambda: set(env.reports()) == {"team-a", "team-c"}, 15)
        self.assertEqual(ctl.metric("spacekeeper_policy_report_crd_installed"), 1)
        self.assertIn("PolicyReport CRD found", ctl.read_log())

    def test_crd_removed_while_running(self):
        env = self.env
        self.install_crd()
        self.seed()
        ctl = env.start(*FAST)
        wait_for("the reports", lambda: set(env.reports()) == {"team-a", "team-c"}, 15)
        env.fake.delete("", "policyreports.wgpolicyk8s.io", "customresourcedefinitions")
        wait_for("the CRD missed", lambda: ctl.metric("spacekeeper_policy_report_crd_installed") == 0, 15)
        writes = env.writes()
        env.fake.put(workspace("late", "team-b", image="img:9"), "workspaces")
        self.wait_passes(ctl, 3)
        self.assertEqual(env.writes(), writes)
        self.assertEqual(ctl.read_log().count("PolicyReport CRD not installed"), 1)
        self.assertEqual(ctl.metric("spacekeeper_workspaces_noncompliant", namespace="team-b",
                                    template=f"{SHARED}/shared"), 1)

    def test_only_the_leader_writes(self):
        env = self.env
        self.install_crd()
        self.seed()
        one = env.start(*FAST, elect=True, identity="one")
        wait_for("a leader", lambda: one.leading(), 15)
        two = env.start(*FAST, elect=True, identity="two")
        wait_for("the reports", lambda: set(env.reports()) == {"team-a", "team-c"}, 15)
        env.fake.put(workspace("late", "team-b", image="img:9"), "workspaces")
        wait_for("team-b's report", lambda: env.report("team-b") is not None, 15)
        writes = lambda c: sum(c.metric("spacekeeper_policy_report_writes_total", operation=op)
                               for op in ("create", "update", "delete"))
        wait_for("the leader's count of its writes", lambda: writes(one) == 3, 5)
        self.assertEqual(writes(two), 0)
        self.assertFalse(two.leading())
        # the standby exports no counts of its own, so a sum over replicas is the leader's
        self.assertIsNone(two.metric("spacekeeper_workspaces_noncompliant", namespace="team-b",
                                     template=f"{SHARED}/shared"))

    def test_disabled(self):
        env = self.env
        self.install_crd()
        self.seed()
        ctl = env.start("--preload=false", "--policy-reports=false")
        status, text = ctl.health("/metrics")
        self.assertEqual(status, 200)
        self.assertNotIn("spacekeeper_workspaces_noncompliant", text)
        time.sleep(0.5)  # nothing to wait for: nothing may happen
        self.assertEqual(env.writes(), 0)
        self.assertFalse([p for m, p, *_ in env.fake.requests if "wgpolicyk8s.io" in p])


class FlagsTest(unittest.TestCase):
    def test_bad_values_refused(self):
        import subprocess
        from test_controller import CTRL
        for args, msg in ((["--policy-reports=maybe"], "--policy-reports must be true or false"),
                          (["--policy-report-interval", "soon"], "--policy-report-interval"),
                          (["--policy-report-resync", "0s"], "--policy-report-resync: too short"),
                          (["--template-scope", "galaxy"], "--template-scope must be cluster or namespace")):
            with self.subTest(args=args):
                p = subprocess.run([CTRL, *args], capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2)
                self.assertIn(msg, p.stderr)


if __name__ == "__main__":
    harness.main(__name__, "e2e-reports")
