"""`kubectl-tollgate verify` as a user runs it.

Two halves. Offline: material JSON (the form `--save-material` writes) is built here and signed
with the openssl command line (EC P-256 keys made per test class), then judged with
`--material`; this covers the flags, the policy file (YAML), the verdict lines and the exit
codes. Online: a real Debian docker-registry (tests/lib/registry_harness.py) holds a small OCI
image signed and attested by tests/lib/cosign_fixtures.py, and the command reads it over HTTP
with --allow-http-registry. The online half is skipped when those helpers are absent.
"""

import base64
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("KUBECTL_TOLLGATE_BIN", "")
REPO = "127.0.0.1:5999/shop/web"
DIGEST = "sha256:" + hashlib.sha256(b"the image manifest").hexdigest()
IMAGE = REPO + "@" + DIGEST
PROV = "https://slsa.dev/provenance/v0.2"
CDX = "https://cyclonedx.org/bom"
VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"

try:
    import registry_harness  # noqa: F401  (lands from wt-reg)
    import cosign_fixtures  # noqa: F401

    HAVE_REGISTRY = True
except ImportError:
    HAVE_REGISTRY = False


def b64(data):
    return base64.b64encode(data).decode()


def run(*args, timeout=60, home=None):
    """Runs the binary (with HOME=home when given: no ~/.docker/config.json of the user's);
    returns (exit code, stdout, stderr)."""
    env = dict(os.environ, HOME=home) if home else None
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


class Keys:
    """An EC P-256 key pair made with openssl, and signing with it."""

    def __init__(self, directory, name):
        self.priv = os.path.join(directory, name + ".key")
        self.pub = os.path.join(directory, name + ".pub")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                        "-out", self.priv], check=True, capture_output=True)
        subprocess.run(["openssl", "ec", "-in", self.priv, "-pubout", "-out", self.pub],
                       check=True, capture_output=True)

    def sign(self, data):
        p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.priv], input=data,
                           check=True, capture_output=True)
        return p.stdout


def sig_item(key, digest=DIGEST):
    payload = json.dumps({
        "critical": {"identity": {"docker-reference": REPO},
                     "image": {"docker-manifest-digest": digest},
                     "type": "cosign container image signature"},
        "optional": None}).encode()
    return {"kind": "simplesigning", "source": "sha256-x.sig layer 0",
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "data": b64(payload), "signature": b64(key.sign(payload))}


def att_item(key, ptype, predicate, digest=DIGEST):
    stmt = json.dumps({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": ptype,
                       "subject": [{"name": REPO, "digest": {"sha256": digest[7:]}}],
                       "predicate": predicate}).encode()
    ptype_env = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype_env), ptype_env.encode(), len(stmt), stmt)
    env = json.dumps({"payloadType": ptype_env, "payload": b64(stmt),
                      "signatures": [{"keyid": "", "sig": b64(key.sign(pae))}]}).encode()
    return {"kind": "dsse", "source": "sha256-x.att layer 0",
            "mediaType": "application/vnd.dsse.envelope.v1+json", "data": b64(env),
            "predicateType": ptype}


def sbom_attachment():
    bom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []})
    return {"kind": "sbom-attachment", "source": "sha256-x.sbom layer 0",
            "mediaType": "application/vnd.cyclonedx+json", "data": b64(bom.encode())}


def vuln_predicate(criticals, hours_ago=1):
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - hours_ago * 3600))
    vulns = [{"VulnerabilityID": "CVE-2026-%04d" % (i + 1), "PkgName": "openssl",
              "InstalledVersion": "3.0.1", "FixedVersion": "3.0.9", "Status": "fixed",
              "Severity": "CRITICAL"} for i in range(criticals)]
    return {"invocation": {"parameters": None, "uri": "", "event_id": "", "builder.id": ""},
            "scanner": {"uri": "pkg:github/aquasecurity/trivy@v0.50.0", "version": "0.50.0",
                        "db": {"uri": "", "version": ""},
                        "result": {"SchemaVersion": 2, "CreatedAt": when, "ArtifactName": REPO,
                                   "Results": [{"Target": "x", "Class": "os-pkgs",
                                                "Type": "debian", "Vulnerabilities": vulns}]}},
            "metadata": {"scanStartedOn": when, "scanFinishedOn": when}}


@unittest.skipUnless(BIN, "KUBECTL_TOLLGATE_BIN is not set")
class VerifyOffline(unittest.TestCase):
    """--material: the judging and the command line, no registry."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.k1 = Keys(cls.tmp.name, "ci")
        cls.k2 = Keys(cls.tmp.name, "other")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def material(self, *items):
        path = os.path.join(self.tmp.name, "material-%s.json" % self.id().split(".")[-1])
        with open(path, "w") as f:
            json.dump({"image": IMAGE, "digest": DIGEST,
                       "manifestMediaType": "application/vnd.oci.image.manifest.v1+json",
                       "items": list(items)}, f)
        return path

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def verify(self, material, *flags):
        return run("verify", IMAGE, "--material", material, *flags)

    def test_signed_image_passes_with_its_key(self):
        code, out, err = self.verify(self.material(sig_item(self.k1)), "--key", self.k1.pub,
                                     "--insecure-ignore-tlog")
        self.assertEqual(code, 0, out + err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["image", IMAGE])
        self.assertRegex(out, r"(?m)^signature +Verified +authority key")
        self.assertRegex(out, r"(?m)^result +Passed")

    def test_unsigned_image_fails_with_the_reason(self):
        code, out, err = self.verify(self.material(), "--key", self.k1.pub,
                                     "--insecure-ignore-tlog")
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"(?m)^signature +Failed +no signature found for sha256:")
        self.assertRegex(out, r"(?m)^result +Failed +command line: signature: ")

    def test_wrong_key_fails(self):
        code, out, err = self.verify(self.material(sig_item(self.k2)), "--key", self.k1.pub,
                                     "--insecure-ignore-tlog")
        self.assertEqual(code, 1, out + err)
        self.assertIn("no signature from authority key verifies", out)

    def test_any_of_several_keys(self):
        code, out, err = self.verify(self.material(sig_item(self.k2)), "--key", self.k1.pub,
                                     "--key", self.k2.pub, "--insecure-ignore-tlog")
        self.assertEqual(code, 0, out + err)

    def test_type_cyclonedx_without_an_sbom_fails(self):
        code, out, err = self.verify(self.material(sig_item(self.k1), sbom_attachment()),
                                     "--key", self.k1.pub, "--insecure-ignore-tlog",
                                     "--type", "cyclonedx")
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"(?m)^signature +Verified")
        self.assertRegex(out, r"(?m)^sbom +Missing +.*unsigned \.sbom attachment")

    def test_type_cyclonedx_with_a_signed_sbom_passes(self):
        bom = {"bomFormat": "CycloneDX", "specVersion": "1.5",
               "components": [{"type": "library", "name": "zlib"}]}
        code, out, err = self.verify(self.material(sig_item(self.k1), att_item(self.k1, CDX, bom)),
                                     "--key", self.k1.pub, "--insecure-ignore-tlog",
                                     "--type", "cyclonedx", "-o", "json")
        self.assertEqual(code, 0, out + err)
        v = json.loads(out)
        self.assertEqual(v["result"], "Passed")
        self.assertEqual(v["sbom"]["result"], "Present")
        self.assertEqual(v["sbom"]["format"], "CycloneDX")
        self.assertEqual(v["sbom"]["components"], 1)

    def test_vulnerabilities_over_the_ceiling_of_a_policy_file_fail(self):
        policy = self.write("vuln.yaml", """\
# A VerificationPolicy's spec, as YAML.
authorities:
- name: ci
  key:
    data: |
%s
  tlog: ignore
signature: {}
vulnerabilities:
  maxCritical: 0
  maxScanAge: 168h
""" % "".join("      " + line + "\n" for line in open(self.k1.pub).read().splitlines()))
        m = self.material(sig_item(self.k1), att_item(self.k1, VULN, vuln_predicate(2)))
        code, out, err = self.verify(m, "--policy", policy)
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"(?m)^vulnerabilities +Failed +.*critical")
        self.assertRegex(out, r"(?m)^result +Failed +policy .*vuln\.yaml: vulnerabilities: ")

        clean = self.material(sig_item(self.k1), att_item(self.k1, VULN, vuln_predicate(0)))
        code, out, err = self.verify(clean, "--policy", policy)
        self.assertEqual(code, 0, out + err)
        self.assertRegex(out, r"(?m)^vulnerabilities +Passed +critical 0, high 0")

    def test_a_verification_policy_object_is_read_as_its_spec(self):
        policy = self.write("vp.json", json.dumps({
            "apiVersion": "tollgate.io/v1alpha1", "kind": "VerificationPolicy",
            "metadata": {"name": "prod"},
            "spec": {"mode": "warn", "authorities": [
                {"name": "ci", "key": {"data": open(self.k1.pub).read()}, "tlog": "ignore"}],
                "signature": {}}}))
        code, out, err = self.verify(self.material(), "--policy", policy)
        self.assertEqual(code, 0, out + err)
        self.assertRegex(out, r"(?m)^signature +Warned")
        self.assertRegex(out, r"(?m)^result +Warned +VerificationPolicy/prod \(warn mode\)")

    def test_save_material_round_trips(self):
        src = self.material(sig_item(self.k1))
        saved = os.path.join(self.tmp.name, "saved.json")
        code, out, err = self.verify(src, "--key", self.k1.pub, "--insecure-ignore-tlog",
                                     "--save-material", saved)
        self.assertEqual(code, 0, out + err)
        code, out, err = self.verify(saved, "--key", self.k1.pub, "--insecure-ignore-tlog")
        self.assertEqual(code, 0, out + err)

    def test_material_of_another_digest_fails(self):
        m = self.material(sig_item(self.k1))
        other = REPO + "@sha256:" + "1" * 64
        code, out, err = run("verify", other, "--material", m, "--key", self.k1.pub,
                             "--insecure-ignore-tlog")
        self.assertEqual(code, 1, out + err)
        self.assertIn("the material is for " + DIGEST, out)

    def test_usage_errors_exit_2(self):
        m = self.material(sig_item(self.k1))
        cases = [
            (["verify", REPO + ":latest", "--key", self.k1.pub, "--insecure-ignore-tlog"],
             "not pinned by digest"),
            (["verify", IMAGE, "--material", m], "nothing to verify"),
            (["verify", IMAGE, "--material", m, "--key", self.k1.pub],
             "--key needs --trusted-root"),
            (["verify", IMAGE, "--type", "bogus"], "--type bogus"),
            (["verify", IMAGE, "--certificate-identity", "x", "--insecure-ignore-tlog"],
             "needs --trusted-root"),
            (["verify", IMAGE, "--material", m, "--type", "vuln"], "--type needs who signs"),
            (["verify", IMAGE, "--material", m, "--key", "/nonexistent.pub",
              "--insecure-ignore-tlog"], "--key /nonexistent.pub"),
            (["verify", IMAGE, "-n", "shop"], "unknown flag for verify: -n"),
            (["verify"], "missing the image"),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                code, out, err = run(*args)
                self.assertEqual(code, 2, out + err)
                self.assertIn(want, err)

    def test_a_bad_policy_file_names_the_field(self):
        policy = self.write("bad.yaml", "authorities:\n- name: ci\n  key: {data: x}\n"
                            "  tlog: ignore\nsignature:\n  threshold: 0\n")
        code, out, err = self.verify(self.material(), "--policy", policy)
        self.assertEqual(code, 2, out + err)
        self.assertIn("spec.signature.threshold: must be at least 1", err)

    def test_yaml_policy_errors_are_usage_errors(self):
        m = self.material(sig_item(self.k1))
        cases = [
            ("dup.yaml", "signature: {}\nsignature: {}\n", "line 2: duplicate key \"signature\""),
            ("broken.yaml", "authorities: [\n", "policy: line"),
            ("empty.yaml", "", "the file is empty"),
            ("quoted.yaml", "authorities:\n- name: ci\n  key: {data: x}\n  tlog: ignore\n"
             "signature: {threshold: \"1\"}\n", "spec.signature.threshold: must be an integer"),
        ]
        for name, text, want in cases:
            with self.subTest(name=name):
                code, out, err = self.verify(m, "--policy", self.write(name, text))
                self.assertEqual(code, 2, out + err)
                self.assertIn(want, err)

    def test_every_prefix_of_a_policy_file_is_handled(self):
        """The YAML reader and the policy parser on every truncation: a verdict or a usage
        error, never a crash or a sanitizer report."""
        text = ("mode: enforce\nauthorities:\n- name: ci\n  key: {data: \"%s\"}\n"
                "  tlog: ignore\nsignature: {threshold: 1}\nsbom: {formats: [cyclonedx]}\n"
                "vulnerabilities:\n  maxCritical: 0\n  maxScanAge: 7d\n  allowlist:\n"
                "  - {id: CVE-1, expires: 2027-01-01, reason: 'not reachable'}\n"
                % open(self.k1.pub).read().replace("\n", "\\n"))
        m = self.material(sig_item(self.k1))
        path = os.path.join(self.tmp.name, "prefix.yaml")
        for n in range(0, len(text) + 1, 3):
            with open(path, "w") as f:
                f.write(text[:n])
            code, out, err = self.verify(m, "--policy", path)
            self.assertIn(code, (0, 1, 2), "prefix %d: %s%s" % (n, out, err))
            self.assertNotIn("Sanitizer", err, "prefix %d" % n)
            self.assertNotIn("runtime error", err, "prefix %d" % n)
        with open(path, "w") as f:
            f.write(text)
        code, out, err = self.verify(m, "--policy", path)
        self.assertEqual(code, 1, out + err)  # the whole policy: no SBOM, no scan

    def test_unreachable_registry_exits_2(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        image = "127.0.0.1:%d/shop/web@%s" % (port, DIGEST)
        code, out, err = run("verify", image, "--key", self.k1.pub, "--insecure-ignore-tlog",
                             "--allow-http-registry", home=self.tmp.name)
        self.assertEqual(code, 2, out + err)
        self.assertEqual(out, "")
        self.assertIn("the registry could not be read", err)

    def test_a_bad_dockerconfig_is_a_usage_error(self):
        bad = self.write("config.json", "not json")
        code, out, err = run("verify", IMAGE, "--key", self.k1.pub, "--insecure-ignore-tlog",
                             "--allow-http-registry", "--dockerconfig", bad)
        self.assertEqual(code, 2, out + err)
        self.assertIn(bad, err)


@unittest.skipUnless(BIN and HAVE_REGISTRY, "registry_harness/cosign_fixtures not available")
class VerifyAgainstRegistry(unittest.TestCase):
    """Against a real docker-registry over loopback HTTP, with cosign-format signatures and
    attestations pushed by cosign_fixtures (openssl-signed, no cosign)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.reg = registry_harness.Registry(os.path.join(cls.tmp.name, "registry"))
        cls.key = cosign_fixtures.generate_key(cls.tmp.name, "ci")
        cls.other = cosign_fixtures.generate_key(cls.tmp.name, "other")
        cls.layout = registry_harness.build_image(os.path.join(cls.tmp.name, "layout"))

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()
        cls.tmp.cleanup()

    def push(self, repo):
        digest = registry_harness.push_image(self.reg, repo, "v1", self.layout)
        return digest, self.reg.image(repo, digest)

    def verify(self, image, *flags):
        return run("verify", image, "--allow-http-registry", *flags, home=self.tmp.name)

    def test_signed_image_passes(self):
        digest, image = self.push("shop/signed")
        cosign_fixtures.sign_image(self.reg, "shop/signed", digest, self.key)
        code, out, err = self.verify(image, "--key", self.key.public_path,
                                     "--insecure-ignore-tlog")
        self.assertEqual(code, 0, out + err)
        self.assertRegex(out, r"(?m)^signature +Verified +authority key")
        self.assertRegex(out, r"(?m)^result +Passed")

    def test_unsigned_image_fails_with_the_reason(self):
        digest, image = self.push("shop/unsigned")
        code, out, err = self.verify(image, "--key", self.key.public_path,
                                     "--insecure-ignore-tlog")
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"(?m)^signature +Failed +no signature found for " + digest)

    def test_wrong_key_fails(self):
        digest, image = self.push("shop/wrongkey")
        cosign_fixtures.sign_image(self.reg, "shop/wrongkey", digest, self.other)
        code, out, err = self.verify(image, "--key", self.key.public_path,
                                     "--insecure-ignore-tlog")
        self.assertEqual(code, 1, out + err)
        self.assertIn("no signature from authority key verifies", out)

    def test_type_cyclonedx_without_an_sbom_fails(self):
        digest, image = self.push("shop/nosbom")
        cosign_fixtures.sign_image(self.reg, "shop/nosbom", digest, self.key)
        cosign_fixtures.push_sbom_attachment(
            self.reg, "shop/nosbom", digest,
            b'{"bomFormat":"CycloneDX","specVersion":"1.5"}', "application/vnd.cyclonedx+json")
        code, out, err = self.verify(image, "--key", self.key.public_path,
                                     "--insecure-ignore-tlog", "--type", "cyclonedx")
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"(?m)^signature +Verified")
        self.assertRegex(out, r"(?m)^sbom +Missing +.*unsigned \.sbom attachment")

    def test_type_cyclonedx_with_a_signed_sbom_passes(self):
        digest, image = self.push("shop/sbom")
        cosign_fixtures.sign_image(self.reg, "shop/sbom", digest, self.key)
        cosign_fixtures.attest_image(self.reg, "shop/sbom", digest, self.key, CDX,
                                     {"bomFormat": "CycloneDX", "specVersion": "1.5",
                                      "components": [{"type": "library", "name": "zlib"}]})
        code, out, err = self.verify(image, "--key", self.key.public_path,
                                     "--insecure-ignore-tlog", "--type", "cyclonedx")
        self.assertEqual(code, 0, out + err)
        self.assertRegex(out, r"(?m)^sbom +Present +CycloneDX, spec 1\.5, components 1")

    def test_vulnerabilities_over_the_ceiling_of_a_policy_fail(self):
        digest, image = self.push("shop/vulnerable")
        cosign_fixtures.sign_image(self.reg, "shop/vulnerable", digest, self.key)
        cosign_fixtures.attest_image(self.reg, "shop/vulnerable", digest, self.key, VULN,
                                     vuln_predicate(1))
        policy = os.path.join(self.tmp.name, "ceiling.json")
        with open(policy, "w") as f:
            json.dump({"authorities": [{"name": "ci",
                                        "key": {"data": self.key.public_pem.decode()},
                                        "tlog": "ignore"}],
                       "signature": {}, "vulnerabilities": {"maxCritical": 0}}, f)
        code, out, err = self.verify(image, "--policy", policy)
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"(?m)^signature +Verified")
        self.assertRegex(out, r"(?m)^vulnerabilities +Failed +.*critical 1")

    def test_save_material_then_judge_offline(self):
        digest, image = self.push("shop/saved")
        cosign_fixtures.sign_image(self.reg, "shop/saved", digest, self.key)
        saved = os.path.join(self.tmp.name, "saved.json")
        code, out, err = self.verify(image, "--key", self.key.public_path,
                                     "--insecure-ignore-tlog", "--save-material", saved)
        self.assertEqual(code, 0, out + err)
        with open(saved) as f:
            self.assertEqual(json.load(f)["digest"], digest)
        code, out, err = run("verify", image, "--material", saved, "--key",
                             self.key.public_path, "--insecure-ignore-tlog", home=self.tmp.name)
        self.assertEqual(code, 0, out + err)

    def rekor_root(self, rekor):
        """A trusted_root.json holding only the test Rekor log's key."""
        spki = rekor.key.spki_der()
        path = os.path.join(self.tmp.name, "rekor_root.json")
        with open(path, "w") as f:
            json.dump({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                       "tlogs": [{"baseUrl": "http://127.0.0.1", "hashAlgorithm": "SHA2_256",
                                  "publicKey": {"rawBytes": b64(spki),
                                                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                                "validFor": {"start": "2020-01-01T00:00:00Z"}},
                                  "logId": {"keyId": b64(hashlib.sha256(spki).digest())}}],
                       "certificateAuthorities": [], "ctlogs": []}, f)
        return path

    def test_tlog_required_passes_with_a_logged_signature(self):
        rekor = cosign_fixtures.RekorLog(self.tmp.name, "rekor-a")
        digest, image = self.push("shop/logged")
        cosign_fixtures.sign_image(self.reg, "shop/logged", digest, self.key, rekor=rekor)
        code, out, err = self.verify(image, "--key", self.key.public_path, "--trusted-root",
                                     self.rekor_root(rekor))
        self.assertEqual(code, 0, out + err)
        self.assertRegex(out, r"(?m)^signature +Verified")

    def test_tlog_required_fails_without_a_log_entry(self):
        rekor = cosign_fixtures.RekorLog(self.tmp.name, "rekor-b")
        digest, image = self.push("shop/unlogged")
        cosign_fixtures.sign_image(self.reg, "shop/unlogged", digest, self.key)
        code, out, err = self.verify(image, "--key", self.key.public_path, "--trusted-root",
                                     self.rekor_root(rekor))
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"(?m)^signature +Failed +no signature from authority key "
                              r"verifies: ")

    def test_unknown_image_exits_2(self):
        image = self.reg.image("shop/absent", "sha256:" + "3" * 64)
        code, out, err = self.verify(image, "--key", self.key.public_path,
                                     "--insecure-ignore-tlog")
        self.assertEqual(code, 2, out + err)
        self.assertIn("the registry could not be read", err)


if __name__ == "__main__":
    unittest.main()
