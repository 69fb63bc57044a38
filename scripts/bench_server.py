#!/usr/bin/python3
"""make bench, server half: wrk over TLS keep-alive against spacekeeper serve
and, in the same run on the same machine, against nginx returning
spacekeeper's own response bytes for the same request: nginx is the ceiling.
All traffic stays on 127.0.0.1; every wrk run is bounded in time."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import rss_kib, start_nginx  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = (1, 16, 64)
TARGET_REQUESTS = 1_000_000
SK_PORT, SK_HEALTH, NGINX_PORT = 18543, 18581, 18544


def workspace_review():
    """A realistic ~4 KB AdmissionReview that the bundled templates allow."""
    env = [{"name": f"FEATURE_FLAG_{i:02d}",
            "value": f"s3://team-a-bucket/experiments/run-{i:04d}/config.json"} for i in range(30)]
    obj = {
        "apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Workspace",
        "metadata": {"name": "alice-analysis", "namespace": "team-a",
                     "labels": {"app.kubernetes.io/name": "workspace", "team": "forecasting",
                                "cost-center": "cc-4711"},
                     "annotations": {"description": "quarterly forecasting notebooks"}},
        "spec": {"displayName": "Alice's analysis",
                 "image": "public.ecr.aws/sagemaker/sagemaker-distribution:latest-gpu",
                 "resources": {"requests": {"cpu": "2", "memory": "8Gi"},
                               "limits": {"cpu": "4", "memory": "16Gi"}},
                 "storage": {"size": "20Gi"},
                 "idleShutdown": {"enabled": True, "idleShutdownTimeoutMinutes": 120,
                                  "detection": {"httpGet": {"path": "/api/idle", "port": 8888}}},
                 "tolerations": [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present",
                                  "effect": "NoSchedule"}] * 6,
                 "containerConfig": {"env": env},
                 "nodeSelector": {"node.kubernetes.io/instance-type": "ml.g5.2xlarge"}}}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "0df28fbd-5f5f-11e8-bc74-36e6bb280816", "operation": "CREATE",
                        "namespace": "team-a",
                        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
                        "object": obj}}


def wait_port(port, deadline=10):
    end = time.time() + deadline
    while time.time() < end:
        r = subprocess.run(["curl", "-sk", "-o", "/dev/null", f"https://127.0.0.1:{port}/"],
                           capture_output=True)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def wrk(port, conns, seconds, script):
    threads = 1 if conns == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency",
                          "-s", script, f"https://127.0.0.1:{port}/mutate"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_errors = re.search(r"Socket errors: (.*)", out)

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "total": total,
            "errors": int(errors.group(1)) if errors else 0,
            "socket_errors": sock_errors.group(1) if sock_errors else ""}


def main():
    work = tempfile.mkdtemp(prefix="sk-bench-")
    procs = []
    try:
        certs = os.path.join(work, "certs")
        subprocess.run([BIN, "certs", "--out", certs, "--dns", "localhost", "--ip", "127.0.0.1"],
                       check=True, capture_output=True)
        body = json.dumps(review := workspace_review(), separators=(",", ":"))
        del review
        body_path = os.path.join(work, "body.json")
        with open(body_path, "w") as f:
            f.write(body)
        script = os.path.join(work, "post.lua")
        with open(script, "w") as f:
            f.write('local f = io.open("%s")\nwrk.method = "POST"\nwrk.body = f:read("*a")\n'
                    'f:close()\nwrk.headers["Content-Type"] = "application/json"\n' % body_path)

        sk = subprocess.Popen([BIN, "serve", "--tls-cert", f"{certs}/tls.crt", "--tls-key",
                               f"{certs}/tls.key", "--listen", f"127.0.0.1:{SK_PORT}",
                               "--health-listen", f"127.0.0.1:{SK_HEALTH}", "--templates",
                               os.path.join(ROOT, "manifests", "templates"), "--threads", "2",
                               "--log-level", "warn"], stderr=subprocess.DEVNULL)
        procs.append(sk)
        wait_port(SK_PORT)
        canned = subprocess.run(["curl", "-s", "--cacert", f"{certs}/ca.crt", "-H",
                                 "Content-Type: application/json", "--data-binary", f"@{body_path}",
                                 f"https://127.0.0.1:{SK_PORT}/mutate"],
                                capture_output=True, text=True, check=True).stdout
        assert json.loads(canned)["response"]["allowed"], canned

        procs.append(start_nginx(work, NGINX_PORT, canned, certs=certs, workers=2))

        rss_start = rss_kib(sk.pid)
        print(f"server benchmark: POST /mutate, {len(body)}-byte AdmissionReview, TLS keep-alive,"
              f" {SECONDS}s per row, 2 server threads / 2 nginx workers, wrk on the same 2 cores\n")
        print(f"{'connections':>11}  {'spacekeeper req/s':>17} {'p50 ms':>7} {'p99 ms':>7}   "
              f"{'nginx req/s':>11} {'p50 ms':>7} {'p99 ms':>7}   {'req/s ratio':>11}")
        served = 0
        for c in CONNECTIONS:
            s = wrk(SK_PORT, c, SECONDS, script)
            n = wrk(NGINX_PORT, c, SECONDS, script)
            served += s["total"]
            bad = f"  ({s['errors']} non-2xx {s['socket_errors']})" if s["errors"] or s["socket_errors"] else ""
            print(f"{c:>11}  {s['rps']:>17.0f} {s['p50']:>7.3f} {s['p99']:>7.3f}   "
                  f"{n['rps']:>11.0f} {n['p50']:>7.3f} {n['p99']:>7.3f}   {s['rps'] / n['rps']:>11.2f}{bad}")
        last_rps = s["rps"]
        while served < TARGET_REQUESTS:
            need = TARGET_REQUESTS - served
            seconds = min(300, max(5, int(need / max(last_rps, 1000) * 1.1) + 1))
            s = wrk(SK_PORT, 16, seconds, script)
            served += s["total"]
            last_rps = s["rps"]
        rss_end = rss_kib(sk.pid)
        with urllib.request.urlopen(f"http://127.0.0.1:{SK_HEALTH}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        count = int(re.search(r'controller_runtime_webhook_latency_seconds_count\{webhook="/mutate"\} (\d+)',
                              metrics).group(1))
        print(f"\nRSS of spacekeeper: {rss_start / 1024:.1f} MiB at start, {rss_end / 1024:.1f} MiB after "
              f"{count:,} requests")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
