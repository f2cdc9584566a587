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
  is a PatchError (400 BadRequest, message as the library words it).

Interface (see /work/notes/kubesim-spec.md):
    PatchError(Exception): code, reason, message (+ detail: library text, may be "")
    merge_patch(target, patch) -> new object
    json_patch(target, ops) -> new object
    strategic_merge_patch(target, patch, schema) -> new object
No I/O; inputs are never modified.
"""

import copy

__all__ = ["PatchError", "merge_patch", "json_patch", "strategic_merge_patch"]

INVALID_JSON_PATCH_MESSAGE = "the server rejected our request due to an error in our request"


class PatchError(Exception):
    """A patch the apiserver refuses. code 400/422/409, reason as in metav1.Status."""

    def __init__(self, code, reason, message, detail=""):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.detail = detail

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
                raise _OpFailed("replace operation value must be object or array")
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
            if "value" in op and _strict_equal(doc, op["value"]):
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
            if "value" not in op or op["value"] is None:
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
    holder = [copy.deepcopy(target)]
    for op in ops:
        try:
            _apply_op(holder, op)
        except _OpFailed as e:
            raise PatchError(422, "Invalid", INVALID_JSON_PATCH_MESSAGE, str(e))
    return holder[0]


# --------------------------------------------------------------------------
# Strategic merge patch
# --------------------------------------------------------------------------
def strategic_merge_patch(target, patch, schema):
    raise PatchError(400, "BadRequest", "strategic merge patch is not implemented yet in kubesim")
