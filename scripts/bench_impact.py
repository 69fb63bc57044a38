#!/usr/bin/python3
"""make bench, impact half: how long `spacekeeper check --impact` takes over
10,000 workspaces served by the API server test double (paged LISTs over TLS
on loopback), and how much of that is the API server's own time. A figure,
not a test: the test double is Python, so the LIST dominates."""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
sys.argv = [sys.argv[0], BIN]

import yaml  # noqa: E402
from test_check_cluster import CLUSTER_TEMPLATES, STRICT, template, workspace  # noqa: E402
from test_watch import Env  # noqa: E402

WORKSPACES = int(os.environ.get("BENCH_WORKSPACES", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def main():
    env = Env()
    try:
        for t in CLUSTER_TEMPLATES:
            env.fake.put(t)
        # 100 namespaces; half the workspaces name strict, a quarter inherit it
        # as team-a's default, a quarter use the shared default
        wss = []
        for i in range(WORKSPACES):
            kind = i % 4
            ns = "team-a" if kind < 3 else f"team-{i % 100:02d}x"
            wss.append(workspace(f"w-{i:05d}", ns, ref=STRICT if kind < 2 else None,
                                 image="img:3" if i % 7 == 0 else "img:1", size="80Gi" if i % 11 == 0 else "20Gi"))
        env.fake.put_many(wss, "workspaces")
        changed = os.path.join(env.dir, "changed.yaml")
        with open(changed, "w") as f:
            yaml.safe_dump(template("strict", "team-a", default=True, images=("img:1", "img:2"), max_size="60Gi"), f)
        unused = os.path.join(env.dir, "unused.yaml")
        with open(unused, "w") as f:
            yaml.safe_dump(template("unused", "team-zz"), f)

        def timed(path):
            """The best of RUNS; the last run's JSON."""
            best = None
            for _ in range(RUNS):
                start = time.perf_counter()
                p = subprocess.run([BIN, "check", "--kubeconfig", env.kubeconfig, "--impact", "-t", path,
                                    "-o", "json"], capture_output=True, text=True, timeout=600)
                took = time.perf_counter() - start
                if p.returncode not in (0, 1):
                    raise RuntimeError(f"check --impact exited {p.returncode}: {p.stderr}")
                best = took if best is None else min(best, took)
            return best, json.loads(p.stdout)["impact"]

        full, imp = timed(changed)
        # a template no workspace uses: the same LISTs and lookups, no reviews
        baseline, _ = timed(unused)
        print(f"check --impact over {imp['workspaces']} workspaces ({imp['using']} use the changed template, "
              f"{imp['denied']} would be denied): {full:.2f} s (best of {RUNS}), "
              f"{imp['workspaces'] / full:,.0f} workspaces/s end to end")
        print(f"  of which listing {-(-imp['workspaces'] // 500)} pages of 500 from the Python test double "
              f"and finding each one's template: {baseline:.2f} s; reviewing {imp['using']} starts: "
              f"{full - baseline:.2f} s")
    finally:
        env.close()


if __name__ == "__main__":
    main()
