"""WSP pre-training: the loss falls, runs resume after SIGKILL, stop cleanly, DDP agrees with one
process, checkpoints load safely, evaluation and scoring write what they say."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import run_cli
from helpers import events, first_step_loss, synth_store
from wsp_core.errors import InputError
from wsp_core.store import add_review, open_store
from wsp_core.train.checkpoint import load_checkpoint
from wsp_core.train.config import PretrainConfig, load_config
from wsp_core.train.data import PRETRAIN_JOINTS, PairDataset, joints_present
from wsp_core.train.manifest import export_manifest, read_manifest
from wsp_core.train.pretrain import WSP_TASK, size_cue_agreeing

SMOKE = ["--preset", "smoke", "--set", "max_pairs=12"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return synth_store(tmp_path_factory.mktemp("train"), 12, seed=3)


def manifest_rows(store: Path, tmp_path: Path) -> list[dict]:
    with open_store(store) as s:
        export_manifest(s, tmp_path / "m.jsonl", 0.0)
    return read_manifest(tmp_path / "m.jsonl")


def test_presets_load_and_overrides_are_typed():
    for name in ("paper", "cpu-small", "smoke"):
        cfg = load_config(PretrainConfig, name)
        assert cfg.input_size % 32 == 0 and cfg.sampled_joints < len(PRETRAIN_JOINTS)
    paper = load_config(PretrainConfig, "paper")
    assert (paper.backbone, paper.input_size, paper.alpha, paper.epochs, paper.batch_size,
            paper.lr, paper.lr_steps) == ("resnet50", 256, 50.0, 50, 64, 1e-3, [30, 40])
    cfg = load_config(PretrainConfig, "smoke", ["epochs=3", "lr_steps=2,3", "augment=false",
                                                "lr=0.01"])
    assert (cfg.epochs, cfg.lr_steps, cfg.augment, cfg.lr) == (3, [2, 3], False, 0.01)
    with pytest.raises(InputError, match="expected key=value"):
        load_config(PretrainConfig, "smoke", ["nonsense=1"])
    with pytest.raises(InputError, match="no such preset; known presets: cpu-small, paper, smoke"):
        load_config(PretrainConfig, "huge")


def test_manifest_leaves_out_ambiguous_and_excluded_pairs(store, tmp_path):
    db = tmp_path / "copy.db"
    db.write_bytes(store.read_bytes())
    with open_store(db) as s:
        add_review(s, 1, "exclude")
        add_review(s, 2, "ambiguous", "hugging")
        add_review(s, 3, "flip")
        info = export_manifest(s, tmp_path / "m.jsonl", 0.4, 0.3)
        with s.engine.connect() as conn:
            total = conn.exec_driver_sql("SELECT count(*) FROM pairs").scalar()
    rows = read_manifest(tmp_path / "m.jsonl")
    assert info["left_out"] == 2
    assert len(rows) == total - 2 == info["train"] + info["val"] + info["test"]
    flipped = next(r for r in rows if r["pair_id"] == 3)
    assert flipped["label"] == 1 - flipped["auto_label"]
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    by_image = {}
    for r in rows:
        by_image.setdefault(r["image"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_image.values())  # an image is wholly in one split


def test_the_size_cue_leaves_out_conflicting_automatic_labels_only(store, tmp_path):
    """max_size_conflict (ADR 0029): automatic labels whose "far" person has the larger head
    leave training; reviewed pairs, val and test rows stay."""
    db = tmp_path / "copy.db"
    db.write_bytes(store.read_bytes())
    with open_store(db) as s, s.engine.connect() as conn:
        conflict = dict(conn.exec_driver_sql("SELECT id, size_conflict FROM pairs").all())
        export_manifest(s, tmp_path / "m.jsonl", 0.2)
        accepted = next(r["pair_id"] for r in read_manifest(tmp_path / "m.jsonl", "train")
                        if conflict[r["pair_id"]] > 0)
        add_review(s, accepted, "accept")
        export_manifest(s, tmp_path / "m.jsonl", 0.2)
    cfg = load_config(PretrainConfig, "smoke", ["max_size_conflict=0", "max_pairs=0"])
    train, val = WSP_TASK.rows(tmp_path / "m.jsonl", cfg)
    every = read_manifest(tmp_path / "m.jsonl")
    expected = {r["pair_id"] for r in every if r["split"] == "train"
                and (conflict[r["pair_id"]] == 0 or r["pair_id"] == accepted)}
    assert {r["pair_id"] for r in train} == expected
    assert len(expected) < sum(r["split"] == "train" for r in every)   # some were left out
    assert len(val) == sum(r["split"] == "val" for r in every)
    everything = load_config(PretrainConfig, "smoke", ["max_pairs=0"])
    assert len(WSP_TASK.rows(tmp_path / "m.jsonl", everything)[0]) == \
        sum(r["split"] == "train" for r in every)
    # by hand: the far person's head 1.2 x the near one's is log 1.2 / log 1.5 = 0.4497
    near, far = {"scale": 10.0}, {"scale": 12.0}
    rows = [{"a": near, "b": far, "label": 1, "status": "auto"},
            {"a": near, "b": far, "label": 0, "status": "auto"},       # b is near: no conflict
            {"a": near, "b": {"scale": None}, "label": 1, "status": "auto"},
            {"a": near, "b": far, "label": 1, "status": "flip"}]       # a curator's flip
    assert size_cue_agreeing(rows, 0.45) == rows
    assert size_cue_agreeing(rows, 0.44) == rows[1:]
    with pytest.raises(InputError, match="max_size_conflict must be in"):
        load_config(PretrainConfig, "smoke", ["max_size_conflict=1.5"])


def test_dataset_sample_is_consistent(store, tmp_path):
    rows = manifest_rows(store, tmp_path)
    ds = PairDataset(rows, 64, 4, augment=True, seed=1)
    a, b = ds[0], ds[0]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["joints"], b["joints"])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["image"], a["image"])          # a new epoch, a new augmentation
    assert a["image"].shape == (3, 64, 64) and a["heatmap"].shape == (len(PRETRAIN_JOINTS), 16, 16)
    assert a["heatmap"].max() > 0.9                               # labelled joints have peaks
    present = joints_present("synth")
    assert present.all() and joints_present("coco").sum() == 19  # + derived pelvis and thorax
    assert not joints_present("coco")[PRETRAIN_JOINTS.index("head_top")]
    x0, y0, x1, y1 = a["boxes"][0]
    assert x0 < x1 and y0 < y1 and x1 > 0 and y1 > 0 and x0 < 16 and y0 < 16  # overlaps the map
    plain = PairDataset(rows, 64, 4, augment=False)[0]
    x0, y0, x1, y1 = plain["boxes"].reshape(-1, 4).T
    assert (x0 >= 0).all() and (x1 <= 16).all() and (y0 >= 0).all() and (y1 <= 16).all()


def test_persistent_workers_make_each_epochs_own_samples(store, tmp_path):
    """The training loader's workers live for the whole run; every epoch's batches are still
    the ones a fresh dataset set to that epoch makes (order, pairs and augmentation)."""
    from wsp_core.train.pretrain import make_loader

    rows = manifest_rows(store, tmp_path)
    cfg = load_config(PretrainConfig, "smoke", ["workers=2", "batch_size=4", "device=cpu"])
    loader = make_loader(rows, cfg, True, 1, 0)
    assert loader.persistent_workers
    plain = make_loader(rows, load_config(PretrainConfig, "smoke",
                                          ["workers=0", "batch_size=4", "device=cpu"]), True, 1, 0)
    first: list = []
    for epoch in (0, 1, 2):
        got = []
        for one in (loader, plain):
            one.sampler.set_epoch(epoch)
            one.dataset.set_epoch(epoch)
            got.append(list(one))
        assert len(got[0]) == len(got[1]) > 0
        for a, b in zip(*got):
            assert torch.equal(a["pair_id"], b["pair_id"]) and torch.equal(a["image"], b["image"])
        if epoch:   # a new epoch, new augmentation
            assert not all(torch.equal(a["image"], b["image"]) for a, b in zip(first, got[0]))
        else:
            first = got[0]


def test_a_gpu_runs_optimizer_state_resumes_on_a_cpu(tmp_path):
    """A checkpoint's Adam state saved by a CUDA-graph run (fused, capturable) resumes on a
    CPU, where a capturable Adam cannot step: how to compute is this run's choice."""
    from wsp_core.train.graphs import load_optimizer_state, make_optimizer

    cfg = load_config(PretrainConfig, "smoke")
    net = torch.nn.Linear(3, 2)
    opt = make_optimizer(net, cfg, torch.device("cpu"))
    net(torch.ones(4, 3)).sum().backward()
    opt.step()
    saved = opt.state_dict()
    saved["param_groups"] = [{**g, "fused": True, "capturable": True}
                             for g in saved["param_groups"]]
    fresh = torch.nn.Linear(3, 2)
    fresh.load_state_dict(net.state_dict())
    resumed = make_optimizer(fresh, cfg, torch.device("cpu"))
    load_optimizer_state(resumed, saved)
    assert not resumed.param_groups[0]["capturable"]
    assert torch.equal(resumed.state_dict()["state"][0]["exp_avg"], saved["state"][0]["exp_avg"])
    fresh(torch.ones(4, 3)).sum().backward()
    resumed.step()                                # a capturable state would refuse the CPU
    assert int(resumed.state_dict()["state"][0]["step"]) == 2


def test_the_network_input_is_3dmppes_normalised_crop(store, tmp_path):
    """The workers send uint8 crops, colour factors and float16 heatmaps; what the training
    device makes of them is 3DMPPE's input: the crop / 255, scaled per channel by the colour
    factors and clipped to [0, 1], then (x − ImageNet mean) / std; and the targets within
    float16's rounding of Gaussians of σ = 2 map pixels at the joints."""
    import cv2
    import numpy as np
    from torch.utils.data import default_collate

    from wsp_core.train.runner import to_device

    rows = manifest_rows(store, tmp_path)
    ds = PairDataset(rows, 64, 4, augment=True, seed=3,
                     aug={"scale": 0.0, "rotation": 0.0, "flip": False, "colour": 0.2})
    sample = ds[0]
    assert sample["image"].dtype == torch.uint8 and sample["heatmap"].dtype == torch.float16
    cfg = load_config(PretrainConfig, "smoke", ["bf16=false"])
    got = to_device(default_collate([sample]), torch.device("cpu"), cfg)
    # the reference, from the file: the union box's square crop (no scale, rotation or flip)
    boxes = np.array([rows[0]["a"]["bbox"], rows[0]["b"]["bbox"]], float)
    x0, y0 = boxes[:, :2].min(0)
    x1, y1 = (boxes[:, :2] + boxes[:, 2:]).max(0)
    side = max(x1 - x0, y1 - y0) * 1.25
    s = 64 / side
    m = np.array([[s, 0, 32 - s * (x0 + x1) / 2], [0, s, 32 - s * (y0 + y1) / 2]])
    bgr = cv2.warpAffine(cv2.imread(rows[0]["image"]), m, (64, 64), flags=cv2.INTER_LINEAR)
    rgb = bgr[..., ::-1].astype(np.float32) / 255.0
    rgb = np.clip(rgb * sample["colour"].numpy(), 0.0, 1.0)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    reference = torch.from_numpy(((rgb - mean) / std).transpose(2, 0, 1).astype(np.float32))
    assert not torch.equal(sample["colour"], torch.ones(3))
    assert torch.allclose(got["image"][0], reference, atol=1e-5)
    heat = got["heatmap"][0]
    assert heat.dtype == torch.float32 and heat.max() <= 1.0
    checked = 0
    for person in sample["hm_joints"].tolist():                  # a's and b's joints, map px
        for j, (x, y, v) in enumerate(person):
            px, py = round(x), round(y)
            if v > 0 and 0 <= px < 16 and 0 <= py < 16:         # at least its own Gaussian
                gauss = np.exp(-((px - x) ** 2 + (py - y) ** 2) / (2 * 2.0 ** 2))
                assert heat[j, py, px] >= gauss - 1e-3, (j, x, y)
                checked += 1
    assert checked >= len(PRETRAIN_JOINTS)


def test_smoke_run_end_to_end_then_eval_and_score(store, tmp_path):
    db = tmp_path / "s.db"
    db.write_bytes(store.read_bytes())
    run = tmp_path / "run"
    run.mkdir()
    (run / "STOP").write_text("")          # left behind by a killed run: must not stop this one
    out = run_cli("pretrain", "--db", db, "--out", run, *SMOKE, "--set", "val_fraction=0.3",
                  "--set", "test_fraction=0.3", "--set", "max_pairs=0", "--set", "epochs=2",
                  "--progress", "jsonl")
    ev = events(out.stdout)
    assert ev[0]["event"] == "start" and ev[-1]["event"] == "done"
    assert ev[-1]["status"] == "finished" and ev[-1]["epochs_done"] == 2
    step = next(e for e in ev if e["event"] == "step")
    assert {"epoch", "step", "steps", "loss", "loss_hm", "loss_rd", "lr", "samples_per_s",
            "eta_s"} <= set(step)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1] and "val_auc" in rows[0]
    assert [r["lr"] for r in rows] == pytest.approx([1e-3, 1e-4])   # the rate each epoch used
    state = load_checkpoint(run / "last.pt")
    config = json.loads((run / "config.json").read_text())
    assert state["epoch"] == 2 and state["manifest_sha256"] == config["manifest"]["sha256"]
    best = load_checkpoint(run / "best.pt")          # evaluated, never resumed: no optimizer
    assert "optimizer" not in best and "scheduler" not in best and "optimizer" in state
    assert best["model"].keys() == state["model"].keys()
    # the smoke preset's small backbone: files of a few MB, not ResNet-18's 136 MB with Adam
    assert (run / "last.pt").stat().st_size < 8e6 and (run / "best.pt").stat().st_size < 3e6
    with open_store(db) as s:
        from wsp_core.store.jobs import list_jobs
        jobs = list_jobs(s)
    assert jobs[-1]["kind"] == "pretrain" and jobs[-1]["status"] == "finished"
    result = json.loads(run_cli("eval-rd", "--ckpt", run / "last.pt", "--workers", 0,
                                "--json").stdout)
    p1 = result["protocol1"]["subsets"]["<= 1.0"]
    assert result["split"] == "test" and p1["pairs"] > 0 and 0 <= p1["accuracy"] <= 1
    manifest = read_manifest(run / "manifest.jsonl")
    assert result["pairs"] == sum(r["split"] == "test" for r in manifest)
    assert p1["pairs"] == result["pairs"] and result["order_seed"] == 0   # "<= 1.0": every pair
    assert 0 <= p1["macro_f1"] <= 1
    assert set(result["protocol2"]["subsets"]) == {"<= 1.0", "<= 0.5", "<= 0.3", "<= 0.1"}
    assert result["protocol1"]["truth"]["pairs"] == result["pairs"]
    text = run_cli("eval-rd", "--ckpt", run / "last.pt", "--workers", 0).stdout
    assert "RD protocol 1" in text and "RD protocol 2 (ankle regions removed)" in text
    scored = json.loads(run_cli("score", "--db", db, "--ckpt", run / "best.pt", "--workers", 0,
                                "--json").stdout)
    with open_store(db) as s, s.engine.connect() as conn:
        n, lo, hi = conn.exec_driver_sql(
            "SELECT count(*), min(prob), max(prob) FROM predictions").one()
        pairs = conn.exec_driver_sql("SELECT count(*) FROM pairs").scalar()
    assert n == pairs == scored["pairs"] and 0 <= lo <= hi <= 1
    # the run trained on this store: a pair is in-sample exactly when its image trained it
    split_of = {r["pair_id"]: r["split"] for r in manifest}
    with open_store(db) as s, s.engine.connect() as conn:
        oos = dict(conn.exec_driver_sql("SELECT pair_id, out_of_sample FROM predictions").all())
    assert all(oos[p] == (split != "train") for p, split in split_of.items())
    assert scored["in_sample"] == sum(v == 0 for v in oos.values()) > 0
    assert scored["out_of_sample"] == sum(v == 1 for v in oos.values()) > 0
    from wsp_core.store.browse import pair_detail
    key = str((run / "best.pt").resolve())
    with open_store(db) as s:                  # what the desk's Labels panel shows, per pair
        for pair_id, flag in oos.items():
            assert pair_detail(s, pair_id, key).prob_out_of_sample is bool(flag)


def test_image_disjoint_folds(store):
    """K folds of a store's images: each image in exactly one fold's test split, the same image
    in the same fold whatever its pairs, the rest of each run split into train and val."""
    from wsp_core.train.folds import fold_rows
    from wsp_core.train.manifest import image_split
    from wsp_core.train.rd import store_rows

    rows = store_rows(store, labelled_only=False)
    held = {}
    for k in range(3):
        cfg = load_config(PretrainConfig, "smoke", ["folds=3", f"fold={k}", "val_fraction=0.2"])
        for r in fold_rows(rows, cfg):
            assert held.setdefault(r["pair_id"], k) == k
        images = {f"{r['source']}/{r['file_name']}" for r in rows}
        splits = [image_split(i, 0.2, 0.1, 3, k) for i in images]
        assert "train" in splits and set(splits) <= {"train", "val", "test"}
    assert set(held) == {r["pair_id"] for r in rows}                 # every pair held out once
    fold_of = {}
    for r in rows:
        assert fold_of.setdefault((r["source"], r["file_name"]), held[r["pair_id"]]) == \
            held[r["pair_id"]]                                       # image-disjoint
    with pytest.raises(InputError, match="fold 3 of folds 3"):
        load_config(PretrainConfig, "smoke", ["folds=3", "fold=3"])


def test_score_with_folds_is_out_of_sample_for_every_pair(store, tmp_path):
    db = tmp_path / "s.db"
    db.write_bytes(store.read_bytes())
    out = run_cli("score", "--db", db, "--folds", 2, "--out", tmp_path / "folds", *SMOKE,
                  "--set", "max_pairs=0", "--set", "epochs=1", "--workers", 0, "--json")
    result = json.loads(out.stdout)
    with open_store(db) as s, s.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT pair_id, checkpoint, out_of_sample FROM predictions"
                                    ).fetchall()
        pairs = conn.exec_driver_sql("SELECT count(*) FROM pairs").scalar()
        from wsp_core.store.browse import checkpoints
        listed = checkpoints(s)
    assert len(rows) == pairs == result["pairs"] == result["out_of_sample"]
    assert len({r[0] for r in rows}) == pairs and all(r[2] == 1 for r in rows)
    assert {r[1] for r in rows} == {str((tmp_path / "folds").resolve())}
    assert sum(r["pairs"] for r in result["runs"]) == pairs
    assert listed[0]["out_of_sample"] == pairs and listed[0]["in_sample"] == 0
    again = run_cli("score", "--db", db, "--folds", 2, "--out", tmp_path / "folds", *SMOKE,
                    check=False)
    assert again.returncode == 2 and "not an empty folder" in again.stderr
    onto = run_cli("score", "--db", db, "--folds", 2, "--out", db, *SMOKE, check=False)
    assert onto.returncode == 2 and "not an empty folder" in onto.stderr   # never over a file
    both = run_cli("score", "--db", db, "--folds", 2, "--ckpt", db, check=False)
    assert both.returncode == 2 and "one of them" in both.stderr


def test_sigkill_then_resume_gives_every_epoch_once(store, tmp_path):
    run = tmp_path / "run"
    args = [sys.executable, "-m", "wsp_core.cli", "pretrain", "--db", str(store), "--out",
            str(run), *SMOKE, "--set", "epochs=6", "--set", "max_pairs=8", "--progress", "jsonl"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if '"event": "epoch"' in line:
            seen += 1
            if seen == 2:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert seen == 2, proc.stderr.read()
    assert load_checkpoint(run / "last.pt")["epoch"] in (1, 2)
    out = run_cli("pretrain", "--out", run, "--resume", "--progress", "jsonl")
    assert events(out.stdout)[-1]["epochs_done"] == 6
    epochs = [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [0, 1, 2, 3, 4, 5]
    assert load_checkpoint(run / "last.pt")["epoch"] == 6
    again = run_cli("pretrain", "--db", store, "--out", run, *SMOKE, check=False)
    assert again.returncode == 2 and "already holds a run" in again.stderr


def test_stop_file_ends_cleanly_with_a_resumable_checkpoint(store, tmp_path):
    run = tmp_path / "run"
    args = [sys.executable, "-m", "wsp_core.cli", "pretrain", "--db", str(store), "--out",
            str(run), *SMOKE, "--set", "epochs=50", "--set", "max_pairs=8", "--progress", "jsonl"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if '"event": "epoch"' in line:
            (run / "STOP").write_text("")
    proc.wait(timeout=120)
    ev = events("".join(lines))
    assert proc.returncode == 0 and ev[-1]["status"] == "stopped"
    done = ev[-1]["epochs_done"]
    assert 1 <= done < 50 and load_checkpoint(run / "last.pt")["epoch"] == done
    assert not (run / "STOP").exists()
    with open_store(store) as s:
        from wsp_core.store.jobs import list_jobs
        assert any(j["status"] == "stopped" and j["run_dir"] == str(run.resolve())
                   for j in list_jobs(s))


def test_truncated_checkpoint_gives_a_clear_error(store, tmp_path):
    run = tmp_path / "run"
    run_cli("pretrain", "--db", store, "--out", run, *SMOKE, "--set", "epochs=1",
            "--progress", "none")
    data = (run / "last.pt").read_bytes()
    (run / "last.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_checkpoint(run / "last.pt")
    proc = run_cli("eval-rd", "--ckpt", run / "last.pt", check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "last.pt: not a readable checkpoint" in proc.stderr
    proc = run_cli("pretrain", "--out", run, "--resume", check=False)
    assert proc.returncode == 2 and "truncated or corrupt" in proc.stderr


def test_checkpoints_refuse_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "kind": "wsp-pretrain", "payload": Evil()}, path)
    with pytest.raises(InputError, match=r"evil\.pt: refused: the file asks to import posix\.system") as e:
        load_checkpoint(path)
    assert "weights_only" not in str(e.value) and "\n" not in str(e.value)


def test_two_process_ddp_matches_one_process(store, tmp_path):
    common = ["--db", str(store), *SMOKE, "--set", "epochs=2", "--set", "batch_size=4",
              "--set", "bn_frozen=true", "--set", "augment=false", "--set", "val_fraction=0.3",
              "--progress", "jsonl"]
    one = run_cli("pretrain", "--out", tmp_path / "one", *common)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--master-port", "29531", "-m", "wsp_core.cli", "pretrain", "--out",
                          str(tmp_path / "two"), *common], capture_output=True, text=True,
                         env=env, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert first_step_loss(ddp.stdout) == pytest.approx(first_step_loss(one.stdout), rel=1e-5)
    start = next(e for e in events(ddp.stdout) if e["event"] == "start")
    assert start["world_size"] == 2 and start["val_pairs"] > 0
    rows = [json.loads(x) for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1] and all("val_auc" in r for r in rows)
    assert load_checkpoint(tmp_path / "two" / "last.pt")["epoch"] == 2


def test_a_corrupt_image_read_by_a_worker_is_one_line(store, tmp_path):
    db = tmp_path / "s.db"
    db.write_bytes(store.read_bytes())
    run = tmp_path / "run"
    run_cli("pretrain", "--db", db, "--out", run, *SMOKE, "--set", "epochs=1", "--progress", "none")
    rows = read_manifest(run / "manifest.jsonl")
    Path(rows[0]["image"]).write_bytes(b"not a jpeg")
    proc = run_cli("eval-rd", "--ckpt", run / "last.pt", "--db", db, "--workers", 2, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "cannot read the image" in proc.stderr and rows[0]["image"] in proc.stderr


def test_resume_takes_no_overrides(store, tmp_path):
    proc = run_cli("pretrain", "--out", tmp_path / "run", "--resume", "--set", "epochs=3",
                   check=False)
    assert proc.returncode == 2 and "--resume continues with the run's own config" in proc.stderr


def test_bad_pretrain_input_is_one_line(store, tmp_path):
    (tmp_path / "afile").write_text("x")
    for args, fragment in ((["--preset", "huge"], "no such preset"),
                           (["--set", "epochs"], "expected key=value"),
                           (["--set", "backbone=vgg"], "unknown backbone")):
        proc = run_cli("pretrain", "--db", store, "--out", tmp_path / "r", *args, check=False)
        assert proc.returncode == 2 and fragment in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli("pretrain", "--db", store, "--out", tmp_path / "afile" / "run", *SMOKE,
                   check=False)
    assert proc.returncode == 2 and "cannot create the run folder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_backbone_weights_from_a_torchvision_state_dict(tmp_path):
    import torchvision

    from wsp_core.models.wsp import WSPNet

    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r18.pth")
    net = WSPNet("resnet18", len(PRETRAIN_JOINTS), 16, 16, str(tmp_path / "r18.pth"))
    assert torch.equal(net.backbone[0].weight, reference.conv1.weight)
    torch.save({"not": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(InputError, match="bad.pth: not a resnet18 state dict"):
        WSPNet("resnet18", len(PRETRAIN_JOINTS), 16, 16, str(tmp_path / "bad.pth"))
