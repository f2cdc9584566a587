"""OpenAPI v3 schemas of the built-in kinds kubesim serves (Kubernetes 1.32 shapes).

One source of truth for three things: strategic-merge-patch metadata
(x-kubernetes-patch-merge-key / x-kubernetes-patch-strategy exactly as the real
Kubernetes OpenAPI carries them, i.e. as the Go struct tags say), validation of built-in
objects (types, the `required` lists of the real OpenAPI), and the OpenAPI v3 documents
served to kubectl (short descriptions for `kubectl explain`).

Interface:
    SCHEMAS: dict[(group, version, kind), schema]   group "" = core; whole-object schemas with
             apiVersion/kind/metadata/spec/status and x-kubernetes-group-version-kind.
             Also ("meta.k8s.io", "v1", "ObjectMeta") and ("meta.k8s.io", "v1", "ListMeta").
    schema_for(group, version, kind) -> schema | None (a deep copy)

Schemas are inline (no $ref) and built by the functions below so that ObjectMeta,
PodTemplateSpec, Container, LabelSelector and Condition are defined once.
Quantity and IntOrString are x-kubernetes-int-or-string (the Go types accept both JSON
forms); Time/MicroTime are strings with format date-time.
`required` lists are those of the real OpenAPI (Container requires only `name`; that a pod
template's containers need an `image` is a Go validation rule of the apiserver, A2 applies
it, not the schema).

GAPS (parts not modelled field by field; marked x-kubernetes-preserve-unknown-fields so that
they are kept as sent and never pruned, and so are NOT checked for unknown fields, types or
strategic-merge metadata inside -- none of them has a patch merge key in the real API unless
noted):
- PodSpec: affinity, securityContext, dnsConfig, os, overhead, readinessGates items,
  resourceClaims items (list itself: merge key name, modelled), ephemeralContainers items
  (list: merge key name, modelled), schedulingGates items (list modelled).
- Container: lifecycle, securityContext, resizePolicy items.
- Volume sources other than configMap, secret, emptyDir, hostPath, persistentVolumeClaim
  (projected, downwardAPI, csi, ephemeral, nfs, ... are listed as preserve-unknown objects).
- Job: podFailurePolicy, successPolicy, uncountedTerminatedPods.
- HPA v2: metrics / currentMetrics entries, behavior.
- Ingress: status.loadBalancer; Service: status.loadBalancer, sessionAffinityConfig.
- Event (core/v1, events.k8s.io/v1): series.
- CRD: versions[].schema.openAPIV3Schema (a JSONSchemaProps: validated by schema.check_structural
  instead), conversion.webhook, subresources.scale fields beyond the three paths.
- ObjectMeta.managedFields entries.
"""

import copy

__all__ = ["SCHEMAS", "schema_for"]


# --------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------
def _s(desc, **kw):
    d = {"type": "string", "description": desc}
    d.update(kw)
    return d


def _i32(desc, **kw):
    d = {"type": "integer", "format": "int32", "description": desc}
    d.update(kw)
    return d


def _i64(desc, **kw):
    d = {"type": "integer", "format": "int64", "description": desc}
    d.update(kw)
    return d


def _b(desc):
    return {"type": "boolean", "description": desc}


def _time(desc):
    return {"type": "string", "format": "date-time", "description": desc}


def _ios(desc):
    return {"x-kubernetes-int-or-string": True, "description": desc}


_quantity = _ios


def _strmap(desc):
    return {"type": "object", "additionalProperties": {"type": "string", "default": ""},
            "description": desc}


def _obj(desc, props, required=None, **kw):
    d = {"type": "object", "description": desc, "properties": props}
    if required:
        d["required"] = list(required)
    d.update(kw)
    return d


def _free(desc):
    """An object kubesim does not model field by field (kept as sent, never pruned)."""
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "description": desc}


def _arr(desc, items, merge_key=None, strategy=None, **kw):
    d = {"type": "array", "description": desc, "items": items}
    if strategy:
        d["x-kubernetes-patch-strategy"] = strategy
    if merge_key:
        d["x-kubernetes-patch-merge-key"] = merge_key
    d.update(kw)
    return d


def _strlist(desc, **kw):
    return _arr(desc, {"type": "string", "default": ""}, **kw)


def _field(schema, desc):
    """The schema of a field: the type's schema with the field's own description (what
    `kubectl explain` lists for the field)."""
    d = dict(schema)
    d["description"] = desc
    return d


def _with_gvk(schema, group, version, kind):
    schema = dict(schema)
    schema["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
    return schema


API_VERSION = _s("APIVersion defines the versioned schema of this representation of an object. Servers should "
                 "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
                 "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
                 "api-conventions.md#resources")
KIND = _s("Kind is a string value representing the REST resource this object represents. Servers may infer "
          "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
          "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")


# --------------------------------------------------------------------------
# meta/v1
# --------------------------------------------------------------------------
def owner_reference():
    return _obj("OwnerReference contains enough information to let you identify an owning object.", {
        "apiVersion": _s("API version of the referent."),
        "kind": _s("Kind of the referent."),
        "name": _s("Name of the referent."),
        "uid": _s("UID of the referent."),
        "controller": _b("If true, this reference points to the managing controller."),
        "blockOwnerDeletion": _b("If true, AND if the owner has the \"foregroundDeletion\" finalizer, "
                                 "then the owner cannot be deleted from the key-value store until this "
                                 "reference is removed."),
    }, required=["apiVersion", "kind", "name", "uid"], **{"x-kubernetes-map-type": "atomic"})


def object_meta():
    return _obj("ObjectMeta is metadata that all persisted resources must have, which includes all "
                "objects users must create.", {
                    "name": _s("Name must be unique within a namespace."),
                    "generateName": _s("GenerateName is an optional prefix, used by the server, to "
                                       "generate a unique name ONLY IF the Name field has not been provided."),
                    "namespace": _s("Namespace defines the space within which each name must be unique."),
                    "selfLink": _s("Deprecated: selfLink is a legacy read-only field that is no longer "
                                   "populated by the system."),
                    "uid": _s("UID is the unique in time and space value for this object."),
                    "resourceVersion": _s("An opaque value that represents the internal version of this "
                                          "object."),
                    "generation": _i64("A sequence number representing a specific generation of the "
                                       "desired state."),
                    "creationTimestamp": _time("CreationTimestamp is a timestamp representing the server "
                                               "time when this object was created."),
                    "deletionTimestamp": _time("DeletionTimestamp is RFC 3339 date and time at which this "
                                               "resource will be deleted."),
                    "deletionGracePeriodSeconds": _i64("Number of seconds allowed for this object to "
                                                       "gracefully terminate before it will be removed "
                                                       "from the system."),
                    "labels": _strmap("Map of string keys and values that can be used to organize and "
                                      "categorize (scope and select) objects."),
                    "annotations": _strmap("Annotations is an unstructured key value map stored with a "
                                           "resource that may be set by external tools."),
                    "ownerReferences": _arr("List of objects depended by this object.", owner_reference(),
                                            merge_key="uid", strategy="merge",
                                            **{"x-kubernetes-list-map-keys": ["uid"],
                                               "x-kubernetes-list-type": "map"}),
                    "finalizers": _strlist("Must be empty before the object is deleted from the registry.",
                                           strategy="merge", **{"x-kubernetes-list-type": "set"}),
                    "managedFields": _arr("ManagedFields maps workflow-id and version to the set of "
                                          "fields that are managed by that workflow.",
                                          _free("ManagedFieldsEntry is a workflow-id, a FieldSet and the "
                                                "group version of the resource that the fieldset applies to.")),
                })


def list_meta():
    return _obj("ListMeta describes metadata that synthetic resources must have.", {
        "continue": _s("continue may be set if the user set a limit on the number of items returned."),
        "remainingItemCount": _i64("remainingItemCount is the number of subsequent items in the list."),
        "resourceVersion": _s("String that identifies the server's internal version of this object."),
        "selfLink": _s("Deprecated: selfLink is a legacy read-only field."),
    })


def label_selector():
    return _obj("A label selector is a label query over a set of resources.", {
        "matchLabels": _strmap("matchLabels is a map of {key,value} pairs."),
        "matchExpressions": _arr(
            "matchExpressions is a list of label selector requirements. The requirements are ANDed.",
            _obj("A label selector requirement is a selector that contains values, a key, and an "
                 "operator that relates the key and values.", {
                     "key": _s("key is the label key that the selector applies to."),
                     "operator": _s("operator represents a key's relationship to a set of values. Valid "
                                    "operators are In, NotIn, Exists and DoesNotExist."),
                     "values": _strlist("values is an array of string values.",
                                        **{"x-kubernetes-list-type": "atomic"}),
                 }, required=["key", "operator"]), **{"x-kubernetes-list-type": "atomic"}),
    }, **{"x-kubernetes-map-type": "atomic"})


def meta_condition():
    return _obj("Condition contains details for one aspect of the current state of this API Resource.", {
        "type": _s("type of condition in CamelCase or in foo.example.com/CamelCase."),
        "status": _s("status of the condition, one of True, False, Unknown."),
        "observedGeneration": _i64("observedGeneration represents the .metadata.generation that the "
                                   "condition was set based upon."),
        "lastTransitionTime": _time("lastTransitionTime is the last time the condition transitioned "
                                    "from one status to another."),
        "reason": _s("reason contains a programmatic identifier indicating the reason for the "
                     "condition's last transition."),
        "message": _s("message is a human readable message indicating details about the transition."),
    }, required=["type", "status", "lastTransitionTime", "reason", "message"])


def typed_condition(what, extra_times=("lastTransitionTime",)):
    props = {
        "type": _s("Type of %s condition." % what),
        "status": _s("Status of the condition, one of True, False, Unknown."),
        "reason": _s("The reason for the condition's last transition."),
        "message": _s("A human readable message indicating details about the transition."),
    }
    for t in extra_times:
        props[t] = _time({"lastTransitionTime": "Last time the condition transitioned from one status to another.",
                          "lastUpdateTime": "The last time this condition was updated.",
                          "lastProbeTime": "Last time the condition was checked.",
                          "lastHeartbeatTime": "Last time the condition was probed."}[t])
    return _obj("%s condition describes the state of a %s at a certain point." % (what, what.lower()),
                props, required=["type", "status"])


def conditions_list(desc, item):
    return _arr(desc, item, merge_key="type", strategy="merge",
                **{"x-kubernetes-list-map-keys": ["type"], "x-kubernetes-list-type": "map"})


def object_reference():
    return _obj("ObjectReference contains enough information to let you inspect or modify the "
                "referred object.", {
                    "kind": _s("Kind of the referent."),
                    "namespace": _s("Namespace of the referent."),
                    "name": _s("Name of the referent."),
                    "uid": _s("UID of the referent."),
                    "apiVersion": _s("API version of the referent."),
                    "resourceVersion": _s("Specific resourceVersion to which this reference is made, if any."),
                    "fieldPath": _s("If referring to a piece of an object instead of an entire object, "
                                    "this string should contain a valid JSON/Go field access statement."),
                }, **{"x-kubernetes-map-type": "atomic"})


def local_object_reference(desc="LocalObjectReference contains enough information to let you locate "
                                "the referenced object inside the same namespace."):
    return _obj(desc, {"name": _s("Name of the referent.")},
                **{"x-kubernetes-map-type": "atomic"})


# --------------------------------------------------------------------------
# core/v1 pod template
# --------------------------------------------------------------------------
def key_selector(what):
    return _obj("Selects a key from a %s." % what, {
        "key": _s("The key to select."),
        "name": _s("Name of the referent."),
        "optional": _b("Specify whether the %s or its key must be defined" % what),
    }, required=["key"], **{"x-kubernetes-map-type": "atomic"})


def env_var():
    return _obj("EnvVar represents an environment variable present in a Container.", {
        "name": _s("Name of the environment variable. Must be a C_IDENTIFIER."),
        "value": _s("Variable references $(VAR_NAME) are expanded using the previously defined "
                    "environment variables in the container and any service environment variables."),
        "valueFrom": _obj("Source for the environment variable's value. Cannot be used if value is "
                          "not empty.", {
                              "fieldRef": _obj("Selects a field of the pod.", {
                                  "apiVersion": _s("Version of the schema the FieldPath is written in terms of."),
                                  "fieldPath": _s("Path of the field to select in the specified API version."),
                              }, required=["fieldPath"], **{"x-kubernetes-map-type": "atomic"}),
                              "resourceFieldRef": _obj("Selects a resource of the container.", {
                                  "containerName": _s("Container name: required for volumes, optional for env vars"),
                                  "resource": _s("Required: resource to select"),
                                  "divisor": _quantity("Specifies the output format of the exposed resources."),
                              }, required=["resource"], **{"x-kubernetes-map-type": "atomic"}),
                              "configMapKeyRef": key_selector("ConfigMap"),
                              "secretKeyRef": key_selector("Secret"),
                          }),
    }, required=["name"])


def env_from_source():
    ref = lambda what: _obj("The %s to select from" % what, {
        "name": _s("Name of the referent."),
        "optional": _b("Specify whether the %s must be defined" % what),
    }, **{"x-kubernetes-map-type": "atomic"})
    return _obj("EnvFromSource represents the source of a set of ConfigMaps or Secrets", {
        "prefix": _s("Optional text to prepend to the name of each environment variable."),
        "configMapRef": ref("ConfigMap"),
        "secretRef": ref("Secret"),
    })


def container_port():
    return _obj("ContainerPort represents a network port in a single container.", {
        "name": _s("If specified, this must be an IANA_SVC_NAME and unique within the pod."),
        "hostPort": _i32("Number of port to expose on the host."),
        "containerPort": _i32("Number of port to expose on the pod's IP address."),
        "protocol": _s("Protocol for port. Must be UDP, TCP, or SCTP. Defaults to \"TCP\".", default="TCP"),
        "hostIP": _s("What host IP to bind the external port to."),
    }, required=["containerPort"])


def probe():
    port = _ios("Number or name of the port to access on the container.")
    return _obj("Probe describes a health check to be performed against a container to determine "
                "whether it is alive or ready to receive traffic.", {
                    "exec": _obj("Exec specifies a command to execute in the container.", {
                        "command": _strlist("Command is the command line to execute inside the container.",
                                            **{"x-kubernetes-list-type": "atomic"}),
                    }),
                    "httpGet": _obj("HTTPGet specifies an HTTP GET request to perform.", {
                        "path": _s("Path to access on the HTTP server."),
                        "port": port,
                        "host": _s("Host name to connect to, defaults to the pod IP."),
                        "scheme": _s("Scheme to use for connecting to the host. Defaults to HTTP."),
                        "httpHeaders": _arr("Custom headers to set in the request.", _obj(
                            "HTTPHeader describes a custom header to be used in HTTP probes", {
                                "name": _s("The header field name."),
                                "value": _s("The header field value"),
                            }, required=["name", "value"]), **{"x-kubernetes-list-type": "atomic"}),
                    }, required=["port"]),
                    "tcpSocket": _obj("TCPSocket specifies a connection to a TCP port.", {
                        "port": port,
                        "host": _s("Optional: Host name to connect to, defaults to the pod IP."),
                    }, required=["port"]),
                    "grpc": _obj("GRPC specifies a GRPC HealthCheckRequest.", {
                        "port": _i32("Port number of the gRPC service. Number must be in the range 1 to 65535."),
                        "service": _s("Service is the name of the service to place in the gRPC HealthCheckRequest."),
                    }, required=["port"]),
                    "initialDelaySeconds": _i32("Number of seconds after the container has started before "
                                                "liveness probes are initiated."),
                    "timeoutSeconds": _i32("Number of seconds after which the probe times out. Defaults to "
                                           "1 second."),
                    "periodSeconds": _i32("How often (in seconds) to perform the probe. Default to 10 seconds."),
                    "successThreshold": _i32("Minimum consecutive successes for the probe to be considered "
                                             "successful after having failed."),
                    "failureThreshold": _i32("Minimum consecutive failures for the probe to be considered "
                                             "failed after having succeeded."),
                    "terminationGracePeriodSeconds": _i64("Optional duration in seconds the pod needs to "
                                                          "terminate gracefully upon probe failure."),
                })


def resource_requirements():
    return _obj("ResourceRequirements describes the compute resource requirements.", {
        "limits": {"type": "object", "additionalProperties": _quantity("Quantity"),
                   "description": "Limits describes the maximum amount of compute resources allowed."},
        "requests": {"type": "object", "additionalProperties": _quantity("Quantity"),
                     "description": "Requests describes the minimum amount of compute resources required."},
        "claims": _arr("Claims lists the names of resources, defined in spec.resourceClaims, that are "
                       "used by this container.", _obj("ResourceClaim references one entry in "
                                                       "PodSpec.ResourceClaims.", {
                                                           "name": _s("Name must match the name of one entry "
                                                                      "in pod.spec.resourceClaims."),
                                                           "request": _s("Request is the name chosen for a "
                                                                         "request in the referenced claim."),
                                                       }, required=["name"]),
                       **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
    })


def volume_mount():
    return _obj("VolumeMount describes a mounting of a Volume within a container.", {
        "name": _s("This must match the Name of a Volume."),
        "readOnly": _b("Mounted read-only if true, read-write otherwise (false or unspecified)."),
        "recursiveReadOnly": _s("RecursiveReadOnly specifies whether read-only mounts should be handled "
                                "recursively."),
        "mountPath": _s("Path within the container at which the volume should be mounted."),
        "subPath": _s("Path within the volume from which the container's volume should be mounted."),
        "mountPropagation": _s("mountPropagation determines how mounts are propagated from the host to "
                               "container and the other way around."),
        "subPathExpr": _s("Expanded path within the volume from which the container's volume should be "
                          "mounted."),
    }, required=["name", "mountPath"])


def container(desc="A single application container that you want to run within a pod."):
    return _obj(desc, {
        "name": _s("Name of the container specified as a DNS_LABEL."),
        "image": _s("Container image name."),
        "command": _strlist("Entrypoint array. Not executed within a shell.",
                            **{"x-kubernetes-list-type": "atomic"}),
        "args": _strlist("Arguments to the entrypoint.", **{"x-kubernetes-list-type": "atomic"}),
        "workingDir": _s("Container's working directory."),
        "ports": _arr("List of ports to expose from the container.", container_port(),
                      merge_key="containerPort", strategy="merge",
                      **{"x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                         "x-kubernetes-list-type": "map"}),
        "envFrom": _arr("List of sources to populate environment variables in the container.",
                        env_from_source(), **{"x-kubernetes-list-type": "atomic"}),
        "env": _arr("List of environment variables to set in the container.", env_var(),
                    merge_key="name", strategy="merge",
                    **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
        "resources": _field(resource_requirements(), "Compute Resources required by this container. Cannot "
                                                     "be updated."),
        "resizePolicy": _arr("Resources resize policy for the container.",
                             _free("ContainerResizePolicy represents resource resize policy for the container."),
                             **{"x-kubernetes-list-type": "atomic"}),
        "restartPolicy": _s("RestartPolicy defines the restart behavior of individual containers in a pod."),
        "volumeMounts": _arr("Pod volumes to mount into the container's filesystem.", volume_mount(),
                             merge_key="mountPath", strategy="merge",
                             **{"x-kubernetes-list-map-keys": ["mountPath"], "x-kubernetes-list-type": "map"}),
        "volumeDevices": _arr("volumeDevices is the list of block devices to be used by the container.",
                              _obj("volumeDevice describes a mapping of a raw block device within a container.", {
                                  "name": _s("name must match the name of a persistentVolumeClaim in the pod"),
                                  "devicePath": _s("devicePath is the path inside of the container that the "
                                                   "device will be mapped to."),
                              }, required=["name", "devicePath"]),
                              merge_key="devicePath", strategy="merge",
                              **{"x-kubernetes-list-map-keys": ["devicePath"], "x-kubernetes-list-type": "map"}),
        "livenessProbe": _field(probe(), "Periodic probe of container liveness. Container will be restarted "
                                         "if the probe fails. Cannot be updated."),
        "readinessProbe": _field(probe(), "Periodic probe of container service readiness. Container will be "
                                          "removed from service endpoints if the probe fails. Cannot be updated."),
        "startupProbe": _field(probe(), "StartupProbe indicates that the Pod has successfully initialized. "
                                        "If specified, no other probes are executed until this completes "
                                        "successfully."),
        "lifecycle": _free("Actions that the management system should take in response to container "
                           "lifecycle events."),
        "terminationMessagePath": _s("Path at which the file to which the container's termination message "
                                     "will be written is mounted into the container's filesystem."),
        "terminationMessagePolicy": _s("Indicate how the termination message should be populated."),
        "imagePullPolicy": _s("Image pull policy. One of Always, Never, IfNotPresent."),
        "securityContext": _free("SecurityContext defines the security options the container should be "
                                 "run with."),
        "stdin": _b("Whether this container should allocate a buffer for stdin in the container runtime."),
        "stdinOnce": _b("Whether the container runtime should close the stdin channel after it has been "
                        "opened by a single attach."),
        "tty": _b("Whether this container should allocate a TTY for itself, also requires 'stdin' to be true."),
    }, required=["name"])


def key_to_path():
    return _arr("items: if unspecified, each key-value pair in the Data field of the referenced object "
                "will be projected into the volume as a file whose name is the key and content is the value.",
                _obj("Maps a string key to a path within a volume.", {
                    "key": _s("key is the key to project."),
                    "path": _s("path is the relative path of the file to map the key to."),
                    "mode": _i32("mode is Optional: mode bits used to set permissions on this file."),
                }, required=["key", "path"]), **{"x-kubernetes-list-type": "atomic"})


_OTHER_VOLUME_SOURCES = [
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "downwardAPI",
    "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "image",
    "iscsi", "nfs", "photonPersistentDisk", "portworxVolume", "projected", "quobyte", "rbd",
    "scaleIO", "storageos", "vsphereVolume"]


def volume():
    props = {
        "name": _s("name of the volume. Must be a DNS_LABEL and unique within the pod."),
        "configMap": _obj("configMap represents a configMap that should populate this volume", {
            "name": _s("Name of the referent."),
            "items": key_to_path(),
            "defaultMode": _i32("defaultMode is optional: mode bits used to set permissions on created "
                                "files by default."),
            "optional": _b("optional specify whether the ConfigMap or its keys must be defined"),
        }),
        "secret": _obj("secret represents a secret that should populate this volume.", {
            "secretName": _s("secretName is the name of the secret in the pod's namespace to use."),
            "items": key_to_path(),
            "defaultMode": _i32("defaultMode is Optional: mode bits used to set permissions on created "
                                "files by default."),
            "optional": _b("optional field specify whether the Secret or its keys must be defined"),
        }),
        "emptyDir": _obj("emptyDir represents a temporary directory that shares a pod's lifetime.", {
            "medium": _s("medium represents what type of storage medium should back this directory."),
            "sizeLimit": _quantity("sizeLimit is the total amount of local storage required for this "
                                   "EmptyDir volume."),
        }),
        "hostPath": _obj("hostPath represents a pre-existing file or directory on the host machine.", {
            "path": _s("path of the directory on the host."),
            "type": _s("type for HostPath Volume. Defaults to \"\"."),
        }, required=["path"]),
        "persistentVolumeClaim": _obj("persistentVolumeClaimVolumeSource represents a reference to a "
                                      "PersistentVolumeClaim in the same namespace.", {
                                          "claimName": _s("claimName is the name of a PersistentVolumeClaim "
                                                          "in the same namespace as the pod using this volume."),
                                          "readOnly": _b("readOnly Will force the ReadOnly setting in "
                                                         "VolumeMounts. Default false."),
                                      }, required=["claimName"]),
    }
    for name in _OTHER_VOLUME_SOURCES:
        props[name] = _free("%s volume source (not modelled by kubesim)." % name)
    return _obj("Volume represents a named volume in a pod that may be accessed by any container in "
                "the pod.", props, required=["name"])


def pod_spec():
    return _obj("PodSpec is a description of a pod.", {
        "volumes": _arr("List of volumes that can be mounted by containers belonging to the pod.", volume(),
                        merge_key="name", strategy="merge,retainKeys",
                        **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
        "initContainers": _arr("List of initialization containers belonging to the pod.", container(),
                               merge_key="name", strategy="merge",
                               **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
        "containers": _arr("List of containers belonging to the pod.", container(),
                           merge_key="name", strategy="merge",
                           **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
        "ephemeralContainers": _arr("List of ephemeral containers run in this pod.",
                                    _free("An EphemeralContainer is a temporary container."),
                                    merge_key="name", strategy="merge",
                                    **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
        "restartPolicy": _s("Restart policy for all containers within the pod. One of Always, OnFailure, "
                            "Never."),
        "terminationGracePeriodSeconds": _i64("Optional duration in seconds the pod needs to terminate "
                                              "gracefully."),
        "activeDeadlineSeconds": _i64("Optional duration in seconds the pod may be active on the node "
                                      "relative to StartTime."),
        "dnsPolicy": _s("Set DNS policy for the pod. Defaults to \"ClusterFirst\"."),
        "nodeSelector": _strmap("NodeSelector is a selector which must be true for the pod to fit on a "
                                "node.") | {"x-kubernetes-map-type": "atomic"},
        "serviceAccountName": _s("ServiceAccountName is the name of the ServiceAccount to use to run "
                                 "this pod."),
        "serviceAccount": _s("DeprecatedServiceAccount is a deprecated alias for ServiceAccountName."),
        "automountServiceAccountToken": _b("AutomountServiceAccountToken indicates whether a service "
                                           "account token should be automatically mounted."),
        "nodeName": _s("NodeName indicates in which node this pod is scheduled."),
        "hostNetwork": _b("Host networking requested for this pod."),
        "hostPID": _b("Use the host's pid namespace."),
        "hostIPC": _b("Use the host's ipc namespace."),
        "shareProcessNamespace": _b("Share a single process namespace between all of the containers in "
                                    "a pod."),
        "securityContext": _free("SecurityContext holds pod-level security attributes and common "
                                 "container settings."),
        "imagePullSecrets": _arr("ImagePullSecrets is an optional list of references to secrets in the "
                                 "same namespace to use for pulling any of the images used by this PodSpec.",
                                 local_object_reference(), merge_key="name", strategy="merge",
                                 **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
        "hostname": _s("Specifies the hostname of the Pod."),
        "subdomain": _s("If specified, the fully qualified Pod hostname will be "
                        "\"<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>\"."),
        "affinity": _free("If specified, the pod's scheduling constraints"),
        "schedulerName": _s("If specified, the pod will be dispatched by specified scheduler."),
        "tolerations": _arr("If specified, the pod's tolerations.",
                            _obj("The pod this Toleration is attached to tolerates any taint that matches "
                                 "the triple <key,value,effect> using the matching operator <operator>.", {
                                     "key": _s("Key is the taint key that the toleration applies to."),
                                     "operator": _s("Operator represents a key's relationship to the value. "
                                                    "Valid operators are Exists and Equal."),
                                     "value": _s("Value is the taint value the toleration matches to."),
                                     "effect": _s("Effect indicates the taint effect to match."),
                                     "tolerationSeconds": _i64("TolerationSeconds represents the period of "
                                                               "time the toleration tolerates the taint."),
                                 }), **{"x-kubernetes-list-type": "atomic"}),
        "hostAliases": _arr("HostAliases is an optional list of hosts and IPs that will be injected into "
                            "the pod's hosts file if specified.",
                            _obj("HostAlias holds the mapping between IP and hostnames.", {
                                "ip": _s("IP address of the host file entry."),
                                "hostnames": _strlist("Hostnames for the above IP address.",
                                                      **{"x-kubernetes-list-type": "atomic"}),
                            }, required=["ip"]), merge_key="ip", strategy="merge",
                            **{"x-kubernetes-list-map-keys": ["ip"], "x-kubernetes-list-type": "map"}),
        "priorityClassName": _s("If specified, indicates the pod's priority."),
        "priority": _i32("The priority value."),
        "dnsConfig": _free("Specifies the DNS parameters of a pod."),
        "readinessGates": _arr("If specified, all readiness gates will be evaluated for pod readiness.",
                               _free("PodReadinessGate contains the reference to a pod condition"),
                               **{"x-kubernetes-list-type": "atomic"}),
        "runtimeClassName": _s("RuntimeClassName refers to a RuntimeClass object in the node.k8s.io group."),
        "enableServiceLinks": _b("EnableServiceLinks indicates whether information about services should "
                                 "be injected into pod's environment variables."),
        "preemptionPolicy": _s("PreemptionPolicy is the Policy for preempting pods with lower priority."),
        "overhead": {"type": "object", "additionalProperties": _quantity("Quantity"),
                     "description": "Overhead represents the resource overhead associated with running a "
                                    "pod for a given RuntimeClass."},
        "topologySpreadConstraints": _arr(
            "TopologySpreadConstraints describes how a group of pods ought to spread across topology domains.",
            _obj("TopologySpreadConstraint specifies how to spread matching pods among the given topology.", {
                "maxSkew": _i32("MaxSkew describes the degree to which pods may be unevenly distributed."),
                "topologyKey": _s("TopologyKey is the key of node labels."),
                "whenUnsatisfiable": _s("WhenUnsatisfiable indicates how to deal with a pod if it doesn't "
                                        "satisfy the spread constraint."),
                "labelSelector": label_selector(),
                "minDomains": _i32("MinDomains indicates a minimum number of eligible domains."),
                "nodeAffinityPolicy": _s("NodeAffinityPolicy indicates how we will treat Pod's "
                                         "nodeAffinity/nodeSelector when calculating pod topology spread skew."),
                "nodeTaintsPolicy": _s("NodeTaintsPolicy indicates how we will treat node taints when "
                                       "calculating pod topology spread skew."),
                "matchLabelKeys": _strlist("MatchLabelKeys is a set of pod label keys to select the pods "
                                           "over which spreading will be calculated.",
                                           **{"x-kubernetes-list-type": "atomic"}),
            }, required=["maxSkew", "topologyKey", "whenUnsatisfiable"]),
            merge_key="topologyKey", strategy="merge",
            **{"x-kubernetes-list-map-keys": ["topologyKey", "whenUnsatisfiable"],
               "x-kubernetes-list-type": "map"}),
        "setHostnameAsFQDN": _b("If true the pod's hostname will be configured as the pod's FQDN."),
        "os": _free("Specifies the OS of the containers in the pod."),
        "hostUsers": _b("Use the host's user namespace."),
        "schedulingGates": _arr("SchedulingGates is an opaque list of values that if specified will block "
                                "scheduling the pod.",
                                _obj("PodSchedulingGate is associated to a Pod to guard its scheduling.", {
                                    "name": _s("Name of the scheduling gate."),
                                }, required=["name"]), merge_key="name", strategy="merge",
                                **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
        "resourceClaims": _arr("ResourceClaims defines which ResourceClaims must be allocated and reserved "
                               "before the Pod is allowed to start.",
                               _free("PodResourceClaim references exactly one ResourceClaim."),
                               merge_key="name", strategy="merge,retainKeys",
                               **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
        "resources": resource_requirements(),
    }, required=["containers"])


def pod_template_spec():
    return _obj("PodTemplateSpec describes the data a pod should have when created from a template", {
        "metadata": _field(object_meta(), "Standard object's metadata."),
        "spec": _field(pod_spec(), "Specification of the desired behavior of the pod."),
    })


def pod_status():
    return _obj("PodStatus represents information about the status of a pod.", {
        "phase": _s("The phase of a Pod is a simple, high-level summary of where the Pod is in its lifecycle."),
        "conditions": conditions_list("Current service state of pod.",
                                      typed_condition("Pod", ("lastProbeTime", "lastTransitionTime"))),
        "message": _s("A human readable message indicating details about why the pod is in this condition."),
        "reason": _s("A brief CamelCase message indicating details about why the pod is in this state."),
        "nominatedNodeName": _s("nominatedNodeName is set only when this pod preempts other pods on the node."),
        "hostIP": _s("hostIP holds the IP address of the host to which the pod is assigned."),
        "hostIPs": _arr("hostIPs holds the IP addresses allocated to the host.",
                        _obj("HostIP represents a single IP address allocated to the host.",
                             {"ip": _s("IP is the IP address assigned to the host")}, required=["ip"]),
                        merge_key="ip", strategy="merge", **{"x-kubernetes-list-type": "atomic"}),
        "podIP": _s("podIP address allocated to the pod."),
        "podIPs": _arr("podIPs holds the IP addresses allocated to the pod.",
                       _obj("PodIP represents a single IP address allocated to the pod.",
                            {"ip": _s("IP is the IP address assigned to the pod")}, required=["ip"]),
                       merge_key="ip", strategy="merge",
                       **{"x-kubernetes-list-map-keys": ["ip"], "x-kubernetes-list-type": "map"}),
        "startTime": _time("RFC 3339 date and time at which the object was acknowledged by the Kubelet."),
        "initContainerStatuses": _arr("Statuses of init containers in this pod.",
                                      _free("ContainerStatus contains details for the current status of "
                                            "this container."), **{"x-kubernetes-list-type": "atomic"}),
        "containerStatuses": _arr("Statuses of containers in this pod.",
                                  _free("ContainerStatus contains details for the current status of this "
                                        "container."), **{"x-kubernetes-list-type": "atomic"}),
        "qosClass": _s("The Quality of Service (QOS) classification assigned to the pod based on resource "
                       "requirements."),
        "ephemeralContainerStatuses": _arr("Statuses for any ephemeral containers that have run in this pod.",
                                           _free("ContainerStatus"), **{"x-kubernetes-list-type": "atomic"}),
        "resize": _s("Status of resources resize desired for pod's containers."),
        "resourceClaimStatuses": _arr("Status of resource claims.", _free("PodResourceClaimStatus"),
                                      merge_key="name", strategy="merge,retainKeys",
                                      **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
    })


# --------------------------------------------------------------------------
# kinds
# --------------------------------------------------------------------------
_PART_DESCRIPTIONS = {
    ("Namespace", "spec"): "Spec defines the behavior of the Namespace.",
    ("Namespace", "status"): "Status describes the current status of a Namespace.",
    ("Service", "spec"): "Spec defines the behavior of a service.",
    ("Service", "status"): "Most recently observed status of the service. Populated by the system. Read-only.",
    ("Pod", "spec"): "Specification of the desired behavior of the pod.",
    ("Pod", "status"): "Most recently observed status of the pod. This data may not be up to date.",
    ("Deployment", "spec"): "Specification of the desired behavior of the Deployment.",
    ("Deployment", "status"): "Most recently observed status of the Deployment.",
    ("Job", "spec"): "Specification of the desired behavior of a job.",
    ("Job", "status"): "Current status of a job.",
    ("HorizontalPodAutoscaler", "spec"): "spec is the specification for the behaviour of the autoscaler.",
    ("HorizontalPodAutoscaler", "status"): "status is the current information about the autoscaler.",
    ("Ingress", "spec"): "spec is the desired state of the Ingress.",
    ("Ingress", "status"): "status is the current state of the Ingress.",
    ("Lease", "spec"): "spec contains the specification of the Lease.",
    ("CustomResourceDefinition", "spec"): "spec describes how the user wants the resources to appear",
    ("CustomResourceDefinition", "status"): "status indicates the actual state of the CustomResourceDefinition",
}


def _kind(group, version, kind, desc, props, required=None):
    p = {"apiVersion": API_VERSION, "kind": KIND,
         "metadata": _field(object_meta(), "Standard object's metadata. More info: https://git.k8s.io/"
                                           "community/contributors/devel/sig-architecture/api-conventions.md"
                                           "#metadata")}
    p.update(props)
    for part in ("spec", "status"):
        part_desc = _PART_DESCRIPTIONS.get((kind, part))
        if part_desc and part in p:
            p[part] = _field(p[part], part_desc)
    s = _obj(desc, p, required=required)
    return _with_gvk(s, group, version, kind)


def namespace():
    return _kind("", "v1", "Namespace", "Namespace provides a scope for Names. Use of multiple namespaces "
                 "is optional.", {
                     "spec": _obj("NamespaceSpec describes the attributes on a Namespace.", {
                         "finalizers": _strlist("Finalizers is an opaque list of values that must be empty "
                                                "to permanently remove object from storage.",
                                                **{"x-kubernetes-list-type": "atomic"}),
                     }),
                     "status": _obj("NamespaceStatus is information about the current status of a Namespace.", {
                         "phase": _s("Phase is the current lifecycle phase of the namespace."),
                         "conditions": conditions_list("Represents the latest available observations of a "
                                                       "namespace's current state.",
                                                       typed_condition("Namespace")),
                     }),
                 })


def config_map():
    return _kind("", "v1", "ConfigMap", "ConfigMap holds configuration data for pods to consume.", {
        "data": _strmap("Data contains the configuration data."),
        "binaryData": {"type": "object", "additionalProperties": {"type": "string", "format": "byte"},
                       "description": "BinaryData contains the binary data."},
        "immutable": _b("Immutable, if set to true, ensures that data stored in the ConfigMap cannot be "
                        "updated (only object metadata can be modified)."),
    })


def secret():
    return _kind("", "v1", "Secret", "Secret holds secret data of a certain type. The total bytes of the "
                 "values in the Data field must be less than MaxSecretSize bytes.", {
                     "data": {"type": "object", "additionalProperties": {"type": "string", "format": "byte"},
                              "description": "Data contains the secret data. Each key must consist of "
                                             "alphanumeric characters, '-', '_' or '.'. The serialized form "
                                             "of the secret data is a base64 encoded string."},
                     "stringData": _strmap("stringData allows specifying non-binary secret data in string "
                                           "form. It is provided as a write-only input field for convenience."),
                     "type": _s("Used to facilitate programmatic handling of secret data."),
                     "immutable": _b("Immutable, if set to true, ensures that data stored in the Secret "
                                     "cannot be updated (only object metadata can be modified)."),
                 })


def service():
    return _kind("", "v1", "Service", "Service is a named abstraction of software service (for example, "
                 "mysql) consisting of local port (for example 3306) that the proxy listens on, and the "
                 "selector that determines which pods will answer requests sent through the proxy.", {
                     "spec": _obj("ServiceSpec describes the attributes that a user creates on a service.", {
                         "ports": _arr("The list of ports that are exposed by this service.",
                                       _obj("ServicePort contains information on service's port.", {
                                           "name": _s("The name of this port within the service."),
                                           "protocol": _s("The IP protocol for this port. Supports \"TCP\", "
                                                          "\"UDP\", and \"SCTP\". Default is TCP.",
                                                          default="TCP"),
                                           "appProtocol": _s("The application protocol for this port."),
                                           "port": _i32("The port that will be exposed by this service."),
                                           "targetPort": _ios("Number or name of the port to access on the "
                                                              "pods targeted by the service."),
                                           "nodePort": _i32("The port on each node on which this service is "
                                                            "exposed when type is NodePort or LoadBalancer."),
                                       }, required=["port"]),
                                       merge_key="port", strategy="merge",
                                       **{"x-kubernetes-list-map-keys": ["port", "protocol"],
                                          "x-kubernetes-list-type": "map"}),
                         "selector": _strmap("Route service traffic to pods with label keys and values "
                                             "matching this selector.") | {"x-kubernetes-map-type": "atomic"},
                         "clusterIP": _s("clusterIP is the IP address of the service and is usually "
                                         "assigned randomly."),
                         "clusterIPs": _strlist("ClusterIPs is a list of IP addresses assigned to this "
                                                "service.", **{"x-kubernetes-list-type": "atomic"}),
                         "type": _s("type determines how the Service is exposed. Defaults to ClusterIP."),
                         "externalIPs": _strlist("externalIPs is a list of IP addresses for which nodes in "
                                                 "the cluster will also accept traffic for this service.",
                                                 **{"x-kubernetes-list-type": "atomic"}),
                         "sessionAffinity": _s("Supports \"ClientIP\" and \"None\"."),
                         "loadBalancerIP": _s("Only applies to Service Type: LoadBalancer. Deprecated."),
                         "loadBalancerSourceRanges": _strlist("If specified and supported by the platform, "
                                                              "this will restrict traffic through the "
                                                              "cloud-provider load-balancer.",
                                                              **{"x-kubernetes-list-type": "atomic"}),
                         "externalName": _s("externalName is the external reference that discovery "
                                            "mechanisms will return as an alias for this service."),
                         "externalTrafficPolicy": _s("externalTrafficPolicy describes how nodes distribute "
                                                     "service traffic they receive."),
                         "healthCheckNodePort": _i32("healthCheckNodePort specifies the healthcheck nodePort "
                                                     "for the service."),
                         "publishNotReadyAddresses": _b("publishNotReadyAddresses indicates that any agent "
                                                        "which deals with endpoints for this Service should "
                                                        "disregard any indications of ready/not-ready."),
                         "sessionAffinityConfig": _free("sessionAffinityConfig contains the configurations "
                                                        "of session affinity."),
                         "ipFamilies": _strlist("IPFamilies is a list of IP families assigned to this service.",
                                                **{"x-kubernetes-list-type": "atomic"}),
                         "ipFamilyPolicy": _s("IPFamilyPolicy represents the dual-stack-ness requested or "
                                              "required by this Service."),
                         "allocateLoadBalancerNodePorts": _b("allocateLoadBalancerNodePorts defines if "
                                                             "NodePorts will be automatically allocated."),
                         "loadBalancerClass": _s("loadBalancerClass is the class of the load balancer "
                                                 "implementation this Service belongs to."),
                         "internalTrafficPolicy": _s("InternalTrafficPolicy describes how nodes distribute "
                                                     "service traffic they receive on the ClusterIP."),
                         "trafficDistribution": _s("TrafficDistribution offers a way to express preferences "
                                                   "for how traffic is distributed to Service endpoints."),
                     }),
                     "status": _obj("ServiceStatus represents the current status of a service.", {
                         "loadBalancer": _free("LoadBalancer contains the current status of the load-balancer, "
                                               "if one is present."),
                         "conditions": conditions_list("Current service state", meta_condition()),
                     }),
                 })


def pod():
    return _kind("", "v1", "Pod", "Pod is a collection of containers that can run on a host.", {
        "spec": pod_spec(),
        "status": pod_status(),
    })


def core_event():
    return _kind("", "v1", "Event", "Event is a report of an event somewhere in the cluster.", {
        "involvedObject": _field(object_reference(), "The object that this event is about."),
        "reason": _s("This should be a short, machine understandable string that gives the reason for the "
                     "transition into the object's current status."),
        "message": _s("A human-readable description of the status of this operation."),
        "source": _obj("EventSource contains information for an event.", {
            "component": _s("Component from which the event is generated."),
            "host": _s("Node name on which the event is generated."),
        }),
        "firstTimestamp": _time("The time at which the event was first recorded."),
        "lastTimestamp": _time("The time at which the most recent occurrence of this event was recorded."),
        "count": _i32("The number of times this event has occurred."),
        "type": _s("Type of this event (Normal, Warning), new types could be added in the future"),
        "eventTime": _time("Time when this Event was first observed."),
        "series": _free("Data about the Event series this event represents or nil if it's a singleton Event."),
        "action": _s("What action was taken/failed regarding to the Regarding object."),
        "related": _field(object_reference(), "Optional secondary object for more complex actions."),
        "reportingComponent": _s("Name of the controller that emitted this Event.", default=""),
        "reportingInstance": _s("ID of the controller instance.", default=""),
    }, required=["metadata", "involvedObject"])


def events_event():
    return _kind("events.k8s.io", "v1", "Event", "Event is a report of an event somewhere in the cluster.", {
        "eventTime": _time("eventTime is the time when this Event was first observed. It is required."),
        "series": _free("series is data about the Event series this event represents or nil if it's a "
                        "singleton Event."),
        "reportingController": _s("reportingController is the name of the controller that emitted this Event."),
        "reportingInstance": _s("reportingInstance is the ID of the controller instance."),
        "action": _s("action is what action was taken/failed regarding to the regarding object."),
        "reason": _s("reason is why the action was taken."),
        "regarding": _field(object_reference(), "regarding contains the object this Event is about."),
        "related": _field(object_reference(), "Optional secondary object for more complex actions."),
        "note": _s("note is a human-readable description of the status of this operation."),
        "type": _s("type is the type of this event (Normal, Warning), new types could be added in the future."),
        "deprecatedSource": _obj("deprecatedSource is the deprecated field assuring backward compatibility "
                                 "with core.v1 Event type.", {
                                     "component": _s("Component from which the event is generated."),
                                     "host": _s("Node name on which the event is generated."),
                                 }),
        "deprecatedFirstTimestamp": _time("deprecatedFirstTimestamp is the deprecated field assuring backward "
                                          "compatibility with core.v1 Event type."),
        "deprecatedLastTimestamp": _time("deprecatedLastTimestamp is the deprecated field assuring backward "
                                         "compatibility with core.v1 Event type."),
        "deprecatedCount": _i32("deprecatedCount is the deprecated field assuring backward compatibility "
                                "with core.v1 Event type."),
    }, required=["eventTime"])


def deployment():
    return _kind("apps", "v1", "Deployment", "Deployment enables declarative updates for Pods and "
                 "ReplicaSets.", {
                     "spec": _obj("DeploymentSpec is the specification of the desired behavior of the "
                                  "Deployment.", {
                                      "replicas": _i32("Number of desired pods. Defaults to 1."),
                                      "selector": _field(label_selector(), "Label selector for pods. Existing "
                                                         "ReplicaSets whose pods are selected by this will be the "
                                                         "ones affected by this deployment. It must match the pod "
                                                         "template's labels."),
                                      "template": _field(pod_template_spec(), "Template describes the pods that "
                                                         "will be created. The only allowed "
                                                         "template.spec.restartPolicy value is \"Always\"."),
                                      "strategy": _obj("The deployment strategy to use to replace existing "
                                                       "pods with new ones.", {
                                                           "type": _s("Type of deployment. Can be \"Recreate\" "
                                                                      "or \"RollingUpdate\". Default is "
                                                                      "RollingUpdate."),
                                                           "rollingUpdate": _obj(
                                                               "Rolling update config params. Present only if "
                                                               "DeploymentStrategyType = RollingUpdate.", {
                                                                   "maxUnavailable": _ios(
                                                                       "The maximum number of pods that can be "
                                                                       "unavailable during the update."),
                                                                   "maxSurge": _ios(
                                                                       "The maximum number of pods that can be "
                                                                       "scheduled above the desired number of pods."),
                                                               }),
                                                       }, **{"x-kubernetes-patch-strategy": "retainKeys"}),
                                      "minReadySeconds": _i32("Minimum number of seconds for which a newly "
                                                              "created pod should be ready without any of its "
                                                              "container crashing, for it to be considered "
                                                              "available."),
                                      "revisionHistoryLimit": _i32("The number of old ReplicaSets to retain "
                                                                   "to allow rollback."),
                                      "paused": _b("Indicates that the deployment is paused."),
                                      "progressDeadlineSeconds": _i32("The maximum time in seconds for a "
                                                                      "deployment to make progress before it is "
                                                                      "considered to be failed."),
                                  }, required=["selector", "template"]),
                     "status": _obj("DeploymentStatus is the most recently observed status of the Deployment.", {
                         "observedGeneration": _i64("The generation observed by the deployment controller."),
                         "replicas": _i32("Total number of non-terminating pods targeted by this deployment "
                                          "(their labels match the selector)."),
                         "updatedReplicas": _i32("Total number of non-terminating pods targeted by this "
                                                 "deployment that have the desired template spec."),
                         "readyReplicas": _i32("Total number of non-terminating pods targeted by this "
                                               "Deployment with a Ready Condition."),
                         "availableReplicas": _i32("Total number of available non-terminating pods (ready "
                                                   "for at least minReadySeconds) targeted by this deployment."),
                         "unavailableReplicas": _i32("Total number of unavailable pods targeted by this "
                                                     "deployment."),
                         "terminatingReplicas": _i32("Total number of terminating pods targeted by this "
                                                     "deployment."),
                         "conditions": conditions_list("Represents the latest available observations of a "
                                                       "deployment's current state.",
                                                       typed_condition("Deployment",
                                                                       ("lastUpdateTime", "lastTransitionTime"))),
                         "collisionCount": _i32("Count of hash collisions for the Deployment."),
                     }),
                 })


def job():
    return _kind("batch", "v1", "Job", "Job represents the configuration of a single job.", {
        "spec": _obj("JobSpec describes how the job execution will look like.", {
            "parallelism": _i32("Specifies the maximum desired number of pods the job should run at any "
                                "given time."),
            "completions": _i32("Specifies the desired number of successfully finished pods the job should "
                                "be run with."),
            "activeDeadlineSeconds": _i64("Specifies the duration in seconds relative to the startTime that "
                                          "the job may be continuously active before the system tries to "
                                          "terminate it."),
            "podFailurePolicy": _free("Specifies the policy of handling failed pods."),
            "successPolicy": _free("successPolicy specifies the policy when the Job can be declared as "
                                   "succeeded."),
            "backoffLimit": _i32("Specifies the number of retries before marking this job failed. "
                                 "Defaults to 6"),
            "backoffLimitPerIndex": _i32("Specifies the limit for the number of retries within an index "
                                         "before marking this index as failed."),
            "maxFailedIndexes": _i32("Specifies the maximal number of failed indexes before marking the "
                                     "Job as failed."),
            "selector": _field(label_selector(), "A label query over pods that should match the pod count."),
            "manualSelector": _b("manualSelector controls generation of pod labels and pod selectors."),
            "template": _field(pod_template_spec(), "Describes the pod that will be created when executing a job."),
            "ttlSecondsAfterFinished": _i32("ttlSecondsAfterFinished limits the lifetime of a Job that has "
                                            "finished execution."),
            "completionMode": _s("completionMode specifies how Pod completions are tracked. It can be "
                                 "`NonIndexed` (default) or `Indexed`."),
            "suspend": _b("suspend specifies whether the Job controller should create Pods or not."),
            "podReplacementPolicy": _s("podReplacementPolicy specifies when to create replacement Pods."),
            "managedBy": _s("ManagedBy field indicates the controller that manages a Job."),
        }, required=["template"]),
        "status": _obj("JobStatus represents the current state of a Job.", {
            "conditions": _arr("The latest available observations of an object's current state.",
                               typed_condition("Job", ("lastProbeTime", "lastTransitionTime")),
                               merge_key="type", strategy="merge", **{"x-kubernetes-list-type": "atomic"}),
            "startTime": _time("Represents time when the job controller started processing a job."),
            "completionTime": _time("Represents time when the job was completed."),
            "active": _i32("The number of pending and running pods which are not terminating."),
            "succeeded": _i32("The number of pods which reached phase Succeeded."),
            "failed": _i32("The number of pods which reached phase Failed."),
            "terminating": _i32("The number of pods which are terminating."),
            "completedIndexes": _s("completedIndexes holds the completed indexes when "
                                   ".spec.completionMode = \"Indexed\" in a text format."),
            "failedIndexes": _s("FailedIndexes holds the failed indexes when spec.backoffLimitPerIndex is set."),
            "uncountedTerminatedPods": _free("uncountedTerminatedPods holds the UIDs of Pods that have "
                                             "terminated but the job controller hasn't yet accounted for in "
                                             "the status counters."),
            "ready": _i32("The number of active pods which have a Ready condition and are not terminating."),
        }),
    })


def hpa():
    target_ref = _obj("CrossVersionObjectReference contains enough information to let you identify the "
                      "referred resource.", {
                          "kind": _s("kind is the kind of the referent."),
                          "name": _s("name is the name of the referent."),
                          "apiVersion": _s("apiVersion is the API version of the referent"),
                      }, required=["kind", "name"])
    return _kind("autoscaling", "v2", "HorizontalPodAutoscaler", "HorizontalPodAutoscaler is the "
                 "configuration for a horizontal pod autoscaler, which automatically manages the replica "
                 "count of any resource implementing the scale subresource based on the metrics specified.", {
                     "spec": _obj("HorizontalPodAutoscalerSpec describes the desired functionality of the "
                                  "HorizontalPodAutoscaler.", {
                                      "scaleTargetRef": target_ref,
                                      "minReplicas": _i32("minReplicas is the lower limit for the number of "
                                                          "replicas to which the autoscaler can scale down."),
                                      "maxReplicas": _i32("maxReplicas is the upper limit for the number of "
                                                          "replicas to which the autoscaler can scale up."),
                                      "metrics": _arr("metrics contains the specifications for which to use to "
                                                      "calculate the desired replica count.",
                                                      _free("MetricSpec specifies how to scale based on a "
                                                            "single metric."),
                                                      **{"x-kubernetes-list-type": "atomic"}),
                                      "behavior": _free("behavior configures the scaling behavior of the target "
                                                        "in both Up and Down directions."),
                                  }, required=["scaleTargetRef", "maxReplicas"]),
                     "status": _obj("HorizontalPodAutoscalerStatus describes the current status of a "
                                    "horizontal pod autoscaler.", {
                                        "observedGeneration": _i64("observedGeneration is the most recent "
                                                                   "generation observed by this autoscaler."),
                                        "lastScaleTime": _time("lastScaleTime is the last time the "
                                                               "HorizontalPodAutoscaler scaled the number of pods."),
                                        "currentReplicas": _i32("currentReplicas is current number of replicas "
                                                                "of pods managed by this autoscaler."),
                                        "desiredReplicas": _i32("desiredReplicas is the desired number of "
                                                                "replicas of pods managed by this autoscaler."),
                                        "currentMetrics": _arr("currentMetrics is the last read state of the "
                                                               "metrics used by this autoscaler.",
                                                               _free("MetricStatus describes the last-read state "
                                                                     "of a single metric."),
                                                               **{"x-kubernetes-list-type": "atomic"}),
                                        "conditions": conditions_list(
                                            "conditions is the set of conditions required for this autoscaler "
                                            "to scale its target.", typed_condition("HorizontalPodAutoscaler")),
                                    }, required=["desiredReplicas"]),
                 })


def ingress():
    backend = _obj("IngressBackend describes all endpoints for a given service and port.", {
        "service": _obj("service references a service as a backend.", {
            "name": _s("name is the referenced service. The service must exist in the same namespace as the "
                       "Ingress object."),
            "port": _obj("port of the referenced service.", {
                "name": _s("name is the name of the port on the Service."),
                "number": _i32("number is the numerical port number (e.g. 80) on the Service."),
            }),
        }, required=["name"]),
        "resource": _obj("resource is an ObjectRef to another Kubernetes resource in the namespace of the "
                         "Ingress object.", {
                             "apiGroup": _s("APIGroup is the group for the resource being referenced."),
                             "kind": _s("Kind is the type of resource being referenced"),
                             "name": _s("Name is the name of resource being referenced"),
                         }, required=["kind", "name"], **{"x-kubernetes-map-type": "atomic"}),
    })
    return _kind("networking.k8s.io", "v1", "Ingress", "Ingress is a collection of rules that allow inbound "
                 "connections to reach the endpoints defined by a backend.", {
                     "spec": _obj("IngressSpec describes the Ingress the user wishes to exist.", {
                         "ingressClassName": _s("ingressClassName is the name of an IngressClass cluster resource."),
                         "defaultBackend": backend,
                         "tls": _arr("tls represents the TLS configuration.",
                                     _obj("IngressTLS describes the transport layer security associated with "
                                          "an ingress.", {
                                              "hosts": _strlist("hosts is a list of hosts included in the TLS "
                                                                "certificate.", **{"x-kubernetes-list-type": "atomic"}),
                                              "secretName": _s("secretName is the name of the secret used to "
                                                               "terminate TLS traffic on port 443."),
                                          }), **{"x-kubernetes-list-type": "atomic"}),
                         "rules": _arr("rules is a list of host rules used to configure the Ingress.",
                                       _obj("IngressRule represents the rules mapping the paths under a "
                                            "specified host to the related backend services.", {
                                                "host": _s("host is the fully qualified domain name of a network "
                                                           "host, as defined by RFC 3986."),
                                                "http": _obj("HTTPIngressRuleValue is a list of http selectors "
                                                             "pointing to backends.", {
                                                                 "paths": _arr("paths is a collection of paths "
                                                                               "that map requests to backends.",
                                                                               _obj("HTTPIngressPath associates a "
                                                                                    "path with a backend.", {
                                                                                        "path": _s("path is matched "
                                                                                                   "against the path "
                                                                                                   "of an incoming "
                                                                                                   "request."),
                                                                                        "pathType": _s("pathType "
                                                                                                       "determines the "
                                                                                                       "interpretation "
                                                                                                       "of the path "
                                                                                                       "matching."),
                                                                                        "backend": backend,
                                                                                    }, required=["pathType",
                                                                                                 "backend"]),
                                                                               **{"x-kubernetes-list-type": "atomic"}),
                                                             }, required=["paths"]),
                                            }), **{"x-kubernetes-list-type": "atomic"}),
                     }),
                     "status": _obj("IngressStatus describe the current state of the Ingress.", {
                         "loadBalancer": _free("loadBalancer contains the current status of the load-balancer."),
                     }),
                 })


def lease():
    return _kind("coordination.k8s.io", "v1", "Lease", "Lease defines a lease concept.", {
        "spec": _obj("LeaseSpec is a specification of a Lease.", {
            "holderIdentity": _s("holderIdentity contains the identity of the holder of a current lease."),
            "leaseDurationSeconds": _i32("leaseDurationSeconds is a duration that candidates for a lease need "
                                         "to wait to force acquire it."),
            "acquireTime": _time("acquireTime is a time when the current lease was acquired."),
            "renewTime": _time("renewTime is a time when the current holder of a lease has last updated the "
                               "lease."),
            "leaseTransitions": _i32("leaseTransitions is the number of transitions of a lease between holders."),
            "strategy": _s("Strategy indicates the strategy for picking the leader for coordinated leader "
                           "election."),
            "preferredHolder": _s("PreferredHolder signals to a lease holder that the lease has a more optimal "
                                  "holder and should be given up."),
        }),
    })


def crd():
    names = _obj("CustomResourceDefinitionNames indicates the names to serve this "
                 "CustomResourceDefinition", {
                     "plural": _s("plural is the plural name of the resource to serve."),
                     "singular": _s("singular is the singular name of the resource. Defaults to the "
                                    "lowercased `kind`."),
                     "shortNames": _strlist("shortNames are short names for the resource, exposed in API "
                                            "discovery documents.", **{"x-kubernetes-list-type": "atomic"}),
                     "kind": _s("kind is the serialized kind of the resource. It is normally CamelCase and "
                                "singular."),
                     "listKind": _s("listKind is the serialized kind of the list for this resource. Defaults "
                                    "to \"`kind`List\"."),
                     "categories": _strlist("categories is a list of grouped resources this custom resource "
                                            "belongs to (e.g. 'all').", **{"x-kubernetes-list-type": "atomic"}),
                 }, required=["plural", "kind"])
    column = _obj("CustomResourceColumnDefinition specifies a column for server side printing.", {
        "name": _s("name is a human readable name for the column."),
        "type": _s("type is an OpenAPI type definition for this column."),
        "format": _s("format is an optional OpenAPI type definition for this column."),
        "description": _s("description is a human readable description of this column."),
        "priority": _i32("priority is an integer defining the relative importance of this column compared "
                         "to others."),
        "jsonPath": _s("jsonPath is a simple JSON path (i.e. with array notation) which is evaluated against "
                       "each custom resource to produce the value for this column."),
    }, required=["name", "type", "jsonPath"])
    version = _obj("CustomResourceDefinitionVersion describes a version for CRD.", {
        "name": _s("name is the version name, e.g. \"v1\", \"v2beta1\", etc."),
        "served": _b("served is a flag enabling/disabling this version from being served via REST APIs"),
        "storage": _b("storage indicates this version should be used when persisting custom resources to "
                      "storage."),
        "deprecated": _b("deprecated indicates this version of the custom resource API is deprecated."),
        "deprecationWarning": _s("deprecationWarning overrides the default warning returned to API clients."),
        "schema": _obj("schema describes the schema used for validation, pruning, and defaulting of this "
                       "version of the custom resource.", {
                           "openAPIV3Schema": _free("openAPIV3Schema is the OpenAPI v3 schema to use for "
                                                    "validation and pruning."),
                       }),
        "subresources": _obj("subresources specify what subresources this version of the defined custom "
                             "resource have.", {
                                 "status": _free("status indicates the custom resource should serve a "
                                                 "`/status` subresource."),
                                 "scale": _obj("scale indicates the custom resource should serve a `/scale` "
                                               "subresource that returns an `autoscaling/v1` Scale object.", {
                                                   "specReplicasPath": _s("specReplicasPath defines the JSON path "
                                                                          "inside of a custom resource that "
                                                                          "corresponds to Scale `spec.replicas`."),
                                                   "statusReplicasPath": _s("statusReplicasPath defines the JSON "
                                                                            "path inside of a custom resource "
                                                                            "that corresponds to Scale "
                                                                            "`status.replicas`."),
                                                   "labelSelectorPath": _s("labelSelectorPath defines the JSON "
                                                                           "path inside of a custom resource "
                                                                           "that corresponds to Scale "
                                                                           "`status.selector`."),
                                               }, required=["specReplicasPath", "statusReplicasPath"]),
                             }),
        "additionalPrinterColumns": _arr("additionalPrinterColumns specifies additional columns returned in "
                                         "Table output.", column, **{"x-kubernetes-list-type": "atomic"}),
        "selectableFields": _arr("selectableFields specifies paths to fields that may be used as field "
                                 "selectors.", _obj("SelectableField specifies the JSON path of a field that "
                                                    "may be used with field selectors.", {
                                                        "jsonPath": _s("jsonPath is a simple JSON path which is "
                                                                       "evaluated against each custom resource to "
                                                                       "produce a field selector value."),
                                                    }, required=["jsonPath"]),
                                 **{"x-kubernetes-list-type": "atomic"}),
    }, required=["name", "served", "storage"])
    return _kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "CustomResourceDefinition "
                 "represents a resource that should be exposed on the API server.  Its name MUST be in the "
                 "format <.spec.name>.<.spec.group>.", {
                     "spec": _obj("CustomResourceDefinitionSpec describes how a user wants their resource to "
                                  "appear", {
                                      "group": _s("group is the API group of the defined custom resource."),
                                      "names": names,
                                      "scope": _s("scope indicates whether the defined custom resource is "
                                                  "cluster- or namespace-scoped. Allowed values are `Cluster` "
                                                  "and `Namespaced`."),
                                      "versions": _arr("versions is the list of all API versions of the defined "
                                                       "custom resource.", version,
                                                       **{"x-kubernetes-list-type": "atomic"}),
                                      "conversion": _obj("conversion defines conversion settings for the CRD.", {
                                          "strategy": _s("strategy specifies how custom resources are converted "
                                                         "between versions. Allowed values are: - `\"None\"` - "
                                                         "`\"Webhook\"`."),
                                          "webhook": _free("webhook describes how to call the conversion "
                                                           "webhook."),
                                      }, required=["strategy"]),
                                      "preserveUnknownFields": _b("preserveUnknownFields indicates that object "
                                                                  "fields which are not specified in the OpenAPI "
                                                                  "schema should be preserved when persisting to "
                                                                  "storage."),
                                  }, required=["group", "names", "scope", "versions"]),
                     "status": _obj("CustomResourceDefinitionStatus indicates the state of the "
                                    "CustomResourceDefinition", {
                                        "conditions": _arr("conditions indicate state for particular aspects of "
                                                           "a CustomResourceDefinition",
                                                           typed_condition("CustomResourceDefinition"),
                                                           **{"x-kubernetes-list-map-keys": ["type"],
                                                              "x-kubernetes-list-type": "map"}),
                                        "acceptedNames": names,
                                        "storedVersions": _strlist("storedVersions lists all versions of "
                                                                   "CustomResources that were ever persisted.",
                                                                   **{"x-kubernetes-list-type": "atomic"}),
                                    }),
                 }, required=["spec"])


def _policy_rule():
    return _obj("PolicyRule holds information that describes a policy rule, but does not contain "
                "information about who the rule applies to or which namespace the rule applies to.", {
                    "verbs": _strlist("Verbs is a list of Verbs that apply to ALL the ResourceKinds contained "
                                      "in this rule. '*' represents all verbs.",
                                      **{"x-kubernetes-list-type": "atomic"}),
                    "apiGroups": _strlist("APIGroups is the name of the APIGroup that contains the resources.",
                                          **{"x-kubernetes-list-type": "atomic"}),
                    "resources": _strlist("Resources is a list of resources this rule applies to. '*' "
                                          "represents all resources.", **{"x-kubernetes-list-type": "atomic"}),
                    "resourceNames": _strlist("ResourceNames is an optional white list of names that the rule "
                                              "applies to.  An empty set means that everything is allowed.",
                                              **{"x-kubernetes-list-type": "atomic"}),
                    "nonResourceURLs": _strlist("NonResourceURLs is a set of partial urls that a user should "
                                                "have access to.  *s are allowed, but only as the full, final "
                                                "step in the path.", **{"x-kubernetes-list-type": "atomic"}),
                }, required=["verbs"])


def _rules(desc):
    return _arr(desc, _policy_rule(), **{"x-kubernetes-list-type": "atomic"})


def role():
    return _kind("rbac.authorization.k8s.io", "v1", "Role", "Role is a namespaced, logical grouping of "
                 "PolicyRules that can be referenced as a unit by a RoleBinding.", {
                     "rules": _rules("Rules holds all the PolicyRules for this Role"),
                 })


def cluster_role():
    return _kind("rbac.authorization.k8s.io", "v1", "ClusterRole", "ClusterRole is a cluster level, logical "
                 "grouping of PolicyRules that can be referenced as a unit by a RoleBinding or "
                 "ClusterRoleBinding.", {
                     "rules": _rules("Rules holds all the PolicyRules for this ClusterRole"),
                     "aggregationRule": _free("AggregationRule is an optional field that describes how to "
                                              "build the Rules for this ClusterRole (not served by kubesim: "
                                              "refused)."),
                 })


def _binding(kind, desc):
    subject = _obj("Subject contains a reference to the object or user identities a role binding applies "
                   "to.", {
                       "kind": _s("Kind of object being referenced. Values defined by this API group are "
                                  "\"User\", \"Group\", and \"ServiceAccount\"."),
                       "apiGroup": _s("APIGroup holds the API group of the referenced subject."),
                       "name": _s("Name of the object being referenced."),
                       "namespace": _s("Namespace of the referenced object."),
                   }, required=["kind", "name"], **{"x-kubernetes-map-type": "atomic"})
    role_ref = _obj("RoleRef contains information that points to the role being used", {
        "apiGroup": _s("APIGroup is the group for the resource being referenced"),
        "kind": _s("Kind is the type of resource being referenced"),
        "name": _s("Name is the name of resource being referenced"),
    }, required=["apiGroup", "kind", "name"], **{"x-kubernetes-map-type": "atomic"})
    return _kind("rbac.authorization.k8s.io", "v1", kind, desc, {
        "subjects": _arr("Subjects holds references to the objects the role applies to.", subject,
                         **{"x-kubernetes-list-type": "atomic"}),
        "roleRef": _field(role_ref, "RoleRef can reference a Role in the current namespace or a "
                                    "ClusterRole in the global namespace. This field is immutable."),
    }, required=["roleRef"])


def role_binding():
    return _binding("RoleBinding", "RoleBinding references a role, but does not contain it.  It can "
                    "reference a Role in the same namespace or a ClusterRole in the global namespace.")


def cluster_role_binding():
    return _binding("ClusterRoleBinding", "ClusterRoleBinding references a ClusterRole, but not contain "
                    "it.  It can reference a ClusterRole in the global namespace, and adds who information "
                    "via Subject.")


def service_account():
    ref = _obj("ObjectReference contains enough information to let you inspect or modify the referred "
               "object.", {
                   "kind": _s("Kind of the referent."), "namespace": _s("Namespace of the referent."),
                   "name": _s("Name of the referent."), "uid": _s("UID of the referent."),
                   "apiVersion": _s("API version of the referent."),
                   "resourceVersion": _s("Specific resourceVersion to which this reference is made, if any."),
                   "fieldPath": _s("If referring to a piece of an object instead of an entire object, this "
                                   "string should contain a valid JSON/Go field access statement."),
               }, **{"x-kubernetes-map-type": "atomic"})
    local_ref = _obj("LocalObjectReference contains enough information to let you locate the referenced "
                     "object inside the same namespace.", {"name": _s("Name of the referent.")},
                     **{"x-kubernetes-map-type": "atomic"})
    return _kind("", "v1", "ServiceAccount", "ServiceAccount binds together: * a name, understood by users, "
                 "and perhaps by peripheral systems, for an identity * a principal that can be authenticated "
                 "and authorized * a set of secrets", {
                     "secrets": _arr("Secrets is a list of the secrets in the same namespace that pods running "
                                     "using this ServiceAccount are allowed to use.", ref, merge_key="name",
                                     strategy="merge"),
                     "imagePullSecrets": _arr("ImagePullSecrets is a list of references to secrets in the same "
                                              "namespace to use for pulling any images in pods that reference "
                                              "this ServiceAccount.", local_ref,
                                              **{"x-kubernetes-list-type": "atomic"}),
                     "automountServiceAccountToken": _b("AutomountServiceAccountToken indicates whether pods "
                                                        "running as this service account should have an API "
                                                        "token automatically mounted."),
                 })


def _build():
    out = {}
    for fn in (namespace, config_map, secret, service, pod, core_event, events_event, deployment, job,
               hpa, ingress, lease, crd, role, cluster_role, role_binding,
               cluster_role_binding, service_account):
        s = fn()
        gvk = s["x-kubernetes-group-version-kind"][0]
        out[(gvk["group"], gvk["version"], gvk["kind"])] = s
    out[("meta.k8s.io", "v1", "ObjectMeta")] = object_meta()
    out[("meta.k8s.io", "v1", "ListMeta")] = list_meta()
    return out


SCHEMAS = _build()


def schema_for(group, version, kind):
    """The schema of a built-in kind (a deep copy), or None."""
    s = SCHEMAS.get((group, version, kind))
    return copy.deepcopy(s) if s is not None else None
