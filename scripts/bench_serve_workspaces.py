#!/usr/bin/python3
"""make bench, workspace half: serve's workspace cache and template guard.
How long a WorkspaceTemplate UPDATE review takes when 10,000 workspaces use
the template and the change refuses some of them (warnings computed: every
user reviewed at its next start), against a harmless UPDATE of the same
template in the same run (no workspace reviewed: the request's own cost);
the DELETE check (users found and counted); and serve's resident memory with
no, 10,000 and 100,000 workspaces in its cache. All of it through the API
server test double and serve's TLS port on loopback."""
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.argv = [sys.argv[0], os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/spacekeeper")]

from benchlib import rss_kib  # noqa: E402
from test_check_cluster import TIGHTENED, template, workspace  # noqa: E402
from test_serve_workspaces import Cluster  # noqa: E402
from test_watch import wait_for  # noqa: E402

USERS = int(os.environ.get("BENCH_WORKSPACES", "10000"))
LARGE = int(os.environ.get("BENCH_WORKSPACES_LARGE", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def population(count, owners=50):
    """`count` workspaces in team-a, all on strict (half by templateRef, half as the
    namespace default), made by `owners` people; every 7th runs img:3 and every 11th
    has 80Gi, which TIGHTENED refuses."""
    return [workspace(f"w-{i:06d}", "team-a", ref=("strict", "team-a") if i % 2 else None,
                      image="img:3" if i % 7 == 0 else "img:1", size="80Gi" if i % 11 == 0 else "20Gi",
                      owner=f"user-{i % owners}")
            for i in range(count)]


def best_ms(fn):
    best = None
    for _ in range(RUNS):
        start = time.perf_counter()
        out = fn()
        took = (time.perf_counter() - start) * 1000
        best = took if best is None else min(best, took)
    return best, out


def guard_timings(owners, label):
    c = Cluster(population(USERS, owners), list_seconds=600)
    try:
        harmless = template("strict", "team-a", default=True)
        harmless["metadata"]["labels"]["team"] = "a"
        ref_ms, (_, _, quiet) = best_ms(lambda: c.update(harmless))
        warn_ms, (allowed, _, warnings) = best_ms(lambda: c.update(TIGHTENED))
        del_ms, (del_allowed, msg, _) = best_ms(lambda: c.delete("team-a", "strict", user="bob"))
        assert not quiet and allowed and warnings and not del_allowed, (quiet, warnings, msg)
        summary = next(w for w in warnings if "would be refused" in w)
        print(f"template UPDATE used by {USERS:,} workspaces of {label}: {warn_ms:.1f} ms with the warnings "
              f"(best of {RUNS}, request round trip), {ref_ms:.1f} ms for a harmless UPDATE of the same "
              f"template (reference: no workspace reviewed); {warn_ms - ref_ms:.1f} ms for the warnings, "
              f"{warn_ms / ref_ms:.1f}x the reference")
        print(f"  {summary}")
        print(f"  template DELETE refused (users found and counted, none reviewed): {del_ms:.1f} ms")
    finally:
        c.close()


def settled_rss(c, count):
    """RSS once the LIST's JSON is freed and handed back (just after its log line)."""
    wait_for("the workspace LIST", lambda: f"workspaces items={count} " in c.env.server.read_log(), 600)
    last, kib = None, rss_kib(c.env.server.proc.pid)
    while kib != last:
        time.sleep(0.5)
        last, kib = kib, rss_kib(c.env.server.proc.pid)
    return kib


def memory():
    rows = []
    for count in (0, USERS, LARGE):
        c = Cluster(population(count), list_seconds=600)
        try:
            rows.append((count, settled_rss(c, count)))
        finally:
            c.close()
    base = rows[0][1]
    for count, kib in rows:
        extra = f", {(kib - base) * 1024 / count:.0f} bytes per workspace over none" if count else ""
        print(f"serve RSS with {count:>7,} workspaces in its cache: {kib / 1024:.1f} MiB{extra}")


if __name__ == "__main__":
    guard_timings(50, "50 owners (alike but for their names: reviewed once per kind)")
    guard_timings(USERS, "as many owners (every one reviewed)")
    memory()
