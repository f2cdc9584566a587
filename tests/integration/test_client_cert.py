"""Client-certificate authentication against kubesim --client-cert-auth (no bearer token at all):
`tollgate check` succeeds with the certificate and key inline in the kubeconfig
(client-certificate-data / client-key-data) and as file paths (client-certificate / client-key,
relative to the kubeconfig); it fails with exit code 1 and one line naming the problem, and
without printing key material, for a certificate signed by another CA, a missing key file and no
credential at all. kubectl works with the same kubeconfig, and the operator (`tollgate run`)
reconciles a Rollout with only the client certificate: its Releases reach Succeeded.

Runs the real binary ($TOLLGATE_BIN), built with the sanitizers: exact exit codes also catch
leaks.
"""

from harness import Kubesim  # first: it guards the stdlib `selectors` against kubesim's

import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import unittest  # noqa: E402

from tollgate_e2e import (TOLLGATE_BIN, Env, canary_strategy, get, image,  # noqa: E402
                          release_yaml, rollout_yaml)


def run(*args, timeout=60):
    if not TOLLGATE_BIN:
        raise unittest.SkipTest("TOLLGATE_BIN is not set")
    env = dict(os.environ)
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        env.pop(name, None)
    env["HOME"] = tempfile.gettempdir() + "/tollgate-client-cert-no-home"
    return subprocess.run([TOLLGATE_BIN, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


class CheckWithClientCertificateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Kubesim(tls=True, token=None, client_cert_auth=True).start()
        with open(cls.sim.kubeconfig) as f:
            cls.config = json.load(f)
        cls.user = cls.config["users"][0]["user"]
        cls.key_pem = base64.b64decode(cls.user["client-key-data"]).decode()
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.tmp.cleanup()

    def write_config(self, name, user):
        config = json.loads(json.dumps(self.config))
        config["users"][0]["user"] = user
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            json.dump(config, f)
        return path

    def assert_no_secrets(self, proc):
        out = proc.stdout + proc.stderr
        self.assertNotIn("PRIVATE KEY", out)
        self.assertNotIn(self.user["client-key-data"][:40], out)
        key_body = "".join(self.key_pem.splitlines()[1:-1])
        self.assertNotIn(key_body[:40], out)

    def assert_fails(self, proc, *needles):
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])
        self.assert_no_secrets(proc)
        return lines[0]

    def test_inline_certificate_and_key(self):
        self.assertNotIn("token", self.user)
        proc = run("--kubeconfig", self.sim.kubeconfig, "check")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(proc.stdout.startswith(f"connected to {self.sim.url}: Kubernetes v"),
                        proc.stdout)
        self.assertEqual(proc.stderr, "")

    def test_certificate_and_key_files(self):
        # relative paths are relative to the kubeconfig's directory, as kubectl reads them
        for name in ("client.crt", "client.key"):
            with open(self.sim.kubeconfig + "." + name, "rb") as src, \
                    open(os.path.join(self.tmp.name, name), "wb") as dst:
                dst.write(src.read())
        path = self.write_config("files", {"client-certificate": "client.crt",
                                           "client-key": os.path.join(self.tmp.name, "client.key")})
        proc = run("--kubeconfig", path, "--log-level", "debug", "check")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(f"connected to {self.sim.url}", proc.stdout)
        self.assert_no_secrets(proc)

    def test_certificate_from_another_ca(self):
        key = os.path.join(self.tmp.name, "other.key")
        crt = os.path.join(self.tmp.name, "other.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "1", "-subj", "/O=system:masters/CN=kubesim-user"],
                       check=True, capture_output=True)
        path = self.write_config("other-ca", {"client-certificate": crt, "client-key": key})
        line = self.assert_fails(run("--kubeconfig", path, "check"), "TLS", self.sim.url,
                                 "unknown ca")
        with open(key) as f:
            self.assertNotIn("".join(f.read().splitlines()[1:-1])[:40], line)

    def test_missing_key_file(self):
        missing = os.path.join(self.tmp.name, "nowhere.key")
        path = self.write_config("no-key", {"client-certificate-data": self.user["client-certificate-data"],
                                            "client-key": missing})
        self.assert_fails(run("--kubeconfig", path, "check"), path,
                          "users[0].user.client-key: cannot read", missing, "No such file")

    def test_certificate_without_key(self):
        path = self.write_config("no-key-at-all",
                                 {"client-certificate-data": self.user["client-certificate-data"]})
        self.assert_fails(run("--kubeconfig", path, "check"), path,
                          "client-certificate and client-key go together")

    def test_no_credential_is_401(self):
        path = self.write_config("anonymous", {})
        self.assert_fails(run("--kubeconfig", path, "check"), "401")

    def test_kubectl_with_the_client_certificate(self):
        r = self.sim.kubectl("get", "ns")
        self.assertIn("kube-system", r.stdout)


class OperatorWithClientCertificateTest(unittest.TestCase):
    """`tollgate run` with a kubeconfig whose only credential is the client certificate."""

    def setUp(self):
        if not TOLLGATE_BIN:
            raise unittest.SkipTest("TOLLGATE_BIN is not set")
        # the operator keeps the superuser's kubeconfig: its only credential is the certificate
        self.env = Env(sim_options={"token": None, "client_cert_auth": True},
                       superuser_operator=True)
        try:
            self.env.start()
        except BaseException:
            self.env.stop()
            raise
        self.addCleanup(self.env.cleanup_files)

    def test_releases_succeed(self):
        env = self.env
        try:
            with open(env.sim.kubeconfig) as f:
                self.assertNotIn("token", json.load(f)["users"][0]["user"])
            env.apply(rollout_yaml("web", canary_strategy("[{setWeight: 50}, {pause: {duration: 1s}}]"),
                                   replicas=4))
            env.apply(release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1)))
            env.wait(lambda: env.release_phase("web-1") == "Succeeded", timeout=60,
                     message="web-1 Succeeded")
            env.apply(release_yaml("web-2", "web", "v2.0.0", image("registry.example/web", 2)))
            env.wait(lambda: env.release_phase("web-2") == "Succeeded", timeout=60,
                     message="web-2 Succeeded")
            d = env.deployment("web-stable") or {}
            self.assertEqual(get(d, "spec", "template", "spec", "containers", 0, "image"),
                             image("registry.example/web", 2))
            log = env.sim.request_log()
            ours = [e for e in log if e["userAgent"].startswith("tollgate/")]
            self.assertTrue(ours, "the operator made no requests")
            self.assertEqual([e for e in ours if e["status"] == 401], [])
            self.assertEqual({e["user"] for e in ours}, {"kubesim-user"})  # the certificate's CN
            self.assertNotIn("PRIVATE KEY", env.op.log())
        except BaseException:
            import sys
            sys.stderr.write(env.logs())
            raise
        finally:
            rc = env.stop()
        self.assertEqual(rc, 0, "tollgate run exit code after SIGTERM")


if __name__ == "__main__":
    unittest.main()
