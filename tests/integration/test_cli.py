"""kubectl-tollgate against kubesim, the way a user runs it.

The operator is not part of this test: the CRDs are applied, Rollouts and Releases are created
with kubectl, and their status is set with a raw PUT to /status to stage each situation
(paused canary, Release in flight, aborted Release, history). Each verb is then run as the real
binary (and once through `kubectl tollgate` as a plugin), and the test checks what a user sees:
the output, the exit code, and the annotation the verb wrote (a fresh token each time), and that
nothing but annotations was written.
"""

import json
import os
import re
import select
import signal
import subprocess
import tempfile
import time
import unittest

from harness import Kubesim, source_dir

BIN = os.environ.get("KUBECTL_TOLLGATE_BIN", "")
CRDS = os.environ.get("TOLLGATE_CRDS_DIR") or os.path.join(source_dir(), "crds")
API = "/apis/tollgate.io/v1alpha1/namespaces/%s/%s"
DIGEST = "sha256:" + "0123456789abcdef" * 4
TOKEN_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ-[0-9a-f]{16}$")

ROLLOUT = {
    "apiVersion": "tollgate.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {
        "replicas": 4,
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "registry.example/web:placeholder"}]},
        },
        "service": {"name": "web"},
        "strategy": {"canary": {"steps": [
            {"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "30s"}},
        ]}},
    },
}

BLUE_GREEN = {
    "apiVersion": "tollgate.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "checkout", "namespace": "shop"},
    "spec": {
        "replicas": 2,
        "template": {
            "metadata": {"labels": {"app": "checkout"}},
            "spec": {"containers": [{"name": "checkout", "image": "registry.example/co:x"}]},
        },
        "service": {"name": "checkout"},
        "strategy": {"blueGreen": {"previewService": "checkout-preview",
                                   "autoPromotionEnabled": False}},
    },
}


def release(name, rollout, version):
    return {
        "apiVersion": "tollgate.io/v1alpha1",
        "kind": "Release",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"rollout": rollout, "version": version,
                 "artifact": {"image": "registry.example/web@" + DIGEST}},
    }


def ts(offset_s=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_s))


def paused_status():
    """web paused at step 2/4 (the promote pause), web-2 in flight over stable web-1."""
    return {
        "phase": "Paused", "strategy": "Canary", "stableRelease": "web-1",
        "currentRelease": "web-2", "currentStep": 1, "canaryWeight": 25,
        "pauseStartedAt": ts(-120),
        "tracks": {
            "stable": {"deployment": "web-stable", "release": "web-1", "replicas": 3,
                       "readyReplicas": 3},
            "canary": {"deployment": "web-canary", "release": "web-2", "replicas": 1,
                       "readyReplicas": 1},
        },
        "conditions": [
            {"type": "Paused", "status": "True", "reason": "PausedForPromote",
             "message": "step 2 waits for a promote", "lastTransitionTime": ts(-120)},
            {"type": "Healthy", "status": "True", "reason": "StableReady", "message": "",
             "lastTransitionTime": ts(-3600)},
        ],
        "history": [
            {"release": "web-1", "version": "1.0.0", "result": "Succeeded",
             "startedAt": "2026-11-20T10:00:00Z", "finishedAt": "2026-11-20T10:12:30Z"},
            {"release": "web-0", "version": "0.9.0", "result": "Succeeded",
             "startedAt": "2026-11-19T09:00:00Z", "finishedAt": "2026-11-19T09:05:00Z"},
        ],
    }


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BIN:
            raise unittest.SkipTest("KUBECTL_TOLLGATE_BIN is not set")
        cls.sim = Kubesim().start()
        for f in sorted(os.listdir(CRDS)):
            if f.endswith(".yaml"):
                cls.sim.kubectl("apply", "-f", os.path.join(CRDS, f))
        cls.sim.wait_for(lambda: cls.sim.request("GET", API % ("shop", "rollouts"))[0] == 200,
                         message="the Rollout CRD is served")
        cls.sim.kubectl("create", "namespace", "shop")
        cls.sim.kubectl("create", "namespace", "empty")

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        for kind in ("rollouts", "releases"):
            self.sim.kubectl("delete", kind + ".tollgate.io", "--all", "-n", "shop",
                             "--wait=false", check=False)
        self.sim.kubectl("delete", "events", "--all", "-n", "shop", check=False)
        self.apply(ROLLOUT)
        for name, version in (("web-0", "0.9.0"), ("web-1", "1.0.0"), ("web-2", "1.1.0")):
            self.apply(release(name, "web", version))
        self.set_status("rollouts", "web", paused_status())
        self.set_status("releases", "web-0", {"phase": "Succeeded"})
        self.set_status("releases", "web-1", {"phase": "Succeeded"})
        self.set_status("releases", "web-2", {"phase": "Paused", "currentStep": 1})

    # -- helpers ---------------------------------------------------------------------------
    def apply(self, obj):
        self.sim.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def get(self, kind, name):
        status, _, body = self.sim.request("GET", API % ("shop", kind) + "/" + name)
        self.assertEqual(status, 200, body)
        return body

    def set_status(self, kind, name, status):
        obj = self.get(kind, name)
        obj["status"] = status
        code, _, body = self.sim.request("PUT", API % ("shop", kind) + "/" + name + "/status", obj)
        self.assertEqual(code, 200, body)

    def event(self, name, kind, obj_name, reason, message, age_s, etype="Normal", count=1):
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "shop"},
            "involvedObject": {"apiVersion": "tollgate.io/v1alpha1", "kind": kind,
                               "name": obj_name, "namespace": "shop"},
            "reason": reason, "message": message, "type": etype, "count": count,
            "firstTimestamp": ts(-age_s), "lastTimestamp": ts(-age_s),
            "source": {"component": "tollgate"},
        }
        code, _, out = self.sim.request("POST", "/api/v1/namespaces/shop/events", body)
        self.assertEqual(code, 201, out)

    def run_cli(self, *args, env=None, timeout=60):
        e = dict(os.environ)
        e.pop("KUBECONFIG", None)
        e.update(env or {})
        return subprocess.run([BIN, "--kubeconfig", self.sim.kubeconfig, *args], capture_output=True,
                              text=True, timeout=timeout, env=e)

    def ok(self, *args):
        r = self.run_cli(*args)
        self.assertEqual(r.returncode, 0, "stdout: %s\nstderr: %s" % (r.stdout, r.stderr))
        return r

    def fails(self, *args, message):
        r = self.run_cli(*args)
        # Exactly 1: a sanitizer's report (a leak on an error path) would exit otherwise.
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(message, lines[0])
        self.assertTrue(lines[0].startswith("error: "), lines[0])
        return r

    def annotations(self, kind, name):
        return self.get(kind, name)["metadata"].get("annotations", {})

    def writes(self):
        return [e for e in self.sim.request_log()
                if e["method"] not in ("GET", "HEAD") and "kubectl-tollgate" in e["userAgent"]]

    # -- list ------------------------------------------------------------------------------
    def test_list(self):
        self.apply(BLUE_GREEN)
        r = self.ok("list", "-n", "shop")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "STRATEGY", "PHASE", "STEP", "WEIGHT",
                                            "STABLE", "CURRENT", "AGE"])
        self.assertEqual(lines[1].split()[:3], ["checkout", "BlueGreen", "<none>"])
        self.assertEqual(lines[2].split()[:7], ["web", "Canary", "Paused", "2/4", "25%",
                                                "web-1", "web-2"])
        self.assertRegex(lines[2].split()[7], r"^\d+s$")

    def test_list_all_namespaces(self):
        r = self.ok("list", "-A")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split()[:2], ["NAMESPACE", "NAME"])
        self.assertEqual(lines[1].split()[:3], ["shop", "web", "Canary"])

    def test_list_empty_namespace(self):
        r = self.ok("list", "--namespace=empty")
        self.assertEqual(r.stdout, "")
        self.assertIn("No rollouts found in empty namespace", r.stderr)

    def test_namespace_from_kubeconfig_context(self):
        # The kubeconfig's context names no namespace: "default", where there is nothing.
        r = self.ok("list")
        self.assertIn("No rollouts found in default namespace", r.stderr)
        self.fails("status", "web", message="rollout default/web: not found")

    # -- status ----------------------------------------------------------------------------
    def test_status_paused_canary(self):
        self.event("e1", "Rollout", "web", "ReleaseStarted", "delivering web-2", 600)
        self.event("e2", "Release", "web-2", "StepStarted", "setWeight 20", 300)
        self.event("e3", "Rollout", "web", "Paused", "waiting for promote", 120, count=2)
        self.event("e4", "Rollout", "other", "Noise", "about another rollout", 10)
        r = self.ok("status", "web", "-n", "shop")
        out = r.stdout
        self.assertIn("Rollout:     shop/web\n", out)
        self.assertRegex(out, r"Phase:       Paused \(PausedForPromote: step 2 waits for a "
                              r"promote\), paused for 2m\d*s?\n")
        self.assertIn("Strategy:    Canary (replicas routing)\n", out)
        self.assertIn("Step:        2/4 [#####---------------]  25% (pause until promoted)\n", out)
        self.assertIn("Weight:      canary 25%, stable 75%\n", out)
        self.assertIn("Stable:      web-1 (1.0.0)\n", out)
        self.assertIn("Current:     web-2 (1.1.0), Paused\n", out)
        self.assertRegex(out, r"stable\s+web-stable\s+web-1\s+3/3\n")
        self.assertRegex(out, r"canary\s+web-canary\s+web-2\s+1/1\n")
        self.assertRegex(out, r"rollout/web\s+Paused\s+True\s+PausedForPromote")
        # Events: the Rollout's and the current Release's, oldest first, others left out.
        ev = out[out.index("Events:"):]
        self.assertLess(ev.index("ReleaseStarted"), ev.index("StepStarted"))
        self.assertLess(ev.index("StepStarted"), ev.index("waiting for promote"))
        self.assertIn("release/web-2", ev)
        self.assertRegex(ev, r"2m\d*s? \(x2\)")
        self.assertNotIn("Noise", ev)

    def test_status_blue_green(self):
        self.apply(BLUE_GREEN)
        self.apply(release("co-1", "checkout", "2.0.0"))
        self.apply(release("co-2", "checkout", "2.1.0"))
        self.set_status("rollouts", "checkout", {
            "phase": "Paused", "strategy": "BlueGreen", "stableRelease": "co-1",
            "currentRelease": "co-2", "canaryWeight": 0, "activeColor": "blue",
            "tracks": {
                "active": {"deployment": "checkout-blue", "release": "co-1", "replicas": 2,
                           "readyReplicas": 2},
                "preview": {"deployment": "checkout-green", "release": "co-2", "replicas": 2,
                            "readyReplicas": 1},
            },
            "conditions": [{"type": "Paused", "status": "True", "reason": "AwaitingPromotion",
                            "message": "preview ready, waiting for promote",
                            "lastTransitionTime": ts(-30)}],
        })
        out = self.ok("status", "checkout", "-n", "shop").stdout
        self.assertIn("Strategy:    BlueGreen (active Service checkout, preview Service "
                      "checkout-preview, manual promotion)\n", out)
        self.assertNotIn("Step:", out)
        self.assertIn("Weight:      preview 0%, active 100% (active color: blue)\n", out)
        self.assertRegex(out, r"active\s+checkout-blue\s+co-1\s+2/2\n")
        self.assertRegex(out, r"preview\s+checkout-green\s+co-2\s+1/2\n")
        self.assertIn("Current:     co-2 (2.1.0)", out)
        # Blue-green promotes whenever a Release is in flight.
        r = self.ok("promote", "checkout", "-n", "shop")
        self.assertIn("rollout shop/checkout: promote requested for release co-2", r.stdout)

    def test_status_invalid_spec(self):
        st = paused_status()
        st.update(phase="Degraded", currentRelease="", conditions=[
            {"type": "InvalidSpec", "status": "True", "reason": "InvalidSpec",
             "message": "spec.strategy.canary.steps[2].setWeight: must not decrease (50 after 60)",
             "lastTransitionTime": ts(-10)}])
        del st["pauseStartedAt"]
        self.set_status("rollouts", "web", st)
        out = self.ok("status", "web", "-n", "shop").stdout
        self.assertIn("Phase:       Degraded\n", out)
        self.assertIn("Current:     <none>\n", out)
        self.assertRegex(out, r"rollout/web\s+InvalidSpec\s+True\s+InvalidSpec\s+"
                              r"spec.strategy.canary.steps\[2\].setWeight: must not decrease")

    def analysis_status(self, phase="Paused", failed=False):
        metric = {"name": "error-rate", "phase": "Failed" if failed else "Running",
                  "count": 2, "failures": 2 if failed else 0, "inconclusives": 0, "errors": 0,
                  "nextAt": ts(30),
                  "measurements": [{"at": ts(-10), "result": "Fail" if failed else "Pass",
                                    "value": 0.093 if failed else 0.0125}]}
        st = {"phase": phase, "currentStep": 1,
              "message": "analysis step-2 failed: metric error-rate: 0.093 > max 0.05",
              "analysis": {"runs": [{"name": "step-2",
                                     "phase": "Failed" if failed else "Running",
                                     "message": "metric error-rate failed", "metrics": [metric]}]}}
        if failed:
            st["conditions"] = [{"type": "Succeeded", "status": "False",
                                 "reason": "AnalysisFailed", "message": "analysis failed",
                                 "lastTransitionTime": ts(-5)}]
        return st

    def test_status_shows_analysis(self):
        self.set_status("releases", "web-2", self.analysis_status())
        self.assertIn("analysis", self.get("releases", "web-2").get("status", {}),
                      "the Release CRD keeps status.analysis")
        out = self.ok("status", "web", "-n", "shop").stdout
        self.assertIn("Analysis:\n  step-2: Running\n    error-rate: Running, 2 measured, "
                      "0 failed, 0 inconclusive, 0 errors, latest 0.0125, next in ", out)
        # Rolled back: no Release in flight, the last one is fetched and its analysis shown.
        st = paused_status()
        st.update(phase="Healthy", currentRelease="", conditions=[])
        del st["pauseStartedAt"]
        st["history"].insert(0, {"release": "web-2", "version": "1.1.0", "result": "RolledBack",
                                 "startedAt": ts(-600), "finishedAt": ts(-5)})
        self.set_status("rollouts", "web", st)
        self.set_status("releases", "web-2", self.analysis_status("RolledBack", failed=True))
        out = self.ok("status", "web", "-n", "shop").stdout
        self.assertIn("Current:     <none>\nLast:        web-2 (1.1.0), RolledBack: analysis "
                      "step-2 failed: metric error-rate: 0.093 > max 0.05\n", out)
        self.assertIn("  step-2: Failed: metric error-rate failed\n  X error-rate: Failed, 2 "
                      "measured, 2 failed, 0 inconclusive, 0 errors, latest 0.093 (Fail)\n", out)

    def test_status_watch_on_a_terminal_follows_the_analysis(self):
        # Measurements change the Release, not the Rollout: a terminal is redrawn anyway (the
        # Release's message shows it; its status.analysis may not be in the CRD yet).
        import pty
        master, slave = pty.openpty()
        e = dict(os.environ)
        e.pop("KUBECONFIG", None)
        proc = subprocess.Popen([BIN, "--kubeconfig", self.sim.kubeconfig, "status", "web",
                                 "--watch", "-n", "shop"], stdout=slave, stderr=subprocess.PIPE,
                                env=e)
        os.close(slave)
        try:
            data = b""
            deadline = time.monotonic() + 30
            while b"Events:" not in data and time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    data += os.read(master, 65536)
            self.assertNotIn(b"Analysis:", data)
            self.set_status("releases", "web-2", self.analysis_status())
            deadline = time.monotonic() + 30
            want = b"Current:     web-2 (1.1.0), Paused: analysis step-2 failed"
            while want not in data and time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    data += os.read(master, 65536)
            self.assertIn(want, data)
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(30), 0, proc.stderr.read().decode())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
            proc.stderr.close()

    def test_status_watch_redraws_until_interrupted(self):
        e = dict(os.environ)
        e.pop("KUBECONFIG", None)
        proc = subprocess.Popen([BIN, "--kubeconfig", self.sim.kubeconfig, "status", "web", "-w",
                                 "-n", "shop"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=e)
        try:
            first = self._read_until(proc, "Events:")
            self.assertIn("Step:        2/4", first)
            self.assertNotIn("\033[2J", first)  # not a terminal: no clear-screen escape
            # No need to wait for the watch to be open: it starts at the resourceVersion of the
            # first page, so a change made before it opens is still delivered.
            st = paused_status()
            st.update(phase="Progressing", currentStep=2, canaryWeight=50)
            st["conditions"] = st["conditions"][1:]
            del st["pauseStartedAt"]
            self.set_status("rollouts", "web", st)
            second = self._read_until(proc, "Events:", timeout=30)
            self.assertTrue(second.startswith("---\n"), second[:40])
            self.assertIn("Phase:       Progressing\n", second)
            self.assertIn("Step:        3/4 [##########----------]  50% (setWeight 50)", second)
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(30)
            self.assertEqual(rc, 0, proc.stderr.read().decode())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def _read_until(self, proc, marker, timeout=30):
        """Reads the watch output (unbuffered, from the pipe's descriptor) until a page that
        contains marker is complete: the marker was seen and nothing more came for 0.3 s."""
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        data = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.3)
            if not r:
                if marker.encode() in data:
                    return data.decode()
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        if marker.encode() in data:
            return data.decode()
        self.fail("no %r in the watch output within %ss: %r" % (marker, timeout, data))

    def test_status_watch_resumes_after_a_dropped_watch(self):
        e = dict(os.environ)
        e.pop("KUBECONFIG", None)
        proc = subprocess.Popen([BIN, "--kubeconfig", self.sim.kubeconfig, "status", "web", "-w",
                                 "-n", "shop"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=e)
        try:
            self._read_until(proc, "Events:")
            time.sleep(0.5)  # let the watch open, so that dropping it means something
            self.sim.control("drop-watches")
            self.sim.wait_for(lambda: [x for x in self.sim.request_log()
                                       if "watch=1" in x["path"] + "?" + (x["query"] or "")
                                       or "watch=1" in (x["query"] or "")],
                              message="the first watch ended")
            st = paused_status()
            st.update(phase="Progressing", currentStep=4, canaryWeight=80)
            self.set_status("rollouts", "web", st)
            # Promptly: the re-opened watch delivers the change and the page follows (the loop
            # once slept through a change delivered from a timer until curl's next timeout).
            page = self._read_until(proc, "Events:", timeout=30)
            self.assertIn("Step:        4/4 [####################] 100% (all steps done)", page)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(30), 0, proc.stderr.read().decode())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_status_watch_on_a_terminal_clears_the_screen(self):
        import pty
        master, slave = pty.openpty()
        e = dict(os.environ)
        e.pop("KUBECONFIG", None)
        proc = subprocess.Popen([BIN, "--kubeconfig", self.sim.kubeconfig, "status", "web",
                                 "--watch", "-n", "shop"], stdout=slave, stderr=subprocess.PIPE,
                                env=e)
        os.close(slave)
        try:
            data = b""
            deadline = time.monotonic() + 30
            while b"Events:" not in data and time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    data += os.read(master, 65536)
            self.assertTrue(data.startswith(b"\x1b[H\x1b[2JRollout:     shop/web"), data[:60])
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(30), 0, proc.stderr.read().decode())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
            proc.stderr.close()

    def test_status_watch_ends_when_the_rollout_is_deleted(self):
        e = dict(os.environ)
        e.pop("KUBECONFIG", None)
        proc = subprocess.Popen([BIN, "--kubeconfig", self.sim.kubeconfig, "status", "web", "-w",
                                 "-n", "shop"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=e)
        try:
            self._read_until(proc, "Events:")
            self.sim.kubectl("delete", "rollouts.tollgate.io", "web", "-n", "shop")
            self.assertEqual(proc.wait(30), 1)
            self.assertEqual(proc.stderr.read().decode(), "error: rollout shop/web: deleted\n")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_status_without_access_to_releases_and_events(self):
        self.event("f1", "Rollout", "web", "Paused", "waiting for promote", 60)
        self.sim.clear_request_log()
        self.sim.control("faults", {"verb": "get", "path": "/releases/", "status": 403,
                                    "count": 10})
        self.sim.control("faults", {"verb": "list", "path": "/events", "status": 403,
                                    "count": 10})
        try:
            out = self.ok("status", "web", "-n", "shop").stdout
        finally:
            self.sim.control("faults", method="DELETE")
        self.assertIn("Stable:      web-1 (1.0.0)\n", out)  # the version from status.history
        self.assertIn("Current:     web-2\n", out)
        self.assertIn("Events:      <none>\n", out)
        refused = [(e["method"], e["path"]) for e in self.sim.request_log()
                   if e["status"] == 403]
        self.assertIn(("GET", API % ("shop", "releases") + "/web-2"), refused)
        self.assertIn(("GET", "/api/v1/namespaces/shop/events"), refused)

    def test_status_not_found(self):
        self.fails("status", "nope", "-n", "shop", message="rollout shop/nope: not found")

    # -- history ---------------------------------------------------------------------------
    def test_history(self):
        out = self.ok("history", "web", "-n", "shop").stdout.splitlines()
        self.assertEqual(out[0].split(), ["RELEASE", "VERSION", "RESULT", "STARTED", "FINISHED",
                                          "DURATION"])
        self.assertEqual(out[1].split(), ["web-1", "1.0.0", "Succeeded", "2026-11-20T10:00:00Z",
                                          "2026-11-20T10:12:30Z", "12m"])
        self.assertEqual(out[2].split()[0], "web-0")
        self.assertEqual(out[2].split()[5], "5m")

    # -- promote ---------------------------------------------------------------------------
    def test_promote_writes_a_fresh_token_each_time(self):
        before = self.get("rollouts", "web")
        self.sim.clear_request_log()
        r1 = self.ok("promote", "web", "-n", "shop")
        t1 = self.annotations("rollouts", "web")["tollgate.io/promote"]
        self.assertRegex(t1, TOKEN_RE)
        self.assertEqual(r1.stdout, "rollout shop/web: promote requested for release web-2 "
                                    "(token %s)\n" % t1)
        r2 = self.ok("promote", "web", "-n", "shop")
        t2 = self.annotations("rollouts", "web")["tollgate.io/promote"]
        self.assertNotEqual(t1, t2)
        self.assertIn(t2, r2.stdout)
        after = self.get("rollouts", "web")
        self.assertEqual(after["spec"], before["spec"])
        self.assertEqual(after["metadata"]["generation"], before["metadata"]["generation"])
        self.assertEqual(after["status"], before["status"])
        writes = self.writes()
        self.assertEqual([(w["method"], w["path"]) for w in writes],
                         [("PATCH", API % ("shop", "rollouts") + "/web")] * 2)

    def test_promote_full(self):
        self.ok("promote", "web", "--full", "-n", "shop")
        ann = self.annotations("rollouts", "web")
        self.assertRegex(ann["tollgate.io/promote-full"], TOKEN_RE)
        self.assertNotIn("tollgate.io/promote", ann)

    def test_promote_nothing_in_flight(self):
        st = paused_status()
        st.update(phase="Healthy", currentRelease="", currentStep=4, canaryWeight=0)
        self.set_status("rollouts", "web", st)
        self.fails("promote", "web", "-n", "shop",
                   message="rollout shop/web: nothing to promote: no Release in flight")
        self.fails("promote", "web", "--full", "-n", "shop", message="nothing to promote")
        self.assertNotIn("tollgate.io/promote", self.annotations("rollouts", "web"))

    def test_promote_not_paused(self):
        st = paused_status()
        st.update(phase="Progressing", currentStep=2)
        self.set_status("rollouts", "web", st)
        self.fails("promote", "web", "-n", "shop", message="release web-2 is not paused")

    # -- abort -----------------------------------------------------------------------------
    def test_abort_annotates_the_release_in_flight(self):
        self.sim.clear_request_log()
        r = self.ok("abort", "web", "-n", "shop")
        token = self.annotations("releases", "web-2")["tollgate.io/abort"]
        self.assertRegex(token, TOKEN_RE)
        self.assertEqual(r.stdout, "rollout shop/web: abort requested for release web-2 "
                                   "(token %s)\n" % token)
        self.assertNotIn("tollgate.io/abort", self.annotations("rollouts", "web"))
        self.assertEqual([(w["method"], w["path"]) for w in self.writes()],
                         [("PATCH", API % ("shop", "releases") + "/web-2")])

    def test_abort_nothing_in_flight(self):
        st = paused_status()
        st.update(phase="Healthy", currentRelease="")
        self.set_status("rollouts", "web", st)
        self.fails("abort", "web", "-n", "shop", message="nothing to abort: no Release in flight")

    def test_abort_finished_release(self):
        self.set_status("releases", "web-2", {"phase": "RolledBack"})
        self.fails("abort", "web", "-n", "shop", message="release web-2 is already RolledBack")

    # -- retry -----------------------------------------------------------------------------
    def test_retry_the_latest_aborted_release(self):
        self.set_status("releases", "web-2", {"phase": "RolledBack"})
        st = paused_status()
        st.update(phase="Healthy", currentRelease="")
        self.set_status("rollouts", "web", st)
        r = self.ok("retry", "web", "-n", "shop")
        token = self.annotations("releases", "web-2")["tollgate.io/retry"]
        self.assertRegex(token, TOKEN_RE)
        self.assertIn("retry requested for release web-2 (token %s)" % token, r.stdout)
        self.ok("retry", "web", "-n", "shop")
        self.assertNotEqual(self.annotations("releases", "web-2")["tollgate.io/retry"], token)

    def test_retry_refused_when_latest_is_not_aborted(self):
        self.fails("retry", "web", "-n", "shop",
                   message="nothing to retry: the latest release web-2 is Paused")
        self.assertNotIn("tollgate.io/retry", self.annotations("releases", "web-2"))

    # -- rollback --------------------------------------------------------------------------
    def test_rollback_to_previous(self):
        self.apply({**ROLLOUT, "metadata": {**ROLLOUT["metadata"],
                                            "annotations": {"tollgate.io/rollback-to": "web-9"}}})
        r = self.ok("rollback", "web", "-n", "shop")
        ann = self.annotations("rollouts", "web")
        self.assertRegex(ann["tollgate.io/rollback"], TOKEN_RE)
        self.assertNotIn("tollgate.io/rollback-to", ann)  # a stale target is cleared
        self.assertIn("rollback requested (token", r.stdout)

    def test_rollback_to_named(self):
        r = self.ok("rollback", "web", "--to", "web-0", "-n", "shop")
        ann = self.annotations("rollouts", "web")
        self.assertEqual(ann["tollgate.io/rollback-to"], "web-0")
        self.assertRegex(ann["tollgate.io/rollback"], TOKEN_RE)
        self.assertIn("rollback to release web-0 requested", r.stdout)

    def test_rollback_refusals(self):
        self.fails("rollback", "web", "--to=web-2", "-n", "shop",
                   message="cannot roll back to release web-2: it is Paused, not Succeeded")
        self.fails("rollback", "web", "--to", "web-7", "-n", "shop",
                   message="release web-7 not found")
        self.apply(BLUE_GREEN)
        self.apply(release("co-1", "checkout", "2.0.0"))
        self.set_status("releases", "co-1", {"phase": "Succeeded"})
        self.fails("rollback", "web", "--to", "co-1", "-n", "shop",
                   message="release co-1 belongs to rollout checkout, not web")
        self.assertNotIn("tollgate.io/rollback", self.annotations("rollouts", "web"))

    def test_rollback_without_target(self):
        st = paused_status()
        st["history"] = st["history"][:1]
        self.set_status("rollouts", "web", st)
        self.set_status("releases", "web-0", {"phase": "Superseded"})
        self.fails("rollback", "web", "-n", "shop", message="nothing to roll back to")

    # -- command line ----------------------------------------------------------------------
    def test_bad_input(self):
        self.fails("frobnicate", "web", message='unknown command "frobnicate"')
        self.fails("promote", "web", "--fulll", message="unknown flag: --fulll")
        self.fails("status", "web", "--full", message="unknown flag for status: --full")
        self.fails("promote", message="promote: missing the rollout's name")
        self.fails("abort", "a", "b", message="abort: too many arguments: b")
        self.fails("list", "-n", message="flag --namespace needs a value")

    def test_help(self):
        for verb in ("status", "list", "promote", "abort", "retry", "rollback", "history"):
            r = self.ok(verb, "--help")
            self.assertTrue(r.stdout.startswith("Usage: kubectl tollgate " + verb), r.stdout)
        r = self.ok("--help")
        self.assertIn("rollback <rollout> [--to <r>]", r.stdout)

    def test_api_error_message(self):
        # A token the server refuses: the server's own message, one line, non-zero.
        with tempfile.TemporaryDirectory() as d:
            with open(self.sim.kubeconfig) as f:
                kc = json.load(f)
            kc["users"][0]["user"]["token"] = "wrong"
            path = os.path.join(d, "kc")
            with open(path, "w") as f:
                json.dump(kc, f)
            r = subprocess.run([BIN, "--kubeconfig", path, "list", "-n", "shop"],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("Unauthorized", r.stderr)

    def test_server_refusal_is_reported(self):
        self.sim.control("faults", {"verb": "patch", "path": "/rollouts/web$", "status": 403,
                                    "message": "rollouts.tollgate.io \"web\" is forbidden: "
                                               "user cannot patch"})
        try:
            self.fails("promote", "web", "-n", "shop",
                       message='rollout shop/web: rollouts.tollgate.io "web" is forbidden: '
                               'user cannot patch')
        finally:
            self.sim.control("faults", method="DELETE")
        self.assertNotIn("tollgate.io/promote", self.annotations("rollouts", "web"))

    def test_as_kubectl_plugin(self):
        with tempfile.TemporaryDirectory() as d:
            os.symlink(os.path.abspath(BIN), os.path.join(d, "kubectl-tollgate"))
            env = dict(os.environ)
            env["PATH"] = d + os.pathsep + env.get("PATH", "")
            env["KUBECONFIG"] = self.sim.kubeconfig
            env["KUBECACHEDIR"] = os.path.join(d, "cache")
            r = subprocess.run(["kubectl", "tollgate", "list", "-n", "shop"], capture_output=True,
                               text=True, timeout=60, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"\nweb\s+Canary\s+Paused\s+2/4\s+25%")
            r = subprocess.run(["kubectl", "tollgate", "promote", "web", "-n", "shop"],
                               capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(self.annotations("rollouts", "web")["tollgate.io/promote"], TOKEN_RE)
            r = subprocess.run(["kubectl", "tollgate", "abort", "nope", "-n", "shop"],
                               capture_output=True, text=True, timeout=60, env=env)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("rollout shop/nope: not found", r.stderr)


class CliWithoutCrdsTest(unittest.TestCase):
    """A cluster where tollgate is not installed: the CLI says so instead of "not found"."""

    def test_missing_crds(self):
        if not BIN:
            self.skipTest("KUBECTL_TOLLGATE_BIN is not set")
        with Kubesim() as sim:
            for args in (["list"], ["status", "web"], ["promote", "web"]):
                r = subprocess.run([BIN, "--kubeconfig", sim.kubeconfig, *args],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("the tollgate CRDs (rollouts.tollgate.io) are not installed",
                              r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main()
