"""Scenario 5: a newer Release supersedes the one in flight (plan_release.c).

v2 is paused at its manual pause (50 %); v3 is applied: v2 ends Superseded, v3 starts from
step 0 on the canary track (the canary takes v3's image), walks the steps and becomes stable.
The stable track stays on v1 until v3 is promoted.
"""

import unittest

from tollgate_e2e import (WalkTestCase, canary_strategy, dedupe, get, image, release_yaml,
                          rollout_yaml)

IMGS = {image("registry.example/web", n): "v%d" % n for n in (1, 2, 3)}
STEPS = "[{setWeight: 10}, {pause: {duration: 1s}}, {setWeight: 50}, {pause: {}}]"


class SupersedeTest(WalkTestCase):

    @classmethod
    def track(cls, name):
        d = cls.env.deployment(name)
        if d is None:
            return None
        return (get(d, "spec", "replicas"), get(d, "status", "readyReplicas", default=0) or 0,
                IMGS.get(get(d, "spec", "template", "spec", "containers", 0, "image")))

    @classmethod
    def observe(cls):
        env = cls.env
        ro = env.rollout("web")
        return {"v2": env.release_phase("web-2"), "v3": env.release_phase("web-3"),
                "rollout": get(ro, "status", "phase"), "current": get(ro, "status",
                                                                       "currentRelease"),
                "step": get(ro, "status", "currentStep"),
                "weight": get(ro, "status", "canaryWeight"),
                "stable": cls.track("web-stable"), "canary": cls.track("web-canary")}

    @classmethod
    def walk(cls):
        self = cls
        env = cls.env
        env.apply(rollout_yaml("web", canary_strategy(STEPS)))
        env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy")
        env.apply(release_yaml("web-2", "web", "v2.0.0", image("registry.example/web", 2)))
        env.wait(lambda: get(env.rollout("web"), "status", "currentStep") == 3
                 and env.rollout_phase("web") == "Paused", message="v2 at its manual pause")
        trace = env.trace(self.observe)
        env.apply(release_yaml("web-3", "web", "v3.0.0", image("registry.example/web", 3)))
        cls.at_step1 = trace.wait_for(lambda s: s["v3"] == "Paused" and s["step"] == 1
                                      and s["rollout"] == "Paused" and s["weight"] == 10,
                                      message="v3 at step 1 (10 %)")
        trace.wait_for(lambda s: s["step"] == 3 and s["rollout"] == "Paused"
                       and s["weight"] == 50, message="v3 at its manual pause")
        env.promote("web")
        trace.wait_for(lambda s: s["v3"] == "Succeeded" and s["rollout"] == "Healthy"
                       and s["canary"] and s["canary"][0] == 0 and s["weight"] == 0,
                       message="v3 Succeeded")
        cls.states = trace.stop()
        cls.msg = "\n" + trace.format()

    def test_v3_supersedes_v2_paused(self):
        env, s, states, msg = self.env, self.at_step1, self.states, self.msg
        self.assertEqual(s["v2"], "Superseded")
        self.assertEqual(s["current"], "web-3")
        self.assertEqual(s["canary"], (1, 1, "v3"))
        self.assertEqual(s["stable"], (9, 9, "v1"))
        self.assertEqual(dedupe(states, lambda s: s["v2"]), ["Paused", "Superseded"], msg)
        self.assertEqual(dedupe(states, lambda s: s["v3"]),
                         [None, "Progressing", "Paused", "Progressing", "Paused", "Progressing",
                          "Succeeded"], msg)
        # v2 never became stable: the stable track goes from v1 straight to v3
        self.assertEqual(dedupe(states, lambda s: s["stable"][2]), ["v1", "v3"], msg)
        # the canary track: v2's 5 pods, then v3's template on those 5 pods until stable has
        # grown back to 9 (capacity never drops), then v3 from step 0 (1 pod), 5, then 0
        self.assertEqual(dedupe(states, lambda s: (s["canary"][0], s["canary"][2])),
                         [(5, "v2"), (5, "v3"), (1, "v3"), (5, "v3"), (0, "v3")], msg)
        self.assertEqual(dedupe(states, lambda s: s["current"]), ["web-2", "web-3", None], msg)
        ro = env.rollout("web")
        self.assertEqual(ro["status"]["stableRelease"], "web-3")
        self.assertEqual(env.replicas("web-stable"), (10, 10))
        self.assertEqual([(h["release"], h["result"]) for h in ro["status"]["history"]],
                         [("web-3", "Succeeded"), ("web-2", "Superseded"),
                          ("web-1", "Succeeded")])
        rel2 = env.release("web-2")
        self.assertTrue(rel2["status"].get("finishedAt"))
        # Events are the last writes of a reconcile: awaited, not read once
        env.wait_for_event("Superseded", involved="web-2", kind="Release")


    # When v3 supersedes v2 at 50 %, stable must grow from 5 to 9 and be ready before the canary
    # shrinks from 5 pods to 1 (api.md: "the total stays N"), and at promotion the stable track
    # must be ready on v3 before the canary goes to 0. The states are consistent snapshots
    # (StepTrace): reading web-stable, then web-canary a moment later, once showed stable still
    # at 5 ready next to a canary already at 0 (stable had become ready in between).
    def test_capacity_never_drops_on_supersede(self):
        for s in self.states:
            ready = s["stable"][1] + (s["canary"][1] if s["canary"] else 0)
            self.assertGreaterEqual(ready, 10, "%r%s" % (s, self.msg))


if __name__ == "__main__":
    unittest.main()
