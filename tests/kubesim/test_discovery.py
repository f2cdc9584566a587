"""Discovery and OpenAPI through real kubectl 1.32: api-resources, short names, categories,
CRDs appearing at once, and what `kubectl apply` needs (OpenAPI v3, strategic merge patch)."""

import harness

import json
import re
import unittest

AGG_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
              "application/json")

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gizmos.disco.example.com
spec:
  group: disco.example.com
  scope: Namespaced
  names: {plural: gizmos, singular: gizmo, kind: Gizmo, shortNames: [gz], categories: [tollgate]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {n: {type: integer}}}
"""

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.25
        env: [{name: MODE, value: "%s"}, {name: KEEP, value: "yes"}]
      - name: sidecar
        image: busybox:1.36
        env: [{name: SIDE, value: "1"}]
"""


def table(text):
    """kubectl's column output -> list of dicts keyed by header (columns at header offsets)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    names = [header[s:].split("  ")[0].strip() for s in starts]
    rows = []
    for ln in lines[1:]:
        row = {}
        for i, s in enumerate(starts):
            e = starts[i + 1] if i + 1 < len(starts) else None
            row[names[i]] = ln[s:e].strip() if e else ln[s:].strip()
        rows.append(row)
    return rows


class DiscoveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = harness.Kubesim().start()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def k(self, *args, **kw):
        return self.sim.kubectl(*args, **kw)

    def test_api_resources_columns(self):
        out = self.k("api-resources").stdout
        rows = {(r["NAME"], r["APIVERSION"]): r for r in table(out)}
        want = {("pods", "v1"): ("po", "true", "Pod"),
                ("namespaces", "v1"): ("ns", "false", "Namespace"),
                ("configmaps", "v1"): ("cm", "true", "ConfigMap"),
                ("secrets", "v1"): ("", "true", "Secret"),
                ("services", "v1"): ("svc", "true", "Service"),
                ("events", "v1"): ("ev", "true", "Event"),
                ("events", "events.k8s.io/v1"): ("ev", "true", "Event"),
                ("deployments", "apps/v1"): ("deploy", "true", "Deployment"),
                ("jobs", "batch/v1"): ("", "true", "Job"),
                ("horizontalpodautoscalers", "autoscaling/v2"): ("hpa", "true",
                                                                 "HorizontalPodAutoscaler"),
                ("ingresses", "networking.k8s.io/v1"): ("ing", "true", "Ingress"),
                ("leases", "coordination.k8s.io/v1"): ("", "true", "Lease"),
                ("customresourcedefinitions", "apiextensions.k8s.io/v1"): (
                    "crd,crds", "false", "CustomResourceDefinition")}
        for key, (short, namespaced, kind) in want.items():
            self.assertIn(key, rows, out)
            r = rows[key]
            self.assertEqual((r["SHORTNAMES"], r["NAMESPACED"], r["KIND"]),
                             (short, namespaced, kind), key)
        wide = table(self.k("api-resources", "-o", "wide", "--api-group=apps").stdout)
        dep = [r for r in wide if r["NAME"] == "deployments"][0]
        self.assertEqual(dep["VERBS"], "create,delete,deletecollection,get,list,patch,update,"
                                       "watch")
        self.assertEqual(dep["CATEGORIES"], "all")
        cats = self.k("api-resources", "--categories=all", "-o", "name").stdout.split()
        self.assertEqual(sorted(cats), ["deployments.apps", "horizontalpodautoscalers.autoscaling",
                                        "jobs.batch", "pods", "services"])
        versions = self.k("api-versions").stdout.split()
        self.assertIn("autoscaling/v2", versions)
        self.assertIn("v1", versions)

    def test_get_by_short_name_and_category(self):
        self.k("create", "configmap", "cfg-short", "--from-literal=a=b")
        self.k("create", "service", "clusterip", "svc-short", "--tcp=80:8080")
        self.k("create", "deployment", "dep-short", "--image=nginx:1.25")
        self.k("create", "job", "job-short", "--image=busybox")
        self.assertIn("cfg-short", self.k("get", "cm").stdout)
        self.assertIn("svc-short", self.k("get", "svc").stdout)
        self.assertIn("dep-short", self.k("get", "deploy").stdout)
        self.assertIn("default", self.k("get", "ns").stdout)
        self.assertIn("No resources found", self.k("get", "ing").stderr)
        self.assertIn("No resources found", self.k("get", "hpa").stderr)
        self.assertEqual(self.k("get", "ev.events.k8s.io").returncode, 0)
        names = self.k("get", "all", "-o", "name").stdout.split()
        self.assertIn("service/svc-short", names)
        self.assertIn("deployment.apps/dep-short", names)
        self.assertIn("job.batch/job-short", names)
        self.assertFalse([n for n in names if n.startswith("configmap/")], names)
        r = self.k("get", "nosuchthing", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('the server doesn\'t have a resource type "nosuchthing"', r.stderr)

    def test_crd_appears_at_once_despite_kubectl_cache(self):
        # warm kubectl's discovery cache first, then register a CRD and use it immediately
        self.k("get", "pods")
        self.k("apply", "-f", "-", input=CRD)
        self.k("wait", "--for=condition=Established", "crd/gizmos.disco.example.com",
               "--timeout=60s")
        self.k("apply", "-f", "-", input="apiVersion: disco.example.com/v1\nkind: Gizmo\n"
                                         "metadata: {name: g1}\nspec: {n: 1}\n")
        self.assertIn("g1", self.k("get", "gz").stdout)
        self.assertIn("g1", self.k("get", "gizmo").stdout)
        self.assertIn("g1", self.k("get", "gizmos.disco.example.com").stdout)
        rows = table(self.k("api-resources", "--api-group=disco.example.com").stdout)
        self.assertEqual(rows, [{"NAME": "gizmos", "SHORTNAMES": "gz",
                                 "APIVERSION": "disco.example.com/v1", "NAMESPACED": "true",
                                 "KIND": "Gizmo"}])
        self.assertIn("gizmo.disco.example.com/g1",
                      self.k("get", "tollgate", "-o", "name").stdout)
        # deleting the CRD removes the type from discovery at once
        self.k("delete", "crd", "gizmos.disco.example.com")
        self.sim.wait_for(lambda: "gizmos" not in self.k("api-resources").stdout,
                          message="gizmos still in api-resources after CRD deletion")
        r = self.k("get", "gz", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("doesn't have a resource type", r.stderr)

    def test_python_client_discovery(self):
        """python3-kubernetes' DynamicClient uses the legacy documents (/api/v1, /apis/g/v)."""
        from kubernetes import config, dynamic
        from kubernetes.client import api_client
        self.k("apply", "-f", "-", input=CRD.replace("gizmos", "doohickeys").replace(
            "Gizmo", "Doohickey").replace("gizmo", "doohickey").replace("[gz]", "[dh]"))
        self.k("wait", "--for=condition=Established", "crd/doohickeys.disco.example.com",
               "--timeout=60s")
        config.load_kube_config(self.sim.kubeconfig)
        dc = dynamic.DynamicClient(api_client.ApiClient())
        res = dc.resources.get(api_version="disco.example.com/v1", kind="Doohickey")
        self.assertEqual((res.name, res.short_names, res.namespaced),
                         ("doohickeys", ["dh"], True))
        dep = dc.resources.get(api_version="apps/v1", kind="Deployment")
        self.assertEqual(sorted(dep.subresources), ["scale", "status"])
        self.assertEqual(dc.resources.get(api_version="v1", kind="Pod").short_names, ["po"])

    def test_aggregated_discovery_http(self):
        st, h, body = self.sim.request("GET", "/apis", headers={"Accept": AGG_ACCEPT})
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"],
                         "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        self.assertEqual(body["kind"], "APIGroupDiscoveryList")
        etag = h["etag"]
        st, _, _ = self.sim.request("GET", "/apis", headers={"Accept": AGG_ACCEPT,
                                                             "If-None-Match": etag})
        self.assertEqual(st, 304)
        st, h, body = self.sim.request("GET", "/apis/apps/v1")
        self.assertEqual((st, body["kind"], body["groupVersion"]),
                         (200, "APIResourceList", "apps/v1"))
        st, h, body = self.sim.request("GET", "/api")
        self.assertEqual((body["kind"], body["versions"]), ("APIVersions", ["v1"]))

    def test_openapi_v3_documents(self):
        st, h, root = self.sim.request("GET", "/openapi/v3")
        self.assertEqual(st, 200)
        url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
        self.assertRegex(url, r"^/openapi/v3/apis/apps/v1\?hash=[0-9A-F]{128}$")
        st, h, doc = self.sim.request("GET", url)
        self.assertEqual((st, h.get("cache-control")), (200, "public, immutable"))
        st, h, _ = self.sim.request("GET", "/openapi/v3/apis/apps/v1?hash=0BAD")
        self.assertEqual(st, 301)
        self.assertEqual(h["location"], url)

    def test_explain_builtin(self):
        out = self.k("explain", "deployment").stdout
        self.assertIn("DESCRIPTION:\n    Deployment enables declarative updates for Pods and "
                      "ReplicaSets.", out)
        out = self.k("explain", "deployment.spec.replicas").stdout
        self.assertIn("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1", out)
        self.assertIn("FIELD: replicas <integer>", out)
        out = self.k("explain", "pods.spec.containers").stdout
        self.assertIn("image", out)
        self.assertIn("name", out)

    def test_apply_twice_uses_strategic_merge_patch(self):
        self.sim.clear_request_log()
        r = self.k("apply", "-f", "-", input=DEPLOY % "one")
        self.assertIn("deployment.apps/web created", r.stdout)
        r = self.k("apply", "-f", "-", input=(DEPLOY % "two").replace(
            "      - name: sidecar\n        image: busybox:1.36\n"
            "        env: [{name: SIDE, value: \"1\"}]\n", "      - name: sidecar\n"
            "        image: busybox:1.36\n        env: [{name: SIDE, value: \"1\"}]\n"))
        self.assertIn("deployment.apps/web configured", r.stdout)
        # kubectl computed the patch from our OpenAPI v3 (no fallback warning) and sent SMP
        self.assertNotIn("error calculating patch", r.stderr)
        log = self.sim.request_log()
        patches = [e for e in log if e["verb"] == "patch" and e["path"].endswith(
            "/deployments/web")]
        self.assertEqual(len(patches), 1, log)
        self.assertEqual(patches[0]["status"], 200)
        self.assertIn("fieldValidation=Strict", patches[0]["query"])
        self.assertFalse([e for e in log if e["path"].startswith("/openapi/v2")],
                         "kubectl 1.32 must not need /openapi/v2")
        d = json.loads(self.k("get", "deploy", "web", "-o", "json").stdout)
        cs = {c["name"]: c for c in d["spec"]["template"]["spec"]["containers"]}
        self.assertEqual(sorted(cs), ["app", "sidecar"])
        self.assertEqual(cs["app"]["env"], [{"name": "MODE", "value": "two"},
                                            {"name": "KEEP", "value": "yes"}])
        self.assertEqual(cs["sidecar"]["env"], [{"name": "SIDE", "value": "1"}])
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration",
                      d["metadata"]["annotations"])
        # removing the sidecar from the manifest removes it from the object (3-way merge)
        one = (DEPLOY % "three").split("      - name: sidecar")[0]
        self.k("apply", "-f", "-", input=one)
        d = json.loads(self.k("get", "deploy", "web", "-o", "json").stdout)
        self.assertEqual([c["name"] for c in d["spec"]["template"]["spec"]["containers"]],
                         ["app"])

    def test_strict_field_validation_builtin(self):
        bad = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict-cm}\ndata: {a: b}\n"
               "bogus: 1\n")
        r = self.k("apply", "-f", "-", input=bad, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict '
                      'decoding error: unknown field "bogus"', r.stderr)
        r = self.k("apply", "--validate=warn", "-f", "-", input=bad)
        self.assertIn('unknown field "bogus"', r.stderr)
        self.assertIn("configmap/strict-cm created", r.stdout)


if __name__ == "__main__":
    unittest.main()
