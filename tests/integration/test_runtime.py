"""The Kubernetes runtime (operator/kube, operator/server) end to end: tollgate-probe, a small
operator built on it (tests/integration/probe.c), against kubesim with TLS and a token.

Each test asserts what a user of the operator would notice: children created and updated,
status written, watches resumed without relisting, relists after 410, conflicts retried,
backoff without a busy loop, one leader at a time, clean shutdown (the probe is built with
AddressSanitizer, so exit code 0 also means no leak was found).
"""

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import Kubesim

PROBE = os.environ.get("TOLLGATE_PROBE_BIN", "")

WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.test.tollgate.io}
spec:
  group: test.tollgate.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {value: {type: string}}}
          status:
            type: object
            properties:
              observedValue: {type: string}
              observedGeneration: {type: integer}
"""

WIDGETS = "/apis/test.tollgate.io/v1/namespaces/default/widgets"


def widget(name, value):
    return json.dumps({"apiVersion": "test.tollgate.io/v1", "kind": "Widget",
                       "metadata": {"name": name, "namespace": "default"},
                       "spec": {"value": value}})


class Probe:
    """One tollgate-probe process: started, read, signalled, reaped."""

    def __init__(self, sim, *args):
        self.sim = sim
        self.err = tempfile.NamedTemporaryFile(prefix="probe-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([PROBE, "--kubeconfig", sim.kubeconfig, "--port", "0",
                                      *args], stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening "):
            self.proc.kill()
            raise AssertionError("probe did not start: %r\n%s" % (line, self.log()))
        self.port = int(line.split()[1])

    def log(self):
        with open(self.err.name) as f:
            return f.read()

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=30) as r:
            return r.status, r.read().decode()

    def metric(self, name, labels=""):
        """The value of one series in /metrics, or None."""
        _, text = self.get("/metrics")
        series = name + ("{%s}" % labels if labels else "")
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals the probe and returns (exit code, seconds it took to exit)."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("probe did not exit within %ss\n%s" % (timeout, self.log()))
        self.proc.stdout.close()
        return rc, time.monotonic() - t0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.proc.stdout.closed:
            self.proc.stdout.close()
        self.err.close()
        os.unlink(self.err.name)


@unittest.skipUnless(PROBE, "TOLLGATE_PROBE_BIN is not set (run through ctest)")
class RuntimeTest(unittest.TestCase):
    watch_history = None

    def setUp(self):
        self.sim = Kubesim(tls=True, token="runtime-token", watch_history=self.watch_history)
        self.sim.start()
        self.sim.kubectl("apply", "-f", "-", input=WIDGET_CRD)
        self.probes = []

    def tearDown(self):
        for p in self.probes:
            p.close()
        self.sim.stop()

    def probe(self, *args):
        p = Probe(self.sim, *args)
        self.probes.append(p)
        return p

    def create_widget(self, name, value):
        status, _, body = self.sim.request("POST", WIDGETS, json.loads(widget(name, value)))
        self.assertEqual(status, 201, body)

    def get_json(self, path):
        status, _, body = self.sim.request("GET", path)
        return body if status == 200 else None

    def child_value(self, name):
        cm = self.get_json("/api/v1/namespaces/default/configmaps/%s-child" % name)
        return cm and cm.get("data", {}).get("value")

    def observed(self, name):
        w = self.get_json(WIDGETS + "/" + name)
        return w and w.get("status", {}).get("observedValue")

    def converged(self, name, value):
        return self.child_value(name) == value and self.observed(name) == value

    def requests(self, verb, path_re):
        return [r for r in self.sim.request_log()
                if r["verb"] == verb and re.search(path_re, r["path"])]


class Basics(RuntimeTest):
    def test_informers_see_create_update_delete(self):
        self.create_widget("w1", "one")
        p = self.probe()
        self.sim.wait_for(lambda: self.converged("w1", "one"), message="initial sync")
        cm = self.get_json("/api/v1/namespaces/default/configmaps/w1-child")
        owner = cm["metadata"]["ownerReferences"][0]
        self.assertEqual((owner["kind"], owner["name"], owner["controller"]),
                         ("Widget", "w1", True))
        # An update of the primary kind reaches the reconciler.
        self.sim.kubectl("patch", "widget", "w1", "--type=merge", "-p",
                         '{"spec":{"value":"two"}}')
        self.sim.wait_for(lambda: self.converged("w1", "two"), message="update")
        # A delete of an owned child enqueues its owner, which makes it again.
        self.sim.kubectl("delete", "configmap", "w1-child")
        self.sim.wait_for(lambda: self.child_value("w1") == "two", message="child re-created")
        # A new object after the initial list arrives through the watch.
        self.create_widget("w2", "fresh")
        self.sim.wait_for(lambda: self.converged("w2", "fresh"), message="watch add")
        events = self.sim.kubectl("get", "events", "-o", "json").stdout
        self.assertIn('"reason": "Synced"', events)
        self.assertEqual(p.get("/healthz"), (200, "ok\n"))
        self.assertEqual(p.get("/readyz"), (200, "ok: leading\n"))
        self.assertEqual(p.metric("tollgate_cache_synced", 'resource="widgets"'), 1)
        # Two widgets: too few to train a dictionary, so their text is held as it is.
        text = p.metric("tollgate_cache_text_bytes", 'resource="widgets"')
        self.assertGreater(text, 100)
        self.assertEqual(p.metric("tollgate_cache_stored_bytes", 'resource="widgets"'), text)
        self.assertEqual(p.metric("tollgate_leader"), 1)
        self.assertGreaterEqual(
            p.metric("tollgate_reconcile_total", 'controller="widget",result="success"'), 3)
        rc, took = p.stop()
        self.assertEqual(rc, 0, p.log())
        # prompt (no watch timeout waited for), with room for a loaded machine
        self.assertLess(took, 5.0)

    def test_converged_reconciles_write_nothing(self):
        self.create_widget("w1", "steady")
        p = self.probe()
        self.sim.wait_for(lambda: self.converged("w1", "steady"))
        time.sleep(0.3)
        self.sim.clear_request_log()
        # A change to metadata only wakes the reconciler, which finds nothing to do.
        self.sim.kubectl("label", "widget", "w1", "touched=yes")
        self.sim.wait_for(lambda: p.metric("tollgate_workqueue_adds_total",
                                           'controller="widget"') >= 3)
        time.sleep(0.5)
        writes = [r for r in self.sim.request_log()
                  if r["verb"] in ("create", "update", "patch", "delete")
                  and "userAgent" in r and "kubectl" not in (r["userAgent"] or "")]
        self.assertEqual(writes, [])

    def test_dropped_watch_resumes_without_relist(self):
        self.create_widget("w1", "a")
        p = self.probe()
        self.sim.wait_for(lambda: self.converged("w1", "a"))
        lists_before = len(self.requests("list", "widgets"))
        self.sim.control("drop-watches")
        self.sim.wait_for(lambda: p.metric("tollgate_watch_restarts_total",
                                           'resource="widgets"') >= 1)
        self.sim.kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"value":"b"}}')
        self.sim.wait_for(lambda: self.converged("w1", "b"))
        self.assertEqual(len(self.requests("list", "widgets")), lists_before)
        resumed = [r for r in self.requests("watch", "widgets")][-1]
        self.assertRegex(resumed["query"], r"resourceVersion=[1-9]")
        self.assertEqual(p.metric("tollgate_relists_total", 'resource="widgets"'), 0)

    def test_status_conflict_is_reread_and_retried(self):
        self.sim.control("faults", {"verb": "update", "path": "widgets/w1/status",
                                    "status": 409, "count": 1})
        self.create_widget("w1", "x")
        self.probe()
        self.sim.wait_for(lambda: self.converged("w1", "x"))
        puts = self.requests("update", "widgets/w1/status")
        self.assertEqual([r["status"] for r in puts], [409, 200])
        gets = self.requests("get", "widgets/w1$")
        self.assertGreaterEqual(len(gets), 1, "the conflict must be followed by a re-read")

    def test_bursts_of_429_and_500_back_off_and_converge(self):
        self.sim.control("faults", {"verb": "create", "path": "configmaps", "status": 429,
                                    "count": 3, "retryAfter": 1})
        self.sim.control("faults", {"verb": "update", "path": "widgets/w1/status",
                                    "status": 500, "count": 4})
        self.create_widget("w1", "x")
        t0 = time.monotonic()
        self.probe()
        self.sim.wait_for(lambda: self.converged("w1", "x"), timeout=30)
        took = time.monotonic() - t0
        creates = self.requests("create", "configmaps")
        self.assertEqual([r["status"] for r in creates], [429, 429, 429, 201])
        # Three Retry-After: 1 answers were honoured: at least ~3 s passed, with no busy loop.
        self.assertGreaterEqual(took, 2.5)
        codes = [r["status"] for r in self.requests("update", "widgets/w1/status")]
        self.assertEqual(codes.count(500), 4, codes)
        self.assertIn(200, codes)
        # A later reconcile may race the cache and meet a 409 it resolves, but never loops.
        self.assertLessEqual(len(codes), 8, "5xx retries must be bounded: %r" % codes)


class Relist(RuntimeTest):
    watch_history = 5

    def test_410_relists(self):
        self.create_widget("w1", "a")
        p = self.probe()
        self.sim.wait_for(lambda: self.converged("w1", "a"))
        # Keep the probe's widget watch away while the history window moves on, so that it must
        # resume from a resourceVersion the server has forgotten.
        self.sim.control("faults", {"verb": "watch", "path": "widgets", "status": 503,
                                    "count": 1})
        self.sim.control("drop-watches")
        for i in range(12):
            self.sim.kubectl("create", "configmap", "noise-%d" % i)
        self.sim.wait_for(lambda: p.metric("tollgate_relists_total", 'resource="widgets"') >= 1,
                          message="no relist after 410")
        self.sim.kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"value":"b"}}')
        self.sim.wait_for(lambda: self.converged("w1", "b"))


class LeaderElection(RuntimeTest):
    ARGS = ("--leader-elect", "--lease-name", "probe-leader", "--lease-ms", "3000",
            "--renew-ms", "2000", "--retry-ms", "500")

    def lease(self):
        return self.get_json(
            "/apis/coordination.k8s.io/v1/namespaces/default/leases/probe-leader")

    def test_one_leader_and_handover_within_lease_duration(self):
        a = self.probe(*self.ARGS, "--identity", "probe-a")
        self.sim.wait_for(lambda: a.metric("tollgate_leader") == 1)
        b = self.probe(*self.ARGS, "--identity", "probe-b")
        self.sim.wait_for(lambda: b.metric("tollgate_cache_synced", 'resource="widgets"') == 1)
        time.sleep(1.5)
        self.assertEqual((a.metric("tollgate_leader"), b.metric("tollgate_leader")), (1, 0))
        self.assertEqual(b.get("/readyz"), (200, "ok: standing by\n"))
        self.assertEqual(self.lease()["spec"]["holderIdentity"], "probe-a")
        # The stand-by does no work.
        self.create_widget("w1", "only-the-leader")
        self.sim.wait_for(lambda: self.converged("w1", "only-the-leader"))
        writers = {r.get("userAgent") for r in self.requests("create", "configmaps")}
        self.assertEqual(len(writers), 1)
        # Kill the leader without a release: the stand-by takes over once the lease expires.
        t0 = time.monotonic()
        a.proc.kill()
        a.proc.wait()
        self.sim.wait_for(lambda: b.metric("tollgate_leader") == 1)
        took = time.monotonic() - t0
        # the lease (3 s) plus a retry (0.5 s), with room for a loaded machine
        self.assertLess(took, 3.0 + 3.0, "handover must come within the lease duration")
        self.assertEqual(self.lease()["spec"]["holderIdentity"], "probe-b")
        self.create_widget("w2", "new-leader")
        self.sim.wait_for(lambda: self.converged("w2", "new-leader"))

    def test_sigterm_releases_the_lease(self):
        a = self.probe(*self.ARGS, "--identity", "probe-a")
        self.sim.wait_for(lambda: a.metric("tollgate_leader") == 1)
        rc, took = a.stop()
        self.assertEqual(rc, 0, a.log())
        # prompt (no watch timeout waited for), with room for a loaded machine
        self.assertLess(took, 5.0)
        lease = self.lease()
        self.assertEqual(lease["spec"].get("holderIdentity", ""), "")
        self.assertIn("released the lease", a.log())


class Noop(RuntimeTest):
    def test_noop_reconciler_writes_nothing(self):
        for i in range(20):
            self.create_widget("w%d" % i, "v")
        self.sim.clear_request_log()
        p = self.probe("--noop")
        self.sim.wait_for(lambda: p.metric("tollgate_reconcile_total",
                                           'controller="widget",result="success"') == 20)
        verbs = {r["verb"] for r in self.sim.request_log()}
        self.assertIn("list", verbs)
        self.assertLessEqual(verbs, {"list", "watch"}, "a no-op reconciler must write nothing")
        rc, _ = p.stop()
        self.assertEqual(rc, 0, p.log())


if __name__ == "__main__":
    unittest.main()
