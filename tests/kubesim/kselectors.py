"""Label and field selectors as kube-apiserver parses and evaluates them.

Behaviour follows k8s.io/apimachinery/pkg/labels (selector.go: lexer, parser,
Requirement), pkg/fields (selector.go), pkg/apis/meta/v1 LabelSelectorAsSelector
and pkg/util/validation (IsQualifiedName, IsValidLabelValue, DNS-1123 checks).
Error messages are the ones the apiserver puts into the 400 BadRequest Status
(it passes the parser's error text through unchanged).

Interface (see /work/notes/kubesim-spec.md):
    SelectorError(ValueError)
    parse_label_selector(text) -> LabelSelector        (.matches(labels), str())
    label_selector_from_object(sel) -> LabelSelector   (metav1.LabelSelector; None matches nothing)
    parse_field_selector(text, supported) -> FieldSelector  (.matches(fields), .requirements)
Extensions (additive): LabelSelector.empty / .requirements, FieldSelector.empty,
    validation helpers is_qualified_name, is_valid_label_value,
    is_dns1123_subdomain, is_dns1123_label (each returns a list of error strings,
    empty when valid, worded like k8s.io/apimachinery/pkg/util/validation),
    validate_labels(labels, path) -> list of causes for metadata.labels.
No I/O.

Module name: kselectors (the spec's name selectors.py shadows the standard library's
`selectors`; tests/kubesim/selectors.py remains as a compatibility shim that serves both the
standard library API and this one).
"""

import re

__all__ = [
    "SelectorError", "LabelSelector", "FieldSelector", "Requirement",
    "parse_label_selector", "label_selector_from_object", "parse_field_selector",
    "is_qualified_name", "is_valid_label_value", "is_dns1123_subdomain",
    "is_dns1123_label", "validate_labels",
]


class SelectorError(ValueError):
    """A selector the apiserver rejects (400 BadRequest); str() is the message."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------
# k8s.io/apimachinery/pkg/util/validation
# --------------------------------------------------------------------------
_QNAME_CHAR = "[A-Za-z0-9]"
_QNAME_EXT_CHAR = "[-A-Za-z0-9_.]"
QUALIFIED_NAME_FMT = "(" + _QNAME_CHAR + _QNAME_EXT_CHAR + "*)?" + _QNAME_CHAR
_QUALIFIED_NAME_ERR = ("must consist of alphanumeric characters, '-', '_' or '.', "
                       "and must start and end with an alphanumeric character")
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
_LABEL_VALUE_ERR = ("a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an "
                    "alphanumeric character")
DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_ERR = ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                      "characters or '-', and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_ERR = ("a lowercase RFC 1123 subdomain must consist of lower case "
                          "alphanumeric characters, '-' or '.', and must start and end "
                          "with an alphanumeric character")

_qname_re = re.compile("^" + QUALIFIED_NAME_FMT + "$")
_label_value_re = re.compile("^" + LABEL_VALUE_FMT + "$")
_dns1123_label_re = re.compile("^" + DNS1123_LABEL_FMT + "$")
_dns1123_subdomain_re = re.compile("^" + DNS1123_SUBDOMAIN_FMT + "$")


def _regex_error(msg, fmt, *examples):
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    msg += " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += "'" + ex + "', "
    return msg + "regex used for validation is '" + fmt + "')"


def _max_len_error(n):
    return "must be no more than %d characters" % n


def _fullmatch(rx, s):
    # Go's regexp "$" matches only at the very end; Python's "$" also before a
    # trailing newline, so use fullmatch semantics explicitly.
    return rx.fullmatch(s) is not None


def is_dns1123_subdomain(value):
    errs = []
    if len(value) > 253:
        errs.append(_max_len_error(253))
    if not _fullmatch(_dns1123_subdomain_re, value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1123_label(value):
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _fullmatch(_dns1123_label_re, value):
        errs.append(_regex_error(_DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_qualified_name(value):
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if len(prefix) == 0:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name " + _regex_error(_QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT,
                                                   "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if len(name) == 0:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _fullmatch(_qname_re, name):
        errs.append("name part " + _regex_error(_QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT,
                                                "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value):
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _fullmatch(_label_value_re, value):
        errs.append(_regex_error(_LABEL_VALUE_ERR, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _go_quote(v):
    """Go's %q for a string (enough for label keys/values)."""
    out = ['"']
    for ch in v:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _field_invalid(path, value, detail):
    # field.Error.Error(): "<path>: Invalid value: <value>: <detail>"; a nil path prints "<nil>"
    if isinstance(value, str):
        v = _go_quote(value)
    elif isinstance(value, list):
        v = "[]string{" + ", ".join(_go_quote(x) for x in value) + "}"
    else:
        v = str(value)
    return "%s: Invalid value: %s: %s" % (path, v, detail)


def validate_labels(labels, path="metadata.labels"):
    """Causes (apiserver form) for invalid metadata.labels (ValidateLabels)."""
    causes = []
    if not isinstance(labels, dict):
        return causes
    for k in sorted(labels):
        v = labels[k]
        for msg in is_qualified_name(k):
            causes.append({"reason": "FieldValueInvalid",
                           "message": "Invalid value: %s: %s" % (_go_quote(k), msg),
                           "field": path})
        if isinstance(v, str):
            for msg in is_valid_label_value(v):
                causes.append({"reason": "FieldValueInvalid",
                               "message": "Invalid value: %s: %s" % (_go_quote(v), msg),
                               "field": path})
    return causes


# --------------------------------------------------------------------------
# label selectors
# --------------------------------------------------------------------------
IN, NOTIN, EQ, DEQ, NEQ, EXISTS, NOTEXISTS, GT, LT = (
    "in", "notin", "=", "==", "!=", "exists", "!", "gt", "lt")
_BINARY_OPS = [IN, NOTIN, EQ, DEQ, NEQ, GT, LT]


class Requirement:
    __slots__ = ("key", "operator", "values")

    def __init__(self, key, operator, values):
        self.key = key
        self.operator = operator
        self.values = values  # sorted list (sets.String semantics)

    def matches(self, labels):
        has = self.key in labels
        op = self.operator
        if op in (IN, EQ, DEQ):
            return has and labels[self.key] in self.values
        if op in (NOTIN, NEQ):
            return (not has) or labels[self.key] not in self.values
        if op == EXISTS:
            return has
        if op == NOTEXISTS:
            return not has
        if op in (GT, LT):
            if not has:
                return False
            try:
                lv = _parse_int64(labels[self.key])
                rv = _parse_int64(self.values[0])
            except ValueError:
                return False
            return lv > rv if op == GT else lv < rv
        return False

    def __str__(self):
        if self.operator == EXISTS:
            return self.key
        if self.operator == NOTEXISTS:
            return "!" + self.key
        if self.operator in (IN, NOTIN):
            return "%s %s (%s)" % (self.key, self.operator, ",".join(self.values))
        sym = {EQ: "=", DEQ: "==", NEQ: "!=", GT: ">", LT: "<"}[self.operator]
        return self.key + sym + (self.values[0] if self.values else "")

    def __repr__(self):
        return "Requirement(%r)" % str(self)


def _parse_int64(s):
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        raise ValueError(s)
    v = int(s)
    if not -(1 << 63) <= v < (1 << 63):
        raise ValueError(s)
    return v


class LabelSelector:
    """A parsed label selector; requirements are ANDed. nothing=True matches nothing."""

    def __init__(self, requirements=(), nothing=False):
        self.requirements = sorted(requirements, key=lambda r: r.key)  # stable, like sort.Sort(ByKey)
        self.nothing = nothing

    @property
    def empty(self):
        return not self.nothing and not self.requirements

    def matches(self, labels):
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self):
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self):
        return "LabelSelector(%r)" % str(self)


def _new_requirement(key, op, values, path):
    """labels.NewRequirement: validation errors aggregated like the apiserver."""
    errs = []

    def child(name):
        return name if path is None else path + "." + name

    msgs = is_qualified_name(key)
    if msgs:
        errs.append(_field_invalid(child("key"), key, "; ".join(msgs)))
    vpath = child("values")
    if op in (IN, NOTIN):
        if len(values) == 0:
            errs.append(_field_invalid(vpath, values, "for 'in', 'notin' operators, values set can't be empty"))
    elif op in (EQ, DEQ, NEQ):
        if len(values) != 1:
            errs.append(_field_invalid(vpath, values, "exact-match compatibility requires one single value"))
    elif op in (EXISTS, NOTEXISTS):
        if len(values) != 0:
            errs.append(_field_invalid(vpath, values, "values set must be empty for exists and does not exist"))
    elif op in (GT, LT):
        if len(values) != 1:
            errs.append(_field_invalid(vpath, values, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(values):
            try:
                _parse_int64(v)
            except ValueError:
                errs.append(_field_invalid("%s[%d]" % (vpath, i), v,
                                           "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        errs.append('%s: Unsupported value: %s: supported values: "!", "=", "==", "in", "notin", "!=", "exists", "gt", "lt"'
                    % (child("operator"), _go_quote(op)))
    for i, v in enumerate(values):
        msgs = is_valid_label_value(v)
        if msgs:
            errs.append(_field_invalid("%s[%d][%s]" % (vpath, i, key), v, "; ".join(msgs)))
    if errs:
        raise SelectorError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    return Requirement(key, op, values)


# lexer tokens
_T_ERR, _T_EOS, _T_CPAR, _T_COMMA, _T_NOTEXIST, _T_DEQ, _T_EQ, _T_GT, _T_ID, _T_IN, _T_LT, \
    _T_NEQ, _T_NOTIN, _T_OPAR = range(14)
_STRING2TOKEN = {")": _T_CPAR, ",": _T_COMMA, "!": _T_NOTEXIST, "==": _T_DEQ, "=": _T_EQ,
                 ">": _T_GT, "in": _T_IN, "<": _T_LT, "!=": _T_NEQ, "notin": _T_NOTIN, "(": _T_OPAR}
_SPECIAL = set("=!(),><")
_WS = set(" \t\r\n")


def _lex(text):
    items = []
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos] in _WS:
            pos += 1
        if pos >= n:
            items.append((_T_EOS, ""))
            return items
        ch = text[pos]
        if ch in _SPECIAL:
            buf = ""
            last = None
            while pos < n and text[pos] in _SPECIAL:
                buf += text[pos]
                if buf in _STRING2TOKEN:
                    last = (_STRING2TOKEN[buf], buf)
                    pos += 1
                elif last is not None:
                    break
                else:
                    pos += 1
            if last is None:
                items.append((_T_ERR, "error expected: keyword found '%s'" % buf))
            else:
                items.append(last)
        else:
            start = pos
            while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WS:
                pos += 1
            word = text[start:pos]
            tok = _STRING2TOKEN.get(word)
            items.append((tok, word) if tok is not None else (_T_ID, word))


class _Parser:
    def __init__(self, text):
        self.items = _lex(text)
        self.pos = 0

    def _fix(self, tok, lit, values_ctx):
        if values_ctx and tok in (_T_IN, _T_NOTIN):
            tok = _T_ID
        return tok, lit

    def lookahead(self, values_ctx=True):
        tok, lit = self.items[self.pos]
        return self._fix(tok, lit, values_ctx)

    def consume(self, values_ctx=True):
        tok, lit = self.items[self.pos]
        if self.pos < len(self.items) - 1:
            self.pos += 1
        return self._fix(tok, lit, values_ctx)

    def parse(self):
        reqs = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_T_ID, _T_NOTEXIST):
                try:
                    reqs.append(self.parse_requirement())
                except SelectorError as e:
                    raise SelectorError("unable to parse requirement: %s" % e.message)
                t, l = self.consume()
                if t == _T_EOS:
                    return reqs
                if t == _T_COMMA:
                    t2, l2 = self.lookahead()
                    if t2 not in (_T_ID, _T_NOTEXIST):
                        raise SelectorError("found '%s', expected: identifier after ','" % l2)
                else:
                    raise SelectorError("found '%s', expected: ',' or 'end of string'" % l)
            elif tok == _T_EOS:
                return reqs
            else:
                raise SelectorError("found '%s', expected: !, identifier, or 'end of string'" % lit)

    def parse_requirement(self):
        key, op = self.parse_key_and_infer_operator()
        if op in (EXISTS, NOTEXISTS):
            return _new_requirement(key, op, [], None)
        op = self.parse_operator()
        if op in (IN, NOTIN):
            values = self.parse_values()
        else:
            values = self.parse_exact_value()
        return _new_requirement(key, op, sorted(values), None)

    def parse_key_and_infer_operator(self):
        op = None
        tok, lit = self.consume()
        if tok == _T_NOTEXIST:
            op = NOTEXISTS
            tok, lit = self.consume()
        if tok != _T_ID:
            raise SelectorError("found '%s', expected: identifier" % lit)
        msgs = is_qualified_name(lit)
        if msgs:
            raise SelectorError(_field_invalid("<nil>", lit, "; ".join(msgs)))
        t, _ = self.lookahead()
        if t in (_T_EOS, _T_COMMA):
            if op != NOTEXISTS:
                op = EXISTS
        return lit, op

    def parse_operator(self):
        tok, lit = self.consume(values_ctx=False)
        m = {_T_IN: IN, _T_EQ: EQ, _T_DEQ: DEQ, _T_GT: GT, _T_LT: LT, _T_NOTIN: NOTIN, _T_NEQ: NEQ}
        if tok in m:
            return m[tok]
        raise SelectorError("found '%s', expected: %s" % (lit, ", ".join(_BINARY_OPS)))

    def parse_values(self):
        tok, lit = self.consume()
        if tok != _T_OPAR:
            raise SelectorError("found '%s' expected: '('" % lit)
        tok, lit = self.lookahead()
        if tok in (_T_ID, _T_COMMA):
            s = self.parse_identifiers_list()
            tok2, _ = self.consume()
            if tok2 != _T_CPAR:
                raise SelectorError("found '%s', expected: ')'" % lit)
            return s
        if tok == _T_CPAR:
            self.consume()
            return {""}
        raise SelectorError("found '%s', expected: ',', ')' or identifier" % lit)

    def parse_identifiers_list(self):
        s = set()
        while True:
            tok, lit = self.consume()
            if tok == _T_ID:
                s.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == _T_COMMA:
                    continue
                if tok2 == _T_CPAR:
                    return s
                raise SelectorError("found '%s', expected: ',' or ')'" % lit2)
            elif tok == _T_COMMA:
                if not s:
                    s.add("")
                tok2, _ = self.lookahead()
                if tok2 == _T_CPAR:
                    s.add("")
                    return s
                if tok2 == _T_COMMA:
                    self.consume()
                    s.add("")
            else:
                raise SelectorError("found '%s', expected: ',', or identifier" % lit)

    def parse_exact_value(self):
        tok, _ = self.lookahead()
        if tok in (_T_EOS, _T_COMMA):
            return {""}
        tok, lit = self.consume()
        if tok == _T_ID:
            return {lit}
        raise SelectorError("found '%s', expected: identifier" % lit)


def parse_label_selector(text):
    """labels.Parse: "a=b,c!=d,e in (x,y),f notin (z),g,!h"; "" matches everything."""
    if text is None:
        text = ""
    # an error token from the lexer surfaces as "found '<message>', expected: ..."
    return LabelSelector(_Parser(text).parse())


_OBJ_OPS = {"In": IN, "NotIn": NOTIN, "Exists": EXISTS, "DoesNotExist": NOTEXISTS}


def label_selector_from_object(sel):
    """metav1.LabelSelectorAsSelector: None -> matches nothing; {} -> everything."""
    if sel is None:
        return LabelSelector(nothing=True)
    if not isinstance(sel, dict):
        raise SelectorError("invalid label selector: %r" % (sel,))
    match_labels = sel.get("matchLabels") or {}
    exprs = sel.get("matchExpressions") or []
    if not match_labels and not exprs:
        return LabelSelector()
    reqs = []
    for k, v in match_labels.items():
        reqs.append(_new_requirement(k, EQ, [v if isinstance(v, str) else str(v)], None))
    for e in exprs:
        op = _OBJ_OPS.get(e.get("operator"))
        if op is None:
            raise SelectorError("%s is not a valid label selector operator" % _go_quote(str(e.get("operator", ""))))
        vals = list(e.get("values") or [])
        reqs.append(_new_requirement(e.get("key", ""), op, sorted(set(vals)) if op in (IN, NOTIN) else vals, None))
    return LabelSelector(reqs)


# --------------------------------------------------------------------------
# field selectors
# --------------------------------------------------------------------------
DEFAULT_FIELDS = frozenset(("metadata.name", "metadata.namespace"))


class FieldSelector:
    """Parsed field selector; requirements are (field, op, value) with op "=" or "!="."""

    def __init__(self, requirements=()):
        self.requirements = list(requirements)

    @property
    def empty(self):
        return not self.requirements

    def matches(self, fields):
        fields = fields or {}
        for f, op, v in self.requirements:
            have = fields.get(f, "")
            if op == "=" and have != v:
                return False
            if op == "!=" and have == v:
                return False
        return True

    def value_for(self, field):
        """The value required by an "=" term on field (RequiresExactMatch), or None."""
        for f, op, v in self.requirements:
            if f == field and op == "=":
                return v
        return None

    def __str__(self):
        return ",".join("%s%s%s" % (f, "=" if op == "=" else "!=", _escape_field_value(v))
                        for f, op, v in self.requirements)


def _escape_field_value(v):
    return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text):
    terms = []
    start = 0
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term):
    for i in range(len(term)):
        rem = term[i:]
        for op in ("!=", "==", "="):
            if rem.startswith(op):
                return term[:i], op, term[i + len(op):]
    return None


def _unescape_value(s):
    if not any(c in s for c in "\\,="):
        return s
    out = []
    in_slash = False
    for c in s:
        if in_slash:
            if c in "\\,=":
                out.append(c)
            else:
                raise SelectorError("invalid field selector: invalid escape sequence: \\" + c)
            in_slash = False
            continue
        if c == "\\":
            in_slash = True
        elif c in ",=":
            # Go formats the rune with %v, i.e. as its code point number
            raise SelectorError("invalid field selector: unescaped character in value: %d" % ord(c))
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text, supported=frozenset()):
    """fields.ParseSelector plus the label conversion the apiserver applies.

    metadata.name and metadata.namespace are always supported; `supported` adds
    the resource's own field labels. Unknown labels ->
    SelectorError('field label not supported: <label>').
    """
    if text is None:
        text = ""
    allowed = set(DEFAULT_FIELDS) | set(supported or ())
    parts = sorted(_split_terms(text))
    reqs = []
    for part in parts:
        if part == "":
            continue
        st = _split_term(part)
        if st is None:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (text, part))
        lhs, op, rhs = st
        value = _unescape_value(rhs)
        reqs.append((lhs, "!=" if op == "!=" else "=", value))
    for lhs, _, _ in reqs:
        if lhs not in allowed:
            raise SelectorError("field label not supported: %s" % lhs)
    return FieldSelector(reqs)
