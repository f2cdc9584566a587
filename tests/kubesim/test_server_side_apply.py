"""Server-side apply and metadata.managedFields through real kubectl 1.32: `kubectl apply
--server-side` creates, the FieldsV1 shape (merge keys of built-ins, list-map keys and sets of
custom resources), re-apply is a no-op (same resourceVersion, no watch event), a conflicting
second manager gets 409 with kubectl's real error text, --force-conflicts takes over, an omitted
field is removed, --dry-run=server and diff --server-side, status writes of another manager do
not conflict, and the documented client-side -> server-side apply upgrade."""

from harness import Kubesim

import json
import unittest

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = {"Content-Type": "application/apply-patch+yaml"}

DEP = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: %(name)s
  labels: %(labels)s
spec:
  replicas: %(replicas)d
  selector:
    matchLabels: {app: %(name)s}
  template:
    metadata:
      labels: {app: %(name)s}
    spec:
      containers:
      - name: web
        image: nginx:%(tag)s
        ports:
        - containerPort: 80
"""

CONFLICT_HELP = """Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.ssa.example.com
spec:
  group: ssa.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties: {name: {type: string}, port: {type: integer}}
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
              args:
                type: array
                items: {type: string}
          status:
            type: object
            properties:
              phase: {type: string}
"""


def dep(name, replicas=2, tag="1", labels=None):
    return DEP % {"name": name, "replicas": replicas, "tag": tag,
                  "labels": json.dumps(labels or {"tier": "front"})}


class ServerSideApplyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim()
        cls.k.start()
        cls.k.kubectl("apply", "-f", "-", input=CRD)

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def get(self, *what):
        return json.loads(self.k.kubectl("get", *what, "-o", "json",
                                         "--show-managed-fields").stdout)

    def ssa(self, manifest, *flags, check=True):
        return self.k.kubectl("apply", "--server-side", *flags, "-f", "-", input=manifest,
                              check=check)

    @staticmethod
    def clients(obj):
        """The managedFields entries of clients (the Deployment controller's status aside)."""
        return [e for e in obj["metadata"].get("managedFields", [])
                if e["manager"] != "kube-controller-manager"]

    def managers(self, obj):
        return {(e["manager"], e["operation"], e.get("subresource", "")): e
                for e in obj["metadata"].get("managedFields", [])}

    def test_apply_creates_with_managed_fields(self):
        r = self.ssa(dep("create"))
        self.assertEqual(r.stdout, "deployment.apps/create serverside-applied\n")
        d = self.get("deployment", "create")
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1")
        self.assertEqual(d["spec"]["progressDeadlineSeconds"], 600, "defaults applied")
        [entry] = self.clients(d)
        self.assertEqual({k: v for k, v in entry.items() if k not in ("time", "fieldsV1")},
                         {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
                          "fieldsType": "FieldsV1"})
        self.assertRegex(entry["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(entry["fieldsV1"], {
            "f:metadata": {"f:labels": {"f:tier": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {'k:{"name":"web"}': {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {
                            ".": {}, "f:containerPort": {}}}}}}}}},
            "only the applied fields, keyed by the merge keys (protocol defaulted into the key)")

    def test_reapply_is_a_no_op(self):
        self.ssa(dep("noop"))
        before = self.get("deployment", "noop")
        rv = before["metadata"]["resourceVersion"]
        r = self.ssa(dep("noop"))
        self.assertEqual(r.stdout, "deployment.apps/noop serverside-applied\n")
        after = self.get("deployment", "noop")
        self.assertEqual(after["metadata"]["resourceVersion"], rv)
        self.assertEqual(after["metadata"]["managedFields"], before["metadata"]["managedFields"])
        status, _, body = self.k.request(
            "GET", DEPLOYS + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv)
        self.assertEqual(status, 200)
        self.assertNotIn("noop", body if isinstance(body, str) else json.dumps(body),
                         "no watch event after a no-op apply")

    def test_dry_run_server_and_diff(self):
        r = self.ssa(dep("dry"), "--dry-run=server")
        self.assertEqual(r.stdout, "deployment.apps/dry serverside-applied (server dry run)\n")
        self.assertEqual(self.k.request("GET", DEPLOYS + "/dry")[0], 404, "nothing created")
        self.ssa(dep("dry"))
        rv = self.get("deployment", "dry")["metadata"]["resourceVersion"]
        r = self.ssa(dep("dry", replicas=5), "--dry-run=server", "-o", "json")
        self.assertEqual(json.loads(r.stdout)["spec"]["replicas"], 5)
        d = self.get("deployment", "dry")
        self.assertEqual((d["metadata"]["resourceVersion"], d["spec"]["replicas"]), (rv, 2))
        r = self.k.kubectl("diff", "--server-side", "-f", "-", input=dep("dry", replicas=5),
                           check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("-  replicas: 2\n+  replicas: 5\n", r.stdout)

    def test_conflict_then_force_conflicts(self):
        self.ssa(dep("conf", replicas=2))
        r = self.ssa(dep("conf", replicas=3), "--field-manager=other", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, 'error: Apply failed with 1 conflict: conflict with "kubectl":'
                                   ' .spec.replicas\n' + CONFLICT_HELP)
        self.assertEqual(self.get("deployment", "conf")["spec"]["replicas"], 2, "nothing changed")
        config = json.loads(self.k.kubectl("create", "--dry-run=client", "-o", "json", "-f", "-",
                                           input=dep("conf", replicas=4, tag="2")).stdout)
        status, _, body = self.k.request("PATCH", DEPLOYS + "/conf?fieldManager=raw",
                                         json.dumps(config), headers=APPLY)
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        self.assertEqual(body["message"], 'Apply failed with 2 conflicts: conflicts with '
                                          '"kubectl":\n- .spec.replicas\n- .spec.template.spec.'
                                          'containers[name="web"].image')
        self.assertEqual(body["details"], {"causes": [
            {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"',
             "field": ".spec.replicas"},
            {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"',
             "field": '.spec.template.spec.containers[name="web"].image'}]})
        # an Update manager is named with its apiVersion
        self.k.kubectl("patch", "deployment", "conf", "--type=merge",
                       "-p", '{"spec":{"minReadySeconds":5}}')
        r = self.k.kubectl("apply", "--server-side", "--field-manager=other", "-f", "-",
                           input=dep("conf").replace("replicas: 2", "replicas: 2\n"
                                                     "  minReadySeconds: 7"), check=False)
        self.assertTrue(r.stderr.startswith(
            'error: Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: '
            '.spec.minReadySeconds\n'), r.stderr)
        # --force-conflicts takes the field over
        self.ssa(dep("conf", replicas=3), "--field-manager=other", "--force-conflicts")
        d = self.get("deployment", "conf")
        self.assertEqual(d["spec"]["replicas"], 3)
        m = self.managers(d)
        self.assertIn("f:replicas", m[("other", "Apply", "")]["fieldsV1"]["f:spec"])
        self.assertNotIn("f:replicas", m[("kubectl", "Apply", "")]["fieldsV1"]["f:spec"])
        self.assertIn("f:selector", m[("kubectl", "Apply", "")]["fieldsV1"]["f:spec"],
                      "co-owned fields stay with both")

    def test_update_takes_fields_from_other_managers(self):
        self.ssa(dep("upd", replicas=2))
        self.k.kubectl("scale", "deployment", "upd", "--replicas=5")
        d = self.get("deployment", "upd")
        m = self.managers(d)
        self.assertNotIn("f:replicas", m[("kubectl", "Apply", "")]["fieldsV1"]["f:spec"])
        self.assertEqual(m[("kubectl", "Update", "scale")]["fieldsV1"],
                         {"f:spec": {"f:replicas": {}}})
        self.k.kubectl("label", "deployment", "upd", "extra=1")
        m = self.managers(self.get("deployment", "upd"))
        self.assertEqual(m[("kubectl-label", "Update", "")]["fieldsV1"],
                         {"f:metadata": {"f:labels": {"f:extra": {}}}})
        # no fieldManager: the User-Agent up to its first "/"
        status, _, body = self.k.request(
            "PATCH", DEPLOYS + "/upd", json.dumps({"spec": {"minReadySeconds": 3}}),
            headers={"Content-Type": "application/merge-patch+json",
                     "User-Agent": "my-controller/v1.2 (linux/amd64)"})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.managers(body)[("my-controller", "Update", "")]["fieldsV1"],
                         {"f:spec": {"f:minReadySeconds": {}}})
        # a built-in's /status applied by a controller
        st = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "upd"},
              "status": {"observedGeneration": 99}}
        status, _, body = self.k.request("PATCH", DEPLOYS + "/upd/status?fieldManager=st"
                                         "&force=true", json.dumps(st), headers=APPLY)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.managers(body)[("st", "Apply", "status")]["fieldsV1"],
                         {"f:status": {"f:observedGeneration": {}}})

    def test_create_owns_what_it_sent_and_the_defaults(self):
        self.k.kubectl("create", "deployment", "made", "--image=nginx")
        [entry] = self.clients(self.get("deployment", "made"))
        self.assertEqual((entry["manager"], entry["operation"], entry["apiVersion"]),
                         ("kubectl-create", "Update", "apps/v1"))
        self.assertEqual(entry["fieldsV1"], {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {},
                "f:selector": {},
                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {},
                                                   "f:maxUnavailable": {}},
                               "f:type": {}},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {
                        "f:containers": {'k:{"name":"nginx"}': {
                            ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                            "f:resources": {}, "f:terminationMessagePath": {},
                            "f:terminationMessagePolicy": {}}},
                        "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {},
                        "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}}})
        # the same manager's next write adds to its entry; a no-op write changes nothing
        self.k.kubectl("annotate", "deployment", "made", "a=1", "--field-manager=kubectl-create")
        d = self.get("deployment", "made")
        [entry] = self.clients(d)
        self.assertEqual(entry["fieldsV1"]["f:metadata"]["f:annotations"],
                         {".": {}, "f:a": {}})
        status, _, body = self.k.request("PUT", DEPLOYS + "/made?fieldManager=noop", d)
        self.assertEqual(status, 200)
        self.assertEqual(body["metadata"]["resourceVersion"], d["metadata"]["resourceVersion"])
        self.assertNotIn("noop", json.dumps(body["metadata"]["managedFields"]))

    def test_object_without_managed_fields_is_before_first_apply(self):
        ns = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "default", "labels": {"team": "a"}}}
        r = self.ssa(json.dumps(ns), "--field-manager=labeller")
        self.assertEqual(r.stdout, "namespace/default serverside-applied\n", r.stderr)
        m = self.managers(self.get("namespace", "default"))
        self.assertEqual(m[("labeller", "Apply", "")]["fieldsV1"],
                         {"f:metadata": {"f:labels": {"f:team": {}}}})
        self.assertEqual(m[("before-first-apply", "Update", "")]["fieldsV1"],
                         {"f:metadata": {"f:labels": {".": {},
                                                      "f:kubernetes.io/metadata.name": {}}},
                          "f:spec": {"f:finalizers": {}}})
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"] = "other"
        r = self.ssa(json.dumps(ns), "--field-manager=labeller", check=False)
        self.assertIn('conflict with "before-first-apply" using v1: '
                      '.metadata.labels.kubernetes.io/metadata.name', r.stderr)

    def test_controller_status_is_kube_controller_manager_s(self):
        self.ssa(dep("ctl", replicas=1))

        def status_entry():
            d = self.get("deployment", "ctl")
            return self.managers(d).get(("kube-controller-manager", "Update", "status"))
        e = self.k.wait_for(lambda: status_entry() if (status_entry() or {}).get(
            "fieldsV1", {}).get("f:status", {}).get("f:readyReplicas") is not None else None,
            timeout=20, message="the Deployment controller's status write is recorded")
        self.assertEqual(e["apiVersion"], "apps/v1")
        self.assertNotIn("f:spec", e["fieldsV1"])
        # and the applier's next apply of a changed spec does not conflict with it
        self.ssa(dep("ctl", replicas=2))

    def test_omitted_field_is_removed_unless_owned_by_another(self):
        self.ssa(dep("omit", labels={"tier": "front", "team": "a"}))
        self.ssa(dep("omit", labels={"tier": "front", "shared": "x"}), "--field-manager=second")
        self.ssa(dep("omit", labels={"tier": "front", "shared": "x"}))
        self.ssa(dep("omit", labels={"tier": "front"}))
        labels = self.get("deployment", "omit")["metadata"]["labels"]
        self.assertNotIn("team", labels, "applied before, omitted now: removed")
        self.assertEqual(labels.get("shared"), "x", "still owned by the second manager")
        self.assertEqual(labels.get("tier"), "front")

    def test_custom_resource_lists_and_status_writes(self):
        g = {"apiVersion": "ssa.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"},
             "spec": {"size": 1, "ports": [{"name": "http", "port": 80}], "tags": ["a", "b"],
                      "args": ["x"]}}
        self.ssa(json.dumps(g))
        self.k.kubectl("patch", "gadget", "g", "--subresource=status", "--type=merge",
                       "--field-manager=ctrl", "-p", '{"status":{"phase":"Ready"}}')
        o = self.get("gadget", "g")
        m = self.managers(o)
        self.assertEqual(m[("kubectl", "Apply", "")]["fieldsV1"], {"f:spec": {
            "f:args": {}, "f:ports": {'k:{"name":"http"}': {".": {}, "f:name": {}, "f:port": {}}},
            "f:size": {}, "f:tags": {'v:"a"': {}, 'v:"b"': {}}}})
        self.assertEqual(m[("ctrl", "Update", "status")]["fieldsV1"],
                         {"f:status": {".": {}, "f:phase": {}}},
                         "an update that adds a map owns the map itself too")
        self.assertEqual(m[("ctrl", "Update", "status")]["apiVersion"], "ssa.example.com/v1")
        g["spec"]["size"] = 2
        g["spec"]["ports"].append({"name": "https", "port": 443})
        self.ssa(json.dumps(g))
        o = self.get("gadget", "g")
        self.assertEqual(o["status"], {"phase": "Ready"}, "status kept")
        self.assertEqual(o["spec"]["size"], 2)
        # status applied by another manager through /status: no conflict with the spec's owner
        st = {"apiVersion": "ssa.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"},
              "status": {"phase": "Done"}}
        status, _, body = self.k.request(
            "PATCH", "/apis/ssa.example.com/v1/namespaces/default/gadgets/g/status"
            "?fieldManager=ctrl2", json.dumps(st), headers=APPLY)
        self.assertEqual(status, 409, "ctrl owns status.phase")
        self.assertEqual(body["message"], 'Apply failed with 1 conflict: conflict with "ctrl" '
                                          'with subresource "status" using ssa.example.com/v1: '
                                          '.status.phase')
        status, _, body = self.k.request(
            "PATCH", "/apis/ssa.example.com/v1/namespaces/default/gadgets/g/status"
            "?fieldManager=ctrl2&force=true", json.dumps(st), headers=APPLY)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], {"phase": "Done"})
        m = self.managers(body)
        self.assertEqual(m[("ctrl", "Update", "status")]["fieldsV1"], {"f:status": {}},
                         "the forced field moved; ctrl keeps only the status map itself")
        self.assertEqual(m[("ctrl2", "Apply", "status")]["fieldsV1"],
                         {"f:status": {"f:phase": {}}})

    def test_client_side_to_server_side_upgrade(self):
        self.k.kubectl("apply", "-f", "-", input=dep("upgrade", labels={"tier": "front",
                                                                          "old": "1"}))
        d = self.get("deployment", "upgrade")
        m = self.managers(d)
        self.assertEqual([k for k in m if k[0] != "kube-controller-manager"],
                         [("kubectl-client-side-apply", "Update", "")])
        self.assertIn("f:progressDeadlineSeconds",
                      m[("kubectl-client-side-apply", "Update", "")]["fieldsV1"]["f:spec"],
                      "a create owns what it sent and what was defaulted")
        # changed replicas is owned by kubectl-client-side-apply: no conflict for "kubectl"
        r = self.ssa(dep("upgrade", replicas=3, labels={"tier": "front", "old": "1"}))
        self.assertEqual(r.stdout, "deployment.apps/upgrade serverside-applied\n", r.stderr)
        d = self.get("deployment", "upgrade")
        self.assertEqual(d["spec"]["replicas"], 3)
        m = self.managers(d)
        self.assertNotIn(("kubectl-client-side-apply", "Update", ""), m,
                         "kubectl moved the client-side apply fields to its apply manager")
        self.assertIn(("kubectl", "Apply", ""), m)
        self.assertEqual(m[("kubectl-last-applied", "Apply", "")]["fieldsV1"],
                         {"f:metadata": {"f:annotations": {
                             "f:kubectl.kubernetes.io/last-applied-configuration": {}}}},
                         "kubectl keeps the annotation owned by its own apply manager")
        last = json.loads(d["metadata"]["annotations"]["kubectl.kubernetes.io/"
                                                       "last-applied-configuration"])
        self.assertEqual(last["spec"]["replicas"], 3, "the annotation follows server-side apply")
        # a field dropped from the manifest is now removed
        self.ssa(dep("upgrade", replicas=3, labels={"tier": "front"}))
        d = self.get("deployment", "upgrade")
        self.assertNotIn("old", d["metadata"]["labels"])
        # other managers still conflict
        r = self.ssa(dep("upgrade", replicas=1), "--field-manager=else", check=False)
        self.assertIn('conflict with "kubectl"', r.stderr)


if __name__ == "__main__":
    unittest.main()
