"""The package as a user installs it: a wheel, not this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from conftest import ROOT
from test_cli import store_with_coco  # noqa: F401 - a fixture


def test_an_installed_wheel_carries_its_presets_and_migrations(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel, = (tmp_path / "dist").glob("wsp_studio-*.whl")
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
    assert run.stdout.split() == ["20", "resnet18"]
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
