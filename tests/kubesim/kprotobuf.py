"""Decoding of Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf) into the
JSON form the rest of kubesim works with (A1).

Why: kubectl 1.32's typed generators (`kubectl create deployment|job|configmap|secret|namespace|
service|ingress ...`) send their object as protobuf and accept JSON or protobuf back; a server
without protobuf makes them fail. kubesim answers in JSON (the client accepts it) and decodes
protobuf request bodies for the kinds those generators create.

Wire format: the 4-byte magic "k8s\\0", then a runtime.Unknown message {1: typeMeta {1: apiVersion,
2: kind}, 2: raw (the object's generated.proto message), 3: contentEncoding, 4: contentType}.
Messages are decoded with the field tables below (names and numbers of k8s.io/api's
generated.proto for the fields kubesim models). gogo-protobuf writes every non-pointer field,
so zero values ("" / 0 / false / empty list) of plain fields are dropped as Go's `omitempty`
would; pointer fields (P_*) keep their zero values. A field number not in the tables is NOT
skipped: ``ProtobufError`` is raised and the server answers 415, so nothing is silently lost.
"""

import base64
import datetime


class ProtobufError(ValueError):
    pass


# field types
S, I, B, BYTES = "string", "int", "bool", "bytes"
P_I, P_B, P_S = "ptrint", "ptrbool", "ptrstring"
MAP_S, MAP_BYTES, MAP_Q = "map_string", "map_bytes", "map_quantity"
TIME, IOS, Q, IGNORE = "time", "intorstring", "quantity", "ignore"

# message -> {field number: (json name, type or message name, repeated)}
M = {
    "TypeMeta": {1: ("apiVersion", S, False), 2: ("kind", S, False)},
    "ObjectMeta": {
        1: ("name", S, False), 2: ("generateName", S, False), 3: ("namespace", S, False),
        4: ("selfLink", S, False), 5: ("uid", S, False), 6: ("resourceVersion", S, False),
        7: ("generation", I, False), 8: ("creationTimestamp", TIME, False),
        9: ("deletionTimestamp", TIME, False), 10: ("deletionGracePeriodSeconds", P_I, False),
        11: ("labels", MAP_S, False), 12: ("annotations", MAP_S, False),
        13: ("ownerReferences", "OwnerReference", True), 14: ("finalizers", S, True),
    },
    "OwnerReference": {1: ("kind", S, False), 3: ("name", S, False), 4: ("uid", S, False),
                       5: ("apiVersion", S, False), 6: ("controller", P_B, False),
                       7: ("blockOwnerDeletion", P_B, False)},
    "LabelSelector": {1: ("matchLabels", MAP_S, False),
                      2: ("matchExpressions", "LabelSelectorRequirement", True)},
    "LabelSelectorRequirement": {1: ("key", S, False), 2: ("operator", S, False),
                                 3: ("values", S, True)},
    # apps/v1
    "Deployment": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "DeploymentSpec", False),
                   3: ("status", IGNORE, False)},
    "DeploymentSpec": {1: ("replicas", P_I, False), 2: ("selector", "LabelSelector", False),
                       3: ("template", "PodTemplateSpec", False),
                       4: ("strategy", "DeploymentStrategy", False),
                       5: ("minReadySeconds", I, False), 6: ("revisionHistoryLimit", P_I, False),
                       7: ("paused", B, False), 9: ("progressDeadlineSeconds", P_I, False)},
    "DeploymentStrategy": {1: ("type", S, False), 2: ("rollingUpdate", "RollingUpdateDeployment", False)},
    "RollingUpdateDeployment": {1: ("maxUnavailable", IOS, False), 2: ("maxSurge", IOS, False)},
    # batch/v1
    "Job": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "JobSpec", False),
            3: ("status", IGNORE, False)},
    "JobSpec": {1: ("parallelism", P_I, False), 2: ("completions", P_I, False),
                3: ("activeDeadlineSeconds", P_I, False), 4: ("selector", "LabelSelector", False),
                5: ("manualSelector", P_B, False), 6: ("template", "PodTemplateSpec", False),
                7: ("backoffLimit", P_I, False), 8: ("ttlSecondsAfterFinished", P_I, False),
                9: ("completionMode", P_S, False), 10: ("suspend", P_B, False),
                12: ("backoffLimitPerIndex", P_I, False), 13: ("maxFailedIndexes", P_I, False),
                14: ("podReplacementPolicy", P_S, False), 15: ("managedBy", P_S, False)},
    # core/v1
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "PodSpec": {
        1: ("volumes", "Volume", True), 2: ("containers", "Container", True),
        3: ("restartPolicy", S, False), 4: ("terminationGracePeriodSeconds", P_I, False),
        5: ("activeDeadlineSeconds", P_I, False), 6: ("dnsPolicy", S, False),
        7: ("nodeSelector", MAP_S, False), 8: ("serviceAccountName", S, False),
        9: ("serviceAccount", S, False), 10: ("nodeName", S, False), 11: ("hostNetwork", B, False),
        12: ("hostPID", B, False), 13: ("hostIPC", B, False),
        15: ("imagePullSecrets", "LocalObjectReference", True), 16: ("hostname", S, False),
        17: ("subdomain", S, False), 19: ("schedulerName", S, False),
        20: ("initContainers", "Container", True),
        21: ("automountServiceAccountToken", P_B, False), 24: ("priorityClassName", S, False),
        25: ("priority", P_I, False), 29: ("runtimeClassName", P_S, False),
        30: ("enableServiceLinks", P_B, False), 31: ("preemptionPolicy", P_S, False),
        35: ("setHostnameAsFQDN", P_B, False), 37: ("hostUsers", P_B, False),
    },
    "LocalObjectReference": {1: ("name", S, False)},
    "Volume": {1: ("name", S, False)},
    "Container": {
        1: ("name", S, False), 2: ("image", S, False), 3: ("command", S, True),
        4: ("args", S, True), 5: ("workingDir", S, False), 6: ("ports", "ContainerPort", True),
        7: ("env", "EnvVar", True), 8: ("resources", "ResourceRequirements", False),
        9: ("volumeMounts", "VolumeMount", True), 13: ("terminationMessagePath", S, False),
        14: ("imagePullPolicy", S, False), 16: ("stdin", B, False), 17: ("stdinOnce", B, False),
        18: ("tty", B, False), 20: ("terminationMessagePolicy", S, False),
        24: ("restartPolicy", P_S, False),
    },
    "ContainerPort": {1: ("name", S, False), 2: ("hostPort", I, False),
                      3: ("containerPort", I, False), 4: ("protocol", S, False),
                      5: ("hostIP", S, False)},
    "EnvVar": {1: ("name", S, False), 2: ("value", S, False)},
    "VolumeMount": {1: ("name", S, False), 2: ("readOnly", B, False), 3: ("mountPath", S, False),
                    4: ("subPath", S, False), 5: ("mountPropagation", P_S, False),
                    6: ("subPathExpr", S, False), 7: ("recursiveReadOnly", P_S, False)},
    "ResourceRequirements": {1: ("limits", MAP_Q, False), 2: ("requests", MAP_Q, False)},
    "ConfigMap": {1: ("metadata", "ObjectMeta", False), 2: ("data", MAP_S, False),
                  3: ("binaryData", MAP_BYTES, False), 4: ("immutable", P_B, False)},
    "Secret": {1: ("metadata", "ObjectMeta", False), 2: ("data", MAP_BYTES, False),
               3: ("type", S, False), 4: ("stringData", MAP_S, False),
               5: ("immutable", P_B, False)},
    "Pod": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False),
            3: ("status", IGNORE, False)},
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False),
                  3: ("status", IGNORE, False)},
    "NamespaceSpec": {1: ("finalizers", S, True)},
    "Service": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "ServiceSpec", False),
                3: ("status", IGNORE, False)},
    "ServiceSpec": {
        1: ("ports", "ServicePort", True), 2: ("selector", MAP_S, False), 3: ("clusterIP", S, False),
        4: ("type", S, False), 5: ("externalIPs", S, True), 7: ("sessionAffinity", S, False),
        8: ("loadBalancerIP", S, False), 9: ("loadBalancerSourceRanges", S, True),
        10: ("externalName", S, False), 11: ("externalTrafficPolicy", S, False),
        12: ("healthCheckNodePort", I, False), 13: ("publishNotReadyAddresses", B, False),
        18: ("clusterIPs", S, True), 19: ("ipFamilies", S, True),
        20: ("ipFamilyPolicy", P_S, False), 21: ("allocateLoadBalancerNodePorts", P_B, False),
        22: ("loadBalancerClass", P_S, False), 23: ("internalTrafficPolicy", P_S, False),
        24: ("trafficDistribution", P_S, False),
    },
    "ServicePort": {1: ("name", S, False), 2: ("protocol", S, False), 3: ("port", I, False),
                    4: ("targetPort", IOS, False), 5: ("nodePort", I, False),
                    6: ("appProtocol", P_S, False)},
    # networking.k8s.io/v1
    "Ingress": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "IngressSpec", False),
                3: ("status", IGNORE, False)},
    "IngressSpec": {1: ("defaultBackend", "IngressBackend", False), 2: ("tls", "IngressTLS", True),
                    3: ("rules", "IngressRule", True), 4: ("ingressClassName", P_S, False)},
    "IngressBackend": {4: ("service", "IngressServiceBackend", False)},
    "IngressServiceBackend": {1: ("name", S, False), 2: ("port", "ServiceBackendPort", False)},
    "ServiceBackendPort": {1: ("name", S, False), 2: ("number", I, False)},
    "IngressTLS": {1: ("hosts", S, True), 2: ("secretName", S, False)},
    "IngressRule": {1: ("host", S, False), 2: ("", "IngressRuleValue", False)},  # inline
    "IngressRuleValue": {1: ("http", "HTTPIngressRuleValue", False)},
    "HTTPIngressRuleValue": {1: ("paths", "HTTPIngressPath", True)},
    "HTTPIngressPath": {1: ("path", S, False), 2: ("backend", "IngressBackend", False),
                        3: ("pathType", P_S, False)},
    # coordination.k8s.io/v1
    "Lease": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "LeaseSpec", False)},
    "LeaseSpec": {1: ("holderIdentity", P_S, False), 2: ("leaseDurationSeconds", P_I, False),
                  3: ("acquireTime", TIME, False), 4: ("renewTime", TIME, False),
                  5: ("leaseTransitions", P_I, False), 6: ("strategy", P_S, False),
                  7: ("preferredHolder", P_S, False)},
    # rbac.authorization.k8s.io/v1
    "PolicyRule": {1: ("verbs", S, True), 2: ("apiGroups", S, True), 3: ("resources", S, True),
                   4: ("resourceNames", S, True), 5: ("nonResourceURLs", S, True)},
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True),
                    3: ("aggregationRule", "AggregationRule", False)},
    "AggregationRule": {1: ("clusterRoleSelectors", "LabelSelector", True)},
    "Subject": {1: ("kind", S, False), 2: ("apiGroup", S, False), 3: ("name", S, False),
                4: ("namespace", S, False)},
    "RoleRef": {1: ("apiGroup", S, False), 2: ("kind", S, False), 3: ("name", S, False)},
    "RoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "Subject", True),
                    3: ("roleRef", "RoleRef", False)},
    # core/v1 ServiceAccount
    "ServiceAccount": {1: ("metadata", "ObjectMeta", False),
                       2: ("secrets", "ObjectReference", True),
                       3: ("imagePullSecrets", "LocalObjectReference", True),
                       4: ("automountServiceAccountToken", P_B, False)},
    "ObjectReference": {1: ("kind", S, False), 2: ("namespace", S, False), 3: ("name", S, False),
                        4: ("uid", S, False), 5: ("apiVersion", S, False),
                        6: ("resourceVersion", S, False), 7: ("fieldPath", S, False)},
    # authentication.k8s.io/v1
    "TokenRequest": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenRequestSpec", False),
                     3: ("status", IGNORE, False)},
    "TokenRequestSpec": {1: ("audiences", S, True), 3: ("boundObjectRef", "BoundObjectReference", False),
                         4: ("expirationSeconds", P_I, False)},
    "BoundObjectReference": {1: ("kind", S, False), 2: ("apiVersion", S, False), 3: ("name", S, False),
                             4: ("uid", S, False)},
    "TokenReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenReviewSpec", False),
                    3: ("status", IGNORE, False)},
    "TokenReviewSpec": {1: ("token", S, False), 2: ("audiences", S, True)},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", False), 2: ("status", IGNORE, False)},
    # authorization.k8s.io/v1
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", False),
                                2: ("spec", "SelfSubjectAccessReviewSpec", False),
                                3: ("status", IGNORE, False)},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", False)},
    "ResourceAttributes": {1: ("namespace", S, False), 2: ("verb", S, False), 3: ("group", S, False),
                           4: ("version", S, False), 5: ("resource", S, False),
                           6: ("subresource", S, False), 7: ("name", S, False)},
    "NonResourceAttributes": {1: ("path", S, False), 2: ("verb", S, False)},
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta", False),
                            2: ("spec", "SubjectAccessReviewSpec", False),
                            3: ("status", IGNORE, False)},
    "SubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                2: ("nonResourceAttributes", "NonResourceAttributes", False),
                                3: ("user", S, False), 4: ("groups", S, True), 6: ("uid", S, False)},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", False),
                               2: ("spec", "SelfSubjectRulesReviewSpec", False),
                               3: ("status", IGNORE, False)},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", S, False)},
}

# kinds whose top-level message we can decode: (group, kind) -> message
TOP = {("rbac.authorization.k8s.io", "Role"): "Role",
       ("rbac.authorization.k8s.io", "ClusterRole"): "ClusterRole",
       ("rbac.authorization.k8s.io", "RoleBinding"): "RoleBinding",
       ("rbac.authorization.k8s.io", "ClusterRoleBinding"): "RoleBinding",
       ("", "ServiceAccount"): "ServiceAccount",
       ("authentication.k8s.io", "TokenRequest"): "TokenRequest",
       ("authentication.k8s.io", "TokenReview"): "TokenReview",
       ("authentication.k8s.io", "SelfSubjectReview"): "SelfSubjectReview",
       ("authorization.k8s.io", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
       ("authorization.k8s.io", "SubjectAccessReview"): "SubjectAccessReview",
       ("authorization.k8s.io", "LocalSubjectAccessReview"): "SubjectAccessReview",
       ("authorization.k8s.io", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
       ("apps", "Deployment"): "Deployment", ("batch", "Job"): "Job",
       ("", "Pod"): "Pod", ("", "ConfigMap"): "ConfigMap", ("", "Secret"): "Secret", ("", "Namespace"): "Namespace",
       ("", "Service"): "Service", ("networking.k8s.io", "Ingress"): "Ingress",
       ("coordination.k8s.io", "Lease"): "Lease"}


def _varint(b, i):
    r = 0
    shift = 0
    while True:
        if i >= len(b):
            raise ProtobufError("truncated varint")
        c = b[i]
        i += 1
        r |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return r, i


def _fields(b):
    """Yield (field number, wire type, value) of one message."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            if i + n > len(b):
                raise ProtobufError("truncated field %d" % f)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ProtobufError("unsupported wire type %d" % wt)
        yield f, wt, v


def _int(v):
    if v >= 1 << 63:
        v -= 1 << 64
    return v


def _map_entry(b, vtype):
    k, val = "", None
    for f, wt, v in _fields(b):
        if f == 1:
            k = v.decode()
        elif f == 2:
            if vtype == MAP_S:
                val = v.decode()
            elif vtype == MAP_BYTES:
                val = base64.b64encode(bytes(v)).decode()
            else:  # quantity message {1: string}
                for f2, _, v2 in _fields(v):
                    if f2 == 1:
                        val = v2.decode()
    if val is None:
        val = ""
    return k, val


def _time(b):
    secs = 0
    for f, wt, v in _fields(b):
        if f == 1:
            secs = _int(v)
    if secs == 0:
        return None
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ios(b):
    t, iv, sv = 0, 0, ""
    for f, wt, v in _fields(b):
        if f == 1:
            t = v
        elif f == 2:
            iv = _int(v)
            if iv >= 1 << 31:
                iv -= 1 << 32
        elif f == 3:
            sv = v.decode()
    return sv if t == 1 else iv


def decode_message(b, name, path=""):
    table = M[name]
    out = {}
    for f, wt, v in _fields(b):
        if f not in table:
            raise ProtobufError("kubesim cannot decode protobuf field %d of %s (at %s); send the "
                                "object as application/json" % (f, name, path or "."))
        key, typ, rep = table[f]
        fpath = (path + "." + key) if key else path
        if typ == IGNORE:
            out.setdefault(key, {})
            continue
        if typ in (MAP_S, MAP_BYTES, MAP_Q):
            k, val = _map_entry(v, typ)
            out.setdefault(key, {})[k] = val
            continue
        if typ in (S, P_S):
            val = bytes(v).decode()
        elif typ == BYTES:
            val = base64.b64encode(bytes(v)).decode()
        elif typ in (I, P_I):
            val = _int(v)
        elif typ in (B, P_B):
            val = bool(v)
        elif typ == TIME:
            val = _time(v)
        elif typ == IOS:
            val = _ios(v)
        elif typ == Q:
            val = decode_message(v, "Quantity", fpath)
        else:
            val = decode_message(v, typ, fpath)
            if key == "":
                out.update(val)  # inline (embedded) struct
                continue
        if rep:
            out.setdefault(key, []).append(val)
            continue
        if typ in (S, I, B, TIME) and val in ("", 0, False, None) and not isinstance(val, dict):
            continue  # zero value of a plain field: omitempty
        out[key] = val
    return out


def decode(body, group, kind):
    """Decode a protobuf request body for (group, kind); returns the JSON-form dict."""
    if body[:4] != b"k8s\x00":
        raise ProtobufError("protobuf body without the k8s magic prefix")
    tm, raw = {}, b""
    for f, wt, v in _fields(body[4:]):
        if f == 1:
            tm = decode_message(v, "TypeMeta")
        elif f == 2:
            raw = bytes(v)
    msg = TOP.get((group, kind))
    if msg is None:
        raise ProtobufError("kubesim cannot decode protobuf bodies for %s; send "
                            "application/json" % kind)
    obj = decode_message(raw, msg)
    out = {"apiVersion": tm.get("apiVersion", ""), "kind": tm.get("kind", "")}
    out.update(obj)
    return out
