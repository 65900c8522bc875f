"""Builders of small annotation files in the real formats, for tests."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from PIL import Image


def events(proc_stdout: str) -> list[dict]:
    """The JSON-lines progress events a command printed (``--progress jsonl``)."""
    return [json.loads(line) for line in proc_stdout.splitlines() if line.startswith("{")]


def first_step_loss(stdout: str) -> float:
    """The loss of a training run's first logged step."""
    return next(e["loss"] for e in events(stdout) if e["event"] == "step")


def write_image(path: Path, size=(64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 150)).save(path)
    return path


def standing_person(x: float, ankle_y: float, height: float, joints: int = 17) -> list[float]:
    """COCO-order keypoints (flat x, y, v) of an upright person whose ankles are at ankle_y."""
    top = ankle_y - height
    ys = {"nose": 0.06, "eye": 0.05, "ear": 0.06, "shoulder": 0.18, "elbow": 0.33,
          "wrist": 0.45, "hip": 0.5, "knee": 0.73, "ankle": 1.0}
    order = ["nose", "eye", "eye", "ear", "ear", "shoulder", "shoulder", "elbow", "elbow",
             "wrist", "wrist", "hip", "hip", "knee", "knee", "ankle", "ankle"]
    out: list[float] = []
    for k, part in enumerate(order[:joints]):
        side = -1 if k % 2 else 1
        out += [round(x + side * 0.08 * height * (k > 0), 2), round(top + ys[part] * height, 2), 2]
    return out


def coco_file(path: Path, images: list[dict], annotations: list[dict],
              names: list[str] | None = None) -> Path:
    from wsp_core.skeleton import COCO

    data = {"images": images, "annotations": annotations,
            "categories": [{"id": 1, "name": "person",
                            "keypoints": list(names or COCO.joints)}]}
    path.write_text(json.dumps(data))
    return path


def two_person_coco(tmp: Path) -> tuple[Path, Path]:
    """A valid COCO file with one image of two standing persons, and its image folder."""
    images = tmp / "images"
    write_image(images / "a.jpg", (640, 480))
    anns = [{"id": 1, "image_id": 7, "iscrowd": 0, "bbox": [90, 200, 60, 200],
             "keypoints": standing_person(120, 400, 200)},
            {"id": 2, "image_id": 7, "iscrowd": 0, "bbox": [290, 240, 40, 120],
             "keypoints": standing_person(310, 360, 120)}]
    ann = coco_file(tmp / "ann.json", [{"id": 7, "file_name": "a.jpg", "width": 640,
                                        "height": 480}], anns)
    return ann, images


def synth_store(folder: Path, images: int, seed: int) -> Path:
    """A synthetic world of ``images`` images in ``folder/world``, imported into
    ``folder/store.db`` (in-process); returns the store."""
    from wsp_core.formats import read_source
    from wsp_core.store import import_source, label_source, open_store
    from wsp_core.synth.world import generate_world

    generate_world(folder / "world", images, seed=seed, workers=1)
    db = folder / "store.db"
    with open_store(db) as s:
        import_source(s, label_source(read_source("synth", folder / "world" / "scenes.json",
                                                  folder / "world")), "world")
    return db


def snapshot(db) -> dict:
    """Every row of every table: what a failed command must leave exactly as it was (a store
    file, or a database on a server given by its URL)."""
    if "://" in str(db):
        from sqlalchemy import create_engine, inspect

        from wsp_core.store.server import engine_url

        engine = create_engine(engine_url(str(db)))
        try:
            with engine.connect() as conn:
                return {t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                        for t in inspect(conn).get_table_names()}
        finally:
            engine.dispose()
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}
    finally:
        con.close()


def crowd_store(tmp_path: Path) -> Path:
    """A store whose one image has four MCPC persons standing at known depths (their ankles at
    y = 300, 350, 400, 450: the lower the nearer, so the automatic labels are right), boxes 60
    wide centred at x = 60, 200, 340, 480."""
    from wsp_core.cli import main

    images = tmp_path / "images"
    write_image(images / "crowd.jpg", (640, 480))
    anns = []
    for k, ankle in enumerate((300, 350, 400, 450)):
        x = 60 + 140 * k
        joints = [(x, ankle - 160)] * 5 + [(x, ankle - 120)] * 6 + [(x, ankle - 60)] * 4 \
            + [(x - 5, ankle), (x + 5, ankle)]
        kp = [v for jx, jy in joints for v in (jx, jy, 2)]
        anns.append({"id": k + 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                     "keypoints": kp, "num_keypoints": 17, "bbox": [x - 30, ankle - 170, 60, 175],
                     "area": 60 * 175})
    ann = tmp_path / "crowd.json"
    ann.write_text(json.dumps({"images": [{"id": 1, "file_name": "crowd.jpg", "width": 640,
                                           "height": 480}],
                               "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    db = tmp_path / "crowd.db"
    assert main(["import", "--db", str(db), "--format", "coco", "--ann", str(ann),
                 "--images", str(images)]) == 0
    return db


def crowded_coco(tmp: Path, images: int, persons: int = 6) -> tuple[Path, Path]:
    """A COCO file of ``images`` images (one shared image file) of ``persons`` standing persons
    each, all with ankles: C(persons, 2) pairs an image."""
    folder = tmp / "crowded"
    write_image(folder / "c.jpg", (640, 480))
    infos, anns = [], []
    for i in range(images):
        infos.append({"id": i + 1, "file_name": "c.jpg", "width": 640, "height": 480})
        for k in range(persons):
            ankle = 250 + 35 * k + (i % 7)
            height = 0.6 * ankle - 40
            x = 50 + 95 * k
            anns.append({"id": i * persons + k + 1, "image_id": i + 1, "iscrowd": 0,
                         "bbox": [x - 30, ankle - height, 60, height],
                         "keypoints": standing_person(x, ankle, height)})
    return coco_file(tmp / "crowded.json", infos, anns), folder


def write_video(path: Path, frames: list, fps: float = 10.0) -> Path:
    """A Motion-JPEG AVI of BGR frames (OpenCV's writer; any OpenCV build has the codec)."""
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path
