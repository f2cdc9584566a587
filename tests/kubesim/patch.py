"""Patch algorithms of kube-apiserver: JSON merge patch, JSON patch, strategic merge patch.

Reference behaviour (reimplemented, not transliterated):
- merge_patch: RFC 7386 as gopkg.in/evanphx/json-patch.v4 MergePatch implements it
  (the library the apiserver uses): null deletes a key, objects merge recursively,
  anything else replaces; nulls inside newly added objects are pruned.
- json_patch: RFC 6902 as evanphx/json-patch v4 Patch.Apply implements it (including its
  quirks: negative array indices allowed, "replace" of a missing object key adds it,
  "test" treats a missing member and null alike). The apiserver reports every
  application failure as 422 Invalid with the fixed message
  "the server rejected our request due to an error in our request" (it builds the
  Status with errors.NewGenericServerResponse, which drops the library's text);
  the library's text is kept in PatchError.detail for logs. A body that is not a
  list of operation objects is 400 BadRequest with Go's json decoding message.
- strategic_merge_patch: k8s.io/apimachinery/pkg/util/strategicpatch with the options the
  apiserver uses (MergeParallelList, IgnoreUnmatchedNulls), driven by the OpenAPI
  extensions x-kubernetes-patch-merge-key / x-kubernetes-patch-strategy of the schema.
  Directives: $patch (replace/delete in maps; replace/delete in list elements;
  "merge" is an error exactly as in the library), $retainKeys,
  $deleteFromPrimitiveList/<f>, $setElementOrder/<f>. Anything the library would reject
  is a PatchError with the status the apiserver answers (see "Error mapping" below).

Verification: test_unit_patch.py runs kubectl 1.32's own implementations locally
(`kubectl patch --local --type strategic|json|merge`, which vendor the same library versions
as kube-apiserver 1.32) as the reference: fixed cases, the patch metadata of every list of
every built-in kind, and seeded random patches (strategic, JSON and merge).

Known, deliberate differences from the library (none changes what a decoded object holds):
- nulls inside list elements that a strategic merge patch appends are dropped (the library
  keeps them; Go's decoding turns them into absent fields anyway);
- a $deleteFromPrimitiveList/<f> whose list holds objects is refused (400 "invalid patch
  format of primitive list") where the library would merge the "deletion list" as a patch;
- where the library's result depends on Go's random map iteration order (a patch that both
  merges into and deletes from the same primitive list, or that fails in two places) kubesim
  is deterministic: keys in patch order;
- duplicate merge keys inside one patch list follow the library only approximately (Go slice
  aliasing on appended elements is not modelled there).

Interface (see /work/notes/kubesim-spec.md):
    PatchError(Exception): code, reason, message (+ detail: library text, may be "")
        code is 400/409/413/422 or 500 (library errors the apiserver passes through
        unconverted come back as 500 with an empty reason, exactly like the real server).
        PatchError.panic is True where the real server's library panics (a JSON patch "test"
        without "value" on a missing member): kube-apiserver then answers 500 with the
        text/plain body "This request caused apiserver to panic. Look in the logs for
        details." instead of a Status; the caller may reproduce that.
    merge_patch(target, patch) -> new object
    json_patch(target, ops) -> new object
    strategic_merge_patch(target, patch, schema) -> new object
No I/O; inputs are never modified.

REQUESTS (to A1, optional): when PatchError.panic is set, answer like kube-apiserver's panic
filter (500, Content-Type text/plain, body e.message) instead of a Status object.
"""

import copy

__all__ = ["PatchError", "merge_patch", "json_patch", "strategic_merge_patch"]

INVALID_JSON_PATCH_MESSAGE = "the server rejected our request due to an error in our request"
MAX_JSON_PATCH_OPERATIONS = 10000   # apiserver's maxJSONPatchOperations


class PatchError(Exception):
    """A patch the apiserver refuses. code 400/422/409, reason as in metav1.Status."""

    def __init__(self, code, reason, message, detail=""):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.detail = detail
        self.panic = False

    def __str__(self):
        return self.message


def _bad_request(message):
    return PatchError(400, "BadRequest", message, message)


def _go_type(v):
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "null"


# --------------------------------------------------------------------------
# JSON merge patch (RFC 7386, evanphx/json-patch v4 flavour)
# --------------------------------------------------------------------------
def _prune_nulls(v):
    if isinstance(v, dict):
        for k in [k for k, x in v.items() if x is None]:
            del v[k]
        for x in v.values():
            _prune_nulls(x)
    elif isinstance(v, list):
        for x in v:
            if x is not None:
                _prune_nulls(x)
    return v


def _merge_docs(doc, patch):
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
            continue
        cur = doc.get(k)
        if cur is None:
            doc[k] = _prune_nulls(v)
        elif not isinstance(cur, dict):
            doc[k] = _prune_nulls(v)
        elif not isinstance(v, dict):
            doc[k] = v
        else:
            _merge_docs(cur, v)


def merge_patch(target, patch):
    """application/merge-patch+json. A patch that is not a JSON object is refused the way
    the apiserver refuses it (400 "Invalid JSON Patch")."""
    if not isinstance(patch, dict):
        raise _bad_request("Invalid JSON Patch")
    doc = copy.deepcopy(target) if isinstance(target, dict) else {}
    _merge_docs(doc, copy.deepcopy(patch))
    return doc


# --------------------------------------------------------------------------
# JSON patch (RFC 6902, evanphx/json-patch v4 flavour)
# --------------------------------------------------------------------------
class _OpFailed(Exception):
    pass


class _Panic(Exception):
    """Inputs on which the apiserver's JSON patch library panics."""


APISERVER_PANIC_MESSAGE = "This request caused apiserver to panic. Look in the logs for details."


def _decode_key(k):
    return k.replace("~1", "/").replace("~0", "~")


def _atoi(key):
    s = key
    if s[:1] in "+-":
        s = s[1:]
    if not s or not s.isdigit() or not s.isascii():
        raise _OpFailed('strconv.Atoi: parsing "%s": invalid syntax' % key)
    return int(key)


def _get(con, key):
    if isinstance(con, dict):
        return con.get(key)
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(con):
            raise _OpFailed("Unable to access invalid index: %d: invalid index referenced" % idx)
        idx += len(con)
    if idx >= len(con):
        raise _OpFailed("Unable to access invalid index: %d: invalid index referenced" % idx)
    return con[idx]


def _add(con, key, val):
    if isinstance(con, dict):
        con[key] = val
        return
    if key == "-":
        con.append(val)
        return
    try:
        idx = _atoi(key)
    except _OpFailed as e:
        raise _OpFailed("value was not a proper array index: '%s': %s" % (key, e))
    size = len(con) + 1
    if idx >= size:
        raise _OpFailed("Unable to access invalid index: %d: invalid index referenced" % idx)
    if idx < 0:
        if idx < -size:
            raise _OpFailed("Unable to access invalid index: %d: invalid index referenced" % idx)
        idx += size
    con.insert(idx, val)


def _set(con, key, val):
    if isinstance(con, dict):
        con[key] = val
        return
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(con):
            raise _OpFailed("Unable to access invalid index: %d: invalid index referenced" % idx)
        idx += len(con)
    con[idx] = val


def _remove(con, key):
    if isinstance(con, dict):
        if key not in con:
            raise _OpFailed("Unable to remove nonexistent key: %s: missing value" % key)
        del con[key]
        return
    idx = _atoi(key)
    if idx >= len(con):
        raise _OpFailed("Unable to access invalid index: %d: invalid index referenced" % idx)
    if idx < 0:
        if idx < -len(con):
            raise _OpFailed("Unable to access invalid index: %d: invalid index referenced" % idx)
        idx += len(con)
    del con[idx]


def _find_object(doc, path):
    split = path.split("/")
    if len(split) < 2:
        return None, ""
    con = doc
    for part in split[1:-1]:
        try:
            nxt = _get(con, _decode_key(part))
        except _OpFailed:
            return None, ""
        if not isinstance(nxt, (dict, list)):
            return None, ""
        con = nxt
    return con, _decode_key(split[-1])


def _strict_equal(a, b):
    """Equality as the library sees JSON (1 != 1.0 != true; objects/arrays structural)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return type(a) is type(b) and a == b
    return type(a) is type(b) and a == b


def _op_path(op, field, what):
    v = op.get(field)
    if v is None:
        raise _OpFailed("%s: missing value" % what)
    if not isinstance(v, str):
        raise _OpFailed("json: cannot unmarshal %s into Go value of type string" % _go_type(v))
    return v


def _apply_op(holder, op):
    """holder: one-element list holding the document (so the root can be replaced)."""
    kind = op.get("op")
    if not isinstance(kind, str):
        kind = "unknown"
    doc = holder[0]
    if kind == "add":
        path = _op_path(op, "path", "add operation failed to decode path")
        con, key = _find_object(doc, path)
        if con is None:
            raise _OpFailed('add operation does not apply: doc is missing path: "%s": missing value' % path)
        try:
            _add(con, key, copy.deepcopy(op.get("value")))
        except _OpFailed as e:
            raise _OpFailed("error in add for path: '%s': %s" % (path, e))
    elif kind == "remove":
        path = _op_path(op, "path", "remove operation failed to decode path")
        con, key = _find_object(doc, path)
        if con is None:
            raise _OpFailed('remove operation does not apply: doc is missing path: "%s": missing value' % path)
        try:
            _remove(con, key)
        except _OpFailed as e:
            raise _OpFailed("error in remove for path: '%s': %s" % (path, e))
    elif kind == "replace":
        path = _op_path(op, "path", "replace operation failed to decode path")
        if path == "":
            val = op.get("value")
            if not isinstance(val, (dict, list)):
                # the library means to fail here ("replace operation value must be object or
                # array") but wraps a nil error, which is nil: the operation is a no-op
                return
            holder[0] = copy.deepcopy(val)
            return
        con, key = _find_object(doc, path)
        if con is None:
            raise _OpFailed("replace operation does not apply: doc is missing path: %s: missing value" % path)
        try:
            _get(con, key)
        except _OpFailed:
            raise _OpFailed("replace operation does not apply: doc is missing key: %s: missing value" % path)
        _set(con, key, copy.deepcopy(op.get("value")))
    elif kind == "move":
        frm = _op_path(op, "from", "move operation failed to decode from: operation, missing from field")
        con, key = _find_object(doc, frm)
        if con is None:
            raise _OpFailed("move operation does not apply: doc is missing from path: %s: missing value" % frm)
        try:
            val = _get(con, key)
            _remove(con, key)
        except _OpFailed as e:
            raise _OpFailed("error in move for path: '%s': %s" % (key, e))
        path = _op_path(op, "path", "move operation failed to decode path")
        con, key = _find_object(doc, path)
        if con is None:
            raise _OpFailed("move operation does not apply: doc is missing destination path: %s: missing value" % path)
        try:
            _add(con, key, val)
        except _OpFailed as e:
            raise _OpFailed("error in move for path: '%s': %s" % (path, e))
    elif kind == "copy":
        frm = _op_path(op, "from", "copy operation failed to decode from: operation, missing from field")
        con, key = _find_object(doc, frm)
        if con is None:
            raise _OpFailed("copy operation does not apply: doc is missing from path: %s: missing value" % frm)
        try:
            val = _get(con, key)
        except _OpFailed as e:
            raise _OpFailed("error in copy for from: '%s': %s" % (frm, e))
        path = _op_path(op, "path", "copy operation failed to decode path")
        con, key = _find_object(doc, path)
        if con is None:
            raise _OpFailed("copy operation does not apply: doc is missing destination path: %s: missing value" % path)
        try:
            _add(con, key, copy.deepcopy(val))
        except _OpFailed as e:
            raise _OpFailed("error while adding value during copy: %s" % e)
    elif kind == "test":
        path = _op_path(op, "path", "test operation failed to decode path")
        if path == "":
            if "value" not in op:
                raise _Panic("runtime error: invalid memory address or nil pointer dereference")
            if _strict_equal(doc, op["value"]):
                return
            raise _OpFailed("testing value %s failed: test failed" % path)
        con, key = _find_object(doc, path)
        if con is None:
            raise _OpFailed("test operation does not apply: is missing path: %s: missing value" % path)
        try:
            val = _get(con, key)
        except _OpFailed as e:
            raise _OpFailed("error in test for path: '%s': %s" % (path, e))
        if val is None:
            if "value" not in op:
                # the library dereferences the missing value here (evanphx/json-patch v4.12.0)
                raise _Panic("runtime error: invalid memory address or nil pointer dereference")
            if op["value"] is None:
                return
            raise _OpFailed("testing value %s failed: test failed" % path)
        if "value" not in op or not _strict_equal(val, op["value"]):
            raise _OpFailed("testing value %s failed: test failed" % path)
    else:
        raise _OpFailed("Unexpected kind: %s" % kind)


def json_patch(target, ops):
    """application/json-patch+json: apply RFC 6902 operations to a copy of target."""
    if not isinstance(ops, list):
        raise _bad_request("json: cannot unmarshal %s into Go value of type jsonpatch.Patch" % _go_type(ops))
    for op in ops:
        if not isinstance(op, dict):
            raise _bad_request("json: cannot unmarshal %s into Go value of type jsonpatch.Operation"
                               % _go_type(op))
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        msg = "The allowed maximum operations in a JSON patch is %d, got %d" % (MAX_JSON_PATCH_OPERATIONS, len(ops))
        raise PatchError(413, "RequestEntityTooLarge", "Request entity too large: " + msg, msg)
    holder = [copy.deepcopy(target)]
    for op in ops:
        try:
            _apply_op(holder, op)
        except _OpFailed as e:
            raise PatchError(422, "Invalid", INVALID_JSON_PATCH_MESSAGE, str(e))
        except _Panic as e:
            # kube-apiserver's panic filter answers 500 with this text/plain body (no Status)
            err = PatchError(500, "", APISERVER_PANIC_MESSAGE, "panic: %s" % e)
            err.panic = True
            raise err
    return holder[0]


# --------------------------------------------------------------------------
# Strategic merge patch
# --------------------------------------------------------------------------
# Error mapping as the apiserver does it (interpretStrategicMergePatchError): the library's
# format errors -> 400 BadRequest; lists of lists / retainKeys mismatch -> 422 Invalid with
# the generic message; every other library error is returned unconverted, which the
# apiserver turns into 500 with an empty reason and the library's text as message
# (kubectl shows "Error from server: map: map[image:z] does not contain declared merge
# key: name"). The one thing kubesim refuses although the library would not is a
# $deleteFromPrimitiveList of objects (the library then merges the "deletion list" as if it
# were a patch): 400 BadRequest "invalid patch format of primitive list".

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER_PREFIX = "$setElementOrder"
DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList"

ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ORDER = "invalid patch format of setElementOrder list"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"


def _lib_error(message):
    """An error the apiserver passes through unconverted: 500, no reason."""
    return PatchError(500, "", message, message)


def _format_error(message):
    return PatchError(400, "BadRequest", message, message)


def _invalid_error(message):
    return PatchError(422, "Invalid", INVALID_JSON_PATCH_MESSAGE, message)


def _gov(v):
    """Go's %v for decoded JSON values (as in the library's error messages)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e21:
            return "%d" % v if abs(v) < 1e6 else _gofloat(v)
        return _gofloat(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, _gov(v[k])) for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_gov(x) for x in v) + "]"
    return str(v)


def _gofloat(f):
    try:
        from schema import go_float
    except ImportError:  # pragma: no cover
        return repr(f)
    return go_float(f)


def _go_typename(v):
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    return "<nil>"


def _bad_arg_type(expected, actual):
    return _lib_error("expected a %s, but received a %s" % (_go_typename(expected), _go_typename(actual)))


def _no_merge_key(m, key):
    return _lib_error("map: %s does not contain declared merge key: %s" % (_gov(m), key))


def _unwrap(s):
    """Follow single-element allOf wrappers (OpenAPI v3 $ref style) to the real schema."""
    while isinstance(s, dict) and "allOf" in s and len(s["allOf"]) == 1 and not s.get("properties"):
        inner = s["allOf"][0]
        merged = dict(inner)
        for k, v in s.items():
            if k != "allOf":
                merged[k] = v
        s = merged
    return s if isinstance(s, dict) else None


class _Meta:
    __slots__ = ("strategies", "merge_key")

    def __init__(self, field_schema):
        fs = field_schema or {}
        strat = fs.get("x-kubernetes-patch-strategy") or ""
        self.strategies = [x for x in strat.split(",") if x] if strat else []
        self.merge_key = fs.get("x-kubernetes-patch-merge-key") or ""


def _lookup_struct(schema, key):
    """(subschema for the value of `key` in an object, patch meta of that field)."""
    s = _unwrap(schema)
    if not s:
        return None, _Meta(None)
    props = s.get("properties") or {}
    if key in props:
        sub = _unwrap(props[key])
        return sub, _Meta(sub)
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        sub = _unwrap(ap)
        return sub, _Meta(sub)
    return None, _Meta(None)


def _lookup_slice(schema, key):
    """(schema of the list's items, patch meta of the list field)."""
    sub, meta = _lookup_struct(schema, key)
    items = _unwrap(sub.get("items")) if sub else None
    return items, meta


def _retain_keys_strategy(strategies):
    if len(strategies) == 0:
        return ""
    if len(strategies) == 1:
        return "" if strategies[0] == "retainKeys" else strategies[0]
    if len(strategies) == 2:
        if strategies[0] == "retainKeys":
            return strategies[1]
        if strategies[1] == "retainKeys":
            return strategies[0]
    raise _lib_error("unexpected patch strategy: [%s]" % " ".join(strategies))


def _extract_key(s, prefix):
    parts = s.split("/", 1)
    if len(parts) != 2:
        if prefix == DELETE_PRIMITIVE_PREFIX:
            raise _format_error(ERR_BAD_PRIMITIVE_LIST)
        raise _format_error(ERR_BAD_SET_ORDER)
    return parts[1]


def _discard_nulls(v):
    if isinstance(v, dict):
        for k in [k for k, x in v.items() if x is None]:
            del v[k]
        for x in v.values():
            _discard_nulls(x)
    elif isinstance(v, list):
        for x in v:
            _discard_nulls(x)
    return v


def _same_kind(a, b):
    """reflect.TypeOf(a) == reflect.TypeOf(b) for decoded JSON."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict)
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list)
    return type(a) is type(b)


def _go_eq(a, b):
    """Go's == on interface{} holding JSON scalars (maps/slices are not comparable)."""
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        raise _lib_error("runtime error: comparing uncomparable type %s" % _go_typename(a if isinstance(a, (dict, list)) else b))
    return type(a) is type(b) and a == b


def _merge_map(original, patch, schema):
    if DIRECTIVE in patch:
        d = patch[DIRECTIVE]
        if d == "replace":
            # the library returns the patch itself, verbatim (see _fresh)
            return _discard_nulls(copy.deepcopy({k: v for k, v in patch.items() if k != DIRECTIVE}))
        if d == "delete":
            return {}
        raise _lib_error("unknown patch type: %s in map: %s" % (_gov(d), _gov(patch)))
    if original is None:
        original = {}
    patch = dict(patch)
    _apply_retain_keys(original, patch)
    _merge_set_element_order(original, patch, schema)
    for k in list(patch):
        pv = patch[k]
        is_delete_list = False
        if k.startswith(SET_ORDER_PREFIX):
            continue  # handled (and validated) by _merge_set_element_order
        if k.startswith(DELETE_PRIMITIVE_PREFIX):
            is_delete_list = True
            k = _extract_key(k, DELETE_PRIMITIVE_PREFIX)
        if pv is None:
            original.pop(k, None)
            continue
        if k not in original:
            if not is_delete_list:
                _set_fresh(original, k, pv)
            continue
        ov = original[k]
        if not _same_kind(ov, pv):
            if not is_delete_list:
                _set_fresh(original, k, pv)
            continue
        if isinstance(ov, dict):
            sub, meta = _lookup_struct(schema, k)
            strategy = _retain_keys_strategy(meta.strategies)
            if is_delete_list:
                raise _format_error(ERR_BAD_PRIMITIVE_LIST)
            if strategy == "replace":
                _set_fresh(original, k, pv)
            else:
                original[k] = _merge_map(ov, pv, sub)
        elif isinstance(ov, list):
            items, meta = _lookup_slice(schema, k)
            strategy = _retain_keys_strategy(meta.strategies)
            original[k] = _merge_slice_handler(ov, pv, items, strategy, meta.merge_key, is_delete_list)
        else:
            original[k] = pv
    return original


_DROP = object()


def _fresh(pv):
    """The value stored for a key the original lacks (or holds with another JSON type).

    Observed library behaviour (checked against kubectl's local strategic merge): the patch
    value is taken as is, except that nulls are discarded and every object that carries a
    "$patch" key (whatever its value) is dropped, at any depth (from its parent object or
    list); when the value itself carries "$patch" the key ends up absent (_DROP). Other
    directives ($retainKeys, $setElementOrder/..., $deleteFromPrimitiveList/...) stay in the
    value verbatim; the apiserver's decoding then reports them as unknown fields under
    fieldValidation=Strict (A2's pruning does the same) and drops them otherwise."""
    def strip(v):
        if isinstance(v, dict):
            if DIRECTIVE in v:
                return _DROP
            out = {}
            for k, x in v.items():
                if x is None:
                    continue
                x = strip(x)
                if x is not _DROP:
                    out[k] = x
            return out
        if isinstance(v, list):
            return [y for y in (strip(x) for x in v) if y is not _DROP]
        return v
    return strip(copy.deepcopy(pv))


def _set_fresh(original, k, pv):
    v = _fresh(pv)
    if v is _DROP:
        original.pop(k, None)
    else:
        original[k] = v


def _apply_retain_keys(original, patch):
    if RETAIN_KEYS not in patch:
        return
    keys = patch.pop(RETAIN_KEYS)
    if not isinstance(keys, list):
        raise _format_error(ERR_BAD_RETAIN_KEYS)
    keep = {x for x in keys if isinstance(x, str)}   # other entries can never match a key
    for k, v in patch.items():
        if v is None or k.startswith(DELETE_PRIMITIVE_PREFIX) or k.startswith(SET_ORDER_PREFIX):
            continue
        if k not in keep:
            raise _format_error(ERR_BAD_RETAIN_KEYS)
    for k in list(original):
        if k not in keep:
            del original[k]


def _slice_element_kind(*lists):
    prev = None
    for lst in lists:
        for v in lst:
            if prev is None:
                if v is None:
                    raise _lib_error("list element types are not identical: %s" % " ".join(_gov(l) for l in lists))
                prev = v
                if isinstance(v, list):
                    raise _invalid_error(ERR_NO_LIST_OF_LISTS)
            elif not _same_kind(prev, v):
                raise _lib_error("list element types are not identical: [%s]" % " ".join(_gov(l) for l in lists))
    if prev is None:
        raise _lib_error("no elements in any of the given slices")
    return "map" if isinstance(prev, dict) else "scalar"


def _merge_slice_handler(original, patch, items_schema, strategy, merge_key, is_delete_list):
    if strategy == "merge" or is_delete_list:
        return _merge_slice(original, copy.deepcopy(patch), items_schema, merge_key, is_delete_list)
    return _discard_nulls(copy.deepcopy(patch))


def _merge_slice(original, patch, items_schema, merge_key, is_delete_list):
    if not original and not patch:
        return list(original)
    kind = _slice_element_kind(original, patch)
    original = list(original)
    if kind != "map":
        if is_delete_list:
            return [x for x in original if not any(_go_eq(x, p) for p in patch)]
        merged = []
        for x in original + patch:
            if not any(_go_eq(x, y) for y in merged):
                merged.append(x)
    else:
        if is_delete_list:
            raise _format_error(ERR_BAD_PRIMITIVE_LIST)
        if not merge_key:
            raise _lib_error("cannot merge lists without merge key for %s" % "")
        original, patch = _merge_special_elements(original, patch, merge_key)
        merged = _merge_without_special(original, patch, merge_key, items_schema)
    if not merge_key:
        patch_items, server_only = _partition_primitives(merged, patch)
    else:
        patch_items, server_only = _partition_maps(merged, patch, merge_key)
    return _normalize_element_order(patch_items, server_only, patch, original, merge_key, kind)


def _merge_special_elements(original, patch, merge_key):
    rest = []
    replace = False
    for v in patch:
        if not isinstance(v, dict):
            raise _bad_arg_type({}, v)
        if DIRECTIVE not in v:
            rest.append(v)
            continue
        d = v[DIRECTIVE]
        if d == "delete":
            if merge_key not in v:
                raise _no_merge_key(v, merge_key)
            mv = v[merge_key]
            original = [x for x in original
                        if not (isinstance(x, dict) and merge_key in x and _go_eq(x[merge_key], mv))]
        elif d == "replace":
            replace = True
        elif d == "merge":
            raise _lib_error("merging lists cannot yet be specified in the patch")
        else:
            raise _lib_error("unknown patch type: %s in map: %s" % (_gov(d), _gov(v)))
    if replace:
        return rest, []
    return original, rest


def _find_by_key(lst, key, value):
    for i, v in enumerate(lst):
        if not isinstance(v, dict):
            raise _lib_error("value for key %d is not a map" % i)
        if key in v and _go_eq(v[key], value):
            return i
    return -1


def _merge_without_special(original, patch, merge_key, items_schema):
    # a new list: the caller keeps the unmerged original as the "server order" (Go's append
    # on a local slice header), which places new patch items before server-only ones
    original = list(original)
    for v in patch:
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        i = _find_by_key(original, merge_key, v[merge_key])
        if i >= 0:
            original[i] = _merge_map(original[i], v, items_schema)
        else:
            # appended verbatim like the library (which keeps nulls too; they decode to the
            # zero value, i.e. the field is absent, so they are dropped here)
            original.append(_discard_nulls(copy.deepcopy(v)))
    return original


def _partition_primitives(lst, by):
    p, s = [], []
    for v in lst:
        (p if any(_go_eq(v, b) for b in by) else s).append(v)
    return p, s


def _partition_maps(lst, by, merge_key):
    p, s = [], []
    for v in lst:
        if not isinstance(v, dict):
            raise _bad_arg_type({}, v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        (p if _find_by_key(by, merge_key, v[merge_key]) >= 0 else s).append(v)
    return p, s


def _index(lst, item, merge_key, kind):
    if kind == "map":
        want = item.get(merge_key) if isinstance(item, dict) else None
        for i, v in enumerate(lst):
            got = v.get(merge_key) if isinstance(v, dict) else None
            if type(want) is type(got) and want == got and not isinstance(want, (dict, list)):
                return i
        return -1
    for i, v in enumerate(lst):
        if _go_eq(item, v):
            return i
    return -1


def _normalize_slice_order(to_sort, order, merge_key, kind):
    to_delete = []
    if kind == "map":
        for lst in (to_sort, order):
            for it in lst:
                if not isinstance(it, dict):
                    raise _bad_arg_type({}, it)
                if merge_key not in it:
                    raise _no_merge_key(it, merge_key)
        for it in order:
            if it.get(DIRECTIVE) == "delete":
                to_delete.append(it)
    to_sort = list(to_sort)

    def less(a, b):
        ia = _index(order, a, merge_key, kind)
        if ia >= 0:
            ib = _index(order, b, merge_key, kind)
            if ib >= 0:
                return ia < ib
        return True

    # sort.SliceStable: insertion sort (exact for the short lists objects have)
    for i in range(1, len(to_sort)):
        j = i
        while j > 0 and less(to_sort[j], to_sort[j - 1]):
            to_sort[j], to_sort[j - 1] = to_sort[j - 1], to_sort[j]
            j -= 1
    if to_delete:
        to_sort = [x for x in to_sort if not any(_deep_eq(x, d) for d in to_delete)]
    return to_sort


def _deep_eq(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_deep_eq(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_eq(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _merge_sorted_slice(left, right, server_order, merge_key, kind):
    out = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], merge_key, kind)
            ri = _index(server_order, right[j], merge_key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _normalize_element_order(patch, server_only, patch_order, server_order, merge_key, kind):
    patch = _normalize_slice_order(patch, patch_order, merge_key, kind)
    server_only = _normalize_slice_order(server_only, server_order, merge_key, kind)
    return _merge_sorted_slice(server_only, patch, server_order, merge_key, kind)


def _merge_set_element_order(original, patch, schema):
    for key in [k for k in patch if k.startswith(SET_ORDER_PREFIX)]:
        order = patch.pop(key)
        okey = _extract_key(key, SET_ORDER_PREFIX)
        if not isinstance(order, list):
            raise _format_error(ERR_BAD_SET_ORDER)
        found_o = okey in original and original[okey] is not None
        found_p = okey in patch and patch[okey] is not None
        ov = original.get(okey) if found_o else []
        pv = patch.get(okey) if found_p else []
        if found_o and not isinstance(ov, list):
            raise _bad_arg_type([], ov)
        if found_p and not isinstance(pv, list):
            raise _bad_arg_type([], pv)
        items, meta = _lookup_slice(schema, okey)
        strategy = _retain_keys_strategy(meta.strategies)
        mk = meta.merge_key
        _validate_patch_with_set_order(pv, order, mk)
        if not found_o and not found_p:
            continue
        kind = _slice_element_kind(ov, pv)
        if found_o and not found_p:
            merged = ov
        elif not found_o and found_p:
            # the list is new: its value is the patch list with every "$patch" object removed
            merged = _fresh(pv)
        server_order = ov
        if found_o and found_p:
            merged = _merge_slice_handler(ov, pv, items, strategy, mk, False)
            if strategy == "merge" and kind == "map" and mk:
                server_order = _aliased_view(ov, pv, mk)
        if not mk:
            patch_items, server_only = _partition_primitives(merged, order)
        else:
            patch_items, server_only = _partition_maps(merged, order, mk)
        original[okey] = _normalize_element_order(patch_items, server_only, order, server_order, mk, kind)
        patch.pop(okey, None)


def _aliased_view(ov, patch, merge_key):
    """The live list as the library sees it *after* merging the patch list into it.

    In Go, mergePatchIntoOriginal keeps its own slice header of the live list while
    mergeSlice deletes elements in place (append(s[:i], s[i+1:]...) shifts the shared backing
    array) and appends new elements into the freed capacity. The live list used to order
    server-only items therefore shows the shifted elements, a stale copy of the old last
    element and the first appended elements. The apiserver's live lists have cap == len
    (runtime.DefaultUnstructuredConverter), so only positions below len(ov) are visible.
    This decides e.g. that deleting one container and adding another under
    $setElementOrder keeps the survivor first (checked against kubectl)."""
    arr = list(ov)
    n = length = len(arr)
    cur = list(ov)          # the slice mergeSlice works on (its own header)

    def find(v):
        for i, x in enumerate(cur):
            if isinstance(x, dict) and merge_key in x and _same_scalar(x[merge_key], v):
                return i
        return -1

    for v in patch:
        if isinstance(v, dict) and v.get(DIRECTIVE) == "delete" and merge_key in v:
            while True:
                i = find(v[merge_key])
                if i < 0:
                    break
                # append(cur[:i], cur[i+1:]...) shifts the shared backing array
                arr[i:length - 1] = arr[i + 1:length]
                length -= 1
                del cur[i]
    if any(isinstance(v, dict) and v.get(DIRECTIVE) == "replace" for v in patch):
        return arr
    for v in patch:
        if not isinstance(v, dict) or DIRECTIVE in v or merge_key not in v:
            continue
        if find(v[merge_key]) >= 0:
            continue
        if length < n:
            arr[length] = v     # append into the freed capacity, visible to the caller
        length += 1
        cur.append(v)
    return arr


def _same_scalar(a, b):
    return type(a) is type(b) and a == b and not isinstance(a, (dict, list))


def _validate_patch_with_set_order(patch_list, order, merge_key):
    if not order or not patch_list:
        return
    if merge_key:
        non_delete = []
        for v in patch_list:
            if not isinstance(v, dict):
                raise _bad_arg_type({}, v)
            if v.get(DIRECTIVE) != "delete":
                non_delete.append(v)
    else:
        non_delete = list(patch_list)
    pi = si = 0
    while pi < len(non_delete) and si < len(order):
        if isinstance(non_delete[pi], dict) and DIRECTIVE in non_delete[pi]:
            pi += 1
            continue
        if merge_key:
            a, b = non_delete[pi], order[si]
            if not isinstance(a, dict) or not isinstance(b, dict):
                raise _bad_arg_type({}, a if not isinstance(a, dict) else b)
            if merge_key not in a:
                raise _no_merge_key(a, merge_key)
            if merge_key not in b:
                raise _no_merge_key(b, merge_key)
            eq = _go_eq(a[merge_key], b[merge_key])
        else:
            eq = _go_eq(non_delete[pi], order[si])
        if eq:
            pi += 1
        si += 1
    if pi < len(non_delete) and si >= len(order):
        raise _lib_error("The order in patch list:\n%s\n doesn't match %s list:\n%s\n"
                         % (_gov(patch_list), SET_ORDER_PREFIX, _gov(order)))


def strategic_merge_patch(target, patch, schema):
    """application/strategic-merge-patch+json against `target` (not modified).

    schema: the kind's OpenAPI v3 schema (builtin_schemas); lists carry
    x-kubernetes-patch-merge-key / x-kubernetes-patch-strategy. schema=None means no patch
    metadata at all (maps merge, lists are replaced); the apiserver refuses strategic merge
    patches for custom resources (415) before getting here, which is the caller's job.
    """
    if patch is None:
        patch = {}
    if not isinstance(patch, dict):
        raise _format_error("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                            % _go_type(patch))
    original = copy.deepcopy(target) if isinstance(target, dict) else {}
    return _merge_map(original, copy.deepcopy(patch), _unwrap(schema))
