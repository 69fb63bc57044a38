#!/usr/bin/python3
"""OwnerOnly holds for pods/exec, pods/attach and pods/portforward: spacekeeper
serve on /validate-pods-connect, answering the CONNECT reviews the API server
sends (the options object, request.name the pod) by looking the pod and its
workspace up in the API server test double (fake_apiserver.py). Real TLS on
loopback both ways; every wait is bounded."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_serve import Server  # noqa: E402
from test_watch import Env, template, wait_for  # noqa: E402

PATH = "/validate-pods-connect"
OPERATOR = "system:serviceaccount:jupyter-k8s-system:jupyter-k8s-controller-manager"
WS_LABEL = "workspace.jupyter.org/workspace-name"
# subresource -> the options object kubectl's request becomes
OPTIONS = {
    "exec": {"kind": "PodExecOptions", "apiVersion": "v1", "stdin": True, "stdout": True, "stderr": True,
             "tty": True, "container": "main", "command": ["/bin/sh"]},
    "attach": {"kind": "PodAttachOptions", "apiVersion": "v1", "stdin": True, "stdout": True, "tty": True,
               "container": "main"},
    "portforward": {"kind": "PodPortForwardOptions", "apiVersion": "v1", "ports": [8888]},
}


def connect_review(sub, pod, user, groups=("system:authenticated",), ns="team-a", uid="c-1"):
    """The AdmissionReview the API server sends for `kubectl exec|attach|port-forward`."""
    kind = {"group": "", "version": "v1", "kind": OPTIONS[sub]["kind"]}
    resource = {"group": "", "version": "v1", "resource": "pods"}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": kind, "resource": resource, "subResource": sub,
        "requestKind": kind, "requestResource": resource, "requestSubResource": sub,
        "name": pod, "namespace": ns, "operation": "CONNECT",
        "userInfo": {"username": user, "uid": f"uid-{user}", "groups": list(groups)},
        "object": OPTIONS[sub], "oldObject": None, "dryRun": False, "options": None}}


def workspace(name, creator="alice", **spec):
    return {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Workspace",
            "metadata": {"name": name, "namespace": "team-a",
                         "annotations": {"workspace.jupyter.org/created-by": creator}},
            "spec": spec}


def pod(name, workspace_name=None, ns="team-a"):
    labels = {"app": "x"}
    if workspace_name:
        labels[WS_LABEL] = workspace_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "img:1"}]}}


class ConnectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env(nodelay=True)
        env.fake.put(template("t1"))
        env.fake.put(workspace("private", ownershipType="OwnerOnly"), "workspaces")
        env.fake.put(workspace("op-private", accessType="OwnerOnly"), "workspaces")  # the operator's spelling
        env.fake.put(workspace("shared", ownershipType="Public"), "workspaces")
        for p in (pod("private-0", "private"), pod("op-private-0", "op-private"), pod("shared-0", "shared"),
                  pod("db-0"), pod("orphan-0", "gone")):
            env.fake.put(p, "pods")
        env.server = Server(env.sk_certs, "--kubeconfig", env.kubeconfig, templates=None)
        wait_for("readiness", lambda: env.server.health("/readyz")[0] == 200, 10)

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def ask(self, sub, pod_name, user, **kw):
        status, resp = self.env.server.post(PATH, connect_review(sub, pod_name, user, **kw))
        self.assertEqual(status, 200, resp)
        r = resp["response"]
        self.assertEqual(r["uid"], kw.get("uid", "c-1"))
        self.assertNotIn("patch", r)
        return r

    def assert_allowed(self, sub, pod_name, user, **kw):
        r = self.ask(sub, pod_name, user, **kw)
        self.assertTrue(r["allowed"], f"{sub} {pod_name} by {user}: {r}")
        self.assertNotIn("status", r)

    def assert_refused(self, sub, pod_name, user, text, **kw):
        r = self.ask(sub, pod_name, user, **kw)
        self.assertFalse(r["allowed"], f"{sub} {pod_name} by {user}: {r}")
        self.assertEqual((r["status"]["code"], r["status"]["reason"]), (403, "Forbidden"))
        self.assertIn(text, r["status"]["message"])
        return r["status"]["message"]

    def log_lines(self, text):
        return [line for line in self.env.server.read_log().splitlines() if text in line]

    def gets(self, path):
        return self.env.fake.count("GET", path)

    def test_owner_only_refused_for_others_and_allowed_for_its_owner_and_admins(self):
        for sub in OPTIONS:
            for p, ws in (("private-0", "private"), ("op-private-0", "op-private")):
                with self.subTest(subresource=sub, pod=p):
                    msg = self.assert_refused(sub, p, "bob", f'belongs to workspace "{ws}", which is OwnerOnly')
                    self.assertIn(f'pods/{sub}: pod "{p}"', msg)
                    self.assertIn('only its creator "alice" or a member of system:masters, '
                                  'system:serviceaccounts:kube-system', msg)
                    self.assertTrue(msg.endswith('not "bob"'), msg)
                    self.assert_allowed(sub, p, "alice")
                    self.assert_allowed(sub, p, "root", groups=("system:authenticated", "system:masters"))
                    # the workspace operator's idle checks exec into workspace pods
                    self.assert_allowed(sub, p, OPERATOR, groups=("system:serviceaccounts",))
        self.assertTrue(self.log_lines('reason="not the owner"'))

    def test_public_workspace_and_other_pods_unaffected(self):
        for sub in OPTIONS:
            with self.subTest(subresource=sub):
                self.assert_allowed(sub, "shared-0", "bob")
                self.assert_allowed(sub, "db-0", "bob")

    def test_trusted_service_account_only_into_workspace_pods(self):
        for sub in OPTIONS:
            with self.subTest(subresource=sub):
                msg = self.assert_refused(sub, "db-0", OPERATOR, "is a trusted service account",
                                          groups=("system:serviceaccounts",))
                self.assertIn(f'workspace pods only (labelled {WS_LABEL}), and pod "db-0" is not one', msg)
                self.assert_allowed(sub, "shared-0", OPERATOR, groups=("system:serviceaccounts",))
        # an admin may still connect anywhere
        self.assert_allowed("exec", "db-0", "root", groups=("system:masters",))

    def test_pod_or_workspace_not_found_is_allowed_with_a_log_line(self):
        self.assert_allowed("exec", "nowhere-0", "bob", uid="nf-1")
        (line,) = self.log_lines("uid=nf-1")
        self.assertIn('reason="pod not found"', line)
        self.assertIn('detail="API server answered 404 NotFound: pods \\"nowhere-0\\" not found"', line)
        self.assert_allowed("exec", "orphan-0", "bob", uid="nf-2")
        (line,) = self.log_lines("uid=nf-2")
        self.assertIn('reason="workspace not found"', line)
        self.assertIn("workspace=gone", line)
        self.assertIn("workspaces.workspace.jupyter.org", line)

    def test_lookups_are_gets_by_name_and_only_what_the_answer_needs(self):
        pod_path = "/api/v1/namespaces/team-a/pods/private-0"
        ws_path = "/apis/workspace.jupyter.org/v1alpha1/namespaces/team-a/workspaces/private"
        before = self.gets(pod_path), self.gets(ws_path)
        self.assert_refused("exec", "private-0", "bob", "OwnerOnly")
        self.assertEqual((self.gets(pod_path), self.gets(ws_path)), (before[0] + 1, before[1] + 1))
        # an admin needs no lookup; a trusted service account only the pod
        self.assert_allowed("exec", "private-0", "root", groups=("system:masters",))
        self.assert_allowed("exec", "private-0", OPERATOR)
        self.assertEqual((self.gets(pod_path), self.gets(ws_path)), (before[0] + 2, before[1] + 1))

    def test_a_change_of_ownership_counts_at_once(self):
        env = self.env
        env.fake.put(workspace("flip", ownershipType="Public"), "workspaces")
        env.fake.put(pod("flip-0", "flip"), "pods")
        self.assert_allowed("exec", "flip-0", "bob")
        env.fake.put(workspace("flip", ownershipType="OwnerOnly"), "workspaces")
        self.assert_refused("exec", "flip-0", "bob", "OwnerOnly")
        # and a pod that moves to another workspace is judged by the new one
        env.fake.put(pod("flip-0", "shared"), "pods")
        self.assert_allowed("exec", "flip-0", "bob")

    def test_other_requests_on_the_path_pass_untouched(self):
        review = connect_review("exec", "private-0", "bob")
        review["request"]["resource"] = {"group": "", "version": "v1", "resource": "services"}
        review["request"]["subResource"] = "proxy"
        status, resp = self.env.server.post(PATH, review)
        self.assertEqual(status, 200)
        self.assertTrue(resp["response"]["allowed"])
        # the workspace webhooks' paths never apply this rule
        status, resp = self.env.server.post("/validate", connect_review("exec", "private-0", "bob"))
        self.assertTrue(resp["response"]["allowed"])

    def test_metrics_by_path_operation_and_reason(self):
        self.assert_refused("attach", "private-0", "bob", "OwnerOnly")
        status, text = self.env.server.health("/metrics")
        self.assertEqual(status, 200)

        def value(series):
            m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
            return float(m.group(1)) if m else None
        self.assertGreaterEqual(value(f'controller_runtime_webhook_requests_total{{code="200",webhook="{PATH}"}}'), 1)
        self.assertGreaterEqual(value('spacekeeper_admission_denials_total{reason="pods.attach"}'), 1)
        self.assertGreaterEqual(value(f'spacekeeper_admission_decisions_total{{webhook="{PATH}",outcome="denied"}}'),
                                1)
        self.assertGreaterEqual(value(f'spacekeeper_admission_review_duration_seconds_count{{webhook="{PATH}",'
                                      'operation="CONNECT",verdict="denied"}'), 1)


class ConnectDegradedTest(unittest.TestCase):
    """What cannot be looked up is allowed, loudly."""

    def setUp(self):
        self.env = Env(nodelay=True)
        self.env.fake.put(template("t1"))
        self.env.fake.put(workspace("private", ownershipType="OwnerOnly"), "workspaces")
        self.env.fake.put(pod("private-0", "private"), "pods")

    def tearDown(self):
        self.env.close()

    def test_forbidden_lookup_allows_with_a_warning_and_a_metric(self):
        env = self.env
        # RBAC without `pods get`: the template watch works, the pod lookup is refused
        env.fake.rules = [{"apiGroups": ["workspace.jupyter.org"], "resources": ["workspacetemplates"],
                           "verbs": ["get", "list", "watch"]},
                          {"apiGroups": ["workspace.jupyter.org"], "resources": ["workspaces"], "verbs": ["get"]}]
        env.server = Server(env.sk_certs, "--kubeconfig", env.kubeconfig, templates=None)
        wait_for("readiness", lambda: env.server.health("/readyz")[0] == 200, 10)
        status, resp = env.server.post(PATH, connect_review("exec", "private-0", "bob", uid="deg-1"))
        self.assertEqual(status, 200)
        self.assertTrue(resp["response"]["allowed"])
        (line,) = [ln for ln in env.server.read_log().splitlines() if "uid=deg-1" in ln]
        self.assertIn(" warn ", line)
        self.assertIn('reason="pod lookup failed"', line)
        self.assertIn('cannot get resource \\"pods\\"', line)
        self.assertEqual(env.metric("spacekeeper_connect_unverified_total"), 1)
        # with the permission restored, the same request is refused again
        env.fake.rules = None
        status, resp = env.server.post(PATH, connect_review("exec", "private-0", "bob"))
        self.assertFalse(resp["response"]["allowed"])
        self.assertEqual(env.metric("spacekeeper_connect_unverified_total"), 1)

    def test_without_api_access_everything_is_allowed_and_said_once(self):
        server = Server(self.env.sk_certs)  # --templates from files
        try:
            status, resp = server.post(PATH, connect_review("exec", "private-0", "bob"))
            self.assertEqual(status, 200)
            self.assertTrue(resp["response"]["allowed"])
            server.post(PATH, connect_review("attach", "private-0", "bob"))
            log = server.read_log()
            self.assertEqual(log.count("pods/exec, attach and portforward are allowed unchecked: without API "
                                       "access (--templates)"), 1, log)
            self.assertEqual(self.env.fake.count("GET", "/pods/private-0"), 0)
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main(__name__, "e2e-connect")
