"""eval-3d on files in the field's layouts: a MuPoTS-3D.json as 3DMPPE ships it, predictions of
any model (--pred), detected boxes and roots (--boxes), Human3.6M's JSON sampling."""

import json

import numpy as np
import pytest

from conftest import run_cli
from wsp_core.formats.pose3d import muco_training_persons, read_3d_source
from wsp_core.skeleton import MUPOTS

# MuPoTS's 17 joints, person-local mm (head_top, thorax, r_shoulder, … l_ankle, pelvis, spine, head)
BODY = np.array([[0, -1700, 0], [0, -1400, 0], [-200, -1400, 0], [-250, -1100, 20],
                 [-270, -850, 60], [200, -1400, 0], [250, -1100, 20], [270, -850, 60],
                 [-100, -900, 0], [-110, -480, 30], [-120, -60, 0], [100, -900, 0],
                 [110, -480, 30], [120, -60, 0], [0, -900, 0], [0, -1150, 10], [0, -1580, 0]],
                dtype=float)
INTRINSIC = [1400.0, 1450.0, 1000.0, 540.0]


def project(cam):
    fx, fy, cx, cy = INTRINSIC
    return np.stack([cam[:, 0] / cam[:, 2] * fx + cx, cam[:, 1] / cam[:, 2] * fy + cy], 1)


def write_mupots(path):
    """A tiny MuPoTS-3D.json in 3DMPPE's layout: intrinsic [fx, fy, cx, cy], is_valid."""
    images, anns, truth = [], [], {}
    placements = {1: [(-900, 4200), (800, 5200)], 2: [(0, 3500)], 3: [(-600, 4000), (700, 4500)]}
    for image_id, people in placements.items():
        seq = "TS1" if image_id < 3 else "TS2"
        images.append({"id": image_id, "file_name": f"{seq}/img_{image_id:06d}.jpg",
                       "width": 2048, "height": 1080, "intrinsic": INTRINSIC})
        for k, (x, z) in enumerate(people):
            cam = BODY + [x, 0.0, z]
            aid = image_id * 10 + k
            anns.append({"id": aid, "image_id": image_id, "keypoints_cam": cam.tolist(),
                         "keypoints_img": project(cam).tolist(), "is_valid": 1,
                         "bbox": [*project(cam).min(0).tolist(), 300.0, 500.0]})
            truth.setdefault(image_id, []).append(cam)
    bad = (BODY + [0, 0, 6000.0])
    anns.append({"id": 99, "image_id": 2, "keypoints_cam": bad.tolist(),
                 "keypoints_img": project(bad).tolist(), "is_valid": 0, "bbox": [0, 0, 10, 10]})
    path.write_text(json.dumps({"images": images, "annotations": anns,
                                "categories": [{"id": 1, "name": "person",
                                                "keypoints": list(MUPOTS.joints)}]}))
    return truth


def write_pred(path, truth, drop=(), stretch=1.0, img_only=False):
    preds = []
    for image_id, people in truth.items():
        for k, cam in enumerate(people):
            if (image_id, k) in drop:
                continue
            root = cam[14]
            p = root + stretch * (cam - root)
            entry = {"image_id": image_id, "keypoints_cam": p.tolist()}
            if not img_only:
                entry["keypoints_img"] = project(cam).tolist()
            preds.append(entry)
    path.write_text(json.dumps({"predictions": preds}))


def evaluate(tmp_path, pred, *extra):
    out = run_cli("eval-3d", "--pred", pred, "--data", f"mupots:{tmp_path / 'MuPoTS-3D.json'}",
                  "--protocol", "all", "--json", *extra)
    return json.loads(out.stdout)


def test_mupots_json_of_3dmppe_loads_and_skips_invalid_persons(tmp_path):
    write_mupots(tmp_path / "MuPoTS-3D.json")
    data, _ = read_3d_source(f"mupots:{tmp_path / 'MuPoTS-3D.json'}", names=MUPOTS.canonical,
                             training=False)
    assert len(data) == 5                                     # the is_valid 0 person is skipped
    assert data.f[0].tolist() == INTRINSIC[:2] and data.c[0].tolist() == INTRINSIC[2:]
    assert sorted(set(data.sequences)) == ["TS1", "TS2"]


def test_perfect_and_stretched_predictions_score_100(tmp_path):
    truth = write_mupots(tmp_path / "MuPoTS-3D.json")
    write_pred(tmp_path / "p.json", truth)
    r = evaluate(tmp_path, tmp_path / "p.json")
    assert r["mpjpe"] == pytest.approx(0, abs=1e-6) and r["pa_mpjpe_rigid"] == pytest.approx(0, abs=1e-6)
    assert r["pck3d_all"]["150"] == 100.0 and r["pck3d_matched"]["100"] == 100.0
    assert set(r["by_sequence"]) == {"TS1", "TS2"} and r["samples"] == 5
    write_pred(tmp_path / "long.json", truth, stretch=1.3, img_only=True)   # 2D by projection
    r = evaluate(tmp_path, tmp_path / "long.json")
    assert r["pck3d_all"]["100"] == 100.0 and r["mpjpe"] > 50      # rescaled for PCK only


def test_a_missed_person_lowers_all_not_matched(tmp_path):
    truth = write_mupots(tmp_path / "MuPoTS-3D.json")
    write_pred(tmp_path / "p.json", truth, drop={(3, 1)})
    r = evaluate(tmp_path, tmp_path / "p.json")
    assert r["by_sequence"]["TS2"]["pck3d_all"]["150"] == 50.0
    assert r["pck3d_all"]["150"] == 75.0 and r["pck3d_matched"]["150"] == 100.0
    assert r["unmatched_truths"] == 1


def test_bad_prediction_files_say_what_is_wrong(tmp_path):
    truth = write_mupots(tmp_path / "MuPoTS-3D.json")
    (tmp_path / "p.json").write_text(json.dumps({"predictions": [
        {"image_id": 1, "keypoints_cam": [[0, 0, 1]] * 3}]}))
    bad = run_cli("eval-3d", "--pred", tmp_path / "p.json", "--data",
                  f"mupots:{tmp_path / 'MuPoTS-3D.json'}", "--protocol", "all", check=False)
    assert bad.returncode == 2 and "p.json" in bad.stderr and "17 × 3" in bad.stderr
    (tmp_path / "p.json").write_text(json.dumps({"predictions": [
        {"image_id": 42, "keypoints_cam": truth[1][0].tolist()}]}))
    bad = run_cli("eval-3d", "--pred", tmp_path / "p.json", "--data",
                  f"mupots:{tmp_path / 'MuPoTS-3D.json'}", "--protocol", "all", check=False)
    assert bad.returncode == 2 and "not among the evaluated images" in bad.stderr


def test_muco_keeps_the_nearest_and_isolated_persons():
    image = np.array([0, 0, 0, 1])
    roots = np.array([[0, 0, 5000.0], [300, 0, 4000.0], [2000, 0, 6000.0], [0, 0, 3000.0]])
    # person 1 is nearest in image 0; person 0 is within 500 mm (X-Y) of it; 2 is far from both
    assert muco_training_persons(image, roots).tolist() == [False, True, True, True]


def test_nothing_predicted_scores_zero_all_and_null_matched(tmp_path):
    write_mupots(tmp_path / "MuPoTS-3D.json")
    (tmp_path / "p.json").write_text(json.dumps({"predictions": []}))
    out = run_cli("eval-3d", "--pred", tmp_path / "p.json", "--data",
                  f"mupots:{tmp_path / 'MuPoTS-3D.json'}", "--json").stdout   # protocol: all

    def no_nan(name):
        raise AssertionError(f"{name} is not JSON")

    r = json.loads(out, parse_constant=no_nan)
    assert r["protocol"] == "all" and r["samples"] == 0 and r["unmatched_truths"] == 5
    assert r["pck3d_all"]["150"] == 0.0 and r["pck3d_matched"]["150"] is None
