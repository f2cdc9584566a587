"""Scenario 8: the operator is killed with SIGKILL mid-rollout and restarted; it finishes the
rollout from where it stopped (all state is in status): a timed pause keeps its start
(status.pauseStartedAt) and is not restarted, a manual pause still waits for promote, and no
step is repeated (each step's Event exactly once, status timestamps unchanged).

The operator reconciles before all its caches are synced (see
test_restart_with_a_slow_release_list, an expected failure). So that the main scenario tests
the continuation itself, it slows kubesim's LIST of Rollouts while the operator restarts: the
Releases and Deployments are then in the caches before the first reconcile.
"""

import collections
import time
import unittest

from tollgate_e2e import (E2ETestCase, canary_strategy, dedupe, get, image, release_yaml,
                          rollout_yaml)

STEPS = "[{setWeight: 10}, {pause: {duration: 2s}}, {setWeight: 50}, {pause: {}}]"
IMGS = {image("registry.example/web", n): "v%d" % n for n in (1, 2)}


class RestartTest(E2ETestCase):

    def track(self, name):
        d = self.env.deployment(name)
        if d is None:
            return None
        return (get(d, "spec", "replicas"), get(d, "status", "readyReplicas", default=0) or 0,
                IMGS.get(get(d, "spec", "template", "spec", "containers", 0, "image")))

    def observe(self):
        env = self.env
        ro = env.rollout("web")
        return {"release": env.release_phase("web-2"), "rollout": get(ro, "status", "phase"),
                "step": get(ro, "status", "currentStep"),
                "stable": self.track("web-stable"), "canary": self.track("web-canary")}

    def restart(self, slow_list, seconds=0.6):
        """Restart the operator with kubesim's LIST of `slow_list` slowed by `seconds`; returns
        the time.monotonic() at which the new operator was up (it logged "reconciling")."""
        env = self.env
        env.sim.control("latency", {"verb": "list", "path": "/%s$" % slow_list,
                                    "seconds": seconds})
        env.start_operator()
        t_up = time.monotonic()
        time.sleep(seconds + 0.3)
        env.sim.control("latency", {"seconds": 0})
        return t_up

    def start_v2(self):
        env = self.env
        env.apply(rollout_yaml("web", canary_strategy(STEPS)))
        env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy")
        trace = env.trace(self.observe)
        env.apply(release_yaml("web-2", "web", "v2.0.0", image("registry.example/web", 2)))
        return trace

    # BUG (operator, runtime/reconciler): `tollgate run` starts reconciling as soon as the
    # Rollouts are listed, before the Release and Deployment caches are synced. A restarted
    # operator then plans against a world without the Release in flight and without the
    # Deployments: it POSTs web-stable again (409 AlreadyExists, "applying an action failed"),
    # treats the in-flight web-2 as deleted (rolls back: canary 5 -> 0/1, stable 5 -> 9), and when
    # the Releases arrive starts web-2 again from step 0 (steps repeated, traffic moved back).
    # Seen without any injected latency too (the plain restart test failed this way once in
    # three parallel runs). Expected: no reconcile before every cache has synced; after a
    # restart at a manual pause nothing is written at all.
    def test_restart_with_a_slow_release_list(self):
        env = self.env
        trace = self.start_v2()
        s = trace.wait_for(lambda s: s["step"] == 3 and s["rollout"] == "Paused"
                           and s["canary"] == (5, 5, "v2"), message="at the manual pause")
        env.wait(lambda: [e for e in env.events("web-2", "Release")
                          if e["message"] == "Step 4/4: pause until promote"])
        time.sleep(0.3)
        self.assertEqual(env.op.kill(), -9)
        env.sim.clear_request_log()
        self.restart("releases", 0.8)
        # nothing must happen: worth asserting only once the new operator has reconciled
        env.wait_reconciled(0, "the restarted operator's first reconcile")
        time.sleep(1.0)
        trace.stop()
        self.assertEqual(dedupe(trace.states[trace.states.index(s):], lambda x: x), [s],
                         "the restart moved the rollout:\n" + trace.format())
        self.assertEqual([(r["method"], r["path"]) for r in env.operator_writes()], [])

    def test_sigkill_mid_rollout_then_restart(self):
        env = self.env
        trace = self.start_v2()

        # 1. killed during the timed pause (step 1)
        trace.wait_for(lambda s: s["step"] == 1 and s["rollout"] == "Paused",
                       message="in the 2s pause")
        # the Events of that reconcile are written after the status (plan.c: Events last); a
        # SIGKILL between the two would lose them (Events are best effort), so wait for them
        env.wait(lambda: [e for e in env.events("web-2", "Release")
                          if e["message"] == "Step 2/4: pause 2s"], message="the pause's Event")
        ro = env.rollout("web")
        pause_started = ro["status"]["pauseStartedAt"]
        started_at = env.release("web-2")["status"]["startedAt"]
        t_kill = time.monotonic()
        self.assertEqual(env.op.kill(), -9)
        time.sleep(0.3)
        self.assertEqual(trace.last()["step"], 1, "moved without an operator")
        t_up = self.restart("rollouts", 0.3)
        s = trace.wait_for(lambda s: s["step"] == 3 and s["rollout"] == "Paused"
                           and s["canary"] == (5, 5, "v2"), message="at the manual pause")
        self.assertEqual(s["stable"], (5, 5, "v1"))
        # the pause kept its start: it ended about 2 s after it began, the downtime included.
        # Measured from the moment the new operator was up (its start-up time on a loaded
        # machine is not the operator's doing): a restarted 2 s pause could only end 2 s or
        # more after that; a kept one ends at the first reconcile.
        i5 = [i for i, x in enumerate(trace.states) if x["canary"] and x["canary"][0] == 5][0]
        self.assertLess(trace.times[i5] - t_up, 2.0, "the pause restarted after the restart "
                        "(%.2fs after the kill):\n%s" % (trace.times[i5] - t_kill, trace.format()))
        self.assertEqual(env.release("web-2")["status"]["startedAt"], started_at)

        # 2. killed while Paused at the manual pause: still paused after restart, then promote
        env.wait(lambda: [e for e in env.events("web-2", "Release")
                          if e["message"] == "Step 4/4: pause until promote"],
                 message="the manual pause's Event")
        self.assertEqual(env.op.kill(), -9)
        self.restart("rollouts")
        time.sleep(0.5)
        self.assertEqual(trace.last(), s, "the restarted operator moved past a manual pause")
        env.promote("web")
        trace.wait_for(lambda s: s["release"] == "Succeeded" and s["rollout"] == "Healthy"
                       and s["canary"] and s["canary"][0] == 0, message="v2 Succeeded")
        states = trace.stop()
        msg = "\n" + trace.format()
        self.assertEqual(dedupe(states, lambda s: s["step"]), [None, 0, 1, 2, 3, 4, None], msg)
        self.assertEqual(dedupe(states, lambda s: (s["stable"][0], s["stable"][2],
                                                   s["canary"] and s["canary"][0])),
                         [(10, "v1", None), (10, "v1", 1), (9, "v1", 1), (9, "v1", 5),
                          (5, "v1", 5), (10, "v2", 5), (10, "v2", 0)], msg)
        rel = env.release("web-2")
        self.assertEqual(rel["status"]["startedAt"], started_at)
        ro = env.rollout("web")
        self.assertEqual([(h["release"], h["result"]) for h in ro["status"]["history"]],
                         [("web-2", "Succeeded"), ("web-1", "Succeeded")])
        self.assertEqual(ro["status"]["history"][0]["startedAt"], started_at)
        # no step repeated: each step's Events exactly once
        env.wait_for_event("Succeeded", "web-2", "Release", message="the Succeeded Event")

        def step_events():
            counts = collections.Counter()
            for e in env.events("web", "Rollout") + env.events("web-2", "Release"):
                counts[(e["involvedObject"]["kind"], e["reason"], e["message"])] += \
                    e.get("count") or 1
            return {k: v for k, v in counts.items() if "Step" in k[2] or k[1] == "Promoted"}
        # the Events of one reconcile are written concurrently and land in any order: wait for
        # all four steps' before counting
        steps = env.wait(lambda: (lambda s: s if len([k for k in s if k[1] == "StepCompleted"])
                                  >= 4 else None)(step_events()),
                         message="the four StepCompleted Events")
        self.assertEqual({k: v for k, v in steps.items() if v != 1}, {},
                         "Events repeated after a restart: %r" % steps)
        self.assertEqual(len([k for k in steps if k[1] == "StepCompleted"]), 4, steps)
        self.assertNotEqual(pause_started, None)
        self.stop_operator_cleanly()


if __name__ == "__main__":
    unittest.main()
