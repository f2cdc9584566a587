"""Server-side Tables as `kubectl get` shows them for each built-in kind (columns and cells like
kube-apiserver 1.32's printers), and includeObject over raw HTTP."""

import harness

import json
import re
import unittest

from test_discovery import table

AGE = r"^\d+s$"
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class TablesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = harness.Kubesim().start()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def k(self, *args, **kw):
        return self.sim.kubectl(*args, **kw)

    def rows(self, *args):
        return table(self.k("get", *args).stdout)

    def create(self, obj):
        self.k("create", "-f", "-", input=json.dumps(obj))

    def test_deployment_columns(self):
        self.k("create", "deployment", "tbl-dep", "--image=nginx:1.25", "--replicas=2")
        rows = self.rows("deploy", "tbl-dep")
        self.assertEqual(list(rows[0]), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"])
        self.assertEqual(rows[0]["NAME"], "tbl-dep")
        self.assertRegex(rows[0]["READY"], r"^\d/2$")
        self.assertRegex(rows[0]["AGE"], AGE)
        wide = self.rows("deploy", "tbl-dep", "-o", "wide")
        self.assertEqual(list(wide[0]), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE",
                                         "CONTAINERS", "IMAGES", "SELECTOR"])
        self.assertEqual((wide[0]["CONTAINERS"], wide[0]["IMAGES"], wide[0]["SELECTOR"]),
                         ("nginx", "nginx:1.25", "app=tbl-dep"))
        # the simulated controller makes it ready: the READY column follows status
        self.sim.wait_for(lambda: self.rows("deploy", "tbl-dep")[0]["READY"] == "2/2",
                          timeout=30, message="deployment READY never reached 2/2")

    def test_pod_columns(self):
        self.k("run", "tbl-pod", "--image=busybox", "--restart=Never")
        rows = self.rows("po", "tbl-pod")
        self.assertEqual(list(rows[0]), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"])
        self.assertEqual((rows[0]["READY"], rows[0]["STATUS"], rows[0]["RESTARTS"]),
                         ("0/1", "Pending", "0"))
        wide = self.rows("po", "tbl-pod", "-o", "wide")
        self.assertEqual(list(wide[0]), ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP",
                                         "NODE", "NOMINATED NODE", "READINESS GATES"])
        self.assertEqual(wide[0]["IP"], "<none>")

    def test_service_columns(self):
        self.k("create", "service", "clusterip", "tbl-svc", "--tcp=80:8080")
        self.k("create", "service", "nodeport", "tbl-np", "--tcp=443:8443")
        rows = {r["NAME"]: r for r in self.rows("svc")}
        r = rows["tbl-svc"]
        self.assertEqual(list(r), ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"])
        self.assertEqual((r["TYPE"], r["EXTERNAL-IP"], r["PORT(S)"]),
                         ("ClusterIP", "<none>", "80/TCP"))
        self.assertRegex(r["CLUSTER-IP"], r"^10\.9[6-9]\.\d+\.\d+$")
        self.assertNotEqual(r["CLUSTER-IP"], rows["tbl-np"]["CLUSTER-IP"])
        self.assertRegex(rows["tbl-np"]["PORT(S)"], r"^443:3\d{4}/TCP$")
        wide = {r["NAME"]: r for r in self.rows("svc", "-o", "wide")}
        self.assertEqual(wide["tbl-svc"]["SELECTOR"], "app=tbl-svc")

    def test_namespace_configmap_secret_columns(self):
        self.k("create", "namespace", "tbl-ns")
        rows = {r["NAME"]: r for r in self.rows("ns")}
        self.assertEqual(list(rows["tbl-ns"]), ["NAME", "STATUS", "AGE"])
        self.assertEqual(rows["tbl-ns"]["STATUS"], "Active")
        self.k("create", "configmap", "tbl-cm", "--from-literal=a=1", "--from-literal=b=2")
        r = self.rows("cm", "tbl-cm")[0]
        self.assertEqual((list(r), r["DATA"]), (["NAME", "DATA", "AGE"], "2"))
        self.k("create", "secret", "generic", "tbl-sec", "--from-literal=a=1")
        r = self.rows("secret", "tbl-sec")[0]
        self.assertEqual(list(r), ["NAME", "TYPE", "DATA", "AGE"])
        self.assertEqual((r["TYPE"], r["DATA"]), ("Opaque", "1"))
        self.k("create", "secret", "docker-registry", "tbl-reg", "--docker-server=r.example",
               "--docker-username=u", "--docker-password=p")
        self.assertEqual(self.rows("secret", "tbl-reg")[0]["TYPE"],
                         "kubernetes.io/dockerconfigjson")

    def test_job_columns(self):
        self.k("create", "job", "tbl-job", "--image=busybox")
        r = self.rows("job", "tbl-job")[0]
        self.assertEqual(list(r), ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"])
        self.assertIn(r["STATUS"], ("Running", "Complete"))
        self.assertRegex(r["COMPLETIONS"], r"^[01]/1$")

    def test_event_columns(self):
        self.create({"apiVersion": "v1", "kind": "Event",
                     "metadata": {"name": "tbl-ev.1", "namespace": "default"},
                     "involvedObject": {"kind": "Deployment", "name": "web",
                                        "namespace": "default"},
                     "reason": "Promoted", "message": "canary promoted", "type": "Normal",
                     "firstTimestamp": "2026-01-01T00:00:00Z",
                     "lastTimestamp": "2026-01-01T00:00:00Z", "count": 3,
                     "source": {"component": "tollgate"}})
        rows = self.rows("ev")
        self.assertEqual(list(rows[0]), ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"])
        r = [x for x in rows if x["REASON"] == "Promoted"][0]
        self.assertEqual((r["TYPE"], r["OBJECT"], r["MESSAGE"]),
                         ("Normal", "deployment/web", "canary promoted"))
        self.assertRegex(r["LAST SEEN"], r"^\d+d$")
        wide = [x for x in self.rows("ev", "-o", "wide") if x["REASON"] == "Promoted"][0]
        self.assertEqual((wide["SOURCE"], wide["COUNT"], wide["NAME"]),
                         ("tollgate", "3", "tbl-ev.1"))
        # field selectors the real server supports for events
        out = self.k("get", "ev", "--field-selector", "involvedObject.kind=Deployment,"
                     "reason=Promoted", "-o", "name").stdout.split()
        self.assertEqual(out, ["event/tbl-ev.1"])
        r = self.k("get", "ev", "--field-selector", "spec.bogus=1", check=False)
        self.assertIn('field label not supported: spec.bogus', r.stderr)

    def test_events_k8s_io_events_show_in_kubectl_get_events(self):
        self.create({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                     "metadata": {"name": "tbl-ev2", "namespace": "default"},
                     "eventTime": "2026-01-01T00:00:00.000000Z",
                     "reportingController": "tollgate.example.com/operator",
                     "reportingInstance": "tollgate-0", "action": "Promote",
                     "reason": "Paused", "type": "Warning", "note": "waiting for approval",
                     "regarding": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": "paused-web", "namespace": "default"}})
        core = [r for r in self.rows("events") if r["REASON"] == "Paused"]
        self.assertEqual(len(core), 1, "an events.k8s.io/v1 Event must be listed by the core API")
        self.assertEqual((core[0]["TYPE"], core[0]["OBJECT"], core[0]["MESSAGE"]),
                         ("Warning", "deployment/paused-web", "waiting for approval"))
        obj = json.loads(self.k("get", "events.v1.", "tbl-ev2", "-o", "json").stdout)
        self.assertEqual((obj["apiVersion"], obj["involvedObject"]["name"], obj["message"],
                          obj["reportingComponent"]),
                         ("v1", "paused-web", "waiting for approval",
                          "tollgate.example.com/operator"))
        out = self.k("get", "events.events.k8s.io", "--field-selector",
                     "regarding.name=paused-web", "-o", "name").stdout.split()
        self.assertEqual(out, ["event.events.k8s.io/tbl-ev2"])

    def test_hpa_ingress_lease_columns(self):
        self.create({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                     "metadata": {"name": "tbl-hpa"},
                     "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                 "name": "web"},
                              "minReplicas": 2, "maxReplicas": 6,
                              "metrics": [{"type": "Resource", "resource": {
                                  "name": "cpu", "target": {"type": "Utilization",
                                                            "averageUtilization": 70}}}]}})
        r = self.rows("hpa", "tbl-hpa")[0]
        self.assertEqual(list(r), ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS",
                                   "REPLICAS", "AGE"])
        self.assertEqual((r["REFERENCE"], r["TARGETS"], r["MINPODS"], r["MAXPODS"]),
                         ("Deployment/web", "cpu: <unknown>/70%", "2", "6"))
        self.k("create", "ingress", "tbl-ing", "--class=nginx",
               "--rule=a.example/*=svc:80")
        r = self.rows("ing", "tbl-ing")[0]
        self.assertEqual(list(r), ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"])
        self.assertEqual((r["CLASS"], r["HOSTS"], r["PORTS"]), ("nginx", "a.example", "80"))
        self.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": "tbl-lease"},
                     "spec": {"holderIdentity": "tollgate-0", "leaseDurationSeconds": 15}})
        r = self.rows("leases", "tbl-lease")[0]
        self.assertEqual((list(r), r["HOLDER"]), (["NAME", "HOLDER", "AGE"], "tollgate-0"))

    def test_include_object_over_http(self):
        self.k("create", "configmap", "tbl-inc", "--from-literal=k=v")
        path = "/api/v1/namespaces/default/configmaps"
        st, h, t = self.sim.request("GET", path, headers={"Accept": TABLE_ACCEPT})
        self.assertEqual((st, t["kind"], t["apiVersion"]), (200, "Table", "meta.k8s.io/v1"))
        row = [r for r in t["rows"] if r["cells"][0] == "tbl-inc"][0]
        self.assertEqual(row["object"]["kind"], "PartialObjectMetadata")
        self.assertNotIn("data", row["object"])
        st, h, t = self.sim.request("GET", path + "?includeObject=Object",
                                    headers={"Accept": TABLE_ACCEPT})
        row = [r for r in t["rows"] if r["cells"][0] == "tbl-inc"][0]
        self.assertEqual(row["object"]["data"], {"k": "v"})
        st, h, t = self.sim.request("GET", path + "?includeObject=None",
                                    headers={"Accept": TABLE_ACCEPT})
        self.assertTrue(all("object" not in r for r in t["rows"]))
        self.assertTrue(re.match(r"^\d+$", t["metadata"]["resourceVersion"]))


if __name__ == "__main__":
    unittest.main()
