"""kubesim object store: every object the server holds, one resourceVersion counter, and a
bounded event history for watches and resourceVersion-pinned lists.

The store plays etcd's part. Like etcd it knows nothing of Kubernetes semantics beyond keys and
revisions: the server (server.py) decides what to write; the store stamps each write with the
next value of ONE counter shared by all resources (metadata.resourceVersion), keeps the object,
and records an event (ADDED, MODIFIED, DELETED) with the object before and after the write.

Concurrency: one re-entrant lock guards everything; ``cond`` (a Condition on that lock) is
notified on every write, so watchers and controllers wait on it instead of polling. Stored
objects are never mutated after they are stored (writers store new dicts), so events and lists
may hand out references; callers copy before they modify.

History: at most ``history`` events are kept (a deque). ``compacted_rv`` is the newest
resourceVersion whose event is no longer kept: a watch or an Exact list from a resourceVersion
older than that cannot be served and gets 410 Gone, like etcd after compaction.

Held events (the watch delay, see resources.watch): every event carries ``t``, its commit time
(time.monotonic()). A request thread that called ``hold_begin`` gets its writes' events marked
``held``; ``hold_end`` (called once the request's response was written) clears the mark and
wakes the watchers. A watch with a delay never delivers a held event, so a client always has a
write's response before any watch shows that write, as on a real server where the event still
has to travel etcd watch -> cacher -> watcher.
"""

import collections
import copy
import threading
import time


class Gone(Exception):
    """The requested resourceVersion is older than the kept history."""

    def __init__(self, requested, oldest):
        super().__init__("too old resource version: %d (%d)" % (requested, oldest))
        self.requested = requested
        self.oldest = oldest


class Event:
    """One write: ``type`` ADDED/MODIFIED/DELETED, ``rv`` the store revision it made, ``gr`` the
    (group, resource) key, ``obj`` the object after the write (for DELETED: the object as it was
    removed, carrying the deletion's resourceVersion), ``prev`` the object before (None for ADDED)."""

    __slots__ = ("rv", "type", "gr", "key", "obj", "prev", "t", "held")

    def __init__(self, rv, type_, gr, key, obj, prev):
        self.t = time.monotonic()  # commit time
        self.held = False  # True while the writing request's response is not yet sent
        self.rv = rv
        self.type = type_
        self.gr = gr
        self.key = key
        self.obj = obj
        self.prev = prev


class Store:
    """In-memory object store with one revision counter and a bounded event history."""

    def __init__(self, history=1000, start_rv=100):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = start_rv
        self.compacted_rv = start_rv
        self.history = collections.deque()
        self.history_max = max(1, int(history))
        self.data = {}  # (group, resource) -> {(namespace, name): obj}
        self.closed = False
        self._holding = threading.local()  # .events: the current request's held events

    # -- reads ---------------------------------------------------------------------------
    def current_rv(self):
        with self.lock:
            return self.rv

    def get(self, gr, namespace, name):
        """The stored object or None (a shared reference: do not modify)."""
        with self.lock:
            return self.data.get(gr, {}).get((namespace or "", name))

    def list(self, gr, namespace=None):
        """Objects of ``gr`` (in ``namespace`` if given), ordered by (namespace, name)."""
        with self.lock:
            bucket = self.data.get(gr, {})
            keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
            return [bucket[k] for k in keys]

    def all_objects(self):
        """Every stored object as (gr, obj) pairs."""
        with self.lock:
            return [(gr, obj) for gr, bucket in self.data.items() for obj in bucket.values()]

    def resources(self):
        with self.lock:
            return list(self.data.keys())

    def state_at(self, gr, rv, namespace=None):
        """The objects of ``gr`` as they were at revision ``rv`` (Exact lists and continue
        tokens), rebuilt by undoing the kept events newer than ``rv``. Raises Gone when ``rv`` is
        older than the history; ValueError when it is newer than the store."""
        with self.lock:
            if rv > self.rv:
                raise ValueError("too large resource version")
            if rv < self.compacted_rv:
                raise Gone(rv, self.compacted_rv)
            state = dict(self.data.get(gr, {}))
            for ev in reversed(self.history):
                if ev.rv <= rv:
                    break
                if ev.gr != gr:
                    continue
                if ev.prev is None:
                    state.pop(ev.key, None)
                else:
                    state[ev.key] = ev.prev
            keys = sorted(k for k in state if namespace is None or k[0] == namespace)
            return [state[k] for k in keys]

    def events_after(self, rv):
        """Kept events with revision > rv, oldest first. Raises Gone when events newer than
        ``rv`` were already dropped from the history."""
        with self.lock:
            if rv < self.compacted_rv:
                raise Gone(rv, self.compacted_rv)
            out = []
            for ev in reversed(self.history):
                if ev.rv <= rv:
                    break
                out.append(ev)
            out.reverse()
            return out

    # -- writes --------------------------------------------------------------------------
    def hold_begin(self):
        """From now on, events written by this thread are held until ``hold_end``."""
        self._holding.events = []

    def hold_end(self):
        """Release the events this thread wrote since ``hold_begin`` and wake the watchers."""
        events = getattr(self._holding, "events", None)
        self._holding.events = None
        if events:
            with self.lock:
                for ev in events:
                    ev.held = False
                self.cond.notify_all()

    def _record(self, ev):
        held = getattr(self._holding, "events", None)
        if held is not None:
            ev.held = True
            held.append(ev)
        self.history.append(ev)
        while len(self.history) > self.history_max:
            dropped = self.history.popleft()
            self.compacted_rv = dropped.rv
        self.cond.notify_all()

    def put(self, gr, obj):
        """Store ``obj`` (a dict this store now owns) under its namespace/name with the next
        resourceVersion; returns it. Records ADDED or MODIFIED."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", "") or "", meta["name"])
            bucket = self.data.setdefault(gr, {})
            prev = bucket.get(key)
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            bucket[key] = obj
            self._record(Event(self.rv, "MODIFIED" if prev is not None else "ADDED", gr, key, obj, prev))
            return obj

    def remove(self, gr, namespace, name, final_state=None):
        """Remove an object; returns the removed object carrying the deletion's
        resourceVersion (as the DELETED watch event shows it), or None if absent.
        ``final_state``: the object as the deleting write left it (an update that removed the
        last finalizer deletes in the same step, like the apiserver's ShouldDeleteDuringUpdate)."""
        with self.lock:
            key = (namespace or "", name)
            bucket = self.data.get(gr, {})
            prev = bucket.pop(key, None)
            if prev is None:
                return None
            self.rv += 1
            final = copy.copy(final_state if final_state is not None else prev)
            final["metadata"] = dict(final["metadata"])
            final["metadata"]["resourceVersion"] = str(self.rv)
            self._record(Event(self.rv, "DELETED", gr, key, final, prev))
            return final

    def remove_resource(self, gr):
        """Forget every object of ``gr`` without events (a CRD's storage removed)."""
        with self.lock:
            self.data.pop(gr, None)
            self.cond.notify_all()

    def wake(self):
        with self.lock:
            self.cond.notify_all()
