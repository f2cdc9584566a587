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
With the registry (skipped until tests/lib/registry_harness.py is there):
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
import socket
import subprocess
import threading
import time
import unittest

from tollgate_e2e import (E2ETestCase, canary_strategy, digest, get, release_yaml,
                          rollout_yaml)

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
                             "key": {"secretRef": {"name": "cosign-pub", "key": "cosign.pub"}}}],
            "signature": {"authorities": ["ci"]}}
    spec.update(extra or {})
    return json.dumps({"apiVersion": "tollgate.io/v1alpha1", "kind": "VerificationPolicy",
                       "metadata": {"name": name}, "spec": spec})


class DeploymentWatch:
    """Records every Deployment state (name, generation, template images) seen from now on, so
    that a test can assert that one was never created or changed."""

    def __init__(self, env):
        self.env = env
        self.seen = {}
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_flag.is_set():
            try:
                for d in self.env.deployments():
                    name = d["metadata"]["name"]
                    images = tuple(c.get("image") for c in
                                   get(d, "spec", "template", "spec", "containers", default=[]))
                    self.seen.setdefault(name, set()).add(
                        (d["metadata"].get("generation"), images))
            except Exception:  # kubesim going away at the end of a test
                pass
            self.stop_flag.wait(0.05)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)
        return self.seen


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


@unittest.skipUnless(HAVE_REGISTRY, "tests/lib/registry_harness.py (helper wt-reg) is not there")
class VerificationWithRegistryTest(E2ETestCase):
    """Against the real docker-registry; written when registry_harness.py and cosign_fixtures.py
    land (their head comments give the API). Until then this class is skipped, not faked."""

    def test_registry_scenarios_pending(self):
        self.skipTest("scenarios against the real registry are written once the harness lands")


if __name__ == "__main__":
    unittest.main()
