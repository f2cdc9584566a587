"""CustomResourceDefinitions through real kubectl 1.32: registration, printer columns, explain,
structural-schema validation, defaulting, pruning vs strict rejection, CRD validation."""

import harness

import json
import unittest

from test_discovery import table

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.tollgate.example.com
spec:
  group: tollgate.example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wd]
    categories: [tollgate]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    selectableFields:
    - {jsonPath: .spec.color}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    - {name: Owner, type: string, jsonPath: .spec.owner, priority: 1}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        description: A Widget is a test resource.
        properties:
          spec:
            type: object
            description: The desired widget.
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10, description: How big the widget is.}
              color: {type: string, enum: [red, green, blue], default: red}
              owner: {type: string, maxLength: 8, pattern: '^[a-z]+$'}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            properties:
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {type: string}
                    status: {type: string}
"""


def widget(name, spec):
    return ("apiVersion: tollgate.example.com/v1\nkind: Widget\nmetadata: {name: %s}\n"
            "spec: %s\n" % (name, spec))


class CRDTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = harness.Kubesim().start()
        cls.sim.kubectl("apply", "-f", "-", input=CRD)
        cls.sim.kubectl("wait", "--for=condition=Established",
                        "crd/widgets.tollgate.example.com", "--timeout=60s")

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def k(self, *args, **kw):
        return self.sim.kubectl(*args, **kw)

    def rejected(self, manifest, *flags):
        r = self.k("apply", *flags, "-f", "-", input=manifest, check=False)
        self.assertNotEqual(r.returncode, 0, "kubesim accepted:\n" + manifest)
        return r.stderr.strip()

    def test_crd_status_and_listing(self):
        crd = json.loads(self.k("get", "crd", "widgets.tollgate.example.com", "-o",
                                "json").stdout)
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        self.assertEqual(conds, {"NamesAccepted": "True", "Established": "True"})
        self.assertEqual(crd["status"]["acceptedNames"]["shortNames"], ["wd"])
        self.assertEqual(crd["spec"]["names"]["listKind"], "WidgetList")
        rows = table(self.k("get", "crds", "widgets.tollgate.example.com").stdout)
        self.assertEqual(list(rows[0]), ["NAME", "CREATED AT"])
        self.assertEqual(rows[0]["NAME"], "widgets.tollgate.example.com")
        self.assertRegex(rows[0]["CREATED AT"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_printer_columns_and_status_filter(self):
        self.k("apply", "-f", "-", input=widget("cols", "{size: 4, owner: ann}"))
        rows = table(self.k("get", "wd", "cols").stdout)
        self.assertEqual(list(rows[0]), ["NAME", "SIZE", "COLOR", "READY", "AGE"])
        self.assertEqual((rows[0]["NAME"], rows[0]["SIZE"], rows[0]["COLOR"], rows[0]["READY"]),
                         ("cols", "4", "red", ""))
        self.assertRegex(rows[0]["AGE"], r"^\d+s$")
        wide = table(self.k("get", "wd", "cols", "-o", "wide").stdout)
        self.assertEqual(list(wide[0]), ["NAME", "SIZE", "COLOR", "READY", "OWNER", "AGE"])
        self.assertEqual(wide[0]["OWNER"], "ann")
        self.k("patch", "wd", "cols", "--subresource=status", "--type=merge", "-p",
               json.dumps({"status": {"conditions": [{"type": "Synced", "status": "False"},
                                                     {"type": "Ready", "status": "True"}]}}))
        rows = table(self.k("get", "wd", "cols").stdout)
        self.assertEqual(rows[0]["READY"], "True")
        # category and short name and fully-qualified name all resolve
        self.assertIn("widget.tollgate.example.com/cols",
                      self.k("get", "tollgate", "-o", "name").stdout.split())
        self.assertIn("cols", self.k("get", "widgets.tollgate.example.com").stdout)

    def test_defaults_and_preserved_unknown_fields(self):
        self.k("apply", "-f", "-", input=widget("defaults", "{size: 2, extra: {free: [1, {a: b}]}}"))
        obj = json.loads(self.k("get", "widget", "defaults", "-o", "json").stdout)
        self.assertEqual(obj["spec"]["color"], "red")
        self.assertEqual(obj["spec"]["extra"], {"free": [1, {"a": "b"}]})

    def test_field_selectors(self):
        self.k("apply", "-f", "-", input=widget("sel-red", "{size: 1}"))
        self.k("apply", "-f", "-", input=widget("sel-blue", "{size: 1, color: blue}"))
        out = self.k("get", "wd", "--field-selector", "spec.color=blue", "-o", "name").stdout
        self.assertEqual(out.split(), ["widget.tollgate.example.com/sel-blue"])
        out = self.k("get", "wd", "--field-selector", "metadata.name=sel-red", "-o",
                     "name").stdout
        self.assertEqual(out.split(), ["widget.tollgate.example.com/sel-red"])
        r = self.k("get", "wd", "--field-selector", "spec.size=1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('field label not supported: spec.size', r.stderr)

    def test_validation_errors(self):
        cases = [
            ("{size: big}", 'The Widget "bad" is invalid: spec.size: Invalid value: "string": '
                            'spec.size in body must be of type integer: "string"'),
            ("{color: red}", 'The Widget "bad" is invalid: spec.size: Required value'),
            ("{size: 3, color: pink}", 'The Widget "bad" is invalid: spec.color: Unsupported '
                                       'value: "pink": supported values: "red", "green", "blue"'),
            ("{size: 0}", 'The Widget "bad" is invalid: spec.size: Invalid value: 0: spec.size in '
                          'body should be greater than or equal to 1'),
            ("{size: 11}", 'The Widget "bad" is invalid: spec.size: Invalid value: 11: spec.size '
                           'in body should be less than or equal to 10'),
            ("{size: 3, owner: Bob}", 'The Widget "bad" is invalid: spec.owner: Invalid value: '
                                      '"Bob": spec.owner in body should match \'^[a-z]+$\''),
            ("{size: 3, owner: abcdefghij}", 'The Widget "bad" is invalid: spec.owner: Too long: '
                                             'may not be more than 8 bytes'),
        ]
        for spec, want in cases:
            with self.subTest(spec=spec):
                self.assertEqual(self.rejected(widget("bad", spec)), want)
        r = self.k("get", "widget", "bad", check=False)
        self.assertIn('widgets.tollgate.example.com "bad" not found', r.stderr)
        two = self.rejected(widget("bad", "{size: 0, color: pink}"))
        self.assertEqual(two, 'The Widget "bad" is invalid: \n'
                              '* spec.color: Unsupported value: "pink": supported values: "red", '
                              '"green", "blue"\n'
                              '* spec.size: Invalid value: 0: spec.size in body should be greater '
                              'than or equal to 1')

    def test_strict_rejects_warn_and_ignore_prune(self):
        bad = widget("unknown", "{size: 3, bogus: 1}")
        self.assertEqual(
            self.rejected(bad),
            'Error from server (BadRequest): error when creating "STDIN": Widget in version "v1" '
            'cannot be handled as a Widget: strict decoding error: unknown field "spec.bogus"')
        r = self.k("apply", "--validate=warn", "-f", "-", input=bad)
        self.assertIn('Warning: unknown field "spec.bogus"', r.stderr)
        obj = json.loads(self.k("get", "widget", "unknown", "-o", "json").stdout)
        self.assertNotIn("bogus", obj["spec"])
        r = self.k("create", "--validate=false", "-f", "-",
                   input=widget("ignored", "{size: 3, bogus: 1}"))
        self.assertNotIn("unknown field", r.stderr)
        obj = json.loads(self.k("get", "widget", "ignored", "-o", "json").stdout)
        self.assertEqual(obj["spec"], {"size": 3, "color": "red"})

    def test_strict_unknown_field_in_a_patch(self):
        self.k("apply", "-f", "-", input=widget("patched", "{size: 3}"))
        err = self.rejected(widget("patched", "{size: 3, bogus: 1}"))
        self.assertTrue(err.startswith("The request is invalid: patch: Invalid value: "), err)
        self.assertTrue(err.endswith(': strict decoding error: unknown field "spec.bogus"'), err)
        # kubectl patch sends no fieldValidation: the server default (Warn) prunes and warns
        r = self.k("patch", "widget", "patched", "--type=merge", "-p", '{"spec": {"bogus": 2}}')
        self.assertIn('Warning: unknown field "spec.bogus"', r.stderr)
        obj = json.loads(self.k("get", "widget", "patched", "-o", "json").stdout)
        self.assertNotIn("bogus", obj["spec"])

    def test_apply_twice_on_custom_resource_uses_merge_patch(self):
        self.k("apply", "-f", "-", input=widget("twice", "{size: 3, owner: ann}"))
        self.sim.clear_request_log()
        r = self.k("apply", "-f", "-", input=widget("twice", "{size: 5}"))
        self.assertIn("widget.tollgate.example.com/twice configured", r.stdout)
        patches = [e for e in self.sim.request_log() if e["verb"] == "patch"]
        self.assertEqual([p["status"] for p in patches], [200])
        obj = json.loads(self.k("get", "widget", "twice", "-o", "json").stdout)
        self.assertEqual(obj["spec"], {"size": 5, "color": "red"})  # owner removed (3-way)

    def test_explain_custom_resource(self):
        out = self.k("explain", "widget").stdout
        self.assertIn("KIND:       Widget", out)
        self.assertIn("A Widget is a test resource.", out)
        out = self.k("explain", "widgets.spec").stdout
        self.assertIn("size\t<integer> -required-", out)
        self.assertIn("How big the widget is.", out)
        self.assertIn("enum: red, green, blue", out)
        out = self.k("explain", "wd.spec.size").stdout
        self.assertIn("FIELD: size <integer>", out)

    def test_crd_update_is_served_at_once(self):
        crd = CRD.replace("widgets", "sprockets").replace("Widget", "Sprocket").replace(
            "widget", "sprocket").replace("shortNames: [wd]", "shortNames: [sp]").replace(
            "categories: [tollgate]", "categories: [gears]")
        self.k("apply", "-f", "-", input=crd)
        self.k("wait", "--for=condition=Established", "crd/sprockets.tollgate.example.com",
               "--timeout=60s")
        self.k("apply", "-f", "-", input=widget("s1", "{size: 2}").replace("Widget", "Sprocket"))
        # warm kubectl's caches (discovery + OpenAPI documents) with the first version
        self.assertNotIn("teeth", self.k("explain", "sprocket.spec").stdout)
        self.assertEqual(list(table(self.k("get", "sp").stdout)[0]),
                         ["NAME", "SIZE", "COLOR", "READY", "AGE"])
        crd2 = crd.replace(
            "              owner: {type: string",
            "              teeth: {type: integer, description: Number of teeth.}\n"
            "              owner: {type: string").replace(
            "    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}",
            "    - {name: Teeth, type: integer, jsonPath: .spec.teeth}\n"
            "    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}")
        self.k("apply", "-f", "-", input=crd2)
        out = self.k("explain", "sprocket.spec.teeth").stdout
        self.assertIn("Number of teeth.", out)
        self.k("apply", "-f", "-", input=widget("s1", "{size: 2, teeth: 12}").replace(
            "Widget", "Sprocket"))
        rows = table(self.k("get", "sp").stdout)
        self.assertEqual(list(rows[0]), ["NAME", "SIZE", "COLOR", "READY", "TEETH", "AGE"])
        self.assertEqual(rows[0]["TEETH"], "12")

    def test_cel_rules_enforced_or_loudly_unsupported(self):
        crd = CRD.replace("widgets", "cels").replace("Widget", "Cel").replace(
            "widget", "cel").replace("shortNames: [wd]", "shortNames: [ce]").replace(
            "            required: [size]\n",
            "            required: [size]\n"
            "            x-kubernetes-validations:\n"
            "            - {rule: 'self.size < 5 || has(self.owner)', message: big widgets need an owner}\n"
            "            - {rule: 'self.color == oldSelf.color', message: color is immutable}\n"
            "            - {rule: 'self.owner.lowerAscii() == self.owner'}\n")
        r = self.k("apply", "-f", "-", input=crd)
        self.assertIn("kubesim: spec.versions[0].schema.openAPIV3Schema.properties[spec]."
                      "x-kubernetes-validations[2]: CEL rule", r.stderr)
        self.assertIn("the rule is NOT enforced", r.stderr)
        self.assertNotIn("x-kubernetes-validations[0]", r.stderr)
        self.k("wait", "--for=condition=Established", "crd/cels.tollgate.example.com",
               "--timeout=60s")
        err = self.rejected(widget("c1", "{size: 7}").replace("Widget", "Cel"))
        self.assertIn('The Cel "c1" is invalid: spec: Invalid value: "object": big widgets need '
                      'an owner', err)
        r = self.k("apply", "-f", "-", input=widget("c1", "{size: 7, owner: ann}").replace(
            "Widget", "Cel"))
        self.assertIn("Warning: kubesim: ", r.stderr)  # rule [2] is not evaluated
        err = self.rejected(widget("c1", "{size: 7, owner: ann, color: blue}").replace(
            "Widget", "Cel"))
        self.assertIn('spec: Invalid value: "object": color is immutable', err)

    def test_multiple_versions_and_deprecation(self):
        crd = CRD.replace("widgets", "gears").replace("Widget", "Gear").replace(
            "widget", "gear").replace("shortNames: [wd]", "shortNames: [gr]")
        v1 = crd[crd.index("  - name: v1\n"):]
        beta = v1.replace("  - name: v1\n", "  - name: v1beta1\n    deprecated: true\n").replace(
            "storage: true", "storage: false")
        self.k("apply", "-f", "-", input=crd + beta)
        self.k("wait", "--for=condition=Established", "crd/gears.tollgate.example.com",
               "--timeout=60s")
        r = self.k("apply", "-f", "-", input=widget("g1", "{size: 2}").replace(
            "Widget", "Gear").replace("/v1", "/v1beta1"))
        self.assertEqual(r.stderr.count("Warning: tollgate.example.com/v1beta1 Gear is "
                                        "deprecated"), 1, r.stderr)
        # stored once, served in both versions; the preferred version is v1
        obj = json.loads(self.k("get", "gear", "g1", "-o", "json").stdout)
        self.assertEqual(obj["apiVersion"], "tollgate.example.com/v1")
        r = self.k("get", "gears.v1beta1.tollgate.example.com", "g1", "-o", "json")
        self.assertEqual(json.loads(r.stdout)["apiVersion"], "tollgate.example.com/v1beta1")
        self.assertIn("Warning: tollgate.example.com/v1beta1 Gear is deprecated", r.stderr)

    def test_invalid_crds_are_rejected(self):
        bad_name = CRD.replace("name: widgets.tollgate.example.com",
                               "name: gadgets.tollgate.example.com")
        err = self.rejected(bad_name)
        self.assertIn('The CustomResourceDefinition "gadgets.tollgate.example.com" is invalid: '
                      'metadata.name: Invalid value: "gadgets.tollgate.example.com": must be '
                      'spec.names.plural+"."+spec.group', err)
        no_storage = CRD.replace("widgets", "things").replace("Widget", "Thing").replace(
            "shortNames: [wd]", "shortNames: [th]").replace("storage: true", "storage: false")
        self.assertIn("must have exactly one version marked as storage version",
                      self.rejected(no_storage))
        no_type = CRD.replace("widgets", "blobs").replace("Widget", "Blob").replace(
            "shortNames: [wd]", "shortNames: [bl]").replace(
            "extra: {type: object, x-kubernetes-preserve-unknown-fields: true}",
            "extra: {description: untyped}")
        err = self.rejected(no_type)
        self.assertIn("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[extra]"
                      ".type: Required value: must not be empty for specified object fields", err)
        r = self.k("get", "blobs", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_cluster_scoped_crd_and_delete(self):
        crd = CRD.replace("widgets", "planets").replace("Widget", "Planet").replace(
            "widget", "planet").replace("shortNames: [wd]", "shortNames: [pl]").replace(
            "scope: Namespaced", "scope: Cluster")
        self.k("apply", "-f", "-", input=crd)
        self.k("wait", "--for=condition=Established", "crd/planets.tollgate.example.com",
               "--timeout=60s")
        self.k("apply", "-f", "-", input=widget("earth", "{size: 1}").replace("Widget", "Planet"))
        rows = table(self.k("api-resources", "--api-group=tollgate.example.com").stdout)
        self.assertIn({"NAME": "planets", "SHORTNAMES": "pl",
                       "APIVERSION": "tollgate.example.com/v1", "NAMESPACED": "false",
                       "KIND": "Planet"}, rows)
        obj = json.loads(self.k("get", "pl", "earth", "-o", "json").stdout)
        self.assertNotIn("namespace", obj["metadata"])
        self.k("delete", "crd", "planets.tollgate.example.com", "--timeout=60s")
        self.sim.wait_for(lambda: self.k("get", "pl", check=False).returncode != 0,
                          message="planets still served after CRD deletion")
        st, _, _ = self.sim.request("GET", "/apis/tollgate.example.com/v1/planets/earth")
        self.assertEqual(st, 404)


if __name__ == "__main__":
    unittest.main()


class BuiltinAdmissionTest(unittest.TestCase):
    """The apiserver's Go validation and defaulting for built-in kinds, seen through kubectl."""

    @classmethod
    def setUpClass(cls):
        cls.sim = harness.Kubesim().start()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def k(self, *args, **kw):
        return self.sim.kubectl(*args, **kw)

    def rejected(self, manifest):
        r = self.k("apply", "-f", "-", input=manifest, check=False)
        self.assertNotEqual(r.returncode, 0, "kubesim accepted:\n" + manifest)
        return r.stderr.strip()

    DEP = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s}\nspec:\n"
           "  selector: {matchLabels: {app: %s}}\n  template:\n"
           "    metadata: {labels: {app: %s}}\n    spec:\n      containers: %s\n")

    def test_deployment_rules(self):
        err = self.rejected(self.DEP % ("mismatch", "a", "b", "[{name: c, image: nginx}]"))
        self.assertEqual(err, 'The Deployment "mismatch" is invalid: '
                              'spec.template.metadata.labels: Invalid value: '
                              'map[string]string{"app":"b"}: `selector` does not match template '
                              '`labels`')
        err = self.rejected(self.DEP % ("noimage", "a", "a", "[{name: c}]"))
        self.assertEqual(err, 'The Deployment "noimage" is invalid: '
                              'spec.template.spec.containers[0].image: Required value')
        err = self.rejected(self.DEP % ("noname", "a", "a", "[{image: nginx}]"))
        self.assertIn("spec.template.spec.containers[0].name: Required value", err)
        noselector = (self.DEP % ("nosel", "a", "a", "[{name: c, image: nginx}]")).replace(
            "  selector: {matchLabels: {app: a}}\n", "")
        self.assertIn("spec.selector: Required value", self.rejected(noselector))
        err = self.rejected((self.DEP % ("typed", "a", "a", "[{name: c, image: nginx}]")).replace(
            "spec:\n  selector", "spec:\n  replicas: two\n  selector"))
        self.assertEqual(err, 'Error from server (BadRequest): error when creating "STDIN": '
                              'Deployment in version "v1" cannot be handled as a Deployment: '
                              'json: cannot unmarshal string into Go struct field '
                              'DeploymentSpec.spec.replicas of type int32')
        # the selector is immutable in apps/v1
        self.k("apply", "-f", "-", input=self.DEP % ("immut", "a", "a",
                                                     "[{name: c, image: nginx}]"))
        err = self.rejected(self.DEP % ("immut", "b", "b", "[{name: c, image: nginx}]"))
        self.assertIn("spec.selector: Invalid value:", err)
        self.assertIn("field is immutable", err)

    def test_deployment_defaults(self):
        self.k("apply", "-f", "-", input=self.DEP % ("defaults", "d", "d",
                                                     "[{name: c, image: nginx, ports: "
                                                     "[{containerPort: 80}]}]"))
        d = json.loads(self.k("get", "deploy", "defaults", "-o", "json").stdout)
        spec = d["spec"]
        self.assertEqual((spec["replicas"], spec["revisionHistoryLimit"],
                          spec["progressDeadlineSeconds"], spec["strategy"]),
                         (1, 10, 600, {"type": "RollingUpdate", "rollingUpdate": {
                             "maxSurge": "25%", "maxUnavailable": "25%"}}))
        pod = spec["template"]["spec"]
        self.assertEqual((pod["restartPolicy"], pod["dnsPolicy"], pod["schedulerName"],
                          pod["terminationGracePeriodSeconds"]),
                         ("Always", "ClusterFirst", "default-scheduler", 30))
        c = pod["containers"][0]
        self.assertEqual((c["imagePullPolicy"], c["ports"][0]["protocol"],
                          c["terminationMessagePolicy"]), ("Always", "TCP", "File"))

    def test_metadata_and_service_rules(self):
        r = self.k("create", "configmap", "Bad_Name", check=False)
        self.assertIn('error: failed to create configmap: ConfigMap "Bad_Name" is invalid: '
                      'metadata.name: Invalid value: '
                      '"Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case '
                      'alphanumeric characters', r.stderr)
        r = self.k("label", "namespace", "default", "bad key!=x", check=False)
        self.assertNotEqual(r.returncode, 0)
        err = self.rejected("apiVersion: v1\nkind: Service\nmetadata: {name: two-ports}\n"
                            "spec: {ports: [{port: 80}, {port: 81}]}\n")
        self.assertIn("spec.ports[0].name: Required value", err)
        err = self.rejected("apiVersion: v1\nkind: Service\nmetadata: {name: no-ports}\n"
                            "spec: {selector: {app: x}}\n")
        self.assertIn("spec.ports: Required value", err)
        self.k("apply", "-f", "-", input="apiVersion: v1\nkind: Service\nmetadata: {name: ok}\n"
                                         "spec: {selector: {app: x}, ports: [{port: 80}]}\n")
        svc = json.loads(self.k("get", "svc", "ok", "-o", "json").stdout)
        self.assertEqual(svc["spec"]["ports"], [{"port": 80, "protocol": "TCP",
                                                 "targetPort": 80}])
        self.assertEqual(svc["spec"]["clusterIPs"], [svc["spec"]["clusterIP"]])
        sec = json.loads(self.k("create", "secret", "generic", "sd", "--from-literal=k=v",
                                "-o", "json").stdout)
        self.assertEqual((sec["data"], sec["type"]), ({"k": "dg=="}, "Opaque"))
