#!/usr/bin/python3
"""spacekeeper check on the workspace operator's dialect: every template rule
the operator enforces, allowed and denied, written in the operator's
spellings and in the Spaces page's, through the real binary. Patches are
applied with python3-jsonpatch and must give the printed object."""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import jsonpatch
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPERATOR_FIXTURES = os.path.join(ROOT, "test", "fixtures", "operator")

GROUP = "workspace.jupyter.org/v1alpha1"
DETECT = {"httpGet": {"path": "/api/idle", "port": 8888}}

# The two dialects of the idle-shutdown fields.
SPELLINGS = {
    "operator": {"timeout": "idleTimeoutInMinutes", "min": "minIdleTimeoutInMinutes",
                 "max": "maxIdleTimeoutInMinutes"},
    "page": {"timeout": "idleShutdownTimeoutMinutes", "min": "minTimeoutMinutes",
             "max": "maxTimeoutMinutes"},
}


def template(name, spec, ns="team-a"):
    return {"apiVersion": GROUP, "kind": "WorkspaceTemplate", "metadata": {"name": name, "namespace": ns},
            "spec": {"defaultImage": "img:1", **spec}}


def workspace(name, spec, ns="team-a", labels=None):
    md = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    return {"apiVersion": GROUP, "kind": "Workspace", "metadata": md,
            "spec": {"templateRef": {"name": "t"}, **spec}}


def service_account(name, ns="team-a", default=False, users=None, patterns=None, groups=None):
    md = {"name": name, "namespace": ns, "annotations": {}}
    if default:
        md["labels"] = {"workspace.jupyter.org/default-service-account": "true"}
    for key, values in (("users", users), ("user-patterns", patterns), ("groups", groups)):
        if values is not None:
            md["annotations"][f"workspace.jupyter.org/service-account-{key}"] = yaml.safe_dump(values)
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md}


def run(*args, stdin=None):
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def idle_cases(dialect):
    s = SPELLINGS[dialect]
    bounds = {"idleShutdownOverrides": {"allow": True, s["min"]: 10, s["max"]: 60},
              "defaultIdleShutdown": {"enabled": True, s["timeout"]: 30, "detection": DETECT}}
    locked = {"idleShutdownOverrides": {"allow": False},
              "defaultIdleShutdown": {"enabled": True, s["timeout"]: 30, "detection": DETECT}}
    other = SPELLINGS["page" if dialect == "operator" else "operator"]
    return [
        (f"idle within bounds ({dialect})", bounds,
         {"idleShutdown": {"enabled": True, s["timeout"]: 45, "detection": DETECT}}, None, True, None),
        (f"idle above bounds ({dialect})", bounds,
         {"idleShutdown": {"enabled": True, s["timeout"]: 90, "detection": DETECT}}, None, False,
         (f"spec.idleShutdown.{s['timeout']}", "90 is outside the range allowed by template \"t\" (between 10 and 60")),
        # the template in one spelling, the workspace in the other
        (f"idle bounds read across spellings ({dialect})", bounds,
         {"idleShutdown": {"enabled": True, other["timeout"]: 5, "detection": DETECT}}, None, False,
         (f"spec.idleShutdown.{other['timeout']}", "5 is outside the range")),
        (f"idle default inherited ({dialect})", bounds, {}, None, True, None),
        (f"idle locked, same default in the other spelling ({dialect})", locked,
         {"idleShutdown": {"enabled": True, other["timeout"]: 30, "detection": DETECT}}, None, True, None),
        (f"idle locked, overridden ({dialect})", locked,
         {"idleShutdown": {"enabled": True, s["timeout"]: 20, "detection": DETECT}}, None, False,
         ("spec.idleShutdown", "cannot be overridden: template \"t\" locks idle shutdown")),
        (f"idle both spellings disagree ({dialect})", bounds,
         {"idleShutdown": {"enabled": True, s["timeout"]: 20, other["timeout"]: 25, "detection": DETECT}}, None,
         False, ("spec.idleShutdown.idleShutdownTimeoutMinutes", "mean the same and disagree")),
        (f"idle enabled without a timeout ({dialect})", bounds,
         {"idleShutdown": {"enabled": True, "detection": DETECT}}, None, False,
         ("spec.idleShutdown.idleShutdownTimeoutMinutes", "is required when idle shutdown is enabled")),
    ]


ENV_T = {"baseEnv": [{"name": "TZ", "value": "UTC"}],
         "envRequirements": [{"name": "TEAM", "required": True, "regex": "^team-[a-z]+$"},
                             {"name": "TOKEN", "regex": "secret"}]}
LABEL_T = {"baseLabels": [{"key": "cost-center", "value": "ml"}],
           "labelRequirements": [{"key": "project", "required": True, "regex": "^p[0-9]+$"}]}
INIT = [{"name": "fetch", "image": "busybox:1"}]
SA_DOCS = [service_account("runner", default=True), service_account("s3", users=["alice"]),
           service_account("s3-team", patterns=["ml-*"], groups=["data-eng"])]

# name, template spec, workspace spec, workspace labels, allowed, (field, text) or None
CASES = idle_cases("operator") + idle_cases("page") + [
    ("env required, given", ENV_T, {"env": [{"name": "TEAM", "value": "team-ml"}]}, None, True, None),
    ("env required, missing", ENV_T, {}, None, False,
     ("spec.env[TEAM]", "environment variable TEAM is required by template \"t\"")),
    ("env regex anchored by the template, refused", ENV_T, {"env": [{"name": "TEAM", "value": "x-team-ml"}]},
     None, False, ("spec.env[TEAM]", "value \"x-team-ml\" does not match \"^team-[a-z]+$\"")),
    ("env regex unanchored, found inside", ENV_T,
     {"env": [{"name": "TEAM", "value": "team-a"}, {"name": "TOKEN", "value": "a-secret-b"}]}, None, True, None),
    ("env valueFrom counts as empty", ENV_T,
     {"env": [{"name": "TEAM", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}, None, False,
     ("spec.env[TEAM]", "value \"\" does not match")),
    ("labels required, given", LABEL_T, {}, {"project": "p7"}, True, None),
    ("labels required, missing", LABEL_T, {}, None, False,
     ("metadata.labels[project]", "label project is required by template \"t\"")),
    ("labels regex refused", LABEL_T, {}, {"project": "q7"}, False,
     ("metadata.labels[project]", "value \"q7\" does not match \"^p[0-9]+$\"")),
    ("init containers: the defaults", {"defaultInitContainers": INIT}, {}, None, True, None),
    ("init containers: custom refused", {"defaultInitContainers": INIT},
     {"initContainers": [{"name": "mine", "image": "alpine:3"}]}, None, False,
     ("spec.initContainers", "does not allow custom init containers (allowCustomInitContainers is false)")),
    ("init containers: custom allowed", {"allowCustomInitContainers": True},
     {"initContainers": [{"name": "mine", "image": "alpine:3"}]}, None, True, None),
    ("access type: Public", {"defaultAccessType": "OwnerOnly"}, {"accessType": "Public"}, None, True, None),
    ("access type: unknown", {}, {"accessType": "Team"}, None, False,
     ("spec.accessType", "\"Team\" is not one of: Public, OwnerOnly")),
    ("default volumes under allowSecondaryStorages: true", {"defaultVolumes": [{"name": "v", "persistentVolumeClaimName": "v"}]},
     {}, None, True, None),
    ("volumes refused without secondary storage", {"allowSecondaryStorages": False},
     {"volumes": [{"name": "v", "persistentVolumeClaimName": "v"}]}, None, False,
     ("spec.volumes", "does not allow secondary storage")),
    ("appType jupyter, as the template says", {"appType": "jupyter"}, {"appType": "jupyter"}, None, True, None),
    ("appType differs from the template's", {"appType": "jupyter"}, {"appType": "jupyterlab"}, None, False,
     ("spec.appType", "does not match template \"t\", which is for \"jupyter\"")),
]


class OperatorDialectTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sk-op-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, docs):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            yaml.safe_dump_all(docs, f)
        return path

    def check(self, docs, *extra, user="alice"):
        f = self.write("in.yaml", docs)
        code, out, err = run("check", "-f", f, "-o", "json", "--user", user, *extra)
        self.assertIn(code, (0, 1), err)
        return code, json.loads(out)

    def assert_patch_gives_object(self, original, result):
        got = jsonpatch.JsonPatch(result["patch"]).apply(copy.deepcopy(original))
        self.assertEqual(got, result["object"])

    def test_every_rule_both_ways(self):
        for name, tspec, wspec, labels, allowed, want in CASES:
            with self.subTest(case=name):
                ws = workspace("w", wspec, labels=labels)
                code, doc = self.check([template("t", tspec), ws])
                (tr, wr) = doc["results"]
                self.assertTrue(tr["allowed"], tr["violations"])
                self.assertEqual(wr["allowed"], allowed, wr["violations"])
                self.assertEqual(code, 0 if allowed else 1)
                if want:
                    field, text = want
                    self.assertTrue(any(v["field"] == field and text in v["message"] for v in wr["violations"]),
                                    (field, text, wr["violations"]))
                if allowed:
                    self.assert_patch_gives_object(ws, wr)

    def test_defaults_of_every_new_row(self):
        tspec = {**ENV_T, **LABEL_T, "defaultInitContainers": INIT,
                 "defaultReadinessProbe": {"httpGet": {"path": "/api", "port": 8888}},
                 "defaultContainerSecurityContext": {"runAsNonRoot": True},
                 "defaultAccessType": "OwnerOnly",
                 "defaultVolumes": [{"name": "scratch", "persistentVolumeClaimName": "scratch"}],
                 "defaultIdleShutdown": {"enabled": True, "idleTimeoutInMinutes": 30, "detection": DETECT}}
        ws = workspace("w", {"env": [{"name": "TEAM", "value": "team-ml"}, {"name": "TZ", "value": "CET"}]},
                       labels={"project": "p1"})
        code, doc = self.check([template("t", tspec), ws, *SA_DOCS])
        self.assertEqual(code, 0, doc)
        r = doc["results"][1]
        spec, md = r["object"]["spec"], r["object"]["metadata"]
        self.assertEqual(spec["env"], [{"name": "TEAM", "value": "team-ml"}, {"name": "TZ", "value": "CET"}])
        self.assertEqual(md["labels"]["cost-center"], "ml")
        self.assertEqual(spec["initContainers"], INIT)
        self.assertEqual(spec["readinessProbe"], tspec["defaultReadinessProbe"])
        self.assertEqual(spec["containerSecurityContext"], {"runAsNonRoot": True})
        self.assertEqual(spec["accessType"], "OwnerOnly")
        self.assertEqual(spec["volumes"], tspec["defaultVolumes"])
        self.assertEqual(spec["serviceAccountName"], "runner")
        # written in the template's own spelling
        self.assertEqual(spec["idleShutdown"]["idleTimeoutInMinutes"], 30)
        self.assertNotIn("idleShutdownTimeoutMinutes", spec["idleShutdown"])
        self.assert_patch_gives_object(ws, r)
        # defaulting twice changes nothing
        code, doc = self.check([template("t", tspec), r["object"], *SA_DOCS])
        self.assertEqual(doc["results"][1]["patch"], [])

    def test_service_accounts(self):
        cases = [
            (None, "bob", [], True, None),
            ("runner", "bob", [], True, None),
            ("s3", "alice", [], True, None),
            ("s3", "bob", [], False, "\"bob\" may not use ServiceAccount \"s3\""),
            ("s3-team", "ml-kim", [], True, None),
            ("s3-team", "carol", ["--group", "data-eng"], True, None),
            ("s3-team", "carol", [], False, "may not use ServiceAccount \"s3-team\""),
            ("s3", "root", ["--group", "system:masters"], True, None),
            ("ghost", "alice", [], False, "ServiceAccount \"ghost\" does not exist in namespace \"team-a\""),
        ]
        for sa, user, extra, allowed, text in cases:
            with self.subTest(sa=sa, user=user):
                spec = {"serviceAccountName": sa} if sa else {}
                code, doc = self.check([template("t", {}), workspace("w", spec), *SA_DOCS], *extra, user=user)
                r = doc["results"][1]
                self.assertEqual(r["allowed"], allowed, r["violations"])
                if text:
                    self.assertTrue(any(text in v["message"] for v in r["violations"]), r["violations"])
                if not sa:
                    self.assertEqual(r["object"]["spec"]["serviceAccountName"], "runner")
        # no ServiceAccounts among the files: nothing is known, so nothing is refused, and it says so
        code, doc = self.check([template("t", {}), workspace("w", {"serviceAccountName": "s3"})], user="bob")
        r = doc["results"][1]
        self.assertTrue(r["allowed"], r["violations"])
        self.assertTrue(any("was not checked" in w for w in r["warnings"]), r["warnings"])
        # two labelled defaults: named, both
        docs = [template("t", {}), workspace("w", {}), service_account("a", default=True),
                service_account("b", default=True)]
        code, doc = self.check(docs)
        r = doc["results"][1]
        self.assertFalse(r["allowed"])
        self.assertIn("two default ServiceAccounts, \"a\" and \"b\"", r["violations"][0]["message"])

    def test_template_self_checks_in_the_operators_fields(self):
        bad = template("bad", {"envRequirements": [{"name": "A", "regex": "(a)\\1"}, {"name": "B", "regex": "["}],
                               "labelRequirements": [{"key": "k", "regex": "(?<=x)y"}],
                               "baseLabels": [{"key": "workspace.jupyter.org/owner", "value": "me"}],
                               "idleShutdownOverrides": {"minIdleTimeoutInMinutes": 60, "maxIdleTimeoutInMinutes": 10}})
        code, doc = self.check([bad], user="admin")
        self.assertEqual(code, 1)
        msgs = {v["field"]: v["message"] for v in doc["results"][0]["violations"]}
        self.assertIn("backreferences, which RE2 syntax does not have", msgs["spec.envRequirements[0]"])
        self.assertIn("does not compile", msgs["spec.envRequirements[1]"])
        self.assertIn("lookaround", msgs["spec.labelRequirements[0]"])
        self.assertIn("reserved", msgs["spec.baseLabels[0]"])
        self.assertIn("minIdleTimeoutInMinutes 60 is greater than maxIdleTimeoutInMinutes 10",
                      msgs["spec.idleShutdownOverrides"])
        # a workspace under that template is refused where the broken pattern guards it, never passed
        ws = workspace("w", {"env": [{"name": "B", "value": "x"}]}, ns="team-a")
        ws["spec"]["templateRef"] = {"name": "bad"}
        code, doc = self.check([bad, ws])
        r = doc["results"][1]
        self.assertFalse(r["allowed"])
        self.assertTrue(any(v["field"] == "spec.env[B]" and "cannot be checked" in v["message"]
                            for v in r["violations"]), r["violations"])

    def test_change_warnings_compare_the_new_fields_by_meaning(self):
        was = template("t", {"envRequirements": [{"name": "A", "required": True}, {"name": "B", "regex": "x"}]})
        reordered = template("t", {"envRequirements": [{"name": "B", "regex": "x"}, {"name": "A", "required": True}]})
        tightened = template("t", {"envRequirements": [{"name": "A", "required": True}, {"name": "B", "regex": "y"}]})
        spelled = template("t", {"defaultIdleShutdown": {"enabled": True, "idleTimeoutInMinutes": 30, "detection": DETECT}})
        respelled = template("t", {"defaultIdleShutdown": {"enabled": True, "idleShutdownTimeoutMinutes": 30,
                                                           "detection": DETECT}})
        for old, new, warned in ((was, reordered, False), (was, tightened, True), (spelled, respelled, False)):
            with self.subTest(new=new["spec"]):
                o = self.write("old.yaml", [old])
                code, doc = self.check([new], "--operation", "UPDATE", "--old", o, user="admin")
                warnings = doc["results"][0]["warnings"]
                self.assertEqual(any("constraints changed" in w for w in warnings), warned, warnings)

    def test_the_operators_idle_shutdown_samples(self):
        """The operator's four idle-shutdown samples (templateRef repaired to an
        object), rewritten as fixtures: each is admitted or denied as its own
        comments say."""
        d = os.path.join(OPERATOR_FIXTURES, "idle-shutdown")
        if not os.path.isdir(d):
            self.skipTest("no operator fixtures")
        with open(os.path.join(d, "expected.yaml")) as f:
            expected = yaml.safe_load(f)
        code, doc = self.check_dir(d)
        got = {r["name"]: r for r in doc["results"] if r["kind"] == "Workspace"}
        self.assertEqual(set(got), set(expected), doc["results"])
        for name, want in expected.items():
            with self.subTest(workspace=name):
                r = got[name]
                self.assertEqual(r["allowed"], want["allowed"], r["violations"])
                if "violation" in want:
                    self.assertTrue(any(want["violation"] in v["message"] for v in r["violations"]),
                                    r["violations"])

    def check_dir(self, d):
        code, out, err = run("check", "-f", d, "-o", "json", "--user", "alice")
        self.assertIn(code, (0, 1), err)
        return code, json.loads(out)


if __name__ == "__main__":
    harness.main(__name__, "e2e-check-operator")
