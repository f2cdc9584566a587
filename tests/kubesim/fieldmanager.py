"""Field management as kube-apiserver 1.32 does it: metadata.managedFields and server-side apply.

Reference behaviour (reimplemented, not transliterated): sigs.k8s.io/structured-merge-diff/v4
(typed ToFieldSet, Compare, Merge; merge.Updater's Update and Apply, its prune) and
k8s.io/apimachinery/pkg/util/managedfields/internal (stripMeta, managedFieldsUpdater,
buildManagerInfo, lastAppliedManager, lastAppliedUpdater, conflict.go).

Field sets: a set of paths; a path is a tuple of path elements written as FieldsV1 writes
them: "f:<field>", "k:<json object of the list-map keys, keys sorted>" (items of lists with
x-kubernetes-list-type map, or, for built-ins without a list type, a strategic-merge
patch strategy "merge" with a merge key), "v:<json value>" (items of set lists, or merge
lists without a key). Lists are atomic otherwise; maps with x-kubernetes-map-type atomic are
atomic. Struct fields are members when they are leaves (scalars, atomic values, null or {});
map entries not declared as fields (labels, additionalProperties, preserve-unknown fields) and
list items are members themselves, and carry "." in FieldsV1 when they also have children.

Managers: a dict keyed (manager, operation, apiVersion if operation is Update else "",
subresource) -> {"set": set of paths, "apiVersion": str, "time": str or None}; decode() and
encode() convert from and to metadata.managedFields (encode sorts as the apiserver does:
operation, then time, manager, apiVersion, subresource).

Paths the apiserver strips (apiVersion, kind, metadata, metadata.name/namespace/uid/...)
are never owned. The caller passes a scope: on the main resource of a kind with a status
subresource the status is not owned (the strategy resets it); on /status only status is.

Interface:
    Conflict(Exception): .conflicts [(manager key, path)], .status() -> (message, causes)
    decode(entries) -> managers (ValueError for entries it cannot read)
    encode(managers) -> list of ManagedFieldsEntry dicts
    update(managers, old, new, schema, manager, api_version, subresource, scope, now)
        -> managers after a non-apply write (a create compares with zero_object(new) for
        built-ins, None for custom resources)
    apply(managers, live, config, schema, manager, api_version, subresource, scope, force, now)
        -> (merged object, managers); raises Conflict.  live None = create.
    last_applied_allowed(live, schema, scope) -> paths kubectl may take over (or None)
    path_string(path) -> ".spec.template.spec.containers[name=\"web\"].image"
No I/O; inputs are never modified.
"""

import copy
import json

import builtin_schemas

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# skipNonAppliedManager: an object without managedFields is first recorded as written by this
# manager (an Update from the kind's empty object) before an apply is computed against it.
BEFORE_FIRST_APPLY = "before-first-apply"

STRIPPED = {("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", "f:" + f) for f in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                        "clusterName", "generation", "managedFields",
                                        "resourceVersion")}

_META = builtin_schemas.schema_for("meta.k8s.io", "v1", "ObjectMeta")


class Conflict(Exception):
    """Apply conflicts: [(manager key, path)] in the order the apiserver lists them."""

    def __init__(self, conflicts):
        super().__init__("conflicts")
        self.conflicts = sorted(conflicts, key=lambda c: (_identifier(c[0]), _path_key(c[1])))

    def status(self):
        """(message, causes) of the 409 Conflict (conflict.go's NewConflictError)."""
        causes = [{"reason": "FieldManagerConflict",
                   "message": "conflict with %s" % print_manager(k),
                   "field": path_string(p)} for k, p in self.conflicts]
        if len(self.conflicts) == 1:
            k, p = self.conflicts[0]
            return ("Apply failed with 1 conflict: conflict with %s: %s"
                    % (print_manager(k), path_string(p)), causes)
        lines = []
        by = {}
        for k, p in self.conflicts:
            by.setdefault(_identifier(k), (k, []))[1].append(p)
        for ident in sorted(by):
            k, paths = by[ident]
            lines.append("conflicts with %s:" % print_manager(k))
            lines.extend("- %s" % path_string(p) for p in paths)
        return ("Apply failed with %d conflicts: %s" % (len(self.conflicts), "\n".join(lines)),
                causes)


def _go_quote(s):
    return json.dumps(s, ensure_ascii=False)


def _identifier(key):
    """The manager identifier (buildManagerInfo): the entry's JSON without fields and time."""
    manager, op, av, sub = key
    d = {"manager": manager, "operation": op}
    if av:
        d["apiVersion"] = av
    if sub:
        d["subresource"] = sub
    return json.dumps(d, separators=(",", ":"))


def print_manager(key):
    manager, op, av, sub = key
    s = _go_quote(manager)
    if sub:
        s += " with subresource %s" % _go_quote(sub)
    if op == "Update":
        s += " using %s" % av
    return s


# ---------------------------------------------------------------------------------- schema
def _is_dict(v):
    return isinstance(v, dict)


def _kind(s, v):
    """'map', 'list', 'atomic' (a leaf) for value v of schema s (None = deduced)."""
    if s is None or (not s.get("type") and not s.get("properties") and not s.get("items")
                     and not isinstance(s.get("additionalProperties"), dict)):
        if _is_dict(v):
            return "map"
        return "atomic"
    if s.get("x-kubernetes-int-or-string"):
        return "atomic"
    t = s.get("type")
    if t == "object" or "properties" in s or "additionalProperties" in s:
        if s.get("x-kubernetes-map-type") == "atomic":
            return "atomic"
        return "map" if _is_dict(v) else "atomic"
    if t == "array":
        return "list" if isinstance(v, list) else "atomic"
    return "atomic"


def _field(s, key):
    """(declared, child schema) of map key ``key`` in schema s."""
    if s is None:
        return False, None
    props = s.get("properties") or {}
    if key in props:
        return True, props[key]
    ap = s.get("additionalProperties")
    if _is_dict(ap):
        return False, ap
    return False, None


def _list_type(s):
    if s is None:
        return "atomic", []
    lt = s.get("x-kubernetes-list-type")
    if lt == "map":
        return "map", list(s.get("x-kubernetes-list-map-keys") or [])
    if lt in ("set", "atomic"):
        return lt, []
    strategy = s.get("x-kubernetes-patch-strategy") or ""
    if "merge" in strategy.split(","):
        mk = s.get("x-kubernetes-patch-merge-key")
        return ("map", [mk]) if mk else ("set", [])
    return "atomic", []


def _compact(v, sort=False):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False, sort_keys=sort)


def _item_pe(item, lt, keys, item_schema):
    if lt == "set" or not _is_dict(item):
        return "v:" + _compact(item, sort=True)
    kv = {}
    props = (item_schema or {}).get("properties") or {}
    for k in keys:
        if k in item and item[k] is not None:
            kv[k] = item[k]
        elif "default" in (props.get(k) or {}):
            kv[k] = props[k]["default"]
    return "k:" + _compact(kv, sort=True)


def root_schema(schema):
    """The object schema with ObjectMeta's (CRD schemas say only `type: object` there)."""
    s = dict(schema or {})
    props = dict(s.get("properties") or {})
    props["metadata"] = _META
    s["properties"] = props
    s.setdefault("type", "object")
    return s


# ---------------------------------------------------------------------------------- field sets
def _walk(v, s, path, out, maps=None):
    kind = _kind(s, v)
    if kind == "atomic":
        out[path] = (True, v)
        return
    if kind == "map":
        if maps is not None:
            maps.add(path)
        for key, cv in v.items():
            declared, cs = _field(s, key)
            p = path + ("f:" + key,)
            if cv is None or (_is_dict(cv) and not cv):
                out[p] = (True, cv)
                if maps is not None and cv is not None and _kind(cs, cv) == "map":
                    maps.add(p)
                continue
            _walk(cv, cs, p, out, maps)
            if not declared and p not in out:
                out[p] = (False, None)
        return
    lt, keys = _list_type(s)
    if lt == "atomic":
        out[path] = (True, v)
        return
    its = (s or {}).get("items")
    for item in v:
        p = path + (_item_pe(item, lt, keys, its),)
        if lt == "set" or not _is_dict(item):
            out[p] = (True, item)
            continue
        _walk(item, its, p, out, maps)
        out[p] = (False, None)


def _keep(p, scope):
    return p not in STRIPPED and (scope is None or scope(p))


def walk(obj, schema, scope=None, maps=None):
    """{path: (leaf, value)} of the members of obj's field set (stripped paths excluded);
    ``maps`` (a set, optional) also receives the paths of the granular maps."""
    out = {}
    found = set()
    if obj is not None:
        o = dict(obj)
        if _is_dict(o.get("metadata")):
            m = dict(o["metadata"])
            m.pop("managedFields", None)
            o["metadata"] = m
        _walk(o, root_schema(schema), (), out, found)
    if maps is not None:
        maps.update(p for p in found if p and _keep(p, scope))
    return {p: v for p, v in out.items() if _keep(p, scope)}


def _compare(old_w, new_w, old_maps=(), new_maps=()):
    """(added, modified, removed) between two walks (typed.Compare: a map that appears or
    goes is itself added or removed, besides its members)."""
    added = (set(new_w) - set(old_w)) | (set(new_maps) - set(old_maps))
    removed = (set(old_w) - set(new_w)) | (set(old_maps) - set(new_maps))
    modified = {p for p in set(old_w) & set(new_w) if old_w[p] != new_w[p]}
    return added, modified, removed


def compare(old, new, schema, scope):
    old_maps, new_maps = set(), set()
    old_w = walk(old, schema, scope, old_maps)
    new_w = walk(new, schema, scope, new_maps)
    return _compare(old_w, new_w, old_maps, new_maps)


# ---------------------------------------------------------------------------------- FieldsV1
def _pe_key(pe):
    return ({"f": 0, "k": 1, "v": 2, "i": 3}.get(pe[:1], 4), pe[2:])


def _path_key(p):
    return tuple((1, _pe_key(e)) for e in p[:-1]) + ((0, _pe_key(p[-1])),) if p else ()


def to_fields(paths):
    tree = {}
    for p in paths:
        node = tree
        for e in p:
            node = node.setdefault(e, {})
    members = set(paths)

    def emit(node, prefix):
        out = {}
        if prefix in members and node and prefix:
            out["."] = {}
        for k in sorted(node, key=_pe_key):
            out[k] = emit(node[k], prefix + (k,))
        return out
    return emit(tree, ())


def from_fields(fields, prefix=(), out=None):
    if out is None:
        out = set()
    if not _is_dict(fields):
        raise ValueError("FieldsV1 must be an object")
    for k, v in fields.items():
        if k == ".":
            out.add(prefix)
            continue
        if k[:2] not in ("f:", "k:", "v:", "i:"):
            raise ValueError("unknown path element %r" % k)
        p = prefix + (k,)
        if not _is_dict(v):
            raise ValueError("FieldsV1 must be an object")
        if not v:
            out.add(p)
        else:
            from_fields(v, p, out)
    return out


def path_string(p):
    s = ""
    for e in p:
        t, rest = e[:1], e[2:]
        if t == "f":
            s += "." + rest
        elif t == "k":
            d = json.loads(rest)
            s += "[" + ",".join("%s=%s" % (k, _compact(d[k])) for k in sorted(d)) + "]"
        elif t == "v":
            s += "[=" + rest + "]"
        else:
            s += "[" + rest + "]"
    return s


def decode(entries):
    managers = {}
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for e in entries:
        if not _is_dict(e) or e.get("operation") not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        if e.get("fieldsType", "FieldsV1") != "FieldsV1":
            raise ValueError("invalid fieldsType")
        av = e.get("apiVersion", "")
        key = (e.get("manager", ""), e["operation"], av if e["operation"] == "Update" else "",
               e.get("subresource", ""))
        s = from_fields(e.get("fieldsV1") or {})
        if key in managers:
            s |= managers[key]["set"]
        managers[key] = {"set": s, "apiVersion": av, "time": e.get("time")}
    return managers


def encode(managers):
    out = []
    for key, m in managers.items():
        manager, op, _, sub = key
        e = {"manager": manager, "operation": op, "apiVersion": m["apiVersion"]}
        if m.get("time"):
            e["time"] = m["time"]
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = to_fields(m["set"])
        if sub:
            e["subresource"] = sub
        out.append(e)
    out.sort(key=lambda e: (e["operation"], e.get("time") or "", e["manager"], e["apiVersion"],
                            e.get("subresource", "")))
    return out


MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


def cap_updates(managers, limit=MAX_UPDATE_MANAGERS):
    """capManagersManager: beyond ``limit`` Update entries, the oldest are folded, per
    apiVersion, into one "ancient-changes" Update entry (the first one of a version found is
    renamed into the bucket when a second comes)."""
    updaters = [k for k in managers if k[1] == "Update"]
    if len(updaters) <= limit:
        return managers
    updaters.sort(key=lambda k: (managers[k].get("time") or "", _identifier(k)))
    first_of = {}
    length = len(updaters)
    for key in updaters:
        if length <= limit:
            break
        m = managers[key]
        av = m["apiVersion"]
        bucket = (ANCIENT_CHANGES, "Update", av, "")
        if av not in first_of:
            first_of[av] = key
            continue
        if bucket not in managers:
            managers[bucket] = managers.pop(first_of[av])
        managers[bucket] = {"set": m["set"] | managers[bucket]["set"], "apiVersion": av,
                            "time": m.get("time")}
        if key != bucket:
            del managers[key]
        length -= 1
    return managers


def _copy(managers):
    return {k: dict(v, set=set(v["set"])) for k, v in managers.items()}


# ---------------------------------------------------------------------------------- update
def _take(managers, skip, added, modified, removed, force):
    """Updater.update: the fields the write changed leave every other manager; without force
    a manager losing a field it owned because its value changed is a conflict."""
    conflicts = []
    for key, m in managers.items():
        if key == skip:
            continue
        lost = m["set"] & (modified | added)
        conflicts.extend((key, p) for p in lost)
    if conflicts and not force:
        raise Conflict(conflicts)
    for key, m in list(managers.items()):
        if key == skip:
            continue
        m["set"] -= (modified | added)
        m["set"] -= removed
        if not m["set"]:
            del managers[key]


def update(managers, old, new, schema, manager, api_version, subresource, scope, now):
    managers = _copy(managers)
    added, modified, removed = compare(old, new, schema, scope)
    if not (added or modified or removed):
        return managers
    key = (manager, "Update", api_version, subresource or "")
    _take(managers, None, added, modified, removed, True)
    prev = managers.get(key, {"set": set()})["set"]
    s = (prev - removed) | modified | added
    if s:
        managers[key] = {"set": s, "apiVersion": api_version, "time": now}
    else:
        managers.pop(key, None)
    return cap_updates(managers)


# Maps that a built-in kind's Go zero value already has (non-pointer structs): a create is
# compared against that zero object, so these are not "added" themselves (custom resources
# start from nothing). An approximation by shape: spec and status; a pod template's metadata
# and spec; a Deployment's strategy.
def zero_object(new):
    z = {"metadata": {}}
    spec = (new or {}).get("spec")
    if _is_dict(spec):
        z["spec"] = {}
        if _is_dict(spec.get("template")):
            z["spec"]["template"] = {"metadata": {"creationTimestamp": None}, "spec": {}}
        if new.get("kind") == "Deployment":
            z["spec"]["strategy"] = {}
    if _is_dict((new or {}).get("status")):
        z["status"] = {}
    return z


# ---------------------------------------------------------------------------------- apply
def merge(live, cfg, s):
    """structured-merge-diff's Merge of an applied configuration into the live object."""
    kind = _kind(s, cfg)
    if kind == "map" and _is_dict(live):
        out = dict(live)
        for k, cv in cfg.items():
            _, cs = _field(s, k)
            if cv is None:
                out.pop(k, None)
            elif k in out:
                out[k] = merge(out[k], cv, cs)
            else:
                out[k] = copy.deepcopy(cv)
        return out
    if kind == "list" and isinstance(live, list):
        lt, keys = _list_type(s)
        if lt == "atomic":
            return copy.deepcopy(cfg)
        its = (s or {}).get("items")
        out = copy.deepcopy(live)
        index = {_item_pe(it, lt, keys, its): i for i, it in enumerate(out)}
        for it in cfg:
            pe = _item_pe(it, lt, keys, its)
            if pe in index:
                out[index[pe]] = merge(out[index[pe]], it, its)
            else:
                index[pe] = len(out)
                out.append(copy.deepcopy(it))
        return out
    return copy.deepcopy(cfg)


def _remove(obj, path, s):
    """Remove the element at path from obj (in place); absent paths are ignored."""
    node, sch = obj, s
    for i, e in enumerate(path):
        last = i == len(path) - 1
        if e.startswith("f:"):
            if not _is_dict(node) or e[2:] not in node:
                return
            if last:
                del node[e[2:]]
                return
            _, sch = _field(sch, e[2:])
            node = node[e[2:]]
        else:
            if not isinstance(node, list):
                return
            lt, keys = _list_type(sch)
            its = (sch or {}).get("items")
            idx = [j for j, it in enumerate(node) if _item_pe(it, lt, keys, its) == e]
            if not idx:
                return
            if last:
                del node[idx[0]]
                return
            node, sch = node[idx[0]], its


def apply(managers, live, config, schema, manager, api_version, subresource, scope, force, now):
    managers = _copy(managers)
    rs = root_schema(schema)
    key = (manager, "Apply", "", subresource or "")
    base = live if live is not None else {}
    merged = merge(base, config, rs)
    last = managers.get(key, {"set": set()})["set"]
    cfg_set = set(walk(config, schema, scope))
    managers[key] = {"set": cfg_set, "apiVersion": api_version,
                     "time": managers.get(key, {}).get("time")}
    # prune: what the manager applied before and omits now goes, unless someone owns it
    owned = set()
    for m in managers.values():
        owned |= m["set"]
    owned_prefixes = {p[:i] for p in owned for i in range(1, len(p) + 1)}
    gone = sorted((p for p in last if p not in owned_prefixes), key=len)
    removed_roots = []
    for p in gone:
        if any(p[:len(r)] == r for r in removed_roots):
            continue
        _remove(merged, p, rs)
        removed_roots.append(p)
    added, modified, removed = compare(live, merged, schema, scope)
    _take(managers, key, added, modified, removed, force)
    if not managers[key]["set"]:
        del managers[key]
    elif added or modified or removed or managers[key]["time"] is None \
            or managers[key]["set"] != last:
        managers[key]["time"] = now
    return merged, cap_updates(managers)


def last_applied_allowed(live, schema, scope):
    """lastAppliedManager: the fields of the last-applied-configuration annotation whose values
    the live object still has (kubectl's server-side apply may take those over)."""
    ann = ((live or {}).get("metadata") or {}).get("annotations") or {}
    text = ann.get(LAST_APPLIED)
    if not text:
        return None
    try:
        la = json.loads(text)
    except ValueError:
        return None
    if not _is_dict(la) or la.get("apiVersion") != live.get("apiVersion"):
        return None
    added, modified, removed = compare(la, live, schema, scope)
    return set(walk(la, schema, scope)) - modified - added - removed


def build_last_applied(config):
    """lastAppliedUpdater's annotation value: the applied configuration without it."""
    c = copy.deepcopy(config)
    ann = (c.get("metadata") or {}).get("annotations")
    if _is_dict(ann):
        ann.pop(LAST_APPLIED, None)
    return json.dumps(c, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"
