"""kubesim registry: served resource types, discovery, OpenAPI v3, Tables, admission.

Owner: A2.  Called by server.py (A1).  Python standard library only.

What kubectl 1.32 fetches (recorded with `kubectl -v=8` against kubesim)
------------------------------------------------------------------------
The installed `kubectl` is a dispatcher: it first GETs `/version?timeout=5s` (User-Agent
kubectl-dispatcher/v1.0) to pick the client matching the server's minor version, then runs
kubectl v1.32.4.  Every command then starts with
    GET /api?timeout=32s   and   GET /apis?timeout=32s
    Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,
            application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json
i.e. the aggregated discovery (apidiscovery.k8s.io/v2 APIGroupDiscoveryList).  When the answer's
Content-Type is the aggregated one, kubectl never asks for /api/v1 or /apis/<g>/<v>; the legacy
documents (APIVersions, APIGroupList, APIGroup, APIResourceList) are still served for other
clients (python3-kubernetes, tollgate) and for `kubectl get --raw`.  The results are cached in
$KUBECACHEDIR (default ~/.kube/cache)/discovery/<host_port>/ for 6 hours; kubectl invalidates the
cache itself when a resource name does not resolve (so a new CRD's plural/short name resolves at
once) and `kubectl api-resources` always refetches.  A category that only a new CRD provides is
NOT found from a stale cache by a real kubectl against a real server either (kubectl treats it as a
resource name, which fails); tests use a fresh cache dir or run `kubectl api-resources` first.
The responses carry an ETag (and 304 on If-None-Match) like the real server; kubectl's HTTP
cache ($KUBECACHEDIR/http) revalidates with If-None-Match, so a command that refetches
discovery (e.g. `kubectl api-resources`, or `kubectl get gz` after a cache miss) sees
"304" while nothing changed and the new document as soon as a CRD changed it.  Observed request
sequences (kubesim request log, fresh cache dir):
    kubectl get pods        GET /version, GET /api, GET /apis, LIST pods        (first time)
    kubectl get pods        GET /version, LIST pods                             (cached 6 h)
    kubectl api-resources   GET /version, GET /api (304), GET /apis (304)
    kubectl explain deploy  GET /version, GET /openapi/v3, GET /openapi/v3/apis/apps/v1?hash=...
    kubectl apply -f crd    GET /version, GET /openapi/v3 (304), GET .../apiextensions.k8s.io/v1
                            ?hash=..., GET crd (404), POST crd ?fieldManager=kubectl-client-
                            side-apply&fieldValidation=Strict
    kubectl get wd          GET /version, GET /api (304), GET /apis (200: new CRD), LIST widgets
                            (the unknown short name made kubectl drop its discovery cache)

OpenAPI: `kubectl apply -f`, `create`, `replace` (with the default --validate=strict) and
`explain` GET `/openapi/v3` (root: {"paths": {"apis/apps/v1": {"serverRelativeURL":
"/openapi/v3/apis/apps/v1?hash=<SHA512 hex, upper case>"}, ...}}) and then the group-version
document through its serverRelativeURL.  fieldValidation support is detected by looking for a
PATCH operation carrying x-kubernetes-group-version-kind for the kind with a `fieldValidation`
query parameter (kubectl's QueryParamVerifierV3); when present kubectl sends
?fieldValidation=Strict and relies on the server (no /openapi/v2).  `kubectl apply` computes its
strategic merge patch for built-ins from the same v3 document (PatchMetaFromOpenAPIV3:
x-kubernetes-patch-merge-key / -strategy); for custom resources it sends a JSON merge patch.
`kubectl explain` finds the schema in components.schemas by x-kubernetes-group-version-kind.
/openapi/v2 is answered 404: kubectl 1.32 fetches it only when v3 is missing (then for
client-side validation) and for `kubectl explain --output=plaintext-openapiv2` (which then fails
with "the server could not find the requested resource"; a real server serves v2 as protobuf).
Checked with the request log: apply/create/replace/diff/set/patch/scale/rollout/explain and
--dry-run=client|server never request /openapi/v2 against kubesim.
Per-group-version documents requested with the current ?hash= are served with
`Cache-Control: public, immutable` + Expires in a year, a stale hash gets a 301 to the current
URL, exactly as kube-openapi's handler3 does; a CRD change changes the hash, so kubectl's HTTP
cache never hides a new CRD schema.

REQUESTS (to A1; adopted ones kept for the record):
- (adopted) Events share one storage across core/v1 and events.k8s.io/v1: storage_key(),
  to_storage(), from_storage().
- (adopted) PATCH errors: status_for(rtype, name, causes, patch=<SMP dict> | patched=<object>).
- (adopted) Cache-Control: hashed /openapi/v3 documents keep "public, immutable".
- (open) read_defaults(rtype, obj) on get/list/watch output of custom resources.
- (adopted) rtype.deprecation_warning as a Warning header on every request to a deprecated CR
  version (admit() therefore does NOT return it, to avoid a duplicate).
- (open) registry.server_address = "127.0.0.1:<port>" for /api.

Differences from a real kube-apiserver (registry scope), each refused loudly or documented:
- /openapi/v2 is 404 (kubectl 1.32 only needs it for `explain --output=plaintext-openapiv2`).
- x-kubernetes-validations: a CEL subset is evaluated (see the CEL section); rules outside it
  are not, and every CRD write and every write of its objects carries a Warning saying so.
  CRD validation ratcheting (beta, on in 1.32) is approximated: on update, errors under values
  the update did not change are dropped (list items correlate by index, not by map keys).
- Conversion webhooks are refused (CRD with strategy Webhook is invalid here).
- Tables: printers.go columns for the served kinds; Pod/Job/HPA/Event cells follow 1.32's
  printers for the fields kubesim models (Pod reasons for init containers are simplified).
- Built-in validation: the Go validators are re-implemented for what tollgate and kubectl touch
  (metadata, Deployment, Job, Pod template, Service, Secret, ConfigMap, Namespace, Event, HPA,
  Ingress, Lease, CRD); everything else is type-checked and pruned through B's schemas only.
- Decode errors of built-ins ("json: cannot unmarshal ...") name the Go struct heuristically.
- Discovery serves only the kinds listed in BUILTINS plus CRDs (no replicasets, nodes,
  rbac, ...); `kubectl get all` therefore lists pods, services, deployments, jobs and hpa.

Interface for A1 (server.py).  The spec's interface plus the following additions:
- ResourceType also has: list_kind, api_version ("apps/v1" / "v1"), group_version, and
  `field_values(obj) -> dict[str, str]` (the values of every supported field label, including
  metadata.name / metadata.namespace, for fieldSelector matching with selectors.py), and
  `supported_fields() -> set[str]`.
- discovery(path, accept) -> (status, content_type, body_dict) | None as specified, PLUS
  discovery_response(path, accept, if_none_match="") -> (status, headers: dict, body: bytes)|None
  which adds ETag/Vary and answers 304; please serve that one.
- openapi(path, query) as specified, PLUS
  openapi_response(path, query, accept="", if_none_match="") -> (status, headers, body: bytes)|None
  which adds ETag, Cache-Control/Expires for hashed URLs and the 301 for a stale hash; please
  serve that one.  Both return None for paths that are not discovery/OpenAPI.
- admit(rtype, obj, old, field_validation) -> (obj, causes, warnings).  `causes` may contain
  causes of two special reasons that are NOT 422 errors:
      reason "StrictDecodingError"  (unknown/duplicate fields under fieldValidation=Strict)
      reason "DecodeError"          (a built-in field of the wrong JSON type: the real server
                                     cannot decode the body)
  -> please build the error with `registry.status_for(rtype, name, causes)`, which returns the
  complete Status dict exactly as the real server words it (400 BadRequest
  '<Kind> in version "<v>" cannot be handled as a <Kind>: strict decoding error: unknown field
  "spec.foo"', or 422 Invalid '<Kind>.<group> "<name>" is invalid: spec.x: Required value' with
  details.causes).  `warnings` are the texts for `Warning: 299 - "<text>"` headers.
  admit() never assigns uid/resourceVersion/creationTimestamp; it applies the apiserver's
  defaulting (Service clusterIP/ports, Deployment/Job/Pod template defaults, Secret stringData ->
  data, CRD names/conversion defaults, CR structural defaults) and validation.  Call it for
  create and update (old = the stored object) and after computing a patch, with the full object
  including status for status-subresource writes (it validates the whole object).
- status_for(rtype, name, causes) -> Status dict (code 400 or 422) as described above.
- CRDs: A1 calls validate_crd(crd) (after admit(crd_type, ...), which defaults the CRD) on create
  and update -> causes for a 422; after storing, sets crd["status"] = registry.crd_status(crd,
  old_status) (conditions NamesAccepted/Established, acceptedNames, storedVersions; the
  helper crd_status_conditions(crd) gives the conditions alone) and calls register_crd(crd) if
  the NamesAccepted condition is True.  On CRD delete: A1 deletes every custom object of that
  CRD (all versions, all namespaces; a real server does this via the CRD's
  customresourcecleanup.apiextensions.k8s.io finalizer before the CRD disappears) and calls
  unregister_crd(name).  Objects of a CRD are stored under the storage version's apiVersion;
  with conversion strategy None, serving them in another served version only rewrites
  apiVersion (A1: set apiVersion to the requested group/version on reads).
- rtype.deprecation_warning (CR versions marked deprecated: true; None otherwise): a real
  server sends it as a Warning header on EVERY request to that version; the server adds it
  (admit() does not return it).
- read_defaults(rtype, obj): CR defaults applied on read, as the real server does for objects
  coming from etcd (A1: call it on get/list/watch output of custom resources).
- registry.server_address: "host:port" for /api's serverAddressByClientCIDRs (A1 sets it).
- smp_schema(rtype): schema dict for patch.strategic_merge_patch, None for CRDs (-> 415
  UnsupportedMediaType, as the real server).
- scale: deployments advertise the `scale` subresource (autoscaling/v1 Scale).  A1, if you serve
  /scale: GET -> {"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{name, namespace, uid,
  resourceVersion, creationTimestamp},"spec":{"replicas":N},"status":{"replicas":status.replicas,
  "selector":"app=x"}}; PUT/PATCH writes spec.replicas.  Use registry.scale_info(rtype) ->
  (specReplicasPath, statusReplicasPath, labelSelectorPath) | None for deployments and CRDs with
  a scale subresource.  If you do not serve it, tell me and I drop it from discovery
  (`Registry.SERVE_SCALE = False`).
"""

import base64
import copy
import datetime
import hashlib
import json
import re
import threading

import builtin_schemas as _bschemas  # B: OpenAPI v3 schemas of the built-in kinds
import schema as _schema              # B: structural schema validation/defaulting/pruning

SERVER_VERSION = "v1.32.0"

# ---------------------------------------------------------------------------
# small utilities
# ---------------------------------------------------------------------------

def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _parse_time(s):
    if not s or not isinstance(s, str):
        return None
    try:
        t = s.replace("Z", "+00:00")
        return datetime.datetime.fromisoformat(t)
    except ValueError:
        return None


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    sec = int(seconds)
    if sec < -1:
        return "<invalid>"
    if sec < 0:
        return "0s"
    if sec < 120:
        return "%ds" % sec
    minutes = sec // 60
    if minutes < 10:
        s = sec % 60
        return "%dm" % minutes if s == 0 else "%dm%ds" % (minutes, s)
    if minutes < 180:
        return "%dm" % minutes
    hours = sec // 3600
    if hours < 8:
        m = minutes % 60
        return "%dh" % hours if m == 0 else "%dh%dm" % (hours, m)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd" % (hours // 24) if h == 0 else "%dd%dh" % (hours // 24, h)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if dy == 0 else "%dy%dd" % (hours // 24 // 365, dy)
    return "%dy" % (hours // 24 // 365)


def age(ts):
    """translateTimestampSince: '<unknown>' for a missing timestamp."""
    t = _parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration((_now() - t).total_seconds())


def _get(obj, *path, default=None):
    cur = obj
    for p in path:
        if isinstance(cur, dict):
            cur = cur.get(p)
        elif isinstance(cur, list) and isinstance(p, int) and -len(cur) <= p < len(cur):
            cur = cur[p]
        else:
            return default
        if cur is None:
            return default
    return cur


def _go_value(v):
    """How Go's %v / field.Invalid render a JSON value in an error message."""
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


def _cause(reason, field, message):
    return {"reason": reason, "message": message, "field": field}


def required(field, detail=""):
    return _cause("FieldValueRequired", field, "Required value" + (": " + detail if detail else ""))


def invalid(field, value, detail):
    return _cause("FieldValueInvalid", field, "Invalid value: %s: %s" % (_go_value(value), detail))


def not_supported(field, value, supported):
    return _cause("FieldValueNotSupported", field,
                  "Unsupported value: %s: supported values: %s"
                  % (_go_value(value), ", ".join(json.dumps(s) for s in supported)))


def forbidden(field, detail):
    return _cause("FieldValueForbidden", field, "Forbidden: " + detail)


def duplicate(field, value):
    return _cause("FieldValueDuplicate", field, "Duplicate value: %s" % _go_value(value))


def too_long(field, value, n):
    return _cause("FieldValueTooLong", field,
                  "Too long: may not be more than %d bytes" % n)


# --- apimachinery/pkg/util/validation ----------------------------------------------------
DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"


def is_dns1123_label(v):
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(DNS1123_LABEL_FMT, v):
        errs.append("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                    "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',"
                    "  or '123-abc', regex used for validation is '%s')" % DNS1123_LABEL_FMT)
    return errs


def is_dns1123_subdomain(v):
    errs = []
    if len(v) > 253:
        errs.append("must be no more than 253 characters")
    if not re.fullmatch(DNS1123_SUBDOMAIN_FMT, v):
        errs.append("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                    "characters, '-' or '.', and must start and end with an alphanumeric character "
                    "(e.g. 'example.com', regex used for validation is '%s')" % DNS1123_SUBDOMAIN_FMT)
    return errs


def is_dns1035_label(v):
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(DNS1035_LABEL_FMT, v):
        errs.append("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                    "start with an alphabetic character, and end with an alphanumeric character "
                    "(e.g. 'my-name',  or 'abc-123', regex used for validation is '%s')"
                    % DNS1035_LABEL_FMT)
    return errs


def is_path_segment_name(v):
    errs = []
    if v in (".", ".."):
        errs.append("may not be '%s'" % v)
    for bad in ("/", "%"):
        if bad in v:
            errs.append("may not contain '%s'" % bad)
    return errs


def is_qualified_name(v):
    errs = []
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name', "
                " or '123-abc', regex used for validation is '%s') with an optional DNS subdomain "
                "prefix and '/' (e.g. 'example.com/MyName')" % QUALIFIED_NAME_FMT]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not re.fullmatch(QUALIFIED_NAME_FMT, name):
        errs.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                    "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
                    "or '123-abc', regex used for validation is '%s')" % QUALIFIED_NAME_FMT)
    return errs


def is_valid_label_value(v):
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 characters")
    if not re.fullmatch(LABEL_VALUE_FMT, v):
        errs.append("a valid label must be an empty string or consist of alphanumeric characters, "
                    "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                    "'MyValue',  or 'my_value',  or '12345', regex used for validation is '%s')"
                    % LABEL_VALUE_FMT)
    return errs


def is_iana_svc_name(v):
    errs = []
    if len(v) > 15:
        errs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", v):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in v:
        errs.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", v):
        errs.append("must contain at least one letter (a-z)")
    if v.startswith("-") or v.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


NAME_VALIDATORS = {
    "subdomain": is_dns1123_subdomain,
    "label": is_dns1123_label,
    "dns1035": is_dns1035_label,
    "path": is_path_segment_name,
}


# ---------------------------------------------------------------------------
# JSONPath subset (CRD additionalPrinterColumns)
# ---------------------------------------------------------------------------

class JSONPathError(ValueError):
    pass


_TOKEN = re.compile(r"""
    \.(?P<field>[A-Za-z0-9_\-/]+)          # .field
  | \[(?P<index>-?\d+)\]                     # [0]
  | \[\*\]                                   # [*]
  | \['(?P<qfield>[^']*)'\]                  # ['a.b']
  | \[\?\(@(?P<fpath>(?:\.[A-Za-z0-9_\-]+)+)\s*(?P<op>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|-?[0-9.]+|true|false)\)\]
""", re.X)


def parse_jsonpath(expr):
    """Parses '.a.b', '.a[0].b', '.a[?(@.type=="Ready")].status', '{.a.b}'.  Returns steps."""
    e = expr.strip()
    if e.startswith("{") and e.endswith("}"):
        e = e[1:-1]
    if not e.startswith("."):
        raise JSONPathError("must be a simple json path starting with .")
    steps = []
    pos = 0
    while pos < len(e):
        m = _TOKEN.match(e, pos)
        if not m or m.end() == pos:
            raise JSONPathError("unrecognized character in jsonpath at %d: %r" % (pos, e[pos:]))
        if m.group("field") is not None:
            steps.append(("field", m.group("field")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("qfield") is not None:
            steps.append(("field", m.group("qfield")))
        elif m.group("fpath") is not None:
            raw = m.group("fval")
            if raw[0] in "\"'":
                val = raw[1:-1]
            elif raw in ("true", "false"):
                val = raw == "true"
            else:
                val = float(raw) if "." in raw else int(raw)
            steps.append(("filter", m.group("fpath")[1:].split("."), m.group("op"), val))
        else:
            steps.append(("all",))
        pos = m.end()
    return steps


def eval_jsonpath(steps, obj):
    """Returns the list of results (like FindResults()[0])."""
    cur = [obj]
    for st in steps:
        nxt = []
        for v in cur:
            if st[0] == "field":
                if isinstance(v, dict) and st[1] in v:
                    nxt.append(v[st[1]])
            elif st[0] == "index":
                if isinstance(v, list) and -len(v) <= st[1] < len(v):
                    nxt.append(v[st[1]])
            elif st[0] == "all":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            elif st[0] == "filter":
                if isinstance(v, list):
                    for item in v:
                        x = _get(item, *st[1])
                        ok = (x == st[3]) if st[2] == "==" else (x != st[3])
                        if ok and x is not None or (st[2] == "!=" and x is None):
                            nxt.append(item)
        cur = nxt
    return cur


def _jsonpath_text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


# ---------------------------------------------------------------------------
# ResourceType
# ---------------------------------------------------------------------------

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]

GENERIC_FIELDS = {"metadata.name", "metadata.namespace"}


class ResourceType:
    def __init__(self, group, version, resource, kind, namespaced, singular=None, short_names=(),
                 categories=(), verbs=ALL_VERBS, subresources=(), schema=None,
                 printer_columns=None, crd_name=None, field_selectors=(), storage_version=True,
                 list_kind=None, name_rule="subdomain", field_getters=None, scale=None):
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.singular = singular or kind.lower()
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.verbs = list(verbs)
        self.subresources = set(subresources)
        self.schema = schema
        self.printer_columns = list(printer_columns or [])
        self.crd_name = crd_name
        self.field_selectors = set(field_selectors)
        self.field_getters = dict(field_getters or {})
        self.storage_version = storage_version
        self.list_kind = list_kind or kind + "List"
        self.name_rule = name_rule
        self.scale = scale  # (specReplicasPath, statusReplicasPath, labelSelectorPath)

    @property
    def group_version(self):
        return self.group + "/" + self.version if self.group else self.version

    api_version = group_version

    def supported_fields(self):
        return GENERIC_FIELDS | self.field_selectors

    def field_values(self, obj):
        """Values of the supported field labels for fieldSelector matching."""
        out = {"metadata.name": _get(obj, "metadata", "name", default=""),
               "metadata.namespace": _get(obj, "metadata", "namespace", default="")}
        for f in self.field_selectors:
            if f in self.field_getters:
                v = self.field_getters[f](obj)
            else:
                v = eval_jsonpath(parse_jsonpath("." + f), obj)
                v = v[0] if v else ""
            if isinstance(v, bool):
                v = "true" if v else "false"
            out[f] = "" if v is None else str(v)
        return out

    def __repr__(self):
        return "<ResourceType %s %s>" % (self.group_version, self.resource)


# ---------------------------------------------------------------------------
# built-in kinds
# ---------------------------------------------------------------------------

def _pod_ips(obj):
    return ",".join(p.get("ip", "") for p in _get(obj, "status", "podIPs", default=[]) or [])


def _event_source(obj):
    s = _get(obj, "source", "component", default="")
    return s


BUILTINS = [
    dict(group="", version="v1", resource="namespaces", kind="Namespace", namespaced=False,
         short_names=["ns"], verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
         subresources=["status"], field_selectors=["status.phase"], name_rule="label"),
    dict(group="", version="v1", resource="configmaps", kind="ConfigMap", namespaced=True,
         short_names=["cm"]),
    dict(group="", version="v1", resource="secrets", kind="Secret", namespaced=True,
         field_selectors=["type"]),
    dict(group="", version="v1", resource="services", kind="Service", namespaced=True,
         short_names=["svc"], categories=["all"], subresources=["status"], name_rule="dns1035"),
    dict(group="", version="v1", resource="pods", kind="Pod", namespaced=True, short_names=["po"],
         categories=["all"], subresources=["status"],
         field_selectors=["spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                          "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                          "status.podIP", "status.podIPs", "status.nominatedNodeName"],
         field_getters={"status.podIPs": _pod_ips,
                        "spec.hostNetwork": lambda o: "true" if _get(o, "spec", "hostNetwork")
                        else "false"}),
    dict(group="", version="v1", resource="events", kind="Event", namespaced=True,
         short_names=["ev"],
         field_selectors=["involvedObject.kind", "involvedObject.namespace",
                          "involvedObject.name", "involvedObject.uid",
                          "involvedObject.apiVersion", "involvedObject.resourceVersion",
                          "involvedObject.fieldPath", "reason", "reportingComponent", "source",
                          "type"],
         field_getters={"source": _event_source,
                        "reportingComponent": lambda o: o.get("reportingComponent", "")}),
    dict(group="events.k8s.io", version="v1", resource="events", kind="Event", namespaced=True,
         short_names=["ev"],
         field_selectors=["regarding.kind", "regarding.namespace", "regarding.name",
                          "regarding.uid", "regarding.apiVersion", "regarding.resourceVersion",
                          "regarding.fieldPath", "reason", "reportingController", "type"]),
    dict(group="apps", version="v1", resource="deployments", kind="Deployment", namespaced=True,
         short_names=["deploy"], categories=["all"], subresources=["status", "scale"],
         scale=(".spec.replicas", ".status.replicas", ".status.selector")),
    dict(group="batch", version="v1", resource="jobs", kind="Job", namespaced=True,
         categories=["all"], subresources=["status"], field_selectors=["status.successful"]),
    dict(group="autoscaling", version="v2", resource="horizontalpodautoscalers",
         kind="HorizontalPodAutoscaler", namespaced=True, short_names=["hpa"],
         categories=["all"], subresources=["status"], name_rule="path"),
    dict(group="networking.k8s.io", version="v1", resource="ingresses", kind="Ingress",
         namespaced=True, short_names=["ing"], subresources=["status"]),
    dict(group="coordination.k8s.io", version="v1", resource="leases", kind="Lease",
         namespaced=True),
    dict(group="apiextensions.k8s.io", version="v1", resource="customresourcedefinitions",
         kind="CustomResourceDefinition", namespaced=False, short_names=["crd", "crds"],
         categories=["api-extensions"], subresources=["status"]),
    # identities and RBAC (rbac.py): ServiceAccounts with the TokenRequest subresource
    dict(group="", version="v1", resource="serviceaccounts", kind="ServiceAccount",
         namespaced=True, short_names=["sa"], subresources=["token"]),
    dict(group="rbac.authorization.k8s.io", version="v1", resource="roles", kind="Role",
         namespaced=True),
    dict(group="rbac.authorization.k8s.io", version="v1", resource="clusterroles",
         kind="ClusterRole", namespaced=False),
    dict(group="rbac.authorization.k8s.io", version="v1", resource="rolebindings",
         kind="RoleBinding", namespaced=True),
    dict(group="rbac.authorization.k8s.io", version="v1", resource="clusterrolebindings",
         kind="ClusterRoleBinding", namespaced=False),
    # create-only review kinds, answered by rbac.py and never stored
    dict(group="authentication.k8s.io", version="v1", resource="tokenreviews",
         kind="TokenReview", namespaced=False, verbs=["create"]),
    dict(group="authentication.k8s.io", version="v1", resource="selfsubjectreviews",
         kind="SelfSubjectReview", namespaced=False, verbs=["create"]),
    dict(group="authorization.k8s.io", version="v1", resource="selfsubjectaccessreviews",
         kind="SelfSubjectAccessReview", namespaced=False, verbs=["create"]),
    dict(group="authorization.k8s.io", version="v1", resource="selfsubjectrulesreviews",
         kind="SelfSubjectRulesReview", namespaced=False, verbs=["create"]),
    dict(group="authorization.k8s.io", version="v1", resource="subjectaccessreviews",
         kind="SubjectAccessReview", namespaced=False, verbs=["create"]),
    dict(group="authorization.k8s.io", version="v1", resource="localsubjectaccessreviews",
         kind="LocalSubjectAccessReview", namespaced=True, verbs=["create"]),
]

# Subresources that are not get/patch/update of the kind itself: verbs and response kind.
SUBRESOURCE_KINDS = {"scale": (SUB_VERBS, {"group": "autoscaling", "version": "v1",
                                           "kind": "Scale"}),
                     "token": (["create"], {"group": "authentication.k8s.io", "version": "v1",
                                            "kind": "TokenRequest"})}

# the real server's order of API groups in /apis (aggregator priorities)
GROUP_ORDER = ["apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
               "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
               "networking.k8s.io", "policy", "rbac.authorization.k8s.io", "storage.k8s.io",
               "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
               "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io",
               "flowcontrol.apiserver.k8s.io"]

# Go package of each built-in group, for OpenAPI component names (io.k8s.api.apps.v1.Deployment)
GO_PKG = {"": "io.k8s.api.core", "apps": "io.k8s.api.apps", "batch": "io.k8s.api.batch",
          "autoscaling": "io.k8s.api.autoscaling", "events.k8s.io": "io.k8s.api.events",
          "networking.k8s.io": "io.k8s.api.networking",
          "coordination.k8s.io": "io.k8s.api.coordination",
          "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
          "rbac.authorization.k8s.io": "io.k8s.api.rbac",
          "authentication.k8s.io": "io.k8s.api.authentication",
          "authorization.k8s.io": "io.k8s.api.authorization"}

OBJECTMETA_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
OBJECTMETA_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                     "generation", "creationTimestamp", "deletionTimestamp",
                     "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
                     "finalizers", "managedFields"}


def version_priority_key(v):
    """Kube-aware version ordering: GA > beta > alpha, higher numbers first, then others."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    kind = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (kind, -major, -minor, v)


def _builtin_schema(group, version, kind):
    if _bschemas is None:
        return None
    return _bschemas.SCHEMAS.get((group, version, kind))


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

class Registry:
    SERVE_SCALE = True

    def __init__(self):
        self.server_address = "127.0.0.1:6443"  # A1: set to "127.0.0.1:<port>" once bound
        self._lock = threading.RLock()
        self._types = {}          # (group, version, resource) -> ResourceType
        self._crds = {}           # crd name -> list[ResourceType]
        self._crd_objs = {}       # crd name -> crd dict
        self._openapi_cache = {}  # gv path -> (bytes, etag)
        self._cluster_ips = set()
        self._node_ports = set()
        self._next_ip = 1
        for spec in BUILTINS:
            spec = dict(spec)
            if not self.SERVE_SCALE and "scale" in spec.get("subresources", []):
                spec["subresources"] = [s for s in spec["subresources"] if s != "scale"]
            rt = ResourceType(**spec)
            rt.schema = _builtin_schema(rt.group, rt.version, rt.kind)
            self._types[(rt.group, rt.version, rt.resource)] = rt

    # --- lookup ------------------------------------------------------------------
    def lookup(self, group, version, resource):
        with self._lock:
            return self._types.get((group, version, resource))

    def by_kind(self, group, version, kind):
        with self._lock:
            for rt in self._types.values():
                if rt.group == group and rt.version == version and rt.kind == kind:
                    return rt
        return None

    def types(self):
        with self._lock:
            return list(self._types.values())

    def crd_types(self, crd_name):
        with self._lock:
            return list(self._crds.get(crd_name, []))

    def scale_info(self, rtype):
        if "scale" not in rtype.subresources:
            return None
        return rtype.scale

    def smp_schema(self, rtype):
        if rtype.crd_name is not None:
            return None
        return rtype.schema

    # --- storage (shared storage between API versions/groups, as the real server) ---------
    def storage_key(self, rtype):
        """(group, resource) under which objects of rtype are stored.  events.k8s.io/v1 Events
        and core/v1 Events are ONE storage in kube-apiserver: an Event created through either
        API is listed by both.  A CRD's versions share one storage (its group + plural)."""
        if rtype.group == "events.k8s.io" and rtype.resource == "events":
            return ("", "events")
        return (rtype.group, rtype.resource)

    def to_storage(self, rtype, obj):
        """The object as stored (core/v1 form for events; storage version for CRs)."""
        if rtype.group == "events.k8s.io" and rtype.kind == "Event":
            return event_v1_to_core(obj)
        if rtype.crd_name is not None:
            st = [t for t in self.crd_types(rtype.crd_name) if t.storage_version]
            if st:
                obj = dict(obj)
                obj["apiVersion"] = st[0].group_version
        return obj

    def read_defaults(self, rtype, obj):
        """What kube-apiserver does to a custom resource it READS: prune by the served version's
        schema (objects stored through another version lose fields this version does not
        declare) and apply its structural defaults (a default added to the CRD later shows on
        existing objects).  Returns a new object; built-ins are returned unchanged."""
        if rtype.crd_name is None or rtype.schema is None or _schema is None:
            return obj
        out = copy.deepcopy(obj)
        body = {k: v for k, v in out.items() if k not in ROOT_KEYS}
        s = _strip_root(rtype.schema)
        # served through another version (conversion None): pruned by that version's schema
        _schema.prune(body, s)
        _schema.apply_defaults(body, s)
        for k in list(out):
            if k not in ROOT_KEYS and k not in body:
                del out[k]
        out.update(body)
        return out

    def from_storage(self, rtype, obj):
        """The stored object as served through rtype (conversion strategy None for CRDs)."""
        if rtype.group == "events.k8s.io" and rtype.kind == "Event":
            return event_core_to_v1(obj)
        if rtype.crd_name is not None or obj.get("apiVersion") != rtype.group_version:
            obj = dict(obj)
            obj["apiVersion"] = rtype.group_version
        return obj

    # --- CRDs ----------------------------------------------------------------------
    def validate_crd(self, crd):
        return validate_crd(crd, self)

    def register_crd(self, crd):
        name = _get(crd, "metadata", "name")
        spec = crd.get("spec") or {}
        group = spec.get("group")
        names = spec.get("names") or {}
        kind = names.get("kind")
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        new = []
        for v in spec.get("versions") or []:
            if not v.get("served", False):
                continue
            subres = v.get("subresources") or {}
            subs = []
            if "status" in subres:
                subs.append("status")
            scale = None
            if subres.get("scale") is not None:
                subs.append("scale")
                sc = subres["scale"]
                scale = (sc.get("specReplicasPath"), sc.get("statusReplicasPath"),
                         sc.get("labelSelectorPath"))
            sel = []
            for sf in v.get("selectableFields") or []:
                jp = sf.get("jsonPath", "")
                if jp.startswith("."):
                    sel.append(jp[1:])
            rt = ResourceType(
                group=group, version=v["name"], resource=names.get("plural"), kind=kind,
                namespaced=namespaced, singular=names.get("singular") or kind.lower(),
                short_names=names.get("shortNames") or [], categories=names.get("categories") or [],
                subresources=subs, schema=_get(v, "schema", "openAPIV3Schema"),
                printer_columns=v.get("additionalPrinterColumns") or [], crd_name=name,
                field_selectors=sel, storage_version=bool(v.get("storage")),
                list_kind=names.get("listKind") or kind + "List", scale=scale)
            rt.crd_version = v
            rt.deprecation_warning = None
            if v.get("deprecated"):
                rt.deprecation_warning = v.get("deprecationWarning") or \
                    "%s/%s %s is deprecated" % (group, v["name"], kind)
            rt.unsupported = cel_unsupported(rt.schema) if rt.schema is not None else []
            new.append(rt)
        with self._lock:
            self._unregister_locked(name)
            for rt in new:
                self._types[(rt.group, rt.version, rt.resource)] = rt
            self._crds[name] = new
            self._crd_objs[name] = copy.deepcopy(crd)
            self._openapi_cache.clear()

    def unregister_crd(self, name):
        with self._lock:
            self._unregister_locked(name)
            self._openapi_cache.clear()

    def _unregister_locked(self, name):
        for rt in self._crds.pop(name, []):
            key = (rt.group, rt.version, rt.resource)
            if self._types.get(key) is rt:
                del self._types[key]
        self._crd_objs.pop(name, None)

    def crd_status_conditions(self, crd, old_conditions=None):
        return crd_status_conditions(crd, self, old_conditions)

    def crd_status(self, crd, old_status=None):
        return crd_status(crd, self, old_status)

    # --- discovery -----------------------------------------------------------------
    def discovery(self, path, accept):
        r = self._discovery_doc(path, accept or "")
        if r is None:
            return None
        return r

    def discovery_response(self, path, accept, if_none_match=""):
        r = self._discovery_doc(path, accept or "")
        if r is None:
            return None
        status, ctype, body = r
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": ctype}
        if status == 200:
            etag = '"%s"' % hashlib.sha512(data).hexdigest().upper()
            headers["Vary"] = "Accept"
            headers["ETag"] = etag
            if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
                return 304, headers, b""
        return status, headers, data

    def _discovery_doc(self, path, accept):
        path = path.split("?", 1)[0].rstrip("/") or "/"
        agg = _wants_aggregated(accept)
        with self._lock:
            if path == "/api":
                if agg:
                    return 200, _agg_ctype(agg), self._aggregated(agg, legacy=True)
                return 200, "application/json", {
                    "kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                    "serverAddress": self.server_address}]}
            if path == "/apis":
                if agg:
                    return 200, _agg_ctype(agg), self._aggregated(agg, legacy=False)
                return 200, "application/json", {
                    "kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [self._api_group(g, with_tk=False) for g in self._groups()]}
            if path == "/api/v1":
                return 200, "application/json", self._resource_list("", "v1")
            m = re.fullmatch(r"/apis/([^/]+)", path)
            if m:
                g = m.group(1)
                if g not in self._groups():
                    return None
                d = self._api_group(g, with_tk=True)
                return 200, "application/json", d
            m = re.fullmatch(r"/apis/([^/]+)/([^/]+)", path)
            if m:
                g, v = m.groups()
                if v not in self._versions(g):
                    return None
                return 200, "application/json", self._resource_list(g, v)
        return None

    def _groups(self):
        gs = {rt.group for rt in self._types.values() if rt.group}
        builtin = [g for g in GROUP_ORDER if g in gs]
        return builtin + sorted(g for g in gs if g not in GROUP_ORDER)

    def _versions(self, group):
        vs = {rt.version for rt in self._types.values() if rt.group == group}
        return sorted(vs, key=version_priority_key)

    def _api_group(self, g, with_tk):
        vs = [{"groupVersion": g + "/" + v, "version": v} for v in self._versions(g)]
        d = {"name": g, "versions": vs, "preferredVersion": vs[0]}
        if with_tk:
            d = {"kind": "APIGroup", "apiVersion": "v1", **d}
        return d

    def _sorted_types(self, g, v):
        return sorted((rt for rt in self._types.values() if rt.group == g and rt.version == v),
                      key=lambda rt: rt.resource)

    def _resource_list(self, g, v):
        res = []
        for rt in self._sorted_types(g, v):
            e = {"name": rt.resource, "singularName": rt.singular, "namespaced": rt.namespaced,
                 "kind": rt.kind, "verbs": rt.verbs}
            if rt.short_names:
                e["shortNames"] = rt.short_names
            if rt.categories:
                e["categories"] = rt.categories
            e["storageVersionHash"] = _storage_hash(rt)
            res.append(e)
            for sub in sorted(rt.subresources):
                se = {"name": rt.resource + "/" + sub, "singularName": "",
                      "namespaced": rt.namespaced, "kind": rt.kind, "verbs": SUB_VERBS}
                if sub in SUBRESOURCE_KINDS:
                    verbs, rk = SUBRESOURCE_KINDS[sub]
                    se.update(rk)
                    se["verbs"] = verbs
                res.append(se)
        d = {"kind": "APIResourceList", "groupVersion": g + "/" + v if g else v,
             "resources": res}
        if g:
            d = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": g + "/" + v,
                 "resources": res}
        return d

    def _aggregated(self, api_version, legacy):
        items = []
        groups = [""] if legacy else self._groups()
        for g in groups:
            versions = []
            for v in self._versions(g):
                resources = []
                for rt in self._sorted_types(g, v):
                    e = {"resource": rt.resource,
                         "responseKind": {"group": "", "version": "", "kind": rt.kind},
                         "scope": "Namespaced" if rt.namespaced else "Cluster",
                         "singularResource": rt.singular, "verbs": rt.verbs}
                    if rt.short_names:
                        e["shortNames"] = rt.short_names
                    if rt.categories:
                        e["categories"] = rt.categories
                    subs = []
                    for sub in sorted(rt.subresources):
                        rk = {"group": "", "version": "", "kind": rt.kind}
                        verbs = SUB_VERBS
                        if sub in SUBRESOURCE_KINDS:
                            verbs, rk = SUBRESOURCE_KINDS[sub]
                        subs.append({"subresource": sub, "responseKind": dict(rk),
                                     "verbs": verbs})
                    if subs:
                        e["subresources"] = subs
                    resources.append(e)
                versions.append({"version": v, "resources": resources, "freshness": "Current"})
            md = {"creationTimestamp": None}
            if g:
                md = {"name": g, "creationTimestamp": None}
            items.append({"metadata": md, "versions": versions})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version,
                "metadata": {}, "items": items}

    # --- OpenAPI ---------------------------------------------------------------------
    def openapi(self, path, query):
        r = self.openapi_response(path, query)
        if r is None:
            return None
        status, headers, body = r
        try:
            body = json.loads(body) if body else {}
        except ValueError:
            pass
        return status, headers.get("Content-Type", "application/json"), body

    def openapi_response(self, path, query, accept="", if_none_match=""):
        path = path.split("?", 1)[0]
        if path == "/openapi/v2":
            return 404, {"Content-Type": "application/json"}, json.dumps(
                _status(404, "NotFound", "the server could not find the requested resource")
            ).encode()
        if not path.startswith("/openapi/v3"):
            return None
        params = _parse_query(query)
        with self._lock:
            if path.rstrip("/") == "/openapi/v3":
                root = {"paths": {}}
                for gvpath in self._openapi_gv_paths():
                    _, etag = self._openapi_gv(gvpath)
                    root["paths"][gvpath] = {
                        "serverRelativeURL": "/openapi/v3/%s?hash=%s" % (gvpath, etag)}
                data = json.dumps(root, separators=(",", ":"), sort_keys=True).encode()
                etag = '"%s"' % hashlib.sha512(data).hexdigest().upper()
                h = {"Content-Type": "application/json", "ETag": etag}
                if if_none_match and if_none_match.strip() == etag:
                    return 304, h, b""
                return 200, h, data
            gvpath = path[len("/openapi/v3/"):].strip("/")
            if gvpath not in self._openapi_gv_paths():
                return 404, {"Content-Type": "application/json"}, json.dumps(
                    _status(404, "NotFound", "the server could not find the requested resource")
                ).encode()
            if accept and "application/json" not in accept and "*/*" not in accept:
                return 406, {"Content-Type": "application/json"}, json.dumps(
                    _status(406, "NotAcceptable",
                            "only the following media types are accepted: application/json")
                ).encode()
            data, etag = self._openapi_gv(gvpath)
        h = {"Content-Type": "application/json", "ETag": '"%s"' % etag}
        want = params.get("hash")
        if want:
            if want != etag:
                h["Location"] = "/openapi/v3/%s?hash=%s" % (gvpath, etag)
                return 301, h, b""
            h["Vary"] = "Accept"
            h["Cache-Control"] = "public, immutable"
            h["Expires"] = (_now() + datetime.timedelta(days=365)).strftime(
                "%a, %d %b %Y %H:%M:%S GMT")
        if if_none_match and if_none_match.strip() == h["ETag"]:
            return 304, h, b""
        return 200, h, data

    def _openapi_gv_paths(self):
        out = []
        gvs = sorted({(rt.group, rt.version) for rt in self._types.values()})
        for g, v in gvs:
            out.append("api/v1" if g == "" else "apis/%s/%s" % (g, v))
        return out

    def _openapi_gv(self, gvpath):
        if gvpath in self._openapi_cache:
            return self._openapi_cache[gvpath]
        if gvpath == "api/v1":
            g, v = "", "v1"
        else:
            _, g, v = gvpath.split("/")
        doc = build_openapi_gv(self, g, v)
        data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        etag = hashlib.sha512(data).hexdigest().upper()
        self._openapi_cache[gvpath] = (data, etag)
        return data, etag

    # --- tables ------------------------------------------------------------------------
    def to_table(self, rtype, objects, include_object="Metadata", list_metadata=None):
        return to_table(rtype, objects, include_object, list_metadata)

    # --- admission -----------------------------------------------------------------------
    def admit(self, rtype, obj, old, field_validation="Strict"):
        return admit(self, rtype, obj, old, field_validation)

    def status_for(self, rtype, name, causes, patch=None, patched=None):
        return status_for(rtype, name, causes, patch, patched)

    # Service IP / nodePort allocation (used by admit)
    def _alloc_cluster_ip(self):
        with self._lock:
            while True:
                n = self._next_ip
                self._next_ip += 1
                ip = "10.96.%d.%d" % ((n // 254) % 256, n % 254 + 1)
                if ip not in self._cluster_ips and ip != "10.96.0.1":
                    self._cluster_ips.add(ip)
                    return ip

    def _alloc_node_port(self):
        with self._lock:
            for p in range(30000, 32768):
                if p not in self._node_ports:
                    self._node_ports.add(p)
                    return p
        raise RuntimeError("no node ports left")


EVENT_V1_TO_CORE = [("regarding", "involvedObject"), ("note", "message"),
                    ("reportingController", "reportingComponent"),
                    ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
                    ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count")]
EVENT_SAME = ["metadata", "eventTime", "series", "reportingInstance", "action", "reason",
              "related", "type"]


def event_v1_to_core(o):
    out = {"apiVersion": "v1", "kind": "Event"}
    for k in EVENT_SAME:
        if k in o:
            out[k] = copy.deepcopy(o[k])
    for a, b in EVENT_V1_TO_CORE:
        if a in o:
            out[b] = copy.deepcopy(o[a])
    return out


def event_core_to_v1(o):
    out = {"apiVersion": "events.k8s.io/v1", "kind": "Event"}
    for k in EVENT_SAME:
        if k in o:
            out[k] = copy.deepcopy(o[k])
    for a, b in EVENT_V1_TO_CORE:
        if b in o and o[b] not in (None, {}, "", 0) or (b in o and b == "message"):
            out[a] = copy.deepcopy(o[b])
    return out


def _status(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if details is not None:
        s["details"] = details
    return s


def _parse_query(q):
    out = {}
    for part in (q or "").lstrip("?").split("&"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def _wants_aggregated(accept):
    """Returns 'apidiscovery.k8s.io/v2' / '.../v2beta1' if the Accept header asks for it."""
    for part in accept.split(","):
        params = {}
        items = [x.strip() for x in part.split(";")]
        if items[0] not in ("application/json", "*/*"):
            continue
        for it in items[1:]:
            if "=" in it:
                k, v = it.split("=", 1)
                params[k.strip()] = v.strip()
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in ("v2", "v2beta1"):
                return "apidiscovery.k8s.io/" + params["v"]
        elif not params:
            return None  # plain application/json preferred
    return None


def _agg_ctype(api_version):
    v = api_version.split("/")[1]
    return "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList" % v


def _storage_hash(rt):
    h = hashlib.sha256(("%s/%s/%s" % (rt.group, rt.version, rt.kind)).encode()).digest()
    return base64.b64encode(h[:8]).decode()


# ---------------------------------------------------------------------------
# OpenAPI v3 documents
# ---------------------------------------------------------------------------

def _reverse_group(g):
    return ".".join(reversed(g.split(".")))


def component_name(rt, kind=None):
    kind = kind or rt.kind
    if rt.crd_name is None:
        pkg = GO_PKG.get(rt.group, "io.k8s.api." + rt.group.split(".")[0])
        return "%s.%s.%s" % (pkg, rt.version, kind)
    return "%s.%s.%s" % (_reverse_group(rt.group), rt.version, kind)


META_SCHEMAS = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
        "description": "ObjectMeta is metadata that all persisted resources must have, which "
                       "includes all objects users must create.",
        "type": "object",
        "properties": {
            "annotations": {"type": "object", "additionalProperties": {"type": "string", "default": ""},
                            "description": "Annotations is an unstructured key value map stored "
                                           "with a resource that may be set by external tools."},
            "creationTimestamp": {"type": "string", "format": "date-time",
                                  "description": "CreationTimestamp is a timestamp representing "
                                                 "the server time when this object was created."},
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64",
                                           "description": "Number of seconds allowed for this "
                                                          "object to gracefully terminate."},
            "deletionTimestamp": {"type": "string", "format": "date-time",
                                  "description": "DeletionTimestamp is RFC 3339 date and time at "
                                                 "which this resource will be deleted."},
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                           "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge",
                           "description": "Must be empty before the object is deleted from the "
                                          "registry."},
            "generateName": {"type": "string", "description": "GenerateName is an optional "
                             "prefix, used by the server, to generate a unique name ONLY IF the "
                             "Name field has not been provided."},
            "generation": {"type": "integer", "format": "int64", "description": "A sequence "
                           "number representing a specific generation of the desired state."},
            "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""},
                       "description": "Map of string keys and values that can be used to organize "
                                      "and categorize (scope and select) objects."},
            "managedFields": {"type": "array", "items": {"type": "object",
                              "x-kubernetes-preserve-unknown-fields": True},
                              "description": "ManagedFields maps workflow-id and version to the "
                                             "set of fields that are managed by that workflow."},
            "name": {"type": "string", "description": "Name must be unique within a namespace."},
            "namespace": {"type": "string", "description": "Namespace defines the space within "
                          "which each name must be unique."},
            "ownerReferences": {
                "type": "array",
                "items": {"type": "object", "required": ["apiVersion", "kind", "name", "uid"],
                          "properties": {
                              "apiVersion": {"type": "string", "default": "",
                                             "description": "API version of the referent."},
                              "blockOwnerDeletion": {"type": "boolean", "description": "If true, "
                                                     "AND if the owner has the foregroundDeletion "
                                                     "finalizer, then the owner cannot be deleted "
                                                     "from the key-value store until this "
                                                     "reference is removed."},
                              "controller": {"type": "boolean", "description": "If true, this "
                                             "reference points to the managing controller."},
                              "kind": {"type": "string", "default": "",
                                       "description": "Kind of the referent."},
                              "name": {"type": "string", "default": "",
                                       "description": "Name of the referent."},
                              "uid": {"type": "string", "default": "",
                                      "description": "UID of the referent."}},
                          "x-kubernetes-map-type": "atomic"},
                "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map",
                "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge",
                "description": "List of objects depended by this object."},
            "resourceVersion": {"type": "string", "description": "An opaque value that "
                                "represents the internal version of this object."},
            "selfLink": {"type": "string", "description": "Deprecated: selfLink is a legacy "
                         "read-only field that is no longer populated by the system."},
            "uid": {"type": "string", "description": "UID is the unique in time and space value "
                    "for this object."},
        },
    },
    "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta": {
        "description": "ListMeta describes metadata that synthetic resources must have.",
        "type": "object",
        "properties": {"continue": {"type": "string"}, "remainingItemCount": {"type": "integer",
                       "format": "int64"}, "resourceVersion": {"type": "string"},
                       "selfLink": {"type": "string"}}},
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": {
        "description": "Patch is provided to give a concrete name and type to the Kubernetes "
                       "PATCH request body.", "type": "object"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status": {
        "description": "Status is a return value for calls that don't return other objects.",
        "type": "object",
        "properties": {"apiVersion": {"type": "string"}, "code": {"type": "integer",
                       "format": "int32"}, "details": {"type": "object",
                       "x-kubernetes-preserve-unknown-fields": True}, "kind": {"type": "string"},
                       "message": {"type": "string"}, "metadata": {"allOf": [{"$ref":
                       "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"}],
                       "default": {}}, "reason": {"type": "string"}, "status": {"type": "string"}},
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}]},
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions": {
        "description": "DeleteOptions may be provided when deleting an API object.",
        "type": "object",
        "properties": {"apiVersion": {"type": "string"}, "dryRun": {"type": "array", "items":
                       {"type": "string", "default": ""}}, "gracePeriodSeconds": {"type":
                       "integer", "format": "int64"}, "kind": {"type": "string"},
                       "preconditions": {"type": "object", "properties": {"resourceVersion":
                       {"type": "string"}, "uid": {"type": "string"}}},
                       "propagationPolicy": {"type": "string"}}},
}

API_VERSION_DESC = ("APIVersion defines the versioned schema of this representation of an object. "
                    "Servers should convert recognized schemas to the latest internal value, and "
                    "may reject unrecognized values. More info: https://git.k8s.io/community/"
                    "contributors/devel/sig-architecture/api-conventions.md#resources")
KIND_DESC = ("Kind is a string value representing the REST resource this object represents. "
             "Servers may infer this from the endpoint the client submits requests to. Cannot be "
             "updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
             "sig-architecture/api-conventions.md#types-kinds")
METADATA_DESC = ("Standard object's metadata. More info: https://git.k8s.io/community/contributors"
                 "/devel/sig-architecture/api-conventions.md#metadata")


def _meta_schemas():
    out = copy.deepcopy(META_SCHEMAS)
    if _bschemas is not None:
        for key, sch in _bschemas.SCHEMAS.items():
            if isinstance(key, tuple) and len(key) == 3 and key[2] in ("ObjectMeta", "ListMeta"):
                s = copy.deepcopy(sch)
                s.pop("x-kubernetes-group-version-kind", None)
                out["io.k8s.apimachinery.pkg.apis.meta.v1." + key[2]] = s
    return out


# The kinds' own descriptions (k8s.io/api 1.32), used when builtin_schemas gives none or gives
# the status' description (see /work/notes/kubesim-A2-requests.md item 4).
KIND_DESCRIPTIONS = {
    ("", "Namespace"): "Namespace provides a scope for Names. Use of multiple namespaces is "
                       "optional.",
    ("", "ConfigMap"): "ConfigMap holds configuration data for pods to consume.",
    ("", "Secret"): "Secret holds secret data of a certain type. The total bytes of the values "
                    "in the Data field must be less than MaxSecretSize bytes.",
    ("", "Service"): "Service is a named abstraction of software service (for example, mysql) "
                     "consisting of local port (for example 3306) that the proxy listens on, and "
                     "the selector that determines which pods will answer requests sent through "
                     "the proxy.",
    ("", "Pod"): "Pod is a collection of containers that can run on a host. This resource is "
                 "created by clients and scheduled onto hosts.",
    ("", "Event"): "Event is a report of an event somewhere in the cluster.  Events have a "
                   "limited retention time and triggers and messages may evolve with time.  "
                   "Event consumers should not rely on the timing of an event with a given "
                   "Reason reflecting a consistent underlying trigger, or the continued existence "
                   "of events with that Reason.  Events should be treated as informative, "
                   "best-effort, supplementary data.",
    ("events.k8s.io", "Event"): "Event is a report of an event somewhere in the cluster. It "
                                "generally denotes some state change in the system. Events have "
                                "a limited retention time and triggers and messages may evolve "
                                "with time.  Event consumers should not rely on the timing of an "
                                "event with a given Reason reflecting a consistent underlying "
                                "trigger, or the continued existence of events with that Reason."
                                "  Events should be treated as informative, best-effort, "
                                "supplementary data.",
    ("apps", "Deployment"): "Deployment enables declarative updates for Pods and ReplicaSets.",
    ("batch", "Job"): "Job represents the configuration of a single job.",
    ("autoscaling", "HorizontalPodAutoscaler"): "HorizontalPodAutoscaler is the configuration "
                                                "for a horizontal pod autoscaler, which "
                                                "automatically manages the replica count of any "
                                                "resource implementing the scale subresource "
                                                "based on the metrics specified.",
    ("networking.k8s.io", "Ingress"): "Ingress is a collection of rules that allow inbound "
                                      "connections to reach the endpoints defined by a backend. "
                                      "An Ingress can be configured to give services "
                                      "externally-reachable urls, load balance traffic, "
                                      "terminate SSL, offer name based virtual hosting etc.",
    ("coordination.k8s.io", "Lease"): "Lease defines a lease concept.",
    ("", "ServiceAccount"): "ServiceAccount binds together: * a name, understood by users, and "
                            "perhaps by peripheral systems, for an identity * a principal that "
                            "can be authenticated and authorized * a set of secrets",
    ("rbac.authorization.k8s.io", "Role"): "Role is a namespaced, logical grouping of "
                                           "PolicyRules that can be referenced as a unit by a "
                                           "RoleBinding.",
    ("rbac.authorization.k8s.io", "ClusterRole"): "ClusterRole is a cluster level, logical "
                                                  "grouping of PolicyRules that can be "
                                                  "referenced as a unit by a RoleBinding or "
                                                  "ClusterRoleBinding.",
    ("rbac.authorization.k8s.io", "RoleBinding"): "RoleBinding references a role, but does not "
                                                  "contain it.  It can reference a Role in the "
                                                  "same namespace or a ClusterRole in the global "
                                                  "namespace.",
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): "ClusterRoleBinding references a "
                                                         "ClusterRole, but not contain it.",
    ("apiextensions.k8s.io", "CustomResourceDefinition"): "CustomResourceDefinition represents "
                                                           "a resource that should be exposed on "
                                                           "the API server.  Its name MUST be in "
                                                           "the format <.spec.name>.<.spec.group>.",
}


def kind_schema(rt):
    """The component schema of a kind (deep copy), with apiVersion/kind/metadata and GVK."""
    base = copy.deepcopy(rt.schema) if rt.schema else {"type": "object",
                                                      "x-kubernetes-preserve-unknown-fields": True}
    props = base.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string", "description": API_VERSION_DESC})
    props.setdefault("kind", {"type": "string", "description": KIND_DESC})
    md = props.get("metadata")
    if rt.crd_name is not None or md is None or (isinstance(md, dict) and set(md) <= {
            "type", "description"}):
        props["metadata"] = {"allOf": [{"$ref": "#/components/schemas/" + OBJECTMETA_REF}],
                             "default": {}, "description": METADATA_DESC}
    base.setdefault("type", "object")
    if rt.crd_name is None:
        own = base.get("description")
        st = (props.get("status") or {}).get("description") if isinstance(
            props.get("status"), dict) else None
        if (not own or own == st) and (rt.group, rt.kind) in KIND_DESCRIPTIONS:
            base["description"] = KIND_DESCRIPTIONS[(rt.group, rt.kind)]
    base["x-kubernetes-group-version-kind"] = [{"group": rt.group, "kind": rt.kind,
                                                "version": rt.version}]
    return base


def _param(name, where, desc, typ="string", required=False, unique=False):
    p = {"name": name, "in": where, "description": desc, "schema": {"type": typ}}
    if unique:
        p["schema"]["uniqueItems"] = True
    if required:
        p["required"] = True
    return p


P_PRETTY = _param("pretty", "query", "If 'true', then the output is pretty printed.",
                  unique=True)
P_DRYRUN = _param("dryRun", "query", "When present, indicates that modifications should not be "
                  "persisted. An invalid or unrecognized dryRun directive will result in an error "
                  "response and no further processing of the request. Valid values are: - All: "
                  "all dry run stages will be processed", unique=True)
P_FIELDMANAGER = _param("fieldManager", "query", "fieldManager is a name associated with the actor "
                        "or entity that is making these changes.", unique=True)
P_FIELDVALIDATION = _param("fieldValidation", "query", "fieldValidation instructs the server on "
                           "how to handle objects in the request (POST/PUT/PATCH) containing "
                           "unknown or duplicate fields. Valid values are: - Ignore: This will "
                           "ignore any unknown fields that are silently dropped from the object, "
                           "and will ignore all but the last duplicate field that the decoder "
                           "encounters. This is the default behavior prior to v1.23. - Warn: This "
                           "will send a warning via the standard warning response header for each "
                           "unknown field that is dropped from the object, and for each duplicate "
                           "field that is encountered. The request will still succeed if there "
                           "are no other errors, and will only persist the last of any duplicate "
                           "fields. This is the default in v1.23+ - Strict: This will fail the "
                           "request with a BadRequest error if any unknown fields would be dropped "
                           "from the object, or if any duplicate fields are present. The error "
                           "returned from the server will contain all unknown and duplicate "
                           "fields encountered.", unique=True)
P_FORCE = _param("force", "query", "Force is going to \"force\" Apply requests.", typ="boolean",
                 unique=True)
LIST_PARAMS = [
    _param("allowWatchBookmarks", "query", "allowWatchBookmarks requests watch events with type "
           "\"BOOKMARK\".", typ="boolean", unique=True),
    _param("continue", "query", "The continue option should be set when retrieving more results "
           "from the server.", unique=True),
    _param("fieldSelector", "query", "A selector to restrict the list of returned objects by "
           "their fields. Defaults to everything.", unique=True),
    _param("labelSelector", "query", "A selector to restrict the list of returned objects by "
           "their labels. Defaults to everything.", unique=True),
    _param("limit", "query", "limit is a maximum number of responses to return for a list call.",
           typ="integer", unique=True),
    _param("resourceVersion", "query", "resourceVersion sets a constraint on what resource "
           "versions a request may be served from.", unique=True),
    _param("resourceVersionMatch", "query", "resourceVersionMatch determines how resourceVersion "
           "is applied to list calls.", unique=True),
    _param("sendInitialEvents", "query", "`sendInitialEvents=true` may be set together with "
           "`watch=true`.", typ="boolean", unique=True),
    _param("timeoutSeconds", "query", "Timeout for the list/watch call.", typ="integer",
           unique=True),
    _param("watch", "query", "Watch for changes to the described resources and return them as a "
           "stream of add, update, and remove notifications.", typ="boolean", unique=True),
]
JSON_CTS = ["application/json", "application/yaml"]


def _content(ref, cts=JSON_CTS):
    return {ct: {"schema": {"$ref": "#/components/schemas/" + ref}} for ct in cts}


def _op(rt, action, op_id, desc, params=(), body=None, resp=None, body_cts=None, codes=("200",)):
    op = {"tags": [(rt.group.split(".")[0] if rt.group else "core") + "_" + rt.version],
          "description": desc, "operationId": op_id}
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = {"content": _content(body, body_cts or ["*/*"]), "required": True}
    op["responses"] = {}
    for c in codes:
        op["responses"][c] = {"description": {"200": "OK", "201": "Created",
                                              "202": "Accepted"}[c],
                              "content": _content(resp or "io.k8s.apimachinery.pkg.apis.meta.v1."
                                                  "Status", JSON_CTS)}
    op["responses"]["401"] = {"description": "Unauthorized"}
    op["x-kubernetes-action"] = action
    op["x-kubernetes-group-version-kind"] = {"group": rt.group, "kind": rt.kind,
                                             "version": rt.version}
    return op


def _opname(rt, verb, sub="", ns=None):
    ns = rt.namespaced if ns is None else ns
    g = "".join(p.capitalize() for p in rt.group.split(".")[0:1]) if rt.group else "Core"
    if rt.crd_name is not None:
        g = "".join(p.capitalize() for p in re.split(r"[.\-]", rt.group))
    return "%s%s%s%s%s%s" % (verb, g, rt.version.capitalize(), "Namespaced" if ns else "",
                             rt.kind, sub)


def build_openapi_gv(reg, g, v):
    schemas = _meta_schemas()
    paths = {}
    prefix = "/api/v1" if g == "" else "/apis/%s/%s" % (g, v)
    for rt in reg._sorted_types(g, v):
        kname = component_name(rt)
        lname = component_name(rt, rt.list_kind)
        schemas[kname] = kind_schema(rt)
        schemas[lname] = {
            "description": "%s is a list of %s" % (rt.list_kind, rt.kind), "type": "object",
            "required": ["items"],
            "properties": {"apiVersion": {"type": "string", "description": API_VERSION_DESC},
                           "items": {"type": "array", "items": {"$ref": "#/components/schemas/"
                                                                + kname},
                                     "description": "List of %s." % rt.resource},
                           "kind": {"type": "string", "description": KIND_DESC},
                           "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s."
                                                   "apimachinery.pkg.apis.meta.v1.ListMeta"}],
                                        "default": {}}},
            "x-kubernetes-group-version-kind": [{"group": rt.group, "kind": rt.list_kind,
                                                 "version": v}]}
        nsp = _param("namespace", "path", "object name and auth scope, such as for teams and "
                     "projects", required=True, unique=True)
        namep = _param("name", "path", "name of the " + rt.kind, required=True, unique=True)
        base = prefix + ("/namespaces/{namespace}/" if rt.namespaced else "/") + rt.resource
        common = [nsp, P_PRETTY] if rt.namespaced else [P_PRETTY]
        coll = {"parameters": common}
        ns = rt.namespaced
        if "list" in rt.verbs:
            coll["get"] = _op(rt, "list", _opname(rt, "list"), "list or watch objects of kind "
                              + rt.kind, LIST_PARAMS, resp=lname)
        if "create" in rt.verbs:
            coll["post"] = _op(rt, "post", _opname(rt, "create"), "create a " + rt.kind,
                               [P_DRYRUN, P_FIELDMANAGER, P_FIELDVALIDATION], body=kname,
                               resp=kname, codes=("200", "201", "202"))
        if "deletecollection" in rt.verbs:
            coll["delete"] = _op(rt, "deletecollection", _opname(rt, "deleteCollection"),
                                 "delete collection of " + rt.kind, [P_DRYRUN] + LIST_PARAMS,
                                 body="io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
        paths[base] = coll
        item = {"parameters": [namep] + common}
        if "get" in rt.verbs:
            item["get"] = _op(rt, "get", _opname(rt, "read"), "read the specified " + rt.kind,
                              resp=kname)
        if "update" in rt.verbs:
            item["put"] = _op(rt, "put", _opname(rt, "replace"), "replace the specified "
                              + rt.kind, [P_DRYRUN, P_FIELDMANAGER, P_FIELDVALIDATION],
                              body=kname, resp=kname, codes=("200", "201"))
        if "patch" in rt.verbs:
            cts = ["application/apply-patch+yaml", "application/json-patch+json",
                   "application/merge-patch+json"]
            if rt.crd_name is None:
                cts.append("application/strategic-merge-patch+json")
            item["patch"] = _op(rt, "patch", _opname(rt, "patch"), "partially update the "
                                "specified " + rt.kind, [P_DRYRUN, P_FIELDMANAGER,
                                                         P_FIELDVALIDATION, P_FORCE],
                                body="io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                                body_cts=cts, resp=kname, codes=("200", "201"))
        if "delete" in rt.verbs:
            item["delete"] = _op(rt, "delete", _opname(rt, "delete"), "delete a " + rt.kind,
                                 [P_DRYRUN, _param("gracePeriodSeconds", "query", "The duration "
                                  "in seconds before the object should be deleted.",
                                  typ="integer", unique=True),
                                  _param("propagationPolicy", "query", "Whether and how garbage "
                                         "collection will be performed.", unique=True)],
                                 body="io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
                                 codes=("200", "202"))
        paths[base + "/{name}"] = item
        for sub in sorted(rt.subresources):
            if sub in SUBRESOURCE_KINDS:
                continue  # Scale and TokenRequest schemas are not modelled in the v3 documents
            sp = {"parameters": [namep] + common}
            subname = sub.capitalize()
            sp["get"] = _op(rt, "get", _opname(rt, "read", subname), "read %s of the "
                            "specified %s" % (sub, rt.kind), resp=kname)
            sp["put"] = _op(rt, "put", _opname(rt, "replace", subname), "replace %s of the "
                            "specified %s" % (sub, rt.kind),
                            [P_DRYRUN, P_FIELDMANAGER, P_FIELDVALIDATION], body=kname,
                            resp=kname, codes=("200", "201"))
            cts = ["application/apply-patch+yaml", "application/json-patch+json",
                   "application/merge-patch+json"]
            if rt.crd_name is None:
                cts.append("application/strategic-merge-patch+json")
            sp["patch"] = _op(rt, "patch", _opname(rt, "patch", subname), "partially update "
                              "%s of the specified %s" % (sub, rt.kind),
                              [P_DRYRUN, P_FIELDMANAGER, P_FIELDVALIDATION, P_FORCE],
                              body="io.k8s.apimachinery.pkg.apis.meta.v1.Patch", body_cts=cts,
                              resp=kname, codes=("200", "201"))
            paths[base + "/{name}/" + sub] = sp
        if rt.namespaced and "list" in rt.verbs:
            paths[prefix + "/" + rt.resource] = {
                "parameters": [P_PRETTY],
                "get": _op(rt, "list", _opname(rt, "list", "ForAllNamespaces", ns=False),
                           "list or watch objects of kind " + rt.kind, LIST_PARAMS, resp=lname)}
    return {"openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": SERVER_VERSION},
            "paths": paths,
            "components": {"schemas": schemas,
                           "securitySchemes": {"BearerToken": {"type": "apiKey",
                                                               "description": "Bearer Token "
                                                               "authentication",
                                                               "name": "authorization",
                                                               "in": "header"}}},
            "security": [{"BearerToken": []}]}


# ---------------------------------------------------------------------------
# Tables (meta.k8s.io/v1) -- pkg/printers/internalversion/printers.go, server side (Wide: true)
# ---------------------------------------------------------------------------

D_NAME = ("Name must be unique within a namespace. Is required when creating resources, although "
          "some resources may allow a client to request the generation of an appropriate name "
          "automatically. Name is primarily intended for creation idempotence and configuration "
          "definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/"
          "overview/working-with-objects/names#names")
D_CREATED = ("CreationTimestamp is a timestamp representing the server time when this object was "
             "created. It is not guaranteed to be set in happens-before order across separate "
             "operations. Clients may not set this value. It is represented in RFC3339 form and is "
             "in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
             "https://git.k8s.io/community/contributors/devel/sig-architecture/"
             "api-conventions.md#metadata")


def _col(name, desc="", typ="string", fmt="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


NAME_COL = _col("Name", D_NAME, fmt="name")
AGE_COL = _col("Age", D_CREATED)


def _name(o):
    return _get(o, "metadata", "name", default="")


def _age(o):
    return age(_get(o, "metadata", "creationTimestamp"))


def _selector_string(sel):
    """metav1.LabelSelectorAsSelector(sel).String(): sorted requirements."""
    if sel is None:
        return "<none>"
    reqs = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, "=", [v]))
    for e in sel.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists",
              "DoesNotExist": "!"}.get(e.get("operator"), e.get("operator"))
        reqs.append((e.get("key", ""), op, sorted(e.get("values") or [])))
    if not reqs:
        return "<none>" if sel == {} and False else ""
    reqs.sort(key=lambda r: r[0])
    out = []
    for k, op, vals in reqs:
        if op == "=":
            out.append("%s=%s" % (k, vals[0]))
        elif op in ("in", "notin"):
            out.append("%s %s (%s)" % (k, op, ",".join(vals)))
        elif op == "exists":
            out.append(k)
        elif op == "!":
            out.append("!" + k)
    return ",".join(out)


def _map_selector(m):
    if not m:
        return "<none>"
    return ",".join("%s=%s" % (k, m[k]) for k in sorted(m))


def _containers_images(tmpl_spec):
    cs = (tmpl_spec or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _rows_namespace(o):
    return [_name(o), _get(o, "status", "phase", default=""), _age(o)]


def _rows_configmap(o):
    return [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o)]


def _rows_secret(o):
    return [_name(o), o.get("type", ""), len(o.get("data") or {}), _age(o)]


def _svc_external_ip(o):
    typ = _get(o, "spec", "type", default="ClusterIP")
    ext = list(_get(o, "spec", "externalIPs", default=[]) or [])
    if typ == "ClusterIP":
        return ",".join(ext) if ext else "<none>"
    if typ == "NodePort":
        return ",".join(ext) if ext else "<none>"
    if typ == "LoadBalancer":
        lb = []
        for ing in _get(o, "status", "loadBalancer", "ingress", default=[]) or []:
            if ing.get("ip"):
                lb.append(ing["ip"])
            elif ing.get("hostname"):
                lb.append(ing["hostname"])
        allips = lb + ext
        return ",".join(allips) if allips else "<pending>"
    if typ == "ExternalName":
        return _get(o, "spec", "externalName", default="")
    return "<unknown>"


def _svc_ports(o):
    ports = _get(o, "spec", "ports", default=[]) or []
    if not ports:
        return "<none>"
    out = []
    for p in ports:
        s = "%d" % p.get("port", 0)
        if p.get("nodePort"):
            s += ":%d" % p["nodePort"]
        out.append("%s/%s" % (s, p.get("protocol", "TCP")))
    return ",".join(out)


def _rows_service(o):
    cip = _get(o, "spec", "clusterIP", default="") or "<none>"
    return [_name(o), _get(o, "spec", "type", default="ClusterIP"), cip, _svc_external_ip(o),
            _svc_ports(o), _age(o), _map_selector(_get(o, "spec", "selector"))]


def _rows_pod(o):
    spec = o.get("spec") or {}
    status = o.get("status") or {}
    total = len(spec.get("containers") or [])
    ready = 0
    restarts = 0
    last_restart = None
    reason = status.get("reason") or status.get("phase") or ""
    for cs in status.get("initContainerStatuses") or []:
        restarts += cs.get("restartCount", 0)
    init_reason = None
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        st = cs.get("state") or {}
        if "terminated" in st and st["terminated"].get("exitCode", 0) == 0:
            continue
        if "terminated" in st:
            t = st["terminated"]
            init_reason = "Init:" + (t.get("reason") or (
                "Signal:%d" % t["signal"] if t.get("signal") else "ExitCode:%d" % t.get("exitCode", 0)))
        elif "waiting" in st and st["waiting"].get("reason") and \
                st["waiting"]["reason"] != "PodInitializing":
            init_reason = "Init:" + st["waiting"]["reason"]
        else:
            init_reason = "Init:%d/%d" % (i, len(spec.get("initContainers") or []))
        break
    if init_reason:
        reason = init_reason
    has_running = False
    for cs in reversed(status.get("containerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        lt = _get(cs, "lastState", "terminated", "finishedAt")
        if lt:
            t = _parse_time(lt)
            if t and (last_restart is None or t > last_restart):
                last_restart = t
        if init_reason:
            continue
        st = cs.get("state") or {}
        if st.get("waiting", {}).get("reason"):
            reason = st["waiting"]["reason"]
        elif st.get("terminated", {}).get("reason"):
            reason = st["terminated"]["reason"]
        elif "terminated" in st:
            t = st["terminated"]
            reason = ("Signal:%d" % t["signal"]) if t.get("signal") else \
                "ExitCode:%d" % t.get("exitCode", 0)
        elif "running" in st and cs.get("ready"):
            has_running = True
            ready += 1
    if not init_reason and reason == "Completed" and has_running:
        reason = "NotReady"
        for c in status.get("conditions") or []:
            if c.get("type") == "Ready" and c.get("status") == "True":
                reason = "Running"
    if _get(o, "metadata", "deletionTimestamp"):
        reason = "NodeLost" if status.get("reason") == "NodeLost" else "Terminating"
    rs = "%d" % restarts
    if restarts and last_restart is not None:
        rs = "%d (%s ago)" % (restarts, human_duration((_now() - last_restart).total_seconds()))
    gates = spec.get("readinessGates") or []
    gate_s = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        n = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gate_s = "%d/%d" % (n, len(gates))
    return [_name(o), "%d/%d" % (ready, total), reason, rs, _age(o),
            status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", gate_s]


def _rows_deployment(o):
    spec = o.get("spec") or {}
    st = o.get("status") or {}
    c, i = _containers_images(_get(spec, "template", "spec"))
    return [_name(o), "%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 0) or 0),
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(o), c, i,
            _selector_string(spec.get("selector"))]


def _has_cond(o, typ):
    return any(c.get("type") == typ and c.get("status") == "True"
               for c in _get(o, "status", "conditions", default=[]) or [])


def _rows_job(o):
    spec = o.get("spec") or {}
    st = o.get("status") or {}
    if _has_cond(o, "Complete"):
        status = "Complete"
    elif _has_cond(o, "Failed"):
        status = "Failed"
    elif _get(o, "metadata", "deletionTimestamp"):
        status = "Terminating"
    elif _has_cond(o, "Suspended"):
        status = "Suspended"
    elif _has_cond(o, "FailureTarget"):
        status = "FailureTarget"
    elif _has_cond(o, "SuccessCriteriaMet"):
        status = "SuccessCriteriaMet"
    else:
        status = "Running"
    succ = st.get("succeeded", 0)
    if spec.get("completions") is not None:
        comp = "%d/%d" % (succ, spec["completions"])
    else:
        par = spec.get("parallelism") or 0
        comp = "%d/1 of %d" % (succ, par) if par > 1 else "%d/1" % succ
    start = _parse_time(st.get("startTime"))
    end = _parse_time(st.get("completionTime"))
    dur = ""
    if start is not None:
        dur = human_duration(((end or _now()) - start).total_seconds())
    c, i = _containers_images(_get(spec, "template", "spec"))
    return [_name(o), status, comp, dur, _age(o), c, i, _selector_string(spec.get("selector"))]


def _event_source_str(o):
    comp = _get(o, "source", "component", default="") or o.get("reportingComponent", "")
    host = _get(o, "source", "host", default="") or o.get("reportingInstance", "")
    if host:
        return "%s, %s" % (comp, host)
    return comp


def _micro_age(ts):
    return age(ts)


def _rows_event(o):
    """Core v1 Event (events.k8s.io/v1 objects are converted to this shape first)."""
    first = _age_or(o.get("firstTimestamp"), o.get("eventTime"))
    last = age(o.get("lastTimestamp")) if o.get("lastTimestamp") else first
    count = o.get("count") or 0
    series = o.get("series")
    if series:
        last = _micro_age(series.get("lastObservedTime"))
        count = series.get("count", 0)
    elif count == 0:
        count = 1
    io = o.get("involvedObject") or {}
    target = ("%s/%s" % (io.get("kind", "").lower(), io["name"])) if io.get("name") else \
        io.get("kind", "").lower()
    return [last, o.get("type", ""), o.get("reason", ""), target, io.get("fieldPath", ""),
            _event_source_str(o), (o.get("message") or "").strip(), first, count, _name(o)]


def _age_or(ts, alt):
    if ts:
        return age(ts)
    return _micro_age(alt)


def _rows_event_v1(o):
    conv = {"metadata": o.get("metadata"), "involvedObject": o.get("regarding") or {},
            "reason": o.get("reason"), "message": o.get("note"), "type": o.get("type"),
            "firstTimestamp": o.get("deprecatedFirstTimestamp"),
            "lastTimestamp": o.get("deprecatedLastTimestamp"),
            "count": o.get("deprecatedCount"), "eventTime": o.get("eventTime"),
            "source": o.get("deprecatedSource") or {},
            "reportingComponent": o.get("reportingController", ""),
            "reportingInstance": o.get("reportingInstance", "")}
    if o.get("series"):
        conv["series"] = o["series"]
    return _rows_event(conv)


def _hpa_targets(o):
    """formatHPAMetrics of printers.go."""
    metrics = _get(o, "spec", "metrics", default=[]) or []
    current = _get(o, "status", "currentMetrics", default=[]) or []
    if not metrics:
        return "<none>"
    out = []
    for i, m in enumerate(metrics):
        typ = m.get("type")
        cur = current[i] if i < len(current) and isinstance(current[i], dict) else {}
        sec_name = {"External": "external", "Pods": "pods", "Object": "object",
                    "Resource": "resource", "ContainerResource": "containerResource"}.get(typ)
        spec = m.get(sec_name) or {} if sec_name else {}
        st = cur.get(sec_name) if sec_name else None
        tgt = spec.get("target") or {}
        stc = (st or {}).get("current") or {}
        if typ in ("External", "Object"):
            if tgt.get("averageValue") is not None:
                c = stc.get("averageValue") if st and stc.get("averageValue") is not None \
                    else "<unknown>"
                out.append("%s/%s (avg)" % (c, tgt["averageValue"]))
            else:
                c = stc.get("value", "<unknown>") if st else "<unknown>"
                out.append("%s/%s" % (c, tgt.get("value", "")))
        elif typ == "Pods":
            c = stc.get("averageValue", "<unknown>") if st else "<unknown>"
            out.append("%s/%s" % (c, tgt.get("averageValue", "")))
        elif typ in ("Resource", "ContainerResource"):
            name = spec.get("name", "")
            if tgt.get("averageValue") is not None:
                c = stc.get("averageValue", "<unknown>") if st else "<unknown>"
                out.append("%s: %s/%s" % (name, c, tgt["averageValue"]))
            else:
                c = "<unknown>"
                if st and stc.get("averageUtilization") is not None:
                    c = "%d%%" % stc["averageUtilization"]
                t = "<auto>"
                if tgt.get("averageUtilization") is not None:
                    t = "%d%%" % tgt["averageUtilization"]
                out.append("%s: %s/%s" % (name, c, t))
        else:
            out.append("<unknown type>")
    if len(out) > 2:
        return ", ".join(out[:2]) + " + %d more..." % (len(out) - 2)
    return ", ".join(out)


def _rows_hpa(o):
    spec = o.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    mn = spec.get("minReplicas")
    return [_name(o), "%s/%s" % (ref.get("kind", ""), ref.get("name", "")), _hpa_targets(o),
            "<unset>" if mn is None else mn, spec.get("maxReplicas", 0),
            _get(o, "status", "currentReplicas", default=0), _age(o)]


def _rows_ingress(o):
    spec = o.get("spec") or {}
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    addrs = []
    for ing in _get(o, "status", "loadBalancer", "ingress", default=[]) or []:
        if ing.get("ip"):
            addrs.append(ing["ip"])
        elif ing.get("hostname"):
            addrs.append(ing["hostname"])
    ports = "80, 443" if spec.get("tls") else "80"
    return [_name(o), spec.get("ingressClassName") or "<none>",
            ",".join(hosts) if hosts else "*", ",".join(addrs), ports, _age(o)]


def _rows_lease(o):
    return [_name(o), _get(o, "spec", "holderIdentity", default=""), _age(o)]


def _rows_default(o):
    ts = _get(o, "metadata", "creationTimestamp", default="")
    t = _parse_time(ts)
    return [_name(o), t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else ts]


EVENT_COLS = [_col("Last Seen", "The time at which the most recent occurrence of this event was "
                   "recorded."),
              _col("Type", "Type of this event (Normal, Warning), new types could be added in the "
                   "future."),
              _col("Reason", "This should be a short, machine understandable string that gives "
                   "the reason for the transition into the object's current status."),
              _col("Object", "The object that this event is about."),
              _col("Subobject", "The subobject that this event is about.", priority=1),
              _col("Source", "The component reporting this event.", priority=1),
              _col("Message", "A human-readable description of the status of this operation."),
              _col("First Seen", "The time at which the event was first recorded.", priority=1),
              _col("Count", "The number of times this event has occurred.", priority=1),
              _col("Name", D_NAME, fmt="name", priority=1)]

TABLES = {
    ("", "Namespace"): ([NAME_COL, _col("Status", "The status of the namespace"), AGE_COL],
                       _rows_namespace),
    ("", "ConfigMap"): ([NAME_COL, _col("Data", "Data contains the configuration data."),
                         AGE_COL], _rows_configmap),
    ("", "Secret"): ([NAME_COL, _col("Type", "Used to facilitate programmatic handling of secret "
                                     "data."),
                      _col("Data", "Data contains the secret data."), AGE_COL], _rows_secret),
    ("", "Service"): ([NAME_COL, _col("Type", "type determines how the Service is exposed."),
                       _col("Cluster-IP", "clusterIP is the IP address of the service."),
                       _col("External-IP", "externalIPs is a list of IP addresses for which "
                            "nodes in the cluster will also accept traffic for this service."),
                       _col("Port(s)", "The list of ports that are exposed by this service."),
                       AGE_COL,
                       _col("Selector", "Route service traffic to pods with label keys and "
                            "values matching this selector.", priority=1)], _rows_service),
    ("", "Pod"): ([NAME_COL, _col("Ready", "The aggregate readiness state of this pod for "
                                  "accepting traffic."),
                   _col("Status", "The aggregate status of the containers in this pod."),
                   _col("Restarts", "The number of times the containers in this pod have been "
                        "restarted and when the last container in this pod has restarted."),
                   AGE_COL,
                   _col("IP", "podIP address allocated to the pod.", priority=1),
                   _col("Node", "NodeName indicates in which node this pod is scheduled.",
                        priority=1),
                   _col("Nominated Node", "nominatedNodeName is set only when this pod preempts "
                        "other pods on the node.", priority=1),
                   _col("Readiness Gates", "If specified, all readiness gates will be evaluated "
                        "for pod readiness.", priority=1)], _rows_pod),
    ("", "Event"): (EVENT_COLS, _rows_event),
    ("events.k8s.io", "Event"): (EVENT_COLS, _rows_event_v1),
    ("apps", "Deployment"): ([NAME_COL, _col("Ready", "Number of the pod with ready state"),
                              _col("Up-to-date", "Total number of non-terminated pods targeted "
                                   "by this deployment that have the desired template spec."),
                              _col("Available", "Total number of available pods (ready for at "
                                   "least minReadySeconds) targeted by this deployment."),
                              AGE_COL,
                              _col("Containers", "Names of each container in the template.",
                                   priority=1),
                              _col("Images", "Images referenced by each container in the "
                                   "template.", priority=1),
                              _col("Selector", "Label selector for pods. Existing ReplicaSets "
                                   "whose pods are selected by this will be the ones affected by "
                                   "this deployment.", priority=1)], _rows_deployment),
    ("batch", "Job"): ([NAME_COL, _col("Status", "Status of the job."),
                        _col("Completions", "The completion status of the job."),
                        _col("Duration", "Time required to complete the job."), AGE_COL,
                        _col("Containers", "Names of each container in the template.",
                             priority=1),
                        _col("Images", "Images referenced by each container in the template.",
                             priority=1),
                        _col("Selector", "A label query over pods that should match the pod "
                             "count.", priority=1)], _rows_job),
    ("autoscaling", "HorizontalPodAutoscaler"): (
        [NAME_COL, _col("Reference", "reference to scaled resource; horizontal pod autoscaler "
                        "will learn the current resource consumption and will set the desired "
                        "number of pods by using its Scale subresource."),
         _col("Targets", "metrics contains the specifications for which to use to calculate the "
              "desired replica count."),
         _col("MinPods", "minReplicas is the lower limit for the number of replicas to which "
              "the autoscaler can scale down."),
         _col("MaxPods", "maxReplicas is the upper limit for the number of replicas to which "
              "the autoscaler can scale up."),
         _col("Replicas", "currentReplicas is current number of replicas of pods managed by "
              "this autoscaler, as last seen by the autoscaler."), AGE_COL], _rows_hpa),
    ("networking.k8s.io", "Ingress"): (
        [NAME_COL, _col("Class", "ingressClassName is the name of an IngressClass cluster "
                        "resource."),
         _col("Hosts", "Hosts that incoming requests are matched against before the "
              "IngressRule is applied"),
         _col("Address", "Address is a list containing ingress points for the load-balancer"),
         _col("Ports", "Ports of TLS configurations that open"), AGE_COL], _rows_ingress),
    ("coordination.k8s.io", "Lease"): (
        [NAME_COL, _col("Holder", "holderIdentity contains the identity of the holder of a "
                        "current lease."), AGE_COL], _rows_lease),
}
DEFAULT_TABLE = ([NAME_COL, _col("Created At", D_CREATED, typ="date")], _rows_default)


def _rows_service_account(o):
    return [_name(o), len(o.get("secrets") or []), _age(o)]


def _rows_binding(o):
    ref = o.get("roleRef") or {}
    subjects = o.get("subjects") or []

    def of(kind):
        out = []
        for s in subjects:
            if s.get("kind") != kind:
                continue
            out.append(s.get("name", "") if kind != "ServiceAccount" else
                       "%s/%s" % (s.get("namespace", ""), s.get("name", "")))
        return ", ".join(out)
    return [_name(o), "%s/%s" % (ref.get("kind", ""), ref.get("name", "")), _age(o),
            of("User"), of("Group"), of("ServiceAccount")]


BINDING_COLS = [NAME_COL, _col("Role", "RoleRef can reference a Role in the current namespace or a "
                               "ClusterRole in the global namespace. If the RoleRef cannot be "
                               "resolved, the Authorizer must return an error. This field is "
                               "immutable."), AGE_COL,
                _col("Users", "Users in the roleBinding", priority=1),
                _col("Groups", "Groups in the roleBinding", priority=1),
                _col("ServiceAccounts", "ServiceAccounts in the roleBinding", priority=1)]
TABLES[("", "ServiceAccount")] = (
    [NAME_COL, _col("Secrets", "Secrets is a list of the secrets in the same namespace that pods "
                    "running using this ServiceAccount are allowed to use."), AGE_COL],
    _rows_service_account)
TABLES[("rbac.authorization.k8s.io", "RoleBinding")] = (BINDING_COLS, _rows_binding)
TABLES[("rbac.authorization.k8s.io", "ClusterRoleBinding")] = (BINDING_COLS, _rows_binding)
# Role and ClusterRole: NAME, CREATED AT (DEFAULT_TABLE), as printers.go prints them.


def _crd_cell(col, obj, steps):
    res = eval_jsonpath(steps, obj)
    if not res:
        return None
    v = res[0]
    typ = col.get("type", "string")
    if v is None:
        return None
    if typ == "string":
        return _jsonpath_text(v)
    if typ == "integer":
        if isinstance(v, bool):
            return None
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return int(v)
        return None
    if typ == "number":
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            return float(v)
        return None
    if typ == "boolean":
        return v if isinstance(v, bool) else None
    if typ == "date":
        if isinstance(v, str):
            t = _parse_time(v)
            if t is None:
                return "<invalid>"
            return human_duration((_now() - t).total_seconds())
        return None
    return None


def table_columns_and_rows(rt):
    if rt.crd_name is not None:
        pcs = rt.printer_columns or [{"name": "Age", "type": "date",
                                      "jsonPath": ".metadata.creationTimestamp"}]
        cols = [NAME_COL]
        compiled = []
        for pc in pcs:
            c = _col(pc.get("name", ""), pc.get("description", ""), typ=pc.get("type", "string"),
                     fmt=pc.get("format", ""), priority=pc.get("priority", 0))
            if not pc.get("description"):
                c["description"] = "Custom resource definition column (in JSONPath format): " + \
                    pc.get("jsonPath", "")
            cols.append(c)
            try:
                compiled.append((pc, parse_jsonpath(pc.get("jsonPath", ""))))
            except JSONPathError:
                compiled.append((pc, None))

        def rows(o):
            cells = [_name(o)]
            for pc, steps in compiled:
                cells.append(_crd_cell(pc, o, steps) if steps is not None else None)
            return cells
        return cols, rows
    return TABLES.get((rt.group, rt.kind), DEFAULT_TABLE)


def to_table(rt, objects, include_object="Metadata", list_metadata=None):
    cols, rowfn = table_columns_and_rows(rt)
    rows = []
    inc = include_object or "Metadata"
    for o in objects:
        row = {"cells": rowfn(o)}
        if inc == "Object":
            row["object"] = o
        elif inc == "Metadata":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": copy.deepcopy(o.get("metadata") or {})}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": dict(list_metadata or {}), "columnDefinitions": copy.deepcopy(cols),
            "rows": rows}


# ---------------------------------------------------------------------------
# Admission: decoding checks, defaulting, pruning, validation
# ---------------------------------------------------------------------------

ROOT_KEYS = ("apiVersion", "kind", "metadata")
_NO = object()


def _strip_root(schema):
    """The schema without apiVersion/kind/metadata (checked separately, as the apiserver does)."""
    s = dict(schema or {})
    if "properties" in s:
        s["properties"] = {k: v for k, v in s["properties"].items() if k not in ROOT_KEYS}
    if "required" in s:
        s["required"] = [r for r in s["required"] if r not in ROOT_KEYS]
        if not s["required"]:
            del s["required"]
    return s


def _go_map(v):
    """fmt.Sprintf("%+v") of a map[string]interface{} (patch errors quote it)."""
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, _go_map(v[k])) for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_map(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _metadata_checks(rt, md, old, causes, unknown):
    if not isinstance(md, dict):
        causes.append(_cause("DecodeError", "metadata",
                             "json: cannot unmarshal %s into Go struct field %s.metadata of type "
                             "v1.ObjectMeta" % (_json_type(md), rt.kind)))
        return
    for k in list(md):
        if k not in OBJECTMETA_FIELDS:
            unknown.append("metadata." + k)
            del md[k]
    for k in ("labels", "annotations"):
        v = md.get(k)
        if v is None:
            continue
        if not isinstance(v, dict) or any(not isinstance(x, str) for x in v.values()):
            causes.append(_cause("DecodeError", "metadata." + k,
                                 "json: cannot unmarshal %s into Go struct field ObjectMeta."
                                 "metadata.%s of type string" % (_json_type(v), k)))
            return
    name = md.get("name") or ""
    gen = md.get("generateName") or ""
    if not name and not gen:
        causes.append(required("metadata.name", "name or generateName is required"))
    validator = NAME_VALIDATORS[rt.name_rule]
    if name:
        for msg in validator(name):
            causes.append(invalid("metadata.name", name, msg))
    if gen and not name:
        # the apiserver validates generateName with a trailing character appended
        errs = validator(gen.rstrip("-") + "a" if rt.name_rule != "path" else gen)
        for msg in errs:
            causes.append(invalid("metadata.generateName", gen, msg))
    for k, v in (md.get("labels") or {}).items():
        for msg in is_qualified_name(k):
            causes.append(invalid("metadata.labels", k, msg))
        for msg in is_valid_label_value(v):
            causes.append(invalid("metadata.labels", v, msg))
    total = 0
    for k, v in (md.get("annotations") or {}).items():
        for msg in is_qualified_name(k.lower()):
            causes.append(invalid("metadata.annotations", k, msg))
        total += len(k) + len(v)
    if total > 256 * 1024:
        causes.append(too_long("metadata.annotations", "", 256 * 1024))
    # apimachinery validateOwnerReference: the path is NOT indexed
    controllers = []
    for ref in md.get("ownerReferences") or []:
        p = "metadata.ownerReferences"
        av = ref.get("apiVersion") or ""
        version = av.split("/")[-1] if av else ""
        if not version:
            causes.append(invalid(p + ".apiVersion", av, "version must not be empty"))
        if not ref.get("kind"):
            causes.append(invalid(p + ".kind", "", "kind must not be empty"))
        if not ref.get("name"):
            causes.append(invalid(p + ".name", "", "name must not be empty"))
        if not ref.get("uid"):
            causes.append(invalid(p + ".uid", "", "uid must not be empty"))
        if ref.get("controller"):
            controllers.append("%s/%s" % (ref.get("kind", ""), ref.get("name", "")))
    if len(controllers) > 1:
        c = invalid("metadata.ownerReferences", "", "")
        c["message"] = ("Invalid value: []v1.OwnerReference{...}: Only one reference can have "
                        "Controller set to true. Found \"true\" in references for %s"
                        % " and ".join(controllers))
        causes.append(c)
    for i, f in enumerate(md.get("finalizers") or []):
        for msg in is_qualified_name(f):
            causes.append(invalid("metadata.finalizers[%d]" % i, f, msg))
        if "/" not in f and f not in ("kubernetes", "orphan", "foregroundDeletion"):
            # the apiserver only warns for non-domain-qualified finalizer names
            pass
    if old is not None:
        oldmd = old.get("metadata") or {}
        if oldmd.get("name") and md.get("name") and oldmd["name"] != md["name"]:
            causes.append(invalid("metadata.name", md["name"], "field is immutable"))


def _json_type(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _is_type_cause(c):
    return c.get("reason") == "FieldValueTypeInvalid" or "must be of type" in c.get("message", "")


def admit(reg, rt, obj, old, field_validation):
    obj = copy.deepcopy(obj)
    causes, warnings = [], []
    fv = field_validation or "Warn"
    if fv not in ("Ignore", "Warn", "Strict"):
        return obj, [_cause("BadRequest", "",
                            'fieldValidation parameter unsupported: "%s", expected one of: '
                            'Ignore, Warn, Strict' % fv)], []
    if _schema is None:
        raise RuntimeError("kubesim: schema.py (B) is missing; refusing to admit objects")
    unknown = []
    md = obj.get("metadata")
    if md is None:
        md = obj["metadata"] = {}
    if not isinstance(md, dict):
        return obj, [_decode_cause(rt, {"field": "metadata", "message": 'Invalid value: "%s": '
                                        'metadata in body must be of type object'
                                        % _json_type(md)})], warnings
    tcauses = [c for c in _schema.validate(_drop_nulls(md), _objectmeta_schema(), "metadata")
               if _is_type_cause(c)]
    if tcauses:
        return obj, [_decode_cause(rt, c) for c in tcauses], warnings
    _metadata_checks(rt, md, old, causes, unknown)
    decode = [c for c in causes if c["reason"] == "DecodeError"]
    if decode:
        return obj, decode, warnings
    sch = rt.schema
    body = {k: v for k, v in obj.items() if k not in ROOT_KEYS}
    if sch is not None:
        s = _strip_root(sch)
        if rt.crd_name is None:
            tcauses = [c for c in _schema.validate(_drop_nulls(body), s) if _is_type_cause(c)]
            if tcauses:
                return obj, [_decode_cause(rt, c) for c in tcauses], warnings
        pruned = _schema.prune(body, s)
        unknown.extend(p.lstrip(".") for p in pruned)
    if rt.crd_name is None:
        qc = _quantity_decode_causes(rt, obj)
        if qc:
            return obj, qc[:1], warnings
    if unknown:
        if fv == "Strict":
            return obj, [_cause("StrictDecodingError", u, 'unknown field "%s"' % u)
                         for u in unknown], warnings
        if fv == "Warn":
            warnings.extend('unknown field "%s"' % u for u in unknown)
    if sch is not None:
        s = _strip_root(sch)
        _schema.apply_defaults(body, s)
        for k in list(obj):
            if k not in ROOT_KEYS and k not in body:
                del obj[k]
        obj.update(body)
    # kind-specific defaulting and validation (the Go validators)
    fn = KIND_RULES.get((rt.group, rt.kind))
    if fn is not None:
        try:
            fn(reg, rt, obj, old, causes)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as e:
            # a shape the schema does not pin down (preserve-unknown parts): refuse loudly
            return obj, [_cause("BadRequest", "", "kubesim cannot process this %s (a field has "
                                "an unexpected type: %s: %s)" % (rt.kind, type(e).__name__, e))
                         ], warnings
    if rt.crd_name is not None:
        # apiextensions' customResourceStrategy warns about finalizers this write adds
        old_fins = set(_get(old, "metadata", "finalizers", default=[]) or []) if old else set()
        for f in _get(obj, "metadata", "finalizers", default=[]) or []:
            if isinstance(f, str) and f not in old_fins and "/" not in f and \
                    f not in ("orphan", "foregroundDeletion", "kubernetes"):
                warnings.append('metadata.finalizers: "%s": prefer a domain-qualified finalizer '
                                'name%s to avoid accidental conflicts with other finalizer '
                                'writers' % (f, " including a path (/)" if "." in f else ""))
    for feat in getattr(rt, "unsupported", ()):
        warnings.append("kubesim: %s: the rule is NOT enforced (a real API server would "
                        "enforce it on this %s)" % (feat, rt.kind))
    if rt.kind == "CustomResourceDefinition":
        for i, v in enumerate(_get(obj, "spec", "versions", default=[]) or []):
            vs = _get(v, "schema", "openAPIV3Schema") if isinstance(v, dict) else None
            if isinstance(vs, dict):
                for feat in cel_unsupported(vs):
                    warnings.append("kubesim: spec.versions[%d].schema.openAPIV3Schema.%s: "
                                    "the rule is NOT enforced (a real API server enforces it)"
                                    % (i, feat))
    if sch is not None and rt.crd_name is None and hasattr(_schema, "go_roundtrip"):
        # what the Go types make of the object: nulls and empty optional lists/maps vanish
        _schema.go_roundtrip(obj, sch)
        _restore_go_struct_nulls(rt, obj)
    if sch is not None:
        body = {k: v for k, v in obj.items() if k not in ROOT_KEYS}
        seen = {(c["field"], c["reason"]) for c in causes}
        if rt.crd_name is None:
            # Built-ins: the Go validators decide, not the OpenAPI document.  Null means "zero
            # value" to Go's decoder; OpenAPI `required` mirrors Go's required fields (kept,
            # except under status, which the strategies reset/ignore), enums mirror Go's
            # supported-value checks; bounds/patterns are worded by the kind rules above.
            vcauses = [c for c in _schema.validate(_drop_nulls(body), _strip_root(sch))
                       if c.get("reason") in ("FieldValueRequired", "FieldValueNotSupported")
                       and not (c.get("field") or "").startswith("status")]
        else:
            vcauses = _schema.validate(body, _strip_root(sch))
            root = dict(body)
            for k in ("apiVersion", "kind"):
                if k in obj:
                    root[k] = obj[k]
            root["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items()
                                if k in ("name", "generateName")}
            oldroot = None
            if old is not None:
                oldroot = {k: v for k, v in old.items() if k != "metadata"}
                oldroot["metadata"] = {k: v for k, v in (old.get("metadata") or {}).items()
                                       if k in ("name", "generateName")}
            cel_validate(root, oldroot, sch, "", vcauses)
            if old is not None:
                vcauses = [c for c in vcauses if not _ratcheted(c.get("field") or "", obj, old)]
        for c in vcauses:
            if (c.get("field"), c.get("reason")) not in seen:
                causes.append(c)
                seen.add((c.get("field"), c.get("reason")))
    return obj, causes, warnings


def _restore_go_struct_nulls(rt, obj):
    """metav1.Time / MicroTime are structs: Go encodes their zero value as null, even with
    omitempty (pod templates show `creationTimestamp: null`, core Events `eventTime: null`)."""
    tmpl = _get(obj, "spec", "template")
    if rt.kind in ("Deployment", "Job") and isinstance(tmpl, dict):
        tm = tmpl.setdefault("metadata", {})
        if isinstance(tm, dict):
            tm.setdefault("creationTimestamp", None)
    if rt.kind == "Event" and rt.group == "":
        obj.setdefault("eventTime", None)


def _ratcheted(field, new, old):
    """CRD validation ratcheting (beta, on by default since 1.30): an error under a value the
    update did not change is dropped.  Approximation: the cause's path, walked from the root,
    reaches a node whose value is the same in the old and the new object (map keys and list
    indexes correlate directly; the apiserver correlates map-lists by key)."""
    segs = re.findall(r"\[\d+\]|\[[^\]]*\]|[^.\[\]]+", field)
    n, o = new, old
    for seg in segs:
        if seg.startswith("["):
            key = seg[1:-1]
            if key.isdigit():
                i = int(key)
                n = n[i] if isinstance(n, list) and i < len(n) else _NO
                o = o[i] if isinstance(o, list) and i < len(o) else _NO
            else:
                n = n.get(key, _NO) if isinstance(n, dict) else _NO
                o = o.get(key, _NO) if isinstance(o, dict) else _NO
        else:
            n = n.get(seg, _NO) if isinstance(n, dict) else _NO
            o = o.get(seg, _NO) if isinstance(o, dict) else _NO
        if n is _NO or o is _NO:
            return False
        if n == o:
            return True
    return False


def _drop_nulls(v):
    if isinstance(v, dict):
        return {k: _drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_nulls(x) for x in v]
    return v


GO_STRUCTS = {
    "metadata": "ObjectMeta", "template": "PodTemplateSpec", "containers": "Container",
    "initContainers": "Container", "env": "EnvVar", "envFrom": "EnvFromSource",
    "resources": "ResourceRequirements", "volumeMounts": "VolumeMount", "volumes": "Volume",
    "readinessProbe": "Probe", "livenessProbe": "Probe", "startupProbe": "Probe",
    "httpGet": "HTTPGetAction", "tcpSocket": "TCPSocketAction", "exec": "ExecAction",
    "strategy": "DeploymentStrategy", "rollingUpdate": "RollingUpdateDeployment",
    "scaleTargetRef": "CrossVersionObjectReference", "involvedObject": "ObjectReference",
    "regarding": "ObjectReference", "related": "ObjectReference", "source": "EventSource",
    "rules": "IngressRule", "tls": "IngressTLS", "http": "HTTPIngressRuleValue",
    "paths": "HTTPIngressPath", "backend": "IngressBackend", "defaultBackend": "IngressBackend",
    "ownerReferences": "OwnerReference", "configMap": "ConfigMapVolumeSource",
    "secret": "SecretVolumeSource", "valueFrom": "EnvVarSource",
    "names": "CustomResourceDefinitionNames", "versions": "CustomResourceDefinitionVersion",
    "conditions": "Condition", "imagePullSecrets": "LocalObjectReference",
    "servicePorts": "ServicePort", "containerPorts": "ContainerPort",
}
GO_SCALARS = {("integer", "int32"): "int32", ("integer", "int64"): "int64",
              ("integer", None): "int64", ("number", "double"): "float64",
              ("number", None): "float64", ("boolean", None): "bool", ("string", None): "string"}


def _schema_at(schema, segments):
    cur = schema
    for seg in segments:
        if not isinstance(cur, dict):
            return None
        if seg.startswith("["):
            cur = cur.get("items")
        else:
            props = cur.get("properties") or {}
            if seg in props:
                cur = props[seg]
            elif isinstance(cur.get("additionalProperties"), dict):
                cur = cur["additionalProperties"]
            else:
                return None
    return cur


def _go_struct(rt, names):
    """The Go struct that holds the field `names[-1]` (heuristic, for decode messages)."""
    if len(names) <= 1:
        return rt.kind
    parent = names[-2]
    if len(names) == 2 and parent in ("spec", "status"):
        return rt.kind + parent.capitalize()
    if parent == "spec" and len(names) >= 3 and names[-3] == "template":
        return "PodSpec"
    if parent == "ports":
        return "ServicePort" if rt.kind == "Service" else "ContainerPort"
    if parent == "selector":
        return "LabelSelector"
    if parent == "spec":
        return "PodSpec" if rt.kind == "Pod" else rt.kind + "Spec"
    return GO_STRUCTS.get(parent, parent[:1].upper() + parent[1:])


_OBJECTMETA = []


def _objectmeta_schema():
    if not _OBJECTMETA:
        _OBJECTMETA.append(_meta_schemas()[OBJECTMETA_REF])
    return _OBJECTMETA[0]


QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
QUANTITY_MSG = ("quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
_SUFFIX = {"": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "P": 1e15, "E": 1e18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40,
           "Pi": 2 ** 50, "Ei": 2 ** 60}


def parse_quantity(q):
    """A resource.Quantity as a float, or None when it does not parse."""
    if isinstance(q, bool):
        return None
    if isinstance(q, (int, float)):
        return float(q)
    if not isinstance(q, str):
        return None
    m = QUANTITY_RE.match(q.strip())
    if not m:
        return None
    num, suf = m.groups()
    try:
        val = float(num)
    except ValueError:
        return None
    if suf in _SUFFIX:
        return val * _SUFFIX[suf]
    em = re.fullmatch(r"[eE]([-+]?[0-9]+)", suf)
    if em:
        return val * 10 ** int(em.group(1))
    return None


def _pod_specs(rt, obj):
    """(path, podSpec) pairs of an object (Pod itself, or the pod template)."""
    if rt.kind == "Pod" and rt.group == "":
        return [("spec", obj.get("spec"))]
    if rt.kind in ("Deployment", "Job"):
        return [("spec.template.spec", _get(obj, "spec", "template", "spec"))]
    return []


def _quantity_decode_causes(rt, obj):
    out = []
    for path, ps in _pod_specs(rt, obj):
        if not isinstance(ps, dict):
            continue
        for kind in ("initContainers", "containers"):
            for i, c in enumerate(ps.get(kind) or []):
                res = c.get("resources") if isinstance(c, dict) else None
                if not isinstance(res, dict):
                    continue
                for part in ("limits", "requests"):
                    for name, q in (res.get(part) or {}).items() if isinstance(
                            res.get(part), dict) else []:
                        if parse_quantity(q) is None:
                            out.append(_cause("DecodeError", "%s.%s[%d].resources.%s[%s]"
                                              % (path, kind, i, part, name), QUANTITY_MSG))
    return out


def _decode_cause(rt, c):
    """A schema type error on a built-in, worded as Go's json decoder (sigs.k8s.io/json)."""
    field = c.get("field", "")
    m = re.search(r"must be of type (\w+)", c.get("message", ""))
    want = m.group(1) if m else "value"
    gotm = re.search(r'Invalid value: "(\w+)"', c.get("message", ""))
    got = gotm.group(1) if gotm else "value"
    got = {"integer": "number", "boolean": "bool"}.get(got, got)
    segs = re.findall(r"\[\d+\]|[^.\[\]]+", field)
    names = [x for x in segs if not x.startswith("[")]
    node = _schema_at(rt.schema or {}, segs) or {}
    gotype = GO_SCALARS.get((want, node.get("format")), GO_SCALARS.get((want, None)))
    if gotype is None:
        last = names[-1] if names else ""
        if last == "ports":
            last = "servicePorts" if rt.kind == "Service" else "containerPorts"
        if want == "object":
            gotype = "v1." + GO_STRUCTS[last] if last in GO_STRUCTS else "map[string]string"
        elif want == "array":
            gotype = "[]v1." + GO_STRUCTS[last] if last in GO_STRUCTS else "[]string"
        else:
            gotype = want
    return _cause("DecodeError", field,
                  "json: cannot unmarshal %s into Go struct field %s.%s of type %s"
                  % (got, _go_struct(rt, names), ".".join(names), gotype))


def status_for(rt, name, causes, patch=None, patched=None):
    """The Status a real kube-apiserver returns for these admission causes.

    For PATCH requests pass `patch` (the strategic merge patch as a dict) or `patched` (the
    object after a JSON merge / JSON patch): decoding errors of a patched object are then
    reported as the real patch handler does, a 422 Invalid on field "patch"
    ('The request is invalid: patch: Invalid value: "...": strict decoding error: ...')."""
    bad = [c for c in causes if c.get("reason") == "BadRequest"]
    if bad:
        return _status(400, "BadRequest", bad[0]["message"])
    strict = [c for c in causes if c.get("reason") == "StrictDecodingError"]
    dec = [c for c in causes if c.get("reason") == "DecodeError"]
    if (strict or dec) and (patch is not None or patched is not None):
        text = dec[0]["message"] if dec else \
            "strict decoding error: " + ", ".join(c["message"] for c in strict)
        if patch is not None:
            value = _go_map(patch)
        else:
            value = json.dumps(patched, separators=(",", ":"), sort_keys=True)
        msg = "Invalid value: %s: %s" % (json.dumps(value), text)
        return _status(422, "Invalid", ' "" is invalid: patch: ' + msg, {
            "causes": [{"reason": "FieldValueInvalid", "message": msg, "field": "patch"}]})
    if strict:
        text = "strict decoding error: " + ", ".join(c["message"] for c in strict)
        return _status(400, "BadRequest", '%s in version "%s" cannot be handled as a %s: %s'
                       % (rt.kind, rt.version, rt.kind, text))
    dec = [c for c in causes if c.get("reason") == "DecodeError"]
    if dec:
        return _status(400, "BadRequest", '%s in version "%s" cannot be handled as a %s: %s'
                       % (rt.kind, rt.version, rt.kind, dec[0]["message"]))
    qk = rt.kind + ("." + rt.group if rt.group else "")
    parts = ["%s: %s" % (c["field"], c["message"]) if c.get("field") else c["message"]
             for c in causes]
    agg = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = {"name": name or "", "kind": rt.kind, "causes": [
        {"reason": c["reason"], "message": c["message"], "field": c.get("field", "")}
        for c in causes]}
    if rt.group:
        details["group"] = rt.group
    return _status(422, "Invalid", '%s "%s" is invalid: %s' % (qk, name or "", agg), details)


# --- kind rules ---------------------------------------------------------------------------

def _default_container(c, init=False):
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    img = c.get("image") or ""
    if "imagePullPolicy" not in c:
        last = img.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last and "@" not in last else ""
        c["imagePullPolicy"] = "Always" if (tag == "latest" or (not tag and "@" not in img)) \
            else "IfNotPresent"
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        vf = e.get("valueFrom") if isinstance(e, dict) else None
        if isinstance(vf, dict) and isinstance(vf.get("fieldRef"), dict):
            vf["fieldRef"].setdefault("apiVersion", "v1")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        pr = c.get(probe)
        if isinstance(pr, dict):
            pr.setdefault("timeoutSeconds", 1)
            pr.setdefault("periodSeconds", 10)
            pr.setdefault("successThreshold", 1)
            pr.setdefault("failureThreshold", 3)
            hg = pr.get("httpGet")
            if isinstance(hg, dict):
                hg.setdefault("path", "/")
                hg.setdefault("scheme", "HTTP")


def _default_pod_spec(spec, restart="Always"):
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", restart)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    for c in spec.get("containers") or []:
        if isinstance(c, dict):
            _default_container(c)
    for c in spec.get("initContainers") or []:
        if isinstance(c, dict):
            _default_container(c, True)
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        for src in ("configMap", "secret"):
            if isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)
        if "emptyDir" not in v and len([k for k in v if k != "name"]) == 0:
            v["emptyDir"] = {}


ENV_NAME_RE = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def _validate_pod_spec(spec, path, causes, restart_allowed=None):
    if not isinstance(spec, dict):
        causes.append(required(path))
        return
    cs = spec.get("containers")
    if not cs:
        causes.append(required(path + ".containers"))
    names = set()
    for kind in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(kind) or []):
            p = "%s.%s[%d]" % (path, kind, i)
            if not isinstance(c, dict):
                continue
            n = c.get("name")
            if not n:
                causes.append(required(p + ".name"))
            else:
                for msg in is_dns1123_label(n):
                    causes.append(invalid(p + ".name", n, msg))
                if n in names:
                    causes.append(duplicate(p + ".name", n))
                names.add(n)
            if not c.get("image"):
                causes.append(required(p + ".image"))
            pn = set()
            for j, port in enumerate(c.get("ports") or []):
                pp = "%s.ports[%d]" % (p, j)
                cp = port.get("containerPort")
                if not cp:
                    causes.append(required(pp + ".containerPort"))
                elif not 1 <= cp <= 65535:
                    causes.append(invalid(pp + ".containerPort", cp,
                                          "must be between 1 and 65535, inclusive"))
                if port.get("name"):
                    if port["name"] in pn:
                        causes.append(duplicate(pp + ".name", port["name"]))
                    pn.add(port["name"])
                proto = port.get("protocol", "TCP")
                if proto not in ("TCP", "UDP", "SCTP"):
                    causes.append(not_supported(pp + ".protocol", proto, ["SCTP", "TCP", "UDP"]))
            for j, e in enumerate(c.get("env") or []):
                ep = "%s.env[%d]" % (p, j)
                en = e.get("name")
                if not en:
                    causes.append(required(ep + ".name"))
                elif not ENV_NAME_RE.fullmatch(en):
                    causes.append(invalid(ep + ".name", en, "a valid environment variable name "
                                          "must consist of alphabetic characters, digits, '_', "
                                          "'-', or '.', and must not start with a digit (e.g. "
                                          "'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', "
                                          "regex used for validation is "
                                          "'[-._a-zA-Z][-._a-zA-Z0-9]*')"))
                if "value" in e and e.get("valueFrom"):
                    causes.append(invalid(ep + ".valueFrom", "", "may not be specified when "
                                          "`value` is not empty"))
            for j, vm in enumerate(c.get("volumeMounts") or []):
                vp = "%s.volumeMounts[%d]" % (p, j)
                if not vm.get("name"):
                    causes.append(required(vp + ".name"))
                elif vm["name"] not in {v.get("name") for v in spec.get("volumes") or []}:
                    causes.append(not_found(vp + ".name", vm["name"]))
                if not vm.get("mountPath"):
                    causes.append(required(vp + ".mountPath"))
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                pr = c.get(probe)
                if isinstance(pr, dict):
                    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in pr]
                    if not handlers:
                        causes.append(required(p + "." + probe, "must specify a handler type"))
                    elif len(handlers) > 1:
                        causes.append(forbidden(p + "." + probe + "." + handlers[1],
                                                "may not specify more than 1 handler type"))
            for j, port in enumerate(c.get("ports") or []):
                pname = port.get("name") if isinstance(port, dict) else None
                if pname:
                    for msg in is_iana_svc_name(pname):
                        causes.append(invalid("%s.ports[%d].name" % (p, j), pname, msg))
            res = c.get("resources") if isinstance(c.get("resources"), dict) else {}
            lim = res.get("limits") if isinstance(res.get("limits"), dict) else {}
            req = res.get("requests") if isinstance(res.get("requests"), dict) else {}
            for rname in sorted(req):
                if rname in lim:
                    rq, lq = parse_quantity(req[rname]), parse_quantity(lim[rname])
                    if rq is not None and lq is not None and rq > lq:
                        causes.append(invalid("%s.resources.requests[%s]" % (p, rname),
                                              str(req[rname]),
                                              "must be less than or equal to %s limit of %s"
                                              % (rname, lim[rname])))
            pol = c.get("imagePullPolicy")
            if pol is not None and pol not in ("Always", "IfNotPresent", "Never"):
                causes.append(not_supported(p + ".imagePullPolicy", pol,
                                            ["Always", "IfNotPresent", "Never"]))
    vnames = set()
    for i, v in enumerate(spec.get("volumes") or []):
        p = "%s.volumes[%d]" % (path, i)
        n = v.get("name")
        if not n:
            causes.append(required(p + ".name"))
        elif n in vnames:
            causes.append(duplicate(p + ".name", n))
        vnames.add(n)
    rp = spec.get("restartPolicy")
    allowed = restart_allowed or ["Always", "OnFailure", "Never"]
    if rp is not None and rp not in allowed:
        causes.append(not_supported(path + ".restartPolicy", rp, allowed))
    dp = spec.get("dnsPolicy")
    if dp is not None and dp not in ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"):
        causes.append(not_supported(path + ".dnsPolicy", dp,
                                    ["ClusterFirst", "ClusterFirstWithHostNet", "Default",
                                     "None"]))


def not_found(field, value):
    return _cause("FieldValueNotFound", field, "Not found: %s" % _go_value(value))


def _selector_matches(sel, labels):
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def _go_label_map(m):
    return "map[string]string{%s}" % ", ".join('"%s":"%s"' % (k, m[k]) for k in sorted(m or {}))


def _validate_selector(sel, path, causes):
    for i, e in enumerate(sel.get("matchExpressions") or []):
        op = e.get("operator")
        p = "%s.matchExpressions[%d]" % (path, i)
        if op in ("In", "NotIn") and not e.get("values"):
            causes.append(required(p + ".values", "must be specified when `operator` is 'In' or "
                                   "'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and e.get("values"):
            causes.append(forbidden(p + ".values", "may not be specified when `operator` is "
                                    "'Exists' or 'DoesNotExist'"))
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            causes.append(invalid(p + ".operator", op, "not a valid selector operator"))
    for k, v in (sel.get("matchLabels") or {}).items():
        for msg in is_qualified_name(k):
            causes.append(invalid(path + ".matchLabels", k, msg))
        for msg in is_valid_label_value(v):
            causes.append(invalid(path + ".matchLabels", v, msg))


def _rules_deployment(reg, rt, obj, old, causes):
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    st = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if isinstance(st, dict):
        st.setdefault("type", "RollingUpdate")
        if st["type"] == "RollingUpdate":
            ru = st.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    tmpl = spec.get("template")
    if isinstance(tmpl, dict):
        tmpl.setdefault("metadata", {})
        tmpl["metadata"].setdefault("creationTimestamp", None)
        _default_pod_spec(tmpl.get("spec"))
    r = spec.get("replicas")
    if isinstance(r, int) and r < 0:
        causes.append(invalid("spec.replicas", r, "must be greater than or equal to 0"))
    sel = spec.get("selector")
    if not sel:
        causes.append(required("spec.selector"))
    elif isinstance(sel, dict):
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            causes.append(invalid("spec.selector", sel, "empty selector is invalid for "
                                  "deployment"))
        _validate_selector(sel, "spec.selector", causes)
    if not isinstance(tmpl, dict):
        causes.append(required("spec.template"))
    else:
        labels = _get(tmpl, "metadata", "labels", default={})
        if isinstance(sel, dict) and (sel.get("matchLabels") or sel.get("matchExpressions")) \
                and not _selector_matches(sel, labels):
            causes.append(invalid("spec.template.metadata.labels", None,
                                  "`selector` does not match template `labels`"))
            causes[-1]["message"] = "Invalid value: %s: `selector` does not match template " \
                                    "`labels`" % _go_label_map(labels)
        _validate_pod_spec(tmpl.get("spec"), "spec.template.spec", causes, ["Always"])
    if isinstance(st, dict) and st.get("type") not in ("RollingUpdate", "Recreate"):
        causes.append(not_supported("spec.strategy.type", st.get("type"),
                                    ["Recreate", "RollingUpdate"]))
    if isinstance(st, dict) and st.get("type") == "Recreate" and st.get("rollingUpdate"):
        causes.append(forbidden("spec.strategy.rollingUpdate", "may not be specified when "
                                "strategy `type` is 'Recreate'"))
    if old is not None:
        osel = _get(old, "spec", "selector")
        if osel is not None and sel is not None and osel != sel:
            causes.append(invalid("spec.selector", None, "field is immutable"))
            causes[-1]["message"] = "Invalid value: v1.LabelSelector{MatchLabels:%s, " \
                "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable" \
                % _go_label_map(sel.get("matchLabels"))


def _rules_job(reg, rt, obj, old, causes):
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("parallelism", 1)
    if "completions" not in spec:
        spec["completions"] = 1 if spec.get("parallelism", 1) is not None else None
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    md = obj.get("metadata") or {}
    uid = md.get("uid") or _get(old, "metadata", "uid")
    tmpl = spec.get("template")
    if isinstance(tmpl, dict):
        tl = tmpl.setdefault("metadata", {})
        tl.setdefault("creationTimestamp", None)
        if not spec.get("manualSelector") and uid:
            lbl = tl.setdefault("labels", {})
            for k, v in (("batch.kubernetes.io/controller-uid", uid),
                         ("batch.kubernetes.io/job-name", md.get("name", "")),
                         ("controller-uid", uid), ("job-name", md.get("name", ""))):
                lbl.setdefault(k, v)
            spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid":
                                                         uid}})
        _default_pod_spec(tmpl.get("spec"), restart="Never")
    if not isinstance(tmpl, dict):
        causes.append(required("spec.template"))
    else:
        rp = _get(tmpl, "spec", "restartPolicy")
        _validate_pod_spec(tmpl.get("spec"), "spec.template.spec", causes,
                           ["OnFailure", "Never"])
        if rp is None:
            causes.append(required("spec.template.spec.restartPolicy"))
    for f in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds",
              "ttlSecondsAfterFinished"):
        v = spec.get(f)
        if isinstance(v, int) and not isinstance(v, bool) and v < 0:
            causes.append(invalid("spec." + f, v, "must be greater than or equal to 0"))
    name = md.get("name") or ""
    if len(name) > 63:
        causes.append(invalid("metadata.name", name, "must be no more than 63 characters"))
    if old is not None:
        for f in ("completions", "selector", "template", "completionMode"):
            if f == "template" and not spec.get("suspend"):
                if _get(old, "spec", "template") != spec.get("template"):
                    causes.append(invalid("spec.template", None, "field is immutable"))
                    causes[-1]["message"] = "Invalid value: core.PodTemplateSpec{...}: field is " \
                                            "immutable"
            elif f != "template" and _get(old, "spec", f) != spec.get(f):
                causes.append(invalid("spec." + f, spec.get(f), "field is immutable"))


SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def _rules_service(reg, rt, obj, old, causes):
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    typ = spec.setdefault("type", "ClusterIP")
    if typ not in SERVICE_TYPES:
        causes.append(not_supported("spec.type", typ, SERVICE_TYPES))
        return
    spec.setdefault("sessionAffinity", "None")
    ports = spec.get("ports") or []
    for p in ports:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            if "targetPort" not in p and isinstance(p.get("port"), int):
                p["targetPort"] = p["port"]
    if typ != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if typ in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        oldspec = (old or {}).get("spec") or {}
        if "clusterIP" not in spec or spec.get("clusterIP") in ("", None):
            if oldspec.get("clusterIP"):
                spec["clusterIP"] = oldspec["clusterIP"]
            else:
                spec["clusterIP"] = reg._alloc_cluster_ip()
        if old is not None and oldspec.get("clusterIP") and \
                spec["clusterIP"] != oldspec["clusterIP"]:
            causes.append(invalid("spec.clusterIPs[0]", spec["clusterIP"],
                                  "may not change once set"))
        if spec["clusterIP"] == "None":
            spec.setdefault("clusterIPs", ["None"])
        else:
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        if spec.get("clusterIP") not in (None, "", "None"):
            with reg._lock:
                reg._cluster_ips.add(spec["clusterIP"])
        if typ in ("NodePort", "LoadBalancer"):
            oldports = {p.get("port"): p.get("nodePort") for p in oldspec.get("ports") or []}
            for i, p in enumerate(ports):
                if not isinstance(p, dict):
                    continue
                np_ = p.get("nodePort")
                if np_:
                    if isinstance(np_, int) and not 30000 <= np_ <= 32767:
                        causes.append(invalid("spec.ports[%d].nodePort" % i, np_,
                                              "provided port is not in the valid range. The "
                                              "range of valid ports is 30000-32767"))
                    with reg._lock:
                        reg._node_ports.add(np_)
                else:
                    p["nodePort"] = oldports.get(p.get("port")) or reg._alloc_node_port()
        if typ == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
            obj.setdefault("status", {}).setdefault("loadBalancer", {})
        else:
            obj.setdefault("status", {}).setdefault("loadBalancer", {})
        if not ports and spec.get("clusterIP") != "None":
            causes.append(required("spec.ports"))
    else:
        if not spec.get("externalName"):
            causes.append(required("spec.externalName"))
    names = set()
    for i, p in enumerate(ports):
        pp = "spec.ports[%d]" % i
        if not isinstance(p, dict):
            continue
        port = p.get("port")
        if port is None or port == 0:
            causes.append(required(pp + ".port"))
        elif isinstance(port, int) and not 1 <= port <= 65535:
            causes.append(invalid(pp + ".port", port, "must be between 1 and 65535, inclusive"))
        if len(ports) > 1 and not p.get("name"):
            causes.append(required(pp + ".name"))
        if p.get("name"):
            if p["name"] in names:
                causes.append(duplicate(pp + ".name", p["name"]))
            names.add(p["name"])
            for msg in is_dns1123_label(p["name"]):
                causes.append(invalid(pp + ".name", p["name"], msg))
        proto = p.get("protocol")
        if proto not in ("TCP", "UDP", "SCTP"):
            causes.append(not_supported(pp + ".protocol", proto, ["SCTP", "TCP", "UDP"]))
    for k, v in (spec.get("selector") or {}).items():
        for msg in is_valid_label_value(v):
            causes.append(invalid("spec.selector", v, msg))


def _rules_secret(reg, rt, obj, old, causes):
    sd = obj.pop("stringData", None)
    if sd:
        data = obj.setdefault("data", {})
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    obj.setdefault("type", "Opaque")
    for k, v in (obj.get("data") or {}).items():
        if not re.fullmatch(r"[-._a-zA-Z0-9]+", k):
            causes.append(invalid("data", k, "a valid config key must consist of alphanumeric "
                                  "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME', "
                                  " or 'key-name', regex used for validation is "
                                  "'[-._a-zA-Z0-9]+')"))
        try:
            base64.b64decode(v, validate=True)
        except (ValueError, TypeError):
            causes.append(_cause("DecodeError", "data",
                                 "illegal base64 data at input byte 0"))
    if old is not None:
        if old.get("type", "Opaque") != obj.get("type"):
            causes.append(invalid("type", obj.get("type"), "field is immutable"))
        if old.get("immutable"):
            if old.get("data") != obj.get("data"):
                causes.append(forbidden("data", "field is immutable when `immutable` is set"))


def _rules_configmap(reg, rt, obj, old, causes):
    for fld in ("data", "binaryData"):
        for k in (obj.get(fld) or {}):
            if not re.fullmatch(r"[-._a-zA-Z0-9]+", k):
                causes.append(invalid(fld, k, "a valid config key must consist of alphanumeric "
                                      "characters, '-', '_' or '.' (e.g. 'key.name',  or "
                                      "'KEY_NAME',  or 'key-name', regex used for validation is "
                                      "'[-._a-zA-Z0-9]+')"))
    if old is not None and old.get("immutable"):
        if old.get("data") != obj.get("data") or old.get("binaryData") != obj.get("binaryData"):
            causes.append(forbidden("data", "field is immutable when `immutable` is set"))


def _rules_namespace(reg, rt, obj, old, causes):
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("finalizers", ["kubernetes"])
    st = obj.setdefault("status", {})
    if isinstance(st, dict):
        st.setdefault("phase", "Active")
    md = obj["metadata"]
    if not isinstance(md.get("labels"), dict):
        md["labels"] = {}
    if md.get("name"):
        md["labels"]["kubernetes.io/metadata.name"] = md["name"]


def _rules_pod(reg, rt, obj, old, causes):
    spec = obj.get("spec")
    _default_pod_spec(spec)
    if isinstance(spec, dict):
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
    obj.setdefault("status", {}).setdefault("phase", "Pending")
    _validate_pod_spec(spec, "spec", causes)


def _rules_hpa(reg, rt, obj, old, causes):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(required("spec"))
        return
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80}}}]
    ref = spec.get("scaleTargetRef") or {}
    if not ref.get("kind"):
        causes.append(required("spec.scaleTargetRef.kind"))
    if not ref.get("name"):
        causes.append(required("spec.scaleTargetRef.name"))
    mx = spec.get("maxReplicas")
    mn = spec.get("minReplicas")
    if not mx or mx < 1:
        causes.append(invalid("spec.maxReplicas", mx or 0, "must be greater than 0"))
    elif isinstance(mn, int) and mn > mx:
        causes.append(invalid("spec.maxReplicas", mx, "must be greater than or equal to "
                              "`minReplicas`"))
    if isinstance(mn, int) and mn < 1:
        causes.append(invalid("spec.minReplicas", mn, "must be greater than or equal to 1"))


def _rules_ingress(reg, rt, obj, old, causes):
    spec = obj.get("spec") or {}
    for i, r in enumerate(spec.get("rules") or []):
        for j, p in enumerate(_get(r, "http", "paths", default=[]) or []):
            pp = "spec.rules[%d].http.paths[%d]" % (i, j)
            pt = p.get("pathType")
            if not pt:
                causes.append(required(pp + ".pathType", "pathType must be specified"))
            elif pt not in ("Exact", "ImplementationSpecific", "Prefix"):
                causes.append(not_supported(pp + ".pathType", pt,
                                            ["Exact", "ImplementationSpecific", "Prefix"]))
            if not p.get("backend"):
                causes.append(required(pp + ".backend"))
    if not spec.get("rules") and not spec.get("defaultBackend"):
        causes.append(invalid("spec", spec, "either `defaultBackend` or `rules` must be "
                              "specified"))
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def _rules_event(reg, rt, obj, old, causes):
    if rt.group == "":
        io = obj.get("involvedObject") or {}
        md = obj.get("metadata") or {}
        if io.get("namespace") and md.get("namespace") and io["namespace"] != md["namespace"]:
            causes.append(invalid("involvedObject.namespace", io["namespace"], "does not match "
                                  "event.namespace"))
        obj.setdefault("involvedObject", {})
        obj.setdefault("source", {})
        obj.setdefault("eventTime", None)
        obj.setdefault("reportingComponent", "")
        obj.setdefault("reportingInstance", "")
        if obj.get("type") and obj["type"] not in ("Normal", "Warning"):
            causes.append(not_supported("type", obj["type"], ["Normal", "Warning"]))
    else:
        for f in ("eventTime", "reportingController", "reportingInstance", "action", "reason"):
            if not obj.get(f):
                causes.append(required(f))
        if obj.get("type") not in ("Normal", "Warning"):
            causes.append(not_supported("type", obj.get("type", ""), ["Normal", "Warning"]))


def _rules_lease(reg, rt, obj, old, causes):
    spec = obj.get("spec") or {}
    v = spec.get("leaseDurationSeconds")
    if isinstance(v, int) and v <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", v, "must be greater than 0"))
    v = spec.get("leaseTransitions")
    if isinstance(v, int) and v < 0:
        causes.append(invalid("spec.leaseTransitions", v, "must be greater than or equal to 0"))


def _rules_crd(reg, rt, obj, old, causes):
    """CRD defaulting and the update-only checks; validate_crd() (called by the server after
    admit) does the rest."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    if old is not None:
        causes.extend(_crd_update_checks(obj, old))


def _rules_policy(reg, rt, obj, old, causes):
    """rbac validation.ValidatePolicyRule for Role and ClusterRole; aggregationRule refused."""
    namespaced = rt.kind == "Role"
    if rt.kind == "ClusterRole" and obj.get("aggregationRule") is not None:
        causes.append(forbidden("aggregationRule", "kubesim does not aggregate ClusterRoles "
                                "(list the rules in the ClusterRole itself)"))
    for i, rule in enumerate(obj.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        p = "rules[%d]" % i
        if not rule.get("verbs"):
            causes.append(required(p + ".verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if namespaced:
                causes.append(invalid(p + ".nonResourceURLs", rule["nonResourceURLs"],
                                      "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                causes.append(invalid(p + ".nonResourceURLs", rule["nonResourceURLs"],
                                      "rules cannot apply to both regular resources and "
                                      "non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            causes.append(required(p + ".apiGroups", "resource rules must supply at least one "
                                   "api group"))
        if not rule.get("resources"):
            causes.append(required(p + ".resources", "resource rules must supply at least one "
                                   "resource"))


def _rules_binding(reg, rt, obj, old, causes):
    """rbac validation.ValidateRoleBinding / ValidateClusterRoleBinding (+ roleRef immutable)."""
    namespaced = rt.kind == "RoleBinding"
    ref = obj.get("roleRef") or {}
    if isinstance(obj.get("roleRef"), dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = "rbac.authorization.k8s.io"  # SetDefaults_RoleBinding
    for sub in obj.get("subjects") or []:  # SetDefaults_Subject
        if isinstance(sub, dict) and not sub.get("apiGroup") and sub.get("kind") in ("User",
                                                                                    "Group"):
            sub["apiGroup"] = "rbac.authorization.k8s.io"
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        causes.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""),
                                    ["rbac.authorization.k8s.io"]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        causes.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        causes.append(required("roleRef.name"))
    for i, sub in enumerate(obj.get("subjects") or []):
        if not isinstance(sub, dict):
            continue
        p = "subjects[%d]" % i
        if not sub.get("name"):
            causes.append(required(p + ".name"))
        kind = sub.get("kind")
        if kind == "ServiceAccount":
            if sub.get("apiGroup"):
                causes.append(not_supported(p + ".apiGroup", sub["apiGroup"], [""]))
            if not namespaced and not sub.get("namespace"):
                causes.append(required(p + ".namespace"))
        elif kind in ("User", "Group"):
            if sub.get("apiGroup") != "rbac.authorization.k8s.io":
                causes.append(not_supported(p + ".apiGroup", sub.get("apiGroup", ""),
                                            ["rbac.authorization.k8s.io"]))
        else:
            causes.append(not_supported(p + ".kind", kind or "",
                                        ["ServiceAccount", "User", "Group"]))
    if old is not None and (old.get("roleRef") or {}) != ref:
        causes.append(invalid("roleRef", ref, "cannot change roleRef"))


KIND_RULES = {
    ("rbac.authorization.k8s.io", "Role"): _rules_policy,
    ("rbac.authorization.k8s.io", "ClusterRole"): _rules_policy,
    ("rbac.authorization.k8s.io", "RoleBinding"): _rules_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _rules_binding,
    ("apps", "Deployment"): _rules_deployment,
    ("batch", "Job"): _rules_job,
    ("", "Service"): _rules_service,
    ("", "Secret"): _rules_secret,
    ("", "ConfigMap"): _rules_configmap,
    ("", "Namespace"): _rules_namespace,
    ("", "Pod"): _rules_pod,
    ("", "Event"): _rules_event,
    ("events.k8s.io", "Event"): _rules_event,
    ("autoscaling", "HorizontalPodAutoscaler"): _rules_hpa,
    ("networking.k8s.io", "Ingress"): _rules_ingress,
    ("coordination.k8s.io", "Lease"): _rules_lease,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _rules_crd,
}


# ---------------------------------------------------------------------------
# CustomResourceDefinitions
# ---------------------------------------------------------------------------

PRINTER_TYPES = ["boolean", "date", "integer", "number", "string"]
PRINTER_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]


def _structural_causes(schema, base):
    """schema.check_structural() reasons as causes under `base`."""
    if hasattr(_schema, "check_structural_causes"):
        return [dict(c) for c in _schema.check_structural_causes(schema, base)]
    out = []
    for msg in _schema.check_structural(schema):
        if isinstance(msg, dict):
            c = dict(msg)
            c["field"] = base + ("." + c["field"] if c.get("field") else "")
            out.append(c)
            continue
        m = re.match(r"^(\S*): (Required value|Invalid value|Unsupported value|Forbidden)(.*)$",
                     msg)
        if m:
            sub = m.group(1).lstrip(".")
            reason = {"Required value": "FieldValueRequired", "Invalid value": "FieldValueInvalid",
                      "Unsupported value": "FieldValueNotSupported",
                      "Forbidden": "FieldValueForbidden"}[m.group(2)]
            out.append(_cause(reason, base + ("." + sub if sub else ""), m.group(2) + m.group(3)))
        else:
            out.append(forbidden(base, msg) if not msg.startswith("Forbidden") else
                       _cause("FieldValueForbidden", base, msg))
    return out


def validate_crd(crd, reg=None, old=None):
    causes = []
    md = crd.get("metadata") or {}
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    group = spec.get("group") or ""
    names = spec.get("names") or {}
    plural = names.get("plural") or ""
    kind = names.get("kind") or ""
    if md.get("name") and plural and group and md["name"] != plural + "." + group:
        causes.append(invalid("metadata.name", md["name"],
                              'must be spec.names.plural+"."+spec.group'))
    if not group:
        causes.append(required("spec.group"))
    else:
        for msg in is_dns1123_subdomain(group):
            causes.append(invalid("spec.group", group, msg))
        if "." not in group:
            causes.append(invalid("spec.group", group, "should be a domain with at least one dot"))
        if (group == "k8s.io" or group.endswith(".k8s.io") or group == "kubernetes.io"
                or group.endswith(".kubernetes.io")) and \
                "api-approved.kubernetes.io" not in (md.get("annotations") or {}):
            causes.append(required("metadata.annotations[api-approved.kubernetes.io]",
                                   'protected groups must have approval annotation '
                                   '"api-approved.kubernetes.io", see '
                                   'https://github.com/kubernetes/enhancements/pull/1111'))
    scope = spec.get("scope")
    if not scope:
        causes.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        causes.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    # names
    if not plural:
        causes.append(required("spec.names.plural"))
    elif is_dns1035_label(plural):
        causes.append(invalid("spec.names.plural", plural, ",".join(is_dns1035_label(plural))))
    sing = names.get("singular") or ""
    if not sing:
        causes.append(required("spec.names.singular"))
    elif is_dns1035_label(sing):
        causes.append(invalid("spec.names.singular", sing, ",".join(is_dns1035_label(sing))))
    if not kind:
        causes.append(required("spec.names.kind"))
    elif is_dns1035_label(kind.lower()):
        causes.append(invalid("spec.names.kind", kind, "may have mixed case, but should otherwise "
                              "match: " + ",".join(is_dns1035_label(kind.lower()))))
    lk = names.get("listKind") or ""
    if not lk:
        causes.append(required("spec.names.listKind"))
    elif is_dns1035_label(lk.lower()):
        causes.append(invalid("spec.names.listKind", lk, "may have mixed case, but should "
                              "otherwise match: " + ",".join(is_dns1035_label(lk.lower()))))
    if kind and kind == lk:
        causes.append(invalid("spec.names.listKind", lk, "kind and listKind may not be the same"))
    for i, sn in enumerate(names.get("shortNames") or []):
        errs = is_dns1035_label(sn)
        if errs:
            causes.append(invalid("spec.names.shortNames[%d]" % i, sn, ",".join(errs)))
    for i, cat in enumerate(names.get("categories") or []):
        errs = is_dns1035_label(cat)
        if errs:
            causes.append(invalid("spec.names.categories[%d]" % i, cat, ",".join(errs)))
    # versions
    versions = spec.get("versions")
    if not versions:
        causes.append(required("spec.versions", "must have exactly one version marked as "
                               "storage version"))
        versions = []
    storage = 0
    seen = set()
    for i, v in enumerate(versions):
        p = "spec.versions[%d]" % i
        if not isinstance(v, dict):
            continue
        vn = v.get("name") or ""
        if not vn:
            causes.append(required(p + ".name"))
        else:
            errs = is_dns1035_label(vn)
            if errs:
                causes.append(invalid(p + ".name", vn, ",".join(errs)))
        if vn in seen:
            causes.append(invalid("spec.versions", "", "must contain unique version names"))
        seen.add(vn)
        if v.get("storage"):
            storage += 1
        sch = _get(v, "schema", "openAPIV3Schema")
        if sch is None:
            causes.append(required(p + ".schema.openAPIV3Schema", "schemas are required"))
        elif _schema is not None:
            causes.extend(_structural_causes(sch, p + ".schema.openAPIV3Schema"))
        for j, pc in enumerate(v.get("additionalPrinterColumns") or []):
            pp = "%s.additionalPrinterColumns[%d]" % (p, j)
            if not pc.get("name"):
                causes.append(required(pp + ".name"))
            t = pc.get("type")
            if not t:
                causes.append(required(pp + ".type"))
            elif t not in PRINTER_TYPES:
                causes.append(not_supported(pp + ".type", t, PRINTER_TYPES))
            f = pc.get("format")
            if f and f not in PRINTER_FORMATS:
                causes.append(not_supported(pp + ".format", f, PRINTER_FORMATS))
            if pc.get("priority") is not None and pc["priority"] < 0:
                causes.append(invalid(pp + ".priority", pc["priority"],
                                      "must be greater than or equal to 0"))
            jp = pc.get("jsonPath")
            if not jp:
                causes.append(required(pp + ".jsonPath"))
            else:
                try:
                    parse_jsonpath(jp)
                except JSONPathError:
                    causes.append(invalid(pp + ".jsonPath", jp, "must be a simple json path"))
        sfs = v.get("selectableFields") or []
        if len(sfs) > 8:
            causes.append(_cause("FieldValueTooMany", p + ".selectableFields",
                                 "Too many: %d: must have at most 8 items" % len(sfs)))
        seen_sf = set()
        for j, sf in enumerate(sfs):
            jp = sf.get("jsonPath") if isinstance(sf, dict) else None
            fp = "%s.selectableFields[%d].jsonPath" % (p, j)
            if not jp:
                causes.append(required(fp))
                continue
            node = None
            if isinstance(sch, dict) and jp.startswith(".") and "[" not in jp:
                node = _schema_at(sch, jp[1:].split("."))
            if node is None:
                causes.append(invalid(fp, jp, "is an invalid path: does not refer to a valid "
                                              "field"))
            elif node.get("type") not in ("string", "integer", "boolean"):
                causes.append(invalid(fp, jp, "must point to a field of type string, boolean or "
                                              "integer. Enum string fields and strings with "
                                              "formats are allowed."))
            if jp in seen_sf:
                causes.append(duplicate("%s.selectableFields[%d].jsonPath" % (p, j), jp))
            seen_sf.add(jp)
        sub = v.get("subresources") or {}
        sc = sub.get("scale")
        if sc is not None:
            sp = p + ".subresources.scale"
            srp = sc.get("specReplicasPath")
            if not srp:
                causes.append(required(sp + ".specReplicasPath"))
            elif not srp.startswith(".spec."):
                causes.append(invalid(sp + ".specReplicasPath", srp,
                                      "should be a json path under .spec"))
            strp = sc.get("statusReplicasPath")
            if not strp:
                causes.append(required(sp + ".statusReplicasPath"))
            elif not strp.startswith(".status."):
                causes.append(invalid(sp + ".statusReplicasPath", strp,
                                      "should be a json path under .status"))
    if versions and storage != 1:
        causes.append(invalid("spec.versions", "", "must have exactly one version marked as "
                              "storage version"))
        causes[-1]["message"] = "Invalid value: []apiextensions.CustomResourceDefinitionVersion" \
            "{...}: must have exactly one version marked as storage version"
    if spec.get("preserveUnknownFields") is True:
        causes.append(invalid("spec.preserveUnknownFields", True, "cannot set to true, set "
                              "x-kubernetes-preserve-unknown-fields to true in "
                              "spec.versions[*].schema instead"))
    cv = spec.get("conversion") or {}
    if cv.get("strategy", "None") not in ("None", "Webhook"):
        causes.append(not_supported("spec.conversion.strategy", cv.get("strategy"),
                                    ["None", "Webhook"]))
    if cv.get("strategy") == "Webhook":
        causes.append(forbidden("spec.conversion.strategy", "kubesim does not run conversion "
                                "webhooks (refusing rather than serving unconverted objects)"))
    if old is not None:
        causes.extend(_crd_update_checks(crd, old))
    return causes


def _crd_update_checks(crd, old):
    causes = []
    spec = crd.get("spec") or {}
    os_ = old.get("spec") or {}
    if os_.get("group") and os_.get("group") != spec.get("group"):
        causes.append(invalid("spec.group", spec.get("group"), "field is immutable"))
    if os_.get("scope") and os_.get("scope") != spec.get("scope"):
        causes.append(invalid("spec.scope", spec.get("scope"), "field is immutable"))
    stored = _get(old, "status", "storedVersions", default=[]) or []
    names_now = {v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict)}
    for i, sv in enumerate(stored):
        if sv not in names_now:
            causes.append(invalid("status.storedVersions[%d]" % i, sv,
                                  "must appear in spec.versions"))
    return causes


def _cond(typ, status, reason, message, old_conds):
    ts = _now().strftime("%Y-%m-%dT%H:%M:%SZ")
    for c in old_conds or []:
        if c.get("type") == typ and c.get("status") == status:
            ts = c.get("lastTransitionTime") or ts
    return {"type": typ, "status": status, "lastTransitionTime": ts, "reason": reason,
            "message": message}


def _name_conflicts(crd, reg):
    if reg is None:
        return None
    spec = crd.get("spec") or {}
    group = spec.get("group")
    names = spec.get("names") or {}
    me = _get(crd, "metadata", "name")
    with reg._lock:
        others = [c for n, c in reg._crd_objs.items() if n != me and
                  _get(c, "spec", "group") == group]
    for o in others:
        on = _get(o, "status", "acceptedNames") or _get(o, "spec", "names") or {}
        if names.get("plural") in (on.get("plural"), on.get("singular")) or \
                names.get("plural") in (on.get("shortNames") or []):
            return ("PluralConflict", '"%s" is already in use' % names.get("plural"))
        if names.get("singular") and names.get("singular") in (
                on.get("plural"), on.get("singular")):
            return ("SingularConflict", '"%s" is already in use' % names.get("singular"))
        both = set(names.get("shortNames") or []) & (
            set(on.get("shortNames") or []) | {on.get("plural"), on.get("singular")})
        if both:
            return ("ShortNamesConflict", '"%s" is already in use' % sorted(both)[0])
        if names.get("kind") in (on.get("kind"), on.get("listKind")):
            return ("KindConflict", '"%s" is already in use' % names.get("kind"))
        if names.get("listKind") in (on.get("kind"), on.get("listKind")):
            return ("ListKindConflict", '"%s" is already in use' % names.get("listKind"))
    return None


def crd_status_conditions(crd, reg=None, old_conditions=None):
    """NamesAccepted and Established as the apiextensions controllers set them."""
    if old_conditions is None:
        old_conditions = _get(crd, "status", "conditions", default=[]) or []
    conflict = _name_conflicts(crd, reg)
    if conflict:
        return [_cond("NamesAccepted", "False", conflict[0], conflict[1], old_conditions),
                _cond("Established", "False", "NotAccepted", "not all names are accepted",
                      old_conditions)]
    return [_cond("NamesAccepted", "True", "NoConflicts", "no conflicts found", old_conditions),
            _cond("Established", "True", "InitialNamesAccepted",
                  "the initial names have been accepted", old_conditions)]


def crd_status(crd, reg=None, old_status=None):
    """The full CRD status: conditions, acceptedNames, storedVersions."""
    old_status = old_status or {}
    conds = crd_status_conditions(crd, reg, old_status.get("conditions"))
    names = copy.deepcopy(_get(crd, "spec", "names", default={}) or {})
    accepted = conds[0]["status"] == "True"
    stored = list(old_status.get("storedVersions") or [])
    for v in _get(crd, "spec", "versions", default=[]) or []:
        if v.get("storage") and v.get("name") not in stored:
            stored.append(v["name"])
    return {"conditions": conds,
            "acceptedNames": names if accepted else (old_status.get("acceptedNames") or
                                                     {"plural": "", "kind": ""}),
            "storedVersions": stored}


def names_accepted(crd):
    return any(c.get("type") == "NamesAccepted" and c.get("status") == "True"
               for c in _get(crd, "status", "conditions", default=[]) or [])


# ---------------------------------------------------------------------------
# x-kubernetes-validations: a CEL subset
# ---------------------------------------------------------------------------
# kubesim evaluates the CEL rules CRDs commonly use: self/oldSelf, field selection, has(),
# size(), comparisons, && || !, arithmetic, ?:, `in`, string/list literals, the methods
# size/startsWith/endsWith/contains/matches/all/exists/exists_one, int()/string()/double().
# A rule outside that subset is NOT evaluated: the CRD write and every write of its objects
# carry a Warning saying so (never a silent pass).  Transition rules (using oldSelf) run on
# updates where the old value exists (map-list items correlate by their keys), as the apiserver.

class CELError(Exception):
    pass


class CELUnsupported(Exception):
    pass


_CEL_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+\.\d+|\d+u?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>\|\||&&|==|!=|<=|>=|[<>!+\-*/%().,\[\]?:{}])
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
)""", re.X)

def _cel_tokens(src):
    pos, out = 0, []
    src = src.strip()
    while pos < len(src):
        m = _CEL_TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise CELUnsupported("cannot parse CEL at %r" % src[pos:pos + 20])
        pos = m.end()
        for kind in ("num", "str", "op", "id"):
            if m.group(kind) is not None:
                out.append((kind, m.group(kind)))
                break
    out.append(("end", ""))
    return out


class _CELParser:
    """Recursive descent to a small AST of tuples."""

    def __init__(self, src):
        self.t = _cel_tokens(src)
        self.i = 0

    def peek(self, v=None):
        k, x = self.t[self.i]
        return x if v is None else (x == v and k in ("op", "id"))

    def take(self, v=None):
        k, x = self.t[self.i]
        if v is not None and x != v:
            raise CELUnsupported("expected %r, got %r" % (v, x))
        self.i += 1
        return k, x

    def parse(self):
        e = self.ternary()
        if self.t[self.i][0] != "end":
            raise CELUnsupported("unexpected %r" % self.t[self.i][1])
        return e

    def ternary(self):
        c = self.or_()
        if self.peek("?"):
            self.take("?")
            a = self.ternary()
            self.take(":")
            b = self.ternary()
            return ("?", c, a, b)
        return c

    def or_(self):
        e = self.and_()
        while self.peek("||"):
            self.take()
            e = ("||", e, self.and_())
        return e

    def and_(self):
        e = self.rel()
        while self.peek("&&"):
            self.take()
            e = ("&&", e, self.rel())
        return e

    def rel(self):
        e = self.add()
        while self.peek() in ("==", "!=", "<", "<=", ">", ">=", "in"):
            op = self.take()[1]
            e = (op, e, self.add())
        return e

    def add(self):
        e = self.mul()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            e = (op, e, self.mul())
        return e

    def mul(self):
        e = self.unary()
        while self.peek() in ("*", "/", "%"):
            op = self.take()[1]
            e = (op, e, self.unary())
        return e

    def unary(self):
        if self.peek("!"):
            self.take()
            return ("!", self.unary())
        if self.peek("-"):
            self.take()
            return ("neg", self.unary())
        return self.member()

    def args(self):
        self.take("(")
        out = []
        while not self.peek(")"):
            out.append(self.ternary())
            if self.peek(","):
                self.take()
        self.take(")")
        return out

    def member(self):
        e = self.primary()
        while True:
            if self.peek("."):
                self.take()
                k, name = self.take()
                if k != "id":
                    raise CELUnsupported("bad member %r" % name)
                if self.peek("("):
                    if name not in ("all", "exists", "exists_one", "size", "startsWith",
                                    "endsWith", "contains", "matches"):
                        raise CELUnsupported("method %s()" % name)
                    if name in ("all", "exists", "exists_one"):
                        self.take("(")
                        k2, var = self.take()
                        self.take(",")
                        body = self.ternary()
                        self.take(")")
                        e = ("macro", name, e, var, body)
                    else:
                        e = ("call", name, e, self.args())
                else:
                    e = ("sel", e, name)
            elif self.peek("["):
                self.take()
                idx = self.ternary()
                self.take("]")
                e = ("idx", e, idx)
            else:
                return e

    def primary(self):
        k, x = self.take()
        if k == "num":
            return ("lit", float(x) if "." in x else int(x.rstrip("u")))
        if k == "str":
            body = x[1:-1]
            return ("lit", body.encode().decode("unicode_escape"))
        if k == "op" and x == "(":
            e = self.ternary()
            self.take(")")
            return e
        if k == "op" and x == "[":
            items = []
            while not self.peek("]"):
                items.append(self.ternary())
                if self.peek(","):
                    self.take()
            self.take("]")
            return ("list", items)
        if k == "id":
            if x in ("true", "false"):
                return ("lit", x == "true")
            if x == "null":
                return ("lit", None)
            if x == "has":
                self.take("(")
                arg = self.member()
                self.take(")")
                if arg[0] != "sel":
                    raise CELUnsupported("has() needs a field selection")
                return ("has", arg)
            if self.peek("("):
                if x not in ("size", "int", "string", "double", "bool"):
                    raise CELUnsupported("function %s()" % x)
                return ("fn", x, self.args())
            return ("var", x)
        raise CELUnsupported("unexpected %r" % x)


def _cel_eval(e, env):
    op = e[0]
    if op == "lit":
        return e[1]
    if op == "var":
        if e[1] not in env:
            raise CELUnsupported("undeclared reference to %r" % e[1])
        return env[e[1]]
    if op == "list":
        return [_cel_eval(x, env) for x in e[1]]
    if op == "sel":
        base = _cel_eval(e[1], env)
        if not isinstance(base, dict):
            raise CELError("no such key: %s" % e[2])
        if e[2] not in base:
            raise CELError("no such key: %s" % e[2])
        return base[e[2]]
    if op == "has":
        base = _cel_eval(e[1][1], env)
        return isinstance(base, dict) and e[1][2] in base
    if op == "idx":
        base, i = _cel_eval(e[1], env), _cel_eval(e[2], env)
        try:
            return base[i]
        except (KeyError, IndexError, TypeError):
            raise CELError("no such key: %s" % i)
    if op == "!":
        v = _cel_eval(e[1], env)
        if not isinstance(v, bool):
            raise CELError("no matching overload for '!_'")
        return not v
    if op == "neg":
        return -_cel_eval(e[1], env)
    if op == "&&":
        a = _cel_eval(e[1], env)
        return bool(a) and bool(_cel_eval(e[2], env))
    if op == "||":
        a = _cel_eval(e[1], env)
        return bool(a) or bool(_cel_eval(e[2], env))
    if op == "?":
        return _cel_eval(e[2] if _cel_eval(e[1], env) else e[3], env)
    if op in ("==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "%"):
        a, b = _cel_eval(e[1], env), _cel_eval(e[2], env)
        try:
            if op == "==":
                return a == b
            if op == "!=":
                return a != b
            if op == "in":
                return a in b
            if op == "<":
                return a < b
            if op == "<=":
                return a <= b
            if op == ">":
                return a > b
            if op == ">=":
                return a >= b
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return a // b if isinstance(a, int) and isinstance(b, int) else a / b
            if op == "%":
                return a % b
        except (TypeError, ZeroDivisionError) as exc:
            raise CELError("no matching overload for '%s': %s" % (op, exc))
    if op == "fn":
        args = [_cel_eval(a, env) for a in e[2]]
        name = e[1]
        try:
            if name == "size":
                return len(args[0])
            if name == "int":
                return int(args[0])
            if name == "double":
                return float(args[0])
            if name == "string":
                return _jsonpath_text(args[0])
            if name == "bool":
                return args[0] in (True, "true")
        except (TypeError, ValueError) as exc:
            raise CELError(str(exc))
    if op == "call":
        name, target = e[1], _cel_eval(e[2], env)
        args = [_cel_eval(a, env) for a in e[3]]
        try:
            if name == "size" and not args:
                return len(target)
            if name == "startsWith":
                return target.startswith(args[0])
            if name == "endsWith":
                return target.endswith(args[0])
            if name == "contains":
                return args[0] in target
            if name == "matches":
                return re.search(args[0], target) is not None
        except (TypeError, AttributeError, re.error) as exc:
            raise CELError(str(exc))
        raise CELUnsupported("method %s()" % name)
    if op == "macro":
        name, target, var, body = e[1], _cel_eval(e[2], env), e[3], e[4]
        items = list(target.keys()) if isinstance(target, dict) else list(target or [])
        res = [bool(_cel_eval(body, dict(env, **{var: it}))) for it in items]
        if name == "all":
            return all(res)
        if name == "exists":
            return any(res)
        return sum(res) == 1
    raise CELUnsupported("construct %r" % (op,))


def _cel_compile(rule):
    ast = _CELParser(rule).parse()
    return ast


def _uses_old_self(rule):
    return re.search(r"\boldSelf\b", rule) is not None


def cel_unsupported(schema, path=""):
    """Rules of x-kubernetes-validations kubesim cannot evaluate (their schema paths)."""
    out = []
    if not isinstance(schema, dict):
        return out
    for i, r in enumerate(schema.get("x-kubernetes-validations") or []):
        rule = r.get("rule", "") if isinstance(r, dict) else ""
        try:
            _cel_compile(rule)
            if isinstance(r, dict) and r.get("messageExpression"):
                _cel_compile(r["messageExpression"])
        except CELUnsupported as exc:
            out.append("%sx-kubernetes-validations[%d]: CEL rule %s is not supported by kubesim "
                       "(%s)" % (path + "." if path else "", i, json.dumps(rule), exc))
    for name, sub in (schema.get("properties") or {}).items():
        out.extend(cel_unsupported(sub, "%sproperties[%s]" % (path + "." if path else "", name)))
    if isinstance(schema.get("items"), dict):
        out.extend(cel_unsupported(schema["items"], (path + "." if path else "") + "items"))
    if isinstance(schema.get("additionalProperties"), dict):
        out.extend(cel_unsupported(schema["additionalProperties"],
                                   (path + "." if path else "") + "additionalProperties"))
    return out


CEL_REASONS = {"FieldValueForbidden": "Forbidden", "FieldValueRequired": "Required value",
               "FieldValueDuplicate": "Duplicate value"}


def cel_validate(value, old, schema, path, causes):
    """Evaluate the supported x-kubernetes-validations rules under `schema`."""
    if not isinstance(schema, dict) or value is None:
        return
    for r in schema.get("x-kubernetes-validations") or []:
        if not isinstance(r, dict):
            continue
        rule = r.get("rule", "")
        try:
            ast = _cel_compile(rule)
        except CELUnsupported:
            continue  # warned about at registration and on every write
        transition = _uses_old_self(rule)
        if transition and (old is None or r.get("optionalOldSelf")):
            if old is None:
                continue
        env = {"self": value}
        if transition:
            env["oldSelf"] = old
        field = path + (r.get("fieldPath") or "")
        field = field.lstrip(".")
        try:
            ok = _cel_eval(ast, env)
        except CELUnsupported:
            continue
        except (TypeError, ValueError, AttributeError, KeyError, IndexError,
                RecursionError) as exc:
            causes.append(invalid(field, _schema._json_type(value), "no matching overload (%s) "
                                  "evaluating rule: %s" % (exc, rule)))
            continue
        except CELError as exc:
            causes.append(invalid(field, _schema._json_type(value), "%s evaluating rule: %s"
                                  % (exc, rule)))
            continue
        if ok is True:
            continue
        msg = r.get("message") or ""
        if r.get("messageExpression"):
            try:
                m = _cel_eval(_cel_compile(r["messageExpression"]), env)
                if isinstance(m, str) and m.strip():
                    msg = m
            except (CELError, CELUnsupported):
                pass
        if not msg:
            msg = "failed rule: " + rule
        reason = r.get("reason") or "FieldValueInvalid"
        if reason in CEL_REASONS:
            causes.append(_cause(reason, field, "%s: %s" % (CEL_REASONS[reason], msg)))
        else:
            causes.append(invalid(field, _schema._json_type(value), msg))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        ap = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k) if k in props else (ap if isinstance(ap, dict) else None)
            if sub is None:
                continue
            ov = old.get(k) if isinstance(old, dict) else None
            cel_validate(v, ov, sub, "%s.%s" % (path, k), causes)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        keys = schema.get("x-kubernetes-list-map-keys") if \
            schema.get("x-kubernetes-list-type") == "map" else None
        for i, v in enumerate(value):
            ov = None
            if keys and isinstance(old, list) and isinstance(v, dict):
                for o in old:
                    if isinstance(o, dict) and all(o.get(k) == v.get(k) for k in keys):
                        ov = o
                        break
            elif schema.get("x-kubernetes-list-type") == "set" and isinstance(old, list) \
                    and v in old:
                ov = v
            cel_validate(v, ov, schema["items"], "%s[%d]" % (path, i), causes)
