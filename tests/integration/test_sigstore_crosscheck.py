"""Cross-check of the keyless fixtures with a second verifier, sigstore-js's @sigstore/verify.

Every case of tests/fixtures/verify/keyless/cases.json (made by tests/sigstore/make-fixtures.mjs)
goes through tests/sigstore/verify.mjs, and its accept/reject must be the case's expectation
(or its "sigstoreJs" answer where @sigstore/verify is known to differ: it never compares
inclusionProof.rootHash with the computed root, only the checkpoint's root). The C side of the
same cases runs in tests/unit/test_keyless.c through the verify/keyless functions.

The same cases also run through `kubectl-tollgate verify --material` (KUBECTL_TOLLGATE_BIN):
the bundle becomes one item of material JSON, the case's identity and trusted root a keyless
authority of a policy file that requires an attestation of the bundle's predicate type, and
the command's accept (exit 0) or reject (exit 1) must be @sigstore/verify's, except for the
known divergences, where it must be the case's expectation.

node_modules comes from `npm ci --prefix tests/sigstore`, run by hack/deps.sh; without it the
whole test is skipped with a message saying so.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

SOURCE = os.environ.get(
    "TOLLGATE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SIGSTORE = os.path.join(SOURCE, "tests", "sigstore")
FIXTURES = os.path.join(SOURCE, "tests", "fixtures", "verify", "keyless")
NODE = shutil.which("node") or "/usr/bin/node"
BIN = os.environ.get("KUBECTL_TOLLGATE_BIN", "")


def load_cases():
    with open(os.path.join(FIXTURES, "cases.json"), encoding="utf-8") as f:
        return json.load(f)["cases"]


@unittest.skipUnless(
    os.path.isdir(os.path.join(SIGSTORE, "node_modules", "@sigstore", "verify")),
    "tests/sigstore/node_modules is missing: run hack/deps.sh (npm ci --prefix tests/sigstore)")
class SigstoreCrosscheck(unittest.TestCase):

    def run_verify(self, case):
        identity = case["identity"]
        args = [NODE, os.path.join(SIGSTORE, "verify.mjs"),
                "--bundle", os.path.join(FIXTURES, case["bundle"]),
                "--trusted-root", os.path.join(FIXTURES, case["trustedRoot"]),
                "--issuer", identity["issuer"]]
        if "subject" in identity:
            args += ["--subject", identity["subject"]]
        else:
            args += ["--subject-regexp", identity["subjectRegExp"]]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        self.assertIn(proc.returncode, (0, 1), f"{case['name']}: verify.mjs failed: {proc.stderr}")
        verdict = "accept" if proc.returncode == 0 else "reject"
        self.assertEqual(proc.stdout.split(":")[0].strip(), verdict, proc.stdout)
        return verdict, proc.stdout.strip()

    def test_cases_cover_both_answers(self):
        cases = load_cases()
        self.assertGreaterEqual(sum(c["expect"] == "accept" for c in cases), 3)
        self.assertGreaterEqual(sum(c["expect"] == "reject" for c in cases), 10)

    def test_sigstore_js_agrees(self):
        for case in load_cases():
            with self.subTest(case=case["name"]):
                want = case.get("sigstoreJs", case["expect"])
                verdict, out = self.run_verify(case)
                self.assertEqual(verdict, want, f"{case['name']} ({case['reason']}): {out}")

    def run_tollgate(self, case, digest, tmp):
        """The case through `kubectl-tollgate verify --material`: ("accept"|"reject", output)."""
        with open(os.path.join(FIXTURES, case["bundle"]), "rb") as f:
            bundle = f.read()
        with open(os.path.join(FIXTURES, case["trustedRoot"]), encoding="utf-8") as f:
            root = f.read()
        statement = json.loads(base64.b64decode(json.loads(bundle)["dsseEnvelope"]["payload"]))
        repo = statement["subject"][0]["name"]
        image = repo + "@" + digest
        material = os.path.join(tmp, case["name"] + ".material.json")
        with open(material, "w", encoding="utf-8") as f:
            json.dump({"image": image, "digest": digest, "items": [{
                "kind": "bundle", "source": case["bundle"],
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "data": base64.b64encode(bundle).decode()}]}, f)
        policy = os.path.join(tmp, case["name"] + ".policy.json")
        with open(policy, "w", encoding="utf-8") as f:
            json.dump({"authorities": [{"name": "keyless", "keyless": {
                "trustedRoot": {"data": root}, "identities": [case["identity"]]}}],
                "attestations": [{"predicateType": statement["predicateType"]}]}, f)
        proc = subprocess.run([BIN, "verify", image, "--material", material, "--policy", policy],
                              capture_output=True, text=True, timeout=60, check=False)
        self.assertIn(proc.returncode, (0, 1),
                      f"{case['name']}: kubectl-tollgate verify failed: {proc.stderr}")
        return ("accept" if proc.returncode == 0 else "reject"), proc.stdout + proc.stderr

    @unittest.skipUnless(BIN, "KUBECTL_TOLLGATE_BIN is not set")
    def test_kubectl_tollgate_verify_agrees(self):
        with open(os.path.join(FIXTURES, "cases.json"), encoding="utf-8") as f:
            digest = json.load(f)["digest"]
        with tempfile.TemporaryDirectory() as tmp:
            for case in load_cases():
                with self.subTest(case=case["name"]):
                    verdict, out = self.run_tollgate(case, digest, tmp)
                    self.assertEqual(verdict, case["expect"],
                                     f"{case['name']} ({case['reason']}): {out}")
                    if "sigstoreJs" not in case:
                        js, js_out = self.run_verify(case)
                        self.assertEqual(verdict, js, f"{case['name']}: sigstore-js: {js_out}")
                    if verdict == "reject" and "cReason" in case:
                        self.assertIn(case["cReason"], out, case["name"])

    def test_known_divergences_are_few_and_explained(self):
        diverging = [c for c in load_cases() if "sigstoreJs" in c]
        self.assertEqual([c["name"] for c in diverging], ["bad-proof-root"])
        for c in diverging:
            self.assertEqual(c["expect"], "reject")


if __name__ == "__main__":
    unittest.main()
