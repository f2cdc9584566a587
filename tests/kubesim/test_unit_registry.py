"""Pure registry logic (no server): discovery documents, OpenAPI, tables, admission, CRDs."""

import harness

import copy
import datetime
import json
import unittest

import registry


def ts(seconds_ago):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.tollgate.example.com"},
    "spec": {
        "group": "tollgate.example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"],
                  "categories": ["tollgate"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                {"name": "Ready", "type": "string",
                 "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                {"name": "First", "type": "string", "jsonPath": ".spec.items[0].name"},
                {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled",
                 "priority": 1},
                {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "required": ["size"], "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 10},
                        "color": {"type": "string", "enum": ["red", "green"], "default": "red"},
                        "enabled": {"type": "boolean"},
                        "ratio": {"type": "number"},
                        "items": {"type": "array", "items": {"type": "object", "properties": {
                            "name": {"type": "string"}}}},
                        "extra": {"type": "object",
                                  "x-kubernetes-preserve-unknown-fields": True}}},
                    "status": {"type": "object", "properties": {"conditions": {
                        "type": "array", "items": {"type": "object", "properties": {
                            "type": {"type": "string"}, "status": {"type": "string"}}}}}}}}}}]},
}


def admitted_crd(reg, crd=None):
    crd = copy.deepcopy(crd or WIDGET_CRD)
    rt = reg.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    obj, causes, _ = reg.admit(rt, crd, None, "Strict")
    assert not causes, causes
    assert not reg.validate_crd(obj), reg.validate_crd(obj)
    obj["status"] = reg.crd_status(obj)
    return obj


class JSONPathTest(unittest.TestCase):
    def ev(self, expr, obj):
        return registry.eval_jsonpath(registry.parse_jsonpath(expr), obj)

    def test_simple_index_and_filter(self):
        o = {"a": {"b": 1}, "l": [{"n": "x"}, {"n": "y"}],
             "conds": [{"type": "Other", "status": "False"}, {"type": "Ready", "status": "True"}]}
        self.assertEqual(self.ev(".a.b", o), [1])
        self.assertEqual(self.ev("{.a.b}", o), [1])
        self.assertEqual(self.ev(".l[1].n", o), ["y"])
        self.assertEqual(self.ev(".l[-1].n", o), ["y"])
        self.assertEqual(self.ev('.conds[?(@.type=="Ready")].status', o), ["True"])
        self.assertEqual(self.ev(".l[*].n", o), ["x", "y"])
        self.assertEqual(self.ev(".missing.x", o), [])

    def test_rejects_non_simple_paths(self):
        for bad in ("a.b", ".a..b", ".a[", "$.a"):
            with self.assertRaises(registry.JSONPathError, msg=bad):
                registry.parse_jsonpath(bad)


class HumanDurationTest(unittest.TestCase):
    def test_like_apimachinery(self):
        cases = {0: "0s", 59: "59s", 119: "119s", 120: "2m", 150: "2m30s", 600: "10m",
                 3 * 3600: "3h", 3 * 3600 + 60 * 5: "3h5m", 9 * 3600: "9h", 50 * 3600: "2d2h",
                 10 * 86400: "10d", 3 * 365 * 86400: "3y", -5: "<invalid>"}
        for sec, want in cases.items():
            self.assertEqual(registry.human_duration(sec), want, sec)


class DiscoveryDocsTest(unittest.TestCase):
    AGG = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
           "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
           "application/json")

    def setUp(self):
        self.reg = registry.Registry()

    def test_legacy_core_list(self):
        st, ct, body = self.reg.discovery("/api/v1", "application/json")
        self.assertEqual((st, ct, body["kind"], body["groupVersion"]),
                         (200, "application/json", "APIResourceList", "v1"))
        res = {r["name"]: r for r in body["resources"]}
        self.assertEqual(res["pods"]["shortNames"], ["po"])
        self.assertEqual(res["pods"]["categories"], ["all"])
        self.assertTrue(res["pods"]["namespaced"])
        self.assertFalse(res["namespaces"]["namespaced"])
        self.assertNotIn("deletecollection", res["namespaces"]["verbs"])
        self.assertIn("pods/status", res)
        self.assertEqual(res["events"]["shortNames"], ["ev"])
        self.assertNotIn("categories", res["configmaps"])

    def test_legacy_group_documents(self):
        _, _, groups = self.reg.discovery("/apis", "application/json")
        names = [g["name"] for g in groups["groups"]]
        self.assertEqual(names[:2], ["apps", "events.k8s.io"])
        for g in ("batch", "autoscaling", "networking.k8s.io", "coordination.k8s.io",
                  "apiextensions.k8s.io"):
            self.assertIn(g, names)
        _, _, grp = self.reg.discovery("/apis/autoscaling", "")
        self.assertEqual(grp["preferredVersion"], {"groupVersion": "autoscaling/v2",
                                                   "version": "v2"})
        _, _, apps = self.reg.discovery("/apis/apps/v1", "")
        res = {r["name"]: r for r in apps["resources"]}
        self.assertEqual(res["deployments/scale"]["kind"], "Scale")
        self.assertEqual(res["deployments/scale"]["group"], "autoscaling")
        self.assertIsNone(self.reg.discovery("/apis/nope.example.com/v1", ""))
        self.assertIsNone(self.reg.discovery("/apis/apps/v2", ""))

    def test_aggregated_v2(self):
        st, ct, body = self.reg.discovery("/apis", self.AGG)
        self.assertEqual(ct, "application/json;g=apidiscovery.k8s.io;v=v2;"
                             "as=APIGroupDiscoveryList")
        self.assertEqual(body["apiVersion"], "apidiscovery.k8s.io/v2")
        apps = [i for i in body["items"] if i["metadata"].get("name") == "apps"][0]
        deploy = [r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments"][0]
        self.assertEqual(deploy["scope"], "Namespaced")
        self.assertEqual(deploy["shortNames"], ["deploy"])
        self.assertEqual(deploy["categories"], ["all"])
        subs = {s["subresource"]: s for s in deploy["subresources"]}
        self.assertEqual(subs["scale"]["responseKind"]["kind"], "Scale")
        self.assertIn("status", subs)
        _, ct, core = self.reg.discovery("/api", self.AGG)
        self.assertEqual(len(core["items"]), 1)
        self.assertEqual(core["items"][0]["versions"][0]["version"], "v1")
        # v2beta1 only
        _, ct, b1 = self.reg.discovery("/apis", "application/json;g=apidiscovery.k8s.io;"
                                                "v=v2beta1;as=APIGroupDiscoveryList")
        self.assertEqual(b1["apiVersion"], "apidiscovery.k8s.io/v2beta1")
        # plain JSON preferred -> legacy
        _, ct, legacy = self.reg.discovery("/apis", "application/json")
        self.assertEqual(legacy["kind"], "APIGroupList")

    def test_etag_and_304(self):
        st, h, body = self.reg.discovery_response("/apis", self.AGG)
        self.assertEqual(st, 200)
        etag = h["ETag"]
        st2, _, _ = self.reg.discovery_response("/apis", self.AGG, etag)
        self.assertEqual(st2, 304)
        self.reg.register_crd(admitted_crd(self.reg))
        st3, h3, _ = self.reg.discovery_response("/apis", self.AGG, etag)
        self.assertEqual(st3, 200, "a new CRD must change the discovery ETag")
        self.assertNotEqual(h3["ETag"], etag)

    def test_crd_registration_and_removal(self):
        self.reg.register_crd(admitted_crd(self.reg))
        rt = self.reg.lookup("tollgate.example.com", "v1", "widgets")
        self.assertIsNotNone(rt)
        self.assertEqual((rt.kind, rt.short_names, rt.categories, rt.singular, rt.list_kind),
                         ("Widget", ["wd"], ["tollgate"], "widget", "WidgetList"))
        self.assertEqual(rt.subresources, {"status"})
        _, _, body = self.reg.discovery("/apis", self.AGG)
        grp = [i for i in body["items"] if i["metadata"].get("name") == "tollgate.example.com"]
        self.assertEqual(len(grp), 1)
        self.reg.unregister_crd("widgets.tollgate.example.com")
        self.assertIsNone(self.reg.lookup("tollgate.example.com", "v1", "widgets"))
        self.assertIsNone(self.reg.discovery("/apis/tollgate.example.com", ""))

    def test_deprecated_version_warning_text(self):
        crd = copy.deepcopy(WIDGET_CRD)
        old = copy.deepcopy(crd["spec"]["versions"][0])
        old.update({"name": "v1beta1", "storage": False, "deprecated": True})
        crd["spec"]["versions"].append(old)
        self.reg.register_crd(admitted_crd(self.reg, crd))
        rt = self.reg.lookup("tollgate.example.com", "v1beta1", "widgets")
        self.assertEqual(rt.deprecation_warning,
                         "tollgate.example.com/v1beta1 Widget is deprecated")
        self.assertIsNone(self.reg.lookup("tollgate.example.com", "v1", "widgets")
                          .deprecation_warning)

    def test_crd_version_priority(self):
        crd = copy.deepcopy(WIDGET_CRD)
        v1 = crd["spec"]["versions"][0]
        beta = copy.deepcopy(v1)
        beta["name"], beta["storage"] = "v1beta1", False
        alpha = copy.deepcopy(v1)
        alpha["name"], alpha["storage"] = "v2alpha1", False
        crd["spec"]["versions"] = [alpha, beta, v1]
        self.reg.register_crd(admitted_crd(self.reg, crd))
        _, _, g = self.reg.discovery("/apis/tollgate.example.com", "")
        self.assertEqual([v["version"] for v in g["versions"]], ["v1", "v1beta1", "v2alpha1"])
        self.assertEqual(g["preferredVersion"]["version"], "v1")


class OpenAPITest(unittest.TestCase):
    def setUp(self):
        self.reg = registry.Registry()

    def root(self):
        st, h, body = self.reg.openapi_response("/openapi/v3", "")
        self.assertEqual(st, 200)
        return json.loads(body)["paths"]

    def test_root_and_hashed_documents(self):
        paths = self.root()
        self.assertIn("api/v1", paths)
        url = paths["apis/apps/v1"]["serverRelativeURL"]
        path, q = url.split("?")
        st, h, body = self.reg.openapi_response(path, q)
        self.assertEqual(st, 200)
        self.assertEqual(h["Cache-Control"], "public, immutable")
        doc = json.loads(body)
        patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
        self.assertEqual(patch["x-kubernetes-group-version-kind"],
                         {"group": "apps", "kind": "Deployment", "version": "v1"})
        self.assertIn("fieldValidation", [p["name"] for p in patch["parameters"]])
        self.assertIn("application/strategic-merge-patch+json", patch["requestBody"]["content"])
        gvk = [s.get("x-kubernetes-group-version-kind") for s in
               doc["components"]["schemas"].values()]
        self.assertIn([{"group": "apps", "kind": "Deployment", "version": "v1"}], gvk)
        st, h, _ = self.reg.openapi_response(path, "hash=STALE")
        self.assertEqual((st, h["Location"]), (301, url))
        self.assertEqual(self.reg.openapi_response("/openapi/v3/apis/nope/v1", "")[0], 404)
        self.assertEqual(self.reg.openapi_response("/openapi/v2", "")[0], 404)

    def test_crd_schema_served_and_hash_changes(self):
        before = self.root()
        self.assertNotIn("apis/tollgate.example.com/v1", before)
        crd = admitted_crd(self.reg)
        self.reg.register_crd(crd)
        after = self.root()
        url = after["apis/tollgate.example.com/v1"]["serverRelativeURL"]
        path, q = url.split("?")
        doc = json.loads(self.reg.openapi_response(path, q)[2])
        w = doc["components"]["schemas"]["com.example.tollgate.v1.Widget"]
        self.assertEqual(w["x-kubernetes-group-version-kind"],
                         [{"group": "tollgate.example.com", "kind": "Widget", "version": "v1"}])
        self.assertEqual(w["properties"]["spec"]["properties"]["size"]["maximum"], 10)
        patch = doc["paths"]["/apis/tollgate.example.com/v1/namespaces/{namespace}/widgets/{name}"
                             ]["patch"]
        self.assertNotIn("application/strategic-merge-patch+json",
                         patch["requestBody"]["content"])
        crd2 = copy.deepcopy(crd)
        crd2["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
            "properties"]["newfield"] = {"type": "string"}
        self.reg.register_crd(crd2)
        self.assertNotEqual(self.root()["apis/tollgate.example.com/v1"], url)


class TableTest(unittest.TestCase):
    def setUp(self):
        self.reg = registry.Registry()

    def table(self, group, version, resource, objs, inc="Metadata"):
        rt = self.reg.lookup(group, version, resource)
        return self.reg.to_table(rt, objs, inc)

    def test_deployment(self):
        d = {"metadata": {"name": "web", "creationTimestamp": ts(150)},
             "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"spec": {"containers": [{"name": "a", "image": "i:1"},
                                                           {"name": "b", "image": "j:2"}]}}},
             "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
        t = self.table("apps", "v1", "deployments", [d])
        self.assertEqual([c["name"] for c in t["columnDefinitions"]],
                         ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers",
                          "Images", "Selector"])
        self.assertEqual([c["priority"] for c in t["columnDefinitions"]], [0] * 5 + [1] * 3)
        self.assertEqual(t["rows"][0]["cells"], ["web", "2/3", 3, 2, "2m30s", "a,b", "i:1,j:2",
                                                 "app=web"])
        self.assertEqual(t["rows"][0]["object"]["kind"], "PartialObjectMetadata")

    def test_include_object(self):
        o = {"metadata": {"name": "x"}, "data": {"a": "b"}}
        self.assertNotIn("object", self.table("", "v1", "configmaps", [o], "None")["rows"][0])
        self.assertEqual(self.table("", "v1", "configmaps", [o], "Object")["rows"][0]["object"], o)

    def test_pod_service_secret_cm_ns_lease(self):
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}, {"name": "d"}]},
               "status": {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
                   {"name": "c", "ready": True, "restartCount": 2, "state": {"running": {}}},
                   {"name": "d", "ready": False, "restartCount": 0,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
        cells = self.table("", "v1", "pods", [pod])["rows"][0]["cells"]
        self.assertEqual(cells[:4], ["p", "1/2", "CrashLoopBackOff", "2"])
        self.assertEqual(cells[5:7], ["10.0.0.5", "<none>"])
        svc = {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.9",
               "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"},
                         {"port": 53, "protocol": "UDP"}], "selector": {"b": "2", "a": "1"}}}
        self.assertEqual(self.table("", "v1", "services", [svc])["rows"][0]["cells"],
                         ["s", "NodePort", "10.96.0.9", "<none>", "80:30001/TCP,53/UDP",
                          "<unknown>", "a=1,b=2"])
        lb = {"metadata": {"name": "l"}, "spec": {"type": "LoadBalancer", "clusterIP": "1.2.3.4",
                                                  "ports": [{"port": 443, "protocol": "TCP"}]}}
        self.assertEqual(self.table("", "v1", "services", [lb])["rows"][0]["cells"][3],
                         "<pending>")
        sec = {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "", "b": ""}}
        self.assertEqual(self.table("", "v1", "secrets", [sec])["rows"][0]["cells"][:3],
                         ["s", "Opaque", 2])
        cm = {"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": ""}}
        self.assertEqual(self.table("", "v1", "configmaps", [cm])["rows"][0]["cells"][:2],
                         ["c", 2])
        ns = {"metadata": {"name": "n"}, "status": {"phase": "Terminating"}}
        self.assertEqual(self.table("", "v1", "namespaces", [ns])["rows"][0]["cells"][:2],
                         ["n", "Terminating"])
        lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "op-1"}}
        self.assertEqual(self.table("coordination.k8s.io", "v1", "leases", [lease])["rows"][0][
            "cells"][:2], ["l", "op-1"])

    def test_job_event_hpa_ingress(self):
        job = {"metadata": {"name": "j"}, "spec": {"completions": 1, "template": {"spec": {
            "containers": [{"name": "c", "image": "i"}]}}},
            "status": {"succeeded": 1, "startTime": ts(100), "completionTime": ts(40),
                       "conditions": [{"type": "Complete", "status": "True"}]}}
        self.assertEqual(self.table("batch", "v1", "jobs", [job])["rows"][0]["cells"][:4],
                         ["j", "Complete", "1/1", "60s"])
        ev = {"metadata": {"name": "e1"}, "type": "Warning", "reason": "Failed",
              "message": " boom ", "involvedObject": {"kind": "Pod", "name": "p"},
              "firstTimestamp": ts(300), "lastTimestamp": ts(30), "count": 4,
              "source": {"component": "kubelet"}}
        self.assertEqual(self.table("", "v1", "events", [ev])["rows"][0]["cells"],
                         ["30s", "Warning", "Failed", "pod/p", "", "kubelet", "boom", "5m", 4,
                          "e1"])
        ev2 = {"metadata": {"name": "e2"}, "type": "Normal", "reason": "Rollout", "note": "hi",
               "regarding": {"kind": "Deployment", "name": "d"}, "eventTime": ts(10) .replace(
                   "Z", ".000000Z"), "reportingController": "tollgate"}
        self.assertEqual(self.table("events.k8s.io", "v1", "events", [ev2])["rows"][0]["cells"][
            :7], ["10s", "Normal", "Rollout", "deployment/d", "", "tollgate", "hi"])
        hpa = {"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment",
                                                                       "name": "web"},
               "minReplicas": 2, "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {
                   "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
               "status": {"currentReplicas": 2}}
        self.assertEqual(self.table("autoscaling", "v2", "horizontalpodautoscalers", [hpa])[
            "rows"][0]["cells"][:6], ["h", "Deployment/web", "cpu: <unknown>/80%", 2, 5, 2])
        hpa["spec"]["metrics"] += [
            {"type": "Pods", "pods": {"metric": {"name": "rps"},
                                      "target": {"type": "AverageValue", "averageValue": "10"}}},
            {"type": "External", "external": {"metric": {"name": "q"}, "target": {
                "type": "Value", "value": "5"}}}]
        hpa["status"]["currentMetrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": 55, "averageValue": "110m"}}}]
        self.assertEqual(self.table("autoscaling", "v2", "horizontalpodautoscalers", [hpa])[
            "rows"][0]["cells"][2], "cpu: 55%/80%, <unknown>/10 + 1 more...")
        ing = {"metadata": {"name": "i"}, "spec": {"ingressClassName": "nginx", "rules": [
            {"host": "a.example"}, {"host": "b.example"}], "tls": [{}]}}
        self.assertEqual(self.table("networking.k8s.io", "v1", "ingresses", [ing])["rows"][0][
            "cells"][:5], ["i", "nginx", "a.example,b.example", "", "80, 443"])

    def test_crd_default_columns(self):
        t = self.table("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                       [{"metadata": {"name": "a.b.c", "creationTimestamp":
                                      "2026-01-02T03:04:05Z"}}])
        self.assertEqual([c["name"] for c in t["columnDefinitions"]], ["Name", "Created At"])
        self.assertEqual(t["rows"][0]["cells"], ["a.b.c", "2026-01-02T03:04:05Z"])

    def test_crd_printer_columns(self):
        self.reg.register_crd(admitted_crd(self.reg))
        w = {"metadata": {"name": "w", "creationTimestamp": ts(200)},
             "spec": {"size": 3, "items": [{"name": "first"}], "enabled": True, "ratio": 2},
             "status": {"conditions": [{"type": "Synced", "status": "False"},
                                       {"type": "Ready", "status": "True"}]}}
        t = self.table("tollgate.example.com", "v1", "widgets", [w, {"metadata": {"name": "e"}}])
        self.assertEqual([(c["name"], c["type"], c["priority"]) for c in t["columnDefinitions"]],
                         [("Name", "string", 0), ("Size", "integer", 0), ("Ready", "string", 0),
                          ("First", "string", 0), ("Enabled", "boolean", 1),
                          ("Ratio", "number", 0), ("Age", "date", 0)])
        self.assertEqual(t["rows"][0]["cells"], ["w", 3, "True", "first", True, 2.0, "3m20s"])
        self.assertEqual(t["rows"][1]["cells"], ["e", None, None, None, None, None, None])

    def test_crd_without_columns_has_age(self):
        crd = copy.deepcopy(WIDGET_CRD)
        del crd["spec"]["versions"][0]["additionalPrinterColumns"]
        self.reg.register_crd(admitted_crd(self.reg, crd))
        t = self.table("tollgate.example.com", "v1", "widgets",
                       [{"metadata": {"name": "w", "creationTimestamp": ts(5)}}])
        self.assertEqual([c["name"] for c in t["columnDefinitions"]], ["Name", "Age"])
        self.assertEqual(t["rows"][0]["cells"], ["w", "5s"])


class AdmitTest(unittest.TestCase):
    def setUp(self):
        self.reg = registry.Registry()
        self.reg.register_crd(admitted_crd(self.reg))
        self.wt = self.reg.lookup("tollgate.example.com", "v1", "widgets")

    def widget(self, spec, **md):
        m = {"name": "w", "namespace": "default"}
        m.update(md)
        return {"apiVersion": "tollgate.example.com/v1", "kind": "Widget", "metadata": m,
                "spec": spec}

    def msg(self, rt, obj, fv="Strict"):
        _, causes, _ = self.reg.admit(rt, obj, None, fv)
        self.assertTrue(causes, "expected a rejection")
        return self.reg.status_for(rt, obj["metadata"].get("name"), causes)

    def test_defaults_and_preserved_fields(self):
        obj, causes, warns = self.reg.admit(self.wt, self.widget({"size": 2, "extra": {"x": [1]}}),
                                            None, "Strict")
        self.assertEqual((causes, warns), ([], []))
        self.assertEqual(obj["spec"], {"size": 2, "color": "red", "extra": {"x": [1]}})

    def test_validation_ratcheting_on_update(self):
        old = self.widget({"size": 50, "color": "red"})   # invalid under today's schema
        new = copy.deepcopy(old)
        new["metadata"]["labels"] = {"touched": "yes"}
        _, causes, _ = self.reg.admit(self.wt, new, old, "Strict")
        self.assertEqual(causes, [], "unchanged invalid values are ratcheted")
        new["spec"]["size"] = 60
        _, causes, _ = self.reg.admit(self.wt, new, old, "Strict")
        self.assertEqual([c["field"] for c in causes], ["spec.size"])
        _, causes, _ = self.reg.admit(self.wt, old, None, "Strict")
        self.assertEqual([c["field"] for c in causes], ["spec.size"], "creates never ratchet")

    def test_finalizer_name_warnings(self):
        w = self.widget({"size": 1}, finalizers=["tollgate.example.com/cleanup", "cleanup",
                                                 "cleanup.tollgate.example.com"])
        _, causes, warns = self.reg.admit(self.wt, w, None, "Strict")
        self.assertEqual(causes, [])
        self.assertEqual(warns, [
            'metadata.finalizers: "cleanup": prefer a domain-qualified finalizer name to avoid '
            'accidental conflicts with other finalizer writers',
            'metadata.finalizers: "cleanup.tollgate.example.com": prefer a domain-qualified '
            'finalizer name including a path (/) to avoid accidental conflicts with other '
            'finalizer writers'])
        _, _, warns = self.reg.admit(self.wt, w, w, "Strict")
        self.assertEqual(warns, [], "only finalizers a write adds are warned about")

    def test_defaults_on_read(self):
        stored = self.widget({"size": 2})
        self.assertEqual(self.reg.read_defaults(self.wt, stored)["spec"],
                         {"size": 2, "color": "red"})
        self.assertEqual(stored["spec"], {"size": 2})

    def test_unknown_fields_per_field_validation(self):
        w = self.widget({"size": 2, "bogus": 1, "extra": {"kept": True}})
        st = self.msg(self.wt, w)
        self.assertEqual((st["code"], st["reason"]), (400, "BadRequest"))
        self.assertEqual(st["message"], 'Widget in version "v1" cannot be handled as a Widget: '
                                        'strict decoding error: unknown field "spec.bogus"')
        obj, causes, warns = self.reg.admit(self.wt, w, None, "Warn")
        self.assertEqual(causes, [])
        self.assertEqual(warns, ['unknown field "spec.bogus"'])
        self.assertNotIn("bogus", obj["spec"])
        self.assertEqual(obj["spec"]["extra"], {"kept": True})
        obj, causes, warns = self.reg.admit(self.wt, w, None, "Ignore")
        self.assertEqual((causes, warns), ([], []))
        self.assertNotIn("bogus", obj["spec"])

    def test_patch_errors_are_invalid_on_field_patch(self):
        w = self.widget({"size": 2, "bogus": 1})
        _, causes, _ = self.reg.admit(self.wt, w, None, "Strict")
        st = self.reg.status_for(self.wt, "w", causes, patched={"spec": {"bogus": 1}})
        self.assertEqual((st["code"], st["reason"]), (422, "Invalid"))
        self.assertEqual(st["message"], ' "" is invalid: patch: Invalid value: '
                                        '"{\\"spec\\":{\\"bogus\\":1}}": strict decoding error: '
                                        'unknown field "spec.bogus"')
        self.assertEqual(st["details"]["causes"][0]["field"], "patch")
        rt = self.reg.lookup("", "v1", "configmaps")
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "bogus": 1}
        _, causes, _ = self.reg.admit(rt, cm, None, "Strict")
        st = self.reg.status_for(rt, "c", causes, patch={"bogus": 1, "data": {"a": "b"}})
        self.assertEqual(st["message"], ' "" is invalid: patch: Invalid value: '
                                        '"map[bogus:1 data:map[a:b]]": strict decoding error: '
                                        'unknown field "bogus"')

    def test_builtin_type_errors_are_decode_errors(self):
        rt = self.reg.lookup("apps", "v1", "deployments")
        d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
             "spec": {"replicas": "two"}}
        _, causes, _ = self.reg.admit(rt, d, None, "Strict")
        st = self.reg.status_for(rt, "d", causes)
        self.assertEqual((st["code"], st["reason"]), (400, "BadRequest"))
        self.assertEqual(st["message"], 'Deployment in version "v1" cannot be handled as a '
                                        'Deployment: json: cannot unmarshal string into Go struct '
                                        'field DeploymentSpec.spec.replicas of type int32')

    def test_schema_violations(self):
        cases = [({"size": "big"}, 'spec.size: Invalid value: "string": spec.size in body must '
                                   'be of type integer: "string"'),
                 ({}, "spec.size: Required value"),
                 ({"size": 0}, "spec.size: Invalid value: 0: spec.size in body should be greater "
                               "than or equal to 1"),
                 ({"size": 1, "color": "pink"}, 'spec.color: Unsupported value: "pink": '
                                                'supported values: "red", "green"')]
        for spec, want in cases:
            st = self.msg(self.wt, self.widget(spec))
            self.assertEqual((st["code"], st["reason"]), (422, "Invalid"))
            self.assertEqual(st["message"], 'Widget.tollgate.example.com "w" is invalid: ' + want)
            self.assertEqual(st["details"]["group"], "tollgate.example.com")

    def test_metadata_validation(self):
        st = self.msg(self.wt, self.widget({"size": 1}, name="Bad_Name"))
        self.assertIn('metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain',
                      st["message"])
        w = self.widget({"size": 1})
        del w["metadata"]["name"]
        st = self.msg(self.wt, w)
        self.assertIn("metadata.name: Required value: name or generateName is required",
                      st["message"])
        st = self.msg(self.wt, self.widget({"size": 1}, labels={"ok": "bad value!"}))
        self.assertIn('metadata.labels: Invalid value: "bad value!"', st["message"])
        st = self.msg(self.wt, self.widget({"size": 1}, ownerReferences=[
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}]))
        self.assertIn('metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
                      st["message"])
        st = self.msg(self.wt, self.widget({"size": 1}, bogus="x"))
        self.assertIn('unknown field "metadata.bogus"', st["message"])

    def test_deployment_rules(self):
        rt = self.reg.lookup("apps", "v1", "deployments")
        d = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "d", "namespace": "default"},
             "spec": {"selector": {"matchLabels": {"app": "x"}},
                      "template": {"metadata": {"labels": {"app": "y"}},
                                   "spec": {"containers": [{"name": "c"}]}}}}
        st = self.msg(rt, d)
        self.assertEqual(st["code"], 422)
        self.assertIn('spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}'
                      ': `selector` does not match template `labels`', st["message"])
        self.assertIn("spec.template.spec.containers[0].image: Required value", st["message"])
        self.assertTrue(st["message"].startswith('Deployment.apps "d" is invalid: ['))
        d2 = copy.deepcopy(d)
        del d2["spec"]["selector"]
        self.assertIn("spec.selector: Required value", self.msg(rt, d2)["message"])
        good = copy.deepcopy(d)
        good["spec"]["template"]["metadata"]["labels"]["app"] = "x"
        good["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx"
        obj, causes, _ = self.reg.admit(rt, good, None, "Strict")
        self.assertEqual(causes, [])
        self.assertEqual(obj["spec"]["replicas"], 1)
        self.assertEqual(obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%")
        c = obj["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual((c["imagePullPolicy"], c["terminationMessagePath"]),
                         ("Always", "/dev/termination-log"))

    def test_pod_template_resources_probes_ports(self):
        rt = self.reg.lookup("apps", "v1", "deployments")

        def dep(container):
            c = {"name": "c", "image": "nginx"}
            c.update(container)
            return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                    "spec": {"selector": {"matchLabels": {"a": "b"}},
                             "template": {"metadata": {"labels": {"a": "b"}},
                                          "spec": {"containers": [c]}}}}
        st = self.msg(rt, dep({"resources": {"limits": {"cpu": "100x"}}}))
        self.assertEqual(st["message"], 'Deployment in version "v1" cannot be handled as a '
                                        'Deployment: quantities must match the regular '
                                        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
        st = self.msg(rt, dep({"resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}))
        self.assertIn('spec.template.spec.containers[0].resources.requests[cpu]: Invalid value: '
                      '"2": must be less than or equal to cpu limit of 1', st["message"])
        st = self.msg(rt, dep({"readinessProbe": {"periodSeconds": 5}}))
        self.assertIn("spec.template.spec.containers[0].readinessProbe: Required value: must "
                      "specify a handler type", st["message"])
        st = self.msg(rt, dep({"ports": [{"name": "http-metrics-port", "containerPort": 80}]}))
        self.assertIn('spec.template.spec.containers[0].ports[0].name: Invalid value: '
                      '"http-metrics-port": must be no more than 15 characters', st["message"])
        obj, causes, _ = self.reg.admit(rt, dep({"resources": {"limits": {"memory": "1Gi"},
                                                               "requests": {"memory": "512Mi"}},
                                                 "readinessProbe": {"httpGet": {"port": 80}}}),
                                        None, "Strict")
        self.assertEqual(causes, [])
        probe = obj["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
        self.assertEqual((probe["httpGet"]["path"], probe["httpGet"]["scheme"],
                          probe["periodSeconds"], probe["failureThreshold"]),
                         ("/", "HTTP", 10, 3))

    def test_service_defaults_and_rules(self):
        rt = self.reg.lookup("", "v1", "services")
        s = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
             "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
        obj, causes, _ = self.reg.admit(rt, s, None, "Strict")
        self.assertEqual(causes, [])
        self.assertEqual(obj["spec"]["type"], "ClusterIP")
        self.assertTrue(obj["spec"]["clusterIP"].startswith("10.96."))
        self.assertEqual(obj["spec"]["ports"][0], {"port": 80, "protocol": "TCP",
                                                   "targetPort": 80})
        # updates keep the allocated IP
        again, causes, _ = self.reg.admit(rt, s, obj, "Strict")
        self.assertEqual(again["spec"]["clusterIP"], obj["spec"]["clusterIP"])
        bad = copy.deepcopy(s)
        bad["spec"]["ports"] = [{"port": 80}, {"port": 81}]
        self.assertIn("spec.ports[0].name: Required value", self.msg(rt, bad)["message"])
        st = self.msg(rt, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1s"},
                           "spec": {"ports": [{"port": 80}]}})
        self.assertIn("a DNS-1035 label", st["message"])

    def test_secret_string_data(self):
        rt = self.reg.lookup("", "v1", "secrets")
        obj, causes, _ = self.reg.admit(rt, {"apiVersion": "v1", "kind": "Secret",
                                             "metadata": {"name": "s"},
                                             "stringData": {"token": "abc"}}, None, "Strict")
        self.assertEqual(causes, [])
        self.assertEqual(obj["data"], {"token": "YWJj"})
        self.assertNotIn("stringData", obj)
        self.assertEqual(obj["type"], "Opaque")


class CELTest(unittest.TestCase):
    def check(self, rule, value, old=None, **extra):
        causes = []
        r = {"rule": rule}
        r.update(extra)
        registry.cel_validate(value, old, {"x-kubernetes-validations": [r]}, ".spec", causes)
        return causes

    def test_supported_rules(self):
        ok = [("self.min <= self.max", {"min": 1, "max": 2}),
              ("has(self.a) || has(self.b)", {"b": 1}),
              ("self.all(x, x.startsWith('a'))", ["ab", "ac"]),
              ("size(self) <= 3 && self.size() <= 3", [1, 2]),
              ("self.name.matches('^[a-z]+$')", {"name": "abc"}),
              ("!has(self.tls) || self.tls.mode in ['A', 'B']", {"tls": {"mode": "A"}}),
              ("self.w >= 0 && self.w <= 100 ? true : false", {"w": 50}),
              ("self.exists(k, self[k] == 'x')", {"a": "y", "b": "x"}),
              ("self.steps.exists_one(s, s.pause)", {"steps": [{"pause": True},
                                                              {"pause": False}]})]
        for rule, value in ok:
            self.assertEqual(self.check(rule, value), [], rule)
        bad = self.check("self.min <= self.max", {"min": 3, "max": 2})
        self.assertEqual(bad, [{"reason": "FieldValueInvalid", "field": "spec",
                                "message": 'Invalid value: "object": failed rule: '
                                           'self.min <= self.max'}])

    def test_transition_rule_only_on_update(self):
        self.assertEqual(self.check("self == oldSelf", "a", None, message="immutable"), [])
        self.assertEqual(self.check("self == oldSelf", "a", "a", message="immutable"), [])
        c = self.check("self == oldSelf", "b", "a", message="immutable")
        self.assertEqual(c[0]["message"], 'Invalid value: "string": immutable')

    def test_reason_field_path_and_message_expression(self):
        c = self.check("has(self.x)", {}, reason="FieldValueRequired", fieldPath=".x",
                       message="x is required")
        self.assertEqual(c, [{"reason": "FieldValueRequired", "field": "spec.x",
                              "message": "Required value: x is required"}])
        c = self.check("self.n < 3", {"n": 5}, messageExpression="'n is ' + string(self.n)")
        self.assertEqual(c[0]["message"], 'Invalid value: "object": n is 5')

    def test_missing_key_is_an_error_and_unsupported_are_listed(self):
        c = self.check("self.x > 1", {})
        self.assertEqual(c[0]["message"], 'Invalid value: "object": no such key: x evaluating '
                                          'rule: self.x > 1')
        unsupported = registry.cel_unsupported({"properties": {"spec": {
            "type": "object", "x-kubernetes-validations": [
                {"rule": "self == oldSelf"}, {"rule": "self.a.lowerAscii() == 'a'"},
                {"rule": "quantity(self.q).isGreaterThan(quantity('1'))"}]}}})
        self.assertEqual(len(unsupported), 2)
        self.assertTrue(unsupported[0].startswith("properties[spec].x-kubernetes-validations[1]"))


class StorageTest(unittest.TestCase):
    def test_events_share_storage_between_groups(self):
        reg = registry.Registry()
        core = reg.lookup("", "v1", "events")
        v1 = reg.lookup("events.k8s.io", "v1", "events")
        self.assertEqual(reg.storage_key(core), reg.storage_key(v1))
        ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
              "regarding": {"kind": "Pod", "name": "p"}, "note": "hi", "reason": "R",
              "type": "Normal", "reportingController": "tg", "reportingInstance": "tg-1",
              "action": "Do", "eventTime": "2026-01-01T00:00:00.000000Z"}
        stored = reg.to_storage(v1, ev)
        self.assertEqual((stored["apiVersion"], stored["involvedObject"], stored["message"],
                          stored["reportingComponent"]), ("v1", {"kind": "Pod", "name": "p"},
                                                          "hi", "tg"))
        self.assertEqual(reg.from_storage(v1, stored), ev)
        self.assertEqual(reg.from_storage(core, stored), stored)
        self.assertEqual(core.field_values(stored)["involvedObject.name"], "p")
        self.assertEqual(v1.field_values(ev)["regarding.name"], "p")


class CRDValidationTest(unittest.TestCase):
    def setUp(self):
        self.reg = registry.Registry()
        self.rt = self.reg.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")

    def causes(self, mutate):
        crd = copy.deepcopy(WIDGET_CRD)
        mutate(crd)
        obj, causes, _ = self.reg.admit(self.rt, crd, None, "Strict")
        return causes + self.reg.validate_crd(obj)

    def fields(self, mutate):
        return {(c["field"], c["message"]) for c in self.causes(mutate)}

    def test_valid(self):
        self.assertEqual(self.causes(lambda c: None), [])

    def test_name_must_be_plural_dot_group(self):
        def m(c):
            c["metadata"]["name"] = "widget.tollgate.example.com"
        self.assertIn(("metadata.name", 'Invalid value: "widget.tollgate.example.com": must be '
                                        'spec.names.plural+"."+spec.group'), self.fields(m))

    def test_exactly_one_storage_version(self):
        def none(c):
            c["spec"]["versions"][0]["storage"] = False
        self.assertIn("spec.versions", {f for f, _ in self.fields(none)})
        self.assertTrue(any("must have exactly one version marked as storage version" in m
                            for _, m in self.fields(none)))

    def test_schema_required_and_structural(self):
        def noschema(c):
            del c["spec"]["versions"][0]["schema"]
        self.assertIn(("spec.versions[0].schema.openAPIV3Schema",
                       "Required value: schemas are required"), self.fields(noschema))

        def notype(c):
            del c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
                "properties"]["size"]["type"]
        fields = {f for f, _ in self.fields(notype)}
        self.assertTrue(any(f.startswith("spec.versions[0].schema.openAPIV3Schema.properties[spec]"
                                         ) for f in fields), fields)

    def test_scope_names_and_columns(self):
        def m(c):
            c["spec"]["scope"] = "Galaxy"
            c["spec"]["names"]["kind"] = "wid get"
            c["spec"]["versions"][0]["additionalPrinterColumns"][0]["type"] = "float"
        f = {x for x, _ in self.fields(m)}
        self.assertIn("spec.scope", f)
        self.assertIn("spec.names.kind", f)
        self.assertIn("spec.versions[0].additionalPrinterColumns[0].type", f)

    def test_selectable_fields(self):
        def m(c):
            c["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".spec.color"},
                                                            {"jsonPath": ".spec.nope"},
                                                            {"jsonPath": ".spec.extra"}]
        f = self.fields(m)
        self.assertIn(("spec.versions[0].selectableFields[1].jsonPath",
                       'Invalid value: ".spec.nope": is an invalid path: does not refer to a '
                       'valid field'), f)
        self.assertIn("spec.versions[0].selectableFields[2].jsonPath", {x for x, _ in f})
        self.assertNotIn("spec.versions[0].selectableFields[0].jsonPath", {x for x, _ in f})
        crd = copy.deepcopy(WIDGET_CRD)
        crd["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".spec.color"}]
        self.reg.register_crd(admitted_crd(self.reg, crd))
        rt = self.reg.lookup("tollgate.example.com", "v1", "widgets")
        self.assertEqual(rt.supported_fields(), {"metadata.name", "metadata.namespace",
                                                 "spec.color"})
        self.assertEqual(rt.field_values({"metadata": {"name": "w"}, "spec": {"color": "red"}}),
                         {"metadata.name": "w", "metadata.namespace": "", "spec.color": "red"})

    def test_group_needs_dot_and_protected_groups(self):
        def m(c):
            c["spec"]["group"] = "widgets"
            c["metadata"]["name"] = "widgets.widgets"
        self.assertIn(("spec.group", 'Invalid value: "widgets": should be a domain with at least '
                                     'one dot'), self.fields(m))

        def k8s(c):
            c["spec"]["group"] = "foo.k8s.io"
            c["metadata"]["name"] = "widgets.foo.k8s.io"
        self.assertIn("metadata.annotations[api-approved.kubernetes.io]",
                      {f for f, _ in self.fields(k8s)})

    def test_status_conditions_and_conflicts(self):
        crd = admitted_crd(self.reg)
        conds = {c["type"]: c for c in crd["status"]["conditions"]}
        self.assertEqual(conds["Established"]["status"], "True")
        self.assertEqual(conds["NamesAccepted"]["reason"], "NoConflicts")
        self.assertEqual(crd["status"]["acceptedNames"]["listKind"], "WidgetList")
        self.assertEqual(crd["status"]["storedVersions"], ["v1"])
        self.reg.register_crd(crd)
        other = copy.deepcopy(WIDGET_CRD)
        other["metadata"]["name"] = "gadgets.tollgate.example.com"
        other["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget", "shortNames": ["wd"]}
        other = admitted_crd(self.reg, other)
        conds = {c["type"]: c for c in other["status"]["conditions"]}
        self.assertEqual(conds["NamesAccepted"]["status"], "False")
        self.assertEqual(conds["NamesAccepted"]["reason"], "ShortNamesConflict")
        self.assertEqual(conds["Established"]["status"], "False")


if __name__ == "__main__":
    unittest.main()
