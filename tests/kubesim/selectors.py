"""Compatibility shim: `import selectors` with tests/kubesim on sys.path.

The kubesim spec named B's label/field selector module selectors.py, which shadows the
standard library's `selectors` (imported by subprocess, socketserver, asyncio, http.server,
urllib). The implementation now lives in kselectors.py; this file makes `import selectors`
serve BOTH uses, whichever code imports it first: it loads the standard library's
selectors.py by path and re-exports all of its names (DefaultSelector, EVENT_READ, ...)
plus kselectors' API (parse_label_selector, SelectorError, ...). New code: `import kselectors`.
"""

import importlib.util as _ilu
import os as _os


def _load_stdlib_selectors():
    path = _os.path.join(_os.path.dirname(_os.__file__), "selectors.py")
    if not _os.path.exists(path) or _os.path.abspath(path) == _os.path.abspath(__file__):
        return None
    spec = _ilu.spec_from_file_location("_stdlib_selectors", path)
    mod = _ilu.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_std = _load_stdlib_selectors()
if _std is not None:
    for _name in dir(_std):
        if not (_name.startswith("__") and _name.endswith("__")):
            globals()[_name] = getattr(_std, _name)

import kselectors as _k  # noqa: E402

for _name in _k.__all__:
    globals()[_name] = getattr(_k, _name)
