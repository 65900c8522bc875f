"""The synthetic world: geometry checked against its own truth, determinism, formats, import."""

import json

import numpy as np
import pytest

from conftest import run_cli
from wsp_core.formats import read_source
from wsp_core.perspective import perspective_joints
from wsp_core.perspective.scale import head_length
from wsp_core.skeleton import CANONICAL, CANONICAL_INDEX as C, SYNTH
from wsp_core.synth.body import (NOT_STANDING, POSES, PoseAngles, body_joints, contact_points,
                                 make_subject)
from wsp_core.synth.render import render
from wsp_core.synth.scene import make_scene
from wsp_core.synth.world import generate_world, subjects_of_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    summary = generate_world(out, 40, seed=7, workers=1)
    return out, summary, json.loads((out / "scenes.json").read_text())


def test_projection_of_keypoints_cam_reproduces_keypoints_img(world):
    _, _, data = world
    intr = {im["id"]: im for im in data["images"]}
    worst = 0.0
    for ann in data["annotations"]:
        im = intr[ann["image_id"]]
        cam = np.array(ann["keypoints_cam"])
        proj = cam[:, :2] / cam[:, 2:] * np.array(im["f"]) + np.array(im["c"])
        worst = max(worst, np.abs(proj - np.array(ann["keypoints_img"])).max())
    assert worst < 0.5


def test_coco_keypoints_agree_with_keypoints_img_and_visibility(world):
    _, _, data = world
    for ann in data["annotations"]:
        kp = np.array(ann["keypoints"]).reshape(len(CANONICAL), 3)
        vis = np.array(ann["keypoints_vis"])
        assert (kp[:, 2] == vis).all()
        np.testing.assert_allclose(kp[vis > 0, :2], np.array(ann["keypoints_img"])[vis > 0])
        im = next(i for i in data["images"] if i["id"] == ann["image_id"])
        outside = ((np.array(ann["keypoints_img"]) < 0) |
                   (np.array(ann["keypoints_img"]) > [im["width"] - 1, im["height"] - 1])).any(1)
        assert (vis[outside] == 0).all()   # out-of-image joints are not labelled


def test_standing_people_touch_their_ground():
    rng = np.random.default_rng(3)
    subjects = subjects_of_world(3)
    checked = 0
    for _ in range(60):
        scene = make_scene(rng, subjects)
        for person in scene.persons:
            contact = contact_points(person.joints_world, person.subject)[:, 2]
            if person.pose not in NOT_STANDING:
                assert contact.min() == pytest.approx(person.elevation, abs=1e-9)
                assert (person.joints_world[:, 2] >= person.elevation - 1e-9).all()
                checked += 1
            elif person.pose == "lying":
                assert person.joints_world[:, 2].min() == pytest.approx(0.1)
    assert checked > 100


def test_hugging_pairs_overlap_and_stand_at_nearly_the_same_depth(world):
    _, _, data = world
    groups = {}
    for ann in data["annotations"]:
        if ann["hug_group"] is not None:
            groups.setdefault(ann["image_id"], []).append(ann)
    assert groups, "a 40-image world has hugging pairs"
    for pair in groups.values():
        assert len(pair) == 2
        a, b = pair
        gap = abs(a["keypoints_cam"][C["pelvis"]][2] - b["keypoints_cam"][C["pelvis"]][2])
        assert gap < 300  # mm
        ax, ay, aw, ah = a["bbox"]
        bx, by, bw, bh = b["bbox"]
        overlap = max(0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0, min(ay + ah, by + bh) - max(ay, by))
        assert overlap > 0.2 * min(aw * ah, bw * bh)


def test_same_seed_gives_byte_identical_json_whatever_the_workers(tmp_path, world):
    out, _, _ = world
    again = tmp_path / "again"
    generate_world(again, 40, seed=7, workers=2)
    assert (again / "scenes.json").read_bytes() == (out / "scenes.json").read_bytes()
    other = tmp_path / "other"
    generate_world(other, 40, seed=8, workers=1)
    assert (other / "scenes.json").read_bytes() != (out / "scenes.json").read_bytes()


def test_a_person_facing_the_camera_shows_its_right_side_on_the_image_left():
    rng = np.random.default_rng(0)
    subjects = subjects_of_world(0)
    for _ in range(50):
        scene = make_scene(rng, subjects)
        for p in scene.persons:
            yaw = p.yaw_deg % 360
            if p.pose in ("standing", "walking") and (abs(yaw - 180) < 30):
                assert p.joints_img[C["r_shoulder"], 0] < p.joints_img[C["l_shoulder"], 0]
                return
    pytest.fail("no person facing the camera in 50 scenes")


def test_body_proportions_and_head_length():
    rng = np.random.default_rng(1)
    subject = make_subject(rng, 1)
    joints = body_joints(subject, PoseAngles())
    top = joints[C["head_top"], 2]
    assert top == pytest.approx(subject.height, rel=0.08)
    head = np.linalg.norm(joints[C["head_top"]] - joints[C["neck"]])
    assert head / subject.height == pytest.approx(0.15, rel=0.12)
    assert 1.5 <= subject.height <= 1.95


def test_rendered_people_are_drawn_where_their_joints_project():
    rng = np.random.default_rng(11)
    scene = make_scene(rng, subjects_of_world(11))
    image, ids = render(scene, rng)
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    for k, person in enumerate(scene.persons):
        u, v = np.round(person.joints_img[C["pelvis"]]).astype(int)
        if 0 <= u < 640 and 0 <= v < 480 and ids[v, u] != -1:
            assert ids[v, u] >= k or ids[v, u] == -2 or ids[v, u] in range(len(scene.persons))
    drawn = {int(i) for i in np.unique(ids) if i >= 0}
    assert drawn  # somebody is visible


def test_single_person_set_in_the_h36m_npz_layout(world):
    out, summary, _ = world
    data = np.load(out / "single" / "annotations.npz")
    n = summary["single_samples"]
    assert n > 0 and data["S"].shape == (n, 17, 4) and data["part"].shape == (n, 17, 3)
    assert data["imgname"][0].startswith("S") and (out / "single" / "images" / data["imgname"][0]).is_file()
    proj = data["S"][:, :, :2] / data["S"][:, :, 2:3] * data["f"][:, None] + data["c"][:, None]
    assert np.abs(proj - data["part"][:, :, :2]).max() < 0.5
    assert set(data["subject"]).issubset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
    assert set(data["action"]).issubset(set(POSES))


def test_reader_and_import_of_the_world(world, tmp_path):
    out, summary, data = world
    source = read_source("synth", out / "scenes.json", out)
    assert source.joint_set is SYNTH and source.keypoints_cam.shape == (summary["persons"], 27, 3)
    assert source.image_intrinsics[0] == {"f": data["images"][0]["f"], "c": data["images"][0]["c"]}
    db = tmp_path / "s.db"
    report = json.loads(run_cli("import", "--db", db, "--format", "synth", "--ann",
                                out / "scenes.json", "--images", out, "--json").stdout)
    assert report["pairs"] > 20
    noise = json.loads(run_cli("noise-report", "--db", db, "--json").stdout)["sources"][0]
    assert noise["pairs"] == report["pairs"]
    assert sum(v["pairs"] for k, v in noise["by_delta_s"].items()) == noise["pairs"]
    assert set(noise["scores"]) == {"hug", "size_conflict", "knee_line", "suspicion"}
    text = run_cli("noise-report", "--db", db).stdout
    assert "perspective labels wrong" in text and "COCO scale proxy" in text


def test_true_head_length_of_the_world_is_what_the_store_measures(world):
    out, _, data = world
    source = read_source("synth", out / "scenes.json", out)
    s = head_length(perspective_joints(source.keypoints, SYNTH))
    ann = data["annotations"]
    img = np.array([a["keypoints_img"] for a in ann])
    true = np.linalg.norm(img[:, C["head_top"]] - img[:, C["neck"]], axis=1)
    ok = ~np.isnan(s)
    np.testing.assert_allclose(s[ok], true[ok], atol=0.02)
