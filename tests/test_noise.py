"""The noise report on a hand-made 3D source whose every number is known, and its ranking maths."""

import json

import numpy as np
import pytest

from helpers import standing_person, write_image
from wsp_core.evaluate.ranking import precision_at, recall_at, roc_auc
from wsp_core.skeleton import CANONICAL, COCO
from wsp_core.store import import_source, label_source, open_store
from wsp_core.formats import read_source
from wsp_core.evaluate.noise import noise_report


def test_roc_auc_by_hand():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)       # a tie counts half
    assert roc_auc([1, 1], [0.1, 0.2]) is None
    assert precision_at([1, 0, 0, 1, 0, 0, 0, 0, 0, 0], [9, 8, 7, 1, 0, 0, 0, 0, 0, 0], 0.2) == 0.5
    assert precision_at([1, 0, 0], [0.0, 0.5, 0.2], 0.05) == 0.0       # at least one item
    # two of three positives among the top 2 of 10 items; no positive: undefined
    assert recall_at([1, 0, 0, 1, 1, 0, 0, 0, 0, 0], [9, 1, 1, 8, 0, 0, 0, 0, 0, 0], 0.2) == \
        pytest.approx(2 / 3)
    assert recall_at([0, 0], [1, 2], 0.5) is None


def person(ankle_y, depth_mm, x, extra):
    coco = standing_person(x, ankle_y, 150)
    kp = np.zeros((len(CANONICAL), 3))
    for j, name in enumerate(COCO.canonical):
        kp[CANONICAL.index(name)] = coco[3 * j: 3 * j + 3]
    kp[CANONICAL.index("head_top")] = (x, ankle_y - 150, 2)
    kp[CANONICAL.index("neck")] = (x, ankle_y - 125, 2)
    cam = np.zeros((len(CANONICAL), 3))
    cam[:, 0] = (kp[:, 0] - 320) * depth_mm / 500
    cam[:, 1] = (kp[:, 1] - 240) * depth_mm / 500
    cam[:, 2] = depth_mm
    return {"keypoints": kp.ravel().tolist(), "keypoints_cam": cam.tolist(),
            "keypoints_img": kp[:, :2].tolist(), "bbox": [x - 40, ankle_y - 150, 80, 150],
            "iscrowd": 0, **extra}


def report_of_one_image(tmp_path, anns: list[dict]) -> dict:
    """The noise report of a one-image synthetic source made of ``anns``."""
    images = [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480,
               "f": [500, 500], "c": [320, 240]}]
    ann = tmp_path / "scenes.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": [
        {"id": 1, "name": "person", "keypoints": list(CANONICAL)}]}))
    write_image(tmp_path / "a.jpg", (640, 480))
    with open_store(tmp_path / "s.db") as store:
        import_source(store, label_source(read_source("synth", ann, tmp_path)), "hand")
        return noise_report(store)["sources"][0]


def test_noise_report_counts_by_hand(tmp_path):
    # person 1 is lowest and truly closest; person 3 stands on a 0.6 m step: its ankles are the
    # highest in the image although it is the closest of all
    anns = [
        dict(person(400, 4000, 100, {"action": "standing", "elevation_m": 0.0}), id=1, image_id=1),
        dict(person(300, 8000, 300, {"action": "standing", "elevation_m": 0.0}), id=2, image_id=1),
        dict(person(250, 3000, 500, {"action": "standing", "elevation_m": 0.6}), id=3, image_id=1),
    ]
    report = report_of_one_image(tmp_path, anns)
    # pairs (1,2): label 1, truth 1 (4 m < 8 m) right; (1,3): label 1, truth 0 (3 m) wrong;
    # (2,3): label 1, truth 0 wrong. Person 3 stands raised: both wrong pairs have that cause.
    assert report["pairs"] == 3 and report["wrong"] == 2
    assert report["by_cause"]["raised_ground"] == {"pairs": 2, "wrong": 2, "wrong_rate": 1.0}
    assert report["by_cause"]["none"] == {"pairs": 1, "wrong": 0, "wrong_rate": 0.0}
    assert report["effective_labels"]["wrong"] == 2
    assert report["models"] == {}                                    # no model scored it


def test_noise_report_ranks_each_model_by_its_disagreement(tmp_path):
    """Two models score the three pairs of the hand-made image: one disagrees with the two
    wrong labels (out-of-sample), one agrees with every label (in-sample, as a network that
    memorised them would); the report's AUCs say so, apart by kind of score."""
    from wsp_core.store.predictions import write_predictions

    anns = [
        dict(person(400, 4000, 100, {"action": "standing", "elevation_m": 0.0}), id=1, image_id=1),
        dict(person(300, 8000, 300, {"action": "standing", "elevation_m": 0.0}), id=2, image_id=1),
        dict(person(250, 3000, 500, {"action": "standing", "elevation_m": 0.6}), id=3, image_id=1),
    ]
    report_of_one_image(tmp_path, anns)
    with open_store(tmp_path / "s.db") as store, store.engine.connect() as conn:
        pairs = dict(conn.exec_driver_sql("SELECT person_a * 10 + person_b, id FROM pairs").all())
        right, wrong_13, wrong_23 = pairs[12], pairs[13], pairs[23]   # every auto label: 1
        write_predictions(store, "fold", [right, wrong_13, wrong_23], [0.9, 0.2, 0.3],
                          [True] * 3)
        write_predictions(store, "memorised", [right, wrong_13, wrong_23], [0.9, 0.95, 0.97],
                          [False] * 3)
        models = noise_report(store)["sources"][0]["models"]
    assert models["fold"]["auc"] == 1.0 and models["fold"]["out_of_sample"]["pairs"] == 3
    assert models["fold"]["recall_top_10pct"] == pytest.approx(1 / 2)   # top 1 of 3 pairs
    assert models["memorised"]["auc"] == 0.0 and models["memorised"]["in_sample"]["auc"] == 0.0
    assert models["memorised"]["out_of_sample"] == {"pairs": 0, "wrong": 0, "auc": None}


def test_scale_proxy_counts_each_person_once(tmp_path):
    anns = [dict(person(400 - 30 * k, 4000 + 1000 * k, 100 + 150 * k,
                        {"action": "standing", "elevation_m": 0.0}), id=k + 1, image_id=1)
            for k in range(4)]
    report = report_of_one_image(tmp_path, anns)
    assert report["pairs"] == 6 and report["scale_proxy"]["persons"] == 4
