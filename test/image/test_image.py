#!/usr/bin/python3
"""spacekeeper's container image, run as an installed cluster runs it: read-only
root filesystem, user 65532, every capability dropped, no privilege escalation,
certificates mounted read-only; host network, loopback only. The webhook
watches its templates from the fake API server over TLS (so the image's libcurl
and OpenSSL are used, not only its GnuTLS) and answers real AdmissionReviews.

    test_image.py IMAGE VERSION SOURCE     (make test-image passes all three)
"""
import base64
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import datetime, timezone

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import harness  # noqa: E402
from fake_apiserver import FakeAPIServer  # noqa: E402

IMAGE, VERSION, SOURCE = (sys.argv[1:4] + ["spacekeeper:dev", "", ""])[:3]
NAME = f"sk-image-test-{os.getpid()}"  # every container's name starts with it
USER = "65532:65532"
# what the Deployments' and the preload DaemonSets' securityContexts say
CLUSTER = ["--network", "host", "--read-only", "--user", USER, "--cap-drop", "ALL",
           "--security-opt", "no-new-privileges"]
PAUSE = "/usr/local/bin/spacekeeper-pause"
NS = "team-a"


def docker(*args, stdin=None, timeout=120, check=True):
    feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}  # never the terminal
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **feed)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {r.returncode}:\n{r.stderr}{r.stdout}")
    return r


def run(*args, mounts=(), name=None, **kw):
    """`docker run` of the image under test (or another) with the cluster's restrictions."""
    vols = [v for m in mounts for v in ("-v", m)]
    return docker("run", "--rm", "-i", *CLUSTER, *vols, *(["--name", name] if name else []), *args, **kw)


def shared_dir(parent, name):
    """A directory the container's user may write (the containers run as 65532)."""
    path = os.path.join(parent, name)
    os.mkdir(path)
    os.chmod(path, 0o777)
    return path


def make_certs(directory, user=USER):
    run("--user", user, IMAGE, "certs", "--out", "/out", "--dns", "localhost", "--ip", "127.0.0.1",
        "--ip", "::1", "--days", "1", mounts=[f"{directory}:/out"])


def template(name, max_size="50Gi"):
    return {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "WorkspaceTemplate",
            "metadata": {"name": name, "namespace": NS, "resourceVersion": "1"},
            "spec": {"defaultImage": "img:1", "primaryStorage": {"maxSize": max_size}}}


def workspace(tpl, size):
    return {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Workspace",
            "metadata": {"name": "w", "namespace": NS},
            "spec": {"templateRef": {"name": tpl, "namespace": NS}, "storage": {"size": size}}}


def review(obj, uid):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "operation": "CREATE", "namespace": NS,
                        "kind": {"group": "workspace.jupyter.org", "version": "v1alpha1", "kind": "Workspace"},
                        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
                        "object": obj, "oldObject": None}}


def docker_time(text):
    """Docker's RFC 3339 with nanoseconds, as a Unix time."""
    day, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp() + float("0." + (frac or "0"))


def wait_for(what, predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not seen within {seconds} s")


class Workdir:
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sk-image-")

    def tearDown(self):
        shutil.rmtree(self.dir)


class ServeTest(unittest.TestCase):
    """The webhook's Deployment, as far as one machine goes."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sk-image-serve-")
        cls.tls = shared_dir(cls.dir, "tls")
        make_certs(cls.tls)
        api_certs = shared_dir(cls.dir, "api")
        make_certs(api_certs, user=f"{os.getuid()}:{os.getgid()}")
        cls.fake = FakeAPIServer(api_certs, token="token-1")
        cls.fake.put(template("t1"))
        kube = shared_dir(cls.dir, "kube")
        with open(os.path.join(kube, "token"), "w") as f:
            f.write("token-1\n")
        ca = base64.b64encode(open(f"{api_certs}/ca.crt", "rb").read()).decode()
        with open(os.path.join(kube, "config"), "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                       "clusters": [{"name": "fake", "cluster": {"server": f"https://127.0.0.1:{cls.fake.port}",
                                                                 "certificate-authority-data": ca}}],
                       "users": [{"name": "sk", "user": {"tokenFile": "/etc/spacekeeper/kube/token"}}],
                       "contexts": [{"name": "c", "context": {"cluster": "fake", "user": "sk"}}]}, f)
        for path in os.listdir(kube):
            os.chmod(os.path.join(kube, path), 0o644)
        try:
            cls.server = cls.start_serve(kube)
        except Exception:
            docker("rm", "-f", f"{NAME}-serve", check=False)  # a container that never said it serves
            cls.fake.stop()
            shutil.rmtree(cls.dir)
            raise
        cls.port = int(cls.server.started.group("port"))

    @classmethod
    def start_serve(cls, kube):
        return harness.Process(
            ["docker", "run", "--rm", "--name", f"{NAME}-serve", *CLUSTER,
             "-v", f"{cls.tls}:/etc/spacekeeper/tls:ro", "-v", f"{kube}:/etc/spacekeeper/kube:ro", IMAGE,
             "serve", "--tls-cert=/etc/spacekeeper/tls/tls.crt", "--tls-key=/etc/spacekeeper/tls/tls.key",
             "--listen=127.0.0.1:0", "--health-listen=127.0.0.1:0", "--kubeconfig=/etc/spacekeeper/kube/config",
             "--threads=2"],
            r"serving .* port=(?P<port>\d+) health_port=(?P<health_port>\d+)", "image-serve", seconds=60)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()  # the docker client passes SIGTERM on, and returns the exit status
        docker("rm", "-f", f"{NAME}-serve", check=False)
        cls.fake.stop()
        shutil.rmtree(cls.dir)
        assert code == 0, f"serve in the image exited {code}:\n{cls.server.read_log()[-3000:]}"

    def post(self, path, body):
        ctx = ssl.create_default_context(cafile=f"{self.tls}/ca.crt")
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=10)
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        out = resp.status, json.loads(resp.read())
        conn.close()
        return out

    def ready(self):
        wait_for("/readyz 200 (templates synced from the API server)",
                 lambda: self.server.health("/readyz")[0] == 200, 30)

    def test_ready_once_templates_are_watched(self):
        self.ready()
        self.assertTrue(any(r[1].endswith("/workspacetemplates") for r in self.fake.requests),
                        "serve never listed the templates from the API server")

    def test_a_review_over_tls_is_answered(self):
        self.ready()
        status, resp = self.post("/validate", review(workspace("t1", "500Gi"), "deny-1"))
        self.assertEqual(status, 200)
        self.assertEqual(resp["response"]["uid"], "deny-1")
        self.assertFalse(resp["response"]["allowed"])
        self.assertIn('maximum 50Gi allowed by template "t1"', resp["response"]["status"]["message"])
        status, resp = self.post("/mutate", review(workspace("t1", "20Gi"), "mut-1"))
        self.assertEqual(status, 200)
        self.assertTrue(resp["response"]["allowed"])
        patch = json.loads(base64.b64decode(resp["response"]["patch"]))
        self.assertIn({"op": "add", "path": "/spec/image", "value": "img:1"}, patch)

    def test_metrics_count_the_reviews(self):
        self.ready()
        self.post("/validate", review(workspace("t1", "600Gi"), "deny-2"))
        status, text = self.server.health("/metrics")
        self.assertEqual(status, 200)
        self.assertRegex(text, r'(?m)^spacekeeper_admission_denials_total\{[^}]*\} [1-9]')


class ProgramsTest(unittest.TestCase):
    def test_version_matches_the_build(self):
        self.assertEqual(run(IMAGE, "--version").stdout.strip(), f"spacekeeper {VERSION}")

    def test_labels(self):
        info = json.loads(docker("image", "inspect", IMAGE).stdout)[0]["Config"]
        labels = info["Labels"] or {}
        self.assertEqual(labels.get("org.opencontainers.image.version"), VERSION)
        self.assertEqual(labels.get("org.opencontainers.image.source"), SOURCE)
        self.assertEqual(labels.get("org.opencontainers.image.licenses"), "Apache-2.0")
        self.assertEqual(info["User"], USER)

    def test_controller_help(self):
        r = run("--entrypoint", "/usr/local/bin/spacekeeper-controller", IMAGE, "--help")
        self.assertIn("usage: spacekeeper-controller", r.stdout + r.stderr)
        self.assertIn("--preload-pause-image", r.stdout + r.stderr)

    def test_check_from_stdin_against_the_bundled_templates(self):
        ok = "apiVersion: workspace.jupyter.org/v1alpha1\nkind: Workspace\nmetadata: {name: ok}\nspec: {}\n"
        r = run(IMAGE, "check", "-t", "/etc/spacekeeper/templates", "-f", "-", stdin=ok, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("sagemaker-jupyter-template", r.stdout)
        big = ok.replace("name: ok", "name: too-big").replace("spec: {}", "spec: {storage: {size: 500Gi}}")
        r = run(IMAGE, "check", "-t", "/etc/spacekeeper/templates", "-f", "-", stdin=big, check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("spec.storage.size 500Gi is above the maximum", r.stdout + r.stderr)


class PauseTest(Workdir, unittest.TestCase):
    """The preload DaemonSet's pod: an init container from this image copies
    spacekeeper-pause into a shared volume; each image to keep warm runs that
    copy, read-only, whatever the image holds. Here that image is FROM scratch
    plus the program: no shell, no libraries."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = f"{NAME}-scratch:latest"
        docker("build", "-t", cls.scratch, "-",
               stdin=f"FROM {IMAGE} AS sk\nFROM scratch\nCOPY --from=sk {PAUSE} /spacekeeper-pause\n")

    @classmethod
    def tearDownClass(cls):
        docker("rmi", "-f", cls.scratch, check=False)

    def install(self, image, program):
        vol = shared_dir(self.dir, f"vol-{len(os.listdir(self.dir))}")
        run("--entrypoint", program, image, "--install", "/spacekeeper/pause", mounts=[f"{vol}:/spacekeeper"])
        return os.path.join(vol, "pause")

    def test_scratch_image_has_no_shell(self):
        r = run(self.scratch, "/bin/sh", "-c", "true", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_install_copies_the_program_without_cp(self):
        from_image = self.install(IMAGE, PAUSE)  # as the init container does
        from_scratch = self.install(self.scratch, "/spacekeeper-pause")
        self.assertEqual(os.stat(from_image).st_mode & 0o777, 0o555)
        with open(from_image, "rb") as a, open(from_scratch, "rb") as b:
            data = a.read()
            self.assertEqual(data, b.read())
        self.assertTrue(data.startswith(b"\x7fELF"))
        self.assertFalse(os.path.exists(from_image + ".tmp"))

    def test_sleeps_until_sigterm_then_exits_at_once(self):
        vol = os.path.dirname(self.install(IMAGE, PAUSE))
        name = f"{NAME}-pause"
        docker("run", "-d", *CLUSTER, "-v", f"{vol}:/spacekeeper:ro", "--name", name,
               "--stop-timeout", "10", self.scratch, "/spacekeeper/pause")
        try:
            state = lambda: json.loads(docker("inspect", name).stdout)[0]["State"]  # noqa: E731
            wait_for("the preload container running", lambda: state()["Running"], 30)
            time.sleep(0.5)
            self.assertTrue(state()["Running"], f"spacekeeper-pause did not keep sleeping: {state()}")
            sent = time.time()
            docker("kill", "--signal", "TERM", name)
            self.assertEqual(docker("wait", name, timeout=30).stdout.strip(), "0")  # not 137: no SIGKILL
            took = docker_time(state()["FinishedAt"]) - sent
            self.assertLess(took, 1.0, f"exited {took:.2f} s after SIGTERM")
        finally:
            docker("rm", "-f", name, check=False)


if __name__ == "__main__":
    harness.main(__name__, "test_image")
