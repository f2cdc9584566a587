"""kubesim resource API: kube-apiserver's object semantics over the Store (A1).

Everything under /api and /apis that is not discovery or OpenAPI lands here:

* routing: /api/v1/[namespaces/{ns}/]{resource}[/{name}[/{subresource}]], /apis/{g}/{v}/...,
  the legacy /watch/ prefix, all-namespaces lists of namespaced resources;
* create / get / list / update / patch / delete / deletecollection / watch with the real
  server's metadata rules (uid, creationTimestamp, resourceVersion from one counter,
  generation, generateName, finalizers and deletionTimestamp, status subresource);
* list paging (limit/continue tokens pinned to a resourceVersion), resourceVersion and
  resourceVersionMatch semantics, label and field selectors;
* watch streams (chunked JSON lines, ADDED/MODIFIED/DELETED/BOOKMARK/ERROR, selector moves,
  410 Gone as an ERROR event when the history window has passed);
* Table output (Accept: ...;as=Table), dryRun=All, fieldValidation with Warning headers;
* metadata.managedFields on every write and server-side apply (fieldmanager.py does the field
  sets; here: which manager, which scope, and the apply request: fieldManager, force, create on
  apply, kubectl's last-applied-configuration handling).

Admission (defaulting, pruning, validation) is registry.admit (A2); patch algorithms are
patch.py (B); label/field selectors are selectors.py (B). Controllers (controllers.py) write
through ``write_status`` / ``delete_internal`` here, so every change takes the same store path.

REQUESTS (to other helpers): none open (see /work/notes/kubesim-A1-requests.md).
"""

import base64
import copy
import datetime
import json
import os
import random
import select
import socket
import ssl
import threading
import time
import uuid

import fieldmanager as kfm
import kprotobuf
import rbac as krbac
import patch as kpatch
import registry as kregistry
import kselectors  # B's label/field selectors
import store as kstore
from server import (ApiError, err_already_exists, err_bad_request, err_conflict, err_invalid,
                    err_method_not_allowed, err_not_found, err_not_found_path,
                    err_unsupported_media, gr_string, now_rfc3339)

# Built-in resources whose strategy sets metadata.generation (custom resources always do).
GENERATION_RESOURCES = {("apps", "deployments"), ("batch", "jobs"),
                        ("autoscaling", "horizontalpodautoscalers"),
                        ("networking.k8s.io", "ingresses"),
                        ("apiextensions.k8s.io", "customresourcedefinitions")}
# Resources whose DELETE answers the deleted object rather than a Status (ReturnDeletedObject).
RETURN_DELETED_OBJECT = {("", "pods")}
# the negotiated media type of a Table response, as the real server labels it
TABLE_CTYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
META_CTYPE = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
META_LIST_CTYPE = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
CRD_GR = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_GR = ("", "namespaces")
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
PATCH_TYPES_BUILTIN = ["application/json-patch+json", "application/merge-patch+json",
                       "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
PATCH_TYPES_CR = ["application/json-patch+json", "application/merge-patch+json",
                  "application/apply-patch+yaml"]


def _truthy(v):
    return v is not None and v.lower() in ("1", "true", "yes")


_STORAGE_KEY = [lambda rtype: (rtype.group, rtype.resource)]


def _gr(rtype):
    """The storage key of a resource type (registry.storage_key: core/v1 and events.k8s.io/v1
    Events share one storage, a CRD's versions share one)."""
    return _STORAGE_KEY[0](rtype)


def _strip_rv(obj):
    o = copy.deepcopy(obj)
    o.get("metadata", {}).pop("resourceVersion", None)
    return o


def _warning_header(text):
    return '299 - "%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


class Request:
    """A parsed resource request."""

    def __init__(self):
        self.group = ""
        self.version = ""
        self.resource = ""
        self.namespace = None
        self.name = None
        self.subresource = None
        self.watch_path = False
        self.rtype = None


class ResourceAPI:
    """kube-apiserver's REST semantics for every resource the registry serves."""

    def __init__(self, sim):
        self.sim = sim
        self.store = sim.store
        self.registry = kregistry.Registry()
        if hasattr(self.registry, "storage_key"):
            _STORAGE_KEY[0] = self.registry.storage_key
        import controllers as kcontrollers
        self.controllers = kcontrollers.Controllers(self)
        self._bootstrap()

    def _bootstrap(self):
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            obj = {"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": ns, "uid": str(uuid.uuid4()),
                                "creationTimestamp": now_rfc3339(),
                                "labels": {"kubernetes.io/metadata.name": ns}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
            self.store.put(NS_GR, obj)
        krbac.bootstrap(self.store)

    def start(self):
        self.controllers.start()

    def stop(self):
        self.controllers.stop()

    # ------------------------------------------------------------------ parsing
    def parse(self, path):
        """Parse a resource path; returns Request, or None for non-resource paths
        (discovery / OpenAPI / unknown)."""
        segs = [s for s in path.split("/") if s != ""]
        r = Request()
        if len(segs) >= 2 and segs[0] == "api":
            r.group, r.version, rest = "", segs[1], segs[2:]
        elif len(segs) >= 3 and segs[0] == "apis":
            r.group, r.version, rest = segs[1], segs[2], segs[3:]
        else:
            return None
        if not rest:
            return None
        if rest[0] == "watch":
            r.watch_path = True
            rest = rest[1:]
            if not rest:
                raise err_not_found_path()
        if rest[0] == "namespaces" and len(rest) >= 3 and not (
                r.group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")):
            r.namespace = rest[1]
            rest = rest[2:]
        if len(rest) > 3:
            raise err_not_found_path()
        r.resource = rest[0]
        r.name = rest[1] if len(rest) >= 2 else None
        r.subresource = rest[2] if len(rest) >= 3 else None
        return r

    def verb_for(self, method, path, query):
        """The Kubernetes verb of a request (for the request log, faults and latency)."""
        try:
            r = self.parse(path)
        except ApiError:
            r = None
        if r is None:
            return {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update",
                    "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())
        if method in ("GET", "HEAD"):
            if r.watch_path or _truthy(query.get("watch")):
                return "watch"
            return "get" if r.name else "list"
        if method == "POST":
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        if method == "DELETE":
            return "delete" if r.name else "deletecollection"
        return method.lower()

    # ------------------------------------------------------------------ entry
    def handle(self, h, path, body):
        """Serve one request on handler ``h``."""
        accept = h.headers.get("Accept", "") or ""
        inm = h.headers.get("If-None-Match", "") or ""
        if path.startswith("/openapi"):
            resp = self.registry.openapi_response(path, h.req_query_string, accept, inm)
            if resp is None:
                raise err_not_found_path()
            self._send_bytes(h, resp)
            return
        r = self.parse(path)
        if r is None:
            if h.command not in ("GET", "HEAD"):
                raise err_method_not_allowed()
            resp = self.registry.discovery_response(path, accept, inm)
            if resp is None:
                raise err_not_found_path()
            self._send_bytes(h, resp)
            return
        rtype = self.registry.lookup(r.group, r.version, r.resource)
        if rtype is None:
            raise err_not_found_path()
        r.rtype = rtype
        r.user = getattr(h, "user", None)
        dep = getattr(rtype, "deprecation_warning", None)
        if dep:
            h.always_warnings.append(_warning_header(dep))
        if not rtype.namespaced and r.namespace is not None:
            raise err_not_found_path()
        if r.subresource is not None and r.subresource not in rtype.subresources:
            raise err_not_found_path()
        if r.subresource is not None and r.watch_path:
            raise err_not_found_path()
        if r.namespace is not None:
            self._check_name_segment(r.namespace)
        m = h.command
        q = h.query
        verb = h.k8s_verb
        if verb not in ("watch",) and verb not in rtype.verbs and r.subresource is None:
            raise err_method_not_allowed()
        if r.subresource == "scale":
            return self.handle_scale(h, r, body)
        if rtype.group in ("authentication.k8s.io", "authorization.k8s.io"):
            return krbac.handle_review(self, h, r, body)
        if r.subresource == "token" and _gr(rtype) == ("", "serviceaccounts"):
            return krbac.token_request(self, h, r, body)
        if r.name is None:
            if m in ("GET", "HEAD"):
                if verb == "watch":
                    if "watch" not in rtype.verbs:
                        raise err_method_not_allowed()
                    return self.watch(h, r)
                return self.list(h, r)
            if m == "POST":
                if rtype.namespaced and r.namespace is None:
                    raise err_method_not_allowed()
                return self.create(h, r, body)
            if m == "DELETE":
                if rtype.namespaced and r.namespace is None:
                    raise err_method_not_allowed()
                return self.delete_collection(h, r, body)
            raise err_method_not_allowed()
        if rtype.namespaced and r.namespace is None:
            raise err_not_found_path()
        if m in ("GET", "HEAD"):
            if verb == "watch":
                return self.watch(h, r)
            return self.get(h, r)
        if m == "PUT":
            return self.update(h, r, body)
        if m == "PATCH":
            return self.patch(h, r, body)
        if m == "DELETE":
            if r.subresource is not None:
                raise err_method_not_allowed()
            return self.delete(h, r, body)
        raise err_method_not_allowed()

    def _check_name_segment(self, name):
        if name in (".", "..") or "/" in name or "%" in name:
            raise err_bad_request('invalid resource name "%s": [may not be \'.\']' % name)

    # ------------------------------------------------------------------ responses
    def _send_bytes(self, h, resp):
        status, headers, body = resp
        ctype = headers.get("Content-Type", "application/json")
        extra = {k: v for k, v in headers.items() if k != "Content-Type"}
        h.send_raw(status, ctype, body, extra)

    def negotiate(self, h):
        """The response form the Accept header asks for, in its order of preference:
        "json" (the object), "table" (meta.k8s.io Table) or "meta" (PartialObjectMetadata[List]);
        406 NotAcceptable when none is servable (protobuf-only, YAML)."""
        accept = h.headers.get("Accept", "") or ""
        if not accept.strip():
            return "json"
        for part in accept.split(","):
            items = [x.strip() for x in part.split(";")]
            mt = items[0].lower()
            params = dict(x.split("=", 1) for x in items[1:] if "=" in x)
            if mt not in ("application/json", "*/*", "application/*", "*"):
                continue
            as_ = params.get("as")
            if as_ is None:
                return "json"
            if params.get("g", "meta.k8s.io") != "meta.k8s.io" or \
                    params.get("v", "v1") not in ("v1", "v1beta1"):
                continue
            if as_ == "Table":
                return "table"
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return "meta"
        raise ApiError(406, "NotAcceptable",
                       "only the following media types are accepted: application/json, "
                       "application/json;as=Table;v=v1;g=meta.k8s.io, "
                       "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io, "
                       "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")

    def negotiate_quiet(self, h):
        try:
            return self.negotiate(h)
        except ApiError:
            return "json"

    def wants_table(self, h):
        try:
            return self.negotiate(h) == "table"
        except ApiError:
            return False

    def check_accept(self, h):
        self.negotiate(h)

    @staticmethod
    def partial_metadata(obj):
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {})}

    def present(self, rtype, obj):
        """The stored object as served in the requested version (apiVersion/kind set)."""
        if hasattr(self.registry, "from_storage"):
            obj = self.registry.from_storage(rtype, obj)
        o = dict(obj)
        o["apiVersion"] = rtype.group_version
        o["kind"] = rtype.kind
        # keep apiVersion/kind first, as the real server serializes them
        return {"apiVersion": o.pop("apiVersion"), "kind": o.pop("kind"), **o}

    def respond_object(self, h, code, rtype, obj, warnings=()):
        headers = {}
        if warnings:
            headers["Warning"] = [_warning_header(w) for w in warnings
                                  if _warning_header(w) not in h.always_warnings]
        if obj.get("kind") != "Status" and self.negotiate_quiet(h) == "meta":
            h.send_raw(code, META_CTYPE, json.dumps(self.partial_metadata(obj),
                                                    separators=(",", ":")), headers)
            return
        if self.wants_table(h) and obj.get("kind") != "Status":
            table = self.registry.to_table(rtype, [obj], h.query.get("includeObject", "Metadata"),
                                           {"resourceVersion": obj["metadata"].get("resourceVersion", "")})
            h.send_raw(code, TABLE_CTYPE, json.dumps(table, separators=(",", ":")), headers)
            return
        h.send_json(code, obj, headers)

    # ------------------------------------------------------------------ common helpers
    def parse_json_body(self, h, body, rtype):
        ctype = (h.headers.get("Content-Type", "") or "").split(";")[0].strip().lower()
        if ctype == "application/vnd.kubernetes.protobuf":
            if os.environ.get("KUBESIM_PROTOBUF_DUMP"):  # debugging aid: keep raw bodies
                with open(os.path.join(os.environ["KUBESIM_PROTOBUF_DUMP"],
                                       "%s-%s.pb" % (rtype.kind, time.time())), "wb") as f:
                    f.write(body)
            try:
                obj = kprotobuf.decode(body, rtype.group, rtype.kind)
            except kprotobuf.ProtobufError as e:
                raise ApiError(415, "UnsupportedMediaType", str(e))
            self._check_gvk(obj, rtype)
            return obj
        if ctype and ctype not in ("application/json", "*/*"):
            if ctype in ("application/yaml",):
                raise err_unsupported_media(["application/json"])
            raise err_unsupported_media(["application/json", "application/yaml",
                                         "application/vnd.kubernetes.protobuf"])
        try:
            obj = json.loads(body.decode("utf-8") if body else "")
        except (ValueError, UnicodeDecodeError) as e:
            raise err_bad_request("couldn't get version/kind; json parse error: %s" % e)
        if not isinstance(obj, dict):
            raise err_bad_request("couldn't get version/kind; json parse error: json: cannot "
                                  "unmarshal %s into Go value of type struct { APIVersion string "
                                  "\"json:\\\"apiVersion,omitempty\\\"\"; Kind string "
                                  "\"json:\\\"kind,omitempty\\\"\" }" % type(obj).__name__)
        self._check_gvk(obj, rtype)
        return obj

    def _check_gvk(self, obj, rtype):
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind is None and api_version is None:
            if rtype.crd_name is not None:
                raise err_bad_request("Object 'Kind' is missing in '%s'"
                                      % json.dumps(obj, separators=(",", ":"))[:200])
        if kind not in (None, "") and kind != rtype.kind:
            raise err_bad_request("the server rejected our request due to an error in our "
                                  "request (%s is not %s)" % (kind, rtype.kind))
        if api_version not in (None, "") and api_version != rtype.group_version:
            raise err_bad_request("the API version in the data (%s) does not match the expected "
                                  "API version (%s)" % (api_version, rtype.group_version))
        if not isinstance(obj.get("metadata", {}), dict):
            raise err_bad_request("%s in version \"%s\" cannot be handled as a %s: json: cannot "
                                  "unmarshal %s into Go struct field %s.metadata of type "
                                  "v1.ObjectMeta" % (rtype.kind, rtype.version, rtype.kind,
                                                     type(obj["metadata"]).__name__, rtype.kind))
        obj.setdefault("metadata", {})
        obj["apiVersion"] = rtype.group_version
        obj["kind"] = rtype.kind

    def field_validation(self, h):
        fv = h.query.get("fieldValidation", "")
        if fv == "":
            return "Warn"
        if fv not in ("Strict", "Warn", "Ignore"):
            raise err_bad_request("fieldValidation parameter has invalid value %s: must be one of "
                                  "Ignore, Warn, or Strict" % fv)
        return fv

    def dry_run(self, h):
        vals = [v for k, v in _query_items(h.req_query_string) if k == "dryRun"]
        if not vals:
            return False
        for v in vals:
            if v != "All":
                raise ApiError(400, "BadRequest",
                               'dryRun: Unsupported value: "%s": supported values: "All"' % v)
        return True

    def admit(self, rtype, obj, old, fv, name, patch_kw=None):
        """registry.admit; causes become the Status the real server answers (patch_kw:
        {"patch": smp} or {"patched": obj} for PATCH requests, see registry.status_for)."""
        obj, causes, warnings = self.registry.admit(rtype, obj, old, fv)
        if causes:
            try:
                st = self.registry.status_for(rtype, name, causes, **(patch_kw or {}))
            except TypeError:
                st = self.registry.status_for(rtype, name, causes)
            raise ApiError(st["code"], st["reason"], st["message"], st.get("details"))
        return obj, list(warnings or [])

    def has_generation(self, rtype):
        return rtype.crd_name is not None or _gr(rtype) in GENERATION_RESOURCES

    def spec_changed(self, rtype, new, old):
        """Whether an update changes what metadata.generation tracks."""
        def strip(o):
            return {k: v for k, v in o.items()
                    if k not in ("metadata", "status", "apiVersion", "kind")}
        if rtype.crd_name is not None and "status" not in rtype.subresources:
            def strip(o):  # noqa: F811 - without /status, status changes count too
                return {k: v for k, v in o.items() if k not in ("metadata", "apiVersion", "kind")}
        changed = strip(new) != strip(old)
        if _gr(rtype) == ("apps", "deployments"):
            # the deployment strategy also bumps on annotation changes (rollback annotations)
            changed = changed or (new["metadata"].get("annotations") or {}) != \
                (old["metadata"].get("annotations") or {})
        return changed

    def namespace_must_exist(self, ns, for_create=True):
        nsobj = self.store.get(NS_GR, "", ns)
        if nsobj is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                           {"name": ns, "kind": "namespaces"})
        if for_create and nsobj["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden",
                           "unable to create new content in namespace %s because it is being "
                           "terminated" % ns,
                           {"name": ns, "kind": "namespaces",
                            "causes": [{"reason": "NamespaceTerminating",
                                        "message": "namespace %s is being terminated" % ns,
                                        "field": "metadata.namespace"}]})

    # ------------------------------------------------------------------ get
    def get(self, h, r):
        self.check_accept(h)
        rtype = r.rtype
        obj = self.store.get(_gr(rtype), r.namespace, r.name)
        if obj is None:
            raise err_not_found(rtype, r.name)
        self.respond_object(h, 200, rtype, self.present(rtype, obj))

    # ------------------------------------------------------------------ selectors
    def selectors(self, h, rtype, name=None):
        """(label_selector, field_selector) from the query; 400 BadRequest if malformed."""
        try:
            ls = kselectors.parse_label_selector(h.query.get("labelSelector", ""))
        except kselectors.SelectorError as e:
            raise err_bad_request(str(e))
        fs_text = h.query.get("fieldSelector", "")
        if name is not None:
            fs_text = ("metadata.name=%s" % name) + ("," + fs_text if fs_text else "")
        try:
            fs = kselectors.parse_field_selector(fs_text, rtype.supported_fields())
        except kselectors.SelectorError as e:
            raise err_bad_request(str(e))
        return ls, fs

    def to_storage(self, rtype, obj):
        if hasattr(self.registry, "to_storage"):
            return self.registry.to_storage(rtype, obj)
        return obj

    def matcher(self, rtype, namespace, ls, fs):
        """A predicate over STORED objects, evaluated on the form served through rtype."""
        def match(obj):
            if obj is None:
                return False
            obj = self.present(rtype, obj)
            meta = obj.get("metadata", {})
            if namespace is not None and meta.get("namespace", "") != namespace:
                return False
            if not ls.matches(meta.get("labels") or {}):
                return False
            return fs.matches(rtype.field_values(obj))
        return match

    # ------------------------------------------------------------------ list
    def list(self, h, r):
        self.check_accept(h)
        rtype = r.rtype
        q = h.query
        ls, fs = self.selectors(h, rtype)
        match = self.matcher(rtype, r.namespace, ls, fs)
        rv_param = q.get("resourceVersion")
        rv_match = q.get("resourceVersionMatch", "")
        cont = q.get("continue", "")
        limit = 0
        if q.get("limit", "") not in ("",):
            try:
                limit = int(q["limit"])
            except ValueError:
                raise err_bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % q["limit"])
            if limit < 0:
                limit = 0
        if rv_match and rv_match not in ("Exact", "NotOlderThan"):
            raise _list_options_invalid('resourceVersionMatch: Unsupported value: "%s": supported '
                                        'values: "Exact", "NotOlderThan"' % rv_match)
        if rv_match and not rv_param:
            raise _list_options_invalid("resourceVersionMatch: Forbidden: resourceVersionMatch is "
                                        "forbidden unless resourceVersion is provided")
        if rv_match == "Exact" and rv_param == "0":
            raise _list_options_invalid('resourceVersionMatch: Forbidden: resourceVersionMatch '
                                        '"exact" is forbidden for resourceVersion "0"')
        if cont and rv_match:
            raise _list_options_invalid("resourceVersionMatch: Forbidden: resourceVersionMatch is "
                                        "forbidden when continue is provided")
        if cont and rv_param not in (None, "", "0"):
            raise err_bad_request("specifying resource version is not allowed when using continue")
        gr = _gr(rtype)
        start_key = None
        with self.store.lock:
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                    list_rv = int(tok["rv"])
                    start_key = tok["start"]
                    if tok.get("v") != "meta.k8s.io/v1":
                        raise ValueError("bad version")
                except (ValueError, KeyError, TypeError):
                    raise err_bad_request("continue key is not valid: incorrect encoded start "
                                          "resourceVersion (version meta.k8s.io/v1)")
                try:
                    items = self.store.state_at(gr, list_rv)
                except kstore.Gone:
                    raise ApiError(410, "Expired",
                                   "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without the "
                                   "continue parameter, or use the continue value from the "
                                   "response.")
                except ValueError:
                    raise err_bad_request("continue key is not valid: resource version too large")
            else:
                exact = None
                if rv_param not in (None, "", "0"):
                    try:
                        want = int(rv_param)
                    except ValueError:
                        raise ApiError(400, "BadRequest",
                                       'invalid resource version "%s"' % rv_param)
                    if rv_match == "Exact" or (rv_match == "" and limit > 0):
                        exact = want
                    elif want > self.store.rv:
                        deadline = time.monotonic() + 3
                        while want > self.store.rv and time.monotonic() < deadline:
                            self.store.cond.wait(deadline - time.monotonic())
                        if want > self.store.rv:
                            raise ApiError(504, "Timeout", "Timeout: Too large resource version: "
                                           "%d, current: %d" % (want, self.store.rv),
                                           {"causes": [{"reason": "ResourceVersionTooLarge",
                                                        "message": "Too large resource version"}],
                                            "retryAfterSeconds": 1})
                if exact is not None:
                    try:
                        items = self.store.state_at(gr, exact)
                    except kstore.Gone:
                        raise ApiError(410, "Expired",
                                       "The resourceVersion for the provided list is too old.")
                    except ValueError:
                        raise ApiError(504, "Timeout", "Timeout: Too large resource version: "
                                       "%d, current: %d" % (exact, self.store.rv),
                                       {"causes": [{"reason": "ResourceVersionTooLarge",
                                                    "message": "Too large resource version"}],
                                        "retryAfterSeconds": 1})
                    list_rv = exact
                else:
                    items = self.store.list(gr)
                    list_rv = self.store.rv
                if rv_param == "0":
                    limit = 0  # served from the watch cache: the real server ignores limit
        out = []
        remaining = 0
        next_key = None
        keyed = []
        for obj in items:
            meta = obj["metadata"]
            key = "%s/%s" % (meta.get("namespace", ""), meta["name"]) if meta.get("namespace") \
                else meta["name"]
            keyed.append((key, obj))
        keyed.sort(key=lambda kv: kv[0])  # etcd's key order, which continue tokens follow
        for key, obj in keyed:
            if start_key is not None and key < start_key:
                continue
            if not match(obj):
                continue
            if limit and len(out) >= limit:
                remaining += 1
                continue
            out.append((key, obj))
        meta = {"resourceVersion": str(list_rv)}
        if limit and remaining:
            next_key = out[-1][0] + "\x00"
            token = json.dumps({"v": "meta.k8s.io/v1", "rv": list_rv, "start": next_key},
                               separators=(",", ":"))
            meta["continue"] = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
            if not h.query.get("labelSelector") and not h.query.get("fieldSelector"):
                meta["remainingItemCount"] = remaining
        objs = [self.present(rtype, o) for _, o in out]
        if self.negotiate_quiet(h) == "meta":
            h.send_raw(200, META_LIST_CTYPE, json.dumps(
                {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                 "metadata": meta, "items": [self.partial_metadata(o) for o in objs]},
                separators=(",", ":")))
            return
        if self.wants_table(h):
            table = self.registry.to_table(rtype, objs, q.get("includeObject", "Metadata"), meta)
            h.send_raw(200, TABLE_CTYPE, json.dumps(table, separators=(",", ":")))
            return
        if rtype.crd_name is None:
            # typed lists of built-ins carry no apiVersion/kind on their items
            objs = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in objs]
        h.send_json(200, {"kind": rtype.list_kind, "apiVersion": rtype.group_version,
                          "metadata": meta, "items": objs})

    # ------------------------------------------------------------------ create
    def create(self, h, r, body):
        rtype = r.rtype
        if r.subresource is not None:
            raise err_method_not_allowed()
        obj = self.parse_json_body(h, body, rtype)
        fv = self.field_validation(h)
        dry = self.dry_run(h)
        manager = self.field_manager(h)
        out, warnings = self.create_object(r, obj, fv, dry, manager)
        self.respond_object(h, 201, rtype, out, warnings)

    def create_object(self, r, obj, fv, dry, manager, applied=None):
        """Create ``obj`` (POST, or a server-side apply of a missing object: ``applied`` holds
        the apply's managers). Returns (presented object, warnings)."""
        rtype = r.rtype
        meta = obj["metadata"]
        client_managed = meta.get("managedFields")
        if rtype.namespaced:
            if meta.get("namespace") not in (None, "", r.namespace):
                raise err_bad_request("the namespace of the provided object does not match the "
                                      "namespace sent on the request")
            meta["namespace"] = r.namespace
        else:
            meta.pop("namespace", None)
        with self.store.lock:
            if rtype.crd_name is not None:
                crd = self.store.get(CRD_GR, "", rtype.crd_name)
                if crd is not None and crd["metadata"].get("deletionTimestamp"):
                    # the CRD handler refuses creates while the CRD is Terminating
                    raise ApiError(405, "MethodNotAllowed",
                                   'create is not supported on resources of kind "%s"'
                                   % gr_string(rtype), {"group": rtype.group,
                                                         "kind": rtype.resource})
            if rtype.namespaced:
                self.namespace_must_exist(r.namespace)
            if not meta.get("name") and meta.get("generateName"):
                for _ in range(20):
                    cand = meta["generateName"] + "".join(random.choice(NAME_CHARS) for _ in range(5))
                    if self.store.get(_gr(rtype), r.namespace, cand) is None:
                        break
                meta["name"] = cand
            name = meta.get("name", "")
            if meta.get("resourceVersion"):
                raise ApiError(500, "InternalError", "Internal error occurred: resourceVersion "
                               "should not be set on objects to be created")
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"):
                meta.pop(k, None)
            if self.has_generation(rtype):
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            self.prepare_for_create(rtype, obj)
            obj, warnings = self.admit(rtype, obj, None, fv, name)
            meta = obj["metadata"]
            name = meta.get("name", "")
            krbac.admit_owner_references(self, getattr(r, "user", None), rtype, r, obj, None)
            krbac.confirm_no_escalation(self, getattr(r, "user", None), rtype, r, obj)
            if _gr(rtype) == CRD_GR:
                causes = self.registry.validate_crd(obj)
                if causes:
                    raise err_invalid(rtype, name, causes)
            if self.store.get(_gr(rtype), r.namespace, name) is not None:
                raise err_already_exists(rtype, name)
            if applied is None:
                baseline = self._client_managers(client_managed) or {}
                zero = kfm.zero_object(obj) if rtype.crd_name is None else None
                applied = kfm.update(baseline, zero, obj, rtype.schema, manager,
                                     rtype.group_version, "", self.fm_scope(rtype, None),
                                     now_rfc3339())
            self.set_managed(obj, applied)
            if dry:
                result = obj
            else:
                result = self.store.put(_gr(rtype), self.to_storage(rtype, obj))
                if _gr(rtype) == CRD_GR:
                    result = self.establish_crd(result, None)
            out = self.present(rtype, result)
        return out, warnings

    # ------------------------------------------------------------------ field management
    def field_manager(self, h, required=False):
        """The request's field manager: the fieldManager parameter, else (not for apply) the
        User-Agent up to its first "/" (the apiserver's prefixFromUserAgent)."""
        fm = h.query.get("fieldManager", "")
        if fm:
            if len(fm.encode("utf-8")) > 128:
                raise self._options_invalid(h, "fieldManager", "Too long: may not be more than "
                                            "128 bytes")
            if not fm.isprintable():
                raise self._options_invalid(h, "fieldManager", "Invalid value: %s: must only "
                                            "contain printable characters" % json.dumps(fm))
            return fm
        if required:
            raise self._options_invalid(h, "fieldManager", "Required value: is required for "
                                        "apply patch")
        ua = (h.headers.get("User-Agent", "") or "").split("/")[0]
        out = ""
        for ch in ua:
            if not ch.isprintable():
                continue
            if len((out + ch).encode("utf-8")) > 128:
                break
            out += ch
        return out

    @staticmethod
    def _options_invalid(h, field, message):
        kind = {"POST": "CreateOptions", "PUT": "UpdateOptions"}.get(h.command, "PatchOptions")
        reason = {"Too": "FieldValueTooLong", "Inv": "FieldValueInvalid",
                  "Req": "FieldValueRequired", "For": "FieldValueForbidden"}[message[:3]]
        return ApiError(422, "Invalid", '%s.meta.k8s.io "" is invalid: %s: %s'
                        % (kind, field, message),
                        {"group": "meta.k8s.io", "kind": kind,
                         "causes": [{"reason": reason, "message": message, "field": field}]})

    def fm_scope(self, rtype, subresource):
        """Which paths a write may own: /status owns only status; the main resource of a kind
        whose strategy resets status (status subresource, Namespace) never owns status."""
        if subresource == "status":
            return lambda p: p[:1] == ("f:status",)
        if "status" in rtype.subresources or _gr(rtype) == NS_GR:
            return lambda p: p[:1] != ("f:status",)
        return None

    @staticmethod
    def _client_managers(entries):
        """Managers a client sent in metadata.managedFields (None if absent or unreadable:
        the apiserver then keeps the live object's)."""
        if not entries:
            return None
        try:
            return kfm.decode(entries)
        except (ValueError, TypeError, AttributeError):
            return None

    @staticmethod
    def live_managers(obj):
        try:
            return kfm.decode((obj.get("metadata") or {}).get("managedFields") or [])
        except (ValueError, TypeError, AttributeError):
            return {}

    @staticmethod
    def set_managed(obj, managers):
        entries = kfm.encode(managers)
        if entries:
            obj["metadata"]["managedFields"] = entries
        else:
            obj["metadata"].pop("managedFields", None)

    def prepare_for_create(self, rtype, obj):
        """The strategies' PrepareForCreate: status reset and kind-specific server fields."""
        gr = _gr(rtype)
        if "status" in rtype.subresources:
            if rtype.crd_name is not None:
                obj.pop("status", None)
            else:
                obj["status"] = {}
        if gr in (("", "services"), ("networking.k8s.io", "ingresses")):
            obj["status"] = {"loadBalancer": {}}  # the zero ServiceStatus/IngressStatus
        elif gr == ("autoscaling", "horizontalpodautoscalers"):
            obj["status"] = {"desiredReplicas": 0}  # not omitempty in autoscaling/v2
        if gr == NS_GR:
            spec = obj.setdefault("spec", {})
            fins = spec.get("finalizers") or []
            if "kubernetes" not in fins:
                fins = fins + ["kubernetes"]
            spec["finalizers"] = fins
            obj["status"] = {"phase": "Active"}
            labels = obj["metadata"].setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")
        elif gr == ("", "pods"):
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif gr == ("batch", "jobs"):
            self._job_selector(obj)
        elif gr == CRD_GR:
            fins = obj["metadata"].get("finalizers") or []
            if CRD_CLEANUP_FINALIZER not in fins:
                obj["metadata"]["finalizers"] = fins + [CRD_CLEANUP_FINALIZER]

    def _job_selector(self, obj):
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("manualSelector"):
            return
        uid = obj["metadata"]["uid"]
        name = obj["metadata"].get("name", "")
        tmpl = spec.setdefault("template", {})
        if not isinstance(tmpl, dict):
            return
        tmeta = tmpl.setdefault("metadata", {})
        labels = tmeta.setdefault("labels", {})
        labels.update({"batch.kubernetes.io/controller-uid": uid,
                       "batch.kubernetes.io/job-name": name,
                       "controller-uid": uid, "job-name": name})
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}

    def establish_crd(self, crd, old):
        """After storing a CRD: status (NamesAccepted/Established...) and registration."""
        old_status = (old or {}).get("status")
        status = self.registry.crd_status(crd, old_status)
        new = copy.deepcopy(crd)
        new["status"] = status
        if new != crd:
            crd_type = self.type_for_gr(CRD_GR)
            if crd_type is not None:
                self.track_controller(crd_type, crd, new, "kube-apiserver")
            crd = self.store.put(CRD_GR, new)
        conds = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
        if conds.get("NamesAccepted") == "True" and not crd["metadata"].get("deletionTimestamp"):
            self.registry.register_crd(crd)
        return crd

    # ------------------------------------------------------------------ update
    def update(self, h, r, body):
        rtype = r.rtype
        obj = self.parse_json_body(h, body, rtype)
        fv = self.field_validation(h)
        dry = self.dry_run(h)
        meta = obj["metadata"]
        if meta.get("name", "") != r.name:
            raise err_bad_request("the name of the object (%s) does not match the name on the URL "
                                  "(%s)" % (meta.get("name", ""), r.name))
        if rtype.namespaced:
            if meta.get("namespace") not in (None, "", r.namespace):
                raise err_bad_request("the namespace of the provided object does not match the "
                                      "namespace sent on the request")
            meta["namespace"] = r.namespace
        else:
            meta.pop("namespace", None)
        with self.store.lock:
            old = self.store.get(_gr(rtype), r.namespace, r.name)
            if old is None:
                raise err_not_found(rtype, r.name)
            result, warnings, code = self.apply_update(rtype, r, old, obj, fv, dry,
                                                       manager=self.field_manager(h))
            out = self.present(rtype, result)
        self.respond_object(h, code, rtype, out, warnings)

    def apply_update(self, rtype, r, old, obj, fv, dry, from_patch=False, patch_kw=None,
                     manager="", applied=None, manager_subresource=None):
        """Shared by PUT and PATCH (under the store lock): preconditions, status subresource
        rules, generation, admission, no-op detection, finalizer completion. Returns
        (stored object, warnings, http code)."""
        meta = obj["metadata"]
        client_managed = meta.get("managedFields") if r.subresource is None else None
        stored_old = old
        old = self.present(rtype, old)
        old_meta = old["metadata"]
        rv = meta.get("resourceVersion", "")
        if rv in ("", None):
            if rtype.crd_name is not None and not from_patch:
                raise err_invalid(rtype, r.name, [{
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: 0x0: must be specified for an update",
                    "field": "metadata.resourceVersion"}])
        elif str(rv) != old_meta["resourceVersion"]:
            raise err_conflict(rtype, r.name)
        if meta.get("uid") not in (None, "", old_meta["uid"]):
            raise err_conflict(rtype, r.name, "Precondition failed: UID in precondition: %s, UID "
                               "in object meta: %s" % (meta.get("uid"), old_meta["uid"]))
        if r.subresource == "status":
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        else:
            new = obj
            nm = new["metadata"]
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation", "selfLink"):
                if k in old_meta:
                    nm[k] = old_meta[k]
                else:
                    nm.pop(k, None)
            nm.pop("managedFields", None)
            if _gr(rtype) == NS_GR or "status" in rtype.subresources:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            if _gr(rtype) == NS_GR:
                # spec.finalizers change only through /finalize (namespace strategy)
                old_fins = (old.get("spec") or {}).get("finalizers")
                spec = new.setdefault("spec", {}) if isinstance(new.get("spec", {}), dict) else {}
                if old_fins is None:
                    spec.pop("finalizers", None)
                else:
                    spec["finalizers"] = copy.deepcopy(old_fins)
            if self.has_generation(rtype) and self.spec_changed(rtype, new, old):
                nm["generation"] = int(old_meta.get("generation", 0) or 0) + 1
            if old_meta.get("deletionTimestamp"):
                added = [f for f in (nm.get("finalizers") or [])
                         if f not in (old_meta.get("finalizers") or [])]
                if added:
                    raise err_invalid(rtype, r.name, [{
                        "reason": "FieldValueForbidden",
                        "message": "Forbidden: no new finalizers can be added if the object is "
                                   "being deleted, found new finalizers %s"
                                   % _go_string_slice(added),
                        "field": "metadata.finalizers"}])
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        new, warnings = self.admit(rtype, new, old, fv, r.name, patch_kw)
        krbac.admit_owner_references(self, getattr(r, "user", None), rtype, r, new, old)
        if r.subresource is None:
            krbac.confirm_no_escalation(self, getattr(r, "user", None), rtype, r, new, old)
        if applied is None:
            baseline = self._client_managers(client_managed)
            if baseline is None:
                baseline = self.live_managers(old)
            sub = manager_subresource if manager_subresource is not None else (r.subresource or "")
            applied = kfm.update(baseline, old, new, rtype.schema, manager, rtype.group_version,
                                 sub, self.fm_scope(rtype, r.subresource), now_rfc3339())
        self.set_managed(new, applied)
        if _gr(rtype) == CRD_GR and r.subresource is None:
            causes = self.registry.validate_crd(new)
            if causes:
                raise err_invalid(rtype, r.name, causes)
        new = self.to_storage(rtype, new)
        if _strip_rv(new) == _strip_rv(stored_old):
            return stored_old, warnings, 200
        if dry:
            return new, warnings, 200
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            if _gr(rtype) != NS_GR:
                gone = self.store.remove(_gr(rtype), r.namespace, r.name, final_state=new)
                self.controllers.kick()
                return gone, warnings, 200
        stored = self.store.put(_gr(rtype), new)
        if _gr(rtype) == CRD_GR and r.subresource is None:
            stored = self.establish_crd(stored, stored_old)
        return stored, warnings, 200

    # ------------------------------------------------------------------ patch
    def patch(self, h, r, body):
        rtype = r.rtype
        ctype = (h.headers.get("Content-Type", "") or "").split(";")[0].strip().lower()
        accepted = PATCH_TYPES_CR if rtype.crd_name is not None else PATCH_TYPES_BUILTIN
        if ctype not in accepted:
            raise err_unsupported_media(accepted)
        if ctype == "application/apply-patch+yaml":
            return self.server_side_apply(h, r, body)
        if "force" in h.query:
            raise self._options_invalid(h, "force", "Forbidden: may not be specified for "
                                        "non-apply patch")
        manager = self.field_manager(h)
        fv = self.field_validation(h)
        dry = self.dry_run(h)
        try:
            patch_doc = json.loads(body.decode("utf-8") if body else "")
        except (ValueError, UnicodeDecodeError) as e:
            raise err_bad_request("error decoding patch: %s" % e)
        with self.store.lock:
            old = self.store.get(_gr(rtype), r.namespace, r.name)
            if old is None:
                raise err_not_found(rtype, r.name)
            current = self.present(rtype, copy.deepcopy(old))
            try:
                if ctype == "application/json-patch+json":
                    if not isinstance(patch_doc, list):
                        raise err_bad_request("json: cannot unmarshal %s into Go value of type "
                                              "jsonpatch.Patch" % _go_json_type(patch_doc))
                    patched = kpatch.json_patch(current, patch_doc)
                elif ctype == "application/merge-patch+json":
                    if not isinstance(patch_doc, dict):
                        raise err_bad_request("json: cannot unmarshal %s into Go value of type "
                                              "map[string]interface {}" % _go_json_type(patch_doc))
                    patched = kpatch.merge_patch(current, patch_doc)
                else:
                    schema = self.registry.smp_schema(rtype)
                    if schema is None:
                        raise err_unsupported_media(PATCH_TYPES_CR)
                    if not isinstance(patch_doc, dict):
                        raise err_bad_request("json: cannot unmarshal %s into Go value of type "
                                              "map[string]interface {}" % _go_json_type(patch_doc))
                    patched = kpatch.strategic_merge_patch(current, patch_doc, schema)
            except kpatch.PatchError as e:
                raise ApiError(e.code, e.reason, e.message)
            if not isinstance(patched, dict):
                raise err_bad_request("the patch produced a non-object document")
            self._check_gvk(patched, rtype)
            pm = patched["metadata"]
            if pm.get("name") != r.name:
                raise err_bad_request("the name of the object (%s) does not match the name on the "
                                      "URL (%s)" % (pm.get("name"), r.name))
            if rtype.namespaced:
                if pm.get("namespace") not in (None, "", r.namespace):
                    raise err_bad_request("the namespace of the provided object does not match "
                                          "the namespace sent on the request")
                pm["namespace"] = r.namespace
            patch_kw = {"patch": patch_doc} if ctype == "application/strategic-merge-patch+json" \
                else {"patched": patched}
            result, warnings, code = self.apply_update(rtype, r, old, patched, fv, dry,
                                                       from_patch=True, patch_kw=patch_kw,
                                                       manager=manager)
            out = self.present(rtype, result)
        self.respond_object(h, code, rtype, out, warnings)

    # ------------------------------------------------------------------ server-side apply
    def server_side_apply(self, h, r, body):
        """PATCH with application/apply-patch+yaml (fieldmanager.apply + kube-apiserver's
        applyPatcher): creates a missing object, merges the configuration, prunes what the
        manager applied before and omits now, 409 on conflicts unless force=true; kubectl's
        own manager ("kubectl") takes over fields of its last-applied-configuration annotation
        and keeps that annotation in sync."""
        rtype = r.rtype
        manager = self.field_manager(h, required=True)
        force_text = h.query.get("force")
        force = False
        if force_text is not None:
            if force_text.lower() not in ("true", "false", "1", "0", "t", "f"):
                raise err_bad_request('strconv.ParseBool: parsing "%s": invalid syntax'
                                      % force_text)
            force = force_text.lower() in ("true", "1", "t")
        fv = self.field_validation(h)
        dry = self.dry_run(h)
        text = body.decode("utf-8", "replace") if body else ""
        try:
            config = json.loads(text) if text.strip() else {}
        except ValueError as e:
            raise ApiError(415, "UnsupportedMediaType",
                           "kubesim reads application/apply-patch+yaml bodies in their JSON form "
                           "only (kubectl sends JSON); this body is not JSON (%s). Send the "
                           "configuration as JSON." % e)
        if not isinstance(config, dict):
            raise err_bad_request("error decoding YAML: error unmarshaling JSON: while decoding "
                                  "JSON: json: cannot unmarshal %s into Go value of type "
                                  "map[string]interface {}" % _go_json_type(config))
        av = config.get("apiVersion", "")
        if av != rtype.group_version:
            raise err_bad_request("Incorrect version specified in apply patch. Specified patch "
                                  "version: %s, expected: %s" % (av, rtype.group_version))
        if config.get("kind", "") != rtype.kind:
            raise err_bad_request("the server rejected our request due to an error in our "
                                  "request (%s is not %s)" % (config.get("kind", ""), rtype.kind))
        meta = config.get("metadata")
        if meta is None:
            meta = config["metadata"] = {}
        if not isinstance(meta, dict):
            raise err_bad_request("metadata must be an object")
        if meta.get("managedFields") is not None:
            raise err_bad_request("metadata.managedFields must be nil")
        if meta.get("name", "") != r.name:
            raise err_bad_request("the name of the object (%s) does not match the name on the URL "
                                  "(%s)" % (meta.get("name", ""), r.name))
        if rtype.namespaced and meta.get("namespace") not in (None, "", r.namespace):
            raise err_bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
        scope = self.fm_scope(rtype, r.subresource)
        now = now_rfc3339()
        with self.store.lock:
            old = self.store.get(_gr(rtype), r.namespace, r.name)
            if old is None:
                if r.subresource is not None:
                    raise err_not_found(rtype, r.name)
                merged, managers = kfm.apply({}, None, config, rtype.schema, manager,
                                             rtype.group_version, "", scope, force, now)
                merged = copy.deepcopy(merged)
                merged.setdefault("metadata", {})
                if rtype.namespaced:
                    merged["metadata"]["namespace"] = r.namespace
                out, warnings = self.create_object(r, merged, fv, dry, manager, applied=managers)
                self.respond_object(h, 201, rtype, out, warnings)
                return
            current = self.present(rtype, copy.deepcopy(old))
            live = copy.deepcopy(current)
            live["metadata"].pop("managedFields", None)
            managers = self.live_managers(current)
            if not managers:
                zero = kfm.zero_object(live) if rtype.crd_name is None else None
                managers = kfm.update({}, zero, live, rtype.schema, kfm.BEFORE_FIRST_APPLY,
                                      rtype.group_version, r.subresource or "", scope, now)
            args = (rtype.schema, manager, rtype.group_version, r.subresource or "", scope)
            try:
                merged, managers = kfm.apply(managers, live, config, *args, force, now)
            except kfm.Conflict as c:
                allowed = kfm.last_applied_allowed(live, rtype.schema, scope) \
                    if manager == "kubectl" else None
                if allowed is None or any(p not in allowed for _, p in c.conflicts):
                    if allowed is not None:
                        c = kfm.Conflict([(k, p) for k, p in c.conflicts if p not in allowed])
                    message, causes = c.status()
                    raise ApiError(409, "Conflict", message, {"causes": causes})
                merged, managers = kfm.apply(managers, live, config, *args, True, now)
            ann = (merged.get("metadata") or {}).get("annotations") or {}
            if manager == "kubectl" and ann.get(kfm.LAST_APPLIED):
                merged["metadata"].setdefault("annotations", {})[kfm.LAST_APPLIED] = \
                    kfm.build_last_applied(config)
            merged["metadata"]["managedFields"] = current["metadata"].get("managedFields")
            result, warnings, code = self.apply_update(rtype, r, old, merged, fv, dry,
                                                       from_patch=True,
                                                       patch_kw={"patched": merged},
                                                       manager=manager, applied=managers)
            out = self.present(rtype, result)
        self.respond_object(h, code, rtype, out, warnings)

    # ------------------------------------------------------------------ scale subresource
    def handle_scale(self, h, r, body):
        rtype = r.rtype
        info = self.registry.scale_info(rtype)
        if info is None or r.name is None:
            raise err_not_found_path()
        spec_path, status_path, sel_path = info

        def get_path(obj, path):
            cur = obj
            for p in path.strip(".").split("."):
                if not isinstance(cur, dict):
                    return None
                cur = cur.get(p)
            return cur

        def scale_of(obj):
            m = obj["metadata"]
            sel = get_path(obj, sel_path) if sel_path else None
            if sel is None and _gr(rtype) == ("apps", "deployments"):
                ml = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
                sel = ",".join("%s=%s" % kv for kv in sorted(ml.items()))
            st = {"replicas": get_path(obj, status_path) or 0}
            if sel:
                st["selector"] = sel
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                   "creationTimestamp") if k in m},
                    "spec": {"replicas": get_path(obj, spec_path) or 0}, "status": st}

        with self.store.lock:
            old = self.store.get(_gr(rtype), r.namespace, r.name)
            if old is None:
                raise err_not_found(rtype, r.name)
            if h.command in ("GET", "HEAD"):
                h.send_json(200, scale_of(old))
                return
            cur = scale_of(old)
            if h.command == "PUT":
                try:
                    sc = json.loads(body or b"{}")
                except ValueError as e:
                    raise err_bad_request(str(e))
            elif h.command == "PATCH":
                ctype = (h.headers.get("Content-Type", "") or "").split(";")[0].strip()
                if ctype == "application/apply-patch+yaml":
                    raise ApiError(415, "UnsupportedMediaType",
                                   "kubesim does not implement server-side apply on the scale "
                                   "subresource; use a merge or JSON patch (kubectl scale)")
                try:
                    doc = json.loads(body or b"{}")
                    if ctype == "application/json-patch+json":
                        sc = kpatch.json_patch(cur, doc)
                    else:
                        sc = kpatch.merge_patch(cur, doc)
                except kpatch.PatchError as e:
                    raise ApiError(e.code, e.reason, e.message)
                except ValueError as e:
                    raise err_bad_request(str(e))
            else:
                raise err_method_not_allowed()
            rv = (sc.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise err_conflict(rtype, r.name)
            replicas = (sc.get("spec") or {}).get("replicas", 0)
            new = copy.deepcopy(old)
            node = new
            parts = spec_path.strip(".").split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = replicas
            r2 = Request()
            r2.__dict__.update(r.__dict__)
            r2.subresource = None
            result, _, _ = self.apply_update(rtype, r2, old, new, "Ignore", self.dry_run(h),
                                             from_patch=True, manager=self.field_manager(h),
                                             manager_subresource="scale")
            h.send_json(200, scale_of(result))

    # ------------------------------------------------------------------ delete
    def delete_options(self, h, body):
        opts = {}
        if body and body.strip():
            try:
                opts = json.loads(body)
            except ValueError as e:
                raise err_bad_request("error decoding DeleteOptions: %s" % e)
            if not isinstance(opts, dict):
                raise err_bad_request("DeleteOptions must be an object")
        q = h.query
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if "gracePeriodSeconds" in q:
            try:
                opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            except ValueError:
                raise err_bad_request("invalid gracePeriodSeconds")
        if "orphanDependents" in q:
            opts["orphanDependents"] = _truthy(q["orphanDependents"])
        pp = opts.get("propagationPolicy")
        if pp not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(422, "Invalid", 'DeleteOptions.meta.k8s.io "" is invalid: '
                           'propagationPolicy: Unsupported value: "%s": supported values: '
                           '"Foreground", "Background", "Orphan", "nil"' % pp,
                           {"group": "meta.k8s.io", "kind": "DeleteOptions",
                            "causes": [{"reason": "FieldValueNotSupported",
                                        "message": 'Unsupported value: "%s": supported values: '
                                                   '"Foreground", "Background", "Orphan", "nil"'
                                                   % pp, "field": "propagationPolicy"}]})
        if pp is not None and opts.get("orphanDependents") is not None:
            raise ApiError(422, "Invalid", 'DeleteOptions.meta.k8s.io "" is invalid: '
                           'propagationPolicy: Invalid value: "%s": orphanDependents and '
                           'deletionPropagation cannot be both set' % pp)
        if pp is None and opts.get("orphanDependents") is not None:
            opts["propagationPolicy"] = "Orphan" if opts["orphanDependents"] else "Background"
        dr = opts.get("dryRun") or []
        if self.dry_run(h) or "All" in dr:
            opts["_dry"] = True
        return opts

    def delete(self, h, r, body):
        rtype = r.rtype
        opts = self.delete_options(h, body)
        with self.store.lock:
            obj = self.store.get(_gr(rtype), r.namespace, r.name)
            if obj is None:
                raise err_not_found(rtype, r.name)
            warnings = []
            if _gr(rtype) == ("batch", "jobs") and opts.get("propagationPolicy") is None:
                # batch/v1 Jobs default to orphaning their pods, with this warning (1.32)
                opts["propagationPolicy"] = "Orphan"
                warnings.append("child pods are preserved by default when jobs are deleted; set "
                                "propagationPolicy=Background to remove them or set "
                                "propagationPolicy=Orphan to suppress this warning")
            code, result = self.delete_internal(rtype, obj, opts)
        if result.get("kind") == "Status":
            h.send_json(code, result, {"Warning": [_warning_header(w) for w in warnings]}
                        if warnings else None)
        else:
            self.respond_object(h, code, rtype, self.present(rtype, result), warnings)

    def delete_internal(self, rtype, obj, opts):
        """Delete ``obj`` (under the store lock) as kube-apiserver's generic store does:
        preconditions, propagation finalizers (orphan / foregroundDeletion), graceful deletion
        while finalizers remain, immediate removal otherwise. Returns (http code, body)."""
        gr = _gr(rtype)
        meta = obj["metadata"]
        name = meta["name"]
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise err_conflict(rtype, name, "Precondition failed: UID in precondition: %s, UID in "
                               "object meta: %s" % (pre["uid"], meta["uid"]))
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise err_conflict(rtype, name, "Precondition failed: ResourceVersion in precondition: "
                               "%s, ResourceVersion in object meta: %s"
                               % (pre["resourceVersion"], meta["resourceVersion"]))
        dry = opts.get("_dry", False)
        policy = opts.get("propagationPolicy")
        fins = list(meta.get("finalizers") or [])
        new_fins = list(fins)
        if policy == "Orphan":
            if "orphan" not in new_fins:
                new_fins.append("orphan")
            new_fins = [f for f in new_fins if f != "foregroundDeletion"]
        elif policy == "Foreground":
            if "foregroundDeletion" not in new_fins:
                new_fins.append("foregroundDeletion")
            new_fins = [f for f in new_fins if f != "orphan"]
        elif policy == "Background":
            new_fins = [f for f in new_fins if f not in ("orphan", "foregroundDeletion")] \
                if meta.get("deletionTimestamp") else new_fins
        if gr == NS_GR and name in ("default", "kube-system", "kube-public"):
            raise ApiError(403, "Forbidden", 'namespaces "%s" is forbidden: this namespace may '
                           'not be deleted' % name, {"name": name, "kind": "namespaces"})
        graceful = bool(new_fins) or gr == NS_GR
        if meta.get("deletionTimestamp") and gr == NS_GR:
            raise err_conflict(rtype, name, "The system is ensuring all content is removed from "
                               "this namespace.  Upon completion, this namespace will "
                               "automatically be purged by the system.")
        if meta.get("deletionTimestamp"):
            # already being deleted: only the propagation finalizers may change
            if new_fins != fins and not dry:
                new = copy.deepcopy(obj)
                new["metadata"]["finalizers"] = new_fins
                if not new_fins and gr != NS_GR:
                    return 200, self._deleted_body(rtype, self.store.remove(
                        gr, meta.get("namespace"), name, final_state=new))
                obj = self.store.put(gr, new)
            return 202 if policy == "Foreground" else 200, obj
        if graceful:
            new = copy.deepcopy(obj)
            nm = new["metadata"]
            nm["deletionTimestamp"] = now_rfc3339()
            nm["deletionGracePeriodSeconds"] = 0
            if new_fins:
                nm["finalizers"] = new_fins
            if int(nm.get("generation", 0) or 0) > 0:
                nm["generation"] = int(nm["generation"]) + 1
            if gr == NS_GR:
                new.setdefault("status", {})["phase"] = "Terminating"
            if gr == CRD_GR:
                conds = [c for c in (new.get("status") or {}).get("conditions") or []
                         if c.get("type") != "Terminating"]
                conds.append({"type": "Terminating", "status": "True",
                              "lastTransitionTime": nm["deletionTimestamp"],
                              "reason": "InstanceDeletionInProgress",
                              "message": "CustomResource deletion is in progress"})
                new.setdefault("status", {})["conditions"] = conds
            if dry:
                return 200, new
            stored = self.store.put(gr, new)
            self.controllers.kick()
            code = 202 if (policy == "Foreground" or opts.get("orphanDependents") is False) else 200
            return code, stored
        if dry:
            return 200, self._deleted_body(rtype, obj)
        gone = self.store.remove(gr, meta.get("namespace"), name)
        self.controllers.kick()
        return 200, self._deleted_body(rtype, gone)

    def _deleted_body(self, rtype, obj):
        if rtype.crd_name is not None or _gr(rtype) in RETURN_DELETED_OBJECT:
            return obj
        d = {"name": obj["metadata"]["name"]}
        if rtype.group:
            d["group"] = rtype.group
        d["kind"] = rtype.resource
        d["uid"] = obj["metadata"]["uid"]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": d}

    def delete_collection(self, h, r, body):
        rtype = r.rtype
        opts = self.delete_options(h, body)
        ls, fs = self.selectors(h, rtype)
        match = self.matcher(rtype, r.namespace, ls, fs)
        deleted = []
        with self.store.lock:
            for obj in self.store.list(_gr(rtype), r.namespace):
                if not match(obj):
                    continue
                _, res = self.delete_internal(rtype, obj, opts)
                deleted.append(res if res.get("kind") != "Status" else obj)
            rv = self.store.rv
        items = [self.present(rtype, o) for o in deleted]
        if rtype.crd_name is None:
            items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in items]
        h.send_json(200, {"kind": rtype.list_kind, "apiVersion": rtype.group_version,
                          "metadata": {"resourceVersion": str(rv)}, "items": items})

    # ------------------------------------------------------------------ controller writes
    def write_status(self, rtype, namespace, name, mutate):
        """Read-modify-write of an object's status by a simulated controller (same store path as
        a /status PUT: rv bump, watch event; no-op when nothing changes). ``mutate(obj)`` edits
        a copy in place. Returns the stored object or None if absent."""
        with self.store.lock:
            old = self.store.get(_gr(rtype), namespace, name)
            if old is None:
                return None
            new = copy.deepcopy(old)
            mutate(new)
            if _strip_rv(new) == _strip_rv(old):
                return old
            self.track_controller(rtype, old, new)
            return self.store.put(_gr(rtype), new)

    CONTROLLER_MANAGER = "kube-controller-manager"

    def track_controller(self, rtype, old, new, manager=CONTROLLER_MANAGER):
        """managedFields of a simulated controller's write: kube-controller-manager (the CRD
        controllers: kube-apiserver), through /status when only the status changed (as the
        Deployment and Job controllers write)."""
        def body(o):
            return {k: v for k, v in o.items() if k != "status"}
        sub = "status" if body(old) == body(new) and "status" in rtype.subresources else None
        managers = kfm.update(self.live_managers(old), old, new, rtype.schema,
                              manager, rtype.group_version, sub or "",
                              self.fm_scope(rtype, sub), now_rfc3339())
        self.set_managed(new, managers)

    def remove_finalizer(self, rtype, obj, finalizer):
        """Drop a finalizer (as a controller's update); removes the object when it was the last
        one and the object is being deleted."""
        with self.store.lock:
            cur = self.store.get(_gr(rtype), obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if cur is None or finalizer not in (cur["metadata"].get("finalizers") or []):
                return
            new = copy.deepcopy(cur)
            fins = [f for f in new["metadata"]["finalizers"] if f != finalizer]
            if fins:
                new["metadata"]["finalizers"] = fins
            else:
                new["metadata"].pop("finalizers", None)
            self.track_controller(rtype, cur, new)
            if not fins and new["metadata"].get("deletionTimestamp") and _gr(rtype) != NS_GR:
                self.store.remove(_gr(rtype), cur["metadata"].get("namespace"),
                                  cur["metadata"]["name"], final_state=new)
            else:
                self.store.put(_gr(rtype), new)

    def type_for_gr(self, gr):
        """A served ResourceType for a stored (group, resource) (the storage version)."""
        best = None
        for t in self.registry.types():
            if (t.group, t.resource) == gr:
                if best is None or getattr(t, "storage_version", False):
                    best = t
        return best

    # ------------------------------------------------------------------ watch
    def watch(self, h, r):
        self.check_accept(h)
        rtype = r.rtype
        q = h.query
        ls, fs = self.selectors(h, rtype, name=r.name if r.watch_path else None)
        match = self.matcher(rtype, r.namespace, ls, fs)
        gr = _gr(rtype)
        table = self.wants_table(h)
        metadata_only = self.negotiate_quiet(h) == "meta"
        include = q.get("includeObject", "Metadata")
        bookmarks = _truthy(q.get("allowWatchBookmarks"))
        send_initial = q.get("sendInitialEvents")
        rv_param = q.get("resourceVersion", "")
        # without timeoutSeconds the real server ends a watch after minRequestTimeout (1800 s)
        # times a random factor in [1, 2)
        timeout = 1800.0 * (1 + random.random())
        if q.get("timeoutSeconds"):
            try:
                timeout = float(q["timeoutSeconds"])
            except ValueError:
                raise err_bad_request("invalid timeoutSeconds")
        if send_initial is not None:
            # the WatchList rules of ValidateListOptions
            if q.get("resourceVersionMatch") != "NotOlderThan":
                raise _list_options_invalid(
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                    "resourceVersionMatch to NotOlderThan")
            if not bookmarks:
                raise _list_options_invalid(
                    "allowWatchBookmarks: Required value: sendInitialEvents requires setting "
                    "allowWatchBookmarks to true")
        elif q.get("resourceVersionMatch"):
            raise _list_options_invalid(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch")
        sim = self.sim
        initial = []
        too_old = None
        with self.store.lock:
            gen = sim.watch_generation
            if _truthy(send_initial) or (rv_param in ("", "0") and send_initial is None):
                # initial state "not older than" the given resourceVersion: the current one
                initial = [o for o in self.store.list(gr) if match(o)]
                cursor = self.store.rv
            elif rv_param in ("", "0"):
                cursor = self.store.rv  # sendInitialEvents=false: start at the most recent
            else:
                try:
                    cursor = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest", 'invalid resource version "%s"' % rv_param)
                if cursor < self.store.compacted_rv:
                    too_old = kstore.Gone(cursor, self.store.compacted_rv)
                elif cursor > self.store.rv:
                    # the watch cache waits up to 3 s to catch up with a newer resourceVersion
                    deadline = time.monotonic() + 3
                    while cursor > self.store.rv and time.monotonic() < deadline:
                        self.store.cond.wait(deadline - time.monotonic())
                    if cursor > self.store.rv:
                        too_old = ApiError(504, "Timeout", "Timeout: Too large resource version: "
                                           "%d, current: %d" % (cursor, self.store.rv),
                                           {"causes": [{"reason": "ResourceVersionTooLarge",
                                                        "message": "Too large resource version"}],
                                            "retryAfterSeconds": 1})
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Audit-Id", h._audit_id)
        for wv in h.always_warnings:
            h.send_header("Warning", wv)
        h.end_headers()
        h._status = 200
        h.log_now()
        w = _ChunkWriter(h)

        def emit(etype, obj):
            o = self.present(rtype, obj)
            if metadata_only:
                o = self.partial_metadata(o)
            if table:
                o = self.registry.to_table(rtype, [o], include, {"resourceVersion":
                                                                o["metadata"].get("resourceVersion", "")})
            w.event(etype, o)

        def bookmark(annotate=False):
            md = {"resourceVersion": str(cursor)}
            if rtype.crd_name is None:
                md["creationTimestamp"] = None
            if annotate:
                md["annotations"] = {"k8s.io/initial-events-end": "true"}
            w.event("BOOKMARK", {"kind": rtype.kind, "apiVersion": rtype.group_version,
                                 "metadata": md})

        try:
            if too_old is not None:
                err = too_old if isinstance(too_old, ApiError) else ApiError(410, "Expired", str(too_old))
                w.event("ERROR", err.status())
                w.end()
                return
            for o in initial:
                emit("ADDED", o)
            if _truthy(send_initial):
                bookmark(annotate=True)
            w.flush()
            started = time.monotonic()
            next_bookmark = started + sim.bookmark_interval
            conn = h.connection
            due = {}  # watch delay: rv -> this watch's delivery time of an event of gr
            while True:
                now = time.monotonic()
                events = None
                ended = False
                with self.store.lock:
                    while True:
                        if sim.stopping.is_set() or sim.watch_generation != gen:
                            ended = True
                            break
                        now = time.monotonic()
                        if timeout is not None and now - started >= timeout:
                            ended = True
                            break
                        try:
                            events = self.store.events_after(cursor)
                        except kstore.Gone as e:
                            events = e
                            break
                        not_before = None
                        if events and (due or sim.watch_delaying()):
                            events, not_before = self._deliverable(events, gr, due, now)
                        if events:
                            break
                        if bookmarks and now >= next_bookmark:
                            break
                        wait = 1.0
                        if timeout is not None:
                            wait = min(wait, timeout - (now - started))
                        if bookmarks:
                            wait = min(wait, next_bookmark - now)
                        if not_before is not None:
                            wait = min(wait, max(0.001, not_before - now))
                        self.store.cond.wait(max(0.001 if not_before is not None else 0.01, wait))
                        if _peer_closed(conn):
                            raise ConnectionError("watch client went away")
                    # the newest revision this watch has caught up with (an event still delayed
                    # keeps the cursor, and so a bookmark, before it)
                    new_cursor = events[-1].rv if events and not isinstance(events, kstore.Gone) \
                        else (cursor if due else self.store.rv)
                if isinstance(events, kstore.Gone):
                    w.event("ERROR", ApiError(410, "Expired", str(events)).status())
                    break
                if ended:
                    if bookmarks and timeout is not None and not sim.stopping.is_set() \
                            and sim.watch_generation == gen:
                        bookmark()
                    break
                for ev in events or []:
                    if ev.gr != gr:
                        continue
                    if ev.type == "ADDED":
                        if match(ev.obj):
                            emit("ADDED", ev.obj)
                    elif ev.type == "DELETED":
                        if match(ev.prev):
                            emit("DELETED", ev.obj)
                    else:
                        now_m, old_m = match(ev.obj), match(ev.prev)
                        if now_m and old_m:
                            emit("MODIFIED", ev.obj)
                        elif now_m:
                            emit("ADDED", ev.obj)
                        elif old_m:
                            emit("DELETED", ev.obj)
                cursor = max(cursor, new_cursor if events else cursor)
                if events:
                    cursor = max(cursor, events[-1].rv)
                if bookmarks and time.monotonic() >= next_bookmark:
                    cursor = max(cursor, new_cursor)
                    bookmark()
                    next_bookmark = time.monotonic() + sim.bookmark_interval
                w.flush()
            w.end()
        except (ConnectionError, BrokenPipeError, ssl.SSLError, OSError):
            h.close_connection = True

    def _deliverable(self, events, gr, due, now):
        """Under the watch delay: the leading events of ``events`` (kept events after the
        watch's cursor, oldest first) this watch may deliver now, and when the first one held
        back becomes due (None when it waits for its write's response). An event of ``gr`` is
        due at max(its commit time + delay + uniform(0, jitter), the previous event's due time),
        so events never overtake each other on one watch; ``due`` (this watch's memo, emptied
        as events go out) keeps each draw. Events of other resources pass through."""
        sim = self.sim
        last = 0.0
        for ev in events:
            if ev.gr == gr and ev.rv in due:
                last = due[ev.rv]
        ready = []
        for ev in events:
            if ev.gr == gr:
                d = due.get(ev.rv)
                if d is None:
                    d = max(last, sim.watch_event_due(ev.t))
                    due[ev.rv] = d
                last = d
                if ev.held:
                    return ready, None
                if now < d:
                    return ready, d
                del due[ev.rv]
            ready.append(ev)
        return ready, None


class _ChunkWriter:
    """Chunked transfer-encoding writer: one watch event per line, one line per chunk."""

    def __init__(self, h):
        self.h = h
        self.buf = []

    def event(self, etype, obj):
        line = json.dumps({"type": etype, "object": obj}, separators=(",", ":")) + "\n"
        data = line.encode()
        self.buf.append(b"%x\r\n%s\r\n" % (len(data), data))
        if len(self.buf) >= 64:
            self.flush()

    def flush(self):
        if self.buf:
            self.h.wfile.write(b"".join(self.buf))
            self.buf = []
        self.h.wfile.flush()

    def end(self):
        self.flush()
        self.h.wfile.write(b"0\r\n\r\n")
        self.h.wfile.flush()


def _peer_closed(conn):
    """Whether the client closed its end of an idle watch connection."""
    try:
        if isinstance(conn, ssl.SSLSocket) and conn.pending():
            return False
        r, _, _ = select.select([conn], [], [], 0)
        if not r:
            return False
        conn.setblocking(False)
        try:
            data = conn.recv(1)
        finally:
            conn.setblocking(True)
        return data == b""
    except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
        return False
    except (OSError, ValueError):
        return True


def _query_items(qs):
    import urllib.parse
    return urllib.parse.parse_qsl(qs, keep_blank_values=True)


def _list_options_invalid(message):
    return ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: %s' % message,
                    {"group": "meta.k8s.io", "kind": "ListOptions"})


def _go_string_slice(items):
    return "[]string{%s}" % ", ".join('"%s"' % i for i in items)


def _go_json_type(v):
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if v is None:
        return "null"
    return "number"
