"""The runtime benchmark (hack/bench.sh): kubesim, N Widgets, tollgate-probe --noop.

For each N it prints one line, in exactly this form so that tools can read it:
  bench n=10000 sync_s=1.84 rss_mib=23.1 rss_per_json_byte=1.42 cpu_s=0.91 api_requests=3 converged_writes=0
each followed by a detail line (the anonymous, non-shared part of RSS: the shared libraries'
pages count in RSS but are neither per object nor private to us):
  bench-detail n=10000 json_mib=9.8 rss_anon_mib=18.9 anon_per_json_byte=1.93
and once, before them, the idle figure (the probe with nothing to cache):
  bench-idle rss_mib=13.0 rss_anon_mib=2.4

sync_s: from the probe's start to its caches reporting synced (/metrics).
rss_mib: the probe's VmRSS after sync; rss_per_json_byte: that RSS over the raw JSON bytes of
the objects it caches (their list items, as the server sends them).
cpu_s: the probe's user+system CPU seconds up to that point.
api_requests: requests the probe made (kubesim's request log, by user agent).
converged_writes: writes the probe made although everything was converged (must be 0).
This is a benchmark, not a test: nothing here passes or fails on time.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Kubesim  # noqa: E402

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.tollgate.io"},
    "spec": {
        "group": "test.tollgate.io", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                  "listKind": "WidgetList"},
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object",
                                           "x-kubernetes-preserve-unknown-fields": True}},
        }],
    },
}
WIDGETS = "/apis/test.tollgate.io/v1/namespaces/default/widgets"


def widget(i):
    """A Rollout-sized object (about 1.5 KiB of JSON): what the operator will cache."""
    return {
        "apiVersion": "test.tollgate.io/v1", "kind": "Widget",
        "metadata": {"name": "w-%05d" % i, "namespace": "default",
                     "labels": {"app": "shop-%d" % (i % 50), "team": "checkout"},
                     "annotations": {"tollgate.io/owner": "team-checkout"}},
        "spec": {
            "value": "v%d" % i, "replicas": 4,
            "service": {"name": "web-%d" % i, "port": 80, "targetPort": 8080},
            "strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {"duration": "2m"}},
                                              {"setWeight": 50}, {"pause": {}}],
                                    "trafficRouting": {"replicas": {}}}},
            "template": {"metadata": {"labels": {"app": "web-%d" % i}},
                         "spec": {"containers": [{
                             "name": "web", "image": "registry.example/shop/web:1.2.%d" % i,
                             "ports": [{"containerPort": 8080}],
                             "env": [{"name": "MODE", "value": "production"},
                                     {"name": "REGION", "value": "eu-central-1"}],
                             "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                           "limits": {"cpu": "500m", "memory": "256Mi"}},
                             "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                "periodSeconds": 5}}]}},
            "progressDeadlineSeconds": 600,
        },
    }


def json_bytes(sim):
    """The raw JSON bytes of every cached object, as the server serialises list items."""
    total, cont = 0, None
    while True:
        path = WIDGETS + "?limit=500" + ("&continue=" + cont if cont else "")
        status, _, body = sim.request("GET", path)
        assert status == 200, body
        total += sum(len(json.dumps(o, separators=(",", ":"))) for o in body["items"])
        cont = body["metadata"].get("continue")
        if not cont:
            return total


def proc_figures(pid):
    with open("/proc/%d/status" % pid) as f:
        status = {l.split(":")[0]: l.split()[1] for l in f if l.startswith(("VmRSS:", "RssAnon:"))}
    rss_kib, anon_kib = int(status["VmRSS"]), int(status["RssAnon"])
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return rss_kib / 1024.0, cpu, anon_kib / 1024.0


def metric(port, series):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
    return None


def run_probe(sim, probe, n, widgets_expected):
    """Starts the probe, waits for sync, returns (sync_s, rss, cpu, port, proc)."""
    t0 = time.monotonic()
    proc = subprocess.Popen([probe, "--kubeconfig", sim.kubeconfig, "--port", "0", "--noop",
                             "--log-level", "warn"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(proc.stdout.readline().split()[1])
    deadline = t0 + 600
    while time.monotonic() < deadline:
        synced = metric(port, 'tollgate_cache_synced{resource="widgets"}')
        if synced == 1:
            break
        time.sleep(0.01)
    sync_s = time.monotonic() - t0
    if widgets_expected:
        while metric(port, 'tollgate_reconcile_total{controller="widget",result="success"}') \
                < widgets_expected:
            time.sleep(0.05)
    time.sleep(0.2)
    rss, cpu, anon = proc_figures(proc.pid)
    return sync_s, (rss, anon), cpu, port, proc


def stop(proc):
    proc.terminate()
    proc.wait(10)
    proc.stdout.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, action="append",
                    help="a size to run (repeatable); default 1, 100, 1000, 10000")
    ap.add_argument("--probe", required=True)
    args = ap.parse_args()
    sizes = args.n or [1, 100, 1000, 10000]

    with Kubesim(tls=True, token="bench") as sim:
        status, _, body = sim.request("POST", "/apis/apiextensions.k8s.io/v1/"
                                      "customresourcedefinitions", WIDGET_CRD)
        assert status == 201, body
        sim.wait_for(lambda: sim.request("GET", WIDGETS)[0] == 200, timeout=10)
        _, (rss, anon), _, _, proc = run_probe(sim, args.probe, 0, 0)
        stop(proc)
        print("bench-idle rss_mib=%.1f rss_anon_mib=%.1f" % (rss, anon), flush=True)
        have = 0
        for n in sorted(sizes):
            if n > have:
                create_all_range(sim, have, n)
                have = n
            raw = json_bytes(sim)
            sim.clear_request_log()
            sync_s, (rss, anon), cpu, port, proc = run_probe(sim, args.probe, n, n)
            stop(proc)
            log = [r for r in sim.request_log() if "tollgate" in (r.get("userAgent") or "")]
            writes = [r for r in log if r["verb"] in ("create", "update", "patch", "delete")]
            print("bench n=%d sync_s=%.2f rss_mib=%.1f rss_per_json_byte=%.2f cpu_s=%.2f "
                  "api_requests=%d converged_writes=%d"
                  % (n, sync_s, rss, rss * 1048576 / raw, cpu, len(log), len(writes)),
                  flush=True)
            # Shared libraries count in RSS but not per object: the anonymous part is ours.
            print("bench-detail n=%d json_mib=%.1f rss_anon_mib=%.1f anon_per_json_byte=%.2f"
                  % (n, raw / 1048576, anon, anon * 1048576 / raw), flush=True)


def create_all_range(sim, start, end, threads=8):
    errors = []

    def work(first):
        for i in range(first, end, threads):
            status, _, body = sim.request("POST", WIDGETS, widget(i))
            if status != 201:
                errors.append((i, status, body))
                return

    ts = [threading.Thread(target=work, args=(start + t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit("bench: creating widgets failed: %r" % (errors[:3],))


if __name__ == "__main__":
    main()
