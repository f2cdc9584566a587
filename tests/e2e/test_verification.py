"""Verification in the release flow (docs/api.md "Verification", docs/planner.md "Verifying").

Real kubectl, kubesim, the operator as install.yaml's ServiceAccount (any 403 fails the test:
its RBAC must cover the GETs of Secrets and ConfigMaps a verification makes), and for the
scenarios that need one, the real docker-registry holding signed and unsigned test images
(tests/lib/registry_harness.py, tests/lib/cosign_fixtures.py). kubesim runs no pods: a
Deployment's image is only a string, so the images only need to exist in the registry.

Every scenario asserts what a user sees: the Release's phase and message, status.verification,
the Events, and that no Deployment of a Release that did not pass was ever created or changed
(a watch of the Deployments' generation and template, from before the Release was applied).

Without a registry (always run):
  - an image no policy covers: delivered with status.verification NotRequired (default), or
    Failed/VerificationFailed with --verify-unmatched deny;
  - a registry that cannot be reached: the Release stays Verifying with "registry unreachable:
    ... (attempt N, retrying in Ts)", a Warning Event VerificationRetrying, the attempts
    counted with backoff, and no Deployment made;
  - a Release's own spec.verify requires verification even when no cluster policy covers it.
With the registry (skipped until operator/verify/verifier.c replaces the stub):
  - signed, key in a Secret, a VerificationPolicy matching: Succeeded, status.verification
    Passed with the signer;
  - unsigned: Failed/VerificationFailed with the reason; no Deployment of it ever;
  - SBOM attestation missing, vulnerability attestation over the ceiling: Failed;
  - registry stopped: Verifying with the retry message, then Passed once it is back;
  - warn mode: an unsigned Release goes through with a Warning Event VerificationWarning;
  - spec.verify adds a check that fails although the cluster policy passes.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import source_dir
from tollgate_e2e import (DeploymentWatch, E2ETestCase, canary_strategy, digest, get,
                          release_yaml, rollout_yaml)

try:  # helper wt-reg's harness: a real docker-registry and cosign-format signatures
    import cosign_fixtures  # noqa: F401
    import registry_harness  # noqa: F401
    HAVE_REGISTRY = True
except ImportError:
    HAVE_REGISTRY = False

STEPS = "[{setWeight: 50}, {pause: {duration: 1s}}]"


def make_pubkey():
    """A fresh P-256 public key (PEM), made by OpenSSL: a policy must name one."""
    priv = subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout"],
                          capture_output=True, check=True).stdout
    return subprocess.run(["openssl", "ec", "-pubout"], input=priv, capture_output=True,
                          check=True).stdout.decode()


PUBKEY = make_pubkey()


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def secret_yaml(name, key, value, namespace="default"):
    return json.dumps({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": name, "namespace": namespace},
                       "stringData": {key: value}})


def policy_yaml(name, images, mode="enforce", extra=None):
    spec = {"images": images, "mode": mode,
            "authorities": [{"name": "ci", "tlog": "ignore",
                             "key": {"secretRef": {"name": "cosign-pub", "namespace": "default",
                                                   "key": "cosign.pub"}}}],
            "signature": {"authorities": ["ci"]}}
    spec.update(extra or {})
    return json.dumps({"apiVersion": "tollgate.io/v1alpha1", "kind": "VerificationPolicy",
                       "metadata": {"name": name}, "spec": spec})


class VerificationWithoutRegistryTest(E2ETestCase):
    START_OPERATOR = False

    def setUp(self):
        super().setUp()
        self.port = closed_port()
        self.repo = "127.0.0.1:%d/shop/web" % self.port

    def start(self, *args, pull_secret=False):
        self.env.start_operator(["--registry-http", "127.0.0.1:%d" % self.port] + list(args))
        ro = rollout_yaml("web", canary_strategy(STEPS), replicas=2)
        if pull_secret:  # registry credentials, read with a GET when verifying
            self.env.apply(json.dumps({
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": {"name": "pull", "namespace": "default"},
                "stringData": {".dockerconfigjson": json.dumps({"auths": {
                    "127.0.0.1:%d" % self.port: {"username": "ci", "password": "s3cret"}}})}}))
            ro = ro.replace("    spec:\n      containers:",
                            "    spec:\n      imagePullSecrets: [{name: pull}]\n      containers:")
        self.env.apply(ro)

    def image(self, n):
        return "%s@%s" % (self.repo, digest(n))

    def test_unmatched_image_is_delivered_unverified_by_default(self):
        env = self.env
        self.start()
        env.apply(policy_yaml("elsewhere", ["other.example/**"]))
        env.apply(release_yaml("web-1", "web", "1.0.0", self.image(1)))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded", message="web-1 Succeeded")
        v = get(env.release("web-1"), "status", "verification")
        self.assertEqual(v, {"result": "NotRequired", "image": self.image(1)})
        self.assertEqual(env.deployment_image("web-stable"), self.image(1))

    def test_unmatched_image_fails_with_deny(self):
        env = self.env
        self.start("--verify-unmatched", "deny")
        watch = DeploymentWatch(env)
        env.apply(release_yaml("web-1", "web", "1.0.0", self.image(1)))
        env.wait(lambda: env.release_phase("web-1") == "Failed", message="web-1 Failed")
        rel = env.release("web-1")
        self.assertEqual(rel["status"]["message"],
                         "no verification policy covers %s" % self.image(1))
        self.assertEqual(get(rel, "status", "verification", "result"), "Failed")
        failed = [c for c in rel["status"]["conditions"] if c["type"] == "Failed"][0]
        self.assertEqual(failed["reason"], "VerificationFailed")
        ev = env.wait_for_event("VerificationFailed", "web-1", "Release", type="Warning")
        self.assertIn("no verification policy covers", ev[0]["message"])
        time.sleep(0.5)
        self.assertEqual(watch.stop(), {}, "a Deployment was made for a Release that failed")

    def test_unreachable_registry_keeps_verifying_with_backoff(self):
        env = self.env
        self.start(pull_secret=True)
        env.apply(secret_yaml("cosign-pub", "cosign.pub", PUBKEY))
        env.apply(policy_yaml("shop", ["127.0.0.1:*/shop/**"]))
        watch = DeploymentWatch(env)
        env.apply(release_yaml("web-1", "web", "1.0.0", self.image(1)))
        env.wait(lambda: "(attempt 1, retrying in 5s)" in
                 (get(env.release("web-1"), "status", "message") or ""),
                 message="the first retry message")
        rel = env.release("web-1")
        self.assertEqual(rel["status"]["phase"], "Verifying")
        self.assertTrue(rel["status"]["message"].startswith("registry unreachable: "),
                        rel["status"]["message"])
        v = rel["status"]["verification"]
        self.assertEqual((v["result"], v["attempts"], v["image"]),
                         ("Retrying", 1, self.image(1)))
        env.wait_for_event("VerificationRetrying", "web-1", "Release", type="Warning")
        # The second attempt comes 5 s later, and says it waits 10 s.
        env.wait(lambda: "(attempt 2, retrying in 10s)" in
                 (get(env.release("web-1"), "status", "message") or ""), timeout=30,
                 message="the second retry message")
        self.assertEqual(env.release_phase("web-1"), "Verifying")
        self.assertGreaterEqual(env.op.metric("tollgate_verifications_total"), 2)
        self.assertEqual(watch.stop(), {}, "a Deployment was made before verification passed")
        # The pull secret and the policy's key were read with GETs, and nothing was listed.
        reads = [r for r in env.sim.request_log()
                 if (r.get("userAgent") or "").startswith("tollgate")
                 and "/secrets" in r.get("path", "")]
        self.assertTrue(reads, "the operator never read the imagePullSecret")
        self.assertEqual({r["verb"] for r in reads}, {"get"})
        self.stop_operator_cleanly()  # a verification in flight is canceled, nothing leaks

    def test_release_spec_verify_alone_requires_a_verdict(self):
        env = self.env
        self.start()
        env.apply(secret_yaml("cosign-pub", "cosign.pub", PUBKEY))
        extra = ("  verify:\n    authorities:\n    - name: mine\n      tlog: ignore\n"
                 "      key: {secretRef: {name: cosign-pub, key: cosign.pub}}\n"
                 "    signature: {authorities: [mine]}\n")
        env.apply(release_yaml("web-1", "web", "1.0.0", self.image(1), extra))
        env.wait(lambda: get(env.release("web-1"), "status", "verification", "result")
                 == "Retrying", message="web-1 verifying its own policy")
        self.assertEqual(env.release_phase("web-1"), "Verifying")
        self.assertIsNone(env.deployment("web-stable"))


# The real verifier (operator/verify/verifier.c) replaces a stub that always answers "registry
# unreachable"; the scenarios below need real verdicts.
VERIFIER_BUILT = os.path.exists(os.path.join(source_dir(), "operator", "verify", "verifier.c"))
SBOM_TYPE = "https://cyclonedx.org/bom"
VULN_TYPE = "https://cosign.sigstore.dev/attestation/vuln/v1"


def rfc3339(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def cyclonedx():
    return {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
            "components": [{"type": "library", "name": "openssl", "version": "3.0.13"},
                           {"type": "library", "name": "zlib", "version": "1.3"}]}


def trivy_vuln(image_ref, critical=0, high=0):
    """A cosign vuln predicate holding a Trivy report with that many findings."""
    vulns = [{"VulnerabilityID": "CVE-2026-%04d" % (1000 + i), "PkgName": "openssl",
              "InstalledVersion": "3.0.13", "FixedVersion": "3.0.14", "Status": "fixed",
              "Severity": sev}
             for i, sev in enumerate(["CRITICAL"] * critical + ["HIGH"] * high)]
    now = rfc3339()
    return {"invocation": {"parameters": None, "uri": "", "event_id": "", "builder.id": ""},
            "scanner": {"uri": "pkg:github/aquasecurity/trivy@0.50.0", "version": "0.50.0",
                        "db": {"uri": "", "version": ""},
                        "result": {"SchemaVersion": 2, "CreatedAt": now,
                                   "ArtifactName": image_ref,
                                   "Results": [{"Target": "app", "Class": "os-pkgs",
                                                "Type": "debian", "Vulnerabilities": vulns}]}},
            "metadata": {"scanStartedOn": now, "scanFinishedOn": now}}


@unittest.skipUnless(HAVE_REGISTRY and VERIFIER_BUILT,
                     "needs tests/lib/registry_harness.py and operator/verify/verifier.c")
class VerificationWithRegistryTest(E2ETestCase):
    """Against the real docker-registry (tests/lib/registry_harness.py), with cosign-format
    signatures and attestations made by tests/lib/cosign_fixtures.py."""

    START_OPERATOR = False

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="tollgate-verify-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.reg = registry_harness.Registry(os.path.join(self.tmp, "registry"))
        self.addCleanup(self.reg.stop)
        self.key = cosign_fixtures.generate_key(os.path.join(self.tmp, "keys"))
        self.env.apply(secret_yaml("cosign-pub", "cosign.pub", self.key.public_pem.decode()))
        self.env.start_operator(["--registry-http", self.reg.host])
        self.env.apply(rollout_yaml("web", canary_strategy(STEPS), replicas=2))

    def push(self, n, sign=True, sbom=True, critical=0):
        """Pushes image n of shop/web, signed and attested as asked; returns its reference."""
        layout = registry_harness.build_image(os.path.join(self.tmp, "images"), "web-%d" % n,
                                              {"etc/version": ("%d\n" % n).encode()})
        d = registry_harness.push_image(self.reg, "shop/web", "v%d" % n, layout)
        ref = self.reg.image("shop/web", d)
        if sign:
            cosign_fixtures.sign_image(self.reg, "shop/web", d, self.key)
        if sbom:
            cosign_fixtures.attest_image(self.reg, "shop/web", d, self.key, SBOM_TYPE,
                                         cyclonedx())
        if critical is not None:
            cosign_fixtures.attest_image(self.reg, "shop/web", d, self.key, VULN_TYPE,
                                         trivy_vuln(ref, critical=critical))
        return ref

    def policy(self, mode="enforce", gates=("signature", "sbom", "vulnerabilities")):
        extra = {}
        if "sbom" in gates:
            extra["sbom"] = {"authorities": ["ci"]}
        if "vulnerabilities" in gates:
            extra["vulnerabilities"] = {"authorities": ["ci"], "maxCritical": 0,
                                        "maxScanAge": "168h"}
        self.env.apply(policy_yaml("shop", ["%s/shop/**" % self.reg.host], mode, extra))

    def failed(self, name):
        env = self.env
        env.wait(lambda: env.release_phase(name) == "Failed", message=name + " Failed")
        rel = env.release(name)
        cond = [c for c in rel["status"]["conditions"] if c["type"] == "Failed"][0]
        self.assertEqual(cond["reason"], "VerificationFailed")
        self.assertTrue(rel["status"]["message"])
        self.assertEqual(rel["status"]["verification"]["message"], rel["status"]["message"])
        ev = env.wait_for_event("VerificationFailed", name, "Release", type="Warning")
        self.assertEqual(ev[0]["message"], rel["status"]["message"])
        return rel

    def test_signed_release_is_delivered(self):
        env = self.env
        self.policy()
        ref = self.push(1)
        env.apply(release_yaml("web-1", "web", "1.0.0", ref))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded", message="web-1 Succeeded")
        v = env.release("web-1")["status"]["verification"]
        self.assertEqual(v["result"], "Passed", v)
        self.assertEqual(v["image"], ref)
        self.assertEqual(v["policies"], ["VerificationPolicy/shop"])
        self.assertEqual(v["signature"]["result"], "Verified")
        self.assertEqual(v["sbom"]["result"], "Present")
        self.assertEqual(v["sbom"]["components"], 2)
        self.assertEqual(v["vulnerabilities"]["critical"], 0)
        self.assertEqual(v["attempts"], 1)
        env.wait_for_event("Verified", "web-1", "Release", type="Normal")
        self.assertEqual(env.deployment_image("web-stable"), ref)

    def test_unsigned_release_fails_and_no_deployment_changes(self):
        env = self.env
        self.policy()
        env.apply(release_yaml("web-1", "web", "1.0.0", self.push(1)))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded", message="web-1 Succeeded")
        before = {d["metadata"]["name"]: (d["metadata"]["generation"],
                                          env.deployment_image(d["metadata"]["name"]))
                  for d in env.deployments()}
        watch = DeploymentWatch(env)
        unsigned = self.push(2, sign=False)
        env.apply(release_yaml("web-2", "web", "2.0.0", unsigned))
        rel = self.failed("web-2")
        self.assertEqual(rel["status"]["verification"]["signature"]["result"], "Failed")
        time.sleep(1)
        seen = watch.stop()
        for name, states in seen.items():
            self.assertIn(name, before, "a Deployment was created for an unverified Release")
            self.assertEqual(len(states), 1, "%s changed: %s" % (name, states))
            gen, images = next(iter(states))
            self.assertEqual(gen, before[name][0])
            self.assertNotIn(unsigned, images)
        self.assertEqual(get(env.rollout("web"), "status", "stableRelease"), "web-1")

    def test_missing_sbom_fails(self):
        self.policy()
        self.env.apply(release_yaml("web-1", "web", "1.0.0", self.push(1, sbom=False)))
        rel = self.failed("web-1")
        self.assertEqual(rel["status"]["verification"]["sbom"]["result"], "Missing")
        self.assertIsNone(self.env.deployment("web-stable"))

    def test_vulnerabilities_over_the_ceiling_fail(self):
        self.policy()
        self.env.apply(release_yaml("web-1", "web", "1.0.0", self.push(1, critical=2)))
        rel = self.failed("web-1")
        vul = rel["status"]["verification"]["vulnerabilities"]
        self.assertEqual((vul["result"], vul["critical"]), ("Failed", 2))
        self.assertIsNone(self.env.deployment("web-stable"))

    def test_registry_down_then_back(self):
        env = self.env
        self.policy()
        ref = self.push(1)
        self.reg.stop()
        env.apply(release_yaml("web-1", "web", "1.0.0", ref))
        env.wait(lambda: "(attempt 1, retrying in 5s)" in
                 (get(env.release("web-1"), "status", "message") or ""),
                 message="the retry message")
        self.assertEqual(env.release_phase("web-1"), "Verifying")
        self.assertTrue(env.release("web-1")["status"]["message"].startswith(
            "registry unreachable: "))
        env.wait_for_event("VerificationRetrying", "web-1", "Release", type="Warning")
        self.assertIsNone(env.deployment("web-stable"))
        self.reg.start()
        env.wait(lambda: env.release_phase("web-1") == "Succeeded", timeout=90,
                 message="web-1 Succeeded once the registry is back")
        v = env.release("web-1")["status"]["verification"]
        self.assertEqual(v["result"], "Passed")
        self.assertGreaterEqual(v["attempts"], 2)

    def test_warn_mode_lets_an_unsigned_release_through(self):
        env = self.env
        self.policy(mode="warn", gates=("signature",))
        env.apply(release_yaml("web-1", "web", "1.0.0", self.push(1, sign=False)))
        env.wait(lambda: env.release_phase("web-1") == "Succeeded", message="web-1 Succeeded")
        v = env.release("web-1")["status"]["verification"]
        self.assertEqual(v["result"], "Warned", v)
        ev = env.wait_for_event("VerificationWarning", "web-1", "Release", type="Warning")
        self.assertIn("warn mode", ev[0]["message"])

    def test_release_spec_verify_adds_a_failing_check(self):
        env = self.env
        self.policy(gates=("signature",))  # the cluster policy passes: the image is signed
        extra = "  verify:\n    sbom: {authorities: [ci]}\n" \
                "    authorities:\n    - name: ci\n      tlog: ignore\n" \
                "      key: {secretRef: {name: cosign-pub, key: cosign.pub}}\n"
        env.apply(release_yaml("web-1", "web", "1.0.0", self.push(1, sbom=False), extra))
        rel = self.failed("web-1")
        v = rel["status"]["verification"]
        self.assertEqual(v["policies"], ["VerificationPolicy/shop", "Release"])
        self.assertEqual(v["signature"]["result"], "Verified")
        self.assertEqual(v["sbom"]["result"], "Missing")

    def test_release_spec_verify_borrows_the_cluster_authorities(self):
        """A Release tightens the vulnerability ceiling without repeating the platform's key:
        its spec.verify defines no authorities and borrows the VerificationPolicy's."""
        env = self.env
        self.policy(gates=("signature",))  # the cluster policy passes: the image is signed
        extra = "  verify:\n    vulnerabilities: {maxCritical: 0}\n"
        env.apply(release_yaml("web-1", "web", "1.0.0", self.push(1, critical=1), extra))
        rel = self.failed("web-1")
        v = rel["status"]["verification"]
        self.assertEqual(v["policies"], ["VerificationPolicy/shop", "Release"])
        self.assertEqual(v["signature"]["result"], "Verified")
        vul = v["vulnerabilities"]
        self.assertEqual((vul["result"], vul["policy"], vul["authority"], vul["critical"]),
                         ("Failed", "Release", "ci", 1))
        self.assertIsNone(env.deployment("web-stable"))


if __name__ == "__main__":
    unittest.main()
