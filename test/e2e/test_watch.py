#!/usr/bin/python3
"""Templates from the Kubernetes API: spacekeeper serve --kubeconfig against
the API server test double (fake_apiserver.py) over TLS with bearer tokens,
and the client's verbs through build/kube-probe. Everything on loopback;
every wait is bounded."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from fake_apiserver import FakeAPIServer  # noqa: E402
from test_serve import Server, make_certs, review  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
PROBE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "build/kube-probe")
TPL_PATH = "/apis/workspace.jupyter.org/v1alpha1"


def template(name, ns="team-a", max_size="50Gi", **labels):
    return {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "WorkspaceTemplate",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"defaultImage": "img:1", "primaryStorage": {"maxSize": max_size}}}


def workspace(tpl, size="40Gi", ns="team-a"):
    return {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Workspace",
            "metadata": {"name": "w", "namespace": ns},
            "spec": {"templateRef": {"name": tpl, "namespace": ns}, "storage": {"size": size}}}


def write_kubeconfig(path, port, ca_file, token_file=None, insecure=False, cert=None, key=None):
    user = {}
    if token_file:
        user["tokenFile"] = token_file
    if cert:
        user["client-certificate-data"] = base64.b64encode(open(cert, "rb").read()).decode()
        user["client-key-data"] = base64.b64encode(open(key, "rb").read()).decode()
    cluster = {"server": f"https://127.0.0.1:{port}"}
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    else:
        cluster["certificate-authority-data"] = base64.b64encode(open(ca_file, "rb").read()).decode()
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "test",
           "clusters": [{"name": "fake", "cluster": cluster}],
           "users": [{"name": "me", "user": user}],
           "contexts": [{"name": "other", "context": {"cluster": "nowhere", "user": "me"}},
                        {"name": "test", "context": {"cluster": "fake", "user": "me", "namespace": "team-a"}}]}
    with open(path, "w") as f:
        json.dump(cfg, f)  # JSON is YAML


def wait_for(what, predicate, seconds):
    """Polls until predicate() is true; returns the time it took."""
    start = time.time()
    while time.time() - start < seconds:
        if predicate():
            return time.time() - start
        time.sleep(0.005)
    raise AssertionError(f"{what} not seen within {seconds} s")


class Env:
    """A fake API server, certificates for it and for the webhook, a token file."""

    def __init__(self, token="token-1", **fake_args):
        self.dir = tempfile.mkdtemp(prefix="sk-watch-")
        self.api_certs = os.path.join(self.dir, "api")
        self.sk_certs = os.path.join(self.dir, "sk")
        make_certs(self.api_certs)
        make_certs(self.sk_certs)
        self.token_file = os.path.join(self.dir, "token")
        self.set_token(token)
        self.fake = FakeAPIServer(self.api_certs, token=token, **fake_args)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        write_kubeconfig(self.kubeconfig, self.fake.port, f"{self.api_certs}/ca.crt", self.token_file)
        self.server = None

    def set_token(self, token):
        tmp = self.token_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(token + "\n")
        os.rename(tmp, self.token_file)  # as the kubelet swaps projected tokens

    def serve(self):
        self.server = Server(self.sk_certs, "--kubeconfig", self.kubeconfig, templates=None)
        return self.server

    def decide(self, ws):
        status, resp = self.server.post("/validate", review(ws))
        assert status == 200, resp
        r = resp["response"]
        return r["allowed"], r.get("status", {}).get("message", "")

    def metric(self, name):
        status, text = self.server.health("/metrics")
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    def close(self):
        """Stops everything; the webhook must exit 0 (no leak reports)."""
        code = self.server.stop() if self.server else 0
        self.fake.stop()
        shutil.rmtree(self.dir)
        assert code == 0, f"spacekeeper serve exited {code}:\n{self.server.read_log()[-3000:]}"


class WatchTest(unittest.TestCase):
    def setUp(self):
        self.env = Env()
        self.env.fake.put(template("t1"))

    def tearDown(self):
        self.env.close()

    def test_changes_reach_decisions_within_a_second(self):
        env = self.env
        env.serve()
        wait_for("readiness", lambda: env.server.health("/readyz")[0] == 200, 10)
        self.assertEqual(env.decide(workspace("t1")), (True, ""))
        # changed: the bound tightens
        env.fake.put(template("t1", max_size="30Gi"))
        wait_for("a changed template", lambda: not env.decide(workspace("t1"))[0], 1.0)
        self.assertIn("above the maximum 30Gi allowed by template \"t1\"", env.decide(workspace("t1"))[1])
        # created
        env.fake.put(template("t2", max_size="100Gi"))
        wait_for("a new template", lambda: env.decide(workspace("t2", size="80Gi"))[0], 1.0)
        # deleted
        env.fake.delete("team-a", "t2")
        wait_for("a deleted template", lambda: "not found" in env.decide(workspace("t2"))[1], 1.0)
        self.assertEqual(env.metric("spacekeeper_templates"), 1)
        # the watch asked for bookmarks, and resumed nothing yet
        self.assertTrue(any(q.get("allowWatchBookmarks") == "true" for _, _, q, _ in env.fake.requests))
        self.assertEqual(env.metric("spacekeeper_template_watch_restarts_total"), 0)

    def test_not_ready_until_listed_and_serving_through_an_outage(self):
        env = self.env
        env.fake.stop()
        env.serve()
        time.sleep(0.5)
        self.assertEqual(env.server.health("/readyz")[0], 503)
        env.fake.start()
        wait_for("readiness after the first list", lambda: env.server.health("/readyz")[0] == 200, 15)
        # the API server restarts mid-watch: decisions go on from the last known templates
        env.fake.stop()
        for _ in range(20):
            self.assertEqual(env.decide(workspace("t1", size="60Gi"))[0], False)
            self.assertEqual(env.decide(workspace("t1"))[0], True)
        self.assertEqual(env.server.health("/readyz")[0], 200)
        env.fake.put(template("t1", max_size="100Gi"))  # changed while the watch is down
        env.fake.start()
        wait_for("the change made during the outage", lambda: env.decide(workspace("t1", size="60Gi"))[0], 15)
        self.assertGreaterEqual(env.metric("spacekeeper_template_watch_restarts_total"), 1)
        self.assertIn("watch lost", env.server.read_log())

    def test_expired_resource_version_relists(self):
        env = self.env
        env.serve()
        wait_for("readiness", lambda: env.server.health("/readyz")[0] == 200, 10)
        env.fake.stop()
        env.fake.put(template("t1", max_size="10Gi"))
        env.fake.put(template("gone-soon"))
        env.fake.delete("team-a", "gone-soon")
        env.fake.compact()  # the watch's resourceVersion is now too old
        env.fake.start()
        wait_for("state after a 410 relist", lambda: not env.decide(workspace("t1", size="20Gi"))[0], 15)
        self.assertGreaterEqual(env.metric("spacekeeper_template_relists_total"), 1)
        self.assertEqual(env.metric("spacekeeper_templates"), 1)

    def test_token_rotation(self):
        env = self.env
        env.serve()
        wait_for("readiness", lambda: env.server.health("/readyz")[0] == 200, 10)
        env.fake.token = "token-2"
        env.set_token("token-2")
        env.fake.restart()  # open watches are cut; reconnecting needs the new token
        env.fake.put(template("t1", max_size="20Gi"))
        wait_for("a change after the token rotated", lambda: not env.decide(workspace("t1", size="30Gi"))[0], 15)
        rotated = [who for m, p, q, who in env.fake.requests[-3:]]
        self.assertIn("token", rotated)


class ManyTemplatesTest(unittest.TestCase):
    def test_ten_thousand_templates_in_pages(self):
        env = Env()
        try:
            env.fake.put_many([template(f"t-{i:05d}", max_size=f"{i + 1}Gi") for i in range(10000)])
            env.serve()
            wait_for("readiness", lambda: env.server.health("/readyz")[0] == 200, 60)
            self.assertEqual(env.metric("spacekeeper_templates"), 10000)
            pages = env.fake.count("GET", "/workspacetemplates", limit="500")
            self.assertGreaterEqual(pages, 20)
            self.assertTrue(any("continue" in q for m, p, q, _ in env.fake.requests))
            self.assertEqual(env.decide(workspace("t-09999", size="10000Gi"))[0], True)
            self.assertEqual(env.decide(workspace("t-09999", size="10001Gi"))[0], False)
        finally:
            env.close()


class ClientTest(unittest.TestCase):
    """The client's verbs, through build/kube-probe."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env()

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def probe(self, verb, path, *args, kubeconfig=None):
        out = subprocess.run([PROBE, kubeconfig or self.env.kubeconfig, verb, path, *args],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_verbs(self):
        coll = f"{TPL_PATH}/namespaces/team-a/workspacetemplates"
        r = self.probe("create", coll, json.dumps(template("v1")))
        self.assertEqual(r["status"], 201)
        rv = r["body"]["metadata"]["resourceVersion"]
        r = self.probe("create", coll, json.dumps(template("v1")))
        self.assertEqual(r["status"], 409)
        self.assertIn("AlreadyExists", r["error"])
        r = self.probe("get", f"{coll}/v1")
        self.assertEqual((r["status"], r["body"]["metadata"]["name"]), (200, "v1"))
        r = self.probe("get", f"{coll}/missing")
        self.assertEqual(r["status"], 404)
        self.assertIn('"missing" not found', r["error"])
        # UPDATE with a resourceVersion precondition
        stale = template("v1", max_size="1Gi")
        stale["metadata"]["resourceVersion"] = "1"
        r = self.probe("update", f"{coll}/v1", json.dumps(stale))
        self.assertEqual(r["status"], 409)
        self.assertIn("409 Conflict", r["error"])
        self.assertIn("the object has been modified", r["error"])
        fresh = template("v1", max_size="2Gi")
        fresh["metadata"]["resourceVersion"] = rv
        r = self.probe("update", f"{coll}/v1", json.dumps(fresh))
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["body"]["spec"]["primaryStorage"]["maxSize"], "2Gi")
        # PATCH: merge and JSON patch
        r = self.probe("merge", f"{coll}/v1", json.dumps({"spec": {"allowCustomImages": True}}))
        self.assertEqual((r["status"], r["body"]["spec"]["allowCustomImages"]), (200, True))
        r = self.probe("jsonpatch", f"{coll}/v1",
                       json.dumps([{"op": "replace", "path": "/spec/defaultImage", "value": "img:2"}]))
        self.assertEqual((r["status"], r["body"]["spec"]["defaultImage"]), (200, "img:2"))
        # an Event about it
        r = self.probe("event", json.dumps(r["body"]), "Warning", "IdleShutdown", "stopped after 60 idle minutes")
        self.assertEqual(r["status"], 201)
        (ev,) = [o for (res, ns, _), o in self.env.fake.objects.items() if res == "events"]
        self.assertEqual(ev["involvedObject"]["name"], "v1")
        self.assertEqual((ev["type"], ev["reason"]), ("Warning", "IdleShutdown"))

    def test_list_pages(self):
        self.env.fake.put_many([template(f"p-{i:03d}", ns="paged") for i in range(25)])
        r = self.probe("list", f"{TPL_PATH}/namespaces/paged/workspacetemplates", "10")
        self.assertEqual((r["status"], r["body"]), (200, {"items": 25, "pages": 3}))

    def test_unauthorized_and_unreachable(self):
        kc = os.path.join(self.env.dir, "bad-kubeconfig")
        bad_token = os.path.join(self.env.dir, "bad-token")
        with open(bad_token, "w") as f:
            f.write("wrong")
        write_kubeconfig(kc, self.env.fake.port, f"{self.env.api_certs}/ca.crt", bad_token)
        r = self.probe("get", f"{TPL_PATH}/workspacetemplates", kubeconfig=kc)
        self.assertEqual(r["status"], 401)
        self.assertIn("Unauthorized", r["error"])
        # a CA that did not sign the server's certificate
        write_kubeconfig(kc, self.env.fake.port, f"{self.env.sk_certs}/ca.crt", self.env.token_file)
        r = self.probe("get", f"{TPL_PATH}/workspacetemplates", kubeconfig=kc)
        self.assertEqual(r["status"], -1)
        self.assertIn("certificate", r["error"].lower())

    def test_client_certificate_and_insecure(self):
        env = Env(client_ca=None)
        try:
            env.fake.stop()
            env.fake = FakeAPIServer(env.api_certs, token="unused", client_ca=f"{env.sk_certs}/ca.crt")
            kc = os.path.join(env.dir, "cert-kubeconfig")
            write_kubeconfig(kc, env.fake.port, None, insecure=True,
                             cert=f"{env.sk_certs}/tls.crt", key=f"{env.sk_certs}/tls.key")
            r = self.probe("get", f"{TPL_PATH}/workspacetemplates", kubeconfig=kc)
            self.assertEqual(r["status"], 200, r)
            self.assertEqual(env.fake.requests[-1][3], "client-certificate")
        finally:
            env.close()

    def test_in_cluster_config(self):
        sa = os.path.join(self.env.dir, "sa")
        os.makedirs(sa, exist_ok=True)
        shutil.copy(f"{self.env.api_certs}/ca.crt", f"{sa}/ca.crt")
        shutil.copy(self.env.token_file, f"{sa}/token")
        with open(f"{sa}/namespace", "w") as f:
            f.write("team-a\n")
        env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(self.env.fake.port))
        out = subprocess.run([PROBE, f"in-cluster:{sa}", "get", f"{TPL_PATH}/workspacetemplates"],
                             capture_output=True, text=True, env=env, timeout=60)
        r = json.loads(out.stdout)
        self.assertEqual(r["status"], 200, r)


if __name__ == "__main__":
    sys.argv[1:] = []
    harness.main(__name__, "e2e-watch")
