"""Scenario 7: progressDeadlineSeconds always ends in Failed plus a rollback, never in a stuck
Progressing (plan_canary.c, docs/api.md).

kubesim keeps the pods of a template annotated kubesim.tollgate.io/never-ready: "true" unready.
The Rollout's template gets that annotation after v1 is stable (a template change takes effect
with the next Release only), so v2's canary never becomes ready: 3 s after its step started,
v2 is Failed, the canary is scaled to 0, all traffic is on stable (v1, never touched).
"""

import time
import unittest

from tollgate_e2e import (E2ETestCase, canary_strategy, condition, dedupe, get, image,
                          release_yaml, rollout_yaml)

NEVER = {"kubesim.tollgate.io/never-ready": "true"}
STEPS = "[{setWeight: 20}, {pause: {}}]"
EXTRA = "  progressDeadlineSeconds: 3\n"
IMGS = {image("registry.example/web", n): "v%d" % n for n in (1, 2)}


class ProgressDeadlineTest(E2ETestCase):

    def track(self, name):
        d = self.env.deployment(name)
        if d is None:
            return None
        return (get(d, "spec", "replicas"), get(d, "status", "readyReplicas", default=0) or 0,
                IMGS.get(get(d, "spec", "template", "spec", "containers", 0, "image")))

    def observe(self, rel):
        env = self.env
        ro = env.rollout("web")
        return {"release": env.release_phase(rel), "rollout": get(ro, "status", "phase"),
                "stable": self.track("web-stable"), "canary": self.track("web-canary"),
                "weight": get(ro, "status", "canaryWeight")}

    def test_canary_never_ready_fails_and_rolls_back(self):
        env = self.env
        env.apply(rollout_yaml("web", canary_strategy(STEPS), extra=EXTRA))
        env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy")
        stable_before = env.deployment("web-stable")
        before = env.reconciles()
        env.apply(rollout_yaml("web", canary_strategy(STEPS), template_annotations=NEVER,
                               extra=EXTRA))
        env.wait_reconciled(before, "a reconcile of the template change")
        time.sleep(0.5)
        # the template change alone starts nothing: the stable track is not touched
        self.assertEqual(env.deployment("web-stable")["spec"], stable_before["spec"])
        trace = env.trace(lambda: self.observe("web-2"))
        t0 = time.monotonic()
        env.apply(release_yaml("web-2", "web", "v2.0.0", image("registry.example/web", 2)))
        end = trace.wait_for(lambda s: s["release"] == "Failed" and s["canary"][0] == 0
                             and s["rollout"] == "Healthy", timeout=60,
                             message="v2 Failed, canary 0, Rollout Healthy")
        states = trace.stop()
        msg = "\n" + trace.format()
        elapsed = trace.times[[i for i, s in enumerate(states) if s["release"] == "Failed"][0]] - t0
        self.assertGreaterEqual(elapsed, 2.9, "failed before the deadline" + msg)
        # lateness, with room for a loaded machine (t0 is before kubectl apply, which alone can
        # take a second or two then)
        self.assertLess(elapsed, 10, "failed late" + msg)
        self.assertEqual(dedupe(states, lambda s: s["release"]), [None, "Progressing", "Failed"],
                         msg)
        # the canary got 2 pods that never became ready, then 0; stable never moved
        self.assertEqual(dedupe(states, lambda s: s["canary"] and s["canary"][:2]),
                         [None, (2, 0), (0, 0)], msg)
        self.assertEqual(dedupe(states, lambda s: s["stable"]), [(10, 10, "v1")], msg)
        self.assertEqual(dedupe(states, lambda s: s["weight"]), [0], msg)
        rel = env.release("web-2")
        self.assertEqual(condition(rel, "Failed")["status"], "True")
        self.assertEqual(condition(rel, "Failed")["reason"], "ProgressDeadlineExceeded")
        self.assertIn("progressDeadlineSeconds", rel["status"]["message"])
        self.assertEqual(condition(rel, "Succeeded")["status"], "False")
        self.assertEqual(condition(rel, "Progressing")["status"], "False")
        self.assertTrue(rel["status"].get("finishedAt"))
        ro = env.rollout("web")
        self.assertEqual(ro["status"]["stableRelease"], "web-1")
        self.assertFalse(ro["status"].get("currentRelease"))
        self.assertEqual([(h["release"], h["result"]) for h in ro["status"]["history"]],
                         [("web-2", "Failed"), ("web-1", "Succeeded")])
        # Events are written after the status (plan.c), so wait for it
        warn = env.wait(lambda: [e for e in env.events("web-2", "Release")
                                 if e["type"] == "Warning"], message="Warning Event")
        self.assertEqual([e["reason"] for e in warn], ["Failed"])
        # kubectl wait sees the failure
        env.kubectl("wait", "--for=condition=Failed", "release/web-2", "--timeout=60s")
        # and so do GitOps tools (kstatus): Stalled, with the same reason
        self.assertEqual((condition(rel, "Stalled")["status"], condition(rel, "Stalled")["reason"],
                          condition(rel, "Ready")["status"]),
                         ("True", "ProgressDeadlineExceeded", "False"))
        # and stays there: nothing is retried by itself
        time.sleep(1)
        self.assertEqual(env.release_phase("web-2"), "Failed")
        self.assertEqual(env.spec_replicas("web-canary"), 0)

    def test_first_release_never_ready_fails(self):
        env = self.env
        env.apply(rollout_yaml("web", canary_strategy(STEPS), replicas=2,
                               template_annotations=NEVER, extra=EXTRA))
        t0 = time.monotonic()
        env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
        trace = env.trace(lambda: self.observe("web-1"))
        trace.wait_for(lambda s: s["release"] == "Failed", message="web-1 Failed")
        elapsed = time.monotonic() - t0
        time.sleep(0.5)
        states = trace.stop()
        msg = "\n" + trace.format()
        self.assertGreaterEqual(elapsed, 2.9, msg)
        self.assertLess(elapsed, 10, msg)  # lateness, with room for a loaded machine
        self.assertNotIn("Succeeded", [s["release"] for s in states])
        ro = env.rollout("web")
        self.assertFalse(ro["status"].get("stableRelease"))
        self.assertEqual([(h["release"], h["result"]) for h in ro["status"]["history"]],
                         [("web-1", "Failed")])
        self.assertNotEqual(ro["status"]["phase"], "Progressing", msg)
        self.assertNotEqual(ro["status"]["phase"], "Healthy", msg)


if __name__ == "__main__":
    unittest.main()
