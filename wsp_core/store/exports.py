"""The curated labels in formats other tools read (``wsp-core export --format coco|csv``).

``coco``: per source, a COCO-style keypoint file of the images that have pairs. Its persons are
the paired ones (annotation ``id`` = the store's person id; keypoints in the source's joint
order, named in the category), and each image carries one extra field, ``wsp_depth``:

- ``pairs``: every pair of the image, ``{pair_id, a, b, closer, auto_closer, status, reason}``
  (a, b, closer: annotation ids; ``closer`` is the curated (effective) label, null when the
  pair is ambiguous or excluded; ``status`` is ``auto`` or the latest verdict);
- ``order``: the persons from nearest to farthest as layers (a list of lists of annotation ids):
  each layer holds the persons no remaining person is labelled closer than, so every usable
  pair's closer person is in an earlier layer than the other; persons in one layer are not
  ordered (ambiguous, excluded or unpaired). ``null`` when the labels contradict each other
  (a cycle: A before B before C before A), with ``consistent`` false.

A COCO reader (pycocotools) ignores the extra field and reads plain keypoints.

``csv``: one row per pair: ``pair_id, source, image, a_person_id, b_person_id, delta_s,
auto_label, label, verdict, reason, suspicion`` (``verdict``: the latest verdict, empty when the
pair was never reviewed). ``wsp-core review --from FILE.csv`` reads such a file back.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..atomic import atomic_write, check_target
from ..errors import InputError
from ..skeleton import FORMAT_JOINT_SETS
from .db import Store, store_files
from .models import Pair
from .queries import iter_export

CSV_COLUMNS = ("pair_id", "source", "image", "a_person_id", "b_person_id", "delta_s",
               "auto_label", "label", "verdict", "reason", "suspicion")


def depth_layers(persons: list[int], closer_pairs: list[tuple[int, int]]) -> list[list[int]] | None:
    """Persons nearest first as layers (Kahn's algorithm) from (closer, farther) pairs; None
    when the pairs contain a cycle."""
    farther = defaultdict(set)
    indegree = {p: 0 for p in persons}
    for near, far in set(closer_pairs):
        farther[near].add(far)
        indegree[far] += 1
    layer = sorted(p for p, d in indegree.items() if d == 0)
    layers, placed = [], 0
    while layer:
        layers.append(layer)
        placed += len(layer)
        nxt = []
        for p in layer:
            for q in farther[p]:
                indegree[q] -= 1
                if indegree[q] == 0:
                    nxt.append(q)
        layer = sorted(nxt)
    return layers if placed == len(persons) else None


def _closer(row: dict[str, Any], label: int | None) -> int | None:
    return None if label is None else row["a"]["person_id"] if label == 1 else row["b"]["person_id"]


def _coco_image(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    first = rows[0]
    persons: dict[int, dict[str, Any]] = {}
    pairs = []
    for r in rows:
        for side in ("a", "b"):
            persons.setdefault(r[side]["person_id"], r[side])
        pairs.append({"pair_id": r["pair_id"], "a": r["a"]["person_id"], "b": r["b"]["person_id"],
                      "closer": _closer(r, r["label"]), "auto_closer": _closer(r, r["auto_label"]),
                      "status": r["status"], "reason": r["reason"]})
    ids = sorted(persons)
    order = depth_layers(ids, [(p["closer"], p["b"] if p["closer"] == p["a"] else p["a"])
                               for p in pairs if p["closer"] is not None])
    image = {"id": first["image_id"], "file_name": first["file_name"], "width": first["width"],
             "height": first["height"],
             "wsp_depth": {"pairs": pairs, "order": order, "consistent": order is not None}}
    anns = []
    for pid in ids:
        p = persons[pid]
        flat = [float(v) for joint in p["keypoints"] for v in joint]
        x, y, w, h = p["bbox"]
        anns.append({"id": pid, "image_id": first["image_id"], "category_id": 1, "iscrowd": 0,
                     "bbox": [x, y, w, h], "area": float(w * h), "keypoints": flat,
                     "num_keypoints": sum(1 for joint in p["keypoints"] if joint[2] > 0)})
    return image, anns


def export_coco(store: Store, out_dir: str | os.PathLike[str],
                source: str | None = None) -> list[dict[str, Any]]:
    """One COCO-style file per source, ``OUT_DIR/<source>.json`` (atomically); returns what was
    written per file (source, file, images, annotations, pairs)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputError(out_dir, "--format coco writes one file per source into a folder; "
                                  "this is not an existing folder")
    by_source: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    meta: dict[str, tuple[str, str]] = {}
    for row in iter_export(store, source, with_truth=True):
        by_source[row["source"]][row["image_id"]].append(row)
        meta.setdefault(row["source"], (row["format"], row["image"][:-len(row["file_name"])]))
    written = []
    for name, images in sorted(by_source.items()):
        fmt, images_dir = meta[name]
        joint_set = FORMAT_JOINT_SETS[fmt]
        doc = {"info": {"description": f"WSP Studio curated relative-depth labels of source "
                                       f"{name}", "wsp_source": name, "wsp_format": fmt,
                        "wsp_images_dir": images_dir.rstrip("/\\")},
               "images": [], "annotations": [],
               "categories": [{"id": 1, "name": "person", "supercategory": "person",
                               "keypoints": list(joint_set.joints), "skeleton": []}]}
        for image_id in sorted(images):
            image, anns = _coco_image(images[image_id])
            doc["images"].append(image)
            doc["annotations"] += anns
        target = check_target(out_dir / f"{_file_stem(name)}.json", "source.json",
                              store_files(store.path))
        with atomic_write(target) as f:
            json.dump(doc, f)
        written.append({"source": name, "file": str(target), "images": len(doc["images"]),
                        "annotations": len(doc["annotations"]),
                        "pairs": sum(len(i["wsp_depth"]["pairs"]) for i in doc["images"])})
    return written


def _file_stem(name: str) -> str:
    """A source's name as a file name (anything but letters, digits, '-', '_', '.' → '_')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "source"


def export_csv(store: Store, out: str | os.PathLike[str], source: str | None = None,
               suspicion: Mapping[int, float] | None = None) -> int:
    """One row per pair (:data:`CSV_COLUMNS`), atomically; returns the number of pairs."""
    out = check_target(out, "pairs.csv", store_files(store.path))
    count = 0
    with atomic_write(out) as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for r in iter_export(store, source, suspicion=suspicion):
            verdict = "" if r["status"] == "auto" else r["status"]
            writer.writerow([r["pair_id"], r["source"], r["image"], r["a"]["person_id"],
                             r["b"]["person_id"], "" if r["delta_s"] is None else r["delta_s"],
                             r["auto_label"], "" if r["label"] is None else r["label"], verdict,
                             r["reason"] or "",
                             "" if r.get("suspicion") is None else r["suspicion"]])
            count += 1
    return count


def pair_states(store: Store, pair_ids: list[int]) -> dict[int, tuple[str, str | None]]:
    """(status, reason) of each pair asked for that exists."""
    out: dict[int, tuple[str, str | None]] = {}
    with store.read() as session:
        for start in range(0, len(pair_ids), 500):
            chunk = pair_ids[start:start + 500]
            for pid, status, reason in session.execute(
                    select(Pair.id, Pair.status, Pair.reason).where(Pair.id.in_(chunk))):
                out[pid] = (status, reason)
    return out
