#!/usr/bin/python3
"""spacekeeper check against a live cluster: --cluster templates, --impact of a
template change on the cluster's workspaces, API errors, paging and -o junit,
against the API server test double (fake_apiserver.py) over TLS."""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

import yaml

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_watch import Env, write_kubeconfig  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
API = "workspace.jupyter.org/v1alpha1"
SHARED = "spacekeeper-shared"
DEFAULT_LABEL = "workspace.jupyter.org/default-template"
IDLE_DETECTION = {"httpGet": {"path": "/api/idle", "port": 8888}}


def template(name, ns, default=False, images=("img:1", "img:2", "img:3"), max_size="100Gi",
             idle_allow=True):
    labels = {DEFAULT_LABEL: "true"} if default else {}
    return {"apiVersion": API, "kind": "WorkspaceTemplate",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"defaultImage": images[0], "allowedImages": list(images),
                     "primaryStorage": {"defaultSize": "10Gi", "maxSize": max_size},
                     "defaultIdleShutdown": {"enabled": True, "idleShutdownTimeoutMinutes": 60,
                                             "detection": IDLE_DETECTION},
                     "idleShutdownOverrides": {"allow": idle_allow, "minTimeoutMinutes": 30,
                                               "maxTimeoutMinutes": 240}}}


def workspace(name, ns, ref=None, image="img:1", size="20Gi", status="Running", owner="alice",
              **spec):
    """A workspace as the cluster holds it. ref=(name, ns) is a templateRef;
    without one it uses its namespace's default, else the shared one."""
    s = {"image": image, "storage": {"size": size}, "desiredStatus": status, **spec}
    if ref:
        s["templateRef"] = {"name": ref[0], "namespace": ref[1]}
    return {"apiVersion": API, "kind": "Workspace",
            "metadata": {"name": name, "namespace": ns,
                         "annotations": {"workspace.jupyter.org/created-by": owner}},
            "spec": s, "status": {"phase": status}}


STRICT = ("strict", "team-a")
CLUSTER_TEMPLATES = [
    template("shared-default", SHARED, default=True, images=("img:1", "img:2"), max_size="50Gi"),
    template("strict", "team-a", default=True),
    template("gpu", "team-b", images=("gpu:1",)),
]
CLUSTER_WORKSPACES = [
    # team-a's default is "strict"
    workspace("a-ref-ok", "team-a", ref=STRICT),
    workspace("a-ref-img3", "team-a", ref=STRICT, image="img:3", status="Stopped"),
    workspace("a-default-big", "team-a", image="img:2", size="80Gi"),
    workspace("a-idle-override", "team-a", ref=STRICT,
              idleShutdown={"enabled": True, "idleShutdownTimeoutMinutes": 120, "detection": IDLE_DETECTION}),
    workspace("a-owner-only", "team-a", ref=STRICT, ownershipType="OwnerOnly", owner="carol"),
    workspace("a-uses-gpu", "team-a", ref=("gpu", "team-b"), image="gpu:1"),
    # team-b has no default: workspaces without a templateRef get the shared one
    workspace("b-ref-strict", "team-b", ref=STRICT),
    workspace("b-bare", "team-b"),
    workspace("b-gpu", "team-b", ref=("gpu", "team-b"), image="gpu:1"),
    # team-c has no templates at all
    workspace("c-shared-img2", "team-c", image="img:2"),
    workspace("c-shared-ok", "team-c"),
    workspace("c-pinned-shared", "team-c", ref=("shared-default", SHARED), image="img:2"),
]


# strict with a shorter image list and a lower maxSize: what many_workspaces() breaks
TIGHTENED = template("strict", "team-a", default=True, images=("img:1", "img:2"), max_size="60Gi")


def many_workspaces(count):
    """`count` workspaces for the paging test and `make bench`: three in four in
    team-a, half of those naming strict and half inheriting it as team-a's
    default; one in four on the shared default, spread over 100 namespaces.
    Every 7th runs img:3 and every 11th has 80Gi. Returns them, the names of
    strict's users, and the names of those TIGHTENED refuses."""
    wss, users, broken = [], set(), set()
    for i in range(count):
        name, kind = f"w-{i:05d}", i % 4
        ns = "team-a" if kind < 3 else f"team-{i % 100:02d}x"
        wss.append(workspace(name, ns, ref=STRICT if kind < 2 else None, image="img:3" if i % 7 == 0 else "img:1",
                             size="80Gi" if i % 11 == 0 else "20Gi"))
        if kind < 3:
            users.add(name)
            if i % 7 == 0 or i % 11 == 0:
                broken.add(name)
    return wss, users, broken


def run(*args, env=None, timeout=120):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        for t in CLUSTER_TEMPLATES:
            cls.env.fake.put(t)
        for w in CLUSTER_WORKSPACES:
            cls.env.fake.put(w, "workspaces")
        cls.dir = tempfile.mkdtemp(prefix="sk-check-cluster-")

    @classmethod
    def tearDownClass(cls):
        cls.env.close()
        shutil.rmtree(cls.dir)

    def setUp(self):
        self.env.fake.rules = None

    def write(self, name, docs):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            yaml.safe_dump_all(docs, f)
        return path

    def check(self, *args, kubeconfig=None):
        return run("check", "--kubeconfig", kubeconfig or self.env.kubeconfig, *args)

    def impact(self, *changed, extra=()):
        """--impact with the changed templates; returns (exit, report)."""
        path = self.write("changed.yaml", list(changed))
        code, out, err = self.check("--cluster", "--impact", "-t", path, "-o", "json", *extra)
        self.assertIn(code, (0, 1), err)
        return code, json.loads(out)

    def assert_impact(self, changed, denied, using, extra=()):
        code, doc = self.impact(*changed, extra=extra)
        got = {(r["namespace"], r["name"]) for r in doc["results"]}
        self.assertEqual(got, set(denied), doc["results"])
        self.assertTrue(all(not r["allowed"] and r["violations"] for r in doc["results"]))
        imp = doc["impact"]
        self.assertEqual((imp["using"], imp["denied"], imp["passing"]),
                         (using, len(denied), using - len(denied)), imp)
        self.assertEqual(code, 1 if denied else 0)
        return doc

    # ---- --cluster ----

    def test_cluster_decisions_match_the_same_templates_from_files(self):
        files = self.write("templates.yaml", CLUSTER_TEMPLATES)
        wss = [copy.deepcopy(w) for w in CLUSTER_WORKSPACES]
        wss += [workspace("bad-image", "team-c", image="evil:1"), workspace("too-big", "team-a", size="1Ti"),
                workspace("no-such-template", "team-b", ref=("gone", "team-b"))]
        for w in wss:
            del w["status"]
        # with a ServiceAccount among the files, both runs know the ServiceAccounts
        # (the cluster's are listed): each workspace gets its namespace's default
        wss.append({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": "team-a"}})
        f = self.write("workspaces.yaml", wss)
        code_t, out_t, err = run("check", "-t", files, "-f", f, "-o", "json", "--user", "alice")
        self.assertIn(code_t, (0, 1), err)
        before = len(self.env.fake.requests)
        code_c, out_c, err = self.check("--cluster", "-f", f, "-o", "json", "--user", "alice")
        self.assertIn(code_c, (0, 1), err)
        self.assertEqual(code_c, code_t)
        self.assertEqual(json.loads(out_c), json.loads(out_t))
        denied = {r["name"] for r in json.loads(out_c)["results"] if not r["allowed"]}
        self.assertEqual(denied, {"bad-image", "too-big", "no-such-template"})
        accounts = {r["name"]: r["object"]["spec"].get("serviceAccountName")
                    for r in json.loads(out_c)["results"] if r.get("object")}
        self.assertEqual(set(accounts.values()) - {None}, {"default"}, accounts)
        # one paged LIST of templates and one of ServiceAccounts, nothing else asked of the server
        self.assertEqual([(m, p, q) for m, p, q, _ in self.env.fake.requests[before:]],
                         [("GET", "/apis/workspace.jupyter.org/v1alpha1/workspacetemplates", {"limit": "500"}),
                          ("GET", "/api/v1/serviceaccounts", {"limit": "500"})])

    def test_a_file_template_replaces_the_clusters_copy(self):
        f = self.write("ws.yaml", [workspace("new", "team-a", ref=STRICT, image="img:3")])
        code, out, err = self.check("--cluster", "-f", f)
        self.assertEqual(code, 0, out + err)
        self.assertIn("ALLOWED  template team-a/strict", out)
        tightened = self.write("strict.yaml", [template("strict", "team-a", default=True, images=("img:1",))])
        code, out, err = self.check("--cluster", "-t", tightened, "-f", f)
        self.assertEqual(code, 1, out + err)
        self.assertIn('spec.image "img:3" is not allowed by template "strict" (allowed: img:1)', out)
        # the other cluster templates are still there
        f = self.write("ws2.yaml", [workspace("g", "team-a", ref=("gpu", "team-b"), image="gpu:1")])
        code, out, err = self.check("--cluster", "-t", tightened, "-f", f)
        self.assertEqual(code, 0, out + err)

    # ---- --impact ----

    def test_impact_of_a_tightened_image_list(self):
        doc = self.assert_impact(
            [template("strict", "team-a", default=True, images=("img:1", "img:2"))],
            denied=[("team-a", "a-ref-img3")],
            # every user of strict: by reference (also from team-b) and as team-a's default
            using=6)
        (r,) = doc["results"]
        self.assertEqual(r["template"], {"name": "strict", "namespace": "team-a"})
        self.assertEqual(r["source"], "cluster")
        self.assertIn('spec.image "img:3" is not allowed by template "strict" (allowed: img:1, img:2)',
                      r["violations"][0]["message"])
        self.assertEqual(doc["impact"]["workspaces"], len(CLUSTER_WORKSPACES))
        self.assertEqual(doc["impact"]["templates"], ["team-a/strict"])

    def test_impact_of_a_lowered_max_size(self):
        # a-default-big uses strict only as team-a's namespace default
        doc = self.assert_impact([template("strict", "team-a", default=True, max_size="60Gi")],
                                 denied=[("team-a", "a-default-big")], using=6)
        self.assertIn("spec.storage.size 80Gi is above the maximum 60Gi allowed by template \"strict\"",
                      doc["results"][0]["violations"][0]["message"])

    def test_impact_of_a_locked_idle_shutdown(self):
        doc = self.assert_impact([template("strict", "team-a", default=True, idle_allow=False)],
                                 denied=[("team-a", "a-idle-override")], using=6)
        self.assertEqual(doc["results"][0]["violations"][0]["field"], "spec.idleShutdown")

    def test_impact_of_a_changed_shared_default(self):
        # users of the shared default: by reference, and without a templateRef in
        # namespaces without a default of their own (team-b, team-c)
        self.assert_impact([template("shared-default", SHARED, default=True, images=("img:1",), max_size="50Gi")],
                           denied=[("team-c", "c-shared-img2"), ("team-c", "c-pinned-shared")], using=4)

    def test_impact_of_a_new_namespace_default(self):
        # team-b gets a default of its own: b-bare moves to it from the shared one
        self.assert_impact([template("b-default", "team-b", default=True, images=("img:9",))],
                           denied=[("team-b", "b-bare")], using=1)

    def test_impact_of_a_default_that_stops_being_one(self):
        # strict loses its default label: a-default-big falls back to the shared
        # default (50Gi at most) at its next start; explicit references keep strict
        self.assert_impact([template("strict", "team-a", default=False)],
                           denied=[("team-a", "a-default-big")], using=6)

    def test_impact_of_a_harmless_change_and_namespaces(self):
        self.assert_impact([template("strict", "team-a", default=True, max_size="200Gi")], denied=[], using=6)
        # -n: only that namespace's workspaces are listed
        doc = self.assert_impact([template("strict", "team-a", default=True, images=("img:1", "img:2"))],
                                 denied=[], using=1, extra=("-n", "team-b"))
        self.assertEqual(doc["impact"]["namespace"], "team-b")
        self.assertEqual(doc["impact"]["workspaces"], 3)
        self.assertTrue(self.env.fake.count("GET", "/namespaces/team-b/workspaces"))

    def test_impact_text(self):
        path = self.write("changed.yaml", [template("strict", "team-a", default=True, images=("img:1", "img:2"),
                                                    max_size="60Gi")])
        code, out, err = self.check("--cluster", "--impact", "-t", path)
        self.assertEqual(code, 1, err)
        lines = out.splitlines()
        self.assertEqual(lines[-1], "impact of team-a/strict on 12 workspaces (all namespaces): 6 use it, "
                                    "2 would be denied at their next start, 4 would still start")
        self.assertIn("Workspace team-a/a-ref-img3  (cluster)  DENIED  template team-a/strict", lines)
        self.assertIn("Workspace team-a/a-default-big  (cluster)  DENIED  template team-a/strict", lines)
        self.assertFalse([ln for ln in lines if "ALLOWED" in ln])

    def test_usage_errors(self):
        for args, msg in [(["--impact"], "--impact needs the changed templates"),
                          (["--impact", "-t", "x.yaml", "-f", "w.yaml"], "-f is not used with it"),
                          (["-n", "team-a", "-f", "w.yaml"], "use it with --impact"),
                          (["--impact", "-t", "x.yaml", "-n", "Team_A"], "-n must be a namespace name"),
                          (["-f", "w.yaml", "-o", "xml"], "-o must be text, json, yaml or junit")]:
            with self.subTest(args=args):
                code, out, err = run("check", *args)
                self.assertEqual(code, 2)
                self.assertIn(msg, err)

    # ---- API errors: one line, exit 2 ----

    def assert_one_line_error(self, args, *fragments, kubeconfig=None):
        code, out, err = self.check(*args, kubeconfig=kubeconfig)
        self.assertEqual(code, 2, out + err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        for frag in fragments:
            self.assertIn(frag, err)

    def test_unreachable_unauthorized_and_forbidden(self):
        ws = self.write("w.yaml", [workspace("x", "team-a")])
        changed = self.write("c.yaml", [template("strict", "team-a")])
        kc = os.path.join(self.dir, "kc-unreachable")
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        write_kubeconfig(kc, port, f"{self.env.api_certs}/ca.crt", self.env.token_file)
        self.assert_one_line_error(["--cluster", "-f", ws], "spacekeeper check: cannot list WorkspaceTemplates:",
                                   f"127.0.0.1:{port}", kubeconfig=kc)
        bad = os.path.join(self.dir, "bad-token")
        with open(bad, "w") as f:
            f.write("wrong")
        write_kubeconfig(kc, self.env.fake.port, f"{self.env.api_certs}/ca.crt", bad)
        self.assert_one_line_error(["--cluster", "-f", ws], "401 Unauthorized", "credentials", kubeconfig=kc)
        # 403 on the templates, then (templates readable) on the workspaces
        self.env.fake.rules = [{"apiGroups": ["workspace.jupyter.org"], "resources": ["workspaces"],
                                "verbs": ["list"]}]
        self.assert_one_line_error(["--cluster", "-f", ws], "403 Forbidden",
                                   'cannot list resource "workspacetemplates" in API group '
                                   '"workspace.jupyter.org" at the cluster scope', "manifests/ci-reader")
        # templates readable, ServiceAccounts not: one line says so, and the check goes on
        self.env.fake.rules = [{"apiGroups": ["workspace.jupyter.org"], "resources": ["workspacetemplates"],
                                "verbs": ["list"]}]
        code, out, err = self.check("--cluster", "-f", ws)
        self.assertEqual(code, 0, out + err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn('cannot list ServiceAccounts: API server answered 403 Forbidden', err)
        self.assertIn("spec.serviceAccountName is not checked", err)
        self.env.fake.rules.append({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["list"]})
        self.assert_one_line_error(["--impact", "-t", changed], "cannot list Workspaces: ", "403 Forbidden")
        self.assert_one_line_error(["--impact", "-t", changed, "-n", "team-a"], "403 Forbidden",
                                   'in the namespace "team-a"')
        # a kubeconfig that is not there, a context that is not in it
        self.assert_one_line_error(["--cluster", "-f", ws], "--cluster:", kubeconfig=os.path.join(self.dir, "none"))
        self.assert_one_line_error(["--cluster", "--context", "nope", "-f", ws], 'context "nope" not found')

    def test_the_ci_reader_role_is_enough(self):
        """The ClusterRole shipped in manifests/ci-reader, enforced by the test double."""
        kustomization = os.path.join(self.dir, "kustomization.yaml")
        with open(kustomization, "w") as f:
            yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                            "components": [os.path.relpath(os.path.join(ROOT, "manifests", "ci-reader"),
                                                           self.dir)]}, f)
        rendered = subprocess.run(["kubectl", "kustomize", self.dir], capture_output=True, text=True,
                                  timeout=120, check=True).stdout
        (role,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "ClusterRole"]
        self.env.fake.rules = role["rules"]
        ws = self.write("w.yaml", [workspace("x", "team-a")])
        code, out, err = self.check("--cluster", "-f", ws)
        self.assertEqual(code, 0, out + err)
        self.assert_impact([template("strict", "team-a", default=True, max_size="60Gi")],
                           denied=[("team-a", "a-default-big")], using=6)
        self.assert_impact([template("strict", "team-a", default=True, max_size="60Gi")],
                           denied=[("team-a", "a-default-big")], using=5, extra=("-n", "team-a"))

    # ---- -o junit ----

    def test_junit(self):
        f1 = self.write("one.yaml", [workspace("j-ok", "team-a", ref=STRICT), workspace("j-bad", "team-a", ref=STRICT,
                                                                                      image="evil:1")])
        f2 = self.write("two.yaml", [workspace("j-big", "team-c", size="1Ti"), template("t", "team-x")])
        code, out, err = self.check("--cluster", "-f", f1, "-f", f2, "-o", "junit")
        self.assertEqual(code, 1, err)
        root = ET.fromstring(out)
        self.assert_junit_counts(root, tests=4, failures=2)
        suites = root.findall("testsuite")
        self.assertEqual([s.get("name") for s in suites], [f1, f2])
        cases = {c.get("name"): c for c in root.iter("testcase")}
        self.assertEqual(set(cases), {"Workspace team-a/j-ok", "Workspace team-a/j-bad", "Workspace team-c/j-big",
                                      "WorkspaceTemplate team-x/t"})
        bad = cases["Workspace team-a/j-bad"]
        (failure,) = bad.findall("failure")
        self.assertEqual(failure.get("message"),
                         'spec.image "evil:1" is not allowed by template "strict" (allowed: img:1, img:2, img:3)')
        self.assertEqual(failure.text, failure.get("message"))
        props = {p.get("name"): p.get("value") for p in bad.find("properties")}
        self.assertEqual(props, {"template": "team-a/strict", "template.name": "strict",
                                 "template.namespace": "team-a"})
        props = {p.get("name"): p.get("value") for p in cases["Workspace team-c/j-big"].find("properties")}
        self.assertEqual(props["template"], f"{SHARED}/shared-default")
        self.assertIsNone(cases["Workspace team-a/j-ok"].find("failure"))
        self.assertEqual(bad.get("classname"), f1 + "#2")
        # --impact: a testcase per workspace that uses the changed template
        path = self.write("changed.yaml", [template("strict", "team-a", default=True, max_size="60Gi",
                                                    images=("img:1", "img:2"))])
        code, out, err = self.check("--cluster", "--impact", "-t", path, "-o", "junit")
        self.assertEqual(code, 1, err)
        root = ET.fromstring(out)
        self.assert_junit_counts(root, tests=6, failures=2)
        failing = sorted(c.get("name") for c in root.iter("testcase") if c.find("failure") is not None)
        self.assertEqual(failing, ["Workspace team-a/a-default-big", "Workspace team-a/a-ref-img3"])
        # a template nobody uses: an empty suite, exit 0
        path = self.write("unused.yaml", [template("unused", "team-z")])
        code, out, err = self.check("--cluster", "--impact", "-t", path, "-o", "junit")
        self.assertEqual(code, 0, err)
        self.assert_junit_counts(ET.fromstring(out), tests=0, failures=0)

    def assert_junit_counts(self, root, tests, failures):
        """The structure CI systems read, and counts that add up at every level."""
        self.assertEqual(root.tag, "testsuites")
        suites = root.findall("testsuite")
        self.assertTrue(suites)
        for s in suites:
            cases = s.findall("testcase")
            self.assertEqual(int(s.get("tests")), len(cases))
            self.assertEqual(int(s.get("failures")), sum(1 for c in cases if c.find("failure") is not None))
            self.assertEqual(int(s.get("errors")), 0)
            self.assertEqual(int(s.get("skipped")), 0)
            for c in cases:
                self.assertTrue(c.get("name") and c.get("classname"))
                self.assertLessEqual(len(c.findall("failure")), 1)
        self.assertEqual(int(root.get("tests")), sum(int(s.get("tests")) for s in suites))
        self.assertEqual(int(root.get("failures")), sum(int(s.get("failures")) for s in suites))
        self.assertEqual((int(root.get("tests")), int(root.get("failures"))), (tests, failures))


class PagingTest(unittest.TestCase):
    def test_impact_over_1200_workspaces_in_pages(self):
        env = Env()
        try:
            for t in CLUSTER_TEMPLATES:
                env.fake.put(t)
            wss, users, broken = many_workspaces(1200)
            env.fake.put_many(wss, "workspaces")
            changed = os.path.join(env.dir, "changed.yaml")
            with open(changed, "w") as f:
                yaml.safe_dump(TIGHTENED, f)
            # a continue token that expires midway starts the LIST over, counting nothing twice
            env.fake.expire_next_continue = True
            p = subprocess.run([BIN, "check", "--kubeconfig", env.kubeconfig, "--cluster", "--impact", "-t", changed,
                                "-o", "json"], capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 1, p.stderr)
            doc = json.loads(p.stdout)
            self.assertEqual({r["name"] for r in doc["results"]}, broken)
            self.assertEqual(doc["impact"]["workspaces"], 1200)
            self.assertEqual(doc["impact"]["using"], len(users))
            self.assertEqual(doc["impact"]["denied"], len(broken))
            pages = env.fake.count("GET", "/workspaces", limit="500")
            # the first page, its expired continue, then a fresh LIST of three pages
            self.assertEqual(pages, 1 + 1 + 3)
            self.assertFalse(env.fake.expire_next_continue)
        finally:
            env.close()


if __name__ == "__main__":
    sys.argv[1:] = []
    harness.main(__name__, "e2e-check-cluster")
