#!/usr/bin/python3
"""spacekeeper check, end to end: the real binary on real files."""
import base64
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
TEMPLATES = os.path.join(ROOT, "manifests", "templates")
# team-a's default here is "strict", which allows only img:1 and img:2
STRICT = os.path.join(ROOT, "test", "fixtures", "templates.yaml")

TPL = """apiVersion: workspace.jupyter.org/v1alpha1
kind: WorkspaceTemplate
metadata:
  name: {name}
  namespace: {namespace}
spec:
{spec}
"""


def tpl(name, spec, namespace="team-a"):
    return TPL.format(name=name, namespace=namespace, spec=spec)


WS = """apiVersion: workspace.jupyter.org/v1alpha1
kind: Workspace
metadata:
  name: {name}
  namespace: team-a
spec:
{spec}
"""


def ws(name, spec="  displayName: x"):
    return WS.format(name=name, spec=spec)


def run(*args, stdin=None):
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sk-check-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check_json(self, *args, stdin=None):
        code, out, err = run("check", *args, "-o", "json", stdin=stdin)
        self.assertIn(code, (0, 1), err)
        return code, json.loads(out)

    def test_allowed_workspace_gets_defaults_and_patch_applies(self):
        f = self.write("ws.yaml", ws("ok"))
        code, doc = self.check_json("-t", TEMPLATES, "-f", f, "--user", "alice")
        self.assertEqual(code, 0)
        (r,) = doc["results"]
        self.assertEqual((r["kind"], r["namespace"], r["name"], r["allowed"]),
                         ("Workspace", "team-a", "ok", True))
        self.assertEqual(r["violations"], [])
        obj = r["object"]
        self.assertEqual(obj["spec"]["image"],
                         "public.ecr.aws/sagemaker/sagemaker-distribution:latest-cpu")
        self.assertEqual(obj["spec"]["storage"]["size"], "10Gi")
        self.assertEqual(obj["metadata"]["annotations"]["workspace.jupyter.org/created-by"], "alice")
        with open(f) as src:
            original = yaml.safe_load(src)
        self.assertEqual(jsonpatch.JsonPatch(r["patch"]).apply(original), obj)

    def test_denied_workspace_exit_1_and_every_violation(self):
        f = self.write("ws.yaml", ws("bad", "  image: evil:1\n  storage: {size: 1Ti}\n"
                                            "  ownershipType: Nobody"))
        code, doc = self.check_json("-t", STRICT, "-f", f)
        self.assertEqual(code, 1)
        fields = sorted(v["field"] for v in doc["results"][0]["violations"])
        self.assertEqual(fields, ["spec.image", "spec.ownershipType", "spec.storage.size"])
        code, out, _ = run("check", "-t", STRICT, "-f", f)
        self.assertEqual(code, 1)
        self.assertIn("DENIED", out)
        self.assertIn('spec.image "evil:1" is not allowed by template "strict" (allowed: img:1, img:2)', out)
        self.assertIn("1 checked: 0 allowed, 1 denied", out)

    def test_yaml_output_round_trips(self):
        f = self.write("ws.yaml", ws("y"))
        code, out, err = run("check", "-t", TEMPLATES, "-f", f, "-o", "yaml")
        self.assertEqual(code, 0, err)
        code2, doc = self.check_json("-t", TEMPLATES, "-f", f)
        self.assertEqual(yaml.safe_load(out), doc)

    def test_stdin_and_directories(self):
        self.write("tree/a/one.yaml", ws("one"))
        self.write("tree/b/two.yml", ws("two") + "---\n" + ws("three"))
        self.write("tree/ignored.txt", "not: yaml: at all")
        code, doc = self.check_json("-t", TEMPLATES, "-f", os.path.join(self.dir, "tree"))
        self.assertEqual(code, 0)
        self.assertEqual([r["name"] for r in doc["results"]], ["one", "two", "three"])
        code, doc = self.check_json("-t", TEMPLATES, "-f", "-", stdin=ws("piped"))
        self.assertEqual(doc["results"][0]["name"], "piped")
        self.assertEqual(doc["results"][0]["source"], "<stdin>")
        tpl = open(os.path.join(TEMPLATES, "jupyterlab.yaml")).read()
        code, doc = self.check_json("-t", "-", "-f", self.write("w.yaml", ws("t")), stdin=tpl)
        self.assertEqual(code, 0)

    def test_templates_among_files_are_validated_and_used(self):
        f = self.write("both.yaml", """apiVersion: workspace.jupyter.org/v1alpha1
kind: WorkspaceTemplate
metadata: {name: mine, namespace: team-a}
spec:
  defaultImage: mine:1
  primaryStorage: {defaultSize: 100Gi, maxSize: 10Gi}
---
""" + ws("uses-it", "  templateRef: {name: mine}"))
        code, doc = self.check_json("-f", f)
        self.assertEqual(code, 1)
        tpl, w = doc["results"]
        self.assertFalse(tpl["allowed"])
        self.assertIn("spec.primaryStorage.defaultSize 100Gi is above the maximum 10Gi",
                      tpl["violations"][0]["message"])
        self.assertEqual(w["object"]["spec"]["image"], "mine:1")

    def test_admission_review_document_is_answered(self):
        obj = yaml.safe_load(ws("rev", "  image: evil:2"))
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": "abc-123", "operation": "CREATE", "namespace": "team-a",
                              "userInfo": {"username": "bob"}, "object": obj}}
        f = self.write("review.json", json.dumps(review))
        code, doc = self.check_json("-t", STRICT, "-f", f)
        self.assertEqual(code, 1)
        resp = doc["results"][0]["response"]
        self.assertEqual(resp["apiVersion"], "admission.k8s.io/v1")
        self.assertEqual(resp["response"]["uid"], "abc-123")
        self.assertFalse(resp["response"]["allowed"])
        self.assertEqual(resp["response"]["status"]["code"], 403)
        patch = json.loads(base64.b64decode(resp["response"]["patch"]))
        patched = jsonpatch.JsonPatch(patch).apply(obj)
        self.assertEqual(patched["metadata"]["annotations"]["workspace.jupyter.org/created-by"], "bob")

    def test_update_with_old(self):
        old_path = self.write("old.yaml", ws("u", "  storage: {size: 20Gi, storageClassName: gp3}"))
        new_path = self.write("new.yaml", ws("u", "  storage: {size: 10Gi, storageClassName: io2}"))
        code, doc = self.check_json("-t", TEMPLATES, "-f", new_path, "--old", old_path)
        self.assertEqual(code, 1)
        msgs = " ".join(v["message"] for v in doc["results"][0]["violations"])
        self.assertIn("cannot shrink from 20Gi to 10Gi", msgs)
        self.assertIn("is immutable", msgs)
        other = self.write("other.yaml", ws("someone-else"))
        code, _, err = run("check", "-t", TEMPLATES, "-f", other, "--old", old_path)
        self.assertEqual(code, 2)
        self.assertIn('no Workspace "someone-else"', err)

    def test_owner_only_delete(self):
        old = self.write("old.yaml", """apiVersion: workspace.jupyter.org/v1alpha1
kind: Workspace
metadata:
  name: mine
  namespace: team-a
  annotations: {workspace.jupyter.org/created-by: alice}
spec: {ownershipType: OwnerOnly}
""")
        code, doc = self.check_json("-t", TEMPLATES, "-f", old, "--old", old,
                                    "--operation", "DELETE", "--user", "bob")
        self.assertEqual(code, 1)
        self.assertIn('only its creator "alice"', doc["results"][0]["violations"][0]["message"])
        code, doc = self.check_json("-t", TEMPLATES, "-f", old, "--old", old,
                                    "--operation", "DELETE", "--user", "carol",
                                    "--groups", "platform-admins", "--admin-groups", "platform-admins")
        self.assertEqual(code, 0)

    def test_only_the_owner_makes_a_workspace_owner_only(self):
        owned = """apiVersion: workspace.jupyter.org/v1alpha1
kind: Workspace
metadata:
  name: shared
  namespace: team-a
  annotations: {{workspace.jupyter.org/created-by: alice}}
spec: {{image: img:1, ownershipType: {kind}}}
"""
        public = self.write("public.yaml", owned.format(kind="Public"))
        locked = self.write("locked.yaml", owned.format(kind="OwnerOnly"))
        code, doc = self.check_json("-t", STRICT, "-f", locked, "--old", public, "--user", "bob")
        self.assertEqual(code, 1)
        self.assertEqual([v["message"] for v in doc["results"][0]["violations"]],
                         ['workspace "shared" is Public: only its creator "alice" or a member of '
                          'system:masters, system:serviceaccounts:kube-system may make it OwnerOnly, not "bob"'])
        for who in (["--user", "alice"],
                    ["--user", "carol", "--groups", "platform-admins", "--admin-groups", "platform-admins"],
                    ["--user", "system:serviceaccount:spacekeeper-system:spacekeeper-controller"]):
            code, doc = self.check_json("-t", STRICT, "-f", locked, "--old", public, *who)
            self.assertEqual(code, 0, (who, doc))
        # and back to Public: the owner may, bob may not
        code, doc = self.check_json("-t", STRICT, "-f", public, "--old", locked, "--user", "alice")
        self.assertEqual(code, 0)
        code, doc = self.check_json("-t", STRICT, "-f", public, "--old", locked, "--user", "bob")
        self.assertEqual(code, 1)

    def test_reserved_prefix(self):
        labelled = ws("l").replace("  namespace: team-a\n",
                                   "  namespace: team-a\n  labels: {workspace.jupyter.org/custom-label: x}\n")
        f = self.write("ws.yaml", labelled)
        code, doc = self.check_json("-t", TEMPLATES, "-f", f, "--user", "bob")
        self.assertEqual(code, 1)
        (v,) = doc["results"][0]["violations"]
        self.assertEqual(v["field"], "metadata.labels.workspace.jupyter.org/custom-label")
        self.assertIn("metadata.labels[workspace.jupyter.org/custom-label]: the prefix workspace.jupyter.org/ "
                      "is reserved", v["message"])
        operator = "system:serviceaccount:jupyter-k8s-system:jupyter-k8s-controller-manager"
        for who in (["--user", operator],
                    ["--user", "carol", "--groups", "platform-admins", "--admin-groups", "platform-admins"],
                    ["--user", "system:serviceaccount:ci:bot", "--trusted-service-accounts",
                     "system:serviceaccount:ci:bot"]):
            code, doc = self.check_json("-t", TEMPLATES, "-f", f, *who)
            self.assertEqual(code, 0, (who, doc))
        # the list replaces the defaults
        code, doc = self.check_json("-t", TEMPLATES, "-f", f, "--user", operator,
                                    "--trusted-service-accounts", "system:serviceaccount:ci:bot")
        self.assertEqual(code, 1)
        # on UPDATE a key the old object has may stay as it is, not change
        old = self.write("old.yaml", labelled)
        code, doc = self.check_json("-t", TEMPLATES, "-f", f, "--old", old, "--user", "bob")
        self.assertEqual(code, 0, doc)
        changed = self.write("new.yaml", labelled.replace("custom-label: x", "custom-label: y"))
        code, doc = self.check_json("-t", TEMPLATES, "-f", changed, "--old", old, "--user", "bob")
        self.assertEqual(code, 1)
        self.assertEqual(doc["results"][0]["violations"][0]["field"],
                         "metadata.labels.workspace.jupyter.org/custom-label")

    def test_template_scope(self):
        borrowed = self.write("ws.yaml", ws("b", "  templateRef: {name: strict, namespace: team-a}")
                              .replace("namespace: team-a\nspec", "namespace: team-b\nspec"))
        code, doc = self.check_json("-t", STRICT, "-f", borrowed)
        self.assertEqual(code, 0, doc)  # cluster, the default: any namespace
        code, doc = self.check_json("-t", STRICT, "-f", borrowed, "--template-scope", "cluster")
        self.assertEqual(code, 0, doc)
        code, doc = self.check_json("-t", STRICT, "-f", borrowed, "--template-scope", "namespace")
        self.assertEqual(code, 1)
        self.assertEqual([v["message"] for v in doc["results"][0]["violations"]],
                         ['spec.templateRef: template "strict" in namespace "team-a" is out of reach: with '
                          '--template-scope namespace a workspace in "team-b" may use templates of its own '
                          'namespace or of the shared namespace "spacekeeper-shared"'])
        own = self.write("own.yaml", ws("o", "  templateRef: {name: strict, namespace: team-a}"))
        shared = self.write("shared.yaml", ws("s", "  templateRef: {name: shared-only, namespace: spacekeeper-shared}")
                            .replace("namespace: team-a\nspec", "namespace: team-b\nspec"))
        code, doc = self.check_json("-t", STRICT, "-f", own, "-f", shared, "--template-scope", "namespace")
        self.assertEqual(code, 0, doc)
        code, _, err = run("check", "-t", STRICT, "-f", own, "--template-scope", "team")
        self.assertEqual(code, 2)
        self.assertIn('--template-scope must be cluster or namespace, not "team"', err)

    def test_bad_input_exit_2_names_file_and_line(self):
        bad = self.write("bad.yaml", "kind: Workspace\nmetadata:\n  name: [unclosed\n")
        code, out, err = run("check", "-t", TEMPLATES, "-f", bad)
        self.assertEqual(code, 2)
        self.assertIn("bad.yaml:4:1:", err)
        code, _, err = run("check", "-t", TEMPLATES, "-f", os.path.join(self.dir, "missing.yaml"))
        self.assertEqual(code, 2)
        self.assertIn("No such file", err)
        broken_tpl = self.write("tpl.yaml", "apiVersion: workspace.jupyter.org/v1alpha1\n"
                                            "kind: WorkspaceTemplate\nmetadata: {name: t}\n"
                                            "spec: {primaryStorage: {maxSize: 10GB}}\n")
        code, _, err = run("check", "-t", broken_tpl, "-f", self.write("w.yaml", ws("w")))
        self.assertEqual(code, 2)
        self.assertIn('unknown suffix "GB"', err)
        self.assertEqual(run("check")[0], 2)
        self.assertEqual(run("check", "-f", bad, "-o", "xml")[0], 2)
        self.assertEqual(run("check", "-f", bad, "--operation", "UPDATE")[0], 2)
        self.assertEqual(run("frobnicate")[0], 2)

    def test_system_templates_allow_custom_images(self):
        f = self.write("ws.yaml", ws("byo", "  image: jupyter/scipy-notebook:latest"))
        code, doc = self.check_json("-t", TEMPLATES, "-f", f)
        self.assertEqual(code, 0)

    def test_other_kinds_are_skipped(self):
        f = self.write("mixed.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n" + ws("w"))
        code, out, _ = run("check", "-t", TEMPLATES, "-f", f)
        self.assertEqual(code, 0)
        self.assertIn("1 skipped", out)

    def test_template_default_image_outside_list(self):
        byo = self.write("byo.yaml", tpl("byo", "  allowCustomImages: true\n  defaultImage: img-default\n"
                                                "  allowedImages: [img-a]"))
        code, doc = self.check_json("-f", byo)
        self.assertEqual(code, 0, doc)
        pinned = self.write("pinned.yaml", tpl("pinned", "  defaultImage: img-default\n"
                                                      "  allowedImages: [img-a]"))
        code, doc = self.check_json("-f", pinned)
        self.assertEqual(code, 1)
        (v,) = doc["results"][0]["violations"]
        self.assertEqual(v["field"], "spec.defaultImage")
        self.assertIn('spec.defaultImage "img-default" is not in spec.allowedImages (img-a)', v["message"])

    SMALL = tpl("small", "  defaultImage: img\n  defaultResources:\n"
                         "    requests: {cpu: 200m, memory: 256Mi}\n    limits: {cpu: 500m, memory: 512Mi}\n"
                         "  resourceBounds:\n    resources:\n      cpu: {max: \"2\"}")

    def test_defaulted_resources_follow_the_users_own(self):
        t = self.write("small.yaml", self.SMALL)
        f = self.write("ws.yaml", ws("r", '  templateRef: {name: small}\n  resources: {requests: {cpu: "1"}}'))
        code, doc = self.check_json("-t", t, "-f", f)
        self.assertEqual(code, 0, doc)
        self.assertEqual(doc["results"][0]["object"]["spec"]["resources"],
                         {"requests": {"cpu": "1", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}})
        with open(f) as src:
            original = yaml.safe_load(src)
        self.assertEqual(jsonpatch.JsonPatch(doc["results"][0]["patch"]).apply(original),
                         doc["results"][0]["object"])
        f = self.write("ws2.yaml", ws("r", "  templateRef: {name: small}\n  resources: {limits: {memory: 128Mi}}"))
        code, doc = self.check_json("-t", t, "-f", f)
        self.assertEqual(code, 0, doc)
        self.assertEqual(doc["results"][0]["object"]["spec"]["resources"]["requests"],
                         {"cpu": "200m", "memory": "128Mi"})
        # the fitted result is still bounded, and the user's own contradiction still denied
        f = self.write("ws3.yaml", ws("r", '  templateRef: {name: small}\n  resources: {requests: {cpu: "3"}}'))
        code, doc = self.check_json("-t", t, "-f", f)
        self.assertEqual(code, 1)
        msgs = [v["message"] for v in doc["results"][0]["violations"]]
        self.assertIn('spec.resources.limits.cpu 3 is above the maximum 2 allowed by template "small"', msgs)
        f = self.write("ws4.yaml", ws("r", '  templateRef: {name: small}\n'
                                           '  resources: {requests: {cpu: "1"}, limits: {cpu: 500m}}'))
        code, doc = self.check_json("-t", t, "-f", f)
        self.assertEqual(code, 1)
        self.assertEqual([v["message"] for v in doc["results"][0]["violations"]],
                         ["spec.resources.limits.cpu 500m is less than spec.resources.requests.cpu 1"])

    def test_storage_always_gets_a_checked_size(self):
        fast = tpl("fast", "  defaultImage: img\n  primaryStorage: {maxSize: 5Gi, defaultStorageClassName: fast-ssd}")
        t = self.write("fast.yaml", fast)
        # the template itself is admitted, with a warning about the operator's 10Gi
        code, doc = self.check_json("-f", t)
        self.assertEqual(code, 0)
        self.assertEqual(doc["results"][0]["warnings"],
                         ["template \"fast\": spec.primaryStorage has no defaultSize and the operator's "
                          "default 10Gi is above maxSize 5Gi; workspaces given storage get 5Gi"])
        f = self.write("ws.yaml", ws("s", "  templateRef: {name: fast}"))
        code, doc = self.check_json("-t", t, "-f", f)
        self.assertEqual(code, 0, doc)
        self.assertEqual(doc["results"][0]["object"]["spec"]["storage"],
                         {"storageClassName": "fast-ssd", "size": "5Gi"})
        # an old workspace without a size gets one when it is next changed
        old = self.write("old.yaml", ws("s", "  templateRef: {name: fast}\n  image: img\n"
                                             "  storage: {storageClassName: fast-ssd}"))
        new = self.write("new.yaml", ws("s", "  templateRef: {name: fast}\n  image: img\n"
                                             "  storage: {storageClassName: fast-ssd}\n  desiredStatus: Running"))
        code, doc = self.check_json("-t", t, "-f", new, "--old", old)
        self.assertEqual(code, 0, doc)
        self.assertEqual(doc["results"][0]["object"]["spec"]["storage"]["size"], "5Gi")
        # the user's own size stays when it is within the bounds, and is refused past them
        f = self.write("ws2.yaml", ws("s", "  templateRef: {name: fast}\n  storage: {size: 3Gi}"))
        code, doc = self.check_json("-t", t, "-f", f)
        self.assertEqual(code, 0, doc)
        self.assertEqual(doc["results"][0]["object"]["spec"]["storage"]["size"], "3Gi")
        f = self.write("ws3.yaml", ws("s", "  templateRef: {name: fast}\n  storage: {size: 8Gi}"))
        code, doc = self.check_json("-t", t, "-f", f)
        self.assertEqual(code, 1)
        self.assertEqual([v["message"] for v in doc["results"][0]["violations"]],
                         ['spec.storage.size 8Gi is above the maximum 5Gi allowed by template "fast"'])

    def test_template_change_warnings_compare_meaning(self):
        old = self.write("old.yaml", tpl("t", "  defaultImage: a\n  allowedImages: [a, b]\n"
                                              "  resourceBounds: {resources: {cpu: {max: 1000m}}}\n"
                                              "  primaryStorage: {maxSize: 50Gi}"))
        same = self.write("same.yaml", tpl("t", "  defaultImage: a\n  allowedImages: [b, a]\n"
                                                '  resourceBounds: {resources: {cpu: {max: "1"}}}\n'
                                                "  primaryStorage: {maxSize: 51200Mi}\n  displayName: New name"))
        code, doc = self.check_json("-f", same, "--old", old)
        self.assertEqual(code, 0)
        self.assertEqual(doc["results"][0]["warnings"], [])
        tighter = self.write("tighter.yaml", tpl("t", "  defaultImage: a\n  allowedImages: [b, a]\n"
                                                      "  resourceBounds: {resources: {cpu: {max: 900m}}}\n"
                                                      "  primaryStorage: {maxSize: 50Gi}"))
        code, doc = self.check_json("-f", tighter, "--old", old)
        self.assertEqual(code, 0)
        (w,) = doc["results"][0]["warnings"]
        self.assertIn('template "t" constraints changed (resourceBounds)', w)

    def test_no_template_and_no_image_gets_the_default_image(self):
        # no templateRef, no default in team-a, none in the shared namespace
        other = self.write("other.yaml", tpl("elsewhere", "  defaultImage: x", namespace="team-z"))
        f = self.write("ws.yaml", ws("bare"))
        for templates in ([], ["-t", other]):
            code, doc = self.check_json(*templates, "-f", f)
            self.assertEqual(code, 0, doc)
            obj = doc["results"][0]["object"]
            self.assertEqual(obj["spec"]["image"], "public.ecr.aws/sagemaker/sagemaker-distribution:latest-cpu")
            self.assertNotIn("templateRef", obj["spec"])
        code, doc = self.check_json("-f", f, "--default-image", "registry.example.com/smd:2.7")
        self.assertEqual(code, 0)
        self.assertEqual(doc["results"][0]["object"]["spec"]["image"], "registry.example.com/smd:2.7")
        code, doc = self.check_json("-f", f, "--default-image", "")
        self.assertEqual(code, 1)
        self.assertEqual(doc["results"][0]["violations"][0]["message"],
                         "spec.image is required: no template applies and no default image is configured")
        # a template that names its own images and no default still asks for one
        pinned = self.write("pinned.yaml", tpl("pinned", "  allowedImages: [a, b]"))
        f = self.write("ws2.yaml", ws("p", "  templateRef: {name: pinned}"))
        code, doc = self.check_json("-t", pinned, "-f", f)
        self.assertEqual(code, 1)
        self.assertEqual(doc["results"][0]["violations"][0]["message"],
                         'spec.image is required: template "pinned" has no defaultImage (allowed: a, b)')

    def test_make_install_and_kubectl_plugin(self):
        kubectl = shutil.which("kubectl")
        if not kubectl:
            self.skipTest("kubectl is not installed")
        # a make of its own, not the one running this suite (whose flags and
        # jobserver are in the environment); the binaries under test are
        # installed as they are, never rebuilt
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        build = os.path.dirname(BIN)
        ctrl = os.path.join(build, "spacekeeper-controller")

        def make(*args):
            p = subprocess.run(["make", "--no-print-directory", "-C", ROOT, f"BUILD={build}", "-o", BIN, "-o", ctrl,
                                *args], capture_output=True, text=True, env=env, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        dest = os.path.join(self.dir, "tmp")
        make("install", f"DESTDIR={dest}")
        bindir = os.path.join(dest, "usr", "local", "bin")
        self.assertEqual(sorted(os.listdir(bindir)), ["kubectl-spacekeeper", "spacekeeper", "spacekeeper-controller"])
        self.assertEqual(os.readlink(os.path.join(bindir, "kubectl-spacekeeper")), "spacekeeper")
        for name in ("spacekeeper", "spacekeeper-controller"):
            self.assertTrue(os.access(os.path.join(bindir, name), os.X_OK))
        # as the README says: PATH=tmp/usr/local/bin:$PATH kubectl spacekeeper check ...
        path_env = dict(os.environ, PATH=os.path.join("tmp", "usr", "local", "bin") + os.pathsep + os.environ["PATH"])
        f = self.write("ws.yaml", ws("plug", "  image: evil:3"))
        p = subprocess.run([kubectl, "spacekeeper", "check", "-t", STRICT, "-f", f], cwd=self.dir,
                           capture_output=True, text=True, env=path_env, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn('spec.image "evil:3" is not allowed', p.stdout)
        p = subprocess.run([kubectl, "plugin", "list"], cwd=self.dir, capture_output=True, text=True,
                           env=path_env, timeout=60)
        self.assertIn("kubectl-spacekeeper", p.stdout)
        # PREFIX, and uninstall takes back what install put there
        make("install", f"DESTDIR={dest}", "PREFIX=/opt/spacekeeper")
        self.assertTrue(os.path.exists(os.path.join(dest, "opt", "spacekeeper", "bin", "kubectl-spacekeeper")))
        make("uninstall", f"DESTDIR={dest}")
        self.assertEqual(os.listdir(bindir), [])
        make("uninstall", f"DESTDIR={dest}", "PREFIX=/opt/spacekeeper")
        self.assertEqual(os.listdir(os.path.join(dest, "opt", "spacekeeper", "bin")), [])


if __name__ == "__main__":
    sys.argv[1:] = []
    harness.main(__name__, "e2e-check")
