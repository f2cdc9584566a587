"""The Rollout and Release CRDs as a user meets them: applied to kubesim with the real kubectl.

Checks what `kubectl explain`, `kubectl get` and `kubectl wait` show, that the schema refuses
what it promises to refuse and defaults what it promises to default (the same defaults the C
parser applies: tests/fixtures/spec), that every spec fixture is accepted or refused by the
schema as the fixture says, and that manifests/examples/ are valid.

Environment: TOLLGATE_CRDS_DIR (default $TOLLGATE_SOURCE_DIR/crds) names the CRDs to test;
fixtures and examples are read from the repository holding this file.
Python 3 standard library only.
"""

import glob
import json
import os
import re
import unittest

from harness import Kubesim, source_dir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRDS_DIR = os.environ.get("TOLLGATE_CRDS_DIR") or os.path.join(source_dir(), "crds")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "spec")
EXAMPLES = os.path.join(REPO, "manifests", "examples")
DIGEST = "sha256:" + "0123456789abcdef" * 4


def rollout(name, spec):
    return {"apiVersion": "tollgate.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": name}, "spec": spec}


def release(name, spec):
    return {"apiVersion": "tollgate.io/v1alpha1", "kind": "Release",
            "metadata": {"name": name}, "spec": spec}


def minimal_canary(name="web", **extra):
    spec = {"template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": name, "image": "web:placeholder"}]}},
            "service": {"name": name},
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}}
    spec.update(extra)
    return rollout(name, spec)


class CRDTest(unittest.TestCase):
    """One kubesim for the class; each test uses its own namespace."""

    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim().start()
        try:
            cls.crd_files = sorted(glob.glob(os.path.join(CRDS_DIR, "*.yaml")))
            names = [os.path.basename(f) for f in cls.crd_files]
            assert "rollouts.tollgate.io.yaml" in names and "releases.tollgate.io.yaml" in names, \
                "no CRDs in %s: %s" % (CRDS_DIR, names)
            args = ["apply"]
            for f in cls.crd_files:
                args += ["-f", f]
            cls.k.kubectl(*args)
            cls.k.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                          "crd/rollouts.tollgate.io", "crd/releases.tollgate.io",
                          "crd/verificationpolicies.tollgate.io")
            cls.crds = {}
            for name in ("rollouts.tollgate.io", "releases.tollgate.io",
                         "verificationpolicies.tollgate.io"):
                cls.crds[name] = json.loads(cls.k.kubectl("get", "crd", name, "-o", "json").stdout)
        except BaseException:
            cls.k.stop(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def setUp(self):
        self.ns = re.sub(r"[^a-z0-9-]", "-", self._testMethodName.lower())[:50].strip("-")
        self.k.kubectl("create", "namespace", self.ns)

    # -- helpers -------------------------------------------------------------------------
    def kubectl(self, *args, **kw):
        return self.k.kubectl("-n", self.ns, *args, **kw)

    def apply(self, obj, *flags, check=True):
        return self.kubectl("apply", *flags, "-f", "-", input=json.dumps(obj), check=check)

    def refused(self, obj, *fragments):
        """Applies obj, expects the server to refuse it, and returns stderr, which must contain
        every fragment."""
        r = self.apply(obj, check=False)
        self.assertNotEqual(r.returncode, 0, "accepted: %s" % json.dumps(obj))
        for f in fragments:
            self.assertIn(f, r.stderr)
        return r.stderr

    def get(self, kind, name):
        return json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)

    def patch_status(self, kind, name, status):
        self.kubectl("patch", kind, name, "--subresource=status", "--type=merge",
                     "-p", json.dumps({"status": status}))

    # -- the CRDs themselves -------------------------------------------------------------
    def test_every_field_has_a_description(self):
        missing = []

        def walk(schema, path):
            if path and not schema.get("description") and not path.endswith(".metadata"):
                missing.append(path)
            for name, sub in (schema.get("properties") or {}).items():
                walk(sub, path + "." + name)
            if "items" in schema:
                walk(schema["items"], path + "[]")

        for name, crd in self.crds.items():
            for v in crd["spec"]["versions"]:
                walk(v["schema"]["openAPIV3Schema"], name)
        self.assertEqual(missing, [])

    def test_explain_canary_steps(self):
        out = self.kubectl("explain", "rollout.spec.strategy.canary.steps").stdout
        self.assertIn("KIND:       Rollout", out)
        self.assertIn("setWeight\t<integer>", out)
        self.assertIn("pause\t<Object>", out)
        self.assertIn("Percentage of traffic to send to the canary", out)
        self.assertIn("kubectl tollgate promote", out)
        self.assertRegex(out, r"\n\s+analysis\t<Object>")
        self.assertIn("exactly one of setWeight, pause and analysis", out)
        dur = self.kubectl("explain", "rollout.spec.strategy.canary.steps.pause.duration").stdout
        self.assertIn("1h30m", dur)

    def test_explain_analysis(self):
        out = self.kubectl("explain", "rollout.spec.analysis.metrics").stdout
        for field in ("query\t<string> -required-", "noData\t<string>", "compare\t<string>",
                      "count\t<integer>"):
            self.assertIn(field, out)
        self.assertIn("{{track}}", out)
        out = self.kubectl("explain", "rollout.spec.strategy.blueGreen.prePromotionAnalysis").stdout
        self.assertIn("metrics\t<[]Object>", out)
        out = self.kubectl("explain",
                           "rollout.spec.analysis.smokeTests.job.template.spec").stdout
        self.assertIn("JobSpec", out)

    def test_analysis_defaults(self):
        """The schema defaults the catalogue and smoke tests as the C parser does
        (tests/fixtures/spec/rollout-valid-analysis-defaults.json), and leaves a step's metric
        overrides alone: a default there would override the catalogue."""
        with open(os.path.join(FIXTURES, "rollout-valid-analysis-defaults.json")) as f:
            fx = json.load(f)
        obj = fx["object"]
        obj["metadata"] = {"name": obj["metadata"]["name"]}
        obj["spec"]["strategy"]["canary"]["steps"][1] = {
            "analysis": {"metrics": [{"name": "error-rate", "count": 3}]}}
        self.apply(obj)
        spec = self.get("rollout", "web")["spec"]
        an, view = spec["analysis"], fx["view"]["analysis"]
        m, vm = an["metrics"][0], view["metrics"][0]
        self.assertEqual(m["interval"], "30s")
        self.assertEqual(vm["interval"], 30000)
        self.assertEqual(m["noData"], vm["noData"])
        self.assertEqual(m["consecutiveErrorLimit"], vm["consecutiveErrorLimit"])
        self.assertEqual(m["failureLimit"], vm["failureLimit"])
        self.assertNotIn("count", m)
        self.assertEqual(an["onError"], view["onError"])
        self.assertEqual(an["prometheus"] if "prometheus" in an else None, None)
        h, vh = an["smokeTests"][0]["http"], view["smokeTests"][0]["http"]
        self.assertEqual((h["method"], h["expectedStatus"], h["retries"], h["timeout"]),
                         (vh["method"], vh["expectedStatus"], vh["retries"], "5s"))
        self.assertEqual(an["smokeTests"][1]["job"]["deadline"], "5m")
        self.assertEqual(spec["strategy"]["canary"]["steps"][1]["analysis"]["metrics"],
                         [{"name": "error-rate", "count": 3}])

    def test_explain_release_and_status(self):
        out = self.kubectl("explain", "release.spec.artifact").stdout
        self.assertIn("image\t<string> -required-", out)
        self.assertIn("allowTags\t<boolean>", out)
        self.assertIn("pinned by digest", out)
        cond = self.kubectl("explain", "release.status.conditions").stdout
        self.assertIn("Succeeded", cond)
        self.assertIn("lastTransitionTime\t<string> -required-", cond)
        phase = self.kubectl("explain", "rollout.status.phase").stdout
        for p in ("Healthy", "Progressing", "Paused", "Degraded", "RollingBack"):
            self.assertIn(p, phase)

    def test_short_names_and_category(self):
        res = self.k.kubectl("api-resources", "--api-group=tollgate.io", "-o", "wide").stdout
        lines = {l.split()[0]: l for l in res.splitlines()[1:] if l.strip()}
        self.assertIn("tgro", lines["rollouts"])
        self.assertIn("tollgate", lines["rollouts"])
        self.assertIn("tgrel", lines["releases"])
        self.assertIn("tollgate", lines["releases"])
        # Argo Rollouts' "ro" is left alone.
        self.assertNotRegex(lines["rollouts"], r"\bro\b")
        self.apply(minimal_canary())
        self.apply(release("web-1", {"rollout": "web", "version": "v1.0.0",
                                     "artifact": {"image": "web@" + DIGEST}}))
        self.assertIn("web", self.kubectl("get", "tgro", "-o", "name").stdout)
        self.assertEqual(self.kubectl("get", "tgrel", "-o", "name").stdout.strip(),
                         "release.tollgate.io/web-1")
        both = self.kubectl("get", "tollgate", "-o", "name").stdout.split()
        self.assertEqual(sorted(both), ["release.tollgate.io/web-1", "rollout.tollgate.io/web"])

    def test_printer_columns(self):
        self.apply(minimal_canary())
        self.patch_status("rollout", "web", {
            "phase": "Progressing", "strategy": "Canary", "stableRelease": "web-1",
            "currentRelease": "web-2", "canaryWeight": 20, "currentStep": 1})
        out = self.kubectl("get", "rollout", "web").stdout.splitlines()
        self.assertEqual(out[0].split(),
                         ["NAME", "STRATEGY", "STABLE", "CURRENT", "WEIGHT", "PHASE", "AGE"])
        self.assertEqual(out[1].split()[:6], ["web", "Canary", "web-1", "web-2", "20", "Progressing"])
        wide = self.kubectl("get", "rollout", "web", "-o", "wide").stdout.splitlines()
        self.assertIn("STEP", wide[0].split())
        self.assertEqual(wide[0].split()[-2:], ["READY", "AGE"])
        self.patch_status("rollout", "web", {"conditions": [
            {"type": "Ready", "status": "False", "reason": "ReleaseInFlight", "message": "",
             "lastTransitionTime": "2026-11-26T10:00:00Z"}]})
        wide = self.kubectl("get", "rollout", "web", "-o", "wide").stdout.splitlines()
        self.assertEqual(wide[1].split()[-2], "False")

        self.apply(release("web-2", {"rollout": "web", "version": "v1.2.4-build.457-def5678",
                                     "artifact": {"image": "web@" + DIGEST}}))
        self.patch_status("release", "web-2", {"phase": "Progressing", "message": "at step 2 of 2"})
        out = self.kubectl("get", "release", "web-2").stdout.splitlines()
        self.assertEqual(out[0].split(), ["NAME", "ROLLOUT", "VERSION", "PHASE", "AGE"])
        self.assertEqual(out[1].split()[:4], ["web-2", "web", "v1.2.4-build.457-def5678",
                                              "Progressing"])
        wide = self.kubectl("get", "release", "web-2", "-o", "wide").stdout
        self.assertIn("READY", wide.splitlines()[0].split())
        self.assertIn("IMAGE", wide)
        self.assertIn("web@" + DIGEST, wide)
        self.assertIn("at step 2 of 2", wide)

    # -- what the schema refuses ---------------------------------------------------------
    def test_schema_refuses_bad_values(self):
        bad_weight = minimal_canary()
        bad_weight["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = 101
        self.refused(bad_weight, "spec.strategy.canary.steps[0].setWeight",
                     "should be less than or equal to 100")
        self.refused(minimal_canary(replicas=-1), "spec.replicas",
                     "should be greater than or equal to 0")
        bad_kind = minimal_canary()
        del bad_kind["spec"]["template"]
        bad_kind["spec"]["workloadRef"] = {"kind": "StatefulSet", "name": "web"}
        self.refused(bad_kind, "spec.workloadRef.kind", 'Unsupported value: "StatefulSet"')
        bad_duration = minimal_canary()
        bad_duration["spec"]["strategy"]["canary"]["steps"][1] = {"pause": {"duration": "1d"}}
        self.refused(bad_duration, "spec.strategy.canary.steps[1].pause.duration", "should match")
        self.refused(release("r", {"rollout": "web", "version": "1.02.3",
                                   "artifact": {"image": "web@" + DIGEST}}),
                     "spec.version", "should match")
        self.refused(release("r", {"rollout": "web", "version": "1.0.0", "artifact": {}}),
                     "spec.artifact.image", "Required value")
        # Fields v1alpha1 does not enforce are refused, never silently kept; so are typos in
        # spec.verify, which is enforced.
        self.refused(release("r", {"rollout": "web", "version": "1.0.0",
                                   "artifact": {"image": "web@" + DIGEST},
                                   "migration": {"job": {}}}),
                     'unknown field "spec.migration"')
        self.refused(release("r", {"rollout": "web", "version": "1.0.0",
                                   "artifact": {"image": "web@" + DIGEST},
                                   "verify": {"signatures": {}}}),
                     'unknown field "spec.verify.signatures"')
        self.refused(release("r", {"rollout": "web", "version": "1.0.0",
                                   "artifact": {"image": "web@" + DIGEST},
                                   "verify": {"mode": "lenient"}}),
                     "spec.verify.mode", 'Unsupported value: "lenient"')
        self.refused(minimal_canary(analysis={"interval": "30s"}),
                     'unknown field "spec.analysis.interval"')
        metric = {"name": "error-rate", "query": "up"}
        for field, value, message in (("noData", "skip", 'Unsupported value: "skip"'),
                                      ("confidence", 1, "should be less than 1"),
                                      ("interval", "1d", "should match"),
                                      ("name", "Error", "should match")):
            bad = minimal_canary(analysis={"metrics": [dict(metric, **{field: value})]})
            self.refused(bad, "spec.analysis.metrics[0].%s" % field, message)
        bad = minimal_canary(analysis={"smokeTests": [{"name": "h", "http": {
            "url": "http://web/", "expectedStatus": 600}}]})
        self.refused(bad, "spec.analysis.smokeTests[0].http.expectedStatus",
                     "should be less than or equal to 599")
        self.assertEqual(self.kubectl("get", "tollgate", "-o", "name").stdout.strip(), "")

    def test_verification_policy(self):
        """Cluster-scoped, short name vpol, Mode and Images columns; typos and bad values are
        refused by the schema."""
        pol = {"apiVersion": "tollgate.io/v1alpha1", "kind": "VerificationPolicy",
               "metadata": {"name": "shop-" + self.ns},
               "spec": {"images": ["registry.example/shop/**"], "mode": "warn",
                        "authorities": [{"name": "ci", "key": {"secretRef": {
                            "name": "cosign", "namespace": "tollgate-system",
                            "key": "cosign.pub"}}, "tlog": "ignore"}],
                        "signature": {"authorities": ["ci"]},
                        "vulnerabilities": {"maxCritical": 0, "maxScanAge": "168h"}}}
        self.k.kubectl("apply", "-f", "-", input=json.dumps(pol))
        got = json.loads(self.k.kubectl("get", "vpol", pol["metadata"]["name"],
                                        "-o", "json").stdout)
        self.assertNotIn("namespace", got["metadata"])
        self.assertEqual(got["spec"]["vulnerabilities"]["maxScanAge"], "168h")
        table = self.k.kubectl("get", "vpol", pol["metadata"]["name"]).stdout
        self.assertIn("MODE", table)
        self.assertIn("IMAGES", table)
        self.assertIn("warn", table)
        self.k.kubectl("delete", "vpol", pol["metadata"]["name"])
        for path, value, message in (
                (("spec", "signatures"), {}, 'unknown field "spec.signatures"'),
                (("spec", "mode"), "lenient", 'Unsupported value: "lenient"'),
                (("spec", "vulnerabilities", "maxScanAge"), "1d", "should match")):
            bad = json.loads(json.dumps(pol))
            node = bad
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
            r = self.k.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
            self.assertNotEqual(r.returncode, 0, "accepted: %s" % json.dumps(bad))
            self.assertIn(message, r.stderr)

    def test_status_enums_and_conditions_are_validated(self):
        self.apply(minimal_canary())
        r = self.kubectl("patch", "rollout", "web", "--subresource=status", "--type=merge",
                         "-p", json.dumps({"status": {"phase": "Exploding"}}), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('Unsupported value: "Exploding"', r.stderr)
        r = self.kubectl("patch", "rollout", "web", "--subresource=status", "--type=merge",
                         "-p", json.dumps({"status": {"conditions": [{"type": "Healthy",
                                                                      "status": "Maybe"}]}}),
                         check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("status.conditions[0]", r.stderr)

    # -- what the schema defaults ----------------------------------------------------------
    def test_defaults_match_the_c_parser(self):
        """The server's defaults are the ones operator/rollout/spec.c applies itself (the
        fixture's view), so a planner sees the same Rollout either way."""
        with open(os.path.join(FIXTURES, "rollout-valid-canary-minimal.json")) as f:
            fx = json.load(f)
        obj = fx["object"]
        obj["metadata"] = {"name": obj["metadata"]["name"]}
        self.apply(obj)
        spec = self.get("rollout", "web")["spec"]
        view = fx["view"]
        self.assertEqual(spec["replicas"], view["replicas"])
        self.assertEqual(spec["service"]["port"], view["service"]["port"])
        self.assertEqual(spec["progressDeadlineSeconds"], view["progressDeadlineSeconds"])
        self.assertEqual(spec["revisionHistoryLimit"], view["revisionHistoryLimit"])
        self.assertEqual(spec["paused"], view["paused"])
        self.assertEqual(spec["strategy"]["canary"]["trafficRouting"], {"replicas": {}})
        self.assertEqual(view["routing"], {"kind": "replicas"})
        self.assertNotIn("targetPort", spec["service"])  # defaulted by the operator, to port

        with open(os.path.join(FIXTURES, "rollout-valid-bluegreen-workloadref.json")) as f:
            fx = json.load(f)
        obj = fx["object"]
        obj["metadata"] = {"name": "adopt"}
        del obj["spec"]["strategy"]["blueGreen"]["autoPromotionEnabled"]
        del obj["spec"]["strategy"]["blueGreen"]["scaleDownDelaySeconds"]
        self.apply(obj)
        spec = self.get("rollout", "adopt")["spec"]
        self.assertEqual(spec["workloadRef"]["apiVersion"], fx["view"]["workloadRef"]["apiVersion"])
        bg = spec["strategy"]["blueGreen"]
        self.assertIs(bg["autoPromotionEnabled"], True)
        self.assertEqual(bg["scaleDownDelaySeconds"], 30)
        self.assertNotIn("autoPromotionSeconds", bg)

        self.apply(release("r", {"rollout": "web", "version": "1.0.0",
                                 "artifact": {"image": "web@" + DIGEST}}))
        self.assertIs(self.get("release", "r")["spec"]["artifact"]["allowTags"], False)

    # -- the status subresource ------------------------------------------------------------
    def test_status_subresource_and_kubectl_wait(self):
        self.apply(release("r", {"rollout": "web", "version": "1.0.0",
                                 "artifact": {"image": "web@" + DIGEST}}))
        gen = self.get("release", "r")["metadata"]["generation"]
        # A status change through the main resource is ignored, as for any status subresource.
        self.kubectl("patch", "release", "r", "--type=merge",
                     "-p", json.dumps({"status": {"phase": "Succeeded"}}))
        self.assertNotIn("status", self.get("release", "r"))
        self.patch_status("release", "r", {
            "phase": "Succeeded", "observedGeneration": gen,
            "conditions": [{"type": "Succeeded", "status": "True", "reason": "Promoted",
                            "message": "is the stable release",
                            "lastTransitionTime": "2026-11-26T07:00:00Z",
                            "observedGeneration": gen}]})
        obj = self.get("release", "r")
        self.assertEqual(obj["metadata"]["generation"], gen)
        self.assertEqual(obj["status"]["phase"], "Succeeded")
        self.kubectl("wait", "--for=condition=Succeeded", "--timeout=60s", "release/r")

        self.apply(minimal_canary())
        self.patch_status("rollout", "web", {"phase": "Healthy", "conditions": [{
            "type": "Healthy", "status": "True", "reason": "StableReady", "message": "",
            "lastTransitionTime": "2026-11-26T07:00:00Z"}]})
        self.kubectl("wait", "--for=condition=Healthy", "--timeout=60s", "rollout/web")

    # -- fixtures and examples -------------------------------------------------------------
    def test_fixtures_agree_with_the_schema(self):
        """Each spec fixture says whether the schema accepts it ("schema"); valid ones must be
        accepted. Those the schema accepts but the operator refuses are why spec.c exists."""
        files = sorted(glob.glob(os.path.join(FIXTURES, "*.json")))
        self.assertGreater(len(files), 20)
        wrong = []
        for path in files:
            with open(path) as f:
                fx = json.load(f)
            want = fx.get("schema", "accepts")
            obj = fx["object"]
            meta = obj.get("metadata") or {}
            obj["metadata"] = {k: v for k, v in meta.items() if k in ("name", "labels")}
            r = self.apply(obj, "--dry-run=server", check=False)
            got = "accepts" if r.returncode == 0 else "rejects"
            if got != want:
                wrong.append("%s: want %s, got %s: %s" % (os.path.basename(path), want, got,
                                                           r.stderr.strip()))
        self.assertEqual(wrong, [])

    def test_examples_apply(self):
        have_gateway = "httproutes" in self.k.kubectl(
            "api-resources", "--api-group=gateway.networking.k8s.io", "-o", "name").stdout
        files = sorted(glob.glob(os.path.join(EXAMPLES, "*.yaml")))
        self.assertGreaterEqual(len(files), 5)
        for path in files:
            if "httproute" in os.path.basename(path) and not have_gateway:
                continue
            self.kubectl("apply", "-f", path)
        names = sorted(self.kubectl("get", "tollgate", "-o", "name").stdout.split())
        self.assertEqual(names, ["release.tollgate.io/checkout-1-4-2",
                                 "rollout.tollgate.io/catalog", "rollout.tollgate.io/checkout",
                                 "rollout.tollgate.io/orders", "rollout.tollgate.io/payments",
                                 "rollout.tollgate.io/storefront"])


if __name__ == "__main__":
    unittest.main()
