"""Every decision is made once, with a real API server's orderings.

On a real kube-apiserver a watch event arrives some milliseconds after the response of the
write that caused it, and concurrent requests are answered in any order. A reconcile that runs
in between plans from a cache older than the operator's own last write; before the fix
(reconciler.c: every write's response goes into the cache at once) it decided again what it had
just decided: a promote acted on twice ("Promoted past step 2/4" with count 2), a Release that
had just Succeeded taken for a rollback ("Redeployed by a rollback: ..."), phase Events counted
more often than the phase changed. And an Event's create and the patch of its count could race
(kube/event_writer.c), losing an occurrence.

kubesim runs here with a watch delay of 30 ms plus up to 30 ms of jitter and 15 ms of request
jitter (more than REALISTIC_ORDERINGS, so that a stale cache is met on nearly every write), and
a watch of the test's own records every version of every Rollout and Release the server held.
Six Rollouts deliver side by side, one scenario each: a first Release; two manual pauses and
two promotes; abort then retry; supersede; progress deadline (Failed); a rollback to the
previous Release. For each, the test asserts:
  - each Release went through exactly the phases its scenario calls for (from the watch);
  - every phase Event counts exactly the phase changes the watch saw, no more;
  - every other decision Event (Promoted, StepCompleted, Retried, ...) counts exactly the
    decisions the test asked for;
  - no Release says "Redeployed by a rollback" unless the test asked for a rollback;
  - the Rollout's history has one entry per delivery.
"""

import json
import threading
import time
import unittest
from collections import Counter

from tollgate_e2e import (NS, Env, canary_strategy, get, image, release_yaml, rollout_yaml)

ORDERINGS = {"watch_delay_ms": 30, "watch_jitter_ms": 30, "request_jitter_ms": 15}
NEVER = {"kubesim.tollgate.io/never-ready": "true"}
TWO_PAUSES = "[{setWeight: 25}, {pause: {}}, {setWeight: 50}, {pause: {}}]"
ONE_PAUSE = "[{setWeight: 50}, {pause: {}}]"
DEADLINE = "  progressDeadlineSeconds: 3\n"


class History:
    """Every version of every Rollout and Release the server held, from a watch of our own."""

    def __init__(self, sim):
        self.sim = sim
        self.lock = threading.Lock()
        self.versions = {}  # (kind, name) -> [object, ...] in resourceVersion order
        self.stop = False
        self.threads = [threading.Thread(target=self._run, args=(r,), daemon=True)
                        for r in ("rollouts", "releases")]
        for t in self.threads:
            t.start()

    def _run(self, resource):
        rv = "0"
        while not self.stop:
            path = ("/apis/tollgate.io/v1alpha1/namespaces/%s/%s?watch=1&resourceVersion=%s"
                    "&allowWatchBookmarks=true&timeoutSeconds=30" % (NS, resource, rv))
            try:
                stream = self.sim.open_stream(path, timeout=40)
                for line in iter(stream.readline, b""):
                    if self.stop:
                        return
                    ev = json.loads(line)
                    obj = ev.get("object") or {}
                    rv = obj.get("metadata", {}).get("resourceVersion", rv)
                    if ev.get("type") not in ("ADDED", "MODIFIED"):
                        continue
                    key = (obj.get("kind"), obj["metadata"]["name"])
                    with self.lock:
                        self.versions.setdefault(key, []).append(obj)
            except (OSError, ValueError):
                if self.stop:
                    return
                time.sleep(0.1)

    def of(self, kind, name):
        with self.lock:
            return list(self.versions.get((kind, name), []))

    def phase_changes(self, kind, name):
        """[(phase, message)] at each version whose phase differs from the one before."""
        out, last = [], None
        for obj in self.of(kind, name):
            phase = get(obj, "status", "phase")
            if phase and phase != last:
                out.append((phase, get(obj, "status", "message")))
            last = phase or last
        return out

    def messages(self, kind, name):
        return [get(o, "status", "message") or "" for o in self.of(kind, name)]

    def close(self):
        self.stop = True


def img(rollout, n):
    return image("registry.example/" + rollout, n)


class DecisionsOnceTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.env = Env(ready_delay=0.2, orderings=ORDERINGS)
        self.env.start()
        self.history = History(self.env.sim)
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        self.history.close()
        self.env.stop()
        self.env.cleanup_files()

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before and getattr(self, "env", None):
            import sys
            sys.stderr.write("\n==== operator logs ====\n" + self.env.logs() + "\n")
        return out

    # -- the scenarios, each on its own Rollout, run side by side ----------------------------
    def phase(self, rel):
        return self.env.release_phase(rel)

    def wait_phase(self, rel, phase, timeout=90):
        self.env.wait(lambda: self.phase(rel) == phase, timeout=timeout,
                      message="%s %s" % (rel, phase))

    def wait_paused_at(self, rollout, rel, step):
        self.env.wait(lambda: self.phase(rel) == "Paused"
                      and get(self.env.rollout(rollout), "status", "currentStep") == step,
                      timeout=90, message="%s paused at step %d" % (rel, step))

    def first(self):
        pass  # its v1 is the scenario

    def promote(self):
        env = self.env
        self.wait_paused_at("promote", "promote-2", 1)
        env.promote("promote")
        self.wait_paused_at("promote", "promote-2", 3)
        env.promote("promote")
        self.wait_phase("promote-2", "Succeeded")

    def abort_retry(self):
        env = self.env
        self.wait_paused_at("abort", "abort-2", 1)
        env.plugin("abort", "abort")
        self.wait_phase("abort-2", "RolledBack")
        env.wait(lambda: env.rollout_phase("abort") == "Healthy", timeout=60,
                 message="abort Healthy after the abort")
        env.plugin("retry", "abort")
        self.wait_paused_at("abort", "abort-2", 1)
        env.promote("abort")
        self.wait_phase("abort-2", "Succeeded")

    def supersede(self):
        env = self.env
        self.wait_paused_at("supersede", "supersede-2", 1)
        env.apply(release_yaml("supersede-3", "supersede", "v3.0.0", img("supersede", 3)))
        self.wait_phase("supersede-2", "Superseded")
        self.wait_paused_at("supersede", "supersede-3", 1)
        env.promote("supersede")
        self.wait_phase("supersede-3", "Succeeded")

    def deadline(self):
        self.wait_phase("deadline-2", "Failed")

    def rollback(self):
        env = self.env
        self.wait_paused_at("rollback", "rollback-2", 1)
        env.promote("rollback")
        self.wait_phase("rollback-2", "Succeeded")
        env.wait(lambda: env.rollout_phase("rollback") == "Healthy", timeout=60,
                 message="rollback Healthy with v2")
        env.plugin("rollback", "rollback")
        env.wait(lambda: get(env.rollout("rollback"), "status", "stableRelease") == "rollback-1"
                 and env.rollout_phase("rollback") == "Healthy", timeout=90,
                 message="rollback back on rollback-1, Healthy")

    SCENARIOS = {
        # rollout: (steps, extra, second Release?, driver)
        "first": (ONE_PAUSE, "", False, first),
        "promote": (TWO_PAUSES, "", True, promote),
        "abort": (ONE_PAUSE, "", True, abort_retry),
        "supersede": (ONE_PAUSE, "", True, supersede),
        "deadline": (ONE_PAUSE, DEADLINE, True, deadline),
        "rollback": (ONE_PAUSE, "", True, rollback),
    }

    # the phases each Release goes through, in order
    EXPECTED_PHASES = {
        "first-1": ["Progressing", "Succeeded"],
        "promote-2": ["Progressing", "Paused", "Progressing", "Paused", "Progressing",
                      "Succeeded"],
        "abort-2": ["Progressing", "Paused", "RolledBack", "Progressing", "Paused", "Progressing",
                    "Succeeded"],
        "supersede-2": ["Progressing", "Paused", "Superseded"],
        "supersede-3": ["Progressing", "Paused", "Progressing", "Succeeded"],
        "deadline-2": ["Progressing", "Failed"],
        "rollback-2": ["Progressing", "Paused", "Progressing", "Succeeded", "RolledBack"],
    }
    # decision Events other than phase changes: (rollout, reason) -> how many the test asked for
    EXPECTED_DECISIONS = {
        ("promote", "Promoted"): 2,
        ("abort", "Promoted"): 1,
        ("supersede", "Promoted"): 1,
        ("rollback", "Promoted"): 1,
    }
    # the same Event message twice on purpose: step 1 completed by two deliveries (the aborted
    # one and its retry; the superseded one and its successor); everything else once
    EXPECTED_REPEATS = {("abort", "Step 1/2 (setWeight 50) completed"): 2,
                        ("supersede", "Step 1/2 (setWeight 50) completed"): 2}

    def test_each_decision_once(self):
        env = self.env
        for ro, (steps, extra, _, _) in self.SCENARIOS.items():
            env.apply(rollout_yaml(ro, canary_strategy(steps), replicas=4, extra=extra))
            env.apply(release_yaml(ro + "-1", ro, "v1.0.0", img(ro, 1)))
        for ro in self.SCENARIOS:
            self.wait_phase(ro + "-1", "Succeeded")
            env.wait(lambda: env.rollout_phase(ro) == "Healthy", timeout=60,
                     message="%s Healthy" % ro)
        # the deadline scenario's next Release never becomes ready (a template change takes
        # effect with the next Release only)
        env.apply(rollout_yaml("deadline", canary_strategy(ONE_PAUSE), replicas=4,
                               template_annotations=NEVER, extra=DEADLINE))
        for ro, (_, _, second, _) in self.SCENARIOS.items():
            if second:
                env.apply(release_yaml(ro + "-2", ro, "v2.0.0", img(ro, 2)))
        errors = []

        def drive(fn):
            try:
                fn(self)
            except BaseException as e:  # reported below, with the others
                errors.append("%s: %s" % (fn.__name__, e))

        threads = [threading.Thread(target=drive, args=(s[3],)) for s in self.SCENARIOS.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertEqual(errors, [])
        self.check_history()

    # -- the checks ------------------------------------------------------------------------
    def settled_events(self):
        """The Events, once the operator's writes have settled (two reads 1 s apart agree)."""
        def counts():
            return sorted((get(e, "involvedObject", "kind"), get(e, "involvedObject", "name"),
                           e.get("reason"), e.get("message"), e.get("count", 1))
                          for e in self.env.events())
        last = [None]

        def stable():
            time.sleep(1.0)
            now = counts()
            same = now == last[0]
            last[0] = now
            return now if same else None
        return self.env.wait(stable, timeout=60, message="Events settled")

    def check_history(self):
        env, h = self.env, self.history
        # every Release went through exactly its phases
        for rel, want in self.EXPECTED_PHASES.items():
            env.wait(lambda: [p for p, _ in h.phase_changes("Release", rel)] == want, timeout=30,
                     message="%s phases %s, saw %s" % (rel, want,
                                                       h.phase_changes("Release", rel)))
        events = self.settled_events()
        # phase Events count exactly the phase changes the server saw
        for ro in self.SCENARIOS:
            rels = [r for r in ([ro + "-1", ro + "-2", ro + "-3"]) if h.of("Release", r)]
            seen = Counter((p, "Rollout is %s" % p) for p, _ in h.phase_changes("Rollout", ro))
            told = Counter()
            for kind, name, reason, message, count in events:
                if kind == "Rollout" and name == ro and message == "Rollout is %s" % reason:
                    told[(reason, message)] += count
            self.assertEqual(told, seen, "Rollout %s: phase Events against phase changes" % ro)
            for rel in rels:
                seen = Counter(h.phase_changes("Release", rel))
                told = Counter()
                for kind, name, reason, message, count in events:
                    if kind == "Release" and name == rel and (reason, message) in seen:
                        told[(reason, message)] += count
                self.assertEqual(told, seen, "Release %s: phase Events against phase changes"
                                 % rel)
        # other decisions: as many as asked for, and none of any kind twice
        for kind, name, reason, message, count in events:
            if message == "Rollout is %s" % reason or kind != "Rollout":
                continue
            want = self.EXPECTED_DECISIONS.get((name, reason))
            if want is not None:
                total = sum(c for k, n, r, _, c in events if (k, n, r) == (kind, name, reason))
                self.assertEqual(total, want, "%s %s: %s Events" % (kind, name, reason))
            else:
                self.assertEqual(count, self.EXPECTED_REPEATS.get((name, message), 1),
                                 "%s %s: %s %r counted %d times"
                                 % (kind, name, reason, message, count))
        # a rollback only where one was asked for
        for (kind, name) in list(h.versions):
            if kind != "Release" or name.startswith("rollback-"):
                continue
            said = [m for m in h.messages(kind, name) if "Redeployed by a rollback" in m]
            self.assertEqual(said, [], "%s was taken for a rollback" % name)
        self.assertTrue(any("Redeployed by a rollback" in m
                            for m in h.messages("Release", "rollback-1")),
                        "the asked-for rollback redeployed rollback-1")
        # no Event write failed (a create and a patch of one Event raced: 404, then 409)
        self.assertNotIn("cannot write an event", env.op.log())
        self.assertEqual(env.op.metric("tollgate_events_total", {"result": "failed"}), 0)
        # one history entry per delivery
        for ro in self.SCENARIOS:
            entries = [(e.get("release"), e.get("startedAt"))
                       for e in get(env.rollout(ro), "status", "history", default=[]) or []]
            self.assertEqual(len(entries), len(set(entries)), "Rollout %s history %s"
                             % (ro, entries))


if __name__ == "__main__":
    unittest.main()
