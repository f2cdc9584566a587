"""The tollgate demo, narrated: kubesim, real Prometheus, a real OCI registry, the operator, a
signed canary Release that passes every gate to success, a bad one rolled back automatically by
its analysis, and an unsigned one and one with a critical vulnerability stopped in Verifying
before any pod changed. Started by hack/demo.sh, which installs and builds first.

Everything runs on this machine: kubesim (tests/kubesim, the local API server) on a loopback
port with TLS and a token, Debian's docker-registry on a loopback port holding the images (small
OCI images built here and pushed with skopeo; tests/lib/registry_harness.py) with their cosign
signatures and attestations (SLSA provenance, a CycloneDX SBOM, a Trivy scan in a cosign vuln
predicate), signed with an ECDSA key made by openssl (tests/lib/cosign_fixtures.py) whose
public half is in a Secret a VerificationPolicy names, the traffic simulator (tests/trafficsim)
sending requests into the Rollout's Service with each image's error rate and latency, Debian's
Prometheus scraping it every second, the operator as a child process querying Prometheus and the
registry, and real kubectl applying the CRDs and manifests as a user would. It cleans up after
itself and can be run again.
"""

import argparse
import hashlib
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
import cosign_fixtures as cf  # noqa: E402
from harness import Kubesim  # noqa: E402
from promharness import Prometheus, TrafficSim  # noqa: E402
from registry_harness import Registry, build_image, push_image  # noqa: E402

BOLD, DIM, GREEN, RED, RESET = ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m") \
    if sys.stdout.isatty() else ("", "", "", "", "")

REPO = "shop/checkout"  # the image repository in the demo's registry
SOURCE = "https://github.com/shop/checkout"

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
          image: %(registry)s/shop/checkout
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
    image: %(image)s
    container: checkout
  source:
    repository: https://github.com/shop/checkout
    commit: %(commit)s
    committedAt: "2026-11-25T10:00:00Z"
  notes: %(notes)s
"""


def say(text):
    print("%s==>%s %s" % (BOLD, RESET, text), flush=True)


def note(text):
    print("    %s%s%s" % (DIM, text, RESET), flush=True)


# The images CI builds, in the order the demo releases them. scan: the Trivy findings attested
# with the image (id, package, installed, fixed, severity); signed False: pushed, never signed.
BASE_SCAN = [("CVE-2023-5678", "openssl", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "HIGH"),
             ("CVE-2024-0727", "openssl", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "MEDIUM"),
             ("CVE-2022-0563", "util-linux", "2.38.1-5+b1", "", "LOW")]
CRITICAL = ("CVE-2024-45491", "libexpat1", "2.5.0-1", "2.5.0-1+deb12u1", "CRITICAL")
BUILDS = [
    # release name, version, notes, signed, scan
    ("checkout-1-4-2", "v1.4.2-build.1187-9f3c2ab", "First release.", True, BASE_SCAN),
    ("checkout-1-4-3", "v1.4.3-build.1190-4d2e1f0",
     "Card payments retry once on a gateway timeout.", True, BASE_SCAN),
    ("checkout-1-4-4", "v1.4.4-build.1201-77aa0c1", "A change we will not keep.", True, BASE_SCAN),
    ("checkout-1-4-5", "v1.4.5-build.1206-0be11e5", "Built on a laptop, pushed by hand.", False,
     BASE_SCAN),
    ("checkout-1-4-6", "v1.4.6-build.1210-c0ffee1", "Rebased on a new base image.", True,
     BASE_SCAN + [CRITICAL]),
]
SBOM_COMPONENTS = [
    ("libc6", "2.36-9+deb12u4", "pkg:deb/debian/libc6@2.36-9+deb12u4"),
    ("libexpat1", "2.5.0-1", "pkg:deb/debian/libexpat1@2.5.0-1"),
    ("openssl", "3.0.11-1~deb12u2", "pkg:deb/debian/openssl@3.0.11-1~deb12u2"),
    ("util-linux", "2.38.1-5+b1", "pkg:deb/debian/util-linux@2.38.1-5+b1"),
    ("zlib1g", "1:1.2.13.dfsg-1", "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1"),
    ("checkout", "1.4", "pkg:golang/github.com/shop/checkout@v1.4"),
    ("github.com/shop/payments-client", "v0.9.3",
     "pkg:golang/github.com/shop/payments-client@v0.9.3"),
    ("golang.org/x/net", "v0.33.0", "pkg:golang/golang.org/x/net@v0.33.0"),
]

POLICY = """
apiVersion: tollgate.io/v1alpha1
kind: VerificationPolicy
metadata: {name: shop}
spec:
  images: ["%(registry)s/shop/**"]
  mode: enforce
  authorities:
    - name: ci
      key: {secretRef: {name: cosign-pub, namespace: tollgate-system, key: cosign.pub}}
      tlog: ignore
  signature: {authorities: [ci]}
  provenance:
    authorities: [ci]
    builders: [{id: "%(builder)s"}]
    sourceRepository: https://github.com/shop/checkout
    sourceRefs: [refs/heads/main]
  sbom: {authorities: [ci], formats: [cyclonedx]}
  vulnerabilities: {authorities: [ci], maxCritical: 0, maxHigh: 2, maxScanAge: 168h}
"""


def short(image):
    """host/repo@sha256:<first 12 hex>..."""
    return image.split("@")[0] + "@" + image.split("@")[1][:19] + "..."


class Build:
    """One image CI built: pushed to the registry, and unless unsigned, signed and attested."""

    def __init__(self, reg, key, workdir, name, version, notes, signed, scan):
        self.name, self.version, self.notes, self.signed, self.scan = \
            name, version, notes, signed, scan
        tag = version.split("-")[0]
        # the commit the version names (its last part), as 40 hex digits: the provenance and the
        # Release both name it, and the policy wants them equal
        short_sha = version.rsplit("-", 1)[1]
        self.commit = short_sha + hashlib.sha1(version.encode()).hexdigest()[len(short_sha):]
        # different contents per version, hence a different digest per image
        layout = build_image(workdir, "checkout-" + tag, files={
            "app/VERSION": (version + "\n").encode(),
            "app/checkout": ("#!/bin/sh\nexec echo checkout %s\n" % version).encode()})
        self.digest = push_image(reg, REPO, tag, layout)
        self.image = reg.image(REPO, self.digest)
        if not signed:
            return
        cf.sign_image(reg, REPO, self.digest, key)
        cf.attest_image(reg, REPO, self.digest, key, cf.PROVENANCE_V1,
                        cf.slsa_v1_predicate(SOURCE, self.commit))
        cf.attest_image(reg, REPO, self.digest, key, cf.CYCLONEDX,
                        cf.cyclonedx_predicate(REPO, self.digest, SBOM_COMPONENTS))
        cf.attest_image(reg, REPO, self.digest, key, cf.COSIGN_VULN,
                        cf.trivy_vuln_predicate(self.image, scan))

    def describe(self):
        if not self.signed:
            return "NOT signed, no attestations"
        sev = {}
        for v in self.scan:
            sev[v[4]] = sev.get(v[4], 0) + 1
        return "signed; SLSA provenance, CycloneDX SBOM, Trivy scan: %s" % ", ".join(
            "%d %s" % (sev.get(k, 0), k.lower()) for k in ("CRITICAL", "HIGH", "MEDIUM", "LOW"))

    def release(self):
        return RELEASE % {"name": self.name, "version": self.version, "image": self.image,
                          "commit": self.commit, "notes": json.dumps(self.notes)}


class Demo:
    def __init__(self, sim, tollgate, plugin_dir, prom, traffic, reg, key, builds):
        self.sim = sim
        self.reg = reg
        self.key = key
        self.builds = {b.name: b for b in builds}
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
                                    "--prometheus-url", self.prom.url,
                                    "--registry-http", self.reg.host],
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
        """Prints the Release's phase when it changes, and each new measurement and smoke-test
        result of its gates."""
        rel = self.get("release", release) or {}
        phase = rel.get("status", {}).get("phase")
        if phase and (release, "phase", phase) not in self.seen:
            self.seen.add((release, "phase", phase))
            note("release %s: %s" % (release, phase))
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

    def tracks(self):
        """{Deployment: (metadata.generation, image, spec.replicas)} of the Rollout's tracks."""
        out = {}
        for track in ("stable", "canary", "baseline"):
            d = self.get("deployment", "checkout-" + track)
            if d:
                c = d["spec"]["template"]["spec"]["containers"][0]
                out[d["metadata"]["name"]] = (d["metadata"].get("generation"), c.get("image"),
                                              d["spec"].get("replicas", 0))
        return out

    def verification(self, name):
        """Prints the Release's status.verification, one line per gate."""
        v = (self.get("release", name) or {}).get("status", {}).get("verification") or {}
        color = GREEN if v.get("result") == "Passed" else RED
        note("verification %s%s%s  (policies: %s)" % (color, v.get("result"), RESET + DIM,
                                                     ", ".join(v.get("policies", []))))
        g = v.get("signature")
        if g:
            signer = g.get("signer") or ""
            if signer.startswith("key sha256:"):  # the key's fingerprint: its first 16 digits
                signer = signer[:27] + "..."
            note("  signature        %-9s %s" % (g.get("result"), g.get("reason") or
                                                 "authority %s, signer %s, %s" % (
                                                     g.get("authority"), signer,
                                                     g.get("format"))))
        g = v.get("provenance")
        if g:
            note("  provenance       %-9s %s" % (g.get("result"), g.get("reason") or
                                                 "builder %s\n%s source %s@%s, commit %s" % (
                                                     g.get("builder"), " " * 31,
                                                     g.get("sourceRepository"), g.get("ref"),
                                                     (g.get("commit") or "")[:12])))
        g = v.get("sbom")
        if g:
            note("  sbom             %-9s %s" % (g.get("result"), g.get("reason") or
                                                 "%s %s, %s components" % (
                                                     g.get("format"), g.get("specVersion"),
                                                     g.get("components"))))
        g = v.get("vulnerabilities")
        if g and g.get("critical") is None:
            note("  vulnerabilities  %-9s %s" % (g.get("result"), g.get("reason")))
        elif g:
            counts = "%s critical, %s high, %s medium, %s low; %s, scanned %s" % (
                g.get("critical"), g.get("high"), g.get("medium"), g.get("low"),
                g.get("scanner"), g.get("scannedAt"))
            note("  vulnerabilities  %-9s %s" % (g.get("result"), counts))
            if g.get("reason"):
                note("                             %s" % g["reason"])

    def stopped_in_verifying(self, name):
        """Applies a Release that must fail verification, and shows that it stopped in Verifying
        before any Deployment changed."""
        before = self.tracks()
        changes = []

        def done():
            now = self.tracks()
            if now != before:
                changes.append(now)
            return self.phase(name) == "Failed"
        self.kubectl("apply", "-f", "-", input=self.builds[name].release())
        self.watch_until(done, release=name, timeout=60)
        time.sleep(1)  # the operator had its chance to do more: it must have done nothing
        done()
        rel = self.get("release", name) or {}
        cond = [c for c in rel.get("status", {}).get("conditions", [])
                if c.get("type") == "Failed"]
        print("    %sRelease %s Failed in Verifying (reason %s): %s%s" % (
            RED, name, cond[0].get("reason") if cond else "-",
            rel.get("status", {}).get("message", ""), RESET))
        self.verification(name)
        if changes:
            raise SystemExit("demo: a Deployment changed although %s failed verification: "
                             "%r -> %r" % (name, before, changes[-1]))
        for dep, (gen, image, replicas) in before.items():
            note("%s unchanged: generation %s, %d replicas, image %s" % (
                dep, gen, replicas, short(image)))

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
                     "crd/releases.tollgate.io", "crd/verificationpolicies.tollgate.io")
        say("the platform team's VerificationPolicy 'shop' for %s/shop/**:" % self.reg.host)
        note("signed by the CI key (its public half in Secret tollgate-system/cosign-pub), SLSA "
             "provenance from")
        note("slsa-github-generator for github.com/shop/checkout@refs/heads/main and the "
             "Release's commit,")
        note("a signed CycloneDX SBOM, a signed scan at most 7 days old with 0 critical and at "
             "most 2 high")
        self.kubectl("create", "namespace", "tollgate-system")
        self.kubectl("create", "secret", "generic", "cosign-pub", "-n", "tollgate-system",
                     "--from-file=cosign.pub=" + self.key.public_path)
        self.kubectl("apply", "-f", "-", input=POLICY % {"registry": self.reg.host,
                                                        "builder": cf.GITHUB_SLSA_BUILDER})
        say("starting the operator, querying Prometheus at %s and the registry at %s (log: %s)"
            % (self.prom.url, self.reg.host, self.oplog.name))
        self.start_operator()
        say("applying the Rollout 'checkout': 5 replicas; canary 20% -> analysis -> 50% -> "
            "pause until promote;")
        note("gates: error-rate <= 5%, latency against a baseline of the stable version "
             "(Mann-Whitney, median ratio <= 1.2), an HTTP smoke test after each shift")
        self.kubectl("apply", "-f", "-", input=ROLLOUT % {"smoke": self.traffic.url,
                                                         "registry": self.reg.host})
        say("Release v1.4.2: verified in the registry, then, as the first Release of a Rollout, "
            "straight to stable")
        b = self.builds
        self.kubectl("apply", "-f", "-", input=b["checkout-1-4-2"].release())
        self.watch_until(lambda: self.phase("checkout-1-4-2") == "Succeeded",
                         release="checkout-1-4-2")
        self.verification("checkout-1-4-2")
        say("Release v1.4.3 (signed; good: no errors, as fast as stable): verified, then a "
            "canary, gate by gate")
        self.kubectl("apply", "-f", "-", input=b["checkout-1-4-3"].release())
        self.watch_until(lambda: self.state().startswith("rollout Paused") and
                         (self.get("rollout", "checkout") or {}).get("status", {})
                         .get("currentStep") == 3, release="checkout-1-4-3")
        say("every gate passed; the canary waits at 50% for a human: promote it")
        self.intent("promote", "checkout")
        self.watch_until(lambda: self.phase("checkout-1-4-3") == "Succeeded",
                         release="checkout-1-4-3")
        print("    %sRelease checkout-1-4-3 Succeeded: v1.4.3 is stable%s" % (GREEN, RESET))
        say("Release v1.4.4 (signed, but bad: 20% of its requests fail): nobody is watching")
        self.traffic.set_images({b["checkout-1-4-4"].image: {"errorRate": 0.2}})
        self.kubectl("apply", "-f", "-", input=b["checkout-1-4-4"].release())
        self.watch_until(lambda: self.phase("checkout-1-4-4") == "RolledBack",
                         release="checkout-1-4-4")
        rel = self.get("release", "checkout-1-4-4") or {}
        print("    %sRelease checkout-1-4-4 RolledBack by its analysis: %s%s"
              % (RED, rel.get("status", {}).get("message", ""), RESET))
        self.watch_until(lambda: self.state().startswith("rollout Healthy"))
        say("Release v1.4.5: an image nobody signed (pushed by hand)")
        self.stopped_in_verifying("checkout-1-4-5")
        say("Release v1.4.6: signed and attested, but its scan found a critical vulnerability")
        self.stopped_in_verifying("checkout-1-4-6")
        if self.plugin:
            say("the same checks from a workstation or CI, with the operator's code")
            img = b["checkout-1-4-6"].image
            note("$ kubectl tollgate verify %s --key cosign.pub --insecure-ignore-tlog "
                 "--allow-http-registry --type slsaprovenance1 --type cyclonedx --type vuln"
                 % short(img))
            p = subprocess.run(["kubectl", "tollgate", "verify", img, "--key",
                                self.key.public_path, "--insecure-ignore-tlog",
                                "--allow-http-registry", "--type", "slsaprovenance1", "--type",
                                "cyclonedx", "--type", "vuln"],
                               text=True, capture_output=True, env=self.env)
            for line in (p.stdout + p.stderr).splitlines():
                note("  " + line)
            note("(exit code %d)" % p.returncode)
        say("what kubectl shows")
        print(self.kubectl("get", "verificationpolicies,rollouts,releases"))
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
    work = tempfile.mkdtemp(prefix="tollgate-demo-registry-")
    try:
        say("starting a local OCI registry (Debian's docker-registry)")
        with Registry(os.path.join(work, "registry")) as reg:
            note("registry at %s" % reg.url)
            say("CI builds five images of %s, pushes them with skopeo, signs and attests "
                "them" % REPO)
            note("with an ECDSA P-256 key made by openssl, stored as cosign stores them: "
                 ".sig, .att (DSSE)")
            key = cf.generate_key(os.path.join(work, "keys"))
            builds = []
            for spec in BUILDS:
                builds.append(Build(reg, key, os.path.join(work, "images"), *spec))
                note("%-7s %s  %s" % (builds[-1].version.split("-")[0],
                                      short(builds[-1].image), builds[-1].describe()))
            demo = run_cluster(args, plugin_dir, reg, key, builds)
    finally:
        if plugin_dir:
            shutil.rmtree(plugin_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    os.unlink(demo.oplog.name)
    say("done in %.0f s: the demo cleaned up after itself (run it again any time)"
        % (time.monotonic() - started))


def run_cluster(args, plugin_dir, reg, key, builds):
    """kubesim, the traffic simulator, Prometheus and the operator; returns the Demo."""
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
            demo = Demo(sim, args.tollgate, plugin_dir, prom, traffic, reg, key, builds)
            try:
                demo.run()
            finally:
                demo.stop_operator()
    return demo


if __name__ == "__main__":
    main()
