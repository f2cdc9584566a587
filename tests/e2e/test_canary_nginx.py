"""Scenario 3: a canary routed by NGINX ingress (plan_routing.c: nginx).

The user's Ingress `web` points at web-stable and is never modified; the operator keeps
`web-canary`, a copy of it whose backends point at web-canary, with the annotations
nginx.ingress.kubernetes.io/canary "true" and canary-weight "<w>": "0" for v1, "10" and "50"
through v2's steps, and back to "0" (the Ingress is kept, plan_routing.c) after success.
"""

import unittest

from tollgate_e2e import WalkTestCase, canary_walk, dedupe, get, write_order

INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations: {nginx.ingress.kubernetes.io/proxy-body-size: 8m}
spec:
  ingressClassName: nginx
  rules:
    - host: web.example
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: web-stable, port: {number: 80}}}
"""

CANARY = "nginx.ingress.kubernetes.io/canary"
WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
CANARY_PODS = {0: 0, 10: 1, 50: 5}


def canary_ingress(env):
    i = env.ingress("web-canary")
    if i is None:
        return None
    ann = get(i, "metadata", "annotations", default={}) or {}
    backends = [p["backend"]["service"]["name"]
                for r in get(i, "spec", "rules", default=[]) for p in r["http"]["paths"]]
    return (ann.get(CANARY), ann.get(WEIGHT), tuple(backends))


class NginxCanaryTest(WalkTestCase):

    @classmethod
    def walk(cls):
        cls.user_ingress_before = None
        cls.w = canary_walk(cls.env, "{nginx: {ingress: web}}", INGRESS, canary_ingress,
                            ("true", "0", ("web-canary",)))
        cls.states = cls.w["trace"].states
        cls.msg = "\n" + cls.w["trace"].format()

    def test_v1_canary_ingress_at_weight_0(self):
        self.assertEqual(self.w["v1"]["router"], ("true", "0", ("web-canary",)))

    def test_canary_ingress_at_every_step(self):
        self.assertEqual(dedupe(self.states, lambda s: s["router"]),
                         [("true", w, ("web-canary",)) for w in ("0", "10", "50", "0")],
                         self.msg)

    def test_weight_moves_only_once_the_canary_is_ready(self):
        # while the steps run (the scale-down at the end is
        # test_*_before_the_canary_scales_to_zero)
        for s in self.states:
            w = int(s["router"][1])
            if w and s["step"] is not None and s["step"] < 4:
                self.assertGreaterEqual(s["canary"][1], CANARY_PODS[w], "%r%s" % (s, self.msg))

    def test_deployments_and_phases_at_every_step(self):
        self.assertEqual(dedupe(self.states, lambda s: (s["stable"][0], s["stable"][2],
                                                        s["canary"] and s["canary"][0])),
                         [(10, "v1", None), (10, "v1", 1), (10, "v1", 5), (10, "v2", 5),
                          (10, "v2", 0)], self.msg)
        self.assertEqual(dedupe(self.states, lambda s: s["rollout"]),
                         ["Healthy", "Progressing", "Paused", "Progressing", "Paused",
                          "Progressing", "Healthy"], self.msg)
        self.assertEqual(dedupe(self.states, lambda s: s["weight"]), [0, 10, 50, 0], self.msg)

    def test_canary_ingress_is_a_copy(self):
        env = self.env
        user = env.ingress("web")
        can = env.ingress("web-canary")
        self.assertEqual(can["spec"]["ingressClassName"], "nginx")
        self.assertEqual(can["spec"]["rules"][0]["host"], "web.example")
        self.assertEqual(can["spec"]["rules"][0]["http"]["paths"][0]["backend"],
                         {"service": {"name": "web-canary", "port": {"number": 80}}})
        self.assertEqual(can["metadata"]["labels"]["app.kubernetes.io/managed-by"], "tollgate")
        self.assertEqual([o["name"] for o in can["metadata"]["ownerReferences"]], ["web"])
        # the user's Ingress is never modified
        self.assertEqual(user["metadata"]["generation"], 1)
        self.assertEqual(user["spec"]["rules"][0]["http"]["paths"][0]["backend"],
                         {"service": {"name": "web-stable", "port": {"number": 80}}})
        self.assertNotIn(CANARY, user["metadata"]["annotations"])
        self.assertNotIn("ownerReferences", user["metadata"])
        self.assertEqual(write_order(self.w["requests"], "/ingresses/web?"), [])
        self.assertEqual([r for r in write_order(self.w["requests"], "/ingresses/web")
                          if not self.w["requests"][r]["path"].endswith("web-canary")], [])

    def test_services(self):
        env = self.env
        self.assertEqual(env.selector("web-stable")["tollgate.io/track"], "stable")
        self.assertEqual(env.selector("web-canary")["tollgate.io/track"], "canary")

    # BUG (operator, plan_canary.c idle()): when a Release succeeds, the canary Deployment is
    # scaled to 0 before the canary Ingress's canary-weight goes back to "0"
    # (ensure_deployment(canary, 0) precedes ensure_routing_objects/set_weight(0)): for a moment
    # NGINX sends 50 % of the traffic to web-canary, which has no pods. Expected: weight "0" first.
    def test_weight_back_to_0_before_the_canary_scales_to_zero(self):
        for s in self.states:
            if s["canary"] and s["canary"][0] == 0:
                self.assertEqual(s["router"][1], "0", "%r%s" % (s, self.msg))
        ing = write_order(self.w["requests"], "/ingresses/web-canary")
        canary = write_order(self.w["requests"], "/deployments/web-canary")
        self.assertLess(ing[-1], canary[-1],
                        "the last canary Ingress write must precede the canary's scale-down")


if __name__ == "__main__":
    unittest.main()
