"""Scenario 9: a reconcile that finds everything converged writes nothing (issue 4).

After a delivery has finished and the operator is idle, kubesim's request log is cleared and
reconciles are triggered without any change of meaning (an unrelated annotation on the Rollout,
labels on the Releases, annotations on the objects the operator made and on the user's route or
Ingress). The log must then show no write (POST/PUT/PATCH/DELETE) from the operator (userAgent
tollgate/...), Events included.
"""

import time
import unittest

from tollgate_e2e import E2ETestCase, canary_strategy, image, release_yaml, rollout_yaml

ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{name: public}]
  rules:
    - backendRefs:
        - {name: web-stable, port: 80, weight: 100}
        - {name: web-canary, port: 80, weight: 0}
"""
INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web-stable, port: {number: 80}}}}
"""
BLUE_GREEN = """    blueGreen:
      previewService: web-preview
      scaleDownDelaySeconds: 1
"""


class ConvergedWritesTest(E2ETestCase):
    GATEWAY_API = True

    def reconciles(self):
        return self.env.op.metric("tollgate_reconcile_total")

    def wait_idle(self, quiet=2.0, timeout=60):
        """Until the operator has neither reconciled nor written for `quiet` seconds (long
        enough that a loaded machine's slow reconcile is not taken for idleness: work still
        pending would otherwise land in the request log of the next step)."""
        deadline = time.monotonic() + timeout
        last, since = self.reconciles(), time.monotonic()
        while time.monotonic() - since < quiet:
            if time.monotonic() > deadline:
                raise AssertionError("the operator never went idle")
            time.sleep(0.1)
            now = self.reconciles()
            if now != last:
                last, since = now, time.monotonic()

    def deliver(self, strategy, router_yaml=None):
        env = self.env
        env.apply(rollout_yaml("web", strategy, replicas=3))
        if router_yaml:
            env.apply(router_yaml)
        for n in (1, 2):
            env.apply(release_yaml("web-%d" % n, "web", "v%d.0.0" % n,
                                   image("registry.example/web", n)))
            env.wait(lambda: env.release_phase("web-%d" % n) == "Succeeded"
                     and env.rollout_phase("web") == "Healthy", message="web-%d stable" % n)
        self.wait_idle()

    def assert_ownership(self):
        """Everything the operator made: managed-by label and a controller ownerReference to
        the Rollout (issue 4)."""
        env = self.env
        made = env.raw("/apis/apps/v1/namespaces/default/deployments")["items"] + \
            env.raw("/api/v1/namespaces/default/services")["items"] + \
            [i for i in env.raw("/apis/networking.k8s.io/v1/namespaces/default/ingresses")["items"]
             if i["metadata"]["name"] != "web"]
        self.assertTrue(made)
        for o in made:
            meta = o["metadata"]
            if meta["name"] == "kubernetes":
                continue
            with self.subTest(kind=o.get("kind"), name=meta["name"]):
                self.assertEqual(meta.get("labels", {}).get("app.kubernetes.io/managed-by"),
                                 "tollgate")
                self.assertEqual(meta.get("labels", {}).get("tollgate.io/rollout"), "web")
                self.assertEqual([(r["kind"], r["name"], r.get("controller"),
                                   r.get("blockOwnerDeletion")) for r in meta["ownerReferences"]],
                                 [("Rollout", "web", True, True)])
                self.assertEqual(meta["ownerReferences"][0]["uid"],
                                 env.rollout("web")["metadata"]["uid"])

    def touch_and_check(self, objects):
        self.assert_ownership()
        env = self.env
        env.sim.clear_request_log()
        before = self.reconciles()
        env.kubectl("annotate", "rollout.tollgate.io", "web", "unrelated=1")
        env.kubectl("label", "release.tollgate.io", "web-1", "web-2", "team=checkout")
        for kind, name in objects:
            env.kubectl("annotate", kind, name, "example.com/touched=1")
        env.kubectl("annotate", "rollout.tollgate.io", "web", "unrelated=2", "--overwrite")
        env.wait(lambda: self.reconciles() >= before + 2, message="reconciles triggered")
        self.wait_idle()
        self.assertGreaterEqual(self.reconciles() - before, 2)
        log = env.sim.request_log()
        writes = [(r["method"], r["path"], r["status"]) for r in env.operator_writes(
            include_events=True)]
        self.assertEqual(writes, [], "converged reconciles wrote")
        # kubectl's own writes are in the log, so the log did record this period
        self.assertTrue([r for r in log if r["method"] == "PATCH"
                         and not r["userAgent"].startswith("tollgate")])

    def test_canary_gateway_api(self):
        self.deliver(canary_strategy("[{setWeight: 50}, {pause: {duration: 1s}}]",
                                     "{gatewayAPI: {httpRoute: web}}"), ROUTE)
        self.touch_and_check([("deployment", "web-stable"), ("deployment", "web-canary"),
                              ("service", "web"), ("service", "web-stable"),
                              ("service", "web-canary"), ("httproute", "web")])

    def test_canary_nginx(self):
        self.deliver(canary_strategy("[{setWeight: 50}]", "{nginx: {ingress: web}}"), INGRESS)
        self.touch_and_check([("deployment", "web-stable"), ("ingress", "web-canary"),
                              ("ingress", "web"), ("service", "web-canary")])

    def test_canary_replicas(self):
        self.deliver(canary_strategy("[{setWeight: 50}]"))
        self.touch_and_check([("deployment", "web-stable"), ("service", "web")])

    def test_blue_green(self):
        env = self.env
        self.deliver(BLUE_GREEN)
        env.wait(lambda: (env.spec_replicas("web-blue"), env.spec_replicas("web-green"))
                 in ((0, 3), (3, 0)), message="the old color scaled down")
        self.wait_idle()
        self.touch_and_check([("deployment", "web-blue"), ("deployment", "web-green"),
                              ("service", "web"), ("service", "web-preview")])


if __name__ == "__main__":
    unittest.main()
