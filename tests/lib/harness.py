"""Test harness shared by every Python test suite: start a kubesim, talk to it with kubectl or raw
HTTP, read its request log, inject faults, and poll with a deadline.

    from harness import Kubesim
    with Kubesim() as k:                      # TLS + token "test-token" by default
        k.kubectl("create", "namespace", "x")
        status, headers, body = k.request("GET", "/api/v1/namespaces/x")
        k.control("faults", {"verb": "update", "path": "deployments", "status": 409, "count": 1})
        k.wait_for(lambda: k.request("GET", "/apis/apps/v1/namespaces/default/deployments/d")[0] == 200)

The token is a superuser's (system:masters). Users that RBAC authorizes: extra_args=["--token",
"alice=ALICE:dev"], then k.kubectl("--token", "ALICE", ...) or k.request(..., token="ALICE");
ServiceAccount tokens from k.kubectl("create", "token", SA, "-n", NS). The request log records
each request's user.

Python 3 standard library only.
"""

import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

DEFAULT = object()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Raw HTTP: a 3xx is returned to the caller, not followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (servers retry if it is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, timeout):
    """SIGTERM proc if it still runs, wait up to timeout seconds, then SIGKILL it."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def source_dir():
    """The repository root: $TOLLGATE_SOURCE_DIR, or derived from this file's location."""
    env = os.environ.get("TOLLGATE_SOURCE_DIR")
    if env:
        return env
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Kubesim:
    """A kubesim process for one test class or test (context manager)."""

    def __init__(self, tls=True, token="test-token", watch_history=None, ready_delay=None,
                 extra_args=(), client_cert_auth=False, watch_delay_ms=None, watch_jitter_ms=None,
                 request_jitter_ms=None, seed=None):
        """The orderings (kubesim's --watch-delay, --watch-jitter, --request-jitter and --seed,
        see docs/kubesim.md) are off unless given; ``control("orderings", {...})`` changes them
        while kubesim runs."""
        self.tls = tls
        self.orderings = {"--watch-delay": watch_delay_ms, "--watch-jitter": watch_jitter_ms,
                          "--request-jitter": request_jitter_ms, "--seed": seed}
        self.seed = None  # the seed kubesim used (read from its stderr at start)
        self.client_cert_auth = client_cert_auth
        self.token = token
        self.watch_history = watch_history
        self.ready_delay = ready_delay
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None
        self.tmpdir = None
        self.kubeconfig = None
        self.ca_file = None
        self._ssl = None
        self._stderr_path = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        self.tmpdir = tempfile.mkdtemp(prefix="kubesim-test-")
        self.kubeconfig = os.path.join(self.tmpdir, "kubeconfig")
        cmd = ["/usr/bin/python3", os.path.join(source_dir(), "tests", "kubesim", "kubesim.py"),
               "--port", "0", "--kubeconfig", self.kubeconfig]
        if self.tls:
            cmd.append("--tls")
        if self.token is not None:
            cmd += ["--token", self.token]
        if self.client_cert_auth:
            cmd.append("--client-cert-auth")
        if self.watch_history is not None:
            cmd += ["--watch-history", str(self.watch_history)]
        if self.ready_delay is not None:
            cmd += ["--deployment-ready-delay", str(self.ready_delay)]
        for flag, value in self.orderings.items():
            if value is not None:
                cmd += [flag, str(value)]
        cmd += self.extra_args
        self._stderr_path = os.path.join(self.tmpdir, "kubesim.stderr")
        self._stderr = open(self._stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                line = self.proc.stdout.readline()
                break
            if self.proc.poll() is not None:
                break
        text = line.decode(errors="replace").strip()
        if not text.startswith("ready "):
            self._kill()
            raise RuntimeError("kubesim did not become ready (got %r); stderr:\n%s"
                               % (text, self.stderr_text()))
        self.url = text.split(" ", 1)[1]
        for err_line in self.stderr_text().splitlines():
            if err_line.startswith("kubesim: seed "):
                self.seed = int(err_line.split()[2])
                break
        if self.tls:
            with open(self.kubeconfig) as f:
                cfg = json.load(f)
            import base64
            ca = base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"])
            self.ca_file = os.path.join(self.tmpdir, "ca.crt")
            with open(self.ca_file, "wb") as f:
                f.write(ca)
            self._ssl = ssl.create_default_context(cafile=self.ca_file)
            if self.client_cert_auth:
                # kubesim wrote the client certificate and key next to the kubeconfig
                self._ssl.load_cert_chain(self.kubeconfig + ".client.crt",
                                          self.kubeconfig + ".client.key")
        return self

    def stderr_text(self):
        try:
            with open(self._stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, check=True):
        """SIGTERM, wait (kill after 30 s: a loaded machine is slow); asserts a zero exit code
        unless check=False."""
        if self.proc is None:
            return
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "killed after SIGTERM timeout"
        self.proc.stdout.close()
        self._stderr.close()
        err = self.stderr_text()
        self.proc = None
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if check and rc != 0:
            raise AssertionError("kubesim exited with %r; stderr:\n%s" % (rc, err))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop(check=exc[0] is None)
        return False

    # -- clients ---------------------------------------------------------------------------
    def kubectl(self, *args, input=None, check=True, timeout=60):
        """Run `kubectl --kubeconfig <kc> ARGS` (text mode). check=True raises with stderr."""
        cmd = ["kubectl", "--kubeconfig", self.kubeconfig] + list(args)
        env = dict(os.environ)
        env["KUBECACHEDIR"] = os.path.join(self.tmpdir, "kubecache")
        env.pop("KUBECONFIG", None)
        r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=env)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(cmd[3:]), r.returncode, r.stdout, r.stderr))
        return r

    def request(self, method, path, body=None, headers=None, token=DEFAULT, timeout=30):
        """One HTTP request; returns (status, headers dict (lower-case keys; repeated headers
        joined with ", "; the list of Warning header values under "_warnings"), body). The body
        is parsed JSON when the response is JSON, text otherwise. ``body`` may be a dict (sent
        as JSON), str or bytes (give a Content-Type header then). token=None sends no
        Authorization header. Redirects are returned, not followed."""
        hdrs = {"Accept": "application/json"}
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = body
        tok = self.token if token is DEFAULT else token
        if tok is not None:
            hdrs["Authorization"] = "Bearer " + tok
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self._ssl),
                                             _NoRedirect())
        try:
            resp = opener.open(req, timeout=timeout)
            status, rh, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, rh, raw = e.code, e.headers, e.read()
        headers_out = {}
        for k, v in rh.items():
            k = k.lower()
            headers_out[k] = headers_out[k] + ", " + v if k in headers_out else v
        headers_out["_warnings"] = rh.get_all("Warning") or []
        text = raw.decode(errors="replace")
        if "json" in (rh.get("Content-Type") or ""):
            try:
                return status, headers_out, json.loads(text)
            except ValueError:
                pass
        return status, headers_out, text

    def open_stream(self, path, headers=None, token=DEFAULT, timeout=30):
        """Open a streaming GET (a watch); returns the urllib response (iterate readline())."""
        hdrs = {"Accept": "application/json"}
        tok = self.token if token is DEFAULT else token
        if tok is not None:
            hdrs["Authorization"] = "Bearer " + tok
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, method="GET", headers=hdrs)
        return urllib.request.urlopen(req, context=self._ssl, timeout=timeout)

    def control(self, action, body=None, method="POST"):
        """Call a /_kubesim/<action> control endpoint; returns its JSON answer."""
        status, _, out = self.request(method, "/_kubesim/" + action,
                                      body=body if body is not None else ({} if method == "POST" else None))
        if status != 200:
            raise AssertionError("control %s %s -> %d %r" % (method, action, status, out))
        return out

    def request_log(self):
        return self.control("requests", method="GET")["items"]

    def clear_request_log(self):
        self.control("requests", method="DELETE")

    def wait_for(self, predicate, timeout=30, interval=0.05, message=""):
        """Poll ``predicate`` until it returns a truthy value (returned) or the deadline passes
        (AssertionError with ``message`` and the last value). The deadline is generous: it costs
        nothing when things work, and a machine loaded by another test run is slow."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = predicate()
            if last:
                return last
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %ss waiting: %s (last value: %r)"
                                     % (timeout, message, last))
            time.sleep(interval)
