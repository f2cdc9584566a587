"""kubesim's test controls: injected faults (409/429/500/503 for the next N requests matching a
Kubernetes verb and a path regex), latency, the request log, and that kubectl sees the faults as
a real server's errors."""

from harness import Kubesim

import json
import time
import unittest

NS = "/api/v1/namespaces/default"


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}


class FaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim().start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def setUp(self):
        self.k.control("faults", method="DELETE")
        self.k.control("latency", {"seconds": 0})

    def test_conflict_for_the_next_n_matching_updates(self):
        self.k.request("POST", NS + "/configmaps", cm("f409"))
        self.k.control("faults", {"verb": "update", "path": "configmaps/f409$", "status": 409, "count": 2})
        # other verbs and paths are not affected
        self.assertEqual(self.k.request("GET", NS + "/configmaps/f409")[0], 200)
        codes = []
        for _ in range(3):
            status, _, body = self.k.request("PUT", NS + "/configmaps/f409", cm("f409"))
            codes.append(status)
            if status == 409:
                self.assertEqual((body["kind"], body["reason"]), ("Status", "Conflict"))
                self.assertEqual(body["message"], 'Operation cannot be fulfilled on configmaps "f409": '
                                 'the object has been modified; please apply your changes to the '
                                 'latest version and try again')
        self.assertEqual(codes, [409, 409, 200])

    def test_too_many_requests_with_retry_after(self):
        self.k.control("faults", {"verb": "list", "path": "/configmaps$", "status": 429, "count": 1,
                                  "retryAfter": 2})
        status, headers, body = self.k.request("GET", NS + "/configmaps")
        self.assertEqual(status, 429)
        self.assertEqual(headers["retry-after"], "2")
        self.assertEqual(body["reason"], "TooManyRequests")
        self.assertEqual(body["details"]["retryAfterSeconds"], 2)
        self.assertEqual(self.k.request("GET", NS + "/configmaps")[0], 200)

    def test_kubectl_honours_retry_after(self):
        self.k.clear_request_log()
        self.k.control("faults", {"verb": "list", "path": "/configmaps$", "status": 429, "count": 1,
                                  "retryAfter": 1})
        self.k.kubectl("get", "configmaps")
        lists = [e["status"] for e in self.k.request_log()
                 if e["verb"] == "list" and e["path"].endswith("/configmaps")]
        self.assertEqual(lists, [429, 200], "client-go waited and retried")

    def test_server_errors(self):
        for code, reason in ((500, "InternalError"), (503, "ServiceUnavailable")):
            self.k.control("faults", {"verb": "*", "path": "secrets", "status": code, "count": 1})
            status, _, body = self.k.request("GET", NS + "/secrets")
            self.assertEqual((status, body["code"], body["reason"]), (code, code, reason))

    def test_kubectl_sees_injected_errors(self):
        self.k.control("faults", {"verb": "create", "path": "configmaps", "status": 500, "count": 1})
        r = self.k.kubectl("create", "configmap", "fk", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Internal error occurred", r.stderr)
        self.k.kubectl("create", "configmap", "fk")

    def test_watch_verb_faults(self):
        self.k.control("faults", {"verb": "watch", "path": "configmaps", "status": 503, "count": 1})
        self.assertEqual(self.k.request("GET", NS + "/configmaps")[0], 200, "a list is not a watch")
        status, _, _ = self.k.request("GET", NS + "/configmaps?watch=1")
        self.assertEqual(status, 503)

    def test_latency(self):
        # 2 s of latency against a bound of 1.5 s for the others: an unmatched request on a
        # machine loaded by another test run can take a few hundred milliseconds by itself
        self.k.control("latency", {"seconds": 2.0, "verb": "get", "path": "configmaps/lat$"})
        self.k.request("POST", NS + "/configmaps", cm("lat"))
        t = time.monotonic()
        self.k.request("GET", NS + "/configmaps/lat")
        self.assertGreaterEqual(time.monotonic() - t, 1.95)
        t = time.monotonic()
        self.k.request("GET", NS + "/configmaps")
        self.assertLess(time.monotonic() - t, 1.5, "only matching requests are delayed")
        self.k.control("latency", {"seconds": 0})
        t = time.monotonic()
        self.k.request("GET", NS + "/configmaps/lat")
        self.assertLess(time.monotonic() - t, 1.5)

    def test_request_log(self):
        self.k.clear_request_log()
        self.k.kubectl("create", "configmap", "logged")
        self.k.kubectl("label", "configmap", "logged", "a=b")
        self.k.kubectl("delete", "configmap", "logged")
        log = self.k.request_log()
        api = [(e["verb"], e["method"], e["path"]) for e in log if "/configmaps" in e["path"]]
        self.assertIn(("create", "POST", NS + "/configmaps"), api)
        self.assertIn(("patch", "PATCH", NS + "/configmaps/logged"), api)
        self.assertIn(("delete", "DELETE", NS + "/configmaps/logged"), api)
        entry = [e for e in log if e["method"] == "POST" and "/configmaps" in e["path"]][0]
        self.assertEqual(entry["status"], 201)
        self.assertIn("fieldValidation=Strict", entry["query"])
        self.assertTrue(entry["userAgent"].startswith("kubectl/"))
        self.assertRegex(entry["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertFalse(any(e["path"].startswith("/_kubesim") for e in log),
                         "control requests are not logged")
        self.k.clear_request_log()
        self.assertEqual(self.k.request_log(), [])

    def test_open_watches_are_in_the_request_log(self):
        self.k.clear_request_log()
        with self.k.open_stream(NS + "/configmaps?watch=1&labelSelector=x%3Dy", timeout=10):
            log = self.k.wait_for(lambda: [e for e in self.k.request_log() if e["verb"] == "watch"],
                                  message="watch logged while open")
            self.assertEqual(log[0]["status"], 200)
            self.assertIn("watch=1", log[0]["query"])

    def test_snapshot_reads_objects_at_one_instant(self):
        self.k.request("POST", NS + "/configmaps", cm("snap-a"))
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "snap-d"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "snap"}},
                        "template": {"metadata": {"labels": {"app": "snap"}},
                                     "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
        self.assertEqual(self.k.request("POST", "/apis/apps/v1/namespaces/default/deployments",
                                        dep)[0], 201)
        items = self.k.control("snapshot", {"paths": [
            NS + "/configmaps/snap-a", "/apis/apps/v1/namespaces/default/deployments/snap-d",
            NS + "/configmaps/nothing", NS + "/configmaps"]})["items"]
        self.assertEqual(len(items), 4)
        self.assertEqual(items[0]["data"], {"a": "b"})
        self.assertEqual(items[0]["metadata"]["resourceVersion"],
                         self.k.request("GET", NS + "/configmaps/snap-a")[2]["metadata"]
                         ["resourceVersion"])
        self.assertEqual(items[1]["spec"]["replicas"], 1)
        self.assertIsNone(items[2])
        self.assertIn("snap-a", [o["metadata"]["name"] for o in items[3]["items"]])
        # not a namespaced object or list: refused
        for path in ("/api/v1/nodes", "/apis/events.k8s.io/v1/namespaces/default/events"):
            status, _, body = self.k.request("POST", "/_kubesim/snapshot", {"paths": [path]})
            self.assertEqual(status, 400, body)
        self.assertEqual(self.k.request("POST", "/_kubesim/snapshot", {"paths": []})[2],
                         {"items": []})

    def test_bad_control_requests(self):
        status, _, _ = self.k.request("POST", "/_kubesim/faults", {"verb": "get"})
        self.assertEqual(status, 400)
        status, _, _ = self.k.request("POST", "/_kubesim/nothing", {})
        self.assertEqual(status, 404)


if __name__ == "__main__":
    unittest.main()
