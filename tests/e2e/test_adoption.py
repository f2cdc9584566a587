"""Scenario 11: workloadRef adoption (docs/api.md "Adoption", plan.c head comment).

An existing Deployment `legacy` (a GitOps tool's, say) is adopted: the operator uses its
spec.template and spec.selector for the tracks it runs, and never writes it (not its spec, not
its scale). Its pods lack tollgate.io/rollout, so tollgate's Service does not select them; while
it still runs pods the Rollout says so (WorkloadIdle=False and an Event). Once the user scales it
to 0, WorkloadIdle turns True. A change of its template takes effect with the next Release.
"""

import time
import unittest

from tollgate_e2e import E2ETestCase, condition, get, image, pod_labels, release_yaml, selects

LEGACY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy, labels: {owner: gitops}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
        - name: web
          image: "registry.example/web:0.9"
          env: [{name: MODE, value: "%s"}]
          ports: [{name: http, containerPort: 8080}]
        - name: sidecar
          image: "registry.example/sidecar@sha256:%s"
""" % ("%s", "ab" * 32)

ROLLOUT = """
apiVersion: tollgate.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 4
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: legacy}
  service: {name: web, targetPort: http}
  strategy:
    canary:
      steps: [{setWeight: 25}, {pause: {}}]
"""


def containers(d):
    return {c["name"]: c for c in get(d, "spec", "template", "spec", "containers", default=[])}


class AdoptionTest(E2ETestCase):

    def test_adopted_deployment_is_only_read(self):
        env = self.env
        env.apply(LEGACY % "blue")
        env.wait(lambda: get(env.deployment("legacy"), "status", "readyReplicas") == 2)
        legacy0 = env.deployment("legacy")
        env.apply(ROLLOUT)
        env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy", message="v1 stable")

        # the stable track runs legacy's template with the Release's image in container web
        st = env.deployment("web-stable")
        self.assertEqual(get(st, "spec", "replicas"), 4)
        cs = containers(st)
        self.assertEqual(cs["web"]["image"], image("registry.example/web", 1))
        self.assertEqual(cs["web"]["env"], [{"name": "MODE", "value": "blue"}])
        self.assertEqual(cs["sidecar"]["image"], "registry.example/sidecar@sha256:" + "ab" * 32)
        labels = pod_labels(st)
        self.assertEqual(labels.get("tier"), "front")
        self.assertEqual(labels.get("tollgate.io/rollout"), "web")
        sel = env.selector("web")
        self.assertEqual(sel, {"app": "web", "tollgate.io/rollout": "web"})
        self.assertTrue(selects(sel, labels))
        self.assertFalse(selects(sel, pod_labels(env.deployment("legacy"))),
                         "the Service must not select the adopted Deployment's pods")

        # legacy still runs pods: the Rollout says so
        c = env.wait(lambda: condition(env.rollout("web"), "WorkloadIdle"),
                     message="WorkloadIdle condition")
        self.assertEqual(c["status"], "False")
        self.assertIn("legacy", c["message"])
        env.wait(lambda: [e for e in env.events("web", "Rollout") if "legacy" in e["message"]],
                 message="an Event naming legacy")

        # the user (its GitOps source) scales it to 0; tollgate notices, never wrote it
        env.kubectl("scale", "deployment/legacy", "--replicas=0")
        env.wait(lambda: get(condition(env.rollout("web"), "WorkloadIdle"), "status") == "True",
                 message="WorkloadIdle True once legacy runs no pods")
        self.assertEqual(env.replicas("web-stable"), (4, 4))

        # a template change in legacy starts nothing by itself ...
        before = env.reconciles()
        env.apply(LEGACY.replace("replicas: 2", "replicas: 0") % "green")
        env.wait_reconciled(before, "a reconcile of legacy's change")
        time.sleep(0.7)
        self.assertEqual(containers(env.deployment("web-stable"))["web"]["env"],
                         [{"name": "MODE", "value": "blue"}])
        # ... and takes effect with the next Release (canary, then stable)
        env.apply(release_yaml("web-2", "web", "v2.0.0", image("registry.example/web", 2)))
        env.wait(lambda: env.rollout_phase("web") == "Paused"
                 and get(env.deployment("web-canary"), "status", "readyReplicas") == 1,
                 message="v2 canary at 25 %")
        can = containers(env.deployment("web-canary"))
        self.assertEqual(can["web"]["image"], image("registry.example/web", 2))
        self.assertEqual(can["web"]["env"], [{"name": "MODE", "value": "green"}])
        self.assertEqual(env.spec_replicas("web-stable"), 3)
        env.promote("web")
        env.wait(lambda: env.release_phase("web-2") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy", message="v2 stable")
        self.assertEqual(containers(env.deployment("web-stable"))["web"]["env"],
                         [{"name": "MODE", "value": "green"}])

        # the adopted Deployment was never written by the operator
        writes = [(r["method"], r["path"]) for r in env.operator_writes()
                  if "/deployments/legacy" in r["path"]]
        self.assertEqual(writes, [])
        legacy = env.deployment("legacy")
        self.assertNotIn("ownerReferences", legacy["metadata"])
        self.assertEqual(legacy["metadata"]["labels"], {"owner": "gitops"})
        self.assertEqual(get(legacy, "spec", "replicas"), 0)   # the user's scale, kept
        self.assertEqual(legacy["spec"]["selector"], legacy0["spec"]["selector"])


if __name__ == "__main__":
    unittest.main()
