"""3D fine-tuning: targets decode back to the truth, the loss falls, runs go end to end."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_cli
from wsp_core.synth.world import generate_world
from wsp_core.train.config import FinetuneConfig, load_config
from wsp_core.train.data3d import Pose3DDataset
from wsp_core.train.finetune import export_samples
from wsp_core.train.manifest import read_manifest


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ft") / "world"
    generate_world(out, 16, seed=9, workers=1)
    return out


def rows_of(world: Path, tmp_path: Path, cfg: FinetuneConfig) -> list[dict]:
    export_samples(f"synth:{world}", tmp_path / "m.jsonl", cfg)
    return read_manifest(tmp_path / "m.jsonl")


def test_targets_decode_back_to_the_truth(world, tmp_path):
    from wsp_core.models.posenet import decode

    cfg = load_config(FinetuneConfig, "smoke", ["augment=false", "depth_bins=64"], kind="finetune")
    rows = rows_of(world, tmp_path, cfg)
    ds = Pose3DDataset(rows[:6], cfg, train=False)
    batch = {k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in ds[0]}
    cam = decode(batch["target"], batch["crop_to_image"], batch["root_depth"], batch["f"],
                 batch["c"], cfg.input_size // 4, cfg.input_size, 0, cfg.depth_bins)
    ok = batch["weight"].min(-1).values > 0
    assert ok.float().mean() > 0.9
    err = (cam - batch["joints_cam"]).norm(dim=-1)[ok]
    assert err.max() < 1.0                                   # mm: the encoding loses nothing


def test_flip_swaps_left_and_right(world, tmp_path):
    cfg = load_config(FinetuneConfig, "smoke", ["augment=false"], kind="finetune")
    rows = rows_of(world, tmp_path, cfg)
    from wsp_core.train.data3d import FLIP, targets
    from wsp_core.infer.crops import crop_affine

    r = rows[0]
    x, y, w, h = r["box"]
    m = crop_affine(np.array([x + w / 2, y + h / 2]), max(w, h), 0.0, 64)
    args = (np.array(r["joints_img"]), np.array(r["joints_cam"]), np.array(r["visible"]), m, 64, 16)
    plain, _ = targets(*args, flip=False)
    flipped, _ = targets(*args, flip=True)
    np.testing.assert_allclose(flipped[:, 0], 15 - plain[FLIP, 0], atol=1e-5)
    np.testing.assert_allclose(flipped[:, 2], plain[FLIP, 2], atol=1e-5)


def test_protocol_split_in_the_manifest(world, tmp_path):
    cfg = load_config(FinetuneConfig, "smoke", ["protocol=subject1"], kind="finetune")
    info = export_samples(f"synth:{world}", tmp_path / "m.jsonl", cfg)
    rows = read_manifest(tmp_path / "m.jsonl")
    assert {r["subject"] for r in rows if r["split"] in ("train", "val")} <= {1, 5, 6, 7, 8}
    assert {r["subject"] for r in rows if r["split"] == "test"} <= {9, 11}
    assert info["train"] + info["val"] + info["test"] == len(rows)
    # best.pt is chosen on val: training subjects' images, never a test subject's
    val = {r["image"] for r in rows if r["split"] == "val"}
    assert val and not val & {r["image"] for r in rows if r["split"] != "val"}


def test_loss_falls_on_a_fixed_batch(world, tmp_path):
    from wsp_core.train.finetune import build_model, training_step

    torch.manual_seed(0)
    cfg = load_config(FinetuneConfig, "smoke", ["augment=false"], kind="finetune")
    ds = Pose3DDataset(rows_of(world, tmp_path, cfg)[:6], cfg, train=False)
    batch = {k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in ds[0]}
    model = build_model(cfg, torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = [training_step(model.train(), batch, opt, cfg, torch.device("cpu"))[0].item() for _ in range(60)]
    assert losses[-1] < 0.7 * losses[0]


def test_finetune_from_wsp_end_to_end(world, tmp_path):
    db = tmp_path / "s.db"
    run_cli("import", "--db", db, "--format", "synth", "--ann", world / "scenes.json",
            "--images", world)
    bar = run_cli("pretrain", "--db", db, "--out", tmp_path / "wsp", "--preset", "smoke",
                  "--set", "epochs=1")                 # the default progress: a bar on stderr
    assert all(f"{part}=" in bar.stderr for part in ("loss", "loss_rd", "loss_hm"))
    out = run_cli("finetune", "--data", f"synth:{world}", "--init", tmp_path / "wsp" / "last.pt",
                  "--out", tmp_path / "ft", "--preset", "smoke", "--progress", "jsonl")
    events = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    assert events[0]["kind"] == "posenet-finetune" and events[-1]["status"] == "finished"
    rows = [json.loads(x) for x in (tmp_path / "ft" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1] and rows[-1]["val_mpjpe"] > 0
    init = json.loads((tmp_path / "ft" / "config.json").read_text())["init"]  # what was loaded
    assert init["checkpoint"] == str((tmp_path / "wsp" / "last.pt").resolve())
    assert init["backbone"] == "tiny" and init["tensors"] > 30 and init["epoch"] == 1
    result = json.loads(run_cli("eval-3d", "--ckpt", tmp_path / "ft" / "best.pt", "--data",
                                f"synth:{world}", "--protocol", "all", "--workers", 0,
                                "--json").stdout)
    assert result["samples"] > 0 and result["mpjpe"] > 0 and "average" in result["by_action"]
    assert {"x", "y", "z", "pa_mpjpe", "pa_mpjpe_rigid", "joints_avg_paper",
            "action_avg_mpjpe", "by_action_pa_mpjpe"} <= set(result)
    assert result["flip_test"] is True and result["boxes"] == "ground truth"
    assert result["joints_avg_paper"] <= result["mpjpe"]
    text = run_cli("eval-3d", "--ckpt", tmp_path / "ft" / "best.pt", "--data", f"synth:{world}",
                   "--protocol", "all", "--workers", 0).stdout
    assert "MPJPE" in text and "PA-MPJPE" in text
    bad = run_cli("finetune", "--data", f"synth:{world}", "--init", db, "--out", tmp_path / "x",
                  "--preset", "smoke", check=False)
    assert bad.returncode == 2 and "not a readable checkpoint" in bad.stderr
    assert not (tmp_path / "x").exists()                          # refused before writing
    other = run_cli("finetune", "--data", f"synth:{world}", "--init", tmp_path / "wsp" / "last.pt",
                    "--out", tmp_path / "y", "--preset", "smoke", "--set", "backbone=resnet34",
                    check=False)
    assert other.returncode == 2 and "holds a tiny backbone; this run builds a resnet34" \
        in other.stderr and not (tmp_path / "y").exists()


def test_predict_on_a_real_photo(world, tmp_path):
    from conftest import sample

    bar = run_cli("finetune", "--data", f"synth:{world}", "--init", "none", "--out",
                  tmp_path / "ft", "--preset", "smoke", "--set", "epochs=1")  # the default bar
    assert "loss=" in bar.stderr and "loss_rd" not in bar.stderr
    photo = sample("coco", "000000196141.jpg")
    out = tmp_path / "pred.json"
    result = json.loads(run_cli("predict", "--ckpt", tmp_path / "ft" / "last.pt", photo,
                                "--box", "247.76,74.23,169.67,300.78", "--box",
                                "453.77,206.81,177.23,210.87", "--out", out, "--json").stdout)
    assert len(result["persons"]) == 2 and json.loads(out.read_text()) == result
    for person in result["persons"]:
        joints = np.array(person["joints_mm"])
        assert joints.shape == (17, 3) and np.allclose(joints[0], 0)        # root-relative
        assert np.abs(joints).max() < 3000
    bad = run_cli("predict", "--ckpt", tmp_path / "ft" / "last.pt", photo, "--box", "1,2,3",
                  check=False)
    assert bad.returncode == 2 and "not x,y,w,h" in bad.stderr


def test_mts_batches_are_half_2d_and_2d_has_no_depth_loss(world, tmp_path):
    from wsp_core.train.data3d import MixedBatchSampler, make_loader
    from wsp_core.train.finetune import _rows

    db = tmp_path / "s.db"
    run_cli("import", "--db", db, "--format", "synth", "--ann", world / "scenes.json",
            "--images", world)
    cfg = load_config(FinetuneConfig, "smoke", [f"mts_db={db}", "batch_size=8", "max_samples=0"],
                      kind="finetune")
    info = export_samples(f"synth:{world}", tmp_path / "m.jsonl", cfg)
    assert info["train_2d"] > 0
    train, val = _rows(tmp_path / "m.jsonl", cfg)
    assert all(r.get("kind") != "2d" for r in val)
    loader = make_loader(train, cfg, True, 1, 0)
    assert isinstance(loader.batch_sampler, MixedBatchSampler)
    batch = next(iter(loader))
    is_2d = batch["sample_id"] >= 1_000_000_000
    assert is_2d.sum() == 4 and (~is_2d).sum() == 4
    assert (batch["weight"][is_2d][..., 2] == 0).all() and (batch["weight"][is_2d][..., 0] > 0).any()
    assert (batch["weight"][~is_2d][..., 2] > 0).any()
    two = [list(MixedBatchSampler(10, 7, 4, 0, 2, r)) for r in (0, 1)]
    for b0, b1 in zip(*two):           # two processes split each global batch, both kinds each
        assert sorted(b0 + b1) == sorted(set(b0 + b1)) and len(b0) == len(b1) == 2
        assert any(i < 10 for i in b0) and any(i >= 10 for i in b0)
    out = run_cli("finetune", "--data", f"synth:{world}", "--init", "none", "--mts-db", db,
                  "--out", tmp_path / "mts", "--preset", "smoke", "--set", "epochs=1",
                  "--progress", "jsonl")
    assert json.loads(out.stdout.splitlines()[-1])["status"] == "finished"


def test_custom_protocol_narrow_train_wide_test(world, tmp_path):
    cfg = load_config(FinetuneConfig, "smoke", ["protocol=custom", "train_subjects=1,5,6,7,8",
                                                "train_actions=standing,walking",
                                                "test_subjects=9,11,2"], kind="finetune")
    rows = rows_of(world, tmp_path, cfg)
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    assert train and test
    assert {r["action"] for r in train} <= {"standing", "walking"}
    assert {r["subject"] for r in train} <= {1, 5, 6, 7, 8}
    assert {r["subject"] for r in test} <= {9, 11, 2}
    with pytest.raises(Exception, match="needs train_subjects and test_subjects"):
        load_config(FinetuneConfig, "smoke", ["protocol=custom"], kind="finetune")


def test_multi_person_scenes_as_3d_data_with_3dpck(world, tmp_path):
    from wsp_core.formats.pose3d import read_3d_source

    data, images = read_3d_source(f"synth-scenes:{world}")
    assert len(data) > 20 and images == world
    proj = data.joints_cam[..., :2] / data.joints_cam[..., 2:] * data.f[:, None] + data.c[:, None]
    vis = data.visible
    assert np.abs(proj - data.joints_img)[vis].max() < 0.03 * 480 + 1   # annotation noise only
    run_cli("finetune", "--data", f"synth:{world}", "--init", "none", "--out", tmp_path / "ft",
            "--preset", "smoke", "--set", "epochs=1", "--progress", "none")
    result = json.loads(run_cli("eval-3d", "--ckpt", tmp_path / "ft" / "last.pt", "--data",
                                f"synth-scenes:{world}", "--protocol", "all", "--workers", 0,
                                "--json").stdout)
    assert list(result["pck3d_all"]) == ["100", "110", "120", "130", "140", "150"]
    assert 0 <= result["pck3d_all"]["150"] <= result["pck3d_matched"]["150"] <= 100
    assert result["joints"][14] == "pelvis" and len(result["joints"]) == 17   # MuPoTS's order
    # detected boxes and roots in 3DMPPE's bbox_root layout: here the truth's, one person left out
    from wsp_core.skeleton import CANONICAL

    scenes = json.loads((world / "scenes.json").read_text())
    pelvis = CANONICAL.index("pelvis")
    dets = [{"image_id": a["image_id"], "bbox": a["bbox"], "root_cam": a["keypoints_cam"][pelvis]}
            for a in scenes["annotations"] if min(a["bbox"][2:]) > 0][1:]
    (tmp_path / "boxes.json").write_text(json.dumps(dets))
    boxed = json.loads(run_cli("eval-3d", "--ckpt", tmp_path / "ft" / "last.pt", "--data",
                               f"synth-scenes:{world}", "--protocol", "all", "--workers", 0,
                               "--boxes", tmp_path / "boxes.json", "--json").stdout)
    assert boxed["boxes"] == boxed["roots"] == str(tmp_path / "boxes.json")
    assert boxed["truths"] == result["truths"] and boxed["persons"] == result["persons"]
    photo = world / scenes["images"][0]["file_name"]
    first = [{"image_id": a["image_id"], "bbox": a["bbox"], "root_cam": a["keypoints_cam"][pelvis]}
             for a in scenes["annotations"]
             if a["image_id"] == scenes["images"][0]["id"] and min(a["bbox"][2:]) > 0]
    (tmp_path / "one.json").write_text(json.dumps(first))
    pred = json.loads(run_cli("predict", "--ckpt", tmp_path / "ft" / "last.pt", photo,
                              "--boxes", tmp_path / "one.json", "--json").stdout)
    assert pred["roots"] == str(tmp_path / "one.json") and len(pred["persons"]) >= 1
