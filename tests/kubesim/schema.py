"""Structural OpenAPI v3 schemas as kube-apiserver uses them for custom resources.

Reimplements the behaviour of apiextensions-apiserver (pkg/apiserver/schema:
structural schema checks, pruning, defaulting) and of its validation path
(k8s.io/kube-openapi/pkg/validation/validate, with the errors converted to
field errors by apiextensions' kubeOpenAPIResultToFieldErrors). Causes come in
the metav1.StatusCause form the apiserver sends:
    {"reason": "FieldValueInvalid", "message": "Invalid value: 0: spec.replicas in body
     should be greater than or equal to 1", "field": "spec.replicas"}
The message is field.Error.ErrorBody() (without the field path); the Status message
the server builds is "<field>: <message>" joined, A2/A1 do that.

Interface (see /work/notes/kubesim-spec.md):
    validate(value, schema, path="") -> list[cause]
    apply_defaults(value, schema) -> None      (PruneNonNullableNullsWithoutDefaults + Default)
    prune(value, schema, path="") -> list[str] (unknown-field paths, ".spec.foo", sorted)
    check_structural(schema) -> list[str]      ("<path>: <error body>", path relative to the
                                                 openAPIV3Schema root, e.g.
                                                 "properties[spec].type: Required value: must not
                                                 be empty for specified object fields")
Extensions (additive, optional):
    prune(..., is_resource_root=True)  root object keeps apiVersion/kind/metadata (as the apiserver
                                       does for a whole custom resource); pass False for a subtree.
    check_structural_causes(schema, base) -> causes with field paths prefixed by `base`
                                       (e.g. "spec.versions[0].schema.openAPIV3Schema").
    unsupported_features(schema) -> list[str]: keywords kubesim cannot evaluate (CEL rules in
                                       x-kubernetes-validations); A2 should refuse such CRDs loudly.
    go_value(v) -> str: a value printed the way the apiserver's messages print it.
    go_roundtrip(obj, schema) -> obj: for BUILT-IN kinds, drop what Go's decode/encode would drop
                                       (nulls, empty optional lists/maps), e.g. after a patch.

Differences from the apiserver that remain (documented, not silent):
- pattern: OpenAPI says ECMA-262, but the apiserver compiles patterns with Go's RE2 (unanchored
  search, like ECMA's RegExp.test). kubesim translates RE2 to Python `re` (_re2_to_python):
  "$" means end of text (Python's "$" also matches before a final newline; ECMA's "$" without
  the m flag is end of input too), "\\z" -> "\\Z", "(?<name>" -> "(?P<name>", \\d\\w\\s ASCII;
  constructs RE2 (and so the apiserver) rejects but Python/ECMA accept -- lookarounds,
  backreferences, atomic groups, possessive quantifiers -- are rejected with Go's error text.
  Remaining differences: RE2 \\pL classes and \\Q..\\E are unknown to Python (the pattern is
  reported as not evaluable, loudly); ECMA-only syntax such as \\u0041 or /.../flags is not
  special-cased beyond rejecting the escapes RE2 lacks (\\u, \\Z, \\g, \\k, ...).
- format: date-time, date, int32, int64, float, double, byte, uuid, email (approx.),
  hostname, ipv4, ipv6, cidr are checked; other formats are accepted like the apiserver
  accepts unknown formats.
- x-kubernetes-validations (CEL) is not evaluated: see unsupported_features().
"""

import base64
import copy
import ipaddress
import json
import re
from decimal import Decimal

__all__ = ["validate", "apply_defaults", "prune", "check_structural", "go_float", "go_roundtrip",
           "check_structural_causes", "unsupported_features", "go_value"]


# --------------------------------------------------------------------------
# value printing as Go's fmt does in field.Error.ErrorBody
# --------------------------------------------------------------------------
def go_float(f):
    """strconv.FormatFloat(f, 'g', -1, 64) == fmt's %v for float64."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    sign, digits, exp = Decimal(repr(float(f))).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    nd = len(digits)
    dp = nd + exp
    ds = "".join(str(d) for d in digits)
    x = dp - 1
    s = "-" if sign else ""
    # shortest %g decides on exponent form with precision 6 (fmt.Println(1e6) -> 1e+06)
    if x < -4 or x >= 6:
        m = ds[0] + ("." + ds[1:] if nd > 1 else "")
        return "%s%se%s%02d" % (s, m, "-" if x < 0 else "+", abs(x))
    if dp <= 0:
        return s + "0." + "0" * (-dp) + ds
    if dp >= nd:
        return s + ds + "0" * (dp - nd)
    return s + ds[:dp] + "." + ds[dp:]


def _go_quote(s):
    return json.dumps(s, ensure_ascii=False).replace("\\u007f", "\\x7f")


def go_value(v):
    """A bad value as field.Error prints it (%v for numbers/bools, %q for strings,
    Go-syntax approximation for maps and slices)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return _go_quote(v)
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(
            "%s:%s" % (_go_quote(k), _go_sharp(v[k])) for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_sharp(x) for x in v) + "}"
    return str(v)


def _go_sharp(v):
    if v is None:
        return "interface {}(nil)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return _go_quote(v)
    return go_value(v)


def _cause(reason, message, field):
    return {"reason": reason, "message": message, "field": field}


def _invalid(field, value, detail):
    return _cause("FieldValueInvalid", "Invalid value: %s: %s" % (go_value(value), detail), field)


def _type_invalid(field, value, detail):
    return _cause("FieldValueTypeInvalid", "Invalid value: %s: %s" % (go_value(value), detail), field)


def _required(field):
    return _cause("FieldValueRequired", "Required value", field)


def _not_supported(field, value, allowed):
    vals = []
    for a in allowed:
        vals.append(_go_quote(a if isinstance(a, str) else json.dumps(a, separators=(",", ":"))))
    detail = ("supported values: " + ", ".join(vals)) if vals else ""
    msg = "Unsupported value: %s" % go_value(value)
    if detail:
        msg += ": " + detail
    return _cause("FieldValueNotSupported", msg, field)


def _too_long(field, max_len):
    # k8s 1.32 field.TooLong; the value is not printed for TooLong
    return _cause("FieldValueTooLong", "Too long: may not be more than %d %s"
                  % (max_len, "byte" if max_len == 1 else "bytes"), field)


def _too_many(field, actual, max_n):
    return _cause("FieldValueTooMany", "Too many: %d: must have at most %d %s"
                  % (actual, max_n, "item" if max_n == 1 else "items"), field)


def _duplicate(field, value):
    return _cause("FieldValueDuplicate", "Duplicate value: %s" % go_value(value), field)


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------
def _json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "unknown"


def _type_ok(stype, v):
    jt = _json_type(v)
    if stype == jt:
        return True
    if stype == "number" and jt == "integer":
        return True
    if stype == "integer" and jt == "number" and float(v).is_integer():
        return True
    return False


def _num_str(x):
    return go_float(float(x))


# strfmt.IsDateTime: date part must parse as 2006-01-02, split at the first "t"/"T", time part
# ^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$ (lower-cased; the "."
# matches any character) with hour <= 23, minute <= 59, second <= 59.
_DATE_TIME_TIME_RE = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))",
                                re.ASCII | re.DOTALL)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*\.?$")


def _valid_date(y, m, d):
    import calendar
    if not 1 <= m <= 12:
        return False
    return 1 <= d <= calendar.monthrange(y, m)[1]


def _format_ok(fmt, v):
    """Formats kube-openapi's strfmt registry checks (the subset that matters)."""
    if fmt in ("date-time", "datetime"):
        if len(v) < 4:
            return False
        parts = v.lower().split("t")
        if len(parts) < 2 or not _format_ok("date", parts[0]):
            return False
        m = _DATE_TIME_TIME_RE.fullmatch(parts[1])
        if not m:
            return False
        return m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"
    if fmt == "date":
        m = _DATE_RE.fullmatch(v)
        return bool(m) and _valid_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if fmt == "byte":
        try:
            base64.b64decode(v, validate=True)
            return True
        except Exception:
            return False
    if fmt == "uuid":
        return bool(_UUID_RE.match(v))
    if fmt == "email":
        return bool(_EMAIL_RE.match(v))
    if fmt == "hostname":
        return bool(_HOSTNAME_RE.match(v)) and len(v) <= 255
    if fmt == "ipv4":
        try:
            ipaddress.IPv4Address(v)
            return True
        except ValueError:
            return False
    if fmt == "ipv6":
        try:
            ipaddress.IPv6Address(v)
            return True
        except ValueError:
            return False
    if fmt == "cidr":
        try:
            ipaddress.ip_network(v, strict=False)
            return "/" in v
        except ValueError:
            return False
    return True


_pattern_cache = {}


class RE2Error(re.error):
    pass


def _re2_to_python(pattern):
    """Translate a Go RE2 pattern (what kube-openapi compiles) to an equivalent Python one.

    Kubernetes evaluates `pattern` with Go's regexp (RE2), not ECMA-262 as OpenAPI says:
    - "$" outside a character class is end of text in RE2 (no multiline flag), but in Python
      it also matches before a trailing newline: translated to \Z.
    - RE2 "\z" (end of text) is Python "\Z"; RE2 has no "\Z" (an error there).
    - RE2 rejects lookarounds ((?=, (?!, (?<=, (?<!), atomic groups (?>, possessive
      quantifiers (*+ ++ ?+ }+) and backreferences (\1..\9); Python would accept them, so they
      are refused here with Go's error text.
    - \d \w \s \b are ASCII in RE2: compiled with re.ASCII (RE2's \s lacks \v; ignored).
    - Unicode classes \pL / \p{Greek} exist in RE2 only: Python raises, and the schema check
      reports the pattern (loudly) instead of ignoring it.
    """
    out = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise RE2Error("error parsing regexp: trailing backslash at end of expression: ``")
            nxt = pattern[i + 1]
            if nxt.isdigit() and nxt != "0" and not in_class:
                raise RE2Error("error parsing regexp: invalid escape sequence: `\\%s`" % nxt)
            if nxt in "ZuUNgGkKeEcRXh":   # valid in Python or PCRE/ECMA, not in RE2
                raise RE2Error("error parsing regexp: invalid escape sequence: `\\%s`" % nxt)
            if nxt == "z" and not in_class:
                out.append("\\Z")
            else:
                out.append(c + nxt)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            # a leading "]" (or "^]") is literal inside a class
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "(" and pattern.startswith("(?", i):
            for bad in ("(?=", "(?!", "(?<=", "(?<!", "(?>"):
                if pattern.startswith(bad, i):
                    raise RE2Error("error parsing regexp: invalid or unsupported Perl syntax: `%s`" % bad[:3])
            if pattern.startswith("(?<", i):
                out.append("(?P<")      # RE2 (Go 1.22+) named group syntax
                i += 3
                continue
        if c in "*+?}" and i + 1 < n and pattern[i + 1] == "+":
            raise RE2Error("error parsing regexp: invalid nested repetition operator: `%s+`" % c)
        if c == "$":
            out.append("\\Z")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _compile(pattern):
    rx = _pattern_cache.get(pattern)
    if rx is None:
        rx = re.compile(_re2_to_python(pattern), re.ASCII)
        _pattern_cache[pattern] = rx
    return rx


def _child(path, name):
    return name if not path else path + "." + name


def _is_int_or_string(s):
    return bool(s.get("x-kubernetes-int-or-string"))


def validate(value, schema, path=""):
    """Validate value against a structural schema; returns causes (apiserver form)."""
    causes = []
    _validate(value, schema or {}, path, causes)
    return causes


def _validate(v, s, path, out):
    if not isinstance(s, dict):
        return
    # ---- type --------------------------------------------------------------
    stype = s.get("type")
    name = path if path else ""
    jt = _json_type(v)
    if v is None:
        if s.get("nullable"):
            return
        if stype:
            out.append(_type_invalid(path, "null", "%s in body must be of type %s: \"null\"" % (name, stype)))
            return
        if _is_int_or_string(s):
            out.append(_type_invalid(path, "null", "%s in body must be of type integer: \"null\"" % name))
            out.append(_type_invalid(path, "null", "%s in body must be of type string: \"null\"" % name))
            out.append(_invalid("<nil>", "", "\"%s\" must validate at least one schema (anyOf)" % name))
            return
        return
    if stype and not _type_ok(stype, v):
        out.append(_type_invalid(path, jt, "%s in body must be of type %s: %s" % (name, stype, _go_quote(jt))))
        _validate_enum(v, s, path, out)
        return
    if not stype and _is_int_or_string(s) and jt not in ("integer", "string"):
        out.append(_type_invalid(path, jt, "%s in body must be of type integer: %s" % (name, _go_quote(jt))))
        out.append(_type_invalid(path, jt, "%s in body must be of type string: %s" % (name, _go_quote(jt))))
        out.append(_invalid("<nil>", "", "\"%s\" must validate at least one schema (anyOf)" % name))
        return
    # ---- composition (value validations only in structural schemas) -------
    if s.get("allOf"):
        sub_causes = []
        for sub in s["allOf"]:
            sub_causes.extend(validate(v, sub, path))
        if sub_causes:
            out.extend(sub_causes)
            out.append(_invalid("<nil>", "", "\"%s\" must validate all the schemas (allOf)" % name))
    if s.get("anyOf"):
        if not any(not validate(v, sub, path) for sub in s["anyOf"]):
            for sub in s["anyOf"]:
                out.extend(validate(v, sub, path))
            out.append(_invalid("<nil>", "", "\"%s\" must validate at least one schema (anyOf)" % name))
    if s.get("oneOf"):
        ok = sum(1 for sub in s["oneOf"] if not validate(v, sub, path))
        if ok != 1:
            if ok == 0:
                for sub in s["oneOf"]:
                    out.extend(validate(v, sub, path))
            out.append(_invalid("<nil>", "", "\"%s\" must validate one and only one schema (oneOf). Found %s"
                                % (name, "none valid" if ok == 0 else "%d valid alternatives" % ok)))
    if isinstance(s.get("not"), dict) and not validate(v, s["not"], path):
        out.append(_invalid("<nil>", "", "\"%s\" must not validate the schema (not)" % name))
    # ---- strings -----------------------------------------------------------
    if isinstance(v, str):
        if "maxLength" in s and len(v) > s["maxLength"]:
            out.append(_too_long(path, int(s["maxLength"])))
        if "minLength" in s and len(v) < s["minLength"]:
            out.append(_invalid(path, v, "%s in body should be at least %d chars long" % (name, s["minLength"])))
        if "pattern" in s:
            try:
                rx = _compile(s["pattern"])
            except re.error as e:
                out.append(_invalid(path, v, "pattern %r cannot be evaluated by kubesim: %s" % (s["pattern"], e)))
            else:
                if not rx.search(v):
                    out.append(_invalid(path, v, "%s in body should match '%s'" % (name, s["pattern"])))
        fmt = s.get("format")
        if fmt and stype not in ("integer", "number") and not _format_ok(fmt, v):
            out.append(_type_invalid(path, v, "%s in body must be of type %s: %s" % (name, fmt, _go_quote(v))))
    # ---- numbers -----------------------------------------------------------
    if jt in ("integer", "number"):
        if "maximum" in s:
            mx = s["maximum"]
            if s.get("exclusiveMaximum") and v >= mx:
                out.append(_invalid(path, v, "%s in body should be less than %s" % (name, _num_str(mx))))
            elif not s.get("exclusiveMaximum") and v > mx:
                out.append(_invalid(path, v, "%s in body should be less than or equal to %s" % (name, _num_str(mx))))
        if "minimum" in s:
            mn = s["minimum"]
            if s.get("exclusiveMinimum") and v <= mn:
                out.append(_invalid(path, v, "%s in body should be greater than %s" % (name, _num_str(mn))))
            elif not s.get("exclusiveMinimum") and v < mn:
                out.append(_invalid(path, v, "%s in body should be greater than or equal to %s" % (name, _num_str(mn))))
        if s.get("multipleOf"):
            q = Decimal(repr(v)) / Decimal(repr(s["multipleOf"]))
            if q != q.to_integral_value():
                out.append(_invalid(path, v, "%s in body should be a multiple of %s" % (name, _num_str(s["multipleOf"]))))
    # ---- enum --------------------------------------------------------------
    _validate_enum(v, s, path, out)
    # ---- arrays ------------------------------------------------------------
    if isinstance(v, list):
        if "maxItems" in s and len(v) > s["maxItems"]:
            out.append(_too_many(path, len(v), int(s["maxItems"])))
        if "minItems" in s and len(v) < s["minItems"]:
            # kube-openapi TooFewItems carries the actual size as the bad value
            out.append(_invalid(path, len(v), "%s in body should have at least %d items" % (name, s["minItems"])))
        if s.get("uniqueItems"):
            seen = []
            for x in v:
                if any(_deep_equal(x, y) for y in seen):
                    out.append(_invalid(path, v, "%s in body shouldn't contain duplicates" % name))
                    break
                seen.append(x)
        items = s.get("items")
        if isinstance(items, dict):
            for i, x in enumerate(v):
                _validate(x, items, "%s[%d]" % (path, i), out)
        _validate_list_type(v, s, path, out)
    # ---- objects -----------------------------------------------------------
    # kube-openapi's object validator: min/maxProperties (and nothing else for this object
    # when they fail), then additional properties, then declared properties, then required.
    if isinstance(v, dict):
        props = s.get("properties") or {}
        if "minProperties" in s and len(v) < s["minProperties"]:
            out.append(_invalid(path, len(v), "%s in body should have at least %d properties" % (name, s["minProperties"])))
            return
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            out.append(_too_many(path, len(v), int(s["maxProperties"])))
            return
        ap = s.get("additionalProperties")
        embedded = s.get("x-kubernetes-embedded-resource")
        for k in sorted(v):
            if k in props:
                continue
            if isinstance(ap, dict):
                _validate(v[k], ap, _child(path, k), out)
            elif ap is False and not (embedded and k in ("apiVersion", "kind", "metadata")):
                # kube-openapi PropertyNotAllowed, converted by apiextensions as field.Invalid(path, "")
                out.append(_invalid(path, "", "%s.%s in body is a forbidden property" % (name, k)))
        for k in sorted(props):
            if k in v:
                _validate(v[k], props[k], _child(path, k), out)
        for r in s.get("required") or []:
            if r not in v:
                out.append(_required(_child(path, r)))
        if embedded:
            _validate_embedded(v, path, out)


def _validate_enum(v, s, path, out):
    enum = s.get("enum")
    if enum is not None and not any(_deep_equal(v, e) for e in enum):
        out.append(_not_supported(path, v, enum))


def _validate_embedded(v, path, out):
    # apiextensions validateEmbeddedResource: apiVersion and kind required, metadata optional
    if "apiVersion" not in v:
        out.append(_cause("FieldValueRequired", "Required value: must not be empty", _child(path, "apiVersion")))
    if "kind" not in v:
        out.append(_cause("FieldValueRequired", "Required value: must not be empty", _child(path, "kind")))
    for k in ("apiVersion", "kind"):
        if k not in v:
            continue
        x = v[k]
        if not isinstance(x, str):
            out.append(_invalid(_child(path, k), x, "must be a string"))
        elif x == "":
            out.append(_invalid(_child(path, k), x, "must not be empty"))
        elif k == "apiVersion" and x.count("/") > 1:
            out.append(_invalid(_child(path, k), x, "unexpected GroupVersion string: %s" % x))
        elif k == "kind" and not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", x.lower()):
            out.append(_invalid(_child(path, k), x, "may have mixed case, but should otherwise match: a lowercase "
                                "RFC 1035 label must consist of lower case alphanumeric characters or '-', start "
                                "with an alphabetic character, and end with an alphanumeric character (e.g. "
                                "'my-name',  or 'abc-123', regex used for validation is "
                                "'[a-z]([-a-z0-9]*[a-z0-9])?')"))
    md = v.get("metadata")
    if isinstance(md, dict):
        mpath = _child(path, "metadata")
        name = md.get("name")
        if isinstance(name, str) and name:
            if name in (".", ".."):
                out.append(_invalid(_child(mpath, "name"), name, "may not be '%s'" % name))
            else:
                for bad in ("/", "%"):
                    if bad in name:
                        out.append(_invalid(_child(mpath, "name"), name, "may not contain '%s'" % bad))
        import kselectors
        out.extend(kselectors.validate_labels(md.get("labels"), _child(mpath, "labels")))
        ann = md.get("annotations")
        if isinstance(ann, dict):
            for k in sorted(ann):
                for msg in kselectors.is_qualified_name(k.lower()):
                    out.append(_invalid(_child(mpath, "annotations"), k, msg))


def _validate_list_type(v, s, path, out):
    lt = s.get("x-kubernetes-list-type")
    if lt == "set":
        seen = []
        for i, x in enumerate(v):
            if any(_deep_equal(x, y) for y in seen):
                out.append(_duplicate("%s[%d]" % (path, i), x))
            else:
                seen.append(x)
    elif lt == "map":
        keys = s.get("x-kubernetes-list-map-keys") or []
        seen = []
        for i, x in enumerate(v):
            if not isinstance(x, dict):
                continue
            k = tuple(json.dumps(x.get(key), sort_keys=True) for key in keys)
            if k in seen:
                kv = {key: x.get(key) for key in keys if key in x}
                out.append(_duplicate("%s[%d]" % (path, i), kv))
            else:
                seen.append(k)


def _deep_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# --------------------------------------------------------------------------
# defaulting
# --------------------------------------------------------------------------
def _non_nullable_null(x, s):
    return x is None and isinstance(s, dict) and not s.get("nullable")


def _ap_schema(s):
    ap = s.get("additionalProperties")
    return ap if isinstance(ap, dict) else None


def _prune_non_nullable_nulls(x, s):
    if not isinstance(s, dict):
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        ap = _ap_schema(s)
        for k in list(x):
            sub = props.get(k)
            if sub is None:
                sub = ap
            if sub is None:
                continue
            if _non_nullable_null(x[k], sub) and "default" not in sub:
                del x[k]
                continue
            _prune_non_nullable_nulls(x[k], sub)
    elif isinstance(x, list):
        items = s.get("items")
        for v in x:
            _prune_non_nullable_nulls(v, items)


def _default(x, s):
    if not isinstance(s, dict):
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for k, p in props.items():
            if not isinstance(p, dict) or "default" not in p:
                continue
            if k not in x or _non_nullable_null(x[k], p):
                x[k] = copy.deepcopy(p["default"])
        ap = _ap_schema(s)
        for k in list(x):
            if k in props:
                _default(x[k], props[k])
            elif ap is not None:
                if _non_nullable_null(x[k], ap) and "default" in ap:
                    x[k] = copy.deepcopy(ap["default"])
                _default(x[k], ap)
    elif isinstance(x, list):
        items = s.get("items")
        if not isinstance(items, dict):
            return
        for i, v in enumerate(x):
            if _non_nullable_null(v, items) and "default" in items:
                x[i] = copy.deepcopy(items["default"])
            _default(x[i], items)


def apply_defaults(value, schema):
    """Structural defaulting in place: nulls of non-nullable fields without default are
    dropped, missing (or null, non-nullable) fields with a default get it, recursively
    (also inside defaults and list items)."""
    _prune_non_nullable_nulls(value, schema)
    _default(value, schema)


# --------------------------------------------------------------------------
# pruning
# --------------------------------------------------------------------------
_META_FIELDS = ("apiVersion", "kind", "metadata")


def _rec(paths, parent, key):
    paths.append(parent + "." + key)


def _prune(x, s, parent, paths):
    if isinstance(s, dict) and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, parent, paths)
        return
    if isinstance(x, dict):
        if not isinstance(s, dict):
            for k in list(x):
                _rec(paths, parent, k)
                del x[k]
            return
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        for k in list(x):
            v = x[k]
            if s.get("x-kubernetes-embedded-resource"):
                if k in ("apiVersion", "kind") and isinstance(v, str):
                    continue
                if k == "metadata" and isinstance(v, dict):
                    continue
            if k in props:
                _prune(v, props[k], parent + "." + k, paths)
            elif isinstance(ap, dict):
                _prune(v, ap, parent + "." + k, paths)
            elif ap is True:
                continue
            elif ap is False:
                # kept (validation rejects it), its content pruned as if it had no schema
                _prune(v, None, parent + "." + k, paths)
            else:
                _rec(paths, parent, k)
                del x[k]
    elif isinstance(x, list):
        items = s.get("items") if isinstance(s, dict) else None
        for i, v in enumerate(x):
            _prune(v, items, "%s[%d]" % (parent, i), paths)


def _skip_prune(x, s, parent, paths):
    if not isinstance(s, dict):
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        for k in list(x):
            if s.get("x-kubernetes-embedded-resource") and k in _META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], parent + "." + k, paths)
            elif isinstance(ap, dict):
                _prune(x[k], ap, parent + "." + k, paths)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _skip_prune(v, s.get("items"), "%s[%d]" % (parent, i), paths)


def prune(value, schema, path="", is_resource_root=True):
    """Remove fields unknown to the schema in place; return their paths (".spec.foo"), sorted.

    With is_resource_root (default, as the apiserver prunes a whole custom resource) the
    root keeps apiVersion/kind (strings) and metadata (object) without recording them.
    `path` prefixes the reported paths (e.g. ".spec" when pruning a subtree)."""
    paths = []
    s = schema
    if is_resource_root:
        s = dict(schema or {})
        s["x-kubernetes-embedded-resource"] = True
    _prune(value, s, path, paths)
    paths.sort()
    return paths


# --------------------------------------------------------------------------
# structural schema checks
# --------------------------------------------------------------------------
# Two stages, as the apiserver validates a CRD's openAPIV3Schema:
# 1. apiextensions validation (ValidateCustomResourceDefinitionOpenAPISchema): unsupported
#    JSON-Schema keywords, additionalProperties next to properties, uniqueItems, ...
# 2. only when stage 1 found nothing: structural-schema invariants and completeness
#    (apiextensions-apiserver/pkg/apiserver/schema/validation.go ValidateStructural),
#    sorted by their error text like the apiserver sorts them.
_VALUE_VALIDATION_KEYS = {"format", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
                          "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
                          "multipleOf", "enum", "maxProperties", "minProperties", "required",
                          "allOf", "oneOf", "anyOf", "not"}
_KNOWN = {"type", "title", "description", "default", "nullable", "additionalProperties",
          "properties", "items", "example", "externalDocs",
          "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
          "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
          "x-kubernetes-map-type", "x-kubernetes-validations"} | _VALUE_VALIDATION_KEYS
_NOT_SUPPORTED = [("id", "id is not supported"), ("$schema", "$schema is not supported"),
                  ("$ref", "$ref is not supported"), ("additionalItems", "additionalItems is not supported"),
                  ("patternProperties", "patternProperties is not supported"),
                  ("definitions", "definitions is not supported"),
                  ("dependencies", "dependencies is not supported")]
_TYPES = ("array", "boolean", "integer", "number", "object", "string")


def _p(path, name):
    return name if not path else path + "." + name


def _pk(path, name):
    return "%s[%s]" % (_p(path, "properties"), name)


def _forbidden(field, detail):
    return _cause("FieldValueForbidden", "Forbidden: " + detail, field)


def _required_d(field, detail):
    return _cause("FieldValueRequired", "Required value: " + detail, field)


def _invalid_d(field, value, detail):
    return _invalid(field, value, detail)


def _value_path(schema_path):
    """properties[spec].properties[a] -> spec.a (the name a value error uses)."""
    parts = re.findall(r"properties\[([^\]]*)\]", schema_path)
    return ".".join(parts)


def _check_openapi(s, path, errs, root=False):
    """Stage 1 (apiextensions validation of the JSON-Schema itself)."""
    if not isinstance(s, dict):
        errs.append(_invalid_d(path, s, "must be a schema object"))
        return
    for k, msg in _NOT_SUPPORTED:
        if k in s:
            errs.append(_forbidden(_p(path, k), msg))
    for k in s:
        if k not in _KNOWN and k not in dict(_NOT_SUPPORTED):
            # the real server's strict decoding of JSONSchemaProps rejects unknown keys
            errs.append(_forbidden(_p(path, k), "unknown field %s" % _go_quote(k)))
    t = s.get("type")
    if t == "null":
        errs.append(_forbidden(_p(path, "type"), "type cannot be set to null, use nullable as an alternative"))
    elif t is not None and t not in _TYPES:
        errs.append(_not_supported(_p(path, "type"), t, list(_TYPES)))
    if s.get("uniqueItems") is True:
        errs.append(_forbidden(_p(path, "uniqueItems"),
                               "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    if "additionalProperties" in s and s.get("properties"):
        errs.append(_forbidden(_p(path, "additionalProperties"),
                               "additionalProperties and properties are mutual exclusive"))
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(_invalid_d(_p(path, "x-kubernetes-preserve-unknown-fields"), False, "must be true or undefined"))
    if isinstance(s.get("items"), list):
        errs.append(_forbidden(_p(path, "items"), "items must be a schema object and not an array"))
    elif isinstance(s.get("items"), dict):
        _check_openapi(s["items"], _p(path, "items"), errs)
    for name, sub in (s.get("properties") or {}).items():
        _check_openapi(sub, _pk(path, name), errs)
    if isinstance(s.get("additionalProperties"), dict):
        _check_openapi(s["additionalProperties"], _p(path, "additionalProperties"), errs)
    for k in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(k) or []):
            _check_openapi(sub, "%s[%d]" % (_p(path, k), i), errs)
    if isinstance(s.get("not"), dict):
        _check_openapi(s["not"], _p(path, "not"), errs)
    if "pattern" in s:
        try:
            _compile(s["pattern"])
        except (re.error, TypeError) as e:
            errs.append(_invalid_d(_p(path, "pattern"), s["pattern"],
                                   "must be a valid regular expression, but isn't: %s" % e))
    if "default" in s and not root:
        d = s["default"]
        sub = dict(s)
        sub.pop("default", None)
        if d is None and not s.get("nullable"):
            errs.append(_invalid_d(_p(path, "default"), "null", "must not be null, or nullable must be true"))
        elif d is not None:
            d = copy.deepcopy(d)
            pruned = prune(d, sub, "", is_resource_root=False)
            if pruned:
                errs.append(_invalid_d(_p(path, "default"), s["default"],
                                       "must not have unknown fields, got: %s" % ", ".join(p.lstrip(".") for p in pruned)))
            vp = _value_path(path)
            for c in validate(d, sub, vp):
                c = dict(c)
                c["field"] = _p(path, "default")
                errs.append(c)


_INT_OR_STRING_ANYOF = [{"type": "integer"}, {"type": "string"}]


def _check_invariants(s, lvl, path, errs):
    """validateStructuralInvariants (lvl: "root", "item" or "field")."""
    if not isinstance(s, dict):
        return
    t = s.get("type") or ""
    if t == "array" and "items" not in s:
        errs.append(_required_d(_p(path, "items"), "must be specified"))
    if isinstance(s.get("items"), dict):
        _check_invariants(s["items"], "item", _p(path, "items"), errs)
    for name, sub in (s.get("properties") or {}).items():
        _check_invariants(sub, "field", _pk(path, name), errs)
    ap = s.get("additionalProperties")
    if ap is not None and ap is not False:
        if lvl == "root":
            errs.append(_forbidden(_p(path, "additionalProperties"), "must not be used at the root"))
        if isinstance(ap, dict):
            _check_invariants(ap, "field", _p(path, "additionalProperties"), errs)
    ios = bool(s.get("x-kubernetes-int-or-string"))
    pres = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    emb = bool(s.get("x-kubernetes-embedded-resource"))
    if ios and pres:
        errs.append(_invalid_d(_p(path, "x-kubernetes-preserve-unknown-fields"), True,
                               "must be false if x-kubernetes-int-or-string is true"))
    if ios and emb:
        errs.append(_invalid_d(_p(path, "x-kubernetes-embedded-resource"), True,
                               "must be false if x-kubernetes-int-or-string is true"))
    skip_any = s.get("anyOf") == _INT_OR_STRING_ANYOF
    all_of = s.get("allOf") or []
    skip_first_all_any = bool(all_of) and isinstance(all_of[0], dict) and all_of[0].get("anyOf") == _INT_OR_STRING_ANYOF
    _check_value_validation(s, skip_any, skip_first_all_any, path, errs)
    check_meta = lvl == "root" or emb
    if emb and t != "object":
        if not t:
            errs.append(_required_d(_p(path, "type"), "must be object if x-kubernetes-embedded-resource is true"))
        else:
            errs.append(_invalid_d(_p(path, "type"), t, "must be object if x-kubernetes-embedded-resource is true"))
    elif not t and not ios and not pres:
        detail = {"root": "must not be empty at the root", "item": "must not be empty for specified array items",
                  "field": "must not be empty for specified object fields"}[lvl]
        errs.append(_required_d(_p(path, "type"), detail))
    if emb and ap is not None:
        errs.append(_forbidden(_p(path, "additionalProperties"),
                               "must not be used if x-kubernetes-embedded-resource is set"))
    if lvl == "root" and t and t != "object":
        errs.append(_invalid_d(_p(path, "type"), t, "must be object at the root"))
    props = s.get("properties") or {}
    if check_meta:
        for k, want in (("kind", "string"), ("apiVersion", "string"), ("metadata", "object")):
            if k in props and isinstance(props[k], dict) and props[k].get("type", "") != want:
                errs.append(_invalid_d("%s.type" % _pk(path, k), props[k].get("type", ""), "must be %s" % want))
    if lvl == "root" and isinstance(props.get("metadata"), dict):
        meta = dict(props["metadata"])
        mprops = meta.get("properties") or {}
        if set(mprops) in ({"name"}, {"generateName"}, {"name", "generateName"}):
            meta.pop("properties", None)
        meta.pop("type", None)
        meta.pop("default", None)
        if meta:
            errs.append(_forbidden(_pk(path, "metadata"), "must not specify anything other than name and "
                                                          "generateName, but metadata is implicitly specified"))
    if emb and not pres and not props:
        errs.append(_required_d(_p(path, "properties"), "must not be empty if x-kubernetes-embedded-resource is "
                                                        "true without x-kubernetes-preserve-unknown-fields"))


def _check_value_validation(v, skip_any, skip_first_all_any, path, errs):
    if not skip_any:
        for i, sub in enumerate(v.get("anyOf") or []):
            _check_nested(sub, False, "%s[%d]" % (_p(path, "anyOf"), i), errs)
    for i, sub in enumerate(v.get("allOf") or []):
        _check_nested(sub, skip_first_all_any and i == 0, "%s[%d]" % (_p(path, "allOf"), i), errs)
    for i, sub in enumerate(v.get("oneOf") or []):
        _check_nested(sub, False, "%s[%d]" % (_p(path, "oneOf"), i), errs)
    if isinstance(v.get("not"), dict):
        _check_nested(v["not"], False, _p(path, "not"), errs)


def _check_nested(v, skip_any, path, errs):
    if not isinstance(v, dict):
        return
    _check_value_validation(v, skip_any, False, path, errs)
    if isinstance(v.get("items"), dict):
        _check_nested(v["items"], False, _p(path, "items"), errs)
    for name, sub in (v.get("properties") or {}).items():
        _check_nested(sub, False, _pk(path, name), errs)
    for key, detail in (("type", "must be empty to be structural"),
                        ("additionalProperties", "must be undefined to be structural"),
                        ("default", "must be undefined to be structural"),
                        ("title", "must be empty to be structural"),
                        ("description", "must be empty to be structural")):
        if v.get(key) not in (None, "") or (key == "default" and "default" in v):
            errs.append(_forbidden(_p(path, key), detail))
    if v.get("nullable"):
        errs.append(_forbidden(_p(path, "nullable"), "must be false to be structural"))
    for key in ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
                "x-kubernetes-int-or-string"):
        if v.get(key):
            errs.append(_forbidden(_p(path, key), "must be false to be structural"))
    if v.get("x-kubernetes-list-map-keys"):
        errs.append(_forbidden(_p(path, "x-kubernetes-list-map-keys"), "must be empty to be structural"))
    if "x-kubernetes-list-type" in v:
        errs.append(_forbidden(_p(path, "x-kubernetes-list-type"), "must be undefined to be structural"))
    if "metadata" in (v.get("properties") or {}):
        errs.append(_forbidden(_pk(path, "metadata"), "must not be specified in a nested context"))


def _check_completeness(s, spath, errs):
    if not isinstance(s, dict):
        return
    _completeness_vv(s, s, spath, spath, errs)
    if isinstance(s.get("items"), dict):
        _check_completeness(s["items"], _p(spath, "items"), errs)
    for k, sub in (s.get("properties") or {}).items():
        _check_completeness(sub, _pk(spath, k), errs)
    if isinstance(s.get("additionalProperties"), dict):
        _check_completeness(s["additionalProperties"], _p(spath, "additionalProperties"), errs)


def _completeness_vv(v, s, spath, vpath, errs):
    if isinstance(v.get("not"), dict):
        _completeness_nested(v["not"], s, spath, _p(vpath, "not"), errs)
    for k in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(v.get(k) or []):
            _completeness_nested(sub, s, spath, "%s[%d]" % (_p(vpath, k), i), errs)


def _completeness_nested(v, s, spath, vpath, errs):
    if not isinstance(v, dict):
        return
    if not isinstance(s, dict):
        errs.append(_required_d(spath, "because it is defined in %s" % vpath))
        return
    _completeness_vv(v, s, spath, vpath, errs)
    if isinstance(v.get("items"), dict):
        _completeness_nested(v["items"], s.get("items"), _p(spath, "items"), _p(vpath, "items"), errs)
    sprops = s.get("properties") or {}
    for k, vf in (v.get("properties") or {}).items():
        if k not in sprops:
            errs.append(_required_d(_pk(spath, k), "because it is defined in %s" % _pk(vpath, k)))
        else:
            _completeness_nested(vf, sprops[k], _pk(spath, k), _pk(vpath, k), errs)


def _error_text(c):
    return ("%s: %s" % (c["field"], c["message"])) if c["field"] else c["message"]


def check_structural_causes(schema, base=""):
    """Causes (apiserver form) why schema cannot be a CRD's openAPIV3Schema; fields are
    prefixed with `base` (e.g. "spec.versions[0].schema.openAPIV3Schema")."""
    errs = []
    _check_openapi(schema, base, errs, root=True)
    if errs:
        return errs
    _check_invariants(schema, "root", base, errs)
    _check_completeness(schema, base, errs)
    errs.sort(key=_error_text)
    return errs


def check_structural(schema):
    """Reasons why a CRD schema is not structural (empty list: it is), as
    "<path>: <error body>" with the path relative to the openAPIV3Schema root."""
    return [_error_text(c) for c in check_structural_causes(schema, "")]


# Optional list/map fields of built-in kinds that Go does NOT omit when empty.
_KEEP_EMPTY = {"storedVersions"}


def go_roundtrip(value, schema):
    """Make a built-in object look like it went through the apiserver's Go types (decode,
    encode), in place: nulls become absent (Go zero value, omitted), empty lists and empty
    string maps in optional fields disappear (omitempty), e.g. after a strategic merge patch
    that deleted every finalizer. Required fields and struct-typed objects are kept ({} stays
    {}). Parts the schema marks x-kubernetes-preserve-unknown-fields are left alone.
    Returns value."""
    _roundtrip(value, schema)
    return value


def _roundtrip(x, s):
    if not isinstance(s, dict):
        return
    if isinstance(x, dict):
        props = s.get("properties")
        if props is None:
            ap = s.get("additionalProperties")
            if isinstance(ap, dict):
                for k in list(x):
                    if x[k] is None:
                        continue  # a null map value decodes to "" for string maps; keep as is
                    _roundtrip(x[k], ap)
            return
        required = set(s.get("required") or [])
        for k in list(x):
            sub = props.get(k)
            v = x[k]
            if sub is None:
                continue
            if v is None:
                if k not in required:
                    del x[k]
                continue
            if k not in required and k not in _KEEP_EMPTY:
                if v == [] and sub.get("type") == "array":
                    del x[k]
                    continue
                if v == {} and "properties" not in sub and isinstance(sub.get("additionalProperties"), dict):
                    del x[k]
                    continue
            _roundtrip(v, sub)
    elif isinstance(x, list):
        items = s.get("items")
        for v in x:
            _roundtrip(v, items)


def unsupported_features(schema):
    """Schema features kubesim cannot evaluate (so a CRD using them must be refused loudly)."""
    found = []

    def walk(s, path):
        if not isinstance(s, dict):
            return
        if s.get("x-kubernetes-validations"):
            found.append("%s: x-kubernetes-validations (CEL) is not supported by kubesim" % (path or "<root>"))
        for name, sub in (s.get("properties") or {}).items():
            walk(sub, "%s.properties[%s]" % (path, name) if path else "properties[%s]" % name)
        if isinstance(s.get("items"), dict):
            walk(s["items"], _p(path, "items"))
        if isinstance(s.get("additionalProperties"), dict):
            walk(s["additionalProperties"], _p(path, "additionalProperties"))
        for k in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(s.get(k) or []):
                walk(sub, "%s[%d]" % (_p(path, k), i))
    walk(schema, "")
    return found
