"""Unit tests for selectors.py: label/field selector parsing, matching and error texts.

Expected behaviour and messages are those of k8s.io/apimachinery/pkg/labels and
pkg/fields (the apiserver returns these texts in a 400 BadRequest Status).
Run: cd tests/kubesim && /usr/bin/python3 -m unittest -v test_unit_selectors
"""

import unittest

import kselectors as ks

QNAME_RX = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"


class LabelSelectorParsing(unittest.TestCase):
    # (selector text, labels, expected match)
    MATCH_TABLE = [
        ("", {}, True),
        ("", {"a": "b"}, True),
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a==b", {"a": "b"}, True),
        ("a!=b", {"a": "c"}, True),
        ("a!=b", {}, True),                       # != matches when the key is absent
        ("a!=b", {"a": "b"}, False),
        ("a in (x,y)", {"a": "y"}, True),
        ("a in (x,y)", {"a": "z"}, False),
        ("a in (x,y)", {}, False),
        ("a notin (x,y)", {"a": "z"}, True),
        ("a notin (x,y)", {}, True),              # notin matches when the key is absent
        ("a notin (x,y)", {"a": "x"}, False),
        ("a", {"a": ""}, True),                   # exists
        ("a", {"b": "x"}, False),
        ("!a", {"b": "x"}, True),                 # does not exist
        ("!a", {"a": "x"}, False),
        ("a=b,c!=d", {"a": "b", "c": "e"}, True),
        ("a=b,c!=d", {"a": "b", "c": "d"}, False),
        ("a=b,c!=d,e in (x,y),f notin (z),g,!h",
         {"a": "b", "e": "x", "g": "1", "f": "q"}, True),
        ("a=b,c!=d,e in (x,y),f notin (z),g,!h",
         {"a": "b", "e": "x", "g": "1", "h": ""}, False),
        ("  a = b , c in ( x ) ", {"a": "b", "c": "x"}, True),   # whitespace is insignificant
        ("a=", {"a": ""}, True),                  # empty value
        ("a in (in,notin)", {"a": "notin"}, True),  # keywords are identifiers in value position
        ("example.com/app=web", {"example.com/app": "web"}, True),
        ("x>1", {"x": "2"}, True),
        ("x>1", {"x": "1"}, False),
        ("x<1", {"x": "0"}, True),
        ("x>1", {"x": "nan"}, False),
    ]

    def test_match_table(self):
        for text, labels, want in self.MATCH_TABLE:
            with self.subTest(selector=text, labels=labels):
                self.assertEqual(ks.parse_label_selector(text).matches(labels), want)

    def test_string_form_is_sorted_and_normalised(self):
        self.assertEqual(str(ks.parse_label_selector("z=1, a in (y,x),!m")), "a in (x,y),!m,z=1")

    # (selector text, exact apiserver message)
    ERROR_TABLE = [
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a=b c=d", "found 'c', expected: ',' or 'end of string'"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"),
        ("a@=b", "unable to parse requirement: <nil>: Invalid value: \"a@\": name part must consist of "
                 "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                 "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '"
                 + QNAME_RX + "')"),
        ("a=b@", "unable to parse requirement: values[0][a]: Invalid value: \"b@\": a valid label must be "
                 "an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
                 "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                 "regex used for validation is '(" + QNAME_RX + ")?')"),
        ("x>a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, "
                "the value must be an integer"),
        ("/a=b", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty"),
    ]

    def test_error_messages(self):
        for text, message in self.ERROR_TABLE:
            with self.subTest(selector=text):
                with self.assertRaises(ks.SelectorError) as cm:
                    ks.parse_label_selector(text)
                self.assertEqual(str(cm.exception), message)
                self.assertIsInstance(cm.exception, ValueError)

    def test_too_long_key_and_value(self):
        with self.assertRaises(ks.SelectorError) as cm:
            ks.parse_label_selector("a=" + "v" * 64)
        self.assertIn("must be no more than 63 characters", str(cm.exception))
        with self.assertRaises(ks.SelectorError) as cm:
            ks.parse_label_selector("k" * 64)
        self.assertIn("name part must be no more than 63 characters", str(cm.exception))


class LabelSelectorObject(unittest.TestCase):
    def test_match_labels_and_expressions(self):
        sel = ks.label_selector_from_object({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "team", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"},
            ]})
        self.assertTrue(sel.matches({"app": "web", "tier": "a", "team": "x"}))
        self.assertFalse(sel.matches({"app": "web", "tier": "a", "team": "x", "legacy": "1"}))
        self.assertFalse(sel.matches({"app": "web", "tier": "c", "team": "x"}))
        self.assertFalse(sel.matches({"app": "web", "tier": "a", "team": "x", "env": "prod"}))
        self.assertFalse(sel.matches({"app": "db", "tier": "a", "team": "x"}))

    def test_empty_matches_everything_and_none_matches_nothing(self):
        self.assertTrue(ks.label_selector_from_object({}).matches({"a": "b"}))
        self.assertFalse(ks.label_selector_from_object(None).matches({"a": "b"}))
        self.assertFalse(ks.label_selector_from_object(None).matches({}))

    def test_errors(self):
        with self.assertRaises(ks.SelectorError) as cm:
            ks.label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "Gt"}]})
        self.assertEqual(str(cm.exception), '"Gt" is not a valid label selector operator')
        with self.assertRaises(ks.SelectorError) as cm:
            ks.label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "In"}]})
        self.assertEqual(str(cm.exception), "values: Invalid value: []string{}: for 'in', 'notin' "
                                            "operators, values set can't be empty")
        with self.assertRaises(ks.SelectorError) as cm:
            ks.label_selector_from_object({"matchExpressions": [
                {"key": "a", "operator": "Exists", "values": ["x"]}]})
        self.assertIn("values set must be empty for exists and does not exist", str(cm.exception))


class FieldSelectors(unittest.TestCase):
    MATCH_TABLE = [
        ("", {"metadata.name": "x"}, True),
        ("metadata.name=x", {"metadata.name": "x"}, True),
        ("metadata.name==x", {"metadata.name": "x"}, True),
        ("metadata.name=x", {"metadata.name": "y"}, False),
        ("metadata.name!=x", {"metadata.name": "y"}, True),
        ("metadata.name!=x", {"metadata.name": "x"}, False),
        ("metadata.name=x,metadata.namespace!=y", {"metadata.name": "x", "metadata.namespace": "z"}, True),
        ("metadata.name=x,metadata.namespace!=y", {"metadata.name": "x", "metadata.namespace": "y"}, False),
        ("metadata.name=a\\,b", {"metadata.name": "a,b"}, True),      # escaped comma
        ("metadata.name=", {"metadata.name": ""}, True),
        ("status.phase=Running", {"status.phase": "Running"}, True),
    ]

    def test_match_table(self):
        for text, fields, want in self.MATCH_TABLE:
            with self.subTest(selector=text):
                fs = ks.parse_field_selector(text, {"status.phase"})
                self.assertEqual(fs.matches(fields), want)

    ERROR_TABLE = [
        ("spec.x=1", "field label not supported: spec.x"),
        ("status.phase=Running", "field label not supported: status.phase"),   # not in `supported`
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
        ("metadata.name=a\\q", "invalid field selector: invalid escape sequence: \\q"),
        ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
    ]

    def test_errors(self):
        for text, message in self.ERROR_TABLE:
            with self.subTest(selector=text):
                with self.assertRaises(ks.SelectorError) as cm:
                    ks.parse_field_selector(text, set())
                self.assertEqual(str(cm.exception), message)

    def test_value_for_exact_match(self):
        fs = ks.parse_field_selector("metadata.namespace=ns1,metadata.name!=x", set())
        self.assertEqual(fs.value_for("metadata.namespace"), "ns1")
        self.assertIsNone(fs.value_for("metadata.name"))


class ValidationHelpers(unittest.TestCase):
    def test_qualified_names(self):
        for good in ("a", "A.b-c_d", "example.com/x", "a" * 63):
            self.assertEqual(ks.is_qualified_name(good), [], good)
        self.assertEqual(ks.is_qualified_name("a/b/c")[0][:18], "a qualified name m")
        self.assertEqual(ks.is_qualified_name("Example.com/x")[0][:40],
                         "prefix part a lowercase RFC 1123 subdoma")
        self.assertEqual(ks.is_qualified_name("-a")[0][:30], "name part must consist of alph")

    def test_dns_names(self):
        self.assertEqual(ks.is_dns1123_subdomain("my-app.example"), [])
        self.assertEqual(ks.is_dns1123_subdomain("My_App"), [
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
            "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
            "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"])
        self.assertEqual(ks.is_dns1123_label("a.b")[0][:38], "a lowercase RFC 1123 label must consis")
        self.assertEqual(ks.is_dns1123_label("x" * 64)[0], "must be no more than 63 characters")

    def test_trailing_newline_is_not_valid(self):
        # Go's regexp $ is end of text; Python's $ would accept "a\n"
        self.assertNotEqual(ks.is_valid_label_value("a\n"), [])
        self.assertNotEqual(ks.is_qualified_name("a\n"), [])

    def test_validate_labels_causes(self):
        causes = ks.validate_labels({"ok": "fine", "bad key": "v", "k": "bad value!"})
        self.assertEqual([c["field"] for c in causes], ["metadata.labels", "metadata.labels"])
        self.assertTrue(causes[0]["message"].startswith('Invalid value: "bad key": name part must'))
        self.assertTrue(causes[1]["message"].startswith('Invalid value: "bad value!": a valid label'))


class KubectlOracle(unittest.TestCase):
    """`kubectl set selector --local` parses its argument with k8s.io/apimachinery/pkg/labels
    (the apiserver's parser) and prints the parser's error: the reference for accept/reject
    decisions and for the exact error text."""

    TOKENS = ["a", "b", "x.y/z", "in", "notin", "=", "==", "!=", "!", "(", ")", ",", " ", "  ", ">", "<",
              "1", "a@", "-a", "A_b", "", "!!", "=(", "),", "k" * 64, "ex.com/", "/n", "a/b/c", "(,)", "gt"]

    @classmethod
    def setUpClass(cls):
        import json
        import os
        import shutil
        import tempfile
        cls.kubectl = shutil.which("kubectl")
        if not cls.kubectl:
            raise unittest.SkipTest("kubectl not installed: cannot cross-check against the reference")
        cls.tmp = tempfile.mkdtemp(prefix="kubesim-sel-")
        cls.svc = os.path.join(cls.tmp, "svc.json")
        with open(cls.svc, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                       "spec": {"selector": {"a": "b"}, "ports": [{"port": 80}]}}, f)
        cls.env = dict(os.environ, KUBECONFIG=os.path.join(cls.tmp, "none"), KUBECACHEDIR=cls.tmp)

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_parse_errors_agree(self):
        import random
        import subprocess
        rnd = random.Random(1123)
        cases = ["a=b,c!=d,e in (x,y),f notin (z),g,!h", "a in b", "a@=b", "a=b@", "a b", "a,", ",a", "a in (x",
                 "a=(", "x>a", "/a=b", "a in ()", "a in (,)", "a!!b", "a==b==c", "!a=b", "a notin(x)"]
        cases += ["".join(rnd.choice(self.TOKENS) for _ in range(rnd.randint(1, 7))) for _ in range(80)]
        for sel in cases:
            with self.subTest(selector=sel):
                r = subprocess.run([self.kubectl, "set", "selector", "--local", "-f", self.svc, "-o", "json",
                                    "--", sel], capture_output=True, text=True, timeout=30, env=self.env)
                prefix = 'error: couldn\'t parse the selector string "%s": ' % sel
                err = r.stderr.strip()
                want = err[len(prefix):] if err.startswith(prefix) else None
                try:
                    ks.parse_label_selector(sel)
                    got = None
                except ks.SelectorError as e:
                    got = str(e)
                self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
