"""kubesim object semantics, through real kubectl where kubectl can express the behaviour and raw
HTTP otherwise: metadata the server sets, create/get/list/update/delete rules, finalizers,
propagation and garbage collection, namespaces, errors as Status objects, dryRun, Tables,
and kubectl's protobuf-sending `create` generators."""

import json
import re
import unittest

from harness import Kubesim

NS = "/api/v1/namespaces/default"


def cm(name, labels=None, **meta):
    m = {"name": name}
    if labels:
        m["labels"] = labels
    m.update(meta)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m, "data": {"k": "v"}}


def deployment(name, replicas=1, annotations=None):
    tmpl_meta = {"labels": {"app": name}}
    if annotations:
        tmpl_meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": tmpl_meta,
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}


class ObjectsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim().start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def apply(self, obj):
        return self.k.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def get(self, *args):
        return json.loads(self.k.kubectl("get", *args, "-o", "json").stdout)

    def post(self, path, obj, query=""):
        return self.k.request("POST", path + query, obj)

    # ---------------------------------------------------------------- metadata
    def test_create_sets_uid_timestamp_resource_version_and_generation(self):
        self.apply(deployment("meta-d"))
        d = self.get("deployment", "meta-d")
        m = d["metadata"]
        self.assertRegex(m["uid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        self.assertRegex(m["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(m["resourceVersion"].isdigit())
        self.assertEqual(m["generation"], 1)
        self.apply(cm("meta-cm"))
        c = self.get("configmap", "meta-cm")
        self.assertNotIn("generation", c["metadata"], "ConfigMaps have no generation")
        self.assertGreater(int(c["metadata"]["resourceVersion"]), int(m["resourceVersion"]))

    def test_one_resource_version_counter_across_resources(self):
        _, _, a = self.post(NS + "/configmaps", cm("rv-a"))
        _, _, s = self.post(NS + "/secrets", {"apiVersion": "v1", "kind": "Secret",
                                              "metadata": {"name": "rv-s"}})
        _, _, b = self.post(NS + "/configmaps", cm("rv-b"))
        rvs = [int(o["metadata"]["resourceVersion"]) for o in (a, s, b)]
        self.assertEqual(rvs, sorted(rvs))
        self.assertEqual(len(set(rvs)), 3)
        status, _, lst = self.k.request("GET", NS + "/configmaps")
        self.assertGreaterEqual(int(lst["metadata"]["resourceVersion"]), rvs[-1])

    def test_create_twice_is_already_exists(self):
        self.k.kubectl("create", "configmap", "dup")
        r = self.k.kubectl("create", "configmap", "dup", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('configmaps "dup" already exists', r.stderr)
        status, _, body = self.post(NS + "/configmaps", cm("dup"))
        self.assertEqual(status, 409)
        self.assertEqual(body["reason"], "AlreadyExists")
        self.assertEqual(body["details"], {"name": "dup", "kind": "configmaps"})

    def test_generate_name(self):
        obj = cm("")
        del obj["metadata"]["name"]
        obj["metadata"]["generateName"] = "gen-"
        out = self.k.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(obj)).stdout
        name = json.loads(out)["metadata"]["name"]
        self.assertRegex(name, r"^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$")
        self.get("configmap", name)

    def test_namespace_must_exist(self):
        r = self.k.kubectl("create", "configmap", "x", "-n", "nope", check=False)
        self.assertIn('namespaces "nope" not found', r.stderr)
        status, _, body = self.post("/api/v1/namespaces/nope/configmaps", cm("x"))
        self.assertEqual((status, body["reason"]), (404, "NotFound"))
        self.assertEqual(body["message"], 'namespaces "nope" not found')

    def test_namespace_mismatch_is_bad_request(self):
        obj = cm("mm")
        obj["metadata"]["namespace"] = "kube-system"
        status, _, body = self.post(NS + "/configmaps", obj)
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))
        self.assertIn("does not match the namespace sent on the request", body["message"])

    def test_get_missing_is_not_found(self):
        r = self.k.kubectl("get", "deployment", "missing", check=False)
        self.assertIn('Error from server (NotFound): deployments.apps "missing" not found', r.stderr)
        status, _, body = self.k.request("GET", "/apis/apps/v1/namespaces/default/deployments/missing")
        self.assertEqual(status, 404)
        self.assertEqual(body["details"], {"name": "missing", "group": "apps", "kind": "deployments"})

    # ---------------------------------------------------------------- list
    def test_list_label_selectors(self):
        for name, labels in [("ls-a", {"env": "a", "tier": "web"}), ("ls-b", {"env": "b"}),
                             ("ls-c", {"env": "c", "tier": "db"}), ("ls-d", {"other": "x"})]:
            self.apply(cm(name, labels))

        def names(sel):
            out = self.k.kubectl("get", "cm", "-l", sel, "-o", "jsonpath={.items[*].metadata.name}").stdout
            return sorted(n for n in out.split() if n.startswith("ls-"))
        self.assertEqual(names("env=a"), ["ls-a"])
        self.assertEqual(names("env==b"), ["ls-b"])
        self.assertEqual(names("env!=a,env"), ["ls-b", "ls-c"])
        self.assertEqual(names("env in (a,c)"), ["ls-a", "ls-c"])
        self.assertEqual(names("env notin (a,c),env"), ["ls-b"])
        self.assertEqual(names("tier"), ["ls-a", "ls-c"])
        self.assertEqual(names("!env,other"), ["ls-d"])
        r = self.k.kubectl("get", "cm", "-l", "env in (a", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_list_field_selectors(self):
        self.apply(cm("fs-one"))
        out = self.k.kubectl("get", "cm", "--field-selector", "metadata.name=fs-one",
                             "-o", "jsonpath={.items[*].metadata.name}").stdout
        self.assertEqual(out.split(), ["fs-one"])
        out = self.k.kubectl("get", "cm", "-A", "--field-selector",
                             "metadata.namespace!=default", "-o", "json").stdout
        self.assertTrue(all(i["metadata"]["namespace"] != "default" for i in json.loads(out)["items"]))
        status, _, body = self.k.request("GET", NS + "/secrets?fieldSelector=type%3DOpaque")
        self.assertEqual(status, 200, body)
        status, _, body = self.k.request("GET", NS + "/configmaps?fieldSelector=spec.x%3Dy")
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))
        self.assertIn("spec.x", body["message"])

    def test_list_limit_and_continue(self):
        for i in range(5):
            self.apply(cm("page-%d" % i, {"paging": "yes"}))
        seen, cont, rvs, pages = [], "", set(), 0
        while True:
            q = "?labelSelector=paging%3Dyes&limit=2" + ("&continue=" + cont if cont else "")
            status, _, body = self.k.request("GET", NS + "/configmaps" + q)
            self.assertEqual(status, 200, body)
            pages += 1
            seen += [i["metadata"]["name"] for i in body["items"]]
            rvs.add(body["metadata"]["resourceVersion"])
            cont = body["metadata"].get("continue")
            if not cont:
                break
        self.assertEqual(seen, ["page-%d" % i for i in range(5)])
        self.assertEqual(pages, 3)
        self.assertEqual(len(rvs), 1, "all pages come from one snapshot")
        # without selectors the server reports how many items remain
        status, _, body = self.k.request("GET", "/api/v1/namespaces/default/configmaps?limit=1")
        self.assertGreaterEqual(body["metadata"]["remainingItemCount"], 4)
        # kubectl pages through everything with --chunk-size
        out = self.k.kubectl("get", "cm", "-l", "paging=yes", "--chunk-size=1", "-o", "name").stdout
        self.assertEqual(len(out.split()), 5)

    def test_paging_across_namespaces_sees_every_item_once(self):
        for ns in ("pg", "pg-b"):
            self.k.kubectl("create", "namespace", ns)
            for n in ("z", "a"):
                self.k.kubectl("create", "configmap", "pgx-" + n, "-n", ns)
        seen, cont = [], ""
        while True:
            q = "?limit=1" + ("&continue=" + cont if cont else "")
            _, _, body = self.k.request("GET", "/api/v1/configmaps" + q)
            seen += [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]]
            cont = body["metadata"].get("continue")
            if not cont:
                break
        mine = [x for x in seen if x[1].startswith("pgx-")]
        self.assertEqual(sorted(mine), sorted(set(mine)))
        self.assertEqual(len(mine), 4)

    def test_list_items_of_builtin_lists_carry_no_kind(self):
        self.apply(cm("kindless"))
        _, _, body = self.k.request("GET", NS + "/configmaps")
        self.assertEqual((body["kind"], body["apiVersion"]), ("ConfigMapList", "v1"))
        self.assertTrue(body["items"])
        self.assertNotIn("kind", body["items"][0])

    def test_list_all_namespaces(self):
        self.k.kubectl("create", "namespace", "allns")
        self.k.kubectl("create", "configmap", "in-allns", "-n", "allns")
        out = self.k.kubectl("get", "cm", "-A", "-o", "json").stdout
        found = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in json.loads(out)["items"]}
        self.assertIn(("allns", "in-allns"), found)

    # ---------------------------------------------------------------- update
    def test_update_with_stale_resource_version_conflicts(self):
        self.apply(deployment("conflict-d"))
        d = self.get("deployment", "conflict-d")
        self.k.kubectl("label", "deployment", "conflict-d", "x=1")
        d["spec"]["replicas"] = 3
        r = self.k.kubectl("replace", "-f", "-", input=json.dumps(d), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('Operation cannot be fulfilled on deployments.apps "conflict-d": the object '
                      'has been modified; please apply your changes to the latest version and '
                      'try again', r.stderr)
        status, _, body = self.k.request("PUT", "/apis/apps/v1/namespaces/default/deployments/conflict-d", d)
        self.assertEqual((status, body["reason"]), (409, "Conflict"))

    def test_update_without_resource_version_is_unconditional(self):
        self.apply(cm("uncond"))
        obj = cm("uncond")
        obj["data"] = {"k": "new"}
        status, _, body = self.k.request("PUT", NS + "/configmaps/uncond", obj)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.get("cm", "uncond")["data"], {"k": "new"})

    def test_update_that_changes_nothing_keeps_resource_version(self):
        self.apply(cm("noop"))
        cur = self.get("cm", "noop")
        status, _, body = self.k.request("PUT", NS + "/configmaps/noop", cur)
        self.assertEqual(status, 200)
        self.assertEqual(body["metadata"]["resourceVersion"], cur["metadata"]["resourceVersion"])

    def test_update_name_mismatch_is_bad_request(self):
        self.apply(cm("nm"))
        status, _, body = self.k.request("PUT", NS + "/configmaps/nm", cm("other"))
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))

    def test_update_of_missing_object_is_not_found(self):
        r = self.k.kubectl("replace", "-f", "-", input=json.dumps(cm("ghost")), check=False)
        self.assertIn('configmaps "ghost" not found', r.stderr)

    def test_generation_follows_spec_changes_only(self):
        self.apply(deployment("gen-d"))
        gen = lambda: self.get("deployment", "gen-d")["metadata"]["generation"]  # noqa: E731
        self.assertEqual(gen(), 1)
        self.k.kubectl("label", "deployment", "gen-d", "team=x")
        self.assertEqual(gen(), 1, "label changes do not bump generation")
        self.k.kubectl("patch", "deployment", "gen-d", "--type=merge", "-p", '{"spec":{"replicas":2}}')
        self.assertEqual(gen(), 2)
        self.k.kubectl("patch", "deployment", "gen-d", "--subresource=status", "--type=merge",
                       "-p", '{"status":{"replicas":7}}')
        self.assertEqual(gen(), 2, "status changes do not bump generation")
        self.k.kubectl("annotate", "deployment", "gen-d", "note=y")
        self.assertEqual(gen(), 3, "the deployment strategy bumps generation on annotation changes")

    def test_status_subresource_writes_only_status(self):
        self.apply(deployment("st-d", replicas=1))
        d = self.get("deployment", "st-d")
        d["spec"]["replicas"] = 5
        d["status"] = {"replicas": 42, "observedGeneration": 1}
        status, _, body = self.k.request(
            "PUT", "/apis/apps/v1/namespaces/default/deployments/st-d/status", d)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["spec"]["replicas"], 1, "a /status write leaves spec alone")
        self.assertEqual(body["status"]["replicas"], 42)
        d = self.get("deployment", "st-d")
        d["status"] = {"replicas": 1000}
        d["metadata"].pop("resourceVersion")
        d["spec"]["replicas"] = 2
        status, _, body = self.k.request("PUT", "/apis/apps/v1/namespaces/default/deployments/st-d", d)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["spec"]["replicas"], 2)
        self.assertNotEqual(body["status"].get("replicas"), 1000, "a main write leaves status alone")

    # ---------------------------------------------------------------- delete
    def test_delete_returns_status(self):
        self.apply(cm("del-me"))
        uid = self.get("cm", "del-me")["metadata"]["uid"]
        status, _, body = self.k.request("DELETE", NS + "/configmaps/del-me")
        self.assertEqual(status, 200)
        self.assertEqual(body["kind"], "Status")
        self.assertEqual(body["status"], "Success")
        self.assertEqual(body["details"], {"name": "del-me", "kind": "configmaps", "uid": uid})
        status, _, body = self.k.request("DELETE", NS + "/configmaps/del-me")
        self.assertEqual((status, body["reason"]), (404, "NotFound"))

    def test_delete_with_finalizer_waits_for_it(self):
        self.apply(cm("fin", finalizers=["example.com/hold"]))
        self.k.kubectl("delete", "cm", "fin", "--wait=false")
        c = self.get("cm", "fin")
        self.assertIn("deletionTimestamp", c["metadata"])
        self.assertEqual(c["metadata"]["deletionGracePeriodSeconds"], 0)
        # no new finalizers on an object being deleted
        r = self.k.kubectl("patch", "cm", "fin", "--type=merge", "-p",
                           '{"metadata":{"finalizers":["example.com/hold","example.com/new"]}}',
                           check=False)
        self.assertIn("no new finalizers can be added if the object is being deleted", r.stderr)
        self.k.kubectl("patch", "cm", "fin", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        r = self.k.kubectl("get", "cm", "fin", check=False)
        self.assertIn("NotFound", r.stderr)

    def test_delete_preconditions(self):
        self.apply(cm("precond"))
        status, _, body = self.k.request("DELETE", NS + "/configmaps/precond",
                                         {"preconditions": {"uid": "not-the-uid"}})
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        self.assertIn("Precondition failed: UID in precondition: not-the-uid", body["message"])

    def owner_and_dependent(self, prefix, block=False):
        owner = self.post(NS + "/configmaps", cm(prefix + "-owner"))[2]
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
               "uid": owner["metadata"]["uid"]}
        if block:
            ref["blockOwnerDeletion"] = True
        dep = cm(prefix + "-dep", ownerReferences=[ref])
        status, _, body = self.post(NS + "/configmaps", dep)
        self.assertEqual(status, 201, body)
        return owner, body

    def exists(self, name):
        return self.k.request("GET", NS + "/configmaps/" + name)[0] == 200

    def test_garbage_collection_background(self):
        self.owner_and_dependent("gcb")
        self.k.kubectl("delete", "cm", "gcb-owner")
        self.k.wait_for(lambda: not self.exists("gcb-dep"), message="dependent collected")

    def test_garbage_collection_orphan(self):
        self.owner_and_dependent("gco")
        self.k.kubectl("delete", "cm", "gco-owner", "--cascade=orphan")
        self.k.wait_for(lambda: not self.exists("gco-owner"), message="owner deleted")
        dep = self.get("cm", "gco-dep")
        self.assertNotIn("ownerReferences", dep["metadata"])

    def test_garbage_collection_foreground(self):
        owner, dep = self.owner_and_dependent("gcf", block=True)
        status, _, body = self.k.request("DELETE", NS + "/configmaps/gcf-owner",
                                         {"propagationPolicy": "Foreground"})
        self.assertIn(status, (200, 202))
        self.assertIn("foregroundDeletion", body["metadata"]["finalizers"])
        self.assertIn("deletionTimestamp", body["metadata"])
        self.k.wait_for(lambda: not self.exists("gcf-dep") and not self.exists("gcf-owner"),
                        message="dependent, then owner deleted")

    def test_dependent_of_missing_owner_is_collected(self):
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "never", "uid": "0000-dead"}
        self.post(NS + "/configmaps", cm("orphaned", ownerReferences=[ref]))
        self.k.wait_for(lambda: not self.exists("orphaned"), message="dangling dependent collected")

    def test_owner_in_another_namespace_does_not_count(self):
        owner = self.post("/api/v1/namespaces/kube-public/configmaps", cm("xns-owner"))[2]
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "xns-owner",
               "uid": owner["metadata"]["uid"]}
        self.post(NS + "/configmaps", cm("xns-dep", ownerReferences=[ref]))
        self.k.wait_for(lambda: not self.exists("xns-dep"),
                        message="owner references are namespace-local")

    def test_namespace_deletion_removes_contents(self):
        self.k.kubectl("create", "namespace", "doomed")
        self.k.kubectl("create", "configmap", "c", "-n", "doomed")
        self.post("/api/v1/namespaces/doomed/configmaps", cm("held", finalizers=["example.com/x"]))
        self.k.kubectl("delete", "namespace", "doomed", "--wait=false")
        ns = self.get("namespace", "doomed")
        self.assertEqual(ns["status"]["phase"], "Terminating")
        self.k.wait_for(lambda: self.k.request("GET", "/api/v1/namespaces/doomed/configmaps/c")[0] == 404,
                        message="contents deleted")
        r = self.k.kubectl("delete", "namespace", "doomed", "--wait=false", check=False)
        self.assertIn("The system is ensuring all content is removed from this namespace", r.stderr)
        status, _, body = self.post("/api/v1/namespaces/doomed/configmaps", cm("late"))
        self.assertEqual((status, body["reason"]), (403, "Forbidden"))
        self.assertIn("because it is being terminated", body["message"])
        self.k.kubectl("patch", "cm", "held", "-n", "doomed", "--type=merge",
                       "-p", '{"metadata":{"finalizers":null}}')
        self.k.wait_for(lambda: self.k.request("GET", "/api/v1/namespaces/doomed")[0] == 404,
                        message="namespace gone")

    def test_protected_namespaces_cannot_be_deleted(self):
        r = self.k.kubectl("delete", "namespace", "default", check=False)
        self.assertIn('namespaces "default" is forbidden: this namespace may not be deleted', r.stderr)
        self.assertEqual(self.get("namespace", "default")["status"]["phase"], "Active")

    def test_job_deletion_defaults_to_orphan_with_a_warning(self):
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "orphan-job"},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                                              "containers": [{"name": "c", "image": "busybox"}]}}}}
        self.apply(job)
        status, headers, body = self.k.request("DELETE", "/apis/batch/v1/namespaces/default/jobs/orphan-job")
        self.assertEqual(status, 200)
        self.assertIn("orphan", body["metadata"]["finalizers"])
        self.assertTrue(any("child pods are preserved by default" in w for w in headers["_warnings"]))
        self.k.wait_for(lambda: self.k.request("GET", "/apis/batch/v1/namespaces/default/jobs/orphan-job")[0] == 404,
                        message="job deleted once the orphan finalizer is processed")

    def test_deletecollection(self):
        for i in range(3):
            self.apply(cm("dc-%d" % i, {"dc": "yes"}))
        self.apply(cm("dc-keep", {"dc": "no"}))
        status, _, body = self.k.request("DELETE", NS + "/configmaps?labelSelector=dc%3Dyes")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["kind"], "ConfigMapList")
        self.assertEqual(sorted(i["metadata"]["name"] for i in body["items"]), ["dc-0", "dc-1", "dc-2"])
        self.assertFalse(self.exists("dc-0"))
        self.assertTrue(self.exists("dc-keep"))
        self.k.kubectl("delete", "cm", "-l", "dc=no")
        self.assertFalse(self.exists("dc-keep"))

    def test_lease_leader_election_round_trip(self):
        path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "tollgate-leader"},
                 "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                          "acquireTime": "2026-01-01T00:00:00.000000Z",
                          "renewTime": "2026-01-01T00:00:00.000000Z", "leaseTransitions": 0}}
        status, _, a = self.post(path, lease)
        self.assertEqual(status, 201, a)
        self.assertNotIn("generation", a["metadata"])
        self.assertEqual(a["spec"]["renewTime"], "2026-01-01T00:00:00.000000Z")
        renewed = json.loads(json.dumps(a))
        renewed["spec"]["renewTime"] = "2026-01-01T00:00:05.000000Z"
        status, _, b = self.k.request("PUT", path + "/tollgate-leader", renewed)
        self.assertEqual(status, 200, b)
        takeover = json.loads(json.dumps(a))  # a second candidate with the old resourceVersion
        takeover["spec"]["holderIdentity"] = "b"
        status, _, c = self.k.request("PUT", path + "/tollgate-leader", takeover)
        self.assertEqual((status, c["reason"]), (409, "Conflict"))
        self.assertIn('Operation cannot be fulfilled on leases.coordination.k8s.io "tollgate-leader"',
                      c["message"])

    def test_events_share_storage_between_api_groups(self):
        ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
              "metadata": {"name": "ev1"}, "eventTime": "2026-01-01T00:00:00.000000Z",
              "reportingController": "tollgate.io/operator", "reportingInstance": "op-1",
              "action": "Promote", "reason": "Promoted", "type": "Normal", "note": "hello",
              "regarding": {"kind": "ConfigMap", "name": "x", "namespace": "default",
                            "apiVersion": "v1"}}
        status, _, body = self.post("/apis/events.k8s.io/v1/namespaces/default/events", ev)
        self.assertEqual(status, 201, body)
        core = json.loads(self.k.kubectl("get", "--raw", NS + "/events/ev1").stdout)
        self.assertEqual((core["reason"], core["message"]), ("Promoted", "hello"))
        self.assertEqual(core["involvedObject"]["name"], "x")
        out = self.k.kubectl("get", "events", "--field-selector", "reason=Promoted").stdout
        self.assertIn("hello", out)
        status, _, body = self.k.request(
            "GET", "/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dx")
        self.assertEqual([i["metadata"]["name"] for i in body["items"]], ["ev1"])

    # ---------------------------------------------------------------- errors
    def test_errors_are_status_objects(self):
        status, _, body = self.k.request("GET", "/api/v1/namespaces/default/nothings")
        self.assertEqual((status, body["kind"], body["reason"]), (404, "Status", "NotFound"))
        status, _, body = self.k.request("POST", "/apis/apps/v1/deployments", deployment("x"))
        self.assertEqual((status, body["reason"]), (405, "MethodNotAllowed"))
        status, _, body = self.k.request("GET", NS + "/configmaps?labelSelector=a%20in%20(b")
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))
        status, _, body = self.k.request("POST", NS + "/configmaps", "{not json",
                                         headers={"Content-Type": "application/json"})
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))
        status, _, body = self.k.request("POST", NS + "/configmaps", "a: b",
                                         headers={"Content-Type": "application/yaml"})
        self.assertEqual((status, body["reason"]), (415, "UnsupportedMediaType"))

    def test_invalid_object_is_422_with_causes(self):
        bad = deployment("invalid-d")
        del bad["spec"]["template"]["spec"]["containers"][0]["image"]
        r = self.apply_fail(bad)
        self.assertIn('The Deployment "invalid-d" is invalid: '
                      'spec.template.spec.containers[0].image: Required value', r.stderr)
        status, _, body = self.post("/apis/apps/v1/namespaces/default/deployments", bad)
        self.assertEqual((status, body["reason"]), (422, "Invalid"))
        fields = [c["field"] for c in body["details"]["causes"]]
        self.assertIn("spec.template.spec.containers[0].image", fields)

    def apply_fail(self, obj):
        r = self.k.kubectl("apply", "-f", "-", input=json.dumps(obj), check=False)
        self.assertNotEqual(r.returncode, 0)
        return r

    # ---------------------------------------------------------------- dry run, validation, tables
    def test_dry_run_server(self):
        out = self.k.kubectl("create", "configmap", "dry", "--dry-run=server", "-o", "json").stdout
        self.assertEqual(json.loads(out)["metadata"]["name"], "dry")
        self.assertFalse(self.exists("dry"))
        self.apply(cm("dry2"))
        self.k.kubectl("delete", "cm", "dry2", "--dry-run=server")
        self.assertTrue(self.exists("dry2"))
        self.k.kubectl("label", "cm", "dry2", "a=b", "--dry-run=server")
        self.assertNotIn("labels", self.get("cm", "dry2")["metadata"])
        status, _, body = self.k.request("POST", NS + "/configmaps?dryRun=Some", cm("dry3"))
        self.assertEqual(status, 400)

    def test_field_validation_strict_and_warn(self):
        obj = cm("fv")
        obj["spec"] = {"bogus": 1}
        r = self.apply_fail(obj)
        self.assertIn('unknown field "spec"', r.stderr)
        status, headers, body = self.post(NS + "/configmaps", obj, "?fieldValidation=Warn")
        self.assertEqual(status, 201, body)
        self.assertNotIn("spec", body)
        self.assertTrue(any('unknown field' in w for w in headers["_warnings"]), headers)

    def test_table_output(self):
        self.apply(deployment("tbl-d", replicas=2))
        status, headers, body = self.k.request(
            "GET", "/apis/apps/v1/namespaces/default/deployments",
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        self.assertEqual(status, 200)
        self.assertEqual(body["kind"], "Table")
        self.assertEqual(headers["content-type"], "application/json;as=Table;v=v1;g=meta.k8s.io")
        cols = [c["name"] for c in body["columnDefinitions"]]
        self.assertEqual(cols[:5], ["Name", "Ready", "Up-to-date", "Available", "Age"])
        out = self.k.kubectl("get", "deployment", "tbl-d").stdout
        self.assertRegex(out, r"(?m)^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE")

    def test_partial_object_metadata_and_not_acceptable(self):
        self.apply(cm("pom", {"pom": "1"}))
        status, headers, body = self.k.request(
            "GET", NS + "/configmaps?labelSelector=pom%3D1",
            headers={"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"})
        self.assertEqual((status, body["kind"]), (200, "PartialObjectMetadataList"))
        self.assertEqual(body["items"][0]["metadata"]["name"], "pom")
        self.assertNotIn("data", body["items"][0])
        status, _, body = self.k.request(
            "GET", NS + "/configmaps/pom",
            headers={"Accept": "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"})
        self.assertEqual((body["kind"], body["apiVersion"]), ("PartialObjectMetadata", "meta.k8s.io/v1"))
        status, _, body = self.k.request("GET", NS + "/configmaps/pom",
                                         headers={"Accept": "application/vnd.kubernetes.protobuf"})
        self.assertEqual((status, body["reason"]), (406, "NotAcceptable"))

    # ---------------------------------------------------------------- kubectl create generators
    def test_kubectl_create_generators(self):
        """These send protobuf bodies; kubesim decodes them."""
        self.k.kubectl("create", "deployment", "gen-web", "--image=nginx:2", "--replicas=2", "--port=80")
        d = self.get("deployment", "gen-web")
        self.assertEqual(d["spec"]["replicas"], 2)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 80)
        self.k.kubectl("create", "deployment", "gen-zero", "--image=nginx", "--replicas=0")
        self.assertEqual(self.get("deployment", "gen-zero")["spec"]["replicas"], 0)
        self.k.kubectl("create", "secret", "generic", "gen-sec", "--from-literal=a=b")
        self.assertEqual(self.get("secret", "gen-sec")["data"], {"a": "Yg=="})
        self.k.kubectl("create", "service", "clusterip", "gen-svc", "--tcp=80:8080")
        svc = self.get("service", "gen-svc")
        self.assertEqual(svc["spec"]["ports"][0]["targetPort"], 8080)
        self.assertTrue(re.match(r"^\d+\.\d+\.\d+\.\d+$", svc["spec"]["clusterIP"]))
        self.k.kubectl("create", "job", "gen-job", "--image=busybox", "--", "true")
        self.assertEqual(self.get("job", "gen-job")["spec"]["template"]["spec"]["containers"][0]["command"], ["true"])


if __name__ == "__main__":
    unittest.main()
