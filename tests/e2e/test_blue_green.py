"""Scenario 6: blue-green (plan_bluegreen.c).

Without auto-promotion: v1 runs in blue, active at once. v2 starts green at full size behind the
preview Service while the active Service stays on blue; nothing switches until promote; then
the active (and preview) Service select green, blue keeps its pods for scaleDownDelaySeconds
(2 s) and is scaled to 0 after. With autoPromotionSeconds the switch happens by itself that
long after the preview is ready.
"""

import unittest

from tollgate_e2e import E2ETestCase, dedupe, get, image, release_yaml, rollout_yaml

IMGS = {image("registry.example/web", n): "v%d" % n for n in (1, 2)}


def strategy(extra):
    return ("    blueGreen:\n      previewService: web-preview\n"
            "      scaleDownDelaySeconds: 2\n" + extra)


class BlueGreenTest(E2ETestCase):

    def color(self, name):
        d = self.env.deployment(name)
        if d is None:
            return None
        return (get(d, "spec", "replicas"), get(d, "status", "readyReplicas", default=0) or 0,
                IMGS.get(get(d, "spec", "template", "spec", "containers", 0, "image")))

    def observe(self):
        env = self.env
        ro = env.rollout("web")
        return {"release": env.release_phase("web-2"), "rollout": get(ro, "status", "phase"),
                "activeColor": get(ro, "status", "activeColor"),
                "blue": self.color("web-blue"), "green": self.color("web-green"),
                "active": (env.selector("web") or {}).get("tollgate.io/color"),
                "preview": (env.selector("web-preview") or {}).get("tollgate.io/color")}

    def start(self, extra):
        env = self.env
        env.apply(rollout_yaml("web", strategy(extra), replicas=3))
        env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy", message="v1 stable")
        s = self.observe()
        self.assertEqual(s["blue"], (3, 3, "v1"))
        self.assertEqual((s["active"], s["preview"], s["activeColor"]), ("blue", "blue", "blue"))
        self.assertEqual(env.selector("web"), {"app": "web", "tollgate.io/rollout": "web",
                                               "tollgate.io/color": "blue"})
        trace = env.trace(self.observe)
        env.apply(release_yaml("web-2", "web", "v2.0.0", image("registry.example/web", 2)))
        return trace

    def finish(self, trace):
        end = trace.wait_for(lambda s: s["release"] == "Succeeded" and s["rollout"] == "Healthy"
                             and s["blue"][0] == 0, timeout=60,
                             message="v2 Succeeded and blue scaled down")
        self.assertEqual(end["green"], (3, 3, "v2"))
        self.assertEqual((end["active"], end["preview"], end["activeColor"]),
                         ("green", "green", "green"))
        states = trace.stop()
        msg = "\n" + trace.format()
        # the active Service switched exactly once, straight from blue to green
        self.assertEqual(dedupe(states, lambda s: s["active"]), ["blue", "green"], msg)
        self.assertEqual(dedupe(states, lambda s: s["preview"]), ["blue", "green"], msg)
        # blue: 3 pods until the delay is over, then 0; never another image
        self.assertEqual(dedupe(states, lambda s: s["blue"][0::2]), [(3, "v1"), (0, "v1")], msg)
        i_switch = [i for i, s in enumerate(states) if s["active"] == "green"][0]
        i_down = [i for i, s in enumerate(states) if s["blue"][0] == 0][0]
        delay = trace.times[i_down] - trace.times[i_switch]
        self.assertGreaterEqual(delay, 1.8, "blue scaled down %.2fs after the switch%s"
                                % (delay, msg))
        # an upper bound on lateness, with room for a loaded machine (a requeue that never
        # came would wait for the next resync, much later)
        self.assertLess(delay, 6, msg)
        # green was ready before it got traffic
        self.assertEqual(states[i_switch]["green"], (3, 3, "v2"), msg)
        ro = self.env.rollout("web")
        self.assertEqual(ro["status"]["stableRelease"], "web-2")
        self.assertEqual([(h["release"], h["result"]) for h in ro["status"]["history"]],
                         [("web-2", "Succeeded"), ("web-1", "Succeeded")])
        return states, msg, i_switch

    def test_manual_promotion(self):
        env = self.env
        trace = self.start("      autoPromotionEnabled: false\n")
        s = trace.wait_for(lambda s: s["green"] == (3, 3, "v2") and s["preview"] == "green"
                           and s["rollout"] == "Paused", message="preview green ready, paused")
        self.assertEqual(s["active"], "blue")
        self.assertEqual(s["blue"], (3, 3, "v1"))
        self.assertEqual(s["release"], "Paused")
        # it waits for promote
        import time
        time.sleep(1.0)
        self.assertEqual(trace.last(), s, "switched without promote")
        env.promote("web")
        # just after the switch blue still runs
        s = trace.wait_for(lambda s: s["active"] == "green", message="active on green")
        self.assertEqual(s["blue"], (3, 3, "v1"))
        states, msg, i_switch = self.finish(trace)
        self.assertEqual(dedupe(states, lambda s: s["release"]),
                         [None, "Progressing", "Paused", "Succeeded"], msg)

    def test_auto_promotion_after_seconds(self):
        trace = self.start("      autoPromotionSeconds: 1\n")
        states, msg, i_switch = self.finish(trace)
        i_ready = [i for i, s in enumerate(states) if s["green"] and s["green"][1] == 3][0]
        waited = trace.times[i_switch] - trace.times[i_ready]
        self.assertGreaterEqual(waited, 0.9, "promoted %.2fs after the preview was ready%s"
                                % (waited, msg))
        self.assertLess(waited, 5, msg)  # lateness, with room for a loaded machine
        self.assertNotIn("Failed", [s["release"] for s in states])


if __name__ == "__main__":
    unittest.main()
