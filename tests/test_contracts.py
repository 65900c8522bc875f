"""The house's checkable conventions, run by the test command: the import contracts
(pyproject.toml ``[tool.importlinter]``: the core never imports Qt; the GUI and the job launcher
never import torch or training code) and ruff's rules (``[tool.ruff]``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_import_contracts_hold():
    proc = _run(BIN / "lint-imports", "--no-cache")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_ruff_is_clean():
    proc = _run(BIN / "ruff", "check", "wsp_core", "wsp_app", "tests", "scripts")
    assert proc.returncode == 0, proc.stdout[-4000:]
