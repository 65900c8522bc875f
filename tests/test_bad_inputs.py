"""The bad-input corpus of issue 19 (real files as they are): one small case per class, each with
its expected outcome. Every case runs ``wsp-core import`` as a user would (in-process): no
traceback, real quirks accepted and reported, bad files refused in one line, and a refused
import leaves the store exactly as it was."""

from __future__ import annotations

import json
import sqlite3
import struct
import zlib
from pathlib import Path

import pytest

from conftest import sample
from helpers import coco_file, snapshot, standing_person, write_image
from wsp_core.cli import main
from wsp_core.skeleton import POSETRACK


def wsp_import(capsys, db: Path, fmt: str, ann: Path, images: Path, *extra: str):
    """(exit code, stdout, stderr) of ``wsp-core import``."""
    rc = main(["import", "--db", str(db), "--format", fmt, "--ann", str(ann), "--images",
               str(images), *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, out.out, out.err


def stored_notes(db: Path, name: str) -> dict:
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT import_notes FROM sources WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row and row[0] else {}
    finally:
        con.close()


# -- files of the corpus ----------------------------------------------------------------------

def posetrack_video(root: Path, head_top_y: float = -25.0) -> Path:
    """A PoseTrack18 validation file as the dataset ships it (no image sizes, relative paths,
    track_id, bbox_head, ears never labelled, the 2018 skeleton), with one labelled head top
    ``head_top_y`` px (25 px above the image, as in the file the issue reports)."""
    video = "000342_mpii_test"
    images, anns = [], []
    for f in range(2):
        name = f"images/val/{video}/{f:06d}.jpg"
        write_image(root / name, (1280, 720))
        fid = 10003420000 + f
        images.append({"has_no_densepose": True, "is_labeled": True, "file_name": name,
                       "nframes": 2, "frame_id": fid, "vid_id": "000342", "ignore_regions_y": [],
                       "ignore_regions_x": [], "id": fid})
        for k in range(2):
            kp = standing_person(300 + 400 * k, 650 - 60 * k, 500)
            kp[9:15] = [0, 0, 0, 0, 0, 0]                       # ears: never labelled
            if f == 0 and k == 0:
                kp[2 * 3 + 1] = head_top_y                      # head_top above the frame
            anns.append({"bbox_head": [280 + 400 * k, 150, 40, 50], "keypoints": kp,
                         "track_id": k, "image_id": fid, "bbox": [200 + 400 * k, 100, 200, 560],
                         "scores": [], "category_id": 1, "id": fid * 100 + k})
    ann = root / "annotations" / "val" / f"{video}.json"
    ann.parent.mkdir(parents=True, exist_ok=True)
    ann.write_text(json.dumps({
        "images": images, "annotations": anns,
        "categories": [{"supercategory": "person", "id": 1, "name": "person",
                        "keypoints": list(POSETRACK.joints),
                        "skeleton": [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13]]}]}))
    return ann


def coco_pair(root: Path, size=(640, 480), declared=(640, 480), **changes) -> tuple[Path, Path]:
    """One image of two standing persons; ``changes`` edit the first annotation."""
    images = root / "images"
    write_image(images / "a.jpg", size)
    a = {"id": 1, "image_id": 7, "iscrowd": 0, "bbox": [90, 200, 60, 200],
         "keypoints": standing_person(120, 400, 200)}
    a.update(changes)
    b = {"id": 2, "image_id": 7, "iscrowd": 0, "bbox": [290, 240, 40, 120],
         "keypoints": standing_person(310, 360, 120)}
    ann = coco_file(root / "ann.json", [{"id": 7, "file_name": "a.jpg", "width": declared[0],
                                         "height": declared[1]}], [a, b])
    return ann, images


def png_header(path: Path, width: int, height: int) -> None:
    """A PNG whose header declares width × height (a decompression bomb when large)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


# -- real quirks: accepted and reported --------------------------------------------------------

def test_posetrack_file_with_a_head_top_above_the_image_imports(tmp_path, capsys, db):
    ann = posetrack_video(tmp_path)
    rc, out, _ = wsp_import(capsys, db, "posetrack", ann.parent, tmp_path, "--name", "pt")
    assert rc == 0
    assert "2 pairs" in out and "1 labelled joints a little outside the image" in out
    assert "head_top) at x=" in out and "y=-25" in out
    assert stored_notes(db, "pt")["joint_outside_kept"]["count"] == 1
    con = sqlite3.connect(db)
    kp = json.loads(con.execute("SELECT keypoints FROM persons WHERE ann_key = '1000342000000'")
                    .fetchone()[0])
    assert kp[2][1:] == [-25.0, 2]                          # kept as labelled, as it was
    # --strict refuses the same file, in one line, and stores nothing more
    before = snapshot(db)
    rc, out, err = wsp_import(capsys, db, "posetrack", ann.parent, tmp_path, "--name", "pt2",
                              "--strict")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "--strict" in err
    assert snapshot(db) == before


@pytest.mark.parametrize("where, value, outcome", [
    ("x", -0.5, "kept"),           # half a pixel left of the image: kept (refused before)
    ("y", 480 + 40, "kept"),       # 40 px below a 480-px image (margin 48 px): kept
    ("x", 640 + 5000, "far"),      # 5,000 px right of a 640-px image: unlabelled
    ("y", -100, "far"),            # 100 px above: beyond the margin, unlabelled
])
def test_the_margin_on_every_side(tmp_path, capsys, db, where, value, outcome):
    kp = standing_person(120, 400, 200)
    kp[15 * 3 + (where == "y")] = value                       # the left ankle
    ann, images = coco_pair(tmp_path, keypoints=kp)
    rc, out, _ = wsp_import(capsys, db, "coco", ann, images, "--name", "c", "--json")
    report = json.loads(out)
    assert rc == 0
    if outcome == "kept":
        assert report["pairs"] == 1
        assert report["notes"]["joint_outside_kept"]["count"] == 1
    else:  # the ankle counts as unlabelled: the person leaves MCPC, no pair is left
        assert report["pairs"] == 0 and report["mcpc_persons"] == 0
        assert report["notes"]["joint_far_outside"]["count"] == 1


def test_a_labelled_origin_joint_no_longer_makes_a_pair(tmp_path, capsys, db):
    kp = standing_person(120, 400, 200)
    kp[15 * 3:15 * 3 + 3] = [0, 0, 2]                          # COCO's (0, 0) quirk on an ankle
    ann, images = coco_pair(tmp_path, keypoints=kp)
    rc, out, _ = wsp_import(capsys, db, "coco", ann, images, "--json")
    assert rc == 0 and json.loads(out)["notes"]["joint_at_origin"]["count"] == 1
    assert json.loads(out)["pairs"] == 0                       # not a label flipped by (0, 0)


@pytest.mark.parametrize("declared, note", [((800, 600), "image_size_differs"),
                                            ((2 ** 63, 480), "image_size_invalid"),
                                            ((1e300, 480), "image_size_invalid"),
                                            (("640", 480), "image_size_invalid")])
def test_the_header_size_wins(tmp_path, capsys, db, declared, note):
    ann, images = coco_pair(tmp_path, declared=declared)
    rc, out, _ = wsp_import(capsys, db, "coco", ann, images, "--name", "c", "--json")
    assert rc == 0 and json.loads(out)["notes"][note]["count"] == 1
    con = sqlite3.connect(db)
    assert con.execute("SELECT width, height FROM images").fetchall() == [(640, 480)]


def test_a_malformed_annotation_is_skipped_not_the_file(tmp_path, capsys, db):
    ann, images = coco_pair(tmp_path)
    d = json.loads(ann.read_text())
    third = dict(d["annotations"][1], id=3, keypoints=standing_person(500, 420, 150))
    d["annotations"] += [third, {"id": 4, "image_id": 7, "keypoints": ["1"] * 51},
                         {"id": 5, "image_id": 7, "keypoints": [True] * 51}, "junk"]
    ann.write_text(json.dumps(d))
    rc, out, _ = wsp_import(capsys, db, "coco", ann, images, "--json")
    report = json.loads(out)
    assert rc == 0 and report["pairs"] == 3 and report["persons_read"] == 3
    assert report["notes"]["annotation_malformed"]["count"] == 3


# -- bad image files: caught at import, in one line --------------------------------------------

@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_text("this is not an image"), "image_unreadable"),
    (lambda p: p.write_bytes(b""), "image_empty"),
    (lambda p: png_header(p, 20000, 20000), "image_too_large"),
])
def test_bad_image_files(tmp_path, capsys, db, make, reason):
    ann, images = coco_pair(tmp_path)
    d = json.loads(ann.read_text())             # a second image with a good pair
    d["images"].append({"id": 8, "file_name": "b.jpg", "width": 640, "height": 480})
    d["annotations"] += [dict(a, id=10 + a["id"], image_id=8) for a in d["annotations"]]
    ann.write_text(json.dumps(d))
    write_image(images / "b.jpg", (640, 480))
    make(images / "a.jpg")
    rc, out, _ = wsp_import(capsys, db, "coco", ann, images, "--json")
    report = json.loads(out)
    assert rc == 0 and report["mcpc_images"] == 1 and report["pairs"] == 1
    assert report["notes"][reason] == {"count": 1, "example": "a.jpg: image a.jpg"}
    rc, _, err = wsp_import(capsys, tmp_path / "strict.db", "coco", ann, images, "--strict")
    assert rc == 2 and err.count("\n") == 1 and "a.jpg: image a.jpg" in err
    assert not (tmp_path / "strict.db").exists()


# -- file-level problems: refused in one line, the store left as it was ------------------------

@pytest.mark.parametrize("content, problem", [
    ('{"images": [}', "malformed JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"images": []}', "no 'annotations' list"),
    (json.dumps({"images": [], "annotations": [],
                 "categories": [{"keypoints": ["a", "b"]}]}), "declares 2 joints"),
])
def test_file_level_problems_refuse_the_file(tmp_path, capsys, db, content, problem):
    assert main(["import", "--db", str(db), "--format", "coco", "--ann",
                 str(sample("coco", "test_coco.json")), "--images", str(sample("coco"))]) == 0
    capsys.readouterr()
    before = snapshot(db)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    rc, _, err = wsp_import(capsys, db, "coco", bad, tmp_path)
    assert rc == 2 and err.count("\n") == 1 and "bad.json: " in err and problem in err
    assert snapshot(db) == before


def test_the_real_samples_keep_loading(tmp_path, capsys, db):
    for fmt, ann in (("coco", "test_coco.json"), ("crowdpose", "test_crowdpose.json"),
                     ("mpii", "test_mpii.json")):
        rc, out, _ = wsp_import(capsys, db, fmt, sample(fmt, ann), sample(fmt), "--json")
        report = json.loads(out)
        assert rc == 0 and report["persons_read"] > 0, fmt
    assert json.loads(out)["notes"] == {}
