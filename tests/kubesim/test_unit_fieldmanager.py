"""fieldmanager.py without a server: FieldsV1 encoding, path strings, the conflict Status as
conflict.go words it (one conflict, several managers), Update taking fields from other managers,
Apply's merge by list-map keys and its pruning, the last-applied allowance."""

import json
import unittest

import fieldmanager as fm

SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "replicas": {"type": "integer"},
        "items": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "properties": {
                      "name": {"type": "string"}, "v": {"type": "integer"},
                      "proto": {"type": "string", "default": "TCP"}}}},
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["port", "proto"],
                  "items": {"type": "object", "properties": {
                      "port": {"type": "integer"},
                      "proto": {"type": "string", "default": "TCP"}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set",
                 "items": {"type": "string"}},
        "args": {"type": "array", "items": {"type": "string"}},
        "sel": {"type": "object", "x-kubernetes-map-type": "atomic",
                "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
    "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}
NOW = "2026-01-01T00:00:00Z"


def obj(spec=None, **meta):
    o = {"apiVersion": "x.io/v1", "kind": "T", "metadata": dict({"name": "t"}, **meta)}
    if spec is not None:
        o["spec"] = spec
    return o


def fields(managers, key):
    return fm.to_fields(managers[key]["set"])


class FieldSetTest(unittest.TestCase):
    def test_fieldsv1_shape(self):
        o = obj({"replicas": 1, "items": [{"name": "a", "v": 1}], "ports": [{"port": 80}],
                 "tags": ["x"], "args": ["1"], "sel": {"a": "b"},
                 "free": {"k": {"n": 1}, "l": [1]}}, labels={"app": "t"})
        got = fm.to_fields(set(fm.walk(o, SCHEMA)))
        self.assertEqual(got, {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:args": {}, "f:free": {"f:k": {".": {}, "f:n": {}}, "f:l": {}},
                "f:items": {'k:{"name":"a"}': {".": {}, "f:name": {}, "f:v": {}}},
                "f:ports": {'k:{"port":80,"proto":"TCP"}': {".": {}, "f:port": {}}},
                "f:replicas": {}, "f:sel": {}, "f:tags": {'v:"x"': {}}}})
        self.assertEqual(fm.from_fields(got), set(fm.walk(o, SCHEMA)), "round trip")

    def test_path_strings(self):
        self.assertEqual(fm.path_string(("f:spec", "f:replicas")), ".spec.replicas")
        self.assertEqual(fm.path_string(("f:spec", 'k:{"port":80,"proto":"TCP"}', "f:port")),
                         '.spec[port=80,proto="TCP"].port')
        self.assertEqual(fm.path_string(("f:spec", "f:tags", 'v:"x"')), '.spec.tags[="x"]')

    def test_decode_refuses_unknown_operations(self):
        with self.assertRaises(ValueError):
            fm.decode([{"manager": "m", "operation": "Patch", "fieldsV1": {}}])
        m = fm.decode([{"manager": "m", "operation": "Update", "apiVersion": "x.io/v1",
                        "time": NOW, "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:spec": {"f:replicas": {}}}}])
        self.assertEqual(fm.encode(m), [{"manager": "m", "operation": "Update",
                                         "apiVersion": "x.io/v1", "time": NOW,
                                         "fieldsType": "FieldsV1",
                                         "fieldsV1": {"f:spec": {"f:replicas": {}}}}])


class UpdateApplyTest(unittest.TestCase):
    def test_update_takes_changed_fields_and_drops_removed_ones(self):
        live = obj({"replicas": 1, "tags": ["x"]})
        _, ms = fm.apply({}, None, live, SCHEMA, "a", "x.io/v1", "", None, False, NOW)
        new = obj({"replicas": 2})
        ms = fm.update(ms, live, new, SCHEMA, "u", "x.io/v1", "", None, NOW)
        self.assertEqual(fields(ms, ("u", "Update", "x.io/v1", "")),
                         {"f:spec": {"f:replicas": {}}})
        self.assertNotIn(("a", "Apply", "", ""), ms, "a manager left with nothing goes")

    def test_conflict_messages(self):
        live = obj({"replicas": 1, "items": [{"name": "a", "v": 1}]})
        _, ms = fm.apply({}, None, live, SCHEMA, "a", "x.io/v1", "", None, False, NOW)
        ms = fm.update(ms, live, obj({"replicas": 1, "items": [{"name": "a", "v": 2}]}),
                       SCHEMA, "u", "x.io/v1", "", None, NOW)
        live = obj({"replicas": 1, "items": [{"name": "a", "v": 2}]})
        with self.assertRaises(fm.Conflict) as c:
            fm.apply(ms, live, obj({"replicas": 3, "items": [{"name": "a", "v": 3}]}),
                     SCHEMA, "b", "x.io/v1", "", None, False, NOW)
        message, causes = c.exception.status()
        self.assertEqual(message, 'Apply failed with 2 conflicts: conflicts with "a":\n'
                                  '- .spec.replicas\nconflicts with "u" using x.io/v1:\n'
                                  '- .spec.items[name="a"].v')
        self.assertEqual(causes[1], {"reason": "FieldManagerConflict",
                                     "message": 'conflict with "u" using x.io/v1',
                                     "field": '.spec.items[name="a"].v'})
        merged, ms2 = fm.apply(ms, live, obj({"replicas": 3}), SCHEMA, "b", "x.io/v1", "",
                               None, True, NOW)
        self.assertEqual(merged["spec"]["replicas"], 3)
        self.assertNotIn(("f:spec", "f:replicas"), ms2[("a", "Apply", "", "")]["set"])

    def test_apply_merges_by_key_and_prunes_what_it_dropped(self):
        live = obj({"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}], "tags": ["x"]},
                   labels={"keep": "1", "drop": "1"})
        merged, ms = fm.apply({}, None, live, SCHEMA, "a", "x.io/v1", "", None, False, NOW)
        ms = fm.update(ms, merged, dict(merged, metadata=dict(
            merged["metadata"], labels={"keep": "1", "drop": "1", "other": "1"})),
            SCHEMA, "o", "x.io/v1", "", None, NOW)
        cur = dict(merged, metadata=dict(merged["metadata"],
                                         labels={"keep": "1", "drop": "1", "other": "1"}))
        out, ms = fm.apply(ms, cur, obj({"items": [{"name": "b", "v": 3}], "tags": ["y"]},
                                        labels={"keep": "1"}),
                           SCHEMA, "a", "x.io/v1", "", None, False, NOW)
        self.assertEqual(out["spec"]["items"], [{"name": "b", "v": 3}], "a was dropped")
        self.assertEqual(out["spec"]["tags"], ["y"])
        self.assertEqual(out["metadata"]["labels"], {"keep": "1", "other": "1"})

    def test_same_value_is_shared_not_a_conflict(self):
        live = obj({"replicas": 2})
        _, ms = fm.apply({}, None, live, SCHEMA, "a", "x.io/v1", "", None, False, NOW)
        out, ms = fm.apply(ms, live, obj({"replicas": 2}), SCHEMA, "b", "x.io/v1", "", None,
                           False, NOW)
        self.assertEqual(out, live)
        self.assertIn(("f:spec", "f:replicas"), ms[("a", "Apply", "", "")]["set"])
        self.assertIn(("f:spec", "f:replicas"), ms[("b", "Apply", "", "")]["set"])

    def test_more_than_ten_update_managers_fold_into_ancient_changes(self):
        ms = {}
        cur = obj({})
        for i in range(12):
            new = obj(dict(cur["spec"], **{"f%02d" % i: i}))
            ms = fm.update(ms, cur, new, SCHEMA, "m%02d" % i, "x.io/v1", "", None,
                           "2026-01-01T00:00:%02dZ" % i)
            cur = new
        names = sorted(k[0] for k in ms)
        self.assertEqual(len(names), 10)
        self.assertEqual(names[0], "ancient-changes")
        self.assertNotIn("m00", names)
        self.assertNotIn("m02", names)
        self.assertIn("m03", names)
        bucket = ms[("ancient-changes", "Update", "x.io/v1", "")]
        self.assertEqual(fm.to_fields(bucket["set"]),
                         {"f:spec": {"f:f00": {}, "f:f01": {}, "f:f02": {}}})
        self.assertEqual(bucket["time"], "2026-01-01T00:00:02Z")

    def test_last_applied_allowance(self):
        la = obj({"replicas": 1, "tags": ["x"]})
        live = obj({"replicas": 1, "tags": ["x", "z"]}, annotations={
            fm.LAST_APPLIED: json.dumps(la)})
        allowed = fm.last_applied_allowed(live, SCHEMA, None)
        self.assertIn(("f:spec", "f:replicas"), allowed)
        self.assertIn(("f:spec", "f:tags", 'v:"x"'), allowed)
        self.assertNotIn(("f:spec", "f:tags", 'v:"z"'), allowed)
        self.assertEqual(fm.build_last_applied(obj({"replicas": 1}, annotations={
            fm.LAST_APPLIED: "x", "a": "b"})),
            '{"apiVersion":"x.io/v1","kind":"T","metadata":{"annotations":{"a":"b"},'
            '"name":"t"},"spec":{"replicas":1}}\n')


if __name__ == "__main__":
    unittest.main()
