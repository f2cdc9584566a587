"""Least privilege: the RBAC in manifests/install.yaml grants exactly what the operator uses.

The operator runs every kind of delivery (canary with Gateway API and with NGINX routing,
blue-green, leader election) against kubesim as the tollgate ServiceAccount of install.yaml
(applied with kubectl, token from `kubectl create token`), with kubesim's RBAC authorizer and
the OwnerReferencesPermissionEnforcement admission plugin on. Nothing it sends may be refused
(403), every request must be made as the ServiceAccount, each must be allowed by the
ClusterRole (or, for the Lease, the Role), and every verb the rules grant must have been used
(a grant nothing uses is a privilege to remove) -- except the grants only admission checks use
(ADMISSION_ONLY), which tests/kubesim/test_rbac.py shows are needed.
"""

import json
import os
import subprocess
import tempfile
import time
import unittest
from urllib.parse import urlparse

import yaml  # python3-yaml, installed with python3-kubernetes by hack/deps.sh

from harness import Kubesim, source_dir

TOLLGATE = os.environ.get("TOLLGATE_BIN", "")
ROOT = source_dir()

HTTPROUTE_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: httproutes.gateway.networking.k8s.io
  annotations: {api-approved.kubernetes.io: "unapproved, tollgate test fixture"}
spec:
  group: gateway.networking.k8s.io
  scope: Namespaced
  names: {plural: httproutes, singular: httproute, kind: HTTPRoute, listKind: HTTPRouteList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"""

WORLD = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: gw}
spec:
  rules:
  - backendRefs:
    - {name: gw-stable, port: 80, weight: 100}
    - {name: gw-canary, port: 80, weight: 0}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ngx}
spec:
  ingressClassName: nginx
  rules:
  - host: ngx.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: ngx-stable, port: {number: 80}}}
---
%(rollouts)s
"""

ROLLOUT = """
apiVersion: tollgate.io/v1alpha1
kind: Rollout
metadata: {name: %(name)s}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      containers: [{name: app, image: registry.example/app}]
  service: {name: %(name)s, port: 80}
  strategy: %(strategy)s
  analysis: %(analysis)s
---
"""

STRATEGIES = {
    "gw": '{canary: {steps: [{setWeight: 50}], trafficRouting: {gatewayAPI: {httpRoute: gw}}}}',
    "ngx": '{canary: {steps: [{setWeight: 50}], trafficRouting: {nginx: {ingress: ngx}}}}',
    "bg": '{blueGreen: {previewService: bg-preview, scaleDownDelaySeconds: 0}}',
    "job": '{canary: {steps: [{setWeight: 50}]}}',
}

# A smoke test run as a Job (kubesim's Jobs succeed on their own): jobs create, list, watch.
ANALYSIS = {
    "job": '{smokeTests: [{name: check, job: {deadline: 60s, template: {spec: {template: '
           '{spec: {containers: [{name: check, image: registry.example/check}]}}}}}}]}',
}


# Grants no request uses but an admission plugin checks: OwnerReferencesPermissionEnforcement
# lets the operator set blockOwnerDeletion on its ownerReferences to a Rollout only with update
# on rollouts/finalizers.
ADMISSION_ONLY = {("tollgate.io", "rollouts/finalizers"): {"update"}}
# Grants only a verification uses (GETs of the material a VerificationPolicy references); this
# test runs no verification, tests/e2e/test_verification.py does, as the same ServiceAccount,
# and fails on any 403.
VERIFICATION_ONLY = {("", "secrets"): {"get"}, ("", "configmaps"): {"get"}}
SA_USER = "system:serviceaccount:tollgate-system:tollgate"


def release(rollout, n):
    return json.dumps({
        "apiVersion": "tollgate.io/v1alpha1", "kind": "Release",
        "metadata": {"name": "%s-v%d" % (rollout, n)},
        "spec": {"rollout": rollout, "version": "v1.0.%d" % n,
                 "artifact": {"image": "registry.example/app@sha256:" + str(n) * 64}}})


def rules_of(kind):
    """The rules of the ClusterRole or Role in manifests/install.yaml, as (group, resource) ->
    set of verbs."""
    with open(os.path.join(ROOT, "manifests", "install.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d and d["kind"] == kind]
    assert len(docs) == 1, "exactly one %s in install.yaml" % kind
    granted = {}
    for rule in docs[0]["rules"]:
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                granted.setdefault((g, r), set()).update(rule["verbs"])
    return granted


def resource_of(path):
    """(group, resource[/subresource]) of an API path."""
    parts = urlparse(path).path.strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    else:
        group, rest = parts[1], parts[3:]
    if rest and rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]
    res = rest[0]
    if len(rest) >= 3:
        res += "/" + rest[2]
    return group, res


@unittest.skipUnless(TOLLGATE, "TOLLGATE_BIN is not set (run through ctest)")
class LeastPrivilege(unittest.TestCase):
    def test_rbac_grants_exactly_what_the_operator_uses(self):
        with Kubesim(tls=True, token="rbac", ready_delay=0.1, extra_args=[
                "--enable-admission-plugins", "OwnerReferencesPermissionEnforcement"]) as sim:
            sim.kubectl("apply", "-f", os.path.join(ROOT, "crds"))
            sim.kubectl("apply", "-f", "-", input=HTTPROUTE_CRD)
            sim.kubectl("apply", "-f", os.path.join(ROOT, "manifests", "install.yaml"))
            token = sim.kubectl("create", "token", "tollgate", "-n", "tollgate-system").stdout
            with open(sim.kubeconfig) as f:
                cfg = json.load(f)
            cfg["users"] = [{"name": u["name"], "user": {"token": token.strip()}}
                            for u in cfg["users"]]
            sa_kubeconfig = os.path.join(sim.tmpdir, "tollgate.kubeconfig")
            with open(sa_kubeconfig, "w") as f:
                json.dump(cfg, f)
            rollouts = "".join(ROLLOUT % {"name": n, "strategy": s,
                                          "analysis": ANALYSIS.get(n, "{}")}
                               for n, s in STRATEGIES.items())
            sim.kubectl("apply", "-f", "-", input=WORLD % {"rollouts": rollouts})
            log = tempfile.TemporaryFile()
            op = subprocess.Popen([TOLLGATE, "--kubeconfig", sa_kubeconfig, "run",
                                   "--listen", "127.0.0.1:0", "--leader-elect", "true",
                                   "--lease-namespace", "tollgate-system"], stdout=log,
                                  stderr=log)
            try:
                for n in (1, 2):
                    for name in STRATEGIES:
                        sim.kubectl("apply", "-f", "-", input=release(name, n))
                    for name in STRATEGIES:
                        sim.wait_for(lambda: self.phase(sim, "%s-v%d" % (name, n))
                                     == "Succeeded", timeout=90,
                                     message="%s-v%d did not succeed" % (name, n))
                time.sleep(0.5)
            finally:
                op.terminate()
                code = op.wait(60)
                log.seek(0)
                output = log.read().decode(errors="replace")
                log.close()
            self.assertEqual(code, 0, output)
            used = {}
            requests = [r for r in sim.request_log()
                        if (r.get("userAgent") or "").startswith("tollgate")]
            self.assertTrue(requests)
            self.assertEqual({r["user"] for r in requests}, {SA_USER})
            refused = [r for r in requests if r["status"] in (401, 403)]
            self.assertEqual(refused, [], "kubesim refused the operator:\n" + output[-5000:])
            for r in requests:
                if r["path"].startswith(("/version", "/apis/gateway.networking.k8s.io/v1")) \
                        and r["verb"] == "get" and r["path"].count("/") <= 3:
                    continue  # discovery: allowed to every authenticated user
                used.setdefault(resource_of(r["path"]), set()).add(r["verb"])
        cluster = rules_of("ClusterRole")
        lease_rules = rules_of("Role")
        for res, verbs in sorted(used.items()):
            allowed = cluster.get(res, set()) | (lease_rules.get(res, set())
                                                 if res == ("coordination.k8s.io", "leases")
                                                 else set())
            self.assertLessEqual(verbs, allowed, "%s/%s used %s, RBAC grants %s"
                                 % (res[0], res[1], sorted(verbs), sorted(allowed)))
        granted = dict(cluster)
        for res, verbs in lease_rules.items():
            granted[res] = granted.get(res, set()) | verbs
        for res, verbs in list(ADMISSION_ONLY.items()) + list(VERIFICATION_ONLY.items()):
            self.assertLessEqual(verbs, granted.get(res, set()),
                                 "install.yaml must grant %s on %s/%s (admission)"
                                 % (sorted(verbs), res[0], res[1]))
            granted[res] = granted[res] - verbs
            if not granted[res]:
                del granted[res]
        for res, verbs in sorted(granted.items()):
            self.assertLessEqual(verbs, used.get(res, set()),
                                 "RBAC grants %s on %s/%s that the operator never used"
                                 % (sorted(verbs - used.get(res, set())), res[0], res[1]))

    @staticmethod
    def phase(sim, name):
        status, _, body = sim.request(
            "GET", "/apis/tollgate.io/v1alpha1/namespaces/default/releases/" + name)
        return body.get("status", {}).get("phase") if status == 200 else None


if __name__ == "__main__":
    unittest.main()
