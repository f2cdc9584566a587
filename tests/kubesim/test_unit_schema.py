"""Unit tests for schema.py: structural-schema validation, defaulting, pruning, structural checks.

Expected causes are in the form kube-apiserver sends for an invalid custom resource
(metav1.StatusCause: reason, message = field.Error.ErrorBody(), field) with the texts of
k8s.io/kube-openapi's validator as apiextensions-apiserver converts them.
Run: cd tests/kubesim && /usr/bin/python3 -m unittest -v test_unit_schema
"""

import copy
import unittest

import schema as S


def spec_schema(**props):
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}


class Validation(unittest.TestCase):
    # (name, property schema, value, expected causes [(reason, message)] -- [] means valid)
    TABLE = [
        ("integer ok", {"type": "integer"}, 3, []),
        ("integer from whole float ok", {"type": "integer"}, 3.0, []),
        ("integer gets string", {"type": "integer"}, "3",
         [("FieldValueTypeInvalid", 'Invalid value: "string": spec.f in body must be of type integer: "string"')]),
        ("integer gets float", {"type": "integer"}, 1.5,
         [("FieldValueTypeInvalid", 'Invalid value: "number": spec.f in body must be of type integer: "number"')]),
        ("number accepts int", {"type": "number"}, 2, []),
        ("string gets bool", {"type": "string"}, True,
         [("FieldValueTypeInvalid", 'Invalid value: "boolean": spec.f in body must be of type string: "boolean"')]),
        ("boolean gets int", {"type": "boolean"}, 1,
         [("FieldValueTypeInvalid", 'Invalid value: "integer": spec.f in body must be of type boolean: "integer"')]),
        ("object gets array", {"type": "object"}, [],
         [("FieldValueTypeInvalid", 'Invalid value: "array": spec.f in body must be of type object: "array"')]),
        ("array gets object", {"type": "array", "items": {"type": "string"}}, {},
         [("FieldValueTypeInvalid", 'Invalid value: "object": spec.f in body must be of type array: "object"')]),
        ("null not nullable", {"type": "string"}, None,
         [("FieldValueTypeInvalid", 'Invalid value: "null": spec.f in body must be of type string: "null"')]),
        ("null nullable", {"type": "string", "nullable": True}, None, []),
        ("enum ok", {"type": "string", "enum": ["a", "b"]}, "a", []),
        ("enum bad", {"type": "string", "enum": ["a", "b"]}, "x",
         [("FieldValueNotSupported", 'Unsupported value: "x": supported values: "a", "b"')]),
        ("enum non-string", {"type": "integer", "enum": [1, 2]}, 3,
         [("FieldValueNotSupported", 'Unsupported value: 3: supported values: "1", "2"')]),
        ("minimum ok", {"type": "integer", "minimum": 1}, 1, []),
        ("minimum", {"type": "integer", "minimum": 1}, 0,
         [("FieldValueInvalid", "Invalid value: 0: spec.f in body should be greater than or equal to 1")]),
        ("exclusive minimum", {"type": "integer", "minimum": 1, "exclusiveMinimum": True}, 1,
         [("FieldValueInvalid", "Invalid value: 1: spec.f in body should be greater than 1")]),
        ("maximum", {"type": "number", "maximum": 2.5}, 3,
         [("FieldValueInvalid", "Invalid value: 3: spec.f in body should be less than or equal to 2.5")]),
        ("exclusive maximum", {"type": "integer", "maximum": 10, "exclusiveMaximum": True}, 10,
         [("FieldValueInvalid", "Invalid value: 10: spec.f in body should be less than 10")]),
        ("big maximum printed like Go", {"type": "integer", "maximum": 1000000}, 1000001,
         [("FieldValueInvalid", "Invalid value: 1000001: spec.f in body should be less than or equal to 1e+06")]),
        ("multipleOf", {"type": "integer", "multipleOf": 5}, 7,
         [("FieldValueInvalid", "Invalid value: 7: spec.f in body should be a multiple of 5")]),
        ("maxLength", {"type": "string", "maxLength": 3}, "abcd",
         [("FieldValueTooLong", "Too long: may not be more than 3 bytes")]),
        ("minLength", {"type": "string", "minLength": 2}, "a",
         [("FieldValueInvalid", 'Invalid value: "a": spec.f in body should be at least 2 chars long')]),
        ("pattern ok (search semantics)", {"type": "string", "pattern": "[0-9]"}, "ab1", []),
        ("pattern", {"type": "string", "pattern": "^[a-z]+$"}, "ABC",
         [("FieldValueInvalid", "Invalid value: \"ABC\": spec.f in body should match '^[a-z]+$'")]),
        ("pattern $ is end of text like RE2", {"type": "string", "pattern": "^[a-z]+$"}, "abc\n",
         [("FieldValueInvalid", "Invalid value: \"abc\\n\": spec.f in body should match '^[a-z]+$'")]),
        ("pattern RE2 named group", {"type": "string", "pattern": "^(?<x>a)b$"}, "ab", []),
        ("pattern \\d is ASCII like RE2", {"type": "string", "pattern": "^\\d+$"}, "\u0661",
         [("FieldValueInvalid", "Invalid value: \"\u0661\": spec.f in body should match '^\\d+$'")]),
        ("date-time ok", {"type": "string", "format": "date-time"}, "2024-01-02T03:04:05Z", []),
        ("date-time with offset and fraction", {"type": "string", "format": "date-time"},
         "2024-01-02T03:04:05.123+02:00", []),
        ("date-time lower case", {"type": "string", "format": "date-time"}, "2024-01-02t03:04:05z", []),
        ("date-time without zone", {"type": "string", "format": "date-time"}, "2024-01-02T03:04:05",
         [("FieldValueTypeInvalid", 'Invalid value: "2024-01-02T03:04:05": spec.f in body must be of type '
                                    'date-time: "2024-01-02T03:04:05"')]),
        ("date-time bad", {"type": "string", "format": "date-time"}, "yesterday",
         [("FieldValueTypeInvalid", 'Invalid value: "yesterday": spec.f in body must be of type date-time: "yesterday"')]),
        ("date-time impossible date", {"type": "string", "format": "date-time"}, "2024-02-30T00:00:00Z",
         [("FieldValueTypeInvalid", 'Invalid value: "2024-02-30T00:00:00Z": spec.f in body must be of type '
                                    'date-time: "2024-02-30T00:00:00Z"')]),
        ("maxItems", {"type": "array", "items": {"type": "integer"}, "maxItems": 2}, [1, 2, 3],
         [("FieldValueTooMany", "Too many: 3: must have at most 2 items")]),
        ("minItems", {"type": "array", "items": {"type": "integer"}, "minItems": 2}, [1],
         [("FieldValueInvalid", "Invalid value: 1: spec.f in body should have at least 2 items")]),
        ("items checked with index", {"type": "array", "items": {"type": "integer"}}, [1, "x"],
         [("FieldValueTypeInvalid", 'Invalid value: "string": spec.f[1] in body must be of type integer: "string"')]),
        ("maxProperties", {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1},
         {"a": "1", "b": "2"}, [("FieldValueTooMany", "Too many: 2: must have at most 1 item")]),
        ("minProperties stops further checks of the object",
         {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2}, {"a": "x"},
         [("FieldValueInvalid", "Invalid value: 1: spec.f in body should have at least 2 properties")]),
        ("additionalProperties schema", {"type": "object", "additionalProperties": {"type": "integer"}},
         {"a": 1, "b": "x"},
         [("FieldValueTypeInvalid", 'Invalid value: "string": spec.f.b in body must be of type integer: "string"')]),
        ("int-or-string int", {"x-kubernetes-int-or-string": True}, 80, []),
        ("int-or-string string", {"x-kubernetes-int-or-string": True}, "http", []),
        ("int-or-string bool", {"x-kubernetes-int-or-string": True}, True,
         [("FieldValueTypeInvalid", 'Invalid value: "boolean": spec.f in body must be of type integer: "boolean"'),
          ("FieldValueTypeInvalid", 'Invalid value: "boolean": spec.f in body must be of type string: "boolean"'),
          ("FieldValueInvalid", 'Invalid value: "": "spec.f" must validate at least one schema (anyOf)')]),
        ("anyOf", {"type": "string", "anyOf": [{"pattern": "^a"}, {"maxLength": 1}]}, "bcd",
         [("FieldValueInvalid", "Invalid value: \"bcd\": spec.f in body should match '^a'"),
          ("FieldValueTooLong", "Too long: may not be more than 1 byte"),
          ("FieldValueInvalid", 'Invalid value: "": "spec.f" must validate at least one schema (anyOf)')]),
        ("anyOf ok", {"type": "string", "anyOf": [{"pattern": "^a"}, {"maxLength": 1}]}, "b", []),
        ("allOf", {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 5}]}, 7,
         [("FieldValueInvalid", "Invalid value: 7: spec.f in body should be less than or equal to 5"),
          ("FieldValueInvalid", 'Invalid value: "": "spec.f" must validate all the schemas (allOf)')]),
        ("oneOf both match", {"type": "integer", "oneOf": [{"minimum": 1}, {"maximum": 5}]}, 3,
         [("FieldValueInvalid", 'Invalid value: "": "spec.f" must validate one and only one schema (oneOf). '
                                'Found 2 valid alternatives')]),
        ("not", {"type": "string", "not": {"enum": ["forbidden"]}}, "forbidden",
         [("FieldValueInvalid", 'Invalid value: "": "spec.f" must not validate the schema (not)')]),
        ("preserve-unknown object accepts anything inside",
         {"type": "object", "x-kubernetes-preserve-unknown-fields": True}, {"x": [1, {"y": None}]}, []),
        ("list-type set duplicates", {"type": "array", "items": {"type": "string"},
                                      "x-kubernetes-list-type": "set"}, ["a", "b", "a"],
         [("FieldValueDuplicate", 'Duplicate value: "a"')]),
        ("list-type map duplicates", {"type": "array", "x-kubernetes-list-type": "map",
                                      "x-kubernetes-list-map-keys": ["name"],
                                      "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
         [{"name": "a"}, {"name": "a"}],
         [("FieldValueDuplicate", 'Duplicate value: map[string]interface {}{"name":"a"}')]),
    ]

    def test_table(self):
        for name, prop, value, want in self.TABLE:
            with self.subTest(name):
                causes = S.validate({"spec": {"f": value}}, spec_schema(f=prop))
                self.assertEqual([(c["reason"], c["message"]) for c in causes], want)
                for c in causes:
                    if c["field"] != "<nil>":
                        self.assertTrue(c["field"].startswith("spec.f"), c)

    def test_required(self):
        sch = {"type": "object", "properties": {"spec": {
            "type": "object", "required": ["replicas", "image"],
            "properties": {"replicas": {"type": "integer"}, "image": {"type": "string"}}}}}
        causes = S.validate({"spec": {"replicas": 1}}, sch)
        self.assertEqual(causes, [{"reason": "FieldValueRequired", "message": "Required value",
                                   "field": "spec.image"}])
        self.assertEqual(S.validate({"spec": {"replicas": 1, "image": "x"}}, sch), [])

    def test_nested_array_object_paths(self):
        sch = spec_schema(items={"type": "array", "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "port": {"type": "integer", "maximum": 65535}}}})
        causes = S.validate({"spec": {"items": [{"name": "a", "port": 70000}, {}]}}, sch)
        self.assertEqual(causes, [
            {"reason": "FieldValueInvalid", "field": "spec.items[0].port",
             "message": "Invalid value: 70000: spec.items[0].port in body should be less than or equal to 65535"},
            {"reason": "FieldValueRequired", "field": "spec.items[1].name", "message": "Required value"}])
        # declared properties are checked before required ones, like kube-openapi
        sch2 = spec_schema(a={"type": "integer"}, b={"type": "integer"})
        sch2["properties"]["spec"]["required"] = ["c"]
        self.assertEqual([c["field"] for c in S.validate({"spec": {"b": "x", "a": "y"}}, sch2)],
                         ["spec.a", "spec.b", "spec.c"])

    def test_embedded_resource_requires_kind_and_api_version(self):
        sch = spec_schema(obj={"type": "object", "x-kubernetes-embedded-resource": True,
                               "x-kubernetes-preserve-unknown-fields": True})
        causes = S.validate({"spec": {"obj": {"metadata": {"name": "x"}}}}, sch)
        self.assertEqual(sorted(c["field"] for c in causes), ["spec.obj.apiVersion", "spec.obj.kind"])
        self.assertEqual({c["message"] for c in causes}, {"Required value: must not be empty"})
        causes = S.validate({"spec": {"obj": {"apiVersion": "", "kind": 3}}}, sch)
        self.assertEqual([(c["field"], c["message"]) for c in causes],
                         [("spec.obj.apiVersion", 'Invalid value: "": must not be empty'),
                          ("spec.obj.kind", "Invalid value: 3: must be a string")])
        self.assertEqual(S.validate({"spec": {"obj": {"apiVersion": "v1", "kind": "Pod"}}}, sch), [])
        causes = S.validate({"spec": {"obj": {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "a/b", "labels": {"bad key": "v"}}}}}, sch)
        self.assertEqual([(c["field"], c["message"][:41]) for c in causes],
                         [("spec.obj.metadata.name", "Invalid value: \"a/b\": may not contain '/'"),
                          ("spec.obj.metadata.labels", 'Invalid value: "bad key": name part must ')])

    def test_invalid_pattern_is_reported_not_ignored(self):
        causes = S.validate({"spec": {"f": "x"}}, spec_schema(f={"type": "string", "pattern": "(unclosed"}))
        self.assertEqual(len(causes), 1)
        self.assertIn("cannot be evaluated by kubesim", causes[0]["message"])


class Defaulting(unittest.TestCase):
    SCHEMA = {"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
        "replicas": {"type": "integer", "default": 1},
        "mode": {"type": "string", "default": "fast"},
        "note": {"type": "string"},
        "maybe": {"type": "string", "nullable": True},
        "ports": {"type": "array", "items": {"type": "object", "properties": {
            "protocol": {"type": "string", "default": "TCP"}, "port": {"type": "integer"}}}},
        "tags": {"type": "object", "additionalProperties": {"type": "string", "default": "x"}},
        "nested": {"type": "object", "default": {"inner": {}}, "properties": {
            "inner": {"type": "object", "properties": {"level": {"type": "integer", "default": 3}}}}},
    }}}}

    def test_missing_fields_get_defaults_recursively(self):
        obj = {}
        S.apply_defaults(obj, self.SCHEMA)
        self.assertEqual(obj, {"spec": {"replicas": 1, "mode": "fast", "nested": {"inner": {"level": 3}}}})

    def test_present_values_are_kept(self):
        obj = {"spec": {"replicas": 5, "mode": "slow", "nested": {}}}
        S.apply_defaults(obj, self.SCHEMA)
        self.assertEqual(obj["spec"]["replicas"], 5)
        self.assertEqual(obj["spec"]["mode"], "slow")
        self.assertEqual(obj["spec"]["nested"], {})   # no default for "inner" itself

    def test_nulls(self):
        obj = {"spec": {"replicas": None, "note": None, "maybe": None, "tags": {"a": None}}}
        S.apply_defaults(obj, self.SCHEMA)
        self.assertEqual(obj["spec"]["replicas"], 1)          # null, non-nullable, default -> default
        self.assertNotIn("note", obj["spec"])                   # null, non-nullable, no default -> pruned
        self.assertIn("maybe", obj["spec"])                     # nullable keeps null
        self.assertIsNone(obj["spec"]["maybe"])
        self.assertEqual(obj["spec"]["tags"], {"a": "x"})       # additionalProperties default

    def test_list_items(self):
        obj = {"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}}
        S.apply_defaults(obj, self.SCHEMA)
        self.assertEqual(obj["spec"]["ports"], [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}])

    def test_defaults_are_copies(self):
        a, b = {}, {}
        S.apply_defaults(a, self.SCHEMA)
        S.apply_defaults(b, self.SCHEMA)
        a["spec"]["nested"]["inner"]["level"] = 99
        self.assertEqual(b["spec"]["nested"]["inner"]["level"], 3)


class Pruning(unittest.TestCase):
    SCHEMA = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "known": {"type": "string"},
            "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                     "properties": {"typed": {"type": "object", "properties": {"k": {"type": "string"}}}}},
            "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "v": {"type": "integer"}}}},
            "emb": {"type": "object", "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object"}}},
        }},
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}

    def test_unknown_fields_removed_and_reported(self):
        obj = {"apiVersion": "x.io/v1", "kind": "K", "metadata": {"name": "a", "whatever": 1},
               "spec": {"known": "k", "unknown": 1,
                        "list": [{"a": "1", "b": 2}],
                        "free": {"anything": {"goes": 1}, "typed": {"k": "v", "drop": 1}},
                        "map": {"x": {"v": 1, "w": 2}},
                        "emb": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                "spec": {"c": 1}, "extra": 1}},
               "top": 1}
        paths = S.prune(obj, self.SCHEMA)
        self.assertEqual(paths, [".spec.emb.extra", ".spec.emb.spec.c", ".spec.free.typed.drop", ".spec.list[0].b",
                                 ".spec.map.x.w", ".spec.unknown", ".top"])
        self.assertEqual(obj["metadata"], {"name": "a", "whatever": 1})   # metadata is not pruned here
        self.assertEqual(obj["spec"]["free"]["anything"], {"goes": 1})
        self.assertEqual(obj["spec"]["emb"]["metadata"], {"name": "p"})
        self.assertEqual(obj["spec"]["emb"]["spec"], {})                  # object without properties
        self.assertNotIn("top", obj)

    def test_nothing_unknown(self):
        obj = {"apiVersion": "x.io/v1", "kind": "K", "spec": {"known": "k"}, "status": {"phase": "x"}}
        before = copy.deepcopy(obj)
        self.assertEqual(S.prune(obj, self.SCHEMA), [])
        self.assertEqual(obj, before)

    def test_subtree_not_resource_root(self):
        obj = {"apiVersion": "v1", "known": "x"}
        paths = S.prune(obj, self.SCHEMA["properties"]["spec"], ".spec", is_resource_root=False)
        self.assertEqual(paths, [".spec.apiVersion"])


class Structural(unittest.TestCase):
    def test_structural_schema_passes(self):
        sch = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "string", "default": "x"},
            "b": {"x-kubernetes-int-or-string": True},
            "c": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "d": {"type": "array", "items": {"type": "string"}},
            "e": {"type": "object", "additionalProperties": {"type": "string"}},
            "f": {"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}}}}}
        self.assertEqual(S.check_structural(sch), [])

    TABLE = [
        ({"type": "object", "properties": {"spec": {"properties": {}}}},
         "properties[spec].type: Required value: must not be empty for specified object fields"),
        ({"type": "object", "properties": {"l": {"type": "array"}}},
         "properties[l].items: Required value: must be specified"),
        ({"properties": {}},
         "type: Required value: must not be empty at the root"),
        ({"type": "object", "properties": {"a": {"type": "object", "properties": {"x": {"type": "string"}},
                                                 "additionalProperties": {"type": "string"}}}},
         "properties[a].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"),
        ({"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}]}}},
         "properties[a].anyOf[0].type: Forbidden: must be empty to be structural"),
        ({"type": "object", "properties": {"a": {"$ref": "#/x"}}},
         "properties[a].$ref: Forbidden: $ref is not supported"),
        ({"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}}},
         "properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity "
         "becomes quadratic"),
        ({"type": "object", "properties": {"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": False}}},
         "properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"),
        ({"type": "object", "additionalProperties": {"type": "string"}},
         "additionalProperties: Forbidden: must not be used at the root"),
        ({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
            "labels": {"type": "object"}}}}},
         "properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
         "metadata is implicitly specified"),
        ({"type": "object", "properties": {"a": {"type": "object", "anyOf": [
            {"properties": {"b": {"maxLength": 3}}}]}}},
         "properties[a].properties[b]: Required value: because it is defined in "
         "properties[a].anyOf[0].properties[b]"),
        ({"type": "object", "properties": {"e": {"type": "object", "x-kubernetes-embedded-resource": True}}},
         "properties[e].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true "
         "without x-kubernetes-preserve-unknown-fields"),
        ({"type": "object", "properties": {"i": {"x-kubernetes-int-or-string": True,
                                                 "x-kubernetes-preserve-unknown-fields": True}}},
         "properties[i].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if "
         "x-kubernetes-int-or-string is true"),
        ({"type": "object", "properties": {"l": {"type": "array", "items": {"properties": {}}}}},
         "properties[l].items.type: Required value: must not be empty for specified array items"),
        ({"type": "object", "properties": {"a": {"type": "string", "default": 5}}},
         'properties[a].default: Invalid value: "integer": a in body must be of type string: "integer"'),
        ({"type": "object", "properties": {"a": {"type": "strin"}}},
         'properties[a].type: Unsupported value: "strin": supported values: "array", "boolean", "integer", '
         '"number", "object", "string"'),
    ]

    def test_non_structural_reasons(self):
        for sch, want in self.TABLE:
            with self.subTest(want=want):
                self.assertIn(want, S.check_structural(sch))

    def test_patterns_re2_rejects(self):
        for pat, err in (("(?=a)", "invalid or unsupported Perl syntax: `(?=`"),
                         ("(a)\\1", "invalid escape sequence: `\\1`"),
                         ("a++", "invalid nested repetition operator: `++`"),
                         ("\\u0041", "invalid escape sequence: `\\u`")):
            with self.subTest(pattern=pat):
                errs = S.check_structural({"type": "object", "properties": {"a": {"type": "string", "pattern": pat}}})
                self.assertEqual(errs, ["properties[a].pattern: Invalid value: %s: must be a valid regular "
                                        "expression, but isn't: error parsing regexp: %s" % (S.go_value(pat), err)])

    def test_int_or_string_any_of_pattern_is_structural(self):
        sch = {"type": "object", "properties": {"p": {"x-kubernetes-int-or-string": True,
                                                      "anyOf": [{"type": "integer"}, {"type": "string"}]}}}
        self.assertEqual(S.check_structural(sch), [])

    def test_structural_errors_sorted(self):
        errs = S.check_structural({"type": "object", "properties": {"z": {}, "a": {}}})
        self.assertEqual(errs, sorted(errs))
        self.assertEqual(len(errs), 2)

    def test_causes_with_base_path(self):
        causes = S.check_structural_causes({"type": "object", "properties": {"spec": {}}},
                                           "spec.versions[0].schema.openAPIV3Schema")
        self.assertEqual(causes, [{"reason": "FieldValueRequired",
                                   "message": "Required value: must not be empty for specified object fields",
                                   "field": "spec.versions[0].schema.openAPIV3Schema.properties[spec].type"}])

    def test_unsupported_features(self):
        sch = {"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-validations": [
            {"rule": "self.a > 0"}]}}}
        self.assertEqual(S.unsupported_features(sch),
                         ["properties[spec]: x-kubernetes-validations (CEL) is not supported by kubesim"])
        self.assertEqual(S.unsupported_features({"type": "object"}), [])


class BuiltinSchemas(unittest.TestCase):
    """builtin_schemas.py: shapes, required lists and descriptions as the real OpenAPI has them."""

    def setUp(self):
        import builtin_schemas
        self.b = builtin_schemas

    def test_kinds_served(self):
        want = {("", "v1", k) for k in ("Namespace", "ConfigMap", "Secret", "Service", "Pod", "Event")} | {
            ("events.k8s.io", "v1", "Event"), ("apps", "v1", "Deployment"), ("batch", "v1", "Job"),
            ("autoscaling", "v2", "HorizontalPodAutoscaler"), ("networking.k8s.io", "v1", "Ingress"),
            ("coordination.k8s.io", "v1", "Lease"), ("apiextensions.k8s.io", "v1", "CustomResourceDefinition")}
        self.assertLessEqual(want, set(self.b.SCHEMAS))
        for key in want:
            s = self.b.schema_for(*key)
            self.assertEqual(s["x-kubernetes-group-version-kind"],
                             [{"group": key[0], "kind": key[2], "version": key[1]}])

    def test_descriptions(self):
        dep = self.b.schema_for("apps", "v1", "Deployment")
        self.assertEqual(dep["description"], "Deployment enables declarative updates for Pods and ReplicaSets.")
        self.assertEqual(dep["properties"]["spec"]["description"],
                         "Specification of the desired behavior of the Deployment.")
        self.assertTrue(dep["properties"]["spec"]["properties"]["selector"]["description"].startswith(
            "Label selector for pods."))
        for key, s in self.b.SCHEMAS.items():
            self.assertTrue(s.get("description"), key)

    def test_schema_for_returns_a_copy(self):
        s = self.b.schema_for("", "v1", "Pod")
        s["properties"].clear()
        self.assertIn("spec", self.b.schema_for("", "v1", "Pod")["properties"])
        self.assertIsNone(self.b.schema_for("", "v1", "Nope"))

    def test_required_and_types_validate_like_the_server(self):
        dep = self.b.schema_for("apps", "v1", "Deployment")
        causes = S.validate({"spec": {"template": {"spec": {"containers": [{"image": "x", "ports": [{}]}]}}}},
                            dep)
        self.assertEqual(sorted((c["field"], c["message"]) for c in causes), [
            ("spec.selector", "Required value"),
            ("spec.template.spec.containers[0].name", "Required value"),
            ("spec.template.spec.containers[0].ports[0].containerPort", "Required value")])
        causes = S.validate({"spec": {"replicas": "3", "selector": {}, "template": {}}}, dep)
        self.assertEqual([c["message"] for c in causes],
                         ['Invalid value: "string": spec.replicas in body must be of type integer: "string"'])
        svc = self.b.schema_for("", "v1", "Service")
        causes = S.validate({"spec": {"ports": [{"targetPort": 80}]}}, svc)
        self.assertEqual([(c["field"], c["message"]) for c in causes],
                         [("spec.ports[0].port", "Required value")])

    def test_realistic_objects_have_no_unknown_fields(self):
        pod_spec = {"serviceAccountName": "sa", "nodeSelector": {"disk": "ssd"},
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}},
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                    "securityContext": {"runAsNonRoot": True}, "imagePullSecrets": [{"name": "reg"}],
                    "containers": [{
                        "name": "web", "image": "nginx", "command": ["nginx"], "args": ["-g", "x"],
                        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "A", "value": "1"},
                                {"name": "P", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                        "envFrom": [{"configMapRef": {"name": "c"}}],
                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": 1}},
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2},
                        "livenessProbe": {"tcpSocket": {"port": 80}},
                        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}]}],
                    "volumes": [{"name": "cfg", "configMap": {"name": "c", "items": [{"key": "a", "path": "a"}]}},
                                {"name": "d", "emptyDir": {"sizeLimit": "1Gi"}},
                                {"name": "p", "projected": {"sources": []}}]}
        dep = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "labels": {"app": "web"}, "ownerReferences": [
                   {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u", "controller": True}]},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                        "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}},
               "status": {"observedGeneration": 1, "conditions": [{"type": "Available", "status": "True",
                                                                   "lastUpdateTime": "2024-01-01T00:00:00Z"}]}}
        sch = self.b.schema_for("apps", "v1", "Deployment")
        self.assertEqual(S.validate(dep, sch), [])
        self.assertEqual(S.prune(dep, sch), [])
        dep["spec"]["template"]["spec"]["containers"][0]["imagee"] = "typo"
        self.assertEqual(S.prune(dep, sch), [".spec.template.spec.containers[0].imagee"])

    def test_patch_metadata_spot_checks(self):
        pod = self.b.schema_for("", "v1", "Pod")["properties"]["spec"]["properties"]
        c = pod["containers"]["items"]["properties"]
        self.assertEqual((pod["containers"]["x-kubernetes-patch-merge-key"],
                          pod["containers"]["x-kubernetes-patch-strategy"]), ("name", "merge"))
        self.assertEqual(pod["volumes"]["x-kubernetes-patch-strategy"], "merge,retainKeys")
        self.assertEqual(c["ports"]["x-kubernetes-patch-merge-key"], "containerPort")
        self.assertEqual(c["volumeMounts"]["x-kubernetes-patch-merge-key"], "mountPath")
        self.assertNotIn("x-kubernetes-patch-strategy", pod["tolerations"])
        meta = self.b.schema_for("apps", "v1", "Deployment")["properties"]["metadata"]["properties"]
        self.assertEqual(meta["ownerReferences"]["x-kubernetes-patch-merge-key"], "uid")
        self.assertEqual(meta["finalizers"]["x-kubernetes-patch-strategy"], "merge")


class GoRoundtrip(unittest.TestCase):
    def test_empty_optional_lists_and_maps_vanish(self):
        import builtin_schemas
        sch = builtin_schemas.SCHEMAS[("apps", "v1", "Deployment")]
        obj = {"metadata": {"name": "x", "finalizers": [], "labels": {}, "annotations": None},
               "spec": {"replicas": None, "selector": {"matchLabels": {"a": "b"}},
                        "template": {"spec": {"containers": [{"name": "c", "image": "i", "env": [],
                                                              "resources": {}}],
                                              "volumes": []}},
                        "strategy": {}}}
        S.go_roundtrip(obj, sch)
        self.assertEqual(obj, {"metadata": {"name": "x"},
                               "spec": {"selector": {"matchLabels": {"a": "b"}},
                                        "template": {"spec": {"containers": [{"name": "c", "image": "i",
                                                                              "resources": {}}]}},
                                        "strategy": {}}})

    def test_required_lists_stay(self):
        import builtin_schemas
        sch = builtin_schemas.SCHEMAS[("", "v1", "Pod")]
        obj = {"spec": {"containers": []}}
        S.go_roundtrip(obj, sch)
        self.assertEqual(obj, {"spec": {"containers": []}})


class GoFormatting(unittest.TestCase):
    def test_float_formatting_like_go(self):
        for f, want in [(1.0, "1"), (1.5, "1.5"), (1e6, "1e+06"), (100000.0, "100000"),
                        (0.0001, "0.0001"), (0.00001, "1e-05"), (123456789.0, "1.23456789e+08"),
                        (-2.5, "-2.5")]:
            self.assertEqual(S.go_float(f), want)


if __name__ == "__main__":
    unittest.main()
