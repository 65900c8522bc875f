"""The paper's method, exactly: eq. 10's heatmap loss, the heads' initialisation, the masks of
eq. 5, ImageNet starts, and the paper's epoch (one random pair per image)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch.utils.data import default_collate

from conftest import run_cli
from helpers import synth_store
from wsp_core.errors import InputError
from wsp_core.models.backbone import imagenet_weights_file
from wsp_core.models.wsp import WSPNet, heatmap_loss, wsp_loss
from wsp_core.store import open_store
from wsp_core.train.config import PretrainConfig
from wsp_core.train.data import PRETRAIN_JOINTS, PairDataset
from wsp_core.train.manifest import export_manifest, read_manifest
from wsp_core.train.runner import to_device

SMOKE = ("--preset", "smoke", "--progress", "none")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    db = synth_store(tmp_path_factory.mktemp("method"), 10, seed=5)
    with open_store(db) as s:
        export_manifest(s, db.parent / "m.jsonl", 0.0)
    return db


@pytest.fixture(scope="module")
def rows(db) -> list[dict]:
    return read_manifest(db.parent / "m.jsonl")


def test_heatmap_loss_is_eq10_on_hand_made_maps():
    """Eq. 10: (1 / (J·K)) Σ_k Σ_j ||M̂_k^j − M_k^j||², the squared L2 norm of each map's error,
    over the maps the source labels."""
    pred = torch.zeros(2, 3, 2, 2)
    target = torch.zeros(2, 3, 2, 2)
    pred[0, 0] = torch.tensor([[1.0, 0.0], [0.0, 0.0]])     # error norm² 1
    target[0, 1] = torch.tensor([[0.0, 2.0], [0.0, 1.0]])   # error norm² 4 + 1 = 5
    pred[1, 2] = torch.tensor([[0.5, 0.5], [0.5, 0.5]])     # error norm² 4 × 0.25 = 1
    pred[1, 0] = torch.tensor([[9.0, 9.0], [9.0, 9.0]])     # unlabelled: never counts
    weight = torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    expected = (1 + 5 + 0 + 0 + 1) / 5                      # five labelled maps
    assert heatmap_loss(pred, target, weight).item() == pytest.approx(expected)
    batch = {"heatmap": target, "hm_weight": weight, "label": torch.tensor([1.0, 0.0])}
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    # eq. 9: mean binary cross-entropy of σ(logit) against the pair's label, every joint
    p = 1 / (1 + np.exp(-np.array([[0.0, 2.0], [-1.0, 0.5]])))
    bce = -np.mean([np.log(p[0, 0]), np.log(p[0, 1]), np.log(1 - p[1, 0]), np.log(1 - p[1, 1])])
    total, l_hm, l_rd = wsp_loss(pred, logits, batch, alpha=50.0)
    assert l_rd.item() == pytest.approx(bce, rel=1e-6)
    assert total.item() == pytest.approx(expected + 50.0 * bce, rel=1e-6)


def test_heads_start_as_3dmppe():
    """3DMPPE's HeadNet: deconvolutions and the final 1×1 convolution normal with std 0.001."""
    net = WSPNet("resnet18", len(PRETRAIN_JOINTS), 64, 16)
    deconv = [m.weight for m in net.deconv if isinstance(m, torch.nn.ConvTranspose2d)]
    for w in [*deconv, net.heatmap.weight]:
        assert 0.0008 < w.std().item() < 0.0012 and abs(w.mean().item()) < 1e-4
    assert not net.heatmap.bias.abs().any()


def _batch(rows, n=8, size=64):
    """A batch as the training loop gets it: the workers' samples, collated and finished."""
    ds = PairDataset(rows[:n], size, 4, augment=False)
    samples = default_collate([ds[i] for i in range(min(n, len(rows)))])
    return to_device(samples, torch.device("cpu"), PretrainConfig())


@pytest.mark.parametrize("detach", [False, True])
def test_masks_get_the_relative_depth_gradient_unless_detached(rows, detach):
    torch.manual_seed(0)
    batch = _batch(rows, 4)
    net = WSPNet("resnet18", len(PRETRAIN_JOINTS), 16, 16, detach_masks=detach)
    _, logits = net(batch["image"], batch["boxes"], batch["joints"])
    torch.nn.functional.binary_cross_entropy_with_logits(
        logits, batch["label"][:, None].expand_as(logits)).backward()
    grad = net.heatmap.weight.grad
    assert (grad is None or not grad.any()) if detach else grad.abs().sum() > 0
    assert net.deconv[0].weight.grad.abs().sum() > 0          # the features learn either way


def test_a_short_run_learns_heatmaps_better_than_all_zero(rows):
    """With eq. 10's scale and α = 50, the heatmap head learns maps (not only masks)."""
    torch.manual_seed(0)
    batch = _batch(rows, 8)
    net = WSPNet("resnet18", len(PRETRAIN_JOINTS), 32, 16)
    zero = heatmap_loss(torch.zeros_like(batch["heatmap"]), batch["heatmap"],
                        batch["hm_weight"]).item()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        heat, logits = net(batch["image"], batch["boxes"], batch["joints"])
        loss, _, _ = wsp_loss(heat, logits, batch, 50.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]                       # the whole of eq. 8 falls
    net.eval()
    with torch.no_grad():
        heat, _ = net(batch["image"], batch["boxes"], batch["joints"])
    assert heatmap_loss(heat, batch["heatmap"], batch["hm_weight"]).item() < 0.7 * zero


def _fake_imagenet(torch_home: Path, name: str = "resnet18") -> torch.nn.Module:
    """A state dict made on the fly where torchvision's ImageNet file would be."""
    reference = getattr(torchvision.models, name)(weights=None)
    with torch.no_grad():
        reference.conv1.weight.fill_(0.125)
    path = torch_home / "hub" / "checkpoints" / imagenet_weights_file(name).name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(reference.state_dict(), path)
    return reference


def test_imagenet_start_loads_torchvisions_file_from_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(InputError, match=r"resnet18-[0-9a-f]+\.pth: resnet18 ImageNet weights not "
                                         r"found: download https://download.pytorch.org/"):
        WSPNet("resnet18", len(PRETRAIN_JOINTS), 16, 16, "imagenet")
    reference = _fake_imagenet(tmp_path / "home")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    net = WSPNet("resnet18", len(PRETRAIN_JOINTS), 16, 16, "imagenet")
    assert torch.equal(net.backbone[0].weight, reference.conv1.weight)
    from wsp_core.models.posenet import PoseNet

    pose = PoseNet("resnet18", 17, 16, 8, backbone_weights="imagenet")
    assert torch.equal(pose.backbone[4][0].conv1.weight, reference.layer1[0].conv1.weight)


def test_pretrain_stops_at_once_without_the_imagenet_file(db, tmp_path):
    env = {"TORCH_HOME": str(tmp_path / "nothing")}
    proc = run_cli("pretrain", "--db", db, "--out", tmp_path / "run", *SMOKE,
                   "--set", "backbone=resnet18", "--backbone-weights", "imagenet", check=False,
                   env=env)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "resnet18 ImageNet weights not found" in line
    assert str(tmp_path / "nothing" / "hub" / "checkpoints") in line
    assert not (tmp_path / "run").exists()                  # nothing written
    _fake_imagenet(tmp_path / "home")
    run_cli("pretrain", "--db", db, "--out", tmp_path / "run", *SMOKE, "--set", "epochs=1",
            "--set", "backbone=resnet18", "--backbone-weights", "imagenet",
            env={"TORCH_HOME": str(tmp_path / "home")})
    text = run_cli("eval-rd", "--ckpt", tmp_path / "run" / "last.pt", "--split", "all",
                   "--workers", 0, "--protocol", "1").stdout
    assert "backbone started from ImageNet" in text


def test_the_papers_epoch_is_one_random_pair_per_image(rows):
    images = {r["image"] for r in rows}
    crowded = [img for img in images if sum(r["image"] == img for r in rows) >= 3]
    assert crowded, "the test world needs an image with three or more pairs"
    ds = PairDataset(rows, 64, 4, augment=True, seed=2, per_image=True)
    assert len(ds) == len(images)

    def draws(dataset, epoch):
        dataset.set_epoch(epoch)
        return [(dataset.row(k)["pair_id"], dataset.row(k)["label"]) for k in range(len(dataset))]

    first = draws(ds, 0)
    again = PairDataset(rows, 64, 4, augment=True, seed=2, per_image=True)  # another process
    assert draws(again, 0) == first                        # the same for a seed and an epoch
    assert {rows[0]["image"]} == {r["image"] for r in rows if r["pair_id"] == first[0][0]}
    later = [draws(ds, e) for e in range(1, 12)]
    k = next(i for i, g in enumerate(ds.groups) if len(g) >= 3)
    assert len({d[k][0] for d in [first, *later]}) >= 2     # another pair of that image later
    by_id = {r["pair_id"]: r["label"] for r in rows}
    swapped = [(p, lab) for d in [first, *later] for p, lab in d if lab != by_id[p]]
    assert swapped                                          # persons come in either order
    whole = PairDataset(rows, 64, 4, per_image=False)
    assert len(whole) == len(rows)


def test_a_swapped_pair_is_the_same_pair_seen_the_other_way(rows):
    from wsp_core.train.data import swap_persons

    row = next(r for r in rows if r.get("truth") is not None)
    other = swap_persons(row)
    assert (other["a"], other["b"]) == (row["b"], row["a"])
    assert other["label"] == 1 - row["label"] and other["truth"] == 1 - row["truth"]
    a = PairDataset([row], 64, 4)[0]
    b = PairDataset([other], 64, 4)[0]
    assert torch.equal(a["boxes"][0], b["boxes"][1]) and torch.equal(a["image"], b["image"])


def test_pose_loss_is_eq12_on_hand_made_joints():
    """Eq. 12: (1/J) Σ_j ||Ĵ_j − J_j||₁ over the joints that count; a coordinate without weight
    (a 2D sample's depth) adds nothing."""
    from wsp_core.train.finetune import pose_loss

    pred = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0]]])
    target = torch.tensor([[[1.5, 1.0, 5.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]])
    weight = torch.tensor([[[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])
    # joint 0: 0.5 + 1 + 2 = 3.5; joint 1 (no depth): 1 + 1 = 2; joint 2 does not count
    assert pose_loss(pred, target, weight).item() == pytest.approx((3.5 + 2.0) / 2)


def test_synthetic_occlusion_as_3dmppe():
    from wsp_core.train.data3d import synthetic_occlusion

    image = np.zeros((200, 300, 3), np.uint8)
    box = (50.0, 40.0, 100.0, 120.0)
    covered = []
    for seed in range(200):
        out = synthetic_occlusion(image, box, np.random.default_rng(seed))
        changed = np.argwhere(out.any(-1))
        if len(changed):
            (y0, x0), (y1, x1) = changed.min(0), changed.max(0)
            # over the person's box (a side longer than the box's reaches past it, as 3DMPPE's)
            assert x0 < 150 and y0 < 160 and x1 >= 50 and y1 >= 40
            assert (x0 >= 50 and x1 < 150) or (y0 >= 40 and y1 < 160)
            covered.append((x1 - x0 + 1) * (y1 - y0 + 1) / (100 * 120))
    assert len(covered) > 150 and max(covered) <= 0.7 + 0.05 and 0.25 < np.mean(covered) < 0.45
    assert not image.any()                                       # the input is left alone


def test_finetune_paper_preset_and_imagenet_init(tmp_path, monkeypatch):
    from wsp_core.train.config import FinetuneConfig, load_config
    from wsp_core.train.finetune import build_model, describe_init

    paper = load_config(FinetuneConfig, "paper", kind="finetune")
    assert (paper.batch_size, paper.init, paper.aug_occlusion, paper.lr, paper.lr_steps,
            paper.epochs, paper.depth_bins) == (64, "imagenet", True, 1e-3, [17, 21], 25, 64)
    assert load_config(FinetuneConfig, "smoke", ["init=random"], kind="finetune").init == "none"
    reference = _fake_imagenet(tmp_path / "home")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    cfg = load_config(FinetuneConfig, "smoke", ["init=imagenet", "backbone=resnet18"],
                      kind="finetune")
    model = build_model(cfg, torch.device("cpu"))
    assert torch.equal(model.backbone[0].weight, reference.conv1.weight)
    assert "ImageNet" in describe_init("imagenet") and "not the paper's" in describe_init("none")


def test_finetune_without_the_imagenet_file_stops_at_once(tmp_path):
    proc = run_cli("finetune", "--data", f"synth:{tmp_path}", "--init", "imagenet", "--out",
                   tmp_path / "run", "--preset", "smoke", "--set", "backbone=resnet18",
                   check=False, env={"TORCH_HOME": str(tmp_path / "nothing")})
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "ImageNet weights not found" in proc.stderr and not (tmp_path / "run").exists()
    tiny = run_cli("finetune", "--data", f"synth:{tmp_path}", "--init", "imagenet", "--out",
                   tmp_path / "run", "--preset", "smoke", check=False)    # the smoke backbone
    assert tiny.returncode == 2 and len(tiny.stderr.strip().splitlines()) == 1, tiny.stderr
    assert "tiny backbone (smoke runs) has no ImageNet weights" in tiny.stderr


def test_heatmap_scores_find_peaks_inside_each_persons_box():
    from wsp_core.models.wsp import heatmap_scores

    heat = torch.zeros(1, 2, 8, 8)
    heat[0, 0, 2, 1] = 1.0          # joint 0: person a's peak at (x 1, y 2)
    heat[0, 0, 6, 6] = 0.5          # joint 0: person b's peak at (6, 6), weaker than a's
    heat[0, 1, 7, 0] = 1.0          # joint 1: a peak in neither box
    joints = torch.tensor([[[[1.0, 3.0, 2], [2.0, 2.0, 2]],        # a: found (1 px); not found
                            [[4.0, 6.0, 1], [5.0, 5.0, 0]]]])      # b: 2 px: found, hidden; unlabelled
    batch = {"heatmap": torch.zeros(1, 2, 8, 8), "hm_weight": torch.ones(1, 2),
             "hm_joints": joints, "boxes": torch.tensor([[[0.0, 0.0, 3.0, 4.0],
                                                          [4.0, 4.0, 8.0, 8.0]]])}
    (loss, zero, maps, found, labelled, found_visible, visible, refined,
     refined_visible) = heatmap_scores(heat, batch).tolist()
    assert (found, labelled, maps, zero) == (2, 3, 2, 0)
    assert (found_visible, visible) == (1, 2)
    assert loss == pytest.approx(1 + 0.25 + 1)
    assert (refined, refined_visible) == (2, 1)  # peaks at the border (x 1) do not move


def test_the_refined_peak_moves_a_quarter_pixel_as_hrnet_decodes():
    """HRNet's get_final_preds (lib/core/inference.py): for 1 < px < W-1 and 1 < py < H-1,
    coords += sign([hm[py][px+1] - hm[py][px-1], hm[py+1][px] - hm[py-1][px]]) * 0.25."""
    from wsp_core.models.wsp import heatmap_scores, quarter_offset

    rng = np.random.default_rng(0)
    hm = rng.random((2, 3, 9, 9))
    peak = torch.from_numpy(hm.reshape(2, 3, 81).argmax(-1))
    got = quarter_offset(torch.from_numpy(hm), peak).numpy()
    for b in range(2):
        for j in range(3):
            px, py = int(peak[b, j]) % 9, int(peak[b, j]) // 9
            want = np.zeros(2)
            if 1 < px < 8 and 1 < py < 8:
                want = np.sign([hm[b, j, py, px + 1] - hm[b, j, py, px - 1],
                                hm[b, j, py + 1, px] - hm[b, j, py - 1, px]]) * 0.25
            assert np.allclose(got[b, j], want)
    heat = torch.zeros(1, 1, 8, 8)                     # a peak at (3, 3), its lower
    heat[0, 0, 3, 3], heat[0, 0, 4, 3] = 1.0, 0.6      # neighbour the higher one
    joints = torch.tensor([[[[3.0, 5.2, 2]], [[0.0, 0.0, 0]]]])  # 2.2 px below the argmax
    batch = {"heatmap": torch.zeros(1, 1, 8, 8), "hm_weight": torch.ones(1, 1),
             "hm_joints": joints, "boxes": torch.tensor([[[0.0, 0.0, 8.0, 8.0],
                                                          [0.0, 0.0, 1.0, 1.0]]])}
    sums = heatmap_scores(heat, batch).tolist()
    assert (sums[3], sums[7]) == (0, 1)  # 2.2 px by the argmax, 1.95 px refined


def test_eval3d_says_how_the_network_started_and_what_it_tested(db, tmp_path):
    world = db.parent / "world"
    run_cli("finetune", "--data", f"synth:{world}", "--init", "none", "--out", tmp_path / "ft",
            "--preset", "smoke", "--set", "epochs=1", "--progress", "none")
    own = json.loads(run_cli("eval-3d", "--ckpt", tmp_path / "ft" / "last.pt", "--data",
                             f"synth:{world}", "--protocol", "all", "--workers", 0,
                             "--json").stdout)
    assert "not the paper's" in own["start"] and own["tested"] == "the images the run held out"
    manifest = read_manifest(tmp_path / "ft" / "manifest.jsonl")
    assert own["samples"] == sum(r["split"] == "test" for r in manifest) > 0
    other = json.loads(run_cli("eval-3d", "--ckpt", tmp_path / "ft" / "last.pt", "--data",
                               f"synth-scenes:{world}", "--workers", 0, "--json").stdout)
    assert other["tested"] == "every test sample of the protocol"
    text = run_cli("eval-3d", "--ckpt", tmp_path / "ft" / "last.pt", "--data", f"synth:{world}",
                   "--protocol", "all", "--workers", 0).stdout
    assert "network started from random initialisation" in text


def test_manifest_gives_each_pair_every_person_of_its_image(db, rows):
    """Each image's line comes before its first pair and lists every stored person of it; the
    pairs read back share that list."""
    lines = [json.loads(x) for x in (db.parent / "m.jsonl").read_text().splitlines()]
    seen: set[str] = set()
    for line in lines:
        if "pair_id" not in line:
            seen.add(line["image"])
        else:
            assert line["image"] in seen                    # the image's line came first
    with open_store(db, create=False) as store:
        from wsp_core.store.queries import image_persons
        stored = image_persons(store, sorted({r["image_id"] for r in rows}))
    for row in rows:
        assert [p["person_id"] for p in row["persons"]] == \
            [p["person_id"] for p in stored[row["image_id"]]]
        assert {row["a"]["person_id"], row["b"]["person_id"]} <= \
            {p["person_id"] for p in row["persons"]}
    assert read_manifest(db.parent / "m.jsonl", limit=3)[0]["persons"] == rows[0]["persons"]


def _third_person_row(rows):
    """A pair whose crop shows a third person's labelled joint well inside the map."""
    for row in rows:
        for p in row["persons"]:
            if p["person_id"] in (row["a"]["person_id"], row["b"]["person_id"]):
                continue
            kp = np.asarray(p["keypoints"], dtype=float).reshape(-1, 3)
            if (kp[:, 2] > 0).any():
                return row, PairDataset([row], 64, 4, hm_persons="pair")[0]
    pytest.skip("no pair with a third person in this world")


def test_heatmap_targets_show_every_annotated_person_in_the_crop(rows):
    """hm_persons = all: a third person inside the crop gets its Gaussians in the target (the
    head is not asked to miss a person it sees); pair: only a's and b's joints."""
    row, pair_only = _third_person_row(rows)
    every = PairDataset([row], 64, 4, hm_persons="all")[0]
    assert (every["heatmap"] >= pair_only["heatmap"] - 1e-6).all()    # the pair's peaks stay
    extra = every["heatmap"] - pair_only["heatmap"]
    assert extra.max() > 0.5                                          # a third person's peak
    assert torch.equal(every["hm_weight"], pair_only["hm_weight"])    # the same maps count
    assert torch.equal(every["hm_joints"], pair_only["hm_joints"])    # peaks measured on a, b


def test_held_out_crops_are_measured_against_every_person(rows):
    """Validation and eval-rd measure heatmaps on one yardstick: a run trained with
    hm_persons = pair is still scored against targets that show every person in the crop."""
    from wsp_core.train.config import load_config
    from wsp_core.train.pretrain import make_loader

    row, pair_only = _third_person_row(rows)
    cfg = load_config(PretrainConfig, "smoke", ["hm_persons=pair", "workers=0", "augment=false"])
    assert cfg.input_size == 64                                 # as _third_person_row's crops
    held_out = next(iter(make_loader([row], cfg, False, 1, 0)))
    trained = next(iter(make_loader([row], cfg, True, 1, 0)))
    assert (held_out["heatmap"][0] - pair_only["heatmap"]).max() > 0.5
    assert torch.allclose(trained["heatmap"][0], pair_only["heatmap"])
