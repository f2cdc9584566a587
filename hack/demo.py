"""The tollgate demo, narrated: kubesim, real Prometheus, the operator, a canary Release that
passes every gate to success, and a bad one rolled back automatically by its analysis. Started
by hack/demo.sh, which installs and builds first.

Everything runs on this machine: kubesim (tests/kubesim, the local API server) on a loopback
port with TLS and a token, the traffic simulator (tests/trafficsim) sending requests into the
Rollout's Service with each image's error rate and latency, Debian's Prometheus scraping it
every second, the operator as a child process querying Prometheus, and real kubectl applying
the CRDs and manifests as a user would. It cleans up after itself and can be run again.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
os.environ.setdefault("TOLLGATE_SOURCE_DIR", ROOT)
from harness import Kubesim  # noqa: E402
from promharness import Prometheus, TrafficSim  # noqa: E402

BOLD, DIM, GREEN, RED, RESET = ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m") \
    if sys.stdout.isatty() else ("", "", "", "", "")

ROLLOUT = """
apiVersion: tollgate.io/v1alpha1
kind: Rollout
metadata: {name: checkout}
spec:
  replicas: 5
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers:
        - name: checkout
          image: registry.example/shop/checkout
          ports: [{name: http, containerPort: 8080}]
  service: {name: checkout, port: 80, targetPort: http}
  strategy:
    canary:
      trafficRouting: {replicas: {}}
      steps:
        - setWeight: 20
        - analysis: {}
        - setWeight: 50
        - pause: {}
  analysis:
    baseline: true
    metrics:
      - name: error-rate
        query: >-
          (sum(rate(trafficsim_requests_total{namespace="{{namespace}}",service="{{service}}",
          track="{{track}}",code="500"}[6s])) or vector(0))
          / sum(rate(trafficsim_requests_total{namespace="{{namespace}}",service="{{service}}",
          track="{{track}}"}[6s]))
        initialDelay: 6s
        interval: 2s
        count: 3
        max: 0.05
      - name: latency-vs-baseline
        query: >-
          sum(rate(trafficsim_request_duration_seconds_sum{namespace="{{namespace}}",
          service="{{service}}",track="{{track}}"}[4s]))
          / sum(rate(trafficsim_request_duration_seconds_count{namespace="{{namespace}}",
          service="{{service}}",track="{{track}}"}[4s]))
        compare: baseline
        initialDelay: 10s
        interval: 2s
        count: 1
        lookback: 10s
        step: 1s
        maxMedianRatio: 1.2
    smokeTests:
      - name: health
        http: {url: "%(smoke)s/smoke/{{namespace}}/{{service}}", bodyPattern: '"status": "ok"'}
  progressDeadlineSeconds: 120
"""

RELEASE = """
apiVersion: tollgate.io/v1alpha1
kind: Release
metadata: {name: %(name)s}
spec:
  rollout: checkout
  version: %(version)s
  artifact:
    image: registry.example/shop/checkout@sha256:%(digest)s
    container: checkout
  source:
    repository: https://git.example/shop/checkout
    commit: %(commit)s
    committedAt: "2026-11-25T10:00:00Z"
  notes: %(notes)s
"""


def say(text):
    print("%s==>%s %s" % (BOLD, RESET, text), flush=True)


def note(text):
    print("    %s%s%s" % (DIM, text, RESET), flush=True)


def release(name, version, digest_char, notes):
    return RELEASE % {"name": name, "version": version, "digest": digest_char * 64,
                      "commit": (digest_char * 40), "notes": json.dumps(notes)}


class Demo:
    def __init__(self, sim, tollgate, plugin_dir, prom, traffic):
        self.sim = sim
        self.tollgate = tollgate
        self.prom = prom
        self.traffic = traffic
        self.env = dict(os.environ, KUBECONFIG=sim.kubeconfig)
        if plugin_dir:
            self.env["PATH"] = plugin_dir + os.pathsep + self.env["PATH"]
        self.plugin = bool(plugin_dir)
        self.op = None
        self.seen = set()  # measurements and smoke tests already printed
        self.oplog = tempfile.NamedTemporaryFile(prefix="tollgate-demo-", suffix=".log",
                                                 delete=False)

    def kubectl(self, *args, input=None, check=True):
        p = subprocess.run(["kubectl", *args], input=input, text=True, capture_output=True,
                           env=self.env)
        if check and p.returncode != 0:
            raise SystemExit("demo: kubectl %s failed:\n%s" % (" ".join(args), p.stderr))
        return p.stdout

    def get(self, kind, name):
        out = self.kubectl("get", kind, name, "-o", "json", check=False)
        return json.loads(out) if out.strip() else None

    def start_operator(self):
        self.op = subprocess.Popen([self.tollgate, "--kubeconfig", self.sim.kubeconfig,
                                    "--log-format", "text", "run", "--listen", "127.0.0.1:0",
                                    "--leader-elect", "false",
                                    "--prometheus-url", self.prom.url],
                                   stdout=self.oplog, stderr=self.oplog)

    def costs(self):
        """What the analyses cost the operator: queries, smoke requests, CPU seconds."""
        import re
        import urllib.request
        with open(self.oplog.name, errors="replace") as f:
            m = re.search(r"operator started.*? port=(\d+)", f.read())
        totals = {}
        if m:
            with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % m.group(1),
                                        timeout=5) as r:
                for line in r.read().decode().splitlines():
                    for name in ("tollgate_analysis_queries_total",
                                 "tollgate_smoke_test_requests_total"):
                        if line.startswith(name):
                            totals[name] = totals.get(name, 0) + float(line.split()[-1])
        with open("/proc/%d/stat" % self.op.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return (int(totals.get("tollgate_analysis_queries_total", 0)),
                int(totals.get("tollgate_smoke_test_requests_total", 0)), cpu)

    def stop_operator(self):
        if self.op and self.op.poll() is None:
            self.op.terminate()
            self.op.wait(10)

    def state(self):
        """One line describing what a user sees now."""
        ro = self.get("rollout", "checkout") or {}
        st = ro.get("status", {})
        deps = {}
        for track in ("stable", "canary", "baseline"):
            d = self.get("deployment", "checkout-" + track)
            if d and (d["spec"].get("replicas", 0) or track != "baseline"):
                deps[track] = "%s %d/%d" % (track, d.get("status", {}).get("readyReplicas", 0),
                                           d["spec"].get("replicas", 0))
        steps = len(ro.get("spec", {}).get("strategy", {}).get("canary", {}).get("steps", []))
        step = st.get("currentStep")
        # status.currentStep is the index of the step in progress; people count from 1.
        line = "rollout %-11s step %s/%d  weight %3s%%  pods: %s" % (
            st.get("phase", "-"), "-" if step is None else min(step + 1, steps), steps,
            st.get("canaryWeight", 0), ", ".join(deps.values()) or "none")
        return line

    def gates(self, release):
        """Prints each new measurement and smoke-test result of the Release's gates."""
        rel = self.get("release", release) or {}
        for run in rel.get("status", {}).get("analysis", {}).get("runs", []):
            for m in run.get("metrics", []):
                for x in m.get("measurements", []):
                    key = (release, run["name"], m["name"], x.get("at"))
                    if key in self.seen:
                        continue
                    self.seen.add(key)
                    color = GREEN if x.get("result") == "Pass" else RED
                    note("gate %s/%s: %s%s%s  %s" % (run["name"], m["name"], color,
                                                     x.get("result"), RESET + DIM,
                                                     x.get("message", "")))
            for t in run.get("smokeTests", []):
                key = (release, run["name"], t["name"], t.get("phase"))
                if t.get("phase") == "Running" or key in self.seen:
                    continue
                self.seen.add(key)
                color = GREEN if t.get("phase") == "Successful" else RED
                note("gate %s/%s: %s%s%s  %s" % (run["name"], t["name"], color, t.get("phase"),
                                                 RESET + DIM, t.get("message", "")))

    def watch_until(self, done, release=None, timeout=120):
        """Prints each new state (and gate result) until done() is true."""
        last = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.state()
            if line != last:
                note(line)
                last = line
            if release:
                self.gates(release)
            if done():
                return
            time.sleep(0.25)
        raise SystemExit("demo: timed out; operator log: %s" % self.oplog.name)

    def phase(self, name):
        r = self.get("release", name) or {}
        return r.get("status", {}).get("phase")

    def intent(self, verb, target):
        if self.plugin:
            out = self.kubectl("tollgate", verb, target)
            note("$ kubectl tollgate %s %s -> %s" % (verb, target, out.strip()))
        else:
            kind = "rollout" if verb == "promote" else "release"
            self.kubectl("annotate", "--overwrite", kind, target,
                         "tollgate.io/%s=%d" % (verb, time.time_ns()))
            note("$ kubectl annotate %s %s tollgate.io/%s=<token>" % (kind, target, verb))

    def run(self):
        say("installing the CRDs")
        self.kubectl("apply", "-f", os.path.join(ROOT, "crds"))
        self.kubectl("wait", "--for=condition=Established", "crd/rollouts.tollgate.io",
                     "crd/releases.tollgate.io")
        say("starting the operator, querying Prometheus at %s (log: %s)"
            % (self.prom.url, self.oplog.name))
        self.start_operator()
        say("applying the Rollout 'checkout': 5 replicas; canary 20% -> analysis -> 50% -> "
            "pause until promote;")
        note("gates: error-rate <= 5%, latency against a baseline of the stable version "
             "(Mann-Whitney, median ratio <= 1.2), an HTTP smoke test after each shift")
        self.kubectl("apply", "-f", "-", input=ROLLOUT % {"smoke": self.traffic.url})
        say("Release v1.4.2: the first Release of a Rollout goes straight to stable")
        self.kubectl("apply", "-f", "-", input=release(
            "checkout-1-4-2", "v1.4.2-build.1187-9f3c2ab", "a", "First release."))
        self.watch_until(lambda: self.phase("checkout-1-4-2") == "Succeeded")
        say("Release v1.4.3 (good: no errors, as fast as stable): a canary, gate by gate")
        self.kubectl("apply", "-f", "-", input=release(
            "checkout-1-4-3", "v1.4.3-build.1190-4d2e1f0", "b",
            "Card payments retry once on a gateway timeout."))
        self.watch_until(lambda: self.state().startswith("rollout Paused") and
                         (self.get("rollout", "checkout") or {}).get("status", {})
                         .get("currentStep") == 3, release="checkout-1-4-3")
        say("every gate passed; the canary waits at 50% for a human: promote it")
        self.intent("promote", "checkout")
        self.watch_until(lambda: self.phase("checkout-1-4-3") == "Succeeded",
                         release="checkout-1-4-3")
        print("    %sRelease checkout-1-4-3 Succeeded: v1.4.3 is stable%s" % (GREEN, RESET))
        say("Release v1.4.4 (bad: 20% of its requests fail): nobody is watching")
        self.traffic.set_images({"registry.example/shop/checkout@sha256:" + "c" * 64:
                                 {"errorRate": 0.2}})
        self.kubectl("apply", "-f", "-", input=release(
            "checkout-1-4-4", "v1.4.4-build.1201-77aa0c1", "c", "A change we will not keep."))
        self.watch_until(lambda: self.phase("checkout-1-4-4") == "RolledBack",
                         release="checkout-1-4-4")
        rel = self.get("release", "checkout-1-4-4") or {}
        print("    %sRelease checkout-1-4-4 RolledBack by its analysis: %s%s"
              % (RED, rel.get("status", {}).get("message", ""), RESET))
        self.watch_until(lambda: self.state().startswith("rollout Healthy"))
        say("what kubectl shows")
        print(self.kubectl("get", "rollouts,releases"))
        print(self.kubectl("get", "events", "--sort-by=.lastTimestamp"))
        if self.plugin:
            print(self.kubectl("tollgate", "status", "checkout"))
            print(self.kubectl("tollgate", "history", "checkout"))
        queries, smoke, cpu = self.costs()
        say("what the gates cost the operator: %d Prometheus queries, %d smoke-test requests, "
            "%.2f CPU seconds for the whole demo" % (queries, smoke, cpu))


def main():
    ap = argparse.ArgumentParser(description="the narrated tollgate demo")
    ap.add_argument("--tollgate", required=True, help="the tollgate binary")
    ap.add_argument("--plugin", help="the kubectl-tollgate binary, if built")
    args = ap.parse_args()
    plugin_dir = None
    if args.plugin and os.path.exists(args.plugin):
        plugin_dir = tempfile.mkdtemp(prefix="tollgate-demo-bin-")
        os.symlink(os.path.abspath(args.plugin), os.path.join(plugin_dir, "kubectl-tollgate"))
    started = time.monotonic()
    say("starting kubesim, the local Kubernetes API server (TLS, token auth)")
    with Kubesim(tls=True, token="demo-token", ready_delay=0.5) as sim:
        note("API server at %s" % sim.url)
        say("starting the traffic simulator (60 requests/s into Service checkout) and Prometheus")
        with TrafficSim(sim) as traffic, Prometheus([traffic.target]) as prom:
            traffic.set_entries([{"namespace": "default", "kind": "Service",
                                  "name": "checkout", "rps": 60}])
            prom.wait_for('up{job="trafficsim"}', lambda v: v == 1, timeout=30,
                          message="Prometheus scraping the traffic simulator")
            note("Prometheus at %s scrapes %s every second" % (prom.url, traffic.url))
            demo = Demo(sim, args.tollgate, plugin_dir, prom, traffic)
            try:
                demo.run()
            finally:
                demo.stop_operator()
                if plugin_dir:
                    shutil.rmtree(plugin_dir, ignore_errors=True)
    os.unlink(demo.oplog.name)
    say("done in %.0f s: the demo cleaned up after itself (run it again any time)"
        % (time.monotonic() - started))


if __name__ == "__main__":
    main()
