"""kubesim identities and authorization: kube-apiserver's authenticators, its RBAC authorizer,
the review APIs, ServiceAccount tokens and the OwnerReferencesPermissionEnforcement plugin.

Called by server.py (authenticate + authorize every request) and resources.py (the review
kinds, serviceaccounts/NAME/token, the admission plugin on create/update).

Identities (UserInfo: name, uid, groups):
  * `--token TOKEN`: a superuser "kubesim-user" in system:masters (every existing test);
    `--token NAME=TOKEN[:GROUP,GROUP]`: user NAME in those groups. Repeatable.
  * ServiceAccount tokens from the TokenRequest subresource (POST
    /api/v1/namespaces/NS/serviceaccounts/NAME/token, what `kubectl create token` calls):
    "system:serviceaccount:NS:NAME", uid = the ServiceAccount's uid, groups
    system:serviceaccounts, system:serviceaccounts:NS. The token is a JWT with the real claims
    (iss, sub, aud, exp, iat, nbf, jti, kubernetes.io) signed HS256 with a per-process key (the
    real server signs RS256 with its service-account key); it stops working when it expires,
    when its ServiceAccount is deleted (or recreated: uid), or when its audiences do not include
    the API server's (https://kubernetes.default.svc.cluster.local).
  * a client certificate verified against our CA: CN = user, O = groups.
  * Impersonate-User / Impersonate-Group / Impersonate-Uid headers, authorized as the real
    filter does (verb impersonate on users / groups / serviceaccounts / uids).
  Every authenticated user also gets system:authenticated. With no authentication configured
  (neither --token nor --client-cert-auth) every request is user "system:admin" in
  system:masters, as kubesim always behaved (a real server would call it system:anonymous).

Authorization: system:masters may do everything (the real privileged-group authorizer); anyone
else is authorized by RBAC exactly as rbac.go / rule.go: ClusterRoleBindings grant everywhere,
RoleBindings (to a Role in their namespace or to a ClusterRole) grant in their namespace;
verbs, apiGroups, resources ("rollouts/status", "*/status"), resourceNames, nonResourceURLs
("/apis/*"), "*" wildcards; a binding whose role is missing adds "RBAC: ... not found" to the
refusal. Request attributes as RequestInfoFactory makes them: list/watch/deletecollection
verbs, a namespace's own name is its namespace, a list/watch with fieldSelector
metadata.name=X is about name X, anything that is not /api/v1/... or /apis/G/V/... is a
non-resource request with the lower-case HTTP method as verb. The bootstrap policy kubesim
creates at start: ClusterRoles cluster-admin, system:discovery, system:public-info-viewer,
system:basic-user and their ClusterRoleBindings (system:masters; system:authenticated), so any
authenticated user can run kubectl's discovery, /version, /healthz, `kubectl auth can-i` and
`kubectl auth whoami`.

A refusal is 403 Forbidden worded as responsewriters.Forbidden + apierrors.NewForbidden:
  deployments.apps "web" is forbidden: User "u" cannot get resource "deployments" in API group
  "apps" in the namespace "shop"       (or "at the cluster scope"; "rollouts/status";
  `forbidden: User "u" cannot get path "/metrics"` for non-resource requests)
with details {name?, group?, kind?: <resource>} (all omitted when empty, as StatusDetails).

Differences from a real kube-apiserver (documented in docs/kubesim.md too):
  * escalation prevention as ConfirmNoEscalation, simplified: the writer's own RBAC rules in
    the namespace must cover every rule granted (Covers/CompactRules wording), unless it has
    `escalate` on the role or `bind` on the referenced role; updates that keep rules/roleRef
    are not checked;
  * aggregated ClusterRoles (aggregationRule) are refused (422), no default admin/edit/view;
  * no Node authorizer, webhook authorizers, ABAC; no "default" ServiceAccount is made in new
    namespaces; no legacy Secret-based ServiceAccount tokens; TokenRequest's boundObjectRef is
    refused.
"""

import base64
import copy
import datetime
import hashlib
import hmac
import json
import os
import threading
import time
import uuid

from server import ApiError, err_bad_request, err_invalid, err_not_found, now_rfc3339

RBAC_GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
ISSUER = "https://kubernetes.default.svc.cluster.local"
SA_GR = ("", "serviceaccounts")
CR_GR = (RBAC_GROUP, "clusterroles")
CRB_GR = (RBAC_GROUP, "clusterrolebindings")
ROLE_GR = (RBAC_GROUP, "roles")
RB_GR = (RBAC_GROUP, "rolebindings")
OWNER_REFS_PLUGIN = "OwnerReferencesPermissionEnforcement"
ADMISSION_PLUGINS = (OWNER_REFS_PLUGIN,)


class UserInfo:
    def __init__(self, name, groups=(), uid="", extra=None):
        self.name = name
        self.uid = uid
        self.groups = list(groups)
        self.extra = dict(extra or {})

    def with_authenticated(self):
        if AUTHENTICATED not in self.groups and self.name != "system:anonymous":
            self.groups.append(AUTHENTICATED)
        return self

    def json(self):
        d = {"username": self.name}
        if self.uid:
            d["uid"] = self.uid
        if self.groups:
            d["groups"] = list(self.groups)
        if self.extra:
            d["extra"] = copy.deepcopy(self.extra)
        return d

    def __repr__(self):
        return "<UserInfo %s %s>" % (self.name, self.groups)


SUPERUSER_NAME = "kubesim-user"


def parse_token_flag(value):
    """`TOKEN` (a superuser) or `NAME=TOKEN[:GROUP,GROUP...]` -> (token, UserInfo); ValueError
    when malformed."""
    if "=" not in value:
        if not value:
            raise ValueError("empty token")
        return value, UserInfo(SUPERUSER_NAME, [MASTERS])
    name, rest = value.split("=", 1)
    token, _, groups = rest.partition(":")
    if not name or not token:
        raise ValueError("--token %r: expected TOKEN or NAME=TOKEN[:GROUP,GROUP]" % value)
    return token, UserInfo(name, [g for g in groups.split(",") if g])


class Attributes:
    """authorizer.Attributes: one request (or one review question)."""

    def __init__(self, user, verb, resource_request=True, group="", version="", resource="",
                 subresource="", namespace="", name="", path=""):
        self.user = user
        self.verb = verb
        self.resource_request = resource_request
        self.group = group or ""
        self.version = version or ""
        self.resource = resource or ""
        self.subresource = subresource or ""
        self.namespace = namespace or ""
        self.name = name or ""
        self.path = path


def forbidden(attrs, reason=""):
    """The 403 of WithAuthorization: responsewriters.Forbidden -> apierrors.NewForbidden."""
    user = attrs.user.name if attrs.user else ""
    if not attrs.resource_request:
        msg = 'User "%s" cannot %s path "%s"' % (user, attrs.verb, attrs.path)
    else:
        resource = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
        if attrs.namespace:
            msg = 'User "%s" cannot %s resource "%s" in API group "%s" in the namespace "%s"' % (
                user, attrs.verb, resource, attrs.group, attrs.namespace)
        else:
            msg = 'User "%s" cannot %s resource "%s" in API group "%s" at the cluster scope' % (
                user, attrs.verb, resource, attrs.group)
    if reason:
        msg += ": " + reason
    return forbidden_error(attrs.group, attrs.resource, attrs.name, msg)


def forbidden_error(group, resource, name, err_text):
    """apierrors.NewForbidden(schema.GroupResource{group, resource}, name, err)."""
    details = {}
    if not resource and not group:
        message = "forbidden: " + err_text
    else:
        qual = resource + ("." + group if group else "")
        if name:
            message = '%s "%s" is forbidden: %s' % (qual, name, err_text)
        else:
            message = "%s is forbidden: %s" % (qual, err_text)
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return ApiError(403, "Forbidden", message, details)


# ---------------------------------------------------------------------------------------------
# RBAC rules (rbac/v1 helpers: rule.go)
# ---------------------------------------------------------------------------------------------
def _has(lst, value):
    return "*" in (lst or []) or value in (lst or [])


def resource_matches(rule, combined, subresource):
    for r in rule.get("resources") or []:
        if r == "*" or r == combined:
            return True
        if subresource and r == "*/" + subresource:
            return True
    return False


def non_resource_url_matches(rule, path):
    for u in rule.get("nonResourceURLs") or []:
        if u == "*" or u == path:
            return True
        if u.endswith("*") and path.startswith(u[:-1]):
            return True
    return False


def rule_allows(attrs, rule):
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return non_resource_url_matches(rule, attrs.path)
    combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    names = rule.get("resourceNames") or []
    return (_has(rule.get("apiGroups"), attrs.group)
            and resource_matches(rule, combined, attrs.subresource)
            and (not names or attrs.name in names))


def _subject_applies(user, subject, binding_namespace):
    kind = subject.get("kind")
    if kind == "User":
        return user.name == subject.get("name")
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return user.name == "system:serviceaccount:%s:%s" % (ns, subject.get("name", ""))
    return False


def _describe_subject(subject, binding_namespace):
    if subject.get("kind") == "ServiceAccount":
        return '%s "%s/%s"' % (subject["kind"], subject.get("name", ""),
                               subject.get("namespace") or binding_namespace)
    return '%s "%s"' % (subject.get("kind", ""), subject.get("name", ""))


class Authorizer:
    """The union of the privileged-group authorizer (system:masters) and RBAC over the store."""

    def __init__(self, store):
        self.store = store

    def visit_rules(self, user, namespace, visitor):
        """rule resolution as DefaultRuleResolver.VisitRulesFor: visitor(source, rule, error)
        returns False to stop."""
        for crb in self.store.list(CRB_GR):
            subs = crb.get("subjects") or []
            hit = next((s for s in subs if _subject_applies(user, s, "")), None)
            if hit is None:
                continue
            ref = crb.get("roleRef") or {}
            role = self.store.get(CR_GR, "", ref.get("name", ""))
            if role is None:
                if not visitor(None, None, 'clusterrole.rbac.authorization.k8s.io "%s" not found'
                               % ref.get("name", "")):
                    return
                continue
            src = 'ClusterRoleBinding "%s" of %s "%s" to %s' % (
                crb["metadata"]["name"], ref.get("kind"), ref.get("name"),
                _describe_subject(hit, ""))
            for rule in role.get("rules") or []:
                if not visitor(src, rule, None):
                    return
        if not namespace:
            return
        for rb in self.store.list(RB_GR, namespace):
            subs = rb.get("subjects") or []
            hit = next((s for s in subs if _subject_applies(user, s, namespace)), None)
            if hit is None:
                continue
            ref = rb.get("roleRef") or {}
            if ref.get("kind") == "Role":
                role = self.store.get(ROLE_GR, namespace, ref.get("name", ""))
                missing = 'role.rbac.authorization.k8s.io "%s" not found' % ref.get("name", "")
            else:
                role = self.store.get(CR_GR, "", ref.get("name", ""))
                missing = 'clusterrole.rbac.authorization.k8s.io "%s" not found' % ref.get("name", "")
            if role is None:
                if not visitor(None, None, missing):
                    return
                continue
            src = 'RoleBinding "%s/%s" of %s "%s" to %s' % (
                rb["metadata"]["name"], namespace, ref.get("kind"), ref.get("name"),
                _describe_subject(hit, namespace))
            for rule in role.get("rules") or []:
                if not visitor(src, rule, None):
                    return

    def authorize(self, attrs):
        """(allowed, reason) as the union authorizer answers."""
        if MASTERS in attrs.user.groups:
            return True, ""
        state = {"allowed": False, "reason": "", "errors": []}

        def visit(src, rule, err):
            if rule is not None and rule_allows(attrs, rule):
                state["allowed"] = True
                state["reason"] = "RBAC: allowed by " + src
                return False
            if err is not None:
                state["errors"].append(err)
            return True
        with self.store.lock:
            self.visit_rules(attrs.user, attrs.namespace, visit)
        if state["allowed"]:
            return True, state["reason"]
        errs = state["errors"]
        if not errs:
            return False, ""
        return False, "RBAC: " + (errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")

    def rules_for(self, user, namespace):
        """(resourceRules, nonResourceRules, errors) for SelfSubjectRulesReview."""
        res, nonres, errs = [], [], []

        def visit(src, rule, err):
            if rule is not None:
                if rule.get("nonResourceURLs"):
                    nonres.append({"verbs": list(rule.get("verbs") or []),
                                   "nonResourceURLs": list(rule["nonResourceURLs"])})
                else:
                    r = {"verbs": list(rule.get("verbs") or [])}
                    for k in ("apiGroups", "resources", "resourceNames"):
                        if rule.get(k):
                            r[k] = list(rule[k])
                    res.append(r)
            if err is not None:
                errs.append(err)
            return True
        if MASTERS in user.groups:
            res.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
            nonres.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
        with self.store.lock:
            self.visit_rules(user, namespace, visit)
        return res, nonres, errs


# ---------------------------------------------------------------------------------------------
# the bootstrap policy (a subset of plugin/pkg/auth/authorizer/rbac/bootstrappolicy)
# ---------------------------------------------------------------------------------------------
def _meta(name):
    return {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339(),
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}


BOOTSTRAP_ROLES = {
    "cluster-admin": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                      {"verbs": ["*"], "nonResourceURLs": ["*"]}],
    "system:discovery": [{"verbs": ["get"], "nonResourceURLs": [
        "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
        "/readyz", "/version", "/version/"]}],
    "system:public-info-viewer": [{"verbs": ["get"], "nonResourceURLs": [
        "/healthz", "/livez", "/readyz", "/version", "/version/"]}],
    "system:basic-user": [{"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                           "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
                          {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
                           "resources": ["selfsubjectreviews"]}],
}
BOOTSTRAP_BINDINGS = {
    "cluster-admin": [MASTERS],
    "system:discovery": [AUTHENTICATED],
    "system:public-info-viewer": [AUTHENTICATED, UNAUTHENTICATED],
    "system:basic-user": [AUTHENTICATED],
}


def bootstrap(store):
    """Store the default ClusterRoles and ClusterRoleBindings (as the rbac bootstrap hook)."""
    for name, rules in BOOTSTRAP_ROLES.items():
        store.put(CR_GR, {"apiVersion": RBAC_GROUP + "/v1", "kind": "ClusterRole",
                          "metadata": _meta(name), "rules": copy.deepcopy(rules)})
    for name, groups in BOOTSTRAP_BINDINGS.items():
        store.put(CRB_GR, {"apiVersion": RBAC_GROUP + "/v1", "kind": "ClusterRoleBinding",
                           "metadata": _meta(name),
                           "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole",
                                       "name": name},
                           "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g}
                                        for g in groups]})


# ---------------------------------------------------------------------------------------------
# ServiceAccount tokens
# ---------------------------------------------------------------------------------------------
def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    def __init__(self):
        self.key = os.urandom(32)

    def issue(self, sa, audiences, seconds):
        now = int(time.time())
        md = sa["metadata"]
        claims = {"aud": list(audiences), "exp": now + seconds, "iat": now, "iss": ISSUER,
                  "jti": str(uuid.uuid4()),
                  "kubernetes.io": {"namespace": md["namespace"],
                                    "serviceaccount": {"name": md["name"], "uid": md["uid"]}},
                  "nbf": now, "sub": "system:serviceaccount:%s:%s" % (md["namespace"], md["name"])}
        head = _b64(json.dumps({"alg": "HS256", "kid": "kubesim"}, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self.key, (head + "." + body).encode(), hashlib.sha256).digest())
        return head + "." + body + "." + sig, claims

    def verify(self, token, store, audiences=(API_AUDIENCE,)):
        """UserInfo for a valid, unexpired token whose ServiceAccount still exists, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        want = _b64(hmac.new(self.key, (parts[0] + "." + parts[1]).encode(),
                             hashlib.sha256).digest())
        if not hmac.compare_digest(want, parts[2]):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        if claims.get("exp", 0) <= time.time():
            return None
        if audiences and not set(claims.get("aud") or []) & set(audiences):
            return None
        k = claims.get("kubernetes.io") or {}
        ns = k.get("namespace", "")
        sa_ref = k.get("serviceaccount") or {}
        sa = store.get(SA_GR, ns, sa_ref.get("name", ""))
        if sa is None or sa["metadata"].get("uid") != sa_ref.get("uid") or \
                sa["metadata"].get("deletionTimestamp"):
            return None
        return UserInfo("system:serviceaccount:%s:%s" % (ns, sa_ref["name"]),
                        ["system:serviceaccounts", "system:serviceaccounts:" + ns],
                        uid=sa_ref["uid"],
                        extra={"authentication.kubernetes.io/credential-id":
                               ["JTI=" + claims.get("jti", "")]})


# ---------------------------------------------------------------------------------------------
# the authentication state of one server
# ---------------------------------------------------------------------------------------------
class Auth:
    """Tokens, the SA token issuer, the authorizer and the enabled admission plugins."""

    def __init__(self, sim, tokens, admission_plugins=()):
        self.sim = sim
        self.tokens = dict(tokens)  # token -> UserInfo (without system:authenticated)
        self.issuer = TokenIssuer()
        self.authorizer = None  # set once the store exists
        self.admission_plugins = set(admission_plugins)
        self.lock = threading.Lock()

    @property
    def enabled(self):
        return bool(self.tokens) or self.sim.client_cert_auth

    def attach(self, store):
        self.authorizer = Authorizer(store)

    def authenticate_token(self, token, audiences=(API_AUDIENCE,)):
        u = self.tokens.get(token)
        if u is not None:
            return UserInfo(u.name, u.groups, u.uid, u.extra).with_authenticated()
        u = self.issuer.verify(token, self.sim.store, audiences)
        if u is not None:
            return u.with_authenticated()
        return None


def request_attributes(api, user, method, path, query, verb):
    """RequestInfoFactory: the authorizer attributes of one HTTP request."""
    try:
        r = api.parse(path) if api is not None else None
    except ApiError:
        r = None
    if r is None:
        return Attributes(user, method.lower(), resource_request=False, path=path)
    a = Attributes(user, verb, group=r.group, version=r.version, resource=r.resource,
                   subresource=r.subresource or "", namespace=r.namespace or "",
                   name=r.name or "")
    if r.group == "" and r.resource == "namespaces" and r.name:
        a.namespace = r.name
    if not a.name and verb in ("list", "watch"):
        fs = query.get("fieldSelector", "")
        reqs = [x for x in fs.split(",") if x]
        if len(reqs) == 1:
            for op in ("==", "="):
                k, sep, v = reqs[0].partition(op)
                if sep and k.strip() == "metadata.name" and "!" not in k:
                    a.name = v.strip()
                    break
    return a


IMPERSONATE_HEADERS = ("Impersonate-User", "Impersonate-Group", "Impersonate-Uid")


def impersonate(auth, user, headers):
    """The WithImpersonation filter: the user to act as, or ``user`` without the headers.
    Raises 403 (worded as the real filter's) when not allowed."""
    name = headers.get("Impersonate-User")
    groups = headers.get_all("Impersonate-Group") or []
    uid = headers.get("Impersonate-Uid")
    if name is None and not groups and uid is None:
        return user
    if name is None:
        raise ApiError(500, "InternalError", "Internal error occurred: requested %s without "
                       "impersonating a user" % ("groups" if groups else "uid"))
    checks = []
    if name.startswith("system:serviceaccount:") and name.count(":") == 3:
        _, _, ns, sa = name.split(":")
        checks.append(Attributes(user, "impersonate", resource="serviceaccounts", namespace=ns,
                                 name=sa))
        if not groups:
            groups = ["system:serviceaccounts", "system:serviceaccounts:" + ns]
    else:
        checks.append(Attributes(user, "impersonate", resource="users", name=name))
    for g in headers.get_all("Impersonate-Group") or []:
        checks.append(Attributes(user, "impersonate", resource="groups", name=g))
    if uid is not None:
        checks.append(Attributes(user, "impersonate", group="authentication.k8s.io",
                                 resource="uids", name=uid))
    for a in checks:
        ok, reason = auth.authorizer.authorize(a)
        if not ok:
            raise forbidden(a, reason)
    return UserInfo(name, groups, uid or "").with_authenticated()


# ---------------------------------------------------------------------------------------------
# review kinds and TokenRequest (resources.py routes POSTs here)
# ---------------------------------------------------------------------------------------------
def _review_attrs(user, spec, path_prefix):
    ra = spec.get("resourceAttributes")
    nra = spec.get("nonResourceAttributes")
    if (ra is None) == (nra is None):
        return None
    if nra is not None:
        return Attributes(user, nra.get("verb", ""), resource_request=False,
                          path=nra.get("path", ""))
    return Attributes(user, ra.get("verb", ""), group=ra.get("group", ""),
                      version=ra.get("version", ""), resource=ra.get("resource", ""),
                      subresource=ra.get("subresource", ""), namespace=ra.get("namespace", ""),
                      name=ra.get("name", ""))


def _exactly_one_cause():
    return [{"reason": "FieldValueRequired", "field": "spec.resourceAttributes",
             "message": "Required value: exactly one of nonResourceAttributes or "
                        "resourceAttributes must be specified"}]


def handle_review(api, h, r, body):
    """POST of TokenReview, SelfSubjectReview, (Self|Local)SubjectAccessReview,
    SelfSubjectRulesReview: answered (201) and never stored."""
    rtype = r.rtype
    if h.command != "POST" or r.name is not None:
        from server import err_method_not_allowed
        raise err_method_not_allowed()
    obj = api.parse_json_body(h, body, rtype)
    auth = api.sim.auth
    user = h.user
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    out = {"kind": rtype.kind, "apiVersion": rtype.group_version,
           "metadata": {"creationTimestamp": None}}
    if obj["metadata"].get("name"):
        out["metadata"]["name"] = obj["metadata"]["name"]
    kind = rtype.kind
    if kind == "TokenReview":
        token = spec.get("token", "")
        if not token:
            raise err_bad_request("token is required for TokenReview in authentication")
        auds = spec.get("audiences") or [API_AUDIENCE]
        u = auth.authenticate_token(token, auds)
        out["spec"] = spec
        status = {"user": {}}
        if u is not None:
            status = {"authenticated": True, "user": u.json(), "audiences": list(auds)}
        out["status"] = status
    elif kind == "SelfSubjectReview":
        out["status"] = {"userInfo": user.json()}
    elif kind == "SelfSubjectRulesReview":
        ns = spec.get("namespace", "")
        res, nonres, errs = auth.authorizer.rules_for(user, ns)
        out["spec"] = spec
        out["status"] = {"resourceRules": res, "nonResourceRules": nonres,
                         "incomplete": bool(errs)}
        if errs:
            out["status"]["evaluationError"] = "[" + ", ".join(errs) + "]" if len(errs) > 1 \
                else errs[0]
    else:
        if kind in ("SelfSubjectAccessReview",):
            subject = user
        else:
            if not spec.get("user") and not spec.get("groups"):
                raise err_invalid(rtype, "", [{
                    "reason": "FieldValueInvalid", "field": "spec.user",
                    "message": 'Invalid value: "": at least one of user or group must be '
                               'specified'}])
            subject = UserInfo(spec.get("user", ""), spec.get("groups") or [],
                               spec.get("uid", ""), spec.get("extra"))
        attrs = _review_attrs(subject, spec, "")
        if attrs is None:
            raise err_invalid(rtype, "", _exactly_one_cause())
        if kind == "LocalSubjectAccessReview":
            if attrs.namespace != r.namespace:
                raise err_invalid(rtype, "", [{
                    "reason": "FieldValueInvalid", "field": "spec.resourceAttributes.namespace",
                    "message": "Invalid value: %s: must match metadata.namespace"
                               % json.dumps(attrs.namespace)}])
            out["metadata"]["namespace"] = r.namespace
        allowed, reason = auth.authorizer.authorize(attrs)
        out["spec"] = spec
        out["status"] = {"allowed": allowed}
        if reason:
            out["status"]["reason"] = reason
    api.respond_object(h, 201, rtype, out)


def token_request(api, h, r, body):
    """POST serviceaccounts/NAME/token: a TokenRequest answered with a fresh token."""
    from server import err_method_not_allowed
    if h.command != "POST":
        raise err_method_not_allowed()
    import registry as kregistry
    sa_type = r.rtype
    treq = kregistry.ResourceType("authentication.k8s.io", "v1", "tokenrequests", "TokenRequest",
                                  True)
    obj = api.parse_json_body(h, body, treq)
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    seconds = spec.get("expirationSeconds")
    if seconds is None:
        seconds = 3600
    causes = []
    if not isinstance(seconds, int) or seconds < 600:
        causes.append({"reason": "FieldValueInvalid", "field": "spec.expirationSeconds",
                       "message": "Invalid value: %s: may not specify a duration less than 10 "
                                  "minutes" % json.dumps(seconds)})
    elif seconds > 1 << 32:
        causes.append({"reason": "FieldValueInvalid", "field": "spec.expirationSeconds",
                       "message": "Invalid value: %d: may not specify a duration larger than "
                                  "2^32 seconds" % seconds})
    if spec.get("boundObjectRef"):
        causes.append({"reason": "FieldValueForbidden", "field": "spec.boundObjectRef",
                       "message": "Forbidden: kubesim does not bind tokens to objects"})
    if causes:
        raise err_invalid(treq, r.name, causes)
    sa = api.store.get(SA_GR, r.namespace, r.name)
    if sa is None:
        raise err_not_found(sa_type, r.name)
    auds = spec.get("audiences") or [API_AUDIENCE]
    token, claims = api.sim.auth.issuer.issue(sa, auds, seconds)
    exp = datetime.datetime.fromtimestamp(claims["exp"], datetime.timezone.utc)
    out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
           "metadata": {"name": r.name, "namespace": r.namespace, "creationTimestamp": None},
           "spec": {"audiences": list(auds), "expirationSeconds": seconds,
                    "boundObjectRef": None},
           "status": {"token": token,
                      "expirationTimestamp": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    h.send_json(201, out)


# ---------------------------------------------------------------------------------------------
# OwnerReferencesPermissionEnforcement (plugin/pkg/admission/gc)
# ---------------------------------------------------------------------------------------------
def _owner_refs(obj):
    return ((obj or {}).get("metadata") or {}).get("ownerReferences") or []


def _is_changing_owner_refs(new, old):
    if old is None:
        return len(_owner_refs(new)) > 0
    return _owner_refs(new) != _owner_refs(old)


def _new_blocking_refs(new, old):
    blocking = [ref for ref in _owner_refs(new) if ref.get("blockOwnerDeletion") is True]
    if not blocking or old is None:
        return blocking
    old_by_uid = {ref.get("uid"): ref for ref in _owner_refs(old)}
    out = []
    for ref in blocking:
        o = old_by_uid.get(ref.get("uid"))
        if o is None or o.get("blockOwnerDeletion") is not True:
            out.append(ref)
    return out


def admit_owner_references(api, user, rtype, r, new, old):
    """The OwnerReferencesPermissionEnforcement validating plugin on a create (old None) or an
    update; raises the plugin's 403."""
    auth = api.sim.auth
    if user is None or OWNER_REFS_PLUGIN not in auth.admission_plugins:
        return
    sub = r.subresource or ""
    if rtype.group == "" and rtype.resource == "pods" and sub == "status":
        return
    if not _is_changing_owner_refs(new, old):
        return
    ns = r.namespace or ""
    name = r.name or (new.get("metadata") or {}).get("name", "")
    if old is not None:
        a = Attributes(user, "delete", group=rtype.group, version=rtype.version,
                       resource=rtype.resource, subresource=sub, namespace=ns, name=r.name or "")
        ok, reason = auth.authorizer.authorize(a)
        if not ok:
            raise forbidden_error(rtype.group, rtype.resource, name,
                                  "cannot set an ownerRef on a resource you can't delete: %s, "
                                  "<nil>" % reason)
    for ref in _new_blocking_refs(new, old):
        gv = ref.get("apiVersion", "")
        group, _, version = gv.rpartition("/")
        owner = api.registry.by_kind(group, version, ref.get("kind", ""))
        if owner is None:
            raise forbidden_error(rtype.group, rtype.resource, name,
                                  "cannot set blockOwnerDeletion in this case because cannot "
                                  "find RESTMapping for APIVersion %s Kind %s: , no matches for "
                                  'kind "%s" in version "%s"' % (gv, ref.get("kind", ""),
                                                                 ref.get("kind", ""), gv))
        a = Attributes(user, "update", group=group, version=version, resource=owner.resource,
                       subresource="finalizers", namespace=ns, name=ref.get("name", ""))
        ok, reason = auth.authorizer.authorize(a)
        if not ok:
            raise forbidden_error(rtype.group, rtype.resource, name,
                                  "cannot set blockOwnerDeletion if an ownerReference refers to "
                                  "a resource you can't set finalizers on: %s, <nil>" % reason)


# ---------------------------------------------------------------------------------------------
# escalation prevention (pkg/registry/rbac: ConfirmNoEscalation, Covers, CompactRules)
# ---------------------------------------------------------------------------------------------
def _breakdown(rule):
    out = []
    for g in rule.get("apiGroups") or []:
        for res in rule.get("resources") or []:
            for v in rule.get("verbs") or []:
                names = rule.get("resourceNames") or []
                for n in names or [None]:
                    r = {"apiGroups": [g], "resources": [res], "verbs": [v]}
                    if n is not None:
                        r["resourceNames"] = [n]
                    out.append(r)
    for u in rule.get("nonResourceURLs") or []:
        for v in rule.get("verbs") or []:
            out.append({"nonResourceURLs": [u], "verbs": [v]})
    return out


def _resources_cover(owner, wanted):
    if "*" in owner:
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _rule_covers(owner, simple):
    def covers(key):
        have = owner.get(key) or []
        return "*" in have or all(x in have for x in simple.get(key) or [])
    if not covers("verbs"):
        return False
    if simple.get("nonResourceURLs"):
        have = owner.get("nonResourceURLs") or []
        return all(any(h == "*" or h == u or (h.endswith("*") and u.startswith(h[:-1]))
                       for h in have) for u in simple["nonResourceURLs"])
    if owner.get("nonResourceURLs") and not owner.get("resources"):
        return False
    if not covers("apiGroups") or not _resources_cover(owner.get("resources") or [],
                                                       simple.get("resources") or []):
        return False
    names = owner.get("resourceNames") or []
    return not names or all(n in names for n in simple.get("resourceNames") or [])


def _go_q(lst):
    return "[" + " ".join(json.dumps(x) for x in lst) + "]"


def _compact_string(rule):
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                       ("nonResourceURLs", "NonResourceURLs"),
                       ("resourceNames", "ResourceNames"), ("verbs", "Verbs")):
        if rule.get(key):
            parts.append("%s:%s" % (label, _go_q(rule[key])))
    return "{" + ", ".join(parts) + "}"


def _compact(rules):
    """CompactRules: one-group one-resource rules without names merge their verbs."""
    out, index = [], {}
    for r in rules:
        simple = (len(r.get("apiGroups") or []) == 1 and len(r.get("resources") or []) == 1
                  and not r.get("resourceNames") and not r.get("nonResourceURLs"))
        if not simple:
            out.append(r)
            continue
        key = (r["apiGroups"][0], r["resources"][0])
        if key in index:
            index[key]["verbs"] += [v for v in r["verbs"] if v not in index[key]["verbs"]]
        else:
            index[key] = {"apiGroups": list(r["apiGroups"]), "resources": list(r["resources"]),
                          "verbs": list(r["verbs"])}
            out.append(index[key])
    return out


def confirm_no_escalation(api, user, rtype, r, obj, old=None):
    """Creating or updating a Role/ClusterRole needs the rules it grants (or `escalate`); a
    RoleBinding/ClusterRoleBinding needs its role's rules (or `bind` on the role). An update
    that keeps the rules / roleRef is not checked. Raises the real 403 (or 404 for a binding to
    a missing role)."""
    if user is None or rtype.group != RBAC_GROUP or MASTERS in user.groups:
        return
    if old is not None and old.get("rules") == obj.get("rules") and \
            old.get("roleRef") == obj.get("roleRef"):
        return
    auth = api.sim.auth
    ns = r.namespace or ""
    name = (obj.get("metadata") or {}).get("name", "")
    if rtype.resource in ("roles", "clusterroles"):
        esc = Attributes(user, "escalate", group=RBAC_GROUP, resource=rtype.resource,
                         namespace=ns, name=name)
        if auth.authorizer.authorize(esc)[0]:
            return
        wanted = obj.get("rules") or []
    elif rtype.resource in ("rolebindings", "clusterrolebindings"):
        ref = obj.get("roleRef") or {}
        role_res = "roles" if ref.get("kind") == "Role" else "clusterroles"
        bind = Attributes(user, "bind", group=RBAC_GROUP, resource=role_res, namespace=ns,
                          name=ref.get("name", ""))
        if auth.authorizer.authorize(bind)[0]:
            return
        if role_res == "roles":
            role = api.store.get(ROLE_GR, ns, ref.get("name", ""))
        else:
            role = api.store.get(CR_GR, "", ref.get("name", ""))
        if role is None:
            rt = api.registry.lookup(RBAC_GROUP, "v1", role_res)
            raise err_not_found(rt, ref.get("name", ""))
        wanted = role.get("rules") or []
    else:
        return
    owner_rules, nonres, errs = auth.authorizer.rules_for(user, ns)
    owner = owner_rules + nonres
    missing = [s for rule in wanted for s in _breakdown(rule)
               if not any(_rule_covers(o, s) for o in owner)]
    if not missing:
        return
    lines = sorted(set(_compact_string(m) for m in _compact(missing)))
    msg = "user %s (groups=%s) is attempting to grant RBAC permissions not currently held:\n%s" \
        % (json.dumps(user.name), _go_q(user.groups), "\n".join(lines))
    if errs:
        msg += "; resolution errors: [%s]" % ", ".join(errs)
    raise forbidden_error(RBAC_GROUP, rtype.resource, name, msg)
