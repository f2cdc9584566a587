"""Prometheus gates end to end: real Prometheus scraping the traffic simulator, the operator
querying it, kubectl as the user.

One kubesim carries several Rollouts at once, each with its own Service and its own images, so
their deliveries run side by side: trafficsim sends 60 requests/s into each Service and gives
each image its error rate and latency; Prometheus scrapes trafficsim every second; the
Rollouts' analyses query Prometheus. What each scenario shows:

- good:   every gate passes (error-rate threshold, latency against the baseline, HTTP smoke
          tests after each traffic shift and after promotion): Succeeded.
- bad:    20% errors: RolledBack at its first analysis, reason AnalysisFailed, the value in the
          message, a Warning Event, the operator's rollback counter, stable untouched.
- slow:   150 ms instead of 100 ms with no errors: the absolute thresholds pass, the baseline
          comparison fails (Mann-Whitney + median ratio): RolledBack.
- nodata: a query with no data follows its noData policy: fail rolls back, pass goes on.
- dryrun: a dry-run metric that fails is recorded, and the Release still succeeds.
A second test stops Prometheus in the middle of an analysis: after consecutiveErrorLimit the
Release pauses (onError: pause, the default) or rolls back (onError: rollback), and is never
promoted.
"""

import json
import time
import unittest

from promharness import Prometheus, TrafficSim
from tollgate_e2e import E2ETestCase, canary_strategy, get, image, release_yaml, rollout_yaml

RPS = 60

# No 5xx series at all is no error, not no data: "or vector(0)", as users write it.
ERRORS = ('(sum(rate(trafficsim_requests_total{namespace="{{namespace}}",service="{{service}}",'
          'track="{{track}}",code="500"}[6s])) or vector(0)) / sum(rate('
          'trafficsim_requests_total{namespace="{{namespace}}",service="{{service}}",'
          'track="{{track}}"}[6s]))')
LATENCY = ('sum(rate(trafficsim_request_duration_seconds_sum{namespace="{{namespace}}",'
           'service="{{service}}",track="{{track}}"}[4s])) / sum(rate('
           'trafficsim_request_duration_seconds_count{namespace="{{namespace}}",'
           'service="{{service}}",track="{{track}}"}[4s]))')


def metric_yaml(name, query, extra):
    return ("      - name: %s\n        query: %s\n%s"
            % (name, json.dumps(query), "".join("        %s\n" % e for e in extra)))


def analysis_yaml(metrics, address=None, smoke_url=None, baseline=False, on_error=None):
    out = "  analysis:\n"
    if address:
        out += "    prometheus: {address: %s, timeout: 3s}\n" % json.dumps(address)
    if baseline:
        out += "    baseline: true\n"
    if on_error:
        out += "    onError: %s\n" % on_error
    out += "    metrics:\n" + "".join(metrics)
    if smoke_url:
        out += ("    smokeTests:\n      - name: health\n        http: {url: %s, "
                "bodyPattern: '\"status\": \"ok\"', timeout: 2s, retries: 1}\n"
                % json.dumps(smoke_url))
    return out


THRESHOLDS = [
    metric_yaml("error-rate", ERRORS, ["initialDelay: 6s", "interval: 2s", "count: 2",
                                       "max: 0.05"]),
    metric_yaml("avg-latency", LATENCY, ["initialDelay: 6s", "interval: 2s", "count: 2",
                                         "max: 0.5"]),
]
COMPARE = metric_yaml("latency-vs-baseline", LATENCY,
                      ["initialDelay: 12s", "interval: 2s", "count: 1", "compare: baseline",
                       "lookback: 12s", "step: 1s", "confidence: 0.95",
                       "maxMedianRatio: 1.2"])
STEPS = "[{setWeight: 25}, {analysis: {}}, {setWeight: 50}]"


class PrometheusGates(E2ETestCase):
    START_OPERATOR = False
    READY_DELAY = 0.2

    def start_world(self, rollouts):
        """trafficsim into each rollout's Service, Prometheus scraping it, then the operator
        with Prometheus as its default (--prometheus-url)."""
        env = self.env
        self.traffic = TrafficSim(env.sim).start()
        self.addCleanup(self.traffic.stop, check=False)
        self.prom = Prometheus([self.traffic.target], scrape_interval="1s").start()
        self.addCleanup(self.prom.stop)
        self.traffic.set_entries([{"namespace": "default", "kind": "Service", "name": n,
                                   "rps": RPS} for n in rollouts])
        # Prometheus hands new targets to its scrapers every 5 s: wait for the first scrape.
        self.prom.wait_for('up{job="trafficsim"}', lambda v: v == 1, timeout=60,
                           message="trafficsim scraped")
        env.start_operator(args=["--prometheus-url", self.prom.url])

    def smoke_url(self):
        return self.traffic.url + "/smoke/{{namespace}}/{{service}}"

    def deliver_v1(self, names):
        env = self.env
        for n in names:
            env.apply(release_yaml(n + "-1", n, "v1.0.0", image("registry.example/" + n, 1)))
        for n in names:
            env.wait(lambda: env.release_phase(n + "-1") == "Succeeded", timeout=60,
                     message=n + "-1 Succeeded")

    def run_status(self, release, run):
        for r in get(self.env.release(release), "status", "analysis", "runs",
                     default=[]) or []:
            if r.get("name") == run:
                return r
        return None

    @staticmethod
    def metric_of(run, name):
        for m in (run or {}).get("metrics", []):
            if m.get("name") == name:
                return m
        return None

    def test_gates_decide_each_release(self):
        env = self.env
        names = ["good", "bad", "slow", "nodatafail", "nodatapass", "dryrun"]
        # The operator's default Prometheus comes from the flag; "good" names it itself.
        self.start_world(names)
        nodata = "sum(rate(no_such_metric_total{service=\"{{service}}\"}[10s]))"
        extra = {
            "good": analysis_yaml(THRESHOLDS + [COMPARE], address=self.prom.url,
                                  smoke_url=self.smoke_url(), baseline=True),
            "bad": analysis_yaml(THRESHOLDS),
            "slow": analysis_yaml(THRESHOLDS + [COMPARE], baseline=True),
            "nodatafail": analysis_yaml([metric_yaml("requests", nodata, [
                "initialDelay: 2s", "interval: 2s", "count: 1", "max: 1", "noData: fail"])]),
            "nodatapass": analysis_yaml([metric_yaml("requests", nodata, [
                "initialDelay: 2s", "interval: 2s", "count: 1", "max: 1", "noData: pass"])]),
            "dryrun": analysis_yaml(THRESHOLDS[:1] + [metric_yaml(
                "new-latency-slo", LATENCY, ["initialDelay: 6s", "interval: 2s", "count: 1",
                                             "max: 0.01", "dryRun: true"])]),
        }
        for n in names:
            env.apply(rollout_yaml(n, canary_strategy(STEPS), replicas=4, extra=extra[n]))
        self.deliver_v1(names)

        v2 = {n: image("registry.example/" + n, 2) for n in names}
        self.traffic.set_images({v2["bad"]: {"errorRate": 0.2},
                                 v2["slow"]: {"latencyMs": 150},
                                 image("registry.example/slow", 1): {"latencyMs": 100},
                                 image("registry.example/good", 1): {"latencyMs": 100},
                                 v2["good"]: {"latencyMs": 100}})
        for n in names:
            env.apply(release_yaml(n + "-2", n, "v2.0.0", v2[n]))

        ended = {}

        def all_ended():
            for n in names:
                p = env.release_phase(n + "-2")
                if p in ("Succeeded", "RolledBack", "Failed"):
                    ended[n] = p
            return len(ended) == len(names)
        env.wait(all_ended, timeout=240, message="every Release ended: %r" % ended)
        self.assertEqual(ended, {"good": "Succeeded", "bad": "RolledBack",
                                 "slow": "RolledBack", "nodatafail": "RolledBack",
                                 "nodatapass": "Succeeded", "dryrun": "Succeeded"})

        # good: every gate ran and passed.
        runs = {r["name"]: r for r in get(env.release("good-2"), "status", "analysis", "runs")}
        self.assertEqual(sorted(runs), ["promoted-smoke", "step-1-smoke", "step-2",
                                        "step-3-smoke"])
        self.assertTrue(all(r["phase"] == "Successful" for r in runs.values()), runs)
        cmp = self.metric_of(runs["step-2"], "latency-vs-baseline")
        self.assertEqual(cmp["phase"], "Successful")
        self.assertIn("baseline", cmp["measurements"][-1])
        self.assertEqual(runs["step-1-smoke"]["smokeTests"][0]["message"], "HTTP 200")
        self.assertEqual(env.deployment_image("good-stable"), v2["good"])
        env.wait(lambda: env.spec_replicas("good-baseline") == 0, message="good baseline at 0")

        # bad: rolled back at its first analysis, the value in the message and in status.
        bad = env.release("bad-2")
        msg = get(bad, "status", "message")
        self.assertRegex(msg, r"^Analysis step-2: error-rate = 0\.(1[89]|2)\d*")
        self.assertIn("(max 0.05)", msg)
        m = self.metric_of(self.run_status("bad-2", "step-2"), "error-rate")
        self.assertEqual((m["phase"], m["count"], m["failures"]), ("Failed", 1, 1))
        self.assertAlmostEqual(m["measurements"][-1]["value"], 0.2, delta=0.05)
        self.assertEqual(env.deployment_image("bad-stable"), image("registry.example/bad", 1))
        env.wait(lambda: env.spec_replicas("bad-canary") == 0, message="bad canary at 0")
        self.assertEqual(get(env.rollout("bad"), "status", "stableRelease"), "bad-1")
        # Events are the last writes of a reconcile, after the status: awaited, not read once
        warnings = env.wait_for_event("AnalysisFailed", involved="bad-2")
        self.assertEqual(warnings[0].get("type"), "Warning", warnings)
        rolled = {n: get(env.release(n + "-2"), "status", "message")
                  for n in ("bad", "slow", "nodatafail")}
        # Events are the last writes of a reconcile: the counter may trail the status a little.
        def rollbacks():
            return env.op.metric("tollgate_gate_rollbacks_total", {"reason": "AnalysisFailed"})
        env.wait(lambda: rollbacks() >= 3, message="3 rollbacks by AnalysisFailed counted")
        self.assertEqual(rollbacks(), 3, "each rollback counted once: %r" % rolled)

        # slow: thresholds pass, the comparison fails.
        run = self.run_status("slow-2", "step-2")
        self.assertEqual(run["phase"], "Failed")
        lat = self.metric_of(run, "latency-vs-baseline")
        self.assertEqual(lat["phase"], "Failed")
        last = lat["measurements"][-1]
        self.assertGreater(last["value"] / last["baseline"], 1.3)
        self.assertLess(last["pValue"], 0.05)
        avg = self.metric_of(run, "avg-latency")
        self.assertTrue(avg["measurements"] and all(
            x["result"] == "Pass" for x in avg["measurements"]), avg)
        self.assertIn("latency-vs-baseline", get(env.release("slow-2"), "status", "message"))
        env.wait(lambda: env.spec_replicas("slow-baseline") == 0, message="slow baseline at 0")

        # no data: fail rolls back, pass goes on.
        self.assertIn("no data", json.dumps(self.run_status("nodatafail-2", "step-2")))
        self.assertEqual(self.metric_of(self.run_status("nodatapass-2", "step-2"),
                                        "requests")["measurements"][0]["result"], "Pass")

        # dry run: the failing metric is recorded and did not gate.
        dr = self.metric_of(self.run_status("dryrun-2", "step-2"), "new-latency-slo")
        self.assertEqual((dr["phase"], dr.get("dryRun")), ("Failed", True))

        # kubectl tollgate status shows the analysis.
        out = env.plugin("status", "bad").stdout
        self.assertIn("error-rate", out)

    def test_prometheus_stopped_mid_analysis(self):
        env = self.env
        names = ["hold", "back"]
        self.start_world(names)
        long_metric = [metric_yaml("error-rate", ERRORS, [
            "initialDelay: 4s", "interval: 1s", "count: 60", "max: 0.05",
            "consecutiveErrorLimit: 2"])]
        env.apply(rollout_yaml("hold", canary_strategy(STEPS), replicas=4,
                               extra=analysis_yaml(long_metric)))
        env.apply(rollout_yaml("back", canary_strategy(STEPS), replicas=4,
                               extra=analysis_yaml(long_metric, on_error="rollback")))
        self.deliver_v1(names)
        for n in names:
            env.apply(release_yaml(n + "-2", n, "v2.0.0", image("registry.example/" + n, 2)))

        def measured(n):
            m = self.metric_of(self.run_status(n + "-2", "step-2"), "error-rate")
            return m and m.get("count", 0) >= 1 and m.get("errors", 0) == 0
        env.wait(lambda: all(measured(n) for n in names), timeout=120,
                 message="a first good measurement")
        self.prom.stop()

        env.wait(lambda: env.release_phase("back-2") == "RolledBack", timeout=120,
                 message="back-2 RolledBack after the errors")
        env.wait(lambda: env.release_phase("hold-2") == "Paused", timeout=120,
                 message="hold-2 Paused after the errors")
        hold = env.release("hold-2")
        self.assertIn("query errors in a row", get(hold, "status", "message"))
        self.assertIn("AnalysisError", [c.get("reason") for c in
                                        get(hold, "status", "conditions", default=[])])
        m = self.metric_of(self.run_status("hold-2", "step-2"), "error-rate")
        self.assertEqual(m["phase"], "Error")
        self.assertGreaterEqual(m["consecutiveErrors"], 3)
        self.assertIn("127.0.0.1", m["measurements"][-1]["message"])
        self.assertIn("AnalysisError", get(env.release("back-2"), "status", "message") +
                      json.dumps(get(env.release("back-2"), "status", "conditions")))
        # Never promoted: it stays paused, the stable track keeps v1.
        time.sleep(3)
        self.assertEqual(env.release_phase("hold-2"), "Paused")
        self.assertEqual(env.deployment_image("hold-stable"), image("registry.example/hold", 1))
        self.assertEqual(env.deployment_image("back-stable"), image("registry.example/back", 1))
        self.assertGreaterEqual(env.op.metric("tollgate_analysis_queries_total",
                                              {"result": "error"}), 3)


if __name__ == "__main__":
    unittest.main()
