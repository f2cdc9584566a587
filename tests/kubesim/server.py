"""kubesim HTTP server (A1): TLS, bearer-token auth, the request log, fault injection and
latency, /version and health endpoints, control endpoints, and dispatch to the resource API.

Modules of the server side (A1):
  * kubesim.py     -- command line, kubeconfig, `ready <url>`, SIGTERM.
  * server.py      -- this module: KubeSim (socket, TLS material, store, resource API),
                      Handler (one HTTP/1.1 keep-alive connection), ApiError and the Status
                      constructors worded like kube-apiserver's.
  * resources.py   -- object semantics: routing, create/get/list/update/patch/delete/
                      deletecollection/watch, paging, resourceVersion rules, Tables, dryRun.
  * store.py       -- objects, the one resourceVersion counter, the bounded event history.
  * controllers.py -- Deployment/Job status, garbage collector, namespace and CRD cleanup.
  * kprotobuf.py   -- decoding of the protobuf bodies kubectl's `create` generators send.

Authentication and authorization (rbac.py): with --token every request except /_kubesim/*
needs `Authorization: Bearer <token>` (a --token, named or superuser, or a ServiceAccount token
from `kubectl create token`); anything else is 401 {"kind":"Status",...,"reason":
"Unauthorized","code":401}, also for /version and /healthz (as a server with anonymous auth
disabled). Then impersonation headers, then the authorizer (system:masters, RBAC): a refusal is
the real server's 403. The request log records the user of each request. With --client-cert-auth
(needs --tls) the server also asks for a client certificate and verifies it against its CA; a
verified certificate authenticates the request as the token does, and a request with neither is
401. A certificate signed by another CA fails the TLS handshake (kube-apiserver would answer 401).
TLS: a CA and a server certificate (127.0.0.1, localhost) are made with the openssl CLI at start;
ALPN offers http/1.1 only; the handshake runs in the connection's thread.

Known differences from a real kube-apiserver 1.32 (each refused loudly, never half-done):
  * server-side apply (application/apply-patch+yaml) reads JSON bodies only (kubectl's are);
    a YAML-only body -> 415 saying so. What else of field management is approximated is listed
    in fieldmanager.py and docs/kubesim.md.
  * responses are JSON only: an Accept that excludes JSON (protobuf-only, YAML) -> 406; request
    bodies are JSON, or protobuf for the kinds in kprotobuf.TOP; YAML bodies -> 415.
  * no kubelet/scheduler: Pods stay Pending and are deleted at once; no ReplicaSets or Pods
    are created for Deployments and Jobs (their status is simulated by controllers.py).
  * watch bookmarks come every --bookmark-interval seconds (default 60) rather than at the
    real server's jittered minute.

Orderings (all off by default; CLI flags, KubeSim keyword arguments, and POST /_kubesim/orderings
at run time): a real kube-apiserver delivers a watch event some milliseconds after the write's
response (etcd watch -> cacher -> watchers) and answers concurrent requests on different
connections in any order. ``watch_delay_ms`` + ``watch_jitter_ms``: each watch event is delivered
no earlier than its commit time + delay + uniform(0, jitter) ms, and never before the writing
request's response was sent; events on one watch keep their order (resources.watch).
``request_jitter_ms``: each API request waits uniform(0, jitter) ms after it was read and
authenticated, before it is processed, so concurrent requests (also two writes to the same
object) are processed in random order. ``seed`` seeds both draws (random when not given).
"""

import datetime
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import store as kstore

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T17:59:15Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
class ApiError(Exception):
    """An error answered as a meta/v1 Status object."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason}
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st


def gr_string(rtype):
    """'deployments.apps' or 'configmaps' as kube-apiserver's messages name a resource."""
    return rtype.resource + ("." + rtype.group if rtype.group else "")


def kind_string(rtype):
    """'Deployment.apps' or 'ConfigMap' as kube-apiserver's Invalid messages name a kind."""
    return rtype.kind + ("." + rtype.group if rtype.group else "")


def _details(rtype, name, kind=None, **extra):
    d = {}
    if name:
        d["name"] = name
    if rtype.group:
        d["group"] = rtype.group
    d["kind"] = kind or rtype.resource
    d.update(extra)
    return d


def err_not_found(rtype, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (gr_string(rtype), name),
                    _details(rtype, name))


def err_already_exists(rtype, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (gr_string(rtype), name),
                    _details(rtype, name))


def err_conflict(rtype, name, why="the object has been modified; please apply your changes "
                                  "to the latest version and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (gr_string(rtype), name, why), _details(rtype, name))


def cause_string(c):
    field = c.get("field")
    return ("%s: %s" % (field, c.get("message", ""))) if field else c.get("message", "")


def err_invalid(rtype, name, causes):
    msgs = [cause_string(c) for c in causes]
    agg = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind_string(rtype), name, agg),
                    _details(rtype, name, kind=rtype.kind, causes=causes))


def err_bad_request(message):
    return ApiError(400, "BadRequest", message)


def err_method_not_allowed():
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource")


def err_not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    {})


def err_gone(message):
    return ApiError(410, "Expired", message)


def err_unsupported_media(accepted):
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: " + ", ".join(accepted))


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# The identity in the client certificate that --client-cert-auth makes (CN = user, O = group).
CLIENT_CERT_USER = "kubesim-user"
CLIENT_CERT_GROUP = "system:masters"


# ---------------------------------------------------------------------------------------------
# TLS material
# ---------------------------------------------------------------------------------------------
def make_tls_material(directory):
    """Generate a CA and a server certificate for 127.0.0.1/localhost with the openssl CLI.
    Returns (ca_pem_bytes, cert_path, key_path)."""
    def run(*args):
        r = subprocess.run(["openssl"] + list(args), cwd=directory, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.strip()))

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "3650", "-subj", "/CN=kubesim-ca", "-keyout", "ca.key", "-out", "ca.crt",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=kubesim", "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-out", "server.crt", "-extfile", "server.ext")
    with open(os.path.join(directory, "ca.crt"), "rb") as f:
        ca_pem = f.read()
    return ca_pem, os.path.join(directory, "server.crt"), os.path.join(directory, "server.key")


def make_client_certificate(directory, user, group):
    """Sign a client certificate (CN = user, O = group, clientAuth) with the CA that
    make_tls_material left in ``directory``, as kube-apiserver's x509 authenticator reads them.
    Returns (cert_pem_bytes, key_pem_bytes)."""
    def run(*args):
        r = subprocess.run(["openssl"] + list(args), cwd=directory, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.strip()))

    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/O=%s/CN=%s" % (group, user), "-keyout", "client.key", "-out", "client.csr")
    with open(os.path.join(directory, "client.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\n")
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-out", "client.crt", "-extfile", "client.ext")
    with open(os.path.join(directory, "client.crt"), "rb") as f:
        cert = f.read()
    with open(os.path.join(directory, "client.key"), "rb") as f:
        key = f.read()
    return cert, key


# ---------------------------------------------------------------------------------------------
# the server
# ---------------------------------------------------------------------------------------------
class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, sim):
        self.sim = sim
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # TLS handshake happens here, in the request's own thread, so a slow client cannot stall
        # the accept loop.
        if self.sim.ssl_context is not None and self.sim.client_cert_auth:
            request = self._handshake_with_client_certificate(request)
            if request is None:
                return
        elif self.sim.ssl_context is not None:
            try:
                request.settimeout(10)
                request = self.sim.ssl_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                try:
                    request.close()
                except OSError:
                    pass
                return
        self.sim.track_connection(request, True)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            self.sim.track_connection(request, False)

    def _handshake_with_client_certificate(self, request):
        """The handshake under --client-cert-auth; returns the TLS socket, or None when it failed.
        On a failure (say a certificate from another CA) the server sends FIN after its alert and
        reads what the client already sent before closing, so that the alert reaches the client
        instead of a reset: with TLS 1.3 a client learns that its certificate was refused only
        after it has sent its request."""
        request.settimeout(10)
        tls = self.sim.ssl_context.wrap_socket(request, server_side=True,
                                               do_handshake_on_connect=False)
        try:
            tls.do_handshake()
            tls.settimeout(None)
            return tls
        except (ssl.SSLError, OSError):
            pass
        try:
            tls.shutdown(socket.SHUT_WR)  # drops the TLS layer: what follows is plain TCP
            tls.settimeout(1)
            while tls.recv(65536):
                pass
        except OSError:
            pass
        try:
            tls.close()
        except OSError:
            pass
        return None

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class KubeSim:
    """The whole emulator: HTTP(S) server on 127.0.0.1, store, registry, controllers."""

    def __init__(self, port=0, tls=False, token=None, watch_history=1000,
                 deployment_ready_delay=0.0, bookmark_interval=60.0, client_cert_auth=False,
                 watch_delay_ms=0.0, watch_jitter_ms=0.0, request_jitter_ms=0.0, seed=None,
                 tokens=(), admission_plugins=()):
        """token: a superuser's bearer token (the kubeconfig's); tokens: more (token, UserInfo)
        pairs (rbac.parse_token_flag); admission_plugins: names from rbac.ADMISSION_PLUGINS."""
        if client_cert_auth and not tls:
            raise ValueError("client certificate authentication needs TLS")
        import rbac as krbac
        # orderings (see the head comment); guarded by order_lock
        self.order_lock = threading.Lock()
        self.watch_delay_ms = 0.0
        self.watch_jitter_ms = 0.0
        self.request_jitter_ms = 0.0
        self.seed = None
        self.token = token
        token_map = dict(tokens)
        if token is not None:
            token_map[token] = krbac.UserInfo(krbac.SUPERUSER_NAME, [krbac.MASTERS])
        for p in admission_plugins:
            if p not in krbac.ADMISSION_PLUGINS:
                raise ValueError("unknown admission plugin %r (kubesim has: %s)"
                                 % (p, ", ".join(krbac.ADMISSION_PLUGINS)))
        self.client_cert_auth = client_cert_auth
        self.auth = krbac.Auth(self, token_map, admission_plugins)
        self.tls = tls
        self.client_cert_pem = None  # the client certificate and key signed by our CA
        self.client_key_pem = None
        self.bookmark_interval = bookmark_interval
        self.deployment_ready_delay = deployment_ready_delay
        self.tmpdir = tempfile.mkdtemp(prefix="kubesim-")
        self.ssl_context = None
        self.ca_pem = None
        if tls:
            self.ca_pem, cert, key = make_tls_material(self.tmpdir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cert, key)
            ctx.set_alpn_protocols(["http/1.1"])
            if client_cert_auth:
                # Ask for a client certificate and verify it against our CA when one is sent.
                # A certificate that does not verify fails the handshake (kube-apiserver would
                # finish it and answer 401); no certificate at all is left to authenticate().
                self.client_cert_pem, self.client_key_pem = make_client_certificate(
                    self.tmpdir, CLIENT_CERT_USER, CLIENT_CERT_GROUP)
                ctx.verify_mode = ssl.CERT_OPTIONAL
                ctx.load_verify_locations(cadata=self.ca_pem.decode())
            self.ssl_context = ctx
        self.store = kstore.Store(history=watch_history)
        self.set_orderings(watch_delay_ms=watch_delay_ms, watch_jitter_ms=watch_jitter_ms,
                           request_jitter_ms=request_jitter_ms,
                           seed=seed if seed is not None else random.SystemRandom().randrange(1 << 31))
        self.auth.attach(self.store)
        self.stopping = threading.Event()
        self.log_lock = threading.Lock()
        self.request_log = []
        self.faults = []
        self.latency = None
        self.conn_lock = threading.Lock()
        self.connections = set()
        self.watch_generation = 0  # bumped by drop-watches
        self.api = None
        try:
            import resources as kresources
        except ImportError as e:  # pragma: no cover - only while the tree is being built
            sys.stderr.write("kubesim: resource API unavailable: %s\n" % e)
            kresources = None
        if kresources is not None:
            self.api = kresources.ResourceAPI(self)
        self.httpd = _HTTPServer(("127.0.0.1", port), Handler, self)
        self.port = self.httpd.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.thread = None

    def start(self):
        if self.api is not None:
            self.api.start()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="kubesim-http", daemon=True)
        self.thread.start()

    def shutdown(self):
        self.stopping.set()
        if self.api is not None:
            self.api.stop()
        self.store.wake()
        self.httpd.shutdown()
        self.httpd.server_close()
        with self.conn_lock:
            conns = list(self.connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def track_connection(self, conn, add):
        with self.conn_lock:
            if add:
                self.connections.add(conn)
            else:
                self.connections.discard(conn)

    # -- request log, faults, latency -------------------------------------------------------
    def log_request(self, entry):
        with self.log_lock:
            self.request_log.append(entry)
            if len(self.request_log) > 100000:
                del self.request_log[:50000]

    def take_fault(self, verb, path):
        with self.log_lock:
            for f in self.faults:
                if f["count"] <= 0:
                    continue
                if f["verb"] not in ("*", verb):
                    continue
                if f["path"] and not re.search(f["path"], path):
                    continue
                f["count"] -= 1
                self.faults = [x for x in self.faults if x["count"] > 0]
                return dict(f)
        return None

    def latency_for(self, verb, path):
        with self.log_lock:
            lat = self.latency
        if not lat or lat["seconds"] <= 0:
            return 0
        if lat["verb"] not in ("*", verb):
            return 0
        if lat["path"] and not re.search(lat["path"], path):
            return 0
        return lat["seconds"]

    # -- orderings ----------------------------------------------------------------------------
    def set_orderings(self, watch_delay_ms=None, watch_jitter_ms=None, request_jitter_ms=None,
                      seed=None):
        """Change the given ordering options (None keeps one); a seed restarts both random
        sequences. Raises ValueError for a negative value."""
        vals = {"watch_delay_ms": watch_delay_ms, "watch_jitter_ms": watch_jitter_ms,
                "request_jitter_ms": request_jitter_ms}
        for k, v in vals.items():
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
                raise ValueError("%s must be a number >= 0, not %r" % (k, v))
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError("seed must be an integer, not %r" % (seed,))
        with self.order_lock:
            for k, v in vals.items():
                if v is not None:
                    setattr(self, k, float(v))
            if seed is not None:
                self.seed = seed
                self.request_rng = random.Random("%d/request" % seed)
                self.watch_rng = random.Random("%d/watch" % seed)
        self.store.wake()  # waiting watchers re-read the delay

    def orderings(self):
        with self.order_lock:
            return {"watchDelayMs": self.watch_delay_ms, "watchJitterMs": self.watch_jitter_ms,
                    "requestJitterMs": self.request_jitter_ms, "seed": self.seed}

    def watch_delaying(self):
        """Whether watch events are delayed (and held until the write's response is sent)."""
        return self.watch_delay_ms > 0 or self.watch_jitter_ms > 0

    def watch_event_due(self, commit_time):
        """The earliest delivery time (time.monotonic()) of an event committed at
        ``commit_time``: commit + delay + uniform(0, jitter) ms."""
        with self.order_lock:
            j = self.watch_rng.uniform(0, self.watch_jitter_ms) if self.watch_jitter_ms > 0 else 0.0
            return commit_time + (self.watch_delay_ms + j) / 1000.0

    def request_wait(self):
        """Seconds the next request waits before it is processed: uniform(0, request jitter)."""
        with self.order_lock:
            if self.request_jitter_ms <= 0:
                return 0.0
            return self.request_rng.uniform(0, self.request_jitter_ms) / 1000.0

    def drop_watches(self):
        with self.store.lock:
            self.watch_generation += 1
            self.store.cond.notify_all()


FAULT_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}

FAULT_MESSAGES = {
    409: "Operation cannot be fulfilled: the object has been modified; please apply your changes "
         "to the latest version and try again (kubesim injected fault)",
    429: "Too many requests, please try again later. (kubesim injected fault)",
    500: "Internal error occurred: kubesim injected fault",
    503: "the server is currently unable to handle the request (kubesim injected fault)",
}


class Handler(BaseHTTPRequestHandler):
    """One HTTP/1.1 connection; each request is authenticated, logged, possibly delayed or
    failed by an injected fault, then dispatched."""

    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    sys_version = ""

    def log_message(self, format, *args):  # quiet: the request log is the record
        pass

    def send_response(self, code, message=None):
        """Like BaseHTTPRequestHandler's, without a Server header (kube-apiserver sends none)."""
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    # -- plumbing --------------------------------------------------------------------------
    @property
    def sim(self):
        return self.server.sim

    def read_body(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        if length:
            return self.rfile.read(int(length))
        return b""

    def send_raw(self, code, content_type, body, headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if not any(k.lower() == "cache-control" for k in (headers or {})):
            self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", self._audit_id)
        headers = dict(headers or {})
        if self.always_warnings:
            given = headers.get("Warning") or []
            given = given if isinstance(given, list) else [given]
            headers["Warning"] = [w for w in self.always_warnings if w not in given] + given
        for k, v in headers.items():
            if isinstance(v, list):
                for item in v:
                    self.send_header(k, item)
            else:
                self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status = code

    def send_json(self, code, obj, headers=None):
        self.send_raw(code, "application/json", json.dumps(obj, separators=(",", ":")), headers)

    def send_error_status(self, err):
        self.send_json(err.code, err.status(), err.headers)

    # -- entry points ----------------------------------------------------------------------
    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_OPTIONS(self):
        self.dispatch()

    def dispatch(self):
        self._status = None
        self.always_warnings = []  # Warning header values every response to this request carries
        self._audit_id = "%032x" % int.from_bytes(os.urandom(16), "big")
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self.req_path = path
        self.req_query_string = parsed.query
        self.query = {k: v[-1] for k, v in query.items()}
        if path.startswith("/_kubesim/"):
            body = self.read_body()
            self.handle_control(path, body)
            return
        verb = self.sim.api.verb_for(self.command, path, self.query) if self.sim.api else \
            {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
             "DELETE": "delete"}.get(self.command, self.command.lower())
        self.k8s_verb = verb
        self._started = time.time()
        self._logged = False
        self.user = None
        # with a watch delay, this request's writes reach no watch before its response is sent
        holding = self.sim.watch_delaying()
        if holding:
            self.sim.store.hold_begin()
        try:
            body = self.read_body()
            self.authorize(path, verb, self.authenticate())
            wait = self.sim.request_wait()  # request jitter: concurrent requests in any order
            if wait > 0:
                time.sleep(wait)
            delay = self.sim.latency_for(verb, path)
            if delay > 0:
                time.sleep(delay)
            fault = self.sim.take_fault(verb, path)
            if fault is not None:
                self.answer_fault(fault)
            else:
                self.route(path, body)
        except ApiError as e:
            if self._status is None:
                self.send_error_status(e)
        except (ConnectionError, BrokenPipeError, ssl.SSLError, TimeoutError):
            self.close_connection = True
            if self._status is None:
                self._status = 499
        except Exception as e:  # an emulator bug: say so loudly, as a 500 Status
            import traceback
            traceback.print_exc(file=sys.stderr)
            if self._status is None:
                self.send_error_status(ApiError(500, "InternalError",
                                                "Internal error occurred: kubesim: %s: %s"
                                                % (type(e).__name__, e)))
            else:
                self.close_connection = True
        finally:
            if holding:
                self.sim.store.hold_end()
            self.log_now()

    def log_now(self):
        """Append this request to the request log (once; a watch logs itself when its stream
        starts, so open watches are visible in the log)."""
        if self._logged:
            return
        self._logged = True
        self.sim.log_request({
            "verb": self.k8s_verb, "method": self.command, "path": self.req_path,
            "query": self.req_query_string, "status": self._status or 0,
            "userAgent": self.headers.get("User-Agent", ""),
            "user": self.user.name if self.user is not None else "",
            "time": datetime.datetime.fromtimestamp(self._started, datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        })

    def bearer_token(self):
        parts = self.headers.get("Authorization", "").split(None, 1)
        if len(parts) == 2 and parts[0].lower() == "bearer":
            return parts[1].strip()
        return None

    def authenticate(self):
        """The request's rbac.UserInfo, or 401: a verified client certificate (CN user, O
        groups), then a bearer token (--token or a ServiceAccount token). Without any
        authentication configured a ServiceAccount token still identifies its account and
        anything else is system:admin in system:masters."""
        import rbac as krbac
        auth = self.sim.auth
        if self.sim.client_cert_auth:
            cn, orgs = self.client_certificate_identity()
            if cn is not None:
                return krbac.UserInfo(cn, orgs).with_authenticated()
        tok = self.bearer_token()
        user = auth.authenticate_token(tok) if tok else None
        if user is not None:
            return user
        if not auth.enabled:
            return krbac.UserInfo("system:admin", [krbac.MASTERS]).with_authenticated()
        raise ApiError(401, "Unauthorized", "Unauthorized")

    def authorize(self, path, verb, user):
        """Impersonation, then the authorizer (system:masters, RBAC); 403 when refused."""
        import rbac as krbac
        auth = self.sim.auth
        self.user = user
        self.user = krbac.impersonate(auth, user, self.headers)
        attrs = krbac.request_attributes(self.sim.api, self.user, self.command, path,
                                         self.query, verb)
        ok, reason = auth.authorizer.authorize(attrs)
        if not ok:
            raise krbac.forbidden(attrs, reason)

    def client_certificate_identity(self):
        """(CN, [O, ...]) of the client certificate the handshake verified, or (None, [])."""
        getpeercert = getattr(self.connection, "getpeercert", None)
        cert = getpeercert() if getpeercert is not None else None
        if not cert:
            return None, []
        cn, orgs = None, []
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    cn = value
                elif key == "organizationName":
                    orgs.append(value)
        return cn, orgs

    def client_certificate_user(self):
        """The CN of the client certificate the handshake verified, or None without one."""
        return self.client_certificate_identity()[0]

    def answer_fault(self, fault):
        code = int(fault.get("status", 500))
        reason = FAULT_REASONS.get(code, "InternalError" if code >= 500 else "BadRequest")
        message = fault.get("message") or FAULT_MESSAGES.get(code, "kubesim injected fault (%d)" % code)
        headers = {}
        details = None
        if code == 409 and not fault.get("message") and self.sim.api is not None:
            # word it like a real resourceVersion conflict on this object
            try:
                r = self.sim.api.parse(self.req_path)
                rtype = r and self.sim.api.registry.lookup(r.group, r.version, r.resource)
            except ApiError:
                rtype = None
            if rtype is not None and r.name:
                e = err_conflict(rtype, r.name)
                message, details = e.message, e.details
        if code == 429 or fault.get("retryAfter") is not None:
            ra = int(fault.get("retryAfter") or 1)
            headers["Retry-After"] = str(ra)
            details = {"causes": [{"reason": "UnexpectedServerResponse", "message": message}],
                       "retryAfterSeconds": ra}
        raise ApiError(code, reason, message, details, headers)

    # -- routing ---------------------------------------------------------------------------
    def route(self, path, body):
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            if self.command not in ("GET", "HEAD"):
                raise err_method_not_allowed()
            if "verbose" in self.query:
                name = path.strip("/").split("/")[0]
                self.send_raw(200, "text/plain; charset=utf-8",
                              "[+]ping ok\n[+]etcd ok\n%s check passed\n" % name)
            else:
                self.send_raw(200, "text/plain; charset=utf-8", "ok")
            return
        if path in ("/version", "/version/"):
            if self.command not in ("GET", "HEAD"):
                raise err_method_not_allowed()
            self.send_json(200, VERSION_INFO)
            return
        if self.sim.api is None:
            raise err_not_found_path()
        self.sim.api.handle(self, path, body)

    # -- control endpoints (tests only; never authenticated, never logged) -----------------
    def handle_control(self, path, body):
        """/_kubesim/* (see the spec): POST drop-watches; POST faults {verb, path, status,
        count, retryAfter, message?} (DELETE faults clears them, an addition); POST latency
        {seconds, verb, path} (seconds 0 clears); GET|POST orderings {watchDelayMs,
        watchJitterMs, requestJitterMs, seed} (fields given are changed, answer: all four);
        GET requests / DELETE requests; POST snapshot {paths} (objects read at one instant, null
        for a missing one)."""
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            self.send_json(400, {"error": "body is not JSON"})
            return
        action = path[len("/_kubesim/"):].strip("/")
        sim = self.sim
        if action == "drop-watches" and self.command == "POST":
            sim.drop_watches()
            self.send_json(200, {"dropped": True})
        elif action == "faults" and self.command == "POST":
            if not data.get("status"):
                self.send_json(400, {"error": "status is required"})
                return
            fault = {"verb": data.get("verb", "*"), "path": data.get("path", ""),
                     "status": int(data["status"]), "count": int(data.get("count", 1)),
                     "retryAfter": data.get("retryAfter"), "message": data.get("message")}
            with sim.log_lock:
                sim.faults.append(fault)
            self.send_json(200, {"fault": fault})
        elif action == "faults" and self.command == "DELETE":
            with sim.log_lock:
                sim.faults = []
            self.send_json(200, {"faults": []})
        elif action == "latency" and self.command == "POST":
            lat = {"seconds": float(data.get("seconds", 0)), "verb": data.get("verb", "*"),
                   "path": data.get("path", "")}
            with sim.log_lock:
                sim.latency = lat if lat["seconds"] > 0 else None
            self.send_json(200, {"latency": lat})
        elif action == "orderings" and self.command == "GET":
            self.send_json(200, sim.orderings())
        elif action == "orderings" and self.command == "POST":
            names = {"watchDelayMs": "watch_delay_ms", "watchJitterMs": "watch_jitter_ms",
                     "requestJitterMs": "request_jitter_ms", "seed": "seed"}
            unknown = sorted(set(data) - set(names))
            if unknown:
                self.send_json(400, {"error": "unknown orderings field(s) %s; known: %s"
                                     % (", ".join(unknown), ", ".join(sorted(names)))})
                return
            try:
                sim.set_orderings(**{names[k]: v for k, v in data.items()})
            except ValueError as e:
                self.send_json(400, {"error": str(e)})
                return
            self.send_json(200, sim.orderings())
        elif action == "snapshot" and self.command == "POST":
            # Several namespaced objects (or lists) read at one instant, under the store's lock:
            # a test's observer reading them one GET after another can combine states that
            # never existed together. Objects are returned as stored (no version conversion).
            items = []
            with sim.store.lock:
                for p in data.get("paths") or []:
                    parts = p.split("?")[0].strip("/").split("/")
                    if parts[:2] == ["api", "v1"]:
                        group, rest = "", parts[2:]
                    elif parts[:1] == ["apis"] and len(parts) > 3:
                        group, rest = parts[1], parts[3:]
                    else:
                        rest = []
                    if len(rest) not in (3, 4) or rest[0] != "namespaces" or \
                            (group, rest[2]) == ("events.k8s.io", "events"):  # stored as core
                        self.send_json(400, {"error": "snapshot takes namespaced object or list "
                                                      "paths (not events.k8s.io), not %r" % p})
                        return
                    if len(rest) == 4:
                        items.append(sim.store.get((group, rest[2]), rest[1], rest[3]))
                    else:
                        items.append({"items": sim.store.list((group, rest[2]), rest[1])})
                body = json.dumps({"items": items})
            self.send_raw(200, "application/json", body)
        elif action == "requests" and self.command == "GET":
            with sim.log_lock:
                items = list(sim.request_log)
            self.send_json(200, {"items": items})
        elif action == "requests" and self.command == "DELETE":
            with sim.log_lock:
                sim.request_log = []
            self.send_json(200, {"items": []})
        else:
            self.send_json(404, {"error": "unknown control endpoint %s %s" % (self.command, path)})
