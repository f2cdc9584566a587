"""kubesim --client-cert-auth: the generated CA signs a client certificate (CN = user, O = group)
that goes into the kubeconfig and next to it; the server verifies client certificates and accepts
a verified one instead of the bearer token. No credential at all is 401; a certificate from
another CA fails the TLS handshake."""

from harness import Kubesim

import base64
import json
import os
import ssl
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request


def get(url, ctx, token=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    req = urllib.request.Request(url + "/version", headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


class ClientCertOnlyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim(tls=True, token=None, client_cert_auth=True).start()
        with open(cls.k.kubeconfig) as f:
            cls.cfg = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def test_kubeconfig_and_files(self):
        user = self.cfg["users"][0]["user"]
        self.assertNotIn("token", user)
        cert = base64.b64decode(user["client-certificate-data"])
        key = base64.b64decode(user["client-key-data"])
        self.assertIn(b"BEGIN CERTIFICATE", cert)
        self.assertIn(b"PRIVATE KEY", key)
        with open(self.k.kubeconfig + ".client.crt", "rb") as f:
            self.assertEqual(f.read(), cert)
        with open(self.k.kubeconfig + ".client.key", "rb") as f:
            self.assertEqual(f.read(), key)
        self.assertEqual(os.stat(self.k.kubeconfig + ".client.key").st_mode & 0o077, 0)
        text = subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext", "extendedKeyUsage",
                               "-nameopt", "RFC2253", "-in", self.k.kubeconfig + ".client.crt"],
                              capture_output=True, text=True, check=True).stdout
        self.assertIn("CN=kubesim-user,O=system:masters", text)
        self.assertIn("TLS Web Client Authentication", text)
        verify = subprocess.run(["openssl", "verify", "-CAfile", self.k.ca_file,
                                 self.k.kubeconfig + ".client.crt"], capture_output=True, text=True)
        self.assertEqual(verify.returncode, 0, verify.stderr)

    def test_kubectl_with_the_client_certificate(self):
        r = self.k.kubectl("get", "ns")
        self.assertIn("kube-system", r.stdout)
        self.k.kubectl("create", "configmap", "cc", "--from-literal=a=b")
        self.assertEqual(self.k.request("GET", "/api/v1/namespaces/default/configmaps/cc")[0], 200)

    def test_no_certificate_is_401(self):
        ctx = ssl.create_default_context(cafile=self.k.ca_file)
        self.assertEqual(get(self.k.url, ctx), 401)
        self.assertEqual(get(self.k.url, ctx, token="anything"), 401)
        status, _, body = self.k.request("GET", "/api/v1/namespaces")
        self.assertEqual(status, 200, body)

    def test_certificate_from_another_ca_fails_the_handshake(self):
        with tempfile.TemporaryDirectory() as d:
            key, crt = os.path.join(d, "k"), os.path.join(d, "c")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                            "-days", "1", "-subj", "/CN=kubesim-user"],
                           check=True, capture_output=True)
            ctx = ssl.create_default_context(cafile=self.k.ca_file)
            ctx.load_cert_chain(crt, key)
            with self.assertRaises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
                get(self.k.url, ctx)


class ClientCertAndTokenTest(unittest.TestCase):
    def test_either_credential_works(self):
        with Kubesim(tls=True, token="tok", client_cert_auth=True) as k:
            with open(k.kubeconfig) as f:
                user = json.load(f)["users"][0]["user"]
            self.assertEqual(user["token"], "tok")
            self.assertIn("client-certificate-data", user)
            plain = ssl.create_default_context(cafile=k.ca_file)
            self.assertEqual(get(k.url, plain, token="tok"), 200)
            self.assertEqual(get(k.url, plain, token="wrong"), 401)
            self.assertEqual(k.request("GET", "/version", token=None)[0], 200)  # the certificate

    def test_needs_tls(self):
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run(["/usr/bin/python3",
                                os.path.join(os.path.dirname(os.path.abspath(__file__)), "kubesim.py"),
                                "--port", "0", "--kubeconfig", os.path.join(d, "kc"),
                                "--client-cert-auth"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2)
            self.assertIn("--client-cert-auth needs --tls", r.stderr)


if __name__ == "__main__":
    unittest.main()
