"""Identities, RBAC authorization, the review APIs, ServiceAccount tokens and the
OwnerReferencesPermissionEnforcement admission plugin, checked with real kubectl 1.32 (rbac.py).

One kubesim per class: a superuser token (the kubeconfig's) and named users alice (group dev)
and bob (no groups). Each test uses its own namespaces and object names.
"""

import json
import os
import unittest

from harness import Kubesim, source_dir

ROOT = source_dir()
ALICE, BOB = "alice-token", "bob-token"


def forbidden_line(text):
    return 'Error from server (Forbidden): ' + text


class RBACTest(unittest.TestCase):
    sim = None

    @classmethod
    def setUpClass(cls):
        cls.sim = Kubesim(token="root", extra_args=[
            "--token", "alice=%s:dev" % ALICE, "--token", "bob=%s" % BOB]).start()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def k(self, *args, token=None, check=True, input=None):
        extra = ["--token", token] if token else []
        return self.sim.kubectl(*(extra + list(args)), check=check, input=input)

    def apply(self, yaml_text):
        self.k("apply", "-f", "-", input=yaml_text)

    def ns(self, *names):
        for n in names:
            self.k("create", "namespace", n)

    def refused(self, *args, token=ALICE):
        r = self.k(*args, token=token, check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        return r.stderr.strip()

    # -- identities ------------------------------------------------------------------------
    def test_tokens_map_to_identities(self):
        def whoami(token):
            out = json.loads(self.k("auth", "whoami", "-o", "json", token=token).stdout)
            return out["status"]["userInfo"]
        self.assertEqual(whoami(None), {"username": "kubesim-user",
                                        "groups": ["system:masters", "system:authenticated"]})
        self.assertEqual(whoami(ALICE), {"username": "alice",
                                         "groups": ["dev", "system:authenticated"]})
        self.assertEqual(whoami(BOB), {"username": "bob", "groups": ["system:authenticated"]})
        status, _, body = self.sim.request("GET", "/version", token="nobody")
        self.assertEqual((status, body["reason"]), (401, "Unauthorized"))
        # discovery, /version and /healthz are open to every authenticated user (bootstrap
        # ClusterRoles system:discovery and system:public-info-viewer)
        for path in ("/version", "/healthz", "/api", "/apis", "/apis/apps/v1", "/openapi/v3"):
            self.assertEqual(self.sim.request("GET", path, token=BOB)[0], 200, path)
        self.assertIn("configmaps", self.k("api-resources", token=BOB).stdout)
        names = self.k("get", "clusterroles", "-o", "name").stdout.split()
        for n in ("cluster-admin", "system:discovery", "system:public-info-viewer",
                  "system:basic-user"):
            self.assertIn("clusterrole.rbac.authorization.k8s.io/" + n, names)

    def test_refusals_are_worded_as_the_real_server(self):
        self.ns("shop")
        self.assertEqual(self.refused("get", "deployments", "-n", "shop"), forbidden_line(
            'deployments.apps is forbidden: User "alice" cannot list resource "deployments" in '
            'API group "apps" in the namespace "shop"'))
        self.assertEqual(self.refused("get", "namespaces"), forbidden_line(
            'namespaces is forbidden: User "alice" cannot list resource "namespaces" in API '
            'group "" at the cluster scope'))
        # a namespace's own name is its namespace in the attributes
        self.assertEqual(self.refused("get", "namespace", "shop"), forbidden_line(
            'namespaces "shop" is forbidden: User "alice" cannot get resource "namespaces" in '
            'API group "" in the namespace "shop"'))
        self.assertEqual(self.refused("create", "configmap", "c", "-n", "shop"),
                         'error: failed to create configmap: configmaps is forbidden: User '
                         '"alice" cannot create resource "configmaps" in API group "" in the '
                         'namespace "shop"')
        status, _, body = self.sim.request(
            "PATCH", "/apis/apps/v1/namespaces/shop/deployments/web/status", body="{}",
            headers={"Content-Type": "application/merge-patch+json"}, token=ALICE)
        self.assertEqual(status, 403)
        self.assertEqual(body, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'deployments.apps "web" is forbidden: User "alice" cannot patch resource '
                       '"deployments/status" in API group "apps" in the namespace "shop"',
            "reason": "Forbidden",
            "details": {"name": "web", "group": "apps", "kind": "deployments"}, "code": 403})
        status, _, body = self.sim.request("GET", "/metrics", token=ALICE)
        self.assertEqual((status, body["message"], body["details"]),
                         (403, 'forbidden: User "alice" cannot get path "/metrics"',
                          {}))
        # watches are authorized as watch, not list
        status, _, body = self.sim.request("GET", "/api/v1/namespaces/shop/pods?watch=1",
                                           token=ALICE)
        self.assertEqual((status, body["message"]), (403, 'pods is forbidden: User "alice" '
                         'cannot watch resource "pods" in API group "" in the namespace "shop"'))

    # -- RBAC semantics --------------------------------------------------------------------
    def test_role_and_clusterrole_bindings_in_and_out_of_their_namespace(self):
        self.ns("team-a", "team-b")
        self.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-reader, namespace: team-a}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-reads, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
subjects: [{kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules: [{apiGroups: [""], resources: [secrets], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-secrets, namespace: team-b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects: [{kind: Group, name: dev}]
""")
        self.k("get", "configmaps", "-n", "team-a", token=ALICE)
        self.refused("get", "configmaps", "-n", "team-b")
        self.refused("get", "configmaps", "-n", "team-a", token=BOB)
        self.k("get", "secrets", "-n", "team-b", token=ALICE)  # through group dev
        self.refused("get", "secrets", "-n", "team-a")  # a RoleBinding grants in its namespace
        self.refused("get", "secrets", "-A")
        self.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-secrets}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects: [{kind: User, name: bob}]
""")
        self.k("get", "secrets", "-A", token=BOB)
        self.k("get", "secrets", "-n", "team-a", token=BOB)
        # a binding to a missing role names it in the refusal
        self.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dangling, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: nope}
subjects: [{kind: User, name: bob}]
""")
        self.assertEqual(self.refused("get", "pods", "-n", "team-a", token=BOB), forbidden_line(
            'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the '
            'namespace "team-a": RBAC: role.rbac.authorization.k8s.io "nope" not found'))
        # roleRef is immutable; invalid rules are refused
        r = self.k("patch", "rolebinding", "dangling", "-n", "team-a", "--type=merge", "-p",
                   '{"roleRef":{"name":"other"}}', check=False)
        self.assertIn("cannot change roleRef", r.stderr)
        r = self.k("create", "role", "bad", "-n", "team-a", "--verb=get",
                   "--non-resource-url=/x", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_resource_names_subresources_and_wildcards(self):
        self.ns("names")
        self.k("create", "deployment", "web", "--image=nginx", "-n", "names")
        self.k("create", "deployment", "api", "--image=nginx", "-n", "names")
        self.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: web-only, namespace: names}
rules:
- {apiGroups: [apps], resources: [deployments], resourceNames: [web], verbs: [get]}
- {apiGroups: [apps], resources: [deployments/status], verbs: [patch]}
- {apiGroups: ["*"], resources: ["*/scale"], verbs: [get]}
- {apiGroups: [""], resources: ["*"], verbs: ["*"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web-only, namespace: names}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: web-only}
subjects: [{kind: User, name: bob}]
""")
        self.k("get", "deployment", "web", "-n", "names", token=BOB)
        self.assertEqual(self.refused("get", "deployment", "api", "-n", "names", token=BOB),
                         forbidden_line('deployments.apps "api" is forbidden: User "bob" cannot '
                                        'get resource "deployments" in API group "apps" in the '
                                        'namespace "names"'))
        self.refused("get", "deployments", "-n", "names", token=BOB)  # a list has no name
        base = "/apis/apps/v1/namespaces/names/deployments/"
        # the subresource grant does not grant the object, nor the reverse
        st = self.sim.request("PATCH", base + "api/status", body='{"status":{}}', token=BOB,
                              headers={"Content-Type": "application/merge-patch+json"})[0]
        self.assertEqual(st, 200)
        st = self.sim.request("PATCH", base + "api", body='{"metadata":{}}', token=BOB,
                              headers={"Content-Type": "application/merge-patch+json"})[0]
        self.assertEqual(st, 403)
        self.assertEqual(self.sim.request("GET", base + "api/scale", token=BOB)[0], 200)
        # "*" resources and verbs in the core group
        self.k("create", "configmap", "c1", "-n", "names", token=BOB)
        self.k("delete", "configmap", "c1", "-n", "names", token=BOB)
        self.refused("get", "jobs", "-n", "names", token=BOB)
        # a list or watch on metadata.name=X is about X (as client-go's single-object informers)
        st = self.sim.request("GET", base[:-1] + "?fieldSelector=metadata.name%3Dweb",
                              token=BOB)[0]
        self.assertEqual(st, 403)  # resourceNames grants get, not list

    def test_auth_can_i(self):
        self.ns("cani")
        self.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: view-cm, namespace: cani}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cm-viewer}
subjects: [{kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cm-viewer}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}]
""")
        r = self.k("auth", "can-i", "list", "configmaps", "-n", "cani", token=ALICE)
        self.assertEqual((r.returncode, r.stdout), (0, "yes\n"))
        r = self.k("auth", "can-i", "create", "configmaps", "-n", "cani", token=ALICE,
                   check=False)
        self.assertEqual((r.returncode, r.stdout), (1, "no\n"))
        r = self.k("auth", "can-i", "list", "configmaps", "-n", "default", token=ALICE,
                   check=False)
        self.assertEqual(r.stdout, "no\n")
        r = self.k("auth", "can-i", "delete", "deployments.apps", "-A")
        self.assertEqual(r.stdout, "yes\n")
        # the superuser asks as alice (impersonation); alice may not impersonate
        r = self.k("auth", "can-i", "get", "configmaps", "-n", "cani", "--as", "alice")
        self.assertEqual(r.stdout, "yes\n")
        self.assertEqual(self.refused("get", "pods", "--as", "bob"), forbidden_line(
            'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API '
            'group "" at the cluster scope'))
        out = self.k("auth", "can-i", "--list", "-n", "cani", token=ALICE).stdout
        self.assertRegex(out, r"(?m)^configmaps\s+\[\]\s+\[\]\s+\[get list watch\]")
        # SubjectAccessReview (a superuser asks about someone else)
        status, _, body = self.sim.request(
            "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body={"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": "alice", "resourceAttributes": {
                      "namespace": "cani", "verb": "get", "resource": "configmaps"}}})
        self.assertEqual(status, 201)
        self.assertEqual(body["status"], {
            "allowed": True, "reason": 'RBAC: allowed by RoleBinding "view-cm/cani" of '
                                       'ClusterRole "cm-viewer" to User "alice"'})
        status, _, body = self.sim.request(
            "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", token=ALICE,
            body={"spec": {"user": "bob", "nonResourceAttributes": {"path": "/x",
                                                                     "verb": "get"}}})
        self.assertEqual(status, 403)

    def test_no_escalation_through_roles_and_bindings(self):
        self.ns("esc")
        self.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: rbac-admin, namespace: esc}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [roles, rolebindings], verbs: [create]}
- {apiGroups: [""], resources: [configmaps], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rbac-admin, namespace: esc}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rbac-admin}
subjects: [{kind: User, name: bob}]
""")
        # what bob holds he may grant; more is refused, worded as ConfirmNoEscalation
        self.k("create", "role", "cm-read", "-n", "esc", "--verb=get", "--resource=configmaps",
               token=BOB)
        self.assertEqual(
            self.refused("create", "role", "too-much", "-n", "esc", "--verb=get,delete",
                         "--resource=configmaps,secrets", token=BOB),
            'Error from server (Forbidden): roles.rbac.authorization.k8s.io "too-much" is '
            'forbidden: user "bob" (groups=["system:authenticated"]) is attempting to grant '
            'RBAC permissions not currently held:\n'
            '{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}\n'
            '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}')
        self.k("create", "rolebinding", "alice-cm", "-n", "esc", "--role=cm-read",
               "--user=alice", token=BOB)
        r = self.k("create", "rolebinding", "alice-admin", "-n", "esc",
                   "--clusterrole=cluster-admin", "--user=alice", token=BOB, check=False)
        self.assertIn('rolebindings.rbac.authorization.k8s.io "alice-admin" is forbidden: user '
                      '"bob" (groups=["system:authenticated"]) is attempting to grant RBAC '
                      'permissions not currently held:\n{APIGroups:["*"], Resources:["*"], '
                      'Verbs:["*"]}', r.stderr)
        # `bind` on the role lifts the check for bindings
        self.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: binder, namespace: esc}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind],
   resourceNames: [cluster-admin]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: binder, namespace: esc}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: binder}
subjects: [{kind: User, name: bob}]
""")
        self.k("create", "rolebinding", "alice-admin", "-n", "esc",
               "--clusterrole=cluster-admin", "--user=alice", token=BOB)
        self.k("get", "secrets", "-n", "esc", token=ALICE)

    # -- ServiceAccount tokens and TokenReview -----------------------------------------------
    def test_create_token_and_token_review(self):
        self.ns("sa-ns")
        self.k("create", "serviceaccount", "robot", "-n", "sa-ns")
        self.assertIn("robot", self.k("get", "sa", "-n", "sa-ns").stdout)
        token = self.k("create", "token", "robot", "-n", "sa-ns").stdout.strip()
        self.assertEqual(token.count("."), 2)  # a JWT
        who = json.loads(self.k("auth", "whoami", "-o", "json", token=token).stdout)
        info = who["status"]["userInfo"]
        self.assertEqual(info["username"], "system:serviceaccount:sa-ns:robot")
        self.assertEqual(info["groups"], ["system:serviceaccounts",
                                          "system:serviceaccounts:sa-ns",
                                          "system:authenticated"])
        sa = json.loads(self.k("get", "sa", "robot", "-n", "sa-ns", "-o", "json").stdout)
        self.assertEqual(info["uid"], sa["metadata"]["uid"])
        self.assertEqual(self.refused("get", "pods", "-n", "sa-ns", token=token),
                         forbidden_line('pods is forbidden: User "system:serviceaccount:sa-ns:'
                                        'robot" cannot list resource "pods" in API group "" in '
                                        'the namespace "sa-ns"'))
        self.k("create", "rolebinding", "robot-view", "-n", "sa-ns", "--clusterrole=cm-any",
               "--serviceaccount=sa-ns:robot")
        self.k("create", "clusterrole", "cm-any", "--verb=list", "--resource=pods")
        self.k("get", "pods", "-n", "sa-ns", token=token)

        def review(tok, auds=None):
            spec = {"token": tok}
            if auds:
                spec["audiences"] = auds
            status, _, body = self.sim.request(
                "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                      "spec": spec})
            self.assertEqual(status, 201, body)
            return body["status"]
        st = review(token)
        self.assertTrue(st["authenticated"])
        self.assertEqual((st["user"]["username"], st["user"]["uid"], st["user"]["groups"]),
                         ("system:serviceaccount:sa-ns:robot", sa["metadata"]["uid"],
                          info["groups"]))
        self.assertEqual(st["audiences"], ["https://kubernetes.default.svc.cluster.local"])
        self.assertEqual(review(ALICE)["user"], {"username": "alice",
                                                 "groups": ["dev", "system:authenticated"]})
        self.assertEqual(review("garbage"), {"user": {}})
        self.assertEqual(review(token, ["https://vault.example"]), {"user": {}})
        r = self.k("create", "token", "robot", "-n", "sa-ns", "--duration=5m", check=False)
        self.assertIn("may not specify a duration less than 10 minutes", r.stderr)
        r = self.k("create", "token", "ghost", "-n", "sa-ns", check=False)
        self.assertIn('serviceaccounts "ghost" not found', r.stderr)
        # the token dies with its ServiceAccount
        self.k("delete", "sa", "robot", "-n", "sa-ns")
        status, _, _ = self.sim.request("GET", "/version", token=token)
        self.assertEqual(status, 401)

    def test_install_yaml_applies(self):
        self.k("apply", "-f", os.path.join(ROOT, "crds"))
        out = self.k("apply", "-f", os.path.join(ROOT, "manifests", "install.yaml")).stdout
        self.assertIn("clusterrole.rbac.authorization.k8s.io/tollgate created", out)
        self.assertIn("rolebinding.rbac.authorization.k8s.io/tollgate-leader-election created",
                      out)
        out = self.k("apply", "-f", os.path.join(ROOT, "manifests", "install.yaml")).stdout
        self.assertIn("clusterrole.rbac.authorization.k8s.io/tollgate unchanged", out)
        r = self.k("auth", "can-i", "patch", "rollouts.tollgate.io", "--subresource=status",
                   "-A", "--as=system:serviceaccount:tollgate-system:tollgate")
        self.assertEqual(r.stdout, "yes\n")
        r = self.k("auth", "can-i", "update", "rollouts.tollgate.io", "--subresource=finalizers",
                   "-n", "shop2", "--as=system:serviceaccount:tollgate-system:tollgate")
        self.assertEqual(r.stdout, "yes\n")
        r = self.k("auth", "can-i", "delete", "rollouts.tollgate.io", "-n", "shop2",
                   "--as=system:serviceaccount:tollgate-system:tollgate", check=False)
        self.assertEqual(r.stdout, "no\n")


OPERATOR_ROLE = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: op, namespace: ops}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: op}
rules:
- {apiGroups: [apps], resources: [deployments], verbs: [create, patch, get]}
%s
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: op}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: op}
subjects: [{kind: ServiceAccount, name: op, namespace: ops}]
"""

ROLLOUT = """
apiVersion: tollgate.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: ops}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: registry.example/app}]}
  service: {name: web, port: 80}
  strategy: {blueGreen: {previewService: web-preview}}
"""


class OwnerReferencesPermissionEnforcementTest(unittest.TestCase):
    """The admission plugin: blockOwnerDeletion needs update on the owner's finalizers, changing
    ownerReferences on an update needs delete on the object."""

    def deployment(self, name, owner, block=True):
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "ownerReferences": [{
                    "apiVersion": "tollgate.io/v1alpha1", "kind": "Rollout", "name": "web",
                    "uid": owner["metadata"]["uid"], "controller": True,
                    "blockOwnerDeletion": block}]},
                "spec": {"selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [{"name": "c", "image": "i"}]}}}}

    def run_operator(self, plugin, finalizers_rule):
        args = ["--enable-admission-plugins", "OwnerReferencesPermissionEnforcement"] \
            if plugin else []
        with Kubesim(token="root", extra_args=args) as sim:
            sim.kubectl("apply", "-f", os.path.join(ROOT, "crds"))
            sim.kubectl("create", "namespace", "ops")
            sim.kubectl("apply", "-f", "-", input=OPERATOR_ROLE % finalizers_rule)
            sim.kubectl("apply", "-f", "-", input=ROLLOUT)
            owner = json.loads(sim.kubectl("get", "rollout", "web", "-n", "ops", "-o",
                                           "json").stdout)
            token = sim.kubectl("create", "token", "op", "-n", "ops").stdout.strip()
            base = "/apis/apps/v1/namespaces/ops/deployments"
            created = sim.request("POST", base, body=self.deployment("web-a", owner),
                                  token=token)
            unblocked = sim.request("POST", base,
                                    body=self.deployment("web-b", owner, block=False),
                                    token=token)
            # an update that changes ownerReferences needs delete on the Deployment
            patch = sim.request("PATCH", base + "/web-b", token=token,
                                headers={"Content-Type": "application/merge-patch+json"},
                                body=json.dumps({"metadata": {"ownerReferences": []}}))
            return created, unblocked, patch

    def test_refused_without_finalizers_update_accepted_with_it(self):
        created, unblocked, patch = self.run_operator(True, "")
        self.assertEqual(created[0], 403)
        self.assertEqual(created[2]["message"],
                         'deployments.apps "web-a" is forbidden: cannot set blockOwnerDeletion '
                         'if an ownerReference refers to a resource you can\'t set finalizers '
                         'on: , <nil>')
        self.assertEqual(created[2]["details"], {"name": "web-a", "group": "apps",
                                                 "kind": "deployments"})
        self.assertEqual(unblocked[0], 201)  # no blockOwnerDeletion, no finalizers check
        self.assertEqual(patch[0], 403)
        self.assertEqual(patch[2]["message"],
                         'deployments.apps "web-b" is forbidden: cannot set an ownerRef on a '
                         'resource you can\'t delete: , <nil>')
        created, _, _ = self.run_operator(True, "- {apiGroups: [tollgate.io], resources: "
                                                "[rollouts/finalizers], verbs: [update]}")
        self.assertEqual(created[0], 201, created[2])
        # without the plugin (kubesim's default) the same ServiceAccount is not checked
        created, unblocked, patch = self.run_operator(False, "")
        self.assertEqual((created[0], unblocked[0], patch[0]), (201, 201, 200))


if __name__ == "__main__":
    unittest.main()
