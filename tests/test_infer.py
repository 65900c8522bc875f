"""Prediction on your own images and videos: detectors, ONNX, camera-space output, folders and
videos (wsp_core.infer, wsp-core export-onnx and predict)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import run_cli, sample
from helpers import write_video
from test_cli import assert_one_line_error

PHOTO = "000000196141.jpg"
PHOTO_BOXES = ["--box", "247.76,74.23,169.67,300.78", "--box", "453.77,206.81,177.23,210.87"]
FP32 = {"WSP_CPU_BF16": "0"}      # torch's reference path in fp32, as ONNX Runtime computes


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from wsp_core.synth.world import generate_world

    out = tmp_path_factory.mktemp("infer") / "world"
    generate_world(out, 12, seed=5, workers=1)
    return out


@pytest.fixture(scope="module")
def trained(world, tmp_path_factory) -> dict[str, Path]:
    """A smoke 3D model, its ONNX export, and a smoke WSP model's export."""
    out = tmp_path_factory.mktemp("models")
    run_cli("finetune", "--data", f"synth:{world}", "--init", "none", "--out", out / "ft",
            "--preset", "smoke", "--set", "epochs=1", "--progress", "none")
    summary = json.loads(run_cli("export-onnx", "--ckpt", out / "ft" / "last.pt", "--out",
                                 out / "pose.onnx", "--json").stdout)
    assert summary["kind"] == "finetune" and summary["max_abs_difference"] <= 1e-3
    return {"ckpt": out / "ft" / "last.pt", "onnx": out / "pose.onnx"}


# -- the camera ----------------------------------------------------------------------------------

def test_focal_length_comes_from_exif_else_the_stated_default(tmp_path):
    from PIL import Image

    from wsp_core.infer.camera import EXIF_IFD, FOCAL_35MM, FOCAL_MM, PLANE_UNIT, PLANE_X_RES, \
        photo_focal

    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (400, 300)).save(plain)
    focal = photo_focal(plain, 400, 300)
    assert focal.px == 400 and focal.source.startswith("default")
    img = Image.new("RGB", (400, 300))
    exif = img.getexif()
    exif.get_ifd(EXIF_IFD)[FOCAL_35MM] = 27
    img.save(tmp_path / "phone.jpg", exif=exif)
    # a 35 mm-equivalent f spans f / 36 of a full frame's longer side
    assert photo_focal(tmp_path / "phone.jpg", 400, 300).px == pytest.approx(27 / 36 * 400)
    img = Image.new("RGB", (400, 300))
    exif = img.getexif()
    ifd = exif.get_ifd(EXIF_IFD)
    ifd[FOCAL_MM], ifd[PLANE_X_RES], ifd[PLANE_UNIT] = 5.0, 100.0, 4      # 100 px per mm
    img.save(tmp_path / "camera.jpg", exif=exif)
    assert photo_focal(tmp_path / "camera.jpg", 400, 300).px == pytest.approx(500)
    assert photo_focal(tmp_path / "camera.jpg", 400, 300, given=321).px == 321


class Identity:
    """A 'network' that puts every joint where the decoding's reference says it must be."""

    def __init__(self, pred: np.ndarray, size: int = 64, bins: int = 64) -> None:
        self.pred, self.input_size, self.depth_bins, self.source = pred, size, bins, "test"

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        return np.repeat(self.pred[None], len(crops), 0)


def test_camera_space_joints_project_to_their_pixels_at_rootnets_depth():
    """RootNet's prior (Moon et al. 2019): k = sqrt(fx fy A_real / A_img), A_real = 2000² mm², the
    image area that of the 1.25× square crop; joints back-project through the pinhole."""
    from wsp_core.infer.camera import Focal
    from wsp_core.infer.pose import PersonBox, predict_persons
    from wsp_core.skeleton import H36M, ROOT

    rng = np.random.default_rng(0)
    pred = np.column_stack([rng.uniform(2, 14, 17), rng.uniform(2, 14, 17), rng.uniform(0, 63, 17)])
    image = np.zeros((480, 640, 3), np.uint8)
    box = [100.0, 50.0, 120.0, 300.0]
    person = predict_persons(image, [PersonBox(box)], Identity(pred), Focal(800.0, "given"))[0]
    side = 1.25 * (300.0 - 1.0)                       # clipped far edge x + w − 1, as 3DMPPE
    k = np.sqrt(800.0 * 800.0 * 2000.0 ** 2 / side ** 2)
    cam, px = np.array(person["joints_cam_mm"]), np.array(person["joints_px"])
    assert person["root_depth_mm"] == pytest.approx(k, abs=0.1)
    assert cam[ROOT, 2] == pytest.approx(k, abs=0.1)
    assert np.allclose(cam[:, :2] / cam[:, 2:] * 800.0 + [320, 240], px, atol=0.2)
    assert np.allclose(np.array(person["joints_mm"]), cam - cam[ROOT], atol=0.11)
    # z: 64 bins over ±1000 mm about the root
    dz = (pred[:, 2] - pred[ROOT, 2]) / 63 * 2000
    assert np.allclose(cam[:, 2] - cam[ROOT, 2], dz, atol=0.11)
    # x, y: heatmap pixel (u + 0.5) · 4 − 0.5 in the 64 px crop, the crop spanning `side` px
    centre = np.array([100 + 119 / 2, 50 + 299 / 2])
    expect = centre + ((pred[:, :2] + 0.5) * 4 - 0.5 - 32) * side / 64
    assert np.allclose(px, expect, atol=0.2)
    assert len(H36M.joints) == 17


# -- detectors -----------------------------------------------------------------------------------

def test_nms_keeps_the_best_of_overlapping_boxes_and_drops_weak_ones():
    from wsp_core.infer.detect import Detection, iou, nms

    a = Detection((0, 0, 100, 200), 0.9)
    b = Detection((5, 5, 100, 200), 0.8)           # overlaps a: suppressed
    c = Detection((300, 0, 100, 200), 0.7)
    weak = Detection((600, 0, 50, 50), 0.1)
    assert iou(a.box, b.box) > 0.8 and iou(a.box, c.box) == 0
    assert nms([b, weak, c, a], iou_max=0.45, score_min=0.3) == [a, c]


def test_the_hog_detector_finds_the_standing_persons_of_synthetic_images(world):
    from wsp_core.infer.detect import HogDetector, iou

    scenes = json.loads((world / "scenes.json").read_text())
    detector = HogDetector()
    large, found = 0, 0
    for image in scenes["images"]:
        frame = cv2.imread(str(world / image["file_name"]))
        boxes = [d.box for d in detector(frame)]
        for a in scenes["annotations"]:
            x, y, w, h = a["bbox"]
            whole = x > 2 and y > 2 and x + w < image["width"] - 2 and y + h < image["height"] - 2
            if a["image_id"] == image["id"] and h >= 160 and whole:
                large += 1
                found += any(iou(a["bbox"], b) >= 0.5 for b in boxes)
    assert large >= 5
    assert found / large >= 0.5, (found, large)


def test_an_onnx_detector_made_here_runs_through_the_same_interface(tmp_path):
    """A tiny network with fixed outputs, exported from torch: boxes in the letterboxed input's
    pixels come back in the image's, non-persons and weak ones dropped."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from wsp_core.infer.detect import OnnxDetector

    rows = torch.tensor([[[80.0, 160.0, 240.0, 480.0, 0.9, 0.0],      # a person
                          [400.0, 200.0, 480.0, 400.0, 0.8, 0.0],     # another
                          [10.0, 10.0, 50.0, 50.0, 0.95, 2.0],        # a car
                          [500.0, 160.0, 600.0, 300.0, 0.05, 0.0]]])  # too weak

    class Fixed(torch.nn.Module):
        def forward(self, image):
            return rows + 0.0 * image.mean()

    path = tmp_path / "det.onnx"
    torch.onnx.export(Fixed().eval(), (torch.zeros(1, 3, 640, 640),), str(path), input_names=["images"],
                      output_names=["dets"], opset_version=18, dynamo=True, verbose=False)
    image = np.zeros((320, 640, 3), np.uint8)           # scale 1, padded 160 px above and below
    found = OnnxDetector(path)(image)
    assert [d.score for d in found] == pytest.approx([0.9, 0.8])
    assert np.allclose(found[0].box, (80, 0, 160, 320))  # clipped at the image's bottom
    assert np.allclose(found[1].box, (400, 40, 80, 200))


# -- ONNX ----------------------------------------------------------------------------------------

def test_onnx_export_matches_torch_on_real_photos(trained):
    """The same crops of the real samples through torch (fp32) and ONNX Runtime."""
    import os

    from wsp_core.infer.crops import crop_image, normalise, person_square
    from wsp_core.infer.onnx_runtime import OnnxPoseNetwork
    from wsp_core.train.photo import TorchPoseNetwork

    os.environ["WSP_CPU_BF16"] = "0"
    try:
        torch_net = TorchPoseNetwork(trained["ckpt"], "cpu")
    finally:
        del os.environ["WSP_CPU_BF16"]
    onnx_net = OnnxPoseNetwork(trained["onnx"])
    assert onnx_net.input_size == torch_net.input_size
    coco = json.loads(sample("coco", "test_coco.json").read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    crops = []
    for a in coco["annotations"][:12]:
        image = cv2.imread(str(sample("coco", names[a["image_id"]])))
        centre, side = person_square(a["bbox"], image.shape[1], image.shape[0])
        crops.append(normalise(crop_image(image, centre, side, 0.0, onnx_net.input_size)[0]))
    batch = np.stack(crops).astype(np.float32)
    assert np.abs(torch_net(batch) - onnx_net(batch)).max() <= 1e-3


def test_predict_with_onnx_gives_torchs_joints(trained):
    photo = sample("coco", PHOTO)
    by_torch = json.loads(run_cli("predict", "--ckpt", trained["ckpt"], photo, *PHOTO_BOXES,
                                  "--json", env=FP32).stdout)
    by_onnx = json.loads(run_cli("predict", "--onnx", trained["onnx"], photo, *PHOTO_BOXES,
                                 "--json").stdout)
    assert by_onnx["model"] == str(trained["onnx"]) and len(by_onnx["persons"]) == 2
    for a, b in zip(by_torch["persons"], by_onnx["persons"]):
        assert np.abs(np.array(a["joints_mm"]) - b["joints_mm"]).max() <= 0.5   # mm, rounded
        assert np.abs(np.array(a["joints_px"]) - b["joints_px"]).max() <= 0.2


def test_an_onnx_file_that_is_not_a_3d_model_is_refused_in_one_line(tmp_path, trained):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    proc = run_cli("predict", "--onnx", junk, sample("coco", PHOTO), check=False)
    assert_one_line_error(proc, str(junk), "not a model ONNX Runtime can run")


# -- folders and videos --------------------------------------------------------------------------

def test_a_video_gives_one_json_line_per_frame_and_csv_rows(trained, tmp_path):
    video = write_video(tmp_path / "clip.avi", [cv2.imread(str(sample("coco", PHOTO)))] * 3)
    out, table = tmp_path / "clip.jsonl", tmp_path / "clip.csv"
    run_cli("predict", "--onnx", trained["onnx"], video, *PHOTO_BOXES, "--out", out,
            "--csv", table)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in lines] == [0, 1, 2]
    assert [r["image"] for r in lines] == ["clip.avi#0", "clip.avi#1", "clip.avi#2"]
    assert all(len(r["persons"]) == 2 for r in lines)
    rows = table.read_text().splitlines()
    assert len(rows) == 1 + 3 * 2 and rows[0].startswith("image,person,box_x")


def test_a_folder_goes_on_past_an_unreadable_image(trained, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    image = cv2.imread(str(sample("coco", PHOTO)))
    cv2.imwrite(str(folder / "a.jpg"), image)
    (folder / "b.jpg").write_bytes(b"not a jpeg")
    cv2.imwrite(str(folder / "c.png"), image[:200, :300])
    (folder / "notes.txt").write_text("ignored")
    proc = run_cli("predict", "--onnx", trained["onnx"], folder)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["image"] for r in lines] == ["a.jpg", "b.jpg", "c.png"]
    assert "error" in lines[1] and len(lines[0]["persons"]) == 1      # the whole image
    assert lines[2]["width"] == 300


def test_boxes_per_frame_from_a_coco_style_file(trained, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    image = cv2.imread(str(sample("coco", PHOTO)))
    for name in ("000000196141.jpg", "other.jpg"):
        cv2.imwrite(str(folder / name), image)
    proc = run_cli("predict", "--onnx", trained["onnx"], folder, "--boxes",
                   sample("coco", "test_coco.json"))
    lines = {r["image"]: r for r in map(json.loads, proc.stdout.splitlines())}
    coco = json.loads(sample("coco", "test_coco.json").read_text())
    image_id = next(im["id"] for im in coco["images"] if im["file_name"] == PHOTO)
    expected = [a for a in coco["annotations"] if a["image_id"] == image_id and not a["iscrowd"]]
    assert len(lines[PHOTO]["persons"]) == len(expected) > 0
    assert lines["other.jpg"]["persons"] == []          # the file gives it no box


def test_predict_detects_people_on_the_real_coco_photo(trained):
    result = json.loads(run_cli("predict", "--onnx", trained["onnx"], sample("coco", PHOTO),
                                "--detect", "--json").stdout)
    assert result["boxes"] == "detected (hog)"
    for person in result["persons"]:
        assert 0 < person["score"] and len(person["joints_cam_mm"]) == 17


def test_the_wsp_network_exports_with_dynamic_batch_and_joints():
    """The pre-training network: image, boxes and the joints to compare, batch and joint count
    both free; ONNX Runtime gives torch's heatmaps and logits."""
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    from wsp_core.train.config import PretrainConfig, load_config
    from wsp_core.train.onnx_export import onnx_model
    from wsp_core.train.pretrain import build_model

    cfg = load_config(PretrainConfig, "smoke", ["bf16=false"])
    model = build_model(cfg, torch.device("cpu")).eval()
    data, diff, _ = onnx_model(model, cfg, "pretrain", "test")
    assert diff <= 1e-4
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["wsp.kind"] == "pretrain" and meta["wsp.input_size"] == str(cfg.input_size)
    h = cfg.input_size // 4
    image = torch.randn(4, 3, cfg.input_size, cfg.input_size)
    boxes = torch.tensor([[[0.0, 0.0, h / 2, h - 1.0], [h / 2, 2.0, h - 1.0, h - 1.0]]] * 4)
    joints = torch.tensor([[0, 5, 15, 16, 19]] * 4)
    heat, logits = session.run(None, {"image": image.numpy(), "boxes": boxes.numpy(),
                                      "joints": joints.numpy()})
    with torch.no_grad():
        t_heat, t_logits = model(image, boxes, joints)
    assert logits.shape == (4, 5) and np.abs(logits - t_logits.numpy()).max() < 1e-4
    assert np.abs(heat - t_heat.numpy()).max() < 1e-4


def test_predict_with_onnx_needs_no_torch(trained, tmp_path):
    """A curator's install (no PyTorch) predicts with an ONNX model: torch's import is blocked."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None; "
            "from wsp_core.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "predict", "--onnx", str(trained["onnx"]),
                           str(sample("coco", PHOTO)), *PHOTO_BOXES, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["persons"]) == 2
    proc = subprocess.run([sys.executable, "-c", code, "predict", "--ckpt", str(trained["ckpt"]),
                           str(sample("coco", PHOTO))], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "pip install 'wsp-studio[train]'" in proc.stderr
