"""kubesim PATCH over HTTP and kubectl: JSON merge patch, strategic merge patch for built-ins
(lists merged by their merge keys, $patch: delete), JSON patch, 415 for strategic merge on custom
resources and for non-JSON server-side apply bodies, the /status and /scale subresources, and
client-side `kubectl apply` round trips."""

from harness import Kubesim

import json
import unittest

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
NS = "/api/v1/namespaces/default"


def deployment(name, containers=None, replicas=1):
    containers = containers or [{"name": "app", "image": "nginx:1",
                                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                 "ports": [{"containerPort": 80}]}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": containers}}}}


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.patch.example.com"},
    "spec": {"group": "patch.example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {
                                   "size": {"type": "integer"},
                                   "tags": {"type": "array", "items": {"type": "string"}}}},
                               "status": {"type": "object", "properties": {
                                   "ready": {"type": "boolean"}}}}}}}]}}


class PatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim().start()
        cls.k.kubectl("apply", "-f", "-", input=json.dumps(CRD))
        cls.k.kubectl("wait", "--for=condition=Established", "crd/widgets.patch.example.com",
                      "--timeout=60s")

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def apply(self, obj):
        return self.k.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def get(self, kind, name):
        return json.loads(self.k.kubectl("get", kind, name, "-o", "json").stdout)

    def containers(self, name):
        return self.get("deployment", name)["spec"]["template"]["spec"]["containers"]

    def patch(self, path, body, ctype):
        return self.k.request("PATCH", path, json.dumps(body),
                              headers={"Content-Type": ctype})

    def test_merge_patch(self):
        self.apply(deployment("mp"))
        self.k.kubectl("patch", "deployment", "mp", "--type=merge",
                       "-p", '{"metadata":{"labels":{"a":"1","b":"2"}}}')
        self.k.kubectl("patch", "deployment", "mp", "--type=merge",
                       "-p", '{"metadata":{"labels":{"a":null}}}')
        self.assertEqual(self.get("deployment", "mp")["metadata"]["labels"], {"b": "2"})
        # a merge patch replaces lists wholesale
        self.k.kubectl("patch", "deployment", "mp", "--type=merge", "-p", json.dumps(
            {"spec": {"template": {"spec": {"containers": [{"name": "other", "image": "busybox"}]}}}}))
        self.assertEqual([c["name"] for c in self.containers("mp")], ["other"])

    def test_strategic_merge_patch_merges_lists_by_key(self):
        self.apply(deployment("smp"))
        # kubectl patch defaults to a strategic merge patch
        self.k.kubectl("patch", "deployment", "smp", "-p", json.dumps(
            {"spec": {"template": {"spec": {"containers": [
                {"name": "app", "env": [{"name": "B", "value": "changed"}]},
                {"name": "sidecar", "image": "busybox"}]}}}}))
        cs = {c["name"]: c for c in self.containers("smp")}
        self.assertEqual(set(cs), {"app", "sidecar"})
        self.assertEqual(cs["app"]["image"], "nginx:1", "the existing container keeps its fields")
        self.assertEqual({e["name"]: e["value"] for e in cs["app"]["env"]}, {"A": "1", "B": "changed"})
        self.k.kubectl("patch", "deployment", "smp", "-p", json.dumps(
            {"spec": {"template": {"spec": {"containers": [
                {"name": "sidecar", "$patch": "delete"}]}}}}))
        self.assertEqual([c["name"] for c in self.containers("smp")], ["app"])
        self.k.kubectl("patch", "deployment", "smp", "-p", json.dumps(
            {"spec": {"template": {"spec": {"containers": [
                {"name": "app", "ports": [{"containerPort": 8080}]}]}}}}))
        ports = sorted(p["containerPort"] for p in self.containers("smp")[0]["ports"])
        self.assertEqual(ports, [80, 8080], "ports merge by containerPort")

    def test_strategic_merge_patch_service_ports_by_port(self):
        self.k.kubectl("create", "service", "clusterip", "smp-svc", "--tcp=80:8080")
        self.k.kubectl("patch", "service", "smp-svc", "-p",
                       '{"spec":{"ports":[{"name":"https","port":443,"targetPort":8443}]}}')
        ports = sorted(p["port"] for p in self.get("service", "smp-svc")["spec"]["ports"])
        self.assertEqual(ports, [80, 443])

    def test_json_patch(self):
        self.apply(deployment("jp", replicas=1))
        self.k.kubectl("patch", "deployment", "jp", "--type=json", "-p", json.dumps([
            {"op": "replace", "path": "/spec/replicas", "value": 4},
            {"op": "add", "path": "/metadata/labels", "value": {"x.y": "1"}},
            {"op": "add", "path": "/metadata/annotations", "value": {"a/b": "1"}},
            {"op": "remove", "path": "/metadata/annotations/a~1b"}]))
        d = self.get("deployment", "jp")
        self.assertEqual(d["spec"]["replicas"], 4)
        self.assertEqual(d["metadata"]["labels"], {"x.y": "1"})
        self.assertNotIn("a/b", d["metadata"].get("annotations", {}))
        status, _, body = self.patch(DEPLOYS + "/jp", [{"op": "test", "path": "/spec/replicas",
                                                        "value": 99}], "application/json-patch+json")
        self.assertEqual((status, body["kind"]), (422, "Status"))
        status, _, body = self.patch(DEPLOYS + "/jp", {"op": "add"}, "application/json-patch+json")
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))

    def test_patch_errors(self):
        status, _, body = self.patch(DEPLOYS + "/absent", {"spec": {}}, "application/merge-patch+json")
        self.assertEqual((status, body["reason"]), (404, "NotFound"))
        self.apply(deployment("pe"))
        status, _, body = self.patch(DEPLOYS + "/pe", {"metadata": {"resourceVersion": "1"}},
                                     "application/merge-patch+json")
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        status, _, body = self.patch(DEPLOYS + "/pe", {"spec": {}}, "text/plain")
        self.assertEqual((status, body["reason"]), (415, "UnsupportedMediaType"))

    def test_strategic_merge_patch_on_custom_resource_is_415(self):
        self.k.kubectl("apply", "-f", "-", input=json.dumps(
            {"apiVersion": "patch.example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
             "spec": {"size": 1, "tags": ["a"]}}))
        path = "/apis/patch.example.com/v1/namespaces/default/widgets/w1"
        status, _, body = self.patch(path, {"spec": {"size": 2}}, "application/strategic-merge-patch+json")
        self.assertEqual((status, body["reason"]), (415, "UnsupportedMediaType"))
        self.assertIn("application/merge-patch+json", body["message"])
        self.assertNotIn("strategic", body["message"])
        status, _, body = self.patch(path, {"spec": {"size": 2}}, "application/merge-patch+json")
        self.assertEqual(status, 200, body)
        self.k.kubectl("patch", "widget", "w1", "--type=json",
                       "-p", '[{"op":"add","path":"/spec/tags/-","value":"b"}]')
        self.assertEqual(self.get("widget", "w1")["spec"], {"size": 2, "tags": ["a", "b"]})

    def test_custom_resource_update_needs_resource_version(self):
        self.k.kubectl("apply", "-f", "-", input=json.dumps(
            {"apiVersion": "patch.example.com/v1", "kind": "Widget", "metadata": {"name": "w3"},
             "spec": {"size": 1}}))
        path = "/apis/patch.example.com/v1/namespaces/default/widgets/w3"
        body = {"apiVersion": "patch.example.com/v1", "kind": "Widget", "metadata": {"name": "w3"},
                "spec": {"size": 2}}
        status, _, out = self.k.request("PUT", path, body)
        self.assertEqual((status, out["reason"]), (422, "Invalid"))
        self.assertIn("metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                      out["message"])
        body["metadata"]["resourceVersion"] = self.get("widget", "w3")["metadata"]["resourceVersion"]
        status, _, out = self.k.request("PUT", path, body)
        self.assertEqual(status, 200, out)
        self.assertEqual(out["metadata"]["generation"], 2)

    def test_field_validation_on_patch(self):
        self.apply(deployment("strict"))
        # kubectl patch sends no fieldValidation: the server default (Warn) drops and warns
        r = self.k.kubectl("patch", "deployment", "strict", "--type=merge",
                           "-p", '{"spec":{"replicaz":2}}')
        self.assertIn('Warning: unknown field "spec.replicaz"', r.stderr)
        self.assertNotIn("replicaz", self.get("deployment", "strict")["spec"])
        status, _, out = self.k.request(
            "PATCH", DEPLOYS + "/strict?fieldValidation=Strict", '{"spec":{"replicaz":2}}',
            headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual((status, out["reason"]), (422, "Invalid"))
        self.assertIn('strict decoding error: unknown field "spec.replicaz"', out["message"])

    def test_crd_deletion_removes_custom_objects_first(self):
        crd = json.loads(json.dumps(CRD))
        crd["metadata"]["name"] = "gizmos.patch.example.com"
        crd["spec"]["names"] = {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"}
        self.k.kubectl("apply", "-f", "-", input=json.dumps(crd))
        self.k.kubectl("wait", "--for=condition=Established", "crd/gizmos.patch.example.com")
        path = "/apis/patch.example.com/v1/namespaces/default/gizmos"
        gz = {"apiVersion": "patch.example.com/v1", "kind": "Gizmo",
              "metadata": {"name": "g1", "finalizers": ["example.com/hold"]}, "spec": {"size": 1}}
        self.assertEqual(self.k.request("POST", path, gz)[0], 201)
        self.k.kubectl("delete", "crd", "gizmos.patch.example.com", "--wait=false")
        got = self.get("crd", "gizmos.patch.example.com")
        cond = {c["type"]: c for c in got["status"]["conditions"]}["Terminating"]
        self.assertEqual((cond["status"], cond["reason"]), ("True", "InstanceDeletionInProgress"))
        self.k.wait_for(lambda: "deletionTimestamp" in self.k.request("GET", path + "/g1")[2]["metadata"],
                        message="custom object being deleted")
        gz["metadata"]["name"] = "g2"
        status, _, body = self.k.request("POST", path, gz)
        self.assertEqual((status, body["reason"]), (405, "MethodNotAllowed"))
        self.k.kubectl("patch", "gizmo", "g1", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        self.k.wait_for(lambda: self.k.request("GET", "/apis/apiextensions.k8s.io/v1/"
                                               "customresourcedefinitions/gizmos.patch.example.com")[0] == 404,
                        message="CRD gone once its objects are gone")
        self.assertEqual(self.k.request("GET", path)[0], 404)

    def test_apply_patch_bodies_and_options(self):
        """Server-side apply's request checks (the behaviour is test_server_side_apply): a YAML
        body that is not JSON is refused loudly (415, nothing created), fieldManager is required
        (422 PatchOptions), force only on apply patches."""
        path = DEPLOYS + "/ssa"
        yaml_body = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa\n"
        status, _, body = self.k.request("PATCH", path + "?fieldManager=t", yaml_body,
                                         headers={"Content-Type": "application/apply-patch+yaml"})
        self.assertEqual((status, body["reason"]), (415, "UnsupportedMediaType"))
        self.assertIn("JSON form only", body["message"])
        self.assertEqual(self.k.request("GET", path)[0], 404, "nothing was created")
        status, _, body = self.k.request("PATCH", path, json.dumps(deployment("ssa")),
                                         headers={"Content-Type": "application/apply-patch+yaml"})
        self.assertEqual((status, body["reason"]), (422, "Invalid"))
        self.assertEqual(body["message"], 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                          'Required value: is required for apply patch')
        self.assertEqual(body["details"]["causes"], [{"reason": "FieldValueRequired",
                                                      "message": "Required value: is required "
                                                                 "for apply patch",
                                                      "field": "fieldManager"}])
        status, _, body = self.k.request("PATCH", path + "?force=true", {"spec": {}},
                                         headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual((status, body["message"]),
                         (422, 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not '
                               'be specified for non-apply patch'))

    def test_status_subresource_patch(self):
        self.apply(deployment("stp", replicas=1))
        self.k.kubectl("patch", "deployment", "stp", "--subresource=status", "--type=merge",
                       "-p", '{"spec":{"replicas":9},"status":{"replicas":5}}')
        d = self.get("deployment", "stp")
        self.assertEqual(d["spec"]["replicas"], 1, "/status patches leave spec alone")
        self.k.kubectl("apply", "-f", "-", input=json.dumps(
            {"apiVersion": "patch.example.com/v1", "kind": "Widget", "metadata": {"name": "w2"},
             "spec": {"size": 1}}))
        self.k.kubectl("patch", "widget", "w2", "--subresource=status", "--type=merge",
                       "-p", '{"status":{"ready":true}}')
        w = self.get("widget", "w2")
        self.assertEqual(w["status"], {"ready": True})
        self.assertEqual(w["metadata"]["generation"], 1)
        self.k.kubectl("patch", "widget", "w2", "--type=merge", "-p", '{"status":{"ready":false}}')
        self.assertEqual(self.get("widget", "w2")["status"], {"ready": True},
                         "main-resource patches leave status alone")

    def test_scale_subresource(self):
        self.apply(deployment("sc", replicas=1))
        self.k.kubectl("scale", "deployment/sc", "--replicas=3")
        self.assertEqual(self.get("deployment", "sc")["spec"]["replicas"], 3)
        status, _, body = self.k.request("GET", DEPLOYS + "/sc/scale")
        self.assertEqual((status, body["kind"], body["spec"]["replicas"]), (200, "Scale", 3))

    def test_client_side_apply_round_trip(self):
        d = deployment("csa")
        self.apply(d)
        d2 = deployment("csa", containers=[{"name": "app", "image": "nginx:2",
                                            "env": [{"name": "A", "value": "1"}]}])
        self.apply(d2)
        c = self.containers("csa")
        self.assertEqual(len(c), 1)
        self.assertEqual(c[0]["image"], "nginx:2")
        self.assertEqual(c[0]["env"], [{"name": "A", "value": "1"}], "B was removed from the manifest")
        self.assertNotIn("ports", c[0])
        ann = self.get("deployment", "csa")["metadata"]["annotations"]
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", ann)
        r = self.apply(d2)
        self.assertIn("unchanged", r.stdout)


if __name__ == "__main__":
    unittest.main()
