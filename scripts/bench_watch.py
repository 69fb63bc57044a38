#!/usr/bin/python3
"""make bench, watch half: how long a WorkspaceTemplate change takes to reach
a webhook decision (the API server test double emits the change; a client
polls /validate over TLS keep-alive until the verdict flips), and how much
memory the webhook holds per 1,000 templates. Loopback only, bounded."""
import copy
import os
import re
import statistics
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
sys.argv = [sys.argv[0], os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")]

import yaml  # noqa: E402
from test_serve import review  # noqa: E402
from test_watch import Env, template, wait_for, workspace  # noqa: E402

CHANGES = int(os.environ.get("BENCH_CHANGES", "1000"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def latency():
    env = Env()
    try:
        env.fake.put(template("t1", max_size="20Gi"))
        server = env.serve()
        wait_for("readiness", lambda: server.health("/readyz")[0] == 200, 30)
        conn = server.connect()
        body = review(workspace("t1", size="15Gi"))

        def allowed():
            status, resp = server.post("/validate", body, conn=conn)
            return resp["response"]["allowed"]

        samples = []
        for i in range(CHANGES):
            tight = i % 2 == 0  # 10Gi denies the 15Gi workspace, 20Gi allows it
            start = time.perf_counter()
            env.fake.put(template("t1", max_size="10Gi" if tight else "20Gi"))
            deadline = start + 5
            while allowed() == tight:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"change {i} not seen within 5 s")
            samples.append((time.perf_counter() - start) * 1000)
        conn.close()
        samples.sort()
        p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
        print(f"template change -> webhook decision, {len(samples)} changes: "
              f"p50 {p(0.50):.2f} ms, p99 {p(0.99):.2f} ms, max {samples[-1]:.2f} ms, "
              f"mean {statistics.mean(samples):.2f} ms")
    finally:
        env.close()


def memory():
    seed = yaml.safe_load(open(os.path.join(ROOT, "manifests", "templates", "jupyterlab.yaml")))
    seed["metadata"]["labels"] = {}
    env = Env()
    try:
        server = env.serve()
        wait_for("readiness", lambda: server.health("/readyz")[0] == 200, 30)
        time.sleep(0.5)
        before = rss_kib(server.proc.pid)
        n = 10000
        objs = []
        for i in range(n):
            t = copy.deepcopy(seed)
            t["metadata"]["name"] = f"template-{i:05d}"
            t["metadata"]["namespace"] = f"team-{i % 100}"
            objs.append(t)
        env.fake.put_many(objs)  # silently, as a restored backup: no watch events ...
        env.fake.compact()       # ... so the reflector must LIST them (410 on resume)
        env.fake.restart()
        wait_for("10,000 templates", lambda: env.metric("spacekeeper_templates") == n, 120)
        time.sleep(0.5)
        after = rss_kib(server.proc.pid)
        print(f"memory: {(after - before) / (n / 1000):.0f} KiB of RSS per 1,000 templates "
              f"({before / 1024:.1f} MiB empty, {after / 1024:.1f} MiB with {n:,}; "
              f"each template {len(yaml.safe_dump(seed))} bytes of YAML)")
    finally:
        env.close()


if __name__ == "__main__":
    latency()
    memory()
