"""Keyless verification end to end (docs/api.md "Verification", the keyless example): a GitHub
Actions identity, as `cosign sign` and `cosign attest` make it in CI, checked by the operator
before any Deployment changes.

Every part is real and independent of tollgate's C code:
  - Debian's docker-registry with htpasswd auth (tests/lib/registry_harness.py) holds a small
    OCI image pushed with skopeo;
  - sigstore-js (tests/sigstore/mkbundle.mjs: @sigstore/sign against @sigstore/mock's Fulcio,
    CT log and Rekor, offline on 127.0.0.1) signs two in-toto Statements about the image's
    digest for issuer https://token.actions.githubusercontent.com and the workflow SAN
    https://github.com/shop/web/.github/workflows/release.yml@refs/heads/main: a signature
    (predicate https://sigstore.dev/cosign/sign/v1) and a SLSA provenance v1; @sigstore/oci
    attaches each bundle to the image as an OCI referrer (the `sha256-<hex>` index: docker-registry
    2.8.2 has no referrers API);
  - the two runs' trusted roots (each run has its own mock CA and logs) merged into one
    trusted_root.json, in a ConfigMap in tollgate-system;
  - the registry credentials in a kubernetes.io/dockerconfigjson Secret named by the Rollout's
    pod template imagePullSecrets, or by the Release's spec.artifact.pullSecrets;
  - @sigstore/verify (tests/sigstore/verify.mjs) as a second verifier, which must agree.
The operator runs as install.yaml's ServiceAccount (any 403 fails the test) with
--registry-http for the loopback registry.

Scenarios, each its own test:
  - an anchored subjectRegExp for the workflow on main: Succeeded, status.verification names the
    signer (SAN and issuer), the builder and the commit; the Deployment takes the image;
  - a policy for another identity: Failed, reason VerificationFailed, the message names the
    signer's identity; no Deployment was ever made;
  - an unanchored-looking pattern (the repository's URL only) matches nothing: patterns are
    anchored, so a prefix is not enough;
  - `kubectl tollgate verify` with cosign's flag names agrees (the identity passes, another
    fails with the same reason);
  - no imagePullSecret: the registry answers 401, the Release waits in Verifying ("registry
    ... requires credentials", retried with backoff) and is never passed.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from tollgate_e2e import (DeploymentWatch, E2ETestCase, canary_strategy, get, release_yaml,
                          rollout_yaml)

import cosign_fixtures as cf
from registry_harness import HTPASSWD_BIN, REGISTRY_BIN, SKOPEO_BIN, Registry, push_image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGSTORE = os.path.join(REPO_ROOT, "tests", "sigstore")
NODE = shutil.which("node") or "/usr/bin/node"

ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "https://github.com/shop/web/.github/workflows/release.yml@refs/heads/main"
SUBJECT_RE = r"^https://github\.com/shop/web/\.github/workflows/release\.yml@refs/heads/main$"
OTHER_SUBJECT = "https://github.com/shop/api/.github/workflows/release.yml@refs/heads/main"
SOURCE = "https://github.com/shop/web"
COMMIT = "4d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e"
USER, PASSWORD = "ci", "s3cret-pw"
TRUST_NS, TRUST_CM, TRUST_KEY = "tollgate-system", "sigstore-trusted-root", "trusted_root.json"
STEPS = "[{setWeight: 50}, {pause: {duration: 1s}}]"

MISSING = [p for p in (REGISTRY_BIN, SKOPEO_BIN, HTPASSWD_BIN, NODE) if not os.path.exists(p)]
if not os.path.isdir(os.path.join(SIGSTORE, "node_modules", "@sigstore", "oci")):
    MISSING.append("tests/sigstore/node_modules (run hack/deps.sh)")


def mkbundle(out, digest, predicate_type, predicate, attach):
    """Runs mkbundle.mjs: a keyless bundle for ISSUER/SUBJECT over a Statement about digest,
    attached to the image `attach` (HOST:PORT/REPO). Returns its JSON summary."""
    spec = {"issuer": ISSUER, "subject": SUBJECT, "digest": digest,
            "predicateType": predicate_type, "predicate": predicate, "name": attach,
            "attach": attach, "username": USER, "password": PASSWORD}
    p = subprocess.run([NODE, os.path.join(SIGSTORE, "mkbundle.mjs"), "--out", out, "--spec", "-"],
                       input=json.dumps(spec), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("mkbundle.mjs failed (%d): %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout)


def sigstore_js_accepts(summary, subject_regexp):
    """@sigstore/verify's verdict on a bundle for ISSUER and subject_regexp (True: accept)."""
    p = subprocess.run([NODE, os.path.join(SIGSTORE, "verify.mjs"), "--bundle", summary["bundle"],
                        "--trusted-root", summary["trustedRoot"], "--issuer", ISSUER,
                        "--subject-regexp", subject_regexp],
                       capture_output=True, text=True, timeout=120)
    if p.returncode not in (0, 1):
        raise AssertionError("verify.mjs failed (%d): %s %s" % (p.returncode, p.stdout, p.stderr))
    return p.returncode == 0


@unittest.skipIf(MISSING, "missing: %s" % ", ".join(MISSING))
class KeylessVerificationTest(E2ETestCase):
    START_OPERATOR = False

    @classmethod
    def setUpClass(cls):
        """One registry, one image and its two keyless bundles for the whole class (each test
        has its own kubesim and operator)."""
        cls.work = tempfile.mkdtemp(prefix="tollgate-keyless-")
        try:
            cls.reg = Registry(os.path.join(cls.work, "registry"), htpasswd=(USER, PASSWORD))
        except BaseException:
            shutil.rmtree(cls.work, ignore_errors=True)
            raise
        try:
            cls.digest = push_image(cls.reg, "shop/web", "v1")
            cls.image = cls.reg.image("shop/web", cls.digest)
            repo = "%s/shop/web" % cls.reg.host
            cls.sig = mkbundle(os.path.join(cls.work, "sig"), cls.digest, cf.COSIGN_SIGN_V1, {},
                               repo)
            cls.prov = mkbundle(os.path.join(cls.work, "prov"), cls.digest, cf.PROVENANCE_V1,
                                cf.slsa_v1_predicate(SOURCE, COMMIT), repo)
            roots = []
            for s in (cls.sig, cls.prov):
                with open(s["trustedRoot"]) as f:
                    roots.append(json.load(f))
            cls.trusted_root = json.dumps(cf.merge_trusted_roots(*roots))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    # -- the cluster side ----------------------------------------------------------------------
    def start(self, pull_secret=True, in_template=True):
        """The trusted root ConfigMap, the pull Secret (named by the Rollout's pod template
        imagePullSecrets when in_template), the Rollout, then the operator."""
        env = self.env
        env.apply(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": TRUST_CM, "namespace": TRUST_NS},
                              "data": {TRUST_KEY: self.trusted_root}}))
        ro = rollout_yaml("web", canary_strategy(STEPS), replicas=2)
        if pull_secret:
            cfg = self.reg.docker_config(os.path.join(self.work, "config.json"))
            with open(cfg) as f:
                env.apply(json.dumps({
                    "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                    "metadata": {"name": "regcred", "namespace": "default"},
                    "stringData": {".dockerconfigjson": f.read()}}))
        if pull_secret and in_template:
            ro = ro.replace("    spec:\n      containers:",
                            "    spec:\n      imagePullSecrets: [{name: regcred}]\n"
                            "      containers:")
            self.assertIn("imagePullSecrets", ro)
        env.apply(ro)
        env.start_operator(["--registry-http", self.reg.host])

    def policy(self, identity, provenance=True):
        spec = {
            "images": ["%s/shop/**" % self.reg.host],
            "authorities": [{"name": "gha", "keyless": {
                "trustedRoot": {"configMapRef": {"name": TRUST_CM, "namespace": TRUST_NS,
                                                 "key": TRUST_KEY}},
                "identities": [identity]}}],
            "signature": {"authorities": ["gha"]},
        }
        if provenance:
            spec["provenance"] = {"authorities": ["gha"],
                                  "builders": [{"id": cf.GITHUB_SLSA_BUILDER}],
                                  "sourceRepository": SOURCE, "sourceRefs": ["refs/heads/main"]}
        self.env.apply(json.dumps({"apiVersion": "tollgate.io/v1alpha1",
                                   "kind": "VerificationPolicy",
                                   "metadata": {"name": "shop-keyless"}, "spec": spec}))

    def release(self, name="web-1", pull_secrets=None):
        rel = release_yaml(name, "web", "1.0.0", self.image,
                           "  source: {repository: %s, commit: %s}\n" % (SOURCE, COMMIT))
        if pull_secrets:
            art = 'artifact: {image: "%s"' % self.image
            self.assertIn(art, rel)
            rel = rel.replace(art, "%s, pullSecrets: [%s]" % (
                art, ", ".join("{name: %s}" % n for n in pull_secrets)))
        self.env.apply(rel)

    def operator_gets(self, part):
        return [r for r in self.env.sim.request_log()
                if (r.get("userAgent") or "").startswith("tollgate") and part in r.get("path", "")]

    def assert_failed_untouched(self, name, watch):
        """The Release Failed with reason VerificationFailed and no Deployment ever existed.
        Returns its status.message."""
        env = self.env
        env.wait(lambda: env.release_phase(name) == "Failed", message="%s Failed" % name)
        rel = env.release(name)
        failed = [c for c in rel["status"]["conditions"] if c["type"] == "Failed"]
        self.assertEqual(failed[0]["reason"], "VerificationFailed", rel["status"])
        self.assertEqual(get(rel, "status", "verification", "result"), "Failed")
        env.wait_for_event("VerificationFailed", name, "Release", type="Warning")
        # one more reconcile (an annotation on the Rollout wakes it), to give the operator its
        # chance to change something it must not
        before = env.reconciles()
        env.kubectl("annotate", "--overwrite", "rollout.tollgate.io", "web", "test/poke=1")
        env.wait_reconciled(before)
        self.assertEqual(env.release_phase(name), "Failed")
        self.assertEqual(watch.stop(), {}, "a Deployment was made for a Release that failed")
        return rel["status"]["message"]

    # -- the scenarios -------------------------------------------------------------------------
    def test_keyless_release_succeeds_with_the_signer_identity(self):
        env = self.env
        self.start()
        self.policy({"issuer": ISSUER, "subjectRegExp": SUBJECT_RE})
        self.release()
        env.wait(lambda: env.release_phase("web-1") == "Succeeded", message="web-1 Succeeded")
        v = get(env.release("web-1"), "status", "verification")
        self.assertEqual((v["result"], v["image"], v["digest"], v["policies"]),
                         ("Passed", self.image, self.digest, ["VerificationPolicy/shop-keyless"]),
                         v)
        sig = v["signature"]
        self.assertEqual((sig["result"], sig["authority"], sig["signer"], sig["issuer"],
                          sig["format"]),
                         ("Verified", "gha", SUBJECT, ISSUER, "sigstore-bundle"), v)
        prov = v["provenance"]
        self.assertEqual((prov["result"], prov["signer"], prov["builder"], prov["commit"],
                          prov["ref"]),
                         ("Verified", SUBJECT, cf.GITHUB_SLSA_BUILDER, COMMIT, "refs/heads/main"),
                         v)
        self.assertEqual(env.deployment_image("web-stable"), self.image)
        env.wait_for_event("Verified", "web-1", "Release", type="Normal")
        # the credentials came from the imagePullSecret, the trusted root from its ConfigMap
        self.assertTrue(self.operator_gets("/namespaces/default/secrets/regcred"))
        self.assertTrue(self.operator_gets("/namespaces/%s/configmaps/%s" % (TRUST_NS, TRUST_CM)))
        # @sigstore/verify agrees on both bundles
        self.assertTrue(sigstore_js_accepts(self.sig, SUBJECT_RE))
        self.assertTrue(sigstore_js_accepts(self.prov, SUBJECT_RE))
        self.stop_operator_cleanly()

    def test_another_identity_fails_naming_the_signer(self):
        self.start()
        self.policy({"issuer": ISSUER, "subject": OTHER_SUBJECT})
        watch = DeploymentWatch(self.env)
        self.release()
        message = self.assert_failed_untouched("web-1", watch)
        self.assertIn("identity (issuer %s, subject %s) does not match" % (ISSUER, SUBJECT),
                      message)
        self.assertTrue(message.startswith("VerificationPolicy/shop-keyless: signature: "),
                        message)
        sig = get(self.env.release("web-1"), "status", "verification", "signature")
        self.assertEqual(sig["result"], "Failed")
        self.assertIn(SUBJECT, sig["reason"])
        # @sigstore/verify agrees: it rejects the bundle for that identity
        self.assertFalse(sigstore_js_accepts(self.sig, "^" + OTHER_SUBJECT.replace(".", r"\.")
                                             + "$"))

    def test_a_pattern_matching_a_prefix_only_is_not_enough(self):
        # Anchored: the repository's URL matches the start of the SAN, not the whole of it.
        self.start()
        self.policy({"issuer": ISSUER, "subjectRegExp": r"https://github\.com/shop/web"},
                    provenance=False)
        watch = DeploymentWatch(self.env)
        self.release()
        message = self.assert_failed_untouched("web-1", watch)
        self.assertIn("subject %s) does not match" % SUBJECT, message)

    def test_release_pull_secrets_give_the_credentials(self):
        # No imagePullSecrets in the Rollout's template: the Release names the Secret itself.
        env = self.env
        self.start(in_template=False)
        self.assertNotIn("imagePullSecrets", json.dumps(env.rollout("web")))
        self.policy({"issuer": ISSUER, "subjectRegExp": SUBJECT_RE})
        self.release(pull_secrets=["regcred"])
        self.assertEqual(get(env.release("web-1"), "spec", "artifact", "pullSecrets"),
                         [{"name": "regcred"}])
        env.wait(lambda: env.release_phase("web-1") == "Succeeded", message="web-1 Succeeded")
        v = get(env.release("web-1"), "status", "verification")
        self.assertEqual((v["result"], v["digest"]), ("Passed", self.digest), v)
        self.assertEqual(env.deployment_image("web-stable"), self.image)
        self.assertTrue(self.operator_gets("/namespaces/default/secrets/regcred"))
        self.stop_operator_cleanly()

    def test_without_pull_secret_the_release_waits_in_verifying(self):
        env = self.env
        self.start(pull_secret=False)
        self.policy({"issuer": ISSUER, "subjectRegExp": SUBJECT_RE})
        watch = DeploymentWatch(env)
        self.release()
        env.wait(lambda: get(env.release("web-1"), "status", "verification", "result")
                 == "Retrying", message="web-1 retrying")
        rel = env.release("web-1")
        self.assertEqual(rel["status"]["phase"], "Verifying")
        self.assertIn("(attempt 1, retrying in 5s)", rel["status"]["message"])
        self.assertTrue(rel["status"]["message"].startswith("registry unreachable: "),
                        rel["status"]["message"])
        self.assertIn("registry %s requires credentials" % self.reg.host,
                      rel["status"]["message"])
        env.wait_for_event("VerificationRetrying", "web-1", "Release", type="Warning")
        self.assertEqual(watch.stop(), {}, "a Deployment was made before verification passed")
        self.stop_operator_cleanly()

    def test_kubectl_tollgate_verify_agrees(self):
        # The same checks from a workstation: cosign's flag names, the registry's credentials
        # from a docker config, the merged trusted root from a file.
        root = os.path.join(self.work, "trusted_root.json")
        with open(root, "w") as f:
            f.write(self.trusted_root)
        cfg = self.reg.docker_config(os.path.join(self.work, "cli-config.json"))
        common = ["verify", self.image, "--certificate-oidc-issuer", ISSUER, "--trusted-root",
                  root, "--allow-http-registry", "--dockerconfig", cfg]
        ok = self.env.plugin(*common, "--certificate-identity-regexp", SUBJECT_RE, "--type",
                             "slsaprovenance1", check=False)
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertRegex(ok.stdout, r"(?m)^signature +Verified .*%s" % SUBJECT_RE[1:-1])
        self.assertRegex(ok.stdout, r"(?m)^result +Passed")
        bad = self.env.plugin(*common, "--certificate-identity", OTHER_SUBJECT, check=False)
        self.assertEqual(bad.returncode, 1, bad.stdout + bad.stderr)
        self.assertIn("identity (issuer %s, subject %s) does not match" % (ISSUER, SUBJECT),
                      bad.stdout)


if __name__ == "__main__":
    unittest.main()
