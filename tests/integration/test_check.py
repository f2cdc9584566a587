"""`tollgate check` against kubesim with TLS and a bearer token: it prints the server's version,
and fails with one clear line and exit code 1 for a missing kubeconfig, bad YAML, an unreachable
server, a certificate that does not verify and a rejected token. The token never shows up in
the output, whatever the log level. Unknown flags and commands print the usage and exit 2.

Runs the real binary ($TOLLGATE_BIN); built with the sanitizers, a leak makes the exit code
differ, so the exact exit codes asserted here also catch leaks.
"""

from harness import Kubesim  # first: it guards the stdlib `selectors` against kubesim's

import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import unittest  # noqa: E402

TOKEN = "s3cr3t-token-for-check-0123456789"


def tollgate_bin():
    path = os.environ.get("TOLLGATE_BIN")
    if not path:
        raise unittest.SkipTest("TOLLGATE_BIN is not set")
    return path


def run(*args, env=None, timeout=60):
    full_env = dict(os.environ)
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        full_env.pop(name, None)
    full_env["HOME"] = tempfile.gettempdir() + "/tollgate-check-no-home"
    if env:
        full_env.update(env)
    return subprocess.run([tollgate_bin(), *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def closed_port():
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Kubesim(tls=True, token=TOKEN).start()
        with open(cls.sim.kubeconfig) as f:
            cls.config = json.load(f)  # kubesim writes JSON, which is YAML too
        status, _, body = cls.sim.request("GET", "/version")
        assert status == 200, body
        cls.git_version = body["gitVersion"]
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.tmp.cleanup()

    def write_config(self, name, mutate):
        config = json.loads(json.dumps(self.config))
        mutate(config)
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            json.dump(config, f)
        return path

    def assert_fails(self, proc, *needles):
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        lines = [l for l in proc.stderr.splitlines() if not l.startswith("{")]
        self.assertEqual(len(lines), 1, proc.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])
        self.assertNotIn(TOKEN, proc.stdout + proc.stderr)
        return lines[0]

    def test_prints_the_server_version(self):
        proc = run("--kubeconfig", self.sim.kubeconfig, "check")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, f"connected to {self.sim.url}: Kubernetes {self.git_version}\n")
        self.assertEqual(proc.stderr, "")

    def test_finds_the_config_through_KUBECONFIG(self):
        missing = os.path.join(self.tmp.name, "does-not-exist")
        proc = run("check", env={"KUBECONFIG": f"{missing}:{self.sim.kubeconfig}"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(f"connected to {self.sim.url}", proc.stdout)

    def test_finds_the_config_in_home(self):
        home = os.path.join(self.tmp.name, "home")
        os.makedirs(os.path.join(home, ".kube"), exist_ok=True)
        with open(self.sim.kubeconfig) as src, open(os.path.join(home, ".kube", "config"), "w") as dst:
            dst.write(src.read())
        proc = run("check", env={"HOME": home})
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_explicit_context(self):
        def add_bad_context(c):
            c["contexts"].append({"name": "other", "context": {"cluster": "nowhere", "user": "x"}})
            c["current-context"] = "other"
        path = self.write_config("two-contexts", add_bad_context)
        ctx = self.config["current-context"]
        proc = run("--kubeconfig", path, "--context", ctx, "check")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_fails(run("--kubeconfig", path, "check"), path, 'cluster "nowhere" not found')
        self.assert_fails(run("--kubeconfig", path, "--context=nope", "check"),
                          path, 'context "nope" not found')

    def test_missing_kubeconfig(self):
        path = os.path.join(self.tmp.name, "missing.yaml")
        self.assert_fails(run("--kubeconfig", path, "check"), path, "No such file")

    def test_no_configuration_anywhere(self):
        line = self.assert_fails(run("check"), "no configuration")
        self.assertIn("KUBERNETES_SERVICE_HOST", line)

    def test_bad_yaml(self):
        path = os.path.join(self.tmp.name, "bad.yaml")
        with open(path, "w") as f:
            f.write("apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: [\n")
        self.assert_fails(run("--kubeconfig", path, "check"), path, "not valid YAML at line")

    def test_missing_server_field(self):
        path = self.write_config("no-server", lambda c: c["clusters"][0]["cluster"].pop("server"))
        self.assert_fails(run("--kubeconfig", path, "check"), path, "clusters[0].cluster.server: missing")

    def test_unreachable_server(self):
        url = f"https://127.0.0.1:{closed_port()}"
        path = self.write_config("unreachable", lambda c: c["clusters"][0]["cluster"].update(server=url))
        self.assert_fails(run("--kubeconfig", path, "check"), "cannot reach", url)

    def test_certificate_that_does_not_verify(self):
        key = os.path.join(self.tmp.name, "other.key")
        crt = os.path.join(self.tmp.name, "other.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=not-kubesim-ca"],
                       check=True, capture_output=True)

        def other_ca(c):
            cluster = c["clusters"][0]["cluster"]
            cluster.pop("certificate-authority-data", None)
            cluster["certificate-authority"] = "other.crt"  # relative to the kubeconfig
        path = self.write_config("wrong-ca", other_ca)
        line = self.assert_fails(run("--kubeconfig", path, "check"), "TLS", "certificate")
        self.assertIn(self.sim.url, line)

    def test_no_ca_at_all_fails_against_a_private_ca(self):
        path = self.write_config("no-ca", lambda c: c["clusters"][0]["cluster"].pop("certificate-authority-data"))
        self.assert_fails(run("--kubeconfig", path, "check"), "TLS", "certificate")

    def test_insecure_skip_tls_verify_is_honoured(self):
        def insecure(c):
            cluster = c["clusters"][0]["cluster"]
            cluster.pop("certificate-authority-data")
            cluster["insecure-skip-tls-verify"] = True
        path = self.write_config("insecure", insecure)
        proc = run("--kubeconfig", path, "check")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_rejected_token(self):
        path = self.write_config("wrong-token", lambda c: c["users"][0]["user"].update(token="wrong-" + TOKEN))
        proc = run("--kubeconfig", path, "--log-level", "debug", "check")
        self.assert_fails(proc, "401", "rejected the credentials")
        self.assertNotIn("wrong-" + TOKEN, proc.stderr)

    def test_token_file(self):
        token_file = os.path.join(self.tmp.name, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")

        def use_file(c):
            c["users"][0]["user"].pop("token")
            c["users"][0]["user"]["tokenFile"] = "token"
        path = self.write_config("token-file", use_file)
        proc = run("--kubeconfig", path, "check")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_token_never_logged(self):
        for fmt in ("json", "text"):
            proc = run("--kubeconfig", self.sim.kubeconfig, "--log-level", "debug", "--log-format", fmt,
                       "check")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("debug" if fmt == "json" else "DEBUG", proc.stderr)
            self.assertIn("[REDACTED]", proc.stderr)
            self.assertNotIn(TOKEN, proc.stdout + proc.stderr)
        proc = run("--kubeconfig", self.sim.kubeconfig, "--log-level", "debug", "check")
        records = [json.loads(l) for l in proc.stderr.splitlines()]
        self.assertTrue(all({"ts", "level", "msg"} <= r.keys() for r in records), records)

    def test_usage_errors_exit_2(self):
        for args in (["--bogus", "check"], ["frobnicate"], [], ["--log-level", "loud", "check"],
                     ["--log-format", "xml", "check"], ["check", "extra"]):
            proc = run(*args)
            self.assertEqual(proc.returncode, 2, (args, proc.stderr))
            self.assertIn("usage: tollgate", proc.stderr)
            self.assertEqual(proc.stdout, "")

    def test_version_and_help(self):
        proc = run("--version")
        self.assertEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout, r"^tollgate \d+\.\d+\.\d+\n$")
        proc = run("--help")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("check", proc.stdout)


if __name__ == "__main__":
    unittest.main()
