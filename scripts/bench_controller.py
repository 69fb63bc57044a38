#!/usr/bin/python3
"""make bench, controller part: idle-probe throughput of spacekeeper-controller.

10,000 workspaces with idle shutdown enabled and their pods are served by the
API server test double; every pod's IP is 127.0.0.1 and its idle endpoint is
nginx on loopback, answering a last activity in the future (so nothing is
stopped and every round probes again). For each --idle-check-interval the
controller runs for a measured window; the figures are probes per second,
CPU seconds per 1,000 probes and the controller's resident memory. The
reference in the same run is the demand: workspaces / interval. Loopback
only, bounded in time."""
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")
CTRL = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "build/spacekeeper-controller")
sys.argv = [sys.argv[0], BIN, CTRL]

from benchlib import cpu_seconds, rss_kib, start_nginx  # noqa: E402
from test_controller import Controller, free_port, pod, workspace  # noqa: E402
from fake_apiserver import FakeAPIServer  # noqa: E402
from test_serve import make_certs  # noqa: E402
from test_watch import write_kubeconfig  # noqa: E402

WORKSPACES = int(os.environ.get("BENCH_WORKSPACES", "10000"))
WINDOW = float(os.environ.get("BENCH_WINDOW", "20"))


def probes(ctl):
    return ctl.metric("spacekeeper_idle_probes_total", result="success") or 0


def main():
    work = tempfile.mkdtemp(prefix="sk-bench-ctl-")
    port = free_port()
    ng = start_nginx(work, port, '{"lastActiveTimestamp": 4102444800}')
    certs = os.path.join(work, "api")
    make_certs(certs)
    token = os.path.join(work, "token")
    with open(token, "w") as f:
        f.write("token-1\n")
    fake = FakeAPIServer(certs, token="token-1")
    kubeconfig = os.path.join(work, "kubeconfig")
    write_kubeconfig(kubeconfig, fake.port, f"{certs}/ca.crt", token)
    ready = time.time() - 3600
    fake.put_many([workspace(f"ws-{i:05d}", port, timeout_minutes=60) for i in range(WORKSPACES)], "workspaces")
    fake.put_many([pod(f"ws-{i:05d}", ready_since=ready) for i in range(WORKSPACES)], "pods")
    print(f"controller benchmark: {WORKSPACES} workspaces and pods from the API server double, idle "
          f"endpoints on nginx (loopback), {WINDOW:g} s measured per row, 32 probes in flight")
    print(f"{'interval':>9} {'demand/s':>9} {'probes/s':>9} {'ratio':>6} {'CPU s/1k probes':>16} "
          f"{'RSS MiB':>8} {'first round s':>14}")
    try:
        for interval in (60, 10, 2):
            # idle probing alone: scripts/bench_reports.py measures the compliance reports
            ctl = Controller(kubeconfig, "--idle-probe-timeout", "5s", "--policy-reports=false",
                             interval=f"{interval}s")
            try:
                start = time.time()
                while ctl.health("/readyz")[0] != 200 and time.time() - start < 120:
                    time.sleep(0.2)
                synced = time.time()
                # the first round: every workspace probed once, spread over the interval
                while probes(ctl) < WORKSPACES and time.time() - synced < interval * 3 + 30:
                    time.sleep(0.2)
                first_round = time.time() - synced
                p0, c0, t0 = probes(ctl), cpu_seconds(ctl.proc.pid), time.time()
                time.sleep(WINDOW)
                p1, c1, t1 = probes(ctl), cpu_seconds(ctl.proc.pid), time.time()
                rate = (p1 - p0) / (t1 - t0)
                demand = WORKSPACES / interval
                per_k = (c1 - c0) / max(1.0, p1 - p0) * 1000
                print(f"{interval:>8}s {demand:>9.0f} {rate:>9.0f} {rate / demand:>6.2f} {per_k:>16.3f} "
                      f"{rss_kib(ctl.proc.pid) / 1024:>8.1f} {first_round:>14.1f}")
                failed = {r: ctl.metric("spacekeeper_idle_probes_total", result=r) or 0
                          for r in ("connection_error", "timeout", "http_error", "invalid_answer")}
                if any(failed.values()):
                    print("          (failed probes: " + ", ".join(f"{r} {n:.0f}" for r, n in failed.items() if n) + ")")
            finally:
                code = ctl.stop()
                if code != 0:
                    print(ctl.read_log()[-2000:])
                    raise SystemExit(f"controller exited {code}")
    finally:
        fake.stop()
        ng.terminate()
        ng.wait()
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
