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
from wsp_core.synth.world import ANNOTATION_NOISE, generate_world, subjects_of_world


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


def test_coco_keypoints_are_keypoints_img_plus_annotation_noise(world):
    _, _, data = world
    errors = []
    for ann in data["annotations"]:
        kp = np.array(ann["keypoints"]).reshape(len(CANONICAL), 3)
        vis = np.array(ann["keypoints_vis"])
        assert (kp[:, 2] == vis).all()
        err = np.abs(kp[vis > 0, :2] - np.array(ann["keypoints_img"])[vis > 0])
        assert (err <= 3 * ANNOTATION_NOISE * ann["bbox"][3] + 0.02).all()
        errors.append(err.ravel() / max(ann["bbox"][3], 1))
        im = next(i for i in data["images"] if i["id"] == ann["image_id"])
        outside = ((np.array(ann["keypoints_img"]) < 0) |
                   (np.array(ann["keypoints_img"]) > [im["width"] - 1, im["height"] - 1])).any(1)
        assert (vis[outside] == 0).all()   # out-of-image joints are not labelled
    spread = np.concatenate(errors)
    assert 0.5 * ANNOTATION_NOISE < np.sqrt(np.mean(spread ** 2)) < 1.5 * ANNOTATION_NOISE


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


def _lone_person_facing(yaw: float):
    """One standing person 3 m in front of a level camera, turned ``yaw`` degrees (180: facing
    the camera), rendered."""
    from wsp_core.synth.scene import DEFAULTS, Scene, _pose_person, make_camera

    rng = np.random.default_rng(3)
    camera = make_camera(rng, {**DEFAULTS, "pitch_deg": (0.0, 0.0), "roll_deg": (0.0, 0.0),
                               "camera_height_m": (1.6, 1.6)})
    subject = max(subjects_of_world(0), key=lambda s: min(
        np.linalg.norm(np.subtract(s.skin, c)) for c in (s.hair, s.shirt)))
    person = _pose_person(rng, subject, "standing", yaw, np.array([0.0, 3.0, 0.0]))
    person.joints_cam = camera.to_camera(person.joints_world)
    person.joints_img = camera.project(person.joints_cam)
    image, _ = render(Scene(camera, [person], (90, 90, 90), (200, 180, 140), 1.0), rng)
    return image.astype(float), person, subject


def _share_near(image, point, colour, other, radius: int = 4) -> float:
    """Share of the pixels within ``radius`` of ``point`` nearer to ``colour`` than to ``other``."""
    u, v = np.round(point).astype(int)
    patch = image[v - radius:v + radius + 1, u - radius:u + radius + 1].reshape(-1, 3)
    return float((np.linalg.norm(patch - np.array(colour, float), axis=1)
                  < np.linalg.norm(patch - np.array(other, float), axis=1)).mean())


def test_a_face_and_a_neckline_show_which_way_a_person_faces():
    """Seen from the front a head shows its face and the shirt its neckline; seen from the back
    the head is hair and the chest plain shirt, so the image tells front from back (and so left
    from right)."""
    front, person, subject = _lone_person_facing(180.0)
    back, _, _ = _lone_person_facing(0.0)
    head = person.joints_img[C["head"]]
    chest = person.joints_img[C["thorax"]] + 0.12 * (person.joints_img[C["spine"]]
                                                      - person.joints_img[C["thorax"]])
    skin, hair, shirt = subject.skin, subject.hair, subject.shirt
    assert _share_near(front, head, skin, hair) > 0.6
    assert _share_near(back, head, skin, hair) < 0.1
    assert _share_near(front, chest, skin, shirt, 2) > 0.6
    assert _share_near(back, chest, skin, shirt, 2) < 0.1


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
    assert set(noise["scores"]) == {"hug", "size_conflict", "knee_line", "raised_ground",
                                    "suspicion"}
    text = run_cli("noise-report", "--db", db).stdout
    assert "perspective labels wrong" in text and "COCO scale proxy" in text


def test_measured_head_length_is_the_true_one_up_to_annotation_noise(world):
    out, _, data = world
    source = read_source("synth", out / "scenes.json", out)
    s = head_length(perspective_joints(source.keypoints, SYNTH))
    ann = data["annotations"]
    img = np.array([a["keypoints_img"] for a in ann])
    true = np.linalg.norm(img[:, C["head_top"]] - img[:, C["neck"]], axis=1)
    box_h = np.array([a["bbox"][3] for a in ann])
    ok = ~np.isnan(s)
    assert ok.sum() > 50
    assert (np.abs(s[ok] - true[ok]) <= 6 * 1.42 * ANNOTATION_NOISE * box_h[ok] + 0.05).all()


def test_muco_layout_without_coco_keypoints(tmp_path):
    """Real MuCo files carry keypoints_img/keypoints_cam only: labels come from keypoints_img."""
    from wsp_core.skeleton import MUCO
    from helpers import write_image

    def ann(k, x, depth):
        img = [[x + j, 100 + 10 * j] for j in range(21)]
        img[3] = [-5, 50]                                      # outside the image: not labelled
        cam = [[(u - 320) * depth / 500, (v - 240) * depth / 500, depth] for u, v in img]
        return {"id": k, "image_id": 1, "bbox": [x, 100, 40, 210], "keypoints_img": img,
                "keypoints_cam": cam}

    path = tmp_path / "MuCo-3DHP.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 640,
                                            "height": 480, "f": [500, 500], "c": [320, 240]}],
                                "annotations": [ann(1, 100, 3000), ann(2, 300, 5000)]}))
    write_image(tmp_path / "a.jpg", (640, 480))
    data = read_source("muco", path, tmp_path)
    assert data.joint_set is MUCO and data.keypoints.shape == (2, 21, 3)
    assert data.keypoints[0, 3, 2] == 0 and data.keypoints[0, 0, 2] == 2
    np.testing.assert_allclose(data.keypoints_cam[1, :, 2], 5000)
    bad = json.loads(path.read_text())
    bad["annotations"][0]["keypoints_cam"] = bad["annotations"][0]["keypoints_cam"][:20]
    path.write_text(json.dumps(bad))
    data = read_source("muco", path, tmp_path)                 # that annotation is skipped
    assert data.person_keys == ["2"] and data.notes.counts == {"annotation_malformed": 1}
    from wsp_core.errors import InputError
    with pytest.raises(InputError, match="annotation 1: keypoints_cam must be 21 × 3"):
        read_source("muco", path, tmp_path, strict=True)


def test_synth_cli_rejects_bad_arguments_in_one_line(tmp_path):
    proc = run_cli("synth", "--out", tmp_path / "w", "--images", 0, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "file").write_text("x")
    proc = run_cli("synth", "--out", tmp_path / "file", "--images", 2, check=False)
    assert proc.returncode == 2 and "not a folder" in proc.stderr


def test_limbs_bend_the_way_bodies_do():
    """Flexion moves limbs forward (+y), knees bend backward, toes point forward, abduction
    moves a limb outward, a forward lean moves the head forward, a lying body lies on its back."""
    from wsp_core.synth.body import sample_pose

    subject = make_subject(np.random.default_rng(2), 1)
    stand = body_joints(subject, PoseAngles())
    assert stand[C["r_toe"], 1] > stand[C["r_ankle"], 1] + 0.1 * subject.length("foot")
    assert stand[C["nose"], 1] > stand[C["head"], 1]
    sit = body_joints(subject, PoseAngles(hip_flex=(90, 90), knee_flex=(90, 90)))
    assert sit[C["r_knee"], 1] > sit[C["pelvis"], 1] + 0.8 * subject.length("thigh")
    assert abs(sit[C["r_ankle"], 1] - sit[C["r_knee"], 1]) < 0.05       # shins hang down
    bent = body_joints(subject, PoseAngles(knee_flex=(60, 0)))
    assert bent[C["r_ankle"], 1] < bent[C["r_knee"], 1] - 0.1           # heel goes back
    reach = body_joints(subject, PoseAngles(shoulder_flex=(90, 90), elbow_flex=(0, 0)))
    assert reach[C["r_wrist"], 1] > reach[C["r_shoulder"], 1] + 0.2      # arms forward
    hug = body_joints(subject, sample_pose(np.random.default_rng(0), "hugging"))
    assert hug[C["r_wrist"], 1] > hug[C["thorax"], 1] + 0.1
    spread = body_joints(subject, PoseAngles(hip_abd=(20, 20)))
    assert spread[C["r_ankle"], 0] > stand[C["r_ankle"], 0] + 0.1        # right leg to the right
    assert spread[C["l_ankle"], 0] < stand[C["l_ankle"], 0] - 0.1
    lean = body_joints(subject, PoseAngles(torso_lean=30))
    assert lean[C["head_top"], 1] > 0.2
    lying = body_joints(subject, PoseAngles(), lying=True)
    assert lying[C["nose"], 2] > lying[C["head"], 2]                     # face to the sky
    assert np.ptp(lying[:, 2]) < 0.5 and np.ptp(lying[:, 1]) > 1.2
