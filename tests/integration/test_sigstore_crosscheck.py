"""Cross-check of the keyless fixtures with a second verifier, sigstore-js's @sigstore/verify.

Every case of tests/fixtures/verify/keyless/cases.json (made by tests/sigstore/make-fixtures.mjs)
goes through tests/sigstore/verify.mjs, and its accept/reject must be the case's expectation
(or its "sigstoreJs" answer where @sigstore/verify is known to differ: it never compares
inclusionProof.rootHash with the computed root, only the checkpoint's root). The C side of the
same cases runs in tests/unit/test_keyless.c through the verify/keyless functions.

TODO(kubectl-tollgate verify --material): run the same cases through `kubectl-tollgate verify
--material` here too (KUBECTL_TOLLGATE_BIN), once operator/cli grows that command; that helper
adds a test method next to test_sigstore_js_agrees below.

node_modules comes from `npm ci --prefix tests/sigstore`, run by hack/deps.sh; without it the
whole test is skipped with a message saying so.
"""
import json
import os
import shutil
import subprocess
import unittest

SOURCE = os.environ.get(
    "TOLLGATE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SIGSTORE = os.path.join(SOURCE, "tests", "sigstore")
FIXTURES = os.path.join(SOURCE, "tests", "fixtures", "verify", "keyless")
NODE = shutil.which("node") or "/usr/bin/node"


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

    def test_known_divergences_are_few_and_explained(self):
        diverging = [c for c in load_cases() if "sigstoreJs" in c]
        self.assertEqual([c["name"] for c in diverging], ["bad-proof-root"])
        for c in diverging:
            self.assertEqual(c["expect"], "reject")


if __name__ == "__main__":
    unittest.main()
