"""The Argo CD health checks of manifests/argocd/ (docs/gitops.md), run with Debian's Lua.

Argo CD runs a resource's health.lua with a global `obj` (the object as a Lua table) and reads
the table it returns: hs.status (Healthy, Progressing, Degraded, Suspended, Missing, Unknown)
and hs.message. This test does the same with lua5.4 for every case of each kind's
health_test.yaml (Argo CD's test format) and checks:
- each script's answer for each testdata object, status and message, as health_test.yaml says;
- every testdata file has a case, and every case's file exists;
- the testdata are what the planner writes: test_plan's kstatus-* fixtures dump the same objects
  (hack/argocd-testdata.sh rewrites them after a change);
- the argocd-cm snippet users paste holds both scripts word for word, as kubectl reads it.

Argo CD's Lua is gopher-lua (Lua 5.1): the scripts use nothing that 5.1 lacks. Python's standard
library has no YAML parser: health_test.yaml is read in its fixed form (see its head comment),
and the testdata are JSON (which is YAML) under one comment line.
Python 3 standard library only.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import Kubesim

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGOCD = os.path.join(REPO, "manifests", "argocd")
KINDS = ("Rollout", "Release")
STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
BUILD_DIR = os.environ.get("TOLLGATE_BUILD_DIR") or os.path.join(REPO, "build")


def lua_interpreter():
    for name in ("lua5.4", "lua5.3", "lua"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("no Lua interpreter: hack/deps.sh installs lua5.4")


def lua_literal(value):
    """value (from JSON) as a Lua 5.1 expression; JSON null is nil, as in Argo CD."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        out = []
        for byte in value.encode("utf-8"):
            ch = chr(byte)
            if ch in "\\\"":
                out.append("\\" + ch)
            elif 32 <= byte < 127:
                out.append(ch)
            else:
                out.append("\\%03d" % byte)
        return '"' + "".join(out) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join("[%s] = %s" % (lua_literal(k), lua_literal(v))
                               for k, v in value.items()) + "}"
    raise TypeError("not JSON: %r" % (value,))


def read_testdata(path):
    """A testdata file: comment lines, then one JSON object."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    body = [line for line in lines if not line.startswith("#")]
    return json.loads("\n".join(body))


def read_health_tests(path):
    """health_test.yaml in its fixed form: [(status, message, inputPath)]."""
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line and not line.startswith("#")]
    if not lines or lines[0] != "tests:":
        raise AssertionError("%s: must start with 'tests:'" % path)
    cases, rest = [], lines[1:]
    if len(rest) % 4:
        raise AssertionError("%s: each case is 4 lines" % path)
    for i in range(0, len(rest), 4):
        head, status, message, input_path = rest[i:i + 4]
        m_status = re.fullmatch(r"    status: ([A-Za-z]+)", status)
        m_message = re.fullmatch(r'    message: (".*")', message)
        m_input = re.fullmatch(r"  inputPath: (testdata/[-a-z0-9]+\.yaml)", input_path)
        if head != "- healthStatus:" or not (m_status and m_message and m_input):
            raise AssertionError("%s: case %d is not in the fixed form:\n%s"
                                 % (path, i // 4, "\n".join(rest[i:i + 4])))
        cases.append((m_status.group(1), json.loads(m_message.group(1)), m_input.group(1)))
    return cases


def run_health(lua, script, obj):
    """Runs script as Argo CD does; returns (status, message)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8", delete=False) as f:
        f.write("obj = %s\n" % lua_literal(obj))
        f.write("local hs = dofile(%s)\n" % lua_literal(script))
        f.write('io.write(tostring(hs.status), "\\n", tostring(hs.message))\n')
        driver = f.name
    try:
        out = subprocess.run([lua, driver], capture_output=True, text=True, timeout=30)
    finally:
        os.unlink(driver)
    if out.returncode != 0:
        raise AssertionError("%s failed: %s" % (script, out.stderr))
    status, _, message = out.stdout.partition("\n")
    return status, message


class ArgoCDHealthTest(unittest.TestCase):
    def test_health_checks(self):
        lua = lua_interpreter()
        seen = 0
        for kind in KINDS:
            root = os.path.join(ARGOCD, "tollgate.io", kind)
            script = os.path.join(root, "health.lua")
            cases = read_health_tests(os.path.join(root, "health_test.yaml"))
            files = {os.path.relpath(p, root)
                     for p in glob.glob(os.path.join(root, "testdata", "*"))}
            self.assertEqual(files, {c[2] for c in cases},
                             "%s: testdata files and health_test.yaml cases differ" % kind)
            got_statuses = set()
            for want_status, want_message, input_path in cases:
                self.assertIn(want_status, STATUSES)
                obj = read_testdata(os.path.join(root, input_path))
                self.assertEqual(obj["kind"], kind, input_path)
                with self.subTest(kind=kind, input=input_path):
                    self.assertEqual(run_health(lua, script, obj), (want_status, want_message))
                got_statuses.add(want_status)
                seen += 1
            # Each kind meets every status but Missing (Argo CD decides that one itself).
            self.assertEqual(got_statuses, STATUSES - {"Missing", "Unknown"}, kind)
        self.assertGreaterEqual(seen, 20)

    def test_lua_literal_round_trip(self):
        """Strings with quotes, backslashes, newlines and UTF-8 reach Lua unchanged."""
        lua = lua_interpreter()
        text = 'a "quoted" \\ back\nslash, caf\u00e9 \u2713'
        with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8", delete=False) as f:
            f.write("return {status = %s, message = %s}\n"
                    % (lua_literal("Healthy"), lua_literal(text)))
            script = f.name
        try:
            self.assertEqual(run_health(lua, script, {"n": 2, "x": None, "l": [1, True]}),
                             ("Healthy", text))
        finally:
            os.unlink(script)

    def test_testdata_is_what_the_planner_writes(self):
        test_plan = os.path.join(BUILD_DIR, "tests", "test_plan")
        self.assertTrue(os.access(test_plan, os.X_OK), "%s is not built" % test_plan)
        with tempfile.TemporaryDirectory() as dump:
            env = dict(os.environ, TG_PLAN_ONLY="kstatus-", TG_PLAN_DUMP=dump)
            out = subprocess.run([test_plan], env=env, capture_output=True, text=True,
                                 timeout=120)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            dumped = {os.path.basename(p)[:-len(".json")]: p
                      for p in glob.glob(os.path.join(dump, "*.json"))}
            testdata = {}
            for kind in KINDS:
                for p in glob.glob(os.path.join(ARGOCD, "tollgate.io", kind, "testdata", "*")):
                    testdata[os.path.basename(p)[:-len(".yaml")]] = p
            self.assertEqual(sorted(testdata), sorted(dumped))
            for name, path in sorted(testdata.items()):
                with open(dumped[name], encoding="utf-8") as f:
                    want = json.load(f)
                self.assertEqual(read_testdata(path), want,
                                 "%s differs from the planner's: run hack/argocd-testdata.sh"
                                 % path)

    def test_argocd_cm_snippet(self):
        """kubectl reads the snippet's two keys as exactly the two scripts."""
        with Kubesim() as k:
            k.kubectl("create", "namespace", "argocd")
            k.kubectl("apply", "-f", os.path.join(ARGOCD, "argocd-cm.yaml"))
            cm = json.loads(k.kubectl("get", "-n", "argocd", "configmap", "argocd-cm",
                                      "-o", "json").stdout)
        for kind in KINDS:
            with open(os.path.join(ARGOCD, "tollgate.io", kind, "health.lua"),
                      encoding="utf-8") as f:
                script = f.read()
            self.assertEqual(cm["data"]["resource.customizations.health.tollgate.io_" + kind],
                             script, "argocd-cm.yaml's %s check differs from its health.lua"
                             % kind)


if __name__ == "__main__":
    unittest.main()
