"""A second real client against kubesim: Debian's python3-kubernetes (TLS + token from the
kubeconfig kubesim writes): create/read/replace with conflicts, list with selectors and paging,
watch from a resourceVersion, watch 410 Gone, custom objects."""

from harness import Kubesim

import threading
import time
import unittest

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException


def cm(name, labels=None):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels),
                              data={"k": "v"})


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim(watch_history=50).start()
        cls.api = config.new_client_from_config(config_file=cls.k.kubeconfig)
        cls.v1 = client.CoreV1Api(cls.api)

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.k.stop()

    def test_create_read_replace_conflict(self):
        created = self.v1.create_namespaced_config_map("default", cm("py-a"))
        self.assertTrue(created.metadata.uid)
        got = self.v1.read_namespaced_config_map("py-a", "default")
        self.assertEqual(got.metadata.resource_version, created.metadata.resource_version)
        got.data = {"k": "2"}
        updated = self.v1.replace_namespaced_config_map("py-a", "default", got)
        self.assertGreater(int(updated.metadata.resource_version), int(got.metadata.resource_version))
        with self.assertRaises(ApiException) as ctx:
            self.v1.replace_namespaced_config_map("py-a", "default", got)  # stale
        self.assertEqual(ctx.exception.status, 409)
        with self.assertRaises(ApiException) as ctx:
            self.v1.create_namespaced_config_map("default", cm("py-a"))
        self.assertEqual(ctx.exception.status, 409)
        with self.assertRaises(ApiException) as ctx:
            self.v1.read_namespaced_config_map("py-none", "default")
        self.assertEqual(ctx.exception.status, 404)

    def test_list_with_selector_and_paging(self):
        for i in range(5):
            self.v1.create_namespaced_config_map("default", cm("py-page-%d" % i, {"py": "page"}))
        self.v1.create_namespaced_config_map("default", cm("py-other", {"py": "other"}))
        names, token, pages = [], None, 0
        while True:
            lst = self.v1.list_namespaced_config_map("default", label_selector="py=page", limit=2,
                                                     _continue=token)
            pages += 1
            names += [i.metadata.name for i in lst.items]
            token = lst.metadata._continue
            if not token:
                break
        self.assertEqual(names, ["py-page-%d" % i for i in range(5)])
        self.assertEqual(pages, 3)
        lst = self.v1.list_config_map_for_all_namespaces(label_selector="py in (other)")
        self.assertEqual([i.metadata.name for i in lst.items], ["py-other"])

    def test_watch_from_resource_version(self):
        lst = self.v1.list_namespaced_config_map("default", label_selector="pyw=1")
        rv = lst.metadata.resource_version

        def writer():
            time.sleep(0.3)
            self.v1.create_namespaced_config_map("default", cm("py-w", {"pyw": "1"}))
            self.v1.patch_namespaced_config_map("py-w", "default", {"data": {"k": "2"}})
            self.v1.delete_namespaced_config_map("py-w", "default")
        t = threading.Thread(target=writer)
        t.start()
        seen = []
        w = watch.Watch()
        for ev in w.stream(self.v1.list_namespaced_config_map, "default", label_selector="pyw=1",
                           resource_version=rv, timeout_seconds=10):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()
        t.join()
        self.assertEqual(seen, [("ADDED", "py-w"), ("MODIFIED", "py-w"), ("DELETED", "py-w")])

    def test_watch_timeout_ends_the_stream(self):
        start = time.monotonic()
        events = list(watch.Watch().stream(self.v1.list_namespaced_config_map, "default",
                                           label_selector="nothing=here", timeout_seconds=1))
        self.assertEqual(events, [])
        self.assertLess(time.monotonic() - start, 5)

    def test_watch_gone(self):
        lst = self.v1.list_namespaced_config_map("default")
        old = lst.metadata.resource_version
        for i in range(60):
            self.v1.create_namespaced_config_map("default", cm("py-churn-%d" % i))
        with self.assertRaises(ApiException) as ctx:
            list(watch.Watch().stream(self.v1.list_namespaced_config_map, "default",
                                      resource_version=old, timeout_seconds=5))
        self.assertEqual(ctx.exception.status, 410)

    def test_deployments_and_custom_objects(self):
        apps = client.AppsV1Api(self.api)
        apps.create_namespaced_deployment("default", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "py-d"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "py"}},
                     "template": {"metadata": {"labels": {"app": "py"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
        self.k.wait_for(lambda: (apps.read_namespaced_deployment_status("py-d", "default").status
                                 .available_replicas == 1), message="deployment available")
        ext = client.ApiextensionsV1Api(self.api)
        ext.create_custom_resource_definition({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.py.example.com"},
            "spec": {"group": "py.example.com", "scope": "Namespaced",
                     "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})
        co = client.CustomObjectsApi(self.api)
        self.k.wait_for(lambda: self.k.request("GET", "/apis/py.example.com/v1")[0] == 200,
                        message="CRD served")
        co.create_namespaced_custom_object("py.example.com", "v1", "default", "gadgets", {
            "apiVersion": "py.example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"},
            "spec": {"x": 1}})
        lst = co.list_namespaced_custom_object("py.example.com", "v1", "default", "gadgets")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["g1"])
        self.assertEqual(lst["items"][0]["kind"], "Gadget", "custom resource list items carry kind")


if __name__ == "__main__":
    unittest.main()
