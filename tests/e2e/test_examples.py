"""Every manifest in manifests/examples applies to kubesim with `kubectl apply --dry-run=server`
(the schema, defaults and strict field validation of the real API server path), after the
tollgate CRDs and the HTTPRoute CRD (tests/fixtures/e2e) are installed. Also: the file that
needs the HTTPRoute CRD is refused without it, so the install step is what makes it apply.
No operator runs.
"""

import glob
import os
import unittest

from tollgate_e2e import EXAMPLES_DIR, E2ETestCase, HTTPROUTE_CRD


def examples():
    files = sorted(glob.glob(os.path.join(EXAMPLES_DIR, "*.yaml")) +
                   glob.glob(os.path.join(EXAMPLES_DIR, "*.yml")))
    return files


def needs_gateway_api(path):
    with open(path) as f:
        return "gateway.networking.k8s.io" in f.read()


class ExamplesTest(E2ETestCase):
    START_OPERATOR = False

    def test_examples_exist(self):
        names = [os.path.basename(f) for f in examples()]
        self.assertTrue(names, "no examples in %s" % EXAMPLES_DIR)
        for want in ("release.yaml", "rollout-analysis.yaml", "rollout-blue-green.yaml",
                     "rollout-canary-replicas.yaml",
                     "rollout-canary-nginx.yaml", "rollout-canary-gateway-api.yaml"):
            self.assertIn(want, names)

    def test_gateway_api_examples_need_the_crd(self):
        env = self.env
        for f in examples():
            with open(f) as fh:
                text = fh.read()
            if needs_gateway_api(f) and "kind: HTTPRoute" in text:
                r = env.kubectl("apply", "--dry-run=server", "-f", f, check=False)
                self.assertNotEqual(r.returncode, 0, f)
                self.assertIn("could not find the requested resource", r.stderr)

    def test_every_example_applies_server_side_dry_run(self):
        env = self.env
        env.kubectl("apply", "-f", HTTPROUTE_CRD)
        env.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    "crd/httproutes.gateway.networking.k8s.io")
        for f in examples():
            with self.subTest(example=os.path.basename(f)):
                r = env.kubectl("apply", "--dry-run=server", "-f", f, check=False)
                self.assertEqual(r.returncode, 0, "%s:\n%s%s" % (f, r.stdout, r.stderr))
                self.assertIn("(server dry run)", r.stdout)
                self.assertEqual(r.stderr.strip(), "", "warnings for %s" % f)
        # a dry run creates nothing
        out = env.kubectl("get", "tollgate,ingress,httproute", "-o", "name").stdout
        self.assertEqual(out.strip(), "")

    def test_examples_together_apply_for_real(self):
        env = self.env
        env.kubectl("apply", "-f", HTTPROUTE_CRD)
        env.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    "crd/httproutes.gateway.networking.k8s.io")
        env.kubectl("create", "namespace", "shop")
        args = ["apply", "-n", "shop"]
        for f in examples():
            args += ["-f", f]
        env.kubectl(*args)
        out = env.kubectl("get", "-n", "shop", "tgro", "-o", "name").stdout.split()
        self.assertEqual(sorted(out), ["rollout.tollgate.io/catalog", "rollout.tollgate.io/checkout",
                                       "rollout.tollgate.io/orders", "rollout.tollgate.io/payments",
                                       "rollout.tollgate.io/storefront"])


if __name__ == "__main__":
    unittest.main()
