#!/usr/bin/python3
"""trafficsim: simulated user traffic over kubesim's Deployments, exposed as Prometheus metrics.

    python3 tests/trafficsim/trafficsim.py --kubeconfig PATH --port 0 [--tick 0.25] [--seed N]
        [--server URL] [--token T] [--ca FILE] [--insecure]

Prints exactly one line ``ready http://127.0.0.1:PORT`` on stdout (flushed) once it serves, and
serves until SIGTERM or SIGINT, then exits 0. The Kubernetes API is reached with the server, CA
and bearer token of the kubeconfig's current context (kubesim writes its kubeconfig as JSON);
--server/--token/--ca override them (or replace the kubeconfig altogether).

Every tick it lists, in the namespaces of the configured entries, apps/v1 Deployments, v1
Services, gateway.networking.k8s.io/v1 HTTPRoutes (an absent API counts as none) and
networking.k8s.io/v1 Ingresses, computes how each entry's requests are split, and advances the
counters by rps * dt * share (fractional remainders carried, so low rates count exactly).

Routing model (what a user's request would reach):
  Service    the Deployments of the namespace whose pod-template labels match spec.selector, in
             proportion to status.readyReplicas (0 ready: nothing).
  HTTPRoute  spec.rules[*].backendRefs (kind Service) by weight (default 1); each backendRef a
             Service as above. Entry field "rule": N restricts to rule N.
  Ingress    NGINX canary: the Ingress's backend Services get (100 - w)%, and the backends of an
             Ingress of the namespace annotated nginx.ingress.kubernetes.io/canary: "true" that
             shares a host get w% = its nginx.ingress.kubernetes.io/canary-weight (out of
             canary-weight-total, default 100).
  A backend Service with no ready Deployment answers its share with 503 (deployment="").

Control API (JSON):
  POST /_trafficsim/entries  {"entries": [{"namespace": "default", "kind": "Service"|"HTTPRoute"|
                             "Ingress", "name": "web", "rps": 100, "rule": 0 (optional)}]}
                             replaces the list; GET returns it.
  POST /_trafficsim/images   {"<image>": {"errorRate": 0.2, "latencyMs": 100, "jitterMs": 10,
                             "smokeStatus": 200}} merges (null resets an image); GET returns it.
  GET  /_trafficsim/state    current shares per entry and backend, totals, poll status.
  GET  /metrics              Prometheus text format 0.0.4.
  GET|HEAD|POST /smoke/<namespace>/<service>[/...]  one request to a ready Deployment behind the
                             Service: the image's smokeStatus, {"status": "ok"|"error", "image",
                             "deployment"}; 503 {"status": "no backend"}; 404 unknown Service.

Python 3 standard library only.
"""

import argparse
import base64
import json
import math
import random
import signal
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
           1.0, 2.5, 5.0)
IMAGE_DEFAULTS = {"errorRate": 0.0, "latencyMs": 50.0, "jitterMs": 5.0, "smokeStatus": 200}
KINDS = ("Service", "HTTPRoute", "Ingress")
MAX_DRAWS = 200
CANARY = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
CANARY_TOTAL = "nginx.ingress.kubernetes.io/canary-weight-total"


def log(msg):
    sys.stderr.write("trafficsim: %s\n" % msg)
    sys.stderr.flush()


class BadRequest(Exception):
    pass


# -- Kubernetes API ----------------------------------------------------------------------------
class KubeClient:
    def __init__(self, server, token=None, ca_pem=None, insecure=False):
        self.server = server.rstrip("/")
        self.token = token
        self.ctx = None
        if self.server.startswith("https:"):
            if insecure:
                self.ctx = ssl._create_unverified_context()
            elif ca_pem:
                self.ctx = ssl.create_default_context(cadata=ca_pem)
            else:
                self.ctx = ssl.create_default_context()

    @classmethod
    def from_args(cls, args):
        server = token = ca_pem = None
        if args.kubeconfig:
            with open(args.kubeconfig) as f:
                cfg = json.load(f)  # kubesim writes JSON (valid YAML)
            ctx_name = cfg.get("current-context")
            ctx = next((c["context"] for c in cfg.get("contexts", []) if c.get("name") == ctx_name),
                       None) or (cfg.get("contexts") or [{"context": {}}])[0]["context"]
            cluster = next((c["cluster"] for c in cfg.get("clusters", [])
                            if c.get("name") == ctx.get("cluster")), None) \
                or cfg["clusters"][0]["cluster"]
            user = next((u["user"] for u in cfg.get("users", [])
                         if u.get("name") == ctx.get("user")), None) \
                or ((cfg.get("users") or [{"user": {}}])[0]["user"])
            server = cluster.get("server")
            if cluster.get("certificate-authority-data"):
                ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
            elif cluster.get("certificate-authority"):
                with open(cluster["certificate-authority"]) as f:
                    ca_pem = f.read()
            token = user.get("token")
        if args.server:
            server = args.server
        if args.token:
            token = args.token
        if args.ca:
            with open(args.ca) as f:
                ca_pem = f.read()
        if not server:
            raise SystemExit("trafficsim: no API server: give --kubeconfig or --server")
        return cls(server, token, ca_pem, args.insecure)

    def get(self, path):
        """GET a JSON document; None on 404."""
        req = urllib.request.Request(self.server + path, headers={"Accept": "application/json"})
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise RuntimeError("GET %s: HTTP %d %s" % (path, e.code, e.read()[:300]))

    def items(self, path):
        doc = self.get(path)
        return [] if doc is None else (doc.get("items") or [])


def meta(obj, key, default=None):
    return (obj.get("metadata") or {}).get(key, default)


def template_labels(dep):
    return ((((dep.get("spec") or {}).get("template") or {}).get("metadata") or {})
            .get("labels") or {})


def dep_image(dep):
    cs = ((((dep.get("spec") or {}).get("template") or {}).get("spec") or {})
          .get("containers") or [])
    return (cs[0].get("image") or "") if cs else ""


def dep_track(dep):
    labels = template_labels(dep)
    return labels.get("tollgate.io/track") or labels.get("tollgate.io/color") or ""


def dep_ready(dep):
    try:
        return max(0, int((dep.get("status") or {}).get("readyReplicas") or 0))
    except (TypeError, ValueError):
        return 0


def ingress_hosts(ing):
    return {r.get("host") or "" for r in ((ing.get("spec") or {}).get("rules") or [])}


def ingress_services(ing):
    """The distinct backend Service names of an Ingress, in order of appearance."""
    out = []
    spec = ing.get("spec") or {}
    name = (((spec.get("defaultBackend") or {}).get("service")) or {}).get("name")
    if name:
        out.append(name)
    for r in spec.get("rules") or []:
        for p in ((r.get("http") or {}).get("paths") or []):
            name = (((p.get("backend") or {}).get("service")) or {}).get("name")
            if name and name not in out:
                out.append(name)
    return out


class Snapshot:
    """The cluster objects trafficsim routes over, per namespace."""

    def __init__(self):
        self.deployments = {}  # ns -> [obj]
        self.services = {}     # ns -> {name: obj}
        self.routes = {}       # ns -> {name: obj}
        self.ingresses = {}    # ns -> {name: obj}

    @classmethod
    def poll(cls, kube, namespaces):
        s = cls()
        for ns in sorted(namespaces):
            q = urllib.parse.quote(ns, safe="")
            s.deployments[ns] = kube.items("/apis/apps/v1/namespaces/%s/deployments" % q)
            s.services[ns] = {meta(o, "name"): o
                              for o in kube.items("/api/v1/namespaces/%s/services" % q)}
            s.routes[ns] = {meta(o, "name"): o for o in kube.items(
                "/apis/gateway.networking.k8s.io/v1/namespaces/%s/httproutes" % q)}
            s.ingresses[ns] = {meta(o, "name"): o for o in kube.items(
                "/apis/networking.k8s.io/v1/namespaces/%s/ingresses" % q)}
        return s

    def service_backends(self, ns, svc_name):
        """[(deployment, ready)] behind a Service; None when the Service does not exist."""
        svc = self.services.get(ns, {}).get(svc_name)
        if svc is None:
            return None
        return select_backends(svc, self.deployments.get(ns, []))

    def route_namespaces(self):
        out = set()
        for ns, routes in self.routes.items():
            for r in routes.values():
                for rule in ((r.get("spec") or {}).get("rules") or []):
                    for b in rule.get("backendRefs") or []:
                        out.add(b.get("namespace") or ns)
        return out


def select_backends(svc, deployments):
    sel = (svc.get("spec") or {}).get("selector") or {}
    if not sel:
        return []
    out = []
    for d in deployments:
        labels = template_labels(d)
        if all(labels.get(k) == v for k, v in sel.items()):
            out.append((d, dep_ready(d)))
    return out


def compute_shares(snap, entry):
    """[(service, deployment-or-None, share)] for one entry; shares sum to 1 (or 0: nothing)."""
    ns, kind, name = entry["namespace"], entry["kind"], entry["name"]
    svc_weights = []  # (ns, service, weight)
    if kind == "Service":
        svc_weights = [(ns, name, 1.0)]
    elif kind == "HTTPRoute":
        route = snap.routes.get(ns, {}).get(name)
        rules = ((route or {}).get("spec") or {}).get("rules") or []
        if entry.get("rule") is not None:
            rules = rules[entry["rule"]:entry["rule"] + 1]
        for rule in rules:
            for b in rule.get("backendRefs") or []:
                if (b.get("group") or "") not in ("", "core") \
                        or (b.get("kind") or "Service") != "Service":
                    continue
                w = b.get("weight", 1)
                try:
                    w = float(w)
                except (TypeError, ValueError):
                    w = 0.0
                if w > 0 and b.get("name"):
                    svc_weights.append((b.get("namespace") or ns, b["name"], w))
    elif kind == "Ingress":
        ings = snap.ingresses.get(ns, {})
        ing = ings.get(name)
        if ing is not None:
            hosts = ingress_hosts(ing)
            canary = None
            for cname in sorted(ings):
                c = ings[cname]
                if cname == name or (meta(c, "annotations") or {}).get(CANARY) != "true":
                    continue
                if ingress_hosts(c) & hosts:
                    canary = c
                    break
            w = 0.0
            if canary is not None:
                ann = meta(canary, "annotations") or {}
                try:
                    total = float(ann.get(CANARY_TOTAL, "100"))
                    w = float(ann.get(CANARY_WEIGHT, "0")) / total * 100.0 if total > 0 else 0.0
                except ValueError:
                    w = 0.0
                w = min(100.0, max(0.0, w))
            main = ingress_services(ing)
            for s in main:
                svc_weights.append((ns, s, (100.0 - w) / len(main)))
            if canary is not None and w > 0:
                cs = ingress_services(canary)
                for s in cs:
                    svc_weights.append((ns, s, w / len(cs)))
    total = sum(w for _, _, w in svc_weights if w > 0)
    out = []
    if total <= 0:
        return out
    for sns, sname, w in svc_weights:
        if w <= 0:
            continue
        frac = w / total
        backends = snap.service_backends(sns, sname) or []
        ready = sum(r for _, r in backends)
        if ready <= 0:
            out.append((sns, sname, None, frac))
            continue
        for d, r in backends:
            if r > 0:
                out.append((sns, sname, d, frac * r / ready))
    return out


# -- metrics -----------------------------------------------------------------------------------
class Series:
    """One label set: counters by code, a histogram, fractional accumulators."""

    def __init__(self):
        self.codes = {}
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0
        self.count = 0
        self.req_acc = 0.0
        self.err_acc = 0.0
        self.share = 0.0

    def add_code(self, code, n):
        self.codes[code] = self.codes.get(code, 0) + n

    def observe(self, seconds, n):
        i = 0
        while i < len(BUCKETS) and seconds > BUCKETS[i]:
            i += 1
        self.buckets[i] += n
        self.sum += seconds * n
        self.count += n


def esc(v):
    return str(v).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def fmt_num(x):
    if isinstance(x, int):
        return str(x)
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x))


LABELS = ("namespace", "entry", "service", "deployment", "track", "image")


def labelstr(key, extra=()):
    pairs = list(zip(LABELS, key)) + list(extra)
    return "{" + ",".join('%s="%s"' % (k, esc(v)) for k, v in pairs) + "}"


# -- the simulator -----------------------------------------------------------------------------
class Sim:
    def __init__(self, kube, tick=0.25, seed=None):
        self.kube = kube
        self.tick = tick
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.entries = []
        self.images = {}
        self.series = {}       # label tuple -> Series
        self.shares = []       # per entry: list of dicts (for /state)
        self.snap = Snapshot()
        self.polls = 0
        self.poll_error = None
        self.last = None
        self.stop_event = threading.Event()

    def image_conf(self, image):
        c = dict(IMAGE_DEFAULTS)
        c.update(self.images.get(image, {}))
        return c

    # control
    def set_entries(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("entries"), list):
            raise BadRequest('body must be {"entries": [...]}')
        out = []
        for i, e in enumerate(body["entries"]):
            where = "entries[%d]" % i
            if not isinstance(e, dict):
                raise BadRequest("%s: must be an object" % where)
            unknown = set(e) - {"namespace", "kind", "name", "rps", "rule"}
            if unknown:
                raise BadRequest("%s: unknown field(s) %s" % (where, ", ".join(sorted(unknown))))
            ns = e.get("namespace", "default")
            if not isinstance(ns, str) or not ns:
                raise BadRequest("%s.namespace: must be a non-empty string" % where)
            if e.get("kind") not in KINDS:
                raise BadRequest("%s.kind: must be one of %s" % (where, ", ".join(KINDS)))
            if not isinstance(e.get("name"), str) or not e["name"]:
                raise BadRequest("%s.name: must be a non-empty string" % where)
            rps = e.get("rps")
            if isinstance(rps, bool) or not isinstance(rps, (int, float)) or not rps >= 0 \
                    or math.isinf(rps):
                raise BadRequest("%s.rps: must be a number >= 0" % where)
            rule = e.get("rule")
            if rule is not None and (isinstance(rule, bool) or not isinstance(rule, int)
                                     or rule < 0):
                raise BadRequest("%s.rule: must be an integer >= 0" % where)
            if rule is not None and e["kind"] != "HTTPRoute":
                raise BadRequest("%s.rule: only for kind HTTPRoute" % where)
            ent = {"namespace": ns, "kind": e["kind"], "name": e["name"], "rps": float(rps)}
            if rule is not None:
                ent["rule"] = rule
            out.append(ent)
        keys = [(e["namespace"], e["kind"], e["name"]) for e in out]
        if len(set(keys)) != len(keys):
            raise BadRequest("entries: duplicate namespace/kind/name")
        with self.lock:
            self.entries = out
        return {"entries": out}

    def set_images(self, body):
        if not isinstance(body, dict):
            raise BadRequest('body must be {"<image>": {"errorRate": ..., ...}, ...}')
        staged = {}
        for image, conf in body.items():
            if conf is None:
                staged[image] = None
                continue
            if not isinstance(conf, dict):
                raise BadRequest("%s: must be an object or null" % image)
            unknown = set(conf) - set(IMAGE_DEFAULTS)
            if unknown:
                raise BadRequest("%s: unknown field(s) %s" % (image, ", ".join(sorted(unknown))))
            c = {}
            for k, v in conf.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise BadRequest("%s.%s: must be a number" % (image, k))
                if k == "errorRate" and not 0 <= v <= 1:
                    raise BadRequest("%s.errorRate: must be within 0..1" % image)
                if k in ("latencyMs", "jitterMs") and v < 0:
                    raise BadRequest("%s.%s: must be >= 0" % (image, k))
                if k == "smokeStatus" and (int(v) != v or not 100 <= v <= 599):
                    raise BadRequest("%s.smokeStatus: must be an integer within 100..599" % image)
                c[k] = int(v) if k == "smokeStatus" else float(v)
            staged[image] = c
        with self.lock:
            for image, c in staged.items():
                if c is None:
                    self.images.pop(image, None)
                else:
                    self.images.setdefault(image, {}).update(c)
            return {k: self.image_conf(k) for k in self.images}

    # the loop
    def run(self):
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            self.step()
            next_at += self.tick
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at = time.monotonic()
                delay = 0
            self.stop_event.wait(delay)

    def step(self):
        with self.lock:
            entries = list(self.entries)
        namespaces = {e["namespace"] for e in entries} | self.snap.route_namespaces()
        try:
            snap = Snapshot.poll(self.kube, namespaces)
            err = None
        except Exception as e:  # keep the last snapshot: the API may be briefly unreachable
            snap, err = None, str(e)
            log("poll failed: %s" % e)
        now = time.monotonic()
        with self.lock:
            if snap is not None:
                self.snap = snap
            self.poll_error = err
            self.polls += 1
            dt = 0.0 if self.last is None else now - self.last
            self.last = now
            self.advance(dt)

    def advance(self, dt):
        """Counters forward by dt seconds of the current entries over self.snap (lock held)."""
        for s in self.series.values():
            s.share = 0.0
        shares = []
        for e in self.entries:
            label = "%s/%s" % (e["kind"].lower(), e["name"])
            rows = []
            for sns, svc, dep, frac in compute_shares(self.snap, e):
                if dep is None:
                    key = (sns, label, svc, "", "", "")
                    rows.append({"namespace": sns, "service": svc, "deployment": "", "track": "",
                                 "image": "", "ready": 0, "share": frac})
                else:
                    key = (sns, label, svc, meta(dep, "name"), dep_track(dep), dep_image(dep))
                    rows.append({"namespace": sns, "service": svc, "deployment": key[3],
                                 "track": key[4], "image": key[5], "ready": dep_ready(dep),
                                 "share": frac})
                self.account(key, dep is None, e["rps"] * dt * frac)
                self.series[key].share += frac
            backend = sum(r["share"] for r in rows if r["deployment"])
            if not rows:  # nothing to route to at all: the entry's requests fail
                svc = e["name"] if e["kind"] == "Service" else ""
                key = (e["namespace"], label, svc, "", "", "")
                self.account(key, True, e["rps"] * dt)
                self.series[key].share += 1.0
                rows.append({"namespace": e["namespace"], "service": key[2], "deployment": "",
                             "track": "", "image": "", "ready": 0, "share": 1.0})
            shares.append(dict(e, entry=label, backends=rows, servedShare=backend))
        self.shares = shares

    def account(self, key, no_backend, amount):
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = Series()
        s.req_acc += amount
        n = int(math.floor(s.req_acc + 1e-9))
        if n <= 0:
            return
        s.req_acc -= n
        if no_backend:
            s.add_code("503", n)
            return
        conf = self.image_conf(key[5])
        s.err_acc += n * conf["errorRate"]
        errs = min(n, int(math.floor(s.err_acc + 1e-9)))
        s.err_acc -= errs
        if errs:
            s.add_code("500", errs)
        if n - errs:
            s.add_code("200", n - errs)
        m = min(n, MAX_DRAWS)
        for i in range(m):
            weight = (i + 1) * n // m - i * n // m
            ms = self.rng.gauss(conf["latencyMs"], conf["jitterMs"]) if conf["jitterMs"] > 0 \
                else conf["latencyMs"]
            s.observe(max(1.0, ms) / 1000.0, weight)

    # outputs
    def metrics(self):
        out = []
        with self.lock:
            items = sorted(self.series.items())
            out.append("# HELP trafficsim_requests_total Simulated requests by backend and code.")
            out.append("# TYPE trafficsim_requests_total counter")
            for key, s in items:
                for code in sorted(s.codes):
                    out.append("trafficsim_requests_total%s %d"
                               % (labelstr(key, [("code", code)]), s.codes[code]))
            out.append("# HELP trafficsim_request_duration_seconds Simulated request latency.")
            out.append("# TYPE trafficsim_request_duration_seconds histogram")
            for key, s in items:
                if key[3] == "":
                    continue
                cum = 0
                for i, b in enumerate(BUCKETS + (math.inf,)):
                    cum += s.buckets[i]
                    le = "+Inf" if math.isinf(b) else repr(b)
                    out.append("trafficsim_request_duration_seconds_bucket%s %d"
                               % (labelstr(key, [("le", le)]), cum))
                out.append("trafficsim_request_duration_seconds_sum%s %s"
                           % (labelstr(key), fmt_num(s.sum)))
                out.append("trafficsim_request_duration_seconds_count%s %d"
                           % (labelstr(key), s.count))
            out.append("# HELP trafficsim_backend_share Current share of the entry's requests.")
            out.append("# TYPE trafficsim_backend_share gauge")
            for key, s in items:
                out.append("trafficsim_backend_share%s %s" % (labelstr(key), fmt_num(s.share)))
            out.append("# HELP trafficsim_polls_total Polls of the Kubernetes API.")
            out.append("# TYPE trafficsim_polls_total counter")
            out.append("trafficsim_polls_total %d" % self.polls)
        return "\n".join(out) + "\n"

    def state(self):
        with self.lock:
            totals = []
            for key, s in sorted(self.series.items()):
                totals.append(dict(zip(LABELS, key), codes=dict(s.codes), count=s.count,
                                   sum=s.sum))
            return {"entries": self.shares, "images": {k: self.image_conf(k) for k in self.images},
                    "polls": self.polls, "pollError": self.poll_error, "totals": totals}

    def smoke(self, ns, svc_name):
        """(status, body) of one smoke request; reads the cluster live."""
        q = urllib.parse.quote
        svc = self.kube.get("/api/v1/namespaces/%s/services/%s"
                            % (q(ns, safe=""), q(svc_name, safe="")))
        if svc is None:
            return 404, {"status": "unknown service", "namespace": ns, "service": svc_name}
        deps = self.kube.items("/apis/apps/v1/namespaces/%s/deployments" % q(ns, safe=""))
        backends = [(d, r) for d, r in select_backends(svc, deps) if r > 0]
        if not backends:
            return 503, {"status": "no backend"}
        with self.lock:
            x = self.rng.uniform(0, sum(r for _, r in backends))
            chosen = backends[-1][0]
            for d, r in backends:
                if x < r:
                    chosen = d
                    break
                x -= r
            image = dep_image(chosen)
            status = self.image_conf(image)["smokeStatus"]
        return status, {"status": "ok" if status < 400 else "error", "image": image,
                        "deployment": meta(chosen, "name")}


# -- HTTP --------------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    server_version = "trafficsim/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json"):
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body, indent=None, sort_keys=True) + "\n"
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest("invalid JSON: %s" % e)

    def handle_any(self):
        sim = self.server.sim
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path.startswith("/smoke/"):
                if self.command == "POST":
                    n = int(self.headers.get("Content-Length") or 0)
                    if n > 0:
                        self.rfile.read(n)
                parts = [urllib.parse.unquote(p) for p in path[len("/smoke/"):].split("/")]
                if len(parts) < 2 or not parts[0] or not parts[1]:
                    return self.send(404, {"status": "use /smoke/<namespace>/<service>[/...]"})
                status, body = sim.smoke(parts[0], parts[1])
                return self.send(status, body)
            if self.command == "POST" and path == "/_trafficsim/entries":
                return self.send(200, sim.set_entries(self.read_json()))
            if self.command == "POST" and path == "/_trafficsim/images":
                return self.send(200, sim.set_images(self.read_json()))
            if self.command in ("GET", "HEAD"):
                if path == "/metrics":
                    return self.send(200, sim.metrics(), "text/plain; version=0.0.4; charset=utf-8")
                if path == "/_trafficsim/state":
                    return self.send(200, sim.state())
                if path == "/_trafficsim/entries":
                    with sim.lock:
                        return self.send(200, {"entries": list(sim.entries)})
                if path == "/_trafficsim/images":
                    with sim.lock:
                        return self.send(200, {k: sim.image_conf(k) for k in sim.images})
                if path in ("/", "/healthz"):
                    return self.send(200, {"status": "ok"})
            if path.startswith("/_trafficsim/") or path == "/metrics":
                return self.send(405, {"error": "method %s not allowed on %s"
                                                % (self.command, path)})
            return self.send(404, {"error": "not found: %s" % path})
        except BadRequest as e:
            return self.send(400, {"error": str(e)})
        except Exception as e:  # the API server failed: say so
            log("%s %s: %s" % (self.command, path, e))
            return self.send(502, {"error": str(e)})

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = handle_any


def main(argv=None):
    p = argparse.ArgumentParser(prog="trafficsim", description=__doc__.split("\n")[0])
    p.add_argument("--kubeconfig", help="kubeconfig (JSON, as kubesim writes it)")
    p.add_argument("--server", help="API server URL (overrides the kubeconfig)")
    p.add_argument("--token", help="bearer token (overrides the kubeconfig)")
    p.add_argument("--ca", help="CA bundle file, PEM (overrides the kubeconfig)")
    p.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    p.add_argument("--tick", type=float, default=0.25, help="seconds between polls (default 0.25)")
    p.add_argument("--seed", type=int, default=None, help="random seed (latencies, smoke picks)")
    args = p.parse_args(argv)
    if not args.tick > 0:
        p.error("--tick must be > 0")
    sim = Sim(KubeClient.from_args(args), tick=args.tick, seed=args.seed)
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.daemon_threads = True
    httpd.sim = sim
    loop = threading.Thread(target=sim.run, name="sim", daemon=True)
    loop.start()

    def on_signal(signum, frame):
        sim.stop_event.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stdout.write("ready http://127.0.0.1:%d\n" % httpd.server_address[1])
    sys.stdout.flush()
    httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()
    loop.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
