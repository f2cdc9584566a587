"""Scenario 1: a canary with `replicas` traffic routing, as a user drives it with kubectl.

Rollout web (replicas 10; steps setWeight 10, pause 1s, setWeight 50, pause {}), Release v1
goes straight to stable, Release v2 walks the steps: canary 1 / stable 9, after the pause
canary 5 / stable 5, Paused until promote, then stable on v2 at 10 and the canary at 0.
The Service selects the pods of both tracks all along (plan_routing.c: replicas routing).
"""

import subprocess
import time
import unittest

from tollgate_e2e import (E2ETestCase, PLUGIN_BIN, canary_strategy, dedupe, get, image,
                          pod_labels, release_yaml, rollout_yaml, selects)

IMG1 = image("registry.example/web", 1)
IMG2 = image("registry.example/web", 2)
STEPS = "[{setWeight: 10}, {pause: {duration: 1s}}, {setWeight: 50}, {pause: {}}]"


def kstatus(obj):
    """The statuses of kstatus's Ready, Reconciling and Stalled conditions."""
    conds = {c["type"]: c for c in get(obj, "status", "conditions", default=[]) or []}
    for c in conds.values():
        assert c.get("observedGeneration") == obj["metadata"]["generation"], c
    return tuple(conds.get(t, {}).get("status") for t in ("Ready", "Reconciling", "Stalled"))


def tag(img):
    return {IMG1: "v1", IMG2: "v2"}.get(img, img)


class CanaryReplicasTest(E2ETestCase):

    def observe(self):
        env = self.env
        ro = env.rollout("web")
        r2 = env.release("web-2")
        s = env.deployment("web-stable")
        c = env.deployment("web-canary")

        def track(d):
            if d is None:
                return None
            return (get(d, "spec", "replicas"), get(d, "status", "readyReplicas", default=0) or 0,
                    tag(get(d, "spec", "template", "spec", "containers", 0, "image")))
        return {"release": get(r2, "status", "phase"), "rollout": get(ro, "status", "phase"),
                "step": get(ro, "status", "currentStep"),
                "weight": get(ro, "status", "canaryWeight"),
                "stable": track(s), "canary": track(c),
                "selector": env.selector("web")}

    def test_canary_replicas_routing_walk(self):
        env = self.env
        env.apply(rollout_yaml("web", canary_strategy(STEPS), replicas=10))
        env.apply(release_yaml("web-1", "web", "v1.0.0", IMG1))

        # v1: straight to stable, no canary, Service on the rollout's pods
        env.wait(lambda: env.release_phase("web-1") == "Succeeded", message="web-1 Succeeded")
        env.wait(lambda: env.rollout_phase("web") == "Healthy", message="web Healthy")
        self.assertEqual(env.replicas("web-stable"), (10, 10))
        self.assertEqual(env.deployment_image("web-stable"), IMG1)
        self.assertIsNone(env.deployment("web-canary"), "no canary Deployment for the first Release")
        sel = env.selector("web")
        self.assertEqual(sel, {"app": "web", "tollgate.io/rollout": "web"})
        self.assertTrue(selects(sel, pod_labels(env.deployment("web-stable"))))
        ro = env.rollout("web")
        self.assertEqual(get(ro, "status", "stableRelease"), "web-1")
        self.assertEqual([h["release"] for h in get(ro, "status", "history")], ["web-1"])
        for obj in (env.deployment("web-stable"), env.service("web")):
            self.assertEqual(obj["metadata"]["labels"].get("app.kubernetes.io/managed-by"),
                             "tollgate")
            owners = obj["metadata"].get("ownerReferences") or []
            self.assertEqual([(o["kind"], o["name"], o.get("controller")) for o in owners],
                             [("Rollout", "web", True)])

        # v2: the steps
        trace = env.trace(self.observe)
        env.apply(release_yaml("web-2", "web", "v2.0.0", IMG2))

        # step 0 done, timed pause (step 1) running: canary 1 / stable 9, all ready
        s = trace.wait_for(lambda s: s["step"] == 1 and s["rollout"] == "Paused"
                           and s["weight"] == 10, message="step 1: pause at 10%")
        self.assertEqual(s["stable"], (9, 9, "v1"))
        self.assertEqual(s["canary"], (1, 1, "v2"))
        self.assertEqual(s["release"], "Paused")
        t_pause = trace.times[[i for i, x in enumerate(trace.states)
                               if x["release"] == "Paused"][0]]

        # after the 1s pause: setWeight 50, then the manual pause: canary 5 / stable 5
        s = trace.wait_for(lambda s: s["step"] == 3 and s["rollout"] == "Paused"
                           and s["weight"] == 50, message="step 3: pause {} at 50%")
        self.assertEqual(s["stable"], (5, 5, "v1"))
        self.assertEqual(s["canary"], (5, 5, "v2"))
        i50 = [i for i, x in enumerate(trace.states) if x["canary"] and x["canary"][0] == 5][0]
        self.assertGreaterEqual(trace.times[i50] - t_pause, 0.9,
                                "the 1s pause ended early:\n" + trace.format())
        ro = env.rollout("web")
        self.assertEqual(get(ro, "status", "currentRelease"), "web-2")
        self.assertEqual(get(ro, "status", "stableRelease"), "web-1")
        self.assertEqual(env.release("web-2")["status"].get("currentStep"), 3)
        self.assertEqual(get(env.release("web-2"), "status", "phase"), "Paused")
        paused = [c for c in ro["status"]["conditions"] if c["type"] == "Paused"][0]
        self.assertEqual(paused["status"], "True")
        # GitOps tools (kstatus, docs/gitops.md) see both in progress
        for obj in (ro, env.release("web-2")):
            self.assertEqual(kstatus(obj), ("False", "True", "False"), obj["kind"])

        # it stays paused: no promote, no progress
        time.sleep(1.2)
        self.assertEqual(trace.last(), s, "a pause without duration moved by itself")

        # kubectl wait started before promote returns 0 once the Release is stable
        waits = [subprocess.Popen(
            ["kubectl", "--kubeconfig", env.sim.kubeconfig, "wait", "--for=condition=" + cond,
             obj, "--timeout=120s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env._kubectl_env())
            for cond, obj in (("Succeeded", "release/web-2"), ("Healthy", "rollout/web"),
                              ("Ready", "release/web-2"), ("Ready", "rollout/web"))]
        env.promote("web")
        trace.wait_for(lambda s: s["release"] == "Succeeded" and s["rollout"] == "Healthy"
                       and s["canary"] == (0, 0, "v2") and s["weight"] == 0,
                       message="web-2 Succeeded, web Healthy")
        states = trace.stop()
        for p in waits:
            out, err = p.communicate(timeout=150)
            self.assertEqual(p.returncode, 0, "kubectl wait failed: %s %s" % (out, err))

        # the exact sequences a user saw
        msg = "\n" + trace.format()
        self.assertEqual(dedupe(states, lambda s: (s["stable"] and s["stable"][::2],
                                                   s["canary"] and s["canary"][0])),
                         [((10, "v1"), None),
                          ((10, "v1"), 1),    # canary starts, stable stays until it is ready
                          ((9, "v1"), 1),     # 10 %
                          ((9, "v1"), 5),     # after the pause: canary grows first
                          ((5, "v1"), 5),     # 50 %
                          ((10, "v2"), 5),    # promoted: stable rolls to v2, canary keeps share
                          ((10, "v2"), 0)],   # stable ready on v2: canary to 0
                         msg)
        self.assertEqual(dedupe(states, lambda s: s["release"]),
                         [None, "Progressing", "Paused", "Progressing", "Paused", "Progressing",
                          "Succeeded"], msg)
        self.assertEqual(dedupe(states, lambda s: s["rollout"]),
                         ["Healthy", "Progressing", "Paused", "Progressing", "Paused",
                          "Progressing", "Healthy"], msg)
        self.assertEqual(dedupe(states, lambda s: s["step"]), [None, 0, 1, 2, 3, 4, None], msg)
        self.assertEqual(dedupe(states, lambda s: s["selector"]),
                         [{"app": "web", "tollgate.io/rollout": "web"}], msg)
        # the Service selects both tracks' pods
        for d in ("web-stable", "web-canary"):
            self.assertTrue(selects(env.selector("web"), pod_labels(env.deployment(d))), d)
        self.assertEqual(pod_labels(env.deployment("web-canary")).get("tollgate.io/track"),
                         "canary")
        self.assertEqual(pod_labels(env.deployment("web-stable")).get("tollgate.io/track"),
                         "stable")

        # the end state
        self.assertEqual(env.replicas("web-stable"), (10, 10))
        self.assertEqual(env.deployment_image("web-stable"), IMG2)
        self.assertEqual(env.spec_replicas("web-canary"), 0)
        rel = env.release("web-2")
        self.assertEqual(rel["status"]["phase"], "Succeeded")
        self.assertEqual(get(rel, "status", "startedAt") is not None, True)
        self.assertEqual(get(rel, "status", "finishedAt") is not None, True)
        ro = env.rollout("web")
        self.assertEqual(ro["status"]["phase"], "Healthy")
        # current for GitOps tools: Ready, neither Reconciling nor Stalled, generation observed
        for obj in (ro, rel):
            self.assertEqual(kstatus(obj), ("True", "False", "False"), obj["kind"])
            self.assertEqual(obj["status"]["observedGeneration"], obj["metadata"]["generation"])
        self.assertEqual(ro["status"]["stableRelease"], "web-2")
        self.assertFalse(ro["status"].get("currentRelease"))
        hist = ro["status"]["history"]
        self.assertEqual([(h["release"], h["version"], h["result"]) for h in hist],
                         [("web-2", "v2.0.0", "Succeeded"), ("web-1", "v1.0.0", "Succeeded")])
        for h in hist:
            self.assertLessEqual(h["startedAt"], h["finishedAt"])
        # every phase change is an Event
        env.wait(lambda: {"Progressing", "Paused", "Succeeded"} <=
                 {e["reason"] for e in env.events("web-2", "Release")},
                 message="an Event for each phase of web-2")
        # kubectl get shows the printer columns
        out = env.kubectl("get", "tgro", "web").stdout
        self.assertRegex(out, r"web\s+Canary\s+web-2\s+")
        if PLUGIN_BIN:
            out = env.plugin("history", "web").stdout
            self.assertIn("web-2", out)
            self.assertIn("web-1", out)
        self.stop_operator_cleanly()


if __name__ == "__main__":
    unittest.main()
