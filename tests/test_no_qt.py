"""wsp_core never imports Qt: every module imports with Qt made unimportable."""

import pkgutil
import subprocess
import sys

import wsp_core

SCRIPT = r"""
import importlib, importlib.abc, pkgutil, sys
BLOCKED = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "vispy", "qtpy", "shiboken6")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"Qt is absent in this test: {name}")
sys.meta_path.insert(0, Block())
import wsp_core
names = [m.name for m in pkgutil.walk_packages(wsp_core.__path__, "wsp_core.")
         if ".migrations" not in m.name]
for name in names:
    importlib.import_module(name)
leaked = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
assert not leaked, leaked
print(len(names))
"""


def test_every_wsp_core_module_imports_without_qt():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    expected = [m.name for m in pkgutil.walk_packages(wsp_core.__path__, "wsp_core.")
                if ".migrations" not in m.name]
    assert int(proc.stdout.strip()) == len(expected) >= 10
