"""Bad-input corpus, provenance (issue 19, class 7): a changed file re-imported under the same
source name, and the explicit ``import --update``."""

import json

from conftest import run_cli
from helpers import coco_file, standing_person, write_image
from test_cli import assert_one_line_error, snapshot
from wsp_core.store import check_effective_labels, open_store, pair_history
from wsp_core.store.provenance import UPDATE_REVIEWER


def three_persons(tmp_path, c_ankle=380.0, with_b=True, with_d=False):
    """One image; persons A (ankles at 400), B (360) and C (``c_ankle``), in that order."""
    images = tmp_path / "images"
    if not (images / "a.jpg").exists():
        write_image(images / "a.jpg", (640, 480))
    people = [(1, 120, 400.0, 200), (2, 310, 360.0, 120), (3, 480, c_ankle, 160)]
    if not with_b:
        people.pop(1)
    if with_d:
        people.append((4, 560, 300.0, 90))
    anns = [{"id": k, "image_id": 7, "iscrowd": 0,
             "bbox": [x - h / 4, y - h, h / 2, h], "keypoints": standing_person(x, y, h)}
            for k, x, y, h in people]
    ann = coco_file(tmp_path / "people.json", [{"id": 7, "file_name": "a.jpg", "width": 640,
                                               "height": 480}], anns)
    return ann, images


def pairs_by_persons(db):
    with open_store(db) as store, store.read() as session:
        rows = session.connection().exec_driver_sql(
            "SELECT p.id, a.ann_key, b.ann_key, p.auto_label, p.status, p.label FROM pairs p "
            "JOIN persons a ON a.id = p.person_a JOIN persons b ON b.id = p.person_b").all()
    return {(a, b): (pid, auto, status, label) for pid, a, b, auto, status, label in rows}


def imported(db, ann, images, *extra, check=True):
    return run_cli("import", "--db", db, "--format", "coco", "--ann", ann, "--images", images,
                   "--name", "people", *extra, check=check)


def test_a_changed_file_is_refused_and_the_store_keeps_the_old_hash(db, tmp_path):
    ann, images = three_persons(tmp_path)
    imported(db, ann, images)
    run_cli("review", "--db", db, "--pair", 1, "--verdict", "flip", "--reason", "stairs")
    before = snapshot(db)
    ann, _ = three_persons(tmp_path, c_ankle=450.0)  # C now stands nearest the camera
    proc = imported(db, ann, images, check=False)
    assert_one_line_error(proc, f"{ann}: differs from the file source 'people' was imported",
                          "1 stored person changed", "annotation 3 of image 7", "--update")
    assert snapshot(db) == before


def test_update_relabels_changed_persons_and_keeps_other_reviews(db, tmp_path):
    ann, images = three_persons(tmp_path)
    imported(db, ann, images)
    pairs = pairs_by_persons(db)
    ab, ac = pairs[("1", "2")][0], pairs[("1", "3")][0]
    assert pairs[("1", "3")][1] == 1  # A (400) is nearer than C (380)
    for pair, verdict in ((ab, "flip"), (ac, "accept")):
        run_cli("review", "--db", db, "--pair", pair, "--verdict", verdict)
    ann, _ = three_persons(tmp_path, c_ankle=450.0)
    report = json.loads(imported(db, ann, images, "--update", "--json").stdout)
    assert report["updated"] == {"persons_changed": 1, "persons_removed": 0,
                                 "pairs_relabelled": 2, "reviews_reset": 1, "pairs_excluded": 0}
    pairs = pairs_by_persons(db)
    assert pairs[("1", "2")][2:] == ("flip", 0)              # untouched persons: review kept
    assert pairs[("1", "3")][1:] == (0, "auto", 0)           # re-labelled, verdict reset
    assert pairs[("2", "3")][1:] == (0, "auto", 0)
    with open_store(db) as store:
        history = pair_history(store, ac)
        assert [h["verdict"] for h in history] == ["accept", "reset"]
        assert history[1]["reviewer"] == UPDATE_REVIEWER and "people.json" in history[1]["note"]
        assert check_effective_labels(store) == []
        with store.read() as session:
            digest = session.connection().exec_driver_sql(
                "SELECT ann_sha256 FROM sources").scalar()
    from wsp_core.store.importer import file_sha256

    assert digest == file_sha256(ann)


def test_update_excludes_pairs_of_a_removed_person(db, tmp_path):
    ann, images = three_persons(tmp_path)
    imported(db, ann, images)
    ann, _ = three_persons(tmp_path, with_b=False)
    assert_one_line_error(imported(db, ann, images, check=False),
                          "1 stored person no longer in the file", "annotation 2 of image 7")
    report = json.loads(imported(db, ann, images, "--update", "--json").stdout)
    assert report["updated"]["pairs_excluded"] == 2
    pairs = pairs_by_persons(db)
    assert pairs[("1", "2")][2:] == ("exclude", None) and pairs[("2", "3")][2:] == ("exclude", None)
    assert pairs[("1", "3")][2] == "auto"


def test_a_file_that_only_adds_persons_imports_as_before(db, tmp_path):
    ann, images = three_persons(tmp_path)
    imported(db, ann, images)
    ann, _ = three_persons(tmp_path, with_d=True)
    report = json.loads(imported(db, ann, images, "--json").stdout)
    assert (report["new_persons"], report["new_pairs"], report["updated"]) == (1, 3, None)


def test_synth_into_an_existing_world_needs_overwrite(tmp_path):
    world = tmp_path / "world"
    run_cli("synth", "--out", world, "--images", 1, "--seed", 1, "--workers", 1)
    scenes = (world / "scenes.json").read_bytes()
    proc = run_cli("synth", "--out", world, "--images", 1, "--seed", 2, "--workers", 1,
                   check=False)
    assert_one_line_error(proc, f"{world}: already holds a world (scenes.json, images, single)",
                          "--overwrite")
    assert (world / "scenes.json").read_bytes() == scenes
    run_cli("synth", "--out", world, "--images", 1, "--seed", 2, "--workers", 1, "--overwrite")
    assert (world / "scenes.json").read_bytes() != scenes


def test_3d_readers_keep_image_paths_inside_the_image_folder(tmp_path):
    import numpy as np
    import pytest

    from wsp_core.errors import InputError
    from wsp_core.formats.h36m import read_h36m_npz
    from wsp_core.synth.world import generate_world

    world = tmp_path / "w"
    generate_world(world, 2, seed=4, workers=1)
    npz = world / "single" / "annotations.npz"
    with np.load(npz) as data:
        arrays = dict(data)
    assert len(read_h36m_npz(npz)) == len(arrays["imgname"])
    for bad in ("../../etc/passwd", "/etc/passwd", "a/../../b.jpg"):
        arrays["imgname"] = np.array([bad] + [str(n) for n in arrays["imgname"][1:]])
        np.savez(tmp_path / "bad.npz", **arrays)
        with pytest.raises(InputError, match="escapes the image folder"):
            read_h36m_npz(tmp_path / "bad.npz")
    scenes = json.loads((world / "scenes.json").read_text())
    scenes["images"][0]["file_name"] = "../outside.jpg"
    (world / "scenes.json").write_text(json.dumps(scenes))
    proc = run_cli("finetune", "--data", f"synth-scenes:{world}", "--out", tmp_path / "run",
                   "--preset", "smoke", check=False)
    assert_one_line_error(proc, "scenes.json", "'../outside.jpg' escapes the image folder")
