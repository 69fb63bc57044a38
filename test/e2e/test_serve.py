#!/usr/bin/python3
"""spacekeeper serve, end to end: the real binary on loopback, real TLS
(Python's ssl module, i.e. OpenSSL, against the server's GnuTLS), certificates
from `spacekeeper certs`. Every load loop here is bounded in count and time."""
import base64
import copy
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import jsonpatch

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATES = os.path.join(ROOT, "manifests", "templates")
ALLOWED_IMAGE = "public.ecr.aws/sagemaker/sagemaker-distribution:latest-cpu"


def review(obj, uid="uid-1", op="CREATE", user="alice", old=None, **extra):
    req = {"uid": uid, "operation": op, "namespace": "team-a",
           "kind": {"group": "workspace.jupyter.org", "version": "v1alpha1", "kind": "Workspace"},
           "userInfo": {"username": user, "groups": ["system:authenticated"]},
           "object": obj, "oldObject": old}
    req.update(extra)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


def workspace(name="w", **spec):
    return {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Workspace",
            "metadata": {"name": name, "namespace": "team-a"}, "spec": spec}


class Server(harness.Process):
    """A spacekeeper serve process on ephemeral loopback ports."""

    def __init__(self, certs, *args, listen="127.0.0.1:0", templates=TEMPLATES):
        self.certs = certs
        super().__init__(
            [BIN, "serve", "--tls-cert", f"{certs}/tls.crt", "--tls-key", f"{certs}/tls.key",
             "--listen", listen, "--health-listen", "127.0.0.1:0",
             *(["--templates", templates] if templates else []), "--threads", "2", *args],
            r"serving .* port=(?P<port>\d+) health_port=(?P<health_port>\d+)", "serve")
        self.port = int(self.started.group("port"))
        self.host = "::1" if listen.startswith("[") else "127.0.0.1"

    def context(self, client_cert=False):
        ctx = ssl.create_default_context(cafile=f"{self.certs}/ca.crt")
        if client_cert:
            ctx.load_cert_chain(f"{self.certs}/tls.crt", f"{self.certs}/tls.key")
        return ctx

    def connect(self, ctx=None, timeout=10):
        return http.client.HTTPSConnection(self.host, self.port, context=ctx or self.context(),
                                           timeout=timeout)

    def post(self, path, body, ctx=None, content_type="application/json", conn=None):
        own = conn is None
        conn = conn or self.connect(ctx)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request("POST", path, body=data, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        payload = resp.read()
        if own:
            conn.close()
        return resp.status, json.loads(payload) if payload else None


def make_certs(directory, *extra):
    subprocess.run([BIN, "certs", "--out", directory, "--dns", "localhost", "--ip", "127.0.0.1",
                    "--ip", "::1", *extra], check=True, capture_output=True, timeout=30)


def decode_patch(resp):
    return json.loads(base64.b64decode(resp["response"]["patch"]))


class ServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sk-serve-")
        cls.certs = os.path.join(cls.dir, "certs")
        make_certs(cls.certs)
        cls.server = Server(cls.certs, "--timeout", "2")

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        shutil.rmtree(cls.dir)
        assert code == 0, f"spacekeeper serve exited {code}:\n{cls.server.read_log()[-3000:]}"

    def assert_still_serving(self):
        status, resp = self.server.post("/validate", review(workspace(image=ALLOWED_IMAGE)))
        self.assertEqual(status, 200)
        self.assertTrue(resp["response"]["allowed"])

    # ---- the contract ----

    def test_mutate_returns_a_patch_that_applies(self):
        obj = workspace("mut", displayName="x")
        status, resp = self.server.post("/mutate?timeout=10s", review(obj, uid="m-1", dryRun=True))
        self.assertEqual(status, 200)
        self.assertEqual(resp["apiVersion"], "admission.k8s.io/v1")
        self.assertEqual(resp["kind"], "AdmissionReview")
        r = resp["response"]
        self.assertEqual(r["uid"], "m-1")
        self.assertTrue(r["allowed"])
        self.assertEqual(r["patchType"], "JSONPatch")
        patched = jsonpatch.JsonPatch(decode_patch(resp)).apply(copy.deepcopy(obj))
        self.assertEqual(patched["spec"]["image"], ALLOWED_IMAGE)
        self.assertEqual(patched["spec"]["storage"], {
            "size": "10Gi", "storageClassName": "sagemaker-spaces-default-storage-class",
            "mountPath": "/home/sagemaker-user"})
        self.assertEqual(patched["metadata"]["annotations"]["workspace.jupyter.org/created-by"], "alice")
        self.assertEqual(patched["metadata"]["labels"]["workspace.jupyter.org/template-name"],
                         "sagemaker-jupyter-template")
        # the patched object passes validation and a second mutation changes nothing
        status, again = self.server.post("/mutate", review(patched, uid="m-2"))
        self.assertNotIn("patch", again["response"])
        status, verdict = self.server.post("/validate", review(patched, uid="m-3"))
        self.assertTrue(verdict["response"]["allowed"])

    def test_validate_denies_with_every_reason(self):
        status, resp = self.server.post("/validate", review(
            workspace(ownershipType="Nobody", storage={"size": "1Ti"}), uid="v-1"))
        self.assertEqual(status, 200)
        r = resp["response"]
        self.assertEqual(r["uid"], "v-1")
        self.assertFalse(r["allowed"])
        self.assertEqual(r["status"]["code"], 403)
        self.assertIn('spec.ownershipType "Nobody" is not one of: Public, OwnerOnly',
                      r["status"]["message"])
        self.assertIn("spec.storage.size 1Ti is above the maximum 50Gi", r["status"]["message"])
        self.assertNotIn("patch", r)
        log = self.server.read_log()
        self.assertRegex(log, r'denied uid=v-1 operation=CREATE kind=Workspace object=team-a/w user=alice')

    def test_labels_and_annotations_by_kubernetes_rules(self):
        ws = workspace()
        ws["metadata"]["labels"] = {"kueue.x-k8s.io/priority-class": "<user-input>-priority"}
        ws["metadata"]["annotations"] = {"a/b/c": "x"}
        status, resp = self.server.post("/validate", review(ws, uid="m-1"))
        self.assertEqual(status, 200)
        msg = resp["response"]["status"]["message"]
        self.assertFalse(resp["response"]["allowed"])
        self.assertIn('metadata.labels[kueue.x-k8s.io/priority-class]: value "<user-input>-priority" is not '
                      "a valid label value", msg)
        self.assertIn("metadata.annotations[a/b/c]: the key is not a valid qualified name", msg)

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        conn = self.server.connect()
        for i in range(50):
            status, resp = self.server.post("/validate", review(workspace(), uid=f"k-{i}"), conn=conn)
            self.assertEqual(status, 200)
            self.assertEqual(resp["response"]["uid"], f"k-{i}")
        conn.close()

    def test_template_admission_and_status_subresource(self):
        tpl = {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "WorkspaceTemplate",
               "metadata": {"name": "t", "namespace": "team-a"},
               "spec": {"defaultImage": "a:1", "allowedImages": ["b:1"]}}
        status, resp = self.server.post("/validate", review(tpl, uid="t-1"))
        self.assertFalse(resp["response"]["allowed"])
        self.assertIn('spec.defaultImage "a:1" is not in spec.allowedImages',
                      resp["response"]["status"]["message"])
        status, resp = self.server.post("/validate", review(workspace(image="evil"), uid="s-1",
                                                            op="UPDATE", subResource="status"))
        self.assertTrue(resp["response"]["allowed"])

    # ---- bad input: a precise answer each time, and the server keeps serving ----

    def test_bad_http(self):
        cases = [
            ("POST", "/validate", b'{"apiVersion": ', "application/json", 400, "malformed JSON at line 1"),
            ("POST", "/validate", b'[1, 2]', "application/json", 400, "must be a JSON object"),
            ("POST", "/validate", json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
             "application/json", 400, "request is missing"),
            ("POST", "/validate", json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                              "request": {"operation": "CREATE"}}).encode(),
             "application/json", 400, "request.uid is missing"),
            ("POST", "/validate", json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
                                              "request": {"uid": "x"}}).encode(),
             "application/json", 400, "admissionReviewVersions: [v1]"),
            ("POST", "/validate", b'{}', "text/plain", 415, "send application/json"),
            ("POST", "/validate", b'{}', None, 415, "send application/json"),
            ("GET", "/validate", None, None, 405, "only POST"),
            ("PUT", "/mutate", b'{}', "application/json", 405, "only POST"),
            ("POST", "/nope", b'{}', "application/json", 404, 'no such path "/nope"'),
            ("POST", "/", b'{}', "application/json", 404, "no such path"),
        ]
        for method, path, body, ctype, code, text in cases:
            with self.subTest(method=method, path=path, code=code):
                conn = self.server.connect()
                headers = {"Content-Type": ctype} if ctype else {}
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = json.loads(resp.read())
                conn.close()
                self.assertEqual(resp.status, code)
                self.assertEqual(payload["kind"], "Status")
                self.assertEqual(payload["code"], code)
                self.assertIn(text, payload["message"])
                if code == 405:
                    self.assertEqual(resp.getheader("Allow"), "POST")
        self.assert_still_serving()

    def test_wrong_object_is_a_denial_naming_the_field(self):
        cases = [
            ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}, "apiVersion", "not in group"),
            ({"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Notebook", "metadata": {"name": "p"}},
             "kind", '"Notebook" is not reviewed'),
            (workspace() | {"spec": "big"}, "spec", "spec must be an object, not string"),
            (workspace(image=["a"]), "spec.image", "must be a string, not array"),
            ("a string", "object", "carries no object"),
        ]
        for obj, field, text in cases:
            with self.subTest(field=field):
                status, resp = self.server.post("/validate", review(obj, uid="bad-" + field))
                self.assertEqual(status, 200)
                self.assertEqual(resp["response"]["uid"], "bad-" + field)
                self.assertFalse(resp["response"]["allowed"])
                self.assertIn(text, resp["response"]["status"]["message"])

    def test_deep_nesting(self):
        nested = {}
        for _ in range(200):
            nested = {"x": nested}
        status, resp = self.server.post("/validate", review(workspace(containerConfig=nested)))
        self.assertEqual(status, 400)
        self.assertIn("nested deeper than 64 levels", resp["message"])
        deep = b'{"a":' * 5000 + b'1' + b'}' * 5000
        status, resp = self.server.post("/validate", deep)
        self.assertEqual(status, 400)
        self.assertIn("malformed JSON", resp["message"])
        self.assert_still_serving()

    def test_pipelined_answers_read_late_arrive_whole_and_in_order(self):
        # Each answer leaves as one write (header and body records together);
        # with a client that reads late the socket fills and writes are
        # partial: every answer must still arrive whole, in request order.
        sock = socket.socket(socket.AF_INET6 if ":" in self.server.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # back up the server soon
        sock.settimeout(20)
        sock.connect((self.server.host, self.server.port))
        tls = self.server.context().wrap_socket(sock, server_hostname="localhost")
        count = 1000
        requests = b""
        for i in range(count):
            body = json.dumps(review(workspace(), uid=f"pipelined-{i}")).encode()
            requests += (b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        writer = threading.Thread(target=tls.sendall, args=(requests,))
        writer.start()
        time.sleep(0.5)  # let the server's writes back up
        data = b""
        answers = []
        while len(answers) < count:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                head = data[:head_end].decode()
                length = int(re.search(r"(?i)content-length: (\d+)", head).group(1))
                if len(data) >= head_end + 4 + length:
                    self.assertTrue(head.startswith("HTTP/1.1 200"), head)
                    answers.append(json.loads(data[head_end + 4:head_end + 4 + length]))
                    data = data[head_end + 4 + length:]
                    continue
            chunk = tls.recv(65536)
            self.assertTrue(chunk, f"connection closed after {len(answers)} answers")
            data += chunk
        writer.join()
        tls.close()
        self.assertEqual([a["response"]["uid"] for a in answers],
                         [f"pipelined-{i}" for i in range(count)])
        self.assert_still_serving()

    def test_oversized_body_refused_without_reading_it(self):
        # Content-Length over 3 MiB: answered 413 after only the headers
        sock = socket.create_connection((self.server.host, self.server.port), timeout=10)
        tls = self.server.context().wrap_socket(sock, server_hostname="localhost")
        tls.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 4000000\r\n\r\n{")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
        tls.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        # chunked, no length: refused once it passes the limit
        conn = self.server.connect()
        big = b" " * (3 * 1024 * 1024 + 10)
        conn.putrequest("POST", "/validate")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            for i in range(0, len(big), 1 << 20):
                part = big[i:i + (1 << 20)]
                conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the server may close as soon as it has answered
        resp = conn.getresponse()
        self.assertEqual(resp.status, 413)
        conn.close()
        self.assert_still_serving()

    def test_slow_and_half_open_clients_are_cut_off(self):
        # --timeout 2: a client that stops mid-headers is disconnected
        sock = socket.create_connection((self.server.host, self.server.port), timeout=10)
        tls = self.server.context().wrap_socket(sock, server_hostname="localhost")
        tls.sendall(b"POST /validate HTTP/1.1\r\nHost: local")
        start = time.time()
        self.assertEqual(tls.recv(100), b"")  # closed by the server
        self.assertLess(time.time() - start, 8)
        tls.close()
        # a TCP connection that never starts TLS is closed too (perhaps after
        # a TLS alert): read to the end
        raw = socket.create_connection((self.server.host, self.server.port), timeout=10)
        start = time.time()
        try:
            while raw.recv(100):
                pass
        except ConnectionResetError:
            pass
        self.assertLess(time.time() - start, 8)
        raw.close()
        self.assert_still_serving()

    def test_plain_http_on_the_tls_port(self):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=5)
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            conn.request("POST", "/validate", body=b"{}", headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        conn.close()
        self.assert_still_serving()

    def test_old_tls_versions_refused(self):
        ctx = self.server.context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.server.post("/validate", review(workspace()), ctx=ctx)
        ctx = self.server.context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        status, _ = self.server.post("/validate", review(workspace()), ctx=ctx)
        self.assertEqual(status, 200)

    # ---- health and metrics ----

    def test_health_and_metrics(self):
        self.assertEqual(self.server.health("/healthz"), (200, "ok\n"))
        self.assertEqual(self.server.health("/readyz"), (200, "ok\n"))
        self.assertEqual(self.server.health("/nope")[0], 404)
        self.server.post("/validate", review(workspace(storage={"size": "1Ti"}), uid="metrics-1"))
        status, text = self.server.health("/metrics")
        self.assertEqual(status, 200)
        m = re.search(r'controller_runtime_webhook_requests_total\{code="200",webhook="/validate"\} (\d+)', text)
        self.assertIsNotNone(m)
        self.assertGreaterEqual(int(m.group(1)), 1)
        self.assertRegex(text, r'controller_runtime_webhook_latency_seconds_count\{webhook="/validate"\} [1-9]')
        self.assertRegex(text, r'controller_runtime_webhook_requests_in_flight\{webhook="/mutate"\} 0')
        self.assertRegex(text, r'spacekeeper_admission_decisions_total\{webhook="/validate",outcome="denied"\} [1-9]')
        # by operation and verdict, and denials by the field at fault (counted
        # once the request completes, just after its answer is sent)
        self.server.post("/mutate", review(workspace(), uid="metrics-2", op="UPDATE", old=workspace()))
        reviews = [r'spacekeeper_admission_review_duration_seconds_bucket\{webhook="/mutate",'
                   r'operation="UPDATE",verdict="patched",le="\+Inf"\} [1-9]',
                   r'spacekeeper_admission_review_duration_seconds_count\{webhook="/validate",'
                   r'operation="CREATE",verdict="denied"\} [1-9]']
        deadline = time.time() + 5
        while not all(re.search(r, text) for r in reviews) and time.time() < deadline:
            time.sleep(0.05)
            text = self.server.health("/metrics")[1]
        for r in reviews:
            self.assertRegex(text, r)
        self.assertRegex(text, r'spacekeeper_admission_denials_total\{reason="spec.storage"\} [1-9]')
        self.assertIn("spacekeeper_templates 2\n", text)
        expiry = float(re.search(r"^spacekeeper_certificate_expiry_timestamp_seconds (\S+)$", text, re.M).group(1))
        self.assertGreater(expiry, time.time() + 300 * 86400)


class ClientCertTest(unittest.TestCase):
    def test_client_certificate_required(self):
        d = tempfile.mkdtemp(prefix="sk-mtls-")
        try:
            make_certs(d)
            server = Server(d, "--client-ca", f"{d}/ca.crt")
            try:
                status, resp = server.post("/validate", review(workspace()))
                self.assertEqual(status, 403)
                self.assertIn("client certificate", resp["message"])
                status, resp = server.post("/validate", review(workspace()), ctx=server.context(client_cert=True))
                self.assertEqual(status, 200)
                # a certificate from another CA is refused
                other = os.path.join(d, "other")
                make_certs(other)
                ctx = server.context()
                ctx.load_cert_chain(f"{other}/tls.crt", f"{other}/tls.key")
                try:
                    status, _ = server.post("/validate", review(workspace()), ctx=ctx)
                    self.assertEqual(status, 403)
                except (ssl.SSLError, ConnectionError):
                    pass  # refusing in the handshake is as good
            finally:
                server.stop()
        finally:
            shutil.rmtree(d)


class PolicyFlagsTest(unittest.TestCase):
    """The policy flags reach serve's decisions as they reach check's."""

    def test_default_image_and_template_scope(self):
        d = tempfile.mkdtemp(prefix="sk-flags-")
        try:
            make_certs(d)
            tpl_dir = os.path.join(d, "templates")
            os.makedirs(tpl_dir)
            with open(os.path.join(tpl_dir, "other.yaml"), "w") as f:
                json.dump({"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "WorkspaceTemplate",
                           "metadata": {"name": "theirs", "namespace": "team-z"},
                           "spec": {"defaultImage": "z:1"}}, f)
            server = Server(d, "--default-image", "registry.example.com/smd:2.7",
                            "--template-scope", "namespace", templates=tpl_dir)
            try:
                # no template applies: the configured image, admitted
                obj = workspace()
                status, resp = server.post("/mutate", review(obj))
                self.assertEqual(status, 200)
                self.assertTrue(resp["response"]["allowed"], resp)
                patched = jsonpatch.JsonPatch(json.loads(base64.b64decode(resp["response"]["patch"]))).apply(obj)
                self.assertEqual(patched["spec"]["image"], "registry.example.com/smd:2.7")
                status, resp = server.post("/validate", review(workspace(), uid="v-1"))
                self.assertTrue(resp["response"]["allowed"], resp)
                # another team's template is out of reach
                status, resp = server.post("/validate", review(
                    workspace(templateRef={"name": "theirs", "namespace": "team-z"}), uid="v-2"))
                self.assertFalse(resp["response"]["allowed"])
                self.assertIn('template "theirs" in namespace "team-z" is out of reach',
                              resp["response"]["status"]["message"])
                # and reserved labels need a trusted identity
                labelled = workspace(image="x:1")
                labelled["metadata"]["labels"] = {"workspace.jupyter.org/custom-label": "x"}
                status, resp = server.post("/validate", review(labelled, uid="v-3"))
                self.assertFalse(resp["response"]["allowed"])
                self.assertIn("metadata.labels[workspace.jupyter.org/custom-label]",
                              resp["response"]["status"]["message"])
                status, resp = server.post("/validate", review(
                    labelled, uid="v-4", user="system:serviceaccount:jupyter-k8s-system:jupyter-k8s-controller-manager"))
                self.assertTrue(resp["response"]["allowed"], resp)
            finally:
                code = server.stop()
                self.assertEqual(code, 0, server.read_log()[-2000:])
        finally:
            shutil.rmtree(d)


class LifecycleTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sk-life-")
        make_certs(self.dir)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_prompt_shutdowns_are_clean(self):
        # SIGTERM while every worker is busy with keep-alive traffic: the
        # shutdown races the workers and must never abort
        for i in range(15):
            server = Server(self.dir)
            stop = threading.Event()

            def client():
                try:
                    conn = server.connect(timeout=5)
                    while not stop.is_set():
                        server.post("/validate", review(workspace()), conn=conn)
                except (OSError, http.client.HTTPException):
                    pass  # the server going away mid-request is expected here

            threads = [threading.Thread(target=client) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.05)
            code = server.stop()
            stop.set()
            for t in threads:
                t.join()
            self.assertEqual(code, 0, server.read_log()[-2000:])

    def test_ipv6_loopback(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        try:
            server = Server(self.dir, listen="[::1]:0")
        except RuntimeError as e:
            self.skipTest(f"IPv6 loopback unavailable: {e}")
        try:
            status, resp = server.post("/validate", review(workspace()))
            self.assertEqual(status, 200)
        finally:
            server.stop()

    def test_certificate_rotation_under_load(self):
        server = Server(self.dir)
        serials, failures, stop = set(), [], threading.Event()

        def client():
            deadline = time.time() + 30
            n = 0
            while not stop.is_set() and time.time() < deadline and n < 3000:
                n += 1
                try:
                    conn = server.connect()
                    conn.connect()
                    serials.add(conn.sock.getpeercert()["serialNumber"])
                    status, resp = server.post("/validate", review(workspace(), uid=f"r-{n}"), conn=conn)
                    conn.close()
                    if status != 200 or resp["response"]["uid"] != f"r-{n}":
                        failures.append((status, resp))
                except Exception as e:  # noqa: BLE001 - every failure counts
                    failures.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for _ in range(3):
                time.sleep(0.7)
                make_certs(self.dir, "--reuse-ca")
            time.sleep(1.5)  # the server checks the files once a second
        finally:
            stop.set()
            for t in threads:
                t.join()
            server.stop()
        self.assertEqual(failures, [])
        self.assertGreaterEqual(len(serials), 3, "new handshakes did not get the new certificates")
        self.assertEqual(server.read_log().count("certificate reloaded"), 3)

    def test_half_written_pair_is_not_served(self):
        server = Server(self.dir)
        try:
            conn = server.connect()
            conn.connect()
            before = conn.sock.getpeercert()["serialNumber"]
            conn.close()
            with open(f"{self.dir}/tls.crt", "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\ntruncated")
            time.sleep(1.5)
            conn = server.connect()
            status, _ = server.post("/validate", review(workspace()), conn=conn)
            self.assertEqual(status, 200)
            self.assertEqual(conn.sock.getpeercert()["serialNumber"], before)
            conn.close()
            self.assertIn("certificate not reloaded yet", server.read_log())
        finally:
            server.stop()

    def test_sigterm_answers_requests_in_flight(self):
        server = Server(self.dir)
        body = json.dumps(review(workspace(), uid="inflight")).encode()
        conns = []
        for i in range(8):
            sock = socket.create_connection((server.host, server.port), timeout=15)
            tls = server.context().wrap_socket(sock, server_hostname="localhost")
            uid_body = body.replace(b'"inflight"', b'"inflight-%d"' % i)
            tls.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(uid_body) + uid_body[:20])
            conns.append((tls, uid_body))
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        answered = 0
        for i, (tls, uid_body) in enumerate(conns):
            tls.sendall(uid_body[20:])
            data = b""
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                m = re.search(rb"Content-Length: (\d+)", head, re.I)
                if m and len(rest) >= int(m.group(1)):
                    break
            tls.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:80])
            self.assertIn(b'"uid":"inflight-%d"' % i, data)
            answered += 1
        self.assertEqual(answered, 8)
        self.assertEqual(server.proc.wait(timeout=30), 0)
        # and it no longer accepts connections
        with self.assertRaises(OSError):
            socket.create_connection((server.host, server.port), timeout=2)
        self.assertIn("drained unfinished_requests=0", server.read_log())
        server.stop()


if __name__ == "__main__":
    sys.argv[1:] = []
    harness.main(__name__, "e2e-serve")
