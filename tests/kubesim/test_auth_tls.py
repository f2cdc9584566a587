"""kubesim's command line, kubeconfig, TLS (CA generated at start, ALPN http/1.1), bearer-token
authentication (401 Status like the real server), health and version endpoints, and a clean exit
on SIGTERM."""

from harness import Kubesim, source_dir

import base64
import json
import os
import socket
import ssl
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request


class TlsTokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Kubesim(tls=True, token="s3cret").start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def test_kubeconfig(self):
        with open(self.k.kubeconfig) as f:
            cfg = json.load(f)
        self.assertEqual(cfg["current-context"], cfg["contexts"][0]["name"])
        self.assertEqual(cfg["contexts"][0]["context"]["namespace"], "default")
        cluster = cfg["clusters"][0]["cluster"]
        self.assertEqual(cluster["server"], self.k.url)
        self.assertTrue(self.k.url.startswith("https://127.0.0.1:"))
        self.assertIn(b"BEGIN CERTIFICATE", base64.b64decode(cluster["certificate-authority-data"]))
        self.assertEqual(cfg["users"][0]["user"]["token"], "s3cret")
        self.assertEqual(os.stat(self.k.kubeconfig).st_mode & 0o077, 0, "kubeconfig is private")

    def test_kubectl_works_with_tls_and_token(self):
        out = json.loads(self.k.kubectl("version", "-o", "json").stdout)
        self.assertEqual(out["serverVersion"]["major"], "1")
        self.assertEqual(out["serverVersion"]["minor"], "32")
        self.assertTrue(out["serverVersion"]["gitVersion"].startswith("v1.32."))

    def test_missing_token_is_401(self):
        for path in ("/api/v1/namespaces", "/version", "/apis"):
            status, _, body = self.k.request("GET", path, token=None)
            self.assertEqual(status, 401, path)
            self.assertEqual(body, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                    "status": "Failure", "message": "Unauthorized",
                                    "reason": "Unauthorized", "code": 401})

    def test_wrong_token_is_401_and_kubectl_says_so(self):
        status, _, body = self.k.request("GET", "/api/v1/namespaces", token="wrong")
        self.assertEqual((status, body["reason"]), (401, "Unauthorized"))
        with open(self.k.kubeconfig) as f:
            cfg = json.load(f)
        cfg["users"][0]["user"]["token"] = "wrong"
        bad = os.path.join(self.k.tmpdir, "bad-token-kubeconfig")
        with open(bad, "w") as f:
            json.dump(cfg, f)
        r = subprocess.run(["kubectl", "--kubeconfig", bad, "get", "ns"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("error: You must be logged in to the server", r.stderr)

    def test_requests_without_token_are_logged_with_401(self):
        self.k.clear_request_log()
        self.k.request("GET", "/api/v1/namespaces/default/configmaps", token=None)
        log = self.k.request_log()
        self.assertEqual([(e["verb"], e["status"]) for e in log], [("list", 401)])

    def test_health_endpoints(self):
        for path in ("/healthz", "/livez", "/readyz"):
            status, _, body = self.k.request("GET", path)
            self.assertEqual((status, body), (200, "ok"), path)

    def test_certificate_is_for_127_0_0_1_and_localhost_signed_by_the_ca(self):
        ctx = ssl.create_default_context(cafile=self.k.ca_file)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        port = int(self.k.url.rsplit(":", 1)[1])
        for host in ("127.0.0.1", "localhost"):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                with ctx.wrap_socket(raw, server_hostname=host) as s:
                    self.assertEqual(s.selected_alpn_protocol(), "http/1.1", "no HTTP/2")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname="example.com")

    def test_unknown_ca_is_rejected_by_clients(self):
        with open(self.k.kubeconfig) as f:
            cfg = json.load(f)
        del cfg["clusters"][0]["cluster"]["certificate-authority-data"]
        bad = os.path.join(self.k.tmpdir, "no-ca-kubeconfig")
        with open(bad, "w") as f:
            json.dump(cfg, f)
        r = subprocess.run(["kubectl", "--kubeconfig", bad, "get", "ns"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("certificate", r.stderr)
        with self.assertRaises(urllib.error.URLError):
            urllib.request.urlopen(self.k.url + "/healthz", timeout=30,
                                   context=ssl.create_default_context())

    def test_control_endpoints_need_no_token(self):
        status, _, body = self.k.request("GET", "/_kubesim/requests", token=None)
        self.assertEqual(status, 200)
        self.assertIn("items", body)


class PlainNoTokenTest(unittest.TestCase):
    def test_plain_http_without_token(self):
        with Kubesim(tls=False, token=None) as k:
            self.assertTrue(k.url.startswith("http://127.0.0.1:"))
            with open(k.kubeconfig) as f:
                cfg = json.load(f)
            self.assertNotIn("certificate-authority-data", cfg["clusters"][0]["cluster"])
            self.assertNotIn("token", cfg["users"][0]["user"])
            status, _, _ = k.request("GET", "/api/v1/namespaces")
            self.assertEqual(status, 200)
            k.kubectl("create", "namespace", "plain")

    def test_command_line_ready_line_and_sigterm(self):
        tmp = tempfile.mkdtemp()
        kc = os.path.join(tmp, "kc")
        p = subprocess.Popen(["/usr/bin/python3", os.path.join(source_dir(), "tests", "kubesim", "kubesim.py"),
                              "--port", "0", "--kubeconfig", kc, "--tls", "--token", "t",
                              "--watch-history", "10", "--deployment-ready-delay", "0.5"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            self.assertRegex(line, r"^ready https://127\.0\.0\.1:\d+\n$")
            self.assertTrue(os.path.exists(kc))
        finally:
            p.terminate()
            out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, "", "exactly one line on stdout")
        r = subprocess.run(["/usr/bin/python3", os.path.join(source_dir(), "tests", "kubesim", "kubesim.py"),
                            "--port", "0"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0, "--kubeconfig is required")


if __name__ == "__main__":
    unittest.main()
