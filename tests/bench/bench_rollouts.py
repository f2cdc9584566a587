"""The operator benchmark (hack/bench.sh --rollouts): kubesim, N Rollouts with a stable Release
each, the real operator (`tollgate run`).

For each N it prints one line:
  bench-rollouts n=100 converge_s=4.1 sync_s=0.21 rss_mib=15.2 rss_anon_mib=4.3 cpu_s=0.35 api_requests=12 api_per_reconcile=0.00 converged_writes=0 event_to_patch_ms_p50=35 event_to_patch_ms_p99=80

converge_s: from the operator's start until every Release is Succeeded (each Rollout's first
  Release goes straight to stable: a Deployment, a Service and status writes per Rollout).
sync_s, rss_mib, rss_anon_mib, cpu_s: a second operator started on the converged world, once
  its caches have synced and every Rollout has been reconciled.
api_requests: what that second operator sent (lists and watches); api_per_reconcile: its
  requests other than lists and watches, per Rollout; converged_writes: its writes (must be 0).
event_to_patch_ms: for 20 Rollouts, the time from applying a new Release to the operator's
  first write for it (the canary Deployment appearing).
A benchmark, not a test: nothing here passes or fails on a figure.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Kubesim, source_dir  # noqa: E402

NS = "/apis/tollgate.io/v1alpha1/namespaces/default/"


def rollout(i):
    return {"apiVersion": "tollgate.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "app-%05d" % i},
            "spec": {"replicas": 2,
                     "template": {"metadata": {"labels": {"app": "app-%05d" % i}},
                                  "spec": {"containers": [{"name": "app",
                                                           "image": "registry.example/app"}]}},
                     "service": {"name": "app-%05d" % i, "port": 80},
                     "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}}}


def release(i, n):
    return {"apiVersion": "tollgate.io/v1alpha1", "kind": "Release",
            "metadata": {"name": "app-%05d-v%d" % (i, n)},
            "spec": {"rollout": "app-%05d" % i, "version": "v1.0.%d" % n,
                     "artifact": {"image": "registry.example/app@sha256:" + str(n) * 64}}}


def parallel(fn, items, threads=8):
    errors = []

    def work(k):
        for item in items[k::threads]:
            try:
                fn(item)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit("bench: %r" % errors[0])


def post(sim, path, body):
    status, _, resp = sim.request("POST", path, body)
    if status != 201:
        raise RuntimeError("POST %s: %d %s" % (path, status, resp))


def count_phase(sim, phase):
    n, cont = 0, None
    while True:
        status, _, body = sim.request("GET", NS + "releases?limit=500" +
                                      ("&continue=" + cont if cont else ""))
        n += sum(1 for r in body["items"] if r.get("status", {}).get("phase") == phase)
        cont = body["metadata"].get("continue")
        if not cont:
            return n


def metric(port, series):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
    return None


def start_operator(tollgate, sim, logf):
    proc = subprocess.Popen([tollgate, "--kubeconfig", sim.kubeconfig, "--log-level", "warn",
                             "run", "--listen", "127.0.0.1:0", "--leader-elect", "false",
                             "--gateway-api", "off"], stdout=logf, stderr=logf)
    return proc


def operator_port(sim, proc, logpath, timeout=30):
    """The operator logs nothing at warn level about its port: find it from /proc."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "pid=%d," % proc.pid in line:
                return int(line.split()[3].rsplit(":", 1)[1])
        time.sleep(0.05)
    raise SystemExit("bench: the operator did not listen; log: %s" % logpath)


def proc_figures(pid):
    with open("/proc/%d/status" % pid) as f:
        st = {l.split(":")[0]: l.split()[1] for l in f if l.startswith(("VmRSS:", "RssAnon:"))}
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return int(st["VmRSS"]) / 1024.0, int(st["RssAnon"]) / 1024.0, cpu


def wait_idle(port, quiet_s=1.0, timeout=120):
    """Waits until the operator's queue has been empty, with nothing in flight, for quiet_s."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        busy = (metric(port, 'tollgate_workqueue_depth{controller="rollout"}') or 0) + \
            (metric(port, 'tollgate_workqueue_longest_running_seconds{controller="rollout"}')
             or 0)
        now = time.monotonic()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_s:
            return
        time.sleep(0.05)


def deployment_exists(sim, name):
    return sim.request("GET", "/apis/apps/v1/namespaces/default/deployments/" + name)[0] == 200


def run_size(sim, tollgate, n, logf):
    parallel(lambda i: post(sim, NS + "rollouts", rollout(i)), list(range(n)))
    parallel(lambda i: post(sim, NS + "releases", release(i, 1)), list(range(n)))
    t0 = time.monotonic()
    op = start_operator(tollgate, sim, logf)
    port = operator_port(sim, op, logf.name)
    while count_phase(sim, "Succeeded") < n:
        time.sleep(0.2)
    converge_s = time.monotonic() - t0
    wait_idle(port)  # the last status writes follow the last Release's success
    op.terminate()
    op.wait(30)

    sim.clear_request_log()
    t0 = time.monotonic()
    op = start_operator(tollgate, sim, logf)
    port = operator_port(sim, op, logf.name)
    while metric(port, 'tollgate_cache_synced{resource="rollouts"}') != 1 or \
            metric(port, 'tollgate_cache_synced{resource="deployments"}') != 1:
        time.sleep(0.01)
    sync_s = time.monotonic() - t0
    while (metric(port, 'tollgate_reconcile_total{controller="rollout",result="success"}') or 0) \
            < n or metric(port, 'tollgate_workqueue_depth{controller="rollout"}') != 0:
        time.sleep(0.05)
    time.sleep(0.3)
    rss, anon, cpu = proc_figures(op.pid)
    log = [r for r in sim.request_log() if (r.get("userAgent") or "").startswith("tollgate")]
    writes = [r for r in log if r["verb"] in ("create", "update", "patch", "delete")]
    other = [r for r in log if r["verb"] not in ("list", "watch")]

    latencies = []
    for i in range(min(n, 20)):
        name = "app-%05d-canary" % i
        t1 = time.monotonic()
        post(sim, NS + "releases", release(i, 2))
        while not deployment_exists(sim, name):
            time.sleep(0.002)
        latencies.append((time.monotonic() - t1) * 1000)
    op.terminate()
    op.wait(30)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print("bench-rollouts n=%d converge_s=%.1f sync_s=%.2f rss_mib=%.1f rss_anon_mib=%.1f "
          "cpu_s=%.2f api_requests=%d api_per_reconcile=%.2f converged_writes=%d "
          "event_to_patch_ms_p50=%.0f event_to_patch_ms_p99=%.0f"
          % (n, converge_s, sync_s, rss, anon, cpu, len(log), len(other) / n, len(writes),
             statistics.median(latencies), p99), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, action="append", help="sizes (default 1, 100, 1000)")
    ap.add_argument("--tollgate", required=True)
    args = ap.parse_args()
    for n in args.n or [1, 100, 1000]:
        with Kubesim(tls=True, token="bench") as sim, \
                tempfile.NamedTemporaryFile(prefix="bench-op-", suffix=".log") as logf:
            sim.kubectl("apply", "-f", os.path.join(source_dir(), "crds"))
            run_size(sim, args.tollgate, n, logf)


if __name__ == "__main__":
    main()
