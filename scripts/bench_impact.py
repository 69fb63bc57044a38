#!/usr/bin/python3
"""make bench, impact half: how long `spacekeeper check --impact` takes over
10,000 workspaces served by the API server test double (paged LISTs over TLS
on loopback), and how much of that is the API server's own time. A figure,
not a test: the test double is Python, so the LIST dominates."""
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
sys.argv = [sys.argv[0], BIN]

import yaml  # noqa: E402
from test_check_cluster import CLUSTER_TEMPLATES, TIGHTENED, many_workspaces, template  # noqa: E402
from test_watch import Env  # noqa: E402

WORKSPACES = int(os.environ.get("BENCH_WORKSPACES", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def main():
    env = Env()
    try:
        for t in CLUSTER_TEMPLATES:
            env.fake.put(t)
        wss, _, _ = many_workspaces(WORKSPACES)
        env.fake.put_many(wss, "workspaces")
        changed = os.path.join(env.dir, "changed.yaml")
        with open(changed, "w") as f:
            yaml.safe_dump(TIGHTENED, f)
        unused = os.path.join(env.dir, "unused.yaml")
        with open(unused, "w") as f:
            yaml.safe_dump(template("unused", "team-zz"), f)

        def cpu():
            r = resource.getrusage(resource.RUSAGE_CHILDREN)
            return r.ru_utime + r.ru_stime

        def timed(path):
            """The best of RUNS (wall clock, and check's own CPU time); the last run's JSON."""
            best = None
            for _ in range(RUNS):
                start, cpu_start = time.perf_counter(), cpu()
                p = subprocess.run([BIN, "check", "--kubeconfig", env.kubeconfig, "--impact", "-t", path,
                                    "-o", "json"], capture_output=True, text=True, timeout=600)
                took = (time.perf_counter() - start, cpu() - cpu_start)
                if p.returncode not in (0, 1):
                    raise RuntimeError(f"check --impact exited {p.returncode}: {p.stderr}")
                best = took if best is None else min(best, took)
            return best, json.loads(p.stdout)["impact"]

        (full, full_cpu), imp = timed(changed)
        # a template no workspace uses: the same LISTs and lookups, no reviews
        (baseline, _), _ = timed(unused)
        print(f"check --impact over {imp['workspaces']} workspaces ({imp['using']} use the changed template, "
              f"{imp['denied']} would be denied): {full:.2f} s (best of {RUNS}), "
              f"{imp['workspaces'] / full:,.0f} workspaces/s end to end; check itself used {full_cpu:.2f} s of CPU")
        print(f"  the same {-(-imp['workspaces'] // 500)} LIST pages of 500 from the Python test double with a "
              f"template no workspace uses (no reviews): {baseline:.2f} s")
    finally:
        env.close()


if __name__ == "__main__":
    main()
