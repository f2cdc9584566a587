"""Shared helpers of the end-to-end tests (tests/e2e): a kubesim with the tollgate CRDs, the
tollgate operator as a process, readers for what a user observes (Deployments, Services,
HTTPRoutes, Ingresses, Releases, Rollouts, Events) and a step trace that records every distinct
observed state, so that a test can assert the exact sequence a user would see.

The operator runs as in a real cluster: manifests/install.yaml is applied, `tollgate run` gets a
kubeconfig with a `kubectl create token tollgate -n tollgate-system` token, and kubesim
authorizes its every request by install.yaml's RBAC, with the OwnerReferencesPermissionEnforcement
admission plugin on; an E2ETestCase fails when the operator got any 403 (a permission
install.yaml lacks). SUPERUSER_OPERATOR = True (or Env(superuser_operator=True)) runs it with the
superuser kubeconfig instead. Test users' kubectl (env.kubectl, env.apply) is the superuser.

    from tollgate_e2e import E2ETestCase
    class T(E2ETestCase):
        def test_x(self):
            env = self.env          # kubesim up, CRDs installed, operator running
            env.apply(YAML)          # real kubectl apply -f -
            env.wait(lambda: env.release_phase("web-1") == "Succeeded")

Timing rules (a test that failed once and passed on rerun has a bug): whatever the operator or
kubesim's controllers write (status, Deployments, Events, metrics, log lines) is awaited with
env.wait / env.wait_for_event / StepTrace.wait_for, whose deadlines are generous (60 s: they cost
nothing when things work); an assertion that something did not happen comes after
env.wait_reconciled; a StepTrace's states are read at one instant (env.observe_at_once).

Environment:
  TOLLGATE_BIN            the tollgate binary (required)
  KUBECTL_TOLLGATE_BIN    the kubectl plugin (optional: the plugin checks are skipped without it,
                          intent is then written as the annotations docs/api.md documents)
  TOLLGATE_SOURCE_DIR     the repository (kubesim, CRDs, examples)
  TOLLGATE_CRDS_DIR       default $TOLLGATE_SOURCE_DIR/crds
  TOLLGATE_EXAMPLES_DIR   default $TOLLGATE_SOURCE_DIR/manifests/examples
  TOLLGATE_E2E_FIXTURES   default tests/fixtures/e2e beside this file's repository
  TOLLGATE_E2E_ORDERINGS  "1": every Env's kubesim shows a real server's orderings
                          (REALISTIC_ORDERINGS: watch events 5 ms + up to 20 ms after the write's
                          response, requests processed after up to 10 ms, so concurrent ones in
                          any order); "WD,WJ,RJ": those milliseconds; unset, "" or "0": off. A
                          test class sets ORDERINGS (True, False or a dict) to decide for itself.
  TOLLGATE_E2E_SEED       the seed of those draws (default: random; kubesim's seed is printed
                          with the operator logs of a failed test)

Python 3 standard library only.
"""

import glob
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import Kubesim, source_dir

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOLLGATE_BIN = os.environ.get("TOLLGATE_BIN", "")
PLUGIN_BIN = os.environ.get("KUBECTL_TOLLGATE_BIN", "")
CRDS_DIR = os.environ.get("TOLLGATE_CRDS_DIR") or os.path.join(source_dir(), "crds")
EXAMPLES_DIR = (os.environ.get("TOLLGATE_EXAMPLES_DIR")
                or os.path.join(source_dir(), "manifests", "examples"))
FIXTURES_DIR = (os.environ.get("TOLLGATE_E2E_FIXTURES")
                or os.path.join(_REPO, "tests", "fixtures", "e2e"))
HTTPROUTE_CRD = os.path.join(FIXTURES_DIR, "gateway-httproute-crd.yaml")

NS = "default"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def digest(n):
    """A syntactically valid sha256 digest, different for each n."""
    return "sha256:" + ("%064x" % (0x1234567 * (n + 1)))[-64:]


def image(repo, n):
    return "%s@%s" % (repo, digest(n))


def token():
    """An intent token as the CLI makes them: an RFC 3339 time and a random suffix."""
    return "%s-%06d" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        random.randrange(1000000))


def get(obj, *path, default=None):
    """Dotted access into nested dicts/lists: get(d, "spec", "replicas")."""
    cur = obj
    for p in path:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and isinstance(p, int) and -len(cur) <= p < len(cur):
            cur = cur[p]
        else:
            return default
    return cur


def condition(obj, ctype):
    for c in get(obj, "status", "conditions", default=[]) or []:
        if c.get("type") == ctype:
            return c
    return None


class Operator:
    """One `tollgate run` process; logs to a temp file kept until the test passes."""

    def __init__(self, sim, args=(), log_dir=None, kubeconfig=None):
        """kubeconfig: the operator's (default: the sim's superuser kubeconfig)."""
        if not TOLLGATE_BIN:
            raise unittest.SkipTest("TOLLGATE_BIN is not set")
        self.sim = sim
        self.port = None  # the kernel picks it; read from the "operator started" log line
        fd, self.log_path = tempfile.mkstemp(prefix="tollgate-op-", suffix=".log", dir=log_dir)
        self.log_file = os.fdopen(fd, "wb")
        cmd = [TOLLGATE_BIN, "run", "--kubeconfig", kubeconfig or sim.kubeconfig,
               "--listen", "127.0.0.1:0", "--leader-elect", "false",
               "--log-level", "debug"] + list(args)
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        self.returncode = None
        deadline = time.monotonic() + 60
        while "reconciling rollouts" not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError("tollgate exited with %s at start:\n%s"
                                     % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise AssertionError("tollgate did not start:\n%s" % self.log())
            time.sleep(0.02)
        for line in self.log().splitlines():
            if '"operator started"' in line:
                self.port = int(json.loads(line)["port"])

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_lines(self):
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"msg": line})
        return out

    def metrics(self):
        """The /metrics text."""
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=30) as r:
            return r.read().decode()

    def metric(self, name, labels=None):
        """Sum of the samples of `name` whose labels include `labels` (a dict)."""
        import re
        total = 0.0
        for line in self.metrics().splitlines():
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if not m or m.group(1) != name:
                continue
            lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            if all(lab.get(k) == v for k, v in (labels or {}).items()):
                total += float(m.group(3))
        return total

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        """SIGKILL: no shutdown path at all, as when a node dies."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.returncode = self.proc.wait()
        self.log_file.close()
        return self.returncode

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code (SIGKILL after the timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = "killed: no exit %ss after SIGTERM" % timeout
        else:
            self.returncode = self.proc.returncode
        if not self.log_file.closed:
            self.log_file.close()
        return self.returncode


# a real kube-apiserver's orderings (docs/kubesim.md, "Orderings"), as harness.Kubesim options
REALISTIC_ORDERINGS = {"watch_delay_ms": 5, "watch_jitter_ms": 20, "request_jitter_ms": 10}


def orderings_options(orderings=None):
    """harness.Kubesim keyword arguments for ``orderings``: True (REALISTIC_ORDERINGS), False
    (off), a dict (those options), or None ($TOLLGATE_E2E_ORDERINGS decides). A seed comes from
    $TOLLGATE_E2E_SEED unless the dict has one."""
    if orderings is None:
        env = os.environ.get("TOLLGATE_E2E_ORDERINGS", "").strip()
        if env in ("", "0"):
            orderings = False
        elif env == "1":
            orderings = True
        else:
            try:
                wd, wj, rj = (float(x) for x in env.split(","))
            except ValueError:
                raise AssertionError("TOLLGATE_E2E_ORDERINGS=%r: want 1, 0 or WD,WJ,RJ "
                                     "(milliseconds)" % env)
            orderings = {"watch_delay_ms": wd, "watch_jitter_ms": wj, "request_jitter_ms": rj}
    if orderings is False:
        return {}
    opts = dict(REALISTIC_ORDERINGS if orderings is True else orderings)
    if "seed" not in opts and os.environ.get("TOLLGATE_E2E_SEED", "").strip():
        opts["seed"] = int(os.environ["TOLLGATE_E2E_SEED"])
    return opts


INSTALL_YAML = os.path.join(source_dir(), "manifests", "install.yaml")
OPERATOR_SA_NAMESPACE = "tollgate-system"
OPERATOR_SA = "tollgate"
OPERATOR_USER = "system:serviceaccount:%s:%s" % (OPERATOR_SA_NAMESPACE, OPERATOR_SA)
# kubesim's admission plugins the e2e cluster runs (those of a typical production cluster that
# change what the operator may do)
E2E_ADMISSION_PLUGINS = "OwnerReferencesPermissionEnforcement"


class DeploymentWatch:
    """Records every Deployment state (name, generation, template images) seen from now on, so
    that a test can assert that one was never created or changed."""

    def __init__(self, env):
        self.env = env
        self.seen = {}
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_flag.is_set():
            try:
                for d in self.env.deployments():
                    name = d["metadata"]["name"]
                    images = tuple(c.get("image") for c in
                                   get(d, "spec", "template", "spec", "containers", default=[]))
                    self.seen.setdefault(name, set()).add(
                        (d["metadata"].get("generation"), images))
            except Exception:  # kubesim going away at the end of a test
                pass
            self.stop_flag.wait(0.05)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)
        return self.seen


class Env:
    """A kubesim with the CRDs (and optionally the HTTPRoute CRD) and a running operator.
    ``orderings``: see orderings_options (None: $TOLLGATE_E2E_ORDERINGS decides).

    The operator runs as a real cluster runs it: manifests/install.yaml is applied (Namespace,
    ServiceAccount, ClusterRole, bindings; the Deployment in it stays podless in kubesim), a
    token of the tollgate ServiceAccount comes from `kubectl create token`, and `tollgate run`
    gets a kubeconfig with that token and the kubesim CA, so kubesim's RBAC authorizer checks
    every request against install.yaml's rules, with OwnerReferencesPermissionEnforcement on.
    superuser_operator=True runs it with the superuser kubeconfig instead (tests that need an
    operator install.yaml does not describe); test users' kubectl is always the superuser.
    """

    def __init__(self, ready_delay=0.2, gateway_api=False, operator=True, operator_args=(),
                 sim_options=None, orderings=None, superuser_operator=False):
        self.ready_delay = ready_delay
        self.sim_options = orderings_options(orderings)
        self.sim_options.update(sim_options or {})  # more keyword arguments of harness.Kubesim
        self.sim_seed = None
        self.superuser_operator = superuser_operator
        self.operator_kubeconfig = None  # the ServiceAccount's kubeconfig, once made
        self.gateway_api = gateway_api
        self.start_operator_now = operator
        self.operator_args = list(operator_args)
        self.sim = None
        self.op = None
        self.old_ops = []
        self.log_dir = tempfile.mkdtemp(prefix="tollgate-e2e-")
        self.plugin_dir = None
        self._at_once = threading.local()  # observe_at_once's snapshot, per thread
        self._at_once_paths = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        opts = dict(self.sim_options)
        if not self.superuser_operator:
            opts["extra_args"] = list(opts.get("extra_args", ())) + [
                "--enable-admission-plugins", E2E_ADMISSION_PLUGINS]
        self.sim = Kubesim(ready_delay=self.ready_delay, **opts).start()
        self.sim_seed = self.sim.seed
        crds = sorted(glob.glob(os.path.join(CRDS_DIR, "*.yaml")))
        if not crds:
            raise AssertionError("no CRDs in %s" % CRDS_DIR)
        if self.gateway_api:
            crds.append(HTTPROUTE_CRD)
        args = ["apply"]
        for f in crds:
            args += ["-f", f]
        self.kubectl(*args)
        self.kubectl("wait", "--for=condition=Established", "--timeout=20s",
                     "crd/rollouts.tollgate.io", "crd/releases.tollgate.io",
                     *(["crd/httproutes.gateway.networking.k8s.io"] if self.gateway_api else []))
        if not self.superuser_operator:
            self.install_operator_identity()
        if self.start_operator_now:
            self.start_operator()
        return self

    def install_operator_identity(self):
        """Apply manifests/install.yaml and write the kubeconfig of the tollgate
        ServiceAccount (a `kubectl create token` token, the kubesim CA) for the operator."""
        self.kubectl("apply", "-f", INSTALL_YAML)
        token = self.kubectl("create", "token", OPERATOR_SA, "-n", OPERATOR_SA_NAMESPACE,
                             "--duration", "24h").stdout.strip()
        with open(self.sim.kubeconfig) as f:
            cfg = json.load(f)
        for u in cfg["users"]:
            u["user"] = {"token": token}
        self.operator_kubeconfig = os.path.join(self.sim.tmpdir, "operator.kubeconfig")
        fd = os.open(self.operator_kubeconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f)

    def start_operator(self, args=None):
        if self.op is not None and self.op.alive():
            raise AssertionError("an operator is already running")
        if self.op is not None:
            self.old_ops.append(self.op)
        self.op = Operator(self.sim, self.operator_args if args is None else args,
                           log_dir=self.log_dir, kubeconfig=self.operator_kubeconfig)
        return self.op

    def stop(self):
        """Stops the operator (its exit code is returned) and kubesim."""
        rc = None
        if self.op is not None:
            rc = self.op.stop()
        if self.sim is not None:
            self.sim.stop(check=False)
            self.sim = None
        return rc

    def logs(self):
        out = []
        if any(self.sim_options.get(k) for k in REALISTIC_ORDERINGS):
            out.append("---- kubesim orderings: %s, seed %s ----" % (
                ", ".join("%s=%s" % (k, self.sim_options.get(k, 0)) for k in REALISTIC_ORDERINGS),
                self.sim_seed))
        for i, op in enumerate(self.old_ops + ([self.op] if self.op else [])):
            out.append("---- operator log %d (%s) ----\n%s" % (i, op.log_path, op.log()[-60000:]))
        return "\n".join(out)

    def cleanup_files(self):
        import shutil
        shutil.rmtree(self.log_dir, ignore_errors=True)
        if self.plugin_dir:
            shutil.rmtree(self.plugin_dir, ignore_errors=True)

    # -- kubectl, as a user -------------------------------------------------------------------
    def _kubectl_env(self):
        env = dict(os.environ)
        env["KUBECACHEDIR"] = os.path.join(self.sim.tmpdir, "kubecache")
        env.pop("KUBECONFIG", None)
        if PLUGIN_BIN:
            if self.plugin_dir is None:
                self.plugin_dir = tempfile.mkdtemp(prefix="tollgate-plugin-")
                os.symlink(os.path.abspath(PLUGIN_BIN),
                           os.path.join(self.plugin_dir, "kubectl-tollgate"))
            env["PATH"] = self.plugin_dir + os.pathsep + env.get("PATH", "")
        return env

    def kubectl(self, *args, input=None, check=True, timeout=60):
        cmd = ["kubectl", "--kubeconfig", self.sim.kubeconfig] + list(args)
        r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                           env=self._kubectl_env())
        if check and r.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def apply(self, yaml_text, *extra):
        return self.kubectl("apply", "-f", "-", *extra, input=yaml_text)

    def plugin(self, *args, check=True):
        """`kubectl tollgate ARGS` (needs KUBECTL_TOLLGATE_BIN)."""
        if not PLUGIN_BIN:
            raise unittest.SkipTest("KUBECTL_TOLLGATE_BIN is not set")
        # kubectl allows no flag before a plugin's name: the kubeconfig goes in $KUBECONFIG
        env = self._kubectl_env()
        env["KUBECONFIG"] = self.sim.kubeconfig
        r = subprocess.run(["kubectl", "tollgate"] + list(args), capture_output=True, text=True,
                           timeout=60, env=env)
        if check and r.returncode != 0:
            raise AssertionError("kubectl tollgate %s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def promote(self, rollout, full=False):
        """`kubectl tollgate promote` when the plugin is there, else the documented annotation."""
        if PLUGIN_BIN:
            return self.plugin("promote", rollout, *(["--full"] if full else []))
        key = "tollgate.io/promote-full" if full else "tollgate.io/promote"
        return self.kubectl("annotate", "rollout.tollgate.io", rollout,
                            "%s=%s" % (key, token()), "--overwrite")

    def abort(self, release, rollout=None):
        """`kubectl tollgate abort` when the plugin is there, else the documented annotation."""
        if PLUGIN_BIN and rollout:
            return self.plugin("abort", rollout)
        return self.kubectl("annotate", "release.tollgate.io", release,
                            "tollgate.io/abort=%s" % token(), "--overwrite")

    # -- raw reads (fast, for polling) -----------------------------------------------------
    def raw(self, path):
        snap = getattr(self._at_once, "snap", None)
        if snap is not None:
            if path in snap:
                return snap[path]
            self._at_once.missing.append(path)
        status, _, body = self.sim.request("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise AssertionError("GET %s -> %s %r" % (path, status, body))
        return body

    def rollout(self, name):
        return self.raw("/apis/tollgate.io/v1alpha1/namespaces/%s/rollouts/%s" % (NS, name))

    def release(self, name):
        return self.raw("/apis/tollgate.io/v1alpha1/namespaces/%s/releases/%s" % (NS, name))

    def deployment(self, name):
        return self.raw("/apis/apps/v1/namespaces/%s/deployments/%s" % (NS, name))

    def deployments(self):
        return self.raw("/apis/apps/v1/namespaces/%s/deployments" % NS)["items"]

    def service(self, name):
        return self.raw("/api/v1/namespaces/%s/services/%s" % (NS, name))

    def ingress(self, name):
        return self.raw("/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s" % (NS, name))

    def httproute(self, name):
        return self.raw("/apis/gateway.networking.k8s.io/v1/namespaces/%s/httproutes/%s"
                        % (NS, name))

    def events(self, involved=None, kind=None):
        items = self.raw("/api/v1/namespaces/%s/events" % NS)["items"]
        out = []
        for e in items:
            io = e.get("involvedObject") or {}
            if involved and io.get("name") != involved:
                continue
            if kind and io.get("kind") != kind:
                continue
            out.append(e)
        out.sort(key=lambda e: (e.get("firstTimestamp") or e.get("eventTime") or "",
                                e["metadata"].get("resourceVersion", "")))
        return out

    # -- projections of what a user sees -----------------------------------------------------
    def replicas(self, name):
        """(spec.replicas, readyReplicas) of a Deployment, or None if it does not exist."""
        d = self.deployment(name)
        if d is None:
            return None
        return (get(d, "spec", "replicas", default=1), get(d, "status", "readyReplicas",
                                                           default=0) or 0)

    def spec_replicas(self, name):
        d = self.deployment(name)
        return None if d is None else get(d, "spec", "replicas", default=1)

    def deployment_image(self, name, container=None):
        d = self.deployment(name)
        if d is None:
            return None
        for c in get(d, "spec", "template", "spec", "containers", default=[]):
            if container is None or c.get("name") == container:
                return c.get("image")
        return None

    def selector(self, service):
        s = self.service(service)
        return None if s is None else get(s, "spec", "selector")

    def route_weights(self, route):
        """{backendRef name: weight} over all rules of an HTTPRoute."""
        r = self.httproute(route)
        if r is None:
            return None
        out = {}
        for rule in get(r, "spec", "rules", default=[]) or []:
            for b in rule.get("backendRefs") or []:
                out[b.get("name")] = b.get("weight", 1)
        return out

    def release_phase(self, name):
        return get(self.release(name), "status", "phase")

    def rollout_phase(self, name):
        return get(self.rollout(name), "status", "phase")

    def wait_for_event(self, reason, involved=None, kind=None, type=None, timeout=60,
                       message=None):
        """Polls the Events (Events are the operator's last writes of a reconcile, written after
        the status they report) until one with `reason` (and `type`, e.g. "Warning") is there
        for `involved`/`kind`; returns the list of those Events."""
        def match():
            return [e for e in self.events(involved, kind) if e.get("reason") == reason
                    and (type is None or e.get("type") == type)]
        return self.wait(match, timeout=timeout,
                         message=message or "a %s Event %s of %s %s"
                         % (type or "", reason, kind or "", involved or "(any)"))

    def wait(self, predicate, timeout=60, message=""):
        """Polls predicate until truthy; the assertion names the last value and the logs.
        Anything the operator or kubesim's controllers write is awaited with this (or
        StepTrace.wait_for), never read once: the deadline is generous since it costs nothing
        when things work and a machine loaded by another test run is slow."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = predicate()
            if last:
                return last
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %ss waiting: %s (last value: %r)"
                                     % (timeout, message, last))
            time.sleep(0.05)

    def reconciles(self):
        """How many reconciles the running operator has finished (tollgate_reconcile_total)."""
        return self.op.metric("tollgate_reconcile_total")

    def wait_reconciled(self, before, message="a reconcile"):
        """Until the running operator has finished a reconcile since reconciles() was `before`:
        an assertion that something did *not* happen is only worth making after the operator
        has had its chance."""
        return self.wait(lambda: self.reconciles() > before, message=message)

    def observe_at_once(self, observe):
        """observe() with every raw() read it makes taken from one kubesim snapshot
        (POST /_kubesim/snapshot: all the objects at one instant). One GET after another could
        combine states that never existed together, e.g. the stable track still unready next to
        a canary already scaled down because the stable track became ready between the two
        GETs. The paths observe() reads are learnt as it reads them."""
        for _ in range(5):
            items = self.sim.control("snapshot", {"paths": self._at_once_paths})["items"] \
                if self._at_once_paths else []
            self._at_once.snap = dict(zip(self._at_once_paths, items))
            self._at_once.missing = []
            try:
                s = observe()
            finally:
                self._at_once.snap = None
            if not self._at_once.missing:
                return s
            self._at_once_paths = self._at_once_paths + [
                p for p in dict.fromkeys(self._at_once.missing) if p not in self._at_once_paths]
        raise AssertionError("observe() keeps reading new paths: %r" % self._at_once_paths)

    def trace(self, observe, interval=0.03):
        """A started StepTrace of observe() (every distinct state, in order), each state read
        at one instant (observe_at_once)."""
        return StepTrace(lambda: self.observe_at_once(observe), interval).start()

    step_trace = trace

    # -- request log --------------------------------------------------------------------------
    def operator_refusals(self):
        """The operator's requests kubesim answered 403 Forbidden (RBAC or admission)."""
        return [r for r in self.sim.request_log()
                if r.get("userAgent", "").startswith("tollgate") and r.get("status") == 403]

    def operator_writes(self, include_events=False):
        out = []
        for r in self.sim.request_log():
            if not r.get("userAgent", "").startswith("tollgate"):
                continue
            if r.get("method") not in WRITE_METHODS:
                continue
            if not include_events and "/events" in r.get("path", ""):
                continue
            out.append(r)
        return out


class StepTrace:
    """Polls observe() in a thread and records each distinct state (consecutive duplicates are
    collapsed), so a test asserts the whole sequence a user could observe.

    Env.trace() makes observe() read everything at one instant (Env.observe_at_once)."""

    def __init__(self, observe, interval=0.03):
        self.observe = observe
        self.interval = interval
        self.states = []
        self.times = []
        self.error = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._record()
        self._thread.start()
        return self

    def _record(self):
        s = self.observe()
        with self._lock:
            if not self.states or self.states[-1] != s:
                self.states.append(s)
                self.times.append(time.monotonic())
        return s

    def _run(self):
        while not self._stop.is_set():
            try:
                self._record()
            except Exception as e:  # reported by stop()/wait_for()
                self.error = e
                return
            self._stop.wait(self.interval)

    def last(self):
        with self._lock:
            return self.states[-1]

    def wait_for(self, predicate, timeout=60, message=""):
        """Waits until the latest state satisfies predicate; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            if self.error:
                raise self.error
            s = self.last()
            if predicate(s):
                return s
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %ss waiting: %s\nstates so far:\n%s"
                                     % (timeout, message, self.format()))
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        if self.error:
            raise self.error
        return self.states

    def format(self):
        with self._lock:
            t0 = self.times[0] if self.times else 0
            return "\n".join("  +%.2fs %r" % (t - t0, s) for t, s in zip(self.times, self.states))


def dedupe(states, key=lambda s: s):
    """states projected with key, consecutive duplicates collapsed."""
    out = []
    for s in states:
        k = key(s)
        if not out or out[-1] != k:
            out.append(k)
    return out


def is_subsequence(needle, haystack):
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needle)


class WalkTestCase(unittest.TestCase):
    """One kubesim, one operator and one scenario (cls.walk, run in setUpClass) for the whole
    class; each test method asserts one property of what was recorded. A failing walk fails
    every test with its error; on any failure the operator logs are printed."""

    READY_DELAY = 0.2
    GATEWAY_API = False
    ORDERINGS = None  # kubesim's orderings: see orderings_options
    SUPERUSER_OPERATOR = False  # True: the operator runs as the superuser, not install.yaml's SA
    maxDiff = None
    env = None
    walk_error = None

    @classmethod
    def walk(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.env = Env(ready_delay=cls.READY_DELAY, gateway_api=cls.GATEWAY_API,
                      orderings=cls.ORDERINGS, superuser_operator=cls.SUPERUSER_OPERATOR)
        try:
            cls.env.start()
            cls.walk()
        except unittest.SkipTest:
            cls.env.stop()
            raise
        except BaseException as e:
            import traceback
            cls.walk_error = "".join(traceback.format_exception(e))

    @classmethod
    def tearDownClass(cls):
        if cls.env is not None:
            cls.env.stop()
            cls.env.cleanup_files()

    def setUp(self):
        if self.walk_error:
            self.fail("the scenario failed:\n" + self.walk_error)

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before and self.env is not None \
                and not getattr(type(self), "_logs_dumped", False) \
                and os.environ.get("TOLLGATE_E2E_QUIET_LOGS") != "1":
            type(self)._logs_dumped = True
            sys.stderr.write("\n==== %s failed; operator logs follow ====\n" % self.id())
            sys.stderr.write(self.env.logs() + "\n")
        return out


class E2ETestCase(unittest.TestCase):
    """Each test gets its own kubesim and operator (self.env); on a failure or error the operator
    logs are printed to stderr. Class attributes tune the Env."""

    READY_DELAY = 0.2
    GATEWAY_API = False
    ORDERINGS = None  # kubesim's orderings: see orderings_options
    START_OPERATOR = True
    SUPERUSER_OPERATOR = False  # True: the operator runs as the superuser, not install.yaml's SA
    maxDiff = None

    def setUp(self):
        self.env = Env(ready_delay=self.READY_DELAY, gateway_api=self.GATEWAY_API,
                       orderings=self.ORDERINGS, operator=self.START_OPERATOR,
                       superuser_operator=self.SUPERUSER_OPERATOR)
        self._env_stopped = False
        try:
            self.env.start()
        except BaseException:
            self._dump_logs()
            self.env.stop()
            raise
        self.addCleanup(self._stop_env)
        self.addCleanup(self._assert_operator_never_refused)  # runs first, kubesim still up

    def _assert_operator_never_refused(self):
        if self._env_stopped or self.env.sim is None:
            return
        refused = self.env.operator_refusals()
        self.assertEqual(refused, [], "kubesim refused the operator's requests (403): a "
                         "permission manifests/install.yaml lacks")

    def _stop_env(self):
        if not self._env_stopped:
            self._env_stopped = True
            self.env.stop()

    def stop_operator_cleanly(self):
        """SIGTERM the operator and assert exit code 0 (the sanitized build reports leaks)."""
        rc = self.env.op.stop()
        self.assertEqual(rc, 0, "tollgate did not exit cleanly:\n" + self.env.op.log()[-20000:])

    def _dump_logs(self):
        try:
            sys.stderr.write("\n" + self.env.logs() + "\n")
        except Exception:
            pass

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors) + \
            len(getattr(result, "unexpectedSuccesses", []))
        out = super().run(result)
        after = len(result.failures) + len(result.errors) + \
            len(getattr(result, "unexpectedSuccesses", []))
        env = getattr(self, "env", None)
        if env is not None:
            if after > before and os.environ.get("TOLLGATE_E2E_QUIET_LOGS") != "1":
                sys.stderr.write("\n==== %s failed; operator logs follow ====\n" % self.id())
                self._dump_logs()
            env.cleanup_files()
        return out

    # -- manifest builders ---------------------------------------------------------------------
    @staticmethod
    def release_yaml(name, rollout, version, img, extra=""):
        return ("apiVersion: tollgate.io/v1alpha1\nkind: Release\nmetadata: {name: %s}\n"
                "spec:\n  rollout: %s\n  version: %s\n  artifact: {image: \"%s\"}\n%s"
                % (name, rollout, version, img, extra))


def rollout_yaml(name, strategy, replicas=10, template_annotations=None, extra=""):
    """A Rollout with an inline template (labels app=<name>, one container <name>) and the given
    strategy block (YAML text indented under `strategy:`)."""
    ann = ""
    if template_annotations:
        ann = "      annotations: {%s}\n" % ", ".join('"%s": "%s"' % kv for kv in
                                                  sorted(template_annotations.items()))
    return ("apiVersion: tollgate.io/v1alpha1\nkind: Rollout\nmetadata: {name: %(n)s}\n"
            "spec:\n  replicas: %(r)d\n  template:\n    metadata:\n      labels: {app: %(n)s}\n"
            "%(ann)s"
            "    spec:\n      containers:\n        - name: %(n)s\n"
            "          image: registry.example/%(n)s\n"
            "          ports: [{name: http, containerPort: 8080}]\n"
            "  service: {name: %(n)s, port: 80, targetPort: http}\n"
            "  strategy:\n%(s)s%(x)s"
            % {"n": name, "r": replicas, "ann": ann, "s": strategy, "x": extra})


def canary_strategy(steps, routing=None):
    """steps: YAML flow text of the step list; routing: YAML flow text of trafficRouting."""
    out = "    canary:\n      steps: %s\n" % steps
    if routing:
        out += "      trafficRouting: %s\n" % routing
    return out


def release_yaml(name, rollout, version, img, extra=""):
    return E2ETestCase.release_yaml(name, rollout, version, img, extra)


def pod_labels(deployment):
    return get(deployment, "spec", "template", "metadata", "labels", default={}) or {}


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


CANARY_STEPS = "[{setWeight: 10}, {pause: {duration: 1s}}, {setWeight: 50}, {pause: {}}]"


def canary_walk(env, routing, router_yaml, router_weight, router_final, name="web",
                steps=CANARY_STEPS, replicas=10):
    """The canary scenario shared by the routing tests: Rollout `name` with `routing`, the
    user's router object, Release v1 (straight to stable), then v2 through the steps (pause 1s,
    promote at the manual pause) to Succeeded. router_weight(env) -> what the router shows
    (recorded in each state as "router"); the walk ends when it equals router_final. Returns a dict: v1 (the state after v1), trace (the
    StepTrace of v2), requests (kubesim's request log from v2's apply to the end), images."""
    img1, img2 = image("registry.example/" + name, 1), image("registry.example/" + name, 2)
    tags = {img1: "v1", img2: "v2"}

    def track(d):
        if d is None:
            return None
        return (get(d, "spec", "replicas"), get(d, "status", "readyReplicas", default=0) or 0,
                tags.get(get(d, "spec", "template", "spec", "containers", 0, "image")))

    def observe():
        ro = env.rollout(name)
        r2 = env.release(name + "-2")
        return {"release": get(r2, "status", "phase"), "rollout": get(ro, "status", "phase"),
                "step": get(ro, "status", "currentStep"),
                "weight": get(ro, "status", "canaryWeight"),
                "stable": track(env.deployment(name + "-stable")),
                "canary": track(env.deployment(name + "-canary")),
                "router": router_weight(env)}

    env.apply(rollout_yaml(name, canary_strategy(steps, routing), replicas=replicas))
    if router_yaml:
        env.apply(router_yaml)
    env.apply(release_yaml(name + "-1", name, "v1.0.0", img1))
    env.wait(lambda: env.release_phase(name + "-1") == "Succeeded"
             and env.rollout_phase(name) == "Healthy", message="v1 Succeeded, Rollout Healthy")
    v1 = env.wait(lambda: (lambda s: s if s["stable"] and s["stable"][1] == replicas else None)
                  (observe()), message="v1 ready")
    env.sim.clear_request_log()
    trace = env.trace(observe)
    env.apply(release_yaml(name + "-2", name, "v2.0.0", img2))
    trace.wait_for(lambda s: s["step"] == 1 and s["rollout"] == "Paused" and s["weight"] == 10,
                   message="step 1 (pause 1s) at 10 %")
    trace.wait_for(lambda s: s["step"] == 3 and s["rollout"] == "Paused" and s["weight"] == 50,
                   message="step 3 (pause {}) at 50 %")
    env.promote(name)
    trace.wait_for(lambda s: s["release"] == "Succeeded" and s["rollout"] == "Healthy"
                   and s["canary"] == (0, 0, "v2") and s["stable"] == (replicas, replicas, "v2")
                   and s["weight"] == 0 and s["router"] == router_final,
                   message="v2 Succeeded, Rollout Healthy, router back at 0")
    trace.stop()
    return {"v1": v1, "trace": trace, "requests": env.sim.request_log(), "images": (img1, img2)}


def write_order(requests, path_part):
    """Indexes of the operator's writes whose path contains path_part."""
    return [i for i, r in enumerate(requests)
            if r.get("userAgent", "").startswith("tollgate") and r.get("method") in WRITE_METHODS
            and path_part in r.get("path", "")]
