"""Shared fixtures: the real samples, fresh stores, and the CLI run in-process or as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # GUI tests; `make test` runs them under Xvfb

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("WSP_SAMPLES", ROOT.parent / "shared" / "real-samples"))


def sample(*parts: str) -> Path:
    path = SAMPLES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real sample {path} is not here")
    return path


@pytest.fixture
def samples() -> Path:
    return sample()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


def run_cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``wsp-core`` as a user would, in its own process."""
    proc = subprocess.run([sys.executable, "-m", "wsp_core.cli", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"wsp-core {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


def import_samples(db: Path, *which: str) -> None:
    """Import real samples into ``db`` in-process (fast): which ⊂ coco, crowdpose, mpii."""
    from wsp_core.cli import main

    files = {"coco": "test_coco.json", "crowdpose": "test_crowdpose.json", "mpii": "test_mpii.json"}
    for fmt in which:
        assert main(["import", "--db", str(db), "--format", fmt, "--ann",
                     str(sample(fmt, files[fmt])), "--images", str(sample(fmt))]) == 0
