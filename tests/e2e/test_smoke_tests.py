"""Smoke tests end to end, as Jobs and over HTTP, and blue-green's gates.

- jobok:   a canary whose Job smoke test succeeds (kubesim runs the Job): the Job is made from
           the template after each traffic shift and after promotion, owned by the Rollout,
           labelled for the operator's watch; the Release succeeds.
- jobfail: the Job fails (kubesim.tollgate.io/job-result: fail on the template): the Release is
           RolledBack with reason SmokeTestFailed and the Job's failure in its message.
- bg:      blue-green with an HTTP smoke test of the preview and a pre- and post-promotion
           analysis against real Prometheus (the preview gets test traffic of its own): the
           switch happens only after the preview's gates pass, and success only after the
           post-promotion ones.
- bgbad:   the same with an image answering 500 to the smoke test: rolled back before any
           switch; the active Service never moves.
"""

import json
import unittest

from promharness import Prometheus, TrafficSim
from tollgate_e2e import E2ETestCase, canary_strategy, get, image, release_yaml, rollout_yaml

JOB = """  analysis:
    smokeTests:
      - name: e2e
        job:
          deadline: 30s
          template:
            metadata:
              labels: {suite: checkout}
              annotations: {kubesim.tollgate.io/job-result: %s}
            spec:
              template:
                spec:
                  containers: [{name: e2e, image: registry.example/e2e-tests}]
"""

ERRORS = ('(sum(rate(trafficsim_requests_total{namespace="{{namespace}}",service="{{service}}",'
          'track="{{track}}",code="500"}[6s])) or vector(0)) / sum(rate('
          'trafficsim_requests_total{namespace="{{namespace}}",service="{{service}}",'
          'track="{{track}}"}[6s]))')

BG_ANALYSIS = """  analysis:
    metrics:
      - name: error-rate
        query: %s
        initialDelay: 4s
        interval: 1s
        count: 2
        max: 0.05
    smokeTests:
      - name: health
        http: {url: "%s/smoke/{{namespace}}/{{service}}", timeout: 2s, retries: 0}
"""


def bluegreen(preview):
    return ("    blueGreen:\n      previewService: %s\n      scaleDownDelaySeconds: 0\n"
            "      prePromotionAnalysis: {}\n      postPromotionAnalysis: {}\n" % preview)


class SmokeTests(E2ETestCase):
    START_OPERATOR = False

    def runs(self, release):
        return {r["name"]: r for r in
                get(self.env.release(release), "status", "analysis", "runs", default=[]) or []}

    def test_job_smoke_tests(self):
        env = self.env
        env.start_operator()
        steps = "[{setWeight: 50}]"
        env.apply(rollout_yaml("jobok", canary_strategy(steps), replicas=2,
                               extra=JOB % "succeed"))
        env.apply(rollout_yaml("jobfail", canary_strategy(steps), replicas=2,
                               extra=JOB % "fail"))
        for n in ("jobok", "jobfail"):
            env.apply(release_yaml(n + "-1", n, "v1.0.0", image("registry.example/" + n, 1)))
        for n in ("jobok", "jobfail"):
            env.wait(lambda: env.release_phase(n + "-1") == "Succeeded", timeout=60)
            env.apply(release_yaml(n + "-2", n, "v2.0.0", image("registry.example/" + n, 2)))
        env.wait(lambda: env.release_phase("jobok-2") == "Succeeded", timeout=120,
                 message="jobok-2 Succeeded")
        env.wait(lambda: env.release_phase("jobfail-2") == "RolledBack", timeout=120,
                 message="jobfail-2 RolledBack")

        runs = self.runs("jobok-2")
        self.assertEqual(sorted(runs), ["promoted-smoke", "step-1-smoke"])
        job_name = runs["step-1-smoke"]["smokeTests"][0]["job"]
        self.assertEqual(runs["step-1-smoke"]["smokeTests"][0]["message"],
                         "Job %s succeeded" % job_name)
        job = env.raw("/apis/batch/v1/namespaces/default/jobs/" + job_name)
        meta = job["metadata"]
        self.assertEqual(meta["labels"]["app.kubernetes.io/managed-by"], "tollgate")
        self.assertEqual(meta["labels"]["suite"], "checkout")
        self.assertEqual(meta["labels"]["tollgate.io/release"], "jobok-2")
        self.assertEqual([(o["kind"], o["name"], o.get("controller")) for o in
                          meta["ownerReferences"]], [("Rollout", "jobok", True)])
        self.assertEqual(job["spec"]["template"]["spec"]["restartPolicy"], "Never")
        self.assertEqual(job["spec"]["activeDeadlineSeconds"], 30)

        msg = get(env.release("jobfail-2"), "status", "message")
        self.assertRegex(msg, r"^Smoke tests step-1-smoke: smoke test e2e failed: Job "
                              r"jobfail-smoke-[0-9a-f]{8} failed: BackoffLimitExceeded")
        self.assertEqual(env.deployment_image("jobfail-stable"),
                         image("registry.example/jobfail", 1))
        env.wait(lambda: env.spec_replicas("jobfail-canary") == 0, message="canary at 0")
        # Events are the last writes of a reconcile, after the status: awaited, not read once
        env.wait_for_event("SmokeTestFailed", involved="jobfail-2", type="Warning")

    def test_blue_green_gates(self):
        env = self.env
        traffic = TrafficSim(env.sim).start()
        self.addCleanup(traffic.stop, check=False)
        prom = Prometheus([traffic.target], scrape_interval="1s").start()
        self.addCleanup(prom.stop)
        entries = []
        for n in ("bg", "bgbad"):
            entries += [{"namespace": "default", "kind": "Service", "name": n, "rps": 40},
                        {"namespace": "default", "kind": "Service", "name": n + "-preview",
                         "rps": 20}]
        traffic.set_entries(entries)
        prom.wait_for('up{job="trafficsim"}', lambda v: v == 1, timeout=60)
        env.start_operator(args=["--prometheus-url", prom.url])
        for n in ("bg", "bgbad"):
            env.apply(rollout_yaml(n, bluegreen(n + "-preview"), replicas=2,
                                   extra=BG_ANALYSIS % (json.dumps(ERRORS), traffic.url)))
            env.apply(release_yaml(n + "-1", n, "v1.0.0", image("registry.example/" + n, 1)))
        for n in ("bg", "bgbad"):
            env.wait(lambda: env.release_phase(n + "-1") == "Succeeded", timeout=60)
        traffic.set_images({image("registry.example/bgbad", 2): {"smokeStatus": 500}})
        for n in ("bg", "bgbad"):
            env.apply(release_yaml(n + "-2", n, "v2.0.0", image("registry.example/" + n, 2)))

        env.wait(lambda: env.release_phase("bgbad-2") == "RolledBack", timeout=120,
                 message="bgbad-2 RolledBack")
        self.assertEqual(env.selector("bgbad").get("tollgate.io/color"), "blue")
        runs = self.runs("bgbad-2")
        self.assertEqual(runs["preview-smoke"]["phase"], "Failed")
        self.assertIn("HTTP 500 (expected 200)", get(env.release("bgbad-2"), "status", "message"))
        self.assertNotIn("prePromotion", runs)
        env.wait(lambda: env.spec_replicas("bgbad-green") == 0, message="preview scaled down")

        env.wait(lambda: env.release_phase("bg-2") == "Succeeded", timeout=150,
                 message="bg-2 Succeeded")
        runs = self.runs("bg-2")
        self.assertEqual([(k, runs[k]["phase"]) for k in
                          ("preview-smoke", "prePromotion", "promoted-smoke", "postPromotion")],
                         [("preview-smoke", "Successful"), ("prePromotion", "Successful"),
                          ("promoted-smoke", "Successful"), ("postPromotion", "Successful")])
        # The preview's analysis measured the preview color; the post-promotion one measured
        # the new active color after the switch.
        self.assertLess(runs["prePromotion"]["finishedAt"], runs["postPromotion"]["startedAt"])
        self.assertEqual(env.selector("bg").get("tollgate.io/color"), "green")
        pre = runs["prePromotion"]["metrics"][0]["measurements"][-1]
        self.assertEqual(pre["result"], "Pass")
        # The Release's status is written before the Rollout's.
        env.wait(lambda: get(env.rollout("bg"), "status", "stableRelease") == "bg-2",
                 message="bg-2 stable")


if __name__ == "__main__":
    unittest.main()
