"""kubesim's simulated controllers: Deployment status follows spec after
--deployment-ready-delay (kubectl rollout status / wait), the never-ready annotation and the
progress deadline, scaling to zero; Jobs succeed or fail as their annotations say; controller
writes are ordinary writes (resourceVersion bump, watch events)."""

from harness import Kubesim

import json
import time
import unittest

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name, replicas=2, never_ready=False, pds=None):
    tmeta = {"labels": {"app": name}}
    if never_ready:
        tmeta["annotations"] = {"kubesim.tollgate.io/never-ready": "true"}
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": tmeta,
                         "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}
    if pds is not None:
        spec["progressDeadlineSeconds"] = pds
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def job(name, result=None, duration=None):
    ann = {}
    if result:
        ann["kubesim.tollgate.io/job-result"] = result
    if duration is not None:
        ann["kubesim.tollgate.io/job-duration"] = str(duration)
    meta = {"name": name}
    if ann:
        meta["annotations"] = ann
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"backoffLimit": 2, "template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}


def conditions(obj):
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


class DeploymentControllerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim(ready_delay=1).start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def apply(self, obj):
        self.k.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def get(self, kind, name):
        return json.loads(self.k.kubectl("get", kind, name, "-o", "json").stdout)

    def test_status_follows_spec_after_the_ready_delay(self):
        start = time.monotonic()
        self.apply(deployment("web", replicas=2))
        d = self.k.wait_for(lambda: (lambda d: d if d.get("status", {}).get("observedGeneration") else None)(
            self.get("deployment", "web")), message="status observed")
        if time.monotonic() - start < 0.8:
            st = d["status"]
            self.assertEqual(st.get("updatedReplicas"), 2)
            self.assertNotIn("availableReplicas", st, "not available before the delay")
            self.assertEqual(st.get("unavailableReplicas"), 2)
            self.assertEqual(conditions(d)["Available"]["status"], "False")
            self.assertEqual(conditions(d)["Available"]["reason"], "MinimumReplicasUnavailable")
        r = self.k.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
        self.assertIn('deployment "web" successfully rolled out', r.stdout)
        self.assertGreaterEqual(time.monotonic() - start, 0.9)
        d = self.get("deployment", "web")
        st = d["status"]
        self.assertEqual(st["observedGeneration"], d["metadata"]["generation"])
        for f in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            self.assertEqual(st[f], 2, f)
        self.assertNotIn("unavailableReplicas", st)
        c = conditions(d)
        self.assertEqual((c["Available"]["status"], c["Available"]["reason"]),
                         ("True", "MinimumReplicasAvailable"))
        self.assertEqual((c["Progressing"]["status"], c["Progressing"]["reason"]),
                         ("True", "NewReplicaSetAvailable"))
        self.assertRegex(c["Progressing"]["message"], r'^ReplicaSet "web-[a-z0-9]+" has successfully progressed\.$')

    def test_kubectl_wait_for_available(self):
        self.apply(deployment("waiter", replicas=1))
        r = self.k.kubectl("wait", "--for=condition=Available", "deployment/waiter", "--timeout=60s")
        self.assertIn("condition met", r.stdout)

    def test_new_template_is_a_new_rollout(self):
        self.apply(deployment("roll", replicas=1))
        self.k.kubectl("rollout", "status", "deployment/roll", "--timeout=60s")
        self.k.kubectl("set", "image", "deployment/roll", "c=nginx:2")
        d = self.get("deployment", "roll")
        self.assertEqual(d["metadata"]["generation"], 2)
        r = self.k.kubectl("rollout", "status", "deployment/roll", "--timeout=60s")
        self.assertIn("successfully rolled out", r.stdout)
        d = self.get("deployment", "roll")
        self.assertEqual(d["status"]["observedGeneration"], 2)

    def test_rolling_update_keeps_old_pods_available(self):
        self.apply(deployment("rolling", replicas=3))
        self.k.kubectl("rollout", "status", "deployment/rolling", "--timeout=60s")
        d = deployment("rolling", replicas=3, never_ready=True)  # the new template never gets ready
        self.apply(d)

        def observed():
            d = self.get("deployment", "rolling")
            return d if d["status"].get("observedGeneration") == d["metadata"]["generation"] else None
        st = self.k.wait_for(observed, message="rollout observed")["status"]
        # maxSurge 1, maxUnavailable 0 (25% of 3): one new pod, three old ones still serving
        self.assertEqual((st["replicas"], st["updatedReplicas"], st["availableReplicas"]), (4, 1, 3))
        self.assertEqual(conditions(self.get("deployment", "rolling"))["Available"]["status"], "True")
        r = self.k.kubectl("rollout", "status", "deployment/rolling", "--timeout=1s", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("1 out of 3 new replicas have been updated", r.stdout + r.stderr)

    def test_never_ready_annotation(self):
        self.apply(deployment("stuck", replicas=3, never_ready=True))
        r = self.k.kubectl("rollout", "status", "deployment/stuck", "--timeout=2s", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("0 of 3 updated replicas are available", r.stdout + r.stderr)
        st = self.get("deployment", "stuck")["status"]
        self.assertNotIn("readyReplicas", st)
        self.assertEqual(st["unavailableReplicas"], 3)
        r = self.k.kubectl("wait", "--for=condition=Available", "deployment/stuck", "--timeout=1s",
                           check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_progress_deadline_exceeded(self):
        self.apply(deployment("late", replicas=1, never_ready=True, pds=1))

        def exceeded():
            c = conditions(self.get("deployment", "late")).get("Progressing", {})
            return c if c.get("reason") == "ProgressDeadlineExceeded" else None
        c = self.k.wait_for(exceeded, timeout=30, interval=0.2, message="ProgressDeadlineExceeded")
        self.assertEqual(c["status"], "False")
        r = self.k.kubectl("rollout", "status", "deployment/late", "--timeout=5s", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('deployment "late" exceeded its progress deadline', r.stderr)

    def test_scale_to_zero(self):
        self.apply(deployment("shrink", replicas=2))
        self.k.kubectl("rollout", "status", "deployment/shrink", "--timeout=60s")
        self.k.kubectl("scale", "deployment/shrink", "--replicas=0")
        self.k.kubectl("rollout", "status", "deployment/shrink", "--timeout=60s")
        d = self.k.wait_for(lambda: (lambda d: d if d["status"].get("observedGeneration") ==
                                     d["metadata"]["generation"] else None)(self.get("deployment", "shrink")))
        for f in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            self.assertNotIn(f, d["status"], "zero counts are omitted")
        self.assertEqual(conditions(d)["Available"]["status"], "True")

    def test_controller_writes_are_watch_events(self):
        _, _, lst = self.k.request("GET", DEPLOYS)
        with self.k.open_stream(DEPLOYS + "?watch=1&fieldSelector=metadata.name%3Dwatched"
                                "&resourceVersion=" + lst["metadata"]["resourceVersion"], timeout=10) as s:
            self.apply(deployment("watched", replicas=1))
            seen = []
            while True:
                ev = json.loads(s.readline())
                seen.append(ev["type"])
                if ev["object"].get("status", {}).get("availableReplicas") == 1:
                    break
            self.assertEqual(seen[0], "ADDED")
            self.assertIn("MODIFIED", seen)


class JobControllerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim().start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def get(self, name):
        return json.loads(self.k.kubectl("get", "job", name, "-o", "json").stdout)

    def test_job_succeeds_by_default(self):
        self.k.kubectl("apply", "-f", "-", input=json.dumps(job("ok")))
        r = self.k.kubectl("wait", "--for=condition=Complete", "job/ok", "--timeout=60s")
        self.assertIn("condition met", r.stdout)
        st = self.get("ok")["status"]
        self.assertEqual(st["succeeded"], 1)
        self.assertIn("startTime", st)
        self.assertIn("completionTime", st)
        self.assertNotIn("active", st)
        c = {x["type"]: x for x in st["conditions"]}
        self.assertEqual(c["Complete"]["status"], "True")
        self.assertEqual(c["SuccessCriteriaMet"]["reason"], "CompletionsReached")
        out = self.k.kubectl("get", "job", "ok").stdout
        self.assertRegex(out, r"ok\s+Complete\s+1/1")

    def test_job_fails_when_told(self):
        self.k.kubectl("apply", "-f", "-", input=json.dumps(job("bad", result="fail")))
        self.k.kubectl("wait", "--for=condition=Failed", "job/bad", "--timeout=60s")
        st = self.get("bad")["status"]
        self.assertEqual(st["failed"], 3, "backoffLimit 2 -> 3 failed pods")
        self.assertNotIn("completionTime", st)
        c = {x["type"]: x for x in st["conditions"]}
        self.assertEqual((c["Failed"]["reason"], c["FailureTarget"]["reason"]),
                         ("BackoffLimitExceeded", "BackoffLimitExceeded"))
        self.assertNotIn("Complete", c)

    def test_job_duration(self):
        start = time.monotonic()
        self.k.kubectl("apply", "-f", "-", input=json.dumps(job("slow", duration=1.5)))
        st = self.k.wait_for(lambda: self.get("slow").get("status", {}).get("startTime") and
                             self.get("slow")["status"], message="job started")
        if time.monotonic() - start < 1.2:
            self.assertEqual(st.get("active"), 1)
            self.assertNotIn("completionTime", st)
        self.k.kubectl("wait", "--for=condition=Complete", "job/slow", "--timeout=60s")
        self.assertGreaterEqual(time.monotonic() - start, 1.4)

    def test_active_deadline_fails_a_long_job(self):
        j = job("deadline", duration=30)
        j["spec"]["activeDeadlineSeconds"] = 1
        self.k.kubectl("apply", "-f", "-", input=json.dumps(j))
        self.k.kubectl("wait", "--for=condition=Failed", "job/deadline", "--timeout=60s")
        c = {x["type"]: x for x in self.get("deadline")["status"]["conditions"]}
        self.assertEqual(c["Failed"]["reason"], "DeadlineExceeded")
        self.assertEqual(c["Failed"]["message"], "Job was active longer than specified deadline")

    def test_suspended_job_waits_until_resumed(self):
        j = job("paused")
        j["spec"]["suspend"] = True
        self.k.kubectl("apply", "-f", "-", input=json.dumps(j))

        def suspended():
            st = self.get("paused").get("status", {})
            c = {x["type"]: x for x in st.get("conditions", [])}
            return st if c.get("Suspended", {}).get("status") == "True" else None
        st = self.k.wait_for(suspended, message="Suspended condition")
        self.assertNotIn("startTime", st)
        self.assertNotIn("succeeded", st)
        self.k.kubectl("patch", "job", "paused", "--type=merge", "-p", '{"spec":{"suspend":false}}')
        self.k.kubectl("wait", "--for=condition=Complete", "job/paused", "--timeout=60s")
        c = {x["type"]: x for x in self.get("paused")["status"]["conditions"]}
        self.assertEqual((c["Suspended"]["status"], c["Suspended"]["reason"]), ("False", "JobResumed"))

    def test_kubectl_create_job_generator_completes(self):
        self.k.kubectl("create", "job", "gen", "--image=busybox", "--", "true")
        self.k.kubectl("wait", "--for=condition=Complete", "job/gen", "--timeout=60s")
        j = self.get("gen")
        self.assertEqual(j["spec"]["selector"]["matchLabels"],
                         {"batch.kubernetes.io/controller-uid": j["metadata"]["uid"]})


if __name__ == "__main__":
    unittest.main()
