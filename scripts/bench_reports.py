#!/usr/bin/python3
"""make bench, compliance reports: spacekeeper-controller's passes over
10,000 workspaces (BENCH_WORKSPACES) in 100 namespaces, every 7th refused by
the shared default template, served by the API server test double with the
PolicyReport CRD. Figures: the first pass (every workspace reviewed, 100
reports created), a resync (nothing changed: no review, no write), a
template change (every workspace reviewed again, every report updated), and
the controller's resident memory with the reports on and off. A pass's time
is the controller's own (spacekeeper_policy_report_pass_seconds: verdicts
and comparisons, not the writes); "written" is wall clock until the double
holds every report. Loopback only, bounded in time."""
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

from benchlib import rss_kib  # noqa: E402
from fake_apiserver import FakeAPIServer  # noqa: E402
from test_check_cluster import SHARED, template, workspace  # noqa: E402
from test_controller import Controller  # noqa: E402
from test_reports import crd  # noqa: E402
from test_serve import make_certs  # noqa: E402
from test_watch import write_kubeconfig  # noqa: E402

WORKSPACES = int(os.environ.get("BENCH_WORKSPACES", "10000"))
NAMESPACES = 100


def wait(what, predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} not seen within {seconds} s")


def metric(ctl, name):
    return ctl.metric(name) or 0


def main():
    work = tempfile.mkdtemp(prefix="sk-bench-reports-")
    certs = os.path.join(work, "api")
    make_certs(certs)
    token = os.path.join(work, "token")
    with open(token, "w") as f:
        f.write("token-1\n")
    fake = FakeAPIServer(certs, token="token-1")
    kubeconfig = os.path.join(work, "kubeconfig")
    write_kubeconfig(kubeconfig, fake.port, f"{certs}/ca.crt", token)
    fake.put(crd(), "customresourcedefinitions")
    fake.put(template("shared", SHARED, default=True, images=("img:1", "img:2")))
    fake.put_many([workspace(f"w-{i:06d}", f"team-{i % NAMESPACES:02d}", image="img:3" if i % 7 == 0 else
                             "img:2" if i % 3 == 0 else "img:1") for i in range(WORKSPACES)], "workspaces")
    args = ("--preload=false", "--idle-check-interval", "1h", "--policy-report-interval", "1s",
            "--policy-report-resync", "3s")
    print(f"compliance reports: {WORKSPACES} workspaces in {NAMESPACES} namespaces from the API server double, "
          f"1 in 7 refused")
    print(f"{'pass':<34} {'reviews':>8} {'pass s':>7} {'written s':>10} {'writes':>7}")
    runs = []
    try:
        ctl = Controller(kubeconfig, *args, interval="1h")
        runs.append(ctl)
        wait("readiness", lambda: ctl.health("/readyz")[0] == 200, 300)
        start = time.time()

        def row(what, reviews_before, writes_before, done):
            wait(what, done, 300)
            written = time.time() - start
            wait("the pass counted", lambda: metric(ctl, "spacekeeper_policy_report_passes_total") > passes0, 60)
            print(f"{what:<34} {metric(ctl, 'spacekeeper_policy_report_reviews_total') - reviews_before:>8.0f} "
                  f"{metric(ctl, 'spacekeeper_policy_report_pass_seconds'):>7.3f} {written:>10.2f} "
                  f"{fake.write_count('policyreports') - writes_before:>7}")

        passes0 = 0
        row("first (all reviewed, created)", 0, 0, lambda: len(fake.list_of("policyreports")) == NAMESPACES)
        rss_on = rss_kib(ctl.proc.pid) / 1024
        # a resync with nothing changed
        passes0 = metric(ctl, "spacekeeper_policy_report_passes_total")
        reviews, writes = metric(ctl, "spacekeeper_policy_report_reviews_total"), fake.write_count("policyreports")
        start = time.time()
        row("resync (nothing changed)", reviews, writes, lambda: True)
        # a template tightens: every workspace reviewed again, every report updated
        passes0 = metric(ctl, "spacekeeper_policy_report_passes_total")
        reviews, writes = metric(ctl, "spacekeeper_policy_report_reviews_total"), fake.write_count("policyreports")
        start = time.time()
        fake.put(template("shared", SHARED, default=True, images=("img:1",)))
        row("template tightened (all again)", reviews, writes,
            lambda: fake.write_count("policyreports") - writes >= NAMESPACES)
        code = ctl.stop()
        if code != 0:
            raise SystemExit(f"controller exited {code}: {ctl.read_log()[-2000:]}")
        off = Controller(kubeconfig, "--policy-reports=false", *args[:3], interval="1h")
        runs.append(off)
        wait("readiness", lambda: off.health("/readyz")[0] == 200, 300)
        time.sleep(1)
        rss_off = rss_kib(off.proc.pid) / 1024
        print(f"controller RSS: {rss_on:.1f} MiB with the reports, {rss_off:.1f} MiB without "
              f"({(rss_on - rss_off) * 1024 * 1024 / WORKSPACES:,.0f} bytes per workspace)")
    finally:
        for c in runs:
            c.stop()
        fake.stop()
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
