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

    def fixture_verdict(self, path):
        """(allowed, why) from the fixture's first line: "# admitted: ..." or "# denied: ..."."""
        with open(path) as f:
            first = f.readline()
        self.assertRegex(first, r"^# (admitted|denied): ", path)
        return first.startswith("# admitted"), first

    def check_fixture(self, path, user="alice", groups=()):
        args = ["check", "-t", os.path.join(OPERATOR_FIXTURES, "templates"),
                "-f", os.path.join(OPERATOR_FIXTURES, "serviceaccounts.yaml"), "-f", path,
                "-o", "json", "--user", user]
        for g in groups:
            args += ["--group", g]
        code, out, err = run(*args)
        self.assertIn(code, (0, 1), err)
        (r,) = [r for r in json.loads(out)["results"] if r["kind"] == "Workspace"]
        return r

    # the field each denied fixture is refused for
    DENIED_FIELD = {"04": "spec.idleShutdown", "06": "spec.env[TEAM_ID]", "07": "metadata.labels[cost-center]",
                    "08": "spec.initContainers", "11": "spec.serviceAccountName"}

    def test_the_operators_samples_and_rules(self):
        """The operator's four idle-shutdown samples (01-04, templateRef repaired
        to an object) and the fixtures of the other rules, written in the
        operator's spellings: each admitted or denied as its first line says."""
        d = os.path.join(OPERATOR_FIXTURES, "workspaces")
        files = sorted(os.listdir(d))
        self.assertGreaterEqual(len(files), 4)
        for name in files:
            with self.subTest(fixture=name):
                path = os.path.join(d, name)
                allowed, why = self.fixture_verdict(path)
                r = self.check_fixture(path)
                self.assertEqual(r["allowed"], allowed, (why, r["violations"]))
                field = self.DENIED_FIELD.get(name[:2])
                if not allowed:
                    self.assertIsNotNone(field, f"{name}: say which field it is denied for")
                    self.assertIn(field, [v["field"] for v in r["violations"]], r["violations"])
                else:
                    with open(path) as f:
                        original = yaml.safe_load(f)
                    self.assert_patch_gives_object(original, r)
        # the locked sample is refused for overriding the lock, naming the template's value
        r = self.check_fixture(os.path.join(d, "04-override-locked.yaml"))
        self.assertIn("cannot be overridden: template \"locked-template\" locks idle shutdown to enabled=true, "
                      "idleTimeoutInMinutes=2", r["violations"][0]["message"])
        # the inheriting sample gets the template's idle shutdown in the template's spelling
        r = self.check_fixture(os.path.join(d, "02-inherits.yaml"))
        self.assertEqual(r["object"]["spec"]["idleShutdown"]["idleTimeoutInMinutes"], 3)
        # the default ServiceAccount is the labelled one
        r = self.check_fixture(os.path.join(d, "12-default-service-account.yaml"))
        self.assertEqual(r["object"]["spec"]["serviceAccountName"], "notebook-default")

    def test_the_service_account_fixture_by_user(self):
        path = os.path.join(OPERATOR_FIXTURES, "workspaces", "10-service-account.yaml")
        for user, groups, allowed in (("alice", (), True),
                                      ("arn:aws:sts::111122223333:assumed-role/DataScientist/bob", (), True),
                                      ("arn:aws:sts::111122223333:assumed-role/Intern/bob", (), False),
                                      ("dave", ("ml-team",), True), ("dave", (), False),
                                      ("dave", ("system:masters",), True)):
            with self.subTest(user=user, groups=groups):
                r = self.check_fixture(path, user, groups)
                self.assertEqual(r["allowed"], allowed, r["violations"])


if __name__ == "__main__":
    harness.main(__name__, "e2e-check-operator")
