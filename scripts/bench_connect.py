#!/usr/bin/python3
"""make bench, exec half: what the pods/exec rule's lookups cost. One client
on TLS keep-alive sends CONNECT reviews to /validate-pods-connect, against the
API server test double (two GETs per review for a non-owner, one for a
trusted service account, none for an admin), next to workspace reviews on
/validate that look nothing up. Loopback only, bounded by a count."""
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
sys.argv = [sys.argv[0], os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")]

from test_connect import OPERATOR, PATH, connect_review, pod, workspace as owned_workspace  # noqa: E402
from test_serve import review  # noqa: E402
from test_watch import Env, template, wait_for, workspace  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_CONNECT_REQUESTS", "500"))


def measure(server, conn, path, body):
    samples = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        status, _ = server.post(path, body, conn=conn)
        samples.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
    samples.sort()
    return samples[len(samples) // 2], samples[int(0.99 * len(samples))]


def main():
    env = Env(nodelay=True)
    try:
        env.fake.put(template("t1"))
        env.fake.put(owned_workspace("private", ownershipType="OwnerOnly"), "workspaces")
        env.fake.put(pod("private-0", "private"), "pods")
        server = env.serve()
        wait_for("readiness", lambda: server.health("/readyz")[0] == 200, 30)
        conn = server.connect()
        cases = [
            ("workspace review on /validate (no lookup)", "/validate", review(workspace("t1"))),
            ("exec by an admin (no lookup)", PATH,
             connect_review("exec", "private-0", "root", groups=("system:masters",))),
            ("exec by a trusted service account (GET pod)", PATH, connect_review("exec", "private-0", OPERATOR)),
            ("exec by a non-owner (GET pod + workspace)", PATH, connect_review("exec", "private-0", "bob")),
        ]
        print(f"pods/exec rule, {REQUESTS} sequential requests each, API server test double (Python) on loopback:")
        for what, path, body in cases:
            p50, p99 = measure(server, conn, path, body)
            print(f"  {what:48s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        conn.close()
    finally:
        env.close()


if __name__ == "__main__":
    main()
