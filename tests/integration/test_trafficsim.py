"""trafficsim (tests/trafficsim) and the real-Prometheus harness (tests/lib/promharness.py):
the traffic a user's requests would take, as Prometheus sees it.

One kubesim, one trafficsim, one Prometheus scraping every second for the whole class:
  Service web       -> web-stable (3 ready, web:v1, 100 ms) and web-canary (1 ready, web:v2,
                       150 ms, 20% errors): 75/25
  HTTPRoute route   -> Services ra (weight 80) and rb (weight 20)
  Ingress ing       -> Service ia, and the NGINX canary Ingress ing-canary (weight 30) -> ib
  Service empty     -> a Deployment of 0 replicas: 503s with deployment=""
Every PromQL assertion polls until it holds (generous timeout and tolerances): nothing depends on
how fast the machine is.
"""

import math
import os
import sys
import unittest

from harness import Kubesim, source_dir
from promharness import Prometheus, TrafficSim, near

sys.path.insert(0, os.path.join(source_dir(), "tests", "trafficsim"))
import trafficsim  # noqa: E402

HTTPROUTE_CRD = os.path.join(source_dir(), "tests", "fixtures", "e2e", "gateway-httproute-crd.yaml")
NS = "default"
DEPLOYMENTS = "/apis/apps/v1/namespaces/%s/deployments" % NS
SERVICES = "/api/v1/namespaces/%s/services" % NS
INGRESSES = "/apis/networking.k8s.io/v1/namespaces/%s/ingresses" % NS
HTTPROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/%s/httproutes" % NS

IMAGES = {
    "web:v1": {"latencyMs": 100, "jitterMs": 10},
    "web:v2": {"errorRate": 0.2, "latencyMs": 150, "jitterMs": 10, "smokeStatus": 500},
}
ENTRIES = [
    {"namespace": NS, "kind": "Service", "name": "web", "rps": 200},
    {"namespace": NS, "kind": "HTTPRoute", "name": "route", "rps": 200},
    {"namespace": NS, "kind": "Ingress", "name": "ing", "rps": 200},
    {"namespace": NS, "kind": "Service", "name": "empty", "rps": 20},
    {"namespace": NS, "kind": "Service", "name": "dyn", "rps": 10},
]
TIMEOUT = 45
REQ = "trafficsim_requests_total"
DUR = "trafficsim_request_duration_seconds"


def deployment(name, labels, image, replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}


def service(name, selector):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"port": 80}]}}


def ingress(name, host, svc, annotations=None):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": svc, "port": {"number": 80}}}}]}}]}}


def ratio(num, den, window="5s"):
    return "sum(rate(%s{%s}[%s])) / sum(rate(%s{%s}[%s]))" % (REQ, num, window, REQ, den, window)


class TrafficSimPrometheusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim().start()
        try:
            cls.ts = TrafficSim(cls.k).start()
            cls.prom = Prometheus([cls.ts.target], scrape_interval="1s").start()
            cls._setup_cluster()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for name in ("prom", "ts"):
            obj = getattr(cls, name, None)
            if obj is not None:
                obj.stop()
        cls.k.stop()

    @classmethod
    def create(cls, path, obj):
        status, _, body = cls.k.request("POST", path, obj)
        if status != 201:
            raise AssertionError("create %s -> %d %r" % (path, status, body))

    @classmethod
    def _setup_cluster(cls):
        k = cls.k
        k.kubectl("apply", "-f", HTTPROUTE_CRD)
        web = {"app": "web"}
        stable = {"app": "web", "tollgate.io/track": "stable"}
        canary = {"app": "web", "tollgate.io/track": "canary"}
        cls.create(DEPLOYMENTS, deployment("web-stable", stable, "web:v1", 3))
        cls.create(DEPLOYMENTS, deployment("web-canary", canary, "web:v2", 1))
        cls.create(SERVICES, service("web", web))
        cls.create(SERVICES, service("web-stable-only", stable))
        cls.create(SERVICES, service("web-canary-only", canary))
        for name, img in (("ra", "route:a"), ("rb", "route:b"), ("ia", "ing:a"), ("ib", "ing:b")):
            cls.create(DEPLOYMENTS, deployment(name, {"app": name}, img, 1))
            cls.create(SERVICES, service(name, {"app": name}))
        # dyn: a Service over dyn-a and dyn-b, one of which a test scales
        for name in ("dyn-a", "dyn-b"):
            cls.create(DEPLOYMENTS, deployment(name, {"app": name, "group": "dyn"}, name + ":1", 1))
        cls.create(SERVICES, service("dyn", {"group": "dyn"}))
        cls.create(DEPLOYMENTS, deployment("empty", {"app": "empty"}, "empty:v1", 0))
        cls.create(SERVICES, service("empty", {"app": "empty"}))
        cls.create(HTTPROUTES, {
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "route"},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [
                {"name": "ra", "port": 80, "weight": 80},
                {"name": "rb", "port": 80, "weight": 20}]}]}})
        cls.create(INGRESSES, ingress("ing", "a.example", "ia"))
        cls.create(INGRESSES, ingress("ing-canary", "a.example", "ib", {
            "nginx.ingress.kubernetes.io/canary": "true",
            "nginx.ingress.kubernetes.io/canary-weight": "30"}))
        cls.ts.set_images(IMAGES)
        cls.ts.set_entries(ENTRIES)

    def wait(self, promql, predicate, message=""):
        return self.prom.wait_for(promql, predicate, timeout=TIMEOUT, message=message)

    # -- Service: shares by ready replicas, per-image errors and latency -------------------------
    def test_service_split_by_ready_replicas(self):
        self.wait(ratio('entry="service/web",track="canary"', 'entry="service/web"'),
                  near(0.25, 0.05), "canary share of service/web about 25%")
        self.wait(ratio('entry="service/web",deployment="web-stable"', 'entry="service/web"'),
                  near(0.75, 0.05), "stable share of service/web about 75%")
        self.wait('sum(rate(%s{entry="service/web"}[5s]))' % REQ, near(200, 40),
                  "service/web at about 200 requests/s")

    def test_error_ratio_per_image(self):
        self.wait(ratio('image="web:v2",code="500"', 'image="web:v2"'), near(0.2, 0.04),
                  "web:v2 error ratio about 0.2")
        self.wait('sum(rate(%s{image="web:v1",code!="200"}[5s]) or vector(0))'
                  ' / sum(rate(%s{image="web:v1"}[5s]))' % (REQ, REQ),
                  near(0.0, 0.001), "web:v1 error ratio 0")

    def test_latency_per_image(self):
        mean = "sum(rate(%s_sum{track=\"%s\"}[5s])) / sum(rate(%s_count{track=\"%s\"}[5s]))"
        canary = self.wait(mean % (DUR, "canary", DUR, "canary"), near(0.150, 0.02),
                           "canary mean 150 ms")
        stable = self.wait(mean % (DUR, "stable", DUR, "stable"), near(0.100, 0.02),
                           "stable mean 100 ms")
        self.assertGreater(canary - stable, 0.03)
        p90 = 'histogram_quantile(0.9, sum by (le) (rate(%s_bucket{track="%s"}[5s])))'
        # histogram_quantile interpolates in buckets: normal(150, 10) -> ~0.19, (100, 10) -> ~0.12
        q_canary = self.wait(p90 % (DUR, "canary"), near(0.19, 0.03), "canary p90 about 190 ms")
        q_stable = self.wait(p90 % (DUR, "stable"), near(0.12, 0.02), "stable p90 about 120 ms")
        self.assertGreater(q_canary, q_stable)

    def test_prometheus_scrapes_the_exposition(self):
        self.wait('up{job="trafficsim"}', lambda v: v == 1, "trafficsim target up")
        # every histogram: +Inf bucket == _count, buckets cumulative
        text = self.ts.metrics()
        buckets, counts = {}, {}
        for line in text.splitlines():
            if line.startswith("#") or not line:
                continue
            name_labels, value = line.rsplit(" ", 1)
            if name_labels.startswith(DUR + "_bucket"):
                base = name_labels.split(',le="')[0]
                buckets.setdefault(base, []).append(float(value))
            elif name_labels.startswith(DUR + "_count"):
                counts[name_labels.replace(DUR + "_count", DUR + "_bucket")[:-1]] = float(value)
        self.assertTrue(buckets)
        for base, values in buckets.items():
            self.assertEqual(len(values), len(trafficsim.BUCKETS) + 1)
            self.assertEqual(values, sorted(values), base)
            self.assertEqual(values[-1], counts[base], base)

    # -- HTTPRoute and Ingress ----------------------------------------------------------------
    def test_httproute_weights(self):
        self.wait(ratio('entry="httproute/route",service="rb"', 'entry="httproute/route"'),
                  near(0.2, 0.05), "rb gets about 20% of httproute/route")
        self.wait(ratio('entry="httproute/route",service="ra"', 'entry="httproute/route"'),
                  near(0.8, 0.05), "ra gets about 80% of httproute/route")

    def test_nginx_canary_ingress_weight(self):
        self.wait(ratio('entry="ingress/ing",service="ib"', 'entry="ingress/ing"'),
                  near(0.3, 0.05), "the canary Ingress' Service gets about 30%")
        self.wait(ratio('entry="ingress/ing",deployment="ia"', 'entry="ingress/ing"'),
                  near(0.7, 0.05), "the main Ingress' Service gets about 70%")

    def test_no_ready_backend_is_503(self):
        self.wait('sum(rate(%s{entry="service/empty",code="503",deployment=""}[5s]))' % REQ,
                  near(20, 6), "service/empty answers 503 at about 20/s")
        other = self.prom.query('%s{entry="service/empty",code!="503"}' % REQ)
        self.assertEqual(other["result"], [])

    def test_shares_follow_the_cluster(self):
        self.ts.wait_for(lambda s: self.ts.shares("service/dyn") == {"dyn-a": 0.5, "dyn-b": 0.5},
                         timeout=TIMEOUT, message="dyn 50/50")
        status, _, body = self.k.request("PATCH", DEPLOYMENTS + "/dyn-b", {"spec": {"replicas": 3}},
                                         headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual(status, 200, body)
        self.ts.wait_for(lambda s: self.ts.shares("service/dyn") == {"dyn-a": 0.25, "dyn-b": 0.75},
                         timeout=TIMEOUT, message="dyn 25/75 after scaling dyn-b to 3")

    # -- smoke endpoint ----------------------------------------------------------------------
    def test_smoke_status_per_image(self):
        status, body = self.ts.smoke(NS, "web-stable-only")
        self.assertEqual((status, body), (200, {"status": "ok", "image": "web:v1",
                                                "deployment": "web-stable"}))
        status, body = self.ts.smoke(NS, "web-canary-only", rest="/healthz")
        self.assertEqual((status, body), (500, {"status": "error", "image": "web:v2",
                                                "deployment": "web-canary"}))
        self.assertEqual(self.ts.smoke(NS, "web-canary-only", method="POST")[0], 500)
        self.assertEqual(self.ts.smoke(NS, "web-stable-only", method="HEAD")[0], 200)
        seen = {self.ts.smoke(NS, "web")[1]["deployment"] for _ in range(40)}
        self.assertEqual(seen, {"web-stable", "web-canary"})

    def test_smoke_without_backend_or_service(self):
        self.assertEqual(self.ts.smoke(NS, "empty"), (503, {"status": "no backend"}))
        self.assertEqual(self.ts.smoke(NS, "nope")[0], 404)
        self.assertEqual(self.ts.smoke("no-such-ns", "web")[0], 404)

    # -- control API -------------------------------------------------------------------------
    def test_bad_control_requests_are_400(self):
        for path, body in (("/_trafficsim/entries", b"{not json"),
                           ("/_trafficsim/entries",
                            {"entries": [{"kind": "Pod", "name": "x", "rps": 1}]}),
                           ("/_trafficsim/entries",
                            {"entries": [{"kind": "Service", "name": "x", "rps": -1}]}),
                           ("/_trafficsim/entries", {"entries": {}}),
                           ("/_trafficsim/images", b"[1, 2"),
                           ("/_trafficsim/images", {"x": {"errorRate": 2}}),
                           ("/_trafficsim/images", {"x": {"latencyMS": 2}})):
            status, out = self.ts.request("POST", path, body)
            self.assertEqual(status, 400, (path, body, out))
            self.assertTrue(out["error"], out)
        status, out = self.ts.request("GET", "/_trafficsim/entries")
        self.assertEqual(out["entries"], [dict(e, rps=float(e["rps"])) for e in ENTRIES])
        status, out = self.ts.request("GET", "/_trafficsim/images")
        self.assertNotIn("x", out)
        self.assertEqual(out["web:v2"]["errorRate"], 0.2)

    # -- connection flags, and the harness' failure paths -----------------------------------
    def test_server_token_ca_flags(self):
        with TrafficSim(self.k, flags=True) as ts:
            status, body = ts.smoke(NS, "web-stable-only")
            self.assertEqual((status, body["deployment"]), (200, "web-stable"))
        bad = TrafficSim(self.k, extra_args=["--token", "wrong"]).start()
        try:
            status, body = bad.smoke(NS, "web")
            self.assertEqual(status, 502)
            self.assertIn("401", body["error"])
            bad.set_entries([{"kind": "Service", "name": "web", "rps": 1}])
            bad.wait_for(lambda s: s["pollError"], timeout=TIMEOUT, message="pollError set")
        finally:
            bad.stop()

    def test_prometheus_start_failure_names_the_log(self):
        prom = Prometheus([], extra_args=["--no-such-flag"])
        with self.assertRaises(RuntimeError) as cm:
            prom.start()
        self.assertIn("no-such-flag", str(cm.exception))
        prom.stop()
        prom.stop()


def snap(deps=(), svcs=(), routes=(), ings=()):
    s = trafficsim.Snapshot()
    s.deployments = {NS: list(deps)}
    s.services = {NS: {o["metadata"]["name"]: o for o in svcs}}
    s.routes = {NS: {o["metadata"]["name"]: o for o in routes}}
    s.ingresses = {NS: {o["metadata"]["name"]: o for o in ings}}
    return s


def ready(dep, n):
    dep["status"] = {"readyReplicas": n}
    return dep


def shares(s, kind, name, **extra):
    out = {}
    for _ns, svc, dep, frac in trafficsim.compute_shares(s, dict(namespace=NS, kind=kind, name=name,
                                                                 rps=1, **extra)):
        key = (svc, dep["metadata"]["name"] if dep else "")
        out[key] = round(out.get(key, 0) + frac, 9)
    return out


class RoutingModelTest(unittest.TestCase):
    """compute_shares on in-memory objects (no processes)."""

    def setUp(self):
        self.deps = [ready(deployment("a", {"app": "a"}, "a:1", 2), 2),
                     ready(deployment("b", {"app": "b"}, "b:1", 1), 1),
                     ready(deployment("z", {"app": "z"}, "z:1", 1), 0)]
        self.svcs = [service(n, {"app": n}) for n in ("a", "b", "z")]

    def test_httproute_default_weight_rules_and_unready_backend(self):
        route = {"metadata": {"name": "r"}, "spec": {"rules": [
            {"backendRefs": [{"name": "a"}, {"name": "b", "weight": 3}]},
            {"backendRefs": [{"name": "z", "weight": 4}, {"name": "x", "kind": "Other"}]}]}}
        s = snap(self.deps, self.svcs, [route])
        self.assertEqual(shares(s, "HTTPRoute", "r"),
                         {("a", "a"): 0.125, ("b", "b"): 0.375, ("z", ""): 0.5})
        self.assertEqual(shares(s, "HTTPRoute", "r", rule=0), {("a", "a"): 0.25, ("b", "b"): 0.75})
        self.assertEqual(shares(s, "HTTPRoute", "missing"), {})

    def test_ingress_canary_weight_total_and_hosts(self):
        main = ingress("m", "h.example", "a")
        other_host = ingress("c0", "other.example", "z", {
            "nginx.ingress.kubernetes.io/canary": "true",
            "nginx.ingress.kubernetes.io/canary-weight": "50"})
        s = snap(self.deps, self.svcs, ings=[main, other_host])
        self.assertEqual(shares(s, "Ingress", "m"), {("a", "a"): 1.0})
        canary = ingress("c1", "h.example", "b", {
            "nginx.ingress.kubernetes.io/canary": "true",
            "nginx.ingress.kubernetes.io/canary-weight": "1",
            "nginx.ingress.kubernetes.io/canary-weight-total": "4"})
        self.assertEqual(shares(snap(self.deps, self.svcs, ings=[main, other_host, canary]),
                                "Ingress", "m"), {("a", "a"): 0.75, ("b", "b"): 0.25})

    def test_service_split_and_track_labels(self):
        d1 = ready(deployment("s1", {"app": "s", "tollgate.io/color": "blue"}, "s:1", 3), 3)
        d2 = ready(deployment("s2", {"app": "s", "tollgate.io/track": "canary"}, "s:2", 1), 1)
        s = snap([d1, d2], [service("s", {"app": "s"})])
        self.assertEqual(shares(s, "Service", "s"), {("s", "s1"): 0.75, ("s", "s2"): 0.25})
        self.assertEqual((trafficsim.dep_track(d1), trafficsim.dep_track(d2)), ("blue", "canary"))
        self.assertEqual(shares(s, "Service", "nope"), {("nope", ""): 1.0})

    def test_low_rates_count_exactly_and_errors_converge(self):
        sim = trafficsim.Sim(kube=None, seed=3)
        sim.images["i"] = {"errorRate": 0.25}
        key = (NS, "service/s", "s", "d", "", "i")
        for _ in range(1000):
            sim.account(key, False, 0.3)
        s = sim.series[key]
        self.assertEqual(sum(s.codes.values()), 300)
        self.assertEqual(s.codes["500"], 75)
        self.assertEqual(s.count, 300)
        self.assertTrue(math.isclose(s.sum / s.count, 0.05, abs_tol=0.002))


if __name__ == "__main__":
    unittest.main()
