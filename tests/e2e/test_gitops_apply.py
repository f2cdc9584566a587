"""GitOps delivery with server-side apply: a GitOps controller (here kubectl acting as Flux's
kustomize-controller: `kubectl apply --server-side --field-manager=kustomize-controller`)
applies a Rollout and a Release; the operator delivers the Release to Succeeded writing status
as field manager "tollgate"; the controller's next sync re-applies the same manifests and finds
no conflict and nothing to change (the resourceVersions stay), and metadata.managedFields show
kustomize-controller owning the spec and tollgate owning the status.
"""

import json
import time
import unittest

from tollgate_e2e import E2ETestCase, canary_strategy, image, release_yaml, rollout_yaml

MANAGER = "kustomize-controller"
PRINT = False


def owners(obj, top):
    """{(manager, operation, subresource)} of the entries that own something under f:<top>."""
    return {(e["manager"], e["operation"], e.get("subresource", ""))
            for e in obj["metadata"].get("managedFields", [])
            if "f:" + top in (e.get("fieldsV1") or {})}


class GitOpsApplyTest(E2ETestCase):
    def sync(self, manifests):
        """One GitOps sync: every manifest applied server-side as the controller."""
        for m in manifests:
            r = self.env.kubectl("apply", "--server-side", "--field-manager=" + MANAGER,
                                 "-f", "-", input=m, check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("serverside-applied", r.stdout)

    def wait_quiet(self, paths, quiet=1.0, timeout=20):
        """Until none of the objects has changed for `quiet` seconds; returns their rvs."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while True:
            now = [self.env.raw(p)["metadata"]["resourceVersion"] for p in paths]
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return now
            if time.monotonic() > deadline:
                raise AssertionError("the objects never settled")
            time.sleep(0.1)

    def test_reapply_after_delivery_is_a_no_op(self):
        env = self.env
        rollout = rollout_yaml("web", canary_strategy("[{setWeight: 50}, {pause: {duration: 1s}}]"),
                               replicas=2)
        release = release_yaml("web-1", "web", "v1.0.0", image("registry.example/web", 1))
        self.sync([rollout, release])
        env.wait(lambda: env.release_phase("web-1") == "Succeeded"
                 and env.rollout_phase("web") == "Healthy", message="web-1 delivered")
        paths = ["/apis/tollgate.io/v1alpha1/namespaces/default/rollouts/web",
                 "/apis/tollgate.io/v1alpha1/namespaces/default/releases/web-1"]
        before = self.wait_quiet(paths)
        env.sim.clear_request_log()

        self.sync([rollout, release])
        time.sleep(0.5)
        self.assertEqual([env.raw(p)["metadata"]["resourceVersion"] for p in paths], before,
                         "re-applying the same manifests changes nothing")
        applies = [(r["path"], r["status"]) for r in env.sim.request_log()
                   if r["method"] == "PATCH" and r["path"] in paths]
        self.assertEqual(applies, [(p, 200) for p in paths], "one apply each, no conflict")
        if PRINT:
            print(json.dumps([env.raw(p)["metadata"]["managedFields"] for p in paths], indent=1))

        for p in paths:
            obj = env.raw(p)
            self.assertEqual(owners(obj, "spec"), {(MANAGER, "Apply", "")},
                             "%s: spec owned by the GitOps controller alone:\n%s"
                             % (p, json.dumps(obj["metadata"]["managedFields"], indent=1)))
            self.assertEqual(owners(obj, "status"), {("tollgate", "Update", "status")},
                             "%s: status owned by the operator:\n%s"
                             % (p, json.dumps(obj["metadata"]["managedFields"], indent=1)))
            [entry] = [e for e in obj["metadata"]["managedFields"] if e["manager"] == "tollgate"
                       and e.get("subresource") == "status"]
            self.assertEqual(entry["apiVersion"], "tollgate.io/v1alpha1")
            self.assertIn("f:phase", entry["fieldsV1"]["f:status"])


if __name__ == "__main__":
    unittest.main()
