#!/usr/bin/python3
"""Image preloading end to end: the real spacekeeper-controller against the API
server test double, with templates and nodes fed through it; and the
spacekeeper-pause program. Node affinity is evaluated here by Kubernetes'
rules (terms ORed, expressions ANDed; In, NotIn, Exists, DoesNotExist), so
the DaemonSets are checked for what the scheduler would do with them."""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_controller import LEASE_NS, Env, wait_for  # noqa: E402

CTRL = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "build/spacekeeper-controller")
PAUSE = os.path.join(os.path.dirname(CTRL), "spacekeeper-pause")
SEED_RESOURCES = {"requests": {"cpu": "1m", "memory": "16Mi"}, "limits": {"cpu": "5m", "memory": "32Mi"}}


def template(name, images, selector=None, tolerations=None, ns="spacekeeper-shared", preload=None):
    spec = {"defaultImage": images[0], "allowedImages": images[1:]}
    if selector:
        spec["defaultNodeSelector"] = selector
    if tolerations:
        spec["defaultTolerations"] = tolerations
    md = {"name": name, "namespace": ns}
    if preload is not None:
        md["annotations"] = {"workspace.jupyter.org/preload": preload}
    return {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "WorkspaceTemplate", "metadata": md,
            "spec": spec}


def node(name, labels):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


# ---- Kubernetes' scheduling rules, independently ----

def expression_matches(expr, labels):
    key, op, values = expr["key"], expr["operator"], expr.get("values", [])
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise AssertionError(f"unknown operator {op}")


def pod_selects(pod_spec, labels):
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if not required:
        return True
    # an empty term matches nothing; terms are ORed, expressions ANDed
    return any(t.get("matchExpressions") and all(expression_matches(e, labels) for e in t["matchExpressions"])
               for t in required["nodeSelectorTerms"])


def selects(ds, labels):
    return pod_selects(ds["spec"]["template"]["spec"], labels)


def images_of(ds):
    return sorted(c["image"] for c in ds["spec"]["template"]["spec"]["containers"])


def matching_templates(templates, labels):
    return [t for t in templates if all(labels.get(k) == v for k, v in
                                        (t["spec"].get("defaultNodeSelector") or {}).items())]


def union_images(templates):
    out = set()
    for t in templates:
        out.add(t["spec"]["defaultImage"])
        out.update(t["spec"].get("allowedImages", []))
    return sorted(out)


class PreloadEnv(Env):
    def daemonsets(self):
        return {d["metadata"]["name"]: d for d in self.fake.list_of("daemonsets", LEASE_NS)}

    def start_preload(self, *args, **kwargs):
        return self.start("--preload-backoff", "2s", "--preload-resync", "1s", *args, **kwargs)


class PreloadTest(unittest.TestCase):
    def setUp(self):
        self.env = PreloadEnv()

    def tearDown(self):
        self.env.close()

    def test_cells_property(self):
        """Random selectors and random nodes: every node that a template places
        workspaces on is selected by exactly one DaemonSet, which carries exactly
        the union of the images of the templates it matches; no other node is."""
        env = self.env
        rng = random.Random(20261123)
        keys, values = ["zone", "gpu", "pool"], ["a", "b"]
        pool = [f"reg.example/img-{i}:1" for i in range(8)]
        ctl = env.start_preload()
        previous = []
        for rnd in range(4):
            templates = []
            for i in range(rng.randint(2, 5)):
                sel = {k: rng.choice(values) for k in rng.sample(keys, rng.randint(0, 2))}
                templates.append(template(f"t{rnd}-{i}", rng.sample(pool, rng.randint(1, 3)), sel or None))
            nodes = [node(f"n{rnd}-{i}", {k: rng.choice(values) for k in rng.sample(keys, rng.randint(0, 3))})
                     for i in range(rng.randint(6, 14))]
            for kind, objs in previous:
                for o in objs:
                    env.fake.delete(o["metadata"].get("namespace", ""), o["metadata"]["name"], kind)
            for t in templates:
                env.fake.put(t, "workspacetemplates")
            for n in nodes:
                env.fake.put(n, "nodes")
            previous = [("workspacetemplates", templates), ("nodes", nodes)]

            def holds():
                dss = list(env.daemonsets().values())
                for n in nodes:
                    labels = n["metadata"]["labels"]
                    want = union_images(matching_templates(templates, labels))
                    chosen = [d for d in dss if selects(d, labels)]
                    if not want and chosen:
                        return False
                    if want and (len(chosen) != 1 or images_of(chosen[0]) != want):
                        return False
                return True

            wait_for(f"round {rnd}: the cells", holds, 15, step=0.1)
            # nodes the controller never saw: at most one DaemonSet, and the right images if any
            dss = list(env.daemonsets().values())
            for _ in range(200):
                labels = {k: rng.choice(values) for k in rng.sample(keys, rng.randint(0, 3))}
                chosen = [d for d in dss if selects(d, labels)]
                self.assertLessEqual(len(chosen), 1, labels)
                if chosen:
                    self.assertEqual(images_of(chosen[0]), union_images(matching_templates(templates, labels)))
        self.assertEqual(ctl.metric("spacekeeper_preload_pull_failures_total"), 0)

    def test_cpu_and_gpu_templates(self):
        env = self.env
        gpu_tol = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        env.fake.put(template("cpu", ["reg.example/cpu:1", "reg.example/shared:1"]), "workspacetemplates")
        env.fake.put(template("gpu", ["reg.example/gpu:1"], {"nvidia.com/gpu.present": "true"}, gpu_tol),
                     "workspacetemplates")
        # same placement as "cpu", overlapping images: no DaemonSet of its own
        env.fake.put(template("cpu-2", ["reg.example/shared:1", "reg.example/cpu-extra@sha256:" + "a" * 64],
                              ns="team-a"), "workspacetemplates")
        # opted out: contributes nothing
        env.fake.put(template("quiet", ["reg.example/never:1"], preload="false"), "workspacetemplates")
        env.fake.put(node("cpu-node", {"kubernetes.io/arch": "amd64"}), "nodes")
        env.fake.put(node("gpu-node", {"nvidia.com/gpu.present": "true"}), "nodes")
        ctl = env.start_preload("--preload-pull-secrets", "regcred")
        wait_for("two DaemonSets", lambda: len(env.daemonsets()) == 2, 10)
        dss = env.daemonsets()
        (cpu,) = [d for d in dss.values() if selects(d, {"kubernetes.io/arch": "amd64"})]
        (gpu,) = [d for d in dss.values() if selects(d, {"nvidia.com/gpu.present": "true"})]
        self.assertNotEqual(cpu["metadata"]["name"], gpu["metadata"]["name"])
        cpu_images = ["reg.example/cpu-extra@sha256:" + "a" * 64, "reg.example/cpu:1", "reg.example/shared:1"]
        self.assertEqual(images_of(cpu), sorted(cpu_images))
        self.assertEqual(images_of(gpu), sorted(cpu_images + ["reg.example/gpu:1"]))
        self.assertEqual(gpu["spec"]["template"]["spec"]["tolerations"], gpu_tol)
        self.assertEqual(cpu["spec"]["template"]["spec"].get("tolerations", []), [])
        for ds in (cpu, gpu):
            md, spec = ds["metadata"], ds["spec"]
            pod = spec["template"]["spec"]
            self.assertEqual(md["namespace"], LEASE_NS)
            self.assertTrue(md["name"].startswith("spacekeeper-preload-"))
            self.assertEqual(md["labels"]["app.kubernetes.io/managed-by"], "spacekeeper-controller")
            self.assertEqual(spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"], "10%")
            self.assertEqual(spec["selector"]["matchLabels"].items() - spec["template"]["metadata"]["labels"].items(),
                             set())
            self.assertEqual(pod["priorityClassName"], "spacekeeper-preload")
            self.assertFalse(pod["automountServiceAccountToken"])
            self.assertLessEqual(pod["terminationGracePeriodSeconds"], 10)
            self.assertTrue(pod["securityContext"]["runAsNonRoot"])
            self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
            self.assertEqual(pod["imagePullSecrets"], [{"name": "regcred"}])
            (init,) = pod["initContainers"]
            self.assertEqual(init["command"], ["/usr/local/bin/spacekeeper-pause", "--install", "/spacekeeper/pause"])
            names = [c["name"] for c in pod["containers"]]
            self.assertEqual(len(names), len(set(names)))
            for c in pod["containers"]:
                self.assertRegex(c["name"], r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
                self.assertLessEqual(len(c["name"]), 63)
                self.assertEqual(c["command"], ["/spacekeeper/pause"])
                self.assertEqual(c["resources"], SEED_RESOURCES)
                self.assertTrue(c["securityContext"]["readOnlyRootFilesystem"])
                self.assertFalse(c["securityContext"]["allowPrivilegeEscalation"])
                self.assertEqual(c["securityContext"]["capabilities"], {"drop": ["ALL"]})
                self.assertEqual(c["imagePullPolicy"], "IfNotPresent" if "@sha256:" in c["image"] else "Always")
        # status flows into the metrics
        status_ds = env.fake.get(LEASE_NS, gpu["metadata"]["name"], "daemonsets")
        status_ds["status"] = {"desiredNumberScheduled": 3, "numberReady": 2}
        env.fake.put(status_ds, "daemonsets")
        wait_for("status metrics", lambda: ctl.metric("spacekeeper_preload_nodes_ready",
                                                      daemonset=gpu["metadata"]["name"]) == 2, 5)
        self.assertEqual(ctl.metric("spacekeeper_preload_nodes_desired", daemonset=gpu["metadata"]["name"]), 3)
        self.assertEqual(ctl.metric("spacekeeper_preload_images"), 4)

    def test_kept_in_step_without_update_storms(self):
        env = self.env
        env.fake.put(template("cpu", ["reg.example/cpu:1"]), "workspacetemplates")
        env.fake.put(template("gpu", ["reg.example/gpu:1"], {"gpu": "yes"}), "workspacetemplates")
        env.fake.put(node("n1", {}), "nodes")
        env.fake.put(node("n2", {"gpu": "yes"}), "nodes")
        env.start_preload()
        wait_for("two DaemonSets", lambda: len(env.daemonsets()) == 2, 10)
        # nothing changes: several resyncs (1 s each), no write
        writes = env.fake.write_count("daemonsets")
        time.sleep(3.5)
        self.assertEqual(env.fake.write_count("daemonsets"), writes)
        # an image added: the DaemonSets gain it within 2 s, updated in place
        names = set(env.daemonsets())
        env.fake.put(template("cpu", ["reg.example/cpu:1", "reg.example/cpu:2"]), "workspacetemplates")
        wait_for("the new image", lambda: all("reg.example/cpu:2" in images_of(d) for d in env.daemonsets().values()),
                 2)
        self.assertEqual(set(env.daemonsets()), names)
        # a template deleted: its images go, and the cell it alone made is deleted
        env.fake.delete("spacekeeper-shared", "gpu", "workspacetemplates")
        wait_for("the GPU cell gone", lambda: len(env.daemonsets()) == 1, 2)
        (only,) = env.daemonsets().values()
        self.assertEqual(images_of(only), ["reg.example/cpu:1", "reg.example/cpu:2"])
        self.assertTrue(selects(only, {"gpu": "yes"}) and selects(only, {}))
        # no template at all: nothing to preload, nothing left behind
        env.fake.delete("spacekeeper-shared", "cpu", "workspacetemplates")
        wait_for("no DaemonSet", lambda: not env.daemonsets(), 2)

    def test_refresh_tags_not_digests(self):
        env = self.env
        digest = "reg.example/pinned@sha256:" + "b" * 64
        env.fake.put(template("tagged", ["reg.example/tagged:latest", "reg.example/untagged"]), "workspacetemplates")
        env.fake.put(template("pinned", [digest], {"pool": "pinned"}), "workspacetemplates")
        env.fake.put(node("n1", {}), "nodes")
        env.fake.put(node("n2", {"pool": "pinned"}), "nodes")
        env.start_preload("--preload-refresh", "3s")
        wait_for("two DaemonSets", lambda: len(env.daemonsets()) == 2, 10)
        (tagged,) = [d for d in env.daemonsets().values() if selects(d, {})]
        (pinned,) = [d for d in env.daemonsets().values() if selects(d, {"pool": "pinned"})]
        self.assertEqual({c["imagePullPolicy"] for c in tagged["spec"]["template"]["spec"]["containers"]}, {"Always"})
        pinned_policies = {c["image"]: c["imagePullPolicy"] for c in pinned["spec"]["template"]["spec"]["containers"]}
        self.assertEqual(pinned_policies[digest], "IfNotPresent")

        def refreshed(name):
            ds = env.fake.get(LEASE_NS, name, "daemonsets")
            return ((ds["spec"]["template"]["metadata"].get("annotations") or {})
                    .get("spacekeeper.io/refreshed-at"))

        first = refreshed(tagged["metadata"]["name"])
        self.assertIsNotNone(first)
        wait_for("a refresh", lambda: refreshed(tagged["metadata"]["name"]) not in (None, first), 8)
        # the pinned cell also holds the tagged images (its nodes match both); a digest-only one never bumps
        only_digest = template("pinned", [digest], {"pool": "pinned"})
        env.fake.delete("spacekeeper-shared", "tagged", "workspacetemplates")
        env.fake.put(only_digest, "workspacetemplates")
        wait_for("a digest-only DaemonSet", lambda: [d for d in env.daemonsets().values()
                                                    if images_of(d) == [digest]], 5)
        (name,) = [n for n, d in env.daemonsets().items() if images_of(d) == [digest]]
        writes = sum(1 for w in env.fake.writes if w[1] == "daemonsets" and w[3] == name)
        time.sleep(4)
        self.assertIsNone(refreshed(name))
        self.assertEqual(sum(1 for w in env.fake.writes if w[1] == "daemonsets" and w[3] == name), writes)

    def test_an_image_that_cannot_be_pulled(self):
        env = self.env
        env.fake.put(template("a", ["reg.example/good:1", "reg.example/bad:1"]), "workspacetemplates")
        env.fake.put(template("b", ["reg.example/bad:1", "reg.example/other:1"], ns="team-b"), "workspacetemplates")
        env.fake.put(node("n1", {}), "nodes")
        ctl = env.start_preload()
        wait_for("a DaemonSet", lambda: len(env.daemonsets()) == 1, 10)
        (ds,) = env.daemonsets().values()
        bad = [c for c in ds["spec"]["template"]["spec"]["containers"] if c["image"] == "reg.example/bad:1"][0]
        # the kubelet's report, as a preload pod's status
        env.fake.put({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": ds["metadata"]["name"] + "-x1", "namespace": LEASE_NS,
                                   "labels": ds["spec"]["template"]["metadata"]["labels"]},
                      "spec": {"nodeName": "n1", "containers": ds["spec"]["template"]["spec"]["containers"]},
                      "status": {"phase": "Pending", "containerStatuses": [
                          {"name": bad["name"], "image": "reg.example/bad:1", "ready": False,
                           "state": {"waiting": {"reason": "ImagePullBackOff",
                                                 "message": "Back-off pulling image \"reg.example/bad:1\""}}}]}},
                     "pods")
        wait_for("the image set aside", lambda: "reg.example/bad:1" not in images_of(
            list(env.daemonsets().values())[0]), 5, step=0.02)
        self.assertEqual(images_of(list(env.daemonsets().values())[0]),
                         ["reg.example/good:1", "reg.example/other:1"])
        for name in ("a", "b"):
            (ev,) = env.fake.events_for(name, "PreloadImagePullFailed")
            self.assertEqual(ev["type"], "Warning")
            self.assertEqual(ev["involvedObject"]["kind"], "WorkspaceTemplate")
            self.assertIn("reg.example/bad:1", ev["message"])
            self.assertIn("n1", ev["message"])
            self.assertIn("Back-off pulling image", ev["message"])
        self.assertEqual(ctl.metric("spacekeeper_preload_pull_failures_total"), 1)
        # back after the (short) backoff
        wait_for("the image back", lambda: "reg.example/bad:1" in images_of(list(env.daemonsets().values())[0]), 5)

    def test_cap_on_daemonsets(self):
        env = self.env
        env.fake.put(template("a", ["reg.example/a:1"], {"pool": "a"}), "workspacetemplates")
        env.fake.put(template("b", ["reg.example/b:1"], {"pool": "b"}), "workspacetemplates")
        env.fake.put(node("n1", {"pool": "a"}), "nodes")
        env.fake.put(node("n2", {"pool": "a"}), "nodes")
        env.fake.put(node("n3", {"pool": "b"}), "nodes")
        ctl = env.start_preload("--preload-max-daemonsets", "1")
        wait_for("the capped cell's Event", lambda: env.fake.events_for("b", "PreloadCellsCapped"), 10)
        wait_for("the one DaemonSet", lambda: len(env.daemonsets()) == 1, 5)
        time.sleep(1.5)  # resyncs: still one
        (ds,) = env.daemonsets().values()
        self.assertEqual(images_of(ds), ["reg.example/a:1"])  # the cell with more nodes wins
        self.assertIn("cap reached", ctl.read_log())

    def test_only_the_leader_writes_and_preload_false_writes_nothing(self):
        env = self.env
        env.fake.extra_tokens.add("token-b")
        kubeconfig_b = env.kubeconfig + "-b"
        token_b = os.path.join(env.dir, "token-b")
        with open(token_b, "w") as f:
            f.write("token-b\n")
        with open(env.kubeconfig) as f:
            cfg = json.load(f)
        cfg["users"][0]["user"]["tokenFile"] = token_b
        with open(kubeconfig_b, "w") as f:
            json.dump(cfg, f)
        env.fake.put(template("a", ["reg.example/a:1"]), "workspacetemplates")
        env.fake.put(node("n1", {}), "nodes")
        a = env.start_preload(elect=True, identity="ctl-a")
        wait_for("a leader", a.leading, 20)
        env.kubeconfig, saved = kubeconfig_b, env.kubeconfig
        b = env.start_preload(elect=True, identity="ctl-b")
        env.kubeconfig = saved
        wait_for("a DaemonSet", lambda: len(env.daemonsets()) == 1, 10)
        env.fake.put(template("a", ["reg.example/a:1", "reg.example/a:2"]), "workspacetemplates")
        wait_for("the update", lambda: len(images_of(list(env.daemonsets().values())[0])) == 2, 5)
        writers = {w[4] for w in env.fake.writes if w[1] == "daemonsets"}
        self.assertEqual(writers, {"token"})  # ctl-a's token only
        self.assertFalse(b.leading())
        # --preload=false: manages nothing, deletes nothing
        a.stop()
        b.stop()
        writes = env.fake.write_count("daemonsets")
        env.fake.delete("spacekeeper-shared", "a", "workspacetemplates")
        env.start("--preload=false")
        time.sleep(2)
        self.assertEqual(env.fake.write_count("daemonsets"), writes)
        self.assertEqual(len(env.daemonsets()), 1)


class PauseTest(unittest.TestCase):
    def test_sleeps_until_told_and_exits_at_once(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            proc = subprocess.Popen([PAUSE])
            time.sleep(0.5)
            self.assertIsNone(proc.poll())
            start = time.time()
            proc.send_signal(sig)
            self.assertEqual(proc.wait(timeout=1), 0)
            self.assertLess(time.time() - start, 1)

    def test_static_small_and_installs_itself(self):
        out = subprocess.run(["file", "-L", PAUSE], capture_output=True, text=True, check=True).stdout
        self.assertIn("statically linked", out)
        ldd = subprocess.run(["ldd", PAUSE], capture_output=True, text=True)
        self.assertIn("not a dynamic executable", ldd.stdout + ldd.stderr)
        self.assertLess(os.path.getsize(PAUSE), 1 << 20)
        with tempfile.TemporaryDirectory() as d:
            dest = os.path.join(d, "pause")
            subprocess.run([PAUSE, "--install", dest], check=True, timeout=5)
            self.assertTrue(os.access(dest, os.X_OK))
            with open(dest, "rb") as a, open(PAUSE, "rb") as b:
                self.assertEqual(a.read(), b.read())
            proc = subprocess.Popen([dest])
            time.sleep(0.2)
            proc.terminate()
            self.assertEqual(proc.wait(timeout=1), 0)
        bad = subprocess.run([PAUSE, "extra"], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("usage", bad.stderr)


if __name__ == "__main__":
    harness.main(__name__, "e2e-preload")
