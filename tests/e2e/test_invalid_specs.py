"""Scenario 10: invalid specs (docs/api.md "Who validates what", spec.c).

A Rollout with both template and workloadRef passes the schema but the operator refuses it:
InvalidSpec=True with the message, a Warning Event, phase Degraded, and no workload touched
(no Deployment or Service made, the referenced Deployment untouched). A Release whose image is
not pinned by digest gets InvalidSpec on the Release, never starts, and the Deployments do not
change.
"""

import time
import unittest

from tollgate_e2e import (E2ETestCase, WRITE_METHODS, canary_strategy, condition, get, image,
                          release_yaml, rollout_yaml)

LEGACY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {matchLabels: {app: legacy}}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: legacy, image: "registry.example/legacy:1.0"}]}
"""
STEPS = "[{setWeight: 20}, {pause: {}}]"


class InvalidSpecTest(E2ETestCase):

    def test_rollout_with_template_and_workload_ref(self):
        env = self.env
        env.apply(LEGACY)
        env.wait(lambda: get(env.deployment("legacy"), "status", "readyReplicas") == 2)
        legacy_before = env.deployment("legacy")
        bad = rollout_yaml("web", canary_strategy(STEPS)).replace(
            "  service:", "  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: legacy}\n"
            "  service:")
        r = env.apply(bad)   # the schema lets it through: the operator checks it
        self.assertIn("rollout.tollgate.io/web created", r.stdout)
        env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
        c = env.wait(lambda: condition(env.rollout("web"), "InvalidSpec"), message="InvalidSpec")
        self.assertEqual(c["status"], "True")
        self.assertEqual(c["reason"], "InvalidSpec")
        self.assertIn("spec: template and workloadRef are mutually exclusive; set exactly one",
                      c["message"])
        self.assertEqual(c["observedGeneration"], 1)
        self.assertTrue(c["lastTransitionTime"])
        ro = env.rollout("web")
        self.assertEqual(ro["status"]["phase"], "Degraded")
        self.assertEqual(condition(ro, "Healthy")["status"], "False")
        # Events of one reconcile are written concurrently, so they land in any order (the
        # e2e kubesim answers concurrent requests in any order, as a real server does)
        warnings = env.wait(lambda: [e for e in env.events("web", "Rollout")
                                     if e["type"] == "Warning" and e["reason"] == "InvalidSpec"],
                            message="an InvalidSpec Warning Event")
        self.assertIn("template and workloadRef are mutually exclusive", warnings[0]["message"])
        # kubectl wait on the condition works as well
        env.kubectl("wait", "--for=condition=InvalidSpec", "rollout/web", "--timeout=60s")
        # the Release waits (Pending); nothing is made, the referenced Deployment is untouched
        # (the Release's phase: see test_release_of_an_invalid_rollout_is_pending)
        time.sleep(0.5)
        self.assertFalse(get(env.release("web-1"), "status", "startedAt"))
        self.assertEqual(sorted(d["metadata"]["name"] for d in env.deployments()), ["legacy"])
        self.assertIsNone(env.service("web"))
        legacy = env.deployment("legacy")
        self.assertEqual(legacy["metadata"]["generation"], legacy_before["metadata"]["generation"])
        self.assertEqual(legacy["spec"], legacy_before["spec"])
        writes = [r for r in env.operator_writes()
                  if "/deployments" in r["path"] or "/services" in r["path"]]
        self.assertEqual(writes, [])
        # the Warning is not repeated by later reconciles
        env.wait(lambda: len([e for e in env.events("web", "Rollout")
                              if e["type"] == "Warning"]) >= 2,
                 message="the InvalidSpec and Degraded Warnings")
        seen = [(e["reason"], e["type"], e.get("count")) for e in env.events("web", "Rollout")
                if e["type"] == "Warning"]
        self.assertEqual(sorted(seen), [("Degraded", "Warning", 1), ("InvalidSpec", "Warning", 1)])
        before = env.reconciles()
        env.kubectl("annotate", "rollout.tollgate.io", "web", "touch=1")
        env.wait_reconciled(before, "a reconcile after the touch")
        time.sleep(0.5)  # its Events, the last writes of a reconcile
        self.assertEqual(sorted((e["reason"], e["type"], e.get("count"))
                                for e in env.events("web", "Rollout") if e["type"] == "Warning"),
                         sorted(seen))

        # fixed by the user (kubectl apply drops workloadRef): valid, and the Release starts
        env.apply(rollout_yaml("web", canary_strategy(STEPS)))
        env.wait(lambda: get(condition(env.rollout("web"), "InvalidSpec"), "status") == "False",
                 message="InvalidSpec False after the fix")
        env.wait(lambda: env.release_phase("web-1") == "Succeeded", message="web-1 Succeeded")
        self.assertEqual(env.replicas("web-stable"), (10, 10))
        self.assertEqual(env.deployment("legacy")["spec"], legacy_before["spec"])

    # BUG (operator, plan.c tg_plan_build): when the Rollout is invalid the planner skips
    # release_patches(), so a Release naming it gets no status at all (no phase), although
    # docs/api.md says "Pending: accepted, but another Release is in flight, or the Rollout is
    # missing or invalid". Same for a Release naming a Rollout that does not exist (nothing
    # reconciles it). Expected: status.phase Pending with a message saying why.
    def test_release_of_an_invalid_or_missing_rollout_is_pending(self):
        env = self.env
        bad = rollout_yaml("web", canary_strategy(STEPS)).replace(
            "  service:", "  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: x}\n"
            "  service:")
        env.apply(bad)
        env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
        env.apply(release_yaml("nothing-1", "nothing", "v1.0.0",
                               image("registry.example/web", 1)))
        env.wait(lambda: condition(env.rollout("web"), "InvalidSpec"), message="InvalidSpec")
        env.wait(lambda: env.release_phase("web-1") == "Pending"
                 and env.release_phase("nothing-1") == "Pending",
                 message="both Releases Pending")

    def test_release_not_pinned_by_digest(self):
        env = self.env
        env.apply(rollout_yaml("web", canary_strategy(STEPS)))
        img1 = image("registry.example/web", 1)
        env.apply(release_yaml("web-1", "web", "v1.0.0", img1))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy")
        before = {d["metadata"]["name"]: (d["metadata"]["generation"], d["spec"])
                  for d in env.deployments()}
        env.sim.clear_request_log()
        env.apply(release_yaml("web-2", "web", "v2.0.0", "registry.example/web:2.0.0"))
        c = env.wait(lambda: get(condition(env.release("web-2"), "InvalidSpec"), "status")
                     == "True" and condition(env.release("web-2"), "InvalidSpec"),
                     message="web-2 InvalidSpec")
        self.assertIn("spec.artifact.image", c["message"])
        self.assertIn("must be pinned by digest", c["message"])
        warnings = env.wait(lambda: [e for e in env.events("web-2", "Release")
                                     if e["type"] == "Warning"
                                     and "must be pinned by digest" in e["message"]],
                            message="a Warning Event saying the image must be pinned")
        self.assertEqual(len(warnings), 1)
        time.sleep(0.5)
        rel = env.release("web-2")
        self.assertNotIn(rel["status"].get("phase"), ("Progressing", "Paused", "Succeeded"))
        self.assertFalse(rel["status"].get("startedAt"))
        after = {d["metadata"]["name"]: (d["metadata"]["generation"], d["spec"])
                 for d in env.deployments()}
        self.assertEqual(after, before)
        self.assertEqual([r for r in env.operator_writes() if "/deployments" in r["path"]], [])
        ro = env.rollout("web")
        self.assertEqual(ro["status"]["phase"], "Healthy")
        self.assertEqual(ro["status"]["stableRelease"], "web-1")
        self.assertFalse(ro["status"].get("currentRelease"))

    def test_release_spec_is_immutable_once_started(self):
        env = self.env
        env.apply(rollout_yaml("web", canary_strategy(STEPS)))
        env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy")
        img2 = image("registry.example/web", 2)
        env.apply(release_yaml("web-2", "web", "v2.0.0", img2))
        env.wait(lambda: env.rollout_phase("web") == "Paused", message="v2 at its pause")
        hash0 = env.release("web-2")["status"]["specHash"]
        env.apply(release_yaml("web-2", "web", "v2.0.0", image("registry.example/web", 3)))
        c = env.wait(lambda: get(condition(env.release("web-2"), "InvalidSpec"), "status")
                     == "True" and condition(env.release("web-2"), "InvalidSpec"),
                     message="web-2 InvalidSpec after a spec change")
        self.assertEqual(c["reason"], "SpecImmutable")
        self.assertIn("spec changed after delivery started", c["message"])
        time.sleep(0.3)
        # delivery goes on with the original spec
        self.assertEqual(env.deployment_image("web-canary"), img2)
        rel = env.release("web-2")
        self.assertEqual(rel["status"]["specHash"], hash0)
        self.assertEqual(rel["status"]["phase"], "Paused")
        env.promote("web")
        env.wait(lambda: env.release_phase("web-2") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy", message="web-2 Succeeded")
        self.assertEqual(env.deployment_image("web-stable"), img2)


if __name__ == "__main__":
    unittest.main()
