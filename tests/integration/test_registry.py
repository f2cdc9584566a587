"""The registry client and the material fetcher (verify/registry.h, verify/fetch.h) against a
real registry, Debian's docker-registry 2.8.2, through tollgate-regprobe: plain HTTP when the
host is allowed (and refused otherwise), htpasswd auth (anonymous refused with a clear message,
credentials from a docker config file accepted in both its forms), TLS verified with the
harness CA (and refused without it), an image signed with a cosign v2 `.sig`, an `.att` and a
cosign v3 bundle referrer (through the `sha256-<hex>` tag fallback) all discovered with their
annotations, an unsigned image giving empty material, and an unpinned reference refused.

The probe is built with the sanitizers: a leak changes its exit code, so exact exit codes are
asserted.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from cosign_fixtures import (BUNDLE_TYPE, RekorLog, attest_image, canonical_json, generate_key,
                             push_referrer_bundle, push_sbom_attachment, sign_image)
from registry_harness import Registry, push_image


def probe_bin():
    path = os.environ.get("TOLLGATE_REGPROBE_BIN")
    if not path:
        raise unittest.SkipTest("TOLLGATE_REGPROBE_BIN is not set")
    return path


def probe(*args):
    """Runs tollgate-regprobe; returns (exit code, parsed JSON or None, stderr)."""
    p = subprocess.run([probe_bin(), "--timeout-ms", "20000", *args], capture_output=True,
                       text=True, timeout=120)
    out = json.loads(p.stdout) if p.returncode == 0 else None
    return p.returncode, out, p.stderr


class PlainRegistry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        probe_bin()
        cls.tmp = tempfile.mkdtemp(prefix="tollgate-reg-")
        cls.reg = Registry(os.path.join(cls.tmp, "reg"))
        cls.keys = os.path.join(cls.tmp, "keys")
        cls.key = generate_key(cls.keys)
        cls.rekor = RekorLog(cls.keys)

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_unsigned_image_gives_empty_material(self):
        digest = push_image(self.reg, "demo/unsigned", "v1")
        rc, out, err = probe("--http-host", self.reg.host, self.reg.image("demo/unsigned", digest))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["digest"], digest)
        self.assertEqual(out["image"], self.reg.image("demo/unsigned", digest))
        self.assertEqual(out["manifestMediaType"], "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(out["items"], [])

    def test_signed_image_material_discovered(self):
        repo = "demo/signed"
        digest = push_image(self.reg, repo, "v1")
        sig = sign_image(self.reg, repo, digest, self.key, rekor=self.rekor)
        att = attest_image(self.reg, repo, digest, self.key, "https://slsa.dev/provenance/v0.2",
                           {"builder": {"id": "https://ci.example/builder"}}, rekor=self.rekor)
        bundle = json.dumps({"mediaType": BUNDLE_TYPE, "dsseEnvelope": {}}).encode()
        push_referrer_bundle(self.reg, repo, digest, bundle, "https://sigstore.dev/cosign/sign/v1")
        push_sbom_attachment(self.reg, repo, digest, b"SPDXVersion: SPDX-2.3\n")

        rc, out, err = probe("--http-host", self.reg.host, self.reg.image(repo, digest))
        self.assertEqual(rc, 0, err)
        kinds = [i["kind"] for i in out["items"]]
        self.assertEqual(kinds, ["bundle", "simplesigning", "dsse", "sbom-attachment"])
        b, s, a, sb = out["items"]
        self.assertEqual(base64.b64decode(b["data"]), bundle)
        self.assertEqual(b["mediaType"], BUNDLE_TYPE)
        self.assertEqual(b["predicateType"], "https://sigstore.dev/cosign/sign/v1")
        self.assertEqual(base64.b64decode(s["data"]), sig["payload"])
        self.assertEqual(s["signature"], sig["signature"])
        self.assertEqual(s["rekorBundle"], sig["bundle"])
        self.assertIn(".sig layer 0", s["source"])
        self.assertEqual(base64.b64decode(a["data"]), att["envelope"])
        self.assertEqual(a["predicateType"], "https://slsa.dev/provenance/v0.2")
        self.assertEqual(a["rekorBundle"], att["bundle"])
        self.assertEqual(sb["mediaType"], "text/spdx")

    def test_second_signature_appends_a_layer(self):
        repo = "demo/twice"
        digest = push_image(self.reg, repo, "v1")
        other = generate_key(self.keys, "other")
        sign_image(self.reg, repo, digest, self.key)
        sign_image(self.reg, repo, digest, other)
        rc, out, err = probe("--http-host", self.reg.host, self.reg.image(repo, digest))
        self.assertEqual(rc, 0, err)
        sources = [i["source"] for i in out["items"]]
        self.assertEqual(len(sources), 2)
        self.assertIn("layer 0", sources[0])
        self.assertIn("layer 1", sources[1])

    def test_fixture_signatures_verify_with_openssl(self):
        """The fixtures themselves are right: the payload and PAE signatures, the entry bodies
        and the SETs verify with openssl."""
        repo = "demo/openssl"
        digest = push_image(self.reg, repo, "v1")
        sig = sign_image(self.reg, repo, digest, self.key, rekor=self.rekor)
        d = tempfile.mkdtemp(dir=self.tmp)
        self._verify(self.key.public_path, sig["payload"], base64.b64decode(sig["signature"]), d)
        bundle = json.loads(sig["bundle"])
        self._verify(self.rekor.key.public_path, canonical_json(bundle["Payload"]),
                     base64.b64decode(bundle["SignedEntryTimestamp"]), d)
        self.assertEqual(bundle["Payload"]["logID"], self.rekor.log_id)
        body = json.loads(base64.b64decode(bundle["Payload"]["body"]))
        self.assertEqual(body["kind"], "hashedrekord")
        self.assertEqual(body["spec"]["signature"]["content"], sig["signature"])
        self.assertEqual(body["spec"]["data"]["hash"]["value"],
                         hashlib.sha256(sig["payload"]).hexdigest())

        att = attest_image(self.reg, repo, digest, self.key, "https://example.test/p", {"a": 1},
                           rekor=self.rekor)
        env = json.loads(att["envelope"])
        statement = base64.b64decode(env["payload"])
        self.assertEqual(json.loads(statement)["subject"][0]["digest"]["sha256"], digest[7:])
        signed = b"DSSEv1 28 application/vnd.in-toto+json %d " % len(statement) + statement
        self._verify(self.key.public_path, signed, base64.b64decode(env["signatures"][0]["sig"]),
                     d)
        bundle = json.loads(att["bundle"])
        body = json.loads(base64.b64decode(bundle["Payload"]["body"]))
        self.assertEqual(body["kind"], "dsse")
        self.assertEqual(body["spec"]["payloadHash"]["value"],
                         hashlib.sha256(statement).hexdigest())
        self._verify(self.rekor.key.public_path, canonical_json(bundle["Payload"]),
                     base64.b64decode(bundle["SignedEntryTimestamp"]), d)

    def _verify(self, pub, data, sig, d):
        with open(os.path.join(d, "data"), "wb") as f:
            f.write(data)
        with open(os.path.join(d, "sig"), "wb") as f:
            f.write(sig)
        p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature",
                            os.path.join(d, "sig"), os.path.join(d, "data")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_unpinned_reference_refused(self):
        push_image(self.reg, "demo/tagged", "v1")
        rc, out, err = probe("--http-host", self.reg.host, self.reg.host + "/demo/tagged:v1")
        self.assertEqual(rc, 1)
        self.assertIn("not pinned", err)

    def test_plain_http_refused_unless_allowed(self):
        digest = push_image(self.reg, "demo/https-only", "v1")
        rc, out, err = probe(self.reg.image("demo/https-only", digest))
        self.assertEqual(rc, 1)
        self.assertIn("TG_ETLS", err)

    def test_missing_image_is_not_found(self):
        digest = "sha256:" + "0" * 64
        rc, out, err = probe("--http-host", self.reg.host, self.reg.image("demo/none", digest))
        self.assertEqual(rc, 1)
        self.assertIn("TG_ENOTFOUND", err)

    def test_referrer_bundle_without_legacy_tags(self):
        repo = "demo/v3only"
        digest = push_image(self.reg, repo, "v1")
        bundle = b'{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}'
        push_referrer_bundle(self.reg, repo, digest, bundle, "https://slsa.dev/provenance/v1")
        push_referrer_bundle(self.reg, repo, digest, bundle + b" ", "https://cyclonedx.org/bom")
        rc, out, err = probe("--http-host", self.reg.host, self.reg.image(repo, digest))
        self.assertEqual(rc, 0, err)
        self.assertEqual([i["predicateType"] for i in out["items"]],
                         ["https://slsa.dev/provenance/v1", "https://cyclonedx.org/bom"])


class AuthAndTLSRegistry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        probe_bin()
        cls.tmp = tempfile.mkdtemp(prefix="tollgate-reg-auth-")
        cls.reg = Registry(os.path.join(cls.tmp, "reg"), htpasswd=("alice", "s3cret-pw"),
                           tls=True)
        cls.digest = push_image(cls.reg, "team/app", "v1")
        key = generate_key(os.path.join(cls.tmp, "keys"))
        sign_image(cls.reg, "team/app", cls.digest, key)
        cls.image = cls.reg.image("team/app", cls.digest)

    @classmethod
    def tearDownClass(cls):
        cls.reg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_anonymous_refused_with_clear_message(self):
        rc, out, err = probe("--ca", self.reg.ca_path, self.image)
        self.assertEqual(rc, 1)
        self.assertIn("TG_EUNAUTHORIZED", err)
        self.assertIn("requires credentials", err)
        self.assertIn(self.reg.host, err)

    def test_docker_config_auth_form_accepted(self):
        cfg = self.reg.docker_config(os.path.join(self.tmp, "auth.json"),
                                     key="https://%s/v1/" % self.reg.host)
        rc, out, err = probe("--ca", self.reg.ca_path, "--dockerconfig", cfg, self.image)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["digest"], self.digest)
        self.assertEqual([i["kind"] for i in out["items"]], ["simplesigning"])
        self.assertNotIn("s3cret-pw", err)

    def test_docker_config_username_form_accepted(self):
        cfg = self.reg.docker_config(os.path.join(self.tmp, "user.json"), form="username")
        rc, out, err = probe("--ca", self.reg.ca_path, "--dockerconfig", cfg, self.image)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out["items"]), 1)

    def test_wrong_password_refused(self):
        path = os.path.join(self.tmp, "wrong.json")
        with open(path, "w") as f:
            json.dump({"auths": {self.reg.host: {"username": "alice",
                                                 "password": "wrong-pw"}}}, f)
        rc, out, err = probe("--ca", self.reg.ca_path, "--dockerconfig", path, self.image)
        self.assertEqual(rc, 1)
        self.assertIn("TG_EUNAUTHORIZED", err)
        self.assertNotIn("wrong-pw", err)

    def test_tls_refused_without_the_ca(self):
        cfg = self.reg.docker_config(os.path.join(self.tmp, "noca.json"))
        rc, out, err = probe("--dockerconfig", cfg, self.image)
        self.assertEqual(rc, 1)
        self.assertIn("TG_ETLS", err)


if __name__ == "__main__":
    unittest.main()
