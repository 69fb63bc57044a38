#!/usr/bin/python3
"""spacekeeper-controller end to end: the real binary against the API server
test double (fake_apiserver.py) over TLS, probing small workspace servers on
loopback (a pod's IP is 127.0.0.1 or ::1 and its idle port a local server's).
Every wait is bounded; every process is stopped by the test."""
import http.server
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from fake_apiserver import FakeAPIServer  # noqa: E402
from test_serve import make_certs  # noqa: E402
from test_watch import write_kubeconfig  # noqa: E402

CTRL = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "build/spacekeeper-controller")
NS = "team-a"
LEASE_NS = "spacekeeper-system"


def rfc3339(t, fmt="%Y-%m-%dT%H:%M:%SZ"):
    return time.strftime(fmt, time.gmtime(t))


def wait_for(what, predicate, seconds, step=0.05):
    start = time.time()
    while time.time() - start < seconds:
        if predicate():
            return time.time() - start
        time.sleep(step)
    raise AssertionError(f"{what} not seen within {seconds} s")


# ---- workspace servers: what a workspace's idle endpoint answers ----

class WorkspaceServers:
    """Idle endpoints on 127.0.0.1 and ::1: routes[path] is a function that
    returns (status, body bytes); hits[path] counts the requests and
    headers[path] keeps the last one's request headers, as (name, value)
    pairs in the order they came."""

    def __init__(self):
        self.routes, self.hits, self.headers, self.lock = {}, {}, {}, threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with owner.lock:
                    owner.hits[self.path] = owner.hits.get(self.path, 0) + 1
                    owner.headers[self.path] = list(self.headers.items())
                    route = owner.routes.get(self.path)
                status, body = route() if route else (404, b"no such workspace")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        class V6Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6

        self.v4 = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.v6 = V6Server(("::1", 0), Handler)
        for srv in (self.v4, self.v6):
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.port, self.port6 = self.v4.server_address[1], self.v6.server_address[1]

    def count(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def close(self):
        for srv in (self.v4, self.v6):
            srv.shutdown()
            srv.server_close()


def answer(last_active):
    """An idle endpoint reporting `last_active` (a value or a function of nothing)."""
    def route():
        value = last_active() if callable(last_active) else last_active
        return 200, json.dumps({"lastActiveTimestamp": value}).encode()
    return route


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- objects ----

def workspace(name, port, path=None, timeout_minutes=5, enabled=True, desired="Running", **detection):
    http_get = {"path": path or f"/{name}/idle", "port": port, **detection}
    idle = {"enabled": enabled, "idleShutdownTimeoutMinutes": timeout_minutes,
            "detection": {"httpGet": http_get}}
    return {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Workspace",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"displayName": name, "image": "img:1", "desiredStatus": desired, "idleShutdown": idle}}


def pod(ws_name, ready_since=None, ip="127.0.0.1", phase="Running", ready=True, name=None, ports=None):
    ready_since = time.time() - 3600 if ready_since is None else ready_since
    status = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": rfc3339(ready_since)}]}
    if ip:
        status["podIP"] = ip
    container = {"name": "main", "image": "img:1"}
    if ports:
        container["ports"] = ports
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name or f"{ws_name}-pod", "namespace": NS,
                         "labels": {"workspace.jupyter.org/workspace-name": ws_name}},
            "spec": {"containers": [container]}, "status": status}


# ---- the environment ----

class Controller(harness.Process):
    """A spacekeeper-controller process with its health port on loopback."""

    def __init__(self, kubeconfig, *args, interval="2s", elect=False, identity=None):
        cmd = [CTRL, "--kubeconfig", kubeconfig, "--namespace", LEASE_NS, "--health-listen", "127.0.0.1:0",
               "--idle-check-interval", interval, "--idle-probe-timeout", "1s",
               f"--leader-elect={'true' if elect else 'false'}", *args]
        if identity:
            cmd += ["--identity", identity]
        self.identity = identity
        super().__init__(cmd, r"controller started .*health_port=(?P<health_port>\d+)", "controller")

    def metric(self, family, **labels):
        status, text = self.health("/metrics")
        sel = ",".join(f'{k}="{v}"' for k, v in labels.items())
        pattern = rf"^{re.escape(family)}{{{re.escape(sel)}}} (\S+)$" if sel else rf"^{re.escape(family)} (\S+)$"
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else None

    def leading(self):
        return self.metric("leader_election_master_status", name="spacekeeper-controller") == 1


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sk-ctl-")
        certs = os.path.join(self.dir, "api")
        make_certs(certs)
        token_file = os.path.join(self.dir, "token")
        with open(token_file, "w") as f:
            f.write("token-1\n")
        self.fake = FakeAPIServer(certs, token="token-1")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        write_kubeconfig(self.kubeconfig, self.fake.port, f"{certs}/ca.crt", token_file)
        self.ws = WorkspaceServers()
        self.controllers = []

    def add(self, name, route, pod_args=None, **ws_args):
        """A workspace, its pod and its idle endpoint."""
        ws = workspace(name, ws_args.pop("port", self.ws.port), **ws_args)
        self.ws.routes[ws["spec"]["idleShutdown"]["detection"]["httpGet"]["path"]] = route
        self.fake.put(ws, "workspaces")
        if pod_args is not False:
            self.fake.put(pod(name, **(pod_args or {})), "pods")
        return ws

    def desired(self, name):
        return self.fake.get(NS, name, "workspaces")["spec"].get("desiredStatus")

    def start(self, *args, **kwargs):
        c = Controller(self.kubeconfig, *args, **kwargs)
        self.controllers.append(c)
        wait_for("controller readiness", lambda: c.health("/readyz")[0] == 200, 15)
        return c

    def close(self):
        codes = [(c, c.stop()) for c in self.controllers if c.proc.returncode is None]
        self.ws.close()
        self.fake.stop()
        shutil.rmtree(self.dir)
        for c, code in codes:
            assert code == 0, f"controller exited {code}:\n{c.read_log()[-3000:]}"


class IdleShutdownTest(unittest.TestCase):
    def setUp(self):
        self.env = Env()

    def tearDown(self):
        self.env.close()

    def test_idle_workspaces_stop_and_active_ones_do_not(self):
        env = self.env
        now = time.time()
        # every timestamp spelling the endpoint may use, all long past the 5-minute timeout
        idle = {
            "idle-z": answer(rfc3339(now - 3600)),
            "idle-offset": answer(rfc3339(now - 3600 + 2 * 3600, "%Y-%m-%dT%H:%M:%S.250+02:00")),
            "idle-lower-z": answer(rfc3339(now - 3600, "%Y-%m-%dt%H:%M:%S.5z")),
            "idle-unix": answer(int(now - 3600)),
            "idle-unix-str": answer(f"{now - 3600:.3f}"),
        }
        for name, route in idle.items():
            env.add(name, route)
        # jupyter-k8s's spellings: idleTimeoutInMinutes and a configured body path, over IPv6,
        # through a named port
        jk = workspace("idle-jk", "idle", path="/idle-jk/status",
                       lastActivityTimestamp={"responseBodyPath": "activity.last", "format": "unix"})
        del jk["spec"]["idleShutdown"]["idleShutdownTimeoutMinutes"]
        jk["spec"]["idleShutdown"]["idleTimeoutInMinutes"] = 5
        env.ws.routes["/idle-jk/status"] = lambda: (200, json.dumps({"activity": {"last": now - 3600}}).encode())
        env.fake.put(jk, "workspaces")
        env.fake.put(pod("idle-jk", ip="::1", ports=[{"name": "idle", "containerPort": env.ws.port6}]), "pods")
        env.add("active", answer(lambda: rfc3339(time.time())))
        env.add("disabled", answer(rfc3339(now - 3600)), enabled=False)
        env.add("stopped", answer(rfc3339(now - 3600)), desired="Stopped")

        ctl = env.start()
        names = list(idle) + ["idle-jk"]
        wait_for("idle workspaces stopped", lambda: all(env.desired(n) == "Stopped" for n in names), 15)
        # the Event follows each stop
        wait_for("the Events", lambda: all(env.fake.events_for(n, "IdleShutdown") for n in names), 5)
        for n in names:
            events = env.fake.events_for(n, "IdleShutdown")
            self.assertEqual(len(events), 1, n)
            self.assertEqual(events[0]["type"], "Normal")
            self.assertIn("idle timeout 5 minutes", events[0]["message"])
            self.assertIn(rfc3339(now - 3600)[:16], events[0]["message"])  # the last activity
        # the stop is a merge patch that carried the resourceVersion it was decided on
        patches = [r for r in env.fake.requests if r[0] == "PATCH" and "/workspaces/" in r[1]]
        self.assertEqual(len(patches), len(names))
        # the active one survives several intervals; disabled and stopped ones are never probed
        hits = env.ws.count("/active/idle")
        time.sleep(6.5)
        self.assertEqual(env.desired("active"), "Running")
        self.assertGreaterEqual(env.ws.count("/active/idle") - hits, 2)
        self.assertEqual(env.ws.count("/disabled/idle"), 0)
        self.assertEqual(env.ws.count("/stopped/idle"), 0)
        self.assertEqual(ctl.metric("spacekeeper_idle_shutdowns_total"), len(names))
        self.assertGreaterEqual(ctl.metric("spacekeeper_idle_probes_total", result="success"), 9)
        self.assertEqual(ctl.metric("spacekeeper_idle_workspaces"), 1)  # only "active" is left running
        self.assertGreaterEqual(ctl.metric("spacekeeper_idle_probe_duration_seconds_count"), 9)

    def test_transport_and_headers(self):
        """Either transport is probed over the network, with the workspace's
        httpHeaders, under the routing prefix the operator records in
        status.applicationBasePath; an unknown transport or a header that
        could break the request is a detection that stops nothing."""
        env = self.env
        old = rfc3339(time.time() - 3600)
        headers = [{"name": "Authorization", "value": "Bearer t0k3n"}, {"name": "X-Empty", "value": ""},
                   {"name": "X-Team", "value": "a"}, {"name": "X-Team", "value": "b"},
                   {"name": "Host", "value": "notebook.internal"}]
        env.add("net", answer(old), transport="network", httpHeaders=headers)
        exec_ws = env.add("exec", answer(old), transport="podExec")
        # the operator's spelling of the timeout beside its transport
        del exec_ws["spec"]["idleShutdown"]["idleShutdownTimeoutMinutes"]
        exec_ws["spec"]["idleShutdown"]["idleTimeoutInMinutes"] = 5
        env.fake.put(exec_ws, "workspaces")
        routed = workspace("routed", env.ws.port, path="/api/idle", transport="network")
        routed["status"] = {"applicationBasePath": f"/workspaces/{NS}/routed/"}
        env.ws.routes[f"/workspaces/{NS}/routed/api/idle"] = answer(old)
        env.fake.put(routed, "workspaces")
        env.fake.put(pod("routed"), "pods")
        doubtful = {
            "bad-transport": {"transport": "kubectlExec"},
            "bad-header": {"httpHeaders": [{"name": "X Bad", "value": "x"}]},
            "injected": {"httpHeaders": [{"name": "X-Ok", "value": "a\r\nX-Injected: 1"}]},
        }
        for name, detection in doubtful.items():
            env.add(name, answer(old), **detection)
        # both timeout spellings, disagreeing: the controller cannot tell which was meant
        both = env.add("both", answer(old))
        both["spec"]["idleShutdown"]["idleTimeoutInMinutes"] = 600
        env.fake.put(both, "workspaces")

        ctl = env.start()
        wait_for("both transports stopped", lambda: all(env.desired(n) == "Stopped" for n in ("net", "exec", "routed")),
                 15)
        self.assertEqual(env.ws.count("/api/idle"), 0)  # the routed one only under its prefix
        got = env.ws.headers["/net/idle"]
        self.assertEqual([v for k, v in got if k == "Authorization"], ["Bearer t0k3n"])
        self.assertEqual([v for k, v in got if k == "X-Empty"], [""])
        self.assertEqual([v for k, v in got if k == "X-Team"], ["a", "b"])
        self.assertEqual([v for k, v in got if k == "Host"], ["notebook.internal"])  # replaced, not added
        self.assertEqual([v for k, v in got if k == "User-Agent"], ["spacekeeper-controller"])
        # without httpHeaders, only the prober's own
        self.assertEqual({k for k, _ in env.ws.headers["/exec/idle"]}, {"Host", "User-Agent", "Accept"})
        wait_for("the warnings", lambda: all(env.fake.events_for(n, "IdleProbeFailed")
                                             for n in [*doubtful, "both"]), 10)
        for name in [*doubtful, "both"]:
            self.assertEqual(env.desired(name), "Running", name)
            self.assertEqual(env.ws.count(f"/{name}/idle"), 0, name)  # never probed
        messages = {n: env.fake.events_for(n, "IdleProbeFailed")[0]["message"] for n in [*doubtful, "both"]}
        self.assertIn("transport must be podExec or network", messages["bad-transport"])
        self.assertIn("httpHeaders[0].name must be an HTTP header name", messages["bad-header"])
        self.assertIn("httpHeaders[0].value must be a string without control characters", messages["injected"])
        self.assertIn("idleShutdownTimeoutMinutes (5) and spec.idleShutdown.idleTimeoutInMinutes (600) disagree",
                      messages["both"])
        self.assertGreaterEqual(ctl.metric("spacekeeper_idle_probes_total", result="invalid_detection"), 4)
        # counted once the API server's answer is in, a moment after the stop itself
        wait_for("the stops counted", lambda: ctl.metric("spacekeeper_idle_shutdowns_total") == 3, 5)

    def test_deadline_between_regular_probes(self):
        env = self.env
        first = {}

        def route():
            # the first answer puts the deadline 8 s after it; the next regular probe is 30 s away
            first.setdefault("t", time.time())
            return 200, json.dumps({"lastActiveTimestamp": first["t"] - 60 + 8}).encode()

        env.add("soon", route, timeout_minutes=1)
        env.start(interval="30s")
        wait_for("the first probe", lambda: "t" in first, 35)
        deadline = first["t"] + 8
        wait_for("the stop", lambda: env.desired("soon") == "Stopped", 20, step=0.02)
        # when the stop reached the API server
        (stopped,) = [w[5] for w in env.fake.writes if w[:4] == ("PATCH", "workspaces", NS, "soon")]
        self.assertGreaterEqual(stopped, deadline - 0.2)
        self.assertLess(stopped - deadline, 3.0)

    def test_a_pod_that_became_ready_after_the_last_activity(self):
        env = self.env
        ready = int(time.time()) - 50  # whole seconds, as lastTransitionTime is written
        env.add("restarted", answer(rfc3339(time.time() - 7200)), timeout_minutes=1,
                pod_args={"ready_since": ready})
        env.start()
        time.sleep(max(0.0, ready + 55 - time.time()))
        self.assertEqual(env.desired("restarted"), "Running")  # 55 s since Ready < 60 s
        wait_for("the stop a minute after Ready", lambda: env.desired("restarted") == "Stopped", 10)
        self.assertGreaterEqual(time.time(), ready + 60)

    def test_doubt_never_stops(self):
        env = self.env
        old = rfc3339(time.time() - 7200)
        hang = threading.Event()

        def hanging():
            hang.wait(3)
            return 200, json.dumps({"lastActiveTimestamp": old}).encode()

        cases = {
            "refused": (answer(old), {"port": free_port()}, None, "connection_error"),
            "hangs": (hanging, {}, None, "timeout"),
            "not-found": (lambda: (404, b"{}"), {}, None, "http_error"),
            "error": (lambda: (500, b"{}"), {}, None, "http_error"),
            "not-json": (lambda: (200, b"<html>idle</html>"), {}, None, "invalid_answer"),
            "no-field": (lambda: (200, b'{"idle": true}'), {}, None, "invalid_answer"),
            "garbage": (answer("yesterday"), {}, None, "invalid_answer"),
            "bad-date": (answer("2026-02-30T10:00:00Z"), {}, None, "invalid_answer"),
            "future": (answer(rfc3339(time.time() + 86400)), {}, None, None),
            "huge": (lambda: (200, b'{"lastActiveTimestamp": "' + b"1" * (10 << 20) + b'"}'), {}, None,
                     "too_large"),
            "no-pod": (answer(old), {}, False, "no_ready_pod"),
            "not-ready": (answer(old), {}, {"ready": False}, "no_ready_pod"),
            "no-ip": (answer(old), {}, {"ip": None}, "no_ready_pod"),
            "pending": (answer(old), {}, {"phase": "Pending"}, "no_ready_pod"),
        }
        for name, (route, ws_args, pod_args, _) in cases.items():
            env.add(name, route, pod_args=pod_args, timeout_minutes=1, **ws_args)
        # long enough for 64 KiB of the huge answer to arrive even on a loaded machine
        ctl = env.start("--idle-probe-timeout", "2s")
        time.sleep(7)
        for name in cases:
            self.assertEqual(env.desired(name), "Running", name)
        for result in {r for *_, r in cases.values() if r}:
            self.assertGreaterEqual(ctl.metric("spacekeeper_idle_probes_total", result=result) or 0, 1, result)
        for name, (*_, result) in cases.items():
            warnings = env.fake.events_for(name, "IdleProbeFailed")
            if result:
                # one Warning per workspace however many probes failed (at most once an hour)
                self.assertEqual(len(warnings), 1, name)
                self.assertEqual(warnings[0]["type"], "Warning")
            else:
                self.assertEqual(warnings, [], name)
        self.assertEqual(ctl.metric("spacekeeper_idle_shutdowns_total"), 0)
        self.assertEqual(env.fake.write_count("workspaces"), 0)
        hang.set()

    def test_a_change_between_probe_and_stop_is_decided_again(self):
        env = self.env
        old = rfc3339(time.time() - 7200)
        changed = {}

        def route():
            if not changed:  # the user raises the timeout while the probe is out
                ws = env.fake.get(NS, "racy", "workspaces")
                ws["spec"]["idleShutdown"]["idleShutdownTimeoutMinutes"] = 600
                changed["rv"] = env.fake.put(ws, "workspaces")["metadata"]["resourceVersion"]
            return 200, json.dumps({"lastActiveTimestamp": old}).encode()

        env.add("racy", route, timeout_minutes=1)
        ctl = env.start()
        wait_for("the refused stop", lambda: (ctl.metric("spacekeeper_idle_stop_conflicts_total") or 0) >= 1, 10)
        # more probes, now decided with the new timeout
        wait_for("probes after the conflict", lambda: env.ws.count("/racy/idle") >= 3, 15)
        ws = env.fake.get(NS, "racy", "workspaces")
        self.assertEqual(ws["spec"].get("desiredStatus"), "Running")
        self.assertEqual(ws["metadata"]["resourceVersion"], changed["rv"])
        self.assertEqual(ctl.metric("spacekeeper_idle_stop_conflicts_total"), 1)
        self.assertEqual(ctl.metric("spacekeeper_idle_shutdowns_total"), 0)

    def test_dry_run_patches_nothing(self):
        env = self.env
        env.add("idle", answer(rfc3339(time.time() - 7200)))
        ctl = env.start("--dry-run")
        wait_for("the dry-run event", lambda: env.fake.events_for("idle", "IdleShutdown"), 10)
        time.sleep(4.5)
        events = env.fake.events_for("idle", "IdleShutdown")
        self.assertEqual(len(events), 1)
        self.assertIn("Would stop (dry run)", events[0]["message"])
        self.assertEqual(env.desired("idle"), "Running")
        self.assertEqual(env.fake.write_count("workspaces"), 0)
        self.assertGreaterEqual(ctl.metric("spacekeeper_idle_dry_run_stops_total"), 2)

    def test_api_server_restart_no_stale_stop(self):
        env = self.env
        state = {"idle": False}
        env.add("steady", lambda: (200, json.dumps(
            {"lastActiveTimestamp": time.time() - 7200 if state["idle"] else time.time()}).encode()), timeout_minutes=1)
        ctl = env.start()
        wait_for("probes", lambda: env.ws.count("/steady/idle") >= 1, 10)
        env.fake.stop()
        # while the API server is away, the workspace's owner turns idle shutdown off; the
        # controller's copy still says on, and the endpoint now reports idleness
        ws = env.fake.get(NS, "steady", "workspaces")
        ws["spec"]["idleShutdown"]["enabled"] = False
        env.fake.put(ws, "workspaces")
        state["idle"] = True
        time.sleep(4)
        env.fake.start()
        # work resumes: a newly idle workspace is stopped after the restart
        env.add("later", answer(rfc3339(time.time() - 7200)))
        wait_for("a stop after the restart", lambda: env.desired("later") == "Stopped", 20)
        time.sleep(2)
        self.assertEqual(env.desired("steady"), "Running")
        self.assertGreaterEqual(ctl.metric("spacekeeper_watch_restarts_total", resource="workspaces"), 1)


class LeaderElectionTest(unittest.TestCase):
    def setUp(self):
        self.env = Env()

    def tearDown(self):
        self.env.close()

    def test_one_leader_failover_and_handover(self):
        env = self.env
        env.add("active", answer(lambda: rfc3339(time.time())))
        a = env.start(elect=True, identity="ctl-a")
        b = env.start(elect=True, identity="ctl-b")
        wait_for("a leader", lambda: a.leading() or b.leading(), 20)
        leader, standby = (a, b) if a.leading() else (b, a)
        time.sleep(5)  # several intervals
        self.assertFalse(standby.leading())
        self.assertGreaterEqual(leader.metric("spacekeeper_idle_probes_total", result="success"), 2)
        self.assertEqual(standby.metric("spacekeeper_idle_probes_total", result="success"), 0)
        lease = env.fake.get(LEASE_NS, "spacekeeper-controller", "leases")
        self.assertEqual(lease["spec"]["holderIdentity"], leader.identity)
        self.assertEqual(lease["spec"]["leaseDurationSeconds"], 15)

        # SIGKILL: no release; the standby waits out the lease
        leader.stop(signal.SIGKILL)
        killed = time.time()
        took = wait_for("the standby to lead", standby.leading, 20, step=0.1)
        self.assertGreater(took, 5)  # it waited for the lease to run out
        hits = env.ws.count("/active/idle")
        wait_for("the new leader's probes", lambda: env.ws.count("/active/idle") > hits, 5)
        self.assertLess(time.time() - killed, 25)

        # a fresh replica joins; SIGTERM on the leader hands the lease over at once
        c = env.start(elect=True, identity="ctl-c")
        time.sleep(3)
        self.assertFalse(c.leading())
        self.assertEqual(standby.stop(signal.SIGTERM), 0)
        wait_for("a handover within 5 s", c.leading, 5, step=0.1)
        self.assertEqual(env.fake.get(LEASE_NS, "spacekeeper-controller", "leases")["spec"]["holderIdentity"],
                         "ctl-c")


if __name__ == "__main__":
    harness.main(__name__, "e2e-controller")
