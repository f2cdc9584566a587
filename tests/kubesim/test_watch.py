"""kubesim watch semantics: resourceVersion unset/"0"/specific, selectors (objects moving in
and out of a selector), bookmarks, timeoutSeconds, chunked JSON lines, 410 Gone after the
history window (in a watch as an ERROR event; for Exact lists and continue tokens as a 410
Status), drop-watches, legacy /watch/ paths, and `kubectl get --watch`."""

from harness import Kubesim

import json
import subprocess
import time
import unittest

NS = "/api/v1/namespaces/default"


def cm(name, labels=None, data="v"):
    m = {"name": name}
    if labels:
        m["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m, "data": {"k": data}}


def read_events(resp, n):
    """Read n watch events (each one JSON line)."""
    out = []
    while len(out) < n:
        line = resp.readline()
        if not line:
            raise AssertionError("stream ended after %d events: %r" % (len(out), out))
        out.append(json.loads(line))
    return out


class WatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim(extra_args=["--bookmark-interval", "0.3"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def create(self, obj):
        status, _, body = self.k.request("POST", NS + "/configmaps", obj)
        self.assertEqual(status, 201, body)
        return body

    def put(self, obj):
        status, _, body = self.k.request("PUT", NS + "/configmaps/" + obj["metadata"]["name"], obj)
        self.assertEqual(status, 200, body)
        return body

    def watch(self, query, timeout=10):
        return self.k.open_stream(NS + "/configmaps?watch=1&" + query, timeout=timeout)

    def test_unset_resource_version_starts_with_current_state(self):
        self.create(cm("wu-a", {"wu": "1"}))
        with self.watch("labelSelector=wu%3D1") as s:
            self.assertEqual(s.headers["Transfer-Encoding"], "chunked")
            self.assertEqual(s.headers["Content-Type"], "application/json")
            ev = read_events(s, 1)[0]
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "wu-a"))
            self.assertEqual((ev["object"]["kind"], ev["object"]["apiVersion"]), ("ConfigMap", "v1"))
            b = self.create(cm("wu-b", {"wu": "1"}))
            b["data"] = {"k": "changed"}
            b = self.put(b)
            self.k.request("DELETE", NS + "/configmaps/wu-b")
            evs = read_events(s, 3)
            self.assertEqual([e["type"] for e in evs], ["ADDED", "MODIFIED", "DELETED"])
            self.assertEqual(evs[1]["object"]["data"], {"k": "changed"})
            rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
            self.assertEqual(rvs, sorted(rvs))
            self.assertGreater(rvs[2], int(b["metadata"]["resourceVersion"]),
                               "DELETED carries the deletion's resourceVersion")

    def test_resource_version_zero_starts_with_current_state(self):
        self.create(cm("wz-a", {"wz": "1"}))
        with self.watch("labelSelector=wz%3D1&resourceVersion=0") as s:
            ev = read_events(s, 1)[0]
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "wz-a"))

    def test_specific_resource_version_replays_later_events_only(self):
        a = self.create(cm("ws-a", {"ws": "1"}))
        rv = a["metadata"]["resourceVersion"]
        a["data"] = {"k": "2"}
        self.put(a)
        self.create(cm("ws-b", {"ws": "1"}))
        with self.watch("labelSelector=ws%3D1&resourceVersion=" + rv) as s:
            evs = read_events(s, 2)
            self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                             [("MODIFIED", "ws-a"), ("ADDED", "ws-b")])

    def test_objects_moving_across_a_label_selector(self):
        a = self.create(cm("wm-a", {"wm": "in"}))
        with self.watch("labelSelector=wm%3Din&resourceVersion=" + a["metadata"]["resourceVersion"]) as s:
            self.k.kubectl("label", "cm", "wm-a", "wm=out", "--overwrite")
            ev = read_events(s, 1)[0]
            self.assertEqual(ev["type"], "DELETED", "leaving the selector is a DELETED event")
            self.assertEqual(ev["object"]["metadata"]["labels"]["wm"], "out")
            self.k.kubectl("label", "cm", "wm-a", "wm=in", "--overwrite")
            ev = read_events(s, 1)[0]
            self.assertEqual(ev["type"], "ADDED", "entering the selector is an ADDED event")

    def test_removing_the_last_finalizer_is_one_deleted_event(self):
        obj = cm("wfin", {"wfin": "1"})
        obj["metadata"]["finalizers"] = ["example.com/x"]
        a = self.create(obj)
        with self.watch("labelSelector=wfin%3D1&resourceVersion=" + a["metadata"]["resourceVersion"]) as s:
            self.k.request("DELETE", NS + "/configmaps/wfin")
            ev = read_events(s, 1)[0]
            self.assertEqual(ev["type"], "MODIFIED")
            self.assertIn("deletionTimestamp", ev["object"]["metadata"])
            self.k.kubectl("patch", "cm", "wfin", "--type=json",
                           "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
            ev = read_events(s, 1)[0]
            self.assertEqual(ev["type"], "DELETED")
            self.assertNotIn("finalizers", ev["object"]["metadata"])

    def test_field_selector_watch(self):
        self.create(cm("wf-1"))
        self.create(cm("wf-2"))
        with self.watch("fieldSelector=metadata.name%3Dwf-2") as s:
            ev = read_events(s, 1)[0]
            self.assertEqual(ev["object"]["metadata"]["name"], "wf-2")
            self.k.kubectl("label", "cm", "wf-1", "x=y")
            self.k.kubectl("label", "cm", "wf-2", "x=y")
            ev = read_events(s, 1)[0]
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("MODIFIED", "wf-2"))

    def test_bookmarks(self):
        self.create(cm("wb-a", {"wb": "1"}))
        with self.watch("labelSelector=wb%3D1&allowWatchBookmarks=true") as s:
            evs = read_events(s, 2)
            self.assertEqual(evs[0]["type"], "ADDED")
            bm = evs[1]
            self.assertEqual(bm["type"], "BOOKMARK")
            self.assertEqual(bm["object"]["kind"], "ConfigMap")
            self.assertEqual(set(bm["object"]["metadata"]), {"resourceVersion", "creationTimestamp"})
            self.assertGreaterEqual(int(bm["object"]["metadata"]["resourceVersion"]),
                                    int(evs[0]["object"]["metadata"]["resourceVersion"]))
        with self.watch("labelSelector=wb%3D1") as s:
            read_events(s, 1)
            s.fp.raw._sock.settimeout(1.0)
            with self.assertRaises(OSError, msg="no bookmarks unless asked for"):
                s.readline()

    def test_send_initial_events_ends_with_annotated_bookmark(self):
        self.create(cm("wi-a", {"wi": "1"}))
        with self.watch("labelSelector=wi%3D1&sendInitialEvents=true&allowWatchBookmarks=true"
                        "&resourceVersionMatch=NotOlderThan&resourceVersion=") as s:
            evs = read_events(s, 2)
            self.assertEqual(evs[0]["type"], "ADDED")
            self.assertEqual(evs[1]["type"], "BOOKMARK")
            self.assertEqual(evs[1]["object"]["metadata"]["annotations"],
                             {"k8s.io/initial-events-end": "true"})

    def test_timeout_seconds_ends_the_stream(self):
        start = time.monotonic()
        with self.watch("labelSelector=none%3D1&timeoutSeconds=1") as s:
            self.assertEqual(s.read(), b"")
        self.assertLess(time.monotonic() - start, 5)

    def test_drop_watches_closes_streams_cleanly(self):
        with self.watch("labelSelector=none%3D2") as s:
            time.sleep(0.2)
            self.k.control("drop-watches")
            self.assertEqual(s.read(), b"", "the stream ends with the terminating chunk")

    def test_legacy_watch_path_for_one_object(self):
        self.create(cm("wl-a"))
        self.create(cm("wl-b"))
        with self.k.open_stream(NS.replace("/api/v1/", "/api/v1/watch/") + "/configmaps/wl-a",
                                timeout=10) as s:
            ev = read_events(s, 1)[0]
            self.assertEqual(ev["object"]["metadata"]["name"], "wl-a")
            self.k.kubectl("label", "cm", "wl-b", "x=y")
            self.k.kubectl("label", "cm", "wl-a", "x=y")
            ev = read_events(s, 1)[0]
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("MODIFIED", "wl-a"))

    def test_list_at_exact_resource_version_shows_the_past(self):
        a = self.create(cm("we-a", data="old"))
        rv = a["metadata"]["resourceVersion"]
        a["data"] = {"k": "new"}
        self.put(a)
        status, _, body = self.k.request(
            "GET", NS + "/configmaps?resourceVersion=%s&resourceVersionMatch=Exact" % rv)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["metadata"]["resourceVersion"], rv)
        old = [i for i in body["items"] if i["metadata"]["name"] == "we-a"]
        self.assertEqual(old[0]["data"], {"k": "old"})

    def test_list_resource_version_too_large(self):
        _, _, body = self.k.request("GET", NS + "/configmaps")
        future = int(body["metadata"]["resourceVersion"]) + 100000
        status, _, body = self.k.request("GET", NS + "/configmaps?resourceVersion=%d" % future)
        self.assertEqual((status, body["reason"]), (504, "Timeout"))
        self.assertIn("Too large resource version", body["message"])

    def test_watch_from_a_future_resource_version_times_out(self):
        _, _, body = self.k.request("GET", NS + "/configmaps")
        future = int(body["metadata"]["resourceVersion"]) + 100000
        with self.watch("resourceVersion=%d" % future) as s:
            ev = read_events(s, 1)[0]
            self.assertEqual(ev["type"], "ERROR")
            self.assertEqual((ev["object"]["code"], ev["object"]["reason"]), (504, "Timeout"))
            self.assertIn("Too large resource version", ev["object"]["message"])

    def test_kubectl_get_watch(self):
        self.create(cm("wk-a", {"wk": "1"}))
        p = subprocess.Popen(["kubectl", "--kubeconfig", self.k.kubeconfig, "get", "cm", "-l", "wk=1",
                              "--watch", "--output-watch-events"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline().split(), ["EVENT", "NAME", "DATA", "AGE"])
            self.assertEqual(p.stdout.readline().split()[:3], ["ADDED", "wk-a", "1"])
            self.k.kubectl("label", "cm", "wk-a", "z=1")
            self.assertEqual(p.stdout.readline().split()[:2], ["MODIFIED", "wk-a"])
            self.k.kubectl("delete", "cm", "wk-a")
            self.assertEqual(p.stdout.readline().split()[:2], ["DELETED", "wk-a"])
        finally:
            p.kill()
            p.communicate()


class GoneTest(unittest.TestCase):
    """A short history window (--watch-history 5): older resourceVersions are gone."""

    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim(watch_history=5).start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def churn(self, prefix, n):
        for i in range(n):
            self.k.request("POST", NS + "/configmaps", cm("%s-%d" % (prefix, i), {"g": prefix}))

    def test_watch_from_compacted_resource_version_is_an_error_event(self):
        _, _, body = self.k.request("GET", NS + "/configmaps")
        rv = body["metadata"]["resourceVersion"]
        self.churn("gw", 8)
        with self.k.open_stream(NS + "/configmaps?watch=1&resourceVersion=" + rv, timeout=10) as s:
            self.assertEqual(s.status, 200)
            ev = read_events(s, 1)[0]
            self.assertEqual(ev["type"], "ERROR")
            self.assertEqual((ev["object"]["kind"], ev["object"]["code"], ev["object"]["reason"]),
                             ("Status", 410, "Expired"))
            self.assertIn("too old resource version: %s" % rv, ev["object"]["message"])
            self.assertEqual(s.read(), b"", "the watch ends after the error")

    def test_exact_list_from_compacted_resource_version_is_gone(self):
        _, _, body = self.k.request("GET", NS + "/configmaps")
        rv = body["metadata"]["resourceVersion"]
        self.churn("ge", 8)
        status, _, body = self.k.request(
            "GET", NS + "/configmaps?resourceVersion=%s&resourceVersionMatch=Exact" % rv)
        self.assertEqual((status, body["reason"]), (410, "Expired"))
        self.assertEqual(body["message"], "The resourceVersion for the provided list is too old.")

    def test_expired_continue_token_is_gone(self):
        self.churn("gc", 3)
        status, _, body = self.k.request("GET", NS + "/configmaps?labelSelector=g%3Dgc&limit=1")
        cont = body["metadata"]["continue"]
        self.churn("gc2", 8)
        status, _, body = self.k.request(
            "GET", NS + "/configmaps?labelSelector=g%3Dgc&limit=1&continue=" + cont)
        self.assertEqual((status, body["reason"]), (410, "Expired"))
        self.assertIn("The provided continue parameter is too old", body["message"])


if __name__ == "__main__":
    unittest.main()
