"""Human3.6M in mmpose's npz layout: joint order, projection, the numpy-only unpickler."""

import json
import os
import pickle

import numpy as np
import pytest

from conftest import sample
from wsp_core.errors import InputError
from wsp_core.formats.h36m import parse_imgname, read_h36m_npz
from wsp_core.formats.safe_pickle import load_numpy_pickle
from wsp_core.skeleton import H36M


def test_sample_loads_and_projects_onto_its_2d_keypoints():
    data = read_h36m_npz(sample("h36m", "test_h36m_body3d.npz"))
    assert len(data) == 4 and data.joints_cam.shape == (4, 17, 3)
    assert data.subjects.tolist() == [1, 5, 7, 8]
    assert data.actions[0] == "Directions"
    proj = data.joints_cam[..., :2] / data.joints_cam[..., 2:] * data.f[:, None] + data.c[:, None]
    assert np.abs(proj - data.joints_img).max() < 3.0          # lens distortion ignored
    assert 4000 < data.joints_cam[:, 0, 2].min() < 6000         # metres became millimetres


def test_the_right_leg_is_where_the_right_arm_is():
    """The npz order puts the right hip at 1 and the left at 4; the arms' order (11 left
    shoulder, 14 right shoulder) is not in dispute. Both hip→hip and shoulder→shoulder vectors
    must point the same way in every sample, in the npz and in h36m_coco.json (whose names list the
    left leg first although its data, like the npz, put the right leg there)."""
    data = read_h36m_npz(sample("h36m", "test_h36m_body3d.npz"))
    r_hip, l_hip = H36M.index("r_hip"), H36M.index("l_hip")
    r_sh, l_sh = H36M.index("r_shoulder"), H36M.index("l_shoulder")
    for pose in data.joints_cam:
        assert np.dot(pose[r_hip] - pose[l_hip], pose[r_sh] - pose[l_sh]) > 0
    coco = json.loads(sample("h36m", "h36m_coco.json").read_text())
    names = coco["categories"][0]["keypoints"]
    assert "left" in names[1]                     # what the file says...
    for ann in coco["annotations"]:
        kp = np.array(ann["keypoints_3d"]).reshape(17, 4)[:, :3]
        assert np.dot(kp[1] - kp[4], kp[14] - kp[11]) > 0   # ...and what its data say


def test_imgname_parsing():
    assert parse_imgname("S11/S11_WalkTogether_1.60457274/S11_WalkTogether_1.60457274_000042.jpg") \
        == (11, "WalkTogether", "60457274")
    assert parse_imgname("S5/S5_Walking_2.cam1/S5_Walking_2.cam1_000003.jpg") == (5, "Walking", "cam1")


def test_numpy_only_unpickler_refuses_code(tmp_path):
    cams = load_numpy_pickle(sample("h36m", "cameras.pkl"))
    assert ("S1", "54138969") in cams and cams[("S1", "54138969")]["R"].shape == (3, 3)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    bad = tmp_path / "cameras.pkl"
    bad.write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(InputError, match=r"refused: the pickle asks for (posix|nt|os)\.system"):
        load_numpy_pickle(bad)
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "broken.pkl").write_bytes(b"\x80\x03}q\x00(X")
    with pytest.raises(InputError, match="not a readable pickle"):
        load_numpy_pickle(tmp_path / "broken.pkl")


def test_synthetic_single_person_set_reads_as_h36m(tmp_path):
    from wsp_core.synth.world import generate_world

    generate_world(tmp_path / "w", 10, seed=4, workers=1)
    data = read_h36m_npz(tmp_path / "w" / "single" / "annotations.npz")
    assert len(data) > 0 and set(data.subjects) <= set(range(1, 12))
    proj = data.joints_cam[..., :2] / data.joints_cam[..., 2:] * data.f[:, None] + data.c[:, None]
    assert np.abs(proj - data.joints_img).max() < 0.5


def test_bad_npz_is_one_error(tmp_path):
    np.savez(tmp_path / "x.npz", imgname=np.array(["a.jpg"]))
    with pytest.raises(InputError, match="lacks center, scale, part, S"):
        read_h36m_npz(tmp_path / "x.npz")


def test_3dmppe_json_layout(tmp_path):
    from wsp_core.formats.h36m import read_h36m_json

    rng = np.random.default_rng(5)
    a = np.radians(30)
    r = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    t = np.array([100.0, -50.0, 5000.0])
    world = rng.normal(0, 300, (17, 3))
    (tmp_path / "Human36M_subject9_data.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "s_09_act_02_subact_01_ca_01/x_000001.jpg", "width": 1000,
                    "height": 1000, "subject": 9, "action_idx": 2, "subaction_idx": 1,
                    "cam_idx": 1, "frame_idx": 0}],
        "annotations": [{"id": 1, "image_id": 1, "bbox": [400, 300, 200, 400],
                         "keypoints_vis": [True] * 17}]}))
    (tmp_path / "Human36M_subject9_camera.json").write_text(json.dumps(
        {"1": {"R": r.tolist(), "t": t.tolist(), "f": [1145.0, 1144.0], "c": [512.0, 515.0]}}))
    (tmp_path / "Human36M_subject9_joint_3d.json").write_text(json.dumps(
        {"2": {"1": {"0": world.tolist()}}}))
    data = read_h36m_json(tmp_path)
    assert len(data) == 1 and data.subjects.tolist() == [9] and data.actions == ["Directions"]
    np.testing.assert_allclose(data.joints_cam[0], world @ r.T + t)
    cam = data.joints_cam[0]
    np.testing.assert_allclose(data.joints_img[0], cam[:, :2] / cam[:, 2:] * [1145, 1144] + [512, 515])
    (tmp_path / "Human36M_subject9_joint_3d.json").write_text(json.dumps({"2": {}}))
    with pytest.raises(InputError, match="image 1: no camera or 3D joints"):
        read_h36m_json(tmp_path)


def test_3dmppe_json_frames_every_5th_to_train_every_64th_to_test(tmp_path):
    """3DMPPE's Human36M.py: frame_idx % 5 == 0 trains, % 64 == 0 tests; S1's action spellings."""
    from wsp_core.formats.h36m import canonical_action, parse_imgname, read_h36m_json
    from wsp_core.train.config import FinetuneConfig
    from wsp_core.train.data3d import split_samples

    world = np.random.default_rng(6).normal(0, 300, (17, 3))
    frames = [0, 5, 7, 64, 65, 128, 320]
    for subject in (1, 9):
        images = [{"id": k, "file_name": f"s{subject}_{k}.jpg", "subject": subject,
                   "action_idx": 2, "subaction_idx": 1, "cam_idx": 1, "frame_idx": fr}
                  for k, fr in enumerate(frames)]
        (tmp_path / f"Human36M_subject{subject}_data.json").write_text(json.dumps({
            "images": images, "annotations": [{"id": k, "image_id": k, "bbox": [0, 0, 9, 9]}
                                              for k in range(len(frames))]}))
        (tmp_path / f"Human36M_subject{subject}_camera.json").write_text(json.dumps(
            {"1": {"R": np.eye(3).tolist(), "t": [0, 0, 5000.0], "f": [1e3, 1e3], "c": [5e2, 5e2]}}))
        (tmp_path / f"Human36M_subject{subject}_joint_3d.json").write_text(json.dumps(
            {"2": {"1": {str(fr): world.tolist() for fr in frames}}}))
    data = read_h36m_json(tmp_path)
    train, val, test = split_samples(data, FinetuneConfig(protocol="subject1", val_fraction=0.0),
                                     "h36m")
    assert not len(val)
    assert [data.frames[k] for k in train] == [0, 5, 65, 320]            # S1: every 5th
    assert [data.frames[k] for k in test] == [0, 64, 128, 320]           # S9: every 64th
    train, _, test = split_samples(data, FinetuneConfig(protocol="subject1", train_frame_step=1,
                                                         test_frame_step=1, val_fraction=0.0),
                                   "h36m")
    assert len(train) == len(test) == len(frames)
    assert canonical_action("TakingPhoto") == "Photo" and canonical_action("WalkDog") == "WalkDog"
    assert parse_imgname("S1/S1_WalkingDog 1.54138969/S1_WalkingDog 1.54138969_000001.jpg")[1] \
        == "WalkDog"
