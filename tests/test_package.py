"""The package as a user installs it: a wheel, not this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, sample
from test_cli import store_with_coco  # noqa: F401 - a fixture


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(dist)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    found, = dist.glob("wsp_studio-*.whl")
    return found


def test_an_installed_wheel_carries_its_presets_and_migrations(tmp_path, wheel):
    import wsp_core

    assert wheel.name.startswith(f"wsp_studio-{wsp_core.__version__}-")   # one version number
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("pretrain", "finetune"):
        for preset in ("paper", "cpu-small", "smoke"):
            assert f"wsp_core/presets/{kind}/{preset}.toml" in names
    assert "wsp_core/store/migrations/versions/0001_initial_schema.py" in names
    with zipfile.ZipFile(wheel) as z:  # installed elsewhere, run from elsewhere: no checkout
        z.extractall(tmp_path / "site")
    script = ("import wsp_core, pathlib\n"
              "from wsp_core.train.config import FinetuneConfig, PretrainConfig, load_config\n"
              "assert pathlib.Path(wsp_core.__file__).is_relative_to(pathlib.Path.cwd())\n"
              "print(load_config(PretrainConfig, 'cpu-small').epochs, "
              "load_config(FinetuneConfig, 'smoke', kind='finetune').backbone)\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path / "site",
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["20", "tiny"]
    db = tmp_path / "s.db"
    store = subprocess.run([sys.executable, "-m", "wsp_core.cli", "stats", "--db", str(db)],
                           cwd=tmp_path / "site", capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert store.returncode == 2 and "s.db" in store.stderr  # the installed CLI: no such store


def test_a_curators_install_without_torch(tmp_path, store_with_coco):
    """Without PyTorch (a stand-in package that fails to import, as a missing one does) the
    store commands work and never touch it; a training command says which extra to install."""
    fake = tmp_path / "no-torch"
    for name in ("torch", "torchvision"):
        (fake / name).mkdir(parents=True)
        (fake / name / "__init__.py").write_text(f'raise ImportError("No module named {name}")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])}

    def core(*argv):
        return subprocess.run([sys.executable, "-m", "wsp_core.cli", *map(str, argv)],
                              capture_output=True, text=True, timeout=120, env=env)

    db = store_with_coco
    for argv in (("stats", "--db", db), ("review", "--db", db, "--pair", 1, "--verdict", "flip"),
                 ("export", "--db", db, "--out", tmp_path / "pairs.jsonl")):
        run = core(*argv)
        assert run.returncode == 0, run.stderr
    assert (tmp_path / "pairs.jsonl").stat().st_size > 0
    train = core("pretrain", "--db", db, "--out", tmp_path / "run", "--preset", "smoke")
    assert train.returncode == 2 and "Traceback" not in train.stderr
    assert "pip install 'wsp-studio[train]'" in train.stderr
    assert not (tmp_path / "run").exists()


def test_the_wheel_in_a_fresh_environment_without_torch_then_with_it(tmp_path, wheel):
    """What a curator installs: the wheel with the app's extra into a new virtual environment
    (dependencies from the package index), no PyTorch. The store commands and the app's store
    opening work there, from the installed package; then PyTorch is added (this machine's own
    torch and torchvision, as `pip install 'wsp-studio[train]'` would add them) and a pre-training
    runs without --preset (the package's default preset)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", f"{wheel}[app]"],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    work = tmp_path / "elsewhere"  # not the checkout: only the installed package can be found
    work.mkdir()

    def run(*argv, tool="wsp-core"):
        proc = subprocess.run([str(venv / "bin" / tool), *map(str, argv)], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    where = subprocess.run([str(python), "-c", "import wsp_core, importlib.util as u; "
                            "print(wsp_core.__file__, u.find_spec('torch'))"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=60)
    path, torch_spec = where.stdout.split()
    assert Path(path).is_relative_to(venv) and torch_spec == "None"
    db = work / "store.db"
    run("import", "--db", db, "--format", "coco", "--ann", sample("coco", "test_coco.json"),
        "--images", sample("coco"))
    assert '"pairs": 12' in run("stats", "--db", db, "--json")
    run("review", "--db", db, "--pair", 1, "--verdict", "flip", "--reason", "stairs")
    run("export", "--db", db, "--out", work / "pairs.jsonl")
    assert '"status":"flip"' in (work / "pairs.jsonl").read_text().splitlines()[0]
    opened = subprocess.run([str(python), "-c",
                             "import sys\n"
                             "from PySide6.QtWidgets import QApplication\n"
                             "app = QApplication([])\n"
                             "from wsp_app.window import MainWindow\n"
                             "w = MainWindow()\n"
                             f"assert w.open_store({str(db)!r})\n"
                             "print(w.pairs.desk.detail.pair_id, 'torch' in sys.modules)\n"
                             "w.close()\n"],
                            cwd=work, env={**env, "HOME": str(tmp_path)}, capture_output=True,
                            text=True, timeout=120)
    assert opened.returncode == 0, opened.stderr[-3000:]
    assert opened.stdout.split() == ["1", "False"]
    # [train]: this machine's torch and torchvision, after the environment's own packages
    torch_dir = Path(subprocess.run([sys.executable, "-c", "import torch, pathlib; "
                                     "print(pathlib.Path(torch.__file__).parent.parent)"],
                                    capture_output=True, text=True).stdout.strip())
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                   "print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True).stdout.strip())
    (purelib / "zz_torch_from_this_machine.pth").write_text(f"{torch_dir}\n")
    run("pretrain", "--db", db, "--out", work / "run", "--set", "epochs=1",
        "--set", "input_size=64", "--set", "batch_size=4", "--set", "val_fraction=0.3",
        "--set", "test_fraction=0.0", "--progress", "none")
    config = (work / "run" / "config.json").read_text()
    assert '"input_size": 64' in config and (work / "run" / "last.pt").is_file()
