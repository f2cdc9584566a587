"""A real Prometheus (/usr/bin/prometheus, Debian's package) and trafficsim for the tests of
Prometheus gates.

    from harness import Kubesim
    from promharness import Prometheus, TrafficSim
    with Kubesim() as k, TrafficSim(k) as ts, Prometheus([ts.target]) as prom:
        ts.set_images({"web:v2": {"errorRate": 0.2, "latencyMs": 150}})
        ts.set_entries([{"namespace": "default", "kind": "Service", "name": "web", "rps": 100}])
        prom.wait_for('sum(rate(trafficsim_requests_total[5s]))', lambda v: v > 50, timeout=30)

Python 3 standard library only.
"""

import json
import math
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import free_port, source_dir, stop_process

PROMETHEUS_BIN = os.environ.get("TOLLGATE_PROMETHEUS_BIN", "/usr/bin/prometheus")
TRAFFICSIM = os.path.join(source_dir(), "tests", "trafficsim", "trafficsim.py")


def _http(method, url, body=None, timeout=10):
    """(status, parsed JSON or text) of one request; HTTP errors are returned, not raised."""
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, ctype, raw = r.status, r.headers.get("Content-Type") or "", r.read()
    except urllib.error.HTTPError as e:
        status, ctype, raw = e.code, e.headers.get("Content-Type") or "", e.read()
    text = raw.decode(errors="replace")
    if "json" in ctype:
        try:
            return status, json.loads(text)
        except ValueError:
            pass
    return status, text


def scalar(data):
    """The single number of a query's "data" (a scalar, or a vector of one sample); None for an
    empty vector; NaN/Inf as floats. A vector of several samples is an error."""
    if data["resultType"] == "scalar":
        return float(data["result"][1])
    res = data["result"]
    if not res:
        return None
    if len(res) != 1:
        raise AssertionError("expected one sample, got %d: %r" % (len(res), res))
    return float(res[0]["value"][1])


class Prometheus:
    """One Prometheus server scraping ``targets`` (job "trafficsim", /metrics) every
    ``scrape_interval``; a context manager."""

    def __init__(self, targets=None, scrape_interval="1s", extra_args=()):
        self.targets = list(targets or [])
        self.scrape_interval = scrape_interval
        self.extra_args = list(extra_args)
        self.proc = None
        self.tmpdir = None
        self.url = None
        self.port = None
        self._log = None

    def start(self, targets=None, scrape_interval=None, extra_args=None, timeout=30):
        if targets is not None:
            self.targets = list(targets)
        if scrape_interval is not None:
            self.scrape_interval = scrape_interval
        if extra_args is not None:
            self.extra_args = list(extra_args)
        if not os.access(PROMETHEUS_BIN, os.X_OK):
            raise RuntimeError("%s not found: install Debian's prometheus (hack/deps.sh)"
                               % PROMETHEUS_BIN)
        self.tmpdir = tempfile.mkdtemp(prefix="tollgate-prom-")
        config = os.path.join(self.tmpdir, "prometheus.yml")
        with open(config, "w") as f:  # JSON is YAML
            json.dump({
                "global": {"scrape_interval": self.scrape_interval,
                           "evaluation_interval": self.scrape_interval,
                           "scrape_timeout": self.scrape_interval},
                "scrape_configs": [{"job_name": "trafficsim", "metrics_path": "/metrics",
                                    "static_configs": [{"targets": self.targets}]}],
            }, f, indent=2)
        last_err = None
        for _attempt in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            self.url = "http://127.0.0.1:%d" % self.port
            log_path = os.path.join(self.tmpdir, "prometheus.log")
            self._log = open(log_path, "wb")
            cmd = [PROMETHEUS_BIN, "--config.file=" + config,
                   "--storage.tsdb.path=" + os.path.join(self.tmpdir, "data"),
                   "--web.listen-address=127.0.0.1:%d" % self.port,
                   "--log.level=warn"] + self.extra_args
            self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.tmpdir)
            try:
                self._wait_ready(timeout)
                return self
            except RuntimeError as e:
                last_err = e
                self._terminate()
                if "address already in use" not in str(e):
                    break
        self._cleanup_dir()
        raise last_err

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited with %s before it was ready; log tail:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                status, _ = _http("GET", self.url + "/-/ready", timeout=2)
                if status == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus not ready after %ss; log tail:\n%s"
                                   % (timeout, self.log_tail()))
            time.sleep(0.1)

    def log_tail(self, lines=30):
        try:
            with open(os.path.join(self.tmpdir, "prometheus.log"), "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
        except (OSError, TypeError):
            return ""

    def _terminate(self):
        if self.proc is None:
            return
        stop_process(self.proc, 15)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def _cleanup_dir(self):
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def stop(self):
        """SIGTERM, wait, remove the temp dir. Idempotent."""
        self._terminate()
        self._cleanup_dir()

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- queries ---------------------------------------------------------------------------
    def query(self, promql, time_=None):
        """An instant query; returns the decoded "data" ({"resultType", "result"}). Raises
        AssertionError on an error answer."""
        params = {"query": promql}
        if time_ is not None:
            params["time"] = str(time_)
        status, body = _http("GET", self.url + "/api/v1/query?" + urllib.parse.urlencode(params))
        if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            raise AssertionError("query %r -> %s %r" % (promql, status, body))
        return body["data"]

    def query_range(self, promql, start, end, step):
        params = {"query": promql, "start": str(start), "end": str(end), "step": str(step)}
        status, body = _http("GET", self.url + "/api/v1/query_range?"
                             + urllib.parse.urlencode(params))
        if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            raise AssertionError("query_range %r -> %s %r" % (promql, status, body))
        return body["data"]

    def value(self, promql):
        """The single number of an instant query (see scalar()); None when empty."""
        return scalar(self.query(promql))

    def wait_for(self, promql, predicate, timeout=30, interval=0.5, message=""):
        """Poll an instant query until predicate(value) is truthy; returns the value. ``value``
        is the single number (None for an empty result, NaN possible) unless the query returns
        several samples, then it is the "data" dict. AssertionError with the last value on
        timeout."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            data = self.query(promql)
            try:
                last = scalar(data)
            except AssertionError:
                last = data
            try:
                ok = predicate(last)
            except (TypeError, ValueError):
                ok = False
            if ok:
                return last
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %ss waiting for %s on %r (last value: %r)"
                                     % (timeout, message or "the predicate", promql, last))
            time.sleep(interval)


def near(expected, tolerance):
    """A predicate for wait_for: a finite value within ``tolerance`` of ``expected``."""
    return lambda v: v is not None and not isinstance(v, dict) and math.isfinite(v) \
        and abs(v - expected) <= tolerance


class TrafficSim:
    """tests/trafficsim/trafficsim.py as a subprocess against a harness.Kubesim; a context
    manager."""

    def __init__(self, kubesim, tick=0.25, seed=1, extra_args=(), flags=False):
        """flags=True: connect with --server/--token/--ca instead of the kubeconfig."""
        self.kubesim = kubesim
        self.flags = flags
        self.tick = tick
        self.seed = seed
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None
        self.port = None
        self._err = None

    @property
    def target(self):
        """host:port, for Prometheus' static_configs."""
        return "127.0.0.1:%d" % self.port

    def start(self):
        self._err = tempfile.NamedTemporaryFile(prefix="trafficsim-", suffix=".log", delete=False)
        k = self.kubesim
        if self.flags:
            conn = ["--server", k.url]
            if k.token:
                conn += ["--token", k.token]
            if k.ca_file:
                conn += ["--ca", k.ca_file]
        else:
            conn = ["--kubeconfig", k.kubeconfig]
        cmd = ["/usr/bin/python3", TRAFFICSIM] + conn + ["--port", "0", "--tick", str(self.tick)]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        self.proc = subprocess.Popen(cmd + self.extra_args, stdout=subprocess.PIPE,
                                     stderr=self._err, stdin=subprocess.DEVNULL)
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
            self.stop(check=False)
            raise RuntimeError("trafficsim did not start (got %r); stderr:\n%s"
                               % (text, self.log()))
        self.url = text.split(" ", 1)[1]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def log(self):
        try:
            with open(self._err.name, "rb") as f:
                return f.read().decode(errors="replace")
        except (OSError, AttributeError):
            return ""

    def stop(self, check=True):
        """SIGTERM and wait; asserts exit code 0 unless check=False. Idempotent."""
        if self.proc is None:
            return
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "killed after SIGTERM timeout"
        self.proc.stdout.close()
        self.proc = None
        err = self.log()
        self._err.close()
        try:
            os.unlink(self._err.name)
        except OSError:
            pass
        if check and rc != 0:
            raise AssertionError("trafficsim exited with %r; stderr:\n%s" % (rc, err))

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop(check=exc[0] is None)
        return False

    # -- API -------------------------------------------------------------------------------
    def request(self, method, path, body=None):
        """(status, JSON or text) of a raw request to trafficsim."""
        return _http(method, self.url + path, body)

    def _control(self, path, body):
        status, out = self.request("POST", path, body)
        if status != 200:
            raise AssertionError("trafficsim POST %s -> %d %r" % (path, status, out))
        return out

    def set_entries(self, entries):
        """Replace the traffic entries: [{"namespace", "kind", "name", "rps"[, "rule"]}]."""
        return self._control("/_trafficsim/entries", {"entries": list(entries)})

    def set_images(self, images):
        """Merge per-image behaviour: {"<image>": {"errorRate", "latencyMs", "jitterMs",
        "smokeStatus"}} (null resets an image)."""
        return self._control("/_trafficsim/images", images)

    def state(self):
        status, out = self.request("GET", "/_trafficsim/state")
        if status != 200:
            raise AssertionError("trafficsim state -> %d %r" % (status, out))
        return out

    def shares(self, entry):
        """{deployment: share} of one entry label ("service/web", "httproute/r", ...) in the
        current state ("" = no backend)."""
        for e in self.state()["entries"]:
            if e["entry"] == entry:
                out = {}
                for b in e["backends"]:
                    out[b["deployment"]] = out.get(b["deployment"], 0.0) + b["share"]
                return out
        return None

    def smoke(self, namespace, service, method="GET", rest=""):
        return self.request(method, "/smoke/%s/%s%s" % (namespace, service, rest))

    def metrics(self):
        status, out = self.request("GET", "/metrics")
        if status != 200:
            raise AssertionError("trafficsim metrics -> %d" % status)
        return out

    def wait_for(self, predicate, timeout=30, interval=0.1, message=""):
        """Poll predicate(state()) until truthy; returns that value."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = predicate(self.state())
            if last:
                return last
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %ss waiting: %s (last value %r)"
                                     % (timeout, message, last))
            time.sleep(interval)
