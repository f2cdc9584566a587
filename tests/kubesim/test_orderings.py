"""kubesim's orderings (docs/kubesim.md, "Orderings"): a real kube-apiserver delivers a watch
event milliseconds after the write's response (etcd watch -> cacher -> watchers) and answers
concurrent requests on different connections in any order. With --watch-delay/--watch-jitter a
watch sees a write only after the writer has its response, events on one watch keep their order,
bookmarks never pass an event still on its way, and 410/initial events work as before; with
--request-jitter and --seed, requests sent one after the other on separate connections are
processed in the order the seeded draws dictate, not in send order. With the options off (the
default) nothing changes, and POST /_kubesim/orderings switches them at run time."""

from harness import Kubesim

import http.client
import json
import random
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

NS = "/api/v1/namespaces/default"


def cm(name, data="v", labels=None):
    m = {"name": name}
    if labels:
        m["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m, "data": {"k": data}}


class StreamReader:
    """Reads a watch stream in a thread; ``events`` holds (monotonic arrival time, event)."""

    def __init__(self, resp):
        self.resp = resp
        self.events = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                ev = json.loads(line)
                with self.lock:
                    self.events.append((time.monotonic(), ev))
        except (OSError, ValueError, AttributeError):  # AttributeError: closed meanwhile
            return

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def wait_for(self, pred, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, ev in self.snapshot():
                if pred(ev):
                    return t, ev
            time.sleep(0.01)
        raise AssertionError("no matching watch event within %ss; got %r"
                             % (timeout, [e for _, e in self.snapshot()]))

    def close(self):
        # shut the socket down first: close() alone would wait for the blocked readline
        try:
            self.resp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass
        self.thread.join(5)
        try:
            self.resp.close()
        except (OSError, AttributeError):
            pass


def name_is(name, etype=None):
    return lambda ev: ev["object"].get("metadata", {}).get("name") == name and \
        (etype is None or ev["type"] == etype)


class WatchDelayTest(unittest.TestCase):
    """--watch-delay 500: the event is seen only after the write's response, by about the delay."""

    DELAY_MS = 500

    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim(watch_delay_ms=cls.DELAY_MS, seed=1).start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def watch(self, query=""):
        return StreamReader(self.k.open_stream(NS + "/configmaps?watch=1&" + query, timeout=30))

    def test_event_arrives_after_the_response_by_the_delay(self):
        s = self.watch("labelSelector=wd%3D1")
        try:
            for i in range(3):
                name = "wd-%d" % i
                status, _, body = self.k.request("POST", NS + "/configmaps",
                                                 cm(name, labels={"wd": "1"}))
                t_resp = time.monotonic()
                self.assertEqual(status, 201, body)
                # the writer reads its own write at once (a GET is a consistent read) ...
                self.assertEqual(self.k.request("GET", NS + "/configmaps/" + name)[0], 200)
                # ... while its informer has not seen it yet
                self.assertFalse([e for _, e in s.snapshot() if name_is(name)(e)],
                                 "the watch event came before the write's response")
                t_ev, ev = s.wait_for(name_is(name, "ADDED"))
                self.assertEqual(ev["object"]["metadata"]["resourceVersion"],
                                 body["metadata"]["resourceVersion"])
                self.assertGreater(t_ev, t_resp)
                self.assertGreaterEqual(t_ev - t_resp, self.DELAY_MS / 1000.0 / 2,
                                        "event only %.3f s after the response"
                                        % (t_ev - t_resp))
        finally:
            s.close()

    def test_event_is_held_until_the_response_is_sent(self):
        """The hold itself, independent of timing: in-process, a write whose request has not
        answered yet is not delivered even long after its delay."""
        import server as kserver
        sim = kserver.KubeSim(port=0, watch_delay_ms=1)
        sim.start()
        try:
            sim.store.put(("", "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "default"}})
            s = StreamReader(urllib.request.urlopen(
                sim.url + NS + "/configmaps?watch=1&labelSelector=held%3D1", timeout=30))
            try:
                time.sleep(0.3)  # the watch is open
                sim.store.hold_begin()  # as Handler.dispatch does for a request
                sim.store.put(("", "configmaps"), {
                    "apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"},
                    "metadata": {"name": "held", "namespace": "default",
                                 "labels": {"held": "1"}, "uid": "u-held",
                                 "creationTimestamp": "2026-01-01T00:00:00Z"}})
                time.sleep(0.5)  # 500 times the delay
                self.assertEqual(s.snapshot(), [], "a held event was delivered")
                t_release = time.monotonic()
                sim.store.hold_end()  # the response was sent
                t_ev, ev = s.wait_for(name_is("held", "ADDED"))
                self.assertGreater(t_ev, t_release)
            finally:
                s.close()
        finally:
            sim.shutdown()

    def test_get_and_list_are_not_delayed(self):
        status, _, body = self.k.request("POST", NS + "/configmaps", cm("wd-list"))
        self.assertEqual(status, 201, body)
        _, _, lst = self.k.request("GET", NS + "/configmaps")
        self.assertIn("wd-list", [o["metadata"]["name"] for o in lst["items"]])

    def test_too_old_resource_version_and_initial_events_unchanged(self):
        # initial events and their end bookmark come at once (the cache's current state)
        self.k.request("POST", NS + "/configmaps", cm("wd-init", labels={"wi": "1"}))
        t0 = time.monotonic()
        s = self.watch("labelSelector=wi%3D1&sendInitialEvents=true&allowWatchBookmarks=true"
                       "&resourceVersionMatch=NotOlderThan")
        try:
            s.wait_for(name_is("wd-init", "ADDED"))
            t_bm, bm = s.wait_for(lambda ev: ev["type"] == "BOOKMARK")
            self.assertEqual(bm["object"]["metadata"]["annotations"],
                             {"k8s.io/initial-events-end": "true"})
            self.assertLess(t_bm - t0, 5)
        finally:
            s.close()


class WatchJitterOrderTest(unittest.TestCase):
    """--watch-delay 1 --watch-jitter 60: many quick writes, every watch sees them all in
    resourceVersion order; bookmarks never pass an event still on its way."""

    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim(watch_delay_ms=1, watch_jitter_ms=60, seed=7,
                        extra_args=["--bookmark-interval", "0.02"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def test_per_watch_order_is_kept(self):
        watches = [StreamReader(self.k.open_stream(
            NS + "/configmaps?watch=1&allowWatchBookmarks=true&labelSelector=wj%3D1",
            timeout=30)) for _ in range(3)]
        try:
            time.sleep(0.3)
            rvs = []
            for i in range(4):
                status, _, body = self.k.request("POST", NS + "/configmaps",
                                                 cm("wj-%d" % i, labels={"wj": "1"}))
                self.assertEqual(status, 201, body)
                rvs.append(int(body["metadata"]["resourceVersion"]))
            for n in range(40):
                name = "wj-%d" % (n % 4)
                status, _, body = self.k.request(
                    "PATCH", NS + "/configmaps/" + name, {"data": {"k": str(n)}},
                    headers={"Content-Type": "application/merge-patch+json"})
                self.assertEqual(status, 200, body)
                rvs.append(int(body["metadata"]["resourceVersion"]))
            last = str(rvs[-1])
            for w in watches:
                w.wait_for(lambda ev: ev["type"] != "BOOKMARK"
                           and ev["object"]["metadata"]["resourceVersion"] == last)
            for w in watches:
                evs = [e for _, e in w.snapshot()]
                seen = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs
                        if e["type"] != "BOOKMARK"]
                self.assertEqual(seen, rvs, "a watch saw the writes out of order or lost some")
                # a bookmark's resourceVersion never passes an event not yet delivered
                top = 0
                for e in evs:
                    rv = int(e["object"]["metadata"]["resourceVersion"])
                    if e["type"] == "BOOKMARK":
                        self.assertGreaterEqual(rv, top)
                        top = rv
                    else:
                        self.assertGreater(rv, top, "event %d after a bookmark at %d" % (rv, top))
                        top = rv
                self.assertTrue(any(e["type"] == "BOOKMARK" for e in evs))
        finally:
            for w in watches:
                w.close()

    def test_too_old_resource_version_is_still_410(self):
        k = Kubesim(watch_history=2, watch_delay_ms=5, watch_jitter_ms=20)
        with k:
            _, _, first = k.request("POST", NS + "/configmaps", cm("old-0"))
            for i in range(1, 5):
                k.request("POST", NS + "/configmaps", cm("old-%d" % i))
            with k.open_stream(NS + "/configmaps?watch=1&resourceVersion="
                               + first["metadata"]["resourceVersion"], timeout=10) as s:
                ev = json.loads(s.readline())
            self.assertEqual(ev["type"], "ERROR")
            self.assertEqual(ev["object"]["code"], 410)


class RequestJitterTest(unittest.TestCase):
    """--request-jitter 1000 --seed S: six creates sent 80 ms apart on six connections are
    processed (resourceVersions assigned) in the order of arrival + the seeded draws."""

    JITTER_MS = 1000
    SPACING = 0.08
    N = 6

    @staticmethod
    def predicted_order(seed, n, jitter_ms, spacing):
        """Processing order kubesim's seeded draws give (server.KubeSim.request_wait: the
        request draws come from random.Random("<seed>/request") in arrival order), and the
        smallest gap between two processing times."""
        rng = random.Random("%d/request" % seed)
        times = [i * spacing + rng.uniform(0, jitter_ms) / 1000.0 for i in range(n)]
        order = sorted(range(n), key=lambda i: times[i])
        gaps = sorted(times)
        return order, min(b - a for a, b in zip(gaps, gaps[1:]))

    def test_concurrent_requests_are_processed_out_of_send_order(self):
        # a seed whose processing order is far from the send order, with every two
        # processing times at least 80 ms apart, so scheduling noise cannot change the order
        seed = next(s for s in range(1, 10000)
                    if self.predicted_order(s, self.N, self.JITTER_MS, self.SPACING)[1] >= 0.08
                    and self.predicted_order(s, self.N, self.JITTER_MS, self.SPACING)[0][0] != 0)
        order, _ = self.predicted_order(seed, self.N, self.JITTER_MS, self.SPACING)
        with Kubesim(tls=False, token=None, request_jitter_ms=self.JITTER_MS, seed=seed) as k:
            self.assertEqual(k.seed, seed)
            port = int(k.url.rsplit(":", 1)[1])
            results = [None] * self.N
            conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                     for _ in range(self.N)]
            for c in conns:
                c.connect()

            def send(i):
                conns[i].request("POST", NS + "/configmaps", json.dumps(cm("rj-%d" % i)),
                                 {"Content-Type": "application/json"})
                r = conns[i].getresponse()
                results[i] = (r.status, json.loads(r.read()))

            threads = []
            for i in range(self.N):
                t = threading.Thread(target=send, args=(i,))
                t.start()
                threads.append(t)
                time.sleep(self.SPACING)
            for t in threads:
                t.join(30)
            for c in conns:
                c.close()
            for status, body in results:
                self.assertEqual(status, 201, body)
            rvs = [int(body["metadata"]["resourceVersion"]) for _, body in results]
            processed = sorted(range(self.N), key=lambda i: rvs[i])
            self.assertNotEqual(processed, list(range(self.N)))
            self.assertEqual(processed, order)
            # the request log records completion order: the same, not the send order
            log = [e["path"] for e in k.request_log() if e["method"] == "POST"]
            self.assertEqual(len(log), self.N)


class OrderingsSwitchTest(unittest.TestCase):
    """Off by default; POST /_kubesim/orderings switches them at run time; bad values -> 400."""

    def test_off_by_default_and_switchable(self):
        with Kubesim(seed=5) as k:
            o = k.control("orderings", method="GET")
            self.assertEqual(o, {"watchDelayMs": 0, "watchJitterMs": 0, "requestJitterMs": 0,
                                 "seed": 5})
            s = StreamReader(k.open_stream(NS + "/configmaps?watch=1&labelSelector=sw%3D1",
                                           timeout=30))
            try:
                def gap(name):
                    status, _, _ = k.request("POST", NS + "/configmaps",
                                             cm(name, labels={"sw": "1"}))
                    t_resp = time.monotonic()
                    self.assertEqual(status, 201)
                    t_ev, _ = s.wait_for(name_is(name))
                    return t_ev - t_resp

                time.sleep(0.2)
                self.assertLess(gap("sw-off"), 0.5)
                o = k.control("orderings", {"watchDelayMs": 1500})
                self.assertEqual(o["watchDelayMs"], 1500)
                self.assertGreater(gap("sw-on"), 0.75)
                k.control("orderings", {"watchDelayMs": 0})
                self.assertLess(gap("sw-off-again"), 0.5)
            finally:
                s.close()
            status, _, body = k.request("POST", "/_kubesim/orderings", {"watchDelay": 5})
            self.assertEqual(status, 400, body)
            status, _, body = k.request("POST", "/_kubesim/orderings", {"requestJitterMs": -1})
            self.assertEqual(status, 400, body)

    def test_command_line(self):
        import os
        here = os.path.dirname(os.path.abspath(__file__))
        r = subprocess.run([sys.executable, os.path.join(here, "kubesim.py"), "--port", "0",
                            "--kubeconfig", "/dev/null", "--watch-delay", "-1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--watch-delay must not be negative", r.stderr)
        with Kubesim(watch_delay_ms=5, watch_jitter_ms=20, request_jitter_ms=10) as k:
            self.assertIsNotNone(k.seed)  # a random seed, printed on stderr
            self.assertIn("kubesim: seed %d (watch delay 5 ms, watch jitter 20 ms, request "
                          "jitter 10 ms)" % k.seed, k.stderr_text())
            o = k.control("orderings", method="GET")
            self.assertEqual(o["seed"], k.seed)
            # kubectl works as usual with realistic orderings
            k.kubectl("create", "configmap", "cli", "--from-literal=a=b")
            self.assertEqual(k.kubectl("get", "configmap", "cli", "-o",
                                       "jsonpath={.data.a}").stdout, "b")


if __name__ == "__main__":
    unittest.main()
