"""kubesim's simulated controllers (A1): what kube-controller-manager would do to the objects
kubesim serves, reduced to what clients can observe.

* Deployment: after --deployment-ready-delay seconds the status follows the spec
  (observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
  unavailableReplicas; conditions Available/Progressing with the real controller's reasons:
  MinimumReplicasAvailable / MinimumReplicasUnavailable, NewReplicaSetCreated /
  ReplicaSetUpdated / NewReplicaSetAvailable / ProgressDeadlineExceeded). While a rollout waits,
  the status says so (updatedReplicas = spec.replicas, available 0 for a new template), which is
  what `kubectl rollout status` reports. The pod-template annotation
  ``kubesim.tollgate.io/never-ready: "true"`` keeps readyReplicas at 0; after
  spec.progressDeadlineSeconds (default 600) Progressing turns False (ProgressDeadlineExceeded).
* Job: the Job annotation ``kubesim.tollgate.io/job-result: succeed|fail`` (default succeed) and
  ``kubesim.tollgate.io/job-duration: "<seconds>"`` (default 0) decide the outcome: startTime and
  active first, then succeeded/completionTime and conditions SuccessCriteriaMet + Complete
  (reason CompletionsReached), or failed and FailureTarget + Failed (reason
  BackoffLimitExceeded), as the 1.32 Job controller reports them. spec.activeDeadlineSeconds
  shorter than the duration fails the Job with DeadlineExceeded; spec.suspend: true gives the
  Suspended condition (JobSuspended) and no startTime, resuming gives JobResumed and a run.
* Garbage collector: background deletion of dependents whose owners are all gone; the orphan
  finalizer (ownerReferences removed from dependents) and the foregroundDeletion finalizer
  (dependents deleted first; the owner goes when no blocking dependent remains).
* Namespace controller: a Terminating namespace's contents are deleted, then the namespace.
* CRD cleanup: a deleted CRD's custom objects are deleted, then the CRD is unregistered.

All writes go through resources.ResourceAPI (write_status / delete_internal /
remove_finalizer): rv bump and watch events like any client write. One thread; it sleeps on the
store's condition variable until something changes or a timer is due (no busy loop).
"""

import copy
import datetime
import hashlib
import json
import threading
import time

NEVER_READY = "kubesim.tollgate.io/never-ready"
JOB_RESULT = "kubesim.tollgate.io/job-result"
JOB_DURATION = "kubesim.tollgate.io/job-duration"
DEPLOY_GR = ("apps", "deployments")
JOB_GR = ("batch", "jobs")
NS_GR = ("", "namespaces")
CRD_GR = ("apiextensions.k8s.io", "customresourcedefinitions")
HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def template_hash(template):
    """A pod-template-hash-like string (the ReplicaSet name suffix)."""
    h = int.from_bytes(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()[:8],
                       "big")
    out = ""
    for _ in range(10):
        out += HASH_CHARS[h % len(HASH_CHARS)]
        h //= len(HASH_CHARS)
    return out


def _set_condition(conds, ctype, status, reason, message, now, probe=False):
    """Set a condition keeping lastTransitionTime unless status changes and lastUpdateTime
    unless status/reason/message change (deployment util's SetDeploymentCondition)."""
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") == status and c.get("reason") == reason and c.get("message") == message:
                return
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            if "lastUpdateTime" in c or not probe:
                c["lastUpdateTime"] = now
            c.update({"status": status, "reason": reason, "message": message})
            return
    c = {"type": ctype, "status": status}
    if probe:
        c["lastProbeTime"] = now
        c["lastTransitionTime"] = now
    else:
        c["lastUpdateTime"] = now
        c["lastTransitionTime"] = now
    c["reason"] = reason
    c["message"] = message
    conds.append(c)


class Controllers:
    def __init__(self, api):
        self.api = api
        self.store = api.store
        self.sim = api.sim
        self.thread = None
        self.stopped = threading.Event()
        self._kicked = False
        self.deploy_state = {}  # uid -> dict
        self.job_state = {}     # uid -> dict

    def start(self):
        self.thread = threading.Thread(target=self.run, name="kubesim-controllers", daemon=True)
        self.thread.start()

    def stop(self):
        self.stopped.set()
        self.kick()
        if self.thread is not None:
            self.thread.join(5)

    def kick(self):
        with self.store.lock:
            self._kicked = True
            self.store.cond.notify_all()

    def run(self):
        last_rv = -1
        next_due = None
        while not self.stopped.is_set():
            with self.store.lock:
                while not self.stopped.is_set() and self.store.rv == last_rv and not self._kicked:
                    timeout = 5.0
                    if next_due is not None:
                        timeout = min(timeout, next_due - time.monotonic())
                        if timeout <= 0:
                            break
                    self.store.cond.wait(timeout)
                last_rv = self.store.rv
                self._kicked = False
            if self.stopped.is_set():
                return
            try:
                next_due = self.reconcile()
            except Exception:  # a controller bug must not kill the server; say it loudly
                import sys
                import traceback
                traceback.print_exc(file=sys.stderr)
                next_due = time.monotonic() + 1

    def reconcile(self):
        """One pass over everything; returns the monotonic time of the next timer or None."""
        dues = []
        with self.store.lock:
            self.garbage_collect()
            self.namespaces()
            self.crd_cleanup()
            for d in self.store.list(DEPLOY_GR):
                due = self.deployment(d)
                if due:
                    dues.append(due)
            for j in self.store.list(JOB_GR):
                due = self.job(j)
                if due:
                    dues.append(due)
            live = {o["metadata"]["uid"] for o in self.store.list(DEPLOY_GR)}
            for uid in list(self.deploy_state):
                if uid not in live:
                    del self.deploy_state[uid]
            live = {o["metadata"]["uid"] for o in self.store.list(JOB_GR)}
            for uid in list(self.job_state):
                if uid not in live:
                    del self.job_state[uid]
        return min(dues) if dues else None

    # ---------------------------------------------------------------- deployments
    def deployment(self, d):
        """Status for one Deployment. Model: the current template's ReplicaSet becomes fully
        available ``--deployment-ready-delay`` seconds after the generation was observed
        (never, with the never-ready annotation). While a new template rolls out with the
        RollingUpdate strategy, the old pods stay available and the new ReplicaSet is scaled
        within maxSurge/maxUnavailable, as the real controller's first step does; with
        Recreate the old pods are gone at once."""
        meta = d["metadata"]
        if meta.get("deletionTimestamp"):
            return None
        spec = d.get("spec") or {}
        gen = int(meta.get("generation", 1) or 1)
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            replicas = 1
        template = spec.get("template") or {}
        never = ((template.get("metadata") or {}).get("annotations") or {}).get(NEVER_READY) == "true"
        thash = template_hash(template)
        rs_name = "%s-%s" % (meta["name"], thash)
        pds = spec.get("progressDeadlineSeconds", 600)
        if not isinstance(pds, (int, float)) or isinstance(pds, bool):
            pds = 600
        recreate = ((spec.get("strategy") or {}).get("type") == "Recreate")
        now = time.monotonic()
        st = self.deploy_state.get(meta["uid"])
        if st is None:
            prev_status = d.get("status") or {}
            st = {"gen": None, "gen_time": now, "hash": None, "rollout_start": now,
                  "available": prev_status.get("availableReplicas", 0) or 0, "old": 0,
                  "created": True}
            self.deploy_state[meta["uid"]] = st
        if st["gen"] != gen:
            st["gen"] = gen
            st["gen_time"] = now
            if st["hash"] != thash:
                if st["hash"] is not None:
                    st["old"] = 0 if recreate else max(st["old"], st["available"])
                    st["available"] = 0
                    st["created"] = False
                st["hash"] = thash
                st["rollout_start"] = now
        delay = max(0.0, float(self.sim.deployment_ready_delay or 0))
        ready_at = st["gen_time"] + delay
        deadline_at = st["rollout_start"] + pds
        surge, unavail = _surge_unavailable(spec, replicas)
        due = None
        if not never and now >= ready_at:
            st["available"] = replicas
            st["old"] = 0
            counts = {"replicas": replicas, "updatedReplicas": replicas,
                      "readyReplicas": replicas, "availableReplicas": replicas}
            avail = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
            prog = ("True", "NewReplicaSetAvailable",
                    'ReplicaSet "%s" has successfully progressed.' % rs_name)
        else:
            new_avail = min(st["available"], replicas)
            old = min(st["old"], replicas)
            if old:
                # old pods are scaled down only as far as maxUnavailable allows, the new
                # ReplicaSet up only as far as maxSurge allows
                old -= max(0, min(old, old + new_avail - (replicas - unavail)))
                updated = max(new_avail, min(replicas, replicas + surge - old))
            else:
                updated = replicas
            available = new_avail + old
            counts = {"replicas": updated + old, "updatedReplicas": updated,
                      "readyReplicas": available, "availableReplicas": available,
                      "unavailableReplicas": max(0, replicas - available)}
            if available >= replicas - unavail:
                avail = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
            else:
                avail = ("False", "MinimumReplicasUnavailable",
                         "Deployment does not have minimum availability.")
            if now >= deadline_at:
                prog = ("False", "ProgressDeadlineExceeded",
                        'ReplicaSet "%s" has timed out progressing.' % rs_name)
            else:
                if st["created"]:
                    prog = ("True", "NewReplicaSetCreated", 'Created new replica set "%s"' % rs_name)
                else:
                    prog = ("True", "ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % rs_name)
                due = deadline_at
            if not never:
                due = min(due, ready_at) if due else ready_at
        if spec.get("paused"):
            prog = ("Unknown", "DeploymentPaused", "Deployment is paused")
        stamp = _now()

        def mutate(obj):
            status = obj.setdefault("status", {})
            status["observedGeneration"] = gen
            for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                      "unavailableReplicas"):
                if counts.get(k):
                    status[k] = counts[k]
                else:
                    status.pop(k, None)
            conds = copy.deepcopy(status.get("conditions") or [])
            _set_condition(conds, "Available", avail[0], avail[1], avail[2], stamp)
            _set_condition(conds, "Progressing", prog[0], prog[1], prog[2], stamp)
            order = {"Available": 0, "Progressing": 1}
            conds.sort(key=lambda c: order.get(c.get("type"), 2))
            status["conditions"] = conds

        rtype = self.api.type_for_gr(DEPLOY_GR)
        self.api.write_status(rtype, meta.get("namespace"), meta["name"], mutate)
        return due

    # ---------------------------------------------------------------- jobs
    def job(self, j):
        meta = j["metadata"]
        if meta.get("deletionTimestamp"):
            return None
        status = j.get("status") or {}
        for c in status.get("conditions") or []:
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
                return None
        spec = j.get("spec") or {}
        rtype = self.api.type_for_gr(JOB_GR)
        stamp = _now()
        if spec.get("suspend"):
            # a suspended Job has no active pods and no startTime, and says so
            def suspend(obj):
                s = obj.setdefault("status", {})
                s.pop("active", None)
                s.pop("startTime", None)
                conds = copy.deepcopy(s.get("conditions") or [])
                _set_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", stamp, True)
                s["conditions"] = conds
            self.api.write_status(rtype, meta.get("namespace"), meta["name"], suspend)
            self.job_state.pop(meta["uid"], None)
            return None
        ann = meta.get("annotations") or {}
        result = ann.get(JOB_RESULT, "succeed")
        try:
            duration = max(0.0, float(ann.get(JOB_DURATION, "0")))
        except ValueError:
            duration = 0.0
        ads = spec.get("activeDeadlineSeconds")
        deadline_first = isinstance(ads, int) and not isinstance(ads, bool) and ads < duration
        if deadline_first:
            duration = float(ads)
        now = time.monotonic()
        st = self.job_state.setdefault(meta["uid"], {"start": now})
        if not status.get("startTime"):
            parallelism = spec.get("parallelism", 1)

            def start(obj):
                s = obj.setdefault("status", {})
                conds = s.get("conditions") or []
                if any(c.get("type") == "Suspended" and c.get("status") == "True" for c in conds):
                    conds = copy.deepcopy(conds)
                    _set_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", stamp, True)
                    s["conditions"] = conds
                s["startTime"] = stamp
                if parallelism:
                    s["active"] = parallelism
                s["ready"] = 0
                s["terminating"] = 0
                s["uncountedTerminatedPods"] = {}
            self.api.write_status(rtype, meta.get("namespace"), meta["name"], start)
            st["start"] = now
            if duration > 0:
                return now + duration
        if now < st["start"] + duration:
            return st["start"] + duration
        completions = spec.get("completions", 1)
        if completions is None:
            completions = 1
        backoff = spec.get("backoffLimit", 6)
        if not isinstance(backoff, int):
            backoff = 6

        def finish(obj):
            s = obj.setdefault("status", {})
            s.pop("active", None)
            s["ready"] = 0
            s["terminating"] = 0
            s["uncountedTerminatedPods"] = {}
            conds = copy.deepcopy(s.get("conditions") or [])
            if deadline_first:
                s["failed"] = s.get("failed", 0) + (spec.get("parallelism", 1) or 1)
                msg = "Job was active longer than specified deadline"
                _set_condition(conds, "FailureTarget", "True", "DeadlineExceeded", msg, stamp, True)
                _set_condition(conds, "Failed", "True", "DeadlineExceeded", msg, stamp, True)
            elif result == "fail":
                s["failed"] = backoff + 1
                msg = "Job has reached the specified backoff limit"
                _set_condition(conds, "FailureTarget", "True", "BackoffLimitExceeded", msg, stamp, True)
                _set_condition(conds, "Failed", "True", "BackoffLimitExceeded", msg, stamp, True)
            else:
                s["succeeded"] = completions
                s["completionTime"] = stamp
                msg = "Reached expected number of succeeded pods"
                _set_condition(conds, "SuccessCriteriaMet", "True", "CompletionsReached", msg, stamp, True)
                _set_condition(conds, "Complete", "True", "CompletionsReached", msg, stamp, True)
            s["conditions"] = conds
        self.api.write_status(rtype, meta.get("namespace"), meta["name"], finish)
        return None

    # ---------------------------------------------------------------- garbage collector
    def garbage_collect(self):
        objs = self.store.all_objects()
        by_uid = {o["metadata"].get("uid"): (gr, o) for gr, o in objs}
        dependents = {}
        for gr, o in objs:
            for ref in o["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid"), []).append((gr, o, ref))
        # owners being deleted with orphan / foregroundDeletion finalizers
        for gr, o in objs:
            m = o["metadata"]
            if not m.get("deletionTimestamp"):
                continue
            fins = m.get("finalizers") or []
            deps = dependents.get(m.get("uid"), [])
            rtype = self.api.type_for_gr(gr)
            if rtype is None:
                continue
            if "orphan" in fins:
                for dgr, d, _ in deps:
                    drt = self.api.type_for_gr(dgr)
                    uid = m.get("uid")

                    def drop(obj, uid=uid):
                        refs = [r for r in obj["metadata"].get("ownerReferences") or []
                                if r.get("uid") != uid]
                        if refs:
                            obj["metadata"]["ownerReferences"] = refs
                        else:
                            obj["metadata"].pop("ownerReferences", None)
                    if drt is not None:
                        self.api.write_status(drt, d["metadata"].get("namespace"),
                                              d["metadata"]["name"], drop)
                self.api.remove_finalizer(rtype, o, "orphan")
            elif "foregroundDeletion" in fins:
                blocking = 0
                for dgr, d, ref in deps:
                    drt = self.api.type_for_gr(dgr)
                    if drt is None:
                        continue
                    if not d["metadata"].get("deletionTimestamp"):
                        self.api.delete_internal(drt, d, {"propagationPolicy": "Foreground"})
                    if ref.get("blockOwnerDeletion") and \
                            self.store.get(dgr, d["metadata"].get("namespace"), d["metadata"]["name"]):
                        blocking += 1
                if blocking == 0:
                    self.api.remove_finalizer(rtype, o, "foregroundDeletion")
        # dependents whose owners are all gone (background deletion)
        for gr, o in self.store.all_objects():
            m = o["metadata"]
            refs = m.get("ownerReferences") or []
            if not refs or m.get("deletionTimestamp"):
                continue
            alive = False
            for ref in refs:
                # the real GC looks the owner up by kind, name and the dependent's namespace
                # (cluster-scoped owners: no namespace) and then compares the uid
                owner = by_uid.get(ref.get("uid"))
                if owner is None:
                    continue
                om = owner[1]["metadata"]
                if om.get("name") != ref.get("name") or owner[1].get("kind") not in (None, ref.get("kind")):
                    continue
                if om.get("namespace") and om.get("namespace") != m.get("namespace"):
                    continue
                if self.store.get(owner[0], om.get("namespace"), om["name"]) is not None:
                    alive = True
                    break
            if alive:
                continue
            cur = self.store.get(gr, m.get("namespace"), m["name"])
            rtype = self.api.type_for_gr(gr)
            if cur is not None and rtype is not None:
                self.api.delete_internal(rtype, cur, {"propagationPolicy": "Background"})

    # ---------------------------------------------------------------- namespaces
    def namespaces(self):
        for ns in self.store.list(NS_GR):
            m = ns["metadata"]
            if not m.get("deletionTimestamp"):
                continue
            name = m["name"]
            remaining = 0
            for gr in self.store.resources():
                if gr == NS_GR:
                    continue
                rtype = self.api.type_for_gr(gr)
                for o in self.store.list(gr, name):
                    remaining += 1
                    if rtype is not None and not o["metadata"].get("deletionTimestamp"):
                        self.api.delete_internal(rtype, o, {"propagationPolicy": "Background"})
            if remaining:
                continue
            still = any(self.store.list(gr, name) for gr in self.store.resources() if gr != NS_GR)
            if still:
                continue
            if m.get("finalizers"):
                continue  # metadata finalizers of someone else hold it
            self.store.remove(NS_GR, "", name)

    # ---------------------------------------------------------------- CRDs
    def crd_cleanup(self):
        for crd in self.store.list(CRD_GR):
            m = crd["metadata"]
            if not m.get("deletionTimestamp"):
                continue
            spec = crd.get("spec") or {}
            gr = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
            crtype = self.api.type_for_gr(gr)
            objs = self.store.list(gr)
            for o in objs:
                if crtype is None:
                    self.store.remove(gr, o["metadata"].get("namespace"), o["metadata"]["name"])
                elif not o["metadata"].get("deletionTimestamp"):
                    self.api.delete_internal(crtype, o, {"propagationPolicy": "Background"})
            if crtype is not None and self.store.list(gr):
                continue  # custom objects with finalizers hold the CRD, as on a real server
            self.api.registry.unregister_crd(m["name"])
            rtype = self.api.type_for_gr(CRD_GR)
            self.api.remove_finalizer(rtype, crd, "customresourcecleanup.apiextensions.k8s.io")


def _surge_unavailable(spec, replicas):
    """(maxSurge, maxUnavailable) as absolute numbers (surge rounds up, unavailable down; both
    zero is not allowed, the controller then uses maxUnavailable 1)."""
    strat = spec.get("strategy") or {}
    if strat.get("type") == "Recreate":
        return 0, replicas
    ru = strat.get("rollingUpdate") or {}

    def resolve(v, up):
        if isinstance(v, str) and v.endswith("%"):
            try:
                pct = int(v[:-1])
            except ValueError:
                return 0
            return -(-replicas * pct // 100) if up else replicas * pct // 100
        return v if isinstance(v, int) and not isinstance(v, bool) else 0
    surge = resolve(ru.get("maxSurge", "25%"), True)
    unavail = resolve(ru.get("maxUnavailable", "25%"), False)
    if surge == 0 and unavail == 0:
        unavail = 1
    return surge, unavail
